#!/bin/sh
# check_format.sh SOURCE_DIR - fail if any C file of the project (not the
# bindings' generated or vendored code) differs from .clang-format.
set -eu
cd "$1"
files=$(find include libpetri audit tools tests examples bench -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "no C files found" >&2; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "$(echo "$files" | wc -l) files follow .clang-format"
