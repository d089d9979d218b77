/*
 * qemu-vpmu: VPMU_COUNTER_PREEMPTED / VPMU_COUNTER_RECOVERED events, and
 * VPMU_LBR_PREEMPTED / VPMU_LBR_RECOVERED
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Perf tells nobody when it takes a counter away from an event; the only
 * sign is in the event's times (running behind enabled) or, for a pinned
 * event, its error state.  So every vpmu-monitor-ms a timer asks each
 * vCPU with running counters to look at them (on its own thread, where
 * its events live) and to report changes.
 *
 * Rate limit: a counter reports at most one event per
 * VPMU_EVENT_MIN_GAP_NS.  A change inside that gap is not dropped but
 * deferred: the next look after the gap reports the state then, if it
 * differs from the last one reported.  A counter flapping at any rate
 * thus costs the monitor at most one event per second, and the last
 * state always gets through.  A vCPU's LBR is looked at the same way,
 * as one more "counter" (host-state lost or not).
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/qapi-events-vpmu.h"
#include "hw/core/cpu.h"
#include "system/system.h"
#include "cpu.h"
#include "kvm/vpmu-kvm.h"
#include "vpmu-mgmt.h"

#define VPMU_EVENT_MIN_GAP_NS   NANOSECONDS_PER_SECOND

/* What was last reported for one vCPU's counters (vCPU thread only). */
typedef struct VPMUContention {
    uint64_t owner;                         /* kvm_vpmu_instance() */
    bool reported[VPMU_MAX_COUNTERS];       /* preempted, as last sent */
    int64_t sent_at[VPMU_MAX_COUNTERS];     /* when, on QEMU_CLOCK_REALTIME */
    bool lbr_reported;                      /* LBR lost, as last sent */
    int64_t lbr_sent_at;
} VPMUContention;

static QEMUTimer *vpmu_contention_timer;
/*
 * cpu_index -> VPMUContention.  An unplugged vCPU's index goes to the next
 * vCPU plugged: @owner tells the records apart, so a new vCPU never
 * inherits an old one's "preempted".
 */
static GHashTable *vpmu_contention_table;

static VPMUContention *vpmu_contention_of(X86CPU *cpu)
{
    int index = CPU(cpu)->cpu_index;
    VPMUContention *c = g_hash_table_lookup(vpmu_contention_table,
                                            GINT_TO_POINTER(index));

    if (!c) {
        c = g_new0(VPMUContention, 1);
        g_hash_table_insert(vpmu_contention_table, GINT_TO_POINTER(index),
                            c);
    }
    if (c->owner != kvm_vpmu_instance(cpu)) {
        memset(c, 0, sizeof(*c));
        c->owner = kvm_vpmu_instance(cpu);
    }
    return c;
}

/* On the vCPU thread (async_run_on_cpu), with the BQL. */
static void vpmu_contention_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = vpmu_mgmt_cpu(cs);
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    VPMUContention *c;
    unsigned slot;

    if (!cpu) {
        return;                 /* unplugged since the timer looked */
    }
    c = vpmu_contention_of(cpu);
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        VPMUPerfSlotInfo info;
        VpmuHostState state;
        VpmuCounterKind kind;
        int64_t index;
        bool preempted;

        if (!vpmu_slot_present(cpu->vpmu, slot)) {
            continue;
        }
        /* Samples a running event: one read() per running counter. */
        vpmu_perf_slot_info(kvm_vpmu_backend(cpu), slot, &info);
        state = vpmu_mgmt_host_state(cpu, slot, &info);
        preempted = state == VPMU_HOST_STATE_PREEMPTED ||
                    state == VPMU_HOST_STATE_ERROR;
        if (preempted == c->reported[slot] ||
            (c->sent_at[slot] &&
             now - c->sent_at[slot] < VPMU_EVENT_MIN_GAP_NS)) {
            continue;
        }
        vpmu_mgmt_slot_id(slot, &kind, &index);
        if (preempted) {
            qapi_event_send_vpmu_counter_preempted(cs->cpu_index, kind,
                                                   index, state,
                                                   info.lost_ns);
        } else {
            qapi_event_send_vpmu_counter_recovered(cs->cpu_index, kind,
                                                   index, state,
                                                   info.lost_ns);
        }
        c->reported[slot] = preempted;
        c->sent_at[slot] = now;
    }
    if (cpu->vpmu->lbr.cfg.kind != VPMU_LBR_NONE) {
        VpmuLbrHostState state = vpmu_mgmt_lbr_state(cpu);
        bool lost = state == VPMU_LBR_HOST_STATE_LOST;

        if (lost != c->lbr_reported &&
            (!c->lbr_sent_at ||
             now - c->lbr_sent_at >= VPMU_EVENT_MIN_GAP_NS)) {
            if (lost) {
                qapi_event_send_vpmu_lbr_preempted(
                    cs->cpu_index, state, kvm_vpmu_lbr_lost_reason(cpu));
            } else {
                qapi_event_send_vpmu_lbr_recovered(cs->cpu_index, state);
            }
            c->lbr_reported = lost;
            c->lbr_sent_at = now;
        }
    }
}

/* Is there anything to look at?  A racy peek, only to spare idle vCPUs. */
static bool vpmu_contention_worth_a_look(CPUState *cs, X86CPU *cpu)
{
    VPMUContention *c = g_hash_table_lookup(vpmu_contention_table,
                                            GINT_TO_POINTER(cs->cpu_index));
    unsigned slot;

    if (c && c->owner != kvm_vpmu_instance(cpu)) {
        c = NULL;               /* a former vCPU's record */
    }
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if (vpmu_slot_running(cpu->vpmu, slot) ||
            (c && c->reported[slot])) {
            return true;
        }
    }
    return cpu->vpmu->lbr_lost || (c && c->lbr_reported);
}

static void vpmu_contention_tick(void *opaque)
{
    uint32_t ms = kvm_vpmu_monitor_ms();
    CPUState *cs;

    CPU_FOREACH(cs) {
        X86CPU *cpu = vpmu_mgmt_cpu(cs);

        if (cpu && vpmu_contention_worth_a_look(cs, cpu)) {
            async_run_on_cpu(cs, vpmu_contention_work, RUN_ON_CPU_NULL);
        }
    }
    timer_mod(vpmu_contention_timer,
              qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
}

static void vpmu_contention_machine_done(Notifier *n, void *unused)
{
    uint32_t ms = kvm_vpmu_monitor_ms();

    if (!ms) {
        return;
    }
    vpmu_contention_table = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    vpmu_contention_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                         vpmu_contention_tick, NULL);
    timer_mod(vpmu_contention_timer,
              qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
}

static Notifier vpmu_contention_notifier = {
    .notify = vpmu_contention_machine_done,
};

/*
 * Started once the machine is built, whatever its vCPUs: hotplugged vCPUs
 * are found by the timer, which costs nothing while no counter runs.
 */
static void vpmu_contention_register(void)
{
    qemu_add_machine_init_done_notifier(&vpmu_contention_notifier);
}

type_init(vpmu_contention_register)
