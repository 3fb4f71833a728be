#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# dev.sh - the one entry point behind the README's two commands.
#
#   ./scripts/dev.sh demo   install what is missing, build, run an untrusted
#                           Python snippet in a sandbox with the `petri` CLI
#   ./scripts/dev.sh test   install what is missing, build, and run every suite:
#                           ctest, ctest under ASan+UBSan, the threaded tests
#                           under ThreadSanitizer, pytest, go test
#   ./scripts/dev.sh deps   only install what is missing
#   ./scripts/dev.sh build  only install what is missing and build build/
#
# Works as root on a fresh Debian 12.  As another user it works when every
# package below is already installed (it says which are missing otherwise).
#
# Environment:
#   PETRI_CTEST_ARGS   extra ctest arguments, e.g. "-j2" or "-R seccomp"
#   PETRI_CMAKE_ARGS   extra cmake configure arguments for both build trees
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS   override the sanitizer defaults below
set -euo pipefail

# --------------------------------------------------------------------------
# Debian packages the project needs: the ONE list.  `nodejs` and `npm` are
# handled apart (only installed when there is no `node` / `npm` on PATH: they
# may come from elsewhere, e.g. NodeSource's nodejs, which includes npm).
# --------------------------------------------------------------------------
PACKAGES=(
	# build
	build-essential cmake pkg-config
	# the library
	libseccomp-dev libcap-dev
	# egress allowlist: IDNA 2008 host names (libunistring-dev: the archive
	# libidn2.a needs, for the statically linked CLI)
	libidn2-dev libunistring-dev
	# sanitizers and fuzzing with clang (gcc's ASan comes with build-essential)
	clang llvm libclang-rt-14-dev
	# eBPF audit layer
	libbpf-dev bpftool libelf-dev zlib1g-dev
	# audit stream encoding; its hash chain (libcrypto) and every JSON (json-c)
	protobuf-c-compiler libprotobuf-c-dev protobuf-compiler python3-protobuf
	libssl-dev libjson-c-dev
	# controlled egress (libpetri/net/): DNS messages
	libldns-dev
	# petrid (REST daemon)
	libmicrohttpd-dev
	# petrid's deployment tests (deploy/, tests/petrid/): the front proxies,
	# the log pipeline receiving the audit stream, the manifests' YAML check
	haproxy nginx rsyslog python3-yaml
	# controlled egress (libpetri/net/): HTTP/1.x heads (sniff.c)
	libhttp-parser-dev
	# the egress proxy's event loop and host-side resolver (libpetri/net/proxy.c)
	libevent-dev
	# bindings, and the runtimes the sandbox runs code with
	python3 python3-pytest python3-pip golang-go
	# tests and benchmarks
	bubblewrap hyperfine strace iproute2 clang-format
	# tests/petrid/test_openapi.py reads docs/openapi.yaml
	python3-yaml
	# the egress tests' clients and test CA (tests/net/e2e_clients.py)
	curl git openssl
	# conformance suites (tests/conformance): CPython's own tests
	libpython3.11-testsuite
)
NODE_PACKAGE=nodejs
NPM_PACKAGE=npm

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR="$ROOT/build"
ASAN_DIR="$ROOT/build-asan"
TSAN_DIR="$ROOT/build-tsan"
JOBS=$(nproc 2>/dev/null || echo 2)
# Tests use Debian's Python, not whatever python3 comes first on PATH.
PYTHON=/usr/bin/python3
GO=go
[[ -x /usr/bin/go ]] && GO=/usr/bin/go

log() { printf '\n==> %s\n' "$*"; }
warn() { printf 'dev.sh: %s\n' "$*" >&2; }
die() {
	warn "$*"
	exit 1
}

usage() {
	sed -n '4,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# --------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------

is_installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
	[[ "$status" == installed ]]
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		is_installed "$p" || printf '%s\n' "$p"
	done
	if ! command -v node >/dev/null 2>&1 && ! is_installed "$NODE_PACKAGE"; then
		printf '%s\n' "$NODE_PACKAGE"
	fi
	if ! command -v npm >/dev/null 2>&1 && ! is_installed "$NPM_PACKAGE"; then
		printf '%s\n' "$NPM_PACKAGE"
	fi
}

ensure_deps() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		warn "no dpkg-query: not a Debian system; make sure these (or their equivalents) are installed:"
		warn "  ${PACKAGES[*]} ($NODE_PACKAGE and $NPM_PACKAGE unless node and npm are on PATH)"
		return 0
	fi
	local -a missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		log "dependencies: all present"
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		warn "missing packages: ${missing[*]}"
		warn "run this script as root, or: sudo apt-get install --no-install-recommends ${missing[*]}"
		exit 1
	fi
	log "installing ${#missing[@]} missing package(s): ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
}

# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------

# build_tree DIR [CMAKE ARGS...]: configure and build.  Returns non-zero on
# failure (callers decide whether that is fatal).
build_tree() {
	local dir=$1
	shift
	local -a extra=()
	if [[ -n "${PETRI_CMAKE_ARGS:-}" ]]; then
		read -r -a extra <<<"$PETRI_CMAKE_ARGS"
	fi
	log "configure $dir"
	cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" "${extra[@]}" || return 1
	log "build $dir (-j$JOBS)"
	cmake --build "$dir" -j "$JOBS" || return 1
}

# The CLI, wherever tools/CMakeLists.txt puts it.
find_cli() {
	local c
	for c in "$BUILD_DIR/petri" "$BUILD_DIR/tools/petri"; do
		if [[ -x "$c" && -f "$c" ]]; then
			printf '%s\n' "$c"
			return 0
		fi
	done
	return 1
}

# --------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------

LISTENER_PID=
DEMO_TMP=
demo_cleanup() {
	if [[ -n "$LISTENER_PID" ]]; then
		kill "$LISTENER_PID" 2>/dev/null || true
		wait "$LISTENER_PID" 2>/dev/null || true
	fi
	[[ -n "$DEMO_TMP" ]] && rm -rf "$DEMO_TMP"
	return 0
}

# A TCP listener on the host's 127.0.0.1 that records every connection it
# gets, so the demo can show the sandbox could not reach it.  Bounded: it
# exits by itself after 120 s.  Sets LISTENER_PORT.
LISTENER_PORT=
start_listener() {
	DEMO_TMP=$(mktemp -d /tmp/petri-demo.XXXXXX)
	"$PYTHON" - "$DEMO_TMP/port" "$DEMO_TMP/hits" >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
port_file, hits_file = sys.argv[1], sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
open(hits_file, "w").close()
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        c, addr = s.accept()
    except socket.timeout:
        break
    with open(hits_file, "a") as f:
        f.write("%s:%d\n" % addr)
    c.close()
EOF
	LISTENER_PID=$!
	local _
	for _ in $(seq 50); do
		[[ -s "$DEMO_TMP/port" ]] && break
		sleep 0.1
	done
	[[ -s "$DEMO_TMP/port" ]] || die "the demo's host listener did not start"
	LISTENER_PORT=$(cat "$DEMO_TMP/port")
}

cmd_demo() {
	ensure_deps
	build_tree "$BUILD_DIR" || die "build failed"
	local petri snippet port rc json
	petri=$(find_cli) || die "no petri CLI in $BUILD_DIR (looked for petri and tools/petri)"
	snippet="$ROOT/examples/demo/agent_snippet.py"
	trap demo_cleanup EXIT
	start_listener
	port=$LISTENER_PORT

	cat <<EOF

==========================================================================
 libpetri demo
==========================================================================
 examples/demo/agent_snippet.py stands in for code an AI agent just
 wrote.  It computes something, then pokes around: who am I, what is in /, can I read
 /etc/shadow, write to /usr, see other processes, make a user namespace,
 and connect to 127.0.0.1:$port, where a server is listening on THIS host
 right now.  Each attempt prints what happened to it.

 Run 1:  petri run --lang python agent_snippet.py
         the snippet's own output, then how it ended (petri's exit status is
         the program's; 124 = timeout, 125 = petri itself failed).
 Run 2:  the same with --json: the result as one JSON object (reason,
         exit_code, wall_ms, cpu_ms, peak memory, captured output).
==========================================================================

--- run 1: output of the sandboxed code ----------------------------------
EOF
	rc=0
	"$petri" run --env "PETRI_DEMO_PORT=$port" --lang python "$snippet" || rc=$?
	echo "--- run 1: petri exited with status $rc ------------------------------------"

	echo
	echo "--- run 2: petri run --json ... (stdout and stderr are fields of it) -------"
	local rc2=0 reached=0
	json=$("$petri" run --json --env "PETRI_DEMO_PORT=$port" --lang python "$snippet") || rc2=$?
	printf '%s' "$json" | "$PYTHON" -c '
import json, sys
raw = sys.stdin.read()
try:
    r = json.loads(raw)
except ValueError as e:
    print(raw)
    print("--- (not valid JSON: %s)" % e)
    sys.exit(0)
print(json.dumps(r, indent=2))
print("--- run 2: how it ended -----------------------------------------------------")
print("  reason=%s  exit_code=%s  signal=%s  wall_ms=%s  cpu_ms=%s  peak_memory_bytes=%s"
      % tuple(r.get(k) for k in ("reason", "exit_code", "signal", "wall_ms", "cpu_ms",
                                 "peak_memory_bytes")))
' || printf '%s\n' "$json"
	echo "  petri exited with status $rc2"

	echo
	if [[ -s "$DEMO_TMP/hits" ]]; then
		echo "!! the host listener on 127.0.0.1:$port was reached from: $(tr '\n' ' ' <"$DEMO_TMP/hits")"
		reached=1
	else
		echo "The host's listener on 127.0.0.1:$port saw no connection: the sandbox's"
		echo "127.0.0.1 is its own loopback, in its own network namespace."
	fi
	if ((rc != 0 || rc2 != 0 || reached != 0)); then
		warn "demo: something is wrong (petri exit statuses $rc and $rc2, host listener reached: $reached)"
		return 1
	fi
}

