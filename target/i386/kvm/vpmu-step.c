/*
 * qemu-vpmu: the single-step engine's KVM side (exact counting, LBR)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * While an exact counter runs, or the guest's LBR records branches, the
 * vCPU runs with KVM_GUESTDBG_SINGLESTEP:
 * KVM sets TF and sends every single-step trap to us as KVM_EXIT_DEBUG
 * (one per instruction or REP iteration, including instructions that
 * KVM emulates or that exit to QEMU).  At each exit the registers come
 * with the exit (KVM_CAP_SYNC_REGS), the pure classifier
 * (hw/i386/vpmu/vpmu-retire.c) tells what retired, vpmu-exact
 * counts it, and the taken branches, interrupts and exceptions go to
 * the model's LBR (hw/i386/vpmu/vpmu-lbr.c).  Before each entry the next
 * instruction is decoded from guest memory, read through the guest's
 * page tables (KVM_TRANSLATE, cached per page).
 *
 * Coexistence with the gdbstub: QEMU builds KVM's debug control from
 * gdb's breakpoints and single-step (kvm_arch_update_guest_debug); we
 * keep gdb's control and OR ours into it, and our own steps are consumed
 * here before kvm_handle_debug(), which would inject them into the guest
 * unless gdb is stepping.  KVM_GUESTDBG_BLOCKIRQ is never ours: stepping
 * must not starve the guest's interrupts.
 *
 * State: all rebuilt, none serialized.  The counts live in the model.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/log.h"
#include "cpu.h"
#include "host-cpu.h"
#include "exec/memory.h"
#include "system/kvm.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-retire.h"
#include "vpmu-step.h"
#include "trace/trace-hw_i386_vpmu.h"

#define STEP_TLB_SIZE   16
#define STEP_SYNC       (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)
#define DR6_BS_BIT      (1u << 14)
#define DR6_B0_B3       0xfu

typedef struct StepTLB {
    uint64_t page;      /* linear page, or -1 */
    uint64_t gpa;       /* its guest-physical page */
} StepTLB;

struct KVMVPMUStep {
    X86CPU *cpu;
    VPMUExact *exact;           /* NULL without vpmu-exact=on */
    VPMUState *lbr;             /* the model, where it has LBR; or NULL */
    unsigned decode_flags;      /* VPMU_INSN_AMD on AMD hosts */

    bool armed;                 /* our SINGLESTEP is in KVM's control */
    bool rearm;                 /* TF may be gone: issue the control again */
    bool reseed;                /* QEMU wrote the registers: read prev */
    bool have_prev, need_decode, prev_ok;
    /*
     * The guest's own TF, which KVM hides from us while we step: known
     * when stepping starts, then followed through what POPF and IRET load
     * and what event delivery clears.  While it is set each step is the
     * guest's #DB too, and kvm_handle_debug() injects it (deliver_db).
     */
    bool guest_tf, deliver_db;
    /* A #DB went to the guest: its delivery is no LBR record (SDM) */
    bool db_delivered;
    VPMUStepState prev;         /* the registers at the last exit */
    VPMUInsn prev_insn;         /* the instruction at prev.rip */
    uint64_t cr0, cr3, cr4, efer;
    int64_t armed_since;
    StepTLB tlb[STEP_TLB_SIZE];

    /* gdbstub's control, written from the main loop, merged by us */
    QemuMutex gdb_lock;
    struct kvm_guest_debug gdb;
    bool gdb_changed;

    KVMVPMUStepStats stats;
};

bool kvm_vpmu_step_supported(const char *user, Error **errp)
{
    int sync = kvm_check_extension(kvm_state, KVM_CAP_SYNC_REGS);

    if (!kvm_check_extension(kvm_state, KVM_CAP_SET_GUEST_DEBUG)) {
        error_setg(errp, "vPMU: %s needs KVM_CAP_SET_GUEST_DEBUG "
                   "(single-stepping), which this KVM lacks; drop %s", user,
                   user);
        return false;
    }
    if ((sync & STEP_SYNC) != STEP_SYNC) {
        error_setg(errp, "vPMU: %s needs KVM_CAP_SYNC_REGS with registers "
                   "and segments (this KVM reports 0x%x); drop %s", user, sync,
                   user);
        return false;
    }
    return true;
}

