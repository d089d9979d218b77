/*
 * qemu-vpmu: unit tests of the register model, with a fake host backend
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each test names the SDM rule (vol. 3B, "Performance Monitoring") or the
 * design rule it checks.  The fake backend lets a test decide how much the
 * "host" counted and records what the model asked of it.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "vpmu-fake-backend.h"

static void fixture_init(Fixture *t, const VPMUConfig *cfg)
{
    memset(&t->f, 0, sizeof(t->f));
    vpmu_state_init(&t->s, cfg, &fake_ops, &t->f);
}

static void fixture_setup(Fixture *t, gconstpointer data)
{
    VPMUConfig cfg;

    vpmu_config_default(&cfg);
    fixture_init(t, &cfg);
}

static void fixture_teardown(Fixture *t, gconstpointer data)
{
    vpmu_release_all(&t->s);
}

#define EVTSEL_CYCLES (VPMU_EVTSEL_EN | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS | \
                       VPMU_EVENT_CORE_CYCLES)

/*
 * The SDM rules, one row each: a configuration and a sequence of accesses
 * with the outcome the SDM requires.  A refused write must also leave every
 * serialized register unchanged.  The steps of this test's own (the shared
 * ones: vpmu-fake-backend.h):
 */
enum {
    RD_GP = OP_OWN, /* guest RDMSR raises #GP */
    HWR_FAIL,   /* host-initiated write is refused */
    CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX,
};

typedef struct {
    const char *rule;
    int version, nr_gp, nr_fixed, width;    /* 0: the default */
    bool no_fw_write;
    Op ops[12];
} Rule;

#define PMC(i)      (VPMU_MSR_PMC0 + (i))
#define A_PMC(i)    (VPMU_MSR_A_PMC0 + (i))
#define EVTSEL(i)   (VPMU_MSR_PERFEVTSEL0 + (i))
#define FIXED(i)    (VPMU_MSR_FIXED_CTR0 + (i))
#define FCTRL       VPMU_MSR_FIXED_CTR_CTRL
#define GCTRL       VPMU_MSR_PERF_GLOBAL_CTRL
#define GSTATUS     VPMU_MSR_PERF_GLOBAL_STATUS
#define GOVF        VPMU_MSR_PERF_GLOBAL_OVF_CTRL
#define GSET        VPMU_MSR_PERF_GLOBAL_STATUS_SET
#define GINUSE      VPMU_MSR_PERF_GLOBAL_INUSE
#define PERFCAP     VPMU_MSR_PERF_CAPABILITIES
#define DEBUGCTL    VPMU_MSR_DEBUGCTL
#define FRZ_PERF    VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI
#define FRZ_LBR     VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI
#define W48         0xffffffffffffULL

