#!/bin/bash
# End to end: the Securosys TSB-style key and certificate API (PROTOCOLS.md section 3)
# against the real daemon, driven with curl and python3 requests exactly as the vendor
# documents do (seeds 004: create a key, make a CSR; 003: an approval-protected CA key signs
# that CSR, the result is fetched and imported).  A 2-of-3 quorum of RSA, EC and Ed25519
# approvers (made with openssl), approvals from `certgate approve` and from curl + openssl;
# a forged approval, an approver outside the policy, rejections, a timeout, a timelock, a
# cancellation, concurrent approvals (one certificate), wrong key passwords, a
# non-extractable key's export, a certificate that does not match its key, and every role's
# token on another role's endpoint.  Refusals: status, sentence, nothing stored, audited.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/lib.sh"

for tool in curl openssl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if ! $PY -c 'import requests' 2>/dev/null; then
	echo "1..0 # SKIP python3-requests not installed"
	exit 0
fi

lib_init
CG="$top_builddir/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
T="$LIB_TMP"
cd "$T" || bail "no temp dir"

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
while [ "$https_port" = "$http_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"

keyof() {
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["api_key"])' \
		"$D/demo-credentials.json" "$1"
}
KM=$(keyof tsb-keymgmt)
KO=$(keyof tsb-keyop)
KA=$(keyof tsb-approver)
KS=$(keyof tsb-service)
CAF="$D/ca/chain.pem"
U="https://localhost:$https_port"

lib_spawn serve "$CG" serve -c "$C"
SRV=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "certgate serve did not start: $(cat serve.err)"

# ---------------------------------------------------------------- helpers

# call METHOD PATH API-KEY [BODY-FILE]: the reply in out.json, the status in $ST.
call() {
	if [ -n "${4:-}" ]; then
		ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X "$1" \
			-H "X-API-KEY: $3" -H "Content-Type: application/json" \
			--data-binary @"$4" "$U$2")
	else
		ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X "$1" \
			-H "X-API-KEY: $3" "$U$2")
	fi
}
# j EXPR [FILE [ARG...]]: a value of a JSON reply (d the document, a the ARGs).
j() {
	_e=$1
	shift
	_f=out.json
	if [ $# -gt 0 ]; then
		_f=$1
		shift
	fi
	$PY -c 'import json,sys
d = json.load(open(sys.argv[1]))
a = sys.argv[3:]
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$_f" "$_e" "$@" 2>/dev/null
}
count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
audits() { "$CG" audit -c "$C" --limit 1000000 | wc -l; }
snap() { N0=$(count); A0=$(audits); }
# refused NAME STATUS ERRORCODE MESSAGE-REGEX: after a call and snap.
refused() {
	is "$ST" "$2" "$1: HTTP $2"
	is "$(j 'd["errorCode"]')" "$3" "$1: errorCode $3"
	like "$(j 'd["message"]')" "$4" "$1: says why"
	is "$(count)" "$N0" "$1: nothing stored"
	[ "$(audits)" -gt "$A0" ]
	ok $? "$1: audited"
}
spki() { openssl pkey -in "$1" -pubout -outform DER | base64 -w0; }
# osign KEY-PEM FILE: base64 signature as a JDK Signature makes it (SHA-256 or Ed25519).
osign() {
	if openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q ED25519; then
		openssl pkeyutl -sign -inkey "$1" -rawin -in "$2" | base64 -w0
	else
		openssl dgst -sha256 -sign "$1" "$2" | base64 -w0
	fi
}
digest_of() {
	if openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q ED25519; then
		echo EdDSA
	else
		echo SHA-256
	fi
}
# tasks_curl KEY-PEM: the approver's tasks as a curl user fetches them, in out.json.
tasks_curl() {
	ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	printf %s "$ts" >ts.txt
	$PY -c 'import json,sys
print(json.dumps({"timestamp": sys.argv[1], "timestampSignature": sys.argv[2],
    "approverPublicKey": sys.argv[3], "timestampDigestAlgorithm": sys.argv[4],
    "detailLevel": "level1", "paging": {"pageNumber": 0, "pageSize": 10,
    "sortOrder": "CREATION_DATE_ASC"}}))' "$ts" "$(osign "$1" ts.txt)" "$(spki "$1")" \
		"$(digest_of "$1")" >tasks.json
	call POST /v1/filteredSignApprovalTask "$KA" tasks.json
}
approve_cli() {	# KEY-PEM approve|reject ID
	"$CG" approve --url "$U" --api-key "$KA" --key "$1" --cacert "$CAF" "${@:2}"
}
# make_ca LABEL: the key's CSR (keyCertSign) becomes an intermediate CA certificate of the
# demo root (certgate issue --profile tsb-sub-ca) and is imported for the key.
make_ca() {
	$PY -c 'import json,sys
print(json.dumps({"signKeyName": sys.argv[1], "keyPassword": list(sys.argv[2]) or None,
    "signatureAlgorithm": None, "standardCertificateAttributes": {"commonName": sys.argv[1] + " CA",
    "organizationName": "certgate demo"}, "keyUsage": ["KEY_CERT_SIGN", "CRL_SIGN"],
    "extendedKeyUsage": None}))' "$1" "${2:-}" >mk.json
	call POST /v1/certificate/synchronous/request "$KO" mk.json
	j 'd["certificateSigningRequest"]' >"$1.csr"
	"$CG" issue -c "$C" --profile tsb-sub-ca --csr "$1.csr" --out "$1.pem" 2>/dev/null ||
		return 1
	printf '{"label": "%s", "certificate": "%s"}' "$1" \
		"$(openssl x509 -in "$1.pem" -outform DER | base64 -w0)" >imp.json
	call POST /v1/certificate/import/plain "$KO" imp.json
	[ "$ST" = 200 ]
}
# policy Q TIMELOCK TIMEOUT PUB...: a TSB policy object.
policy() {
	$PY -c 'import json,sys
q, lock, tout = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"ruleUse": {"tokens": [{"name": "main", "timelock": lock, "timeout": tout,
    "groups": [{"name": "approvers", "quorum": q, "approvals": [{"type": "public_key",
    "name": "approver%d" % (i + 1), "value": v} for i, v in enumerate(sys.argv[4:])]}]}]},
    "keyStatus": {"blocked": False}}))' "$@"
}
# ska_key LABEL POLICY-JSON: an RSA-2048 key with that policy (password "secret").
ska_key() {
	$PY -c 'import json,sys
print(json.dumps({"label": sys.argv[1], "password": list("secret"), "algorithm": "RSA",
    "keySize": 2048, "attributes": {"decrypt": False, "sign": True, "unwrap": False,
    "extractable": False, "modifiable": True, "destroyable": True},
    "policy": json.loads(sys.argv[2])}))' "$1" "$2" >ska.json
	call POST /v1/key "$KM" ska.json
}
# sign_req KEY-LABEL PASSWORD CSR-FILE [CA true|false]: the seed 003 body, in sign.json.
sign_req() {
	$PY -c 'import json,sys
print(json.dumps({"signCertificateRequest": {"signKeyName": sys.argv[1],
    "keyPassword": list(sys.argv[2]) or None, "signatureAlgorithm": "SHA256_WITH_RSA",
    "commonName": "Approver-Intermediate-SUB", "certificateAuthority": sys.argv[4] == "true",
    "certificateSigningRequest": open(sys.argv[3]).read(),
    "keyUsage": ["DIGITAL_SIGNATURE"], "extendedKeyUsage": ["ANY_EXTENDED_KEY_USAGE"]}}))' \
		"$1" "$2" "$3" "${4:-false}" >sign.json
}
status_of() { call GET "/v1/request/$1" "$KO"; j 'd["status"]'; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out a1.pem 2>/dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out a2.pem 2>/dev/null &&
	openssl genpkey -algorithm ED25519 -out a3.pem 2>/dev/null &&
	openssl genpkey -algorithm ED25519 -out rogue.pem 2>/dev/null || bail "openssl genpkey"
P1=$(spki a1.pem)
P2=$(spki a2.pem)
P3=$(spki a3.pem)

# ---------------------------------------------------------------- service, state

call GET /v1/versionInfo "$KS"
is "$ST" 200 "/tsb/version-info: service token"
like "$(j 'd["version"]')" '^[0-9]' "/tsb/version-info: a version"
is "$(stat -c %a "$D/state/keystore.key") $(stat -c %s "$D/state/keystore.key")" "600 32" \
	"/tsb/keystore: master key created 0600 in the state directory"

# ---------------------------------------------------------------- seed 004: key and CSR

snap
ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X POST -H "X-API-KEY: $KM" \
	-H "Content-Type: application/json" "$U/v1/key" -d '{
    "label": "sub_certificate_key",
    "password": null,
    "algorithm": "RSA",
    "keySize": 4096,
    "attributes": {
        "decrypt": false,
        "sign": true,
        "unwrap": false,                
        "extractable": false,
        "modifiable": true,
        "destroyable": true        
    },
    "policy": null
}')
is "$ST" 201 "/seed004/create-key: the seed's curl command"
call GET /v1/key "$KM"
like "$(cat out.json)" '"sub_certificate_key"' "/seed004/create-key: listed"
call GET /v1/key/sub_certificate_key/attributes "$KM"
is "$(j 'd["json"]["algorithm"], d["json"]["keySize"], d["json"]["attributes"]["extractable"], d["json"]["policy"]')" \
	"('RSA', 4096, False, None)" "/seed004/attributes: algorithm, size, not extractable, no policy"

