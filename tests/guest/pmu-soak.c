/*
 * qemu-vpmu test guest: the vPMU under load (make soak)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Run with -smp N (the soak uses 4) and -cpu host,pmu=on (the soak adds
 * pmu-version=4; versions 2 and 3 work too); driven by
 * tests/soak/vpmu-soak.py, which meanwhile reclaims and restores the PMU,
 * changes the event filter, queries the vPMU and live-migrates the guest.
 * Every vCPU loops, each iteration a few PMU MSR accesses:
 *
 *  - one random action: an event change on a GP counter (core cycles,
 *    reference cycles, or an event software mode cannot count), an EN
 *    toggle, a GLOBAL_CTRL change, a FIXED_CTR_CTRL ring-field change,
 *    DEBUGCTL.FREEZE_PERFMON_ON_PMI on or off, (version 4) CTR_FRZ set
 *    with GLOBAL_STATUS_SET or cleared, or arming a counter near its
 *    wrap (2^width - P, INT/PMI set) so that it overflows and raises a
 *    PMI;
 *  - reads of two counters, checked for monotonicity;
 *  - a read of GLOBAL_STATUS, which checks that no PMI is lost.
 *
 * Every counter always has its INT (GP) or PMI (fixed) bit set, so every
 * overflow asks for a PMI; LVTPC is in NMI mode and the APIC in x2APIC
 * mode, where QEMU sets LVTPC's mask bit when it delivers a PMI.
 *
 * PMI accounting (per vCPU).  The unit is a wrap: one GLOBAL_STATUS
 * overflow bit the guest saw set and then cleared.  Status bits are
 * cleared in three places only, and each wrap is counted in exactly one
 * (besides, unmask() tests GLOBAL_STATUS_SET on a bit it sets and clears
 * itself, when no overflow can happen):
 *
 *  - the NMI handler reads GLOBAL_STATUS, clears what it saw, and counts
 *    those bits as "received" (pmi_wraps);
 *  - LVTPC stays masked from a delivery until the main loop unmasks it.
 *    A wrap that the vPMU notices meanwhile raises no PMI: a masked LVT
 *    entry delivers nothing and nothing latches (SDM vol. 3A, "Local
 *    Vector Table").  Before unmasking, the main loop stops every counter
 *    (GLOBAL_CTRL = 0) and reads GLOBAL_STATUS: that read folds every host
 *    count, and with the counters stopped nothing can wrap until they are
 *    started again, after the unmask.  The bits that read shows are wraps
 *    noticed while LVTPC was masked: "masked", no PMI expected.  So no
 *    wrap is ambiguous: noticed while LVTPC was unmasked, it owes a PMI.
 *  - the main loop polls GLOBAL_STATUS.  A bit set while LVTPC is unmasked
 *    and no PMI came in since (the handler clears every bit it sees) owes
 *    a PMI, which the vPMU delivers before the vCPU re-enters the guest
 *    after the exit that noticed the wrap.  If no NMI arrives within
 *    lost= (default 32) more iterations, those bits are LOST PMIs
 *    ("lost"): the loop reports them, clears them and counts on.
 *
 * Freeze on PMI (DEBUGCTL) stops the counters at a delivery (GLOBAL_CTRL
 * cleared, or CTR_FRZ in version 4); unmask() starts them again.
 *
 * "PMIs expected" = pmi_wraps + lost, "received" = pmi_wraps.  Host
 * actions need no special case: a reclaimed or filtered counter freezes
 * and cannot wrap, and the vPMU folds a counter before freezing it, so a
 * wrap it counted before is noticed (and owes its PMI) like any other.
 * Every NMI handler run must find a status bit ("spurious" otherwise),
 * and the host's count of PMIs delivered (query-vpmu) must equal the
 * guest's count of NMIs.
 *
 * Monotonicity: between the guest's own writes of a counter its value
 * never goes back (event changes, enable toggles, freezes, migration keep
 * it); it wraps only past its width, which sets its status bit, so a
 * smaller value is an error unless that bit is set now or was cleared
 * since the previous read ("backwards").
 *
 * Output: "SOAK ready cpus=N" once every vCPU runs its loop, a "STAT
 * cpu=N ..." line per vCPU every stat= iterations, "BAD ..." lines for
 * errors.  A byte on COM1 stops the loop: every vCPU stops its counters
 * and settles (2 * lost= quiet iterations), then CPU 0 prints "FINAL
 * cpu=N ..." and "WRAPS cpu=N ..." (overflows per counter) lines, "SYNC
 * final" (the host reads its PMI counts and waits for the perf fds to
 * close), and after one more byte the TAP checks.  Command line: seed=,
 * stat=, pmin=, pmax= (wrap distance P in cycles), lost=; inject=1 or 2
 * makes the guest itself lose PMIs or move
 * a counter back now and then, to show that the checks catch them.
 */
