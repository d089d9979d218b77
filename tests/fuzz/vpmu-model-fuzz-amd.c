/*
 * qemu-vpmu: the AMD half of the register-model fuzzer
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * vpmu-model-fuzz.c hands inputs that choose an AMD PMU to
 * vpmu_fuzz_amd().  Like the Intel half, it drives the model through the
 * entry points a vCPU uses, with a fake backend, and checks it against an
 * oracle written from KVM's AMD vPMU (amd_is_valid_msr(),
 * amd_pmu_get/set_msr() in arch/x86/kvm/svm/pmu.c, the AMD cases of
 * kvm_pmu_get/set_msr() in arch/x86/kvm/pmu.c) rather than from the
 * model's masks: which MSRs exist in each flavour (K7, core extension,
 * PerfMonV2 with 1..6 counters), K7/F15H aliasing, what each write keeps
 * (guest writes never #GP on a value; host writes with bits a guest could
 * not set are refused), the global registers, counting (EN, and the
 * GLOBAL_CTL bit with PerfMonV2), the 48-bit wrap, the overflow status
 * (PerfMonV2 only), the PMI (INT), the host events, reset, migration
 * (round trip, corrupted streams, the other vendor's streams) and the
 * configuration API.  AMD has no LBR.
 *
 * Input: after vpmu-model-fuzz.c's selector byte, one configuration byte
 * (flavour, counters, a host that counts nothing), one for the
 * configuration checks, then operations (see amd_op()).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"
#include "vpmu-model-fuzz.h"
#include "../unit/vpmu-null-backend.h"

#define NSLOTS      VPMU_MAX_COUNTERS
#define NCTR        6                       /* KVM_MAX_NR_AMD_GP_COUNTERS */
#define W48         (((uint64_t)1 << 48) - 1)

/* KVM's AMD PerfEvtSel reserved_bits: 19, 21, 36-63 (40-41 HO/GO too) */
#define CTL_RSVD    0xfffffff000280000ULL
#define EN          (1ULL << 22)
#define INT         (1ULL << 20)
#define HG          (3ULL << 40)

#define MSR_K7_CTL  0xc0010000u             /* MSR_K7_EVNTSEL0 */
#define MSR_K7_CTR  0xc0010004u             /* MSR_K7_PERFCTR0 */
#define MSR_F15H    0xc0010200u             /* MSR_F15H_PERF_CTL0 */
#define MSR_GSTATUS 0xc0000300u
#define MSR_GCTL    0xc0000301u
#define MSR_GCLR    0xc0000302u
#define MSR_GSET    0xc0000303u

typedef enum AKind {
    A_NONE, A_CTL, A_CTR, A_STATUS, A_GCTL, A_CLR, A_SET,
} AKind;

typedef enum Flavour { FL_K7, FL_CORE, FL_V2 } Flavour;

static struct {
    VPMUState s;
    /*
     * Where saved states are loaded, with null_ops: a host that counts
     * nothing, so that states compare.
     */
    VPMUState other;
    VPMUConfig cfg;
    Flavour fl;
    int n;                      /* counters */
    VPMUFuzzHost host;          /* behind az.s: fake_ops' opaque */
    /* The oracle: what the guest must see now. */
    uint64_t ctl[NCTR], value[NCTR], gctl, status;
    bool pmi, reclaimed;
    /* The operation under way, for the failure report. */
    const char *op;
    uint32_t msr;
    uint64_t val;
    VPMUFuzzInput input;
} az;

static void __attribute__((format(printf, 1, 2), noreturn))
afail(const char *fmt, ...)
{
    static const char *const names[] = { "K7", "core", "PerfMonV2" };
    va_list ap;

    fprintf(stderr, "vpmu-model-fuzz: INVARIANT VIOLATED (AMD): ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  config: AMD %s, %d counters%s\n  op: %s msr 0x%"
            PRIx32 " val 0x%" PRIx64 "\n", names[az.fl], az.n,
            az.host.refuse ? ", host refuses" : "", az.op, az.msr, az.val);
    abort();
}

