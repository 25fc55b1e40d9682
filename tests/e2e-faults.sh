#!/bin/bash
# Store and crypto faults against the real daemon (issue 13), on every front end with curl:
#   - a full disk (a small tmpfs the test mounts and fills): EST, se.SAM, IoT and TSB answer
#     503 with Retry-After and "disk full", /healthz fails saying so, nothing is stored; when
#     the space returns issuance resumes without a restart; a restart on a full disk is not
#     fatal; and before that, the WAL never takes the disk (checkpoints bounded by free space);
#   - a write lock held by another process: each request waits limits.store_wait at most, in
#     all, then 503 "database busy";
#   - the crypto library failing (getrandom fails once, inside a key generation, through the
#     LD_PRELOAD shim tests/shim-getrandom.c): 503 "crypto failure" on every front end and
#     /healthz, the key pool stopped and wiped, and SIGTERM still stops the daemon.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
CG=$(cd "$(dirname "$CG")" && pwd)/$(basename "$CG")
SRC=$(cd "${top_srcdir:-.}" && pwd)
cd "$LIB_TMP" || bail "no temp dir"
for t in curl openssl python3 sqlite3 cc mount umount; do
	command -v "$t" >/dev/null 2>&1 || bail "$t is missing (.ci/install-deps installs it)"
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
# The daemon is built with ASan in CI: the shim comes first in the preload list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

MNT=
SPID=
faults_cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	lib_cleanup
	if [ -n "$MNT" ]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
		rmdir "$MNT" 2>/dev/null
	fi
}
trap faults_cleanup EXIT

# ---------------------------------------------------------------- a demo and its clients

# demo DIR STATE_DIR [JSON-MERGE]: a demo whose state lives in STATE_DIR, an HTTPS and an
# HTTP listener (the HTTP one behind a "proxy" on 127.0.0.1 that says https, as nginx does).
demo() {
	local d=$1 state=$2 merge=${3:-'{}'}
	"$CG" init "$d" --https-port "$(lib_free_port)" --http-port "$(lib_free_port)" \
		>"$d.init" 2>&1 || bail "certgate init failed: $(cat "$d.init")"
	"$PY" - "$d/certgate.json" "$state" "$merge" <<-'PY' || bail "config edit failed"
	import json, sys
	path, state, merge = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
	d = json.load(open(path))
	d["state_dir"] = state
	d["proxy"] = {"trusted": ["127.0.0.1"]}
	for k, v in merge.items():
	    if isinstance(v, dict) and isinstance(d.get(k), dict):
	        d[k].update(v)
	    else:
	        d[k] = v
	json.dump(d, open(path, "w"), indent=1)
	PY
}

# use DIR: the front-end variables for demo DIR.
use() {
	local d=$1
	C="$d/certgate.json"
	CHAIN="$d/ca/chain.pem"
	HTTPS="https://localhost:$("$PY" -c 'import json, sys
print([l["port"] for l in json.load(open(sys.argv[1]))["listen"] if l["tls"]][0])' "$C")"
	HTTP="http://127.0.0.1:$("$PY" -c 'import json, sys
print([l["port"] for l in json.load(open(sys.argv[1]))["listen"] if not l["tls"]][0])' "$C")"
	cred() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print('"$1"')' \
		"$d/demo-credentials.json"; }
	PW=$(cred 'd["client"]["password"]')
	IOTKEY=$(cred 'd["iot-client"]["api_key"]')
	TSBKM=$(cred 'd["tsb-keymgmt"]["api_key"]')
	TSBKO=$(cred 'd["tsb-keyop"]["api_key"]')
	BASE=$HTTPS
	CURLTLS=(--cacert "$CHAIN")
}

# over_http: the front ends through the HTTP listener (X-Forwarded-Proto from the trusted
# proxy address), for when the crypto library can no longer do TLS.
over_http() {
	BASE=$HTTP
	CURLTLS=(-H "X-Forwarded-Proto: https")
}

