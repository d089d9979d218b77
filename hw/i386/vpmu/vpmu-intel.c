/*
 * qemu-vpmu: the register decoder of the Intel architectural PMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What every PMU MSR means: the MSR ranges, reserved bits, CPUID leaf 0xA,
 * the GLOBAL_* registers, INUSE, PERF_CAPABILITIES and DEBUGCTL's
 * freeze-on-PMI.  The counters themselves are the core's (vpmu-core.c),
 * used through vpmu-internal.h.
 *
 * Rules cited as "SDM" are from the Intel SDM vol. 3B, chapter
 * "Performance Monitoring", and vol. 4 for the MSR layouts.  Where the SDM
 * leaves a detail open we follow KVM (arch/x86/kvm/vmx/pmu_intel.c) so that
 * guests see what they see under KVM's in-kernel vPMU.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "vpmu-internal.h"

static const VPMUMsrRange vpmu_msr_range_table[] = {
    { VPMU_MSR_PMC0, VPMU_MAX_GP },
    { VPMU_MSR_PERFEVTSEL0, VPMU_MAX_GP },
    { VPMU_MSR_FIXED_CTR0, VPMU_MAX_FIXED },
    { VPMU_MSR_FIXED_CTR_CTRL,
      VPMU_MSR_PERF_GLOBAL_INUSE - VPMU_MSR_FIXED_CTR_CTRL + 1 },
    { VPMU_MSR_A_PMC0, VPMU_MAX_GP },
    { VPMU_MSR_PERF_CAPABILITIES, 1 },
    { VPMU_MSR_DEBUGCTL, 1 },
    /*
     * The LBR MSRs of every format (SDM vol. 4), which vpmu-lbr.c
     * decodes: those the guest's LBR lacks #GP (all of them with lbr=off,
     * as on a CPU without LBR).  Routed here so that KVM's own LBR (on
     * Intel hosts whose KVM has a PMU) never answers them behind the
     * model's back.
     */
    { VPMU_MSR_LBR_SELECT, 2 },             /* LBR_SELECT, LASTBRANCH_TOS */
    { VPMU_MSR_LBR_CORE_FROM, 8 },          /* Core 2, Atom: FROM, TO */
    { VPMU_MSR_LBR_CORE_TO, 8 },
    { VPMU_MSR_LBR_FROM, 32 },              /* Nehalem and later */
    { VPMU_MSR_LBR_TO, 32 },
    { VPMU_MSR_LBR_INFO, 32 },              /* Skylake and later */
    { VPMU_MSR_ARCH_LBR_CTL, 2 },           /* architectural: CTL, DEPTH */
    { VPMU_MSR_ARCH_LBR_INFO, 32 },
    { VPMU_MSR_ARCH_LBR_FROM, 32 },
    { VPMU_MSR_ARCH_LBR_TO, 32 },
    { 0, 0 },
};
const VPMUMsrRange *const vpmu_msr_ranges = vpmu_msr_range_table;

void vpmu_config_default(VPMUConfig *cfg)
{
    /* Every field: callers need not clear @cfg first. */
    *cfg = (VPMUConfig) {
        .arch = VPMU_ARCH_INTEL,
        .version = 2,
        .nr_gp = 4,
        .nr_fixed = 3,
        .gp_width = VPMU_DEFAULT_WIDTH,
        .fixed_width = VPMU_DEFAULT_WIDTH,
        .perf_capabilities = VPMU_PERF_CAP_FW_WRITE,
        .lbr = { .kind = VPMU_LBR_NONE },
        .amd_perfctr_core = false,
    };
}

void vpmu_config_from_host(VPMUConfig *cfg, uint32_t eax, uint32_t edx)
{
    int version = eax & 0xff;
    int nr_gp = (eax >> 8) & 0xff;
    int gp_width = (eax >> 16) & 0xff;
    int nr_fixed = edx & 0x1f;
    int fixed_width = (edx >> 5) & 0xff;

    vpmu_config_default(cfg);
    /* Version 1 has no fixed or global registers: not worth following. */
    if (version < VPMU_MIN_VERSION || !nr_gp) {
        return;
    }
    cfg->version = MIN(version, VPMU_MAX_VERSION);
    cfg->nr_gp = MIN(nr_gp, VPMU_MAX_GP);
    cfg->nr_fixed = MIN(nr_fixed, VPMU_MAX_FIXED);
    if (gp_width >= VPMU_MIN_WIDTH && gp_width <= VPMU_MAX_WIDTH) {
        cfg->gp_width = gp_width;
    }
    if (fixed_width >= VPMU_MIN_WIDTH && fixed_width <= VPMU_MAX_WIDTH) {
        cfg->fixed_width = fixed_width;
    }
}

