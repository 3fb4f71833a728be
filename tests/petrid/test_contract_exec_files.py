"""The exec result, files and metrics as docs/petrid.md gives them: the
result is `petri run --json`'s object, every request field does what it
says, files round-trip with the library's rules, /metrics counts what
happened."""

import base64
import re

import pytest

from contract import Petrid, metric_value

RESULT_KEYS = {"exit_code", "signal", "reason", "wall_ms", "cpu_ms", "peak_memory_bytes", "stdout",
               "stderr", "stdout_truncated", "stderr_truncated", "stdout_total_bytes",
               "stderr_total_bytes", "limits_hit", "seccomp_denials", "sandbox_id"}
SANDBOX_KEYS = {"id", "node", "language", "state", "created", "last_active", "expires", "timeout",
                "net", "allow", "secrets", "limits", "usage"}


@pytest.fixture(scope="module")
def pd():
    p = Petrid({"a": {"max_sandboxes": 4, "languages": ["sh", "python"],
                      "defaults": {"language": "sh", "memory": "128M", "timeout": 120}}},
               request_timeout=5)
    p.start()
    yield p
    p.close()


@pytest.fixture
def sb(pd):
    s = pd.create()
    yield s["id"]
    pd.delete(s["id"])


def test_create_returns_the_sandbox_object(pd):
    r = pd.request("POST", "/v1/sandboxes", {"memory": "96M", "pids": 50, "env": {"GREETING": "hi"}})
    assert r.status == 201, r
    s = r.json
    try:
        assert SANDBOX_KEYS <= set(s), SANDBOX_KEYS - set(s)
        assert re.fullmatch(r"sb_t1_[0-9a-f]{24}", s["id"]) and s["node"] == "t1"
        assert s["language"] == "sh" and s["state"] == "idle" and s["net"] == "none"
        assert s["limits"]["memory"] == 96 << 20 and s["limits"]["pids"] == 50
        assert s["usage"]["execs"] == 0
        assert pd.get(s["id"]).json["id"] == s["id"]
        r = pd.exec(s["id"], argv=["sh", "-c", 'echo "$GREETING"'])
        assert r.json["stdout"] == "hi\n", r
        assert pd.get(s["id"]).json["usage"]["execs"] == 1
    finally:
        assert pd.delete(s["id"]).status == 204
    r = pd.delete(s["id"])
    assert r.status == 404 and r.json["error"]["code"] == "sandbox_not_found", r


