/*
 * qemu-vpmu: x86 instruction length and branch decoder
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Table-driven, after the opcode maps of the SDM (vol. 2D, appendix A)
 * and the AMD APM (vol. 3, appendix A).  The exact-counting engine runs
 * this once per guest instruction, so it stays a few table lookups: the
 * unit test measures it against capstone (about 0.3 us an instruction
 * there, slower than the step it serves) and cross-checks every length.
 */
#include "qemu/osdep.h"
#include "hw/i386/vpmu-insn.h"

/* What follows an opcode, for the one- and two-byte maps. */
enum {
    F_M     = 1u << 0,      /* a ModRM byte (and SIB, displacement) */
    F_I8    = 1u << 1,      /* imm8 */
    F_IZ    = 1u << 2,      /* imm16 or imm32, by operand size */
    F_I16   = 1u << 3,      /* imm16 */
    F_IV    = 1u << 4,      /* imm16, imm32 or imm64 (MOV r, imm) */
    F_MOFFS = 1u << 5,      /* a memory offset as wide as the address */
    F_FARP  = 1u << 6,      /* ptr16:16 or ptr16:32 */
    F_BAD64 = 1u << 7,      /* #UD in 64-bit mode */
    F_BAD   = 1u << 8,      /* #UD everywhere (or a prefix, never here) */
    F_MREG  = 1u << 9,      /* ModRM whose mod is ignored: MOV CR/DR */
};

#define M   F_M
#define I8  F_I8
#define IZ  F_IZ
#define B6  F_BAD64
#define X   F_BAD

static const uint16_t map1[256] = {
    /* 0x00 */ M, M, M, M, I8, IZ, B6, B6, M, M, M, M, I8, IZ, B6, X,
    /* 0x10 */ M, M, M, M, I8, IZ, B6, B6, M, M, M, M, I8, IZ, B6, B6,
    /* 0x20 */ M, M, M, M, I8, IZ, X, B6, M, M, M, M, I8, IZ, X, B6,
    /* 0x30 */ M, M, M, M, I8, IZ, X, B6, M, M, M, M, I8, IZ, X, B6,
    /* 0x40 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x60 */ B6, B6, M | B6, M, X, X, X, X,
               IZ, M | IZ, I8, M | I8, 0, 0, 0, 0,
    /* 0x70 */ I8, I8, I8, I8, I8, I8, I8, I8,
               I8, I8, I8, I8, I8, I8, I8, I8,
    /* 0x80 */ M | I8, M | IZ, M | I8 | B6, M | I8, M, M, M, M,
               M, M, M, M, M, M, M, M,
    /* 0x90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, F_FARP | B6, 0, 0, 0, 0, 0,
    /* 0xa0 */ F_MOFFS, F_MOFFS, F_MOFFS, F_MOFFS, 0, 0, 0, 0,
               I8, IZ, 0, 0, 0, 0, 0, 0,
    /* 0xb0 */ I8, I8, I8, I8, I8, I8, I8, I8,
               F_IV, F_IV, F_IV, F_IV, F_IV, F_IV, F_IV, F_IV,
    /* 0xc0 */ M | I8, M | I8, F_I16, 0, M | B6, M | B6, M | I8, M | IZ,
               F_I16 | I8, 0, F_I16, 0, 0, I8, B6, 0,
    /* 0xd0 */ M, M, M, M, I8 | B6, I8 | B6, B6, 0, M, M, M, M, M, M, M, M,
    /* 0xe0 */ I8, I8, I8, I8, I8, I8, I8, I8,
               IZ, IZ, F_FARP | B6, I8, 0, 0, 0, 0,
    /* 0xf0 */ X, 0, X, X, 0, 0, M, M, 0, 0, 0, 0, 0, 0, M, M,
};

