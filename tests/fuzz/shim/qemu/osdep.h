/*
 * qemu-vpmu fuzzing: stand-in for QEMU's "qemu/osdep.h"
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Just enough of QEMU's prelude for the register model (vpmu-core.c and
 * vpmu-intel.c in hw/i386/vpmu/) to build unchanged against plain C11 and
 * libc, so that the fuzzer needs neither a QEMU build nor glib.
 */
#ifndef FUZZ_SHIM_QEMU_OSDEP_H
#define FUZZ_SHIM_QEMU_OSDEP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* QEMU declares this in qemu/typedefs.h, which osdep.h pulls in. */
typedef struct Error Error;

/*
 * QEMU's versions evaluate their arguments once; the model only passes
 * side-effect-free expressions, so the plain forms are enough here.
 */
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#endif

#endif
