/*
 * qemu-vpmu test guest: a PMI reaches a vCPU whose APIC ID is 256 or more
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The vPMU raises a fixed-vector PMI as an MSI aimed at the vCPU's own
 * APIC.  An APIC ID above 255 does not fit the MSI address's 8-bit
 * destination: with KVM's x2APIC API (which QEMU enables when such IDs
 * exist) bits 31:8 go in address_hi.  Without them, the PMI of the CPU
 * with APIC ID 256 lands on APIC ID 0, the BSP.
 *
 * Run on q35 with -smp 1,maxcpus=512,sockets=2,cores=256 and paced by
 * tests/vpmu-check.py, which plugs socket 1 core 0 (APIC ID 256) over QMP
 * at "SYNC plug".  As in pmu-hotplug.c we play OSPM on QEMU's CPU hotplug
 * registers (docs/specs/acpi_cpu_hotplug.rst): the insert event gives the
 * new CPU's selector and APIC ID; we start it by that ID.  The BSP runs
 * x2APIC (an xAPIC cannot address ID 256), and the AP mirrors it.  Each
 * PMI records the CPU and APIC ID that took it; the BSP keeps interrupts
 * enabled while the AP counts, so a PMI sent to the wrong APIC shows.
 *
 * Command line: cpuhp=PORT (ICH9: 0xcd8), apic-id=N (256), selector=N
 * (256, the new CPU's index in QEMU's possible CPUs).
 */
#include "libguest.h"
#include "cpuhp.h"

#define PMI_VECTOR      32
#define EVTSEL_INT      (1u << 20)
#define CYCLES          (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define NEAR_WRAP       ((uint32_t)-5000000)    /* a few ms, see pmu-smp */
#define LOOPS           20000


#define POLL_CYCLES     20000000000ull  /* seconds, whatever the TSC */

static uint16_t cpuhp;
/*
 * Per CPU number (smp_cpu_id()): PMIs taken, the APIC ID that took them,
 * GLOBAL_STATUS in the handler.  Volatile: written by the PMI handler, on
 * whichever CPU the PMI reached, while other code polls them.
 */
static volatile unsigned pmis[MAX_CPUS];
static volatile uint32_t pmi_apic[MAX_CPUS];   /* the handler's too */
static volatile uint64_t pmi_status[MAX_CPUS]; /* the handler's too */
static volatile uint32_t ap_apic;       /* the AP's apic_id(), for the BSP */
static volatile bool ap_done;           /* set by the AP, polled by the BSP */

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;

    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void sync_host(const char *step)
{
    guest_printf("SYNC %s\n", step);
    serial_getc();
}

static void pmi_handler(unsigned vec)
{
    int cpu = smp_cpu_id();
    uint64_t st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);

    pmis[cpu]++;
    pmi_apic[cpu] = apic_id();
    pmi_status[cpu] |= st;
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
    apic_eoi();
}

/*
 * This CPU's PMC0 wraps with INT and LVTPC = PMI_VECTOR; wait (interrupts
 * on) until its own PMI or a timeout.  Whether the PMI came here is the
 * caller's to check: pmis[] says who took it.
 */
static void own_pmi(void)
{
    int cpu = smp_cpu_id();
    unsigned i;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 0xf);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES | EVTSEL_INT);
    wrmsr(MSR_IA32_PMC0, NEAR_WRAP);
    apic_write(APIC_LVTPC, PMI_VECTOR);
    asm volatile("sti");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    for (i = 0; i < 40 && !pmis[cpu]; i++) {
        busy_loop(LOOPS / 2);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    /* A PMI sent astray to another CPU would have shown there by now. */
    busy_loop(LOOPS);
    asm volatile("cli");
    wrmsr(MSR_IA32_PERFEVTSEL0, 0);
}

static void ap_main(int cpu)
{
    ap_apic = apic_id();
    own_pmi();
    __atomic_store_n(&ap_done, true, __ATOMIC_RELEASE);
}

