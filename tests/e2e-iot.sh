#!/bin/bash
# End to end: the enrollment-profile JSON API (DigiCert IoT Trust Manager style, PROTOCOLS.md
# section 4, seed 002) against the real daemon.  Every private key format is decoded the way
# the seed tells a user to (base64 -d, openssl pkcs12, openssl smime/cms -decrypt, unzip),
# for an RSA and an EC encryption certificate, and the key must match the certificate; renew,
# search, revoke, enrollment profiles and their sample payloads; passcodes and client
# certificates; every bad input refused before any work, storing nothing but an audit entry.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"

https_port=$(lib_free_port)
http_port=$(lib_free_port)
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"

# ---------------------------------------------------------------- helpers

# Debian's interpreter (a python3 earlier in PATH may be a slow shim).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

pj() {	# FILE PYTHON-EXPRESSION-OVER-d
	$PY -c 'import json, sys; d = json.load(open(sys.argv[1])); r = eval(sys.argv[2]); print(r if isinstance(r, str) else json.dumps(r))' "$1" "$2"
}
cred() { pj "$D/demo-credentials.json" "$1"; }

KEY=$(cred 'd["iot-client"]["api_key"]')
ADMIN=$(cred 'd["admin"]["api_key"]')
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59	# client or server key, on iot-device
FEP=IOT_0c7d5e21-4f3a-4b9c-8e6d-1a2b3c4d5e6f	# factory: CSR only, on iot-device-csr
PC=$(cred "d['iot-passcodes']['$EP']")
FPC=$(cred "d['iot-passcodes']['$FEP']")
BASE="https://localhost:$https_port/iot/api/v1"
CHAIN="$D/ca/chain.pem"

# jbody k=v k:=JSON @k=FILE attr:ID=V dev:ID=V ... -> a JSON request body on stdout
jbody() {
	$PY - "$@" <<'PY'
import json, sys
d = {}
for a in sys.argv[1:]:
    if a.startswith('attr:'):
        k, v = a[5:].split('=', 1)
        d.setdefault('certificate_profile_attributes', []).append({'id': k, 'value': v})
    elif a.startswith('dev:'):
        k, v = a[4:].split('=', 1)
        d.setdefault('device_attributes', []).append({'id': k, 'value': v})
    elif a.startswith('@'):
        k, v = a[1:].split('=', 1)
        d[k] = open(v).read()
    else:
        k, v = a.split('=', 1)
        if k.endswith(':'):
            d[k[:-1]] = json.loads(v)
        else:
            d[k] = v
print(json.dumps(d))
PY
}

# call METHOD PATH BODY curl-args...: reply in out.json, headers in hdr.txt; prints the status.
call() {
	local m=$1 p=$2 body=$3
	shift 3
	if [ -n "$body" ]; then
		printf '%s' "$body" >req.json
		curl -s -o out.json -D hdr.txt -w '%{http_code}' --cacert "$CHAIN" -X "$m" \
			-H 'Content-Type: application/json' --data-binary @req.json "$@" "$BASE$p"
	else
		curl -s -o out.json -D hdr.txt -w '%{http_code}' --cacert "$CHAIN" -X "$m" "$@" \
			"$BASE$p"
	fi
}
api() { call "$1" "$2" "${3:-}" -H "x-api-key: $KEY"; }

count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
last_audit() { "$CG" audit -c "$C" | tail -n 1; }

# refuse NAME STATUS MESSAGE-REGEX METHOD PATH BODY curl-args...: refused with STATUS and an
# {errors:[{code, message}]} naming what was wrong, and nothing stored (the certificate count
# is unchanged).  The refusal's audit entry is checked at the end (audit_refusals), in one
# pass over the audit log.
STORED=
REFUSED_NAMES=()
REFUSED_MSGS=()
refuse() {
	local name=$1 want=$2 msg=$3 m=$4 p=$5 body=$6 got now
	shift 6
	[ -n "$STORED" ] || STORED=$(count)
	got=$(call "$m" "$p" "$body" "$@")
	is "$got" "$want" "$name: HTTP $want"
	got=$(pj out.json 'd["errors"][0]["code"] + ": " + d["errors"][0]["message"]')
	like "$got" "$msg" "$name: says why"
	now=$(count)
	is "$now" "$STORED" "$name: nothing stored"
	STORED=$now
	REFUSED_NAMES+=("$name")
	REFUSED_MSGS+=("${got#*: }")
}
audit_refusals() {
	local log i
	log=$("$CG" audit -c "$C")
	for i in "${!REFUSED_NAMES[@]}"; do
		printf '%s\n' "$log" | grep -F -- "${REFUSED_MSGS[$i]}" | grep -qE " iot [a-z-]+ refused "
		ok $? "${REFUSED_NAMES[$i]}: audited as a refusal with the reason"
	done
}

cert_of() { pj out.json 'd.get("pem", "")' >"$1"; }
# key_matches KEYFILE CERTFILE [inform]
key_matches() {
	cmp -s <(openssl pkey -in "$1" ${3:+-inform "$3"} -pubout 2>/dev/null) \
		<(openssl x509 -in "$2" -pubkey -noout 2>/dev/null)
}
verifies() { openssl verify -CAfile "$D/ca/root.pem" -untrusted "$CHAIN" "$1" >/dev/null 2>&1; }
ncerts() { grep -c 'BEGIN CERTIFICATE' "$1"; }

