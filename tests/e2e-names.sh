#!/bin/bash
# End to end: the profile name policy (backend/be_namepolicy.c) on every front end that issues
# (EST with curl and openssl CSRs, se.SAM's form API, the IoT JSON API, `certgate issue`).
# The policy applies to the final subjectAltName list, after cn_as_dns: CN=www.evil.org on a
# profile limited to *.example.com is refused.  "*.example.com" allows one label,
# "**.example.com" any depth; wildcards only when the profile says so; IDNA2008 A-labels are
# checked (xn--a, xn--99999999999 refused), U-labels refused; a name listed twice is refused.
# Each refusal: its status, the reason in the body, nothing stored (certgate list and the
# store's certs table), an audit entry with the reason; the daemon still serves afterwards.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
CG=$(cd "$(dirname "$CG")" && pwd)/$(basename "$CG")
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"
for t in openssl curl python3 sqlite3; do
	command -v "$t" >/dev/null 2>&1 || bail "$t missing (.ci/install-deps installs it)"
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
while [ "$https_port" = "$http_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"

# ---------------------------------------------------------------- configuration

# jedit FILE STATEMENT: a python statement over the configuration d (profiles in P).
jedit() {
	$PY - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
P = d['profiles']
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], 'w'), indent=1)
PY
}
jedit "$C" '
P["est-device"]["san"].update(cn_as_dns=True, dns_patterns=["*.example.com"])
P["IoT-Template-2022"]["san"].update(cn_as_dns=True, dns_patterns=["*.example.com"])
P["iot-device"]["san"].update(cn_as_dns=True, dns_patterns=["**.example.com"])
P["tls-server"]["san"].update(dns_patterns=["*.example.com"], wildcards=True)'
"$CG" check -c "$C" >check.out 2>&1
ok $? "/config: dns_patterns with *. and **., san.wildcards load"

# Bad patterns and keys are refused at load, naming the key path.
badconf() {	# badconf NAME REGEX STATEMENT
	cp "$C" "$D/bad.json"
	jedit "$D/bad.json" "$3"
	"$CG" check -c "$D/bad.json" >bad.out 2>&1
	ok $((! $?)) "/config/$1: certgate check refuses it"
	like "$(cat bad.out)" "$2" "/config/$1: names the key and the fault"
}
badconf partial-wildcard 'profiles\.est-device\.san\.dns_patterns\[1\]: "f\*o\.example\.com": .*whole left-most label' \
	'P["est-device"]["san"]["dns_patterns"].append("f*o.example.com")'
badconf inner-wildcard 'dns_patterns\[1\]: "www\.\*\.com"' \
	'P["est-device"]["san"]["dns_patterns"].append("www.*.com")'
badconf trailing-dot 'dns_patterns\[1\]: "\*\.example\.org\.": ends with a dot' \
	'P["est-device"]["san"]["dns_patterns"].append("*.example.org.")'
badconf bad-a-label 'dns_patterns\[1\]: "xn--a\.example": label "xn--a" is not a valid IDNA2008 A-label' \
	'P["est-device"]["san"]["dns_patterns"].append("xn--a.example")'
badconf wildcards-type 'profiles\.est-device\.san\.wildcards: must be' \
	'P["est-device"]["san"]["wildcards"] = "yes"'

lib_spawn serve "$CG" serve -c "$C"
SERVE_PID=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "certgate serve did not start: $(cat serve.err)"
CHAIN="$D/ca/chain.pem"
H="https://localhost:$https_port"

# ---------------------------------------------------------------- helpers

