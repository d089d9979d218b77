/*
 * qemu-vpmu: host backend on Linux perf_event_open
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each programmed counter slot is one perf event attached to the vCPU
 * thread, opened disabled and started with PERF_EVENT_IOC_ENABLE, so that
 * the model's enable-bit fast path costs one ioctl and never an open.
 *
 * Slots are not grouped: a perf group is scheduled all or nothing, so one
 * counter taken by host perf (the NMI watchdog, a pinned session) would
 * silence every guest counter instead of one, and contention could no
 * longer be told per counter.
 *
 * Counts survive the slot's fd: lazy release closes a stopped event and
 * keeps its count in @carried, and the next enable opens a new event that
 * continues from there.  The model never notices.
 *
 * Everything here runs on the vCPU thread (MSR exits, the pre-run hook,
 * lazy release through async_run_on_cpu), so there is no locking.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/atomic.h"
#include "hw/i386/vpmu-perf.h"
#include "hw/i386/vpmu-perf-host.h"
#include "hw/i386/vpmu-events.h"
#include "trace.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

typedef struct VPMUPerfSlot {
    int fd;                     /* -1: no open event */
    bool have_event;            /* program() succeeded: @ev is counted */
    bool wanted;                /* programmed with @ev, not released */
    bool unsupported;           /* program() refused @ev */
    bool enabled;               /* the model wants it counting */
    bool in_error;              /* pinned event lost its counter */
    bool opened_here;           /* opened by the thread it counts */
    bool preempted;             /* ran less than enabled since last read */
    bool test_preempted;        /* test seam: act as if preempted */
    /*
     * The last perf_event_open of @failed_ev failed with @open_errno (0:
     * none failed); @reserve: it was refused for the fd reserve.  Opening
     * the same event again waits until @retry_at (a backoff that doubles
     * up to VPMU_RETRY_MAX_NS), so a guest that loops on its MSRs costs
     * neither a syscall nor a log line per write.
     */
    int open_errno;
    bool reserve;
    VPMUHostEvent failed_ev;
    int64_t retry_at, retry_ns;
    /* Out of descriptors: the limit then, and our closes until then. */
    long failed_limit;
    uint64_t failed_closes;
    /* The host cannot count @unsupported_ev: said once (-d unimp). */
    bool unsupported_logged;
    VPMUHostEvent unsupported_ev;
    /* Rate-limited reports: what was last said, when, and since then. */
    int reported_errno;
    int64_t reported_at;
    unsigned unreported;
    VPMUHostEvent ev;
    uint64_t period;            /* guest events to the next overflow */
    uint64_t carried;           /* count of events closed earlier */
    uint64_t base;              /* count at the last program() */
    uint64_t last;              /* count of the open event at last read */
    uint64_t enabled_ns, running_ns;    /* of the open event at last read */
    uint64_t total_enabled_ns, total_running_ns, lost_ns;
    /* Test seam: what the open event counted and ran while "preempted". */
    uint64_t raw_value, raw_running_ns, hidden_value, hidden_running_ns;
    int64_t stopped_at;         /* when it was last disabled */

    /* The smallest period the host took for @ev (0: not needed yet). */
    uint64_t min_period;
    bool period_reported;       /* a refused period was said once */
    /* Pinned in error: ENABLE again no sooner than @err_retry_at. */
    int64_t err_retry_at, err_retry_ns;

    /* vpmu-rdpmc (hardware mode): the event's mmap page, for RDPMC. */
    struct perf_event_mmap_page *page;
    /*
     * Virtual stops (vpmu-rdpmc): a gated event is stopped for the guest
     * but left running on the host, so that stopping and starting it
     * costs no syscall: what it counts while gated goes to @gap, which
     * every count of the open event is reduced by.
     */
    bool gated;
    bool resync;                /* @gap unknown: set it at the next read */
    uint64_t gate_count;        /* the event's count when it was gated */
    uint64_t gap;
    /*
     * The guest's wrap, as of the last arming: @arm_period guest events
     * after the open event's count was @arm_visible.  @rearm: gated since
     * then, so the host's armed point may come early (see note_signal).
     */
    uint64_t arm_visible, arm_period;
    bool rearm;
} VPMUPerfSlot;

struct VPMUPerf {
    const VPMUPerfSys *sys;
    VPMUPerfMode mode;          /* HARDWARE or SOFTWARE */
    VPMUPerfOptions opts;
    int cpu_index;              /* for messages */
    bool retry_waiting;         /* a slot may wait for vpmu_perf_retry() */
    bool paused;                /* the VM is stopped: no event counts */
    int tid;                    /* vCPU thread; 0 until attached */
    uint64_t tsc_khz;
    int signo;
    VPMUPerfSlot slot[VPMU_MAX_COUNTERS];
    VPMUPerfStats stats;
};

/* The mode of each guest PMU arch, decided by its first vpmu_perf_new(). */
static VPMUPerfMode vpmu_perf_global_mode[VPMU_ARCH_AMD + 1];

/*
 * Fields of IA32_PERFEVTSELx that select and qualify the event: what KVM
 * passes to perf too (X86_RAW_EVENT_MASK).  Never AnyThread, which would
 * count the sibling hyperthread (the host, another tenant) for a
 * privileged opener; never PC, INT or EN.
 */
#define VPMU_RAW_EVENT_MASK (VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK | \
                             VPMU_EVTSEL_EDGE | VPMU_EVTSEL_INV | \
                             VPMU_EVTSEL_CMASK)
/*
 * The same of an AMD PerfEvtSel, with EventSelect[11:8] (bits 35:32):
 * AMD64_RAW_EVENT_MASK, which KVM passes and perf keeps of a raw config
 * (amd_pmu_hw_config).  Never the reserved bits 19 and 21, nor
 * Host-Only and Guest-Only (41, 40): exclude_host has perf set
 * Guest-Only itself (amd_core_hw_config).
 */
#define VPMU_AMD_RAW_EVENT_MASK (VPMU_RAW_EVENT_MASK | \
                                 VPMU_AMD_EVTSEL_EVENT_HI)

/*
 * Software mode's overflow signal comes from perf's task-clock hrtimer.
 * Perf allows 10 us, but on nested hosts (measured here) an hrtimer that
 * fires every 10 us, each firing queueing a signal, livelocks the vCPU
 * thread in the kernel.  1 ms is what NOTES.md measured as exact, and it
 * bounds the signal rate per counter; the guest sees up to 1 ms of skid.
 */
#define VPMU_SW_MIN_PERIOD_NS 1000000

/*
 * No host event gets a period below 2.  x86 perf turns branch
 * instructions (0x00c4, raw or not) with period 1 into a Branch Trace
 * Store event (intel_pmu_has_bts_period), which until Linux 6.19
 * (91dcfae0ff2b) ignored exclude_host: the host would trace QEMU's
 * branches, and LBR and PT users would get EBUSY.  A counter one event
 * from its wrap thus signals one event late, as on hardware, where x86
 * perf never arms fewer than 2 (x86_perf_event_set_period).
 */
