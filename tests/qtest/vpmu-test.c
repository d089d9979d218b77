/*
 * qemu-vpmu: qtest of the userspace vPMU's QOM interface under KVM
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest-visible behaviour is tested by the guest programs in tests/guest;
 * this checks what management sees: the -cpu pmu-* properties, the
 * accelerator's vpmu choice, the vCPU's x-vpmu-stats, and the QMP
 * interface (query-vpmu, vpmu-reclaim/restore, the event filter and the
 * contention events).  Cases where the guest must count boot
 * tests/guest/idle.elf, found through $VPMU_GUEST_DIR (set by
 * tests/vpmu-check.py); without it they fail loudly.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"

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
    qts = qtest_init("-accel kvm -cpu host,pmu=on,pmu-arch=intel,"
                     "pmu-gp-counters=6,"
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
    qts = qtest_init("-accel kvm -cpu host,pmu=on,pmu-arch=intel -S");
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

/* The guest that counts forever: PMC0 and FIXED_CTR1, unhalted cycles. */
static char *counting_guest(void)
{
    const char *dir = g_getenv("VPMU_GUEST_DIR");
    char *path;

    if (!dir) {
        g_printerr("vpmu-test: FAIL: set VPMU_GUEST_DIR to the directory "
                   "of the test guests (build/guest/tests/guest)\n");
        g_test_fail();
        return NULL;
    }
    path = g_build_filename(dir, "idle.elf", NULL);
    if (access(path, R_OK)) {
        g_printerr("vpmu-test: FAIL: no guest %s\n", path);
        g_test_fail();
        g_free(path);
        return NULL;
    }
    return path;
}

/* QEMU with the counting guest, or NULL after failing the test. */
static QTestState *start_counting(const char *accel_opts)
{
    g_autofree char *guest = NULL;

    if (!have_kvm()) {
        return NULL;
    }
    guest = counting_guest();
    if (!guest) {
        return NULL;
    }
    return qtest_initf("-accel 'kvm%s' -cpu host,pmu=on,pmu-arch=intel "
                       "-kernel %s", accel_opts, guest);
}

/* query-vpmu's entry for vCPU 0 (a new reference). */
static QDict *vpmu_cpu0(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-vpmu' }");
    QList *list = qdict_get_qlist(resp, "return");
    QDict *cpu0;

    g_assert(list);
    g_assert_cmpint(qlist_size(list), >=, 1);
    cpu0 = qobject_to(QDict, qlist_peek(list));
    qobject_ref(cpu0);
    qobject_unref(resp);
    return cpu0;
}

static uint64_t get_u64(QDict *d, const char *key)
{
    return qnum_get_uint(qobject_to(QNum, qdict_get(d, key)));
}

/* Counter @n (GP first) of vCPU 0, and its field @key. */
static QDict *counter(QDict *cpu, int n)
{
    QList *counters = qdict_get_qlist(cpu, "counters");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(counters, e) {
        if (!n--) {
            return qobject_to(QDict, qlist_entry_obj(e));
        }
    }
    g_assert_not_reached();
}

static uint64_t gp0_count(QTestState *qts, const char **state)
{
    g_autoptr(QDict) cpu = vpmu_cpu0(qts);
    QDict *gp0 = counter(cpu, 0);
    static char buf[32];

    if (state) {
        g_strlcpy(buf, qdict_get_str(gp0, "host-state"), sizeof(buf));
        *state = buf;
    }
    return get_u64(gp0, "count");
}

/* Wait (guest code is slow here) until the guest's PMC0 counts. */
static void wait_counting(QTestState *qts)
{
    int i;

    for (i = 0; i < 600; i++) {
        if (gp0_count(qts, NULL)) {
            return;
        }
        g_usleep(100 * 1000);
    }
    g_error("the guest did not start counting in 60 s");
}

