/*
 * qemu-vpmu: KVM glue of the userspace vPMU
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest accesses to the PMU MSRs leave KVM through its MSR filter
 * (KVM_X86_SET_MSR_FILTER, one range per block of PMU MSRs) and arrive here
 * on the vCPU thread, which hands them to the register model and lets the
 * model update the perf backend before the vCPU re-enters the guest.  This
 * file decodes no PMU semantics of its own.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qom/object.h"
#include "cpu.h"
#include "host-cpu.h"
#include "kvm_i386.h"
#include "system/kvm.h"
#include "system/runstate.h"
#include "hw/i386/apic.h"
#include "hw/pci/msi.h"
#include "hw/i386/vpmu.h"
#include "hw/i386/vpmu-perf.h"
#include "hw/i386/vpmu-exact.h"
#include "hw/i386/vpmu-lbr-hw.h"
#include "hw/i386/vpmu-migration.h"
#include "vpmu-kvm.h"
#include "vpmu-step.h"
#include "trace/trace-hw_i386_vpmu.h"

/*
 * Counter overflows signal the vCPU thread with this real-time signal
 * (QEMU keeps SIG_IPI, SIGUSR1, for its own kicks).
 */
#define KVM_VPMU_SIGNAL (SIGRTMIN + 6)

/* Per-VM settings: -accel kvm,vpmu=...,vpmu-backend=...,... */
static KVMVPMUImpl kvm_vpmu_impl = KVM_VPMU_IMPL_USERSPACE;
static VPMUPerfOptions kvm_vpmu_perf_opts = {
    .mode = VPMU_PERF_AUTO,
    .pinned = true,
};
static uint32_t kvm_vpmu_release_ms = KVM_VPMU_DEFAULT_RELEASE_MS;
static uint32_t kvm_vpmu_monitor_interval_ms = KVM_VPMU_DEFAULT_MONITOR_MS;
static bool kvm_vpmu_filter_installed;
static int kvm_vpmu_vm_arch = -1;       /* VPMUArch of the VM's vPMUs */
static uint64_t kvm_vpmu_instances;
/* -accel kvm,vpmu-exact=on: count instructions and branches by stepping */
static bool kvm_vpmu_exact;
/* -accel kvm,vpmu-lbr-backend=...: who records LBR for lbr=on vCPUs */
typedef enum KVMVPMULbrBackend {
    KVM_VPMU_LBR_AUTO,
    KVM_VPMU_LBR_HARDWARE,
    KVM_VPMU_LBR_SOFTWARE,
} KVMVPMULbrBackend;
static KVMVPMULbrBackend kvm_vpmu_lbr_backend = KVM_VPMU_LBR_AUTO;
/* The event filter new vCPUs start with (vpmu-filter, vpmu-set-filter). */
static bool kvm_vpmu_has_filter;
static VPMUEventFilter kvm_vpmu_filter = { .deny = true };

/*
 * The accelerator properties given on the command line, so that one that
 * cannot apply (vpmu=kvm, no vCPU with pmu=on, software mode) says so.
 */
enum {
    KVM_VPMU_SET_BACKEND,
    KVM_VPMU_SET_PINNED,
    KVM_VPMU_SET_SCALE,
    KVM_VPMU_SET_RDPMC,
    KVM_VPMU_SET_RELEASE_MS,
    KVM_VPMU_SET_MONITOR_MS,
    KVM_VPMU_SET_FILTER,
    KVM_VPMU_SET_MIGRATION_FORMAT,
    KVM_VPMU_SET_EXACT,
    KVM_VPMU_SET_LBR_BACKEND,
    KVM_VPMU_NR_PROPS,
};
static const char *const kvm_vpmu_prop_names[KVM_VPMU_NR_PROPS] = {
    [KVM_VPMU_SET_BACKEND] = "vpmu-backend",
    [KVM_VPMU_SET_PINNED] = "vpmu-pinned",
    [KVM_VPMU_SET_SCALE] = "vpmu-scale",
    [KVM_VPMU_SET_RDPMC] = "vpmu-rdpmc",
    [KVM_VPMU_SET_RELEASE_MS] = "vpmu-release-ms",
    [KVM_VPMU_SET_MONITOR_MS] = "vpmu-monitor-ms",
    [KVM_VPMU_SET_FILTER] = "vpmu-filter",
    [KVM_VPMU_SET_MIGRATION_FORMAT] = "vpmu-migration-format",
    [KVM_VPMU_SET_EXACT] = "vpmu-exact",
    [KVM_VPMU_SET_LBR_BACKEND] = "vpmu-lbr-backend",
};
static unsigned kvm_vpmu_props_set;

static void kvm_vpmu_prop_set(unsigned prop)
{
    kvm_vpmu_props_set |= 1u << prop;
}

/* The first of @props that was set, or NULL. */
static const char *kvm_vpmu_prop_given(unsigned props)
{
    unsigned i;

    for (i = 0; i < KVM_VPMU_NR_PROPS; i++) {
        if (props & kvm_vpmu_props_set & (1u << i)) {
            return kvm_vpmu_prop_names[i];
        }
    }
    return NULL;
}

/* The glue's per-vCPU state around the model (cpu->vpmu points inside). */
typedef struct KVMVPMU {
    VPMUState state;
    VPMUPerf *perf;
    VPMUExact *exact;           /* vpmu-exact=on: between model and perf */
    KVMVPMUStep *step;          /* ... and the engine that feeds it */
    VPMULbrHw *lbr_hw;          /* vpmu-lbr-backend chose KVM's LBR */
    CPUState *cs;
    uint64_t instance;          /* see kvm_vpmu_instance() */
    QEMUTimer *release_timer;   /* lazy release sweep, on the main loop */
    QEMUTimer *retry_timer;     /* events that failed to open, again */
    VMChangeStateEntry *vm_state;   /* pauses the events with the VM */
    uint64_t msr_exits;         /* guest PMU MSR accesses handled */
    uint64_t pmis;              /* PMIs delivered to the guest */
    /*
     * RDPMC coherence (see kvm_vpmu_push_rdpmc): the counters KVM's own
     * PMU keeps for RDPMC (0: KVM has none), what we last gave it, and
     * whether an exit since may have changed a running counter.
     */
    unsigned rdpmc_gp, rdpmc_fixed;
    uint64_t rdpmc_pushed[VPMU_MAX_COUNTERS];
    bool rdpmc_stale;
    uint64_t rdpmc_pushes, rdpmc_values;    /* KVM_SET_MSRS, entries */
    const char *lbr_lost_reason;    /* x-vpmu-lbr-preempt says it cannot */
} KVMVPMU;

static KVMVPMU *kvm_vpmu(X86CPU *cpu)
{
    return container_of(cpu->vpmu, KVMVPMU, state);
}

/* Set by the signal handler; read on the same vCPU thread. */
static __thread volatile sig_atomic_t kvm_vpmu_signalled;
static __thread volatile sig_atomic_t kvm_vpmu_error_signalled;

static const char *const kvm_vpmu_impl_names[] = {
    [KVM_VPMU_IMPL_USERSPACE] = "userspace",
    [KVM_VPMU_IMPL_KVM] = "kvm",
};

static const QEnumLookup kvm_vpmu_impl_lookup = {
    .array = kvm_vpmu_impl_names,
    .size = ARRAY_SIZE(kvm_vpmu_impl_names),
};

static const char *const kvm_vpmu_backend_names[] = {
    [VPMU_PERF_AUTO] = "auto",
    [VPMU_PERF_HARDWARE] = "hardware",
    [VPMU_PERF_SOFTWARE] = "software",
};

static const QEnumLookup kvm_vpmu_backend_lookup = {
    .array = kvm_vpmu_backend_names,
    .size = ARRAY_SIZE(kvm_vpmu_backend_names),
};

static int kvm_vpmu_get_backend(Object *obj, Error **errp)
{
    return kvm_vpmu_perf_opts.mode;
}

static void kvm_vpmu_set_backend(Object *obj, int value, Error **errp)
{
    kvm_vpmu_perf_opts.mode = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_BACKEND);
}

static bool kvm_vpmu_get_pinned(Object *obj, Error **errp)
{
    return kvm_vpmu_perf_opts.pinned;
}

static void kvm_vpmu_set_pinned(Object *obj, bool value, Error **errp)
{
    kvm_vpmu_perf_opts.pinned = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_PINNED);
}

static bool kvm_vpmu_get_scale(Object *obj, Error **errp)
{
    return kvm_vpmu_perf_opts.scale;
}

static void kvm_vpmu_set_scale(Object *obj, bool value, Error **errp)
{
    kvm_vpmu_perf_opts.scale = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_SCALE);
}

static bool kvm_vpmu_get_rdpmc(Object *obj, Error **errp)
{
    return kvm_vpmu_perf_opts.user_rdpmc;
}

static void kvm_vpmu_set_rdpmc(Object *obj, bool value, Error **errp)
{
    kvm_vpmu_perf_opts.user_rdpmc = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_RDPMC);
}

static void kvm_vpmu_get_release_ms(Object *obj, Visitor *v, const char *name,
                                    void *opaque, Error **errp)
{
    visit_type_uint32(v, name, &kvm_vpmu_release_ms, errp);
}

static void kvm_vpmu_set_release_ms(Object *obj, Visitor *v, const char *name,
                                    void *opaque, Error **errp)
{
    if (visit_type_uint32(v, name, &kvm_vpmu_release_ms, errp)) {
        kvm_vpmu_prop_set(KVM_VPMU_SET_RELEASE_MS);
    }
}

static void kvm_vpmu_get_monitor_ms(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    visit_type_uint32(v, name, &kvm_vpmu_monitor_interval_ms, errp);
}

static void kvm_vpmu_set_monitor_ms(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    uint32_t ms;

    if (!visit_type_uint32(v, name, &ms, errp)) {
        return;
    }
    /* Each look kicks every vCPU with running counters out of the guest. */
    if (ms && ms < 10) {
        error_setg(errp, "vpmu-monitor-ms=%u: use 0 (off) or at least 10",
                   ms);
        return;
    }
    kvm_vpmu_monitor_interval_ms = ms;
    kvm_vpmu_prop_set(KVM_VPMU_SET_MONITOR_MS);
}

