/*
 * qemu-vpmu: the register model's vendor-neutral counter core
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Counter slots, folding what the host counted into guest values, wrap and
 * overflow, vpmu_sync() and the backend, host policy (reclaim, filter),
 * per-slot views and the save/load driver.  What an MSR means is the
 * register decoder's (vpmu-internal.h), reached through s->arch.
 *
 * Like KVM, writes only validate and update registers and mark the counters
 * they affect dirty; vpmu_sync() later tells the backend, so one exit that
 * touches several counters is one batch of host work.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "hw/i386/vpmu.h"
#include "vpmu-internal.h"
#include "trace.h"

static inline uint64_t slot_width_mask(const VPMUState *s, unsigned slot)
{
    return slot_is_fixed(slot) ? s->fixed_mask : s->gp_mask;
}

/* Events until the counter passes its width: the host's sampling period. */
static uint64_t slot_distance(const VPMUState *s, unsigned slot)
{
    return slot_width_mask(s, slot) - s->counters[slot].value + 1;
}

/*
 * Fold what the host counted since the last look into the guest value.
 * SDM: a counter that passes its width wraps and sets its GLOBAL_STATUS
 * overflow bit.  The host's overflow signal is then re-armed for the next
 * wrap.
 */
uint64_t vpmu_slot_fold(VPMUState *s, unsigned slot)
{
    VPMUCounter *c = &s->counters[slot];
    uint64_t mask = slot_width_mask(s, slot);
    uint64_t now, total;

    if (!c->programmed) {
        return c->value;
    }
    now = s->ops->read(s->opaque, slot);
    total = c->value + (now - c->host_base);
    if (total > mask) {
        s->stats.overflows++;
        s->global_status |= slot_bit(slot) & s->overflow_status;
        if (s->arch->pmi_enabled(s, slot)) {
            s->pmi_pending = true;
        }
        trace_vpmu_overflow(slot, s->pmi_pending);
    }
    c->value = total & mask;
    c->host_base = now;
    c->unfolded = c->running;
    if (total > mask) {
        s->ops->set_period(s->opaque, slot, slot_distance(s, slot));
    }
    return c->value;
}

void vpmu_slot_set_value(VPMUState *s, unsigned slot, uint64_t val)
{
    VPMUCounter *c = &s->counters[slot];

    /*
     * An overflow the host counted before this write still happened:
     * fold first (which also takes the host count the new value starts
     * from), then re-arm the overflow signal for the new distance.
     */
    vpmu_slot_fold(s, slot);
    c->value = val & slot_width_mask(s, slot);
    if (c->programmed) {
        s->ops->set_period(s->opaque, slot, slot_distance(s, slot));
    }
}

static void slot_release(VPMUState *s, unsigned slot)
{
    VPMUCounter *c = &s->counters[slot];

    if (c->programmed) {
        vpmu_slot_fold(s, slot);
        s->ops->release(s->opaque, slot);
    }
    c->programmed = false;
    c->running = false;
    c->unfolded = false;
}

/*
 * Bring one counter's host side in line with its registers.  Changing only
 * an enable bit takes the fast path (set_enabled on the existing event);
 * a new event selection folds the old count first and programs afresh.
 * A counter that is not counting keeps its event, so that re-enabling it
 * with the same selection costs no new host event.
 */
