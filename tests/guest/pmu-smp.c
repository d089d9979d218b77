/*
 * qemu-vpmu test guest: two vCPUs, two PMUs
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Run with -smp 2.  Every vCPU has its own PMU (SDM vol. 3B: the
 * architectural PMU is per logical processor), which qemu-vpmu backs with
 * host events on that vCPU's own thread.  Both CPUs run each step
 * together, between barriers; CPU 1 only records what it saw, and CPU 0
 * checks it, so the TAP lines come out in one order.
 *
 * With sync=1 the guest stops at "SYNC <step>" lines until the host
 * (tests/vpmu-check.py) sends a byte, so it can look at QEMU from outside.
 */
#include "libguest.h"

#define PMI_VECTOR      32
#define WAKE_VECTOR     33
#define EVTSEL_INT      (1u << 20)
#define CYCLES          (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define FIXED1_OS_USR   (0x3u << 4)
#define CTRL_PMC0_FIXED1 (1ull | 1ull << 33)
#define LOOPS           20000
/*
 * Far enough from the wrap for a PMI after a few ms: software mode's
 * host period is at least 1 ms anyway, and shorter ones are not asked of
 * this host (see NOTES.md: a 10 us period livelocked it).
 */
#define NEAR_WRAP       ((uint32_t)-5000000)
#define NCPUS           2

static uint32_t apic_ids[NCPUS];
static volatile unsigned pmis[NCPUS];           /* by each CPU's PMI */
static volatile uint64_t status_in_pmi[NCPUS];  /* by each CPU's PMI */
static volatile bool woken[NCPUS], done[NCPUS]; /* across CPUs */
static uint64_t pmc0[NCPUS], fixed1[NCPUS], status[NCPUS], lvtpc[NCPUS];

static void pmi_handler(unsigned vec)
{
    int cpu = smp_cpu_id();
    uint64_t st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);

    pmis[cpu]++;
    status_in_pmi[cpu] |= st;
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
    apic_eoi();
}

static void wake_handler(unsigned vec)
{
    woken[smp_cpu_id()] = true;
    apic_eoi();
}

/* Stop, clear and program PMC0 (and fixed counter 1) on this CPU. */
static void program(uint32_t evtsel, uint64_t value, bool fixed)
{
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 0xf | 0x7ull << 32);
    wrmsr(MSR_IA32_PERFEVTSEL0, evtsel);
    wrmsr(MSR_IA32_PMC0, value);
    wrmsr(MSR_IA32_FIXED_CTR0 + 1, 0);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, fixed ? FIXED1_OS_USR : 0);
}

/* Record this CPU's counters once it stopped them. */
static void record(int cpu)
{
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    pmc0[cpu] = rdmsr(MSR_IA32_PMC0);
    fixed1[cpu] = rdmsr(MSR_IA32_FIXED_CTR0 + 1);
    status[cpu] = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    lvtpc[cpu] = apic_read(APIC_LVTPC);
}

/* Both count cycles in PMC0 and fixed counter 1. */
static void step_count(int cpu)
{
    program(CYCLES, 0, true);
    smp_barrier(NCPUS);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, CTRL_PMC0_FIXED1);
    busy_loop(LOOPS);
    record(cpu);
    smp_barrier(NCPUS);
}

/*
 * @active counts; the other has its counter enabled but GLOBAL_CTRL
 * clear, and runs the same loop: nothing the active CPU does may reach
 * it.
 */
static void step_gated(int cpu, int active)
{
    program(CYCLES, 1000, false);
    smp_barrier(NCPUS);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, cpu == active);
    busy_loop(LOOPS);
    record(cpu);
    smp_barrier(NCPUS);
}

/*
 * Both count, but the passive CPU halts until @active, done with its
 * loop, wakes it with an IPI.  A halted vCPU's thread sleeps, so its
 * cycles counter (host events on its own thread) must stay nearly still
 * while the active one's moves; events on a wrong thread would count the
 * other vCPU's loop.
 */
static void step_halted(int cpu, int active)
{
    woken[cpu] = false;
    program(CYCLES, 0, false);
    smp_barrier(NCPUS);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    if (cpu == active) {
        busy_loop(LOOPS);
        record(cpu);
        apic_send_ipi(apic_ids[!cpu], WAKE_VECTOR);
    } else {
        while (!woken[cpu]) {
            asm volatile("sti; hlt; cli");
        }
        record(cpu);
    }
    smp_barrier(NCPUS);
}

/*
 * PMC0 with INT on both CPUs; those in @wrap start near the wrap, the
 * others at 0, far from it.  Each CPU's PMI must come to that CPU alone
 * (fixed vector, its own LVTPC), with its own GLOBAL_STATUS bit.
 */
