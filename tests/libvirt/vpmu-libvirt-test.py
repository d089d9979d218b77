#!/usr/bin/env python3
#
# qemu-vpmu: run our emulator under a real libvirtd (make check-libvirt)
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Starts a private, throwaway libvirtd from Debian's packages, defines the
# domain of docs/system/i386/vpmu-libvirt.xml with this tree's emulator and
# guest, starts it with virsh and talks to its QMP monitor through
# `virsh qemu-monitor-command`: query-vpmu must answer with one entry per
# vCPU, and vpmu-reclaim and vpmu-restore must succeed.  A second domain
# runs through scripts/qemu-vpmu-libvirt.sh, which is how accelerator
# properties (-accel kvm,vpmu-...) reach QEMU under libvirt.
#
# The daemon is private: it runs in its own mount namespace (unshare -m)
# where /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
# and /var/log/libvirt are bind mounts of directories in a temporary
# directory, so it neither sees nor disturbs a system libvirtd, and virsh
# reaches it through its socket in that directory.  libvirtd resolves the
# user libvirt-qemu at startup even when qemu.conf says root; Debian's
# libvirt-daemon-system creates it, and we add it to private copies of
# /etc/passwd and /etc/group, bind-mounted in the namespace only.  QEMU runs
# as root, without a security driver, cgroups or a per-domain /dev.
#
# Needs root, /dev/kvm and libvirt (scripts/install-libvirt-deps.sh).  When
# any of them is missing the test FAILs loudly; it never skips.
#
# The last line is "N passed, N failed".

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_XML = os.path.join(ROOT, 'docs', 'system', 'i386', 'vpmu-libvirt.xml')
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
DOMAIN = 'vpmu-libvirt-test'

# Host directories that libvirtd (privileged) uses, and their stand-ins.
BINDS = [('etc', '/etc/libvirt'), ('run', '/run/libvirt'),
         ('lib', '/var/lib/libvirt'), ('cache', '/var/cache/libvirt'),
         ('log', '/var/log/libvirt')]

LIBVIRTD_CONF = '''\
# qemu-vpmu test: a private libvirtd, reached only through its socket
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "{level}:file:/var/log/libvirt/libvirtd.log"
'''

QEMU_CONF = '''\
# qemu-vpmu test: QEMU as root, nothing confined, no helpers
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
'''

results = {'passed': 0, 'failed': 0}


def report(name, ok, secs, detail=''):
    results['passed' if ok else 'failed'] += 1
    print(f'{"PASS" if ok else "FAIL"} libvirt/{name} ({secs:.1f}s)',
          flush=True)
    if not ok and detail:
        for line in detail.rstrip().splitlines():
            print(f'    | {line}')


class Failure(Exception):
    pass


def tail(path, lines=15):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError as e:
        return f'({path}: {e.strerror})\n'


def prerequisites(args):
    """Return why this cannot run here, or None."""
    if os.geteuid() != 0:
        return 'this test runs libvirtd as root: run it as root'
    try:
        os.close(os.open('/dev/kvm', os.O_RDWR))
    except OSError as e:
        return f'this needs KVM and cannot open /dev/kvm: {e.strerror}'
    missing = [p for p in ('libvirtd', 'virsh', 'unshare')
               if not shutil.which(p)]
    if missing:
        return f'{", ".join(missing)} not found: libvirt is not ' \
            'installed; run scripts/install-libvirt-deps.sh (as root)'
    for f in (args.qemu, args.guest, args.xml):
        if not os.path.exists(f):
            return f'{f} does not exist (build it first: make)'
    return None


