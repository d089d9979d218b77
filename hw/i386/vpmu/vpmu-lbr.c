/*
 * qemu-vpmu: register model of last branch records (LBR)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Rules cited as "SDM" are from the Intel SDM vol. 3B, "Last Branch,
 * Interrupt, and Exception Recording" (model-specific LBR) and "Last
 * Branch Records" (architectural LBR), and vol. 4 for the MSR layouts.
 * Where the SDM leaves a detail open we do what Linux guests
 * (arch/x86/events/intel/lbr.c, core.c) and kvm-unit-tests need; each
 * such rule says so ([P]: our proposal, [I]: inferred), following the LBR
 * design brief (lbr.md, sections 1.1-1.3).
 *
 * Records are stored as their MSRs read, already encoded for the format,
 * so that a read is a copy and a guest's write reads back exactly.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "hw/i386/vpmu-lbr.h"

/* MSR_LBR_SELECT: the nine suppress bits, then EN_CALLSTACK (bit 9). */
#define LBR_SELECT_FILTERS      0x1ffULL
#define LBR_SELECT_ALL          0x3ffULL

/* How many MSRs of each block exist in the largest configuration. */
#define LBR_NHM_N               32
#define LBR_ARCH_N              32

/* What an MSR number is in one configuration. */
typedef enum LbrReg {
    LBR_REG_ABSENT,
    LBR_REG_SELECT,
    LBR_REG_TOS,
    LBR_REG_FROM,           /* legacy: the index is the slot */
    LBR_REG_TO,
    LBR_REG_INFO,
    LBR_REG_CTL,
    LBR_REG_DEPTH,
    LBR_REG_ARCH_FROM,      /* architectural: index 0 is the youngest */
    LBR_REG_ARCH_TO,
    LBR_REG_ARCH_INFO,
} LbrReg;

/*
 * The filter bits and the branch type of each class.  SDM tables
 * "MSR_LBR_SELECT" (suppress) and "IA32_LBR_CTL" (enable), and the
 * IA32_LBR_x_INFO BR_TYPE encodings; far transfers, interrupts and
 * exceptions are FAR_BRANCH / OTHER_BRANCH (BR_TYPE 1xxxB).
 */
static const struct {
    uint64_t select;
    uint64_t ctl;
    uint8_t br_type;
} lbr_classes[] = {
    [VPMU_BRANCH_JCC] = { VPMU_LBR_SELECT_JCC, VPMU_LBR_CTL_JCC,
                          VPMU_LBR_BR_TYPE_JCC },
    [VPMU_BRANCH_JMP_REL] = { VPMU_LBR_SELECT_NEAR_REL_JMP,
                              VPMU_LBR_CTL_NEAR_REL_JMP,
                              VPMU_LBR_BR_TYPE_NEAR_REL_JMP },
    [VPMU_BRANCH_JMP_IND] = { VPMU_LBR_SELECT_NEAR_IND_JMP,
                              VPMU_LBR_CTL_NEAR_IND_JMP,
                              VPMU_LBR_BR_TYPE_NEAR_IND_JMP },
    [VPMU_BRANCH_CALL_REL] = { VPMU_LBR_SELECT_NEAR_REL_CALL,
                               VPMU_LBR_CTL_NEAR_REL_CALL,
                               VPMU_LBR_BR_TYPE_NEAR_REL_CALL },
    [VPMU_BRANCH_CALL_IND] = { VPMU_LBR_SELECT_NEAR_IND_CALL,
                               VPMU_LBR_CTL_NEAR_IND_CALL,
                               VPMU_LBR_BR_TYPE_NEAR_IND_CALL },
    [VPMU_BRANCH_RET] = { VPMU_LBR_SELECT_NEAR_RET, VPMU_LBR_CTL_NEAR_RET,
                          VPMU_LBR_BR_TYPE_NEAR_RET },
    [VPMU_BRANCH_FAR] = { VPMU_LBR_SELECT_FAR_BRANCH,
                          VPMU_LBR_CTL_OTHER_BRANCH,
                          VPMU_LBR_BR_TYPE_OTHER },
};

/*
 * Linux's intel_pmu_init() model switch (arch/x86/events/intel/core.c,
 * model numbers from asm/intel-family.h) and the intel_pmu_lbr_init_*()
 * it calls (lbr.c) fix the depth and the MSRs; the format is what each
 * part reports in IA32_PERF_CAPABILITIES.  Models not listed (Yonah,
 * every architectural-LBR part, unknown ones) get the Skylake class.
 */