# The seed's second curl command, trailing comma included.
ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X POST -H "X-API-KEY: $KO" \
	-H "Content-Type: application/json" "$U/v1/certificate/synchronous/request" -d '{
    "signKeyName": "sub_certificate_key",
    "keyPassword": null,
    "signatureAlgorithm": "SHA256_WITH_RSA",
    "validity": 365,
    "standardCertificateAttributes": {
        "commonName": "SUB-Securosys-001",
        "country": "CH",    
        "stateOrProvinceName": "Zurich",
        "locality": "Zurich",
        "organizationName": "Securosys SA",
        "organizationIdentifier": "CHE-464.234.583 MWST",
        "organizationUnitName": "Operations",
    },
    "keyUsage": [
        "DIGITAL_SIGNATURE"
    ],
    "extendedKeyUsage": [
        "ANY_EXTENDED_KEY_USAGE"
    ]
}')
is "$ST" 200 "/seed004/csr: the seed's curl command"
is "$(j 'd["label"]')" sub_certificate_key "/seed004/csr: label"
j 'd["certificateSigningRequest"]' >sub.csr
openssl req -in sub.csr -verify -noout 2>/dev/null
ok $? "/seed004/csr: openssl req -verify accepts it"
like "$(openssl req -in sub.csr -noout -subject -nameopt RFC2253 2>/dev/null)" \
	'CN=SUB-Securosys-001,2.5.4.97=CHE-464.234.583 MWST,OU=Operations,O=Securosys SA,L=Zurich,ST=Zurich,C=CH|CN=SUB-Securosys-001,organizationIdentifier=CHE-464.234.583 MWST,OU=Operations,O=Securosys SA,L=Zurich,ST=Zurich,C=CH' \
	"/seed004/csr: the subject as asked"
like "$(openssl req -in sub.csr -noout -text 2>/dev/null | tr -d '\n')" \
	'Key Usage: critical *Digital Signature.*Extended Key Usage.*Any Extended Key Usage' \
	"/seed004/csr: keyUsage and extendedKeyUsage requested"
