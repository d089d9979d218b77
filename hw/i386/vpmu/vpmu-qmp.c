/*
 * qemu-vpmu: QMP commands (query-vpmu, vpmu-reclaim, vpmu-restore, filter)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The management layer: it sits on top of the KVM glue and never touches
 * a vCPU's vPMU from the main loop.  Each vCPU's model and perf events
 * belong to its thread, so every command does its work there through
 * run_on_cpu(); the answer is then consistent and the counts current.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vpmu.h"
#include "qapi/qapi-events-vpmu.h"
#include "hw/core/cpu.h"
#include "cpu.h"
#include "kvm/vpmu-kvm.h"
#include "hw/i386/vpmu-events.h"
#include "hw/i386/vpmu-migration.h"
#include "vpmu-mgmt.h"

X86CPU *vpmu_mgmt_cpu(CPUState *cs)
{
    X86CPU *cpu = (X86CPU *)object_dynamic_cast(OBJECT(cs), TYPE_X86_CPU);

    return cpu && cpu->vpmu ? cpu : NULL;
}

VpmuHostState vpmu_mgmt_host_state(X86CPU *cpu, unsigned slot,
                                   const VPMUPerfSlotInfo *info)
{
    bool counting = vpmu_slot_counting(cpu->vpmu, slot);

    if (counting) {
        switch (vpmu_slot_blocked(cpu->vpmu, slot)) {
        case VPMU_HOST_RECLAIMED:
            return VPMU_HOST_STATE_RECLAIMED;
        case VPMU_HOST_FILTERED:
            return VPMU_HOST_STATE_FILTERED;
        case VPMU_HOST_ALLOWED:
            break;
        }
    } else if (info->state == VPMU_SLOT_ERROR && info->open_errno) {
        /* The guest stopped a counter that never got its host event. */
        return VPMU_HOST_STATE_UNUSED;
    }
    switch (info->state) {
    case VPMU_SLOT_ACTIVE:
        return info->contended ? VPMU_HOST_STATE_PREEMPTED
                               : VPMU_HOST_STATE_ACTIVE;
    case VPMU_SLOT_INACTIVE:
        return VPMU_HOST_STATE_INACTIVE;
    case VPMU_SLOT_RELEASED:
        return VPMU_HOST_STATE_RELEASED;
    case VPMU_SLOT_ERROR:
        return VPMU_HOST_STATE_ERROR;
    case VPMU_SLOT_UNSUPPORTED:
        return VPMU_HOST_STATE_UNSUPPORTED;
    case VPMU_SLOT_UNUSED:
    default:
        return VPMU_HOST_STATE_UNUSED;
    }
}

char *vpmu_mgmt_host_error(const VPMUPerfSlotInfo *info)
{
    if (info->fd_reserve) {
        return g_strdup("perf_event_open: refused, its file descriptor "
                        "would be one of those QEMU keeps below its "
                        "RLIMIT_NOFILE (EMFILE)");
    }
    if (info->open_errno) {
        return g_strdup_printf("perf_event_open: %s (%s)",
                               strerror(info->open_errno),
                               vpmu_perf_errno_name(info->open_errno));
    }
    return g_strdup("host perf took the counter of its pinned event");
}

VpmuLbrHostState vpmu_mgmt_lbr_state(X86CPU *cpu)
{
    const VPMUState *s = cpu->vpmu;

    if (s->lbr_reclaimed) {
        return VPMU_LBR_HOST_STATE_RECLAIMED;
    }
    if (s->lbr_lost) {
        return VPMU_LBR_HOST_STATE_LOST;
    }
    if (!vpmu_lbr_enabled(s)) {
        return VPMU_LBR_HOST_STATE_UNUSED;
    }
    return vpmu_lbr_frozen(s) ? VPMU_LBR_HOST_STATE_FROZEN
                              : VPMU_LBR_HOST_STATE_ACTIVE;
}

