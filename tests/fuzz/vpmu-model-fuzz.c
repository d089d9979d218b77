/*
 * qemu-vpmu: libFuzzer harness for the PMU register model
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Drives the register model (hw/i386/vpmu/vpmu-core.c, vpmu-intel.c)
 * with a fake backend, like the unit tests, and checks it against an
 * oracle written from the SDM (vol. 3B "Performance Monitoring", vol. 4
 * for the MSRs) rather than from the model's masks, so that a wrong mask
 * shows up as a disagreement instead of being copied into the check.  The
 * oracle predicts every counter value and GLOBAL_STATUS exactly, which
 * covers "reads back what was written" and "status changes only for a
 * reason" at once.
 *
 * Input: 6 configuration bytes, then operations (see fuzz_op()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"

#define NSLOTS VPMU_MAX_COUNTERS

typedef enum Kind {
    K_NONE, K_PMC, K_APMC, K_EVTSEL, K_FIXED, K_FIXED_CTRL, K_STATUS,
    K_CTRL, K_OVF, K_STATUS_SET, K_INUSE, K_CAPS, K_DEBUGCTL,
} Kind;

/* Everything is static: nothing is allocated per input or per op. */
static struct {
    VPMUState s;
    VPMUState loaded;           /* where corrupted saved states go */
    VPMUConfig cfg;
    /* The fake host: counts only on slots the model enabled. */
    bool programmed[NSLOTS], enabled[NSLOTS], refuse;
    uint64_t count[NSLOTS];
    uint64_t deadline[NSLOTS];  /* count at which the host signals */
    uint64_t event[NSLOTS];     /* VPMUHostEvent.eventsel programmed */
    /* The oracle: what the guest must see now. */
    uint64_t value[NSLOTS], status;
    bool pmi;
    /* Host policy: reclaimed, and the event filter (if any). */
    bool reclaimed, filtering;
    VPMUEventFilter filter;
    /* The operation under way, for the failure report. */
    const char *op;
    uint32_t msr;
    uint64_t val;
    const uint8_t *in;
    size_t len;
} fz;

/* MSRs to pick from: the model's ranges, and one past each end. */
static uint32_t msrs[64], edges[16];
static unsigned nmsrs, nedges;

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vpmu-model-fuzz: INVARIANT VIOLATED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  config: v%d, %d GP x %d bits, %d fixed x %d bits, "
            "PERF_CAPABILITIES 0x%" PRIx64 "%s\n  op: %s msr 0x%" PRIx32
            " val 0x%" PRIx64 "\n", fz.cfg.version, fz.cfg.nr_gp,
            fz.cfg.gp_width, fz.cfg.nr_fixed, fz.cfg.fixed_width,
            fz.cfg.perf_capabilities, fz.refuse ? ", host refuses" : "",
            fz.op, fz.msr, fz.val);
    abort();
}

static bool fake_program(void *opaque, unsigned slot, const VPMUHostEvent *ev,
                         uint64_t period)
{
    /* The enables travel separately (see VPMUHostEvent). */
    if (slot >= NSLOTS || ev->fixed != (slot >= VPMU_MAX_GP) ||
        ev->index != slot % VPMU_MAX_GP ||
        (ev->eventsel & (VPMU_EVTSEL_EN | VPMU_EVTSEL_INT))) {
        fail("program(slot %u) got event 0x%" PRIx64, slot, ev->eventsel);
    }
    fz.programmed[slot] = !fz.refuse;
    fz.enabled[slot] = false;
    fz.count[slot] = 0;
    fz.deadline[slot] = period;
    fz.event[slot] = ev->eventsel;
    return !fz.refuse;
}

static void fake_set_period(void *opaque, unsigned slot, uint64_t period)
{
    if (!fz.programmed[slot]) {
        fail("set_period(slot %u) on a slot with no event", slot);
    }
    fz.deadline[slot] = fz.count[slot] + period;
}

static void fake_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    if (!fz.programmed[slot]) {
        fail("set_enabled(slot %u) on a slot with no event", slot);
    }
    fz.enabled[slot] = enabled;
}

static uint64_t fake_read(void *opaque, unsigned slot)
{
    return fz.programmed[slot] ? fz.count[slot] : 0;
}

static void fake_release(void *opaque, unsigned slot)
{
    fz.programmed[slot] = fz.enabled[slot] = false;
}

