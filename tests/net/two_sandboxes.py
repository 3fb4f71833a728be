#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Two proxied sandboxes of ONE context (one proxy thread), through the
Python binding: while sandbox A holds 1,000 connections to the proxy and
20 more to an upstream that never answers, sandbox B's requests are served
at once; once both are destroyed, this process holds no more descriptors
or threads than before, and every upstream connection A had is closed.

Run by e2e_clients.py (case fault_other_sandbox) with PYTHONPATH at
bindings/python and PETRI_LIBRARY at libpetri.so:

    two_sandboxes.py '{"fix": DIR, "allow": [...], "http_port": N}'

Prints one JSON object (what happened; e2e_clients.py judges it).
"""
import json
import os
import socket
import sys
import threading
import time

import petri

HOLD = 1000  # A's connections to the proxy (the default limit is 256)
STUCK = 20  # A's requests to the upstream that never answers


def fds():
    return len(os.listdir("/proc/self/fd"))


def threads():
    return len(os.listdir("/proc/self/task"))


class Silent:
    """An upstream that accepts and never answers, counting what it holds
    and how many of those the proxy has closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.lock = threading.Lock()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            c, _ = self.sock.accept()
            with self.lock:
                self.held.append(c)

    def count(self):
        with self.lock:
            return len(self.held)

    def closed(self):
        """How many the far side closed; then close them all here (they
        are this process's descriptors, not the proxy's)."""
        n = 0
        with self.lock:
            for c in self.held:
                c.setblocking(False)
                try:
                    while True:
                        d = c.recv(65536)
                        if not d:
                            n += 1
                            break
                except BlockingIOError:
                    pass
                except OSError:
                    n += 1
                c.close()
        return n


def probe(sb, ops, timeout=60, on_output=None):
    r = sb.run(["/usr/bin/python3", "/e2e/probe.py", json.dumps(ops)], timeout=timeout,
               nofile=4096, on_output=on_output)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "probe: exit %s, stdout %r, stderr %r" % (
            r.exit_code, r.stdout[-300:], r.stderr[-300:])}


def main():
    cfg = json.loads(sys.argv[1])
    silent = Silent()
    h = cfg["http_port"]
    allow = cfg["allow"] + ["stuck.test:%d=127.0.0.1" % silent.port]
    kw = dict(net="proxy", allow=allow, binds=["%s:/e2e" % cfg["fix"]], pids=64)
    get = "GET /hello.txt HTTP/1.1\r\nHost: files.test:%d\r\nConnection: close\r\n\r\n" % h
    fetch = [{"op": "http", "host": "127.0.0.1", "port": 3128,
              "request": get.replace("/hello.txt", "http://files.test:%d/hello.txt" % h, 1)},
             {"op": "http", "host": "files.test", "port": h, "request": get}]
    out = {}

    # The context's proxy thread runs from the first proxied sandbox on:
    # the baseline is taken after one has come and gone.
    with petri.Sandbox(**kw) as warm:
        out["warm"] = probe(warm, fetch)
    base_fds, base_threads = fds(), threads()

    a = petri.Sandbox(**kw)
    b = petri.Sandbox(**kw)
    stuck_get = "GET / HTTP/1.1\r\nHost: stuck.test:%d\r\n\r\n" % silent.port
    a_ops = [{"op": "hold", "host": "stuck.test", "port": silent.port, "n": STUCK,
              "send": stuck_get},
             {"op": "hold", "host": "127.0.0.1", "port": 3128, "n": HOLD},
             {"op": "say", "text": "loaded"},
             {"op": "sleep", "seconds": 4},
             {"op": "release"}]
    a_res = {}
    loaded = threading.Event()

    def a_output(stream, data):
        if b"loaded" in bytes(data):
            loaded.set()

    ta = threading.Thread(target=lambda: a_res.update(r=probe(a, a_ops, on_output=a_output)))
    ta.start()
    # B starts once A holds all its connections.
    out["a_loaded"] = loaded.wait(20)
    out["stuck_reached"] = silent.count()
    t0 = time.monotonic()
    out["b_during"] = probe(b, fetch * 5)
    out["b_during_wall_ms"] = int((time.monotonic() - t0) * 1000)
    out["a_still_running"] = ta.is_alive()
    ta.join()
    out["a"] = a_res.get("r")
    a.close()
    out["b_after"] = probe(b, fetch)
    b.close()
    time.sleep(0.5)
    out["stuck_closed"] = silent.closed()
    out["stuck_total"] = silent.count()
    out["fds_before"], out["fds_after"] = base_fds, fds()
    out["threads_before"], out["threads_after"] = base_threads, threads()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