call GET /v1/key/sub_certificate_key/attributes "$KM"
is "$(openssl req -in sub.csr -noout -pubkey | openssl pkey -pubin -outform DER | base64 -w0)" \
	"$(j 'd["json"]["publicKey"]')" "/seed004/csr: made with the stored key"
is "$(count)" "$N0" "/seed004: no certificate stored by key creation or CSR"

# The same key as seed 003 names it, for the import at its end.
sed 's/"sub_certificate_key"/"SUB.approver.securosys.com"/' <<'EOF' >subkey.json
{"label": "sub_certificate_key", "password": null, "algorithm": "RSA", "keySize": 4096,
 "attributes": {"decrypt": false, "sign": true, "unwrap": false, "extractable": false,
 "modifiable": true, "destroyable": true}, "policy": null}
EOF
call POST /v1/key "$KM" subkey.json
is "$ST" 201 "/seed003/sub-key: SUB.approver.securosys.com created"
printf '%s' '{"signKeyName": "SUB.approver.securosys.com", "keyPassword": null, "signatureAlgorithm": "SHA256_WITH_RSA", "standardCertificateAttributes": {"commonName": "SUB-Securosys-001", "country": "CH"}, "keyUsage": ["DIGITAL_SIGNATURE"], "extendedKeyUsage": ["ANY_EXTENDED_KEY_USAGE"]}' >subcsr.json
call POST /v1/certificate/synchronous/request "$KO" subcsr.json
j 'd["certificateSigningRequest"]' >sub2.csr
openssl req -in sub2.csr -verify -noout 2>/dev/null
ok $? "/seed003/sub-key: its CSR verifies"

# ---------------------------------------------------------------- the approval-protected CA key

ska_key CA.approver.securosys.com "$(policy 2 0 0 "$P1" "$P2" "$P3")"
is "$ST" 201 "/ska/create: 2-of-3 policy of RSA, EC and Ed25519 approvers"
call GET /v1/key/CA.approver.securosys.com/attributes "$KM"
is "$(j 'len(d["json"]["policy"]["ruleUse"]["tokens"][0]["groups"][0]["approvals"]), d["json"]["policy"]["ruleUse"]["tokens"][0]["groups"][0]["quorum"]')" \
	"(3, 2)" "/ska/attributes: the policy as given"
make_ca CA.approver.securosys.com secret
ok $? "/ska/ca-certificate: CSR signed by the demo root (certgate issue) and imported"
call GET /v1/certificate/CA.approver.securosys.com "$KO"
cmp -s <(j 'd["certificate"]' | openssl x509 -outform DER) \
	<(openssl x509 -in CA.approver.securosys.com.pem -outform DER)
ok $? "/ska/certificate: GET returns the imported certificate"

# ---------------------------------------------------------------- refusals on keys

snap
printf '%s' '{"signKeyName": "CA.approver.securosys.com", "keyPassword": ["w","r","o","n","g"], "standardCertificateAttributes": {"commonName": "x"}}' >wrongpw.json
call POST /v1/certificate/synchronous/request "$KO" wrongpw.json
refused /refuse/wrong-key-password/csr 403 641 "wrong password for key CA.approver.securosys.com"
snap
sign_req CA.approver.securosys.com wrong sub.csr
call POST /v1/certificate/sign "$KO" sign.json
refused /refuse/wrong-key-password/sign 403 641 "wrong password"

snap
printf '%s' '{"label": "sub_certificate_key", "password": null}' >exp.json
call POST /v1/key/export/plain "$KM" exp.json
refused /refuse/non-extractable-export 403 641 "not extractable"
printf '%s' '{"label": "export-me", "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7", "attributes": {"extractable": true, "sensitive": false}}' >expkey.json
call POST /v1/key "$KM" expkey.json
printf '%s' '{"label": "export-me", "password": null}' >exp.json
call POST /v1/key/export/plain "$KM" exp.json
is "$ST" 200 "/export/extractable: exported"
j 'd["privateKey"]' | base64 -d >export-me.der
is "$(openssl pkey -inform DER -in export-me.der -pubout -outform DER | base64 -w0)" \
	"$(j 'd["publicKey"]')" "/export/extractable: openssl reads the PKCS#8 key, which is the key's"
# The private scalar as openssl prints it ("priv:" hex lines), searched for in the raw files.
openssl pkey -inform DER -in export-me.der -noout -text 2>/dev/null |
	sed -n '/^priv:/,/^pub:/p' | sed '1d;$d' | tr -d ' :\n' >scalar.hex
$PY -c 'import sys
k = bytes.fromhex(open(sys.argv[1]).read().strip())
if len(k) < 31:
    sys.exit(2)
der = open(sys.argv[2], "rb").read()
for f in sys.argv[3:]:
    try:
        data = open(f, "rb").read()
    except OSError:
        continue
    if k[-31:] in data or der in data:
        sys.exit(1)' scalar.hex export-me.der "$D/state/keystore.db" "$D/state/keystore.db-wal"
ok $? "/export/at-rest: the key store's files never hold the key in clear"

snap
B=$(openssl x509 -in CA.approver.securosys.com.pem -outform DER | base64 -w0)
printf '{"label": "SUB.approver.securosys.com", "certificate": "%s"}' "$B" >imp.json
call POST /v1/certificate/import/plain "$KO" imp.json
refused /refuse/import-mismatch 403 603 "does not match key SUB.approver.securosys.com"
snap
$PY -c 'import json,sys; print(json.dumps({"label": "CA.approver.securosys.com", "certificate": open(sys.argv[1]).read()}))' \
	CA.approver.securosys.com.pem >imp.json
call POST /v1/certificate/import/plain "$KO" imp.json
refused /refuse/import-pem-armour 400 400 "without the PEM BEGIN / END lines"

