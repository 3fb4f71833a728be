#!/usr/bin/env bash
# bench/audit_bench.sh - issue 3's measurements, side by side in one run:
#  1. a file-heavy workload (20,000 open/close) in a sandbox, audit on vs off,
#     and the same workload under strace -f -e trace=file,network;
#  2. host syscall cost outside any sandbox with the audit programs loaded
#     (a sandbox with --audit is running) vs not;
#  3. events/s written with zero losses, and the per-event kernel cost
#     (kernel.bpf_stats_enabled).
# Usage: bench/audit_bench.sh [BUILD_DIR]   (root; needs hyperfine, strace)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
petri="$build/petri"
runs=${PETRI_BENCH_RUNS:-20}
tmp=$(mktemp -d)
bg=
cleanup() { [ -n "$bg" ] && kill "$bg" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

work='for i in range(20000): open("/etc/hostname").close()'
echo "## Audit overhead (median wall ms, $runs runs, env -i)"
echo
env -i PATH=/usr/bin:/bin hyperfine -N -w 3 -r "$runs" --export-json "$tmp/h.json" \
	"$petri run -- /usr/bin/python3 -c '$work'" \
	"$petri run --audit $tmp/a.audit -- /usr/bin/python3 -c '$work'" \
	"strace -f -qq -o /dev/null -e trace=file,network /usr/bin/python3 -c '$work'" \
	"/usr/bin/python3 -c '$work'" >/dev/null 2>&1
/usr/bin/python3 - "$tmp/h.json" <<'PY'
import json, sys
r = [x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]]
off, on, st, bare = r
print("| workload: 20,000 open/close in python | median ms | ratio |")
print("|---|---|---|")
print(f"| petri run, audit off | {off:.1f} | 1.00 |")
print(f"| petri run, audit on (kernel + library events) | {on:.1f} | {on/off:.3f} (target <= 1.03) |")
print(f"| strace -f -e trace=file,network, no sandbox | {st:.1f} | {st/bare:.2f}x bare |")
print(f"| bare python, no sandbox | {bare:.1f} | |")
PY

# Event rate and losses of one audited run.
sysctl -qw kernel.bpf_stats_enabled=1
start=$(date +%s%N)
"$petri" run --audit "$tmp/b.audit" -- /usr/bin/python3 -c "$work"
end=$(date +%s%N)
stats=$(bpftool -j prog show 2>/dev/null || true)
sysctl -qw kernel.bpf_stats_enabled=0
"$petri" audit verify "$tmp/b.audit" >/dev/null
events=$("$petri" audit cat "$tmp/b.audit" | wc -l)
lost=$("$petri" audit cat "$tmp/b.audit" | grep -o 'total_lost=[0-9]*' | cut -d= -f2 || true)
echo
echo "One audited run: $events events in $(( (end - start) / 1000000 )) ms of petri run," \
	"$(( events * 1000000000 / (end - start) )) events/s, lost: ${lost:-0}"
echo "$stats" | /usr/bin/python3 -c '
import json, sys
try: progs = json.load(sys.stdin)
except Exception: progs = []
for p in progs:
    n = p.get("name", "")
    if p.get("run_cnt") and any(k in n for k in ("sys_enter", "sys_exit", "exec", "fork", "exit", "connect")):
        print("  %s: %d runs, %.0f ns/run" % (n, p["run_cnt"], p["run_time_ns"] / p["run_cnt"]))'

# Host syscalls outside any sandbox, audit programs loaded or not.
off=$("$build/bench/syscall_bench")
"$petri" run --audit "$tmp/c.audit" -- sleep 60 &
bg=$!
sleep 1
on=$("$build/bench/syscall_bench")
kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null || true; bg=
echo
echo "Host openat+close outside any sandbox: ${off} ns without the audit programs," \
	"${on} ns with them loaded ($(/usr/bin/python3 -c "print(f'{$on/$off:.3f}')")x, target <= 1.01)"
