/*
 * qemu-vpmu: migration of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two subsections of the CPU's vmstate can carry a vCPU's PMU:
 * - ours, cpu/vpmu: VPMUSavedState (the configuration, every register,
 *   a pending PMI), through a temporary (VMSTATE_WITH_TMP), since the
 *   live state holds host-derived fields that must not travel;
 * - KVM's, cpu/msr_architectural_pmu: QEMU's env->msr_* PMU fields (what
 *   KVM_GET_MSRS reads), which QEMU without qemu-vpmu sends whenever one
 *   of them is not 0, and loads into KVM's own PMU.
 *
 * The rule (docs/system/i386/vpmu.rst, "Migration"):
 * - A source with the vPMU fills KVM's fields from the model before
 *   saving, so KVM's subsection goes along, and sends cpu/vpmu too; with
 *   the 'kvm' format (vpmu-migration-format, vpmu-set-migration-format)
 *   it sends KVM's subsection only, which QEMU without qemu-vpmu loads:
 *   that is how a fleet rolls back.
 * - A destination with the vPMU takes cpu/vpmu when the stream has it.
 *   Otherwise it imports KVM's subsection, counts and all.  Otherwise the
 *   stream says that the source's PMU registers were all 0 (neither
 *   subsection was needed: a source without a PMU, or KVM's vPMU at its
 *   reset state on kernels that reset GLOBAL_CTRL to 0), and the model
 *   takes that state.  Whatever it loads goes through the model's checks,
 *   like guest input, and a stream that fails them is refused with the
 *   register named.
 *
 * With lbr=on, cpu/vpmu has a subsection, cpu/vpmu/lbr: the LBR's
 * configuration, registers and records (VPMULbrState's serialized
 * fields), checked against this vCPU's LBR like guest input.
 *
 * An AMD PMU's cpu/vpmu has a subsection cpu/vpmu/arch saying so (and
 * whether it has the core extension); it never fills KVM's fields, which
 * are Intel's MSRs.
 *
 * Serialized: VPMUSavedState, the LBR's registers and records, the PMU's
 * arch, KVM's fields.  Rebuilt on load: every host event (the model
 * re-creates those its registers ask for) and the single-step engine's
 * state.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "migration/vmstate.h"
#include "cpu.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-migration.h"
#include "trace.h"

/* KVM's subsection carries 3 fixed counters (QEMU's MAX_FIXED_COUNTERS). */
#define VPMU_KVM_FIXED      MIN(VPMU_MAX_FIXED, MAX_FIXED_COUNTERS)
#define VPMU_FIXED_BIT(i)   (1ULL << (VPMU_FIXED_BASE_BIT + (i)))

static VPMUMigrationFormat vpmu_format = VPMU_MIGRATION_QEMU_VPMU;

/*
 * The vCPUs whose cpu/vpmu came in the stream being loaded: filled by
 * cpu/vpmu's post_load and emptied by the CPU's, which runs after every
 * subsection.  Empty outside a load.
 */
static GHashTable *vpmu_loaded;
/* The same for cpu/vpmu/arch (an AMD PMU's). */
static GHashTable *vpmu_arch_loaded;

void vpmu_migration_set_format(VPMUMigrationFormat format)
{
    vpmu_format = format;
}

VPMUMigrationFormat vpmu_migration_format(void)
{
    return vpmu_format;
}

/*
 * What KVM's subsection cannot say, for a stream that has only it: said
 * at each save, since a stock QEMU destination loses it.
 */
static void vpmu_kvm_format_losses(X86CPU *cpu, const VPMUSavedState *st)
{
    g_autoptr(GString) lost = g_string_new("");
    unsigned i;

    for (i = VPMU_KVM_FIXED; i < VPMU_MAX_FIXED; i++) {
        if (st->value[VPMU_MAX_GP + i] ||
            (st->fixed_ctr_ctrl >> (4 * i)) & 0xf ||
            (st->global_ctrl | st->global_status) & VPMU_FIXED_BIT(i)) {
            g_string_append_printf(lost, ", fixed counter %u", i);
        }
    }
    if (st->debugctl) {
        g_string_append_printf(lost, ", IA32_DEBUGCTL's freeze bits 0x%"
                               PRIx64, st->debugctl);
    }
    if (st->pmi_pending) {
        g_string_append(lost, ", a pending PMI");
    }
    if (cpu->vpmu->lbr.cfg.kind != VPMU_LBR_NONE) {
        g_string_append(lost, ", the LBR registers and records");
    }
    if (lost->len) {
        warn_report("vPMU: CPU %d: vpmu-migration-format=kvm loses%s; the "
                    "destination also cannot check the PMU's configuration",
                    CPU(cpu)->cpu_index, lost->str + 1);
    }
}

