/*
 * qemu-vpmu: QMP and HMP without the userspace vPMU (built without KVM)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The schema is x86's whatever the accelerators, so its commands exist;
 * without KVM there is no vPMU for them to act on.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-vpmu.h"
#include "monitor/hmp.h"
#include "monitor/hmp-target.h"
#include "monitor/monitor.h"

#define VPMU_UNAVAILABLE "the userspace vPMU needs KVM, and this QEMU " \
                         "is built without it"

VpmuInfoList *qmp_query_vpmu(Error **errp)
{
    return NULL;
}

void qmp_vpmu_reclaim(bool has_cpu_index, int64_t cpu_index,
                      bool has_resources, VpmuResourceList *resources,
                      Error **errp)
{
    error_setg(errp, VPMU_UNAVAILABLE);
}

void qmp_vpmu_restore(bool has_cpu_index, int64_t cpu_index,
                      bool has_resources, VpmuResourceList *resources,
                      Error **errp)
{
    error_setg(errp, VPMU_UNAVAILABLE);
}

void qmp_vpmu_set_filter(VpmuFilter *filter, Error **errp)
{
    error_setg(errp, VPMU_UNAVAILABLE);
}

void qmp_vpmu_set_migration_format(VpmuMigrationFormat format, Error **errp)
{
    error_setg(errp, VPMU_UNAVAILABLE);
}

VpmuFilter *qmp_query_vpmu_filter(Error **errp)
{
    error_setg(errp, VPMU_UNAVAILABLE);
    return NULL;
}

void hmp_info_vpmu(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "No vPMU: %s\n", VPMU_UNAVAILABLE);
}