#include "libguest.h"

#define COM1                    0x3f8
#define MSR_IA32_A_PMC0         0x4c1
#define MSR_PERF_CAPABILITIES   0x345
#define MSR_X2APIC_LVTPC        0x834
#define MSR_DEBUGCTL            0x1d9
#define MSR_PERF_GLOBAL_STATUS_SET 0x391
#define DEBUGCTL_FREEZE_PERFMON_ON_PMI (1u << 12)
#define STATUS_CTR_FRZ          (1ull << 59)
#define PERF_CAP_FW_WRITE       (1u << 13)
#define EVTSEL_INT              (1u << 20)
#define FIXED_PMI               0x8u
#define MAX_GP                  8
#define MAX_FIXED               4
#define MAX_CTR                 (MAX_GP + MAX_FIXED)
#define MAX_BAD_LINES           16

/* GP events: two that software mode counts, two that it cannot. */
static const uint16_t gp_events[] = {
    EVENT_CORE_CYCLES, EVENT_REF_CYCLES, EVENT_INST_RETIRED, 0x4f2e,
};
#define N_COUNTING_EVENTS 2
#define N_EVENTS (sizeof(gp_events) / sizeof(gp_events[0]))

enum {
    OP_EVENT, OP_EN, OP_GLOBAL, OP_FIXED, OP_ARM, OP_READ, OP_POLL,
    OP_UNMASK, OP_FREEZE, OP_FRZ, OP_STATUS_SET, N_OPS
};
static const char *const op_names[N_OPS] = {
    "evchg", "entog", "gtog", "ftog", "arms", "reads", "polls", "unmasks",
    "freeze_on_pmi", "ctr_frz", "status_set",
};

struct cpu {
    /* Written by the NMI handler; the main loop only reads them. */
    volatile uint64_t nmis;         /* handler runs: PMIs received */
    volatile uint64_t pmi_wraps;    /* wraps whose bit a handler cleared */
    volatile uint64_t spurious;     /* handler runs that found no bit */
    volatile bool need_unmask;      /* LVTPC masked by a delivery */
    /* Wraps cleared, per counter: both sides add, with atomics. */
    uint32_t epoch[MAX_CTR];

    /* The main loop's own. */
    uint64_t iter, masked_wraps, lost, backwards, badval, late, max_latency;
    uint64_t advanced;              /* sum of forward steps seen */
    uint64_t wraps_seen;            /* backward steps explained by a wrap */
    uint64_t last[MAX_CTR];
    uint32_t last_epoch[MAX_CTR], arm_epoch[MAX_CTR];
    bool valid[MAX_CTR], armed[MAX_CTR];
    uint64_t wraps_of[MAX_CTR];     /* arms that ended in a wrap */
    uint8_t gp_event[MAX_GP], fixed_ring[MAX_FIXED];
    bool gp_en[MAX_GP];
    bool freeze_on_pmi;             /* DEBUGCTL.FREEZE_PERFMON_ON_PMI */
    bool frz;                       /* CTR_FRZ set by the guest (v4) */
    uint64_t status_set_errors;
    uint64_t global_ctrl;
    uint64_t suspect_bits, suspect_nmis, suspect_iter;
    unsigned unmask_wait, next_read;
    uint64_t rng;
    uint64_t ops[N_OPS];
    uint64_t final_status;
    bool done;
} __attribute__((aligned(64)));

