/*
 * qemu-vpmu: unit tests of the AMD register decoder, with a fake backend
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The rules are KVM's AMD vPMU (arch/x86/kvm/svm/pmu.c and the AMD cases
 * of arch/x86/kvm/pmu.c) and what Linux's AMD perf driver relies on, as
 * shared/design/amd.md sections 1.2-1.6 collect them.  Each row runs in
 * one of four flavours: K7 (4 legacy counters), core (the core extension,
 * 6 counters), v2 (PerfMonV2, 6 counters) and v2-3 (PerfMonV2 with 3).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "vpmu-fake-backend.h"

/* fake_ops with the batch call, as the perf backend has it. */
static const VPMUBackendOps fake_batch_ops = {
    .program = fake_program,
    .set_period = fake_set_period,
    .set_enabled = fake_set_enabled,
    .set_enabled_batch = fake_set_enabled_batch,
    .read = fake_read,
    .release = fake_release,
};

typedef enum Flavour {
    K7,         /* no PERFCTR_CORE: 4 counters at the K7 MSRs */
    CORE,       /* PERFCTR_CORE: 6 counters, also at 0xC0010200 */
    V2,         /* PerfMonV2, 6 counters */
    V2_3,       /* PerfMonV2, 3 counters */
} Flavour;

static const char *const flavour_names[] = { "k7", "core", "v2", "v2-3" };

static void flavour_config(Flavour fl, VPMUConfig *cfg)
{
    switch (fl) {
    case K7:
        vpmu_config_amd(cfg, false, false, 0);
        break;
    case CORE:
        vpmu_config_amd(cfg, true, false, 0);
        break;
    case V2:
        vpmu_config_amd(cfg, true, true, 6);
        break;
    case V2_3:
        vpmu_config_amd(cfg, true, true, 3);
        break;
    }
    g_assert_true(vpmu_config_check(cfg, &error_abort));
}

static Fixture *fixture_new(Flavour fl, const VPMUBackendOps *ops)
{
    Fixture *t = g_new0(Fixture, 1);
    VPMUConfig cfg;

    flavour_config(fl, &cfg);
    vpmu_state_init(&t->s, &cfg, ops, &t->f);
    return t;
}

static void fixture_free(Fixture *t)
{
    vpmu_release_all(&t->s);
    g_free(t);
}

#define K7_CTL(i)   (VPMU_MSR_K7_EVNTSEL0 + (i))
#define K7_CTR(i)   (VPMU_MSR_K7_PERFCTR0 + (i))
#define CTL(i)      (VPMU_MSR_F15H_PERF_CTL0 + 2 * (i))
#define CTR(i)      (VPMU_MSR_F15H_PERF_CTL0 + 2 * (i) + 1)
#define GSTATUS     VPMU_MSR_AMD_GLOBAL_STATUS
#define GCTL        VPMU_MSR_AMD_GLOBAL_CTL
#define GCLR        VPMU_MSR_AMD_GLOBAL_STATUS_CLR
#define GSET        VPMU_MSR_AMD_GLOBAL_STATUS_SET
#define EN          VPMU_EVTSEL_EN
#define INT         VPMU_EVTSEL_INT
#define USR         VPMU_EVTSEL_USR
#define OS          VPMU_EVTSEL_OS
#define GO          (1ULL << 40)            /* Guest-Only */
#define HO          (1ULL << 41)            /* Host-Only */
#define W48         0xffffffffffffULL
/* CYCLES_NOT_IN_HALT, counting everywhere */
#define CYCLES      (EN | USR | OS | 0x76)
/* ~0 without KVM's reserved bits 0xfffffff000280000 (19, 21, 36-63) */
#define CTL_ALL     0x0000000fffd7ffffULL

/* The steps of this test's own (the shared ones: vpmu-fake-backend.h) */
enum {
    RD_GP = OP_OWN, /* guest RDMSR raises #GP and reads 0 */
    HWR_FAIL,   /* host-initiated write is refused, changing nothing */
    POLL,       /* vpmu_poll() returns .val */
    COUNTING,   /* the backend counts for slot .msr (.val 1) or not */
    EVENT,      /* the host event of slot .msr is .val */
    RESET,      /* power-up/INIT */
};

typedef struct {
    const char *rule;
    Flavour flavour;
    Op ops[24];
} Rule;

