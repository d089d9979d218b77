/*
 * qemu-vpmu: register model of the Intel architectural PMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * This is the bottom layer of the userspace vPMU.  It decides what every
 * guest (or host-initiated) access to a PMU MSR means, following the Intel
 * SDM vol. 3B ("Performance Monitoring"), and tells a host backend through
 * VPMUBackendOps what it must count.  It knows nothing of KVM, perf or
 * libpfm, so it can be unit-tested with a fake backend.
 */
#ifndef HW_I386_VPMU_H
#define HW_I386_VPMU_H

#include "hw/i386/vpmu-lbr.h"

/* Architectural PMU MSRs (SDM vol. 4, "Architectural MSRs"). */
#define VPMU_MSR_PMC0                   0xc1
#define VPMU_MSR_DEBUGCTL               0x1d9
#define VPMU_MSR_PERFEVTSEL0            0x186
#define VPMU_MSR_FIXED_CTR0             0x309
#define VPMU_MSR_PERF_CAPABILITIES      0x345
#define VPMU_MSR_FIXED_CTR_CTRL         0x38d
#define VPMU_MSR_PERF_GLOBAL_STATUS     0x38e
#define VPMU_MSR_PERF_GLOBAL_CTRL       0x38f
#define VPMU_MSR_PERF_GLOBAL_OVF_CTRL   0x390
#define VPMU_MSR_PERF_GLOBAL_STATUS_SET 0x391
#define VPMU_MSR_PERF_GLOBAL_INUSE      0x392
#define VPMU_MSR_A_PMC0                 0x4c1

/* LBR MSRs (SDM vol. 4): legacy formats, then architectural LBR. */
#define VPMU_MSR_LBR_SELECT             0x1c8
#define VPMU_MSR_LBR_TOS                0x1c9
#define VPMU_MSR_LBR_CORE_FROM          0x40
#define VPMU_MSR_LBR_CORE_TO            0x60
#define VPMU_MSR_LBR_FROM               0x680
#define VPMU_MSR_LBR_TO                 0x6c0
#define VPMU_MSR_LBR_INFO               0xdc0
#define VPMU_MSR_ARCH_LBR_CTL           0x14ce
#define VPMU_MSR_ARCH_LBR_DEPTH         0x14cf
#define VPMU_MSR_ARCH_LBR_INFO          0x1200
#define VPMU_MSR_ARCH_LBR_FROM          0x1500
#define VPMU_MSR_ARCH_LBR_TO            0x1600

/* IA32_PERFEVTSELx fields. */
#define VPMU_EVTSEL_EVENT               0x000000ffULL
#define VPMU_EVTSEL_UMASK               0x0000ff00ULL
#define VPMU_EVTSEL_USR                 (1ULL << 16)
#define VPMU_EVTSEL_OS                  (1ULL << 17)
#define VPMU_EVTSEL_EDGE                (1ULL << 18)
#define VPMU_EVTSEL_PC                  (1ULL << 19)
#define VPMU_EVTSEL_INT                 (1ULL << 20)
#define VPMU_EVTSEL_ANY                 (1ULL << 21)
#define VPMU_EVTSEL_EN                  (1ULL << 22)
#define VPMU_EVTSEL_INV                 (1ULL << 23)
#define VPMU_EVTSEL_CMASK               0xff000000ULL

/* One 4-bit field per fixed counter in IA32_FIXED_CTR_CTRL. */
#define VPMU_FIXED_CTRL_OS              0x1
#define VPMU_FIXED_CTRL_USR             0x2
#define VPMU_FIXED_CTRL_ANY             0x4
#define VPMU_FIXED_CTRL_PMI             0x8

