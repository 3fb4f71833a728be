#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""python_pool.py - create + exec(/bin/true) + destroy cycles per second with
a warm pool, through the Python binding and through the C API, side by side
in one run (issue 15: >= 800/s through Python, >= 1000/s in C).

Every variant uses a pool of language-less sandboxes (warm {None: W},
recycling on) and runs in interleaved blocks of N cycles, so that noise on
the machine hits each alike; before each block the pool is waited full.
  C              bench/pool_cycle_bench -t T (a C program, its own context)
  raw-ctypes     the floor of any Python host: the five C calls of a cycle
                 (create, exec, exit_code, result_free, destroy) straight
                 through ctypes with options built once, no binding
  binding        petri.Sandbox(context=ctx) + run(["/bin/true"]) + close(),
                 from the main thread (the default path: execs hop to the
                 Ctrl-C-friendly helper thread) and from worker threads
Each for 1 and 2 threads.  Prints the medians of the blocks' cycles/s, the
ratios, and the load average before and after; and the host process's CPU
per cycle (getrusage, every thread of the process: callers, the library's
supervisor and refill threads), which other jobs on the machine disturb far
less than the wall clock: the binding's CPU minus raw-ctypes' is what
Python adds.  Then the binding's own costs timed alone (--no-micro skips).

