/*
 * qemu-vpmu: a host backend that takes every event and counts nothing
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * For a VPMUState whose counters play no part (test-vpmu-lbr-hw.c), or
 * must not move so that two states compare (the register-model fuzzer's
 * migration destinations, tests/fuzz/vpmu-model-fuzz*.c).  Needs neither
 * glib nor a QEMU build, so that the fuzzers, which have neither, can
 * include it too.  Include after "qemu/osdep.h".
 */
#ifndef VPMU_NULL_BACKEND_H
#define VPMU_NULL_BACKEND_H

#include "hw/i386/vpmu.h"

static inline bool null_program(void *opaque, unsigned slot,
                                const VPMUHostEvent *ev, uint64_t period)
{
    return true;
}

static inline void null_set_period(void *opaque, unsigned slot,
                                   uint64_t period)
{
}

static inline void null_set_enabled(void *opaque, unsigned slot,
                                    bool enabled)
{
}

static inline uint64_t null_read(void *opaque, unsigned slot)
{
    return 0;
}

static inline void null_release(void *opaque, unsigned slot)
{
}

static const VPMUBackendOps null_ops = {
    .program = null_program,
    .set_period = null_set_period,
    .set_enabled = null_set_enabled,
    .read = null_read,
    .release = null_release,
};

#endif
