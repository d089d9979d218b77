/*
 * qemu-vpmu: helpers shared by the management layer's files
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_MGMT_H
#define HW_I386_VPMU_MGMT_H

#include "qapi/qapi-types-vpmu.h"
#include "hw/i386/vpmu-perf.h"

/* @cs as an X86CPU when it has a userspace vPMU, else NULL. */
X86CPU *vpmu_mgmt_cpu(CPUState *cs);
/* What the host does for @slot, as query-vpmu says it (vCPU thread). */
VpmuHostState vpmu_mgmt_host_state(X86CPU *cpu, unsigned slot,
                                   const VPMUPerfSlotInfo *info);
/* Why the host cannot count a counter in state error (g_free it). */
char *vpmu_mgmt_host_error(const VPMUPerfSlotInfo *info);
/* What the host does for the vCPU's LBR (it has one; vCPU thread). */
VpmuLbrHostState vpmu_mgmt_lbr_state(X86CPU *cpu);
/* A backend slot as QMP names it: gp 0..7, fixed 0..3. */
void vpmu_mgmt_slot_id(unsigned slot, VpmuCounterKind *kind, int64_t *index);

#endif
