/*
 * qemu-vpmu: host backend on Linux perf_event_open
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each programmed counter slot is one perf event attached to the vCPU
 * thread.  Events are opened disabled and started with
 * PERF_EVENT_IOC_ENABLE, so that the model's enable-bit fast path costs an
 * ioctl and never an open.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "hw/i386/vpmu-perf.h"
#include "trace.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

struct VPMUPerf {
    int tid;                        /* vCPU thread; 0 until attached */
    uint64_t tsc_khz;
    int fd[VPMU_MAX_COUNTERS];      /* -1: no host event */
};

static VPMUPerfMode vpmu_perf_global_mode;
static bool vpmu_perf_probed;

/* Fields of IA32_PERFEVTSELx that select and qualify the event. */
#define VPMU_RAW_EVENT_MASK (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK | \
                             VPMU_EVTSEL_EDGE | VPMU_EVTSEL_ANY | \
                             VPMU_EVTSEL_INV | VPMU_EVTSEL_CMASK)

static int perf_event_open(struct perf_event_attr *attr, int tid)
{
    return syscall(__NR_perf_event_open, attr, tid, -1, -1,
                   PERF_FLAG_FD_CLOEXEC);
}

static const char *vpmu_perf_hint(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return "perf_event_paranoid forbids it: run QEMU with CAP_PERFMON, "
               "or set the sysctl kernel.perf_event_paranoid to 1 or less";
    case EMFILE:
    case ENFILE:
        return "too many open files: raise the limit (ulimit -n)";
    case EBUSY:
        return "the host PMU is taken by another user (e.g. a pinned perf "
               "session or the NMI watchdog)";
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
        return "the host PMU does not support this event";
    default:
        return "see perf_event_open(2)";
    }
}

static void vpmu_perf_probe(void)
{
    struct perf_event_attr attr = {
        .type = PERF_TYPE_HARDWARE,
        .size = sizeof(attr),
        .config = PERF_COUNT_HW_CPU_CYCLES,
        .disabled = 1,
        .exclude_host = 1,
    };
    int fd;

    if (vpmu_perf_probed) {
        return;
    }
    vpmu_perf_probed = true;

    fd = perf_event_open(&attr, 0);
    if (fd >= 0) {
        close(fd);
        vpmu_perf_global_mode = VPMU_PERF_HARDWARE;
        info_report("vPMU: counting guest events on the host PMU "
                    "(hardware mode)");
        return;
    }
    vpmu_perf_global_mode = VPMU_PERF_SOFTWARE;
    warn_report("vPMU: no usable host PMU (perf_event_open of CPU cycles: "
                "%s; %s); software mode: unhalted-cycle events count the "
                "vCPU thread's task-clock scaled by the TSC frequency, "
                "other events do not count", strerror(errno),
                vpmu_perf_hint(errno));
}

VPMUPerf *vpmu_perf_new(Error **errp)
{
    VPMUPerf *p = g_new0(VPMUPerf, 1);
    unsigned i;

    vpmu_perf_probe();
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        p->fd[i] = -1;
    }
    return p;
}

void vpmu_perf_attach(VPMUPerf *p, int tid, uint64_t tsc_khz)
{
    p->tid = tid;
    p->tsc_khz = tsc_khz;
}

VPMUPerfMode vpmu_perf_mode(const VPMUPerf *p)
{
    return vpmu_perf_global_mode;
}

unsigned vpmu_perf_open_fds(const VPMUPerf *p)
{
    unsigned i, n = 0;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        n += p->fd[i] >= 0;
    }
    return n;
}

/* Is this one of the cycle events that software mode can approximate? */
static bool vpmu_perf_is_cycles(const VPMUHostEvent *ev)
{
    switch (ev->eventsel & (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK)) {
    case VPMU_EVENT_CORE_CYCLES:
    case VPMU_EVENT_REF_CYCLES:
    case VPMU_EVENT_FIXED_REF_CYCLES:
        /* Edge, invert and cmask change what is counted: not a plain count. */
        return !(ev->eventsel & (VPMU_EVTSEL_EDGE | VPMU_EVTSEL_INV |
                                 VPMU_EVTSEL_CMASK));
    default:
        return false;
    }
}

