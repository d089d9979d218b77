/*
 * qemu-vpmu: KVM glue of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef I386_KVM_VPMU_KVM_H
#define I386_KVM_VPMU_KVM_H

/* Who gives a pmu=on guest its PMU (-accel kvm,vpmu=...). */
typedef enum KVMVPMUImpl {
    KVM_VPMU_IMPL_USERSPACE,    /* qemu-vpmu (default) */
    KVM_VPMU_IMPL_KVM,          /* KVM's in-kernel vPMU, for comparison */
} KVMVPMUImpl;

/*
 * Lazy release: a host event whose guest counter stays stopped this long
 * is closed.  Re-creating one costs ~5 us here against ~1 us for the
 * enable ioctl it replaces; a guest that stops a counter for 100 ms does
 * not need it soon.  See docs/system/i386/vpmu.rst.
 */
#define KVM_VPMU_DEFAULT_RELEASE_MS 100

void kvm_vpmu_accel_class_init(ObjectClass *oc);
/* Realize: create the vCPU's vPMU when pmu=on and vpmu=userspace. */
bool kvm_vpmu_cpu_realize(X86CPU *cpu, Error **errp);
/* On the vCPU thread, once KVM knows the vCPU: route its PMU MSRs to us. */
int kvm_vpmu_init_vcpu(X86CPU *cpu);
void kvm_vpmu_reset_vcpu(X86CPU *cpu);
/* Before KVM_RUN: act on counter overflows the host signalled. */
void kvm_vpmu_pre_run(X86CPU *cpu);
void kvm_vpmu_destroy_vcpu(X86CPU *cpu);

#endif