static const Rule rules[] = {
    /* 1.2: K7 MSRs exist with any AMD PMU, F15H with PERFCTR_CORE only */
    { "k7-msrs", K7, {
        { RD, K7_CTL(0), 0 }, { RD, K7_CTL(3), 0 }, { RD, K7_CTR(0), 0 },
        { RD, K7_CTR(3), 0 }, { RD_GP, CTL(0) }, { RD_GP, CTR(0) },
        { RD_GP, CTL(5) }, { RD_GP, CTR(5) }, { WR_GP, CTL(0), 0 },
        { WR_GP, CTR(3), 0 }, { RD_GP, GSTATUS }, { RD_GP, GCTL },
        { RD_GP, GCLR }, { RD_GP, GSET }, { WR_GP, GCTL, 0 },
        { WR_GP, GCLR, 0 }, { RD_GP, 0xc0010008 }, { RD_GP, 0xc000ffff },
        { RD_GP, VPMU_MSR_PERFEVTSEL0 }, { RD_GP, VPMU_MSR_PMC0 },
        { RD_GP, VPMU_MSR_DEBUGCTL }, { RD_GP, VPMU_MSR_PERF_GLOBAL_CTRL } } },
    { "core-msrs", CORE, {
        { RD, CTL(0), 0 }, { RD, CTR(0), 0 }, { RD, CTL(5), 0 },
        { RD, CTR(5), 0 }, { RD, K7_CTL(3), 0 }, { RD, K7_CTR(3), 0 },
        { RD_GP, 0xc001020c }, { WR_GP, 0xc001020c, 0 },
        { RD_GP, 0xc00101ff }, { RD_GP, GSTATUS }, { RD_GP, GCTL },
        { RD_GP, GCLR }, { RD_GP, GSET }, { WR_GP, GSTATUS, 0 },
        { WR_GP, GSET, 0 }, { RD_GP, VPMU_MSR_PERF_CAPABILITIES } } },
    { "v2-msrs", V2, {
        { RD, CTL(5), 0 }, { RD, CTR(5), 0 }, { RD, K7_CTR(3), 0 },
        { RD, GSTATUS, 0 }, { RD, GCTL, 0x3f }, { RD, GCLR, 0 },
        { RD, GSET, 0 }, { RD_GP, 0xc001020c }, { RD_GP, 0xc0000304 },
        { RD_GP, 0xc00002ff }, { RD_GP, VPMU_MSR_PERF_GLOBAL_STATUS } } },
    /* A K7 or F15H MSR of a counter at or above n #GPs (amd_pmu_get_msr) */
    { "v2-3-absent-counters", V2_3, {
        { RD, CTL(2), 0 }, { RD, CTR(2), 0 }, { RD, K7_CTL(2), 0 },
        { RD_GP, CTL(3) }, { RD_GP, CTR(3) }, { RD_GP, CTL(5) },
        { RD_GP, CTR(5) }, { RD_GP, K7_CTL(3) }, { RD_GP, K7_CTR(3) },
        { WR_GP, CTL(3), CYCLES }, { WR_GP, K7_CTR(3), 1 },
        { WR_GP, CTR(4), 0 }, { RD_GP, 0xc001020c }, { RD, GCTL, 0x7 },
        { HWR_FAIL, CTL(3), 0 } } },
    /* "MSR_F15H_PERF_CTR[0-3] are aliased to MSR_K7_PERFCTRn" */
    { "k7-f15h-alias", CORE, {
        { WR, K7_CTL(2), 0x1234 }, { RD, CTL(2), 0x1234 },
        { WR, CTL(1), 0x5678 }, { RD, K7_CTL(1), 0x5678 },
        { WR, CTR(3), 0xabcdef }, { RD, K7_CTR(3), 0xabcdef },
        { WR, K7_CTR(0), 0x42 }, { RD, CTR(0), 0x42 },
        { RD, CTR(1), 0 }, { RD, K7_CTL(0), 0 }, { RD, CTL(4), 0 } } },
    { "v2-alias", V2, {
        { WR, K7_CTR(3), 7 }, { RD, CTR(3), 7 }, { WR, CTL(0), CYCLES },
        { RD, K7_CTL(0), CYCLES }, { TICK, 0, 5 }, { RD, K7_CTR(0), 5 },
        { RD, CTR(0), 5 } } },
    /* KVM: data &= ~reserved_bits, never #GP; HO/GO read as zero */
    { "ctl-reserved-dropped", CORE, {
        { WR, CTL(0), ~0ULL }, { RD, CTL(0), CTL_ALL },
        { WR, K7_CTL(1), GO | HO | 0xc0 }, { RD, CTL(1), 0xc0 },
        { WR, CTL(2), 1ULL << 19 | 1ULL << 21 }, { RD, CTL(2), 0 },
        { WR, CTL(3), 1ULL << 36 | 0x0000000f000000c7ULL },
        { RD, K7_CTL(3), 0x0000000f000000c7ULL },
        { WR, CTL(5), 1ULL << 63 }, { RD, CTL(5), 0 } } },
    { "k7-ctl-reserved-dropped", K7, {
        { WR, K7_CTL(3), ~0ULL }, { RD, K7_CTL(3), CTL_ALL },
        { WR, K7_CTL(0), 0xfffffff000280000ULL }, { RD, K7_CTL(0), 0 } } },
    /* pmc_write_counter(): & (2^48 - 1), no sign extension, no #GP */
    { "ctr-48-bit", CORE, {
        { WR, CTR(0), ~0ULL }, { RD, CTR(0), W48 },
        { WR, K7_CTR(1), 0xff0123456789ULL }, { RD, CTR(1), 0xff0123456789ULL },
        { WR, CTR(2), 0x80000000 }, { RD, CTR(2), 0x80000000 },
        { WR, CTR(3), 1ULL << 48 | 5 }, { RD, CTR(3), 5 },
        { WR, CTR(5), 0xffffffff }, { RD, K7_CTR(3), 5 },
        { RD, CTR(5), 0xffffffff } } },
    { "k7-ctr-48-bit", K7, {
        { WR, K7_CTR(2), ~0ULL }, { RD, K7_CTR(2), W48 },
        { WR, K7_CTR(3), 0xffffffffULL }, { RD, K7_CTR(3), 0xffffffffULL } } },
    /* A migration stream with bits a guest could not set is refused. */
    { "host-writes-checked", V2, {
        { HWR_FAIL, CTL(0), GO }, { HWR_FAIL, CTL(0), 1ULL << 19 },
        { HWR_FAIL, CTR(0), 1ULL << 48 }, { HWR_FAIL, GCTL, 1ULL << 6 },
        { HWR_FAIL, GSTATUS, 1ULL << 6 }, { HWR_FAIL, GSTATUS, 1ULL << 32 },
        { HWR, CTL(0), CTL_ALL }, { HRD, CTL(0), CTL_ALL },
        { HWR, CTR(0), W48 }, { HRD, K7_CTR(0), W48 },
        { HWR, GCTL, 0x15 }, { RD, GCTL, 0x15 },
        { HWR, GSTATUS, 0x3f }, { RD, GSTATUS, 0x3f } } },
    { "v2-3-host-status-checked", V2_3, {
        { HWR_FAIL, GSTATUS, 0x8 }, { HWR, GSTATUS, 0x7 },
        { RD, GSTATUS, 0x7 }, { HWR_FAIL, GCTL, 0xf } } },
    /* kvm_pmu_refresh(): GLOBAL_CTL resets to GENMASK(n - 1, 0) */
    { "global-ctl-reset-reserved-dropped", V2, {
        { RD, GCTL, 0x3f }, { WR, GCTL, ~0ULL }, { RD, GCTL, 0x3f },
        { WR, GCTL, 0x40 }, { RD, GCTL, 0 }, { WR, GCTL, 0x21 },
        { RD, GCTL, 0x21 } } },
    { "v2-3-global-ctl", V2_3, {
        { RD, GCTL, 0x7 }, { WR, GCTL, ~0ULL }, { RD, GCTL, 0x7 } } },
    /* "Per PPR, Read-only MSR. Writes are ignored." */
    { "global-status-guest-write-ignored", V2, {
        { WR, GSTATUS, 0x3 }, { RD, GSTATUS, 0 }, { WR, GSTATUS, ~0ULL },
        { RD, GSTATUS, 0 }, { HWR, GSTATUS, 0x5 }, { WR, GSTATUS, 0 },
        { RD, GSTATUS, 0x5 } } },
    /* W1C and W1S for the guest, read 0, ignored from the host */
    { "status-clr-set", V2, {
        { WR, GSET, ~0ULL }, { RD, GSTATUS, 0x3f }, { RD, GSET, 0 },
        { RD, GCLR, 0 }, { WR, GCLR, 0x1 }, { RD, GSTATUS, 0x3e },
        { WR, GCLR, ~0ULL }, { RD, GSTATUS, 0 }, { HWR, GSET, 0x3 },
        { RD, GSTATUS, 0 }, { HWR, GSTATUS, 0x3 }, { HWR, GCLR, 0x3 },
        { RD, GSTATUS, 0x3 }, { WR, GSET, 0x40 }, { RD, GSTATUS, 0x3 } } },
    { "v2-3-status-set-masked", V2_3, {
        { WR, GSET, ~0ULL }, { RD, GSTATUS, 0x7 }, { WR, GCLR, 0x5 },
        { RD, GSTATUS, 0x2 } } },
    /* Version 1 counts with EN alone; there are no global registers. */
    { "v1-counts-without-globals", CORE, {
        { WR, CTL(0), CYCLES }, { COUNTING, 0, 1 }, { TICK, 0, 100 },
        { RD, CTR(0), 100 }, { RD, K7_CTR(0), 100 },
        { WR, CTL(0), CYCLES & ~EN }, { COUNTING, 0, 0 }, { TICK, 0, 10 },
        { RD, CTR(0), 100 }, { WR, CTL(5), CYCLES }, { COUNTING, 5, 1 } } },
    { "k7-counts", K7, {
        { WR, K7_CTL(3), CYCLES }, { COUNTING, 3, 1 }, { TICK, 0, 7 },
        { RD, K7_CTR(3), 7 } } },
    /* pmc_is_globally_enabled(): v2 needs EN and the GLOBAL_CTL bit */
    { "v2-gated-by-global-ctl", V2, {
        { WR, GCTL, 0 }, { WR, CTL(0), CYCLES }, { COUNTING, 0, 0 },
        { TICK, 0, 100 }, { RD, CTR(0), 0 }, { WR, GCTL, 0x1 },
        { COUNTING, 0, 1 }, { TICK, 0, 50 }, { RD, CTR(0), 50 },
        { WR, CTL(0), CYCLES & ~EN }, { COUNTING, 0, 0 }, { TICK, 0, 10 },
        { RD, CTR(0), 50 }, { WR, CTL(1), CYCLES }, { COUNTING, 1, 0 },
        { WR, GCTL, 0x3f }, { COUNTING, 1, 1 }, { COUNTING, 0, 0 } } },
    /* v1: a wrap leaves no status (Linux looks at bit 47); PMI iff INT */
    { "v1-wrap-no-status", CORE, {
        { WR, CTR(0), W48 - 0xf }, { WR, CTL(0), CYCLES | INT },
        { WR, K7_CTR(1), W48 }, { WR, CTL(1), CYCLES }, { TICK, 0, 0x20 },
        { RD, CTR(0), 0x10 }, { RD, CTR(1), 0x1f }, { POLL, 0, 0 },
        { PENDING, 0, 1 }, { RD_GP, GSTATUS }, { PMI }, { PENDING, 0, 0 },
        { RD, CTL(0), CYCLES | INT }, { COUNTING, 0, 1 } } },
    { "v1-wrap-without-int", K7, {
        { WR, K7_CTR(2), W48 }, { WR, K7_CTL(2), CYCLES }, { TICK, 0, 2 },
        { RD, K7_CTR(2), 1 }, { POLL, 0, 0 }, { PENDING, 0, 0 } } },
    /* v2: status bit n; INT asks for a PMI; nothing freezes on it */
    { "v2-wrap-status-pmi", V2, {
        { WR, CTR(1), W48 }, { WR, CTL(1), CYCLES | INT },
        { WR, CTR(2), W48 }, { WR, CTL(2), CYCLES }, { TICK, 0, 1 },
        { RD, GSTATUS, 0x6 }, { RD, CTR(1), 0 }, { PENDING, 0, 1 },
        { PMI }, { PENDING, 0, 0 }, { RD, CTL(1), CYCLES | INT },
        { RD, GCTL, 0x3f }, { COUNTING, 1, 1 }, { TICK, 0, 3 },
        { RD, CTR(1), 3 }, { WR, GCLR, 0x2 }, { RD, GSTATUS, 0x4 } } },
    { "v2-wrap-without-int", V2_3, {
        { WR, CTR(0), W48 }, { WR, CTL(0), CYCLES }, { TICK, 0, 1 },
        { POLL, 0, 0x1 }, { PENDING, 0, 0 } } },
    /* The 12-bit select reaches the host; EN, INT, HO and GO do not. */
    { "host-event-12-bit-select", CORE, {
        { WR, CTL(0), 0x1000000c7ULL | EN | INT },
        { EVENT, 0, 0x1000000c7ULL }, { RD, CTL(0), 0x1000000c7ULL | EN | INT },
        { WR, K7_CTL(1), CYCLES | 0xf00000000ULL | GO | HO | 0x5500 },
        { EVENT, 1, USR | OS | 0xf00005576ULL },
        { WR, CTL(2), CTL_ALL }, { EVENT, 2, CTL_ALL & ~(EN | INT) } } },
    /* kvm_pmu_reset(): every CTL and CTR 0, STATUS 0, GLOBAL_CTL all set */
    { "reset-values", V2, {
        { WR, CTL(0), CYCLES | INT }, { WR, CTR(0), W48 }, { TICK, 0, 1 },
        { WR, GCTL, 0x1 }, { WR, CTR(5), 9 }, { WR, GSET, 0x20 },
        { RESET }, { RD, CTL(0), 0 }, { RD, CTR(0), 0 }, { RD, CTR(5), 0 },
        { RD, GCTL, 0x3f }, { RD, GSTATUS, 0 }, { PENDING, 0, 0 },
        { COUNTING, 0, 0 } } },
    { "k7-reset-values", K7, {
        { WR, K7_CTL(0), CYCLES }, { WR, K7_CTR(3), 3 }, { RESET },
        { RD, K7_CTL(0), 0 }, { RD, K7_CTR(3), 0 }, { COUNTING, 0, 0 } } },
};

