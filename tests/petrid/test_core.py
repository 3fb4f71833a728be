# SPDX-License-Identifier: Apache-2.0
"""petrid's routes, errors and tenancy (docs/petrid.md), over HTTP."""
import json
import socket

from conftest import Petrid, cgroups_of, wait_for  # noqa: F401


def create(d, tenant=None, **body):
    r = d.request("POST", "/v1/sandboxes", body, tenant=tenant)
    assert r.status == 201, r
    return r.body["id"]


def test_healthz_no_auth(petrid):
    d = petrid()
    r = d.request("GET", "/healthz", token="")
    assert r.status == 200
    assert r.body["status"] == "ok" and r.body["node"] == "n1" and r.body["version"]


def test_lifecycle_and_exec_result_is_the_cli_object(petrid):
    d = petrid(node="n7")
    r = d.request("POST", "/v1/sandboxes", {"language": "sh", "memory": "256M", "pids": 64})
    assert r.status == 201, r
    sb = r.body
    assert sb["id"].startswith("sb_n7_") and len(sb["id"]) == len("sb_n7_") + 24
    int(sb["id"][-24:], 16)
    assert sb["state"] == "idle" and sb["language"] == "sh" and sb["node"] == "n7"
    assert sb["limits"]["memory"] == 256 << 20 and sb["limits"]["pids"] == 64
    sid = sb["id"]
    r = d.request("GET", "/v1/sandboxes")
    assert [s["id"] for s in r.body["sandboxes"]] == [sid]
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"code": "echo hi; echo err >&2; exit 3"})
    assert r.status == 200, r
    keys = ["exit_code", "signal", "reason", "wall_ms", "cpu_ms", "peak_memory_bytes",
            "stdout", "stderr", "stdout_truncated", "stderr_truncated", "stdout_total_bytes",
            "stderr_total_bytes", "limits_hit", "seccomp_denials", "sandbox_id"]
    assert list(r.body) == keys
    assert r.body["exit_code"] == 3 and r.body["reason"] == "exited"
    assert r.body["stdout"] == "hi\n" and r.body["stderr"] == "err\n"
    assert r.body["sandbox_id"] == sid
    # files persist across execs
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["sh", "-c", "echo x > f; cat f"]})
    assert r.body["stdout"] == "x\n"
    r = d.request("GET", f"/v1/sandboxes/{sid}")
    assert r.status == 200 and r.body["usage"]["execs"] == 2
    r = d.request("DELETE", f"/v1/sandboxes/{sid}")
    assert r.status == 204 and r.data == b""
    assert d.request("GET", f"/v1/sandboxes/{sid}").status == 404
    assert d.request("GET", "/v1/sandboxes").body == {"sandboxes": []}


def test_exec_failed_program_is_the_cli_failed_object(petrid):
    d = petrid()
    sid = create(d)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["/nonexistent"]})
    assert r.status == 200
    assert r.body["reason"] == "failed" and r.body["exit_code"] == 127 and r.body["error"]


def test_exec_stdin_env_cwd_args(petrid):
    d = petrid()
    sid = create(d, language="sh")
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec",
                  {"code": 'read x; echo "$x $V $1"; pwd', "args": ["a1"], "stdin": "in\n",
                   "env": {"V": "v"}, "cwd": "/tmp"})
    assert r.body["stdout"] == "in v a1\n/tmp\n", r
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["cat"], "stdin_b64": "AAEC/w=="})
    assert r.body["stdout_total_bytes"] == 4


def test_exec_timeout_and_cancel(petrid):
    d = petrid()
    sid = create(d)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "5"], "timeout": 0.3})
    assert r.body["reason"] == "timeout"
    r = d.request("POST", f"/v1/sandboxes/{sid}/cancel")
    assert r.status == 200 and r.body == {"cancelled": False}


