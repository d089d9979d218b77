/*
 * qemu-vpmu test guest: the guest-visible SDM rules, through real exits
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The host runner boots this guest once per PMU configuration and tells it
 * on the command line what it configured ("version=5 gp=8 fixed=4
 * width=48 fw=1"); the guest checks that CPUID and every PMU MSR behave as
 * the SDM says for that configuration.  Rules cite the Intel SDM vol. 3B,
 * "Performance Monitoring".
 */
#include "libguest.h"

#define MSR_IA32_A_PMC0             0x4c1
#define MSR_IA32_PERF_CAPABILITIES  0x345
#define MSR_IA32_DEBUGCTL           0x1d9
#define MSR_GLOBAL_STATUS_SET       0x391
#define MSR_GLOBAL_INUSE            0x392
#define EVTSEL_INT                  (1u << 20)
#define EVTSEL_ANY                  (1u << 21)
#define PERF_CAP_FW_WRITE           (1u << 13)
#define DEBUGCTL_FREEZE_PERFMON     (1u << 12)
#define DEBUGCTL_FREEZE_LBRS        (1u << 11)
#define GLOBAL_CTR_FRZ              (1ull << 59)
#define CPUID_1_ECX_PDCM            (1u << 15)
#define CYCLES (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_CORE_CYCLES)

static unsigned version, gp, fixed, width;
static bool fw;

static bool gp_on_write(uint32_t msr, uint64_t val)
{
    return wrmsr_safe(msr, val) == GP_VECTOR;
}

static bool gp_on_read(uint32_t msr)
{
    uint64_t v;

    return rdmsr_safe(msr, &v) == GP_VECTOR;
}

static uint64_t mask(unsigned bits)
{
    return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static void check_cpuid(void)
{
    uint32_t a, b, c, d;

    cpuid(0xa, 0, &a, &b, &c, &d);
    guest_printf("# CPUID.0AH: eax=0x%x ebx=0x%x ecx=0x%x edx=0x%x\n",
                 a, b, c, d);
    check((a & 0xff) == version, "CPUID.0AH:EAX version %u", a & 0xff);
    check(((a >> 8) & 0xff) == gp, "CPUID.0AH:EAX %u GP counters",
          (a >> 8) & 0xff);
    check(((a >> 16) & 0xff) == width, "CPUID.0AH:EAX GP width %u",
          (a >> 16) & 0xff);
    check((d & 0x1f) == fixed, "CPUID.0AH:EDX %u fixed counters", d & 0x1f);
    check(((d >> 5) & 0xff) == width, "CPUID.0AH:EDX fixed width %u",
          (d >> 5) & 0xff);
    if (version >= 5) {
        check(c == mask(fixed), "v5: CPUID.0AH:ECX fixed bitmap 0x%x", c);
        check(d & (1u << 15), "v5: CPUID.0AH:EDX[15] AnyThread deprecated");
    }
    cpuid(1, 0, &a, &b, &c, &d);
    check(c & CPUID_1_ECX_PDCM, "CPUID.1:ECX.PDCM: PERF_CAPABILITIES exists");
    check(rdmsr(MSR_IA32_PERF_CAPABILITIES) == (fw ? PERF_CAP_FW_WRITE : 0),
          "PERF_CAPABILITIES.FW_WRITE is %u", fw);
    check(gp_on_write(MSR_IA32_PERF_CAPABILITIES, 0),
          "PERF_CAPABILITIES is read-only (#GP)");
}

static void check_reset_and_presence(void)
{
    uint64_t v;
    unsigned i;

    v = rdmsr(MSR_IA32_PERF_GLOBAL_CTRL);
    check(v == mask(gp), "GLOBAL_CTRL resets to the GP bits (0x%lx)", v);
    check(rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) == 0, "GLOBAL_STATUS resets to 0");
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);

    for (i = 0; i < gp; i++) {
        wrmsr(MSR_IA32_PERFEVTSEL0 + i, EVTSEL_USR | (0x10 + i));
        wrmsr(MSR_IA32_PMC0 + i, 0x1000 + i);
    }
    for (i = 0; i < gp; i++) {
        if (rdmsr(MSR_IA32_PERFEVTSEL0 + i) != (EVTSEL_USR | (0x10 + i)) ||
            rdmsr(MSR_IA32_PMC0 + i) != 0x1000 + i) {
            break;
        }
    }
    check(i == gp, "all %u PERFEVTSEL/PMC pairs hold their values", gp);
    if (gp < 8) {
        check(gp_on_read(MSR_IA32_PMC0 + gp) &&
              gp_on_write(MSR_IA32_PERFEVTSEL0 + gp, 0),
              "PMC%u/PERFEVTSEL%u (not configured) raise #GP", gp, gp);
    }
    for (i = 0; i < fixed; i++) {
        wrmsr(MSR_IA32_FIXED_CTR0 + i, 0x2000 + i);
    }
    for (i = 0; i < fixed; i++) {
        if (rdmsr(MSR_IA32_FIXED_CTR0 + i) != 0x2000 + i) {
            break;
        }
    }
    check(i == fixed, "all %u FIXED_CTRs hold their values", fixed);
    if (fixed < 4) {
        check(gp_on_read(MSR_IA32_FIXED_CTR0 + fixed),
              "FIXED_CTR%u (not configured) raises #GP", fixed);
    }
}

