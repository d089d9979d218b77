#!/usr/bin/env python3
#
# qemu-vpmu: benchmark of the vPMU's per-operation cost (not a test)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# usage: vpmu-bench.py --qemu QEMU --guest bench.elf [-- EXTRA QEMU ARGS]
#
# Boots tests/guest/bench.c once per table.  The guest times each
# operation in TSC cycles; between phases it waits on COM1 while this
# script reads the vCPU's x-vpmu-stats over QMP, so that perf syscalls per
# operation (and branches recorded, instructions stepped) come from QEMU's
# own counters and the timed loops are not disturbed.  Every cost is
# printed as a ratio to the bare userspace exit (RDMSR 0x35, which QEMU
# answers without the vPMU), measured in the same run: these machines are
# too noisy for absolute numbers to mean much.
#
# Tables: the vPMU operations (the run the options choose), exact
# counting (-accel kvm,vpmu-exact=on: a stepped instruction) and LBR
# (-cpu host,pmu=on,lbr=on, the software backend, which steps the vCPU
# while the guest records: the cost per recorded branch and the guest's
# slowdown on a branchy loop).

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP                                       # noqa: E402

CPU_PATH = '/machine/unattached/device[0]'
STAT_COLUMNS = [('perf-opens', 'opens'), ('perf-ioctls', 'ioctls'),
                ('perf-fcntls', 'fcntls'), ('perf-closes', 'closes'),
                ('perf-reads', 'reads'), ('rdpmc-values', 'rdpmc')]


def run_bench(args, accel, extra, phases=None):
    """Boot the bench guest; return its phases and the last info lines.

    With @phases (a dict), also fill it with each phase's iterations, TSC
    cycles and the change of every x-vpmu-stats field over the phase.
    """
    tmp = tempfile.mkdtemp(prefix='vpmu-bench-')
    sock = os.path.join(tmp, 'qmp.sock')
    cmd = [args.qemu, '-M', 'pc', '-accel', accel, '-m', '64M',
           '-nodefaults',
           '-display', 'none', '-no-reboot', '-serial', 'stdio',
           '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
           '-qmp', f'unix:{sock},server=on,wait=off',
           '-kernel', args.guest] + extra
    qemu = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=sys.stderr, bufsize=0)
    qmp = QMP(sock)
    results = []
    info = {}
    before = None
    coherent = None
    try:
        for raw in qemu.stdout:
            line = raw.decode(errors='replace').strip()
            words = line.split()
            if not words:
                continue
            if words[0] == 'BENCH-START':
                before = qmp.cmd('qom-get', path=CPU_PATH,
                                 property='x-vpmu-stats')
                coherent = before['rdpmc-coherent']
            elif words[0] == 'BENCH-END':
                after = qmp.cmd('qom-get', path=CPU_PATH,
                                property='x-vpmu-stats')
                name, iters, cycles = words[1], int(words[2]), int(words[3])
                per_op = {k: (after[k] - before[k]) / iters
                          for k, _ in STAT_COLUMNS}
                results.append((name, cycles / iters, per_op))
                if phases is not None:
                    phases[name] = {'iters': iters, 'cycles': cycles,
                                 'delta': {k: after[k] - before[k]
                                           for k in after
                                           if isinstance(after[k], int)}}
            elif words[0] == 'BENCH-INFO':
                info[words[1]] = int(words[2])
                continue
            elif words[0] == 'BENCH-DONE':
                break
            else:
                continue
            qemu.stdin.write(b'g')
    finally:
        qmp.close()
        qemu.kill()
        qemu.wait()
    return results, info, coherent