/* For fz.loaded: a host that counts nothing, so that states compare. */
static bool idle_program(void *opaque, unsigned slot, const VPMUHostEvent *ev,
                         uint64_t period)
{
    return true;
}

static void idle_set_period(void *opaque, unsigned slot, uint64_t period)
{
}

static void idle_set_enabled(void *opaque, unsigned slot, bool enabled)
{
}

static uint64_t idle_read(void *opaque, unsigned slot)
{
    return 0;
}

static void idle_release(void *opaque, unsigned slot)
{
}

static const VPMUBackendOps idle_ops = {
    .program = idle_program,
    .set_period = idle_set_period,
    .set_enabled = idle_set_enabled,
    .read = idle_read,
    .release = idle_release,
};

static const VPMUBackendOps fake_ops = {
    .program = fake_program,
    .set_period = fake_set_period,
    .set_enabled = fake_set_enabled,
    .read = fake_read,
    .release = fake_release,
};

/* Big-endian bytes from the input; zeros once it runs out. */
static uint64_t take(unsigned nbytes)
{
    uint64_t v = 0;

    for (; nbytes && fz.len; nbytes--, fz.len--) {
        v = v << 8 | *fz.in++;
    }
    return v;
}

static uint64_t width_mask(unsigned slot)
{
    return (1ULL << (slot >= VPMU_MAX_GP ? fz.cfg.fixed_width
                                         : fz.cfg.gp_width)) - 1;
}

/* SDM: GP counter n is bit n of the global MSRs, fixed counter n 32 + n. */
static uint64_t slot_bit(unsigned slot)
{
    return slot >= VPMU_MAX_GP ? 1ULL << (32 + slot - VPMU_MAX_GP)
                               : 1ULL << slot;
}

static uint64_t counter_bits(void)
{
    return ((1ULL << fz.cfg.nr_gp) - 1) |
           ((1ULL << fz.cfg.nr_fixed) - 1) << 32;
}

/* What @msr is in this configuration; K_NONE where RDMSR must #GP. */
static Kind classify(uint32_t msr, unsigned *slot)
{
    bool v4 = fz.cfg.version >= 4;
    bool fw = fz.cfg.perf_capabilities & VPMU_PERF_CAP_FW_WRITE;
    uint32_t gp = fz.cfg.nr_gp;

    if (msr - 0xc1 < gp) {
        *slot = msr - 0xc1;
        return K_PMC;
    } else if (msr - 0x4c1 < gp) {
        *slot = msr - 0x4c1;
        return fw ? K_APMC : K_NONE;    /* SDM: A_PMCx need FW_WRITE */
    } else if (msr - 0x186 < gp) {
        *slot = msr - 0x186;
        return K_EVTSEL;
    } else if (msr - 0x309 < (uint32_t)fz.cfg.nr_fixed) {
        *slot = VPMU_MAX_GP + msr - 0x309;
        return K_FIXED;
    }
    *slot = 0;
    switch (msr) {
    case 0x38d:
        return K_FIXED_CTRL;
    case 0x38e:
        return K_STATUS;
    case 0x38f:
        return K_CTRL;
    case 0x390:
        return K_OVF;
    case 0x391:                                 /* version 4 MSRs */
        return v4 ? K_STATUS_SET : K_NONE;
    case 0x392:
        return v4 ? K_INUSE : K_NONE;
    case 0x345:
        return K_CAPS;
    case 0x1d9:
        return K_DEBUGCTL;
    default:
        return K_NONE;
    }
}

/* The bits a WRMSR may set without #GP. */
static uint64_t valid_bits(Kind k, unsigned slot)
{
    bool v4 = fz.cfg.version >= 4;
    /* AnyThread came in version 3; version 5 deprecates it: reserved. */
    bool any = fz.cfg.version == 3 || fz.cfg.version == 4;
    uint64_t bits = 0;
    int i;

    switch (k) {
    case K_PMC:
        return ~0ULL;               /* bits 63:32 ignored (sign extension) */
    case K_APMC:
    case K_FIXED:
        return width_mask(slot);
    case K_EVTSEL:
        return 0xffffffffULL & ~(any ? 0 : VPMU_EVTSEL_ANY);
    case K_FIXED_CTRL:
        /* OS, USR, PMI (and AnyThread) of each present fixed counter. */
        for (i = 0; i < fz.cfg.nr_fixed; i++) {
            bits |= (uint64_t)(any ? 0xf : 0xb) << (4 * i);
        }
        return bits;
    case K_CTRL:
        return counter_bits();
    case K_STATUS:
    case K_OVF:
        /* OvfBuf 62, CondChgd 63; LBR_Frz 58, CTR_Frz 59 in version 4. */
        return counter_bits() | 3ULL << 62 | (v4 ? 3ULL << 58 : 0);
    case K_STATUS_SET:
        return counter_bits() | 1ULL << 62 | 3ULL << 58;
    case K_DEBUGCTL:
        return 0xffffULL & ~0x38ULL;    /* vol. 4: 63:16, 5:3 reserved */
    case K_CAPS:
        return fz.cfg.perf_capabilities;
    default:
        return 0;
    }
}

