/*
 * qemu-vpmu: unit tests of the perf backend, through the model, over a
 * fake system-call layer (injected failures and time)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-perf.h"
#include "hw/i386/vpmu-events.h"
#include "hw/i386/vpmu-perf-host.h"

#include <linux/perf_event.h>

#define FAKE_FD0 100
#define MAX_FDS 64
#define TSC_KHZ 2000000     /* 2 GHz: 2 cycles per ns */

typedef struct FakeFd {
    bool open, enabled, signal_routed;
    struct perf_event_attr attr;
    uint64_t count;             /* in host units */
    uint64_t time_enabled, time_running;
    uint64_t period;            /* last PERF_EVENT_IOC_PERIOD */
    bool eof;                   /* pinned error state: read() returns 0 */
    bool bts;                   /* perf made it a Branch Trace Store event */
    uint64_t hw_config;         /* AMD host: the PerfEvtSel perf programs */
    bool mapped;
    struct perf_event_mmap_page page;   /* vpmu-rdpmc */
} FakeFd;

static struct {
    FakeFd fd[MAX_FDS];
    int nfds;
    int open_errno;             /* next opens fail with this */
    long fd_limit;              /* RLIMIT_NOFILE (0: none) */
    unsigned opens, closes, enables, disables, periods, task_calls;
    unsigned maps, unmaps, rdpmcs;
    bool descheduled;           /* mmap pages say: not on a counter now */
    int64_t now;
    /*
     * The kernel behaviours the backend must cope with, as in Linux:
     * x86_pmu.limit_period (EINVAL for shorter periods, at open and
     * IOC_PERIOD, the old period kept); BTS for period 1 on 0x00c4
     * (intel_pmu_has_bts_period before 6.19); host perf holding the
     * counter (a pinned event reads EOF, and ENABLE fails to schedule it
     * again, with another error signal).  On an AMD host (@amd_host),
     * perf keeps AMD64_RAW_EVENT_MASK of a raw config (amd_pmu_hw_config)
     * and there is no BTS.
     */
    uint64_t limit_period;
    bool counter_taken;
    bool amd_host;
    unsigned error_signals;
    int rdpmc_tid;              /* thread of the last RDPMC */
} fk;

/* intel_pmu_has_bts_period(), without the 6.19 exclude_host check. */
static bool fake_is_bts(const struct perf_event_attr *attr, uint64_t period)
{
    return !fk.amd_host && attr->type == PERF_TYPE_RAW &&
           (attr->config & 0xffff) == 0x00c4 && period == 1;
}

/* perf_event.h: X86_RAW_EVENT_MASK | AMD64_EVENTSEL_EVENT */
#define AMD64_RAW_EVENT_MASK    0x0000000fff84ffffULL
#define AMD64_EVENTSEL_GUESTONLY (1ULL << 40)
#define AMD64_EVENTSEL_HOSTONLY (1ULL << 41)

/*
 * The PerfEvtSel an AMD host programs for a raw event, but EN:
 * x86_pmu_hw_config() (INT, USR, OS), amd_pmu_hw_config() (the raw
 * config masked), amd_core_hw_config() (exclude_host: Guest-Only;
 * exclude_guest: Host-Only; both: neither ring).
 */
static uint64_t fake_amd_hw_config(const struct perf_event_attr *attr)
{
    uint64_t hw = VPMU_EVTSEL_INT;

    if (!attr->exclude_user) {
        hw |= VPMU_EVTSEL_USR;
    }
    if (!attr->exclude_kernel) {
        hw |= VPMU_EVTSEL_OS;
    }
    hw |= attr->config & AMD64_RAW_EVENT_MASK;
    if (attr->exclude_host && attr->exclude_guest) {
        hw &= ~(VPMU_EVTSEL_USR | VPMU_EVTSEL_OS);
    } else if (attr->exclude_host) {
        hw |= AMD64_EVENTSEL_GUESTONLY;
    } else if (attr->exclude_guest) {
        hw |= AMD64_EVENTSEL_HOSTONLY;
    }
    return hw;
}

static FakeFd *fake_fd(int fd)
{
    g_assert_cmpint(fd, >=, FAKE_FD0);
    g_assert_cmpint(fd, <, FAKE_FD0 + fk.nfds);
    g_assert_true(fk.fd[fd - FAKE_FD0].open);
    return &fk.fd[fd - FAKE_FD0];
}

static int fake_open(struct perf_event_attr *attr, int tid)
{
    FakeFd *f;

    if (fk.open_errno) {
        errno = fk.open_errno;
        return -1;
    }
    if (attr->type == PERF_TYPE_RAW && attr->sample_period &&
        attr->sample_period < fk.limit_period) {
        errno = EINVAL;
        return -1;
    }
    g_assert_cmpint(fk.nfds, <, MAX_FDS);
    f = &fk.fd[fk.nfds];
    memset(f, 0, sizeof(*f));
    f->open = true;
    f->attr = *attr;
    f->bts = fake_is_bts(attr, attr->sample_period);
    if (fk.amd_host && attr->type == PERF_TYPE_RAW) {
        f->hw_config = fake_amd_hw_config(attr);
    }
    fk.opens++;
    return FAKE_FD0 + fk.nfds++;
}

/*
 * The self-monitoring page as perf keeps it: an enabled event sits on
 * counter (its fd's index), whose RDPMC value is its count; perf bumps
 * the lock whenever it changes the page.
 */
static void fake_page_update(FakeFd *f, int i)
{
    f->page.lock++;
    f->page.capabilities = 1ULL << 2;           /* cap_user_rdpmc */
    f->page.pmc_width = 48;
    f->page.index = f->enabled && !fk.descheduled ? i + 1 : 0;
    f->page.offset = 0;
}

static int fake_ioctl(int fd, unsigned long request, uint64_t *arg)
{
    FakeFd *f = fake_fd(fd);

    switch (request) {
    case PERF_EVENT_IOC_ENABLE:
        f->enabled = true;
        fk.enables++;
        /* ERROR -> OFF -> scheduled: in error again, signalled again. */
        f->eof = fk.counter_taken && f->attr.pinned;
        fk.error_signals += f->eof;
        fake_page_update(f, fd - FAKE_FD0);
        break;
    case PERF_EVENT_IOC_DISABLE:
        f->enabled = false;
        fk.disables++;
        fake_page_update(f, fd - FAKE_FD0);
        break;
    case PERF_EVENT_IOC_PERIOD:
        fk.periods++;
        /* x86_pmu_check_period(): the old period stays armed. */
        if (*arg < fk.limit_period || fake_is_bts(&f->attr, *arg)) {
            errno = EINVAL;
            return -1;
        }
        f->period = *arg;
        break;
    default:
        g_assert_not_reached();
    }
    return 0;
}

static ssize_t fake_read(int fd, void *buf, size_t len)
{
    FakeFd *f = fake_fd(fd);
    uint64_t v[3] = { f->count, f->time_enabled, f->time_running };

    g_assert_cmpuint(len, ==, sizeof(v));
    if (f->eof) {
        return 0;
    }
    memcpy(buf, v, sizeof(v));
    return sizeof(v);
}

static int fake_close(int fd)
{
    fake_fd(fd)->open = false;
    fk.closes++;
    return 0;
}

static long fake_fd_limit(void)
{
    return fk.fd_limit ? fk.fd_limit : LONG_MAX;
}

static int fake_route_signal(int fd, int tid, int signo)
{
    fake_fd(fd)->signal_routed = true;
    return 0;
}

/* prctl(PR_TASK_PERF_EVENTS_*): every open event of the calling thread. */
static int fake_task_enable(bool enable)
{
    int i;

    for (i = 0; i < fk.nfds; i++) {
        if (fk.fd[i].open) {
            fk.fd[i].enabled = enable;
            fake_page_update(&fk.fd[i], i);
        }
    }
    fk.task_calls++;
    return 0;
}

static int64_t fake_now(void)
{
    return fk.now;
}

