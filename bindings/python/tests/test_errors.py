# SPDX-License-Identifier: Apache-2.0
"""Errors: the library's messages as exceptions, misuse (closed sandbox,
wrong types, bad values) and huge inputs."""

from __future__ import annotations

import errno
import os

import pytest

import petri
from petri import Sandbox


def test_unknown_language_carries_the_library_message() -> None:
    with pytest.raises(petri.PetriError) as e:
        Sandbox(language="cobol")
    assert isinstance(e.value, petri.InvalidArgumentError)
    assert e.value.errno == errno.EINVAL and e.value.errno_name == "EINVAL"
    assert "cobol" in e.value.message and "python" in e.value.message
    assert str(e.value) == e.value.message
    assert "InvalidArgumentError(EINVAL" in repr(e.value)


@pytest.mark.parametrize(
    "bind,exc,fragment",
    [
        ("relative/src:/x", petri.InvalidArgumentError, "absolute"),
        ("/no/such/dir/anywhere:/x", petri.NotFoundError, "/no/such/dir/anywhere"),
        ("/usr:/x:rx", petri.InvalidArgumentError, "unknown option 'rx'"),
        ("/usr:/x:ro,rw", petri.InvalidArgumentError, "more than one of ro and rw"),
        ("justonepart", petri.InvalidArgumentError, "SRC:DST"),
    ],
)
def test_bad_bind(bind: str, exc: type, fragment: str) -> None:
    with pytest.raises(exc) as e:
        Sandbox(binds=[bind])
    assert fragment in str(e.value)


def test_bad_id_and_env_from_the_library() -> None:
    with pytest.raises(petri.InvalidArgumentError):
        Sandbox(id="bad id with spaces")
    with Sandbox(language="sh") as sb:
        with pytest.raises(petri.NotFoundError) as e:
            sb.run(["/nonexistent/prog"])
        assert "/nonexistent/prog" in str(e.value)


def test_closed_sandbox_raises_everywhere() -> None:
    sb = Sandbox(language="python")
    sid = sb.id
    sb.close()
    assert sb.closed and sb.id == sid and sb.init_pid is None
    calls = [
        lambda: sb.exec("print(1)"),
        lambda: sb.run(["true"]),
        lambda: sb.stream("print(1)"),
        lambda: sb.write_file("a", b"x"),
        lambda: sb.read_file("a"),
        lambda: sb.host_uid,
        lambda: sb.cgroup_id,
    ]
    for call in calls:
        with pytest.raises(petri.SandboxClosedError) as e:
            call()
        assert sid in str(e.value) or "closed" in str(e.value)
        assert isinstance(e.value, petri.PetriError)
    sb.close()  # idempotent
    sb.destroy()
    assert sb.cancel() is False


def test_context_manager_closes_even_on_error() -> None:
    with pytest.raises(ZeroDivisionError):
        with Sandbox(language="python") as sb:
            1 / 0  # noqa: B018
    assert sb.closed


@pytest.mark.parametrize(
    "kwargs",
    [
        {"language": 5},
        {"memory": 1.5},
        {"memory": True},
        {"pids": "16"},
        {"env": ["A=B"]},
        {"env": {"A": 1}},
        {"env": {1: "a"}},
        {"binds": "/usr:/x"},
        {"net": 1},
        {"net": "proxy", "allow": "example.com"},
        {"net": "proxy", "allow": [5]},
        {"context": "ctx"},
        {"workspace_dir": 3},
    ],
)
def test_wrong_types_for_sandbox(kwargs: dict) -> None:
    with pytest.raises(TypeError):
        Sandbox(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory": 0},
        {"memory": -1},
        {"memory": "lots"},
        {"memory": "1.5"},
        {"pids": 0},
        {"pids": 1 << 40},
        {"net": "internet"},
        {"env": {"A=B": "c"}},
        {"env": {"": "c"}},
        {"hostname": "a\0b"},
        {"binds": [("/usr", "/x", "rx")]},
    ],
)
def test_bad_values_for_sandbox(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Sandbox(**kwargs)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"net": "proxy"}, "allowlist"),
        ({"net": "proxy", "allow": []}, "allowlist"),
        ({"allow": ["example.com"]}, "proxy"),
        ({"net": "host", "allow": ["example.com"]}, "proxy"),
        ({"net_max_conns": 5}, "proxy"),
    ],
)
def test_proxy_options_are_checked_by_the_library(kwargs: dict, fragment: str) -> None:
    with pytest.raises(petri.InvalidArgumentError) as e:
        Sandbox(**kwargs)
    assert fragment in str(e.value)