def exact_table(args, out):
    """-accel kvm,vpmu-exact=on: a stepped instruction against the exit.

    Fills @out with the run's phases (run_bench()): the LBR table compares
    its branchy loop with the same loop stepped here for the counter alone.
    """
    results, info, _ = run_bench(args, 'kvm,vpmu-exact=on',
                                 ['-cpu', 'host,pmu=on,pmu-arch=intel', '-append',
                                  'exact=1'], out)
    phases = {name: cycles for name, cycles, _ in results}
    if set(phases) != {'bare-exit', 'nop-block-free', 'nop-block-stepped',
                       'branch-loop-free', 'branch-loop-stepped'}:
        print('vpmu-bench: the exact-counting run produced no results',
              file=sys.stderr)
        return 1
    block = 100                 # NOP_BLOCK in bench.c
    floor = phases['bare-exit']
    free = phases['nop-block-free'] / block
    stepped = phases['nop-block-stepped'] / block
    print()
    print('exact counting (-accel kvm,vpmu-exact=on), one run:')
    print(f'{"operation":<28}{"TSC cycles":>12}{"x bare exit":>13}')
    print(f'{"bare-exit":<28}{floor:>12.0f}{1:>13.2f}')
    print(f'{"stepped instruction":<28}{stepped:>12.0f}'
          f'{stepped / floor:>13.2f}')
    print(f'{"unstepped instruction":<28}{free:>12.1f}'
          f'{free / floor:>13.4f}')
    print(f'guest slowdown while stepping: x{stepped / free:.0f} '
          '(stepped / unstepped instruction)')
    print(f'instructions counted in the stepped phase: '
          f'{info.get("instructions-counted", 0)} (the phase ran at least '
          f'{block * 2000})')
    print('target: a stepped instruction <= 1.2x the bare exit')
    return 0