static struct cpu cpus[MAX_CPUS];
static unsigned version, nr_gp, nr_fixed, ncpus;
static uint64_t gp_mask, fixed_mask, all_bits;
static bool fw_write;
static uint64_t stat_every, p_min, p_max, lost_after, inject;
static volatile bool stop;              /* set by CPU 0 for all */
static volatile int running;            /* CPUs in the loop */
static volatile int bad_lines;          /* by every CPU */

static unsigned nctr(void)
{
    return nr_gp + nr_fixed;
}

/* Counter i: GP 0..nr_gp-1, then the fixed ones. */
static uint64_t ctr_bit(unsigned i)
{
    return i < nr_gp ? 1ull << i : 1ull << (32 + i - nr_gp);
}

static uint32_t ctr_msr(unsigned i)
{
    return i < nr_gp ? MSR_IA32_PMC0 + i : MSR_IA32_FIXED_CTR0 + i - nr_gp;
}

static uint64_t ctr_mask(unsigned i)
{
    return i < nr_gp ? gp_mask : fixed_mask;
}

static unsigned popcount(uint64_t v)
{
    unsigned n = 0;

    for (; v; v &= v - 1) {
        n++;
    }
    return n;
}

static uint64_t rnd(struct cpu *c)
{
    /* xorshift64 */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static struct cpu *this_cpu(void)
{
    return &cpus[smp_cpu_id()];
}

#define bad(c, fmt, ...) do {                                           \
        if (__atomic_add_fetch(&bad_lines, 1, __ATOMIC_RELAXED) <=       \
            MAX_BAD_LINES) {                                            \
            guest_printf("BAD cpu=%d iter=%lu " fmt "\n",               \
                         (int)((c) - cpus), (c)->iter, ##__VA_ARGS__);  \
        }                                                               \
    } while (0)

/* The status bits @st were cleared: one wrap each, for their counters. */
static void count_wraps(struct cpu *c, uint64_t st)
{
    unsigned i;

    for (i = 0; i < nctr(); i++) {
        if (st & ctr_bit(i)) {
            __atomic_add_fetch(&c->epoch[i], 1, __ATOMIC_SEQ_CST);
        }
    }
}

/* PMIs come as NMIs; no printing here (the print lock may be held). */
static void nmi_handler(unsigned vec)
{
    struct cpu *c = this_cpu();
    uint64_t st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) & all_bits;

    c->nmis++;
    if (st) {
        wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
        count_wraps(c, st);
        c->pmi_wraps += popcount(st);
    } else {
        c->spurious++;
    }
    /* QEMU masked LVTPC at delivery; the main loop unmasks it. */
    c->need_unmask = true;
}

static uint64_t fixed_ctrl_value(struct cpu *c)
{
    uint64_t v = 0;
    unsigned j;

    for (j = 0; j < nr_fixed; j++) {
        v |= (uint64_t)(c->fixed_ring[j] | FIXED_PMI) << (4 * j);
    }
    return v;
}

static void write_evtsel(struct cpu *c, unsigned i)
{
    wrmsr(MSR_IA32_PERFEVTSEL0 + i, gp_events[c->gp_event[i]] |
          EVTSEL_USR | EVTSEL_OS | EVTSEL_INT |
          (c->gp_en[i] ? EVTSEL_EN : 0));
}

/*
 * LVTPC was masked by a PMI delivery.  Stop the counters and fold them
 * (the GLOBAL_STATUS read) so that what wrapped while it was masked is
 * known exactly, then unmask and start them again.  No PMI can come in
 * between: LVTPC is masked until the unmask, and after it nothing counts
 * until GLOBAL_CTRL is written again.
 */
