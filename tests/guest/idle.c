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
 *
 * Options (-append): all=1 enables every counter instead (cycles on each
 * GP counter, fixed counters 0-2), for tests that need many host events;
 * stop=N stops PMC0 after N beats and says "PMC0 stopped" (stop-on-byte=1:
 * once a byte arrives on COM1), and stop1=N counts cycles on PMC1 too and
 * stops it likewise: for lazy release tests.
 */
#include "libguest.h"

int main(void)
{
    uint64_t cycles = EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES;
    uint64_t all = cmdline_uint("all", 0);
    uint64_t stop = cmdline_uint("stop", 0);
    bool stop_on_byte = cmdline_uint("stop-on-byte", 0);
    uint64_t stop1 = cmdline_uint("stop1", 0);
    uint64_t ctrl = 0x1 | 1ull << 33;
    uint32_t a, b, c, d;
    unsigned long beat;
    unsigned i;

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
    wrmsr(MSR_IA32_PERFEVTSEL0, cycles);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
    if (all) {
        ctrl = 0;
        for (i = 0; i < ((a >> 8) & 0xff); i++) {
            wrmsr(MSR_IA32_PERFEVTSEL0 + i, cycles);
            ctrl |= 1ull << i;
        }
        for (i = 0; i < (d & 0x1f) && i < 3; i++) {
            ctrl |= 1ull << (32 + i);
        }
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x333);
    }
    if (stop1) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + 1, cycles);
        ctrl |= 0x2;
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, ctrl);
    guest_printf("counting: %s\n", all ? "every counter" :
                 "PMC0 = cycles, FIXED_CTR1 = cycles");

    for (beat = 0;; beat++) {
        if ((stop && beat == stop) ||
            (stop_on_byte && (ctrl & 1) && serial_ready())) {
            ctrl &= ~1ull;
            wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, ctrl);
            guest_printf("PMC0 stopped\n");
        }
        if (stop1 && beat == stop1) {
            ctrl &= ~2ull;
            wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, ctrl);
            guest_printf("PMC1 stopped\n");
        }
        busy_loop(50000);
        guest_printf("beat %lu PMC0 %lu FIXED_CTR1 %lu\n", beat,
                     rdmsr(MSR_IA32_PMC0), rdmsr(MSR_IA32_FIXED_CTR0 + 1));
    }
}