# Encryption certificates: RSA (key transport) and EC (key agreement), and bad ones.
openssl req -x509 -newkey rsa:2048 -nodes -keyout encr.key -out encr.pem -subj /CN=enc-rsa \
	-days 2 -addext keyUsage=keyEncipherment 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ence.key \
	-out ence.pem -subj /CN=enc-ec -days 2 -addext keyUsage=keyAgreement 2>/dev/null
openssl req -x509 -newkey rsa:1024 -nodes -keyout enc1024.key -out enc1024.pem \
	-subj /CN=weak -days 2 2>/dev/null
printf 'not a certificate\n' >encbad.pem
# Device CSRs.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
	-subj "/CN=csr-device" -addext "subjectAltName=DNS:csr-device.example.com" -out dev.csr 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout dev2.key \
	-subj "/CN=someone-else/O=Other" -out dev2.csr 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj "/CN=rsa-device" -out rsa.csr 2>/dev/null

lib_spawn serve "$CG" serve -c "$C"
pid=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 15 || bail "server did not start: $(cat serve.err)"

# ---------------------------------------------------------------- enrollment profiles

is "$(api GET /enrollment-profile)" 200 "/profiles/list: 200"
is "$(pj out.json '" ".join(sorted(r["id"] for r in d["records"]))')" "$FEP $EP" \
	"/profiles/list: both demo enrollment profiles"
! grep -q 'sha256\$' out.json
ok $? "/profiles/list: passcode hashes never shown"
is "$(api GET "/enrollment-profile/$EP")" 200 "/profiles/get: 200"
is "$(pj out.json 'd["key_generation_option"] + " " + d["certificate_profile"]["name"] + " " + d["default_key_type"]')" \
	"client_or_server_side iot-device p_256" "/profiles/get: key generation, certificate profile, default key"
is "$(api GET /enrollment-profile/IOT_nope)" 404 "/profiles/get-unknown: 404"
is "$(pj out.json 'd["errors"][0]["code"]')" entity_not_found "/profiles/get-unknown: entity_not_found"
is "$(api GET "/enrollment-profile/$EP/sample-request")" 200 "/profiles/sample: 200"
cp out.json sample-dev.json
is "$(pj out.json '" ".join(sorted(d["enroll"])) + " / " + " ".join(sorted(d["renew"]))')" \
	"client_side_key_gen server_side_key_gen / client_side_key_gen server_side_key_gen" \
	"/profiles/sample: enroll and renew, client CSR and server keygen"
api GET "/enrollment-profile/$FEP/sample-request" >/dev/null
cp out.json sample-fac.json
is "$(pj out.json '" ".join(sorted(d["enroll"]))')" client_side_key_gen \
	"/profiles/sample: a client_side profile offers only the CSR payload"
like "$(pj out.json 'd["enroll"]["client_side_key_gen"]["body"]')" \
	'subject.serial_number.*hardware-id' "/profiles/sample: names required certificate and device attributes"

# A sample payload, filled in, enrolls.
$PY - sample-dev.json >body.json <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["enroll"]["server_side_key_gen"]["body"]
s = json.dumps(b).replace("{{subject.common_name}}", "sample-device")
assert "{{" not in s
print(s)
PY
is "$(api POST /certificate "$(cat body.json)")" 200 "/sample/server-keygen: the filled-in sample enrolls"
pj out.json 'd["private_key"]' >sample.key
cert_of sample.pem
key_matches sample.key sample.pem
ok $? "/sample/server-keygen: returned key matches the certificate"
$PY - sample-fac.json dev.csr >body.json <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["enroll"]["client_side_key_gen"]["body"]
b["csr"] = open(sys.argv[2]).read()
s = json.dumps(b).replace("{{subject.common_name}}", "factory-7") \
    .replace("{{subject.serial_number}}", "SN0007").replace("{{hardware-id}}", "hw-7")
print(s)
PY
is "$(call POST /certificate "$(cat body.json)" -H "x-passcode: $FPC")" 200 \
	"/sample/csr+passcode: the filled-in factory sample enrolls with the factory passcode"
cert_of fac.pem
like "$(openssl x509 -in fac.pem -noout -subject -nameopt RFC2253)" "CN=factory-7.*serialNumber=SN0007|serialNumber=SN0007.*CN=factory-7" \
	"/sample/csr+passcode: subject from the attributes"

# ---------------------------------------------------------------- enroll with a CSR

is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP @csr=dev.csr)")" 200 "/enroll/csr: 200"
is "$(pj out.json 'd["status"] + " " + d["result"]')" "AUTO_APPROVED SUCCESS" "/enroll/csr: AUTO_APPROVED SUCCESS"
! grep -qi '^cache-control: no-store' hdr.txt
ok $? "/enroll/csr: no key, no Cache-Control: no-store needed"
cert_of csr1.pem
is "$(ncerts csr1.pem)" 3 "/enroll/csr: pem holds the certificate, then the issuing CA and root"
verifies csr1.pem
ok $? "/enroll/csr: openssl verifies the certificate"
key_matches dev.key csr1.pem
ok $? "/enroll/csr: certificate carries the CSR's key"
like "$(openssl x509 -in csr1.pem -noout -ext subjectAltName)" "DNS:csr-device.example.com" \
	"/enroll/csr: subject and SAN from the CSR"
