#!/usr/bin/env python3
#
# qemu-vpmu: run every test (make check)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Unit tests of the register model, then the guest suite: freestanding
# guests booted under real KVM whose PMU MSR accesses go through our MSR
# filter to the vPMU and to real perf events.  KVM is required; a machine
# without it fails the guest suite loudly instead of skipping it.
#
# The last line is "N passed, N failed[, N skipped]".

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'guest'))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'bench'))
import importlib
run_guest_mod = importlib.import_module('run-guest')
from qmp import QMP                                       # noqa: E402

results = {'passed': 0, 'failed': 0, 'skipped': 0}


def report(name, ok, secs, detail=''):
    if ok is None:
        results['skipped'] += 1
        print(f'SKIP {name}: {detail}', flush=True)
        return
    results['passed' if ok else 'failed'] += 1
    print(f'{"PASS" if ok else "FAIL"} {name} ({secs:.1f}s)', flush=True)
    if not ok and detail:
        for line in detail.rstrip().splitlines():
            print(f'    | {line}')


def unit_test(qemu_build, name, kind='unit', env=None):
    exe = os.path.join(qemu_build, 'tests', kind, name)
    start = time.monotonic()
    p = subprocess.run([exe, '--tap'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env=dict(os.environ, **(env or {})))
    out = p.stdout.decode(errors='replace')
    cases = [l for l in out.splitlines()
             if l.startswith('ok ') or l.startswith('not ok ')]
    ok = p.returncode == 0 and cases and \
        not any(l.startswith('not ok') for l in cases)
    report(f'{kind}/{name} ({len(cases)} cases)', ok,
           time.monotonic() - start, out)
    # A case that skipped itself (a missing library) says so, loudly
    skipped = [l for l in cases if '# SKIP' in l]
    if ok and skipped:
        report(f'{kind}/{name}: {len(skipped)} case(s)', None, 0,
               '; '.join(skipped))


def guest_test(args, name, guest, extra, expect_stderr=()):
    """Boot @guest with @extra; its TAP checks must all pass."""
    elf = os.path.join(args.guest_build, 'tests', 'guest', guest + '.elf')
    status, out, secs = run_guest_mod.run_guest(args.qemu, elf, extra)
    checks = [l for l in out.splitlines()
              if l.startswith('ok ') or l.startswith('not ok ')]
    ok = status == 0 and not any(l.startswith('not ok') for l in checks)
    for text, count in expect_stderr:
        seen = out.count(text)
        if seen != count:
            ok = False
            out += f'\n(expected "{text}" {count} time(s), saw {seen})\n'
    report(f'guest/{name} ({len(checks)} checks)', ok, secs, out)


def config_error_test(args, name, cpu, expect, accel='kvm'):
    """QEMU must refuse @cpu at realize with a message containing @expect."""
    cmd = [args.qemu, '-M', 'pc', '-accel', accel, '-nodefaults',
           '-display', 'none', '-cpu', cpu, '-S']
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        status, out = p.returncode, p.stdout.decode(errors='replace')
    except subprocess.TimeoutExpired as e:        # it started: killed
        status = 'none (still running after 60 s)'
        out = (e.stdout or b'').decode(errors='replace')
    ok = status == 1 and expect in out
    report(f'config/{name}', ok, time.monotonic() - start,
           f'{" ".join(cmd)}\nexit {status}, expected 1 and '
           f'"{expect}"\n{out}')


# (version, GP counters, fixed counters, width, full-width writes): the
# configurations the guest conformance suite runs in.
CONFORMANCE_CONFIGS = [
    (2, 4, 3, 48, True),
    (2, 1, 0, 48, False),
    (3, 2, 1, 32, True),
    (4, 4, 3, 40, True),
    (5, 8, 4, 48, True),
]


def config_warning_test(args, name, cpu, accel, expect):
    """QEMU must start with @cpu and @accel, and warn with @expect."""
    with RunningGuest(args, 'idle', ['-cpu', cpu, '-accel', accel]) as g:
        g.expect(g.wait_for(expect, timeout=30) and g.qemu.poll() is None,
                 f'QEMU runs and warns: {expect}')
    g.finish(f'config/{name}')


# What -d guest_errors,unimp must show in the first configuration: the
# LBR MSRs and DEBUGCTL.LBR reached the vPMU (not KVM) and were refused.
ROUTED_TO_VPMU = [
    ('vpmu: RDMSR MSR_LBR_SELECT (0x1c8): not present', 1),
    ('vpmu: WRMSR IA32_LBR_CTL (0x14ce) <- 0x0: not present', 1),
    ('vpmu: RDMSR IA32_LBR_31_TO_IP (0x161f): not present', 1),
    ('vpmu: WRMSR DEBUGCTL <- 0x3: LBR and BTF need lbr=on', 1),
    ('vpmu: WRMSR DEBUGCTL <- 0x40: bits 0x40 are not available', 1),
]


def conformance_tests(args):
    for i, (v, gp, fixed, width, fw) in enumerate(CONFORMANCE_CONFIGS):
        cpu = (f'host,pmu=on,pmu-arch=intel,pmu-arch=intel,pmu-version={v},pmu-gp-counters={gp},'
               f'pmu-fixed-counters={fixed},pmu-counter-width={width},'
               f'pmu-full-width-write={"on" if fw else "off"}')
        guest_test(args, f'conformance-v{v}-gp{gp}-fixed{fixed}-w{width}'
                   f'{"" if fw else "-nofw"}', 'pmu-conformance',
                   ['-cpu', cpu, '-append',
                    f'version={v} gp={gp} fixed={fixed} width={width} '
                    f'fw={int(fw)}'] +
                   (['-d', 'guest_errors,unimp'] if i == 0 else []),
                   expect_stderr=ROUTED_TO_VPMU if i == 0 else ())


def checkpatch_test(args):
    """QEMU's checkpatch.pl over our C files and our patches."""
    start = time.monotonic()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(os.path.dirname(os.path.abspath(args.qemu_build)),
                       'qemu-src')
    p = subprocess.run([os.path.join(root, 'scripts', 'checkpatch.sh'), src],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    out = p.stdout.decode(errors='replace')
    summary = [l for l in out.splitlines() if l.startswith('checkpatch: ')]
    report(f'style/{summary[-1] if summary else "checkpatch"}',
           p.returncode == 0 and bool(summary), time.monotonic() - start, out)


def fuzz_test(seconds):
    """Short libFuzzer runs of the model and the decoder (make fuzz: longer)."""
    start = time.monotonic()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run(['tests/fuzz/run.sh', f'{seconds}s'], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=seconds + 300)
    out = p.stdout.decode(errors='replace')
    # One "fuzz: NAME: N executions, C crashes" line per fuzzer
    summary = [l[6:].split(': ', 1) for l in out.splitlines()
               if l.startswith('fuzz: ') and ': ' in l[6:]]
    # tests/fuzz/run.sh runs the model's, the decoder's and the LBR's
    if len(summary) != 3:
        report('fuzz (no summary)', False, time.monotonic() - start, out)
    for name, line in summary:
        report(f'fuzz/{name.replace("-fuzz", "")} ({line})',
               p.returncode == 0 and line.endswith(' 0 crashes'),
               time.monotonic() - start, out)


def perf_fds(pid):
    """QEMU's open perf event fds: how many, and the lowest number."""
    perf = []
    for fd in os.listdir(f'/proc/{pid}/fd'):
        try:
            if 'perf_event' in os.readlink(f'/proc/{pid}/fd/{fd}'):
                perf.append(int(fd))
        except OSError:
            pass
    return len(perf), min(perf, default=None)


class PacedGuest:
    """
    A test guest that stops at each "SYNC <step>" line and waits for a
    byte on COM1 while we look at QEMU from outside (QMP, /proc).  Keeps
    QEMU's output and our own checks in one log, as guest_test does.
    """

    def __init__(self, args, guest, extra, reboot=False):
        import tempfile
        self.sock = os.path.join(tempfile.mkdtemp(prefix='vpmu-check-'),
                                 'qmp.sock')
        elf = os.path.join(args.guest_build, 'tests', 'guest',
                           guest + '.elf')
        cmd = run_guest_mod.qemu_command(args.qemu, elf, extra + [
            '-qmp', f'unix:{self.sock},server=on,wait=off'])
        if reboot:
            # Without -no-reboot: a reset must reboot the guest.
            cmd = [c for c in cmd if c != '-no-reboot']
        self.start = time.monotonic()
        self.log, self.ok = [], True
        self.qmp = None
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)

    def expect(self, cond, what):
        self.log.append(f'{"ok" if cond else "FAILED"}: {what}')
        self.ok = self.ok and cond

    def send(self, data=b'g'):
        """Let the guest go on from its SYNC."""
        self.qemu.stdin.write(data)

    def run(self, on_step):
        """
        Call on_step(step) at each SYNC line (self.qmp is connected); it
        must send() unless it wants the guest to wait.  Returns QEMU's exit
        status, or -1 after a harness error (logged).
        """
        try:
            self.qmp = QMP(self.sock)
            for raw in self.qemu.stdout:
                line = raw.decode(errors='replace').rstrip()
                self.log.append(line)
                words = line.split()
                if len(words) == 2 and words[0] == 'SYNC':
                    on_step(words[1])
            status = self.qemu.wait(timeout=60)
        except Exception as e:                  # noqa: BLE001
            self.log.append(f'harness error: {e!r}')
            status = -1
        finally:
            if self.qmp:
                self.qmp.close()
            if self.qemu.poll() is None:
                self.qemu.kill()
        return status

    def finish(self, name, status, min_checks=1, max_checks=None):
        """The guest's TAP checks must all pass, as must ours."""
        checks = [l for l in self.log if l.startswith('ok ') or
                  l.startswith('not ok ')]
        self.expect(status == 1, f'guest exited cleanly (QEMU status '
                    f'{status})')
        self.expect(len(checks) >= min_checks and
                    (max_checks is None or len(checks) <= max_checks),
                    f'{len(checks)} guest checks ran')
        ok = self.ok and not any(l.startswith('not ok') for l in checks)
        report(f'{name} ({len(checks)} guest checks)', ok,
               time.monotonic() - self.start, '\n'.join(self.log))


class RunningGuest:
    """
    A test guest that runs on by itself while we act on QEMU from outside
    (QMP, /proc, rlimits).  Its output is read in the background; wait_for()
    waits for the guest's own words, never a fixed time.  stop() (also on
    every exit path through `with`) kills the QEMU we started.
    """

    def __init__(self, args, guest, extra, qmp_sockets=1):
        import tempfile
        import threading
        tmp = tempfile.mkdtemp(prefix='vpmu-check-')
        self.socks = [os.path.join(tmp, f'qmp{i}.sock')
                      for i in range(qmp_sockets)]
        elf = os.path.join(args.guest_build, 'tests', 'guest',
                           guest + '.elf')
        cmd = run_guest_mod.qemu_command(args.qemu, elf, extra + sum(
            (['-qmp', f'unix:{s},server=on,wait=off'] for s in self.socks),
            []))
        self.start = time.monotonic()
        self.log, self.ok = [' '.join(cmd)], True
        self.cond = threading.Condition()
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.qemu.stdout:
            with self.cond:
                self.log.append(raw.decode(errors='replace').rstrip())
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, text, timeout=60):
        """Wait until a line contains @text; False on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in line for line in self.log):
                left = deadline - time.monotonic()
                if left <= 0 or (self.qemu.poll() is not None and
                                 not self.reader.is_alive()):
                    self.expect(False, f'guest said "{text}" within '
                                f'{timeout} s')
                    return False
                self.cond.wait(min(left, 0.5))
        return True

    def expect(self, cond, what):
        with self.cond:
            self.log.append(f'{"ok" if cond else "FAILED"}: {what}')
        self.ok = self.ok and cond

    def send(self, data=b'g'):
        """A byte on the guest's COM1."""
        self.qemu.stdin.write(data)

    def stop(self):
        if self.qemu.poll() is None:
            self.qemu.kill()
        self.qemu.wait(timeout=30)
        self.reader.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.expect(False, f'harness error: {exc[1]!r}')
        self.stop()
        return True         # the error is in the log, and fails the test

    def finish(self, name, min_checks=1):
        ours = [l for l in self.log if l.startswith('ok: ') or
                l.startswith('FAILED: ')]
        report(f'{name} ({len(ours)} checks)', self.ok and
               len(ours) >= min_checks, time.monotonic() - self.start,
               '\n'.join(self.log))


