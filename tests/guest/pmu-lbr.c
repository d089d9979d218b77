/*
 * qemu-vpmu test guest: last branch records (LBR)
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * For QEMU started with -cpu host,pmu=on,lbr=on and the variants that
 * tests/vpmu-check.py's lbr_tests() runs.  The rules are the Intel SDM's
 * (vol. 3B, "Last Branch Recording"; vol. 4 for the MSRs), as
 * /work/shared/design/lbr.md sections 1.1-1.3 sum them up.  Every record
 * is compared with the addresses of labels in the asm sequences below,
 * whose branches are all known; the records a filter keeps are worked
 * out here from the SDM's rules (TOS incremented modulo the depth before
 * each record, the youngest at TOS), never read back from QEMU first.
 *
 * -append keys say what the guest should find (defaults: what
 * -cpu host,pmu=on,lbr=on gives on a host whose model QEMU's table does
 * not know, the Skylake class):
 *   depth=N    legacy LBR depth: 4, 8, 16 or 32 (32)
 *   fmt=F      IA32_PERF_CAPABILITIES[5:0] (5)
 *   arch=1     architectural LBR (arch-lbr=on): section 5 (0)
 *   pmuv=V     the PMU version: 2 or 3 freeze by clearing DEBUGCTL.LBR,
 *              4 by GLOBAL_STATUS.LBR_FRZ (2)
 *   exact=1    QEMU counts instructions exactly (-accel
 *              kvm,vpmu-exact=on): section 4 can take a PMI at a known
 *              instruction (0)
 *   only=MASK  run the sections whose bit is set, as in pmu-exact.
 *              Sections 6 (migration) and 7 (reset) stop at "SYNC
 *              migrate", "SYNC boot" and "SYNC reset" and wait for a byte
 *              on COM1 from the host (tests/vpmu-check.py), which saves
 *              and resumes the guest or resets it there; section 8
 *              (the host takes LBR) at "SYNC recording", "SYNC
 *              reclaimed", "SYNC restored" and "SYNC lost"
 *   no-bail=1  run even when the guest finds no LBR at all
 *
 * All addresses here are below 2^31, so the flag bits of every legacy
 * format (MISPRED and the TSX bits) are 0 in the software backend and
 * FROM and TO read as plain addresses; MSR_LBR_INFO reads 0.
 */
#include "libguest.h"

#define BIT(n)                      ((uint64_t)1 << (n))
#define MSR_DEBUGCTL                0x1d9
#define DEBUGCTL_LBR                BIT(0)
#define DEBUGCTL_BTF                BIT(1)
#define DEBUGCTL_FREEZE_LBRS_ON_PMI BIT(11)
#define MSR_PERF_CAPABILITIES       0x345
#define PERF_CAP_LBR_FMT            ((uint64_t)0x3f)
#define PERF_CAP_FW_WRITE           BIT(13)
#define MSR_IA32_A_PMC0             0x4c1
#define GLOBAL_STATUS_LBR_FRZ       BIT(58)

/* Legacy LBR (SDM vol. 4) */
#define MSR_LBR_SELECT              0x1c8
#define MSR_LBR_TOS                 0x1c9
#define MSR_CORE_FROM               0x40    /* 4 or 8 records */
#define MSR_CORE_TO                 0x60
#define MSR_NHM_FROM                0x680   /* 16 or 32 records */
#define MSR_NHM_TO                  0x6c0
#define MSR_LBR_INFO                0xdc0   /* formats 5 and 7 */
#define CORE_MSRS                   8       /* 0x48 is IA32_SPEC_CTRL */
#define NHM_MSRS                    32      /* 0x6a0 is IA32_U_CET */
#define SELECT_CPL_EQ_0             BIT(0)
#define SELECT_CPL_NEQ_0            BIT(1)
#define SELECT_JCC                  BIT(2)
#define SELECT_NEAR_IND_JMP         BIT(6)
#define SELECT_NEAR_REL_JMP         BIT(7)
#define SELECT_FAR_BRANCH           BIT(8)
#define SELECT_EN_CALLSTACK         BIT(9)
/* The SDM's call-stack setting: JCC, both JMPs and far branches off */
#define SELECT_CALLSTACK            (SELECT_EN_CALLSTACK | SELECT_JCC | \
                                     SELECT_NEAR_IND_JMP | \
                                     SELECT_NEAR_REL_JMP | SELECT_FAR_BRANCH)

/* Architectural LBR */
#define MSR_ARCH_LBR_CTL            0x14ce
#define MSR_ARCH_LBR_DEPTH          0x14cf
#define MSR_ARCH_LBR_INFO           0x1200
#define MSR_ARCH_LBR_FROM           0x1500
#define MSR_ARCH_LBR_TO             0x1600
#define ARCH_MAX                    32
#define CTL_LBREN                   BIT(0)
#define CTL_OS                      BIT(1)
#define CTL_USR                     BIT(2)
#define CTL_CALL_STACK              BIT(3)
#define CTL_NEAR_REL_CALL           BIT(19)
#define CTL_NEAR_IND_CALL           BIT(20)
#define CTL_NEAR_RET                BIT(21)
#define CTL_BRANCHES                ((uint64_t)0x7f0000)     /* bits 22:16 */
#define CTL_VALID                   ((uint64_t)0x7f000f)
#define CTL_ALL                     (CTL_LBREN | CTL_OS | CTL_USR | \
                                     CTL_BRANCHES)
#define CTL_CALLSTACK               (CTL_LBREN | CTL_OS | CTL_USR | \
                                     CTL_CALL_STACK | CTL_NEAR_REL_CALL | \
                                     CTL_NEAR_IND_CALL | CTL_NEAR_RET)
#define INFO_BR_TYPE_SHIFT          56

/* Section 4: the PMI */
#define MSR_X2APIC_SVR              0x80f
#define MSR_X2APIC_LVTPC            0x834
#define EVTSEL_INT                  (1u << 20)
#define INST_ALL_INT                (EVTSEL_EN | EVTSEL_USR | EVTSEL_OS | \
                                     EVTSEL_INT | EVENT_INST_RETIRED)
#define PMI_VECTOR                  0x41
#define FRZ_SLED_LEN                48      /* 2-byte JMPs */
#define FRZ_K                       30      /* the PMI after K retired */

#define STR_(x)                     #x
#define STR(x)                      STR_(x)

/*
 * The classes of branch, as LBR_SELECT and IA32_LBR_CTL filter them
 * (SDM tables "MSR_LBR_SELECT" and "IA32_LBR_CTL"; lbr.md 1.3).
 */
enum {
    BR_JCC, BR_REL_JMP, BR_IND_JMP, BR_REL_CALL, BR_IND_CALL, BR_RET,
    BR_FAR, BR_N
};

static const struct {
    const char *name;
    unsigned select_bit;        /* legacy: suppresses */
    unsigned ctl_bit;           /* architectural: enables */
    unsigned br_type;           /* IA32_LBR_x_INFO[59:56] */
} classes[BR_N] = {
    [BR_JCC] = { "JCC", 2, 16, 0 },
    [BR_REL_JMP] = { "NEAR_REL_JMP", 7, 17, 2 },
    [BR_IND_JMP] = { "NEAR_IND_JMP", 6, 18, 1 },
    [BR_REL_CALL] = { "NEAR_REL_CALL", 3, 19, 4 },
    [BR_IND_CALL] = { "NEAR_IND_CALL", 4, 20, 3 },
    [BR_RET] = { "NEAR_RET", 5, 21, 5 },
    [BR_FAR] = { "FAR_BRANCH", 8, 22, 8 },
};

/*
 * Code labels in the asm below, not C functions: only their addresses
 * are used, except for the sequences (called from C) and frz_snapshot
 * (C, called from the PMI handler).
 */
typedef void asm_label(void);
typedef void seq_fn(uint32_t msr, uint64_t on);
typedef void frz_fn(uint64_t ctrl);
typedef void snapshot_fn(void);
seq_fn lbr_seq, cs_seq;
frz_fn frz_region;
snapshot_fn frz_snapshot;
asm_label seq_jmp8, seq_jmp8_to, seq_jmp32, seq_jmp32_to, seq_jcc_nt,
          seq_jcc, seq_jcc_to, seq_call, seq_call_ret, seq_ijmp,
          seq_ijmp_to, seq_icall, seq_icall_ret, seq_gp, seq_gp_ret,
          seq_fn1, seq_ret1, seq_fn2, seq_ret2, seq_gp_handler, seq_gp_iret;
asm_label cs_c1, cs_f1, cs_c3, cs_f3;
asm_label user_seq, user_j, user_j_to, user_jret, user_seq_end;
asm_label frz_sled, frz_sled_end, frz_pmi_handler, frz_call, frz_iret,
          frz_pmi_handler_end;
/* boot.S's, both .globl: ring 3's way out and the #BP gate */
asm_label user_return, bp_entry;

/* Shared with the PMI handler below, by name. */
volatile uint64_t frz_count, frz_rip, frz_debugctl, frz_status;
volatile uint64_t frz_ovf_clear;        /* what the handler acks */

