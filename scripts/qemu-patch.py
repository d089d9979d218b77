#!/usr/bin/env python3
#
# qemu-vpmu: edit one patch of patches/qemu/series
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
#   qemu-patch.py extract NAME DIR
#       DIR/a: the files any patch of the series touches, pristine plus the
#       patches before NAME; DIR/b: the same plus NAME.  Edit DIR/b.
#   qemu-patch.py refresh NAME DIR
#       Rewrite patches/qemu/NAME as the difference DIR/a -> DIR/b, keeping
#       its header (From, Subject, message, Signed-off-by), then check that
#       the whole series still applies to the pristine tree.
#
# The pristine tree is the one `make` uses (build/qemu-src/.pristine).
# Run `make` afterwards: it re-applies the series.

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = os.path.join(ROOT, 'patches', 'qemu')


def series():
    with open(os.path.join(PATCHES, 'series')) as f:
        return [l.split('#')[0].strip() for l in f
                if l.split('#')[0].strip()]


def pristine():
    with open(os.path.join(ROOT, 'build', 'qemu-src', '.pristine')) as f:
        return f.read().strip()


def touched(name):
    out = []
    with open(os.path.join(PATCHES, name)) as f:
        for line in f:
            if line.startswith('+++ b/'):
                out.append(line[6:].split()[0])
    return out


def stage(dest, names):
    """Pristine copies of every file the series touches, then @names."""
    files = sorted({f for n in series() for f in touched(n)})
    src = pristine()
    for f in files:
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        if os.path.exists(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(dest, f))
    for n in names:
        subprocess.run(['patch', '-s', '-p1', '-d', dest,
                        '--no-backup-if-mismatch', '-i',
                        os.path.join(PATCHES, n)], check=True)


def header(name):
    """Everything before the first diff of @name."""
    lines = []
    with open(os.path.join(PATCHES, name)) as f:
        for line in f:
            if line.startswith('diff ') or line.startswith('--- '):
                break
            lines.append(line)
    return ''.join(lines)


def diff(a, b, order):
    """Every file that differs, those of @order first, in that order."""
    out = []
    rels = sorted(os.path.relpath(os.path.join(top, n), b)
                  for top, _, names in os.walk(b) for n in names)
    rels = [r for r in order if r in rels] + \
        [r for r in rels if r not in order]
    for rel in rels:
        old = os.path.join(a, rel)
        p = subprocess.run(['diff', '-u', '--label', f'a/{rel}',
                            '--label', f'b/{rel}',
                            old if os.path.exists(old) else '/dev/null',
                            os.path.join(b, rel)],
                           stdout=subprocess.PIPE, text=True)
        if p.returncode == 1:
            out.append(f'diff --git a/{rel} b/{rel}\n' + p.stdout)
        elif p.returncode != 0:
            sys.exit(f'diff failed for {rel}')
    return ''.join(out)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('extract', 'refresh'):
        sys.exit(__doc__ or 'usage: qemu-patch.py extract|refresh NAME DIR')
    cmd, name, d = sys.argv[1:]
    names = series()
    if name not in names:
        sys.exit(f'{name} is not in the series')
    before = names[:names.index(name)]
    if cmd == 'extract':
        for sub in ('a', 'b'):
            shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
        stage(os.path.join(d, 'a'), before)
        stage(os.path.join(d, 'b'), before + [name])
        print(f'edit {d}/b, then: {sys.argv[0]} refresh {name} {d}')
        return
    text = header(name) + diff(os.path.join(d, 'a'), os.path.join(d, 'b'),
                               touched(name))
    with open(os.path.join(PATCHES, name), 'w') as f:
        f.write(text)
    check = os.path.join(d, 'check')
    shutil.rmtree(check, ignore_errors=True)
    stage(check, names)
    print(f'{name} refreshed; the series applies')


if __name__ == '__main__':
    main()
