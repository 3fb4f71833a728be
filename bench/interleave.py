#!/usr/bin/env python3
"""Time commands interleaved: every round runs each command once, in a
rotating order, so that drift on a shared machine (other tenants, frequency,
the previous run's asynchronous teardown) lands on all of them alike.

usage: interleave.py [--pair A/B ...] ROUNDS NAME=COMMAND [NAME=COMMAND ...]

COMMAND is split like a shell would (shlex) and started with posix_spawn
in a clean environment (PATH only), stdin and stdout on /dev/null.  Prints,
per command, the median wall time and the median over rounds of its ratio
to the first command's time in the same round; then, for each --pair A/B
(names), the median over rounds of A's time over B's in the same round,
with its quartiles.
"""
import os
import shlex
import shutil
import statistics
import sys
import time


def run_once(argv, devnull):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"},
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                       (os.POSIX_SPAWN_DUP2, devnull, 1)])
    _, status = os.waitpid(pid, 0)
    t1 = time.perf_counter_ns()
    if status != 0:
        sys.exit("interleave.py: %s exited with status %#x" % (argv[0], status))
    return (t1 - t0) / 1e6


def main():
    args = sys.argv[1:]
    pairs = []
    while len(args) >= 2 and args[0] == "--pair":
        pairs.append(args[1].split("/", 1))
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    rounds = int(args[0])
    cmds = []
    for spec in args[1:]:
        name, _, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        path = shutil.which(argv[0], path="/usr/bin:/bin") if "/" not in argv[0] else argv[0]
        if not path:
            sys.exit("interleave.py: %s not found" % argv[0])
        cmds.append((name, [path] + argv[1:]))
    devnull = os.open("/dev/null", os.O_RDWR)
    for _ in range(3):  # warm-up
        for _, argv in cmds:
            run_once(argv, devnull)
    times = [[] for _ in cmds]
    for r in range(rounds):
        order = list(range(len(cmds)))
        k = r % len(cmds)
        order = order[k:] + order[:k]
        for i in order:
            times[i].append(run_once(cmds[i][1], devnull))
    base = times[0]
    print("| command | median ms | median of per-round ratio to %s |" % cmds[0][0])
    print("|---|---|---|")
    for (name, _), t in zip(cmds, times):
        ratio = statistics.median(x / b for x, b in zip(t, base))
        print("| %s | %.2f | %.3f |" % (name, statistics.median(t), ratio))
    if pairs:
        index = {name: i for i, (name, _) in enumerate(cmds)}
        print()
        print("| per round | median | quartiles |")
        print("|---|---|---|")
        for a, b in pairs:
            if a not in index or b not in index:
                sys.exit("interleave.py: --pair %s/%s: no such command" % (a, b))
            r = sorted(x / y for x, y in zip(times[index[a]], times[index[b]]))
            q = statistics.quantiles(r, n=4)
            print("| %s / %s | **%.3f** | %.3f-%.3f |" % (a, b, statistics.median(r), q[0], q[2]))


if __name__ == "__main__":
    main()