/* KVM's PMU fields (cpu/msr_architectural_pmu), all 0: not sent. */
static void vpmu_kvm_fields_clear(CPUX86State *env)
{
    env->msr_fixed_ctr_ctrl = env->msr_global_ctrl = 0;
    env->msr_global_status = env->msr_global_ovf_ctrl = 0;
    memset(env->msr_fixed_counters, 0, sizeof(env->msr_fixed_counters));
    memset(env->msr_gp_counters, 0, sizeof(env->msr_gp_counters));
    memset(env->msr_gp_evtsel, 0, sizeof(env->msr_gp_evtsel));
}

void vpmu_migration_pre_save(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;
    VPMUSavedState st;
    uint64_t not_kvm = 0;       /* bits of the fixed counters KVM's lacks */
    unsigned i;

    if (!cpu->vpmu) {
        return;
    }
    if (cpu->vpmu->cfg.arch == VPMU_ARCH_AMD) {
        /*
         * KVM's subsection holds Intel's MSRs, and QEMU migrates no AMD
         * PMU MSRs: an AMD PMU travels in cpu/vpmu only.
         */
        vpmu_kvm_fields_clear(env);
        if (vpmu_format == VPMU_MIGRATION_KVM) {
            warn_report("vPMU: CPU %d: vpmu-migration-format=kvm loses "
                        "the AMD PMU's registers: QEMU without qemu-vpmu "
                        "migrates none", CPU(cpu)->cpu_index);
        }
        return;
    }
    vpmu_save_state(cpu->vpmu, &st);
    for (i = VPMU_KVM_FIXED; i < VPMU_MAX_FIXED; i++) {
        not_kvm |= VPMU_FIXED_BIT(i);
    }
    env->msr_fixed_ctr_ctrl = st.fixed_ctr_ctrl &
                              ((1ULL << (4 * VPMU_KVM_FIXED)) - 1);
    env->msr_global_ctrl = st.global_ctrl & ~not_kvm;
    env->msr_global_status = st.global_status & ~not_kvm;
    /* A command, not state: KVM reads it as 0. */
    env->msr_global_ovf_ctrl = 0;
    for (i = 0; i < MAX_FIXED_COUNTERS; i++) {
        env->msr_fixed_counters[i] = i < VPMU_KVM_FIXED ?
                                     st.value[VPMU_MAX_GP + i] : 0;
    }
    for (i = 0; i < MAX_GP_COUNTERS; i++) {
        env->msr_gp_counters[i] = i < VPMU_MAX_GP ? st.value[i] : 0;
        env->msr_gp_evtsel[i] = i < VPMU_MAX_GP ? st.eventsel[i] : 0;
    }
    if (vpmu_format == VPMU_MIGRATION_KVM) {
        vpmu_kvm_format_losses(cpu, &st);
    }
}

void vpmu_migration_pre_load(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;

    if (!cpu->vpmu) {
        return;                 /* KVM's fields stay as QEMU has them */
    }
    /* So that KVM's fields say whether its subsection came. */
    vpmu_kvm_fields_clear(env);
    if (vpmu_loaded) {
        g_hash_table_remove(vpmu_loaded, cpu);
    }
    if (vpmu_arch_loaded) {
        g_hash_table_remove(vpmu_arch_loaded, cpu);
    }
}

/* KVM's subsection came: all its fields are 0 only when it did not. */
static bool vpmu_kvm_fields_set(const CPUX86State *env)
{
    unsigned i;

    if (env->msr_fixed_ctr_ctrl || env->msr_global_ctrl ||
        env->msr_global_status || env->msr_global_ovf_ctrl) {
        return true;
    }
    for (i = 0; i < MAX_FIXED_COUNTERS; i++) {
        if (env->msr_fixed_counters[i]) {
            return true;
        }
    }
    for (i = 0; i < MAX_GP_COUNTERS; i++) {
        if (env->msr_gp_counters[i] || env->msr_gp_evtsel[i]) {
            return true;
        }
    }
    return false;
}

