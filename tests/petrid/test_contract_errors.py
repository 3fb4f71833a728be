"""Every documented error status and code of docs/petrid.md ("Errors"), from
outside: malformed and non-object JSON, unknown fields, wrong types, 413 by
Content-Length and by chunks, 415, 404, 405 + Allow, 401 in its forms, each
quota's 429 naming the quota, too_many_execs with Retry-After, 409 busy,
unsafe paths, missing files."""

import json
import secrets
import threading
import time

import pytest

from contract import Petrid, raw_exchange, wait_for

MAX_BODY = 65536


@pytest.fixture(scope="module")
def pd():
    d = {"language": "sh", "memory": "128M", "timeout": 60}
    p = Petrid(
        {
            "a": {"max_sandboxes": 3, "max_memory": "1G", "max_exec_timeout": 20,
                  "max_execs": 2, "max_ttl": 60, "languages": ["sh", "python"], "defaults": d},
            "c": {"max_sandboxes": 6, "max_memory": "2G", "max_execs": 4, "defaults": d},
        },
        max_body_bytes=MAX_BODY, request_timeout=5, max_execs=3)
    p.start()
    yield p
    p.close()


@pytest.fixture
def sb(pd):
    s = pd.create()
    yield s["id"]
    pd.delete(s["id"])


def assert_error(r, status, code, mentions=None):
    assert r.status == status, r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert "\n" not in body["error"]["message"].strip(), body
    if mentions:
        assert mentions in body["error"]["message"], body
    return body["error"]


# ---- 400 bad_json ----
@pytest.mark.parametrize("body", [b'{"language": ', b"not json", b"{'a': 1}", b'{"a":1}}',
                                  b"\xff\xfe{}", b'{"a": 1,}'])
def test_malformed_json_is_400_bad_json(pd, sb, body):
    for path in ("/v1/sandboxes", f"/v1/sandboxes/{sb}/exec", f"/v1/sandboxes/{sb}/keepalive"):
        r = pd.request("POST", path, body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "bad_json")


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"42", b"null", b"true", b'[{"argv": ["true"]}]',
                                  b" 42 ", b"1e999999", b"-0"])
def test_non_object_json_is_400_bad_json(pd, sb, body):
    # The same message for every value that is not an object (a bare number
    # or literal once said "the body is not JSON: continue", json-c's
    # wait for more input).
    for path in ("/v1/sandboxes", f"/v1/sandboxes/{sb}/exec", f"/v1/sandboxes/{sb}/keepalive"):
        r = pd.request("POST", path, body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "bad_json", mentions="the body must be a JSON object")


# ---- 400 unknown_field ----
@pytest.mark.parametrize("field", ["bogus", "binds", "rootfs", "workspace_dir", "id", "Language"])
def test_unknown_create_field_is_400_naming_it(pd, field):
    before = pd.live_ids()
    r = pd.request("POST", "/v1/sandboxes", {field: "x"})
    if r.status == 201:
        pd.delete(r.json["id"])
    assert_error(r, 400, "unknown_field", mentions=field)
    assert pd.live_ids() == before


def test_unknown_exec_and_keepalive_fields_are_400(pd, sb):
    r = pd.exec(sb, argv=["true"], bogus_exec=1)
    assert_error(r, 400, "unknown_field", mentions="bogus_exec")
    r = pd.request("POST", f"/v1/sandboxes/{sb}/keepalive", {"bogus_ka": 1})
    assert_error(r, 400, "unknown_field", mentions="bogus_ka")


# ---- 400 invalid_argument: each kind of field with a wrong type ----
CREATE_BAD = [
    ("language", 5), ("language", "cobol"), ("memory", []), ("memory", True), ("memory", "lots"),
    ("memory", -1), ("tmp_size", {}), ("workspace_size", "12Q"), ("net_max_bytes", 1.5),
    ("pids", "10"), ("pids", 1.5), ("pids", -3), ("net_max_conns", "x"), ("cpus", "x"),
    ("cpus", -1), ("timeout", "10"), ("timeout", -5), ("net", "wifi"), ("net", 1),
    ("allow", "example.com"), ("allow", [1]), ("secrets", "X"), ("secrets", [1]),
    ("env", []), ("env", {"A": 1}), ("env", "A=1"), ("env", {"A=B": "x"}), ("env", {"A": "x\u0000y"}),
    pytest.param("env", {"A\u0000B": "x"}),
    ("hostname", 5), ("hostname", "a\u0000b"),
]