asm(".pushsection .text\n\t"
    /*
     * void lbr_seq(uint32_t msr, uint64_t on): MSR @msr <- @on turns
     * recording on (DEBUGCTL or IA32_LBR_CTL), then ten taken branches,
     * one not-taken JNZ, and MSR @msr <- 0.  seq[] below lists them.
     * The #GP of WRMSR to MSR 0x12345 goes to seq_gp_handler, which
     * skips the 2-byte WRMSR.
     */
    ".globl lbr_seq\n"
    "lbr_seq:\n\t"
    "push %rbx\n\t"
    "mov %edi, %ebx\n\t"
    "lea seq_ijmp_to(%rip), %r9\n\t"
    "lea seq_fn2(%rip), %r11\n\t"
    "mov %edi, %ecx\n\t"
    "mov %esi, %eax\n\t"
    "mov %rsi, %rdx\n\t"
    "shr $32, %rdx\n\t"
    "wrmsr\n"                       /* recording on */
    ".globl seq_jmp8\n"
    "seq_jmp8:\n\t"
    ".byte 0xeb, seq_jmp8_to - seq_jmp8 - 2\n\t"    /* JMP rel8 */
    "ud2\n"
    ".globl seq_jmp8_to\n"
    "seq_jmp8_to:\n"
    ".globl seq_jmp32\n"
    "seq_jmp32:\n\t"
    ".byte 0xe9\n\t"                                /* JMP rel32 */
    ".long seq_jmp32_to - seq_jmp32 - 5\n\t"
    "ud2\n"
    ".globl seq_jmp32_to\n"
    "seq_jmp32_to:\n\t"
    "xor %eax, %eax\n"              /* ZF = 1 */
    ".globl seq_jcc_nt\n"
    "seq_jcc_nt:\n\t"
    "jnz seq_bad\n"                 /* not taken */
    ".globl seq_jcc\n"
    "seq_jcc:\n\t"
    "jz seq_jcc_to\n\t"             /* taken */
    "ud2\n"
    ".globl seq_jcc_to\n"
    "seq_jcc_to:\n"
    ".globl seq_call\n"
    "seq_call:\n\t"
    "call seq_fn1\n"
    ".globl seq_call_ret\n"
    "seq_call_ret:\n"
    ".globl seq_ijmp\n"
    "seq_ijmp:\n\t"
    "jmp *%r9\n\t"
    "ud2\n"
    ".globl seq_ijmp_to\n"
    "seq_ijmp_to:\n"
    ".globl seq_icall\n"
    "seq_icall:\n\t"
    "call *%r11\n"
    ".globl seq_icall_ret\n"
    "seq_icall_ret:\n\t"
    "mov $0x12345, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n"
    ".globl seq_gp\n"
    "seq_gp:\n\t"
    "wrmsr\n"                       /* 0f 30: #GP */
    ".globl seq_gp_ret\n"
    "seq_gp_ret:\n\t"
    "mov %ebx, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"                     /* recording off */
    "pop %rbx\n\t"
    "ret\n"
    ".globl seq_fn1\n"
    "seq_fn1:\n"
    ".globl seq_ret1\n"
    "seq_ret1:\n\t"
    "ret\n"
    ".globl seq_fn2\n"
    "seq_fn2:\n"
    ".globl seq_ret2\n"
    "seq_ret2:\n\t"
    "ret\n"
    "seq_bad:\n\t"
    "ud2\n"

    /* #GP: drop the error code, skip the 2-byte WRMSR. */
    ".globl seq_gp_handler\n"
    "seq_gp_handler:\n\t"
    "add $8, %rsp\n\t"
    "addq $2, (%rsp)\n"
    ".globl seq_gp_iret\n"
    "seq_gp_iret:\n\t"
    "iretq\n"

    /*
     * void cs_seq(uint32_t msr, uint64_t on), for call-stack mode:
     * CALL f1 (A), which CALLs f2 (B) that returns (pops B), then CALLs
     * f3 (C), which CALLs f4 indirectly (D) that returns (pops D); f3
     * then turns recording off, with A and C outstanding.  The JMPs and
     * the JZ in between are the kinds call-stack mode leaves out.
     */
    ".globl cs_seq\n"
    "cs_seq:\n\t"
    "push %rbx\n\t"
    "mov %edi, %ebx\n\t"
    "lea cs_f4(%rip), %r11\n\t"
    "mov %edi, %ecx\n\t"
    "mov %esi, %eax\n\t"
    "mov %rsi, %rdx\n\t"
    "shr $32, %rdx\n\t"
    "wrmsr\n\t"                     /* recording on */
    "jmp 1f\n\t"
    "ud2\n"
    "1:\n"
    ".globl cs_c1\n"
    "cs_c1:\n\t"
    "call cs_f1\n\t"                /* A */
    "pop %rbx\n\t"
    "ret\n"
    ".globl cs_f1\n"
    "cs_f1:\n\t"
    "call cs_f2\n\t"                /* B */
    "xor %eax, %eax\n\t"
    "jz 1f\n\t"
    "ud2\n"
    "1:\n"
    ".globl cs_c3\n"
    "cs_c3:\n\t"
    "call cs_f3\n\t"                /* C */
    "ret\n"
    "cs_f2:\n\t"
    "ret\n"                         /* pops B */
    ".globl cs_f3\n"
    "cs_f3:\n\t"
    "call *%r11\n\t"                /* D */
    "mov %ebx, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"                     /* recording off */
    "ret\n"
    "cs_f4:\n\t"
    "jmp 1f\n\t"
    "ud2\n"
    "1:\n\t"
    "ret\n"                         /* pops D */

    /*
     * Ring 3: a JMP, then the JMP to user_return (whose INT3 goes back
     * to ring 0 through boot.S's bp_entry).
     */
    ".globl user_seq\n"
    "user_seq:\n"
    ".globl user_j\n"
    "user_j:\n\t"
    "jmp user_j_to\n\t"
    "ud2\n"
    ".globl user_j_to\n"
    "user_j_to:\n"
    ".globl user_jret\n"
    "user_jret:\n\t"
    "jmp user_return\n"
    ".globl user_seq_end\n"
    "user_seq_end:\n\t"
    "ud2\n"

    /*
     * void frz_region(uint64_t ctrl): GLOBAL_CTRL <- @ctrl, a sled of
     * 2-byte JMPs to the next instruction (the PMI comes in it), then
     * DEBUGCTL <- 0 and GLOBAL_CTRL <- 0.
     */
    ".globl frz_region\n"
    "frz_region:\n\t"
    "mov $0x38f, %ecx\n\t"
    "mov %edi, %eax\n\t"
    "mov %rdi, %rdx\n\t"
    "shr $32, %rdx\n\t"
    "wrmsr\n"
    ".globl frz_sled\n"
    "frz_sled:\n\t"
    ".rept " STR(FRZ_SLED_LEN) "\n\t"
    ".byte 0xeb, 0\n\t"             /* jmp 1f; 1: */
    ".endr\n"
    ".globl frz_sled_end\n"
    "frz_sled_end:\n\t"
    "mov $0x1d9, %ecx\n\t"
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"
    "mov $0x38f, %ecx\n\t"
    "wrmsr\n\t"
    "ret\n"

    /*
     * The PMI: DEBUGCTL and GLOBAL_STATUS first, before any branch of
     * the handler's own; then frz_snapshot() reads the records (the
     * CALL would be the youngest record unless LBR is frozen); then the
     * ack (GLOBAL_OVF_CTRL <- frz_ovf_clear: PMC0, and on v4 LBR_FRZ,
     * which resumes recording) and the EOI.  Eight pushes after the
     * CPU's 16-aligned 5-word frame: the CALL sees the ABI's alignment.
     */
    ".globl frz_pmi_handler\n"
    "frz_pmi_handler:\n\t"
    "push %rax\n\t"
    "push %rcx\n\t"
    "push %rdx\n\t"
    "mov $0x1d9, %ecx\n\t"
    "rdmsr\n\t"
    "mov %eax, frz_debugctl(%rip)\n\t"
    "mov %edx, frz_debugctl+4(%rip)\n\t"
    "mov $0x38e, %ecx\n\t"
    "rdmsr\n\t"
    "mov %eax, frz_status(%rip)\n\t"
    "mov %edx, frz_status+4(%rip)\n\t"
    "mov 24(%rsp), %rax\n\t"        /* the frame's RIP */
    "mov %rax, frz_rip(%rip)\n\t"
    "push %rsi\n\t"
    "push %rdi\n\t"
    "push %r8\n\t"
    "push %r9\n\t"
    "push %r10\n\t"
    "push %r11\n"
    ".globl frz_call\n"
    "frz_call:\n\t"
    "call frz_snapshot\n\t"
    "pop %r11\n\t"
    "pop %r10\n\t"
    "pop %r9\n\t"
    "pop %r8\n\t"
    "pop %rdi\n\t"
    "pop %rsi\n\t"
    "incq frz_count(%rip)\n\t"
    "mov $0x390, %ecx\n\t"
    "mov frz_ovf_clear(%rip), %eax\n\t"
    "mov frz_ovf_clear+4(%rip), %edx\n\t"
    "wrmsr\n\t"
    "mov $0x80b, %ecx\n\t"          /* x2APIC EOI */
    "xor %eax, %eax\n\t"
    "xor %edx, %edx\n\t"
    "wrmsr\n\t"
    "pop %rdx\n\t"
    "pop %rcx\n\t"
    "pop %rax\n"
    ".globl frz_iret\n"
    "frz_iret:\n\t"
    "iretq\n"
    ".globl frz_pmi_handler_end\n"
    "frz_pmi_handler_end:\n\t"
    ".popsection");

/* What the guest was told to find (the -append keys). */
static unsigned depth, fmt, pmuv;
static bool arch, exact;
/* Derived from them: the legacy layout of lbr.md 1.1. */
static uint32_t from_base, to_base;
static bool has_info, has_select, has_callstack;
static uint64_t select_valid;
/* RDMSR/WRMSR of registers that must exist that faulted. */
static unsigned msr_faults;

static uint8_t user_stack[4096] __attribute__((aligned(16)));

/* A record, as its MSRs read, and what it stands for. */
struct rec {
    uint64_t from, to, info;
    const char *what;
};

/* A branch of lbr_seq, in program order. */
struct branch {
    const char *what;
    uint64_t from, to;
    unsigned cls;
};

#define SEQ_N 10
static struct branch seq[SEQ_N];
static struct branch cs_a, cs_c;

#define A(label) ((uint64_t)(label))

static void seq_init(void)
{
    unsigned i = 0;

    seq[i++] = (struct branch) { "JMP rel8", A(seq_jmp8), A(seq_jmp8_to),
                                 BR_REL_JMP };
    seq[i++] = (struct branch) { "JMP rel32", A(seq_jmp32),
                                 A(seq_jmp32_to), BR_REL_JMP };
    seq[i++] = (struct branch) { "JZ taken", A(seq_jcc), A(seq_jcc_to),
                                 BR_JCC };
    seq[i++] = (struct branch) { "CALL rel", A(seq_call), A(seq_fn1),
                                 BR_REL_CALL };
    seq[i++] = (struct branch) { "RET", A(seq_ret1), A(seq_call_ret),
                                 BR_RET };
    seq[i++] = (struct branch) { "JMP *reg", A(seq_ijmp), A(seq_ijmp_to),
                                 BR_IND_JMP };
    seq[i++] = (struct branch) { "CALL *reg", A(seq_icall), A(seq_fn2),
                                 BR_IND_CALL };
    seq[i++] = (struct branch) { "RET", A(seq_ret2), A(seq_icall_ret),
                                 BR_RET };
    seq[i++] = (struct branch) { "#GP (FROM the faulting WRMSR)", A(seq_gp),
                                 A(seq_gp_handler), BR_FAR };
    seq[i++] = (struct branch) { "IRETQ of the #GP handler",
                                 A(seq_gp_iret), A(seq_gp_ret), BR_FAR };
    cs_a = (struct branch) { "CALL f1 (A)", A(cs_c1), A(cs_f1),
                             BR_REL_CALL };
    cs_c = (struct branch) { "CALL f3 (C)", A(cs_c3), A(cs_f3),
                             BR_REL_CALL };
}

