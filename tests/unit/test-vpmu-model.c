/*
 * qemu-vpmu: unit tests of the register model, with a fake host backend
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each test names the SDM rule (vol. 3B, "Performance Monitoring") or the
 * design rule it checks.  The fake backend lets a test decide how much the
 * "host" counted and records what the model asked of it.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/i386/vpmu.h"

typedef struct FakeBackend {
    bool programmed[VPMU_MAX_COUNTERS];
    bool enabled[VPMU_MAX_COUNTERS];
    uint64_t count[VPMU_MAX_COUNTERS];
    VPMUHostEvent event[VPMU_MAX_COUNTERS];
    bool refuse;            /* program() fails, like an unsupported event */
    unsigned programs, enables, disables, releases;
} FakeBackend;

static bool fake_program(void *opaque, unsigned slot, const VPMUHostEvent *ev)
{
    FakeBackend *f = opaque;

    f->programs++;
    if (f->refuse) {
        return false;
    }
    f->programmed[slot] = true;
    f->enabled[slot] = false;
    f->count[slot] = 0;
    f->event[slot] = *ev;
    return true;
}

static void fake_set_enabled(void *opaque, unsigned slot, bool enabled)
{
    FakeBackend *f = opaque;

    g_assert_true(f->programmed[slot]);
    f->enabled[slot] = enabled;
    if (enabled) {
        f->enables++;
    } else {
        f->disables++;
    }
}

static uint64_t fake_read(void *opaque, unsigned slot)
{
    FakeBackend *f = opaque;

    return f->programmed[slot] ? f->count[slot] : 0;
}

static void fake_release(void *opaque, unsigned slot)
{
    FakeBackend *f = opaque;

    f->programmed[slot] = false;
    f->enabled[slot] = false;
    f->releases++;
}

static const VPMUBackendOps fake_ops = {
    .program = fake_program,
    .set_enabled = fake_set_enabled,
    .read = fake_read,
    .release = fake_release,
};

/* The "host" counts @n events on every running slot. */
static void fake_tick(FakeBackend *f, uint64_t n)
{
    unsigned i;

    for (i = 0; i < VPMU_MAX_COUNTERS; i++) {
        if (f->enabled[i]) {
            f->count[i] += n;
        }
    }
}

typedef struct Fixture {
    VPMUState s;
    FakeBackend f;
} Fixture;

static void fixture_setup(Fixture *t, gconstpointer data)
{
    VPMUConfig cfg;

    vpmu_config_default(&cfg);
    memset(&t->f, 0, sizeof(t->f));
    vpmu_state_init(&t->s, &cfg, &fake_ops, &t->f);
}

static void fixture_teardown(Fixture *t, gconstpointer data)
{
    vpmu_release_all(&t->s);
}

static uint64_t rd(Fixture *t, uint32_t msr)
{
    uint64_t v = 0xdeadbeef;

    g_assert_true(vpmu_msr_read(&t->s, msr, &v, false));
    return v;
}

static void wr(Fixture *t, uint32_t msr, uint64_t val)
{
    g_assert_true(vpmu_msr_write(&t->s, msr, val, false));
    vpmu_sync(&t->s);
}

static bool wr_gp(Fixture *t, uint32_t msr, uint64_t val)
{
    bool ok = vpmu_msr_write(&t->s, msr, val, false);

    vpmu_sync(&t->s);
    return !ok;
}

static bool rd_gp(Fixture *t, uint32_t msr)
{
    uint64_t v;

    return !vpmu_msr_read(&t->s, msr, &v, false);
}

#define EVTSEL_CYCLES (VPMU_EVTSEL_EN | VPMU_EVTSEL_USR | VPMU_EVTSEL_OS | \
                       VPMU_EVENT_CORE_CYCLES)

/* CPUID.0AH describes the configuration (SDM: "Architectural PMU"). */
static void test_cpuid(Fixture *t, gconstpointer data)
{
    uint32_t a, b, c, d;

    vpmu_cpuid_0xa(&t->s.cfg, &a, &b, &c, &d);
    g_assert_cmphex(a & 0xff, ==, 2);
    g_assert_cmphex((a >> 8) & 0xff, ==, 4);
    g_assert_cmphex((a >> 16) & 0xff, ==, 48);
    g_assert_cmphex(a >> 24, ==, 7);
    g_assert_cmphex(b, ==, 0);
    g_assert_cmphex(d & 0x1f, ==, 3);
    g_assert_cmphex((d >> 5) & 0xff, ==, 48);
}

/* SDM: IA32_PERF_GLOBAL_CTRL resets with one bit per GP counter set. */
static void test_reset_values(Fixture *t, gconstpointer data)
{
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_CTRL), ==, 0xf);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR_CTRL), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_PERFEVTSEL0), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 0);
}

/* SDM: a counter counts only with its EN bit and its GLOBAL_CTRL bit. */
static void test_enable_gating(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 0);

    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 100);

    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES & ~VPMU_EVTSEL_EN);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 100);
}