/* The host plugged a CPU: find it through its insert event, or fail. */
static bool find_plugged(uint32_t *selector, uint32_t *id)
{
    uint64_t t0 = rdtsc();

    for (;;) {
        outl(cpuhp + CPUHP_SELECTOR, 0);
        outb(cpuhp + CPUHP_CMD, CPUHP_CMD_GET_NEXT);
        if (inb(cpuhp + CPUHP_FLAGS) & CPUHP_INSERT) {
            break;
        }
        if (rdtsc() - t0 > POLL_CYCLES) {
            return false;
        }
        busy_loop(1000);
    }
    *selector = inl(cpuhp + CPUHP_DATA);
    outb(cpuhp + CPUHP_FLAGS, CPUHP_CLEAR_INSERT);
    outb(cpuhp + CPUHP_CMD, CPUHP_CMD_GET_CPU_ID);
    *id = inl(cpuhp + CPUHP_DATA);
    return true;
}

int main(void)
{
    uint32_t want_id = cmdline_uint("apic-id", 256);
    uint32_t want_sel = cmdline_uint("selector", 256);
    uint32_t sel = 0, id = 0;
    uint64_t t0;
    int cpu;

    cpuhp = cmdline_uint("cpuhp", 0xcd8);
    if (!apic_enable_x2apic()) {
        check(false, "the CPU has x2APIC (needed to address APIC ID %u)",
              want_id);
        guest_done();
    }
    apic_write(APIC_SVR, 0x1ff);
    outb(0x21, 0xff);           /* the BIOS left the PIT on vector 8 */
    outb(0xa1, 0xff);
    set_irq_handler(PMI_VECTOR, pmi_handler);
    check(apic_id() == 0, "the BSP runs x2APIC with APIC ID %u",
          apic_id());

    /* Writing 0 to the selector switches QEMU to the modern interface. */
    outl(cpuhp + CPUHP_SELECTOR, 0);
    outl(cpuhp + CPUHP_SELECTOR, 0);
    check(inb(cpuhp + CPUHP_FLAGS) & CPUHP_ENABLED, "modern CPU hotplug "
          "interface at 0x%x: CPU 0 is enabled", cpuhp);

    sync_host("plug");
    if (!find_plugged(&sel, &id)) {
        check(false, "the insert event of the plugged CPU shows");
        guest_done();
    }
    check(sel == want_sel && id == want_id, "the plugged CPU is selector "
          "%u with APIC ID %u (expected %u, %u)", sel, id, want_sel,
          want_id);

    /*
     * Start it and let it take its PMI, while the BSP waits with
     * interrupts enabled.
     */
    ap_done = false;
    cpu = smp_start_cpu(id, ap_main);
    check(cpu > 0, "APIC ID %u starts as CPU %d", id, cpu);
    if (cpu < 0) {
        guest_done();
    }
    asm volatile("sti");
    for (t0 = rdtsc(); !__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) &&
         rdtsc() - t0 < POLL_CYCLES;) {
        busy_loop(1000);
    }
    asm volatile("cli");
    check(ap_done && ap_apic == id, "CPU %d finished, its apic_id() is %u",
          cpu, ap_apic);
    check(pmis[cpu] == 1 && pmi_apic[cpu] == id && (pmi_status[cpu] & 1),
          "CPU %d's PMI arrives on CPU %d, APIC ID %u (%u PMIs, APIC ID %u, "
          "GLOBAL_STATUS 0x%lx)", cpu, cpu, id, pmis[cpu], pmi_apic[cpu],
          pmi_status[cpu]);
    check(pmis[0] == 0, "and not on the BSP (%u PMIs there, APIC ID %u)",
          pmis[0], pmi_apic[0]);

    /* The BSP's own PMI, with the AP halted, interrupts on. */
    pmis[0] = pmis[cpu] = 0;
    pmi_status[0] = 0;
    own_pmi();
    check(pmis[0] == 1 && pmi_apic[0] == 0 && (pmi_status[0] & 1),
          "the BSP's PMI arrives on the BSP (%u PMIs, APIC ID %u, "
          "GLOBAL_STATUS 0x%lx)", pmis[0], pmi_apic[0], pmi_status[0]);
    check(pmis[cpu] == 0, "and not on CPU %d (%u PMIs there)", cpu,
          pmis[cpu]);
    return 0;
}
