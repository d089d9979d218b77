/*
 * qemu-vpmu: the register decoder of AMD's PMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Three nested flavours, all with 48-bit counters and no fixed counters:
 * - K7 legacy: 4 counters, PerfEvtSel at 0xC0010000, PerfCtr at
 *   0xC0010004;
 * - the core extension (CPUID 0x80000001 ECX[23] PERFCTR_CORE): 6
 *   counters, CTL and CTR interleaved at 0xC0010200; counters 0-3 are
 *   also the K7 MSRs' (two views of the same registers);
 * - PerfMonV2 (CPUID 0x80000022 EAX[0]): 1..6 counters (EBX[3:0]) and
 *   the global registers at 0xC0000300 (STATUS, CTL, STATUS_CLR,
 *   STATUS_SET).
 * The counters themselves are the core's (vpmu-core.c), used through
 * vpmu-internal.h.
 *
 * The AMD APM was not at hand: the rules follow KVM's AMD vPMU
 * (arch/x86/kvm/svm/pmu.c, the AMD cases of arch/x86/kvm/pmu.c) and what
 * Linux's AMD perf driver relies on (arch/x86/events/amd/core.c), so
 * that guests see what they see under KVM.  Unlike Intel, AMD's PMU MSRs
 * never #GP on a value: reserved bits are dropped and read-only MSRs
 * ignore writes; only an MSR the configuration lacks #GPs.  Host-initiated
 * writes (a migration stream) are refused where a guest's would lose
 * bits, so that a corrupt stream does not load as something else.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "vpmu-internal.h"

/*
 * KVM's pmu->reserved_bits: 19 (K7's pin control, Intel's PC), 21
 * (Intel's AnyThread) and 36-63, which include Guest-Only and Host-Only
 * (40, 41) and INT_CORE_ENABLE/SEL (36-40, for northbridge use) but not
 * EventSelect[11:8] (35:32).
 */
#define AMD_EVTSEL_RSVD         0xfffffff000280000ULL

static const VPMUMsrRange amd_msr_range_table[] = {
    { VPMU_MSR_K7_EVNTSEL0, 2 * VPMU_AMD_K7_COUNTERS },
    { VPMU_MSR_F15H_PERF_CTL0, 2 * VPMU_AMD_MAX_COUNTERS },
    { VPMU_MSR_AMD_GLOBAL_STATUS,
      VPMU_MSR_AMD_GLOBAL_STATUS_SET - VPMU_MSR_AMD_GLOBAL_STATUS + 1 },
    { 0, 0 },
};

void vpmu_config_amd(VPMUConfig *cfg, bool perfctr_core, bool perfmon_v2,
                     int nr_gp)
{
    int flavour = perfmon_v2 || perfctr_core ? VPMU_AMD_MAX_COUNTERS
                                             : VPMU_AMD_K7_COUNTERS;

    /* Every field: callers need not clear @cfg first. */
    *cfg = (VPMUConfig) {
        .arch = VPMU_ARCH_AMD,
        .version = perfmon_v2 ? 2 : 1,
        .nr_gp = nr_gp > 0 ? nr_gp : flavour,
        .nr_fixed = 0,
        .gp_width = VPMU_AMD_WIDTH,
        .fixed_width = VPMU_AMD_WIDTH,
        .perf_capabilities = 0,
        .lbr = { .kind = VPMU_LBR_NONE },
        .amd_perfctr_core = perfctr_core,
    };
}