/* Host perf fds of the QEMU process, as the host sees them. */
static int perf_fds(QTestState *qts)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/fd", qtest_pid(qts));
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    int n = 0;

    g_assert(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *target = g_file_read_link(path, NULL);

        n += target && strstr(target, "perf_event") != NULL;
    }
    return n;
}

/* Wait up to @secs for @event, pumping QMP; a new reference or NULL. */
static QDict *wait_event(QTestState *qts, const char *event, int secs)
{
    int i;

    for (i = 0; i < secs * 10; i++) {
        QDict *ev = qtest_qmp_event_ref(qts, event);

        if (ev) {
            return ev;
        }
        qtest_qmp_assert_success(qts, "{ 'execute': 'query-status' }");
        g_usleep(100 * 1000);
    }
    return NULL;
}

static int count_events(QTestState *qts, const char *event)
{
    QDict *ev;
    int n = 0;

    while ((ev = qtest_qmp_event_ref(qts, event))) {
        qobject_unref(ev);
        n++;
    }
    return n;
}

/* query-vpmu (and HMP info vpmu): one entry per vCPU, every counter. */
static void test_query_schema(void)
{
    QTestState *qts;
    QDict *resp, *cpu, *c, *stats;
    QList *list;
    QListEntry *e;
    char *hmp;
    int n = 0;

    if (!have_kvm()) {
        return;
    }
    qts = qtest_init("-accel kvm -smp 2 -cpu host,pmu=on,pmu-arch=intel,"
                     "pmu-gp-counters=3,"
                     "pmu-fixed-counters=2 -S");
    resp = qtest_qmp(qts, "{ 'execute': 'query-vpmu' }");
    list = qdict_get_qlist(resp, "return");
    g_assert_cmpint(qlist_size(list), ==, 2);
    QLIST_FOREACH_ENTRY(list, e) {
        cpu = qobject_to(QDict, qlist_entry_obj(e));
        g_assert_cmpint(qdict_get_int(cpu, "cpu-index"), ==, n++);
        g_assert_false(qdict_get_bool(cpu, "reclaimed"));
        g_assert_cmpint(qdict_get_int(cpu, "open-events"), ==, 0);
        g_assert_cmpint(qlist_size(qdict_get_qlist(cpu, "counters")), ==, 5);
        c = counter(cpu, 3);
        g_assert_cmpstr(qdict_get_str(c, "kind"), ==, "fixed");
        g_assert_cmpint(qdict_get_int(c, "index"), ==, 0);
        g_assert_cmpstr(qdict_get_str(c, "host-state"), ==, "unused");
        g_assert_false(qdict_haskey(c, "event"));
        stats = qdict_get_qdict(cpu, "stats");
        g_assert_cmpint(qdict_get_int(stats, "perf-opens"), ==, 0);
        g_assert(qdict_haskey(stats, "fast-path-toggles"));
    }
    qobject_unref(resp);
    /* HMP's table is a view of the same. */
    hmp = qtest_hmp(qts, "info vpmu");
    g_assert_nonnull(strstr(hmp, "CPU 1: Intel PMU version"));
    g_assert_nonnull(strstr(hmp, "fixed1"));
    g_assert_null(strstr(hmp, "gp3"));
    g_free(hmp);
    qtest_quit(qts);

    /* vpmu=kvm: no userspace vPMU, an empty list. */
    qts = qtest_init("-accel kvm,vpmu=kvm -cpu host,pmu=on -S");
    resp = qtest_qmp(qts, "{ 'execute': 'query-vpmu' }");
    g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
    qobject_unref(resp);
    hmp = qtest_hmp(qts, "info vpmu");
    g_assert_nonnull(strstr(hmp, "No vCPU has a userspace vPMU"));
    g_free(hmp);
    qtest_quit(qts);
}

/*
 * vpmu-reclaim closes every perf fd of QEMU and freezes the guest's
 * count; vpmu-restore re-creates the events and the count moves again.
 */