static VpmuLbrInfo *vpmu_lbr_info(X86CPU *cpu)
{
    const VPMULbrState *l = &cpu->vpmu->lbr;
    VpmuLbrInfo *info = g_new0(VpmuLbrInfo, 1);

    info->kind = l->cfg.kind == VPMU_LBR_ARCH ? VPMU_LBR_KIND_ARCH
                                              : VPMU_LBR_KIND_LEGACY;
    info->backend = kvm_vpmu_lbr_hardware(cpu) ? VPMU_LBR_BACKEND_HARDWARE
                                               : VPMU_LBR_BACKEND_SOFTWARE;
    info->format = l->cfg.format;
    info->depth = l->cfg.kind == VPMU_LBR_ARCH ? l->depth : l->cfg.depth;
    info->enabled = vpmu_lbr_enabled(cpu->vpmu);
    info->frozen = vpmu_lbr_frozen(cpu->vpmu);
    info->host_state = vpmu_mgmt_lbr_state(cpu);
    info->records = vpmu_lbr_records_used(l);
    info->branches_recorded = l->stats.recorded;
    info->branches_filtered = l->stats.filtered;
    info->call_stack_pops = l->stats.popped;
    return info;
}

void vpmu_mgmt_slot_id(unsigned slot, VpmuCounterKind *kind, int64_t *index)
{
    *kind = slot < VPMU_MAX_GP ? VPMU_COUNTER_KIND_GP
                               : VPMU_COUNTER_KIND_FIXED;
    *index = slot < VPMU_MAX_GP ? slot : slot - VPMU_MAX_GP;
}

static VpmuCounterInfo *vpmu_counter_info(X86CPU *cpu, unsigned slot)
{
    VPMUState *s = cpu->vpmu;
    VPMUPerf *perf = kvm_vpmu_backend(cpu);
    VpmuCounterInfo *c = g_new0(VpmuCounterInfo, 1);
    VPMUPerfSlotInfo info;
    VPMUHostEvent ev;
    const char *name;
    uint32_t exact;

    vpmu_mgmt_slot_id(slot, &c->kind, &c->index);
    c->enabled = vpmu_slot_counting(s, slot);
    c->config = vpmu_slot_config(s, slot);
    /* Folds what the host counted: the count is the one the guest reads. */
    c->count = vpmu_slot_value(s, slot);
    vpmu_slot_host_event(s, slot, &ev);
    if (ev.fixed ? c->config != 0 :
        (c->config & (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK))) {
        name = vpmu_perf_event_name(perf, &ev);
        c->event = g_strdup(name ? name : "unknown");
    }
    vpmu_perf_slot_info(perf, slot, &info);
    c->host_state = vpmu_mgmt_host_state(cpu, slot, &info);
    if (kvm_vpmu_exact_slots(cpu, &exact) && (exact & (1u << slot))) {
        /* Stepping counts it: no host event, whatever perf says */
        c->exact = true;
        if (c->host_state != VPMU_HOST_STATE_RECLAIMED &&
            c->host_state != VPMU_HOST_STATE_FILTERED) {
            c->host_state = c->enabled ? VPMU_HOST_STATE_ACTIVE :
                                         VPMU_HOST_STATE_INACTIVE;
        }
    }
    if (c->host_state == VPMU_HOST_STATE_ERROR) {
        c->host_error = vpmu_mgmt_host_error(&info);
    }
    c->time_enabled_ns = info.enabled_ns;
    c->time_running_ns = info.running_ns;
    c->time_lost_ns = info.lost_ns;
    return c;
}

