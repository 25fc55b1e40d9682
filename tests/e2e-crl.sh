#!/bin/bash
# End to end: CRLs (RFC 5280 section 5) as relying parties see them.  certgate init's demo
# writes CRL Distribution Points and AIA into what it issues; /crl/<ca>.crl serves a signed
# DER CRL over plain HTTP with ETag / Last-Modified and conditional GET; a revocation made
# through the CLI, se.SAM and the IoT API shows in the CRL within the check interval;
# openssl verify (-CRLfile and -crl_download), curl --crlfile against an openssl s_server, and
# nginx verifying client certificates with ssl_crl refuse the revoked certificate and accept
# the good one; a held certificate that is re-activated is good again; partitioned CRLs
# carry their Issuing Distribution Point and each certificate names its partition.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"

lib_init
CG="$top_builddir/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
T="$LIB_TMP"
cd "$T" || bail "no temp dir"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
while [ "$https_port" = "$http_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
# The publisher asks the store for changes every 300 ms: a revocation shows within about a
# second (BOUND below is what the test allows, sanitizer builds included).
$PY - "$C" <<'PY' || bail "cannot edit the configuration"
import json, sys
c = json.load(open(sys.argv[1]))
c["crl"] = {"check_interval_ms": 300}
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
BOUND=5
H="http://127.0.0.1:$http_port"
CHAIN="$D/ca/chain.pem"
cred() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$D/demo-credentials.json" "$1"; }
P_admin=$(cred 'd["admin"]["password"]')
IOT_KEY=$(cred 'd["iot-client"]["api_key"]')
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59

lib_spawn serve "$CG" serve -c "$C"
SRV=$LIB_PID
lib_wait_port 127.0.0.1 "$http_port" 20 || bail "certgate serve did not start: $(cat serve.err)"

# fetch CA FILE: the CRL of CA (or partition "issuing-2") as DER into FILE; prints the status.
fetch() { curl -s -o "$2" -D "$2.h" -w '%{http_code}' "$H/crl/$1.crl"; }
# listed SERIAL FILE: the DER CRL in FILE lists SERIAL (hex, any case).
listed() {
	openssl crl -inform DER -in "$2" -noout -text 2>/dev/null |
		grep -qi "Serial Number: $1\$"
}
# wait_crl CA SERIAL yes|no: until the served CRL lists (or no longer lists) SERIAL; prints
# the seconds it took, or "timeout".
wait_crl() {
	local start now
	start=$(date +%s.%N)
	for _ in $(seq $((BOUND * 10))); do
		fetch "$1" w.crl >/dev/null
		if listed "$2" w.crl; then [ "$3" = yes ] && break; else [ "$3" = no ] && break; fi
		sleep 0.1
	done
	now=$(date +%s.%N)
	if listed "$2" w.crl; then [ "$3" = yes ]; else [ "$3" = no ]; fi || { echo timeout; return; }
	awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f\n", b - a }'
}
within() { [ "$1" != timeout ] && awk -v t="$1" -v b="$BOUND" 'BEGIN { exit !(t <= b) }'; }
pem_crls() {	# OUT: the issuing and root CRLs as PEM, for checkers that want every level
	fetch issuing i.crl >/dev/null && fetch root r.crl >/dev/null &&
		openssl crl -inform DER -in i.crl >"$1" && openssl crl -inform DER -in r.crl >>"$1"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# verify CERT: openssl verify with the served CRLs (-CRLfile); prints OK or the error.
verify() {
	pem_crls all.pem
	openssl verify -crl_check -CAfile "$CHAIN" -CRLfile all.pem "$1" 2>&1 | tail -n 2 |
		tr '\n' ' '
}

# ---------------------------------------------------------------- serving

for i in $(seq 50); do [ "$(fetch issuing full.crl)" = 200 ] && break; sleep 0.1; done
is "$(fetch issuing full.crl)" 200 "/crl/get: 200 over plain HTTP"
like "$(tr -d '\r' <full.crl.h)" "Content-Type: application/pkix-crl" \
	"/crl/get: Content-Type application/pkix-crl (RFC 5280 4.2.1.13)"
like "$(openssl crl -inform DER -in full.crl -CAfile "$CHAIN" -noout 2>&1)" "verify OK" \
	"/crl/get: openssl verifies the CRL's signature with the issuing CA"
text=$(openssl crl -inform DER -in full.crl -noout -text)
like "$text" "Issuer: O = certgate demo, CN = certgate Demo Issuing CA" "/crl/get: issuer is the CA"
like "$text" "X509v3 CRL Number" "/crl/get: CRL number"
aki=$(openssl x509 -in "$D/ca/issuing.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
like "$(echo "$text" | grep -A1 'Authority Key Identifier' | tail -n 1 | tr -d ' ')" "$aki" \
	"/crl/get: authority key identifier is the CA's subject key identifier"
nu=$(openssl crl -inform DER -in full.crl -noout -nextupdate | cut -d= -f2)
lu=$(openssl crl -inform DER -in full.crl -noout -lastupdate | cut -d= -f2)
is "$(( $(date -d "$nu" +%s) - $(date -d "$lu" +%s) ))" 86400 \
	"/crl/get: nextUpdate is thisUpdate + next_update_seconds (default one day)"
is "$(curl -s -o root.crl -w '%{http_code}' --cacert "$CHAIN" "https://localhost:$https_port/crl/root.crl")" \
	200 "/crl/get: the root CA's CRL, over HTTPS too"
like "$(openssl crl -inform DER -in root.crl -CAfile "$D/ca/root.pem" -noout 2>&1)" "verify OK" \
	"/crl/get: the root's CRL verifies with the root"

etag=$(grep -i '^ETag:' full.crl.h | cut -d' ' -f2- | tr -d '\r')
lm=$(grep -i '^Last-Modified:' full.crl.h | cut -d' ' -f2- | tr -d '\r')
like "$etag" '^"[^"]+"$' "/crl/conditional: a strong ETag"
like "$lm" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' \
	"/crl/conditional: Last-Modified is an IMF-fixdate"
is "$(curl -s -o c.out -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$H/crl/issuing.crl")" \
	"304 0" "/crl/conditional: If-None-Match with the ETag gives 304 and no body"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-None-Match: \"x\", W/$etag" "$H/crl/issuing.crl")" \
	304 "/crl/conditional: If-None-Match list with a weak form matches"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-None-Match: "other"' "$H/crl/issuing.crl")" 200 \
	"/crl/conditional: another ETag gives 200"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-Modified-Since: $lm" "$H/crl/issuing.crl")" 304 \
	"/crl/conditional: If-Modified-Since Last-Modified gives 304"
# (a file of its own: root.pem may have been written in the second the CRL was built)
touch -d '2015-01-01 00:00:00 UTC' old.stamp
is "$(curl -s -o c.out -w '%{http_code}' -z old.stamp "$H/crl/issuing.crl")" 200 \
	"/crl/conditional: curl -z with an older time gives 200"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-None-Match: "other"' -H "If-Modified-Since: $lm" "$H/crl/issuing.crl")" \
	200 "/crl/conditional: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-Modified-Since: yesterday' "$H/crl/issuing.crl")" \
	200 "/crl/conditional: an unparseable date is ignored"
