"""Bounded request times and no residue (docs/petrid.md: request_timeout,
max_body_bytes; issue 14 "Robustness"): slow clients cannot hold petrid,
are closed by request_timeout, and a batch of bad requests leaves petrid with
the same sandboxes, threads and fds as before."""

import json
import socket
import threading
import time

import pytest

from contract import Petrid, cgroups_of, metric_value, raw_exchange, sandbox_inits, wait_for

REQUEST_TIMEOUT = 3


@pytest.fixture(scope="module")
def pd():
    p = Petrid({"a": {"max_sandboxes": 4, "defaults": {"language": "sh", "memory": "128M",
                                                       "timeout": 120}}},
               request_timeout=REQUEST_TIMEOUT, max_body_bytes=65536, max_connections=256)
    p.start()
    yield p
    p.close()


def closed_by_peer(sock):
    """True when the peer closed (EOF or reset), possibly after a 408."""
    try:
        sock.setblocking(False)
        data = sock.recv(65536)
        return data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.0 408")
    except BlockingIOError:
        return False
    except OSError:
        return True


class Loris:
    """N connections that each send one more byte of a request head every
    second, until the peer closes them."""

    HEAD = b"GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200

    def __init__(self, port, n, head=None):
        self.head = head or self.HEAD
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        self.opened = time.monotonic()
        self.closed_at = {}
        self.stop = False
        self.t = threading.Thread(target=self._drip, daemon=True)
        self.t.start()

    def _drip(self):
        i = 0
        while not self.stop and i < len(self.head):
            for k, s in enumerate(self.socks):
                if k in self.closed_at:
                    continue
                try:
                    s.send(self.head[i:i + 1])
                except OSError:
                    self.closed_at[k] = time.monotonic() - self.opened
            i += 1
            time.sleep(1)

    def check_closed(self):
        for k, s in enumerate(self.socks):
            if k not in self.closed_at and closed_by_peer(s):
                self.closed_at[k] = time.monotonic() - self.opened
        return len(self.closed_at) == len(self.socks)

    def close(self):
        self.stop = True
        for s in self.socks:
            s.close()


def test_slowloris_does_not_hold_petrid(pd):
    sid = pd.create()["id"]
    loris = Loris(pd.port, 100)
    try:
        time.sleep(1.5)
        worst = 0.0
        for _ in range(5):  # others are served promptly meanwhile
            t0 = time.monotonic()
            assert pd.request("GET", "/healthz", token=None, timeout=5).status == 200
            r = pd.exec(sid, argv=["echo", "ok"], timeout=5)
            assert r.status == 200 and r.json["stdout"] == "ok\n", r
            worst = max(worst, time.monotonic() - t0)
        assert worst < 1.0, f"a request took {worst:.2f}s next to 100 slow clients"
    finally:
        loris.close()
        pd.delete(sid)


def test_slowloris_is_closed_by_request_timeout(pd):
    """The head may take request_timeout in all: a byte a second does not
    keep a connection open."""
    loris = Loris(pd.port, 20)
    try:
        assert wait_for(loris.check_closed, REQUEST_TIMEOUT + 4, step=0.2), \
            f"{len(loris.socks) - len(loris.closed_at)} slow connections still open after " \
            f"{time.monotonic() - loris.opened:.1f}s"
        assert max(loris.closed_at.values()) < REQUEST_TIMEOUT + 3, sorted(loris.closed_at.values())[-3:]
    finally:
        loris.close()


def test_slow_body_is_closed_by_request_timeout(pd):
    body = json.dumps({"language": "sh"}).encode()
    head = (b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + pd.tokens["a"].encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (len(body) + 50))
    loris = Loris(pd.port, 5, head=head + body + b" " * 50)
    try:
        assert wait_for(loris.check_closed, REQUEST_TIMEOUT + 4, step=0.2)
    finally:
        loris.close()
    assert pd.live_ids() == []


