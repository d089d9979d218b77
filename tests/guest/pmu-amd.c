/*
 * qemu-vpmu test guest: an AMD PMU, read with RDMSR only
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * For QEMU started with an AMD vendor and -cpu ...,pmu=on (the userspace
 * vPMU gives such a guest AMD's PMU).  The rules are those KVM and Linux
 * implement (arch/x86/kvm/svm/pmu.c, arch/x86/kvm/pmu.c,
 * arch/x86/events/amd/core.c), as /work/shared/design/amd.md sections
 * 1.1-1.6 sum them up: the K7 MSRs, the core extension's interleaved
 * CTL/CTR pairs aliasing them, PerfMonV2's globals, 48-bit counters,
 * reserved bits dropped rather than #GP, no LVTPC mask on delivery.
 * Counters are read with RDMSR: RDPMC needs KVM's own PMU.
 *
 * -append keys say what the guest should find:
 *   core=0|1   the core extension (perfctr-core) (1)
 *   v2=0|1     PerfMonV2 (perfmon-v2) (1)
 *   n=N        counters: 4 without core, 6 without v2 (6)
 *   only=MASK  sections to run (0-3); 7 needs -accel kvm,vpmu-exact=on;
 *              4 (migration) and 6 (one that
 *              touches no PMU register) stop at "SYNC migrate", 5 (reset)
 *              at "SYNC boot" and "SYNC reset", for tests/vpmu-check.py
 */
#include "libguest.h"

#define MSR_K7_EVNTSEL0         0xc0010000
#define MSR_K7_PERFCTR0         0xc0010004
#define MSR_F15H_PERF_CTL0      0xc0010200
#define MSR_GLOBAL_STATUS       0xc0000300
#define MSR_GLOBAL_CTL          0xc0000301
#define MSR_GLOBAL_STATUS_CLR   0xc0000302
#define MSR_GLOBAL_STATUS_SET   0xc0000303
#define MSR_X2APIC_EOI          0x80b
#define MSR_X2APIC_LVTPC        0x834
#define MSR_X2APIC_SVR          0x80f
#define CTR_MASK                ((1ull << 48) - 1)
/* Bits 19, 21 and 36-63 are reserved (KVM's reserved_bits) */
#define CTL_VALID               0x0000000fffd7ffffull
#define EVTSEL_INT              (1u << 20)
#define EVENT_AMD_CYCLES        0x76    /* CYCLES_NOT_IN_HALT */
#define CYCLES                  (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | \
                                 EVENT_AMD_CYCLES)
#define PMI_VECTOR              32
#define PERFCTR_CORE            (1u << 23)      /* CPUID 0x80000001 ECX */
#define CPUID_PDCM              (1u << 15)      /* CPUID 1 ECX */

static bool core, v2;
static unsigned n;

/* What the PMI handler saw (volatile: it runs in between). */
static volatile unsigned pmis;              /* set by the PMI handler */
static volatile uint64_t status_in_handler; /* the handler's, too */
static volatile uint64_t lvtpc_in_handler;  /* the handler's, too */
static volatile uint64_t ctr_in_handler;    /* the handler's, too */

static uint32_t ctl_msr(unsigned i)
{
    return core ? MSR_F15H_PERF_CTL0 + 2 * i : MSR_K7_EVNTSEL0 + i;
}

static uint32_t ctr_msr(unsigned i)
{
    return core ? MSR_F15H_PERF_CTL0 + 2 * i + 1 : MSR_K7_PERFCTR0 + i;
}

static bool exists(uint32_t msr)
{
    uint64_t v;

    return rdmsr_safe(msr, &v) == NO_EXCEPTION;
}

static void all_off(void)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        wrmsr(ctl_msr(i), 0);
        wrmsr(ctr_msr(i), 0);
    }
    if (v2) {
        wrmsr(MSR_GLOBAL_STATUS_CLR, ~0ull);
        wrmsr(MSR_GLOBAL_CTL, (1u << n) - 1);
    }
}