def release_ms_test(args):
    """
    vpmu-release-ms counts milliseconds at any size.  At 4295 a 32-bit
    product of the milliseconds and 10^6 wrapped to 32 us, which showed
    at the first sweep (4.295 s after the first counter stopped): every
    other stopped counter was closed too, however recently it stopped.
    idle.elf stops PMC1, then PMC0, and keeps FIXED_CTR1 counting; just
    after that sweep, PMC0 must still have its host event.  With 100 ms,
    a stopped counter's event is closed within 0.6 s.
    """
    start = time.monotonic()
    ok, log = True, []
    ms = 4295
    with RunningGuest(args, 'idle', [
            '-cpu', 'host,pmu=on,pmu-arch=intel', '-accel', f'kvm,vpmu-release-ms={ms}',
            '-append', 'stop1=1 stop-on-byte=1']) as g:
        if g.wait_for('PMC1 stopped'):
            t1 = time.monotonic()
            time.sleep(1.5)
            g.send()
            if g.wait_for('PMC0 stopped'):
                t0 = time.monotonic()
                check_at = t1 + ms / 1000 + 0.5
                g.expect(check_at < t0 + ms / 1000 - 0.3,
                         f'PMC0 stopped {t0 - t1:.2f} s after PMC1, early '
                         'enough for the check')
                time.sleep(max(0, check_at - time.monotonic()))
                n, _ = perf_fds(g.qemu.pid)
                g.expect(n == 2, f'vpmu-release-ms={ms}: {n} perf fds '
                         f'{time.monotonic() - t1:.2f} s after PMC1 and '
                         f'{time.monotonic() - t0:.2f} s after PMC0 stopped:'
                         ' expected 2 (FIXED_CTR1, PMC0 not due)')
    ok, log = ok and g.ok, log + g.log
    with RunningGuest(args, 'idle', [
            '-cpu', 'host,pmu=on,pmu-arch=intel', '-accel', 'kvm,vpmu-release-ms=100',
            '-append', 'stop=2']) as g:
        if g.wait_for('PMC0 stopped'):
            time.sleep(0.6)
            n, _ = perf_fds(g.qemu.pid)
            g.expect(n == 1, f'vpmu-release-ms=100: {n} perf fds 0.6 s '
                     'after PMC0 stopped, expected 1 (FIXED_CTR1)')
    ok, log = ok and g.ok, log + g.log
    report('host/release-ms-range (3 checks)', ok, time.monotonic() - start,
           '\n'.join(log))


def free_fds(pid, n):
    """The @n lowest descriptor numbers QEMU does not use."""
    used = {int(fd) for fd in os.listdir(f'/proc/{pid}/fd')}
    free, fd = [], 0
    while len(free) < n:
        if fd not in used:
            free.append(fd)
        fd += 1
    return free


def fd_reserve_test(args):
    """
    Out of file descriptors, the vPMU must leave the last ones to the rest
    of QEMU.  The guest counts on every counter; we reclaim, lower QEMU's
    RLIMIT_NOFILE so that the counters' events would take every descriptor
    left, and restore.  A new QMP client must still connect (without the
    reserve, it could not), query-vpmu must say why the counters do not
    count (error, EMFILE), QEMU's messages must name the vCPU without
    repeating, and vpmu-reclaim must still free every perf fd.  With the
    limit raised, the counters count again without the guest's help.
    """
    import resource
    extra = ['-smp', '2', '-cpu', 'host,pmu=on,pmu-arch=intel', '-append', 'all=1']

    def steps(g):
        pid = g.qemu.pid
        limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        qmp = QMP(g.socks[0])
        try:
            if not g.wait_for('counting: every counter'):
                return
            counting, _ = perf_fds(pid)
            g.expect(counting >= 6, f'{counting} perf fds while counting')
            qmp.cmd('vpmu-reclaim')
            g.expect(perf_fds(pid)[0] == 0, 'reclaimed: no perf fd')
            # Just enough descriptors for the counters' events: none left.
            limit = free_fds(pid, counting)[-1] + 1
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, limits[1]))
            qmp.cmd('vpmu-restore')
            time.sleep(0.3)                 # a few retries, too
            n, _ = perf_fds(pid)
            g.expect(n < counting, f'restored under RLIMIT_NOFILE={limit}: '
                     f'{n} of {counting} perf fds open')
            try:
                other = QMP(g.socks[1], timeout=5, io_timeout=10)
            except OSError as e:
                g.expect(False, f'a new QMP client connects ({e!r})')
                return
            g.expect(True, 'a new QMP client connects')
            info = other.cmd('query-vpmu')
            errors = [c for i in info for c in i['counters']
                      if c['enabled'] and c['host-state'] == 'error']
            g.expect(len(errors) == counting - n and all(
                'EMFILE' in c.get('host-error', '') for c in errors),
                f'{len(errors)} counters in state error, each with its '
                f'cause: {[c.get("host-error") for c in errors[:1]]}')
            said = [l for l in g.log if 'cannot count event' in l]
            g.expect(0 < len(said) <= counting - n and
                     all('vCPU 0:' in l and 'RLIMIT' not in l and
                         'below QEMU\'s limit' in l for l in said),
                     f'{len(said)} messages naming the vCPU and the fd '
                     'reserve, none repeated')
            # Room for 3 events beyond the reserve: retried, they open.
            half = free_fds(pid, 3)[-1] + 1 + 32
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (half, limits[1]))
            deadline = time.monotonic() + 5
            while perf_fds(pid)[0] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            g.expect(perf_fds(pid)[0] == 3, f'RLIMIT_NOFILE={half}: the '
                     f'retries opened {perf_fds(pid)[0]} perf fds, 3 fit')
            other.cmd('vpmu-reclaim')
            g.expect(perf_fds(pid)[0] == 0, 'vpmu-reclaim over the new '
                     'client frees every perf fd')
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
            other.cmd('vpmu-restore')
            deadline = time.monotonic() + 5
            while (perf_fds(pid)[0] < counting and
                   time.monotonic() < deadline):
                time.sleep(0.05)
            n, _ = perf_fds(pid)
            info = other.cmd('query-vpmu')
            states = {c['host-state'] for i in info for c in i['counters']
                      if c['enabled'] and c['kind'] != 'fixed' or
                      c['enabled'] and c['index'] > 0}
            g.expect(n == counting and states == {'active'},
                     f'limit restored: {n} perf fds, counters {states}')
            other.close()
        finally:
            qmp.close()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)

    with RunningGuest(args, 'idle', extra, qmp_sockets=2) as g:
        steps(g)
    g.finish('host/fd-reserve', min_checks=9)


def host_test(args):
    """
    pmu-host: the host side seen from outside QEMU.  At each SYNC the guest
    waits while we count QEMU's perf fds (one per counting counter, none
    leaked by event churn, none left after lazy release) and make
    perf_event_open fail with EMFILE.
    """
    import resource
    g = PacedGuest(args, 'pmu-host', [
        '-cpu', 'host,pmu=on,pmu-arch=intel', '-accel', 'kvm,vpmu-release-ms=100'])
    pid = g.qemu.pid
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    seen = {}

    def step(name):
        software = any('software mode' in l for l in g.log)
        # Fixed counter 0 (instructions) has no fd in software mode.
        want = 6 if software else 7
        if name == 'counters-open':
            n, _ = perf_fds(pid)
            g.expect(n == want, f'{n} perf fds for {want} counting '
                     'counters after 100 event changes')
        elif name == 'released':
            time.sleep(0.6)
            n, _ = perf_fds(pid)
            g.expect(n == 0, f'{n} perf fds 0.6 s after every counter '
                     'stopped (vpmu-release-ms=100)')
        elif name == 're-created':
            n, seen['lowest'] = perf_fds(pid)
            g.expect(n == want, f'{n} perf fds once counting again')
        elif name == 'emfile':
            # The guest stopped PMC1: wait for lazy release to close its
            # event, then go below every perf fd there was, so that even
            # the number it freed is out of reach and the next open fails.
            time.sleep(0.6)
            _, lowest = perf_fds(pid)
            resource.prlimit(pid, resource.RLIMIT_NOFILE,
                             (min(lowest, seen['lowest']), limits[1]))
        elif name == 'emfile-lifted':
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
            said = [l for l in g.log if 'too many open files: raise QEMU' in l]
            g.expect(len(said) == 1 and 'vCPU 0:' in said[0],
                     f'QEMU named the vCPU, EMFILE and its fix, once for 300 '
                     f'guest retries ({len(said)} lines)')
            stats = g.qmp.cmd('qom-get', path='/machine/unattached/'
                              'device[0]', property='x-vpmu-stats')
            g.expect(stats['perf-open-failures'] <= 20,
                     f'{stats["perf-open-failures"]} perf_event_open calls '
                     'failed for 600 writes: the retries back off')
        elif name == 'overflowed':
            stats = g.qmp.cmd('qom-get', path='/machine/unattached/'
                              'device[0]', property='x-vpmu-stats')
            g.expect(stats['overflow-signals'] >= 1,
                     f'{stats["overflow-signals"]} overflow signals '
                     'reached the vCPU thread')
        g.send()

    g.finish('host/pmu-host', g.run(step), min_checks=7)


