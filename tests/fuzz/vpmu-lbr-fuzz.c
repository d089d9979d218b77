/*
 * qemu-vpmu: libFuzzer harness for the LBR register model
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Drives hw/i386/vpmu/vpmu-lbr.c and checks it against an oracle written
 * from the rules (SDM vol. 3B last branch recording, vol. 4 for the MSRs,
 * and the decisions in vpmu-lbr.c's comments), not from the model's
 * masks or its ring.  The oracle keeps its own records, legacy ones by
 * MSR index and architectural ones as a list with the youngest first,
 * and predicts every read, every #GP, every filter decision, the
 * statistics and what vpmu_lbr_check_loaded() accepts.
 *
 * Input: 5 configuration bytes, then operations (see fuzz_op()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu-lbr.h"

#define NREC 32

typedef struct Rec {
    uint64_t from, to, info;
} Rec;

/* Everything is static: nothing is allocated per input or per op. */
static struct {
    VPMULbrState l;
    VPMULbrState tmp;           /* check_loaded()'s victim */
    VPMULbrConfig cfg;
    /* The oracle's view of the configuration, from the rules. */
    uint32_t from, to, info;    /* legacy bases; info 0: none */
    bool select_exists;
    uint64_t select_bits;       /* writable LBR_SELECT bits */
    bool callstack;             /* EN_CALLSTACK writable (or arch) */
    /* The oracle's registers and records. */
    uint64_t select, tos, ctl, depth;
    Rec rec[NREC];              /* legacy: by index; arch: 0 youngest */
    uint64_t recorded, filtered, popped;
    /* The operation under way, for the failure report. */
    const char *op;
    uint32_t msr;
    uint64_t val;
    const uint8_t *in;
    size_t len;
} fz;

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vpmu-lbr-fuzz: INVARIANT VIOLATED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  config: kind %d, format %d, depth %d, v%d, "
            "quirks 0x%x\n  op: %s msr 0x%" PRIx32 " val 0x%" PRIx64 "\n",
            fz.cfg.kind, fz.cfg.format, fz.cfg.depth, fz.cfg.pmu_version,
            fz.cfg.quirks, fz.op, fz.msr, fz.val);
    abort();
}

static uint64_t take(unsigned nbytes)
{
    uint64_t v = 0;

    for (; nbytes && fz.len; nbytes--, fz.len--) {
        v = v << 8 | *fz.in++;
    }
    return v;
}

/* SDM vol. 4: every MSR an LBR register has on some CPU. */
static const struct {
    uint32_t base, n;
} blocks[] = {
    { 0x1c8, 2 }, { 0x40, 8 }, { 0x60, 8 }, { 0x680, 32 }, { 0x6c0, 32 },
    { 0xdc0, 32 }, { 0x14ce, 2 }, { 0x1200, 32 }, { 0x1500, 32 },
    { 0x1600, 32 },
};

static uint32_t msrs[256];
static unsigned nmsrs;

static void make_msr_list(void)
{
    unsigned b, i;

    for (b = 0; b < ARRAY_SIZE(blocks); b++) {
        for (i = 0; i < blocks[b].n; i++) {
            msrs[nmsrs++] = blocks[b].base + i;
        }
    }
    /* and the neighbours, which are not LBR MSRs */
    for (b = 0; b < ARRAY_SIZE(blocks); b++) {
        msrs[nmsrs++] = blocks[b].base - 1;
        msrs[nmsrs++] = blocks[b].base + blocks[b].n;
    }
}

static bool oracle_is_lbr(uint32_t msr)
{
    unsigned b;

    for (b = 0; b < ARRAY_SIZE(blocks); b++) {
        if (msr >= blocks[b].base && msr < blocks[b].base + blocks[b].n) {
            return true;
        }
    }
    return false;
}