#define VPMU_MIN_PERIOD 2

/*
 * Hosts refuse short periods (EINVAL) for some events: x86 perf's
 * limit_period is 32 on Nehalem and Haswell, 128 for INST_RETIRED.ALL
 * (0x01c0) on Haswell and Broadwell.  A refused period is retried with
 * these, and the one taken is kept for the slot's event.
 */
static const uint64_t vpmu_limit_periods[] = { 32, 128 };

/*
 * A failed open of an event is retried no sooner than this after the
 * first failure, doubling up to the maximum while it keeps failing.
 */
#define VPMU_RETRY_MIN_NS (10 * 1000 * 1000)
#define VPMU_RETRY_MAX_NS (1000 * 1000 * 1000)
/* The same failure of a counter is reported at most this often. */
#define VPMU_REPORT_INTERVAL_NS (10 * 1000 * 1000 * 1000LL)

static int vpmu_sys_open(struct perf_event_attr *attr, int tid)
{
    return syscall(__NR_perf_event_open, attr, tid, -1, -1,
                   PERF_FLAG_FD_CLOEXEC);
}

static int vpmu_sys_ioctl(int fd, unsigned long request, uint64_t *arg)
{
    return ioctl(fd, request, arg);
}

static ssize_t vpmu_sys_read(int fd, void *buf, size_t len)
{
    return read(fd, buf, len);
}

static int vpmu_sys_close(int fd)
{
    return close(fd);
}

static long vpmu_sys_fd_limit(void)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur == RLIM_INFINITY ||
        lim.rlim_cur > LONG_MAX) {
        return LONG_MAX;
    }
    return lim.rlim_cur;
}

/* Route the event's overflow to the vCPU thread as a signal. */
static int vpmu_sys_route_signal(int fd, int tid, int signo)
{
    struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = tid };

    if (fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETSIG, signo) < 0 ||
        fcntl(fd, F_SETOWN_EX, &owner) < 0) {
        return -errno;
    }
    return 0;
}

static int vpmu_sys_task_enable(bool enable)
{
    return prctl(enable ? PR_TASK_PERF_EVENTS_ENABLE :
                 PR_TASK_PERF_EVENTS_DISABLE, 0, 0, 0, 0);
}

static int64_t vpmu_sys_now_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

/* The event's first page only: perf's self-monitoring page, no buffer. */
static void *vpmu_sys_map(int fd)
{
    void *page = mmap(NULL, qemu_real_host_page_size(), PROT_READ,
                      MAP_SHARED, fd, 0);

    return page == MAP_FAILED ? NULL : page;
}

static void vpmu_sys_unmap(void *page)
{
    munmap(page, qemu_real_host_page_size());
}

static uint64_t vpmu_sys_rdpmc(uint32_t counter)
{
    uint32_t lo, hi;

    asm volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(counter));
    return lo | (uint64_t)hi << 32;
}

const VPMUPerfSys vpmu_perf_linux = {
    .open = vpmu_sys_open,
    .ioctl = vpmu_sys_ioctl,
    .read = vpmu_sys_read,
    .close = vpmu_sys_close,
    .fd_limit = vpmu_sys_fd_limit,
    .route_signal = vpmu_sys_route_signal,
    .task_enable = vpmu_sys_task_enable,
    .now_ns = vpmu_sys_now_ns,
    .map = vpmu_sys_map,
    .unmap = vpmu_sys_unmap,
    .rdpmc = vpmu_sys_rdpmc,
};

const char *vpmu_perf_hint(int err)
{
    switch (err) {
    case EACCES:
    case EPERM:
        return "perf_event_paranoid forbids it: run QEMU with CAP_PERFMON, "
               "or set the sysctl kernel.perf_event_paranoid to 1 or less";
    case EMFILE:
    case ENFILE:
        return "too many open files: raise QEMU's limit (ulimit -n, "
               "LimitNOFILE=, libvirt's max_files)";
    case EBUSY:
        return "the host PMU is taken by another user (e.g. a pinned perf "
               "session or the NMI watchdog)";
    case ENOENT:
    case ENODEV:
        return "the host has no PMU that perf can use, or not this event";
    case EOPNOTSUPP:
        return "the host PMU cannot count guest mode only, or a VM with "
               "KVM's mediated vPMU runs on this host "
               "(kvm_intel.enable_mediated_pmu=Y or "
               "kvm_amd.enable_mediated_pmu=Y)";
    case EINVAL:
        return "the host kernel rejects this event encoding";
    default:
        return "see perf_event_open(2)";
    }
}

const char *vpmu_perf_errno_name(int err)
{
    static const struct {
        int err;
        const char *name;
    } names[] = {
        { EMFILE, "EMFILE" }, { ENFILE, "ENFILE" }, { ENOMEM, "ENOMEM" },
        { EBUSY, "EBUSY" }, { EAGAIN, "EAGAIN" }, { EINTR, "EINTR" },
        { EACCES, "EACCES" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
        { ENODEV, "ENODEV" }, { EOPNOTSUPP, "EOPNOTSUPP" },
        { EINVAL, "EINVAL" }, { E2BIG, "E2BIG" }, { ESRCH, "ESRCH" },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        if (names[i].err == err) {
            return names[i].name;
        }
    }
    return "errno";
}

/* The calling thread's id, cached: prctl's reach depends on it. */
static int vpmu_perf_thread_id(void)
{
    static __thread int tid;

    if (!tid) {
        tid = qemu_get_thread_id();
    }
    return tid;
}

static bool vpmu_perf_arch_valid(int arch)
{
    return arch == VPMU_ARCH_INTEL || arch == VPMU_ARCH_AMD;
}

VPMUPerf *vpmu_perf_new(const VPMUPerfOptions *opts, Error **errp)
{
    static bool mode_reported[VPMU_ARCH_AMD + 1];
    g_autofree char *why = NULL;
    int arch = opts->arch;
    VPMUPerfHost host;
    VPMUPerfMode mode;
    bool warn, ok;

    assert(vpmu_perf_arch_valid(arch));
    /*
     * The host's facts and the mode are the process's: decided once (per
     * guest PMU arch, though a VM's vCPUs all have one).
     */
    if (!mode_reported[arch]) {
        vpmu_perf_host_probe(&host);
        ok = vpmu_perf_host_choose(&host, arch, opts->mode, &mode, &why,
                                   &warn, errp);
        vpmu_perf_host_free(&host);
        if (!ok) {
            return NULL;
        }
        mode_reported[arch] = true;
        vpmu_perf_global_mode[arch] = mode;
        if (warn) {
            warn_report("%s", why);
        } else {
            info_report("%s", why);
        }
        /*
         * Hardware mode looks events up in the tables from every vCPU
         * thread: load them here, under the BQL, before any of them runs.
         */
        if (mode == VPMU_PERF_HARDWARE) {
            vpmu_events_init(arch);
        }
    }
    return vpmu_perf_new_with(&vpmu_perf_linux, vpmu_perf_global_mode[arch],
                              opts);
}

VPMUPerf *vpmu_perf_new_with(const VPMUPerfSys *sys, VPMUPerfMode mode,
                             const VPMUPerfOptions *opts)
{
    VPMUPerf *p = g_new0(VPMUPerf, 1);
    unsigned i;

    assert(mode != VPMU_PERF_AUTO && vpmu_perf_arch_valid(opts->arch));
    p->mode = mode;
    p->sys = sys;
    p->opts = *opts;
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        p->slot[i].fd = -1;
    }
    return p;
}

