/*
 * qemu-vpmu: unit tests of the LBR register model (vpmu-lbr.c)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Table-driven, one table per rule of the SDM (vol. 3B, last branch
 * recording; vol. 4, the MSRs) or of what Linux guests and
 * kvm-unit-tests need.  Every expected value is written out in the
 * tables from the rule, never computed by the code under test.
 *
 * Builds inside QEMU (osdep.h brings GLib) or standalone against the
 * fuzz shims, for example:
 *   gcc -Itests/fuzz/shim -Iinclude -Ihw/i386/vpmu \
 *       $(pkg-config --cflags glib-2.0) tests/unit/test-vpmu-lbr.c \
 *       hw/i386/vpmu/vpmu-lbr.c $(pkg-config --libs glib-2.0)
 */

#include "qemu/osdep.h"
#include <glib.h>
#include "qapi/error.h"
#include "hw/i386/vpmu-lbr.h"

#define LEGACY VPMU_LBR_LEGACY
#define ARCH VPMU_LBR_ARCH
#define NONE VPMU_LBR_NONE
#define NOCS VPMU_LBR_QUIRK_NO_CALLSTACK
#define NOSEL VPMU_LBR_QUIRK_NO_SELECT
#define NHM VPMU_LBR_QUIRK_NHM_MSRS

/* Every IA32_LBR_CTL filter: enable, both rings, every class. */
#define CTL_ALL 0x7f0007ULL

/* A user and a kernel branch, canonical with 48-bit addresses. */
#define U_FROM 0x00007f0012345678ULL
#define U_TO   0x00007f00123456a0ULL
#define K_FROM 0xffffffff81234567ULL
#define K_TO   0xffffffff81234600ULL

static VPMULbrState lbr;

static void setup(int kind, int format, int depth, int quirks)
{
    VPMULbrConfig cfg = {
        .kind = kind, .format = format, .depth = depth,
        .pmu_version = 5, .quirks = quirks,
    };
    Error *err = NULL;

    if (!vpmu_lbr_config_check(&cfg, &err)) {
        g_error("config refused: %s", error_get_pretty(err));
    }
    vpmu_lbr_init(&lbr, &cfg);
}

static bool rd_ok(uint32_t msr, uint64_t *val)
{
    return vpmu_lbr_msr_read(&lbr, msr, val, false);
}

static uint64_t rd(uint32_t msr)
{
    uint64_t val = 0xdeadbeef;

    if (!rd_ok(msr, &val)) {
        g_error("RDMSR 0x%x #GP", msr);
    }
    return val;
}

static void wr(uint32_t msr, uint64_t val)
{
    if (!vpmu_lbr_msr_write(&lbr, msr, val, false)) {
        g_error("WRMSR 0x%x <- 0x%" PRIx64 " #GP", msr, val);
    }
}

static bool wr_ok(uint32_t msr, uint64_t val)
{
    return vpmu_lbr_msr_write(&lbr, msr, val, false);
}

/* Every MSR number an LBR register has in any configuration. */
static const struct {
    uint32_t base, n;
} lbr_blocks[] = {
    { 0x1c8, 2 }, { 0x40, 8 }, { 0x60, 8 }, { 0x680, 32 }, { 0x6c0, 32 },
    { 0xdc0, 32 }, { 0x14ce, 2 }, { 0x1200, 32 }, { 0x1500, 32 },
    { 0x1600, 32 },
};

/* SDM vol. 4: the LBR MSR blocks, and their neighbours that are not. */
static void test_is_lbr(void)
{
    static const struct {
        uint32_t msr;
        bool lbr;
    } rows[] = {
        { 0x3f, false }, { 0x40, true }, { 0x47, true }, { 0x48, false },
        { 0x5f, false }, { 0x60, true }, { 0x67, true }, { 0x68, false },
        { 0x1c7, false }, { 0x1c8, true }, { 0x1c9, true }, { 0x1ca, false },
        { 0x1d9, false }, { 0x67f, false }, { 0x680, true }, { 0x69f, true },
        { 0x6a0, false }, { 0x6bf, false }, { 0x6c0, true }, { 0x6df, true },
        { 0x6e0, false }, { 0xdbf, false }, { 0xdc0, true }, { 0xddf, true },
        { 0xde0, false }, { 0x11ff, false }, { 0x1200, true },
        { 0x121f, true }, { 0x1220, false }, { 0x14cd, false },
        { 0x14ce, true }, { 0x14cf, true }, { 0x14d0, false },
        { 0x14ff, false }, { 0x1500, true }, { 0x151f, true },
        { 0x1520, false }, { 0x15ff, false }, { 0x1600, true },
        { 0x161f, true }, { 0x1620, false }, { 0, false },
        { 0xffffffff, false },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        g_assert_cmpint(vpmu_lbr_msr_is_lbr(rows[i].msr), ==,
                        rows[i].lbr);
    }
}

/* Linux's intel_pmu_init() model switch (core.c) and lbr.c's inits. */
static void test_config_for_model(void)
{
    static const struct {
        int kind, family, model;
        int depth, format, quirks;
    } rows[] = {
        { LEGACY, 6, 0x0f, 4, 1, 0 },           /* Merom: _core */
        { LEGACY, 6, 0x17, 4, 1, 0 },           /* Penryn */
        { LEGACY, 6, 0x1d, 4, 1, 0 },           /* Dunnington */
        { LEGACY, 6, 0x1c, 8, 1, NOSEL },       /* Bonnell: _atom */
        { LEGACY, 6, 0x36, 8, 1, NOSEL },       /* Saltwell */
        { LEGACY, 6, 0x37, 8, 1, 0 },           /* Silvermont: _slm */
        { LEGACY, 6, 0x4c, 8, 1, 0 },           /* Airmont */
        { LEGACY, 6, 0x57, 8, 3, NHM },         /* KNL: _knl */
        { LEGACY, 6, 0x85, 8, 3, NHM },         /* KNM */
        { LEGACY, 6, 0x1a, 16, 3, NOCS },       /* Nehalem EP: _nhm */
        { LEGACY, 6, 0x2c, 16, 3, NOCS },       /* Westmere EP */
        { LEGACY, 6, 0x2a, 16, 3, NOCS },       /* Sandy Bridge: _snb */
        { LEGACY, 6, 0x3e, 16, 3, NOCS },       /* Ivy Bridge X */
        { LEGACY, 6, 0x3c, 16, 4, 0 },          /* Haswell: _hsw */
        { LEGACY, 6, 0x4f, 16, 4, 0 },          /* Broadwell X */
        { LEGACY, 6, 0x5c, 32, 6, 0 },          /* Goldmont: _skl */
        { LEGACY, 6, 0x7a, 32, 7, 0 },          /* Goldmont Plus */
        { LEGACY, 6, 0x86, 32, 7, 0 },          /* Tremont D */
        { LEGACY, 6, 0x55, 32, 5, 0 },          /* Skylake X */
        { LEGACY, 6, 0x9e, 32, 5, 0 },          /* Kaby Lake */
        { LEGACY, 6, 0x6a, 32, 5, 0 },          /* Ice Lake X */
        { LEGACY, 6, 0xa7, 32, 5, 0 },          /* Rocket Lake */
        { LEGACY, 6, 0x0e, 32, 5, 0 },          /* Yonah: no LBR in Linux */
        { LEGACY, 6, 0x8f, 32, 5, 0 },          /* Sapphire Rapids: arch */
        { LEGACY, 6, 0xff, 32, 5, 0 },          /* unknown */
        { LEGACY, 15, 0x04, 32, 5, 0 },         /* Netburst */
        { LEGACY, 0x13, 0x01, 32, 5, 0 },       /* not family 6 */
        { ARCH, 6, 0x17, 32, 0x3f, 0 },         /* arch whatever the model */
        { ARCH, 6, 0x8f, 32, 0x3f, 0 },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        VPMULbrConfig cfg = {
            .kind = rows[i].kind, .pmu_version = 4, .quirks = 0x55,
        };
        Error *err = NULL;

        vpmu_lbr_config_for_model(&cfg, rows[i].family, rows[i].model);
        g_assert_cmpint(cfg.kind, ==, rows[i].kind);
        g_assert_cmpint(cfg.pmu_version, ==, 4);
        g_assert_cmpint(cfg.depth, ==, rows[i].depth);
        g_assert_cmpint(cfg.format, ==, rows[i].format);
        g_assert_cmpint(cfg.quirks, ==, rows[i].quirks);
        /* What the table gives must be a configuration we take. */
        g_assert_true(vpmu_lbr_config_check(&cfg, &err));
    }
}

