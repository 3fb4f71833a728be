"""Exec streams (docs/petrid.md, "Streaming"): chunks concatenate to the
output, a heartbeat every 5 s of silence, exactly one final `result` or
`error` event and then the end of the response, whatever happens to the
sandbox (deleted, its init killed, memory blown); a slow reader still gets
its result without slowing the exec; a client that disconnects cancels it.
request_timeout is short here (3 s): a long exec is not an idle connection."""

import os
import signal
import socket
import time

import pytest

from contract import (Petrid, Stream, alive, final_events, pids_with_cmdline, read_all_events,
                      run_marker, sandbox_init_of, wait_for)


@pytest.fixture(scope="module")
def pd():
    p = Petrid({"a": {"max_sandboxes": 6, "max_execs": 4, "max_exec_timeout": 60,
                      "defaults": {"language": "sh", "memory": "128M", "timeout": 60}}},
               request_timeout=3)
    p.start()
    yield p
    p.close()


@pytest.fixture
def sb(pd):
    s = pd.create()
    yield s["id"]
    pd.delete(s["id"])


def check_well_formed(s, evs):
    """200 text/event-stream, exactly one final event and it is the last."""
    assert s.status == 200, s.status
    assert s.resp.getheader("Content-Type", "").startswith("text/event-stream")
    finals = final_events(evs)
    assert len(finals) == 1, [e[0] for e in evs]
    assert evs[-1] is finals[0], [e[0] for e in evs][-5:]
    return finals[0]


def joined(evs, name):
    return "".join(e[1]["data"] for e in evs if e[0] == name)


def test_chunks_concatenate_to_the_output(pd, sb):
    script = ("for i in $(seq 1 300); do echo line$i; done; echo to-err >&2; sleep 0.3; "
              "for i in $(seq 301 400); do echo line$i; done; printf tail")
    s = Stream(pd, sb, {"argv": ["sh", "-c", script]})
    evs = read_all_events(s)
    name, res, _ = check_well_formed(s, evs)
    assert name == "result", res
    want = "".join(f"line{i}\n" for i in range(1, 401)) + "tail"
    assert joined(evs, "stdout") == want
    assert joined(evs, "stderr") == "to-err\n"
    assert res["stdout"] == want and res["exit_code"] == 0 and res["reason"] == "exited"
    assert res["sandbox_id"] == sb
    assert len([e for e in evs if e[0] == "stdout"]) >= 2  # it did stream, in more than one piece


def test_split_utf8_sequence_is_sent_whole(pd, sb):
    s = Stream(pd, sb, {"argv": ["sh", "-c", r"printf 'a\303'; sleep 0.5; printf '\251b\377'"]})
    evs = read_all_events(s)
    check_well_formed(s, evs)
    out = joined(evs, "stdout")
    assert out == "a\u00e9b\ufffd", repr(out)


def test_heartbeat_on_a_silent_exec(pd, sb):
    s = Stream(pd, sb, {"argv": ["sleep", "7"], "timeout": 20})
    evs = read_all_events(s)
    name, res, t_end = check_well_formed(s, evs)
    beats = [e for e in evs if e[0] == "heartbeat"]
    assert beats, [e[0] for e in evs]
    assert beats[0][2] < 6.5, f"first heartbeat after {beats[0][2]:.1f}s"
    assert isinstance(beats[0][1].get("t_ms"), int), beats[0]
    assert name == "result" and res["exit_code"] == 0, res


def test_long_silent_exec_outlives_request_timeout_unstreamed(pd, sb):
    r = pd.exec(sb, argv=["sleep", "5"], timeout=20)
    assert r.status == 200 and r.json["exit_code"] == 0 and r.json["reason"] == "exited", r


def wait_running(pd, sid, timeout=10):
    assert wait_for(lambda: pd.get(sid).json.get("state") == "running", timeout), pd.get(sid)


def test_stream_ends_when_the_sandbox_is_deleted(pd):
    sid = pd.create()["id"]
    s = Stream(pd, sid, {"argv": ["sh", "-c", "echo started; sleep 30"], "timeout": 40})
    first = s.next_event()  # it runs
    assert first and first[0] == "stdout", first
    t0 = time.monotonic()
    r = pd.delete(sid)
    assert r.status == 204, r
    evs = [first] + read_all_events(s)
    assert time.monotonic() - t0 < 5, "the stream did not end promptly"
    name, res, _ = check_well_formed(s, evs)
    assert name == "result", (name, res)
    assert res["reason"] in ("killed", "sandbox_died"), res
    assert joined(evs, "stdout") == "started\n"
    assert pd.get(sid).status == 404


def test_stream_ends_when_the_sandbox_init_dies(pd):
    sid = pd.create()["id"]
    try:
        mark = run_marker()
        s = Stream(pd, sid, {"argv": ["sleep", mark], "timeout": 40})
        wait_running(pd, sid)
        pids = wait_for(lambda: pids_with_cmdline("sleep " + mark), 5)
        assert len(pids) == 1, pids
        init = sandbox_init_of(pids[0])
        assert init and init != pids[0]
        t0 = time.monotonic()
        os.kill(init, signal.SIGKILL)
        evs = read_all_events(s)
        assert time.monotonic() - t0 < 5, "the stream did not end promptly"
        name, res, _ = check_well_formed(s, evs)
        assert wait_for(lambda: not alive(pids[0]), 5)
        # every way the death shows, checked together
        wrong = []
        if name != "result" or res.get("reason") != "sandbox_died":
            wrong.append(f"final event {name} reason {res.get('reason')}, want result sandbox_died")
        g = pd.get(sid)
        if g.status != 200 or g.json["state"] != "dead":
            wrong.append(f"GET: {g.status} state {g.json.get('state')}, want 200 state dead")
        r = pd.exec(sid, argv=["true"])
        if r.status != 409 or r.error_code() != "sandbox_dead":
            wrong.append(f"exec: {r}, want 409 sandbox_dead")
        assert not wrong, wrong
    finally:
        assert pd.delete(sid).status == 204