static uint64_t take(unsigned nbytes)
{
    return vpmu_fuzz_take(&az.input, nbytes);
}

static bool fake_program(void *opaque, unsigned slot, const VPMUHostEvent *ev,
                         uint64_t period)
{
    /*
     * An AMD event: a GP counter below n, no EN/INT (they travel apart),
     * no reserved bits, HO/GO never (the host's to choose).
     */
    if (slot >= (unsigned)az.n || ev->fixed || ev->index != slot ||
        ev->arch != VPMU_ARCH_AMD || (ev->eventsel & (CTL_RSVD | EN | INT))) {
        afail("program(slot %u) got event 0x%" PRIx64 " (arch %d, fixed %d, "
              "index %u)", slot, ev->eventsel, ev->arch, ev->fixed,
              ev->index);
    }
    return vpmu_fuzz_host_program(opaque, slot, ev, period);
}

static void fake_set_enabled_batch(void *opaque, uint64_t start,
                                   uint64_t stop)
{
    unsigned slot;

    if (start & stop) {
        afail("a batch starts and stops 0x%" PRIx64, start & stop);
    }
    for (slot = 0; slot < NSLOTS; slot++) {
        if ((start | stop) & (1ULL << slot)) {
            vpmu_fuzz_host_set_enabled(opaque, slot, start & (1ULL << slot));
        }
    }
}

static const VPMUBackendOps fake_ops = {
    .program = fake_program,
    .set_period = vpmu_fuzz_host_set_period,
    .set_enabled = vpmu_fuzz_host_set_enabled,
    .set_enabled_batch = fake_set_enabled_batch,
    .read = vpmu_fuzz_host_read,
    .release = vpmu_fuzz_host_release,
};

static bool v2(void)
{
    return az.fl == FL_V2;
}

static bool core(void)
{
    return az.fl != FL_K7;
}

static uint64_t ctr_bits(void)
{
    return (1ULL << az.n) - 1;
}

/*
 * What @msr is (KVM's get_gp_pmc_amd() and amd_is_valid_msr()): the K7
 * MSRs always, the F15H ones with PERFCTR_CORE, CTL even and CTR odd,
 * either only below n; the globals with PerfMonV2.  A_NONE: #GP.
 */
static AKind classify(uint32_t msr, unsigned *idx)
{
    AKind k = A_NONE;

    *idx = 0;
    if (msr >= MSR_K7_CTL && msr < MSR_K7_CTL + 4) {
        *idx = msr - MSR_K7_CTL;
        k = A_CTL;
    } else if (msr >= MSR_K7_CTR && msr < MSR_K7_CTR + 4) {
        *idx = msr - MSR_K7_CTR;
        k = A_CTR;
    } else if (msr >= MSR_F15H && msr < MSR_F15H + 12 && core()) {
        *idx = (msr - MSR_F15H) / 2;
        k = msr & 1 ? A_CTR : A_CTL;
    } else if (v2()) {
        switch (msr) {
        case MSR_GSTATUS:
            return A_STATUS;
        case MSR_GCTL:
            return A_GCTL;
        case MSR_GCLR:
            return A_CLR;
        case MSR_GSET:
            return A_SET;
        }
    }
    return *idx < (unsigned)az.n ? k : A_NONE;
}

static uint32_t ctl_msr(unsigned i)
{
    return core() ? MSR_F15H + 2 * i : MSR_K7_CTL + i;
}

static uint32_t ctr_msr(unsigned i)
{
    return core() ? MSR_F15H + 2 * i + 1 : MSR_K7_CTR + i;
}

/* KVM's pmc_is_globally_enabled(): EN, and the GLOBAL_CTL bit with v2. */
static bool oracle_wants(unsigned i)
{
    return i < (unsigned)az.n && (az.ctl[i] & EN) &&
           (!v2() || (az.gctl >> i & 1));
}

