/*
 * qemu-vpmu: whose PMU a vCPU gets (Intel's or AMD's), and its CPUID
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guests pick their PMU driver by CPU vendor (Linux's amd_pmu_init(),
 * kvm-unit-tests' is_intel()), so by default the userspace vPMU gives a
 * vCPU the PMU of its vendor; -cpu ...,pmu-arch=intel|amd forces one.
 * An AMD PMU's flavour comes from QEMU's existing CPU flags: perfctr-core
 * (CPUID 0x80000001 ECX[23], 6 counters) and perfmon-v2 (CPUID
 * 0x80000022 EAX[0], the global registers), with pmu-gp-counters.
 * See shared/design/amd.md, sections 1.1 and 4.2-4.3.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "cpu.h"
#include "host-cpu.h"
#include "kvm_i386.h"
#include "hw/i386/vpmu.h"
#include "vpmu-kvm.h"

/* The AMD PMU's CPUID bits that QEMU's CPU code knows by these names. */
#define VPMU_CPUID_PERFCTR_NB       (1U << 24)  /* 0x80000001 ECX */
#define VPMU_CPUID_PERFCTR_LLC      (1U << 28)  /* 0x80000001 ECX */
#define VPMU_CPUID_PERFMON_V2_LEAF  0x80000022
/* "HygonGenuine", as CPUID.0 returns it in EBX, EDX, ECX */
#define VPMU_VENDOR_HYGON_1         0x6f677948
#define VPMU_VENDOR_HYGON_2         0x6e65476e
#define VPMU_VENDOR_HYGON_3         0x656e6975

static bool kvm_vpmu_host_is_amd(void)
{
    char vendor[CPUID_VENDOR_SZ + 1];

    host_cpu_vendor_fms(vendor, NULL, NULL, NULL);
    return !strcmp(vendor, CPUID_VENDOR_AMD) ||
           !strcmp(vendor, CPUID_VENDOR_HYGON);
}

/*
 * The AMD PMU bits the userspace vPMU implements, on AMD hosts: without
 * them QEMU's feature filtering drops perfctr-core and perfmon-v2 where
 * KVM's own PMU lacks them (kvm.enable_pmu=0, nested hosts), and -cpu
 * host would never get them.  kvm_vpmu_cpuid() gives the guest only its
 * own PMU's.  Intel hosts are left alone: their -cpu host has no use for
 * AMD bits.
 */
static bool kvm_vpmu_cpuid_raw;     /* KVM's own answer, without ours */

uint32_t kvm_vpmu_supported_cpuid(uint32_t function, uint32_t index,
                                  int reg)
{
    static int amd_host = -1;

    if (!kvm_vpmu_userspace() || kvm_vpmu_cpuid_raw) {
        return 0;
    }
    if (amd_host < 0) {
        amd_host = kvm_vpmu_host_is_amd();
    }
    if (!amd_host) {
        return 0;
    }
    if (function == 0x80000001 && reg == R_ECX) {
        return CPUID_EXT3_PERFCORE;
    }
    if (function == VPMU_CPUID_PERFMON_V2_LEAF && reg == R_EAX) {
        return CPUID_8000_0022_EAX_PERFMON_V2;
    }
    return 0;
}

unsigned kvm_vpmu_kvm_amd_counters(void)
{
    uint32_t ecx, eax22, ebx22;

    kvm_vpmu_cpuid_raw = true;
    ecx = kvm_arch_get_supported_cpuid(kvm_state, 0x80000001, 0, R_ECX);
    eax22 = kvm_arch_get_supported_cpuid(kvm_state,
                                         VPMU_CPUID_PERFMON_V2_LEAF, 0, R_EAX);
    ebx22 = kvm_arch_get_supported_cpuid(kvm_state,
                                         VPMU_CPUID_PERFMON_V2_LEAF, 0, R_EBX);
    kvm_vpmu_cpuid_raw = false;
    /* KVM reports PERFCTR_CORE only with a PMU of its own (svm.c) */
    if (!(ecx & CPUID_EXT3_PERFCORE)) {
        return 0;
    }
    return eax22 & CPUID_8000_0022_EAX_PERFMON_V2 ? ebx22 & 0xf
                                                   : VPMU_AMD_MAX_COUNTERS;
}

static bool kvm_vpmu_vendor_is_amd(CPUX86State *env)
{
    return IS_AMD_CPU(env) ||
           (env->cpuid_vendor1 == VPMU_VENDOR_HYGON_1 &&
            env->cpuid_vendor2 == VPMU_VENDOR_HYGON_2 &&
            env->cpuid_vendor3 == VPMU_VENDOR_HYGON_3);
}

