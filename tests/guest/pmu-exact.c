/*
 * qemu-vpmu test guest: exact instruction and branch counts
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * For QEMU started with -accel kvm,vpmu-exact=on -cpu host,pmu=on, which
 * counts INST_RETIRED (0xc0/00, fixed counter 0) and BR_INST_RETIRED
 * (0xc4/00) by single-stepping the guest: one per retired instruction, a
 * REP string instruction once, a faulting instruction not at all, HLT
 * once, handlers' instructions at their own CPL, and an overflow's PMI
 * before the very next instruction.
 *
 * Every count is a difference between two runs of one asm sequence with
 * N1 and N2 iterations: the instructions that start and stop counting,
 * the call, ring 3's way in and out are the same in both and cancel.
 * The measured sequences are asm functions below, so that every
 * instruction in them is known; the comments count them.
 *
 * -append no-bail=1 runs everything even when the counters do not count
 * (to debug this guest's own machinery on a plain QEMU); only=MASK runs
 * some of the sections listed in main() (bit n: section n).
 */
#include "libguest.h"

#define MSR_IA32_A_PMC0             0x4c1
#define MSR_IA32_PERF_CAPABILITIES  0x345
#define PERF_CAP_FW_WRITE           (1u << 13)
#define MSR_X2APIC_EOI              0x80b
#define MSR_X2APIC_SVR              0x80f
#define MSR_X2APIC_IRR0             0x820
#define MSR_X2APIC_LVTT             0x832
#define MSR_X2APIC_LVTPC            0x834
#define MSR_X2APIC_TMICT            0x838
#define MSR_X2APIC_TMCCT            0x839
#define MSR_X2APIC_TDCR             0x83e
#define LVTT_PERIODIC               (1u << 17)
#define TDCR_DIVIDE_1               0xb
#define EVTSEL_INT                  (1u << 20)
#define EVENT_BR_RETIRED            0xc4
#define FIXED0_OS                   1u
#define FIXED0_USR                  2u
#define FIXED0_PMI                  8u
#define PF_VECTOR                   14
#define NMI_VECTOR                  2
#define DB_VECTOR                   1
#define TIMER_VECTOR                0x40
#define PMI_VECTOR                  0x41
#define RFLAGS_TF                   0x100

#define INST_ALL  (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_INST_RETIRED)
#define INST_USR  (EVTSEL_EN | EVTSEL_USR | EVENT_INST_RETIRED)
#define INST_OS   (EVTSEL_EN | EVTSEL_OS | EVENT_INST_RETIRED)
#define BR_ALL    (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | EVENT_BR_RETIRED)

/* The handlers' lengths, as counted in the asm below. */
#define SKIP2_LEN                   3
#define TIMER_LEN                   12
#define DB_LEN                      14      /* the last one: one more */

#define PMI_SLED_LEN                2000
#define TF_SLED_LEN                 32
#define DB_MAX                      64
#define REP_MAX                     1024
#define TIMER_WAIT_CYCLES           5000000000ull   /* seconds of TSC */

#define STR_(x)                     #x
#define STR(x)                      STR_(x)

/*
 * Shared with the asm below, by name: not static, so that they keep it.
 * Volatile where a handler or ring 3 writes them behind C's back.
 */
volatile uint64_t user_n;               /* ring 3's input and output */
volatile uint64_t timer_irqs;           /* timer_handler's count */
volatile uint64_t pmi_count;            /* the PMI handlers' */
volatile uint64_t pmi_rip;              /* the PMI handlers' */
volatile uint64_t db_count;             /* db_handler's */
volatile uint64_t db_limit;             /* read by db_handler */
volatile uint64_t db_rips[DB_MAX];      /* db_handler's */
uint8_t rep_src[REP_MAX];
uint8_t rep_dst[REP_MAX];

static uint8_t user_stack[4096] __attribute__((aligned(16)));

/*
 * The measured sequences: void region_X(uint64_t n, uint64_t ctrl).
 * Each moves n to R8 and ctrl (GLOBAL_CTRL's enable bits) to R10, sets
 * up what does not depend on n, starts counting, runs, stops counting.
 */
#define START_COUNTING                                          \
    "mov $0x38f, %ecx\n\t"          /* GLOBAL_CTRL <- R10 */    \
    "mov %r10d, %eax\n\t"                                       \
    "mov %r10, %rdx\n\t"                                        \
    "shr $32, %rdx\n\t"                                         \
    "wrmsr\n\t"
#define STOP_COUNTING                                           \
    "mov $0x38f, %ecx\n\t"          /* GLOBAL_CTRL <- 0 */      \
    "xor %eax, %eax\n\t"                                        \
    "xor %edx, %edx\n\t"                                        \
    "wrmsr\n\t"
#define REGION(name)                                            \
    ".globl " #name "\n"                                        \
    #name ":\n\t"                                               \
    "mov %rdi, %r8\n\t"                                         \
    "mov %rsi, %r10\n\t"

