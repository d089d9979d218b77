/*
 * qemu-vpmu: what one single-step did
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Between two exits of a single-stepped vCPU, one instruction retired,
 * or a REP string instruction did one iteration, or an event
 * (interrupt, exception) arrived before the instruction completed, or
 * nothing happened (an exit to userspace in the middle of an
 * instruction, such as an MSR exit).  This file tells which, from the
 * registers before and after and the instruction's decoding, so that
 * exact counters count only what hardware would count.
 *
 * Pure: no QEMU CPU or KVM headers.  Guest memory (the event frame on
 * the new stack) is read through a callback.
 */
#ifndef HW_I386_VPMU_RETIRE_H
#define HW_I386_VPMU_RETIRE_H

#include "hw/i386/vpmu-insn.h"

/* The registers the classifier needs, as the vCPU had them at an exit. */
typedef struct VPMUStepState {
    uint64_t rip;           /* offset in CS, as KVM reports it */
    uint64_t rsp;
    uint64_t rflags;
    uint64_t rcx;
    uint64_t cs_base, ss_base;
    uint16_t cs, ss;        /* selectors */
    uint8_t cpl;
    uint8_t mode;           /* VPMUInsnMode: CS.L, CS.D */
    uint64_t idt_base;      /* IDTR: where a late step is looked for */
    uint16_t idt_limit;
    unsigned decode_flags;  /* vpmu_insn_decode()'s flags (the vendor) */
} VPMUStepState;

typedef enum VPMURetireKind {
    VPMU_RETIRE_NOTHING,    /* no instruction completed */
    VPMU_RETIRE_RETIRED,    /* the instruction at the old RIP retired */
    VPMU_RETIRE_ITERATION,  /* a REP iteration; the instruction goes on */
    VPMU_RETIRE_EVENT,      /* an event before the instruction retired */
    VPMU_RETIRE_RETIRED_EVENT, /* it retired, then an event */
    /*
     * It retired as far as anyone can tell, but the new RIP is none of
     * its successors and no event frame explains it.  Counted; a
     * statistic, since it means an event this engine did not see.
     */
    VPMU_RETIRE_UNEXPLAINED,
} VPMURetireKind;

/*
 * A late step: the trap came one instruction after where it should
 * have (the first instruction of an event handler, or the one an IRET
 * returned to, ran before the host reported the step; the PVM hosts
 * this is developed on do it).  The new RIP is that instruction's
 * successor, so it is counted here, at the CPL it ran at.
 */
typedef struct VPMULateStep {
    bool retired;           /* one more instruction retired */
    bool branch;            /* ... a branch */
    bool taken;             /* ... that did not fall through */
    uint8_t cls;            /* its VPMUBranchClass */
    uint8_t cpl;
    uint64_t rip;           /* where it is: a handler's or IRET's target */
} VPMULateStep;

typedef struct VPMURetire {
    VPMURetireKind kind;
    bool branch;            /* a branch instruction retired */
    bool taken;             /* ... and execution did not fall through */
    VPMULateStep late;
    /* An event's frame: the linear address of its RFLAGS slot, or 0 */
    uint64_t frame_rflags;
    uint64_t frame_rip;     /* ... and the RIP it returns to */
    /*
     * The instruction went to CPL 3 (IRET, SYSRET, SYSEXIT), but the
     * step came back at CPL 0: user mode ran, not stepped, and what it
     * retired is not counted.
     */
    bool user_unstepped;
} VPMURetire;

/* Read @len bytes of guest memory at linear address @addr. */
typedef bool VPMUReadLinear(void *opaque, uint64_t addr, void *buf,
                            size_t len);

/*
 * Classify what happened between @prev and @now.  @insn is the decoding
 * of the instruction at @prev->rip (NULL when its bytes could not be
 * read or decoded: then only an event frame, or its absence, decides).
 * @stepped: the exit was a single-step trap (DR6.BS), which follows
 * every completed instruction or REP iteration.
 */
void vpmu_retire_classify(const VPMUStepState *prev, const VPMUInsn *insn,
                          const VPMUStepState *now, bool stepped,
                          VPMUReadLinear *read, void *opaque,
                          VPMURetire *out);

/* A taken branch, interrupt or exception, as LBR records it. */
typedef struct VPMUTakenBranch {
    uint64_t from, to;      /* RIPs: offsets in their code segments */
    uint8_t cls;            /* VPMUBranchClass; FAR for an event */
    uint8_t cpl;            /* the CPL after the branch */
    bool event;             /* an interrupt or exception */
} VPMUTakenBranch;

/* At most: a branch, an event after it, a late step's branch. */
#define VPMU_RETIRE_MAX_BRANCHES 3

/*
 * What LBR would record for the step that @r classified, oldest first,
 * into @out (VPMU_RETIRE_MAX_BRANCHES entries); returns how many.
 */
unsigned vpmu_retire_branches(const VPMUStepState *prev, const VPMUInsn *insn,
                              const VPMUStepState *now, const VPMURetire *r,
                              VPMUTakenBranch *out);

/* Whether @kind counts as one instruction retired. */
static inline bool vpmu_retire_counts(VPMURetireKind kind)
{
    return kind == VPMU_RETIRE_RETIRED ||
           kind == VPMU_RETIRE_RETIRED_EVENT ||
           kind == VPMU_RETIRE_UNEXPLAINED;
}

#endif