static void kvm_vpmu_set_filter_str(Object *obj, const char *str,
                                    Error **errp)
{
    VPMUEventFilter f;

    if (!vpmu_filter_parse(str, &f, errp)) {
        return;
    }
    kvm_vpmu_set_vm_filter(&f);
    kvm_vpmu_prop_set(KVM_VPMU_SET_FILTER);
}

static const char *const kvm_vpmu_migration_format_names[] = {
    [VPMU_MIGRATION_QEMU_VPMU] = "qemu-vpmu",
    [VPMU_MIGRATION_KVM] = "kvm",
};

static const QEnumLookup kvm_vpmu_migration_format_lookup = {
    .array = kvm_vpmu_migration_format_names,
    .size = ARRAY_SIZE(kvm_vpmu_migration_format_names),
};

static bool kvm_vpmu_get_exact(Object *obj, Error **errp)
{
    return kvm_vpmu_exact;
}

static void kvm_vpmu_set_exact(Object *obj, bool value, Error **errp)
{
    kvm_vpmu_exact = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_EXACT);
}

static const char *const kvm_vpmu_lbr_backend_names[] = {
    [KVM_VPMU_LBR_AUTO] = "auto",
    [KVM_VPMU_LBR_HARDWARE] = "hardware",
    [KVM_VPMU_LBR_SOFTWARE] = "software",
};

static const QEnumLookup kvm_vpmu_lbr_backend_lookup = {
    .array = kvm_vpmu_lbr_backend_names,
    .size = ARRAY_SIZE(kvm_vpmu_lbr_backend_names),
};

static int kvm_vpmu_get_lbr_backend(Object *obj, Error **errp)
{
    return kvm_vpmu_lbr_backend;
}

static void kvm_vpmu_set_lbr_backend(Object *obj, int value, Error **errp)
{
    kvm_vpmu_lbr_backend = value;
    kvm_vpmu_prop_set(KVM_VPMU_SET_LBR_BACKEND);
}

static int kvm_vpmu_get_migration_format(Object *obj, Error **errp)
{
    return vpmu_migration_format();
}

static void kvm_vpmu_set_migration_format(Object *obj, int value,
                                          Error **errp)
{
    vpmu_migration_set_format(value);
    kvm_vpmu_prop_set(KVM_VPMU_SET_MIGRATION_FORMAT);
}

static int kvm_vpmu_get_impl(Object *obj, Error **errp)
{
    return kvm_vpmu_impl;
}

static void kvm_vpmu_set_impl(Object *obj, int value, Error **errp)
{
    kvm_vpmu_impl = value;
}

void kvm_vpmu_accel_class_init(ObjectClass *oc)
{
    object_class_property_add_enum(oc, "vpmu", "KVMVPMUImpl",
                                   &kvm_vpmu_impl_lookup,
                                   kvm_vpmu_get_impl, kvm_vpmu_set_impl);
    object_class_property_set_description(oc, "vpmu",
        "Who implements the PMU of pmu=on vCPUs: 'userspace' (qemu-vpmu, "
        "default) or 'kvm' (KVM's in-kernel vPMU)");
    object_class_property_add_enum(oc, "vpmu-backend", "VPMUBackendMode",
                                   &kvm_vpmu_backend_lookup,
                                   kvm_vpmu_get_backend, kvm_vpmu_set_backend);
    object_class_property_set_description(oc, "vpmu-backend",
        "How the userspace vPMU counts: 'auto' (default), 'hardware' (host "
        "PMU, guest mode only) or 'software' (cycles from CPU time)");
    object_class_property_add_bool(oc, "vpmu-pinned", kvm_vpmu_get_pinned,
                                   kvm_vpmu_set_pinned);
    object_class_property_set_description(oc, "vpmu-pinned",
        "Pin the host events of guest counters (default on); off lets host "
        "perf multiplex them");
    object_class_property_add_bool(oc, "vpmu-scale", kvm_vpmu_get_scale,
                                   kvm_vpmu_set_scale);
    object_class_property_set_description(oc, "vpmu-scale",
        "Scale guest counts by host time enabled / time running when host "
        "perf preempts them (default off)");
    object_class_property_add_bool(oc, "vpmu-rdpmc", kvm_vpmu_get_rdpmc,
                                   kvm_vpmu_set_rdpmc);
    object_class_property_set_description(oc, "vpmu-rdpmc",
        "Hardware mode: read guest counters with RDPMC and stop them "
        "virtually, without syscalls (experimental, default off)");
    object_class_property_add(oc, "vpmu-release-ms", "uint32",
                              kvm_vpmu_get_release_ms,
                              kvm_vpmu_set_release_ms, NULL, NULL);
    object_class_property_set_description(oc, "vpmu-release-ms",
        "Close the host event of a guest counter stopped this long "
        "(default " stringify(KVM_VPMU_DEFAULT_RELEASE_MS) " ms)");
    object_class_property_add(oc, "vpmu-monitor-ms", "uint32",
                              kvm_vpmu_get_monitor_ms,
                              kvm_vpmu_set_monitor_ms, NULL, NULL);
    object_class_property_set_description(oc, "vpmu-monitor-ms",
        "Look for guest counters preempted by host perf this often, for "
        "the VPMU_COUNTER_PREEMPTED event (default "
        stringify(KVM_VPMU_DEFAULT_MONITOR_MS) " ms; 0: never)");
    object_class_property_add_str(oc, "vpmu-filter", NULL,
                                  kvm_vpmu_set_filter_str);
    object_class_property_set_description(oc, "vpmu-filter",
        "Guest events allowed to count: 'allow' or 'deny', then "
        "';'-separated EVENT[:UMASK] and fixed=BITMAP, e.g. "
        "'deny;0xc0:0x00;fixed=0x1'");
    object_class_property_add_enum(oc, "vpmu-migration-format",
                                   "VpmuMigrationFormat",
                                   &kvm_vpmu_migration_format_lookup,
                                   kvm_vpmu_get_migration_format,
                                   kvm_vpmu_set_migration_format);
    object_class_property_set_description(oc, "vpmu-migration-format",
        "What migration sends for a vCPU's PMU: 'qemu-vpmu' (default: "
        "the vPMU's state, and KVM's PMU state beside it) or 'kvm' "
        "(KVM's only, which QEMU without qemu-vpmu loads)");
    object_class_property_add_bool(oc, "vpmu-exact", kvm_vpmu_get_exact,
                                   kvm_vpmu_set_exact);
    object_class_property_set_description(oc, "vpmu-exact",
        "Count instructions retired (0xc0; Intel's fixed counter 0) and "
        "branches retired (Intel 0xc4/0x00, AMD 0xc2) exactly, by "
        "single-stepping a vCPU while such a counter runs (slow; default "
        "off)");
    object_class_property_add_enum(oc, "vpmu-lbr-backend", "VPMULbrBackend",
                                   &kvm_vpmu_lbr_backend_lookup,
                                   kvm_vpmu_get_lbr_backend,
                                   kvm_vpmu_set_lbr_backend);
    object_class_property_set_description(oc, "vpmu-lbr-backend",
        "Who records branches for lbr=on vCPUs: 'auto' (default), "
        "'hardware' (KVM's LBR on Intel hosts) or 'software' "
        "(single-stepping while the guest records, slow)");
}

VPMUPerf *kvm_vpmu_backend(X86CPU *cpu)
{
    return kvm_vpmu(cpu)->perf;
}

uint64_t kvm_vpmu_instance(X86CPU *cpu)
{
    return kvm_vpmu(cpu)->instance;
}

void kvm_vpmu_glue_stats(X86CPU *cpu, uint64_t *msr_exits, uint64_t *pmis)
{
    *msr_exits = kvm_vpmu(cpu)->msr_exits;
    *pmis = kvm_vpmu(cpu)->pmis;
}

bool kvm_vpmu_exact_slots(X86CPU *cpu, uint32_t *owned)
{
    KVMVPMU *v = kvm_vpmu(cpu);

    *owned = v->exact ? vpmu_exact_owned(v->exact) : 0;
    return v->exact != NULL;
}

void kvm_vpmu_exact_stats(X86CPU *cpu, bool *stepping, uint64_t *steps,
                          uint64_t *retired, uint64_t *iterations,
                          uint64_t *events, uint64_t *unexplained,
                          uint64_t *arms, uint64_t *ns)
{
    KVMVPMUStep *step = kvm_vpmu(cpu)->step;
    const KVMVPMUStepStats *st = kvm_vpmu_step_stats(step);

    *stepping = kvm_vpmu_step_active(step);
    *steps = st->steps;
    *retired = st->retired;
    *iterations = st->iterations;
    *events = st->events;
    *unexplained = st->unexplained;
    *arms = st->rearms;
    *ns = kvm_vpmu_step_ns(step);
}

bool kvm_vpmu_vm_filter(VPMUEventFilter *f)
{
    *f = kvm_vpmu_filter;
    return kvm_vpmu_has_filter;
}

void kvm_vpmu_set_vm_filter(const VPMUEventFilter *f)
{
    /* A deny list of nothing filters nothing. */
    kvm_vpmu_has_filter = f && (!f->deny || f->nevents || f->fixed_bitmap);
    memset(&kvm_vpmu_filter, 0, sizeof(kvm_vpmu_filter));
    kvm_vpmu_filter.deny = true;
    if (kvm_vpmu_has_filter) {
        kvm_vpmu_filter = *f;
    }
}

bool kvm_vpmu_userspace(void)
{
    return kvm_vpmu_impl == KVM_VPMU_IMPL_USERSPACE;
}

uint32_t kvm_vpmu_monitor_ms(void)
{
    return kvm_vpmu_monitor_interval_ms;
}

/*
 * The next lazy-release sweep.  One millisecond more than the idle time:
 * the clock counts whole milliseconds, and a sweep that came a fraction
 * early would find the event that armed it not yet due and wait a whole
 * period more.
 */
static void kvm_vpmu_arm_release_timer(KVMVPMU *v)
{
    timer_mod(v->release_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              (int64_t)kvm_vpmu_release_ms + 1);
}