typedef void region_fn(uint64_t n, uint64_t ctrl);
region_fn region_loop, region_branches, region_rep_movsb, region_gp,
          region_pf, region_hlt, region_pmi_sled, region_tf;
/*
 * Code labels in the asm below, not C functions: ring 3 code, raw
 * handlers (they end in IRETQ) and addresses in the NOP sleds.
 */
typedef void asm_label(void);
asm_label pmi_sled, pmi_sled_end, tf_sled;
asm_label user_loop, user_pf_loop, user_cpl_probe;
asm_label skip2_handler, timer_handler, pmi_handler, pmi_nmi_handler,
          db_handler;

asm(".pushsection .text\n\t"
    /* 2 per iteration: DEC, JNZ (the last one not taken, still one). */
    REGION(region_loop)
    START_COUNTING
    "1: dec %r8\n\t"
    "jnz 1b\n\t"
    STOP_COUNTING
    "ret\n\t"

    /*
     * 7 instructions per iteration (CMP, JNE, CALL, RET, JMP *, DEC,
     * JNZ), 5 of them branches: JNE (never taken: CMP of a register
     * with itself sets ZF), CALL, RET, the indirect JMP, JNZ.
     */
    REGION(region_branches)
    "lea 3f(%rip), %r9\n\t"
    START_COUNTING
    "1: cmp %r8, %r8\n\t"
    "jne 4f\n\t"
    "call 5f\n\t"
    "jmp *%r9\n\t"
    "ud2\n"
    "3: dec %r8\n\t"
    "jnz 1b\n\t"
    "jmp 6f\n"
    "5: ret\n"
    "4: ud2\n"
    "6:\n\t"
    STOP_COUNTING
    "ret\n\t"

    /* One REP MOVSB of n bytes: one instruction, whatever n. */
    REGION(region_rep_movsb)
    "lea rep_src(%rip), %rsi\n\t"
    "lea rep_dst(%rip), %rdi\n\t"
    "cld\n\t"
    START_COUNTING
    "mov %r8, %rcx\n\t"
    "rep movsb\n\t"
    STOP_COUNTING
    "ret\n\t"

    /*
     * WRMSR to MSR 0x12345, which does not exist: #GP, to skip2_handler
     * (3 instructions).  5 per iteration: the handler's 3, DEC, JNZ;
     * the faulting WRMSR does not retire.
     */
    REGION(region_gp)
    START_COUNTING
    "mov $0x12345, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n"
    "1: wrmsr\n\t"                  /* 0f 30: 2 bytes */
    "dec %r8\n\t"
    "jnz 1b\n\t"
    STOP_COUNTING
    "ret\n\t"

    /*
     * A load from 4 GiB, which boot.S does not map: #PF, to
     * skip2_handler.  5 per iteration, as for #GP.
     */
    REGION(region_pf)
    "movabs $0x100000000, %rsi\n\t"
    START_COUNTING
    "1: mov (%rsi), %eax\n\t"       /* 8b 06: 2 bytes */
    "dec %r8\n\t"
    "jnz 1b\n\t"
    STOP_COUNTING
    "ret\n\t"

    /*
     * 5 per iteration (STI, HLT, CLI, DEC, JNZ), plus TIMER_LEN per
     * timer interrupt.  STI's shadow covers HLT, so the interrupt that
     * ends HLT is taken after it; interrupts are only taken in between
     * STI and CLI, while counting.
     */
    REGION(region_hlt)
    START_COUNTING
    "1: sti\n\t"
    "hlt\n\t"
    "cli\n\t"
    "dec %r8\n\t"
    "jnz 1b\n\t"
    STOP_COUNTING
    "ret\n\t"

    /* One-byte NOPs: the instruction after the K-th is at sled + K. */
    REGION(region_pmi_sled)
    START_COUNTING
    "pmi_sled:\n\t"
    ".rept " STR(PMI_SLED_LEN) "\n\t"
    "nop\n\t"
    ".endr\n"
    "pmi_sled_end:\n\t"
    STOP_COUNTING
    "ret\n\t"

    /*
     * The guest's own single-step: POPF sets TF, so the first #DB comes
     * after the first NOP (SDM vol. 3B, "Single-Step Exception
     * Condition"), then one after each instruction until db_handler
     * clears TF in its frame.  The NOPs after that run untrapped; the
     * second POPF clears TF in case db_handler never ran.
     */
    REGION(region_tf)
    START_COUNTING
    "pushfq\n\t"
    "orq $0x100, (%rsp)\n\t"
    "popfq\n"
    "tf_sled:\n\t"
    ".rept " STR(TF_SLED_LEN) "\n\t"
    "nop\n\t"
    ".endr\n\t"
    "pushfq\n\t"
    "andq $~0x100, (%rsp)\n\t"
    "popfq\n\t"
    STOP_COUNTING
    "ret\n\t"

    /* Ring 3: 2 per iteration, as region_loop's. */
    ".globl user_loop\n"
    "user_loop:\n\t"
    "mov user_n(%rip), %rcx\n"
    "1: dec %rcx\n\t"
    "jnz 1b\n\t"
    "jmp user_return\n\t"           /* user_exit() */

    /* Ring 3, #PF each iteration: 2 at CPL 3, SKIP2_LEN at CPL 0. */
    ".globl user_pf_loop\n"
    "user_pf_loop:\n\t"
    "mov user_n(%rip), %rcx\n\t"
    "movabs $0x100000000, %rsi\n"
    "1: mov (%rsi), %eax\n\t"       /* 8b 06: 2 bytes */
    "dec %rcx\n\t"
    "jnz 1b\n\t"
    "jmp user_return\n\t"

    /* Ring 3: what CPL run_user() gave us. */
    ".globl user_cpl_probe\n"
    "user_cpl_probe:\n\t"
    "mov %cs, %rax\n\t"
    "and $3, %eax\n\t"
    "mov %rax, user_n(%rip)\n\t"
    "jmp user_return\n\t"

    /*
     * #GP and #PF: drop the error code, skip the 2-byte faulting
     * instruction.  SKIP2_LEN = 3.
     */
    ".globl skip2_handler\n"
    "skip2_handler:\n\t"
    "add $8, %rsp\n\t"
    "addq $2, (%rsp)\n\t"
    "iretq\n\t"

    /* The LAPIC timer (x2APIC EOI).  TIMER_LEN = 12. */
    ".globl timer_handler\n"
    "timer_handler:\n\t"
    "push %rax\n\t"                 /* 1 */
    "push %rcx\n\t"                 /* 2 */
    "push %rdx\n\t"                 /* 3 */
    "incq timer_irqs(%rip)\n\t"     /* 4 */
    "mov $0x80b, %ecx\n\t"          /* 5 */
    "xor %eax, %eax\n\t"            /* 6 */
    "xor %edx, %edx\n\t"            /* 7 */
    "wrmsr\n\t"                     /* 8: EOI */
    "pop %rdx\n\t"                  /* 9 */
    "pop %rcx\n\t"                  /* 10 */
    "pop %rax\n\t"                  /* 11 */
    "iretq\n\t"                     /* 12 */

    /* The PMI, on a fixed vector: where it interrupted. */
    ".globl pmi_handler\n"
    "pmi_handler:\n\t"
    "push %rax\n\t"
    "push %rcx\n\t"
    "push %rdx\n\t"
    "mov 24(%rsp), %rax\n\t"        /* the frame's RIP */
    "mov %rax, pmi_rip(%rip)\n\t"
    "incq pmi_count(%rip)\n\t"
    "mov $0x80b, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"
    "pop %rdx\n\t"
    "pop %rcx\n\t"
    "pop %rax\n\t"
    "iretq\n\t"

    /* The PMI as an NMI: no EOI. */
    ".globl pmi_nmi_handler\n"
    "pmi_nmi_handler:\n\t"
    "push %rax\n\t"
    "mov 8(%rsp), %rax\n\t"
    "mov %rax, pmi_rip(%rip)\n\t"
    "incq pmi_count(%rip)\n\t"
    "pop %rax\n\t"
    "iretq\n\t"

    /*
     * #DB: record where it hit (the first DB_MAX), clear TF in the frame
     * at the db_limit-th.  DB_LEN = 14 instructions, 15 for the last.
     */
    ".globl db_handler\n"
    "db_handler:\n\t"
    "push %rax\n\t"                 /* 1 */
    "push %rcx\n\t"                 /* 2 */
    "mov db_count(%rip), %rax\n\t"  /* 3 */
    "cmp $" STR(DB_MAX) ", %rax\n\t" /* 4 */
    "jae 1f\n\t"                    /* 5 */
    "mov 16(%rsp), %rcx\n\t"        /* 6: the frame's RIP */
    "mov %rcx, db_rips(,%rax,8)\n"  /* 7 */
    "1: inc %rax\n\t"               /* 8 */
    "mov %rax, db_count(%rip)\n\t"  /* 9 */
    "cmp db_limit(%rip), %rax\n\t"  /* 10 */
    "jb 2f\n\t"                     /* 11 */
    "andq $~0x100, 32(%rsp)\n"      /* (12: the last only) the frame's TF */
    "2: pop %rcx\n\t"               /* 12 */
    "pop %rax\n\t"                  /* 13 */
    "iretq\n\t"                     /* 14 */
    ".popsection");

