/*
 * qemu-vpmu: unit tests of the hardware LBR backend (vpmu-lbr-hw.c)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The hardware backend cannot run on hosts without Intel LBR, so it is
 * tested against a fake of KVM's guest LBR that behaves as
 * arch/x86/kvm/vmx/pmu_intel.c does for host-initiated KVM_GET_MSRS and
 * KVM_SET_MSRS (lbr.md, section 2.2):
 * - DEBUGCTL with LBR set, or any LBR MSR access, creates the guest LBR
 *   event if there is none (intel_pmu_create_guest_lbr_event(),
 *   intel_pmu_handle_lbr_msrs_access()); its first schedule clears the
 *   records and LBR_SELECT (intel_pmu_lbr_add() -> intel_pmu_lbr_reset());
 * - an inactive event reads 0 and drops writes;
 * - at a sched-in with DEBUGCTL.LBR clear the event is released
 *   (intel_pmu_cleanup());
 * - a host CPU-pinned LBR user takes the hardware: the task-pinned event
 *   goes to the error state and stays inactive, and the host's branches
 *   overwrite the records.
 * The tests drive the model and the backend the way the KVM glue does.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu-lbr-hw.h"
#include "vpmu-null-backend.h"

#define LBR         VPMU_DEBUGCTL_LBR
#define FRZ_LBR     VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI
#define BUS_LOCK    (1ULL << 2)     /* a DEBUGCTL bit of KVM's own */
#define DEBUGCTL    VPMU_MSR_DEBUGCTL
#define SELECT      VPMU_LBR_MSR_SELECT
#define TOS         VPMU_LBR_MSR_TOS
#define FROM(i)     (VPMU_LBR_MSR_NHM_FROM + (i))
#define TO(i)       (VPMU_LBR_MSR_NHM_TO + (i))
#define INFO(i)     (VPMU_LBR_MSR_INFO + (i))
#define OVF_CTRL    VPMU_MSR_PERF_GLOBAL_OVF_CTRL
#define GSTATUS     VPMU_MSR_PERF_GLOBAL_STATUS

/* What the CPU records (MISPRED and a cycle count: not the model's 0) */
#define HW_INFO     (VPMU_LBR_INFO_MISPRED | 0x1234)
/* What a host LBR user leaves in the records */
#define HOST_IP     0xffffffff81000bad

/* A taken branch of the guest, n-th of a test */
#define BR_FROM(n)  (0x401000ULL + (n) * 0x10)
#define BR_TO(n)    (0x402000ULL + (n) * 0x10)

/* KVM's guest LBR, and the real LBR MSRs under it. */
typedef struct FakeKvm {
    unsigned depth;
    bool has_info;
    uint64_t select, tos;
    uint64_t from[VPMU_LBR_MAX_DEPTH], to[VPMU_LBR_MAX_DEPTH];
    uint64_t info[VPMU_LBR_MAX_DEPTH];
    uint64_t debugctl;      /* GUEST_IA32_DEBUGCTL */
    bool event;             /* the guest LBR event exists */
    bool active;            /* ... and holds the LBR (state ACTIVE) */
    bool host_user;         /* a host CPU-pinned LBR user */
    bool refuse;            /* every access fails, as without KVM's LBR */
    unsigned creates, releases;
    unsigned lbr_accesses;  /* host accesses of LBR MSRs (not DEBUGCTL) */
    unsigned gets, sets;
} FakeKvm;

static void kvm_create_event(FakeKvm *k)
{
    if (k->event) {
        return;
    }
    k->event = true;
    k->creates++;
    /* perf schedules a new task-pinned event at once, if it can */
    k->active = !k->host_user;
    if (k->active) {
        /* the first schedule: intel_pmu_lbr_reset() */
        k->select = 0;
        memset(k->from, 0, sizeof(k->from));
        memset(k->to, 0, sizeof(k->to));
        memset(k->info, 0, sizeof(k->info));
    }
}