static bool oracle_counts(unsigned i)
{
    return oracle_wants(i) && !az.host.refuse && !az.reclaimed;
}

static uint64_t hrd(uint32_t msr)
{
    uint64_t v;

    if (!vpmu_msr_read(&az.s, msr, &v, true)) {
        afail("host RDMSR 0x%" PRIx32 " of a present MSR refused", msr);
    }
    return v;
}

/* The host counts @n more on counter @i: wrap, status (v2), PMI (INT). */
static bool tick(unsigned i, uint64_t n)
{
    bool signal;
    uint64_t total;

    if (i >= NCTR || !az.host.enabled[i]) {
        return false;
    }
    signal = vpmu_fuzz_host_count(&az.host, i, n);
    total = az.value[i] + n;
    if (total > W48) {
        if (v2()) {
            az.status |= 1ULL << i;
        }
        az.pmi |= !!(az.ctl[i] & INT);
    }
    az.value[i] = total & W48;
    return signal;
}

static void oracle_reset(void)
{
    memset(az.ctl, 0, sizeof(az.ctl));
    memset(az.value, 0, sizeof(az.value));
    az.gctl = ctr_bits();
    az.status = 0;
    az.pmi = false;
}

/* The serialized registers, to compare around a refused write. */
static void snap(uint64_t *r)
{
    unsigned i;

    r[0] = az.s.global_ctrl;
    r[1] = az.s.global_status;
    r[2] = az.s.pmi_pending;
    for (i = 0; i < NSLOTS; i++) {
        r[3 + 2 * i] = az.s.counters[i].value;
        r[4 + 2 * i] = az.s.counters[i].eventsel;
    }
}

/* WRMSR: #GP only for an MSR the flavour lacks, or a host's bad value. */
static void do_write(uint32_t msr, uint64_t val, bool host)
{
    uint64_t before[3 + 2 * NSLOTS], after[3 + 2 * NSLOTS];
    unsigned i;
    AKind k = classify(msr, &i);
    bool ok, want;

    az.op = host ? "host WRMSR" : "guest WRMSR";
    az.msr = msr;
    az.val = val;
    switch (k) {
    case A_NONE:
        want = false;
        break;
    case A_CTL:
        want = !host || !(val & CTL_RSVD);
        break;
    case A_CTR:
        want = !host || val <= W48;
        break;
    case A_STATUS:
    case A_GCTL:
        want = !host || !(val & ~ctr_bits());
        break;
    default:
        want = true;
        break;
    }
    snap(before);
    ok = vpmu_msr_write(&az.s, msr, val, host);
    if (ok != want) {
        afail("WRMSR %s where KVM's AMD PMU %s", ok ? "succeeded" : "#GPs",
              want ? "takes it" : "refuses it");
    }
    if (!ok) {
        snap(after);
        if (memcmp(before, after, sizeof(before))) {
            afail("a refused WRMSR changed the serialized registers");
        }
        return;
    }
    switch (k) {
    case A_CTL:
        az.ctl[i] = val & ~CTL_RSVD;
        break;
    case A_CTR:
        az.value[i] = val & W48;
        break;
    case A_STATUS:
        if (host) {
            az.status = val;
        }
        break;
    case A_GCTL:
        az.gctl = val & ctr_bits();
        break;
    case A_CLR:
        if (!host) {
            az.status &= ~val;
        }
        break;
    case A_SET:
        if (!host) {
            az.status |= val & ctr_bits();
        }
        break;
    default:
        break;
    }
}

static uint64_t oracle_read(AKind k, unsigned i)
{
    switch (k) {
    case A_CTL:
        return az.ctl[i];
    case A_CTR:
        return az.value[i];
    case A_STATUS:
        return az.status;
    case A_GCTL:
        return az.gctl;
    default:
        return 0;               /* CLR and SET read 0 */
    }
}