static unsigned version, nr_gp, gp_width, nr_fixed, fixed_width;
static bool fw_write, timer_ok;
static uint32_t timer_period;

static uint64_t width_mask(unsigned width)
{
    return width >= 64 ? ~0ull : (1ull << width) - 1;
}

/* GLOBAL_CTRL, with no ASM_TRY around it: inside measured regions. */
static inline void global_ctrl(uint64_t v)
{
    asm volatile("wrmsr" : : "c"(MSR_IA32_PERF_GLOBAL_CTRL),
                 "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/*
 * PMC0 <- @v (below 2^width).  Without full-width writes, PMC0 takes the
 * low 32 bits sign-extended, which is @v for the values we write: 0, or
 * 2^width - K for a small K.
 */
static void write_pmc0(uint64_t v)
{
    if (fw_write) {
        wrmsr(MSR_IA32_A_PMC0, v);
    } else {
        wrmsr(MSR_IA32_PMC0, (uint32_t)v);
    }
}

static void counters_off(void)
{
    global_ctrl(0);
    wrmsr(MSR_IA32_PERFEVTSEL0, 0);
    if (nr_fixed) {
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, 0);
    }
    wrmsr(MSR_IA32_PERF_GLOBAL_OVF_CTRL,
          (nr_fixed ? 1ull << 32 : 0) | width_mask(nr_gp));
}

struct sample {
    uint64_t gp, fixed;         /* PMC0 and FIXED_CTR0 after the run */
    uint64_t irqs;              /* timer interrupts taken during it */
};

/*
 * Run @fn(@n) with PMC0 counting @evtsel and fixed counter 0 as
 * @fixed_ctrl says (either may be 0: off), both from 0.
 */
static struct sample measure(region_fn *fn, uint64_t n, uint32_t evtsel,
                             unsigned fixed_ctrl)
{
    struct sample s = { 0 };
    uint64_t ctrl = 0;

    counters_off();
    write_pmc0(0);
    if (evtsel) {
        wrmsr(MSR_IA32_PERFEVTSEL0, evtsel);
        ctrl |= 1;
    }
    if (fixed_ctrl && nr_fixed) {
        wrmsr(MSR_IA32_FIXED_CTR0, 0);
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, fixed_ctrl);
        ctrl |= 1ull << 32;
    }
    timer_irqs = 0;
    fn(n, ctrl);
    s.irqs = timer_irqs;
    s.gp = rdmsr(MSR_IA32_PMC0);
    if (nr_fixed) {
        s.fixed = rdmsr(MSR_IA32_FIXED_CTR0);
    }
    counters_off();
    return s;
}