def test_idle_connection_is_closed_by_request_timeout(pd):
    s = socket.create_connection(("127.0.0.1", pd.port))
    t0 = time.monotonic()
    try:
        assert wait_for(lambda: closed_by_peer(s), REQUEST_TIMEOUT + 3, step=0.2)
        assert time.monotonic() - t0 > REQUEST_TIMEOUT - 1
    finally:
        s.close()


def _bad_batch(pd, sid):
    """Bad requests of every kind; petrid may hang up on any of them."""
    for step in _bad_steps(pd, sid):
        try:
            step()
        except OSError:
            pass


def _bad_steps(pd, sid):
    a = pd.tokens["a"].encode()
    return [lambda: _bad_requests(pd, sid, a), lambda: _bad_raw(pd, sid, a)]


def _bad_requests(pd, sid, a):
    for body in (b"{", b"[]", b'{"bogus": 1}', b'{"memory": "lots"}', b'{"binds": ["/"]}'):
        pd.request("POST", "/v1/sandboxes", body, headers={"Content-Type": "application/json"})
    for body in (b"{", b'{"argv": 1}', b'{"code": "x", "argv": ["y"]}', b'{"argv":["true"],"x":1}'):
        pd.request("POST", f"/v1/sandboxes/{sid}/exec", body, headers={"Content-Type": "application/json"})
    pd.request("POST", "/v1/sandboxes", {}, token="Bearer nope")
    pd.request("GET", "/v1/sandboxes/sb_t1_" + "0" * 24)
    pd.request("PUT", f"/v1/sandboxes/{sid}/files/../x", b"x")
    try:
        pd.request("PUT", f"/v1/sandboxes/{sid}/files/big", b"x" * 70000)
    except OSError:
        pass