cred() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$D/demo-credentials.json" "$1"; }
count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
rows() { sqlite3 "$D/state/certgate.db" "SELECT count(*) FROM certificates"; }
last_audit() { sqlite3 "$D/state/certgate.db" "SELECT coalesce(max(id), 0) FROM audit"; }
mark() { COUNT=$(count); ROWS=$(rows); AUDIT=$(last_audit); }
# unchanged NAME AUDIT-REGEX: nothing was stored since mark, and one audit entry since then
# matches the regex (adapter, operation, outcome, reason).
unchanged() {
	local a
	is "$(count) $(rows)" "$COUNT $ROWS" "$1: nothing stored (certgate list, certs table)"
	a=$("$CG" audit -c "$C" --after "$AUDIT")
	like "$a" "$2" "$1: audited with the reason"
	printf '%s\n' "$a" | grep -q " issued "
	ok $((! $?)) "$1: nothing issued"
}
serving() { is "$(curl -s --cacert "$CHAIN" "$H/healthz")" "ok" "$1: the daemon still serves"; }
san_of() { openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | sed 's/^ *//'; }

# ---------------------------------------------------------------- EST (RFC 7030)

PW=$(cred 'd["client"]["password"]')
U="$H/.well-known/est"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out est.key 2>/dev/null
# est NAME SUBJ [SAN]: enrolls a CSR (openssl req) with curl; status in ST, body in NAME.body
est() {
	local n=$1 s=$2
	if [ $# -ge 3 ]; then
		openssl req -new -key est.key -subj "$s" -addext "subjectAltName=$3" -outform DER \
			-out "$n.der" 2>>ossl.log
	else
		openssl req -new -key est.key -subj "$s" -outform DER -out "$n.der" 2>>ossl.log
	fi
	base64 "$n.der" >"$n.b64"
	ST=$(curl -s -o "$n.body" -w '%{http_code}' --cacert "$CHAIN" -u "client:$PW" \
		-H 'Content-Type: application/pkcs10' --data-binary @"$n.b64" "$U/simpleenroll")
}
est_refused() {	# est_refused NAME STATUS BODY-REGEX SUBJ [SAN]
	local name=$1 want=$2 why=$3
	shift 3
	mark
	est x "$@"
	is "$ST" "$want" "$name: HTTP $want"
	like "$(cat x.body)" "$why" "$name: the body says why"
	unchanged "$name" "est simpleenroll (refused|error) .*$why"
}

est_refused /est/cn-as-dns-outside-patterns 403 \
	"SAN DNS:www\.evil\.org not allowed by profile est-device \(dns_patterns: \*\.example\.com\)" \
	"/CN=www.evil.org"
est_refused /est/cn-as-dns-beside-an-allowed-san 403 "SAN DNS:www\.evil\.org not allowed" \
	"/CN=www.evil.org" "DNS:www.example.com"
est_refused /est/star-is-one-label 403 "SAN DNS:a\.b\.example\.com not allowed by profile est-device" \
	"/CN=device-1" "DNS:a.b.example.com"
est_refused /est/wildcard-forbidden-by-default 403 \
	"SAN DNS:\*\.example\.com not allowed by profile est-device \(san\.wildcards is false\)" \
	"/CN=device-1" "DNS:*.example.com"
est_refused /est/duplicate-dns 400 "SAN DNS:a\.example\.com is listed twice" \
	"/CN=device-1" "DNS:a.example.com,DNS:A.Example.COM"
est_refused /est/duplicate-ip 400 "SAN IP:192\.0\.2\.7 is listed twice" \
	"/CN=device-1" "IP:192.0.2.7,DNS:a.example.com,IP:192.0.2.7"
est_refused /est/a-label-xn--a 403 "label \"xn--a\" is not a valid IDNA2008 A-label" \
	"/CN=device-1" "DNS:xn--a.example.com"
est_refused /est/a-label-overflow 403 "label \"xn--99999999999\" is not a valid IDNA2008 A-label" \
	"/CN=device-1" "DNS:xn--99999999999.example.com"
est_refused /est/cn-trailing-dot 403 "subject CN \"dev\.example\.com\.\" reads as a host name but is not a valid one: ends with a dot" \
	"/CN=dev.example.com."

mark
est ok "/CN=Dev-1.Example.com" "DNS:xn--bcher-kva.example.com"
is "$ST" 200 "/est/allowed: a CN and an A-label inside the patterns are issued"
base64 -d ok.body | openssl pkcs7 -inform DER -print_certs 2>/dev/null >ok.pem
is "$(san_of ok.pem)" "DNS:xn--bcher-kva.example.com, DNS:dev-1.example.com" \
	"/est/allowed: the CN joined the names (cn_as_dns), lower-cased; openssl reads them"
openssl verify -CAfile "$CHAIN" ok.pem >/dev/null 2>&1
ok $? "/est/allowed: openssl verifies the certificate"
is "$(count)" "$((COUNT + 1))" "/est/allowed: stored"
serving /est

# ---------------------------------------------------------------- se.SAM N200 form API

P_client=$(cred 'd["client"]["password"]')
API="$H/sesam/api"
sesam() {	# sesam OUT curl-args...: POSTs the form; status in ST
	local out=$1
	shift
	ST=$(curl -s --cacert "$CHAIN" -u "client:$P_client" -o "$out" -w '%{http_code}' "$@" "$API")
}
jv() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"; }
sesam_refused() {	# sesam_refused NAME STATUS ERROR-REGEX curl-args...
	local name=$1 want=$2 why=$3
	shift 3
	mark
	sesam s.json -d command=gencert -d template=IoT-Template-2022 -d p12_pass=passphrase "$@"
	is "$ST $(jv s.json result)" "$want ST_FF" "$name: HTTP $want, ST_FF"
	like "$(jv s.json error)" "$why" "$name: the error says why"
	unchanged "$name" "sesam gencert (refused|error) .*$why"
}
sesam_refused /sesam/cn-as-dns-outside-patterns 200 \
	"SAN DNS:www\.evil\.org not allowed by profile IoT-Template-2022 \(dns_patterns: \*\.example\.com\)" \
	-d CN=www.evil.org -d DNS=host.example.com
sesam_refused /sesam/duplicate-dns 400 "SAN DNS:host\.example\.com is listed twice" \
	-d CN=Device -d "DNS=host.example.com, HOST.example.com"
sesam_refused /sesam/star-is-one-label-for-a-promoted-cn 200 "SAN DNS:a\.b\.example\.com not allowed" \
	-d CN=a.b.example.com -d "DNS=a.b.example.com"
sesam_refused /sesam/wildcard 200 "SAN DNS:\*\.example\.com not allowed by profile IoT-Template-2022 \(san\.wildcards is false\)" \
	-d CN=Device -d "DNS=*.example.com"
sesam_refused /sesam/partial-wildcard 200 "whole left-most label" \
	-d CN=Device -d "DNS=f*o.example.com"
sesam_refused /sesam/a-label 200 "label \"xn--a\" is not a valid IDNA2008 A-label" \
	-d CN=Device -d "DNS=xn--a.example.com"
sesam_refused /sesam/u-label 200 "U-labels are refused: write it as A-labels, \"xn--bcher-kva\.example\.com\"" \
	-d CN=Device --data-urlencode "DNS=bücher.example.com"
mark
sesam s.json -d command=gencert -d template=IoT-Template-2022 -d p12_pass=passphrase \
	-d CN=Device -d "DNS=host.example.com, www.example.com"
like "$ST $(jv s.json result)" "^200 [0-9]+$" "/sesam/allowed: names inside the patterns are issued (result: the serial)"
jv s.json x509_cert >s.pem
is "$(san_of s.pem)" "DNS:host.example.com, DNS:www.example.com" "/sesam/allowed: the names, as asked"
serving /sesam

# ---------------------------------------------------------------- IoT enrollment JSON API

KEY=$(cred 'd["iot-client"]["api_key"]')
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59	# server or client key, on profile iot-device
iot() {	# iot OUT JSON-BODY: POST /certificate; status in ST
	printf '%s' "$2" >iot.req
	ST=$(curl -s --cacert "$CHAIN" -o "$1" -w '%{http_code}' -X POST -H "x-api-key: $KEY" \
		-H 'Content-Type: application/json' --data-binary @iot.req "$H/iot/api/v1/certificate")
}
body() {	# body CN [DNS...]: a server-keygen request on $EP
	$PY - "$EP" "$@" <<'PY'
import json, sys
a = [{"id": "subject.common_name", "value": sys.argv[2]}]
a += [{"id": "extensions.san.dns_name", "value": v} for v in sys.argv[3:]]
print(json.dumps({"enrollment_profile_id": sys.argv[1], "server_side_key_gen": True,
                  "certificate_profile_attributes": a}))
PY
}
ierr() { $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"][0]; print(e["code"] + ": " + e["message"])' "$1"; }
iot_refused() {	# iot_refused NAME STATUS MESSAGE-REGEX JSON-BODY
	mark
	iot i.json "$4"
	is "$ST" "$2" "$1: HTTP $2"
	like "$(ierr i.json)" "$3" "$1: the error says why"
	unchanged "$1" "iot [a-z-]+ (refused|error) .*${3#*: }"
}
iot_refused /iot/cn-as-dns-outside-patterns 403 \
	"not_allowed: SAN DNS:www\.evil\.org not allowed by profile iot-device \(dns_patterns: \*\*\.example\.com\)" \
	"$(body www.evil.org)"
iot_refused /iot/wildcard 403 "not_allowed: SAN DNS:\*\.example\.com not allowed by profile iot-device \(san\.wildcards is false\)" \
	"$(body device '*.example.com')"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dup.key -subj /CN=dup \
	-addext "subjectAltName=DNS:dup.example.com,DNS:DUP.example.com" -out dup.csr 2>/dev/null
iot_refused /iot/duplicate-in-csr 400 "invalid_input: SAN DNS:dup\.example\.com is listed twice" \
	"$($PY -c 'import json,sys; print(json.dumps({"enrollment_profile_id": sys.argv[1], "csr": open("dup.csr").read()}))' "$EP")"
mark
iot i.json "$(body a.b.c.example.com b.example.com)"
is "$ST" 200 "/iot/allowed: **.example.com takes any depth"
$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["pem"])' i.json >i.pem
is "$(san_of i.pem)" "DNS:b.example.com, DNS:a.b.c.example.com" \
	"/iot/allowed: the DNS name and the promoted CN"
serving /iot

# ---------------------------------------------------------------- certgate issue (CLI)

cli_refused() {	# cli_refused NAME REGEX issue-args...
	local name=$1 why=$2
	shift 2
	mark
	"$CG" issue -c "$C" --profile tls-server --keygen --key-out k.pem --out c.pem "$@" \
		>cli.out 2>cli.err
	ok $((! $?)) "$name: certgate issue exits non-zero"
	like "$(cat cli.err)" "$why" "$name: says why"
	unchanged "$name" "cli issue (refused|error) .*$why"
}
cli_refused /cli/cn-as-dns-outside-patterns \
	"SAN DNS:www\.evil\.org not allowed by profile tls-server \(dns_patterns: \*\.example\.com\)" \
	--subject CN=www.evil.org
cli_refused /cli/duplicate "SAN DNS:www\.example\.com is listed twice" \
	--subject CN=www.example.com --dns www.example.com --dns WWW.example.com
cli_refused /cli/wildcard-one-label-only "SAN DNS:\*\.a\.example\.com not allowed by profile tls-server \(dns_patterns" \
	--subject CN=www.example.com --dns '*.a.example.com'
cli_refused /cli/u-label "U-labels are refused" --subject CN=www.example.com --dns 'bücher.example.com'
"$CG" issue -c "$C" --profile tls-server --keygen --key-out w.key --out w.pem \
	--subject CN=www.example.com --dns '*.example.com' 2>cli.err
ok $? "/cli/wildcard-allowed: san.wildcards true issues *.example.com"
is "$(san_of w.pem)" "DNS:*.example.com, DNS:www.example.com" "/cli/wildcard-allowed: openssl reads it"
serving /cli

lib_stop "$SERVE_PID"
ok $? "/serve: stops cleanly"
lib_done
