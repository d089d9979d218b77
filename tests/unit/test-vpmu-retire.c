/*
 * qemu-vpmu: unit tests of the single-step classifier (vpmu-retire.c)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each case is one step as KVM would report it: the registers before and
 * after, the instruction bytes at the old RIP, whether the exit was a
 * single-step trap, and guest memory holding (or not) an event frame.
 */

#include "qemu/osdep.h"
#include "hw/i386/vpmu-retire.h"

#define STACK_BASE 0x8000
#define KCS 0x08
#define KSS 0x10
#define UCS 0x33
#define USS 0x2b

/* A fake guest stack: linear STACK_BASE .. + sizeof(mem) */
typedef struct Mem {
    uint8_t mem[1024];
    unsigned reads;
} Mem;

static bool mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
    Mem *m = opaque;

    m->reads++;
    if (addr < STACK_BASE || addr + len > STACK_BASE + sizeof(m->mem)) {
        return false;
    }
    memcpy(buf, m->mem + (addr - STACK_BASE), len);
    return true;
}

static void put_slots(Mem *m, uint64_t addr, const uint64_t *v, unsigned n,
                      unsigned size)
{
    for (unsigned i = 0; i < n; i++) {
        for (unsigned b = 0; b < size; b++) {
            m->mem[addr - STACK_BASE + i * size + b] = v[i] >> (8 * b);
        }
    }
}

static VPMUStepState st64(uint64_t rip, uint64_t rsp, uint8_t cpl)
{
    return (VPMUStepState) {
        .rip = rip, .rsp = rsp, .cs = cpl ? UCS : KCS,
        .ss = cpl ? USS : KSS, .cpl = cpl, .mode = VPMU_INSN_MODE_64,
    };
}

static VPMURetire classify(const VPMUStepState *prev, const char *hex,
                           const VPMUStepState *now, bool stepped, Mem *m)
{
    uint8_t bytes[16];
    size_t n = 0;
    VPMUInsn insn;
    VPMURetire r;
    bool ok = false;

    while (hex && *hex) {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        bytes[n++] = g_ascii_xdigit_value(hex[0]) << 4 |
                     g_ascii_xdigit_value(hex[1]);
        hex += 2;
    }
    if (n) {
        ok = vpmu_insn_decode(bytes, n, prev->mode, 0, &insn);
        g_assert_true(ok);
    }
    vpmu_retire_classify(prev, ok ? &insn : NULL, now, stepped, mem_read, m,
                         &r);
    return r;
}

static void test_sequential(void)
{
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0x80, 0);
    VPMUStepState b = st64(0x1003, STACK_BASE + 0x80, 0);
    VPMURetire r;

    r = classify(&a, "48 ff c9", &b, true, &m);             /* dec rcx */
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_false(r.branch);
    /* An exit before the instruction completed (an MSR exit) */
    a = st64(0x1000, STACK_BASE + 0x80, 0);
    r = classify(&a, "0f 30", &a, false, &m);               /* wrmsr */
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_NOTHING);
    g_assert_cmpint(m.reads, ==, 0);
    /* ... then its step */
    b = st64(0x1002, STACK_BASE + 0x80, 0);
    r = classify(&a, "0f 30", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    /* Not a single-step exit, but the RIP moved: HLT's squashed step */
    b = st64(0x1001, STACK_BASE + 0x80, 0);
    r = classify(&a, "f4", &b, false, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
}

static void test_branches(void)
{
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0x80, 0), b;
    VPMURetire r;

    /* jnz -2: taken, then not taken */
    b = st64(0xffe, STACK_BASE + 0x80, 0);
    r = classify(&a, "75 fc", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && r.taken);
    b = st64(0x1002, STACK_BASE + 0x80, 0);
    r = classify(&a, "75 fc", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && !r.taken);
    /* jmp . retires with the RIP unchanged */
    r = classify(&a, "eb fe", &a, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && r.taken);
    /* call rel32 pushes: RSP moves, the RIP is the target */
    b = st64(0x2005, STACK_BASE + 0x78, 0);
    r = classify(&a, "e8 00 10 00 00", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && r.taken);
    /* ret and jmp *%rax go wherever they go */
    b = st64(0x5555, STACK_BASE + 0x88, 0);
    r = classify(&a, "c3", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && r.taken);
    b = st64(0x7777, STACK_BASE + 0x80, 0);
    r = classify(&a, "ff e0", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch);
    /* sysret to ring 3: a far branch, CS changes */
    b = st64(0x400000, STACK_BASE + 0x40, 3);
    r = classify(&a, "48 0f 07", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch);
}