static void slot_sync(VPMUState *s, unsigned slot, uint64_t *start,
                      uint64_t *stop)
{
    VPMUCounter *c = &s->counters[slot];
    VPMUHostEvent ev;
    bool fresh = false;

    if (!s->arch->wants_counting(s, slot)) {
        if (c->running) {
            *stop |= 1ULL << slot;
            c->running = false;
            s->stats.toggles++;
            trace_vpmu_counter_enable(slot, false);
        }
        return;
    }

    if (vpmu_slot_blocked(s, slot) != VPMU_HOST_ALLOWED) {
        /* Frozen where it is, like an event the host cannot count. */
        slot_release(s, slot);
        return;
    }
    s->arch->host_event(s, slot, &ev);
    if (!c->programmed || memcmp(&ev, &c->host_event, sizeof(ev))) {
        /*
         * Keep the count; program() replaces the slot's event, so the
         * backend may reuse it when the host counts the same thing.
         */
        vpmu_slot_fold(s, slot);
        c->running = false;
        c->unfolded = false;
        c->host_event = ev;
        c->host_base = 0;
        c->programmed = s->ops->program(s->opaque, slot, &ev,
                                        slot_distance(s, slot));
        s->stats.programs++;
        fresh = true;
        trace_vpmu_counter_program(slot, ev.eventsel, c->programmed);
    }
    if (c->programmed && !c->running) {
        *start |= 1ULL << slot;
        c->running = true;
        c->unfolded = true;
        s->stats.toggles += !fresh;
        trace_vpmu_counter_enable(slot, true);
    }
}

/*
 * Start and stop counters.  Several at once (a GLOBAL_CTRL write) go to
 * the backend as one batch where it can do them in one host call.
 */
static void vpmu_apply_enables(VPMUState *s, uint64_t start, uint64_t stop)
{
    unsigned slot;

    if (s->ops->set_enabled_batch &&
        (ctpop64(start) > 1 || ctpop64(stop) > 1)) {
        s->ops->set_enabled_batch(s->opaque, start, stop);
        return;
    }
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if ((start | stop) & (1ULL << slot)) {
            s->ops->set_enabled(s->opaque, slot, start & (1ULL << slot));
        }
    }
}

void vpmu_sync(VPMUState *s)
{
    uint64_t start = 0, stop = 0;
    unsigned slot;

    if (!s->dirty) {
        return;
    }
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if (s->dirty & slot_bit(slot)) {
            slot_sync(s, slot, &start, &stop);
        }
    }
    s->dirty = 0;
    vpmu_apply_enables(s, start, stop);
}

bool vpmu_filter_allows(const VPMUEventFilter *f, const VPMUHostEvent *ev)
{
    uint32_t code = ev->eventsel & (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK);
    bool listed = false;
    uint32_t i;

    /* AMD's select bits 11:8, at 35:32, go to code bits 19:16. */
    if (ev->arch == VPMU_ARCH_AMD) {
        code |= (ev->eventsel & VPMU_AMD_EVTSEL_EVENT_HI) >> 16;
    }
    /* As KVM's filter: fixed counters by index, GP events by encoding. */
    if (ev->fixed) {
        listed = f->fixed_bitmap & (1u << ev->index);
    } else {
        for (i = 0; i < f->nevents && !listed; i++) {
            listed = f->events[i] == code;
        }
    }
    return f->deny ? !listed : listed;
}

bool vpmu_slot_present(const VPMUState *s, unsigned slot)
{
    return slot < VPMU_MAX_COUNTERS && (s->counters_mask & slot_bit(slot));
}

bool vpmu_slot_counting(const VPMUState *s, unsigned slot)
{
    return s->arch->wants_counting(s, slot);
}

VPMUHostBlock vpmu_slot_blocked(const VPMUState *s, unsigned slot)
{
    VPMUHostEvent ev;

    if (s->reclaimed) {
        return VPMU_HOST_RECLAIMED;
    }
    if (s->has_filter) {
        s->arch->host_event(s, slot, &ev);
        if (!vpmu_filter_allows(&s->filter, &ev)) {
            return VPMU_HOST_FILTERED;
        }
    }
    return VPMU_HOST_ALLOWED;
}

uint64_t vpmu_slot_config(const VPMUState *s, unsigned slot)
{
    return slot_is_fixed(slot) ? fixed_field(s, slot - VPMU_MAX_GP)
                               : s->counters[slot].eventsel;
}