static void unmask(struct cpu *c)
{
    uint64_t full, st;

    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    full = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
    st = full & all_bits;
    if (st) {
        wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
        count_wraps(c, st);
        c->masked_wraps += popcount(st);
    }
    /* Version 4's freeze on PMI set CTR_FRZ: unfreeze, unless we froze. */
    if (version >= 4 && (full & STATUS_CTR_FRZ) && !c->frz) {
        wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, STATUS_CTR_FRZ);
    }
    /*
     * GLOBAL_STATUS_SET (version 4) sets a status bit with no overflow
     * and no PMI.  Here no overflow bit is set and none can be (LVTPC
     * masked, nothing counting): set one, see it, clear it.
     */
    if (version >= 4 && rnd(c) % 4 == 0) {
        uint64_t bit = ctr_bit(rnd(c) % nctr()), v1, v2;

        wrmsr(MSR_PERF_GLOBAL_STATUS_SET, bit);
        v1 = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
        wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, bit);
        v2 = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);
        c->ops[OP_STATUS_SET]++;
        if ((v1 & all_bits) != bit || (v2 & all_bits)) {
            c->status_set_errors++;
            bad(c, "GLOBAL_STATUS_SET of 0x%lx: status 0x%lx, then 0x%lx "
                "after clearing it", bit, v1, v2);
        }
    }
    c->need_unmask = false;
    c->ops[OP_UNMASK]++;
    /* Self-test (inject=1): now and then "forget" to unmask: lost PMIs. */
    if (!(inject == 1 && c->ops[OP_UNMASK] % 100 == 0)) {
        wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_NMI);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, c->global_ctrl);
}

/* Poll GLOBAL_STATUS: a bit that owes a PMI must see one come. */
static void poll_status(struct cpu *c)
{
    uint64_t n0, st;
    bool masked;

    if (c->suspect_bits) {
        if (c->nmis != c->suspect_nmis) {
            uint64_t lat = c->iter - c->suspect_iter;

            c->late += lat > 0;
            if (lat > c->max_latency) {
                c->max_latency = lat;
            }
            c->suspect_bits = 0;
        } else if (c->iter - c->suspect_iter >= lost_after) {
            /* No NMI since: nobody cleared the bits, they are still set. */
            st = c->suspect_bits;
            c->lost += popcount(st);
            bad(c, "lost PMI: status 0x%lx set %lu iterations ago, no NMI "
                "since (nmis=%lu)", st, c->iter - c->suspect_iter, c->nmis);
            c->suspect_bits = 0;
            wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, st);
            count_wraps(c, st);
        }
    }

    n0 = c->nmis;
    masked = c->need_unmask;
    st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) & all_bits;
    c->ops[OP_POLL]++;
    /*
     * If an NMI came in after n0 was read, its handler saw these bits (or
     * LVTPC was masked when they were noticed): nothing to wait for.
     */
    if (st && !masked && c->nmis == n0 && !c->suspect_bits) {
        c->suspect_bits = st;
        c->suspect_nmis = n0;
        c->suspect_iter = c->iter;
    }
}

/* Read counter i: it must not go back unless it wrapped. */
static void read_counter(struct cpu *c, unsigned i)
{
    uint32_t e = __atomic_load_n(&c->epoch[i], __ATOMIC_SEQ_CST);
    uint64_t v = rdmsr(ctr_msr(i));

    c->ops[OP_READ]++;
    if (v > ctr_mask(i)) {
        c->badval++;
        bad(c, "counter %u reads 0x%lx, wider than the counter", i, v);
    }
    if (c->valid[i] && v < c->last[i]) {
        uint64_t st = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS);

        if ((st & ctr_bit(i)) ||
            __atomic_load_n(&c->epoch[i], __ATOMIC_SEQ_CST) !=
            c->last_epoch[i]) {
            c->wraps_seen++;
        } else {
            c->backwards++;
            bad(c, "counter %u went back: 0x%lx -> 0x%lx, no overflow "
                "(status 0x%lx)", i, c->last[i], v, st);
        }
    } else if (c->valid[i]) {
        c->advanced += v - c->last[i];
    }
    c->last[i] = v;
    c->last_epoch[i] = e;
    c->valid[i] = true;
    /* Self-test (inject=2): now and then move a counter back unnoticed. */
    if (inject == 2 && i < nr_gp && c->ops[OP_READ] % 5000 == 0 && v > 1) {
        wrmsr(MSR_IA32_PMC0 + i, 0);
    }
}

