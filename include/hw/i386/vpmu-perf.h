/*
 * qemu-vpmu: host backend on Linux perf_event_open
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_PERF_H
#define HW_I386_VPMU_PERF_H

#include "hw/i386/vpmu.h"

typedef enum VPMUPerfMode {
    /* Raw events on the host PMU, counting guest mode only. */
    VPMU_PERF_HARDWARE,
    /*
     * No usable host PMU: cycle events are the vCPU thread's task-clock
     * scaled by the TSC frequency; every other event reads as frozen.
     */
    VPMU_PERF_SOFTWARE,
} VPMUPerfMode;

typedef struct VPMUPerf VPMUPerf;

extern const VPMUBackendOps vpmu_perf_ops;

/*
 * A backend for one vCPU.  The first call decides the mode for the whole
 * process and says once which mode runs and why.
 */
VPMUPerf *vpmu_perf_new(Error **errp);
void vpmu_perf_free(VPMUPerf *p);
/* The vCPU thread whose execution is counted, and its TSC frequency. */
void vpmu_perf_attach(VPMUPerf *p, int tid, uint64_t tsc_khz);
VPMUPerfMode vpmu_perf_mode(const VPMUPerf *p);
/* Host perf fds currently open for this vCPU. */
unsigned vpmu_perf_open_fds(const VPMUPerf *p);

#endif