static bool write_ok(Kind k, unsigned slot, uint64_t val, bool host)
{
    /* Read-only MSRs: the host may restore GLOBAL_STATUS, and CAPS as is. */
    if (k == K_NONE || k == K_INUSE || (k == K_STATUS && !host)) {
        return false;
    }
    if (k == K_CAPS) {
        return host && val == fz.cfg.perf_capabilities;
    }
    return !(val & ~valid_bits(k, slot));
}

static uint64_t hrd(uint32_t msr)
{
    uint64_t v;

    if (!vpmu_msr_read(&fz.s, msr, &v, true)) {
        fail("host RDMSR 0x%" PRIx32 " of a present MSR refused", msr);
    }
    return v;
}

/* The slot's local controls as a fixed-counter field: OS|USR, PMI. */
static unsigned local_ctrl(unsigned slot)
{
    uint64_t e;

    if (slot >= VPMU_MAX_GP) {
        return slot - VPMU_MAX_GP >= (unsigned)fz.cfg.nr_fixed ? 0 :
            (hrd(0x38d) >> (4 * (slot - VPMU_MAX_GP))) & 0xf;
    }
    if (slot >= (unsigned)fz.cfg.nr_gp) {
        return 0;
    }
    e = hrd(0x186 + slot);
    return (e & VPMU_EVTSEL_EN ? 3 : 0) | (e & VPMU_EVTSEL_INT ? 8 : 0);
}

/* Is @ev what the registers select for @slot (SDM event select rules)? */
static bool event_ok(unsigned slot, uint64_t ev)
{
    static const uint64_t fixed_ev[] = {
        VPMU_EVENT_INST_RETIRED, VPMU_EVENT_CORE_CYCLES,
        VPMU_EVENT_FIXED_REF_CYCLES, VPMU_EVENT_TOPDOWN_SLOTS,
    };
    unsigned f;

    /*
     * AnyThread never reaches the host: it would count the sibling
     * hyperthread (the host or another tenant) while this vCPU runs.
     */
    if (slot < VPMU_MAX_GP) {
        return ev == (hrd(0x186 + slot) &
                      ~(VPMU_EVTSEL_EN | VPMU_EVTSEL_INT | VPMU_EVTSEL_ANY));
    }
    /* Fixed: the ring bits come from FIXED_CTR_CTRL. */
    f = hrd(0x38d) >> (4 * (slot - VPMU_MAX_GP));
    return ev == (fixed_ev[slot - VPMU_MAX_GP] |
                  (f & 1 ? VPMU_EVTSEL_OS : 0) |
                  (f & 2 ? VPMU_EVTSEL_USR : 0));
}

/* SDM: a counter counts with its local enable, GLOBAL_CTRL, no CTR_FRZ. */
/*
 * The host's filter, written here from KVM's rules rather than taken from
 * the model: GP counters by (event select, umask), fixed ones by index.
 */
static bool policy_allows(unsigned slot)
{
    bool listed = false;
    uint32_t i;

    if (fz.reclaimed) {
        return false;
    }
    if (!fz.filtering) {
        return true;
    }
    if (slot >= VPMU_MAX_GP) {
        listed = fz.filter.fixed_bitmap >> (slot - VPMU_MAX_GP) & 1;
    } else {
        for (i = 0; i < fz.filter.nevents; i++) {
            listed |= fz.filter.events[i] ==
                      (fz.s.counters[slot].eventsel & 0xffff);
        }
    }
    return listed != fz.filter.deny;
}

