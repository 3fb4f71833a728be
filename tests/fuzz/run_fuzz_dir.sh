#!/bin/sh
# run_fuzz_dir.sh FUZZER SEEDS CORPUS SECONDS - fuzz for SECONDS, starting
# from the checked-in seed directory SEEDS (read only: new inputs go to
# CORPUS, in the build tree).  A SEEDS/../NAME.dict next to it, if any, is
# the dictionary.  Fails when libFuzzer finds a crash, leak, UB or a broken
# property (the target aborts).
set -eu
fuzzer=$1 seeds=$2 corpus=$3 secs=$4
mkdir -p "$corpus"
dict="$seeds.dict"
set --
[ -f "$dict" ] && set -- "-dict=$dict"
exec "$fuzzer" "$@" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 "$corpus" "$seeds"