def test_errors(petrid):
    d = petrid()
    sid = create(d)
    cases = [
        ("POST", "/v1/sandboxes", b"{", {"Content-Type": "application/json"}, 400, "bad_json"),
        ("POST", "/v1/sandboxes", b"[1]", {"Content-Type": "application/json"}, 400, "bad_json"),
        ("POST", "/v1/sandboxes", b'{"a": NaN}', {"Content-Type": "application/json"}, 400, "bad_json"),
        ("POST", "/v1/sandboxes", b'{} x', {"Content-Type": "application/json"}, 400, "bad_json"),
        ("POST", "/v1/sandboxes", {"bogus": 1}, None, 400, "unknown_field"),
        ("POST", "/v1/sandboxes", {"binds": ["/:/x"]}, None, 400, "unknown_field"),
        ("POST", "/v1/sandboxes", {"id": "x"}, None, 400, "unknown_field"),
        ("POST", "/v1/sandboxes", {"pids": "many"}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"memory": -1}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"memory": "12Q"}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"timeout": True}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"language": "cobol"}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"net": "wifi"}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"net": "host"}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", {"allow": ["example.com"]}, None, 400, "invalid_argument"),
        ("POST", "/v1/sandboxes", b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"code": "x", "argv": ["x"]}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": "ls"}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": []}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["ls"], "stdin_b64": "!!"}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["ls"], "timeout": -1}, None, 400, "invalid_argument"),
        ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["ls"], "wat": 1}, None, 400, "unknown_field"),
        ("POST", f"/v1/sandboxes/{sid}/keepalive", {"ttl": 1}, None, 400, "unknown_field"),
        ("GET", "/v2/sandboxes", None, None, 404, "not_found"),
        ("GET", "/", None, None, 404, "not_found"),
        ("GET", f"/v1/sandboxes/{sid}/nope", None, None, 404, "not_found"),
        ("GET", "/v1/sandboxes/sb_n1_000000000000000000000000", None, None, 404, "sandbox_not_found"),
        ("GET", "/v1/sandboxes/..%2f..", None, None, 404, "sandbox_not_found"),
        ("GET", f"/v1/sandboxes/{sid}/files/a/../../etc/passwd", None, None, 400, "unsafe_path"),
        ("GET", f"/v1/sandboxes/{sid}/files/%2e%2e/x", None, None, 400, "unsafe_path"),
        ("GET", f"/v1/sandboxes/{sid}/files/a%00b", None, None, 400, "invalid_argument"),
        ("GET", f"/v1/sandboxes/{sid}/files/nothere", None, None, 404, "file_not_found"),
        ("PUT", f"/v1/sandboxes/{sid}/files/x?mode=9", b"", None, 400, "invalid_argument"),
    ]
    for method, path, body, headers, status, code in cases:
        r = d.request(method, path, body, headers=headers)
        assert r.status == status, (method, path, body, r)
        assert r.headers["content-type"] == "application/json"
        assert set(r.body) == {"error"} and r.body["error"]["code"] == code, (path, body, r)
        assert r.body["error"]["message"]
    # the message names the field
    r = d.request("POST", "/v1/sandboxes", {"bogus": 1})
    assert "bogus" in r.body["error"]["message"]
    r = d.request("POST", "/v1/sandboxes", {"pids": "many"})
    assert "pids" in r.body["error"]["message"]
    # nothing was left behind by the failed creates
    assert len(d.request("GET", "/v1/sandboxes").body["sandboxes"]) == 1


def test_405_lists_allowed_methods(petrid):
    d = petrid()
    sid = create(d)
    for method, path, allow in [("DELETE", "/v1/sandboxes", "GET, POST"),
                                ("PUT", f"/v1/sandboxes/{sid}", "GET, DELETE"),
                                ("GET", f"/v1/sandboxes/{sid}/exec", "POST"),
                                ("POST", "/healthz", "GET"),
                                ("PATCH", f"/v1/sandboxes/{sid}", "GET, DELETE"),
                                ("POST", f"/v1/sandboxes/{sid}/files/x", "GET, PUT, DELETE")]:
        r = d.request(method, path)
        assert r.status == 405, (method, path, r)
        assert r.headers["allow"] == allow
        assert r.body["error"]["code"] == "method_not_allowed"


def test_401(petrid):
    d = petrid()
    for token in ["", "wrong", d.admin_token]:
        r = d.request("GET", "/v1/sandboxes", token=token)
        assert r.status == 401, token
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.body["error"]["code"] == "unauthorized"
    r = d.request("GET", "/v1/sandboxes", headers={"Authorization": "Basic " + d.tokens["acme"]},
                  token="")
    assert r.status == 401


