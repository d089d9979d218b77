/*
 * qemu-vpmu test guest: what the host does for the guest's counters
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Paced by tests/vpmu-check.py: at each "SYNC <step>" line the guest waits
 * for a byte on COM1 while the host checks QEMU from the outside (perf fds
 * in /proc/PID/fd, its rlimit, its messages).  The guest checks that its
 * counters stay right whatever the host does: event churn, lazy release,
 * and perf_event_open failing with EMFILE.
 */
#include "libguest.h"

#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define REF_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_REF_CYCLES)
#define ALL_COUNTERS (0xfull | 0x7ull << 32)

static void sync(const char *step)
{
    guest_printf("SYNC %s\n", step);
    serial_getc();
}

static uint64_t moved(uint32_t msr)
{
    uint64_t before = rdmsr(msr);

    busy_loop(20000);
    return rdmsr(msr) - before;
}

int main(void)
{
    uint64_t v, w;
    unsigned i, c;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    for (c = 0; c < 4; c++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + c, CYCLES_EN);
    }
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x333);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, ALL_COUNTERS);

    /* Churn: every event change re-creates a host event. */
    for (i = 0; i < 25; i++) {
        for (c = 0; c < 4; c++) {
            wrmsr(MSR_IA32_PERFEVTSEL0 + c, i & 1 ? REF_EN : CYCLES_EN);
        }
    }
    check(moved(MSR_IA32_PMC0) > 0, "PMC0 counts after 100 event changes");
    sync("counters-open");

    /* Stop everything: lazy release closes the events, keeps the counts. */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    v = rdmsr(MSR_IA32_PMC0);
    sync("released");
    w = rdmsr(MSR_IA32_PMC0);
    check(w == v, "a released counter keeps its value (0x%lx)", w);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, ALL_COUNTERS);
    check(moved(MSR_IA32_PMC0) > 0 && rdmsr(MSR_IA32_PMC0) > w,
          "re-enabled, it continues from there");
    sync("re-created");

    /*
     * PMC1 stops, and lazy release closes its event while the host waits;
     * then the host refuses new fds (EMFILE), so restarting it cannot open
     * one.  (An event change would not do: in software mode every cycle
     * event is the same host event, which is reused.)
     */
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN & ~EVTSEL_EN);
    sync("emfile");
    wrmsr(MSR_IA32_PMC0 + 1, 5);
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN);    /* needs a new fd */
    v = rdmsr(MSR_IA32_PMC0 + 1);
    check(moved(MSR_IA32_PMC0 + 1) == 0 && v == 5,
          "a counter whose event cannot open stays frozen at its value "
          "(%lu)", v);
    check(moved(MSR_IA32_PMC0) > 0, "the other counters go on counting");
    /*
     * A guest looping on the counter meanwhile: the host must neither try
     * an open per write nor say so per write (it checks its log), and the
     * count must not grow by what the released event had counted, once
     * per failed attempt.
     */
    for (i = 0; i < 300; i++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN & ~EVTSEL_EN);
        wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN);
    }
    v = rdmsr(MSR_IA32_PMC0 + 1);
    check(v == 5, "after 300 more starts it is still frozen at 5 (%lu)", v);
    sync("emfile-lifted");
    /* Any write that touches it retries the host event. */
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN & ~EVTSEL_EN);
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, REF_EN);
    w = moved(MSR_IA32_PMC0 + 1);
    check(w > 0, "it counts once the host allows it");
    /* From 5 on: no count of the closed event came back (twice, or more). */
    v = rdmsr(MSR_IA32_PMC0 + 1);
    check(v - 5 < 3 * w, "it counts on from 5, not from a count added "
          "again (%lu after +%lu)", v, w);

    /* The host signals the wrap itself; the guest does not poll here. */
    wrmsr(MSR_IA32_PERFEVTSEL0 + 2, CYCLES_EN | (1u << 20));
    wrmsr(MSR_IA32_PMC0 + 2, (uint32_t)-1000);
    busy_loop(200000);
    sync("overflowed");
    check(rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) & (1u << 2),
          "PMC2 overflow shows in GLOBAL_STATUS");
    return 0;
}