/* IA32_PERF_GLOBAL_STATUS / OVF_CTRL bits beside the counter bits. */
#define VPMU_GLOBAL_LBR_FRZ             (1ULL << 58)    /* version 4 */
#define VPMU_GLOBAL_CTR_FRZ             (1ULL << 59)    /* version 4 */
#define VPMU_GLOBAL_OVF_BUF             (1ULL << 62)
#define VPMU_GLOBAL_COND_CHGD           (1ULL << 63)

/* IA32_PERF_GLOBAL_INUSE (version 4): bit 63 says some PMI is enabled. */
#define VPMU_INUSE_PMI                  (1ULL << 63)

/* IA32_PERF_CAPABILITIES bits the model implements. */
#define VPMU_PERF_CAP_LBR_FMT           0x3fULL     /* with LBR only */
#define VPMU_PERF_CAP_FW_WRITE          (1ULL << 13)
#define VPMU_PERF_CAP_SUPPORTED         VPMU_PERF_CAP_FW_WRITE

/*
 * The bits of IA32_DEBUGCTL that belong to the PMU.  The model owns only
 * these; the rest of DEBUGCTL stays KVM's (see the KVM glue).
 */
#define VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI    (1ULL << 11)
#define VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI (1ULL << 12)
#define VPMU_DEBUGCTL_PMU_BITS  (VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI | \
                                 VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI)
/* DEBUGCTL bits no Intel CPU defines (SDM vol. 4): 63:16 and 5:3. */
#define VPMU_DEBUGCTL_RESERVED  (~0xffffULL | 0x38ULL)

/* CPUID.0AH:EDX[15]: AnyThread is deprecated (we set it for version 5). */
#define VPMU_CPUID_EDX_ANYTHREAD_DEPRECATED (1u << 15)

/* What the model implements. */
#define VPMU_MIN_VERSION                2
#define VPMU_MAX_VERSION                5
#define VPMU_MIN_WIDTH                  32
#define VPMU_MAX_WIDTH                  63
#define VPMU_DEFAULT_WIDTH              48

/* Counter slots: GP counters first, then fixed counters. */
#define VPMU_MAX_GP                     8
#define VPMU_MAX_FIXED                  4
#define VPMU_MAX_COUNTERS               (VPMU_MAX_GP + VPMU_MAX_FIXED)
#define VPMU_FIXED_BASE_BIT             32   /* GLOBAL_CTRL bit of fixed 0 */

/*
 * AMD PMU MSRs (AMD APM vol. 2; Linux msr-index.h): K7 legacy, the core
 * extension (CTL and CTR interleaved, counters 0-3 aliasing the K7 ones)
 * and PerfMonV2's global registers.
 */
#define VPMU_MSR_K7_EVNTSEL0            0xc0010000
#define VPMU_MSR_K7_PERFCTR0            0xc0010004
#define VPMU_MSR_F15H_PERF_CTL0         0xc0010200  /* CTR i: CTL i + 1 */
#define VPMU_MSR_AMD_GLOBAL_STATUS      0xc0000300
#define VPMU_MSR_AMD_GLOBAL_CTL         0xc0000301
#define VPMU_MSR_AMD_GLOBAL_STATUS_CLR  0xc0000302
#define VPMU_MSR_AMD_GLOBAL_STATUS_SET  0xc0000303
#define VPMU_AMD_K7_COUNTERS            4
#define VPMU_AMD_MAX_COUNTERS           6   /* KVM_MAX_NR_AMD_GP_COUNTERS */
#define VPMU_AMD_WIDTH                  48
/* AMD PerfEvtSel: EventSelect[11:8] lives in bits 35:32 */
#define VPMU_AMD_EVTSEL_EVENT_HI        0x0000000f00000000ULL
/*
 * AMD PerfEvtSel bits 40 (Guest-Only) and 41 (Host-Only).  KVM's AMD vPMU
 * treats them as reserved (they read as zero), and so does the model.
 */
#define VPMU_AMD_EVTSEL_GUESTONLY       (1ULL << 40)
#define VPMU_AMD_EVTSEL_HOSTONLY        (1ULL << 41)