/*
 * lbr-depth without lbr-fmt: the depth's class in a format the check
 * takes, and no format for a depth no class has.
 */
static void test_default_format(void)
{
    static const struct {
        int depth, format;
    } rows[] = {
        { 4, VPMU_LBR_FMT_LIP }, { 8, VPMU_LBR_FMT_LIP },
        { 16, VPMU_LBR_FMT_EIP_FLAGS2 }, { 32, VPMU_LBR_FMT_INFO },
        { 0, -1 }, { 12, -1 }, { 24, -1 }, { 64, -1 },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        VPMULbrConfig cfg = {
            .kind = VPMU_LBR_LEGACY, .pmu_version = 2,
            .depth = rows[i].depth,
        };
        Error *err = NULL;

        cfg.format = vpmu_lbr_default_format(rows[i].depth);
        g_assert_cmpint(cfg.format, ==, rows[i].format);
        if (cfg.format >= 0) {
            g_assert_true(vpmu_lbr_config_check(&cfg, &err));
        }
    }
}

/* The legacy classes: which MSRs exist (SDM vol. 4 and Linux lbr.c). */
typedef struct LegacyClass {
    const char *name;
    int depth, format, quirks;
    uint32_t from, to, info;    /* info 0: no MSR_LBR_INFO_x */
    uint64_t select_valid;      /* 0: no MSR_LBR_SELECT, it #GPs */
} LegacyClass;

static const LegacyClass legacy_classes[] = {
    { "Core 2", 4, 1, 0, 0x40, 0x60, 0, 0 },
    { "Bonnell", 8, 1, NOSEL, 0x40, 0x60, 0, 0 },
    { "Silvermont", 8, 1, 0, 0x40, 0x60, 0, 0x1ff },
    { "Knights Landing", 8, 3, NHM, 0x680, 0x6c0, 0, 0x1ff },
    { "Nehalem", 16, 3, NOCS, 0x680, 0x6c0, 0, 0x1ff },
    { "Haswell", 16, 4, 0, 0x680, 0x6c0, 0, 0x3ff },
    { "16 deep, format 2", 16, 2, 0, 0x680, 0x6c0, 0, 0x3ff },
    { "Skylake", 32, 5, 0, 0x680, 0x6c0, 0xdc0, 0x3ff },
    { "Goldmont", 32, 6, 0, 0x680, 0x6c0, 0, 0x3ff },
    { "Goldmont Plus", 32, 7, 0, 0x680, 0x6c0, 0xdc0, 0x3ff },
    { "32 deep, format 3", 32, 3, 0, 0x680, 0x6c0, 0, 0x3ff },
};

static bool legacy_has(const LegacyClass *c, uint32_t msr)
{
    if (msr == 0x1c8) {
        return c->select_valid != 0;
    }
    return msr == 0x1c9 || msr - c->from < (uint32_t)c->depth ||
           msr - c->to < (uint32_t)c->depth ||
           (c->info && msr - c->info < (uint32_t)c->depth);
}

/*
 * Every LBR MSR number: present ones read and write, the others #GP,
 * and kvm-unit-tests' probe finds the base (0x40 vs 0x680) and the
 * depth (the first FROM that #GPs).
 */
static void test_legacy_msrs(void)
{
    unsigned c, b, i;

    for (c = 0; c < ARRAY_SIZE(legacy_classes); c++) {
        const LegacyClass *k = &legacy_classes[c];
        uint32_t base;
        uint64_t val;
        int depth;

        setup(LEGACY, k->format, k->depth, k->quirks);
        for (b = 0; b < ARRAY_SIZE(lbr_blocks); b++) {
            for (i = 0; i < lbr_blocks[b].n; i++) {
                uint32_t msr = lbr_blocks[b].base + i;
                bool has = legacy_has(k, msr);

                if (rd_ok(msr, &val) != has) {
                    g_error("%s: RDMSR 0x%x %s", k->name, msr,
                            has ? "#GP" : "did not #GP");
                }
                if (!has) {
                    g_assert_cmphex(val, ==, 0);
                    g_assert_false(wr_ok(msr, 0));
                    g_assert_false(vpmu_lbr_msr_write(&lbr, msr, 0, true));
                } else {
                    g_assert_cmphex(val, ==, 0);  /* reset value */
                }
            }
        }
        /* kvm-unit-tests x86/pmu_lbr.c */
        base = rd_ok(0x40, &val) ? 0x40 : rd_ok(0x680, &val) ? 0x680 : 0;
        g_assert_cmphex(base, ==, k->from);
        for (depth = 0; depth < 64 && rd_ok(base + depth, &val); depth++) {
            continue;
        }
        g_assert_cmpint(depth, ==, k->depth);
    }

    /* Kind NONE (lbr=off): every LBR MSR #GPs. */
    setup(NONE, 0, 0, 0);
    for (b = 0; b < ARRAY_SIZE(lbr_blocks); b++) {
        for (i = 0; i < lbr_blocks[b].n; i++) {
            uint64_t val;

            g_assert_false(rd_ok(lbr_blocks[b].base + i, &val));
            g_assert_false(wr_ok(lbr_blocks[b].base + i, 0));
        }
    }
    g_assert_false(vpmu_lbr_record(&lbr, U_FROM, U_TO, VPMU_BRANCH_JCC, 3));
}

/* Architectural LBR: CTL, DEPTH and 32 of each record MSR; no legacy. */
static void test_arch_msrs(void)
{
    static const int depths[] = { 8, 16, 24, 32 };
    unsigned d, b, i;

    for (d = 0; d < ARRAY_SIZE(depths); d++) {
        setup(ARCH, 0x3f, depths[d], 0);
        for (b = 0; b < ARRAY_SIZE(lbr_blocks); b++) {
            for (i = 0; i < lbr_blocks[b].n; i++) {
                uint32_t msr = lbr_blocks[b].base + i;
                bool has = msr >= 0x1200;
                uint64_t val;

                g_assert_cmpint(rd_ok(msr, &val), ==, has);
                if (!has) {
                    g_assert_false(wr_ok(msr, 0));
                }
            }
        }
        /* SDM: IA32_LBR_DEPTH resets to the largest depth [P]. */
        g_assert_cmpuint(rd(0x14cf), ==, depths[d]);
        g_assert_cmphex(rd(0x14ce), ==, 0);
    }
}