static const struct {
    uint8_t model, depth, format, quirks;
} lbr_models[] = {
    /* _core: Merom, Merom-L, Penryn, Dunnington (format: [I]) */
    { 0x0f, 4, VPMU_LBR_FMT_LIP, 0 },
    { 0x16, 4, VPMU_LBR_FMT_LIP, 0 },
    { 0x17, 4, VPMU_LBR_FMT_LIP, 0 },
    { 0x1d, 4, VPMU_LBR_FMT_LIP, 0 },
    /*
     * _atom: Bonnell, Saltwell; Linux sets no lbr_sel_map there, so no
     * MSR_LBR_SELECT.  Linux also refuses Bonnell before stepping 10,
     * which the model number cannot tell.  Format: [I], as _slm.
     */
    { 0x1c, 8, VPMU_LBR_FMT_LIP, VPMU_LBR_QUIRK_NO_SELECT },
    { 0x26, 8, VPMU_LBR_FMT_LIP, VPMU_LBR_QUIRK_NO_SELECT },
    { 0x36, 8, VPMU_LBR_FMT_LIP, VPMU_LBR_QUIRK_NO_SELECT },
    { 0x27, 8, VPMU_LBR_FMT_LIP, VPMU_LBR_QUIRK_NO_SELECT },
    { 0x35, 8, VPMU_LBR_FMT_LIP, VPMU_LBR_QUIRK_NO_SELECT },
    /*
     * _slm: Silvermont, Airmont.  LIP: intel_pmu_lbr_init_knl() says the
     * Silvermont-derived KNL reports LBR_FORMAT_LIP.
     */
    { 0x37, 8, VPMU_LBR_FMT_LIP, 0 },
    { 0x4d, 8, VPMU_LBR_FMT_LIP, 0 },
    { 0x4a, 8, VPMU_LBR_FMT_LIP, 0 },
    { 0x4c, 8, VPMU_LBR_FMT_LIP, 0 },
    { 0x5a, 8, VPMU_LBR_FMT_LIP, 0 },
    /*
     * _knl: Knights Landing and Mill, 8 records at the Nehalem MSRs.
     * Linux turns their LIP into EIP_FLAGS ("does have MISPREDICT bit"),
     * so we report what it then decodes.
     */
    { 0x57, 8, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NHM_MSRS },
    { 0x85, 8, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NHM_MSRS },
    /* _nhm: Nehalem, Westmere; _snb: Sandy and Ivy Bridge ([I] format) */
    { 0x1e, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x1a, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x2e, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x25, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x2c, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x2f, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x2a, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x2d, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x3a, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    { 0x3e, 16, VPMU_LBR_FMT_EIP_FLAGS, VPMU_LBR_QUIRK_NO_CALLSTACK },
    /* _hsw: Haswell, Broadwell; call stack ([I] format, TSX flags) */
    { 0x3c, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x3f, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x45, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x46, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x3d, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x47, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x4f, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    { 0x56, 16, VPMU_LBR_FMT_EIP_FLAGS2, 0 },
    /*
     * _skl on the Atom cores: Goldmont (cycles in TO, [I]), Goldmont
     * Plus (INFO2: "LBR_FORMAT_INFO2 platforms like Goldmont plus", LKML
     * x86_perf_get_lbr thread) and Tremont (INFO2, [I]: no TSX).
     */
    { 0x5c, 32, VPMU_LBR_FMT_TIME, 0 },
    { 0x5f, 32, VPMU_LBR_FMT_TIME, 0 },
    { 0x7a, 32, VPMU_LBR_FMT_INFO2, 0 },
    { 0x86, 32, VPMU_LBR_FMT_INFO2, 0 },
    { 0x96, 32, VPMU_LBR_FMT_INFO2, 0 },
    { 0x9c, 32, VPMU_LBR_FMT_INFO2, 0 },
    /* _skl: Skylake, Kaby, Comet, Ice, Tiger and Rocket Lake */
    { 0x4e, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x5e, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x55, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x8e, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x9e, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0xa5, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0xa6, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x6a, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x6c, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x7d, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x7e, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x8c, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0x8d, 32, VPMU_LBR_FMT_INFO, 0 },
    { 0xa7, 32, VPMU_LBR_FMT_INFO, 0 },
};

void vpmu_lbr_config_for_model(VPMULbrConfig *cfg, int family, int model)
{
    unsigned i;

    cfg->quirks = 0;
    if (cfg->kind == VPMU_LBR_ARCH) {
        /*
         * Linux's intel_pmu_init() takes architectural LBR whenever
         * CPUID says so, after the model switch; parts with it have 32.
         */
        cfg->depth = VPMU_LBR_MAX_DEPTH;
        cfg->format = VPMU_LBR_FMT_ARCH;
        return;
    }
    cfg->depth = VPMU_LBR_MAX_DEPTH;
    cfg->format = VPMU_LBR_FMT_INFO;
    if (family != 6) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(lbr_models); i++) {
        if (lbr_models[i].model == model) {
            cfg->depth = lbr_models[i].depth;
            cfg->format = lbr_models[i].format;
            cfg->quirks = lbr_models[i].quirks;
            return;
        }
    }
}

int vpmu_lbr_default_format(int depth)
{
    switch (depth) {
    case 4:
    case 8:
        return VPMU_LBR_FMT_LIP;
    case 16:
        return VPMU_LBR_FMT_EIP_FLAGS2;
    case 32:
        return VPMU_LBR_FMT_INFO;
    default:
        return -1;
    }
}

static bool lbr_format_has_info(int format)
{
    return format == VPMU_LBR_FMT_INFO || format == VPMU_LBR_FMT_INFO2;
}

/* IA32_LBR_DEPTH takes the depths CPUID.(EAX=1CH):EAX[7:0] lists. */
static bool lbr_arch_depth_ok(uint64_t depth, int max)
{
    return depth >= 8 && depth <= (uint64_t)max && !(depth % 8);
}

/* Each quirk belongs to one legacy depth, and they come one at a time. */
static bool lbr_check_quirks(const VPMULbrConfig *cfg, Error **errp)
{
    int depth;

    switch (cfg->quirks) {
    case 0:
        return true;
    case VPMU_LBR_QUIRK_NO_CALLSTACK:
        depth = 16;
        break;
    case VPMU_LBR_QUIRK_NO_SELECT:
    case VPMU_LBR_QUIRK_NHM_MSRS:
        depth = 8;
        break;
    default:
        depth = 0;
        break;
    }
    if (!depth || cfg->kind != VPMU_LBR_LEGACY) {
        error_setg(errp, "vPMU: LBR quirks 0x%x are not implemented for "
                   "this LBR", cfg->quirks);
        return false;
    }
    if (cfg->depth != depth) {
        error_setg(errp, "vPMU: lbr-depth=%d does not fit the CPU model's "
                   "LBR, which has %d records; leave lbr-depth at the "
                   "model's", cfg->depth, depth);
        return false;
    }
    return true;
}

bool vpmu_lbr_config_check(const VPMULbrConfig *cfg, Error **errp)
{
    switch (cfg->kind) {
    case VPMU_LBR_NONE:
        return true;
    case VPMU_LBR_LEGACY:
        if (cfg->format == VPMU_LBR_FMT_ARCH) {
            error_setg(errp, "vPMU: lbr-fmt=0x3f is architectural LBR and "
                       "needs arch-lbr=on; model-specific LBR takes "
                       "lbr-fmt=1..7 (5 is Skylake's)");
            return false;
        }
        /* SDM: format 0 keeps FROM and TO in one MSR; not modelled. */
        if (cfg->format < VPMU_LBR_FMT_LIP ||
            cfg->format > VPMU_LBR_FMT_INFO2) {
            error_setg(errp, "vPMU: lbr-fmt=%d is not implemented%s; "
                       "lbr-fmt=1..7 work (5 is Skylake's)", cfg->format,
                       cfg->format == 0 ? " (the 32-bit record format)" : "");
            return false;
        }
        if (cfg->depth != 4 && cfg->depth != 8 && cfg->depth != 16 &&
            cfg->depth != 32) {
            error_setg(errp, "vPMU: lbr-depth=%d is not a model-specific "
                       "LBR depth; use 4, 8, 16 or 32", cfg->depth);
            return false;
        }
        /* Linux: only intel_pmu_lbr_init_skl() has MSR_LBR_INFO_0. */
        if (lbr_format_has_info(cfg->format) &&
            cfg->depth != VPMU_LBR_MAX_DEPTH) {
            error_setg(errp, "vPMU: lbr-fmt=%d has MSR_LBR_INFO, which "
                       "needs lbr-depth=32, not lbr-depth=%d", cfg->format,
                       cfg->depth);
            return false;
        }
        return lbr_check_quirks(cfg, errp);
    case VPMU_LBR_ARCH:
        if (cfg->format != VPMU_LBR_FMT_ARCH) {
            error_setg(errp, "vPMU: arch-lbr=on needs lbr-fmt=0x3f, not "
                       "lbr-fmt=%d", cfg->format);
            return false;
        }
        if (!lbr_arch_depth_ok(cfg->depth, VPMU_LBR_MAX_DEPTH)) {
            error_setg(errp, "vPMU: lbr-depth=%d is not an architectural "
                       "LBR depth; use 8, 16, 24 or 32", cfg->depth);
            return false;
        }
        /* Architectural LBR freezes through GLOBAL_STATUS.LBR_FRZ (v4). */
        if (cfg->pmu_version < 4) {
            error_setg(errp, "vPMU: arch-lbr=on needs pmu-version=4 or "
                       "later, not pmu-version=%d", cfg->pmu_version);
            return false;
        }
        return lbr_check_quirks(cfg, errp);
    }
    error_setg(errp, "vPMU: LBR kind %d is not implemented", cfg->kind);
    return false;
}

void vpmu_lbr_init(VPMULbrState *l, const VPMULbrConfig *cfg)
{
    memset(l, 0, sizeof(*l));
    l->cfg = *cfg;
    if (cfg->kind == VPMU_LBR_LEGACY) {
        /* Linux: _core, _atom, _slm at 0x40/0x60; _knl, _nhm and on 0x680 */
        if (cfg->depth <= 8 && !(cfg->quirks & VPMU_LBR_QUIRK_NHM_MSRS)) {
            l->from_base = VPMU_LBR_MSR_CORE_FROM;
            l->to_base = VPMU_LBR_MSR_CORE_TO;
        } else {
            l->from_base = VPMU_LBR_MSR_NHM_FROM;
            l->to_base = VPMU_LBR_MSR_NHM_TO;
        }
        /* SDM vol. 4: MSR_LBR_INFO_x exist where the format has LBR_INFO */
        if (lbr_format_has_info(cfg->format)) {
            l->info_base = VPMU_LBR_MSR_INFO;
        }
        /* Core 2 and Bonnell have no MSR_LBR_SELECT (Linux: no sel_map) */
        l->has_select = cfg->depth > 4 &&
                        !(cfg->quirks & VPMU_LBR_QUIRK_NO_SELECT);
        /* EN_CALLSTACK came with Haswell (Linux: hsw_lbr_sel_map) */
        l->has_callstack = l->has_select && cfg->depth >= 16 &&
                           !(cfg->quirks & VPMU_LBR_QUIRK_NO_CALLSTACK);
        l->select_valid = !l->has_select ? 0 :
                          l->has_callstack ? LBR_SELECT_ALL :
                          LBR_SELECT_FILTERS;
    } else if (cfg->kind == VPMU_LBR_ARCH) {
        l->from_base = VPMU_LBR_MSR_ARCH_FROM;
        l->to_base = VPMU_LBR_MSR_ARCH_TO;
        l->info_base = VPMU_LBR_MSR_ARCH_INFO;
        /* CPUID.(EAX=1CH):EBX[2], which vpmu_lbr_cpuid_0x1c() sets */
        l->has_callstack = true;
    }
    vpmu_lbr_reset(l);
}

void vpmu_lbr_reset(VPMULbrState *l)
{
    l->select = 0;
    l->tos = 0;
    l->ctl = 0;
    /* The arch LBR spec leaves DEPTH's reset open: the largest [P]. */
    l->depth = l->cfg.kind == VPMU_LBR_NONE ? 0 : l->cfg.depth;
    l->top = 0;
    memset(l->rec, 0, sizeof(l->rec));
}

bool vpmu_lbr_msr_is_lbr(uint32_t msr)
{
    return msr - VPMU_LBR_MSR_SELECT < 2 ||
           msr - VPMU_LBR_MSR_CORE_FROM < VPMU_LBR_MSR_CORE_N ||
           msr - VPMU_LBR_MSR_CORE_TO < VPMU_LBR_MSR_CORE_N ||
           msr - VPMU_LBR_MSR_NHM_FROM < LBR_NHM_N ||
           msr - VPMU_LBR_MSR_NHM_TO < LBR_NHM_N ||
           msr - VPMU_LBR_MSR_INFO < LBR_NHM_N ||
           msr - VPMU_LBR_MSR_ARCH_CTL < 2 ||
           msr - VPMU_LBR_MSR_ARCH_INFO < LBR_ARCH_N ||
           msr - VPMU_LBR_MSR_ARCH_FROM < LBR_ARCH_N ||
           msr - VPMU_LBR_MSR_ARCH_TO < LBR_ARCH_N;
}

static LbrReg lbr_reg(const VPMULbrState *l, uint32_t msr, unsigned *idx)
{
    uint32_t n = l->cfg.depth;

    switch (l->cfg.kind) {
    case VPMU_LBR_LEGACY:
        /*
         * MSRs of another class, and records at or beyond the depth, #GP:
         * kvm-unit-tests finds the base and the depth by that #GP.
         */
        if (msr == VPMU_LBR_MSR_SELECT) {
            return l->has_select ? LBR_REG_SELECT : LBR_REG_ABSENT;
        }
        if (msr == VPMU_LBR_MSR_TOS) {
            return LBR_REG_TOS;
        }
        *idx = msr - l->from_base;
        if (*idx < n) {
            return LBR_REG_FROM;
        }
        *idx = msr - l->to_base;
        if (*idx < n) {
            return LBR_REG_TO;
        }
        *idx = msr - l->info_base;
        if (l->info_base && *idx < n) {
            return LBR_REG_INFO;
        }
        return LBR_REG_ABSENT;
    case VPMU_LBR_ARCH:
        /*
         * Every IA32_LBR_x_* up to the largest depth of any part (32)
         * exists; those beyond the current depth read 0 [P].
         */
        if (msr == VPMU_LBR_MSR_ARCH_CTL) {
            return LBR_REG_CTL;
        }
        if (msr == VPMU_LBR_MSR_ARCH_DEPTH) {
            return LBR_REG_DEPTH;
        }
        *idx = msr - VPMU_LBR_MSR_ARCH_FROM;
        if (*idx < LBR_ARCH_N) {
            return LBR_REG_ARCH_FROM;
        }
        *idx = msr - VPMU_LBR_MSR_ARCH_TO;
        if (*idx < LBR_ARCH_N) {
            return LBR_REG_ARCH_TO;
        }
        *idx = msr - VPMU_LBR_MSR_ARCH_INFO;
        if (*idx < LBR_ARCH_N) {
            return LBR_REG_ARCH_INFO;
        }
        return LBR_REG_ABSENT;
    }
    return LBR_REG_ABSENT;
}

/*
 * The slot of architectural entry @i, false beyond the current depth.
 * SDM: entry 0 is the youngest.  The ring keeps the youngest in slot
 * @top, so that a record is one store, not a shift of the stack.
 */
static bool lbr_arch_slot(const VPMULbrState *l, unsigned i, unsigned *slot)
{
    unsigned depth = l->depth;

    if (i >= depth) {
        return false;
    }
    *slot = (l->top + depth - i) % depth;
    return true;
}

bool vpmu_lbr_msr_read(const VPMULbrState *l, uint32_t msr, uint64_t *val,
                       bool host)
{
    char name[32];
    unsigned i = 0, slot;

    switch (lbr_reg(l, msr, &i)) {
    case LBR_REG_SELECT:
        *val = l->select;
        return true;
    case LBR_REG_TOS:
        *val = l->tos;
        return true;
    case LBR_REG_FROM:
        *val = l->rec[i].from;
        return true;
    case LBR_REG_TO:
        *val = l->rec[i].to;
        return true;
    case LBR_REG_INFO:
        *val = l->rec[i].info;
        return true;
    case LBR_REG_CTL:
        *val = l->ctl;
        return true;
    case LBR_REG_DEPTH:
        *val = l->depth;
        return true;
    case LBR_REG_ARCH_FROM:
        *val = lbr_arch_slot(l, i, &slot) ? l->rec[slot].from : 0;
        return true;
    case LBR_REG_ARCH_TO:
        *val = lbr_arch_slot(l, i, &slot) ? l->rec[slot].to : 0;
        return true;
    case LBR_REG_ARCH_INFO:
        *val = lbr_arch_slot(l, i, &slot) ? l->rec[slot].info : 0;
        return true;
    case LBR_REG_ABSENT:
        break;
    }
    *val = 0;
    if (!host) {
        vpmu_lbr_msr_name(msr, name, sizeof(name));
        qemu_log_mask(LOG_GUEST_ERROR, "vpmu: RDMSR %s (0x%" PRIx32 "): not "
                      "present in this LBR configuration (#GP)\n", name, msr);
    }
    return false;
}

bool vpmu_lbr_msr_write(VPMULbrState *l, uint32_t msr, uint64_t val,
                        bool host)
{
    uint64_t rsvd = 0;
    char name[32];
    unsigned i = 0, slot;
    LbrReg reg = lbr_reg(l, msr, &i);

    switch (reg) {
    case LBR_REG_SELECT:
        /* Reserved bits #GP [P], like the other PMU MSRs (SDM vol. 4). */
        rsvd = val & ~l->select_valid;
        if (rsvd) {
            break;
        }
        l->select = val;
        return true;
    case LBR_REG_TOS:
        /*
         * Writable, keeping the bits that index a record [P]: Linux's
         * check_msr() flips bits 1:0 and reads them back, and KVM's
         * vmx_pmu_caps_test writes 7 whatever the depth.
         */
        l->tos = val & (l->cfg.depth - 1);
        return true;
    case LBR_REG_FROM:
        /*
         * Stored as written: Linux's check_msr() writes old ^ 0xffff and
         * must read it back, or it turns LBR off.  The sign-extension #GP
         * of format 4 without TSX is not modelled.
         */
        l->rec[i].from = val;
        return true;
    case LBR_REG_TO:
        l->rec[i].to = val;
        return true;
    case LBR_REG_INFO:
        l->rec[i].info = val;
        return true;
    case LBR_REG_CTL:
        /* Reserved bits #GP [P], as the mediated-PMU KVM fork does. */
        rsvd = val & ~VPMU_LBR_CTL_VALID;
        if (rsvd) {
            break;
        }
        l->ctl = val;
        return true;
    case LBR_REG_DEPTH:
        /*
         * SDM: only a depth CPUID lists; any write zeroes every record
         * (Linux's intel_pmu_arch_lbr_reset() relies on it).
         */
        if (!lbr_arch_depth_ok(val, l->cfg.depth)) {
            break;
        }
        l->depth = val;
        l->top = 0;
        memset(l->rec, 0, sizeof(l->rec));
        return true;
    case LBR_REG_ARCH_FROM:
    case LBR_REG_ARCH_TO:
    case LBR_REG_ARCH_INFO:
        /* Beyond the current depth: the write is dropped [P]. */
        if (!lbr_arch_slot(l, i, &slot)) {
            return true;
        }
        if (reg == LBR_REG_ARCH_FROM) {
            l->rec[slot].from = val;
        } else if (reg == LBR_REG_ARCH_TO) {
            l->rec[slot].to = val;
        } else {
            l->rec[slot].info = val;
        }
        return true;
    case LBR_REG_ABSENT:
        break;
    }
    if (!host) {
        vpmu_lbr_msr_name(msr, name, sizeof(name));
        if (rsvd) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR %s (0x%" PRIx32
                          ") <- 0x%" PRIx64 ": reserved bits 0x%" PRIx64
                          " set (#GP)\n", name, msr, val, rsvd);
        } else if (reg == LBR_REG_DEPTH) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR %s (0x%" PRIx32
                          ") <- 0x%" PRIx64 ": not a supported depth "
                          "(8..%d in steps of 8) (#GP)\n", name, msr, val,
                          l->cfg.depth);
        } else {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR %s (0x%" PRIx32
                          ") <- 0x%" PRIx64 ": not present in this LBR "
                          "configuration (#GP)\n", name, msr, val);
        }
    }
    return false;
}

