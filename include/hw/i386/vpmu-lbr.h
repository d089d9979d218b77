/*
 * qemu-vpmu: register model of last branch records (LBR)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Legacy (model-specific) LBR and architectural LBR, as the Intel SDM
 * vol. 3B ("Last Branch Recording") and vol. 4 (the MSRs) describe them:
 * the record stack, its MSRs, the filters and call-stack mode.  A host
 * backend (the single-step engine, or KVM's own LBR) reports each branch
 * with vpmu_lbr_record(); the PMU model decides whether LBR records at
 * all (DEBUGCTL.LBR or LBR_CTL.LBREn, and the freeze at a PMI) and owns
 * DEBUGCTL and GLOBAL_STATUS.LBR_FRZ.
 *
 * Pure: no KVM, perf or QEMU CPU headers.
 */
#ifndef HW_I386_VPMU_LBR_H
#define HW_I386_VPMU_LBR_H

#include "hw/i386/vpmu-insn.h"

#define VPMU_LBR_MAX_DEPTH          32

/*
 * The LBR MSRs (SDM vol. 4).  The same numbers as VPMU_MSR_LBR_* in
 * vpmu.h, under names of their own so that this header needs no other.
 */
#define VPMU_LBR_MSR_SELECT         0x1c8   /* MSR_LBR_SELECT */
#define VPMU_LBR_MSR_TOS            0x1c9   /* MSR_LASTBRANCH_TOS */
#define VPMU_LBR_MSR_CORE_FROM      0x40    /* Core 2, Atom: 4 or 8 */
#define VPMU_LBR_MSR_CORE_TO        0x60
#define VPMU_LBR_MSR_CORE_N         8
#define VPMU_LBR_MSR_NHM_FROM       0x680   /* Nehalem and later: 8..32 */
#define VPMU_LBR_MSR_NHM_TO         0x6c0
#define VPMU_LBR_MSR_INFO           0xdc0   /* formats 5 and 7 */
#define VPMU_LBR_MSR_ARCH_CTL       0x14ce  /* IA32_LBR_CTL */
#define VPMU_LBR_MSR_ARCH_DEPTH     0x14cf  /* IA32_LBR_DEPTH */
#define VPMU_LBR_MSR_ARCH_INFO      0x1200  /* IA32_LBR_x_INFO */
#define VPMU_LBR_MSR_ARCH_FROM      0x1500  /* IA32_LBR_x_FROM_IP */
#define VPMU_LBR_MSR_ARCH_TO        0x1600  /* IA32_LBR_x_TO_IP */

/* IA32_PERF_CAPABILITIES[5:0]: the record format (LBR_FORMAT_* in Linux) */
#define VPMU_LBR_FMT_LIP            1   /* 64-bit linear addresses */
#define VPMU_LBR_FMT_EIP            2   /* 64-bit effective addresses */
#define VPMU_LBR_FMT_EIP_FLAGS      3   /* FROM[63] MISPRED */
#define VPMU_LBR_FMT_EIP_FLAGS2     4   /* FROM[63:61] MISPRED, TSX */
#define VPMU_LBR_FMT_INFO           5   /* MSR_LBR_INFO_i */
#define VPMU_LBR_FMT_TIME           6   /* FROM[63] MISPRED, TO[63:48] */
#define VPMU_LBR_FMT_INFO2          7   /* MSR_LBR_INFO_i without TSX */
#define VPMU_LBR_FMT_ARCH           0x3f /* architectural LBR */

/* IA32_DEBUGCTL bits of LBR (the PMU's freeze bits are in vpmu.h) */
#define VPMU_DEBUGCTL_LBR           (1ULL << 0)
#define VPMU_DEBUGCTL_BTF           (1ULL << 1)

/* MSR_LBR_SELECT: bits 8:0 suppress, bit 9 turns call-stack mode on */
#define VPMU_LBR_SELECT_CPL_EQ_0    (1ULL << 0)
#define VPMU_LBR_SELECT_CPL_NEQ_0   (1ULL << 1)
#define VPMU_LBR_SELECT_JCC         (1ULL << 2)
#define VPMU_LBR_SELECT_NEAR_REL_CALL (1ULL << 3)
#define VPMU_LBR_SELECT_NEAR_IND_CALL (1ULL << 4)
#define VPMU_LBR_SELECT_NEAR_RET    (1ULL << 5)
#define VPMU_LBR_SELECT_NEAR_IND_JMP (1ULL << 6)
#define VPMU_LBR_SELECT_NEAR_REL_JMP (1ULL << 7)
#define VPMU_LBR_SELECT_FAR_BRANCH  (1ULL << 8)
#define VPMU_LBR_SELECT_CALLSTACK   (1ULL << 9)