is "$(curl -s -I -o /dev/null -w '%{http_code}' "$H/crl/issuing.crl")" 200 "/crl/head: HEAD 200"

is "$(curl -s -o e.out -w '%{http_code}' "$H/crl/nope.crl")" 404 "/crl/refuse/unknown-ca: 404"
like "$(cat e.out)" 'no CA named "nope"' "/crl/refuse/unknown-ca: says which"
is "$(curl -s -o e.out -w '%{http_code}' "$H/crl/issuing-0.crl")" 404 \
	"/crl/refuse/partition-of-unpartitioned-ca: 404"
is "$(curl -s -o e.out -w '%{http_code}' --path-as-is "$H/crl/../crl/issuing.crl")" 404 \
	"/crl/refuse/dot-dot: 404"
is "$(curl -s -o e.out -w '%{http_code}' "$H/crl/issuing.der")" 404 "/crl/refuse/not-.crl: 404"
is "$(curl -s -o e.out -D e.h -w '%{http_code}' -X POST -d x "$H/crl/issuing.crl")" 405 \
	"/crl/refuse/post: 405"
like "$(tr -d '\r' <e.h)" "Allow: GET, HEAD" "/crl/refuse/post: Allow: GET, HEAD"

is "$(curl -s -o ca.der -D ca.h -w '%{http_code}' "$H/ca/issuing.crt")" 200 "/ca/get: 200"
like "$(tr -d '\r' <ca.h)" "Content-Type: application/pkix-cert" \
	"/ca/get: application/pkix-cert (RFC 2585)"