static void run_own_op(Fixture *t, const Op *op, const void *opaque)
{
    uint64_t v;

    switch (op->op) {
    case HWR_FAIL:
        fake_wr_refused(t, op->msr, op->val, true);
        break;
    case RD_GP:
        v = 0x5a5a;
        g_assert_false(vpmu_msr_read(&t->s, op->msr, &v, false));
        g_assert_cmphex(v, ==, 0);
        break;
    case POLL:
        g_assert_cmphex(vpmu_poll(&t->s), ==, op->val);
        break;
    case COUNTING:
        g_assert_cmpint(t->f.enabled[op->msr], ==, op->val);
        g_assert_cmpint(vpmu_slot_counting(&t->s, op->msr), ==, op->val);
        break;
    case EVENT:
        g_assert_true(t->f.programmed[op->msr]);
        g_assert_cmpint(t->f.event[op->msr].arch, ==, VPMU_ARCH_AMD);
        g_assert_false(t->f.event[op->msr].fixed);
        g_assert_cmpuint(t->f.event[op->msr].index, ==, op->msr);
        g_assert_cmphex(t->f.event[op->msr].eventsel, ==, op->val);
        break;
    case RESET:
        vpmu_reset(&t->s);
        break;
    default:
        /* A kind nobody runs: op is an int, so no -Wswitch for it */
        g_assert_not_reached();
    }
}