def test_stream_ends_on_memory_blowup(pd):
    sid = pd.create(memory="64M")["id"]
    try:
        s = Stream(pd, sid, {"argv": ["sh", "-c", "echo go; x=aaaaaaaa; while :; do x=$x$x; done"],
                             "timeout": 30})
        t0 = time.monotonic()
        evs = read_all_events(s)
        assert time.monotonic() - t0 < 25
        name, res, _ = check_well_formed(s, evs)
        assert name == "result", res
        assert res["reason"] in ("memory", "sandbox_died"), res
        if res["reason"] == "memory":  # the sandbox lives on
            r = pd.exec(sid, argv=["echo", "ok"])
            assert r.status == 200 and r.json["stdout"] == "ok\n", r
    finally:
        pd.delete(sid)


@pytest.mark.parametrize("pause", [2, 6], ids=["pause-under-request-timeout", "pause-over-request-timeout"])
def test_slow_reader_gets_its_result_and_does_not_slow_the_exec(pd, sb, pause):
    """A reader that stops reading, for less and for more than request_timeout
    (3 s): a stream in progress is not an idle connection."""
    total = 24 * 1024 * 1024
    # a small receive buffer so that petrid's side really backs up
    s = Stream(pd, sb, {"argv": ["sh", "-c", f"head -c {total} /dev/zero | tr '\\0' a"],
                        "timeout": 40}, rcvbuf=16384, timeout=15)
    time.sleep(pause)  # read nothing while it prints
    evs = read_all_events(s)
    name, res, _ = check_well_formed(s, evs)
    assert name == "result", res
    assert res["exit_code"] == 0 and res["stdout_total_bytes"] == total, \
        {k: v for k, v in res.items() if k not in ("stdout", "stderr")}
    assert res["wall_ms"] < 5000, f"the exec waited for its reader: {res['wall_ms']} ms"
    got = len(joined(evs, "stdout"))
    dropped = sum(e[1]["dropped_bytes"] for e in evs if e[0] == "gap" and e[1]["stream"] == "stdout")
    assert got + dropped == total, (got, dropped)
    assert dropped > 0, "24 MiB were kept for a reader that slept: the 4 MiB bound is not there"


@pytest.mark.parametrize("streamed", [True, False])
def test_client_disconnect_cancels_the_exec(pd, sb, streamed):
    mark = run_marker()
    body = {"argv": ["sleep", mark], "timeout": 50}
    if streamed:
        s = Stream(pd, sb, body)
        assert s.status == 200
        sock = s.sock
    else:
        import json as _json
        sock = socket.create_connection(("127.0.0.1", pd.port))
        data = _json.dumps(body).encode()
        sock.sendall(f"POST /v1/sandboxes/{sb}/exec HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {pd.tokens['a']}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    wait_running(pd, sb)
    pids = wait_for(lambda: pids_with_cmdline("sleep " + mark), 5)
    assert pids
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    t0 = time.monotonic()
    assert wait_for(lambda: pd.get(sb).json["state"] == "idle", 5), pd.get(sb)
    assert wait_for(lambda: not any(alive(p) for p in pids), 3), "the exec's process survived"
    r = pd.exec(sb, argv=["echo", "next"])
    assert r.status == 200 and r.json["stdout"] == "next\n", r
    assert time.monotonic() - t0 < 6


def test_stream_ends_when_the_code_kills_pid_1(pd):
    """The exec's code signals the first process of its pid namespace (the
    sandbox's init, or the exec's own, whichever it reaches): the stream
    still ends with one final event, and the sandbox is usable or dead,
    nothing in between."""
    sid = pd.create()["id"]
    try:
        s = Stream(pd, sid, {"argv": ["sh", "-c", "echo before; kill -KILL 1; kill -KILL -1; sleep 3"],
                             "timeout": 30})
        t0 = time.monotonic()
        evs = read_all_events(s)
        assert time.monotonic() - t0 < 10, "the stream did not end"
        name, res, _ = check_well_formed(s, evs)
        assert name == "result", res
        g = pd.get(sid).json
        if g["state"] == "dead":
            assert res["reason"] == "sandbox_died", res
            r = pd.exec(sid, argv=["true"])
            assert r.status == 409 and r.json["error"]["code"] == "sandbox_dead", r
        else:
            assert g["state"] == "idle", g
            r = pd.exec(sid, argv=["echo", "alive"])
            assert r.status == 200 and r.json["stdout"] == "alive\n", r
    finally:
        pd.delete(sid)


def test_stream_of_a_program_that_cannot_start(pd, sb):
    s = Stream(pd, sb, {"argv": ["/no/such/program"]})
    evs = read_all_events(s)
    name, res, _ = check_well_formed(s, evs)
    assert name == "result" and res["reason"] == "failed" and res["exit_code"] == 127, res


def test_stream_chunks_stop_at_output_kill(pd, sb):
    s = Stream(pd, sb, {"argv": ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' b; sleep 5"],
                        "output_kill": 1048576, "timeout": 20})
    evs = read_all_events(s)
    name, res, _ = check_well_formed(s, evs)
    assert name == "result" and res["reason"] == "output_limit", res
    out = joined(evs, "stdout")
    gaps = sum(e[1]["dropped_bytes"] for e in evs if e[0] == "gap")
    total = res["stdout_total_bytes"]
    assert 1048576 <= total < 3000000, res  # killed near output_kill, not at the end
    assert len(out) + gaps == total and set(out) <= {"b"}, (len(out), gaps, total)

