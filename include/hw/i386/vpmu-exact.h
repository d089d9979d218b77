/*
 * qemu-vpmu: exact instruction and branch counts from single-stepping
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A backend that sits between the register model and the perf backend
 * (-accel kvm,vpmu-exact=on).  Counters whose event the single-step
 * engine knows exactly (instructions retired, branch instructions
 * retired: Intel's 0xC0 and 0xC4 and fixed counter 0, AMD's 0xC0 and
 * 0xC2, all with umask 0) are counted here, one retired instruction at
 * a time, as the engine reports them; every other counter goes to the
 * backend below.
 * Like the model it knows nothing of KVM: the engine that steps the
 * guest (target/i386/kvm/vpmu-step.c) tells it what retired.
 */
#ifndef HW_I386_VPMU_EXACT_H
#define HW_I386_VPMU_EXACT_H

#include "hw/i386/vpmu.h"

/* Architectural BR_INST_RETIRED.ALL_BRANCHES (SDM vol. 3B, table 20-1). */
#define VPMU_EVENT_BRANCH_RETIRED       0x00c4

/* What the engine saw retire in one step. */
typedef struct VPMUExactRetired {
    uint8_t cpl;            /* the CPL the instruction retired at */
    bool branch;            /* a branch instruction, taken or not */
} VPMUExactRetired;

typedef struct VPMUExactStats {
    uint64_t retired;       /* instructions reported */
    uint64_t signals;       /* counters that reached their period */
} VPMUExactStats;

typedef struct VPMUExact VPMUExact;

extern const VPMUBackendOps vpmu_exact_ops;

/* Whether the engine counts @ev exactly (else the backend below does). */
bool vpmu_exact_event(const VPMUHostEvent *ev);

/* A backend that passes what it does not count to @inner. */
VPMUExact *vpmu_exact_new(const VPMUBackendOps *inner, void *inner_opaque);
void vpmu_exact_free(VPMUExact *ex);

/*
 * The slots (bit n: slot n) that count by stepping right now.  The guest
 * must be stepped exactly while this is non-zero.
 */
uint32_t vpmu_exact_stepping(const VPMUExact *ex);
/* The slots whose event is counted here, running or not. */
uint32_t vpmu_exact_owned(const VPMUExact *ex);

/*
 * One instruction retired.  Returns true when a counter reached the
 * period it was armed with: the caller then folds the model's counters
 * (vpmu_poll), which raises the overflow on this very instruction.
 */
bool vpmu_exact_retire(VPMUExact *ex, const VPMUExactRetired *r);

const VPMUExactStats *vpmu_exact_stats(const VPMUExact *ex);

#endif
