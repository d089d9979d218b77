/*
 * qemu-vpmu test guest: RDPMC against the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * RDPMC never exits to QEMU: KVM answers it from its own PMU, into which
 * QEMU pushes our counter values at every PMU exit, PMI and overflow
 * signal.  Where KVM has no PMU, RDPMC raises #GP (expect-gp=1).  The
 * guest checks GP counters, fixed counters (ECX bit 30), ECX bit 31, and
 * prints how far RDPMC lags RDMSR after a stretch without PMU exits.
 */
#include "libguest.h"

#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define RDPMC_FIXED (1u << 30)
#define RDPMC_BIT31 (1u << 31)

static uint64_t rdpmc_or_fail(uint32_t ecx)
{
    uint64_t v;
    int vec = rdpmc_safe(ecx, &v);

    check(vec == NO_EXCEPTION, "RDPMC 0x%x does not fault (vector %d)", ecx,
          vec);
    return v;
}

int main(void)
{
    uint64_t v, m, r, lag;
    int vec;

    vec = rdpmc_safe(0, &v);
    if (cmdline_uint("expect-gp", 0)) {
        check(vec == GP_VECTOR, "RDPMC raises #GP where KVM has no PMU "
              "(vector %d)", vec);
        guest_done();
    }
    check(vec == NO_EXCEPTION, "RDPMC 0 works (vector %d)", vec);

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PMC0, 12345);
    check(rdpmc_or_fail(0) == 12345, "RDPMC sees a written PMC0 value");

    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0x1 | 1ull << 33);
    busy_loop(20000);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    /* Stopped: the values are final, and the exit pushed them. */
    m = rdmsr(MSR_IA32_PMC0);
    check(m > 12345 && rdpmc_or_fail(0) == m,
          "RDPMC of a stopped GP counter equals RDMSR (%lu)", m);
    m = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
    check(m > 0 && rdpmc_or_fail(RDPMC_FIXED | 1) == m,
          "RDPMC with ECX bit 30 reads FIXED_CTR1 (%lu)", m);

    /*
     * ECX bit 31: "fast" 32-bit reads on old PMUs; for an architectural
     * PMU the SDM makes bits 31:16 the counter type, so newer KVMs #GP.
     */
    vec = rdpmc_safe(RDPMC_BIT31, &v);
    check(vec == GP_VECTOR ||
          (vec == NO_EXCEPTION && v == (rdmsr(MSR_IA32_PMC0) & 0xffffffff)),
          "RDPMC with ECX bit 31: #GP, or the low 32 bits (vector %d)", vec);

    /* Staleness: running, no PMU exit for a while, then compare. */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0x1);
    busy_loop(50000);
    r = rdpmc_or_fail(0);
    m = rdmsr(MSR_IA32_PMC0);
    lag = m - r;
    guest_printf("RDPMC lagged RDMSR by %lu cycles after 50000 loop "
                 "iterations without a PMU exit\n", lag);
    check(r <= m, "RDPMC never runs ahead of the counter");
    check(rdpmc_or_fail(0) >= m, "after a PMU exit RDPMC is current again");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    guest_done();
}