static bool amd_config_check(const VPMUConfig *cfg, Error **errp)
{
    int flavour = cfg->amd_perfctr_core ? VPMU_AMD_MAX_COUNTERS
                                        : VPMU_AMD_K7_COUNTERS;

    /*
     * Linux looks for PerfMonV2 only with PERFCTR_CORE, and KVM clears
     * PERFMON_V2 without it (svm_set_cpu_caps()).
     */
    if (cfg->version != 1 && cfg->version != 2) {
        error_setg(errp, "vPMU: pmu-version=%d: an AMD PMU has no version "
                   "property; perfmon-v2 makes it PerfMonV2", cfg->version);
        return false;
    }
    if (cfg->version == 2 && !cfg->amd_perfctr_core) {
        error_setg(errp, "vPMU: perfmon-v2 needs perfctr-core");
        return false;
    }
    /* KVM caps AMD at 6 (KVM_MAX_NR_AMD_GP_COUNTERS), as Linux's EBX use */
    if (cfg->version == 2 &&
        (cfg->nr_gp < 1 || cfg->nr_gp > VPMU_AMD_MAX_COUNTERS)) {
        error_setg(errp, "vPMU: pmu-gp-counters=%d is out of range 1..%d "
                   "(AMD PerfMonV2)", cfg->nr_gp, VPMU_AMD_MAX_COUNTERS);
        return false;
    }
    if (cfg->version == 1 && cfg->nr_gp != flavour) {
        error_setg(errp, "vPMU: pmu-gp-counters=%d needs perfmon-v2: "
                   "without it an AMD PMU has %d counters (perfctr-core=%s)",
                   cfg->nr_gp, flavour,
                   cfg->amd_perfctr_core ? "on" : "off");
        return false;
    }
    if (cfg->nr_fixed) {
        error_setg(errp, "vPMU: pmu-fixed-counters=%d: an AMD PMU has no "
                   "fixed counters", cfg->nr_fixed);
        return false;
    }
    if (cfg->gp_width != VPMU_AMD_WIDTH ||
        cfg->fixed_width != VPMU_AMD_WIDTH) {
        error_setg(errp, "vPMU: pmu-counter-width=%d: AMD PMU counters are "
                   "%d bits wide", cfg->gp_width != VPMU_AMD_WIDTH ?
                   cfg->gp_width : cfg->fixed_width, VPMU_AMD_WIDTH);
        return false;
    }
    if (cfg->perf_capabilities) {
        error_setg(errp, "vPMU: pmu-full-width-write and the other "
                   "IA32_PERF_CAPABILITIES bits (0x%" PRIx64 ") are Intel's: "
                   "an AMD PMU has none", cfg->perf_capabilities);
        return false;
    }
    if (cfg->lbr.kind != VPMU_LBR_NONE) {
        error_setg(errp, "vPMU: lbr: the userspace vPMU has no LBR for an "
                   "AMD PMU");
        return false;
    }
    return true;
}

void vpmu_cpuid_0x80000022(const VPMUConfig *cfg, uint32_t *eax,
                           uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
    /*
     * EAX[0] PerfMonV2; EBX[3:0] the core counters (Linux's
     * union cpuid_0x80000022_ebx).  None of the rest: LBRv2 (EAX[1],
     * EBX[9:4]), LbrAndPmcFreeze (EAX[2]), northbridge and UMC counters.
     */
    *eax = *ebx = *ecx = *edx = 0;
    if (cfg->arch == VPMU_ARCH_AMD && cfg->version >= 2) {
        *eax = 1;
        *ebx = cfg->nr_gp & 0xf;
    }
}

static bool amd_v2(const VPMUState *s)
{
    return s->cfg.version >= 2;
}

/*
 * The counter @msr belongs to, if the configuration has it: *@ctl says
 * whether it is the PerfEvtSel (CTL) or the counter (CTR).  KVM's
 * get_gp_pmc_amd(): the K7 MSRs always, the F15H ones with PERFCTR_CORE,
 * and either only for a counter below nr_gp (a K7 or F15H MSR of counter
 * n or above #GPs, amd_pmu_get/set_msr()).
 */
static bool amd_counter_msr(const VPMUState *s, uint32_t msr, unsigned *idx,
                            bool *ctl)
{
    uint32_t off;

    if (msr - VPMU_MSR_K7_EVNTSEL0 < 2 * VPMU_AMD_K7_COUNTERS) {
        off = msr - VPMU_MSR_K7_EVNTSEL0;
        *ctl = off < VPMU_AMD_K7_COUNTERS;
        *idx = off % VPMU_AMD_K7_COUNTERS;
    } else if (msr - VPMU_MSR_F15H_PERF_CTL0 < 2 * VPMU_AMD_MAX_COUNTERS &&
               s->cfg.amd_perfctr_core) {
        off = msr - VPMU_MSR_F15H_PERF_CTL0;
        *ctl = !(off & 1);
        *idx = off / 2;
    } else {
        return false;
    }
    return *idx < (unsigned)s->cfg.nr_gp;
}

