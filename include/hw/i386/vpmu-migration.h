/*
 * qemu-vpmu: migration of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hooks target/i386/machine.c calls, and the choice of what a source
 * sends.  See hw/i386/vpmu/vpmu-vmstate.c for the rule.
 */
#ifndef HW_I386_VPMU_MIGRATION_H
#define HW_I386_VPMU_MIGRATION_H

#include "migration/vmstate.h"

/* What a source with the userspace vPMU sends for each vCPU's PMU. */
typedef enum VPMUMigrationFormat {
    /* cpu/vpmu, and KVM's cpu/msr_architectural_pmu beside it. */
    VPMU_MIGRATION_QEMU_VPMU,
    /* KVM's subsection only: a QEMU without qemu-vpmu can load it. */
    VPMU_MIGRATION_KVM,
} VPMUMigrationFormat;

extern const VMStateDescription vmstate_vpmu;

void vpmu_migration_set_format(VPMUMigrationFormat format);
VPMUMigrationFormat vpmu_migration_format(void);

/* From the CPU's vmstate (target/i386/machine.c). */
void vpmu_migration_pre_save(X86CPU *cpu);
void vpmu_migration_pre_load(X86CPU *cpu);
/* 0, or -1 after saying why the stream cannot be loaded. */
int vpmu_migration_post_load(X86CPU *cpu);

#endif
