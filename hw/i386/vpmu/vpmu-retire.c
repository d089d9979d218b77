/*
 * qemu-vpmu: what one single-step did
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The rules, in the order they are tried:
 *  - The RIP did not move: a REP iteration if the step trapped on a REP
 *    string instruction, a retired branch if it branched to itself, and
 *    otherwise nothing (an exit before the instruction completed).
 *  - The RIP is a successor the decoder predicts (the fallthrough, a
 *    direct branch's target): the instruction retired.
 *  - An event frame on the new stack holds the old CS:RIP and SS:RSP:
 *    an interrupt or exception was delivered before the instruction
 *    retired (a fault, or an interrupt that KVM injected at entry).  If
 *    it holds the fallthrough instead, the instruction retired first
 *    (a trap such as INT n, or an interrupt right after it).
 *  - Otherwise an indirect, return or far branch retired to where it
 *    went; for any other instruction the step is unexplained.
 * A single-step trap has priority over external interrupts and NMIs
 * (SDM vol. 3A, "Priority Among Concurrent Events"), so an interrupt
 * arrives only between two steps, where the frame test finds it.
 */
#include "qemu/osdep.h"
#include "hw/i386/vpmu-retire.h"

typedef enum FrameMatch {
    FRAME_NONE,
    FRAME_OLD,      /* the frame returns to the instruction: not retired */
    FRAME_NEXT,     /* the frame returns after it: it retired */
} FrameMatch;

static uint64_t get_slot(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/*
 * The CPU pushes (SS, RSP,) RFLAGS, CS, RIP and perhaps an error code.
 * Long mode always pushes all five, 64 bits each; legacy modes push SS
 * and ESP only on a privilege change, in slots as wide as the gate.
 */
static FrameMatch find_frame(const VPMUStepState *prev,
                             const VPMUStepState *now, uint64_t target,
                             uint64_t fall, bool known, bool near_call,
                             VPMUReadLinear *read, void *opaque,
                             uint64_t *rflags_at, uint64_t *rip_at)
{
    unsigned slot = now->mode == VPMU_INSN_MODE_64 ? 8 :
                    now->mode == VPMU_INSN_MODE_32 ? 4 : 2;
    bool full = now->mode == VPMU_INSN_MODE_64 || now->cpl != prev->cpl;
    unsigned n = full ? 5 : 3;
    uint64_t mask = slot == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * slot)) - 1;
    uint64_t base = now->mode == VPMU_INSN_MODE_64 ? 0 : now->ss_base;

    for (unsigned skip = 0; skip < 2; skip++) {     /* an error code? */
        uint8_t buf[5 * 8];
        uint64_t rip, rsp, addr = now->rsp + skip * slot;
        uint16_t cs, ss;

        if (now->mode != VPMU_INSN_MODE_64) {
            addr = base + (uint32_t)addr;
        }
        if (!read(opaque, addr, buf, n * slot)) {
            return FRAME_NONE;
        }
        rip = get_slot(buf, slot);
        cs = get_slot(buf + slot, slot);
        if (cs != prev->cs) {
            continue;
        }
        *rflags_at = addr + 2 * slot;
        *rip_at = rip;
        if (rip == (prev->rip & mask)) {
            if (!full) {
                return FRAME_OLD;
            }
            rsp = get_slot(buf + 3 * slot, slot);
            ss = get_slot(buf + 4 * slot, slot);
            if (rsp == (prev->rsp & mask) && ss == prev->ss) {
                return FRAME_OLD;
            }
        }
        /*
         * A near CALL or PUSH leaves words at RSP that can read like a
         * frame returning to the next instruction (the return address,
         * then a saved 8 where CS would be): a full frame must also hold
         * the SS the instruction ran with, and after a near CALL the RSP
         * it left.
         */
        if (known && (rip == (target & mask) || rip == (fall & mask))) {
            rsp = get_slot(buf + 3 * slot, slot);
            ss = get_slot(buf + 4 * slot, slot);
            if (!full || (ss == prev->ss &&
                          (!near_call ||
                           rsp == ((prev->rsp - slot) & mask)))) {
                return FRAME_NEXT;
            }
        }
        *rflags_at = 0;
    }
    return FRAME_NONE;
}

static uint64_t linear_of(const VPMUStepState *s, uint64_t rip)
{
    return s->mode == VPMU_INSN_MODE_64 ? rip : (uint32_t)(s->cs_base + rip);
}

/*
 * Whether the instruction at @rip (in @now's mode) has @now->rip as a
 * successor: then the step is late by that one instruction.
 */