/* The MSRs that load() writes a counter's registers through. */
static uint32_t amd_ctl_msr(const VPMUState *s, unsigned idx)
{
    return s->cfg.amd_perfctr_core ? VPMU_MSR_F15H_PERF_CTL0 + 2 * idx
                                   : VPMU_MSR_K7_EVNTSEL0 + idx;
}

static uint32_t amd_ctr_msr(const VPMUState *s, unsigned idx)
{
    return s->cfg.amd_perfctr_core ? VPMU_MSR_F15H_PERF_CTL0 + 2 * idx + 1
                                   : VPMU_MSR_K7_PERFCTR0 + idx;
}

/*
 * A counter counts iff its EN is set and, with PerfMonV2, its GLOBAL_CTL
 * bit (KVM's pmc_is_globally_enabled(): version 1 has no global enable).
 */
static bool amd_wants_counting(const VPMUState *s, unsigned slot)
{
    if (slot >= (unsigned)s->cfg.nr_gp ||
        !(s->counters[slot].eventsel & VPMU_EVTSEL_EN)) {
        return false;
    }
    return !amd_v2(s) || (s->global_ctrl & slot_bit(slot));
}

/*
 * What the host never gets: EN and INT are the model's (enables and
 * overflows); Guest-Only and Host-Only say where the host counts, which
 * is the backend's to choose (reserved, so never stored anyway).  The
 * select's high nibble (35:32) goes along.
 */
#define AMD_HOST_EVENT_DROP (VPMU_EVTSEL_EN | VPMU_EVTSEL_INT | \
                             VPMU_AMD_EVTSEL_GUESTONLY | \
                             VPMU_AMD_EVTSEL_HOSTONLY)

static void amd_host_event(const VPMUState *s, unsigned slot,
                           VPMUHostEvent *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->arch = VPMU_ARCH_AMD;
    ev->index = slot;
    ev->eventsel = s->counters[slot].eventsel & ~AMD_HOST_EVENT_DROP;
}

/* An overflow raises a PMI (an NMI under Linux) when INT is set. */
static bool amd_pmi_enabled(const VPMUState *s, unsigned slot)
{
    return slot < (unsigned)s->cfg.nr_gp &&
           (s->counters[slot].eventsel & VPMU_EVTSEL_INT);
}

static void amd_init_masks(VPMUState *s)
{
    s->evtsel_rsvd = AMD_EVTSEL_RSVD;
    s->fixed_ctrl_rsvd = ~0ULL;
    /* KVM's global_ctrl_rsvd = global_status_rsvd, for SET too. */
    s->global_status_rsvd = ~s->counters_mask;
    s->global_status_set_rsvd = ~s->counters_mask;
    /*
     * Without PerfMonV2 an overflow leaves no status anywhere: Linux
     * tells it from bit 47 of the counter (amd_pmu_test_overflow_topbit()).
     */
    if (!amd_v2(s)) {
        s->overflow_status = 0;
    }
}

static void amd_reset(VPMUState *s)
{
    /*
     * Every CTL and CTR 0 (the core did those), GLOBAL_STATUS 0, and
     * GLOBAL_CTL with every counter's bit set: "At RESET, both Intel and
     * AMD CPUs set all enable bits for general purpose counters"
     * (kvm_pmu_refresh()).  Without PerfMonV2 it is not visible and not
     * used.
     */
    s->global_ctrl = low_bits(s->cfg.nr_gp);
    s->fixed_ctr_ctrl = 0;
    s->debugctl = 0;
    vpmu_lbr_reset(&s->lbr);
}

/* No DEBUGCTL freeze on AMD: the core's clearing pmi_pending is all. */
static void amd_pmi_delivered(VPMUState *s)
{
}