void vpmu_perf_attach(VPMUPerf *p, int cpu_index, int tid, uint64_t tsc_khz,
                      int signo)
{
    p->cpu_index = cpu_index;
    p->tid = tid;
    p->tsc_khz = tsc_khz;
    p->signo = signo;
}

VPMUPerfMode vpmu_perf_mode(const VPMUPerf *p)
{
    return p->mode;
}

unsigned vpmu_perf_open_fds(const VPMUPerf *p)
{
    unsigned i, n = 0;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        n += p->slot[i].fd >= 0;
    }
    return n;
}

const VPMUPerfStats *vpmu_perf_stats(const VPMUPerf *p)
{
    return &p->stats;
}

/*
 * Is this one of the cycle events that software mode can approximate?
 * Intel's core and reference cycles (fixed counters 1 and 2 too), AMD's
 * cycles not in halt (event 0x76, which Linux counts "cycles" with).
 */
static bool vpmu_perf_is_cycles(const VPMUHostEvent *ev)
{
    uint32_t code = vpmu_event_code(ev->arch, ev->eventsel);
    bool cycles;

    if (ev->arch == VPMU_ARCH_AMD) {
        cycles = code == VPMU_AMD_EVENT_CYCLES;
    } else {
        cycles = code == VPMU_EVENT_CORE_CYCLES ||
                 code == VPMU_EVENT_REF_CYCLES ||
                 code == VPMU_EVENT_FIXED_REF_CYCLES;
    }
    /* Edge, invert and cmask change what is counted: not a plain count. */
    return cycles && !(ev->eventsel & (VPMU_EVTSEL_EDGE | VPMU_EVTSEL_INV |
                                       VPMU_EVTSEL_CMASK));
}

static bool vpmu_perf_software(const VPMUPerf *p)
{
    return p->mode == VPMU_PERF_SOFTWARE;
}

/* Linux's generic name of the event, if it is one; else "raw". */
static const char *vpmu_perf_generic_name(const VPMUHostEvent *ev)
{
    uint32_t code = vpmu_event_code(ev->arch, ev->eventsel);

    if (ev->arch == VPMU_ARCH_AMD) {
        switch (code) {
        case VPMU_AMD_EVENT_CYCLES:
            return "cycles";
        case VPMU_AMD_EVENT_INSTRUCTIONS:
            return "instructions";
        case VPMU_AMD_EVENT_BRANCHES:
            return "branches";
        case VPMU_AMD_EVENT_BRANCH_MISSES:
            return "branch-misses";
        default:
            return "raw";
        }
    }
    switch (code) {
    case VPMU_EVENT_CORE_CYCLES:
        return "cycles";
    case VPMU_EVENT_REF_CYCLES:
        return "ref-cycles";
    case VPMU_EVENT_INST_RETIRED:
        return "instructions";
    default:
        return "raw";
    }
}

const char *vpmu_perf_event_name(const VPMUPerf *p, const VPMUHostEvent *ev)
{
    static const char *const fixed_names[VPMU_MAX_FIXED] = {
        "instructions", "cycles", "ref-cycles", "slots",
    };
    const char *name;

    if (ev->fixed) {
        return fixed_names[ev->index];
    }
    /*
     * The host's tables name the guest's events only on a host of the
     * guest PMU's vendor: in hardware mode.
     */
    if (!vpmu_perf_software(p) && ev->arch == p->opts.arch &&
        vpmu_event_lookup(ev->arch, ev->eventsel, &name) ==
        VPMU_EVENT_KNOWN) {
        return name;
    }
    return vpmu_perf_generic_name(ev);
}

/* Guest events to host units: software mode counts nanoseconds. */
static uint64_t vpmu_perf_host_period(VPMUPerf *p, uint64_t period)
{
    if (vpmu_perf_software(p) && p->tsc_khz) {
        period = MAX(muldiv64(period, 1000000, p->tsc_khz),
                     VPMU_SW_MIN_PERIOD_NS);
    }
    /* perf refuses periods with bit 63 set. */
    return MAX(MIN(period, INT64_MAX), VPMU_MIN_PERIOD);
}

static bool vpmu_perf_attr(VPMUPerf *p, const VPMUHostEvent *ev,
                           uint64_t period, struct perf_event_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->size = sizeof(*attr);
    attr->disabled = 1;
    attr->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
                        PERF_FORMAT_TOTAL_TIME_RUNNING;
    /* A sampling event, so that it can signal the guest counter's wrap. */
    attr->sample_period = vpmu_perf_host_period(p, period);
    attr->wakeup_events = 1;

    if (vpmu_perf_software(p)) {
        if (!vpmu_perf_is_cycles(ev) ||
            !(ev->eventsel & (VPMU_EVTSEL_USR | VPMU_EVTSEL_OS))) {
            return false;
        }
        attr->type = PERF_TYPE_SOFTWARE;
        attr->config = PERF_COUNT_SW_TASK_CLOCK;
        return true;
    }

    /*
     * Hardware mode runs for guest PMUs of the host's vendor only
     * (vpmu_perf_host_choose): an event of another arch means nothing
     * on this host's PMU.
     */
    if (ev->arch != p->opts.arch) {
        return false;
    }
    /*
     * A GP counter's event must be one the host has; a fixed counter's
     * is architectural.  Without libpfm tables for this host, trust it.
     */
    if (!ev->fixed &&
        vpmu_event_lookup(ev->arch, ev->eventsel, NULL) ==
        VPMU_EVENT_UNKNOWN) {
        return false;
    }
    attr->type = PERF_TYPE_RAW;
    attr->config = ev->eventsel & (ev->arch == VPMU_ARCH_AMD ?
                                   VPMU_AMD_RAW_EVENT_MASK :
                                   VPMU_RAW_EVENT_MASK);
    attr->exclude_user = !(ev->eventsel & VPMU_EVTSEL_USR);
    attr->exclude_kernel = !(ev->eventsel & VPMU_EVTSEL_OS);
    /* Count the guest only: the host's own work must not show. */
    attr->exclude_host = 1;
    attr->pinned = p->opts.pinned;
    return true;
}