static void test_rep(void)
{
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0x80, 0), b;
    VPMURetire r;

    r = classify(&a, "f3 a4", &a, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_ITERATION);
    b = st64(0x1002, STACK_BASE + 0x80, 0);
    r = classify(&a, "f3 a4", &b, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_false(r.branch);
    /* An exit inside an iteration (REP OUTSB's I/O exit) */
    r = classify(&a, "f3 6e", &a, false, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_NOTHING);
}

static void test_events(void)
{
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0xc0, 0);
    VPMUStepState u = st64(0x400000, 0x7000, 3);
    VPMUStepState h;
    VPMURetire r;
    uint64_t frame[6];

    /* A #GP at ring 0: error code, then RIP, CS, RFLAGS, RSP, SS */
    h = st64(0xdead00, STACK_BASE + 0x40, 0);
    frame[0] = 0;
    frame[1] = a.rip;
    frame[2] = KCS;
    frame[3] = 0x2;
    frame[4] = a.rsp;
    frame[5] = KSS;
    put_slots(&m, h.rsp, frame, 6, 8);
    r = classify(&a, "0f 30", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
    g_assert_false(r.branch);

    /* An interrupt from ring 3, before the instruction: no error code */
    h = st64(0xbeef00, STACK_BASE + 0x40, 0);
    frame[0] = u.rip;
    frame[1] = UCS;
    frame[2] = 0x202;
    frame[3] = u.rsp;
    frame[4] = USS;
    put_slots(&m, h.rsp, frame, 5, 8);
    r = classify(&u, "48 ff c9", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);

    /* INT 0x80 from ring 3: the frame holds the fallthrough */
    frame[0] = u.rip + 2;
    put_slots(&m, h.rsp, frame, 5, 8);
    r = classify(&u, "cd 80", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED_EVENT);
    g_assert_true(r.branch);

    /* A REP interrupted between iterations returns to the REP itself */
    frame[0] = u.rip;
    put_slots(&m, h.rsp, frame, 5, 8);
    r = classify(&u, "f3 48 ab", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);

    /* The frame returns to the old RIP but another stack: not ours */
    frame[3] = u.rsp + 8;
    put_slots(&m, h.rsp, frame, 5, 8);
    r = classify(&u, "48 ff c9", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_UNEXPLAINED);

    /* An instruction that could not be read: only the frame decides */
    frame[3] = u.rsp;
    put_slots(&m, h.rsp, frame, 5, 8);
    r = classify(&u, NULL, &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
    memset(m.mem, 0, sizeof(m.mem));
    r = classify(&u, NULL, &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_UNEXPLAINED);

    /* Unreadable stack: nothing explains a non-branch going elsewhere */
    h.rsp = 0x100;
    r = classify(&u, "48 ff c9", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_UNEXPLAINED);
}

static void test_legacy_frames(void)
{
    Mem m = { 0 };
    VPMUStepState a = {
        .rip = 0x1000, .rsp = 0x80, .cs = 0x08, .ss = 0x10, .cpl = 0,
        .mode = VPMU_INSN_MODE_32, .ss_base = STACK_BASE,
    };
    VPMUStepState h = a;
    VPMURetire r;
    uint64_t frame[3] = { 0x1000, 0x08, 0x202 };

    /* 32-bit, same privilege: EIP, CS, EFLAGS, four bytes each */
    h.rip = 0x5000;
    h.rsp = 0x40;
    put_slots(&m, STACK_BASE + h.rsp, frame, 3, 4);
    r = classify(&a, "0f 30", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
    /* INT3: the fallthrough */
    frame[0] = 0x1001;
    put_slots(&m, STACK_BASE + h.rsp, frame, 3, 4);
    r = classify(&a, "cc", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED_EVENT);

    /* 16-bit: IP, CS, FLAGS, two bytes each */
    a.mode = h.mode = VPMU_INSN_MODE_16;
    frame[0] = 0x1000;
    memset(m.mem, 0, sizeof(m.mem));
    put_slots(&m, STACK_BASE + h.rsp, frame, 3, 2);
    r = classify(&a, "0f 30", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
}

static void put_bytes(Mem *m, uint64_t addr, const uint8_t *b, size_t n)
{
    memcpy(m->mem + (addr - STACK_BASE), b, n);
}

/*
 * Late steps: the host reported the step one instruction after the
 * handler's entry, or after an IRET's destination (what the PVM hosts
 * this is developed on do); and an IRET to ring 3 that came back at CPL 0.
 */
static void test_late_steps(void)
{
    const uint64_t idt = STACK_BASE + 0x200, handler = STACK_BASE + 0x300;
    const uint64_t dest = STACK_BASE + 0x380;
    const uint8_t push_rax[] = { 0x50 }, dec_r8[] = { 0x49, 0xff, 0xc8 };
    const uint8_t jnz_back[] = { 0x75, 0xf0 };
    uint8_t gate[16] = { 0 };
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0xc0, 0);
    VPMUStepState h, iret;
    VPMURetire r;
    uint64_t frame[5];

    /* Vector 1's gate: a present 64-bit interrupt gate to @handler */
    gate[0] = handler & 0xff;
    gate[1] = (handler >> 8) & 0xff;
    gate[2] = KCS;
    gate[5] = 0x8e;
    put_bytes(&m, idt + 16, gate, sizeof(gate));
    put_bytes(&m, handler, push_rax, sizeof(push_rax));

    /* An interrupt before WRMSR; the handler's PUSH ran before the step */
    h = st64(handler + 1, STACK_BASE + 0x40, 0);
    h.idt_base = idt;
    h.idt_limit = 2 * 16 - 1;
    frame[0] = a.rip;
    frame[1] = KCS;
    frame[2] = 0x202;
    frame[3] = a.rsp;
    frame[4] = KSS;
    put_slots(&m, h.rsp + 8, frame, 5, 8);
    r = classify(&a, "0f 30", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
    g_assert_true(r.late.retired);
    g_assert_false(r.late.branch);
    g_assert_cmpint(r.late.cpl, ==, 0);
    /* Where the frame's RFLAGS is, for the engine to hide its own TF */
    g_assert_cmphex(r.frame_rflags, ==, h.rsp + 8 + 2 * 8);

    /* On time: at the gate's entry, nothing more retired */
    h.rip = handler;
    h.rsp += 8;
    r = classify(&a, "0f 30", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_EVENT);
    g_assert_false(r.late.retired);

    /* IRETQ to @dest, where DEC ran before the step: late by one */
    iret = st64(0x2000, STACK_BASE + 0x40, 0);
    frame[0] = dest;
    frame[1] = KCS;
    frame[2] = 0x2;
    frame[3] = STACK_BASE + 0xc0;
    frame[4] = KSS;
    put_slots(&m, iret.rsp, frame, 5, 8);
    put_bytes(&m, dest, dec_r8, sizeof(dec_r8));
    h = st64(dest + 3, STACK_BASE + 0xc0, 0);
    r = classify(&iret, "48 cf", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch);
    g_assert_true(r.late.retired);
    g_assert_false(r.late.branch);
    g_assert_false(r.user_unstepped);

    /* ... a JNZ there, taken: late by one branch */
    put_bytes(&m, dest, jnz_back, sizeof(jnz_back));
    h.rip = dest + 2 - 0x10;
    r = classify(&iret, "48 cf", &h, true, &m);
    g_assert_true(r.late.retired);
    g_assert_true(r.late.branch);

    /* ... on time at @dest: only the IRET */
    h.rip = dest;
    r = classify(&iret, "48 cf", &h, true, &m);
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_false(r.late.retired);

    /* IRETQ to ring 3, and the next step is at CPL 0 again */
    frame[1] = UCS;
    frame[4] = USS;
    put_slots(&m, iret.rsp, frame, 5, 8);
    h = st64(0x9000, STACK_BASE + 0x40, 0);
    r = classify(&iret, "48 cf", &h, true, &m);
    g_assert_true(r.user_unstepped);
    g_assert_false(r.late.retired);
}

/* What LBR records for the step: decode, classify, list the branches. */
static unsigned branches(const VPMUStepState *prev, const char *hex,
                         const VPMUStepState *now, Mem *m,
                         VPMUTakenBranch *out)
{
    uint8_t bytes[16];
    size_t n = 0;
    VPMUInsn insn;
    VPMURetire r;

    while (*hex) {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        bytes[n++] = g_ascii_xdigit_value(hex[0]) << 4 |
                     g_ascii_xdigit_value(hex[1]);
        hex += 2;
    }
    g_assert_true(vpmu_insn_decode(bytes, n, prev->mode, 0, &insn));
    vpmu_retire_classify(prev, &insn, now, true, mem_read, m, &r);
    return vpmu_retire_branches(prev, &insn, now, &r, out);
}

static void assert_branch(const VPMUTakenBranch *b, uint64_t from,
                          uint64_t to, VPMUBranchClass cls, bool event)
{
    g_assert_cmphex(b->from, ==, from);
    g_assert_cmphex(b->to, ==, to);
    g_assert_cmpint(b->cls, ==, cls);
    g_assert_cmpint(b->event, ==, event);
}

/*
 * The branches LBR records for a step (vpmu_retire_branches): the
 * expected FROM/TO are the SDM's ("Last Branch, Interrupt, and Exception
 * Recording"): taken branches only; an event from the RIP it returns to,
 * to its handler; a software interrupt as one far branch.
 */
/*
 * An indirect CALL from a function that saved an 8 (a value equal to
 * the kernel CS) just above its return address: the stack reads like an
 * event frame returning to the CALL's next instruction, but its SS and
 * RSP slots are not the CALL's.  Seen in a guest whose return address
 * above lost bit 8 as the "frame's" TF was hidden.
 */
static void test_call_not_a_frame(void)
{
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0x80, 0);
    VPMUStepState b = st64(0x2000, STACK_BASE + 0x78, 0);
    uint64_t stack[5] = { 0x1003, KCS, 0x1029b6, 0x1fb0, 0x1040 };
    VPMURetire r;

    put_slots(&m, b.rsp, stack, 5, 8);
    r = classify(&a, "41 ff d3", &b, true, &m);             /* call *%r11 */
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED);
    g_assert_true(r.branch && r.taken);
    g_assert_cmphex(r.frame_rflags, ==, 0);

    /*
     * A real frame after a direct CALL (to 0x2000) retired: RIP its
     * target, RSP and SS what the CALL left
     */
    b = st64(0x3000, STACK_BASE + 0x40, 0);
    stack[0] = 0x2000;
    stack[2] = 0x202;
    stack[3] = STACK_BASE + 0x78;
    stack[4] = KSS;
    put_slots(&m, b.rsp, stack, 5, 8);
    r = classify(&a, "e8 fb 0f 00 00", &b, true, &m);      /* call 0x2000 */
    g_assert_cmpint(r.kind, ==, VPMU_RETIRE_RETIRED_EVENT);
    g_assert_cmphex(r.frame_rflags, ==, b.rsp + 16);
    /* The same frame with another SS is no frame of this CALL */
    stack[4] = 0x1fb0;
    put_slots(&m, b.rsp, stack, 5, 8);
    r = classify(&a, "e8 fb 0f 00 00", &b, true, &m);
    g_assert_cmphex(r.frame_rflags, ==, 0);
}

static void test_lbr_branches(void)
{
    const uint64_t idt = STACK_BASE + 0x200, handler = STACK_BASE + 0x300;
    const uint8_t jmp_back[] = { 0xeb, 0xf0 };
    uint8_t gate[16] = { 0 };
    Mem m = { 0 };
    VPMUStepState a = st64(0x1000, STACK_BASE + 0xc0, 0), b;
    VPMUTakenBranch out[VPMU_RETIRE_MAX_BRANCHES];
    uint64_t frame[5];

    /* Jcc taken: one record; not taken: none */
    b = st64(0x0ffe, a.rsp, 0);
    g_assert_cmpuint(branches(&a, "75 fc", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1000, 0x0ffe, VPMU_BRANCH_JCC, false);
    g_assert_cmpint(out[0].cpl, ==, 0);
    b.rip = 0x1002;
    g_assert_cmpuint(branches(&a, "75 fc", &b, &m, out), ==, 0);
    /* A non-branch: none */
    b.rip = 0x1003;
    g_assert_cmpuint(branches(&a, "48 ff c9", &b, &m, out), ==, 0);
    /* CALL rel32 and RET */
    b = st64(0x1105, a.rsp - 8, 0);
    g_assert_cmpuint(branches(&a, "e8 00 01 00 00", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1000, 0x1105, VPMU_BRANCH_CALL_REL, false);
    b = st64(0x4321, a.rsp + 8, 0);
    g_assert_cmpuint(branches(&a, "c3", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1000, 0x4321, VPMU_BRANCH_RET, false);

    /* An interrupt before a DEC: one event, from the DEC to the handler */
    b = st64(handler, STACK_BASE + 0x40, 0);
    frame[0] = a.rip;
    frame[1] = KCS;
    frame[2] = 0x202;
    frame[3] = a.rsp;
    frame[4] = KSS;
    put_slots(&m, b.rsp, frame, 5, 8);
    g_assert_cmpuint(branches(&a, "48 ff c9", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1000, handler, VPMU_BRANCH_FAR, true);

    /* A JMP that retired, then an interrupt at its target: two */
    frame[0] = 0x1002 - 0x10;
    put_slots(&m, b.rsp, frame, 5, 8);
    g_assert_cmpuint(branches(&a, "eb f0", &b, &m, out), ==, 2);
    assert_branch(&out[0], 0x1000, 0x0ff2, VPMU_BRANCH_JMP_REL, false);
    assert_branch(&out[1], 0x0ff2, handler, VPMU_BRANCH_FAR, true);
    /* A Jcc not taken, then the interrupt: only the event */
    frame[0] = 0x1002;
    put_slots(&m, b.rsp, frame, 5, 8);
    g_assert_cmpuint(branches(&a, "75 ee", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1002, handler, VPMU_BRANCH_FAR, true);

    /* INT 0x80: one far branch from the INT to the handler */
    g_assert_cmpuint(branches(&a, "cd 80", &b, &m, out), ==, 1);
    assert_branch(&out[0], 0x1000, handler, VPMU_BRANCH_FAR, false);

    /*
     * Late: the handler's first instruction, a JMP back by 0x10, ran
     * before the step: the event to the handler, then that JMP.
     */
    gate[0] = handler & 0xff;
    gate[1] = (handler >> 8) & 0xff;
    gate[2] = KCS;
    gate[5] = 0x8e;
    put_bytes(&m, idt + 16, gate, sizeof(gate));
    put_bytes(&m, handler, jmp_back, sizeof(jmp_back));
    frame[0] = a.rip;
    put_slots(&m, b.rsp, frame, 5, 8);
    b.rip = handler + 2 - 0x10;
    b.idt_base = idt;
    b.idt_limit = 2 * 16 - 1;
    g_assert_cmpuint(branches(&a, "48 ff c9", &b, &m, out), ==, 2);
    assert_branch(&out[0], 0x1000, handler, VPMU_BRANCH_FAR, true);
    assert_branch(&out[1], handler, handler + 2 - 0x10,
                  VPMU_BRANCH_JMP_REL, false);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vpmu-retire/sequential", test_sequential);
    g_test_add_func("/vpmu-retire/branches", test_branches);
    g_test_add_func("/vpmu-retire/rep", test_rep);
    g_test_add_func("/vpmu-retire/events", test_events);
    g_test_add_func("/vpmu-retire/legacy-frames", test_legacy_frames);
    g_test_add_func("/vpmu-retire/late-steps", test_late_steps);
    g_test_add_func("/vpmu-retire/lbr-branches", test_lbr_branches);
    g_test_add_func("/vpmu-retire/call-not-a-frame", test_call_not_a_frame);
    return g_test_run();
}