cmp -s ca.der <(openssl x509 -in "$D/ca/issuing.pem" -outform DER)
ok $? "/ca/get: the issuing CA certificate in DER"
is "$(curl -s -o /dev/null -w '%{http_code}' "$H/ca/nope.crt")" 404 "/ca/refuse/unknown: 404"
caetag=$(grep -i '^ETag:' ca.h | cut -d' ' -f2- | tr -d '\r')
is "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $caetag" "$H/ca/issuing.crt")" 304 \
	"/ca/conditional: 304"

# ---------------------------------------------------------------- what certificates carry

"$CG" issue -c "$C" --profile tls-server --subject CN=localhost --keygen --out www.pem \
	--key-out www.key 2>issue.err
ok $? "/cdp/issue: a server certificate through the CLI"
ext=$(openssl x509 -in www.pem -noout -ext crlDistributionPoints,authorityInfoAccess)
like "$ext" "URI:$H/crl/issuing.crl" "/cdp: CRL Distribution Point from the profile"
like "$ext" "OCSP - URI:$H/ocsp" "/aia: OCSP URL from the profile"
like "$ext" "CA Issuers - URI:$H/ca/issuing.crt" "/aia: caIssuers URL from the profile"
curl -s -o aia.der "$(echo "$ext" | sed -n 's/.*CA Issuers - URI://p')"
openssl verify -CAfile "$D/ca/root.pem" -untrusted <(openssl x509 -inform DER -in aia.der) www.pem \
	>/dev/null 2>&1
ok $? "/aia: the caIssuers URL serves the certificate that completes the chain"

# ---------------------------------------------------------------- CLI revocation

"$CG" issue -c "$C" --profile tls-server --subject CN=good.example --keygen --out good.pem \
	--key-out good.key 2>issue.err
like "$(verify www.pem)" "www.pem: OK" "/cli/before: openssl verify -crl_check: OK"
s_www=$(serial_of www.pem)
"$CG" revoke -c "$C" "$s_www" --reason keyCompromise >rev.out 2>&1
ok $? "/cli/revoke: certgate revoke"
t=$(wait_crl issuing "$s_www" yes)
within "$t"
ok $? "/cli/revoke: the CRL lists it within ${BOUND}s (took $t s)"
like "$(openssl crl -inform DER -in w.crl -noout -text | grep -A4 -i "$s_www")" "Key Compromise" \
	"/cli/revoke: with reason keyCompromise"
like "$(verify www.pem)" "certificate revoked" "/cli/revoke: openssl verify -CRLfile: revoked"
like "$(verify good.pem)" "good.pem: OK" "/cli/revoke: openssl verify -CRLfile: the good one OK"
like "$(openssl verify -crl_check -crl_download -CAfile "$CHAIN" www.pem 2>&1)" \
	"certificate revoked" "/cli/revoke: openssl verify -crl_download fetches the CDP: revoked"
like "$(openssl verify -crl_check -crl_download -CAfile "$CHAIN" good.pem 2>&1)" "good.pem: OK" \
	"/cli/revoke: openssl verify -crl_download: the good one OK"

# ---------------------------------------------------------------- curl --crlfile vs s_server

