/*
 * qemu-vpmu: the hardware LBR backend (KVM's guest LBR, driven from QEMU)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * On an Intel host whose KVM virtualizes legacy LBR, the real LBR stack
 * can record the guest's branches (lbr.md, section 2.2).  The register
 * model (VPMUState.lbr) stays the guest's LBR: it owns every register,
 * serves every guest read and decides when the guest records; the
 * hardware only records.  This layer keeps the two in step through host-
 * initiated MSR accesses (VPMULbrHwOps):
 * - the hardware records exactly while vpmu_lbr_recording() holds: the
 *   model's registers are pushed to it when recording starts, and its
 *   records are copied back (a snapshot) when it stops, so that reads of
 *   a frozen or stopped LBR never reach the host;
 * - while it records, a guest read of TOS or a record refreshes the
 *   model from the hardware first, and a guest write reaches both;
 * - when KVM loses the hardware to a host LBR user (its accesses then
 *   read 0), the model is told (vpmu_set_lbr_lost()) and keeps the last
 *   records it had.
 *
 * Legacy LBR only: KVM does not virtualize architectural LBR.  Pure:
 * no KVM or QEMU CPU headers; the KVM glue supplies the ops.
 */
#ifndef HW_I386_VPMU_LBR_HW_H
#define HW_I386_VPMU_LBR_HW_H

#include "hw/i386/vpmu.h"

/* LBR_SELECT, TOS, FROM/TO/INFO of 32 records, and DEBUGCTL */
#define VPMU_LBR_HW_MAX_MSRS    (2 + 3 * VPMU_LBR_MAX_DEPTH + 1)

/*
 * Host-initiated accesses to @n of the vCPU's MSRs at once (KVM_GET_MSRS,
 * KVM_SET_MSRS), in order, on the vCPU thread: KVM's guest LBR event
 * belongs to the task that creates it.  False when KVM refused any.
 */
typedef struct VPMULbrHwOps {
    bool (*get_msrs)(void *opaque, const uint32_t *idx, uint64_t *val,
                     unsigned n);
    bool (*set_msrs)(void *opaque, const uint32_t *idx, const uint64_t *val,
                     unsigned n);
} VPMULbrHwOps;

/* What the backend asked of the host, for query-vpmu and the tests. */
typedef struct VPMULbrHwStats {
    uint64_t pushes;        /* model -> hardware: a start or a guest write */
    uint64_t snapshots;     /* hardware -> model when recording stopped */
    uint64_t refreshes;     /* hardware -> model before a guest read */
    uint64_t losses;        /* times KVM lost the hardware */
    uint64_t errors;        /* host accesses KVM refused */
} VPMULbrHwStats;

/* Derived state only: everything here is rebuilt from the model. */
typedef struct VPMULbrHw {
    const VPMULbrHwOps *ops;
    void *opaque;
    bool recording;         /* hardware DEBUGCTL.LBR is set */
    bool wanted;            /* the guest asked to record at the last sync */
    bool paused;            /* the VM is stopped: the model is the truth */
    bool stale;             /* the model was replaced behind our back */
    bool lost;              /* we told the model LBR is lost */
    const char *lost_reason;
    VPMULbrHwStats stats;
} VPMULbrHw;

void vpmu_lbr_hw_init(VPMULbrHw *hw, const VPMULbrHwOps *ops, void *opaque);

/*
 * Bring the hardware in line with the model: start or stop recording as
 * vpmu_lbr_recording() says.  Call after anything that may change it: a
 * PMU MSR write, a PMI (freeze), reclaim or restore; the KVM glue calls
 * it before every KVM_RUN, which covers them all.
 */
void vpmu_lbr_hw_sync(VPMULbrHw *hw, VPMUState *s);
/* Before the model serves a guest read of @msr: current records. */
void vpmu_lbr_hw_before_read(VPMULbrHw *hw, VPMUState *s, uint32_t msr);
/* After the model accepted a guest write of @msr: the hardware too. */
void vpmu_lbr_hw_written(VPMULbrHw *hw, VPMUState *s, uint32_t msr);
/*
 * Copy the hardware's records into the model now, if it records (before
 * the model's state is read from elsewhere).
 */
void vpmu_lbr_hw_refresh(VPMULbrHw *hw, VPMUState *s);
/*
 * The VM stops (@paused) or runs again.  Stopping takes a snapshot and
 * stops the hardware, so that migration, reset and management see and
 * change only the model; running again pushes it back.
 */
void vpmu_lbr_hw_pause(VPMULbrHw *hw, VPMUState *s, bool paused);
/*
 * The model's registers were replaced (reset): what the hardware holds
 * is not the guest's any more.  No host access, so any thread may call
 * it; the next sync stops the hardware without a snapshot.
 */
void vpmu_lbr_hw_forget(VPMULbrHw *hw);

/*
 * The IA32_DEBUGCTL bits the backend keeps in KVM's DEBUGCTL: the glue
 * includes them whenever it writes the guest's DEBUGCTL to KVM.
 */
uint64_t vpmu_lbr_hw_debugctl(const VPMULbrHw *hw);
/* Why the backend cannot record, or NULL. */
const char *vpmu_lbr_hw_lost_reason(const VPMULbrHw *hw);

#endif
