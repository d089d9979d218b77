/*
 * qemu-vpmu: the LBR oracle of the fuzzers
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Written from the rules (SDM vol. 3B "Last Branch Recording", vol. 4
 * for the MSRs, the class table of lbr.md 1.1 and the decisions in
 * vpmu-lbr.c's comments), not from the model's masks, macros or ring, so
 * that a wrong mask shows up as a disagreement instead of being copied
 * into the check.  vpmu-lbr-fuzz.c (the LBR file alone) and
 * vpmu-model-fuzz.c (LBR through a vCPU's entry points) share this one
 * copy so that they cannot come to check different rules.  The caller
 * decides when a branch reaches the oracle (the model fuzzer: only while
 * LBR records) and what a mismatch means.
 */

#ifndef VPMU_LBR_ORACLE_H
#define VPMU_LBR_ORACLE_H

#include "hw/i386/vpmu-lbr.h"

#define LBR_NREC 32                 /* records in the largest LBR */

/* IA32_LBR_CTL: LBREn, OS, USR, CALL_STACK and the class enables 22:16 */
#define LBR_CTL_VALID   (0xfULL | 0x7f0000ULL)

typedef struct LbrRec {
    uint64_t from, to, info;
} LbrRec;

/* What an MSR is in the oracle's configuration. */
typedef enum LbrReg {
    LBR_REG_NONE,                   /* RDMSR and WRMSR #GP */
    LBR_REG_SELECT, LBR_REG_TOS, LBR_REG_FROM, LBR_REG_TO, LBR_REG_INFO,
    LBR_REG_CTL, LBR_REG_DEPTH, LBR_REG_ARCH_FROM, LBR_REG_ARCH_TO,
    LBR_REG_ARCH_INFO,
} LbrReg;

typedef struct LbrOracle {
    VPMULbrConfig cfg;
    /* The configuration's consequences, from the class table. */
    uint32_t from, to, info;        /* legacy record bases; info 0: none */
    bool select_exists;
    uint64_t select_bits;           /* writable LBR_SELECT bits */
    /* The registers and records. */
    uint64_t select, tos, ctl, depth;
    LbrRec rec[LBR_NREC];           /* legacy: by index; arch: 0 youngest */
    uint64_t recorded, filtered, popped;
} LbrOracle;

/* SDM vol. 4: every MSR an LBR register has on some CPU. */
static const struct {
    uint32_t base, n;
} lbr_msr_blocks[] = {
    { 0x1c8, 2 }, { 0x40, 8 }, { 0x60, 8 }, { 0x680, 32 }, { 0x6c0, 32 },
    { 0xdc0, 32 }, { 0x14ce, 2 }, { 0x1200, 32 }, { 0x1500, 32 },
    { 0x1600, 32 },
};

static bool lbr_oracle_is_lbr(uint32_t msr)
{
    unsigned b;

    for (b = 0; b < ARRAY_SIZE(lbr_msr_blocks); b++) {
        if (msr - lbr_msr_blocks[b].base < lbr_msr_blocks[b].n) {
            return true;
        }
    }
    return false;
}

/*
 * Per class: the LBR_SELECT bit that suppresses it, the IA32_LBR_CTL bit
 * that enables it and its BR_TYPE (SDM tables "MSR_LBR_SELECT",
 * "IA32_LBR_CTL", IA32_LBR_x_INFO; Linux's LBR_*_BIT and ARCH_LBR_*_BIT).
 */
static const struct {
    int sel_bit, ctl_bit, br_type;
} lbr_cls_rules[] = {
    [VPMU_BRANCH_JCC] = { 2, 16, 0 },
    [VPMU_BRANCH_JMP_REL] = { 7, 17, 2 },
    [VPMU_BRANCH_JMP_IND] = { 6, 18, 1 },
    [VPMU_BRANCH_CALL_REL] = { 3, 19, 4 },
    [VPMU_BRANCH_CALL_IND] = { 4, 20, 3 },
    [VPMU_BRANCH_RET] = { 5, 21, 5 },
    [VPMU_BRANCH_FAR] = { 8, 22, 8 },
};

