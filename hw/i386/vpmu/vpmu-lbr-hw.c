/*
 * qemu-vpmu: the hardware LBR backend (KVM's guest LBR, driven from QEMU)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What KVM does with our host-initiated accesses (arch/x86/kvm/vmx/
 * pmu_intel.c; lbr.md, section 2.2), which everything here relies on:
 * - a write of DEBUGCTL with LBR set, or any access to an LBR MSR,
 *   creates KVM's guest LBR event if it has none; the event's first
 *   schedule clears the records (intel_pmu_lbr_add() -> reset);
 * - LBR MSR accesses reach the real MSRs only while the event is active;
 *   otherwise reads return 0 and writes are dropped.  A host CPU-pinned
 *   LBR user makes it inactive, and the records are then gone;
 * - with DEBUGCTL.LBR clear, the event is released at the vCPU's next
 *   sched-in (intel_pmu_cleanup()), so the records do not outlive a stop.
 * Hence: push the model's registers when recording starts, snapshot the
 * records when it stops, and never touch an LBR MSR while the guest does
 * not record, since that alone would create an event.
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu-lbr-hw.h"

void vpmu_lbr_hw_init(VPMULbrHw *hw, const VPMULbrHwOps *ops, void *opaque)
{
    memset(hw, 0, sizeof(*hw));
    hw->ops = ops;
    hw->opaque = opaque;
}

/*
 * Whether MSR_LBR_SELECT can tell if KVM still has the hardware: a
 * non-zero value that reads back 0 was not written to the real MSR.
 */
static bool lbr_hw_probeable(const VPMULbrState *l)
{
    return l->has_select && l->select;
}

/*
 * TOS and every record of the guest's LBR (its depth and MSRs are the
 * host's), then MSR_LBR_SELECT if @probe and it can tell.  Returns the
 * number of MSRs.
 */
static unsigned lbr_hw_batch(const VPMULbrState *l, uint32_t *idx,
                             bool probe)
{
    unsigned i, n = 0;

    idx[n++] = VPMU_LBR_MSR_TOS;
    for (i = 0; i < (unsigned)l->cfg.depth; i++) {
        idx[n++] = l->from_base + i;
        idx[n++] = l->to_base + i;
        if (l->info_base) {
            idx[n++] = l->info_base + i;
        }
    }
    if (probe && lbr_hw_probeable(l)) {
        idx[n++] = VPMU_LBR_MSR_SELECT;
    }
    return n;
}

static void lbr_hw_stop(VPMULbrHw *hw, VPMUState *s, bool snapshot);

/*
 * KVM lost the hardware (or refuses it): the model freezes its records
 * where they are, and the hardware stops until the guest asks again.
 */
static void lbr_hw_lose(VPMULbrHw *hw, VPMUState *s, const char *why)
{
    if (!hw->lost) {
        hw->lost = true;
        hw->stats.losses++;
    }
    hw->lost_reason = why;
    vpmu_set_lbr_lost(s, true);
    if (hw->recording) {
        lbr_hw_stop(hw, s, false);
    }
}

static void lbr_hw_refused(VPMULbrHw *hw, VPMUState *s)
{
    hw->stats.errors++;
    lbr_hw_lose(hw, s, "KVM refused a host access to its LBR MSRs");
}

/*
 * Copy what a batch read into the model, unless its LBR_SELECT probe
 * says the hardware was lost: then the values are KVM's zeros.
 */
static bool lbr_hw_copy(VPMULbrHw *hw, VPMUState *s, const uint32_t *idx,
                        const uint64_t *val, unsigned n)
{
    unsigned i;

    if (n && idx[n - 1] == VPMU_LBR_MSR_SELECT) {
        if (!val[n - 1]) {
            lbr_hw_lose(hw, s, "a host LBR user took LBR from KVM's guest "
                        "LBR event");
            return false;
        }
        n--;                    /* LBR_SELECT is the model's */
    }
    for (i = 0; i < n; i++) {
        vpmu_lbr_msr_write(&s->lbr, idx[i], val[i], true);
    }
    return true;
}

/*
 * Recording starts: the model's registers, then DEBUGCTL.LBR, in one
 * KVM_SET_MSRS.  The first LBR MSR creates KVM's event if it has none,
 * and with it the reset of the records, so the model's land after it.
 * DEBUGCTL.FREEZE_LBRS_ON_PMI stays clear in hardware: the model freezes
 * at the PMI it injects (the vCPU does not run in between), while in
 * hardware any host PMI taken in the guest (the NMI watchdog, host perf)
 * would clear DEBUGCTL.LBR behind the model, and the event would then
 * be released with the records.
 */
static void lbr_hw_start(VPMULbrHw *hw, VPMUState *s)
{
    const VPMULbrState *l = &s->lbr;
    uint32_t idx[VPMU_LBR_HW_MAX_MSRS];
    uint64_t val[VPMU_LBR_HW_MAX_MSRS];
    unsigned i, n = 0;

    if (l->has_select) {
        idx[n++] = VPMU_LBR_MSR_SELECT;
    }
    n += lbr_hw_batch(l, idx + n, false);
    for (i = 0; i < n; i++) {
        vpmu_lbr_msr_read(l, idx[i], &val[i], true);
    }
    /* KVM's DEBUGCTL has bits of its own (bus-lock detection, RTM). */
    idx[n] = VPMU_MSR_DEBUGCTL;
    if (!hw->ops->get_msrs(hw->opaque, &idx[n], &val[n], 1)) {
        lbr_hw_refused(hw, s);
        return;
    }
    val[n++] |= VPMU_DEBUGCTL_LBR;
    hw->recording = true;
    if (!hw->ops->set_msrs(hw->opaque, idx, val, n)) {
        lbr_hw_refused(hw, s);
        return;
    }
    hw->stats.pushes++;
    /* After a loss: find out at once whether the hardware is ours. */
    if (hw->lost) {
        idx[0] = VPMU_LBR_MSR_SELECT;
        if (lbr_hw_probeable(l)) {
            if (!hw->ops->get_msrs(hw->opaque, idx, val, 1)) {
                lbr_hw_refused(hw, s);
                return;
            }
            if (!lbr_hw_copy(hw, s, idx, val, 1)) {
                return;
            }
        }
        hw->lost = false;
        hw->lost_reason = NULL;
    }
}