static const uint16_t map2[256] = {
    /* 0x00 */ M, M, M, M, X, 0, 0, 0, 0, 0, X, 0, X, M, 0, M | I8,
    /* 0x10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0x20 */ F_MREG, F_MREG, F_MREG, F_MREG, X, X, X, X,
               M, M, M, M, M, M, M, M,
    /* 0x30 */ 0, 0, 0, 0, 0, 0, X, 0, X, X, X, X, X, X, X, X,
    /* 0x40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0x50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0x60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0x70 */ M | I8, M | I8, M | I8, M | I8, M, M, M, 0,
               M, M, X, X, M, M, M, M,
    /* 0x80 */ IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
               IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
    /* 0x90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0xa0 */ 0, 0, 0, M, M | I8, M, X, X, 0, 0, 0, M, M | I8, M, M, M,
    /* 0xb0 */ M, M, M, M, M, M, M, M, M, M, M | I8, M, M, M, M, M,
    /* 0xc0 */ M, M, M | I8, M, M | I8, M | I8, M | I8, M,
               0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xd0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0xe0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 0xf0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};

#undef M
#undef I8
#undef IZ
#undef B6
#undef X

/* Opcode maps as VEX.mmmmm, EVEX.mmm and XOP.mmmmm number them. */
enum {
    MAP_1B,         /* one-byte */
    MAP_0F,
    MAP_0F38,
    MAP_0F3A,
    MAP_EVEX5 = 5,  /* EVEX maps 5 and 6 (AVX512-FP16) */
    MAP_EVEX6,
    MAP_XOP8 = 8,
    MAP_XOP9,
    MAP_XOPA,
};

/* The few opcodes of VEX/EVEX map 0F that take an imm8. */
static bool vex_0f_has_imm8(uint8_t op)
{
    return (op >= 0x70 && op <= 0x73) || op == 0xc2 ||
           (op >= 0xc4 && op <= 0xc6);
}

/*
 * The bytes a ModRM at @p[0] brings after itself: SIB and displacement.
 * -1 when they are not all in the first @avail bytes.
 */
static int modrm_tail(const uint8_t *p, size_t avail, unsigned addr_size,
                      bool reg_only)
{
    uint8_t mod = p[0] >> 6, rm = p[0] & 7;
    int n = 0;

    if (reg_only || mod == 3) {
        return 0;
    }
    if (addr_size == 16) {
        if (mod == 0) {
            return rm == 6 ? 2 : 0;
        }
        return mod == 1 ? 1 : 2;
    }
    if (rm == 4) {
        if (avail < 2) {
            return -1;
        }
        n = 1;
        if (mod == 0 && (p[1] & 7) == 5) {
            n += 4;
        }
    } else if (mod == 0 && rm == 5) {
        n += 4;     /* disp32, RIP-relative in 64-bit mode */
    }
    if (mod == 1) {
        n += 1;
    } else if (mod == 2) {
        n += 4;
    }
    return n;
}

