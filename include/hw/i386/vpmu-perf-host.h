/*
 * qemu-vpmu: what the host allows the perf backend, and the mode it runs
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_PERF_HOST_H
#define HW_I386_VPMU_PERF_HOST_H

#include "hw/i386/vpmu-perf.h"

/* The facts about the host that decide between hardware and software. */
typedef struct VPMUPerfHost {
    /* Opening a guest-only CPU cycles event: 0, or its errno. */
    int probe_errno;
    /*
     * The host CPU's vendor, which decides whose event encodings its PMU
     * counts: Intel's, or AMD's (AMD and Hygon); neither for others.
     */
    bool intel, amd;
    /*
     * KVM's mediated vPMU is enabled (kvm_intel or kvm_amd's
     * enable_mediated_pmu): @mediated_param names the parameter.
     */
    const char *mediated_param;
    /*
     * Hybrid hosts: the CPUs of the P-core PMU (cpu_core, which takes
     * PERF_TYPE_RAW) and of the E-core PMU (cpu_atom), as sysfs lists
     * them ("0-15"); NULL where the host has one core PMU.  @affinity:
     * the CPUs QEMU may run on, in the same format.
     */
    char *core_cpus, *atom_cpus, *affinity;
} VPMUPerfHost;

/* The facts of this host (perf_event_open, sysfs, sched_getaffinity). */
void vpmu_perf_host_probe(VPMUPerfHost *h);
void vpmu_perf_host_free(VPMUPerfHost *h);

/*
 * The mode to run for -accel kvm,vpmu-backend=@asked and a guest PMU of
 * @arch (a VPMUArch; hardware mode needs a host PMU of the same vendor):
 * HARDWARE or SOFTWARE in @mode, and in @why (g_free it) what to say at
 * startup, or false and @errp where @asked cannot run.  @warn: @why is a
 * warning (hardware mode was possible in principle but is not usable
 * here).
 */
bool vpmu_perf_host_choose(const VPMUPerfHost *h, int arch,
                           VPMUPerfMode asked, VPMUPerfMode *mode,
                           char **why, bool *warn, Error **errp);

#endif
