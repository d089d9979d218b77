/*
 * qemu-vpmu: the host's event tables, from libpfm4
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_EVENTS_H
#define HW_I386_VPMU_EVENTS_H

/*
 * Load libpfm4's tables for the host's core PMU (LIBPFM_FORCE_PMU picks
 * another CPU's, for tests).  Returns the PMU's libpfm name, or NULL when
 * libpfm knows no core PMU here.
 */
const char *vpmu_events_init(void);

typedef enum VPMUEventCheck {
    VPMU_EVENT_KNOWN,       /* in the host's tables */
    VPMU_EVENT_UNKNOWN,     /* the host's tables do not have it */
    VPMU_EVENT_NO_TABLES,   /* no tables for this host: cannot tell */
} VPMUEventCheck;

/*
 * Look up the event select and unit mask of an IA32_PERFEVTSELx value.
 * On KNOWN, *name (may be NULL) gets "pmu::EVENT[:UMASK]" as perf users
 * write it, owned by the tables.
 */
VPMUEventCheck vpmu_event_lookup(uint64_t eventsel, const char **name);

#endif
