/*
 * qemu-vpmu test guests: a tiny freestanding runtime
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "libguest.h"
#include "boot.h"

#define COM1 0x3f8

volatile int exception_vector = NO_EXCEPTION;   /* set by the handler */
static unsigned checks_run, checks_failed;

/*
 * Per-CPU area, found through GS: smp_cpu_id() is one load, with no APIC
 * access (an APIC read is an exit, or a slow MMIO emulation).
 */
struct percpu {
    struct percpu *self;
    int cpu;
};
static struct percpu percpu[MAX_CPUS];

#define MSR_GS_BASE 0xc0000101

/*
 * printf and check() from several CPUs: one at a time, so lines do not
 * interleave.  The owner may nest (an exception while printing bails out
 * through printf).
 */
static volatile int print_owner = -1;
static int print_depth;

static void print_lock(void)
{
    int me = smp_cpu_id();

    if (print_owner == me) {
        print_depth++;
        return;
    }
    while (!__sync_bool_compare_and_swap(&print_owner, -1, me)) {
        cpu_relax();
    }
    print_depth = 1;
}

static void print_unlock(void)
{
    if (--print_depth == 0) {
        __atomic_store_n(&print_owner, -1, __ATOMIC_RELEASE);
    }
}

/* Exception frame as built by boot.S's vec_common. */
struct frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};


struct idt_entry {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
/* What idt_init() installed, for restore_idt(). */
static struct idt_entry idt_default[256];

/* The 64-bit TSS (SDM vol. 3A, "Task Management in 64-bit Mode"). */
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss[MAX_CPUS] __attribute__((aligned(16)));

/*
 * boot.S's ring 3 entry and the #BP gate that also leaves it (declared
 * through typedefs: checkpatch takes prototypes in a .c for externs).
 */
typedef void run_user_asm_fn(void (*fn)(void), void *user_stack_top,
                             void *tss_rsp0);
typedef void asm_entry_fn(void);
run_user_asm_fn run_user_asm;
asm_entry_fn bp_entry;

/* boot.S's GDT has a 16-byte TSS descriptor per CPU from 0x30 on. */
#define GDT_TSS_SEL(cpu) (0x30 + 16 * (cpu))

static void serial_putc(char c)
{
    outb(COM1, c);
}

bool serial_ready(void)
{
    return inb(COM1 + 5) & 1;           /* LSR: data ready */
}

uint8_t serial_getc(void)
{
    while (!(inb(COM1 + 5) & 1)) {      /* LSR: data ready */
        asm volatile("pause");
    }
    return inb(COM1);
}

static void put_str(const char *s)
{
    while (*s) {
        if (*s == '\n') {
            serial_putc('\r');
        }
        serial_putc(*s++);
    }
}

static void put_num(uint64_t v, unsigned base, int width, char pad, bool neg)
{
    char buf[24];
    int n = 0;

    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg) {
        buf[n++] = '-';
    }
    while (n < width) {
        serial_putc(pad);
        width--;
    }
    while (n) {
        serial_putc(buf[--n]);
    }
}

/* Enough printf for tests: %d %u %x %s %c, l/ll, width, '0' and '-'. */
static void guest_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        int width = 0, longs = 0;
        bool left = false;
        char pad = ' ';

        if (*fmt != '%') {
            char s[2] = { *fmt, 0 };
            put_str(s);
            continue;
        }
        fmt++;
        if (*fmt == '-') {
            left = true;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
            break;
        }
        case 'u':
            put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned),
                    10, width, pad, false);
            break;
        case 'x':
            put_num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned),
                    16, width, pad, false);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            int len = 0;

            while (str[len]) {
                len++;
            }
            for (; !left && len < width; width--) {
                serial_putc(' ');
            }
            put_str(str);
            for (; left && len < width; width--) {
                serial_putc(' ');
            }
            break;
        }
        case 'c':
            serial_putc(va_arg(ap, int));
            break;
        default:
            serial_putc(*fmt);
            break;
        }
    }
}

void guest_printf(const char *fmt, ...)
{
    va_list ap;

    print_lock();
    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
    print_unlock();
}

void guest_exit(int code)
{
    outl(DEBUG_EXIT_PORT, code);
    for (;;) {
        asm volatile("cli; hlt");
    }
}

void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    print_lock();
    checks_run++;
    if (!ok) {
        checks_failed++;
    }
    guest_printf("%s %u - ", ok ? "ok" : "not ok", checks_run);
    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
    guest_printf("\n");
    print_unlock();
}

void guest_done(void)
{
    guest_printf("1..%u\n", checks_run);
    guest_printf("# %u passed, %u failed\n", checks_run - checks_failed,
                 checks_failed);
    guest_exit(checks_failed ? 1 : 0);
}