@pytest.mark.parametrize("field,value", CREATE_BAD)
def test_create_wrong_type_is_400_invalid_argument(pd, field, value):
    before = pd.live_ids()
    r = pd.request("POST", "/v1/sandboxes", {field: value})
    if r.status == 201:  # not what it should do; do not let it eat the quota of the next tests
        pd.delete(r.json["id"])
    assert_error(r, 400, "invalid_argument", mentions=field)
    assert pd.live_ids() == before


EXEC_BAD = [
    {"code": 1}, {"argv": "ls"}, {"argv": [1]}, {"argv": []}, {"argv": ["true"], "stdin": 5},
    {"argv": ["true"], "stdin_b64": "!!!not base64"}, {"argv": ["true"], "env": {"A": 1}},
    {"argv": ["true"], "env": []},
    pytest.param({"argv": ["true"], "env": {"A\u0000B": "x"}}),
    {"argv": ["echo", "a\u0000b"]}, {"code": "true\u0000"},
    {"argv": ["true"], "cwd": 5}, {"argv": ["true"], "timeout": "x"},
    {"argv": ["true"], "timeout": -1}, {"argv": ["true"], "cpu": "x"},
    {"argv": ["true"], "stdout_limit": True}, {"argv": ["true"], "nofile": "x"},
    {"argv": ["true"], "file_size": []}, {"code": "true", "args": "x"}, {"code": "true", "language": 7},
]


def _named_field(body):
    return [k for k in body if k not in ("code", "argv")][-1] if len(body) > 1 else next(iter(body))


@pytest.mark.parametrize("body", EXEC_BAD, ids=lambda b: json.dumps(b)[:40])
def test_exec_wrong_type_is_400_invalid_argument(pd, sb, body):
    r = pd.exec(sb, **body)
    assert_error(r, 400, "invalid_argument", mentions=_named_field(body))


@pytest.mark.parametrize("body", [{}, {"code": "true", "argv": ["true"]}, {"stdin": "x"}])
def test_exec_needs_exactly_one_of_code_and_argv(pd, sb, body):
    r = pd.exec(sb, **body)
    assert_error(r, 400, "invalid_argument")


def test_keepalive_wrong_type_is_400(pd, sb):
    r = pd.request("POST", f"/v1/sandboxes/{sb}/keepalive", {"timeout": "long"})
    assert_error(r, 400, "invalid_argument", mentions="timeout")


# ---- 415 ----
def test_json_route_with_other_content_type_is_415(pd, sb):
    for path, body in (("/v1/sandboxes", b"{}"), (f"/v1/sandboxes/{sb}/exec", b'{"argv": ["true"]}')):
        r = pd.request("POST", path, body, headers={"Content-Type": "text/plain"})
        assert_error(r, 415, "unsupported_media_type")


# ---- 413 ----
def _auth(pd, t="a"):
    return f"Authorization: Bearer {pd.tokens[t]}\r\n".encode()


