/*
 * qemu-vpmu: what the register model's counter core and its register
 * decoders share
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The register model is a vendor-neutral counter core (vpmu-core.c:
 * counter slots, folding host counts, wrap and overflow, the backend, host
 * policy, the save/load driver) and a register decoder that says what each
 * MSR means (vpmu-intel.c: the Intel architectural PMU; vpmu-amd.c: AMD's
 * K7, core extension and PerfMonV2).  The core reaches the decoder only
 * through the VPMUArchOps table that vpmu_state_init() chooses by
 * cfg->arch and stores in VPMUState; decoders use the core through the
 * helpers below.
 *
 * A decoder's writes only validate and update registers and mark the
 * counters they affect dirty (s->dirty |= slot_bit(slot)); vpmu_sync()
 * then tells the backend (see vpmu-core.c).
 */
#ifndef HW_I386_VPMU_INTERNAL_H
#define HW_I386_VPMU_INTERNAL_H

#include "hw/i386/vpmu.h"

/*
 * A register decoder.  Slots are as in VPMUBackendOps.  Hooks work on the
 * registers in VPMUState and reach the backend only through the core's
 * helpers below.
 */
typedef struct VPMUArchOps {
    /*
     * Every MSR the decoder answers, terminated by { 0, 0 }
     * (vpmu_msr_ranges_of(); vpmu_msr_ranges is the Intel decoder's).
     */
    const VPMUMsrRange *ranges;
    /*
     * Whether delivering a PMI masks the LVTPC (vpmu_pmi_masks_lvtpc()):
     * the SDM says so for Intel; the AMD local APIC leaves it alone.
     */
    bool mask_lvtpc_on_pmi;
    /*
     * Check a configuration of this arch (vpmu_config_check(), which has
     * checked cfg->arch).  Errors name the -cpu property.
     */
    bool (*config_check)(const VPMUConfig *cfg, Error **errp);
    /*
     * Name @msr as vpmu_msr_name() does, if it is one of this vendor's
     * PMU MSRs (whatever the configuration); else return false.
     */
    bool (*msr_name)(uint32_t msr, char *buf, size_t len);
    /*
     * Derive the reserved-bit masks from s->cfg; the core has set the
     * width masks, counters_mask and overflow_status (= counters_mask).
     */
    void (*init_masks)(VPMUState *s);
    /*
     * Put the decoder's registers in their power-up/INIT state.  The core
     * has released every host event and cleared the counters,
     * GLOBAL_STATUS, the pending PMI and the dirty marks.
     */
    void (*reset)(VPMUState *s);
    /* The registers say that the counter of @slot counts. */
    bool (*wants_counting)(const VPMUState *s, unsigned slot);
    /* What the host must count for @slot (see VPMUHostEvent). */
    void (*host_event)(const VPMUState *s, unsigned slot, VPMUHostEvent *ev);
    /* An overflow of @slot raises a PMI. */
    bool (*pmi_enabled)(const VPMUState *s, unsigned slot);
    /*
     * Decode an access as vpmu_msr_read() and vpmu_msr_write() describe
     * them (which log and trace it).  Return false where the access #GPs;
     * a write refused for reserved bits sets *@rsvd to them, else to 0.
     * The LBR MSRs (vpmu_lbr_msr_is_lbr()) are the exception: vpmu-lbr.c
     * logs their #GPs by name, and the core does not log them again.
     */
    bool (*msr_read)(VPMUState *s, uint32_t msr, uint64_t *val, bool host);
    bool (*msr_write)(VPMUState *s, uint32_t msr, uint64_t val, bool host,
                      uint64_t *rsvd);
    /* The pending PMI was delivered; the core has cleared pmi_pending. */
    void (*pmi_delivered)(VPMUState *s);
    /*
     * Check that @in was made for this configuration and write its
     * registers into @s, which is in its reset state, with the checks a
     * host-initiated write gets.  On failure set @errp and return false:
     * the core then resets @s.  pmi_pending and vpmu_sync() are the core's.
     */
    bool (*load)(VPMUState *s, const VPMUSavedState *in, Error **errp);
} VPMUArchOps;

/* The Intel architectural PMU (vpmu-intel.c). */
extern const VPMUArchOps vpmu_intel_ops;
/* AMD: K7, the core extension and PerfMonV2 (vpmu-amd.c). */
extern const VPMUArchOps vpmu_amd_ops;

/* Bits [n-1:0]; unlike MAKE_64BIT_MASK, defined for n == 0. */
static inline uint64_t low_bits(unsigned n)
{
    return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static inline bool slot_is_fixed(unsigned slot)
{
    return slot >= VPMU_MAX_GP;
}

/* The slot's bit in GLOBAL_CTRL / GLOBAL_STATUS (and in s->dirty). */
static inline uint64_t slot_bit(unsigned slot)
{
    return slot_is_fixed(slot) ?
        1ULL << (VPMU_FIXED_BASE_BIT + slot - VPMU_MAX_GP) : 1ULL << slot;
}

static inline unsigned fixed_field(const VPMUState *s, unsigned idx)
{
    return (s->fixed_ctr_ctrl >> (4 * idx)) & 0xf;
}

/*
 * Fold what the host counted since the last look into the guest value
 * (with wrap and overflow) and return it.
 */
uint64_t vpmu_slot_fold(VPMUState *s, unsigned slot);
/* Set the guest value, truncated to the counter's width. */
void vpmu_slot_set_value(VPMUState *s, unsigned slot, uint64_t val);

/*
 * Before a write changes what an overflow means (INT, GLOBAL_STATUS),
 * overflows that already happened must be accounted under the old rules.
 * Only then: the fold costs the host a read, and enable toggles are the
 * fast path.
 */
static inline void slot_fold_if_counted(VPMUState *s, unsigned slot)
{
    if (s->counters[slot].unfolded) {
        vpmu_slot_fold(s, slot);
    }
}

#endif