CSR1_ID=$(pj out.json 'd["certificate_id"]')
CSR1_SERIAL=$(pj out.json 'd["serial_number"]')
is "$CSR1_SERIAL" "$(openssl x509 -in csr1.pem -noout -serial | cut -d= -f2)" \
	"/enroll/csr: serial_number is the certificate's"
is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP @csr=dev.csr \
	attr:subject.common_name=renamed include_certificate_chain:=false)")" 200 \
	"/enroll/csr-attributes: 200"
cert_of csr2.pem
is "$(ncerts csr2.pem)" 1 "/enroll/csr-attributes: include_certificate_chain false gives the certificate alone"
like "$(openssl x509 -in csr2.pem -noout -subject)" "CN *= *renamed" \
	"/enroll/csr-attributes: subject.common_name overrides the CSR's"

# ---------------------------------------------------------------- server keygen, every format

enroll_fmt() {	# NAME key_type format [extra jbody args]
	local name=$1 kt=$2 fmt=$3
	shift 3
	is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
		key_type=$kt private_key_format=$fmt attr:subject.common_name=$name "$@")")" 200 \
		"/keygen/$name: 200"
	grep -qi '^cache-control: no-store' hdr.txt
	ok $? "/keygen/$name: Cache-Control: no-store on a reply holding a key"
	cert_of "$name.pem"
	pj out.json 'd["private_key"]' >"$name.out"
}

enroll_fmt pem-p256 p_256 pem
like "$(head -n1 pem-p256.out)" "BEGIN PRIVATE KEY" "/keygen/pem-p256: PEM PKCS#8 by default"
key_matches pem-p256.out pem-p256.pem
ok $? "/keygen/pem-p256: key matches the certificate"
verifies pem-p256.pem
ok $? "/keygen/pem-p256: openssl verifies the certificate"

enroll_fmt pem-rsa-pkcs1 rsa_2048 pem private_key_syntax=pkcs1
like "$(head -n1 pem-rsa-pkcs1.out)" "BEGIN RSA PRIVATE KEY" "/keygen/pem-rsa-pkcs1: PKCS#1 as asked"
key_matches pem-rsa-pkcs1.out pem-rsa-pkcs1.pem
ok $? "/keygen/pem-rsa-pkcs1: key matches the certificate"
like "$(openssl x509 -in pem-rsa-pkcs1.pem -noout -text)" "Public-Key: \(2048 bit\)" \
	"/keygen/pem-rsa-pkcs1: an RSA 2048 certificate"

enroll_fmt pem-ed25519 ed_25519 pem
key_matches pem-ed25519.out pem-ed25519.pem
ok $? "/keygen/pem-ed25519: Ed25519 key matches the certificate"

enroll_fmt der-p384 p_384 der
base64 -d der-p384.out >der-p384.der
key_matches der-p384.der der-p384.pem DER
ok $? "/keygen/der-p384: base64 -d gives a DER key that matches the certificate"

enroll_fmt der-pkcs1 p_256 der private_key_syntax=pkcs1
base64 -d der-pkcs1.out >der-pkcs1.der
openssl asn1parse -inform DER -in der-pkcs1.der 2>/dev/null | head -n 2 | grep -q 'INTEGER *:01'
ok $? "/keygen/der-pkcs1: an ECPrivateKey (RFC 5915, version 1)"
key_matches der-pkcs1.der der-pkcs1.pem DER
ok $? "/keygen/der-pkcs1: key matches the certificate"

enroll_fmt p12 p_256 pkcs_12 pkcs12_password=Secret123
base64 -d p12.out >p12.pfx
openssl pkcs12 -in p12.pfx -passin pass:Secret123 -nodes -out p12.all 2>/dev/null
ok $? "/keygen/p12: openssl pkcs12 opens the PFX with the password"
openssl pkey -in p12.all -out p12.key 2>/dev/null
key_matches p12.key p12.pem
ok $? "/keygen/p12: key in the PFX matches the certificate"
is "$(ncerts p12.all)" 3 "/keygen/p12: PFX holds certificate and chain"
openssl pkcs12 -in p12.pfx -passin pass:wrongpass -nodes -out /dev/null 2>/dev/null
ok $((! $?)) "/keygen/p12: a wrong password does not open it"
enroll_fmt p12-nochain p_256 pkcs_12 pkcs12_password=abcdef include_certificate_chain:=false
base64 -d p12-nochain.out >p12-nochain.pfx
openssl pkcs12 -in p12-nochain.pfx -passin pass:abcdef -nodes -out p12-nochain.all 2>/dev/null
is "$(ncerts p12-nochain.all)" 1 "/keygen/p12-nochain: include_certificate_chain false leaves the chain out"
openssl pkey -in p12-nochain.all -out p12-nochain.key 2>/dev/null
key_matches p12-nochain.key p12-nochain.pem
ok $? "/keygen/p12-nochain: key matches the certificate"

