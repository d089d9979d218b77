/*
 * qemu-vpmu: the host's event tables, from libpfm4, and event codes
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_EVENTS_H
#define HW_I386_VPMU_EVENTS_H

#include "hw/i386/vpmu.h"

/*
 * AMD's encodings of the generic events (Linux amd_perfmon_event_map,
 * kvm-unit-tests' amd_gp_events): CPU cycles not in halt, instructions,
 * branches and mispredicted branches retired.
 */
#define VPMU_AMD_EVENT_CYCLES           0x0076
#define VPMU_AMD_EVENT_INSTRUCTIONS     0x00c0
#define VPMU_AMD_EVENT_BRANCHES         0x00c2
#define VPMU_AMD_EVENT_BRANCH_MISSES    0x00c3

/*
 * An event as the event filter and the tables key it: event select bits
 * 7:0, the unit mask << 8 and select bits 11:8 << 16.  Intel's selects
 * have 8 bits, so Intel codes are (umask << 8 | select) as before; AMD's
 * have 12.  A @select beyond 0xfff leaves bits above 19 set, which no
 * event has (vpmu_filter_check() refuses them).
 */
#define VPMU_EVENT_CODE_MAX             0xfffff

static inline uint32_t vpmu_event_code_of(unsigned select, unsigned umask)
{
    return (select & 0xff) | (umask & 0xff) << 8 | (select >> 8) << 16;
}

static inline unsigned vpmu_event_code_select(uint32_t code)
{
    return (code & 0xff) | (code >> 16) << 8;
}

static inline unsigned vpmu_event_code_umask(uint32_t code)
{
    return (code >> 8) & 0xff;
}

/*
 * The code of a PERFEVTSELx value of @arch: an AMD PerfEvtSel holds
 * select bits 11:8 in bits 35:32; Intel's bits 35:32 are no select bits.
 */
static inline uint32_t vpmu_event_code(int arch, uint64_t eventsel)
{
    uint32_t code = eventsel & (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK);

    if (arch == VPMU_ARCH_AMD) {
        code |= (eventsel & VPMU_AMD_EVTSEL_EVENT_HI) >> 16;
    }
    return code;
}

/*
 * Load libpfm4's tables for guests of @arch (a VPMUArch): the host's core
 * PMU where it is of that vendor (LIBPFM_FORCE_PMU picks another CPU's,
 * for tests).  For AMD guests on other hosts, and on AMD hosts libpfm
 * does not know, the newest Zen tables libpfm has give names only.
 * Returns the PMU's libpfm name, or NULL when there are no tables.
 */
const char *vpmu_events_init(int arch);

typedef enum VPMUEventCheck {
    VPMU_EVENT_KNOWN,       /* in the host's tables */
    VPMU_EVENT_UNKNOWN,     /* the host's tables do not have it */
    VPMU_EVENT_NO_TABLES,   /* no tables for this host: cannot tell */
} VPMUEventCheck;

/*
 * Look up the event of a PERFEVTSELx value of @arch (its event select,
 * with bits 35:32 on AMD, and unit mask).  On KNOWN, *name (may be NULL)
 * gets "pmu::EVENT[:UMASK]" as perf users write it, owned by the tables.
 * Tables that are not the host's never say UNKNOWN, only NO_TABLES.
 */
VPMUEventCheck vpmu_event_lookup(int arch, uint64_t eventsel,
                                 const char **name);

#endif
