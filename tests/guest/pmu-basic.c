/*
 * qemu-vpmu test guest: the walking skeleton, end to end
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every access below is a real guest RDMSR/WRMSR that leaves KVM through
 * the MSR filter and reaches the vPMU in QEMU; the counts come from a host
 * perf event on the vCPU thread.
 */
#include "libguest.h"

#define LOOPS 100000

static uint64_t pmc0_after_loop(void)
{
    uint64_t before = rdmsr(MSR_IA32_PMC0);

    busy_loop(LOOPS);
    return rdmsr(MSR_IA32_PMC0) - before;
}

int main(void)
{
    uint32_t a, b, c, d;
    unsigned version, nr_gp, nr_fixed;
    uint64_t v, delta, status;
    int vector;

    guest_printf("# pmu-basic: CPUID, counting, gating, #GP rules\n");
    cpuid(0xa, 0, &a, &b, &c, &d);
    version = a & 0xff;
    nr_gp = (a >> 8) & 0xff;
    nr_fixed = d & 0x1f;
    guest_printf("# CPUID.0AH: eax=0x%x ebx=0x%x ecx=0x%x edx=0x%x\n",
                 a, b, c, d);
    /*
     * expect-version=0: a run where QEMU's vPMU must stay out of the way
     * (pmu=off, or vpmu=kvm on a host where KVM has no PMU).
     */
    if (cmdline_uint("expect-version", 2) == 0) {
        check(version == 0, "CPUID.0AH reports no PMU (version %u)", version);
        guest_done();
    }
    check(version >= 2, "CPUID.0AH reports PMU version %u >= 2", version);
    check(nr_gp >= 1, "CPUID.0AH reports %u general-purpose counters", nr_gp);
    if (version < 2 || nr_gp < 1) {
        guest_done();
    }

    /* The skeleton's promise: enable PMC0 for core cycles, see it move. */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PMC0, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0,
          EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    delta = pmc0_after_loop();
    check(delta > 0, "PMC0 counts unhalted core cycles: +%lu over %u loops",
          delta, LOOPS);
    check(rdmsr(MSR_IA32_PERFEVTSEL0) ==
          (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES),
          "PERFEVTSEL0 reads back what was written");

    /* SDM: the GLOBAL_CTRL bit gates the counter. */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    delta = pmc0_after_loop();
    check(delta == 0, "PMC0 is frozen with GLOBAL_CTRL bit 0 clear (+%lu)",
          delta);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    delta = pmc0_after_loop();
    check(delta > 0, "PMC0 counts again after GLOBAL_CTRL bit 0 is set "
          "(+%lu)", delta);

    /* SDM: so does PERFEVTSEL.EN. */
    wrmsr(MSR_IA32_PERFEVTSEL0, EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES);
    delta = pmc0_after_loop();
    check(delta == 0, "PMC0 is frozen with PERFEVTSEL0.EN clear (+%lu)",
          delta);

    /* SDM: IA32_PMCx writes sign-extend bit 31 to the counter width. */
    wrmsr(MSR_IA32_PMC0, 0x80000005u);
    v = rdmsr(MSR_IA32_PMC0);
    check(v == 0xffff80000005ull, "PMC0 write sign-extends: 0x%lx", v);

    /* SDM: a counter that wraps sets its GLOBAL_STATUS bit. */
    wrmsr(MSR_IA32_PMC0, (uint32_t)-1000);
    wrmsr(MSR_IA32_PERFEVTSEL0,
          EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES);
    busy_loop(LOOPS);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    v = rdmsr(MSR_IA32_PMC0);
    check(status & 1, "PMC0 overflow sets GLOBAL_STATUS bit 0 (0x%lx)",
          status);
    check(v < 0x100000000ull, "PMC0 wrapped past its width (0x%lx)", v);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(!(status & 1), "GLOBAL_OVF_CTRL clears the bit (0x%lx)", status);

    /* A fixed counter: FIXED_CTR1 counts core cycles. */
    if (nr_fixed >= 2) {
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1ull << 33);
        v = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
        busy_loop(LOOPS);
        delta = rdmsr(MSR_IA32_FIXED_CTR0 + 1) - v;
        check(delta > 0, "FIXED_CTR1 counts core cycles (+%lu)", delta);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);

    /* SDM: #GP for absent counters, reserved bits, read-only MSRs. */
    check(rdmsr_safe(MSR_IA32_PMC0 + nr_gp, &v) == GP_VECTOR,
          "RDMSR of PMC%u (not configured) raises #GP", nr_gp);
    check(wrmsr_safe(MSR_IA32_PERFEVTSEL0, 1ull << 32) == GP_VECTOR,
          "PERFEVTSEL0 reserved bit 32 raises #GP");
    check(rdmsr(MSR_IA32_PERFEVTSEL0) ==
          (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES),
          "a refused write leaves PERFEVTSEL0 unchanged");
    check(wrmsr_safe(MSR_IA32_PERF_GLOBAL_CTRL, 1ull << nr_gp) == GP_VECTOR,
          "GLOBAL_CTRL bit %u (no such counter) raises #GP", nr_gp);
    check(wrmsr_safe(MSR_IA32_PERF_GLOBAL_STATUS, 1) == GP_VECTOR,
          "GLOBAL_STATUS is read-only (#GP)");

    /*
     * rdpmc-gp=1: KVM has no PMU of its own on this host, so RDPMC (which
     * never reaches QEMU) must raise #GP, as the docs and the startup
     * warning say.
     */
    if (cmdline_uint("rdpmc-gp", 0)) {
        check(rdpmc_safe(0, &v) == GP_VECTOR,
              "RDPMC raises #GP where KVM has no PMU of its own");
    }

    /* QEMU's own single-MSR handler still works beside our ranges. */
    vector = rdmsr_safe(MSR_CORE_THREAD_COUNT, &v);
    check(vector == NO_EXCEPTION && (v & 0xffff) == cmdline_uint("threads", 1),
          "MSR_CORE_THREAD_COUNT still answers (0x%lx)", v);
    return 0;
}