/* Every seq[] entry whose class @keep_cls has (bit n: class n). */
static uint32_t seq_keep(uint32_t keep_cls)
{
    uint32_t keep = 0;
    unsigned i;

    for (i = 0; i < SEQ_N; i++) {
        if (keep_cls & 1u << seq[i].cls) {
            keep |= 1u << i;
        }
    }
    return keep;
}

#define SEQ_ALL ((1u << SEQ_N) - 1)

static uint64_t rd(uint32_t msr)
{
    uint64_t v;
    int vec = rdmsr_safe(msr, &v);

    if (vec != NO_EXCEPTION) {
        if (msr_faults++ < 8) {
            guest_printf("# RDMSR 0x%x raised vector %d\n", msr, vec);
        }
        return ~0ull;
    }
    return v;
}

static void wr(uint32_t msr, uint64_t val)
{
    int vec = wrmsr_safe(msr, val);

    if (vec != NO_EXCEPTION && msr_faults++ < 8) {
        guest_printf("# WRMSR 0x%x <- 0x%lx raised vector %d\n", msr, val,
                     vec);
    }
}

/* WRMSR with no call and no branch around it: ends a recorded run. */
static inline void wrmsr_raw(uint32_t msr, uint64_t val)
{
    asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)val),
                 "d"((uint32_t)(val >> 32)) : "memory");
}

/* Run lbr_seq with seq_gp_handler on the #GP gate. */
static void run_seq(uint32_t msr, uint64_t on)
{
    set_idt_raw(GP_VECTOR, seq_gp_handler, 0);
    lbr_seq(msr, on);
    restore_idt(GP_VECTOR);
}

/*
 * Compare @n records with what they should be; say each difference
 * (the first few) on a comment line.  Returns how many differ.
 */
static unsigned compare(const char *what, const char *idx,
                        const struct rec *got, const struct rec *want,
                        unsigned n, bool info)
{
    unsigned i, bad = 0;

    for (i = 0; i < n; i++) {
        if (got[i].from == want[i].from && got[i].to == want[i].to &&
            (!info || got[i].info == want[i].info)) {
            continue;
        }
        if (bad++ < 6) {
            guest_printf("# %s: %s %u: FROM 0x%lx TO 0x%lx INFO 0x%lx, "
                         "want %s: FROM 0x%lx TO 0x%lx INFO 0x%lx\n", what,
                         idx, i, got[i].from, got[i].to, got[i].info,
                         want[i].what, want[i].from, want[i].to,
                         want[i].info);
        }
    }
    return bad;
}

/* Legacy LBR */

static uint64_t pat_from(unsigned i)
{
    return 0xa00000 + 0x10 * i;
}

static uint64_t pat_to(unsigned i)
{
    return 0xb00000 + 0x10 * i;
}

/* Every record a known pattern, TOS = @tos0, recording and filters off. */
static void legacy_prefill(unsigned tos0)
{
    unsigned i;

    wr(MSR_DEBUGCTL, 0);
    if (has_select) {
        wr(MSR_LBR_SELECT, 0);
    }
    for (i = 0; i < depth; i++) {
        wr(from_base + i, pat_from(i));
        wr(to_base + i, pat_to(i));
    }
    wr(MSR_LBR_TOS, tos0);
}

/* What legacy_prefill() wrote. */
static void legacy_pattern(struct rec *want)
{
    unsigned i;

    for (i = 0; i < depth; i++) {
        want[i] = (struct rec) { pat_from(i), pat_to(i), 0,
                                 "the record written before" };
    }
}

/*
 * Record @b in @want as the SDM says: TOS incremented modulo the depth,
 * then the record written at TOS.  MSR_LBR_INFO reads 0 (no MISPRED, no
 * cycle count in the software backend).
 */
static void legacy_push(struct rec *want, unsigned *tos,
                        const struct branch *b)
{
    *tos = (*tos + 1) % depth;
    want[*tos] = (struct rec) { b->from, b->to, 0, b->what };
}

static uint64_t legacy_read(struct rec *got)
{
    unsigned i;

    for (i = 0; i < depth; i++) {
        got[i].from = rd(from_base + i);
        got[i].to = rd(to_base + i);
        got[i].info = has_info ? rd(MSR_LBR_INFO + i) : 0;
    }
    return rd(MSR_LBR_TOS);
}

/*
 * After lbr_seq from legacy_prefill(@tos0) with LBR_SELECT = @select:
 * the branches of seq[] that @keep names, the rest untouched.
 */
static void legacy_check_seq(const char *what, uint64_t select,
                             unsigned tos0, uint32_t keep)
{
    struct rec want[NHM_MSRS], got[NHM_MSRS];
    unsigned i, n = 0, want_tos = tos0, bad;
    uint64_t tos;

    legacy_pattern(want);
    for (i = 0; i < SEQ_N; i++) {
        if (keep & 1u << i) {
            legacy_push(want, &want_tos, &seq[i]);
            n++;
        }
    }
    tos = legacy_read(got);
    bad = compare(what, "slot", got, want, depth, has_info);
    check(tos == want_tos && !bad, "%s (LBR_SELECT 0x%lx): TOS %lu, want "
          "%u (%u records after TOS %u, modulo %u); %u of %u slots differ "
          "from those records and what was written before", what, select,
          tos, want_tos, n, tos0, depth, bad, depth);
}

/* The first index of @base.. that #GPs (@n if none); all later too? */
static unsigned probe_msrs(uint32_t base, unsigned n, bool *all_later)
{
    unsigned i, first = n;
    uint64_t v;

    *all_later = true;
    for (i = 0; i < n; i++) {
        bool gp = rdmsr_safe(base + i, &v) == GP_VECTOR;

        if (gp && first == n) {
            first = i;
        } else if (!gp && first != n) {
            *all_later = false;
        }
    }
    return first;
}

/*
 * Linux's check_msr() (arch/x86/events/intel/core.c): write old ^ @mask,
 * read it back, put old back.  Returns whether all of it held.
 */
static bool check_msr(uint32_t msr, uint64_t mask, uint64_t *got,
                      uint64_t *want)
{
    uint64_t old, back;

    if (rdmsr_safe(msr, &old) != NO_EXCEPTION) {
        *got = ~0ull;
        *want = 0;
        return false;
    }
    *want = old ^ mask;
    if (wrmsr_safe(msr, old ^ mask) != NO_EXCEPTION ||
        rdmsr_safe(msr, got) != NO_EXCEPTION || *got != *want) {
        return false;
    }
    return wrmsr_safe(msr, old) == NO_EXCEPTION &&
           rdmsr_safe(msr, &back) == NO_EXCEPTION && back == old;
}

