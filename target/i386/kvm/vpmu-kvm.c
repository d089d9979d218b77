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

    vpmu_config_default(&cfg);
    if (!vpmu_config_check(&cfg, errp)) {
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

static bool kvm_vpmu_rdmsr(X86CPU *cpu, uint32_t msr, uint64_t *val)
{
    if (!cpu->vpmu) {
        /* A vCPU without our vPMU has no PMU MSRs: #GP. */
        return false;
    }
    return vpmu_msr_read(cpu->vpmu, msr, val, false);
}

static bool kvm_vpmu_wrmsr(X86CPU *cpu, uint32_t msr, uint64_t val)
{
    bool ok;

    if (!cpu->vpmu) {
        return false;
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