/* Architectural event encodings that the fixed counters count. */
#define VPMU_EVENT_INST_RETIRED         0x00c0
#define VPMU_EVENT_CORE_CYCLES          0x003c
#define VPMU_EVENT_REF_CYCLES           0x013c
/* Linux's pseudo-encodings for fixed counters 2 and 3. */
#define VPMU_EVENT_FIXED_REF_CYCLES     0x0300
#define VPMU_EVENT_TOPDOWN_SLOTS        0x0400

/* Whose PMU the guest has: its MSRs, CPUID leaves and PMI rules. */
typedef enum VPMUArch {
    VPMU_ARCH_INTEL,        /* architectural PMU, CPUID leaf 0xA */
    VPMU_ARCH_AMD,          /* K7, core extension, PerfMonV2 */
} VPMUArch;

/*
 * What the guest is told it has.  Fields are plain ints so that a
 * configuration from the command line can be checked before it is used.
 */
typedef struct VPMUConfig {
    /*
     * Intel: CPUID.0AH:EAX[7:0].  AMD: 1 without PerfMonV2 (CPUID
     * 0x80000022 EAX[0]), 2 with it.
     */
    int version;
    int nr_gp;                  /* general-purpose counters */
    int nr_fixed;               /* fixed-function counters */
    int gp_width;               /* bits in a GP counter */
    int fixed_width;            /* bits in a fixed counter */
    /* IA32_PERF_CAPABILITIES; bits 5:0 are the LBR format (lbr.format) */
    uint64_t perf_capabilities;
    VPMULbrConfig lbr;          /* kind VPMU_LBR_NONE: no LBR */
    /*
     * VPMUArch.  Last, with the AMD field, so that the fields before keep
     * their places (0, Intel, where an initializer stops before it).
     */
    int arch;
    /*
     * AMD: the core extension (CPUID 0x80000001 ECX[23] PERFCTR_CORE),
     * 6 counters at 0xC0010200; without it 4 K7 counters.  AMD has
     * nr_fixed 0, widths 48, perf_capabilities 0 and no LBR.
     */
    bool amd_perfctr_core;
} VPMUConfig;

/*
 * What the host must count for one counter.  Only the fields that select
 * and qualify the event are here: the enable bits travel separately, so
 * that toggling them never looks like a new event to the backend.
 */
typedef struct VPMUHostEvent {
    uint8_t arch;           /* VPMUArch: how @eventsel reads */
    bool fixed;             /* a fixed-function counter */
    uint8_t index;          /* GP or fixed counter number */
    /*
     * IA32_PERFEVTSELx layout without EN, INT and AnyThread (which never
     * reaches the host: see slot_host_event()).  For a fixed counter it
     * holds the architectural event the counter counts, with USR and OS
     * taken from its IA32_FIXED_CTR_CTRL field.  AMD: PerfEvtSel without
     * EN, INT and the reserved bits (19, 21, 36-63 but 35:32, the select's
     * high nibble; Host-Only/Guest-Only never reach the host).
     */
    uint64_t eventsel;
} VPMUHostEvent;

/*
 * The host side of the vPMU.  Slots are 0..7 for GP counters and 8..11 for
 * fixed counters.  Counts are raw event counts since program(); the model
 * keeps the guest-visible value, width and overflow.
 */