/* Design: toggling only enable bits never re-creates the host event. */
static void test_enable_fast_path(Fixture *t, gconstpointer data)
{
    int i;

    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    g_assert_cmpuint(t->f.programs, ==, 1);
    for (i = 0; i < 10; i++) {
        wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0);
        wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0xf);
        wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES & ~VPMU_EVTSEL_EN);
        wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    }
    g_assert_cmpuint(t->f.programs, ==, 1);
    g_assert_cmpuint(t->f.releases, ==, 0);
    g_assert_cmpuint(t->f.enables, ==, 21);
    g_assert_cmpuint(t->f.disables, ==, 20);
}

/* Design: a new event folds the old count and programs a new event. */
static void test_event_change_keeps_count(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 70);
    wr(t, VPMU_MSR_PERFEVTSEL0, VPMU_EVTSEL_EN | VPMU_EVTSEL_USR |
       VPMU_EVENT_INST_RETIRED);
    g_assert_cmpuint(t->f.programs, ==, 2);
    g_assert_cmphex(t->f.event[0].eventsel, ==,
                    VPMU_EVTSEL_USR | VPMU_EVENT_INST_RETIRED);
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 75);
}

/* SDM: writes to IA32_PMCx sign-extend bit 31 (then fit the width). */
static void test_pmc_write_sign_extends(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PMC0 + 1, 0x80000000);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0 + 1), ==, 0xffff80000000ULL);
    /* Bits 63:32 of the written value are ignored. */
    wr(t, VPMU_MSR_PMC0 + 1, 0x123456787fffffffULL);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0 + 1), ==, 0x7fffffff);
    wr(t, VPMU_MSR_PMC0 + 1, 0x12345678f0000000ULL);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0 + 1), ==, 0xfffff0000000ULL);
}

/* Design: a host-initiated write (migration) is not sign-extended. */
static void test_host_pmc_write(Fixture *t, gconstpointer data)
{
    uint64_t v;

    g_assert_true(vpmu_msr_write(&t->s, VPMU_MSR_PMC0, 0x123480000000ULL,
                                 true));
    g_assert_true(vpmu_msr_read(&t->s, VPMU_MSR_PMC0, &v, true));
    g_assert_cmphex(v, ==, 0x123480000000ULL);
}

/* Design: writing a count while counting never re-creates the event. */
static void test_value_write_while_counting(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 1000);
    wr(t, VPMU_MSR_PMC0, 10);
    fake_tick(&t->f, 5);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 15);
    g_assert_cmpuint(t->f.programs, ==, 1);
}

/* SDM: a counter wraps at its width and sets its GLOBAL_STATUS bit. */
static void test_overflow_sets_status(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PMC0 + 2, (uint32_t)-10);   /* sign-extends: 2^48 - 10 */
    wr(t, VPMU_MSR_PERFEVTSEL0 + 2, EVTSEL_CYCLES);
    fake_tick(&t->f, 9);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 0);
    fake_tick(&t->f, 3);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 1 << 2);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0 + 2), ==, 2);

    /* SDM: GLOBAL_OVF_CTRL clears status bits; the bit stays clear. */
    wr(t, VPMU_MSR_PERF_GLOBAL_OVF_CTRL, 1 << 2);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 0);
    fake_tick(&t->f, 3);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 0);
}

/* SDM: GLOBAL_STATUS is read-only to the guest. */
static void test_global_status_read_only(Fixture *t, gconstpointer data)
{
    g_assert_true(wr_gp(t, VPMU_MSR_PERF_GLOBAL_STATUS, 1));
    g_assert_true(vpmu_msr_write(&t->s, VPMU_MSR_PERF_GLOBAL_STATUS, 1,
                                 true));
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_STATUS), ==, 1);
}

/* SDM: reserved bits #GP (masks precomputed from the configuration). */
static void test_reserved_bits(Fixture *t, gconstpointer data)
{
    g_assert_true(wr_gp(t, VPMU_MSR_PERFEVTSEL0, 1ULL << 32));
    g_assert_true(wr_gp(t, VPMU_MSR_PERFEVTSEL0, VPMU_EVTSEL_ANY));  /* v2 */
    g_assert_true(wr_gp(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1 << 4));
    g_assert_true(wr_gp(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1ULL << 35));
    g_assert_true(wr_gp(t, VPMU_MSR_FIXED_CTR_CTRL, 0x4));   /* AnyThread */
    g_assert_true(wr_gp(t, VPMU_MSR_FIXED_CTR_CTRL, 0x1000));    /* ctr 3 */
    g_assert_true(wr_gp(t, VPMU_MSR_PERF_GLOBAL_OVF_CTRL, 1 << 5));
    g_assert_true(wr_gp(t, VPMU_MSR_FIXED_CTR0, 1ULL << 48));
    /* A refused write changes nothing. */
    g_assert_cmphex(rd(t, VPMU_MSR_PERFEVTSEL0), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_PERF_GLOBAL_CTRL), ==, 0xf);
    /* Bits that are not reserved are accepted. */
    g_assert_false(wr_gp(t, VPMU_MSR_PERF_GLOBAL_CTRL, 0x70000000fULL));
    g_assert_false(wr_gp(t, VPMU_MSR_FIXED_CTR_CTRL, 0xbbb));
    g_assert_false(wr_gp(t, VPMU_MSR_PERF_GLOBAL_OVF_CTRL,
                         VPMU_GLOBAL_OVF_BUF | VPMU_GLOBAL_COND_CHGD | 0xf));
}