/* MSRs to pick from: every AMD one, the edges, Intel's, any. */
static uint32_t pick_msr(void)
{
    static const uint32_t others[] = {
        0xc0010008, 0xc001000f, 0xc00101ff, 0xc001020c, 0xc001020d,
        0xc00102ff, 0xc00002ff, 0xc0000304, 0xc0010100, 0xc0010240,
        0xc1, 0x186, 0x38d, 0x38e, 0x38f, 0x390, 0x345, 0x1d9, 0x4c1,
    };
    unsigned b = take(1);

    if (b < 64) {
        return MSR_F15H + b % 12;
    } else if (b < 112) {
        return MSR_K7_CTL + b % 8;
    } else if (b < 176) {
        return MSR_GSTATUS + b % 4;
    } else if (b < 240) {
        return others[b % ARRAY_SIZE(others)];
    }
    return take(4);
}

/* Values at the edges: reserved bits, the wrap, the counter bits. */
static uint64_t pick_value(void)
{
    static const uint64_t edges[] = {
        CTL_RSVD, ~CTL_RSVD, HG, 1ULL << 19, 1ULL << 21, 1ULL << 35,
        1ULL << 36, 0xf00000000ULL, W48, W48 + 1, 1ULL << 47, EN | INT,
        EN | 0x76 | 3ULL << 16, EN | INT | 0xc0 | 1ULL << 16,
    };
    unsigned b = take(1);

    switch (b % 8) {
    case 0:
        return 0;
    case 1:
        return ~0ULL;
    case 2:
        return 1ULL << (take(1) & 63);
    case 3:
        return take(8);
    case 4:
        return edges[take(1) % ARRAY_SIZE(edges)] ^ (b & 0x80 ? take(2) : 0);
    case 5:
        return ctr_bits() ^ (1ULL << (take(1) % 8));
    case 6:
        return W48 - (take(1) & 0x1f);
    default:
        return take(2) | EN | (b & 0x10 ? INT : 0);
    }
}

static void do_access(bool write, bool host)
{
    uint32_t msr = pick_msr();
    uint64_t v = 0x5a5a;
    unsigned i;
    AKind k = classify(msr, &i);
    bool ok;

    if (write) {
        do_write(msr, pick_value(), host);
        return;
    }
    az.op = host ? "host RDMSR" : "guest RDMSR";
    az.msr = msr;
    ok = vpmu_msr_read(&az.s, msr, &v, host);
    if (ok != (k != A_NONE)) {
        afail("RDMSR %s where KVM's AMD PMU %s", ok ? "succeeded" : "#GPs",
              k != A_NONE ? "answers" : "#GPs");
    }
    if (ok ? v != oracle_read(k, i) : v != 0) {
        afail("RDMSR gave 0x%" PRIx64 ", expected 0x%" PRIx64, v,
              oracle_read(k, i));
    }
}