static void step_overflow(int cpu, unsigned wrap)
{
    bool mine = wrap & (1u << cpu);
    unsigned i;

    pmis[cpu] = 0;
    status_in_pmi[cpu] = 0;
    done[cpu] = false;
    program(CYCLES | EVTSEL_INT, mine ? NEAR_WRAP : 0, false);
    apic_write(APIC_LVTPC, PMI_VECTOR);
    smp_barrier(NCPUS);
    asm volatile("sti");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    /* Until each wrapping CPU had its PMI (or a timeout). */
    for (i = 0; i < 40; i++) {
        if (mine && pmis[cpu]) {
            done[cpu] = true;
        }
        if ((!(wrap & 1) || done[0]) && (!(wrap & 2) || done[1])) {
            break;
        }
        busy_loop(LOOPS / 2);
    }
    asm volatile("cli");
    record(cpu);
    smp_barrier(NCPUS);
}

static void sync_host(const char *step)
{
    if (cmdline_uint("sync", 0)) {
        guest_printf("SYNC %s\n", step);
        serial_getc();
    }
}

/* The steps, run by both CPUs in the same order. */
static void run_steps(int cpu)
{
    unsigned wrap;
    int active;

    apic_ids[cpu] = apic_id();
    smp_barrier(NCPUS);

    step_count(cpu);
    if (cpu == 0) {
        check(pmc0[0] > 0 && pmc0[1] > 0, "both CPUs count cycles in PMC0 "
              "(%lu, %lu)", pmc0[0], pmc0[1]);
        check(fixed1[0] > 0 && fixed1[1] > 0, "both CPUs count cycles in "
              "fixed counter 1 (%lu, %lu)", fixed1[0], fixed1[1]);
    }
    smp_barrier(NCPUS);

    for (active = 0; active < NCPUS; active++) {
        step_gated(cpu, active);
        if (cpu == 0) {
            check(pmc0[active] > 1000 && pmc0[!active] == 1000,
                  "CPU %d counts, CPU %d with GLOBAL_CTRL=0 stays at 1000 "
                  "(%lu, %lu)", active, !active, pmc0[active],
                  pmc0[!active]);
        }
        smp_barrier(NCPUS);
    }

    for (active = 0; active < NCPUS; active++) {
        step_halted(cpu, active);
        if (cpu == 0) {
            check(pmc0[!active] * 4 < pmc0[active], "CPU %d halted counts "
                  "under a quarter of CPU %d's cycles: its events are on "
                  "its own thread (%lu, %lu)", !active, active,
                  pmc0[!active], pmc0[active]);
        }
        smp_barrier(NCPUS);
    }

    /* CPU 0 wraps, then CPU 1, then both at once. */
    for (wrap = 1; wrap <= 3; wrap++) {
        step_overflow(cpu, wrap);
        if (cpu == 0) {
            for (active = 0; active < NCPUS; active++) {
                if (wrap & (1u << active)) {
                    check(pmis[active] == 1 && (status_in_pmi[active] & 1),
                          "wrap 0x%x: CPU %d takes its own PMI, status bit "
                          "0 set (%u, 0x%lx)", wrap, active, pmis[active],
                          status_in_pmi[active]);
                } else {
                    check(pmis[active] == 0 && status[active] == 0,
                          "wrap 0x%x: CPU %d has no PMI and no status "
                          "(%u, 0x%lx)", wrap, active, pmis[active],
                          status[active]);
                }
            }
            if (apic_x2apic()) {
                unsigned masked = (lvtpc[0] & APIC_LVT_MASKED ? 1 : 0) |
                                  (lvtpc[1] & APIC_LVT_MASKED ? 2 : 0);

                check(masked == wrap, "wrap 0x%x: only the LVTPC of the "
                      "CPUs that took a PMI is masked (0x%lx, 0x%lx)",
                      wrap, lvtpc[0], lvtpc[1]);
            }
        }
        smp_barrier(NCPUS);
    }

    /* Leave two events open on each CPU for the host to look at. */
    program(CYCLES, 0, true);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, CTRL_PMC0_FIXED1);
    smp_barrier(NCPUS);
    if (cpu == 0) {
        sync_host("counting");
    }
    smp_barrier(NCPUS);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
}

static void ap_main(int cpu)
{
    run_steps(cpu);
}

int main(void)
{
    int started;

    /*
     * x2APIC where there is one: QEMU then masks LVTPC at delivery.
     * xapic=1 keeps the xAPIC (MMIO) for the bring-up and the PMIs.
     */
    if (!cmdline_uint("xapic", 0)) {
        apic_enable_x2apic();
    }
    apic_write(APIC_SVR, 0x1ff);
    /* The BIOS left the 8259's timer on vector 8: mask both PICs. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    set_irq_handler(PMI_VECTOR, pmi_handler);
    set_irq_handler(WAKE_VECTOR, wake_handler);

    started = smp_start(ap_main);
    check(started == 1 && smp_num_cpus() == NCPUS, "the AP started "
          "(%d started, %d online)", started, smp_num_cpus());
    if (started != 1) {
        guest_done();
    }
    run_steps(0);
    return 0;
}
