/*
 * qemu-vpmu: KVM glue of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef I386_KVM_VPMU_KVM_H
#define I386_KVM_VPMU_KVM_H

#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-perf.h"

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
struct kvm_run;
struct kvm_guest_debug;
/* After every KVM_RUN (exact counting looks at each single-step). */
void kvm_vpmu_post_run(X86CPU *cpu, struct kvm_run *run);
/* KVM_EXIT_DEBUG: true when it was the vPMU's own step, now consumed. */
bool kvm_vpmu_debug_exit(X86CPU *cpu, struct kvm_run *run);
/* QEMU builds KVM's debug control (gdbstub): the vPMU adds its step. */
void kvm_vpmu_update_guest_debug(X86CPU *cpu, struct kvm_guest_debug *dbg);
/* QEMU is about to write the vCPU's registers into KVM. */
void kvm_vpmu_regs_written(X86CPU *cpu);
void kvm_vpmu_destroy_vcpu(X86CPU *cpu);

/*
 * For the management layer (hw/i386/vpmu/vpmu-qmp.c and friends).  Those
 * taking a vCPU must run on its thread (run_on_cpu) and only for a vCPU
 * whose cpu->vpmu is set.
 */
VPMUPerf *kvm_vpmu_backend(X86CPU *cpu);
/* Unique per vPMU created, unlike cpu_index, which an unplug frees. */
uint64_t kvm_vpmu_instance(X86CPU *cpu);
void kvm_vpmu_glue_stats(X86CPU *cpu, uint64_t *msr_exits, uint64_t *pmis);
/* vpmu-exact=on: the slots counted by stepping; false when it is off. */
bool kvm_vpmu_exact_slots(X86CPU *cpu, uint32_t *owned);
/* ... and what stepping did; @ns includes the stretch under way. */
void kvm_vpmu_exact_stats(X86CPU *cpu, bool *stepping, uint64_t *steps,
                          uint64_t *retired, uint64_t *iterations,
                          uint64_t *events, uint64_t *unexplained,
                          uint64_t *arms, uint64_t *ns);
/* Why the LBR backend cannot record (host-state lost), or NULL. */
const char *kvm_vpmu_lbr_lost_reason(X86CPU *cpu);
/* Whether KVM's LBR records for the vCPU (the hardware LBR backend). */
bool kvm_vpmu_lbr_hardware(X86CPU *cpu);
/* The per-VM event filter; false when there is none. */
bool kvm_vpmu_vm_filter(VPMUEventFilter *f);
/* Replace it (NULL: none) for vCPUs created from now on. */
void kvm_vpmu_set_vm_filter(const VPMUEventFilter *f);
/* -accel kvm,vpmu=userspace (the default): the vPMU is ours. */
bool kvm_vpmu_userspace(void);
/*
 * Whose PMU (VPMUArch) the vCPU gets: -cpu ...,pmu-arch=, by default its
 * CPU vendor's (target/i386/kvm/vpmu-cpuid.c).
 */
bool kvm_vpmu_choose_arch(X86CPU *cpu, int *arch, Error **errp);
/*
 * Whether the vCPU's vendor is @arch's (Intel, or AMD and Hygon): guests
 * pick their PMU driver by vendor.
 */
bool kvm_vpmu_arch_fits_vendor(X86CPU *cpu, int arch);
/* An AMD PMU's configuration from the CPU's flags and pmu-* properties. */
bool kvm_vpmu_amd_config(X86CPU *cpu, VPMUConfig *cfg, Error **errp);
/*
 * cpu_x86_cpuid()'s last word on the PMU's bits: PERFCTR_CORE, leaf
 * 0x80000022 and PDCM follow the vPMU's PMU (none with pmu=off).
 */
void kvm_vpmu_cpuid(X86CPU *cpu, uint32_t index, uint32_t count,
                    uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                    uint32_t *edx);
/*
 * How many AMD counters KVM's own PMU has (0: none, or no core extension,
 * so that RDPMC coherence is off), from KVM's CPUID without our bits.
 */
unsigned kvm_vpmu_kvm_amd_counters(void);
/* Bits kvm_arch_get_supported_cpuid() adds for the userspace vPMU. */
uint32_t kvm_vpmu_supported_cpuid(uint32_t function, uint32_t index,
                                  int reg);

/* How often management looks for contention (0: never). */
uint32_t kvm_vpmu_monitor_ms(void);
#define KVM_VPMU_DEFAULT_MONITOR_MS 1000

#endif