/* Arm counter i to wrap after P (pmin..pmax) events, INT already set. */
static void arm(struct cpu *c, unsigned i)
{
    uint64_t p = p_min + rnd(c) % (p_max - p_min + 1);
    uint64_t v = ctr_mask(i) + 1 - p;

    if (i >= nr_gp) {
        wrmsr(ctr_msr(i), v);
    } else if (fw_write && (rnd(c) & 1)) {
        wrmsr(MSR_IA32_A_PMC0 + i, v);
    } else {
        /* A legacy write sign-extends bit 31: -P is 2^width - P. */
        wrmsr(MSR_IA32_PMC0 + i, (uint32_t)-p);
    }
    c->armed[i] = true;
    c->arm_epoch[i] = __atomic_load_n(&c->epoch[i], __ATOMIC_SEQ_CST);
    c->valid[i] = false;
    c->ops[OP_ARM]++;
}

static void action(struct cpu *c)
{
    uint64_t r = rnd(c);
    unsigned i, k;

    switch (r % 10) {
    case 0:
    case 1:                         /* event change on a GP counter */
        i = (r >> 8) % nr_gp;
        if (c->gp_event[i] >= N_COUNTING_EVENTS || (r >> 16) % 4) {
            /* cycles <-> ref-cycles, or back from an uncounted event */
            c->gp_event[i] = c->gp_event[i] >= N_COUNTING_EVENTS ?
                             (r >> 20) % N_COUNTING_EVENTS :
                             !c->gp_event[i];
        } else {
            c->gp_event[i] = N_COUNTING_EVENTS +
                             (r >> 20) % (N_EVENTS - N_COUNTING_EVENTS);
        }
        write_evtsel(c, i);
        c->ops[OP_EVENT]++;
        break;
    case 2:                         /* EN toggle: on about 3/4 of the time */
        i = (r >> 8) % nr_gp;
        if (!c->gp_en[i]) {
            c->gp_en[i] = true;
        } else if ((r >> 16) % 3 == 0) {
            c->gp_en[i] = false;
        }
        write_evtsel(c, i);
        c->ops[OP_EN]++;
        break;
    case 3:                         /* GLOBAL_CTRL: mostly all counters */
        if (c->global_ctrl != all_bits) {
            c->global_ctrl = all_bits;
        } else {
            c->global_ctrl = (r >> 8) % 3 ? (r >> 16) & all_bits : 0;
        }
        wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, c->global_ctrl);
        c->ops[OP_GLOBAL]++;
        break;
    case 4:                         /* a fixed counter's ring field */
        if (!nr_fixed) {
            break;
        }
        i = (r >> 8) % nr_fixed;
        c->fixed_ring[i] = c->fixed_ring[i] ? (r >> 16) % 4 : 3;
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, fixed_ctrl_value(c));
        c->ops[OP_FIXED]++;
        break;
    case 5:
    case 6:
    case 7:                         /* arm one that is not armed */
        k = (r >> 8) % nctr();
        for (i = 0; i < nctr(); i++) {
            unsigned j = (k + i) % nctr();

            if (!c->armed[j]) {
                arm(c, j);
                break;
            }
        }
        break;
    case 8:
        /*
         * Re-arm one, armed or not; not while LVTPC is masked, when its
         * status bit may still be set: a second wrap would hide in it.
         */
        if ((r >> 8) % 4 == 0 && !c->need_unmask) {
            arm(c, (r >> 16) % nctr());
        }
        break;
    case 9:
        if (version >= 4 && (r >> 8) % 2) {
            /* CTR_FRZ: everything frozen about a fifth of the time */
            c->frz = c->frz ? false : (r >> 16) % 4 == 0;
            if (c->frz) {
                wrmsr(MSR_PERF_GLOBAL_STATUS_SET, STATUS_CTR_FRZ);
            } else {
                wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, STATUS_CTR_FRZ);
            }
            c->ops[OP_FRZ]++;
        } else {
            /*
             * Freeze on PMI: versions 2 and 3 clear GLOBAL_CTRL at the
             * delivery, 4 sets CTR_FRZ; unmask() undoes either.
             */
            c->freeze_on_pmi = !c->freeze_on_pmi;
            wrmsr(MSR_DEBUGCTL, c->freeze_on_pmi ?
                  DEBUGCTL_FREEZE_PERFMON_ON_PMI : 0);
            c->ops[OP_FREEZE]++;
        }
        break;
    default:
        break;
    }
}