static void check_reserved_bits(void)
{
    bool any_ok = version == 3 || version == 4;

    check(gp_on_write(MSR_IA32_PERFEVTSEL0, 1ull << 32),
          "PERFEVTSEL0 bit 32 is reserved (#GP)");
    check(gp_on_write(MSR_IA32_PERFEVTSEL0, EVTSEL_ANY) != any_ok,
          "PERFEVTSEL AnyThread %s in version %u",
          any_ok ? "accepted" : "#GP", version);
    if (fixed) {
        check(gp_on_write(MSR_IA32_FIXED_CTR_CTRL, 0x4) != any_ok,
              "FIXED_CTR_CTRL AnyThread %s in version %u",
              any_ok ? "accepted" : "#GP", version);
    }
    check(gp_on_write(MSR_IA32_FIXED_CTR_CTRL, 1ull << (4 * fixed)),
          "FIXED_CTR_CTRL field %u (no such counter) raises #GP", fixed);
    check(gp_on_write(MSR_IA32_PERF_GLOBAL_CTRL, 1ull << (32 + fixed)),
          "GLOBAL_CTRL bit %u (no such counter) raises #GP", 32 + fixed);
    check(gp_on_write(MSR_IA32_PERF_GLOBAL_CTRL, 1ull << 31),
          "GLOBAL_CTRL bit 31 is reserved (#GP)");
    check(gp_on_write(MSR_IA32_PERF_GLOBAL_STATUS, 1),
          "GLOBAL_STATUS is read-only (#GP)");
    check(gp_on_write(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1ull << 31),
          "GLOBAL_OVF_CTRL bit 31 is reserved (#GP)");
    check(rdmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL) == 0, "GLOBAL_OVF_CTRL reads 0");
    if (fixed) {
        check(gp_on_write(MSR_IA32_FIXED_CTR0, 1ull << width),
              "FIXED_CTR0 bits above the width are reserved (#GP)");
    }
}

static void check_counter_writes(void)
{
    uint64_t v;

    /* SDM: legacy PMC writes sign-extend bit 31 to the counter width. */
    wrmsr(MSR_IA32_PMC0, 0x80000001u);
    v = rdmsr(MSR_IA32_PMC0);
    check(v == (mask(width) & ~0x7ffffffeull), "PMC0 <- 0x80000001 reads "
          "0x%lx (sign-extended to %u bits)", v, width);
    if (fw) {
        wrmsr(MSR_IA32_A_PMC0, 0x123456789ull & mask(width));
        v = rdmsr(MSR_IA32_PMC0);
        check(v == (0x123456789ull & mask(width)),
              "A_PMC0 full-width write reads back through PMC0 (0x%lx)", v);
        check(gp_on_write(MSR_IA32_A_PMC0, 1ull << width),
              "A_PMC0 bits above the width are reserved (#GP)");
    } else {
        check(gp_on_read(MSR_IA32_A_PMC0) &&
              gp_on_write(MSR_IA32_A_PMC0, 0),
              "A_PMC0 raises #GP without FW_WRITE");
    }
}