/* On the vCPU thread (async_run_on_cpu): close long-stopped events. */
static void kvm_vpmu_release_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);
    KVMVPMU *v;
    /* In 64 bits: a uint32_t times SCALE_MS wraps from 4295 ms on. */
    int64_t idle_ns = (int64_t)kvm_vpmu_release_ms * SCALE_MS;

    if (!cpu->vpmu) {
        return;
    }
    v = kvm_vpmu(cpu);
    if (vpmu_perf_release_idle(v->perf, g_get_monotonic_time() * SCALE_US,
                               idle_ns)) {
        kvm_vpmu_arm_release_timer(v);
    }
}

static void kvm_vpmu_release_timer(void *opaque)
{
    KVMVPMU *v = opaque;

    async_run_on_cpu(v->cs, kvm_vpmu_release_work, RUN_ON_CPU_NULL);
}

/*
 * Counters whose host event could not be opened for a passing reason
 * (EMFILE, the fd reserve, EBUSY...) are tried again when their backoff
 * is over, without waiting for the guest to touch them, so that they
 * count again once the host allows it.
 */
static void kvm_vpmu_arm_retry(KVMVPMU *v)
{
    int64_t at = vpmu_perf_retry_at(v->perf);
    int64_t now = g_get_monotonic_time() * SCALE_US;

    if (at == INT64_MAX) {
        vpmu_perf_retry(v->perf);       /* nothing waits: clears the flag */
        return;
    }
    /* Both clocks are CLOCK_MONOTONIC: the delay carries over. */
    timer_mod(v->retry_timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
              (MAX(at - now, 0) + SCALE_MS - 1) / SCALE_MS);
}

/* On the vCPU thread (async_run_on_cpu), which owns the backend. */
static void kvm_vpmu_retry_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);

    if (!cpu->vpmu) {
        return;
    }
    vpmu_perf_retry(kvm_vpmu(cpu)->perf);
    kvm_vpmu_arm_retry(kvm_vpmu(cpu));
}

static void kvm_vpmu_retry_timer(void *opaque)
{
    KVMVPMU *v = opaque;

    async_run_on_cpu(v->cs, kvm_vpmu_retry_work, RUN_ON_CPU_NULL);
}

/* After a guest write: a stopped event starts its lazy-release clock. */
static void kvm_vpmu_arm_release(KVMVPMU *v)
{
    if (!timer_pending(v->release_timer) && vpmu_perf_stopped(v->perf)) {
        kvm_vpmu_arm_release_timer(v);
    }
}

/* The guest's CPUID family and model, decoded as the SDM says. */
static void kvm_vpmu_guest_fm(X86CPU *cpu, int *family, int *model)
{
    uint32_t ver = cpu->env.cpuid_version;

    *family = (ver >> 8) & 0xf;
    *model = (ver >> 4) & 0xf;
    if (*family == 0xf) {
        *family += (ver >> 20) & 0xff;
    }
    if (*family == 0x6 || *family >= 0xf) {
        *model |= (ver >> 12) & 0xf0;
    }
}

/*
 * The guest's LBR (lbr=on): depth and format by the guest's family and
 * model, as its kernel expects them, then lbr-depth and lbr-fmt;
 * arch-lbr=on makes it architectural.
 */
static void kvm_vpmu_lbr_config(X86CPU *cpu, VPMULbrConfig *lbr)
{
    int family, model;

    memset(lbr, 0, sizeof(*lbr));
    if (!cpu->vpmu_lbr) {
        lbr->kind = VPMU_LBR_NONE;
        return;
    }
    kvm_vpmu_guest_fm(cpu, &family, &model);
    vpmu_lbr_config_for_model(lbr, family, model);
    lbr->kind = cpu->vpmu_arch_lbr ? VPMU_LBR_ARCH : VPMU_LBR_LEGACY;
    if (lbr->kind == VPMU_LBR_ARCH) {
        lbr->format = VPMU_LBR_FMT_ARCH;
        lbr->depth = VPMU_LBR_MAX_DEPTH;
    }
    /*
     * A depth of the user's makes a CPU of that depth's class, without
     * the model's quirks, in that class's format unless lbr-fmt says.
     */
    if (cpu->vpmu_lbr_depth != -1) {
        lbr->depth = cpu->vpmu_lbr_depth;
        lbr->quirks = 0;
        if (lbr->kind == VPMU_LBR_LEGACY &&
            vpmu_lbr_default_format(lbr->depth) >= 0) {
            lbr->format = vpmu_lbr_default_format(lbr->depth);
        }
    }
    if (cpu->lbr_fmt != ~PERF_CAP_LBR_FMT) {
        lbr->format = cpu->lbr_fmt & PERF_CAP_LBR_FMT;
    }
}

/*
 * The guest's PMU: the host's CPUID leaf 0xA, capped at what the model
 * implements (defaults where the host reports none), then the -cpu
 * pmu-* properties.
 */
static bool kvm_vpmu_config(X86CPU *cpu, VPMUConfig *cfg, Error **errp)
{
    uint32_t eax, ebx, ecx, edx;
    int arch;

    memset(cfg, 0, sizeof(*cfg));
    if (!kvm_vpmu_choose_arch(cpu, &arch, errp)) {
        return false;
    }
    if (arch == VPMU_ARCH_AMD) {
        return kvm_vpmu_amd_config(cpu, cfg, errp);
    }
    host_cpuid(0xa, 0, &eax, &ebx, &ecx, &edx);
    vpmu_config_from_host(cfg, eax, edx);
    if (cpu->vpmu_version != -1) {
        cfg->version = cpu->vpmu_version;
    }
    if (cpu->vpmu_gp_counters != -1) {
        cfg->nr_gp = cpu->vpmu_gp_counters;
    }
    if (cpu->vpmu_fixed_counters != -1) {
        cfg->nr_fixed = cpu->vpmu_fixed_counters;
    }
    if (cpu->vpmu_counter_width != -1) {
        cfg->gp_width = cfg->fixed_width = cpu->vpmu_counter_width;
    }
    cfg->perf_capabilities =
        cpu->vpmu_full_width_write != ON_OFF_AUTO_OFF ?
        VPMU_PERF_CAP_FW_WRITE : 0;
    kvm_vpmu_lbr_config(cpu, &cfg->lbr);
    cfg->lbr.pmu_version = cfg->version;
    if (cfg->lbr.kind == VPMU_LBR_LEGACY) {
        cfg->perf_capabilities |= cfg->lbr.format;
    } else if (cfg->lbr.kind == VPMU_LBR_ARCH) {
        cfg->perf_capabilities |= VPMU_LBR_FMT_ARCH;
    }
    return vpmu_config_check(cfg, errp);
}

/*
 * x-vpmu-stats: what the host did for this vCPU, for benchmarks and tests
 * (query-vpmu will carry it too).  Read from the main loop while the vCPU
 * thread updates it: each field is a plain aligned 64-bit word, so a read
 * sees some recent value, which is all statistics need.
 */
static void kvm_vpmu_get_stats(Object *obj, Visitor *visitor,
                               const char *name, void *opaque, Error **errp)
{
    KVMVPMU *v = opaque;
    const VPMUPerfStats *st = vpmu_perf_stats(v->perf);
    struct {
        const char *name;
        uint64_t value;
    } fields[] = {
        { "msr-exits", v->msr_exits },
        { "pmis", v->pmis },
        { "perf-opens", st->opens },
        { "perf-open-failures", st->open_failures },
        { "perf-closes", st->closes },
        { "perf-ioctls", st->ioctls },
        { "perf-fcntls", st->fcntls },
        { "perf-reads", st->reads },
        { "user-reads", st->user_reads },
        { "virtual-toggles", st->gated_toggles },
        { "lazy-releases", st->lazy_releases },
        { "overflow-signals", st->overflow_signals },
        { "open-fds", vpmu_perf_open_fds(v->perf) },
        { "rdpmc-pushes", v->rdpmc_pushes },
        { "rdpmc-values", v->rdpmc_values },
        { "rdpmc-coherent", v->rdpmc_gp || v->rdpmc_fixed },
        { "exact-steps", v->step ? kvm_vpmu_step_stats(v->step)->steps : 0 },
        { "exact-retired",
          v->step ? kvm_vpmu_step_stats(v->step)->retired : 0 },
        { "exact-iterations",
          v->step ? kvm_vpmu_step_stats(v->step)->iterations : 0 },
        { "exact-events", v->step ? kvm_vpmu_step_stats(v->step)->events : 0 },
        { "exact-unexplained",
          v->step ? kvm_vpmu_step_stats(v->step)->unexplained : 0 },
        { "exact-rearms", v->step ? kvm_vpmu_step_stats(v->step)->rearms : 0 },
        { "exact-halts", v->step ? kvm_vpmu_step_stats(v->step)->halts : 0 },
        { "exact-late", v->step ? kvm_vpmu_step_stats(v->step)->late : 0 },
        { "exact-user-unstepped",
          v->step ? kvm_vpmu_step_stats(v->step)->user_unstepped : 0 },
        { "exact-ns", v->step ? kvm_vpmu_step_ns(v->step) : 0 },
        { "exact-stepping", v->step && kvm_vpmu_step_active(v->step) },
        { "lbr-recording", vpmu_lbr_recording(&v->state) },
        { "lbr-recorded", v->state.lbr.stats.recorded },
        { "lbr-filtered", v->state.lbr.stats.filtered },
        { "lbr-popped", v->state.lbr.stats.popped },
        { "lbr-records", vpmu_lbr_records_used(&v->state.lbr) },
        { "lbr-hw-pushes", v->lbr_hw ? v->lbr_hw->stats.pushes : 0 },
        { "lbr-hw-snapshots", v->lbr_hw ? v->lbr_hw->stats.snapshots : 0 },
        { "lbr-hw-refreshes", v->lbr_hw ? v->lbr_hw->stats.refreshes : 0 },
        { "lbr-hw-losses", v->lbr_hw ? v->lbr_hw->stats.losses : 0 },
    };
    unsigned i;

    if (!visit_start_struct(visitor, name, NULL, 0, errp)) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(fields); i++) {
        if (!visit_type_uint64(visitor, fields[i].name, &fields[i].value,
                               errp)) {
            break;
        }
    }
    if (i == ARRAY_SIZE(fields)) {
        visit_check_struct(visitor, errp);
    }
    visit_end_struct(visitor, NULL);
}