static bool check_range(const char *prop, int val, int min, int max,
                        Error **errp)
{
    if (val < min || val > max) {
        error_setg(errp, "vPMU: %s=%d is out of range %d..%d", prop, val,
                   min, max);
        return false;
    }
    return true;
}

static bool intel_config_check(const VPMUConfig *cfg, Error **errp)
{
    uint64_t lbr_caps = cfg->lbr.kind != VPMU_LBR_NONE ?
                        VPMU_PERF_CAP_LBR_FMT : 0;
    uint64_t caps_unknown = cfg->perf_capabilities &
                            ~(VPMU_PERF_CAP_SUPPORTED | lbr_caps);

    if (!check_range("pmu-version", cfg->version, VPMU_MIN_VERSION,
                     VPMU_MAX_VERSION, errp) ||
        !check_range("pmu-gp-counters", cfg->nr_gp, 1, VPMU_MAX_GP, errp) ||
        !check_range("pmu-fixed-counters", cfg->nr_fixed, 0, VPMU_MAX_FIXED,
                     errp) ||
        !check_range("pmu-counter-width", cfg->gp_width, VPMU_MIN_WIDTH,
                     VPMU_MAX_WIDTH, errp) ||
        !check_range("pmu-counter-width", cfg->fixed_width, VPMU_MIN_WIDTH,
                     VPMU_MAX_WIDTH, errp)) {
        return false;
    }
    if (cfg->amd_perfctr_core) {
        error_setg(errp, "vPMU: perfctr-core is AMD's core performance "
                   "counter extension, which an Intel PMU does not have "
                   "(pmu-arch)");
        return false;
    }
    if (caps_unknown) {
        error_setg(errp, "vPMU: IA32_PERF_CAPABILITIES bits 0x%" PRIx64
                   " are not implemented", caps_unknown);
        return false;
    }
    if (cfg->lbr.kind == VPMU_LBR_NONE) {
        return true;
    }
    if ((cfg->perf_capabilities & VPMU_PERF_CAP_LBR_FMT) !=
        (uint64_t)cfg->lbr.format) {
        error_setg(errp, "vPMU: IA32_PERF_CAPABILITIES says LBR format 0x%"
                   PRIx64 ", the LBR has 0x%x", (uint64_t)(
                   cfg->perf_capabilities & VPMU_PERF_CAP_LBR_FMT),
                   cfg->lbr.format);
        return false;
    }
    return vpmu_lbr_config_check(&cfg->lbr, errp);
}

/*
 * SDM: a counter counts when its local enable and its GLOBAL_CTRL bit are
 * set and (version 4) the counters are not frozen by CTR_FRZ.
 */
static bool slot_wants_counting(const VPMUState *s, unsigned slot)
{
    if (!(s->global_ctrl & slot_bit(slot)) ||
        (s->global_status & VPMU_GLOBAL_CTR_FRZ)) {
        return false;
    }
    if (slot_is_fixed(slot)) {
        return fixed_field(s, slot - VPMU_MAX_GP) &
               (VPMU_FIXED_CTRL_OS | VPMU_FIXED_CTRL_USR);
    }
    return s->counters[slot].eventsel & VPMU_EVTSEL_EN;
}

/*
 * What the host never gets of a guest's event selection: EN and INT are
 * the model's (enables and overflows), and AnyThread would make a host
 * event count the sibling hyperthread, i.e. the host or another tenant,
 * while this vCPU runs.  AnyThread is a register bit the guest reads back;
 * it counts this thread only (as under KVM, whose events never carry it).
 */
#define VPMU_HOST_EVENT_DROP (VPMU_EVTSEL_EN | VPMU_EVTSEL_INT | \
                              VPMU_EVTSEL_ANY)

static void slot_host_event(const VPMUState *s, unsigned slot,
                            VPMUHostEvent *ev)
{
    static const uint64_t fixed_events[VPMU_MAX_FIXED] = {
        VPMU_EVENT_INST_RETIRED,
        VPMU_EVENT_CORE_CYCLES,
        VPMU_EVENT_FIXED_REF_CYCLES,
        VPMU_EVENT_TOPDOWN_SLOTS,
    };

    memset(ev, 0, sizeof(*ev));
    ev->arch = VPMU_ARCH_INTEL;
    if (slot_is_fixed(slot)) {
        unsigned idx = slot - VPMU_MAX_GP;
        unsigned field = fixed_field(s, idx);

        ev->fixed = true;
        ev->index = idx;
        ev->eventsel = fixed_events[idx] |
            (field & VPMU_FIXED_CTRL_OS ? VPMU_EVTSEL_OS : 0) |
            (field & VPMU_FIXED_CTRL_USR ? VPMU_EVTSEL_USR : 0);
    } else {
        ev->index = slot;
        ev->eventsel = s->counters[slot].eventsel & ~VPMU_HOST_EVENT_DROP;
    }
}

