/*
 * qemu-vpmu: libFuzzer target for the instruction decoder and the
 * single-step classifier
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Input: one byte choosing the mode and vendor, then instruction bytes.
 * Invariants, any violation of which aborts with "INVARIANT":
 *  - the decoder reads only the bytes it is given (ASan: the copy is
 *    exactly that long), and a length is 1..15 and no more than given;
 *  - the result depends on the instruction's own bytes only: decoding
 *    exactly @len bytes gives the same, fewer bytes fail;
 *  - with capstone linked (VPMU_HAVE_CAPSTONE), the lengths agree
 *    wherever both accept the bytes, outside the documented quirks;
 *  - the classifier, given any registers and stack, returns a kind in
 *    range and reads guest memory only through its callback.
 */
#include "qemu/osdep.h"
#include "hw/i386/vpmu-insn.h"
#include "hw/i386/vpmu-retire.h"
#include <stdio.h>
#include <stdlib.h>

#ifdef VPMU_HAVE_CAPSTONE
#include <capstone/capstone.h>
#include "../unit/vpmu-insn-capstone.h"
#endif

#define INVARIANT(cond, ...) do {                                       \
        if (!(cond)) {                                                  \
            fprintf(stderr, "vpmu-insn-fuzz: INVARIANT " __VA_ARGS__);  \
            fprintf(stderr, "\n");                                      \
            abort();                                                    \
        }                                                               \
    } while (0)

typedef struct FuzzMem {
    const uint8_t *data;
    size_t size;
} FuzzMem;

/* Guest memory for the classifier: the input itself, at linear 0x1000 */
static bool fuzz_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
    FuzzMem *m = opaque;

    if (addr < 0x1000 || addr - 0x1000 > m->size ||
        len > m->size - (addr - 0x1000)) {
        return false;
    }
    memcpy(buf, m->data + (addr - 0x1000), len);
    return true;
}

static uint64_t get64(const uint8_t *p, size_t avail, size_t off)
{
    uint64_t v = 0;

    for (size_t i = 0; i < 8 && off + i < avail; i++) {
        v |= (uint64_t)p[off + i] << (8 * i);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const VPMUInsnMode modes[] = {
        VPMU_INSN_MODE_64, VPMU_INSN_MODE_32, VPMU_INSN_MODE_16,
        VPMU_INSN_MODE_64,
    };
    VPMUInsnMode mode;
    unsigned flags;
    VPMUInsn insn, again;
    size_t avail;
    uint8_t *copy;
    bool ok;

    if (size < 1) {
        return 0;
    }
    mode = modes[data[0] & 3];
    flags = data[0] & 4 ? VPMU_INSN_AMD : 0;
    avail = MIN(size - 1, (size_t)24);
    copy = malloc(avail ? avail : 1);
    memcpy(copy, data + 1, avail);

    ok = vpmu_insn_decode(copy, avail, mode, flags, &insn);
    if (ok) {
        INVARIANT(insn.len >= 1 && insn.len <= VPMU_INSN_MAX_LEN &&
                  insn.len <= avail, "length %u of %zu", insn.len, avail);
        INVARIANT(insn.cls <= VPMU_BRANCH_FAR, "class %u", insn.cls);
        INVARIANT(vpmu_insn_decode(copy, insn.len, mode, flags, &again) &&
                  !memcmp(&insn, &again, sizeof(insn)),
                  "decoding exactly %u bytes differs", insn.len);
        INVARIANT(!vpmu_insn_decode(copy, insn.len - 1, mode, flags, &again),
                  "decoded from %u bytes", insn.len - 1);
        (void)vpmu_insn_target(&insn, get64(data, size, 1), mode);
        (void)vpmu_insn_cond_taken(&insn, get64(data, size, 9),
                                   get64(data, size, 17));
    }

#ifdef VPMU_HAVE_CAPSTONE
    {
        static csh h[3];
        static bool opened;
        unsigned mi = mode == VPMU_INSN_MODE_64 ? 0 :
                      mode == VPMU_INSN_MODE_32 ? 1 : 2;
        cs_insn *ci;
        size_t c;

        if (!opened) {
            cs_open(CS_ARCH_X86, CS_MODE_64, &h[0]);
            cs_open(CS_ARCH_X86, CS_MODE_32, &h[1]);
            cs_open(CS_ARCH_X86, CS_MODE_16, &h[2]);
            opened = true;
        }
        c = cs_disasm(h[mi], copy, avail, 0x1000, 1, &ci);
        /* Capstone follows AMD where the vendors differ */
        if (c && ok && (flags & VPMU_INSN_AMD) &&
            !capstone_unreliable(ci, copy, mode)) {
            INVARIANT(ci->size == insn.len, "%s %s: capstone %u bytes, "
                      "ours %u", ci->mnemonic, ci->op_str, ci->size,
                      insn.len);
        }
        if (c) {
            cs_free(ci, c);
        }
    }
#endif

    /* The classifier on registers taken from the input */
    if (size >= 40) {
        FuzzMem m = { data, size };
        VPMUStepState prev = {
            .rip = get64(data, size, 1), .rsp = 0x1000 + data[9],
            .rflags = get64(data, size, 10), .rcx = get64(data, size, 18),
            .cs = data[26], .ss = data[27], .cpl = data[28] & 3,
            .mode = mode,
        };
        VPMUStepState now = prev;
        VPMURetire r;

        now.rip = data[29] & 1 ? prev.rip + (int8_t)data[30] :
                  get64(data, size, 30);
        now.rsp = 0x1000 + data[38];
        now.cpl = data[39] & 3;
        now.cs = data[39] & 4 ? prev.cs : data[39];
        vpmu_retire_classify(&prev, ok ? &insn : NULL, &now, data[29] & 2,
                             fuzz_read, &m, &r);
        INVARIANT(r.kind <= VPMU_RETIRE_UNEXPLAINED, "kind %d", r.kind);
        INVARIANT(!r.taken || r.branch, "taken without a branch");
        {
            VPMUTakenBranch b[VPMU_RETIRE_MAX_BRANCHES];
            unsigned nb = vpmu_retire_branches(&prev, ok ? &insn : NULL,
                                               &now, &r, b);

            INVARIANT(nb <= VPMU_RETIRE_MAX_BRANCHES, "%u branches", nb);
            /* An instruction's own branch is recorded only if taken */
            INVARIANT(nb == 0 || r.taken || r.late.taken || b[0].event ||
                      r.kind == VPMU_RETIRE_RETIRED_EVENT,
                      "a branch recorded that was not taken");
        }
    }
    free(copy);
    return 0;
}
