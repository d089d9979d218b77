#!/bin/sh
#
# qemu-vpmu: build the fuzzers (no QEMU build needed)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage, from the repository root: tests/fuzz/build.sh
# Output: build/fuzz/vpmu-model-fuzz (the register model, Intel and AMD),
# build/fuzz/vpmu-insn-fuzz (the instruction decoder and the single-step
# classifier, cross-checked with capstone where libcapstone-dev is
# installed) and build/fuzz/vpmu-lbr-fuzz (the LBR register model).
# Needs clang with libFuzzer (Debian: clang and libclang-rt-dev); CC
# overrides the compiler.

set -eu

if [ ! -f hw/i386/vpmu/vpmu-core.c ]; then
    echo "build.sh: run me from the repository root" >&2
    exit 1
fi

CC=${CC:-clang}
trace=build/fuzz/trace/trace-hw_i386_vpmu.h
flags="-g -O1 -fsanitize=fuzzer,address,undefined -Werror
       -fno-sanitize-recover=undefined
       -Itests/fuzz/shim -Ibuild/fuzz -Iinclude -Ihw/i386/vpmu"

# The model's "trace.h" includes "trace/trace-hw_i386_vpmu.h": empty stubs.
mkdir -p build/fuzz/trace
python3 scripts/trace-stubs.py hw/i386/vpmu/trace-events "$trace"

# build OUT SOURCES...: relink only when an input is newer than OUT.  The
# fuzzers include two headers of the unit tests (vpmu-insn-capstone.h,
# vpmu-null-backend.h).
build() {
    out=$1
    shift
    if [ -f "$out" ] &&
       [ -z "$(find tests/fuzz tests/unit/vpmu-insn-capstone.h \
                tests/unit/vpmu-null-backend.h "$@" \
                hw/i386/vpmu/trace.h hw/i386/vpmu/trace-events \
                hw/i386/vpmu/vpmu-internal.h \
                include/hw/i386 "$trace" scripts/trace-stubs.py \
                -newer "$out" -type f | head -n 1)" ]; then
        echo "build.sh: $out is up to date"
        return
    fi
    # shellcheck disable=SC2086
    $CC $flags $extra "$@" -o "$out" $libs
    echo "build.sh: built $out"
}

extra= libs=
build build/fuzz/vpmu-model-fuzz tests/fuzz/vpmu-model-fuzz.c \
    tests/fuzz/vpmu-model-fuzz-amd.c hw/i386/vpmu/vpmu-core.c hw/i386/vpmu/vpmu-intel.c \
    hw/i386/vpmu/vpmu-amd.c hw/i386/vpmu/vpmu-lbr.c
build build/fuzz/vpmu-lbr-fuzz tests/fuzz/vpmu-lbr-fuzz.c \
    hw/i386/vpmu/vpmu-lbr.c

if pkg-config --exists capstone; then
    extra="-DVPMU_HAVE_CAPSTONE $(pkg-config --cflags capstone)"
    libs=$(pkg-config --libs capstone)
else
    echo "build.sh: WARNING: no libcapstone-dev: the decoder fuzzer runs" \
         "without its capstone cross-check" >&2
fi
build build/fuzz/vpmu-insn-fuzz tests/fuzz/vpmu-insn-fuzz.c \
    hw/i386/vpmu/vpmu-insn.c hw/i386/vpmu/vpmu-retire.c
