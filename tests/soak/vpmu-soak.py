#!/usr/bin/env python3
#
# qemu-vpmu: the vPMU under load (make soak)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# usage: vpmu-soak.py --qemu QEMU --guest-build DIR [--seconds 45]
#                     [--migrations 3] [--seed N] [--keep-logs] [--cpu ...]
#
# From Python (tests/vpmu-check.py):
#   sys.path.insert(0, 'tests/soak')
#   soak = importlib.import_module('vpmu-soak')
#   ok, last_line = soak.run_soak(qemu, guest_build, seconds=45,
#                                 migrations=3, out=lines.append)
#
# An -smp 4 guest (tests/guest/pmu-soak.c) keeps every counter of every
# vCPU busy: event changes, enable toggles, GLOBAL_CTRL and FIXED_CTR_CTRL
# changes, freeze on PMI, CTR_FRZ and GLOBAL_STATUS_SET (PMU version 4,
# the default here), counters armed near their wrap that overflow and
# raise PMIs (NMIs), and counts checked for monotonicity.  Meanwhile
# three QMP clients, each on its own socket, loop:
#
#   query    query-vpmu (checked for consistency: vCPUs, counters, host
#            states against open events, perf opens - failures - closes
#            = open events, nothing open while reclaimed) and HMP
#            "info vpmu";
#   reclaim  vpmu-reclaim / vpmu-restore, with and without cpu-index (and
#            a cpu-index that does not exist, which must be refused),
#            checking the reclaimed flags and the VPMU_RECLAIMED/RESTORED
#            events;
#   filter   vpmu-set-filter with random allow/deny lists (and filters
#            that must be refused), checked with query-vpmu-filter;
#
# and a fourth (the control client, on this script's main thread)
# live-migrates the guest over unix sockets: each destination is a fresh
# QEMU with the same command line plus -incoming; once the migration has
# completed the load clients move to it and the source quits (A -> B ->
# C -> D).  Reclaim and the filter are host policy and not migrated: the
# clients check that a destination starts unreclaimed and unfiltered.
#
# The guest's serial output comes from whichever QEMU runs it; the
# instances' outputs are stitched in order.  At the end the guest settles
# and reports, per vCPU, its PMI accounting (see pmu-soak.c: "expected" is
# every overflow noticed while LVTPC was unmasked, "received" those whose
# status bit an NMI handler cleared) and its monotonicity checks.
#
# Pass criteria: every guest check passes (no PMI lost, no spurious NMI,
# no count backwards, every overflow bit accounted for), the guest's NMIs
# equal the PMIs the hosts delivered and its overflow bits are no more
# than the overflows they counted (query-vpmu, summed over instances),
# every counter the backend can count overflowed, every migration
# completes and every vCPU makes progress after it, no QMP command fails
# (or succeeds where it must fail), no instance's file descriptors or
# threads grow (other than perf fds, which are bounded by one per counter
# and must all be closed once the guest stops counting), RSS grows by at
# most RSS_GROWTH_KIB per instance (RSS_STEADY_KIB in the second half of
# a long one), and nothing hangs (every wait is bounded; a vCPU silent
# for STALL_S fails; the whole run is bounded by --hard-timeout).
#
# Every QEMU started here is stopped on every way out: normal end,
# exceptions, timeouts, SIGTERM/SIGINT/SIGHUP (handlers), and the death
# of this script (PR_SET_PDEATHSIG).  Only their PIDs are signalled.
#
# Output: figures, then a last line "soak: PASS ..." or "soak: FAIL
# (reasons)"; exit status 0 or 1.  run_soak() does the same for callers
# that import this file (tests/vpmu-check.py).

import argparse
import ctypes
import importlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, '..', 'guest'))
sys.path.insert(0, os.path.join(_HERE, '..', 'bench'))
run_guest_mod = importlib.import_module('run-guest')
from qmp import QMP                                       # noqa: E402

# RSS growth allowed per instance, between the start of its load (boot
# done or migration in, every client connected) and its end (its
# migration out completed, or the guest stopped).  What legitimately
# grows: glibc's per-thread malloc arenas warming up under the QMP and
# vCPU traffic, and on a source the migration's own buffers and dirty
# bitmap (64 MiB of guest RAM: a 2 KiB bitmap, but a few hundred KiB of
# QEMUFile buffers and the migration thread's stack).  Measured here
# (make check's 45 s, 4 instances): 430-810 KiB.  A leak of one QMP
# reply per query-vpmu (about 4 KiB, some 15 a second) exceeds it in
# about a minute of an instance's life, as in make soak.
RSS_GROWTH_KIB = 4 * 1024
# And in the steady state: over the second half of an instance's load
# (when that is at least STEADY_MIN_S long), RSS may grow by at most
# RSS_STEADY_KIB.  Measured here: RSS steps up by about 300 KiB once or
# twice early on (malloc arenas) and then stays flat.
RSS_STEADY_KIB = 1024
STEADY_MIN_S = 10

# Guest STAT lines must keep coming: a vCPU silent this long is hung.
STALL_S = 30

# Known QEMU startup warnings on the development hosts; anything else on
# stderr is reported, and these patterns fail the run.
STDERR_FATAL = re.compile(r'vPMU: cannot|assert|Aborted|internal error|'
                          r'Segmentation|core dumped|KVM_[A-Z_]+ failed|'
                          r'Too many open files|cannot route', re.I)
STDERR_KNOWN = re.compile(
    r'exceeds the recommended cpus|vPMU: no usable host PMU|'
    r'vPMU: KVM has no PMU of its own|non-Intel CPU vendor|'
    r'KVM refuses IA32_ARCH_CAPABILITIES|vPMU: counting guest events|'
    r'vPMU: software mode')

# Version 4 has GLOBAL_STATUS_SET and CTR_FRZ for the guest to exercise;
# the rest is version 2's (4 GP, 3 fixed counters, 48 bits here).
DEFAULT_CPU = 'host,pmu=on,pmu-arch=intel,pmu-version=4'
PR_SET_PDEATHSIG = 1
CLIENTS = ('query', 'reclaim', 'filter')
CONTROL = 'control'


class SoakError(Exception):
    """The soak cannot go on: a hang, a dead QEMU, a harness error."""


class Interrupted(Exception):
    pass