static const Rule rules[] = {
    { "cpuid-0xa-v2", 2, 4, 3, 48, .ops = {
        { CPUID_EAX, 0, 0x07300402 }, { CPUID_EBX, 0, 0 },
        { CPUID_ECX, 0, 0 }, { CPUID_EDX, 0, 0x603 } } },
    { "cpuid-0xa-v5-fixed-bitmap-anythread-deprecated", 5, 8, 4, 48, .ops = {
        { CPUID_EAX, 0, 0x07300805 }, { CPUID_ECX, 0, 0xf },
        { CPUID_EDX, 0, 0x8604 } } },
    { "reset-global-ctrl-has-gp-bits", 2, 8, 3, .ops = {
        { RD, GCTRL, 0xff }, { RD, GSTATUS, 0 }, { RD, FCTRL, 0 },
        { RD, EVTSEL(7), 0 }, { RD, PMC(7), 0 }, { RD, DEBUGCTL, 0 } } },
    { "reset-global-ctrl-one-gp", 2, 1, 0, .ops = { { RD, GCTRL, 1 } } },
    { "evtsel-bits-63-32-reserved", .ops = {
        { WR_GP, EVTSEL(0), 1ULL << 32 }, { WR_GP, EVTSEL(0), 1ULL << 63 },
        { WR, EVTSEL(0), 0xffdfffff } } },
    { "evtsel-anythread-reserved-v2", 2, .ops = {
        { WR_GP, EVTSEL(0), VPMU_EVTSEL_ANY } } },
    { "evtsel-anythread-v3", 3, .ops = {
        { WR, EVTSEL(0), VPMU_EVTSEL_ANY },
        { RD, EVTSEL(0), VPMU_EVTSEL_ANY } } },
    { "evtsel-anythread-v4", 4, .ops = { { WR, EVTSEL(1), VPMU_EVTSEL_ANY } } },
    { "evtsel-anythread-deprecated-v5", 5, .ops = {
        { WR_GP, EVTSEL(0), VPMU_EVTSEL_ANY } } },
    { "fixed-ctrl-anythread-by-version", 3, .ops = {
        { WR, FCTRL, 0x4 }, { RD, FCTRL, 0x4 } } },
    { "fixed-ctrl-anythread-reserved-v2", 2, .ops = {
        { WR_GP, FCTRL, 0x40 } } },
    { "fixed-ctrl-anythread-reserved-v5", 5, .ops = { { WR_GP, FCTRL, 0x4 } } },
    { "fixed-ctrl-absent-counter-field", 2, 4, 3, .ops = {
        { WR_GP, FCTRL, 0x1000 }, { WR, FCTRL, 0xbbb } } },
    { "fixed-ctrl-four-counters", 5, 4, 4, .ops = {
        { WR, FCTRL, 0xbbbb }, { WR_GP, FCTRL, 0x10000 } } },
    { "fixed-ctrl-no-fixed-counters", 2, 4, 0, .ops = {
        { WR_GP, FCTRL, 0x1 }, { WR, FCTRL, 0 },
        { RD_GP, FIXED(0), 0 }, { WR_GP, GCTRL, 1ULL << 32 } } },
    { "global-ctrl-absent-counter-bits", 2, 1, 3, .ops = {
        { WR_GP, GCTRL, 0x2 }, { WR_GP, GCTRL, 1ULL << 35 },
        { WR, GCTRL, 0x700000001ULL }, { RD, GCTRL, 0x700000001ULL } } },
    { "absent-gp-counter-msrs", 2, 1, 3, .ops = {
        { RD_GP, PMC(1), 0 }, { WR_GP, PMC(1), 0 }, { RD_GP, EVTSEL(1), 0 },
        { WR_GP, EVTSEL(7), 0 }, { RD_GP, A_PMC(1), 0 },
        { RD_GP, FIXED(3), 0 } } },
    { "pmc-write-sign-extends-bit-31", .ops = {
        { WR, PMC(0), 0x80000005 }, { RD, PMC(0), 0xffff80000005ULL },
        { WR, PMC(0), 0xffffffff7fffffffULL }, { RD, PMC(0), 0x7fffffff } } },
    { "pmc-write-sign-extends-to-width-32", 2, 4, 3, 32, .ops = {
        { WR, PMC(0), 0x80000005 }, { RD, PMC(0), 0x80000005 } } },
    { "pmc-host-write-not-sign-extended", .ops = {
        { HWR, PMC(0), 0x80000005 }, { HRD, PMC(0), 0x80000005 } } },
    { "a-pmc-full-width-write", .ops = {
        { WR, A_PMC(1), 0x812345678901ULL }, { RD, PMC(1), 0x812345678901ULL },
        { RD, A_PMC(1), 0x812345678901ULL },
        { WR_GP, A_PMC(1), 1ULL << 48 } } },
    { "a-pmc-needs-fw-write", .no_fw_write = true, .ops = {
        { WR_GP, A_PMC(0), 1 }, { RD_GP, A_PMC(0), 0 }, { RD, PERFCAP, 0 } } },
    { "perf-capabilities-read-only", .ops = {
        { RD, PERFCAP, VPMU_PERF_CAP_FW_WRITE }, { WR_GP, PERFCAP, 0 },
        { HWR, PERFCAP, VPMU_PERF_CAP_FW_WRITE }, { HWR_FAIL, PERFCAP, 0 } } },
    { "fixed-ctr-bits-above-width-reserved", .ops = {
        { WR_GP, FIXED(0), 1ULL << 48 }, { WR, FIXED(0), W48 },
        { RD, FIXED(0), W48 } } },
    { "gp-counter-wraps-sets-status", .ops = {
        { WR, PMC(2), (uint32_t)-2 }, { WR, EVTSEL(2), EVTSEL_CYCLES },
        { TICK, 0, 1 }, { RD, GSTATUS, 0 }, { TICK, 0, 2 },
        { RD, GSTATUS, 1 << 2 }, { RD, PMC(2), 1 }, { PENDING, 0, 0 } } },
    { "fixed-counter-wraps-sets-status", .ops = {
        { WR, FIXED(1), W48 }, { WR, FCTRL, 0x30 },
        { WR, GCTRL, 1ULL << 33 }, { TICK, 0, 1 },
        { RD, GSTATUS, 1ULL << 33 }, { RD, FIXED(1), 0 } } },
    { "overflow-with-int-asks-for-pmi", .ops = {
        { WR, PMC(0), (uint32_t)-1 },
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT },
        { PENDING, 0, 0 }, { TICK, 0, 1 }, { RD, PMC(0), 0 },
        { PENDING, 0, 1 }, { PMI }, { PENDING, 0, 0 } } },
    { "overflow-before-value-write-is-kept", .ops = {
        { WR, PMC(0), (uint32_t)-10 },
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT }, { TICK, 0, 20 },
        { WR, PMC(0), 0 }, { RD, GSTATUS, 1 }, { PENDING, 0, 1 },
        { RD, PMC(0), 0 } } },
    { "ovf-ctrl-clears-an-unpolled-overflow", .ops = {
        { WR, PMC(0), (uint32_t)-10 }, { WR, EVTSEL(0), EVTSEL_CYCLES },
        { TICK, 0, 20 }, { WR, GOVF, 1 }, { RD, GSTATUS, 0 } } },
    { "overflow-uses-int-of-its-time", .ops = {
        { WR, PMC(0), (uint32_t)-10 },
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT }, { TICK, 0, 20 },
        { WR, EVTSEL(0), EVTSEL_CYCLES }, { PENDING, 0, 1 } } },
    { "two-overflows-in-one-exit-both-show", .ops = {
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT },
        { WR, EVTSEL(3), EVTSEL_CYCLES }, { WR, PMC(0), (uint32_t)-1 },
        { WR, PMC(3), (uint32_t)-2 }, { TICK, 0, 5 },
        { RD, GSTATUS, 0x9 }, { PENDING, 0, 1 } } },
    { "counting-needs-en-and-global-bit", .ops = {
        { WR, GCTRL, 0 }, { WR, EVTSEL(0), EVTSEL_CYCLES }, { TICK, 0, 5 },
        { RD, PMC(0), 0 }, { WR, GCTRL, 1 }, { TICK, 0, 5 },
        { RD, PMC(0), 5 }, { WR, EVTSEL(0), VPMU_EVENT_CORE_CYCLES },
        { TICK, 0, 5 }, { RD, PMC(0), 5 } } },
    { "global-status-read-only-to-guest", .ops = {
        { WR_GP, GSTATUS, 1 }, { HWR, GSTATUS, 0x8000000000000001ULL },
        { RD, GSTATUS, 0x8000000000000001ULL },
        { HWR_FAIL, GSTATUS, 1ULL << 20 } } },
    { "ovf-ctrl-clears-and-reads-zero", .ops = {
        { HWR, GSTATUS, 0xc000000700000003ULL },
        { WR, GOVF, 0x4000000000000002ULL },
        { RD, GSTATUS, 0x8000000700000001ULL }, { RD, GOVF, 0 },
        { WR_GP, GOVF, 1ULL << 4 }, { WR_GP, GOVF, VPMU_GLOBAL_CTR_FRZ } } },
    /* Write-1-to-clear: a 1 for a bit already clear leaves it clear. */
    { "ovf-ctrl-clear-bit-stays-clear", .ops = {
        { HWR, GSTATUS, 0x1 }, { WR, GOVF, 0x2 }, { RD, GSTATUS, 0x1 },
        { WR, GOVF, 0x3 }, { RD, GSTATUS, 0 }, { WR, GOVF, 0x1 },
        { RD, GSTATUS, 0 } } },
    { "status-set-v4-sets-bits", 4, .ops = {
        { WR, GSET, 0x4000000000000005ULL },
        { RD, GSTATUS, 0x4000000000000005ULL }, { RD, GSET, 0 },
        { WR_GP, GSET, VPMU_GLOBAL_COND_CHGD }, { WR_GP, GSET, 1ULL << 40 } } },
    { "status-set-and-inuse-absent-before-v4", 3, .ops = {
        { RD_GP, GSET, 0 }, { WR_GP, GSET, 1 }, { RD_GP, GINUSE, 0 } } },
    { "inuse-v4-reflects-use", 4, .ops = {
        { RD, GINUSE, 0 }, { WR, EVTSEL(1), 0x3c }, { RD, GINUSE, 0x2 },
        { WR, FCTRL, 0x200 }, { RD, GINUSE, 0x400000002ULL },
        { WR, EVTSEL(0), VPMU_EVTSEL_INT },
        { RD, GINUSE, 0x8000000400000002ULL }, { WR_GP, GINUSE, 0 } } },
    { "freeze-on-pmi-legacy-clears-global-ctrl", 2, .ops = {
        { WR, DEBUGCTL, FRZ_PERF }, { WR, PMC(0), (uint32_t)-1 },
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT }, { TICK, 0, 1 },
        { RD, GSTATUS, 1 }, { PMI }, { RD, GCTRL, 0 }, { TICK, 0, 7 },
        { RD, PMC(0), 0 } } },
    { "freeze-on-pmi-v4-sets-ctr-frz", 4, .ops = {
        { WR, DEBUGCTL, FRZ_PERF }, { WR, PMC(0), (uint32_t)-1 },
        { WR, EVTSEL(0), EVTSEL_CYCLES | VPMU_EVTSEL_INT }, { TICK, 0, 1 },
        { PMI }, { RD, GSTATUS, VPMU_GLOBAL_CTR_FRZ | 1 }, { RD, GCTRL, 0xf },
        { TICK, 0, 7 }, { RD, PMC(0), 0 }, { WR, GOVF, VPMU_GLOBAL_CTR_FRZ },
        { TICK, 0, 7 }, { RD, PMC(0), 7 } } },
    { "status-set-ctr-frz-freezes-counters", 4, .ops = {
        { WR, EVTSEL(0), EVTSEL_CYCLES }, { WR, GSET, VPMU_GLOBAL_CTR_FRZ },
        { TICK, 0, 9 }, { RD, PMC(0), 0 } } },
    { "freeze-lbrs-on-pmi-v4-sets-lbr-frz", 4, .ops = {
        { WR, DEBUGCTL, FRZ_LBR }, { PMI },
        { RD, GSTATUS, VPMU_GLOBAL_LBR_FRZ } } },
    { "no-freeze-without-debugctl", 2, .ops = {
        { PMI }, { RD, GCTRL, 0xf }, { RD, GSTATUS, 0 } } },
    { "debugctl-reserved-bits-and-pmu-bits", .ops = {
        { WR, DEBUGCTL, FRZ_PERF | FRZ_LBR | 0x3 },
        { RD, DEBUGCTL, FRZ_PERF | FRZ_LBR }, { WR_GP, DEBUGCTL, 1ULL << 63 },
        { WR_GP, DEBUGCTL, 1ULL << 16 }, { WR_GP, DEBUGCTL, 1ULL << 3 } } },
};

