# SPDX-License-Identifier: Apache-2.0
"""Streaming execs (Server-Sent Events) and client disconnects."""
import os
import socket
import time

from conftest import wait_for


def create(d, tenant=None, **body):
    r = d.request("POST", "/v1/sandboxes", body, tenant=tenant)
    assert r.status == 201, r
    return r.body["id"]


def test_stream_chunks_then_result(petrid):
    d = petrid()
    sid = create(d, language="sh")
    s = d.stream(f"/v1/sandboxes/{sid}/exec",
                 {"code": "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done; exit 4"})
    assert s.status == 200 and s.headers["content-type"] == "text/event-stream"
    events = list(s.events())
    names = [e for e, _ in events]
    assert names[-1] == "result" and names.count("result") == 1
    assert set(names[:-1]) <= {"stdout", "stderr"}
    out = "".join(d["data"] for e, d in events if e == "stdout")
    err = "".join(d["data"] for e, d in events if e == "stderr")
    assert out == "out1\nout2\nout3\n" and err == "err1\nerr2\nerr3\n"
    res = events[-1][1]
    assert res["exit_code"] == 4 and res["stdout"] == out and res["sandbox_id"] == sid
    # it streamed: several stdout events, not one at the end
    assert names.count("stdout") >= 2


def test_stream_utf8_held_across_chunks(petrid):
    d = petrid()
    sid = create(d, language="python")
    # "é" (c3 a9) and "€" (e2 82 ac) split across writes, then a lone bad byte.
    code = ("import os, time\n"
            "for b in [b'a\\xc3', b'\\xa9b\\xe2', b'\\x82', b'\\xacc', b'\\xff', b'\\xf0\\x9f']:\n"
            "    os.write(1, b); time.sleep(0.15)\n")
    events = list(d.stream(f"/v1/sandboxes/{sid}/exec", {"code": code}).events())
    chunks = [d["data"] for e, d in events if e == "stdout"]
    assert "".join(chunks) == "aébé€c\ufffd\ufffd"[:0] + "a\u00e9b\u20acc\ufffd\ufffd"
    for c in chunks:
        c.encode("utf-8")  # each chunk is valid text on its own
    assert len(chunks) >= 3


def test_stream_heartbeat(petrid):
    d = petrid()
    sid = create(d)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "6"]})
    t0 = time.monotonic()
    events = []
    for e, data in s.events():
        events.append((e, data, time.monotonic() - t0))
    names = [e for e, _, _ in events]
    assert names[-1] == "result" and "heartbeat" in names, names
    hb = [(d, t) for e, d, t in events if e == "heartbeat"][0]
    assert 4.5 <= hb[1] <= 6.5 and 4500 <= hb[0]["t_ms"] <= 6500


def test_stream_gap_when_client_reads_slowly(petrid):
    d = petrid()
    sid = create(d, language="python")
    # 24 MiB of output, not read for a while: chunks beyond 4 MiB are dropped.
    code = "import sys\nfor i in range(24):\n    sys.stdout.write('x' * (1 << 20)); sys.stdout.flush()\n"
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"code": code, "output_kill": "1G"}, timeout=120)
    time.sleep(4)
    got, dropped, result = 0, 0, None
    for e, data in s.events():
        if e == "stdout":
            got += len(data["data"])
        elif e == "gap":
            assert data["stream"] == "stdout"
            dropped += data["dropped_bytes"]
        elif e == "result":
            result = data
    assert result and result["reason"] == "exited" and result["stdout_total_bytes"] == 24 << 20
    assert dropped > 0 and got + dropped == 24 << 20


def test_stream_ends_with_result_when_deleted(petrid):
    d = petrid()
    sid = create(d)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "30"]})
    time.sleep(0.5)
    t0 = time.monotonic()
    assert d.request("DELETE", f"/v1/sandboxes/{sid}").status == 204
    events = list(s.events())
    assert time.monotonic() - t0 < 5
    assert [e for e, _ in events] == ["result"]
    assert events[0][1]["reason"] == "killed"
    assert d.request("GET", f"/v1/sandboxes/{sid}").status == 404


def test_stream_ends_with_result_when_sandbox_dies(petrid):
    d = petrid()
    sid = create(d)
    # kill the sandbox's init from outside
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "30"]})
    time.sleep(0.5)
    import subprocess
    pids = subprocess.run(["pgrep", "-P", str(d.pid)], capture_output=True, text=True).stdout.split()
    inits = [p for p in pids if open(f"/proc/{p}/comm").read().strip() != "petrid-undertkr"]
    assert inits
    for p in inits:
        os.kill(int(p), 9)
    events = list(s.events())
    assert [e for e, _ in events][-1] in ("result", "error")
    if events[-1][0] == "result":
        # the exec's processes die with init's pid namespace
        assert events[-1][1]["reason"] in ("sandbox_died", "signaled")
    r = d.request("GET", f"/v1/sandboxes/{sid}")
    assert r.body["state"] == "dead"
    r = d.request("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]})
    assert r.status == 409 and r.body["error"]["code"] == "sandbox_dead"
    assert d.request("DELETE", f"/v1/sandboxes/{sid}").status == 204


def test_cancel_route_ends_stream_with_killed(petrid):
    d = petrid()
    sid = create(d)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "30"]})
    time.sleep(0.3)
    r = d.request("POST", f"/v1/sandboxes/{sid}/cancel")
    assert r.body == {"cancelled": True}
    events = list(s.events())
    assert events[-1][0] == "result" and events[-1][1]["reason"] == "killed"


def _state(d, sid):
    return d.request("GET", f"/v1/sandboxes/{sid}").body["state"]


def test_stream_client_disconnect_cancels(petrid):
    d = petrid()
    sid = create(d)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "30"]})
    time.sleep(0.5)
    assert _state(d, sid) == "running"
    s.close()
    assert wait_for(lambda: _state(d, sid) == "idle", timeout=2), "exec not cancelled"
    assert "client went away" in d.log()


def test_plain_exec_client_disconnect_cancels(petrid):
    d = petrid()
    sid = create(d)
    c = d.connection()
    c.request("POST", f"/v1/sandboxes/{sid}/exec", body=b'{"argv": ["sleep", "30"]}',
              headers={"Authorization": "Bearer " + d.tokens["acme"],
                       "Content-Type": "application/json"})
    time.sleep(0.5)
    assert _state(d, sid) == "running"
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    assert wait_for(lambda: _state(d, sid) == "idle", timeout=2), "exec not cancelled"
    r = d.request("GET", f"/v1/sandboxes/{sid}")
    assert r.body["usage"]["execs"] == 1


def test_idle_stream_costs_no_cpu(petrid):
    d = petrid()
    sid = create(d)
    s = d.stream(f"/v1/sandboxes/{sid}/exec", {"argv": ["sleep", "4"]})
    time.sleep(0.5)

    def cpu():
        with open(f"/proc/{d.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, ticks

    c0, t0 = cpu(), time.monotonic()
    time.sleep(3)
    used = (cpu() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    events = list(s.events())
    assert events[-1][0] == "result"
    assert used < 0.02, "petrid used %.1f%% CPU with an idle stream" % (used * 100)
