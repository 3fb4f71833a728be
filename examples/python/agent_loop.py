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

TODO(issue 3): write the sandbox's audit stream beside the transcript (every
exec, file and network action of the cells, as protobuf events) once
libpetri's audit layer exists; it has no audit API yet, so this example does
not pretend to record one.

Run from the repository (after building):
    PETRI_LIBRARY=build/libpetri.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 examples/python/agent_loop.py [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from typing import List

from petri import ExecResult, Sandbox

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per cell (default 2)")
    args = ap.parse_args()

    with Sandbox(language="python", memory="256M", pids=64) as sb:
        print(f"sandbox {sb.id}: {len(CELLS)} cells, {args.timeout:g} s each")
        for n, code in enumerate(CELLS, 1):
            result = sb.exec(code, timeout=args.timeout, stdout_limit="64K", stderr_limit="64K")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