sport=$(lib_free_port) || bail "no free port"
serve_tls() {	# CERT KEY
	lib_spawn "s_server-$1" openssl s_server -accept "127.0.0.1:$sport" -cert "$1" -key "$2" \
		-www -quiet
	SS=$LIB_PID
	lib_wait_port 127.0.0.1 "$sport" 10
}
serve_tls good.pem good.key
pem_crls all.pem
curl -s -o /dev/null --cacert "$CHAIN" --crlfile all.pem --resolve "good.example:$sport:127.0.0.1" \
	"https://good.example:$sport/"
ok $? "/curl/crlfile: a good server certificate is accepted"
lib_stop "$SS"
serve_tls www.pem www.key
curl -s -o /dev/null --cacert "$CHAIN" --resolve "localhost:$sport:127.0.0.1" "https://localhost:$sport/"
ok $? "/curl/crlfile: without the CRL the revoked server certificate is accepted"
curl -s -o /dev/null --cacert "$CHAIN" --crlfile all.pem --resolve "localhost:$sport:127.0.0.1" \
	"https://localhost:$sport/" 2>curl.err
st=$?
is "$st" 60 "/curl/crlfile: the revoked server certificate is refused (curl exit 60)"
lib_stop "$SS"

# ---------------------------------------------------------------- se.SAM: hold, re-activate, revoke

sesam() {	# OUT curl-args...
	local out=$1
	shift
	curl -s --cacert "$CHAIN" -u "admin:$P_admin" -o "$out" -w '%{http_code}' "$@" \
		"https://localhost:$https_port/sesam/api"
}
j() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"; }
sesam g.json -d command=gencert -d template=IoT-Template-2022 -d CN=sesam-device >/dev/null
j g.json x509_cert >sesam.pem
dec=$(j g.json result)
s_sesam=$(serial_of sesam.pem)
like "$(openssl x509 -in sesam.pem -noout -ext crlDistributionPoints)" "$H/crl/issuing.crl" \
	"/sesam/gencert: the certificate names the CRL"
sesam h.json -d command=revokecert -d serial="$dec" -d reason=certificateHold >/dev/null
is "$(j h.json status)" hold "/sesam/hold: revokecert with certificateHold"
t=$(wait_crl issuing "$s_sesam" yes)
within "$t"
ok $? "/sesam/hold: the CRL lists it within ${BOUND}s (took $t s)"
like "$(openssl crl -inform DER -in w.crl -noout -text | grep -A4 -i "$s_sesam")" "Certificate Hold" \
	"/sesam/hold: with reason certificateHold (RFC 5280 5.3.1)"
like "$(verify sesam.pem)" "certificate revoked" "/sesam/hold: openssl verify: revoked while held"
sesam a.json -d command=reactivatecert -d serial="$dec" >/dev/null
is "$(j a.json result)" ST_OK "/sesam/reactivate: reactivatecert"
t=$(wait_crl issuing "$s_sesam" no)
within "$t"
ok $? "/sesam/reactivate: it leaves the CRL within ${BOUND}s (took $t s)"
like "$(verify sesam.pem)" "sesam.pem: OK" "/sesam/reactivate: openssl verify: good again"
sesam k.json -d command=revokecert -d serial="$dec" -d reason=superseded >/dev/null
is "$(j k.json status)" revoked "/sesam/revoke: revokecert superseded"
t=$(wait_crl issuing "$s_sesam" yes)
within "$t"
ok $? "/sesam/revoke: the CRL lists it within ${BOUND}s (took $t s)"
like "$(openssl crl -inform DER -in w.crl -noout -text | grep -A4 -i "$s_sesam")" "Superseded" \
	"/sesam/revoke: with reason superseded"
sesam x.json -d command=reactivatecert -d serial="$dec" >/dev/null
is "$(j x.json result)" ST_FF "/sesam/revoke: a revoked (not held) certificate is not re-activated"
sleep 1
fetch issuing w.crl >/dev/null
listed "$s_sesam" w.crl
ok $? "/sesam/revoke: and stays on the CRL"

# ---------------------------------------------------------------- IoT revoke

body=$($PY -c 'import json,sys; print(json.dumps({"enrollment_profile_id": sys.argv[1],
	"server_side_key_gen": True, "key_type": "p_256", "private_key_format": "pem",
	"certificate_profile_attributes": [{"id": "subject.common_name", "value": "iot-crl"}]}))' "$EP")
