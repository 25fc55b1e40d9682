#!/bin/bash
# End to end: the OCSP responder (RFC 6960, RFC 5019) with real relying parties.  `openssl ocsp`
# sees good / revoked (reason, time) / unknown and verifies the delegated responder's signature
# against the demo chain, with and without a nonce, SHA-1 and SHA-256 CertIDs; a certificate
# revoked through the CLI, se.SAM revokecert and the IoT revoke shows revoked at once, a held
# then re-activated one good again; GET answers with RFC 5019 caching headers; bad requests get
# the right OCSPResponseStatus; the CA key signs when configured; the responder certificate
# rotates before it expires; nginx (ssl_ocsp) refuses a revoked client certificate and accepts
# a good one.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
T="$LIB_TMP"
cd "$T" || bail "no temp dir"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
while [ "$https_port" = "$http_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
CHAIN="$D/ca/chain.pem"
ISS="$D/ca/issuing.pem"
URL="http://127.0.0.1:$http_port/ocsp"

# conf KEY JSON: sets the top-level key of the configuration (None deletes it).
conf() {
	$PY - "$C" "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = json.loads(sys.argv[3])
if v is None:
    d.pop(sys.argv[2], None)
else:
    d[sys.argv[2]] = v
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
}
SRV=
start() {
	lib_spawn serve "$CG" serve -c "$C"
	SRV=$LIB_PID
	lib_wait_port 127.0.0.1 "$http_port" 20 || bail "certgate serve did not start: $(tail -3 serve.err)"
}
stop() { lib_stop "$SRV"; }

conf ocsp '{"max_certids": 2, "max_request_bytes": 1024, "cache_seconds": 30}'
conf limits '{"max_body": 8192}'
start

issue() {	# NAME PROFILE CN
	"$CG" issue -c "$C" --profile "$2" --subject "CN=$3" --keygen --out "$1.pem" \
		--key-out "$1.key" 2>"$1.err" || bail "issue $1: $(cat "$1.err")"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# q ARGS...: openssl ocsp against certgate, output and status
q() { openssl ocsp -issuer "$ISS" -url "$URL" -CAfile "$CHAIN" "$@" 2>&1; }

issue good est-device client-good
issue www tls-server www.example.com

# ---------------------------------------------------------------- good, with and without nonce
out=$(q -cert good.pem -resp_text)
like "$out" "Response verify OK" "/ocsp/good: openssl verifies the responder's signature against the chain"
like "$out" "good.pem: good" "/ocsp/good: good"
like "$out" "OCSP Nonce:" "/ocsp/nonce: the request's nonce is echoed"
! printf '%s' "$out" | grep -q "WARNING: no nonce"
ok $? "/ocsp/nonce: openssl finds its nonce in the answer"
like "$out" "Subject: CN *= *OCSP responder for issuing" "/ocsp/responder: a delegated responder certificate travels with the answer"
like "$(printf '%s' "$out" | grep -A1 'Extended Key Usage')" "OCSP Signing" "/ocsp/responder: id-kp-OCSPSigning"
like "$out" "OCSP No Check" "/ocsp/responder: id-pkix-ocsp-nocheck"
printf '%s\n' "$out" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' >responder.pem
openssl verify -CAfile "$CHAIN" -purpose ocsphelper responder.pem >/dev/null 2>&1
ok $? "/ocsp/responder: the responder certificate verifies against the chain for OCSP signing"
rs=$(serial_of responder.pem | tr A-F a-f)
like "$("$CG" list -c "$C" --serial "$rs" 2>&1)" "$rs +valid .*ocsp-responder" \
	"/ocsp/responder: issued through be_issue and recorded in the store"
nb=$(date -d "$(openssl x509 -in responder.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in responder.pem -noout -enddate | cut -d= -f2)" +%s)
is "$((na - nb))" "$((2 * 86400 + 60))" "/ocsp/responder: short validity (2 days by default, 60 s backdated)"

out=$(q -cert good.pem -no_nonce)
like "$out" "Response verify OK" "/ocsp/no-nonce: verifies"
like "$out" "good.pem: good" "/ocsp/no-nonce: good"
out=$(q -sha256 -cert good.pem -resp_text)
like "$out" "Hash Algorithm: sha256" "/ocsp/sha256: a SHA-256 CertID is answered in kind"
like "$out" "good.pem: good" "/ocsp/sha256: good"
like "$out" "Response verify OK" "/ocsp/sha256: verifies"

# ---------------------------------------------------------------- unknown
out=$(q -serial 0x4001020304050607080910)
like "$out" "Response verify OK" "/ocsp/unknown: verifies"
like "$out" "0x4001020304050607080910: unknown" "/ocsp/unknown: a serial the store does not know is unknown"
out=$(openssl ocsp -issuer "$D/ca/root.pem" -cert "$ISS" -url "$URL" -CAfile "$CHAIN" 2>&1)
like "$out" "issuing.pem: good" "/ocsp/ca-cert: the configured issuing CA's certificate is good under the root (so nginx ssl_ocsp on checks the whole chain)"
like "$out" "Response verify OK" "/ocsp/ca-cert: signed by the root's own responder"

# ---------------------------------------------------------------- cache, and revocation at once
m() { curl -s "http://127.0.0.1:$http_port/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
h0=$(m certgate_ocsp_cache_hits_total)
q -cert www.pem -no_nonce >/dev/null
q -cert www.pem -no_nonce >w2.out
like "$(cat w2.out)" "www.pem: good" "/ocsp/cache: good"
h1=$(m certgate_ocsp_cache_hits_total)
[ "$h1" -gt "$h0" ]
ok $? "/ocsp/cache: the repeated request is answered from the cache ($h0 -> $h1)"
"$CG" revoke -c "$C" "$(serial_of www.pem)" --reason keyCompromise >/dev/null 2>&1
out=$(q -cert www.pem -no_nonce)
like "$out" "www.pem: revoked" "/ocsp/revoked/cli: revoked through the CLI: revoked at once, though the good answer was cached"
like "$out" "Reason: keyCompromise" "/ocsp/revoked/cli: with the reason"
like "$out" "Revocation Time: " "/ocsp/revoked/cli: with the time"
like "$out" "Response verify OK" "/ocsp/revoked/cli: verifies"

# ---------------------------------------------------------------- hold and re-activate
issue held est-device client-held
"$CG" revoke -c "$C" "$(serial_of held.pem)" --reason certificateHold >/dev/null 2>&1
out=$(q -cert held.pem)
like "$out" "held.pem: revoked" "/ocsp/hold: a certificate on hold is revoked"
like "$out" "Reason: certificateHold" "/ocsp/hold: ... with reason certificateHold"
"$CG" revoke -c "$C" "$(serial_of held.pem)" --reactivate >/dev/null 2>&1
like "$(q -cert held.pem)" "held.pem: good" "/ocsp/hold: re-activated: good again"

# ---------------------------------------------------------------- se.SAM revokecert
pw() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1]))[sys.argv[2]]; print(d.get(sys.argv[3], ""))' "$D/demo-credentials.json" "$1" "$2"; }
SESAM="https://localhost:$https_port/sesam/api"
st=$(curl -s --cacert "$CHAIN" -u "admin:$(pw admin password)" -o g.json -w '%{http_code}' \
	-d command=gencert -d template=Device-Template-2022 -d CN=sesam-dev -d p12_pass='passphrase!' "$SESAM")