/*
 * Linux's check_msr() (core.c, under X86_FEATURE_HYPERVISOR): old ^ mask
 * must read back, TOS with 0x3 and FROM/TO with 0xffff; then any 64-bit
 * value reads back as written.
 */
static void test_readback(void)
{
    static const uint64_t vals[] = {
        0, 1, 0xffff, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
        0xffffffffffffffffULL, K_FROM, 0x1fffffff81234567ULL,
    };
    unsigned c, i, v;

    for (c = 0; c < ARRAY_SIZE(legacy_classes); c++) {
        const LegacyClass *k = &legacy_classes[c];
        uint64_t old;

        setup(LEGACY, k->format, k->depth, k->quirks);
        old = rd(0x1c9);
        wr(0x1c9, old ^ 0x3);
        g_assert_cmphex(rd(0x1c9), ==, old ^ 0x3);
        wr(0x1c9, old);
        for (i = 0; i < (unsigned)k->depth; i++) {
            uint32_t msrs[3] = { k->from + i, k->to + i, k->info + i };
            unsigned m, nm = k->info ? 3 : 2;

            for (m = 0; m < nm; m++) {
                old = rd(msrs[m]);
                wr(msrs[m], old ^ 0xffff);
                g_assert_cmphex(rd(msrs[m]), ==, old ^ 0xffff);
                wr(msrs[m], old);
                for (v = 0; v < ARRAY_SIZE(vals); v++) {
                    wr(msrs[m], vals[v]);
                    g_assert_cmphex(rd(msrs[m]), ==, vals[v]);
                }
            }
        }
    }
}

/* TOS writes keep val & (depth - 1) [P], never #GP. */
static void test_tos_write(void)
{
    static const struct {
        int depth, format, quirks;
        uint64_t val, reads;
    } rows[] = {
        { 4, 1, 0, 7, 3 },              /* KVM's selftest writes 7 */
        { 4, 1, 0, 2, 2 },
        { 8, 1, 0, 7, 7 },
        { 8, 1, 0, 0xff, 7 },
        { 16, 4, 0, 0x1f, 0xf },
        { 16, 4, 0, 0x10, 0 },
        { 32, 5, 0, 0xffffffffffffffffULL, 31 },
        { 32, 5, 0, 0x23, 3 },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        setup(LEGACY, rows[i].format, rows[i].depth, rows[i].quirks);
        wr(0x1c9, rows[i].val);
        g_assert_cmphex(rd(0x1c9), ==, rows[i].reads);
    }
}

/*
 * SDM 17.9: TOS is "incremented by 1, modulo N, before recording".  Six
 * branches into a 4-deep stack from TOS 0: TOS goes 1 2 3 0 1 2, and
 * slot s holds the last branch that landed there.
 */
static void test_tos_wrap(void)
{
    static const uint64_t tos_after[6] = { 1, 2, 3, 0, 1, 2 };
    /* slot -> branch number (1-based) after all six */
    static const unsigned slot_has[4] = { 4, 5, 6, 3 };
    unsigned i;

    setup(LEGACY, 1, 4, 0);
    for (i = 0; i < 6; i++) {
        g_assert_true(vpmu_lbr_record(&lbr, 0x1000 + i + 1, 0x2000 + i + 1,
                                      VPMU_BRANCH_JMP_REL, 0));
        g_assert_cmpuint(rd(0x1c9), ==, tos_after[i]);
    }
    for (i = 0; i < 4; i++) {
        g_assert_cmphex(rd(0x40 + i), ==, 0x1000 + slot_has[i]);
        g_assert_cmphex(rd(0x60 + i), ==, 0x2000 + slot_has[i]);
    }
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 4);
    g_assert_cmpuint(lbr.stats.recorded, ==, 6);

    /* 32 deep from TOS 31: wraps to slot 0 */
    setup(LEGACY, 5, 32, 0);
    wr(0x1c9, 31);
    g_assert_true(vpmu_lbr_record(&lbr, U_FROM, U_TO, VPMU_BRANCH_JCC, 3));
    g_assert_cmpuint(rd(0x1c9), ==, 0);
    g_assert_cmphex(rd(0x680), ==, U_FROM);
    g_assert_cmphex(rd(0x6c0), ==, U_TO);
    g_assert_cmphex(rd(0xdc0), ==, 0);
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 1);
}

/*
 * MSR_LBR_SELECT (SDM table "MSR_LBR_SELECT"): each of bits 8:0 suppresses
 * one class or ring; CPL is the one after the branch.
 */
static void test_select_filters(void)
{
    static const struct {
        uint64_t select;
        VPMUBranchClass cls;
        unsigned cpl;
        bool recorded;
    } rows[] = {
        { 0, VPMU_BRANCH_JCC, 0, true },
        { 0, VPMU_BRANCH_NONE, 0, false },     /* not a branch */
        { 0x001, VPMU_BRANCH_JCC, 0, false },  /* CPL_EQ_0 */
        { 0x001, VPMU_BRANCH_JCC, 3, true },
        { 0x001, VPMU_BRANCH_JCC, 1, true },
        { 0x002, VPMU_BRANCH_JCC, 3, false },  /* CPL_NEQ_0 */
        { 0x002, VPMU_BRANCH_JCC, 1, false },
        { 0x002, VPMU_BRANCH_JCC, 0, true },
        { 0x003, VPMU_BRANCH_FAR, 0, false },
        { 0x003, VPMU_BRANCH_FAR, 3, false },
        { 0x004, VPMU_BRANCH_JCC, 0, false },  /* JCC */
        { 0x004, VPMU_BRANCH_JMP_REL, 0, true },
        { 0x008, VPMU_BRANCH_CALL_REL, 0, false }, /* NEAR_REL_CALL */
        { 0x008, VPMU_BRANCH_CALL_IND, 0, true },
        { 0x010, VPMU_BRANCH_CALL_IND, 0, false }, /* NEAR_IND_CALL */
        { 0x010, VPMU_BRANCH_CALL_REL, 0, true },
        { 0x020, VPMU_BRANCH_RET, 3, false },  /* NEAR_RET */
        { 0x020, VPMU_BRANCH_FAR, 3, true },
        { 0x040, VPMU_BRANCH_JMP_IND, 3, false }, /* NEAR_IND_JMP */
        { 0x040, VPMU_BRANCH_JMP_REL, 3, true },
        { 0x080, VPMU_BRANCH_JMP_REL, 3, false }, /* NEAR_REL_JMP */
        { 0x080, VPMU_BRANCH_JMP_IND, 3, true },
        { 0x100, VPMU_BRANCH_FAR, 0, false },  /* FAR_BRANCH */
        { 0x100, VPMU_BRANCH_RET, 0, true },
        { 0x1fc, VPMU_BRANCH_JCC, 0, false },  /* every class */
        { 0x1fc, VPMU_BRANCH_RET, 3, false },
        { 0x1fc, VPMU_BRANCH_FAR, 3, false },
        { 0x0fc, VPMU_BRANCH_FAR, 3, true },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        uint64_t tos = rows[i].recorded;
        uint64_t from = rows[i].recorded ? U_FROM : 0;

        setup(LEGACY, 5, 32, 0);
        wr(0x1c8, rows[i].select);
        g_assert_cmpint(vpmu_lbr_record(&lbr, U_FROM, U_TO, rows[i].cls,
                                        rows[i].cpl), ==,
                        rows[i].recorded);
        g_assert_cmpuint(rd(0x1c9), ==, tos);
        g_assert_cmphex(rd(0x681), ==, from);
        g_assert_cmpuint(lbr.stats.recorded, ==, rows[i].recorded);
        g_assert_cmpuint(lbr.stats.filtered, ==,
                         !rows[i].recorded &&
                         rows[i].cls != VPMU_BRANCH_NONE);
    }
}