static void sec_probe(void)
{
    uint32_t a, b, c, d;
    uint32_t other_from = from_base == MSR_CORE_FROM ? MSR_NHM_FROM :
                          MSR_CORE_FROM;
    uint32_t other_to = from_base == MSR_CORE_FROM ? MSR_NHM_TO :
                        MSR_CORE_TO;
    unsigned nprobe = from_base == MSR_CORE_FROM ? CORE_MSRS : NHM_MSRS;
    unsigned i, n_from, n_to, nonzero = 0, bad = 0;
    bool later_from, later_to, ok;
    uint64_t v, cap, got = 0, want = 0;
    uint32_t bad_msr = 0;
    int vec, vec2;

    cpuid(1, 0, &a, &b, &c, &d);
    check(c & (1u << 15), "CPUID.1:ECX[15] PDCM (PERF_CAPABILITIES): %u, "
          "want 1", c >> 15 & 1);
    vec = rdmsr_safe(MSR_PERF_CAPABILITIES, &cap);
    check(vec == NO_EXCEPTION && (cap & PERF_CAP_LBR_FMT) == fmt,
          "PERF_CAPABILITIES[5:0] (LBR format): 0x%lx (vector %d), want %u",
          cap & PERF_CAP_LBR_FMT, vec, fmt);

    /* The power-up state (SDM vol. 4: the LBR MSRs reset to 0) */
    for (i = 0; i < depth; i++) {
        nonzero += rd(from_base + i) != 0;
        nonzero += rd(to_base + i) != 0;
    }
    v = rd(MSR_LBR_TOS);
    check(!nonzero && v == 0, "at reset: %u of %u FROM/TO MSRs are not 0, "
          "TOS %lu; want all 0", nonzero, 2 * depth, v);
    v = rd(MSR_DEBUGCTL);
    check(v == 0, "at reset: DEBUGCTL 0x%lx, want 0", v);

    /* Where the records are: the other class's MSRs #GP */
    vec = rdmsr_safe(other_from, &v);
    vec2 = rdmsr_safe(other_to, &v);
    check(vec == GP_VECTOR && vec2 == GP_VECTOR, "depth %u: FROM/TO at "
          "0x%x/0x%x; the other class's 0x%x and 0x%x raise vectors %d "
          "and %d, want #GP (13)", depth, from_base, to_base, other_from,
          other_to, vec, vec2);
    n_from = probe_msrs(from_base, nprobe, &later_from);
    n_to = probe_msrs(to_base, nprobe, &later_to);
    check(n_from == depth && later_from, "FROM_IP 0x%x..: the first "
          "index that #GPs is %u (want the depth, %u), every later one "
          "up to %u #GPs: %s", from_base, n_from, depth, nprobe - 1,
          later_from ? "yes" : "no");
    check(n_to == depth && later_to, "TO_IP 0x%x..: the first index that "
          "#GPs is %u (want the depth, %u), every later one up to %u "
          "#GPs: %s", to_base, n_to, depth, nprobe - 1,
          later_to ? "yes" : "no");

    /* MSR_LBR_INFO_i: formats 5 and 7 (at depth 32) only */
    if (has_info) {
        n_from = probe_msrs(MSR_LBR_INFO, depth, &later_from);
        for (i = 0; i < depth; i++) {
            nonzero += rd(MSR_LBR_INFO + i) != 0;
        }
        vec = rdmsr_safe(MSR_LBR_INFO + depth, &v);
        check(n_from == depth && !nonzero && vec == GP_VECTOR, "format "
              "%u: MSR_LBR_INFO 0x%x..0x%x all read (the first #GP at "
              "index %u, want none below %u), %u not 0 at reset (want 0); "
              "index %u (0x%x) raises vector %d, want #GP (13)", fmt,
              MSR_LBR_INFO, MSR_LBR_INFO + depth - 1, n_from, depth,
              nonzero, depth, MSR_LBR_INFO + depth, vec);
    } else {
        vec = rdmsr_safe(MSR_LBR_INFO, &v);
        check(vec == GP_VECTOR, "format %u: no MSR_LBR_INFO: 0x%x raises "
              "vector %d, want #GP (13)", fmt, MSR_LBR_INFO, vec);
    }

    /* MSR_LBR_SELECT: none at depth 4; bits 8:0, and 9 from depth 16 */
    vec = rdmsr_safe(MSR_LBR_SELECT, &v);
    if (!has_select) {
        check(vec == GP_VECTOR, "depth %u: no MSR_LBR_SELECT: RDMSR 0x1c8 "
              "raises vector %d, want #GP (13)", depth, vec);
        vec = wrmsr_safe(MSR_LBR_SELECT, 0);
        check(vec == GP_VECTOR, "depth %u: no MSR_LBR_SELECT: WRMSR 0x1c8 "
              "<- 0 raises vector %d, want #GP (13)", depth, vec);
    } else {
        check(vec == NO_EXCEPTION && v == 0, "MSR_LBR_SELECT reads 0x%lx "
              "(vector %d) at reset, want 0", v, vec);
        vec = wrmsr_safe(MSR_LBR_SELECT, select_valid);
        vec2 = rdmsr_safe(MSR_LBR_SELECT, &v);
        check(vec == NO_EXCEPTION && vec2 == NO_EXCEPTION &&
              v == select_valid, "MSR_LBR_SELECT <- 0x%lx (every bit at "
              "depth %u): vector %d, reads back 0x%lx, want no fault and "
              "0x%lx", select_valid, depth, vec, v, select_valid);
        wr(MSR_LBR_SELECT, 0);
    }

    /* TOS, and Linux's read-back probe of it and of every FROM/TO */
    v = rd(MSR_LBR_TOS);
    check(v < depth, "TOS %lu is below the depth %u", v, depth);
    ok = check_msr(MSR_LBR_TOS, 3, &got, &want);
    check(ok, "Linux's check_msr on TOS: old^3 reads back 0x%lx, want "
          "0x%lx, and old is put back", got, want);
    for (i = 0; i < 2 * depth; i++) {
        uint32_t msr = i < depth ? from_base + i : to_base + i - depth;
        uint64_t g, w;

        if (!check_msr(msr, 0xffff, &g, &w)) {
            if (!bad++) {
                bad_msr = msr;
                got = g;
                want = w;
            }
        }
    }
    if (bad) {
        check(false, "Linux's check_msr on every FROM/TO (old^0xffff reads "
              "back, old is put back): %u of %u MSRs fail; the first: 0x%x "
              "reads 0x%lx, want 0x%lx", bad, 2 * depth, bad_msr, got, want);
    } else {
        check(true, "Linux's check_msr on every FROM/TO (old^0xffff reads "
              "back, old is put back): all %u MSRs pass", 2 * depth);
    }

    /* DEBUGCTL: LBR and FREEZE_LBRS_ON_PMI stick, BTF reads 0 */
    vec = wrmsr_safe(MSR_DEBUGCTL, DEBUGCTL_LBR | DEBUGCTL_BTF |
                     DEBUGCTL_FREEZE_LBRS_ON_PMI);
    vec2 = rdmsr_safe(MSR_DEBUGCTL, &v);
    wrmsr_raw(MSR_DEBUGCTL, 0);
    check(vec == NO_EXCEPTION && vec2 == NO_EXCEPTION &&
          v == (DEBUGCTL_LBR | DEBUGCTL_FREEZE_LBRS_ON_PMI), "DEBUGCTL <- "
          "0x803 (LBR, BTF, FREEZE_LBRS_ON_PMI): vector %d, reads 0x%lx "
          "(vector %d), want 0x801 (BTF accepted, ignored)", vec, v, vec2);
    v = rd(MSR_DEBUGCTL);
    check(v == 0, "DEBUGCTL <- 0: reads 0x%lx, want 0", v);
}

static void sec_records(void)
{
    const unsigned tos0 = depth - 3;
    struct rec got[NHM_MSRS], want[NHM_MSRS];
    unsigned i, want_tos = tos0, kept, others = 0, info_bad = 0;
    int nt_slot = -1;
    uint64_t tos, v;

    legacy_prefill(tos0);
    run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    tos = legacy_read(got);

    legacy_pattern(want);
    for (i = 0; i < SEQ_N; i++) {
        legacy_push(want, &want_tos, &seq[i]);
    }
    check(tos == want_tos, "TOS after %u branches from TOS %u: %lu, want "
          "%u (incremented modulo %u before each record)", SEQ_N, tos0,
          tos, want_tos, depth);
    kept = SEQ_N < depth ? SEQ_N : depth;
    for (i = 0; i < kept; i++) {
        unsigned slot = (want_tos + depth - i) % depth;
        const struct branch *b = &seq[SEQ_N - 1 - i];

        check(got[slot].from == b->from && got[slot].to == b->to,
              "record TOS-%u (slot %u) is %s: FROM 0x%lx TO 0x%lx, want "
              "FROM 0x%lx TO 0x%lx", i, slot, b->what, got[slot].from,
              got[slot].to, b->from, b->to);
        if (has_info && got[slot].info) {
            info_bad++;
        }
    }
    for (i = 0; i < depth; i++) {
        if (got[i].from == A(seq_jcc_nt)) {
            nt_slot = i;
        }
    }
    check(nt_slot < 0, "the not-taken JNZ at 0x%lx is in no record (the "
          "slot that has it: %d, -1 for none)", A(seq_jcc_nt), nt_slot);
    if (depth > SEQ_N) {
        for (i = kept; i < depth; i++) {
            unsigned slot = (want_tos + depth - i) % depth;

            others += got[slot].from != want[slot].from ||
                      got[slot].to != want[slot].to;
        }
        check(!others, "the %u slots older than the first branch keep what "
              "was written before: %u differ (TOS-%u is 0x%lx -> 0x%lx, "
              "want 0x%lx -> 0x%lx)", depth - kept, others, kept,
              got[(want_tos + depth - kept) % depth].from,
              got[(want_tos + depth - kept) % depth].to,
              want[(want_tos + depth - kept) % depth].from,
              want[(want_tos + depth - kept) % depth].to);
    }
    if (has_info) {
        check(!info_bad, "MSR_LBR_INFO of the %u new records reads 0 "
              "(MISPRED 0, no cycles): %u are not 0", kept, info_bad);
    }
    v = rd(MSR_DEBUGCTL);
    check(v == 0, "DEBUGCTL after the run: 0x%lx, want 0", v);

    /* Without DEBUGCTL.LBR nothing is recorded */
    legacy_prefill(tos0);
    run_seq(MSR_DEBUGCTL, 0);
    legacy_check_seq("DEBUGCTL.LBR 0: nothing recorded", 0, tos0, 0);
}

static void sec_select(void)
{
    const unsigned tos0 = 1;
    struct rec got[NHM_MSRS];
    unsigned i, ring3 = 0;
    uint64_t v, tos;
    bool int3 = false;
    int vec;

    if (!has_select) {
        check(true, "LBR_SELECT filters # SKIP depth %u has no "
              "MSR_LBR_SELECT", depth);
        return;
    }
    for (i = 0; i < BR_N; i++) {
        legacy_prefill(tos0);
        wr(MSR_LBR_SELECT, 1ull << classes[i].select_bit);
        run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
        legacy_check_seq(classes[i].name, 1ull << classes[i].select_bit,
                         tos0, seq_keep(((1u << BR_N) - 1) & ~(1u << i)));
    }
    legacy_prefill(tos0);
    wr(MSR_LBR_SELECT, SELECT_CPL_EQ_0);
    run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    legacy_check_seq("CPL_EQ_0, ring 0 only: nothing recorded, TOS and "
                     "records unchanged", SELECT_CPL_EQ_0, tos0, 0);
    legacy_prefill(tos0);
    wr(MSR_LBR_SELECT, SELECT_CPL_NEQ_0);
    run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    legacy_check_seq("CPL_NEQ_0, ring 0 only: everything recorded",
                     SELECT_CPL_NEQ_0, tos0, SEQ_ALL);

    /* Reserved bits: above 9, and 9 without call stack */
    for (i = has_callstack ? 10 : 9; i < 64; i += i < 11 ? 1 : 52) {
        wr(MSR_LBR_SELECT, SELECT_JCC);
        vec = wrmsr_safe(MSR_LBR_SELECT, 1ull << i);
        v = rd(MSR_LBR_SELECT);
        check(vec == GP_VECTOR && v == SELECT_JCC, "MSR_LBR_SELECT <- "
              "bit %u (reserved at depth %u): vector %d, want #GP (13); "
              "reads 0x%lx after, want 0x%lx", i, depth, vec, v,
              SELECT_JCC);
    }
    wr(MSR_LBR_SELECT, 0);

    /*
     * Ring 3, CPL_EQ_0: only branches into ring 3 are recorded, the
     * IRET that enters it and user_seq's two JMPs; the INT3 back is not.
     */
    legacy_prefill(0);
    for (i = 0; i < depth; i++) {
        wr(from_base + i, 0);
        wr(to_base + i, 0);
    }
    wr(MSR_LBR_SELECT, SELECT_CPL_EQ_0);
    wr(MSR_DEBUGCTL, DEBUGCTL_LBR);
    run_user(user_seq, user_stack + sizeof(user_stack));
    wrmsr_raw(MSR_DEBUGCTL, 0);
    tos = legacy_read(got);
    check(tos == 3 && got[3].from == A(user_jret) &&
          got[3].to == A(user_return) && got[2].from == A(user_j) &&
          got[2].to == A(user_j_to) && got[1].to == A(user_seq) &&
          got[0].from == 0 && got[4 % depth].from == 0,
          "ring 3 with LBR_SELECT CPL_EQ_0: TOS %lu, want 3; slot 3 0x%lx "
          "-> 0x%lx, want JMP user_return 0x%lx -> 0x%lx; slot 2 0x%lx -> "
          "0x%lx, want JMP 0x%lx -> 0x%lx; slot 1 TO 0x%lx, want the IRET "
          "to 0x%lx; slots 0 and 4 FROM 0x%lx, 0x%lx, want 0", tos,
          got[3].from, got[3].to, A(user_jret), A(user_return),
          got[2].from, got[2].to, A(user_j), A(user_j_to), got[1].to,
          A(user_seq), got[0].from, got[4 % depth].from);

    /* Ring 3, CPL_NEQ_0: the INT3 into ring 0 is, ring 3's are not */
    legacy_prefill(0);
    for (i = 0; i < depth; i++) {
        wr(from_base + i, 0);
        wr(to_base + i, 0);
    }
    wr(MSR_LBR_SELECT, SELECT_CPL_NEQ_0);
    wr(MSR_DEBUGCTL, DEBUGCTL_LBR);
    run_user(user_seq, user_stack + sizeof(user_stack));
    wrmsr_raw(MSR_DEBUGCTL, 0);
    legacy_read(got);
    for (i = 0; i < depth; i++) {
        /* INT3 is a trap: its frame returns after it */
        int3 |= got[i].from == A(user_return) + 1 &&
                got[i].to == A(bp_entry);
        ring3 += (got[i].to >= A(user_seq) && got[i].to < A(user_seq_end)) ||
                 got[i].to == A(user_return);
    }
    check(int3 && !ring3, "ring 3 with LBR_SELECT CPL_NEQ_0: the INT3 at "
          "user_return, FROM 0x%lx TO bp_entry 0x%lx, recorded: %s (want "
          "yes); records into ring 3: %u (want 0)", A(user_return) + 1,
          A(bp_entry), int3 ? "yes" : "no", ring3);
    wr(MSR_LBR_SELECT, 0);
}