static int64_t read_simm(const uint8_t *p, unsigned bytes)
{
    switch (bytes) {
    case 1:
        return (int8_t)p[0];
    case 2:
        return (int16_t)(p[0] | p[1] << 8);
    default:
        return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                         (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    }
}

static bool is_string_op(uint8_t op)
{
    return (op >= 0x6c && op <= 0x6f) || (op >= 0xa4 && op <= 0xa7) ||
           (op >= 0xaa && op <= 0xaf);
}

static void classify_map1(VPMUInsn *insn, uint8_t op, uint8_t modrm)
{
    uint8_t reg = (modrm >> 3) & 7;

    if ((op >= 0x70 && op <= 0x7f)) {
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = op & 0xf;
        return;
    }
    switch (op) {
    case 0xe0:
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = VPMU_COND_LOOPNE;
        break;
    case 0xe1:
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = VPMU_COND_LOOPE;
        break;
    case 0xe2:
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = VPMU_COND_LOOP;
        break;
    case 0xe3:
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = VPMU_COND_JRCXZ;
        break;
    case 0xe8:
        insn->cls = VPMU_BRANCH_CALL_REL;
        break;
    case 0xe9:
    case 0xeb:
        insn->cls = VPMU_BRANCH_JMP_REL;
        break;
    case 0xc2:
    case 0xc3:
        insn->cls = VPMU_BRANCH_RET;
        break;
    case 0xcf:
        insn->flags_load = true;
        insn->iret = true;
        insn->cls = VPMU_BRANCH_FAR;
        break;
    case 0x9a: case 0xea: case 0xca: case 0xcb:
    case 0xcc: case 0xcd: case 0xce: case 0xf1:
        insn->cls = VPMU_BRANCH_FAR;
        break;
    case 0x9d:
        insn->flags_load = true;
        insn->popf = true;
        break;
    case 0x9c:
        insn->pushf = true;
        break;
    case 0xf4:
        insn->halt = true;
        break;
    case 0xff:
        if (reg == 2) {
            insn->cls = VPMU_BRANCH_CALL_IND;
        } else if (reg == 4) {
            insn->cls = VPMU_BRANCH_JMP_IND;
        } else if (reg == 3 || reg == 5) {
            insn->cls = VPMU_BRANCH_FAR;
        }
        break;
    }
}

static void classify_map2(VPMUInsn *insn, uint8_t op, uint8_t modrm,
                          uint8_t rex)
{
    uint8_t mod = modrm >> 6, reg = (modrm >> 3) & 7;

    if (op >= 0x80 && op <= 0x8f) {
        insn->cls = VPMU_BRANCH_JCC;
        insn->cond = op & 0xf;
        return;
    }
    switch (op) {
    case 0x07:      /* SYSRET: RFLAGS from R11 */
        insn->flags_load = true;
        insn->cls = VPMU_BRANCH_FAR;
        break;
    case 0xaa:      /* RSM: #UD outside SMM, which guests never see */
        insn->flags_load = true;
        break;
    case 0x05:      /* SYSCALL */
    case 0x34:      /* SYSENTER */
    case 0x35:      /* SYSEXIT */
        insn->cls = VPMU_BRANCH_FAR;
        break;
    case 0x22:      /* MOV CR0, CR3, CR4; REX.R selects CR8 and up */
        insn->tlb_flush = !(rex & 4) && (reg == 0 || reg == 3 || reg == 4);
        break;
    case 0x01:
        /* INVLPG, LMSW, INVLPGA, INVLPGB */
        insn->tlb_flush = (mod != 3 && reg == 7) || reg == 6 ||
                          modrm == 0xdf || modrm == 0xfe;
        break;
    }
}

bool vpmu_insn_decode(const uint8_t *bytes, size_t avail, VPMUInsnMode mode,
                      unsigned flags, VPMUInsn *insn)
{
    bool amd = flags & VPMU_INSN_AMD;
    bool p66 = false, p67 = false, lock = false;
    uint8_t rep = 0, rex = 0, op, modrm = 0, pp = 0;
    unsigned map = MAP_1B, imm = 0, op_size, addr_size, attr;
    size_t i = 0, lim = MIN(avail, (size_t)VPMU_INSN_MAX_LEN);
    bool vex = false, rex_w;
    int tail;

    memset(insn, 0, sizeof(*insn));

    /* Legacy prefixes, and REX, which counts only right before the opcode */
    for (;; i++) {
        if (i >= lim) {
            return false;
        }
        op = bytes[i];
        if (op == 0x66) {
            p66 = true;
        } else if (op == 0x67) {
            p67 = true;
        } else if (op == 0xf2 || op == 0xf3) {
            rep = op;
        } else if (op == 0xf0) {
            lock = true;
        } else if (op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e ||
                   op == 0x64 || op == 0x65) {
            /* segment overrides change no length */
        } else if (mode == VPMU_INSN_MODE_64 && (op & 0xf0) == 0x40) {
            rex = op;
            continue;
        } else {
            break;
        }
        rex = 0;
    }
    rex_w = rex & 8;

    /* VEX, EVEX and XOP; LES, LDS, BOUND and POP r/m outside 64-bit mode */
    if ((op == 0xc4 || op == 0xc5 || op == 0x62 || op == 0x8f) &&
        i + 1 < lim) {
        uint8_t b1 = bytes[i + 1];
        bool escape;

        if (op == 0x8f) {
            escape = (b1 & 0x1f) >= 8;
        } else {
            escape = mode == VPMU_INSN_MODE_64 || (b1 & 0xc0) == 0xc0;
        }
        if (escape) {
            unsigned plen = op == 0xc5 ? 2 : op == 0x62 ? 4 : 3;

            if (p66 || rep || lock || rex) {
                return false;   /* #UD */
            }
            if (i + plen >= lim) {
                return false;
            }
            if (op == 0xc5) {
                map = MAP_0F;
                pp = b1 & 3;
            } else if (op == 0x62) {
                map = b1 & 7;
                pp = bytes[i + 2] & 3;
                rex_w = bytes[i + 2] & 0x80;
                if ((bytes[i + 2] & 4) == 0 || map == 0 || map == 4 ||
                    map == 7) {
                    return false;
                }
            } else {
                map = b1 & 0x1f;
                pp = bytes[i + 2] & 3;
                rex_w = bytes[i + 2] & 0x80;
                if (op == 0xc4 && (map == 0 || map > MAP_0F3A)) {
                    return false;
                }
                if (op == 0x8f && map > MAP_XOPA) {
                    return false;
                }
            }
            p66 = pp == 1;
            vex = true;
            i += plen;
            op = bytes[i];
        }
    }

    if (mode == VPMU_INSN_MODE_64) {
        op_size = rex_w ? 64 : p66 ? 16 : 32;
        addr_size = p67 ? 32 : 64;
    } else if (mode == VPMU_INSN_MODE_32) {
        op_size = p66 ? 16 : 32;
        addr_size = p67 ? 16 : 32;
    } else {
        op_size = p66 ? 32 : 16;
        addr_size = p67 ? 32 : 16;
    }
    insn->op_size = op_size;
    insn->addr_size = addr_size;
    if (mode == VPMU_INSN_MODE_64) {
        insn->branch_size = amd && p66 && !rex_w ? 16 : 64;
    } else {
        insn->branch_size = op_size;
    }

    if (!vex && op == 0x0f) {
        if (++i >= lim) {
            return false;
        }
        op = bytes[i];
        if (op == 0x38 || op == 0x3a) {
            map = op == 0x38 ? MAP_0F38 : MAP_0F3A;
            if (++i >= lim) {
                return false;
            }
            op = bytes[i];
        } else {
            map = MAP_0F;
        }
    }
    i++;    /* past the opcode */

    switch (map) {
    case MAP_1B:
        attr = map1[op];
        break;
    case MAP_0F:
        if (vex) {
            attr = op == 0x77 ? 0 : F_M | (vex_0f_has_imm8(op) ? F_I8 : 0);
        } else {
            attr = map2[op];
        }
        break;
    case MAP_0F3A:
    case MAP_XOP8:
        attr = F_M | F_I8;
        break;
    case MAP_XOPA:
        attr = F_M;
        imm = 4;
        break;
    default:        /* 0F38, EVEX 5 and 6, XOP 9 */
        attr = F_M;
        break;
    }
    if ((attr & F_BAD) || (mode == VPMU_INSN_MODE_64 && (attr & F_BAD64))) {
        return false;
    }

    if (attr & (F_M | F_MREG)) {
        if (i >= lim) {
            return false;
        }
        modrm = bytes[i];
        tail = modrm_tail(bytes + i, lim - i, addr_size, attr & F_MREG);
        if (tail < 0) {
            return false;
        }
        i += 1 + tail;
    }

    if (attr & F_I8) {
        imm += 1;
    }
    if (attr & F_I16) {
        imm += 2;
    }
    if (attr & F_IZ) {
        bool near_rel = map == MAP_1B ? (op == 0xe8 || op == 0xe9) :
                        (map == MAP_0F && op >= 0x80 && op <= 0x8f);

        if (near_rel) {
            imm += insn->branch_size == 16 ? 2 : 4;
        } else {
            imm += op_size == 16 ? 2 : 4;
        }
    }
    if (attr & F_IV) {
        imm += op_size / 8;
    }
    if (attr & F_MOFFS) {
        imm += addr_size / 8;
    }
    if (attr & F_FARP) {
        imm += 2 + (op_size == 16 ? 2 : 4);
    }
    if (map == MAP_1B && (op == 0xf6 || op == 0xf7) &&
        ((modrm >> 3) & 7) < 2) {
        imm += op == 0xf6 ? 1 : (op_size == 16 ? 2 : 4);   /* TEST */
    }
    if (amd && !vex && map == MAP_0F && op == 0x78 && (p66 || rep == 0xf2)) {
        imm += 2;           /* SSE4a EXTRQ, INSERTQ: imm8, imm8 */
    }
    if (i + imm > lim) {
        return false;
    }

    insn->len = i + imm;
    insn->rep = rep && map == MAP_1B && is_string_op(op);
    if (map == MAP_1B) {
        classify_map1(insn, op, modrm);
    } else if (map == MAP_0F && !vex) {
        classify_map2(insn, op, modrm, rex);
    } else if (map == MAP_0F38 && !vex && p66 && op == 0x82) {
        insn->tlb_flush = true;                             /* INVPCID */
    }
    if (insn->cls == VPMU_BRANCH_JCC || insn->cls == VPMU_BRANCH_JMP_REL ||
        insn->cls == VPMU_BRANCH_CALL_REL) {
        unsigned n = imm;

        insn->rel = read_simm(bytes + i, n);
    }
    return true;
}

static uint64_t ip_mask(unsigned width)
{
    return width == 64 ? UINT64_MAX : (UINT64_C(1) << width) - 1;
}

uint64_t vpmu_insn_next(const VPMUInsn *insn, uint64_t rip,
                        VPMUInsnMode mode)
{
    return (rip + insn->len) & ip_mask(mode == VPMU_INSN_MODE_64 ? 64 : 32);
}

uint64_t vpmu_insn_target(const VPMUInsn *insn, uint64_t rip,
                          VPMUInsnMode mode)
{
    return (rip + insn->len + insn->rel) & ip_mask(insn->branch_size);
}

bool vpmu_insn_cond_taken(const VPMUInsn *insn, uint64_t rflags,
                          uint64_t rcx)
{
    bool cf = rflags & (1u << 0), pf = rflags & (1u << 2);
    bool zf = rflags & (1u << 6), sf = rflags & (1u << 7);
    bool of = rflags & (1u << 11);
    uint64_t count = rcx & ip_mask(insn->addr_size);
    bool taken;

    switch (insn->cond) {
    case VPMU_COND_LOOP:
        return ((count - 1) & ip_mask(insn->addr_size)) != 0;
    case VPMU_COND_LOOPE:
        return ((count - 1) & ip_mask(insn->addr_size)) != 0 && zf;
    case VPMU_COND_LOOPNE:
        return ((count - 1) & ip_mask(insn->addr_size)) != 0 && !zf;
    case VPMU_COND_JRCXZ:
        return count == 0;
    }
    switch (insn->cond >> 1) {
    case 0:
        taken = of;
        break;
    case 1:
        taken = cf;
        break;
    case 2:
        taken = zf;
        break;
    case 3:
        taken = cf || zf;
        break;
    case 4:
        taken = sf;
        break;
    case 5:
        taken = pf;
        break;
    case 6:
        taken = sf != of;
        break;
    default:
        taken = zf || sf != of;
        break;
    }
    /* Odd condition codes are the negations of the even ones below */
    return (insn->cond & 1) ? !taken : taken;
}
