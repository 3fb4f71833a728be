# SPDX-License-Identifier: Apache-2.0
"""petri.audit: a sandbox writes its audit stream, read_stream() reads it
back through the library's verifying reader, damage is detected."""

from __future__ import annotations

import errno
import gc
import os
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Tuple

import pytest

import petri
from petri.audit import (
    AuditEvent,
    AuditIntegrityError,
    AuditStream,
    read_stream,
    verify_stream,
)

from conftest import PYTHON, child_env, require


def records(data: bytes) -> List[Tuple[int, int]]:
    """(start, end) of each length-prefixed record (prefix included)."""
    out = []
    pos = 0
    while pos < len(data):
        start, n, shift = pos, 0, 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        pos += n
        out.append((start, pos))
    assert pos == len(data)
    return out


def write_stream(path: Path) -> Tuple[str, List[AuditEvent]]:
    """A stream with a normal exec, a timeout and an output limit."""
    with AuditStream(path) as audit:
        with petri.Sandbox(language="python", audit=audit) as sb:
            assert sb.audit is audit
            assert sb.exec("print('hi')").reason == "exited"
            r = sb.exec("while True: pass", timeout=0.5)
            assert r.reason == "timeout"
            # (limits_hit has "output" when a capture cap truncated output)
            code = "import sys\nwhile True: sys.stdout.write('x' * 4096)"
            r = sb.exec(code, output_kill=65536, stdout_limit=1024)
            assert r.reason == "output_limit" and r.limits_hit == ["output"]
            sid = sb.id
    return sid, list(read_stream(path))