/* The vCPU thread is scheduled back in: kvm_pmu_cleanup() */
static void kvm_sched_in(FakeKvm *k)
{
    if (k->event && !(k->debugctl & LBR)) {
        k->event = false;
        k->active = false;
        k->releases++;
    }
}

/* A host CPU-pinned LBR user arrives (@on) or leaves. */
static void host_lbr_user(FakeKvm *k, bool on)
{
    unsigned i;

    k->host_user = on;
    if (on && k->active) {
        /* Not re-scheduled when the user leaves: a pinned event in error */
        k->active = false;
        for (i = 0; i < k->depth; i++) {
            k->from[i] = k->to[i] = HOST_IP;
        }
    }
}

/* The guest takes a branch; the CPU records it if LBR is its. */
static void guest_branch(FakeKvm *k, unsigned n)
{
    if (!(k->debugctl & LBR) || !k->active) {
        return;
    }
    k->tos = (k->tos + 1) % k->depth;
    k->from[k->tos] = BR_FROM(n);
    k->to[k->tos] = BR_TO(n);
    k->info[k->tos] = k->has_info ? HW_INFO : 0;
}

/* A host PMI taken in the guest: the CPU's own freeze (SDM, v2 style). */
static void host_pmi(FakeKvm *k)
{
    if (k->debugctl & FRZ_LBR) {
        k->debugctl &= ~LBR;
    }
}

/* The guest takes a #DB: the CPU clears DEBUGCTL.LBR (SDM). */
static void guest_debug_exception(FakeKvm *k)
{
    k->debugctl &= ~LBR;
}

static uint64_t *kvm_lbr_msr(FakeKvm *k, uint32_t msr)
{
    if (msr == SELECT) {
        return &k->select;
    }
    if (msr == TOS) {
        return &k->tos;
    }
    if (msr - FROM(0) < k->depth) {
        return &k->from[msr - FROM(0)];
    }
    if (msr - TO(0) < k->depth) {
        return &k->to[msr - TO(0)];
    }
    if (k->has_info && msr - INFO(0) < k->depth) {
        return &k->info[msr - INFO(0)];
    }
    return NULL;
}

/* One entry of KVM_GET_MSRS or KVM_SET_MSRS; false: KVM stops there. */
static bool kvm_msr(FakeKvm *k, uint32_t msr, uint64_t *val, bool write)
{
    uint64_t *reg;

    if (k->refuse) {
        return false;
    }
    if (msr == DEBUGCTL) {
        if (write) {
            if (*val & LBR) {
                kvm_create_event(k);        /* vmx_set_msr() */
            }
            k->debugctl = *val;
        } else {
            *val = k->debugctl;
        }
        return true;
    }
    reg = kvm_lbr_msr(k, msr);
    if (!reg) {
        return false;       /* intel_pmu_is_valid_lbr_msr() */
    }
    k->lbr_accesses++;
    kvm_create_event(k);
    if (!k->active) {
        if (!write) {
            *val = 0;
        }
        return true;
    }
    if (write) {
        *reg = msr == TOS ? *val % k->depth : *val;
    } else {
        *val = *reg;
    }
    return true;
}

static bool kvm_get_msrs(void *opaque, const uint32_t *idx, uint64_t *val,
                         unsigned n)
{
    FakeKvm *k = opaque;
    unsigned i;

    k->gets++;
    for (i = 0; i < n; i++) {
        if (!kvm_msr(k, idx[i], &val[i], false)) {
            return false;
        }
    }
    return true;
}

static bool kvm_set_msrs(void *opaque, const uint32_t *idx,
                         const uint64_t *val, unsigned n)
{
    FakeKvm *k = opaque;
    unsigned i;

    k->sets++;
    for (i = 0; i < n; i++) {
        uint64_t v = val[i];

        if (!kvm_msr(k, idx[i], &v, true)) {
            return false;
        }
    }
    return true;
}

static const VPMULbrHwOps kvm_ops = {
    .get_msrs = kvm_get_msrs,
    .set_msrs = kvm_set_msrs,
};

typedef struct Fixture {
    VPMUState s;
    VPMULbrHw hw;
    FakeKvm k;
} Fixture;