/* Writable MSR_LBR_SELECT bits by class; others #GP [P]. */
static void test_select_reserved(void)
{
    static const struct {
        int depth, format, quirks;
        uint64_t val;
        bool ok;
    } rows[] = {
        { 4, 1, 0, 0, false },              /* Core 2: no LBR_SELECT */
        { 8, 1, NOSEL, 0, false },          /* Bonnell */
        { 8, 1, 0, 0x1ff, true },           /* Silvermont: 8:0 */
        { 8, 1, 0, 0x200, false },
        { 8, 3, NHM, 0x1ff, true },
        { 8, 3, NHM, 0x200, false },
        { 16, 3, NOCS, 0x1ff, true },       /* Nehalem: 8:0 */
        { 16, 3, NOCS, 0x200, false },
        { 16, 4, 0, 0x3ff, true },          /* Haswell: 9:0 */
        { 16, 4, 0, 0x400, false },
        { 32, 5, 0, 0x3ff, true },          /* Skylake: 9:0 */
        { 32, 5, 0, 0x400, false },
        { 32, 5, 0, 1ULL << 63, false },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        uint64_t val;

        setup(LEGACY, rows[i].format, rows[i].depth, rows[i].quirks);
        g_assert_cmpint(wr_ok(0x1c8, rows[i].val), ==, rows[i].ok);
        if (rows[i].ok) {
            g_assert_cmphex(rd(0x1c8), ==, rows[i].val);
        } else if (rd_ok(0x1c8, &val)) {
            g_assert_cmphex(val, ==, 0);    /* the #GP wrote nothing */
        }
    }
}

/*
 * Call-stack mode (SDM 17.9, LBR_SELECT bit 9 on Haswell and later):
 * calls push, a near RET pops the youngest (it reads 0 afterwards, TOS
 * goes back) and records nothing.  Steps on a 16-deep Haswell-class
 * stack with JCC, the jumps and far branches suppressed, as Linux's
 * hsw_lbr_sel_map does (select 0x3c4 after its suppress-mode xor).
 */
static void test_callstack_legacy(void)
{
    static const struct {
        VPMUBranchClass cls;
        uint64_t from;
        bool recorded;
        uint64_t tos;
        uint64_t slot_from[4];      /* slots 0..3 after the step */
    } steps[] = {
        { VPMU_BRANCH_CALL_REL, 0x1001, true, 1, { 0, 0x1001, 0, 0 } },
        { VPMU_BRANCH_CALL_IND, 0x1002, true, 2, { 0, 0x1001, 0x1002, 0 } },
        { VPMU_BRANCH_JCC, 0x1003, false, 2, { 0, 0x1001, 0x1002, 0 } },
        { VPMU_BRANCH_CALL_REL, 0x1004, true, 3,
          { 0, 0x1001, 0x1002, 0x1004 } },
        { VPMU_BRANCH_RET, 0x1005, false, 2, { 0, 0x1001, 0x1002, 0 } },
        { VPMU_BRANCH_RET, 0x1006, false, 1, { 0, 0x1001, 0, 0 } },
        { VPMU_BRANCH_CALL_REL, 0x1007, true, 2, { 0, 0x1001, 0x1007, 0 } },
        { VPMU_BRANCH_RET, 0x1008, false, 1, { 0, 0x1001, 0, 0 } },
        { VPMU_BRANCH_RET, 0x1009, false, 0, { 0, 0, 0, 0 } },
        /* an unbalanced RET: TOS wraps back to 15, nothing to clear */
        { VPMU_BRANCH_RET, 0x100a, false, 15, { 0, 0, 0, 0 } },
        { VPMU_BRANCH_CALL_REL, 0x100b, true, 0, { 0x100b, 0, 0, 0 } },
    };
    unsigned i, s;

    setup(LEGACY, 4, 16, 0);
    wr(0x1c8, 0x3c4);
    for (i = 0; i < ARRAY_SIZE(steps); i++) {
        g_assert_cmpint(vpmu_lbr_record(&lbr, steps[i].from, 0x2000,
                                        steps[i].cls, 3), ==,
                        steps[i].recorded);
        g_assert_cmpuint(rd(0x1c9), ==, steps[i].tos);
        for (s = 0; s < 4; s++) {
            g_assert_cmphex(rd(0x680 + s), ==, steps[i].slot_from[s]);
        }
    }
    g_assert_cmpuint(lbr.stats.popped, ==, 5);
    g_assert_cmpuint(lbr.stats.recorded, ==, 5);
    g_assert_cmpuint(lbr.stats.filtered, ==, 1);

    /*
     * JCC not suppressed in call-stack mode (the SDM says it must be):
     * it pushes like a call and the RET pops it [P].
     */
    setup(LEGACY, 5, 32, 0);
    wr(0x1c8, 0x200);
    g_assert_true(vpmu_lbr_record(&lbr, 0x1001, 0x2000,
                                  VPMU_BRANCH_CALL_REL, 0));
    g_assert_true(vpmu_lbr_record(&lbr, 0x1002, 0x2000, VPMU_BRANCH_JCC, 0));
    g_assert_false(vpmu_lbr_record(&lbr, 0x1003, 0x2000, VPMU_BRANCH_RET,
                                   0));
    g_assert_cmpuint(rd(0x1c9), ==, 1);
    g_assert_cmphex(rd(0x682), ==, 0);
    g_assert_cmphex(rd(0x681), ==, 0x1001);

    /* A suppressed RET does not pop. */
    wr(0x1c8, 0x220);
    g_assert_false(vpmu_lbr_record(&lbr, 0x1004, 0x2000, VPMU_BRANCH_RET,
                                   0));
    g_assert_cmpuint(rd(0x1c9), ==, 1);
    g_assert_cmphex(rd(0x681), ==, 0x1001);

    /* Without bit 9 a RET is an ordinary record. */
    setup(LEGACY, 5, 32, 0);
    g_assert_true(vpmu_lbr_record(&lbr, 0x1001, 0x2000,
                                  VPMU_BRANCH_CALL_REL, 0));
    g_assert_true(vpmu_lbr_record(&lbr, 0x1002, 0x2000, VPMU_BRANCH_RET, 0));
    g_assert_cmpuint(rd(0x1c9), ==, 2);
    g_assert_cmphex(rd(0x682), ==, 0x1002);
}

