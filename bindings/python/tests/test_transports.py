# SPDX-License-Identifier: Apache-2.0
"""One suite, two transports: every test here runs in-process ("local") and
against petrid ("remote", petri.remote over HTTP), through the same
`from petri import Sandbox` API.  Remote-only behaviour (urls, tokens,
dead servers, quotas, TTL) is in test_remote.py."""

from __future__ import annotations

import errno
import gc
import hashlib
import signal
import threading
import time
from typing import Any, Callable, Iterator, List, Tuple

import pytest

import petri
from petri import Sandbox

from conftest import Petrid

Make = Callable[..., Sandbox]


@pytest.fixture(params=["local", "remote"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(request: pytest.FixtureRequest, transport: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """make(language, **options) -> a Sandbox of the test's transport
    (closed at the end of the test)."""
    monkeypatch.delenv("PETRI_URL", raising=False)
    monkeypatch.delenv("PETRI_TOKEN", raising=False)
    made: List[Sandbox] = []
    if transport == "remote":
        pd: Petrid = request.getfixturevalue("petrid")

        def f(language: Any = None, **kw: Any) -> Sandbox:
            sb = Sandbox(language, url=pd.url, token=pd.token, **kw)
            assert isinstance(sb, petri.RemoteSandbox)
            made.append(sb)
            return sb

    else:

        def f(language: Any = None, **kw: Any) -> Sandbox:
            sb = Sandbox(language, **kw)
            assert not isinstance(sb, petri.RemoteSandbox)
            made.append(sb)
            return sb

    yield f
    for sb in made:
        sb.close()


# -- exec and results -------------------------------------------------------


def test_seed_snippet(make: Make) -> None:
    with make(language="python") as sb:
        assert sb.exec("print(1+1)").stdout == "2\n"
    assert sb.closed


def test_result_shape_is_the_same(make: Make) -> None:
    with make("python") as sb:
        r = sb.exec("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
        assert isinstance(r, petri.ExecResult)
        assert (r.output, r.stdout, r.stdout_bytes) == ("out\n", "out\n", b"out\n")
        assert (r.stderr, r.stderr_bytes) == ("err\n", b"err\n")
        assert (r.exit_code, r.signal, r.reason, r.ok) == (3, None, "exited", False)
        assert r.limits_hit == [] and not r.truncated
        assert r.wall_ms > 0 and r.cpu_ms >= 0 and r.peak_memory_bytes > 0
        assert (r.stdout_total_bytes, r.stderr_total_bytes) == (4, 4)
        assert r.sandbox_id == sb.id
        d = r.to_dict()
        assert list(d) == [
            "exit_code", "signal", "reason", "wall_ms", "cpu_ms", "peak_memory_bytes", "stdout",
            "stderr", "stdout_truncated", "stderr_truncated", "stdout_total_bytes",
            "stderr_total_bytes", "limits_hit", "seccomp_denials", "sandbox_id",
        ]  # fmt: skip
        assert isinstance(d["wall_ms"], float) and isinstance(d["peak_memory_bytes"], int)
        assert sb.exec("print(6*7)").ok


def test_invalid_utf8_output(make: Make, transport: str) -> None:
    with make("python") as sb:
        r = sb.exec("import sys; sys.stdout.buffer.write(b'a\\xff\\x00b')")
    assert r.stdout == "a\ufffd\x00b"  # the same text both ways
    assert r.stdout_total_bytes == 4
    # The bytes: raw in-process; over JSON the invalid byte is U+FFFD.
    assert r.stdout_bytes == (b"a\xff\x00b" if transport == "local" else "a\ufffd\x00b".encode())


def test_run_argv_exit_codes_signals(make: Make) -> None:
    with make("sh") as sb:
        r = sb.run(["sh", "-c", 'hostname; pwd; echo "$1"; id -u', "sh", "arg with spaces"])
        assert r.stdout == "petri\n/workspace\narg with spaces\n1000\n"
        assert sb.run(["sh", "-c", "exit 42"]).exit_code == 42
        r = sb.exec("kill -TERM $$")
        assert (r.exit_code, r.signal, r.reason) == (None, signal.SIGTERM, "signaled")
        with pytest.raises(petri.NotFoundError, match="no-such-program"):
            sb.run(["no-such-program-here"])
        assert sb.exec("echo still").stdout == "still\n"


def test_exec_args_language_stdin_env_cwd(make: Make) -> None:
    with make(env={"A": "sandbox", "B": "sandbox"}) as sb:  # no language: per exec
        with pytest.raises(petri.InvalidArgumentError):
            sb.exec("print(1)", language="cobol")
        r = sb.exec("import sys; print(sys.argv[1:])", language="python", args=["-c", "", "y z"])
        assert r.stdout == "['-c', '', 'y z']\n"
        code = "import sys; d = sys.stdin.buffer.read(); print(len(d), d[:5])"
        assert sb.exec(code, language="python", stdin=b"\x00\x01abc\xff").stdout == "6 b'\\x00\\x01abc'\n"
        assert sb.exec(code, language="python", stdin="héllo").stdout == "6 b'h\\xc3\\xa9ll'\n"
        assert sb.exec(code, language="python").stdout == "0 b''\n"
        r = sb.exec('echo "$A $B $C"', language="sh", env={"B": "exec", "C": "é = x"})
        assert r.stdout == "sandbox exec é = x\n"
        assert sb.exec('echo "$B"', language="sh").stdout == "sandbox\n"
        assert sb.exec("pwd", language="sh", cwd="/tmp").stdout == "/tmp\n"
        with pytest.raises(petri.InvalidArgumentError, match="absolute"):
            sb.exec("pwd", language="sh", cwd="relative")


def test_unknown_language(make: Make) -> None:
    with pytest.raises(petri.InvalidArgumentError) as e:
        make(language="cobol")
    assert "cobol" in str(e.value)


def test_timeout_and_limits(make: Make) -> None:
    with make("sh") as sb:
        r = sb.exec("echo started; sleep 20", timeout=0.5)
        assert r.reason == "timeout" and "timeout" in r.limits_hit and r.stdout == "started\n"
        assert r.signal == signal.SIGKILL and 400 < r.wall_ms < 5000
        assert sb.exec("sleep 5", timeout="300ms").reason == "timeout"
        r = sb.exec("head -c 5000 /dev/zero | tr '\\0' a; head -c 10 /dev/zero | tr '\\0' b >&2",
                    stdout_limit=1000, stderr_limit="1K")  # fmt: skip
        assert r.stdout == "a" * 1000 and r.stdout_truncated and r.stdout_total_bytes == 5000
        assert r.stderr == "b" * 10 and not r.stderr_truncated and "output" in r.limits_hit
        r = sb.exec("exec head -c 3000000 /dev/zero > big", file_size="1M")
        assert r.reason == "file_size"
        assert sb.exec("ulimit -n", nofile=77).stdout == "77\n"


def test_memory_limit(make: Make) -> None:
    with make("python", memory="64M") as sb:
        r = sb.exec("x = bytearray(256 << 20); print(len(x))")
    assert r.reason == "memory" and "memory" in r.limits_hit and r.stdout == "", r


def test_bad_arguments_raise_before_sending(make: Make) -> None:
    with make("python") as sb:
        with pytest.raises(TypeError):
            sb.exec(42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="NUL"):
            sb.exec("print(1)", args=["a\0b"])
        with pytest.raises(ValueError):
            sb.exec("print(1)", timeout=-1)
        with pytest.raises(TypeError):
            sb.run("ls -l")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            sb.exec("print(1)", no_such_option=1)  # type: ignore[call-arg]
        with pytest.raises(ValueError):
            sb.write_file("x", b"", mode=0o17777)
        assert sb.exec("print('fine')").stdout == "fine\n"
    with pytest.raises(ValueError):
        make("python", memory="lots")
    with pytest.raises(ValueError):
        make("python", net="wifi")


# -- streaming and cancel -----------------------------------------------------

ALTERNATING = """
import sys, time
for i in range(4):
    print("out", i, flush=True)
    time.sleep(0.03)
    print("err", i, file=sys.stderr, flush=True)
    time.sleep(0.03)
"""


def _lines(chunks: List[Tuple[str, bytes]]) -> List[Tuple[str, str]]:
    return [(s, line) for s, d in chunks for line in d.decode().splitlines(keepends=True)]


def test_stream_ordered_complete_with_result(make: Make) -> None:
    with make("python") as sb:
        s = sb.stream(ALTERNATING)
        assert isinstance(s, petri.ExecStream)
        with pytest.raises(RuntimeError):
            s.result
        chunks = list(s)
        want = [x for i in range(4) for x in (("stdout", f"out {i}\n"), ("stderr", f"err {i}\n"))]
        assert _lines(chunks) == want
        assert s.done and s.result.reason == "exited"
        assert b"".join(d for st, d in chunks if st == "stdout") == s.result.stdout_bytes
        s = sb.stream(argv=["sh", "-c", "echo a; exit 3"])
        assert s.wait().exit_code == 3
        with pytest.raises(petri.InvalidArgumentError):
            list(sb.stream("print(1)", language="cobol"))
        with pytest.raises(TypeError):
            sb.stream()
        with pytest.raises(TypeError):
            sb.stream("x", argv=["y"])
        assert sb.exec("print('after')").stdout == "after\n"


def test_stream_break_then_close_cancels(make: Make) -> None:
    with make("sh") as sb:
        t0 = time.monotonic()
        with sb.stream("echo first; sleep 30; echo never") as s:
            for _name, chunk in s:
                assert chunk == b"first\n"
                break
        assert s.result.reason == "killed"
        assert time.monotonic() - t0 < 10
        assert sb.exec("echo ok").stdout == "ok\n"


def test_dropping_an_unfinished_stream_cancels(make: Make) -> None:
    with make("sh") as sb:
        t0 = time.monotonic()
        s = sb.stream("echo first; sleep 30")
        assert next(s) == ("stdout", b"first\n")
        del s
        gc.collect()
        assert sb.exec("echo ok", timeout=20).stdout == "ok\n"
        assert time.monotonic() - t0 < 10


def test_on_output_callback(make: Make) -> None:
    with make("sh") as sb:
        chunks: List[Tuple[str, bytes]] = []
        code = "echo a; sleep 0.05; echo b >&2; sleep 0.05; echo c"
        r = sb.exec(code, on_output=lambda s, d: chunks.append((s, d)))
        assert _lines(chunks) == [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n")]
        assert r.stdout == "a\nc\n" and r.reason == "exited"
        got = bytearray()
        code = "head -c 100000 /dev/zero | tr '\\0' x"
        r = sb.exec(code, stdout_limit=1000, on_output=lambda s, d: got.extend(d))
        assert len(r.stdout_bytes) == 1000 and r.stdout_truncated and bytes(got) == b"x" * 100000


class Boom(Exception):
    pass


def test_exception_in_callback_propagates_and_kills(make: Make) -> None:
    def on_output(stream: str, data: bytes) -> None:
        raise Boom("from the callback")

    with make("sh") as sb:
        t0 = time.monotonic()
        with pytest.raises(Boom, match="from the callback"):
            sb.exec("echo hi; sleep 30", on_output=on_output)
        assert time.monotonic() - t0 < 10
        assert sb.exec("echo still usable").stdout == "still usable\n"


def test_callback_cannot_reenter_its_sandbox_but_may_cancel(make: Make) -> None:
    with make("sh") as sb:
        with pytest.raises(petri.SandboxBusyError, match="output callback"):
            sb.exec("echo a", on_output=lambda s, d: sb.read_file("x"))
        with pytest.raises(petri.SandboxBusyError, match="output callback"):
            sb.exec("echo a", on_output=lambda s, d: list(sb.stream("echo b")))
        r = sb.exec("echo a; sleep 30", on_output=lambda s, d: sb.cancel())
        assert r.reason == "killed"


def test_cancel_from_another_thread(make: Make) -> None:
    with make("sh") as sb:
        started = threading.Event()
        box = {}

        def worker() -> None:
            box["r"] = sb.exec("echo started; sleep 30", on_output=lambda s, d: started.set())

        t = threading.Thread(target=worker)
        t0 = time.monotonic()
        t.start()
        assert started.wait(10)
        assert sb.cancel() is True
        t.join(10)
        assert not t.is_alive()
        assert box["r"].reason == "killed" and box["r"].stdout == "started\n"
        assert time.monotonic() - t0 < 10
        assert sb.cancel() is False
        assert sb.exec("echo next").reason == "exited"


def test_cancel_a_plain_exec_from_another_thread(make: Make) -> None:
    # No callback: the exec's request waits for its whole answer.
    with make("sh") as sb:
        box = {}
        t = threading.Thread(target=lambda: box.update(r=sb.exec("sleep 30")))
        t0 = time.monotonic()
        t.start()
        time.sleep(0.5)
        sb.cancel()
        t.join(10)
        assert box["r"].reason == "killed" and time.monotonic() - t0 < 10


def test_close_from_another_thread_ends_the_exec(make: Make) -> None:
    sb = make("sh")
    started = threading.Event()
    box = {}

    def worker() -> None:
        try:
            box["r"] = sb.exec("echo started; sleep 30", on_output=lambda s, d: started.set())
        except BaseException as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=worker)
    t0 = time.monotonic()
    t.start()
    assert started.wait(10)
    sb.close()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 10
    assert "r" in box and box["r"].reason == "killed", box
    assert sb.closed


# -- files ----------------------------------------------------------------------


def test_files_in_and_out(make: Make) -> None:
    with make("python") as sb:
        data = bytes(range(256)) * 100
        sb.write_file("in/data.bin", data)  # parents created
        r = sb.exec("import hashlib; print(hashlib.sha256(open('in/data.bin','rb').read()).hexdigest())")
        assert r.stdout.strip() == hashlib.sha256(data).hexdigest()
        assert sb.read_file("in/data.bin") == data
        assert sb.read_file("/workspace/in/data.bin") == data
        sb.write_file("sp ace/ünï %3F?#.txt", "text ü")  # str is UTF-8; odd names survive the URL
        assert sb.read_file("sp ace/ünï %3F?#.txt") == "text ü".encode()
        assert [e.name for e in sb.list_dir("sp ace")] == ["ünï %3F?#.txt"]
        sb.write_file("run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
        assert sb.run(["./run.sh"]).stdout == "ran\n"
        sb.write_file("empty", b"")
        assert sb.read_file("empty") == b""
        sb.exec("open('counter', 'w').write('1')")
        assert sb.read_file("counter") == b"1"


def test_file_errors(make: Make) -> None:
    with make("python") as sb:
        with pytest.raises(petri.NotFoundError) as e:
            sb.read_file("nope.txt")
        assert "nope.txt" in str(e.value)
        sb.write_file("big", b"x" * 10000)
        with pytest.raises(petri.TooLargeError):
            sb.read_file("big", max_bytes=100)
        assert len(sb.read_file("big", max_bytes="10K")) == 10000
        assert sb.exec("import os; os.symlink('/etc/passwd', 'link'); os.mkdir('adir')").exit_code == 0
        with pytest.raises(petri.PetriError):
            sb.read_file("link")
        with pytest.raises(petri.PetriError):
            sb.write_file("link", b"pwned")
        for p in ("../etc/passwd", "a/../../x"):
            with pytest.raises(petri.PetriError):
                sb.read_file(p)
            with pytest.raises(petri.PetriError):
                sb.write_file(p, b"x")


def test_files_remove_and_list(make: Make) -> None:
    with make("sh") as sb:
        _remove_and_list(sb)


def _remove_and_list(sb: Sandbox) -> None:
    sb.write_file("d/a.txt", b"aaa", mode=0o600)
    sb.write_file("d/b", b"")
    sb.exec("mkdir d/sub; ln -s /etc/passwd d/link")
    ls = sb.list_dir("d")
    assert isinstance(ls, petri.DirListing) and all(isinstance(e, petri.DirEntry) for e in ls)
    assert [(e.name, e.type) for e in ls] == [
        ("a.txt", "file"),
        ("b", "file"),
        ("link", "symlink"),
        ("sub", "dir"),
    ]
    a = ls[0]
    assert (a.size, a.mode) == (3, 0o600) and abs(a.mtime - time.time()) < 600
    assert not ls.truncated
    assert sb.list_dir("/workspace/d/", max_entries=2).truncated
    assert "d" in [e.name for e in sb.list_dir()]
    sb.remove_file("d/link")  # the symlink itself
    sb.remove_file("d/a.txt")
    with pytest.raises(petri.NotFoundError):
        sb.remove_file("d/a.txt")
    assert [e.name for e in sb.list_dir("d")] == ["b", "sub"]
    with pytest.raises(petri.PetriError):
        sb.remove_file("../etc")
    with pytest.raises(petri.PetriError) as e:
        sb.remove_file("d/b/")  # "dir/": must be a directory
    assert e.value.errno in (errno.ENOTDIR, errno.EINVAL) and "d/b" in str(e.value)
    sb.remove_file("d/sub/")
    with pytest.raises(petri.PetriError) as e:
        sb.remove_file("/workspace")
    assert e.value.errno == errno.EISDIR
    with pytest.raises(petri.PetriError) as e:
        sb.read_file("/workspace")
    assert e.value.errno in (errno.EISDIR, errno.EINVAL)
    assert [e.name for e in sb.list_dir("d")] == ["b"]


# -- lifecycle ------------------------------------------------------------------


def test_closed_sandbox_raises_everywhere(make: Make) -> None:
    sb = make("python")
    sid = sb.id
    assert sid and sid in repr(sb)
    sb.close()
    sb.close()  # idempotent
    assert sb.closed and sb.id == sid and "closed" in repr(sb)
    for call in (
        lambda: sb.exec("print(1)"),
        lambda: sb.run(["true"]),
        lambda: sb.stream("print(1)"),
        lambda: sb.write_file("a", b"x"),
        lambda: sb.read_file("a"),
    ):
        with pytest.raises(petri.SandboxClosedError):
            call()
    assert sb.cancel() is False


def test_context_manager_and_finalizer_destroy(
    make: Make, transport: str, request: pytest.FixtureRequest
) -> None:
    with make("sh") as sb:
        sb.exec("true")
    assert sb.closed
    sb = make("sh")
    sb.exec("true")
    if transport == "remote":
        pd: Petrid = request.getfixturevalue("petrid")
        state, sid = sb._rstate, sb.id  # type: ignore[attr-defined]
        assert pd.request("GET", "/v1/sandboxes/" + sid)[0] == 200
    else:
        state = sb._state
    gone = sb.__class__.__name__
    del sb
    _drop_made(request)
    gc.collect()
    assert state.closed, gone
    if transport == "remote":
        assert pd.request("GET", "/v1/sandboxes/" + sid)[0] == 404


def _drop_made(request: pytest.FixtureRequest) -> None:
    """Forget the sandboxes the make fixture keeps (to let one be collected)."""
    for cell in (request.getfixturevalue("make").__closure__ or ()):
        v = cell.cell_contents
        if isinstance(v, list):
            v.clear()


@pytest.mark.parametrize("with_callback", [False, True])
def test_ctrl_c_in_the_main_thread_stops_the_exec(make: Make, with_callback: bool) -> None:
    import os

    assert threading.current_thread() is threading.main_thread()
    with make("sh") as sb:
        kw = {"on_output": lambda s, d: None} if with_callback else {}
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            sb.exec("echo x; sleep 30", **kw)
        timer.join()
        assert time.monotonic() - t0 < 10
        assert sb.exec("echo fine").stdout == "fine\n"  # not busy: the exec was ended


def test_two_threads_share_a_sandbox(make: Make) -> None:
    # The second exec waits for the first (not SandboxBusyError), also when
    # the first is a stream.
    with make("sh") as sb:
        s = sb.stream("sleep 0.5; echo one")
        box = {}
        t = threading.Thread(target=lambda: box.update(r=sb.exec("echo two")))
        t.start()
        assert list(s) == [("stdout", b"one\n")]
        t.join(20)
        assert box["r"].stdout == "two\n"
        # A file operation waits for the exec running too.
        s = sb.stream("sleep 0.5; echo 1 > f")
        sb.write_file("g", b"2")
        assert sb.read_file("f") == b"1\n" and sb.read_file("g") == b"2"
        assert s.wait().reason == "exited"


def test_cancel_right_as_the_exec_starts_is_not_lost(make: Make, transport: str) -> None:
    # Cancel the moment the exec is under way here, before the library (or
    # petrid) may have started it: the cancel must not be lost (it is sent
    # again while that exec is in flight).  Ten times.
    with make("sh") as sb:
        for _ in range(10):
            if transport == "remote":
                started = lambda: bool(sb._rstate.execs)  # type: ignore[attr-defined]  # noqa: E731
            else:
                started = lambda: sb._state.lock.locked()  # noqa: E731

            def canceller() -> None:
                while not started():
                    pass
                sb.cancel()

            c = threading.Thread(target=canceller)
            c.start()
            t0 = time.monotonic()
            r = sb.exec("sleep 30")
            c.join()
            assert r.reason == "killed" and time.monotonic() - t0 < 10