/* Section 0: what CPUID says */
static void sec_cpuid(void)
{
    uint32_t a, b, c, d, max_ext;

    cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    check(!!(c & PERFCTR_CORE) == core, "CPUID 0x80000001 ECX[23] "
          "PERFCTR_CORE %u, want %u", !!(c & PERFCTR_CORE), core);
    check(!(c & (1u << 24)) && !(c & (1u << 28)), "no northbridge or L3 "
          "counters (ECX[24] %u, ECX[28] %u)", !!(c & (1u << 24)),
          !!(c & (1u << 28)));
    a = b = 0;
    if (max_ext >= 0x80000022) {
        cpuid(0x80000022, 0, &a, &b, &c, &d);
    }
    check((a & 1) == v2 && (!v2 || (b & 0xf) == n), "CPUID 0x80000022 "
          "(max extended leaf 0x%x): PerfMonV2 %u, %u counters; want %u%s",
          max_ext, a & 1, b & 0xf, v2, v2 ? " and n" : "");
    cpuid(0, 0, &a, &b, &c, &d);
    if (a >= 0xa) {
        cpuid(0xa, 0, &a, &b, &c, &d);
        check(!a && !b && !d, "CPUID leaf 0xA (Intel's PMU) is 0: EAX 0x%x "
              "EBX 0x%x EDX 0x%x", a, b, d);
    } else {
        check(true, "CPUID leaf 0xA is beyond the maximum leaf 0x%x", a);
    }
    cpuid(1, 0, &a, &b, &c, &d);
    check(!(c & CPUID_PDCM), "CPUID.1:ECX.PDCM (Intel's "
          "PERF_CAPABILITIES) clear");
}

/* Section 1: which MSRs exist, how they alias, what writes keep */
static void sec_msrs(void)
{
    unsigned i, bad = 0;
    uint64_t v;
    int vec;

    for (i = 0; i < 4; i++) {
        bool want = i < n;

        bad += exists(MSR_K7_EVNTSEL0 + i) != want ||
               exists(MSR_K7_PERFCTR0 + i) != want;
    }
    check(!bad, "the K7 CTL/CTR pairs exist for counters below %u, and "
          "#GP beyond: %u of 4 differ", n < 4 ? n : 4, bad);
    for (i = 0, bad = 0; i < 6; i++) {
        bool want = core && i < n;

        bad += exists(MSR_F15H_PERF_CTL0 + 2 * i) != want ||
               exists(MSR_F15H_PERF_CTL0 + 2 * i + 1) != want;
    }
    check(!bad && !exists(MSR_F15H_PERF_CTL0 + 12), "the core MSRs exist "
          "exactly for counters below %u (%s): %u pairs differ; "
          "0xC001020C #GPs", core ? n : 0, core ? "core" : "no core", bad);
    for (i = 0, bad = 0; i < 4; i++) {
        bad += exists(MSR_GLOBAL_STATUS + i) != v2;
    }
    check(!bad, "the PerfMonV2 globals %s: %u differ",
          v2 ? "exist" : "#GP", bad);

    if (core) {
        for (i = 0, bad = 0; i < 4 && i < n; i++) {
            wrmsr(MSR_K7_PERFCTR0 + i, 0x1000 + i);
            bad += rdmsr(MSR_F15H_PERF_CTL0 + 2 * i + 1) != 0x1000 + i;
            wrmsr(MSR_F15H_PERF_CTL0 + 2 * i + 1, 0x2000 + i);
            bad += rdmsr(MSR_K7_PERFCTR0 + i) != 0x2000 + i;
            wrmsr(MSR_K7_EVNTSEL0 + i, 0x1234);
            bad += rdmsr(MSR_F15H_PERF_CTL0 + 2 * i) != 0x1234;
        }
        check(!bad, "K7 and core MSRs of counters 0-3 are one register, "
              "both ways: %u reads differ", bad);
    }

    /* EN clear: nothing counts while the bits are tried */
    wrmsr(ctl_msr(0), ~0ull & ~(uint64_t)EVTSEL_EN);
    v = rdmsr(ctl_msr(0));
    check(v == (CTL_VALID & ~(uint64_t)EVTSEL_EN), "CTL <- ~0 (but EN) "
          "keeps the valid bits, no #GP: 0x%lx, want 0x%llx", v,
          CTL_VALID & ~(uint64_t)EVTSEL_EN);
    vec = wrmsr_safe(ctr_msr(0), ~0ull);
    v = rdmsr(ctr_msr(0));
    check(vec == NO_EXCEPTION && v == CTR_MASK, "CTR <- ~0 keeps 48 bits, "
          "no #GP: 0x%lx (vector %d)", v, vec);
    if (v2) {
        check(rdmsr(MSR_GLOBAL_CTL) == (1u << n) - 1, "GLOBAL_CTL at reset "
              "0x%lx, want every counter's bit", rdmsr(MSR_GLOBAL_CTL));
        wrmsr(MSR_GLOBAL_CTL, ~0ull);
        v = rdmsr(MSR_GLOBAL_CTL);
        check(v == (1u << n) - 1, "GLOBAL_CTL <- ~0 drops reserved bits, "
              "no #GP: 0x%lx", v);
        wrmsr(MSR_GLOBAL_STATUS, 1);
        check(rdmsr(MSR_GLOBAL_STATUS) == 0, "a guest write of "
              "GLOBAL_STATUS is ignored: 0x%lx", rdmsr(MSR_GLOBAL_STATUS));
        wrmsr(MSR_GLOBAL_STATUS_SET, ~0ull);
        v = rdmsr(MSR_GLOBAL_STATUS);
        check(v == (1u << n) - 1 && rdmsr(MSR_GLOBAL_STATUS_SET) == 0,
              "STATUS_SET <- ~0 sets the counters' bits: 0x%lx, and "
              "reads 0", v);
        wrmsr(MSR_GLOBAL_STATUS_CLR, ~0ull);
        check(rdmsr(MSR_GLOBAL_STATUS) == 0 &&
              rdmsr(MSR_GLOBAL_STATUS_CLR) == 0, "STATUS_CLR <- ~0 clears "
              "them, and reads 0");
    }
    all_off();
}