static void sec_callstack(void)
{
    struct rec got[NHM_MSRS], want[NHM_MSRS];
    const unsigned tos0 = depth - 2;
    unsigned bad, tos_a, tos_c, popped;
    uint64_t tos, v;

    if (!has_callstack) {
        check(true, "call-stack mode # SKIP depth %u has no "
              "LBR_SELECT.EN_CALLSTACK", depth);
        return;
    }
    legacy_prefill(tos0);
    wr(MSR_LBR_SELECT, SELECT_CALLSTACK);
    v = rd(MSR_LBR_SELECT);
    check(v == SELECT_CALLSTACK, "MSR_LBR_SELECT <- 0x%lx (EN_CALLSTACK, "
          "JCC, both JMPs, FAR suppressed): reads 0x%lx", SELECT_CALLSTACK,
          v);
    cs_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    tos = legacy_read(got);

    /*
     * From TOS depth-2: A at depth-1; B at 0, popped (TOS back to
     * depth-1, modulo); C at 0; D at 1, popped.
     */
    tos_a = depth - 1;
    tos_c = 0;
    popped = 1;
    legacy_pattern(want);
    want[tos_a] = (struct rec) { cs_a.from, cs_a.to, 0, cs_a.what };
    want[tos_c] = (struct rec) { cs_c.from, cs_c.to, 0, cs_c.what };
    want[popped] = (struct rec) { 0, 0, 0, "popped by RET: 0" };
    check(tos == tos_c, "call stack: TOS %lu, want %u (from %u: 2 CALLs "
          "outstanding, 2 popped, modulo %u)", tos, tos_c, tos0, depth);
    check(got[tos_c].from == cs_c.from && got[tos_c].to == cs_c.to,
          "call stack: the youngest (slot %u) is %s: FROM 0x%lx TO 0x%lx, "
          "want FROM 0x%lx TO 0x%lx", tos_c, cs_c.what, got[tos_c].from,
          got[tos_c].to, cs_c.from, cs_c.to);
    check(got[tos_a].from == cs_a.from && got[tos_a].to == cs_a.to,
          "call stack: the next (slot %u) is %s: FROM 0x%lx TO 0x%lx, "
          "want FROM 0x%lx TO 0x%lx", tos_a, cs_a.what, got[tos_a].from,
          got[tos_a].to, cs_a.from, cs_a.to);
    check(got[popped].from == 0 && got[popped].to == 0, "call stack: the "
          "slot of the popped CALL *reg (D, slot %u) reads FROM 0x%lx TO "
          "0x%lx, want 0 and 0", popped, got[popped].from, got[popped].to);
    bad = compare("call stack", "slot", got, want, depth, has_info);
    check(!bad, "call stack: %u of %u slots differ from A, C, the popped "
          "slot and what was written before (no JMP, JZ or RET record)",
          bad, depth);
    wr(MSR_LBR_SELECT, 0);
}

/* Section 4: freeze at a PMI */

static unsigned gp_width;
static bool fw_write;
static uint64_t frz_tos;
static struct rec frz_rec[NHM_MSRS];

/*
 * Called from frz_pmi_handler.  TOS first, with no branch before it,
 * then the slots from the youngest down: when LBR is not frozen the
 * loop's own branches land above TOS, so the youngest few read here are
 * still those of before the call.
 */
void frz_snapshot(void)
{
    uint32_t lo, hi;
    unsigned i;

    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_LBR_TOS));
    frz_tos = lo | (uint64_t)hi << 32;
    for (i = 0; i < depth && i < NHM_MSRS; i++) {
        unsigned slot = (frz_tos + depth - i) % depth;

        frz_rec[slot].from = rd(from_base + slot);
        frz_rec[slot].to = rd(to_base + slot);
    }
}

static uint64_t width_mask(unsigned width)
{
    return width >= 64 ? ~0ull : (1ull << width) - 1;
}

static void counters_off(void)
{
    wr(MSR_IA32_PERF_GLOBAL_CTRL, 0);
    wr(MSR_IA32_PERFEVTSEL0, 0);
    wr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1);
}

/*
 * One PMI K instructions into frz_sled, with DEBUGCTL.LBR and, if
 * @freeze, FREEZE_LBRS_ON_PMI.
 */
static void freeze_run(bool freeze)
{
    const char *what = freeze ? "FREEZE_LBRS_ON_PMI" : "no freeze";
    bool v4 = pmuv >= 4;
    uint64_t k = FRZ_K, start, status, rip, tos;
    unsigned youngest, i, inside = 0;
    struct rec got[NHM_MSRS];
    bool rip_ok;

    counters_off();
    legacy_prefill(0);
    frz_count = 0;
    frz_rip = 0;
    frz_debugctl = ~0ull;
    frz_status = 0;
    frz_tos = ~0ull;
    frz_ovf_clear = 1 | (v4 ? GLOBAL_STATUS_LBR_FRZ : 0);
    start = (width_mask(gp_width) + 1 - k) & width_mask(gp_width);
    if (fw_write) {
        wr(MSR_IA32_A_PMC0, start);
    } else {
        wr(MSR_IA32_PMC0, (uint32_t)start);
    }
    wr(MSR_IA32_PERFEVTSEL0, INST_ALL_INT);
    wr(MSR_X2APIC_LVTPC, PMI_VECTOR);
    wr(MSR_DEBUGCTL, DEBUGCTL_LBR |
       (freeze ? DEBUGCTL_FREEZE_LBRS_ON_PMI : 0));
    asm volatile("sti" : : : "memory");
    frz_region(1);
    asm volatile("cli" : : : "memory");
    wr(MSR_DEBUGCTL, 0);
    counters_off();
    wr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    status = rd(MSR_IA32_PERF_GLOBAL_STATUS);
    tos = legacy_read(got);

    rip = frz_rip;
    rip_ok = frz_count == 1 && rip > A(frz_sled) && rip <= A(frz_sled_end) &&
             !((rip - A(frz_sled)) & 1);
    check(rip_ok, "%s: one PMI (%lu) from PMC0 preset to -%lu, in the JMP "
          "sled: at sled+%ld (sled of %u 2-byte JMPs)", what, frz_count, k,
          (int64_t)(rip - A(frz_sled)), FRZ_SLED_LEN);
    if (!rip_ok) {
        return;
    }
    youngest = frz_tos % depth;
    if (freeze) {
        check(frz_rec[youngest].to == rip &&
              frz_rec[youngest].from == rip - 2, "%s: in the PMI handler "
              "the youngest record (TOS %lu) is the JMP before the "
              "interrupted RIP 0x%lx: FROM 0x%lx TO 0x%lx, want FROM 0x%lx "
              "TO 0x%lx", what, frz_tos, rip, frz_rec[youngest].from,
              frz_rec[youngest].to, rip - 2, rip);
        for (i = 0; i < depth; i++) {
            inside += (frz_rec[i].from >= A(frz_pmi_handler) &&
                       frz_rec[i].from < A(frz_pmi_handler_end)) ||
                      (frz_rec[i].to >= A(frz_pmi_handler) &&
                       frz_rec[i].to < A(frz_pmi_handler_end)) ||
                      frz_rec[i].to == A(frz_snapshot);
        }
        check(!inside, "%s: no record in the handler's snapshot is the "
              "PMI's delivery or the handler's (0x%lx..0x%lx, "
              "frz_snapshot 0x%lx): %u are", what, A(frz_pmi_handler),
              A(frz_pmi_handler_end), A(frz_snapshot), inside);
        if (!v4) {
            check((frz_debugctl & (DEBUGCTL_LBR |
                                   DEBUGCTL_FREEZE_LBRS_ON_PMI)) ==
                  DEBUGCTL_FREEZE_LBRS_ON_PMI, "%s, PMU v%u: DEBUGCTL in "
                  "the handler 0x%lx, want LBR (bit 0) cleared by the PMI, "
                  "FREEZE_LBRS_ON_PMI (bit 11) kept", what, pmuv,
                  frz_debugctl);
            check(tos == frz_tos && got[youngest].from == rip - 2 &&
                  got[youngest].to == rip, "%s, PMU v%u: nothing recorded "
                  "after the PMI (LBR stays off): TOS %lu, want %lu; "
                  "youngest 0x%lx -> 0x%lx, want 0x%lx -> 0x%lx", what,
                  pmuv, tos, frz_tos, got[youngest].from,
                  got[youngest].to, rip - 2, rip);
        } else {
            bool iret = false;

            check((frz_debugctl & (DEBUGCTL_LBR |
                                   DEBUGCTL_FREEZE_LBRS_ON_PMI)) ==
                  (DEBUGCTL_LBR | DEBUGCTL_FREEZE_LBRS_ON_PMI) &&
                  (frz_status & GLOBAL_STATUS_LBR_FRZ), "%s, PMU v%u: in "
                  "the handler DEBUGCTL 0x%lx (want LBR and FREEZE kept, "
                  "0x801) and GLOBAL_STATUS 0x%lx (want LBR_FRZ, bit 58)",
                  what, pmuv, frz_debugctl, frz_status);
            for (i = 0; i < depth; i++) {
                iret |= got[i].from == A(frz_iret) && got[i].to == rip;
            }
            check(!(status & GLOBAL_STATUS_LBR_FRZ) && iret &&
                  got[tos % depth].from == A(frz_sled_end) - 2 &&
                  got[tos % depth].to == A(frz_sled_end), "%s, PMU v%u: "
                  "acking LBR_FRZ resumes recording: GLOBAL_STATUS 0x%lx "
                  "after (want bit 58 clear); the handler's IRETQ 0x%lx -> "
                  "0x%lx recorded: %s; youngest 0x%lx -> 0x%lx, want the "
                  "sled's last JMP 0x%lx -> 0x%lx", what, pmuv, status,
                  A(frz_iret), rip, iret ? "yes" : "no",
                  got[tos % depth].from, got[tos % depth].to,
                  A(frz_sled_end) - 2, A(frz_sled_end));
        }
    } else {
        unsigned s1 = (frz_tos + depth - 1) % depth;
        unsigned s2 = (frz_tos + depth - 2) % depth;

        /* The CALL, the PMI's delivery, then the JMP before it */
        check(frz_rec[youngest].from == A(frz_call) &&
              frz_rec[youngest].to == A(frz_snapshot) &&
              frz_rec[s1].from == rip && frz_rec[s1].to == A(frz_pmi_handler)
              && frz_rec[s2].from == rip - 2 && frz_rec[s2].to == rip,
              "%s: in the handler the youngest records are the CALL 0x%lx "
              "-> 0x%lx (want 0x%lx -> 0x%lx), the PMI 0x%lx -> 0x%lx "
              "(want 0x%lx -> 0x%lx), the JMP 0x%lx -> 0x%lx (want 0x%lx "
              "-> 0x%lx)", what, frz_rec[youngest].from,
              frz_rec[youngest].to, A(frz_call), A(frz_snapshot),
              frz_rec[s1].from, frz_rec[s1].to, rip, A(frz_pmi_handler),
              frz_rec[s2].from, frz_rec[s2].to, rip - 2, rip);
        check((frz_debugctl & DEBUGCTL_LBR) &&
              !(frz_status & GLOBAL_STATUS_LBR_FRZ), "%s: in the handler "
              "DEBUGCTL 0x%lx (want LBR kept) and GLOBAL_STATUS 0x%lx "
              "(want no LBR_FRZ)", what, frz_debugctl, frz_status);
    }
}

