/*
 * qemu-vpmu test guests: a tiny freestanding runtime
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "libguest.h"

#define COM1 0x3f8

volatile int exception_vector = NO_EXCEPTION;
static unsigned checks_run, checks_failed;

/* Exception frame as built by boot.S's vec_common. */
struct frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

struct ex_entry {
    uint64_t insn, fixup;
};
extern struct ex_entry __ex_table_start[], __ex_table_end[];

struct idt_entry {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));

static void serial_putc(char c)
{
    outb(COM1, c);
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

    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
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

    checks_run++;
    if (!ok) {
        checks_failed++;
    }
    guest_printf("%s %u - ", ok ? "ok" : "not ok", checks_run);
    va_start(ap, fmt);
    guest_vprintf(fmt, ap);
    va_end(ap);
    guest_printf("\n");
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

extern uint64_t multiboot_info;

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
                 "rip 0x%lx\n", f->vector, f->error, f->rip);
    guest_exit(2);
}

static void set_gate(unsigned vec, void (*fn)(void))
{
    uint64_t off = (uint64_t)fn;

    idt[vec] = (struct idt_entry) {
        .off0 = off, .sel = 0x08, .ist = 0, .type = 0x8e,
        .off1 = off >> 16, .off2 = off >> 32,
    };
}

#define GATE(n) do { extern void vec##n(void); set_gate(n, vec##n); } while (0)

static void idt_init(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)idt };

    GATE(0); GATE(1); GATE(2); GATE(3); GATE(4); GATE(5); GATE(6); GATE(7);
    GATE(8); GATE(10); GATE(11); GATE(12); GATE(13); GATE(14); GATE(16);
    GATE(17); GATE(18); GATE(19); GATE(32);
    asm volatile("lidt %0" : : "m"(desc));
}

void guest_start(void)
{
    idt_init();
    main();
    guest_done();
}