/* Section 2: event 0x76 counts on every counter, as the gates say */
static void sec_counting(void)
{
    unsigned i, dead = 0, gated = 0;
    uint64_t v;

    for (i = 0; i < n; i++) {
        wrmsr(ctr_msr(i), 0);
        wrmsr(ctl_msr(i), CYCLES);
        busy_loop(20000);
        wrmsr(ctl_msr(i), CYCLES & ~(uint64_t)EVTSEL_EN);
        v = rdmsr(ctr_msr(i));
        dead += !v;
        if (v2) {
            /* With its GLOBAL_CTL bit clear, EN alone does not count */
            wrmsr(MSR_GLOBAL_CTL, ((1u << n) - 1) & ~(1u << i));
            wrmsr(ctr_msr(i), 0);
            wrmsr(ctl_msr(i), CYCLES);
            busy_loop(20000);
            gated += rdmsr(ctr_msr(i)) != 0;
            wrmsr(ctl_msr(i), 0);
            wrmsr(MSR_GLOBAL_CTL, (1u << n) - 1);
        }
    }
    check(!dead, "event 0x76 (cycles not in halt) counts on each of the %u "
          "counters: %u stayed 0", n, dead);
    if (v2) {
        check(!gated, "PerfMonV2: a counter whose GLOBAL_CTL bit is clear "
              "does not count: %u did", gated);
    }
    /* A frozen counter holds its value */
    wrmsr(ctr_msr(0), 12345);
    busy_loop(20000);
    check(rdmsr(ctr_msr(0)) == 12345, "EN clear: the counter holds 12345: "
          "%lu", rdmsr(ctr_msr(0)));
    all_off();
}

static void pmi_handler(unsigned vec)
{
    pmis++;
    lvtpc_in_handler = rdmsr(MSR_X2APIC_LVTPC);
    ctr_in_handler = rdmsr(ctr_msr(0));
    if (v2) {
        status_in_handler = rdmsr(MSR_GLOBAL_STATUS);
        wrmsr(MSR_GLOBAL_STATUS_CLR, status_in_handler);
    }
    wrmsr(ctl_msr(0), 0);
    if (vec != 2) {
        wrmsr(MSR_X2APIC_EOI, 0);
    }
}