/* IA32_LBR_CTL: bits enable */
#define VPMU_LBR_CTL_LBREN          (1ULL << 0)
#define VPMU_LBR_CTL_OS             (1ULL << 1)
#define VPMU_LBR_CTL_USR            (1ULL << 2)
#define VPMU_LBR_CTL_CALL_STACK     (1ULL << 3)
#define VPMU_LBR_CTL_JCC            (1ULL << 16)
#define VPMU_LBR_CTL_NEAR_REL_JMP   (1ULL << 17)
#define VPMU_LBR_CTL_NEAR_IND_JMP   (1ULL << 18)
#define VPMU_LBR_CTL_NEAR_REL_CALL  (1ULL << 19)
#define VPMU_LBR_CTL_NEAR_IND_CALL  (1ULL << 20)
#define VPMU_LBR_CTL_NEAR_RET       (1ULL << 21)
#define VPMU_LBR_CTL_OTHER_BRANCH   (1ULL << 22)
#define VPMU_LBR_CTL_VALID          0x7f000fULL

/* IA32_LBR_x_INFO (architectural) and MSR_LBR_INFO_x (formats 5, 7) */
#define VPMU_LBR_INFO_MISPRED       (1ULL << 63)
#define VPMU_LBR_INFO_CYC_CNT_VALID (1ULL << 60)
#define VPMU_LBR_INFO_BR_TYPE_SHIFT 56

/* IA32_LBR_x_INFO.BR_TYPE (SDM vol. 4; Linux's ARCH_LBR_BR_TYPE_*) */
#define VPMU_LBR_BR_TYPE_JCC            0
#define VPMU_LBR_BR_TYPE_NEAR_IND_JMP   1
#define VPMU_LBR_BR_TYPE_NEAR_REL_JMP   2
#define VPMU_LBR_BR_TYPE_NEAR_IND_CALL  3
#define VPMU_LBR_BR_TYPE_NEAR_REL_CALL  4
#define VPMU_LBR_BR_TYPE_NEAR_RET       5
#define VPMU_LBR_BR_TYPE_OTHER          8   /* 1xxxB: OTHER_BRANCH */

/*
 * VPMULbrConfig.quirks: where a CPU model's legacy LBR differs from the
 * class its depth stands for (see vpmu_lbr_config_for_model()).
 */
#define VPMU_LBR_QUIRK_NO_CALLSTACK (1 << 0) /* 16 deep, before Haswell */
#define VPMU_LBR_QUIRK_NO_SELECT    (1 << 1) /* 8 deep, Bonnell/Saltwell */
#define VPMU_LBR_QUIRK_NHM_MSRS     (1 << 2) /* 8 deep at 0x680: KNL, KNM */
#define VPMU_LBR_QUIRKS_ALL         0x7

typedef enum VPMULbrKind {
    VPMU_LBR_NONE,          /* lbr=off: every LBR MSR #GPs */
    VPMU_LBR_LEGACY,        /* model-specific LBR (DEBUGCTL.LBR) */
    VPMU_LBR_ARCH,          /* architectural LBR (CPUID.(7,0):EDX[19]) */
} VPMULbrKind;

/*
 * What the guest is told it has.  Plain ints, checked by
 * vpmu_lbr_config_check() before use, like VPMUConfig.
 */
typedef struct VPMULbrConfig {
    int kind;               /* VPMULbrKind */
    /*
     * Legacy: VPMU_LBR_FMT_LIP..INFO2.  Architectural: VPMU_LBR_FMT_ARCH.
     */
    int format;
    /*
     * Legacy: 4, 8, 16 or 32 records, and the MSRs of the CPUs that have
     * that many (vpmu_lbr_config_for_model()).  Architectural: the
     * largest depth, a multiple of 8 up to 32; every multiple of 8 up to
     * it is a supported IA32_LBR_DEPTH.
     */
    int depth;
    /* CPUID.0AH:EAX[7:0]: which freeze (v4 sets GLOBAL_STATUS.LBR_FRZ) */
    int pmu_version;
    /*
     * Legacy only: VPMU_LBR_QUIRK_*, from vpmu_lbr_config_for_model();
     * 0 (the class of the depth) when lbr-depth overrides the model's.
     */
    int quirks;
} VPMULbrConfig;

/* One record, as its MSRs read (encoded for the format). */
typedef struct VPMULbrRecord {
    uint64_t from, to, info;
} VPMULbrRecord;

/* What the backends asked of the record stack, for query-vpmu. */
typedef struct VPMULbrStats {
    uint64_t recorded;      /* records written */
    uint64_t filtered;      /* branches the filters suppressed */
    uint64_t popped;        /* call-stack mode: records a RET removed */
} VPMULbrStats;