/*
 * The freeze belongs to the PMI request, not to its delivery: with the
 * LVTPC masked no PMI arrives, yet recording stops at the overflow
 * (SDM "Freezing LBR and Performance Counters on PMI"; KVM's
 * intel_pmu_deliver_pmi() freezes before the LVT decides).
 */
static void freeze_masked(void)
{
    bool v4 = pmuv >= 4;
    uint64_t start, status, tos;
    struct rec got[NHM_MSRS];
    uint64_t from, to;

    counters_off();
    legacy_prefill(0);
    frz_count = 0;
    start = (width_mask(gp_width) + 1 - FRZ_K) & width_mask(gp_width);
    if (fw_write) {
        wr(MSR_IA32_A_PMC0, start);
    } else {
        wr(MSR_IA32_PMC0, (uint32_t)start);
    }
    wr(MSR_IA32_PERFEVTSEL0, INST_ALL_INT);
    wr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED | PMI_VECTOR);
    wr(MSR_DEBUGCTL, DEBUGCTL_LBR | DEBUGCTL_FREEZE_LBRS_ON_PMI);
    asm volatile("sti" : : : "memory");
    frz_region(1);
    asm volatile("cli" : : : "memory");
    status = rd(MSR_IA32_PERF_GLOBAL_STATUS);
    counters_off();
    tos = legacy_read(got);
    from = got[tos % depth].from;
    to = got[tos % depth].to;
    wr(MSR_IA32_PERF_GLOBAL_OVF_CTRL, 1 | (v4 ? GLOBAL_STATUS_LBR_FRZ : 0));
    wr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    check(frz_count == 0 && (status & 1) &&
          (!v4 || (status & GLOBAL_STATUS_LBR_FRZ)), "LVTPC masked, PMU "
          "v%u: no PMI (%lu taken), GLOBAL_STATUS 0x%lx (want PMC0's "
          "overflow%s)", pmuv, frz_count, status,
          v4 ? " and LBR_FRZ" : "");
    check(from >= A(frz_sled) && to == from + 2 && to < A(frz_sled_end),
          "LVTPC masked, PMU v%u: recording stopped at the overflow, in the "
          "sled: youngest record 0x%lx -> 0x%lx (sled 0x%lx..0x%lx; its "
          "last JMP, had LBR gone on, ends at 0x%lx)", pmuv, from, to,
          A(frz_sled), A(frz_sled_end), A(frz_sled_end));
}

static void sec_freeze(void)
{
    uint32_t a, b, c, d;
    unsigned version;

    if (!exact) {
        check(true, "freeze at PMI # SKIP needs exact=1 (-accel "
              "kvm,vpmu-exact=on) for a PMI at a known instruction");
        return;
    }
    cpuid(0xa, 0, &a, &b, &c, &d);
    version = a & 0xff;
    gp_width = a >> 16 & 0xff;
    check(version == pmuv, "CPUID.0AH:EAX[7:0] PMU version %u, want "
          "pmuv=%u", version, pmuv);
    fw_write = rd(MSR_PERF_CAPABILITIES) & PERF_CAP_FW_WRITE;
    if (version < 2 || !apic_enable_x2apic()) {
        check(false, "freeze at PMI: needs PMU v2+ (v%u) and an x2APIC "
              "for the PMI", version);
        return;
    }
    /* Nothing but the PMI: the 8259s masked, the APIC enabled. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    wr(MSR_X2APIC_SVR, 0x1ff);
    wr(MSR_X2APIC_LVTPC, APIC_LVT_MASKED);
    set_idt_raw(PMI_VECTOR, frz_pmi_handler, 0);
    freeze_run(false);
    freeze_run(true);
    freeze_masked();
}

/* Architectural LBR */

static void arch_read(struct rec *got, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        got[i].from = rd(MSR_ARCH_LBR_FROM + i);
        got[i].to = rd(MSR_ARCH_LBR_TO + i);
        got[i].info = rd(MSR_ARCH_LBR_INFO + i);
    }
}

static void arch_zero(struct rec *want)
{
    unsigned i;

    for (i = 0; i < ARCH_MAX; i++) {
        want[i] = (struct rec) { 0, 0, 0, "0" };
    }
}

static struct rec arch_rec(const struct branch *b)
{
    return (struct rec) { b->from, b->to,
                          (uint64_t)classes[b->cls].br_type <<
                          INFO_BR_TYPE_SHIFT, b->what };
}

/*
 * After lbr_seq with LBR_CTL @ctl: the branches of seq[] that @keep
 * names, youngest at index 0, on top of what @before held; entries at
 * or beyond @d read 0.
 */
static void arch_check_seq(const char *what, uint64_t ctl, unsigned d,
                           const struct rec *before, uint32_t keep)
{
    struct rec want[ARCH_MAX], got[ARCH_MAX];
    unsigned i, j, n = 0, bad;

    arch_zero(want);
    for (i = SEQ_N; i-- > 0;) {
        if (keep & 1u << i) {
            if (n < d) {
                want[n] = arch_rec(&seq[i]);
            }
            n++;
        }
    }
    for (i = n, j = 0; i < d; i++, j++) {
        want[i] = before[j];
    }
    arch_read(got, ARCH_MAX);
    bad = compare(what, "index", got, want, ARCH_MAX, true);
    check(!bad, "arch %s (LBR_CTL 0x%lx, depth %u): %u of %u entries "
          "differ from the %u branches expected (index 0 the youngest, "
          "INFO = BR_TYPE << 56), what was there before, and 0 at index "
          "%u and beyond", what, ctl, d, bad, ARCH_MAX, n, d);
}