static void overflow_run(uint32_t lvtpc, const char *how)
{
    unsigned i;

    all_off();
    pmis = 0;
    status_in_handler = lvtpc_in_handler = ctr_in_handler = 0;
    wrmsr(MSR_X2APIC_LVTPC, lvtpc);
    /* As Linux programs a period: -left, bit 47 set while counting */
    wrmsr(ctr_msr(0), (1ull << 48) - 100000);
    wrmsr(ctl_msr(0), CYCLES | EVTSEL_INT);
    for (i = 0; i < 40 && !pmis; i++) {
        busy_loop(20000);
    }
    wrmsr(ctl_msr(0), 0);
    check(pmis == 1, "%s: one PMI from a counter 100000 below its wrap "
          "(%u)", how, pmis);
    check(!(lvtpc_in_handler & APIC_LVT_MASKED), "%s: the AMD LAPIC "
          "leaves LVTPC unmasked at delivery: 0x%lx", how, lvtpc_in_handler);
    check(!(ctr_in_handler & (1ull << 47)), "%s: in the handler bit 47 is "
          "clear, how Linux's AMD driver finds the overflow: 0x%lx", how,
          ctr_in_handler);
    if (v2) {
        check(status_in_handler & 1, "%s: GLOBAL_STATUS in the handler "
              "0x%lx has counter 0's bit", how, status_in_handler);
        check(rdmsr(MSR_GLOBAL_STATUS) == 0, "%s: STATUS_CLR acked it",
              how);
    }
}

/* Section 3: overflow, PMI through LVTPC, no mask on delivery */
static void sec_pmi(void)
{
    uint32_t a, b, c, d;

    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 21)) || !apic_enable_x2apic()) {
        check(false, "PMI: needs an x2APIC");
        return;
    }
    /* Nothing but the PMI: the 8259s masked, the APIC enabled. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    wrmsr(MSR_X2APIC_SVR, 0x1ff);
    set_irq_handler(2, pmi_handler);
    set_irq_handler(PMI_VECTOR, pmi_handler);
    asm volatile("sti");
    overflow_run(APIC_LVT_NMI, "NMI");
    overflow_run(PMI_VECTOR, "vector 32");
    /* No INT: an overflow, no PMI */
    all_off();
    pmis = 0;
    wrmsr(ctr_msr(0), (1ull << 48) - 100000);
    wrmsr(ctl_msr(0), CYCLES);
    busy_loop(400000);
    wrmsr(ctl_msr(0), 0);
    check(!pmis && !(rdmsr(ctr_msr(0)) & (1ull << 47)), "without INT the "
          "counter wraps (0x%lx) and raises no PMI (%u)",
          rdmsr(ctr_msr(0)), pmis);
    if (v2) {
        check(rdmsr(MSR_GLOBAL_STATUS) & 1, "... and GLOBAL_STATUS has its "
              "bit: 0x%lx", rdmsr(MSR_GLOBAL_STATUS));
    }
    asm volatile("cli");
    wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    all_off();
}

/* Section 4: registers and a running count across a migration */
static void sec_migrate(void)
{
    /* Select 0x1C0 (bits 35:32 and 7:0), EN, USR, OS; it does not count */
    uint64_t before, after, ctl1 = EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0xc0;
    unsigned i;

    all_off();
    wrmsr(ctr_msr(0), 1000);
    wrmsr(ctl_msr(0), CYCLES);
    if (n > 1) {
        wrmsr(ctr_msr(1), 777);
        wrmsr(ctl_msr(1), ctl1 | 0x100000000ull);    /* select 0x1C0 */
    }
    if (v2) {
        wrmsr(MSR_GLOBAL_STATUS_SET, 1u << (n - 1));
        wrmsr(MSR_GLOBAL_CTL, (1u << n) - 1 - (n > 2 ? 4 : 0));
    }
    busy_loop(20000);
    before = rdmsr(ctr_msr(0));
    guest_printf("SYNC migrate\n");
    serial_getc();
    busy_loop(20000);
    after = rdmsr(ctr_msr(0));
    check(before >= 1000 && after > before, "counter 0 counted on across "
          "the migration: %lu then %lu", before, after);
    check(rdmsr(ctl_msr(0)) == CYCLES && (n < 2 ||
          (rdmsr(ctl_msr(1)) == (ctl1 | 0x100000000ull) &&
           rdmsr(ctr_msr(1)) == 777)), "the CTLs and a stopped count "
          "arrived (12-bit select 0x1C0 included)");
    if (v2) {
        check(rdmsr(MSR_GLOBAL_CTL) == (1u << n) - 1 - (n > 2 ? 4 : 0) &&
              rdmsr(MSR_GLOBAL_STATUS) == 1u << (n - 1), "GLOBAL_CTL 0x%lx "
              "and GLOBAL_STATUS 0x%lx arrived", rdmsr(MSR_GLOBAL_CTL),
              rdmsr(MSR_GLOBAL_STATUS));
    }
    for (i = 0; i < n; i++) {
        wrmsr(ctl_msr(i), 0);
    }
    all_off();
}