static bool amd_msr_read(VPMUState *s, uint32_t msr, uint64_t *val,
                         bool host)
{
    unsigned idx;
    bool ctl;

    if (amd_counter_msr(s, msr, &idx, &ctl)) {
        *val = ctl ? s->counters[idx].eventsel : vpmu_slot_fold(s, idx);
        return true;
    }
    if (!amd_v2(s)) {
        return false;
    }
    switch (msr) {
    case VPMU_MSR_AMD_GLOBAL_STATUS:
        *val = vpmu_poll(s);
        return true;
    case VPMU_MSR_AMD_GLOBAL_CTL:
        *val = s->global_ctrl;
        return true;
    case VPMU_MSR_AMD_GLOBAL_STATUS_CLR:
    case VPMU_MSR_AMD_GLOBAL_STATUS_SET:
        /* Commands, not state: they read as zero (kvm_pmu_get_msr()). */
        *val = 0;
        return true;
    }
    return false;
}

/*
 * A guest write drops the bits @rsvd names, as KVM does ("AMD ignores
 * writes to reserved bits and read-only PMU MSRs", kvm_pmu_set_msr()); a
 * host write with any of them is refused: a stream that sets them was
 * not made by this PMU.
 */
static bool amd_keep(uint64_t *val, uint64_t rsvd_mask, bool host,
                     uint64_t *rsvd)
{
    if (host && (*val & rsvd_mask)) {
        *rsvd = *val & rsvd_mask;
        return false;
    }
    *val &= ~rsvd_mask;
    return true;
}

static bool amd_msr_write(VPMUState *s, uint32_t msr, uint64_t val,
                          bool host, uint64_t *rsvd)
{
    VPMUCounter *c;
    unsigned idx;
    bool ctl;

    *rsvd = 0;
    if (amd_counter_msr(s, msr, &idx, &ctl)) {
        c = &s->counters[idx];
        if (!ctl) {
            /*
             * pmc_write_counter(): the value truncated to 48 bits, no
             * sign extension (KUT's check_rdpmc() writes -1 and expects
             * 0xffffffffffff).
             */
            if (!amd_keep(&val, ~s->gp_mask, host, rsvd)) {
                return false;
            }
            vpmu_slot_set_value(s, idx, val);
            return true;
        }
        if (!amd_keep(&val, s->evtsel_rsvd, host, rsvd)) {
            return false;
        }
        if (c->eventsel != val) {
            if ((c->eventsel ^ val) & VPMU_EVTSEL_INT) {
                slot_fold_if_counted(s, idx);
            }
            c->eventsel = val;
            s->dirty |= slot_bit(idx);
        }
        return true;
    }
    if (!amd_v2(s)) {
        return false;
    }
    switch (msr) {
    case VPMU_MSR_AMD_GLOBAL_STATUS:
        /* "Per PPR, Read-only MSR. Writes are ignored." (kvm_pmu_set_msr) */
        if (!host) {
            return true;
        }
        *rsvd = val & s->global_status_rsvd;
        if (*rsvd) {
            return false;
        }
        vpmu_poll(s);
        s->global_status = val;
        return true;
    case VPMU_MSR_AMD_GLOBAL_CTL:
        if (!amd_keep(&val, ~s->counters_mask, host, rsvd)) {
            return false;
        }
        s->dirty |= val ^ s->global_ctrl;
        s->global_ctrl = val;
        return true;
    case VPMU_MSR_AMD_GLOBAL_STATUS_CLR:
    case VPMU_MSR_AMD_GLOBAL_STATUS_SET:
        /*
         * Commands for the guest, ignored from the host (the state is
         * GLOBAL_STATUS).  CLR clears whatever bits it names: Linux's PMI
         * handler acks with ~status.  SET sets those of present counters
         * (KVM's 2025 "Emulate PERF_CNTR_GLOBAL_STATUS_SET").  An overflow
         * before the write is accounted first.
         */
        if (host) {
            return true;
        }
        vpmu_poll(s);
        if (msr == VPMU_MSR_AMD_GLOBAL_STATUS_CLR) {
            s->global_status &= ~val;
        } else {
            s->global_status |= val & ~s->global_status_set_rsvd;
        }
        return true;
    }
    return false;
}