typedef struct VPMULbrState {
    VPMULbrConfig cfg;

    /* Derived from @cfg by vpmu_lbr_init(). */
    uint32_t from_base, to_base;    /* FROM_IP/TO_IP MSRs */
    uint32_t info_base;             /* 0: no INFO MSRs */
    bool has_select, has_callstack;
    uint64_t select_valid;          /* writable LBR_SELECT bits */

    /* Serialized: the guest's registers and records. */
    uint64_t select;                /* MSR_LBR_SELECT (legacy) */
    uint64_t tos;                   /* MSR_LASTBRANCH_TOS (legacy) */
    uint64_t ctl;                   /* IA32_LBR_CTL (architectural) */
    /* IA32_LBR_DEPTH (architectural); legacy: cfg.depth, fixed */
    uint64_t depth;
    /*
     * Legacy: rec[i] is FROM_i/TO_i, TOS the youngest.  Architectural:
     * MSR index 0 is the youngest; @top is the slot it lives in, so the
     * stack needs no shifting (rec[(top - i) mod depth]).
     */
    uint32_t top;
    VPMULbrRecord rec[VPMU_LBR_MAX_DEPTH];

    /* Derived: statistics since vpmu_lbr_init(). */
    VPMULbrStats stats;
} VPMULbrState;

/*
 * The depth and format a guest of this CPUID family and model expects
 * (Linux's intel_pmu_init() picks them by model), and the quirks of
 * that model: @cfg's kind and pmu_version are left alone.  Unknown models
 * get the Skylake class, 32 records in format 5.  With kind
 * VPMU_LBR_ARCH, any model gets 32 records in format 0x3f (Linux uses
 * architectural LBR whatever the model).
 */
void vpmu_lbr_config_for_model(VPMULbrConfig *cfg, int family, int model);
/*
 * The format of the newest CPU class with @depth legacy records (4 and
 * 8: Core 2 and Silvermont, LIP; 16: Haswell, EIP_FLAGS2; 32: Skylake,
 * INFO), for an lbr-depth given without lbr-fmt; -1 if no class has it.
 */
int vpmu_lbr_default_format(int depth);
/*
 * Check a configuration against what the model implements.  Errors name
 * the -cpu property that sets the field ("lbr-fmt", "lbr-depth",
 * "arch-lbr") and what would work.
 */
bool vpmu_lbr_config_check(const VPMULbrConfig *cfg, Error **errp);

/* Set up @l for @cfg (checked) and put it in its reset state. */
void vpmu_lbr_init(VPMULbrState *l, const VPMULbrConfig *cfg);
/* SDM power-up/INIT values: every register and record 0, full depth. */
void vpmu_lbr_reset(VPMULbrState *l);

/*
 * Whether @msr is an LBR MSR of any kind (the ranges of vpmu_msr_ranges
 * that the PMU model hands to this file).
 */
bool vpmu_lbr_msr_is_lbr(uint32_t msr);
/*
 * Access an LBR MSR (not DEBUGCTL).  False where the SDM says #GP: an
 * MSR this configuration lacks, a reserved bit, an unsupported depth.
 * A guest's #GP is logged here, by MSR name, as a guest error
 * (LOG_GUEST_ERROR).  Host (@host) accesses follow the same rules (a
 * write of IA32_LBR_DEPTH clears the records) and are not logged.
 */
bool vpmu_lbr_msr_read(const VPMULbrState *l, uint32_t msr, uint64_t *val,
                       bool host);
bool vpmu_lbr_msr_write(VPMULbrState *l, uint32_t msr, uint64_t val,
                        bool host);

/*
 * A branch (or an interrupt or exception: VPMU_BRANCH_FAR) from @from to
 * @to that retired while LBR records.  Applies the filters (class, CPL
 * after the branch: @cpl) and call-stack mode, then writes the record
 * with MISPRED 0 and no cycle count.  Returns whether a record was
 * written.
 */
bool vpmu_lbr_record(VPMULbrState *l, uint64_t from, uint64_t to,
                     VPMUBranchClass cls, unsigned cpl);
/*
 * Records in use: legacy, those with FROM != 0; architectural, those
 * before the first FROM == 0 within the current depth.
 */
unsigned vpmu_lbr_records_used(const VPMULbrState *l);

/*
 * After migration wrote the serialized fields of @l (its configuration
 * already matched): check them as guest input is checked (TOS and top
 * within the depth, no reserved bit in LBR_SELECT or LBR_CTL, a
 * supported IA32_LBR_DEPTH, no record beyond the MSRs the guest has).
 * On failure @l is reset and @errp names the register.
 */
bool vpmu_lbr_check_loaded(VPMULbrState *l, Error **errp);

/* CPUID leaf 0x1C (architectural LBR), all 0 for legacy or none. */
void vpmu_lbr_cpuid_0x1c(const VPMULbrConfig *cfg, uint32_t *eax,
                         uint32_t *ebx, uint32_t *ecx, uint32_t *edx);

/* The SDM's name of an LBR MSR ("MSR_LASTBRANCH_3_FROM_IP"). */
void vpmu_lbr_msr_name(uint32_t msr, char *buf, size_t len);

#endif