static void vpmu_perf_close(VPMUPerf *p, unsigned slot)
{
    VPMUPerfSlot *s = &p->slot[slot];

    if (s->page) {
        p->sys->unmap(s->page);
        s->page = NULL;
    }
    if (s->fd >= 0) {
        trace_vpmu_perf_close(slot, s->fd);
        p->sys->close(s->fd);
        p->stats.closes++;
        s->fd = -1;
    }
}

static void vpmu_perf_arm_signal(VPMUPerf *p, int fd)
{
    int ret;

    if (!p->signo || !p->tid) {
        return;
    }
    /* F_SETFL, F_SETSIG, F_SETOWN_EX: three fcntl calls. */
    p->stats.fcntls += 3;
    ret = p->sys->route_signal(fd, p->tid, p->signo);
    if (ret < 0) {
        warn_report_once("vPMU: cannot route counter overflows to the vCPU "
                         "thread (%s); overflow status is then seen only "
                         "when the guest reads it", strerror(-ret));
    }
}

/*
 * vpmu-rdpmc: hardware mode only (software events have no counter to
 * read), and not with vpmu-scale, which needs each read's times.
 */
static bool vpmu_perf_user_mode(const VPMUPerf *p)
{
    return p->opts.user_rdpmc && p->mode == VPMU_PERF_HARDWARE &&
           !p->opts.scale && p->sys->map && p->sys->rdpmc;
}

/*
 * The vPMU never takes one of the last VPMU_FD_RESERVE file descriptors
 * below QEMU's RLIMIT_NOFILE: they stay for the rest of QEMU, so that an
 * operator can still connect over QMP (and reclaim), migrate or hotplug
 * when guests have used up the limit.  Descriptors are allocated lowest
 * first, so a new event's number says how close to the limit QEMU is: an
 * event numbered within the reserve is closed again, and the counter
 * fails as for EMFILE.  32 covers a few monitor clients, a migration
 * channel and a hotplugged vCPU's descriptors.
 */
#define VPMU_FD_RESERVE 32

static long vpmu_perf_fd_limit(VPMUPerf *p)
{
    return p->sys->fd_limit ? p->sys->fd_limit() : LONG_MAX;
}

/*
 * Failures that may go away by themselves (descriptors freed, host perf
 * done with the counter, the sysctl changed): the backend keeps the
 * counter's event and re-opens it later.  Others (EINVAL, ENOENT,
 * EOPNOTSUPP...) fail the event until the guest changes it.
 */
static bool vpmu_perf_transient(int err)
{
    switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EBUSY:
    case EAGAIN:
    case EINTR:
    case EACCES:
    case EPERM:
        return true;
    default:
        return false;
    }
}

/*
 * Say once why a counter cannot count, naming the vCPU; the same failure
 * again is only counted (and traced) until VPMU_REPORT_INTERVAL_NS have
 * passed, then said again with how often it happened meanwhile.
 */
static void vpmu_perf_report_failure(VPMUPerf *p, unsigned slot, int err,
                                     long limit)
{
    VPMUPerfSlot *s = &p->slot[slot];
    int64_t now = p->sys->now_ns();
    g_autofree char *cause = NULL;
    g_autofree char *again = NULL;

    if (s->reported_errno == err &&
        now - s->reported_at < VPMU_REPORT_INTERVAL_NS) {
        s->unreported++;
        return;
    }
    if (s->reserve) {
        cause = g_strdup_printf("its descriptor would be one of the last %d "
                                "below QEMU's limit of %ld open files, "
                                "which the vPMU leaves to QMP, migration "
                                "and hotplug", VPMU_FD_RESERVE, limit);
    } else {
        cause = g_strdup(strerror(err));
    }
    if (s->unreported) {
        again = g_strdup_printf(" (it failed %u more times since the last "
                                "message)", s->unreported);
    }
    error_report("vPMU: vCPU %d: cannot count event 0x%" PRIx64 " for %s "
                 "counter %u (perf_event_open: %s): %s; the counter stays "
                 "frozen%s%s", p->cpu_index, s->ev.eventsel,
                 s->ev.fixed ? "fixed" : "general-purpose", s->ev.index,
                 cause, vpmu_perf_hint(err),
                 vpmu_perf_transient(err) ? " and is tried again" : "",
                 again ? again : "");
    s->reported_errno = err;
    s->reported_at = now;
    s->unreported = 0;
    p->stats.failure_reports++;
}

/* The open of @s->ev failed with @err (or hit the fd reserve). */
static void vpmu_perf_open_failed(VPMUPerf *p, unsigned slot, int err,
                                  bool reserve, long limit)
{
    VPMUPerfSlot *s = &p->slot[slot];
    bool again = s->open_errno && !memcmp(&s->failed_ev, &s->ev,
                                          sizeof(s->ev));

    p->stats.open_failures++;
    s->retry_ns = again ? MIN(s->retry_ns * 2, VPMU_RETRY_MAX_NS)
                        : VPMU_RETRY_MIN_NS;
    s->retry_at = p->sys->now_ns() + s->retry_ns;
    s->open_errno = err;
    s->reserve = reserve;
    s->failed_ev = s->ev;
    s->failed_limit = limit ? limit : vpmu_perf_fd_limit(p);
    s->failed_closes = p->stats.closes;
    vpmu_perf_report_failure(p, slot, err, limit);
}

/*
 * Whether to call perf_event_open for @s->ev now: not while an earlier
 * failure of the same event is backing off, unless what made it fail may
 * have changed.  Out of descriptors, that is QEMU's limit or a descriptor
 * we closed since; the rest (a descriptor closed elsewhere in QEMU, host
 * perf letting go of a counter, the sysctl) only the backoff can tell.
 */
static bool vpmu_perf_may_open(VPMUPerf *p, unsigned slot)
{
    VPMUPerfSlot *s = &p->slot[slot];

    if (!s->open_errno || memcmp(&s->failed_ev, &s->ev, sizeof(s->ev)) ||
        p->sys->now_ns() >= s->retry_at) {
        return true;
    }
    if ((s->open_errno == EMFILE || s->open_errno == ENFILE) &&
        (p->stats.closes != s->failed_closes ||
         vpmu_perf_fd_limit(p) != s->failed_limit)) {
        return true;
    }
    p->stats.deferred_opens++;
    trace_vpmu_perf_open_deferred(slot, s->open_errno,
                                  s->retry_at - p->sys->now_ns());
    return false;
}

