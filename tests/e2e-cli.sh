#!/bin/bash
# End to end: `certgate init` writes a demo that works; `certgate issue` issues what openssl
# verifies and refuses bad input with a clear reason, storing nothing but an audit entry;
# `list`, `revoke`, `audit` see the same store; `serve` answers over HTTPS and HTTP and stops
# cleanly on SIGTERM.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"

https_port=$(lib_free_port)
http_port=$(lib_free_port)
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err
ok $? "/init: writes a demo"
"$CG" init "$D" >/dev/null 2>init2.err
ok $((! $?)) "/init: refuses to overwrite an existing demo"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["admin"]["password"] and d["client"]["api_key"]' "$D/demo-credentials.json"
ok $? "/init: demo-credentials.json holds the demo credentials"
is "$(stat -c %a "$D/ca/issuing.key") $(stat -c %a "$D/demo-credentials.json")" "600 600" \
	"/init: keys and credentials are private (0600)"
grep -q "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"]["password"])' "$D/demo-credentials.json")" "$C"
ok $((! $?)) "/init: the configuration holds only password hashes"
openssl verify -CAfile "$D/ca/root.pem" "$D/ca/issuing.pem" >/dev/null 2>&1
ok $? "/init: issuing CA verifies against the root"
openssl verify -CAfile "$D/ca/chain.pem" -purpose sslserver "$D/tls/server.pem" >/dev/null 2>&1
ok $? "/init: HTTPS server certificate verifies for TLS server use"

count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
audits() { "$CG" audit -c "$C" | wc -l; }

# ---- issue, server-generated key
"$CG" issue -c "$C" --profile tls-server --subject CN=www.example.com --keygen \
	--out www.pem --key-out www.key --chain 2>issue.err
ok $? "/issue/keygen: certgate issue with a generated key"
openssl verify -CAfile "$D/ca/root.pem" -untrusted www.pem www.pem >/dev/null 2>&1
ok $? "/issue/keygen: openssl verifies the certificate with the chain we return"
openssl verify -CAfile "$D/ca/chain.pem" -purpose sslserver www.pem >/dev/null 2>&1
ok $? "/issue/keygen: fit for TLS server use"
like "$(openssl x509 -in www.pem -noout -ext subjectAltName 2>&1)" "DNS:www.example.com" \
	"/issue/keygen: CN copied into a DNS subjectAltName (profile cn_as_dns)"
