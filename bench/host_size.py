#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""host_size.py - does a bigger host make sandboxes slower?

Times create + exec(/bin/true) + destroy through the Python binding from
this process, then again after touching BALLAST_MB of memory in it, and
prints both medians and their ratio.  With init started from its own image
(the default) the ratio stays near 1; with PETRI_INIT=fork in the
environment init is a fork of this process and the ratio grows with the
ballast (page tables copied per sandbox and per exec).

Usage: bench/host_size.py [--rounds N] [--ballast-mb MB] [--lib PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--ballast-mb", type=int, default=300)
    ap.add_argument("--lib", default=os.environ.get("PETRI_LIBRARY", os.path.join(ROOT, "build", "libpetri.so")))
    args = ap.parse_args()
    os.environ["PETRI_LIBRARY"] = os.path.abspath(args.lib)
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    from petri import Sandbox

    def cycles(n: int) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            with Sandbox(language="sh") as sb:
                sb.run(["/bin/true"])
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    cycles(max(5, args.rounds // 2))  # warm up
    small = cycles(args.rounds)
    ballast = bytearray(args.ballast_mb << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    big = cycles(args.rounds)
    mode = "forked init (PETRI_INIT=fork)" if os.environ.get("PETRI_INIT") == "fork" else "exec'd init"
    print(f"{mode}: median cycle {small:.2f} ms; with {args.ballast_mb} MB touched in the host: "
          f"{big:.2f} ms ({big / small:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