/* Every stat= iterations: short, as each character is an I/O exit. */
static void print_stat(struct cpu *c)
{
    guest_printf("STAT cpu=%d iter=%lu nmis=%lu pmi_wraps=%lu masked=%lu "
                 "lost=%lu backwards=%lu\n", (int)(c - cpus), c->iter,
                 c->nmis, c->pmi_wraps, c->masked_wraps, c->lost,
                 c->backwards);
}

static void print_final(struct cpu *c)
{
    int cpu = c - cpus;

    guest_printf("FINAL cpu=%d iter=%lu nmis=%lu pmi_wraps=%lu masked=%lu "
                 "lost=%lu spurious=%lu backwards=%lu badval=%lu late=%lu "
                 "max_latency=%lu wraps_seen=%lu advanced=%lu %s=%lu %s=%lu "
                 "%s=%lu %s=%lu %s=%lu %s=%lu %s=%lu %s=%lu %s=%lu %s=%lu "
                 "%s=%lu status_set_errors=%lu status=0x%lx\n",
                 cpu, c->iter, c->nmis, c->pmi_wraps, c->masked_wraps,
                 c->lost, c->spurious, c->backwards, c->badval, c->late,
                 c->max_latency, c->wraps_seen, c->advanced,
                 op_names[0], c->ops[0], op_names[1], c->ops[1],
                 op_names[2], c->ops[2], op_names[3], c->ops[3],
                 op_names[4], c->ops[4], op_names[5], c->ops[5],
                 op_names[6], c->ops[6], op_names[7], c->ops[7],
                 op_names[8], c->ops[8], op_names[9], c->ops[9],
                 op_names[10], c->ops[10], c->status_set_errors,
                 c->final_status);
}

static void setup(struct cpu *c, int cpu)
{
    unsigned i;

    c->rng = cmdline_uint("seed", 1) * 0x9e3779b97f4a7c15ull +
             (uint64_t)(cpu + 1) * 0xbf58476d1ce4e5b9ull;
    if (!c->rng) {
        c->rng = 1;
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, all_bits);
    for (i = 0; i < nr_gp; i++) {
        c->gp_event[i] = i % N_COUNTING_EVENTS;
        c->gp_en[i] = true;
        write_evtsel(c, i);
        wrmsr(MSR_IA32_PMC0 + i, 0);
    }
    for (i = 0; i < nr_fixed; i++) {
        c->fixed_ring[i] = 3;
        wrmsr(MSR_IA32_FIXED_CTR0 + i, 0);
    }
    wrmsr(MSR_IA32_FIXED_CTR_CTRL, fixed_ctrl_value(c));
    wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_NMI);
    c->global_ctrl = all_bits;
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, c->global_ctrl);
}