def test_413_without_reading_the_body(petrid):
    d = petrid(max_body_bytes=1024)
    r = d.request("POST", "/v1/sandboxes", b"{" + b" " * 2000 + b"}",
                  headers={"Content-Type": "application/json"})
    assert r.status == 413 and r.body["error"]["code"] == "body_too_large"
    # A huge announced body is refused at once: the answer comes before we send it.
    s = socket.create_connection((d.host, d.port), timeout=10)
    s.sendall(b"PUT /v1/sandboxes/x/files/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + d.tokens["acme"].encode() + b"\r\nContent-Length: 10000000000\r\n\r\n")
    head = s.recv(4096)
    s.close()
    assert head.startswith(b"HTTP/1.1 413"), head


def test_quotas(petrid):
    d = petrid(tenants={"acme": {"max_sandboxes": 2, "max_memory": "600M", "max_ttl": 100,
                                 "max_exec_timeout": 5, "max_execs": 1}})

    def q(r, name):
        assert r.status == 429, r
        assert r.body["error"]["code"] == "quota_exceeded"
        assert r.body["error"]["quota"] == name
        assert name in r.body["error"]["message"]

    a = create(d, memory="256M")
    q(d.request("POST", "/v1/sandboxes", {"memory": "512M"}), "max_memory")
    q(d.request("POST", "/v1/sandboxes", {"timeout": 101}), "max_ttl")
    b = create(d, memory="256M")
    q(d.request("POST", "/v1/sandboxes", {"memory": "1M"}), "max_sandboxes")
    q(d.request("POST", f"/v1/sandboxes/{a}/exec", {"argv": ["true"], "timeout": 6}),
      "max_exec_timeout")
    q(d.request("POST", f"/v1/sandboxes/{a}/keepalive", {"timeout": 1000}), "max_ttl")
    s = d.stream(f"/v1/sandboxes/{a}/exec", {"argv": ["sleep", "3"]})
    assert s.status == 200
    q(d.request("POST", f"/v1/sandboxes/{b}/exec", {"argv": ["true"]}), "max_execs")
    s.close()
    # deleting frees the quota
    assert d.request("DELETE", f"/v1/sandboxes/{b}").status == 204
    create(d, memory="256M")


def test_global_max_execs(petrid):
    d = petrid(max_execs=1, tenants={"acme": {}, "other": {}})
    a = create(d, tenant="acme")
    b = create(d, tenant="other")
    s = d.stream(f"/v1/sandboxes/{a}/exec", {"argv": ["sleep", "3"]}, tenant="acme")
    r = d.request("POST", f"/v1/sandboxes/{b}/exec", {"argv": ["true"]}, tenant="other")
    assert r.status == 429 and r.body["error"]["code"] == "too_many_execs"
    assert r.headers["retry-after"] == "1"
    s.close()


def test_busy(petrid):
    d = petrid()
    a = create(d)
    s = d.stream(f"/v1/sandboxes/{a}/exec", {"argv": ["sleep", "3"]})
    r = d.request("POST", f"/v1/sandboxes/{a}/exec", {"argv": ["true"]})
    assert r.status == 409 and r.body["error"]["code"] == "sandbox_busy"
    r = d.request("PUT", f"/v1/sandboxes/{a}/files/x", b"1")
    assert r.status == 409 and r.body["error"]["code"] == "sandbox_busy"
    s.close()


def test_cross_tenant_is_404(petrid):
    d = petrid(tenants={"acme": {}, "evil": {}})
    sid = create(d, tenant="acme")
    assert d.request("PUT", f"/v1/sandboxes/{sid}/files/f", b"secret", tenant="acme").status == 204
    mine = d.request("GET", "/v1/sandboxes/sb_n1_ffffffffffffffffffffffff", tenant="evil")
    for method, path, body in [("GET", f"/v1/sandboxes/{sid}", None),
                               ("DELETE", f"/v1/sandboxes/{sid}", None),
                               ("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]}),
                               ("POST", f"/v1/sandboxes/{sid}/cancel", None),
                               ("POST", f"/v1/sandboxes/{sid}/keepalive", None),
                               ("GET", f"/v1/sandboxes/{sid}/files/f", None),
                               ("PUT", f"/v1/sandboxes/{sid}/files/f", b"x"),
                               ("DELETE", f"/v1/sandboxes/{sid}/files/f", None),
                               ("GET", f"/v1/sandboxes/{sid}/files", None)]:
        r = d.request(method, path, body, tenant="evil")
        assert r.status == 404, (method, path, r)
        assert r.body == mine.body, (method, path, r)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]}, tenant="evil")
    assert s.status == 404
    assert d.request("GET", "/v1/sandboxes", tenant="evil").body == {"sandboxes": []}
    # untouched
    assert d.request("GET", f"/v1/sandboxes/{sid}/files/f", tenant="acme").data == b"secret"
    m = d.request("GET", "/metrics", tenant="evil").data.decode()
    assert 'tenant="acme"' not in m and 'tenant="evil"' in m
    m = d.request("GET", "/metrics", token=d.admin_token).data.decode()
    assert 'petrid_sandboxes_live{tenant="acme"} 1' in m