typedef struct VPMUBackendOps {
    /*
     * Start counting @ev in @slot from zero, stopped.  Replaces any earlier
     * event of the slot (the backend may keep its host event, even
     * running, when the host counts the same thing: set_enabled(true)
     * follows at once).  Returns false when the host cannot count it: the
     * counter then reads as frozen.  The host signals an overflow after
     * @period events (see set_period).
     */
    bool (*program)(void *opaque, unsigned slot, const VPMUHostEvent *ev,
                    uint64_t period);
    /*
     * Signal the vCPU after @period more events: the counter's distance to
     * its overflow.  The model then calls vpmu_poll() and re-arms.
     */
    void (*set_period)(void *opaque, unsigned slot, uint64_t period);
    /* Start or stop a programmed slot; keeps its count. */
    void (*set_enabled)(void *opaque, unsigned slot, bool enabled);
    /*
     * Optional: start the slots in @start and stop those in @stop (bit n
     * is slot n) at once, as one host call where possible.
     */
    void (*set_enabled_batch)(void *opaque, uint64_t start, uint64_t stop);
    /* Count since program(); 0 for a slot with no event. */
    uint64_t (*read)(void *opaque, unsigned slot);
    /* Drop the slot's event; its count is gone. */
    void (*release)(void *opaque, unsigned slot);
} VPMUBackendOps;

/*
 * The host's say over which guest events may count, like KVM's
 * KVM_SET_PMU_EVENT_FILTER: an allow or deny list of (event select, umask)
 * pairs for the GP counters and a bitmap for the fixed counters.  A
 * counter the filter refuses counts nothing (it reads as frozen).
 * Selects have 12 bits (AMD's); an Intel PMU's event never matches one
 * above 0xff, and an AMD PMU has no fixed counters.
 */
#define VPMU_FILTER_MAX_EVENTS          64

typedef struct VPMUEventFilter {
    bool deny;                  /* a deny list, else an allow list */
    uint32_t nevents;
    /* select[7:0] | umask << 8 | select[11:8] << 16 */
    uint32_t events[VPMU_FILTER_MAX_EVENTS];
    uint32_t fixed_bitmap;      /* bit n: fixed counter n is listed */
} VPMUEventFilter;

/* Why the host keeps a counter from counting, whatever the guest asked. */
typedef enum VPMUHostBlock {
    VPMU_HOST_ALLOWED,
    VPMU_HOST_FILTERED,         /* the event filter refuses its event */
    VPMU_HOST_RECLAIMED,        /* the host took the PMU back */
} VPMUHostBlock;

/* What the model asked of the backend, for query-vpmu. */
typedef struct VPMUModelStats {
    uint64_t programs;          /* new host events (event changes) */
    uint64_t toggles;           /* enable changes on existing events */
    uint64_t overflows;         /* counters that wrapped */
} VPMUModelStats;

/* Per-counter state. */
typedef struct VPMUCounter {
    /* Serialized: the guest-visible count at host count @host_base. */
    uint64_t value;
    /* Serialized (GP only): IA32_PERFEVTSELx as the guest wrote it. */
    uint64_t eventsel;

    /* Derived: rebuilt from the serialized state by the backend. */
    bool programmed;        /* the backend holds @host_event */
    bool running;           /* the backend was told to count */
    bool unfolded;          /* counted since the last slot fold */
    VPMUHostEvent host_event;
    uint64_t host_base;     /* backend count that @value corresponds to */
} VPMUCounter;

