/*
 * qemu-vpmu: unit tests of the exact-counting backend (vpmu-exact.c)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The backend sits between the register model and a host backend; here
 * the host backend is a fake that records what reaches it, and the
 * model is the real one, so that a guest's MSR writes drive the test.
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-exact.h"

typedef struct Inner {
    unsigned programs, releases;
    bool enabled[VPMU_MAX_COUNTERS];
    uint64_t count[VPMU_MAX_COUNTERS];
} Inner;

static bool inner_program(void *opaque, unsigned slot,
                          const VPMUHostEvent *ev, uint64_t period)
{
    Inner *in = opaque;

    in->programs++;
    in->count[slot] = 0;
    return true;
}

static void inner_set_period(void *opaque, unsigned slot, uint64_t period)
{
}

static void inner_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    ((Inner *)opaque)->enabled[slot] = enabled;
}

static uint64_t inner_read(void *opaque, unsigned slot)
{
    return ((Inner *)opaque)->count[slot];
}

static void inner_release(void *opaque, unsigned slot)
{
    ((Inner *)opaque)->releases++;
}

static const VPMUBackendOps inner_ops = {
    .program = inner_program,
    .set_period = inner_set_period,
    .set_enabled = inner_set_enabled,
    .read = inner_read,
    .release = inner_release,
};

typedef struct Fixture {
    Inner inner;
    VPMUExact *ex;
    VPMUState s;
} Fixture;

static void setup(Fixture *f)
{
    VPMUConfig cfg;

    memset(&f->inner, 0, sizeof(f->inner));
    vpmu_config_default(&cfg);
    f->ex = vpmu_exact_new(&inner_ops, &f->inner);
    vpmu_state_init(&f->s, &cfg, &vpmu_exact_ops, f->ex);
}

static void teardown(Fixture *f)
{
    vpmu_release_all(&f->s);
    vpmu_exact_free(f->ex);
}

static void wr(Fixture *f, uint32_t msr, uint64_t val)
{
    g_assert_true(vpmu_msr_write(&f->s, msr, val, false));
    vpmu_sync(&f->s);
}

static uint64_t rd(Fixture *f, uint32_t msr)
{
    uint64_t val;

    g_assert_true(vpmu_msr_read(&f->s, msr, &val, false));
    return val;
}

static void retire(Fixture *f, unsigned n, uint8_t cpl, bool branch)
{
    VPMUExactRetired r = { .cpl = cpl, .branch = branch };

    while (n--) {
        vpmu_exact_retire(f->ex, &r);
    }
}

#define EN_BOTH (VPMU_EVTSEL_EN | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS)

/* Stepping runs exactly while an exact counter effectively counts. */
static void test_stepping_follows_enables(void)
{
    Fixture f;

    setup(&f);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 0);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc0 | EN_BOTH);
    /* Enabled, but its GLOBAL_CTRL bit is clear: not counting yet. */
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 0);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 1);
    vpmu_set_reclaimed(&f.s, true);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 0);
    vpmu_set_reclaimed(&f.s, false);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 1);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc0 | VPMU_EVTSEL_USR);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 0);
    /* Cycles go to the host backend; nothing steps for them. */
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0x3c | EN_BOTH);
    g_assert_cmphex(vpmu_exact_stepping(f.ex), ==, 0);
    g_assert_cmphex(vpmu_exact_owned(f.ex), ==, 0);
    g_assert_true(f.inner.enabled[0]);
    teardown(&f);
}

/* USR and OS follow the CPL the instruction retired at. */
static void test_cpl_and_branches(void)
{
    Fixture f;

    setup(&f);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc0 | VPMU_EVTSEL_EN | VPMU_EVTSEL_USR);
    wr(&f, VPMU_MSR_PERFEVTSEL0 + 1, 0xc0 | VPMU_EVTSEL_EN | VPMU_EVTSEL_OS);
    wr(&f, VPMU_MSR_PERFEVTSEL0 + 2, 0xc4 | EN_BOTH);
    wr(&f, VPMU_MSR_FIXED_CTR_CTRL, 0x3);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 0x7 | 1ULL << VPMU_FIXED_BASE_BIT);
    retire(&f, 5, 3, false);
    retire(&f, 2, 3, true);
    retire(&f, 7, 0, false);
    retire(&f, 1, 0, true);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 7);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0 + 1), ==, 8);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0 + 2), ==, 3);
    g_assert_cmpuint(rd(&f, VPMU_MSR_FIXED_CTR0), ==, 15);
    /* A stopped counter keeps its count and counts no more. */
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    retire(&f, 4, 0, true);
    g_assert_cmpuint(rd(&f, VPMU_MSR_FIXED_CTR0), ==, 15);
    g_assert_cmpuint(f.inner.programs, ==, 0);
    teardown(&f);
}

/* CMASK, INV and EDGE, one step standing for one cycle. */
static void test_cmask_inv_edge(void)
{
    Fixture f;
    static const bool seq[] = { 1, 1, 0, 1, 0, 0, 1, 1, 1 };
    unsigned i;

    setup(&f);
    /* branches >= 1: the branch steps. */
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc4 | EN_BOTH | 1ULL << 24);
    /* branches < 1: the other steps. */
    wr(&f, VPMU_MSR_PERFEVTSEL0 + 1,
       0xc4 | EN_BOTH | VPMU_EVTSEL_INV | 1ULL << 24);
    /* rising edges of "a branch retired". */
    wr(&f, VPMU_MSR_PERFEVTSEL0 + 2,
       0xc4 | EN_BOTH | VPMU_EVTSEL_EDGE | 1ULL << 24);
    /* instructions >= 2 in a step: never. */
    wr(&f, VPMU_MSR_PERFEVTSEL0 + 3, 0xc0 | EN_BOTH | 2ULL << 24);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    for (i = 0; i < ARRAY_SIZE(seq); i++) {
        retire(&f, 1, 0, seq[i]);
    }
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 6);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0 + 1), ==, 3);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0 + 2), ==, 3);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0 + 3), ==, 0);
    teardown(&f);
}