for rcp in rsa ec; do
	k=ence
	[ "$rcp" = rsa ] && k=encr
	enroll_fmt "bundle-$rcp" p_256 cert_encrypted @encryption_certificate=$k.pem
	is "$(pj out.json 'str("pem" in d)')" False "/keygen/bundle-$rcp: the certificate travels inside the bundle"
	base64 -d "bundle-$rcp.out" >"bundle-$rcp.p7m"
	openssl cms -decrypt -binary -inform DER -in "bundle-$rcp.p7m" -inkey $k.key \
		-recip $k.pem -out "bundle-$rcp.zip" 2>cms.err
	ok $? "/keygen/bundle-$rcp: openssl cms -decrypt opens the P7M"
	if [ "$rcp" = rsa ]; then
		openssl smime -decrypt -binary -inform DER -in bundle-rsa.p7m -inkey encr.key \
			-recip encr.pem -out bundle-rsa-smime.zip 2>smime.err &&
			cmp -s bundle-rsa.zip bundle-rsa-smime.zip
		ok $? "/keygen/bundle-rsa: openssl smime -decrypt opens it too (the seed's command)"
	fi
	mkdir -p "unz-$rcp" && (cd "unz-$rcp" && unzip -q "../bundle-$rcp.zip")
	ok $? "/keygen/bundle-$rcp: unzip extracts the bundle"
	is "$(cd "unz-$rcp" && ls | tr '\n' ' ')" "certificate.pem chain.pem private_key.pem " \
		"/keygen/bundle-$rcp: certificate, chain and key"
	key_matches "unz-$rcp/private_key.pem" "unz-$rcp/certificate.pem"
	ok $? "/keygen/bundle-$rcp: key matches the certificate"
	openssl verify -CAfile "$D/ca/root.pem" -untrusted "unz-$rcp/chain.pem" \
		"unz-$rcp/certificate.pem" >/dev/null 2>&1
	ok $? "/keygen/bundle-$rcp: the bundled chain verifies the certificate"

	enroll_fmt "keyonly-$rcp" p_384 cert_encrypted_key_only @encryption_certificate=$k.pem
	base64 -d "keyonly-$rcp.out" >"keyonly-$rcp.p7m"
	openssl cms -decrypt -binary -inform DER -in "keyonly-$rcp.p7m" -inkey $k.key \
		-recip $k.pem -out "keyonly-$rcp.key" 2>cms.err
	ok $? "/keygen/keyonly-$rcp: openssl cms -decrypt gives the key"
	key_matches "keyonly-$rcp.key" "keyonly-$rcp.pem"
	ok $? "/keygen/keyonly-$rcp: key matches the certificate still returned in pem"
done
openssl smime -decrypt -binary -inform DER -in keyonly-rsa.p7m -inkey encr.key -recip encr.pem \
	-out keyonly-rsa-smime.key 2>/dev/null && cmp -s keyonly-rsa.key keyonly-rsa-smime.key
ok $? "/keygen/keyonly-rsa: openssl smime -decrypt gives the same key"

# ---------------------------------------------------------------- renew

SRV_ID=$(api POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
	attr:subject.common_name=renew-me attr:subject.organization_name=Acme \
	attr:extensions.san.dns_name=renew-me.example.com attr:extensions.san.ip_address=192.0.2.7)" \
	>/dev/null; pj out.json 'd["certificate_id"]')
cert_of old.pem
SRV_SERIAL=$(pj out.json 'd["serial_number"]')
old_subject=$(openssl x509 -in old.pem -noout -subject -nameopt RFC2253)
old_san=$(openssl x509 -in old.pem -noout -ext subjectAltName | tail -n +2)
is "$(api PUT "/certificate/$SRV_ID/renew" "$(jbody server_side_key_gen:=true key_type=p_384)")" 200 \
	"/renew/by-id: PUT .../{id}/renew with server keygen"
cert_of renew1.pem
pj out.json 'd["private_key"]' >renew1.key
is "$(openssl x509 -in renew1.pem -noout -subject -nameopt RFC2253)" "$old_subject" \
	"/renew/by-id: same subject as the renewed certificate"
is "$(openssl x509 -in renew1.pem -noout -ext subjectAltName | tail -n +2)" "$old_san" \
	"/renew/by-id: same SANs"
key_matches renew1.key renew1.pem
ok $? "/renew/by-id: new key matches the new certificate"
[ "$(pj out.json 'd["serial_number"]')" != "$SRV_SERIAL" ]
ok $? "/renew/by-id: a new serial"
is "$(api POST "/certificate/$SRV_SERIAL/renew" "$(jbody @csr=dev2.csr)")" 200 \
	"/renew/by-serial: POST .../{serial}/renew with a CSR"
cert_of renew2.pem
is "$(openssl x509 -in renew2.pem -noout -subject -nameopt RFC2253)" "$old_subject" \
	"/renew/by-serial: subject of the stored certificate, not the CSR's"
key_matches dev2.key renew2.pem
ok $? "/renew/by-serial: the CSR's new key"
is "$(api PUT "/certificate/$SRV_ID/renew" "$(jbody server_side_key_gen:=true \
	attr:subject.organization_name=NewOrg)")" 200 "/renew/override: 200"
cert_of renew3.pem
like "$(openssl x509 -in renew3.pem -noout -subject -nameopt RFC2253)" "CN=renew-me,O=NewOrg" \
	"/renew/override: a named attribute replaces the stored one, the rest is kept"
is "$(call PUT "/certificate/$SRV_ID/renew" "$(jbody server_side_key_gen:=true)" -H "x-passcode: $PC")" 200 \
	"/renew/passcode: the enrollment profile's passcode renews"

# ---------------------------------------------------------------- passcodes and client certificates

is "$(call POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
	attr:subject.common_name=pc-device)" -H "x-passcode: $PC")" 200 "/passcode/enroll: 200"