static void run_rule(gconstpointer data)
{
    const Rule *r = data;
    Fixture *t = fixture_new(r->flavour, &fake_ops);

    fake_run_ops(t, r->ops, ARRAY_SIZE(r->ops), run_own_op, NULL);
    fixture_free(t);
}

/*
 * No #GP on values: in every flavour, every value written to every
 * present MSR is taken (CTR, CTL, the global registers).
 */
static void test_no_gp_on_values(void)
{
    static const uint64_t values[] = {
        0, ~0ULL, 1ULL << 63, 1ULL << 48, 1ULL << 41, 1ULL << 40,
        1ULL << 36, 1ULL << 21, 1ULL << 19, 0xfffffff000280000ULL,
    };
    const VPMUMsrRange *r;
    Flavour fl;
    unsigned i, j;

    for (fl = K7; fl <= V2_3; fl++) {
        Fixture *t = fixture_new(fl, &fake_ops);
        VPMUConfig cfg = t->s.cfg;

        for (r = vpmu_msr_ranges_of(&cfg); r->nmsrs; r++) {
            for (i = 0; i < r->nmsrs; i++) {
                uint32_t msr = r->base + i;
                uint64_t v;

                if (!vpmu_msr_read(&t->s, msr, &v, false)) {
                    continue;
                }
                for (j = 0; j < ARRAY_SIZE(values); j++) {
                    g_assert_true(vpmu_msr_write(&t->s, msr, values[j],
                                                 false));
                    vpmu_sync(&t->s);
                }
            }
        }
        fixture_free(t);
    }
}