# ---------------------------------------------------------------- tokens of other roles

snap
i=0
for row in "GET /v1/key KO" "GET /v1/key KA" "DELETE /v1/key/export-me KS" \
	"POST /v1/certificate/synchronous/request KM" "GET /v1/certificate/export-me KS" \
	"GET /v1/request/00000000-0000-4000-8000-000000000000 KA" \
	"POST /v1/filteredSignApprovalTask KO" "POST /v1/approval KM" "POST /v1/rejection KS" \
	"GET /v1/versionInfo KM" "GET /v1/versionInfo KA"; do
	set -- $row
	eval "tok=\$$3"
	printf '{}' >empty.json
	if [ "$1" = GET ] || [ "$1" = DELETE ]; then call "$1" "$2" "$tok"; else call "$1" "$2" "$tok" empty.json; fi
	is "$ST:$(j 'd["errorCode"]')" "403:632" "/roles/$3-token-on-$1-$2: 403"
	i=$((i + 1))
done
is "$(count)" "$N0" "/roles: nothing stored"
[ "$(audits)" -ge $((A0 + i)) ]
ok $? "/roles: each refusal audited"
call GET /v1/key ""
is "$ST:$(j 'd["errorCode"]')" "401:631" "/roles/no-api-key: 401 errorCode 631"
call GET /v1/key "not-a-key"
is "$ST:$(j 'd["errorCode"]')" "401:631" "/roles/unknown-api-key: 401 errorCode 631"

# ---------------------------------------------------------------- seed 003: sign, approve, fetch, import

sign_req CA.approver.securosys.com secret sub2.csr
N_BEFORE=$(count)
$PY - "$U" "$KO" "$CAF" sign.json >sid.txt <<'EOF'
import json, sys, requests
url, key, ca, body = sys.argv[1:5]
r = requests.post(url + "/v1/certificate/sign", headers={"X-API-KEY": key},
                  json=json.load(open(body)), verify=ca)
print(r.status_code, r.json().get("signRequestId"))
EOF
read -r code SID <sid.txt
is "$code" 201 "/seed003/sign: python requests gets 201"
like "$SID" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
	"/seed003/sign: a signRequestId (UUID)"
call GET "/v1/request/$SID" "$KO"
is "$(j 'd["status"], len(d["approvedBy"]), len(d["notYetApprovedBy"]), d["result"]')" \
	"('PENDING', 0, 3, None)" "/seed003/pending: no approvals yet, three may approve"

# A curl user fetches the task (signed timestamp) and sends a forged approval.
tasks_curl a1.pem
is "$ST:$(j 'len(d["tasks"])')" "200:1" "/approver/curl: the task is listed for a1"
j 'd["tasks"][0]["approvalToBeSigned"]' >tok.b64
base64 -d tok.b64 >tok.bin
like "$(cat tok.bin)" "request: $SID" "/approver/curl: the token names the request"
printf 'not the token' >other.bin
snap
$PY -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "approvalToBeSigned": open(sys.argv[2]).read().strip(), "signature": sys.argv[3], "approvalDigestAlgorithm": "SHA-256", "approverPublicKey": sys.argv[4]}))' \
	"$SID" tok.b64 "$(osign a1.pem other.bin)" "$P1" >appr.json
call POST /v1/approval "$KA" appr.json
refused /refuse/forged-approval-signature 403 641 "does not verify"
is "$(status_of "$SID")" PENDING "/refuse/forged-approval-signature: still PENDING"
is "$(j 'len(d["approvedBy"])')" 0 "/refuse/forged-approval-signature: no approval recorded"

snap
$PY -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "approvalToBeSigned": open(sys.argv[2]).read().strip(), "signature": sys.argv[3], "approvalDigestAlgorithm": "EdDSA", "approverPublicKey": sys.argv[4]}))' \
	"$SID" tok.b64 "$(osign rogue.pem tok.bin)" "$(spki rogue.pem)" >appr.json
call POST /v1/approval "$KA" appr.json
refused /refuse/approver-not-in-policy 403 641 "not in the policy of key CA.approver.securosys.com"
out=$(approve_cli rogue.pem approve "$SID" 2>&1)
ok $((! $?)) "/refuse/approver-not-in-policy: certgate approve finds no task for that key"
like "$out" "no task" "/refuse/approver-not-in-policy: and says so"

# The approver app: certgate approve, an RSA then an EC approver.
out=$(approve_cli a1.pem list 2>&1)
like "$out" "$SID  key CA.approver.securosys.com" "/approver/cli/list: the task"
like "$out" "subject: CN=Approver-Intermediate-SUB" "/approver/cli/list: what is to be signed"
out=$(approve_cli a1.pem approve "$SID" 2>&1)
like "$out" "approved: request is PENDING" "/approver/cli/approve: first of two (RSA)"
is "$(count)" "$N_BEFORE" "/approver/cli/approve: nothing issued before the quorum"
out=$(approve_cli a1.pem approve "$SID" 2>&1)
ok $((! $?)) "/approver/cli/approve: the same key cannot approve twice"
out=$(approve_cli a2.pem approve "$SID" 2>&1)
like "$out" "approved: request is EXECUTED" "/approver/cli/approve: the quorum executes (EC)"

$PY - "$U" "$KO" "$CAF" "$SID" >res.json <<'EOF'
import json, sys, requests
url, key, ca, sid = sys.argv[1:5]
r = requests.get(url + "/v1/request/" + sid, headers={"X-API-KEY": key}, verify=ca)
print(json.dumps(r.json()))
EOF
is "$(j 'd["status"], sorted(d["approvedBy"]) == sorted(a), d["notYetApprovedBy"], d["rejectedBy"]' res.json "$P1" "$P2")" \
	"('EXECUTED', True, [], [])" "/seed003/executed: approvedBy the two approvers' public keys"