/*
 * The configurations the rules allow: legacy formats 1-7, depths 4, 8,
 * 16, 32, LBR_INFO formats (5, 7) 32 deep, a quirk only at its depth;
 * arch format 0x3f, depth 8-32 in steps of 8, PMU version 4 or later.
 */
static bool lbr_oracle_config_ok(const VPMULbrConfig *c)
{
    switch (c->kind) {
    case VPMU_LBR_NONE:
        return true;
    case VPMU_LBR_LEGACY:
        if (c->format < 1 || c->format > 7) {
            return false;
        }
        if (c->depth != 4 && c->depth != 8 && c->depth != 16 &&
            c->depth != 32) {
            return false;
        }
        if ((c->format == 5 || c->format == 7) && c->depth != 32) {
            return false;
        }
        return c->quirks == 0 ||
               (c->quirks == VPMU_LBR_QUIRK_NO_CALLSTACK && c->depth == 16) ||
               (c->quirks == VPMU_LBR_QUIRK_NO_SELECT && c->depth == 8) ||
               (c->quirks == VPMU_LBR_QUIRK_NHM_MSRS && c->depth == 8);
    case VPMU_LBR_ARCH:
        return c->format == 0x3f && c->quirks == 0 &&
               (c->depth == 8 || c->depth == 16 || c->depth == 24 ||
                c->depth == 32) && c->pmu_version >= 4;
    }
    return false;
}

/*
 * SDM power-up/INIT: every LBR register and record 0, the full depth.
 * The statistics count on, as the model's do.
 */
static void lbr_oracle_reset(LbrOracle *o)
{
    o->select = o->tos = o->ctl = 0;
    o->depth = o->cfg.kind == VPMU_LBR_NONE ? 0 : o->cfg.depth;
    memset(o->rec, 0, sizeof(o->rec));
}

/*
 * What the configuration means (lbr.md 1.1, from Linux's
 * intel_pmu_lbr_init_*()): Core 2 and the 8-deep Atoms have their records
 * at 0x40/0x60, KNL (8 deep, quirk) and the 16- and 32-deep classes at
 * 0x680/0x6c0; formats 5 and 7 add MSR_LBR_INFO; Core 2 and Bonnell
 * (quirk) have no LBR_SELECT; EN_CALLSTACK came with Haswell (16 deep
 * without the pre-Haswell quirk) and is in every 32-deep part.
 */
static void lbr_oracle_init(LbrOracle *o, const VPMULbrConfig *cfg)
{
    int d = cfg->depth, q = cfg->quirks, f = cfg->format;

    *o = (LbrOracle) { .cfg = *cfg };
    if (cfg->kind == VPMU_LBR_LEGACY) {
        bool core = d == 4 || (d == 8 && q != VPMU_LBR_QUIRK_NHM_MSRS);
        bool cs = (d == 16 && q != VPMU_LBR_QUIRK_NO_CALLSTACK) || d == 32;

        o->from = core ? 0x40 : 0x680;
        o->to = core ? 0x60 : 0x6c0;
        o->info = f == 5 || f == 7 ? 0xdc0 : 0;
        o->select_exists = d != 4 && q != VPMU_LBR_QUIRK_NO_SELECT;
        o->select_bits = !o->select_exists ? 0 : cs ? 0x3ff : 0x1ff;
    }
    lbr_oracle_reset(o);
}

/* What @msr is, and in @idx which record. */
static LbrReg lbr_oracle_classify(const LbrOracle *o, uint32_t msr,
                                  unsigned *idx)
{
    uint32_t d = o->depth;

    *idx = 0;
    if (o->cfg.kind == VPMU_LBR_LEGACY) {
        /* Records at or beyond the depth #GP (kvm-unit-tests probes so) */
        if (msr == 0x1c8) {
            return o->select_exists ? LBR_REG_SELECT : LBR_REG_NONE;
        } else if (msr == 0x1c9) {
            return LBR_REG_TOS;
        } else if (msr - o->from < d) {
            *idx = msr - o->from;
            return LBR_REG_FROM;
        } else if (msr - o->to < d) {
            *idx = msr - o->to;
            return LBR_REG_TO;
        } else if (o->info && msr - o->info < d) {
            *idx = msr - o->info;
            return LBR_REG_INFO;
        }
    } else if (o->cfg.kind == VPMU_LBR_ARCH) {
        /*
         * Every IA32_LBR_x_* of the largest part (32) exists; those at or
         * beyond IA32_LBR_DEPTH read 0 and drop writes (vpmu-lbr.c [P]).
         */
        if (msr == 0x14ce) {
            return LBR_REG_CTL;
        } else if (msr == 0x14cf) {
            return LBR_REG_DEPTH;
        } else if (msr - 0x1500 < LBR_NREC) {
            *idx = msr - 0x1500;
            return LBR_REG_ARCH_FROM;
        } else if (msr - 0x1600 < LBR_NREC) {
            *idx = msr - 0x1600;
            return LBR_REG_ARCH_TO;
        } else if (msr - 0x1200 < LBR_NREC) {
            *idx = msr - 0x1200;
            return LBR_REG_ARCH_INFO;
        }
    }
    return LBR_REG_NONE;
}

