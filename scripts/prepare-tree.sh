#!/bin/sh
# Turn a pristine QEMU tree into our build tree: copy, patch, overlay.
#
# usage: prepare-tree.sh PRISTINE_DIR BUILD_SRC_DIR REPO_DIR
#
# Incremental by design, so that `make` after an edit rebuilds only what
# changed:
# - the pristine tree is copied once;
# - patches/qemu/series is applied to fresh copies of the files it touches
#   and a file in the build tree is replaced only when its patched content
#   differs, so an unchanged patch leaves mtimes (and objects) alone;
# - our own files are symlinked into the tree, so an edit in the repo is
#   seen by ninja directly; new files get new links on the next run.
set -eu
pristine=$1
src=$2
repo=$(cd "$3" && pwd)
series=$repo/patches/qemu/series

if [ ! -f "$src/.copied" ]; then
    rm -rf "$src"
    mkdir -p "$(dirname "$src")"
    cp -a "$pristine" "$src"
    touch "$src/.copied"
fi

# --- patch series -------------------------------------------------------
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
files=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series" |
        while read -r p; do
            sed -n 's,^+++ b/\([^[:space:]]*\).*,\1,p' "$repo/patches/qemu/$p"
        done | sort -u)
# Files patched by an earlier series but not by this one go back to pristine.
if [ -f "$src/.patched-files" ]; then
    files="$files
$(cat "$src/.patched-files")"
    files=$(echo "$files" | sort -u)
fi
for f in $files; do
    mkdir -p "$stage/$(dirname "$f")"
    if [ -f "$pristine/$f" ]; then
        cp "$pristine/$f" "$stage/$f"
    fi
done
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$series" | while read -r p; do
    if ! patch -s -p1 -d "$stage" --no-backup-if-mismatch \
            < "$repo/patches/qemu/$p"; then
        echo "qemu-vpmu: patch $p does not apply to $(basename "$pristine")" >&2
        exit 1
    fi
done
for f in $files; do
    if [ ! -f "$stage/$f" ]; then
        rm -f "$src/$f"
    elif ! cmp -s "$stage/$f" "$src/$f"; then
        cp "$stage/$f" "$src/$f"
    fi
done
echo "$files" | sed -n '/./p' > "$src/.patched-files"

# --- overlay --------------------------------------------------------------
for dir in configs docs hw include qapi target tests/qtest tests/unit; do
    [ -d "$repo/$dir" ] || continue
    (cd "$repo" && find "$dir" -type f) | while read -r f; do
        if [ "$(readlink "$src/$f" 2>/dev/null)" != "$repo/$f" ]; then
            mkdir -p "$src/$(dirname "$f")"
            rm -f "$src/$f"
            ln -s "$repo/$f" "$src/$f"
        fi
    done
done
# Links whose repo file is gone would break the build: drop them.
find "$src" -type l ! -exec test -e {} \; -lname "$repo/*" -delete