static bool vpmu_perf_attr(const VPMUHostEvent *ev,
                           struct perf_event_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->size = sizeof(*attr);
    attr->disabled = 1;
    attr->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
                        PERF_FORMAT_TOTAL_TIME_RUNNING;

    if (vpmu_perf_global_mode == VPMU_PERF_SOFTWARE) {
        if (!vpmu_perf_is_cycles(ev) ||
            !(ev->eventsel & (VPMU_EVTSEL_USR | VPMU_EVTSEL_OS))) {
            return false;
        }
        attr->type = PERF_TYPE_SOFTWARE;
        attr->config = PERF_COUNT_SW_TASK_CLOCK;
        return true;
    }

    attr->type = PERF_TYPE_RAW;
    attr->config = ev->eventsel & VPMU_RAW_EVENT_MASK;
    attr->exclude_user = !(ev->eventsel & VPMU_EVTSEL_USR);
    attr->exclude_kernel = !(ev->eventsel & VPMU_EVTSEL_OS);
    /* Count the guest only: the host's own work must not show. */
    attr->exclude_host = 1;
    attr->pinned = 1;
    return true;
}

static void vpmu_perf_release(void *opaque, unsigned slot)
{
    VPMUPerf *p = opaque;

    if (p->fd[slot] >= 0) {
        trace_vpmu_perf_close(slot, p->fd[slot]);
        close(p->fd[slot]);
        p->fd[slot] = -1;
    }
}

static bool vpmu_perf_program(void *opaque, unsigned slot,
                              const VPMUHostEvent *ev)
{
    VPMUPerf *p = opaque;
    struct perf_event_attr attr;
    int fd;

    vpmu_perf_release(p, slot);
    if (!vpmu_perf_attr(ev, &attr)) {
        trace_vpmu_perf_unsupported(slot, ev->eventsel);
        qemu_log_mask(LOG_UNIMP, "vpmu: %s counter %u: event 0x%" PRIx64
                      " cannot be counted in software mode; it stays "
                      "frozen\n", ev->fixed ? "fixed" : "general-purpose",
                      ev->index, ev->eventsel);
        return false;
    }
    fd = perf_event_open(&attr, p->tid);
    if (fd < 0) {
        int err = errno;

        trace_vpmu_perf_open_failed(p->tid, slot, attr.type, attr.config,
                                    err);
        error_report("vPMU: cannot count event 0x%" PRIx64 " for %s counter "
                     "%u (perf_event_open: %s): %s; the counter stays "
                     "frozen", ev->eventsel,
                     ev->fixed ? "fixed" : "general-purpose", ev->index,
                     strerror(err), vpmu_perf_hint(err));
        return false;
    }
    trace_vpmu_perf_open(p->tid, slot, attr.type, attr.config, fd);
    p->fd[slot] = fd;
    return true;
}

static void vpmu_perf_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    VPMUPerf *p = opaque;

    if (p->fd[slot] < 0) {
        return;
    }
    trace_vpmu_perf_enable(slot, p->fd[slot], enabled);
    ioctl(p->fd[slot], enabled ? PERF_EVENT_IOC_ENABLE :
          PERF_EVENT_IOC_DISABLE, 0);
}

static uint64_t vpmu_perf_read(void *opaque, unsigned slot)
{
    VPMUPerf *p = opaque;
    uint64_t buf[3];    /* value, time enabled, time running */

    if (p->fd[slot] < 0 || read(p->fd[slot], buf, sizeof(buf)) !=
        sizeof(buf)) {
        return 0;
    }
    if (vpmu_perf_global_mode == VPMU_PERF_SOFTWARE) {
        /* task-clock counts nanoseconds; the guest expects TSC cycles. */
        return muldiv64(buf[0], p->tsc_khz, 1000000);
    }
    return buf[0];
}

void vpmu_perf_free(VPMUPerf *p)
{
    unsigned i;

    if (!p) {
        return;
    }
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        vpmu_perf_release(p, i);
    }
    g_free(p);
}

const VPMUBackendOps vpmu_perf_ops = {
    .program = vpmu_perf_program,
    .set_enabled = vpmu_perf_set_enabled,
    .read = vpmu_perf_read,
    .release = vpmu_perf_release,
};