/* What RDMSR of register @r, record @i, gives. */
static uint64_t lbr_oracle_read(const LbrOracle *o, LbrReg r, unsigned i)
{
    switch (r) {
    case LBR_REG_SELECT:
        return o->select;
    case LBR_REG_TOS:
        return o->tos;
    case LBR_REG_FROM:
        return o->rec[i].from;
    case LBR_REG_TO:
        return o->rec[i].to;
    case LBR_REG_INFO:
        return o->rec[i].info;
    case LBR_REG_CTL:
        return o->ctl;
    case LBR_REG_DEPTH:
        return o->depth;
    case LBR_REG_ARCH_FROM:
        return i < o->depth ? o->rec[i].from : 0;
    case LBR_REG_ARCH_TO:
        return i < o->depth ? o->rec[i].to : 0;
    case LBR_REG_ARCH_INFO:
        return i < o->depth ? o->rec[i].info : 0;
    default:
        return 0;
    }
}

/* SDM: IA32_LBR_DEPTH takes the depths CPUID.1CH:EAX lists, 8..max. */
static bool lbr_oracle_depth_ok(const LbrOracle *o, uint64_t v)
{
    return v >= 8 && v <= (uint64_t)o->cfg.depth && !(v % 8);
}

/* Whether WRMSR of @val to a present register @r succeeds. */
static bool lbr_oracle_write_ok(const LbrOracle *o, LbrReg r, uint64_t val)
{
    switch (r) {
    case LBR_REG_NONE:
        return false;
    case LBR_REG_SELECT:
        return !(val & ~o->select_bits);
    case LBR_REG_CTL:
        return !(val & ~LBR_CTL_VALID);
    case LBR_REG_DEPTH:
        return lbr_oracle_depth_ok(o, val);
    default:
        /* TOS is taken modulo the depth, records as written */
        return true;
    }
}

/* A WRMSR that lbr_oracle_write_ok() allows: what the guest reads back. */
static void lbr_oracle_write(LbrOracle *o, LbrReg r, unsigned i,
                             uint64_t val)
{
    switch (r) {
    case LBR_REG_SELECT:
        o->select = val;
        break;
    case LBR_REG_TOS:
        /* The bits that index a record (vpmu-lbr.c [P]) */
        o->tos = val % o->depth;
        break;
    case LBR_REG_FROM:
        o->rec[i].from = val;
        break;
    case LBR_REG_TO:
        o->rec[i].to = val;
        break;
    case LBR_REG_INFO:
        o->rec[i].info = val;
        break;
    case LBR_REG_CTL:
        o->ctl = val;
        break;
    case LBR_REG_DEPTH:
        /* SDM: any write of IA32_LBR_DEPTH clears every record. */
        o->depth = val;
        memset(o->rec, 0, sizeof(o->rec));
        break;
    case LBR_REG_ARCH_FROM:
    case LBR_REG_ARCH_TO:
    case LBR_REG_ARCH_INFO:
        /* Entries at or beyond the depth drop writes (vpmu-lbr.c [P]) */
        if (i < o->depth) {
            uint64_t *f = r == LBR_REG_ARCH_FROM ? &o->rec[i].from :
                          r == LBR_REG_ARCH_TO ? &o->rec[i].to :
                          &o->rec[i].info;

            *f = val;
        }
        break;
    default:
        break;
    }
}