def test_exec_result_is_the_cli_json_object(pd, sb):
    r = pd.exec(sb, argv=["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert r.status == 200 and r.headers["content-type"].startswith("application/json"), r
    res = r.json
    assert RESULT_KEYS <= set(res), RESULT_KEYS - set(res)
    assert (res["exit_code"], res["signal"], res["reason"]) == (3, None, "exited")
    assert (res["stdout"], res["stderr"]) == ("out\n", "err\n")
    assert res["stdout_total_bytes"] == 4 and res["stdout_truncated"] is False
    assert res["limits_hit"] == [] and res["sandbox_id"] == sb
    assert isinstance(res["wall_ms"], (int, float)) and res["wall_ms"] > 0


@pytest.mark.parametrize("argv,code", [(["/no/such/program"], 127), (["/etc/passwd"], 126)])
def test_exec_that_cannot_start_is_failed(pd, sb, argv, code):
    res = pd.exec(sb, argv=argv).json
    assert res["reason"] == "failed" and res["exit_code"] == code and res.get("error"), res


def test_exec_fields(pd, sb):
    assert pd.exec(sb, argv=["cat"], stdin="in put").json["stdout"] == "in put"
    raw = bytes(range(256))
    r = pd.exec(sb, argv=["sh", "-c", "wc -c"], stdin_b64=base64.b64encode(raw).decode())
    assert r.json["stdout"].strip() == "256", r
    assert pd.exec(sb, argv=["sh", "-c", 'echo "$X"'], env={"X": "y"}).json["stdout"] == "y\n"
    pd.request("PUT", f"/v1/sandboxes/{sb}/files/sub/keep", b"")
    assert pd.exec(sb, argv=["pwd"], cwd="/workspace/sub").json["stdout"] == "/workspace/sub\n"
    assert pd.exec(sb, code='echo "$0 $1"', args=["one"]).json["stdout"].endswith("one\n")
    res = pd.exec(sb, argv=["sleep", "10"], timeout=0.5).json
    assert res["reason"] == "timeout" and "timeout" in res["limits_hit"], res
    res = pd.exec(sb, argv=["sh", "-c", "head -c 5000 /dev/zero"], stdout_limit=1000).json
    assert res["stdout_truncated"] is True and len(res["stdout"]) == 1000, res
    assert res["stdout_total_bytes"] == 5000
    res = pd.exec(sb, code="print(6 * 7)", language="python").json
    assert res["stdout"] == "42\n", res


def test_files_round_trip(pd, sb):
    data = bytes(range(256)) * 10
    assert pd.request("PUT", f"/v1/sandboxes/{sb}/files/deep/er/f.bin", data).status == 204
    r = pd.request("GET", f"/v1/sandboxes/{sb}/files/deep/er/f.bin")
    assert r.status == 200 and r.body == data
    assert r.headers["content-type"].startswith("application/octet-stream")
    assert pd.request("PUT", f"/v1/sandboxes/{sb}/files/run.sh?mode=0755", b"#!/bin/sh\necho ran\n").status == 204
    assert pd.exec(sb, argv=["/workspace/run.sh"]).json["stdout"] == "ran\n"
    assert pd.request("PUT", f"/v1/sandboxes/{sb}/files/a%20b.txt", b"sp").status == 204
    assert pd.exec(sb, argv=["cat", "/workspace/a b.txt"]).json["stdout"] == "sp"
    assert pd.request("PUT", f"/v1/sandboxes/{sb}/files/x?mode=9z", b"").status == 400


def test_listing(pd, sb):
    for name in ("b.txt", "a.txt", "d/inner"):
        pd.request("PUT", f"/v1/sandboxes/{sb}/files/{name}", b"12345")
    pd.exec(sb, argv=["ln", "-s", "a.txt", "/workspace/link"])
    for path in ("files", "files/"):
        r = pd.request("GET", f"/v1/sandboxes/{sb}/{path}")
        assert r.status == 200, r
        lst = r.json
        assert lst["truncated"] is False
        names = [e["name"] for e in lst["entries"]]
        assert names == ["a.txt", "b.txt", "d", "link"], names
        types = {e["name"]: e["type"] for e in lst["entries"]}
        assert types == {"a.txt": "file", "b.txt": "file", "d": "dir", "link": "symlink"}
        assert [e["size"] for e in lst["entries"] if e["name"] == "a.txt"] == [5]
    r = pd.request("GET", f"/v1/sandboxes/{sb}/files/d/")
    assert r.status == 200 and [e["name"] for e in r.json["entries"]] == ["inner"], r
    # delete: a symlink itself, an empty dir; not a non-empty one
    assert pd.request("DELETE", f"/v1/sandboxes/{sb}/files/link").status == 204
    assert pd.request("GET", f"/v1/sandboxes/{sb}/files/a.txt").body == b"12345"
    assert pd.request("DELETE", f"/v1/sandboxes/{sb}/files/d").status >= 400
    assert pd.request("DELETE", f"/v1/sandboxes/{sb}/files/d/inner").status == 204
    assert pd.request("DELETE", f"/v1/sandboxes/{sb}/files/d").status == 204
    names = [e["name"] for e in pd.request("GET", f"/v1/sandboxes/{sb}/files").json["entries"]]
    assert names == ["a.txt", "b.txt"]


def test_metrics_count_what_happened(pd):
    m0 = pd.metrics("admin")

    def v(text, name, **lab):
        return metric_value(text, name, tenant="a", **lab) or 0

    sid = pd.create()["id"]
    pd.exec(sid, argv=["true"])
    pd.exec(sid, argv=["sleep", "5"], timeout=0.3)
    pd.delete(sid)
    m1 = pd.metrics("admin")
    assert v(m1, "petrid_sandboxes_created_total") == v(m0, "petrid_sandboxes_created_total") + 1
    assert v(m1, "petrid_sandboxes_destroyed_total", reason="deleted") == \
        v(m0, "petrid_sandboxes_destroyed_total", reason="deleted") + 1
    assert v(m1, "petrid_execs_total", reason="exited") == v(m0, "petrid_execs_total", reason="exited") + 1
    assert v(m1, "petrid_execs_total", reason="timeout") == v(m0, "petrid_execs_total", reason="timeout") + 1
    assert v(m1, "petrid_exec_duration_seconds_count") == v(m0, "petrid_exec_duration_seconds_count") + 2
    assert v(m1, "petrid_sandboxes_live") == v(m0, "petrid_sandboxes_live")
    assert "petrid_build_info" in m1
    r = pd.request("GET", "/metrics", token="admin")
    assert r.headers["content-type"].startswith("text/plain"), r.headers


def test_large_file_get_and_chunked_put(pd, sb):
    import hashlib
    r = pd.exec(sb, argv=["sh", "-c", "head -c 10485760 /dev/urandom > /workspace/big && sha256sum /workspace/big"])
    want = r.json["stdout"].split()[0]
    g = pd.request("GET", f"/v1/sandboxes/{sb}/files/big", timeout=60)
    assert g.status == 200 and len(g.body) == 10485760, (g.status, len(g.body))
    assert hashlib.sha256(g.body).hexdigest() == want
    # a PUT whose body comes in chunks (no Content-Length)
    data = b"chunk" * 50000
    c = pd.conn()
    try:
        c.putrequest("PUT", f"/v1/sandboxes/{sb}/files/chunked.bin")
        c.putheader("Authorization", "Bearer " + pd.tokens["a"])
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for i in range(0, len(data), 65536):
            part = data[i:i + 65536]
            c.send(b"%x\r\n" % len(part) + part + b"\r\n")
        c.send(b"0\r\n\r\n")
        resp = c.getresponse()
        resp.read()
        assert resp.status == 204, resp.status
    finally:
        c.close()
    assert pd.request("GET", f"/v1/sandboxes/{sb}/files/chunked.bin").body == data


@pytest.mark.parametrize("fields,script,reason,limit", [
    ({"cpu": 0.5}, "while :; do :; done", "cpu", "cpu"),
    ({"file_size": 65536}, "exec head -c 1000000 /dev/zero > /workspace/fs", "file_size", "file_size"),
    ({"output_kill": 10000}, "head -c 1000000 /dev/zero", "output_limit", "output"),
])
def test_exec_limits_end_the_exec_with_their_reason(pd, sb, fields, script, reason, limit):
    res = pd.exec(sb, argv=["sh", "-c", script], timeout=20, **fields).json
    assert res["reason"] == reason and limit in res["limits_hit"], res