static void *fake_map(int fd)
{
    FakeFd *f = fake_fd(fd);

    f->mapped = true;
    fk.maps++;
    fake_page_update(f, fd - FAKE_FD0);
    return &f->page;
}

static void fake_unmap(void *page)
{
    FakeFd *f = container_of(page, FakeFd, page);

    g_assert_true(f->mapped);
    f->mapped = false;
    fk.unmaps++;
}

static uint64_t fake_rdpmc(uint32_t counter)
{
    FakeFd *f = &fk.fd[counter];

    g_assert_cmpuint(f->page.index, ==, counter + 1);
    fk.rdpmcs++;
    fk.rdpmc_tid = qemu_get_thread_id();
    /* A 48-bit counter: perf's offset makes up the rest (0 here). */
    return f->count & ((1ULL << 48) - 1);
}

static const VPMUPerfSys fake_user_sys = {
    .open = fake_open,
    .ioctl = fake_ioctl,
    .read = fake_read,
    .close = fake_close,
    .fd_limit = fake_fd_limit,
    .route_signal = fake_route_signal,
    .task_enable = fake_task_enable,
    .now_ns = fake_now,
    .map = fake_map,
    .unmap = fake_unmap,
    .rdpmc = fake_rdpmc,
};

static const VPMUPerfSys fake_sys = {
    .open = fake_open,
    .ioctl = fake_ioctl,
    .read = fake_read,
    .close = fake_close,
    .fd_limit = fake_fd_limit,
    .route_signal = fake_route_signal,
    .task_enable = fake_task_enable,
    .now_ns = fake_now,
};

/* The host counts @n units on every enabled event, all of them running. */
static void fake_tick(uint64_t n)
{
    int i;

    for (i = 0; i < fk.nfds; i++) {
        if (fk.fd[i].open && fk.fd[i].enabled) {
            fk.fd[i].count += n;
            fk.fd[i].time_enabled += n;
            fk.fd[i].time_running += n;
        }
    }
}

static FakeFd *last_fd(void)
{
    g_assert_cmpint(fk.nfds, >, 0);
    return &fk.fd[fk.nfds - 1];
}

typedef struct Fixture {
    VPMUState s;
    VPMUPerf *p;
} Fixture;

static void setup_cfg(Fixture *t, const VPMUPerfSys *sys,
                      const VPMUPerfOptions *opts, const VPMUConfig *cfg)
{
    memset(&fk, 0, sizeof(fk));
    t->p = vpmu_perf_new_with(sys, opts->mode, opts);
    /* As in QEMU, the backend runs on the thread it counts. */
    vpmu_perf_attach(t->p, 0, qemu_get_thread_id(), TSC_KHZ, SIGRTMIN + 6);
    vpmu_state_init(&t->s, cfg, &vpmu_perf_ops, t->p);
}

static void setup_with(Fixture *t, const VPMUPerfSys *sys,
                       const VPMUPerfOptions *opts, int width)
{
    VPMUConfig cfg;

    vpmu_config_default(&cfg);
    cfg.gp_width = cfg.fixed_width = width;
    setup_cfg(t, sys, opts, &cfg);
}

static void setup(Fixture *t, VPMUPerfMode mode, int width, bool scale)
{
    VPMUPerfOptions opts = { .mode = mode, .pinned = true, .scale = scale };

    setup_with(t, &fake_sys, &opts, width);
}

static void teardown(Fixture *t)
{
    vpmu_release_all(&t->s);
    vpmu_perf_free(t->p);
    g_assert_cmpuint(fk.opens, ==, fk.closes);     /* no fd leaked */
    g_assert_cmpuint(fk.maps, ==, fk.unmaps);
}

static void wr(Fixture *t, uint32_t msr, uint64_t val)
{
    g_assert_true(vpmu_msr_write(&t->s, msr, val, false));
    vpmu_sync(&t->s);
}

static uint64_t rd(Fixture *t, uint32_t msr)
{
    uint64_t v;

    g_assert_true(vpmu_msr_read(&t->s, msr, &v, false));
    return v;
}

#define CYCLES (VPMU_EVTSEL_EN | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS | \
                VPMU_EVENT_CORE_CYCLES)

/* Software mode: task-clock, nanoseconds scaled to TSC cycles. */
static void test_software_translation(void)
{
    Fixture t;

    setup(&t, VPMU_PERF_SOFTWARE, 48, false);
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-4000000);      /* 2 ms at 2 GHz */
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.type, ==, PERF_TYPE_SOFTWARE);
    g_assert_cmpuint(last_fd()->attr.config, ==, PERF_COUNT_SW_TASK_CLOCK);
    g_assert_true(last_fd()->attr.disabled);
    g_assert_true(last_fd()->enabled);
    g_assert_true(last_fd()->signal_routed);
    /* 4e6 cycles to overflow = 2e6 ns. */
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 2000000);
    fake_tick(1000);                                /* 1000 ns */
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==,
                    ((1ULL << 48) - 4000000 + 2000) & ((1ULL << 48) - 1));
    /* A short distance is clamped to 1 ms (nested hosts livelock). */
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-10);
    g_assert_cmpuint(last_fd()->period, ==, 1000000);
    /* Instructions cannot be approximated: no event, frozen. */
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, VPMU_EVTSEL_EN | VPMU_EVTSEL_OS |
       VPMU_EVENT_INST_RETIRED);
    g_assert_cmpuint(fk.opens, ==, 1);
    teardown(&t);
}

/*
 * An event change whose host event is the same keeps it (KVM's reuse):
 * in software mode every cycle event is task-clock, so switching between
 * core and reference cycles costs no open, no close and no enable; the
 * count carries on.  In hardware mode another encoding is a new event.
 */
static void test_event_reuse(void)
{
    uint64_t ioctls;
    Fixture t;

    setup(&t, VPMU_PERF_SOFTWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(1000);
    ioctls = vpmu_perf_stats(t.p)->ioctls;
    wr(&t, VPMU_MSR_PERFEVTSEL0, (CYCLES & ~VPMU_EVTSEL_EVENT &
                                  ~VPMU_EVTSEL_UMASK) | VPMU_EVENT_REF_CYCLES);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(fk.closes, ==, 0);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->reuses, ==, 1);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->ioctls, ==, ioctls);
    g_assert_true(last_fd()->enabled);
    fake_tick(500);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 3000);   /* 1500 ns */
    /* Stopped, the reused event is stopped too; lazy release still works. */
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    g_assert_false(last_fd()->enabled);
    teardown(&t);

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(10);
    wr(&t, VPMU_MSR_PERFEVTSEL0, VPMU_EVTSEL_EN | VPMU_EVTSEL_USR |
       VPMU_EVTSEL_OS | VPMU_EVENT_INST_RETIRED);
    g_assert_cmpuint(fk.opens, ==, 2);
    g_assert_cmpuint(fk.closes, ==, 1);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->reuses, ==, 0);
    fake_tick(5);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 15);
    teardown(&t);
}

/* Hardware mode: the guest's encoding, guest mode only, pinned. */
static void test_hardware_translation(void)
{
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, VPMU_EVTSEL_EN | VPMU_EVTSEL_USR |
       (1ULL << 24) | VPMU_EVTSEL_INV | 0x01c2);    /* cmask 1, inv */
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.type, ==, PERF_TYPE_RAW);
    g_assert_cmphex(last_fd()->attr.config, ==,
                    (1ULL << 24) | VPMU_EVTSEL_INV | 0x01c2);
    g_assert_true(last_fd()->attr.exclude_host);
    g_assert_false(last_fd()->attr.exclude_guest);
    g_assert_false(last_fd()->attr.exclude_user);
    g_assert_true(last_fd()->attr.exclude_kernel);
    g_assert_true(last_fd()->attr.pinned);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 1ULL << 48);
    /* Events are counted 1:1 in hardware mode. */
    fake_tick(77);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 77);
    /* An event the host's tables lack (Skylake's, forced) stays frozen. */
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, VPMU_EVTSEL_EN | VPMU_EVTSEL_OS |
       0xffee);
    g_assert_cmpuint(fk.opens, ==, 1);
    teardown(&t);
}

