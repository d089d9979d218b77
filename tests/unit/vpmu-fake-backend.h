/*
 * qemu-vpmu: the fake host backend of the register model's unit tests
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Shared by test-vpmu-model.c (Intel) and test-vpmu-amd.c, which drive
 * the same core (vpmu-core.c) through each vendor's decoder: a test
 * decides how much the "host" counted and reads back what the model asked
 * of it, and runs its rule rows, steps of MSR accesses, through
 * fake_run_ops().  Include after "qemu/osdep.h".  The functions are
 * static inline so that a test that does not use one (the batch call)
 * builds with -Werror.
 */
#ifndef VPMU_FAKE_BACKEND_H
#define VPMU_FAKE_BACKEND_H

#include "hw/i386/vpmu.h"

typedef struct FakeBackend {
    bool programmed[VPMU_MAX_COUNTERS];
    bool enabled[VPMU_MAX_COUNTERS];
    uint64_t count[VPMU_MAX_COUNTERS];
    VPMUHostEvent event[VPMU_MAX_COUNTERS];
    uint64_t period[VPMU_MAX_COUNTERS];     /* overflow signal distance */
    bool refuse;            /* program() fails, like an unsupported event */
    unsigned programs, enables, disables, releases, reads, batches;
    uint64_t batch_start, batch_stop;       /* the last batch */
} FakeBackend;

static inline bool fake_program(void *opaque, unsigned slot,
                                const VPMUHostEvent *ev, uint64_t period)
{
    FakeBackend *f = opaque;

    f->programs++;
    f->period[slot] = period;
    if (f->refuse) {
        return false;
    }
    f->programmed[slot] = true;
    f->enabled[slot] = false;
    f->count[slot] = 0;
    f->event[slot] = *ev;
    return true;
}

/* The model may re-arm or toggle only a slot it gave an event. */
static inline void fake_set_period(void *opaque, unsigned slot,
                                   uint64_t period)
{
    FakeBackend *f = opaque;

    g_assert_true(f->programmed[slot]);
    f->period[slot] = period;
}

static inline void fake_set_enabled(void *opaque, unsigned slot,
                                    bool enabled)
{
    FakeBackend *f = opaque;

    g_assert_true(f->programmed[slot]);
    f->enabled[slot] = enabled;
    if (enabled) {
        f->enables++;
    } else {
        f->disables++;
    }
}

/*
 * The batch call, as the perf backend has it: not in fake_ops, so that a
 * test chooses whether the model may batch (test-vpmu-amd.c's
 * fake_batch_ops adds it).
 */
static inline void fake_set_enabled_batch(void *opaque, uint64_t start,
                                          uint64_t stop)
{
    FakeBackend *f = opaque;
    unsigned i;

    f->batches++;
    f->batch_start = start;
    f->batch_stop = stop;
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        if ((start | stop) & (1ULL << i)) {
            g_assert_true(f->programmed[i]);
            f->enabled[i] = start & (1ULL << i);
        }
    }
}

static inline uint64_t fake_read(void *opaque, unsigned slot)
{
    FakeBackend *f = opaque;

    f->reads++;
    return f->programmed[slot] ? f->count[slot] : 0;
}

static inline void fake_release(void *opaque, unsigned slot)
{
    FakeBackend *f = opaque;

    f->programmed[slot] = false;
    f->enabled[slot] = false;
    f->releases++;
}

static const VPMUBackendOps fake_ops = {
    .program = fake_program,
    .set_period = fake_set_period,
    .set_enabled = fake_set_enabled,
    .read = fake_read,
    .release = fake_release,
};

/* The "host" counts @n events on every running slot. */
static inline void fake_tick(FakeBackend *f, uint64_t n)
{
    unsigned i;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        if (f->enabled[i]) {
            f->count[i] += n;
        }
    }
}

typedef struct Fixture {
    VPMUState s;
    FakeBackend f;
} Fixture;

/* Guest RDMSR of a present MSR; 0xdeadbeef shows a value left unset. */
static inline uint64_t rd(Fixture *t, uint32_t msr)
{
    uint64_t v = 0xdeadbeef;

    g_assert_true(vpmu_msr_read(&t->s, msr, &v, false));
    return v;
}

