#!/bin/bash
# certgate benchmark (issue 8), run by `make bench`; not part of `make check`.
#
# Makes two demos with `certgate init` (a P-256 CA and an RSA CA) on free loopback ports,
# starts the real daemon on each and drives it with tests/bench/bench-load per adapter and
# operation, over HTTP keep-alive (as nginx would forward, through a trusted proxy) and over
# HTTPS; runs the seed's 100-request issuepseudocsr loop (its Python script, as published,
# with only the URL, credentials and template filled in); measures the in-process ceiling
# with tests/bench/bench-ceiling (same CA key and profile, no HTTP, no store, 1 and 2
# threads); records the daemon's peak RSS (VmHWM) and a run with 256 connections; fills the
# store to 1,000,000 certificates with a direct SQLite bulk insert and measures again.
# Writes a markdown table to $BENCH_OUT/latest.md (default bench-results/ in the build
# directory) and to the terminal.
#
# Environment: top_srcdir, top_builddir (set by make), BENCH_OUT, BENCH_QUICK=1 (shorter
# runs, smaller pools, no 1M store), BENCH_KEEP=1 (keep the work directory),
# BENCH_PART=crl (only the CRL build part, written to $BENCH_OUT/crl.md).
#
# CRL build (issue 14): tests/bench/bench-crl fills a demo's store with 100,000 then
# 1,000,000 revoked certificates and times the publisher's build (store scan, DER encoding,
# one signature) against the raw signature rate of the same CA key in the same run.
# Only processes started here are stopped, each by its own pid; everything binds 127.0.0.1.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

top_srcdir=$(cd "${top_srcdir:-.}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
CG=$top_builddir/certgate
BL=$top_builddir/tests/bench/bench-load
BC=$top_builddir/tests/bench/bench-ceiling
BCRL=$top_builddir/tests/bench/bench-crl
OUT=${BENCH_OUT:-$top_builddir/bench-results}
QUICK=${BENCH_QUICK:-0}
for b in "$CG" "$BL" "$BC" "$BCRL"; do
	[ -x "$b" ] || { echo "bench: $b is not built (make bench builds it)" >&2; exit 2; }
done
for t in python3 openssl curl sqlite3; do
	command -v "$t" >/dev/null || { echo "bench: $t is needed" >&2; exit 2; }
done
mkdir -p "$OUT" || exit 2
W=$(mktemp -d "${TMPDIR:-/tmp}/certgate-bench.XXXXXX") || exit 2
ROWS=$W/rows
LOG=$W/bench.log
: >"$ROWS"
DPID=

cleanup() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: work directory kept: $W" >&2
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }

if [ "$QUICK" = 1 ]; then
	SECS=4 POOL_RSA=24 SEED_N=20 FILL=0
else
	SECS=8 POOL_RSA=110 SEED_N=100 FILL=1000000
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kv KEY LINE: the value of KEY=... in a bench-load / bench-ceiling result line.
kv() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# row SECTION SCENARIO TRANSPORT CONNS RESULT-LINE [CEILING-RATE] [NOTE]
row() {
	printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$(kv rate "$5")" \
		"$(kv p50_ms "$5")" "$(kv p99_ms "$5")" "$(kv fail "$5")" "${6:-}" "${7:-}" >>"$ROWS"
}

# ---------------------------------------------------------------- demos and daemons

# mkdemo NAME [certgate init options]: a demo with the benchmark's settings.
mkdemo() {
	local name=$1
	shift
	local d=$W/$name
	"$CG" init "$d" --https-port "$(free_port)" --http-port "$(free_port)" "$@" \
		>"$W/$name.init" 2>&1 || { say "bench: certgate init $name failed"; return 1; }
	python3 - "$d/certgate.json" "$POOL_RSA" <<'EOF' || return 1
import json, sys
path, pool = sys.argv[1], int(sys.argv[2])
c = json.load(open(path))
# A thread per connection, so that concurrent issuances are served side by side and meet in
# the store's group commit (a pool thread serves the connections it accepted one at a time,
# which makes p99 several times p50 at 64 connections).  Per-connection memory: libmicrohttpd's own default
# (32 KiB) rather than certgate's 128 KiB, which at 256 connections is most of the daemon's
# resident memory and which no request of these clients needs.  The plain-HTTP listener, on
# ::1, stands for nginx on the same host: a trusted proxy that terminated TLS (only ::1 is
# trusted, so HTTPS clients on 127.0.0.1 are not taken for a proxy).
c["limits"] = {"threads": "per-connection", "connection_memory": 32768}
for l in c["listen"]:
    if not l["tls"]:
        l["address"] = "::1"
c["proxy"] = {"trusted": ["::1"], "https": False}
c["keypool"] = {"rsa2048": max(pool, 128), "rsa3072": pool, "rsa4096": pool, "threads": 2}
p = c["profiles"]
# One se.SAM template per server key type, like the seed's Email-Template-2022 but with the
# country ignored (the seed sends C = "My City") and the key type as the template's.
for t in ["p256", "p384", "p521", "ed25519", "rsa2048", "rsa3072", "rsa4096"]:
    q = json.loads(json.dumps(p["Email-Template-2022"]))
    q["description"] = "benchmark: the seed's loop with " + t
    q["key_types"] = [t]
    q["server_key_type"] = t
    q["subject"]["C"] = "ignore"
    q["san"]["max"] = 10
    p["Seed-" + t] = q
# Every key type the enrollment-profile API names, on the server side.
for ep in c["iot"]["enrollment_profiles"].values():
    if ep.get("certificate_profile") == "iot-device":
        ep["allowed_key_types"] = ["rsa_2048", "rsa_3072", "rsa_4096", "p_256", "p_384",
                                   "p_521", "ed_25519"]
json.dump(c, open(path, "w"), indent=2)
EOF
}

