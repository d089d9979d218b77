/*
 * qemu-vpmu: HMP 'info vpmu', a readable view of query-vpmu
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vpmu.h"
#include "monitor/hmp.h"
#include "monitor/hmp-target.h"
#include "monitor/monitor.h"

void hmp_info_vpmu(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(VpmuInfoList) list = qmp_query_vpmu(&err);
    VpmuInfoList *l;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!list) {
        monitor_printf(mon, "No vCPU has a userspace vPMU (it needs -cpu "
                       "...,pmu=on with -accel kvm,vpmu=userspace)\n");
        return;
    }
    for (l = list; l; l = l->next) {
        VpmuInfo *info = l->value;
        VpmuStats *st = info->stats;
        VpmuCounterInfoList *c;

        monitor_printf(mon, "CPU %" PRId64 ": %s PMU version %" PRId64
                       "%s, %s backend, %" PRId64 " host event(s) open%s\n",
                       info->cpu_index,
                       info->arch == VPMU_PMU_ARCH_AMD ? "AMD" : "Intel",
                       info->version,
                       info->has_perfctr_core && info->perfctr_core ?
                       " (core extension)" : "",
                       VpmuBackendMode_str(info->backend), info->open_events,
                       info->reclaimed ? ", RECLAIMED by the host" : "");
        monitor_printf(mon, "  %-7s %-3s %-10s %-28s %-11s %20s %10s\n",
                       "counter", "on", "config", "event", "host", "count",
                       "lost ms");
        for (c = info->counters; c; c = c->next) {
            VpmuCounterInfo *ci = c->value;
            g_autofree char *name = g_strdup_printf("%s%" PRId64,
                VpmuCounterKind_str(ci->kind), ci->index);

            monitor_printf(mon, "  %-7s %-3s 0x%-8" PRIx64 " %-28s %-11s "
                           "%20" PRIu64 " %10" PRIu64 "\n", name,
                           ci->enabled ? "yes" : "no", ci->config,
                           ci->event ? ci->event : "-",
                           ci->exact ? "exact" :
                           VpmuHostState_str(ci->host_state), ci->count,
                           ci->time_lost_ns / 1000000);
            if (ci->host_error) {
                monitor_printf(mon, "          %s\n", ci->host_error);
            }
        }
        monitor_printf(mon, "  MSR exits %" PRIu64 ", fast-path toggles %"
                       PRIu64 ", event changes %" PRIu64 ", overflows %"
                       PRIu64 ", PMIs %" PRIu64 "\n", st->msr_exits,
                       st->fast_path_toggles, st->event_changes,
                       st->overflows, st->pmis);
        monitor_printf(mon, "  perf: %" PRIu64 " opens (%" PRIu64
                       " failed), %" PRIu64 " closes, %" PRIu64
                       " lazy releases, %" PRIu64 " ioctls, %" PRIu64
                       " reads, %" PRIu64 " overflow signals\n",
                       st->perf_opens, st->perf_open_failures,
                       st->perf_closes, st->lazy_releases, st->perf_ioctls,
                       st->perf_reads, st->overflow_signals);
        if (info->exact) {
            VpmuExactInfo *ex = info->exact;

            monitor_printf(mon, "  exact: %s, %" PRIu64 " steps, %" PRIu64
                           " retired, %" PRIu64 " REP iterations, %" PRIu64
                           " events, %" PRIu64 " unexplained, %" PRIu64
                           " ms stepping\n",
                           ex->stepping ? "stepping" : "not stepping",
                           ex->steps, ex->retired, ex->rep_iterations,
                           ex->events, ex->unexplained,
                           ex->step_ns / 1000000);
        }
        if (info->lbr) {
            VpmuLbrInfo *lbr = info->lbr;

            monitor_printf(mon, "  LBR: %s, format 0x%" PRIx64 ", depth %"
                           PRId64 ", %s backend, guest %s%s, host %s, %"
                           PRId64 " records, %" PRIu64 " recorded, %" PRIu64
                           " filtered, %" PRIu64 " call-stack pops\n",
                           VpmuLbrKind_str(lbr->kind), lbr->format,
                           lbr->depth, VpmuLbrBackend_str(lbr->backend),
                           lbr->enabled ? "on" : "off",
                           lbr->frozen ? " (frozen)" : "",
                           VpmuLbrHostState_str(lbr->host_state),
                           lbr->records, lbr->branches_recorded,
                           lbr->branches_filtered, lbr->call_stack_pops);
        }
    }
}