/* Linux's msr-index.h names, which KVM's and Linux's sources use. */
static bool amd_msr_name(uint32_t msr, char *buf, size_t len)
{
    static const char *const globals[] = {
        "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS",
        "MSR_AMD64_PERF_CNTR_GLOBAL_CTL",
        "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR",
        "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET",
    };
    uint32_t off;

    if (msr - VPMU_MSR_K7_EVNTSEL0 < VPMU_AMD_K7_COUNTERS) {
        snprintf(buf, len, "MSR_K7_EVNTSEL%u", msr - VPMU_MSR_K7_EVNTSEL0);
    } else if (msr - VPMU_MSR_K7_PERFCTR0 < VPMU_AMD_K7_COUNTERS) {
        snprintf(buf, len, "MSR_K7_PERFCTR%u", msr - VPMU_MSR_K7_PERFCTR0);
    } else if (msr - VPMU_MSR_F15H_PERF_CTL0 < 2 * VPMU_AMD_MAX_COUNTERS) {
        off = msr - VPMU_MSR_F15H_PERF_CTL0;
        snprintf(buf, len, "MSR_F15H_PERF_CT%c%u", off & 1 ? 'R' : 'L',
                 off / 2);
    } else if (msr - VPMU_MSR_AMD_GLOBAL_STATUS < ARRAY_SIZE(globals)) {
        snprintf(buf, len, "%s", globals[msr - VPMU_MSR_AMD_GLOBAL_STATUS]);
    } else {
        return false;
    }
    return true;
}

/*
 * The stream's configuration must be this one.  AMD's follows from
 * perfmon-v2, perfctr-core and pmu-gp-counters; the Intel fields must
 * be what vpmu_config_amd() gives, or the stream was made elsewhere.
 */
static bool amd_load_config(const VPMUState *s, const VPMUSavedState *in,
                            Error **errp)
{
    const VPMUConfig *cfg = &s->cfg;

    if (in->arch != VPMU_ARCH_AMD) {
        error_setg(errp, "the migration stream's PMU is %s, this QEMU's is "
                   "AMD's; start it with the source's CPU vendor and "
                   "pmu-arch", in->arch == VPMU_ARCH_INTEL ? "Intel's" :
                   "of an unknown architecture");
        return false;
    }
    if (in->version != cfg->version) {
        error_setg(errp, "the migration stream's AMD PMU has perfmon-v2=%s, "
                   "this QEMU's has perfmon-v2=%s; start it with the "
                   "source's -cpu perfmon-v2", in->version >= 2 ? "on" : "off",
                   cfg->version >= 2 ? "on" : "off");
        return false;
    }
    if (in->amd_perfctr_core != cfg->amd_perfctr_core) {
        error_setg(errp, "the migration stream's AMD PMU has "
                   "perfctr-core=%s, this QEMU's has perfctr-core=%s; start "
                   "it with the source's -cpu perfctr-core",
                   in->amd_perfctr_core ? "on" : "off",
                   cfg->amd_perfctr_core ? "on" : "off");
        return false;
    }
    if (in->nr_gp != cfg->nr_gp) {
        error_setg(errp, "the migration stream's PMU has pmu-gp-counters=%d, "
                   "this QEMU's has %d; start it with the source's -cpu "
                   "pmu-gp-counters", in->nr_gp, cfg->nr_gp);
        return false;
    }
    if (in->nr_fixed != cfg->nr_fixed || in->gp_width != cfg->gp_width ||
        in->fixed_width != cfg->fixed_width ||
        in->perf_capabilities != cfg->perf_capabilities) {
        error_setg(errp, "the migration stream's AMD PMU has %d fixed "
                   "counters, widths %d and %d and IA32_PERF_CAPABILITIES "
                   "0x%" PRIx64 ", which no AMD PMU has", in->nr_fixed,
                   in->gp_width, in->fixed_width, in->perf_capabilities);
        return false;
    }
    return true;
}

/*
 * What an AMD PMU never has must come empty: the registers of counters
 * beyond nr_gp, and the Intel-only FIXED_CTR_CTRL and DEBUGCTL.
 */
