#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""python_cycle.py - overhead of the Python binding over the C API for one
create + exec(/bin/true) + destroy cycle, measured side by side.

Interleaved in blocks, so that noise on the machine hits every variant alike:
  binding      petri.Sandbox() + sb.run(["/bin/true"]) + sb.close(), from the
               main thread (the default path: its execs go through the
               Ctrl-C-friendly helper thread)
  binding-thr  the same from a non-main thread (direct call)
  raw-ctypes   the same three C calls made straight through ctypes in this
               process, without the binding: isolates the binding's own cost
  C            bench/cycle_bench ROUNDS (a C program), its printed median of
               "create+exec+destroy cycle"

Prints the medians and the ratios binding/C (issue 4's target: <= 1.2x) and
binding/raw-ctypes.  The first ratio also includes what any Python host costs
the library (with PETRI_INIT=fork, init is a fork of this process and costs
more the bigger it is: see bench/host_size.py).

Usage: bench/python_cycle.py [--rounds N] [--block B] [--lib PATH] [--cycle-bench PATH]
Defaults: PETRI_LIBRARY or build/libpetri.so; cycle_bench beside it in bench/.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description="Python binding vs C API: create+exec+destroy")
    ap.add_argument("--rounds", type=int, default=200, help="cycles per variant (default 200)")
    ap.add_argument("--block", type=int, default=20, help="cycles per interleaved block (default 20)")
    ap.add_argument(
        "--lib", default=os.environ.get("PETRI_LIBRARY") or os.path.join(ROOT, "build", "libpetri.so")
    )
    ap.add_argument("--cycle-bench", default=None)
    args = ap.parse_args()
    lib_path = os.path.abspath(args.lib)
    cycle_bench = args.cycle_bench or os.path.join(os.path.dirname(lib_path), "bench", "cycle_bench")
    if not os.path.exists(lib_path) or not os.access(cycle_bench, os.X_OK):
        print(f"need {lib_path} and {cycle_bench} (build first)", file=sys.stderr)
        return 1
    os.environ["PETRI_LIBRARY"] = lib_path
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import petri
    from petri import _lib

    lib = _lib.lib()
    ctx = petri.default_context()
    ctx_ptr = ctx._state.ptr
    so = _lib.SandboxOpts()
    so.sz = ctypes.sizeof(so)

    def binding_cycle() -> float:
        t = time.perf_counter()
        sb = petri.Sandbox()
        r = sb.run(["/bin/true"])
        sb.close()
        d = time.perf_counter() - t
        if r.exit_code != 0:
            raise SystemExit("binding: /bin/true failed")
        return d * 1e3

    def raw_cycle() -> float:
        argv = (ctypes.c_char_p * 2)(b"/bin/true", None)
        eo = _lib.ExecOpts()
        eo.sz = ctypes.sizeof(eo)
        eo.argv = ctypes.cast(argv, ctypes.POINTER(ctypes.c_char_p))
        sb, res, err = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        t = time.perf_counter()
        if lib.petri_sandbox_create(ctx_ptr, ctypes.byref(so), ctypes.byref(sb), ctypes.byref(err)) < 0:
            raise SystemExit("raw: create failed")
        if lib.petri_sandbox_exec(sb, ctypes.byref(eo), ctypes.byref(res), ctypes.byref(err)) < 0:
            raise SystemExit("raw: exec failed")
        code = lib.petri_result_exit_code(res)
        lib.petri_result_free(res)
        lib.petri_sandbox_destroy(sb)
        d = time.perf_counter() - t
        if code != 0:
            raise SystemExit("raw: /bin/true failed")
        return d * 1e3

    def in_thread(fn: Callable[[], float], n: int) -> List[float]:
        out: List[float] = []
        t = threading.Thread(target=lambda: out.extend(fn() for _ in range(n)))
        t.start()
        t.join()
        return out

    def c_block(n: int) -> float:
        out = subprocess.run(
            [cycle_bench, str(max(n, 5))],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        ).stdout
        m = re.search(r"create\+exec\+destroy cycle:\s+median ([0-9.]+) ms", out)
        if not m:
            raise SystemExit("cannot parse cycle_bench output:\n" + out)
        return float(m.group(1))

    for _ in range(10):  # warm-up
        binding_cycle()
        raw_cycle()
    samples: Dict[str, List[float]] = {"binding": [], "binding-thr": [], "raw-ctypes": []}
    c_medians: List[float] = []
    done = 0
    while done < args.rounds:
        n = min(args.block, args.rounds - done)
        samples["binding"] += [binding_cycle() for _ in range(n)]
        c_medians.append(c_block(n))
        samples["binding-thr"] += in_thread(binding_cycle, n)
        samples["raw-ctypes"] += [raw_cycle() for _ in range(n)]
        done += n

    med = {k: statistics.median(v) for k, v in samples.items()}
    med["C"] = statistics.median(c_medians)
    rss = open("/proc/self/status").read().split("VmRSS:")[1].split("\n")[0].strip()
    print(
        f"rounds: {args.rounds} per variant, interleaved in blocks of {args.block}; "
        f"python {sys.version.split()[0]}, libpetri {petri.library_version()}, host RSS {rss}"
    )
    print()
    print("| create+exec(/bin/true)+destroy | median ms | vs C |")
    print("|---|---|---|")
    for k in ("C", "raw-ctypes", "binding", "binding-thr"):
        print(f"| {k} | {med[k]:.3f} | {med[k] / med['C']:.2f}x |")
    print()
    print(f"binding / C:          {med['binding'] / med['C']:.2f}x  (target <= 1.2x)")
    print(f"binding / raw-ctypes: {med['binding'] / med['raw-ctypes']:.2f}x  (the binding's own cost)")
    print(f"binding-thr / raw:    {med['binding-thr'] / med['raw-ctypes']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