/* On the vCPU thread. */
static void vpmu_query_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);
    VpmuInfo *info = data.host_ptr;
    VPMUPerf *perf = kvm_vpmu_backend(cpu);
    const VPMUPerfStats *ps = vpmu_perf_stats(perf);
    const VPMUModelStats *ms = &cpu->vpmu->stats;
    VpmuCounterInfoList **tail = &info->counters;
    VpmuStats *st = g_new0(VpmuStats, 1);
    uint32_t exact;
    unsigned slot;

    info->cpu_index = cs->cpu_index;
    info->backend = vpmu_perf_mode(perf) == VPMU_PERF_HARDWARE ?
                    VPMU_BACKEND_MODE_HARDWARE : VPMU_BACKEND_MODE_SOFTWARE;
    info->version = cpu->vpmu->cfg.version;
    if (cpu->vpmu->cfg.arch == VPMU_ARCH_AMD) {
        info->arch = VPMU_PMU_ARCH_AMD;
        info->has_perfctr_core = true;
        info->perfctr_core = cpu->vpmu->cfg.amd_perfctr_core;
    } else {
        info->arch = VPMU_PMU_ARCH_INTEL;
    }
    info->reclaimed = cpu->vpmu->reclaimed;
    info->migration_format =
        vpmu_migration_format() == VPMU_MIGRATION_KVM ?
        VPMU_MIGRATION_FORMAT_KVM : VPMU_MIGRATION_FORMAT_QEMU_VPMU;
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        if (vpmu_slot_present(cpu->vpmu, slot)) {
            QAPI_LIST_APPEND(tail, vpmu_counter_info(cpu, slot));
        }
    }
    /* After the reads above: a fold may have re-armed, never opened. */
    info->open_events = vpmu_perf_open_fds(perf);

    kvm_vpmu_glue_stats(cpu, &st->msr_exits, &st->pmis);
    st->fast_path_toggles = ms->toggles;
    st->event_changes = ms->programs;
    st->overflows = ms->overflows;
    st->perf_opens = ps->opens;
    st->perf_open_failures = ps->open_failures;
    st->perf_closes = ps->closes;
    st->perf_ioctls = ps->ioctls;
    st->perf_reads = ps->reads;
    st->user_reads = ps->user_reads;
    st->virtual_toggles = ps->gated_toggles;
    st->lazy_releases = ps->lazy_releases;
    st->overflow_signals = ps->overflow_signals;
    info->stats = st;
    if (kvm_vpmu_exact_slots(cpu, &exact)) {
        VpmuExactInfo *ex = g_new0(VpmuExactInfo, 1);

        kvm_vpmu_exact_stats(cpu, &ex->stepping, &ex->steps, &ex->retired,
                             &ex->rep_iterations, &ex->events,
                             &ex->unexplained, &ex->arms, &ex->step_ns);
        info->exact = ex;
    }
    if (cpu->vpmu->lbr.cfg.kind != VPMU_LBR_NONE) {
        info->lbr = vpmu_lbr_info(cpu);
    }
}

VpmuInfoList *qmp_query_vpmu(Error **errp)
{
    VpmuInfoList *head = NULL, **tail = &head;
    CPUState *cs;

    CPU_FOREACH(cs) {
        VpmuInfo *info;

        if (!vpmu_mgmt_cpu(cs)) {
            continue;
        }
        info = g_new0(VpmuInfo, 1);
        run_on_cpu(cs, vpmu_query_work, RUN_ON_CPU_HOST_PTR(info));
        QAPI_LIST_APPEND(tail, info);
    }
    return head;
}

#define VPMU_NONE "vPMU: no vCPU has a userspace vPMU (it needs -cpu " \
                  "...,pmu=on and -accel kvm with vpmu=userspace, the " \
                  "default)"

/* A command that acts on every vCPU's vPMU must have one to act on. */
static bool vpmu_any(Error **errp)
{
    CPUState *cs;

    CPU_FOREACH(cs) {
        if (vpmu_mgmt_cpu(cs)) {
            return true;
        }
    }
    error_setg(errp, VPMU_NONE);
    return false;
}

/*
 * The vCPUs a command acts on: @cpu_index's, or every one with a vPMU.
 * Checked before anything changes, so that an error changes nothing.
 * @need_lbr: the command names LBR, which the vCPU (or, for all vCPUs,
 * at least one) must have.
 */