/* CPUID, the MSR filter ranges, the LVTPC rule and the LBR's absence. */
static void test_cpuid_ranges(void)
{
    static const struct {
        uint32_t eax, ebx;
    } leaf[] = { [K7] = { 0, 0 }, [CORE] = { 0, 0 }, [V2] = { 1, 6 },
                 [V2_3] = { 1, 3 } };
    static const VPMUMsrRange amd[] = {
        { 0xc0010000, 8 }, { 0xc0010200, 12 }, { 0xc0000300, 4 }, { 0, 0 },
    };
    uint32_t regs[4];
    VPMUConfig cfg;
    Flavour fl;
    unsigned i;

    for (fl = K7; fl <= V2_3; fl++) {
        Fixture *t = fixture_new(fl, &fake_ops);

        flavour_config(fl, &cfg);
        vpmu_cpuid_0xa(&cfg, &regs[0], &regs[1], &regs[2], &regs[3]);
        g_assert_cmphex(regs[0] | regs[1] | regs[2] | regs[3], ==, 0);
        vpmu_cpuid_0x80000022(&cfg, &regs[0], &regs[1], &regs[2], &regs[3]);
        g_assert_cmphex(regs[0], ==, leaf[fl].eax);
        g_assert_cmphex(regs[1], ==, leaf[fl].ebx);
        g_assert_cmphex(regs[2] | regs[3], ==, 0);
        g_assert_false(vpmu_pmi_masks_lvtpc(&t->s));
        g_assert_cmphex(vpmu_debugctl_owned(&t->s), ==, 0);
        g_assert_false(vpmu_lbr_enabled(&t->s));
        for (i = 0; i < ARRAY_SIZE(amd); i++) {
            g_assert_cmphex(vpmu_msr_ranges_of(&cfg)[i].base, ==,
                            amd[i].base);
            g_assert_cmpuint(vpmu_msr_ranges_of(&cfg)[i].nmsrs, ==,
                             amd[i].nmsrs);
        }
        fixture_free(t);
    }

    /* Intel keeps its leaf 0xA and has no leaf 0x80000022. */
    vpmu_config_default(&cfg);
    vpmu_cpuid_0x80000022(&cfg, &regs[0], &regs[1], &regs[2], &regs[3]);
    g_assert_cmphex(regs[0] | regs[1] | regs[2] | regs[3], ==, 0);
    vpmu_cpuid_0xa(&cfg, &regs[0], &regs[1], &regs[2], &regs[3]);
    g_assert_cmphex(regs[0], ==, 0x07300402);
    g_assert_true(vpmu_msr_ranges_of(&cfg) == vpmu_msr_ranges);
    {
        Fixture *t = g_new0(Fixture, 1);

        vpmu_state_init(&t->s, &cfg, &fake_ops, &t->f);
        g_assert_true(vpmu_pmi_masks_lvtpc(&t->s));
        /* The Intel decoder says whose event it is too. */
        wr(t, VPMU_MSR_PERFEVTSEL0, CYCLES);
        g_assert_cmpint(t->f.event[0].arch, ==, VPMU_ARCH_INTEL);
        fixture_free(t);
    }
}

/* Names for messages: Linux's msr-index.h names. */
static void test_msr_names(void)
{
    static const struct {
        uint32_t msr;
        const char *name;
    } names[] = {
        { 0xc0010000, "MSR_K7_EVNTSEL0" }, { 0xc0010003, "MSR_K7_EVNTSEL3" },
        { 0xc0010004, "MSR_K7_PERFCTR0" }, { 0xc0010007, "MSR_K7_PERFCTR3" },
        { 0xc0010200, "MSR_F15H_PERF_CTL0" },
        { 0xc0010201, "MSR_F15H_PERF_CTR0" },
        { 0xc001020b, "MSR_F15H_PERF_CTR5" },
        { 0xc0000300, "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS" },
        { 0xc0000301, "MSR_AMD64_PERF_CNTR_GLOBAL_CTL" },
        { 0xc0000302, "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR" },
        { 0xc0000303, "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET" },
        { 0xc001020c, "MSR 0xc001020c" }, { 0xc0010008, "MSR 0xc0010008" },
        { 0x186, "IA32_PERFEVTSEL0" }, { 0x38f, "IA32_PERF_GLOBAL_CTRL" },
    };
    char buf[VPMU_MSR_NAME_LEN];
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        vpmu_msr_name(names[i].msr, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, names[i].name);
    }
}

/*
 * Design: toggling only EN, or a GLOBAL_CTL bit, never re-creates the
 * host event, and neither does a change of HO/GO (dropped).
 */
static void test_enable_fast_path(void)
{
    Fixture *t = fixture_new(V2, &fake_ops);
    int i;

    wr(t, CTL(0), CYCLES);
    g_assert_cmpuint(t->f.programs, ==, 1);
    for (i = 0; i < 10; i++) {
        wr(t, GCTL, 0);
        wr(t, GCTL, 0x3f);
        wr(t, K7_CTL(0), CYCLES & ~EN);
        wr(t, CTL(0), CYCLES | GO);
    }
    g_assert_cmpuint(t->f.programs, ==, 1);
    g_assert_cmpuint(t->f.releases, ==, 0);
    g_assert_cmpuint(t->f.enables, ==, 21);
    g_assert_cmpuint(t->f.disables, ==, 20);
    /* INT changes what an overflow does, not what the host counts. */
    wr(t, CTL(0), CYCLES | INT);
    g_assert_cmpuint(t->f.programs, ==, 1);
    /* A new select is a new event. */
    wr(t, CTL(0), CYCLES | 0x100000000ULL);
    g_assert_cmpuint(t->f.programs, ==, 2);
    fixture_free(t);

    t = fixture_new(K7, &fake_ops);
    wr(t, K7_CTL(1), CYCLES);
    wr(t, K7_CTL(1), CYCLES & ~EN);
    wr(t, K7_CTL(1), CYCLES);
    g_assert_cmpuint(t->f.programs, ==, 1);
    g_assert_cmpuint(t->f.enables, ==, 2);
    fixture_free(t);
}

