#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# test_petri_test.sh SELFTEST - petri_test_main() (tests/petri_test.c) runs
# each case alone and reports it by name: a failed CHECK, a REQUIRE, a crash
# or a skip in one case leaves the others running; the exit status is 1 on
# any failure, else 77 on any skip, else 0 (2 for an unknown case); cases
# are chosen on the command line or with PETRI_TEST_CASE; --list lists them;
# CI=true turns a skip into a failure.
set -u
bin=$1
fails=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect WANT_STATUS PATTERN... -- COMMAND...: the status, and each grep -E
# pattern found in the output (stdout and stderr together).
expect() {
	want=$1
	shift
	pats=""
	while [ "$1" != "--" ]; do
		pats="$pats$1
"
		shift
	done
	shift
	"$@" >"$out" 2>&1
	st=$?
	if [ "$st" -ne "$want" ]; then
		echo "FAIL: $*: exit status $st, want $want" >&2
		cat "$out" >&2
		fails=$((fails + 1))
	fi
	printf '%s' "$pats" | while IFS= read -r p; do
		[ -n "$p" ] || continue
		if ! grep -Eq -- "$p" "$out"; then
			echo "FAIL: $*: no line matches '$p'" >&2
			cat "$out" >&2
			exit 1
		fi
	done || fails=$((fails + 1))
}

name=$(basename "$bin")
unset CI PETRI_TEST_CASE PETRI_TEST_NOFORK
expect 0 '^passes$' '^check_fails$' '^require_fails$' '^crashes$' '^skips$' -- "$bin" --list
expect 1 '^\[  OK  \] passes' '^\[ FAIL \] check_fails .*exit status 1' \
	'after a failed CHECK the case goes on' '^\[ FAIL \] require_fails' \
	'^\[ FAIL \] crashes .*killed by signal 9' '^\[ SKIP \] skips' \
	"^$name: 1 passed, 3 failed, 1 skipped\$" -- "$bin"
if grep -q 'never printed' "$out"; then
	echo "FAIL: a REQUIRE did not end its case" >&2
	fails=$((fails + 1))
fi
expect 0 "^$name: 1 passed, 0 failed\$" -- "$bin" passes
expect 77 "^$name: 1 passed, 0 failed, 1 skipped\$" -- "$bin" passes skips
expect 1 '^\[ FAIL \] crashes' '^\[  OK  \] passes' "^$name: 1 passed, 1 failed\$" -- \
	"$bin" crashes passes
expect 2 'no case named "nope"' -- "$bin" nope
expect 1 'SKIP is a failure under CI=true' "^$name: 0 passed, 1 failed\$" -- \
	env CI=true "$bin" skips
expect 1 "^$name: 1 passed, 1 failed\$" -- env PETRI_TEST_CASE="passes, require_fails" "$bin"
expect 2 'PETRI_TEST_CASE names no case "nope"' -- env PETRI_TEST_CASE=passes,nope "$bin"
[ "$fails" -eq 0 ] && echo "test_petri_test: all passed"
exit "$((fails > 0))"
