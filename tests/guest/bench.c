/*
 * qemu-vpmu benchmark guest: cost of PMU operations in TSC cycles
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Driven by tests/bench/vpmu-bench.py.  Before and after each phase the
 * guest prints a line and waits for a byte on COM1, so that the script can
 * read QEMU's vPMU statistics (perf syscalls) between phases without
 * disturbing the timed loops.  Every phase runs ITERS operations; the line
 * after it gives the TSC cycles they took.  -append selects other runs:
 * exact=1 (the cost of a stepped instruction) and lbr=1 (the cost of
 * recording branches with -cpu ...,lbr=on).
 */
#include "libguest.h"

#define ITERS 2000
#define CYCLES_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define REF_EN (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_REF_CYCLES)
#define NR_GP 4

typedef void phase_fn(unsigned i);

static void op_bare_exit(unsigned i)
{
    /* QEMU already answers this MSR in userspace: the exit floor. */
    rdmsr(MSR_CORE_THREAD_COUNT);
}

static void op_global_ctrl_toggle(unsigned i)
{
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, i & 1 ? 0 : 0xf);
}

static void op_evtsel_en_toggle(unsigned i)
{
    wrmsr(MSR_IA32_PERFEVTSEL0, i & 1 ? CYCLES_EN & ~EVTSEL_EN : CYCLES_EN);
}

static void op_counter_read(unsigned i)
{
    rdmsr(MSR_IA32_PMC0);
}

static void op_event_change(unsigned i)
{
    wrmsr(MSR_IA32_PERFEVTSEL0, i & 1 ? REF_EN : CYCLES_EN);
}

/* A straight run of NOPs: per-instruction cost, stepped or not */
#define NOP_BLOCK 100

static void op_nops(unsigned i)
{
    asm volatile(".rept 100\n\tnop\n\t.endr");
}

/*
 * The branchy loop of the LBR phases: per iteration a taken JMP and a
 * JNZ, taken but for the last one; three instructions.  Small, since
 * every instruction of it is single-stepped where LBR records (about
 * 5-10 us each on the development machines).
 */
#define LOOP_ITERS 1000
#define LOOP_ROUNDS 2
#define MSR_DEBUGCTL 0x1d9
#define DEBUGCTL_LBR 1
#define MSR_PERF_CAPABILITIES 0x345
#define PERF_CAP_LBR_FMT 0x3f

static void branch_loop(unsigned n)
{
    asm volatile("1:\n\t"
                 "jmp 2f\n\t"
                 "ud2\n"
                 "2:\n\t"
                 "dec %0\n\t"
                 "jnz 1b"
                 : "+r"(n) : : "cc");
}

/*
 * A timed phase of LOOP_ROUNDS loops, each between WRMSR @msr <- @on and
 * WRMSR @msr <- 0: with @on 0 the same two exits and no stepping, so
 * that phases differ only in what @on starts (LBR, or an exact counter).
 * The host reads its statistics (branches recorded, steps) at the
 * BENCH-START and BENCH-END lines around it.
 */
static void loop_phase(const char *name, uint32_t msr, uint64_t on)
{
    uint64_t t0, t1;
    unsigned r;

    guest_printf("BENCH-START %s\n", name);
    serial_getc();
    t0 = rdtsc();
    for (r = 0; r < LOOP_ROUNDS; r++) {
        wrmsr(msr, on);
        branch_loop(LOOP_ITERS);
        wrmsr(msr, 0);
    }
    t1 = rdtsc();
    guest_printf("BENCH-END %s %u %lu\n", name, LOOP_ROUNDS * LOOP_ITERS,
                 t1 - t0);
    serial_getc();
}

/* What a guest kernel does around a context switch. */
static void op_context_switch(unsigned i)
{
    unsigned c;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    for (c = 0; c < NR_GP; c++) {
        rdmsr(MSR_IA32_PMC0 + c);
    }
    for (c = 0; c < NR_GP; c++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + c, CYCLES_EN);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0xf);
}

static void run_phase(const char *name, phase_fn *fn)
{
    uint64_t t0, t1;
    unsigned i;

    guest_printf("BENCH-START %s\n", name);
    serial_getc();
    t0 = rdtsc();
    for (i = 0; i < ITERS; i++) {
        fn(i);
    }
    t1 = rdtsc();
    guest_printf("BENCH-END %s %u %lu\n", name, ITERS, t1 - t0);
    serial_getc();
}