/* A host (and a guest: the backend needs the host's LBR) of this kind. */
typedef struct HostLbr {
    int version, format, depth;
} HostLbr;

static const HostLbr skylake = { 4, VPMU_LBR_FMT_INFO, 32 };
static const HostLbr haswell = { 2, VPMU_LBR_FMT_EIP_FLAGS2, 16 };

static void setup_host(Fixture *t, const HostLbr *h)
{
    Error *err = NULL;
    VPMUConfig cfg;

    vpmu_config_default(&cfg);
    cfg.version = h->version;
    cfg.lbr.kind = VPMU_LBR_LEGACY;
    cfg.lbr.format = h->format;
    cfg.lbr.depth = h->depth;
    cfg.lbr.pmu_version = h->version;
    cfg.perf_capabilities |= h->format;
    if (!vpmu_config_check(&cfg, &err)) {
        g_error("config refused: %s", error_get_pretty(err));
    }
    memset(t, 0, sizeof(*t));
    /* The counters play no part here. */
    vpmu_state_init(&t->s, &cfg, &null_ops, NULL);
    t->k.depth = h->depth;
    t->k.has_info = t->s.lbr.info_base != 0;
    t->k.debugctl = BUS_LOCK;
    vpmu_lbr_hw_init(&t->hw, &kvm_ops, &t->k);
}

static void setup(Fixture *t, int version)
{
    HostLbr h = skylake;

    h.version = version;
    setup_host(t, &h);
}

/* What the glue does before every KVM_RUN. */
static void pre_run(Fixture *t)
{
    vpmu_lbr_hw_sync(&t->hw, &t->s);
}

/* A guest RDMSR, as the glue handles it. */
static uint64_t rd(Fixture *t, uint32_t msr)
{
    uint64_t val = 0xdeadbeef;

    vpmu_lbr_hw_before_read(&t->hw, &t->s, msr);
    g_assert_true(vpmu_msr_read(&t->s, msr, &val, false));
    pre_run(t);
    return val;
}

/* A guest WRMSR, as the glue handles it. */
static void wr(Fixture *t, uint32_t msr, uint64_t val)
{
    g_assert_true(vpmu_msr_write(&t->s, msr, val, false));
    if (msr == DEBUGCTL) {
        /* KVM gets its own bits and the ones the backend keeps there */
        t->k.debugctl = (val & ~vpmu_debugctl_owned(&t->s)) |
                        vpmu_lbr_hw_debugctl(&t->hw);
    } else {
        vpmu_lbr_hw_written(&t->hw, &t->s, msr);
    }
    vpmu_sync(&t->s);
    pre_run(t);
}

/* The PMI the model asked for reaches the guest. */
static void pmi(Fixture *t)
{
    vpmu_pmi_delivered(&t->s);
    vpmu_sync(&t->s);
    pre_run(t);
}

/* The guest's record @i is branch @n. */
static void assert_record(Fixture *t, unsigned i, unsigned n)
{
    g_assert_cmphex(rd(t, FROM(i)), ==, BR_FROM(n));
    g_assert_cmphex(rd(t, TO(i)), ==, BR_TO(n));
}

/* The model's copy, without a guest read (which would refresh it). */
static void assert_model_record(Fixture *t, unsigned i, unsigned n)
{
    g_assert_cmphex(t->s.lbr.rec[i].from, ==, BR_FROM(n));
    g_assert_cmphex(t->s.lbr.rec[i].to, ==, BR_TO(n));
}

/*
 * While the guest records, the hardware does, and the guest reads what
 * it recorded: TOS, FROM/TO and the CPU's INFO (MISPRED, cycles), which
 * the model alone would give as 0.
 */