PC_ID=$(pj out.json 'd["certificate_id"]')
like "$(last_audit)" "iot enroll issued principal=passcode:$EP " \
	"/passcode/enroll: recorded as issued to the passcode of its enrollment profile"

# A certificate for the demo principal "device" (CN=device-001,O=certgate demo) authenticates.
api POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
	attr:subject.common_name=device-001 "attr:subject.organization_name=certgate demo")" >/dev/null
cert_of tls-dev.pem
pj out.json 'd["private_key"]' >tls-dev.key
is "$(call POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
	attr:subject.common_name=via-cert)" --cert tls-dev.pem --key tls-dev.key)" 200 \
	"/client-cert/enroll: a TLS client certificate bound to a principal enrolls"
like "$(last_audit)" "iot enroll issued principal=device " "/client-cert/enroll: as that principal"
# A certificate bound to no principal renews itself, and nothing else.
api POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true \
	attr:subject.common_name=self-renewer)" >/dev/null
cert_of self.pem
pj out.json 'd["private_key"]' >self.key
SELF_ID=$(pj out.json 'd["certificate_id"]')
is "$(call POST "/certificate/$SELF_ID/renew" "$(jbody server_side_key_gen:=true)" \
	--cert self.pem --key self.key)" 200 "/client-cert/self-renew: a certificate renews itself"

# ---------------------------------------------------------------- get, search, revoke

is "$(api GET "/certificate/$CSR1_ID")" 200 "/get/by-id: 200"
is "$(pj out.json 'd["serial_number"] + " " + d["status"] + " " + d["enrollment_profile"]["id"]')" \
	"$CSR1_SERIAL ISSUED $EP" "/get/by-id: serial, status, enrollment profile"
pj out.json 'd["pem"]' >get.pem
cmp -s <(openssl x509 -in get.pem -outform DER) <(openssl x509 -in csr1.pem -outform DER)
ok $? "/get/by-id: the same certificate"
is "$(api GET "/certificate/$CSR1_SERIAL")" 200 "/get/by-serial: 200"
is "$(api GET /certificate/999999)" 404 "/get/unknown: 404"
is "$(pj out.json 'd["errors"][0]["code"]')" entity_not_found "/get/unknown: entity_not_found"
is "$(call GET "/certificate/$PC_ID" "" -H "x-api-key: $KEY")" 404 \
	"/get/not-yours: a client sees only certificates issued to it"
is "$(call GET "/certificate/$PC_ID" "" -H "x-api-key: $ADMIN")" 200 \
	"/get/admin: an administrator sees every certificate"

total=$(api GET "/certificate?enrollment_profile_id=$EP&limit=1000" >/dev/null; pj out.json 'd["total"]')
[ "$total" -ge 10 ]
ok $? "/search: all of the client's certificates of the enrollment profile ($total)"
api GET "/certificate?enrollment_profile_id=$EP&offset=0&limit=3" >/dev/null
p1=$(pj out.json '" ".join(r["id"] for r in d["records"])')
is "$(pj out.json 'str(len(d["records"])) + " " + str(d["total"]) + " " + str(d["limit"])')" \
	"3 $total 3" "/search/paging: limit 3 gives 3 records and the total"
api GET "/certificate?enrollment_profile_id=$EP&offset=3&limit=3" >/dev/null
p2=$(pj out.json '" ".join(r["id"] for r in d["records"])')
api GET "/certificate?enrollment_profile_id=$EP&offset=0&limit=6" >/dev/null
is "$p1 $p2" "$(pj out.json '" ".join(r["id"] for r in d["records"])')" \
	"/search/paging: offset 3 continues where offset 0 stopped"
api GET "/certificate?serial_number=$CSR1_SERIAL" >/dev/null
is "$(pj out.json '" ".join(r["id"] for r in d["records"])')" "$CSR1_ID" "/search/serial: exactly that certificate"
api GET "/certificate?enrollment_profile_id=$FEP" >/dev/null
is "$(pj out.json 'd["total"]')" 0 "/search/profile: the factory certificate is not the client's"
call GET "/certificate?enrollment_profile_id=$FEP" "" -H "x-api-key: $ADMIN" >/dev/null
is "$(pj out.json 'd["total"]')" 1 "/search/profile: an administrator sees the factory certificate"

is "$(api PUT "/certificate/$CSR1_ID/revoke" '{"reason": "key_compromise", "comments": "lost"}')" 204 \
	"/revoke: 204"
like "$(last_audit)" "iot revoke revoked principal=iot-client .*serial=$(echo "$CSR1_SERIAL" | tr A-F a-f)" \
	"/revoke: audited"
api GET "/certificate/$CSR1_ID" >/dev/null
is "$(pj out.json 'd["status"] + " " + d["revocation_reason"]')" "REVOKED key_compromise" \
	"/revoke: the certificate shows REVOKED with the reason"
api GET "/certificate?status=REVOKED" >/dev/null
is "$(pj out.json '" ".join(r["id"] for r in d["records"])')" "$CSR1_ID" "/search/status: REVOKED finds it"
api GET "/certificate?status=ISSUED&serial_number=$CSR1_SERIAL" >/dev/null
is "$(pj out.json 'd["total"]')" 0 "/search/status: ISSUED no longer does"
is "$(api PUT "/certificate/$CSR1_ID/revoke" '{"reason": "key_compromise"}')" 409 \
	"/revoke/again: 409"