/* SDM: MSRs of counters that are not configured #GP. */
static void test_absent_counters(Fixture *t, gconstpointer data)
{
    g_assert_true(rd_gp(t, VPMU_MSR_PMC0 + 4));
    g_assert_true(rd_gp(t, VPMU_MSR_PERFEVTSEL0 + 7));
    g_assert_true(rd_gp(t, VPMU_MSR_FIXED_CTR0 + 3));
    g_assert_true(wr_gp(t, VPMU_MSR_PMC0 + 4, 0));
    g_assert_true(wr_gp(t, VPMU_MSR_PERFEVTSEL0 + 4, 0));
    /* Version 2 has no GLOBAL_STATUS_SET / INUSE, no full-width writes. */
    g_assert_true(rd_gp(t, VPMU_MSR_PERF_GLOBAL_STATUS_SET));
    g_assert_true(rd_gp(t, VPMU_MSR_PERF_GLOBAL_INUSE));
    g_assert_true(wr_gp(t, VPMU_MSR_A_PMC0, 0));
    g_assert_true(vpmu_is_pmu_msr(VPMU_MSR_A_PMC0 + 7));
    g_assert_false(vpmu_is_pmu_msr(0x10));
}

/* SDM: a fixed counter counts when its CTRL field enables a ring. */
static void test_fixed_counter(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x30);       /* fixed 1: OS|USR */
    fake_tick(&t->f, 50);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0 + 1), ==, 0); /* global off */
    wr(t, VPMU_MSR_PERF_GLOBAL_CTRL, 1ULL << 33);
    fake_tick(&t->f, 50);
    g_assert_cmphex(rd(t, VPMU_MSR_FIXED_CTR0 + 1), ==, 50);
    g_assert_true(t->f.event[VPMU_MAX_GP + 1].fixed);
    g_assert_cmphex(t->f.event[VPMU_MAX_GP + 1].eventsel, ==,
                    VPMU_EVENT_CORE_CYCLES | VPMU_EVTSEL_OS | VPMU_EVTSEL_USR);
    /* Clearing and restoring the field is an enable toggle only. */
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0);
    wr(t, VPMU_MSR_FIXED_CTR_CTRL, 0x30);
    g_assert_cmpuint(t->f.programs, ==, 1);
}

/* Design: an event the host cannot count leaves the counter frozen. */
static void test_unsupported_event_frozen(Fixture *t, gconstpointer data)
{
    t->f.refuse = true;
    wr(t, VPMU_MSR_PMC0, 42);
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 100);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 42);
}

/* SDM: RESET restores power-up values; the host events are released. */
static void test_reset_releases(Fixture *t, gconstpointer data)
{
    wr(t, VPMU_MSR_PERFEVTSEL0, EVTSEL_CYCLES);
    fake_tick(&t->f, 10);
    vpmu_reset(&t->s);
    g_assert_false(t->f.programmed[0]);
    g_assert_cmphex(rd(t, VPMU_MSR_PMC0), ==, 0);
    g_assert_cmphex(rd(t, VPMU_MSR_PERFEVTSEL0), ==, 0);
}

static void test_config_check(void)
{
    VPMUConfig cfg;
    Error *err = NULL;

    vpmu_config_default(&cfg);
    g_assert_true(vpmu_config_check(&cfg, &error_abort));
    cfg.nr_gp = 9;
    g_assert_false(vpmu_config_check(&cfg, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "out of range 1..8"));
    error_free(err);
}

#define ADD(name, fn) \
    g_test_add("/vpmu/model/" name, Fixture, NULL, fixture_setup, fn, \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("cpuid", test_cpuid);
    ADD("reset-values", test_reset_values);
    ADD("enable-gating", test_enable_gating);
    ADD("enable-fast-path", test_enable_fast_path);
    ADD("event-change-keeps-count", test_event_change_keeps_count);
    ADD("pmc-write-sign-extends", test_pmc_write_sign_extends);
    ADD("host-pmc-write", test_host_pmc_write);
    ADD("value-write-while-counting", test_value_write_while_counting);
    ADD("overflow-sets-status", test_overflow_sets_status);
    ADD("global-status-read-only", test_global_status_read_only);
    ADD("reserved-bits", test_reserved_bits);
    ADD("absent-counters", test_absent_counters);
    ADD("fixed-counter", test_fixed_counter);
    ADD("unsupported-event-frozen", test_unsupported_event_frozen);
    ADD("reset-releases", test_reset_releases);
    g_test_add_func("/vpmu/model/config-check", test_config_check);
    return g_test_run();
}