start() {
	lib_spawn serve "$@" serve -c "$C"
	SPID=$LIB_PID
	lib_wait_port 127.0.0.1 "${HTTP##*:}" 30 || bail "certgate serve did not start: $(cat serve.err)"
}

# stop_daemon SECONDS: SIGTERM; STOPPED is the exit status, or "hung" when it took longer.
stop_daemon() {
	local n=0
	kill -TERM "$SPID" 2>/dev/null
	while kill -0 "$SPID" 2>/dev/null && [ $n -lt $(($1 * 10)) ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$SPID" 2>/dev/null; then
		STOPPED=hung
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	else
		wait "$SPID" 2>/dev/null
		STOPPED=$?
	fi
	LIB_PIDS=$(echo "$LIB_PIDS" | tr ' ' '\n' | grep -vx "$SPID" | tr '\n' ' ')
	SPID=
}

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
	-subj /CN=fault-dev -out dev.csr 2>/dev/null || bail "openssl req failed"
openssl req -in dev.csr -outform DER | base64 >dev.b64

# Each front end once; the status in ST, the reply in $OUT.body, its headers in $OUT.hdr, the
# seconds it took in SECS.
OUT=r
req() {
	local out
	out=$(curl -s -m 60 -o "$OUT.body" -D "$OUT.hdr" -w '%{http_code} %{time_total}' \
		"${CURLTLS[@]}" "$@")
	ST=${out% *}
	SECS=${out#* }
}
est() {
	req -u "client:$PW" -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 \
		"$BASE/.well-known/est/simpleenroll"
}
sesam() {
	req -u "client:$PW" -d command=gencert -d template=Email-Template-2022 -d CN=fault-user \
		"$BASE/sesam/api"
}
iot() {
	req -H "x-api-key: $IOTKEY" -H 'Content-Type: application/json' -d '{
		"enrollment_profile_id": "IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59",
		"server_side_key_gen": true, "key_type": "p_256", "private_key_format": "pem",
		"certificate_profile_attributes": [{"id": "subject.common_name",
		                                    "value": "fault-sensor"}]}' \
		"$BASE/iot/api/v1/certificate"
}
# tsb_key LABEL: a P-256 key in the TSB key store (a write to the key store).
tsb_key() {
	req -H "X-API-KEY: $TSBKM" -H 'Content-Type: application/json' -d '{"label": "'"$1"'",
		"algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7",
		"password": ["s","e","c","r","e","t"], "attributes": {"sign": true}}' "$BASE/v1/key"
}
# tsb_ca: the key fault-ca made a sub-CA (its CSR from the TSB API, certified by the demo's
# tsb-sub-ca profile with the CLI, imported), to sign with.
tsb_ca() {
	tsb_key fault-ca
	[ "$ST" = 201 ] || return 1
	req -H "X-API-KEY: $TSBKO" -H 'Content-Type: application/json' -d '{
		"signKeyName": "fault-ca", "keyPassword": ["s","e","c","r","e","t"],
		"standardCertificateAttributes": {"commonName": "fault CA",
		                                  "organizationName": "certgate demo"},
		"keyUsage": ["KEY_CERT_SIGN", "CRL_SIGN"]}' \
		"$BASE/v1/certificate/synchronous/request"
	[ "$ST" = 200 ] || return 1
	jq_ 'd["certificateSigningRequest"]' >fault-ca.csr
	"$CG" issue -c "$C" --profile tsb-sub-ca --csr fault-ca.csr --out fault-ca.pem \
		2>/dev/null || return 1
	printf '{"label": "fault-ca", "certificate": "%s"}' \
		"$(openssl x509 -in fault-ca.pem -outform DER | base64 -w0)" >imp.json
	req -H "X-API-KEY: $TSBKO" -H 'Content-Type: application/json' --data-binary @imp.json \
		"$BASE/v1/certificate/import/plain"
	[ "$ST" = 200 ]
}
# tsb: a certificate signed by the stored key fault-ca (recorded in the store).
tsb() {
	"$PY" -c 'import json, sys
print(json.dumps({"signKeyName": "fault-ca", "keyPassword": list("secret"),
    "signatureAlgorithm": "SHA256_WITH_ECDSA", "commonName": "fault-leaf",
    "certificateAuthority": False, "certificateSigningRequest": open("dev.csr").read(),
    "keyUsage": ["DIGITAL_SIGNATURE"], "extendedKeyUsage": ["ANY_EXTENDED_KEY_USAGE"]}))' \
		>sync.json
	req -H "X-API-KEY: $TSBKO" -H 'Content-Type: application/json' --data-binary @sync.json \
		"$BASE/v1/certificate/synchronous/sign"
}
healthz() { req "$HTTP/healthz"; }
hdr() { grep -i "^$1:" "$OUT.hdr" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
jq_() { "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print('"$1"')' "$OUT.body" 2>/dev/null; }
certs() { sqlite3 "file:$DB?mode=ro" 'SELECT count(*) FROM certificates;' 2>/dev/null; }

# refused NAME REASON-REGEX: the last reply of front end NAME is a 503 with Retry-After and
# REASON in its dialect.
refused() {
	local name=$1 why=$2 msg
	is "$ST" 503 "$name: HTTP 503"
	like "$(hdr Retry-After)" '^[1-9][0-9]*$' "$name: Retry-After"
	case $name in
	*/est*|*/healthz*)	msg=$(cat "$OUT.body") ;;
	*/sesam*)	msg=$(jq_ 'd["result"] + " " + d["error"]') ;;
	*/iot*)		msg=$(jq_ 'd["errors"][0]["code"] + " " + d["errors"][0]["message"]') ;;
	*/tsb*)		msg=$(jq_ 'str(d["errorCode"]) + " " + d["message"]') ;;
	esac
	case $name in
	*/sesam*)	like "$msg" "^ST_FF .*$why" "$name: ST_FF naming the reason" ;;
	*/iot*)		like "$msg" "^service_unavailable .*$why" "$name: errors[] naming the reason" ;;
	*/tsb*)		like "$msg" "^503 .*$why" "$name: errorCode 503 naming the reason" ;;
	*)		like "$msg" "$why" "$name: names the reason" ;;
	esac
}

