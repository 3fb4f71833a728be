#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""agent_loop.py - an AI agent's code-execution loop on libpetri's Python binding.

A language model writes code one cell at a time; the host runs each cell in
the SAME sandbox, so files in /workspace carry state from one cell to the
next (like a notebook's kernel, but each cell is a fresh process), with a
timeout per cell.  Each cell's output and the reason it ended are printed,
which is what an agent would feed back to the model for its next turn.  The
cells below stand in for the model's replies, one of which runs away and is
stopped by its timeout without ending the loop.

The sandbox also writes its audit stream (hash-chained protobuf events:
sandbox created/destroyed, each exec's start and end, limits hit) to
--audit PATH, by default agent_loop.audit in a temporary directory.  At the
end the host reads it back, verifying the chain, and prints one line per
exec: what an auditor would check the transcript against.  `petri audit
cat|json|verify PATH` reads the same file.

Run from the repository (after building):
    PETRI_LIBRARY=build/libpetri.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 examples/python/agent_loop.py [--timeout SECONDS] [--audit PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Dict, List

from petri import ExecResult, Sandbox
from petri.audit import AuditEvent, AuditStream, read_stream

# What the model wrote, turn by turn.
CELLS: List[str] = [
    # 1: fetch some data into the workspace
    """
rows = [("alice", 10), ("bob", 20), ("carol", 30), ("dave", 40), ("erin", 50)]
with open("data.csv", "w") as f:
    f.write("name,score\\n")
    for name, score in rows:
        f.write(f"{name},{score}\\n")
print("wrote data.csv")
""",
    # 2: load it and keep the parsed state for later cells
    """
import csv, json
rows = list(csv.DictReader(open("data.csv")))
json.dump({"scores": [int(r["score"]) for r in rows]}, open("state.json", "w"))
print(f"loaded {len(rows)} rows")
""",
    # 3: work on the state left by the previous cell
    """
import json
state = json.load(open("state.json"))
state["total"] = sum(state["scores"])
json.dump(state, open("state.json", "w"))
print("total =", state["total"])
""",
    # 4: a runaway cell: stopped by the per-cell timeout, the loop goes on
    """
print("thinking very hard...", flush=True)
while True:
    pass
""",
    # 5: the state survived the runaway cell; write a report for the host
    """
import json
state = json.load(open("state.json"))
mean = state["total"] / len(state["scores"])
report = f"report: total={state['total']} mean={mean}"
open("report.md", "w").write("# Scores\\n\\n" + report + "\\n")
print(report)
""",
]


def describe(n: int, r: ExecResult) -> str:
    how = f"exit code {r.exit_code}" if r.exit_code is not None else f"signal {r.signal}"
    extra = f", limits hit: {', '.join(r.limits_hit)}" if r.limits_hit else ""
    return f"--- cell {n}: {r.reason} ({how}{extra}, {r.wall_ms:.0f} ms)"


def audit_summary(path: str) -> List[str]:
    """One line per exec of the audit stream at @path (read_stream checks
    the hash chain and raises AuditIntegrityError on a damaged stream)."""
    started: Dict[str, AuditEvent] = {}
    lines = []
    n = 0
    for ev in read_stream(path):
        n += 1
        if ev.kind == "exec_started":
            started[ev.exec_id] = ev
        elif ev.kind == "exec_ended":
            res = ev.body.get("result", {})
            begin = started.pop(ev.exec_id, None)
            ms = (ev.time_unix_nano - begin.time_unix_nano) / 1e6 if begin else 0.0
            hit = res.get("limits_hit") or []
            extra = f" (limits hit: {', '.join(hit)})" if hit else ""
            lines.append(
                f"audit: exec {ev.exec_id} (seq {begin.seq if begin else '?'}..{ev.seq}): "
                f"started, ended {res.get('reason', '?')}{extra} after {ms:.0f} ms"
            )
    for exec_id in started:  # started but never ended: worth a look
        lines.append(f"audit: exec {exec_id}: started, no end recorded")
    lines.append(f"audit: {n} events, chain verified")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per cell (default 2)")
    ap.add_argument("--audit", metavar="PATH", help="audit stream file (default: a temporary one)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="agent_loop.") as tmp:
        audit_path = args.audit or os.path.join(tmp, "agent_loop.audit")
        run(args.timeout, audit_path)
        where = audit_path if args.audit else "temporary; --audit PATH keeps it"
        print(f"--- audit stream ({where}):")
        for line in audit_summary(audit_path):
            print(line)
    return 0


def run(timeout: float, audit_path: str) -> None:
    # The stream outlives the sandbox: it is closed (StreamEnd written)
    # after the sandbox is destroyed.
    with AuditStream(audit_path) as audit, Sandbox(
        language="python", memory="256M", pids=64, audit=audit
    ) as sb:
        print(f"sandbox {sb.id}: {len(CELLS)} cells, {timeout:g} s each")
        for n, code in enumerate(CELLS, 1):
            result = sb.exec(code, timeout=timeout, stdout_limit="64K", stderr_limit="64K")
            print(describe(n, result))
            if result.stdout:
                print(result.stdout, end="" if result.stdout.endswith("\n") else "\n")
            if result.stderr:
                print("[stderr]", result.stderr, end="" if result.stderr.endswith("\n") else "\n")
            if result.truncated:
                print("[output truncated]")
        # The host takes the cells' product out of the workspace.
        report = sb.read_file("report.md").decode()
    print("--- report.md from the workspace:")
    print(report, end="")


if __name__ == "__main__":
    sys.exit(main())