/* One iteration; @quiet: no actions, just PMI bookkeeping. */
static void iteration(struct cpu *c, bool quiet)
{
    unsigned i;

    c->iter++;
    if (!quiet) {
        action(c);
        for (i = 0; i < 2; i++) {
            read_counter(c, c->next_read);
            c->next_read = (c->next_read + 1) % nctr();
        }
    }
    poll_status(c);
    if (c->need_unmask) {
        /*
         * Mostly at once; a quarter of the time 1-3 iterations later, so
         * that wraps while LVTPC is masked are part of the test.
         */
        if (c->unmask_wait == 0) {
            uint64_t r = rnd(c);

            c->unmask_wait = r % 4 ? 1 : 2 + (r >> 8) % 3;
        }
        if (--c->unmask_wait == 0) {
            unmask(c);
        }
    }
    for (i = 0; i < nctr(); i++) {
        if (c->armed[i] &&
            __atomic_load_n(&c->epoch[i], __ATOMIC_SEQ_CST) !=
            c->arm_epoch[i]) {
            c->armed[i] = false;
            c->wraps_of[i]++;
        }
    }
    if (!quiet && c->iter % stat_every == 0) {
        print_stat(c);
    }
}

static void soak(int cpu)
{
    struct cpu *c = &cpus[cpu];
    uint64_t i;

    setup(c, cpu);
    __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
    if (cpu == 0) {
        while (__atomic_load_n(&running, __ATOMIC_SEQ_CST) < (int)ncpus) {
            cpu_relax();
        }
        guest_printf("SOAK ready cpus=%u\n", ncpus);
    }
    while (!stop) {
        iteration(c, false);
        if (cpu == 0 && c->iter % 64 == 0 && (inb(COM1 + 5) & 1)) {
            inb(COM1);
            stop = true;
        }
    }
    /*
     * Stop counting and settle: every wrap is folded by the next status
     * read, and its PMI (or its loss) is seen within LOST_AFTER
     * iterations.
     */
    c->global_ctrl = 0;
    wrmsr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wrmsr(MSR_DEBUGCTL, 0);
    for (i = 0; i < 2 * lost_after + 2; i++) {
        iteration(c, true);
    }
    if (c->need_unmask) {
        unmask(c);
    }
    wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_NMI | APIC_LVT_MASKED);
    c->final_status = rdmsr(MSR_IA32_PERF_GLOBAL_STATUS) & all_bits;
    __atomic_store_n(&c->done, true, __ATOMIC_SEQ_CST);
}

static void ap_main(int cpu)
{
    soak(cpu);
}

static void probe_pmu(void)
{
    uint32_t a, b, cx, d;

    cpuid(0xa, 0, &a, &b, &cx, &d);
    version = a & 0xff;
    nr_gp = (a >> 8) & 0xff;
    gp_mask = (1ull << ((a >> 16) & 0xff)) - 1;
    nr_fixed = d & 0x1f;
    fixed_mask = (1ull << ((d >> 5) & 0xff)) - 1;
    if (version < 2) {
        nr_fixed = 0;
    }
    nr_gp = nr_gp > MAX_GP ? MAX_GP : nr_gp;
    nr_fixed = nr_fixed > MAX_FIXED ? MAX_FIXED : nr_fixed;
    all_bits = ((1ull << nr_gp) - 1) | ((1ull << nr_fixed) - 1) << 32;
    cpuid(1, 0, &a, &b, &cx, &d);
    if (cx & (1u << 15)) {          /* PDCM: IA32_PERF_CAPABILITIES */
        fw_write = rdmsr(MSR_PERF_CAPABILITIES) & PERF_CAP_FW_WRITE;
    }
    guest_printf("PMU version %u: %u GP counters (mask 0x%lx), %u fixed "
                 "(mask 0x%lx), full-width writes %s\n", version, nr_gp,
                 gp_mask, nr_fixed, fixed_mask, fw_write ? "yes" : "no");
}

