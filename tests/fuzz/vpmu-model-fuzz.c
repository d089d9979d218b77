/*
 * qemu-vpmu: libFuzzer harness for the PMU register model
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Drives the register model (hw/i386/vpmu/vpmu-core.c, vpmu-intel.c;
 * AMD's vpmu-amd.c through vpmu-model-fuzz-amd.c) with a fake backend,
 * like the unit tests, and checks it against an oracle written from the
 * SDM (vol. 3B "Performance Monitoring", vol. 4 for the MSRs) rather
 * than from the model's masks, so that a wrong mask shows up as a
 * disagreement instead of being copied into the check.  The
 * oracle predicts every counter value and GLOBAL_STATUS exactly, which
 * covers "reads back what was written" and "status changes only for a
 * reason" at once.
 *
 * LBR goes through the same entry points a vCPU uses: the inputs choose
 * an LBR (none, legacy of each format and depth class, quirks included,
 * or architectural 8..32 deep) and drive it with guest and host MSR
 * accesses (DEBUGCTL, LBR_SELECT, TOS, the records, IA32_LBR_CTL/DEPTH,
 * GLOBAL_STATUS/OVF_CTRL), branches (vpmu_lbr_branch()), PMIs after
 * overflows, #DB, reclaim and loss, reset and migration.  The oracle
 * keeps every LBR register and record as the SDM (vol. 3B "Last Branch
 * Recording", vol. 4) and the rules in vpmu-lbr.c's comments make them
 * (vpmu-lbr-oracle.h, the oracle tests/fuzz/vpmu-lbr-fuzz.c uses too),
 * legacy records by MSR index and architectural ones youngest first,
 * and predicts every read, #GP and freeze, and what a migration
 * destination must accept: exactly the states a guest can reach.
 * tests/fuzz/vpmu-lbr-fuzz.c covers the LBR file alone in more depth.
 *
 * Input: a selector byte (0xc0 and above: an AMD PMU, the rest of the
 * input goes to vpmu_fuzz_amd(); else the Intel PMU's version), 7 more
 * configuration bytes (the PMU's five, then the LBR's two), then
 * operations (see fuzz_op()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "vpmu-lbr-oracle.h"
#include "vpmu-model-fuzz.h"
#include "../unit/vpmu-null-backend.h"

#define NSLOTS VPMU_MAX_COUNTERS

typedef enum Kind {
    K_NONE, K_PMC, K_APMC, K_EVTSEL, K_FIXED, K_FIXED_CTRL, K_STATUS,
    K_CTRL, K_OVF, K_STATUS_SET, K_INUSE, K_CAPS, K_DEBUGCTL,
    /*
     * LBR: K_LBR plus the oracle's LbrReg, so that they convert (the
     * slot is the record's MSR index).
     */
    K_LBR,
    K_LBR_SELECT = K_LBR + LBR_REG_SELECT, K_LBR_TOS = K_LBR + LBR_REG_TOS,
    K_LBR_FROM = K_LBR + LBR_REG_FROM, K_LBR_TO = K_LBR + LBR_REG_TO,
    K_LBR_INFO = K_LBR + LBR_REG_INFO, K_LBR_CTL = K_LBR + LBR_REG_CTL,
    K_LBR_DEPTH = K_LBR + LBR_REG_DEPTH,
    K_ARCH_FROM = K_LBR + LBR_REG_ARCH_FROM,
    K_ARCH_TO = K_LBR + LBR_REG_ARCH_TO,
    K_ARCH_INFO = K_LBR + LBR_REG_ARCH_INFO,
} Kind;

/* SDM vol. 3B, DEBUGCTL and GLOBAL_STATUS bits of LBR */
#define DBG_LBR         (1ULL << 0)
#define DBG_BTF         (1ULL << 1)
#define DBG_FRZ_LBR     (1ULL << 11)    /* FREEZE_LBRS_ON_PMI */
#define DBG_FRZ_PMON    (1ULL << 12)    /* FREEZE_PERFMON_ON_PMI */
#define ST_LBR_FRZ      (1ULL << 58)
#define CTL_LBREN       (1ULL << 0)     /* IA32_LBR_CTL.LBREn */

/* Everything is static: nothing is allocated per input or per op. */
static struct {
    VPMUState s;
    /*
     * Where saved states go, with null_ops: a host that counts nothing,
     * so that states compare.
     */
    VPMUState loaded;
    VPMUConfig cfg;
    VPMUFuzzHost host;          /* behind fz.s: fake_ops' opaque */
    /* The oracle: what the guest must see now. */
    uint64_t value[NSLOTS], status;
    bool pmi;
    /* Host policy: reclaimed, and the event filter (if any). */
    bool reclaimed, filtering;
    VPMUEventFilter filter;
    /*
     * The LBR oracle: the LBR's registers, records and statistics, then
     * DEBUGCTL's model-owned bits and the host's LBR policy.
     */
    LbrOracle lbr;
    uint64_t dbg;
    bool lbr_reclaimed, lbr_lost;
    VPMULbrState lbr_copy;      /* scratch: a copy to compare or load */
    /* The operation under way, for the failure report. */
    const char *op;
    uint32_t msr;
    uint64_t val;
    VPMUFuzzInput input;
} fz;

/*
 * MSRs to pick from: the model's PMU ranges, every LBR MSR (the oracle's
 * list, checked against the model's vpmu_msr_ranges at start), and one
 * past each end of both.
 */
static uint32_t msrs[64], lbr_msrs[256], edges[48];
static unsigned nmsrs, nlbr_msrs, nedges;

