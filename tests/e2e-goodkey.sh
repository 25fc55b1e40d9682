#!/bin/bash
# End to end: keys and signatures (issue 12).  The floor under every profile's key types at
# configuration load (`certgate check`, `certgate serve`), and known-weak keys and weak CSR
# signatures refused on every front end that takes a client's key: EST simpleenroll and
# simplereenroll (curl), se.SAM loadcsr and issuepseudocsr with a public key, the IoT
# enrollment API, and `certgate issue --csr`.  Each refusal: 400, the reason in the body,
# nothing stored, an audit entry, and the daemon still issuing afterwards.
#
# The weak keys are real keys openssl signs with (tests/weakkey.py): two primes next to each
# other (Fermat), RSALib-style primes (ROCA), and an ordinary key put on the blocklist.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
CG=$(cd "$(dirname "$CG")" && pwd)/$(basename "$CG")
WEAK="$(cd "${top_srcdir:-.}" && pwd)/tests/weakkey.py"
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

https_port=$(lib_free_port)
http_port=$(lib_free_port)
while [ "$https_port" = "$http_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
cred() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$D/demo-credentials.json" "$1"; }
PW=$(cred 'd["client"]["password"]')
IOTKEY=$(cred 'd["iot-client"]["api_key"]')
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59
CHAIN="$D/ca/chain.pem"

# ---------------------------------------------------------------- the floor at load

edit() {	# edit OUT PYTHON-STATEMENT-OVER-c
	"$PY" - "$C" "$1" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], 'w'), indent=2)
PY
}
edit "$D/rsa1024.json" 'c["profiles"]["tls-server"]["key_types"] = ["p256", "rsa2048", "rsa1024"]'
out=$("$CG" check -c "$D/rsa1024.json" 2>&1)
ok $((! $?)) "/floor/check: certgate check refuses an RSA-1024 profile"
like "$out" 'profiles\.tls-server\.key_types\[2\]: rsa1024: RSA keys below 2048 bits' \
	"/floor/check: names the profile, the key path and the floor"
out=$(timeout 20 "$CG" serve -c "$D/rsa1024.json" 2>&1)
ok $((! $?)) "/floor/serve: certgate serve does not start"
like "$out" 'profiles\.tls-server\.key_types\[2\]: rsa1024: RSA keys below 2048 bits' \
	"/floor/serve: names the profile, the key path and the floor"
out=$("$CG" check -c "$C" 2>&1)
ok $? "/floor/check: the demo configuration passes ($out)"

# ---------------------------------------------------------------- keys and CSRs

"$PY" "$WEAK" fermat fermat.key || bail "weakkey.py fermat failed"
"$PY" "$WEAK" roca roca.key || bail "weakkey.py roca failed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out blocked.key 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out good.key 2>/dev/null
for k in fermat roca blocked good; do
	openssl pkey -in "$k.key" -check -noout >/dev/null 2>&1
	ok $? "/keys/$k: openssl itself finds nothing wrong with the key"
done
# weak_keys: a blocklist of one key, with a comment line (certgate.json(5) weak_keys)
{
	echo "# compromised keys: SHA-256 of the DER SubjectPublicKeyInfo"
	openssl pkey -in blocked.key -pubout -outform DER | sha256sum | cut -d' ' -f1
} >"$D/blocked-keys.txt"
BLOCKED_HASH=$(tail -1 "$D/blocked-keys.txt")
edit "$C" 'c["weak_keys"] = {"blocklist": ["blocked-keys.txt"]}'
out=$("$CG" check -c "$C" 2>&1)
ok $? "/blocklist/check: the configuration with weak_keys loads ($out)"

mkcsr() {	# mkcsr KEY CN [openssl req args]: CN.csr (PEM)
	local k=$1 cn=$2
	shift 2
	openssl req -new -key "$k" -subj "/CN=$cn" "$@" -out "$cn.csr" 2>>ossl.log
}
mkcsr fermat.key w-fermat
mkcsr roca.key w-roca
mkcsr blocked.key w-blocked
mkcsr good.key w-sha1 -sha1
mkcsr good.key w-md5 -md5
mkcsr good.key g-good
# The reason each weak CSR must be refused with
declare -A WHY=(
	[w-fermat]="Fermat's method"
	[w-roca]="ROCA, CVE-2017-15361"
	[w-blocked]="known-compromised key .*$BLOCKED_HASH"
	[w-sha1]="RSA-SHA1 .*is not accepted"
	[w-md5]="RSA-MD5 .*is not accepted"
)
WEAKS="w-fermat w-roca w-blocked w-sha1 w-md5"

