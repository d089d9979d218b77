/*
 * qemu-vpmu: the register-model fuzzer's halves
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What vpmu-model-fuzz.c (Intel) and vpmu-model-fuzz-amd.c share: how
 * they read their input and the fake host they drive the model with.
 * Include after "qemu/osdep.h".
 */
#ifndef VPMU_MODEL_FUZZ_H
#define VPMU_MODEL_FUZZ_H

#include "hw/i386/vpmu.h"

/* The input still to read. */
typedef struct VPMUFuzzInput {
    const uint8_t *data;
    size_t len;
} VPMUFuzzInput;

/* Big-endian bytes from the input; zeros once it runs out. */
static inline uint64_t vpmu_fuzz_take(VPMUFuzzInput *in, unsigned nbytes)
{
    uint64_t v = 0;

    for (; nbytes && in->len; nbytes--, in->len--) {
        v = v << 8 | *in->data++;
    }
    return v;
}

/*
 * The fake host, the backend's opaque: it counts only on slots the model
 * enabled, and signals an overflow once a slot has counted the period
 * the model asked for.  A half's own program() checks the event by its
 * vendor's rules, then calls vpmu_fuzz_host_program(); the other calls
 * are the vpmu_fuzz_host_*() below.  The half tells the host how the
 * counting goes (vpmu_fuzz_host_count()) and checks its registers
 * against what the host holds.
 */
typedef struct VPMUFuzzHost {
    bool programmed[VPMU_MAX_COUNTERS], enabled[VPMU_MAX_COUNTERS];
    bool refuse;                /* takes no event: counters read frozen */
    uint64_t count[VPMU_MAX_COUNTERS];
    uint64_t deadline[VPMU_MAX_COUNTERS];   /* count at which it signals */
    VPMUHostEvent event[VPMU_MAX_COUNTERS]; /* as programmed */
    /* The half's failure report: what it runs, the operation; aborts. */
    void (*fail)(const char *fmt, ...)
        __attribute__((format(printf, 1, 2), noreturn));
} VPMUFuzzHost;

static inline bool vpmu_fuzz_host_program(VPMUFuzzHost *h, unsigned slot,
                                          const VPMUHostEvent *ev,
                                          uint64_t period)
{
    h->programmed[slot] = !h->refuse;
    h->enabled[slot] = false;
    h->count[slot] = 0;
    h->deadline[slot] = period;
    h->event[slot] = *ev;
    return !h->refuse;
}

static inline void vpmu_fuzz_host_set_period(void *opaque, unsigned slot,
                                             uint64_t period)
{
    VPMUFuzzHost *h = opaque;

    if (!h->programmed[slot]) {
        h->fail("set_period(slot %u) on a slot with no event", slot);
    }
    h->deadline[slot] = h->count[slot] + period;
}

static inline void vpmu_fuzz_host_set_enabled(void *opaque, unsigned slot,
                                              bool enabled)
{
    VPMUFuzzHost *h = opaque;

    if (!h->programmed[slot]) {
        h->fail("set_enabled(slot %u) on a slot with no event", slot);
    }
    h->enabled[slot] = enabled;
}

static inline uint64_t vpmu_fuzz_host_read(void *opaque, unsigned slot)
{
    VPMUFuzzHost *h = opaque;

    return h->programmed[slot] ? h->count[slot] : 0;
}

static inline void vpmu_fuzz_host_release(void *opaque, unsigned slot)
{
    VPMUFuzzHost *h = opaque;

    h->programmed[slot] = h->enabled[slot] = false;
}

/* How many more events @slot counts before the host signals. */
static inline uint64_t vpmu_fuzz_host_left(const VPMUFuzzHost *h,
                                           unsigned slot)
{
    return h->deadline[slot] - h->count[slot];
}

/*
 * The host counts @n more on @slot, which it must have enabled; returns
 * whether its overflow signal fires.
 */
static inline bool vpmu_fuzz_host_count(VPMUFuzzHost *h, unsigned slot,
                                        uint64_t n)
{
    bool signal = n && n >= vpmu_fuzz_host_left(h, slot);

    h->count[slot] += n;
    return signal;
}

/* After vpmu_release_all(): no slot may keep a host event. */
static inline void vpmu_fuzz_host_check_released(const VPMUFuzzHost *h)
{
    unsigned i;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        if (h->programmed[i]) {
            h->fail("slot %u still has a host event after release_all()", i);
        }
    }
}

/*
 * Run one input (what follows vpmu-model-fuzz.c's selector byte) through
 * an AMD PMU (vpmu-model-fuzz-amd.c).
 */
void vpmu_fuzz_amd(const uint8_t *data, size_t size);

#endif