/* @opaque: CPUID 0xA's eax..edx for the row's configuration */
static void run_own_op(Fixture *t, const Op *op, const void *opaque)
{
    const uint32_t *regs = opaque;
    uint64_t v;

    switch (op->op) {
    case RD_GP:
        g_assert_false(vpmu_msr_read(&t->s, op->msr, &v, false));
        break;
    case HWR_FAIL:
        g_assert_false(vpmu_msr_write(&t->s, op->msr, op->val, true));
        break;
    case CPUID_EAX:
    case CPUID_EBX:
    case CPUID_ECX:
    case CPUID_EDX:
        g_assert_cmphex(regs[op->op - CPUID_EAX], ==, op->val);
        break;
    default:
        /* A kind nobody runs: op is an int, so no -Wswitch for it */
        g_assert_not_reached();
    }
}

static void run_rule(gconstpointer data)
{
    const Rule *r = data;
    Fixture *t = g_new0(Fixture, 1);
    VPMUConfig cfg;
    uint32_t regs[4];

    vpmu_config_default(&cfg);
    cfg.version = r->version ? r->version : cfg.version;
    cfg.nr_gp = r->nr_gp ? r->nr_gp : cfg.nr_gp;
    cfg.nr_fixed = r->nr_gp ? r->nr_fixed : cfg.nr_fixed;
    cfg.gp_width = cfg.fixed_width = r->width ? r->width : cfg.gp_width;
    cfg.perf_capabilities = r->no_fw_write ? 0 : VPMU_PERF_CAP_FW_WRITE;
    g_assert_true(vpmu_config_check(&cfg, &error_abort));
    fixture_init(t, &cfg);
    vpmu_cpuid_0xa(&cfg, &regs[0], &regs[1], &regs[2], &regs[3]);

    fake_run_ops(t, r->ops, ARRAY_SIZE(r->ops), run_own_op, regs);
    vpmu_release_all(&t->s);
    g_free(t);
}