/* count(N2) - count(N1) == @want, with the raw numbers in the message. */
static void check_diff(uint64_t c1, uint64_t c2, uint64_t want,
                       const char *what, uint64_t n1, uint64_t n2)
{
    check(c2 - c1 == want, "%s: N=%lu: %lu, N=%lu: %lu, difference %ld, "
          "want %lu", what, n1, c1, n2, c2, (int64_t)(c2 - c1), want);
}

/* Ring 3 sequences, as region_fns: the same C around each run. */
static void region_user(uint64_t n, uint64_t ctrl)
{
    user_n = n;
    global_ctrl(ctrl);
    run_user(user_loop, user_stack + sizeof(user_stack));
    global_ctrl(0);
}

static void region_user_pf(uint64_t n, uint64_t ctrl)
{
    user_n = n;
    global_ctrl(ctrl);
    run_user(user_pf_loop, user_stack + sizeof(user_stack));
    global_ctrl(0);
}

/*
 * With the timer running: interrupts are enabled only while counting
 * (run_user() gives ring 3 our RFLAGS, IF included), so each one the
 * handler counts ran its TIMER_LEN instructions at CPL 0, counted.
 */
static void region_user_irq(uint64_t n, uint64_t ctrl)
{
    user_n = n;
    global_ctrl(ctrl);
    asm volatile("sti" : : : "memory");
    run_user(user_loop, user_stack + sizeof(user_stack));
    asm volatile("cli" : : : "memory");
    global_ctrl(0);
}

/* The LAPIC timer, in x2APIC mode; its clock is KVM's APIC bus clock. */
static void timer_periodic(uint32_t period)
{
    wrmsr(MSR_X2APIC_TDCR, TDCR_DIVIDE_1);
    wrmsr(MSR_X2APIC_LVTT, LVTT_PERIODIC | TIMER_VECTOR);
    wrmsr(MSR_X2APIC_TMICT, period);
}

/* Whether TIMER_VECTOR waits in the IRR (an RDMSR, so an exit). */
static bool timer_pending(void)
{
    return rdmsr(MSR_X2APIC_IRR0 + TIMER_VECTOR / 32) &
           1u << TIMER_VECTOR % 32;
}

static void timer_stop(void)
{
    uint64_t t0;
    unsigned i;

    wrmsr(MSR_X2APIC_TMICT, 0);
    wrmsr(MSR_X2APIC_LVTT, APIC_LVT_MASKED | TIMER_VECTOR);
    /*
     * One that fired before we stopped it: take it now, uncounted.  It
     * may still be on its way (KVM injects at its next entry): give it a
     * few periods' worth of TSC cycles (a TSC ticks at 1 GHz or more).
     */
    t0 = rdtsc();
    asm volatile("sti" : : : "memory");
    while (rdtsc() - t0 < 4ull * timer_period) {
        cpu_relax();
    }
    /*
     * Still pending, with IF set all along: this VMM injects it at its
     * next exit (KVM PVM hosts do; hardware would have taken it at STI).
     * Say so, then make exits: each RDMSR of the IRR is one.
     */
    if (timer_pending()) {
        guest_printf("# note: the timer's vector still waited in IRR %llu "
                     "TSC cycles after STI (injected at the next exit)\n",
                     4ull * timer_period);
        for (i = 0; i < 100 && timer_pending(); i++) {
            cpu_relax();
        }
    }
    asm volatile("cli" : : : "memory");
}