static void check_overflow(void)
{
    uint64_t status;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, mask(gp) | mask(fixed) << 32);
    wrmsr(MSR_IA32_PMC0, (uint32_t)-1000);
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES);
    if (fixed >= 2) {
        wrmsr(MSR_IA32_FIXED_CTR0 + 1, mask(width) - 1000);
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0x3 << 4);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1 | (fixed >= 2 ? 1ull << 33 : 0));
    busy_loop(20000);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(status & 1, "PMC0 wrapping sets GLOBAL_STATUS bit 0 (0x%lx)",
          status);
    if (fixed >= 2) {
        check(status & (1ull << 33), "FIXED_CTR1 wrapping sets GLOBAL_STATUS "
              "bit 33 (0x%lx)", status);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, status);
    status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(status == 0, "GLOBAL_OVF_CTRL clears them (0x%lx)", status);
}

static void check_v4(void)
{
    uint64_t v, before;

    if (version < 4) {
        check(gp_on_read(MSR_GLOBAL_STATUS_SET) &&
              gp_on_read(MSR_GLOBAL_INUSE),
              "v%u: GLOBAL_STATUS_SET and GLOBAL_INUSE raise #GP", version);
        return;
    }
    wrmsr(MSR_GLOBAL_STATUS_SET, 1);
    v = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    check(v == 1, "v4: GLOBAL_STATUS_SET sets status bits (0x%lx)", v);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1);
    check(gp_on_write(MSR_GLOBAL_STATUS_SET, 1ull << 63),
          "v4: GLOBAL_STATUS_SET cannot set CondChgd (#GP)");

    wrmsr(MSR_IA32_PERFEVTSEL0, EVENT_CORE_CYCLES);
    v = rdmsr(MSR_GLOBAL_INUSE);
    check(v & 1, "v4: GLOBAL_INUSE bit 0 follows PERFEVTSEL0 (0x%lx)", v);
    check(gp_on_write(MSR_GLOBAL_INUSE, 0), "v4: GLOBAL_INUSE is read-only");

    /* SDM: CTR_FRZ stops every counter until it is cleared. */
    wrmsr(MSR_IA32_PERFEVTSEL0, CYCLES);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 1);
    wrmsr(MSR_GLOBAL_STATUS_SET, GLOBAL_CTR_FRZ);
    before = rdmsr(MSR_IA32_PMC0);
    busy_loop(5000);
    v = rdmsr(MSR_IA32_PMC0);
    check(v == before, "v4: CTR_FRZ freezes PMC0 (+%lu)", v - before);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, GLOBAL_CTR_FRZ);
    busy_loop(5000);
    v = rdmsr(MSR_IA32_PMC0);
    check(v != before, "v4: clearing CTR_FRZ resumes counting (+%lu)",
          v - before);
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
}

static void check_debugctl(void)
{
    uint64_t v;

    wrmsr(MSR_IA32_DEBUGCTL, DEBUGCTL_FREEZE_PERFMON | DEBUGCTL_FREEZE_LBRS);
    v = rdmsr(MSR_IA32_DEBUGCTL);
    check((v & (DEBUGCTL_FREEZE_PERFMON | DEBUGCTL_FREEZE_LBRS)) ==
          (DEBUGCTL_FREEZE_PERFMON | DEBUGCTL_FREEZE_LBRS),
          "DEBUGCTL freeze-on-PMI bits read back (0x%lx)", v);
    wrmsr(MSR_IA32_DEBUGCTL, 0);
    check(gp_on_write(MSR_IA32_DEBUGCTL, 1ull << 63),
          "DEBUGCTL bit 63 is reserved (#GP)");
}