static void test_reclaim_restore(void)
{
    QTestState *qts = start_counting("");
    g_autoptr(QDict) cpu = NULL;
    QDict *ev;
    const char *state;
    uint64_t a, b;

    if (!qts) {
        return;
    }
    wait_counting(qts);
    g_assert_cmpint(perf_fds(qts), ==, 2);
    cpu = vpmu_cpu0(qts);
    g_assert_cmpstr(qdict_get_str(counter(cpu, 0), "event"), ==, "cycles");
    g_assert_cmpint(qdict_get_int(counter(cpu, 0), "config") & 0xff, ==,
                    0x3c);

    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-reclaim' }");
    g_assert_cmpint(perf_fds(qts), ==, 0);
    ev = wait_event(qts, "VPMU_RECLAIMED", 5);
    g_assert(ev);
    qobject_unref(ev);
    a = gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "reclaimed");
    g_usleep(500 * 1000);
    b = gp0_count(qts, NULL);
    g_assert_cmpuint(a, ==, b);
    /* Idempotent: nothing more to close, no second event. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-reclaim', "
                             "'arguments': { 'cpu-index': 0 } }");
    g_assert_cmpint(count_events(qts, "VPMU_RECLAIMED"), ==, 0);
    qobject_unref(cpu);
    cpu = vpmu_cpu0(qts);
    g_assert_true(qdict_get_bool(cpu, "reclaimed"));
    g_assert_cmpint(qdict_get_int(cpu, "open-events"), ==, 0);

    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-restore' }");
    g_assert_cmpint(perf_fds(qts), ==, 2);
    ev = wait_event(qts, "VPMU_RESTORED", 5);
    g_assert(ev);
    qobject_unref(ev);
    g_usleep(300 * 1000);
    b = gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "active");
    g_assert_cmpuint(b, >, a);
    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-restore' }");
    g_assert_cmpint(count_events(qts, "VPMU_RESTORED"), ==, 0);
    qtest_quit(qts);
}

/*
 * A stopped VM counts nothing, even in software mode, where counters
 * count the vCPU thread's CPU time and every query-vpmu runs on that
 * thread; once the VM runs again, the counters move again.
 */
static void test_stopped_vm_counts_nothing(void)
{
    QTestState *qts = start_counting("");
    uint64_t a, b;
    int i;

    if (!qts) {
        return;
    }
    wait_counting(qts);
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    a = gp0_count(qts, NULL);
    for (i = 0; i < 200; i++) {
        b = gp0_count(qts, NULL);
    }
    g_assert_cmpuint(b, ==, a);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    g_usleep(300 * 1000);
    b = gp0_count(qts, NULL);
    g_assert_cmpuint(b, >, a);
    qtest_quit(qts);
}

/* @resp is an error reply whose message has @msg. */
static void assert_error(QDict *resp, const char *msg)
{
    QDict *err = qdict_get_qdict(resp, "error");

    g_assert(err);
    g_assert_cmpstr(qdict_get_str(err, "class"), ==, "GenericError");
    g_assert_nonnull(strstr(qdict_get_str(err, "desc"), msg));
    qobject_unref(resp);
}

