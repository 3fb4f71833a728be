#!/usr/bin/env bash
# bench/run.sh - side-by-side benchmarks for issue 2, in a clean environment
# (env -i: an ambient NODE_EXTRA_CA_CERTS alone doubles `node -e 0`).
# Usage: bench/run.sh [BUILD_DIR]   (default: build).  Needs hyperfine, bwrap
# (and nginx, curl for bench/egress_bench.py at the end).
# Prints markdown; bench/RESULTS.md records a run with the machine it ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
petri="$build/petri"
runs=${PETRI_BENCH_RUNS:-40}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# bwrap with the isolation petri gives: all namespaces, read-only /usr and
# the /lib links, fresh /proc, minimal /dev, tmpfs /tmp, die with parent.
bwrap_cmd="bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr \
--symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
--symlink usr/sbin /sbin --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev \
--tmpfs /tmp --dir /workspace --chdir /workspace --cap-drop ALL"

# bwrap with petri's isolation as far as bwrap can give it (the issue's
# "equivalent isolation"): the same namespaces, user 1000, host name, the
# same /proc masks (/dev/null over kernel files, empty read-only tmpfs over
# hardware trees, read-only kernel knobs), the same tmpfs layout and a
# read-only root; with --seccomp below, the same seccomp program.  bwrap
# cannot give cgroup limits, Landlock or a per-exec pid namespace: petri
# pays for those on top.  petri's /etc conveniences (certificates, python
# and locale files) are left out, as in the minimal command above.
bwrap_eq_cmd="bwrap --unshare-all --die-with-parent --new-session --hostname petri \
--uid 1000 --gid 1000 --ro-bind /usr /usr"
for l in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$l" ]; then
		bwrap_eq_cmd+=" --symlink $(readlink "/$l") /$l"
	elif [ -d "/$l" ]; then
		bwrap_eq_cmd+=" --ro-bind /$l /$l"
	fi
done
bwrap_eq_cmd+=" --ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc"
for f in kcore keys latency_stats timer_list timer_stats sched_debug kmsg kallsyms \
	kpagecount kpageflags kpagecgroup config.gz; do
	[ -e "/proc/$f" ] && bwrap_eq_cmd+=" --ro-bind /dev/null /proc/$f"
done
for d in acpi asound scsi driver tty; do
	[ -d "/proc/$d" ] && bwrap_eq_cmd+=" --tmpfs /proc/$d --remount-ro /proc/$d"
done
for r in sys sysrq-trigger irq bus fs; do
	[ -e "/proc/$r" ] && bwrap_eq_cmd+=" --ro-bind /proc/$r /proc/$r"
done
bwrap_eq_cmd+=" --dev /dev --tmpfs /tmp --tmpfs /home/sandbox --tmpfs /workspace \
--tmpfs /run/petri --remount-ro / --chdir /workspace --cap-drop ALL"

echo "## Machine"
echo
echo "- $(uname -srm), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "- petri $("$petri" --version 2>/dev/null | head -1), $(bwrap --version), $(hyperfine --version)"
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), env -i, $runs runs after 5 warm-ups, medians"
echo

bench() { # name, then commands
	local name=$1
	shift
	env -i PATH=/usr/bin:/bin hyperfine -N -w 5 -r "$runs" --export-json "$out/$name.json" "$@" >/dev/null 2>&1
	/usr/bin/python3 - "$out/$name.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: r["median"] * 1000 for r in d}
cmds = list(med)
petri, peer, bare = cmds[0], cmds[1], cmds[2]
print(f"| {sys.argv[2]} | {med[petri]:.2f} | {med[peer]:.2f} | {med[bare]:.2f} | {med[petri]/med[peer]:.2f} |")
PY
}

echo "## petri run vs bwrap vs bare (median wall ms)"
echo
echo "| workload | petri run | bwrap | bare | petri/bwrap |"
echo "|---|---|---|---|---|"
bench true "$petri run -- /bin/true" "$bwrap_cmd /bin/true" "/bin/true"
bench python "$petri run -- /usr/bin/python3 -c pass" "$bwrap_cmd /usr/bin/python3 -c pass" "/usr/bin/python3 -c pass"
bench node "$petri run -- /usr/bin/node -e 0" "$bwrap_cmd /usr/bin/node -e 0" "/usr/bin/node -e 0"
echo
/usr/bin/python3 - "$build/generated/petri_seccomp_default.h" "$out/filter.bpf" <<'PY'
import re, struct, sys
ins = re.findall(r"\{0x([0-9a-f]+), (\d+), (\d+), 0x([0-9a-f]+)\}", open(sys.argv[1]).read())
with open(sys.argv[2], "wb") as f:
    for code, jt, jf, k in ins:
        f.write(struct.pack("<HBBI", int(code, 16), int(jt), int(jf), int(k, 16)))
