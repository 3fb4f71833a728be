#!/usr/bin/env bash
# bench/run_vs_bwrap.sh - issue 15: `petri run` against the bwrap command
# users compare it with, and against the bare program, for /bin/true and
# python3 -c 'print(1)'.  Interleaved (bench/interleave.py: every round
# runs each command once, in a rotating order), in a clean environment
# (env -i), medians, and the ratios taken round by round.
#
# Usage: bench/run_vs_bwrap.sh [BUILD_DIR [OLDER_PETRI]]
#   BUILD_DIR    its petri is measured (default: build), and its
#                bench/ns_floor: a process in the same namespaces and
#                nothing else, the kernel's floor under both
#   OLDER_PETRI  another petri binary, measured in the same rounds
#                ("before"); its ratio to this one is printed too
# PETRI_BENCH_ROUNDS (default 200; python gets a third of them).
# Prints markdown with the date and the load average before and after:
# on a shared machine the ratios, not the absolute times, are what to read.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
petri="$build/petri"
before=${2:+$(realpath "$2")}
rounds=${PETRI_BENCH_ROUNDS:-200}
[ -x "$petri" ] || { echo "run_vs_bwrap.sh: no $petri (build first)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "run_vs_bwrap.sh: needs bwrap" >&2; exit 1; }

# The issue's peer, as users write it: all namespaces, /usr read-only and
# its links, a fresh /proc and /dev, a tmpfs /tmp.  No seccomp, cgroups,
# Landlock, /proc masks or per-exec pid namespace (petri keeps all of them).
bwrap_cmd="bwrap --unshare-all --ro-bind /usr /usr --symlink usr/bin /bin \
--symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin \
--proc /proc --dev /dev --tmpfs /tmp --"

echo "- $(uname -srm), $(nproc) CPUs; $(bwrap --version); petri at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- $(date -u +%Y-%m-%dT%H:%MZ), env -i; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for w in "/bin/true" "/usr/bin/python3 -c print(1)"; do
	r=$rounds
	[ "$w" = "/bin/true" ] || r=$((rounds / 3))
	cmds=("petri=$petri run -- $w" "bwrap=$bwrap_cmd $w" "bare=$w")
	pairs=(--pair petri/bwrap --pair petri/bare --pair bwrap/bare)
	if [ -x "$build/bench/ns_floor" ]; then
		# The floor: the same namespaces, nothing else (bench/ns_floor.c).
		cmds+=("floor=$build/bench/ns_floor $w")
		pairs+=(--pair petri/floor --pair bwrap/floor)
	fi
	if [ -n "$before" ]; then
		cmds+=("before=$before run -- $w")
		pairs+=(--pair petri/before --pair before/bwrap)
	fi
	echo "\`$w\`, $r rounds:"
	echo
	env -i PATH=/usr/bin:/bin /usr/bin/python3 bench/interleave.py "${pairs[@]}" "$r" "${cmds[@]}"
	echo
done
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