typedef struct VPMUState {
    VPMUConfig cfg;

    /* Derived from @cfg by vpmu_state_init(): masks, as in KVM's refresh. */
    uint64_t gp_mask;               /* value bits of a GP counter */
    /*
     * The GLOBAL_STATUS bits an overflow sets: counters_mask, or none on
     * an AMD PMU without PerfMonV2, which has no status register.
     */
    uint64_t overflow_status;
    uint64_t fixed_mask;            /* value bits of a fixed counter */
    uint64_t counters_mask;         /* GLOBAL_CTRL bits of present counters */
    uint64_t evtsel_rsvd;
    uint64_t fixed_ctrl_rsvd;
    uint64_t global_status_rsvd;    /* for GLOBAL_STATUS and OVF_CTRL */
    uint64_t global_status_set_rsvd;

    /* Serialized: the guest's global registers. */
    uint64_t global_ctrl;
    uint64_t global_status;
    uint64_t fixed_ctr_ctrl;
    /* The model's bits only: freeze on PMI, and LBR with legacy LBR */
    uint64_t debugctl;
    VPMUCounter counters[VPMU_MAX_COUNTERS];
    /* Serialized (in its own subsection): LBR registers and records. */
    VPMULbrState lbr;
    /* Serialized: an overflow asked for a PMI that is not delivered yet. */
    bool pmi_pending;

    /* Derived: GLOBAL_CTRL-layout bits of counters awaiting vpmu_sync(). */
    uint64_t dirty;

    /*
     * Host policy, not serialized: a migration destination applies its
     * own.  Neither changes a register the guest can read.
     */
    bool reclaimed;
    bool lbr_reclaimed;         /* LBR taken back: the records freeze */
    bool lbr_lost;              /* the LBR backend cannot record now */
    bool has_filter;
    VPMUEventFilter filter;

    /* Derived: statistics since vpmu_state_init(). */
    VPMUModelStats stats;

    /*
     * Derived: the register decoder that vpmu_state_init() chose (see
     * hw/i386/vpmu/vpmu-internal.h).
     */
    const struct VPMUArchOps *arch;
    const VPMUBackendOps *ops;
    void *opaque;
} VPMUState;

/*
 * Defaults for a host that reports no PMU: Intel v2, 4 GP, 3 fixed, 48
 * bits.  Like vpmu_config_amd() and vpmu_config_from_host(), it sets
 * every field of @cfg.
 */
void vpmu_config_default(VPMUConfig *cfg);
/*
 * An AMD PMU: PerfMonV2 (@perfmon_v2, which needs @perfctr_core) with
 * @nr_gp counters (1..6), else 6 core-extension or 4 K7 counters.
 * @nr_gp <= 0 means the flavour's count (6 with PerfMonV2); another is
 * kept as given, so that vpmu_config_check() can refuse it by name.
 * Checked by vpmu_config_check() like any other.
 */
void vpmu_config_amd(VPMUConfig *cfg, bool perfctr_core, bool perfmon_v2,
                     int nr_gp);
/*
 * Defaults that follow a host's CPUID leaf 0xA, capped at what the model
 * implements; vpmu_config_default() where the host reports no PMU.
 */
void vpmu_config_from_host(VPMUConfig *cfg, uint32_t eax, uint32_t edx);
/*
 * Check a configuration against what the model implements.  Errors name
 * the -cpu property that sets the field, e.g. "pmu-gp-counters".
 */
bool vpmu_config_check(const VPMUConfig *cfg, Error **errp);

/* Set up @s for @cfg (already checked) and put it in its reset state. */
void vpmu_state_init(VPMUState *s, const VPMUConfig *cfg,
                     const VPMUBackendOps *ops, void *opaque);
/* SDM power-up/INIT values; releases every host event. */
void vpmu_reset(VPMUState *s);
/* Release every host event, for teardown. */
void vpmu_release_all(VPMUState *s);

/* A block of consecutive MSRs that the model decodes. */
typedef struct VPMUMsrRange {
    uint32_t base;
    uint32_t nmsrs;
} VPMUMsrRange;

/*
 * Every MSR the model decodes, whatever the configuration, terminated by
 * { 0, 0 }.  Accesses to MSRs of absent counters must reach the model too,
 * so that they #GP as the SDM says instead of reaching KVM's own PMU.
 */
extern const VPMUMsrRange *const vpmu_msr_ranges;
/* The same for @cfg's arch (vpmu_msr_ranges is Intel's). */
const VPMUMsrRange *vpmu_msr_ranges_of(const VPMUConfig *cfg);

/*
 * Access an MSR as the guest (@host false) or as the host (@host true,
 * e.g. migration).  Return false where the SDM says #GP.
 */
