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


def test_unread_file_answers_are_bounded(petrid):
    """A file GET's answer stays in memory until its client reads it: 12
    connections that asked for a 60 MB file and never read grew petrid by
    750 MB (and 1024 connections could hold 64 GiB).  The answers not yet
    sent are bounded (256 MiB over all clients); beyond, 429
    unread_answers with Retry-After, and the budget comes back when the
    clients go."""
    d = petrid()
    sid = create(d)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec",
                  {"argv": ["sh", "-c", "head -c 60000000 /dev/zero > /workspace/big"]})
    assert r.status == 200 and r.body["exit_code"] == 0, r
    base = rss_kb(d.pid)
    head = ("GET /v1/sandboxes/%s/files/big HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\n\r\n" % (sid, d.tokens["acme"])).encode()
    socks, statuses = [], []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(30)
            s.connect((d.host, d.port))
            s.sendall(head)
            socks.append(s)
            line = b""
            while not line.endswith(b"\r\n"):
                line += s.recv(1)
            statuses.append(int(line.split()[1]))
            time.sleep(0.2)
        grown = rss_kb(d.pid) - base
        assert statuses.count(200) <= 4 and 429 in statuses, statuses
        assert grown < 400 * 1024, "petrid grew by %d kB with 8 unread answers" % grown
    finally:
        for s in socks:
            s.close()
    r = d.request("GET", f"/v1/sandboxes/{sid}/files/big", raw=True)
    for _ in range(50):
        if r.status == 200:
            break
        time.sleep(0.1)
        r = d.request("GET", f"/v1/sandboxes/{sid}/files/big", raw=True)
    assert r.status == 200 and len(r.body) == 60000000, r.status
    # The 429 itself, as the contract shows it.
    socks = []
    try:
        for _ in range(5):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((d.host, d.port))
            s.sendall(head)
            socks.append(s)
        time.sleep(1)
        r = d.request("GET", f"/v1/sandboxes/{sid}/files/big")
        assert r.status == 429, r
        assert r.body["error"]["code"] == "unread_answers"
        assert r.headers.get("retry-after") == "1"
    finally:
        for s in socks:
            s.close()


def _get_bytes(d, method, path, body=None):
    """(status, raw body bytes): no parsing, so that a body that is not
    UTF-8 is seen as it is."""
    h, data = d._headers(body, None, None, None)
    conn = d.connection()
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_answers_are_utf8_json_whatever_the_path_bytes(petrid):
    """A percent-encoded path of bytes that are not UTF-8 came back raw
    inside the error's JSON message, and a file the code named so came
    back raw in a listing: not JSON (every client's parser failed).  Now
    such bytes are U+FFFD (names in listings, as in output) or '?'
    (messages), and a long message is never cut inside a character."""
    d = petrid()
    sid = create(d)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": [
        "sh", "-c", "mkdir /workspace/d && printf x > /workspace/d/$(printf 'n\\377\\376')"]})
    assert r.status == 200 and r.body["exit_code"] == 0, r
    cases = [
        ("GET", "files/%ff%fe", 404),
        ("GET", "files/%e2%82", 404),
        ("GET", "files/%ff/", 404),
        ("DELETE", "files/%c0%af", 404),
        ("PUT", "files/%ed%a0%80/x?mode=0644", 204),
        # a message cut at 255 bytes in the middle of a 3-byte character
        ("GET", "files/" + "a" * 200 + "/" + "%e2%82%ac" * 40, 404),
        ("GET", "files/d/", 200),
    ]
    for method, path, want in cases:
        status, data = _get_bytes(d, method, f"/v1/sandboxes/{sid}/{path}", b"x" if method == "PUT" else None)
        assert status == want, (path, status, data)
        if not data:
            continue
        text = data.decode("utf-8")  # raises on bytes that are not UTF-8
        obj = json.loads(text)
        if status >= 400:
            assert obj["error"]["code"] in ("file_not_found", "sandbox_not_found"), obj
    status, data = _get_bytes(d, "GET", f"/v1/sandboxes/{sid}/files/d/")
    names = [e["name"] for e in json.loads(data.decode("utf-8"))["entries"]]
    assert names == ["n\ufffd\ufffd"], names


