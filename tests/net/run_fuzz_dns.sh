#!/bin/sh
# run_fuzz_dns.sh FUZZER CORPUS_DIR SECONDS - write a seed corpus of real
# DNS queries (A, AAAA, TXT, HTTPS; EDNS0; 0x20 case; an exfiltration-
# looking name; two questions; opcode STATUS; a compression pointer; a
# response) and fuzz the DNS server for SECONDS.  Fails when libFuzzer
# finds a crash, a leak, undefined behaviour or a broken invariant.
set -eu
fuzzer=$1 corpus=$2 secs=$3
mkdir -p "$corpus"
# Header: ID, flags (RD), QDCOUNT 1, AN/NS/AR 0; then QNAME, QTYPE, QCLASS IN.
hdr='\022\064\001\000\000\001\000\000\000\000\000\000'
example='\003api\007example\003com\000'
seed() { printf "$2" >"$corpus/$1"; }
seed a "$hdr$example\000\001\000\001"
seed aaaa "$hdr$example\000\034\000\001"
seed https "$hdr$example\000\101\000\001"
seed case0x20 "$hdr\003ApI\007eXaMpLe\003CoM\000\000\001\000\001"
seed localhost "$hdr\011localhost\000\000\001\000\001"
seed evil-txt "$hdr\0400123456789abcdef0123456789abcdef\004evil\003com\000\000\020\000\001"
seed edns '\022\064\001\000\000\001\000\000\000\000\000\001\003api\007example\003com\000\000\001\000\001\000\000\051\020\000\000\000\200\000\000\000'
seed two-questions '\022\064\001\000\000\002\000\000\000\000\000\000\007example\003com\000\000\001\000\001\300\014\000\034\000\001'
seed status '\022\064\020\000\000\001\000\000\000\000\000\000\007example\003com\000\000\001\000\001'
seed pointer '\022\064\001\000\000\001\000\000\000\000\000\000\300\014\000\001\000\001'
seed response '\022\064\201\200\000\001\000\000\000\000\000\000\007example\003com\000\000\001\000\001'
seed chaos "$hdr\007version\004bind\000\000\020\000\003"
exec "$fuzzer" -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 "$corpus"