like "$(j 'd["executionTime"]' res.json)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
	"/seed003/executed: executionTime"
j 'd["result"]' res.json >SUB-Securosys-001.crt
openssl verify -CAfile "$D/ca/root.pem" -untrusted CA.approver.securosys.com.pem \
	SUB-Securosys-001.crt >/dev/null 2>&1
ok $? "/seed003/result: openssl verify accepts the chain root -> CA key -> result"
like "$(openssl x509 -in SUB-Securosys-001.crt --text --noout 2>/dev/null | tr -d '\n')" \
	'Issuer: O = certgate demo, CN = CA.approver.securosys.com CA.*Subject: CN = Approver-Intermediate-SUB' \
	"/seed003/result: issuer is the CA key, subject the commonName"
like "$(openssl x509 -in SUB-Securosys-001.crt -noout -ext basicConstraints,keyUsage,extendedKeyUsage 2>/dev/null | tr -d '\n')" \
	'Digital Signature.*CA:FALSE.*Any Extended Key Usage' \
	"/seed003/result: end-entity with the usages asked"
is "$(count)" "$((N_BEFORE + 1))" "/seed003/result: one certificate recorded"
serial=$(openssl x509 -in SUB-Securosys-001.crt -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
like "$("$CG" list -c "$C" --serial "$serial" 2>/dev/null)" "$serial +valid .*tsb-keys +CN=Approver-Intermediate-SUB" \
	"/seed003/result: certgate list shows it, issued under the key-store profile"

# The seed's import: the result without its PEM lines.
printf '{\n  "label": "SUB.approver.securosys.com",\n  "certificate": "%s"\n}\n' \
	"$(sed '/-----/d' SUB-Securosys-001.crt | tr -d '\n')" >seedimp.json
call POST /v1/certificate/import/plain "$KO" seedimp.json
is "$ST" 200 "/seed003/import: the result imported for SUB.approver.securosys.com"

# ---------------------------------------------------------------- more requests on the CA key

# Concurrent approvals: three at once, one certificate.
sign_req CA.approver.securosys.com secret sub2.csr
call POST /v1/certificate/sign "$KO" sign.json
RID=$(j 'd["signRequestId"]')
N1=$(count)
approve_cli a1.pem approve "$RID" >race1.out 2>&1 &
p1=$!
approve_cli a2.pem approve "$RID" >race2.out 2>&1 &
p2=$!
approve_cli a3.pem approve "$RID" >race3.out 2>&1 &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
is "$(status_of "$RID")" EXECUTED "/race: three approvals at once execute the request"
is "$(count)" "$((N1 + 1))" "/race: exactly one certificate"
[ $((r1 + r2 + r3)) -le 1 ]
ok $? "/race: at least two approvals accepted (exit $r1 $r2 $r3)"

# Rejection: two of three reject.
call POST /v1/certificate/sign "$KO" sign.json
RJ=$(j 'd["signRequestId"]')
out=$(approve_cli a3.pem reject "$RJ" 2>&1)
like "$out" "rejected: request is PENDING" "/reject: one rejection leaves it reachable"
out=$(approve_cli a1.pem reject "$RJ" 2>&1)
like "$out" "rejected: request is REJECTED" "/reject: a second makes the quorum unreachable"
call GET "/v1/request/$RJ" "$KO"
is "$(j 'd["status"], len(d["rejectedBy"]), d["notYetApprovedBy"], d["result"]')" \
	"('REJECTED', 2, [], None)" "/reject: status and rejectedBy"
out=$(approve_cli a2.pem approve "$RJ" 2>&1)
ok $((! $?)) "/reject: no approval after"

# Cancelled by the requester.
call POST /v1/certificate/sign "$KO" sign.json
CID=$(j 'd["signRequestId"]')
call DELETE "/v1/request/$CID" "$KO"
is "$ST:$(j 'd["status"]')" "200:CANCELLED" "/cancel: DELETE /v1/request"
is "$(status_of "$CID")" CANCELLED "/cancel: it stays CANCELLED"
tasks_curl a1.pem
is "$(j 'len([t for t in d["tasks"] if t["id"] == a[0]])' out.json "$CID")" 0 \
	"/cancel: no task any more"
snap
call DELETE "/v1/request/$CID" "$KO"
refused /refuse/cancel-twice 409 661 "CANCELLED and cannot be cancelled"
call GET /v1/request/00000000-0000-4000-8000-000000000000 "$KO"
is "$ST:$(j 'd["errorCode"]')" "404:651" "/request/unknown: 404 errorCode 651"

# The SKA key does not sign synchronously.
snap
$PY -c 'import json; d = json.load(open("sign.json"))["signCertificateRequest"]; print(json.dumps(d))' >sync.json
call POST /v1/certificate/synchronous/sign "$KO" sync.json
refused /refuse/sync-sign-with-policy-key 409 661 "has an approval policy"

# ---------------------------------------------------------------- timeout, timelock

ska_key CA.short "$(policy 1 0 5 "$P1")"
make_ca CA.short secret
ok $? "/timeout/key: 1-of-1 with a 5 s timeout"
ska_key CA.lock "$(policy 1 8 0 "$P3")"
make_ca CA.lock secret
ok $? "/timelock/key: 1-of-1 with an 8 s timelock"
sign_req CA.short secret sub2.csr
call POST /v1/certificate/sign "$KO" sign.json
XID=$(j 'd["signRequestId"]')
tasks_curl a1.pem
j '[t["approvalToBeSigned"] for t in d["tasks"] if t["id"] == a[0]][0]' out.json "$XID" >xtok.b64
base64 -d xtok.b64 >xtok.bin
sign_req CA.lock secret sub2.csr
t0=$(date +%s)
call POST /v1/certificate/sign "$KO" sign.json
LID=$(j 'd["signRequestId"]')
out=$(approve_cli a3.pem approve "$LID" 2>&1)
like "$out" "approved: request is APPROVED" "/timelock: approved, but waiting"
call GET "/v1/request/$LID" "$KO"
is "$(j 'd["status"], d["result"]')" "('APPROVED', None)" "/timelock: not executed before it passes"
n=0
while [ "$(status_of "$LID")" = APPROVED ] && [ $n -lt 60 ]; do
	sleep 0.5
	n=$((n + 1))
done
is "$(j 'd["status"]')" EXECUTED "/timelock: executed once it passed"
j '__import__("calendar").timegm(__import__("time").strptime(d["executionTime"], "%Y-%m-%dT%H:%M:%SZ")) >= int(a[0]) + 8' \
	out.json "$t0" >lock.ok
is "$(cat lock.ok)" True "/timelock: not before 8 s after the request"
j 'd["result"]' >lock.pem
openssl verify -CAfile "$D/ca/root.pem" -untrusted CA.lock.pem lock.pem >/dev/null 2>&1
ok $? "/timelock: the certificate verifies"
is "$(status_of "$XID")" EXPIRED "/timeout: EXPIRED after its timeout"
snap
$PY -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "approvalToBeSigned": open(sys.argv[2]).read().strip(), "signature": sys.argv[3], "approvalDigestAlgorithm": "SHA-256", "approverPublicKey": sys.argv[4]}))' \
	"$XID" xtok.b64 "$(osign a1.pem xtok.bin)" "$P1" >appr.json