uint64_t rdmsr(uint32_t msr)
{
    uint64_t v;

    if (rdmsr_safe(msr, &v) != NO_EXCEPTION) {
        guest_printf("Bail out! RDMSR 0x%x faulted (vector %d)\n", msr,
                     exception_vector);
        guest_exit(2);
    }
    return v;
}

void wrmsr(uint32_t msr, uint64_t val)
{
    if (wrmsr_safe(msr, val) != NO_EXCEPTION) {
        guest_printf("Bail out! WRMSR 0x%x <- 0x%lx faulted (vector %d)\n",
                     msr, val, exception_vector);
        guest_exit(2);
    }
}

void busy_loop(uint64_t iterations)
{
    asm volatile("1: dec %0\n\tjnz 1b" : "+r"(iterations) : : "cc");
}

static const char *cmdline(void)
{
    const uint32_t *mbi = (const uint32_t *)multiboot_info;

    /* Multiboot info: flags bit 2 says the cmdline field (offset 16) holds. */
    if (!mbi || !(mbi[0] & (1 << 2))) {
        return "";
    }
    return (const char *)(uint64_t)mbi[4];
}

static uint64_t parse_uint(const char *p)
{
    uint64_t v = 0;
    unsigned base = 10;

    if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        p += 2;
    }
    for (;; p++) {
        unsigned d;

        if (*p >= '0' && *p <= '9') {
            d = *p - '0';
        } else if (base == 16 && *p >= 'a' && *p <= 'f') {
            d = *p - 'a' + 10;
        } else {
            return v;
        }
        v = v * base + d;
    }
}

uint64_t cmdline_uint(const char *key, uint64_t def)
{
    const char *p = cmdline();
    size_t n = 0;

    while (key[n]) {
        n++;
    }
    while (*p) {
        const char *w = p;
        size_t i = 0;

        while (i < n && w[i] == key[i]) {
            i++;
        }
        if (i == n && w[n] == '=') {
            return parse_uint(w + n + 1);
        }
        while (*p && *p != ' ') {
            p++;
        }
        while (*p == ' ') {
            p++;
        }
    }
    return def;
}

static void (*irq_handlers[256])(unsigned vec);

void set_irq_handler(unsigned vec, void (*fn)(unsigned vec))
{
    irq_handlers[vec] = fn;
}

void exception_handler(struct frame *f)
{
    struct ex_entry *e;

    if (irq_handlers[f->vector]) {
        irq_handlers[f->vector](f->vector);
        return;
    }
    for (e = __ex_table_start; e < __ex_table_end; e++) {
        if (e->insn == f->rip) {
            exception_vector = f->vector;
            f->rip = e->fixup;
            return;
        }
    }
    guest_printf("Bail out! unexpected exception %lu (error 0x%lx) at "
                 "rip 0x%lx, CPL %lu\n", f->vector, f->error, f->rip,
                 f->cs & 3);
    guest_exit(2);
}

/* A present 64-bit interrupt gate (type 0xe): IF is clear in handlers. */
static void set_gate(unsigned vec, void *fn, unsigned dpl)
{
    uint64_t off = (uint64_t)fn;

    idt[vec] = (struct idt_entry) {
        .off0 = off, .sel = KERNEL_CS, .ist = 0,
        .type = 0x8e | (dpl & 3) << 5,
        .off1 = off >> 16, .off2 = off >> 32,
    };
}

void set_idt_raw(unsigned vec, void *handler, unsigned dpl)
{
    set_gate(vec & 0xff, handler, dpl);
}

void *get_idt_raw(unsigned vec, unsigned *dpl)
{
    struct idt_entry *e = &idt[vec & 0xff];

    if (dpl) {
        *dpl = e->type >> 5 & 3;
    }
    if (!(e->type & 0x80)) {
        return NULL;
    }
    return (void *)(e->off0 | (uint64_t)e->off1 << 16 |
                    (uint64_t)e->off2 << 32);
}

void restore_idt(unsigned vec)
{
    idt[vec & 0xff] = idt_default[vec & 0xff];
}

/* One of libguest's own gates, which restore_idt() puts back. */
static void set_default_gate(unsigned vec, void *fn, unsigned dpl)
{
    set_gate(vec, fn, dpl);
    idt_default[vec] = idt[vec];
}

#define GATE(n) set_default_gate(n, vec##n, 0)

/* Every CPU loads the one IDT that the BSP built. */
static void idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)idt };

    asm volatile("lidt %0" : : "m"(desc));
}