def _pdeathsig():
    """In the child: die with the parent (thread that forked us)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


class Client(QMP):
    """tests/bench/qmp.py's QMP, with timeouts on every read."""

    def __init__(self, path, timeout=30, cmd_timeout=30):
        self.event_counts = {}
        super().__init__(path, timeout, io_timeout=cmd_timeout)

    def cmd(self, name, **args):
        try:
            return super().cmd(name, **args)
        finally:
            # Count events, do not keep them: the run would grow.
            for ev in self.events:
                key = ev['event']
                if key in ('VPMU_RECLAIMED', 'VPMU_RESTORED'):
                    key = (key, ev.get('data', {}).get('cpu-index'))
                self.event_counts[key] = self.event_counts.get(key, 0) + 1
            self.events.clear()

    def close(self):
        try:
            self.file.close()
        except OSError:
            pass
        self.sock.close()


def proc_figures(pid):
    """{'fds', 'perf', 'rss_kib', 'threads'} of a process now, or None."""
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
        perf = 0
        for fd in fds:
            try:
                if 'perf_event' in os.readlink(f'/proc/{pid}/fd/{fd}'):
                    perf += 1
            except OSError:
                pass
        rss = threads = None
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
                elif line.startswith('Threads:'):
                    threads = int(line.split()[1])
    except OSError:
        return None
    return {'fds': len(fds), 'perf': perf, 'rss_kib': rss,
            'threads': threads, 'time': time.monotonic()}