def test_declared_oversized_body_is_413_before_it_is_sent(pd):
    head = (b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n" + _auth(pd) +
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
    t0 = time.monotonic()
    status, headers, body = raw_exchange(pd.port, head, timeout=10)
    assert time.monotonic() - t0 < 4, "413 should not wait for the body (or request_timeout)"
    assert status == 413, (status, body)
    assert json.loads(body)["error"]["code"] == "body_too_large"


def test_chunked_body_over_the_limit_is_413(pd):
    head = (b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n" + _auth(pd) +
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    parts = [head] + [chunk] * (MAX_BODY // 0x4000 + 4) + [b"0\r\n\r\n"]
    before = pd.live_ids()
    status, headers, body = raw_exchange(pd.port, parts, timeout=10)
    assert status == 413, (status, body[:200])
    assert json.loads(body)["error"]["code"] == "body_too_large"
    assert pd.live_ids() == before


def test_file_put_over_the_limit_is_413_and_writes_nothing(pd, sb):
    r = pd.request("PUT", f"/v1/sandboxes/{sb}/files/big.bin", b"x" * (MAX_BODY + 1))
    assert_error(r, 413, "body_too_large")
    r = pd.request("GET", f"/v1/sandboxes/{sb}/files/big.bin")
    assert_error(r, 404, "file_not_found")


def test_body_at_the_limit_is_accepted(pd, sb):
    data = b"y" * MAX_BODY
    r = pd.request("PUT", f"/v1/sandboxes/{sb}/files/exact.bin", data)
    assert r.status == 204, r
    r = pd.request("GET", f"/v1/sandboxes/{sb}/files/exact.bin")
    assert r.status == 200 and r.body == data


# ---- 404 / 405 ----
def test_unknown_route_is_404_not_found(pd):
    assert_error(pd.request("GET", "/v1/nope"), 404, "not_found")
    assert_error(pd.request("POST", "/v1/sandboxes/x/y/z", {}), 404, "not_found")


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/v1/sandboxes", {"GET", "POST"}),
    ("PUT", "/v1/sandboxes", {"GET", "POST"}),
    ("POST", "/healthz", {"GET"}),
    ("POST", "/metrics", {"GET"}),
    ("GET", "/v1/sandboxes/{id}/exec", {"POST"}),
    ("POST", "/v1/sandboxes/{id}", {"GET", "DELETE"}),
    ("POST", "/v1/sandboxes/{id}/files/f", {"GET", "PUT", "DELETE"}),
])
def test_wrong_method_is_405_with_allow(pd, sb, method, path, allow):
    r = pd.request(method, path.replace("{id}", sb), b"{}" if method in ("POST", "PUT") else None,
                   headers={"Content-Type": "application/json"})
    assert_error(r, 405, "method_not_allowed")
    got = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert got == allow, r.headers


# ---- 401 ----
BAD_AUTH = [None, "Bearer", "Bearer ", "Bearer garbage", "Basic dXNlcjpwYXNz",
            "Token {a}", "Bearer {a}x", "Bearer {a_sha}", "{a}", "Bearer  {a} extra"]


@pytest.mark.parametrize("auth", BAD_AUTH)
def test_missing_or_invalid_authorization_is_401(pd, auth):
    a = pd.tokens["a"]
    import hashlib
    value = None if auth is None else auth.format(a=a, a_sha=hashlib.sha256(a.encode()).hexdigest())
    sid = pd.create()["id"]
    try:
        for method, path in (("GET", "/v1/sandboxes"), ("POST", "/v1/sandboxes"), ("GET", "/metrics"),
                             ("GET", f"/v1/sandboxes/{sid}"), ("DELETE", f"/v1/sandboxes/{sid}"),
                             ("POST", f"/v1/sandboxes/{sid}/exec"),
                             ("GET", f"/v1/sandboxes/{sid}/files/x")):
            headers = {} if value is None else {"Authorization": value}
            r = pd.request(method, path, b"{}" if method == "POST" else None, token=None,
                           headers={**headers, "Content-Type": "application/json"})
            assert_error(r, 401, "unauthorized")
            assert r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers
        assert pd.get(sid).status == 200  # the DELETE above did nothing
    finally:
        pd.delete(sid)


def test_healthz_needs_no_token(pd):
    r = pd.request("GET", "/healthz", token=None)
    assert r.status == 200 and r.json["status"] == "ok" and r.json["node"] == "t1"


# ---- 404 sandbox / file, 400 unsafe_path ----
@pytest.mark.parametrize("sid", ["sb_t1_" + "0" * 24, "sb_t1_" + secrets.token_hex(12), "sb_zz_" + "a" * 24,
                                 "nonsense", "sb_t1_XYZ"])
def test_unknown_sandbox_is_404_sandbox_not_found(pd, sid):
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/exec"), ("POST", "/cancel"),
                         ("POST", "/keepalive"), ("GET", "/files"), ("GET", "/files/x"),
                         ("PUT", "/files/x"), ("DELETE", "/files/x")):
        body = {"argv": ["true"]} if path == "/exec" else ({} if method == "POST" else (b"x" if method == "PUT" else None))
        r = pd.request(method, f"/v1/sandboxes/{sid}{path}", body)
        assert_error(r, 404, "sandbox_not_found")