static bool should_count(unsigned slot, uint64_t ctrl, uint64_t status)
{
    return !fz.refuse && (local_ctrl(slot) & 3) && (ctrl & slot_bit(slot)) &&
           !(status & VPMU_GLOBAL_CTR_FRZ) && policy_allows(slot);
}

/*
 * The host counts @n more on @slot: wrap, overflow bit, maybe a PMI.
 * Returns whether the host's overflow signal fires.
 */
static bool tick(unsigned slot, uint64_t n)
{
    uint64_t total = fz.value[slot] + n;    /* n <= mask + 1: no u64 wrap */
    bool signal = n && n >= fz.deadline[slot] - fz.count[slot];

    if (!fz.enabled[slot]) {
        return false;
    }
    fz.count[slot] += n;
    if (total > width_mask(slot)) {
        fz.status |= slot_bit(slot);
        fz.pmi |= local_ctrl(slot) & 8;
    }
    fz.value[slot] = total & width_mask(slot);
    return signal;
}

/* The serialized registers (see VPMUState), to compare around a #GP. */
static void snap(uint64_t *r)
{
    unsigned i;

    r[0] = fz.s.global_ctrl;
    r[1] = fz.s.global_status;
    r[2] = fz.s.fixed_ctr_ctrl;
    r[3] = fz.s.debugctl;
    r[4] = fz.s.pmi_pending;
    for (i = 0; i < NSLOTS; i++) {
        r[5 + 2 * i] = fz.s.counters[i].value;
        r[6 + 2 * i] = fz.s.counters[i].eventsel;
    }
}

static uint32_t pick_msr(void)
{
    unsigned b = take(1);

    return b < 224 ? msrs[b % nmsrs] :
           b < 240 ? edges[b % nedges] : (uint32_t)take(4);
}

/* Values at the edges: 0, ~0, one bit, valid bits +- one, near a wrap. */
static uint64_t pick_value(Kind k, unsigned slot)
{
    uint64_t valid = valid_bits(k, slot);

    switch (take(1) % 8) {
    case 0:  return 0;
    case 1:  return ~0ULL;
    case 2:  return 1ULL << (take(1) & 63);
    case 3:  return take(8);
    case 4:  return take(8) & valid;
    case 5:  return (take(8) & valid) | 1ULL << (take(1) & 63);
    case 6:  return take(2);
    default: return valid - (take(1) & 3);
    }
}

static void do_access(bool write, bool host)
{
    uint64_t before[5 + 2 * NSLOTS], after[5 + 2 * NSLOTS], val = 0;
    unsigned slot;
    Kind k;
    bool ok, want;

    fz.op = write ? (host ? "host WRMSR" : "guest WRMSR")
                  : (host ? "host RDMSR" : "guest RDMSR");
    fz.msr = pick_msr();
    k = classify(fz.msr, &slot);
    if (!write) {
        ok = vpmu_msr_read(&fz.s, fz.msr, &val, host);
        if (ok != (k != K_NONE)) {
            fail("RDMSR %s; the SDM says otherwise", ok ? "succeeded" : "#GP");
        }
        /* Only the counters here; check_all() does the rest. */
        if ((k == K_PMC || k == K_APMC || k == K_FIXED) &&
            val != fz.value[slot]) {
            fail("counter read 0x%" PRIx64 ", expected 0x%" PRIx64, val,
                 fz.value[slot]);
        }
        return;
    }

    fz.val = val = pick_value(k, slot);
    want = write_ok(k, slot, val, host);
    snap(before);
    ok = vpmu_msr_write(&fz.s, fz.msr, val, host);
    if (ok != want) {
        fail("WRMSR %s; the SDM says %s (bits outside 0x%" PRIx64 ")",
             ok ? "succeeded" : "#GP", want ? "success" : "#GP",
             valid_bits(k, slot));
    }
    if (!ok) {
        snap(after);
        if (memcmp(before, after, sizeof(before))) {
            fail("a refused WRMSR changed the serialized registers");
        }
        return;
    }
    switch (k) {
    case K_PMC:
        /* SDM: legacy PMCx writes sign-extend bit 31; host: whole value. */
        fz.value[slot] = (host ? val : (uint64_t)(int64_t)(int32_t)val) &
                         width_mask(slot);
        break;
    case K_APMC:
    case K_FIXED:
        fz.value[slot] = val;
        break;
    case K_STATUS:
        fz.status = val;
        break;
    case K_OVF:
        fz.status &= ~val;
        break;
    case K_STATUS_SET:
        fz.status |= val;
        break;
    default:
        break;
    }
}