/*
 * KVM's fields as VPMUSavedState, for this vPMU's configuration (KVM's
 * subsection has none to check).  Counters our model cannot hold must be
 * empty; IA32_PERF_GLOBAL_OVF_CTRL is a command, not state, but must not
 * set bits no PMU has.
 */
static bool vpmu_import_kvm(X86CPU *cpu, VPMUSavedState *st, Error **errp)
{
    const VPMUConfig *cfg = &cpu->vpmu->cfg;
    CPUX86State *env = &cpu->env;
    char name[32];
    unsigned i;

    vpmu_saved_state_init(st, cfg);
    for (i = VPMU_MAX_GP; i < MAX_GP_COUNTERS; i++) {
        uint32_t msr = env->msr_gp_counters[i] ? VPMU_MSR_PMC0 + i
                                               : VPMU_MSR_PERFEVTSEL0 + i;
        uint64_t val = env->msr_gp_counters[i] ?: env->msr_gp_evtsel[i];

        if (val) {
            snprintf(name, sizeof(name), "%s%u", msr == VPMU_MSR_PMC0 + i ?
                     "IA32_PMC" : "IA32_PERFEVTSEL", i);
            error_setg(errp, "the migration stream's %s = 0x%" PRIx64
                       ", but this PMU has %d general-purpose counters",
                       name, val, cfg->nr_gp);
            return false;
        }
    }
    if (env->msr_global_ovf_ctrl & 0x3fffff00ffffff00ULL) {
        error_setg(errp, "the migration stream's "
                   "IA32_PERF_GLOBAL_OVF_CTRL = 0x%" PRIx64 " sets reserved "
                   "bits", env->msr_global_ovf_ctrl);
        return false;
    }
    st->fixed_ctr_ctrl = env->msr_fixed_ctr_ctrl;
    st->global_ctrl = env->msr_global_ctrl;
    st->global_status = env->msr_global_status;
    for (i = 0; i < VPMU_MAX_GP; i++) {
        st->eventsel[i] = env->msr_gp_evtsel[i];
        st->value[i] = env->msr_gp_counters[i];
    }
    for (i = 0; i < VPMU_KVM_FIXED; i++) {
        st->value[VPMU_MAX_GP + i] = env->msr_fixed_counters[i];
    }
    return true;
}

/*
 * An AMD PMU's stream: cpu/vpmu with cpu/vpmu/arch, whose post_load has
 * compared the two PMUs.  Without cpu/vpmu/arch the stream's PMU was
 * Intel's; without cpu/vpmu it carries no AMD PMU at all (QEMU without
 * qemu-vpmu migrates none), and the PMU stays in its reset state.
 */
static int vpmu_amd_post_load(X86CPU *cpu)
{
    bool came = vpmu_loaded && g_hash_table_remove(vpmu_loaded, cpu);
    bool arch = vpmu_arch_loaded && g_hash_table_remove(vpmu_arch_loaded,
                                                        cpu);

    if (came && !arch) {
        error_report("vPMU: CPU %d: the migration stream's PMU is Intel's, "
                     "this vCPU's AMD's: start the destination with the "
                     "source's CPU vendor and pmu-arch", CPU(cpu)->cpu_index);
        return -EINVAL;
    }
    if (!came && vpmu_kvm_fields_set(&cpu->env)) {
        error_report("vPMU: CPU %d: the migration stream carries an Intel "
                     "PMU's registers (cpu/msr_architectural_pmu), and this "
                     "vCPU has AMD's: start the destination with the "
                     "source's CPU vendor and pmu-arch", CPU(cpu)->cpu_index);
        return -EINVAL;
    }
    if (!came) {
        trace_vpmu_migration_import(CPU(cpu)->cpu_index, "none");
    }
    return 0;
}

