# SPDX-License-Identifier: Apache-2.0
"""Bounded time, connections and threads: slowloris, slow bodies,
connection limits, many requests."""
import os
import socket
import time

from conftest import wait_for


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_slowloris_holds_no_thread(petrid):
    d = petrid(request_timeout=2)
    n0 = threads(d.pid)
    socks = []
    for _ in range(100):
        s = socket.create_connection((d.host, d.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(s)
    t0 = time.monotonic()
    r = d.request("GET", "/healthz", token="")
    assert r.status == 200 and time.monotonic() - t0 < 1
    assert threads(d.pid) == n0
    # idle past request_timeout: closed by petrid
    time.sleep(3.5)
    closed = 0
    for s in socks:
        s.settimeout(2)
        try:
            closed += s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            closed += 1
        s.close()
    assert closed == 100


def test_slow_body_is_cut_at_request_timeout(petrid):
    d = petrid(request_timeout=2)
    s = socket.create_connection((d.host, d.port))
    s.sendall(b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + d.tokens["acme"].encode()
              + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    t0 = time.monotonic()
    s.settimeout(0.5)
    closed = False
    while time.monotonic() - t0 < 8:
        try:
            s.sendall(b" ")
            if s.recv(4096) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    assert closed and time.monotonic() - t0 < 4.5
    assert d.request("GET", "/v1/sandboxes").body == {"sandboxes": []}


def test_connection_limit(petrid):
    d = petrid(max_connections=10)
    # The fixture's /healthz connection counts until petrid has seen it
    # close: give it that moment, so that the 10 below are the 10.
    time.sleep(0.3)
    socks = [socket.create_connection((d.host, d.port)) for _ in range(10)]
    time.sleep(0.3)
    s = socket.create_connection((d.host, d.port))
    s.settimeout(3)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        got = b""
    assert got == b""
    for x in socks:
        x.close()

    def served():
        try:
            return d.request("GET", "/healthz", token="").status == 200
        except OSError:  # refused at accept until petrid has seen the 10 close
            return False

    assert wait_for(served, 5)


def test_many_requests_no_growth(petrid):
    d = petrid()
    sid = d.request("POST", "/v1/sandboxes", {"language": "sh"}).body["id"]

    def fds():
        return len(os.listdir(f"/proc/{d.pid}/fd"))

    for _ in range(20):
        d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]})
    f0, t0 = fds(), threads(d.pid)
    for i in range(200):
        a = d.request("POST", "/v1/sandboxes", {"language": "sh"}).body["id"]
        d.request("PUT", f"/v1/sandboxes/{a}/files/x", b"1")
        assert d.request("POST", f"/v1/sandboxes/{a}/exec", {"argv": ["true"]}).status == 200
        assert d.request("DELETE", f"/v1/sandboxes/{a}").status == 204
        d.request("GET", "/v1/sandboxes/nope")
    # (a detached exec thread may still be on its way out)
    assert wait_for(lambda: fds() <= f0 + 2 and threads(d.pid) <= t0, 3), (fds(), f0,
                                                                          threads(d.pid), t0)