call POST /v1/approval "$KA" appr.json
refused /refuse/approval-after-timeout 409 661 "is EXPIRED"

# ---------------------------------------------------------------- a CA key without policy

printf '%s' '{"label": "CA.plain", "algorithm": "EC", "curveOid": "1.3.132.0.34", "attributes": {"sign": true}, "policy": null}' >plain.json
call POST /v1/key "$KM" plain.json
make_ca CA.plain
ok $? "/plain/key: a P-384 CA key without policy"
$PY -c 'import json; d = json.load(open("sign.json"))["signCertificateRequest"]
d.update(signKeyName="CA.plain", keyPassword=None, signatureAlgorithm="SHA384_WITH_ECDSA",
         keyUsage=["DIGITAL_SIGNATURE,KEY_ENCIPHERMENT"], extendedKeyUsage=[""], validity=30)
print(json.dumps(d))' >sync.json
N1=$(count)
call POST /v1/certificate/synchronous/sign "$KO" sync.json
is "$ST" 200 "/plain/sync-sign: signed at once (tsb-client-go's joined usages)"
j 'd["certificate"]' >plain-leaf.pem
openssl verify -CAfile "$D/ca/root.pem" -untrusted CA.plain.pem plain-leaf.pem >/dev/null 2>&1
ok $? "/plain/sync-sign: the certificate verifies"
like "$(openssl x509 -in plain-leaf.pem -noout -ext keyUsage -enddate 2>/dev/null | tr -d '\n')" \
	'Digital Signature, Key Encipherment' "/plain/sync-sign: both usages"
is "$(count)" "$((N1 + 1))" "/plain/sync-sign: recorded"

# The stored key acting as a CA publishes its own CRL (/crl/tsb-<label>.crl, be_crlpub.h),
# signed with the stored key; `certgate revoke` by serial revokes what it signed.
H="http://127.0.0.1:$http_port"
call POST /v1/certificate/synchronous/sign "$KO" sync.json
j 'd["certificate"]' >plain-good.pem
s_plain=$(openssl x509 -in plain-leaf.pem -noout -serial | cut -d= -f2)
"$CG" revoke -c "$C" "$s_plain" --reason keyCompromise >rev.out 2>&1
ok $? "/tsb-crl/revoke: certgate revoke takes the serial of a certificate a stored key signed"
for _ in $(seq 50); do
	crl_st=$(curl -s -o plain.crl -D plain.crl.h -w '%{http_code}' "$H/crl/tsb-CA.plain.crl")
	[ "$crl_st" = 200 ] && openssl crl -inform DER -in plain.crl -noout -text 2>/dev/null |
		grep -qi "Serial Number: $s_plain\$" && break
	sleep 0.2
done
is "$crl_st" 200 "/tsb-crl/served: GET /crl/tsb-CA.plain.crl"
like "$(tr -d '\r' <plain.crl.h)" "Content-Type: application/pkix-crl" \
	"/tsb-crl/served: application/pkix-crl"
like "$(openssl crl -inform DER -in plain.crl -CAfile CA.plain.pem -noout 2>&1)" "verify OK" \
	"/tsb-crl/signed: openssl verifies the CRL with CA.plain's certificate (the stored key signed it)"
is "$(openssl crl -inform DER -in plain.crl -noout -issuer 2>/dev/null)" \
	"$(openssl x509 -in CA.plain.pem -noout -subject 2>/dev/null | sed 's/^subject/issuer/')" \
	"/tsb-crl/signed: its issuer is CA.plain's subject"
like "$(openssl crl -inform DER -in plain.crl -noout -text 2>/dev/null | tr -d '\n')" \
	"Signature Algorithm: ecdsa-with-SHA384.*Serial Number: $s_plain *Revocation Date.*Key Compromise" \
	"/tsb-crl/listed: the revoked certificate with keyCompromise, signed ECDSA-SHA384 (P-384 key)"
openssl crl -inform DER -in plain.crl -out plain-crl.pem 2>/dev/null
cat "$D/ca/root.pem" CA.plain.pem >plain-chain.pem
like "$(openssl verify -crl_check -CAfile plain-chain.pem -CRLfile plain-crl.pem plain-leaf.pem 2>&1 | tr '\n' ' ')" \
	"certificate revoked" "/tsb-crl/verify: openssl verify -crl_check: the revoked one is revoked"