/* After every operation: status, PMI, counters and backend as predicted. */
static void check_all(void)
{
    uint64_t status, ctrl;
    unsigned slot;

    /* A host read of GLOBAL_STATUS folds every running counter first. */
    status = hrd(0x38e);
    if (status != fz.status) {
        fail("GLOBAL_STATUS 0x%" PRIx64 ", expected 0x%" PRIx64, status,
             fz.status);
    }
    if (fz.s.pmi_pending != fz.pmi) {
        fail("pmi_pending %d, expected %d", fz.s.pmi_pending, fz.pmi);
    }
    ctrl = hrd(0x38f);
    for (slot = 0; slot < NSLOTS; slot++) {
        uint32_t msr = slot >= VPMU_MAX_GP ? 0x309 + slot - VPMU_MAX_GP
                                           : 0xc1 + slot;
        unsigned s;
        uint64_t v;

        v = classify(msr, &s) != K_NONE ? hrd(msr) : fz.value[slot];
        if (v != fz.value[slot]) {
            fail("slot %u = 0x%" PRIx64 ", expected 0x%" PRIx64, slot, v,
                 fz.value[slot]);
        }
        /* The host must signal exactly when the guest counter wraps. */
        v = width_mask(slot) - fz.value[slot] + 1;
        if (fz.programmed[slot] && fz.deadline[slot] - fz.count[slot] != v) {
            fail("slot %u signals in 0x%" PRIx64 " events, wraps in 0x%"
                 PRIx64, slot, fz.deadline[slot] - fz.count[slot], v);
        }
        /* With nothing left to sync, the backend must match the SDM. */
        if (!fz.s.dirty && fz.enabled[slot] != should_count(slot, ctrl,
                                                            status)) {
            fail("slot %u is %scounting after vpmu_sync()", slot,
                 fz.enabled[slot] ? "" : "not ");
        }
        if (!fz.s.dirty && fz.enabled[slot] &&
            !event_ok(slot, fz.event[slot])) {
            fail("slot %u counts event 0x%" PRIx64 " after vpmu_sync()",
                 slot, fz.event[slot]);
        }
    }
}

/*
 * Migration: a saved state loads back into the same configuration and
 * the guest sees nothing change (the oracle stays as it is; check_all()
 * compares).  With @corrupt, one field of the saved state is overwritten
 * and loaded into another vPMU instead: refused, or taken exactly, so
 * that saving it again gives the same state (DEBUGCTL keeps only the
 * PMU's bits).  A refused load leaves its vPMU in the reset state.
 */
static void fuzz_save_load(bool corrupt)
{
    VPMUSavedState st, again;
    Error *err = NULL;
    uint64_t *words;
    unsigned nwords, i;

    fz.op = corrupt ? "load a corrupted state" : "save and load";
    vpmu_save_state(&fz.s, &st);
    if (!corrupt) {
        if (!vpmu_load_state(&fz.s, &st, &err)) {
            fail("a saved state does not load back: %s",
                 error_get_pretty(err));
        }
        return;
    }
    /* The 64-bit fields after the configuration's five int32_t. */
    words = &st.perf_capabilities;
    nwords = (offsetof(VPMUSavedState, pmi_pending) -
              offsetof(VPMUSavedState, perf_capabilities)) / 8;
    i = take(1) % nwords;
    fz.msr = i;
    fz.val = words[i] = pick_value(K_NONE, 0) ^ (take(1) & 1 ? words[i] : 0);
    st.pmi_pending = take(1) & 1;
    vpmu_state_init(&fz.loaded, &fz.cfg, &idle_ops, NULL);
    if (!vpmu_load_state(&fz.loaded, &st, &err)) {
        if (!err || !strstr(error_get_pretty(err), "migration stream")) {
            fail("a refused state says no reason: %s",
                 err ? error_get_pretty(err) : "(none)");
        }
        error_free(err);
        if (fz.loaded.global_ctrl != (1ULL << fz.cfg.nr_gp) - 1 ||
            fz.loaded.global_status || fz.loaded.pmi_pending) {
            fail("a refused state left registers behind");
        }
        return;
    }
    vpmu_save_state(&fz.loaded, &again);
    st.debugctl &= VPMU_DEBUGCTL_PMU_BITS;
    if (memcmp(&st, &again, sizeof(st))) {
        fail("a loaded state saves differently (field %u)", i);
    }
    vpmu_release_all(&fz.loaded);
}