/* On the vCPU thread, which owns the backend. */
static void kvm_vpmu_preempt_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);
    uint64_t bits = data.host_ulong;
    unsigned slot;

    if (!cpu->vpmu) {
        return;
    }
    for (slot = 0; slot < VPMU_MAX_COUNTERS; slot++) {
        unsigned bit = slot < VPMU_MAX_GP ? slot :
                       VPMU_FIXED_BASE_BIT + slot - VPMU_MAX_GP;

        vpmu_perf_test_preempt(kvm_vpmu(cpu)->perf, slot,
                               bits & (1ULL << bit));
    }
}

/* On the vCPU thread, which owns the model. */
static void kvm_vpmu_lbr_preempt_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);

    if (cpu->vpmu) {
        kvm_vpmu(cpu)->lbr_lost_reason = data.host_int ?
                                         "x-vpmu-lbr-preempt" : NULL;
        vpmu_set_lbr_lost(cpu->vpmu, data.host_int);
    }
}

/*
 * x-vpmu-lbr-preempt (write-only, for tests): the LBR backend behaves as
 * if the host had taken LBR (true) or given it back (false), so that the
 * VPMU_LBR_PREEMPTED/RECOVERED events can be tested on hosts where
 * nothing takes it: the software backend has no host user to lose to.
 */
static void kvm_vpmu_set_lbr_preempt(Object *obj, Visitor *visitor,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    KVMVPMU *v = opaque;
    bool lost;

    if (!visit_type_bool(visitor, name, &lost, errp)) {
        return;
    }
    run_on_cpu(v->cs, kvm_vpmu_lbr_preempt_work, RUN_ON_CPU_HOST_INT(lost));
}

const char *kvm_vpmu_lbr_lost_reason(X86CPU *cpu)
{
    KVMVPMU *v = kvm_vpmu(cpu);

    if (!v->lbr_lost_reason && v->lbr_hw) {
        return vpmu_lbr_hw_lost_reason(v->lbr_hw);
    }
    return v->lbr_lost_reason;
}

bool kvm_vpmu_lbr_hardware(X86CPU *cpu)
{
    return kvm_vpmu(cpu)->lbr_hw != NULL;
}

/*
 * x-vpmu-preempt (write-only, for tests): counters, as GLOBAL_CTRL bits,
 * whose host events read as if host perf had taken them, through the
 * backend's test seam.  Lets contention reporting be tested on hosts
 * where nothing preempts us.
 */
static void kvm_vpmu_set_preempt(Object *obj, Visitor *visitor,
                                 const char *name, void *opaque,
                                 Error **errp)
{
    KVMVPMU *v = opaque;
    uint64_t bits;

    if (!visit_type_uint64(visitor, name, &bits, errp)) {
        return;
    }
    run_on_cpu(v->cs, kvm_vpmu_preempt_work, RUN_ON_CPU_HOST_ULONG(bits));
}

/* The -cpu pmu-* property the user set, or NULL. */
static const char *kvm_vpmu_cpu_prop_given(X86CPU *cpu)
{
    if (cpu->vpmu_version != -1) {
        return "pmu-version";
    }
    if (cpu->vpmu_gp_counters != -1) {
        return "pmu-gp-counters";
    }
    if (cpu->vpmu_fixed_counters != -1) {
        return "pmu-fixed-counters";
    }
    if (cpu->vpmu_counter_width != -1) {
        return "pmu-counter-width";
    }
    if (cpu->vpmu_full_width_write != ON_OFF_AUTO_AUTO) {
        return "pmu-full-width-write";
    }
    if (cpu->vpmu_lbr) {
        return "lbr";
    }
    if (cpu->vpmu_arch) {
        return "pmu-arch";
    }
    return NULL;
}

/*
 * Settings that cannot apply are refused (or, where they may apply to
 * other vCPUs, warned about), never silently ignored.
 */
static bool kvm_vpmu_check_applicable(X86CPU *cpu, Error **errp)
{
    bool userspace = kvm_vpmu_impl == KVM_VPMU_IMPL_USERSPACE;
    const char *prop = kvm_vpmu_cpu_prop_given(cpu);
    const char *accel = kvm_vpmu_prop_given(~0u);

    if (!userspace && accel) {
        error_setg(errp, "vPMU: -accel kvm,%s=... configures the userspace "
                   "vPMU, which -accel kvm,vpmu=kvm turns off; drop it, or "
                   "use vpmu=userspace", accel);
        return false;
    }
    if (prop && (!userspace || !cpu->enable_pmu)) {
        error_setg(errp, "vPMU: -cpu %s=... configures the userspace vPMU, "
                   "which %s; drop it, or use pmu=on with -accel "
                   "kvm,vpmu=userspace", prop, !cpu->enable_pmu ?
                   "pmu=off turns off" : "-accel kvm,vpmu=kvm turns off");
        return false;
    }
    if (!cpu->enable_pmu && accel) {
        warn_report_once("vPMU: -accel kvm,%s=... has no effect on vCPUs "
                         "with pmu=off", accel);
    }
    if (cpu->enable_pmu && !cpu->vpmu_lbr &&
        kvm_vpmu_prop_given(1u << KVM_VPMU_SET_LBR_BACKEND)) {
        warn_report_once("vPMU: -accel kvm,vpmu-lbr-backend=... has no "
                         "effect on vCPUs with lbr=off");
    }
    /* KVM's LBR would be live behind our model: LBR is ours or none. */
    if (userspace && cpu->enable_pmu && !cpu->vpmu_lbr &&
        cpu->lbr_fmt != ~PERF_CAP_LBR_FMT &&
        (cpu->lbr_fmt & PERF_CAP_LBR_FMT)) {
        error_setg(errp, "vPMU: lbr-fmt=0x%" PRIx64 " is the record format "
                   "of the userspace vPMU's LBR, which lbr=on turns on; add "
                   "lbr=on, drop lbr-fmt, or use -accel kvm,vpmu=kvm for "
                   "KVM's LBR", cpu->lbr_fmt);
        return false;
    }
    if (cpu->vpmu_lbr_depth != -1 && !cpu->vpmu_lbr) {
        error_setg(errp, "vPMU: lbr-depth=%d sets the depth of the userspace "
                   "vPMU's LBR, which lbr=on turns on; add lbr=on or drop "
                   "lbr-depth", cpu->vpmu_lbr_depth);
        return false;
    }
    if (cpu->vpmu_lbr && cpu->env.cpuid_level < 0x1c && cpu->vpmu_arch_lbr) {
        error_setg(errp, "vPMU: arch-lbr=on needs CPUID leaf 0x1C, above "
                   "this CPU's level 0x%x; raise it with -cpu ...,level=0x1c",
                   cpu->env.cpuid_level);
        return false;
    }
    return true;
}

/*
 * Why KVM's own LBR cannot record for this guest (lbr.md in the design
 * notes: legacy LBR on an Intel host whose KVM has a PMU, and the
 * guest's LBR exactly the host's), or NULL.
 */
static const char *kvm_vpmu_lbr_hw_unavailable(X86CPU *cpu,
                                               const VPMULbrConfig *lbr)
{
    VPMULbrConfig host = { .kind = VPMU_LBR_LEGACY };
    int family, model, host_family, host_model;
    uint64_t host_cap;
    char vendor[CPUID_VENDOR_SZ + 1];

    host_cpu_vendor_fms(vendor, &host_family, &host_model, NULL);
    if (strcmp(vendor, CPUID_VENDOR_INTEL)) {
        return "the host CPU is not Intel's";
    }
    if (!(kvm_arch_get_supported_cpuid(kvm_state, 0xa, 0, R_EAX) & 0xff)) {
        return "KVM has no PMU of its own (kvm.enable_pmu=0, or no host PMU)";
    }
    if (lbr->kind == VPMU_LBR_ARCH) {
        return "KVM does not virtualize architectural LBR";
    }
    host_cap = kvm_arch_get_supported_msr_feature(kvm_state,
                                                  MSR_IA32_PERF_CAPABILITIES);
    if (!(host_cap & PERF_CAP_LBR_FMT)) {
        return "KVM offers no legacy LBR on this host";
    }
    if ((host_cap & PERF_CAP_LBR_FMT) != lbr->format) {
        return "the guest's lbr-fmt is not the host's";
    }
    /*
     * KVM gives a guest LBR only with the host's family and model
     * (cpuid_model_is_consistent()), and then the host's records.
     */
    kvm_vpmu_guest_fm(cpu, &family, &model);
    if (family != host_family || model != host_model) {
        return "the guest's CPU model is not the host's (use -cpu host)";
    }
    vpmu_lbr_config_for_model(&host, host_family, host_model);
    if (lbr->depth != host.depth || lbr->quirks != host.quirks) {
        return "the guest's lbr-depth is not the host's";
    }
    return NULL;
}

/*
 * Pick who records LBR for a vCPU with lbr=on (@hw: KVM's LBR): hardware
 * where it can, software (the single-step engine) elsewhere, said once
 * at startup.
 */
static bool kvm_vpmu_lbr_choose(X86CPU *cpu, const VPMULbrConfig *lbr,
                                bool *hw, Error **errp)
{
    const char *why_not_hw = kvm_vpmu_lbr_hw_unavailable(cpu, lbr);
    static bool said, said_hw;

    *hw = !why_not_hw && kvm_vpmu_lbr_backend != KVM_VPMU_LBR_SOFTWARE;
    if (*hw) {
        if (!said_hw) {
            said_hw = true;
            info_report("vPMU: LBR: the hardware backend records branches "
                        "with KVM's LBR while the guest has LBR on; every "
                        "LBR MSR access still exits to the vPMU");
        }
        return true;
    }
    if (kvm_vpmu_lbr_backend == KVM_VPMU_LBR_HARDWARE) {
        error_setg(errp, "vPMU: vpmu-lbr-backend=hardware is not available "
                   "here: %s; use vpmu-lbr-backend=software or auto",
                   why_not_hw);
        return false;
    }
    if (!kvm_vpmu_step_supported("lbr=on (the software LBR backend)",
                                 errp)) {
        return false;
    }
    if (!said) {
        said = true;
        info_report("vPMU: LBR: the software backend records branches "
                    "exactly by single-stepping a vCPU while its guest has "
                    "LBR on (one exit per instruction, about 10^3 to 10^4 "
                    "times slower)%s%s", kvm_vpmu_lbr_backend ==
                    KVM_VPMU_LBR_AUTO ? "; not the hardware backend: " : "",
                    kvm_vpmu_lbr_backend == KVM_VPMU_LBR_AUTO ? why_not_hw :
                    "");
    }
    return true;
}