static bool host_is_amd(void)
{
    char vendor[CPUID_VENDOR_SZ + 1];

    host_cpu_vendor_fms(vendor, NULL, NULL, NULL);
    return !strcmp(vendor, CPUID_VENDOR_AMD) ||
           !strcmp(vendor, CPUID_VENDOR_HYGON);
}

KVMVPMUStep *kvm_vpmu_step_new(X86CPU *cpu, VPMUExact *exact,
                               VPMUState *lbr)
{
    KVMVPMUStep *st = g_new0(KVMVPMUStep, 1);

    st->cpu = cpu;
    st->exact = exact;
    st->lbr = lbr;
    /* The host CPU executes the guest's code, so its decoding rules hold */
    st->decode_flags = host_is_amd() ? VPMU_INSN_AMD : 0;
    qemu_mutex_init(&st->gdb_lock);
    memset(st->tlb, 0xff, sizeof(st->tlb));
    return st;
}

void kvm_vpmu_step_free(KVMVPMUStep *st)
{
    if (st) {
        qemu_mutex_destroy(&st->gdb_lock);
        g_free(st);
    }
}

static void step_tlb_flush(KVMVPMUStep *st)
{
    memset(st->tlb, 0xff, sizeof(st->tlb));
}

/* Linear to guest-physical, through the vCPU's page tables now. */
static bool step_translate(KVMVPMUStep *st, uint64_t linear, uint64_t *gpa)
{
    uint64_t page = linear & TARGET_PAGE_MASK;
    StepTLB *e = &st->tlb[(page >> TARGET_PAGE_BITS) % STEP_TLB_SIZE];
    struct kvm_translation tr = { .linear_address = page };

    if (e->page != page) {
        if (kvm_vcpu_ioctl(CPU(st->cpu), KVM_TRANSLATE, &tr) < 0 ||
            !tr.valid) {
            return false;       /* failures are not cached */
        }
        e->page = page;
        e->gpa = tr.physical_address & TARGET_PAGE_MASK;
    }
    *gpa = e->gpa | (linear & ~TARGET_PAGE_MASK);
    return true;
}

static bool step_read_linear(void *opaque, uint64_t addr, void *buf,
                             size_t len)
{
    KVMVPMUStep *st = opaque;
    uint8_t *p = buf;

    while (len) {
        size_t n = MIN(len, TARGET_PAGE_SIZE - (addr & ~TARGET_PAGE_MASK));
        uint64_t gpa;

        if (!step_translate(st, addr, &gpa) ||
            address_space_read(CPU(st->cpu)->as, gpa, MEMTXATTRS_UNSPECIFIED,
                               p, n) != MEMTX_OK) {
            return false;
        }
        p += n;
        addr += n;
        len -= n;
    }
    return true;
}

static void step_state_from(VPMUStepState *s, const struct kvm_regs *regs,
                            const struct kvm_sregs *sregs)
{
    s->rip = regs->rip;
    s->rsp = regs->rsp;
    s->rflags = regs->rflags;
    s->rcx = regs->rcx;
    s->cs_base = sregs->cs.base;
    s->ss_base = sregs->ss.base;
    s->cs = sregs->cs.selector;
    s->ss = sregs->ss.selector;
    s->idt_base = sregs->idt.base;
    s->idt_limit = sregs->idt.limit;
    if (!(sregs->cr0 & CR0_PE_MASK)) {
        s->cpl = 0;
    } else if (regs->rflags & VM_MASK) {
        s->cpl = 3;
    } else {
        s->cpl = sregs->ss.dpl;     /* the CPL, as QEMU and KVM take it */
    }
    if ((sregs->efer & MSR_EFER_LMA) && sregs->cs.l) {
        s->mode = VPMU_INSN_MODE_64;
    } else if (sregs->cs.db) {
        s->mode = VPMU_INSN_MODE_32;
    } else {
        s->mode = VPMU_INSN_MODE_16;
    }
}

/* Page-table roots and paging modes: a change invalidates the cache. */
static void step_note_sregs(KVMVPMUStep *st, const struct kvm_sregs *sregs)
{
    if (sregs->cr0 != st->cr0 || sregs->cr3 != st->cr3 ||
        sregs->cr4 != st->cr4 || sregs->efer != st->efer) {
        st->cr0 = sregs->cr0;
        st->cr3 = sregs->cr3;
        st->cr4 = sregs->cr4;
        st->efer = sregs->efer;
        step_tlb_flush(st);
    }
}

