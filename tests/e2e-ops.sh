#!/bin/bash
# End to end: certgate as a service an administrator runs.  /healthz (store writable, CA key
# signs), /metrics in the Prometheus text format and who may read it, JSON log lines,
# sd_notify, the unix-socket listener, forwarded-client headers refused from an untrusted
# peer, SIGHUP reload (a changed profile applies, a broken file is refused while the old
# configuration serves, requests across reloads all answered), no key material or password
# in any log line of a broad run at level debug, `certgate check`, the systemd unit, and
# `make install` / `make uninstall` into a DESTDIR.
#
# Adapter-dependent cases (EST, se.SAM) run when those front ends answer, else are skipped.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
T=$LIB_TMP
D="$T/demo"
C="$D/certgate.json"
cd "$T" || bail "no temp dir"
for tool in curl openssl python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
while [ "$http_port" = "$https_port" ]; do http_port=$(lib_free_port); done
sock=$T/cg.sock
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"

# jedit FILE PYTHON: edits the JSON document d of FILE in place.
jedit() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"), indent=1)
PY
}
cred() {	# cred PRINCIPAL FIELD
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
		"$D/demo-credentials.json" "$1" "$2"
}
# A thread per connection here (the other end-to-end tests use the default pool), across
# HTTPS, HTTP, the unix socket, reloads and shutdown.
jedit "$C" "d['listen'].append({'unix': '$sock'}); d['log'] = {'format': 'json', 'level': 'debug'}; d['limits'] = {'threads': 'per-connection'}"
cp "$C" "$D/good.json"

H=http://127.0.0.1:$http_port
S=https://localhost:$https_port
CA=$D/ca/chain.pem
CURL="curl -s --max-time 20"

# sd_notify receiver: one line per datagram into notify.log
python3 - "$T/notify.sock" "$T/notify.log" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode("utf-8", "replace")
        f.write(m.replace("\n", " ") + "\n")
        f.flush()
PY
notify_pid=$!
LIB_PIDS="$LIB_PIDS $notify_pid"
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done