/* Bad arguments get clear errors and change nothing. */
static void test_errors(void)
{
    QTestState *qts;
    QList *many = qlist_new();
    QDict *resp, *f, *ev0;
    int i;

    if (!have_kvm()) {
        qobject_unref(many);
        return;
    }
    qts = qtest_init("-accel kvm -cpu host,pmu=on,pmu-arch=intel -S");
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-reclaim', "
                           "'arguments': { 'cpu-index': 7 } }"),
                 "no vCPU with cpu-index 7");
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-restore', "
                           "'arguments': { 'cpu-index': -1 } }"),
                 "cpu-index -1");
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-set-filter', "
                           "'arguments': { 'action': 'deny', "
                           "'fixed-counters': 16 } }"),
                 "fixed counter bitmap");
    for (i = 0; i < 65; i++) {
        QDict *ev = qdict_new();

        qdict_put_int(ev, "select", i);
        qdict_put_int(ev, "umask", 0);
        qlist_append(many, ev);
    }
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-set-filter', "
                           "'arguments': { 'action': 'allow', "
                           "'events': %p } }", many),
                 "65 events, at most 64");
    /* Selects have 12 bits (AMD's). */
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-set-filter', "
                           "'arguments': { 'action': 'deny', 'events': "
                           "[ { 'select': 4096, 'umask': 0 } ] } }"),
                 "event select 0x1000");
    resp = qtest_qmp(qts, "{ 'execute': 'vpmu-set-filter', 'arguments': "
                     "{ 'action': 'deny', 'events': "
                     "[ { 'select': 65536, 'umask': 0 } ] } }");
    g_assert(qdict_haskey(resp, "error"));      /* not a uint16 */
    qobject_unref(resp);
    /* Nothing changed: still no filter. */
    f = qtest_qmp_assert_success_ref(qts,
                                     "{ 'execute': 'query-vpmu-filter' }");
    g_assert_cmpstr(qdict_get_str(f, "action"), ==, "deny");
    g_assert_cmpint(qlist_size(qdict_get_qlist(f, "events")), ==, 0);
    qobject_unref(f);
    /* A 12-bit select comes back as it went in. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-set-filter', "
                             "'arguments': { 'action': 'deny', 'events': "
                             "[ { 'select': 455, 'umask': 3 } ] } }");
    f = qtest_qmp_assert_success_ref(qts,
                                     "{ 'execute': 'query-vpmu-filter' }");
    ev0 = qobject_to(QDict, qlist_peek(qdict_get_qlist(f, "events")));
    g_assert_cmpint(qdict_get_int(ev0, "select"), ==, 0x1c7);
    g_assert_cmpint(qdict_get_int(ev0, "umask"), ==, 3);
    qobject_unref(f);
    qtest_quit(qts);

    qts = qtest_init("-accel kvm,vpmu=kvm -cpu host,pmu=on -S");
    assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-reclaim', "
                           "'arguments': { 'cpu-index': 0 } }"),
                 "has no userspace vPMU");
    qtest_quit(qts);
}

/*
 * Without a userspace vPMU (pmu=off, or vpmu=kvm) every command that
 * would act on one fails and says why: none may succeed doing nothing.
 * query-vpmu answers, with no entry.
 */
static void test_no_vpmu(void)
{
    static const char *const setups[] = {
        "-accel kvm -cpu host,pmu=off -S",
        "-accel kvm,vpmu=kvm -cpu host,pmu=on -smp 2 -S",
    };
    static const char *const cmds[] = {
        "vpmu-reclaim", "vpmu-restore", "query-vpmu-filter",
    };
    unsigned i, j;

    if (!have_kvm()) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(setups); i++) {
        QTestState *qts = qtest_init(setups[i]);
        QDict *resp;

        for (j = 0; j < ARRAY_SIZE(cmds); j++) {
            assert_error(qtest_qmp(qts, "{ 'execute': %s }", cmds[j]),
                         "no vCPU has a userspace vPMU");
        }
        assert_error(qtest_qmp(qts, "{ 'execute': 'vpmu-set-filter', "
                               "'arguments': { 'action': 'deny', "
                               "'fixed-counters': 1 } }"),
                     "no vCPU has a userspace vPMU");
        resp = qtest_qmp(qts, "{ 'execute': 'query-vpmu' }");
        g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
        qobject_unref(resp);
        qtest_quit(qts);
    }
}