/* The bytes of the instruction at prev, as the guest will execute them. */
static void step_decode(KVMVPMUStep *st)
{
    CPUState *cs = CPU(st->cpu);
    uint8_t bytes[VPMU_INSN_MAX_LEN];
    uint64_t linear = st->prev.rip;
    size_t avail = sizeof(bytes);

    if (st->prev.mode != VPMU_INSN_MODE_64) {
        linear = (uint32_t)(st->prev.cs_base + st->prev.rip);
    }
    /* An instruction may end just before an unmapped page */
    while (avail && !step_read_linear(st, linear, bytes, avail)) {
        size_t to_page = TARGET_PAGE_SIZE - (linear & ~TARGET_PAGE_MASK);

        avail = avail > to_page ? to_page : 0;
    }
    /* gdb's software breakpoints: decode what the INT3 replaced */
    if (avail && bytes[0] == 0xcc && kvm_sw_breakpoints_active(cs)) {
        struct kvm_sw_breakpoint *bp = kvm_find_sw_breakpoint(cs, linear);

        if (bp) {
            bytes[0] = bp->saved_insn;
        }
    }
    st->prev_ok = avail && vpmu_insn_decode(bytes, avail, st->prev.mode,
                                            st->decode_flags,
                                            &st->prev_insn);
    st->need_decode = false;
}

/* prev from KVM itself: when stepping starts, or after QEMU wrote it. */
static bool step_seed(KVMVPMUStep *st)
{
    CPUState *cs = CPU(st->cpu);
    struct kvm_regs regs;
    struct kvm_sregs sregs;

    if (kvm_vcpu_ioctl(cs, KVM_GET_REGS, &regs) < 0 ||
        kvm_vcpu_ioctl(cs, KVM_GET_SREGS, &sregs) < 0) {
        st->have_prev = false;
        return false;
    }
    step_note_sregs(st, &sregs);
    step_state_from(&st->prev, &regs, &sregs);
    st->prev.decode_flags = st->decode_flags;
    st->have_prev = true;
    st->need_decode = true;
    st->reseed = false;
    return true;
}

static int step_set_control(KVMVPMUStep *st, bool ours)
{
    struct kvm_guest_debug dbg;
    int ret;

    qemu_mutex_lock(&st->gdb_lock);
    dbg = st->gdb;
    st->gdb_changed = false;
    qemu_mutex_unlock(&st->gdb_lock);
    if (ours) {
        dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    }
    ret = kvm_vcpu_ioctl(CPU(st->cpu), KVM_SET_GUEST_DEBUG, &dbg);
    if (ret < 0) {
        error_report_once("vPMU: CPU %d: KVM_SET_GUEST_DEBUG failed (%s): "
                          "exact counters and LBR %s",
                          CPU(st->cpu)->cpu_index, strerror(-ret),
                          ours ? "see nothing" : "keep the vCPU stepping");
    }
    return ret;
}

/*
 * KVM_SET_GUEST_DEBUG without our SINGLESTEP clears TF, ours and the
 * guest's alike (KVM reads RFLAGS without the TF it hides): give the
 * guest its own back.
 */
static void step_restore_guest_tf(KVMVPMUStep *st)
{
    struct kvm_regs regs;

    if (kvm_vcpu_ioctl(CPU(st->cpu), KVM_GET_REGS, &regs) == 0 &&
        !(regs.rflags & TF_MASK)) {
        regs.rflags |= TF_MASK;
        kvm_vcpu_ioctl(CPU(st->cpu), KVM_SET_REGS, &regs);
    }
}

/*
 * What the CPU pushed as RFLAGS at @addr (PUSHF, an event's frame) holds
 * the TF that KVM set for us: the guest must see its own.
 */
static void step_hide_tf(KVMVPMUStep *st, uint64_t addr)
{
    uint64_t gpa;
    uint8_t b;

    if (st->guest_tf || !step_translate(st, addr + 1, &gpa) ||
        address_space_read(CPU(st->cpu)->as, gpa, MEMTXATTRS_UNSPECIFIED,
                           &b, 1) != MEMTX_OK || !(b & (TF_MASK >> 8))) {
        return;
    }
    b &= ~(TF_MASK >> 8);
    address_space_write(CPU(st->cpu)->as, gpa, MEMTXATTRS_UNSPECIFIED, &b, 1);
}