lib_spawn serve env NOTIFY_SOCKET="$T/notify.sock" "$CG" serve -c "$C"
pid=$LIB_PID
wait_notify() {	# wait_notify PATTERN COUNT SECONDS
	local n=0
	while [ $n -lt $(($3 * 10)) ]; do
		[ "$(grep -c -- "$1" "$T/notify.log" 2>/dev/null)" -ge "$2" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
wait_notify "READY=1" 1 30
ok $? "/ops/notify/ready: READY=1 on \$NOTIFY_SOCKET once listening (sd_notify without libsystemd)"
if ! kill -0 "$pid" 2>/dev/null; then
	diag "$(tail -5 "$T/serve.err")"
	bail "certgate serve did not start"
fi

# ---------------------------------------------------------------- health and unix socket

is "$($CURL --cacert "$CA" "$S/healthz")" "ok" "/ops/healthz/https: 200 ok"
is "$($CURL "$H/healthz")" "ok" "/ops/healthz/http: 200 ok"
is "$($CURL --unix-socket "$sock" http://certgate/healthz)" "ok" \
	"/ops/unix: /healthz answered on the unix-socket listener"
is "$(stat -c %a "$sock")" "660" "/ops/unix: the socket is mode 0660"
# Another process holds the store's write lock: /healthz says so (after the busy timeout).
python3 - "$D/state/certgate.db" "$T/locked" "$T/release" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
end = time.time() + 15
while time.time() < end and not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
c.execute("ROLLBACK")
PY
locker=$!
for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
r=$($CURL -w '%{http_code}' "$H/healthz" | tr '\n' ' ')
like "$r" "^the store could not begin a transaction: database busy .* 503\$" \
	"/ops/healthz/store-locked: 503 naming the store while it cannot be written"
touch "$T/release"
wait "$locker"
is "$($CURL "$H/healthz")" "ok" "/ops/healthz/store-locked: 200 again once the store is free"

# ---------------------------------------------------------------- forwarded headers, untrusted

audits() { "$CG" audit -c "$C" --limit 100000 2>/dev/null | wc -l; }
a0=$(audits)
r=$($CURL -w '\n%{http_code}' -H 'X-SSL-Client-Cert: -----BEGIN%20CERTIFICATE-----' "$H/healthz")
is "$(printf '%s' "$r" | tail -1)" "403" "/ops/forwarded/untrusted: a client certificate header from a peer not in proxy.trusted is 403"
like "$r" "X-SSL-Client-Cert: .*trusted proxy" "/ops/forwarded/untrusted: the reply says which header and why"
r=$($CURL -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 192.0.2.7' "$H/healthz")
is "$r" "403" "/ops/forwarded/untrusted: X-Forwarded-For from an untrusted peer is 403 too"
[ "$(audits)" -ge $((a0 + 2)) ] && "$CG" audit -c "$C" | grep -q "forwarded-headers"
ok $? "/ops/forwarded/untrusted: each refusal is in the audit log"

# ---------------------------------------------------------------- front ends (when present)

have_est=0
[ "$($CURL -o /dev/null -w '%{http_code}' --cacert "$CA" "$S/.well-known/est/cacerts")" = 200 ] && have_est=1
have_sesam=0
[ "$($CURL -o /dev/null -w '%{http_code}' --cacert "$CA" -X POST "$S/sesam/api")" != 404 ] && have_sesam=1
client_pw=$(cred client password)

est_enroll() {	# est_enroll NAME [LABEL]: PEM certificate on stdout
	local path=/.well-known/est/${2:+$2/}simpleenroll
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
		-subj "/CN=$1" -outform DER -out "$T/$1.der" 2>/dev/null
	base64 "$T/$1.der" >"$T/$1.b64"
	$CURL --cacert "$CA" -u "client:$client_pw" -H 'Content-Type: application/pkcs10' \
		--data-binary @"$T/$1.b64" -o "$T/$1.p7" -w '%{http_code}' "$S$path"
}
p7_pem() { base64 -d "$1" | openssl pkcs7 -inform DER -print_certs 2>/dev/null; }
days_left() {	# days of validity left of the PEM certificate on stdin
	local end
	end=$(openssl x509 -noout -enddate | cut -d= -f2)
	echo $(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
}

if [ $have_est -eq 1 ]; then
	is "$(est_enroll dev1)" "200" "/ops/est: simpleenroll with Basic credentials"
	v=$(p7_pem "$T/dev1.p7" | days_left)
	[ "$v" -ge 360 ] && [ "$v" -le 366 ]
	ok $? "/ops/est: the profile's validity of 365 days ($v)"
	is "$(est_enroll pend1 approval)" "202" "/ops/est: a profile that needs approval answers 202"
else
	skip "/ops/est: simpleenroll" "the EST front end does not answer"
	skip "/ops/est: validity" "no EST"
	skip "/ops/est: approval" "no EST"
fi

# ---------------------------------------------------------------- metrics

metrics_check() {	# metrics_check FILE: the exposition format, parsed
	python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
families, samples = {}, []
for line in text.splitlines():
    if line.startswith("# HELP "):
        families.setdefault(line.split()[2], {})["help"] = True
    elif line.startswith("# TYPE "):
        _, _, name, typ = line.split()
        assert typ in ("counter", "gauge", "histogram"), line
        families.setdefault(name, {})["type"] = typ
    else:
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*"'
                         r'(,[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)', line)
        assert m, "bad sample line: " + line
        float(m.group(5))
        samples.append((m.group(1), m.group(3) or "", float(m.group(5))))
for name in ("certgate_requests_total", "certgate_issuance_duration_seconds",
             "certgate_pending_approvals", "certgate_keypool_depth",
             "certgate_store_errors_total"):
    assert families.get(name, {}).get("type") and families[name].get("help"), name
for name, labels, v in samples:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    assert base in families or name in families, "sample without TYPE: " + name
buckets = [v for n, l, v in samples if n == "certgate_issuance_duration_seconds_bucket"]
count = [v for n, l, v in samples if n == "certgate_issuance_duration_seconds_count"][0]
assert buckets == sorted(buckets), "histogram buckets not cumulative"
assert buckets[-1] == count, "+Inf bucket != count"
assert 'le="+Inf"' in [l for n, l, v in samples if n.endswith("_bucket")][-1]
PY
}
sample() {	# sample FILE REGEX: the value of the first sample line matching REGEX
	grep -E "^$2 " "$1" | head -1 | awk '{print $NF}'
}
$CURL -D "$T/m.h" -o "$T/m1" "$H/metrics"
like "$(grep -i '^content-type' "$T/m.h")" "text/plain; version=0.0.4" \
	"/ops/metrics: text/plain; version=0.0.4 (Prometheus text exposition format)"
err=$(metrics_check "$T/m1" 2>&1)
ok $? "/ops/metrics: parses as the exposition format, with every certgate family"
[ -n "$err" ] && diag "$err"
v=$(sample "$T/m1" 'certgate_requests_total\{adapter="health",operation="healthz",status="200"\}')
[ "${v:-0}" -ge 4 ]
ok $? "/ops/metrics: certgate_requests_total counts the /healthz requests (${v:-none})"
v=$(sample "$T/m1" 'certgate_requests_total\{adapter="health",operation="healthz",status="503"\}')
is "${v:-none}" "1" "/ops/metrics: ... by status (the 503)"
v=$(sample "$T/m1" 'certgate_store_errors_total')
[ "${v:-0}" -ge 1 ]
ok $? "/ops/metrics: certgate_store_errors_total counted the locked store (${v:-none})"
is "$(sample "$T/m1" 'certgate_keypool_depth\{type="p256"\}' | grep -cE '^[0-9]+$')" "1" \
	"/ops/metrics: certgate_keypool_depth{type} present"
# The demo keeps RSA-2048 keys ready; the pool fills from serve's start, before any request
# for a server-generated key.
for _ in $(seq 120); do
	v=$($CURL "$H/metrics" | grep -E '^certgate_keypool_depth\{type="rsa2048"\} ' | awk '{print $2}')
	[ "${v:-0}" -ge 1 ] && break
	sleep 0.5
done
[ "${v:-0}" -ge 1 ]
ok $? "/ops/keypool: RSA-2048 keys made from the start, no keygen request yet (${v:-none})"
if [ $have_est -eq 1 ]; then
	v=$(sample "$T/m1" 'certgate_issuance_duration_seconds_count')
	[ "${v:-0}" -ge 1 ]
	ok $? "/ops/metrics: the issuance latency histogram counted the EST enrollment (${v:-none})"
	v=$(sample "$T/m1" 'certgate_pending_approvals')
	[ "${v:-0}" -ge 1 ]
	ok $? "/ops/metrics: certgate_pending_approvals counts the request waiting (${v:-none})"
	v=$(sample "$T/m1" 'certgate_requests_total\{adapter="est",operation="simpleenroll",status="200"\}')
	[ "${v:-0}" -ge 1 ]
	ok $? "/ops/metrics: certgate_requests_total{adapter=\"est\",operation=\"simpleenroll\"} (${v:-none})"
else
	skip "/ops/metrics: issuance histogram" "no EST"
	skip "/ops/metrics: pending approvals" "no EST"
	skip "/ops/metrics: est requests" "no EST"
fi
is "$($CURL -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://certgate/metrics)" "403" \
	"/ops/metrics/access: not from a unix-socket peer unless metrics.allow names \"unix\""

# ---------------------------------------------------------------- reload

hup_and_wait() {	# hup_and_wait N: SIGHUP, then wait for the Nth READY after it
	kill -HUP "$pid"
	wait_notify "READY=1" "$1" 20
}
if [ $have_est -eq 1 ]; then
	jedit "$C" "d['profiles']['est-device']['validity_days'] = 30; d['profiles']['est-device']['max_validity_days'] = 30"
else
	jedit "$C" "d['profiles']['tls-server']['validity_days'] = 30"
fi
hup_and_wait 2
ok $? "/ops/reload: SIGHUP reloads, RELOADING=1 then READY=1 to systemd"
grep -q "RELOADING=1 MONOTONIC_USEC=[0-9]" "$T/notify.log"
ok $? "/ops/reload: RELOADING=1 carries MONOTONIC_USEC"
if [ $have_est -eq 1 ]; then
	is "$(est_enroll dev2)" "200" "/ops/reload/profile: enrollment after the reload"
	v=$(p7_pem "$T/dev2.p7" | days_left)
	[ "$v" -ge 28 ] && [ "$v" -le 31 ]
	ok $? "/ops/reload/profile: the changed profile applies: 30 days ($v)"
else
	skip "/ops/reload/profile: enrollment" "no EST"
	skip "/ops/reload/profile: new validity" "no EST"
fi
grep -q '"configuration reloaded"' "$T/serve.err"
ok $? "/ops/reload: logged"

printf '{ "state_dir": "state", "cas": ' >>"$C"	# not JSON any more
hup_and_wait 3
grep -q 'reload refused, the previous configuration keeps serving' "$T/serve.err"
ok $? "/ops/reload/broken: a file that does not parse is refused, and the log says so"
is "$($CURL --cacert "$CA" "$S/healthz")" "ok" "/ops/reload/broken: the old configuration keeps serving"
if [ $have_est -eq 1 ]; then
	is "$(est_enroll dev3)" "200" "/ops/reload/broken: enrollment still works"
	v=$(p7_pem "$T/dev3.p7" | days_left)
	[ "$v" -ge 28 ] && [ "$v" -le 31 ]
	ok $? "/ops/reload/broken: with the last good profile (30 days: $v)"
else
	skip "/ops/reload/broken: enrollment" "no EST"
	skip "/ops/reload/broken: profile kept" "no EST"
fi
cp "$D/good.json" "$C"
jedit "$C" "d['profiles']['est-device']['vaildity_days'] = 3"
hup_and_wait 4
grep -q 'reload refused.*profiles.est-device.vaildity_days: unknown key' "$T/serve.err"
ok $? "/ops/reload/invalid: an unknown key is refused with its path"
$CURL -o "$T/m2" "$H/metrics"
is "$(sample "$T/m2" 'certgate_config_reloads_total\{result="success"\}') $(sample "$T/m2" 'certgate_config_reloads_total\{result="failure"\}')" \
	"1 2" "/ops/reload: certgate_config_reloads_total{result} counts them"

# A request in flight across a reload keeps the configuration it started with, which is
# freed only when it completes (AddressSanitizer would see a use after free).
cp "$D/good.json" "$C"
{ printf 'POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\n'
  sleep 1.5; printf 'hello'; } | lib_raw 127.0.0.1 "$http_port" >"$T/slow.out" 2>&1 &
slow=$!
sleep 0.5
hup_and_wait 5
wait "$slow"
like "$(head -1 "$T/slow.out")" "^HTTP/1.1 405" "/ops/reload/in-flight: a request that began before the reload is answered after it"

# Requests from 8 clients (keep-alive and not, HTTP, HTTPS, unix) while 5 reloads happen.
python3 - "$http_port" "$https_port" "$sock" "$CA" >"$T/load.out" 2>&1 <<'PY' &
import http.client, socket, ssl, sys, threading, time
hp, sp, sock, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sock)
def conn(kind):
    if kind == 0:
        return http.client.HTTPConnection("127.0.0.1", hp, timeout=20)
    if kind == 1:
        return http.client.HTTPSConnection("localhost", sp, context=ctx, timeout=20)
    return Unix("certgate", timeout=20)
res = {"ok": 0, "bad": []}
lock = threading.Lock()
stop = time.time() + 3.5
def worker(i):
    c = conn(i % 3)
    while time.time() < stop:
        try:
            if i % 2:
                c.close()
                c = conn(i % 3)
            c.request("GET", "/healthz")
            r = c.getresponse()
            body = r.read()
            with lock:
                if r.status == 200 and body.strip() == b"ok":
                    res["ok"] += 1
                else:
                    res["bad"].append("%d %r" % (r.status, body[:80]))
        except Exception as ex:
            with lock:
                res["bad"].append(repr(ex))
            c = conn(i % 3)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print(res["ok"], len(res["bad"]))
for b in res["bad"][:5]:
    print(b)
PY
load=$!
sleep 0.5
for n in 6 7 8 9 10; do hup_and_wait "$n"; sleep 0.2; done
wait "$load"
read -r good bad <"$T/load.out"
[ "${good:-0}" -gt 50 ] && [ "${bad:-1}" -eq 0 ]
ok $? "/ops/reload/under-load: ${good:-0} requests on 8 connections during 5 reloads, ${bad:-?} failed"
[ "${bad:-1}" -eq 0 ] || diag "$(tail -n +2 "$T/load.out")"

# ---------------------------------------------------------------- who may read /metrics

admin_pw=$(cred admin password)
jedit "$C" "d['metrics'] = {'allow': ['10.0.0.0/8'], 'principals': ['admin']}"
hup_and_wait 11
a0=$(audits)
r=$($CURL -o /dev/null -w '%{http_code}' "$H/metrics")
is "$r" "401" "/ops/metrics/access: a peer not in metrics.allow without credentials: 401"
r=$($CURL -o /dev/null -w '%{http_code}' -u "admin:$admin_pw" "$H/metrics")
is "$r" "403" "/ops/metrics/access: Basic credentials over plain HTTP: 403"
r=$($CURL -o /dev/null -w '%{http_code}' --cacert "$CA" -u "admin:wrong-$admin_pw" "$S/metrics")
is "$r" "401" "/ops/metrics/access: a wrong password: 401"
r=$($CURL -o /dev/null -w '%{http_code}' --cacert "$CA" -u "client:$client_pw" "$S/metrics")
is "$r" "403" "/ops/metrics/access: a principal not in metrics.principals: 403"
r=$($CURL -o "$T/m3" -w '%{http_code}' --cacert "$CA" -u "admin:$admin_pw" "$S/metrics")
is "$r" "200" "/ops/metrics/access: a principal in metrics.principals over HTTPS: 200"
a1=$(audits)
[ "$a1" -ge $((a0 + 4)) ]
ok $? "/ops/metrics/access: each refusal is audited ($a0 -> $a1)"
[ "$a1" -ge $((a0 + 4)) ] || diag "$("$CG" audit -c "$C" --limit 100000 2>&1 | tail -8)"

# ---------------------------------------------------------------- a broad run for the log check

secrets=$T/secrets
: >"$secrets"
python3 - "$D/demo-credentials.json" >>"$secrets" <<'PY'
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("password", "api_key"):
                print(x)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(open(sys.argv[1])))
PY
# wrong and right credentials of every kind
$CURL -o /dev/null --cacert "$CA" -u "admin:NotThePassword-7f3a" "$S/metrics"
echo "NotThePassword-7f3a" >>"$secrets"
$CURL -o /dev/null --cacert "$CA" -H "X-API-KEY: $(cred admin api_key)" "$S/v1/key"
if [ $have_est -eq 1 ]; then
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
		-subj "/CN=keygen1" -outform DER -out "$T/kg.der" 2>/dev/null
	base64 "$T/kg.der" >"$T/kg.b64"
	r=$($CURL --cacert "$CA" -u "client:$client_pw" -H 'Content-Type: application/pkcs10' \
		--data-binary @"$T/kg.b64" -o "$T/kg.out" -w '%{http_code}' \
		"$S/.well-known/est/serverkeygen")
	is "$r" "200" "/ops/logs: EST serverkeygen returned a private key"
	# the key part's base64, line by line
	grep -E '^[A-Za-z0-9+/]{40,}={0,2}\r?$' "$T/kg.out" | tr -d '\r' | head -4 >>"$secrets"
else
	skip "/ops/logs: EST serverkeygen" "no EST"
fi
if [ $have_sesam -eq 1 ]; then
	sesam_pw=$(cred sesam-client password)
	$CURL --cacert "$CA" -u "sesam-client:$sesam_pw" -o "$T/gencert.json" \
		--data-urlencode command=gencert --data-urlencode template=IoT-Template-2022 \
		--data-urlencode CN=logcheck-1 --data-urlencode "p12_pass=Client-P12-Secret-91" \
		"$S/sesam/api"
	echo "Client-P12-Secret-91" >>"$secrets"
	python3 - "$T/gencert.json" >>"$secrets" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("p12_data"), d
print(d["p12_data"][:48])
PY
	ok $? "/ops/logs: se.SAM gencert returned a PKCS#12 with the key"
else
	skip "/ops/logs: se.SAM gencert" "no se.SAM"
fi
# the CA and TLS keys' base64
for k in "$D/ca/issuing.key" "$D/ca/root.key" "$D/tls/server.key"; do
	sed -n 2p "$k" >>"$secrets"
done

# ---------------------------------------------------------------- stop, then the logs

lib_stop "$pid"
ok $? "/ops/stop: SIGTERM stops it with status 0"
wait_notify "STOPPING=1" 1 1
ok $? "/ops/stop: STOPPING=1 to systemd"
[ ! -e "$sock" ]
ok $? "/ops/stop: the unix socket is removed"

python3 - "$T/serve.err" <<'PY'
import json, sys
n = access = 0
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        # an adapter writing to stderr itself, not through gw_log()
        print("# not through gw_log: " + line.rstrip()[:150])
        continue
    d = json.loads(line)
    assert {"ts", "level", "msg"} <= d.keys(), line
    n += 1
    if d["msg"] == "access":
        access += 1
        for k in ("id", "peer", "proxy", "method", "path", "status", "adapter",
                  "operation", "principal", "profile", "bytes", "latency_ms", "end"):
            assert k in d, (k, line)
assert access >= 40, access
print("# %d log lines, %d access lines" % (n, access))
PY
ok $? "/ops/log/json: every gateway line is a JSON object with ts, level, msg; access lines carry id, peer, adapter, operation, principal, profile, status, latency"
grep -q '"peer":"unix"' "$T/serve.err"
ok $? "/ops/log/json: requests on the unix socket are logged with peer \"unix\""

# Every log this test made (the daemon's at level debug, the CLI's), for key material.
bad=
for f in "$T"/*.err; do
	if grep -q -- "PRIVATE KEY" "$f"; then bad="$bad $f:PRIVATE-KEY"; fi
	while IFS= read -r s; do
		[ -n "$s" ] || continue
		if grep -qF -- "$s" "$f"; then bad="$bad $(basename "$f"):${s:0:8}..."; fi
	done <"$secrets"
done
is "$bad" "" "/ops/logs: no private key, password, API key or key base64 in any log ($(wc -l <"$secrets") secrets checked)"
san='ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:'
! grep -q "$san" "$T/serve.err"
ok $? "/ops/sanitizers: no sanitizer reports"

# ---------------------------------------------------------------- check, example, warnings

ex="${top_srcdir:-.}/contrib/certgate.json.example"
sed -e "s|/etc/certgate/|$D/|g" -e "s|/var/lib/certgate|$T/exstate|" \
	-e "s|/run/certgate/|$T/|" "$ex" >"$T/example.json"
out=$("$CG" check -c "$T/example.json" 2>&1)
ok $? "/ops/check/example: the shipped example configuration loads"
[ $? -eq 0 ] || diag "$out"
jedit "$D/good.json" "d['profiles']['pop-test'] = dict(d['profiles']['est-device'], pop_linking=True); d['proxy'] = {'trusted': ['unix']}; d['log'] = {}"
out=$("$CG" check -c "$D/good.json" 2>&1)
like "$out" "warning: proxy: .*PoP linking.*pop-test" \
	"/ops/check/pop-linking: with a proxy, profiles demanding PoP linking are named at start-up"
jedit "$D/good.json" "d['proxy'] = {'trusted': ['10.1.2.3/8']}"
out=$("$CG" check -c "$D/good.json" 2>&1)
like "$out" "proxy.trusted\[0\]: .*prefix" "/ops/check/proxy: a network with host bits set is refused with its path"
jedit "$D/good.json" "d['proxy'] = {'trusted': ['unix'], 'client_cert_header': 'Bad Header'}"
out=$("$CG" check -c "$D/good.json" 2>&1)
like "$out" "proxy.client_cert_header: not an HTTP header name" "/ops/check/proxy: a bad header name is refused"
jedit "$D/good.json" "d['proxy'] = {'trusted': ['unix']}; d['log'] = {'format': 'xml'}"
out=$("$CG" check -c "$D/good.json" 2>&1)
like "$out" 'log.format: must be "text" or "json"' "/ops/check/log: an unknown format is refused"

# ---------------------------------------------------------------- systemd unit and install

unit="${top_srcdir:-.}/contrib/systemd/certgate.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/unit"
	sed "s|/usr/bin/certgate|$(cd "${top_builddir:-.}" && pwd)/certgate|" "$unit" >"$T/unit/certgate.service"
	out=$(cd "$T/unit" && timeout 60 systemd-analyze verify --man=no ./certgate.service 2>&1)
	st=$?
	if [ $st -eq 0 ] && [ -z "$out" ]; then
		ok 0 "/ops/systemd: systemd-analyze verify accepts the unit"
	elif printf '%s' "$out" | grep -q 'certgate.service'; then
		ok 1 "/ops/systemd: systemd-analyze verify accepts the unit"
		diag "$out"
	else
		skip "/ops/systemd: systemd-analyze verify" "cannot run here: $(printf '%s' "$out" | head -1)"
	fi
else
	skip "/ops/systemd: systemd-analyze verify" "systemd-analyze not installed"
fi
for k in 'Type=notify' 'User=certgate' 'StateDirectory=certgate' 'ConfigurationDirectory=certgate' \
	'ProtectSystem=strict' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=$' \
	'ExecReload=/bin/kill -HUP \$MAINPID'; do
	grep -q "^$k" "$unit" || { bad_unit="$k"; break; }
done
is "${bad_unit:-}" "" "/ops/systemd: the unit is hardened (dedicated user, ProtectSystem=strict, no capabilities, reload by SIGHUP)"

if [ -f "${top_builddir:-.}/Makefile" ]; then
	dest=$T/dest
	make -s -C "${top_builddir:-.}" install DESTDIR="$dest" >"$T/install.out" 2>&1
	ok $? "/ops/install: make install DESTDIR=..."
	missing=
	for f in bin/certgate share/man/man8/certgate.8 share/man/man5/certgate.json.5 \
		etc/certgate/certgate.json.example lib/systemd/system/certgate.service \
		lib/sysusers.d/certgate.conf share/doc/certgate/examples/nginx/certgate.conf; do
		[ -n "$(find "$dest" -path "*/$f" -type f)" ] || missing="$missing $f"
	done
	is "$missing" "" "/ops/install: binary, both man pages, example configuration, unit, sysusers entry and nginx site installed"
	u=$(find "$dest" -name certgate.service -type f | head -1)
	like "$(grep '^ExecStart=' "$u" 2>/dev/null)" "^ExecStart=/.*/bin/certgate serve -c /.*/certgate/certgate.json$" \
		"/ops/install: the installed unit names the installed binary and configuration"
	make -s -C "${top_builddir:-.}" uninstall DESTDIR="$dest" >>"$T/install.out" 2>&1
	is "$(find "$dest" -type f | wc -l)" "0" "/ops/install: make uninstall removes every file"
else
	skip "/ops/install" "no Makefile in top_builddir"
fi

lib_done
