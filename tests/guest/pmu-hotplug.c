/*
 * qemu-vpmu test guest: a hot-plugged vCPU counts, and goes away cleanly
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Run with -smp 1,maxcpus=2 and paced by tests/vpmu-check.py, which
 * plugs and unplugs CPU 1 over QMP at the "SYNC <step>" lines.  We have
 * no ACPI interpreter, so we play OSPM ourselves on QEMU's CPU hotplug
 * registers (docs/specs/acpi_cpu_hotplug.rst), polling them instead of
 * taking the SCI: switch to the modern interface, see the insert event,
 * start the new CPU with INIT-SIPI-SIPI; on the remove event, eject it.
 * The host meanwhile checks the new vCPU's perf fds appear and go.
 */
#include "libguest.h"
#include "cpuhp.h"

#define PMI_VECTOR      32
#define EVTSEL_INT      (1u << 20)
#define CYCLES          (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)
#define FIXED1_OS_USR   (0x3u << 4)
#define NEAR_WRAP       ((uint32_t)-5000000)    /* a few ms, see pmu-smp */
#define LOOPS           20000


#define POLL_CYCLES     20000000000ull  /* seconds, whatever the TSC */

static uint16_t cpuhp;
static volatile unsigned ap_pmis;             /* set by CPU 1's PMI */
static volatile uint64_t ap_status_in_pmi, ap_cycles;  /* by CPU 1 */
static volatile bool ap_done;                 /* CPU 1 finished */

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;

    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static uint8_t cpuhp_status(uint32_t selector)
{
    outl(cpuhp + CPUHP_SELECTOR, selector);
    return inb(cpuhp + CPUHP_FLAGS);
}

/* Poll CPU @selector's status until @bits are set; false on a timeout. */
static bool cpuhp_wait(uint32_t selector, uint8_t bits)
{
    uint64_t t0 = rdtsc();

    while ((cpuhp_status(selector) & bits) != bits) {
        if (rdtsc() - t0 > POLL_CYCLES) {
            return false;
        }
        busy_loop(1000);
    }
    return true;
}

static void sync_host(const char *step)
{
    guest_printf("SYNC %s\n", step);
    serial_getc();
}

static void pmi_handler(unsigned vec)
{
    uint64_t st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);

    ap_pmis++;
    ap_status_in_pmi |= st;
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
    apic_eoi();
}

/*
 * On the new CPU: PMC0 wraps and raises a PMI on its own LVTPC; then
 * PMC0 and fixed counter 1 are left counting, so that the vCPU has host
 * events open when it is unplugged.
 */
static void ap_main(int cpu)
{
    uint64_t before;
    unsigned i;

    ap_pmis = 0;
    ap_status_in_pmi = 0;
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES | EVTSEL_INT);
    wrmsr(MSR_IA32_PMC0, NEAR_WRAP);
    apic_write(APIC_LVTPC, PMI_VECTOR);
    asm volatile("sti");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    for (i = 0; i < 40 && !ap_pmis; i++) {
        busy_loop(LOOPS / 2);
    }
    asm volatile("cli");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);

    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES);
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, FIXED1_OS_USR);
    before = rdmsr(MSR_IA32_PMC0);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1 | 1ull << 33);
    busy_loop(LOOPS);
    ap_cycles = rdmsr(MSR_IA32_PMC0) - before;
    __atomic_store_n(&ap_done, true, __ATOMIC_RELEASE);
}

/* The host plugged CPU @selector: find it, start it, let it count. */
static void plug(uint32_t selector, const char *what)
{
    bool seen = cpuhp_wait(selector, CPUHP_ENABLED | CPUHP_INSERT);
    uint32_t id;
    uint64_t t0;
    int cpu;

    check(seen, "%s: the insert event of CPU %u shows", what, selector);
    if (!seen) {
        guest_done();
    }
    outb(cpuhp + CPUHP_FLAGS, CPUHP_CLEAR_INSERT);
    outb(cpuhp + CPUHP_CMD, CPUHP_CMD_GET_CPU_ID);
    id = inl(cpuhp + CPUHP_DATA);

    ap_done = false;
    cpu = smp_start_cpu(id, ap_main);
    check(cpu > 0, "%s: the new CPU (APIC ID %u) starts as CPU %d", what,
          id, cpu);
    if (cpu < 0) {
        guest_done();
    }
    for (t0 = rdtsc(); !__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) &&
         rdtsc() - t0 < POLL_CYCLES;) {
        busy_loop(1000);
    }
    check(ap_done && ap_cycles > 0, "%s: it counts cycles (%lu)", what,
          ap_cycles);
    check(ap_pmis == 1 && (ap_status_in_pmi & 1), "%s: it takes its own "
          "PMI with GLOBAL_STATUS bit 0 (%u, 0x%lx)", what, ap_pmis,
          ap_status_in_pmi);
}

/* The host asked to unplug CPU @selector: eject it, as _EJ0 would. */
static void unplug(uint32_t selector, const char *what)
{
    bool seen = cpuhp_wait(selector, CPUHP_REMOVE);

    check(seen, "%s: the remove event of CPU %u shows", what, selector);
    if (!seen) {
        guest_done();
    }
    outb(cpuhp + CPUHP_FLAGS, CPUHP_CLEAR_REMOVE);
    outb(cpuhp + CPUHP_FLAGS, CPUHP_EJECT);
    check(!(cpuhp_status(selector) & CPUHP_ENABLED), "%s: CPU %u is gone "
          "after the eject", what, selector);
}

int main(void)
{
    uint64_t before, after;

    cpuhp = cmdline_uint("cpuhp", 0xaf00);
    apic_enable_x2apic();
    apic_write(APIC_SVR, 0x1ff);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    set_irq_handler(PMI_VECTOR, pmi_handler);

    /*
     * Writing 0 to the selector switches QEMU to the modern interface;
     * only that one can unplug.  In legacy mode, offset 4 would read the
     * present bitmap's fifth byte (0), not CPU 0's status.
     */
    outl(cpuhp + CPUHP_SELECTOR, 0);
    check(cpuhp_status(0) & CPUHP_ENABLED, "modern CPU hotplug interface: "
          "CPU 0 is enabled");
    check(!(cpuhp_status(1) & CPUHP_ENABLED), "CPU 1 is not there yet");
    check(fw_cfg_nb_cpus() == 1, "QEMU started %u CPU", fw_cfg_nb_cpus());

    /*
     * CPU 0 counts all along: the unplug must close CPU 1's events and
     * leave this one alone.
     */
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);

    sync_host("plug");
    plug(1, "plug");
    sync_host("counting");
    sync_host("unplug");
    unplug(1, "unplug");
    sync_host("ejected");

    /* CPU 0's counter goes on as before. */
    before = rdmsr(MSR_IA32_PMC0);
    busy_loop(LOOPS);
    after = rdmsr(MSR_IA32_PMC0);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    check(after > before, "CPU 0 still counts after the unplug (%lu)",
          after - before);

    /*
     * Not tested: plugging the same slot again.  On the development hosts
     * QEMU then exits ("kvm_arch_init_vcpu failed (1): Invalid argument":
     * KVM refuses KVM_SET_CPUID2 on the parked vCPU), with pmu=off and
     * without x2APIC too, so it is not the vPMU's doing.
     */
    return 0;
}