def test_missing_file_is_404_file_not_found(pd, sb):
    assert_error(pd.request("GET", f"/v1/sandboxes/{sb}/files/nope.txt"), 404, "file_not_found")
    assert_error(pd.request("DELETE", f"/v1/sandboxes/{sb}/files/nope.txt"), 404, "file_not_found")
    assert_error(pd.request("GET", f"/v1/sandboxes/{sb}/files/nodir/"), 404, "file_not_found")


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../etc/passwd", "%2e%2e/etc/passwd",
                                  "a/%2E%2E/%2e%2e/x", "..", "./.."])
def test_dotdot_path_is_400_unsafe_path(pd, sb, path):
    for method in ("GET", "PUT", "DELETE"):
        r = pd.request(method, f"/v1/sandboxes/{sb}/files/{path}", b"x" if method == "PUT" else None)
        assert_error(r, 400, "unsafe_path")


def test_symlink_on_the_way_is_400_unsafe_path(pd, sb):
    r = pd.exec(sb, argv=["sh", "-c", "ln -s /etc /workspace/etclink && ln -s / /workspace/rootlink"])
    assert r.status == 200 and r.json["exit_code"] == 0, r
    for method, path in (("GET", "etclink/passwd"), ("PUT", "etclink/evil"), ("DELETE", "etclink/hostname"),
                         ("GET", "rootlink/etc/passwd"), ("GET", "etclink/")):
        r = pd.request(method, f"/v1/sandboxes/{sb}/files/{path}", b"x" if method == "PUT" else None)
        assert_error(r, 400, "unsafe_path")


# ---- 409 busy, 429 quotas, too_many_execs ----
class Background:
    """A blocking exec of `sleep` in a thread; .result once it ends."""

    def __init__(self, pd, sid, tenant="a", seconds=20):
        self.pd, self.sid, self.tenant, self.result = pd, sid, tenant, None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        ok = wait_for(lambda: pd.get(sid, tenant).json.get("state") == "running", 10)
        assert ok, f"{sid} never ran its exec: {pd.get(sid, tenant)}"

    def _run(self):
        self.result = self.pd.exec(self.sid, tenant=self.tenant, argv=["sleep", "20"], timeout=20)

    def stop(self):
        r = self.pd.request("POST", f"/v1/sandboxes/{self.sid}/cancel", token=self.tenant)
        self.t.join(15)
        return r


def test_second_exec_in_a_busy_sandbox_is_409(pd, sb):
    bg = Background(pd, sb)
    try:
        assert_error(pd.exec(sb, argv=["true"]), 409, "sandbox_busy")
    finally:
        r = bg.stop()
    assert r.status == 200 and r.json == {"cancelled": True}, r
    assert bg.result.status == 200 and bg.result.json["reason"] == "killed", bg.result
    r = pd.request("POST", f"/v1/sandboxes/{sb}/cancel")
    assert r.status == 200 and r.json == {"cancelled": False}, r


def test_quota_max_sandboxes(pd):
    made = []
    try:
        while len(made) < 3:
            made.append(pd.create()["id"])
        e = assert_error(pd.request("POST", "/v1/sandboxes", {}), 429, "quota_exceeded")
        assert e["quota"] == "max_sandboxes", e
        assert len(pd.live_ids()) == 3
    finally:
        for sid in made:
            pd.delete(sid)
    pd.delete(pd.create()["id"])  # freed again


