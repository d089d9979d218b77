/*
 * qemu-vpmu: the single-step engine's KVM side (exact counting)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef I386_KVM_VPMU_STEP_H
#define I386_KVM_VPMU_STEP_H

#include "hw/i386/vpmu-exact.h"

typedef struct KVMVPMUStep KVMVPMUStep;

typedef struct KVMVPMUStepStats {
    uint64_t steps;         /* exits handled while stepping */
    uint64_t retired;       /* instructions counted */
    uint64_t iterations;    /* REP iterations (not counted) */
    uint64_t events;        /* events seen before an instruction retired */
    uint64_t unexplained;   /* steps no successor or frame explains */
    uint64_t rearms;        /* KVM_SET_GUEST_DEBUG while stepping */
    uint64_t halts;         /* HLTs executed here, not stepped */
    uint64_t late;          /* steps late by one instruction, counted */
    uint64_t user_unstepped; /* returns to CPL 3 that ran unstepped */
    uint64_t ns;            /* finished stretches of stepping */
} KVMVPMUStepStats;

/*
 * Whether this KVM can single-step for us; else why not, in @errp, which
 * names @user (the property that needs the engine).
 */
bool kvm_vpmu_step_supported(const char *user, Error **errp);

/*
 * An engine for @cpu that feeds @exact (NULL: no exact counting) and the
 * LBR of the model @lbr (NULL: no LBR).
 */
KVMVPMUStep *kvm_vpmu_step_new(X86CPU *cpu, VPMUExact *exact,
                               VPMUState *lbr);
void kvm_vpmu_step_free(KVMVPMUStep *st);

/*
 * Before KVM_RUN, after the PMI is delivered: arm or disarm single-step
 * as the exact counters and LBR now need, and decode the next
 * instruction.
 */
void kvm_vpmu_step_pre_run(KVMVPMUStep *st);
/* After every KVM_RUN; true when an exact counter reached its period. */
bool kvm_vpmu_step_post_run(KVMVPMUStep *st, struct kvm_run *run);
/* KVM_EXIT_DEBUG: true when the exit was our step and is consumed. */
bool kvm_vpmu_step_debug_exit(KVMVPMUStep *st, struct kvm_run *run);
/* gdbstub's control, as QEMU is about to give it to KVM: merge ours. */
void kvm_vpmu_step_guest_debug(KVMVPMUStep *st, struct kvm_guest_debug *dbg);
/* QEMU wrote the registers (KVM_SET_REGS drops our TF): arm again. */
void kvm_vpmu_step_regs_written(KVMVPMUStep *st);

bool kvm_vpmu_step_active(const KVMVPMUStep *st);
const KVMVPMUStepStats *kvm_vpmu_step_stats(KVMVPMUStep *st);
/* Time spent stepping so far, the current stretch included. */
uint64_t kvm_vpmu_step_ns(const KVMVPMUStep *st);

#endif
