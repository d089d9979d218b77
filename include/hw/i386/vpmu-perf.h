/*
 * qemu-vpmu: host backend on Linux perf_event_open
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_VPMU_PERF_H
#define HW_I386_VPMU_PERF_H

#include "hw/i386/vpmu.h"

typedef enum VPMUPerfMode {
    /* Hardware where the host has a usable PMU, else software. */
    VPMU_PERF_AUTO,
    /* Raw events on the host PMU, counting guest mode only. */
    VPMU_PERF_HARDWARE,
    /*
     * No usable host PMU (or one of another vendor than the guest's):
     * cycle events (Intel 0x3C and 0x013C, fixed counters 1 and 2; AMD
     * 0x76) are the vCPU thread's task-clock scaled by the TSC frequency;
     * every other event reads as frozen.
     */
    VPMU_PERF_SOFTWARE,
} VPMUPerfMode;

typedef struct VPMUPerfOptions {
    VPMUPerfMode mode;
    /*
     * The guest PMU's VPMUArch (0, Intel, unless set), whose encodings
     * the events are: hardware mode needs a host PMU of its vendor.
     */
    int arch;
    bool pinned;        /* pinned events (else flexible, multiplexed) */
    bool scale;         /* scale counts by time enabled / time running */
    /*
     * Hardware mode: read counts with RDPMC through each event's mmap
     * page and stop counters virtually, without syscalls (vpmu-rdpmc).
     */
    bool user_rdpmc;
} VPMUPerfOptions;

/* What the host is doing for one counter slot. */
typedef enum VPMUPerfSlotState {
    VPMU_SLOT_UNUSED,       /* the guest has not enabled it */
    VPMU_SLOT_ACTIVE,       /* a host event counts for it */
    VPMU_SLOT_INACTIVE,     /* its host event is stopped */
    VPMU_SLOT_RELEASED,     /* stopped long enough that the event was closed */
    /*
     * The host cannot count it now: its event failed to open (@open_errno)
     * or host perf took its counter from its pinned event.
     */
    VPMU_SLOT_ERROR,
    VPMU_SLOT_UNSUPPORTED,  /* the host cannot count the guest's event */
} VPMUPerfSlotState;

typedef struct VPMUPerfSlotInfo {
    VPMUPerfSlotState state;
    /*
     * ERROR: why its event failed to open (0: host perf took the counter
     * of its pinned event); @fd_reserve: it would have taken one of the
     * last file descriptors, which the vPMU leaves to the rest of QEMU.
     */
    int open_errno;
    bool fd_reserve;
    /* Host perf has it now: it ran less than it was enabled lately. */
    bool contended;
    uint64_t enabled_ns;    /* host time enabled, over all its events */
    uint64_t running_ns;    /* host time actually counting */
    uint64_t lost_ns;       /* enabled but not counting: contention */
} VPMUPerfSlotInfo;

/* Host work done for one vCPU, for benchmarks and query-vpmu. */
typedef struct VPMUPerfStats {
    uint64_t opens;             /* perf_event_open calls */
    uint64_t open_failures;
    uint64_t deferred_opens;    /* retries of a failed open not yet due */
    uint64_t failure_reports;   /* open failures said on stderr */
    uint64_t closes;
    uint64_t ioctls;            /* enable, disable, period, re-enable */
    uint64_t fcntls;            /* routing overflow signals */
    uint64_t reads;
    uint64_t lazy_releases;
    uint64_t reuses;            /* event changes that kept the host event */
    uint64_t user_reads;        /* counts read with RDPMC, no syscall */
    uint64_t gated_toggles;     /* virtual stops and starts, no syscall */
    uint64_t overflow_signals;
    uint64_t error_signals;     /* pinned events that lost their counter */
    uint64_t error_retries;     /* ENABLEs asking such an event back */
} VPMUPerfStats;

typedef struct VPMUPerf VPMUPerf;

extern const VPMUBackendOps vpmu_perf_ops;

struct perf_event_attr;

/*
 * The system calls the backend makes, so that unit tests can inject
 * failures and time.  Errors are -1 with errno set, as the syscalls do,
 * except route_signal, which returns -errno.
 */
typedef struct VPMUPerfSys {
    int (*open)(struct perf_event_attr *attr, int tid);
    int (*ioctl)(int fd, unsigned long request, uint64_t *arg);
    ssize_t (*read)(int fd, void *buf, size_t len);
    int (*close)(int fd);
    /* Optional: RLIMIT_NOFILE's soft limit (LONG_MAX: none). */
    long (*fd_limit)(void);
    int (*route_signal)(int fd, int tid, int signo);
    /* Start or stop every event the calling thread created (prctl). */
    int (*task_enable)(bool enable);
    int64_t (*now_ns)(void);
    /* Optional (vpmu-rdpmc): the event's mmap page, and RDPMC. */
    void *(*map)(int fd);
    void (*unmap)(void *page);
    uint64_t (*rdpmc)(uint32_t counter);
} VPMUPerfSys;