lib_spawn serve "$CG" serve -c "$C"
SERVE_PID=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "certgate serve did not start: $(cat serve.err)"

count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
last_audit() { sqlite3 "$D/state/certgate.db" "SELECT coalesce(max(id), 0) FROM audit"; }
# refused NAME STATUS-GOT BODY-FILE REGEX ADAPTER: 400, the reason, nothing stored, audited
refused() {
	local name=$1 st=$2 body=$3 why=$4 ad=$5 a
	is "$st" 400 "$name: HTTP 400"
	like "$(tr -d '\n' <"$body")" "$why" "$name: the reason in the body"
	is "$(count)" "$N0" "$name: nothing stored"
	a=$("$CG" audit -c "$C" --after "$A0")
	like "$a" "^[0-9]+ .* $ad [a-z]+ refused .*$why" "$name: audited as refused with the reason"
	A0=$(last_audit)
}
N0=$(count)
A0=$(last_audit)

# ---- EST (RFC 7030 4.2.1 simpleenroll)
U="https://localhost:$https_port/.well-known/est"
est() {	# est FILE.csr OP [curl args]: status on stdout, body in est.body
	local f=$1 op=$2
	shift 2
	openssl req -in "$f" -outform DER | base64 >est.b64
	curl -s --cacert "$CHAIN" -o est.body -w '%{http_code}' -H "Content-Type: application/pkcs10" \
		--data-binary @est.b64 "$@" "$U/$op"
}
for w in $WEAKS; do
	st=$(est "$w.csr" simpleenroll -u "client:$PW")
	refused "/est/simpleenroll/$w" "$st" est.body "${WHY[$w]}" est
done
st=$(est g-good.csr simpleenroll -u "client:$PW")
is "$st" 200 "/est/simpleenroll: still serving, a good RSA key issues"
base64 -d est.body | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
	sed -n '/BEGIN CERT/,/END CERT/p' >est-good.pem
openssl verify -CAfile "$CHAIN" est-good.pem >/dev/null 2>&1
ok $? "/est/simpleenroll: openssl verifies it"
N0=$(count)
A0=$(last_audit)

# RFC 7030 4.2.2 simplereenroll, authenticated by the certificate being renewed: the new key
# is checked as any other (same subject, so only the key and the signature differ)
for w in $WEAKS; do
	case $w in
	w-sha1 | w-md5) openssl req -new -key good.key -subj "/CN=g-good" "-${w#w-}" \
		-out re.csr 2>>ossl.log ;;
	*) openssl req -new -key "${w#w-}.key" -subj "/CN=g-good" -out re.csr 2>>ossl.log ;;
	esac
	st=$(est re.csr simplereenroll --cert est-good.pem --key good.key)
	refused "/est/simplereenroll/$w" "$st" est.body "${WHY[$w]}" est
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out good2.key 2>/dev/null
openssl req -new -key good2.key -subj "/CN=g-good" -out re.csr 2>>ossl.log
st=$(est re.csr simplereenroll --cert est-good.pem --key good.key)
is "$st" 200 "/est/simplereenroll: still serving, a good new key renews"
N0=$(count)
A0=$(last_audit)

# ---- se.SAM loadcsr (PROTOCOLS.md 2) and issuepseudocsr with a public key
API="https://localhost:$https_port/sesam/api"
sesam() {	# sesam curl-args...: status on stdout, body in sesam.body
	curl -s --cacert "$CHAIN" -u "client:$PW" -o sesam.body -w '%{http_code}' "$@" "$API"
}
for w in $WEAKS; do
	st=$(sesam --data-urlencode command=loadcsr --data-urlencode template=Device-Template-2022 \
		--data-urlencode "csr_dump=$(cat "$w.csr")")
	refused "/sesam/loadcsr/$w" "$st" sesam.body "${WHY[$w]}" sesam
	like "$(cat sesam.body)" '"result": *"ST_FF"' "/sesam/loadcsr/$w: result ST_FF"