/* Backend settings that the mode the host allows cannot honour. */
static void kvm_vpmu_check_backend(VPMUPerf *backend)
{
    static bool said;
    const char *prop;

    if (said) {
        return;
    }
    said = true;
    if (vpmu_perf_mode(backend) == VPMU_PERF_SOFTWARE) {
        prop = kvm_vpmu_prop_given(1u << KVM_VPMU_SET_PINNED |
                                   1u << KVM_VPMU_SET_SCALE |
                                   1u << KVM_VPMU_SET_RDPMC);
        if (prop) {
            warn_report("vPMU: -accel kvm,%s=... has no effect in software "
                        "mode: its task-clock events have no host counter "
                        "to pin, share or read with RDPMC", prop);
        }
    } else if (kvm_vpmu_perf_opts.user_rdpmc && kvm_vpmu_perf_opts.scale) {
        warn_report("vPMU: vpmu-rdpmc=on has no effect with vpmu-scale=on, "
                    "which needs every read's times from read()");
    }
}

/* On the vCPU thread, which owns the backend. */
static void kvm_vpmu_pause_work(CPUState *cs, run_on_cpu_data data)
{
    X86CPU *cpu = X86_CPU(cs);

    if (cpu->vpmu) {
        vpmu_perf_pause(kvm_vpmu(cpu)->perf, !data.host_int);
        /* Stopped, the model holds the records: migration reads them */
        if (kvm_vpmu(cpu)->lbr_hw) {
            vpmu_lbr_hw_pause(kvm_vpmu(cpu)->lbr_hw, cpu->vpmu,
                              !data.host_int);
        }
    }
}

/*
 * A stopped VM counts nothing, whatever runs on its vCPU threads (QMP
 * work, migration).  Queued before the vCPUs run again, so the events are
 * back on before the guest is.
 */
static void kvm_vpmu_vm_state(void *opaque, bool running, RunState state)
{
    KVMVPMU *v = opaque;

    async_run_on_cpu(v->cs, kvm_vpmu_pause_work,
                     RUN_ON_CPU_HOST_INT(running));
}

/*
 * The hardware LBR backend's accesses to KVM's LBR: host-initiated (the
 * MSR filter does not apply), on the vCPU thread, the task that KVM's
 * guest LBR event is created for.
 */
static bool kvm_vpmu_lbr_hw_msrs(KVMVPMU *v, const uint32_t *idx,
                                 uint64_t *out, const uint64_t *in,
                                 unsigned n)
{
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[VPMU_LBR_HW_MAX_MSRS];
    } msrs = { .info.nmsrs = n };
    unsigned i;

    assert(n <= VPMU_LBR_HW_MAX_MSRS && qemu_cpu_is_self(v->cs));
    for (i = 0; i < n; i++) {
        msrs.entries[i].index = idx[i];
        msrs.entries[i].data = in ? in[i] : 0;
    }
    if (kvm_vcpu_ioctl(v->cs, in ? KVM_SET_MSRS : KVM_GET_MSRS,
                       &msrs) != (int)n) {
        return false;
    }
    for (i = 0; out && i < n; i++) {
        out[i] = msrs.entries[i].data;
    }
    return true;
}

static bool kvm_vpmu_lbr_hw_get(void *opaque, const uint32_t *idx,
                                uint64_t *val, unsigned n)
{
    return kvm_vpmu_lbr_hw_msrs(opaque, idx, val, NULL, n);
}

static bool kvm_vpmu_lbr_hw_set(void *opaque, const uint32_t *idx,
                                const uint64_t *val, unsigned n)
{
    return kvm_vpmu_lbr_hw_msrs(opaque, idx, NULL, val, n);
}

static const VPMULbrHwOps kvm_vpmu_lbr_hw_ops = {
    .get_msrs = kvm_vpmu_lbr_hw_get,
    .set_msrs = kvm_vpmu_lbr_hw_set,
};

bool kvm_vpmu_cpu_realize(X86CPU *cpu, Error **errp)
{
    CPUX86State *env = &cpu->env;
    static bool vendor_warned, rdpmc_warned;
    uint32_t kvm_eax, kvm_edx;
    unsigned kvm_gp, kvm_fixed;
    VPMUConfig cfg;
    VPMUPerf *backend;
    bool lbr_hw = false;
    KVMVPMU *v;

    if (!kvm_vpmu_check_applicable(cpu, errp)) {
        return false;
    }
    if (!cpu->enable_pmu || kvm_vpmu_impl != KVM_VPMU_IMPL_USERSPACE) {
        return true;
    }
    if (!kvm_vpmu_config(cpu, &cfg, errp)) {
        return false;
    }
    if (cfg.arch == VPMU_ARCH_INTEL && env->cpuid_level < 0xa) {
        error_setg(errp, "vPMU: CPUID level 0x%x has no leaf 0xA for the "
                   "PMU; raise it with -cpu ...,level=0xa or higher",
                   env->cpuid_level);
        return false;
    }
    /* The MSR filter is the VM's: every vCPU's PMU decodes the same MSRs */
    if (kvm_vpmu_vm_arch >= 0 && kvm_vpmu_vm_arch != cfg.arch) {
        error_setg(errp, "vPMU: CPU %d would get %s PMU, and the CPUs "
                   "before it %s one; the MSRs routed to the vPMU are the "
                   "same for every vCPU of a VM: give them all the same "
                   "vendor or pmu-arch", CPU(cpu)->cpu_index,
                   cfg.arch == VPMU_ARCH_AMD ? "an AMD" : "an Intel",
                   kvm_vpmu_vm_arch == VPMU_ARCH_AMD ? "an AMD" : "an Intel");
        return false;
    }
    /* Guests find PerfMonV2 in leaf 0x80000022, as on Zen 4 */
    if (cfg.arch == VPMU_ARCH_AMD && cfg.version >= 2 &&
        env->cpuid_xlevel < 0x80000022) {
        env->cpuid_xlevel = 0x80000022;
    }
    kvm_vpmu_perf_opts.arch = cfg.arch;     /* the VM's, as the filter */
    backend = vpmu_perf_new(&kvm_vpmu_perf_opts, errp);
    if (!backend) {
        return false;
    }
    kvm_vpmu_check_backend(backend);
    if ((kvm_vpmu_exact && !kvm_vpmu_step_supported("vpmu-exact=on", errp)) ||
        (cfg.lbr.kind != VPMU_LBR_NONE &&
         !kvm_vpmu_lbr_choose(cpu, &cfg.lbr, &lbr_hw, errp))) {
        vpmu_perf_free(backend);
        return false;
    }
    /*
     * KVM is given IA32_PERF_CAPABILITIES (KVM_SET_MSRS) while its own PMU
     * stays behind our filter: an LBR format or PEBS bits there would let
     * KVM's LBR and PEBS machinery live behind the model (DEBUGCTL.LBR,
     * the LBR MSRs, PEBS_ENABLE), while the guest reads from us that it
     * has neither.  Only full-width writes are ours to offer, and the
     * LBR format when the hardware LBR backend drives KVM's LBR: KVM has
     * none without it (intel_pmu_refresh()).
     */
    env->features[FEAT_PERF_CAPABILITIES] &= VPMU_PERF_CAP_SUPPORTED;
    if (lbr_hw) {
        env->features[FEAT_PERF_CAPABILITIES] |= cfg.lbr.format;
    }
    /*
     * RDPMC never exits to QEMU: KVM answers it from its own PMU, and
     * where KVM has none (kvm.enable_pmu=0, or no host PMU) it raises #GP.
     * Where it has one, kvm_vpmu_push_rdpmc() keeps its copy coherent.
     */
    if (cfg.arch == VPMU_ARCH_AMD) {
        kvm_gp = kvm_vpmu_kvm_amd_counters();
        kvm_fixed = 0;
    } else {
        kvm_eax = kvm_arch_get_supported_cpuid(kvm_state, 0xa, 0, R_EAX);
        kvm_edx = kvm_arch_get_supported_cpuid(kvm_state, 0xa, 0, R_EDX);
        kvm_gp = kvm_eax & 0xff ? (kvm_eax >> 8) & 0xff : 0;
        kvm_fixed = kvm_eax & 0xff ? kvm_edx & 0x1f : 0;
    }
    if (!kvm_gp && !rdpmc_warned) {
        rdpmc_warned = true;
        warn_report("vPMU: KVM has no PMU of its own here (module parameter "
                    "kvm.enable_pmu=0, or no host PMU), so a guest RDPMC "
                    "raises #GP; counters stay readable with RDMSR, but "
                    "Linux guests, which read them with RDPMC, cannot use "
                    "perf");
    }
    if (!kvm_vpmu_arch_fits_vendor(cpu, cfg.arch) && !vendor_warned) {
        vendor_warned = true;
        warn_report("vPMU: the guest gets %s PMU with a%s CPU vendor%s; "
                    "guests that pick their PMU driver by vendor will not "
                    "use it", cfg.arch == VPMU_ARCH_AMD ?
                    "AMD's" : "Intel's architectural",
                    cfg.arch == VPMU_ARCH_AMD ? " non-AMD" : " non-Intel",
                    cpu->vpmu_arch ? " (pmu-arch)" : "");
    }

    v = g_new0(KVMVPMU, 1);
    v->instance = ++kvm_vpmu_instances;     /* realize holds the BQL */
    if (kvm_gp) {
        /*
         * KVM sizes its PMU from our CPUID (leaf 0xA; AMD: PERFCTR_CORE
         * and leaf 0x80000022), capped at its own.
         */
        v->rdpmc_gp = MIN(cfg.nr_gp, kvm_gp);
        v->rdpmc_fixed = MIN(cfg.nr_fixed, kvm_fixed);
        if (v->rdpmc_gp < cfg.nr_gp || v->rdpmc_fixed < cfg.nr_fixed) {
            warn_report("vPMU: KVM's own PMU has %u GP and %u fixed "
                        "counters, fewer than the guest's %d and %d: "
                        "RDPMC of the others raises #GP", v->rdpmc_gp,
                        v->rdpmc_fixed, cfg.nr_gp, cfg.nr_fixed);
        }
        v->rdpmc_stale = true;
    }
    v->perf = backend;
    v->cs = CPU(cpu);
    v->release_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                    kvm_vpmu_release_timer, v);
    v->retry_timer = timer_new_ms(QEMU_CLOCK_REALTIME, kvm_vpmu_retry_timer,
                                  v);
    v->vm_state = qemu_add_vm_change_state_handler(kvm_vpmu_vm_state, v);
    if (kvm_vpmu_exact) {
        static bool said;

        if (!said) {
            said = true;
            info_report("vPMU: vpmu-exact=on: instructions retired (event "
                        "0xc0%s) and branches retired (%s umask 0x00) count "
                        "exactly; a vCPU single-steps while such a counter "
                        "runs, one exit per instruction (about 10^3 to 10^4 "
                        "times slower)", cfg.arch == VPMU_ARCH_AMD ? "" :
                        ", fixed counter 0", cfg.arch == VPMU_ARCH_AMD ?
                        "0xc2" : "0xc4");
        }
        v->exact = vpmu_exact_new(&vpmu_perf_ops, backend);
        vpmu_state_init(&v->state, &cfg, &vpmu_exact_ops, v->exact);
    } else {
        vpmu_state_init(&v->state, &cfg, &vpmu_perf_ops, backend);
    }
    if (lbr_hw) {
        v->lbr_hw = g_new(VPMULbrHw, 1);
        vpmu_lbr_hw_init(v->lbr_hw, &kvm_vpmu_lbr_hw_ops, v);
    }
    /* The single-step engine: exact counting, and the software LBR */
    if (kvm_vpmu_exact || (cfg.lbr.kind != VPMU_LBR_NONE && !lbr_hw)) {
        v->step = kvm_vpmu_step_new(cpu, v->exact,
                                    cfg.lbr.kind != VPMU_LBR_NONE &&
                                    !lbr_hw ? &v->state : NULL);
    }
    if (kvm_vpmu_has_filter) {
        vpmu_set_filter(&v->state, &kvm_vpmu_filter);
    }
    cpu->vpmu = &v->state;
    object_property_add(OBJECT(cpu), "x-vpmu-stats", "VPMUStats",
                        kvm_vpmu_get_stats, NULL, NULL, v);
    object_property_add(OBJECT(cpu), "x-vpmu-preempt", "uint64",
                        NULL, kvm_vpmu_set_preempt, NULL, v);
    if (cfg.lbr.kind != VPMU_LBR_NONE) {
        object_property_add(OBJECT(cpu), "x-vpmu-lbr-preempt", "bool",
                            NULL, kvm_vpmu_set_lbr_preempt, NULL, v);
    }
    kvm_vpmu_vm_arch = cfg.arch;
    return true;
}