void vpmu_slot_host_event(const VPMUState *s, unsigned slot,
                          VPMUHostEvent *ev)
{
    s->arch->host_event(s, slot, ev);
}

uint64_t vpmu_slot_value(VPMUState *s, unsigned slot)
{
    return vpmu_slot_fold(s, slot);
}

bool vpmu_slot_running(const VPMUState *s, unsigned slot)
{
    return s->counters[slot].running;
}

uint64_t vpmu_slot_folded_value(const VPMUState *s, unsigned slot)
{
    return s->counters[slot].value;
}

uint64_t vpmu_slot_current_value(VPMUState *s, unsigned slot)
{
    return s->counters[slot].unfolded ? vpmu_slot_fold(s, slot)
                                      : s->counters[slot].value;
}

/*
 * Host policy changes act at once (management calls these on the vCPU
 * thread): every counter is looked at again by vpmu_sync().
 */
void vpmu_set_reclaimed(VPMUState *s, bool reclaimed)
{
    s->reclaimed = reclaimed;
    if (reclaimed) {
        /* Stopped events too: the host gets every counter back. */
        vpmu_release_all(s);
    }
    s->dirty |= s->counters_mask;
    vpmu_sync(s);
}

void vpmu_set_filter(VPMUState *s, const VPMUEventFilter *filter)
{
    s->has_filter = filter != NULL;
    if (filter) {
        s->filter = *filter;
    }
    s->dirty |= s->counters_mask;
    vpmu_sync(s);
}

void vpmu_release_all(VPMUState *s)
{
    unsigned slot;

    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        slot_release(s, slot);
    }
}

void vpmu_reset(VPMUState *s)
{
    unsigned slot;

    vpmu_release_all(s);
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        memset(&s->counters[slot], 0, sizeof(s->counters[slot]));
    }
    s->global_status = 0;
    s->pmi_pending = false;
    s->dirty = 0;
    s->arch->reset(s);
}

void vpmu_pmi_delivered(VPMUState *s)
{
    s->pmi_pending = false;
    s->arch->pmi_delivered(s);
}

/* The decoder of @arch (a VPMUArch), or NULL for none. */
static const VPMUArchOps *vpmu_arch_ops(int arch)
{
    switch (arch) {
    case VPMU_ARCH_INTEL:
        return &vpmu_intel_ops;
    case VPMU_ARCH_AMD:
        return &vpmu_amd_ops;
    default:
        return NULL;
    }
}

bool vpmu_config_check(const VPMUConfig *cfg, Error **errp)
{
    const VPMUArchOps *arch = vpmu_arch_ops(cfg->arch);

    if (!arch) {
        error_setg(errp, "vPMU: PMU architecture %d is not implemented "
                   "(pmu-arch)", cfg->arch);
        return false;
    }
    return arch->config_check(cfg, errp);
}

const VPMUMsrRange *vpmu_msr_ranges_of(const VPMUConfig *cfg)
{
    const VPMUArchOps *arch = vpmu_arch_ops(cfg->arch);

    return arch ? arch->ranges : vpmu_msr_ranges;
}

bool vpmu_pmi_masks_lvtpc(const VPMUState *s)
{
    return s->arch->mask_lvtpc_on_pmi;
}

void vpmu_msr_name(uint32_t msr, char *buf, size_t len)
{
    /* MSR numbers of the two vendors' PMUs do not overlap. */
    if (!vpmu_intel_ops.msr_name(msr, buf, len) &&
        !vpmu_amd_ops.msr_name(msr, buf, len)) {
        snprintf(buf, len, "MSR 0x%" PRIx32, msr);
    }
}

