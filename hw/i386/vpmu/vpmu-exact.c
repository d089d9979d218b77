/*
 * qemu-vpmu: exact instruction and branch counts from single-stepping
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See include/hw/i386/vpmu-exact.h.  A slot is "owned" here when its
 * event is one the engine counts exactly; a slot changes hands only at
 * program(), so the backend below sees a plain release where the guest
 * moved a counter from, say, cycles to instructions.
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "hw/i386/vpmu-exact.h"
#include "hw/i386/vpmu-events.h"

/* What an owned slot counts. */
typedef struct VPMUExactSlot {
    bool branches;          /* branches retired, else instructions */
    bool usr, os;
    bool edge, inv;
    uint8_t cmask;
    bool asserted;          /* edge detection: the last step's condition */
    uint64_t count;         /* since program() */
    uint64_t signal_at;     /* count at which the model wants a signal */
    bool signal_armed;
} VPMUExactSlot;

struct VPMUExact {
    const VPMUBackendOps *inner;
    void *inner_opaque;
    uint32_t owned;         /* slots counted here */
    uint32_t running;       /* owned slots told to count */
    VPMUExactSlot slot[VPMU_MAX_COUNTERS];
    VPMUExactStats stats;
};

/* The event counts branches retired (else instructions, when exact). */
static bool exact_is_branches(const VPMUHostEvent *ev)
{
    uint32_t code = vpmu_event_code(ev->arch, ev->eventsel);

    if (ev->fixed) {
        return false;
    }
    return code == (ev->arch == VPMU_ARCH_AMD ? VPMU_AMD_EVENT_BRANCHES
                                              : VPMU_EVENT_BRANCH_RETIRED);
}

bool vpmu_exact_event(const VPMUHostEvent *ev)
{
    uint32_t code = vpmu_event_code(ev->arch, ev->eventsel);

    /*
     * Only the architectural encodings (SDM vol. 3B, "Pre-defined
     * Architectural Performance Events").  BR_INST_RETIRED's other umasks
     * (conditional, near call, far branch...) differ from one
     * microarchitecture to the next, and a guest CPU model here may be
     * any of them; they stay with the backend below, which reports them
     * unsupported where it cannot count them.  AMD: the events Linux
     * counts instructions and branches with (amd_perfmon_event_map),
     * retired instructions and retired branch instructions, umask 0 and
     * select bits 11:8 clear; AMD has no fixed counters.
     */
    if (ev->fixed) {
        return ev->index == 0;
    }
    return code == (ev->arch == VPMU_ARCH_AMD ? VPMU_AMD_EVENT_INSTRUCTIONS
                                              : VPMU_EVENT_INST_RETIRED) ||
           exact_is_branches(ev);
}

VPMUExact *vpmu_exact_new(const VPMUBackendOps *inner, void *inner_opaque)
{
    VPMUExact *ex = g_new0(VPMUExact, 1);

    ex->inner = inner;
    ex->inner_opaque = inner_opaque;
    return ex;
}

void vpmu_exact_free(VPMUExact *ex)
{
    g_free(ex);
}

uint32_t vpmu_exact_stepping(const VPMUExact *ex)
{
    return ex->running;
}

uint32_t vpmu_exact_owned(const VPMUExact *ex)
{
    return ex->owned;
}

const VPMUExactStats *vpmu_exact_stats(const VPMUExact *ex)
{
    return &ex->stats;
}

static bool exact_owns(const VPMUExact *ex, unsigned slot)
{
    return ex->owned & (1u << slot);
}

static bool exact_program(void *opaque, unsigned slot, const VPMUHostEvent *ev,
                          uint64_t period)
{
    VPMUExact *ex = opaque;
    VPMUExactSlot *s = &ex->slot[slot];
    uint64_t sel = ev->eventsel;

    if (!vpmu_exact_event(ev)) {
        if (exact_owns(ex, slot)) {
            ex->owned &= ~(1u << slot);
            ex->running &= ~(1u << slot);
        }
        return ex->inner->program(ex->inner_opaque, slot, ev, period);
    }
    if (!exact_owns(ex, slot)) {
        /* The slot's host event, if any, counted something else. */
        ex->inner->release(ex->inner_opaque, slot);
    }
    ex->owned |= 1u << slot;
    ex->running &= ~(1u << slot);
    *s = (VPMUExactSlot) {
        .branches = exact_is_branches(ev),
        .usr = sel & VPMU_EVTSEL_USR,
        .os = sel & VPMU_EVTSEL_OS,
        /* A fixed counter's selector carries no EDGE, INV or CMASK. */
        .edge = !ev->fixed && (sel & VPMU_EVTSEL_EDGE),
        .inv = !ev->fixed && (sel & VPMU_EVTSEL_INV),
        .cmask = ev->fixed ? 0 : (sel & VPMU_EVTSEL_CMASK) >> 24,
        .signal_at = period,
        .signal_armed = period != 0,
    };
    return true;
}