/*
 * The attr a hardware-mode event may have, whatever the guest wrote: the
 * event fields KVM passes too (select, umask, edge, invert, cmask), the
 * rings, guest mode only, and our own fixed settings.  Built field by
 * field, so that any other bit the guest could smuggle in (AnyThread, PC,
 * a precise or branch-stack request) makes the comparison fail.
 */
static void expected_attr(struct perf_event_attr *a, uint64_t config,
                          bool usr, bool os, uint64_t period)
{
    memset(a, 0, sizeof(*a));
    a->size = sizeof(*a);
    a->type = PERF_TYPE_RAW;
    a->config = config;
    a->sample_period = period;
    a->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
                     PERF_FORMAT_TOTAL_TIME_RUNNING;
    a->disabled = 1;
    a->pinned = 1;
    a->exclude_user = !usr;
    a->exclude_kernel = !os;
    a->exclude_host = 1;
    a->wakeup_events = 1;
}

static void assert_attr(const struct perf_event_attr *want)
{
    const struct perf_event_attr *got = &last_fd()->attr;

    g_assert_cmphex(got->config, ==, want->config);
    g_assert_cmpuint(got->sample_period, ==, want->sample_period);
    g_assert_true(!memcmp(got, want, sizeof(*want)));
}

/*
 * Every PERFEVTSELx and FIXED_CTR_CTRL bit the model accepts, in every
 * version, one at a time: the host event is the whitelisted translation.
 * AnyThread (v3, v4) is accepted and read back, but never reaches the
 * host, where a privileged opener would count the sibling hyperthread.
 */
static void test_hardware_attr_whitelist(void)
{
    const uint64_t event_bits = VPMU_EVTSEL_EVENT | VPMU_EVTSEL_UMASK |
                                VPMU_EVTSEL_EDGE | VPMU_EVTSEL_INV |
                                VPMU_EVTSEL_CMASK;
    static const uint64_t fixed_config[] = {
        VPMU_EVENT_INST_RETIRED, VPMU_EVENT_CORE_CYCLES,
        VPMU_EVENT_FIXED_REF_CYCLES,
    };
    VPMUPerfOptions opts = { .mode = VPMU_PERF_HARDWARE, .pinned = true };
    struct perf_event_attr want;
    unsigned accepted_any = 0;
    int version, bit, idx;

    for (version = 2; version <= 5; version++) {
        VPMUConfig cfg;

        vpmu_config_default(&cfg);
        cfg.version = version;
        for (bit = 0; bit < 64; bit++) {
            uint64_t val = CYCLES | (1ULL << bit);
            Fixture t;

            setup_cfg(&t, &fake_sys, &opts, &cfg);
            if (!vpmu_msr_write(&t.s, VPMU_MSR_PERFEVTSEL0, val, false)) {
                teardown(&t);
                continue;
            }
            vpmu_sync(&t.s);
            g_assert_cmphex(rd(&t, VPMU_MSR_PERFEVTSEL0), ==, val);
            /*
             * An event the host's tables lack (another select or umask)
             * opens nothing; the qualifiers and AnyThread must open.
             */
            if (bit >= 18 && bit <= 23) {
                g_assert_cmpuint(fk.opens, ==, 1);
            }
            accepted_any += bit == 21;
            if (fk.opens) {
                expected_attr(&want, val & event_bits, val & VPMU_EVTSEL_USR,
                              val & VPMU_EVTSEL_OS, 1ULL << 48);
                assert_attr(&want);
            }
            teardown(&t);
        }
        for (idx = 0; idx < 3; idx++) {
            for (bit = 0; bit < 4; bit++) {
                uint64_t field = 0x3 | 1ULL << bit;
                Fixture t;

                setup_cfg(&t, &fake_sys, &opts, &cfg);
                if (!vpmu_msr_write(&t.s, VPMU_MSR_FIXED_CTR_CTRL,
                                    field << (4 * idx), false)) {
                    g_assert_true(bit == 2 && (version == 2 ||
                                               version == 5));
                    teardown(&t);
                    continue;
                }
                wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 1ULL << (32 + idx));
                g_assert_cmpuint(fk.opens, ==, 1);
                expected_attr(&want, fixed_config[idx], true, true,
                              1ULL << 48);
                assert_attr(&want);
                teardown(&t);
            }
        }
    }
    /* AnyThread was accepted in versions 3 and 4 and reached no host. */
    g_assert_cmpuint(accepted_any, ==, 2);
}

/*
 * A pinned event that host perf holds the counter of: reads give EOF and
 * the kernel signals an error whenever it fails to schedule it.  Neither
 * the read path nor the error signal may ENABLE it (each ENABLE fails
 * again and signals again: the vCPU made no progress); the retry does,
 * with a backoff doubling to a second, and the counter counts on when
 * the host lets go.  Error signals are told from overflows by si_code.
 */
static void test_pinned_error_no_livelock(void)
{
    const int64_t ms = 1000 * 1000;
    unsigned i, retries = 0;
    int64_t t0;
    Fixture t;

    g_assert_cmpint(vpmu_perf_signal_kind(POLL_IN), ==,
                    VPMU_PERF_SIGNAL_OVERFLOW);
    g_assert_cmpint(vpmu_perf_signal_kind(POLL_ERR), ==,
                    VPMU_PERF_SIGNAL_ERROR);
    g_assert_cmpint(vpmu_perf_signal_kind(POLL_HUP), ==,
                    VPMU_PERF_SIGNAL_ERROR);

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(100);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    fk.counter_taken = true;
    last_fd()->eof = true;
    fk.enables = 0;
    /* A guest (or the pre-run poll) reading in a loop, error signals. */
    for (i = 0; i < 1000; i++) {
        g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
        vpmu_perf_note_error_signal(t.p);
        vpmu_perf_retry(t.p);               /* not due: nothing */
    }
    g_assert_cmpuint(fk.enables, ==, 0);
    /* Five seconds of host perf holding it: retries back off. */
    t0 = fk.now;
    while (fk.now - t0 < 5000 * ms) {
        int64_t at = vpmu_perf_retry_at(t.p);

        g_assert_cmpint(at, !=, INT64_MAX);
        fk.now = at;
        g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 1);
        retries++;
    }
    g_assert_cmpuint(fk.enables, ==, retries);
    g_assert_cmpuint(retries, <=, 12);     /* 10, 20, ... 640 ms, then 1 s */
    g_assert_cmpuint(fk.error_signals, ==, retries);
    /* The host lets go: the next retry gets it back. */
    fk.counter_taken = false;
    fk.now = vpmu_perf_retry_at(t.p);
    g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 0);
    g_assert_cmpint(vpmu_perf_retry_at(t.p), ==, INT64_MAX);
    fake_tick(5);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 105);
    teardown(&t);
}

/*
 * No host event is armed with period 1 (x86 perf makes 0x00c4 with
 * period 1 a BTS event, which before Linux 6.19 traced the host): a
 * counter one event from its wrap gets 2, at open and when re-armed.
 */
static void test_no_bts_period(void)
{
    const uint64_t branches = VPMU_EVTSEL_EN | VPMU_EVTSEL_USR |
                              VPMU_EVTSEL_OS | 0x00c4;
    const uint64_t mask = (1ULL << 48) - 1;
    Fixture t;
    int i;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_A_PMC0, mask);                  /* 1 event to go */
    wr(&t, VPMU_MSR_PERFEVTSEL0, branches | VPMU_EVTSEL_INT);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 2);
    g_assert_false(last_fd()->bts);
    wr(&t, VPMU_MSR_A_PMC0, 5);
    wr(&t, VPMU_MSR_A_PMC0, mask);
    g_assert_cmpuint(last_fd()->period, ==, 2);
    /* Re-armed after a wrap that left it one event short of the next. */
    for (i = 0; i < 3; i++) {
        fake_tick(2);
        vpmu_poll(&t.s);
        wr(&t, VPMU_MSR_A_PMC0, mask);
        g_assert_cmpuint(last_fd()->period, >=, 2);
    }
    for (i = 0; i < fk.nfds; i++) {
        g_assert_false(fk.fd[i].bts);
    }
    teardown(&t);
}