static void idt_init(void)
{
    GATE(0); GATE(1); GATE(2); GATE(3); GATE(4); GATE(5); GATE(6); GATE(7);
    GATE(8); GATE(10); GATE(11); GATE(12); GATE(13); GATE(14); GATE(16);
    GATE(17); GATE(18); GATE(19); GATE(32); GATE(33);
    /*
     * INT3 from ring 3 reaches the handler, as on Linux; bp_entry takes
     * user_exit()'s first.
     */
    set_default_gate(3, bp_entry, 3);
    idt_load();
}

/*
 * This CPU's TSS: written afresh each time (after a reset, or a CPU
 * started again, the descriptor may still say "busy", which LTR refuses).
 * No I/O bitmap, so port I/O from ring 3 raises #GP.
 */
static void tss_init(int cpu)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr;
    uint64_t base = (uint64_t)&tss[cpu];
    uint64_t limit = sizeof(struct tss) - 1;
    uint64_t *desc;

    asm volatile("sgdt %0" : "=m"(gdtr));
    if (GDT_TSS_SEL(cpu + 1) > gdtr.limit + 1) {
        guest_printf("Bail out! boot.S's GDT has no TSS slot for CPU %d\n",
                     cpu);
        guest_exit(2);
    }
    desc = (uint64_t *)(gdtr.base + GDT_TSS_SEL(cpu));
    tss[cpu] = (struct tss) { .iomap_base = sizeof(struct tss) };
    desc[0] = (limit & 0xffff) | (base & 0xffffff) << 16 |
              0x89ull << 40 |                   /* present, 64-bit TSS */
              (limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
    desc[1] = base >> 32;
    asm volatile("ltr %w0" : : "r"(GDT_TSS_SEL(cpu)) : "memory");
}

void user_exit_stray(void)
{
    guest_printf("Bail out! user_exit() in ring 0\n");
    guest_exit(2);
}

void run_user(void (*fn)(void), void *user_stack_top)
{
    /* RSP0 is at offset 4: x86 stores it unaligned without fuss. */
    run_user_asm(fn, user_stack_top,
                 (char *)&tss[smp_cpu_id()] + offsetof(struct tss, rsp));
}

static void percpu_init(int cpu)
{
    percpu[cpu].self = &percpu[cpu];
    percpu[cpu].cpu = cpu;
    wrmsr(MSR_GS_BASE, (uint64_t)&percpu[cpu]);
    tss_init(cpu);
}

int smp_cpu_id(void)
{
    int cpu;

    asm volatile("movl %%gs:%c1, %0"
                 : "=r"(cpu) : "i"(offsetof(struct percpu, cpu)));
    return cpu;
}

/* Local APIC */

#define APIC_MMIO       0xfee00000ul
#define MSR_X2APIC_BASE 0x800
#define APIC_ICR_HIGH   0x310
#define APIC_ICR_BUSY   (1u << 12)

bool apic_x2apic(void)
{
    return rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD;
}

bool apic_enable_x2apic(void)
{
    uint32_t a, b, c, d;

    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 21))) {
        return false;
    }
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN |
          APIC_BASE_EXTD);
    return true;
}

uint32_t apic_read(unsigned reg)
{
    if (apic_x2apic()) {
        return rdmsr(MSR_X2APIC_BASE + reg / 16);
    }
    return *(volatile uint32_t *)(APIC_MMIO + reg);     /* MMIO */
}

void apic_write(unsigned reg, uint32_t val)
{
    if (apic_x2apic()) {
        wrmsr(MSR_X2APIC_BASE + reg / 16, val);
        return;
    }
    *(volatile uint32_t *)(APIC_MMIO + reg) = val;      /* MMIO */
}

