/*
 * qemu-vpmu: migration of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A subsection of the CPU's vmstate, sent only for vCPUs whose PMU is
 * ours.  It carries VPMUSavedState through a temporary (VMSTATE_WITH_TMP):
 * the live state holds host-derived fields that must not travel, and the
 * incoming registers go through the model's own checks, like guest input,
 * before they are used.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "migration/vmstate.h"
#include "cpu.h"
#include "hw/i386/vpmu.h"

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
        error_report_err(err);
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_vpmu_tmp = {
    .name = "cpu/vpmu/tmp",
    .pre_save = vpmu_tmp_pre_save,
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

static bool vpmu_needed(void *opaque)
{
    X86CPU *cpu = opaque;

    return cpu->vpmu != NULL;
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
};