/* The TF that the POPF or IRET at prev loaded, from the stack it read. */
static bool step_loaded_tf(KVMVPMUStep *st, bool *tf)
{
    unsigned slot = st->prev_insn.op_size / 8;
    uint64_t addr = st->prev.rsp + (st->prev_insn.iret ? 2 * slot : 0);
    uint8_t b[2];

    if (st->prev.mode != VPMU_INSN_MODE_64) {
        addr = (uint32_t)(st->prev.ss_base + (uint32_t)addr);
    }
    if (!step_read_linear(st, addr, b, sizeof(b))) {
        return false;
    }
    *tf = b[1] & (TF_MASK >> 8);
    return true;
}

void kvm_vpmu_step_pre_run(KVMVPMUStep *st)
{
    struct kvm_run *run = CPU(st->cpu)->kvm_run;
    bool want = (st->exact && vpmu_exact_stepping(st->exact)) ||
                (st->lbr && vpmu_lbr_recording(st->lbr));
    bool gdb_changed = qatomic_read(&st->gdb_changed);
    bool was_armed = st->armed;

    if (want && (!st->armed || st->rearm || st->reseed || gdb_changed)) {
        if (!was_armed) {
            struct kvm_regs regs;

            st->armed_since = get_clock();
            trace_vpmu_step_arm(CPU(st->cpu)->cpu_index, true);
            st->guest_tf = !CPU(st->cpu)->singlestep_enabled &&
                kvm_vcpu_ioctl(CPU(st->cpu), KVM_GET_REGS, &regs) == 0 &&
                (regs.rflags & TF_MASK);
            st->deliver_db = false;
        }
        if (step_set_control(st, true) == 0) {
            st->armed = true;
            st->stats.rearms++;
        }
        st->rearm = false;
        if (!was_armed || st->reseed || !st->have_prev) {
            step_seed(st);
        }
    } else if (!want && (st->armed || gdb_changed)) {
        if (st->armed) {
            st->stats.ns += get_clock() - st->armed_since;
            trace_vpmu_step_arm(CPU(st->cpu)->cpu_index, false);
        }
        step_set_control(st, false);
        if (st->armed && st->guest_tf) {
            step_restore_guest_tf(st);
        }
        st->armed = false;
        st->have_prev = false;
    }
    if (st->armed) {
        if (st->need_decode && st->have_prev) {
            step_decode(st);
        }
        run->kvm_valid_regs = STEP_SYNC;
        /* A KVM_RUN that fails (EINTR) leaves this: no stale exit */
        run->exit_reason = KVM_EXIT_UNKNOWN;
    } else {
        run->kvm_valid_regs = 0;
    }
}

/*
 * The vCPU stopped on a HLT: execute it here.  Under single-step KVM
 * skips HLT and still marks the vCPU halted, which on this PVM host
 * let the guest run on and then halt it later, wherever it was (once
 * with interrupts off: a hang).  So HLT never runs stepped: RIP moves
 * past it, the vCPU is made halted (KVM_SET_MP_STATE) and the next
 * KVM_RUN waits for an interrupt as the CPU would, whose frame then
 * returns after the HLT.  HLT ends an STI or MOV SS shadow, so the
 * shadow goes too.  Returns whether the HLT was executed.
 */
static bool step_execute_hlt(KVMVPMUStep *st, struct kvm_run *run)
{
    CPUState *cs = CPU(st->cpu);
    struct kvm_regs regs = run->s.regs.regs;
    struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_HALTED };
    struct kvm_vcpu_events ev;

    if (!st->prev_ok || !st->prev_insn.halt || st->prev.cpl != 0 ||
        !kvm_irqchip_in_kernel() ||
        kvm_vcpu_ioctl(cs, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
        ev.exception.injected || ev.exception.pending ||
        ev.interrupt.injected || ev.nmi.injected) {
        return false;           /* KVM's own path: #GP, event first... */
    }
    regs.rip = vpmu_insn_next(&st->prev_insn, st->prev.rip, st->prev.mode);
    ev.interrupt.shadow = 0;
    ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
                KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD |
                KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
    ev.flags |= KVM_VCPUEVENT_VALID_SHADOW;
    if (kvm_vcpu_ioctl(cs, KVM_SET_REGS, &regs) < 0 ||
        kvm_vcpu_ioctl(cs, KVM_SET_VCPU_EVENTS, &ev) < 0 ||
        kvm_vcpu_ioctl(cs, KVM_SET_MP_STATE, &mp) < 0) {
        error_report_once("vPMU: CPU %d: could not execute HLT for the "
                          "single-step engine: it runs stepped",
                          cs->cpu_index);
        return false;
    }
    run->s.regs.regs.rip = regs.rip;
    st->prev.rip = regs.rip;
    st->need_decode = true;
    st->stats.halts++;
    return true;
}

