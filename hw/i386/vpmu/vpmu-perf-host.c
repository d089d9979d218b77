/*
 * qemu-vpmu: what the host allows the perf backend, and the mode it runs
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Hardware mode counts guest events on the host PMU with raw,
 * guest-only (exclude_host) events.  Three things can rule it out:
 * - the host cannot open such an event at all (no PMU,
 *   perf_event_paranoid...), or its PMU is not of the guest PMU's vendor:
 *   raw events are the guest's Intel or AMD encodings, which mean other
 *   events, or none, on the other vendor's PMU;
 * - KVM's mediated vPMU is enabled (Linux 7.0, kvm_intel or kvm_amd's
 *   enable_mediated_pmu): perf then counts events that include the guest
 *   (exclude_guest=0, as ours) against mediated-vPMU VMs host-wide
 *   (mediated_pmu_account_event, perf_create_mediated_pmu): while one
 *   such VM runs our opens fail with EOPNOTSUPP, and while our events
 *   exist such a VM's first vCPU fails with EBUSY;
 * - a hybrid host (P- and E-cores) whose PERF_TYPE_RAW goes to the
 *   P-core PMU (cpu_core) only: a vCPU thread on an E-core would count
 *   nothing there, and its events are not even in error.  Hardware mode
 *   runs there only when QEMU is confined to cpu_core's CPUs.
 * The choice is a pure function of these facts, for unit tests.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "hw/i386/vpmu-perf-host.h"

#include <cpuid.h>
#include <sched.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#define VPMU_MAX_HOST_CPUS 8192

static const struct {
    const char *path, *name;
} vpmu_mediated_params[] = {
    { "/sys/module/kvm_intel/parameters/enable_mediated_pmu",
      "kvm_intel.enable_mediated_pmu" },
    { "/sys/module/kvm_amd/parameters/enable_mediated_pmu",
      "kvm_amd.enable_mediated_pmu" },
};

#define VPMU_SYSFS_PMUS "/sys/bus/event_source/devices"

/* "0-3,8,10-11" as a bitmap; NULL for a malformed list. */
static unsigned long *vpmu_cpu_list_parse(const char *list)
{
    unsigned long *map;
    const char *p = list;

    if (!list) {
        return NULL;
    }
    map = bitmap_new(VPMU_MAX_HOST_CPUS);

    while (*p && *p != '\n') {
        const char *end;
        unsigned long a, b;

        if (qemu_strtoul(p, &end, 10, &a) < 0) {
            goto bad;
        }
        b = a;
        if (*end == '-') {
            p = end + 1;
            if (qemu_strtoul(p, &end, 10, &b) < 0) {
                goto bad;
            }
        }
        if (a > b || b >= VPMU_MAX_HOST_CPUS) {
            goto bad;
        }
        bitmap_set(map, a, b - a + 1);
        p = *end == ',' ? end + 1 : end;
    }
    return map;

bad:
    g_free(map);
    return NULL;
}

/* Is every CPU of @cpus in @of?  False where a list does not parse. */
static bool vpmu_cpu_list_subset(const char *cpus, const char *of)
{
    g_autofree unsigned long *a = vpmu_cpu_list_parse(cpus);
    g_autofree unsigned long *b = vpmu_cpu_list_parse(of);

    if (!a || !b || bitmap_empty(a, VPMU_MAX_HOST_CPUS)) {
        return false;
    }
    bitmap_andnot(a, a, b, VPMU_MAX_HOST_CPUS);
    return bitmap_empty(a, VPMU_MAX_HOST_CPUS);
}

/* The vendor's name whose events a guest PMU of @arch has. */
static const char *vpmu_arch_vendor(int arch)
{
    return arch == VPMU_ARCH_AMD ? "AMD" : "Intel";
}