/*
 * One MSR of KVM's, read or written host-initiated (KVM_GET/SET_MSRS are
 * not filtered).  Returns false when KVM refuses it.
 */
static bool kvm_vpmu_kvm_msr(X86CPU *cpu, uint32_t index, uint64_t *val,
                             bool write)
{
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[1];
    } msrs = {
        .info.nmsrs = 1,
        .entries[0] = { .index = index, .data = *val },
    };
    int ret = kvm_vcpu_ioctl(CPU(cpu), write ? KVM_SET_MSRS : KVM_GET_MSRS,
                             &msrs);

    if (ret != 1) {
        return false;
    }
    *val = msrs.entries[0].data;
    return true;
}

/* IA32_DEBUGCTL bits that are KVM's (SDM vol. 4). */
#define DEBUGCTL_LBR                (1ULL << 0)
#define DEBUGCTL_BTF                (1ULL << 1)
#define DEBUGCTL_BUS_LOCK_DETECT    (1ULL << 2)
#define DEBUGCTL_RTM_DEBUG          (1ULL << 15)

/*
 * IA32_DEBUGCTL is shared: its PMU bits (freeze on PMI) are the model's,
 * the rest KVM's.  We give KVM the guest's bits with a host-initiated
 * write, which KVM checks only against the host (vmx.c,
 * vmx_get_supported_debugctl(vcpu, host_initiated)): so the guest gets
 * here what KVM lets a guest write, by the guest's CPUID.  Bus-lock
 * detection and RTM debugging with their CPUID bits.  LBR and BTF are
 * the model's with lbr=on; without, they are dropped, as KVM drops them
 * for a guest without LBR (VMX has no BTF, and KVM's LBR must not record
 * behind the model).  Every other bit raises #GP.
 */
static uint64_t kvm_vpmu_debugctl_allowed(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;
    uint64_t allowed = 0;

    if (env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_BUS_LOCK_DETECT) {
        allowed |= DEBUGCTL_BUS_LOCK_DETECT;
    }
    if (env->features[FEAT_7_0_EBX] & CPUID_7_0_EBX_RTM) {
        allowed |= DEBUGCTL_RTM_DEBUG;
    }
    return allowed;
}

static bool kvm_vpmu_kvm_debugctl(X86CPU *cpu, uint64_t *val, bool write)
{
    return kvm_vpmu_kvm_msr(cpu, VPMU_MSR_DEBUGCTL, val, write);
}

static bool kvm_vpmu_rdmsr(X86CPU *cpu, uint32_t msr, uint64_t *val)
{
    uint64_t kvm_part = 0, pmu_part;

    if (!cpu->vpmu) {
        /* A vCPU without our vPMU has no PMU MSRs: #GP. */
        return false;
    }
    kvm_vpmu(cpu)->msr_exits++;
    kvm_vpmu(cpu)->rdpmc_stale = true;
    if (msr == VPMU_MSR_DEBUGCTL) {
        if (!kvm_vpmu_kvm_debugctl(cpu, &kvm_part, false) ||
            !vpmu_msr_read(cpu->vpmu, msr, &pmu_part, false)) {
            return false;
        }
        *val = (kvm_part & kvm_vpmu_debugctl_allowed(cpu)) | pmu_part;
        return true;
    }
    if (kvm_vpmu(cpu)->lbr_hw) {
        vpmu_lbr_hw_before_read(kvm_vpmu(cpu)->lbr_hw, cpu->vpmu, msr);
    }
    return vpmu_msr_read(cpu->vpmu, msr, val, false);
}

static bool kvm_vpmu_wrmsr(X86CPU *cpu, uint32_t msr, uint64_t val)
{
    uint64_t old_pmu_part, kvm_part;
    uint64_t dropped, refused;
    bool ok;

    if (!cpu->vpmu) {
        return false;
    }
    /* The model's bits: freeze on PMI, and LBR and BTF with lbr=on */
    kvm_part = val & ~vpmu_debugctl_owned(cpu->vpmu);
    kvm_vpmu(cpu)->msr_exits++;
    kvm_vpmu(cpu)->rdpmc_stale = true;
    if (msr == VPMU_MSR_DEBUGCTL) {
        dropped = kvm_part & (DEBUGCTL_LBR | DEBUGCTL_BTF);
        refused = kvm_part & ~dropped & ~VPMU_DEBUGCTL_RESERVED &
                  ~kvm_vpmu_debugctl_allowed(cpu);
        if (refused) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR DEBUGCTL <- 0x%"
                          PRIx64 ": bits 0x%" PRIx64 " are not available "
                          "to this guest (#GP)\n", val, refused);
            return false;
        }
        if (dropped) {
            qemu_log_mask(LOG_UNIMP, "vpmu: WRMSR DEBUGCTL <- 0x%" PRIx64
                          ": LBR and BTF need lbr=on, bits 0x%" PRIx64
                          " ignored\n", val, dropped);
            kvm_part &= ~dropped;
        }
        /* The model checks the reserved bits before KVM sees anything. */
        vpmu_msr_read(cpu->vpmu, msr, &old_pmu_part, true);
        if (!vpmu_msr_write(cpu->vpmu, msr, val, false)) {
            return false;
        }
        /* DEBUGCTL.LBR while KVM's LBR records for us (until pre-run) */
        if (kvm_vpmu(cpu)->lbr_hw) {
            kvm_part |= vpmu_lbr_hw_debugctl(kvm_vpmu(cpu)->lbr_hw);
        }
        if (!kvm_vpmu_kvm_debugctl(cpu, &kvm_part, true)) {
            qemu_log_mask(LOG_GUEST_ERROR, "vpmu: WRMSR DEBUGCTL <- 0x%"
                          PRIx64 ": KVM refuses bits 0x%" PRIx64 " (#GP)\n",
                          val, kvm_part);
            vpmu_msr_write(cpu->vpmu, msr, old_pmu_part, true);
            return false;
        }
        return true;
    }
    ok = vpmu_msr_write(cpu->vpmu, msr, val, false);
    if (ok && kvm_vpmu(cpu)->lbr_hw) {
        vpmu_lbr_hw_written(kvm_vpmu(cpu)->lbr_hw, cpu->vpmu, msr);
    }
    /* The exit returns to the guest next: the host side must be current. */
    vpmu_sync(cpu->vpmu);
    kvm_vpmu_arm_release(kvm_vpmu(cpu));
    return ok;
}

/*
 * Runs in signal context on the vCPU thread.  An overflow sets
 * immediate_exit, which closes the window between QEMU's last look and
 * KVM_RUN: the vCPU leaves the guest (or does not enter it) and
 * kvm_vpmu_pre_run() sees the flag.  An error signal (a pinned event lost
 * its counter to host perf) does not hurry the vCPU out: nothing the
 * guest sees changes, and leaving the guest at each one would let a busy
 * host stall it.  It is looked at before the next entry.
 */
static void kvm_vpmu_signal_handler(int sig, siginfo_t *si, void *uc)
{
    if (vpmu_perf_signal_kind(si->si_code) == VPMU_PERF_SIGNAL_ERROR) {
        kvm_vpmu_error_signalled = 1;
        return;
    }
    kvm_vpmu_signalled = 1;
    if (current_cpu && current_cpu->kvm_run) {
        qatomic_set(&current_cpu->kvm_run->immediate_exit, 1);
    }
}