/* Design: toggling only enable bits never re-creates the host event. */
static void test_enable_fast_path(Fixture *t, gconstpointer data)
{
    int i;

    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    g_assert_cmpuint(t->f.programs, ==, 1);
    for (i = 0; i < 10; i++) {
        wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
        wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
        wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES & ~VPMU_EVTSEL_EN);
        wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    }
    g_assert_cmpuint(t->f.programs, ==, 1);
    g_assert_cmpuint(t->f.releases, ==, 0);
    g_assert_cmpuint(t->f.enables, ==, 21);
    g_assert_cmpuint(t->f.disables, ==, 20);
}

/* Design: a new event folds the old count and programs a new event. */
static void test_event_change_keeps_count(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 70);
    wr(t, VPMU_MSR_PERFEVTSEL0, VPMU_EVTSEL_EN | VPMU_EVTSEL_USR |
       VPMU_EVENT_INST_RETIRED);
    g_assert_cmpuint(t->f.programs, ==, 2);
    g_assert_cmphex(t->f.event[0].eventsel, ==,
                    VPMU_EVTSEL_USR | VPMU_EVENT_INST_RETIRED);
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 75);
}

/* Design: writing a count while counting never re-creates the event. */
static void test_value_write_while_counting(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 1000);
    wr(t, VPMU_MSR_PMC0, 10);
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 15);
    g_assert_cmpuint(t->f.programs, ==, 1);
}

/* Design: an event the host cannot count leaves the counter frozen. */
static void test_unsupported_event_frozen(Fixture *t, gconstpointer data)
{
    t->f.refuse = true;
    wr(t, VPMU_MSR_PMC0, 42);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 42);
}

/* SDM: RESET restores power-up values; the host events are released. */
static void test_reset_releases(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 10);
    vpmu_reset(&t->s);
    g_assert_false(t->f.programmed[0]);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_PERFEVTSEL0), ==, 0);
}

/*
 * Design: the host signals exactly when the guest counter would wrap: the
 * period is the distance to overflow, re-armed on writes and overflows.
 */