/* The filter: at startup and at runtime; a refused event is frozen. */
static void test_filter(void)
{
    QTestState *qts = start_counting(",vpmu-filter=deny;0x3c");
    const char *state;
    uint64_t a, b;
    int i;

    if (!qts) {
        return;
    }
    /* PMC0 counts cycles (0x3c): refused; FIXED_CTR1 is allowed. */
    for (i = 0; i < 600; i++) {
        g_autoptr(QDict) cpu = vpmu_cpu0(qts);

        if (get_u64(counter(cpu, 4 + 1), "count")) {
            break;
        }
        g_usleep(100 * 1000);
    }
    a = gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "filtered");
    g_assert_cmpuint(a, ==, 0);
    g_assert_cmpint(perf_fds(qts), ==, 1);

    /* Replaced at runtime by an allow list without it: still refused. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-set-filter', "
                             "'arguments': { 'action': 'allow', 'events': "
                             "[ { 'select': 192, 'umask': 0 } ], "
                             "'fixed-counters': 2 } }");
    gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "filtered");
    /* Removed: it counts. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'vpmu-set-filter', "
                             "'arguments': { 'action': 'deny' } }");
    g_usleep(300 * 1000);
    b = gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "active");
    g_assert_cmpuint(b, >, 0);
    g_assert_cmpint(perf_fds(qts), ==, 2);
    qtest_quit(qts);
}

/* The test seam: vCPU 0's counters in @bits read as preempted. */
static void set_preempt(QTestState *qts, uint64_t bits)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'qom-set', 'arguments': "
                             "{ 'path': %s, 'property': 'x-vpmu-preempt', "
                             "'value': %" PRIu64 " } }", CPU0, bits);
}

/*
 * Contention events, driven through the backend's test seam (nothing
 * preempts us on hosts without a PMU): preempted, then recovered; a
 * flapping counter is rate-limited.
 */
static void test_contention_events(void)
{
    QTestState *qts = start_counting(",vpmu-monitor-ms=100");
    QDict *ev, *data;
    const char *state;
    int i, n;

    if (!qts) {
        return;
    }
    wait_counting(qts);
    g_assert_cmpint(count_events(qts, "VPMU_COUNTER_PREEMPTED"), ==, 0);
    set_preempt(qts, 1);
    ev = wait_event(qts, "VPMU_COUNTER_PREEMPTED", 10);
    g_assert(ev);
    data = qdict_get_qdict(ev, "data");
    g_assert_cmpint(qdict_get_int(data, "cpu-index"), ==, 0);
    g_assert_cmpstr(qdict_get_str(data, "kind"), ==, "gp");
    g_assert_cmpint(qdict_get_int(data, "index"), ==, 0);
    g_assert_cmpstr(qdict_get_str(data, "host-state"), ==, "preempted");
    g_assert_cmpuint(get_u64(data, "time-lost-ns"), >, 0);
    qobject_unref(ev);
    gp0_count(qts, &state);
    g_assert_cmpstr(state, ==, "preempted");

    set_preempt(qts, 0);
    ev = wait_event(qts, "VPMU_COUNTER_RECOVERED", 10);
    g_assert(ev);
    data = qdict_get_qdict(ev, "data");
    g_assert_cmpstr(qdict_get_str(data, "host-state"), ==, "active");
    qobject_unref(ev);

    /* Flapping every 50 ms for 2 s: at most one event a second. */
    for (i = 0; i < 40; i++) {
        set_preempt(qts, !(i & 1));
        g_usleep(50 * 1000);
    }
    n = count_events(qts, "VPMU_COUNTER_PREEMPTED") +
        count_events(qts, "VPMU_COUNTER_RECOVERED");
    g_assert_cmpint(n, <=, 3);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/vpmu/properties", test_properties);
    qtest_add_func("/vpmu/stats-at-start", test_stats_at_start);
    qtest_add_func("/vpmu/vpmu-kvm", test_vpmu_kvm);
    qtest_add_func("/vpmu/query-vpmu", test_query_schema);
    qtest_add_func("/vpmu/reclaim-restore", test_reclaim_restore);
    qtest_add_func("/vpmu/stopped-vm-counts-nothing",
                   test_stopped_vm_counts_nothing);
    qtest_add_func("/vpmu/errors", test_errors);
    qtest_add_func("/vpmu/no-vpmu", test_no_vpmu);
    qtest_add_func("/vpmu/filter", test_filter);
    qtest_add_func("/vpmu/contention-events", test_contention_events);
    return g_test_run();
}