/* After every operation: every register, the backend, the queries. */
static void check_all(void)
{
    uint64_t v;
    unsigned i;

    if (v2() && hrd(MSR_GSTATUS) != az.status) {
        afail("GLOBAL_STATUS 0x%" PRIx64 ", expected 0x%" PRIx64,
              hrd(MSR_GSTATUS), az.status);
    }
    if (vpmu_poll(&az.s) != (v2() ? az.status : 0)) {
        afail("vpmu_poll() 0x%" PRIx64 ", expected 0x%" PRIx64,
              vpmu_poll(&az.s), v2() ? az.status : 0);
    }
    if (az.s.pmi_pending != az.pmi) {
        afail("pmi_pending %d, expected %d", az.s.pmi_pending, az.pmi);
    }
    if (v2() && hrd(MSR_GCTL) != az.gctl) {
        afail("GLOBAL_CTL 0x%" PRIx64 ", expected 0x%" PRIx64, hrd(MSR_GCTL),
              az.gctl);
    }
    for (i = 0; i < NSLOTS; i++) {
        if (i >= (unsigned)az.n) {
            if (az.host.programmed[i] || vpmu_slot_counting(&az.s, i) ||
                vpmu_slot_present(&az.s, i)) {
                afail("slot %u of %d counters is in use", i, az.n);
            }
            continue;
        }
        if (hrd(ctl_msr(i)) != az.ctl[i]) {
            afail("CTL%u 0x%" PRIx64 ", expected 0x%" PRIx64, i,
                  hrd(ctl_msr(i)), az.ctl[i]);
        }
        /* Both views of counters 0-3 */
        if (i < 4 && hrd(MSR_K7_CTL + i) != az.ctl[i]) {
            afail("MSR_K7_EVNTSEL%u differs from its F15H alias", i);
        }
        v = hrd(ctr_msr(i));
        if (v != az.value[i] || (i < 4 && hrd(MSR_K7_CTR + i) != v)) {
            afail("CTR%u 0x%" PRIx64 ", expected 0x%" PRIx64, i, v,
                  az.value[i]);
        }
        if (vpmu_slot_counting(&az.s, i) != oracle_wants(i)) {
            afail("counter %u counting %d, expected %d", i,
                  vpmu_slot_counting(&az.s, i), oracle_wants(i));
        }
        if (az.host.programmed[i] &&
            vpmu_fuzz_host_left(&az.host, i) != W48 - az.value[i] + 1) {
            afail("counter %u signals in 0x%" PRIx64 " events, wraps in 0x%"
                  PRIx64, i, vpmu_fuzz_host_left(&az.host, i),
                  W48 - az.value[i] + 1);
        }
        if (az.s.dirty) {
            continue;
        }
        if (az.host.enabled[i] != oracle_counts(i)) {
            afail("counter %u is %scounting after vpmu_sync()", i,
                  az.host.enabled[i] ? "" : "not ");
        }
        if (az.host.enabled[i] &&
            az.host.event[i].eventsel != (az.ctl[i] & ~(EN | INT | HG))) {
            afail("counter %u counts event 0x%" PRIx64 ", CTL 0x%" PRIx64,
                  i, az.host.event[i].eventsel, az.ctl[i]);
        }
    }
}

/*
 * Whether a guest of this PMU can bring it to @st: the set a migration
 * destination must accept, no more, no less.
 */
static bool oracle_reachable(const VPMUSavedState *st)
{
    unsigned i;

    if (st->arch != VPMU_ARCH_AMD || st->version != (v2() ? 2 : 1) ||
        st->nr_gp != az.n || st->amd_perfctr_core != core() ||
        st->nr_fixed || st->gp_width != 48 || st->fixed_width != 48 ||
        st->perf_capabilities || st->fixed_ctr_ctrl || st->debugctl ||
        (st->global_ctrl & ~ctr_bits()) ||
        (st->global_status & ~(v2() ? ctr_bits() : 0))) {
        return false;
    }
    for (i = 0; i < NSLOTS; i++) {
        uint64_t ev = i < VPMU_MAX_GP ? st->eventsel[i] : 0;

        if (i >= (unsigned)az.n ? ev || st->value[i] :
            (ev & CTL_RSVD) || st->value[i] > W48) {
            return false;
        }
    }
    return true;
}

/*
 * Migration: a saved state says what the oracle says and loads back
 * unchanged; with @corrupt one field is overwritten and loaded into
 * another vPMU: taken iff a guest could have reached it (then saved
 * again the same), else refused with a reason and left reset.
 */
