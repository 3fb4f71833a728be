#!/usr/bin/env bash
# bench/audit_cost.sh - issue 15's audit cost, side by side in one run:
#  1. warm context (BPF loaded once, bench/audit_cost): per audited event,
#     the BPF programs' run time (kernel.bpf_stats), the consumer's and
#     writer's CPU, the exec's own CPU added, and the wall ratio audit
#     on/off of the 20,000-open python loop and of realistic workloads
#     (imports; a compileall of a copy of a small tree), with the floor:
#     two empty programs on sys_enter/sys_exit (bench/empty_probes);
#  2. `petri run --audit` vs `petri run` on the same workloads and on
#     `true` (the BPF load), interleaved rounds, medians, ratios.
# The load average is printed before and after: the machine is shared.
# Usage: bench/audit_cost.sh [BUILD_DIR]   (root)
# PETRI_BENCH_ROUNDS (default 15) rounds each.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
petri="$build/petri"
rounds=${PETRI_BENCH_ROUNDS:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

loop='for i in range(20000): open("/etc/hostname").close()'
imports='import json, email, http.client, decimal, argparse'
compile='import compileall, shutil, sys; shutil.copytree(sys.argv[1], "/tmp/t"); compileall.compile_dir("/tmp/t", quiet=1, force=1)'
tree=$(/usr/bin/python3 -c 'import email, os; print(os.path.dirname(email.__file__))')

echo "## Audit cost (issue 15): $(date -u +%FT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### Warm context (bench/audit_cost, $rounds rounds alternated, medians)"
env -i PATH=/usr/bin:/bin \
	PETRI_EMPTY_PROBES="$build/bench/empty_probes.bpf.o" \
	"$build/bench/audit_cost" "$rounds" \
	"exec /usr/bin/python3 -c '$loop'" \
	"exec /usr/bin/python3 -c '$imports'" \
	"rm -rf /tmp/t; exec /usr/bin/python3 -c '$compile' $tree"

echo
echo "### petri run --audit vs petri run ($rounds interleaved rounds, medians)"
/usr/bin/python3 - "$petri" "$tmp" "$rounds" "$loop" "$imports" "$compile" "$tree" <<'PY'
import statistics, subprocess, sys, time
petri, tmp, rounds, loop, imports, compile_, tree = sys.argv[1:]
rounds = int(rounds)
env = {"PATH": "/usr/bin:/bin"}
work = [("true", ["true"]),
        ("20,000 open/close in python", ["/usr/bin/python3", "-c", loop]),
        ("python imports", ["/usr/bin/python3", "-c", imports]),
        ("compileall of a copy of %s" % tree, ["/bin/sh", "-c",
         "exec /usr/bin/python3 -c '%s' %s" % (compile_, tree)])]
for name, argv in work:
    off, on = [], []
    for r in range(rounds):
        pair = [(off, [petri, "run", "--"] + argv),
                (on, [petri, "run", "--audit", tmp + "/a.audit", "--"] + argv)]
        if r % 2:
            pair.reverse()
        for acc, cmd in pair:
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            acc.append((time.perf_counter() - t) * 1e3)
    m_off, m_on = statistics.median(off), statistics.median(on)
    ratios = statistics.median([b / a for a, b in zip(off, on)])
    print("  %s: %.1f ms -> %.1f ms with --audit: %.3fx (median of per-round ratios %.3f, +%.1f ms)"
          % (name, m_off, m_on, m_on / m_off, ratios, m_on - m_off))
PY
"$petri" audit verify "$tmp/a.audit" >/dev/null
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