bool vpmu_msr_read(VPMUState *s, uint32_t msr, uint64_t *val, bool host);
bool vpmu_msr_write(VPMUState *s, uint32_t msr, uint64_t val, bool host);
/* Bring the backend in line with the registers; call before re-entry. */
void vpmu_sync(VPMUState *s);
/*
 * Fold what every counter counted since the last look, so that overflow
 * status and PMI requests are current (after the backend's overflow
 * signal, and before GLOBAL_STATUS is read).  Returns GLOBAL_STATUS.
 */
uint64_t vpmu_poll(VPMUState *s);
/*
 * The PMI that @pmi_pending asked for went to the local APIC (delivered,
 * or dropped by a masked LVTPC): apply DEBUGCTL's freeze-on-PMI, which
 * the SDM ("Freezing ... on PMI") ties to the PMI request, not to its
 * delivery.
 */
void vpmu_pmi_delivered(VPMUState *s);

/*
 * LBR (hw/i386/vpmu-lbr.c holds the records; the PMU owns DEBUGCTL and
 * GLOBAL_STATUS.LBR_FRZ).  Whether the guest's LBR records now: on
 * (DEBUGCTL.LBR, or IA32_LBR_CTL.LBREn), not frozen by a PMI, not
 * reclaimed by the host.
 */
bool vpmu_lbr_recording(const VPMUState *s);
/* The guest asks to record (DEBUGCTL.LBR, or IA32_LBR_CTL.LBREn). */
bool vpmu_lbr_enabled(const VPMUState *s);
/* A PMI froze the records (GLOBAL_STATUS.LBR_FRZ). */
bool vpmu_lbr_frozen(const VPMUState *s);
/* A branch, interrupt or exception retired: recorded if LBR records. */
void vpmu_lbr_branch(VPMUState *s, uint64_t from, uint64_t to,
                     VPMUBranchClass cls, unsigned cpl);
/* A #DB was delivered to the guest: it turns LBR off (SDM). */
void vpmu_lbr_debug_exception(VPMUState *s);
/* The IA32_DEBUGCTL bits the model owns; the rest are KVM's. */
uint64_t vpmu_debugctl_owned(const VPMUState *s);
/*
 * Host policy: the host takes LBR back (@reclaimed): recording stops at
 * once, and the guest's accesses keep working against the records.
 */
void vpmu_set_lbr_reclaimed(VPMUState *s, bool reclaimed);
/* The backend lost LBR (@lost) or has it again: recording as reclaimed. */
void vpmu_set_lbr_lost(VPMUState *s, bool lost);

/*
 * The serialized state, as migration carries it: the configuration it was
 * made for, the registers, and counter values with every host count
 * folded in.  Loading validates it like guest input.
 */
typedef struct VPMUSavedState {
    int32_t version, nr_gp, nr_fixed, gp_width, fixed_width;
    /*
     * VPMUArch.  A stream says it in its own subsection, absent for
     * Intel, so that an Intel stream stays what it was before AMD.
     */
    int32_t arch;
    uint64_t perf_capabilities;
    uint64_t global_ctrl, global_status, fixed_ctr_ctrl, debugctl;
    uint64_t eventsel[VPMU_MAX_GP];
    uint64_t value[VPMU_MAX_COUNTERS];
    bool pmi_pending;
    bool amd_perfctr_core;      /* with arch, in the same subsection */
} VPMUSavedState;

/* A state for @cfg with every register 0 (what an empty stream says). */
void vpmu_saved_state_init(VPMUSavedState *st, const VPMUConfig *cfg);
/* Fold the host's counts and copy the state out (the VM is stopped). */
void vpmu_save_state(VPMUState *s, VPMUSavedState *out);
/*
 * Replace the state with @in: its configuration must be this one's, and
 * every register must pass the checks a host-initiated write gets.  On
 * failure @s is left in its reset state.  Host events are re-created.
 */
bool vpmu_load_state(VPMUState *s, const VPMUSavedState *in, Error **errp);