# --------------------------------------------------------------------------
# test
# --------------------------------------------------------------------------

PASSED=()
FAILED=()
SKIPPED=()

# Functions below run as `if suite_x; then`, where `set -e` is off: every
# step that can fail says `|| return 1` itself.

NORMAL_BUILD_OK=0

ctest_args() {
	CTEST_EXTRA=()
	if [[ -n "${PETRI_CTEST_ARGS:-}" ]]; then
		read -r -a CTEST_EXTRA <<<"$PETRI_CTEST_ARGS"
	fi
}

suite_ctest() {
	build_tree "$BUILD_DIR" || return 1
	NORMAL_BUILD_OK=1
	ctest_args
	# Two at a time: most suites wait on namespaces, timers and sockets
	# rather than compute, and the fuzzers and conformance suites overlap
	# with them.  What measures CPU or counts host-wide objects is
	# RUN_SERIAL in its CMakeLists.txt.
	log "ctest (build/), all but petrid's HTTP tests, two at a time"
	local rc=0
	ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error --timeout 600 \
		-LE petrid -j2 "${CTEST_EXTRA[@]}" || rc=1
	# petrid's tests (label petrid) mostly wait on timers (TTLs, heartbeats,
	# drains) with their own daemons on random ports: two at a time.
	log "ctest (build/), petrid's HTTP tests, two at a time"
	ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=ignore --timeout 600 \
		-L petrid -j2 "${CTEST_EXTRA[@]}" || rc=1
	return "$rc"
}

# no_aslr_prefix NAME: sets NO_ASLR to the command prefix that runs a
# sanitized tree without ASLR where gcc 12's sanitizers need it (they cannot
# map their shadow memory when the kernel randomises mmap with more than 28
# bits), else to nothing.
NO_ASLR=()
no_aslr_prefix() {
	NO_ASLR=()
	local bits
	bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
	if ((bits > 28)) && command -v setarch >/dev/null 2>&1; then
		warn "vm.mmap_rnd_bits=$bits > 28: running the $1 suite without ASLR (setarch -R)"
		NO_ASLR=(setarch "$(uname -m)" -R)
	fi
}

suite_ctest_asan() {
	build_tree "$ASAN_DIR" -DPETRI_SANITIZE=ON || return 1
	ctest_args
	no_aslr_prefix ASan
	local -a prefix=("${NO_ASLR[@]}")
	log "ctest under ASan+UBSan (build-asan/, without tests labelled noasan), two at a time"
	ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:print_summary=1}" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
		LSAN_OPTIONS="${LSAN_OPTIONS:-report_objects=1}" \
		"${prefix[@]}" ctest --test-dir "$ASAN_DIR" --output-on-failure --no-tests=error \
		--timeout 900 -LE noasan -j2 "${CTEST_EXTRA[@]}"
}

# The tests that run threads (labelled tsan, in every tests/ directory)
# under ThreadSanitizer, in build-tsan/ (-DPETRI_TSAN=ON; only their
# targets, listed here, are built: keep the list in step with the label).
# A race report fails the test (exit 66).  tests/tsan.supp lists the
# reports known to be false, each with its reason.
TSAN_TARGETS=(test_cancel_race test_creator_thread_exit test_ctx_free_live test_exec_basic test_pool
	test_bad_input_api test_net_listener test_attack_files test_attack_init_fds test_audit_sinks
	test_net_proxy
	petri_cli)