static bool vpmu_perf_open(VPMUPerf *p, unsigned slot)
{
    VPMUPerfSlot *s = &p->slot[slot];
    struct perf_event_attr attr;
    unsigned i;
    long limit;
    int fd;

    if (!vpmu_perf_attr(p, &s->ev, s->period, &attr)) {
        trace_vpmu_perf_unsupported(slot, s->ev.eventsel);
        /* Once per event: a guest looping on its MSRs floods nothing. */
        if (!s->unsupported_logged ||
            memcmp(&s->unsupported_ev, &s->ev, sizeof(s->ev))) {
            qemu_log_mask(LOG_UNIMP, "vpmu: vCPU %d: %s counter %u: event "
                          "0x%" PRIx64 " cannot be counted on this host (%s);"
                          " it stays frozen\n", p->cpu_index,
                          s->ev.fixed ? "fixed" : "general-purpose",
                          s->ev.index, s->ev.eventsel,
                          vpmu_perf_software(p) ? "software mode counts "
                          "cycles only" : s->ev.arch != p->opts.arch ?
                          "the host PMU is another vendor's" :
                          "not in the host PMU's event tables");
            s->unsupported_logged = true;
            s->unsupported_ev = s->ev;
        }
        s->unsupported = true;
        return false;
    }
    if (!vpmu_perf_may_open(p, slot)) {
        return false;
    }
    attr.sample_period = MAX(attr.sample_period, s->min_period);
    p->stats.opens++;
    fd = p->sys->open(&attr, p->tid);
    /* A period below the host's limit_period: EINVAL; try the limits. */
    for (i = 0; fd < 0 && errno == EINVAL && !vpmu_perf_software(p) &&
         i < ARRAY_SIZE(vpmu_limit_periods); i++) {
        if (vpmu_limit_periods[i] > attr.sample_period) {
            uint64_t was = attr.sample_period;

            attr.sample_period = vpmu_limit_periods[i];
            p->stats.opens++;
            fd = p->sys->open(&attr, p->tid);
            if (fd >= 0) {
                s->min_period = attr.sample_period;
                trace_vpmu_perf_period_raised(slot, was, s->min_period);
            }
        }
    }
    if (fd < 0) {
        int err = errno;

        trace_vpmu_perf_open_failed(p->tid, slot, attr.type, attr.config,
                                    err);
        vpmu_perf_open_failed(p, slot, err, false, 0);
        return false;
    }
    limit = vpmu_perf_fd_limit(p);
    if (fd >= limit - VPMU_FD_RESERVE) {
        trace_vpmu_perf_fd_reserve(slot, fd, limit);
        p->sys->close(fd);
        p->stats.closes++;
        vpmu_perf_open_failed(p, slot, EMFILE, true, limit);
        return false;
    }
    s->open_errno = 0;
    s->reserve = false;
    trace_vpmu_perf_open(p->tid, slot, attr.type, attr.config, fd,
                         vpmu_perf_event_name(p, &s->ev));
    vpmu_perf_arm_signal(p, fd);
    s->fd = fd;
    s->opened_here = p->tid && p->tid == vpmu_perf_thread_id();
    s->last = 0;
    s->enabled_ns = s->running_ns = 0;
    s->raw_value = s->raw_running_ns = 0;
    s->hidden_value = s->hidden_running_ns = 0;
    s->in_error = s->preempted = false;
    s->gated = s->resync = false;
    s->gap = s->gate_count = 0;
    s->arm_visible = 0;
    s->arm_period = s->period;
    s->rearm = false;
    if (vpmu_perf_user_mode(p)) {
        /* One more syscall per open; without the page, plain read(). */
        s->page = p->sys->map(fd);
    }
    return true;
}

/*
 * read() the open event: its count in guest units, and contention.
 * False when it has no count to give (pinned error state).
 */
static bool vpmu_perf_read_fd(VPMUPerf *p, unsigned slot, uint64_t *count)
{
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t buf[3];    /* value, time enabled, time running */
    uint64_t value;
    ssize_t n;

    p->stats.reads++;
    n = p->sys->read(s->fd, buf, sizeof(buf));
    if (n == 0) {
        /*
         * A pinned event that lost its counter to the host is in error
         * state and reads as end-of-file.  It is asked back (ENABLE) by
         * vpmu_perf_retry() after a backoff, never from here: re-enabling
         * at each read made the kernel fail to schedule it again and
         * signal the error again, which brought the vCPU out of the
         * guest to read again, and so on, for as long as host perf held
         * the counter.
         */
        if (!s->in_error) {
            s->in_error = true;
            s->err_retry_ns = VPMU_RETRY_MIN_NS;
            s->err_retry_at = p->sys->now_ns() + s->err_retry_ns;
            p->retry_waiting = true;
            trace_vpmu_perf_error(slot, s->fd);
        }
        return false;
    }
    if (n != sizeof(buf)) {
        return false;
    }
    s->in_error = false;
    s->err_retry_ns = 0;

    if (s->test_preempted) {
        /* What a flexible event that lost its counter would read. */
        s->hidden_value += buf[0] - s->raw_value;
        s->hidden_running_ns += buf[2] - s->raw_running_ns;
    }
    s->raw_value = buf[0];
    s->raw_running_ns = buf[2];
    buf[0] -= s->hidden_value;
    buf[2] -= s->hidden_running_ns;

    /* Contention now, not ever: it ends when the event runs again. */
    if (buf[1] != s->enabled_ns) {
        s->preempted = buf[2] - s->running_ns < buf[1] - s->enabled_ns;
    }
    s->total_enabled_ns += buf[1] - s->enabled_ns;
    s->total_running_ns += buf[2] - s->running_ns;
    s->lost_ns += (buf[1] - s->enabled_ns) - (buf[2] - s->running_ns);
    s->enabled_ns = buf[1];
    s->running_ns = buf[2];

    value = buf[0];
    if (p->opts.scale && buf[2] && buf[2] < buf[1]) {
        value = muldiv64(value, buf[1], buf[2]);
    }
    if (vpmu_perf_software(p)) {
        /* task-clock counts nanoseconds; the guest expects TSC cycles. */
        value = muldiv64(value, p->tsc_khz, 1000000);
    }
    *count = value;
    return true;
}

/* perf_event_mmap_page.capabilities: user space may RDPMC the event. */
#define VPMU_CAP_USER_RDPMC (1ULL << 2)

/*
 * RDPMC through the event's mmap page, as perf_event_open(2) describes:
 * no syscall.  False when the event is not on a counter right now (not
 * scheduled, preempted, in error): then read() must answer.
 */
static bool vpmu_perf_read_user(VPMUPerf *p, VPMUPerfSlot *s,
                                uint64_t *count)
{
    struct perf_event_mmap_page *pc = s->page;
    uint32_t seq, idx;
    uint16_t width;
    int64_t offset;
    uint64_t pmc;
    int tries;

    if (!pc) {
        return false;
    }
    for (tries = 0; tries < 4; tries++) {
        seq = qatomic_read(&pc->lock);
        smp_rmb();      /* the page's fields after lock: perf's seqlock */
        idx = qatomic_read(&pc->index);
        if (!(qatomic_read(&pc->capabilities) & VPMU_CAP_USER_RDPMC) ||
            !idx) {
            return false;
        }
        offset = qatomic_read(&pc->offset);
        width = qatomic_read(&pc->pmc_width);
        pmc = p->sys->rdpmc(idx - 1);
        smp_rmb();      /* the fields before lock is read again */
        if (qatomic_read(&pc->lock) != seq) {
            continue;           /* perf updated the page meanwhile */
        }
        if (width && width < 64) {
            pmc = (uint64_t)((int64_t)(pmc << (64 - width)) >> (64 - width));
        }
        *count = offset + pmc;
        p->stats.user_reads++;
        return true;
    }
    return false;
}

