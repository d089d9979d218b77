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
 *
 * One table per guest PMU arch, keyed by vpmu_event_code(): Intel's from
 * the host's core PMU when it is not AMD's, AMD's from the host's when it
 * is, else from the newest Zen PMU libpfm has (names only, see
 * vpmu_event_lookup()).
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-events.h"

#include <perfmon/pfmlib.h>

typedef struct VPMUEventName {
    uint32_t code;          /* vpmu_event_code() */
    unsigned order;         /* libpfm's order: its first name wins */
    char *name;
} VPMUEventName;

typedef struct VPMUEventTable {
    bool loaded;
    /*
     * The host's own PMU: what it lacks, the host cannot count.  Else
     * (AMD's default) it only names events.
     */
    bool host;
    char *pmu;
    GArray *events;         /* VPMUEventName, sorted by code */
} VPMUEventTable;

static VPMUEventTable vpmu_event_tables[VPMU_ARCH_AMD + 1];

/*
 * Where the host's core PMU is not AMD's (or libpfm does not know this
 * AMD CPU), the AMD table is the first of these that libpfm has: the
 * newest, as the CPU libpfm does not know is likelier to be new than
 * old.  The events guests use most (0x76, 0xC0, 0xC2, 0xC3) are the same
 * in all of them.
 */
static const char *const vpmu_amd_default_pmus[] = {
    "amd64_fam1ah_zen5", "amd64_fam19h_zen4", "amd64_fam19h_zen3",
    "amd64_fam17h_zen2",
};

static gint vpmu_event_cmp(gconstpointer a, gconstpointer b)
{
    const VPMUEventName *x = a, *y = b;

    return x->code < y->code ? -1 : x->code > y->code;
}

static gint vpmu_event_sort_cmp(gconstpointer a, gconstpointer b)
{
    const VPMUEventName *x = a, *y = b;

    return vpmu_event_cmp(a, b) ? : (int)x->order - (int)y->order;
}

static void vpmu_event_add(VPMUEventTable *t, uint32_t code, const char *pmu,
                           const char *event, const char *umask)
{
    VPMUEventName e = {
        .code = code,
        .order = t->events->len,
        .name = umask ? g_strdup_printf("%s::%s:%s", pmu, event, umask)
                      : g_strdup_printf("%s::%s", pmu, event),
    };

    g_array_append_val(t->events, e);
}

/*
 * Every plain (event select, unit mask) pair of one event.  Intel tables
 * hold an 8-bit select in einfo.code, and where the event has no unit
 * mask attributes, maybe a unit mask in bits 15:8
 * (UNHALTED_REFERENCE_CYCLES: 0x0300).  AMD tables hold the 12-bit
 * select there (0x1C7, 0x28F) and unit masks only as attributes.
 */
static void vpmu_event_load(VPMUEventTable *t, int arch, int idx,
                            const char *pmu)
{
    pfm_event_info_t einfo = { .size = sizeof(einfo) };
    bool have_umask = false;
    uint64_t max = arch == VPMU_ARCH_AMD ? 0xfff : 0xffff;
    unsigned select;
    int a;

    if (pfm_get_event_info(idx, PFM_OS_NONE, &einfo) != PFM_SUCCESS ||
        einfo.code > max) {
        return;
    }
    select = arch == VPMU_ARCH_AMD ? einfo.code : einfo.code & 0xff;
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
            vpmu_event_add(t, vpmu_event_code_of(select, ainfo.code), pmu,
                           einfo.name, ainfo.name);
        }
    }
    if (!have_umask) {
        vpmu_event_add(t, arch == VPMU_ARCH_AMD ?
                       vpmu_event_code_of(select, 0) : einfo.code,
                       pmu, einfo.name, NULL);
    }
}

static bool vpmu_pmu_is_amd(const pfm_pmu_info_t *pinfo)
{
    return g_str_has_prefix(pinfo->name, "amd64_");
}

/* The PMU, present or not, that @arch's table is read from; or -1. */
static int vpmu_events_pmu(int arch, bool *host)
{
    pfm_pmu_info_t pinfo;
    int pmu, fallback = -1;
    unsigned i, best = ARRAY_SIZE(vpmu_amd_default_pmus);

    for (pmu = PFM_PMU_NONE; pmu < PFM_PMU_MAX; pmu++) {
        memset(&pinfo, 0, sizeof(pinfo));
        pinfo.size = sizeof(pinfo);
        if (pfm_get_pmu_info(pmu, &pinfo) != PFM_SUCCESS ||
            pinfo.type != PFM_PMU_TYPE_CORE) {
            continue;
        }
        if (pinfo.is_present) {
            if (vpmu_pmu_is_amd(&pinfo) == (arch == VPMU_ARCH_AMD)) {
                *host = true;
                return pmu;
            }
            /* Intel's tables never come from another host's PMU. */
            if (arch != VPMU_ARCH_AMD) {
                return -1;
            }
        }
        for (i = 0; arch == VPMU_ARCH_AMD && i < best; i++) {
            if (!strcmp(pinfo.name, vpmu_amd_default_pmus[i])) {
                best = i;
                fallback = pmu;
            }
        }
    }
    *host = false;
    return fallback;
}

const char *vpmu_events_init(int arch)
{
    VPMUEventTable *t;
    pfm_pmu_info_t pinfo = { .size = sizeof(pinfo) };
    int pmu, idx;

    assert(arch == VPMU_ARCH_INTEL || arch == VPMU_ARCH_AMD);
    t = &vpmu_event_tables[arch];
    if (t->loaded) {
        return t->pmu;
    }
    t->loaded = true;
    if (pfm_initialize() != PFM_SUCCESS) {
        return NULL;
    }
    pmu = vpmu_events_pmu(arch, &t->host);
    if (pmu < 0 || pfm_get_pmu_info(pmu, &pinfo) != PFM_SUCCESS) {
        return NULL;
    }
    t->pmu = g_strdup(pinfo.name);
    t->events = g_array_new(false, false, sizeof(VPMUEventName));
    for (idx = pinfo.first_event; idx != -1; idx = pfm_get_event_next(idx)) {
        vpmu_event_load(t, arch, idx, pinfo.name);
    }
    /* Several names for one pair: libpfm's first (architectural) wins. */
    g_array_sort(t->events, vpmu_event_sort_cmp);
    return t->pmu;
}

VPMUEventCheck vpmu_event_lookup(int arch, uint64_t eventsel,
                                 const char **name)
{
    VPMUEventName key = {
        .code = vpmu_event_code(arch, eventsel),
    };
    VPMUEventTable *t;
    guint lo, hi;

    if (!vpmu_events_init(arch)) {
        return VPMU_EVENT_NO_TABLES;
    }
    t = &vpmu_event_tables[arch];
    /* Lower bound, so that several names of one pair give the first. */
    lo = 0;
    hi = t->events->len;
    while (lo < hi) {
        guint mid = (lo + hi) / 2;

        if (vpmu_event_cmp(&g_array_index(t->events, VPMUEventName, mid),
                           &key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == t->events->len ||
        g_array_index(t->events, VPMUEventName, lo).code != key.code) {
        /* Another CPU's tables cannot tell what this host lacks. */
        return t->host ? VPMU_EVENT_UNKNOWN : VPMU_EVENT_NO_TABLES;
    }
    if (name) {
        *name = g_array_index(t->events, VPMUEventName, lo).name;
    }
    return VPMU_EVENT_KNOWN;
}