/* One instruction retired: exact counters count it. */
static bool step_retire(KVMVPMUStep *st, uint8_t cpl, bool branch)
{
    return st->exact && vpmu_exact_retire(st->exact, &(VPMUExactRetired) {
        .cpl = cpl, .branch = branch,
    });
}

/*
 * LBR: what the step took (taken branches, interrupts, exceptions), in
 * order, to the model, which records them while the guest's LBR is on
 * and not frozen.  The delivery of a #DB is not recorded and clears
 * DEBUGCTL.LBR (SDM vol. 3B, "Debug Exception (#DB)" in "Last Branch
 * Recording"); the #DB the engine let QEMU inject is the next event.
 */
static void step_record_branches(KVMVPMUStep *st, const VPMUStepState *now,
                                 const VPMURetire *r)
{
    VPMUTakenBranch b[VPMU_RETIRE_MAX_BRANCHES];
    unsigned n = vpmu_retire_branches(&st->prev,
                                      st->prev_ok ? &st->prev_insn : NULL,
                                      now, r, b);

    for (unsigned i = 0; i < n; i++) {
        if (b[i].event && st->db_delivered) {
            st->db_delivered = false;
            vpmu_lbr_debug_exception(st->lbr);
            continue;
        }
        vpmu_lbr_branch(st->lbr, b[i].from, b[i].to, b[i].cls, b[i].cpl);
        trace_vpmu_step_lbr(CPU(st->cpu)->cpu_index, b[i].from, b[i].to,
                            b[i].cls, b[i].event);
    }
}

bool kvm_vpmu_step_post_run(KVMVPMUStep *st, struct kvm_run *run)
{
    const struct kvm_sregs *sregs = &run->s.regs.sregs;
    VPMUStepState now;
    VPMURetire r;
    bool stepped, signal = false;

    if (!st->armed || (run->kvm_valid_regs & STEP_SYNC) != STEP_SYNC) {
        return false;
    }
    stepped = run->exit_reason == KVM_EXIT_DEBUG &&
              run->debug.arch.exception == EXCP01_DB &&
              (run->debug.arch.dr6 & DR6_BS_BIT);
    step_state_from(&now, &run->s.regs.regs, sregs);
    now.decode_flags = st->decode_flags;
    if (!st->have_prev) {
        goto out;
    }
    if (st->need_decode) {
        step_decode(st);
    }
    st->stats.steps++;
    vpmu_retire_classify(&st->prev, st->prev_ok ? &st->prev_insn : NULL,
                         &now, stepped, step_read_linear, st, &r);
    switch (r.kind) {
    case VPMU_RETIRE_NOTHING:
        break;
    case VPMU_RETIRE_ITERATION:
        st->stats.iterations++;
        break;
    case VPMU_RETIRE_EVENT:
        st->stats.events++;
        st->rearm = true;
        break;
    case VPMU_RETIRE_UNEXPLAINED:
        st->stats.unexplained++;
        st->rearm = true;
        qemu_log_mask(LOG_UNIMP, "vPMU: CPU %d: step from 0x%" PRIx64
                      " to 0x%" PRIx64 " has no explanation (%s): counted "
                      "as one instruction\n", CPU(st->cpu)->cpu_index,
                      st->prev.rip, now.rip,
                      st->prev_ok ? "decoded" : "not decodable");
        /* fall through */
    case VPMU_RETIRE_RETIRED_EVENT:
    case VPMU_RETIRE_RETIRED:
        if (r.kind == VPMU_RETIRE_RETIRED_EVENT) {
            st->stats.events++;
            st->rearm = true;
        }
        st->stats.retired++;
        signal = step_retire(st, st->prev.cpl, r.branch);
        if (st->prev_ok) {
            if (st->prev_insn.tlb_flush) {
                step_tlb_flush(st);
            }
            /* POPF, IRET, SYSRET, INT n, SYSCALL... may clear our TF */
            if (st->prev_insn.flags_load ||
                st->prev_insn.cls == VPMU_BRANCH_FAR) {
                st->rearm = true;
            }
        }
        break;
    }
    trace_vpmu_step(CPU(st->cpu)->cpu_index, st->prev.rip, now.rip, r.kind,
                    r.branch);
    if (r.frame_rflags) {
        step_hide_tf(st, r.frame_rflags);
    } else if (vpmu_retire_counts(r.kind) && st->prev_ok &&
               st->prev_insn.pushf) {
        step_hide_tf(st, now.mode == VPMU_INSN_MODE_64 ? now.rsp :
                     (uint32_t)(now.ss_base + (uint32_t)now.rsp));
    }
    /* The guest's TF: a trap after an instruction that began with it */
    if (st->guest_tf && stepped && (r.kind == VPMU_RETIRE_RETIRED ||
                                    r.kind == VPMU_RETIRE_ITERATION)) {
        st->deliver_db = true;
    }
    if (r.kind == VPMU_RETIRE_EVENT || r.kind == VPMU_RETIRE_RETIRED_EVENT) {
        st->guest_tf = false;           /* delivery cleared it */
    } else if (vpmu_retire_counts(r.kind) && st->prev_ok &&
               (st->prev_insn.popf || st->prev_insn.iret)) {
        bool tf;

        if (step_loaded_tf(st, &tf)) {
            st->guest_tf = tf;
        }
    }
    if (r.late.retired) {
        /* The late instruction ran with the TF just loaded: its trap */
        if (st->guest_tf && stepped) {
            st->deliver_db = true;
        }
        st->stats.late++;
        st->stats.retired++;
        signal |= step_retire(st, r.late.cpl, r.late.branch);
    }
    if (st->lbr) {
        step_record_branches(st, &now, &r);
    }
    if (r.user_unstepped) {
        st->stats.user_unstepped++;
        warn_report_once("vPMU: CPU %d: this host's KVM does not single-step "
                         "the guest's user mode (an IRET to CPL 3 came back "
                         "at CPL 0 unstepped): exact counters and LBR "
                         "miss what ring 3 retires", CPU(st->cpu)->cpu_index);
    }
out:
    step_note_sregs(st, sregs);
    st->prev = now;
    st->have_prev = true;
    st->need_decode = true;
    if (stepped && run->exit_reason == KVM_EXIT_DEBUG &&
        !CPU(st->cpu)->singlestep_enabled) {
        step_decode(st);
        if (step_execute_hlt(st, run)) {
            trace_vpmu_step(CPU(st->cpu)->cpu_index, now.rip, st->prev.rip,
                            VPMU_RETIRE_RETIRED, false);
            st->stats.retired++;
            signal |= step_retire(st, now.cpl, false);
        }
    }
    return signal;
}

