/*
 * qemu-vpmu test guest: system_reset restores the PMU's reset state
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The guest boots twice in one QEMU.  At each boot it asks the host which
 * boot this is ("SYNC boot"; the host answers '1' or '2').  The first boot
 * programs and runs counters, then waits at "SYNC reset" while the host
 * issues system_reset.  The second checks the SDM's reset values and
 * waits at "SYNC after-reset" while the host counts QEMU's perf fds.
 */
#include "libguest.h"

#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)

int main(void)
{
    uint8_t boot;
    unsigned c;

    guest_printf("SYNC boot\n");
    boot = serial_getc();
    if (boot == '1') {
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
        for (c = 0; c < 4; c++) {
            wrmsr(MSR_IA32_PERFEVTSEL0 + c, CYCLES_EN | (1u << 20));
            wrmsr(MSR_IA32_PMC0 + c, 0x1000 + c);
        }
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x333);
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0xf | 0x7ull << 32);
        busy_loop(20000);
        check(rdmsr(MSR_IA32_PMC0) > 0x1000, "counting before the reset");
        guest_printf("SYNC reset\n");
        for (;;) {
            serial_getc();          /* the host resets us here */
        }
    }

    /* SDM: the PMU's power-up and reset values. */
    check(rdmsr(MSR_IA32_PERF_GLOBAL_CTRL) == 0xf,
          "GLOBAL_CTRL is back to its reset value 0xf");
    check(rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) == 0, "GLOBAL_STATUS is 0");
    check(rdmsr(MSR_IA32_FIXED_CTR_CTRL) == 0, "FIXED_CTR_CTRL is 0");
    for (c = 0; c < 4; c++) {
        if (rdmsr(MSR_IA32_PERFEVTSEL0 + c) || rdmsr(MSR_IA32_PMC0 + c)) {
            break;
        }
    }
    check(c == 4, "every PERFEVTSEL and PMC is 0");
    check(rdmsr(MSR_IA32_FIXED_CTR0 + 1) == 0, "FIXED_CTR1 is 0");
    guest_printf("SYNC after-reset\n");
    serial_getc();
    return 0;
}