static bool amd_load_absent(const VPMUState *s, const VPMUSavedState *in,
                            Error **errp)
{
    char name[VPMU_MSR_NAME_LEN];
    unsigned i;

    for (i = s->cfg.nr_gp; i < VPMU_MAX_COUNTERS; i++) {
        uint64_t ev = i < VPMU_MAX_GP ? in->eventsel[i] : 0;

        if (in->value[i] || ev) {
            if (i < VPMU_AMD_MAX_COUNTERS) {
                vpmu_msr_name(VPMU_MSR_F15H_PERF_CTL0 + 2 * i +
                              !!in->value[i], name, sizeof(name));
            } else {
                snprintf(name, sizeof(name), "counter %u", i);
            }
            error_setg(errp, "the migration stream's %s = 0x%" PRIx64 ", but "
                       "this PMU has %d counters", name,
                       in->value[i] ? in->value[i] : ev, s->cfg.nr_gp);
            return false;
        }
    }
    if (in->fixed_ctr_ctrl || in->debugctl) {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64 ", which "
                   "an AMD PMU does not have", in->fixed_ctr_ctrl ?
                   "IA32_FIXED_CTR_CTRL" : "IA32_DEBUGCTL",
                   in->fixed_ctr_ctrl ? in->fixed_ctr_ctrl : in->debugctl);
        return false;
    }
    return true;
}

static bool amd_load(VPMUState *s, const VPMUSavedState *in, Error **errp)
{
    struct {
        uint32_t msr;
        uint64_t val;
        bool counter;
    } regs[2 * VPMU_AMD_MAX_COUNTERS + 2] = { };
    char name[VPMU_MSR_NAME_LEN];
    unsigned i, n = 0;

    if (!amd_load_config(s, in, errp) || !amd_load_absent(s, in, errp)) {
        return false;
    }
    for (i = 0; i < (unsigned)s->cfg.nr_gp; i++) {
        regs[n].msr = amd_ctl_msr(s, i);
        regs[n++].val = in->eventsel[i];
        regs[n].msr = amd_ctr_msr(s, i);
        regs[n].counter = true;
        regs[n++].val = in->value[i];
    }
    /* GLOBAL_CTL last, so that nothing counts before it is all in place. */
    if (amd_v2(s)) {
        regs[n].msr = VPMU_MSR_AMD_GLOBAL_STATUS;
        regs[n++].val = in->global_status;
        regs[n].msr = VPMU_MSR_AMD_GLOBAL_CTL;
        regs[n++].val = in->global_ctrl;
    } else {
        /*
         * No global registers: no overflow status to carry, and a
         * GLOBAL_CTL that nothing reads but must still be one of this
         * PMU's (the reset value, or 0 from an empty stream).
         */
        if (in->global_status || (in->global_ctrl & ~s->counters_mask)) {
            error_setg(errp, "the migration stream's %s = 0x%" PRIx64 ", "
                       "but this AMD PMU has no PerfMonV2 (perfmon-v2=off)",
                       in->global_status ? "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS"
                                         : "MSR_AMD64_PERF_CNTR_GLOBAL_CTL",
                       in->global_status ? in->global_status
                                         : in->global_ctrl);
            return false;
        }
        s->global_ctrl = in->global_ctrl;
    }

    for (i = 0; i < n; i++) {
        uint64_t rsvd = 0;

        if (!amd_msr_write(s, regs[i].msr, regs[i].val, true, &rsvd)) {
            vpmu_msr_name(regs[i].msr, name, sizeof(name));
            if (regs[i].counter) {
                error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                           " does not fit this PMU's %d-bit counters", name,
                           regs[i].val, VPMU_AMD_WIDTH);
            } else {
                error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                           " sets bits 0x%" PRIx64 " that are reserved in "
                           "this PMU", name, regs[i].val, rsvd);
            }
            return false;
        }
    }
    return true;
}

const VPMUArchOps vpmu_amd_ops = {
    .ranges = amd_msr_range_table,
    .mask_lvtpc_on_pmi = false,
    .config_check = amd_config_check,
    .msr_name = amd_msr_name,
    .init_masks = amd_init_masks,
    .reset = amd_reset,
    .wants_counting = amd_wants_counting,
    .host_event = amd_host_event,
    .pmi_enabled = amd_pmi_enabled,
    .msr_read = amd_msr_read,
    .msr_write = amd_msr_write,
    .pmi_delivered = amd_pmi_delivered,
    .load = amd_load,
};