/* The open event's count now: without a syscall where possible. */
static bool vpmu_perf_count_now(VPMUPerf *p, unsigned slot, bool times,
                                uint64_t *count)
{
    /*
     * RDPMC reads the counter of whatever runs on this CPU: only the
     * vCPU thread, which the event counts, may use it.  Migration saves
     * on its own thread, reset and load run on the main loop: read().
     */
    if (!times && p->tid && p->tid == vpmu_perf_thread_id() &&
        vpmu_perf_read_user(p, &p->slot[slot], count)) {
        return true;
    }
    return vpmu_perf_read_fd(p, slot, count);
}

/*
 * The slot's count in guest units: what closed events counted, plus the
 * open event's count less what it counted while gated.  @times: read()
 * it, for its time enabled and running (contention).
 */
static uint64_t vpmu_perf_sample_how(VPMUPerf *p, unsigned slot, bool times)
{
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t count;

    if (s->fd < 0 || (s->gated && !times)) {
        return s->carried + s->last;    /* a gated count does not move */
    }
    if (vpmu_perf_count_now(p, slot, times, &count) && !s->gated) {
        if (s->resync) {
            s->gap = count - s->last;
            s->resync = false;
        }
        /* Scaling estimates; the guest's counter must never go back. */
        s->last = MAX(count - s->gap, s->last);
    }
    return s->carried + s->last;
}

static uint64_t vpmu_perf_sample(VPMUPerf *p, unsigned slot)
{
    return vpmu_perf_sample_how(p, slot, false);
}

static void vpmu_perf_release(void *opaque, unsigned slot)
{
    VPMUPerf *p = opaque;
    VPMUPerfSlot *s = &p->slot[slot];

    vpmu_perf_close(p, slot);
    s->have_event = s->unsupported = s->enabled = s->gated = false;
    s->wanted = false;
    s->carried = s->last = s->base = 0;
    s->min_period = 0;
    s->period_reported = false;
}

/*
 * Does the open event of @s already count what @ev asks for?  In software
 * mode every cycle event is the same task-clock; in hardware mode only a
 * change outside the host event (which never reaches us) would be.
 */
static bool vpmu_perf_same_event(VPMUPerf *p, VPMUPerfSlot *s,
                                 const VPMUHostEvent *ev)
{
    struct perf_event_attr cur, want;

    if (s->fd < 0 || !vpmu_perf_attr(p, &s->ev, 0, &cur) ||
        !vpmu_perf_attr(p, ev, 0, &want)) {
        return false;
    }
    return !memcmp(&cur, &want, sizeof(cur));
}

static bool vpmu_perf_program(void *opaque, unsigned slot,
                              const VPMUHostEvent *ev, uint64_t period)
{
    VPMUPerf *p = opaque;
    VPMUPerfSlot *s = &p->slot[slot];

    if (vpmu_perf_same_event(p, s, ev)) {
        /*
         * Like KVM's reuse of a perf event whose config is unchanged: no
         * close, no open.  Counting restarts from zero for the model; the
         * event stays in whatever state it is, as set_enabled(true)
         * follows at once.  Its overflow signal stays armed where it was:
         * the model carried the guest's count over, so the wrap is still
         * @period events away from now, as it was when last armed.
         */
        s->base = vpmu_perf_sample(p, slot);
        s->ev = *ev;
        s->period = period;
        p->stats.reuses++;
        trace_vpmu_perf_reuse(slot, s->fd, ev->eventsel);
        return true;
    }
    vpmu_perf_release(p, slot);
    s->ev = *ev;
    s->period = period;
    s->wanted = true;
    /* As if armed at count 0, so that a deferred open arms for the wrap. */
    s->arm_visible = 0;
    s->arm_period = period;
    if (vpmu_perf_open(p, slot)) {
        s->have_event = true;
    } else if (!s->unsupported && vpmu_perf_transient(s->open_errno)) {
        p->retry_waiting = true;
        /*
         * No host event yet, but one may come: the slot is then like a
         * released one, which set_enabled() and vpmu_perf_retry() re-open
         * (after a backoff).  The counter is frozen meanwhile.
         */
        s->have_event = true;
    }
    return s->have_event;
}

/*
 * Virtual stops need the count without a syscall: vpmu-rdpmc.  (In
 * software mode a read() instead of an ioctl measured no faster on an
 * idle machine.)  Not while the pinned event is in error, whose count is
 * not to be had.
 */
static bool vpmu_perf_can_gate(const VPMUPerfSlot *s)
{
    return s->page && !s->in_error;
}

/* Guest events left before the guest's counter wraps, as last armed. */
static uint64_t vpmu_perf_distance(VPMUPerfSlot *s)
{
    uint64_t wrap = s->arm_visible + s->arm_period;

    return wrap > s->last ? wrap - s->last : 0;
}

/*
 * A new event for a slot whose event was closed (lazy release) or could
 * not be opened yet: it continues the count.  The count so far joins
 * @carried only once the new event is open, so that failing and trying
 * again never adds it twice.
 */
static bool vpmu_perf_reopen(VPMUPerf *p, unsigned slot)
{
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t last = s->last;

    /* Armed for the wrap still ahead, not for a stale distance. */
    s->period = MAX(vpmu_perf_distance(s), 1);
    if (!vpmu_perf_open(p, slot)) {
        return false;
    }
    s->carried += last;         /* the new event counts from 0 */
    return true;
}

/*
 * A virtual stop leaves the event counting on the host, and its overflow
 * signal armed: only for a counter far from its wrap (a counting, not a
 * sampling, counter), so that a gated event cannot signal often.
 */
#define VPMU_GATE_MIN_DISTANCE (1ULL << 32)