extern const VPMUPerfSys vpmu_perf_linux;

/* A backend over @sys in @mode (not AUTO), without probing: for tests. */
VPMUPerf *vpmu_perf_new_with(const VPMUPerfSys *sys, VPMUPerfMode mode,
                             const VPMUPerfOptions *opts);

/*
 * A backend for one vCPU whose guest PMU is @opts->arch's.  The first
 * call for an arch decides the mode for the whole process and says once
 * which mode runs and why; it fails only when the mode asked for cannot
 * run.
 */
VPMUPerf *vpmu_perf_new(const VPMUPerfOptions *opts, Error **errp);
void vpmu_perf_free(VPMUPerf *p);
/* HARDWARE or SOFTWARE: what vpmu_perf_new() chose. */
VPMUPerfMode vpmu_perf_mode(const VPMUPerf *p);
/*
 * The vCPU (its index, for messages) and thread whose execution is
 * counted, its TSC frequency, and the signal that overflows send it (0:
 * none).
 */
void vpmu_perf_attach(VPMUPerf *p, int cpu_index, int tid, uint64_t tsc_khz,
                      int signo);
/* Host perf fds currently open for this vCPU. */
unsigned vpmu_perf_open_fds(const VPMUPerf *p);
/* Events open but stopped: candidates for lazy release. */
unsigned vpmu_perf_stopped(const VPMUPerf *p);
/*
 * Lazy release: close the events that have been stopped for @idle_ns or
 * longer (their counts are kept); the next enable re-creates them.
 * Returns how many are still open and stopped, i.e. worth another look.
 */
unsigned vpmu_perf_release_idle(VPMUPerf *p, int64_t now_ns, int64_t idle_ns);
/*
 * Counters the guest runs whose event could not be opened (or re-opened
 * after lazy release) for a reason that may pass (EMFILE, the fd reserve,
 * EBUSY, EACCES...), or whose pinned event lost its counter to host perf:
 * try again those whose backoff is over.  Returns how
 * many still wait.  vpmu_perf_retry_at(): when the next one is due
 * (now_ns clock), INT64_MAX when none waits.
 */
unsigned vpmu_perf_retry(VPMUPerf *p);
int64_t vpmu_perf_retry_at(const VPMUPerf *p);
/* Cheap (a flag): whether some counter may wait for a retry. */
bool vpmu_perf_retry_waiting(const VPMUPerf *p);
void vpmu_perf_slot_info(VPMUPerf *p, unsigned slot, VPMUPerfSlotInfo *info);
const VPMUPerfStats *vpmu_perf_stats(const VPMUPerf *p);
/* The cause and fix of a perf_event_open errno, for messages. */
const char *vpmu_perf_hint(int err);
/* "EMFILE" for EMFILE: the errno names the docs use. */
const char *vpmu_perf_errno_name(int err);
/*
 * The name perf users know the event by ("cycles", "skl::INST_RETIRED",
 * "amd64_fam19h_zen3::CYCLES_NOT_IN_HALT").
 */
const char *vpmu_perf_event_name(const VPMUPerf *p, const VPMUHostEvent *ev);
/*
 * Test seam, for management tests on hosts where nothing preempts us:
 * from the next read on, the slot's event reads as if host perf had taken
 * its counter (no count, no running time), until called with false.
 */
void vpmu_perf_test_preempt(VPMUPerf *p, unsigned slot, bool preempted);
/* Count an overflow signal (called from the vCPU, not the handler). */
void vpmu_perf_note_signal(VPMUPerf *p);

/*
 * The VM stops (@paused) or runs again: while it is stopped no host
 * event counts, whatever the vCPU thread does meanwhile.  Call it on the
 * vCPU thread.
 */
void vpmu_perf_pause(VPMUPerf *p, bool paused);

/* What an event's signal says. */
typedef enum VPMUPerfSignal {
    VPMU_PERF_SIGNAL_OVERFLOW,  /* a counter reached its armed period */
    VPMU_PERF_SIGNAL_ERROR,     /* a pinned event lost its counter */
} VPMUPerfSignal;
/* From the signal's si_code; async-signal-safe, for the handler. */
VPMUPerfSignal vpmu_perf_signal_kind(int si_code);
/*
 * An error signal came (vCPU thread): find the events in error; they are
 * asked back by vpmu_perf_retry() after a backoff.
 */
void vpmu_perf_note_error_signal(VPMUPerf *p);

#endif