/*
 * A record as the legacy MSRs read it (SDM vol. 4, LASTBRANCH_x_FROM_IP
 * by format).  Linux's intel_pmu_lbr_read_64() drops the flag bits and
 * sign-extends what is left, so a canonical address reads back whole.
 */
static void lbr_encode_legacy(int format, uint64_t from, uint64_t to,
                              VPMULbrRecord *r)
{
    switch (format) {
    case VPMU_LBR_FMT_EIP_FLAGS:
        /* FROM[63] MISPRED = 0, address in 62:0 */
        from &= ~(1ULL << 63);
        break;
    case VPMU_LBR_FMT_EIP_FLAGS2:
        /* FROM[63:61] MISPRED, IN_TX, ABORT = 0, address in 60:0 */
        from &= (1ULL << 61) - 1;
        break;
    case VPMU_LBR_FMT_TIME:
        /* FROM[63] MISPRED = 0; TO[63:48] cycle count = 0 */
        from &= ~(1ULL << 63);
        to &= (1ULL << 48) - 1;
        break;
    }
    r->from = from;
    r->to = to;
    /* Formats 5 and 7: MSR_LBR_INFO_x MISPRED, TSX flags, cycles all 0 */
    r->info = 0;
}

bool vpmu_lbr_record(VPMULbrState *l, uint64_t from, uint64_t to,
                     VPMUBranchClass cls, unsigned cpl)
{
    unsigned depth = l->depth;
    bool callstack;

    if (l->cfg.kind == VPMU_LBR_NONE || cls == VPMU_BRANCH_NONE ||
        (unsigned)cls >= ARRAY_SIZE(lbr_classes)) {
        return false;
    }
    if (l->cfg.kind == VPMU_LBR_LEGACY) {
        /*
         * SDM: MSR_LBR_SELECT bits 8:0 suppress; bit 0 ring 0, bit 1
         * rings 1-3, judged by the CPL after the branch (Linux utils.c:
         * "determined by target as is done by HW").
         */
        uint64_t suppress = lbr_classes[cls].select |
            (cpl ? VPMU_LBR_SELECT_CPL_NEQ_0 : VPMU_LBR_SELECT_CPL_EQ_0);

        if (l->select & suppress) {
            l->stats.filtered++;
            return false;
        }
        callstack = l->has_callstack &&
                    (l->select & VPMU_LBR_SELECT_CALLSTACK);
    } else {
        /* SDM: IA32_LBR_CTL bits enable, OS ring 0 and USR rings 1-3. */
        uint64_t need = lbr_classes[cls].ctl |
            (cpl ? VPMU_LBR_CTL_USR : VPMU_LBR_CTL_OS);

        if ((l->ctl & need) != need) {
            l->stats.filtered++;
            return false;
        }
        callstack = l->ctl & VPMU_LBR_CTL_CALL_STACK;
    }

    /*
     * SDM 17.9 call-stack mode: a near RET pops the youngest record
     * (which then reads 0, where Linux stops reading) and records nothing.
     * The SDM wants JCC, jumps and far branches suppressed then; if they
     * are not, they push like calls and a RET pops whatever is youngest
     * [P].
     */
    if (callstack && cls == VPMU_BRANCH_RET) {
        if (l->cfg.kind == VPMU_LBR_LEGACY) {
            memset(&l->rec[l->tos], 0, sizeof(l->rec[0]));
            l->tos = (l->tos - 1) & (depth - 1);
        } else {
            memset(&l->rec[l->top], 0, sizeof(l->rec[0]));
            l->top = (l->top + depth - 1) % depth;
        }
        l->stats.popped++;
        return false;
    }

    if (l->cfg.kind == VPMU_LBR_LEGACY) {
        /* SDM 17.9: TOS "incremented by 1, modulo N, before recording" */
        l->tos = (l->tos + 1) & (depth - 1);
        lbr_encode_legacy(l->cfg.format, from, to, &l->rec[l->tos]);
    } else {
        /*
         * Architectural: the new record becomes entry 0.  CPUID.1CH:EAX
         * bit 31 (LIP) is 0, so FROM/TO are effective addresses; INFO
         * has the branch type, MISPRED 0 and no valid cycle count.
         */
        l->top = (l->top + 1) % depth;
        l->rec[l->top].from = from;
        l->rec[l->top].to = to;
        l->rec[l->top].info = (uint64_t)lbr_classes[cls].br_type <<
                              VPMU_LBR_INFO_BR_TYPE_SHIFT;
    }
    l->stats.recorded++;
    return true;
}