/*
 * Host policy (management's reclaim and filter) never touches what the
 * guest reads; it only decides what counts from now on.
 */
static void fuzz_policy(unsigned which)
{
    unsigned slot, i;

    switch (which) {
    case 1 ... 4:
        fz.op = "reclaim/restore";
        fz.reclaimed = !fz.reclaimed;
        vpmu_set_reclaimed(&fz.s, fz.reclaimed);
        for (slot = 0; fz.reclaimed && slot < NSLOTS; slot++) {
            if (fz.programmed[slot]) {
                fail("slot %u keeps a host event after reclaim", slot);
            }
        }
        break;
    case 5 ... 10:
        /* Often an event some counter has, so that it matters. */
        fz.op = "set filter";
        memset(&fz.filter, 0, sizeof(fz.filter));
        fz.filter.deny = take(1) & 1;
        fz.filter.nevents = take(1) % 4;
        for (i = 0; i < fz.filter.nevents; i++) {
            slot = take(1);
            fz.filter.events[i] = slot & 0x80 ? take(2) :
                fz.s.counters[slot % VPMU_MAX_GP].eventsel & 0xffff;
        }
        fz.filter.fixed_bitmap = take(1) & 0xf;
        fz.filtering = true;
        vpmu_set_filter(&fz.s, &fz.filter);
        break;
    case 11 ... 12:
        fz.op = "remove filter";
        fz.filtering = false;
        vpmu_set_filter(&fz.s, NULL);
        break;
    case 13 ... 15:
        fuzz_save_load(which == 15);
        break;
    default:
        break;
    }
}

static void fuzz_op(void)
{
    unsigned op = take(1), slot;
    uint64_t dbg, ctrl, n;
    bool signal = false;

    fz.msr = fz.val = 0;
    switch (op & 15) {
    case 0 ... 4:
        do_access(true, false);
        break;
    case 5 ... 6:
        do_access(false, false);
        break;
    case 7 ... 8:
        do_access(op & 1, true);
        break;
    case 9 ... 10:
        /* A few events or a few thousand: wraps only near the top. */
        fz.op = "tick";
        fz.val = n = take(op & 16 ? 2 : 1);
        for (slot = 0; slot < NSLOTS; slot++) {
            signal |= tick(slot, n);
        }
        break;
    case 11 ... 12:
        /* One slot to 2 below, at, or 2 past its wrap. */
        fz.op = "tick to wrap";
        slot = take(1) % NSLOTS;
        n = width_mask(slot) - fz.value[slot] + 1 + take(1) % 5;
        fz.val = n = n < 2 ? 0 : MIN(n - 2, width_mask(slot) + 1);
        signal = tick(slot, n);
        break;
    case 13:
        /* SDM: freeze on PMI, legacy (GLOBAL_CTRL) or streamlined (v4). */
        fz.op = "pmi delivered";
        dbg = hrd(0x1d9);
        ctrl = hrd(0x38f);
        vpmu_pmi_delivered(&fz.s);
        fz.pmi = false;
        if (dbg & VPMU_DEBUGCTL_FREEZE_PERFMON_ON_PMI) {
            if (fz.cfg.version >= 4) {
                fz.status |= VPMU_GLOBAL_CTR_FRZ;
            } else {
                ctrl = 0;
            }
        }
        if (fz.cfg.version >= 4 && (dbg & VPMU_DEBUGCTL_FREEZE_LBRS_ON_PMI)) {
            fz.status |= VPMU_GLOBAL_LBR_FRZ;
        }
        if (hrd(0x38f) != ctrl) {
            fail("GLOBAL_CTRL 0x%" PRIx64 " after the PMI, expected 0x%"
                 PRIx64, hrd(0x38f), ctrl);
        }
        break;
    case 14:
        if (op & 0xf0) {
            fuzz_policy(op >> 4);
            break;
        }
        /* Rarely: most inputs should build up state, not start over. */
        fz.op = "reset";
        vpmu_reset(&fz.s);
        memset(fz.value, 0, sizeof(fz.value));
        fz.status = 0;
        fz.pmi = false;
        /* SDM: GLOBAL_CTRL powers up with the GP counters enabled. */
        if (hrd(0x38f) != (1ULL << fz.cfg.nr_gp) - 1) {
            fail("GLOBAL_CTRL after reset is not the GP counters' bits");
        }
        break;
    default:
        fz.op = "sync";
        break;
    }
    /* The glue answers the host's overflow signal with vpmu_poll(). */
    if (signal && vpmu_poll(&fz.s) != fz.status) {
        fail("vpmu_poll() after the overflow signal: GLOBAL_STATUS 0x%"
             PRIx64 ", expected 0x%" PRIx64, fz.s.global_status, fz.status);
    }
    /* Sync as a vCPU re-entry would, except to batch several writes. */
    if ((op & 0xc0) != 0xc0) {
        vpmu_sync(&fz.s);
    }
    check_all();
}