static void fuzz_save_load(bool corrupt)
{
    VPMUSavedState st, again;
    Error *err = NULL;
    unsigned i, what;
    bool ok, want;

    az.op = corrupt ? "load a corrupted state" : "save and load";
    vpmu_save_state(&az.s, &st);
    if (st.arch != VPMU_ARCH_AMD || st.amd_perfctr_core != core() ||
        st.global_status != az.status || st.global_ctrl != az.gctl ||
        st.pmi_pending != az.pmi) {
        afail("the saved state's arch, core, globals or PMI are off");
    }
    for (i = 0; i < (unsigned)az.n; i++) {
        if (st.eventsel[i] != az.ctl[i] || st.value[i] != az.value[i]) {
            afail("the saved state's counter %u is off", i);
        }
    }
    if (!oracle_reachable(&st)) {
        afail("the oracle says a saved state is unreachable");
    }
    if (!corrupt) {
        /*
         * Sometimes another GLOBAL_CTL, as a stream may bring it (0 from
         * an empty one): it gates counting with PerfMonV2 only.
         */
        if (take(1) & 1) {
            st.global_ctrl = az.gctl = take(1) & ctr_bits();
        }
        if (!vpmu_load_state(&az.s, &st, &err)) {
            afail("a saved state does not load back: %s",
                  error_get_pretty(err));
        }
        return;
    }
    what = take(1);
    az.msr = what;
    switch (what % 12) {
    case 0:
        st.arch = take(1) % 3;
        break;
    case 1:
        st.version = take(1) % 4;
        break;
    case 2:
        st.nr_gp = take(1) % 8;
        break;
    case 3:
        st.amd_perfctr_core = !st.amd_perfctr_core;
        break;
    case 4:
        st.nr_fixed = take(1) % 2;
        break;
    case 5:
        st.gp_width = 40 + take(1) % 10;
        break;
    case 6:
        st.eventsel[take(1) % VPMU_MAX_GP] = pick_value();
        break;
    case 7:
        st.value[take(1) % NSLOTS] = pick_value();
        break;
    case 8:
        st.global_status = pick_value();
        break;
    case 9:
        st.global_ctrl = pick_value();
        break;
    case 10:
        if (take(1) & 1) {
            st.fixed_ctr_ctrl = pick_value();
        } else {
            st.debugctl = pick_value();
        }
        break;
    default:
        st.perf_capabilities = pick_value();
        break;
    }
    st.pmi_pending = take(1) & 1;
    vpmu_state_init(&az.other, &az.cfg, &null_ops, NULL);
    want = oracle_reachable(&st);
    ok = vpmu_load_state(&az.other, &st, &err);
    if (ok != want) {
        afail("vpmu_load_state() %s a state a guest can%s reach (field %u)%s"
              "%s", ok ? "took" : "refused", want ? "" : "not", what % 12,
              err ? ": " : "", err ? error_get_pretty(err) : "");
    }
    if (!ok) {
        if (!err || !strstr(error_get_pretty(err), "migration stream")) {
            afail("a refused state says no reason: %s",
                  err ? error_get_pretty(err) : "(none)");
        }
        error_free(err);
        if (az.other.global_ctrl != ctr_bits() || az.other.global_status ||
            az.other.pmi_pending || az.other.counters[0].eventsel) {
            afail("a refused state left registers behind");
        }
        vpmu_release_all(&az.other);
        return;
    }
    vpmu_save_state(&az.other, &again);
    if (memcmp(&st, &again, sizeof(st))) {
        afail("a loaded state saves differently (field %u)", what % 12);
    }
    vpmu_release_all(&az.other);
}

/*
 * The other vendor's streams: an Intel state, even with numbers an AMD
 * PMU could have, is refused, and an AMD state by an Intel PMU.
 */