/* A GLOBAL_CTL write that starts or stops several counters is one batch. */
static void test_global_ctl_batch(void)
{
    Fixture *t = fixture_new(V2, &fake_batch_ops);
    unsigned i;

    wr(t, GCTL, 0);
    for (i = 0; i < 4; i++) {
        wr(t, CTL(i), CYCLES);
    }
    /* Not counting: no host event yet */
    g_assert_cmpuint(t->f.programs, ==, 0);
    wr(t, GCTL, 0xf);
    g_assert_cmpuint(t->f.programs, ==, 4);
    g_assert_cmpuint(t->f.batches, ==, 1);
    g_assert_cmphex(t->f.batch_start, ==, 0xf);
    g_assert_cmphex(t->f.batch_stop, ==, 0);
    fake_tick(&t->f, 10);
    wr(t, GCTL, 0x1);
    g_assert_cmpuint(t->f.batches, ==, 2);
    g_assert_cmphex(t->f.batch_start, ==, 0);
    g_assert_cmphex(t->f.batch_stop, ==, 0xe);
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, CTR(0)), ==, 15);
    g_assert_cmphex(rd(t, CTR(3)), ==, 10);
    g_assert_cmpuint(t->f.programs, ==, 4);
    fixture_free(t);
}

/* The host signals exactly at the 48-bit wrap, re-armed on writes. */
static void test_overflow_period(void)
{
    Fixture *t = fixture_new(CORE, &fake_ops);

    wr(t, CTR(0), W48 - 99);
    wr(t, CTL(0), CYCLES | INT);
    g_assert_cmpuint(t->f.period[0], ==, 100);
    fake_tick(&t->f, 30);
    /* Linux's -left: bit 47 set while it counts */
    wr(t, K7_CTR(0), -50ULL);
    g_assert_cmpuint(t->f.period[0], ==, 50);
    fake_tick(&t->f, 60);
    g_assert_cmphex(vpmu_poll(&t->s), ==, 0);
    g_assert_true(t->s.pmi_pending);
    g_assert_cmphex(rd(t, CTR(0)), ==, 10);
    g_assert_cmpuint(t->f.period[0], ==, (1ULL << 48) - 10);
    fixture_free(t);
}

/* Migration within a flavour: registers, counts and counting travel. */
static void test_save_load(void)
{
    VPMUSavedState st, again;
    Fixture *src, *dst;
    Flavour fl;

    for (fl = K7; fl <= V2_3; fl++) {
        g_test_message("flavour %s", flavour_names[fl]);
        src = fixture_new(fl, &fake_ops);
        wr(src, K7_CTL(0), CYCLES | INT | 0x300000000ULL);
        wr(src, K7_CTR(1), W48);
        wr(src, K7_CTL(1), CYCLES);
        wr(src, K7_CTL(2), 0x1c7);              /* not enabled */
        if (fl >= V2) {
            wr(src, GCTL, 0x3);
        }
        fake_tick(&src->f, 1234);
        vpmu_save_state(&src->s, &st);
        g_assert_cmpint(st.arch, ==, VPMU_ARCH_AMD);
        g_assert_cmpint(st.amd_perfctr_core, ==, fl != K7);
        g_assert_cmphex(st.value[0], ==, 1234);
        g_assert_cmphex(st.value[1], ==, 1233);
        g_assert_cmphex(st.global_status, ==, fl >= V2 ? 0x2 : 0);
        g_assert_true(st.pmi_pending == false);

        dst = fixture_new(fl, &fake_ops);
        g_assert_true(vpmu_load_state(&dst->s, &st, &error_abort));
        g_assert_cmphex(rd(dst, K7_CTL(0)), ==, CYCLES | INT |
                        0x300000000ULL);
        g_assert_cmphex(rd(dst, K7_CTR(0)), ==, 1234);
        g_assert_cmphex(rd(dst, K7_CTL(2)), ==, 0x1c7);
        g_assert_true(dst->f.enabled[0] && dst->f.enabled[1]);
        g_assert_false(dst->f.programmed[2]);
        g_assert_cmphex(dst->f.event[0].eventsel, ==,
                        USR | OS | 0x300000076ULL);
        if (fl >= V2) {
            g_assert_cmphex(rd(dst, GCTL), ==, 0x3);
            g_assert_cmphex(rd(dst, GSTATUS), ==, 0x2);
        }
        fake_tick(&dst->f, 6);
        g_assert_cmphex(rd(dst, K7_CTR(0)), ==, 1240);
        vpmu_save_state(&dst->s, &again);
        again.value[0] -= 6;
        again.value[1] -= 6;
        g_assert_true(memcmp(&st, &again, sizeof(st)) == 0);
        fixture_free(dst);

        /* An empty stream ("every register 0") loads too. */
        dst = fixture_new(fl, &fake_ops);
        vpmu_saved_state_init(&st, &dst->s.cfg);
        g_assert_true(vpmu_load_state(&dst->s, &st, &error_abort));
        fixture_free(dst);
        fixture_free(src);
    }
}

static void expect_refused(const VPMUConfig *cfg, const VPMUSavedState *st,
                           const char *error)
{
    Fixture *t = g_new0(Fixture, 1);
    Error *err = NULL;

    vpmu_state_init(&t->s, cfg, &fake_ops, &t->f);
    g_assert_false(vpmu_load_state(&t->s, st, &err));
    g_test_message("refused: %s", error_get_pretty(err));
    g_assert_nonnull(strstr(error_get_pretty(err), error));
    error_free(err);
    /* Left in its reset state */
    g_assert_cmphex(t->s.global_ctrl, ==, (1ULL << cfg->nr_gp) - 1);
    g_assert_cmphex(t->s.counters[0].eventsel, ==, 0);
    g_assert_cmphex(t->s.counters[0].value, ==, 0);
    fixture_free(t);
}

/*
 * A stream for another PMU is refused, naming what differs: the vendor,
 * perfmon-v2, perfctr-core, pmu-gp-counters; and so is one with register
 * bits this PMU lacks (amd.md 4.7).
 */
