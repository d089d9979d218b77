/*
 * qemu-vpmu test guests: a tiny freestanding runtime
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Output goes to COM1; the guest ends QEMU through isa-debug-exit at port
 * 0xf4, which exits QEMU with status (code << 1) | 1.  Checks print
 * TAP lines ("ok N - ..." / "not ok N - ...") that the host runner counts.
 */
#ifndef LIBGUEST_H
#define LIBGUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEBUG_EXIT_PORT 0xf4

void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_exit(int code) __attribute__((noreturn));
/* Wait for one byte on COM1: lets a host script pace the guest. */
uint8_t serial_getc(void);
/* Whether a byte waits on COM1 (serial_getc() would not block). */
bool serial_ready(void);

/* TAP-style checks; guest_done() exits 0 when all passed. */
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void guest_done(void) __attribute__((noreturn));
int main(void);

static inline void outb(uint16_t port, uint8_t v)
{
    asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
    asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo | (uint64_t)hi << 32;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a,
                         uint32_t *b, uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(sub));
}

/*
 * The vector of the last exception caught by an ASM_TRY, or -1.  An
 * ASM_TRY(label) records the next instruction in .ex_table: if it faults,
 * the handler resumes at @label instead of failing the test.
 */
extern volatile int exception_vector;
#define NO_EXCEPTION (-1)

#define ASM_TRY(catch)                                      \
    "movl $-1, exception_vector(%%rip)\n\t"                 \
    ".pushsection .ex_table, \"a\"\n\t"                     \
    ".quad 1111f, " catch "\n\t"                            \
    ".popsection\n\t"                                       \
    "1111:"

