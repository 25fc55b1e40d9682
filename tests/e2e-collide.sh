#!/bin/bash
# End to end: a serial number the store refuses as a duplicate is drawn again, on every path
# that signs (issue 13): the TSB API (a stored key signing at once, and through a request),
# EST simpleenroll, and `certgate issue`.  tests/serial-collide.so (LD_PRELOAD) makes the
# next N serial draws return the serial of a certificate the same issuer already issued to
# someone else; each path must answer with a certificate of its own (its subject, its key, a
# fresh serial that verifies with openssl), never the other requester's, and the store must
# hold exactly one more certificate.  With more collisions than be_issue's three draws the
# request fails and stores nothing: the shim really collides.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"

SHIM="$top_builddir/tests/serial-collide.so"
[ -f "$SHIM" ] || { echo "Bail out! $SHIM not built (make check builds it)"; exit 1; }
lib_init
CG="$top_builddir/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"
# The shim comes before the sanitizer runtime in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

port=$(lib_free_port) || bail "no free port"
"$CG" init "$D" --https-port "$port" --http-port 0 >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
cred() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
		"$D/demo-credentials.json" "$1" "$2"
}
KM=$(cred tsb-keymgmt api_key)
KO=$(cred tsb-keyop api_key)
PW=$(cred client password)
CAF="$D/ca/chain.pem"
U="https://localhost:$port"