static bool late_by_one(const VPMUStepState *now, uint64_t rip,
                        VPMUReadLinear *read, void *opaque, VPMULateStep *late)
{
    uint8_t bytes[VPMU_INSN_MAX_LEN];
    size_t avail = sizeof(bytes);
    uint64_t lin = linear_of(now, rip);
    VPMUInsn insn;
    uint64_t fall;

    while (avail && !read(opaque, lin, bytes, avail)) {
        avail = avail > 1 ? avail / 2 : 0;  /* it may end before a hole */
    }
    if (!avail || !vpmu_insn_decode(bytes, avail, now->mode,
                                    now->decode_flags, &insn) ||
        insn.rep || insn.halt) {
        return false;
    }
    fall = vpmu_insn_next(&insn, rip, now->mode);
    if (now->rip != fall &&
        !((insn.cls == VPMU_BRANCH_JCC || insn.cls == VPMU_BRANCH_JMP_REL ||
           insn.cls == VPMU_BRANCH_CALL_REL) &&
          now->rip == vpmu_insn_target(&insn, rip, now->mode))) {
        return false;
    }
    late->retired = true;
    late->branch = insn.cls != VPMU_BRANCH_NONE;
    late->cls = insn.cls;
    late->taken = now->rip != fall || insn.cls == VPMU_BRANCH_JMP_REL ||
                  insn.cls == VPMU_BRANCH_CALL_REL;
    late->rip = rip;
    late->cpl = now->cpl;
    return true;
}

/*
 * An event was delivered and @now is in its handler: at the gate's entry
 * when the step came on time, one instruction in when it came late.  The
 * vector is not known, so the gates are searched (only on an event).
 */
static void late_after_event(const VPMUStepState *now, VPMUReadLinear *read,
                             void *opaque, VPMULateStep *late)
{
    unsigned size = now->mode == VPMU_INSN_MODE_64 ? 16 : 8;
    unsigned n = MIN((now->idt_limit + 1u) / size, 256u);
    uint64_t entry[256];
    unsigned found = 0;

    if (now->mode == VPMU_INSN_MODE_16 && !now->cs_base) {
        return;                 /* real mode's IVT: not handled */
    }
    for (unsigned i = 0; i < n; i++) {
        uint8_t g[16];
        unsigned type;
        uint64_t off;

        if (!read(opaque, now->idt_base + i * size, g, size)) {
            return;
        }
        type = g[5] & 0x1f;     /* S = 0 and the type */
        if (!(g[5] & 0x80) || (type & 0x16) != 0x06) {
            continue;           /* not a present 16/32/64-bit int/trap gate */
        }
        off = get_slot(g, 2) | get_slot(g + 6, 2) << 16;
        if (size == 16) {
            off |= get_slot(g + 8, 4) << 32;
        }
        if (off == now->rip) {
            return;             /* on time */
        }
        entry[found++] = off;
    }
    for (unsigned i = 0; i < found; i++) {
        if (late_by_one(now, entry[i], read, opaque, late)) {
            return;
        }
    }
}

/*
 * An IRET at @prev returned to the RIP its frame holds, or it should
 * have: late by one when @now is that instruction's successor; user mode
 * unstepped when the frame went to CPL 3 and @now is back at CPL 0.
 */
static void check_iret(const VPMUStepState *prev, const VPMUInsn *insn,
                       const VPMUStepState *now, VPMUReadLinear *read,
                       void *opaque, VPMURetire *out)
{
    unsigned slot = insn->op_size / 8;
    uint8_t f[16];
    uint64_t rip, addr = prev->rsp;

    if (prev->mode != VPMU_INSN_MODE_64) {
        addr = (uint32_t)(prev->ss_base + (uint32_t)addr);
    }
    if (slot != 2 && slot != 4 && slot != 8) {
        return;
    }
    if (!read(opaque, addr, f, 2 * slot)) {
        return;
    }
    rip = get_slot(f, slot);
    if ((get_slot(f + slot, 2) & 3) == 3 && prev->cpl == 0 &&
        now->cpl == 0) {
        out->user_unstepped = true;
        /* Back through an event's gate, perhaps one instruction in */
        late_after_event(now, read, opaque, &out->late);
        return;
    }
    if (now->rip != rip) {
        late_by_one(now, rip, read, opaque, &out->late);
    }
}