/*
 * DEBUGCTL's other bits get what KVM gives a guest without LBR: LBR and
 * BTF are ignored (they read back 0); bus-lock detection and RTM
 * debugging need their CPUID bits; the BTS, trace and SMM bits #GP.
 */
static void check_debugctl_kvm_bits(void)
{
    uint32_t a, b, c, d;
    uint64_t v = ~0ull;
    unsigned bit;

    cpuid(7, 0, &a, &b, &c, &d);
    check(wrmsr_safe(MSR_IA32_DEBUGCTL, 0x3) == NO_EXCEPTION &&
          rdmsr_safe(MSR_IA32_DEBUGCTL, &v) == NO_EXCEPTION && !(v & 0x3),
          "DEBUGCTL.LBR and BTF are ignored: no LBR (0x%lx)", v);
    for (bit = 6; bit <= 14; bit++) {
        if (bit == 11 || bit == 12) {
            continue;           /* the freeze bits, the vPMU's */
        }
        check(gp_on_write(MSR_IA32_DEBUGCTL, 1ull << bit),
              "DEBUGCTL bit %u is not the guest's (#GP)", bit);
    }
    check(gp_on_write(MSR_IA32_DEBUGCTL, 1ull << 2) != !!(c & (1u << 24)),
          "DEBUGCTL.BUS_LOCK_DETECT as CPUID.7.ECX[24] says (%u)",
          !!(c & (1u << 24)));
    check(gp_on_write(MSR_IA32_DEBUGCTL, 1ull << 15) != !!(b & (1u << 11)),
          "DEBUGCTL.RTM_DEBUG as CPUID.7.EBX[11] (RTM) says (%u)",
          !!(b & (1u << 11)));
    wrmsr(MSR_IA32_DEBUGCTL, 0);
}

/*
 * No LBR: every LBR MSR of every format #GPs (none may reach KVM's own
 * LBR), while the MSRs that share their filter ranges stay KVM's.
 */
static void check_no_lbr(void)
{
    static const uint32_t lbr[] = {
        0x1c8, 0x1c9, 0x40, 0x47, 0x60, 0x67, 0x680, 0x69f, 0x6c0, 0x6df,
        0xdc0, 0xddf, 0x14ce, 0x14cf, 0x1200, 0x121f, 0x1500, 0x151f,
        0x1600, 0x161f,
    };
    uint64_t v, sysenter_cs;
    unsigned i, n = 0;

    for (i = 0; i < sizeof(lbr) / sizeof(lbr[0]); i++) {
        n += gp_on_read(lbr[i]) && gp_on_write(lbr[i], 0);
    }
    check(n == sizeof(lbr) / sizeof(lbr[0]), "%u of %u LBR MSRs #GP on "
          "RDMSR and WRMSR", n, (unsigned)(sizeof(lbr) / sizeof(lbr[0])));
    /* IA32_SYSENTER_CS (0x174) lies in the range of 0x40..0x1d9. */
    sysenter_cs = rdmsr(0x174);
    wrmsr(0x174, 0x10);
    v = rdmsr(0x174);
    wrmsr(0x174, sysenter_cs);
    check(v == 0x10, "IA32_SYSENTER_CS, between routed MSRs, is KVM's "
          "(0x%lx)", v);
}

int main(void)
{
    version = cmdline_uint("version", 2);
    gp = cmdline_uint("gp", 4);
    fixed = cmdline_uint("fixed", 3);
    width = cmdline_uint("width", 48);
    fw = cmdline_uint("fw", 1);
    guest_printf("# pmu-conformance: version=%u gp=%u fixed=%u width=%u "
                 "fw=%u\n", version, gp, fixed, width, fw);

    check_cpuid();
    check_reset_and_presence();
    check_reserved_bits();
    check_counter_writes();
    check_overflow();
    check_v4();
    check_debugctl();
    check_debugctl_kvm_bits();
    check_no_lbr();
    return 0;
}
