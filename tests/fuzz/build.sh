#!/bin/sh
#
# qemu-vpmu: build the register-model fuzzer (no QEMU build needed)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage, from the repository root: tests/fuzz/build.sh
# Output: build/fuzz/vpmu-model-fuzz.  Needs clang with libFuzzer
# (Debian: clang and libclang-rt-dev); CC overrides the compiler.

set -eu

if [ ! -f hw/i386/vpmu/vpmu-model.c ]; then
    echo "build.sh: run me from the repository root" >&2
    exit 1
fi

CC=${CC:-clang}
out=build/fuzz/vpmu-model-fuzz
trace=build/fuzz/trace/trace-hw_i386_vpmu.h

# The model's "trace.h" includes "trace/trace-hw_i386_vpmu.h": empty stubs.
mkdir -p build/fuzz/trace
python3 scripts/trace-stubs.py hw/i386/vpmu/trace-events "$trace"

# Relink only when an input is newer than the binary.
if [ -f "$out" ] &&
   [ -z "$(find tests/fuzz hw/i386/vpmu/vpmu-model.c hw/i386/vpmu/trace.h \
            hw/i386/vpmu/trace-events include/hw/i386/vpmu.h "$trace" \
            scripts/trace-stubs.py -newer "$out" -type f | head -n 1)" ]; then
    echo "build.sh: $out is up to date"
    exit 0
fi

$CC -g -O1 -fsanitize=fuzzer,address,undefined -Werror \
    -fno-sanitize-recover=undefined \
    -Itests/fuzz/shim -Ibuild/fuzz -Iinclude -Ihw/i386/vpmu \
    tests/fuzz/vpmu-model-fuzz.c hw/i386/vpmu/vpmu-model.c -o "$out"
echo "build.sh: built $out"