cmp -s <(openssl pkey -in www.key -pubout) <(openssl x509 -in www.pem -pubkey -noout)
ok $? "/issue/keygen: the key matches the certificate"
is "$(stat -c %a www.key)" "600" "/issue/keygen: key file is private"
serial=$(openssl x509 -in www.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
like "$("$CG" list -c "$C" --serial "$serial")" "$serial +valid .*tls-server" \
	"/list: the issued certificate is in the store"

# ---- issue from an openssl CSR
openssl req -new -newkey rsa:2048 -nodes -keyout dev.key -subj "/O=Acme/CN=device-42" \
	-addext "subjectAltName=DNS:device-42.example.com" -out dev.csr 2>/dev/null
"$CG" issue -c "$C" --profile est-device --csr dev.csr --out dev.pem 2>issue.err
ok $? "/issue/csr: an openssl RSA CSR"
openssl verify -CAfile "$D/ca/chain.pem" dev.pem >/dev/null 2>&1
ok $? "/issue/csr: openssl verifies it"
like "$(openssl x509 -in dev.pem -noout -subject -nameopt RFC2253)" "CN=device-42,O=Acme" \
	"/issue/csr: subject as requested"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout ec.key \
	-subj "/CN=ec-device" -outform DER -out ec.der 2>/dev/null
"$CG" issue -c "$C" --profile est-device --csr ec.der --out ec.pem 2>issue.err &&
	openssl verify -CAfile "$D/ca/chain.pem" ec.pem >/dev/null 2>&1
ok $? "/issue/csr: a DER P-384 CSR"

# ---- refusals: a clear reason, nothing stored, an audit entry
refuse() {	# name expected-message-regex issue-args...
	local name=$1 want=$2 before a_before out rc
	shift 2
	before=$(count)
	a_before=$(audits)
	out=$("$CG" issue -c "$C" "$@" --out refused.pem 2>&1)
	rc=$?
	ok $((rc == 0)) "$name: refused (exit $rc)"
	like "$out" "$want" "$name: says why"
	is "$(count)" "$before" "$name: nothing stored"
	if [ -n "${NOAUDIT:-}" ]; then return; fi
	[ "$(audits)" -gt "$a_before" ]
	ok $? "$name: audited"
}

refuse /issue/refuse/country "subject C: .*My City.*ISO 3166" \
	--profile Email-Template-2022 --subject "CN=x,C=My City" --keygen --key-out k.pem
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout x.key \
	-subj "/CN=evil" -addext "basicConstraints=critical,CA:TRUE" -out ca.csr 2>/dev/null
refuse /issue/refuse/csr-ca-true "basicConstraints cA" --profile est-device --csr ca.csr
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout x.key \
	-subj "/CN=evil" -addext "keyUsage=critical,keyCertSign,digitalSignature" -out ku.csr 2>/dev/null
refuse /issue/refuse/csr-keycertsign "keyCertSign" --profile est-device --csr ku.csr
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout x.key \
	-subj "/CN=evil" -addext "extendedKeyUsage=serverAuth,codeSigning" -out eku.csr 2>/dev/null
refuse /issue/refuse/csr-extra-eku "extended key usage (serverAuth|codeSigning)" \
	--profile est-device --csr eku.csr
openssl req -new -newkey rsa:1024 -nodes -keyout x.key -subj "/CN=weak" -out weak.csr 2>/dev/null
refuse /issue/refuse/rsa1024 "RSA modulus of 1024 bits; certgate certifies 2048" \
	--profile est-device --csr weak.csr
# CSR signatures: SHA-2 or Ed25519 only (be_csr.c sig_allowed), named in the refusal
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sig.key 2>/dev/null
for md in sha1 md5; do
	openssl req -new -key sig.key -subj "/CN=$md" -"$md" -out "$md.csr" 2>/dev/null
	refuse "/issue/refuse/csr-signed-$md" "RSA-$(echo "$md" | tr a-z A-Z) .*is not accepted" \
		--profile est-device --csr "$md.csr"
done
cp ec.der trailing.der && printf 'JUNK' >>trailing.der
refuse /issue/refuse/trailing-bytes "trailing|DER" --profile est-device --csr trailing.der
# Flip one bit of the signature (the last byte of the DER).
python3 - ec.der badsig.der <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); b[-1] ^= 1
open(sys.argv[2], 'wb').write(bytes(b))
PY
refuse /issue/refuse/bad-signature "signature" --profile est-device --csr badsig.der
printf 'not a csr at all\n' >garbage.csr
refuse /issue/refuse/garbage "CSR" --profile est-device --csr garbage.csr
sed 's/CERTIFICATE REQUEST/CERTIFICATE/' dev.csr >label.csr
refuse /issue/refuse/pem-label "CSR|label|PEM" --profile est-device --csr label.csr
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout x.key \
	-subj "/CN=a/L=Nowhere" -out l.csr 2>/dev/null
refuse /issue/refuse/subject-not-allowed "subject L is not allowed" --profile est-device --csr l.csr
refuse /issue/refuse/cn-too-long "longer than 64" --profile tls-server \
	--subject "CN=$(printf 'a%.0s' $(seq 1 65))" --keygen --key-out k.pem
refuse /issue/refuse/unknown-profile "no profile named" --profile nope --keygen --key-out k.pem

# ---- list, revoke, audit
"$CG" revoke -c "$C" "$serial" --reason keyCompromise 2>/dev/null
ok $? "/revoke: by serial"
like "$("$CG" list -c "$C" --status revoked)" "$serial +revoked" "/revoke: listed as revoked"
"$CG" revoke -c "$C" "$serial" --reactivate >/dev/null 2>rev.err
ok $((! $?)) "/revoke: a revoked certificate cannot be reactivated"
like "$(cat rev.err)" "revoked|REVOKED" "/revoke: says why"
like "$("$CG" audit -c "$C")" "cli issue refused .*ISO 3166" "/audit: refusals recorded with the reason"
! "$CG" audit -c "$C" | grep -q -- "-----BEGIN" 
ok $? "/audit: no key or certificate material in the audit log"

# ---- request: deciding proves the approver (issue 12), the audit names it and the Unix user
cred() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
	"$D/demo-credentials.json" "$1" "$2"; }
cred admin api_key >admin.key
cred client api_key >client.key
cred client password >client.pw
chmod 600 admin.key client.key client.pw
last_audit_line() { "$CG" audit -c "$C" | tail -n 1; }
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rq.key \
	-subj "/CN=cli-pending" -out rq.csr 2>/dev/null