/*
 * A host whose limit_period is 32 (Nehalem, Haswell): a shorter period is
 * refused (EINVAL) at open and by IOC_PERIOD, where the old period would
 * stay armed; the backend takes the smallest period the host does.
 */
static void test_limit_period(void)
{
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    fk.limit_period = 32;
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-10);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES | VPMU_EVTSEL_INT);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 32);
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-1000);
    g_assert_cmpuint(last_fd()->period, ==, 1000);
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-5);
    g_assert_cmpuint(last_fd()->period, ==, 32);    /* not 1000 */
    /* 128 for INST_RETIRED.ALL on Haswell and Broadwell. */
    fk.limit_period = 128;
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-40);
    g_assert_cmpuint(last_fd()->period, ==, 128);
    fake_tick(128);
    g_assert_cmphex(vpmu_poll(&t.s), ==, 1);        /* seen, a bit late */
    teardown(&t);
}

static gpointer read_pmc0_thread(gpointer data)
{
    Fixture *t = data;

    return GUINT_TO_POINTER((unsigned)rd(t, VPMU_MSR_PMC0));
}

/*
 * vpmu-rdpmc: RDPMC only on the thread the event counts.  Another
 * thread (migration, reset, load) would read whatever runs on its CPU:
 * it reads with read().
 */
static void test_rdpmc_owner_thread_only(void)
{
    VPMUPerfOptions opts = { .mode = VPMU_PERF_HARDWARE, .pinned = true,
                             .user_rdpmc = true };
    uint64_t reads;
    unsigned rdpmcs;
    GThread *th;
    Fixture t;

    setup_with(&t, &fake_user_sys, &opts, 48);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(100);
    rdpmcs = fk.rdpmcs;
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    g_assert_cmpuint(fk.rdpmcs, ==, rdpmcs + 1);
    g_assert_cmpint(fk.rdpmc_tid, ==, qemu_get_thread_id());
    fake_tick(20);
    rdpmcs = fk.rdpmcs;
    reads = vpmu_perf_stats(t.p)->reads;
    th = g_thread_new("not-the-vcpu", read_pmc0_thread, &t);
    g_assert_cmpuint(GPOINTER_TO_UINT(g_thread_join(th)), ==, 120);
    g_assert_cmpuint(fk.rdpmcs, ==, rdpmcs);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->reads, ==, reads + 1);
    teardown(&t);
}

/* An AMD guest's event, as the AMD model hands it to the backend. */
static VPMUHostEvent amd_event(unsigned index, uint64_t eventsel)
{
    return (VPMUHostEvent) {
        .arch = VPMU_ARCH_AMD, .index = index, .eventsel = eventsel,
    };
}

/*
 * A backend for an AMD guest, driven directly (as the model would): on
 * an AMD host (@amd_host, the fake kernel then acts as AMD's perf).
 */
static VPMUPerf *amd_perf(VPMUPerfMode mode, int arch, bool amd_host)
{
    VPMUPerfOptions opts = { .mode = mode, .arch = arch, .pinned = true };
    VPMUPerf *p;

    memset(&fk, 0, sizeof(fk));
    fk.amd_host = amd_host;
    p = vpmu_perf_new_with(&fake_sys, mode, &opts);
    vpmu_perf_attach(p, 0, qemu_get_thread_id(), TSC_KHZ, SIGRTMIN + 6);
    return p;
}

static void amd_perf_free(VPMUPerf *p)
{
    unsigned i;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        vpmu_perf_ops.release(p, i);
    }
    vpmu_perf_free(p);
    g_assert_cmpuint(fk.opens, ==, fk.closes);
}

#define AMD_RSVD_19_21  ((1ULL << 19) | (1ULL << 21))

/*
 * Hardware mode on an AMD host: PERF_TYPE_RAW with the 12-bit select
 * (bits 35:32 kept), umask, edge, inv and cmask; USR and OS as
 * exclude_user/kernel; exclude_host, which perf turns into Guest-Only.
 * Nothing else of the PerfEvtSel reaches perf, even where the model let
 * it through: not the reserved bits 19 and 21 (Intel's PC and
 * AnyThread), 36, Host-Only or Guest-Only, INT or EN.
 */
static void test_amd_hardware_translation(void)
{
    const uint64_t fields = 0x1000000c7ULL | 0x0500 | VPMU_EVTSEL_EDGE |
                            VPMU_EVTSEL_INV | 2ULL << 24;
    const uint64_t smuggled = AMD_RSVD_19_21 | 1ULL << 36 |
                              AMD64_EVENTSEL_GUESTONLY |
                              AMD64_EVENTSEL_HOSTONLY | VPMU_EVTSEL_INT |
                              VPMU_EVTSEL_EN;
    VPMUPerf *p = amd_perf(VPMU_PERF_HARDWARE, VPMU_ARCH_AMD, true);
    VPMUHostEvent ev = amd_event(0, fields | VPMU_EVTSEL_USR | smuggled);
    VPMUHostEvent low = amd_event(1, 0x00c7 | VPMU_EVTSEL_OS);
    struct perf_event_attr want;

    g_assert_true(vpmu_perf_ops.program(p, 0, &ev, 1ULL << 47));
    vpmu_perf_ops.set_enabled(p, 0, true);
    g_assert_cmpuint(fk.opens, ==, 1);
    expected_attr(&want, fields, true, false, 1ULL << 47);
    assert_attr(&want);
    g_assert_true(last_fd()->enabled);
    /* What the host counts: the select's high nibble, Guest-Only. */
    g_assert_cmphex(last_fd()->hw_config, ==,
                    fields | VPMU_EVTSEL_USR | VPMU_EVTSEL_INT |
                    AMD64_EVENTSEL_GUESTONLY);
    g_assert_cmphex(last_fd()->hw_config &
                    (AMD_RSVD_19_21 | AMD64_EVENTSEL_HOSTONLY), ==, 0);
    fake_tick(77);
    g_assert_cmpuint(vpmu_perf_ops.read(p, 0), ==, 77);

    /* Select 0xC7 is another event than 0x1C7: another host event. */
    g_assert_true(vpmu_perf_ops.program(p, 1, &low, 1ULL << 47));
    g_assert_cmpuint(fk.opens, ==, 2);
    g_assert_cmphex(last_fd()->attr.config, ==, 0x00c7);
    g_assert_true(last_fd()->attr.exclude_user);
    g_assert_false(last_fd()->attr.exclude_kernel);

    /* Period 1 on 0xC4 (taken branches on AMD) is no BTS there. */
    ev = amd_event(2, 0x00c4 | VPMU_EVTSEL_OS);
    g_assert_true(vpmu_perf_ops.program(p, 2, &ev, 1));
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 2);
    g_assert_false(last_fd()->bts);
    amd_perf_free(p);
}

/*
 * Software mode for an AMD guest: cycles not in halt (0x76, umask 0,
 * select bits 11:8 clear, no edge, inv or cmask) is task-clock scaled by
 * the TSC, as Intel's 0x3C; every other event, Intel's cycles included,
 * cannot be counted and opens nothing.  Names are Linux's generic ones.
 */
