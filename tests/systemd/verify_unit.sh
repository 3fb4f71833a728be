#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# verify_unit.sh UNIT STANDIN - `systemd-analyze verify` accepts UNIT with
# no warning at all (an unknown or misspelt directive is only a warning
# there, so any output fails this test).  ExecStart's binary is replaced by
# STANDIN, an executable that exists here (verify insists on it).
set -eu
unit=$1
standin=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-analyze is not installed (Debian package systemd)"
	[ -n "${CI:-}" ] && exit 1
	exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/local/bin/petrid |ExecStart=$standin |" "$unit" >"$dir/petrid.service"
grep -q "^ExecStart=$standin " "$dir/petrid.service" || { echo "no ExecStart= of /usr/local/bin/petrid in $unit"; exit 1; }
out=$(systemd-analyze verify "$dir/petrid.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify warned:"
	echo "$out"
	exit 1
fi
echo "systemd-analyze verify: $unit is clean"