class Migration:
    """
    Migrate the counting guest pmu-migrate through a file (migrate
    "exec:cat > FILE", -incoming "exec:cat FILE").  save() runs a source
    until the guest's "SYNC migrate" and saves it; resume() starts a
    destination from a stream and lets the guest check its counters.
    """

    def __init__(self, args, guest='pmu-migrate', extra=(), min_checks=4):
        import tempfile
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='vpmu-migrate-')
        self.elf = os.path.join(args.guest_build, 'tests', 'guest',
                                guest + '.elf')
        self.extra, self.min_checks = list(extra), min_checks
        self.log, self.ok = [], True

    def expect(self, cond, what):
        self.log.append(f'{"ok" if cond else "FAILED"}: {what}')
        self.ok = self.ok and cond

    def launch(self, name, cpu, extra=()):
        sock = os.path.join(self.tmp, f'{name}.sock')
        cmd = run_guest_mod.qemu_command(self.args.qemu, self.elf, [
            '-cpu', cpu, '-qmp', f'unix:{sock},server=on,wait=off'] +
            self.extra + list(extra))
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, bufsize=0)
        return proc, sock

    @staticmethod
    def wait_migration(qmp):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = qmp.cmd('query-migrate').get('status')
            if status in ('completed', 'failed'):
                return status
            time.sleep(0.1)
        return 'timeout'

    def save(self, name, cpu='host,pmu=on,pmu-arch=intel', fmt=None):
        """The guest's state at its SYNC, in a file; its path."""
        state = os.path.join(self.tmp, name)
        src, sock = self.launch(name, cpu)
        qmp = None
        try:
            qmp = QMP(sock)
            for raw in src.stdout:
                line = raw.decode(errors='replace').rstrip()
                self.log.append(f'{name}: {line}')
                if line == 'SYNC migrate':
                    break
            if fmt:
                qmp.cmd('vpmu-set-migration-format', format=fmt)
            qmp.cmd('stop')
            qmp.cmd('migrate', uri=f'exec:cat > {state}')
            self.expect(self.wait_migration(qmp) == 'completed',
                        f'{name}: saved to a file')
            qmp.cmd('quit')
            src.wait(timeout=30)
        finally:
            if qmp:
                qmp.close()
            if src.poll() is None:
                src.kill()
        return state

    def resume(self, name, state, cpu='host,pmu=on,pmu-arch=intel', accel=()):
        """A destination from @state; the guest's checks must pass."""
        dst, sock = self.launch(name, cpu, list(accel) +
                                ['-incoming', f'exec:cat {state}'])
        qmp = None
        try:
            qmp = QMP(sock)
            self.expect(self.wait_migration(qmp) == 'completed',
                        f'{name}: loaded from the file')
            qmp.cmd('cont')
            dst.stdin.write(b'g')
            checks = 0
            for raw in dst.stdout:
                line = raw.decode(errors='replace').rstrip()
                self.log.append(f'{name}: {line}')
                checks += line.startswith('ok ')
                if line.startswith('not ok'):
                    self.expect(False, f'{name}: {line}')
            status = dst.wait(timeout=60)
            self.expect(status == 1 and checks >= self.min_checks,
                        f'{name}: guest exited '
                        f'cleanly (QEMU status {status}) after {checks} '
                        'checks')
        finally:
            if qmp:
                qmp.close()
            if dst.poll() is None:
                dst.kill()

    def load_only(self, name, state, cpu='host,pmu=on,pmu-arch=intel', accel=()):
        """A destination from @state that must load it; stopped then."""
        dst, sock = self.launch(name, cpu, list(accel) +
                                ['-incoming', f'exec:cat {state}'])
        try:
            qmp = QMP(sock)
            self.expect(self.wait_migration(qmp) == 'completed',
                        f'{name}: loads the stream')
            qmp.cmd('quit')
            qmp.close()
            out = dst.communicate(timeout=30)[0]
            self.log += [f'{name}: {l}' for l in
                         out.decode(errors='replace').splitlines()]
        finally:
            if dst.poll() is None:
                dst.kill()

    def refuse(self, name, state, expect, cpu='host,pmu=on,pmu-arch=intel'):
        """A destination from @state must fail, saying @expect."""
        try:
            bad = subprocess.run(
                run_guest_mod.qemu_command(self.args.qemu, self.elf, [
                    '-cpu', cpu, '-incoming', f'exec:cat {state}'] +
                    self.extra),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=60)
            status, out = bad.returncode, bad.stdout.decode(errors='replace')
        except subprocess.TimeoutExpired:
            status, out = 'none (still running after 60 s)', ''
        self.log.append(f'{name}: {out.strip()}')
        self.expect(status != 0 and expect in out,
                    f'{name}: refused, saying "{expect}"')

    def finish(self, name, start):
        report(f'migration/{name} ({sum(l.startswith("ok") for l in self.log)}'
               ' checks)', self.ok, time.monotonic() - start,
               '\n'.join(self.log))
        self.log, self.ok = [], True


def cut_subsection(data, name, size):
    """@data without each subsection @name (fields of @size bytes); count."""
    head = b'\x05' + bytes([len(name)]) + name + b'\x00\x00\x00\x01'
    parts = data.split(head)
    return parts[0] + b''.join(p[size:] for p in parts[1:]), len(parts) - 1


def migration_tests(args):
    """
    The rule of docs/system/i386/vpmu.rst, "Migration".  A default stream
    carries cpu/vpmu and KVM's cpu/msr_architectural_pmu beside it: its
    counts carry on, and a destination with another configuration refuses
    it.  The 'kvm' format carries KVM's subsection only: a destination
    with the vPMU imports it, counts and all, and one without the vPMU
    (vpmu=kvm, as QEMU without qemu-vpmu) loads it.  A stream whose
    cpu/vpmu was cut out still carries the counts, in KVM's subsection; a
    KVM subsection with a counter this PMU lacks is refused, naming it.
    """
    m = Migration(args)
    vpmu_sub, vpmu_size = b'cpu/vpmu', 5 * 4 + 5 * 8 + 8 * 8 + 12 * 8 + 1
    kvm_sub = b'cpu/msr_architectural_pmu'

    start = time.monotonic()
    try:
        state = m.save('src')
        with open(state, 'rb') as f:
            data = f.read()
        m.expect(vpmu_sub + b'\x00\x00\x00\x01' in data and kvm_sub in data,
                 'the stream has cpu/vpmu and cpu/msr_architectural_pmu')
        m.resume('dst', state)
        m.refuse('mismatch', state, 'pmu-gp-counters=4, this QEMU',
                 cpu='host,pmu=on,pmu-arch=intel,pmu-gp-counters=8')
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish('counting-guest', start)

    start = time.monotonic()
    try:
        kvm_state = m.save('kvm-src', fmt='kvm')
        with open(kvm_state, 'rb') as f:
            kdata = f.read()
        m.expect(vpmu_sub + b'\x00' not in kdata and kvm_sub in kdata,
                 'the kvm format has cpu/msr_architectural_pmu only')
        m.resume('kvm-dst', kvm_state)
        m.load_only('kvm-dst-vpmu-kvm', kvm_state, cpu='host,pmu=on',
                    accel=['-accel', 'kvm,vpmu=kvm'])
        # KVM's subsection with PMC9 = 5: gp_counters[9] after four
        # registers and three fixed counters.
        head = b'\x05' + bytes([len(kvm_sub)]) + kvm_sub + \
            b'\x00\x00\x00\x01'
        at = kdata.index(head) + len(head) + 4 * 8 + 3 * 8 + 9 * 8
        bad = os.path.join(m.tmp, 'bad-kvm')
        with open(bad, 'wb') as f:
            f.write(kdata[:at] + (5).to_bytes(8, 'big') + kdata[at + 8:])
        m.refuse('kvm-pmc9', bad, 'IA32_PMC9 = 0x5, but this PMU has 4 '
                 'general-purpose counters')
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish('kvm-format', start)

    start = time.monotonic()
    try:
        cut, n = cut_subsection(data, vpmu_sub, vpmu_size)
        m.expect(n == 1 and vpmu_sub + b'\x00' not in cut,
                 f'cut {n} cpu/vpmu subsection(s) out of the stream')
        path = os.path.join(m.tmp, 'cut')
        with open(path, 'wb') as f:
            f.write(cut)
        m.resume('cut-dst', path)
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish('without-vpmu-subsection', start)


def run_reset_guest(g, at_reset=None, after_reset=None):
    """
    Drive a guest that says "SYNC boot" at each boot (answered with the
    boot's number, from 1) and "SYNC reset" where we reset it: call
    @at_reset there, reset, and @after_reset at "SYNC after-reset".
    Checks that it booted twice; returns QEMU's exit status.
    """
    boots = 0

    def step(name):
        nonlocal boots
        if name == 'boot':
            boots += 1
            g.send(str(boots).encode())
        elif name == 'reset':
            if at_reset:
                at_reset()
            g.qmp.cmd('system_reset')       # the guest boots again
        elif name == 'after-reset':
            if after_reset:
                after_reset()
            g.send()

    status = g.run(step)
    g.expect(boots == 2, f'{boots} boots: one reset')
    return status


def reset_test(args):
    """
    pmu-reset: system_reset over QMP must bring back the SDM's reset values
    and close every host event of the vCPU.
    """
    g = PacedGuest(args, 'pmu-reset', ['-cpu', 'host,pmu=on,pmu-arch=intel'], reboot=True)

    def fds_while_counting():
        n, _ = perf_fds(g.qemu.pid)
        g.expect(n > 0, f'{n} perf fds while counting')

    def fds_after():
        n, _ = perf_fds(g.qemu.pid)
        g.expect(n == 0, f'{n} perf fds after system_reset')

    status = run_reset_guest(g, fds_while_counting, fds_after)
    g.finish('reset/system-reset', status, min_checks=6, max_checks=6)