/* Linux's intel_pmu_lbr_read_64(): drop the flag bits, sign-extend. */
static void linux_decode(int format, uint64_t *from, uint64_t *to)
{
    int skip = format == 3 || format == 6 ? 1 : format == 4 ? 3 : 0;

    *from = (uint64_t)((int64_t)(*from << skip) >> skip);
    if (format == 6) {
        *to = (uint64_t)((int64_t)(*to << 16) >> 16);
    }
}

/*
 * What the MSRs read for one user and one kernel branch in each format
 * (SDM vol. 4 LASTBRANCH_x_FROM_IP/TO_IP by format): MISPRED, TSX flags
 * and cycles 0, the address in the remaining bits.
 */
static void test_formats(void)
{
    static const struct {
        int format, depth;
        uint64_t from, to;          /* recorded */
        uint64_t rfrom, rto;        /* read back */
    } rows[] = {
        { 1, 32, U_FROM, U_TO, U_FROM, U_TO },
        { 1, 32, K_FROM, K_TO, K_FROM, K_TO },
        { 2, 32, K_FROM, K_TO, K_FROM, K_TO },
        { 3, 16, U_FROM, U_TO, U_FROM, U_TO },
        { 3, 16, K_FROM, K_TO, 0x7fffffff81234567ULL, K_TO },
        { 4, 16, U_FROM, U_TO, U_FROM, U_TO },
        { 4, 16, K_FROM, K_TO, 0x1fffffff81234567ULL, K_TO },
        { 5, 32, K_FROM, K_TO, K_FROM, K_TO },
        { 6, 32, U_FROM, U_TO, U_FROM, U_TO },
        { 6, 32, K_FROM, K_TO, 0x7fffffff81234567ULL,
          0x0000ffff81234600ULL },
        { 7, 32, K_FROM, K_TO, K_FROM, K_TO },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        bool info = rows[i].format == 5 || rows[i].format == 7;
        uint64_t from, to, val;

        setup(LEGACY, rows[i].format, rows[i].depth, 0);
        g_assert_true(vpmu_lbr_record(&lbr, rows[i].from, rows[i].to,
                                      VPMU_BRANCH_CALL_IND, 0));
        from = rd(0x681);
        to = rd(0x6c1);
        g_assert_cmphex(from, ==, rows[i].rfrom);
        g_assert_cmphex(to, ==, rows[i].rto);
        g_assert_cmpint(rd_ok(0xdc1, &val), ==, info);
        g_assert_cmphex(val, ==, 0);    /* INFO: MISPRED 0, cycles 0 */
        linux_decode(rows[i].format, &from, &to);
        g_assert_cmphex(from, ==, rows[i].from);
        g_assert_cmphex(to, ==, rows[i].to);
    }
}

/* IA32_LBR_CTL: bits 3:0 and 22:16 are defined, the rest #GP [P]. */
static void test_arch_ctl(void)
{
    unsigned bit;

    setup(ARCH, 0x3f, 32, 0);
    for (bit = 0; bit < 64; bit++) {
        bool valid = bit <= 3 || (bit >= 16 && bit <= 22);

        wr(0x14ce, 0);
        g_assert_cmpint(wr_ok(0x14ce, 1ULL << bit), ==, valid);
        g_assert_cmphex(rd(0x14ce), ==, valid ? 1ULL << bit : 0);
    }
    wr(0x14ce, 0x7f000f);
    g_assert_cmphex(rd(0x14ce), ==, 0x7f000f);
    g_assert_false(wr_ok(0x14ce, 0x7f001f));
    g_assert_cmphex(rd(0x14ce), ==, 0x7f000f);
}

/*
 * IA32_LBR_DEPTH: only the depths CPUID.1CH:EAX lists (multiples of 8 up
 * to the maximum); any write zeroes every record.
 */
static void test_arch_depth(void)
{
    static const struct {
        int max;
        uint64_t val;
        bool ok;
    } rows[] = {
        { 32, 0, false }, { 32, 4, false }, { 32, 7, false },
        { 32, 8, true }, { 32, 12, false }, { 32, 16, true },
        { 32, 24, true }, { 32, 31, false }, { 32, 32, true },
        { 32, 40, false }, { 32, 64, false }, { 32, 0x100000008ULL, false },
        { 32, 0xffffffffffffffffULL, false },
        { 16, 8, true }, { 16, 16, true }, { 16, 24, false },
        { 16, 32, false }, { 8, 8, true }, { 8, 16, false },
        { 24, 24, true }, { 24, 32, false },
    };
    unsigned i, j;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        /* zeroed after a write, untouched after a #GP */
        uint64_t depth = rows[i].ok ? rows[i].val : rows[i].max;
        uint64_t from0 = rows[i].ok ? 0 : 0x1004;
        uint64_t to4 = rows[i].ok ? 0 : 0x2000;
        unsigned used = rows[i].ok ? 0 : 5;

        setup(ARCH, 0x3f, rows[i].max, 0);
        wr(0x14ce, CTL_ALL);
        for (j = 0; j < 5; j++) {
            g_assert_true(vpmu_lbr_record(&lbr, 0x1000 + j, 0x2000 + j,
                                          VPMU_BRANCH_JCC, 0));
        }
        g_assert_cmpint(wr_ok(0x14cf, rows[i].val), ==, rows[i].ok);
        g_assert_cmpuint(rd(0x14cf), ==, depth);
        g_assert_cmphex(rd(0x1500), ==, from0);
        g_assert_cmphex(rd(0x1604), ==, to4);
        g_assert_cmphex(rd(0x1200), ==, 0);     /* JCC: BR_TYPE 0 */
        g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, used);
    }
    /* Writing the current depth zeroes the records too. */
    setup(ARCH, 0x3f, 32, 0);
    wr(0x14ce, CTL_ALL);
    g_assert_true(vpmu_lbr_record(&lbr, U_FROM, U_TO, VPMU_BRANCH_RET, 3));
    wr(0x1500, 0x1234);
    wr(0x14cf, 32);
    g_assert_cmphex(rd(0x1500), ==, 0);
    g_assert_cmphex(rd(0x1600), ==, 0);
    g_assert_cmphex(rd(0x1200), ==, 0);
}

/*
 * Architectural ordering: entry 0 is the youngest; entries from the
 * current depth to 31 read 0 and drop writes [P]; 32 and on are not LBR
 * MSRs.  Ten branches into an 8-deep stack keep the last eight.
 */
