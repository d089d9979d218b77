/*
 * qemu-vpmu: KVM glue of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest accesses to the PMU MSRs leave KVM through its MSR filter
 * (KVM_X86_SET_MSR_FILTER, one range per block of PMU MSRs) and arrive here
 * on the vCPU thread, which hands them to the register model and lets the
 * model update the perf backend before the vCPU re-enters the guest.  This
 * file decodes no PMU semantics of its own.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qom/object.h"
#include "cpu.h"
#include "kvm_i386.h"
#include "system/kvm.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-perf.h"
#include "vpmu-kvm.h"

static KVMVPMUImpl kvm_vpmu_impl = KVM_VPMU_IMPL_USERSPACE;
static bool kvm_vpmu_filter_installed;

static const char *const kvm_vpmu_impl_names[] = {
    [KVM_VPMU_IMPL_USERSPACE] = "userspace",
    [KVM_VPMU_IMPL_KVM] = "kvm",
};

static const QEnumLookup kvm_vpmu_impl_lookup = {
    .array = kvm_vpmu_impl_names,
    .size = ARRAY_SIZE(kvm_vpmu_impl_names),
};

static int kvm_vpmu_get_impl(Object *obj, Error **errp)
{
    return kvm_vpmu_impl;
}

static void kvm_vpmu_set_impl(Object *obj, int value, Error **errp)
{
    kvm_vpmu_impl = value;
}

void kvm_vpmu_accel_class_init(ObjectClass *oc)
{
    object_class_property_add_enum(oc, "vpmu", "KVMVPMUImpl",
                                   &kvm_vpmu_impl_lookup,
                                   kvm_vpmu_get_impl, kvm_vpmu_set_impl);
    object_class_property_set_description(oc, "vpmu",
        "Who implements the PMU of pmu=on vCPUs: 'userspace' (qemu-vpmu, "
        "default) or 'kvm' (KVM's in-kernel vPMU)");
}

/*
 * The guest's PMU: the host's CPUID leaf 0xA, capped at what the model
 * implements (defaults where the host reports none), then the -cpu
 * pmu-* properties.
 */
static bool kvm_vpmu_config(X86CPU *cpu, VPMUConfig *cfg, Error **errp)
{
    uint32_t eax, ebx, ecx, edx;

    host_cpuid(0xa, 0, &eax, &ebx, &ecx, &edx);
    vpmu_config_from_host(cfg, eax, edx);
    if (cpu->vpmu_version != -1) {
        cfg->version = cpu->vpmu_version;
    }
    if (cpu->vpmu_gp_counters != -1) {
        cfg->nr_gp = cpu->vpmu_gp_counters;
    }
    if (cpu->vpmu_fixed_counters != -1) {
        cfg->nr_fixed = cpu->vpmu_fixed_counters;
    }
    if (cpu->vpmu_counter_width != -1) {
        cfg->gp_width = cfg->fixed_width = cpu->vpmu_counter_width;
    }
    cfg->perf_capabilities = cpu->vpmu_full_width_write ?
                             VPMU_PERF_CAP_FW_WRITE : 0;
    return vpmu_config_check(cfg, errp);
}

bool kvm_vpmu_cpu_realize(X86CPU *cpu, Error **errp)
{
    CPUX86State *env = &cpu->env;
    static bool vendor_warned;
    VPMUConfig cfg;
    VPMUPerf *backend;

    if (!cpu->enable_pmu || kvm_vpmu_impl != KVM_VPMU_IMPL_USERSPACE) {
        return true;
    }
    if (env->cpuid_level < 0xa) {
        error_setg(errp, "vPMU: CPUID level 0x%x has no leaf 0xA for the "
                   "PMU; raise it with -cpu ...,level=0xa or higher",
                   env->cpuid_level);
        return false;
    }

    if (!kvm_vpmu_config(cpu, &cfg, errp)) {
        return false;
    }
    backend = vpmu_perf_new(errp);
    if (!backend) {
        return false;
    }
    if (!IS_INTEL_CPU(env) && !vendor_warned) {
        vendor_warned = true;
        warn_report("vPMU: the guest gets Intel's architectural PMU "
                    "(CPUID leaf 0xA) with a non-Intel CPU vendor; guests "
                    "that pick their PMU driver by vendor will not use it");
    }

    cpu->vpmu = g_new0(VPMUState, 1);
    vpmu_state_init(cpu->vpmu, &cfg, &vpmu_perf_ops, backend);
    return true;
}