static void test_amd_software(void)
{
    static const struct {
        uint64_t eventsel;
        const char *name;
    } frozen[] = {
        { VPMU_AMD_EVENT_INSTRUCTIONS, "instructions" },
        { VPMU_AMD_EVENT_BRANCHES, "branches" },
        { VPMU_AMD_EVENT_BRANCH_MISSES, "branch-misses" },
        { 0x100000076ULL, "raw" },              /* select 0x176 */
        { 0x0176, "raw" },                      /* umask 1 */
        { 0x0076 | VPMU_EVTSEL_EDGE, "cycles" },
        { 0x0076 | VPMU_EVTSEL_INV | 1ULL << 24, "cycles" },
        { VPMU_EVENT_CORE_CYCLES, "raw" },      /* Intel's 0x3C */
        { 0x1000000c7ULL, "raw" },
    };
    const uint64_t rings = VPMU_EVTSEL_USR | VPMU_EVTSEL_OS;
    VPMUPerf *p = amd_perf(VPMU_PERF_SOFTWARE, VPMU_ARCH_AMD, false);
    VPMUHostEvent ev = amd_event(0, VPMU_AMD_EVENT_CYCLES | rings);
    unsigned i;

    g_assert_true(vpmu_perf_ops.program(p, 0, &ev, 4000000));
    vpmu_perf_ops.set_enabled(p, 0, true);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.type, ==, PERF_TYPE_SOFTWARE);
    g_assert_cmpuint(last_fd()->attr.config, ==, PERF_COUNT_SW_TASK_CLOCK);
    /* 4e6 cycles to overflow = 2e6 ns at 2 GHz. */
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 2000000);
    fake_tick(1000);                                /* 1000 ns */
    g_assert_cmpuint(vpmu_perf_ops.read(p, 0), ==, 2000);
    g_assert_cmpstr(vpmu_perf_event_name(p, &ev), ==, "cycles");

    for (i = 0; i < ARRAY_SIZE(frozen); i++) {
        VPMUHostEvent f = amd_event(1, frozen[i].eventsel | rings);
        VPMUPerfSlotInfo info;

        g_test_message("eventsel 0x%" PRIx64, frozen[i].eventsel);
        g_assert_false(vpmu_perf_ops.program(p, 1, &f, 1000));
        vpmu_perf_slot_info(p, 1, &info);
        g_assert_cmpint(info.state, ==, VPMU_SLOT_UNSUPPORTED);
        g_assert_cmpstr(vpmu_perf_event_name(p, &f), ==, frozen[i].name);
        vpmu_perf_ops.release(p, 1);
    }
    g_assert_cmpuint(fk.opens, ==, 1);
    amd_perf_free(p);
}

/*
 * Hardware mode runs for guests of the host PMU's vendor only
 * (vpmu_perf_host_choose puts an AMD guest on an Intel host in software
 * mode): an event of the other arch opens nothing on it.
 */
static void test_arch_mismatch(void)
{
    VPMUHostEvent amd = amd_event(0, VPMU_AMD_EVENT_CYCLES |
                                  VPMU_EVTSEL_USR | VPMU_EVTSEL_OS);
    VPMUHostEvent intel = {
        .arch = VPMU_ARCH_INTEL, .eventsel = VPMU_EVENT_CORE_CYCLES |
                                             VPMU_EVTSEL_USR | VPMU_EVTSEL_OS,
    };
    VPMUPerf *p = amd_perf(VPMU_PERF_HARDWARE, VPMU_ARCH_INTEL, false);

    g_assert_false(vpmu_perf_ops.program(p, 0, &amd, 1000));
    g_assert_cmpstr(vpmu_perf_event_name(p, &amd), ==, "cycles");
    g_assert_true(vpmu_perf_ops.program(p, 1, &intel, 1000));
    g_assert_cmpuint(fk.opens, ==, 1);
    amd_perf_free(p);

    p = amd_perf(VPMU_PERF_HARDWARE, VPMU_ARCH_AMD, true);
    g_assert_false(vpmu_perf_ops.program(p, 0, &intel, 1000));
    g_assert_true(vpmu_perf_ops.program(p, 1, &amd, 1000));
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmphex(last_fd()->attr.config, ==, VPMU_AMD_EVENT_CYCLES);
    amd_perf_free(p);
}

/*
 * Through the AMD model (PerfMonV2, 6 counters): a guest CTL with select
 * 0x1C7 reaches an AMD host as that raw event, without EN and INT; the
 * count reads through both MSR blocks.  In software mode only 0x76
 * counts.
 */
static void test_amd_model(void)
{
    const uint64_t en = VPMU_EVTSEL_EN | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS;
    VPMUPerfOptions opts = { .mode = VPMU_PERF_HARDWARE,
                             .arch = VPMU_ARCH_AMD, .pinned = true };
    VPMUConfig cfg;
    Fixture t;

    vpmu_config_amd(&cfg, true, true, 6);
    setup_cfg(&t, &fake_sys, &opts, &cfg);
    fk.amd_host = true;
    wr(&t, VPMU_MSR_F15H_PERF_CTL0, 0x1000000c7ULL | en | VPMU_EVTSEL_INT);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmphex(last_fd()->attr.config, ==, 0x1000000c7ULL);
    g_assert_true(last_fd()->attr.exclude_host);
    g_assert_cmphex(last_fd()->hw_config, ==,
                    0x1000000c7ULL | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS |
                    VPMU_EVTSEL_INT | AMD64_EVENTSEL_GUESTONLY);
    g_assert_true(last_fd()->enabled);
    fake_tick(10);
    g_assert_cmphex(rd(&t, VPMU_MSR_F15H_PERF_CTL0 + 1), ==, 10);
    g_assert_cmphex(rd(&t, VPMU_MSR_K7_PERFCTR0), ==, 10);
    teardown(&t);

    opts.mode = VPMU_PERF_SOFTWARE;
    setup_cfg(&t, &fake_sys, &opts, &cfg);
    wr(&t, VPMU_MSR_K7_EVNTSEL0, VPMU_AMD_EVENT_CYCLES | en);
    wr(&t, VPMU_MSR_K7_EVNTSEL0 + 1, VPMU_AMD_EVENT_INSTRUCTIONS | en);
    g_assert_cmpuint(fk.opens, ==, 1);
    g_assert_cmpuint(last_fd()->attr.config, ==, PERF_COUNT_SW_TASK_CLOCK);
    fake_tick(1000);                                /* 1000 ns */
    g_assert_cmphex(rd(&t, VPMU_MSR_K7_PERFCTR0), ==, 2000);
    g_assert_cmphex(rd(&t, VPMU_MSR_K7_PERFCTR0 + 1), ==, 0);
    teardown(&t);
}

/*
 * The mode, from the host's facts: hardware mode only where the host can
 * count guest events, on a PMU of the guest PMU's vendor (Intel's, or
 * AMD's for an AMD guest), without KVM's mediated vPMU, and
 * (hybrid hosts) with QEMU confined to the P-cores whose PMU takes raw
 * events.  vpmu-backend=hardware is refused where auto falls back.
 */