void vpmu_state_init(VPMUState *s, const VPMUConfig *cfg,
                     const VPMUBackendOps *ops, void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    /* @cfg is checked: its arch has a decoder. */
    s->arch = vpmu_arch_ops(cfg->arch);
    s->ops = ops;
    s->opaque = opaque;
    /* The LBR stack is a model of its own; the decoder routes its MSRs. */
    vpmu_lbr_init(&s->lbr, &cfg->lbr);

    s->gp_mask = low_bits(cfg->gp_width);
    s->fixed_mask = low_bits(cfg->fixed_width);
    s->counters_mask = low_bits(cfg->nr_gp) |
        low_bits(cfg->nr_fixed) << VPMU_FIXED_BASE_BIT;
    s->overflow_status = s->counters_mask;
    s->arch->init_masks(s);

    vpmu_reset(s);
}

/* Overflows happen while counting: look at every counter before answering. */
uint64_t vpmu_poll(VPMUState *s)
{
    unsigned slot;

    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if (s->counters[slot].unfolded) {
            vpmu_slot_fold(s, slot);
        }
    }
    return s->global_status;
}

bool vpmu_msr_read(VPMUState *s, uint32_t msr, uint64_t *val, bool host)
{
    bool ok = s->arch->msr_read(s, msr, val, host);
    char name[VPMU_MSR_NAME_LEN];

    if (!ok) {
        *val = 0;
        if (!host && !vpmu_lbr_msr_is_lbr(msr)) {
            vpmu_msr_name(msr, name, sizeof(name));
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: RDMSR %s (0x%" PRIx32
                          "): not present in this PMU configuration "
                          "(#GP)\n", name, msr);
        }
    }
    trace_vpmu_msr_read(msr, *val, host, ok);
    return ok;
}

bool vpmu_msr_write(VPMUState *s, uint32_t msr, uint64_t val, bool host)
{
    uint64_t rsvd;
    bool ok = s->arch->msr_write(s, msr, val, host, &rsvd);
    char name[VPMU_MSR_NAME_LEN];

    if (!ok && !host && !vpmu_lbr_msr_is_lbr(msr)) {
        vpmu_msr_name(msr, name, sizeof(name));
        if (rsvd) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR %s (0x%" PRIx32
                          ") <- 0x%" PRIx64 ": reserved bits 0x%" PRIx64
                          " set (#GP)\n", name, msr, val, rsvd);
        } else {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR %s (0x%" PRIx32
                          ") <- 0x%" PRIx64 ": not writable in this PMU "
                          "configuration (#GP)\n", name, msr, val);
        }
    }
    trace_vpmu_msr_write(msr, val, host, ok);
    return ok;
}

void vpmu_saved_state_init(VPMUSavedState *st, const VPMUConfig *cfg)
{
    memset(st, 0, sizeof(*st));
    st->arch = cfg->arch;
    st->amd_perfctr_core = cfg->amd_perfctr_core;
    st->version = cfg->version;
    st->nr_gp = cfg->nr_gp;
    st->nr_fixed = cfg->nr_fixed;
    st->gp_width = cfg->gp_width;
    st->fixed_width = cfg->fixed_width;
    st->perf_capabilities = cfg->perf_capabilities;
}

void vpmu_save_state(VPMUState *s, VPMUSavedState *out)
{
    unsigned i;

    vpmu_poll(s);
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        vpmu_slot_fold(s, i);
    }
    vpmu_saved_state_init(out, &s->cfg);
    out->global_ctrl = s->global_ctrl;
    out->global_status = s->global_status;
    out->fixed_ctr_ctrl = s->fixed_ctr_ctrl;
    out->debugctl = s->debugctl;
    out->pmi_pending = s->pmi_pending;
    for (i = 0; i < VPMU_MAX_GP; i++) {
        out->eventsel[i] = s->counters[i].eventsel;
    }
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        out->value[i] = s->counters[i].value;
    }
}

bool vpmu_load_state(VPMUState *s, const VPMUSavedState *in, Error **errp)
{
    vpmu_reset(s);
    if (!s->arch->load(s, in, errp)) {
        vpmu_reset(s);
        return false;
    }
    s->pmi_pending = in->pmi_pending;
    vpmu_sync(s);
    return true;
}
