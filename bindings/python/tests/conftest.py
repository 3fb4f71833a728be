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
from typing import Any, Iterator, Optional

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

import http.client  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402


def petrid_path() -> Optional[Path]:
    """$PETRID (as tests/petrid), else petrid in the build directory."""
    if os.environ.get("PETRID"):
        return Path(os.environ["PETRID"])
    d = build_dir()
    cands = [d / "petrid", d / "tools" / "petrid" / "petrid", d / "tools" / "petrid"] if d else []
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    w = shutil.which("petrid")
    return Path(w) if w else None


def _petrid_fixtures():  # type: ignore[no-untyped-def]
    """tests/petrid/conftest.py (wt-petrid's fixtures), loaded as a module:
    its Petrid starts a petrid with a config in a temp dir, and it knows
    what a stopped petrid must not leave behind."""
    import importlib.util

    path = ROOT / "tests" / "petrid" / "conftest.py"
    spec = importlib.util.spec_from_file_location("petrid_fixtures", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass
class Petrid:
    """A petrid to test against.  ``url`` (TCP) and ``unix_url``; ``token``
    is tenant "py"'s, ``small_token`` tenant "small"'s (max_sandboxes 1,
    max_ttl 60, max_exec_timeout 20).  ``impl`` is tests/petrid's Petrid
    when this session started it."""

    url: str
    token: str
    unix_url: Optional[str] = None
    small_token: Optional[str] = None
    impl: Any = None
    dir: Optional[Path] = None

    @property
    def proc(self) -> Optional["subprocess.Popen[bytes]"]:
        return self.impl.proc if self.impl is not None else None

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

    def finish(self) -> None:
        """Stop it (SIGTERM: must exit 0, unless it was killed) and check
        that it left no cgroup and no unix socket; remove its directory."""
        impl = self.impl
        try:
            if impl is None or impl.proc is None:
                return
            killed = impl.proc.poll() is not None
            rc = 0
            if killed:
                impl.exited = True  # a test killed it: nothing to stop
            else:
                os.kill(impl.pid, signal.SIGCONT)  # in case a test froze it
                rc = impl.stop()
            assert killed or rc == 0, "petrid exited %r on SIGTERM:\n%s" % (rc, impl.log()[-3000:])
            fx = _petrid_fixtures()
            assert fx.wait_for(lambda: not fx.cgroups_of(impl.pid), timeout=15), fx.cgroups_of(impl.pid)
            assert fx.wait_for(lambda: not os.path.exists(impl.unix_path), timeout=15), impl.unix_path
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)


#: The value of tenant "py"'s secret PY_SECRET in the petrid the tests start.
SECRET_VALUE = "py-secret-" + os.urandom(8).hex()


def start_petrid(exe: Path) -> Petrid:
    """Start @exe (tests/petrid's fixture class) with two tenants on a free
    port in 20000-29999 and a unix socket in a new temp dir."""
    fx = _petrid_fixtures()
    fx.PETRID = str(exe)
    d = Path(tempfile.mkdtemp(prefix="petri-py-petrid-"))
    os.chmod(d, 0o755)
    # Tenant "py" has a secret, PY_SECRET (its value from petrid's env).
    os.environ["PETRI_PY_TEST_SECRET"] = SECRET_VALUE
    tenants = {
        "py": {
            "max_sandboxes": 50,
            "max_memory": "32G",
            "secrets": {"PY_SECRET": {"value_env": "PETRI_PY_TEST_SECRET", "hosts": ["api.example.com"]}},
        },
        "small": {"max_sandboxes": 1, "max_ttl": 60, "max_exec_timeout": 20},
    }
    try:
        impl = fx.Petrid(str(d), tenants, {}, True).start()
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return Petrid(impl.url, impl.tokens["py"], "unix://" + impl.unix_path, impl.tokens["small"], impl, d)


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
        p.finish()


@pytest.fixture
def own_petrid() -> Iterator[Petrid]:
    """A petrid of this test's own (to stop, kill or freeze)."""
    p = petrid_or_skip(own=True)
    try:
        yield p
    finally:
        p.finish()