PY
echo "## Interleaved (bench/interleave.py: each round runs every command once, in a rotating order)"
echo
echo "bwrap+seccomp starts through one sh (to open the filter's fd): its own time"
echo "is that minus (\"sh -c exec\" - \"bare\").  bwrap-eq is bwrap with petri's"
echo "isolation as far as bwrap goes (masked /proc, same tmpfs layout, read-only"
echo "root, user 1000); bwrap-eq+seccomp adds petri's seccomp program."
echo
rounds=${PETRI_BENCH_ROUNDS_IL:-200}
for w in "/bin/true" "/usr/bin/python3 -c pass" "/usr/bin/node -e 0"; do
	r=$rounds
	[ "$w" = "/bin/true" ] || r=$((rounds / 3))
	echo "\`$w\`, $r rounds:"
	echo
	/usr/bin/python3 bench/interleave.py "$r" "petri=$petri run -- $w" "bwrap=$bwrap_cmd $w" \
		"bwrap+seccomp=/bin/sh -c 'exec $bwrap_cmd --seccomp 3 $w 3<$out/filter.bpf'" \
		"bwrap-eq=$bwrap_eq_cmd $w" \
		"bwrap-eq+seccomp=/bin/sh -c 'exec $bwrap_eq_cmd --seccomp 3 $w 3<$out/filter.bpf'" \
		"sh -c exec=/bin/sh -c 'exec $w'" "bare=$w"
	echo
done

# bwrap with petri's seccomp program too: petri filters every sandbox
# (541 instructions, ~0.2 ms to check and JIT per load), plain bwrap none.
# bwrap takes a filter only from an open fd, so this table runs every
# command through /bin/sh (hyperfine subtracts the shell's own start-up).
echo "## The same with seccomp in both (shell-started, hyperfine's shell correction)"
echo
echo "| workload | petri run | bwrap + petri's seccomp filter | bwrap | petri / bwrap+seccomp |"
echo "|---|---|---|---|---|"
bench_sh() { # name, then the command to run in each
	local name=$1
	shift
	env -i PATH=/usr/bin:/bin hyperfine -S /bin/sh -w 5 -r "$runs" --export-json "$out/$name-sh.json" \
		"$petri run -- $*" "$bwrap_cmd --seccomp 3 $* 3<$out/filter.bpf" "$bwrap_cmd $*" >/dev/null 2>&1
	/usr/bin/python3 - "$out/$name-sh.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["results"]
m = [r["median"] * 1000 for r in d]
print(f"| {sys.argv[2]} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[0]/m[1]:.2f} |")
PY
}
bench_sh true /bin/true
bench_sh python /usr/bin/python3 -c pass
bench_sh node /usr/bin/node -e 0
echo
echo "## In-process through the C API"
echo
echo '```'
env -i "$build/bench/cycle_bench" "${PETRI_BENCH_ROUNDS:-300}"
echo '```'
echo
echo "## Warm pool (issue 15)"
echo
env -i "$build/bench/pool_bench" 7 400

# Controlled egress (issue 12): the same HTTPS client through --net proxy
# (explicit and transparent) and with --net host, nginx on the host's
# loopback; and the proxy's CPU in process.  Minutes; PETRI_BENCH_EGRESS=0
# skips it.  Needs nginx and curl: nginx is not among the test command's
# packages (on a systemd host installing it starts a system nginx on port
# 80), so it is installed here, for the benchmark, when missing.
if [ "${PETRI_BENCH_EGRESS:-1}" != 0 ]; then
	echo
	if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null ||
			{ echo "bench/run.sh: the egress benchmark needs nginx (apt-get install nginx-light)" >&2; exit 1; }
	fi
	/usr/bin/python3 bench/egress_bench.py --build "$build"
fi

# TenantVault (issue 13): 1,000 small HTTPS requests with a secret
# substituted by the intercepting proxy, vs tunnelled, vs --net host (one
# connection, and a new TLS handshake each); the proxy's CPU per request.
# Minutes; PETRI_BENCH_VAULT=0 skips it.  nginx as above.
if [ "${PETRI_BENCH_VAULT:-1}" != 0 ]; then
	echo
	if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
		echo "bench/run.sh: the vault benchmark needs nginx (apt-get install nginx-light)" >&2
		exit 1
	fi
	/usr/bin/python3 bench/vault_bench.py --build "$build"
fi