static bool vpmu_for_each_target(bool has_cpu_index, int64_t cpu_index,
                                 bool need_lbr, run_on_cpu_func fn,
                                 run_on_cpu_data data, Error **errp)
{
    bool any_lbr = false;
    CPUState *cs;
    X86CPU *cpu;

    if (has_cpu_index) {
        cs = cpu_index >= 0 && cpu_index <= INT_MAX ?
             qemu_get_cpu(cpu_index) : NULL;
        if (!cs) {
            error_setg(errp, "vPMU: no vCPU with cpu-index %" PRId64,
                       cpu_index);
            return false;
        }
        cpu = vpmu_mgmt_cpu(cs);
        if (!cpu) {
            error_setg(errp, "vPMU: vCPU %" PRId64 " has no userspace vPMU "
                       "(it needs -cpu ...,pmu=on and -accel kvm with "
                       "vpmu=userspace)", cpu_index);
            return false;
        }
        if (need_lbr && cpu->vpmu->lbr.cfg.kind == VPMU_LBR_NONE) {
            error_setg(errp, "vPMU: vCPU %" PRId64 " has no LBR (it needs "
                       "-cpu ...,lbr=on)", cpu_index);
            return false;
        }
        run_on_cpu(cs, fn, data);
        return true;
    }
    if (!vpmu_any(errp)) {
        return false;
    }
    CPU_FOREACH(cs) {
        cpu = vpmu_mgmt_cpu(cs);
        any_lbr |= cpu && cpu->vpmu->lbr.cfg.kind != VPMU_LBR_NONE;
    }
    if (need_lbr && !any_lbr) {
        error_setg(errp, "vPMU: no vCPU has LBR (it needs -cpu ...,lbr=on)");
        return false;
    }
    CPU_FOREACH(cs) {
        if (vpmu_mgmt_cpu(cs)) {
            run_on_cpu(cs, fn, data);
        }
    }
    return true;
}

/* What a reclaim or restore acts on, as bits: 1 << VPMU_RESOURCE_*. */
static unsigned vpmu_resource_bits(bool has_resources,
                                   VpmuResourceList *resources)
{
    unsigned bits = 0;

    if (!has_resources) {
        return (1u << VPMU_RESOURCE_COUNTERS) | (1u << VPMU_RESOURCE_LBR);
    }
    for (; resources; resources = resources->next) {
        bits |= 1u << resources->value;
    }
    return bits;
}

/* On the vCPU thread: the resources of @data that change, reported. */
static void vpmu_reclaim_change(CPUState *cs, unsigned bits, bool reclaim)
{
    X86CPU *cpu = X86_CPU(cs);
    VPMUState *s = cpu->vpmu;
    VpmuResourceList *changed = NULL, **tail = &changed;

    if ((bits & (1u << VPMU_RESOURCE_COUNTERS)) &&
        s->reclaimed != reclaim) {
        vpmu_set_reclaimed(s, reclaim);
        QAPI_LIST_APPEND(tail, VPMU_RESOURCE_COUNTERS);
    }
    if ((bits & (1u << VPMU_RESOURCE_LBR)) &&
        s->lbr.cfg.kind != VPMU_LBR_NONE && s->lbr_reclaimed != reclaim) {
        /* The single-step engine looks before the next entry: it stops */
        vpmu_set_lbr_reclaimed(s, reclaim);
        QAPI_LIST_APPEND(tail, VPMU_RESOURCE_LBR);
    }
    if (!changed) {
        return;
    }
    if (reclaim) {
        qapi_event_send_vpmu_reclaimed(cs->cpu_index, changed);
    } else {
        qapi_event_send_vpmu_restored(cs->cpu_index, changed);
    }
    qapi_free_VpmuResourceList(changed);
}

static void vpmu_reclaim_work(CPUState *cs, run_on_cpu_data data)
{
    vpmu_reclaim_change(cs, data.host_int, true);
}