# cfg NAME EXPR: prints a value from the demo's certgate.json or credentials (python expr
# over c = configuration, k = credentials, basic(principal) = its HTTP Basic credential).
cfg() {
	python3 - "$W/$1" "$2" <<'EOF'
import base64, json, sys
d = sys.argv[1]
c = json.load(open(d + "/certgate.json"))
k = json.load(open(d + "/demo-credentials.json"))


def basic(p):
    return base64.b64encode((k[p]["username"] + ":" + k[p]["password"]).encode()).decode()


print(eval(sys.argv[2]))
EOF
}

# start NAME: starts the daemon of demo NAME; sets DPID, HTTPS, HTTP, CA.
start() {
	local d=$W/$1 i
	HTTPS=$(cfg "$1" '[l["port"] for l in c["listen"] if l["tls"]][0]')
	HTTP=$(cfg "$1" '[l["port"] for l in c["listen"] if not l["tls"]][0]')
	CA=$d/ca/chain.pem
	"$CG" serve -c "$d/certgate.json" >"$W/$1.serve.out" 2>"$W/$1.serve.err" &
	DPID=$!
	for i in $(seq 1 100); do
		if curl -s -o /dev/null --cacert "$CA" "https://127.0.0.1:$HTTPS/healthz"; then
			return 0
		fi
		sleep 0.1
	done
	say "bench: the daemon of $1 did not start:"
	tail -n 5 "$W/$1.serve.err" >&2
	return 1
}

stop() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		DPID=
	fi
}

# Peak resident set of the daemon so far, in MiB.
hwm_mib() {
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$DPID/status" 2>/dev/null
}

# Waits (at most $1 seconds) until every pooled type holds its target; prints the depths.
wait_pool() {
	local want=$2 n=0 depths
	while [ "$n" -lt "$1" ]; do
		depths=$(curl -s --cacert "$CA" "https://127.0.0.1:$HTTPS/metrics" |
			sed -n 's/^certgate_keypool_depth{type="\(rsa[0-9]*\)"} \([0-9]*\)$/\1=\2/p' |
			tr '\n' ' ')
		if python3 -c 'import sys
d = dict(x.split("=") for x in sys.argv[1].split())
w = dict(x.split("=") for x in sys.argv[2].split())
sys.exit(0 if all(int(d.get(t, 0)) >= int(v) for t, v in w.items()) else 1)' "$depths" "$want"; then
			say "bench: key pool full ($depths) after ${n} s"
			return 0
		fi
		sleep 2
		n=$((n + 2))
	done
	say "bench: key pool not full after $1 s ($depths)"
	return 1
}

# ---------------------------------------------------------------- request bodies