static void test_records(gconstpointer data)
{
    Fixture t;
    unsigned n;

    setup_host(&t, data);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    g_assert_true(vpmu_lbr_recording(&t.s));
    g_assert_true(t.hw.recording);
    g_assert_cmpuint(t.k.creates, ==, 1);
    g_assert_cmphex(t.k.debugctl, ==, LBR | BUS_LOCK);
    for (n = 1; n <= 3; n++) {
        guest_branch(&t.k, n);
    }
    g_assert_cmpuint(rd(&t, TOS), ==, 3);
    for (n = 1; n <= 3; n++) {
        assert_record(&t, n, n);
    }
    if (t.k.has_info) {
        g_assert_cmphex(rd(&t, INFO(3)), ==, HW_INFO);
    }
    /* The depth is the host's: the TOS wraps there */
    for (n = 4; n <= t.k.depth + 1; n++) {
        guest_branch(&t.k, n);
    }
    g_assert_cmpuint(rd(&t, TOS), ==, 1);
    assert_record(&t, 0, t.k.depth);
    assert_record(&t, 1, t.k.depth + 1);
    g_assert_cmpuint(t.hw.stats.refreshes, >, 0);
    g_assert_cmpuint(t.hw.stats.losses, ==, 0);
    g_assert_cmpuint(t.hw.stats.errors, ==, 0);

    /* Guest LBR off: a snapshot, then the hardware stops (KVM's bit kept) */
    wr(&t, DEBUGCTL, BUS_LOCK);
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);
    g_assert_cmpuint(t.hw.stats.snapshots, ==, 1);
    assert_record(&t, 1, t.k.depth + 1);
}

/*
 * The freeze of a PMU before version 4 clears DEBUGCTL.LBR (SDM: "LBR
 * freeze"): the records are copied at the PMI and read from the model
 * while frozen; KVM releases its event (DEBUGCTL.LBR is clear at the
 * next sched-in), and when the guest turns LBR back on the snapshot goes
 * into the new event, so no record is lost.
 */
static void test_freeze_v2(void)
{
    Fixture t;
    unsigned lbr_accesses, gets;

    setup(&t, 2);
    wr(&t, DEBUGCTL, LBR | FRZ_LBR | BUS_LOCK);
    /* The hardware freezes at the PMI the model injects, not on its own */
    g_assert_cmphex(t.k.debugctl, ==, LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    guest_branch(&t.k, 2);
    pmi(&t);
    g_assert_cmphex(rd(&t, DEBUGCTL), ==, FRZ_LBR);
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);
    g_assert_cmpuint(t.hw.stats.snapshots, ==, 1);

    /* Frozen: nothing is recorded, and reads do not reach the host */
    lbr_accesses = t.k.lbr_accesses;
    gets = t.k.gets;
    guest_branch(&t.k, 3);
    g_assert_cmpuint(rd(&t, TOS), ==, 2);
    assert_record(&t, 1, 1);
    assert_record(&t, 2, 2);
    g_assert_cmpuint(t.k.lbr_accesses, ==, lbr_accesses);
    g_assert_cmpuint(t.k.gets, ==, gets);

    /* KVM releases the event; the guest re-enables, a new one is reset */
    kvm_sched_in(&t.k);
    g_assert_cmpuint(t.k.releases, ==, 1);
    wr(&t, DEBUGCTL, LBR | FRZ_LBR | BUS_LOCK);
    g_assert_cmpuint(t.k.creates, ==, 2);
    g_assert_true(t.hw.recording);
    g_assert_cmphex(t.k.from[2], ==, BR_FROM(2));
    guest_branch(&t.k, 4);
    g_assert_cmpuint(rd(&t, TOS), ==, 3);
    assert_record(&t, 1, 1);
    assert_record(&t, 2, 2);
    assert_record(&t, 3, 4);
}

/*
 * Version 4 freezes by GLOBAL_STATUS.LBR_FRZ and leaves DEBUGCTL alone
 * (SDM: "streamlined" freeze): the guest still reads DEBUGCTL.LBR = 1
 * while the hardware stops; writing 1 to bit 58 of STATUS_RESET lets it
 * record again, from the records of the freeze.
 */