curl -s --cacert "$CHAIN" -H "x-api-key: $IOT_KEY" -H 'Content-Type: application/json' \
	-d "$body" -o iot.json "https://localhost:$https_port/iot/api/v1/certificate"
$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["pem"])' iot.json |
	openssl x509 >iot.pem 2>/dev/null
iot_id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate_id"])' iot.json)
s_iot=$(serial_of iot.pem)
like "$(verify iot.pem)" "iot.pem: OK" "/iot/before: openssl verify: OK"
is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CHAIN" -H "x-api-key: $IOT_KEY" \
	-H 'Content-Type: application/json' -X PUT -d '{"reason": "key_compromise"}' \
	"https://localhost:$https_port/iot/api/v1/certificate/$iot_id/revoke")" 204 "/iot/revoke: 204"
t=$(wait_crl issuing "$s_iot" yes)
within "$t"
ok $? "/iot/revoke: the CRL lists it within ${BOUND}s (took $t s)"
like "$(verify iot.pem)" "certificate revoked" "/iot/revoke: openssl verify: revoked"

# ---------------------------------------------------------------- nginx: ssl_crl for client certificates

"$CG" issue -c "$C" --profile est-device --subject CN=client-good --keygen --out cgood.pem \
	--key-out cgood.key 2>issue.err
"$CG" issue -c "$C" --profile est-device --subject CN=client-bad --keygen --out cbad.pem \
	--key-out cbad.key 2>issue.err
"$CG" issue -c "$C" --profile est-device --subject CN=client-held --keygen --out cheld.pem \
	--key-out cheld.key 2>issue.err
"$CG" revoke -c "$C" "$(serial_of cbad.pem)" --reason keyCompromise >/dev/null 2>&1
"$CG" revoke -c "$C" "$(serial_of cheld.pem)" --reason certificateHold >/dev/null 2>&1
wait_crl issuing "$(serial_of cheld.pem)" yes >/dev/null
N="$T/nginx"
mkdir -p "$N"
nport=$(lib_free_port) || bail "no free port"
pem_crls "$N/crl.pem"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$N/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 64; }
http {
	access_log $N/access.log;
	client_body_temp_path $N/body;
	proxy_temp_path $N/proxy;
	fastcgi_temp_path $N/fastcgi;
	uwsgi_temp_path $N/uwsgi;
	scgi_temp_path $N/scgi;
	server {
		listen 127.0.0.1:$nport ssl;
		server_name localhost;
		ssl_certificate $D/tls/server.pem;
		ssl_certificate_key $D/tls/server.key;
		ssl_client_certificate $CHAIN;
		ssl_verify_client on;
		ssl_verify_depth 3;
		ssl_crl $N/crl.pem;
		location / { return 200 "hello \$ssl_client_s_dn\n"; }
	}
}
EOF
NG=("$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf" -g "daemon off;")
lib_spawn nginx "${NG[@]}"
NGP=$LIB_PID
lib_wait_port 127.0.0.1 "$nport" 10 || bail "nginx did not start: $(cat "$N/error.log")"
ncurl() {	# NAME: status with client certificate NAME.pem
	curl -s -o "n-$1.out" -w '%{http_code}' --cacert "$CHAIN" --cert "$1.pem" --key "$1.key" \
		"https://localhost:$nport/"
}
is "$(ncurl cgood)" 200 "/nginx/ssl_crl: a good client certificate is accepted"
like "$(cat n-cgood.out)" "CN=client-good" "/nginx/ssl_crl: nginx saw the client"
is "$(ncurl cbad)" 400 "/nginx/ssl_crl: a revoked client certificate is refused"
like "$(cat n-cbad.out)" "certificate" "/nginx/ssl_crl: nginx says the certificate is bad"
grep -q "certificate revoked" "$N/error.log"
ok $? "/nginx/ssl_crl: nginx logs 'certificate revoked'"
is "$(ncurl cheld)" 400 "/nginx/ssl_crl: a held client certificate is refused"
"$CG" revoke -c "$C" "$(serial_of cheld.pem)" --reactivate >/dev/null 2>&1
ok $? "/nginx/reactivate: certgate revoke --reactivate"
t=$(wait_crl issuing "$(serial_of cheld.pem)" no)
within "$t"
ok $? "/nginx/reactivate: it leaves the CRL within ${BOUND}s (took $t s)"
pem_crls "$N/crl.pem"
"$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf" -s reload 2>>"$N/error.log"
sleep 1
is "$(ncurl cheld)" 200 "/nginx/reactivate: with the new CRL nginx accepts it again"
is "$(ncurl cbad)" 400 "/nginx/reactivate: the revoked one stays refused"
lib_stop "$NGP"