def test_wrong_types_and_values_for_exec(sb: Sandbox) -> None:
    with pytest.raises(TypeError):
        sb.exec(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.exec(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.exec("1", timeout=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.exec("1", stdin=123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.exec("1", on_output="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.exec("1", language=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.run("ls -l")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.run([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        sb.exec("1", timeout=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sb.exec("1", timeout=0)
    with pytest.raises(ValueError):
        sb.exec("1", timeout=-3)
    with pytest.raises(ValueError):
        sb.exec("1", timeout="soon")
    with pytest.raises(ValueError):
        sb.exec("1", timeout=float("nan"))
    with pytest.raises(ValueError):
        sb.exec("print(1)\0")
    with pytest.raises(ValueError):
        sb.run([])
    with pytest.raises(ValueError):
        sb.run(["a\0b"])
    with pytest.raises(ValueError):
        sb.exec("1", stdout_limit=0)
    with pytest.raises(petri.InvalidArgumentError, match="week"):
        sb.exec("1", timeout=8 * 24 * 3600)
    # The sandbox is untouched by all of that.
    assert sb.exec("print('ok')").stdout == "ok\n"


def test_wrong_types_for_files(sb: Sandbox) -> None:
    with pytest.raises(TypeError):
        sb.write_file("a", 123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.write_file(5, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sb.write_file("a", b"x", mode="644")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sb.write_file("a", b"x", mode=0o17777)
    with pytest.raises(ValueError):
        sb.write_file("", b"x")
    with pytest.raises(ValueError):
        sb.read_file("a\0b")
    with pytest.raises(ValueError):
        sb.read_file("a", max_bytes=0)


# -- huge inputs ------------------------------------------------------------


def test_code_beyond_the_library_cap_is_refused_with_its_message(sb: Sandbox) -> None:
    code = "# " + "x" * (10 << 20) + "\nprint('never')"
    with pytest.raises(petri.TooLargeError) as e:
        sb.exec(code)
    assert e.value.errno == errno.E2BIG and "code is larger than" in str(e.value)
    assert sb.exec("print('ok')").stdout == "ok\n"


def test_big_code_below_the_cap_runs(sb: Sandbox) -> None:
    code = "s = '" + "x" * (6 << 20) + "'\nprint(len(s))"  # 6 MiB of source
    assert sb.exec(code, timeout=60).stdout == f"{6 << 20}\n"


def test_ten_megabytes_of_stdin(sb: Sandbox) -> None:
    data = os.urandom(10 << 20)
    import hashlib

    r = sb.exec(
        "import sys, hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        stdin=data,
        timeout=60,
    )
    assert r.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_ten_megabyte_file_round_trip(sb: Sandbox) -> None:
    data = os.urandom(10 << 20)
    sb.write_file("big.bin", data)
    assert sb.exec("import os; print(os.path.getsize('big.bin'))").stdout == f"{10 << 20}\n"
    assert sb.read_file("big.bin") == data


def test_a_thousand_env_vars() -> None:
    env = {f"VAR_{i}": f"value-{i}" for i in range(1000)}
    code = "import os; print(sum(1 for k in os.environ if k.startswith('VAR_')), os.environ['VAR_999'])"
    with Sandbox(language="python", env=env) as sb:
        assert sb.exec(code).stdout == "1000 value-999\n"
    with Sandbox(language="python") as sb:
        assert sb.exec(code, env=env).stdout == "1000 value-999\n"
        too_many = {f"V{i}": "x" for i in range(5000)}
        with pytest.raises(petri.TooLargeError, match="entries"):
            sb.exec(code, env=too_many)
        assert sb.exec("print('ok')").stdout == "ok\n"


def test_huge_output_is_capped_not_buffered(sb: Sandbox) -> None:
    r = sb.exec("import sys\nfor _ in range(160): sys.stdout.write('y' * 65536)")  # 10 MiB
    assert r.stdout_truncated and len(r.stdout_bytes) == 1 << 20
    assert r.stdout_total_bytes == 10 << 20


def test_a_sandbox_whose_init_died_raises_dead_not_crash() -> None:
    import signal
    import time

    sb = Sandbox(language="sh")
    pid = sb.init_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    with pytest.raises(petri.SandboxDeadError) as e:
        sb.exec("echo hi")
    assert sb.init_pid is None  # known dead once an operation has noticed
    assert sb.id in str(e.value) and e.value.errno == errno.ESRCH
    with pytest.raises(petri.SandboxDeadError):
        sb.read_file("x")
    sb.close()
    with pytest.raises(petri.SandboxClosedError):
        sb.exec("echo hi")