like "$(openssl verify -crl_check -CAfile plain-chain.pem -CRLfile plain-crl.pem plain-good.pem 2>&1 | tr '\n' ' ')" \
	"plain-good.pem: OK" "/tsb-crl/verify: openssl verify -crl_check: the good one is OK"
like "$(curl -s "$H/metrics")" 'certgate_crl_entries\{ca="tsb-CA.plain",shard="all"\} 1' \
	"/tsb-crl/metrics: /metrics has its size in entries"
is "$(curl -s -o /dev/null -w '%{http_code}' "$H/crl/tsb-no.such.key.crl")" 404 \
	"/tsb-crl/unknown: a key that does not exist has no CRL (404)"
is "$(curl -s -o /dev/null -w '%{http_code}' "$H/crl/tsb-sub_certificate_key.crl")" 404 \
	"/tsb-crl/unknown: a key without a CA certificate has no CRL (404)"
snap

# Weak client keys and CSR signatures (certgate.json(5) KEYS CERTGATE CERTIFIES): 400,
# nothing stored, audited, on the same request that just succeeded
"$PY" "$top_srcdir/tests/weakkey.py" fermat fermat.key || bail "weakkey.py failed"
openssl req -new -key fermat.key -subj "/CN=weak" -out weak-fermat.csr 2>/dev/null
openssl req -new -key a1.pem -subj "/CN=weak" -sha1 -out weak-sha1.csr 2>/dev/null
for w in fermat:"Fermat's method" sha1:"RSA-SHA1 .*is not accepted"; do
	$PY -c 'import json,sys; d = json.load(open("sync.json"))
d["certificateSigningRequest"] = open(sys.argv[1]).read(); print(json.dumps(d))' \
		"weak-${w%%:*}.csr" >weak.json
	call POST /v1/certificate/synchronous/sign "$KO" weak.json
	refused "/refuse/weak-csr-${w%%:*}" 400 400 "${w#*:}"
	snap
done
call POST /v1/certificate/synchronous/sign "$KO" sync.json
is "$ST" 200 "/refuse/weak-csr: still signing good requests"
# What a key operator asks is bounded by the profile tsb.profile names (tsb-keys): each
# refusal is 400 naming the field, stores nothing, and is audited with who asked.
last_audit() { "$CG" audit -c "$C" | tail -n 1; }
# bounded NAME PY-EDIT ENDPOINT MESSAGE-REGEX: sync.json edited by PY-EDIT (on d), refused.
bounded() {
	$PY -c 'import json,sys; d = json.load(open("sync.json")); exec(sys.argv[1])
if sys.argv[2] == "sign":
    d = {"signCertificateRequest": d}
print(json.dumps(d))' "$2" "$3" >bounded.json
	snap
	if [ "$3" = sign ]; then
		call POST /v1/certificate/sign "$KO" bounded.json
	else
		call POST /v1/certificate/synchronous/sign "$KO" bounded.json
	fi
	refused "$1" 400 400 "$4"
	like "$(last_audit)" "tsb certificate-sign(-sync)? refused principal=tsb-keyop .*$4" \
		"$1: the audit entry names who asked and why"
}
bounded /refuse/ca-not-in-profile/sync 'd["certificateAuthority"] = True' sync \
	"certificateAuthority: profile tsb-keys does not issue CA certificates"
bounded /refuse/ca-not-in-profile/request 'd["certificateAuthority"] = True' sign \
	"certificateAuthority: profile tsb-keys does not issue CA certificates"
bounded /refuse/key-cert-sign-without-ca 'd["keyUsage"] = ["DIGITAL_SIGNATURE", "KEY_CERT_SIGN"]' sync \
	"keyUsage: keyCertSign only in a CA certificate"
bounded /refuse/key-usage-outside-profile 'd["keyUsage"] = ["KEY_AGREEMENT", "DECIPHER_ONLY"]' sync \
	"keyUsage: decipherOnly is outside what profile tsb-keys allows"
bounded /refuse/eku-outside-profile 'd["extendedKeyUsage"] = ["CLIENT_AUTH", "IPSEC_TUNNEL"]' sign \
	"extendedKeyUsage: 1.3.6.1.5.5.7.3.6 is outside what profile tsb-keys allows"
bounded /refuse/validity-over-cap 'd["validity"] = 3650' sync \
	"validity: 3650 days exceeds the 825 days profile tsb-keys allows"
snap
$PY -c 'import json; d = json.load(open("sync.json")); d["shoeSize"] = 44; print(json.dumps(d))' >syncx.json
call POST /v1/certificate/synchronous/sign "$KO" syncx.json
refused /refuse/unknown-key-in-body 400 400 "shoeSize: unknown key"
snap
ST=$(curl -s --cacert "$CAF" -o out.json -w '%{http_code}' -X POST -H "X-API-KEY: $KO" \
	-H "Content-Type: application/x-www-form-urlencoded" --data-binary @sync.json \
	"$U/v1/certificate/synchronous/sign")
refused /refuse/not-json 415 415 "application/json"

# A body over limits.max_body is refused by the server before the adapter reads it (by
# Content-Length, or as a chunked body streams in): still a TSB error body.
MAX=$(lib_oversize_body "$C" over.json)
oversize() {	# oversize NAME curl-args...
	local name=$1 n0
	shift
	n0=$(count)
	ST=$(curl -s --cacert "$CAF" -o out.json -D out.h -w '%{http_code}' -X POST \
		-H "X-API-KEY: $KO" -H "Content-Type: application/json" --data-binary @over.json \
		"$@" "$U/v1/certificate/synchronous/sign")
	lib_json_refusal "$name" "$ST" 413 out.h out.json
	is "$(j 'd["errorCode"]') $(j 'd["reason"]')" "413 res.error.payload.too.large" \
		"$name: errorCode 413, res.error.payload.too.large"
	like "$(j 'd["message"]')" "larger than the limit of $MAX bytes \(limits.max_body\)" \
		"$name: names the limit"
	is "$(count)" "$n0" "$name: nothing stored"
}
oversize /refuse/over-max-body
oversize /refuse/over-max-body-chunked -H 'Transfer-Encoding: chunked'

