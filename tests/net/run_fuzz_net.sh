#!/bin/sh
# run_fuzz_net.sh KIND FUZZER TEST_NET_SNIFF CORPUS_DIR SECONDS - build a
# seed corpus for fuzz_net_KIND (http: request streams, each after the 4
# bytes that seed its split points; tls: real ClientHellos written by
# test_net_sniff, and server_name extension bodies) and fuzz for SECONDS.
# Fails when libFuzzer finds a crash, leak, UB or an abort().
set -eu
kind=$1 fuzzer=$2 tester=$3 corpus=$4 secs=$5
mkdir -p "$corpus"
seed() { printf 'SEED%b' "$2" >"$corpus/$1"; }
case $kind in
http)
	seed get 'GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\n\r\n'
	seed connect 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\0026\0003\0001\0000\0005hello'
	seed connect6 'CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n'
	seed pipelined 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\r\nPUT http://x/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: x-a, close\r\nX-A: 1\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /c HTTP/1.0\r\n\r\n'
	seed upgrade 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\0201\0005hello'
	seed duphost 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
	seed clte 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'
	seed fold 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n'
	seed options 'OPTIONS * HTTP/1.1\r\nHost: [::1]:81\r\n\r\n'
	seed upgrade-then-request 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /2 HTTP/1.1\r\nHost: y\r\n\r\n'
	seed crlf-propfind '\r\n\r\nPROPFIND * HTTP/1.1\r\nHost: x\r\n\r\n'
	seed h2-preface 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
	;;
tls)
	"$tester" --write-hellos "$corpus"
	printf '\000\016\000\000\013a.example.c' >"$corpus/ext-one"
	printf '\000\026\001\000\003xyz\000\000\011b.example\000\000\001c' >"$corpus/ext-two"
	;;
*)
	echo "run_fuzz_net.sh: unknown kind '$kind'" >&2
	exit 2
	;;
esac
exec "$fuzzer" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
	-print_final_stats=1 "$corpus"