static void vpmu_perf_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    VPMUPerf *p = opaque;
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t count;

    if (!s->have_event || (s->fd >= 0 && s->enabled == enabled)) {
        return;                 /* e.g. a reused event that kept running */
    }
    /*
     * The distance from @last (an older count) can only be too long: a
     * sampling counter near its wrap goes straight to the ioctl.
     */
    if (s->fd >= 0 && !enabled && vpmu_perf_can_gate(s) &&
        vpmu_perf_distance(s) >= VPMU_GATE_MIN_DISTANCE &&
        vpmu_perf_count_now(p, slot, false, &count)) {
        s->last = MAX(count - s->gap, s->last);
        if (vpmu_perf_distance(s) >= VPMU_GATE_MIN_DISTANCE) {
            /* Stopped for the guest, counting on the host: no syscall. */
            s->gated = true;
            s->rearm = true;
            s->gate_count = count;
            s->enabled = false;
            s->stopped_at = p->sys->now_ns();
            p->stats.gated_toggles++;
            trace_vpmu_perf_gate(slot, s->fd, true);
            return;
        }
    }
    if (s->fd >= 0 && enabled && s->gated) {
        s->gated = false;
        if (vpmu_perf_count_now(p, slot, false, &count)) {
            /* What it counted while gated is not the guest's. */
            s->gap += count - s->gate_count;
            s->rearm = true;
            s->enabled = true;
            p->stats.gated_toggles++;
            trace_vpmu_perf_gate(slot, s->fd, false);
            return;
        }
        /* In error state: enable it for real; count on from @last. */
        s->resync = true;
    }
    s->enabled = enabled;
    if (!enabled) {
        s->stopped_at = p->sys->now_ns();
    }
    if (s->fd < 0) {
        /* Released while stopped: a new event continues the count. */
        if (!enabled) {
            return;
        }
        if (!vpmu_perf_reopen(p, slot)) {
            p->retry_waiting = true;
            return;
        }
    }
    trace_vpmu_perf_enable(slot, s->fd, enabled);
    if (p->paused) {
        return;                 /* vpmu_perf_pause(false) enables it */
    }
    p->stats.ioctls++;
    p->sys->ioctl(s->fd, enabled ? PERF_EVENT_IOC_ENABLE :
                  PERF_EVENT_IOC_DISABLE, NULL);
}

/*
 * Several slots at once (a GLOBAL_CTRL write).  prctl(PR_TASK_PERF_EVENTS_
 * ENABLE/DISABLE) switches every event the calling thread created, in one
 * call; it is exact when that set is the set to switch: we are on the vCPU
 * thread, which opened all our events, and after the call every open event
 * is in the state the guest wants.  Otherwise, one ioctl per slot.
 */
static void vpmu_perf_set_enabled_batch(void *opaque, uint64_t start,
                                        uint64_t stop)
{
    VPMUPerf *p = opaque;
    bool all_start = true, all_stop = true;
    unsigned i;

    /*
     * Virtual stops: no prctl, which would stop gated events too.  Paused
     * (the VM is stopped): no host event may start.
     */
    if (vpmu_perf_user_mode(p) || p->paused) {
        all_start = all_stop = false;
    }
    for (i = 0; i < VPMU_MAX_COUNTERS && (all_start || all_stop); i++) {
        VPMUPerfSlot *s = &p->slot[i];
        bool want = start & (1ULL << i) ? true :
                    stop & (1ULL << i) ? false : s->enabled;

        if (!s->have_event || (s->fd < 0 && !want)) {
            continue;           /* no open event that prctl would touch */
        }
        if (s->fd < 0 || !s->opened_here) {
            /* Needs an open, or prctl would not reach it. */
            all_start = all_stop = false;
            break;
        }
        all_start &= want;
        all_stop &= !want;
    }
    if (p->sys->task_enable && ((start && !stop && all_start) ||
                                (stop && !start && all_stop))) {
        p->stats.ioctls++;
        if (p->sys->task_enable(start != 0) == 0) {
            for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
                if ((start | stop) & (1ULL << i)) {
                    VPMUPerfSlot *s = &p->slot[i];

                    s->enabled = start != 0;
                    if (!s->enabled) {
                        s->stopped_at = p->sys->now_ns();
                    }
                }
            }
            trace_vpmu_perf_enable_all(start != 0, ctpop64(start | stop));
            return;
        }
    }
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        if ((start | stop) & (1ULL << i)) {
            vpmu_perf_set_enabled(p, i, start & (1ULL << i));
        }
    }
}

/*
 * PERF_EVENT_IOC_PERIOD, checked: a period the host refuses leaves the old
 * one armed (perf_event_period() fails before changing anything), so the
 * signal would come at the old distance.  On EINVAL, the smallest longer
 * period the host takes: the signal then comes a few events late.
 */
static void vpmu_perf_ioctl_period(VPMUPerf *p, unsigned slot,
                                   uint64_t period)
{
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t want = MAX(period, s->min_period);
    unsigned i = 0;
    int ret;

    for (;;) {
        p->stats.ioctls++;
        ret = p->sys->ioctl(s->fd, PERF_EVENT_IOC_PERIOD, &want);
        if (!ret || errno != EINVAL) {
            break;
        }
        while (i < ARRAY_SIZE(vpmu_limit_periods) &&
               vpmu_limit_periods[i] <= want) {
            i++;
        }
        if (i == ARRAY_SIZE(vpmu_limit_periods)) {
            break;
        }
        want = vpmu_limit_periods[i];
    }
    if (!ret) {
        if (want > period) {
            s->min_period = want;
            trace_vpmu_perf_period_raised(slot, period, want);
        }
        return;
    }
    trace_vpmu_perf_period_refused(slot, period, errno);
    if (!s->period_reported) {
        s->period_reported = true;
        warn_report("vPMU: vCPU %d: the host refuses to re-arm the overflow "
                    "signal of %s counter %u (PERF_EVENT_IOC_PERIOD %" PRIu64
                    ": %s); its overflow may be seen late", p->cpu_index,
                    s->ev.fixed ? "fixed" : "general-purpose", s->ev.index,
                    want, strerror(errno));
    }
}

static void vpmu_perf_set_period(void *opaque, unsigned slot, uint64_t period)
{
    VPMUPerf *p = opaque;
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t host_period;

    s->period = period;
    /* The model folded just before: @last is the count now. */
    s->arm_visible = s->last;
    s->arm_period = period;
    if (s->fd < 0) {
        return;
    }
    host_period = vpmu_perf_host_period(p, period);
    vpmu_perf_ioctl_period(p, slot, host_period);
    s->rearm = false;
}

static uint64_t vpmu_perf_read(void *opaque, unsigned slot)
{
    VPMUPerf *p = opaque;
    VPMUPerfSlot *s = &p->slot[slot];

    return s->have_event ? vpmu_perf_sample(p, slot) - s->base : 0;
}

unsigned vpmu_perf_stopped(const VPMUPerf *p)
{
    unsigned i, n = 0;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        n += p->slot[i].fd >= 0 && !p->slot[i].enabled;
    }
    return n;
}

unsigned vpmu_perf_release_idle(VPMUPerf *p, int64_t now_ns, int64_t idle_ns)
{
    unsigned i, waiting = 0;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        VPMUPerfSlot *s = &p->slot[i];

        if (s->fd < 0 || s->enabled) {
            continue;
        }
        if (now_ns - s->stopped_at < idle_ns) {
            waiting++;
            continue;
        }
        vpmu_perf_sample(p, i);     /* the final count, kept in @last */
        trace_vpmu_perf_lazy_release(i, s->fd);
        vpmu_perf_close(p, i);
        p->stats.lazy_releases++;
    }
    return waiting;
}

/*
 * A pinned event in error: ask for its counter back (ENABLE moves it to
 * OFF and schedules it again) once its backoff is over; a read then says
 * whether it got it.  Returns whether it is still in error.
 */