/*
 * The configurations the rules allow: legacy formats 1-7, depths 4, 8,
 * 16, 32, LBR_INFO formats (5, 7) 32 deep, a quirk only at its depth;
 * arch format 0x3f, depth 8-32 in steps of 8, PMU version 4 or later.
 */
static bool oracle_config_ok(const VPMULbrConfig *c)
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

static void oracle_reset(void)
{
    fz.select = fz.tos = fz.ctl = 0;
    fz.depth = fz.cfg.kind == VPMU_LBR_NONE ? 0 : fz.cfg.depth;
    memset(fz.rec, 0, sizeof(fz.rec));
}

/* The class table of the design brief (docs lbr.md 1.1). */
static void oracle_init(void)
{
    int d = fz.cfg.depth, q = fz.cfg.quirks;

    fz.from = fz.to = fz.info = 0;
    fz.select_exists = false;
    fz.select_bits = 0;
    fz.callstack = false;
    if (fz.cfg.kind == VPMU_LBR_LEGACY) {
        bool core = d == 4 || (d == 8 && q != VPMU_LBR_QUIRK_NHM_MSRS);

        fz.from = core ? 0x40 : 0x680;
        fz.to = core ? 0x60 : 0x6c0;
        fz.info = fz.cfg.format == 5 || fz.cfg.format == 7 ? 0xdc0 : 0;
        fz.select_exists = d != 4 && q != VPMU_LBR_QUIRK_NO_SELECT;
        fz.callstack = (d == 16 && q != VPMU_LBR_QUIRK_NO_CALLSTACK) ||
                       d == 32;
        fz.select_bits = !fz.select_exists ? 0 :
                         fz.callstack ? 0x3ff : 0x1ff;
    } else if (fz.cfg.kind == VPMU_LBR_ARCH) {
        fz.callstack = true;
    }
    oracle_reset();
}

/* An architectural entry, or NULL beyond the current depth. */
static Rec *arch_ent(unsigned i)
{
    return i < fz.depth ? &fz.rec[i] : NULL;
}

/* What RDMSR must give: false for #GP. */
static bool oracle_read(uint32_t msr, uint64_t *val)
{
    uint32_t n = fz.depth;
    Rec *r;

    *val = 0;
    if (fz.cfg.kind == VPMU_LBR_LEGACY) {
        if (msr == 0x1c8 && fz.select_exists) {
            *val = fz.select;
            return true;
        }
        if (msr == 0x1c9) {
            *val = fz.tos;
            return true;
        }
        if (msr >= fz.from && msr < fz.from + n) {
            *val = fz.rec[msr - fz.from].from;
            return true;
        }
        if (msr >= fz.to && msr < fz.to + n) {
            *val = fz.rec[msr - fz.to].to;
            return true;
        }
        if (fz.info && msr >= fz.info && msr < fz.info + n) {
            *val = fz.rec[msr - fz.info].info;
            return true;
        }
        return false;
    }
    if (fz.cfg.kind == VPMU_LBR_ARCH) {
        if (msr == 0x14ce) {
            *val = fz.ctl;
            return true;
        }
        if (msr == 0x14cf) {
            *val = fz.depth;
            return true;
        }
        if (msr >= 0x1500 && msr < 0x1520) {
            r = arch_ent(msr - 0x1500);
            *val = r ? r->from : 0;
            return true;
        }
        if (msr >= 0x1600 && msr < 0x1620) {
            r = arch_ent(msr - 0x1600);
            *val = r ? r->to : 0;
            return true;
        }
        if (msr >= 0x1200 && msr < 0x1220) {
            r = arch_ent(msr - 0x1200);
            *val = r ? r->info : 0;
            return true;
        }
    }
    return false;
}

