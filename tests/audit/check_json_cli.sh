#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# check_json_cli.sh CLI STREAM CHECK_PY OUT - run `CLI audit json STREAM`
# into OUT, then check OUT with a real JSON parser (CHECK_PY reads it on
# stdin).  Fails when the CLI fails, even after printing valid lines (a
# truncated stream): a pipe into the checker would lose the CLI's status.
set -u
cli=$1 stream=$2 check=$3 out=$4
"$cli" audit json "$stream" >"$out"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "check_json_cli: petri audit json $stream exited $rc" >&2
	exit 1
fi
exec /usr/bin/python3 "$check" <"$out"