def test_a_sandbox_writes_lifecycle_exec_and_limit_events(tmp_path: Path) -> None:
    path = tmp_path / "run.audit"
    sid, events = write_stream(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Library-side events, in order; the kernel's (process, file, network
    # activity) interleave when kernel audit is on.
    kernel_kinds = {"process_exec", "process_fork", "process_exit", "file_activity",
                    "network_activity", "loss"}
    kinds = [e.kind for e in events if e.kind not in kernel_kinds]
    assert kinds == [
        "stream_header",
        "sandbox_created",
        "exec_started",
        "exec_ended",
        "exec_started",
        "limit_hit",
        "exec_ended",
        "exec_started",
        "limit_hit",
        "exec_ended",
        "sandbox_destroyed",
        "stream_end",
    ]
    assert [e.seq for e in events] == list(range(len(events)))
    # Chained: each prev_hash is the previous event's hash.
    assert events[0].data["prev_hash"] == ""
    for prev, ev in zip(events, events[1:]):
        assert ev.data["prev_hash"] == prev.data["hash"] != ""
    assert events[0].body["hash_algorithm"] == "sha-256"
    assert all(e.sandbox_id == sid for e in events[1:-1])
    assert events[1].body["language"] == "python"
    assert events[-2].body["reason"] == "destroyed"
    assert events[-1].body["total_written"] == events[-1].seq
    assert all(e.time_unix_nano > 0 for e in events)
    # Each exec: started, its limits, ended, all under one exec id.
    ends = [e for e in events if e.kind == "exec_ended"]
    assert [e.body["result"]["reason"] for e in ends] == [
        "exited",
        "timeout",
        "output_limit",
    ]
    assert [e.body["result"]["limits_hit"] for e in ends] == [
        [],
        ["timeout"],
        ["output"],
    ]
    starts = [e for e in events if e.kind == "exec_started"]
    assert [s.exec_id for s in starts] == [e.exec_id for e in ends]
    assert len(set(s.exec_id for s in starts)) == 3
    hits = [e for e in events if e.kind == "limit_hit"]
    assert [(h.exec_id, h.body["limit"]) for h in hits] == [
        (ends[1].exec_id, "timeout"),
        (ends[2].exec_id, "output"),
    ]
    # The limit configured (timeout in ms, the output kill cap in bytes)
    # and the usage the result reports.
    assert hits[0].body["value"] == 500
    assert hits[0].body["observed"] == ends[1].body["result"]["wall_ns"] // 1000000
    assert hits[1].body["value"] == 65536 < hits[1].body["observed"]
    created = events[1].body
    assert (created["network"], created["pids_limit"]) == ("none", 256)
    assert created["memory_limit_bytes"] in (512 << 20, 0)  # 0: no cgroup
    assert created["host_uid"] > 0 and created["init_pid_host"] > 0
    verify_stream(path)
    with AuditStream(tmp_path / "other.audit") as other:
        assert repr(other) == "<petri.audit.AuditStream %s>" % (tmp_path / "other.audit")
    assert repr(other).endswith(" closed>")


def test_a_flipped_byte_is_found_at_its_event(tmp_path: Path) -> None:
    path = tmp_path / "run.audit"
    write_stream(path)
    data = bytearray(path.read_bytes())
    recs = records(bytes(data))
    mid = len(data) // 2
    bad = next(i for i, (s, e) in enumerate(recs) if s <= mid < e)
    assert 0 < bad < len(recs) - 1
    data[mid] ^= 0x01
    path.write_bytes(bytes(data))

    got: List[AuditEvent] = []
    with pytest.raises(AuditIntegrityError) as ei:
        for ev in read_stream(path):
            got.append(ev)
    assert ei.value.first_bad_seq == bad
    assert ei.value.errno == errno.EBADMSG
    assert ei.value.message.startswith("seq %d: " % bad)
    assert isinstance(ei.value, petri.PetriError)
    assert [e.seq for e in got] == list(range(bad))  # the good events came first
    with pytest.raises(AuditIntegrityError) as ei2:
        verify_stream(path)
    assert ei2.value.first_bad_seq == bad


def test_a_truncated_stream_fails_after_its_events(tmp_path: Path) -> None:
    path = tmp_path / "run.audit"
    _, events = write_stream(path)
    data = path.read_bytes()
    last = records(data)[-1]
    path.write_bytes(data[: last[0]])  # no StreamEnd
    got: List[AuditEvent] = []
    with pytest.raises(AuditIntegrityError) as ei:
        for ev in read_stream(path):
            got.append(ev)
    assert len(got) == len(events) - 1
    assert ei.value.first_bad_seq == len(events) - 1
    assert "StreamEnd" in ei.value.message
    # Unverified, the same events decode without complaint.
    assert [e.kind for e in read_stream(path, verify=False)] == [e.kind for e in events[:-1]]
    with pytest.raises(AuditIntegrityError):
        verify_stream(path)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"hello, this is not an audit stream\n",
        bytes(range(256)) * 8,
        b"\xff" * 11,  # a length prefix overflowing 64 bits
        b"\x80\x80\x80\x80\x04" + b"x" * 100,  # a 1 GiB record
    ],
)
def test_garbage_raises_petri_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(garbage)
    with pytest.raises(petri.PetriError) as ei:
        list(read_stream(path))
    assert ei.value.errno in (errno.EBADMSG, errno.EFBIG)
    assert ei.value.message
    with pytest.raises(AuditIntegrityError if ei.value.errno == errno.EBADMSG else petri.PetriError) as ev:
        verify_stream(path)
    if isinstance(ev.value, AuditIntegrityError):
        assert ev.value.first_bad_seq == 0
    if garbage:  # unverified, the framing is still checked
        with pytest.raises(petri.PetriError) as eu:
            list(read_stream(path, verify=False))
        assert not isinstance(eu.value, AuditIntegrityError)
    else:
        assert list(read_stream(path, verify=False)) == []


def test_reading_a_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(petri.NotFoundError, match="open .*missing"):
        list(read_stream(tmp_path / "missing"))


