# SPDX-License-Identifier: Apache-2.0
"""Threads, garbage collection, interpreter exit, fork, explicit contexts."""

from __future__ import annotations

import gc
import os
import subprocess
import threading
import time
from typing import Dict, List, Set

import pytest

import petri
from petri import Context, Sandbox

from conftest import PYTHON, child_env


def children_of(pid: int) -> Set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.add(int(name))
    return out


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_four_threads_each_with_its_own_sandbox_run_concurrently() -> None:
    errors: List[BaseException] = []
    results: Dict[int, List[str]] = {}

    def worker(n: int) -> None:
        try:
            with Sandbox(language="python") as sb:
                sb.write_file("me.txt", str(n))
                outs = []
                for i in range(3):
                    r = sb.exec(f"import time; time.sleep(0.4); print(open('me.txt').read(), {i})")
                    outs.append(r.stdout)
                results[n] = outs
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - t0
    assert not errors, errors
    assert results == {n: [f"{n} {i}\n" for i in range(3)] for n in range(4)}
    # 4 threads x 3 execs x 0.4 s = 4.8 s if they ran one after another.
    assert elapsed < 3.5, elapsed


def test_the_gil_is_released_during_exec(sh: Sandbox) -> None:
    stop = threading.Event()
    count = [0]

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        sh.exec("sleep 0.5")
        during = count[0]
    finally:
        stop.set()
        t.join()
    assert during > 10_000


def test_garbage_collected_sandboxes_leave_no_fds_or_processes() -> None:
    with Sandbox() as warm:  # the context and anything lazy exist already
        warm.run(["true"])
    gc.collect()
    fds0, kids0 = open_fds(), children_of(os.getpid())
    pids = []
    for _ in range(8):
        sb = Sandbox(language="sh")
        assert sb.exec("echo hi").stdout == "hi\n"
        assert sb.init_pid is not None
        pids.append(sb.init_pid)
        cycle = [sb]
        cycle.append(cycle)  # a reference cycle: only the cycle collector frees it
        del sb, cycle
    assert len(set(pids)) == 8
    gc.collect()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"init {pid} of a collected sandbox still exists"
    assert open_fds() == fds0
    assert children_of(os.getpid()) == kids0


EXIT_SCRIPT = r"""
import glob, os, sys, threading, time
import petri

def cgroup_dirs():
    dirs = []
    for line in open("/proc/self/cgroup"):
        hid, ctrls, path = line.rstrip("\n").split(":", 2)
        names = ["unified", ""] if hid == "0" else [c.replace("name=", "") for c in ctrls.split(",")]
        for n in names:
            d = os.path.join("/sys/fs/cgroup", n) + path
            if os.path.isdir(d) and d not in dirs:
                dirs.append(d)
    return dirs

a = petri.Sandbox(language="sh")              # default context, never closed
ctx = petri.Context()
b = ctx.sandbox(language="sh")                # explicit context, never closed
c = petri.Sandbox(language="sh")              # running an exec in a daemon thread at exit
started = threading.Event()
threading.Thread(target=lambda: c.exec("echo go; sleep 60", on_output=lambda s, d: started.set()),
                 daemon=True).start()
assert started.wait(10)
found = [p for d in cgroup_dirs() for p in glob.glob(os.path.join(d, "petri-%d-*" % os.getpid()))]
print("mode", ctx.cgroup_mode)
print("pids", a.init_pid, b.init_pid, c.init_pid)
print("cgroups", *found)
sys.stdout.flush()
"""


def test_sandboxes_left_open_are_destroyed_at_interpreter_exit() -> None:
    t0 = time.monotonic()
    p = subprocess.run(
        [PYTHON, "-c", EXIT_SCRIPT], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t0 < 20  # the exec was cancelled, not waited out
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in p.stdout.splitlines())
    pids = [int(x) for x in lines["pids"].split()]
    assert len(pids) == 3
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")
    cgroups = lines["cgroups"].split()
    if lines["mode"] != "none":
        assert cgroups, "no petri cgroup found while the sandboxes lived: the check would be vacuous"
    for d in cgroups:
        assert not os.path.exists(d), f"{d} left behind"


