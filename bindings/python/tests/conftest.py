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
from typing import Iterator, Optional

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
