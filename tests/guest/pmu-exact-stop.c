/*
 * qemu-vpmu test guest: exact counting steps only while it must
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With -accel kvm,vpmu-exact=on.  Paced by tests/vpmu-check.py: at each
 * "SYNC <step>" line the guest spins on COM1 while the host asks
 * query-vpmu whether the vCPU single-steps, and whether its step count
 * grows.  It must step exactly while an instructions or branches retired
 * counter effectively counts: not for a cycles counter, not once the
 * last such counter stops, not while the host has reclaimed the PMU.
 */
#include "libguest.h"

#define INST_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_INST_RETIRED)
#define BRANCH_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0xc4)
#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)

static void sync(const char *step)
{
    guest_printf("SYNC %s\n", step);
    serial_getc();
}

int main(void)
{
    uint64_t before, after;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    sync("idle");

    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    sync("cycles-only");

    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, INST_EN);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 3);
    sync("instructions");

    /* The host reclaims the PMU here, and gives it back at "restored" */
    sync("reclaimed");
    sync("restored");

    /* The local enable, then the global one, stop it */
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, INST_EN & ~EVTSEL_EN);
    sync("evtsel-off");
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1, BRANCH_EN);
    sync("branches");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    sync("global-off");

    /* Fixed counter 0, stopped through FIXED_CTR_CTRL */
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1 | 1ull << 32);
    sync("fixed0");
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0);
    before = rdmsr(MSR_IA32_FIXED_CTR0);
    sync("fixed-off");
    after = rdmsr(MSR_IA32_FIXED_CTR0);
    check(after == before, "a stopped exact counter keeps its value "
          "(%lu, then %lu)", before, after);
    check(rdmsr(MSR_IA32_PMC0) > 0, "the cycles counter counted");
    guest_done();
}