def test_quota_max_memory(pd):
    e = assert_error(pd.request("POST", "/v1/sandboxes", {"memory": "2G"}), 429, "quota_exceeded")
    assert e["quota"] == "max_memory", e
    first = pd.create(memory="600M")["id"]
    try:
        e = assert_error(pd.request("POST", "/v1/sandboxes", {"memory": "600M"}), 429, "quota_exceeded")
        assert e["quota"] == "max_memory", e
        assert pd.live_ids() == [first]
    finally:
        pd.delete(first)
    pd.delete(pd.create(memory="600M")["id"])


def test_quota_max_ttl_on_create_and_keepalive(pd, sb):
    e = assert_error(pd.request("POST", "/v1/sandboxes", {"timeout": 61}), 429, "quota_exceeded")
    assert e["quota"] == "max_ttl", e
    e = assert_error(pd.request("POST", f"/v1/sandboxes/{sb}/keepalive", {"timeout": 61}), 429,
                     "quota_exceeded")
    assert e["quota"] == "max_ttl", e
    assert pd.get(sb).json["timeout"] == 60


def test_quota_max_exec_timeout(pd, sb):
    e = assert_error(pd.exec(sb, argv=["true"], timeout=21), 429, "quota_exceeded")
    assert e["quota"] == "max_exec_timeout", e
    assert pd.exec(sb, argv=["true"], timeout=20).status == 200


def test_quota_max_execs_per_tenant(pd):
    sids = [pd.create()["id"] for _ in range(3)]
    bgs = []
    try:
        bgs = [Background(pd, sids[0]), Background(pd, sids[1])]
        e = assert_error(pd.exec(sids[2], argv=["true"]), 429, "quota_exceeded")
        assert e["quota"] == "max_execs", e
    finally:
        for b in bgs:
            b.stop()
        for sid in sids:
            pd.delete(sid)


def test_too_many_execs_over_all_tenants(pd):
    sids = [pd.create("c")["id"] for _ in range(4)]
    bgs = []
    try:
        bgs = [Background(pd, sid, tenant="c") for sid in sids[:3]]
        r = pd.exec(sids[3], tenant="c", argv=["true"])
        assert_error(r, 429, "too_many_execs")
        assert r.headers.get("retry-after") == "1", r.headers
    finally:
        for b in bgs:
            b.stop()
    assert pd.exec(sids[3], tenant="c", argv=["true"]).status == 200
    for sid in sids:
        pd.delete(sid, "c")


# ---- quotas under concurrency: counted once, never raced past ----
def _concurrently(n, fn):
    out = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        out[i] = fn(i)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


def test_concurrent_creates_never_pass_max_sandboxes(pd):
    rs = _concurrently(16, lambda i: pd.request("POST", "/v1/sandboxes", {}, token="c"))
    made = [r.json["id"] for r in rs if r.status == 201]
    try:
        codes = sorted({(r.status, r.error_code()) for r in rs if r.status != 201})
        assert len(made) == 6, (len(made), codes)
        assert codes == [(429, "quota_exceeded")], codes
        assert pd.live_ids("c") == sorted(made)
    finally:
        for sid in made:
            pd.delete(sid, "c")


def test_concurrent_execs_in_one_sandbox_run_one_at_a_time(pd, sb):
    rs = _concurrently(8, lambda i: pd.exec(sb, argv=["sleep", "1"]))
    ok = [r for r in rs if r.status == 200]
    busy = [r for r in rs if r.status == 409 and r.error_code() == "sandbox_busy"]
    assert len(ok) == 1 and len(busy) == 7, [r.status for r in rs]


def test_concurrent_execs_never_pass_max_execs(pd):
    sids = [pd.create("c")["id"] for _ in range(6)]
    try:
        rs = _concurrently(6, lambda i: pd.exec(sids[i], tenant="c", argv=["sleep", "1.5"]))
        ok = [r for r in rs if r.status == 200]
        refused = [r for r in rs if r.status == 429 and r.error_code() == "too_many_execs"]
        assert len(ok) == 3 and len(refused) == 3, [(r.status, r.error_code()) for r in rs]
    finally:
        for sid in sids:
            pd.delete(sid, "c")
