# SPDX-License-Identifier: Apache-2.0
"""AuditStream(max_bytes=...): the size bound of an audit stream, from
Python.  A flood of failed opens past a small bound leaves a stream within
the bound that verifies, whose losses are counted as size_limit Loss
events, and that still ends with the exec's end, the destroy and the
StreamEnd."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import petri
from petri.audit import (
    MAX_BYTES_MIN,
    MAX_BYTES_UNLIMITED,
    AuditStream,
    read_stream,
)

from conftest import require


@pytest.mark.parametrize("bad", [0, -1, MAX_BYTES_MIN - 1, MAX_BYTES_UNLIMITED + 1])
def test_a_bound_out_of_range_is_a_value_error(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        AuditStream(tmp_path / "x.audit", max_bytes=bad)
    assert not (tmp_path / "x.audit").exists()


@pytest.mark.parametrize("bad", ["1M", 1.5, True])
def test_a_bound_that_is_not_an_int_is_a_type_error(tmp_path: Path, bad: object) -> None:
    with pytest.raises(TypeError, match="max_bytes"):
        AuditStream(tmp_path / "x.audit", max_bytes=bad)  # type: ignore[arg-type]


def test_the_header_states_the_bound(tmp_path: Path) -> None:
    for max_bytes, stated in ((None, 1 << 30), (MAX_BYTES_MIN, MAX_BYTES_MIN),
                              (MAX_BYTES_UNLIMITED, 0)):
        path = tmp_path / "h.audit"
        with AuditStream(path, max_bytes=max_bytes):
            pass
        header = next(iter(read_stream(path)))
        assert int(header.body.get("max_bytes", 0)) == stated


def test_a_flood_stops_at_the_bound_and_the_stream_still_ends(tmp_path: Path) -> None:
    path = tmp_path / "flood.audit"
    long = "/nonexistent/" + "a" * 2000
    code = 'i=0; while [ $i -lt 3000 ]; do true < %s 2>/dev/null; i=$((i+1)); done; echo $i' % long
    with AuditStream(path, max_bytes=MAX_BYTES_MIN) as audit:
        with petri.Sandbox(language="sh", audit=audit) as sb:
            r = sb.exec(code)
    assert r.exit_code == 0 and r.stdout.strip() == "3000", r.stderr
    assert path.stat().st_size <= MAX_BYTES_MIN
    events = list(read_stream(path))  # verified as it goes
    require(events[0].body["kernel_audit"] is True, "kernel audit (root and BPF)")
    kinds = [e.kind for e in events]
    assert kinds[-1] == "stream_end"
    first_drop = next(i for i, e in enumerate(events)
                      if e.kind == "loss" and e.body["where"] == "size_limit")
    # The lifecycle events come after the drops began.
    assert kinds.index("exec_ended") > first_drop
    assert kinds.index("sandbox_destroyed") > first_drop
    losses = [e.body for e in events if e.kind == "loss"]
    size_lost = sum(int(l["count"]) for l in losses
                    if l["where"] == "size_limit" and l["kind"] == "file_activity")
    opens = sum(1 for e in events
                if e.kind == "file_activity" and e.body.get("path") == long)
    # Each failed redirection is one open of the long path: written or lost.
    assert size_lost > 0 and opens + size_lost >= 3000
    # The stream's own totals add up, kind by kind.
    end = events[-1].body
    in_stream = Counter(kinds)
    lost = Counter()
    for l in losses:
        lost[l.get("kind", "unspecified")] += int(l["count"])
    for kc in end["kinds"]:
        assert int(kc.get("written", 0)) == in_stream[kc["kind"]], kc
        assert int(kc.get("lost", 0)) == lost[kc["kind"]], kc
    assert int(end.get("lost_unreported", 0)) == 0
