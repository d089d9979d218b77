/*
 * qemu-vpmu: the host event tables, checked against libpfm4's for a
 * forced CPU (LIBPFM_FORCE_PMU), like libpfm4's own validate_x86.c
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-events.h"

/* Skylake: what a guest's PERFEVTSELx event/umask means on that host. */
static const struct {
    uint64_t eventsel;
    const char *name;       /* NULL: not an event of this PMU */
} skl_events[] = {
    { 0x003c, "skl::UNHALTED_CORE_CYCLES" },
    { 0x00c0, "skl::INSTRUCTION_RETIRED" },
    { 0x013c, "skl::CPU_CLK_THREAD_UNHALTED:REF_XCLK" },
    { 0x0300, "skl::UNHALTED_REFERENCE_CYCLES" },
    { 0x412e, "skl::LONGEST_LAT_CACHE:MISS" },
    { 0x00c4, "skl::BRANCH_INSTRUCTIONS_RETIRED" },
    /* USR/OS/EN/INT do not change which event it is. */
    { 0x5300c0 | VPMU_EVTSEL_INT, "skl::INSTRUCTION_RETIRED" },
    { 0xffff, NULL },
    { 0x00ee, NULL },
};

static void test_skl_table(void)
{
    unsigned i;

    g_assert_cmpstr(vpmu_events_init(), ==, "skl");
    for (i = 0; i < ARRAY_SIZE(skl_events); i++) {
        const char *name = NULL;
        VPMUEventCheck c = vpmu_event_lookup(skl_events[i].eventsel, &name);

        g_test_message("eventsel 0x%" PRIx64, skl_events[i].eventsel);
        if (skl_events[i].name) {
            g_assert_cmpint(c, ==, VPMU_EVENT_KNOWN);
            g_assert_cmpstr(name, ==, skl_events[i].name);
        } else {
            g_assert_cmpint(c, ==, VPMU_EVENT_UNKNOWN);
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Before libpfm initializes: the tables of a CPU we may not have. */
    g_setenv("LIBPFM_FORCE_PMU", "skl", true);
    g_test_add_func("/vpmu/events/skl", test_skl_table);
    return g_test_run();
}
