#!/usr/bin/env python3
#
# qemu-vpmu: boot one freestanding test guest and relay what it says
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# usage: run-guest.py --qemu QEMU GUEST.elf [-- EXTRA QEMU ARGS]
#
# The guest writes to COM1 and ends through isa-debug-exit, which makes
# QEMU exit with (code << 1) | 1; this script exits with the guest's own
# code (0 = all checks passed), or 124 on a timeout, or 125 when QEMU
# itself failed.  KVM is required: without /dev/kvm we fail loudly.

import argparse
import os
import subprocess
import sys
import time


def kvm_problem():
    """Return why KVM cannot be used here, or None."""
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError as e:
        return f'cannot open /dev/kvm: {e.strerror}'
    os.close(fd)
    return None


def qemu_command(qemu, guest, extra):
    # QEMU takes the first -accel that works: let the caller's win.
    accel = [] if '-accel' in extra else ['-accel', 'kvm']
    return [qemu, '-M', 'pc'] + accel + ['-m', '64M',
            '-nodefaults', '-display', 'none', '-no-reboot',
            '-serial', 'stdio',
            '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
            '-kernel', guest] + extra


def run_guest(qemu, guest, extra, timeout=60):
    """Boot @guest; return (status, output, seconds)."""
    cmd = qemu_command(qemu, guest, extra)
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode(errors='replace')
        return 124, out + f'\n(timed out after {timeout}s)\n', timeout
    out = p.stdout.decode(errors='replace').replace('\r\n', '\n')
    secs = time.monotonic() - start
    if p.returncode & 1 and p.returncode > 0:
        return p.returncode >> 1, out, secs
    return 125, out + f'\n(QEMU exited with {p.returncode}: ' \
        f'{" ".join(cmd)})\n', secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--timeout', type=int, default=60)
    ap.add_argument('guest')
    ap.add_argument('extra', nargs='*')
    args = ap.parse_args()
    problem = kvm_problem()
    if problem:
        print(f'run-guest: FAIL: this needs KVM and {problem}',
              file=sys.stderr)
        return 125
    status, out, _ = run_guest(args.qemu, args.guest, args.extra,
                               args.timeout)
    sys.stdout.write(out)
    return status


if __name__ == '__main__':
    sys.exit(main())