def perf_fd_owners(pid):
    """
    {tid: n}: the thread each of QEMU's perf fds signals (F_GETOWN_EX),
    read from a copy of the fd (pidfd_getfd needs ptrace rights over QEMU;
    None where we have none).  /proc/PID/fdinfo does not show the owner.
    """
    import ctypes
    import fcntl
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    sys_pidfd_getfd, f_getown_ex = 438, 16
    owners = {}
    pidfd = os.pidfd_open(pid)
    try:
        for fd in os.listdir(f'/proc/{pid}/fd'):
            try:
                if 'perf_event' not in os.readlink(f'/proc/{pid}/fd/{fd}'):
                    continue
            except OSError:
                continue
            copy = libc.syscall(sys_pidfd_getfd, pidfd, int(fd), 0)
            if copy < 0:
                return None
            try:
                kind, tid = struct.unpack('ii', fcntl.fcntl(
                    copy, f_getown_ex, bytes(8)))
            finally:
                os.close(copy)
            owners[tid] = owners.get(tid, 0) + 1
    finally:
        os.close(pidfd)
    return owners


def vcpu_threads(pid):
    """{'CPU n/KVM': tid} (QEMU names threads with -name debug-threads=on)."""
    threads = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith('CPU ') and name.endswith('/KVM'):
            threads[name] = int(tid)
    return threads


def smp_test(args):
    """
    pmu-smp on -smp 2: the guest checks that both vCPUs count, gate and
    overflow independently.  With both CPUs' counters open it stops at
    SYNC, and we check from outside that each vCPU holds its own events:
    x-vpmu-stats per CPU (opens, open fds, overflow signals, PMIs) and,
    where we may copy QEMU's fds, that each perf fd signals its own vCPU's
    thread.
    """
    g = PacedGuest(args, 'pmu-smp', [
        '-smp', '2', '-cpu', 'host,pmu=on,pmu-arch=intel', '-name', 'debug-threads=on',
        '-append', 'sync=1'])

    def step(name):
        if name != 'counting':
            g.send()
            return
        # Each CPU has PMC0 and fixed counter 1 counting cycles.
        cpus = sorted(g.qmp.cmd('query-cpus-fast'),
                      key=lambda c: c['cpu-index'])
        g.expect(len(cpus) == 2, f'{len(cpus)} vCPUs')
        fds = 0
        for c in cpus:
            st = g.qmp.cmd('qom-get', path=c['qom-path'],
                           property='x-vpmu-stats')
            n = c['cpu-index']
            fds += st['open-fds']
            g.expect(st['open-fds'] == 2, f'CPU {n}: {st["open-fds"]} '
                     'open fds for its 2 counting counters')
            g.expect(st['overflow-signals'] >= 2 and st['pmis'] >= 2,
                     f'CPU {n}: {st["overflow-signals"]} overflow signals '
                     f'and {st["pmis"]} PMIs of its own (2 wraps)')
        n, _ = perf_fds(g.qemu.pid)
        g.expect(n == fds, f'QEMU holds {n} perf fds, the {fds} that the '
                 'vCPUs report')
        owners = perf_fd_owners(g.qemu.pid)
        threads = vcpu_threads(g.qemu.pid)
        if owners is None:
            g.log.append('note: cannot copy QEMU\'s fds (pidfd_getfd); '
                         'owner threads not checked')
        else:
            want = {threads.get(f'CPU {c["cpu-index"]}/KVM'): 2
                    for c in cpus}
            g.expect(owners == want and None not in want,
                     f'perf fds per owner thread {owners}: 2 on each vCPU '
                     f'thread {threads}')
        g.send()

    g.finish('smp/pmu-smp', g.run(step), min_checks=13)


def hotplug_test(args):
    """
    pmu-hotplug on -smp 1,maxcpus=2: we device_add CPU 1 over QMP, the
    guest starts it and it counts and takes a PMI; we device_del it and the
    guest ejects it through the ACPI CPU hotplug registers.  From outside:
    the new vCPU has its vPMU (x-vpmu-stats) and its events on its own
    thread, and after the eject its perf fds are closed, its thread is
    gone and QEMU runs on.  (Plugging the slot again is not tested: see
    pmu-hotplug.c.)
    """
    g = PacedGuest(args, 'pmu-hotplug', [
        '-smp', '1,maxcpus=2', '-cpu', 'host,pmu=on,pmu-arch=intel',
        '-name', 'debug-threads=on'])
    expect, pid = g.expect, g.qemu.pid
    new_cpu = '/machine/peripheral/cpu1'
    before = {}

    def stats(qmp, path):
        return qmp.cmd('qom-get', path=path, property='x-vpmu-stats')

    def cpu_paths(qmp):
        return {c['cpu-index']: c['qom-path']
                for c in qmp.cmd('query-cpus-fast')}

    def query_vpmu(qmp, what, want):
        # query-vpmu runs on each vCPU's thread: it must find the new one
        # and must not wait for an unplugged one.
        got = {i['cpu-index']: i['open-events']
               for i in qmp.cmd('query-vpmu')}
        expect(got == want, f'{what}: query-vpmu open events per vCPU '
               f'{got}, expected {want}')

    def check_counting(qmp, what):
        st = stats(qmp, new_cpu)
        st0 = stats(qmp, cpu_paths(qmp)[0])
        n, _ = perf_fds(pid)
        expect(st['open-fds'] == 2, f'{what}: CPU 1 has {st["open-fds"]} '
               'open fds for its 2 counting counters')
        expect(st['pmis'] >= 1 and st['overflow-signals'] >= 1,
               f'{what}: CPU 1 had {st["overflow-signals"]} overflow '
               f'signals and {st["pmis"]} PMIs')
        expect(n == st['open-fds'] + st0['open-fds'],
               f'{what}: QEMU holds {n} perf fds: CPU 0\'s '
               f'{st0["open-fds"]} and CPU 1\'s {st["open-fds"]}')
        expect(st0['open-fds'] == 1, f'{what}: CPU 0 has '
               f'{st0["open-fds"]} open fd for its counting counter')
        owners = perf_fd_owners(pid)
        threads = vcpu_threads(pid)
        if owners is not None:
            want = {threads.get('CPU 0/KVM'): 1, threads.get('CPU 1/KVM'): 2}
            expect(owners == want and None not in want,
                   f'{what}: perf fds per owner thread {owners}: CPU 0 '
                   f'and CPU 1 signal their own ({threads})')
        query_vpmu(qmp, what, {0: 1, 1: 2})
        before['fds'], before['cpu1'] = n, st['open-fds']

    def check_ejected(qmp, what):
        deadline = time.monotonic() + 10
        while len(cpu_paths(qmp)) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(len(cpu_paths(qmp)) == 1, f'{what}: one vCPU left')
        n, _ = perf_fds(pid)
        expect(n == before['fds'] - before['cpu1'] and n > 0,
               f'{what}: {n} perf fds, {before["fds"]} less CPU 1\'s '
               f'{before["cpu1"]}')
        owners = perf_fd_owners(pid)
        if owners is not None:
            tid0 = vcpu_threads(pid).get('CPU 0/KVM')
            expect(owners == {tid0: n}, f'{what}: the perf fds left are '
                   f'CPU 0\'s ({owners}, CPU 0 is {tid0})')
        expect('CPU 1/KVM' not in vcpu_threads(pid),
               f'{what}: CPU 1\'s thread has exited')
        try:
            stats(qmp, new_cpu)
            gone = False
        except RuntimeError:
            gone = True
        expect(gone, f'{what}: {new_cpu} is gone')
        query_vpmu(qmp, what, {0: 1})
        expect(qmp.cmd('query-status')['status'] == 'running' and
               'open-fds' in stats(qmp, cpu_paths(qmp)[0]),
               f'{what}: QEMU runs on, CPU 0\'s vPMU answers')

    def plug(qmp, what):
        free = [c for c in qmp.cmd('query-hotpluggable-cpus')
                if 'qom-path' not in c]
        expect(len(free) == 1, f'{what}: {len(free)} free CPU slot')
        qmp.cmd('device_add', driver=free[0]['type'], id='cpu1',
                **free[0]['props'])
        st = stats(qmp, new_cpu)
        expect(st['open-fds'] == 0 and st['perf-opens'] == 0,
               f'{what}: the new vCPU has a vPMU, no event open yet')
        expect('CPU 1/KVM' in vcpu_threads(pid),
               f'{what}: CPU 1 has its thread')
        query_vpmu(qmp, what, {0: 1, 1: 0})

    def step(name):
        if name == 'plug':
            plug(g.qmp, name)
        elif name == 'counting':
            check_counting(g.qmp, name)
        elif name == 'unplug':
            g.qmp.cmd('device_del', id='cpu1')
            # Asked, not ejected yet: CPU 1 still counts.
            query_vpmu(g.qmp, 'unplug requested', {0: 1, 1: 2})
        elif name == 'ejected':
            check_ejected(g.qmp, name)
        g.send()

    g.finish('hotplug/pmu-hotplug', g.run(step), min_checks=10,
             max_checks=10)


def high_apic_id_test(args):
    """
    pmu-apic-id on q35 with -smp 1,maxcpus=512,sockets=2,cores=256: we
    device_add socket 1 core 0, whose APIC ID is 256; the guest (x2APIC)
    starts it, and that CPU's fixed-vector PMI must reach it, not the BSP
    (256 & 0xff = 0): the PMI's MSI carries APIC ID bits 31:8 in
    address_hi (KVM's x2APIC API).  The BSP's own PMI stays on the BSP.
    """
    name = 'hotplug/pmu-apic-id'
    want = {'socket-id': 1, 'core-id': 0, 'thread-id': 0}
    # qemu_command() picks -M pc; this test runs on q35.
    pc_command = run_guest_mod.qemu_command

    def q35_command(qemu, guest, extra):
        cmd = pc_command(qemu, guest, extra)
        cmd[cmd.index('-M') + 1] = 'q35'
        return cmd

    run_guest_mod.qemu_command = q35_command
    try:
        g = PacedGuest(args, 'pmu-apic-id', [
            '-smp', '1,maxcpus=512,sockets=2,cores=256',
            '-cpu', 'host,pmu=on,pmu-arch=intel',
            '-append', 'cpuhp=0xcd8 apic-id=256 selector=256'])
    finally:
        run_guest_mod.qemu_command = pc_command
    expect = g.expect

    def plug(qmp):
        slots = [c for c in qmp.cmd('query-hotpluggable-cpus')
                 if c['props'] == want and 'qom-path' not in c]
        expect(len(slots) == 1, f'one free slot {want}: {slots}')
        qmp.cmd('device_add', driver=slots[0]['type'], id='cpu256',
                **slots[0]['props'])
        cpus = qmp.cmd('query-cpus-fast')
        new = [c for c in cpus if c['props'] == want]
        expect(len(cpus) == 2 and len(new) == 1,
               f'two vCPUs, one of them {want}: {cpus}')
        apic = qmp.cmd('qom-get', path=new[0]['qom-path'],
                       property='apic-id') if new else None
        expect(apic == 256, f'the new vCPU\'s APIC ID is {apic}')

    def step(step_name):
        if step_name == 'plug':
            plug(g.qmp)
        g.send()

    status = g.run(step)
    if status != 1:
        # QEMU is gone (run() kills it): what it said after we stopped
        # reading.
        g.log += g.qemu.stdout.read().decode(errors='replace').splitlines()
    # The KVMs that cannot do it, as QEMU says so (then it exits).
    cannot = {
        'requires kernel irqchip and X2APIC API support':
            'KVM has no x2APIC API (KVM_CAP_X2APIC_API), so QEMU cannot '
            'configure APIC IDs above 255',
        'kvm_create_vcpu failed (256): Invalid argument':
            'KVM refuses a vCPU with APIC ID 256 (KVM_MAX_VCPU_IDS)',
    }
    for text, why in cannot.items():
        if status != 1 and any(text in line for line in g.log):
            report(name, None, 0, f'NOT TESTED: {why}')
            return
    g.finish(name, status, min_checks=9, max_checks=9)