class Instance:
    """One QEMU: its sockets, its output, its figures."""

    def __init__(self, soak, name, incoming):
        self.soak, self.name = soak, name
        self.socks = {c: os.path.join(soak.tmp, f'{name}-{c}.sock')
                      for c in CLIENTS + (CONTROL,)}
        self.mig_sock = os.path.join(soak.tmp, f'{name}-migrate.sock')
        extra = list(soak.qemu_extra)
        for c in CLIENTS + (CONTROL,):
            extra += ['-qmp', f'unix:{self.socks[c]},server=on,wait=off']
        if incoming:
            extra += ['-incoming', f'unix:{self.mig_sock}']
        self.cmdline = run_guest_mod.qemu_command(soak.qemu, soak.elf, extra)
        self.out = bytearray()
        self.err = []
        self.eof = False
        self.lock = threading.Lock()
        self.start_fig = self.end_fig = None
        self.samples = []
        self.host_vpmu = None           # query-vpmu at the end
        self.ctl = None
        self.started = time.monotonic()
        self.ended = None
        self.proc = subprocess.Popen(self.cmdline, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0,
                                     preexec_fn=_pdeathsig)
        soak.procs.append(self.proc)
        self.readers = [
            threading.Thread(target=self._read_out, daemon=True,
                             name=f'{name}-stdout'),
            threading.Thread(target=self._read_err, daemon=True,
                             name=f'{name}-stderr')]
        for t in self.readers:
            t.start()

    def _read_out(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b''
            with self.lock:
                if not data:
                    self.eof = True
                    return
                self.out += data

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.lock:
                self.err.append(raw.decode(errors='replace').rstrip())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def figures(self):
        return proc_figures(self.pid)

    def sample(self):
        fig = self.figures()
        if fig:
            self.samples.append(fig)
        return fig

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def connect_control(self, timeout=30):
        self.ctl = Client(self.socks[CONTROL], timeout=timeout)
        return self.ctl

    def quit(self, timeout=15):
        """Ask QEMU to quit; kill it if it does not."""
        if self.alive() and self.ctl:
            try:
                self.ctl.cmd('quit')
            except (OSError, RuntimeError, ValueError):
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.soak.fail(f'instance {self.name} did not quit within '
                           f'{timeout} s: killed')
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        for t in self.readers:
            t.join(timeout=10)
        self.ended = time.monotonic()


class Stream:
    """
    The guest's serial output, stitched from the instances in order: an
    instance's bytes count only once every earlier instance's output has
    ended (EOF), so a line split by a migration is whole again.
    """

    def __init__(self):
        self.instances = []
        self.idx = self.off = 0
        self.partial = b''

    def advance(self):
        """New complete lines, as (instance index, text)."""
        lines = []
        while self.idx < len(self.instances):
            inst = self.instances[self.idx]
            with inst.lock:
                data = bytes(inst.out[self.off:])
                eof = inst.eof
            self.off += len(data)
            self.partial += data
            *complete, self.partial = self.partial.split(b'\n')
            lines += [(self.idx, l.decode(errors='replace').rstrip('\r'))
                      for l in complete]
            if not eof:
                break
            self.idx += 1
            self.off = 0
        return lines


class Guest:
    """What the guest said, parsed."""

    STAT = re.compile(r'^(STAT|FINAL|WRAPS) cpu=(\d+) (.*)$')

    def __init__(self, log_path):
        self.log = open(log_path, 'w')
        self.ready = None
        self.stats = {}         # cpu -> {field: value, 'inst': i, 't': s}
        self.finals = {}
        self.wraps = {}         # cpu -> {counter name: wraps}
        self.bad = []
        self.tap = []
        self.sync_final = False
        self.garbled = 0
        self.tail = []

    def feed(self, inst_idx, line):
        self.log.write(f'{inst_idx} {line}\n')
        self.tail = (self.tail + [line])[-40:]
        m = self.STAT.match(line)
        if m:
            fields = {}
            for kv in m.group(3).split():
                k, _, v = kv.partition('=')
                try:
                    fields[k] = int(v, 0)
                except ValueError:
                    self.garbled += 1
                    return
            cpu = int(m.group(2))
            if m.group(1) == 'WRAPS':
                self.wraps[cpu] = fields
                return
            fields['inst'] = inst_idx
            fields['t'] = time.monotonic()
            (self.stats if m.group(1) == 'STAT' else self.finals)[cpu] = \
                fields
            if m.group(1) == 'FINAL':
                self.stats[cpu] = fields
            return
        if line.startswith('SOAK ready'):
            self.ready = line
        elif line.startswith('BAD '):
            self.bad.append(line)
        elif line.startswith('ok ') or line.startswith('not ok '):
            self.tap.append(line)
        elif line == 'SYNC final':
            self.sync_final = True
        elif line.startswith('Bail out!'):
            self.bad.append(line)

    def close(self):
        self.log.close()


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {}

    def add(self, key, k=1):
        with self.lock:
            self.n[key] = self.n.get(key, 0) + k

    def get(self, key):
        with self.lock:
            return self.n.get(key, 0)


class LoadClient(threading.Thread):
    """A QMP client thread that follows the guest from QEMU to QEMU."""

    def __init__(self, soak, name):
        super().__init__(daemon=True, name=f'client-{name}')
        self.soak = soak
        self.cname = name
        self.q = None
        self.gen = -1
        self.inst = None
        self.parked = False
        self.rng = random.Random(f'{soak.seed}-{name}')
        self.error = None

    def run(self):
        s = self.soak
        try:
            while True:
                with s.cond:
                    while s.paused and not s.stopping:
                        self.parked = True
                        s.cond.notify_all()
                        s.cond.wait(0.5)
                    self.parked = False
                    if s.stopping:
                        break
                    target, gen = s.current, s.gen
                if gen != self.gen:
                    self.switch(target, gen)
                self.op()
        except Exception as e:                  # noqa: BLE001
            if not s.aborting:          # not what cleanup's kill caused
                self.error = f'{self.cname} client: {e!r}'
                s.fail(self.error)
                s.note(traceback.format_exc())
        finally:
            if self.q:
                # Only a clean stop checks the end (cleanup kills QEMU).
                if not s.aborting and not self.error:
                    try:
                        self.leave()
                    except Exception as e:      # noqa: BLE001
                        s.fail(f'{self.cname} client: leaving '
                               f'{self.inst.name}: {e!r}')
                self.q.close()
            with s.cond:
                self.parked = True
                s.cond.notify_all()

    def switch(self, target, gen):
        if self.q:
            self.leave()
            self.q.close()
            self.q = None
        self.q = Client(target.socks[self.cname])
        self.inst, self.gen = target, gen
        self.arrive()
        with self.soak.cond:
            self.soak.cond.notify_all()

    def arrive(self):
        pass

    def leave(self):
        pass

    def sleep(self, lo, hi):
        time.sleep(self.rng.uniform(lo, hi))

    def expect(self, cond, what):
        if not cond:
            self.soak.fail(f'{self.cname} client on {self.inst.name}: {what}')
        return cond


VALID_STATES = {'unused', 'active', 'inactive', 'released', 'preempted',
                'error', 'unsupported', 'filtered', 'reclaimed'}
FD_STATES = {'active', 'inactive', 'preempted'}


def check_query_vpmu(soak, r, where):
    """Consistency of one query-vpmu answer; returns problems."""
    bad = []
    if [v['cpu-index'] for v in r] != list(range(soak.smp)):
        return [f'{where}: query-vpmu lists vCPUs '
                f'{[v["cpu-index"] for v in r]}']
    for v in r:
        cpu = v['cpu-index']
        ctrs = v['counters']
        if soak.layout is None:
            soak.layout = [(c['kind'], c['index']) for c in ctrs]
            soak.version = v['version']
        if [(c['kind'], c['index']) for c in ctrs] != soak.layout or \
                v['version'] != soak.version:
            bad.append(f'{where}: cpu {cpu}: counters or version changed')
        states = [c['host-state'] for c in ctrs]
        if any(st not in VALID_STATES for st in states):
            bad.append(f'{where}: cpu {cpu}: host states {states}')
        with_fd = sum(st in FD_STATES for st in states)
        maybe_fd = with_fd + states.count('error')
        if not with_fd <= v['open-events'] <= maybe_fd:
            bad.append(f'{where}: cpu {cpu}: {v["open-events"]} open events '
                       f'for host states {states}')
        if v['reclaimed'] and (v['open-events'] or with_fd):
            bad.append(f'{where}: cpu {cpu}: reclaimed, yet '
                       f'{v["open-events"]} open events, states {states}')
        if v['open-events'] > len(ctrs):
            bad.append(f'{where}: cpu {cpu}: {v["open-events"]} open events '
                       f'for {len(ctrs)} counters')
        st = v['stats']
        if st['perf-opens'] - st['perf-open-failures'] - \
                st['perf-closes'] != v['open-events']:
            bad.append(f'{where}: cpu {cpu}: {st["perf-opens"]} perf opens, '
                       f'{st["perf-open-failures"]} failed, '
                       f'{st["perf-closes"]} closes, but '
                       f'{v["open-events"]} open events')
        for c in ctrs:
            if c['count'] >= 1 << 64 or c['count'] < 0:
                bad.append(f'{where}: cpu {cpu}: count {c["count"]}')
            if v['reclaimed'] and c['enabled'] and \
                    c['host-state'] != 'reclaimed':
                bad.append(f'{where}: cpu {cpu}: reclaimed, yet an enabled '
                           f'counter is {c["host-state"]}')
    return bad


class QueryClient(LoadClient):
    """query-vpmu, checked, and HMP info vpmu."""

    def op(self):
        s = self.soak
        r = self.q.cmd('query-vpmu')
        s.ops.add('query-vpmu')
        for problem in check_query_vpmu(s, r, self.inst.name)[:3]:
            s.fail(f'query client: {problem}')
        if self.rng.random() < 0.3:
            txt = self.q.cmd('human-monitor-command',
                             **{'command-line': 'info vpmu'})
            s.ops.add('info vpmu')
            heads = re.findall(r"^CPU (\d+): \w+ PMU version", txt, re.M)
            self.expect(heads == [str(i) for i in range(s.smp)],
                        f'info vpmu says {txt[:300]!r}')
        self.sleep(0, 0.02)


class ReclaimClient(LoadClient):
    """vpmu-reclaim / vpmu-restore; checks flags and events."""

    def arrive(self):
        # Host policy, not migrated: a destination starts unreclaimed.
        self.model = [False] * self.soak.smp
        self.expected_events = {}
        self.base_events = dict(self.q.event_counts)
        r = self.q.cmd('query-vpmu')
        self.expect([v['reclaimed'] for v in r] == self.model,
                    f'starts with reclaimed flags '
                    f'{[v["reclaimed"] for v in r]}, expected none '
                    '(reclaim is not migrated)')

    def leave(self):
        # Events come before the reply of the command that raised them.
        self.q.cmd('query-status')
        got = {k: v - self.base_events.get(k, 0)
               for k, v in self.q.event_counts.items()
               if isinstance(k, tuple) and v - self.base_events.get(k, 0)}
        self.expect(got == self.expected_events,
                    f'VPMU_RECLAIMED/RESTORED events {sorted(got.items())}, '
                    f'expected {sorted(self.expected_events.items())}')

    def transition(self, cpus, reclaimed):
        ev = 'VPMU_RECLAIMED' if reclaimed else 'VPMU_RESTORED'
        for cpu in cpus:
            if self.model[cpu] != reclaimed:
                key = (ev, cpu)
                self.expected_events[key] = \
                    self.expected_events.get(key, 0) + 1
            self.model[cpu] = reclaimed

    def op(self):
        s = self.soak
        r = self.rng.random()
        reclaim = self.rng.random() < 0.5
        name = 'vpmu-reclaim' if reclaim else 'vpmu-restore'
        if r < 0.05:
            bad_cpu = self.rng.choice([s.smp, s.smp + 3, 255, -1])
            try:
                self.q.cmd(name, **{'cpu-index': bad_cpu})
                self.expect(False, f'{name} cpu-index={bad_cpu} succeeded')
            except RuntimeError as e:
                self.expect('no vCPU with cpu-index' in str(e),
                            f'{name} cpu-index={bad_cpu}: {e}')
                s.ops.add(f'{name} (bad cpu-index, refused)')
        elif r < 0.45:
            self.q.cmd(name)
            s.ops.add(f'{name} (all)')
            self.transition(range(s.smp), reclaim)
        else:
            cpu = self.rng.randrange(s.smp)
            self.q.cmd(name, **{'cpu-index': cpu})
            s.ops.add(f'{name} (cpu-index)')
            self.transition([cpu], reclaim)
        if self.rng.random() < 0.25:
            v = self.q.cmd('query-vpmu')
            s.ops.add('query-vpmu')
            self.expect([x['reclaimed'] for x in v] == self.model,
                        f'reclaimed flags {[x["reclaimed"] for x in v]}, '
                        f'expected {self.model}')
        self.sleep(0.005, 0.06)


FILTER_POOL = [(0x3c, 0x00), (0x3c, 0x01), (0xc0, 0x00), (0x2e, 0x4f),
               (0x2e, 0x41), (0xc4, 0x00), (0xc5, 0x00), (0x00, 0x03)]


class FilterClient(LoadClient):
    """vpmu-set-filter with random lists; query-vpmu-filter agrees."""

    def arrive(self):
        # Not migrated either: a destination starts with no filter.
        self.model = ('deny', [], 0)
        self.check_filter('starts with')

    def leave(self):
        self.check_filter('ends with')

    @staticmethod
    def norm(action, events, fixed):
        return (action, sorted(events), fixed)

    def check_filter(self, what):
        f = self.q.cmd('query-vpmu-filter')
        self.soak.ops.add('query-vpmu-filter')
        got = self.norm(f['action'], [(e['select'], e['umask'])
                                      for e in f.get('events', [])],
                        f.get('fixed-counters', 0))
        return self.expect(got == self.norm(*self.model),
                           f'{what} filter {got}, expected '
                           f'{self.norm(*self.model)}')

    def set_filter(self, action, events, fixed, must_fail=None):
        args = {'action': action,
                'events': [{'select': e, 'umask': u} for e, u in events]}
        if fixed is not None:
            args['fixed-counters'] = fixed
        s = self.soak
        if must_fail:
            try:
                self.q.cmd('vpmu-set-filter', **args)
                self.expect(False, f'vpmu-set-filter with {must_fail} '
                            'succeeded')
            except RuntimeError as e:
                self.expect('vPMU filter' in str(e),
                            f'vpmu-set-filter with {must_fail}: {e}')
                s.ops.add('vpmu-set-filter (invalid, refused)')
            return
        self.q.cmd('vpmu-set-filter', **args)
        s.ops.add('vpmu-set-filter')
        self.model = (action, list(events), fixed or 0)

    def op(self):
        r = self.rng.random()
        rng = self.rng
        if r < 0.04:
            events = [(rng.randrange(256), rng.randrange(256))
                      for _ in range(65)]
            self.set_filter('deny', events, 0, must_fail='65 events')
        elif r < 0.08:
            self.set_filter('allow', [], 1 << rng.randrange(4, 32),
                            must_fail='a fixed counter beyond 3')
        elif r < 0.25:
            self.set_filter('deny', [], None)       # no filter
        else:
            events = rng.sample(FILTER_POOL, rng.randrange(0, 5))
            while rng.random() < 0.3:
                e = (rng.randrange(256), rng.randrange(256))
                if e not in events:
                    events.append(e)
            self.set_filter(rng.choice(['allow', 'deny']), events,
                            rng.randrange(16))
        self.check_filter('after vpmu-set-filter:')
        self.sleep(0.005, 0.06)


class Soak:
    def __init__(self, qemu, guest_build, seconds, migrations, smp=4,
                 cpu=DEFAULT_CPU, accel='kvm', seed=None,
                 hard_timeout=None, keep_logs=False, out=print,
                 guest_args=''):
        self.qemu = qemu
        self.elf = os.path.join(guest_build, 'tests', 'guest',
                                'pmu-soak.elf')
        self.seconds, self.migrations, self.smp = seconds, migrations, smp
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.cpu, self.accel = cpu, accel
        self.hard_timeout = hard_timeout or seconds + 120 + 30 * migrations
        self.keep_logs = keep_logs
        self.out = out
        self.tmp = tempfile.mkdtemp(prefix='vpmu-soak-')
        self.qemu_extra = [
            '-accel', accel, '-smp', str(smp), '-cpu', cpu,
            '-name', 'debug-threads=on',
            '-append', f'seed={self.seed} {guest_args}'.strip()]
        self.procs = []
        self.instances = []
        self.stream = Stream()
        self.guest = Guest(os.path.join(self.tmp, 'serial.log'))
        self.failures = []
        self.notes = []
        self.fail_lock = threading.Lock()
        self.ops = Counter()
        self.cond = threading.Condition()
        self.paused = False
        self.stopping = self.aborting = False
        self.current = None
        self.gen = 0
        self.clients = []
        self.layout = self.version = None
        self.migration_info = []
        self.progress = []
        self.final_perf = None
        self.guest_status = None
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.hard_timeout

    # -- bookkeeping

    def fail(self, why):
        with self.fail_lock:
            if why not in self.failures:
                self.failures.append(why)

    def note(self, text):
        with self.fail_lock:
            self.notes.append(text)

    def say(self, text):
        self.out(f'soak: {text}')

    def left(self, timeout):
        """A wait's timeout, within the run's hard deadline."""
        rem = self.deadline - time.monotonic()
        if rem <= 0:
            raise SoakError(f'hard timeout ({self.hard_timeout:.0f} s) '
                            'reached')
        return min(timeout, rem)

    # -- watching

    def pump(self):
        """Take in the guest's output; fail fast on what cannot go on."""
        for idx, line in self.stream.advance():
            self.guest.feed(idx, line)
        for inst in self.instances:
            if inst.ended is None and not inst.alive() and \
                    inst is self.current and self.guest_status is None:
                raise SoakError(f'instance {inst.name} (pid {inst.pid}) '
                                f'exited with {inst.proc.returncode}')
        for c in self.clients:
            if c.error:
                raise SoakError(c.error)

    def wait_for(self, pred, timeout, what, step=0.05):
        end = time.monotonic() + self.left(timeout)
        while True:
            self.pump()
            if pred():
                return
            if time.monotonic() > end:
                raise SoakError(f'timed out after {timeout} s waiting for '
                                f'{what}')
            if time.monotonic() > self.deadline:
                raise SoakError(f'hard timeout waiting for {what}')
            time.sleep(step)

    def check_stalls(self):
        now = time.monotonic()
        for cpu in range(self.smp):
            st = self.guest.stats.get(cpu)
            if st and now - st['t'] > STALL_S and not self.paused:
                raise SoakError(f'vCPU {cpu} printed no STAT for '
                                f'{now - st["t"]:.0f} s: hung?')

    # -- instances and clients

    def launch(self, incoming):
        name = chr(ord('A') + len(self.instances))
        inst = Instance(self, name, incoming)
        self.instances.append(inst)
        self.stream.instances.append(inst)
        return inst

    def pause_clients(self, timeout=30):
        with self.cond:
            self.paused = True
            self.cond.notify_all()
        self.wait_for(lambda: all(c.parked or not c.is_alive()
                                  for c in self.clients), timeout,
                      'the QMP clients to pause')

    def resume_clients(self, target):
        with self.cond:
            self.current = target
            self.gen += 1
            self.paused = False
            self.cond.notify_all()
        gen = self.gen
        self.wait_for(lambda: all(c.gen == gen for c in self.clients),
                      30, f'the QMP clients to connect to {target.name}')

    def stop_clients(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for c in self.clients:
            c.join(timeout=max(1, min(40, self.deadline + 30 -
                                      time.monotonic())))
            if c.is_alive():
                self.fail(f'{c.cname} client did not stop')

    def load_phase(self, until):
        """Watch until @until: guest output, figures, stalls."""
        next_sample = 0
        while time.monotonic() < until:
            self.pump()
            self.check_stalls()
            if time.monotonic() >= next_sample:
                self.current.sample()
                next_sample = time.monotonic() + 1
            time.sleep(0.1)
            self.left(1)

    def settled_figures(self, inst, timeout=3):
        """
        An instance's figures at its end.  Threads and sockets of a
        migration that just completed go away on their own (bottom
        halves): give them @timeout to, so that only a leak remains.
        """
        s = inst.start_fig
        end = time.monotonic() + timeout
        while True:
            fig = inst.figures()
            if fig is None or s is None or time.monotonic() > end or \
                    (fig['fds'] - fig['perf'] <= s['fds'] - s['perf'] and
                     fig['threads'] <= s['threads']):
                return fig
            time.sleep(0.05)

    # -- migration

    def migrate(self, src, dst):
        ctl = src.ctl
        t0 = time.monotonic()
        ctl.cmd('migrate', uri=f'unix:{dst.mig_sock}')
        self.ops.add('migrate')
        end = t0 + self.left(60)
        while True:
            info = ctl.cmd('query-migrate')
            status = info.get('status')
            if status == 'completed':
                break
            if status in ('failed', 'cancelled') or \
                    time.monotonic() > end:
                raise SoakError(f'migration {src.name} -> {dst.name}: '
                                f'{status} ({info.get("error-desc", "")})')
            self.pump()
            time.sleep(0.02)
        secs = time.monotonic() - t0
        self.wait_for(lambda: dst.ctl.cmd('query-status')['status'] ==
                      'running', 30, f'{dst.name} to run after migration',
                      step=0.05)
        # The clients finish what they are doing on the source.
        self.pause_clients()
        src.end_fig = self.settled_figures(src)
        src.host_vpmu = ctl.cmd('query-vpmu')
        for problem in check_query_vpmu(self, src.host_vpmu,
                                        f'{src.name} after migration'):
            self.fail(problem)
        before = {cpu: st['iter'] for cpu, st in self.guest.stats.items()}
        self.resume_clients(dst)
        dst.start_fig = dst.figures()
        src.quit()
        self.migration_info.append({
            'from': src.name, 'to': dst.name, 'secs': secs,
            'total-ms': info.get('total-time'),
            'downtime-ms': info.get('downtime'),
            'ram-kib': info.get('ram', {}).get('transferred', 0) // 1024})
        # Every vCPU must go on on the destination.
        t1 = time.monotonic()
        idx = self.instances.index(dst)
        try:
            self.wait_for(
                lambda: all(cpu in self.guest.stats and
                            self.guest.stats[cpu]['inst'] == idx and
                            self.guest.stats[cpu]['iter'] >
                            before.get(cpu, -1) for cpu in range(self.smp)),
                30, f'every vCPU to make progress on {dst.name}')
            self.progress.append((dst.name, time.monotonic() - t1))
        except SoakError as e:
            self.fail(str(e))
            raise

    # -- the run

    def run(self):
        start = time.monotonic()
        a = self.launch(incoming=False)
        self.say(f'{a.name}: pid {a.pid}: {" ".join(a.cmdline)}')
        a.connect_control()
        self.wait_for(lambda: self.guest.ready, 90, 'the guest to start '
                      '(SOAK ready)')
        self.say(f'{a.name}: {self.guest.ready} after '
                 f'{time.monotonic() - start:.1f} s')
        self.current = a
        self.clients = [QueryClient(self, 'query'),
                        ReclaimClient(self, 'reclaim'),
                        FilterClient(self, 'filter')]
        with self.cond:
            self.gen = 1
        for c in self.clients:
            c.start()
        self.wait_for(lambda: all(c.gen == 1 for c in self.clients), 30,
                      'the QMP clients to connect')
        a.start_fig = a.figures()
        load0 = time.monotonic()
        cur, dst = a, None
        for k in range(1, self.migrations + 1):
            if dst is None:
                dst = self.launch(incoming=True)
                dst.connect_control()
                # A destination that waits for its stream answers QMP.
                st = dst.ctl.cmd('query-status')['status']
                r = dst.ctl.cmd('query-vpmu')
                if st != 'inmigrate' or len(r) != self.smp:
                    self.fail(f'{dst.name} waiting for migration: status '
                              f'{st}, query-vpmu lists {len(r)} vCPUs')
            self.load_phase(load0 + self.seconds * k /
                            (self.migrations + 1))
            self.say(f'migrating {cur.name} -> {dst.name} at '
                     f'{time.monotonic() - load0:.1f} s')
            self.migrate(cur, dst)
            m = self.migration_info[-1]
            self.say(f'migrated {m["from"]} -> {m["to"]} in '
                     f'{m["secs"]:.2f} s (downtime {m["downtime-ms"]} ms, '
                     f'{m["ram-kib"]} KiB), every vCPU went on after '
                     f'{self.progress[-1][1]:.1f} s')
            cur, dst = dst, None
        self.load_phase(load0 + self.seconds)
        self.load_secs = time.monotonic() - load0

        # The end: stop the clients, then the guest, then look.
        self.pause_clients()
        cur.end_fig = self.settled_figures(cur)
        self.stop_clients()
        cur.send(b'q')
        self.wait_for(lambda: self.guest.sync_final, 60,
                      'the guest to stop and settle (SYNC final)')
        cur.host_vpmu = cur.ctl.cmd('query-vpmu')
        for problem in check_query_vpmu(self, cur.host_vpmu,
                                        f'{cur.name} at the end'):
            self.fail(problem)
        # Every counter stopped: lazy release closes every perf fd.
        t1 = time.monotonic()
        while True:
            fig = cur.figures()
            if fig is None or fig['perf'] == 0 or \
                    time.monotonic() - t1 > 5:
                break
            time.sleep(0.05)
        self.final_perf = (fig['perf'] if fig else None,
                           time.monotonic() - t1)
        cur.send(b'g')
        try:
            status = cur.proc.wait(timeout=self.left(60))
        except subprocess.TimeoutExpired:
            raise SoakError('the guest did not exit after its checks')
        self.guest_status = status
        cur.quit()
        self.wait_for(lambda: self.stream.idx == len(self.instances), 10,
                      'the last guest output')
        self.total_secs = time.monotonic() - self.t0

    def cleanup(self):
        """Stop everything we started, whatever happened."""
        with self.cond:
            self.aborting = self.stopping = True
            self.paused = False
            self.cond.notify_all()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.fail(f'pid {p.pid} survived SIGKILL for 10 s')
        for p in self.procs:
            for f in (p.stdin, p.stdout, p.stderr):
                try:
                    f and f.close()
                except OSError:
                    pass
        for c in self.clients:
            c.join(timeout=5)
        self.guest.close()

    # -- verdict

    def verdict(self):
        g = self.guest
        smp = self.smp
        if self.guest_status is not None:
            if self.guest_status != 1:
                self.fail(f'guest exit status {self.guest_status} '
                          '(QEMU status; 1 = all guest checks passed)')
        bad_tap = [l for l in g.tap if l.startswith('not ok')]
        if bad_tap:
            self.fail(f'{len(bad_tap)} guest checks failed: {bad_tap[0]}')
        if self.guest_status is not None and len(g.tap) != 1 + 6 * smp:
            self.fail(f'{len(g.tap)} guest checks ran, expected '
                      f'{1 + 6 * smp}')
        if g.bad:
            self.fail(f'{len(g.bad)} BAD lines from the guest: {g.bad[0]}')
        if len(self.migration_info) != self.migrations:
            self.fail(f'{len(self.migration_info)} of {self.migrations} '
                      'migrations completed')
        if self.guest_status is not None:
            for cpu in range(smp):
                f = g.finals.get(cpu)
                if not f:
                    self.fail(f'no FINAL line for vCPU {cpu}')
                    continue
                host = self.host_pmis(cpu)
                if host is not None and host != f['nmis']:
                    self.fail(f'vCPU {cpu}: the guest took {f["nmis"]} '
                              f'NMIs, the hosts delivered {host} PMIs')
                for k in ('lost', 'spurious', 'backwards', 'badval',
                          'status_set_errors'):
                    if f[k]:
                        self.fail(f'vCPU {cpu}: {k}={f[k]}')
                # Every status bit the guest cleared is a host overflow.
                wraps = f['pmi_wraps'] + f['masked'] + f['lost']
                if host is not None and \
                        self.host_stat(cpu, 'overflows') < wraps:
                    self.fail(f'vCPU {cpu}: the guest cleared {wraps} '
                              'overflow bits, the hosts counted '
                              f'{self.host_stat(cpu, "overflows")} '
                              'overflows')
            if self.final_perf and self.final_perf[0]:
                self.fail(f'{self.final_perf[0]} perf fds still open '
                          f'{self.final_perf[1]:.1f} s after the guest '
                          'stopped every counter')
        if self.guest_status is not None:
            software = self.backend() == 'software'
            for name in self.counter_names():
                total = sum(w.get(name, 0) for w in g.wraps.values())
                # Software mode counts cycles only: not fixed counters 0
                # (instructions) and 3 (topdown slots).
                if total == 0 and not (software and
                                       name in ('fixed0', 'fixed3')):
                    self.fail(f'counter {name} never overflowed on any '
                              'vCPU')
        max_perf = smp * len(self.layout or [None] * 7)
        for inst in self.instances:
            s, e = inst.start_fig, inst.end_fig
            if s and e:
                if e['fds'] - e['perf'] > s['fds'] - s['perf']:
                    self.fail(f'{inst.name}: non-perf fds grew from '
                              f'{s["fds"] - s["perf"]} to '
                              f'{e["fds"] - e["perf"]}')
                if e['rss_kib'] - s['rss_kib'] > RSS_GROWTH_KIB:
                    self.fail(f'{inst.name}: RSS grew by '
                              f'{e["rss_kib"] - s["rss_kib"]} KiB (limit '
                              f'{RSS_GROWTH_KIB})')
                half = [x for x in inst.samples
                        if x['time'] >= (s['time'] + e['time']) / 2]
                if half and half[-1]['time'] - half[0]['time'] >= \
                        STEADY_MIN_S and half[-1]['rss_kib'] - \
                        half[0]['rss_kib'] > RSS_STEADY_KIB:
                    self.fail(f'{inst.name}: RSS grew by '
                              f'{half[-1]["rss_kib"] - half[0]["rss_kib"]} '
                              'KiB in the second half of its load (limit '
                              f'{RSS_STEADY_KIB})')
                if e['threads'] > s['threads']:
                    self.fail(f'{inst.name}: threads grew from '
                              f'{s["threads"]} to {e["threads"]}')
            for fig in inst.samples + [x for x in (s, e) if x]:
                if fig['perf'] > max_perf:
                    self.fail(f'{inst.name}: {fig["perf"]} perf fds, more '
                              f'than one per counter ({max_perf})')
                    break
            for line in inst.err:
                if STDERR_FATAL.search(line):
                    self.fail(f'{inst.name} stderr: {line}')
        return not self.failures

    def counter_names(self):
        return [f'{k}{i}' for k, i in (self.layout or [])]

    def backend(self):
        for inst in self.instances:
            if inst.host_vpmu:
                return inst.host_vpmu[0]['backend']
        return None

    def host_stat(self, cpu, key):
        """A query-vpmu stat of vCPU @cpu, summed over the instances."""
        return sum(inst.host_vpmu[cpu]['stats'][key]
                   for inst in self.instances if inst.host_vpmu)

    def host_pmis(self, cpu):
        total = 0
        for inst in self.instances:
            if inst.host_vpmu is None:
                return None
            total += inst.host_vpmu[cpu]['stats']['pmis']
        return total

    def figures(self):
        o, g = self.out, self.guest
        o('figures:')
        o(f'  seed {self.seed}, -smp {self.smp} -cpu {self.cpu}, '
          f'{getattr(self, "load_secs", 0):.1f} s of load, '
          f'{getattr(self, "total_secs", time.monotonic() - self.t0):.1f} s '
          'in all')
        o('  operations (QMP):')
        for k in sorted(self.ops.n):
            o(f'    {k:40s} {self.ops.n[k]:8d}')
        o(f'    {"migrations completed":40s} '
          f'{len(self.migration_info):8d} of {self.migrations}')
        for m in self.migration_info:
            o(f'      {m["from"]} -> {m["to"]}: {m["secs"]:.2f} s, '
              f'total {m["total-ms"]} ms, downtime {m["downtime-ms"]} ms, '
              f'{m["ram-kib"]} KiB sent')
        for name, secs in self.progress:
            o(f'      every vCPU went on on {name} within {secs:.1f} s')
        finals = g.finals if g.finals else g.stats
        kind = 'FINAL' if g.finals else 'last STAT (no FINAL)'
        if finals:
            o(f'  guest, per vCPU ({kind}):')
            cols = ['iter', 'evchg', 'entog', 'gtog', 'ftog', 'arms',
                    'reads', 'unmasks', 'freeze_on_pmi', 'ctr_frz',
                    'status_set']
            o('    (event changes, EN toggles, GLOBAL_CTRL and FIXED_CTR_CTRL '
              'writes, counters armed near')
            o('    their wrap, counter reads, LVTPC unmasks, DEBUGCTL freeze '
              'on PMI toggles, CTR_FRZ')
            o('    toggles, GLOBAL_STATUS_SET tests)')
            o('    cpu ' + ''.join(f'{c[:9]:>10s}' for c in cols))
            for cpu in sorted(finals):
                o(f'    {cpu:3d} ' + ''.join(
                    f'{finals[cpu].get(c, 0):10d}' for c in cols))
            o('  PMIs (a wrap = one overflow status bit; expected: noticed '
              'with LVTPC unmasked):')
            o('    (masked: noticed while LVTPC was masked, no PMI due; NMIs: '
              'handler runs; host-PMIs:')
            o('    delivered, per query-vpmu; late: PMIs that came after '
              'the next poll; host-ovf: overflows')
            o('    the hosts counted, which includes those of a stopped '
              'source)')
            cols = ['expected', 'received', 'lost', 'masked', 'NMIs',
                    'host-PMIs', 'spurious', 'late', 'host-ovf']
            o('    cpu ' + ''.join(f'{c:>10s}' for c in cols))
            tot = [0] * len(cols)
            for cpu in sorted(finals):
                f = finals[cpu]
                host = self.host_pmis(cpu)
                row = [f['pmi_wraps'] + f['lost'], f['pmi_wraps'], f['lost'],
                       f['masked'], f['nmis'], host,
                       f.get('spurious', 0), f.get('late', 0),
                       self.host_stat(cpu, 'overflows')
                       if host is not None else None]
                tot = [t + (r or 0) for t, r in zip(tot, row)]
                o(f'    {cpu:3d} ' + ''.join(
                    f'{"-" if r is None else r:>10}' for r in row))
            o('    sum ' + ''.join(f'{t:>10}' for t in tot))
            if g.wraps:
                names = self.counter_names()
                o('  overflows per counter (armed counters that wrapped):')
                o('    cpu ' + ''.join(f'{n:>8s}' for n in names))
                for cpu in sorted(g.wraps):
                    o(f'    {cpu:3d} ' + ''.join(
                        f'{g.wraps[cpu].get(n, 0):8d}' for n in names))
            if any(i.host_vpmu for i in self.instances):
                keys = ['msr-exits', 'event-changes', 'fast-path-toggles',
                        'perf-opens', 'perf-closes', 'perf-ioctls',
                        'lazy-releases', 'overflows', 'overflow-signals',
                        'pmis']
                o('  host vPMU stats (query-vpmu, summed over instances):')
                for cpu in range(self.smp):
                    o(f'    cpu {cpu}: ' + ', '.join(
                        f'{k} {self.host_stat(cpu, k)}' for k in keys))
            o('  counts:')
            for cpu in sorted(finals):
                f = finals[cpu]
                o(f'    cpu {cpu}: {f.get("backwards", 0)} backwards, '
                  f'{f.get("badval", 0)} wider than the counter, '
                  f'{f.get("wraps_seen", 0)} wraps seen by reads, '
                  f'{f.get("advanced", 0)} counted')
        o('  processes (fds: total/perf; RSS in KiB):')
        o(f'    {"":4s}{"pid":>8s} {"life s":>7s} {"fds start":>10s} '
          f'{"fds end":>9s} {"perf max":>9s} {"RSS start":>10s} '
          f'{"RSS end":>9s} {"growth":>7s} {"RSS max":>8s} {"threads":>8s}')
        for inst in self.instances:
            s, e = inst.start_fig, inst.end_fig
            allf = inst.samples + [x for x in (s, e) if x]
            life = (inst.ended or time.monotonic()) - inst.started

            def fd(x):
                return f'{x["fds"]}/{x["perf"]}' if x else '-'
            o(f'    {inst.name:4s}{inst.pid:8d} {life:7.1f} {fd(s):>10s} '
              f'{fd(e):>9s} '
              f'{max((x["perf"] for x in allf), default=0):9d} '
              f'{s["rss_kib"] if s else "-":>10} '
              f'{e["rss_kib"] if e else "-":>9} '
              f'{e["rss_kib"] - s["rss_kib"] if s and e else "-":>7} '
              f'{max((x["rss_kib"] for x in allf), default=0):8d} '
              f'{s["threads"] if s else "-":>4}->'
              f'{e["threads"] if e else "-"}')
        if self.final_perf:
            o(f'  perf fds after the guest stopped counting: '
              f'{self.final_perf[0]} (after {self.final_perf[1]:.2f} s)')
        other = [f'{i.name}: {l}' for i in self.instances for l in i.err
                 if not STDERR_KNOWN.search(l)]
        for line in other[:10]:
            o(f'  stderr {line}')
        if g.bad:
            o('  guest BAD lines:')
            for line in g.bad[:10]:
                o(f'    {line}')
        if g.garbled:
            o(f'  {g.garbled} guest lines did not parse')


def run_soak(qemu, guest_build, seconds=45, migrations=3, out=print,
             **kwargs):
    """
    Run the soak; print figures and the verdict line with @out.  Returns
    (ok, last line).  Every QEMU it started is gone when it returns.
    """
    soak = Soak(qemu, guest_build, seconds, migrations, out=out, **kwargs)
    problem = run_guest_mod.kvm_problem()
    if problem:
        line = f'soak: FAIL (KVM is required and {problem})'
        out(line)
        return False, line
    if not os.path.exists(soak.elf):
        line = f'soak: FAIL (no guest {soak.elf})'
        out(line)
        return False, line
    try:
        soak.run()
    except Interrupted as e:
        soak.fail(f'interrupted ({e})')
    except SoakError as e:
        soak.fail(str(e))
    except Exception as e:                      # noqa: BLE001
        soak.fail(f'harness error: {e!r}')
        soak.note(traceback.format_exc())
    finally:
        soak.cleanup()
    ok = soak.verdict()
    soak.figures()
    if not ok or soak.notes:
        for n in soak.notes:
            for line in n.rstrip().splitlines():
                out(f'  | {line}')
        out('  guest output, last lines:')
        for line in soak.guest.tail[-15:]:
            out(f'  > {line}')
    try:
        with open(os.path.join(soak.tmp, 'figures.json'), 'w') as f:
            json.dump({'instances': [
                {'name': i.name, 'pid': i.pid, 'start': i.start_fig,
                 'end': i.end_fig, 'samples': i.samples,
                 'host_vpmu': i.host_vpmu, 'stderr': i.err}
                for i in soak.instances],
                'ops': soak.ops.n, 'migrations': soak.migration_info,
                'finals': soak.guest.finals, 'wraps': soak.guest.wraps},
                f, indent=1)
    except (OSError, TypeError, ValueError):
        pass
    if ok and not soak.keep_logs:
        shutil.rmtree(soak.tmp, ignore_errors=True)
    else:
        out(f'  logs kept in {soak.tmp} (serial.log: the stitched guest '
            'output)')
    n = len(soak.migration_info)
    migr = f'{n} migration{"" if n == 1 else "s"}'
    if ok:
        pmis = sum(f['pmi_wraps'] for f in soak.guest.finals.values())
        line = (f'soak: PASS ({soak.load_secs:.0f} s of load, {migr}, '
                f'{pmis} PMI wraps received, none lost, '
                f'{soak.total_secs:.0f} s in all)')
    else:
        line = f'soak: FAIL ({"; ".join(soak.failures[:6])})'
    out(line)
    return ok, line


def main():
    ap = argparse.ArgumentParser(
        description='the vPMU under load: see the comment at the top')
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--guest-build', required=True,
                    help='the meson build dir of the guests')
    ap.add_argument('--seconds', type=float, default=45,
                    help='load duration (default 45)')
    ap.add_argument('--migrations', type=int, default=3)
    ap.add_argument('--smp', type=int, default=4)
    ap.add_argument('--cpu', default=DEFAULT_CPU,
                    help=f'QEMU -cpu (default {DEFAULT_CPU})')
    ap.add_argument('--accel', default='kvm')
    ap.add_argument('--seed', type=int)
    ap.add_argument('--hard-timeout', type=float,
                    help='abort after this many seconds in all (default: '
                    '--seconds + 120 + 30 per migration)')
    ap.add_argument('--guest-args', default='',
                    help='more guest command line (e.g. "inject=1" to see '
                    'the checks fail)')
    ap.add_argument('--keep-logs', action='store_true')
    args = ap.parse_args()

    def on_signal(signo, frame):
        # Once: the cleanup that follows must not be interrupted.
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signal.Signals(signo).name)
    for signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signo, on_signal)
    ok, _ = run_soak(args.qemu, args.guest_build, args.seconds,
                     args.migrations, smp=args.smp, cpu=args.cpu,
                     accel=args.accel, seed=args.seed,
                     hard_timeout=args.hard_timeout,
                     keep_logs=args.keep_logs,
                     guest_args=args.guest_args,
                     out=lambda l: print(l, flush=True))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