/* The overflow lands on the exact instruction: no skid. */
static void test_overflow_exact(void)
{
    Fixture f;
    VPMUExactRetired r = { .cpl = 0 };
    uint64_t mask = (1ULL << 48) - 1;
    unsigned k = 0;

    setup(&f);
    g_assert_true(vpmu_msr_write(&f.s, VPMU_MSR_A_PMC0, mask - 9, false));
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc0 | EN_BOTH | VPMU_EVTSEL_INT);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    do {
        k++;
        g_assert_cmpuint(k, <=, 10);
    } while (!vpmu_exact_retire(f.ex, &r));
    g_assert_cmpuint(k, ==, 10);
    g_assert_cmphex(vpmu_poll(&f.s) & 1, ==, 1);
    g_assert_true(f.s.pmi_pending);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 0);
    /* Re-armed for the next wrap, a full period away. */
    retire(&f, 5, 0, false);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 5);
    teardown(&f);
}

/* A slot moving between exact and host events changes hands cleanly. */
static void test_hand_over(void)
{
    Fixture f;

    setup(&f);
    wr(&f, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0x3c | EN_BOTH);
    f.inner.count[0] = 100;
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 100);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0xc0 | EN_BOTH);
    g_assert_cmpuint(f.inner.releases, ==, 1);
    retire(&f, 3, 0, false);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 103);
    wr(&f, VPMU_MSR_PERFEVTSEL0, 0x3c | EN_BOTH);
    g_assert_cmpuint(f.inner.programs, ==, 2);
    g_assert_cmphex(vpmu_exact_owned(f.ex), ==, 0);
    retire(&f, 3, 0, false);
    g_assert_cmpuint(rd(&f, VPMU_MSR_PMC0), ==, 103);
    teardown(&f);
}

/*
 * AMD guests (events as the AMD model hands them on): retired
 * instructions (0xC0) and retired branch instructions (0xC2), umask 0
 * and select bits 11:8 clear, count here; 0xC4 (AMD's taken branches),
 * 0xC2 with a umask or as select 0x1C2 do not.  Intel keeps 0xC0 and
 * 0xC4, never 0xC2.
 */
static void test_amd_events(void)
{
    static const struct {
        int arch;
        uint64_t eventsel;
        bool exact;
    } cases[] = {
        { VPMU_ARCH_AMD, 0x00c0, true },
        { VPMU_ARCH_AMD, 0x00c2, true },
        { VPMU_ARCH_AMD, 0x00c4, false },
        { VPMU_ARCH_AMD, 0x01c2, false },
        { VPMU_ARCH_AMD, 0x1000000c2ULL, false },
        { VPMU_ARCH_AMD, 0x1000000c0ULL, false },
        { VPMU_ARCH_INTEL, 0x00c0, true },
        { VPMU_ARCH_INTEL, 0x00c4, true },
        { VPMU_ARCH_INTEL, 0x00c2, false },
        { VPMU_ARCH_INTEL, 0x1000000c4ULL, true },  /* no select bits */
    };
    VPMUHostEvent br = {
        .arch = VPMU_ARCH_AMD, .index = 0,
        .eventsel = 0x00c2 | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS,
    };
    VPMUHostEvent insn = {
        .arch = VPMU_ARCH_AMD, .index = 1,
        .eventsel = 0x00c0 | VPMU_EVTSEL_OS,
    };
    Inner inner = { 0 };
    VPMUExact *ex;
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        VPMUHostEvent ev = {
            .arch = cases[i].arch, .eventsel = cases[i].eventsel,
        };

        g_test_message("arch %d eventsel 0x%" PRIx64, cases[i].arch,
                       cases[i].eventsel);
        g_assert_cmpint(vpmu_exact_event(&ev), ==, cases[i].exact);
    }

    ex = vpmu_exact_new(&inner_ops, &inner);
    g_assert_true(vpmu_exact_ops.program(ex, 0, &br, 0));
    g_assert_true(vpmu_exact_ops.program(ex, 1, &insn, 0));
    vpmu_exact_ops.set_enabled(ex, 0, true);
    vpmu_exact_ops.set_enabled(ex, 1, true);
    g_assert_cmphex(vpmu_exact_stepping(ex), ==, 0x3);
    g_assert_cmpuint(inner.programs, ==, 0);
    for (i = 0; i < 5; i++) {
        VPMUExactRetired r = { .cpl = i < 3 ? 0 : 3, .branch = i & 1 };

        vpmu_exact_retire(ex, &r);
    }
    g_assert_cmpuint(vpmu_exact_ops.read(ex, 0), ==, 2);
    g_assert_cmpuint(vpmu_exact_ops.read(ex, 1), ==, 3);
    vpmu_exact_ops.release(ex, 0);
    vpmu_exact_ops.release(ex, 1);
    vpmu_exact_free(ex);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vpmu-exact/stepping-follows-enables",
                    test_stepping_follows_enables);
    g_test_add_func("/vpmu-exact/cpl-and-branches", test_cpl_and_branches);
    g_test_add_func("/vpmu-exact/cmask-inv-edge", test_cmask_inv_edge);
    g_test_add_func("/vpmu-exact/overflow-exact", test_overflow_exact);
    g_test_add_func("/vpmu-exact/hand-over", test_hand_over);
    g_test_add_func("/vpmu-exact/amd-events", test_amd_events);
    return g_test_run();
}
