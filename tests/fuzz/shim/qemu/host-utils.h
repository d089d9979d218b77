/*
 * qemu-vpmu fuzz shim: the part of QEMU's qemu/host-utils.h the model uses
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FUZZ_SHIM_QEMU_HOST_UTILS_H
#define FUZZ_SHIM_QEMU_HOST_UTILS_H

static inline int ctpop64(uint64_t val)
{
    return __builtin_popcountll(val);
}

#endif