# served NAME: the last reply was a success.
served() {
	like "$ST" '^20[01]$' "$1: served ($ST)"
}

# ---------------------------------------------------------------- disk full

MNT=$(mktemp -d "${TMPDIR:-/tmp}/certgate-faults-mnt.XXXXXX") || bail "mktemp failed"
if ! mount -t tmpfs -o size=6m,mode=0700 tmpfs "$MNT" 2>mount.err; then
	rmdir "$MNT"
	MNT=
	[ "$(id -u)" -ne 0 ] || bail "running as root but cannot mount a tmpfs: $(cat mount.err)"
	skip "/faults/disk-full" "no privilege to mount a tmpfs (CI runs as root)"
else
	demo full "$MNT" '{"limits": {"store_wait": 2}}'
	use full
	DB="$MNT/certgate.db"
	start "$CG"
	tsb_ca
	ok $? "/faults/disk-full/setup: a TSB key certified as a CA to sign with"

	# The WAL stays a fraction of the disk: 300 certificates (about 45 KiB of WAL each,
	# 13 MiB without a checkpoint) on a 6 MiB file system.
	"$PY" - "${HTTPS##*:}" "$CHAIN" "$PW" "$DB-wal" 300 >wal.txt <<-'PY'
	import base64, http.client, os, ssl, sys
	port, ca, pw, wal, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
	ctx = ssl.create_default_context(cafile=ca)
	conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=60)
	auth = "Basic " + base64.b64encode(("client:" + pw).encode()).decode()
	body = open("dev.b64", "rb").read()
	bad, peak = {}, 0
	for _ in range(n):
	    conn.request("POST", "/.well-known/est/simpleenroll", body,
	                 {"Authorization": auth, "Content-Type": "application/pkcs10"})
	    r = conn.getresponse()
	    r.read()
	    if r.status != 200:
	        bad[r.status] = bad.get(r.status, 0) + 1
	    try:
	        peak = max(peak, os.stat(wal).st_size)
	    except OSError:
	        pass
	print(sum(bad.values()), peak, bad)
	PY
	read -r nbad peak rest <wal.txt
	is "$nbad" 0 "/faults/wal-bounded: 300 enrollments on a 6 MiB disk all succeed ($rest)"
	[ "${peak:-0}" -gt 0 ] && [ "$peak" -le $((3 * 1024 * 1024)) ]
	ok $? "/faults/wal-bounded: the WAL peaked at $peak bytes, at most half the disk"
	healthz
	is "$ST $(cat r.body)" "200 ok" "/faults/wal-bounded: /healthz ok"

	# fill: takes every free block (what a checkpoint gave back too).
	fill() {
		dd if=/dev/zero of="$MNT/filler.$RANDOM" bs=64k 2>/dev/null
		sleep 0.3
		dd if=/dev/zero of="$MNT/filler.$RANDOM" bs=4k 2>/dev/null
	}
	before=$(certs)
	fill
	est
	refused /faults/disk-full/est "disk full"
	fill
	sesam
	refused /faults/disk-full/sesam "disk full"
	fill
	iot
	refused /faults/disk-full/iot "disk full"
	fill
	tsb
	refused /faults/disk-full/tsb "disk full"
	fill
	tsb_key fault-key2
	refused /faults/disk-full/tsb-key "disk full"
	fill
	healthz
	refused /faults/disk-full/healthz "disk full"
	is "$(certs)" "$before" "/faults/disk-full: nothing was stored"
	curl -s -m 10 "$HTTP/metrics" >metrics.txt
	grep -qx 'certgate_store_fault{reason="disk full"} 1' metrics.txt
	ok $? "/faults/disk-full/metrics: certgate_store_fault names the disk"

	# The space returns: issuance resumes, no restart.
	rm -f "$MNT"/filler.*
	healthz
	is "$ST $(cat r.body)" "200 ok" "/faults/space-back/healthz: ok again"
	est
	served /faults/space-back/est
	curl -s -m 10 "$HTTP/metrics" >metrics.txt
	! grep -q '^certgate_store_fault{' metrics.txt
	ok $? "/faults/space-back/metrics: no store fault"
	sesam
	served /faults/space-back/sesam
	iot
	served /faults/space-back/iot
	tsb
	served /faults/space-back/tsb
	is "$(certs)" "$((before + 4))" "/faults/space-back: the four certificates are stored"

	# A restart on a full disk: the daemon starts and answers 503, then recovers.
	fill
	stop_daemon 20
	is "$STOPPED" 0 "/faults/restart-full: SIGTERM on a full disk stops the daemon"
	fill
	start "$CG"
	est
	refused /faults/restart-full/est "disk full"
	rm -f "$MNT"/filler.*
	est
	served /faults/restart-full/est-after-space-back
	# The CRL publisher retries a build the full disk refused at its next round
	# (crl.check_interval_ms, 1 s): /healthz is ok again within a few seconds.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		healthz
		[ "$ST $(cat r.body)" = "200 ok" ] && break
		sleep 0.5
	done
	is "$ST $(cat r.body)" "200 ok" "/faults/restart-full/healthz: ok within 5 s"
	stop_daemon 20
	is "$STOPPED" 0 "/faults/disk-full: the daemon stops"
	umount "$MNT" && rmdir "$MNT" && MNT=
	ok $? "/faults/disk-full: the tmpfs is unmounted"
