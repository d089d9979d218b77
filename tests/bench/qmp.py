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
        self.file = self.sock.makefile('rw')
        self.events = []
        json.loads(self.file.readline())        # greeting
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.file.write(json.dumps(msg) + '\n')
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if 'event' in reply:
                self.events.append(reply)
                continue
            if 'error' in reply:
                raise RuntimeError(f'{name}: {reply["error"]["desc"]}')
            return reply['return']

    def close(self):
        self.sock.close()