static void test_mode_choice(void)
{
    enum { I = VPMU_ARCH_INTEL, A = VPMU_ARCH_AMD };
    static const struct {
        const char *what;
        int arch;               /* the guest PMU's */
        int probe_errno;
        bool intel, amd;
        const char *mediated, *core, *atom, *affinity;
        VPMUPerfMode auto_mode;
        const char *says;
    } cases[] = {
        { "intel", I, 0, true, false, NULL, NULL, NULL, "0-7",
          VPMU_PERF_HARDWARE, "(hardware mode)" },
        { "no pmu", I, ENOENT, true, false, NULL, NULL, NULL, "0-7",
          VPMU_PERF_SOFTWARE, "No such file or directory" },
        { "amd", I, 0, false, true, NULL, NULL, NULL, "0-7",
          VPMU_PERF_SOFTWARE, "not Intel's" },
        { "mediated", I, 0, true, false, "kvm_intel.enable_mediated_pmu",
          NULL, NULL, "0-7", VPMU_PERF_SOFTWARE,
          "kvm_intel.enable_mediated_pmu=Y" },
        { "hybrid, anywhere", I, 0, true, false, NULL, "0-15", "16-23",
          "0-23", VPMU_PERF_SOFTWARE, "taskset -c 0-15" },
        { "hybrid, on e-cores", I, 0, true, false, NULL, "0-15", "16-23",
          "16,18", VPMU_PERF_SOFTWARE, "cpu_atom: 16-23" },
        { "hybrid, on p-cores", I, 0, true, false, NULL, "0-15", "16-23",
          "2-5,7", VPMU_PERF_HARDWARE, "on cpu_core" },
        { "hybrid, no affinity", I, 0, true, false, NULL, "0-15", "16-23",
          NULL, VPMU_PERF_SOFTWARE, "(unknown)" },
        /* AMD guests: the other way round. */
        { "amd guest, amd", A, 0, false, true, NULL, NULL, NULL, "0-7",
          VPMU_PERF_HARDWARE, "(hardware mode)" },
        { "amd guest, intel", A, 0, true, false, NULL, NULL, NULL, "0-7",
          VPMU_PERF_SOFTWARE, "the guest has AMD's PMU, but the host CPU "
          "is not AMD's" },
        { "amd guest, other vendor", A, 0, false, false, NULL, NULL, NULL,
          "0-7", VPMU_PERF_SOFTWARE, "not AMD's" },
        { "amd guest, no pmu", A, ENOENT, false, true, NULL, NULL, NULL,
          "0-7", VPMU_PERF_SOFTWARE, "No such file or directory" },
        { "amd guest, mediated", A, 0, false, true,
          "kvm_amd.enable_mediated_pmu", NULL, NULL, "0-7",
          VPMU_PERF_SOFTWARE, "kvm_amd.enable_mediated_pmu=Y" },
    };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        VPMUPerfHost h = {
            .probe_errno = cases[i].probe_errno,
            .intel = cases[i].intel,
            .amd = cases[i].amd,
            .mediated_param = cases[i].mediated,
            .core_cpus = (char *)cases[i].core,
            .atom_cpus = (char *)cases[i].atom,
            .affinity = (char *)cases[i].affinity,
        };
        g_autofree char *why = NULL;
        Error *err = NULL;
        VPMUPerfMode mode;
        bool warn, ok;

        g_test_message("%s", cases[i].what);
        g_assert_true(vpmu_perf_host_choose(&h, cases[i].arch,
                                            VPMU_PERF_AUTO, &mode, &why,
                                            &warn, &error_abort));
        g_assert_cmpint(mode, ==, cases[i].auto_mode);
        g_assert_cmpint(warn, ==, mode == VPMU_PERF_SOFTWARE);
        g_assert_nonnull(strstr(why, cases[i].says));
        g_clear_pointer(&why, g_free);

        ok = vpmu_perf_host_choose(&h, cases[i].arch, VPMU_PERF_HARDWARE,
                                   &mode, &why, &warn, &err);
        g_assert_cmpint(ok, ==, cases[i].auto_mode == VPMU_PERF_HARDWARE);
        if (!ok) {
            g_assert_nonnull(strstr(error_get_pretty(err), cases[i].says));
            error_free(err);
        }
        g_clear_pointer(&why, g_free);

        g_assert_true(vpmu_perf_host_choose(&h, cases[i].arch,
                                            VPMU_PERF_SOFTWARE, &mode,
                                            &why, &warn, &error_abort));
        g_assert_cmpint(mode, ==, VPMU_PERF_SOFTWARE);
        g_assert_false(warn);
    }
    /*
     * A mediated-vPMU VM started after us makes our opens fail with
     * EOPNOTSUPP (mediated_pmu_account_event): the message says so.
     */
    g_assert_nonnull(strstr(vpmu_perf_hint(EOPNOTSUPP),
                            "enable_mediated_pmu"));
}

/*
 * Software mode, VM stopped: no event counts (management work runs on the
 * vCPU thread, whose CPU time the events count); the guest's enables
 * while stopped (migration loads them) take effect when it runs again.
 */
static void test_pause(void)
{
    Fixture t;

    setup(&t, VPMU_PERF_SOFTWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES & ~VPMU_EVTSEL_EN);
    fake_tick(1000);
    vpmu_perf_pause(t.p, true);
    g_assert_false(fk.fd[0].enabled);
    fake_tick(1000);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 2000);   /* 1000 ns */
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    fake_tick(1000);
    g_assert_false(fk.fd[0].enabled || fk.fd[1].enabled);
    vpmu_perf_pause(t.p, false);
    g_assert_true(fk.fd[0].enabled && fk.fd[1].enabled);
    fake_tick(500);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 3000);
    teardown(&t);
}

/* Overflow periods at widths 32 and 48, re-armed after a wrap. */
static void test_overflow_period_widths(void)
{
    static const int widths[] = { 32, 48 };
    unsigned i;

    for (i = 0; i < ARRAY_SIZE(widths); i++) {
        uint64_t top = 1ULL << widths[i];
        Fixture t;

        setup(&t, VPMU_PERF_HARDWARE, widths[i], false);
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES | VPMU_EVTSEL_INT);
        g_assert_cmpuint(last_fd()->attr.sample_period, ==, top);
        wr(&t, VPMU_MSR_FIXED_CTR0 + 1, top - 5);
        wr(&t, VPMU_MSR_PMC0, (uint32_t)-100);
        g_assert_cmpuint(last_fd()->period, ==, 100);
        fake_tick(130);                             /* the signal fires */
        g_assert_cmphex(vpmu_poll(&t.s), ==, 1);
        g_assert_true(t.s.pmi_pending);
        g_assert_cmpuint(last_fd()->period, ==, top - 30);
        g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 30);
        teardown(&t);
    }
}

/* Toggling enables is one ioctl on the existing event, never an open. */
static void test_fast_path(void)
{
    Fixture t;
    int i;

    setup(&t, VPMU_PERF_SOFTWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES);
    fk.enables = fk.disables = 0;
    for (i = 0; i < 10; i++) {
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES & ~VPMU_EVTSEL_EN);
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    }
    g_assert_cmpuint(fk.opens, ==, 2);
    g_assert_cmpuint(fk.closes, ==, 0);
    /* GLOBAL_CTRL toggles both: one prctl each; EN: one ioctl each. */
    g_assert_cmpuint(fk.task_calls, ==, 20);
    g_assert_cmpuint(fk.enables, ==, 10);
    g_assert_cmpuint(fk.disables, ==, 10);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 2);

    /*
     * With a counter the guest keeps stopped, enabling "all" by prctl
     * would start it too: one ioctl per counter instead.
     */
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 2, CYCLES);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 2, CYCLES & ~VPMU_EVTSEL_EN);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    fk.task_calls = fk.enables = 0;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    g_assert_cmpuint(fk.task_calls, ==, 0);
    g_assert_cmpuint(fk.enables, ==, 2);
    g_assert_false(last_fd()->enabled);
    teardown(&t);
}

/* Lazy release, with an injected clock: counts survive the fd. */
static void test_lazy_release(void)
{
    const int64_t idle = 100 * 1000 * 1000;
    VPMUPerfSlotInfo info;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(500);
    fk.now = 1000;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    g_assert_cmpuint(vpmu_perf_stopped(t.p), ==, 1);
    g_assert_cmpuint(vpmu_perf_release_idle(t.p, fk.now + idle - 1, idle),
                     ==, 1);
    g_assert_cmpuint(fk.closes, ==, 0);
    g_assert_cmpuint(vpmu_perf_release_idle(t.p, fk.now + idle, idle), ==, 0);
    g_assert_cmpuint(fk.closes, ==, 1);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->lazy_releases, ==, 1);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_RELEASED);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 500);
    /* Enabling again opens a new event that continues the count. */
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    g_assert_cmpuint(fk.opens, ==, 2);
    fake_tick(20);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 520);
    teardown(&t);
}

/*
 * An event re-created after lazy release is armed for the distance left
 * to the guest counter's wrap, not for the period it was first opened
 * with: its overflow signal must not come late.
 */
static void test_lazy_release_rearms(void)
{
    const int64_t idle = 100 * 1000 * 1000;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PMC0, (uint32_t)-1000);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES | VPMU_EVTSEL_INT);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 1000);
    fake_tick(300);
    fk.now = 1000;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    vpmu_perf_release_idle(t.p, fk.now + idle, idle);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 0);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    g_assert_cmpuint(fk.opens, ==, 2);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 700);
    fake_tick(700);
    g_assert_cmphex(vpmu_poll(&t.s), ==, 1);
    teardown(&t);
}