static void fuzz_cross_arch(void)
{
    VPMUSavedState st;
    VPMUConfig intel;
    Error *err = NULL;

    az.op = "cross-arch load";
    vpmu_config_default(&intel);
    intel.nr_fixed = take(1) & 1 ? 0 : 3;
    intel.nr_gp = az.n;
    intel.perf_capabilities = 0;
    intel.version = v2() ? 2 : 2 + take(1) % 4;
    vpmu_saved_state_init(&st, &intel);
    vpmu_state_init(&az.other, &az.cfg, &null_ops, NULL);
    if (vpmu_load_state(&az.other, &st, &err) ||
        !strstr(error_get_pretty(err), "Intel's")) {
        afail("an Intel state loads into an AMD PMU: %s",
              err ? error_get_pretty(err) : "taken");
    }
    error_free(err);
    err = NULL;
    vpmu_release_all(&az.other);

    vpmu_save_state(&az.s, &st);
    vpmu_state_init(&az.other, &intel, &null_ops, NULL);
    if (vpmu_load_state(&az.other, &st, &err) ||
        !strstr(error_get_pretty(err), "AMD's")) {
        afail("an AMD state loads into an Intel PMU: %s",
              err ? error_get_pretty(err) : "taken");
    }
    error_free(err);
    vpmu_release_all(&az.other);
}

/*
 * The configuration API: CPUID, the ranges, the LVTPC rule, and a field
 * that no AMD PMU has refused, naming its property.
 */
static void check_config(unsigned which)
{
    static const char *const props[] = {
        "perfmon-v2", "pmu-gp-counters", "pmu-gp-counters",
        "pmu-fixed-counters", "pmu-counter-width", "pmu-counter-width",
        "pmu-full-width-write", "lbr", "pmu-version", "pmu-arch",
    };
    static const VPMUMsrRange ranges[] = {
        { 0xc0010000, 8 }, { 0xc0010200, 12 }, { 0xc0000300, 4 }, { 0, 0 },
    };
    const VPMUMsrRange *r = vpmu_msr_ranges_of(&az.cfg);
    VPMUConfig c = az.cfg;
    uint32_t eax, ebx, ecx, edx;
    Error *err = NULL;
    unsigned i;

    az.op = "config";
    vpmu_cpuid_0xa(&az.cfg, &eax, &ebx, &ecx, &edx);
    if (eax | ebx | ecx | edx) {
        afail("CPUID 0xA is not empty for AMD");
    }
    vpmu_cpuid_0x80000022(&az.cfg, &eax, &ebx, &ecx, &edx);
    if (eax != v2() || (ebx & 0xf) != (v2() ? (unsigned)az.n : 0) ||
        (ebx & ~0xfu) || ecx || edx) {
        afail("CPUID 0x80000022 eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x", eax,
              ebx, ecx, edx);
    }
    for (i = 0; i < ARRAY_SIZE(ranges); i++) {
        if (r[i].base != ranges[i].base || r[i].nmsrs != ranges[i].nmsrs) {
            afail("MSR range %u is 0x%" PRIx32 "+%" PRIu32, i, r[i].base,
                  r[i].nmsrs);
        }
    }

    switch (which % ARRAY_SIZE(props)) {
    case 0:
        c.version = 2;
        c.amd_perfctr_core = false;
        break;
    case 1:
        c.nr_gp = v2() ? (which & 0x10 ? 0 : 7) : az.n == 6 ? 4 : 6;
        break;
    case 2:
        c.nr_gp = v2() ? -1 : 1 + (which >> 4) % 3;
        break;
    case 3:
        c.nr_fixed = 1 + (which >> 4) % 4;
        break;
    case 4:
        c.gp_width = 32 + (which >> 4) % 16;
        break;
    case 5:
        c.fixed_width = 49 + (which >> 4) % 8;
        break;
    case 6:
        c.perf_capabilities = VPMU_PERF_CAP_FW_WRITE;
        break;
    case 7:
        c.lbr.kind = VPMU_LBR_LEGACY;
        break;
    case 8:
        c.version = which & 0x10 ? 0 : 3;
        break;
    default:
        c.arch = 2 + (which >> 4);
        break;
    }
    if (vpmu_config_check(&c, &err) ||
        !strstr(error_get_pretty(err), props[which % ARRAY_SIZE(props)])) {
        afail("vpmu_config_check() of a bad field %u: %s",
              which % (unsigned)ARRAY_SIZE(props),
              err ? error_get_pretty(err) : "taken");
    }
    error_free(err);
}