/* What the legacy MSRs read for a branch, by format (SDM vol. 4). */
static void lbr_oracle_encode(const LbrOracle *o, uint64_t from, uint64_t to,
                              LbrRec *r)
{
    switch (o->cfg.format) {
    case 3:                 /* FROM: MISPRED in 63 */
        from &= 0x7fffffffffffffffULL;
        break;
    case 4:                 /* FROM: MISPRED, IN_TX, ABORT in 63:61 */
        from &= 0x1fffffffffffffffULL;
        break;
    case 6:                 /* FROM: MISPRED; TO: cycles in 63:48 */
        from &= 0x7fffffffffffffffULL;
        to &= 0x0000ffffffffffffULL;
        break;
    }
    r->from = from;
    r->to = to;
    r->info = 0;
}

/*
 * A branch that reaches the LBR; true if it is recorded.  The filters
 * (CPL after the branch), then call-stack mode (a near RET pops the
 * youngest), then the record: TOS "incremented by 1, modulo N, before
 * recording" (legacy), entry 0 the youngest (architectural).  Software
 * has no predictor or cycle count.
 */
static bool lbr_oracle_record(LbrOracle *o, uint64_t from, uint64_t to,
                              unsigned cls, unsigned cpl)
{
    uint64_t d = o->depth;
    bool cs;

    if (o->cfg.kind == VPMU_LBR_NONE || cls == VPMU_BRANCH_NONE ||
        cls > VPMU_BRANCH_FAR) {
        return false;
    }
    if (o->cfg.kind == VPMU_LBR_LEGACY) {
        if ((o->select >> lbr_cls_rules[cls].sel_bit) & 1 ||
            (o->select >> (cpl == 0 ? 0 : 1)) & 1) {
            o->filtered++;
            return false;
        }
        cs = (o->select >> 9) & 1;
        if (cs && cls == VPMU_BRANCH_RET) {
            memset(&o->rec[o->tos], 0, sizeof(LbrRec));
            o->tos = (o->tos + d - 1) % d;
            o->popped++;
            return false;
        }
        o->tos = (o->tos + 1) % d;
        lbr_oracle_encode(o, from, to, &o->rec[o->tos]);
    } else {
        if (!((o->ctl >> lbr_cls_rules[cls].ctl_bit) & 1) ||
            !((o->ctl >> (cpl == 0 ? 1 : 2)) & 1)) {
            o->filtered++;
            return false;
        }
        cs = (o->ctl >> 3) & 1;
        if (cs && cls == VPMU_BRANCH_RET) {
            memmove(&o->rec[0], &o->rec[1], (d - 1) * sizeof(LbrRec));
            memset(&o->rec[d - 1], 0, sizeof(LbrRec));
            o->popped++;
            return false;
        }
        memmove(&o->rec[1], &o->rec[0], (d - 1) * sizeof(LbrRec));
        o->rec[0].from = from;
        o->rec[0].to = to;
        o->rec[0].info = (uint64_t)lbr_cls_rules[cls].br_type << 56;
    }
    o->recorded++;
    return true;
}

/* Legacy: records with FROM != 0; arch: those before the first 0. */
static unsigned lbr_oracle_used(const LbrOracle *o)
{
    unsigned i, n = 0;

    if (o->cfg.kind == VPMU_LBR_LEGACY) {
        for (i = 0; i < o->depth; i++) {
            n += o->rec[i].from != 0;
        }
    } else if (o->cfg.kind == VPMU_LBR_ARCH) {
        while (n < o->depth && o->rec[n].from) {
            n++;
        }
    }
    return n;
}

/*
 * A branch address from the input (@take: its next bytes): raw,
 * canonical (48-bit), small, or kernel-like.
 */
static uint64_t lbr_pick_addr(uint64_t (*take)(unsigned nbytes))
{
    uint8_t b = take(1);
    uint64_t v;

    switch (b & 3) {
    case 0:
        return take(8);
    case 1:
        v = take(6);
        return (uint64_t)((int64_t)(v << 16) >> 16);
    case 2:
        return take(2);
    default:
        return 0xffffffff81000000ULL + (b >> 2);
    }
}

#endif