# csrs DIR TYPE N FORMAT: N CSRs (fresh keys, CN=bench-i) as est (base64 DER) or pem.
csrs() {
	local dir=$1 type=$2 n=$3 fmt=$4 i alg
	mkdir -p "$dir"
	case $type in
	p256) alg="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	rsa2048) alg="-newkey rsa:2048" ;;
	esac
	for i in $(seq -w 1 "$n"); do
		# shellcheck disable=SC2086
		openssl req -new $alg -nodes -keyout /dev/null -subj "/CN=bench-$i.example.com" \
			-outform DER -out "$dir/$i.der" 2>/dev/null || return 1
		if [ "$fmt" = est ]; then
			base64 -w 64 "$dir/$i.der" >"$dir/$i"
		else
			openssl req -inform DER -in "$dir/$i.der" -out "$dir/$i.pem" 2>/dev/null
		fi
	done
	rm -f "$dir"/*.der
	[ "$fmt" = est ] || { for f in "$dir"/*.pem; do mv "$f" "${f%.pem}"; done; }
}

# iot_bodies DIR EPID TYPE FORMAT [CSRDIR]: enrollment requests, server-side keygen (or the
# CSRs of CSRDIR).
iot_bodies() {
	python3 - "$@" <<'EOF'
import json, os, sys
d, ep, kt, fmt = sys.argv[1:5]
csrdir = sys.argv[5] if len(sys.argv) > 5 else None
os.makedirs(d, exist_ok=True)
enc = open(os.environ["ENC_CERT"]).read() if fmt.startswith("cert_encrypted") else None
for i in range(32):
    b = {"enrollment_profile_id": ep,
         "certificate_profile_attributes": [
             {"id": "subject.common_name", "value": "dev-%d.example.com" % i}]}
    if csrdir:
        b["csr"] = open(os.path.join(csrdir, sorted(os.listdir(csrdir))[i % 32])).read()
    else:
        b["server_side_key_gen"] = True
        b["key_type"] = kt
        b["private_key_format"] = fmt
        if fmt == "pkcs_12":
            b["pkcs12_password"] = "Bench12345"
        if enc:
            b["encryption_certificate"] = enc
    json.dump(b, open(os.path.join(d, "%02d" % i), "w"))
EOF
}

# ---------------------------------------------------------------- measurements

# ceiling NAME ARGS...: bench-ceiling on the current demo; prints the result line.
ceiling() {
	local name=$1 line
	shift
	line=$("$BC" -c "$CONF" --name "$name" --time "$SECS" "$@" 2>>"$LOG")
	say "  $line"
	printf '%s\n' "$line" >"$W/ceil.$name"
	printf '%s\n' "$line"
}

ceil_rate() { kv rate "$(cat "$W/ceil.$1" 2>/dev/null)"; }

# median_line FILE: the result line of FILE with the median rate.
median_line() {
	local n
	n=$(wc -l <"$1")
	while read -r line; do
		printf '%s %s\n' "$(kv rate "$line")" "$line"
	done <"$1" | sort -n | sed -n "$(((n + 1) / 2))p" | cut -d' ' -f2-
}

# load NAME ARGS...: bench-load; prints the result line (and logs it).
load() {
	local name=$1 line
	shift
	line=$("$BL" --name "$name" "$@" 2>>"$LOG")
	say "  $line"
	printf '%s\n' "$line"
}

# The daemon's CPU seconds so far (user + system).
cpu_s() {
	awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$DPID/stat" 2>/dev/null
}

seed_script() {
	# The seed's issuepseudocsr loop (seeds/000_8e66a1692a6e993f.txt, "Submit a signing
	# request by REST API"), as published but for url, credentials, template and count.
	cat >"$W/seed_loop.py" <<'EOF'
import requests
# disable curl TLS warnings - NOT  recommended for production!
import urllib3
import json
import sys
import time
urllib3.disable_warnings()

url, auth, template, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
headers = { 'Authorization': 'Basic ' + auth }

t0 = time.monotonic()
failures = 0
for i in range(count):
    request_data = {
        'name': "This Cert "+str(i),
        'CN': "My Common Name", 'GN': "My Givenname", 'SN': "My Surname",
        'O': "My Organisation", 'OU': "My Organisational Unit",
        'C': "My City", 'ST': "My State", 'L': "My Location",
        'DNS': "host.domain.com", 'E': "mymail@domain.com",
        #'public_key': public_key_pem.decode('utf-8')
    }
    payload = {'command': "issuepseudocsr", 'template': template,
           'request_data': json.dumps(request_data)}
    response = requests.request("POST", url, headers=headers, data=payload, verify=False)
    jsonresult = json.loads(response.text)
    if response.status_code != 200 or jsonresult["result"] == "ST_FF":
        print("REST API HTTP or Value Error in loop #%d" % i, file=sys.stderr)
        failures += 1
print("secs=%.3f fail=%d" % (time.monotonic() - t0, failures))
EOF
}

# ================================================================ the run

START=$(date -u '+%Y-%m-%d %H:%M UTC')
say "bench: work directory $W"
ASAN=
if LC_ALL=C grep -q __asan_init "$CG" 2>/dev/null; then
	ASAN=1
	say "bench: WARNING: certgate is built with AddressSanitizer; the figures say little"
fi
# What one durable write costs on this disk (the floor under a sequential request's
# latency, and the time a group commit waits): 200 appends of 4 KiB, each fdatasync'ed.
FSYNC=$(python3 - "$W" <<'EOF'
import os, sys, time
p = os.path.join(sys.argv[1], "fsync.probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
t = []
for i in range(200):
    t0 = time.monotonic()
    os.write(fd, b"x" * 4096)
    os.fdatasync(fd)
    t.append((time.monotonic() - t0) * 1000)
os.close(fd)
os.unlink(p)
t.sort()
print("p50 %.2f ms, p99 %.2f ms" % (t[100], t[198]))
EOF
)
say "bench: fdatasync of a 4 KiB append: $FSYNC"
say "bench: machine $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
	"$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- CRL build
# A demo of its own (P-256 CA); its store grows to a million revoked certificates (about
# 700 MiB) and is removed afterwards.  GnuTLS's crl API is timed for 10,000 entries only: it
# keeps an ASN.1 node per entry, and its cost grows faster than the entries.
crl_bench() {
	local n=100000,1000000 out
	[ "$QUICK" = 1 ] && n=100000
	say "bench: CRL build for $n revoked certificates (P-256 CA)"
	"$CG" init "$W/crl" --https-port "$(free_port)" --http-port 0 >"$W/crl.init" 2>&1 ||
		{ say "bench: certgate init crl failed"; return 1; }
	out=$("$BCRL" -c "$W/crl/certgate.json" --entries "$n" --gnutls 10000 2>>"$LOG") ||
		{ say "bench: bench-crl failed"; return 1; }
	say "$out"
	rm -rf "$W/crl"
	printf '%s\n' "$out" | python3 -c '
import sys
kv = [dict(x.split("=", 1) for x in l.split()) for l in sys.stdin if l.strip()]
L = ["## CRL build (RFC 5280 section 5), P-256 CA", "",
     "| revoked entries | build s | CRL MiB | entries/s | raw signatures/s (same run) | "
     "build costs as much as |", "|---:|---:|---:|---:|---:|---:|"]
for r in kv:
    if "entries" in r:
        L.append("| %s | %.3f | %.1f | %.0f | %.0f | %.0f signatures |" % (
            format(int(r["entries"]), ","), float(r["build_s"]), int(r["bytes"]) / 1048576,
            float(r["entries_per_s"]), float(r["sign_rate"]), float(r["build_in_signatures"])))
for r in kv:
    if "gnutls_entries" in r:
        L += ["", "The build is what the publisher thread does: read the revoked certificates "
              "from the store, write the DER, sign once.  For comparison, GnuTLS'"'"'s crl "
              "API (gnutls_x509_crl_set_crt_serial per entry, then "
              "gnutls_x509_crl_privkey_sign) takes %.1f s for %s entries." % (
                  float(r["gnutls_build_s"]), format(int(r["gnutls_entries"]), ","))]
print("\n".join(L))' >"$W/crl.md"
}

if [ "${BENCH_PART:-}" = crl ]; then
	START=$(date -u '+%Y-%m-%d %H:%M UTC')
	crl_bench || exit 1
	{
		echo "# certgate benchmark: CRL build"
		echo
		echo "$START; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
			"$(nproc) cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
		[ -n "$ASAN" ] && printf '\n**certgate was built with AddressSanitizer: these figures say little.**\n'
		echo
		cat "$W/crl.md"
	} | tee "$OUT/crl.md"
	exit 0
fi

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/enc.key" -out "$W/enc.pem" \
	-subj "/CN=bench recipient" -days 2 2>/dev/null
export ENC_CERT=$W/enc.pem

# ---------------------------------------------------------------- P-256 CA
say "bench: demo with a P-256 CA"
mkdemo p256 || exit 1
CONF=$W/p256/certgate.json
EPID=$(cfg p256 '[k for k, v in c["iot"]["enrollment_profiles"].items()
	if v["certificate_profile"] == "iot-device"][0]')
IOTKEY=$(cfg p256 'k["iot-client"]["api_key"]')
ESTAUTH=$(cfg p256 'basic("client")')

say "bench: ceiling (in-process, same CA key and profile, no HTTP, no store)"
C1=$(ceiling sign-p256-t1 --profile est-device --op sign --key p256 --threads 1 --count 100000)
C2=$(ceiling sign-p256-t2 --profile est-device --op sign --key p256 --threads 2 --count 100000)
row ceiling "EST simpleenroll work (P-256 CSR)" in-process 1 "$C1"
row ceiling "EST simpleenroll work (P-256 CSR)" in-process 2 "$C2"
for t in p256 p384 p521 ed25519; do
	for f in pem pkcs12; do
		l=$(ceiling "keygen-$t-$f" --profile iot-device --op keygen --key "$t" --format "$f" \
			--threads 2 --count 100000)
		row ceiling "server keygen $t, $f" in-process 2 "$l"
	done
done
for t in rsa2048 rsa3072 rsa4096; do
	for f in pem pkcs12; do
		l=$(ceiling "keygen-$t-$f-pooled" --profile iot-device --op keygen --key "$t" \
			--format "$f" --pooled --threads 2 --count 100000)
		row ceiling "server keygen $t (ready key), $f" in-process 2 "$l"
	done
done
l=$(ceiling keygen-rsa2048-pem-inline --profile iot-device --op keygen --key rsa2048 \
	--format pem --threads 1 --count 30)
row ceiling "server keygen rsa2048 (generated inline), pem" in-process 1 "$l"
l=$(ceiling keygen-rsa4096-pem-inline --profile iot-device --op keygen --key rsa4096 \
	--format pem --threads 1 --count 6)
row ceiling "server keygen rsa4096 (generated inline), pem" in-process 1 "$l"
CEIL2=$(kv rate "$C2")

start p256 || exit 1
say "bench: daemon pid $DPID, https $HTTPS, http $HTTP"
csrs "$W/est-p256" p256 64 est || { say "bench: openssl req failed"; exit 1; }
# The plain-HTTP runs send what nginx sends after terminating TLS (contrib/ nginx site).
EST_HTTP="--url http://[::1]:$HTTP/.well-known/est/simpleenroll -H X-Forwarded-Proto:https"
EST_HTTPS="--url https://127.0.0.1:$HTTPS/.well-known/est/simpleenroll --cacert $CA"
EST_H=(-H "Content-Type: application/pkcs10" -H "Authorization: Basic $ESTAUTH"
	--body-dir "$W/est-p256")

# The key pool fills from the daemon's start; one server keygen first, then wait until full.
iot_bodies "$W/iot-warm" "$EPID" rsa_2048 pem
load warmup --url "https://127.0.0.1:$HTTPS/iot/api/v1/certificate" --cacert "$CA" \
	-H "Content-Type: application/json" -H "x-api-key: $IOTKEY" --body-dir "$W/iot-warm" \
	--count 1 >/dev/null
wait_pool 600 "rsa2048=$((POOL_RSA > 128 ? POOL_RSA : 128)) rsa3072=$POOL_RSA rsa4096=$POOL_RSA"

# Baseline for the store comparison, first of all, while the store is nearly empty: the
# runs repeated at 1,000,000 certificates below, three times each.
BASE_FROM=$(sqlite3 "$W/p256/state/certgate.db" 'SELECT count(*) FROM certificates;')
for i in 1 2 3; do
	l=$(load "est-http-64-base-$i" $EST_HTTP "${EST_H[@]}" --conns 64 --count 200000 \
		--time "$SECS" --warmup 32)
	printf '%s\n' "$l" >>"$W/base.http"
	l=$(load "est-https-64-base-$i" $EST_HTTPS "${EST_H[@]}" --conns 64 --count 200000 \
		--time "$SECS" --warmup 32)
	printf '%s\n' "$l" >>"$W/base.https"
done
BASE_ROWS=$(sqlite3 "$W/p256/state/certgate.db" 'SELECT count(*) FROM certificates;')

say "bench: EST simpleenroll, P-256 CA, P-256 CSRs"
declare -A EST_RATE EST_P99 STORE_BASE STORE_FULL
for conns in 1 16 64; do
	cpu0=$(cpu_s)
	l=$(load "est-http-$conns" $EST_HTTP "${EST_H[@]}" --conns "$conns" --count 200000 \
		--time "$SECS" --warmup 32)
	cpu1=$(cpu_s)
	row est "simpleenroll" "HTTP keep-alive (trusted proxy)" "$conns" "$l" "$CEIL2" \
		"$(awk -v a="$cpu0" -v b="$cpu1" -v n="$(kv ok "$l")" \
			'BEGIN { if (n > 0) printf "daemon CPU %.0f us/cert", (b - a) * 1e6 / n }')"
	EST_RATE[http-$conns]=$(kv rate "$l")
	EST_P99[http-$conns]=$(kv p99_ms "$l")
	l=$(load "est-https-$conns" $EST_HTTPS "${EST_H[@]}" --conns "$conns" --count 200000 \
		--time "$SECS" --warmup 32)
	row est "simpleenroll" "HTTPS keep-alive" "$conns" "$l" "$CEIL2"
	EST_RATE[https-$conns]=$(kv rate "$l")
done
# The targets: the 2-thread ceiling measured again now (the larger of the two counts), the
# closed loop at 64 connections three times (median), then an open loop at 64 connections
# offering 40% of the ceiling, whose p99 is the latency at that throughput (in a closed
# loop latency is connections / throughput by Little's law, whatever the server does).
l=$(ceiling sign-p256-t2-again --profile est-device --op sign --key p256 --threads 2 \
	--count 100000)
CEIL2=$(python3 -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))" \
	"$CEIL2" "$(kv rate "$l")")
: >"$W/est64"
for i in 1 2 3; do
	l=$(load "est-http-64-$i" $EST_HTTP "${EST_H[@]}" --conns 64 --count 200000 \
		--time "$SECS" --warmup 64)
	printf '%s\n' "$l" >>"$W/est64"
done
l=$(median_line "$W/est64")
row est "simpleenroll (median of 3)" "HTTP keep-alive (trusted proxy)" 64 "$l" "$CEIL2"
EST_RATE[http-64]=$(kv rate "$l")
OFFER=$(python3 -c "import sys; print(int(0.4 * float(sys.argv[1]) + 0.5))" "$CEIL2")
l=$(load est-http-64-open $EST_HTTP "${EST_H[@]}" --conns 64 --count 10000000 \
	--time "$SECS" --warmup 64 --rate "$OFFER")
row est "simpleenroll, $OFFER per s offered (40% of the ceiling)" \
	"HTTP keep-alive (trusted proxy), open loop" 64 "$l" "$CEIL2"
EST_OPEN_RATE=$(kv rate "$l")
EST_OPEN_P99=$(kv p99_ms "$l")
l=$(load est-https-64-open $EST_HTTPS "${EST_H[@]}" --conns 64 --count 10000000 \
	--time "$SECS" --warmup 64 --rate "$OFFER")
row est "simpleenroll, $OFFER per s offered (40% of the ceiling)" "HTTPS keep-alive, open loop" \
	64 "$l" "$CEIL2"
# The latency curve below saturation: the same at a quarter of the ceiling.
OFFER25=$(python3 -c "import sys; print(int(0.25 * float(sys.argv[1]) + 0.5))" "$CEIL2")
l=$(load est-http-64-open25 $EST_HTTP "${EST_H[@]}" --conns 64 --count 10000000 \
	--time "$SECS" --warmup 64 --rate "$OFFER25")
row est "simpleenroll, $OFFER25 per s offered (25% of the ceiling)" \
	"HTTP keep-alive (trusted proxy), open loop" 64 "$l" "$CEIL2"
l=$(load est-https-newconn $EST_HTTPS "${EST_H[@]}" --conns 16 --new-conn --count 200000 \
	--time "$SECS")
row est "simpleenroll" "HTTPS, new connection each" 16 "$l" "$CEIL2"
l=$(load est-serverkeygen --url "https://127.0.0.1:$HTTPS/.well-known/est/serverkeygen" \
	--cacert "$CA" "${EST_H[@]}" --conns 16 --count 200000 --time "$SECS")
row est "serverkeygen (P-256 key)" "HTTPS keep-alive" 16 "$l" "$(ceil_rate keygen-p256-pem)"

say "bench: RSA-2048 server keygen with a warm pool, one connection"
wait_pool 300 "rsa2048=128"
l=$(load iot-rsa2048-warm --url "https://127.0.0.1:$HTTPS/iot/api/v1/certificate" \
	--cacert "$CA" -H "Content-Type: application/json" -H "x-api-key: $IOTKEY" \
	--body-dir "$W/iot-warm" --conns 1 --count 100 --time 60)
row keygen "RSA-2048 server keygen, pem (warm pool)" "HTTPS keep-alive" 1 "$l" \
	"$(ceil_rate keygen-rsa2048-pem-pooled)"
RSA_WARM_P50=$(kv p50_ms "$l")

say "bench: enrollment-profile enroll per key type and private key format"
wait_pool 600 "rsa2048=128 rsa3072=$POOL_RSA rsa4096=$POOL_RSA"
for t in p_256 p_384 p_521 ed_25519 rsa_2048 rsa_3072 rsa_4096; do
	ct=$(echo "$t" | tr -d _)
	case $t in
	rsa*) n=12 c=1 ;;
	*) n=100000 c=8 ;;
	esac
	for f in pem der pkcs_12 cert_encrypted_key_only cert_encrypted; do
		iot_bodies "$W/iot-$t-$f" "$EPID" "$t" "$f"
		l=$(load "iot-$t-$f" --url "https://127.0.0.1:$HTTPS/iot/api/v1/certificate" \
			--cacert "$CA" -H "Content-Type: application/json" \
			-H "x-api-key: $IOTKEY" --body-dir "$W/iot-$t-$f" --conns "$c" --count "$n" \
			--time "$SECS")
		case $f in pkcs_12) cf=pkcs12 ;; *) cf=pem ;; esac
		case $t in rsa*) cn="keygen-$ct-$cf-pooled" ;; *) cn="keygen-$ct-$cf" ;; esac
		row iot "enroll, server key $t, $f" "HTTPS keep-alive" "$c" "$l" "$(ceil_rate "$cn")"
	done
done
csrs "$W/iot-csr-pem" p256 32 pem
iot_bodies "$W/iot-csr" "$EPID" p_256 pem "$W/iot-csr-pem"
l=$(load iot-csr --url "https://127.0.0.1:$HTTPS/iot/api/v1/certificate" --cacert "$CA" \
	-H "Content-Type: application/json" -H "x-api-key: $IOTKEY" --body-dir "$W/iot-csr" \
	--conns 16 --count 100000 --time "$SECS")
row iot "enroll with a client CSR (P-256)" "HTTPS keep-alive" 16 "$l" "$CEIL2"
say "bench: 256 concurrent connections (the pool refilled first)"
wait_pool 600 "rsa2048=128 rsa3072=$POOL_RSA rsa4096=$POOL_RSA"
l=$(load est-http-256 $EST_HTTP "${EST_H[@]}" --conns 256 --count 200000 --time "$SECS")
row scale "simpleenroll" "HTTP keep-alive (trusted proxy)" 256 "$l" "$CEIL2"
l=$(load est-https-256 $EST_HTTPS "${EST_H[@]}" --conns 256 --count 200000 --time "$SECS")
row scale "simpleenroll" "HTTPS keep-alive" 256 "$l" "$CEIL2"
HWM_256=$(hwm_mib)
say "bench: peak RSS of the daemon after all the runs above: $HWM_256 MiB"

stop

if [ "$FILL" -gt 0 ]; then
	DB=$W/p256/state/certgate.db
	before=$(sqlite3 "$DB" 'SELECT count(*) FROM certificates;')
	say "bench: filling the store to $FILL certificates (direct SQLite bulk insert)"
	t0=$(date +%s)
	ISSUER=$(sqlite3 "$DB" 'SELECT issuer FROM certificates LIMIT 1;')
	sqlite3 "$DB" >/dev/null <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $FILL - $before)
INSERT OR IGNORE INTO certificates (issuer, serial, subject, profile, principal, not_before,
	not_after, issued_at, status, der)
SELECT '$ISSUER', lower(hex(randomblob(16))), 'CN=synthetic-' || x || '.example.com',
	'est-device', 'client', 1700000000, 1731536000 + x % 1000000, 1700000000 + x, 'valid',
	randomblob(560)
FROM n;
INSERT INTO audit (at, request_id, adapter, operation, principal, profile, peer, outcome,
	reason, serial)
SELECT issued_at, NULL, 'bench', 'simpleenroll', principal, profile, '127.0.0.1', 'issued',
	subject, serial FROM certificates WHERE subject LIKE 'CN=synthetic-%';
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
	rows=$(sqlite3 "$DB" 'SELECT count(*) FROM certificates;')
	say "bench: store holds $rows certificates ($(du -m "$DB" | cut -f1) MiB)," \
		"filled in $(($(date +%s) - t0)) s"
	start p256 || exit 1
	# The restarted daemon refills its key pool first, as it would after any restart.
	wait_pool 600 "rsa2048=128 rsa3072=$POOL_RSA rsa4096=$POOL_RSA"
	for i in 1 2 3; do
		l=$(load "est-http-64-1m-$i" $EST_HTTP "${EST_H[@]}" --conns 64 --count 200000 \
			--time "$SECS" --warmup 32)
		printf '%s\n' "$l" >>"$W/full.http"
		l=$(load "est-https-64-1m-$i" $EST_HTTPS "${EST_H[@]}" --conns 64 --count 200000 \
			--time "$SECS" --warmup 32)
		printf '%s\n' "$l" >>"$W/full.https"
	done
	stop
	for t in http https; do
		b=$(median_line "$W/base.$t")
		f=$(median_line "$W/full.$t")
		case $t in
		http) tr="HTTP keep-alive (trusted proxy)" ;;
		*) tr="HTTPS keep-alive" ;;
		esac
		row store "simpleenroll, store from $BASE_FROM to $BASE_ROWS certificates (median of 3)" \
			"$tr" 64 "$b"
		row store "simpleenroll, store at $rows certificates (median of 3)" "$tr" 64 "$f"
		STORE_BASE[$t]=$(kv rate "$b")
		STORE_FULL[$t]=$(kv rate "$f")
	done
fi

# ---------------------------------------------------------------- RSA CA: the seed's loop
say "bench: demo with an RSA CA (the seed's RSA-IssuingCA)"
mkdemo rsa --rsa || exit 1
CONF=$W/rsa/certgate.json
SESAUTH=$(cfg rsa 'basic("sesam-client")')
start rsa || exit 1
seed_script
python3 - "$W/seed-body" <<'EOF'
import json, sys, urllib.parse
rd = {'name': "This Cert 0", 'CN': "My Common Name", 'GN': "My Givenname", 'SN': "My Surname",
      'O': "My Organisation", 'OU': "My Organisational Unit", 'C': "My City", 'ST': "My State",
      'L': "My Location", 'DNS': "host.domain.com", 'E': "mymail@domain.com"}
for t in ["p256", "p384", "p521", "ed25519", "rsa2048", "rsa3072", "rsa4096"]:
    open(sys.argv[1] + "-" + t, "w").write(urllib.parse.urlencode(
        {'command': "issuepseudocsr", 'template': "Seed-" + t, 'request_data': json.dumps(rd)}))
EOF
# Start the pool with one request, then let it fill.
load warmup --url "https://127.0.0.1:$HTTPS/sesam/api" --cacert "$W/rsa/ca/chain.pem" \
	-H "Authorization: Basic $SESAUTH" -H "Content-Type: application/x-www-form-urlencoded" \
	--body "$W/seed-body-rsa2048" --count 1 --reject ST_FF >/dev/null
wait_pool 900 "rsa2048=$((POOL_RSA > 128 ? POOL_RSA : 128)) rsa3072=$POOL_RSA rsa4096=$POOL_RSA"
l=$(ceiling sign-rsaca-t1 --profile est-device --op sign --key p256 --threads 1 --count 100000)
row sesam "the RSA-3072 CA's signature, in-process (EST simpleenroll work)" in-process 1 "$l"
# What the Python client costs by itself: the same requests.request loop against a static
# resource (EST cacerts: no authentication, no signature, no store).
cat >"$W/py_cost.py" <<'EOF'
import requests, sys, time, urllib3
urllib3.disable_warnings()
t0 = time.monotonic()
for i in range(int(sys.argv[2])):
    requests.request("GET", sys.argv[1], verify=False)
print("%.2f" % ((time.monotonic() - t0) * 1000 / int(sys.argv[2])))
EOF
PY_MS=$(python3 "$W/py_cost.py" "https://127.0.0.1:$HTTPS/.well-known/est/cacerts" 100 2>>"$LOG")
say "bench: the Python client alone: $PY_MS ms per request (new HTTPS connection each)"
for t in p256 p384 p521 ed25519 rsa2048 rsa3072 rsa4096; do
	case $t in
	rsa2048) app=152 ;;
	rsa3072) app=152 ;;		# no figure published: RSA-2048's, the stricter bound
	rsa4096) app=268 ;;
	p256) app=149 ;;
	*) app=132 ;;			# no figure published: the fastest one (BP256), the stricter bound
	esac
	case $t in
	rsa*) wait_pool 900 "$t=$POOL_RSA" ;;
	esac
	say "bench: the seed's loop, $SEED_N x issuepseudocsr, server key $t, RSA CA"
	# The loop as the script makes it (one request at a time, a new HTTPS connection for
	# each), with bench-load as the client.
	l=$(load "seed-$t" --url "https://127.0.0.1:$HTTPS/sesam/api" --cacert "$W/rsa/ca/chain.pem" \
		-H "Authorization: Basic $SESAUTH" -H "Content-Type: application/x-www-form-urlencoded" \
		--body "$W/seed-body-$t" --reject ST_FF --conns 1 --new-conn --count "$SEED_N" \
		--time 600)
	row sesam "issuepseudocsr, server key $t (PKCS#12)" "HTTPS, new connection each, sequential" 1 "$l"
	case $t in
	rsa*) wait_pool 900 "$t=$POOL_RSA" ;;
	esac
	# And the seed's Python script itself.
	out=$(python3 "$W/seed_loop.py" "https://127.0.0.1:$HTTPS/sesam/api" "$SESAUTH" "Seed-$t" \
		"$SEED_N" 2>>"$LOG")
	say "  seed loop (Python) $t: $out"
	printf 'seed|%s|%s|%s|%s|%s|%s|%s\n' "$t" "$(kv secs "$l")" "$(kv fail "$l")" "$app" \
		"$SEED_N" "$(kv secs "$out")" "$(kv fail "$out")" >>"$W/seed"
done
l=$(load sesam-p256-16 --url "https://127.0.0.1:$HTTPS/sesam/api" --cacert "$W/rsa/ca/chain.pem" \
	-H "Authorization: Basic $SESAUTH" -H "Content-Type: application/x-www-form-urlencoded" \
	--body "$W/seed-body-p256" --reject ST_FF --conns 16 --count 100000 --time "$SECS")
row sesam "issuepseudocsr, server key p256 (PKCS#12)" "HTTPS keep-alive" 16 "$l"
python3 - "$W/gencert-body" <<'EOF'
import sys, urllib.parse
open(sys.argv[1], "w").write(urllib.parse.urlencode({
    'command': "gencert", 'template': "Seed-p256", 'CN': "Arnie S.", 'GN': "Arnie", 'SN': "S.",
    'O': "My Organisation", "OU": "My Organisational Unit", 'L': "Munich",
    'p12_pass': "passphrase!"}))
EOF
l=$(load sesam-gencert --url "http://[::1]:$HTTP/sesam/api" -H "X-Forwarded-Proto: https" \
	-H "Authorization: Basic $SESAUTH" -H "Content-Type: application/x-www-form-urlencoded" \
	--body "$W/gencert-body" --reject ST_FF --conns 16 --count 100000 --time "$SECS" 2>/dev/null ||
	true)
[ -n "$l" ] && row sesam "gencert, server key p256 (PKCS#12)" \
	"HTTP keep-alive (trusted proxy)" 16 "$l"
HWM_RSA=$(hwm_mib)
stop

# ---------------------------------------------------------------- OCSP (issue 14)
say "bench: OCSP responder (tests/bench/ocsp.sh, its own P-256 demo)"
ROWS=$ROWS SECS=$SECS bash "$top_srcdir/tests/bench/ocsp.sh" 2>&1 | tee -a "$LOG" >&2
crl_bench

# ---------------------------------------------------------------- the table
GNUTLS=$("$CG" version 2>/dev/null | sed 's/.*(\(.*\))/\1/')
export B_ROWS=$ROWS B_SEED=$W/seed B_OUT=$OUT/latest.md B_START=$START B_GNUTLS=$GNUTLS \
	B_HWM=${HWM_256:-} B_HWM_RSA=${HWM_RSA:-} B_RSA_P50=${RSA_WARM_P50:-} \
	B_HTTP64=${EST_RATE[http-64]:-} B_HTTP64_P99=${EST_P99[http-64]:-} \
	B_HTTPS64=${EST_RATE[https-64]:-} B_HTTPS64_P99=${EST_P99[https-64]:-} B_CEIL2=$CEIL2 \
	B_BASE_HTTP=${STORE_BASE[http]:-} B_FULL_HTTP=${STORE_FULL[http]:-} \
	B_BASE_HTTPS=${STORE_BASE[https]:-} B_FULL_HTTPS=${STORE_FULL[https]:-} \
	B_PY_MS=${PY_MS:-} B_SEED_N=$SEED_N B_OPEN_RATE=${EST_OPEN_RATE:-} \
	B_OPEN_P99=${EST_OPEN_P99:-} B_OFFER=${OFFER:-} B_FSYNC=${FSYNC:-} B_ASAN=${ASAN:-} \
	B_POOL=$POOL_RSA B_CRL_MD=$W/crl.md
python3 - <<'EOF'
import os, platform

E = os.environ


def num(k):
    try:
        return float(E.get(k, ""))
    except ValueError:
        return None


def f(x, d=1):
    try:
        return ("%." + str(d) + "f") % float(x)
    except (TypeError, ValueError):
        return x or "n/a"


cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem = int(open("/proc/meminfo").readline().split()[1]) // 1024
L = ["# certgate benchmark", ""]
L.append("%s; %s, %d cores, %d MiB RAM; Linux %s; %s; fdatasync of a 4 KiB append %s; "
         "load average at the end %s. The load generator runs on the same two cores as the "
         "daemon; `vs ceiling` is the daemon's rate over the in-process rate of the same work "
         "with 2 threads." % (
             E["B_START"], cpu, os.cpu_count(), mem, platform.release(), E["B_GNUTLS"],
             E.get("B_FSYNC") or "?", " ".join(open("/proc/loadavg").read().split()[:3])))
L.append("")
L.append("Daemon settings (certgate.json): `\"limits\": {\"threads\": \"per-connection\", "
         "\"connection_memory\": 32768}`, `\"keypool\": {\"rsa2048\": 128, \"rsa3072\": "
         "%s, \"rsa4096\": %s, \"threads\": 2}`, the demo's profiles (PKCS#12: 10000 "
         "iterations for a client's password, 2048 for certgate's random one)." % (
             E.get("B_POOL"), E.get("B_POOL")))
if E.get("B_ASAN"):
    L.append("")
    L.append("**certgate was built with AddressSanitizer: these figures say little.**")
L.append("")
titles = {"ceiling": "In-process ceiling (same CA key and profile; no HTTP, no store)",
          "est": "EST (RFC 7030), P-256 CA, P-256 CSRs",
          "keygen": "Server keygen latency with a warm key pool",
          "iot": "Enrollment-profile API: enroll per key type and private key format (P-256 CA)",
          "scale": "256 concurrent connections",
          "store": "Store at 1,000,000 certificates",
          "sesam": "se.SAM command API, RSA-3072 CA",
          "ocsp": "OCSP responder, P-256 CA (answers/s; vs ceiling: over the CA key's raw "
                  "signature rate with 2 threads, same run)"}
rows = [l.rstrip("\n").split("|") for l in open(E["B_ROWS"]) if l.strip()]
for sec in ["ceiling", "est", "keygen", "iot", "scale", "store", "sesam", "ocsp"]:
    rs = [r for r in rows if r[0] == sec]
    if not rs:
        continue
    L.append("## " + titles[sec])
    L.append("")
    L.append("| operation | transport | conns | certs/s | p50 ms | p99 ms | vs ceiling | "
             "failed | note |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rs:
        ratio = ""
        try:
            if r[8] and float(r[8]) > 0:
                ratio = "%.0f%%" % (100 * float(r[4]) / float(r[8]))
        except ValueError:
            pass
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r[1], r[2], r[3], f(r[4]), f(r[5], 2), f(r[6], 2), ratio, r[7], r[9]))
    L.append("")

if os.path.exists(E.get("B_CRL_MD", "")):
    L.append(open(E["B_CRL_MD"]).read().rstrip("\n"))
    L.append("")

targets = []
n = int(E["B_SEED_N"])
if os.path.exists(E["B_SEED"]) and os.path.getsize(E["B_SEED"]):
    L.append("## The seed's loop: %d x issuepseudocsr, one at a time, a new HTTPS connection "
             "each, RSA CA" % n)
    L.append("")
    L.append("| server key | certgate s per 100 | appliance s per 100 | faster | the seed's Python "
             "script, s per 100 | faster | failed |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for l in open(E["B_SEED"]):
        _, t, secs, fail, app, cnt, pysecs, pyfail = l.rstrip("\n").split("|")
        try:
            sc = float(secs) * 100 / float(cnt)
            x = float(app) / sc
        except ValueError:
            sc, x = None, None
        try:
            py = float(pysecs) * 100 / float(cnt)
            px = "%.0fx" % (float(app) / py)
            py = "%.2f" % py
        except ValueError:
            py, px = "n/a", ""
        L.append("| %s | %s | %s | %s | %s | %s | %s / %s |" % (
            t, f(sc, 2), app, "%.0fx" % x if x else "n/a", py, px, fail or "?",
            pyfail or "?"))
        targets.append(("the seed's loop, %s: at least 100x faster" % t,
                        "%.0fx" % x if x else "n/a", bool(x and x >= 100)))
    L.append("")
    L.append("Appliance figures from the seed: BP256 132 s, RSA-2048 152 s, RSA-4096 268 s, "
             "P-256 149 s; types without a published figure are held to the stricter "
             "neighbouring one (RSA-3072: 152 s; P-384, P-521, Ed25519: 132 s).  `certgate "
             "s` is the loop with bench-load as the client; the seed's Python script "
             "(requests.request, a new session and TLS connection per request) costs %s ms "
             "per request by itself (measured against a static resource), which the Python "
             "column includes.%s" % (
                 f(E.get("B_PY_MS"), 1),
                 "" if n >= 100 else "  Runs of %d requests are scaled to 100." % n))
    L.append("")

http64, ceil2 = num("B_HTTP64"), num("B_CEIL2")
orate, op99, offer = num("B_OPEN_RATE"), num("B_OPEN_P99"), num("B_OFFER")
if http64 and ceil2:
    targets.append(("EST simpleenroll, P-256 CA, HTTP keep-alive, 64 conns: at least 40% of "
                    "the 2-thread ceiling (closed loop, median of 3)", "%.0f%% (%s of %s per s)"
                    % (100 * http64 / ceil2, f(http64), f(ceil2)), http64 / ceil2 >= 0.40))
else:
    targets.append(("EST simpleenroll, 64 conns: at least 40% of the ceiling", "n/a", False))
if orate and offer:
    targets.append(("EST simpleenroll, HTTP keep-alive, 64 conns: p99 under 20 ms at 40%% of "
                    "the ceiling (open loop, %s per s offered)" % f(offer, 0),
                    "%s ms at %s per s" % (f(op99, 2), f(orate)),
                    bool(op99 is not None and op99 < 20 and orate >= 0.97 * offer)))
else:
    targets.append(("EST simpleenroll, 64 conns: p99 under 20 ms", "n/a", False))
v = num("B_RSA_P50")
targets.append(("RSA-2048 server keygen p50 under 5 ms with a warm pool",
                f(v, 2) + " ms" if v is not None else "n/a", bool(v is not None and v < 5)))
v = num("B_HWM")
targets.append(("peak RSS under 64 MB at 256 concurrent connections",
                f(v) + " MiB" if v is not None else "n/a", bool(v is not None and v < 64)))
for t in ("HTTP", "HTTPS"):
    b, u = num("B_BASE_" + t), num("B_FULL_" + t)
    if b and u:
        targets.append(("throughput within 10%% between a nearly empty store and 1,000,000 "
                        "certificates (%s, 64 conns)" % t, "%.0f%% (%s vs %s per s)" % (
                            100 * u / b, f(u), f(b)), 0.90 <= u / b <= 1.10))
    elif t == "HTTPS":
        targets.append(("throughput within 10% at 1,000,000 certificates", "not measured",
                        False))
L.append("## Targets (issue 8)")
L.append("")
L.append("| target | measured | met |")
L.append("|---|---|---|")
for name, val, ok in targets:
    L.append("| %s | %s | %s |" % (name, val, "yes" if ok else "**no**"))
L.append("")
L.append("Peak RSS (VmHWM) of the P-256 daemon after every run above, 256 connections and a "
         "full key pool included: %s MiB; of the RSA CA daemon: %s MiB." % (
             f(E.get("B_HWM")), f(E.get("B_HWM_RSA"))))
text = "\n".join(L) + "\n"
open(E["B_OUT"], "w").write(text)
print(text)
EOF
say "bench: table written to $OUT/latest.md"