/* Guest WRMSR that must succeed, then the re-entry's sync. */
static inline void wr(Fixture *t, uint32_t msr, uint64_t val)
{
    g_assert_true(vpmu_msr_write(&t->s, msr, val, false));
    vpmu_sync(&t->s);
}

/* The serialized registers, to check that a refused write changed none. */
typedef struct Snapshot {
    uint64_t global_ctrl, global_status, fixed_ctr_ctrl, debugctl;
    uint64_t value[VPMU_MAX_COUNTERS], eventsel[VPMU_MAX_COUNTERS];
} Snapshot;

static inline void snapshot(const VPMUState *s, Snapshot *snap)
{
    unsigned i;

    /* Compared with memcmp(): no stale padding, should the struct grow. */
    memset(snap, 0, sizeof(*snap));
    snap->global_ctrl = s->global_ctrl;
    snap->global_status = s->global_status;
    snap->fixed_ctr_ctrl = s->fixed_ctr_ctrl;
    snap->debugctl = s->debugctl;
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        snap->value[i] = s->counters[i].value;
        snap->eventsel[i] = s->counters[i].eventsel;
    }
}

/* A write that must be refused, and change no serialized register. */
static inline void fake_wr_refused(Fixture *t, uint32_t msr, uint64_t val,
                                   bool host)
{
    Snapshot before, after;

    snapshot(&t->s, &before);
    g_assert_false(vpmu_msr_write(&t->s, msr, val, host));
    vpmu_sync(&t->s);
    snapshot(&t->s, &after);
    g_assert_true(memcmp(&before, &after, sizeof(before)) == 0);
}

/*
 * The rule rows: each a configuration and a sequence of steps with the
 * outcome the rules require.  The kinds of step both tests have come
 * first; a test's own kinds start at OP_OWN.
 */
enum {
    END,
    WR,         /* guest WRMSR succeeds */
    WR_GP,      /* guest WRMSR raises #GP and changes nothing */
    RD,         /* guest RDMSR returns .val */
    HWR,        /* host-initiated write succeeds */
    HRD,        /* host-initiated read returns .val */
    TICK,       /* the host counts .val events on every running counter */
    PMI,        /* the pending PMI is delivered */
    PENDING,    /* a PMI is pending (.val 1) or not (.val 0) */
    OP_OWN,
};

typedef struct {
    int op;             /* a kind above, or the test's own */
    uint32_t msr;
    uint64_t val;
} Op;

/* A test's own kinds of step; @opaque is what it gave fake_run_ops(). */
typedef void FakeOwnOp(Fixture *t, const Op *op, const void *opaque);

/*
 * Runs a row's steps (@n at most, up to the first END): the kinds both
 * tests have here, the test's own by @own.
 */
static inline void fake_run_ops(Fixture *t, const Op *ops, size_t n,
                                FakeOwnOp *own, const void *opaque)
{
    const Op *op;
    uint64_t v;

    for (op = ops; op < ops + n && op->op; op++) {
        g_test_message("op %d msr 0x%x val 0x%" PRIx64,
                       (int)(op - ops), op->msr, op->val);
        switch (op->op) {
        case WR:
            wr(t, op->msr, op->val);
            break;
        case WR_GP:
            fake_wr_refused(t, op->msr, op->val, false);
            break;
        case RD:
            g_assert_cmphex(rd(t, op->msr), ==, op->val);
            break;
        case HWR:
            g_assert_true(vpmu_msr_write(&t->s, op->msr, op->val, true));
            vpmu_sync(&t->s);
            break;
        case HRD:
            g_assert_true(vpmu_msr_read(&t->s, op->msr, &v, true));
            g_assert_cmphex(v, ==, op->val);
            break;
        case TICK:
            fake_tick(&t->f, op->val);
            break;
        case PMI:
            vpmu_pmi_delivered(&t->s);
            vpmu_sync(&t->s);
            break;
        case PENDING:
            g_assert_cmpint(t->s.pmi_pending, ==, op->val);
            break;
        default:
            own(t, op, opaque);
            break;
        }
    }
}

#endif