suite_ctest_tsan() {
	local -a extra=()
	if [[ -n "${PETRI_CMAKE_ARGS:-}" ]]; then
		read -r -a extra <<<"$PETRI_CMAKE_ARGS"
	fi
	log "configure $TSAN_DIR"
	cmake -S "$ROOT" -B "$TSAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPETRI_TSAN=ON \
		"${extra[@]}" || return 1
	log "build $TSAN_DIR (-j$JOBS): ${TSAN_TARGETS[*]}"
	cmake --build "$TSAN_DIR" -j "$JOBS" --target "${TSAN_TARGETS[@]}" || return 1
	ctest_args
	no_aslr_prefix TSan
	local opts="halt_on_error=0:second_deadlock_stack=1:history_size=4"
	if [[ -f "$ROOT/tests/tsan.supp" ]]; then
		opts="$opts:suppressions=$ROOT/tests/tsan.supp"
	fi
	opts=${TSAN_OPTIONS:-$opts}
	log "ctest under ThreadSanitizer (build-tsan/, tests labelled tsan)"
	TSAN_OPTIONS=$opts "${NO_ASLR[@]}" ctest --test-dir "$TSAN_DIR" --output-on-failure \
		--no-tests=error --timeout 900 -L tsan "${CTEST_EXTRA[@]}" || return 1
}

# What the bindings need to find the library just built.
binding_env() {
	export LD_LIBRARY_PATH="$BUILD_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export PETRI_LIBRARY="$BUILD_DIR/libpetri.so"
	export PETRI_BUILD_DIR="$BUILD_DIR"
	export CGO_CFLAGS="-I$ROOT/include${CGO_CFLAGS:+ $CGO_CFLAGS}"
	export CGO_LDFLAGS="-L$BUILD_DIR${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
	if [[ -z "${HOME:-}" ]]; then
		export GOCACHE="$BUILD_DIR/go-cache"
		export GOPATH="$BUILD_DIR/go-path"
	fi
}

suite_pytest() {
	if ((NORMAL_BUILD_OK == 0)); then
		warn "pytest not run: the normal build failed"
		return 1
	fi
	log "pytest (bindings/python/tests) with $PYTHON"
	local rc=0
	(
		binding_env
		export PYTHONPATH="$ROOT/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
		cd "$ROOT"
		"$PYTHON" -m pytest -q bindings/python/tests
	) || rc=$?
	if ((rc == 5)); then
		warn "pytest collected no tests in bindings/python/tests"
	fi
	return "$rc"
}

suite_go() {
	if ((NORMAL_BUILD_OK == 0)); then
		warn "go test not run: the normal build failed"
		return 1
	fi
	log "go test ./... (bindings/go) with $("$GO" version)"
	(
		binding_env
		cd "$ROOT/bindings/go"
		# -count=1: the cache does not know the C library changed.
		"$GO" test -count=1 ./...
	)
}

run_suite() {
	local name=$1
	shift
	if "$@"; then
		PASSED+=("$name")
		log "suite $name: PASSED"
	else
		FAILED+=("$name")
		log "suite $name: FAILED"
	fi
}

cmd_test() {
	ensure_deps
	run_suite "ctest" suite_ctest
	run_suite "ctest-asan" suite_ctest_asan
	run_suite "ctest-tsan" suite_ctest_tsan
	if [[ -d "$ROOT/bindings/python/tests" ]]; then
		run_suite "pytest" suite_pytest
	else
		SKIPPED+=("pytest")
		log "suite pytest: skipped (no bindings/python/tests yet)"
	fi
	if [[ -d "$ROOT/bindings/go" ]]; then
		run_suite "go-test" suite_go
	else
		SKIPPED+=("go-test")
		log "suite go-test: skipped (no bindings/go yet)"
	fi

	echo
	echo "suites passed: ${PASSED[*]:-none}"
	echo "suites failed: ${FAILED[*]:-none}"
	((${#SKIPPED[@]} == 0)) || echo "suites skipped: ${SKIPPED[*]}"
	if ((${#SKIPPED[@]} > 0)); then
		echo "${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
	else
		echo "${#PASSED[@]} passed, ${#FAILED[@]} failed"
	fi
	((${#FAILED[@]} == 0))
}

main() {
	local cmd=${1:-}
	case "$cmd" in
	demo) cmd_demo ;;
	test) cmd_test ;;
	deps) ensure_deps ;;
	build)
		ensure_deps
		build_tree "$BUILD_DIR"
		;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