/* Section 5: reset values after system_reset */
static void sec_reset(void)
{
    unsigned i, bad = 0;

    guest_printf("SYNC boot\n");
    if (serial_getc() == '1') {
        for (i = 0; i < n; i++) {
            wrmsr(ctr_msr(i), 0x1000 + i);
            wrmsr(ctl_msr(i), CYCLES);
        }
        if (v2) {
            wrmsr(MSR_GLOBAL_CTL, 1);
            wrmsr(MSR_GLOBAL_STATUS_SET, 2);
        }
        guest_printf("SYNC reset\n");
        for (;;) {
            serial_getc();          /* the host resets us here */
        }
    }
    for (i = 0; i < n; i++) {
        bad += rdmsr(ctl_msr(i)) != 0 || rdmsr(ctr_msr(i)) != 0;
    }
    check(!bad, "after the reset every CTL and CTR is 0 (no EN left, which "
          "Linux calls a broken BIOS): %u are not", bad);
    if (v2) {
        check(rdmsr(MSR_GLOBAL_CTL) == (1u << n) - 1 &&
              rdmsr(MSR_GLOBAL_STATUS) == 0, "after the reset GLOBAL_CTL "
              "0x%lx (every counter) and GLOBAL_STATUS 0x%lx (0)",
              rdmsr(MSR_GLOBAL_CTL), rdmsr(MSR_GLOBAL_STATUS));
    }
}

/*
 * Section 6: touch no PMU register, only stop for a migration (a stream
 * of another PMU, which the destination must refuse)
 */
static void sec_sync(void)
{
    guest_printf("SYNC migrate\n");
    serial_getc();
    check(true, "resumed");
}

/* Counters 0 and 1 count 0xC0 and 0xC2 over busy_loop(@iters). */
static void exact_run(uint64_t iters, uint64_t *insns, uint64_t *branches)
{
    all_off();
    wrmsr(ctl_msr(0), EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0xc0);
    wrmsr(ctl_msr(1), EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | 0xc2);
    busy_loop(iters);
    wrmsr(ctl_msr(1), 0);
    wrmsr(ctl_msr(0), 0);
    *insns = rdmsr(ctr_msr(0));
    *branches = rdmsr(ctr_msr(1));
}

/*
 * Section 7 (-accel kvm,vpmu-exact=on): AMD's instructions retired
 * (0xC0) and branch instructions retired (0xC2) count exactly: the
 * difference between two loops of N1 and N2 iterations of DEC, JNZ is
 * 2 (N2 - N1) and N2 - N1, whatever surrounds the loop.
 */
static void sec_exact(void)
{
    uint64_t i1, b1, i2, b2;

    exact_run(1000, &i1, &b1);
    exact_run(3000, &i2, &b2);
    check(i2 - i1 == 4000 && b2 - b1 == 2000, "exact 0xC0 and 0xC2: "
          "%lu and %lu more for 2000 more iterations of DEC, JNZ, want "
          "4000 and 2000", i2 - i1, b2 - b1);
    all_off();
}

static const struct {
    void (*fn)(void);
    const char *what;
} sections[] = {
    { sec_cpuid, "0: CPUID" },
    { sec_msrs, "1: MSRs, aliases, write masks, globals" },
    { sec_counting, "2: cycles on every counter, the gates" },
    { sec_pmi, "3: overflow and PMI" },
    { sec_migrate, "4: migration" },
    { sec_reset, "5: reset" },
    { sec_sync, "6: a migration, no PMU register touched" },
    { sec_exact, "7: exact instructions and branches (vpmu-exact=on)" },
};

int main(void)
{
    uint64_t only = cmdline_uint("only", 0xf);
    unsigned i;

    core = cmdline_uint("core", 1);
    v2 = cmdline_uint("v2", 1);
    n = cmdline_uint("n", core ? 6 : 4);
    guest_printf("# pmu-amd: core %u, PerfMonV2 %u, %u counters\n", core,
                 v2, n);
    asm volatile("cli");
    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (only & (1u << i)) {
            guest_printf("# %s\n", sections[i].what);
            sections[i].fn();
        }
    }
    return 0;
}