def lbr_table(args, exact):
    """-cpu host,pmu=on,lbr=on: the cost of recording, per branch.

    The guest runs the same branchy loop (a taken JMP and a JNZ, three
    instructions per iteration) with DEBUGCTL.LBR off and on; the
    difference, over the branches QEMU recorded in the phase
    (x-vpmu-stats lbr-recorded), is the cost of one recorded branch.
    @exact: the exact-counting run's phases (run_bench()'s), whose
    stepped loop is the same engine without LBR; {} when it did not run.
    """
    ph = {}
    _, info, _ = run_bench(args, args.accel,
                           ['-cpu', 'host,pmu=on,pmu-arch=intel,lbr=on', '-append', 'lbr=1'],
                           ph)
    print()
    print(f'LBR, software backend (-accel {args.accel} -cpu '
          'host,pmu=on,lbr=on), one run:')
    if not info.get('lbr-format'):
        print('vpmu-bench: the guest finds no LBR (PERF_CAPABILITIES[5:0] '
              '= 0): no LBR figures', file=sys.stderr)
        return 1
    if set(ph) != {'bare-exit', 'branch-loop-off', 'branch-loop-lbr'}:
        print('vpmu-bench: the LBR run produced no results', file=sys.stderr)
        return 1
    floor = ph['bare-exit']['cycles'] / ph['bare-exit']['iters']
    off, on = ph['branch-loop-off'], ph['branch-loop-lbr']
    iters = on['iters']
    recorded = on['delta'].get('lbr-recorded', 0)
    steps = on['delta'].get('exact-steps', 0)
    if not recorded or off['delta'].get('lbr-recorded', 0):
        print(f'vpmu-bench: {recorded} branches recorded with LBR on, '
              f'{off["delta"].get("lbr-recorded", 0)} with it off',
              file=sys.stderr)
        return 1
    extra = on['cycles'] - off['cycles']
    per_branch = extra / recorded
    print(f'{"operation":<34}{"TSC cycles":>12}{"x bare exit":>13}')
    print(f'{"bare-exit":<34}{floor:>12.0f}{1:>13.2f}')
    for label, ph in (('loop iteration, LBR off', off),
                      ('loop iteration, LBR on', on)):
        c = ph['cycles'] / ph['iters']
        print(f'{label:<34}{c:>12.0f}{c / floor:>13.2f}')
    print(f'{"recorded branch (on - off)":<34}{per_branch:>12.0f}'
          f'{per_branch / floor:>13.2f}')
    if steps:
        per_step = extra / steps
        print(f'{"stepped instruction, LBR on":<34}{per_step:>12.0f}'
              f'{per_step / floor:>13.2f}')
    print(f'guest slowdown with LBR on: x{on["cycles"] / off["cycles"]:.0f} '
          '(the same loop, LBR on / off)')
    print(f'branches recorded: {recorded} ({recorded / iters:.2f} per '
          f'iteration: the loop\'s JMP and JNZ, and the calls around it); '
          f'instructions stepped: {steps} ({steps / iters:.2f} per '
          'iteration)')
    if {'bare-exit', 'branch-loop-free', 'branch-loop-stepped'} <= set(exact):
        efloor = exact['bare-exit']['cycles'] / exact['bare-exit']['iters']
        efree, estep = exact['branch-loop-free'], exact['branch-loop-stepped']
        esteps = estep['delta'].get('exact-steps', 0)
        eextra = estep['cycles'] - efree['cycles']
        if esteps and steps:
            # Each per step, as a ratio to its own run's bare exit
            lbr_step = extra / steps / floor
            plain_step = eextra / esteps / efloor
            print(f'stepping alone (the exact run: the same loop stepped '
                  f'for an instruction counter, no LBR): {plain_step:.2f}x '
                  f'bare exit per stepped instruction; LBR\'s '
                  f'{lbr_step:.2f}x is x{lbr_step / plain_step:.2f} that')
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--guest', required=True)
    ap.add_argument('--accel', default='kvm',
                    help='the -accel option, e.g. kvm,vpmu-rdpmc=on')
    ap.add_argument('--no-exact', action='store_true',
                    help='skip the exact-counting (single-step) run')
    ap.add_argument('--no-lbr', action='store_true',
                    help='skip the LBR (lbr=on, single-step) run')
    ap.add_argument('extra', nargs='*')
    args = ap.parse_args()

    extra = args.extra or ['-cpu', 'host,pmu=on,pmu-arch=intel']
    results, _, coherent = run_bench(args, args.accel, extra)
    if not results or results[0][0] != 'bare-exit':
        print('vpmu-bench: the guest produced no results', file=sys.stderr)
        return 1
    floor = results[0][1]
    print(f'{"operation":<22}{"TSC cycles":>12}{"x bare exit":>13}' +
          ''.join(f'{label:>8}' for _, label in STAT_COLUMNS))
    for name, cycles, per_op in results:
        print(f'{name:<22}{cycles:>12.0f}{cycles / floor:>13.2f}' +
              ''.join(f'{per_op[k]:>8.2f}' for k, _ in STAT_COLUMNS))
    print('(opens, ioctls, fcntls, closes, reads: host perf syscalls per '
          'operation; '
          'context-switch = GLOBAL_CTRL=0, 4 counter reads, 4 selector '
          'writes, GLOBAL_CTRL=0xf)')
    print('pmi-latency: cycles the counter counted from its wrap to the '
          'guest\'s NMI handler (software mode adds up to its 1 ms minimum '
          'overflow period)')
    print('rdpmc: counter values pushed into KVM per operation (KVM_SET_MSRS'
          ' entries), for the guest\'s RDPMC')
    if coherent:
        print('RDPMC coherence: on (KVM has a PMU here): every figure above '
              'includes its pushes')
    else:
        print('RDPMC coherence: NOT MEASURED: KVM has no PMU here '
              '(kvm.enable_pmu=N), so nothing is pushed; run make bench on '
              'a host whose KVM has one for that configuration')
    print('targets: toggles and reads <= 1.10x, event change <= 1.50x, no '
          'open in context-switch')
    exact = {}
    rc = 0 if args.no_exact else exact_table(args, exact)
    if not args.no_lbr:
        rc = lbr_table(args, exact) or rc
    return rc


if __name__ == '__main__':
    sys.exit(main())