static void __attribute__((format(printf, 1, 2), noreturn))
fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vpmu-model-fuzz: INVARIANT VIOLATED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  config: v%d, %d GP x %d bits, %d fixed x %d bits, "
            "PERF_CAPABILITIES 0x%" PRIx64 "%s\n  LBR: kind %d, format "
            "%d, depth %d, quirks 0x%x; DEBUGCTL 0x%" PRIx64 ", LBR_CTL 0x%"
            PRIx64 ", depth %" PRIu64 "%s%s\n  op: %s msr 0x%" PRIx32
            " val 0x%" PRIx64 "\n", fz.cfg.version, fz.cfg.nr_gp,
            fz.cfg.gp_width, fz.cfg.nr_fixed, fz.cfg.fixed_width,
            fz.cfg.perf_capabilities, fz.host.refuse ? ", host refuses" : "",
            fz.cfg.lbr.kind, fz.cfg.lbr.format, fz.cfg.lbr.depth,
            fz.cfg.lbr.quirks, fz.dbg, fz.lbr.ctl, fz.lbr.depth,
            fz.lbr_reclaimed ? ", reclaimed" : "",
            fz.lbr_lost ? ", lost" : "", fz.op, fz.msr, fz.val);
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
    return vpmu_fuzz_host_program(opaque, slot, ev, period);
}

static const VPMUBackendOps fake_ops = {
    .program = fake_program,
    .set_period = vpmu_fuzz_host_set_period,
    .set_enabled = vpmu_fuzz_host_set_enabled,
    .read = vpmu_fuzz_host_read,
    .release = vpmu_fuzz_host_release,
};

/* For lbr_pick_addr() too, which takes a function. */
static uint64_t take(unsigned nbytes)
{
    return vpmu_fuzz_take(&fz.input, nbytes);
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

static bool lbr_legacy(void)
{
    return fz.lbr.cfg.kind == VPMU_LBR_LEGACY;
}

static bool lbr_arch(void)
{
    return fz.lbr.cfg.kind == VPMU_LBR_ARCH;
}

/*
 * The guest asks to record: DEBUGCTL.LBR (legacy), IA32_LBR_CTL.LBREn
 * (architectural, where DEBUGCTL.LBR discards writes and reads 0).
 */
static bool oracle_lbr_enabled(void)
{
    return lbr_legacy() ? fz.dbg & DBG_LBR :
           lbr_arch() ? fz.lbr.ctl & CTL_LBREN : false;
}

/* SDM: GLOBAL_STATUS.LBR_FRZ (version 4) freezes the records. */
static bool oracle_lbr_frozen(void)
{
    return fz.lbr.cfg.kind != VPMU_LBR_NONE && (fz.status & ST_LBR_FRZ);
}

/* Records are written only now: on, not frozen, the host's to use. */
static bool oracle_lbr_recording(void)
{
    return oracle_lbr_enabled() && !oracle_lbr_frozen() &&
           !fz.lbr_reclaimed && !fz.lbr_lost;
}

/* SDM power-up/INIT: DEBUGCTL and every LBR register and record 0. */
static void oracle_lbr_reset(void)
{
    fz.dbg = 0;
    lbr_oracle_reset(&fz.lbr);
}

/* What an LBR MSR is in this configuration; K_NONE where it #GPs. */
static Kind lbr_classify(uint32_t msr, unsigned *idx)
{
    LbrReg r = lbr_oracle_classify(&fz.lbr, msr, idx);

    return r == LBR_REG_NONE ? K_NONE : K_LBR + r;
}

static bool is_lbr_kind(Kind k)
{
    return k >= K_LBR_SELECT;
}

/* What RDMSR of a present LBR MSR gives. */
static uint64_t oracle_lbr_read(Kind k, unsigned i)
{
    return is_lbr_kind(k) ? lbr_oracle_read(&fz.lbr, k - K_LBR, i) : 0;
}

/*
 * Whether a guest can bring its LBR to @l (serialized fields only): the
 * set a migration destination must accept, no more, no less.  Every
 * register within its writable bits (TOS and the architectural top below
 * the depth, a supported IA32_LBR_DEPTH, legacy's fixed), the registers
 * of other LBR kinds 0, and no record where the guest has no MSR for it
 * (beyond the depth, INFO without MSR_LBR_INFO).  Architectural slots
 * are the model's ring, which puts entries in slots below the depth.
 */
static bool oracle_lbr_reachable(const VPMULbrState *l)
{
    uint64_t depth = lbr_arch() ? l->depth : fz.lbr.depth;
    unsigned i;

    if (lbr_arch()) {
        if (l->select || l->tos || (l->ctl & ~LBR_CTL_VALID) ||
            !lbr_oracle_depth_ok(&fz.lbr, l->depth) || l->top >= l->depth) {
            return false;
        }
    } else {
        /* legacy, and none, whose every field is 0 (its depth is 0) */
        if ((l->select & ~fz.lbr.select_bits) || l->ctl || l->top ||
            l->depth != fz.lbr.depth ||
            (l->tos && l->tos >= fz.lbr.depth)) {
            return false;
        }
    }
    for (i = 0; i < LBR_NREC; i++) {
        const VPMULbrRecord *r = &l->rec[i];

        if (i >= depth && (r->from || r->to || r->info)) {
            return false;
        }
        if (r->info && !lbr_arch() && !fz.lbr.info) {
            return false;
        }
    }
    return true;
}

/* The serialized LBR fields, as cpu/vpmu/lbr carries them. */
static void lbr_copy_serialized(VPMULbrState *dst, const VPMULbrState *src)
{
    dst->select = src->select;
    dst->tos = src->tos;
    dst->ctl = src->ctl;
    dst->depth = src->depth;
    dst->top = src->top;
    memcpy(dst->rec, src->rec, sizeof(dst->rec));
}

static bool lbr_serialized_equal(const VPMULbrState *a, const VPMULbrState *b)
{
    return a->select == b->select && a->tos == b->tos && a->ctl == b->ctl &&
           a->depth == b->depth && a->top == b->top &&
           !memcmp(a->rec, b->rec, sizeof(a->rec));
}

/* What @msr is in this configuration; K_NONE where RDMSR must #GP. */
static Kind classify(uint32_t msr, unsigned *slot)
{
    bool v4 = fz.cfg.version >= 4;
    bool fw = fz.cfg.perf_capabilities & VPMU_PERF_CAP_FW_WRITE;
    uint32_t gp = fz.cfg.nr_gp;

    if (lbr_oracle_is_lbr(msr)) {
        return lbr_classify(msr, slot);
    }
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
    case K_LBR_SELECT:
        return fz.lbr.select_bits;
    case K_LBR_CTL:
        return LBR_CTL_VALID;
    case K_LBR_DEPTH:
        return fz.cfg.lbr.depth;        /* the largest; see write_ok() */
    case K_LBR_TOS:                     /* written modulo the depth */
    case K_LBR_FROM:                    /* stored as written */
    case K_LBR_TO:
    case K_LBR_INFO:
    case K_ARCH_FROM:
    case K_ARCH_TO:
    case K_ARCH_INFO:
        return ~0ULL;
    default:
        return 0;
    }
}