static void exact_set_period(void *opaque, unsigned slot, uint64_t period)
{
    VPMUExact *ex = opaque;
    VPMUExactSlot *s = &ex->slot[slot];

    if (!exact_owns(ex, slot)) {
        ex->inner->set_period(ex->inner_opaque, slot, period);
        return;
    }
    s->signal_at = s->count + period;
    s->signal_armed = period != 0;
}

static void exact_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    VPMUExact *ex = opaque;

    if (!exact_owns(ex, slot)) {
        ex->inner->set_enabled(ex->inner_opaque, slot, enabled);
        return;
    }
    if (enabled) {
        ex->running |= 1u << slot;
    } else {
        ex->running &= ~(1u << slot);
        ex->slot[slot].asserted = false;
    }
}

static void exact_set_enabled_batch(void *opaque, uint64_t start,
                                    uint64_t stop)
{
    VPMUExact *ex = opaque;
    uint64_t mine = ex->owned;
    unsigned slot;

    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if ((start | stop) & mine & (1ULL << slot)) {
            exact_set_enabled(ex, slot, start & (1ULL << slot));
        }
    }
    start &= ~mine;
    stop &= ~mine;
    if (!(start | stop)) {
        return;
    }
    if (ex->inner->set_enabled_batch) {
        ex->inner->set_enabled_batch(ex->inner_opaque, start, stop);
        return;
    }
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if ((start | stop) & (1ULL << slot)) {
            ex->inner->set_enabled(ex->inner_opaque, slot,
                                   start & (1ULL << slot));
        }
    }
}

static uint64_t exact_read(void *opaque, unsigned slot)
{
    VPMUExact *ex = opaque;

    if (!exact_owns(ex, slot)) {
        return ex->inner->read(ex->inner_opaque, slot);
    }
    return ex->slot[slot].count;
}

static void exact_release(void *opaque, unsigned slot)
{
    VPMUExact *ex = opaque;

    if (!exact_owns(ex, slot)) {
        ex->inner->release(ex->inner_opaque, slot);
        return;
    }
    ex->owned &= ~(1u << slot);
    ex->running &= ~(1u << slot);
    ex->slot[slot] = (VPMUExactSlot) { 0 };
}

const VPMUBackendOps vpmu_exact_ops = {
    .program = exact_program,
    .set_period = exact_set_period,
    .set_enabled = exact_set_enabled,
    .set_enabled_batch = exact_set_enabled_batch,
    .read = exact_read,
    .release = exact_release,
};

/*
 * How much one step adds to @s.  Each step stands for one cycle of the
 * SDM's counter logic, with an event count of @inc (0 or 1) in it:
 * CMASK compares that count (INV inverts the comparison, and is ignored
 * without CMASK), EDGE counts the steps where the compared condition
 * goes from false to true.
 */
static unsigned exact_increment(VPMUExactSlot *s, unsigned inc)
{
    bool asserted;

    if (!s->cmask && !s->edge) {
        return inc;
    }
    if (!s->cmask) {
        asserted = inc > 0;
    } else {
        asserted = s->inv ? inc < s->cmask : inc >= s->cmask;
    }
    if (!s->edge) {
        return asserted;
    }
    inc = asserted && !s->asserted;
    s->asserted = asserted;
    return inc;
}

bool vpmu_exact_retire(VPMUExact *ex, const VPMUExactRetired *r)
{
    uint32_t pending = ex->running;
    bool signal = false;

    ex->stats.retired++;
    while (pending) {
        unsigned slot = ctz32(pending);
        VPMUExactSlot *s = &ex->slot[slot];

        pending &= pending - 1;
        if (!(r->cpl == 3 ? s->usr : s->os)) {
            /* Not counting at this CPL: no cycle of its own either. */
            s->asserted = false;
            continue;
        }
        s->count += exact_increment(s, s->branches ? r->branch : 1);
        if (s->signal_armed && s->count == s->signal_at) {
            s->signal_armed = false;
            signal = true;
        }
    }
    ex->stats.signals += signal;
    return signal;
}