/* SDM: an overflow raises a PMI when the counter's INT (PMI) bit is set. */
static bool slot_pmi_enabled(const VPMUState *s, unsigned slot)
{
    if (slot_is_fixed(slot)) {
        return fixed_field(s, slot - VPMU_MAX_GP) & VPMU_FIXED_CTRL_PMI;
    }
    return s->counters[slot].eventsel & VPMU_EVTSEL_INT;
}

static void intel_init_masks(VPMUState *s)
{
    bool any_thread;
    int i;

    /*
     * SDM: bits 63:32 of PERFEVTSELx are reserved.  AnyThread exists in
     * versions 3 and 4; version 5 reports it deprecated (CPUID.0AH:EDX[15])
     * and then it is reserved too.
     */
    any_thread = s->cfg.version == 3 || s->cfg.version == 4;
    s->evtsel_rsvd = ~low_bits(32) | (any_thread ? 0 : VPMU_EVTSEL_ANY);

    s->fixed_ctrl_rsvd = ~0ULL;
    for (i = 0; i < s->cfg.nr_fixed; i++) {
        uint64_t field = VPMU_FIXED_CTRL_OS | VPMU_FIXED_CTRL_USR |
                         VPMU_FIXED_CTRL_PMI |
                         (any_thread ? VPMU_FIXED_CTRL_ANY : 0);

        s->fixed_ctrl_rsvd &= ~(field << (4 * i));
    }

    /*
     * GLOBAL_STATUS and GLOBAL_OVF_CTRL (STATUS_RESET from version 4)
     * share their reserved bits; OvfBuf and CondChgd are accepted even
     * without PEBS, as in KVM.  Version 4 adds the freeze bits, which
     * STATUS_SET can set too (CondChgd it cannot).  The status bits of
     * features we do not offer (Intel PT, uncore, SGX) stay reserved.
     */
    s->global_status_rsvd = ~(s->counters_mask | VPMU_GLOBAL_OVF_BUF |
                              VPMU_GLOBAL_COND_CHGD);
    s->global_status_set_rsvd = ~0ULL;
    if (s->cfg.version >= 4) {
        s->global_status_rsvd &= ~(VPMU_GLOBAL_LBR_FRZ | VPMU_GLOBAL_CTR_FRZ);
        s->global_status_set_rsvd = s->global_status_rsvd |
                                    VPMU_GLOBAL_COND_CHGD;
    }
}

static void intel_reset(VPMUState *s)
{
    /* SDM: GLOBAL_CTRL powers up with the GP counters' bits set. */
    s->global_ctrl = low_bits(s->cfg.nr_gp);
    s->fixed_ctr_ctrl = 0;
    s->debugctl = 0;
    vpmu_lbr_reset(&s->lbr);
}

/* DEBUGCTL's freeze-on-PMI (SDM: "Freezing ... on PMI"). */
static void intel_pmi_delivered(VPMUState *s)
{
    if (s->debugctl & VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI) {
        if (s->cfg.version >= 4) {
            /* Streamlined freeze: GLOBAL_CTRL is left alone. */
            s->global_status |= VPMU_GLOBAL_CTR_FRZ;
            s->dirty |= s->counters_mask;
        } else {
            /* Legacy freeze: the processor clears GLOBAL_CTRL. */
            s->dirty |= s->global_ctrl;
            s->global_ctrl = 0;
        }
    }
    /*
     * Version 4 records an LBR freeze in LBR_FRZ (SDM: "streamlined"
     * freeze); earlier versions clear DEBUGCTL.LBR.  Either way before
     * the PMI's own delivery could be recorded.
     */
    if (s->debugctl & VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI) {
        if (s->cfg.version >= 4) {
            s->global_status |= VPMU_GLOBAL_LBR_FRZ;
        } else {
            s->debugctl &= ~VPMU_DEBUGCTL_LBR;
        }
    }
}

bool vpmu_lbr_enabled(const VPMUState *s)
{
    switch (s->lbr.cfg.kind) {
    case VPMU_LBR_LEGACY:
        return s->debugctl & VPMU_DEBUGCTL_LBR;
    case VPMU_LBR_ARCH:
        return s->lbr.ctl & VPMU_LBR_CTL_LBREN;
    default:
        return false;
    }
}

bool vpmu_lbr_frozen(const VPMUState *s)
{
    return s->lbr.cfg.kind != VPMU_LBR_NONE &&
           (s->global_status & VPMU_GLOBAL_LBR_FRZ);
}