# ---------------------------------------------------------------- metrics and health

m=$(curl -s "$H/metrics")
n_issuing=$(fetch issuing w.crl >/dev/null; openssl crl -inform DER -in w.crl -noout -text | grep -c 'Serial Number')
like "$m" "certgate_crl_entries\\{ca=\"issuing\",shard=\"all\"\\} $n_issuing" \
	"/metrics: CRL entries per CA ($n_issuing)"
like "$m" "certgate_crl_bytes\\{ca=\"issuing\",shard=\"all\"\\} $(stat -c %s w.crl)" \
	"/metrics: CRL size per CA"
like "$m" "certgate_crl_age_seconds\\{ca=\"root\",shard=\"all\"\\} [0-9]+" "/metrics: CRL age per CA"
is "$(curl -s "$H/healthz")" ok "/healthz: ok while every CRL is before its nextUpdate"

# ---------------------------------------------------------------- partitions

$PY - "$C" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["cas"]["issuing"]["crl_shards"] = 4
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
kill -HUP "$SRV"
for _ in $(seq 50); do [ "$(fetch issuing-3 p.crl)" = 200 ] && break; sleep 0.1; done
is "$(fetch issuing-3 p.crl)" 200 "/partition: after a reload with crl_shards 4, /crl/issuing-3.crl"
"$CG" issue -c "$C" --profile tls-server --subject CN=part.example --keygen --out part.pem \
	--key-out part.key 2>issue.err
cdp=$(openssl x509 -in part.pem -noout -ext crlDistributionPoints | sed -n 's/.*URI://p')
like "$cdp" "^$H/crl/issuing-[0-3]\\.crl\$" "/partition: the certificate names its partition ($cdp)"
part=$(basename "$cdp" .crl)
"$CG" revoke -c "$C" "$(serial_of part.pem)" >/dev/null 2>&1
t=$(wait_crl "$part" "$(serial_of part.pem)" yes)
within "$t"
ok $? "/partition: its partition lists it within ${BOUND}s (took $t s)"
like "$(openssl crl -inform DER -in w.crl -CAfile "$CHAIN" -noout -text 2>&1)" \
	"verify OK" "/partition: the partition verifies"
like "$(openssl crl -inform DER -in w.crl -noout -text | tr -s '\n ' '  ')" \
	"Issuing Distribution Point: critical Full Name: URI:$cdp" \
	"/partition: it carries a critical Issuing Distribution Point naming the CDP"
like "$(openssl verify -crl_check -crl_download -CAfile "$CHAIN" part.pem 2>&1)" \
	"certificate revoked" "/partition: openssl verify -crl_download through the partition: revoked"
others=0
for k in 0 1 2 3; do
	[ "issuing-$k" = "$part" ] && continue
	fetch "issuing-$k" o.crl >/dev/null
	listed "$(serial_of part.pem)" o.crl && others=$((others + 1))
done
is "$others" 0 "/partition: no other partition lists it"
fetch issuing w.crl >/dev/null
listed "$(serial_of part.pem)" w.crl
ok $? "/partition: the complete CRL lists it too"
like "$(openssl crl -inform DER -in w.crl -noout -text)" "Serial Number: $s_www" \
	"/partition: the complete CRL keeps what certificates from before partitioning need"

lib_stop "$SRV"
ok $? "/serve: stops cleanly"
lib_done