/* What WRMSR must do: false for #GP, else the oracle is updated. */
static bool oracle_write(uint32_t msr, uint64_t val)
{
    uint64_t old;
    Rec *r;

    if (!oracle_read(msr, &old)) {
        return false;
    }
    if (fz.cfg.kind == VPMU_LBR_LEGACY) {
        if (msr == 0x1c8) {
            if (val & ~fz.select_bits) {
                return false;
            }
            fz.select = val;
        } else if (msr == 0x1c9) {
            fz.tos = val % fz.depth;
        } else if (msr >= fz.from && msr < fz.from + fz.depth) {
            fz.rec[msr - fz.from].from = val;
        } else if (msr >= fz.to && msr < fz.to + fz.depth) {
            fz.rec[msr - fz.to].to = val;
        } else {
            fz.rec[msr - fz.info].info = val;
        }
        return true;
    }
    if (msr == 0x14ce) {
        /* LBREn, OS, USR, CALL_STACK and the seven class enables */
        if (val & ~(0xfULL | 0x7f0000ULL)) {
            return false;
        }
        fz.ctl = val;
    } else if (msr == 0x14cf) {
        if (val < 8 || val > (uint64_t)fz.cfg.depth || val % 8) {
            return false;
        }
        fz.depth = val;
        memset(fz.rec, 0, sizeof(fz.rec));
    } else if (msr >= 0x1500 && msr < 0x1520) {
        r = arch_ent(msr - 0x1500);
        if (r) {
            r->from = val;
        }
    } else if (msr >= 0x1600 && msr < 0x1620) {
        r = arch_ent(msr - 0x1600);
        if (r) {
            r->to = val;
        }
    } else {
        r = arch_ent(msr - 0x1200);
        if (r) {
            r->info = val;
        }
    }
    return true;
}

/*
 * Per class: the LBR_SELECT bit that suppresses it, the LBR_CTL bit that
 * enables it and its BR_TYPE (SDM tables; bit numbers as in Linux's
 * LBR_*_BIT and ARCH_LBR_*_BIT).
 */
static const struct {
    int sel_bit, ctl_bit, br_type;
} cls_rules[] = {
    [VPMU_BRANCH_JCC] = { 2, 16, 0 },
    [VPMU_BRANCH_JMP_REL] = { 7, 17, 2 },
    [VPMU_BRANCH_JMP_IND] = { 6, 18, 1 },
    [VPMU_BRANCH_CALL_REL] = { 3, 19, 4 },
    [VPMU_BRANCH_CALL_IND] = { 4, 20, 3 },
    [VPMU_BRANCH_RET] = { 5, 21, 5 },
    [VPMU_BRANCH_FAR] = { 8, 22, 8 },
};