static void vpmu_restore_work(CPUState *cs, run_on_cpu_data data)
{
    vpmu_reclaim_change(cs, data.host_int, false);
}

void qmp_vpmu_reclaim(bool has_cpu_index, int64_t cpu_index,
                      bool has_resources, VpmuResourceList *resources,
                      Error **errp)
{
    unsigned bits = vpmu_resource_bits(has_resources, resources);

    vpmu_for_each_target(has_cpu_index, cpu_index,
                         has_resources && (bits & (1u << VPMU_RESOURCE_LBR)),
                         vpmu_reclaim_work, RUN_ON_CPU_HOST_INT(bits), errp);
}

void qmp_vpmu_restore(bool has_cpu_index, int64_t cpu_index,
                      bool has_resources, VpmuResourceList *resources,
                      Error **errp)
{
    unsigned bits = vpmu_resource_bits(has_resources, resources);

    vpmu_for_each_target(has_cpu_index, cpu_index,
                         has_resources && (bits & (1u << VPMU_RESOURCE_LBR)),
                         vpmu_restore_work, RUN_ON_CPU_HOST_INT(bits), errp);
}

static void vpmu_filter_work(CPUState *cs, run_on_cpu_data data)
{
    VPMUEventFilter f;

    vpmu_set_filter(X86_CPU(cs)->vpmu,
                    kvm_vpmu_vm_filter(&f) ? &f : NULL);
}

void qmp_vpmu_set_filter(VpmuFilter *filter, Error **errp)
{
    VPMUEventFilter f = {
        .deny = filter->action == VPMU_FILTER_ACTION_DENY,
        .fixed_bitmap = filter->has_fixed_counters ?
                        filter->fixed_counters : 0,
    };
    VpmuFilterEventList *e;
    unsigned n = 0;

    for (e = filter->events; e; e = e->next) {
        if (n < VPMU_FILTER_MAX_EVENTS) {
            /* Selects above 0xfff fail vpmu_filter_check(). */
            f.events[n] = vpmu_event_code_of(e->value->select,
                                             e->value->umask);
        }
        n++;
    }
    f.nevents = n;
    if (!vpmu_any(errp) || !vpmu_filter_check(&f, errp)) {
        return;
    }
    kvm_vpmu_set_vm_filter(&f);
    vpmu_for_each_target(false, 0, false, vpmu_filter_work, RUN_ON_CPU_NULL,
                         errp);
}

VpmuFilter *qmp_query_vpmu_filter(Error **errp)
{
    VpmuFilter *filter;
    VpmuFilterEventList **tail;
    VPMUEventFilter f;
    unsigned i;

    /* Without a vPMU there is no filter, not one that filters nothing. */
    if (!vpmu_any(errp)) {
        return NULL;
    }
    filter = g_new0(VpmuFilter, 1);
    tail = &filter->events;

    kvm_vpmu_vm_filter(&f);
    filter->has_events = true;      /* [] rather than absent */
    filter->action = f.deny ? VPMU_FILTER_ACTION_DENY
                            : VPMU_FILTER_ACTION_ALLOW;
    for (i = 0; i < f.nevents; i++) {
        VpmuFilterEvent *ev = g_new0(VpmuFilterEvent, 1);

        ev->select = vpmu_event_code_select(f.events[i]);
        ev->umask = vpmu_event_code_umask(f.events[i]);
        QAPI_LIST_APPEND(tail, ev);
    }
    filter->has_fixed_counters = true;
    filter->fixed_counters = f.fixed_bitmap;
    return filter;
}

void qmp_vpmu_set_migration_format(VpmuMigrationFormat format, Error **errp)
{
    if (!vpmu_any(errp)) {
        return;
    }
    vpmu_migration_set_format(format == VPMU_MIGRATION_FORMAT_KVM ?
                              VPMU_MIGRATION_KVM : VPMU_MIGRATION_QEMU_VPMU);
}