static void test_arch_order(void)
{
    uint64_t val;
    unsigned i;

    setup(ARCH, 0x3f, 32, 0);
    wr(0x14cf, 8);
    wr(0x14ce, CTL_ALL);
    for (i = 1; i <= 10; i++) {
        g_assert_true(vpmu_lbr_record(&lbr, 0x1000 + i, 0x2000 + i,
                                      VPMU_BRANCH_JMP_REL, 0));
    }
    for (i = 0; i < 8; i++) {
        g_assert_cmphex(rd(0x1500 + i), ==, 0x1000 + 10 - i);
        g_assert_cmphex(rd(0x1600 + i), ==, 0x2000 + 10 - i);
        g_assert_cmphex(rd(0x1200 + i), ==, 2ULL << 56);
    }
    for (i = 8; i < 32; i++) {
        g_assert_cmphex(rd(0x1500 + i), ==, 0);
        wr(0x1500 + i, 0x5555);
        wr(0x1600 + i, 0x5555);
        wr(0x1200 + i, 0x5555);
        g_assert_cmphex(rd(0x1500 + i), ==, 0);
        g_assert_cmphex(rd(0x1600 + i), ==, 0);
        g_assert_cmphex(rd(0x1200 + i), ==, 0);
    }
    g_assert_false(rd_ok(0x1520, &val));
    g_assert_false(rd_ok(0x1620, &val));
    g_assert_false(rd_ok(0x1220, &val));
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 8);

    /* A write lands on that entry, and the next branch ages it by one. */
    wr(0x1502, 0xabcd);
    g_assert_cmphex(rd(0x1502), ==, 0xabcd);
    g_assert_true(vpmu_lbr_record(&lbr, 0x1011, 0x2011, VPMU_BRANCH_JCC, 0));
    g_assert_cmphex(rd(0x1500), ==, 0x1011);
    g_assert_cmphex(rd(0x1503), ==, 0xabcd);
    g_assert_cmphex(rd(0x1507), ==, 0x1004);

    /* records_used stops at the first FROM == 0 (intel_pmu_store_lbr) */
    wr(0x1503, 0);
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 3);
}

/*
 * IA32_LBR_CTL enables each class (bits 22:16) and ring (OS, USR);
 * IA32_LBR_x_INFO.BR_TYPE names the class (0-5, OTHER_BRANCH 1xxxB).
 */
static void test_arch_filters(void)
{
    static const struct {
        VPMUBranchClass cls;
        uint64_t enable;
        uint64_t info;
    } classes[] = {
        { VPMU_BRANCH_JCC, 1ULL << 16, 0ULL << 56 },
        { VPMU_BRANCH_JMP_REL, 1ULL << 17, 2ULL << 56 },
        { VPMU_BRANCH_JMP_IND, 1ULL << 18, 1ULL << 56 },
        { VPMU_BRANCH_CALL_REL, 1ULL << 19, 4ULL << 56 },
        { VPMU_BRANCH_CALL_IND, 1ULL << 20, 3ULL << 56 },
        { VPMU_BRANCH_RET, 1ULL << 21, 5ULL << 56 },
        { VPMU_BRANCH_FAR, 1ULL << 22, 8ULL << 56 },
    };
    static const struct {
        uint64_t rings;
        unsigned cpl;
        bool recorded;
    } rings[] = {
        { 0x2, 0, true }, { 0x2, 3, false }, { 0x2, 1, false },
        { 0x4, 0, false }, { 0x4, 3, true }, { 0x4, 2, true },
        { 0x6, 0, true }, { 0x6, 3, true }, { 0x0, 0, false },
        { 0x0, 3, false },
    };
    unsigned c, e, r;

    for (c = 0; c < ARRAY_SIZE(classes); c++) {
        for (e = 0; e < ARRAY_SIZE(classes); e++) {
            bool want = c == e;

            setup(ARCH, 0x3f, 32, 0);
            wr(0x14ce, 0x7 | classes[e].enable);
            g_assert_cmpint(vpmu_lbr_record(&lbr, K_FROM, U_TO,
                                            classes[c].cls, 3), ==, want);
            g_assert_cmphex(rd(0x1500), ==, want ? K_FROM : 0);
            g_assert_cmphex(rd(0x1600), ==, want ? U_TO : 0);
            g_assert_cmphex(rd(0x1200), ==, want ? classes[c].info : 0);
            g_assert_cmpuint(lbr.stats.filtered, ==, !want);
        }
        for (r = 0; r < ARRAY_SIZE(rings); r++) {
            setup(ARCH, 0x3f, 32, 0);
            wr(0x14ce, 0x1 | rings[r].rings | 0x7f0000);
            g_assert_cmpint(vpmu_lbr_record(&lbr, K_FROM, U_TO,
                                            classes[c].cls, rings[r].cpl),
                            ==, rings[r].recorded);
        }
    }
    /* VPMU_BRANCH_NONE never records */
    setup(ARCH, 0x3f, 32, 0);
    wr(0x14ce, CTL_ALL);
    g_assert_false(vpmu_lbr_record(&lbr, K_FROM, U_TO, VPMU_BRANCH_NONE, 0));
    g_assert_cmpuint(lbr.stats.filtered, ==, 0);
}

/* Arch call stack (LBR_CTL bit 3): a RET pops entry 0. */
static void test_arch_callstack(void)
{
    setup(ARCH, 0x3f, 32, 0);
    wr(0x14cf, 8);
    wr(0x14ce, CTL_ALL | 0x8);
    g_assert_true(vpmu_lbr_record(&lbr, 0x1001, 0x2001,
                                  VPMU_BRANCH_CALL_REL, 0));
    g_assert_true(vpmu_lbr_record(&lbr, 0x1002, 0x2002,
                                  VPMU_BRANCH_CALL_IND, 0));
    g_assert_false(vpmu_lbr_record(&lbr, 0x1003, 0x2003, VPMU_BRANCH_RET,
                                   0));
    g_assert_cmphex(rd(0x1500), ==, 0x1001);
    g_assert_cmphex(rd(0x1200), ==, 4ULL << 56);
    g_assert_cmphex(rd(0x1501), ==, 0);
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 1);
    g_assert_true(vpmu_lbr_record(&lbr, 0x1004, 0x2004,
                                  VPMU_BRANCH_CALL_REL, 0));
    g_assert_cmphex(rd(0x1500), ==, 0x1004);
    g_assert_cmphex(rd(0x1501), ==, 0x1001);
    g_assert_false(vpmu_lbr_record(&lbr, 0x1005, 0x2005, VPMU_BRANCH_RET,
                                   0));
    g_assert_false(vpmu_lbr_record(&lbr, 0x1006, 0x2006, VPMU_BRANCH_RET,
                                   0));
    g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, 0);
    g_assert_cmpuint(lbr.stats.popped, ==, 3);
    g_assert_cmpuint(lbr.stats.recorded, ==, 3);
}

/* CPUID leaf 0x1C (SDM vol. 2 CPUID; Linux's union cpuid28_*). */
static void test_cpuid(void)
{
    static const struct {
        int kind, format, depth;
        uint32_t eax, ebx, ecx, edx;
    } rows[] = {
        { ARCH, 0x3f, 32, 0xf, 0x7, 0x4, 0 },
        { ARCH, 0x3f, 24, 0x7, 0x7, 0x4, 0 },
        { ARCH, 0x3f, 16, 0x3, 0x7, 0x4, 0 },
        { ARCH, 0x3f, 8, 0x1, 0x7, 0x4, 0 },
        { LEGACY, 5, 32, 0, 0, 0, 0 },
        { LEGACY, 1, 4, 0, 0, 0, 0 },
        { NONE, 0, 0, 0, 0, 0, 0 },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        VPMULbrConfig cfg = {
            .kind = rows[i].kind, .format = rows[i].format,
            .depth = rows[i].depth, .pmu_version = 4,
        };
        uint32_t a = 1, b = 1, c = 1, d = 1;

        vpmu_lbr_cpuid_0x1c(&cfg, &a, &b, &c, &d);
        g_assert_cmphex(a, ==, rows[i].eax);
        g_assert_cmphex(b, ==, rows[i].ebx);
        g_assert_cmphex(c, ==, rows[i].ecx);
        g_assert_cmphex(d, ==, rows[i].edx);
    }
}

