/*
 * qemu-vpmu fuzzing: stand-in for QEMU's "qemu/log.h"
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Logging is off, as in QEMU without -d: the fuzzer makes the model
 * complain on nearly every input.  The function still checks the format
 * against its arguments, so a bad format in the model fails the build.
 */
#ifndef FUZZ_SHIM_QEMU_LOG_H
#define FUZZ_SHIM_QEMU_LOG_H

#include "qemu/osdep.h"

/* The values QEMU uses; only their being distinct matters here. */
#define LOG_UNIMP       (1 << 10)
#define LOG_GUEST_ERROR (1 << 11)

static inline void __attribute__((format(printf, 2, 3)))
qemu_log_mask(int mask, const char *fmt, ...)
{
    (void)mask;
    (void)fmt;
}

#endif