static void sec_arch(void)
{
    static const uint32_t legacy[] = {
        MSR_LBR_SELECT, MSR_LBR_TOS, MSR_CORE_FROM, MSR_NHM_FROM,
        MSR_LBR_INFO,
    };
    static const unsigned depth_ok[] = { 8, 16, 24, 32 };
    static const unsigned depth_bad[] = { 0, 12, 40 };
    static const unsigned ctl_bad[] = { 4, 15, 23, 63 };
    struct rec zero[ARCH_MAX], got[ARCH_MAX], want[ARCH_MAX], before[ARCH_MAX];
    uint32_t a, b, c, d, max;
    unsigned i, bad;
    uint64_t v, cap;
    int vec, vec2;

    cpuid(0, 0, &max, &b, &c, &d);
    cpuid(7, 0, &a, &b, &c, &d);
    check(d & (1u << 19), "CPUID.(7,0):EDX[19] ARCH_LBR: %u (EDX 0x%x), "
          "want 1", d >> 19 & 1, d);
    check(max >= 0x1c, "CPUID.0:EAX max leaf 0x%x, want 0x1c or above "
          "(level=0x1c)", max);
    cpuid(0x1c, 0, &a, &b, &c, &d);
    check((a & 0xff) == 0x0f, "CPUID.1CH:EAX[7:0] depths 0x%x, want 0xf "
          "(8, 16, 24, 32)", a & 0xff);
    check(b == 7, "CPUID.1CH:EBX 0x%x, want 7 (CPL filter, branch filter, "
          "call stack)", b);
    check(c == 4, "CPUID.1CH:ECX 0x%x, want 4 (branch type only)", c);
    cpuid(1, 0, &a, &b, &c, &d);
    check(c & (1u << 15), "CPUID.1:ECX[15] PDCM: %u, want 1", c >> 15 & 1);
    vec = rdmsr_safe(MSR_PERF_CAPABILITIES, &cap);
    check(vec == NO_EXCEPTION && (cap & PERF_CAP_LBR_FMT) == 0x3f,
          "PERF_CAPABILITIES[5:0] 0x%lx (vector %d), want 0x3f", cap &
          PERF_CAP_LBR_FMT, vec);
    for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        vec = rdmsr_safe(legacy[i], &v);
        check(vec == GP_VECTOR, "arch LBR: legacy MSR 0x%x raises vector "
              "%d, want #GP (13)", legacy[i], vec);
    }
    vec = rdmsr_safe(MSR_ARCH_LBR_FROM + ARCH_MAX, &v);
    check(vec == GP_VECTOR, "arch LBR: IA32_LBR_32_FROM_IP (0x%x, beyond "
          "the largest depth) raises vector %d, want #GP (13)",
          MSR_ARCH_LBR_FROM + ARCH_MAX, vec);

    /* IA32_LBR_DEPTH */
    v = rd(MSR_ARCH_LBR_DEPTH);
    check(v == 32, "IA32_LBR_DEPTH at reset: %lu, want 32", v);
    for (i = 0; i < sizeof(depth_ok) / sizeof(depth_ok[0]); i++) {
        vec = wrmsr_safe(MSR_ARCH_LBR_DEPTH, depth_ok[i]);
        v = rd(MSR_ARCH_LBR_DEPTH);
        check(vec == NO_EXCEPTION && v == depth_ok[i], "IA32_LBR_DEPTH <- "
              "%u: vector %d, reads %lu; want no fault and %u",
              depth_ok[i], vec, v, depth_ok[i]);
    }
    for (i = 0; i < sizeof(depth_bad) / sizeof(depth_bad[0]); i++) {
        vec = wrmsr_safe(MSR_ARCH_LBR_DEPTH, depth_bad[i]);
        v = rd(MSR_ARCH_LBR_DEPTH);
        check(vec == GP_VECTOR && v == 32, "IA32_LBR_DEPTH <- %u (not in "
              "CPUID.1CH:EAX): vector %d, want #GP (13); reads %lu after, "
              "want 32", depth_bad[i], vec, v);
    }

    /* IA32_LBR_CTL */
    v = rd(MSR_ARCH_LBR_CTL);
    check(v == 0, "IA32_LBR_CTL at reset: 0x%lx, want 0", v);
    vec = wrmsr_safe(MSR_ARCH_LBR_CTL, CTL_VALID);
    vec2 = rdmsr_safe(MSR_ARCH_LBR_CTL, &v);
    wrmsr_raw(MSR_ARCH_LBR_CTL, 0);
    check(vec == NO_EXCEPTION && vec2 == NO_EXCEPTION && v == CTL_VALID,
          "IA32_LBR_CTL <- 0x%lx (every bit): vector %d, reads 0x%lx; want "
          "no fault and 0x%lx", CTL_VALID, vec, v, CTL_VALID);
    for (i = 0; i < sizeof(ctl_bad) / sizeof(ctl_bad[0]); i++) {
        vec = wrmsr_safe(MSR_ARCH_LBR_CTL, 1ull << ctl_bad[i]);
        v = rd(MSR_ARCH_LBR_CTL);
        check(vec == GP_VECTOR && v == 0, "IA32_LBR_CTL <- bit %u "
              "(reserved): vector %d, want #GP (13); reads 0x%lx after, "
              "want 0", ctl_bad[i], vec, v);
    }

    /* DEBUGCTL.LBR is no switch here: discarded, nothing recorded */
    wr(MSR_ARCH_LBR_DEPTH, 32);
    vec = wrmsr_safe(MSR_DEBUGCTL, DEBUGCTL_LBR);
    vec2 = rdmsr_safe(MSR_DEBUGCTL, &v);
    wrmsr_raw(MSR_DEBUGCTL, 0);
    check(vec == NO_EXCEPTION && vec2 == NO_EXCEPTION &&
          !(v & DEBUGCTL_LBR), "arch LBR: DEBUGCTL <- LBR: vector %d, "
          "reads 0x%lx (vector %d); want no fault and bit 0 clear", vec, v,
          vec2);
    arch_zero(zero);
    run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    arch_check_seq("DEBUGCTL.LBR only: nothing recorded", 0, 32, zero, 0);

    /* The sequence, every branch kind enabled */
    run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
    arch_check_seq("every branch", CTL_ALL, 32, zero, SEQ_ALL);
    arch_read(got, ARCH_MAX);
    for (i = 0, bad = 0; i < ARCH_MAX; i++) {
        bad += got[i].from == A(seq_jcc_nt);
    }
    check(!bad, "arch: the not-taken JNZ at 0x%lx is in no record (%u "
          "are)", A(seq_jcc_nt), bad);
    v = rd(MSR_ARCH_LBR_CTL);
    check(v == 0, "IA32_LBR_CTL after the run: 0x%lx, want 0", v);

    /* Without OS nothing in ring 0 is recorded: the records stay */
    arch_read(before, ARCH_MAX);
    run_seq(MSR_ARCH_LBR_CTL, CTL_ALL & ~CTL_OS);
    arch_check_seq("no OS: nothing recorded in ring 0",
                   CTL_ALL & ~CTL_OS, 32, before, 0);
    /* Without LBREn neither */
    run_seq(MSR_ARCH_LBR_CTL, CTL_ALL & ~CTL_LBREN);
    arch_check_seq("no LBREn: nothing recorded", CTL_ALL & ~CTL_LBREN, 32,
                   before, 0);

    /* A DEPTH write zeroes every record, same depth or not */
    wr(MSR_ARCH_LBR_DEPTH, 32);
    arch_read(got, ARCH_MAX);
    bad = compare("DEPTH <- 32", "index", got, zero, ARCH_MAX, true);
    check(!bad, "IA32_LBR_DEPTH <- 32 (unchanged) zeroes every record: "
          "%u of %u entries are not 0", bad, ARCH_MAX);

    /* Each branch type off in turn */
    for (i = 0; i < BR_N; i++) {
        uint64_t ctl = CTL_ALL & ~(1ull << classes[i].ctl_bit);

        wr(MSR_ARCH_LBR_DEPTH, 32);
        run_seq(MSR_ARCH_LBR_CTL, ctl);
        arch_check_seq(classes[i].name, ctl, 32, zero,
                       seq_keep(((1u << BR_N) - 1) & ~(1u << i)));
    }

    /* Depth 8: the youngest 8, index 8 and beyond read 0 */
    wr(MSR_ARCH_LBR_DEPTH, 8);
    run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
    arch_check_seq("depth 8, every branch", CTL_ALL, 8, zero, SEQ_ALL);
    wr(MSR_ARCH_LBR_DEPTH, 24);
    arch_read(got, ARCH_MAX);
    bad = compare("DEPTH <- 24", "index", got, zero, ARCH_MAX, true);
    check(!bad, "IA32_LBR_DEPTH <- 24 zeroes every record: %u of %u "
          "entries are not 0", bad, ARCH_MAX);

    /*
     * Call stack at depth 8, on top of the full sequence (10 records,
     * the youngest 8 kept): A and C outstanding at 1 and 0, the youngest
     * 5 of the sequence below them, and at index 7 the slot of the popped
     * D, which RET zeroed (it held the sequence's first RET).
     */
    wr(MSR_ARCH_LBR_DEPTH, 8);
    run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
    cs_seq(MSR_ARCH_LBR_CTL, CTL_CALLSTACK);
    arch_zero(want);
    want[0] = arch_rec(&cs_c);
    want[1] = arch_rec(&cs_a);
    for (i = 2; i < 7; i++) {
        want[i] = arch_rec(&seq[SEQ_N + 1 - i]);
    }
    want[7].what = "popped by RET: 0";
    arch_read(got, ARCH_MAX);
    bad = compare("arch call stack", "index", got, want, ARCH_MAX, true);
    check(!bad, "arch call stack (LBR_CTL 0x%lx, depth 8): %u of %u "
          "entries differ from C, A, the youngest 5 of the sequence, the "
          "popped entry 7 reading 0, and 0 beyond", CTL_CALLSTACK, bad,
          ARCH_MAX);

    /*
     * Ring 3 with USR only: the IRET into ring 3 (far: BR_TYPE 8) and
     * user_seq's two JMPs; nothing of ring 0.
     */
    wr(MSR_ARCH_LBR_DEPTH, 32);
    wr(MSR_ARCH_LBR_CTL, CTL_LBREN | CTL_USR | CTL_BRANCHES);
    run_user(user_seq, user_stack + sizeof(user_stack));
    wrmsr_raw(MSR_ARCH_LBR_CTL, 0);
    arch_read(got, ARCH_MAX);
    check(got[0].from == A(user_jret) && got[0].to == A(user_return) &&
          got[0].info == 2ull << INFO_BR_TYPE_SHIFT &&
          got[1].from == A(user_j) && got[1].to == A(user_j_to) &&
          got[2].to == A(user_seq) &&
          got[2].info == 8ull << INFO_BR_TYPE_SHIFT && got[3].from == 0,
          "arch ring 3, LBR_CTL USR only: 0: 0x%lx -> 0x%lx INFO 0x%lx, "
          "want JMP 0x%lx -> 0x%lx BR_TYPE 2; 1: 0x%lx -> 0x%lx, want JMP "
          "0x%lx -> 0x%lx; 2: TO 0x%lx INFO 0x%lx, want the IRET to 0x%lx "
          "BR_TYPE 8; 3: FROM 0x%lx, want 0", got[0].from, got[0].to,
          got[0].info, A(user_jret), A(user_return), got[1].from,
          got[1].to, A(user_j), A(user_j_to), got[2].to, got[2].info,
          A(user_seq), got[3].from);
    wr(MSR_ARCH_LBR_DEPTH, 32);
}

/*
 * Run lbr_seq with recording on, every branch kept (LBR_SELECT or
 * LBR_CTL as that leaves them), and check that it left its records on
 * top of those before (@recorded) or none at all; @d is the arch depth.
 */
static void seq_goes_on(const char *what, unsigned d, bool recorded)
{
    static struct rec want[ARCH_MAX > NHM_MSRS ? ARCH_MAX : NHM_MSRS];
    static struct rec got[NHM_MSRS];
    unsigned i, tos, want_tos, bad;
    uint64_t got_tos;

    if (arch) {
        for (i = 0; i < ARCH_MAX; i++) {
            want[i] = (struct rec) { rd(MSR_ARCH_LBR_FROM + i),
                                     rd(MSR_ARCH_LBR_TO + i),
                                     rd(MSR_ARCH_LBR_INFO + i),
                                     "the record before" };
        }
        run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
        arch_check_seq(what, CTL_ALL, d, want, recorded ? SEQ_ALL : 0);
        return;
    }
    tos = rd(MSR_LBR_TOS);
    for (i = 0; i < depth; i++) {
        want[i] = (struct rec) { rd(from_base + i), rd(to_base + i),
                                 has_info ? rd(MSR_LBR_INFO + i) : 0,
                                 "the record before" };
    }
    run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
    want_tos = tos;
    for (i = 0; recorded && i < SEQ_N; i++) {
        legacy_push(want, &want_tos, &seq[i]);
    }
    got_tos = legacy_read(got);
    bad = compare(what, "slot", got, want, depth, has_info);
    check(got_tos == want_tos && !bad, "%s: TOS %lu, want %u; %u of %u "
          "slots differ from %s", what, got_tos, want_tos, bad, depth,
          recorded ? "the records of lbr_seq on top of those before" :
          "those before (nothing recorded)");
}