unsigned vpmu_lbr_records_used(const VPMULbrState *l)
{
    unsigned i, slot, n = 0;

    if (l->cfg.kind == VPMU_LBR_LEGACY) {
        for (i = 0; i < (unsigned)l->cfg.depth; i++) {
            n += l->rec[i].from != 0;
        }
    } else if (l->cfg.kind == VPMU_LBR_ARCH) {
        /* Linux's intel_pmu_store_lbr() stops at the first FROM == 0. */
        while (lbr_arch_slot(l, n, &slot) && l->rec[slot].from) {
            n++;
        }
    }
    return n;
}

static bool lbr_load_reg(const char *name, uint64_t val, uint64_t rsvd,
                         const char *why, Error **errp)
{
    if (rsvd) {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                   " sets bits 0x%" PRIx64 " that are reserved in this "
                   "LBR", name, val, rsvd);
        return false;
    }
    if (why) {
        error_setg(errp, "the migration stream's %s = 0x%" PRIx64 "%s",
                   name, val, why);
        return false;
    }
    return true;
}

static bool lbr_check_loaded(const VPMULbrState *l, Error **errp)
{
    static const char absent[] = ", but this LBR has no such register";
    bool legacy = l->cfg.kind == VPMU_LBR_LEGACY;
    bool arch = l->cfg.kind == VPMU_LBR_ARCH;
    /* The records there are: legacy, the fixed depth; arch, DEPTH's. */
    uint64_t depth = legacy ? l->cfg.depth : arch ? l->depth : 0;
    const char *why;
    unsigned i;

    why = l->select && !l->has_select ? absent : NULL;
    if (!lbr_load_reg("MSR_LBR_SELECT", l->select,
                      l->has_select ? l->select & ~l->select_valid : 0, why,
                      errp)) {
        return false;
    }
    why = !legacy && l->tos ? absent :
          legacy && l->tos >= depth ? ", beyond this LBR's records" : NULL;
    if (!lbr_load_reg("MSR_LASTBRANCH_TOS", l->tos, 0, why, errp)) {
        return false;
    }
    why = !arch && l->ctl ? absent : NULL;
    if (!lbr_load_reg("IA32_LBR_CTL", l->ctl,
                      arch ? l->ctl & ~VPMU_LBR_CTL_VALID : 0, why, errp)) {
        return false;
    }
    why = arch && !lbr_arch_depth_ok(l->depth, l->cfg.depth) ?
          ", not a depth this LBR supports" :
          !arch && l->depth != depth ? ", not this LBR's lbr-depth" : NULL;
    if (!lbr_load_reg("IA32_LBR_DEPTH", l->depth, 0, why, errp)) {
        return false;
    }
    if (!arch && l->top) {
        error_setg(errp, "the migration stream's LBR top of stack is %"
                   PRIu32 ", but only architectural LBR has one", l->top);
        return false;
    }
    if (arch && l->top >= depth) {
        error_setg(errp, "the migration stream's LBR top of stack %" PRIu32
                   " is beyond IA32_LBR_DEPTH = %" PRIu64, l->top, depth);
        return false;
    }
    for (i = 0; i < VPMU_LBR_MAX_DEPTH; i++) {
        const VPMULbrRecord *r = &l->rec[i];

        if (i >= depth && (r->from || r->to || r->info)) {
            error_setg(errp, "the migration stream's LBR record %u = "
                       "{0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 "} is "
                       "beyond this LBR's %" PRIu64 " records", i, r->from,
                       r->to, r->info, depth);
            return false;
        }
        if (!l->info_base && r->info) {
            error_setg(errp, "the migration stream's LBR record %u has "
                       "INFO 0x%" PRIx64 ", but lbr-fmt=%d has no "
                       "MSR_LBR_INFO", i, r->info, l->cfg.format);
            return false;
        }
    }
    return true;
}