def soak_test(args):
    """
    The short soak (make soak runs it for minutes): an -smp 4 guest keeps
    every counter busy while QMP clients loop and it is live-migrated 3
    times.  One line here with its verdict; its figures on failure.
    """
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'soak'))
    soak = importlib.import_module('vpmu-soak')
    lines = []
    start = time.monotonic()
    ok, last = soak.run_soak(args.qemu, args.guest_build, seconds=40,
                             migrations=3, out=lines.append)
    report(f'soak/short ({last})', ok, time.monotonic() - start,
           '\n'.join(lines))


def libvirt_test(args):
    """
    Our emulator under a real, private libvirtd (tests/libvirt): one line
    here, counting its PASS lines; its own output on failure.
    """
    start = time.monotonic()
    p = subprocess.Popen([sys.executable, os.path.join(
        os.path.dirname(__file__), 'libvirt', 'vpmu-libvirt-test.py'),
        '--qemu', args.qemu, '--guest', os.path.join(
            args.guest_build, 'tests', 'guest', 'idle.elf')],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the test then stops its libvirtd and guests.
        p.terminate()
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        out += b'\n(timed out after 300 s)\n'
    out = out.decode(errors='replace')
    checks = [l for l in out.splitlines() if l.startswith('PASS ')]
    report(f'libvirt/domain ({len(checks)} checks)',
           p.returncode == 0 and len(checks) > 0,
           time.monotonic() - start, out)


def config_tests(args):
    """Settings QEMU must refuse, or start with and warn about."""
    config_error_test(args, 'gp-counters-out-of-range',
                      'host,pmu=on,pmu-arch=intel,pmu-gp-counters=9',
                      'vPMU: pmu-gp-counters=9 is out of range 1..8')
    config_error_test(args, 'version-out-of-range',
                      'host,pmu=on,pmu-arch=intel,pmu-version=6',
                      'vPMU: pmu-version=6 is out of range 2..5')
    config_error_test(args, 'pmu-props-with-pmu-off',
                      'host,pmu=off,pmu-gp-counters=2',
                      'vPMU: -cpu pmu-gp-counters=... configures the '
                      'userspace vPMU, which pmu=off turns off')
    config_error_test(args, 'pmu-props-with-vpmu-kvm',
                      'host,pmu=on,pmu-full-width-write=off',
                      'vPMU: -cpu pmu-full-width-write=... configures '
                      'the userspace vPMU, which -accel kvm,vpmu=kvm '
                      'turns off', accel='kvm,vpmu=kvm')
    config_error_test(args, 'accel-props-with-vpmu-kvm', 'host,pmu=on',
                      'vPMU: -accel kvm,vpmu-filter=... configures the '
                      'userspace vPMU, which -accel kvm,vpmu=kvm turns '
                      'off', accel='kvm,vpmu=kvm,vpmu-filter=deny;0xc0')
    config_warning_test(args, 'accel-props-with-pmu-off', 'host,pmu=off',
                        'kvm,vpmu-release-ms=50', 'vPMU: -accel '
                        'kvm,vpmu-release-ms=... has no effect on vCPUs '
                        'with pmu=off')
    if not os.path.exists('/sys/bus/event_source/devices/cpu'):
        config_warning_test(args, 'rdpmc-in-software-mode', 'host,pmu=on,pmu-arch=intel',
                            'kvm,vpmu-rdpmc=on', 'vPMU: -accel '
                            'kvm,vpmu-rdpmc=... has no effect in '
                            'software mode')
    else:
        report('config/rdpmc-in-software-mode', None, 0,
               'NOT TESTED: this host has a PMU, so the backend runs in '
               'hardware mode')
    config_error_test(args, 'malformed-vpmu-filter', 'host,pmu=on,pmu-arch=intel',
                      "vPMU filter: 'bogus' must start with 'allow' or "
                      "'deny'", accel='kvm,vpmu-filter=bogus')
    if not os.path.exists('/sys/bus/event_source/devices/cpu'):
        config_error_test(args, 'hardware-backend-without-host-pmu',
                          'host,pmu=on,pmu-arch=intel', 'vpmu-backend=hardware, but '
                          'the host cannot count guest events',
                          accel='kvm,vpmu-backend=hardware')
    else:
        report('config/hardware-backend-without-host-pmu', None, 0,
               'NOT TESTED: this host has a PMU, so vpmu-backend='
               'hardware is expected to work')


def kvm_has_own_pmu():
    try:
        with open('/sys/module/kvm/parameters/enable_pmu') as f:
            return f.read().strip() in ('Y', '1')
    except OSError:
        return None


EXACT = ['-accel', 'kvm,vpmu-exact=on', '-cpu', 'host,pmu=on,pmu-arch=intel']


def demo_instructions(out):
    """The demo guest's instruction count, or None."""
    import re
    m = re.search(r'(?:PMC1|PERF_CTR1) +instructions \(0xc0\) +(\d+)', out)
    return int(m.group(1)) if m else None


def exact_demo_test(args, name='demo-exact', extra=None):
    """
    vpmu-exact=on: the demo guest's instruction count is non-zero and the
    same in two runs (it is deterministic: nothing else runs in the
    counted loop), and is 2 per iteration of its dec/jnz loop plus a fixed
    overhead.  Returns the count, for the gdb test.
    """
    elf = os.path.join(args.guest_build, 'tests', 'guest', 'demo.elf')
    counts, outs, start = [], [], time.monotonic()
    for _ in range(2):
        status, out, _ = run_guest_mod.run_guest(args.qemu, elf,
                                                 extra or EXACT)
        counts.append(demo_instructions(out) if status == 0 else None)
        outs.append(out)
    ok = counts[0] is not None and counts[0] == counts[1] and \
        400000 <= counts[0] < 400100
    said = sum(l.count('vpmu-exact=on: instructions retired')
               for l in outs[0].splitlines())
    ok = ok and said == 1
    report(f'guest/{name} (instructions {counts})', ok,
           time.monotonic() - start,
           '\n'.join(outs) + f'\n(startup line said {said} time(s))')
    return counts[0] if ok else None


def exact_gdb_test(args, want):
    """
    gdbstub with exact counting: gdb stops at a hardware breakpoint in the
    counted loop, single-steps, stops at a software breakpoint, and the
    guest still counts the same instructions as without gdb.  gdb sees
    its own steps only, never ours.
    """
    import shutil
    import socket
    import tempfile
    start = time.monotonic()
    if not shutil.which('gdb'):
        report('guest/exact-gdb', False, 0, 'gdb is not installed '
               '(scripts/install-deps.sh installs it)')
        return
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    elf = os.path.join(args.guest_build, 'tests', 'guest', 'demo.elf')
    sym = os.path.join(args.guest_build, 'tests', 'guest', 'demo.elf64')
    cmd = run_guest_mod.qemu_command(args.qemu, elf, EXACT + [
        '-gdb', f'tcp:127.0.0.1:{port}', '-S'])
    log = tempfile.NamedTemporaryFile(prefix='vpmu-gdb-', suffix='.log')
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    gdb_out = ''
    try:
        g = subprocess.run(
            ['gdb', '-nx', '-batch', '-ex', 'set confirm off',
             '-ex', 'set architecture i386:x86-64',
             '-ex', f'file {sym}',
             '-ex', f'target remote 127.0.0.1:{port}',
             '-ex', 'hbreak busy_loop', '-ex', 'continue',
             '-ex', 'printf "AT-HBREAK %lx\\n", $pc',
             '-ex', 'stepi', '-ex', 'printf "STEP1 %lx\\n", $pc',
             '-ex', 'stepi', '-ex', 'printf "STEP2 %lx\\n", $pc',
             '-ex', 'stepi', '-ex', 'printf "STEP3 %lx\\n", $pc',
             '-ex', 'delete', '-ex', 'hbreak guest_exit',
             '-ex', 'continue', '-ex', 'printf "AT-BREAK %lx\\n", $pc',
             '-ex', 'delete', '-ex', 'continue'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=120)
        gdb_out = g.stdout.decode(errors='replace')
        status = qemu.wait(timeout=60)
    except subprocess.TimeoutExpired as e:
        gdb_out += (e.stdout or b'').decode(errors='replace') + '\n(timeout)'
        status = -1
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    log.seek(0)
    out = log.read().decode(errors='replace')
    log.close()

    def pcs(tag):
        return [int(l.split()[1], 16) for l in gdb_out.splitlines()
                if l.startswith(tag + ' ')]
    nm = subprocess.run(['nm', sym], stdout=subprocess.PIPE).stdout.decode()
    addr = {w[2]: int(w[0], 16) for w in (l.split() for l in
                                          nm.splitlines()) if len(w) == 3}
    hb, s1, s2, s3, bp = (pcs(t) for t in ('AT-HBREAK', 'STEP1', 'STEP2',
                                            'STEP3', 'AT-BREAK'))
    checks = [
        (hb == [addr.get('busy_loop')], 'gdb stopped at the hardware '
         'breakpoint on busy_loop'),
        (len(hb) == len(s1) == len(s2) == len(s3) == 1 and
         hb[0] != s1[0] != s2[0] != s3[0] and
         all(0 <= p - addr.get('busy_loop', 0) < 64 for p in s1 + s2 + s3),
         'three stepi moved one instruction each, inside busy_loop'),
        (bp == [addr.get('guest_exit')], 'gdb stopped at a second hardware '
         'breakpoint, on guest_exit'),
        (status == 1, f'the guest ran to its end (QEMU status {status})'),
        (demo_instructions(out) == want, f'the guest counted '
         f'{demo_instructions(out)} instructions, {want} without gdb'),
    ]
    detail = out + '\n--- gdb ---\n' + gdb_out + '\n' + '\n'.join(
        f'{"ok" if c else "FAILED"}: {w}' for c, w in checks)
    report(f'guest/exact-gdb ({len(checks)} checks)',
           all(c for c, _ in checks), time.monotonic() - start, detail)


def exact_stop_test(args):
    """
    pmu-exact-stop: the vCPU single-steps exactly while an instructions or
    branches retired counter effectively counts (query-vpmu says so, and
    its step count grows only then); reclaim stops it, restore resumes it.
    """
    g = PacedGuest(args, 'pmu-exact-stop', EXACT)
    stepping = {'idle': False, 'cycles-only': False, 'instructions': True,
                'reclaimed': False, 'restored': True, 'evtsel-off': False,
                'branches': True, 'global-off': False, 'fixed0': True,
                'fixed-off': False}

    def exact_info():
        info = g.qmp.cmd('query-vpmu')[0]
        return info.get('exact', {}), info['counters']

    def step(name):
        if name == 'reclaimed':
            g.qmp.cmd('vpmu-reclaim')
        elif name == 'restored':
            g.qmp.cmd('vpmu-restore')
        # Let the vCPU re-enter the guest after the command
        time.sleep(0.2)
        first, _ = exact_info()
        time.sleep(0.3)
        second, counters = exact_info()
        want = stepping.get(name)
        grew = second.get('steps', 0) - first.get('steps', 0)
        g.expect(first.get('stepping') is want and
                 second.get('stepping') is want and
                 (grew > 0) == want,
                 f'{name}: stepping {second.get("stepping")}, {grew} steps '
                 f'in 0.3 s (want stepping {want})')
        exact = [f'{c["kind"]}{c["index"]}' for c in counters
                 if c['exact']]
        # Reclaim hands the counters back to the host: none is stepped
        g.expect(exact == (['gp1'] if name in ('instructions', 'restored',
                                               'evtsel-off', 'branches',
                                               'global-off')
                           else ['gp1', 'fixed0'] if name.startswith('fixed')
                           else []),
                 f'{name}: counters counted by stepping: {exact}')
        g.send()

    status = g.run(step)
    g.finish('guest/pmu-exact-stop', status, min_checks=2)


# pmu-exact's sections in make check: all nine.
EXACT_SECTIONS = 0x1ff
# What QEMU says where KVM does not single-step the guest's user mode
# (the PVM hosts this is developed on): checks of ring 3 cannot hold.
EXACT_USER_UNSTEPPED = "does not single-step the guest's user mode"


def exact_guest_test(args):
    """
    pmu-exact's checks must pass, except those of code run in ring 3 where
    QEMU warned that this host's KVM does not step user mode: each of
    those is a loud SKIP line of its own, naming the host limit.
    """
    elf = os.path.join(args.guest_build, 'tests', 'guest', 'pmu-exact.elf')
    status, out, secs = run_guest_mod.run_guest(
        args.qemu, elf, EXACT + ['-append', f'only={EXACT_SECTIONS}'],
        timeout=180)
    checks = [l for l in out.splitlines()
              if l.startswith('ok ') or l.startswith('not ok ')]
    failed = [l for l in checks if l.startswith('not ok')]
    host_limit = EXACT_USER_UNSTEPPED in out
    skipped = [l for l in failed
               if host_limit and re.search(r'ring[ -]3', l)]
    real = [l for l in failed if l not in skipped]
    ok = status in (0, 1) and checks and not real and \
        (status == 0 or skipped)
    report(f'guest/pmu-exact ({len(checks)} checks, {len(skipped)} '
           'skipped)', ok, secs, out)
    for l in skipped:
        report(f'guest/pmu-exact: {l.split(" - ", 1)[-1][:70]}', None, 0,
               "this host's KVM does not single-step the guest's user mode "
               '(QEMU warned so): ring 3 runs uncounted')


def exact_tests(args):
    """Exact counting by single-stepping (-accel kvm,vpmu-exact=on)."""
    count = exact_demo_test(args)
    exact_guest_test(args)
    exact_stop_test(args)
    if count is None:
        report('guest/exact-gdb', False, 0, 'not run: the demo guest gave '
               'no exact count to compare with')
    else:
        exact_gdb_test(args, count)


LBR_CPU = 'host,pmu=on,pmu-arch=intel,lbr=on'
# What QEMU warns when KVM_GET_CPUID2 lacks CPUID.(7,0):EDX[19]
ARCH_LBR_CPUID_DROPPED = 'KVM dropped CPUID.(7,0):EDX[19]'


def lbr_guest_test(args, name, accel, cpu, append):
    """
    pmu-lbr's checks must pass.  Checks of ring 3 that fail where QEMU
    warned that this host's KVM does not step user mode, and checks the
    guest itself marks "# SKIP", are loud SKIP lines of their own.
    """
    elf = os.path.join(args.guest_build, 'tests', 'guest', 'pmu-lbr.elf')
    extra = ['-accel', accel, '-cpu', cpu, '-append', append]
    status, out, secs = run_guest_mod.run_guest(args.qemu, elf, extra,
                                                timeout=120)
    checks = [l for l in out.splitlines()
              if l.startswith('ok ') or l.startswith('not ok ')]
    failed = [l for l in checks if l.startswith('not ok')]
    host_limit = EXACT_USER_UNSTEPPED in out
    unstepped = [l for l in failed
                 if host_limit and re.search(r'ring[ -]3', l)]
    # QEMU read back the CPUID KVM kept and warned that leaf 7 lost it
    no_cpuid_bit = [l for l in failed
                    if ARCH_LBR_CPUID_DROPPED in out and
                    'CPUID.(7,0):EDX[19]' in l]
    real = [l for l in failed if l not in unstepped + no_cpuid_bit]
    marked = [l for l in checks if l.startswith('ok ') and '# SKIP' in l]
    ok = status in (0, 1) and checks and not real and \
        (status == 0 or unstepped or no_cpuid_bit)
    report(f'guest/{name} ({len(checks)} checks, '
           f'{len(unstepped) + len(no_cpuid_bit) + len(marked)} skipped)',
           ok, secs,
           f'-accel {accel} -cpu {cpu} -append "{append}"\n{out}')
    for l in unstepped:
        report(f'guest/{name}: {l.split(" - ", 1)[-1][:70]}', None, 0,
               "this host's KVM does not single-step the guest's user mode "
               '(QEMU warned so): ring 3 runs unrecorded')
    for l in no_cpuid_bit:
        report(f'guest/{name}: {l.split(" - ", 1)[-1][:70]}', None, 0,
               "this host's KVM answers CPUID leaf 7 itself and dropped "
               'the ARCH_LBR bit (QEMU warned so); the arch LBR MSRs are '
               'checked regardless')
    for l in marked:
        what, why = l.split(' - ', 1)[-1].split('# SKIP', 1)
        report(f'guest/{name}: {what.strip()[:70]}', None, 0, why.strip())


def lbr_migration_test(args, name, cpu, append):
    """
    pmu-lbr section 6: every LBR register and record survives a
    migration, recording goes on from there, and a destination with
    another LBR refuses the stream, naming what differs.
    """
    m = Migration(args, 'pmu-lbr', ['-append', append], min_checks=3)
    start = time.monotonic()
    try:
        state = m.save(f'{name}-src', cpu=cpu)
        with open(state, 'rb') as f:
            m.expect(b'cpu/vpmu/lbr' in f.read(),
                     'the stream has the cpu/vpmu/lbr subsection')
        m.resume(f'{name}-dst', state, cpu=cpu)
        lbr = 'architectural' if 'arch-lbr=on' in cpu else 'legacy'
        m.refuse(f'{name}-lbr-off', state,
                 "start it with the source's -cpu lbr, arch-lbr and lbr-fmt",
                 cpu=cpu.replace('lbr=on', 'lbr=off').replace(
                     ',arch-lbr=on', ''))
        if lbr == 'architectural':
            # The same IA32_PERF_CAPABILITIES: the LBR subsection refuses
            m.refuse(f'{name}-depth16', state,
                     "the migration stream's LBR is architectural, format "
                     "0x3f, depth 32, quirks 0x0; this one is "
                     "architectural, format 0x3f, depth 16",
                     cpu=cpu + ',lbr-depth=16')
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish(name, start)


def lbr_reset_test(args, name, cpu, append):
    """
    pmu-lbr section 7: system_reset while the guest records brings every
    LBR register back to its SDM reset value.
    """
    g = PacedGuest(args, 'pmu-lbr', ['-cpu', cpu, '-append', append],
                   reboot=True)
    status = run_reset_guest(g)
    g.finish(f'reset/{name}', status, min_checks=3, max_checks=3)


def lbr_host_test(args, name, cpu, append):
    """
    pmu-lbr section 8: the host takes LBR from a recording guest
    (vpmu-reclaim resources=[lbr], then its backend losing it, through
    the x-vpmu-lbr-preempt seam) and gives it back.  query-vpmu, HMP and
    the events say so (rate-limited: a burst of flaps gives one event);
    the guest records nothing meanwhile and goes on afterwards; its
    counters are not touched.
    """
    g = PacedGuest(args, 'pmu-lbr', ['-cpu', cpu, '-append', append])
    kind = 'arch' if 'arch-lbr=on' in cpu else 'legacy'
    seen = []

    def lbr():
        info = g.qmp.cmd('query-vpmu')[0]
        return info.get('lbr', {}), info

    def event(name, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in g.qmp.events:
                if e['event'] == name:
                    g.qmp.events.remove(e)
                    return e['data']
            g.qmp.cmd('query-status')
            time.sleep(0.05)
        return None

    def step(step_name):
        seen.append(step_name)
        cpu_path = g.qmp.cmd('query-cpus-fast')[0]['qom-path']
        if step_name == 'recording':
            first, _ = lbr()
            time.sleep(0.3)
            info, _ = lbr()
            g.expect(info.get('kind') == kind and
                     info.get('backend') == 'software' and
                     info.get('enabled') is True and
                     info.get('host-state') == 'active',
                     f'recording: query-vpmu lbr {info}')
            g.expect(info.get('branches-recorded', 0) >
                     first.get('branches-recorded', 0),
                     'recording: branches-recorded grows while the guest '
                     f'polls COM1 ({first.get("branches-recorded")} -> '
                     f'{info.get("branches-recorded")})')
            hmp = g.qmp.cmd('human-monitor-command',
                            **{'command-line': 'info vpmu'})
            g.expect(f'LBR: {kind}' in hmp and 'active' in hmp,
                     f'recording: info vpmu shows the LBR: {hmp!r}')
            g.qmp.cmd('vpmu-reclaim', resources=['lbr'])
            data = event('VPMU_RECLAIMED')
            g.expect(data and data.get('resources') == ['lbr'],
                     f'VPMU_RECLAIMED {data}')
            info, whole = lbr()
            g.expect(info.get('host-state') == 'reclaimed',
                     f'reclaimed: LBR host-state {info.get("host-state")}')
            g.expect(all(c.get('host-state') != 'reclaimed'
                         for c in whole.get('counters', [])),
                     'reclaimed: the counters are not')
        elif step_name == 'reclaimed':
            g.qmp.cmd('vpmu-restore', resources=['lbr'])
            data = event('VPMU_RESTORED')
            g.expect(data and data.get('resources') == ['lbr'],
                     f'VPMU_RESTORED {data}')
            info, _ = lbr()
            g.expect(info.get('host-state') not in ('reclaimed', 'lost'),
                     f'restored: LBR host-state {info.get("host-state")}')
        elif step_name == 'restored':
            g.qmp.cmd('qom-set', path=cpu_path,
                      property='x-vpmu-lbr-preempt', value=True)
            data = event('VPMU_LBR_PREEMPTED')
            g.expect(data and data.get('host-state') == 'lost' and
                     data.get('reason') == 'x-vpmu-lbr-preempt',
                     f'VPMU_LBR_PREEMPTED {data}')
            info, _ = lbr()
            g.expect(info.get('host-state') == 'lost',
                     f'lost: LBR host-state {info.get("host-state")}')
        elif step_name == 'lost':
            # Flapping ending in "recovered": the rate limit (one event a
            # second) lets the last state through, once
            for lost in [False, True] * 10 + [False]:
                g.qmp.cmd('qom-set', path=cpu_path,
                          property='x-vpmu-lbr-preempt', value=lost)
            time.sleep(2.5)
            g.qmp.cmd('query-status')
            names = [e['event'] for e in g.qmp.events
                     if e['event'].startswith('VPMU_LBR_')]
            g.qmp.events.clear()
            g.expect(names == ['VPMU_LBR_RECOVERED'],
                     f'21 flaps of x-vpmu-lbr-preempt in a burst: events '
                     f'{names}, want one VPMU_LBR_RECOVERED')
            info, _ = lbr()
            g.expect(info.get('host-state') != 'lost',
                     f'recovered: LBR host-state {info.get("host-state")}')
        g.send()

    status = g.run(step)
    g.expect(seen == ['recording', 'reclaimed', 'restored', 'lost'],
             f'the guest stopped at {seen}')
    g.finish(f'lbr/{name}', status, min_checks=7)


def lbr_hardware_test(args):
    """
    The hardware LBR backend (KVM's LBR) with the pmu-lbr guest, where
    QEMU can use it; elsewhere a loud SKIP with the reason QEMU gives.
    """
    cmd = [args.qemu, '-M', 'pc', '-accel', 'kvm,vpmu-lbr-backend=hardware',
           '-nodefaults', '-display', 'none', '-cpu', LBR_CPU, '-S']
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
        out = p.stdout.decode(errors='replace')
    except subprocess.TimeoutExpired:           # it started: usable
        out = ''
    why = re.search(r'vpmu-lbr-backend=hardware is not available here: '
                    r'([^;]*)', out)
    if why:
        report('guest/pmu-lbr-hardware', None, 0,
               f'NOT RUN: the hardware LBR backend needs an Intel host with '
               f'legacy LBR whose KVM has a PMU, and -cpu host; here '
               f'{why.group(1)} (it is unit-tested against a fake KVM '
               f'layer: test-vpmu-lbr-hw)')
        return
    # Linux's probe (section 0), in the Skylake class (32 records, format
    # 5) of the newest hosts with legacy LBR; the exact-record sections
    # expect the software backend's MISPRED 0 and no cycle counts.
    lbr_guest_test(args, 'pmu-lbr-hardware', 'kvm,vpmu-lbr-backend=hardware',
                   LBR_CPU, 'only=0x1')


def lbr_tests(args):
    """
    LBR (-cpu ...,lbr=on), recorded by the software backend here: the
    pmu-lbr guest in each LBR layout (sections 0-3 where the layout has
    them), the freeze at a PMI with exact counting (section 4) in both
    styles, architectural LBR (section 5), migration (6), reset (7) and
    the host taking LBR (8) of both kinds, and the settings QEMU refuses.
    """
    # (name, -cpu extra, -append): the depth's class and default format
    for name, props, append in [
            ('pmu-lbr', '', 'only=0xf depth=32 fmt=5'),
            ('pmu-lbr-depth4', ',lbr-depth=4', 'only=0x3 depth=4 fmt=1'),
            ('pmu-lbr-depth8', ',lbr-depth=8', 'only=0x7 depth=8 fmt=1'),
            ('pmu-lbr-depth16', ',lbr-depth=16',
             'only=0xf depth=16 fmt=4'),
            # Each layout in another format too (FROM/TO read the same)
            ('pmu-lbr-depth4-fmt3', ',lbr-depth=4,lbr-fmt=3',
             'only=0x3 depth=4 fmt=3'),
            ('pmu-lbr-depth8-fmt2', ',lbr-depth=8,lbr-fmt=2',
             'only=0x7 depth=8 fmt=2'),
            ('pmu-lbr-depth16-fmt3', ',lbr-depth=16,lbr-fmt=3',
             'only=0xf depth=16 fmt=3'),
            ('pmu-lbr-fmt7', ',lbr-fmt=7', 'only=0x3 depth=32 fmt=7'),
            ('pmu-lbr-fmt4', ',lbr-fmt=4', 'only=0x3 depth=32 fmt=4')]:
        lbr_guest_test(args, name, 'kvm', LBR_CPU + props, append)
    for v in (2, 4):
        lbr_guest_test(args, f'pmu-lbr-freeze-v{v}', 'kvm,vpmu-exact=on',
                       f'{LBR_CPU},pmu-version={v}',
                       f'only=0x10 exact=1 pmuv={v}')
    lbr_guest_test(args, 'pmu-lbr-arch', 'kvm',
                   LBR_CPU + ',arch-lbr=on,pmu-version=4,level=0x1c',
                   'only=0x20 arch=1 pmuv=4')
    lbr_migration_test(args, 'lbr-legacy', LBR_CPU, 'only=0x40')
    lbr_migration_test(args, 'lbr-arch',
                       LBR_CPU + ',arch-lbr=on,pmu-version=4,level=0x1c',
                       'only=0x40 arch=1 pmuv=4')
    lbr_host_test(args, 'host-takes-lbr', LBR_CPU, 'only=0x100')
    lbr_host_test(args, 'host-takes-lbr-arch',
                  LBR_CPU + ',arch-lbr=on,pmu-version=4,level=0x1c',
                  'only=0x100 arch=1 pmuv=4')
    lbr_reset_test(args, 'lbr-legacy', LBR_CPU, 'only=0x80')
    lbr_reset_test(args, 'lbr-arch',
                   LBR_CPU + ',arch-lbr=on,pmu-version=4,level=0x1c',
                   'only=0x80 arch=1 pmuv=4')

    config_error_test(args, 'lbr-without-pmu', 'host,pmu=off,lbr=on',
                      'vPMU: -cpu lbr=... configures the userspace vPMU, '
                      'which pmu=off turns off')
    config_error_test(args, 'lbr-depth-without-lbr',
                      'host,pmu=on,pmu-arch=intel,lbr-depth=16',
                      "vPMU: lbr-depth=16 sets the depth of the userspace "
                      "vPMU's LBR, which lbr=on turns on")
    config_error_test(args, 'lbr-fmt-0', LBR_CPU + ',lbr-fmt=0',
                      'vPMU: lbr-fmt=0 is not implemented')
    config_error_test(args, 'lbr-depth-12', LBR_CPU + ',lbr-depth=12',
                      'vPMU: lbr-depth=12 is not a model-specific LBR '
                      'depth')
    config_error_test(args, 'arch-lbr-pmu-v2',
                      LBR_CPU + ',arch-lbr=on,pmu-version=2,level=0x1c',
                      'vPMU: arch-lbr=on needs pmu-version=4 or later')
    lbr_hardware_test(args)
    with open('/proc/cpuinfo') as f:
        intel = 'GenuineIntel' in f.read()
    if not intel:
        config_error_test(args, 'lbr-hardware-backend-not-intel', LBR_CPU,
                          'vPMU: vpmu-lbr-backend=hardware is not available '
                          "here: the host CPU is not Intel's",
                          accel='kvm,vpmu-lbr-backend=hardware')
    else:
        report('config/lbr-hardware-backend-not-intel', None, 0,
               'NOT TESTED: this host is Intel, where the hardware LBR '
               'backend may be available')


# The AMD PMU's flavours: (name, -cpu, pmu-amd -append).  -cpu host on
# an AMD host gets perfctr-core and perfmon-v2 from the vPMU.
AMD_FLAVOURS = [
    ('v2', 'host,pmu=on', 'core=1 v2=1 n=6'),
    ('v2-3', 'host,pmu=on,pmu-gp-counters=3', 'core=1 v2=1 n=3'),
    ('core', 'host,pmu=on,perfmon-v2=off', 'core=1 v2=0 n=6'),
    ('k7', 'host,pmu=on,perfmon-v2=off,perfctr-core=off',
     'core=0 v2=0 n=4'),
]


def amd_tests(args):
    """
    The AMD PMU that an AMD vendor gets (pmu-arch=auto): pmu-amd in each
    flavour (CPUID, MSRs and aliases, cycles on every counter, the gates,
    overflow and PMI with the LVTPC left unmasked, PerfMonV2 status), no
    vendor warning; migration (and refusals), reset; the settings QEMU
    refuses for it.  RDPMC needs KVM's own PMU: a loud SKIP here.
    """
    with open('/proc/cpuinfo') as f:
        amd_host = 'AuthenticAMD' in f.read()
    if not amd_host:
        report('guest/pmu-amd', None, 0, 'NOT RUN: the AMD PMU tests boot '
               '-cpu host on an AMD host (the vPMU reports its AMD CPUID '
               'bits as supported on AMD hosts only)')
        return
    for name, cpu, append in AMD_FLAVOURS:
        guest_test(args, f'pmu-amd-{name}', 'pmu-amd',
                   ['-cpu', cpu, '-append', f'only=0xf {append}'],
                   expect_stderr=[('guests that pick their PMU driver by '
                                   'vendor', 0)])
    # The README's demo: an AMD guest's PMU counts cycles, and with
    # vpmu-exact=on instructions exactly
    guest_test(args, 'demo-amd', 'demo', ['-cpu', 'host,pmu=on'])
    exact_demo_test(args, 'demo-amd-exact', ['-accel', 'kvm,vpmu-exact=on',
                                             '-cpu', 'host,pmu=on'])
    guest_test(args, 'pmu-amd-exact', 'pmu-amd',
               ['-accel', 'kvm,vpmu-exact=on', '-cpu', 'host,pmu=on',
                '-append', 'only=0x80'])
    cpu = AMD_FLAVOURS[0][1]
    m = Migration(args, 'pmu-amd', ['-append', 'only=0x10'], min_checks=3)
    start = time.monotonic()
    try:
        state = m.save('amd-src', cpu=cpu)
        with open(state, 'rb') as f:
            data = f.read()
        m.expect(b'cpu/vpmu/arch' in data and
                 b'cpu/msr_architectural_pmu' not in data,
                 'the stream has cpu/vpmu/arch and no Intel PMU subsection')
        m.resume('amd-dst', state, cpu=cpu)
        # cpu/vpmu's configuration differs first; cpu/vpmu/arch catches
        # a stream whose configuration reads the same (below)
        m.refuse('amd-to-intel', state, "the migration stream's PMU has "
                 "pmu-gp-counters=6, this QEMU's has 4",
                 cpu=cpu + ',pmu-arch=intel')
        m.refuse('amd-to-core', state, "the migration stream's AMD PMU has "
                 "perfmon-v2=on, this QEMU's has perfmon-v2=off",
                 cpu=cpu + ',perfmon-v2=off')
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish('amd', start)
    # An Intel PMU's stream into an AMD vCPU, with a configuration that
    # reads the same in cpu/vpmu: 2, 6 GP, no fixed, 48 bits, no FW_WRITE
    m = Migration(args, 'pmu-amd', ['-append', 'only=0x40'], min_checks=1)
    start = time.monotonic()
    try:
        state = m.save('intel-src', cpu='host,pmu=on,pmu-arch=intel')
        m.refuse('intel-to-amd', state, "the migration stream's PMU has "
                 "pmu-gp-counters=4, this QEMU's has 6", cpu=cpu)
        state = m.save('intel-like-amd-src', cpu='host,pmu=on,'
                       'pmu-arch=intel,pmu-version=2,pmu-gp-counters=6,'
                       'pmu-fixed-counters=0,pmu-full-width-write=off')
        m.refuse('intel-like-amd', state, "the migration stream's PMU is "
                 "Intel's, this vCPU's AMD's", cpu=cpu)
    except Exception as e:                      # noqa: BLE001
        m.expect(False, f'harness error: {e!r}')
    m.finish('intel-into-amd', start)

    g = PacedGuest(args, 'pmu-amd', ['-cpu', cpu, '-append', 'only=0x20'],
                   reboot=True)
    status = run_reset_guest(g)
    g.finish('reset/amd', status, min_checks=2, max_checks=2)

    report('guest/pmu-amd RDPMC', None, 0,
           'NOT TESTED: RDPMC of an AMD PMU needs KVM\'s own PMU '
           '(kvm.enable_pmu=Y on an SVM host); here a guest RDPMC raises '
           '#GP' if kvm_has_own_pmu() is False else
           'NOT TESTED: no guest test of AMD RDPMC coherence yet')
    config_error_test(args, 'amd-pmu-version', cpu + ',pmu-version=4',
                      'has an AMD PMU, to which pmu-version')
    config_error_test(args, 'amd-fixed-counters',
                      cpu + ',pmu-fixed-counters=3',
                      'has an AMD PMU, to which pmu-fixed-counters')
    config_error_test(args, 'amd-lbr', cpu + ',lbr=on',
                      'has an AMD PMU, to which lbr, lbr-depth and arch-lbr')
    config_error_test(args, 'amd-v2-without-core',
                      cpu + ',perfctr-core=off',
                      'vPMU: perfmon-v2 needs perfctr-core')
    config_error_test(args, 'amd-gp-counters-7', cpu + ',pmu-gp-counters=7',
                      'pmu-gp-counters')
    config_error_test(args, 'pmu-arch-bad', 'host,pmu=on,pmu-arch=arm',
                      'vPMU: pmu-arch=arm: use auto')
    config_error_test(args, 'pmu-arch-with-pmu-off',
                      'host,pmu=off,pmu-arch=amd',
                      'vPMU: -cpu pmu-arch=... configures the userspace '
                      'vPMU, which pmu=off turns off')


# Guest tests that --only can pick, to run one alone while working on it.
SELECTABLE = {
    'pmi': lambda args: guest_test(args, 'pmu-pmi', 'pmu-pmi',
                                   ['-cpu', 'host,pmu=on,pmu-arch=intel']),
    'host': host_test,
    'release-ms': release_ms_test,
    'fd-reserve': fd_reserve_test,
    'migration': migration_tests,
    'reset': reset_test,
    'smp': smp_test,
    'hotplug': hotplug_test,
    'apic-id': high_apic_id_test,
    'libvirt': libvirt_test,
    'soak': soak_test,
    'config': config_tests,
    'conformance': conformance_tests,
    'checkpatch': checkpatch_test,
    'exact': exact_tests,
    'lbr': lbr_tests,
    'amd': amd_tests,
    # Every section, with no SKIP for ring 3 (which this host's KVM does
    # not step): fails here, for hosts that step user mode
    'exact-full': lambda args: guest_test(args, 'pmu-exact-full',
                                          'pmu-exact', EXACT),
}


def main():
    import signal
    # A timeout's SIGTERM unwinds like an error: every test stops its QEMU.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--qemu-build', required=True)
    ap.add_argument('--guest-build', required=True)
    ap.add_argument('--only', action='append', metavar='NAME',
                    choices=sorted(SELECTABLE),
                    help='run only this guest test (repeatable): '
                    + ', '.join(sorted(SELECTABLE)))
    args = ap.parse_args()

    if args.only:
        problem = run_guest_mod.kvm_problem()
        for name in args.only:
            if problem:
                report(name, False, 0, f'KVM is required and {problem}')
            else:
                SELECTABLE[name](args)
        print(f'{results["passed"]} passed, {results["failed"]} failed')
        return 1 if results['failed'] else 0

    unit_test(args.qemu_build, 'test-vpmu-model')
    unit_test(args.qemu_build, 'test-vpmu-exact')
    unit_test(args.qemu_build, 'test-vpmu-insn')
    unit_test(args.qemu_build, 'test-vpmu-retire')
    unit_test(args.qemu_build, 'test-vpmu-events')
    unit_test(args.qemu_build, 'test-vpmu-lbr-hw')
    unit_test(args.qemu_build, 'test-vpmu-amd')
    unit_test(args.qemu_build, 'test-vpmu-lbr')
    unit_test(args.qemu_build, 'test-vpmu-perf')
    checkpatch_test(args)
    fuzz_test(10)

    problem = run_guest_mod.kvm_problem()
    if problem:
        # Not a skip: the guest suite is the point of this project.
        report('guest suite', False, 0,
               f'KVM is required and {problem}; run on a host with '
               '/dev/kvm (read-write)')
    else:
        host_pmu = ['-cpu', 'host,pmu=on,pmu-arch=intel']
        if kvm_has_own_pmu() is False:
            guest_test(args, 'pmu-basic', 'pmu-basic',
                       host_pmu + ['-append', 'rdpmc-gp=1'],
                       expect_stderr=[('a guest RDPMC raises #GP', 1)])
        else:
            # KVM answers RDPMC from its own, stale, PMC state (issue 5).
            report('guest/pmu-basic RDPMC check', None, 0,
                   'NOT TESTED: KVM has its own PMU on this host')
            guest_test(args, 'pmu-basic', 'pmu-basic', host_pmu)
        guest_test(args, 'pmu-basic-smp2', 'pmu-basic',
                   ['-smp', '2'] + host_pmu + ['-append', 'threads=2'],
                   expect_stderr=[('vPMU: no usable host PMU', 1)]
                   if not os.path.exists('/sys/bus/event_source/devices/cpu')
                   else [])
        guest_test(args, 'pmu-off', 'pmu-basic',
                   ['-cpu', 'host,pmu=off', '-append', 'expect-version=0'])
        if kvm_has_own_pmu() is False:
            guest_test(args, 'vpmu-kvm-selects-kvm', 'pmu-basic',
                       ['-accel', 'kvm,vpmu=kvm', '-cpu', 'host,pmu=on',
                        '-append', 'expect-version=0'])
        else:
            report('guest/vpmu-kvm-selects-kvm', None, 0,
                   'NOT TESTED: KVM has its own PMU on this host, so the '
                   'version it reports is not known in advance')
        guest_test(args, 'demo', 'demo', host_pmu)
        unit_test(args.qemu_build, 'vpmu-test', kind='qtest',
                  env={'QTEST_QEMU_BINARY': os.path.abspath(args.qemu),
                       'VPMU_GUEST_DIR': os.path.abspath(os.path.join(
                           args.guest_build, 'tests', 'guest'))})
        guest_test(args, 'pmu-pmi', 'pmu-pmi', host_pmu)
        guest_test(args, 'pmu-pmi-v4', 'pmu-pmi',
                   ['-cpu', 'host,pmu=on,pmu-arch=intel,pmu-version=4'])
        if kvm_has_own_pmu():
            guest_test(args, 'pmu-rdpmc', 'pmu-rdpmc', host_pmu)
        else:
            guest_test(args, 'pmu-rdpmc-gp', 'pmu-rdpmc',
                       host_pmu + ['-append', 'expect-gp=1'])
            report('guest/pmu-rdpmc (RDPMC coherence)', None, 0,
                   'NOT TESTED: KVM has no PMU of its own here '
                   '(kvm.enable_pmu=N), so RDPMC raises #GP; run make check '
                   'on a host whose KVM has a PMU')
        conformance_tests(args)
        host_test(args)
        release_ms_test(args)
        fd_reserve_test(args)
        migration_tests(args)
        reset_test(args)
        smp_test(args)
        hotplug_test(args)
        high_apic_id_test(args)
        soak_test(args)
        exact_tests(args)
        lbr_tests(args)
        amd_tests(args)
        libvirt_test(args)
        config_tests(args)

    print(f'{results["passed"]} passed, {results["failed"]} failed'
          + (f', {results["skipped"]} skipped' if results['skipped'] else ''))
    return 1 if results['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