is "$(api PUT "/certificate/$CSR1_ID/renew" "$(jbody server_side_key_gen:=true)")" 409 \
	"/renew/revoked: a revoked certificate is not renewed (409)"

# ---------------------------------------------------------------- refusals

BODY_OK="$(jbody enrollment_profile_id=$EP server_side_key_gen:=true attr:subject.common_name=x)"
sk() { jbody enrollment_profile_id=$EP server_side_key_gen:=true attr:subject.common_name=bad "$@"; }
refuse /refuse/p12-short 400 "pkcs12_password: must be 6 to 20" POST /certificate \
	"$(sk private_key_format=pkcs_12 pkcs12_password=abc12)" -H "x-api-key: $KEY"
refuse /refuse/p12-long 400 "pkcs12_password: must be 6 to 20" POST /certificate \
	"$(sk private_key_format=pkcs_12 pkcs12_password=abcdefghij0123456789X)" -H "x-api-key: $KEY"
refuse /refuse/p12-symbols 400 "pkcs12_password: .*A-Z, a-z and 0-9" POST /certificate \
	"$(sk private_key_format=pkcs_12 'pkcs12_password=abc!defg')" -H "x-api-key: $KEY"
refuse /refuse/p12-missing 400 "pkcs12_password: required" POST /certificate \
	"$(sk private_key_format=pkcs_12)" -H "x-api-key: $KEY"
refuse /refuse/key-type-unknown 400 "invalid_input: key_type: unknown key type \"rsa_1024\"" \
	POST /certificate "$(sk key_type=rsa_1024)" -H "x-api-key: $KEY"
refuse /refuse/key-type-spelling 400 "key_type: unknown" POST /certificate \
	"$(sk key_type=P-256)" -H "x-api-key: $KEY"
refuse /refuse/key-type-forbidden 403 "not_allowed: key_type rsa_4096 is not allowed by enrollment profile" \
	POST /certificate "$(sk key_type=rsa_4096)" -H "x-api-key: $KEY"
refuse /refuse/csr-key-forbidden 403 "CSR's key \(rsa_2048\) is not allowed" POST /certificate \
	"$(jbody enrollment_profile_id=$FEP @csr=rsa.csr attr:subject.common_name=f \
	attr:subject.serial_number=1 dev:hardware-id=h)" -H "x-api-key: $KEY"
refuse /refuse/keygen-on-client-side 403 "client_side\) does not allow server_side_key_gen" \
	POST /certificate "$(jbody enrollment_profile_id=$FEP server_side_key_gen:=true \
	attr:subject.common_name=f attr:subject.serial_number=1 dev:hardware-id=h)" -H "x-api-key: $KEY"
refuse /refuse/missing-attribute 400 "subject.common_name is required by enrollment profile" \
	POST /certificate "$(jbody enrollment_profile_id=$EP server_side_key_gen:=true)" -H "x-api-key: $KEY"
refuse /refuse/missing-device-attribute 400 "device_attributes: hardware-id is required" \
	POST /certificate "$(jbody enrollment_profile_id=$FEP @csr=dev.csr attr:subject.common_name=f \
	attr:subject.serial_number=1)" -H "x-api-key: $KEY"
refuse /refuse/unknown-device-attribute 400 "device_attributes\[0\].id: .*no device attribute \"color\"" \
	POST /certificate "$(sk dev:color=red)" -H "x-api-key: $KEY"
refuse /refuse/attribute-not-taken 403 "does not take subject.country" POST /certificate \
	"$(sk attr:subject.country=DE)" -H "x-api-key: $KEY"
refuse /refuse/bad-dns-name 400 "certificate_profile_attributes\[1\] \(extensions.san.dns_name\)" \
	POST /certificate "$(sk attr:extensions.san.dns_name=bad..name)" -H "x-api-key: $KEY"
refuse /refuse/enc-cert-missing 400 "encryption_certificate: required for private_key_format cert_encrypted" \
	POST /certificate "$(sk private_key_format=cert_encrypted)" -H "x-api-key: $KEY"
refuse /refuse/enc-cert-malformed 400 "invalid_input: encryption_certificate: " POST /certificate \
	"$(sk private_key_format=cert_encrypted_key_only @encryption_certificate=encbad.pem)" -H "x-api-key: $KEY"
refuse /refuse/enc-cert-rsa1024 400 "encryption_certificate: .*2048" POST /certificate \
	"$(sk private_key_format=cert_encrypted @encryption_certificate=enc1024.pem)" -H "x-api-key: $KEY"
refuse /refuse/enc-cert-unasked 400 "encryption_certificate: applies to" POST /certificate \
	"$(sk private_key_format=pem @encryption_certificate=encr.pem)" -H "x-api-key: $KEY"
refuse /refuse/pkcs1-ed25519 400 "Ed25519 keys have no PKCS#1" POST /certificate \
	"$(sk key_type=ed_25519 private_key_syntax=pkcs1)" -H "x-api-key: $KEY"
refuse /refuse/format-unknown 400 "private_key_format: must be" POST /certificate \
	"$(sk private_key_format=jks)" -H "x-api-key: $KEY"
refuse /refuse/csr-and-keygen 400 "csr and server_side_key_gen: true exclude each other" \
	POST /certificate "$(sk @csr=dev.csr)" -H "x-api-key: $KEY"