@pytest.mark.parametrize("head", [
    # two lengths: which one a front proxy takes decides where the next request starts
    "Content-Length: 2\r\nContent-Length: 40\r\n",
    # length and chunked at once
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
])
def test_ambiguous_framing_is_refused(petrid, head):
    """A request with two Content-Lengths (or a length and chunked) was
    answered, and what followed on the connection was read as a second
    request: a front proxy framing it the other way would let a request
    through that it never saw (smuggling).  Now 400 bad_request, the
    connection closed, the second request never answered."""
    d = petrid()
    sid = create(d)
    tok = d.tokens["acme"]
    req = ("POST /v1/sandboxes/%s/keepalive HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n"
           "{}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" % (sid, tok, head))
    out = raw_request(d, req.encode())
    assert out.startswith(b"HTTP/1.1 400 "), out[:300]
    assert b'"bad_request"' in out
    assert out.count(b"HTTP/1.1 ") == 1, out


def test_two_authorization_headers_are_refused(petrid):
    """With two Authorization headers petrid used the first: a request
    carrying tenant A's token then tenant B's was A's, whatever a proxy in
    front (or a log) took it for.  Now 400, whichever tokens they are."""
    d = petrid(tenants={"a": {}, "b": {}})
    create(d, tenant="a")
    for first, second in (("a", "b"), ("b", "a"), ("a", "a")):
        req = ("GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
               % (d.tokens[first], d.tokens[second]))
        out = raw_request(d, req.encode())
        assert out.startswith(b"HTTP/1.1 400 "), (first, second, out[:300])
        assert b"sb_" not in out
    # One header, lower-case scheme and extra spaces: still that tenant.
    req = ("GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\nauthorization: bearer   %s\r\n"
           "Connection: close\r\n\r\n" % d.tokens["a"])
    assert raw_request(d, req.encode()).startswith(b"HTTP/1.1 200 ")


def test_nul_in_a_name_is_refused(petrid):
    """env {"A\\u0000B": "x"} set A=x: json-c keeps object keys as C
    strings, so the name was silently cut at its NUL (values with a NUL
    were already refused).  Now 400 invalid_argument, in create and exec;
    an escaped backslash before u0000 is not a NUL."""
    d = petrid()
    sid = create(d)
    for path, body in ((f"/v1/sandboxes/{sid}/exec", b'{"argv":["env"],"env":{"A\\u0000B":"x"}}'),
                       ("/v1/sandboxes", b'{"language":"sh","env":{"LD_\\u0000X":"1"}}'),
                       (f"/v1/sandboxes/{sid}/exec", b'{"argv":["true"],"a\\u0000rgv":1}')):
        r = d.request("POST", path, body, headers={"Content-Type": "application/json"})
        assert r.status == 400, (body, r)
        assert r.body["error"]["code"] == "invalid_argument"
        assert "NUL" in r.body["error"]["message"]
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec",
                  b'{"argv":["env"],"env":{"Z\\\\u0000":"ok"}}',
                  headers={"Content-Type": "application/json"})
    assert r.status == 200 and "\nZ\\u0000=ok\n" in r.body["stdout"], r


