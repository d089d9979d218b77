/*
 * qemu-vpmu: libFuzzer harness for the LBR register model
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Drives hw/i386/vpmu/vpmu-lbr.c and checks it against an oracle written
 * from the rules (vpmu-lbr-oracle.h), not from the model's masks or its
 * ring.  The oracle keeps its own records, legacy ones by MSR index and
 * architectural ones as a list with the youngest first, and predicts
 * every read, every #GP, every filter decision, the statistics and what
 * vpmu_lbr_check_loaded() accepts.
 *
 * Input: 5 configuration bytes, then operations (see fuzz_op()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu-lbr.h"
#include "vpmu-lbr-oracle.h"

/* Everything is static: nothing is allocated per input or per op. */
static struct {
    VPMULbrState l;
    VPMULbrState tmp;           /* check_loaded()'s victim */
    VPMULbrConfig cfg;
    LbrOracle o;
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

static uint32_t msrs[256];
static unsigned nmsrs;

static void make_msr_list(void)
{
    unsigned b, i;

    for (b = 0; b < ARRAY_SIZE(lbr_msr_blocks); b++) {
        for (i = 0; i < lbr_msr_blocks[b].n; i++) {
            msrs[nmsrs++] = lbr_msr_blocks[b].base + i;
        }
    }
    /* and the neighbours, which are not LBR MSRs */
    for (b = 0; b < ARRAY_SIZE(lbr_msr_blocks); b++) {
        msrs[nmsrs++] = lbr_msr_blocks[b].base - 1;
        msrs[nmsrs++] = lbr_msr_blocks[b].base + lbr_msr_blocks[b].n;
    }
}

/* What RDMSR must give: false for #GP. */
static bool oracle_read(uint32_t msr, uint64_t *val)
{
    unsigned i;
    LbrReg r = lbr_oracle_classify(&fz.o, msr, &i);

    *val = lbr_oracle_read(&fz.o, r, i);
    return r != LBR_REG_NONE;
}

/* What WRMSR must do: false for #GP, else the oracle is updated. */
static bool oracle_write(uint32_t msr, uint64_t val)
{
    unsigned i;
    LbrReg r = lbr_oracle_classify(&fz.o, msr, &i);

    if (!lbr_oracle_write_ok(&fz.o, r, val)) {
        return false;
    }
    lbr_oracle_write(&fz.o, r, i, val);
    return true;
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
    if (fz.l.stats.recorded != fz.o.recorded ||
        fz.l.stats.filtered != fz.o.filtered ||
        fz.l.stats.popped != fz.o.popped) {
        fail("stats %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", oracle %" PRIu64
             "/%" PRIu64 "/%" PRIu64, fz.l.stats.recorded,
             fz.l.stats.filtered, fz.l.stats.popped, fz.o.recorded,
             fz.o.filtered, fz.o.popped);
    }
    if (vpmu_lbr_records_used(&fz.l) != lbr_oracle_used(&fz.o)) {
        fail("records_used %u, oracle %u", vpmu_lbr_records_used(&fz.l),
             lbr_oracle_used(&fz.o));
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
    unsigned i = (what >> 3) % LBR_NREC;
    int predict;                /* 1 ok, 0 refused, -1 not predicted */
    Error *err = NULL;
    bool ok;

    fz.tmp = fz.l;
    switch (what & 7) {
    case 0:
        fz.tmp.select = v;
        predict = fz.o.select_exists ? !(v & ~fz.o.select_bits) : !v;
        break;
    case 1:
        fz.tmp.tos = v;
        predict = legacy ? v < fz.o.depth : !v;
        break;
    case 2:
        fz.tmp.ctl = v;
        predict = arch ? !(v & ~0x7f000fULL) : !v;
        break;
    case 3:
        fz.tmp.depth = v;
        if (!arch) {
            predict = v == fz.o.depth;
        } else if (!lbr_oracle_depth_ok(&fz.o, v)) {
            predict = 0;
        } else {
            /* a smaller depth is refused only if top or records exceed */
            predict = v >= fz.o.depth ? 1 : -1;
        }
        break;
    case 4:
        fz.tmp.top = v;
        v = fz.tmp.top;
        predict = arch ? v < fz.o.depth : !v;
        break;
    case 5:
        fz.tmp.rec[i].from = v;
        predict = i < fz.o.depth || !v;
        break;
    case 6:
        fz.tmp.rec[i].to = v;
        predict = i < fz.o.depth || !v;
        break;
    default:
        fz.tmp.rec[i].info = v;
        predict = (i < fz.o.depth && (arch || fz.o.info)) || !v;
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
        for (i = 0; i < LBR_NREC; i++) {
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
    uint64_t from = lbr_pick_addr(take);

    fz.op = "record burst";
    fz.msr = cls;
    for (i = 0; i < n; i++) {
        bool want = lbr_oracle_record(&fz.o, from + i, from + 0x100 + i,
                                      cls, cpl);

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
        if (vpmu_lbr_msr_is_lbr(fz.msr) != lbr_oracle_is_lbr(fz.msr)) {
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
        from = lbr_pick_addr(take);
        to = lbr_pick_addr(take);
        fz.msr = cls;
        fz.val = from;
        want_ok = lbr_oracle_record(&fz.o, from, to, cls, cpl);
        ok = vpmu_lbr_record(&fz.l, from, to, cls, cpl);
        if (ok != want_ok) {
            fail("record(class %u, cpl %u) %s, oracle %s", cls, cpl,
                 ok ? "recorded" : "did not", want_ok ? "records" : "not");
        }
        /* A canonical branch decodes back whole, as Linux reads it. */
        if (ok && fz.cfg.kind == VPMU_LBR_LEGACY && canonical48(from) &&
            canonical48(to)) {
            uint64_t f = 0, t = 0;

            vpmu_lbr_msr_read(&fz.l, fz.o.from + fz.o.tos, &f, true);
            vpmu_lbr_msr_read(&fz.l, fz.o.to + fz.o.tos, &t, true);
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
        lbr_oracle_reset(&fz.o);
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

                    if (lbr_oracle_config_ok(&c) &&
                        nvalid < ARRAY_SIZE(valid)) {
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
        if (!lbr_oracle_config_ok(&fz.cfg)) {
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
    if (ok != lbr_oracle_config_ok(&fz.cfg)) {
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
    if (!lbr_oracle_config_ok(&fz.cfg)) {
        return 0;
    }
    fz.op = "init";
    vpmu_lbr_init(&fz.l, &fz.cfg);
    lbr_oracle_init(&fz.o, &fz.cfg);
    check_all();
    while (fz.len) {
        fuzz_op();
    }
    return 0;
}