class Daemon:
    """A private libvirtd in its own mount namespace."""

    def __init__(self, tmp, verbose):
        self.tmp = tmp
        self.sock = os.path.join(tmp, 'run', 'libvirt-sock')
        self.uri = f'qemu+unix:///system?socket={self.sock}'
        self.log = os.path.join(tmp, 'log', 'libvirtd.log')
        self.out = os.path.join(tmp, 'libvirtd.out')
        self.verbose = verbose
        self.proc = None
        self.created = []

    def start(self, timeout=30):
        for sub, _ in BINDS:
            os.makedirs(os.path.join(self.tmp, sub), exist_ok=True)
        etc = os.path.join(self.tmp, 'etc')
        with open(os.path.join(etc, 'libvirtd.conf'), 'w') as f:
            f.write(LIBVIRTD_CONF.format(level=1 if self.verbose else 3))
        with open(os.path.join(etc, 'qemu.conf'), 'w') as f:
            f.write(QEMU_CONF)
        # libvirtd looks up QEMU's compiled-in default user and group
        # (libvirt-qemu) before it reads qemu.conf.
        for name, line in (('passwd', 'libvirt-qemu:x:64055:64055:qemu-vpmu '
                            'test:/var/lib/libvirt:/usr/sbin/nologin\n'),
                           ('group', 'libvirt-qemu:x:64055:\n')):
            shutil.copy(f'/etc/{name}', os.path.join(self.tmp, name))
            with open(f'/etc/{name}') as f:
                known = any(l.startswith('libvirt-qemu:') for l in f)
            if not known:
                with open(os.path.join(self.tmp, name), 'a') as f:
                    f.write(line)
        # Bind mounts need their mount points on the host; make the missing
        # ones (empty directories, removed again at the end).
        for _, path in BINDS:
            if not os.path.isdir(path):
                os.makedirs(path)
                self.created.append(path)
        mounts = [f'mount --bind {os.path.join(self.tmp, sub)} {path}'
                  for sub, path in BINDS]
        mounts += [f'mount --bind {os.path.join(self.tmp, n)} /etc/{n}'
                   for n in ('passwd', 'group')]
        script = ' && '.join(mounts) + ' && exec libvirtd'
        with open(self.out, 'w') as out:
            self.proc = subprocess.Popen(
                ['unshare', '--mount', '--propagation', 'private',
                 'sh', '-c', script],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f'libvirtd exited with {self.proc.returncode}'
                              f'\n{tail(self.out)}{tail(self.log)}')
            if os.path.exists(self.sock):
                try:
                    self.virsh('uri')
                    return
                except Failure:
                    pass
            time.sleep(0.1)
        raise Failure(f'libvirtd did not answer within {timeout}s\n'
                      f'{tail(self.out)}{tail(self.log)}')

    def virsh(self, *argv, timeout=60):
        cmd = ['virsh', '-q', '-c', self.uri] + list(argv)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f'{" ".join(cmd)}: no answer in {timeout}s')
        if p.returncode != 0:
            raise Failure(f'{" ".join(cmd)} failed ({p.returncode}):\n'
                          f'{p.stderr.decode(errors="replace")}')
        return p.stdout.decode(errors='replace')

    def qmp(self, dom, command, arguments=None):
        """One QMP command through virsh; return the parsed reply."""
        msg = {'execute': command}
        if arguments is not None:
            msg['arguments'] = arguments
        out = self.virsh('qemu-monitor-command', dom, json.dumps(msg))
        try:
            return json.loads(out)
        except ValueError:
            raise Failure(f'{command}: virsh answered no JSON:\n{out}')

    def stop(self):
        if not self.proc:
            return
        try:
            for dom in self.virsh('list', '--name').split():
                self.virsh('destroy', dom)
        except Failure as e:
            print(f'    (cleanup: {e})')
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # A QEMU that libvirtd left behind (it daemonizes its guests).
        qdir = os.path.join(self.tmp, 'run', 'qemu')
        for name in os.listdir(qdir) if os.path.isdir(qdir) else []:
            if name.endswith('.pid'):
                try:
                    with open(os.path.join(qdir, name)) as f:
                        pid = int(f.read().strip())
                    os.kill(pid, signal.SIGKILL)
                    print(f'    (cleanup: killed QEMU {pid} of {name})')
                except (OSError, ValueError):
                    pass
        for path in reversed(self.created):
            try:
                os.rmdir(path)
            except OSError:
                pass


def domain_xml(args, tmp, serial):
    """The documented domain, with this tree's emulator and guest."""
    ET.register_namespace('qemu', QEMU_NS)
    tree = ET.parse(args.xml)
    dom = tree.getroot()
    dom.find('name').text = DOMAIN
    dom.find('vcpu').text = str(args.vcpus)
    dom.find('os/kernel').text = os.path.abspath(args.guest)
    dom.find('devices/emulator').text = os.path.abspath(args.qemu)
    dom.find("devices/serial[@type='file']/source").set('path', serial)
    globals_ = {}
    argv = [a.get('value') for a in
            dom.findall(f'{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg')]
    for flag, value in zip(argv, argv[1:]):
        if flag == '-global' and value.startswith('host-x86_64-cpu.'):
            prop, _, val = value[len('host-x86_64-cpu.'):].partition('=')
            globals_[prop] = val
    path = os.path.join(tmp, 'domain.xml')
    tree.write(path)
    return path, globals_