/*
 * PMI latency: the counter counts cycles, so its value when the PMI
 * handler runs is how many cycles passed since it wrapped (host overflow,
 * signal, re-entry, injection, guest handler entry).
 */
#define PMI_ROUNDS 20
#define MSR_APIC_BASE 0x1b
#define MSR_X2APIC_LVTPC 0x834

static volatile bool pmi_seen;          /* set by the NMI handler */
static volatile uint64_t pmi_latency;   /* set by the NMI handler */

static void pmi_handler(unsigned vec)
{
    pmi_latency += rdmsr(MSR_IA32_PMC0);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1);
    pmi_seen = true;
}

static void pmi_latency_phase(void)
{
    unsigned i;

    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11) | (1u << 10));
    set_irq_handler(2, pmi_handler);
    guest_printf("BENCH-START pmi-latency\n");
    serial_getc();
    for (i = 0; i < PMI_ROUNDS; i++) {
        pmi_seen = false;
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
        wrmsr(MSR_IA32_PMC0, (uint32_t)-1000);
        wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN | (1u << 20));
        wrmsr(MSR_X2APIC_LVTPC, 4u << 8);           /* NMI */
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
        while (!pmi_seen) {
            busy_loop(100);
        }
    }
    guest_printf("BENCH-END pmi-latency %u %lu\n", PMI_ROUNDS, pmi_latency);
    serial_getc();
}

/*
 * -append exact=1 (-accel kvm,vpmu-exact=on): the NOPs without, then with
 * an instructions-retired counter, which makes the vCPU single-step.
 */
static void exact_phases(void)
{
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0, EVTSEL_EN | EVTSEL_USR | EVTSEL_OS |
          EVENT_INST_RETIRED);
    run_phase("bare-exit", op_bare_exit);
    run_phase("nop-block-free", op_nops);
    wrmsr(MSR_IA32_PMC0, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    run_phase("nop-block-stepped", op_nops);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    guest_printf("BENCH-INFO instructions-counted %lu\n",
                 rdmsr(MSR_IA32_PMC0));
    /* The LBR run's loop, stepped for the counter alone (no LBR) */
    loop_phase("branch-loop-free", MSR_IA32_PERF_GLOBAL_CTRL, 0);
    loop_phase("branch-loop-stepped", MSR_IA32_PERF_GLOBAL_CTRL, 1);
    guest_printf("BENCH-DONE\n");
    guest_exit(0);
}

/*
 * -append lbr=1 (-cpu ...,lbr=on): the branchy loop with DEBUGCTL.LBR
 * off, then on (the software backend steps the vCPU while it records).
 * Without LBR (PERF_CAPABILITIES[5:0] = 0) the guest says so and stops.
 */
static void lbr_phases(void)
{
    uint64_t caps = 0;

    if (rdmsr_safe(MSR_PERF_CAPABILITIES, &caps) != NO_EXCEPTION) {
        caps = 0;
    }
    guest_printf("BENCH-INFO lbr-format %lu\n", caps & PERF_CAP_LBR_FMT);
    if (caps & PERF_CAP_LBR_FMT) {
        run_phase("bare-exit", op_bare_exit);
        loop_phase("branch-loop-off", MSR_DEBUGCTL, 0);
        loop_phase("branch-loop-lbr", MSR_DEBUGCTL, DEBUGCTL_LBR);
    }
    guest_printf("BENCH-DONE\n");
    guest_exit(0);
}

int main(void)
{
    unsigned c;

    if (cmdline_uint("exact", 0)) {
        exact_phases();
    }
    if (cmdline_uint("lbr", 0)) {
        lbr_phases();
    }
    /* Four cycle counters, enabled, as a profiling guest would have. */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    for (c = 0; c < NR_GP; c++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + c, CYCLES_EN);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0xf);

    run_phase("bare-exit", op_bare_exit);
    run_phase("global-ctrl-toggle", op_global_ctrl_toggle);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0xf);
    run_phase("evtsel-en-toggle", op_evtsel_en_toggle);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN);
    run_phase("counter-read", op_counter_read);
    run_phase("event-change", op_event_change);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES_EN);
    run_phase("context-switch", op_context_switch);
    pmi_latency_phase();
    guest_printf("BENCH-DONE\n");
    guest_exit(0);
}
