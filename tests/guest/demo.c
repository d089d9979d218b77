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

/* AMD's PMU (an AMD vendor): cycles and instructions on counters 0, 1 */
#define MSR_K7_EVNTSEL0         0xc0010000
#define MSR_K7_PERFCTR0         0xc0010004
#define MSR_F15H_PERF_CTL0      0xc0010200
#define MSR_AMD_GLOBAL_CTL      0xc0000301
#define EVENT_AMD_CYCLES        0x76

static int demo_amd(void)
{
    uint32_t a, b, c, d, max_ext, v2 = 0, n;
    uint32_t ctl, ctr, stride;
    uint64_t t0, t1, cycles, insns;
    bool core;

    cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    core = c & (1u << 23);
    n = core ? 6 : 4;
    if (max_ext >= 0x80000022) {
        cpuid(0x80000022, 0, &a, &b, &c, &d);
        v2 = a & 1;
        n = v2 ? b & 0xf : n;
    }
    ctl = core ? MSR_F15H_PERF_CTL0 : MSR_K7_EVNTSEL0;
    ctr = core ? MSR_F15H_PERF_CTL0 + 1 : MSR_K7_PERFCTR0;
    stride = core ? 2 : 1;
    guest_printf("qemu-vpmu demo guest\n");
    guest_printf("AMD PMU: PerfMonV2 %u, core extension %u, %u counters x "
                 "48 bits\n", v2, core, n);

    wrmsr(ctr, 0);
    wrmsr(ctr + stride, 0);
    if (v2) {
        wrmsr(MSR_AMD_GLOBAL_CTL, 0);
    }
    wrmsr(ctl, EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_AMD_CYCLES);
    wrmsr(ctl + stride, EVTSEL_EN | EVTSEL_USR | EVTSEL_OS |
          EVENT_INST_RETIRED);
    t0 = rdtsc();
    if (v2) {
        wrmsr(MSR_AMD_GLOBAL_CTL, 0x3);
    }
    busy_loop(LOOPS);
    if (v2) {
        wrmsr(MSR_AMD_GLOBAL_CTL, 0);
    }
    wrmsr(ctl, 0);
    wrmsr(ctl + stride, 0);
    t1 = rdtsc();

    cycles = rdmsr(ctr);
    insns = rdmsr(ctr + stride);
    guest_printf("workload: %u iterations of a dec/jnz loop\n", LOOPS);
    guest_printf("  %-30s %12lu\n", "TSC cycles elapsed", t1 - t0);
    show("PERF_CTR0 cycles (event 0x76)", cycles, t1 - t0);
    show("PERF_CTR1 instructions (0xc0)", insns, t1 - t0);
    return cycles ? 0 : 1;
}

int main(void)
{
    uint32_t a, b, c, d;
    uint64_t t0, t1, pmc0, pmc1, fix1;

    cpuid(0xa, 0, &a, &b, &c, &d);
    if (!(a & 0xff)) {
        uint32_t vendor[3];

        cpuid(0, 0, &a, &vendor[0], &vendor[2], &vendor[1]);
        if (vendor[0] == 0x68747541) {          /* "AuthenticAMD" */
            guest_exit(demo_amd());
        }
        cpuid(0xa, 0, &a, &b, &c, &d);
    }
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