/* Sections 6 and 7: what migration keeps and what a reset clears */

#define REGS_MAX                    (3 + 3 * NHM_MSRS)

/* Every LBR register this configuration has, in a fixed order. */
static unsigned lbr_regs(uint32_t *msr)
{
    unsigned i, n = 0;

    msr[n++] = MSR_DEBUGCTL;
    if (arch) {
        msr[n++] = MSR_ARCH_LBR_CTL;
        msr[n++] = MSR_ARCH_LBR_DEPTH;
        for (i = 0; i < depth; i++) {
            msr[n++] = MSR_ARCH_LBR_FROM + i;
            msr[n++] = MSR_ARCH_LBR_TO + i;
            msr[n++] = MSR_ARCH_LBR_INFO + i;
        }
        return n;
    }
    msr[n++] = MSR_LBR_TOS;
    if (has_select) {
        msr[n++] = MSR_LBR_SELECT;
    }
    for (i = 0; i < depth; i++) {
        msr[n++] = from_base + i;
        msr[n++] = to_base + i;
        if (has_info) {
            msr[n++] = MSR_LBR_INFO + i;
        }
    }
    return n;
}

/* Where lbr_regs() puts the FROM of record 0 (arch: the youngest). */
static unsigned lbr_regs_from0(void)
{
    return arch ? 3 : 2 + has_select;
}

/*
 * Records of lbr_seq, then registers that differ from their reset
 * values: filters (LBR_SELECT, or an arch depth below the maximum) and
 * DEBUGCTL.FREEZE_LBRS_ON_PMI.  Recording is off at the end (lbr_seq
 * turns it off), so reading the registers changes nothing.
 */
static void keep_setup(void)
{
    if (arch) {
        wr(MSR_ARCH_LBR_DEPTH, depth - 8);
        run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
        wr(MSR_ARCH_LBR_CTL, CTL_ALL & ~CTL_LBREN);
    } else {
        legacy_prefill(1);
        run_seq(MSR_DEBUGCTL, DEBUGCTL_LBR);
        if (has_select) {
            wr(MSR_LBR_SELECT, 0x4);            /* JCC suppressed */
        }
    }
    wr(MSR_DEBUGCTL, DEBUGCTL_FREEZE_LBRS_ON_PMI);
}

static void sec_migrate(void)
{
    static uint32_t msr[REGS_MAX];
    static uint64_t before[REGS_MAX];
    unsigned i, n = lbr_regs(msr), bad = 0, from0 = lbr_regs_from0();
    uint64_t v;

    keep_setup();
    for (i = 0; i < n; i++) {
        before[i] = rd(msr[i]);
    }
    check(before[0] == DEBUGCTL_FREEZE_LBRS_ON_PMI && before[from0] &&
          before[from0 + 1], "before the migration: DEBUGCTL 0x%lx (want "
          "FREEZE_LBRS_ON_PMI), record 0 FROM 0x%lx TO 0x%lx (want non-zero)",
          before[0], before[from0], before[from0 + 1]);
    guest_printf("SYNC migrate\n");
    serial_getc();                  /* saved here, resumed elsewhere */
    for (i = 0; i < n; i++) {
        v = rd(msr[i]);
        if (v != before[i] && bad++ < 6) {
            guest_printf("# MSR 0x%x: 0x%lx after the migration, 0x%lx "
                         "before\n", msr[i], v, before[i]);
        }
    }
    check(!bad, "after the migration: %u of the %u LBR registers (DEBUGCTL, "
          "%s, every record) differ from what they held before", bad, n,
          arch ? "LBR_CTL, LBR_DEPTH" : "TOS, LBR_SELECT");

    /* Recording goes on from where it stopped. */
    wr(MSR_DEBUGCTL, 0);
    if (!arch && has_select) {
        wr(MSR_LBR_SELECT, 0);
    }
    seq_goes_on("after the migration, recording again", depth - 8, true);
}

/* SDM power-up and INIT values: DEBUGCTL, filters and records 0. */
static void sec_reset(void)
{
    static uint32_t msr[REGS_MAX];
    unsigned i, n = lbr_regs(msr), bad = 0;
    uint64_t v, want;

    guest_printf("SYNC boot\n");
    if (serial_getc() == '1') {
        keep_setup();
        wr(arch ? MSR_ARCH_LBR_CTL : MSR_DEBUGCTL,
           arch ? CTL_ALL : DEBUGCTL_LBR | DEBUGCTL_FREEZE_LBRS_ON_PMI);
        check(rd(msr[lbr_regs_from0()]) != 0, "before the reset: records, "
              "and recording on");
        guest_printf("SYNC reset\n");
        for (;;) {
            serial_getc();          /* the host resets us here */
        }
    }
    for (i = 0; i < n; i++) {
        v = rd(msr[i]);
        want = msr[i] == MSR_ARCH_LBR_DEPTH ? depth : 0;
        if (v != want && bad++ < 6) {
            guest_printf("# MSR 0x%x: 0x%lx after the reset, want 0x%lx\n",
                         msr[i], v, want);
        }
    }
    check(!bad, "after the reset: %u of the %u LBR registers are not at "
          "their reset values (0%s)", bad, n,
          arch ? "; LBR_DEPTH the maximum" : "");
}

/*
 * Section 8: the host takes LBR (vpmu-reclaim, or its backend loses it)
 * and gives it back.  Meanwhile the guest's accesses work as before and
 * nothing is recorded; afterwards recording goes on.
 */
static void sec_host(void)
{
    static const struct {
        const char *sync, *taken, *back;
    } steps[] = {
        { "reclaimed", "LBR reclaimed by the host (vpmu-reclaim)",
          "LBR given back (vpmu-restore)" },
        { "lost", "LBR lost by the host's backend",
          "LBR back with the host's backend" },
    };
    unsigned i;

    if (arch) {
        wr(MSR_ARCH_LBR_DEPTH, depth);
        run_seq(MSR_ARCH_LBR_CTL, CTL_ALL);
        wr(MSR_ARCH_LBR_CTL, CTL_ALL);
    } else {
        legacy_prefill(1);
        wr(MSR_DEBUGCTL, DEBUGCTL_LBR);
    }
    guest_printf("SYNC recording\n");
    serial_getc();                  /* the host took LBR */
    for (i = 0; i < 2; i++) {
        uint32_t on_msr = arch ? MSR_ARCH_LBR_CTL : MSR_DEBUGCTL;
        uint64_t on = arch ? CTL_ALL : DEBUGCTL_LBR, v;

        /* The guest sees its own settings, whoever has the hardware. */
        wr(on_msr, on);
        v = rd(on_msr);
        wr(on_msr, 0);
        check(v == on, "%s: 0x%x reads back 0x%lx, as written", steps[i].taken,
              on_msr, v);
        seq_goes_on(steps[i].taken, depth, false);
        guest_printf("SYNC %s\n", steps[i].sync);
        serial_getc();              /* given back */
        seq_goes_on(steps[i].back, depth, true);
        if (i == 0) {
            guest_printf("SYNC restored\n");
            serial_getc();          /* the host lost it */
        }
    }
}

/* In order; -append only=MASK runs those whose bit (1 << index) is set. */
static const struct {
    void (*fn)(void);
    bool arch;                  /* for architectural LBR, else legacy */
    const char *what;
} sections[] = {
    { sec_probe, false, "0: probe: format, MSRs, depth, LBR_SELECT, TOS, "
      "Linux's read-back" },
    { sec_records, false, "1: exact records of known branches" },
    { sec_select, false, "2: LBR_SELECT filters" },
    { sec_callstack, false, "3: call-stack mode" },
    { sec_freeze, false, "4: freeze at a PMI" },
    { sec_arch, true, "5: architectural LBR" },
    { sec_migrate, false, "6: registers and records across a migration" },
    { sec_reset, false, "7: reset values after system_reset" },
    { sec_host, false, "8: the host takes LBR and gives it back" },
};

int main(void)
{
    uint64_t only = cmdline_uint("only", ~0ull);
    bool no_bail = cmdline_uint("no-bail", 0);
    uint64_t v, cap = 0;
    unsigned i;

    depth = cmdline_uint("depth", 32);
    fmt = cmdline_uint("fmt", 5);
    arch = cmdline_uint("arch", 0);
    pmuv = cmdline_uint("pmuv", 2);
    exact = cmdline_uint("exact", 0);
    guest_printf("# pmu-lbr: %s LBR, depth %u, format %u, PMU v%u, exact "
                 "%u\n", arch ? "architectural" : "legacy", depth, fmt,
                 pmuv, exact);
    if (!arch && depth != 4 && depth != 8 && depth != 16 && depth != 32) {
        guest_printf("Bail out! depth=%u: legacy LBR has 4, 8, 16 or 32\n",
                     depth);
        guest_exit(2);
    }
    from_base = depth <= 8 ? MSR_CORE_FROM : MSR_NHM_FROM;
    to_base = depth <= 8 ? MSR_CORE_TO : MSR_NHM_TO;
    has_info = depth == 32 && (fmt == 5 || fmt == 7);
    has_select = depth > 4;
    has_callstack = depth >= 16;
    select_valid = !has_select ? 0 : has_callstack ? 0x3ff : 0x1ff;
    seq_init();
    asm volatile("cli" : : : "memory");

    rdmsr_safe(MSR_PERF_CAPABILITIES, &cap);
    if (!no_bail && !arch && !(cap & PERF_CAP_LBR_FMT) &&
        rdmsr_safe(from_base, &v) != NO_EXCEPTION) {
        guest_printf("Bail out! no LBR (PERF_CAPABILITIES 0x%lx, FROM_0 "
                     "0x%x #GPs): this guest needs -cpu host,pmu=on,lbr=on\n",
                     cap, from_base);
        guest_exit(2);
    }

    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (!(only & (1u << i))) {
            continue;
        }
        guest_printf("# %s\n", sections[i].what);
        if (sections[i].arch != arch && i < 6) {
            check(true, "section %u # SKIP it is for %s LBR, and arch=%u",
                  i, sections[i].arch ? "architectural" : "legacy", arch);
            continue;
        }
        sections[i].fn();
    }
    check(!msr_faults, "no RDMSR or WRMSR of an LBR register this "
          "configuration has faulted: %u did", msr_faults);
    return 0;
}