# serve [N SERIAL]: the daemon, with N collisions with SERIAL when given.
serve() {
	if [ $# -eq 2 ]; then
		lib_spawn serve env LD_PRELOAD="$SHIM" CERTGATE_COLLIDE_COUNT="$1" \
			CERTGATE_COLLIDE_SERIAL="$2" "$CG" serve -c "$C"
	else
		lib_spawn serve "$CG" serve -c "$C"
	fi
	SRV=$LIB_PID
	lib_wait_port 127.0.0.1 "$port" 20 || bail "certgate serve did not start: $(cat serve.err)"
}
call() {	# call METHOD PATH API-KEY [BODY-FILE]: reply in out.json, status in $ST
	ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X "$1" -H "X-API-KEY: $3" \
		-H "Content-Type: application/json" ${4:+--data-binary @"$4"} "$U$2")
}
j() { python3 -c 'import json,sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' out.json "$1"; }
count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
pub_of() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | base64 -w0; }
cert_pub() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | base64 -w0; }
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
newcsr() {	# newcsr NAME CN: NAME.key, NAME.pub, NAME.csr (PEM)
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null &&
		openssl pkey -in "$1.key" -pubout -out "$1.pub" &&
		openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
}
tsb_sign() {	# tsb_sign CSR-FILE: the synchronous/sign body in sign.json
	python3 -c 'import json,sys; print(json.dumps({"signKeyName": "CA.collide",
    "keyPassword": None, "signatureAlgorithm": "SHA256_WITH_ECDSA",
    "certificateSigningRequest": open(sys.argv[1]).read(), "keyUsage": ["DIGITAL_SIGNATURE"],
    "extendedKeyUsage": ["CLIENT_AUTH"]}))' "$1" >sign.json
}
# fresh NAME CERT CSR-NAME CN VICTIM-SERIAL: CERT is the requester's own, not the victim's.
fresh() {
	isnt() { if [ "$1" != "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   both: '$1'"; fi; }
	isnt "$(serial_of "$2")" "$5" "$1: a fresh serial, not the taken one"
	is "$(subject_of "$2")" "CN=$4" "$1: the requester's subject"
	is "$(cert_pub "$2")" "$(pub_of "$3.pub")" "$1: the requester's key"
}

# ---------------------------------------------------------------- the taken serials

serve
printf '%s' '{"label": "CA.collide", "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7", "attributes": {"sign": true}, "policy": null}' >key.json
call POST /v1/key "$KM" key.json
[ "$ST" = 201 ] || bail "TSB key: $ST $(cat out.json)"
printf '%s' '{"signKeyName": "CA.collide", "standardCertificateAttributes": {"commonName": "CA.collide CA", "organizationName": "certgate demo"}, "keyUsage": ["KEY_CERT_SIGN", "CRL_SIGN"]}' >csrreq.json
call POST /v1/certificate/synchronous/request "$KO" csrreq.json
j 'd["certificateSigningRequest"]' >ca.csr
"$CG" issue -c "$C" --profile tsb-sub-ca --csr ca.csr --out ca.pem 2>issue.err ||
	bail "CA certificate for the key: $(cat issue.err)"
printf '{"label": "CA.collide", "certificate": "%s"}' \
	"$(openssl x509 -in ca.pem -outform DER | base64 -w0)" >imp.json
call POST /v1/certificate/import/plain "$KO" imp.json
[ "$ST" = 200 ] || bail "import: $ST $(cat out.json)"

newcsr victim-tsb victim-tsb || bail "openssl"
tsb_sign victim-tsb.csr
call POST /v1/certificate/synchronous/sign "$KO" sign.json
is "$ST" 200 "/collide/setup: TSB signs the other requester's certificate"
j 'd["certificate"]' >victim-tsb.pem
VT=$(serial_of victim-tsb.pem)
newcsr victim-est victim-est || bail "openssl"
ST=$(curl -s --cacert "$CAF" -u "client:$PW" -o est.b64 -w '%{http_code}' \
	-H "Content-Type: application/pkcs10" --data-binary @<(openssl req -in victim-est.csr -outform DER | base64) \
	"$U/.well-known/est/simpleenroll")
is "$ST" 200 "/collide/setup: EST enrolls the other requester"
base64 -d est.b64 | openssl pkcs7 -inform DER -print_certs 2>/dev/null >victim-est.pem
VE=$(serial_of victim-est.pem)
like "$VT $VE" '^40[0-9a-f]{30} 40[0-9a-f]{30}$' "/collide/setup: both serials are 16 octets"
lib_stop "$SRV"

# ---------------------------------------------------------------- TSB

serve 2 "$VT"
N0=$(count)
newcsr tsb-sync tsb-sync || bail "openssl"
tsb_sign tsb-sync.csr
call POST /v1/certificate/synchronous/sign "$KO" sign.json
is "$ST" 200 "/collide/tsb/sync: signed despite two collisions"
j 'd["certificate"]' >tsb-sync.pem
fresh /collide/tsb/sync tsb-sync.pem tsb-sync tsb-sync "$VT"
openssl verify -CAfile "$D/ca/root.pem" -untrusted ca.pem tsb-sync.pem >/dev/null 2>&1
ok $? "/collide/tsb/sync: openssl verifies root -> key -> certificate"
lib_stop "$SRV"

serve 2 "$VT"

newcsr tsb-async tsb-async || bail "openssl"
tsb_sign tsb-async.csr
python3 -c 'import json; print(json.dumps({"signCertificateRequest": json.load(open("sign.json"))}))' >async.json
call POST /v1/certificate/sign "$KO" async.json
is "$ST" 201 "/collide/tsb/request: recorded (and executed: the key has no policy)"
call GET "/v1/request/$(j 'd["signRequestId"]')" "$KO"
is "$(j 'd["status"]')" EXECUTED "/collide/tsb/request: EXECUTED"
j 'd["result"]' >tsb-async.pem
fresh /collide/tsb/request tsb-async.pem tsb-async tsb-async "$VT"
is "$(count)" "$((N0 + 2))" "/collide/tsb: one certificate each, the taken one untouched"
lib_stop "$SRV"

serve 3 "$VT"
N0=$(count)
newcsr tsb-over tsb-over || bail "openssl"
tsb_sign tsb-over.csr
call POST /v1/certificate/synchronous/sign "$KO" sign.json
[ "$ST" != 200 ] && [ "$(count)" = "$N0" ]
ok $? "/collide/tsb/three-collisions: the shim collides (refused $ST, nothing stored)"
lib_stop "$SRV"

# ---------------------------------------------------------------- EST

serve 2 "$VE"
N0=$(count)
newcsr est est-device-9 || bail "openssl"
ST=$(curl -s --cacert "$CAF" -u "client:$PW" -o est.b64 -w '%{http_code}' \
	-H "Content-Type: application/pkcs10" --data-binary @<(openssl req -in est.csr -outform DER | base64) \
	"$U/.well-known/est/simpleenroll")
is "$ST" 200 "/collide/est: enrolled despite two collisions"
base64 -d est.b64 | openssl pkcs7 -inform DER -print_certs 2>/dev/null >est.pem
fresh /collide/est est.pem est est-device-9 "$VE"
openssl verify -CAfile "$CAF" est.pem >/dev/null 2>&1
ok $? "/collide/est: openssl verifies it"
is "$(count)" "$((N0 + 1))" "/collide/est: one certificate"
lib_stop "$SRV"

# ---------------------------------------------------------------- certgate issue

N0=$(count)
newcsr cli cli.example.com || bail "openssl"
env LD_PRELOAD="$SHIM" CERTGATE_COLLIDE_COUNT=2 CERTGATE_COLLIDE_SERIAL="$VE" \
	"$CG" issue -c "$C" --profile tls-server --csr cli.csr --out cli.pem 2>cli.err
ok $? "/collide/cli: issued despite two collisions"
fresh /collide/cli cli.pem cli cli.example.com "$VE"
openssl verify -CAfile "$CAF" cli.pem >/dev/null 2>&1
ok $? "/collide/cli: openssl verifies it"
is "$(count)" "$((N0 + 1))" "/collide/cli: one certificate"
env LD_PRELOAD="$SHIM" CERTGATE_COLLIDE_COUNT=3 CERTGATE_COLLIDE_SERIAL="$VE" \
	"$CG" issue -c "$C" --profile tls-server --csr cli.csr --out cli2.pem 2>cli2.err
[ $? -ne 0 ] && [ "$(count)" = "$((N0 + 1))" ]
ok $? "/collide/cli/three-collisions: the shim collides (refused, nothing stored)"
is "$(serial_of victim-est.pem)" "$VE" "/collide: the other requester's certificate is untouched"
lib_done
