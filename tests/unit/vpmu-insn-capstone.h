/*
 * qemu-vpmu: where capstone 4.0.2 is no reference for the decoder
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Shared by the decoder's unit test and its fuzzer, which both compare
 * vpmu_insn_decode() with capstone.  Include after capstone.h.
 */
#ifndef VPMU_INSN_CAPSTONE_H
#define VPMU_INSN_CAPSTONE_H

/*
 * Cases where capstone 4.0.2 is not the reference, each checked by hand
 * against the SDM or APM.  Returns why, or NULL to compare.
 */
static inline const char *capstone_unreliable(const cs_insn *ci,
                                              const uint8_t *b,
                                              VPMUInsnMode mode)
{
    size_t i = 0;
    bool p66 = false, p67 = false, rep_after_66 = false;

    /* UD0 and UD1 take a ModRM (SDM); capstone decodes none.  #UD. */
    if (ci->id == X86_INS_UD0 || !strcmp(ci->mnemonic, "ud2b")) {
        return "UD0/UD1 ModRM";
    }
    /* AMD's SSE4a EXTRQ/INSERTQ share 0F 78 with VMREAD: 4.0.2 lacks them */
    if (ci->id == X86_INS_VMREAD) {
        return "SSE4a 0F 78";
    }
    /* VIA PadLock, #UD on Intel and AMD */
    if (!strncmp(ci->mnemonic, "xcrypt", 6) ||
        !strncmp(ci->mnemonic, "xstore", 6) ||
        !strncmp(ci->mnemonic, "montmul", 7) ||
        !strncmp(ci->mnemonic, "xsha", 4)) {
        return "VIA PadLock";
    }
    /*
     * XBEGIN branches only when a transaction aborts; capstone calls it a
     * jump.  Its length is the same as C7 /0's.
     */
    if (ci->id == X86_INS_XBEGIN) {
        return "XBEGIN";
    }
    /* RET imm16: 4.0.2 reads an imm32 after 66 REX.W */
    if (ci->id == X86_INS_RET) {
        return "RET imm16 with 66 REX.W";
    }
    while (i < ci->size && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 ||
                            b[i] == 0xf3 || b[i] == 0xf0 || b[i] == 0x2e ||
                            b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x64 ||
                            b[i] == 0x65 || b[i] == 0x36 ||
                            (mode == VPMU_INSN_MODE_64 &&
                             (b[i] & 0xf0) == 0x40))) {
        rep_after_66 |= p66 && (b[i] == 0xf2 || b[i] == 0xf3);
        p66 |= b[i] == 0x66;
        p67 |= b[i] == 0x67;
        i++;
    }
    /*
     * PUSH imm after 66 then F2 or F3: 4.0.2 lets the REP prefix cancel
     * the 66 and reads an imm32; the CPU pushes an imm16 (SDM PUSH, 66 is
     * no mandatory prefix for 68).  Found by the decoder's fuzzer.
     */
    if (rep_after_66 && b[i] == 0x68) {
        return "PUSH imm16 with 66 then F2/F3";
    }
    /* 4.0.2 truncates a near branch's target to the address size */
    if (p67 && (ci->id == X86_INS_CALL || ci->id == X86_INS_JMP ||
                (b[i] & 0xf0) == 0x70 || (b[i] & 0xfc) == 0xe0 ||
                (b[i] == 0x0f && (b[i + 1] & 0xf0) == 0x80))) {
        return "67 on a near branch";
    }
    /*
     * A 66-prefixed near relative branch: 4.0.2 lets a later F3 or a
     * segment prefix cancel the 66.  The golden table covers these from
     * the manuals instead.
     */
    if (p66 && (ci->id == X86_INS_CALL || ci->id == X86_INS_JMP ||
                (b[i] == 0x0f && (b[i + 1] & 0xf0) == 0x80))) {
        return "66 on a near branch";
    }
    /*
     * EVEX outside 64-bit mode: 4.0.2 reads one more byte after a
     * register form with EVEX.b (embedded rounding).
     */
    if (mode != VPMU_INSN_MODE_64 && b[i] == 0x62) {
        return "EVEX outside 64-bit mode";
    }
    return NULL;
}

#endif
