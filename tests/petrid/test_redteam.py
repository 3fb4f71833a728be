# SPDX-License-Identifier: Apache-2.0
"""Red-team tests of petrid: each one is an attack found to work once (a
crash, unbounded memory, a response that is not JSON, an ambiguous
request), kept so that it stays fixed.  Standard library only, on the
conftest fixtures."""
import json
import os
import socket
import threading
import time

import pytest


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raw_request(d, data, timeout=5):
    """Send @data as it is and read until the server closes (or @timeout)."""
    s = socket.create_connection((d.host, d.port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    finally:
        s.close()
    return out


def create(d, tenant=None, **fields):
    r = d.request("POST", "/v1/sandboxes", dict({"language": "sh"}, **fields), tenant=tenant)
    assert r.status == 201, r
    return r.body["id"]


def test_capture_limit_is_bounded(petrid):
    """stdout_limit / stderr_limit chose how much output petrid holds in
    memory: with "1G" a tenant's 400 MB of output grew petrid to 2.9 GB
    (the capture, then its JSON: a NUL is 6 bytes there).  Beyond 4 MiB
    they are refused."""
    d = petrid()
    sid = create(d)
    for field in ("stdout_limit", "stderr_limit"):
        for value in ("1G", 4 * 2**20 + 1, "5M"):
            r = d.request("POST", f"/v1/sandboxes/{sid}/exec",
                          {"argv": ["true"], field: value})
            assert r.status == 400, (field, value, r)
            assert r.body["error"]["code"] == "invalid_argument"
            assert field in r.body["error"]["message"]
        r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"], field: "4M"})
        assert r.status == 200, r
    # At the largest capture, 64 MB of NULs (the costliest bytes to escape)
    # cost petrid well under 64 MB.
    base = rss_kb(d.pid)
    peak = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(d.pid))
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    try:
        r = d.request("POST", f"/v1/sandboxes/{sid}/exec",
                      {"argv": ["sh", "-c", "head -c 64000000 /dev/zero"],
                       "stdout_limit": "4M", "output_kill": "1G", "timeout": 60})
    finally:
        done.set()
        t.join()
    assert r.status == 200, r
    assert r.body["stdout_truncated"] is True
    assert r.body["stdout_total_bytes"] == 64000000
    assert len(r.body["stdout"]) == 4 * 2**20
    assert peak[0] - base < 64 * 1024, "petrid grew by %d kB" % (peak[0] - base)
