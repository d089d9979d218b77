/*
 * qemu-vpmu: x86 instruction length and branch decoder
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The exact-counting engine single-steps the guest and must tell, from
 * the bytes at the previous RIP and the new RIP, whether an instruction
 * retired and whether it was a branch.  That needs the instruction's
 * length (to know its fallthrough), its branch class and, for direct
 * branches, its target.  Nothing else about the instruction matters, so
 * this is a length decoder with a branch table, not a disassembler.
 *
 * Pure: no QEMU CPU, KVM or GLib headers; built into the fuzzer as is.
 */
#ifndef HW_I386_VPMU_INSN_H
#define HW_I386_VPMU_INSN_H

/* The longest x86 instruction; a longer one raises #GP. */
#define VPMU_INSN_MAX_LEN 15

typedef enum VPMUInsnMode {
    VPMU_INSN_MODE_16 = 16,
    VPMU_INSN_MODE_32 = 32,
    VPMU_INSN_MODE_64 = 64,
} VPMUInsnMode;

/* Decoder flags: where the vendors differ in what a byte sequence is. */
enum {
    /*
     * AMD honours an operand-size prefix on near branches in 64-bit mode
     * (rel16, IP truncated to 16 bits) and has SSE4a's EXTRQ/INSERTQ
     * immediates; Intel ignores the prefix there.
     */
    VPMU_INSN_AMD = 1u << 0,
};

typedef enum VPMUBranchClass {
    VPMU_BRANCH_NONE,
    VPMU_BRANCH_JCC,        /* Jcc, LOOP, LOOPE, LOOPNE, JrCXZ */
    VPMU_BRANCH_JMP_REL,
    VPMU_BRANCH_JMP_IND,
    VPMU_BRANCH_CALL_REL,
    VPMU_BRANCH_CALL_IND,
    VPMU_BRANCH_RET,        /* near return */
    /* far jmp/call/ret, INT n/INT3/INTO/INT1, IRET, SYSCALL... */
    VPMU_BRANCH_FAR,
} VPMUBranchClass;

/* VPMUInsn.cond beyond the sixteen Jcc condition codes. */
enum {
    VPMU_COND_LOOP = 16,
    VPMU_COND_LOOPE,
    VPMU_COND_LOOPNE,
    VPMU_COND_JRCXZ,
};

typedef struct VPMUInsn {
    uint8_t len;
    uint8_t cls;            /* VPMUBranchClass */
    uint8_t cond;           /* VPMU_BRANCH_JCC only: 0-15 or VPMU_COND_* */
    uint8_t op_size;        /* 16, 32 or 64 */
    uint8_t addr_size;      /* 16, 32 or 64 */
    uint8_t branch_size;    /* a near branch's IP width: 16, 32 or 64 */
    bool rep;               /* a string instruction with REP/REPE/REPNE */
    bool flags_load;        /* POPF, IRET, SYSRET: may change TF */
    bool tlb_flush;         /* MOV CR0/3/4, INVLPG, INVPCID... */
    bool halt;              /* HLT */
    bool iret;              /* IRET, IRETD, IRETQ */
    bool popf;              /* POPF, POPFD, POPFQ */
    bool pushf;             /* PUSHF, PUSHFD, PUSHFQ */
    int64_t rel;            /* a relative branch's displacement */
} VPMUInsn;

/*
 * Decode the instruction in @bytes (@avail of them readable).  False when
 * the bytes are not a valid instruction in @mode (the CPU raises #UD or
 * #GP) or when more than @avail bytes would be needed.
 */
bool vpmu_insn_decode(const uint8_t *bytes, size_t avail, VPMUInsnMode mode,
                      unsigned flags, VPMUInsn *insn);

/* Where execution goes after @insn at @rip when no branch is taken. */
uint64_t vpmu_insn_next(const VPMUInsn *insn, uint64_t rip,
                        VPMUInsnMode mode);

/* A relative branch's target (JCC, JMP_REL, CALL_REL only). */
uint64_t vpmu_insn_target(const VPMUInsn *insn, uint64_t rip,
                          VPMUInsnMode mode);

/*
 * Whether a VPMU_BRANCH_JCC is taken, from the RFLAGS and RCX it starts
 * with (LOOP decrements first; the count register is RCX, ECX or CX by
 * address size).
 */
bool vpmu_insn_cond_taken(const VPMUInsn *insn, uint64_t rflags,
                          uint64_t rcx);

#endif