Usage: bench/python_pool.py [--blocks K] [--block N] [--warm W] [--lib PATH]
Defaults: 15 blocks of 200 cycles, W 8, PETRI_LIBRARY or build/libpetri.so
(pool_cycle_bench beside it in bench/).  Run it under env -i (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_s() -> float:
    """CPU seconds of this process so far (every thread)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


#: host CPU per cycle (us) of each variant's blocks, beside the rates
cpu: Dict[str, List[float]] = {}


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description="pooled create+exec+destroy cycles/s: Python vs C")
    ap.add_argument("--blocks", type=int, default=15)
    ap.add_argument("--block", type=int, default=200, help="cycles per block (default 200)")
    ap.add_argument("--warm", type=int, default=8, help="pool size (default 8, as bench/pool_bench)")
    ap.add_argument(
        "--lib", default=os.environ.get("PETRI_LIBRARY") or os.path.join(ROOT, "build", "libpetri.so")
    )
    ap.add_argument("--pool-bench", default=None)
    ap.add_argument("--only", default="", help="comma-separated variants to run (default all)")
    ap.add_argument("--no-micro", action="store_true", help="skip the binding's own per-cycle costs")
    args = ap.parse_args()
    lib_path = os.path.abspath(args.lib)
    pool_bench = args.pool_bench or os.path.join(os.path.dirname(lib_path), "bench", "pool_cycle_bench")
    if not os.path.exists(lib_path) or not os.access(pool_bench, os.X_OK):
        print(f"need {lib_path} and {pool_bench} (build first)", file=sys.stderr)
        return 1
    os.environ["PETRI_LIBRARY"] = lib_path
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    import petri
    from petri import _lib

    lib = _lib.lib()
    ctx = petri.Context(warm={None: args.warm})
    if not ctx.pool_wait(120):
        raise SystemExit("the pool did not fill in 120 s")
    ctx_ptr = ctx._state.ptr

    so = _lib.SandboxOpts()
    so.sz = ctypes.sizeof(so)
    argv = (ctypes.c_char_p * 2)(b"/bin/true", None)
    eo = _lib.ExecOpts()
    eo.sz = ctypes.sizeof(eo)
    eo.argv = ctypes.cast(argv, ctypes.POINTER(ctypes.c_char_p))
    so_ref, eo_ref = ctypes.byref(so), ctypes.byref(eo)
    create, execute = lib.petri_sandbox_create, lib.petri_sandbox_exec
    exit_code, result_free, destroy = lib.petri_result_exit_code, lib.petri_result_free, lib.petri_sandbox_destroy

    def raw_cycle() -> None:
        sb, res, err = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        if create(ctx_ptr, so_ref, ctypes.byref(sb), ctypes.byref(err)) < 0:
            raise SystemExit("raw: create failed")
        if execute(sb, eo_ref, ctypes.byref(res), ctypes.byref(err)) < 0:
            raise SystemExit("raw: exec failed")
        code = exit_code(res)
        result_free(res)
        destroy(sb)
        if code != 0:
            raise SystemExit("raw: /bin/true failed")

    true_argv = ["/bin/true"]

    def binding_cycle() -> None:
        sb = petri.Sandbox(context=ctx)
        r = sb.run(true_argv)
        sb.close()
        if r.exit_code != 0:
            raise SystemExit("binding: /bin/true failed")

    def timed(fn: Callable[[], None], n: int, threads: int, main_thread: bool, name: str) -> float:
        """cycles/s of @n cycles of @fn over @threads threads."""
        assert ctx.pool_wait(120), "pool not refilled"
        per = n // threads
        if threads == 1 and main_thread:
            c = cpu_s()
            t = time.perf_counter()
            for _ in range(per):
                fn()
            dt = time.perf_counter() - t
            cpu.setdefault(name, []).append((cpu_s() - c) * 1e6 / per)
            return per / dt
        errors: List[BaseException] = []
        go = threading.Barrier(threads + 1)

        def work() -> None:
            go.wait()
            try:
                for _ in range(per):
                    fn()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for th in ts:
            th.start()
        go.wait()
        c = cpu_s()
        t = time.perf_counter()
        for th in ts:
            th.join()
        dt = time.perf_counter() - t
        cpu.setdefault(name, []).append((cpu_s() - c) * 1e6 / (per * threads))
        if errors:
            raise errors[0]
        return per * threads / dt

    def c_block(n: int, threads: int, name: str) -> float:
        out = subprocess.run(
            [pool_bench, "-n", str(n), "-t", str(threads), "-w", str(args.warm)],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
        ).stdout
        m = re.search(r"cycles/s ([0-9.]+) host_cpu_us ([0-9.]+)", out)
        if not m:
            raise SystemExit("cannot parse pool_cycle_bench output:\n" + out)
        cpu.setdefault(name, []).append(float(m.group(2)))
        return float(m.group(1))

    variants: Dict[str, Callable[[int], float]] = {
        "C 1 thread": lambda n: c_block(n, 1, "C 1 thread"),
        "C 2 threads": lambda n: c_block(n, 2, "C 2 threads"),
        "raw-ctypes 1 thread": lambda n: timed(raw_cycle, n, 1, True, "raw-ctypes 1 thread"),
        "raw-ctypes 2 threads": lambda n: timed(raw_cycle, n, 2, False, "raw-ctypes 2 threads"),
        "binding main thread": lambda n: timed(binding_cycle, n, 1, True, "binding main thread"),
        "binding 1 worker thread": lambda n: timed(binding_cycle, n, 1, False, "binding 1 worker thread"),
        "binding 2 threads": lambda n: timed(binding_cycle, n, 2, False, "binding 2 threads"),
    }
    if args.only:
        keep = [v.strip() for v in args.only.split(",")]
        variants = {k: v for k, v in variants.items() if any(k.startswith(x) for x in keep)}
    for _ in range(30):  # warm-up
        binding_cycle()
        raw_cycle()
    load0 = loadavg()
    st0 = ctx.pool_stats(None)
    samples: Dict[str, List[float]] = {k: [] for k in variants}
    for _ in range(args.blocks):
        for k, fn in variants.items():
            samples[k].append(fn(args.block))
    st1 = ctx.pool_stats(None)
    load1 = loadavg()
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(
        f"{args.blocks} blocks of {args.block} cycles per variant, interleaved; warm {{None: {args.warm}}}, "
        f"recycling on; python {sys.version.split()[0]}, libpetri {petri.library_version()}, "
        f"{os.cpu_count()} CPUs; load average {load0} before, {load1} after"
    )
    print(
        f"binding/raw-ctypes pool over the run: hits {st1.hits - st0.hits}, misses {st1.misses - st0.misses}, "
        f"recycled {st1.recycled - st0.recycled}, discarded {st1.discarded - st0.discarded}, "
        f"failed {st1.failed - st0.failed}"
    )
    print()
    print("| cycles/s (median of blocks) | 1 thread | 2 threads | ms/cycle (1 thread) "
          "| host process CPU us/cycle (1 thread / 2 threads) |")
    print("|---|---|---|---|---|")
    rows = [("C", "C 1 thread", "C 2 threads"), ("raw-ctypes (floor)", "raw-ctypes 1 thread", "raw-ctypes 2 threads"),
            ("binding, main thread", "binding main thread", None),
            ("binding, worker threads", "binding 1 worker thread", "binding 2 threads")]
    for name, one, two in rows:
        if one not in med:
            continue
        a = med[one]
        b = f"{med[two]:.0f}" if two and two in med else "-"
        c1 = statistics.median(cpu[one])
        c2 = f"{statistics.median(cpu[two]):.0f}" if two and two in cpu else "-"
        print(f"| {name} | {a:.0f} | {b} | {1e3 / a:.3f} | {c1:.0f} / {c2} |")
    print()
    if "C 1 thread" in med:
        for k in med:
            if not k.startswith("C "):
                c = "C 2 threads" if "2 threads" in k else "C 1 thread"
                print(f"{k} / {c}: {med[k] / med[c]:.2f}x")
    if not args.no_micro:
        micro(petri, _lib, lib, ctx)
    ctx.close()
    return 0


def micro(petri, _lib, lib, ctx) -> None:
    """What the binding's Python costs per cycle, without the kernel's work:
    each piece timed alone (best of 5 runs of many calls), on the real
    library and a real result."""
    import timeit

    from petri import sandbox as S
    from petri.result import ExecResult

    def us(fn, n=20000):
        return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6

    sb = petri.Sandbox(context=ctx)
    argv = (ctypes.c_char_p * 2)(b"/bin/true", None)
    eo = _lib.ExecOpts()
    eo.sz = ctypes.sizeof(eo)
    eo.argv = ctypes.cast(argv, ctypes.POINTER(ctypes.c_char_p))
    res, err = ctypes.c_void_p(), ctypes.c_void_p()
    if lib.petri_sandbox_exec(sb._state.ptr, ctypes.byref(eo), ctypes.byref(res), ctypes.byref(err)) < 0:
        raise SystemExit("micro: exec failed")

    class Fake:
        id = "x"
        closed = False

        def close(self, *a):
            pass

    real = ctx._state.create_sandbox
    ctx._state.create_sandbox = lambda o: Fake()
    try:
        init = us(lambda: petri.Sandbox(context=ctx), 5000)
    finally:
        ctx._state.create_sandbox = real

    def hop():
        job = S._Job(lambda: 0)
        S._MainHelper.submit(job)
        job.done.acquire()

    rows = [
        ("Sandbox() options and bookkeeping (create stubbed)", init),
        ("run() options (_prepare)", us(lambda: sb._prepare(["/bin/true"], None, None, None, {}))),
        ("result copied out (_from_c: 15 getters)", us(lambda: ExecResult._from_c(res, "x"))),
        ("one ctypes call (petri_result_exit_code)", us(lambda: lib.petri_result_exit_code(res))),
        ("main thread only: hop to the exec helper thread", us(hop, 5000)),
    ]
    lib.petri_result_free(res)
    sb.close()
    print()
    print("| the binding's own cost per cycle (no kernel work) | us |")
    print("|---|---|")
    for name, v in rows:
        print(f"| {name} | {v:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