static void test_overflow_period(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PMC0, (uint32_t)-100);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES | VPMU_EVTSEL_INT);
    g_assert_cmpuint(t->f.period[0], ==, 100);
    fake_tick(&t->f, 30);
    wr(t, VPMU_MSR_PMC0, (uint32_t)-50);
    g_assert_cmpuint(t->f.period[0], ==, 50);
    fake_tick(&t->f, 60);                       /* the signal would fire */
    g_assert_cmphex(vpmu_poll(&t->s), ==, 1);
    g_assert_true(t->s.pmi_pending);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 10);
    g_assert_cmpuint(t->f.period[0], ==, (1ULL << 48) - 10);
}

/* Design: a fixed counter's ring field toggles like an enable bit. */
static void test_fixed_counter(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x30);       /* fixed 1: OS|USR */
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1ULL << 33);
    fake_tick(&t->f, 50);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0 + 1), ==, 50);
    g_assert_true(t->f.event[VPMU_MAX_GP + 1].fixed);
    g_assert_cmphex(t->f.event[VPMU_MAX_GP + 1].eventsel, ==,
                    VPMU_EVENT_CORE_CYCLES | VPMU_EVTSEL_OS | VPMU_EVTSEL_USR);
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0);
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x30);
    g_assert_cmpuint(t->f.programs, ==, 1);
    /* Only counting USR is a new event. */
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x20);
    g_assert_cmpuint(t->f.programs, ==, 2);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0 + 1), ==, 50);
}

/*
 * Migration: the saved state folds host counts in; loading brings back
 * every register, re-creates host events, and refuses a stream for
 * another configuration or with reserved bits, like guest input.
 */
static void test_save_load(Fixture *t, gconstpointer data)
{
    VPMUSavedState st;
    Fixture *dst = g_new0(Fixture, 1);
    VPMUConfig cfg;
    Error *err = NULL;

    wr(t, VPMU_MSR_PERFEVTSEL0 + 1, EVTSEL_CYCLES | VPMU_EVTSEL_INT);
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x30);
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0x200000002ULL);
    wr(t, VPMU_MSR_DEBUGCTL, VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI);
    fake_tick(&t->f, 1234);
    vpmu_save_state(&t->s, &st);
    g_assert_cmphex(st.value[1], ==, 1234);

    vpmu_config_default(&cfg);
    fixture_init(dst, &cfg);
    g_assert_true(vpmu_load_state(&dst->s, &st, &error_abort));
    g_assert_cmphex(rd(dst, VPMU_MSR_PMC0 + 1), ==, 1234);
    g_assert_cmphex(rd(dst, VPMU_MSR_PERF_GLOBAL_CTRL), ==, 0x200000002ULL);
    g_assert_cmphex(rd(dst, VPMU_MSR_DEBUGCTL), ==,
                    VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI);
    g_assert_true(dst->f.enabled[1]);               /* counting again */
    fake_tick(&dst->f, 6);
    g_assert_cmphex(rd(dst, VPMU_MSR_PMC0 + 1), ==, 1240);
    vpmu_release_all(&dst->s);

    cfg.nr_gp = 8;
    fixture_init(dst, &cfg);
    g_assert_false(vpmu_load_state(&dst->s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "pmu-gp-counters=4"));
    error_free(err);
    err = NULL;

    vpmu_config_default(&cfg);
    fixture_init(dst, &cfg);
    st.eventsel[0] = 1ULL << 40;                    /* reserved */
    g_assert_false(vpmu_load_state(&dst->s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_PERFEVTSEL0 = "
                            "0x10000000000 sets bits 0x10000000000"));
    error_free(err);
    err = NULL;
    g_assert_cmphex(rd(dst, VPMU_MSR_PERF_GLOBAL_CTRL), ==, 0xf); /* reset */
    st.eventsel[0] = 0;
    vpmu_release_all(&dst->s);
    g_free(dst);
}

/*
 * A stream is checked like guest input, and a refusal names the field
 * that is wrong: a counter wider than the PMU's, a counter the PMU does
 * not have, another IA32_PERF_CAPABILITIES.
 */
