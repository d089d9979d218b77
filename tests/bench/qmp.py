#
# qemu-vpmu: a minimal QMP client for our test and benchmark scripts
#
# Copyright (c) 2026 The qemu-vpmu authors
# SPDX-License-Identifier: GPL-2.0-or-later

import json
import socket
import time


class QMP:
    """Synchronous QMP over a unix socket; events are kept in .events."""

    def __init__(self, path, timeout=30, io_timeout=None):
        """
        Connect within @timeout seconds; with @io_timeout, a greeting or
        reply that takes longer raises socket.timeout (an OSError).
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(io_timeout)
        # Binary, read-only: a text-mode 'rw' file drops what it has read
        # ahead of the current line at the next write (TextIOWrapper.write
        # resets its decoder), which loses an event queued behind a reply.
        self.file = self.sock.makefile('rb')
        self.events = []
        self._read()                            # greeting
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.sendall((json.dumps(msg) + '\n').encode())
        while True:
            reply = self._read()
            if 'event' in reply:
                self.events.append(reply)
                continue
            if 'error' in reply:
                raise RuntimeError(f'{name}: {reply["error"]["desc"]}')
            return reply['return']

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError('QMP: QEMU closed the connection')
        return json.loads(line)

    def close(self):
        self.sock.close()