bool vpmu_perf_host_choose(const VPMUPerfHost *h, int arch,
                           VPMUPerfMode asked, VPMUPerfMode *mode,
                           char **why, bool *warn, Error **errp)
{
    g_autofree char *no = NULL;
    bool same_vendor = arch == VPMU_ARCH_AMD ? h->amd : h->intel;

    *warn = false;
    if (asked == VPMU_PERF_SOFTWARE) {
        *mode = VPMU_PERF_SOFTWARE;
        *why = g_strdup("vPMU: software mode, as vpmu-backend=software "
                        "asks: unhalted-cycle events count the vCPU "
                        "thread's task-clock scaled by the TSC frequency, "
                        "other events do not count");
        return true;
    }
    if (h->mediated_param) {
        no = g_strdup_printf("KVM's mediated vPMU is enabled on this host "
                             "(%s=Y): perf counts guest-counting events "
                             "like ours against mediated-vPMU VMs "
                             "host-wide, so our events would fail while one "
                             "runs and would keep any from starting; turn "
                             "the parameter off to count on the host PMU",
                             h->mediated_param);
    } else if (h->probe_errno) {
        no = g_strdup_printf("perf_event_open of CPU cycles: %s; %s",
                             strerror(h->probe_errno),
                             vpmu_perf_hint(h->probe_errno));
    } else if (!same_vendor) {
        no = g_strdup_printf("the guest has %s's PMU, but the host CPU is "
                             "not %s's: its PMU does not count %s event "
                             "encodings", vpmu_arch_vendor(arch),
                             vpmu_arch_vendor(arch), vpmu_arch_vendor(arch));
    } else if (h->core_cpus && h->atom_cpus &&
               !vpmu_cpu_list_subset(h->affinity, h->core_cpus)) {
        no = g_strdup_printf("this host's CPUs are of two types (cpu_core: "
                             "%s, cpu_atom: %s) and its raw events count on "
                             "cpu_core only, but QEMU may run on CPUs %s; "
                             "confine it to cpu_core's CPUs (taskset -c %s, "
                             "or libvirt's <vcpu cpuset='%s'>)",
                             h->core_cpus, h->atom_cpus,
                             h->affinity ? h->affinity : "(unknown)",
                             h->core_cpus, h->core_cpus);
    }
    if (no && asked == VPMU_PERF_HARDWARE) {
        error_setg(errp, "vPMU: vpmu-backend=hardware, but the host cannot "
                   "count guest events: %s; use vpmu-backend=auto or "
                   "software here", no);
        return false;
    }
    if (no) {
        *mode = VPMU_PERF_SOFTWARE;
        *warn = true;
        *why = g_strdup_printf("vPMU: no usable host PMU (%s); software "
                               "mode: unhalted-cycle events count the vCPU "
                               "thread's task-clock scaled by the TSC "
                               "frequency, other events do not count", no);
        return true;
    }
    *mode = VPMU_PERF_HARDWARE;
    *why = h->core_cpus && h->atom_cpus ?
        g_strdup_printf("vPMU: counting guest events on the host PMU "
                        "(hardware mode), on cpu_core, to whose CPUs (%s) "
                        "QEMU is confined", h->core_cpus) :
        g_strdup("vPMU: counting guest events on the host PMU (hardware "
                 "mode)");
    return true;
}

/* "HygonGenuine": Hygon's CPUs have AMD's PMU (Linux amd_pmu_init). */
#define VPMU_HYGON_EBX 0x6f677948
#define VPMU_HYGON_EDX 0x6e65476e
#define VPMU_HYGON_ECX 0x656e6975

/*
 * Guest events are the encodings of the guest PMU's vendor: only a host
 * PMU of that vendor counts them.
 */
static void vpmu_host_vendor(VPMUPerfHost *h)
{
    unsigned int eax, ebx, ecx, edx;

    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
        return;
    }
    h->intel = ebx == signature_INTEL_ebx && ecx == signature_INTEL_ecx &&
               edx == signature_INTEL_edx;
    h->amd = (ebx == signature_AMD_ebx && ecx == signature_AMD_ecx &&
              edx == signature_AMD_edx) ||
             (ebx == VPMU_HYGON_EBX && ecx == VPMU_HYGON_ECX &&
              edx == VPMU_HYGON_EDX);
}

/* Can this host count guest-only hardware events?  0, or an errno. */
static int vpmu_host_probe_open(void)
{
    struct perf_event_attr attr = {
        .type = PERF_TYPE_HARDWARE,
        .size = sizeof(attr),
        .config = PERF_COUNT_HW_CPU_CYCLES,
        .disabled = 1,
        .exclude_host = 1,
    };
    int fd = syscall(__NR_perf_event_open, &attr, 0, -1, -1,
                     PERF_FLAG_FD_CLOEXEC);

    if (fd < 0) {
        return errno;
    }
    close(fd);
    return 0;
}

static char *vpmu_read_sysfs(const char *path)
{
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return NULL;
    }
    g_strstrip(text);
    return text;
}

/* The CPUs this process may run on, as a list ("0-3,8"). */
static char *vpmu_affinity_list(void)
{
    g_autoptr(GString) list = g_string_new("");
    cpu_set_t set;
    int cpu, first = -1;

    if (sched_getaffinity(0, sizeof(set), &set) < 0) {
        return NULL;
    }
    for (cpu = 0; cpu <= CPU_SETSIZE; cpu++) {
        bool in = cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set);

        if (in && first < 0) {
            first = cpu;
        } else if (!in && first >= 0) {
            g_string_append_printf(list, "%s%d", list->len ? "," : "", first);
            if (cpu - 1 > first) {
                g_string_append_printf(list, "-%d", cpu - 1);
            }
            first = -1;
        }
    }
    return g_string_free(g_steal_pointer(&list), false);
}

void vpmu_perf_host_probe(VPMUPerfHost *h)
{
    unsigned i;

    memset(h, 0, sizeof(*h));
    h->probe_errno = vpmu_host_probe_open();
    vpmu_host_vendor(h);
    for (i = 0; i < ARRAY_SIZE(vpmu_mediated_params); i++) {
        g_autofree char *v = vpmu_read_sysfs(vpmu_mediated_params[i].path);

        if (v && (!strcmp(v, "Y") || !strcmp(v, "1"))) {
            h->mediated_param = vpmu_mediated_params[i].name;
        }
    }
    h->core_cpus = vpmu_read_sysfs(VPMU_SYSFS_PMUS "/cpu_core/cpus");
    h->atom_cpus = vpmu_read_sysfs(VPMU_SYSFS_PMUS "/cpu_atom/cpus");
    h->affinity = vpmu_affinity_list();
}

void vpmu_perf_host_free(VPMUPerfHost *h)
{
    g_free(h->core_cpus);
    g_free(h->atom_cpus);
    g_free(h->affinity);
}