/* Refused configurations name the property and say what works. */
static void test_config_check(void)
{
    static const struct {
        int kind, format, depth, version, quirks;
        const char *error;      /* NULL: accepted */
        const char *also;
    } rows[] = {
        { NONE, 0, 0, 0, 0, NULL },
        { NONE, 99, -3, 0, 0x55, NULL },    /* lbr=off: nothing checked */
        { LEGACY, 5, 32, 2, 0, NULL },
        { LEGACY, 1, 4, 2, 0, NULL },
        { LEGACY, 6, 8, 2, 0, NULL },
        { LEGACY, 4, 16, 2, 0, NULL },
        { LEGACY, 0, 32, 2, 0, "lbr-fmt=0", "lbr-fmt=1..7" },
        { LEGACY, 8, 32, 2, 0, "lbr-fmt=8", "lbr-fmt=1..7" },
        { LEGACY, -1, 32, 2, 0, "lbr-fmt=-1", "lbr-fmt=1..7" },
        { LEGACY, 0x3f, 32, 4, 0, "lbr-fmt=0x3f", "arch-lbr=on" },
        { LEGACY, 5, 12, 2, 0, "lbr-depth=12", "4, 8, 16 or 32" },
        { LEGACY, 1, 0, 2, 0, "lbr-depth=0", "4, 8, 16 or 32" },
        { LEGACY, 1, 64, 2, 0, "lbr-depth=64", "4, 8, 16 or 32" },
        { LEGACY, 5, 16, 2, 0, "lbr-fmt=5", "lbr-depth=32" },
        { LEGACY, 7, 8, 2, 0, "lbr-fmt=7", "lbr-depth=32" },
        { LEGACY, 3, 16, 2, NOCS, NULL },
        { LEGACY, 3, 32, 2, NOCS, "lbr-depth=32", "16 records" },
        { LEGACY, 1, 8, 2, NOSEL, NULL },
        { LEGACY, 1, 16, 2, NOSEL, "lbr-depth=16", "8 records" },
        { LEGACY, 3, 8, 2, NHM, NULL },
        { LEGACY, 3, 4, 2, NHM, "lbr-depth=4", "8 records" },
        { LEGACY, 3, 8, 2, NHM | NOSEL, "quirks", NULL },
        { LEGACY, 3, 8, 2, 0x8, "quirks", NULL },
        { ARCH, 0x3f, 32, 4, 0, NULL },
        { ARCH, 0x3f, 8, 5, 0, NULL },
        { ARCH, 0x3f, 24, 4, 0, NULL },
        { ARCH, 5, 32, 4, 0, "lbr-fmt=0x3f", "lbr-fmt=5" },
        { ARCH, 0x3f, 12, 4, 0, "lbr-depth=12", "8, 16, 24 or 32" },
        { ARCH, 0x3f, 0, 4, 0, "lbr-depth=0", "8, 16, 24 or 32" },
        { ARCH, 0x3f, 40, 4, 0, "lbr-depth=40", "8, 16, 24 or 32" },
        { ARCH, 0x3f, 32, 3, 0, "pmu-version=4 or later",
          "pmu-version=3" },
        { ARCH, 0x3f, 32, 2, 0, "arch-lbr", "pmu-version=2" },
        { ARCH, 0x3f, 8, 4, NHM, "quirks", NULL },
        { 3, 5, 32, 4, 0, "kind 3", NULL },
        { -1, 5, 32, 4, 0, "kind -1", NULL },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        VPMULbrConfig cfg = {
            .kind = rows[i].kind, .format = rows[i].format,
            .depth = rows[i].depth, .pmu_version = rows[i].version,
            .quirks = rows[i].quirks,
        };
        const char *also = rows[i].also ? rows[i].also : "";
        Error *err = NULL;
        bool ok = vpmu_lbr_config_check(&cfg, &err);

        if (!rows[i].error) {
            if (!ok) {
                g_error("case %u refused: %s", i, error_get_pretty(err));
            }
            g_assert_null(err);
            continue;
        }
        g_assert_false(ok);
        g_assert_nonnull(err);
        if (!strstr(error_get_pretty(err), rows[i].error) ||
            !strstr(error_get_pretty(err), also)) {
            g_error("case %u: \"%s\" lacks \"%s\"/\"%s\"", i,
                    error_get_pretty(err), rows[i].error, also);
        }
        g_assert_true(g_str_has_prefix(error_get_pretty(err), "vPMU: "));
        error_free(err);
    }
}

/* check_loaded: one bad field each, named; the state is then reset. */
static void load_select_rsvd(VPMULbrState *l)
{
    l->select = 0x400;
}

static void load_select_absent(VPMULbrState *l)
{
    l->select = 0x1;
}

static void load_tos_beyond(VPMULbrState *l)
{
    l->tos = l->cfg.depth;
}

static void load_tos_arch(VPMULbrState *l)
{
    l->tos = 1;
}

static void load_ctl_legacy(VPMULbrState *l)
{
    l->ctl = 1;
}

static void load_ctl_rsvd(VPMULbrState *l)
{
    l->ctl = 0x10;
}

static void load_depth_bad(VPMULbrState *l)
{
    l->depth = 12;
}

static void load_depth_big(VPMULbrState *l)
{
    l->depth = 40;
}

static void load_top_beyond(VPMULbrState *l)
{
    l->top = l->depth;
}

static void load_rec_beyond(VPMULbrState *l)
{
    l->rec[VPMU_LBR_MAX_DEPTH - 1].to = 1;
}

static void load_info_absent(VPMULbrState *l)
{
    l->rec[0].info = 1;
}

static void load_nothing(VPMULbrState *l)
{
}