def test_an_unwritable_path_raises_the_library_message(tmp_path: Path) -> None:
    with pytest.raises(petri.NotFoundError) as ei:
        AuditStream(tmp_path / "no" / "such" / "dir" / "run.audit")
    assert ei.value.message.startswith("audit sink: open ")
    assert "No such file or directory" in ei.value.message
    with pytest.raises(petri.PetriError) as ei2:
        AuditStream(tmp_path)  # a directory
    assert ei2.value.errno == errno.EISDIR
    assert "audit sink: open" in ei2.value.message


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        AuditStream()
    with pytest.raises(TypeError):
        AuditStream("x", fd=1)
    with pytest.raises(TypeError):
        AuditStream(fd="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AuditStream("x", queue_events=1)
    with pytest.raises(TypeError, match="AuditStream"):
        petri.Sandbox(audit="x.audit")  # type: ignore[arg-type]


def test_fd_sink_and_queue_size(tmp_path: Path) -> None:
    path = tmp_path / "fd.audit"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with AuditStream(fd=fd, queue_events=64) as audit:
            with petri.Sandbox(language="sh", audit=audit) as sb:
                sb.run(["true"])
        os.fstat(fd)  # ours stays open
    finally:
        os.close(fd)
    kinds = [e.kind for e in read_stream(path)]
    assert kinds[0] == "stream_header" and kinds[-1] == "stream_end"
    assert "exec_ended" in kinds


def test_closing_the_stream_destroys_its_sandboxes_first(tmp_path: Path) -> None:
    path = tmp_path / "run.audit"
    audit = AuditStream(path)
    a = petri.Sandbox(language="sh", audit=audit)
    b = petri.Sandbox(language="sh", audit=audit)
    other = petri.Sandbox(language="sh")
    try:
        a.run(["true"])
        audit.close()
        assert audit.closed and a.closed and b.closed
        assert not other.closed
        audit.close()  # idempotent
        with pytest.raises(petri.PetriError, match="closed"):
            petri.Sandbox(language="sh", audit=audit)
        a.close()  # fine after the stream destroyed it
    finally:
        other.close()
    events = list(read_stream(path))
    destroyed = {e.sandbox_id for e in events if e.kind == "sandbox_destroyed"}
    assert destroyed == {a.id, b.id}
    assert events[-1].kind == "stream_end"


def test_the_sandbox_keeps_the_stream_alive(tmp_path: Path) -> None:
    path = tmp_path / "run.audit"
    sb = petri.Sandbox(language="sh", audit=AuditStream(path))  # no other reference
    gc.collect()
    assert sb.run(["echo", "ok"]).stdout == "ok\n"
    sid = sb.id
    del sb
    gc.collect()  # the sandbox is destroyed, then the stream ends
    events = list(read_stream(path))
    assert [e.kind for e in events][-2:] == ["sandbox_destroyed", "stream_end"]
    assert events[-2].sandbox_id == sid


def test_left_open_at_exit_the_stream_is_still_complete(tmp_path: Path) -> None:
    path = tmp_path / "exit.audit"
    code = (
        "import petri\n"
        "from petri.audit import AuditStream\n"
        "a = AuditStream(%r)\n"
        "sb = petri.Sandbox(language='sh', audit=a)\n"
        "print(sb.run(['true']).reason)\n"
    ) % str(path)
    p = subprocess.run([PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "exited\n", p.stderr
    kinds = [e.kind for e in read_stream(path)]
    assert kinds[-2:] == ["sandbox_destroyed", "stream_end"]


def test_kernel_listen_and_accept_events(tmp_path: Path) -> None:
    """listen/accept inside the sandbox's own netns, as the reader gives them:
    addresses and ports from the kernel's struct sock, the new fd as result."""
    path = tmp_path / "net.audit"
    code = (
        "import socket\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "c = socket.create_connection(s.getsockname()); k, _ = s.accept()\n"
        "print(s.getsockname()[1], c.getsockname()[1], k.fileno())\n"
    )
    with AuditStream(path) as audit:
        with petri.Sandbox(language="python", audit=audit) as sb:
            r = sb.exec(code)
    assert r.exit_code == 0, r.stderr
    events = list(read_stream(path))
    require(events[0].body["kernel_audit"] is True, "kernel audit (root and BPF)")
    port, client, fd = (int(x) for x in r.stdout.split())
    net = [
        e.body
        for e in events
        if e.kind == "network_activity" and e.body.get("source") == "socket"
    ]
    assert [(n["op"], n["syscall"]) for n in net] == [("listen", "listen"), ("accept", "accept4")]
    listen, accept = net
    assert (listen["address_text"], listen["port"], listen["result"]) == ("127.0.0.1", port, 0)
    assert (listen["family"], listen["protocol"], listen["socket_type"]) == (2, 6, 1)
    assert (accept["address_text"], accept["port"]) == ("127.0.0.1", client)
    assert (accept["local_address_text"], accept["local_port"]) == ("127.0.0.1", port)
    assert accept["result"] == fd


def test_header_says_kernel_audit_when_kernel_events_are_in(tmp_path: Path) -> None:
    """The header's kernel_audit is what the context says, and agrees with
    the stream: true with kernel events in it (it used to be false: the
    binding never told the writer), false with the reason otherwise."""
    path = tmp_path / "hdr.audit"
    with AuditStream(path) as audit:
        with petri.Sandbox(language="sh", audit=audit) as sb:
            r = sb.exec("cat /etc/hostname >/dev/null")
    assert r.exit_code == 0, r.stderr
    events = list(read_stream(path))
    header = events[0]
    assert header.kind == "stream_header"
    kernel = [e for e in events if e.kind in ("process_exec", "file_activity")]
    if os.geteuid() == 0:  # root on a machine that loads BPF (CI): on
        require(bool(kernel), "kernel audit (root and BPF)")
    assert header.body["kernel_audit"] is bool(kernel)
    if kernel:
        assert "kernel_audit_reason" not in header.body or header.body["kernel_audit_reason"] == ""
        cat = [e for e in kernel if e.kind == "process_exec" and e.data["process"]["comm"] == "cat"]
        assert len(cat) == 1 and cat[0].exec_id == events[2].exec_id != ""
    else:
        assert header.body["kernel_audit_reason"].startswith("kernel audit off")


def test_header_context_argument(tmp_path: Path) -> None:
    """AuditStream(context=...) asks that context; a wrong type is refused."""
    with pytest.raises(TypeError):
        AuditStream(tmp_path / "x.audit", context="nope")  # type: ignore[arg-type]
    ctx = petri.Context()
    try:
        with AuditStream(tmp_path / "c.audit", context=ctx):
            pass
    finally:
        ctx.close()
    header = next(iter(read_stream(tmp_path / "c.audit")))
    assert isinstance(header.body["kernel_audit"], bool)
    if os.geteuid() == 0 and os.environ.get("CI"):
        assert header.body["kernel_audit"] is True


def test_a_stalled_sink_does_not_stall_the_sandbox(tmp_path: Path) -> None:
    """A socket sink whose reader stops for 8 s while the code makes
    100,000 audited opens: the exec still returns about when the code ends
    (it used to wait for the reader), what the queue could not hold is
    counted in Loss records, and the exec's end and the destroy are kept (the
    kernel's events leave room for them)."""
    if os.geteuid() != 0:
        pytest.skip("kernel audit needs root")
    a, b = socket.socketpair()
    got = bytearray()
    resumed = threading.Event()

    def reader() -> None:
        got.extend(b.recv(4096))
        time.sleep(8)
        resumed.set()
        while True:
            d = b.recv(65536)
            if not d:
                break
            got.extend(d)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    try:
        audit = AuditStream(fd=a.fileno())
        results: List[petri.ExecResult] = []

        def run() -> None:
            with petri.Sandbox(language="python", audit=audit) as sb:
                code = 'for i in range(100000): open("/etc/hostname").close()'
                results.append(sb.exec(code, timeout=60))

        # A hang detector, not a speed test: the code runs ~1-3 s here.  In
        # a thread, so that a stalled exec fails the test instead of hanging
        # it.
        worker = threading.Thread(target=run, daemon=True)
        t0 = time.monotonic()
        worker.start()
        worker.join(6)
        took = time.monotonic() - t0
        assert not worker.is_alive(), "exec and destroy waited %.1f s for the stalled sink" % took
        r = results[0]
        assert r.exit_code == 0, r.stderr
        resumed.wait(30)
        audit.close()
    finally:
        a.close()
        th.join(30)
        b.close()
    path = tmp_path / "stalled.audit"
    path.write_bytes(bytes(got))
    events = list(read_stream(path))
    kinds = [e.kind for e in events]
    assert "exec_ended" in kinds and "sandbox_destroyed" in kinds
    lost = sum(e.body["count"] for e in events if e.kind == "loss")
    opens = sum(1 for e in events if e.kind == "file_activity")
    require(opens + lost >= 100000, "kernel audit (root and BPF)")
    end = events[-1]
    assert end.kind == "stream_end" and end.body.get("total_lost", 0) == lost