/*
 * One operation: its low nibble picks MSR accesses, counting, the PMI,
 * reset, host policy or migration; the top two bits set skip the
 * re-entry's vpmu_sync().
 */
static void amd_op(void)
{
    unsigned op = take(1), i;
    bool signal = false;
    uint64_t n;

    az.msr = az.val = 0;
    switch (op & 15) {
    case 0 ... 4:
        do_access(true, false);
        break;
    case 5 ... 6:
        do_access(false, op & 0x10);
        break;
    case 7:
        do_access(true, true);
        break;
    case 8 ... 9:
        az.op = "tick";
        az.val = n = take(op & 16 ? 2 : 1);
        for (i = 0; i < NCTR; i++) {
            signal |= tick(i, n);
        }
        break;
    case 10 ... 11:
        /* One counter to 2 below, at, or 2 past its wrap */
        az.op = "tick to wrap";
        i = take(1) % NCTR;
        n = W48 - az.value[i] + 1 + take(1) % 5;
        az.val = n = n < 2 ? 0 : MIN(n - 2, W48 + 1);
        signal = tick(i, n);
        break;
    case 12:
        /* Nothing freezes on AMD: the registers stay as they are. */
        az.op = "pmi delivered";
        vpmu_pmi_delivered(&az.s);
        az.pmi = false;
        break;
    case 13:
        if (op & 0x30) {
            az.op = "reclaim/restore";
            az.reclaimed = !az.reclaimed;
            vpmu_set_reclaimed(&az.s, az.reclaimed);
            for (i = 0; az.reclaimed && i < NSLOTS; i++) {
                if (az.host.programmed[i]) {
                    afail("slot %u keeps a host event after reclaim", i);
                }
            }
            break;
        }
        az.op = "reset";
        vpmu_reset(&az.s);
        oracle_reset();
        break;
    case 14:
        if (op & 0x20) {
            fuzz_cross_arch();
        } else {
            fuzz_save_load(op & 0x10);
        }
        break;
    default:
        az.op = "sync";
        break;
    }
    if (signal && vpmu_poll(&az.s) != (v2() ? az.status : 0)) {
        afail("vpmu_poll() after the overflow signal: 0x%" PRIx64
              ", expected 0x%" PRIx64, az.s.global_status, az.status);
    }
    if ((op & 0xc0) != 0xc0) {
        vpmu_sync(&az.s);
    }
    check_all();
}

void vpmu_fuzz_amd(const uint8_t *data, size_t size)
{
    Error *err = NULL;
    unsigned c;

    memset(&az, 0, sizeof(az));
    az.input.data = data;
    az.input.len = size;
    az.host.fail = afail;
    c = take(1);
    az.fl = c % 3;
    az.n = az.fl == FL_V2 ? 1 + (c >> 2) % 6 : az.fl == FL_CORE ? 6 : 4;
    az.host.refuse = (c & 0xe0) == 0xe0;
    vpmu_config_amd(&az.cfg, az.fl != FL_K7, az.fl == FL_V2,
                    az.fl == FL_V2 ? az.n : 0);
    az.op = "config";
    if (!vpmu_config_check(&az.cfg, &err)) {
        afail("valid configuration refused: %s", error_get_pretty(err));
    }
    if (az.cfg.nr_gp != az.n) {
        afail("vpmu_config_amd() gave %d counters", az.cfg.nr_gp);
    }
    check_config(take(1));

    vpmu_state_init(&az.s, &az.cfg, &fake_ops, &az.host);
    oracle_reset();
    if (vpmu_pmi_masks_lvtpc(&az.s)) {
        afail("an AMD PMI masks the LVTPC");
    }
    check_all();
    while (az.input.len) {
        amd_op();
    }
    az.op = "release all";
    vpmu_release_all(&az.s);
    vpmu_fuzz_host_check_released(&az.host);
}