/*
 * Host policy.  The host takes the PMU back (@reclaimed): every host event
 * is released and the guest's counters freeze where they are, while its
 * MSR accesses keep working against the registers; giving it back
 * re-creates the events the registers ask for.
 */
void vpmu_set_reclaimed(VPMUState *s, bool reclaimed);
/* Replace the event filter (NULL: none); takes effect at once. */
void vpmu_set_filter(VPMUState *s, const VPMUEventFilter *filter);
bool vpmu_filter_allows(const VPMUEventFilter *f, const VPMUHostEvent *ev);
/*
 * The command-line form of a filter: "allow" or "deny", then ";"-separated
 * items: EVENT or EVENT:UMASK (numbers, e.g. 0x3c:0x00; EVENT up to 0xfff)
 * and fixed=BITMAP.  "deny;0xc0;fixed=0x1" stops instructions retired, on
 * GP and fixed counter 0.
 */
bool vpmu_filter_parse(const char *str, VPMUEventFilter *f, Error **errp);
/* Check a filter built elsewhere (QMP) the way the parser does. */
bool vpmu_filter_check(const VPMUEventFilter *f, Error **errp);

/* Per-counter views for management; @slot as in VPMUBackendOps. */
bool vpmu_slot_present(const VPMUState *s, unsigned slot);
/* The guest's registers say the counter counts. */
bool vpmu_slot_counting(const VPMUState *s, unsigned slot);
VPMUHostBlock vpmu_slot_blocked(const VPMUState *s, unsigned slot);
/* What the guest configured: PERFEVTSELx, or its FIXED_CTR_CTRL field. */
uint64_t vpmu_slot_config(const VPMUState *s, unsigned slot);
void vpmu_slot_host_event(const VPMUState *s, unsigned slot,
                          VPMUHostEvent *ev);
/* The guest-visible count, with what the host counted folded in. */
uint64_t vpmu_slot_value(VPMUState *s, unsigned slot);
/*
 * Without asking the host: whether the backend counts for @slot, and the
 * count as of the last fold (exact for a slot that has not run since).
 */
bool vpmu_slot_running(const VPMUState *s, unsigned slot);
uint64_t vpmu_slot_folded_value(const VPMUState *s, unsigned slot);
/*
 * The guest-visible count, asking the host (a fold) only when the counter
 * may have counted since the last fold: it runs, or stopped since.
 */
uint64_t vpmu_slot_current_value(VPMUState *s, unsigned slot);

/*
 * The name of a PMU MSR, for messages: the SDM's for Intel
 * ("IA32_PERFEVTSEL5"), Linux's msr-index.h for AMD ("MSR_K7_EVNTSEL0",
 * "MSR_F15H_PERF_CTR5", "MSR_AMD64_PERF_CNTR_GLOBAL_STATUS"), "MSR 0x..."
 * for others.  VPMU_MSR_NAME_LEN holds every name.
 */
#define VPMU_MSR_NAME_LEN               48
void vpmu_msr_name(uint32_t msr, char *buf, size_t len);

/* CPUID leaf 0xA as the configuration describes it (all 0 for AMD). */
void vpmu_cpuid_0xa(const VPMUConfig *cfg, uint32_t *eax, uint32_t *ebx,
                    uint32_t *ecx, uint32_t *edx);
/*
 * CPUID leaf 0x80000022 (AMD PerfMonV2: EAX[0], EBX[3:0] counters), all
 * 0 for Intel or an AMD PMU without PerfMonV2.  0x80000001 ECX[23] is
 * cfg->amd_perfctr_core.
 */
void vpmu_cpuid_0x80000022(const VPMUConfig *cfg, uint32_t *eax,
                           uint32_t *ebx, uint32_t *ecx, uint32_t *edx);
/*
 * Whether delivering a PMI masks the LVTPC (Intel, SDM), which the glue
 * then does; the AMD local APIC does not.
 */
bool vpmu_pmi_masks_lvtpc(const VPMUState *s);

#endif