static void test_freeze_v4(void)
{
    Fixture t;
    unsigned lbr_accesses;

    setup(&t, 4);
    wr(&t, DEBUGCTL, LBR | FRZ_LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    guest_branch(&t.k, 2);
    pmi(&t);
    g_assert_cmphex(rd(&t, GSTATUS) & VPMU_GLOBAL_LBR_FRZ, ==,
                    VPMU_GLOBAL_LBR_FRZ);
    g_assert_cmphex(rd(&t, DEBUGCTL), ==, LBR | FRZ_LBR);
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);

    lbr_accesses = t.k.lbr_accesses;
    guest_branch(&t.k, 3);
    assert_record(&t, 2, 2);
    g_assert_cmpuint(rd(&t, TOS), ==, 2);
    g_assert_cmpuint(t.k.lbr_accesses, ==, lbr_accesses);

    kvm_sched_in(&t.k);
    g_assert_cmpuint(t.k.releases, ==, 1);
    wr(&t, OVF_CTRL, VPMU_GLOBAL_LBR_FRZ);
    g_assert_true(t.hw.recording);
    g_assert_cmpuint(t.k.creates, ==, 2);
    g_assert_cmphex(t.k.debugctl, ==, LBR | BUS_LOCK);
    guest_branch(&t.k, 4);
    assert_record(&t, 1, 1);
    assert_record(&t, 2, 2);
    assert_record(&t, 3, 4);
}

/*
 * Guest writes while recording reach the hardware (Linux's check_msr()
 * flips bits and reads them back; its context switch restores records
 * and TOS); while not recording they stay in the model until the next
 * start, without touching the host.
 */
static void test_writes(void)
{
    Fixture t;

    setup(&t, 4);
    wr(&t, FROM(6), BR_FROM(6));
    wr(&t, TO(6), BR_TO(6));
    wr(&t, SELECT, VPMU_LBR_SELECT_CPL_EQ_0);
    g_assert_cmpuint(t.k.lbr_accesses, ==, 0);
    g_assert_cmpuint(t.k.creates, ==, 0);

    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    g_assert_cmphex(t.k.from[6], ==, BR_FROM(6));
    g_assert_cmphex(t.k.to[6], ==, BR_TO(6));
    g_assert_cmphex(t.k.select, ==, VPMU_LBR_SELECT_CPL_EQ_0);

    wr(&t, FROM(5), BR_FROM(5) ^ 0xffff);
    wr(&t, TO(5), BR_TO(5));
    wr(&t, INFO(5), HW_INFO);
    wr(&t, TOS, 5);
    wr(&t, SELECT, VPMU_LBR_SELECT_CPL_NEQ_0);
    g_assert_cmphex(t.k.from[5], ==, BR_FROM(5) ^ 0xffff);
    g_assert_cmphex(t.k.to[5], ==, BR_TO(5));
    g_assert_cmphex(t.k.info[5], ==, HW_INFO);
    g_assert_cmpuint(t.k.tos, ==, 5);
    g_assert_cmphex(t.k.select, ==, VPMU_LBR_SELECT_CPL_NEQ_0);
    g_assert_cmphex(rd(&t, FROM(5)), ==, BR_FROM(5) ^ 0xffff);
    g_assert_cmphex(rd(&t, SELECT), ==, VPMU_LBR_SELECT_CPL_NEQ_0);

    /* The hardware records on from the TOS the guest wrote */
    guest_branch(&t.k, 7);
    g_assert_cmpuint(rd(&t, TOS), ==, 6);
    assert_record(&t, 6, 7);
}

/*
 * Contention: a host CPU-pinned LBR user takes the hardware from KVM's
 * event, which then reads 0.  The LBR_SELECT read back with the next
 * refresh says so: the model is told LBR is lost, keeps the records of
 * the last refresh (not KVM's zeros) and the hardware stops.  Turning LBR
 * back on tries again; it works once KVM has a new event and the host
 * user is gone.
 */
