/*
 * qemu-vpmu fuzzing: stand-in for QEMU's "qapi/error.h"
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * error_setg() keeps the formatted message, as QEMU's does, so that the
 * harness can check that a rejected configuration says why.
 */
#ifndef FUZZ_SHIM_QAPI_ERROR_H
#define FUZZ_SHIM_QAPI_ERROR_H

#include "qemu/osdep.h"

struct Error {
    char *msg;
};

static inline void __attribute__((format(printf, 2, 3)))
error_setg(Error **errp, const char *fmt, ...)
{
    va_list ap;
    Error *err;
    int len;

    if (!errp) {
        return;
    }
    /* QEMU asserts this too: setting an error twice loses the first. */
    if (*errp) {
        fprintf(stderr, "error_setg: error already set\n");
        abort();
    }
    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    err = malloc(sizeof(*err));
    if (!err || len < 0) {
        abort();
    }
    err->msg = malloc((size_t)len + 1);
    if (!err->msg) {
        abort();
    }
    va_start(ap, fmt);
    vsnprintf(err->msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    *errp = err;
}

static inline const char *error_get_pretty(const Error *err)
{
    return err->msg;
}

static inline void error_free(Error *err)
{
    if (err) {
        free(err->msg);
        free(err);
    }
}

#endif