$PY -c 'import json,sys; print(json.load(open("g.json"))["x509_cert"])' >sesam.pem 2>/dev/null
like "$(q -cert sesam.pem)" "sesam.pem: good" "/ocsp/sesam: a se.SAM certificate is good ($st)"
dec=$($PY -c 'import json; print(json.load(open("g.json"))["result"])')
st=$(curl -s --cacert "$CHAIN" -u "admin:$(pw admin password)" -o r.json -w '%{http_code}' \
	-d command=revokecert -d serial="$dec" -d reason=superseded "$SESAM")
out=$(q -cert sesam.pem)
like "$out" "sesam.pem: revoked" "/ocsp/sesam: revokecert ($st): revoked"
like "$out" "Reason: superseded" "/ocsp/sesam: with its reason"

# ---------------------------------------------------------------- IoT revoke
IOT="https://localhost:$https_port/iot/api/v1"
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59
KEY=$(pw iot-client api_key)
curl -s --cacert "$CHAIN" -o iot.json -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
	--data-binary "{\"enrollment_profile_id\": \"$EP\", \"server_side_key_gen\": true, \"certificate_profile_attributes\": [{\"id\": \"subject.common_name\", \"value\": \"iot-ocsp\"}]}" \
	"$IOT/certificate" >/dev/null