static void test_load_checks(Fixture *t, gconstpointer data)
{
    VPMUSavedState st;
    VPMUConfig cfg;
    Error *err = NULL;
    Fixture dst;

    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    vpmu_save_state(&t->s, &st);
    vpmu_config_default(&cfg);

    fixture_init(&dst, &cfg);
    st.value[0] = 1ULL << 48;                       /* a 48-bit PMU */
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_A_PMC0 = "
                            "0x1000000000000 does not fit this PMU's "
                            "48-bit counters"));
    g_clear_pointer(&err, error_free);
    g_assert_cmphex(rd(&dst, VPMU_MSR_PMC0), ==, 0);
    st.value[0] = 0;

    st.value[VPMU_MAX_GP + 1] = 1ULL << 48;
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_FIXED_CTR1"));
    g_clear_pointer(&err, error_free);
    st.value[VPMU_MAX_GP + 1] = 0;

    /* Counter 5 of a 4-counter PMU: PMC5 is named, not PERFEVTSEL5. */
    st.value[5] = 5;
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_PMC5 = 0x5, but "
                            "this PMU has 4 general-purpose counters"));
    g_clear_pointer(&err, error_free);
    st.value[5] = 0;
    st.eventsel[6] = EVTSEL_CYCLES;
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_PERFEVTSEL6"));
    g_clear_pointer(&err, error_free);
    st.eventsel[6] = 0;
    st.value[VPMU_MAX_GP + 3] = 7;
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "IA32_FIXED_CTR3 = 0x7, "
                            "but this PMU has 3 fixed counters"));
    g_clear_pointer(&err, error_free);
    st.value[VPMU_MAX_GP + 3] = 0;

    /* Saved with full-width writes, loaded without. */
    cfg.perf_capabilities = 0;
    fixture_init(&dst, &cfg);
    g_assert_false(vpmu_load_state(&dst.s, &st, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "pmu-full-width-write"));
    g_clear_pointer(&err, error_free);

    vpmu_config_default(&cfg);
    fixture_init(&dst, &cfg);
    g_assert_true(vpmu_load_state(&dst.s, &st, &error_abort));
    vpmu_release_all(&dst.s);
}

/*
 * RDPMC coherence asks for a counter's value after every PMU exit:
 * vpmu_slot_current_value() asks the host only for counters that may
 * have counted since their last fold (running, or stopped since).
 */
static void test_current_value_reads(Fixture *t, gconstpointer data)
{
    unsigned reads;

    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 10);
    reads = t->f.reads;
    g_assert_cmphex(vpmu_slot_current_value(&t->s, 0), ==, 10);
    g_assert_cmpuint(t->f.reads, ==, reads + 1);        /* running */
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    fake_tick(&t->f, 5);                        /* stopped: not counted */
    reads = t->f.reads;
    g_assert_cmphex(vpmu_slot_current_value(&t->s, 0), ==, 10);
    g_assert_cmpuint(t->f.reads, ==, reads + 1);        /* stopped since */
    g_assert_cmphex(vpmu_slot_current_value(&t->s, 0), ==, 10);
    g_assert_cmphex(vpmu_slot_current_value(&t->s, 1), ==, 0);
    g_assert_cmpuint(t->f.reads, ==, reads + 1);        /* folded: exact */
}

/* Configuration limits, with errors that name the -cpu property. */
static void test_config_check(void)
{
    static const struct {
        VPMUConfig cfg;
        const char *error;
    } cases[] = {
        { { 2, 9, 3, 48, 48 }, "pmu-gp-counters=9 is out of range 1..8" },
        { { 2, 0, 3, 48, 48 }, "pmu-gp-counters=0 is out of range 1..8" },
        { { 1, 4, 3, 48, 48 }, "pmu-version=1 is out of range 2..5" },
        { { 6, 4, 3, 48, 48 }, "pmu-version=6 is out of range 2..5" },
        { { 2, 4, 5, 48, 48 }, "pmu-fixed-counters=5 is out of range 0..4" },
        { { 2, 4, 3, 31, 31 }, "pmu-counter-width=31 is out of range 32..63" },
        { { 2, 4, 3, 48, 48, 1 }, "IA32_PERF_CAPABILITIES bits 0x1" },
        { { 5, 8, 4, 63, 63 }, NULL },
        { { 2, 1, 0, 32, 32 }, NULL },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        Error *err = NULL;
        bool ok = vpmu_config_check(&cases[i].cfg, &err);

        g_assert_cmpint(ok, ==, !cases[i].error);
        if (cases[i].error) {
            g_assert_nonnull(strstr(error_get_pretty(err), cases[i].error));
            error_free(err);
        }
    }
}

/* Defaults follow the host's CPUID 0xA, capped at what we implement. */
static void test_config_from_host(void)
{
    VPMUConfig cfg;

    vpmu_config_from_host(&cfg, 0, 0);          /* no host PMU */
    g_assert_cmpint(cfg.version, ==, 2);
    g_assert_cmpint(cfg.nr_gp, ==, 4);
    g_assert_cmpint(cfg.nr_fixed, ==, 3);
    g_assert_cmpint(cfg.gp_width, ==, 48);
    /* Sapphire Rapids-like: v5, 8 GP x 48, 4 fixed x 48. */
    vpmu_config_from_host(&cfg, 0x08300805, 0x8604);
    g_assert_cmpint(cfg.version, ==, 5);
    g_assert_cmpint(cfg.nr_gp, ==, 8);
    g_assert_cmpint(cfg.nr_fixed, ==, 4);
    /* A future host with more than we implement is capped. */
    vpmu_config_from_host(&cfg, 0x0830100a, 0x8607);
    g_assert_cmpint(cfg.version, ==, 5);
    g_assert_cmpint(cfg.nr_gp, ==, 8);
    g_assert_cmpint(cfg.nr_fixed, ==, 4);
    /* Version 1 has no global registers: defaults instead. */
    vpmu_config_from_host(&cfg, 0x07280201, 0);
    g_assert_cmpint(cfg.version, ==, 2);
    g_assert_true(vpmu_config_check(&cfg, &error_abort));
}