"$CG" issue -c "$C" --profile Approval-Template-2022 --csr rq.csr --out rq.pem 2>rq.err
rid=$(sed -n 's/.*request \([0-9][0-9]*\) waits for approval.*/\1/p' rq.err)
like "$rid" '^[0-9]+$' "/request/pending: certgate issue on a profile with approvals stores a request"
like "$("$CG" request -c "$C" show "$rid")" '"key":"csr"' "/request/show: its normalised record"
a0=$(audits)
"$CG" request -c "$C" approve "$rid" --as admin --api-key-file client.key 2>rq.err
ok $((! $?)) "/request/approve/someone-elses-key: another principal's API key is refused"
like "$(last_audit_line)" "cli approve refused principal=- .*claiming to be admin: the API key in client.key is not admin's" \
	"/request/approve/someone-elses-key: audited"
"$CG" request -c "$C" approve "$rid" --api-key-file client.key 2>rq.err
ok $((! $?)) "/request/approve/client-key: a client's own key proves a client, not an approver"
like "$(last_audit_line)" "cli approve refused principal=client .*may not approve requests" \
	"/request/approve/client-key: audited under the client"
printf 'wrong\n' | "$CG" request -c "$C" approve "$rid" --as admin 2>rq.err
ok $((! $?)) "/request/approve/stdin-wrong: a wrong password on standard input is refused"
is "$(audits)" "$((a0 + 3))" "/request/approve/refusals: one audit entry per refusal"
like "$("$CG" request -c "$C" list)" "^$rid +PENDING" "/request/approve/refusals: still pending"
"$CG" request -c "$C" approve "$rid" --api-key-file admin.key 2>rq.err
ok $? "/request/approve/api-key: the administrator's own API key proves it"
like "$(last_audit_line)" "cli approve approved principal=admin profile=Approval-Template-2022 peer=unix:$(id -un)\($(id -u)\)" \
	"/request/approve/api-key: audited under admin and the Unix user"
"$CG" issue -c "$C" --profile Approval-Template-2022 --csr rq.csr --out rq.pem 2>rq.err
openssl verify -CAfile "$D/ca/chain.pem" rq.pem >/dev/null 2>&1
ok $? "/request/issue: asked again after approval, the certificate is issued"
openssl req -new -key rq.key -subj "/CN=cli-pending2" -out rq2.csr 2>/dev/null
"$CG" issue -c "$C" --profile Approval-Template-2022 --csr rq2.csr --out rq2.pem 2>rq.err
rid2=$(sed -n 's/.*request \([0-9][0-9]*\) waits for approval.*/\1/p' rq.err)
"$CG" request -c "$C" cancel "$rid2" --as client --password-file client.pw 2>/dev/null
ok $((! $?)) "/request/cancel/stranger: a client may not withdraw another principal's request"
like "$(last_audit_line)" "cli cancel refused principal=client .*only its requester or an administrator" \
	"/request/cancel/stranger: audited"
"$CG" request -c "$C" cancel "$rid2" --api-key-file admin.key 2>/dev/null
ok $? "/request/cancel: an administrator withdraws it"
like "$("$CG" request -c "$C" list --status all)" "^$rid2 +CANCELLED" "/request/cancel: CANCELLED"
cred ro-admin password | "$CG" request -c "$C" approve "$rid2" --as ro-admin 2>rq.err
ok $((! $?)) "/request/approve/cancelled: a cancelled request is not approved (password on standard input)"
like "$(last_audit_line)" "cli approve refused principal=ro-admin .*is CANCELLED" \
	"/request/approve/cancelled: audited under ro-admin"

# ---- serve
lib_spawn serve "$CG" serve -c "$C"
pid=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 10
ok $? "/serve: HTTPS listener up"
is "$(curl -s --cacert "$D/ca/chain.pem" "https://localhost:$https_port/healthz")" "ok" \
	"/serve: /healthz over HTTPS, server certificate verified by curl"
is "$(curl -s "http://127.0.0.1:$http_port/healthz")" "ok" "/serve: /healthz over HTTP"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/nowhere")" "404" \
	"/serve: unknown path is 404"
curl -s --cacert "$D/ca/chain.pem" --tls-max 1.1 "https://localhost:$https_port/healthz" >/dev/null 2>&1
ok $((! $?)) "/serve: TLS 1.1 refused (RFC 8996)"
lib_stop "$pid"
ok $? "/serve: SIGTERM stops it with status 0"
! grep -qi "sanitizer\|leak" "$LIB_TMP/serve.err"
ok $? "/serve: no sanitizer reports"

# ---- configuration errors name the key and exit non-zero
python3 - "$C" bad.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["profiles"]["est-device"]["vaildity_days"] = 3
json.dump(d, open(sys.argv[2], "w"))
PY
cp bad.json "$D/bad.json"
out=$("$CG" serve -c "$D/bad.json" 2>&1)
ok $((! $?)) "/serve/bad-config: exits non-zero"
like "$out" "profiles.est-device.vaildity_days: unknown key" "/serve/bad-config: names the key path"

lib_done
