/*
 * qemu-vpmu test guest: performance-monitoring interrupts
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A counter overflow with INT set raises a PMI as LVTPC says (SDM vol. 3B
 * "Performance Monitoring", vol. 3A "Local Vector Table").  The guest runs
 * its APIC in x2APIC mode, where QEMU can set LVTPC's mask bit exactly.
 */
#include "libguest.h"

#define MSR_APIC_BASE       0x1b
#define MSR_X2APIC_EOI      0x80b
#define MSR_X2APIC_LVTPC    0x834
#define MSR_DEBUGCTL        0x1d9
#define LVT_MASKED          (1u << 16)
#define LVT_NMI             (4u << 8)
#define PMI_VECTOR          32
#define CTR_FRZ             (1ull << 59)
#define EVTSEL_INT          (1u << 20)
#define CYCLES (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)

static volatile unsigned pmis;          /* set by the PMI handler */
/* What the PMI handler saw (volatile: it runs in between). */
static volatile uint64_t status_in_handler, lvtpc_in_handler;
static volatile uint64_t ctrl_in_handler;       /* the handler's too */
/* PMC0 twice in the handler, a busy loop apart, before any WRMSR. */
static volatile uint64_t pmc0_first, pmc0_later;

static void pmi_handler(unsigned vec)
{
    pmis++;
    status_in_handler = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    lvtpc_in_handler = rdmsr(MSR_X2APIC_LVTPC);
    ctrl_in_handler = rdmsr(MSR_IA32_PERF_GLOBAL_CTRL);
    pmc0_first = rdmsr(MSR_IA32_PMC0);
    busy_loop(5000);
    pmc0_later = rdmsr(MSR_IA32_PMC0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, status_in_handler);
    if (vec != 2) {
        wrmsr(MSR_X2APIC_EOI, 0);
    }
}

/* Arm @counters to overflow soon, count until a PMI or a timeout. */
static void run(uint64_t evtsel, unsigned counters, uint32_t lvtpc)
{
    unsigned c, i;

    pmis = 0;
    status_in_handler = lvtpc_in_handler = ctrl_in_handler = 0;
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 0xf);
    for (c = 0; c < counters; c++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + c, evtsel);
        wrmsr(MSR_IA32_PMC0 + c, (uint32_t)-1000);
    }
    wrmsr(MSR_X2APIC_LVTPC, lvtpc);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, (1u << counters) - 1);
    for (i = 0; i < 20 && !pmis; i++) {
        busy_loop(20000);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
}

int main(void)
{
    uint32_t a, b, c, d;
    uint64_t status;

    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 21))) {
        check(false, "the CPU has x2APIC (needed for this test)");
        guest_done();
    }
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11) | (1u << 10));
    set_irq_handler(2, pmi_handler);
    set_irq_handler(PMI_VECTOR, pmi_handler);

    /* NMI delivery. */
    run(CYCLES | EVTSEL_INT, 1, LVT_NMI);
    check(pmis == 1, "an overflow with INT raises one PMI as an NMI (%u)",
          pmis);
    check(status_in_handler & 1, "GLOBAL_STATUS bit 0 is set in the "
          "handler (0x%lx)", status_in_handler);
    check(lvtpc_in_handler & LVT_MASKED, "LVTPC is masked after delivery "
          "(0x%lx)", lvtpc_in_handler);

    /* While LVTPC stays masked, nothing is delivered. */
    run(CYCLES | EVTSEL_INT, 1, LVT_NMI | LVT_MASKED);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(pmis == 0 && (status & 1), "masked LVTPC: overflow status, no "
          "PMI (%u, 0x%lx)", pmis, status);

    /* No INT: status but no PMI. */
    run(CYCLES, 1, LVT_NMI);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(pmis == 0 && (status & 1), "overflow without INT: status, no PMI "
          "(%u, 0x%lx)", pmis, status);

    /*
     * A fixed vector, with interrupts enabled.  The BIOS left the 8259's
     * timer on vector 8: mask the PICs first.
     */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    asm volatile("sti");
    run(CYCLES | EVTSEL_INT, 1, PMI_VECTOR);
    asm volatile("cli");
    check(pmis == 1, "an overflow raises a PMI on fixed vector %u (%u)",
          PMI_VECTOR, pmis);
    check(lvtpc_in_handler & LVT_MASKED, "LVTPC is masked after delivery "
          "(0x%lx)", lvtpc_in_handler);

    /* Two counters overflowing together: both bits in one handler. */
    run(CYCLES | EVTSEL_INT, 2, LVT_NMI);
    check(pmis >= 1 && (status_in_handler & 3) == 3, "two counters "
          "overflowing together both show in GLOBAL_STATUS (0x%lx)",
          status_in_handler);

    /*
     * Freeze on PMI: versions 2 and 3 clear GLOBAL_CTRL; version 4 and
     * later leave it and set GLOBAL_STATUS.CTR_FRZ instead.
     */
    cpuid(0xa, 0, &a, &b, &c, &d);
    wrmsr(MSR_DEBUGCTL, 1u << 12);
    run(CYCLES | EVTSEL_INT, 1, LVT_NMI);
    wrmsr(MSR_DEBUGCTL, 0);
    if ((a & 0xff) < 4) {
        check(pmis == 1 && ctrl_in_handler == 0, "v%u: FREEZE_PERFMON_ON_PMI "
              "clears GLOBAL_CTRL at delivery (0x%lx)", a & 0xff,
              ctrl_in_handler);
    } else {
        check(pmis == 1 && ctrl_in_handler == 1 &&
              (status_in_handler & CTR_FRZ), "v%u: FREEZE_PERFMON_ON_PMI "
              "sets CTR_FRZ, GLOBAL_CTRL stays (0x%lx, 0x%lx)", a & 0xff,
              status_in_handler, ctrl_in_handler);
    }
    /* Frozen at delivery, not at the handler's first WRMSR. */
    check(pmis == 1 && pmc0_first == pmc0_later, "v%u: the frozen PMC0 "
          "does not move in the handler (0x%lx, then 0x%lx)", a & 0xff,
          pmc0_first, pmc0_later);
    return 0;
}