/*
 * Host policy: reclaim releases every host event (stopped ones too) and
 * freezes the counts; the guest's registers keep working; restore
 * re-creates the events and counting resumes from the frozen value.
 */
static void test_reclaim_restore(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    wr(t, VPMU_MSR_PERFEVTSEL0 + 1, EVTSEL_CYCLES);
    wr(t, VPMU_MSR_PERFEVTSEL0 + 1, EVTSEL_CYCLES & ~VPMU_EVTSEL_EN);
    fake_tick(&t->f, 40);
    vpmu_set_reclaimed(&t->s, true);
    g_assert_false(t->f.programmed[0]);
    g_assert_false(t->f.programmed[1]);
    g_assert_cmpint(vpmu_slot_blocked(&t->s, 0), ==, VPMU_HOST_RECLAIMED);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 40);

    /* The guest still owns its registers; nothing reaches the host. */
    wr(t, VPMU_MSR_PMC0, 7);
    wr(t, VPMU_MSR_PERFEVTSEL0 + 2, EVTSEL_CYCLES);
    g_assert_false(t->f.programmed[2]);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 7);
    g_assert_true(vpmu_slot_counting(&t->s, 2));

    vpmu_set_reclaimed(&t->s, false);
    g_assert_true(t->f.programmed[0] && t->f.enabled[0]);
    g_assert_true(t->f.programmed[2] && t->f.enabled[2]);
    g_assert_false(t->f.programmed[1]);     /* the guest has it stopped */
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 12);
}

/*
 * Host policy, as KVM's event filter: a deny list stops the listed
 * (event, umask) on GP counters and the listed fixed counters; the counter
 * reads as frozen; removing the filter lets it count again.
 */
static void test_filter_deny(Fixture *t, gconstpointer data)
{
    VPMUEventFilter f;

    g_assert_true(vpmu_filter_parse("deny;0x3c;fixed=0x2", &f,
                                    &error_abort));
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    wr(t, VPMU_MSR_PERFEVTSEL0 + 1, VPMU_EVTSEL_EN | VPMU_EVTSEL_OS |
       VPMU_EVENT_REF_CYCLES);
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x33);
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0x30000000fULL);
    fake_tick(&t->f, 10);
    vpmu_set_filter(&t->s, &f);
    g_assert_cmpint(vpmu_slot_blocked(&t->s, 0), ==, VPMU_HOST_FILTERED);
    g_assert_cmpint(vpmu_slot_blocked(&t->s, 1), ==, VPMU_HOST_ALLOWED);
    g_assert_cmpint(vpmu_slot_blocked(&t->s, VPMU_MAX_GP), ==,
                    VPMU_HOST_ALLOWED);
    g_assert_cmpint(vpmu_slot_blocked(&t->s, VPMU_MAX_GP + 1), ==,
                    VPMU_HOST_FILTERED);
    g_assert_false(t->f.programmed[0]);
    g_assert_false(t->f.programmed[VPMU_MAX_GP + 1]);
    fake_tick(&t->f, 10);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 10);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0 + 1), ==, 20);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0), ==, 20);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0 + 1), ==, 10);

    vpmu_set_filter(&t->s, NULL);
    fake_tick(&t->f, 3);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 13);
}

/* An allow list lets only what it lists count: umask matters. */
static void test_filter_allow(Fixture *t, gconstpointer data)
{
    VPMUEventFilter f;

    g_assert_true(vpmu_filter_parse("allow;0x3c:0x01;fixed=0x1", &f,
                                    &error_abort));
    vpmu_set_filter(&t->s, &f);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);         /* umask 0 */
    wr(t, VPMU_MSR_PERFEVTSEL0 + 1, VPMU_EVTSEL_EN | VPMU_EVTSEL_OS |
       VPMU_EVENT_REF_CYCLES);                          /* umask 1 */
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x33);
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0x30000000fULL);
    g_assert_false(t->f.programmed[0]);
    g_assert_true(t->f.programmed[1]);
    g_assert_true(t->f.programmed[VPMU_MAX_GP]);
    g_assert_false(t->f.programmed[VPMU_MAX_GP + 1]);
}

/*
 * Filter codes: AMD's 12-bit selects (select bits 11:8 in PerfEvtSel
 * bits 35:32) match as select[11:8] << 16; Intel's bits 35:32 are no
 * select bits, so an Intel event never matches a select above 0xff.
 */
