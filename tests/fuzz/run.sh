#!/bin/sh
#
# qemu-vpmu: run the fuzzers for a bounded time
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage, from the repository root: tests/fuzz/run.sh 60s | 100000
#   Ns  run each fuzzer for N seconds (-max_total_time=N)
#   N   run N inputs through each (-runs=N)
# Extra arguments go to libFuzzer.  Builds first (cheap when up to date),
# keeps each corpus in build/fuzz/corpus-NAME and crash inputs in
# build/fuzz/.  Runs the register-model fuzzer, the decoder's, then the
# LBR model's; prints libFuzzer's final stats and one line per fuzzer
#   fuzz: NAME: N executions, C crashes
# and exits non-zero if any found a crash or invariant violation.
# Reproduce one with: build/fuzz/NAME build/fuzz/NAME-crash-...

set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 SECONDSs|RUNS [libFuzzer options...]" >&2
    exit 2
fi
limit=$1
shift
case $limit in
*s) bound="-max_total_time=${limit%s}" ;;
*)  bound="-runs=$limit" ;;
esac
case ${limit%s} in
''|*[!0-9]*) echo "$0: '$limit' is neither N nor Ns" >&2; exit 2 ;;
esac

tests/fuzz/build.sh

# fuzz NAME: one bounded run of build/fuzz/NAME, then its summary line.
status=0
fuzz() {
    name=$1
    shift
    mkdir -p "build/fuzz/corpus-$name"
    log=build/fuzz/$name.log
    rc=0
    "build/fuzz/$name" "$bound" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="build/fuzz/$name-" "$@" "build/fuzz/corpus-$name" \
        >"$log" 2>&1 || rc=$?

    grep -E '^(Done [0-9]+ runs|stat::)' "$log" || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
           "$log" | tail -n 1)
    if [ -z "$runs" ]; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    fi
    crashes=$(grep -c -E '^(==[0-9]+==ERROR|vpmu-[a-z]+-fuzz: INVARIANT)' \
              "$log" || true)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1
    fi
    if [ "$crashes" -ne 0 ]; then
        # Show what failed: the invariant or sanitizer report and the input.
        grep -E -A 12 '(==ERROR|INVARIANT|runtime error)' "$log" |
            head -n 40 >&2
        grep -E 'Test unit written to' "$log" >&2 || true
        status=1
    fi
    [ "$rc" -eq 0 ] || status=1
    echo "fuzz: $name: ${runs:-0} executions, $crashes crashes"
}

# The model first: its corpus predates the split into two fuzzers.
[ -d build/fuzz/corpus ] && [ ! -d build/fuzz/corpus-vpmu-model-fuzz ] &&
    mv build/fuzz/corpus build/fuzz/corpus-vpmu-model-fuzz
fuzz vpmu-model-fuzz "$@"
fuzz vpmu-insn-fuzz "$@"
fuzz vpmu-lbr-fuzz "$@"
exit $status