static void test_contention(void)
{
    Fixture t;

    setup(&t, 4);
    wr(&t, SELECT, VPMU_LBR_SELECT_CPL_EQ_0);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    guest_branch(&t.k, 2);
    assert_record(&t, 2, 2);
    g_assert_null(vpmu_lbr_hw_lost_reason(&t.hw));

    host_lbr_user(&t.k, true);
    guest_branch(&t.k, 3);
    g_assert_cmpuint(rd(&t, TOS), ==, 2);
    g_assert_true(t.s.lbr_lost);
    g_assert_false(vpmu_lbr_recording(&t.s));
    g_assert_cmpuint(t.hw.stats.losses, ==, 1);
    g_assert_nonnull(vpmu_lbr_hw_lost_reason(&t.hw));
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);
    assert_record(&t, 1, 1);
    assert_record(&t, 2, 2);

    /* The guest toggles LBR while the host user stays: still lost */
    wr(&t, DEBUGCTL, BUS_LOCK);
    kvm_sched_in(&t.k);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    g_assert_true(t.s.lbr_lost);
    g_assert_false(t.hw.recording);
    g_assert_cmpuint(t.hw.stats.losses, ==, 1);
    assert_record(&t, 2, 2);

    /* The host user leaves; the next toggle gets a working event */
    host_lbr_user(&t.k, false);
    wr(&t, DEBUGCTL, BUS_LOCK);
    kvm_sched_in(&t.k);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    g_assert_false(t.s.lbr_lost);
    g_assert_true(t.hw.recording);
    g_assert_null(vpmu_lbr_hw_lost_reason(&t.hw));
    guest_branch(&t.k, 4);
    g_assert_cmpuint(rd(&t, TOS), ==, 3);
    assert_record(&t, 2, 2);
    assert_record(&t, 3, 4);
    g_assert_cmpuint(t.hw.stats.losses, ==, 1);
}

/*
 * Any host access to an LBR MSR creates KVM's event, so none may happen
 * while the guest does not record: not at reads or writes of the LBR
 * MSRs, not to probe for contention.
 */
static void test_no_access_while_off(void)
{
    Fixture t;
    unsigned i;

    setup(&t, 4);
    wr(&t, SELECT, VPMU_LBR_SELECT_CPL_EQ_0);
    for (i = 0; i < 32; i++) {
        rd(&t, FROM(i));
        rd(&t, TO(i));
        rd(&t, INFO(i));
    }
    rd(&t, TOS);
    rd(&t, SELECT);
    wr(&t, TOS, 3);
    wr(&t, DEBUGCTL, FRZ_LBR | BUS_LOCK);
    g_assert_cmpuint(t.k.lbr_accesses, ==, 0);
    g_assert_cmpuint(t.k.creates, ==, 0);
    g_assert_false(t.k.event);

    /* On, then off: the snapshot was the last access */
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    wr(&t, DEBUGCTL, BUS_LOCK);
    i = t.k.lbr_accesses;
    rd(&t, FROM(0));
    rd(&t, TOS);
    wr(&t, FROM(0), 1);
    g_assert_cmpuint(t.k.lbr_accesses, ==, i);
}

/*
 * The hardware keeps its own FREEZE_LBRS_ON_PMI clear: a host PMI taken
 * in the guest (the NMI watchdog, host perf) must not stop recording
 * behind the model, whatever the guest set.
 */
static void test_host_pmi(void)
{
    Fixture t;

    setup(&t, 2);
    wr(&t, DEBUGCTL, LBR | FRZ_LBR | BUS_LOCK);
    host_pmi(&t.k);
    guest_branch(&t.k, 1);
    g_assert_cmpuint(rd(&t, TOS), ==, 1);
    assert_record(&t, 1, 1);
}

/*
 * A #DB in the guest clears DEBUGCTL.LBR in hardware, which the next
 * refresh sees: the model turns LBR off as the SDM says, with the
 * records up to the #DB.
 */
static void test_debug_exception(void)
{
    Fixture t;

    setup(&t, 4);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    guest_debug_exception(&t.k);
    guest_branch(&t.k, 2);
    assert_record(&t, 1, 1);
    g_assert_cmpuint(rd(&t, TOS), ==, 1);
    g_assert_cmphex(rd(&t, DEBUGCTL), ==, 0);
    g_assert_false(t.hw.recording);
    g_assert_false(t.s.lbr_lost);

    kvm_sched_in(&t.k);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    guest_branch(&t.k, 3);
    assert_record(&t, 1, 1);
    assert_record(&t, 2, 3);
}