bool vpmu_lbr_recording(const VPMUState *s)
{
    return vpmu_lbr_enabled(s) && !vpmu_lbr_frozen(s) &&
           !s->lbr_reclaimed && !s->lbr_lost;
}

void vpmu_lbr_branch(VPMUState *s, uint64_t from, uint64_t to,
                     VPMUBranchClass cls, unsigned cpl)
{
    if (vpmu_lbr_recording(s)) {
        vpmu_lbr_record(&s->lbr, from, to, cls, cpl);
    }
}

void vpmu_lbr_debug_exception(VPMUState *s)
{
    /*
     * SDM vol. 3B, "LBR Stack": delivering a #DB clears DEBUGCTL.LBR.
     * Architectural LBR clears LBREn the same way (inferred from the arch
     * LBR chapter's list of what disables recording; not verified on
     * hardware).
     */
    if (s->lbr.cfg.kind == VPMU_LBR_LEGACY) {
        s->debugctl &= ~VPMU_DEBUGCTL_LBR;
    } else if (s->lbr.cfg.kind == VPMU_LBR_ARCH) {
        s->lbr.ctl &= ~VPMU_LBR_CTL_LBREN;
    }
}

uint64_t vpmu_debugctl_owned(const VPMUState *s)
{
    /* AMD's DEBUGCTL has no PMU bits, and its LBR is not modelled. */
    if (s->cfg.arch != VPMU_ARCH_INTEL) {
        return 0;
    }
    return VPMU_DEBUGCTL_PMU_BITS |
           (s->lbr.cfg.kind != VPMU_LBR_NONE ?
            VPMU_DEBUGCTL_LBR | VPMU_DEBUGCTL_BTF : 0);
}

void vpmu_set_lbr_reclaimed(VPMUState *s, bool reclaimed)
{
    s->lbr_reclaimed = reclaimed;
}

void vpmu_set_lbr_lost(VPMUState *s, bool lost)
{
    s->lbr_lost = lost;
}

/* Index of @msr in a block of @n MSRs starting at @base, or -1. */
static int msr_index(uint32_t msr, uint32_t base, unsigned n)
{
    return msr >= base && msr < base + n ? (int)(msr - base) : -1;
}

static bool has_fw_write(const VPMUState *s)
{
    return s->cfg.perf_capabilities & VPMU_PERF_CAP_FW_WRITE;
}

/* SDM: IA32_PERF_GLOBAL_INUSE (version 4) says which counters are in use. */
static uint64_t global_inuse(const VPMUState *s)
{
    uint64_t inuse = 0;
    int i;

    for (i = 0; i < s->cfg.nr_gp; i++) {
        /* PERFEVTSELn InUse: its event select field is non-zero. */
        if (s->counters[i].eventsel & VPMU_EVTSEL_EVENT) {
            inuse |= slot_bit(i);
        }
        if (s->counters[i].eventsel & VPMU_EVTSEL_INT) {
            inuse |= VPMU_INUSE_PMI;
        }
    }
    for (i = 0; i < s->cfg.nr_fixed; i++) {
        unsigned field = fixed_field(s, i);

        /* FIXED_CTRn InUse: its ring enable is non-zero. */
        if (field & (VPMU_FIXED_CTRL_OS | VPMU_FIXED_CTRL_USR)) {
            inuse |= slot_bit(VPMU_MAX_GP + i);
        }
        if (field & VPMU_FIXED_CTRL_PMI) {
            inuse |= VPMU_INUSE_PMI;
        }
    }
    return inuse;
}

/* A write to GLOBAL_STATUS' freeze bit changes whether counters count. */
static void set_global_status(VPMUState *s, uint64_t val)
{
    if ((val ^ s->global_status) & VPMU_GLOBAL_CTR_FRZ) {
        s->dirty |= s->counters_mask;
    }
    s->global_status = val;
}