/* What the legacy MSRs read for a branch, by format (SDM vol. 4). */
static void oracle_encode(uint64_t from, uint64_t to, Rec *r)
{
    switch (fz.cfg.format) {
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

/* What vpmu_lbr_record() must return; updates the oracle. */
static bool oracle_record(uint64_t from, uint64_t to, unsigned cls,
                          unsigned cpl)
{
    bool cs;

    if (fz.cfg.kind == VPMU_LBR_NONE || cls == VPMU_BRANCH_NONE ||
        cls > VPMU_BRANCH_FAR) {
        return false;
    }
    if (fz.cfg.kind == VPMU_LBR_LEGACY) {
        if ((fz.select >> cls_rules[cls].sel_bit) & 1 ||
            (fz.select >> (cpl == 0 ? 0 : 1)) & 1) {
            fz.filtered++;
            return false;
        }
        cs = (fz.select >> 9) & 1;
        if (cs && cls == VPMU_BRANCH_RET) {
            memset(&fz.rec[fz.tos], 0, sizeof(Rec));
            fz.tos = (fz.tos + fz.depth - 1) % fz.depth;
            fz.popped++;
            return false;
        }
        fz.tos = (fz.tos + 1) % fz.depth;
        oracle_encode(from, to, &fz.rec[fz.tos]);
    } else {
        if (!((fz.ctl >> cls_rules[cls].ctl_bit) & 1) ||
            !((fz.ctl >> (cpl == 0 ? 1 : 2)) & 1)) {
            fz.filtered++;
            return false;
        }
        cs = (fz.ctl >> 3) & 1;
        if (cs && cls == VPMU_BRANCH_RET) {
            memmove(&fz.rec[0], &fz.rec[1], (fz.depth - 1) * sizeof(Rec));
            memset(&fz.rec[fz.depth - 1], 0, sizeof(Rec));
            fz.popped++;
            return false;
        }
        memmove(&fz.rec[1], &fz.rec[0], (fz.depth - 1) * sizeof(Rec));
        fz.rec[0].from = from;
        fz.rec[0].to = to;
        fz.rec[0].info = (uint64_t)cls_rules[cls].br_type << 56;
    }
    fz.recorded++;
    return true;
}

static unsigned oracle_used(void)
{
    unsigned i, n = 0;

    if (fz.cfg.kind == VPMU_LBR_LEGACY) {
        for (i = 0; i < fz.depth; i++) {
            n += fz.rec[i].from != 0;
        }
    } else if (fz.cfg.kind == VPMU_LBR_ARCH) {
        while (n < fz.depth && fz.rec[n].from) {
            n++;
        }
    }
    return n;
}

/* Every MSR, the statistics and the record count, model vs oracle. */
static void check_all(void)
{
    unsigned i;

    for (i = 0; i < nmsrs; i++) {
        uint64_t want, got = 0x5a5a;
        bool want_ok = oracle_read(msrs[i], &want);
        bool ok = vpmu_lbr_msr_read(&fz.l, msrs[i], &got, true);

        if (ok != want_ok || (ok && got != want)) {
            fail("RDMSR 0x%" PRIx32 ": %s 0x%" PRIx64 ", oracle %s 0x%"
                 PRIx64, msrs[i], ok ? "ok" : "#GP", got,
                 want_ok ? "ok" : "#GP", want);
        }
        if (!ok && got) {
            fail("RDMSR 0x%" PRIx32 " #GP but gave 0x%" PRIx64, msrs[i],
                 got);
        }
    }
    if (fz.l.stats.recorded != fz.recorded ||
        fz.l.stats.filtered != fz.filtered ||
        fz.l.stats.popped != fz.popped) {
        fail("stats %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", oracle %" PRIu64
             "/%" PRIu64 "/%" PRIu64, fz.l.stats.recorded,
             fz.l.stats.filtered, fz.l.stats.popped, fz.recorded,
             fz.filtered, fz.popped);
    }
    if (vpmu_lbr_records_used(&fz.l) != oracle_used()) {
        fail("records_used %u, oracle %u", vpmu_lbr_records_used(&fz.l),
             oracle_used());
    }
}

static uint32_t pick_msr(void)
{
    static const uint32_t controls[4] = { 0x1c8, 0x1c9, 0x14ce, 0x14cf };
    uint8_t b = take(1);

    if (b == 0xff) {
        return take(4);
    }
    /* the registers that steer recording, often */
    if (b < 0x40) {
        return controls[b & 3];
    }
    return msrs[take(1) % nmsrs];
}

static uint64_t pick_val(void)
{
    uint8_t b = take(1);

    switch (b & 7) {
    case 0:
        return take(8);
    case 1:
        return 1ULL << (take(1) & 63);
    case 2:
        return 8 * (take(1) % 6);       /* depths, valid and not */
    case 3:
        return take(3) & 0x7f000fULL;   /* LBR_CTL, no reserved bit */
    case 4:
        return take(2) & 0x3ff;         /* LBR_SELECT */
    default:
        return take(1);
    }
}

/* An address: raw, canonical (48-bit), small, or kernel-like. */
static uint64_t pick_addr(void)
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

/* Linux's intel_pmu_lbr_read_64() on one legacy record. */
static void linux_decode(uint64_t *from, uint64_t *to)
{
    int f = fz.cfg.format, skip = f == 3 || f == 6 ? 1 : f == 4 ? 3 : 0;

    *from = (uint64_t)((int64_t)(*from << skip) >> skip);
    if (f == 6) {
        *to = (uint64_t)((int64_t)(*to << 16) >> 16);
    }
}

static bool canonical48(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/*
 * vpmu_lbr_check_loaded() on a copy with one serialized field changed;
 * predicts acceptance from the rules where they decide it alone.
 */
static void fuzz_load(void)
{
    uint8_t what = take(1);
    uint64_t v = pick_val();
    bool legacy = fz.cfg.kind == VPMU_LBR_LEGACY;
    bool arch = fz.cfg.kind == VPMU_LBR_ARCH;
    unsigned i = (what >> 3) % NREC;
    int predict;                /* 1 ok, 0 refused, -1 not predicted */
    Error *err = NULL;
    bool ok;

    fz.tmp = fz.l;
    switch (what & 7) {
    case 0:
        fz.tmp.select = v;
        predict = fz.select_exists ? !(v & ~fz.select_bits) : !v;
        break;
    case 1:
        fz.tmp.tos = v;
        predict = legacy ? v < fz.depth : !v;
        break;
    case 2:
        fz.tmp.ctl = v;
        predict = arch ? !(v & ~0x7f000fULL) : !v;
        break;
    case 3:
        fz.tmp.depth = v;
        if (!arch) {
            predict = v == fz.depth;
        } else if (v < 8 || v > (uint64_t)fz.cfg.depth || v % 8) {
            predict = 0;
        } else {
            /* a smaller depth is refused only if top or records exceed */
            predict = v >= fz.depth ? 1 : -1;
        }
        break;
    case 4:
        fz.tmp.top = v;
        v = fz.tmp.top;
        predict = arch ? v < fz.depth : !v;
        break;
    case 5:
        fz.tmp.rec[i].from = v;
        predict = i < fz.depth || !v;
        break;
    case 6:
        fz.tmp.rec[i].to = v;
        predict = i < fz.depth || !v;
        break;
    default:
        fz.tmp.rec[i].info = v;
        predict = (i < fz.depth && (arch || fz.info)) || !v;
        break;
    }
    fz.op = "check_loaded";
    fz.val = v;
    ok = vpmu_lbr_check_loaded(&fz.tmp, &err);
    if (predict >= 0 && ok != predict) {
        fail("check_loaded(field %u, slot %u) %s, the rules say %s%s%s",
             what & 7, i, ok ? "accepted" : "refused",
             predict ? "accept" : "refuse", err ? ": " : "",
             err ? error_get_pretty(err) : "");
    }
    if (!ok) {
        /* refused: named, and the state is the reset state */
        if (!err || strncmp(error_get_pretty(err), "the migration stream's",
                            22)) {
            fail("check_loaded refused without the usual message");
        }
        error_free(err);
        if (fz.tmp.select || fz.tmp.tos || fz.tmp.ctl || fz.tmp.top ||
            fz.tmp.depth != (fz.cfg.kind ? (uint64_t)fz.cfg.depth : 0)) {
            fail("check_loaded refused but did not reset");
        }
        for (i = 0; i < NREC; i++) {
            if (fz.tmp.rec[i].from || fz.tmp.rec[i].to ||
                fz.tmp.rec[i].info) {
                fail("check_loaded refused but kept record %u", i);
            }
        }
    } else if (err) {
        fail("check_loaded accepted but set an error");
    }
}

/* @n branches of one class and ring: fills the stack in one op. */
static void fuzz_burst(void)
{
    unsigned n = 1 + take(1) % 40, cls = take(1) % (VPMU_BRANCH_FAR + 1);
    unsigned cpl = take(1) & 3, i;
    uint64_t from = pick_addr();

    fz.op = "record burst";
    fz.msr = cls;
    for (i = 0; i < n; i++) {
        bool want = oracle_record(from + i, from + 0x100 + i, cls, cpl);

        fz.val = from + i;
        if (vpmu_lbr_record(&fz.l, from + i, from + 0x100 + i, cls, cpl) !=
            want) {
            fail("burst record %u (class %u, cpl %u): oracle %s", i, cls,
                 cpl, want ? "records" : "not");
        }
    }
}

static void fuzz_op(void)
{
    uint8_t op = take(1);
    uint64_t want, got, from, to;
    unsigned cls, cpl;
    bool ok, want_ok, host;

    switch (op % 9) {
    case 0:
        fz.op = "rdmsr";
        fz.msr = pick_msr();
        want_ok = oracle_read(fz.msr, &want);
        ok = vpmu_lbr_msr_read(&fz.l, fz.msr, &got, true);
        if (ok != want_ok || (ok && got != want)) {
            fail("RDMSR: %s 0x%" PRIx64 ", oracle %s 0x%" PRIx64,
                 ok ? "ok" : "#GP", got, want_ok ? "ok" : "#GP", want);
        }
        if (vpmu_lbr_msr_is_lbr(fz.msr) != oracle_is_lbr(fz.msr)) {
            fail("is_lbr disagrees");
        }
        return;
    case 1:
    case 2:
        host = op & 0x80;
        fz.op = host ? "host wrmsr" : "wrmsr";
        fz.msr = pick_msr();
        fz.val = pick_val();
        want_ok = oracle_write(fz.msr, fz.val);
        ok = vpmu_lbr_msr_write(&fz.l, fz.msr, fz.val, host);
        if (ok != want_ok) {
            fail("WRMSR: %s, oracle %s", ok ? "ok" : "#GP",
                 want_ok ? "ok" : "#GP");
        }
        break;
    case 3:
    case 4:
    case 5:
        fz.op = "record";
        cls = take(1) % (VPMU_BRANCH_FAR + 2);
        cpl = take(1);
        cpl = cpl & 0x80 ? cpl : cpl & 3;
        from = pick_addr();
        to = pick_addr();
        fz.msr = cls;
        fz.val = from;
        want_ok = oracle_record(from, to, cls, cpl);
        ok = vpmu_lbr_record(&fz.l, from, to, cls, cpl);
        if (ok != want_ok) {
            fail("record(class %u, cpl %u) %s, oracle %s", cls, cpl,
                 ok ? "recorded" : "did not", want_ok ? "records" : "not");
        }
        /* A canonical branch decodes back whole, as Linux reads it. */
        if (ok && fz.cfg.kind == VPMU_LBR_LEGACY && canonical48(from) &&
            canonical48(to)) {
            uint64_t f = 0, t = 0;

            vpmu_lbr_msr_read(&fz.l, fz.from + fz.tos, &f, true);
            vpmu_lbr_msr_read(&fz.l, fz.to + fz.tos, &t, true);
            linux_decode(&f, &t);
            if (f != from || t != to) {
                fail("format %d: 0x%" PRIx64 " -> 0x%" PRIx64 " decodes "
                     "as 0x%" PRIx64 " -> 0x%" PRIx64, fz.cfg.format,
                     from, to, f, t);
            }
        }
        break;
    case 7:
        fuzz_burst();
        break;
    case 6:
        fz.op = "reset";
        vpmu_lbr_reset(&fz.l);
        oracle_reset();
        break;
    default:
        fuzz_load();
        return;
    }
    check_all();
}

/* The valid configurations, so that most inputs pick one. */
static VPMULbrConfig valid[128];
static unsigned nvalid;

static void make_valid_list(void)
{
    static const int formats[] = { 1, 2, 3, 4, 5, 6, 7, 0x3f };
    static const int depths[] = { 4, 8, 16, 24, 32 };
    static const int quirks[] = {
        0, VPMU_LBR_QUIRK_NO_CALLSTACK, VPMU_LBR_QUIRK_NO_SELECT,
        VPMU_LBR_QUIRK_NHM_MSRS,
    };
    unsigned k, f, d, q;

    valid[nvalid++] = (VPMULbrConfig) { .kind = VPMU_LBR_NONE };
    for (k = VPMU_LBR_LEGACY; k <= VPMU_LBR_ARCH; k++) {
        for (f = 0; f < ARRAY_SIZE(formats); f++) {
            for (d = 0; d < ARRAY_SIZE(depths); d++) {
                for (q = 0; q < ARRAY_SIZE(quirks); q++) {
                    VPMULbrConfig c = {
                        .kind = k, .format = formats[f], .depth = depths[d],
                        .pmu_version = 4, .quirks = quirks[q],
                    };

                    if (oracle_config_ok(&c) && nvalid < ARRAY_SIZE(valid)) {
                        valid[nvalid++] = c;
                    }
                }
            }
        }
    }
}

static void fuzz_config(void)
{
    static const int depths[8] = { 4, 8, 16, 32, 24, 0, 12, 40 };
    uint8_t b0 = take(1), b1 = take(1), b2 = take(1), b3 = take(1);
    uint8_t b4 = take(1);
    Error *err = NULL;
    bool ok;

    memset(&fz.cfg, 0, sizeof(fz.cfg));
    fz.cfg.kind = b0 % 4 == 3 ? VPMU_LBR_LEGACY : b0 % 4;
    fz.cfg.pmu_version = 2 + b3 % 4;
    if (!(b0 & 0x40)) {
        fz.cfg = valid[b1 % nvalid];
        fz.cfg.pmu_version = fz.cfg.kind == VPMU_LBR_ARCH ? 4 + b3 % 2
                                                          : 2 + b3 % 4;
    } else if (b0 & 0x80) {
        /* what -cpu's model would give */
        vpmu_lbr_config_for_model(&fz.cfg, b1 & 0x80 ? b1 & 0x1f : 6, b2);
        fz.op = "config_for_model";
        if (fz.cfg.kind == VPMU_LBR_ARCH) {
            fz.cfg.pmu_version = 4 + b3 % 2;
        }
        if (!oracle_config_ok(&fz.cfg)) {
            fail("config_for_model(%d, 0x%x) gave a bad configuration",
                 b1 & 0x80 ? b1 & 0x1f : 6, b2);
        }
    } else {
        fz.cfg.format = b1 & 0x80 ? 0x3f : b1 % 9;
        fz.cfg.depth = depths[b2 & 7];
        fz.cfg.quirks = b4 & 0x80 ? (b4 & 0xf) : 0;
        if ((b4 & 0x60) == 0x60) {
            fz.cfg.kind = 3 + (b4 & 0x10 ? -4 : 0);   /* not a kind */
        }
    }
    fz.op = "config";
    ok = vpmu_lbr_config_check(&fz.cfg, &err);
    if (ok != oracle_config_ok(&fz.cfg)) {
        fail("config_check %s it, the rules %s it%s%s",
             ok ? "takes" : "refuses", ok ? "refuse" : "take",
             err ? ": " : "", err ? error_get_pretty(err) : "");
    }
    if (!ok) {
        const char *m = error_get_pretty(err);

        if (strncmp(m, "vPMU: ", 6) ||
            (!strstr(m, "lbr-fmt") && !strstr(m, "lbr-depth") &&
             !strstr(m, "pmu-version") && !strstr(m, "quirks") &&
             !strstr(m, "kind"))) {
            fail("refusal names no property: %s", m);
        }
        error_free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nmsrs) {
        make_msr_list();
        make_valid_list();
    }
    memset(&fz, 0, sizeof(fz));
    fz.in = data;
    fz.len = size;
    fuzz_config();
    if (!oracle_config_ok(&fz.cfg)) {
        return 0;
    }
    fz.op = "init";
    vpmu_lbr_init(&fz.l, &fz.cfg);
    oracle_init();
    check_all();
    while (fz.len) {
        fuzz_op();
    }
    return 0;
}