# ---------------------------------------------------------------- deleting keys

sign_req CA.lock secret sub2.csr
call POST /v1/certificate/sign "$KO" sign.json
DID=$(j 'd["signRequestId"]')
call DELETE /v1/key/CA.lock "$KM"
is "$ST:$(j 'd["cancelledRequests"]')" "200:1" "/delete: CA.lock destroyed, its pending request too"
is "$(status_of "$DID")" CANCELLED "/delete: that request is CANCELLED"
is "$(curl -s -o ska.crl -w '%{http_code}' "$H/crl/tsb-CA.approver.securosys.com.crl")" 200 \
	"/tsb-crl/policy-key: the approval-protected CA key has its CRL too"
like "$(openssl crl -inform DER -in ska.crl -CAfile CA.approver.securosys.com.pem -noout 2>&1)" \
	"verify OK" "/tsb-crl/policy-key: signed with that key"
sign_req CA.approver.securosys.com secret sub2.csr
call POST /v1/certificate/sign "$KO" sign.json
PID2=$(j 'd["signRequestId"]')
call DELETE /v1/key/CA.approver.securosys.com "$KM"
is "$ST:$(j 'd["cancelledRequests"]')" "200:1" "/delete: the CA key, with its pending request"
is "$(status_of "$PID2")" CANCELLED "/delete: its pending request is CANCELLED"
call GET /v1/key/CA.approver.securosys.com/attributes "$KM"
is "$ST:$(j 'd["errorCode"]')" "404:650" "/delete: the key is gone (errorCode 650)"
for _ in $(seq 50); do
	crl_st=$(curl -s -o /dev/null -w '%{http_code}' "$H/crl/tsb-CA.approver.securosys.com.crl")
	[ "$crl_st" = 404 ] && break
	sleep 0.2
done
is "$crl_st" 404 "/tsb-crl/deleted: a destroyed key's CRL is gone (no copy of the key signs on)"
is "$(curl -s -o /dev/null -w '%{http_code}' "$H/crl/tsb-CA.plain.crl")" 200 \
	"/tsb-crl/deleted: the other keys' CRLs stay"
call GET /v1/key "$KM"
is "$(j 'sorted(d)')" '["CA.plain", "CA.short", "SUB.approver.securosys.com", "export-me", "sub_certificate_key"]' \
	"/delete: the others remain"

lib_stop "$SRV"
ok $? "/serve: stops cleanly"

# ---------------------------------------------------------------- a profile that allows CA certificates

# tsb-keys edited to let key operators make sub-CAs (pathLen at most 0), and tsb-sub-ca to
# give a stored key's own certificate pathLen 1.
$PY - "$C" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1]))
p = c["profiles"]["tsb-keys"]
p["ca_certificate"] = True
p["path_len"] = 0
p["key_usage"] += ["keyCertSign", "cRLSign"]
c["profiles"]["tsb-sub-ca"]["path_len"] = 1
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF2
lib_spawn serve2 "$CG" serve -c "$C"
SRV=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "certgate serve did not restart: $(cat serve2.err)"
printf '%s' '{"label": "CA.deep", "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7", "attributes": {"sign": true}, "policy": null}' >deep.json
call POST /v1/key "$KM" deep.json
make_ca CA.deep
ok $? "/ca-allowed/key: CA.deep with a certificate of pathLen 1"
$PY -c 'import json; d = json.load(open("sync.json"))
d.update(signKeyName="CA.deep", signatureAlgorithm="SHA256_WITH_ECDSA", certificateAuthority=True,
         keyUsage=["DIGITAL_SIGNATURE"], extendedKeyUsage=None, validity=1000)
print(json.dumps(d))' >deepca.json
N1=$(count)
call POST /v1/certificate/synchronous/sign "$KO" deepca.json
is "$ST" 200 "/ca-allowed/sync-sign: a CA certificate, as the profile now allows"
j 'd["certificate"]' >deep-ca.pem
openssl verify -CAfile "$D/ca/root.pem" -untrusted CA.deep.pem deep-ca.pem >/dev/null 2>&1
ok $? "/ca-allowed/sync-sign: openssl verifies root -> CA.deep -> the new CA"
like "$(openssl x509 -in deep-ca.pem -noout -ext basicConstraints,keyUsage 2>/dev/null | tr -d '\n')" \
	'Digital Signature, Certificate Sign, CRL Sign.*CA:TRUE, pathlen:0' \
	"/ca-allowed/sync-sign: cA with pathLen 0 (one below the issuer's, the profile's most)"
is "$(count)" "$((N1 + 1))" "/ca-allowed/sync-sign: recorded"
snap
$PY -c 'import json; d = json.load(open("deepca.json")); d["validity"] = 1826; print(json.dumps(d))' >deeplong.json
call POST /v1/certificate/synchronous/sign "$KO" deeplong.json
refused /refuse/ca-validity-over-cap 400 400 "1826 days exceeds the 1825 days profile tsb-keys allows for CA certificates"
snap
$PY -c 'import json; d = json.load(open("deepca.json")); d.update(signKeyName="CA.plain", signatureAlgorithm="SHA384_WITH_ECDSA"); print(json.dumps(d))' >plainca.json
call POST /v1/certificate/synchronous/sign "$KO" plainca.json
refused /refuse/sub-ca-under-pathlen-0 403 603 "pathLenConstraint 0"
lib_stop "$SRV"
ok $? "/serve: stops cleanly again"
lib_done