static bool vpmu_msr_read_one(VPMUState *s, uint32_t msr, uint64_t *val,
                              bool host)
{
    int i;

    i = msr_index(msr, VPMU_MSR_PMC0, s->cfg.nr_gp);
    if (i >= 0) {
        *val = vpmu_slot_fold(s, i);
        return true;
    }
    i = msr_index(msr, VPMU_MSR_A_PMC0, s->cfg.nr_gp);
    if (i >= 0) {
        /* SDM: the full-width aliases exist only with FW_WRITE. */
        if (!has_fw_write(s)) {
            return false;
        }
        *val = vpmu_slot_fold(s, i);
        return true;
    }
    i = msr_index(msr, VPMU_MSR_PERFEVTSEL0, s->cfg.nr_gp);
    if (i >= 0) {
        *val = s->counters[i].eventsel;
        return true;
    }
    i = msr_index(msr, VPMU_MSR_FIXED_CTR0, s->cfg.nr_fixed);
    if (i >= 0) {
        *val = vpmu_slot_fold(s, VPMU_MAX_GP + i);
        return true;
    }
    if (vpmu_lbr_msr_is_lbr(msr)) {
        return vpmu_lbr_msr_read(&s->lbr, msr, val, host);
    }

    switch (msr) {
    case VPMU_MSR_FIXED_CTR_CTRL:
        *val = s->fixed_ctr_ctrl;
        return true;
    case VPMU_MSR_PERF_GLOBAL_STATUS:
        *val = vpmu_poll(s);
        return true;
    case VPMU_MSR_PERF_GLOBAL_CTRL:
        *val = s->global_ctrl;
        return true;
    case VPMU_MSR_PERF_GLOBAL_OVF_CTRL:
        /* Write-to-clear; reads as zero (as under KVM). */
        *val = 0;
        return true;
    case VPMU_MSR_PERF_GLOBAL_STATUS_SET:
        if (s->cfg.version < 4) {
            return false;
        }
        *val = 0;
        return true;
    case VPMU_MSR_PERF_GLOBAL_INUSE:
        if (s->cfg.version < 4) {
            return false;
        }
        *val = global_inuse(s);
        return true;
    case VPMU_MSR_PERF_CAPABILITIES:
        *val = s->cfg.perf_capabilities;
        return true;
    case VPMU_MSR_DEBUGCTL:
        *val = s->debugctl;
        return true;
    }
    return false;
}

static bool vpmu_msr_write_one(VPMUState *s, uint32_t msr, uint64_t val,
                               bool host, uint64_t *rsvd)
{
    uint64_t changed;
    int i;

    *rsvd = 0;
    i = msr_index(msr, VPMU_MSR_PMC0, s->cfg.nr_gp);
    if (i >= 0) {
        /*
         * SDM: a write to IA32_PMCx sets bits 31:0 and sign-extends bit 31
         * into the upper bits, with or without FW_WRITE.  Host writes
         * (migration) carry the whole value.
         */
        if (!host) {
            val = (uint64_t)(int64_t)(int32_t)val;
        }
        vpmu_slot_set_value(s, i, val);
        return true;
    }
    i = msr_index(msr, VPMU_MSR_A_PMC0, s->cfg.nr_gp);
    if (i >= 0) {
        /* SDM: full-width writes; bits above the width are reserved. */
        if (!has_fw_write(s)) {
            return false;
        }
        *rsvd = val & ~s->gp_mask;
        if (*rsvd) {
            return false;
        }
        vpmu_slot_set_value(s, i, val);
        return true;
    }
    i = msr_index(msr, VPMU_MSR_PERFEVTSEL0, s->cfg.nr_gp);
    if (i >= 0) {
        *rsvd = val & s->evtsel_rsvd;
        if (*rsvd) {
            return false;
        }
        if (s->counters[i].eventsel != val) {
            if ((s->counters[i].eventsel ^ val) & VPMU_EVTSEL_INT) {
                slot_fold_if_counted(s, i);
            }
            s->counters[i].eventsel = val;
            s->dirty |= slot_bit(i);
        }
        return true;
    }
    i = msr_index(msr, VPMU_MSR_FIXED_CTR0, s->cfg.nr_fixed);
    if (i >= 0) {
        /* Bits above the counter width are reserved. */
        *rsvd = val & ~s->fixed_mask;
        if (*rsvd) {
            return false;
        }
        vpmu_slot_set_value(s, VPMU_MAX_GP + i, val);
        return true;
    }
    if (vpmu_lbr_msr_is_lbr(msr)) {
        return vpmu_lbr_msr_write(&s->lbr, msr, val, host);
    }

    switch (msr) {
    case VPMU_MSR_FIXED_CTR_CTRL:
        *rsvd = val & s->fixed_ctrl_rsvd;
        if (*rsvd) {
            return false;
        }
        changed = val ^ s->fixed_ctr_ctrl;
        for (i = 0; i < s->cfg.nr_fixed; i++) {
            if ((changed >> (4 * i)) & VPMU_FIXED_CTRL_PMI) {
                slot_fold_if_counted(s, VPMU_MAX_GP + i);
            }
            if ((changed >> (4 * i)) & 0xf) {
                s->dirty |= slot_bit(VPMU_MAX_GP + i);
            }
        }
        s->fixed_ctr_ctrl = val;
        return true;
    case VPMU_MSR_PERF_GLOBAL_CTRL:
        *rsvd = val & ~s->counters_mask;
        if (*rsvd) {
            return false;
        }
        s->dirty |= val ^ s->global_ctrl;
        s->global_ctrl = val;
        return true;
    case VPMU_MSR_PERF_GLOBAL_STATUS:
        /* SDM: read-only.  Only a host restoring state may write it. */
        if (!host) {
            return false;
        }
        *rsvd = val & s->global_status_rsvd;
        if (*rsvd) {
            return false;
        }
        vpmu_poll(s);
        set_global_status(s, val);
        return true;
    case VPMU_MSR_PERF_GLOBAL_OVF_CTRL:
        /* SDM: each 1 clears the matching GLOBAL_STATUS bit. */
        *rsvd = val & s->global_status_rsvd;
        if (*rsvd) {
            return false;
        }
        vpmu_poll(s);
        set_global_status(s, s->global_status & ~val);
        return true;
    case VPMU_MSR_PERF_GLOBAL_STATUS_SET:
        /* SDM (version 4): each 1 sets the matching GLOBAL_STATUS bit. */
        if (s->cfg.version < 4) {
            return false;
        }
        *rsvd = val & s->global_status_set_rsvd;
        if (*rsvd) {
            return false;
        }
        vpmu_poll(s);
        set_global_status(s, s->global_status | val);
        return true;
    case VPMU_MSR_PERF_CAPABILITIES:
        /*
         * SDM: read-only.  A host restoring state must bring the value the
         * configuration has: anything else is a configuration mismatch.
         */
        return host && val == s->cfg.perf_capabilities;
    case VPMU_MSR_DEBUGCTL:
        /*
         * The model checks the architectural reserved bits of the whole
         * register and keeps the PMU's bits; the caller owns the rest.
         */
        *rsvd = val & VPMU_DEBUGCTL_RESERVED;
        if (*rsvd) {
            return false;
        }
        s->debugctl = val & VPMU_DEBUGCTL_PMU_BITS;
        /*
         * Legacy LBR: DEBUGCTL.LBR is ours.  BTF (single-step on
         * branches) is not implemented: dropped, as KVM drops it.  With
         * architectural LBR, DEBUGCTL.LBR discards writes and reads 0
         * (the arch LBR spec, as Xen's e904d8ae quotes it).
         */
        if (s->lbr.cfg.kind == VPMU_LBR_LEGACY) {
            s->debugctl |= val & VPMU_DEBUGCTL_LBR;
        }
        if (s->lbr.cfg.kind != VPMU_LBR_NONE && !host &&
            (val & VPMU_DEBUGCTL_BTF)) {
            qemu_log_mask(LOG_UNIMP, "vpmu: WRMSR IA32_DEBUGCTL <- 0x%"
                          PRIx64 ": BTF is not implemented, ignored\n", val);
        }
        return true;
    }
    return false;
}