/*
 * IA32_DEBUGCTL is shared: its PMU bits (freeze on PMI) are the model's,
 * the rest (BTF, LBR until our LBR work, bus-lock detect...) stay KVM's,
 * which we reach with host-initiated KVM_GET/SET_MSRS (not filtered).
 * KVM refusing its part means reserved bits: #GP, as KVM would raise.
 */
static bool kvm_vpmu_kvm_debugctl(X86CPU *cpu, uint64_t *val, bool write)
{
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[1];
    } msrs = {
        .info.nmsrs = 1,
        .entries[0] = { .index = VPMU_MSR_DEBUGCTL, .data = *val },
    };
    int ret = kvm_vcpu_ioctl(CPU(cpu), write ? KVM_SET_MSRS : KVM_GET_MSRS,
                             &msrs);

    if (ret != 1) {
        return false;
    }
    *val = msrs.entries[0].data;
    return true;
}

static bool kvm_vpmu_rdmsr(X86CPU *cpu, uint32_t msr, uint64_t *val)
{
    uint64_t kvm_part = 0, pmu_part;

    if (!cpu->vpmu) {
        /* A vCPU without our vPMU has no PMU MSRs: #GP. */
        return false;
    }
    if (msr == VPMU_MSR_DEBUGCTL) {
        if (!kvm_vpmu_kvm_debugctl(cpu, &kvm_part, false) ||
            !vpmu_msr_read(cpu->vpmu, msr, &pmu_part, false)) {
            return false;
        }
        *val = (kvm_part & ~VPMU_DEBUGCTL_PMU_BITS) | pmu_part;
        return true;
    }
    return vpmu_msr_read(cpu->vpmu, msr, val, false);
}

static bool kvm_vpmu_wrmsr(X86CPU *cpu, uint32_t msr, uint64_t val)
{
    uint64_t old_pmu_part, kvm_part = val & ~VPMU_DEBUGCTL_PMU_BITS;
    bool ok;

    if (!cpu->vpmu) {
        return false;
    }
    if (msr == VPMU_MSR_DEBUGCTL) {
        /* The model checks the reserved bits before KVM sees anything. */
        vpmu_msr_read(cpu->vpmu, msr, &old_pmu_part, true);
        if (!vpmu_msr_write(cpu->vpmu, msr, val, false)) {
            return false;
        }
        if (!kvm_vpmu_kvm_debugctl(cpu, &kvm_part, true)) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR DEBUGCTL <- 0x%"
                          PRIx64 ": KVM refuses bits 0x%" PRIx64 " (#GP)\n",
                          val, kvm_part);
            vpmu_msr_write(cpu->vpmu, msr, old_pmu_part, true);
            return false;
        }
        return true;
    }
    ok = vpmu_msr_write(cpu->vpmu, msr, val, false);
    /* The exit returns to the guest next: the host side must be current. */
    vpmu_sync(cpu->vpmu);
    return ok;
}

int kvm_vpmu_init_vcpu(X86CPU *cpu)
{
    CPUState *cs = CPU(cpu);
    const VPMUMsrRange *r;
    int ret;

    if (!cpu->vpmu) {
        return 0;
    }
    /* Runs on the vCPU thread: this is the thread whose work we count. */
    vpmu_perf_attach(cpu->vpmu->opaque, cs->thread_id, cpu->env.tsc_khz);

    /* The filter is per VM; vCPU init is serialized by the BQL. */
    if (kvm_vpmu_filter_installed) {
        return 0;
    }
    for (r = vpmu_msr_ranges; r->nmsrs; r++) {
        ret = kvm_filter_msr_range(cs->kvm_state, r->base, r->nmsrs,
                                   kvm_vpmu_rdmsr, kvm_vpmu_wrmsr);
        if (ret < 0) {
            error_report("vPMU: cannot route MSRs 0x%x..0x%x to QEMU "
                         "(KVM_X86_SET_MSR_FILTER: %s); the host kernel needs "
                         "KVM_CAP_X86_USER_SPACE_MSR and free filter ranges",
                         r->base, r->base + r->nmsrs - 1, strerror(-ret));
            return ret;
        }
    }
    kvm_vpmu_filter_installed = true;
    return 0;
}

void kvm_vpmu_reset_vcpu(X86CPU *cpu)
{
    if (cpu->vpmu) {
        vpmu_reset(cpu->vpmu);
    }
}

void kvm_vpmu_destroy_vcpu(X86CPU *cpu)
{
    if (cpu->vpmu) {
        vpmu_release_all(cpu->vpmu);
        vpmu_perf_free(cpu->vpmu->opaque);
        g_free(cpu->vpmu);
        cpu->vpmu = NULL;
    }
}