uint32_t apic_id(void)
{
    /* xAPIC keeps the ID in bits 31:24; x2APIC uses all 32. */
    return apic_x2apic() ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24;
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

void apic_send_ipi(uint32_t dest, uint32_t icr)
{
    if (apic_x2apic()) {
        /* x2APIC's ICR is one 64-bit MSR; there is no busy bit. */
        wrmsr(MSR_X2APIC_BASE + APIC_ICR / 16, (uint64_t)dest << 32 | icr);
        return;
    }
    apic_write(APIC_ICR_HIGH, dest << 24);
    apic_write(APIC_ICR, icr);
    while (apic_read(APIC_ICR) & APIC_ICR_BUSY) {
        cpu_relax();
    }
}

/* fw_cfg, I/O port interface: a 16-bit key, then the item's bytes. */
#define FW_CFG_PORT_SEL     0x510
#define FW_CFG_PORT_DATA    0x511
#define FW_CFG_NB_CPUS      0x05

unsigned fw_cfg_nb_cpus(void)
{
    unsigned n;

    asm volatile("outw %0, %1" : : "a"((uint16_t)FW_CFG_NB_CPUS),
                 "Nd"((uint16_t)FW_CFG_PORT_SEL));
    n = inb(FW_CFG_PORT_DATA);
    return n | inb(FW_CFG_PORT_DATA) << 8;
}

/* SMP bring-up */

#define ICR_INIT            0x4500      /* INIT, level assert */
#define ICR_STARTUP         0x4600      /* STARTUP; vector = page number */
#define AP_STACK_SIZE       16384
#define SIPI_RETRY_CYCLES   200000000ull    /* ~0.1 s of TSC */
#define AP_TIMEOUT_CYCLES   5000000000ull   /* seconds, whatever the TSC */

static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
/* Volatile: the AP being started reads them while the BSP waits. */
static void (*volatile ap_fn)(int cpu);             /* read by the AP */
static volatile int ap_booting_cpu;                 /* read by the AP */
static volatile bool ap_ready, bsp_x2apic;          /* across CPUs */
static int cpus_online = 1, next_cpu = 1;

/* boot.S's ap_start64 calls this on the new CPU's own stack. */
void ap_start(void)
{
    int cpu = ap_booting_cpu;
    void (*fn)(int cpu) = ap_fn;

    idt_load();
    percpu_init(cpu);
    if (bsp_x2apic) {
        apic_enable_x2apic();
    }
    /*
     * INIT left the APIC software-disabled, and a disabled APIC accepts
     * no fixed interrupt (PMIs included).  Spurious vector 0xff.
     */
    apic_write(APIC_SVR, 0x1ff);
    __atomic_add_fetch(&cpus_online, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ap_ready, true, __ATOMIC_RELEASE);
    fn(cpu);
    asm volatile("sti");
    for (;;) {
        asm volatile("hlt");
    }
}

static bool wait_ap_ready(uint64_t cycles)
{
    uint64_t t0 = rdtsc();

    while (!__atomic_load_n(&ap_ready, __ATOMIC_ACQUIRE)) {
        if (rdtsc() - t0 > cycles) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

int smp_start_cpu(uint32_t dest, void (*fn)(int cpu))
{
    /* Volatile: it is code, for the AP, below 1 MiB. */
    volatile uint8_t *tramp = (volatile uint8_t *)AP_TRAMPOLINE_BASE;
    int cpu = next_cpu, i;

    if (cpu >= MAX_CPUS) {
        return -1;
    }
    /* volatile: a plain loop could become a call to memcpy we lack. */
    for (i = 0; i < ap_trampoline_end - ap_trampoline; i++) {
        tramp[i] = ap_trampoline[i];
    }
    ap_fn = fn;
    ap_booting_cpu = cpu;
    ap_boot_stack = (uint64_t)&ap_stacks[cpu][AP_STACK_SIZE];
    bsp_x2apic = apic_x2apic();
    __atomic_store_n(&ap_ready, false, __ATOMIC_SEQ_CST);

    /*
     * INIT, then STARTUP (SDM vol. 3A, "MP Initialization Protocol
     * Algorithm").  KVM needs none of the SDM's delays; a second STARTUP
     * goes out only if the first one was missed.
     */
    apic_send_ipi(dest, ICR_INIT);
    apic_send_ipi(dest, ICR_STARTUP | AP_TRAMPOLINE_BASE >> 12);
    if (!wait_ap_ready(SIPI_RETRY_CYCLES)) {
        apic_send_ipi(dest, ICR_STARTUP | AP_TRAMPOLINE_BASE >> 12);
        if (!wait_ap_ready(AP_TIMEOUT_CYCLES)) {
            return -1;
        }
    }
    next_cpu++;
    return cpu;
}

/*
 * QEMU numbers APIC IDs 0..n-1 for "-smp n" when no topology level has
 * gaps (what our tests use); the BSP is one of them.
 */
int smp_start(void (*fn)(int cpu))
{
    unsigned n = fw_cfg_nb_cpus(), id;
    uint32_t self = apic_id();
    int started = 0;

    for (id = 0; id < n; id++) {
        if (id != self && smp_start_cpu(id, fn) >= 0) {
            started++;
        }
    }
    return started;
}

int smp_num_cpus(void)
{
    return __atomic_load_n(&cpus_online, __ATOMIC_SEQ_CST);
}

static int barrier_count, barrier_gen;

void smp_barrier(int n)
{
    int gen = __atomic_load_n(&barrier_gen, __ATOMIC_ACQUIRE);

    if (__atomic_add_fetch(&barrier_count, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&barrier_count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&barrier_gen, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&barrier_gen, __ATOMIC_ACQUIRE) == gen) {
        cpu_relax();
    }
}

void guest_start(void)
{
    percpu_init(0);
    idt_init();
    main();
    guest_done();
}