void vpmu_cpuid_0xa(const VPMUConfig *cfg, uint32_t *eax, uint32_t *ebx,
                    uint32_t *ecx, uint32_t *edx)
{
    /*
     * EAX: version, GP counters, GP width, length of the EBX event vector.
     * EBX: a set bit means that architectural event is NOT available; all
     * seven are offered (the backend reports those the host cannot count).
     * ECX (version 5): bitmap of the fixed counters present.
     * EDX: fixed counters and their width; version 5 deprecates AnyThread.
     * AMD has no leaf 0xA.
     */
    if (cfg->arch != VPMU_ARCH_INTEL) {
        *eax = *ebx = *ecx = *edx = 0;
        return;
    }
    *eax = cfg->version | cfg->nr_gp << 8 | cfg->gp_width << 16 | 7 << 24;
    *ebx = 0;
    *ecx = cfg->version >= 5 ? low_bits(cfg->nr_fixed) : 0;
    *edx = cfg->nr_fixed | cfg->fixed_width << 5;
    if (cfg->version >= 5) {
        *edx |= VPMU_CPUID_EDX_ANYTHREAD_DEPRECATED;
    }
}

static bool vpmu_load_config(const VPMUState *s, const VPMUSavedState *in,
                             Error **errp)
{
    static const struct {
        const char *prop;
        size_t saved, ours;
    } fields[] = {
        { "pmu-version", offsetof(VPMUSavedState, version),
          offsetof(VPMUConfig, version) },
        { "pmu-gp-counters", offsetof(VPMUSavedState, nr_gp),
          offsetof(VPMUConfig, nr_gp) },
        { "pmu-fixed-counters", offsetof(VPMUSavedState, nr_fixed),
          offsetof(VPMUConfig, nr_fixed) },
        { "pmu-counter-width", offsetof(VPMUSavedState, gp_width),
          offsetof(VPMUConfig, gp_width) },
        { "pmu-counter-width", offsetof(VPMUSavedState, fixed_width),
          offsetof(VPMUConfig, fixed_width) },
    };
    unsigned i;

    if (in->arch != VPMU_ARCH_INTEL) {
        error_setg(errp, "the migration stream's PMU is %s, this QEMU's is "
                   "Intel's; start it with the source's CPU vendor and "
                   "pmu-arch", in->arch == VPMU_ARCH_AMD ? "AMD's" :
                   "of an unknown architecture");
        return false;
    }
    for (i = 0; i < ARRAY_SIZE(fields); i++) {
        int32_t saved = *(const int32_t *)((const char *)in +
                                           fields[i].saved);
        int ours = *(const int *)((const char *)&s->cfg + fields[i].ours);

        if (saved != ours) {
            error_setg(errp, "the migration stream's PMU has %s=%d, "
                       "this QEMU's has %d; start it with the source's "
                       "-cpu pmu-* settings", fields[i].prop, saved, ours);
            return false;
        }
    }
    if (in->perf_capabilities != s->cfg.perf_capabilities) {
        uint64_t diff = in->perf_capabilities ^ s->cfg.perf_capabilities;

        /* Bits 5:0 are the LBR format, bit 13 full-width writes. */
        error_setg(errp, "the migration stream's IA32_PERF_CAPABILITIES"
                   " is 0x%" PRIx64 ", this QEMU's 0x%" PRIx64 "; start it "
                   "with the source's -cpu %s", in->perf_capabilities,
                   s->cfg.perf_capabilities,
                   diff & 0x3f && diff & ~0x3fULL ?
                   "lbr, arch-lbr, lbr-fmt and pmu-full-width-write" :
                   diff & 0x3f ? "lbr, arch-lbr and lbr-fmt" :
                   "pmu-full-width-write");
        return false;
    }
    return true;
}

