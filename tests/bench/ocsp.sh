#!/bin/bash
# certgate benchmark, OCSP part (issue 14): OCSP answers per second for a cached status over
# HTTP keep-alive, against the same run's raw signature rate of the CA key (bench-ceiling
# --op rawsign: one signature, nothing else).  Run by tests/bench/run.sh (`make bench`), which
# sets ROWS (rows for its table); runs alone as well:
#   top_srcdir=. top_builddir=. bash tests/bench/ocsp.sh
# Makes its own P-256 demo on free loopback ports, issues one certificate, and drives the
# daemon with tests/bench/bench-load: POST /ocsp without a nonce (cached: no signature per
# answer), GET /ocsp/<base64> (the RFC 5019 form caches use), and POST with a nonce (a new
# signature for each answer, for comparison).  Only processes started here are stopped.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

top_srcdir=$(cd "${top_srcdir:-.}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
CG=$top_builddir/certgate
BL=$top_builddir/tests/bench/bench-load
BC=$top_builddir/tests/bench/bench-ceiling
SECS=${SECS:-8}
for b in "$CG" "$BL" "$BC"; do
	[ -x "$b" ] || { echo "bench-ocsp: $b is not built (make bench builds it)" >&2; exit 2; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/certgate-bench-ocsp.XXXXXX") || exit 2
DPID=
cleanup() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
say() { printf '%s\n' "$*" >&2; }
# row SCENARIO TRANSPORT CONNS RESULT-LINE CEILING-RATE NOTE: a row of run.sh's table.
row() {
	[ -n "${ROWS:-}" ] || return 0
	printf 'ocsp|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$(kv rate "$4")" \
		"$(kv p50_ms "$4")" "$(kv p99_ms "$4")" "$(kv fail "$4")" "$5" "$6" >>"$ROWS"
}

http=$(free_port)
https=$(free_port)
"$CG" init "$W/demo" --https-port "$https" --http-port "$http" >"$W/init.out" 2>&1 ||
	{ say "bench-ocsp: certgate init failed"; exit 1; }
C=$W/demo/certgate.json
python3 - "$C" <<'EOF' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))
# as run.sh's demos: a thread per connection
c["limits"] = {"threads": "per-connection", "connection_memory": 32768}
c["ocsp"] = {"cache_seconds": 300, "response_validity_seconds": 3600}
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
"$CG" issue -c "$C" --profile est-device --subject CN=bench-ocsp --keygen --out "$W/leaf.pem" \
	--key-out "$W/leaf.key" 2>"$W/issue.err" || { say "bench-ocsp: issue failed"; exit 1; }
ISS=$W/demo/ca/issuing.pem
openssl ocsp -issuer "$ISS" -cert "$W/leaf.pem" -no_nonce -reqout "$W/req.der" >/dev/null 2>&1
openssl ocsp -issuer "$ISS" -cert "$W/leaf.pem" -reqout "$W/req-nonce.der" >/dev/null 2>&1
GETPATH=/ocsp/$(base64 -w0 "$W/req.der" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')

say "bench-ocsp: raw signature rate of the CA key (in-process)"
R1=$("$BC" -c "$C" --name rawsign-t1 --profile est-device --op rawsign --threads 1 \
	--count 10000000 --time "$SECS" 2>>"$W/log")
R2=$("$BC" -c "$C" --name rawsign-t2 --profile est-device --op rawsign --threads 2 \
	--count 10000000 --time "$SECS" 2>>"$W/log")
say "  $R1"
say "  $R2"
RAW2=$(kv rate "$R2")
row "raw signature, CA key P-256 (ECDSA SHA-256)" in-process 1 "$R1" "" ""
row "raw signature, CA key P-256 (ECDSA SHA-256)" in-process 2 "$R2" "$RAW2" ""

"$CG" serve -c "$C" >"$W/serve.out" 2>"$W/serve.err" &
DPID=$!
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$http/healthz" && break
	sleep 0.1
done
U=http://127.0.0.1:$http
# The first answer issues the responder certificate and fills the cache.
openssl ocsp -issuer "$ISS" -cert "$W/leaf.pem" -url "$U/ocsp" -no_nonce \
	-CAfile "$W/demo/ca/chain.pem" 2>&1 | grep -q "leaf.pem: good" ||
	{ say "bench-ocsp: the responder does not answer good"; exit 1; }
hits() { curl -s "$U/metrics" | awk '$1 == "certgate_ocsp_cache_hits_total" {print $2}'; }
CT=(-H "Content-Type: application/ocsp-request")
for conns in 1 16 64; do
	h0=$(hits)
	l=$("$BL" --name "ocsp-post-$conns" --url "$U/ocsp" --method POST "${CT[@]}" \
		--body "$W/req.der" --conns "$conns" --count 10000000 --time "$SECS" --warmup 32 \
		2>>"$W/log")
	h1=$(hits)
	say "  $l (cache hits $h0 -> $h1)"
	row "OCSP POST, good, no nonce (cached)" "HTTP keep-alive" "$conns" "$l" "$RAW2" \
		"$((h1 - h0)) answers from the cache"
done
l=$("$BL" --name ocsp-get-16 --url "$U$GETPATH" --conns 16 --count 10000000 --time "$SECS" \
	--warmup 32 2>>"$W/log")
say "  $l"
row "OCSP GET, good (cached)" "HTTP keep-alive" 16 "$l" "$RAW2" "RFC 5019 caching headers"
l=$("$BL" --name ocsp-post-nonce-16 --url "$U/ocsp" --method POST "${CT[@]}" \
	--body "$W/req-nonce.der" --conns 16 --count 10000000 --time "$SECS" --warmup 32 \
	2>>"$W/log")
say "  $l"
row "OCSP POST, good, with a nonce (signed per answer)" "HTTP keep-alive" 16 "$l" "$RAW2" \
	"one P-256 signature each"