/*
 * The timer's period: an eighth of a counted ring-3 run of @n
 * iterations (timed on the masked timer itself), so that a few
 * interrupts hit each run, each one long after the handler returned
 * (a period shorter than the handler would starve the loop).
 */
static uint32_t timer_calibrate(uint64_t n)
{
    uint32_t t0, t1, period;

    wrmsr(MSR_X2APIC_TDCR, TDCR_DIVIDE_1);
    wrmsr(MSR_X2APIC_LVTT, APIC_LVT_MASKED | TIMER_VECTOR);
    wrmsr(MSR_X2APIC_TMICT, 0xffffffff);
    t0 = rdmsr(MSR_X2APIC_TMCCT);
    measure(region_user, n, INST_USR, 0);
    t1 = rdmsr(MSR_X2APIC_TMCCT);
    wrmsr(MSR_X2APIC_TMICT, 0);
    period = (t0 - t1) / 8;
    guest_printf("# timer: a run of %lu iterations took %u APIC ticks; "
                 "period %u\n", n, t0 - t1, period < 20000 ? 20000 : period);
    return period < 20000 ? 20000 : period;
}

/* Whether the timer interrupts at all: HLT below relies on it. */
static bool timer_works(void)
{
    uint64_t t0 = rdtsc();

    timer_irqs = 0;
    timer_periodic(timer_period);
    asm volatile("sti" : : : "memory");
    while (timer_irqs < 2 && rdtsc() - t0 < TIMER_WAIT_CYCLES) {
        cpu_relax();
    }
    asm volatile("cli" : : : "memory");
    timer_stop();
    return timer_irqs >= 2;
}

static void check_loops(void)
{
    const uint64_t n1 = 100, n2 = 1100;
    struct sample a, b;

    a = measure(region_loop, n1, INST_ALL, 0);
    b = measure(region_loop, n2, INST_ALL, 0);
    check_diff(a.gp, b.gp, 2 * (n2 - n1), "PMC0 INST_RETIRED USR|OS, "
               "DEC/JNZ loop: 2 per iteration", n1, n2);

    if (nr_fixed) {
        a = measure(region_loop, n1, 0, FIXED0_OS | FIXED0_USR);
        b = measure(region_loop, n2, 0, FIXED0_OS | FIXED0_USR);
        check_diff(a.fixed, b.fixed, 2 * (n2 - n1), "FIXED_CTR0 USR|OS, "
                   "DEC/JNZ loop: 2 per iteration", n1, n2);
    } else {
        check(true, "FIXED_CTR0 # SKIP the vPMU has no fixed counter");
    }

    a = measure(region_loop, n1, BR_ALL, 0);
    b = measure(region_loop, n2, BR_ALL, 0);
    check_diff(a.gp, b.gp, n2 - n1, "PMC0 BR_INST_RETIRED, DEC/JNZ loop: "
               "1 per iteration", n1, n2);
}

static void check_branches(void)
{
    const uint64_t n1 = 50, n2 = 550;
    struct sample a, b;

    a = measure(region_branches, n1, BR_ALL, FIXED0_OS | FIXED0_USR);
    b = measure(region_branches, n2, BR_ALL, FIXED0_OS | FIXED0_USR);
    check_diff(a.gp, b.gp, 5 * (n2 - n1), "PMC0 BR_INST_RETIRED, loop of "
               "CMP, JNE (not taken), CALL, RET, JMP *, DEC, JNZ: "
               "5 per iteration", n1, n2);
    if (nr_fixed) {
        check_diff(a.fixed, b.fixed, 7 * (n2 - n1), "FIXED_CTR0, the same "
                   "loop: 7 instructions per iteration", n1, n2);
    }
}

static void check_cpl(void)
{
    const uint64_t n1 = 100, n2 = 1100;
    struct sample a, b;

    a = measure(region_user, n1, INST_USR, 0);
    b = measure(region_user, n2, INST_USR, 0);
    check_diff(a.gp, b.gp, 2 * (n2 - n1), "PMC0 INST_RETIRED USR only, "
               "loop in ring 3: 2 per iteration", n1, n2);
    a = measure(region_user, n1, INST_OS, 0);
    b = measure(region_user, n2, INST_OS, 0);
    check_diff(a.gp, b.gp, 0, "PMC0 INST_RETIRED OS only, loop in ring 3: "
               "0 per iteration", n1, n2);
    a = measure(region_loop, n1, INST_OS, 0);
    b = measure(region_loop, n2, INST_OS, 0);
    check_diff(a.gp, b.gp, 2 * (n2 - n1), "PMC0 INST_RETIRED OS only, "
               "loop in ring 0: 2 per iteration", n1, n2);
    a = measure(region_loop, n1, INST_USR, 0);
    b = measure(region_loop, n2, INST_USR, 0);
    check_diff(a.gp, b.gp, 0, "PMC0 INST_RETIRED USR only, loop in ring 0: "
               "0 per iteration", n1, n2);
    if (nr_fixed) {
        a = measure(region_user, n1, 0, FIXED0_USR);
        b = measure(region_user, n2, 0, FIXED0_USR);
        check_diff(a.fixed, b.fixed, 2 * (n2 - n1), "FIXED_CTR0 USR only, "
                   "loop in ring 3: 2 per iteration", n1, n2);
    }
}