static bool vpmu_perf_retry_error(VPMUPerf *p, unsigned slot)
{
    VPMUPerfSlot *s = &p->slot[slot];
    uint64_t count;

    if (p->sys->now_ns() < s->err_retry_at || p->paused) {
        return true;
    }
    p->stats.ioctls++;
    p->stats.error_retries++;
    p->sys->ioctl(s->fd, PERF_EVENT_IOC_ENABLE, NULL);
    if (vpmu_perf_read_fd(p, slot, &count)) {
        return false;
    }
    s->err_retry_ns = MIN(s->err_retry_ns * 2, VPMU_RETRY_MAX_NS);
    s->err_retry_at = p->sys->now_ns() + s->err_retry_ns;
    return true;
}

unsigned vpmu_perf_retry(VPMUPerf *p)
{
    unsigned i, waiting = 0;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        VPMUPerfSlot *s = &p->slot[i];

        if (s->fd >= 0 && s->in_error && (s->enabled || s->gated)) {
            waiting += vpmu_perf_retry_error(p, i);
            continue;
        }
        if (!s->have_event || !s->enabled || s->fd >= 0) {
            continue;
        }
        if (!vpmu_perf_reopen(p, i)) {
            waiting++;
            continue;
        }
        trace_vpmu_perf_enable(i, s->fd, true);
        if (!p->paused) {
            p->stats.ioctls++;
            p->sys->ioctl(s->fd, PERF_EVENT_IOC_ENABLE, NULL);
        }
    }
    p->retry_waiting = waiting;
    return waiting;
}

bool vpmu_perf_retry_waiting(const VPMUPerf *p)
{
    return p->retry_waiting;
}

int64_t vpmu_perf_retry_at(const VPMUPerf *p)
{
    int64_t at = INT64_MAX;
    unsigned i;

    if (!p->retry_waiting) {
        return at;
    }
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        const VPMUPerfSlot *s = &p->slot[i];

        if (s->have_event && s->enabled && s->fd < 0) {
            at = MIN(at, s->open_errno ? s->retry_at : 0);
        } else if (s->fd >= 0 && s->in_error && (s->enabled || s->gated)) {
            at = MIN(at, s->err_retry_at);
        }
    }
    return at;
}

void vpmu_perf_slot_info(VPMUPerf *p, unsigned slot, VPMUPerfSlotInfo *info)
{
    VPMUPerfSlot *s = &p->slot[slot];

    if (s->fd >= 0 && s->enabled) {
        vpmu_perf_sample_how(p, slot, true);    /* its times, too */
    }
    memset(info, 0, sizeof(*info));
    if (s->unsupported) {
        info->state = VPMU_SLOT_UNSUPPORTED;
    } else if (s->wanted && s->fd < 0 && s->open_errno &&
               !memcmp(&s->failed_ev, &s->ev, sizeof(s->ev)) &&
               (!s->have_event || s->enabled)) {
        /* The guest wants it counting, and its event failed to open. */
        info->state = VPMU_SLOT_ERROR;
        info->open_errno = s->open_errno;
        info->fd_reserve = s->reserve;
    } else if (!s->have_event) {
        info->state = VPMU_SLOT_UNUSED;
    } else if (s->fd < 0) {
        info->state = VPMU_SLOT_RELEASED;
    } else if (s->in_error) {
        info->state = VPMU_SLOT_ERROR;
    } else {
        info->state = s->enabled ? VPMU_SLOT_ACTIVE : VPMU_SLOT_INACTIVE;
    }
    info->enabled_ns = s->total_enabled_ns;
    info->running_ns = s->total_running_ns;
    info->lost_ns = s->lost_ns;
    info->contended = s->in_error || s->preempted;
}

void vpmu_perf_test_preempt(VPMUPerf *p, unsigned slot, bool preempted)
{
    p->slot[slot].test_preempted = preempted;
}

void vpmu_perf_free(VPMUPerf *p)
{
    unsigned i;

    if (!p) {
        return;
    }
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        vpmu_perf_close(p, i);
    }
    g_free(p);
}

/*
 * An overflow signal.  A gated event counts events that are not the
 * guest's, so it reaches its armed point early (never late): the guest's
 * counter is still short of its wrap by what the gaps took.  Re-arm the
 * events gated since their last arming for the distance really left;
 * the model handles the others (a real wrap re-arms through set_period).
 */
void vpmu_perf_note_signal(VPMUPerf *p)
{
    unsigned i;

    p->stats.overflow_signals++;
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        VPMUPerfSlot *s = &p->slot[i];
        uint64_t left;

        if (s->fd < 0 || !s->rearm) {
            continue;
        }
        vpmu_perf_sample(p, i);         /* @last: the count now */
        left = vpmu_perf_distance(s);
        /* At least VPMU_MIN_PERIOD on the host (vpmu_perf_host_period). */
        vpmu_perf_set_period(p, i, left);
    }
}

void vpmu_perf_pause(VPMUPerf *p, bool paused)
{
    unsigned i;

    /*
     * Hardware mode's events exclude the host: a stopped guest counts
     * nothing there.  Software mode counts the vCPU thread's CPU time,
     * which management work on that thread (query-vpmu, migration) would
     * add to a stopped guest's counters.
     */
    if (!vpmu_perf_software(p) || p->paused == paused) {
        return;
    }
    p->paused = paused;
    trace_vpmu_perf_pause(paused);
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        VPMUPerfSlot *s = &p->slot[i];

        if (s->fd >= 0 && (s->enabled || s->gated) && !s->in_error) {
            p->stats.ioctls++;
            p->sys->ioctl(s->fd, paused ? PERF_EVENT_IOC_DISABLE :
                          PERF_EVENT_IOC_ENABLE, NULL);
        }
    }
}

VPMUPerfSignal vpmu_perf_signal_kind(int si_code)
{
    /*
     * F_SETSIG signals carry the poll band: POLL_IN for an overflow
     * (__perf_event_overflow), POLL_ERR for a pinned event that could not
     * be scheduled (Linux 6.15 and later; POLL_HUP in 6.15-rc1..rc3).
     */
    return si_code == POLL_ERR || si_code == POLL_HUP ? VPMU_PERF_SIGNAL_ERROR
                                                     : VPMU_PERF_SIGNAL_OVERFLOW;
}

void vpmu_perf_note_error_signal(VPMUPerf *p)
{
    unsigned i;

    p->stats.error_signals++;
    /* Which one?  A read finds it (and sets its backoff). */
    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        VPMUPerfSlot *s = &p->slot[i];

        if (s->fd >= 0 && !s->in_error && (s->enabled || s->gated)) {
            vpmu_perf_sample_how(p, i, true);
        }
    }
}

const VPMUBackendOps vpmu_perf_ops = {
    .program = vpmu_perf_program,
    .set_period = vpmu_perf_set_period,
    .set_enabled = vpmu_perf_set_enabled,
    .set_enabled_batch = vpmu_perf_set_enabled_batch,
    .read = vpmu_perf_read,
    .release = vpmu_perf_release,
};