$PY -c 'import json; print(json.load(open("iot.json"))["pem"])' >iot-all.pem 2>/dev/null
sed -n '1,/-----END CERTIFICATE-----/p' iot-all.pem >iot.pem
iot_id=$($PY -c 'import json; print(json.load(open("iot.json"))["certificate_id"])' 2>/dev/null)
like "$(q -cert iot.pem)" "iot.pem: good" "/ocsp/iot: an IoT certificate is good"
st=$(curl -s --cacert "$CHAIN" -o /dev/null -w '%{http_code}' -X PUT -H "x-api-key: $KEY" \
	-H 'Content-Type: application/json' --data-binary '{"reason": "cessation_of_operation"}' \
	"$IOT/certificate/$iot_id/revoke")
out=$(q -cert iot.pem)
like "$out" "iot.pem: revoked" "/ocsp/iot: IoT revoke ($st): revoked"
like "$out" "Reason: cessationOfOperation" "/ocsp/iot: with its reason"

# ---------------------------------------------------------------- GET (RFC 6960 A.1, RFC 5019 5, 6.2)
openssl ocsp -issuer "$ISS" -cert good.pem -no_nonce -reqout get.req >/dev/null 2>&1
enc=$(base64 -w0 get.req | $PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
st=$(curl -s -D get.h -o get.der -w '%{http_code}' "$URL/$enc")
is "$st" 200 "/ocsp/get: 200"
grep -qi '^content-type: application/ocsp-response' get.h
ok $? "/ocsp/get: Content-Type application/ocsp-response"
grep -qiE '^cache-control: max-age=[0-9]+, public, no-transform, must-revalidate' get.h
ok $? "/ocsp/get: Cache-Control max-age (RFC 5019 6.2)"
grep -qiE '^expires: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT' get.h &&
	grep -qiE '^last-modified: [A-Z][a-z]{2}, ' get.h && grep -qiE '^etag: "[0-9a-f]+"' get.h
ok $? "/ocsp/get: Expires, Last-Modified, ETag"
out=$(openssl ocsp -respin get.der -issuer "$ISS" -cert good.pem -CAfile "$CHAIN" 2>&1)
like "$out" "good.pem: good" "/ocsp/get: openssl reads a good answer"
like "$out" "Response verify OK" "/ocsp/get: ... and verifies it"
# Conditional GET (RFC 5019 6.2, RFC 9110 13.1.2, 13.1.3): a cache holding the current answer
# revalidates with 304, no body, the same ETag and caching headers.
etag=$(tr -d '\r' <get.h | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
lm=$(tr -d '\r' <get.h | sed -n 's/^[Ll]ast-[Mm]odified: //p')
is "$(curl -s -D c304.h -o c.out -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$URL/$enc")" \
	"304 0" "/ocsp/get/conditional: If-None-Match with the current ETag: 304, no body"
is "$(tr -d '\r' <c304.h | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')" "$etag" \
	"/ocsp/get/conditional: the 304 carries the ETag (RFC 9110 15.4.5)"
grep -qiE '^cache-control: max-age=[0-9]+, public, no-transform, must-revalidate' c304.h &&
	grep -qiE '^expires: ' c304.h
ok $? "/ocsp/get/conditional: the 304 carries Cache-Control and Expires"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-None-Match: \"x\", W/$etag" "$URL/$enc")" 304 \
	"/ocsp/get/conditional: If-None-Match list, weak comparison: 304"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-None-Match: "other"' "$URL/$enc")" 200 \
	"/ocsp/get/conditional: another ETag: 200"
cmp -s c.out get.der
ok $? "/ocsp/get/conditional: ... with the same cached answer"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-Modified-Since: $lm" "$URL/$enc")" 304 \
	"/ocsp/get/conditional: If-Modified-Since at Last-Modified: 304"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-Modified-Since: Thu, 01 Jan 2015 00:00:00 GMT' "$URL/$enc")" 200 \
	"/ocsp/get/conditional: If-Modified-Since before Last-Modified: 200"