/* RDMSR/WRMSR that return the exception vector (#GP = 13) or -1. */
static inline int rdmsr_safe(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;

    asm volatile(ASM_TRY("1f") "rdmsr\n\t1:"
                 : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *val = lo | (uint64_t)hi << 32;
    return exception_vector;
}

static inline int wrmsr_safe(uint32_t msr, uint64_t val)
{
    asm volatile(ASM_TRY("1f") "wrmsr\n\t1:"
                 : : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
                 : "memory");
    return exception_vector;
}

/*
 * The kernel command line (-append), as "key=value" words.  Returns the
 * value of @key, or @def when it is absent.
 */
uint64_t cmdline_uint(const char *key, uint64_t def);

/*
 * Interrupts and NMIs: a handler for vector @vec (2 = NMI; 32 has an
 * entry stub too).  The handler gets the vector; returning resumes.
 */
void set_irq_handler(unsigned vec, void (*fn)(unsigned vec));

/*
 * Raw IDT gates: @handler gets the CPU's own frame (error code, if the
 * vector has one, then RIP, CS, RFLAGS, RSP, SS), no stub in between,
 * and must end in IRETQ.  Tests use them where they need to know every
 * instruction a handler executes.  @dpl is the gate's DPL: 3 lets INT n
 * reach it from ring 3 (exceptions and interrupts ignore it).  The IDT
 * is shared by every CPU.
 *
 * get_idt_raw() returns vector @vec's handler (NULL if its gate is not
 * present) and its DPL in *@dpl (when @dpl is not NULL); restore_idt()
 * puts back libguest's own gate for @vec, or an absent one.
 */
void set_idt_raw(unsigned vec, void *handler, unsigned dpl);
void *get_idt_raw(unsigned vec, unsigned *dpl);
void restore_idt(unsigned vec);

/*
 * Ring 3.  The GDT has 64-bit user code and data segments, each CPU a
 * TSS (its RSP0 set by run_user()) and the identity map is user
 * accessible, so ring 3 runs the image's own code and data.
 *
 * run_user() enters ring 3 at @fn with RSP at @user_stack_top (rounded
 * down to 16, minus a return address) and RFLAGS as the caller has them,
 * IF included.  It returns, in ring 0, when @fn calls user_exit() or
 * returns.  Interrupts and exceptions taken in ring 3 run on the
 * caller's stack, below run_user()'s frame, through the usual handlers
 * (exception_handler(), set_irq_handler(), ASM_TRY, raw gates).  Ring 3
 * has IOPL 0: no port I/O (so no printf), no CLI/STI, no RDMSR.
 *
 * user_exit() jumps to libguest's user_return, whose INT3 libguest's
 * #BP gate (DPL 3) recognizes; ring 3 asm may "jmp user_return" too.
 * A test that replaces vector 3's gate (set_idt_raw()) must not leave
 * ring 3 while it is replaced.  Not SYSCALL or INT n: on KVM PVM hosts
 * SYSCALL from ring 3 stays in ring 3, INT imm8 raises #UD there and
 * hangs ring 0, and INT3 in ring 0 is a KVM emulation failure.  PVM
 * also shows ring 3 a CS of 0x33: test current_cpl(), not the selector.
 */
#define KERNEL_CS                   0x08
#define KERNEL_DS                   0x10
#define USER_DS                     0x23
#define USER_CS                     0x2b

void run_user(void (*fn)(void), void *user_stack_top);

static inline int current_cpl(void)
{
    uint16_t cs;

    asm volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 3;
}

/* user_exit() in ring 0: a bug, which this reports (and exits). */
void user_exit_stray(void) __attribute__((noreturn));

static inline void __attribute__((noreturn)) user_exit(void)
{
    if (current_cpl() != 3) {
        user_exit_stray();
    }
    asm volatile("jmp user_return" : : : "memory");
    __builtin_unreachable();
}

/* RDPMC that returns the exception vector (#GP = 13) or -1. */
static inline int rdpmc_safe(uint32_t counter, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;

    asm volatile(ASM_TRY("1f") "rdpmc\n\t1:"
                 : "+a"(lo), "+d"(hi) : "c"(counter) : "memory");
    *val = lo | (uint64_t)hi << 32;
    return exception_vector;
}

/* RDMSR/WRMSR that must not fault: a fault fails the guest loudly. */
uint64_t rdmsr(uint32_t msr);
void wrmsr(uint32_t msr, uint64_t val);

/* Run about @iterations of a short dependent loop. */
void busy_loop(uint64_t iterations);

/* Architectural PMU MSRs and bits used by the guests. */
#define MSR_IA32_PMC0               0xc1
#define MSR_IA32_PERFEVTSEL0        0x186
#define MSR_IA32_FIXED_CTR0         0x309
#define MSR_IA32_FIXED_CTR_CTRL     0x38d
#define MSR_IA32_PERF_GLOBAL_STATUS 0x38e
#define MSR_IA32_PERF_GLOBAL_CTRL   0x38f
#define MSR_IA32_PERF_GLOBAL_OVF_CTRL 0x390
#define MSR_CORE_THREAD_COUNT       0x35
#define EVTSEL_USR                  (1u << 16)
#define EVTSEL_OS                   (1u << 17)
#define EVTSEL_EN                   (1u << 22)
#define EVENT_CORE_CYCLES           0x3c
#define EVENT_REF_CYCLES            0x013c
#define EVENT_INST_RETIRED          0xc0
#define GP_VECTOR                   13

/*
 * Local APIC, in whichever mode this CPU's APIC is: xAPIC (MMIO at
 * 0xfee00000, which boot.S identity-maps) or x2APIC (MSR 0x800 + reg/16).
 * @reg is the xAPIC register offset.
 */
#define MSR_APIC_BASE               0x1b
#define APIC_BASE_EXTD              (1u << 10)
#define APIC_BASE_EN                (1u << 11)
#define APIC_ID                     0x20
#define APIC_EOI                    0xb0
#define APIC_SVR                    0xf0
#define APIC_ICR                    0x300
#define APIC_LVTPC                  0x340
#define APIC_LVT_MASKED             (1u << 16)
#define APIC_LVT_NMI                (4u << 8)

bool apic_x2apic(void);
/* Switch this CPU's APIC to x2APIC mode; false if the CPU has none. */
bool apic_enable_x2apic(void);
uint32_t apic_read(unsigned reg);
void apic_write(unsigned reg, uint32_t val);
uint32_t apic_id(void);
void apic_eoi(void);
/* Send an IPI: @icr is the ICR's low word (vector, delivery mode...). */
void apic_send_ipi(uint32_t dest_apic_id, uint32_t icr);

/*
 * SMP.  smp_start() wakes every other CPU that QEMU started with
 * (fw_cfg's CPU count) with INIT-SIPI-SIPI and runs @fn(cpu) on each,
 * cpu = 1, 2, ...; it returns how many answered.  smp_start_cpu() wakes
 * one CPU by APIC ID (a hot-plugged one) and returns its number or -1.
 * An AP's APIC mirrors the BSP's mode and is software-enabled; the AP
 * halts with interrupts enabled when @fn returns.
 *
 * Per-CPU data: index arrays with smp_cpu_id() (0 on the BSP).  printf
 * and check() take a lock, but ASM_TRY's exception_vector is global: do
 * not expect faults on two CPUs at once.
 */
#define MAX_CPUS                    8
#define AP_TRAMPOLINE_BASE          0x8000

int smp_start(void (*fn)(int cpu));
int smp_start_cpu(uint32_t apic_id, void (*fn)(int cpu));
int smp_cpu_id(void);
/* CPUs running now, the BSP included. */
int smp_num_cpus(void);
/* Wait until @n CPUs have called smp_barrier() with the same @n. */
void smp_barrier(int n);

/* The number of CPUs QEMU started (fw_cfg FW_CFG_NB_CPUS). */
unsigned fw_cfg_nb_cpus(void);

static inline void cpu_relax(void)
{
    asm volatile("pause" : : : "memory");
}

#endif