fi

# ---------------------------------------------------------------- busy

mkdir -p busy-state
demo busy "$LIB_TMP/busy-state" '{"limits": {"store_wait": 1}}'
use busy
DB="$LIB_TMP/busy-state/certgate.db"
start "$CG"
tsb_ca
ok $? "/faults/busy/setup: a TSB key certified as a CA to sign with"
# Another process holds the write lock for 20 s.
"$PY" - "$DB" <<-'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
open("locked", "w").close()
time.sleep(20)
c.execute("ROLLBACK")
PY
LOCKER=$!
for _ in $(seq 100); do [ -f locked ] && break; sleep 0.1; done
# Three EST requests at once, each other front end and /healthz: every one waits 1 s at most
# (plus the time to answer), not one busy wait per request queued ahead of it.
jobs_=
for fe in est est est sesam iot tsb healthz; do
	n=$((${n:-0} + 1))
	( OUT="busy-$n"; "$fe"; echo "$fe $ST $SECS" >"$OUT.txt" ) &
	jobs_="$jobs_ $!"
done
# shellcheck disable=SC2086 # the list of pids
wait $jobs_
for n in 1 2 3 4 5 6 7; do
	OUT="busy-$n"
	read -r fe ST SECS <"$OUT.txt"
	refused "/faults/busy/$fe-$n" "database busy"
	awk -v s="$SECS" 'BEGIN { exit !(s < 4.5) }'
	ok $? "/faults/busy/$fe-$n: answered in $SECS s (store_wait 1 s)"