def test_fork_child_forgets_the_parents_sandboxes(sh: Sandbox) -> None:
    assert sh.exec("echo before").stdout == "before\n"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            os.close(r)
            try:
                sh.exec("echo parent's sandbox")
            except petri.SandboxClosedError:
                with Sandbox(language="sh") as mine:  # a fresh context of its own
                    if mine.exec("echo child").stdout == "child\n":
                        code = 0
            os.write(w, b"ok" if code == 0 else b"bad")
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    msg = os.read(r, 10)
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0 and msg == b"ok"
    assert sh.exec("echo after").stdout == "after\n"  # the parent's is intact


def test_explicit_context() -> None:
    with Context(log_level="debug") as ctx:
        assert ctx.cgroup_mode in ("v1", "v2", "none")
        sb = ctx.sandbox(language="sh")
        other = Sandbox(language="sh", context=ctx)
        assert sb.exec("echo in ctx").stdout == "in ctx\n"
        assert sb.context is ctx
        assert sb.host_uid > 0
    # Closing the context destroyed its sandboxes.
    assert ctx.closed and sb.closed and other.closed
    with pytest.raises(petri.SandboxClosedError):
        sb.exec("echo no")
    with pytest.raises(petri.SandboxClosedError):
        ctx.sandbox()
    with pytest.raises(ValueError):
        Context(log_level="loud")
    assert petri.default_context() is petri.default_context()


def _unified_cgroup(pid: str = "self") -> str:
    with open("/proc/%s/cgroup" % pid) as f:
        return next(line[3:].strip() for line in f if line.startswith("0::"))


def _pure_v2() -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1:3] == ["/sys/fs/cgroup", "cgroup2"] for line in f)


def test_cgroup_leaf() -> None:
    """cgroup_leaf reaches the library as PETRI_CTX_F_CGROUP_LEAF: accepted,
    sandboxes run.  On a hybrid host (v1 controllers) it does nothing: the
    process stays in its cgroup and the mode is that of a default context.
    On pure v2 the process is in its cgroup or in "<it>/petri-host"."""
    with pytest.raises(TypeError):
        Context(cgroup_leaf=1)  # type: ignore[arg-type]
    # A child of its own: a move must not take the test runner along.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            before = _unified_cgroup()
            with Context(cgroup_leaf=True) as ctx:
                mode = ctx.cgroup_mode
                ok = ctx.sandbox(language="sh").exec("echo leaf").stdout == "leaf\n"
            after = _unified_cgroup()
            with Context() as plain:
                plain_mode = plain.cgroup_mode
            if _pure_v2():
                moved = after in (before, before.rstrip("/") + "/petri-host")
            else:
                moved = after == before and mode == plain_mode
            os.write(w, ("%s %s %s %s %s" % (ok, moved, before, after, mode)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    msg = os.read(r, 4096).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0, msg
    assert msg.startswith("True True "), msg


def test_library_messages_reach_python_logging(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG, logger="petri"):
        with Context(log_level="debug") as ctx:
            with ctx.sandbox(language="sh") as sb:
                sb.exec("true")
    records = [r for r in caplog.records if r.name == "petri"]
    # At debug level the library says what it did with this sandbox.
    assert any(sb.id in r.getMessage() for r in records), [r.getMessage() for r in records]
    assert all(r.levelno in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR) for r in records)


def test_library_not_found_is_a_clear_error() -> None:
    script = (
        "import petri\n"
        "try:\n"
        "    petri.Sandbox()\n"
        "except petri.LibraryNotFoundError as e:\n"
        "    print('ERR', e)\n"
    )
    p = subprocess.run(
        [PYTHON, "-c", script],
        env=child_env(PETRI_LIBRARY="/nonexistent/libpetri.so"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        p.stdout.startswith("ERR ") and "PETRI_LIBRARY" in p.stdout and "/nonexistent/libpetri.so" in p.stdout
    )


def test_library_found_by_the_loader_without_petri_library() -> None:
    from conftest import library_path, require

    lib = library_path()
    require(lib is not None, "PETRI_LIBRARY, to know which directory to give the loader")
    assert lib is not None
    env = child_env(LD_LIBRARY_PATH=str(lib.parent))
    env.pop("PETRI_LIBRARY", None)
    script = (
        "import petri\n"
        "with petri.Sandbox(language='sh') as sb:\n"
        "    print(sb.exec('echo found').stdout, end='')\n"
        "from petri import _lib\n"
        "print(_lib.lib()._name)\n"
    )
    p = subprocess.run([PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    found, name = p.stdout.splitlines()
    assert found == "found" and "libpetri.so" in name