done
for k in fermat roca blocked; do
	openssl pkey -in "$k.key" -pubout -out "$k.pub"
	rd=$("$PY" -c 'import json,sys; print(json.dumps({"name":"dev","CN":"pk-device","public_key":open(sys.argv[1]).read()}))' "$k.pub")
	st=$(sesam --data-urlencode command=issuepseudocsr \
		--data-urlencode template=Device-Template-2022 --data-urlencode "request_data=$rd")
	refused "/sesam/issuepseudocsr/public-key-$k" "$st" sesam.body "${WHY[w-$k]}" sesam
done
st=$(sesam --data-urlencode command=loadcsr --data-urlencode template=Device-Template-2022 \
	--data-urlencode "csr_dump=$(cat g-good.csr)")
is "$st" 200 "/sesam/loadcsr: still serving, a good CSR issues"
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["x509_cert"])' sesam.body >sesam.pem
openssl verify -CAfile "$CHAIN" sesam.pem >/dev/null 2>&1
ok $? "/sesam/loadcsr: openssl verifies the certificate"
N0=$(count)
A0=$(last_audit)

# ---- IoT enrollment API (PROTOCOLS.md 4): POST /certificate with a CSR
IOT="https://localhost:$https_port/iot/api/v1"
iot() {	# iot FILE.csr: status on stdout, body in iot.body
	"$PY" -c 'import json,sys; print(json.dumps({"enrollment_profile_id": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
		"$EP" "$1" >iot.json
	curl -s --cacert "$CHAIN" -o iot.body -w '%{http_code}' -H "x-api-key: $IOTKEY" \
		-H 'Content-Type: application/json' --data-binary @iot.json "$IOT/certificate"
}
for w in $WEAKS; do
	st=$(iot "$w.csr")
	refused "/iot/certificate/$w" "$st" iot.body "${WHY[$w]}" iot
	like "$(cat iot.body)" '"code": *"invalid_input"' "/iot/certificate/$w: code invalid_input"
done
st=$(iot g-good.csr)
is "$st" 200 "/iot/certificate: still serving, a good CSR issues"
N0=$(count)
A0=$(last_audit)

# ---- certgate issue --csr (the CLI, offline, same backend)
for w in $WEAKS; do
	out=$("$CG" issue -c "$C" --profile est-device --csr "$w.csr" --out cli.pem 2>&1)
	ok $((! $?)) "/cli/issue/$w: refused (exit non-zero)"
	like "$out" "${WHY[$w]}" "/cli/issue/$w: says why"
	is "$(count)" "$N0" "/cli/issue/$w: nothing stored"
	like "$("$CG" audit -c "$C" --after "$A0")" "cli [a-z]+ refused .*${WHY[$w]}" \
		"/cli/issue/$w: audited"
	A0=$(last_audit)
done

# ---- a reload (SIGHUP) to an RSA-1024 profile is refused; the running configuration serves
cp "$C" good.json
edit "$C.new" 'c["profiles"]["tls-server"]["key_types"] = ["p256", "rsa2048", "rsa1024"]'
mv "$C.new" "$C"
kill -HUP "$SERVE_PID"
n=0
until grep -q 'tls-server\.key_types\[2\]: rsa1024' serve.err serve.out 2>/dev/null || [ $n -ge 40 ]; do
	sleep 0.5
	n=$((n + 1))
done
grep -q 'profiles\.tls-server\.key_types\[2\]: rsa1024: RSA keys below 2048 bits' serve.err serve.out
ok $? "/floor/reload: SIGHUP with an RSA-1024 profile is refused, naming it"
cp good.json "$C"
st=$(est g-good.csr simpleenroll -u "client:$PW")
is "$st" 200 "/floor/reload: the running configuration still issues"

# ---- the daemon is still up and well after all of it
curl -s --cacert "$CHAIN" -o /dev/null -w '%{http_code}' "https://localhost:$https_port/healthz" >hz
is "$(cat hz)" 200 "/serve: still serving /healthz"
lib_done
