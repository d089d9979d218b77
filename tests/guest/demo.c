/*
 * qemu-vpmu demo guest: program counters, run a workload, show the counts
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "libguest.h"

#define LOOPS 200000

static void show(const char *what, uint64_t count, uint64_t tsc)
{
    guest_printf("  %-30s %12lu", what, count);
    if (count) {
        /* Per mille of the TSC cycles that passed, without floating point. */
        uint64_t pm = count * 1000 / tsc;
        guest_printf("   (%lu.%03lu x TSC)\n", pm / 1000, pm % 1000);
    } else {
        guest_printf("   (not counted on this host)\n");
    }
}

int main(void)
{
    uint32_t a, b, c, d;
    uint64_t t0, t1, pmc0, pmc1, fix1;

    cpuid(0xa, 0, &a, &b, &c, &d);
    guest_printf("qemu-vpmu demo guest\n");
    guest_printf("CPUID.0AH: PMU version %u, %u GP counters x %u bits, "
                 "%u fixed counters x %u bits\n", a & 0xff, (a >> 8) & 0xff,
                 (a >> 16) & 0xff, d & 0x1f, (d >> 5) & 0xff);

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PMC0, 0);
    wrmsr(MSR_IA32_PMC0 + 1, 0);
    wrmsr(MSR_IA32_FIXED_CTR0 + 1, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0,
          EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES);
    wrmsr(MSR_IA32_PERFEVTSEL0 + 1,
          EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_INST_RETIRED);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);

    t0 = rdtsc();
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0x3 | 1ull << 33);
    busy_loop(LOOPS);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    t1 = rdtsc();

    pmc0 = rdmsr(MSR_IA32_PMC0);
    pmc1 = rdmsr(MSR_IA32_PMC0 + 1);
    fix1 = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
    guest_printf("workload: %u iterations of a dec/jnz loop\n", LOOPS);
    guest_printf("  %-30s %12lu\n", "TSC cycles elapsed", t1 - t0);
    show("PMC0  cycles (event 0x3c)", pmc0, t1 - t0);
    show("PMC1  instructions (0xc0)", pmc1, t1 - t0);
    show("FIXED_CTR1 cycles", fix1, t1 - t0);
    guest_exit(pmc0 && fix1 ? 0 : 1);
}