int main(void)
{
    uint64_t pmis = 0, wraps = 0, masked = 0;
    int started;
    unsigned cpu;
    bool all_done;

    stat_every = cmdline_uint("stat", 256);
    p_min = cmdline_uint("pmin", 2000000);
    p_max = cmdline_uint("pmax", 8000000);
    lost_after = cmdline_uint("lost", 32);
    inject = cmdline_uint("inject", 0);
    if (p_max < p_min) {
        p_max = p_min;
    }
    probe_pmu();
    if (nr_gp == 0 || !apic_enable_x2apic()) {
        check(false, "a PMU with GP counters and an x2APIC (%u GP)", nr_gp);
        guest_done();
    }
    apic_write(APIC_SVR, 0x1ff);
    outb(0x21, 0xff);               /* mask the 8259s */
    outb(0xa1, 0xff);
    set_irq_handler(2, nmi_handler);
    ncpus = fw_cfg_nb_cpus();
    if (ncpus > MAX_CPUS) {
        ncpus = MAX_CPUS;
    }

    started = smp_start(ap_main);
    if (started != (int)ncpus - 1) {
        check(false, "all %u CPUs started (%d APs)", ncpus, started);
        guest_done();
    }
    soak(0);

    do {
        all_done = true;
        for (cpu = 0; cpu < ncpus; cpu++) {
            all_done &= __atomic_load_n(&cpus[cpu].done, __ATOMIC_SEQ_CST);
        }
        cpu_relax();
    } while (!all_done);

    for (cpu = 0; cpu < ncpus; cpu++) {
        print_final(&cpus[cpu]);
    }
    /* Wraps per counter (armed counters that overflowed): GP, then fixed. */
    for (cpu = 0; cpu < ncpus; cpu++) {
        unsigned i;

        guest_printf("WRAPS cpu=%u", cpu);
        for (i = 0; i < nctr(); i++) {
            guest_printf(" %s%u=%lu", i < nr_gp ? "gp" : "fixed",
                         i < nr_gp ? i : i - nr_gp, cpus[cpu].wraps_of[i]);
        }
        guest_printf("\n");
    }
    guest_printf("SYNC final\n");
    serial_getc();

    check(started == (int)ncpus - 1, "%u vCPUs ran the soak loop", ncpus);
    for (cpu = 0; cpu < ncpus; cpu++) {
        struct cpu *c = &cpus[cpu];

        check(c->lost == 0, "cpu %u: no PMI lost (%lu expected, %lu "
              "received, %lu wraps while LVTPC was masked)", cpu,
              c->pmi_wraps + c->lost, c->pmi_wraps, c->masked_wraps);
        check(c->spurious == 0, "cpu %u: every NMI found an overflow bit "
              "(%lu NMIs, %lu spurious)", cpu, c->nmis, c->spurious);
        check(c->backwards == 0 && c->badval == 0, "cpu %u: no count went "
              "back (%lu backwards, %lu too wide, %lu wraps seen)", cpu,
              c->backwards, c->badval, c->wraps_seen);
        check(c->status_set_errors == 0, "cpu %u: GLOBAL_STATUS_SET sets "
              "and OVF_CTRL clears status bits (%lu tries, %lu wrong)", cpu,
              c->ops[OP_STATUS_SET], c->status_set_errors);
        check(c->final_status == 0, "cpu %u: every overflow bit was "
              "accounted for (status 0x%lx at the end)", cpu,
              c->final_status);
        check(c->nmis > 0 && c->advanced > 0, "cpu %u: counters counted and "
              "raised PMIs (%lu iterations, %lu NMIs)", cpu, c->iter,
              c->nmis);
        pmis += c->nmis;
        wraps += c->pmi_wraps;
        masked += c->masked_wraps;
    }
    guest_printf("# %lu NMIs for %lu wraps, %lu wraps while masked\n",
                 pmis, wraps, masked);
    return 0;
}