void vpmu_retire_classify(const VPMUStepState *prev, const VPMUInsn *insn,
                          const VPMUStepState *now, bool stepped,
                          VPMUReadLinear *read, void *opaque,
                          VPMURetire *out)
{
    bool direct = false, same_cs = now->cs == prev->cs;
    uint64_t fall = 0, target = 0;
    uint8_t cls = insn ? insn->cls : VPMU_BRANCH_NONE;
    FrameMatch frame;

    memset(out, 0, sizeof(*out));
    if (insn) {
        VPMUInsnMode mode = prev->mode;

        fall = vpmu_insn_next(insn, prev->rip, mode);
        target = fall;
        if (cls == VPMU_BRANCH_JCC || cls == VPMU_BRANCH_JMP_REL ||
            cls == VPMU_BRANCH_CALL_REL) {
            target = vpmu_insn_target(insn, prev->rip, mode);
        }
        direct = cls == VPMU_BRANCH_NONE || target != fall ||
                 cls == VPMU_BRANCH_JCC || cls == VPMU_BRANCH_JMP_REL ||
                 cls == VPMU_BRANCH_CALL_REL;
    }

    if (now->rip == prev->rip && same_cs && now->rsp == prev->rsp) {
        if (!stepped || !insn) {
            out->kind = VPMU_RETIRE_NOTHING;
        } else if (insn->rep) {
            out->kind = VPMU_RETIRE_ITERATION;
        } else if (cls != VPMU_BRANCH_NONE && target == prev->rip) {
            out->kind = VPMU_RETIRE_RETIRED;        /* jmp . */
            out->branch = out->taken = true;
        } else {
            out->kind = VPMU_RETIRE_NOTHING;
        }
        return;
    }

    out->branch = cls != VPMU_BRANCH_NONE;
    if (insn && direct && same_cs &&
        (now->rip == target || now->rip == fall)) {
        out->kind = VPMU_RETIRE_RETIRED;
        out->taken = out->branch && now->rip == target && target != fall;
        if (cls == VPMU_BRANCH_JMP_REL || cls == VPMU_BRANCH_CALL_REL) {
            out->taken = true;
        }
        return;
    }

    frame = find_frame(prev, now, target, fall, insn != NULL,
                       cls == VPMU_BRANCH_CALL_REL ||
                       cls == VPMU_BRANCH_CALL_IND, read, opaque,
                       &out->frame_rflags, &out->frame_rip);
    if (frame == FRAME_OLD) {
        out->kind = VPMU_RETIRE_EVENT;
        out->branch = false;
        late_after_event(now, read, opaque, &out->late);
        return;
    }
    if (frame == FRAME_NEXT) {
        out->kind = VPMU_RETIRE_RETIRED_EVENT;
        out->taken = out->branch &&
                     (out->frame_rip != fall ||
                      cls == VPMU_BRANCH_JMP_REL ||
                      cls == VPMU_BRANCH_CALL_REL || cls == VPMU_BRANCH_FAR);
        late_after_event(now, read, opaque, &out->late);
        return;
    }
    out->taken = out->branch;
    if (insn && insn->iret) {
        check_iret(prev, insn, now, read, opaque, out);
    }
    if (insn && !direct) {
        out->kind = VPMU_RETIRE_RETIRED;            /* went where it went */
        return;
    }
    if (insn && cls == VPMU_BRANCH_FAR) {
        out->kind = VPMU_RETIRE_RETIRED;
        return;
    }
    out->kind = VPMU_RETIRE_UNEXPLAINED;
}

/*
 * The taken branches, interrupts and exceptions of one step, oldest
 * first, for LBR.  An event goes from the RIP its frame returns to (the
 * faulting instruction, or the next one) to its handler; a software
 * interrupt (INT n, INT3, INTO, INT1) is one far branch from the
 * instruction to the handler.  Where the step was late, the handler's
 * (or the IRET target's) first instruction comes last.
 */
unsigned vpmu_retire_branches(const VPMUStepState *prev, const VPMUInsn *insn,
                              const VPMUStepState *now, const VPMURetire *r,
                              VPMUTakenBranch *out)
{
    uint64_t to = r->late.retired ? r->late.rip : now->rip;
    unsigned n = 0;
    bool soft_int;

    switch (r->kind) {
    case VPMU_RETIRE_RETIRED:
    case VPMU_RETIRE_UNEXPLAINED:
        if (r->taken && insn && !r->user_unstepped) {
            out[n++] = (VPMUTakenBranch) {
                .from = prev->rip, .to = to, .cls = insn->cls,
                .cpl = now->cpl,
            };
        }
        break;
    case VPMU_RETIRE_EVENT:
        out[n++] = (VPMUTakenBranch) {
            .from = r->frame_rip, .to = to, .cls = VPMU_BRANCH_FAR,
            .cpl = now->cpl, .event = true,
        };
        break;
    case VPMU_RETIRE_RETIRED_EVENT:
        soft_int = insn && insn->cls == VPMU_BRANCH_FAR &&
                   r->frame_rip == vpmu_insn_next(insn, prev->rip,
                                                  prev->mode);
        if (soft_int) {
            out[n++] = (VPMUTakenBranch) {
                .from = prev->rip, .to = to, .cls = VPMU_BRANCH_FAR,
                .cpl = now->cpl,
            };
            break;
        }
        if (r->taken && insn) {
            out[n++] = (VPMUTakenBranch) {
                .from = prev->rip, .to = r->frame_rip, .cls = insn->cls,
                .cpl = prev->cpl,
            };
        }
        out[n++] = (VPMUTakenBranch) {
            .from = r->frame_rip, .to = to, .cls = VPMU_BRANCH_FAR,
            .cpl = now->cpl, .event = true,
        };
        break;
    default:
        return 0;
    }
    if (r->late.retired && r->late.taken) {
        out[n++] = (VPMUTakenBranch) {
            .from = r->late.rip, .to = now->rip, .cls = r->late.cls,
            .cpl = r->late.cpl,
        };
    }
    return n;
}