def test_files(petrid):
    d = petrid()
    sid = create(d)
    base = f"/v1/sandboxes/{sid}/files"
    blob = bytes(range(256)) * 100
    assert d.request("PUT", base + "/dir/sub/b%20in.bin?mode=0755", blob).status == 204
    r = d.request("GET", base + "/dir/sub/b%20in.bin")
    assert r.status == 200 and r.data == blob
    assert r.headers["content-type"] == "application/octet-stream"
    r = d.request("GET", base + "/dir/sub/")
    assert r.status == 200 and r.body["truncated"] is False
    (e,) = r.body["entries"]
    assert e["name"] == "b in.bin" and e["type"] == "file" and e["size"] == len(blob)
    assert e["mode"] == 0o755 and isinstance(e["mtime"], float)
    r = d.request("GET", base)
    assert [x["name"] for x in r.body["entries"]] == ["dir"] and r.body["entries"][0]["type"] == "dir"
    assert d.request("DELETE", base + "/dir/sub").status == 400  # not empty
    assert d.request("DELETE", base + "/dir/sub/b%20in.bin").status == 204
    assert d.request("GET", base + "/dir/sub/b%20in.bin").status == 404
    # a symlink planted by the code is refused on the way
    d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["ln", "-s", "/etc", "/workspace/l"]})
    r = d.request("GET", base + "/l/passwd")
    assert r.status == 400 and r.body["error"]["code"] == "unsafe_path"
    r = d.request("GET", base + "/")
    names = {x["name"]: x["type"] for x in r.body["entries"]}
    assert names["l"] == "symlink"


def test_ttl_expiry_and_tombstone(petrid):
    d = petrid(tenants={"acme": {"max_ttl": 60}})
    sid = create(d, timeout=1)
    keep = create(d, timeout=1.5)
    import time
    t0 = time.monotonic()
    # reads do not renew
    while time.monotonic() - t0 < 0.8:
        assert d.request("GET", f"/v1/sandboxes/{sid}").status == 200
        time.sleep(0.1)
    assert d.request("POST", f"/v1/sandboxes/{keep}/keepalive").status == 200
    r = wait_for(lambda: d.request("GET", f"/v1/sandboxes/{sid}").status == 410, timeout=5)
    assert r, "not expired"
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]})
    assert r.status == 410 and r.body["error"]["code"] == "sandbox_expired"
    # the kept-alive one outlives it; then keepalive with a new timeout
    assert d.request("GET", f"/v1/sandboxes/{keep}").status == 200
    r = d.request("POST", f"/v1/sandboxes/{keep}/keepalive", {"timeout": 30})
    assert r.status == 200 and r.body["timeout"] == 30
    time.sleep(2)
    assert d.request("GET", f"/v1/sandboxes/{keep}").status == 200
    # another tenant never sees the tombstone
    m = d.request("GET", "/metrics", tenant="acme").data.decode()
    assert 'petrid_sandboxes_destroyed_total{tenant="acme",reason="expired"} 1' in m


def test_running_exec_never_expires(petrid):
    d = petrid()
    sid = create(d, timeout=1)
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "2.5"]})
    assert r.status == 200 and r.body["reason"] == "exited"
    assert d.request("GET", f"/v1/sandboxes/{sid}").status == 200


def test_unix_socket(petrid):
    d = petrid(unix=True)
    r = d.request("GET", "/healthz", token="", unix=True)
    assert r.status == 200
    import os
    import stat
    assert stat.S_IMODE(os.stat(d.unix_path).st_mode) == 0o660


def test_concurrent_deletes(petrid):
    import threading
    d = petrid()
    for _ in range(3):
        sid = create(d)
        s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "30"]})
        codes = []
        barrier = threading.Barrier(6)

        def delete():
            barrier.wait()
            codes.append(d.request("DELETE", f"/v1/sandboxes/{sid}").status)

        ts = [threading.Thread(target=delete) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
        assert sorted(codes)[0] == 204 and codes.count(204) == 1, codes
        assert set(codes) <= {204, 404}, codes
        assert list(s.events())[-1][0] == "result"
        assert d.request("GET", f"/v1/sandboxes/{sid}").status == 404
    # nothing was left stuck: the pool still serves
    assert d.request("DELETE", f"/v1/sandboxes/{create(d)}").status == 204