/*
 * The DEBUGCTL bits the model keeps (the rest are KVM's): the PMU's
 * freeze bits, and DEBUGCTL.LBR with legacy LBR.  BTF is dropped (not
 * implemented, as under KVM); architectural LBR discards DEBUGCTL.LBR.
 */
static uint64_t dbg_kept(void)
{
    return DBG_FRZ_LBR | DBG_FRZ_PMON | (lbr_legacy() ? DBG_LBR : 0);
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
    if (is_lbr_kind(k)) {
        return lbr_oracle_write_ok(&fz.lbr, k - K_LBR, val);
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

/*
 * KVM's filter key (filter_contains_match): event select and umask, and
 * on AMD select bits 11:8 (PerfEvtSel 35:32), as code bits 19:16.
 */
static uint32_t filter_code(uint64_t eventsel)
{
    uint32_t code = eventsel & 0xffff;

    if (fz.cfg.arch == VPMU_ARCH_AMD) {
        code |= (eventsel >> 16) & 0xf0000;
    }
    return code;
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
                      filter_code(fz.s.counters[slot].eventsel);
        }
    }
    return listed != fz.filter.deny;
}

static bool should_count(unsigned slot, uint64_t ctrl, uint64_t status)
{
    return !fz.host.refuse && (local_ctrl(slot) & 3) &&
           (ctrl & slot_bit(slot)) && !(status & VPMU_GLOBAL_CTR_FRZ) &&
           policy_allows(slot);
}

/*
 * The host counts @n more on @slot: wrap, overflow bit, maybe a PMI.
 * Returns whether the host's overflow signal fires.
 */
static bool tick(unsigned slot, uint64_t n)
{
    uint64_t total = fz.value[slot] + n;    /* n <= mask + 1: no u64 wrap */
    bool signal;

    if (!fz.host.enabled[slot]) {
        return false;
    }
    signal = vpmu_fuzz_host_count(&fz.host, slot, n);
    if (total > width_mask(slot)) {
        fz.status |= slot_bit(slot);
        fz.pmi |= local_ctrl(slot) & 8;
    }
    fz.value[slot] = total & width_mask(slot);
    return signal;
}

/* The serialized registers (see VPMUState), to compare around a #GP. */
typedef struct Snap {
    uint64_t r[5 + 2 * NSLOTS];
    VPMULbrState lbr;
} Snap;

static void snap(Snap *sn)
{
    unsigned i;

    memset(sn, 0, sizeof(*sn));
    sn->r[0] = fz.s.global_ctrl;
    sn->r[1] = fz.s.global_status;
    sn->r[2] = fz.s.fixed_ctr_ctrl;
    sn->r[3] = fz.s.debugctl;
    sn->r[4] = fz.s.pmi_pending;
    for (i = 0; i < NSLOTS; i++) {
        sn->r[5 + 2 * i] = fz.s.counters[i].value;
        sn->r[6 + 2 * i] = fz.s.counters[i].eventsel;
    }
    lbr_copy_serialized(&sn->lbr, &fz.s.lbr);
}

/* The MSRs that steer LBR, picked often. */
static const uint32_t lbr_controls[] = {
    0x1d9, 0x1c8, 0x1c9, 0x14ce, 0x14cf, 0x38e, 0x390, 0x391,
};

static uint32_t pick_msr(void)
{
    unsigned b = take(1), i;

    if (b < 112) {
        return msrs[b % nmsrs];
    } else if (b < 160) {
        return lbr_msrs[take(1) % nlbr_msrs];
    } else if (b < 192) {
        /* a record of this configuration, or the first one beyond */
        i = take(1);
        if (lbr_arch()) {
            return (i & 0x80 ? 0x1500 : i & 0x40 ? 0x1600 : 0x1200) +
                   i % (LBR_NREC + 1);
        }
        return (i & 0x80 || !fz.lbr.info ?
                (i & 0x40 ? fz.lbr.from : fz.lbr.to) : fz.lbr.info) +
               i % (fz.cfg.lbr.depth + 1);
    } else if (b < 224) {
        return lbr_controls[b % ARRAY_SIZE(lbr_controls)];
    }
    return b < 240 ? edges[b % nedges] : (uint32_t)take(4);
}

/* A reserved bit next to a valid one, where an off-by-one mask errs. */
static uint64_t edge_bit(uint64_t valid, unsigned pick)
{
    uint64_t edges = ~valid & (valid << 1 | valid >> 1);
    unsigned n = __builtin_popcountll(edges);

    if (!n) {
        return 1ULL << (pick & 63);
    }
    for (pick %= n; pick; pick--) {
        edges &= edges - 1;
    }
    return edges & -edges;
}

/*
 * Values at the edges: 0, ~0, one bit, valid bits +- one, a reserved bit
 * next to the valid ones, near a wrap.
 */