def accel_wrapper_xml(args, tmp, name, accel):
    """The domain run through the wrapper, with QEMU_VPMU_ACCEL=@accel."""
    tree = ET.parse(args.xml)
    dom = tree.getroot()
    dom.find('name').text = name
    dom.find('vcpu').text = str(args.vcpus)
    dom.find('os/kernel').text = os.path.abspath(args.guest)
    # No serial: nothing is read from this guest.
    devices = dom.find('devices')
    for serial in devices.findall('serial'):
        devices.remove(serial)
    dom.find('devices/emulator').text = \
        os.path.join(ROOT, 'scripts', 'qemu-vpmu-libvirt.sh')
    cmdline = dom.find(f'{{{QEMU_NS}}}commandline')
    # vpmu=kvm refuses the userspace vPMU's -cpu properties: drop their
    # -global pairs, which configure what this domain does not have.
    qargs = cmdline.findall(f'{{{QEMU_NS}}}arg')
    for flag, value in zip(qargs, qargs[1:]):
        if flag.get('value') == '-global' and \
                '.pmu-' in (value.get('value') or ''):
            cmdline.remove(flag)
            cmdline.remove(value)
    for name, value in (('QEMU_VPMU_BINARY', os.path.abspath(args.qemu)),
                        ('QEMU_VPMU_ACCEL', accel)):
        ET.SubElement(cmdline, f'{{{QEMU_NS}}}env',
                      {'name': name, 'value': value})
    path = os.path.join(tmp, 'domain-accel.xml')
    tree.write(path)
    return path


def wait_serial(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors='replace') as f:
                out = f.read().replace('\r\n', '\n')
            if text in out:
                return out
        except OSError:
            pass
        time.sleep(0.2)
    raise Failure(f'the guest did not print "{text}" within {timeout}s; '
                  f'serial log:\n{tail(path)}')


def qmp_ok(reply, what):
    if 'return' not in reply:
        err = reply.get('error', {})
        hint = ''
        if err.get('class') == 'CommandNotFound':
            hint = ' (this emulator does not have the command)'
        raise Failure(f'{what}: {err.get("class")}: {err.get("desc")}{hint}'
                      f'\n{json.dumps(reply)}')
    return reply['return']