def test_special_files_planted_by_the_code(petrid):
    """The code plants a FIFO, symlinks to /etc/shadow, to its own
    workspace and to another sandbox's, and a 2 GiB sparse file: no file
    route hangs, follows a link or reads it all.  A PUT onto the FIFO was
    500 internal (ENXIO, logged as petrid's own failure): it is the
    client's error, 400 invalid_argument."""
    d = petrid(tenants={"a": {}, "b": {}})
    other = create(d, tenant="b")
    sid = create(d, tenant="a")
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"file_size": "3G", "argv": ["sh", "-c",
        "cd /workspace && mkfifo fifo && ln -s /etc/shadow shadow && ln -s /workspace self && "
        "ln -s /proc/1/root/etc/passwd p && truncate -s 2G big"]}, tenant="a")
    assert r.status == 200 and r.body["exit_code"] == 0, r
    base = rss_kb(d.pid)
    t0 = time.monotonic()
    for method, path, want, code in (
            ("GET", "fifo", 400, "invalid_argument"),
            ("PUT", "fifo", 400, "invalid_argument"),
            ("GET", "shadow", 400, "unsafe_path"),
            ("PUT", "shadow", 400, "unsafe_path"),
            ("GET", "self/fifo", 400, "unsafe_path"),
            ("GET", "self/", 400, "unsafe_path"),
            ("GET", "p", 400, "unsafe_path"),
            ("GET", "big", 413, "body_too_large"),
            ("GET", "%2e%2e/%2e%2e/etc/shadow", 400, "unsafe_path"),
            ("GET", "%252e%252e/x", 404, "file_not_found"),
            ("GET", "x%00y", 400, "invalid_argument")):
        r = d.request(method, f"/v1/sandboxes/{sid}/files/{path}",
                      b"data" if method == "PUT" else None, tenant="a", timeout=20)
        assert r.status == want and r.body["error"]["code"] == code, (method, path, r)
    assert time.monotonic() - t0 < 10
    assert rss_kb(d.pid) - base < 32 * 1024
    # The other tenant's sandbox, by its id, through a's token: 404.
    r = d.request("GET", f"/v1/sandboxes/{other}/files/", tenant="a")
    assert r.status == 404 and r.body["error"]["code"] == "sandbox_not_found"
    assert "500 internal" not in d.log()


def test_authorization_value_whitespace(petrid):
    """Whitespace after a field value is not part of it (RFC 9110 5.5):
    "Bearer TOKEN  " was 401.  A tab after the scheme, or a token with
    something appended, stays 401."""
    d = petrid()
    tok = d.tokens["acme"]

    def status(value):
        req = ("GET /v1/sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
               "Connection: close\r\n\r\n" % value)
        return int(raw_request(d, req.encode()).split(b" ", 2)[1])

    assert status("Bearer %s  " % tok) == 200
    assert status("Bearer %s\t" % tok) == 200
    assert status("bearer  %s" % tok) == 200
    assert status("Bearer\t%s" % tok) == 401
    assert status("Bearer %s x" % tok) == 401
    assert status("Bearer %sx" % tok) == 401
    assert status("Bearer " + "x" * 30000) == 401


def test_unread_exec_results_are_bounded(petrid):
    """A non-streaming exec's result is held until its client reads it,
    after the exec ended (so max_execs does not bound them): 12 clients
    that never read the results of 4 MiB of NULs on stdout and stderr
    grew petrid by 280 MB.  The results count in the same 256 MiB as file
    answers; once it is reached an exec is 429 unread_answers before it
    starts, and the bound comes back when the clients go."""
    d = petrid(tenants={"acme": {"max_sandboxes": 16, "max_memory": "16G"}})
    sids = [create(d, memory="64M") for _ in range(16)]
    body = json.dumps({"argv": ["sh", "-c", "head -c 4194304 /dev/zero; "
                                "head -c 4194304 /dev/zero >&2"],
                       "stdout_limit": "4M", "stderr_limit": "4M"}).encode()
    base = rss_kb(d.pid)
    socks, statuses = [], []
    try:
        for sid in sids:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(30)
            s.connect((d.host, d.port))
            s.sendall(("POST /v1/sandboxes/%s/exec HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % (sid, d.tokens["acme"], len(body))
                       ).encode() + body)
            socks.append(s)
            line = b""
            while not line.endswith(b"\r\n"):
                line += s.recv(1)
            statuses.append(int(line.split()[1]))
        grown = rss_kb(d.pid) - base
        assert 429 in statuses, statuses
        assert grown < 400 * 1024, "petrid grew by %d kB" % grown
        r = d.request("POST", f"/v1/sandboxes/{sids[0]}/exec", {"argv": ["true"]})
        assert r.status == 429 and r.body["error"]["code"] == "unread_answers", r
        assert r.headers.get("retry-after") == "1"
    finally:
        for s in socks:
            s.close()
    for _ in range(50):
        r = d.request("POST", f"/v1/sandboxes/{sids[0]}/exec", {"argv": ["true"]})
        if r.status != 429:
            break
        time.sleep(0.1)
    assert r.status == 200, r