done
OUT=r
wait "$LOCKER"
est
served /faults/busy/est-after-release
stop_daemon 20
is "$STOPPED" 0 "/faults/busy: the daemon stops"

# ---------------------------------------------------------------- crypto library failure

cc -shared -fPIC -o shim-getrandom.so "$SRC/tests/shim-getrandom.c" -ldl 2>shim.err ||
	bail "cannot build the getrandom shim: $(cat shim.err)"
mkdir -p crypto-state
# A pool that keeps generating RSA keys (for minutes) while the failure comes.
demo crypto "$LIB_TMP/crypto-state" '{"keypool": {"rsa2048": 4096, "threads": 1}}'
use crypto
start env LD_PRELOAD="$LIB_TMP/shim-getrandom.so" SHIM_GETRANDOM_TRIGGER="$LIB_TMP/trigger" \
	SHIM_GETRANDOM_RESEED=1 SHIM_GETRANDOM_LOG="$LIB_TMP/getrandom.log" "$CG"
tsb_ca
ok $? "/faults/crypto/setup: a TSB key certified as a CA to sign with"
over_http
est
served /faults/crypto/before/est
healthz
is "$ST $(cat r.body)" "200 ok" "/faults/crypto/before/healthz: ok"
# The key pool thread's generator reseeds (as every two hours) inside a key generation, and
# getrandom fails that once (no request is in flight: the pool is the only thread drawing).
touch trigger
for _ in $(seq 300); do [ -s getrandom.log ] && break; sleep 0.1; done
[ -s getrandom.log ]
ok $? "/faults/crypto: getrandom failed once, inside the key pool's generation"
healthz
refused /faults/crypto/healthz "crypto failure"
est
refused /faults/crypto/est "crypto failure"
sesam
refused /faults/crypto/sesam "crypto failure"
iot
refused /faults/crypto/iot "crypto failure"
tsb
refused /faults/crypto/tsb "crypto failure"
curl -s -m 10 "$HTTP/metrics" >metrics.txt
like "$(grep '^certgate_keypool_depth{type="rsa2048"}' metrics.txt)" ' 0$' \
	"/faults/crypto/keypool: the pool is stopped and its keys wiped"
grep -qx 'certgate_crypto_failed 1' metrics.txt
ok $? "/faults/crypto/metrics: certgate_crypto_failed 1"
stop_daemon 20
[ "$STOPPED" != hung ]
ok $? "/faults/crypto/sigterm: SIGTERM stops the daemon (exit $STOPPED)"
lib_done
