# SPDX-License-Identifier: Apache-2.0
"""The remote transport only (petri.remote): urls and tokens from arguments
and the environment, unix sockets, errors from petrid and from dead or
silent servers, stream teardown, quotas, TTL.  What both transports do
alike is in test_transports.py."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Iterator

import pytest

import petri
from petri import Sandbox

from conftest import PYTHON, SECRET_VALUE, Petrid, child_env


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PETRI_URL", raising=False)
    monkeypatch.delenv("PETRI_TOKEN", raising=False)


@pytest.fixture
def rsb(petrid: Petrid) -> Iterator[Sandbox]:
    with Sandbox(language="sh", url=petrid.url, token=petrid.token) as s:
        yield s


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


# -- without a server -----------------------------------------------------------


def test_connection_refused_names_the_url_quickly() -> None:
    url = "http://127.0.0.1:%d" % _free_port()
    t0 = time.monotonic()
    with pytest.raises(petri.PetriConnectionError) as e:
        Sandbox(language="python", url=url, token="t")
    assert time.monotonic() - t0 < 5
    assert e.value.errno == errno.ECONNREFUSED and e.value.url == url and url in str(e.value)
    with pytest.raises(petri.PetriConnectionError) as e:
        Sandbox(language="python", url="unix:///nonexistent/petrid.sock", token="t")
    assert e.value.errno == errno.ENOENT and "/nonexistent/petrid.sock" in str(e.value)


@pytest.mark.parametrize(
    "url", ["ftp://x", "127.0.0.1:8480", "http://", "unix:relative.sock", "http://h:99999", "http://u:p@h:1"]
)
def test_bad_urls(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="url"):
        Sandbox(language="python", url=url, token="t")
    monkeypatch.setenv("PETRI_URL", url)
    with pytest.raises(ValueError, match="from PETRI_URL"):
        Sandbox(language="python")


@pytest.mark.parametrize(
    "kw",
    [
        {"binds": ["/usr:/x"]},
        {"workspace_dir": "/tmp"},
        {"rootfs": "/"},
        {"id": "mine"},
        {"landlock": False},
        {"no_pool": True},
        {"upstream_ca": "/etc/ssl/certs/ca-certificates.crt"},
        {"context": object()},
        {"audit": object()},
    ],
)
def test_local_only_options_are_refused(kw: dict) -> None:
    # Refused before any request (the url has nothing listening).
    url = "http://127.0.0.1:%d" % _free_port()
    with pytest.raises(TypeError) as e:
        Sandbox(language="python", url=url, token="t", **kw)
    name = next(iter(kw))
    assert "%s=" % name in str(e.value) and url in str(e.value)


def test_remote_only_options_are_refused_in_process() -> None:
    for kw in ({"token": "x"}, {"ttl": 5}, {"stream_timeout": 5}, {"http_timeout": 5}):
        with pytest.raises(TypeError, match="remote sandbox"):
            Sandbox(language="python", **kw)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Sandbox(language="python", bogus=1)


def test_timeout_is_not_a_remote_sandbox_option() -> None:
    # petrid's create field "timeout" is the idle TTL: the SDK names it ttl=.
    url = "http://127.0.0.1:%d" % _free_port()
    with pytest.raises(TypeError, match="ttl="):
        Sandbox(url=url, token="t", timeout=600)


def test_secrets_remotely_are_names() -> None:
    url = "http://127.0.0.1:%d" % _free_port()
    with pytest.raises(TypeError, match="names of the tenant's secrets"):
        Sandbox(url=url, token="t", secrets={"GH": petri.Secret("v", hosts=["h"])})
    with pytest.raises(TypeError, match="names"):
        Sandbox(url=url, token="t", secrets="GH")


def test_bad_tokens_refused_locally() -> None:
    url = "http://127.0.0.1:%d" % _free_port()
    with pytest.raises(ValueError, match="token"):
        Sandbox(url=url, token="a\r\nX-Evil: 1")
    with pytest.raises(TypeError, match="token"):
        Sandbox(url=url, token=b"bytes")  # type: ignore[arg-type]


# -- with petrid ----------------------------------------------------------------


def test_env_url_and_token_make_plain_sandbox_remote(petrid: Petrid, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETRI_URL", petrid.url)
    monkeypatch.setenv("PETRI_TOKEN", petrid.token)
    with Sandbox(language="python") as sb:
        assert isinstance(sb, petri.RemoteSandbox) and isinstance(sb, petri.Sandbox)
        assert sb.url == petrid.url and sb.id.startswith("sb_")
        assert sb.exec("print(1+1)").stdout == "2\n"
        assert petrid.request("GET", "/v1/sandboxes/" + sb.id)[0] == 200
    assert petrid.request("GET", "/v1/sandboxes/" + sb.id)[0] == 404


SEED = """\
from petri import Sandbox
with Sandbox(language="python") as sb: print(sb.exec("print(1+1)").stdout)
"""


def test_seed_snippet_unchanged_in_a_fresh_interpreter(petrid: Petrid) -> None:
    env = child_env(PETRI_URL=petrid.url, PETRI_TOKEN=petrid.token)
    env.pop("PETRI_LIBRARY", None)  # the remote transport needs no libpetri.so
    p = subprocess.run([PYTHON, "-c", SEED], env=env, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, "2\n\n", "")


def test_unix_socket_url(petrid: Petrid) -> None:
    if petrid.unix_url is None:
        pytest.skip("PETRI_TEST_URL's petrid: no unix socket known")
    with Sandbox(language="sh", url=petrid.unix_url, token=petrid.token) as sb:
        assert sb.url == petrid.unix_url
        assert sb.exec("echo over unix").stdout == "over unix\n"
        sb.write_file("f", b"\x00\xff")
        assert sb.read_file("f") == b"\x00\xff"
        assert [c for c in sb.stream("echo s")] == [("stdout", b"s\n")]


def test_bad_or_missing_token(petrid: Petrid) -> None:
    with pytest.raises(petri.UnauthorizedError) as e:
        Sandbox(language="python", url=petrid.url, token="not-the-token")
    assert e.value.status == 401 and e.value.code == "unauthorized" and e.value.url == petrid.url
    assert isinstance(e.value, petri.PermissionDeniedError) and "PETRI_TOKEN" in str(e.value)
    with pytest.raises(petri.UnauthorizedError):
        Sandbox(language="python", url=petrid.url)


def test_error_attributes_and_ids(rsb: Sandbox, petrid: Petrid) -> None:
    with pytest.raises(petri.NotFoundError) as e:
        rsb.read_file("missing")
    assert (e.value.status, e.value.code, e.value.url) == (404, "file_not_found", petrid.url)
    with pytest.raises(petri.InvalidArgumentError) as e2:
        rsb.exec("true", cwd="relative")
    assert e2.value.status == 400 and e2.value.code
    assert rsb.exec("true").sandbox_id == rsb.id
    assert rsb.info()["id"] == rsb.id and rsb.info()["state"] == "idle"
    assert rsb.keepalive()["id"] == rsb.id
    assert rsb.context is None and rsb.audit is None and rsb.init_pid is None


def test_sandbox_deleted_behind_our_back(rsb: Sandbox, petrid: Petrid) -> None:
    assert petrid.request("DELETE", "/v1/sandboxes/" + rsb.id)[0] == 204
    with pytest.raises(petri.SandboxNotFoundError) as e:
        rsb.exec("true")
    assert isinstance(e.value, petri.SandboxDeadError) and e.value.status == 404
    rsb.close()  # already gone: close still succeeds
    assert rsb.closed


def test_stream_close_cancels_the_exec_in_petrid(rsb: Sandbox) -> None:
    s = rsb.stream("echo first; sleep 30")
    assert next(s) == ("stdout", b"first\n")
    assert rsb.info()["state"] == "running"  # type: ignore[attr-defined]
    t0 = time.monotonic()
    s.close()
    assert s.result.reason == "killed" and time.monotonic() - t0 < 10
    assert rsb.info()["state"] == "idle"  # type: ignore[attr-defined]


def test_disconnecting_cancels_the_exec_in_petrid(rsb: Sandbox) -> None:
    # Without a cancel request: only the closed connection tells petrid.
    s = rsb.stream("echo first; sleep 30")
    assert next(s) == ("stdout", b"first\n")
    s._end()  # type: ignore[attr-defined]  # closes the connection, sends nothing
    t0 = time.monotonic()
    while rsb.info()["state"] == "running":  # type: ignore[attr-defined]
        assert time.monotonic() - t0 < 10, "petrid kept running the exec of a closed stream"
        time.sleep(0.05)


def _drain_in_thread(s: object, limit: float) -> BaseException:
    """Iterate @s to its end in a thread; return what it raised.  A client
    that hangs fails the test after @limit seconds instead of hanging it."""
    box: dict = {}

    def run() -> None:
        try:
            list(s)  # type: ignore[call-overload]
            box["e"] = AssertionError("the stream ended normally")
        except BaseException as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), "the client still waits after %.0f s" % limit
    return box["e"]  # type: ignore[no-any-return]


def test_server_killed_mid_stream_raises_not_hangs(own_petrid: Petrid) -> None:
    assert own_petrid.proc is not None
    sb = Sandbox(language="sh", url=own_petrid.url, token=own_petrid.token)
    s = sb.stream("echo first; sleep 30")
    assert next(s) == ("stdout", b"first\n")
    threading.Timer(0.3, own_petrid.proc.kill).start()
    t0 = time.monotonic()
    e = _drain_in_thread(s, 10)
    assert isinstance(e, petri.PetriConnectionError), repr(e)
    assert time.monotonic() - t0 < 10 and e.url == own_petrid.url and own_petrid.url in str(e)
    own_petrid.proc.wait(10)
    with pytest.raises(petri.PetriConnectionError):
        sb.exec("true")
    with pytest.raises(petri.PetriConnectionError):
        sb.close()  # could not tell petrid: said, and closed here all the same
    assert sb.closed
    sb.close()


def test_frozen_server_times_out_a_stream(own_petrid: Petrid) -> None:
    # SIGSTOP: the connection stays open but nothing comes, not even the
    # heartbeats; stream_timeout ends the wait.
    assert own_petrid.proc is not None
    sb = Sandbox(language="sh", url=own_petrid.url, token=own_petrid.token, stream_timeout=2)
    s = sb.stream("echo first; sleep 30")
    assert next(s) == ("stdout", b"first\n")
    os.kill(own_petrid.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        e = _drain_in_thread(s, 12)
        took = time.monotonic() - t0
        assert isinstance(e, petri.PetriConnectionError) and e.errno == errno.ETIMEDOUT, repr(e)
        assert 1.5 < took < 6, took
    finally:
        os.kill(own_petrid.proc.pid, signal.SIGCONT)
    sb.close()


def test_heartbeats_keep_a_quiet_stream_alive(petrid: Petrid) -> None:
    # Silent for 7 s, longer than the heartbeat period (5 s) and than this
    # stream_timeout (6 s): heartbeats keep it open.
    sb = Sandbox(language="sh", url=petrid.url, token=petrid.token, stream_timeout=6)
    try:
        s = sb.stream("sleep 7; echo late")
        assert list(s) == [("stdout", b"late\n")]
        assert s.heartbeats >= 1 and s.result.reason == "exited"  # type: ignore[attr-defined]
    finally:
        sb.close()


def test_quota_exceeded(petrid: Petrid) -> None:
    if petrid.small_token is None:
        pytest.skip("PETRI_TEST_URL's petrid: no small tenant")
    with Sandbox(language="sh", url=petrid.url, token=petrid.small_token):
        with pytest.raises(petri.QuotaExceededError) as e:
            Sandbox(language="sh", url=petrid.url, token=petrid.small_token)
        assert e.value.quota == "max_sandboxes" and e.value.status == 429 and e.value.code == "quota_exceeded"
    with pytest.raises(petri.QuotaExceededError) as e:
        Sandbox(language="sh", url=petrid.url, token=petrid.small_token, ttl=3600)
    assert e.value.quota == "max_ttl"
    with Sandbox(language="sh", url=petrid.url, token=petrid.small_token) as sb:
        with pytest.raises(petri.QuotaExceededError) as e:
            sb.exec("true", timeout=60)
        assert e.value.quota == "max_exec_timeout"


def test_ttl_expiry(petrid: Petrid) -> None:
    with Sandbox(language="sh", url=petrid.url, token=petrid.token, ttl=1) as sb:
        assert sb.info()["timeout"] == 1  # type: ignore[attr-defined]
        t0 = time.monotonic()
        while True:
            try:
                sb.info()  # type: ignore[attr-defined]  # a read: does not renew
            except petri.SandboxExpiredError as e:
                assert e.status == 410 and isinstance(e, petri.SandboxNotFoundError)
                break
            assert time.monotonic() - t0 < 10, "a sandbox idle past its ttl did not expire"
            time.sleep(0.2)
        with pytest.raises(petri.SandboxExpiredError):
            sb.exec("true")


def test_fork_child_does_not_destroy_the_parents_sandbox(rsb: Sandbox, petrid: Petrid) -> None:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            try:
                rsb.exec("true")
                code = 2
            except petri.SandboxClosedError:
                pass
            rsb.close()
        except BaseException:  # noqa: BLE001
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rsb.exec("echo alive").stdout == "alive\n"


def test_a_slow_reader_gets_gaps_counted(rsb: Sandbox) -> None:
    # 40 MB at once while the client does not read: petrid drops what
    # waits beyond 4 MiB and says so in gap events, never slowing the exec.
    s = rsb.stream("head -c 40000000 /dev/zero | tr '\\0' x", stdout_limit=100)
    time.sleep(3)
    got = sum(len(d) for _, d in s)
    r = s.result
    assert r.reason == "exited" and r.stdout_total_bytes == 40_000_000
    assert s.gaps and all(name == "stdout" and n > 0 for name, n in s.gaps)  # type: ignore[attr-defined]
    assert got + s.dropped_bytes == 40_000_000  # type: ignore[attr-defined]


def test_secrets_are_the_tenants_by_name(petrid: Petrid) -> None:
    if petrid.impl is None:
        pytest.skip("PETRI_TEST_URL's petrid: its secrets are unknown")
    with Sandbox(language="sh", url=petrid.url, token=petrid.token, secrets=["PY_SECRET"]) as sb:
        info = sb.info()  # type: ignore[attr-defined]
        assert info["secrets"] == ["PY_SECRET"] and info["net"] == "proxy"
        seen = sb.exec('echo "$PY_SECRET"').stdout.strip()
        assert len(seen) >= 16 and SECRET_VALUE not in seen  # a placeholder, never the value
    with pytest.raises(petri.InvalidArgumentError, match="NO_SUCH"):
        Sandbox(language="sh", url=petrid.url, token=petrid.token, secrets=["NO_SUCH"])


def test_bodies_over_petrids_limit_are_too_large_not_broken_pipes(rsb: Sandbox) -> None:
    # petrid answers 413 and closes before the body is all sent: the answer
    # is read, not lost in the EPIPE of the send.
    for _ in range(3):
        with pytest.raises(petri.TooLargeError) as e:
            rsb.write_file("big", b"x" * (17 << 20))  # max_body_bytes is 16 MiB by default
        assert (e.value.status, e.value.code) == (413, "body_too_large")
        with pytest.raises(petri.TooLargeError):
            rsb.exec("#" * (17 << 20))
    rsb.write_file("ok", b"x" * (15 << 20))
    assert len(rsb.read_file("ok")) == 15 << 20


@pytest.mark.parametrize(
    "status,code,cls,eno",
    [
        (400, "bad_json", petri.InvalidArgumentError, errno.EINVAL),
        (400, "unknown_field", petri.InvalidArgumentError, errno.EINVAL),
        (400, "invalid_argument", petri.InvalidArgumentError, errno.EINVAL),
        (400, "unsafe_path", petri.UnsafePathError, errno.ELOOP),
        (401, "unauthorized", petri.UnauthorizedError, errno.EACCES),
        (404, "not_found", petri.PetriError, errno.ENOSYS),
        (404, "sandbox_not_found", petri.SandboxNotFoundError, errno.ESRCH),
        (404, "file_not_found", petri.NotFoundError, errno.ENOENT),
        (405, "method_not_allowed", petri.PetriError, errno.ENOSYS),
        (408, "request_timeout", petri.PetriConnectionError, errno.ETIMEDOUT),
        (409, "sandbox_busy", petri.SandboxBusyError, errno.EBUSY),
        (409, "sandbox_dead", petri.SandboxDeadError, errno.ESRCH),
        (410, "sandbox_expired", petri.SandboxExpiredError, errno.ESRCH),
        (413, "body_too_large", petri.TooLargeError, errno.E2BIG),
        (415, "unsupported_media_type", petri.PetriError, errno.EPROTO),
        (429, "quota_exceeded", petri.QuotaExceededError, errno.EDQUOT),
        (429, "too_many_execs", petri.QuotaExceededError, errno.EAGAIN),
        (500, "internal", petri.PetriError, errno.EIO),
        (503, "shutting_down", petri.ServiceUnavailableError, errno.EAGAIN),
        (503, "node_unavailable", petri.ServiceUnavailableError, errno.EHOSTUNREACH),
        (418, None, petri.PetriError, errno.EIO),  # not petrid's: a proxy's page
        (503, None, petri.ServiceUnavailableError, errno.EAGAIN),
    ],
)
def test_every_documented_error_code_maps(status: int, code: str, cls: type, eno: int) -> None:
    # docs/petrid.md "Errors", row by row.
    from petri.remote import _make_error

    err = {"code": code, "message": "m", "quota": "max_sandboxes"} if code else {"message": "m"}
    e = _make_error("http://x:1", status, err, "1")
    assert type(e) is cls and e.errno == eno and (e.status, e.code, e.url) == (status, code, "http://x:1")
    if cls is petri.QuotaExceededError:
        assert e.quota == "max_sandboxes" and e.retry_after == 1.0  # type: ignore[attr-defined]


def test_the_librarys_errno_from_petrid_gives_the_in_process_class() -> None:
    from petri.remote import _make_error

    e = _make_error("u", 400, {"code": "invalid_argument", "message": "m", "errno": "ENOTEMPTY"})
    assert type(e) is petri.PetriError and e.errno == errno.ENOTEMPTY and e.code == "invalid_argument"
    e = _make_error("u", 400, {"code": "invalid_argument", "message": "m", "errno": "ELOOP"})
    assert type(e) is petri.UnsafePathError
    e = _make_error("u", 400, {"code": "invalid_argument", "message": "m", "errno": "EBOGUS"})
    assert type(e) is petri.InvalidArgumentError and e.errno == errno.EINVAL
    e = _make_error("u", 404, {"code": "sandbox_not_found", "message": "m", "errno": "ENOENT"})
    assert type(e) is petri.SandboxNotFoundError  # a specific code wins


def test_the_pool_of_a_remote_sandbox_is_petrids(rsb: Sandbox) -> None:
    # no_pool= is refused (test_local_only_options_are_refused); reuses
    # says why it is not known here, as host_uid does.
    with pytest.raises(petri.PetriError, match="the pool is petrid's") as e:
        rsb.reuses
    assert e.value.errno == errno.ENOTSUP
