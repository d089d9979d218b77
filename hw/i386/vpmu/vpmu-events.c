/*
 * qemu-vpmu: the host's event tables, from libpfm4
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * In hardware mode a guest's event becomes a raw host event, so it must be
 * one the host has: libpfm4's tables say which, and give it the name perf
 * users know (for tracing and query-vpmu).  The tables are read once into
 * a sorted array, so a lookup on the (rare) event-change path is a binary
 * search, with no libpfm call.
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-events.h"

#include <perfmon/pfmlib.h>

typedef struct VPMUEventName {
    uint16_t code;          /* unit mask << 8 | event select */
    unsigned order;         /* libpfm's order: its first name wins */
    char *name;
} VPMUEventName;

static GArray *vpmu_event_table;    /* VPMUEventName, sorted by code */
static char *vpmu_event_pmu;
static bool vpmu_events_loaded;

static gint vpmu_event_cmp(gconstpointer a, gconstpointer b)
{
    const VPMUEventName *x = a, *y = b;

    return (int)x->code - (int)y->code;
}

static gint vpmu_event_sort_cmp(gconstpointer a, gconstpointer b)
{
    const VPMUEventName *x = a, *y = b;

    return vpmu_event_cmp(a, b) ? : (int)x->order - (int)y->order;
}

static void vpmu_event_add(uint16_t code, const char *pmu, const char *event,
                           const char *umask)
{
    VPMUEventName e = {
        .code = code,
        .order = vpmu_event_table->len,
        .name = umask ? g_strdup_printf("%s::%s:%s", pmu, event, umask)
                      : g_strdup_printf("%s::%s", pmu, event),
    };

    g_array_append_val(vpmu_event_table, e);
}

/* Every plain (event select, unit mask) pair of one event. */
static void vpmu_event_load(int idx, const char *pmu)
{
    pfm_event_info_t einfo = { .size = sizeof(einfo) };
    bool have_umask = false;
    int a;

    if (pfm_get_event_info(idx, PFM_OS_NONE, &einfo) != PFM_SUCCESS ||
        einfo.code > 0xffff) {
        return;
    }
    for (a = 0; a < einfo.nattrs; a++) {
        pfm_event_attr_info_t ainfo = { .size = sizeof(ainfo) };

        if (pfm_get_event_attr_info(idx, a, PFM_OS_NONE, &ainfo) !=
            PFM_SUCCESS || ainfo.type != PFM_ATTR_UMASK) {
            continue;
        }
        have_umask = true;
        /*
         * Unit masks whose code carries more than the mask (AnyThread,
         * edge, cmask: e.g. skl::INST_RETIRED:TOTAL_CYCLES) are spelled
         * with other PERFEVTSEL bits too; only plain ones name a pair.
         */
        if (ainfo.code <= 0xff) {
            vpmu_event_add((einfo.code & 0xff) | ainfo.code << 8, pmu,
                           einfo.name, ainfo.name);
        }
    }
    if (!have_umask) {
        /* The code may hold a unit mask already (UNHALTED_REFERENCE...). */
        vpmu_event_add(einfo.code, pmu, einfo.name, NULL);
    }
}

const char *vpmu_events_init(void)
{
    pfm_pmu_info_t pinfo;
    int pmu, idx;

    if (vpmu_events_loaded) {
        return vpmu_event_pmu;
    }
    vpmu_events_loaded = true;
    if (pfm_initialize() != PFM_SUCCESS) {
        return NULL;
    }
    for (pmu = PFM_PMU_NONE; pmu < PFM_PMU_MAX; pmu++) {
        memset(&pinfo, 0, sizeof(pinfo));
        pinfo.size = sizeof(pinfo);
        if (pfm_get_pmu_info(pmu, &pinfo) == PFM_SUCCESS &&
            pinfo.is_present && pinfo.type == PFM_PMU_TYPE_CORE) {
            break;
        }
    }
    if (pmu == PFM_PMU_MAX) {
        return NULL;
    }
    vpmu_event_pmu = g_strdup(pinfo.name);
    vpmu_event_table = g_array_new(false, false, sizeof(VPMUEventName));
    for (idx = pinfo.first_event; idx != -1; idx = pfm_get_event_next(idx)) {
        vpmu_event_load(idx, pinfo.name);
    }
    /* Several names for one pair: libpfm's first (architectural) wins. */
    g_array_sort(vpmu_event_table, vpmu_event_sort_cmp);
    return vpmu_event_pmu;
}

VPMUEventCheck vpmu_event_lookup(uint64_t eventsel, const char **name)
{
    VPMUEventName key = {
        .code = eventsel & (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK),
    };
    guint lo, hi;

    if (!vpmu_events_init()) {
        return VPMU_EVENT_NO_TABLES;
    }
    /* Lower bound, so that several names of one pair give the first. */
    lo = 0;
    hi = vpmu_event_table->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;

        if (vpmu_event_cmp(&g_array_index(vpmu_event_table, VPMUEventName,
                                          mid), &key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == vpmu_event_table->len ||
        g_array_index(vpmu_event_table, VPMUEventName, lo).code != key.code) {
        return VPMU_EVENT_UNKNOWN;
    }
    if (name) {
        *name = g_array_index(vpmu_event_table, VPMUEventName, lo).name;
    }
    return VPMU_EVENT_KNOWN;
}