is "$(curl -s -o c.out -w '%{http_code}' -H 'If-None-Match: "other"' -H "If-Modified-Since: $lm" "$URL/$enc")" \
	200 "/ocsp/get/conditional: If-None-Match decides over If-Modified-Since (RFC 9110 13.2.2)"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-None-Match: $etag" -H 'Content-Type: application/ocsp-request' \
	--data-binary @get.req "$URL")" 200 "/ocsp/post/conditional: POST answers are never 304"
# A revocation changes the answer: the cache's old ETag and date no longer match.
issue cond est-device client-cond
openssl ocsp -issuer "$ISS" -cert cond.pem -no_nonce -reqout cond.req >/dev/null 2>&1
enc2=$(base64 -w0 cond.req | $PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
curl -s -D cond.h -o cond.der "$URL/$enc2"
etag2=$(tr -d '\r' <cond.h | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
lm2=$(tr -d '\r' <cond.h | sed -n 's/^[Ll]ast-[Mm]odified: //p')
is "$(curl -s -o c.out -w '%{http_code}' -H "If-None-Match: $etag2" "$URL/$enc2")" 304 \
	"/ocsp/get/conditional-revoked: 304 while good"
sleep 1		# Last-Modified has whole seconds
"$CG" revoke -c "$C" "$(serial_of cond.pem)" --reason superseded >/dev/null 2>&1
is "$(curl -s -o c2.der -w '%{http_code}' -H "If-None-Match: $etag2" "$URL/$enc2")" 200 \
	"/ocsp/get/conditional-revoked: after the revocation the old ETag gets 200"
like "$(openssl ocsp -respin c2.der -issuer "$ISS" -cert cond.pem -CAfile "$CHAIN" 2>&1)" \
	"cond.pem: revoked" "/ocsp/get/conditional-revoked: ... with the revoked answer"
is "$(curl -s -o c.out -w '%{http_code}' -H "If-Modified-Since: $lm2" "$URL/$enc2")" 200 \
	"/ocsp/get/conditional-revoked: and the old Last-Modified gets 200"
st=$(curl -s -D post.h -o /dev/null -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
	--data-binary @get.req "$URL")
grep -qi '^cache-control: no-store' post.h
ok $? "/ocsp/post: POST answers are not for HTTP caches ($st)"

# ---------------------------------------------------------------- refusals
# post FILE [content-type]: POSTs FILE, prints the OCSPResponseStatus openssl reads.
status() {
	openssl ocsp -respin "$1" -resp_text -noverify 2>&1 |
		sed -n -e 's/^Responder Error: \([a-z]*\) .*/\1/p' \
			-e 's/.*OCSP Response Status: \([a-zA-Z]*\).*/\1/p' | head -1
}
post() {
	curl -s -o resp.der -w '%{http_code}' -H "Content-Type: ${2:-application/ocsp-request}" \
		--data-binary @"$1" "$URL" >code.txt
	echo "$(cat code.txt) $(status resp.der)"
}
head -c 300 /dev/urandom >garbage.bin
is "$(post garbage.bin)" "200 malformedrequest" "/ocsp/refuse/garbage: malformedRequest"
printf '' >empty.bin
is "$(post empty.bin)" "200 malformedrequest" "/ocsp/refuse/empty: malformedRequest"
# mkreq IN EXT-OID-DOTTED VALUE-HEX CRITICAL: IN (a request without extensions) with one
# requestExtension added, DER built here.
cat >mkreq.py <<'PY'
import sys
def tlv(t, b):
    n = len(b)
    if n < 128: l = bytes([n])
    elif n < 256: l = bytes([0x81, n])
    else: l = bytes([0x82, n >> 8, n & 255])
    return bytes([t]) + l + b
def parse(b):
    l = b[1]; h = 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(b[2:2 + k], "big"); h = 2 + k
    return b[h:h + l], b[h + l:]
def oid(s):
    a = [int(x) for x in s.split(".")]
    out = bytes([a[0] * 40 + a[1]])
    for v in a[2:]:
        enc = [v & 0x7f]; v >>= 7
        while v: enc.insert(0, 0x80 | (v & 0x7f)); v >>= 7
        out += bytes(enc)
    return tlv(0x06, out)
req = open(sys.argv[1], "rb").read()
outer, _ = parse(req)
tbs, rest = parse(outer)
ext = oid(sys.argv[2]) + (tlv(0x01, b"\xff") if sys.argv[4] == "1" else b"") + \
    tlv(0x04, bytes.fromhex(sys.argv[3]))
sys.stdout.buffer.write(tlv(0x30, tlv(0x30, tbs + tlv(0xa2, tlv(0x30, tlv(0x30, ext)))) + rest))
PY
mkreq() { $PY mkreq.py "$@"; }
nonce_hex() { $PY -c 'import sys; n = int(sys.argv[1]); print("04%02x" % n + "5a" * n)' "$1"; }
# a well-formed request grown past max_request_bytes (1024) by a non-critical extension
mkreq get.req 1.3.6.1.4.1.311.1 "$($PY -c 'print("78" * 1200)')" 0 >big.req
is "$(post big.req)" "200 malformedrequest" "/ocsp/refuse/oversized: a request over max_request_bytes is malformedRequest"
head -c 9000 /dev/zero >huge.bin
is "$(post huge.bin)" "413 malformedrequest" "/ocsp/refuse/over-max-body: the gateway's 413 carries an OCSPResponse"
is "$(post get.req text/plain)" "200 malformedrequest" "/ocsp/refuse/content-type: not application/ocsp-request"
is "$(curl -s -o g.der -w '%{http_code}' "$URL/not%base64" ; echo " $(status g.der)")" "200 malformedrequest" \
	"/ocsp/refuse/get-not-base64: malformedRequest"
# unknown issuer: a CA that is not ours
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key \
	-out rogue.pem -subj "/CN=certgate Demo Issuing CA" -days 2 2>/dev/null
out=$(openssl ocsp -issuer rogue.pem -serial 0x1234 -url "$URL" -CAfile "$CHAIN" 2>&1)
like "$out" "Responder Error: unauthorized \(6\)" "/ocsp/refuse/unknown-issuer: unauthorized"
# many CertIDs: two are answered (max_certids 2), three are refused
out=$(q -cert good.pem -cert www.pem)
like "$out" "good.pem: good" "/ocsp/many/two: the first of two CertIDs answered"
like "$out" "www.pem: revoked" "/ocsp/many/two: ... and the second"
out=$(q -cert good.pem -cert www.pem -cert held.pem)
like "$out" "Responder Error: malformedrequest \(1\)" "/ocsp/refuse/many: more CertIDs than max_certids: malformedRequest"
# RFC 8954 2.1: a nonce over 32 octets (and one of 0) is malformedRequest; 32 octets echoed
for nl in 32 33 0; do mkreq get.req 1.3.6.1.5.5.7.48.1.2 "$(nonce_hex $nl)" 0 >nonce$nl.req; done
mkreq get.req 1.2.3.4 0500 1 >crit.req
openssl asn1parse -inform DER -in nonce33.req >/dev/null 2>&1
ok $? "/ocsp/nonce/test-requests: the hand-made requests are DER openssl parses"
is "$(post nonce32.req)" "200 successful" "/ocsp/nonce/32: a 32-octet nonce is answered"
like "$(openssl ocsp -respin resp.der -resp_text -noverify 2>&1)" "0420(5A){32}" "/ocsp/nonce/32: ... and echoed"
is "$(post nonce33.req)" "200 malformedrequest" "/ocsp/refuse/nonce-33: RFC 8954: over 32 octets: malformedRequest"
is "$(post nonce0.req)" "200 malformedrequest" "/ocsp/refuse/nonce-0: RFC 8954: empty: malformedRequest"
is "$(post crit.req)" "200 malformedrequest" "/ocsp/refuse/critical-extension: an unknown critical extension: malformedRequest"
kill -0 "$SRV" 2>/dev/null
ok $? "/ocsp/refuse: the daemon is alive after every bad request"

# ---------------------------------------------------------------- metrics
mt=$(curl -s "http://127.0.0.1:$http_port/metrics")
for s in good revoked unknown malformedRequest unauthorized; do
	v=$(printf '%s\n' "$mt" | awk -v k="certgate_ocsp_responses_total{status=\"$s\"}" '$1 == k {print $2}')
	[ "${v:-0}" -gt 0 ]
	ok $? "/ocsp/metrics: certgate_ocsp_responses_total{status=\"$s\"} counted ($v)"
done

# ---------------------------------------------------------------- rotation
stop
conf ocsp '{"responder_validity_seconds": 30, "response_validity_seconds": 20, "cache_seconds": 10}'
start
out1=$(q -cert good.pem -resp_text)
like "$out1" "good.pem: good" "/ocsp/rotate: good with a 30-second responder certificate"
s1=$(printf '%s\n' "$out1" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' | openssl x509 -noout -serial)
na=$(printf '%s\n' "$out1" | sed -n 's/.*Next Update: //p' | head -1)
ca=$(printf '%s\n' "$out1" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' | openssl x509 -noout -enddate | cut -d= -f2)
[ "$(date -d "$na" +%s)" -le "$(date -d "$ca" +%s)" ]
ok $? "/ocsp/rotate: nextUpdate never lies beyond the responder certificate's end"
sleep 21
out2=$(q -cert good.pem -resp_text)
s2=$(printf '%s\n' "$out2" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' | openssl x509 -noout -serial)
like "$out2" "Response verify OK" "/ocsp/rotate: verifies after rotation"
[ -n "$s1" ] && [ "$s1" != "$s2" ]
ok $? "/ocsp/rotate: a new responder certificate once a third of its validity is left ($s1 -> $s2)"

# ---------------------------------------------------------------- signed by the CA key
stop
conf ocsp '{"signer": "ca"}'
start
out=$(q -cert good.pem -resp_text)
like "$out" "good.pem: good" "/ocsp/ca-signer: good"
like "$out" "Response verify OK" "/ocsp/ca-signer: openssl verifies a response the CA signed itself"
! printf '%s' "$out" | grep -q "BEGIN CERTIFICATE"
ok $? "/ocsp/ca-signer: no responder certificate in the answer"
conf ocsp '{"signer": "nobody"}'
out=$("$CG" check -c "$C" 2>&1)
like "$out" "ocsp.signer: must be" "/ocsp/config: an unknown signer is refused, naming the key"
conf ocsp '{"max_certids": 2}'

# ---------------------------------------------------------------- nginx as a relying party
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
N=$T/nginx
mkdir -p "$N"
nport=$(lib_free_port) || bail "no free port"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$N/nginx.conf" <<EOF
$user_line
worker_processes 1;
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
		ssl_ocsp on;
		ssl_ocsp_responder $URL;
		location / { return 200 "hello \$ssl_client_s_dn\n"; }
	}
}
EOF
"$NGINX" -t -p "$N" -c "$N/nginx.conf" -g "pid $N/nginx.pid; error_log $N/error.log;" >"$N/t.out" 2>&1
ok $? "/nginx/ocsp: nginx -t accepts ssl_ocsp with certgate as responder"
stop
start
lib_spawn nginx "$NGINX" -p "$N" -c "$N/nginx.conf" -g "daemon off; pid $N/nginx.pid; error_log $N/error.log info;"
lib_wait_port 127.0.0.1 "$nport" 10 || bail "nginx did not start: $(tail -5 "$N/error.log")"
issue ngood est-device nginx-good
issue nbad est-device nginx-bad
"$CG" revoke -c "$C" "$(serial_of nbad.pem)" --reason keyCompromise >/dev/null 2>&1
nx() { curl -s --max-time 20 --cacert "$CHAIN" --cert "$1.pem" --key "$1.key" -o "$1.body" -w '%{http_code}' "https://localhost:$nport/"; }
is "$(nx ngood)" 200 "/nginx/ocsp: a good client certificate is accepted"
like "$(cat ngood.body)" "hello CN=nginx-good" "/nginx/ocsp: ... as itself"
is "$(nx nbad)" 400 "/nginx/ocsp: a revoked client certificate is refused"
like "$(cat "$N/error.log")" "certificate status \"revoked\"|revoked" "/nginx/ocsp: nginx says it was revoked"
"$CG" revoke -c "$C" "$(serial_of ngood.pem)" --reason certificateHold >/dev/null 2>&1
is "$(nx ngood)" 400 "/nginx/ocsp: put on hold: refused at once (nginx caches no OCSP answers for clients)"
"$CG" revoke -c "$C" "$(serial_of ngood.pem)" --reactivate >/dev/null 2>&1
is "$(nx ngood)" 200 "/nginx/ocsp: re-activated: accepted again"
lib_done