bool kvm_vpmu_arch_fits_vendor(X86CPU *cpu, int arch)
{
    return arch == VPMU_ARCH_AMD ? kvm_vpmu_vendor_is_amd(&cpu->env)
                                 : IS_INTEL_CPU(&cpu->env);
}

bool kvm_vpmu_choose_arch(X86CPU *cpu, int *arch, Error **errp)
{
    const char *p = cpu->vpmu_arch;

    if (!p || !strcmp(p, "auto")) {
        *arch = kvm_vpmu_vendor_is_amd(&cpu->env) ? VPMU_ARCH_AMD
                                                   : VPMU_ARCH_INTEL;
    } else if (!strcmp(p, "intel")) {
        *arch = VPMU_ARCH_INTEL;
    } else if (!strcmp(p, "amd")) {
        *arch = VPMU_ARCH_AMD;
    } else {
        error_setg(errp, "vPMU: pmu-arch=%s: use auto (the CPU vendor's "
                   "PMU, the default), intel or amd", p);
        return false;
    }
    return true;
}

/*
 * The configuration of an AMD PMU, from the CPU flags.  The Intel PMU's
 * properties have no AMD meaning: each is refused by name, none ignored.
 */
bool kvm_vpmu_amd_config(X86CPU *cpu, VPMUConfig *cfg, Error **errp)
{
    CPUX86State *env = &cpu->env;
    bool core = env->features[FEAT_8000_0001_ECX] & CPUID_EXT3_PERFCORE;
    bool v2 = env->features[FEAT_8000_0022_EAX] &
              CPUID_8000_0022_EAX_PERFMON_V2;
    const char *prop = NULL;

    if (cpu->vpmu_version != -1) {
        prop = "pmu-version (the AMD PMU's version is 2 with perfmon-v2, "
               "else 1)";
    } else if (cpu->vpmu_fixed_counters != -1) {
        prop = "pmu-fixed-counters (AMD has none)";
    } else if (cpu->vpmu_counter_width != -1 &&
               cpu->vpmu_counter_width != VPMU_AMD_WIDTH) {
        prop = "pmu-counter-width (AMD counters have 48 bits)";
    } else if (cpu->vpmu_full_width_write != ON_OFF_AUTO_AUTO) {
        prop = "pmu-full-width-write (an Intel PERF_CAPABILITIES bit)";
    } else if (cpu->vpmu_lbr || cpu->vpmu_lbr_depth != -1 ||
               cpu->vpmu_arch_lbr) {
        prop = "lbr, lbr-depth and arch-lbr (Intel's LBR)";
    }
    if (prop) {
        error_setg(errp, "vPMU: CPU %d has an AMD PMU, to which %s does not "
                   "apply; drop it, or use pmu-arch=intel",
                   CPU(cpu)->cpu_index, prop);
        return false;
    }
    if (v2 && !core) {
        error_setg(errp, "vPMU: perfmon-v2 needs perfctr-core (AMD's "
                   "PerfMonV2 extends the core counters); add "
                   "perfctr-core=on or drop perfmon-v2");
        return false;
    }
    vpmu_config_amd(cfg, core, v2, cpu->vpmu_gp_counters);
    return vpmu_config_check(cfg, errp);
}

void kvm_vpmu_cpuid(X86CPU *cpu, uint32_t index, uint32_t count,
                    uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                    uint32_t *edx)
{
    const VPMUConfig *cfg = cpu->vpmu ? &cpu->vpmu->cfg : NULL;
    bool amd = cfg && cfg->arch == VPMU_ARCH_AMD;

    if (!kvm_vpmu_userspace()) {
        return;                 /* KVM's PMU, CPUID as QEMU has it */
    }
    switch (index) {
    case 1:
        /* PDCM: IA32_PERF_CAPABILITIES is Intel's */
        if (amd) {
            *ecx &= ~CPUID_EXT_PDCM;
        }
        break;
    case 0x80000001:
        /*
         * Only an AMD PMU has the core extension; with pmu=off there is
         * no PMU at all (KVM clears it alike without enable_pmu).  No
         * northbridge or L3 counters.
         */
        *ecx &= ~(CPUID_EXT3_PERFCORE | VPMU_CPUID_PERFCTR_NB |
                  VPMU_CPUID_PERFCTR_LLC);
        if (amd && cfg->amd_perfctr_core) {
            *ecx |= CPUID_EXT3_PERFCORE;
        }
        break;
    case VPMU_CPUID_PERFMON_V2_LEAF:
        if (cfg) {
            vpmu_cpuid_0x80000022(cfg, eax, ebx, ecx, edx);
        } else {
            *eax = *ebx = *ecx = *edx = 0;
        }
        break;
    }
}