/*
 * The configuration API: CPUID 0xA must describe fz.cfg well enough to
 * rebuild it, and a field just outside its range must be refused.
 */
static void check_config(unsigned which)
{
    static const int bad[5][2] = { { 1, 6 }, { 0, 9 }, { -1, 5 },
                                   { 31, 64 }, { 31, 64 } };
    VPMUConfig c = fz.cfg;
    int *field[5] = { &c.version, &c.nr_gp, &c.nr_fixed, &c.gp_width,
                      &c.fixed_width };
    uint32_t eax, ebx, ecx, edx;
    Error *err = NULL;

    vpmu_cpuid_0xa(&fz.cfg, &eax, &ebx, &ecx, &edx);
    vpmu_config_from_host(&c, eax, edx);
    if (c.version != fz.cfg.version || c.nr_gp != fz.cfg.nr_gp ||
        c.nr_fixed != fz.cfg.nr_fixed || c.gp_width != fz.cfg.gp_width ||
        c.fixed_width != fz.cfg.fixed_width) {
        fail("CPUID 0xA (eax 0x%x edx 0x%x) does not round-trip", eax, edx);
    }
    c = fz.cfg;
    *field[which % 5] = bad[which % 5][which / 5 % 2];
    if (vpmu_config_check(&c, &err) || !err || !*error_get_pretty(err)) {
        fail("vpmu_config_check() accepted field %u = %d", which % 5,
             *field[which % 5]);
    }
    error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const VPMUMsrRange *r;
    Error *err = NULL;
    unsigned i, flags;

    for (r = nmsrs ? NULL : vpmu_msr_ranges; r && r->nmsrs; r++) {
        for (i = 0; i < r->nmsrs && nmsrs < ARRAY_SIZE(msrs); i++) {
            msrs[nmsrs++] = r->base + i;
        }
        if (nedges + 2 <= ARRAY_SIZE(edges)) {
            edges[nedges++] = r->base - 1;
            edges[nedges++] = r->base + r->nmsrs;
        }
    }
    memset(&fz, 0, sizeof(fz));
    fz.in = data;
    fz.len = size;
    fz.cfg.version = VPMU_MIN_VERSION + take(1) % 4;
    fz.cfg.nr_gp = 1 + take(1) % VPMU_MAX_GP;
    fz.cfg.nr_fixed = take(1) % (VPMU_MAX_FIXED + 1);
    fz.cfg.gp_width = VPMU_MIN_WIDTH + take(1) % 32;
    fz.cfg.fixed_width = VPMU_MIN_WIDTH + take(1) % 32;
    flags = take(1);
    fz.cfg.perf_capabilities = flags & 1 ? VPMU_PERF_CAP_FW_WRITE : 0;
    /* Sometimes the host can count nothing: counters must read frozen. */
    fz.refuse = (flags & 0xe) == 0xe;
    fz.op = "config";
    if (!vpmu_config_check(&fz.cfg, &err)) {
        fail("valid configuration refused: %s", error_get_pretty(err));
    }
    check_config(flags >> 4);

    vpmu_state_init(&fz.s, &fz.cfg, &fake_ops, NULL);
    check_all();
    while (fz.len) {
        fuzz_op();
    }
    fz.op = "release all";
    vpmu_release_all(&fz.s);
    for (i = 0; i < NSLOTS; i++) {
        if (fz.programmed[i]) {
            fail("slot %u still has a host event after release_all()", i);
        }
    }
    return 0;
}