static uint64_t pick_value(Kind k, unsigned slot)
{
    uint64_t valid = valid_bits(k, slot);
    unsigned b = take(1);

    /* Depths, supported and not; addresses for the records. */
    if (k == K_LBR_DEPTH && (b & 8)) {
        return 8 * (take(1) % 6) + (b & 0x10 ? (b >> 5) % 3 : 1) - 1;
    }
    if (k >= K_LBR_FROM && k != K_LBR_CTL && k != K_LBR_DEPTH && (b & 8)) {
        return lbr_pick_addr(take);
    }
    switch (b % 8) {
    case 0:  return 0;
    case 1:  return ~0ULL;
    case 2:  return 1ULL << (take(1) & 63);
    case 3:  return take(8);
    case 4:  return take(8) & valid;
    case 5:  return (take(8) & valid) | (b & 0x40 ? edge_bit(valid, take(1))
                                           : 1ULL << (take(1) & 63));
    case 6:  return take(2);
    default: return valid - (take(1) & 3);
    }
}

/* WRMSR @msr <- @val: #GP exactly where the SDM says, else as predicted. */
static void do_write(uint32_t msr, uint64_t val, bool host)
{
    Snap before, after;
    unsigned slot;
    Kind k = classify(msr, &slot);
    bool ok, want;

    fz.op = host ? "host WRMSR" : "guest WRMSR";
    fz.msr = msr;
    fz.val = val;
    want = write_ok(k, slot, val, host);
    snap(&before);
    ok = vpmu_msr_write(&fz.s, msr, val, host);
    if (ok != want) {
        fail("WRMSR %s; the SDM says %s (bits outside 0x%" PRIx64 ")",
             ok ? "succeeded" : "#GP", want ? "success" : "#GP",
             valid_bits(k, slot));
    }
    if (!ok) {
        snap(&after);
        if (memcmp(&before, &after, sizeof(before))) {
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
    case K_DEBUGCTL:
        fz.dbg = val & dbg_kept();
        break;
    default:
        if (is_lbr_kind(k)) {
            lbr_oracle_write(&fz.lbr, k - K_LBR, slot, val);
        }
        break;
    }
}

static void do_access(bool write, bool host)
{
    uint64_t val = 0;
    uint32_t msr;
    unsigned slot;
    Kind k;
    bool ok;

    fz.op = host ? "host RDMSR" : "guest RDMSR";
    fz.msr = msr = pick_msr();
    k = classify(msr, &slot);
    if (write) {
        do_write(msr, pick_value(k, slot), host);
        return;
    }
    ok = vpmu_msr_read(&fz.s, msr, &val, host);
    if (ok != (k != K_NONE)) {
        fail("RDMSR %s; the SDM says otherwise", ok ? "succeeded" : "#GP");
    }
    if (!ok && val) {
        fail("RDMSR #GP but gave 0x%" PRIx64, val);
    }
    /* Only the counters and LBR here; check_all() does the rest. */
    if ((k == K_PMC || k == K_APMC || k == K_FIXED) &&
        val != fz.value[slot]) {
        fail("counter read 0x%" PRIx64 ", expected 0x%" PRIx64, val,
             fz.value[slot]);
    }
    if (is_lbr_kind(k) && val != oracle_lbr_read(k, slot)) {
        fail("LBR read 0x%" PRIx64 ", expected 0x%" PRIx64, val,
             oracle_lbr_read(k, slot));
    }
}

/*
 * After every operation, LBR: DEBUGCTL, every LBR MSR (present ones as
 * predicted, absent ones #GP), the state queries, the statistics, and
 * the invariants a guest relies on.  With no LBR, all of them only now
 * and then: they do not change.
 */
static void check_lbr(void)
{
    uint64_t owned = DBG_FRZ_LBR | DBG_FRZ_PMON |
                     (fz.lbr.cfg.kind != VPMU_LBR_NONE ? DBG_LBR | DBG_BTF
                                                       : 0);
    const VPMULbrState *l = &fz.s.lbr;
    Error *err = NULL;
    unsigned i, slot;
    uint64_t v;

    if (hrd(0x1d9) != fz.dbg) {
        fail("DEBUGCTL 0x%" PRIx64 ", expected 0x%" PRIx64, hrd(0x1d9),
             fz.dbg);
    }
    if (vpmu_debugctl_owned(&fz.s) != owned) {
        fail("the model owns DEBUGCTL bits 0x%" PRIx64 ", expected 0x%"
             PRIx64, vpmu_debugctl_owned(&fz.s), owned);
    }
    if (vpmu_lbr_enabled(&fz.s) != oracle_lbr_enabled() ||
        vpmu_lbr_frozen(&fz.s) != oracle_lbr_frozen() ||
        vpmu_lbr_recording(&fz.s) != oracle_lbr_recording()) {
        fail("LBR enabled/frozen/recording %d/%d/%d, expected %d/%d/%d",
             vpmu_lbr_enabled(&fz.s), vpmu_lbr_frozen(&fz.s),
             vpmu_lbr_recording(&fz.s), oracle_lbr_enabled(),
             oracle_lbr_frozen(), oracle_lbr_recording());
    }
    if (fz.lbr.cfg.kind == VPMU_LBR_NONE && fz.input.len % 16) {
        return;
    }
    for (i = 0; i < nlbr_msrs; i++) {
        Kind k = classify(lbr_msrs[i], &slot);
        bool ok;

        v = 0x5a5a;
        ok = vpmu_msr_read(&fz.s, lbr_msrs[i], &v, true);
        if (ok != (k != K_NONE) || (!ok && v) ||
            (ok && v != oracle_lbr_read(k, slot))) {
            fail("LBR MSR 0x%" PRIx32 ": %s 0x%" PRIx64 ", expected %s "
                 "0x%" PRIx64, lbr_msrs[i], ok ? "reads" : "#GP", v,
                 k != K_NONE ? "reads" : "#GP", oracle_lbr_read(k, slot));
        }
    }
    if (l->stats.recorded != fz.lbr.recorded ||
        l->stats.filtered != fz.lbr.filtered ||
        l->stats.popped != fz.lbr.popped) {
        fail("LBR recorded/filtered/popped %" PRIu64 "/%" PRIu64 "/%" PRIu64
             ", expected %" PRIu64 "/%" PRIu64 "/%" PRIu64,
             l->stats.recorded, l->stats.filtered, l->stats.popped,
             fz.lbr.recorded, fz.lbr.filtered, fz.lbr.popped);
    }
    /* Spelled out, though the reads above imply them: */
    if (lbr_legacy() && l->tos >= (uint64_t)fz.cfg.lbr.depth) {
        fail("TOS %" PRIu64 " is not below the depth", l->tos);
    }
    if (lbr_arch() &&
        (l->top >= l->depth || !lbr_oracle_depth_ok(&fz.lbr, l->depth))) {
        fail("top %" PRIu32 " of IA32_LBR_DEPTH %" PRIu64, l->top, l->depth);
    }
    for (i = fz.lbr.depth; lbr_arch() && i < LBR_NREC; i++) {
        if (hrd(0x1500 + i) || hrd(0x1600 + i) || hrd(0x1200 + i)) {
            fail("entry %u beyond IA32_LBR_DEPTH %" PRIu64 " reads non-0", i,
                 fz.lbr.depth);
        }
    }
    if (vpmu_lbr_records_used(l) > fz.lbr.depth ||
        vpmu_lbr_records_used(l) != lbr_oracle_used(&fz.lbr)) {
        fail("records_used %u, expected %u (depth %" PRIu64 ")",
             vpmu_lbr_records_used(l), lbr_oracle_used(&fz.lbr),
             fz.lbr.depth);
    }
    /* Whatever a guest can reach, a migration destination takes. */
    fz.lbr_copy = *l;
    if (!vpmu_lbr_check_loaded(&fz.lbr_copy, &err)) {
        fail("a state the guest reached does not load: %s",
             error_get_pretty(err));
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
        if (fz.host.programmed[slot] &&
            vpmu_fuzz_host_left(&fz.host, slot) != v) {
            fail("slot %u signals in 0x%" PRIx64 " events, wraps in 0x%"
                 PRIx64, slot, vpmu_fuzz_host_left(&fz.host, slot), v);
        }
        /* With nothing left to sync, the backend must match the SDM. */
        if (!fz.s.dirty && fz.host.enabled[slot] !=
            should_count(slot, ctrl, status)) {
            fail("slot %u is %scounting after vpmu_sync()", slot,
                 fz.host.enabled[slot] ? "" : "not ");
        }
        if (!fz.s.dirty && fz.host.enabled[slot] &&
            !event_ok(slot, fz.host.event[slot].eventsel)) {
            fail("slot %u counts event 0x%" PRIx64 " after vpmu_sync()",
                 slot, fz.host.event[slot].eventsel);
        }
    }
    check_lbr();
}

/*
 * Migration: a saved state loads back into the same configuration and
 * the guest sees nothing change (the oracle stays as it is; check_all()
 * compares).  The LBR travels as vpmu-vmstate.c carries it: cpu/vpmu
 * (vpmu_load_state(), which resets the LBR with the rest), then the
 * cpu/vpmu/lbr subsection's serialized fields, checked with
 * vpmu_lbr_check_loaded().  With @corrupt, one field of the saved state
 * is overwritten and loaded into another vPMU instead: refused, or taken
 * exactly, so that saving it again gives the same state (DEBUGCTL keeps
 * only the model's bits).  A refused load leaves its vPMU in the reset
 * state.
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
        fz.lbr_copy = fz.s.lbr;
        if (!vpmu_load_state(&fz.s, &st, &err)) {
            fail("a saved state does not load back: %s",
                 error_get_pretty(err));
        }
        if (fz.s.lbr.select || fz.s.lbr.tos || fz.s.lbr.ctl ||
            fz.s.lbr.top || vpmu_lbr_records_used(&fz.s.lbr) ||
            fz.s.lbr.depth != (fz.lbr.cfg.kind == VPMU_LBR_NONE ? 0 :
                               (uint64_t)fz.cfg.lbr.depth)) {
            fail("vpmu_load_state() left LBR registers behind");
        }
        if (fz.lbr.cfg.kind != VPMU_LBR_NONE) {
            lbr_copy_serialized(&fz.s.lbr, &fz.lbr_copy);
            if (!vpmu_lbr_check_loaded(&fz.s.lbr, &err)) {
                fail("a saved LBR does not load back: %s",
                     error_get_pretty(err));
            }
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
    vpmu_state_init(&fz.loaded, &fz.cfg, &null_ops, NULL);
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
    st.debugctl &= dbg_kept();
    if (memcmp(&st, &again, sizeof(st))) {
        fail("a loaded state saves differently (field %u)", i);
    }
    vpmu_release_all(&fz.loaded);
}

/*
 * The PMI that an overflow asked for is delivered.  SDM "Freezing ... on
 * PMI": the counters freeze legacy (GLOBAL_CTRL cleared) or streamlined
 * (version 4: CTR_FRZ); the LBR too with FREEZE_LBRS_ON_PMI, by clearing
 * DEBUGCTL.LBR (versions 2 and 3) or setting LBR_FRZ (4 and later, where
 * DEBUGCTL stays as it was).
 */
static void deliver_pmi(void)
{
    uint64_t dbg, ctrl;

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
    if (dbg & DBG_FRZ_LBR) {
        if (fz.cfg.version >= 4) {
            fz.status |= ST_LBR_FRZ;
        } else {
            fz.dbg &= ~DBG_LBR;
        }
    }
    if (hrd(0x38f) != ctrl) {
        fail("GLOBAL_CTRL 0x%" PRIx64 " after the PMI, expected 0x%"
             PRIx64, hrd(0x38f), ctrl);
    }
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
            if (fz.host.programmed[slot]) {
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
                filter_code(fz.s.counters[slot % VPMU_MAX_GP].eventsel);
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

/*
 * One branch, interrupt or exception through the model, as a backend
 * reports it.  While LBR does not record (off, frozen, reclaimed, lost)
 * nothing of the LBR may change, not even its statistics.
 */
static void lbr_branch(uint64_t from, uint64_t to, unsigned cls,
                       unsigned cpl)
{
    bool recording = oracle_lbr_recording();
    VPMULbrStats stats = fz.s.lbr.stats;

    fz.msr = cls;
    fz.val = from;
    lbr_copy_serialized(&fz.lbr_copy, &fz.s.lbr);
    vpmu_lbr_branch(&fz.s, from, to, cls, cpl);
    if (recording) {
        lbr_oracle_record(&fz.lbr, from, to, cls, cpl);
    } else if (!lbr_serialized_equal(&fz.lbr_copy, &fz.s.lbr) ||
               memcmp(&stats, &fz.s.lbr.stats, sizeof(stats))) {
        fail("a branch (class %u, cpl %u) changed the LBR while it does "
             "not record", cls, cpl);
    }
}

/* A random branch: any class (none and one past the last too), any CPL. */
static void fuzz_branch(void)
{
    unsigned cls = take(1) % (VPMU_BRANCH_FAR + 2), cpl = take(1);
    uint64_t from = lbr_pick_addr(take);

    fz.op = "branch";
    lbr_branch(from, lbr_pick_addr(take), cls, cpl & 0x80 ? cpl : cpl & 3);
}

/* Up to 40 branches, of one class or each its own: TOS wraps. */
static void fuzz_burst(void)
{
    unsigned n = 1 + take(1) % 40, mode = take(1), i;
    unsigned cls = mode % (VPMU_BRANCH_FAR + 1), cpl = (mode >> 4) & 3;
    uint64_t from = lbr_pick_addr(take);

    fz.op = "branch burst";
    for (i = 0; i < n; i++) {
        if (mode & 0x80) {
            cls = 1 + take(1) % VPMU_BRANCH_FAR;
        }
        lbr_branch(from + i, from + 0x100 + i, cls, cpl);
    }
}

/*
 * A counter that interrupts on overflow, counted to its wrap; the glue
 * polls at the host's signal and delivers the PMI, which freezes LBR;
 * then a branch, which a freeze must keep out of the records.
 */
static bool fuzz_overflow_pmi(void)
{
    unsigned slot = take(1) % fz.cfg.nr_gp;
    bool signal;

    do_write(0x186 + slot, VPMU_EVTSEL_EN | VPMU_EVTSEL_INT |
             VPMU_EVTSEL_USR | VPMU_EVTSEL_OS | VPMU_EVENT_CORE_CYCLES,
             false);
    do_write(0x38f, hrd(0x38f) | 1ULL << slot, false);
    vpmu_sync(&fz.s);
    fz.op = "overflow";
    signal = tick(slot, width_mask(slot) - fz.value[slot] + 1);
    if (signal && vpmu_poll(&fz.s) != fz.status) {
        fail("vpmu_poll() after the overflow signal: GLOBAL_STATUS 0x%"
             PRIx64 ", expected 0x%" PRIx64, fz.s.global_status, fz.status);
    }
    if (fz.pmi) {
        deliver_pmi();
    }
    fuzz_branch();
    return signal;
}

/*
 * What a guest's LBR driver does to record: DEBUGCTL.LBR (with or
 * without the freeze), or IA32_LBR_CTL with LBREn; a call-stack or a
 * plain LBR_SELECT; the unfreeze through GLOBAL_OVF_CTRL (STATUS_RESET).
 */
static void fuzz_lbr_on(void)
{
    unsigned b = take(1);
    bool host = b & 0x80;
    uint64_t dbg = (b & 1 ? DBG_LBR : 0) | (b & 2 ? DBG_FRZ_LBR : 0) |
                   (b & 4 ? DBG_BTF : 0) | (b & 8 ? DBG_FRZ_PMON : 0);

    if (lbr_arch()) {
        do_write(0x1d9, dbg, host);
        do_write(0x14ce, LBR_CTL_VALID & ~(b & 0x10 ? 0 : 1ULL << 3) &
                 ~(b & 0x20 ? (uint64_t)take(1) << 16 : 0), host);
    } else {
        do_write(0x1d9, dbg | DBG_LBR, host);
        if (b & 0x10) {
            /* The SDM's call-stack setting, or no filter at all */
            do_write(0x1c8, b & 0x20 ? 0x3c4 : 0, host);
        }
    }
    if (b & 0x40) {
        do_write(0x390, ST_LBR_FRZ, host);
    }
}

/* SDM: a #DB clears DEBUGCTL.LBR; architectural LBR clears LBREn. */
static void fuzz_debug_exception(void)
{
    fz.op = "#DB";
    vpmu_lbr_debug_exception(&fz.s);
    if (lbr_legacy()) {
        fz.dbg &= ~DBG_LBR;
    } else if (lbr_arch()) {
        fz.lbr.ctl &= ~CTL_LBREN;
    }
}

/*
 * A migration stream's cpu/vpmu/lbr with up to three fields changed,
 * loaded into a fresh vPMU of this configuration: vpmu_lbr_check_loaded()
 * takes it exactly when a guest could have reached it (else it refuses
 * and resets, naming the register); then a guest runs on what it took,
 * and no record, RET or read may leave the bounds of the state.
 */
static void fuzz_lbr_load(void)
{
    VPMULbrState *l = &fz.loaded.lbr;
    unsigned n = 1 + take(1) % 3, what, i, slot;
    Error *err = NULL;
    uint64_t fields[8], old, v;
    bool ok, want;

    vpmu_state_init(&fz.loaded, &fz.cfg, &null_ops, NULL);
    lbr_copy_serialized(l, &fz.s.lbr);
    while (n--) {
        what = take(1);
        i = (what >> 3) % LBR_NREC;
        fields[0] = l->select;
        fields[1] = l->tos;
        fields[2] = l->ctl;
        fields[3] = l->depth;
        fields[4] = l->top;
        fields[5] = l->rec[i].from;
        fields[6] = l->rec[i].to;
        fields[7] = l->rec[i].info;
        old = fields[what & 7];
        switch (take(1) % 6) {
        case 0:
            v = take(1);
            break;
        case 1:
            v = 8 * (take(1) % 6);
            break;
        case 2:
            v = 1ULL << (take(1) & 63);
            break;
        case 3:
            v = take(8);
            break;
        case 4:
            v = old ^ 1ULL << (take(1) & 63);
            break;
        default:
            v = 0;
            break;
        }
        switch (what & 7) {
        case 0:
            l->select = v;
            break;
        case 1:
            l->tos = v;
            break;
        case 2:
            l->ctl = v;
            break;
        case 3:
            l->depth = v;
            break;
        case 4:
            l->top = v;
            break;
        case 5:
            l->rec[i].from = v;
            break;
        case 6:
            l->rec[i].to = v;
            break;
        default:
            l->rec[i].info = v;
            break;
        }
        fz.msr = what;
        fz.val = v;
    }
    fz.op = "load a corrupted LBR";
    want = oracle_lbr_reachable(l);
    ok = vpmu_lbr_check_loaded(l, &err);
    if (ok != want) {
        fail("vpmu_lbr_check_loaded() %s a state a guest can%s reach%s%s",
             ok ? "took" : "refused", want ? "" : "not", err ? ": " : "",
             err ? error_get_pretty(err) : "");
    }
    if (!ok) {
        if (!err || strncmp(error_get_pretty(err), "the migration stream's",
                            22)) {
            fail("a refused LBR names no register of the stream");
        }
        error_free(err);
        if (l->select || l->tos || l->ctl || l->top ||
            vpmu_lbr_records_used(l) ||
            l->depth != (fz.lbr.cfg.kind == VPMU_LBR_NONE ? 0 :
                         (uint64_t)fz.cfg.lbr.depth)) {
            fail("a refused LBR is not in its reset state");
        }
    } else if (err) {
        fail("vpmu_lbr_check_loaded() took the state but set an error");
    }

    /* Recording on, call-stack mode too, and branches of every class. */
    vpmu_msr_write(&fz.loaded, 0x1d9, DBG_LBR, false);
    vpmu_msr_write(&fz.loaded, 0x14ce, LBR_CTL_VALID, false);
    for (i = 0; i < 2 * LBR_NREC + 3; i++) {
        vpmu_lbr_branch(&fz.loaded, 0x1000 + i, 0x2000 + i,
                        1 + (i * 5) % VPMU_BRANCH_FAR, i & 1);
    }
    for (i = 0; i < nlbr_msrs; i++) {
        vpmu_msr_read(&fz.loaded, lbr_msrs[i], &v, false);
    }
    slot = vpmu_lbr_records_used(l);
    if ((lbr_legacy() && l->tos >= l->depth) ||
        (lbr_arch() && l->top >= l->depth) ||
        slot > l->depth) {
        fail("after a load: TOS %" PRIu64 ", top %" PRIu32 ", %u records "
             "in use, depth %" PRIu64, l->tos, l->top, slot, l->depth);
    }
    fz.lbr_copy = *l;
    if (!vpmu_lbr_check_loaded(&fz.lbr_copy, &err)) {
        fail("a loaded LBR, recorded on, no longer loads: %s",
             error_get_pretty(err));
    }
    vpmu_release_all(&fz.loaded);
}

/* The LBR's operations (fuzz_op() case 15 with a non-zero high nibble). */
static bool fuzz_lbr(unsigned which)
{
    switch (which) {
    case 1 ... 3:
        fuzz_branch();
        break;
    case 4 ... 5:
        fuzz_burst();
        break;
    case 6 ... 7:
        return fuzz_overflow_pmi();
    case 8 ... 9:
        fuzz_lbr_on();
        break;
    case 10:
        fuzz_debug_exception();
        break;
    case 11:
        fz.op = "LBR reclaim/restore";
        fz.lbr_reclaimed = !fz.lbr_reclaimed;
        vpmu_set_lbr_reclaimed(&fz.s, fz.lbr_reclaimed);
        break;
    case 12:
        fz.op = "LBR lost/back";
        fz.lbr_lost = !fz.lbr_lost;
        vpmu_set_lbr_lost(&fz.s, fz.lbr_lost);
        break;
    case 14:
        fuzz_save_load(false);
        break;
    default:
        fz.op = "load a corrupted LBR";
        fuzz_lbr_load();
        break;
    }
    return false;
}

/*
 * One operation: its low nibble picks MSR accesses, counting, the PMI,
 * reset or host policy (14), LBR (15, fuzz_lbr(), by the high nibble; 0x0f
 * only syncs); the top two bits set skip the re-entry's vpmu_sync().
 */
static void fuzz_op(void)
{
    unsigned op = take(1), slot;
    uint64_t n;
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
        deliver_pmi();
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
        oracle_lbr_reset();
        /* SDM: GLOBAL_CTRL powers up with the GP counters enabled. */
        if (hrd(0x38f) != (1ULL << fz.cfg.nr_gp) - 1) {
            fail("GLOBAL_CTRL after reset is not the GP counters' bits");
        }
        break;
    default:
        if (op & 0xf0) {
            signal = fuzz_lbr(op >> 4);
            break;
        }
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

/* The legacy LBR configurations the SDM's classes allow (lbr.md 1.1). */
static VPMULbrConfig lbr_legacy_cfgs[64];
static unsigned nlbr_legacy_cfgs;

static void make_lists(void)
{
    static const int depths[] = { 4, 8, 16, 32 };
    static const int quirks[] = {
        0, VPMU_LBR_QUIRK_NO_CALLSTACK, VPMU_LBR_QUIRK_NO_SELECT,
        VPMU_LBR_QUIRK_NHM_MSRS,
    };
    const VPMUMsrRange *r;
    unsigned b, i, f, d, q;

    for (r = vpmu_msr_ranges; r->nmsrs; r++) {
        for (i = 0; i < r->nmsrs; i++) {
            /* Every LBR MSR must reach the model, which routes them. */
            if (lbr_oracle_is_lbr(r->base + i) !=
                vpmu_lbr_msr_is_lbr(r->base + i)) {
                fail("MSR 0x%" PRIx32 " is%s an LBR MSR for the model",
                     r->base + i,
                     lbr_oracle_is_lbr(r->base + i) ? " not" : "");
            }
            if (!lbr_oracle_is_lbr(r->base + i) &&
                nmsrs < ARRAY_SIZE(msrs)) {
                msrs[nmsrs++] = r->base + i;
            }
        }
        edges[nedges++] = r->base - 1;
        edges[nedges++] = r->base + r->nmsrs;
    }
    for (b = 0; b < ARRAY_SIZE(lbr_msr_blocks); b++) {
        for (i = 0; i < lbr_msr_blocks[b].n; i++) {
            uint32_t msr = lbr_msr_blocks[b].base + i;

            for (r = vpmu_msr_ranges; r->nmsrs; r++) {
                if (msr - r->base < r->nmsrs) {
                    break;
                }
            }
            if (!r->nmsrs) {
                fail("LBR MSR 0x%" PRIx32 " is in no vpmu_msr_ranges", msr);
            }
            lbr_msrs[nlbr_msrs++] = msr;
        }
    }
    for (f = 1; f <= 7; f++) {
        for (d = 0; d < ARRAY_SIZE(depths); d++) {
            for (q = 0; q < ARRAY_SIZE(quirks); q++) {
                VPMULbrConfig c = {
                    .kind = VPMU_LBR_LEGACY, .format = f,
                    .depth = depths[d], .quirks = quirks[q],
                };

                if (lbr_oracle_config_ok(&c)) {
                    lbr_legacy_cfgs[nlbr_legacy_cfgs++] = c;
                }
            }
        }
    }
}

/*
 * Two input bytes choose the LBR: none (2 in 8), legacy from the list
 * above or from a CPU model's table (vpmu_lbr_config_for_model()), or
 * architectural 8..32 deep.  Architectural LBR needs PMU version 4: with
 * an earlier version the configuration must be refused, and the version
 * is raised.  PERF_CAPABILITIES[5:0] carries the format.
 */
static void pick_lbr_config(void)
{
    unsigned k = take(1), p = take(1);
    VPMULbrConfig *lbr = &fz.cfg.lbr;
    Error *err = NULL;

    memset(lbr, 0, sizeof(*lbr));
    if (k % 8 >= 6) {
        lbr->kind = VPMU_LBR_ARCH;
        lbr->format = VPMU_LBR_FMT_ARCH;
        lbr->depth = 8 * (1 + p % 4);
    } else if (k % 8 >= 2 && (k & 0x80)) {
        lbr->kind = VPMU_LBR_LEGACY;
        vpmu_lbr_config_for_model(lbr, 6, p);
    } else if (k % 8 >= 2) {
        *lbr = lbr_legacy_cfgs[p % nlbr_legacy_cfgs];
    }
    lbr->pmu_version = fz.cfg.version;
    if (lbr->kind != VPMU_LBR_NONE) {
        fz.cfg.perf_capabilities |= lbr->format;
    }
    if (lbr->kind == VPMU_LBR_ARCH && fz.cfg.version < 4) {
        fz.op = "config";
        if (vpmu_config_check(&fz.cfg, &err) ||
            !strstr(error_get_pretty(err), "pmu-version")) {
            fail("architectural LBR with PMU version %d: %s",
                 fz.cfg.version, err ? error_get_pretty(err) : "taken");
        }
        error_free(err);
        fz.cfg.version = lbr->pmu_version = 4 + (k >> 3) % 2;
    }
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
    err = NULL;

    /* PERF_CAPABILITIES[5:0] must be the LBR's format (0 without LBR). */
    c = fz.cfg;
    c.perf_capabilities ^= 1 + which % VPMU_LBR_FMT_INFO2;
    if (vpmu_config_check(&c, &err)) {
        fail("vpmu_config_check() accepted PERF_CAPABILITIES 0x%" PRIx64
             " for LBR format %d", c.perf_capabilities, c.lbr.format);
    }
    error_free(err);

    /* CPUID.1CH:EAX[7:0]: bit n for each depth 8(n + 1) up to the max */
    vpmu_lbr_cpuid_0x1c(&fz.cfg.lbr, &eax, &ebx, &ecx, &edx);
    if ((eax & 0xff) != (lbr_arch() ? (1u << fz.cfg.lbr.depth / 8) - 1 : 0) ||
        (!lbr_arch() && (eax | ebx | ecx | edx))) {
        fail("CPUID 0x1C eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x", eax, ebx,
             ecx, edx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Error *err = NULL;
    unsigned flags, sel;

    if (!nmsrs) {
        make_lists();
    }
    memset(&fz, 0, sizeof(fz));
    fz.input.data = data;
    fz.input.len = size;
    fz.host.fail = fail;
    sel = take(1);
    if (sel >= 0xc0) {
        vpmu_fuzz_amd(fz.input.data, fz.input.len);
        return 0;
    }
    fz.cfg.version = VPMU_MIN_VERSION + sel % 4;
    fz.cfg.nr_gp = 1 + take(1) % VPMU_MAX_GP;
    fz.cfg.nr_fixed = take(1) % (VPMU_MAX_FIXED + 1);
    fz.cfg.gp_width = VPMU_MIN_WIDTH + take(1) % 32;
    fz.cfg.fixed_width = VPMU_MIN_WIDTH + take(1) % 32;
    flags = take(1);
    fz.cfg.perf_capabilities = flags & 1 ? VPMU_PERF_CAP_FW_WRITE : 0;
    /* Sometimes the host can count nothing: counters must read frozen. */
    fz.host.refuse = (flags & 0xe) == 0xe;
    pick_lbr_config();
    fz.op = "config";
    if (!vpmu_config_check(&fz.cfg, &err)) {
        fail("valid configuration refused: %s", error_get_pretty(err));
    }
    lbr_oracle_init(&fz.lbr, &fz.cfg.lbr);
    check_config(flags >> 4);

    vpmu_state_init(&fz.s, &fz.cfg, &fake_ops, &fz.host);
    check_all();
    while (fz.input.len) {
        fuzz_op();
    }
    fz.op = "release all";
    vpmu_release_all(&fz.s);
    vpmu_fuzz_host_check_released(&fz.host);
    return 0;
}