/* Recording stops: the records into the model, then DEBUGCTL.LBR = 0. */
static void lbr_hw_stop(VPMULbrHw *hw, VPMUState *s, bool snapshot)
{
    uint32_t idx[VPMU_LBR_HW_MAX_MSRS];
    uint64_t val[VPMU_LBR_HW_MAX_MSRS];
    unsigned n = snapshot ? lbr_hw_batch(&s->lbr, idx, true) : 0;

    hw->recording = false;
    idx[n++] = VPMU_MSR_DEBUGCTL;
    if (!hw->ops->get_msrs(hw->opaque, idx, val, n)) {
        lbr_hw_refused(hw, s);
        return;
    }
    val[n - 1] &= ~VPMU_DEBUGCTL_LBR;
    if (!hw->ops->set_msrs(hw->opaque, &idx[n - 1], &val[n - 1], 1)) {
        lbr_hw_refused(hw, s);
        return;
    }
    if (snapshot && lbr_hw_copy(hw, s, idx, val, n - 1)) {
        hw->stats.snapshots++;
    }
}

void vpmu_lbr_hw_sync(VPMULbrHw *hw, VPMUState *s)
{
    bool wanted = !hw->paused && vpmu_lbr_enabled(s) &&
                  !vpmu_lbr_frozen(s) && !s->lbr_reclaimed;

    if (hw->stale) {
        hw->stale = false;
        if (hw->recording) {
            lbr_hw_stop(hw, s, false);
        }
    }
    /*
     * After a loss, try again whenever the guest turns LBR back on (Linux
     * does at every PMI and PMU disable/enable): by then KVM may have
     * released its dead event, and a new one gets the hardware if the
     * host user is gone.
     */
    if (hw->lost && wanted && !hw->wanted) {
        vpmu_set_lbr_lost(s, false);
    }
    hw->wanted = wanted;
    if (!hw->paused && vpmu_lbr_recording(s)) {
        if (!hw->recording) {
            lbr_hw_start(hw, s);
        }
    } else if (hw->recording) {
        lbr_hw_stop(hw, s, true);
    }
}

void vpmu_lbr_hw_refresh(VPMULbrHw *hw, VPMUState *s)
{
    uint32_t idx[VPMU_LBR_HW_MAX_MSRS];
    uint64_t val[VPMU_LBR_HW_MAX_MSRS];
    unsigned n;

    /* Stopped or frozen, the model has the records: no host access. */
    if (!hw->recording) {
        return;
    }
    n = lbr_hw_batch(&s->lbr, idx, true);
    idx[n++] = VPMU_MSR_DEBUGCTL;
    if (!hw->ops->get_msrs(hw->opaque, idx, val, n)) {
        lbr_hw_refused(hw, s);
        return;
    }
    if (!lbr_hw_copy(hw, s, idx, val, n - 1)) {
        return;
    }
    hw->stats.refreshes++;
    /*
     * We never set FREEZE_LBRS_ON_PMI in hardware, so only a #DB the
     * guest took clears DEBUGCTL.LBR behind us (SDM): the model follows.
     */
    if (!(val[n - 1] & VPMU_DEBUGCTL_LBR)) {
        hw->recording = false;
        vpmu_lbr_debug_exception(s);
    }
}

void vpmu_lbr_hw_before_read(VPMULbrHw *hw, VPMUState *s, uint32_t msr)
{
    const VPMULbrState *l = &s->lbr;
    uint32_t depth = l->cfg.depth;

    /* LBR_SELECT is the model's: the hardware never changes it. */
    if (msr == VPMU_LBR_MSR_TOS || msr - l->from_base < depth ||
        msr - l->to_base < depth ||
        (l->info_base && msr - l->info_base < depth)) {
        vpmu_lbr_hw_refresh(hw, s);
    }
}

void vpmu_lbr_hw_written(VPMULbrHw *hw, VPMUState *s, uint32_t msr)
{
    uint64_t val;

    /* Not recording: the model has it, and the next start pushes it. */
    if (!hw->recording || !vpmu_lbr_msr_is_lbr(msr) ||
        !vpmu_lbr_msr_read(&s->lbr, msr, &val, true)) {
        return;
    }
    if (!hw->ops->set_msrs(hw->opaque, &msr, &val, 1)) {
        lbr_hw_refused(hw, s);
        return;
    }
    hw->stats.pushes++;
}

void vpmu_lbr_hw_pause(VPMULbrHw *hw, VPMUState *s, bool paused)
{
    hw->paused = paused;
    vpmu_lbr_hw_sync(hw, s);
}

void vpmu_lbr_hw_forget(VPMULbrHw *hw)
{
    hw->stale = true;
}

uint64_t vpmu_lbr_hw_debugctl(const VPMULbrHw *hw)
{
    return hw->recording ? VPMU_DEBUGCTL_LBR : 0;
}

const char *vpmu_lbr_hw_lost_reason(const VPMULbrHw *hw)
{
    return hw->lost ? hw->lost_reason : NULL;
}