#define APIC_LVT_MASKED         (1u << 16)
#define APIC_LVT_DM(lvt)        (((lvt) >> 8) & 7)
#define APIC_DM_FIXED           0
#define APIC_DM_NMI             4
#define MSR_X2APIC_LVTPC        0x834
#define APIC_LVTPC_OFFSET       0x340

static bool kvm_vpmu_x2apic(X86CPU *cpu)
{
    return cpu_get_apic_base(cpu->apic_state) & MSR_IA32_APICBASE_EXTD;
}

/* The guest's LVTPC, from the in-kernel local APIC. */
static int kvm_vpmu_read_lvtpc(X86CPU *cpu, uint32_t *lvtpc)
{
    struct kvm_lapic_state lapic;
    uint64_t val = 0;
    int ret;

    if (kvm_vpmu_x2apic(cpu)) {
        ret = kvm_vpmu_kvm_msr(cpu, MSR_X2APIC_LVTPC, &val, false) ? 0
                                                                   : -EIO;
        *lvtpc = val;
        return ret;
    }
    ret = kvm_vcpu_ioctl(CPU(cpu), KVM_GET_LAPIC, &lapic);
    memcpy(lvtpc, &lapic.regs[APIC_LVTPC_OFFSET], sizeof(*lvtpc));
    return ret;
}

/*
 * An MSI with @vector aimed at the APIC @apic_id, physical destination.
 * Bits 7:0 of the ID go in address bits 19:12; APIC IDs above 255 (QEMU
 * gives them with the x2APIC API, KVM_X2APIC_API_USE_32BIT_IDS) need
 * bits 31:8 in address bits 63:40, i.e. address_hi 31:8, which is where
 * KVM reads them (x86_msi_msg_get_destid); KVM refuses a non-zero
 * address_hi 7:0 then.
 */
static MSIMessage kvm_vpmu_pmi_msi(uint32_t apic_id, uint8_t vector)
{
    return (MSIMessage) {
        .address = APIC_DEFAULT_ADDRESS | (apic_id & 0xff) << 12 |
                   (uint64_t)(apic_id & 0xffffff00) << 32,
        .data = vector,
    };
}

/*
 * Deliver the PMI the model asked for, as the guest's LVTPC says (SDM vol.
 * 3A, "Local Vector Table"): nothing while it is masked, an NMI, or its
 * fixed vector; then, like the APIC, set LVTPC's mask bit.
 *
 * The in-kernel APIC has no "deliver LVTPC" ioctl, so we inject by hand:
 * KVM_NMI, or an MSI with the vector aimed at this vCPU's APIC.  The mask
 * bit is the delicate part.  KVM_GET_LAPIC + KVM_SET_LAPIC would rewrite
 * the whole register page, IRR included, and lose any interrupt another
 * vCPU or device raised in between; so we set it only where the APIC has
 * a register-sized door: in x2APIC mode, a host-initiated write of the
 * LVTPC MSR.  In xAPIC mode the bit is left clear (documented): Linux's
 * handler rewrites LVTPC anyway, and a lost interrupt would be worse.
 */
static void kvm_vpmu_deliver_pmi(X86CPU *cpu)
{
    VPMUState *s = cpu->vpmu;
    uint32_t lvtpc;
    uint64_t masked;

    if (!kvm_irqchip_in_kernel()) {
        warn_report_once("vPMU: PMIs need the in-kernel irqchip; counter "
                         "overflows raise none");
        s->pmi_pending = false;
        return;
    }
    if (kvm_vpmu_read_lvtpc(cpu, &lvtpc) < 0) {
        return;                 /* try again before the next entry */
    }
    if (lvtpc & APIC_LVT_MASKED) {
        /*
         * SDM: a masked LVT entry does not deliver, and nothing latches.
         * The freeze is the PMU's, on the PMI request, whatever the LVT
         * does with it (as KVM's intel_pmu_deliver_pmi() freezes LBR
         * before kvm_apic_local_deliver()).
         */
        trace_vpmu_kvm_pmi(CPU(cpu)->cpu_index, lvtpc, false);
        s->pmi_pending = false;
        vpmu_pmi_delivered(s);
        vpmu_sync(s);
        return;
    }
    switch (APIC_LVT_DM(lvtpc)) {
    case APIC_DM_NMI:
        kvm_vcpu_ioctl(CPU(cpu), KVM_NMI);
        break;
    case APIC_DM_FIXED:
        kvm_irqchip_send_msi(kvm_state, kvm_vpmu_pmi_msi(cpu->apic_id,
                                                         lvtpc & 0xff));
        break;
    default:
        /* SMI, INIT, ExtINT: not what a PMU raises. */
        qemu_log_mask(LOG_GUEST_ERROR, "vpmu: LVTPC 0x%x has a delivery "
                      "mode a PMI cannot use; PMI dropped\n", lvtpc);
        s->pmi_pending = false;
        vpmu_pmi_delivered(s);
        vpmu_sync(s);
        return;
    }
    trace_vpmu_kvm_pmi(CPU(cpu)->cpu_index, lvtpc, true);
    kvm_vpmu(cpu)->pmis++;
    /* Intel's LAPIC masks the LVTPC as it delivers a PMI; AMD's does not */
    if (kvm_vpmu_x2apic(cpu) && vpmu_pmi_masks_lvtpc(s)) {
        masked = lvtpc | APIC_LVT_MASKED;
        kvm_vpmu_kvm_msr(cpu, MSR_X2APIC_LVTPC, &masked, true);
    }
    /* Freeze-on-PMI (DEBUGCTL): with the request, here as it is sent. */
    vpmu_pmi_delivered(s);
    vpmu_sync(s);
}

/* KVM's copy of a counter, which its RDPMC reads. */
static uint32_t kvm_vpmu_counter_msr(const VPMUConfig *cfg, bool fixed,
                                     unsigned idx)
{
    if (cfg->arch == VPMU_ARCH_AMD) {
        /* The core MSRs are KVM's with PERFCTR_CORE; else the K7 ones */
        return cfg->amd_perfctr_core ? VPMU_MSR_F15H_PERF_CTL0 + 2 * idx + 1
                                     : VPMU_MSR_K7_PERFCTR0 + idx;
    }
    return fixed ? VPMU_MSR_FIXED_CTR0 + idx : VPMU_MSR_PMC0 + idx;
}

/*
 * RDPMC coherence.  RDPMC never exits: KVM answers it from its own PMU's
 * counters, or raises #GP where KVM has no PMU.  Where it has one, we keep
 * its copy of each counter equal to ours with host-initiated KVM_SET_MSRS
 * (which the MSR filter does not see) before the vCPU re-enters the guest
 * after a PMU MSR exit, a PMI or an overflow signal, and whenever a
 * counter changed behind the guest's back (reset, migration).
 *
 * KVM's copy counts nothing by itself: the guest's event selector writes
 * come to us, so KVM's selectors stay 0 and its vPMU creates no perf event
 * and raises no PMI for this guest.  Between two pushes a running
 * counter's RDPMC value lags by what it counted since the last PMU exit;
 * guests that read at PMIs and around their own PMU MSR writes (Linux's
 * x86_perf_event_update) see current values.  See the docs.
 */
static void kvm_vpmu_push_rdpmc(X86CPU *cpu)
{
    KVMVPMU *v = kvm_vpmu(cpu);
    struct {
        struct kvm_msrs info;
        struct kvm_msr_entry entries[VPMU_MAX_COUNTERS];
    } msrs = { 0 };
    unsigned i, n = 0;
    int ret;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        bool fixed = i >= VPMU_MAX_GP;
        unsigned idx = fixed ? i - VPMU_MAX_GP : i;
        uint64_t value;

        if (idx >= (fixed ? v->rdpmc_fixed : v->rdpmc_gp)) {
            continue;
        }
        /*
         * A running counter is folded (a read) only after a PMU exit or a
         * signal, not before every KVM_RUN; a stopped one is pushed when
         * its value changed (reset, migration).  After an exit, only
         * counters that may have counted since their last fold are read
         * (a stopped, folded one is exact without the host), and only
         * values KVM does not have yet are pushed.
         */
        if (!v->rdpmc_stale && (vpmu_slot_running(&v->state, i) ||
                                v->rdpmc_pushed[i] ==
                                vpmu_slot_folded_value(&v->state, i))) {
            continue;
        }
        value = vpmu_slot_current_value(&v->state, i);
        if (value == v->rdpmc_pushed[i]) {
            continue;
        }
        msrs.entries[n].index = kvm_vpmu_counter_msr(&v->state.cfg, fixed,
                                                     idx);
        msrs.entries[n++].data = value;
        v->rdpmc_pushed[i] = value;
    }
    v->rdpmc_stale = false;
    if (!n) {
        return;
    }
    msrs.info.nmsrs = n;
    v->rdpmc_pushes++;
    v->rdpmc_values += n;
    ret = kvm_vcpu_ioctl(v->cs, KVM_SET_MSRS, &msrs);
    if (ret != n) {
        warn_report("vPMU: KVM refused our counter values for RDPMC "
                    "(KVM_SET_MSRS: %d of %u); a guest RDPMC returns KVM's "
                    "stale copy from now on", ret, n);
        v->rdpmc_gp = v->rdpmc_fixed = 0;
    }
}

void kvm_vpmu_pre_run(X86CPU *cpu)
{
    KVMVPMU *v;

    if (!cpu->vpmu) {
        return;
    }
    v = kvm_vpmu(cpu);
    if (kvm_vpmu_signalled) {
        v->rdpmc_stale = true;
        kvm_vpmu_signalled = 0;
        vpmu_perf_note_signal(kvm_vpmu(cpu)->perf);
        /* Overflow status and PMI requests become current; re-arm. */
        trace_vpmu_kvm_overflow_signal(CPU(cpu)->cpu_index,
                                       vpmu_poll(cpu->vpmu));
    }
    if (kvm_vpmu_error_signalled) {
        kvm_vpmu_error_signalled = 0;
        vpmu_perf_note_error_signal(v->perf);
    }
    if (cpu->vpmu->pmi_pending) {
        kvm_vpmu_deliver_pmi(cpu);
    }
    /*
     * KVM's LBR records exactly while the model says the guest's does:
     * whatever changed that since the last entry (an MSR write, the
     * freeze at the PMI above, reclaim, reset, a load) is acted on here.
     */
    if (v->lbr_hw) {
        vpmu_lbr_hw_sync(v->lbr_hw, cpu->vpmu);
    }
    if (v->rdpmc_gp || v->rdpmc_fixed) {
        kvm_vpmu_push_rdpmc(cpu);
    }
    /* Whatever failed to open (guest write, restore, load): try again. */
    if (vpmu_perf_retry_waiting(v->perf) && !timer_pending(v->retry_timer)) {
        kvm_vpmu_arm_retry(v);
    }
    /* Last: the PMI above may be the instruction the engine decodes */
    if (v->step) {
        kvm_vpmu_step_pre_run(v->step);
    }
}

