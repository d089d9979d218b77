/*
 * qemu-vpmu test guest: count forever, for management tools to look at
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Used by tests/libvirt: it never exits, so a domain stays up while the
 * host queries, reclaims and restores its counters.  It enables PMC0 and
 * fixed counter 1 (unhalted cycles, the events software mode counts),
 * says what CPUID leaf 0xA offers, and then prints a heartbeat with both
 * counters every 50000 loop iterations (about a quarter of a second
 * here), so the serial log shows whether they move.
 */
#include "libguest.h"

int main(void)
{
    uint32_t a, b, c, d;
    unsigned long beat;

    cpuid(0xa, 0, &a, &b, &c, &d);
    guest_printf("qemu-vpmu idle guest\n");
    guest_printf("CPUID.0AH: PMU version %u, %u GP counters x %u bits, "
                 "%u fixed counters x %u bits\n", a & 0xff, (a >> 8) & 0xff,
                 (a >> 16) & 0xff, d & 0x1f, (d >> 5) & 0xff);
    if ((a & 0xff) < 2) {
        guest_printf("no architectural PMU: idling without counters\n");
        for (;;) {
            busy_loop(1000000);
        }
    }

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PMC0, 0);
    wrmsr(MSR_IA32_FIXED_CTR0 + 1, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0,
          EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0x1 | 1ull << 33);
    guest_printf("counting: PMC0 = cycles, FIXED_CTR1 = cycles\n");

    for (beat = 0;; beat++) {
        busy_loop(50000);
        guest_printf("beat %lu PMC0 %lu FIXED_CTR1 %lu\n", beat,
                     rdmsr(MSR_IA32_PMC0), rdmsr(MSR_IA32_FIXED_CTR0 + 1));
    }
}