int vpmu_migration_post_load(X86CPU *cpu)
{
    VPMUSavedState st;
    Error *err = NULL;
    const char *from;

    if (!cpu->vpmu) {
        return 0;
    }
    if (cpu->vpmu->cfg.arch == VPMU_ARCH_AMD) {
        return vpmu_amd_post_load(cpu);
    }
    if (vpmu_arch_loaded) {
        g_hash_table_remove(vpmu_arch_loaded, cpu);
    }
    if (vpmu_loaded && g_hash_table_remove(vpmu_loaded, cpu)) {
        return 0;               /* cpu/vpmu came, and is loaded */
    }
    if (vpmu_kvm_fields_set(&cpu->env)) {
        from = "kvm";
        if (!vpmu_import_kvm(cpu, &st, &err)) {
            goto fail;
        }
    } else {
        /* Neither subsection: every PMU register of the source was 0. */
        from = "none";
        vpmu_import_kvm(cpu, &st, &error_abort);
    }
    if (!vpmu_load_state(cpu->vpmu, &st, &err)) {
        goto fail;
    }
    trace_vpmu_migration_import(CPU(cpu)->cpu_index, from);
    return 0;

fail:
    error_prepend(&err, "vPMU: CPU %d, from KVM's PMU subsection "
                  "(cpu/msr_architectural_pmu): ", CPU(cpu)->cpu_index);
    error_report_err(err);
    return -1;
}

typedef struct VPMUMigTmp {
    X86CPU *parent;
    VPMUSavedState st;
} VPMUMigTmp;

static int vpmu_tmp_pre_save(void *opaque)
{
    VPMUMigTmp *tmp = opaque;

    vpmu_save_state(tmp->parent->vpmu, &tmp->st);
    return 0;
}

/*
 * What cpu/vpmu does not carry: the PMU's arch and core extension come in
 * cpu/vpmu/arch, checked there and in the CPU's post_load (after this
 * one); until then, this vCPU's.
 */
static int vpmu_tmp_pre_load(void *opaque)
{
    VPMUMigTmp *tmp = opaque;
    VPMUState *s = tmp->parent->vpmu;

    memset(&tmp->st, 0, sizeof(tmp->st));
    tmp->st.arch = s ? s->cfg.arch : VPMU_ARCH_INTEL;
    tmp->st.amd_perfctr_core = s && s->cfg.amd_perfctr_core;
    return 0;
}

static int vpmu_tmp_post_load(void *opaque, int version_id)
{
    VPMUMigTmp *tmp = opaque;
    Error *err = NULL;

    if (!tmp->parent->vpmu) {
        error_report("vPMU: the migration stream has a userspace vPMU for "
                     "CPU %d, which has none here; start it with pmu=on and "
                     "-accel kvm,vpmu=userspace",
                     CPU(tmp->parent)->cpu_index);
        return -EINVAL;
    }
    if (!vpmu_load_state(tmp->parent->vpmu, &tmp->st, &err)) {
        error_prepend(&err, "vPMU: CPU %d: ", CPU(tmp->parent)->cpu_index);
        error_report_err(err);
        return -EINVAL;
    }
    if (!vpmu_loaded) {
        vpmu_loaded = g_hash_table_new(NULL, NULL);
    }
    g_hash_table_add(vpmu_loaded, tmp->parent);
    trace_vpmu_migration_import(CPU(tmp->parent)->cpu_index, "qemu-vpmu");
    return 0;
}

static const VMStateDescription vmstate_vpmu_tmp = {
    .name = "cpu/vpmu/tmp",
    .pre_save = vpmu_tmp_pre_save,
    .pre_load = vpmu_tmp_pre_load,
    .post_load = vpmu_tmp_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(st.version, VPMUMigTmp),
        VMSTATE_INT32(st.nr_gp, VPMUMigTmp),
        VMSTATE_INT32(st.nr_fixed, VPMUMigTmp),
        VMSTATE_INT32(st.gp_width, VPMUMigTmp),
        VMSTATE_INT32(st.fixed_width, VPMUMigTmp),
        VMSTATE_UINT64(st.perf_capabilities, VPMUMigTmp),
        VMSTATE_UINT64(st.global_ctrl, VPMUMigTmp),
        VMSTATE_UINT64(st.global_status, VPMUMigTmp),
        VMSTATE_UINT64(st.fixed_ctr_ctrl, VPMUMigTmp),
        VMSTATE_UINT64(st.debugctl, VPMUMigTmp),
        VMSTATE_UINT64_ARRAY(st.eventsel, VPMUMigTmp, VPMU_MAX_GP),
        VMSTATE_UINT64_ARRAY(st.value, VPMUMigTmp, VPMU_MAX_COUNTERS),
        VMSTATE_BOOL(st.pmi_pending, VPMUMigTmp),
        VMSTATE_END_OF_LIST()
    },
};

