/*
 * qemu-vpmu: the host event tables, checked against libpfm4's for a
 * forced CPU (LIBPFM_FORCE_PMU), like libpfm4's own validate_x86.c
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libpfm reads LIBPFM_FORCE_PMU once, when it initializes, so each forced
 * CPU's tables are checked in a subprocess of their own.
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-events.h"

typedef struct EventCase {
    uint64_t eventsel;
    const char *name;       /* NULL: not an event of this PMU */
} EventCase;

/* Skylake: what a guest's PERFEVTSELx event/umask means on that host. */
static const EventCase skl_events[] = {
    { 0x003c, "skl::UNHALTED_CORE_CYCLES" },
    { 0x00c0, "skl::INSTRUCTION_RETIRED" },
    { 0x013c, "skl::CPU_CLK_THREAD_UNHALTED:REF_XCLK" },
    { 0x0300, "skl::UNHALTED_REFERENCE_CYCLES" },
    { 0x412e, "skl::LONGEST_LAT_CACHE:MISS" },
    { 0x00c4, "skl::BRANCH_INSTRUCTIONS_RETIRED" },
    /* USR/OS/EN/INT do not change which event it is. */
    { 0x5300c0 | VPMU_EVTSEL_INT, "skl::INSTRUCTION_RETIRED" },
    /* Intel's bits 35:32 are no select bits. */
    { 0x1000000c0ULL, "skl::INSTRUCTION_RETIRED" },
    { 0xffff, NULL },
    { 0x00ee, NULL },
};

/*
 * Zen 3: libpfm holds AMD's 12-bit select in its event code; a guest's
 * PerfEvtSel has select bits 11:8 in bits 35:32.
 */
#define ZEN3 "amd64_fam19h_zen3::"
static const EventCase zen3_events[] = {
    { 0x0076, ZEN3 "CYCLES_NOT_IN_HALT" },
    { 0x00c0, ZEN3 "RETIRED_INSTRUCTIONS" },
    { 0x00c2, ZEN3 "RETIRED_BRANCH_INSTRUCTIONS" },
    { 0x00c3, ZEN3 "RETIRED_BRANCH_INSTRUCTIONS_MISPREDICTED" },
    /* Select 0x1C7, without a unit mask. */
    { 0x1000000c7ULL, ZEN3 "RETIRED_BRANCH_MISPREDICTED_DIRECTION_MISMATCH" },
    /* Neither select 0xC7 nor 0xC7 with umask 0x01 is that event. */
    { 0x00c7, NULL },
    { 0x01c7, NULL },
    /* Selects 0x18E and 0x28F with unit masks. */
    { 0x10000078eULL, ZEN3 "IC_TAG_HIT_MISS:IC_HIT" },
    { 0x20000038fULL, ZEN3 "OP_CACHE_HIT_MISS:OC_HIT" },
    { 0x038f, NULL },
    { 0x8045, ZEN3 "L1_DTLB_MISS:TLB_RELOAD_1G_L2_MISS" },
    /* An event with unit masks, without one: no event. */
    { 0x0045, NULL },
    /* USR/OS/EN/INT and Host-Only/Guest-Only do not change it. */
    { 0x30000530076ULL, ZEN3 "CYCLES_NOT_IN_HALT" },
    { 0xf000000ffULL, NULL },
};

/* Run the current test in a subprocess, with @pmu forced there. */
static bool in_subprocess(const char *pmu)
{
    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
        g_test_trap_assert_passed();
        return false;
    }
    /* Before libpfm initializes: the tables of a CPU we may not have. */
    g_setenv("LIBPFM_FORCE_PMU", pmu, true);
    return true;
}

static void check_table(int arch, const EventCase *cases, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        const char *name = NULL;
        VPMUEventCheck c = vpmu_event_lookup(arch, cases[i].eventsel, &name);

        g_test_message("eventsel 0x%" PRIx64, cases[i].eventsel);
        if (cases[i].name) {
            g_assert_cmpint(c, ==, VPMU_EVENT_KNOWN);
            g_assert_cmpstr(name, ==, cases[i].name);
        } else {
            g_assert_cmpint(c, ==, VPMU_EVENT_UNKNOWN);
        }
    }
}

static void test_skl_table(void)
{
    const char *name = NULL;

    if (!in_subprocess("skl")) {
        return;
    }
    g_assert_cmpstr(vpmu_events_init(VPMU_ARCH_INTEL), ==, "skl");
    check_table(VPMU_ARCH_INTEL, skl_events, ARRAY_SIZE(skl_events));

    /*
     * AMD guests on an Intel host: a Zen PMU's tables (the newest libpfm
     * has) name their events, but cannot say what this host lacks.
     */
    g_assert_true(g_str_has_prefix(vpmu_events_init(VPMU_ARCH_AMD),
                                   "amd64_fam"));
    g_assert_cmpint(vpmu_event_lookup(VPMU_ARCH_AMD, 0x0076, &name), ==,
                    VPMU_EVENT_KNOWN);
    g_assert_true(g_str_has_suffix(name, "::CYCLES_NOT_IN_HALT"));
    g_assert_cmpint(vpmu_event_lookup(VPMU_ARCH_AMD, 0xf000000ffULL, NULL),
                    ==, VPMU_EVENT_NO_TABLES);
}

static void test_zen3_table(void)
{
    if (!in_subprocess("amd64_fam19h_zen3")) {
        return;
    }
    g_assert_cmpstr(vpmu_events_init(VPMU_ARCH_AMD), ==,
                    "amd64_fam19h_zen3");
    check_table(VPMU_ARCH_AMD, zen3_events, ARRAY_SIZE(zen3_events));

    /* Intel guests on an AMD host: no tables (hardware mode is off). */
    g_assert_null(vpmu_events_init(VPMU_ARCH_INTEL));
    g_assert_cmpint(vpmu_event_lookup(VPMU_ARCH_INTEL, 0x003c, NULL), ==,
                    VPMU_EVENT_NO_TABLES);
}

/* The filter's and tables' event codes: Intel codes keep their values. */
static void test_event_codes(void)
{
    g_assert_cmphex(vpmu_event_code_of(0x3c, 0x01), ==, 0x013c);
    g_assert_cmphex(vpmu_event_code_of(0x1c7, 0x00), ==, 0x100c7);
    g_assert_cmphex(vpmu_event_code_of(0xfff, 0xff), ==, 0xfffff);
    g_assert_cmphex(vpmu_event_code_of(0x1000, 0), >, VPMU_EVENT_CODE_MAX);
    g_assert_cmphex(vpmu_event_code_select(0x3ff8f), ==, 0x38f);
    g_assert_cmphex(vpmu_event_code_umask(0x3ff8f), ==, 0xff);
    g_assert_cmphex(vpmu_event_code(VPMU_ARCH_AMD, 0x20053038fULL), ==,
                    0x2038f);
    g_assert_cmphex(vpmu_event_code(VPMU_ARCH_INTEL, 0x20053038fULL), ==,
                    0x038f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vpmu/events/skl", test_skl_table);
    g_test_add_func("/vpmu/events/zen3", test_zen3_table);
    g_test_add_func("/vpmu/events/codes", test_event_codes);
    return g_test_run();
}