refuse /refuse/no-key-source 400 "csr: required unless server_side_key_gen" POST /certificate \
	"$(jbody enrollment_profile_id=$EP attr:subject.common_name=x)" -H "x-api-key: $KEY"
refuse /refuse/bad-csr 400 "invalid_input: csr: " POST /certificate \
	"$(jbody enrollment_profile_id=$EP csr=garbage attr:subject.common_name=x)" -H "x-api-key: $KEY"
refuse /refuse/unknown-field 400 "colour: unknown key" POST /certificate "$(sk colour=blue)" \
	-H "x-api-key: $KEY"
refuse /refuse/wrong-type 400 "server_side_key_gen: must be true or false" POST /certificate \
	"$(jbody enrollment_profile_id=$EP server_side_key_gen=yes)" -H "x-api-key: $KEY"
refuse /refuse/attr-wrong-type 400 "certificate_profile_attributes\[0\].value: must be a string" \
	POST /certificate '{"enrollment_profile_id": "'$EP'", "server_side_key_gen": true, "certificate_profile_attributes": [{"id": "subject.common_name", "value": 7}]}' \
	-H "x-api-key: $KEY"
refuse /refuse/not-json 400 "request body: invalid JSON" POST /certificate "{nope" -H "x-api-key: $KEY"
refuse /refuse/unknown-profile 404 "entity_not_found: enrollment_profile_id: .*IOT_nope" POST /certificate \
	"$(jbody enrollment_profile_id=IOT_nope server_side_key_gen:=true)" -H "x-api-key: $KEY"
refuse /refuse/passcode-other-profile 401 "unauthorized: the enrollment passcode is not valid for enrollment profile $EP" \
	POST /certificate "$BODY_OK" -H "x-passcode: $FPC"
refuse /refuse/passcode-wrong 401 "unauthorized: unknown enrollment passcode" POST /certificate \
	"$BODY_OK" -H "x-passcode: not-the-passcode"
refuse /refuse/passcode-renew-other 401 "passcode is not valid for enrollment profile $EP" \
	PUT "/certificate/$SRV_ID/renew" "$(jbody server_side_key_gen:=true)" -H "x-passcode: $FPC"
refuse /refuse/passcode-get 401 "passcode authenticates enroll and renew requests only" \
	GET "/certificate/$SRV_ID" "" -H "x-passcode: $PC"
refuse /refuse/passcode-search 401 "passcode authenticates enroll and renew requests only" \
	GET "/certificate" "" -H "x-passcode: $PC"
refuse /refuse/passcode-revoke 401 "passcode authenticates enroll and renew requests only" \
	PUT "/certificate/$SRV_ID/revoke" '{"reason": "unspecified"}' -H "x-passcode: $PC"
refuse /refuse/api-key-wrong 401 "unauthorized: unknown API key" POST /certificate "$BODY_OK" \
	-H "x-api-key: wrong-key"
refuse /refuse/no-credentials 401 "no credentials" POST /certificate "$BODY_OK"
refuse /refuse/both-credentials 400 "either x-api-key or x-passcode" POST /certificate "$BODY_OK" \
	-H "x-api-key: $KEY" -H "x-passcode: $PC"
refuse /refuse/client-cert-other 403 "renews only itself" POST "/certificate/$SRV_ID/renew" \
	"$(jbody server_side_key_gen:=true)" --cert self.pem --key self.key
api PUT "/certificate/$SELF_ID/revoke" '{"reason": "cessation_of_operation"}' >/dev/null
refuse /refuse/client-cert-revoked 401 "unauthorized: client certificate [0-9a-f]+ is revoked" \
	POST "/certificate/$SELF_ID/renew" "$(jbody server_side_key_gen:=true)" --cert self.pem --key self.key
refuse /refuse/revoke-reason 400 "reason: must be" PUT "/certificate/$SRV_ID/revoke" \
	'{"reason": "suspended"}' -H "x-api-key: $KEY"
refuse /refuse/revoke-date 400 "revocation_date: not supported" PUT "/certificate/$SRV_ID/revoke" \
	'{"reason": "superseded", "revocation_date": "2020-05-18T15:35:00Z"}' -H "x-api-key: $KEY"
refuse /refuse/revoke-not-yours 404 "does not exist" PUT "/certificate/$PC_ID/revoke" \
	'{"reason": "superseded"}' -H "x-api-key: $KEY"
refuse /refuse/search-status 400 "status: must be ISSUED, REVOKED, EXPIRED" GET \
	"/certificate?status=VALID" "" -H "x-api-key: $KEY"
refuse /refuse/search-limit 400 "limit: must be a number" GET "/certificate?limit=0" "" \
	-H "x-api-key: $KEY"
before=$STORED
is "$(curl -s -o out.json -w '%{http_code}' -X POST -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
	--data-binary "$BODY_OK" "http://127.0.0.1:$http_port/iot/api/v1/certificate")" 403 \
	"/refuse/plain-http: the API answers over HTTPS only"
is "$(count)" "$before" "/refuse/plain-http: nothing stored"
is "$(api DELETE "/certificate/$SRV_ID")" 405 "/refuse/method: DELETE is 405"
is "$(api GET "/certificate/..%2f..%2fetc")" 404 "/refuse/path: odd path segments name nothing"

