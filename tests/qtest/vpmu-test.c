/*
 * qemu-vpmu: qtest of the userspace vPMU's QOM interface under KVM
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest-visible behaviour is tested by the guest programs in tests/guest;
 * this checks what management sees: the -cpu pmu-* properties, the
 * accelerator's vpmu choice, and the vCPU's x-vpmu-stats.  query-vpmu and
 * reclaim/restore (issue 6) will be tested here too.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"

#define CPU0 "/machine/unattached/device[0]"

/* These tests need KVM: say so loudly instead of passing quietly. */
static bool have_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR);

    if (fd < 0) {
        g_printerr("vpmu-test: FAIL: needs /dev/kvm (%s)\n",
                   strerror(errno));
        g_test_fail();
        return false;
    }
    close(fd);
    return true;
}

static QDict *qom_get(QTestState *qts, const char *prop)
{
    return qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': %s, 'property': %s } }", CPU0, prop);
}

static int64_t qom_get_int(QTestState *qts, const char *prop)
{
    QDict *resp = qom_get(qts, prop);
    int64_t v;

    g_assert(qdict_haskey(resp, "return"));
    v = qdict_get_int(resp, "return");
    qobject_unref(resp);
    return v;
}

/* The pmu-* properties hold what -cpu said; -1 follows the host. */
static void test_properties(void)
{
    QTestState *qts;

    if (!have_kvm()) {
        return;
    }
    qts = qtest_init("-accel kvm -cpu host,pmu=on,pmu-gp-counters=6,"
                     "pmu-version=4 -S");
    g_assert_cmpint(qom_get_int(qts, "pmu-gp-counters"), ==, 6);
    g_assert_cmpint(qom_get_int(qts, "pmu-version"), ==, 4);
    g_assert_cmpint(qom_get_int(qts, "pmu-fixed-counters"), ==, -1);
    qtest_quit(qts);
}

/* A stopped guest has made no exit and holds no host event. */
static void test_stats_at_start(void)
{
    QTestState *qts;
    QDict *resp, *stats;

    if (!have_kvm()) {
        return;
    }
    qts = qtest_init("-accel kvm -cpu host,pmu=on -S");
    resp = qom_get(qts, "x-vpmu-stats");
    g_assert(qdict_haskey(resp, "return"));
    stats = qdict_get_qdict(resp, "return");
    g_assert_cmpint(qdict_get_int(stats, "msr-exits"), ==, 0);
    g_assert_cmpint(qdict_get_int(stats, "open-fds"), ==, 0);
    g_assert_cmpint(qdict_get_int(stats, "perf-opens"), ==, 0);
    g_assert(qdict_haskey(stats, "pmis"));
    qobject_unref(resp);
    qtest_quit(qts);
}

/* -accel kvm,vpmu=kvm leaves the PMU to KVM: no userspace vPMU at all. */
static void test_vpmu_kvm(void)
{
    QTestState *qts;
    QDict *resp;

    if (!have_kvm()) {
        return;
    }
    qts = qtest_init("-accel kvm,vpmu=kvm -cpu host,pmu=on -S");
    resp = qom_get(qts, "x-vpmu-stats");
    g_assert(qdict_haskey(resp, "error"));
    qobject_unref(resp);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/vpmu/properties", test_properties);
    qtest_add_func("/vpmu/stats-at-start", test_stats_at_start);
    qtest_add_func("/vpmu/vpmu-kvm", test_vpmu_kvm);
    return g_test_run();
}