static void check_rep(void)
{
    struct sample z, a, b;

    z = measure(region_rep_movsb, 0, INST_ALL, 0);
    a = measure(region_rep_movsb, 16, INST_ALL, 0);
    b = measure(region_rep_movsb, REP_MAX, INST_ALL, 0);
    check_diff(a.gp, b.gp, 0, "REP MOVSB counts once, whatever RCX "
               "(N = bytes)", 16, REP_MAX);
    check_diff(z.gp, a.gp, 0, "REP MOVSB with RCX = 0 counts once too "
               "(N = bytes)", 0, 16);
}

/*
 * Faults handled by skip2_handler: the handler's instructions count,
 * the faulting one does not.
 */
static void check_faults(void)
{
    const uint64_t n1 = 20, n2 = 220;
    struct sample a, b;
    void *gp_old, *pf_old;
    unsigned gp_dpl, pf_dpl;

    gp_old = get_idt_raw(GP_VECTOR, &gp_dpl);
    pf_old = get_idt_raw(PF_VECTOR, &pf_dpl);
    set_idt_raw(GP_VECTOR, skip2_handler, 0);
    set_idt_raw(PF_VECTOR, skip2_handler, 0);

    a = measure(region_gp, n1, INST_ALL, 0);
    b = measure(region_gp, n2, INST_ALL, 0);
    check_diff(a.gp, b.gp, (2 + SKIP2_LEN) * (n2 - n1), "#GP (WRMSR to "
               "MSR 0x12345) each iteration: DEC, JNZ and the handler's 3, "
               "not the WRMSR: 5 per iteration", n1, n2);

    a = measure(region_pf, n1, INST_ALL, 0);
    b = measure(region_pf, n2, INST_ALL, 0);
    check_diff(a.gp, b.gp, (2 + SKIP2_LEN) * (n2 - n1), "#PF (load from "
               "unmapped 4 GiB) each iteration: DEC, JNZ and the handler's "
               "3, not the load: 5 per iteration", n1, n2);

    a = measure(region_user_pf, n1, INST_USR, 0);
    b = measure(region_user_pf, n2, INST_USR, 0);
    check_diff(a.gp, b.gp, 2 * (n2 - n1), "#PF in ring 3 each iteration, "
               "USR only: DEC, JNZ: 2 per iteration", n1, n2);
    a = measure(region_user_pf, n1, INST_OS, 0);
    b = measure(region_user_pf, n2, INST_OS, 0);
    check_diff(a.gp, b.gp, SKIP2_LEN * (n2 - n1), "#PF in ring 3 each "
               "iteration, OS only: the handler's 3 per iteration", n1, n2);

    /* libguest's gates back (a test of get_idt_raw() too). */
    set_idt_raw(GP_VECTOR, gp_old, gp_dpl);
    set_idt_raw(PF_VECTOR, pf_old, pf_dpl);
}

#define TIMER_N1 500
#define TIMER_N2 2500

/* The timer's period and whether it works, found once. */
static void timer_setup(void)
{
    if (!timer_period) {
        timer_period = timer_calibrate(TIMER_N2);
        timer_ok = timer_works();
    }
}

static void check_timer(void)
{
    const uint64_t n1 = TIMER_N1, n2 = TIMER_N2;
    struct sample a, b;

    timer_setup();
    if (!timer_ok) {
        check(false, "the LAPIC timer interrupts (%lu in %llu TSC cycles, "
              "period %u)", timer_irqs, TIMER_WAIT_CYCLES, timer_period);
        return;
    }

    timer_periodic(timer_period);
    a = measure(region_user_irq, n1, INST_OS, 0);
    b = measure(region_user_irq, n2, INST_OS, 0);
    timer_stop();
    check(b.irqs > 0 && b.gp - a.gp == (b.irqs - a.irqs) * TIMER_LEN,
          "timer interrupts in a ring-3 loop, OS only: %u per interrupt: "
          "N=%lu: %lu (%lu interrupts), N=%lu: %lu (%lu interrupts), "
          "difference %ld, want %ld", TIMER_LEN, n1, a.gp, a.irqs, n2, b.gp,
          b.irqs, (int64_t)(b.gp - a.gp),
          (int64_t)((b.irqs - a.irqs) * TIMER_LEN));

    timer_periodic(timer_period);
    a = measure(region_user_irq, n1, INST_USR, 0);
    b = measure(region_user_irq, n2, INST_USR, 0);
    timer_stop();
    check(b.irqs > 0 && b.gp - a.gp == 2 * (n2 - n1), "timer interrupts "
          "in a ring-3 loop, USR only: 2 per iteration: N=%lu: %lu (%lu "
          "interrupts), N=%lu: %lu (%lu interrupts), difference %ld, "
          "want %lu", n1, a.gp, a.irqs, n2, b.gp, b.irqs,
          (int64_t)(b.gp - a.gp), 2 * (n2 - n1));
}