/*
 * A VM stop snapshots and stops the hardware, so that migration and
 * management see the records in the model; running again pushes them.
 * Host reclaim of LBR does the same through the model.
 */
static void test_pause_and_reclaim(void)
{
    Fixture t;

    setup(&t, 4);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    vpmu_lbr_hw_pause(&t.hw, &t.s, true);
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);
    assert_model_record(&t, 1, 1);
    kvm_sched_in(&t.k);
    pre_run(&t);
    g_assert_false(t.hw.recording);
    vpmu_lbr_hw_pause(&t.hw, &t.s, false);
    g_assert_true(t.hw.recording);
    g_assert_cmphex(t.k.from[1], ==, BR_FROM(1));

    guest_branch(&t.k, 2);
    vpmu_set_lbr_reclaimed(&t.s, true);
    pre_run(&t);
    g_assert_false(t.hw.recording);
    assert_model_record(&t, 2, 2);
    guest_branch(&t.k, 3);
    g_assert_cmpuint(rd(&t, TOS), ==, 2);
    vpmu_set_lbr_reclaimed(&t.s, false);
    pre_run(&t);
    g_assert_true(t.hw.recording);
    g_assert_cmpuint(t.hw.stats.losses, ==, 0);
}

/*
 * A reset replaces the model's registers: the hardware's records are
 * not the guest's any more and must not come back as a snapshot.
 */
static void test_forget(void)
{
    Fixture t;

    setup(&t, 4);
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    guest_branch(&t.k, 1);
    vpmu_reset(&t.s);
    vpmu_lbr_hw_forget(&t.hw);
    pre_run(&t);
    g_assert_false(t.hw.recording);
    g_assert_cmphex(t.k.debugctl, ==, BUS_LOCK);
    g_assert_cmpuint(t.hw.stats.snapshots, ==, 0);
    g_assert_cmphex(rd(&t, FROM(1)), ==, 0);
    g_assert_cmpuint(rd(&t, TOS), ==, 0);
}

/* Without KVM's LBR (it refuses the MSRs), LBR is lost, not garbage. */
static void test_refused(void)
{
    Fixture t;

    setup(&t, 4);
    t.k.refuse = true;
    wr(&t, DEBUGCTL, LBR | BUS_LOCK);
    g_assert_true(t.s.lbr_lost);
    g_assert_false(t.hw.recording);
    g_assert_cmpuint(t.hw.stats.errors, >, 0);
    g_assert_nonnull(vpmu_lbr_hw_lost_reason(&t.hw));
    g_assert_cmpuint(rd(&t, TOS), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/vpmu-lbr-hw/records/skylake", &skylake,
                         test_records);
    g_test_add_data_func("/vpmu-lbr-hw/records/haswell", &haswell,
                         test_records);
    g_test_add_func("/vpmu-lbr-hw/freeze/v2", test_freeze_v2);
    g_test_add_func("/vpmu-lbr-hw/freeze/v4", test_freeze_v4);
    g_test_add_func("/vpmu-lbr-hw/writes", test_writes);
    g_test_add_func("/vpmu-lbr-hw/contention", test_contention);
    g_test_add_func("/vpmu-lbr-hw/no-access-while-off",
                    test_no_access_while_off);
    g_test_add_func("/vpmu-lbr-hw/host-pmi", test_host_pmi);
    g_test_add_func("/vpmu-lbr-hw/debug-exception", test_debug_exception);
    g_test_add_func("/vpmu-lbr-hw/pause-and-reclaim",
                    test_pause_and_reclaim);
    g_test_add_func("/vpmu-lbr-hw/forget", test_forget);
    g_test_add_func("/vpmu-lbr-hw/refused", test_refused);
    return g_test_run();
}