bool vpmu_lbr_check_loaded(VPMULbrState *l, Error **errp)
{
    if (!lbr_check_loaded(l, errp)) {
        vpmu_lbr_reset(l);
        return false;
    }
    return true;
}

void vpmu_lbr_cpuid_0x1c(const VPMULbrConfig *cfg, uint32_t *eax,
                         uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
    int n;

    *eax = *ebx = *ecx = *edx = 0;
    if (cfg->kind != VPMU_LBR_ARCH) {
        return;
    }
    /*
     * EAX[7:0]: bit n says depth 8(n+1) is supported; bit 30 (deep
     * C-state reset) and bit 31 (LIP: we record effective IPs) are 0.
     */
    for (n = 0; n < 8 && 8 * (n + 1) <= cfg->depth; n++) {
        *eax |= 1u << n;
    }
    /* EBX: CPL filtering, branch filtering, call-stack mode */
    *ebx = 0x7;
    /* ECX: no mispredict bit, no timed LBR; branch type in INFO */
    *ecx = 1u << 2;
}

void vpmu_lbr_msr_name(uint32_t msr, char *buf, size_t len)
{
    static const struct {
        uint32_t base, n;
        const char *pre, *post;
    } blocks[] = {
        { VPMU_LBR_MSR_CORE_FROM, VPMU_LBR_MSR_CORE_N, "MSR_LASTBRANCH_",
          "_FROM_IP" },
        { VPMU_LBR_MSR_CORE_TO, VPMU_LBR_MSR_CORE_N, "MSR_LASTBRANCH_",
          "_TO_IP" },
        { VPMU_LBR_MSR_NHM_FROM, LBR_NHM_N, "MSR_LASTBRANCH_", "_FROM_IP" },
        { VPMU_LBR_MSR_NHM_TO, LBR_NHM_N, "MSR_LASTBRANCH_", "_TO_IP" },
        { VPMU_LBR_MSR_INFO, LBR_NHM_N, "MSR_LBR_INFO_", "" },
        { VPMU_LBR_MSR_ARCH_FROM, LBR_ARCH_N, "IA32_LBR_", "_FROM_IP" },
        { VPMU_LBR_MSR_ARCH_TO, LBR_ARCH_N, "IA32_LBR_", "_TO_IP" },
        { VPMU_LBR_MSR_ARCH_INFO, LBR_ARCH_N, "IA32_LBR_", "_INFO" },
    };
    unsigned i;

    switch (msr) {
    case VPMU_LBR_MSR_SELECT:
        snprintf(buf, len, "MSR_LBR_SELECT");
        return;
    case VPMU_LBR_MSR_TOS:
        snprintf(buf, len, "MSR_LASTBRANCH_TOS");
        return;
    case VPMU_LBR_MSR_ARCH_CTL:
        snprintf(buf, len, "IA32_LBR_CTL");
        return;
    case VPMU_LBR_MSR_ARCH_DEPTH:
        snprintf(buf, len, "IA32_LBR_DEPTH");
        return;
    }
    for (i = 0; i < ARRAY_SIZE(blocks); i++) {
        if (msr - blocks[i].base < blocks[i].n) {
            snprintf(buf, len, "%s%" PRIu32 "%s", blocks[i].pre,
                     msr - blocks[i].base, blocks[i].post);
            return;
        }
    }
    snprintf(buf, len, "MSR 0x%" PRIx32, msr);
}