static void test_load_refused(void)
{
    VPMUSavedState st, good;
    VPMUConfig intel, cfg;
    Fixture *t;

    vpmu_config_default(&intel);
    t = g_new0(Fixture, 1);
    vpmu_state_init(&t->s, &intel, &fake_ops, &t->f);
    vpmu_save_state(&t->s, &st);
    fixture_free(t);
    flavour_config(V2, &cfg);
    expect_refused(&cfg, &st, "PMU is Intel's, this QEMU's is AMD's");
    /* Even where every number matches an AMD PMU's */
    intel.nr_fixed = 0;
    intel.perf_capabilities = 0;
    intel.nr_gp = 6;
    t = g_new0(Fixture, 1);
    vpmu_state_init(&t->s, &intel, &fake_ops, &t->f);
    vpmu_save_state(&t->s, &st);
    fixture_free(t);
    st.global_ctrl = 0x3f;
    expect_refused(&cfg, &st, "PMU is Intel's");

    t = fixture_new(V2, &fake_ops);
    wr(t, CTL(0), CYCLES);
    vpmu_save_state(&t->s, &good);
    fixture_free(t);
    vpmu_config_default(&intel);
    expect_refused(&intel, &good, "PMU is AMD's, this QEMU's is Intel's");

    flavour_config(V2_3, &cfg);
    expect_refused(&cfg, &good, "pmu-gp-counters=6, this QEMU's has 3");
    flavour_config(CORE, &cfg);
    expect_refused(&cfg, &good, "perfmon-v2=on, this QEMU's has "
                   "perfmon-v2=off");
    t = fixture_new(CORE, &fake_ops);
    vpmu_save_state(&t->s, &st);
    fixture_free(t);
    flavour_config(K7, &cfg);
    expect_refused(&cfg, &st, "perfctr-core=on, this QEMU's has "
                   "perfctr-core=off");

    /* Register bits no guest could set */
    flavour_config(V2, &cfg);
    st = good;
    st.eventsel[1] = GO;
    expect_refused(&cfg, &st, "MSR_F15H_PERF_CTL1 = 0x10000000000 sets bits "
                   "0x10000000000 that are reserved");
    st = good;
    st.value[2] = 1ULL << 48;
    expect_refused(&cfg, &st, "MSR_F15H_PERF_CTR2 = 0x1000000000000 does "
                   "not fit this PMU's 48-bit counters");
    st = good;
    st.global_status = 0x40;
    expect_refused(&cfg, &st, "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS = 0x40");
    st = good;
    st.global_ctrl = 0x7f;
    expect_refused(&cfg, &st, "MSR_AMD64_PERF_CNTR_GLOBAL_CTL = 0x7f");
    st = good;
    st.value[VPMU_MAX_GP] = 1;
    expect_refused(&cfg, &st, "but this PMU has 6 counters");
    st = good;
    st.fixed_ctr_ctrl = 0x3;
    expect_refused(&cfg, &st, "IA32_FIXED_CTR_CTRL = 0x3");
    st = good;
    st.debugctl = 1ULL << 12;
    expect_refused(&cfg, &st, "IA32_DEBUGCTL");
    st = good;
    st.nr_fixed = 3;
    expect_refused(&cfg, &st, "which no AMD PMU has");

    flavour_config(V2_3, &cfg);
    t = fixture_new(V2_3, &fake_ops);
    vpmu_save_state(&t->s, &st);
    fixture_free(t);
    st.eventsel[3] = CYCLES;
    expect_refused(&cfg, &st, "MSR_F15H_PERF_CTL3 = 0x430076, but this PMU "
                   "has 3 counters");

    /* Without PerfMonV2 there is no status to carry */
    flavour_config(K7, &cfg);
    t = fixture_new(K7, &fake_ops);
    vpmu_save_state(&t->s, &st);
    fixture_free(t);
    st.global_status = 0x1;
    expect_refused(&cfg, &st, "no PerfMonV2 (perfmon-v2=off)");
    st.global_status = 0;
    st.value[1] = 1ULL << 48;
    expect_refused(&cfg, &st, "MSR_K7_PERFCTR1 = 0x1000000000000 does not "
                   "fit");
}

