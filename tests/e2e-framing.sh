#!/bin/bash
# End to end: request framing and media types on certgate's own listeners (issue 12), against
# the real daemon on its demo, on every front end that takes a body (EST, se.SAM, IoT, TSB).
#
# RFC 9112 section 6.3: two Content-Length headers (equal or not), Content-Length beside
# Transfer-Encoding, a coding other than chunked, chunked twice, a length that is not a
# number, Transfer-Encoding in HTTP/1.0: 400 naming the problem and the connection closed
# (a request pipelined behind it is never answered), nothing issued.  An over-size chunked
# body gets 413 naming limits.max_body.  The JSON APIs refuse a body that is not
# application/json with 415 (audited under the principal who sent it).  An empty PKCS#12
# password is a bad input on se.SAM and IoT, never "absent".
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

https_port=$(lib_free_port)
http_port=$(lib_free_port)
while [ "$http_port" = "$https_port" ]; do http_port=$(lib_free_port); done
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"

cred() { $PY -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$D/demo-credentials.json" "$1"; }
PW=$(cred 'd["client"]["password"]')
IOT=$(cred 'd["iot-client"]["api_key"]')
TSBKM=$(cred 'd["tsb-keymgmt"]["api_key"]')
CHAIN="$D/ca/chain.pem"
EP=IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59

count() { "$CG" list -c "$C" --deleted 2>&1 >/dev/null | awk '{print $3}'; }
audit_lines() { "$CG" audit -c "$C" --limit 100000 | wc -l; }

# raw HEAD-FILE BODY-FILE [http10]: sends the request head (CRLF lines, no blank line) and
# body over TLS, then a pipelined "GET /healthz"; prints everything the server sent until it
# closed the connection (10 s at most).
raw() {
	$PY - "$https_port" "$CHAIN" "$1" "$2" <<'PY'
import socket, ssl, sys
port, ca, head, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                    server_hostname="localhost")
h = open(head, "rb").read().replace(b"\n", b"\r\n")
b = open(body, "rb").read()
s.sendall(h + b"\r\n" + b + b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except (socket.timeout, ssl.SSLError, ConnectionError):
    pass
sys.stdout.write(out.decode("latin-1"))
PY
}

# framed NAME HEAD BODY REGEX: 400, the reason in the body, one reply only (the connection
# was closed: the pipelined /healthz went unanswered), nothing stored.
framed() {
	local name=$1 before out
	before=$(count)
	printf '%s' "$2" >head.txt
	printf '%b' "$3" >body.bin
	out=$(raw head.txt body.bin)
	like "$(printf '%s' "$out" | head -n 1 | tr -d '\r')" '^HTTP/1\.1 400 ' "$name: 400"
	like "$out" "$4" "$name: the reply names what is wrong"
	is "$(printf '%s' "$out" | grep -c '^HTTP/1\.')" 1 \
		"$name: connection closed, the pipelined request is not answered"
	like "$(printf '%s' "$out" | grep -i '^Connection:' | tr -d '\r')" '^Connection: close$' \
		"$name: Connection: close"
	is "$(count)" "$before" "$name: nothing stored"
}

# ---------------------------------------------------------------- requests that would issue

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
	-subj /CN=framing-device -outform DER -out dev.der 2>/dev/null || bail "openssl req"
base64 -w 64 dev.der >dev.b64
AUTH=$(printf 'client:%s' "$PW" | base64 -w 0)
est_body=$(cat dev.b64)
est_len=${#est_body}
iot_body="{\"enrollment_profile_id\": \"$EP\", \"server_side_key_gen\": true, \"key_type\": \"p_256\", \"private_key_format\": \"pem\", \"certificate_profile_attributes\": [{\"id\": \"subject.common_name\", \"value\": \"framing-iot\"}]}"
iot_len=${#iot_body}
sesam_body="command=gencert&template=Email-Template-2022&CN=Framing&L=Munich"
sesam_len=${#sesam_body}
tsb_body='{"label": "framing-key", "algorithm": "EC", "curveOid": "1.2.840.10045.3.1.7", "attributes": {"sign": true}}'
tsb_len=${#tsb_body}

lib_spawn serve "$CG" serve -c "$C"
pid=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "server did not start: $(cat serve.err)"

# Each front end's request is first shown to issue when well framed, so a refusal below
# is the framing's and nothing else's.
printf '%s' "$est_body" >est.txt
st=$(curl -s -o est.out -w '%{http_code}' --cacert "$CHAIN" -u "client:$PW" \
	-H 'Content-Type: application/pkcs10' --data-binary @est.txt \
	"https://localhost:$https_port/.well-known/est/simpleenroll")
is "$st" 200 "/framing/est/control: a well-framed simpleenroll issues"
printf '%s' "$iot_body" >iot.json
st=$(curl -s -o iot.out -w '%{http_code}' --cacert "$CHAIN" -H "x-api-key: $IOT" \
	-H 'Content-Type: application/json' --data-binary @iot.json \
	"https://localhost:$https_port/iot/api/v1/certificate")
is "$st" 200 "/framing/iot/control: a well-framed enroll issues"

est_head="POST /.well-known/est/simpleenroll HTTP/1.1
Host: localhost
Authorization: Basic $AUTH
Content-Type: application/pkcs10"
iot_head="POST /iot/api/v1/certificate HTTP/1.1
Host: localhost
x-api-key: $IOT
Content-Type: application/json"
sesam_head="POST /sesam/api HTTP/1.1
Host: localhost
Authorization: Basic $AUTH
Content-Type: application/x-www-form-urlencoded"
tsb_head="POST /v1/key HTTP/1.1
Host: localhost
X-API-KEY: $TSBKM
Content-Type: application/json"

chunk() { printf '%x\r\n%s\r\n0\r\n\r\n' "${#1}" "$1"; }

for fe in est iot sesam tsb; do
	eval "head=\$${fe}_head len=\$${fe}_len body=\$${fe}_body"
	framed "/framing/$fe/two-equal-lengths" "$head
Content-Length: $len
Content-Length: $len
" "$body" "Content-Length sent more than once"
	framed "/framing/$fe/two-different-lengths" "$head
Content-Length: $len
Content-Length: 5
" "$body" "Content-Length sent more than once"
	framed "/framing/$fe/length-and-chunked" "$head
Content-Length: $len
Transfer-Encoding: chunked
" "$(chunk "$body")" "both Content-Length and Transfer-Encoding"
	framed "/framing/$fe/gzip" "$head
Transfer-Encoding: gzip
" "$body" "other than chunked"
	framed "/framing/$fe/gzip-then-chunked" "$head
Transfer-Encoding: gzip, chunked
" "$(chunk "$body")" "other than chunked"
	framed "/framing/$fe/chunked-twice" "$head
Transfer-Encoding: chunked
Transfer-Encoding: chunked
" "$(chunk "$body")" "chunked applied more than once"
done
# libmicrohttpd itself answers 400 to a length that is not a number; checked on one front
# end, with nothing stored.
for v in -1 +12 12abc '0x10'; do
	before=$(count)
	printf '%s\nContent-Length: %s\n' "$est_head" "$v" >head.txt
	printf '%s' "$est_body" >body.bin
	out=$(raw head.txt body.bin)
	like "$(printf '%s' "$out" | head -n 1 | tr -d '\r')" '^HTTP/1\.1 400 ' \
		"/framing/est/length-$v: 400"
	is "$(count)" "$before" "/framing/est/length-$v: nothing stored"
done
before=$(count)
printf '%s\nTransfer-Encoding: chunked\n' "$(printf '%s' "$est_head" | sed '1s|HTTP/1.1|HTTP/1.0|')" \
	>head.txt
chunk "$est_body" >body.bin
out=$(raw head.txt body.bin)
like "$(printf '%s' "$out" | head -n 1 | tr -d '\r')" '^HTTP/1\.[01] 400 ' "/framing/est/http10-chunked: 400"
like "$out" "Transfer-Encoding in an HTTP/1.0 request" "/framing/est/http10-chunked: says why"
is "$(count)" "$before" "/framing/est/http10-chunked: nothing stored"

# ---------------------------------------------------------------- over-size chunked bodies

MAX=$(lib_oversize_body "$C" over.bin)
head -c $((MAX * 2)) /dev/zero | tr '\0' 'A' >over2.bin
for fe in est iot sesam tsb; do
	case $fe in
	est) url=/.well-known/est/simpleenroll; a=(-u "client:$PW" -H 'Content-Type: application/pkcs10') ;;
	iot) url=/iot/api/v1/certificate; a=(-H "x-api-key: $IOT" -H 'Content-Type: application/json') ;;
	sesam) url=/sesam/api; a=(-u "client:$PW" -H 'Content-Type: application/x-www-form-urlencoded') ;;
	tsb) url=/v1/key; a=(-H "X-API-KEY: $TSBKM" -H 'Content-Type: application/json') ;;
	esac
	for f in over.bin over2.bin; do
		before=$(count)
		st=$(curl -s -o big.out -w '%{http_code}' --cacert "$CHAIN" "${a[@]}" \
			-H 'Transfer-Encoding: chunked' --data-binary @"$f" "https://localhost:$https_port$url")
		is "$st" 413 "/framing/$fe/chunked-$f: 413"
		grep -q "larger than the limit of $MAX bytes (limits.max_body)" big.out
		ok $? "/framing/$fe/chunked-$f: names limits.max_body"
		is "$(count)" "$before" "/framing/$fe/chunked-$f: nothing stored"
	done
done

# ---------------------------------------------------------------- media types of the JSON APIs

for ct in text/plain application/x-www-form-urlencoded application/jsonx ''; do
	before=$(count)
	a=$(audit_lines)
	st=$(curl -s -o m.out -D m.hdr -w '%{http_code}' --cacert "$CHAIN" -H "x-api-key: $IOT" \
		-H "Content-Type: $ct" --data-binary @iot.json \
		"https://localhost:$https_port/iot/api/v1/certificate")
	lib_json_refusal "/framing/iot/media-type-'$ct'" "$st" 415 m.hdr m.out
	grep -q 'Content-Type must be application/json' m.out
	ok $? "/framing/iot/media-type-'$ct': says why"
	is "$(count)" "$before" "/framing/iot/media-type-'$ct': nothing stored"
	"$CG" audit -c "$C" --limit 100000 | tail -n 1 |
		grep -q "iot enroll refused principal=iot-client .*Content-Type must be application/json"
	ok $? "/framing/iot/media-type-'$ct': audited under the principal who sent it"
	st=$(curl -s -o m.out -D m.hdr -w '%{http_code}' --cacert "$CHAIN" -H "X-API-KEY: $TSBKM" \
		-H "Content-Type: $ct" --data-binary @iot.json "https://localhost:$https_port/v1/key")
	lib_json_refusal "/framing/tsb/media-type-'$ct'" "$st" 415 m.hdr m.out
done
st=$(curl -s -o m.out -w '%{http_code}' --cacert "$CHAIN" -H "x-api-key: $IOT" \
	-H 'Content-Type: Application/JSON; charset=utf-8' --data-binary @iot.json \
	"https://localhost:$https_port/iot/api/v1/certificate")
is "$st" 200 "/framing/iot/media-type-parameters: type case-insensitive, parameters allowed"

# ---------------------------------------------------------------- empty PKCS#12 passwords

before=$(count)
st=$(curl -s -o p.out -w '%{http_code}' --cacert "$CHAIN" -u "client:$PW" \
	-d command=gencert -d template=Email-Template-2022 -d CN=Empty -d L=Munich -d p12_pass= \
	"https://localhost:$https_port/sesam/api")
is "$st" 400 "/framing/sesam/empty-p12_pass: 400"
like "$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["result"], d["error"])' p.out)" \
	'^ST_FF p12_pass: given but empty' "/framing/sesam/empty-p12_pass: ST_FF naming p12_pass"
is "$(count)" "$before" "/framing/sesam/empty-p12_pass: nothing stored"
"$CG" audit -c "$C" --limit 100000 | tail -n 1 | grep -q "sesam gencert refused principal=client .*p12_pass"
ok $? "/framing/sesam/empty-p12_pass: audited under the client"
st=$(curl -s -o p.out -w '%{http_code}' --cacert "$CHAIN" -u "client:$PW" \
	-H 'Content-Type: application/json' \
	-d '{"command": "gencert", "template": "Email-Template-2022", "CN": "Empty", "p12_pass": ""}' \
	"https://localhost:$https_port/sesam/api")
is "$st" 400 "/framing/sesam/empty-p12_pass-json: 400 (Node-RED JSON body)"
st=$(curl -s -o p.out -w '%{http_code}' --cacert "$CHAIN" -u "client:$PW" \
	-d command=gencert -d template=Email-Template-2022 -d CN=NoPass -d L=Munich \
	"https://localhost:$https_port/sesam/api")
is "$st $($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["p12_pass"]) > 0)' p.out)" \
	"200 True" "/framing/sesam/absent-p12_pass: a random password is returned"
before=$(count)
st=$(curl -s -o p.out -w '%{http_code}' --cacert "$CHAIN" -H "x-api-key: $IOT" \
	-H 'Content-Type: application/json' \
	-d "{\"enrollment_profile_id\": \"$EP\", \"server_side_key_gen\": true, \"key_type\": \"p_256\", \"private_key_format\": \"pkcs_12\", \"pkcs12_password\": \"\", \"certificate_profile_attributes\": [{\"id\": \"subject.common_name\", \"value\": \"p12\"}]}" \
	"https://localhost:$https_port/iot/api/v1/certificate")
is "$st" 400 "/framing/iot/empty-pkcs12_password: 400"
grep -q 'pkcs12_password: must not be empty' p.out
ok $? "/framing/iot/empty-pkcs12_password: names the field"
is "$(count)" "$before" "/framing/iot/empty-pkcs12_password: nothing stored"

# ---------------------------------------------------------------- still serving

st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CHAIN" "https://localhost:$https_port/healthz")
is "$st" 200 "/framing/after: the daemon still serves"
lib_stop "$pid"
ok $? "/framing/after: SIGTERM stops it with status 0"
! grep -qi "sanitizer\|runtime error" serve.err
ok $? "/framing/after: no sanitizer reports"
lib_done