bool kvm_vpmu_step_debug_exit(KVMVPMUStep *st, struct kvm_run *run)
{
    const struct kvm_debug_exit_arch *arch = &run->debug.arch;

    if (!st->armed || arch->exception != EXCP01_DB ||
        !(arch->dr6 & DR6_BS_BIT) || (arch->dr6 & DR6_B0_B3)) {
        return false;
    }
    if (st->deliver_db) {
        /* The guest's own single-step trap: QEMU injects it */
        st->deliver_db = false;
        st->db_delivered = true;
        return false;
    }
    /* gdb's own step: kvm_handle_debug() reports it to gdb */
    return !CPU(st->cpu)->singlestep_enabled;
}

void kvm_vpmu_step_guest_debug(KVMVPMUStep *st, struct kvm_guest_debug *dbg)
{
    qemu_mutex_lock(&st->gdb_lock);
    st->gdb = *dbg;
    st->gdb_changed = true;
    qemu_mutex_unlock(&st->gdb_lock);
    /*
     * The ioctl QEMU issues next keeps us stepping if we are; pre_run
     * issues the merged control again in any case (gdb_changed).
     */
    if (qatomic_read(&st->armed)) {
        dbg->control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    }
}

void kvm_vpmu_step_regs_written(KVMVPMUStep *st)
{
    if (st->armed) {
        st->reseed = true;
    }
}

bool kvm_vpmu_step_active(const KVMVPMUStep *st)
{
    return st->armed;
}

const KVMVPMUStepStats *kvm_vpmu_step_stats(KVMVPMUStep *st)
{
    /* Written on the vCPU thread only; a reader sees recent values */
    return &st->stats;
}

uint64_t kvm_vpmu_step_ns(const KVMVPMUStep *st)
{
    int64_t since = qatomic_read(&st->armed_since);

    return st->stats.ns + (qatomic_read(&st->armed) ? get_clock() - since : 0);
}
