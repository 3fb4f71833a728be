# SPDX-License-Identifier: Apache-2.0
"""Sandbox(cpus=...): the CPU limit (petri_sandbox_opts.cpus_milli).

Timing checks are one-sided: a busy machine only gives the sandbox less.
"""

from __future__ import annotations

import os

import pytest

from petri import Sandbox
from petri.errors import InvalidArgumentError, PetriError

# Two processes spin for 2 s of wall time.
SPIN = """
import os, time
end = time.monotonic() + 2
child = os.fork()
while time.monotonic() < end:
    pass
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
"""


def test_half_a_cpu_bounds_two_busy_processes() -> None:
    with Sandbox(language="python", cpus=0.5) as sb:
        r = sb.exec(SPIN, timeout=30)
    assert r.reason == "exited", r
    assert r.wall_ms >= 1900
    assert r.cpu_ms <= 0.7 * r.wall_ms, (r.cpu_ms, r.wall_ms)


@pytest.mark.parametrize("bad", [0, -1, 0.0001, float("nan"), float("inf")])
def test_bad_values_are_value_errors(bad: float) -> None:
    with pytest.raises(ValueError):
        Sandbox(language="sh", cpus=bad)


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_bad_types_are_type_errors(bad: object) -> None:
    with pytest.raises(TypeError):
        Sandbox(language="sh", cpus=bad)  # type: ignore[arg-type]


def test_more_than_the_machine_has_is_refused_by_the_library() -> None:
    online = os.sysconf("SC_NPROCESSORS_ONLN")
    with pytest.raises(PetriError) as e:
        Sandbox(language="sh", cpus=online + 1)
    assert isinstance(e.value, InvalidArgumentError)
    assert "online" in str(e.value)