/* The SDM's name of a PMU MSR, for messages ("IA32_PERFEVTSEL5"). */
static bool intel_msr_name(uint32_t msr, char *buf, size_t len)
{
    static const struct {
        uint32_t base, n;
        const char *name;
    } blocks[] = {
        { VPMU_MSR_PMC0, VPMU_MAX_GP, "IA32_PMC" },
        { VPMU_MSR_PERFEVTSEL0, VPMU_MAX_GP, "IA32_PERFEVTSEL" },
        { VPMU_MSR_A_PMC0, VPMU_MAX_GP, "IA32_A_PMC" },
        { VPMU_MSR_FIXED_CTR0, VPMU_MAX_FIXED, "IA32_FIXED_CTR" },
    };
    static const struct {
        uint32_t msr;
        const char *name;
    } single[] = {
        { VPMU_MSR_FIXED_CTR_CTRL, "IA32_FIXED_CTR_CTRL" },
        { VPMU_MSR_PERF_GLOBAL_STATUS, "IA32_PERF_GLOBAL_STATUS" },
        { VPMU_MSR_PERF_GLOBAL_CTRL, "IA32_PERF_GLOBAL_CTRL" },
        { VPMU_MSR_PERF_GLOBAL_OVF_CTRL, "IA32_PERF_GLOBAL_OVF_CTRL" },
        { VPMU_MSR_PERF_GLOBAL_STATUS_SET, "IA32_PERF_GLOBAL_STATUS_SET" },
        { VPMU_MSR_PERF_GLOBAL_INUSE, "IA32_PERF_GLOBAL_INUSE" },
        { VPMU_MSR_PERF_CAPABILITIES, "IA32_PERF_CAPABILITIES" },
        { VPMU_MSR_DEBUGCTL, "IA32_DEBUGCTL" },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(blocks); i++) {
        if (msr - blocks[i].base < blocks[i].n) {
            snprintf(buf, len, "%s%u", blocks[i].name, msr - blocks[i].base);
            return true;
        }
    }
    for (i = 0; i < ARRAY_SIZE(single); i++) {
        if (msr == single[i].msr) {
            snprintf(buf, len, "%s", single[i].name);
            return true;
        }
    }
    if (vpmu_lbr_msr_is_lbr(msr)) {
        vpmu_lbr_msr_name(msr, buf, len);
        return true;
    }
    return false;
}

/*
 * A register of the stream that this PMU does not take: say which, with
 * the value, and why (a counter it lacks, reserved bits, the width).
 */