static void test_filter_codes(void)
{
    const VPMUHostEvent amd = {
        .arch = VPMU_ARCH_AMD, .eventsel = 0x1000303c7ULL,
    };
    const VPMUHostEvent amd_low = {
        .arch = VPMU_ARCH_AMD, .eventsel = 0x303c7,
    };
    const VPMUHostEvent intel = {
        .arch = VPMU_ARCH_INTEL, .eventsel = 0x1000303c7ULL,
    };
    VPMUEventFilter f;

    g_assert_true(vpmu_filter_parse("allow;0x1c7:0x3", &f, &error_abort));
    g_assert_cmphex(f.events[0], ==, 0x103c7);
    g_assert_true(vpmu_filter_allows(&f, &amd));
    g_assert_false(vpmu_filter_allows(&f, &amd_low));
    g_assert_false(vpmu_filter_allows(&f, &intel));
    g_assert_true(vpmu_filter_parse("allow;0xc7:0x3", &f, &error_abort));
    g_assert_false(vpmu_filter_allows(&f, &amd));
    g_assert_true(vpmu_filter_allows(&f, &amd_low));
    g_assert_true(vpmu_filter_allows(&f, &intel));
    g_assert_true(vpmu_filter_parse("deny;0xfff:0xff", &f, &error_abort));
    g_assert_cmphex(f.events[0], ==, 0xfffff);
    /* What QMP builds from a select above 0xfff. */
    f.events[0] = 0x100000;
    g_assert_false(vpmu_filter_check(&f, NULL));
}

/* The filter's command-line form: what it accepts and what it refuses. */
static void test_filter_parse(void)
{
    static const char *const bad[] = {
        "", "permit;0x3c", "deny;0x1000", "deny;0x3c:0x100", "deny;zz",
        "deny;;0x3c", "deny;fixed=0x10", "deny;fixed=x",
    };
    g_autoptr(GString) many = g_string_new("allow");
    VPMUEventFilter f;
    unsigned i;

    g_assert_true(vpmu_filter_parse("deny", &f, &error_abort));
    g_assert_true(f.deny && f.nevents == 0 && f.fixed_bitmap == 0);
    g_assert_true(vpmu_filter_parse("allow;0xc0;60:0x4f;fixed=0xf", &f,
                                    &error_abort));
    g_assert_false(f.deny);
    g_assert_cmpuint(f.nevents, ==, 2);
    g_assert_cmphex(f.events[0], ==, 0x00c0);
    g_assert_cmphex(f.events[1], ==, 0x4f3c);
    g_assert_cmphex(f.fixed_bitmap, ==, 0xf);
    for (i = 0; i < ARRAY_SIZE(bad); i++) {
        Error *err = NULL;

        g_assert_false(vpmu_filter_parse(bad[i], &f, &err));
        g_assert_nonnull(err);
        error_free(err);
    }
    for (i = 0; i <= VPMU_FILTER_MAX_EVENTS; i++) {
        g_string_append_printf(many, ";%u", i);
    }
    g_assert_false(vpmu_filter_parse(many->str, &f, NULL));
}

/* Statistics tell fast-path toggles from event changes. */
static void test_model_stats(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES | VPMU_EVTSEL_INV);
    g_assert_cmpuint(t->s.stats.programs, ==, 2);
    g_assert_cmpuint(t->s.stats.toggles, ==, 2);
    wr(t, VPMU_MSR_PMC0, t->s.gp_mask);
    fake_tick(&t->f, 2);
    rd(t, VPMU_MSR_PMC0);
    g_assert_cmpuint(t->s.stats.overflows, ==, 1);
}

#define ADD(name, fn) \
    g_test_add("/vpmu/model/" name, Fixture, NULL, fixture_setup, fn, \
               fixture_teardown)

int main(int argc, char **argv)
{
    unsigned i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(rules); i++) {
        g_autofree char *path = g_strdup_printf("/vpmu/sdm/%s",
                                                rules[i].rule);
        g_test_add_data_func(path, &rules[i], run_rule);
    }
    ADD("enable-fast-path", test_enable_fast_path);
    ADD("event-change-keeps-count", test_event_change_keeps_count);
    ADD("value-write-while-counting", test_value_write_while_counting);
    ADD("fixed-counter", test_fixed_counter);
    ADD("overflow-period", test_overflow_period);
    ADD("save-load", test_save_load);
    ADD("load-checks", test_load_checks);
    ADD("current-value-reads", test_current_value_reads);
    ADD("unsupported-event-frozen", test_unsupported_event_frozen);
    ADD("reset-releases", test_reset_releases);
    ADD("reclaim-restore", test_reclaim_restore);
    ADD("filter-deny", test_filter_deny);
    ADD("filter-allow", test_filter_allow);
    ADD("stats", test_model_stats);
    g_test_add_func("/vpmu/model/filter-parse", test_filter_parse);
    g_test_add_func("/vpmu/model/filter-codes", test_filter_codes);
    g_test_add_func("/vpmu/model/config-check", test_config_check);
    g_test_add_func("/vpmu/model/config-from-host", test_config_from_host);
    return g_test_run();
}
