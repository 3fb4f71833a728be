# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures for the petri binding's tests.

Run with Debian's Python: /usr/bin/python3 -m pytest -q bindings/python/tests
with PETRI_LIBRARY pointing at the libpetri.so to test and PYTHONPATH at
bindings/python (scripts/dev.sh test sets both).  Under CI=true a missing
prerequisite fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
PKG_DIR = HERE.parent  # bindings/python
ROOT = PKG_DIR.parent.parent  # the repository

import petri  # noqa: E402


def require(condition: bool, why: str) -> None:
    """Skip when @condition is false, except under CI, where it fails."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail("required in CI: " + why)
    pytest.skip(why)


def library_path() -> Optional[Path]:
    p = os.environ.get("PETRI_LIBRARY")
    return Path(p) if p else None


def build_dir() -> Optional[Path]:
    d = os.environ.get("PETRI_BUILD_DIR")
    if d:
        return Path(d)
    lib = library_path()
    return lib.parent if lib else None


def cli_path() -> Optional[Path]:
    d = build_dir()
    if d is None:
        return shutil.which("petri") and Path(shutil.which("petri"))  # type: ignore[arg-type]
    for c in (d / "petri", d / "tools" / "petri"):
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def child_env(**extra: str) -> dict:
    """Environment for a /usr/bin/python3 subprocess that imports petri."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PKG_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


@pytest.fixture
def sb() -> Iterator[petri.Sandbox]:
    with petri.Sandbox(language="python") as s:
        yield s


@pytest.fixture
def sh() -> Iterator[petri.Sandbox]:
    with petri.Sandbox(language="sh") as s:
        yield s


# ---------------------------------------------------------------------------
# petrid, for the remote transport (petri.remote).  A session-wide petrid
# from the build (build/petrid), on a random loopback port and a unix
# socket, with two tenants; or an existing one named by PETRI_TEST_URL and
# PETRI_TEST_TOKEN (then the tests that start, stop or kill their own
# petrid, or need the small tenant, skip).
# ---------------------------------------------------------------------------

import hashlib  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402


def petrid_path() -> Optional[Path]:
    d = build_dir()
    cands = [d / "petrid", d / "tools" / "petrid" / "petrid", d / "tools" / "petrid"] if d else []
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    w = shutil.which("petrid")
    return Path(w) if w else None


@dataclass
class Petrid:
    """A petrid to test against.  ``url`` (TCP) and ``unix_url``; ``token``
    is tenant "py"'s, ``small_token`` tenant "small"'s (max_sandboxes 1,
    max_ttl 60, max_exec_timeout 20)."""

    url: str
    token: str
    unix_url: Optional[str] = None
    small_token: Optional[str] = None
    proc: Optional["subprocess.Popen[bytes]"] = None
    dir: Optional[Path] = None
    log: List[str] = field(default_factory=list)

    def request(  # type: ignore[no-untyped-def]
        self, method: str, path: str, token: Optional[str] = None, body: Optional[dict] = None
    ):
        """A raw request (outside the SDK): (status, parsed JSON or None)."""
        host, port = self.url[len("http://") :].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            h = {"Authorization": "Bearer " + (token or self.token)}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw) if raw else None
            except ValueError:
                return r.status, None
        finally:
            c.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _healthy(port: int) -> bool:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def start_petrid(exe: Path) -> Petrid:
    """Start @exe with two tenants on a random port in 20000-29999 and a
    unix socket in a new temp dir; wait for /healthz.  The caller stops it."""
    d = Path(tempfile.mkdtemp(prefix="petri-py-petrid-"))
    os.chmod(d, 0o755)
    token, small = "py-" + os.urandom(16).hex(), "small-" + os.urandom(16).hex()
    sha = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    last = ""
    for _ in range(5):
        port = random.randint(20000, 29999)
        sock = d / "petrid.sock"
        cfg = {
            "listen": ["127.0.0.1:%d" % port, "unix:%s" % sock],
            "tenants": {
                "py": {"token_sha256": sha(token), "max_sandboxes": 50, "max_memory": "32G"},
                "small": {
                    "token_sha256": sha(small),
                    "max_sandboxes": 1,
                    "max_ttl": 60,
                    "max_exec_timeout": 20,
                },
            },
        }
        (d / "config.json").write_text(json.dumps(cfg))
        logf = open(d / "petrid.log", "wb")
        proc = subprocess.Popen(
            [str(exe), "--config", str(d / "config.json")], stdout=logf, stderr=subprocess.STDOUT
        )
        logf.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            if proc.poll() is not None:
                break
            if _healthy(port):
                return Petrid("http://127.0.0.1:%d" % port, token, "unix://" + str(sock), small, proc, d)
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        last = (d / "petrid.log").read_text(errors="replace")[-2000:]
    raise RuntimeError("petrid did not start (5 tries); its log:\n" + last)


def petrid_or_skip(own: bool = False) -> Petrid:
    """PETRI_TEST_URL's petrid (unless @own is needed), else a new one from
    the build; skipped when there is none (failed under CI)."""
    if not own and os.environ.get("PETRI_TEST_URL"):
        return Petrid(os.environ["PETRI_TEST_URL"], os.environ.get("PETRI_TEST_TOKEN", ""))
    exe = petrid_path()
    require(exe is not None, "petrid (build/petrid next to PETRI_LIBRARY) for the remote transport")
    assert exe is not None
    return start_petrid(exe)


@pytest.fixture(scope="session")
def petrid() -> Iterator[Petrid]:
    p = petrid_or_skip()
    try:
        yield p
    finally:
        p.stop()
        if p.dir is not None:
            shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture
def own_petrid() -> Iterator[Petrid]:
    """A petrid of this test's own (to stop, kill or freeze)."""
    p = petrid_or_skip(own=True)
    try:
        yield p
    finally:
        if p.proc is not None and p.proc.poll() is None:
            os.kill(p.proc.pid, signal.SIGCONT)
        p.stop()
        if p.dir is not None:
            shutil.rmtree(p.dir, ignore_errors=True)