/*
 * perf_event_open failing, for each cause the docs name: the counter
 * freezes at its value, nothing leaks, and it is tried again.  A failure
 * that may pass (EMFILE, EBUSY, EACCES, EPERM) is retried after a backoff
 * without the guest: the counter counts on once the host allows it.
 * Another (the host rejects the event) is tried again when the guest
 * touches the counter after the backoff.  Within the backoff, touching it
 * costs no syscall.
 */
static void test_open_failure(void)
{
    static const struct {
        int err;
        bool transient;
    } cases[] = {
        { EMFILE, true }, { EACCES, true }, { EPERM, true }, { EBUSY, true },
        { ENOENT, false }, { EOPNOTSUPP, false }, { EINVAL, false },
    };
    unsigned i, opens;

    for (i = 0; i < ARRAY_SIZE(cases); i++) {
        VPMUPerfSlotInfo info;
        Fixture t;

        setup(&t, VPMU_PERF_HARDWARE, 48, false);
        fk.now = 1000;
        wr(&t, VPMU_MSR_PMC0, 42);
        fk.open_errno = cases[i].err;
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
        g_assert_cmpuint(vpmu_perf_stats(t.p)->open_failures, ==, 1);
        g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 0);
        vpmu_perf_slot_info(t.p, 0, &info);
        g_assert_cmpint(info.state, ==, VPMU_SLOT_ERROR);
        g_assert_cmpint(info.open_errno, ==, cases[i].err);
        g_assert_false(info.fd_reserve);
        fake_tick(9);
        g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 42);
        g_assert_cmpuint(vpmu_perf_retry_waiting(t.p), ==,
                         cases[i].transient);

        /* A guest looping on the counter: no open, no message. */
        fk.open_errno = 0;
        opens = fk.opens;
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES & ~VPMU_EVTSEL_EN);
        wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
        g_assert_cmpuint(vpmu_perf_retry(t.p), ==, cases[i].transient);
        g_assert_cmpuint(fk.opens, ==, opens);
        g_assert_cmpuint(vpmu_perf_stats(t.p)->deferred_opens, >=, 1);

        fk.now += 10 * 1000 * 1000;         /* the first backoff is over */
        if (cases[i].transient) {
            g_assert_cmpint(vpmu_perf_retry_at(t.p), <=, fk.now);
            g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 0);
            g_assert_false(vpmu_perf_retry_waiting(t.p));
        } else {
            /* Only a guest touch tries a rejected event again. */
            g_assert_cmpint(vpmu_perf_retry_at(t.p), ==, INT64_MAX);
            wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES & ~VPMU_EVTSEL_EN);
            wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
        }
        g_assert_cmpuint(fk.opens, ==, opens + 1);
        g_assert_true(last_fd()->enabled);
        vpmu_perf_slot_info(t.p, 0, &info);
        g_assert_cmpint(info.state, ==, VPMU_SLOT_ACTIVE);
        fake_tick(9);
        g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 51);
        g_assert_cmpuint(vpmu_perf_stats(t.p)->failure_reports, ==, 1);
        teardown(&t);
    }
}

/*
 * A transient failure keeps failing: the backoff doubles up to a second,
 * and the same failure is reported once per 10 seconds only.
 */
static void test_open_failure_backoff(void)
{
    const int64_t ms = 1000 * 1000;
    int64_t gaps[12];
    unsigned n = 0, opens;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    fk.now = 1000;
    fk.open_errno = EBUSY;
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    while (n < ARRAY_SIZE(gaps)) {
        int64_t at = vpmu_perf_retry_at(t.p);

        gaps[n++] = at - fk.now;
        fk.now = at;
        opens = vpmu_perf_stats(t.p)->opens;        /* calls, failed too */
        g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 1);
        g_assert_cmpuint(vpmu_perf_stats(t.p)->opens, ==, opens + 1);
    }
    g_assert_cmpint(gaps[0], ==, 10 * ms);
    g_assert_cmpint(gaps[1], ==, 20 * ms);
    g_assert_cmpint(gaps[6], ==, 640 * ms);
    g_assert_cmpint(gaps[7], ==, 1000 * ms);
    g_assert_cmpint(gaps[11], ==, 1000 * ms);
    /* About 5.3 s of failures: one message. */
    g_assert_cmpuint(vpmu_perf_stats(t.p)->failure_reports, ==, 1);
    fk.now += 10 * 1000 * ms;
    g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 1);
    g_assert_cmpuint(vpmu_perf_stats(t.p)->failure_reports, ==, 2);
    teardown(&t);
}

/*
 * The vPMU never takes one of the last 32 file descriptors below
 * RLIMIT_NOFILE: an event numbered within them is closed again and the
 * counter fails as for EMFILE (and is tried again later).
 */
static void test_fd_reserve(void)
{
    VPMUPerfSlotInfo info;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    /* Fake fds are numbered from 100: 100 and 101 are below the reserve. */
    fk.fd_limit = FAKE_FD0 + 2 + 32;
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 2, CYCLES);
    g_assert_cmpuint(fk.opens, ==, 3);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 2);
    g_assert_false(fk.fd[2].open);          /* opened, and closed again */
    vpmu_perf_slot_info(t.p, 2, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ERROR);
    g_assert_cmpint(info.open_errno, ==, EMFILE);
    g_assert_true(info.fd_reserve);
    vpmu_perf_slot_info(t.p, 1, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ACTIVE);
    /* Within the backoff, a retry opens nothing... */
    g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 1);
    g_assert_cmpuint(fk.opens, ==, 3);
    /* ...unless the limit was raised: then at once. */
    fk.fd_limit = 0;
    g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 0);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 3);
    vpmu_perf_slot_info(t.p, 2, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ACTIVE);
    teardown(&t);
}

/*
 * A counter released while stopped (lazy release) whose new event cannot
 * be opened: its count stays what it was however often the guest starts
 * and stops it meanwhile, and carries on once the open succeeds.
 */
static void test_reopen_failure_keeps_count(void)
{
    const int64_t idle = 100 * 1000 * 1000;
    unsigned i;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(500);
    fk.now = 1000;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    vpmu_perf_release_idle(t.p, fk.now + idle, idle);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 0);
    fk.open_errno = EMFILE;
    for (i = 0; i < 3; i++) {
        fk.now += 2000 * 1000 * 1000LL;     /* past any backoff */
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
        g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 500);
        wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    }
    g_assert_cmpuint(vpmu_perf_stats(t.p)->open_failures, ==, 3);
    fk.open_errno = 0;
    fk.now += 2000 * 1000 * 1000LL;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 500);
    fake_tick(7);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 507);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 507);
    teardown(&t);
}

/* Contention: pinned error state, time lost, optional scaling. */
static void test_contention(void)
{
    VPMUPerfSlotInfo info;
    Fixture t;

    setup(&t, VPMU_PERF_HARDWARE, 48, false);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(100);
    last_fd()->time_enabled += 50;      /* 50 ns with no counter */
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ACTIVE);
    g_assert_true(info.contended);
    g_assert_cmpuint(info.lost_ns, ==, 50);
    /*
     * Host perf takes the counter: error state, and no ENABLE from the
     * read path (see test_pinned_error_no_livelock); the retry after its
     * backoff asks for it back.
     */
    last_fd()->eof = true;
    fk.enables = 0;
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    g_assert_cmpuint(fk.enables, ==, 0);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ERROR);
    g_assert_true(vpmu_perf_retry_waiting(t.p));
    last_fd()->eof = false;
    fk.now += 10 * 1000 * 1000;
    g_assert_cmpuint(vpmu_perf_retry(t.p), ==, 0);
    g_assert_cmpuint(fk.enables, ==, 1);
    fake_tick(10);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 110);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_cmpint(info.state, ==, VPMU_SLOT_ACTIVE);
    /* Counting fully again: no longer contended, the loss is kept. */
    fake_tick(10);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_false(info.contended);
    g_assert_cmpuint(info.lost_ns, ==, 50);

    /* The test seam reads like a preempted flexible event. */
    vpmu_perf_test_preempt(t.p, 0, true);
    fake_tick(30);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 120);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_true(info.contended);
    g_assert_cmpuint(info.lost_ns, ==, 80);
    vpmu_perf_test_preempt(t.p, 0, false);
    fake_tick(5);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 125);
    vpmu_perf_slot_info(t.p, 0, &info);
    g_assert_false(info.contended);
    g_assert_cmpuint(info.lost_ns, ==, 80);
    teardown(&t);

    /* vpmu-scale=on: counts scaled by enabled / running. */
    setup(&t, VPMU_PERF_HARDWARE, 48, true);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(100);
    last_fd()->time_enabled += 100;
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 200);
    teardown(&t);
}