def _bad_raw(pd, sid, a):
    # over the limit, declared; and chunked
    raw_exchange(pd.port, b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a +
                 b"\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n", timeout=5)
    raw_exchange(pd.port, [b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a +
                           b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"]
                 + [b"8000\r\n" + b" " * 0x8000 + b"\r\n"] * 3 + [b"0\r\n\r\n"], timeout=5)
    # garbage, half heads and half bodies, then hang up
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,  # a TLS hello
                 b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /healthz HTTP/1.1\r\nHost",
                 b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + a +
                 b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"lang",
                 b"GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"h" * 200000 + b"\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", pd.port))
        try:
            s.sendall(junk)
        except OSError:
            pass
        s.close()
    # a stream whose reader goes away at once
    s = socket.create_connection(("127.0.0.1", pd.port))
    body = b'{"argv": ["sh", "-c", "seq 1 100000"]}'
    s.sendall(b"POST /v1/sandboxes/" + sid.encode() + b"/exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + a + b"\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.2)
    s.close()
    # that exec is cancelled (test_contract_stream checks how fast)
    assert wait_for(lambda: pd.get(sid).json["state"] == "idle", 5), pd.get(sid)


def test_bad_input_leaves_nothing_behind(pd):
    sid = pd.create()["id"]
    for _ in range(3):  # warm up: every lazy allocation petrid makes is made
        assert pd.exec(sid, argv=["true"]).status == 200
        pd.metrics()
        _bad_batch(pd, sid)
    assert wait_for(lambda: pd.get(sid).json["state"] == "idle", 10)
    time.sleep(1)
    threads0, fds0 = pd.threads(), pd.fds()
    inits0, cgroups0 = sandbox_inits(pd.pid), cgroups_of(pd.pid)
    assert len(inits0) == 1, inits0
    live0 = metric_value(pd.metrics(), "petrid_sandboxes_live", tenant="a")
    for _ in range(5):
        _bad_batch(pd, sid)
    assert wait_for(lambda: pd.get(sid).json["state"] == "idle", 10)
    assert pd.live_ids() == [sid]
    assert metric_value(pd.metrics(), "petrid_sandboxes_live", tenant="a") == live0 == 1
    assert sandbox_inits(pd.pid) == inits0
    assert cgroups_of(pd.pid) == cgroups0
    ok = wait_for(lambda: pd.threads() <= threads0 and pd.fds() <= fds0, REQUEST_TIMEOUT + 3, step=0.2)
    assert ok, f"threads {threads0} -> {pd.threads()}, fds {fds0} -> {pd.fds()}"
    r = pd.exec(sid, argv=["echo", "fine"])
    assert r.status == 200 and r.json["stdout"] == "fine\n"
    pd.delete(sid)


def _hold(p, n):
    held = [socket.create_connection(("127.0.0.1", p.port)) for _ in range(n)]
    for s in held:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head in progress
    time.sleep(0.3)
    return held


def test_max_connections_closes_the_excess_at_once():
    p = Petrid({"a": {"defaults": {"language": "sh"}}}, request_timeout=20, max_connections=8)
    p.start()
    # start()'s last /healthz connection counts until petrid has seen it
    # close: give it that moment, so that the 8 held below are the 8.
    time.sleep(0.3)
    held = []
    try:
        held = _hold(p, 8)
        t0 = time.monotonic()
        try:
            r = p.request("GET", "/healthz", token=None, timeout=5)
            how = f"served: {r}"
        except socket.timeout:
            how = "left hanging (no answer, not closed)"
        except OSError:
            how = "closed"
        waited = time.monotonic() - t0
        assert how == "closed" and waited < 2, f"a 9th connection was {how} after {waited:.1f}s"
    finally:
        for s in held:
            s.close()
        p.close()


def test_max_connections_frees_up():
    """Once connections beyond the bound go, new ones are served at once and
    petrid holds no more threads than while it was full."""
    p = Petrid({"a": {"defaults": {"language": "sh"}}}, request_timeout=20, max_connections=8)
    p.start()
    held = []
    try:
        held = _hold(p, 8)
        threads_full = p.threads()
        extra = _hold(p, 4)  # beyond the bound, whatever petrid does with them
        for s in held + extra:
            s.close()
        held = []
        assert wait_for(lambda: _healthy(p), 3), "not served again once the others went"
        assert p.threads() <= threads_full
    finally:
        for s in held:
            s.close()
        p.close()


def _healthy(p):
    try:
        return p.request("GET", "/healthz", token=None, timeout=2).status == 200
    except OSError:
        return False


def test_delete_racing_exec_leaves_nothing(pd):
    """DELETE and an exec (plain or streamed) of the same sandbox at the same
    moment, again and again: every answer is a documented one, never a 5xx
    or a hang, and no sandbox init, cgroup or live sandbox is left."""
    from contract import Stream, final_events, read_all_events
    bad = []
    for i in range(12):
        sid = pd.create()["id"]
        barrier = threading.Barrier(2)
        out = {}

        def do_exec():
            barrier.wait()
            try:
                if i % 2:
                    s = Stream(pd, sid, {"argv": ["sleep", "5"]}, timeout=15)
                    evs = read_all_events(s) if s.status == 200 else []
                    out["exec"] = (s.status, [e[0] for e in final_events(evs)])
                else:
                    r = pd.exec(sid, argv=["sleep", "5"], http_timeout=15)
                    out["exec"] = (r.status, r.json.get("reason") or r.error_code())
            except OSError as e:
                out["exec"] = ("exception", repr(e))

        t = threading.Thread(target=do_exec)
        t.start()
        barrier.wait()
        time.sleep(0.002 * i)
        d = pd.delete(sid)
        t.join(20)
        st, what = out.get("exec", ("hung", None))
        ok_exec = (st == 200 and (what in ("killed", "sandbox_died") or what == ["result"])) or \
                  (st == 404 and what == "sandbox_not_found") or (st == 404 and what == [])
        if d.status != 204 or not ok_exec:
            bad.append((i, d.status, st, what))
    assert not bad, bad
    assert pd.live_ids() == []
    assert wait_for(lambda: sandbox_inits(pd.pid) == [], 5), sandbox_inits(pd.pid)
    assert wait_for(lambda: cgroups_of(pd.pid) == [], 5), cgroups_of(pd.pid)