/*
 * An overflow K instructions after counting starts: the PMI's RIP.
 * @fixed: fixed counter 0 with an NMI, else PMC0 on PMI_VECTOR.
 */
static uint64_t pmi_after(uint64_t k, bool fixed)
{
    uint64_t ctrl;

    counters_off();
    pmi_count = 0;
    pmi_rip = 0;
    timer_irqs = 0;
    if (fixed) {
        wrmsr(MSR_IA32_FIXED_CTR0, (width_mask(fixed_width) + 1 - k) &
              width_mask(fixed_width));
        wrmsr(MSR_IA32_FIXED_CTR_CTRL, FIXED0_OS | FIXED0_USR | FIXED0_PMI);
        wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_NMI);
        ctrl = 1ull << 32;
    } else {
        write_pmc0((width_mask(gp_width) + 1 - k) & width_mask(gp_width));
        wrmsr(MSR_IA32_PERFEVTSEL0, INST_ALL | EVTSEL_INT);
        wrmsr(MSR_X2APIC_LVTPC, PMI_VECTOR);
        ctrl = 1;
    }
    asm volatile("sti" : : : "memory");
    region_pmi_sled(0, ctrl);
    asm volatile("cli" : : : "memory");
    counters_off();
    wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    return pmi_rip;
}

static void check_pmi_one(bool fixed)
{
    const uint64_t k1 = 100, k2 = 1100;
    uint64_t r1, r2, p1, p2, i1, i2;
    const char *what = fixed ? "FIXED_CTR0 overflow, PMI as NMI" :
                       "PMC0 overflow, PMI on a fixed vector";

    r1 = pmi_after(k1, fixed);
    p1 = pmi_count;
    i1 = timer_irqs;
    r2 = pmi_after(k2, fixed);
    p2 = pmi_count;
    i2 = timer_irqs;
    check(p1 == 1 && p2 == 1 && i1 == 0 && i2 == 0 && r2 - r1 == k2 - k1 &&
          r1 > (uint64_t)pmi_sled && r2 <= (uint64_t)pmi_sled_end,
          "%s, no skid: K=%lu: PMI at sled+%ld (%lu PMIs), K=%lu: at "
          "sled+%ld (%lu PMIs), difference %ld, want %lu (stray timer "
          "interrupts: %lu, %lu)", what, k1,
          (int64_t)(r1 - (uint64_t)pmi_sled), p1, k2,
          (int64_t)(r2 - (uint64_t)pmi_sled), p2, (int64_t)(r2 - r1),
          k2 - k1, i1, i2);
}

static void check_pmi(void)
{
    void *nmi_old;
    unsigned nmi_dpl;

    check_pmi_one(false);
    if (!nr_fixed) {
        check(true, "FIXED_CTR0 overflow # SKIP the vPMU has no fixed "
              "counter");
        return;
    }
    nmi_old = get_idt_raw(NMI_VECTOR, &nmi_dpl);
    set_idt_raw(NMI_VECTOR, pmi_nmi_handler, 0);
    check_pmi_one(true);
    set_idt_raw(NMI_VECTOR, nmi_old, nmi_dpl);
}

static void check_hlt(void)
{
    const uint64_t n1 = 3, n2 = 13;
    struct sample a, b;

    timer_setup();
    if (!timer_ok) {
        check(false, "HLT: not run, the LAPIC timer does not interrupt "
              "(nothing would end HLT)");
        return;
    }
    timer_periodic(timer_period);
    a = measure(region_hlt, n1, INST_ALL, 0);
    b = measure(region_hlt, n2, INST_ALL, 0);
    timer_stop();
    check(b.gp - a.gp == 5 * (n2 - n1) + (b.irqs - a.irqs) * TIMER_LEN,
          "STI; HLT; CLI loop woken by the timer: 5 per iteration (HLT "
          "once) + %u per interrupt: N=%lu: %lu (%lu interrupts), N=%lu: "
          "%lu (%lu interrupts), difference %ld, want %ld", TIMER_LEN, n1,
          a.gp, a.irqs, n2, b.gp, b.irqs, (int64_t)(b.gp - a.gp),
          (int64_t)(5 * (n2 - n1) + (b.irqs - a.irqs) * TIMER_LEN));
}

/* The guest's own TF: @m single-step #DBs, then db_handler clears TF. */
static struct sample tf_run(uint64_t m, bool *one_per_insn)
{
    struct sample s;
    uint64_t i, seen;