void kvm_vpmu_post_run(X86CPU *cpu, struct kvm_run *run)
{
    KVMVPMU *v;

    if (!cpu->vpmu || !kvm_vpmu(cpu)->step) {
        return;
    }
    v = kvm_vpmu(cpu);
    if (kvm_vpmu_step_post_run(v->step, run)) {
        /* An exact counter reached its period: the PMI goes in next */
        v->rdpmc_stale = true;
        trace_vpmu_kvm_overflow_signal(CPU(cpu)->cpu_index,
                                       vpmu_poll(cpu->vpmu));
    }
}

bool kvm_vpmu_debug_exit(X86CPU *cpu, struct kvm_run *run)
{
    return cpu->vpmu && kvm_vpmu(cpu)->step &&
           kvm_vpmu_step_debug_exit(kvm_vpmu(cpu)->step, run);
}

void kvm_vpmu_update_guest_debug(X86CPU *cpu, struct kvm_guest_debug *dbg)
{
    if (cpu->vpmu && kvm_vpmu(cpu)->step) {
        kvm_vpmu_step_guest_debug(kvm_vpmu(cpu)->step, dbg);
    }
}

void kvm_vpmu_regs_written(X86CPU *cpu)
{
    if (cpu->vpmu && kvm_vpmu(cpu)->step) {
        kvm_vpmu_step_regs_written(kvm_vpmu(cpu)->step);
    }
}

/* Once per process: the handler; per vCPU thread: unblock the signal. */
static void kvm_vpmu_init_signal(void)
{
    static bool handler_installed;
    sigset_t set;

    if (!handler_installed) {
        struct sigaction sa = {
            .sa_sigaction = kvm_vpmu_signal_handler,
            .sa_flags = SA_SIGINFO | SA_RESTART,
        };

        sigemptyset(&sa.sa_mask);
        sigaction(KVM_VPMU_SIGNAL, &sa, NULL);
        handler_installed = true;
    }
    sigemptyset(&set);
    sigaddset(&set, KVM_VPMU_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static gint kvm_vpmu_range_cmp(gconstpointer a, gconstpointer b)
{
    const VPMUMsrRange *x = a, *y = b;

    return x->base < y->base ? -1 : x->base > y->base;
}

/*
 * Blocks of the model's MSRs fewer than this many MSRs apart share one
 * filter range, whose bitmap leaves the MSRs between them to KVM: KVM
 * allows 16 ranges, QEMU takes up to 5 (MSR_CORE_THREAD_COUNT, RAPL), and
 * the PMU and LBR blocks make 7 ranges this way instead of 17.  Small
 * enough not to reach the MSRs of QEMU's own ranges (0x35, 0x606-0x641).
 */
#define KVM_VPMU_FILTER_MERGE 0x100

/* Route every MSR the model decodes to it, in as few ranges as is safe. */
static int kvm_vpmu_install_filter(KVMState *s, const VPMUMsrRange *ranges)
{
    g_autoptr(GArray) blocks = g_array_new(false, false,
                                           sizeof(VPMUMsrRange));
    const unsigned max = KVM_MSR_FILTER_MAX_BITMAP_SIZE * BITS_PER_BYTE;
    const VPMUMsrRange *r;
    unsigned i = 0, j, k;
    int ret;

    for (r = ranges; r->nmsrs; r++) {
        g_array_append_val(blocks, *r);
    }
    g_array_sort(blocks, kvm_vpmu_range_cmp);
    while (i < blocks->len) {
        const VPMUMsrRange *first = &g_array_index(blocks, VPMUMsrRange, i);
        uint32_t base = first->base, end = base + first->nmsrs;
        g_autofree unsigned long *allow = NULL;

        for (j = i + 1; j < blocks->len; j++) {
            r = &g_array_index(blocks, VPMUMsrRange, j);
            if (r->base - end >= KVM_VPMU_FILTER_MERGE ||
                r->base + r->nmsrs - base > max) {
                break;
            }
            end = MAX(end, r->base + r->nmsrs);
        }
        /*
         * Set: KVM handles it.  Clear: it exits to the model.  On x86
         * (little-endian) a bitmap's longs lay out as KVM's filter bytes.
         */
        allow = bitmap_new(end - base);
        bitmap_fill(allow, end - base);
        for (k = i; k < j; k++) {
            r = &g_array_index(blocks, VPMUMsrRange, k);
            bitmap_clear(allow, r->base - base, r->nmsrs);
        }
        ret = kvm_filter_msr_range(s, base, end - base, (uint8_t *)allow,
                                   kvm_vpmu_rdmsr, kvm_vpmu_wrmsr);
        trace_vpmu_kvm_filter_range(base, end - base, j - i, ret);
        if (ret < 0) {
            error_report("vPMU: cannot route MSRs 0x%x..0x%x to QEMU "
                         "(KVM_X86_SET_MSR_FILTER: %s); the host kernel needs "
                         "KVM_CAP_X86_USER_SPACE_MSR and free filter ranges",
                         base, end - 1, strerror(-ret));
            return ret;
        }
        i = j;
    }
    return 0;
}

/*
 * Architectural LBR is announced by CPUID.(7,0):EDX[19], which QEMU has
 * just given KVM (KVM_SET_CPUID2).  A KVM that answers the guest's CPUID
 * with a leaf 7 of its own (PVM does) hides it: the guest then sees no
 * architectural LBR although its MSRs work.  Read back what KVM kept and
 * say so, once per VM.
 */
static void kvm_vpmu_check_arch_lbr_cpuid(X86CPU *cpu)
{
    static bool warned;
    CPUState *cs = CPU(cpu);
    g_autofree struct kvm_cpuid2 *cpuid = NULL;
    int max = 256, i;
    bool seen = false;

    if (warned || kvm_vpmu(cpu)->state.lbr.cfg.kind != VPMU_LBR_ARCH) {
        return;
    }
    cpuid = g_malloc0(sizeof(*cpuid) + max * sizeof(cpuid->entries[0]));
    cpuid->nent = max;
    if (kvm_vcpu_ioctl(cs, KVM_GET_CPUID2, cpuid) < 0) {
        return;
    }
    for (i = 0; i < cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

        if (e->function == 7 && e->index == 0) {
            seen = e->edx & CPUID_7_0_EDX_ARCH_LBR;
        }
    }
    trace_vpmu_kvm_arch_lbr_cpuid(cs->cpu_index, seen);
    if (!seen) {
        warned = true;
        warn_report("vPMU: CPU %d: KVM dropped CPUID.(7,0):EDX[19] "
                    "(architectural LBR) from the guest's CPUID; the guest "
                    "will not find its LBR by CPUID, though its LBR MSRs "
                    "work.  Use model-specific LBR (arch-lbr=off)",
                    cs->cpu_index);
    }
}

int kvm_vpmu_init_vcpu(X86CPU *cpu)
{
    CPUState *cs = CPU(cpu);
    int ret;

    if (!cpu->vpmu) {
        return 0;
    }
    /* Runs on the vCPU thread: this is the thread whose work we count. */
    kvm_vpmu_init_signal();
    vpmu_perf_attach(kvm_vpmu(cpu)->perf, cs->cpu_index, cs->thread_id,
                     cpu->env.tsc_khz, KVM_VPMU_SIGNAL);
    /* An incoming migration loads (and opens events) while stopped. */
    vpmu_perf_pause(kvm_vpmu(cpu)->perf, !runstate_is_running());
    kvm_vpmu_check_arch_lbr_cpuid(cpu);

    /* The filter is per VM; vCPU init is serialized by the BQL. */
    if (kvm_vpmu_filter_installed) {
        return 0;
    }
    ret = kvm_vpmu_install_filter(cs->kvm_state,
                                  vpmu_msr_ranges_of(&cpu->vpmu->cfg));
    kvm_vpmu_filter_installed = !ret;
    return ret;
}

void kvm_vpmu_reset_vcpu(X86CPU *cpu)
{
    if (cpu->vpmu) {
        vpmu_reset(cpu->vpmu);
        if (kvm_vpmu(cpu)->lbr_hw) {
            /* Not on the vCPU thread: the next pre-run stops KVM's LBR */
            vpmu_lbr_hw_forget(kvm_vpmu(cpu)->lbr_hw);
        }
        kvm_vpmu(cpu)->rdpmc_stale = true;
        /* KVM reset its copy too: push every counter again, whatever. */
        memset(kvm_vpmu(cpu)->rdpmc_pushed, 0xff,
               sizeof(kvm_vpmu(cpu)->rdpmc_pushed));
    }
}

void kvm_vpmu_destroy_vcpu(X86CPU *cpu)
{
    KVMVPMU *v;

    if (!cpu->vpmu) {
        return;
    }
    v = kvm_vpmu(cpu);
    object_property_del(OBJECT(cpu), "x-vpmu-stats");
    object_property_del(OBJECT(cpu), "x-vpmu-preempt");
    if (v->state.lbr.cfg.kind != VPMU_LBR_NONE) {
        object_property_del(OBJECT(cpu), "x-vpmu-lbr-preempt");
    }
    timer_free(v->release_timer);
    timer_free(v->retry_timer);
    qemu_del_vm_change_state_handler(v->vm_state);
    vpmu_release_all(&v->state);
    if (v->step) {
        /* Stepping ends with the vCPU; its debug control goes with it */
        kvm_vpmu_step_free(v->step);
    }
    if (v->exact) {
        vpmu_exact_free(v->exact);
    }
    g_free(v->lbr_hw);
    vpmu_perf_free(v->perf);
    cpu->vpmu = NULL;
    g_free(v);
}
