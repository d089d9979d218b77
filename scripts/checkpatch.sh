#!/bin/sh
#
# qemu-vpmu: QEMU's scripts/checkpatch.pl over our C files and patches
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# usage: scripts/checkpatch.sh QEMU_SRC_DIR
# Checks every C source and header of ours (tracked, or new and not
# ignored) with -f, and each patch of patches/qemu/series as a patch.
# Prints what checkpatch says about each one that is not clean, then
#   checkpatch: N files, M patches, E with errors
# and exits non-zero if any has an error.
set -u
src=$1
cd "$(dirname "$0")/.."
cp="$src/scripts/checkpatch.pl"
if [ ! -f "$cp" ]; then
    echo "checkpatch: no $cp (run make first)" >&2
    exit 2
fi
files=$( (git ls-files; git ls-files --others --exclude-standard) |
         grep -E '\.(c|h)$' | sort -u)
bad=0 nfiles=0 npatches=0
for f in $files; do
    nfiles=$((nfiles + 1))
    if ! out=$(perl "$cp" --no-tree -q -f "$f" 2>&1); then
        echo "$out"
        bad=$((bad + 1))
    fi
done
for p in $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' patches/qemu/series); do
    npatches=$((npatches + 1))
    if ! out=$(perl "$cp" --no-tree -q "patches/qemu/$p" 2>&1); then
        echo "== patches/qemu/$p"
        echo "$out"
        bad=$((bad + 1))
    fi
done
echo "checkpatch: $nfiles files, $npatches patches, $bad with errors"
[ "$bad" -eq 0 ]
