/*
 * qemu-vpmu: the event filter's command-line form
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Part of the model layer (no KVM, perf or libpfm), but kept out of
 * vpmu-core.c: parsing needs GLib, and the model builds without it for
 * the fuzzer.  What a filter does is vpmu_filter_allows(), in the core.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-events.h"

bool vpmu_filter_check(const VPMUEventFilter *f, Error **errp)
{
    uint32_t i;

    if (f->nevents > VPMU_FILTER_MAX_EVENTS) {
        error_setg(errp, "vPMU filter: %u events, at most %d", f->nevents,
                   VPMU_FILTER_MAX_EVENTS);
        return false;
    }
    for (i = 0; i < f->nevents; i++) {
        /* 12-bit selects (AMD's); an Intel PMU never matches one > 0xff */
        if (f->events[i] > VPMU_EVENT_CODE_MAX) {
            error_setg(errp, "vPMU filter: event select 0x%x is not a "
                       "valid event select (0..0xfff)",
                       vpmu_event_code_select(f->events[i]));
            return false;
        }
    }
    if (f->fixed_bitmap >> VPMU_MAX_FIXED) {
        error_setg(errp, "vPMU filter: fixed counter bitmap 0x%x names "
                   "counters beyond the %d fixed counters", f->fixed_bitmap,
                   VPMU_MAX_FIXED);
        return false;
    }
    return true;
}

static bool filter_number(const char *item, const char *what, uint64_t max,
                          uint64_t *val, Error **errp)
{
    char *end;

    /* Plain GLib, so that the model builds alone (unit tests, fuzzer). */
    errno = 0;
    *val = g_ascii_strtoull(item, &end, 0);
    if (errno || end == item || *end || item[0] == '-' || *val > max) {
        error_setg(errp, "vPMU filter: '%s' is not a valid %s (0..0x%"
                   PRIx64 ")", item, what, max);
        return false;
    }
    return true;
}

bool vpmu_filter_parse(const char *str, VPMUEventFilter *f, Error **errp)
{
    g_auto(GStrv) items = g_strsplit(str, ";", -1);
    uint64_t sel, umask, bitmap;
    unsigned i;

    memset(f, 0, sizeof(*f));
    if (!items[0] || (strcmp(items[0], "allow") &&
                      strcmp(items[0], "deny"))) {
        error_setg(errp, "vPMU filter: '%s' must start with 'allow' or "
                   "'deny', e.g. 'deny;0xc0:0x00;fixed=0x1'", str);
        return false;
    }
    f->deny = !strcmp(items[0], "deny");
    for (i = 1; items[i]; i++) {
        g_auto(GStrv) parts = NULL;

        if (g_str_has_prefix(items[i], "fixed=")) {
            if (!filter_number(items[i] + 6, "fixed counter bitmap",
                               UINT32_MAX, &bitmap, errp)) {
                return false;
            }
            f->fixed_bitmap = bitmap;
            continue;
        }
        if (f->nevents == VPMU_FILTER_MAX_EVENTS) {
            error_setg(errp, "vPMU filter: more than %d events",
                       VPMU_FILTER_MAX_EVENTS);
            return false;
        }
        parts = g_strsplit(items[i], ":", 2);
        umask = 0;
        if (!parts[0] ||
            !filter_number(parts[0], "event select", 0xfff, &sel, errp) ||
            (parts[1] &&
             !filter_number(parts[1], "unit mask", 0xff, &umask, errp))) {
            if (!parts[0]) {
                error_setg(errp, "vPMU filter: empty item in '%s'", str);
            }
            return false;
        }
        f->events[f->nevents++] = vpmu_event_code_of(sel, umask);
    }
    return vpmu_filter_check(f, errp);
}