static void test_check_loaded(void)
{
    static const struct {
        int kind, format, depth, quirks;
        void (*corrupt)(VPMULbrState *l);
        const char *error;      /* NULL: accepted */
    } rows[] = {
        { LEGACY, 4, 16, 0, load_nothing, NULL },
        { ARCH, 0x3f, 32, 0, load_nothing, NULL },
        { NONE, 0, 0, 0, load_nothing, NULL },
        { LEGACY, 4, 16, 0, load_select_rsvd, "MSR_LBR_SELECT" },
        { LEGACY, 3, 16, NOCS, load_select_rsvd, "MSR_LBR_SELECT" },
        { LEGACY, 1, 4, 0, load_select_absent, "MSR_LBR_SELECT" },
        { ARCH, 0x3f, 32, 0, load_select_absent, "MSR_LBR_SELECT" },
        { LEGACY, 5, 32, 0, load_tos_beyond, "MSR_LASTBRANCH_TOS" },
        { LEGACY, 1, 4, 0, load_tos_beyond, "MSR_LASTBRANCH_TOS" },
        { ARCH, 0x3f, 32, 0, load_tos_arch, "MSR_LASTBRANCH_TOS" },
        { LEGACY, 5, 32, 0, load_ctl_legacy, "IA32_LBR_CTL" },
        { ARCH, 0x3f, 32, 0, load_ctl_rsvd, "IA32_LBR_CTL" },
        { ARCH, 0x3f, 32, 0, load_depth_bad, "IA32_LBR_DEPTH" },
        { ARCH, 0x3f, 32, 0, load_depth_big, "IA32_LBR_DEPTH" },
        { LEGACY, 5, 32, 0, load_depth_bad, "IA32_LBR_DEPTH" },
        { NONE, 0, 0, 0, load_depth_bad, "IA32_LBR_DEPTH" },
        { ARCH, 0x3f, 16, 0, load_top_beyond, "top of stack" },
        { LEGACY, 5, 32, 0, load_top_beyond, "top of stack" },
        { LEGACY, 4, 16, 0, load_rec_beyond, "record 31" },
        { ARCH, 0x3f, 24, 0, load_rec_beyond, "record 31" },
        { NONE, 0, 0, 0, load_rec_beyond, "record 31" },
        { LEGACY, 4, 16, 0, load_info_absent, "INFO" },
    };
    unsigned i, j;

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        Error *err = NULL;
        bool ok;

        setup(rows[i].kind, rows[i].format, rows[i].depth,
              rows[i].quirks);
        /* some state that is valid, so that the reset shows */
        if (rows[i].kind == ARCH) {
            wr(0x14ce, CTL_ALL);
        }
        for (j = 0; j < 3; j++) {
            vpmu_lbr_record(&lbr, 0x1000 + j, 0x2000, VPMU_BRANCH_JCC, 0);
        }
        rows[i].corrupt(&lbr);
        ok = vpmu_lbr_check_loaded(&lbr, &err);
        if (!rows[i].error) {
            unsigned used = rows[i].kind == NONE ? 0 : 3;

            g_assert_true(ok);
            g_assert_cmpuint(vpmu_lbr_records_used(&lbr), ==, used);
            continue;
        }
        g_assert_false(ok);
        if (!strstr(error_get_pretty(err), rows[i].error)) {
            g_error("case %u: \"%s\" lacks \"%s\"", i,
                    error_get_pretty(err), rows[i].error);
        }
        error_free(err);
        /* reset: registers 0, full depth, no records */
        g_assert_cmphex(lbr.select, ==, 0);
        g_assert_cmphex(lbr.tos, ==, 0);
        g_assert_cmphex(lbr.ctl, ==, 0);
        g_assert_cmpuint(lbr.depth, ==, rows[i].depth);
        g_assert_cmpuint(lbr.top, ==, 0);
        for (j = 0; j < VPMU_LBR_MAX_DEPTH; j++) {
            g_assert_cmphex(lbr.rec[j].from | lbr.rec[j].to |
                            lbr.rec[j].info, ==, 0);
        }
    }
}

/* vpmu_lbr_reset(): SDM power-up values, full depth; stats are kept. */
static void test_reset(void)
{
    setup(ARCH, 0x3f, 32, 0);
    wr(0x14ce, CTL_ALL);
    wr(0x14cf, 16);
    g_assert_true(vpmu_lbr_record(&lbr, U_FROM, U_TO, VPMU_BRANCH_JCC, 3));
    vpmu_lbr_reset(&lbr);
    g_assert_cmphex(rd(0x14ce), ==, 0);
    g_assert_cmpuint(rd(0x14cf), ==, 32);
    g_assert_cmphex(rd(0x1500), ==, 0);
    g_assert_cmpuint(lbr.stats.recorded, ==, 1);

    setup(LEGACY, 4, 16, 0);
    wr(0x1c8, 0x3ff);
    wr(0x1c9, 5);
    wr(0x685, 0x1234);
    vpmu_lbr_reset(&lbr);
    g_assert_cmphex(rd(0x1c8), ==, 0);
    g_assert_cmphex(rd(0x1c9), ==, 0);
    g_assert_cmphex(rd(0x685), ==, 0);
}

/* The SDM's names (vol. 4). */
static void test_msr_name(void)
{
    static const struct {
        uint32_t msr;
        const char *name;
    } rows[] = {
        { 0x1c8, "MSR_LBR_SELECT" },
        { 0x1c9, "MSR_LASTBRANCH_TOS" },
        { 0x40, "MSR_LASTBRANCH_0_FROM_IP" },
        { 0x47, "MSR_LASTBRANCH_7_FROM_IP" },
        { 0x63, "MSR_LASTBRANCH_3_TO_IP" },
        { 0x680, "MSR_LASTBRANCH_0_FROM_IP" },
        { 0x69f, "MSR_LASTBRANCH_31_FROM_IP" },
        { 0x6c3, "MSR_LASTBRANCH_3_TO_IP" },
        { 0xdc0, "MSR_LBR_INFO_0" },
        { 0xddf, "MSR_LBR_INFO_31" },
        { 0x14ce, "IA32_LBR_CTL" },
        { 0x14cf, "IA32_LBR_DEPTH" },
        { 0x1500, "IA32_LBR_0_FROM_IP" },
        { 0x161f, "IA32_LBR_31_TO_IP" },
        { 0x1205, "IA32_LBR_5_INFO" },
        { 0x1520, "MSR 0x1520" },
        { 0x1d9, "MSR 0x1d9" },
    };
    unsigned i;
    char buf[40];

    for (i = 0; i < ARRAY_SIZE(rows); i++) {
        vpmu_lbr_msr_name(rows[i].msr, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, rows[i].name);
    }
    vpmu_lbr_msr_name(0x69f, buf, 8);
    g_assert_cmpstr(buf, ==, "MSR_LAS");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vpmu-lbr/is-lbr", test_is_lbr);
    g_test_add_func("/vpmu-lbr/config-for-model", test_config_for_model);
    g_test_add_func("/vpmu-lbr/default-format", test_default_format);
    g_test_add_func("/vpmu-lbr/config-check", test_config_check);
    g_test_add_func("/vpmu-lbr/legacy/msrs", test_legacy_msrs);
    g_test_add_func("/vpmu-lbr/legacy/readback", test_readback);
    g_test_add_func("/vpmu-lbr/legacy/tos-write", test_tos_write);
    g_test_add_func("/vpmu-lbr/legacy/tos-wrap", test_tos_wrap);
    g_test_add_func("/vpmu-lbr/legacy/select-filters", test_select_filters);
    g_test_add_func("/vpmu-lbr/legacy/select-reserved",
                    test_select_reserved);
    g_test_add_func("/vpmu-lbr/legacy/callstack", test_callstack_legacy);
    g_test_add_func("/vpmu-lbr/legacy/formats", test_formats);
    g_test_add_func("/vpmu-lbr/arch/msrs", test_arch_msrs);
    g_test_add_func("/vpmu-lbr/arch/ctl", test_arch_ctl);
    g_test_add_func("/vpmu-lbr/arch/depth", test_arch_depth);
    g_test_add_func("/vpmu-lbr/arch/order", test_arch_order);
    g_test_add_func("/vpmu-lbr/arch/filters", test_arch_filters);
    g_test_add_func("/vpmu-lbr/arch/callstack", test_arch_callstack);
    g_test_add_func("/vpmu-lbr/cpuid", test_cpuid);
    g_test_add_func("/vpmu-lbr/check-loaded", test_check_loaded);
    g_test_add_func("/vpmu-lbr/reset", test_reset);
    g_test_add_func("/vpmu-lbr/msr-name", test_msr_name);
    return g_test_run();
}
