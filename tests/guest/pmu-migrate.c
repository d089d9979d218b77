/*
 * qemu-vpmu test guest: a counting guest migrated mid-count
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * At "SYNC migrate" the host stops this guest, migrates it to a file and
 * starts it in a new QEMU; the guest then checks that its counters carry
 * on from where they were and keep counting on the destination.
 */
#include "libguest.h"

#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define CTRL (1ull | 1ull << 33)

int main(void)
{
    uint64_t v1, v2, v3, f1, f2;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PMC0, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, CTRL);
    busy_loop(20000);
    v1 = rdmsr(MSR_IA32_PMC0);
    f1 = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
    check(v1 > 0 && f1 > 0, "counting before the migration (%lu, %lu)",
          v1, f1);
    guest_printf("SYNC migrate\n");
    serial_getc();

    v2 = rdmsr(MSR_IA32_PMC0);
    f2 = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
    check(v2 >= v1, "PMC0 continues from where it was (%lu -> %lu)", v1, v2);
    check(f2 >= f1, "FIXED_CTR1 continues from where it was (%lu -> %lu)",
          f1, f2);
    check(rdmsr(MSR_IA32_PERFEVTSEL0) == CYCLES_EN &&
          rdmsr(MSR_IA32_PERF_GLOBAL_CTRL) == CTRL &&
          rdmsr(MSR_IA32_FIXED_CTR_CTRL) == 0x30,
          "the control registers arrived");
    busy_loop(20000);
    v3 = rdmsr(MSR_IA32_PMC0);
    check(v3 > v2, "PMC0 keeps counting on the destination (+%lu)", v3 - v2);
    return 0;
}