/*
 * vpmu-rdpmc (hardware mode): counts come from RDPMC through the mmap
 * page, and stopping a counting counter is virtual: no syscall either
 * way, and what the event counts while stopped is not the guest's.
 */
static void test_user_rdpmc(void)
{
    VPMUPerfOptions opts = { .mode = VPMU_PERF_HARDWARE, .pinned = true,
                             .user_rdpmc = true };
    const VPMUPerfStats *st;
    unsigned ioctls, task_calls;
    uint64_t reads;
    Fixture t;

    setup_with(&t, &fake_user_sys, &opts, 48);
    st = vpmu_perf_stats(t.p);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    g_assert_cmpuint(fk.maps, ==, 1);
    fake_tick(100);
    reads = st->reads;
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    g_assert_cmpuint(st->reads, ==, reads);
    g_assert_cmpuint(st->user_reads, >, 0);

    /* EN off and on: gated, the host event kept running. */
    ioctls = fk.enables + fk.disables;
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES & ~VPMU_EVTSEL_EN);
    g_assert_true(last_fd()->enabled);
    fake_tick(50);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 100);
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES);
    fake_tick(7);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 107);
    /* GLOBAL_CTRL too: no prctl, no ioctl. */
    task_calls = fk.task_calls;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    fake_tick(1000);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
    fake_tick(3);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 110);
    g_assert_cmpuint(fk.enables + fk.disables, ==, ioctls);
    g_assert_cmpuint(fk.task_calls, ==, task_calls);
    g_assert_cmpuint(st->gated_toggles, ==, 4);
    g_assert_cmpuint(st->reads, ==, reads);

    /* Not on a counter right now: read() answers. */
    fk.descheduled = true;
    fake_page_update(last_fd(), fk.nfds - 1);
    fake_tick(10);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, 120);
    g_assert_cmpuint(st->reads, ==, reads + 1);
    fk.descheduled = false;
    fake_page_update(last_fd(), fk.nfds - 1);

    /* A sampling counter (near its wrap) stops for real. */
    wr(&t, VPMU_MSR_PMC0 + 1, (uint32_t)-1000);
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES | VPMU_EVTSEL_INT);
    ioctls = fk.disables;
    wr(&t, VPMU_MSR_PERFEVTSEL0 + 1, CYCLES & ~VPMU_EVTSEL_EN);
    g_assert_cmpuint(fk.disables, ==, ioctls + 1);
    g_assert_false(last_fd()->enabled);
    teardown(&t);
}

/*
 * A gated event reaches its armed overflow point early by what it
 * counted while gated: the signal re-arms it for the distance really
 * left.  Lazy release closes a gated event (and its page) and a new one
 * is armed for the wrap still ahead.
 */
static void test_user_rdpmc_overflow(void)
{
    VPMUPerfOptions opts = { .mode = VPMU_PERF_HARDWARE, .pinned = true,
                             .user_rdpmc = true };
    const uint64_t mask = (1ULL << 48) - 1;
    const int64_t idle = 100 * 1000 * 1000;
    Fixture t;

    setup_with(&t, &fake_user_sys, &opts, 48);
    wr(&t, VPMU_MSR_A_PMC0, mask - (1ULL << 34) + 1);   /* 2^34 to go */
    wr(&t, VPMU_MSR_PERFEVTSEL0, CYCLES | VPMU_EVTSEL_INT);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 1ULL << 34);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);              /* gated */
    fake_tick(1ULL << 33);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    fake_tick(1ULL << 33);          /* the host's armed point: 2^34 */
    vpmu_perf_note_signal(t.p);
    g_assert_cmpuint(last_fd()->period, ==, 1ULL << 33);
    g_assert_cmpuint(vpmu_poll(&t.s), ==, 0);       /* no wrap yet */
    fake_tick((1ULL << 33) + 1);
    g_assert_cmpuint(vpmu_poll(&t.s), ==, 1);       /* now it wrapped */

    /* Gated, then released: the new event is armed for what is left. */
    wr(&t, VPMU_MSR_A_PMC0, mask - (1ULL << 34) + 1);
    fk.now = 1000;
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    fake_tick(5);
    g_assert_cmpuint(vpmu_perf_release_idle(t.p, fk.now + idle, idle), ==,
                     0);
    g_assert_cmpuint(vpmu_perf_open_fds(t.p), ==, 0);
    g_assert_cmpuint(fk.maps, ==, fk.unmaps);
    wr(&t, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    g_assert_cmpuint(last_fd()->attr.sample_period, ==, 1ULL << 34);
    fake_tick(9);
    g_assert_cmphex(rd(&t, VPMU_MSR_PMC0), ==, mask - (1ULL << 34) + 10);
    teardown(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Hardware-mode event checks use Skylake's tables, whatever the host. */
    g_setenv("LIBPFM_FORCE_PMU", "skl", true);
    g_test_add_func("/vpmu/perf/software-translation",
                    test_software_translation);
    g_test_add_func("/vpmu/perf/hardware-translation",
                    test_hardware_translation);
    g_test_add_func("/vpmu/perf/hardware-attr-whitelist",
                    test_hardware_attr_whitelist);
    g_test_add_func("/vpmu/perf/overflow-period-widths",
                    test_overflow_period_widths);
    g_test_add_func("/vpmu/perf/fast-path", test_fast_path);
    g_test_add_func("/vpmu/perf/event-reuse", test_event_reuse);
    g_test_add_func("/vpmu/perf/lazy-release", test_lazy_release);
    g_test_add_func("/vpmu/perf/lazy-release-rearms",
                    test_lazy_release_rearms);
    g_test_add_func("/vpmu/perf/open-failure", test_open_failure);
    g_test_add_func("/vpmu/perf/open-failure-backoff",
                    test_open_failure_backoff);
    g_test_add_func("/vpmu/perf/fd-reserve", test_fd_reserve);
    g_test_add_func("/vpmu/perf/reopen-failure-keeps-count",
                    test_reopen_failure_keeps_count);
    g_test_add_func("/vpmu/perf/contention", test_contention);
    g_test_add_func("/vpmu/perf/pinned-error-no-livelock",
                    test_pinned_error_no_livelock);
    g_test_add_func("/vpmu/perf/no-bts-period", test_no_bts_period);
    g_test_add_func("/vpmu/perf/limit-period", test_limit_period);
    g_test_add_func("/vpmu/perf/mode-choice", test_mode_choice);
    g_test_add_func("/vpmu/perf/amd-hardware-translation",
                    test_amd_hardware_translation);
    g_test_add_func("/vpmu/perf/amd-software", test_amd_software);
    g_test_add_func("/vpmu/perf/arch-mismatch", test_arch_mismatch);
    g_test_add_func("/vpmu/perf/amd-model", test_amd_model);
    g_test_add_func("/vpmu/perf/pause", test_pause);
    g_test_add_func("/vpmu/perf/rdpmc-owner-thread-only",
                    test_rdpmc_owner_thread_only);
    g_test_add_func("/vpmu/perf/user-rdpmc", test_user_rdpmc);
    g_test_add_func("/vpmu/perf/user-rdpmc-overflow",
                    test_user_rdpmc_overflow);
    return g_test_run();
}