static void vpmu_load_error(const VPMUState *s, uint32_t msr, uint64_t val,
                            uint64_t rsvd, Error **errp)
{
    char name[VPMU_MSR_NAME_LEN];
    bool counter = msr - VPMU_MSR_A_PMC0 < VPMU_MAX_GP ||
                   msr - VPMU_MSR_FIXED_CTR0 < VPMU_MAX_FIXED;

    vpmu_msr_name(msr, name, sizeof(name));
    if (rsvd && counter) {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                   " does not fit this PMU's %d-bit counters", name, val,
                   msr - VPMU_MSR_A_PMC0 < VPMU_MAX_GP ? s->cfg.gp_width
                                                       : s->cfg.fixed_width);
    } else if (rsvd) {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                   " sets bits 0x%" PRIx64 " that are reserved in this PMU",
                   name, val, rsvd);
    } else {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                   " is not valid for this PMU", name, val);
    }
}

/* Counters the configuration lacks must come empty. */
static bool vpmu_load_absent(const VPMUState *s, const VPMUSavedState *in,
                             Error **errp)
{
    char name[VPMU_MSR_NAME_LEN];
    unsigned i;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        bool fixed = slot_is_fixed(i);
        unsigned idx = fixed ? i - VPMU_MAX_GP : i;
        int have = fixed ? s->cfg.nr_fixed : s->cfg.nr_gp;
        uint32_t msr;
        uint64_t val;

        if ((int)idx < have) {
            continue;
        }
        msr = fixed ? VPMU_MSR_FIXED_CTR0 + idx : VPMU_MSR_PMC0 + idx;
        val = in->value[i];
        if (!fixed && !val && in->eventsel[i]) {
            msr = VPMU_MSR_PERFEVTSEL0 + idx;
            val = in->eventsel[i];
        }
        if (val) {
            vpmu_msr_name(msr, name, sizeof(name));
            error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                       ", but this PMU has %d %s counters", name, val, have,
                       fixed ? "fixed" : "general-purpose");
            return false;
        }
    }
    return true;
}

static bool intel_load(VPMUState *s, const VPMUSavedState *in, Error **errp)
{
    struct {
        uint32_t msr;
        uint64_t val;
    } regs[VPMU_MAX_COUNTERS + VPMU_MAX_GP + 5];
    unsigned i, n = 0;

    if (!vpmu_load_config(s, in, errp) || !vpmu_load_absent(s, in, errp)) {
        return false;
    }
    /* GLOBAL_CTRL last, so that nothing counts before it is all in place. */
    regs[n].msr = VPMU_MSR_FIXED_CTR_CTRL;
    regs[n++].val = in->fixed_ctr_ctrl;
    for (i = 0; i < s->cfg.nr_gp; i++) {
        regs[n].msr = VPMU_MSR_PERFEVTSEL0 + i;
        regs[n++].val = in->eventsel[i];
        /* Full-width, bits above the width reserved: like A_PMCx. */
        regs[n].msr = VPMU_MSR_A_PMC0 + i;
        regs[n++].val = in->value[i];
    }
    for (i = 0; i < s->cfg.nr_fixed; i++) {
        regs[n].msr = VPMU_MSR_FIXED_CTR0 + i;
        regs[n++].val = in->value[VPMU_MAX_GP + i];
    }
    regs[n].msr = VPMU_MSR_PERF_GLOBAL_STATUS;
    regs[n++].val = in->global_status;
    regs[n].msr = VPMU_MSR_DEBUGCTL;
    regs[n++].val = in->debugctl;
    regs[n].msr = VPMU_MSR_PERF_GLOBAL_CTRL;
    regs[n++].val = in->global_ctrl;

    for (i = 0; i < n; i++) {
        uint64_t rsvd = 0;
        bool ok;

        /* A_PMCx needs FW_WRITE; the host may load full values anyway. */
        if (regs[i].msr - VPMU_MSR_A_PMC0 < VPMU_MAX_GP) {
            unsigned slot = regs[i].msr - VPMU_MSR_A_PMC0;

            rsvd = regs[i].val & ~s->gp_mask;
            ok = !rsvd;
            if (ok) {
                vpmu_slot_set_value(s, slot, regs[i].val);
            }
        } else {
            ok = vpmu_msr_write_one(s, regs[i].msr, regs[i].val, true,
                                    &rsvd);
        }
        if (!ok) {
            vpmu_load_error(s, regs[i].msr, regs[i].val, rsvd, errp);
            return false;
        }
    }
    return true;
}

const VPMUArchOps vpmu_intel_ops = {
    .ranges = vpmu_msr_range_table,
    .mask_lvtpc_on_pmi = true,
    .config_check = intel_config_check,
    .msr_name = intel_msr_name,
    .init_masks = intel_init_masks,
    .reset = intel_reset,
    .wants_counting = slot_wants_counting,
    .host_event = slot_host_event,
    .pmi_enabled = slot_pmi_enabled,
    .msr_read = vpmu_msr_read_one,
    .msr_write = vpmu_msr_write_one,
    .pmi_delivered = intel_pmi_delivered,
    .load = intel_load,
};