# A body over limits.max_body is refused by the server before the adapter reads it (by
# Content-Length, or as a chunked body streams in): still the API's error body.
MAX=$(lib_oversize_body "$C" over.json)
oversize() {	# oversize NAME curl-args...
	local name=$1 st n0
	shift
	n0=$(count)
	st=$(curl -s -o out.json -D hdr.txt -w '%{http_code}' --cacert "$CHAIN" -X POST \
		-H "x-api-key: $KEY" -H 'Content-Type: application/json' --data-binary @over.json \
		"$@" "$BASE/certificate")
	lib_json_refusal "$name" "$st" 413 hdr.txt out.json
	like "$(pj out.json 'd["errors"][0]["code"] + ": " + d["errors"][0]["message"]')" \
		"^payload_too_large: request body larger than the limit of $MAX bytes \(limits.max_body\)$" \
		"$name: payload_too_large, names the limit"
	is "$(count)" "$n0" "$name: nothing stored"
}
oversize /refuse/over-max-body
oversize /refuse/over-max-body-chunked -H 'Transfer-Encoding: chunked'

# ---------------------------------------------------------------- the logs

audit_refusals

! "$CG" audit -c "$C" | grep -qE -- "-----BEGIN|$PC|$FPC|Secret123"
ok $? "/audit: no key, certificate, passcode or password in the audit log"
lib_stop "$pid"
ok $? "/serve: SIGTERM stops it with status 0"
! grep -qE -- "-----BEGIN|$PC|$FPC|Secret123" "$LIB_TMP/serve.err"
ok $? "/serve: no key, passcode or password in the server log"
! grep -qi "sanitizer\|leak" "$LIB_TMP/serve.err"
ok $? "/serve: no sanitizer reports"

# ---------------------------------------------------------------- approval: one request lifecycle

# The same daemon with iot-device needing one approval: the IoT request is stored, approved
# with the CLI (the administrator's API key proves it), and the device's retry with its CSR
# signed again gets the certificate, once.
$PY - "$C" "$D/approval.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["profiles"]["iot-device"]["approvals"] = 1
json.dump(d, open(sys.argv[2], "w"))
PY
CA2="$D/approval.json"
cred 'd["admin"]["api_key"]' >admin.key
chmod 600 admin.key
lib_spawn serve-approval "$CG" serve -c "$CA2"
pid=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 15 || bail "server did not start: $(cat serve-approval.err)"
openssl req -new -key dev.key -subj "/CN=csr-device" \
	-addext "subjectAltName=DNS:csr-device.example.com" -out devA.csr 2>/dev/null
openssl req -new -key dev.key -subj "/CN=csr-device" \
	-addext "subjectAltName=DNS:csr-device.example.com" -out devB.csr 2>/dev/null
n0=$(count)
is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP @csr=devA.csr)") $(pj out.json 'd["status"]')" \
	"200 PENDING" "/approval/pending: the request waits for approval"
irid=$(pj out.json 'd["certificate_request_id"]')
like "$("$CG" request -c "$CA2" list)" "^$irid +PENDING +0/1 +iot-device +iot-client +iot" \
	"/approval/pending: certificate_request_id is the stored request, listed by the CLI"
is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP @csr=devB.csr)") $(pj out.json 'd["certificate_request_id"]')" \
	"200 $irid" "/approval/retry: the CSR signed again is the same request"
"$CG" request -c "$CA2" approve "$irid" --api-key-file admin.key 2>/dev/null
ok $? "/approval/cli: an administrator approves the IoT request with the CLI"
is "$(api POST /certificate "$(jbody enrollment_profile_id=$EP @csr=devB.csr)")" 200 \
	"/approval/collect: the device's retry gets the certificate"
cert_of appr.pem
verifies appr.pem && key_matches dev.key appr.pem
ok $? "/approval/collect: it verifies and certifies the device's key"
is "$(count)" "$((n0 + 1))" "/approval/collect: issued once"
lib_stop "$pid"
ok $? "/approval: SIGTERM stops it"

# ---------------------------------------------------------------- configuration errors

bad_config() {	# NAME MESSAGE-REGEX PYTHON-STATEMENT-ON-e (the enrollment profiles)
	$PY - "$C" "$D/bad.json" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
e = d["iot"]["enrollment_profiles"]
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
	out=$("$CG" list -c "$D/bad.json" 2>&1 >/dev/null)
	ok $((! $?)) "$1: refused"
	like "$out" "$2" "$1: names the key path"
}
bad_config /config/shared-profile "iot.enrollment_profiles.$FEP.certificate_profile: profile iot-device already belongs" \
	"e['$FEP']['certificate_profile'] = 'iot-device'"
bad_config /config/key-type-outside-profile "allowed_key_types\[0\]: rsa_4096 is not among the key types" \
	"e['$FEP']['allowed_key_types'] = ['rsa_4096']; d['profiles']['iot-device-csr']['key_types'] = ['p256']"
bad_config /config/plain-passcode "iot.enrollment_profiles.$EP.passcodes\[0\]: must be \"sha256" \
	"e['$EP']['passcodes'] = ['hunter2']"
bad_config /config/keygen-not-allowed "key_generation_option: certificate profile iot-device-csr does not allow server-side" \
	"e['$FEP']['key_generation_option'] = 'server_side'"
bad_config /config/unknown-key "iot.enrollment_profiles.$EP.colour: unknown key" "e['$EP']['colour'] = 'x'"

lib_done