typedef struct VPMULbrMigTmp {
    X86CPU *parent;
    VPMULbrState lbr;           /* only the serialized fields travel */
} VPMULbrMigTmp;

static int vpmu_lbr_tmp_pre_save(void *opaque)
{
    VPMULbrMigTmp *tmp = opaque;

    tmp->lbr = tmp->parent->vpmu->lbr;
    return 0;
}

/*
 * After cpu/vpmu's fields (which reset the LBR with the rest of the
 * model): the stream's LBR must be this vCPU's, its registers valid.
 */
static int vpmu_lbr_tmp_post_load(void *opaque, int version_id)
{
    VPMULbrMigTmp *tmp = opaque;
    VPMULbrState *l = &tmp->parent->vpmu->lbr;
    const VPMULbrConfig *in = &tmp->lbr.cfg;
    Error *err = NULL;

    /* The quirks are the CPU model's, and change which MSRs exist. */
    if (in->kind != l->cfg.kind || in->format != l->cfg.format ||
        in->depth != l->cfg.depth || in->quirks != l->cfg.quirks) {
        error_report("vPMU: CPU %d: the migration stream's LBR is %s, "
                     "format 0x%x, depth %d, quirks 0x%x; this one is %s, "
                     "format 0x%x, depth %d, quirks 0x%x: start the "
                     "destination with the source's CPU model, lbr, "
                     "arch-lbr, lbr-fmt and lbr-depth",
                     CPU(tmp->parent)->cpu_index,
                     in->kind == VPMU_LBR_ARCH ? "architectural" :
                     in->kind == VPMU_LBR_LEGACY ? "legacy" : "off",
                     in->format, in->depth, in->quirks,
                     l->cfg.kind == VPMU_LBR_ARCH ? "architectural" :
                     l->cfg.kind == VPMU_LBR_LEGACY ? "legacy" : "off",
                     l->cfg.format, l->cfg.depth, l->cfg.quirks);
        return -EINVAL;
    }
    l->select = tmp->lbr.select;
    l->tos = tmp->lbr.tos;
    l->ctl = tmp->lbr.ctl;
    l->depth = tmp->lbr.depth;
    l->top = tmp->lbr.top;
    memcpy(l->rec, tmp->lbr.rec, sizeof(l->rec));
    if (!vpmu_lbr_check_loaded(l, &err)) {
        error_prepend(&err, "vPMU: CPU %d: the migration stream's LBR: ",
                      CPU(tmp->parent)->cpu_index);
        error_report_err(err);
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_vpmu_lbr_record = {
    .name = "cpu/vpmu/lbr/record",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(from, VPMULbrRecord),
        VMSTATE_UINT64(to, VPMULbrRecord),
        VMSTATE_UINT64(info, VPMULbrRecord),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_vpmu_lbr_tmp = {
    .name = "cpu/vpmu/lbr/tmp",
    .pre_save = vpmu_lbr_tmp_pre_save,
    .post_load = vpmu_lbr_tmp_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(lbr.cfg.kind, VPMULbrMigTmp),
        VMSTATE_INT32(lbr.cfg.format, VPMULbrMigTmp),
        VMSTATE_INT32(lbr.cfg.depth, VPMULbrMigTmp),
        VMSTATE_INT32(lbr.cfg.quirks, VPMULbrMigTmp),
        VMSTATE_UINT64(lbr.select, VPMULbrMigTmp),
        VMSTATE_UINT64(lbr.tos, VPMULbrMigTmp),
        VMSTATE_UINT64(lbr.ctl, VPMULbrMigTmp),
        VMSTATE_UINT64(lbr.depth, VPMULbrMigTmp),
        VMSTATE_UINT32(lbr.top, VPMULbrMigTmp),
        /*
         * Version 0, this description's: a field of a higher version than
         * its description's is skipped on save and load alike.
         */
        VMSTATE_STRUCT_ARRAY(lbr.rec, VPMULbrMigTmp, VPMU_LBR_MAX_DEPTH, 0,
                             vmstate_vpmu_lbr_record, VPMULbrRecord),
        VMSTATE_END_OF_LIST()
    },
};

static bool vpmu_lbr_needed(void *opaque)
{
    X86CPU *cpu = opaque;

    return cpu->vpmu && cpu->vpmu->lbr.cfg.kind != VPMU_LBR_NONE;
}

static const VMStateDescription vmstate_vpmu_lbr = {
    .name = "cpu/vpmu/lbr",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = vpmu_lbr_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_WITH_TMP(X86CPU, VPMULbrMigTmp, vmstate_vpmu_lbr_tmp),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * cpu/vpmu/arch: whose PMU cpu/vpmu's registers are, for PMUs other than
 * Intel's (whose streams, from before AMD PMUs, lack it).
 */
typedef struct VPMUArchMigTmp {
    X86CPU *parent;
    int32_t arch;               /* VPMUArch */
    bool amd_perfctr_core;
} VPMUArchMigTmp;

static int vpmu_arch_tmp_pre_save(void *opaque)
{
    VPMUArchMigTmp *tmp = opaque;

    tmp->arch = tmp->parent->vpmu->cfg.arch;
    tmp->amd_perfctr_core = tmp->parent->vpmu->cfg.amd_perfctr_core;
    return 0;
}

static int vpmu_arch_tmp_post_load(void *opaque, int version_id)
{
    VPMUArchMigTmp *tmp = opaque;
    const VPMUConfig *cfg = &tmp->parent->vpmu->cfg;

    if (tmp->arch != cfg->arch ||
        tmp->amd_perfctr_core != cfg->amd_perfctr_core) {
        error_report("vPMU: CPU %d: the migration stream's PMU is %s%s, "
                     "this vCPU's %s%s: start the destination with the "
                     "source's CPU vendor, pmu-arch and perfctr-core",
                     CPU(tmp->parent)->cpu_index,
                     tmp->arch == VPMU_ARCH_AMD ? "AMD's" : "Intel's",
                     tmp->arch == VPMU_ARCH_AMD && tmp->amd_perfctr_core ?
                     " with perfctr-core" : "",
                     cfg->arch == VPMU_ARCH_AMD ? "AMD's" : "Intel's",
                     cfg->arch == VPMU_ARCH_AMD && cfg->amd_perfctr_core ?
                     " with perfctr-core" : "");
        return -EINVAL;
    }
    if (!vpmu_arch_loaded) {
        vpmu_arch_loaded = g_hash_table_new(NULL, NULL);
    }
    g_hash_table_add(vpmu_arch_loaded, tmp->parent);
    return 0;
}

static const VMStateDescription vmstate_vpmu_arch_tmp = {
    .name = "cpu/vpmu/arch/tmp",
    .pre_save = vpmu_arch_tmp_pre_save,
    .post_load = vpmu_arch_tmp_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(arch, VPMUArchMigTmp),
        VMSTATE_BOOL(amd_perfctr_core, VPMUArchMigTmp),
        VMSTATE_END_OF_LIST()
    },
};

static bool vpmu_arch_needed(void *opaque)
{
    X86CPU *cpu = opaque;

    return cpu->vpmu && cpu->vpmu->cfg.arch != VPMU_ARCH_INTEL;
}

static const VMStateDescription vmstate_vpmu_arch = {
    .name = "cpu/vpmu/arch",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = vpmu_arch_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_WITH_TMP(X86CPU, VPMUArchMigTmp, vmstate_vpmu_arch_tmp),
        VMSTATE_END_OF_LIST()
    },
};

/* Not with the 'kvm' format, whose streams QEMU without qemu-vpmu loads. */
static bool vpmu_needed(void *opaque)
{
    X86CPU *cpu = opaque;

    return cpu->vpmu != NULL && vpmu_format != VPMU_MIGRATION_KVM;
}

const VMStateDescription vmstate_vpmu = {
    .name = "cpu/vpmu",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = vpmu_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_WITH_TMP(X86CPU, VPMUMigTmp, vmstate_vpmu_tmp),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_vpmu_lbr,
        &vmstate_vpmu_arch,
        NULL
    },
};