    db_count = 0;
    db_limit = m;
    s = measure(region_tf, 0, INST_ALL, 0);
    *one_per_insn = db_count == m;
    seen = db_count < m ? db_count : m;     /* m <= DB_MAX */
    for (i = 0; i < seen; i++) {
        if (db_rips[i] != (uint64_t)tf_sled + 1 + i) {
            *one_per_insn = false;
        }
    }
    return s;
}

static void check_tf(void)
{
    const uint64_t m1 = 4, m2 = 20;
    struct sample a, b;
    bool ok1, ok2;
    void *db_old;
    unsigned db_dpl;

    db_old = get_idt_raw(DB_VECTOR, &db_dpl);
    set_idt_raw(DB_VECTOR, db_handler, 0);
    a = tf_run(m1, &ok1);
    check(ok1, "guest TF: one #DB after each instruction, as on bare "
          "hardware: %lu #DBs for %lu steps, first at sled+%ld", db_count,
          m1, db_count ? (int64_t)(db_rips[0] - (uint64_t)tf_sled) : -1);
    b = tf_run(m2, &ok2);
    check(ok2, "guest TF: one #DB after each instruction, as on bare "
          "hardware: %lu #DBs for %lu steps, first at sled+%ld", db_count,
          m2, db_count ? (int64_t)(db_rips[0] - (uint64_t)tf_sled) : -1);
    set_idt_raw(DB_VECTOR, db_old, db_dpl);
    check_diff(a.gp, b.gp, DB_LEN * (m2 - m1), "guest TF: " STR(DB_LEN)
               " per #DB handled (the NOPs run in both; N = #DBs)", m1, m2);
}

/* In order; -append only=MASK runs those whose bit (1 << index) is set. */
static const struct {
    void (*fn)(void);
    const char *what;
} sections[] = {
    { check_loops, "0: loops, instructions and branches" },
    { check_branches, "1: branches of every kind" },
    { check_cpl, "2: USR and OS" },
    { check_rep, "3: REP MOVSB" },
    { check_faults, "4: #GP and #PF handled" },
    { check_timer, "5: timer interrupts in ring 3" },
    { check_pmi, "6: PMI without skid" },
    { check_hlt, "7: HLT woken by the timer (a hang: no wake-up)" },
    { check_tf, "8: the guest's own TF" },
};

static void __attribute__((noreturn)) bail(const char *why)
{
    guest_printf("Bail out! %s: this guest needs QEMU started with "
                 "-accel kvm,vpmu-exact=on -cpu host,pmu=on\n", why);
    guest_exit(2);
}

int main(void)
{
    uint32_t a, b, c, d;
    bool no_bail = cmdline_uint("no-bail", 0);
    uint64_t only = cmdline_uint("only", ~0ull);
    struct sample s;
    unsigned i;

    guest_printf("# pmu-exact: exact INST_RETIRED and BR_INST_RETIRED\n");
    cpuid(0xa, 0, &a, &b, &c, &d);
    version = a & 0xff;
    nr_gp = a >> 8 & 0xff;
    gp_width = a >> 16 & 0xff;
    nr_fixed = version >= 2 ? d & 0x1f : 0;
    fixed_width = d >> 5 & 0xff;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 15)) {               /* PDCM: PERF_CAPABILITIES */
        fw_write = rdmsr(MSR_IA32_PERF_CAPABILITIES) & PERF_CAP_FW_WRITE;
    }
    guest_printf("# PMU v%u: %u GP counters of %u bits, %u fixed of %u "
                 "bits, full-width writes %s\n", version, nr_gp, gp_width,
                 nr_fixed, fixed_width, fw_write ? "yes" : "no");
    if (version < 2 || nr_gp < 1) {
        bail("no architectural PMU v2 with a GP counter (CPUID.0AH)");
    }
    if (!(c & (1u << 21)) || !apic_enable_x2apic()) {
        bail("no x2APIC, which the handlers here use for EOI");
    }

    /* Nothing but our LAPIC timer: the 8259s masked, the APIC enabled. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    wrmsr(MSR_X2APIC_SVR, 0x1ff);
    wrmsr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    set_idt_raw(TIMER_VECTOR, timer_handler, 0);
    set_idt_raw(PMI_VECTOR, pmi_handler, 0);

    s = measure(region_loop, 100, INST_ALL, 0);
    guest_printf("# a loop of 100 iterations: INST_RETIRED = %lu\n", s.gp);
    if (s.gp == 0 && !no_bail) {
        bail("INST_RETIRED does not count (0 for 200 instructions)");
    }
    user_n = 0;
    run_user(user_cpl_probe, user_stack + sizeof(user_stack));
    if (user_n != 3) {
        guest_printf("Bail out! run_user() ran at CPL %lu, not 3\n", user_n);
        guest_exit(2);
    }

    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (only & (1u << i)) {
            /* Where a hang would be (HLT relies on the VMM's wake-up). */
            guest_printf("# %s\n", sections[i].what);
            sections[i].fn();
        }
    }
    return 0;
}