def run(args, tmp):
    daemon = Daemon(tmp, args.verbose)
    serial = os.path.join(tmp, 'serial.log')
    qemu_log = os.path.join(tmp, 'log', 'qemu', DOMAIN + '.log')

    def step(name, fn):
        start = time.monotonic()
        try:
            detail = fn()
        except Failure as e:
            report(name, False, time.monotonic() - start, str(e))
            return False
        report(name + (f' ({detail})' if detail else ''), True,
               time.monotonic() - start)
        return True

    try:
        def start_daemon():
            daemon.start()
            out = subprocess.run(['libvirtd', '--version'],
                                 stdout=subprocess.PIPE).stdout
            return out.decode(errors='replace').strip()
        if not step('libvirtd-starts', start_daemon):
            return

        xml, cpu_props = domain_xml(args, tmp, serial)

        def define_start():
            daemon.virsh('define', xml)
            try:
                daemon.virsh('start', DOMAIN)
            except Failure as e:
                raise Failure(f'{e}\nQEMU log:\n{tail(qemu_log)}')
            state = daemon.virsh('domstate', DOMAIN).strip()
            if state != 'running':
                raise Failure(f'domain state is {state}\n{tail(qemu_log)}')
        if not step('domain-starts', define_start):
            return

        def guest_counts():
            out = wait_serial(serial, 'beat 1 ', args.timeout)
            want = []
            if 'pmu-version' in cpu_props:
                want.append(f'PMU version {cpu_props["pmu-version"]},')
            if 'pmu-gp-counters' in cpu_props:
                want.append(f' {cpu_props["pmu-gp-counters"]} GP counters')
            line = next((l for l in out.splitlines()
                         if l.startswith('CPUID.0AH')), '')
            for w in want:
                if w not in line:
                    raise Failure(f'-global from <qemu:commandline> did not '
                                  f'reach the guest: want "{w.strip()}" '
                                  f'in:\n{out}')
            return 'CPUID.0AH as <qemu:commandline> set it'
        step('guest-runs-with-passthrough-properties', guest_counts)

        def monitor():
            cpus = qmp_ok(daemon.qmp(DOMAIN, 'query-cpus-fast'),
                          'query-cpus-fast')
            if len(cpus) != args.vcpus:
                raise Failure(f'query-cpus-fast: {len(cpus)} vCPUs, '
                              f'want {args.vcpus}')
            return 'query-cpus-fast'
        step('qemu-monitor-command', monitor)

        def query_vpmu():
            ret = qmp_ok(daemon.qmp(DOMAIN, 'query-vpmu'), 'query-vpmu')
            if not isinstance(ret, list) or len(ret) != args.vcpus:
                raise Failure(f'query-vpmu: want a list of {args.vcpus} '
                              f'entries, one per vCPU:\n{json.dumps(ret)}')
            idx = sorted(e.get('cpu-index', -1) for e in ret)
            if idx != list(range(args.vcpus)) or \
                    not all('counters' in e for e in ret):
                raise Failure('query-vpmu: each entry needs "cpu-index" '
                              f'(0..{args.vcpus - 1}) and "counters":\n'
                              f'{json.dumps(ret, indent=1)}')
            # The guest counts cycles on PMC0 of vCPU 0.
            e = next(e for e in ret if e['cpu-index'] == 0)
            pmc0 = [c for c in e['counters']
                    if c.get('kind') == 'gp' and c.get('index') == 0]
            if not pmc0 or not pmc0[0].get('enabled', True) or \
                    pmc0[0].get('count', 1) == 0:
                raise Failure('query-vpmu: vCPU 0 should show PMC0 '
                              f'enabled and counting:\n{json.dumps(e)}')
            return f'{len(ret)} vCPUs'
        step('query-vpmu', query_vpmu)

        def reclaimed():
            ret = qmp_ok(daemon.qmp(DOMAIN, 'query-vpmu'), 'query-vpmu')
            return {e.get('cpu-index'): e.get('reclaimed') for e in ret}

        def reclaim_restore():
            for cmd, arguments, want in (
                    ('vpmu-reclaim', {'cpu-index': 0}, {0: True, 1: False}),
                    ('vpmu-restore', {'cpu-index': 0}, {0: False, 1: False}),
                    ('vpmu-reclaim', None, {0: True, 1: True}),
                    ('vpmu-restore', None, {0: False, 1: False})):
                what = cmd + (f' {json.dumps(arguments)}' if arguments
                              else '')
                qmp_ok(daemon.qmp(DOMAIN, cmd, arguments), what)
                got = reclaimed()
                want = {i: want.get(i, want[1]) for i in got}
                if got != want:
                    raise Failure(f'after {what}, query-vpmu says '
                                  f'"reclaimed" {got}, want {want}')
            state = daemon.virsh('domstate', DOMAIN).strip()
            if state != 'running':
                raise Failure(f'after reclaim/restore the domain is {state}'
                              f'\n{tail(qemu_log)}')
            return 'one vCPU, then all'
        step('vpmu-reclaim-restore', reclaim_restore)

        def destroy():
            daemon.virsh('destroy', DOMAIN)
            daemon.virsh('undefine', DOMAIN)
        step('domain-destroyed', destroy)

        # Accelerator properties go through scripts/qemu-vpmu-libvirt.sh.
        # vpmu=kvm, on any host, leaves no vCPU with a userspace vPMU.
        def accel_wrapper():
            name = DOMAIN + '-accel'
            wxml = accel_wrapper_xml(args, tmp, name, 'vpmu=kvm')
            log = os.path.join(tmp, 'log', 'qemu', name + '.log')
            try:
                daemon.virsh('create', wxml)
            except Failure as e:
                raise Failure(f'{e}\nQEMU log:\n{tail(log)}')
            ret = qmp_ok(daemon.qmp(name, 'query-vpmu'), 'query-vpmu')
            daemon.virsh('destroy', name)
            if ret != []:
                raise Failure('QEMU_VPMU_ACCEL=vpmu=kvm did not reach '
                              '-accel: query-vpmu still lists vCPUs:\n'
                              f'{json.dumps(ret)}\nQEMU log:\n{tail(log)}')
            return 'QEMU_VPMU_ACCEL=vpmu=kvm: query-vpmu lists no vCPU'
        step('accel-properties-through-wrapper', accel_wrapper)
    finally:
        daemon.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--guest', required=True,
                    help='a guest that keeps running (idle.elf)')
    ap.add_argument('--xml', default=DEFAULT_XML)
    ap.add_argument('--vcpus', type=int, default=2)
    ap.add_argument('--timeout', type=int, default=60,
                    help='seconds for the guest to start counting')
    ap.add_argument('--keep', action='store_true',
                    help='keep the temporary directory (logs, XML)')
    ap.add_argument('--verbose', action='store_true',
                    help='libvirtd debug log')
    args = ap.parse_args()

    # Stopped from outside (make check's timeout): clean up as on failure,
    # or the guest's QEMU outlives us, burning a core.
    signal.signal(signal.SIGTERM,
                  lambda signo, frame: sys.exit(f'killed by signal {signo}'))
    # libvirtd is in /usr/sbin, which a non-login PATH may lack.
    os.environ['PATH'] = os.environ.get('PATH', '/usr/bin:/bin') + \
        ':/usr/sbin:/sbin'
    start = time.monotonic()
    problem = prerequisites(args)
    if problem:
        report('prerequisites', False, 0.0, problem)
    else:
        # Short: socket paths are limited to 107 bytes.
        tmp = tempfile.mkdtemp(prefix='vpmu-libvirt-', dir='/tmp')
        try:
            run(args, tmp)
        finally:
            if args.keep or results['failed']:
                print(f'    (logs kept in {tmp})')
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print(f'{results["passed"]} passed, {results["failed"]} failed '
          f'({time.monotonic() - start:.1f}s)')
    return 1 if results['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
