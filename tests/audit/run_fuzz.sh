#!/bin/sh
# run_fuzz.sh FUZZER SAMPLE_WRITER CORPUS_DIR SECONDS - build a seed corpus
# (the sample stream, its frames, a few truncations) and fuzz the audit
# decoder for SECONDS.  Fails when libFuzzer finds a crash, leak or UB.
set -eu
fuzzer=$1 writer=$2 corpus=$3 secs=$4
mkdir -p "$corpus"
"$writer" --write "$corpus/sample" >/dev/null
size=$(wc -c <"$corpus/sample")
for n in 1 17 64 200 $((size / 2)) $((size - 1)); do
  head -c "$n" "$corpus/sample" >"$corpus/head-$n"
done
exec "$fuzzer" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 "$corpus"