/* Configuration limits, with errors that name the -cpu property. */
static void test_config_check(void)
{
    static const struct {
        bool core, v2;
        int nr_gp;
        int field, val;     /* 0: none; else which field gets @val */
        const char *error;
    } cases[] = {
        { false, true, 6, 0, 0, "perfmon-v2 needs perfctr-core" },
        { true, true, 7, 0, 0, "pmu-gp-counters=7 is out of range 1..6" },
        { true, true, -1, 2, 0, "pmu-gp-counters=0 is out of range 1..6" },
        { true, false, 3, 0, 0, "pmu-gp-counters=3 needs perfmon-v2: "
          "without it an AMD PMU has 6 counters (perfctr-core=on)" },
        { false, false, 6, 0, 0, "pmu-gp-counters=6 needs perfmon-v2: "
          "without it an AMD PMU has 4 counters (perfctr-core=off)" },
        { true, true, 6, 1, 3, "pmu-version=3" },
        { true, true, 6, 3, 3, "pmu-fixed-counters=3" },
        { true, false, 0, 4, 40, "pmu-counter-width=40" },
        { true, false, 0, 5, 32, "pmu-counter-width=32" },
        { false, false, 0, 6, VPMU_PERF_CAP_FW_WRITE, "pmu-full-width-write" },
        { true, true, 2, 7, VPMU_LBR_LEGACY, "lbr" },
        { true, true, 2, 8, 5, "(pmu-arch)" },
        { true, true, 1, 0, 0, NULL },
        { true, false, 6, 0, 0, NULL },
        { false, false, 4, 0, 0, NULL },
        { true, true, 0, 0, 0, NULL },
    };
    VPMUConfig cfg;
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        Error *err = NULL;
        bool ok;

        vpmu_config_amd(&cfg, cases[i].core, cases[i].v2, cases[i].nr_gp);
        switch (cases[i].field) {
        case 1:
            cfg.version = cases[i].val;
            break;
        case 2:
            cfg.nr_gp = cases[i].val;
            break;
        case 3:
            cfg.nr_fixed = cases[i].val;
            break;
        case 4:
            cfg.gp_width = cases[i].val;
            break;
        case 5:
            cfg.fixed_width = cases[i].val;
            break;
        case 6:
            cfg.perf_capabilities = cases[i].val;
            break;
        case 7:
            cfg.lbr.kind = cases[i].val;
            break;
        case 8:
            cfg.arch = cases[i].val;
            break;
        }
        ok = vpmu_config_check(&cfg, &err);
        g_test_message("case %u: %s", i, err ? error_get_pretty(err) : "ok");
        g_assert_cmpint(ok, ==, !cases[i].error);
        if (cases[i].error) {
            g_assert_nonnull(strstr(error_get_pretty(err), cases[i].error));
            error_free(err);
        }
    }

    /* Intel refuses AMD's core extension. */
    vpmu_config_default(&cfg);
    cfg.amd_perfctr_core = true;
    {
        Error *err = NULL;

        g_assert_false(vpmu_config_check(&cfg, &err));
        g_assert_nonnull(strstr(error_get_pretty(err), "perfctr-core"));
        error_free(err);
    }
}

/* The constructors set every field: callers need not clear the struct. */
static void test_config_constructors(void)
{
    VPMUConfig cfg;

    memset(&cfg, 0xff, sizeof(cfg));
    vpmu_config_default(&cfg);
    g_assert_cmpint(cfg.arch, ==, VPMU_ARCH_INTEL);
    g_assert_false(cfg.amd_perfctr_core);
    g_assert_cmpint(cfg.lbr.kind, ==, VPMU_LBR_NONE);
    g_assert_true(vpmu_config_check(&cfg, &error_abort));

    memset(&cfg, 0xff, sizeof(cfg));
    vpmu_config_from_host(&cfg, 0x08300805, 0x8604);
    g_assert_cmpint(cfg.arch, ==, VPMU_ARCH_INTEL);
    g_assert_false(cfg.amd_perfctr_core);
    g_assert_cmpint(cfg.version, ==, 5);
    g_assert_true(vpmu_config_check(&cfg, &error_abort));

    memset(&cfg, 0xff, sizeof(cfg));
    vpmu_config_amd(&cfg, true, true, 0);
    g_assert_cmpint(cfg.arch, ==, VPMU_ARCH_AMD);
    g_assert_true(cfg.amd_perfctr_core);
    g_assert_cmpint(cfg.version, ==, 2);
    g_assert_cmpint(cfg.nr_gp, ==, 6);
    g_assert_cmpint(cfg.nr_fixed, ==, 0);
    g_assert_cmpint(cfg.gp_width, ==, 48);
    g_assert_cmpint(cfg.fixed_width, ==, 48);
    g_assert_cmphex(cfg.perf_capabilities, ==, 0);
    g_assert_cmpint(cfg.lbr.kind, ==, VPMU_LBR_NONE);
    g_assert_true(vpmu_config_check(&cfg, &error_abort));

    vpmu_config_amd(&cfg, false, false, 0);
    g_assert_cmpint(cfg.version, ==, 1);
    g_assert_cmpint(cfg.nr_gp, ==, 4);
    g_assert_false(cfg.amd_perfctr_core);
    vpmu_config_amd(&cfg, true, false, -1);
    g_assert_cmpint(cfg.nr_gp, ==, 6);
}

/* Host policy is the core's: reclaim and give back work the same. */
static void test_reclaim(void)
{
    Fixture *t = fixture_new(V2, &fake_ops);

    wr(t, CTL(0), CYCLES);
    fake_tick(&t->f, 40);
    vpmu_set_reclaimed(&t->s, true);
    g_assert_false(t->f.programmed[0]);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, CTR(0)), ==, 40);
    vpmu_set_reclaimed(&t->s, false);
    g_assert_true(t->f.enabled[0]);
    fake_tick(&t->f, 2);
    g_assert_cmphex(rd(t, K7_CTR(0)), ==, 42);
    fixture_free(t);
}

int main(int argc, char **argv)
{
    unsigned i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(rules); i++) {
        g_autofree char *path =
            g_strdup_printf("/vpmu/amd/%s/%s",
                            flavour_names[rules[i].flavour], rules[i].rule);
        g_test_add_data_func(path, &rules[i], run_rule);
    }
    g_test_add_func("/vpmu/amd/no-gp-on-values", test_no_gp_on_values);
    g_test_add_func("/vpmu/amd/cpuid-ranges", test_cpuid_ranges);
    g_test_add_func("/vpmu/amd/msr-names", test_msr_names);
    g_test_add_func("/vpmu/amd/enable-fast-path", test_enable_fast_path);
    g_test_add_func("/vpmu/amd/global-ctl-batch", test_global_ctl_batch);
    g_test_add_func("/vpmu/amd/overflow-period", test_overflow_period);
    g_test_add_func("/vpmu/amd/save-load", test_save_load);
    g_test_add_func("/vpmu/amd/load-refused", test_load_refused);
    g_test_add_func("/vpmu/amd/config-check", test_config_check);
    g_test_add_func("/vpmu/amd/config-constructors",
                    test_config_constructors);
    g_test_add_func("/vpmu/amd/reclaim", test_reclaim);
    return g_test_run();
}
