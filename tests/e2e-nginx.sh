#!/bin/bash
# End to end behind a real nginx (Debian's, run as the current user with a temporary prefix)
# that terminates TLS and proxies to certgate's unix socket, with the site generated from the
# shipped contrib/nginx/certgate.conf (paths and ports substituted, nothing else), so the
# shipped file is what is tested.  Proves: client-certificate authentication through the
# proxy (certgate verifies the forwarded certificate itself; nginx uses optional_no_ca), EST
# simpleenroll with Basic and simplereenroll by client certificate, a se.SAM gencert with
# python3-requests, the client address from X-Forwarded-For, and the spoofing cases: a
# certificate header a client sends through nginx is overwritten, one sent straight to
# certgate from an untrusted address is refused (403 and an audit entry), and a forged
# certificate (self-signed, or from another CA) in the header of a trusted hop is refused.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
	echo "1..0 # SKIP nginx not installed (Debian package nginx-light)"
	exit 0
fi
for tool in curl openssl python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
lib_init
CG="${top_builddir:-.}/certgate"
SITE="${top_srcdir:-.}/contrib/nginx/certgate.conf"
T=$LIB_TMP
D=$T/demo
C=$D/certgate.json
N=$T/nginx
cd "$T" || bail "no temp dir"

https_port=$(lib_free_port) || bail "no free port"
http_port=$(lib_free_port) || bail "no free port"
nport=$(lib_free_port) || bail "no free port"
while [ "$http_port" = "$https_port" ] || [ "$nport" = "$https_port" ] || [ "$nport" = "$http_port" ]; do
	nport=$(lib_free_port); http_port=$(lib_free_port)
done
sock=$T/cg.sock
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
cred() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
		"$D/demo-credentials.json" "$1" "$2"
}
client_pw=$(cred client password)

# certgate: a unix socket only nginx uses is the trusted proxy; 127.0.0.1 is not trusted, so a
# header sent straight to the TCP listeners is a spoofing attempt.  /metrics is readable by the
# principal "device" only (by client certificate), which makes it a probe of who certgate
# thinks the client is.
python3 - "$C" "$sock" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["listen"].append({"unix": sys.argv[2]})
d["proxy"] = {"trusted": ["unix"], "https": True}
d["metrics"] = {"allow": [], "principals": ["device"]}
json.dump(d, open(sys.argv[1], "w"), indent=1)
PY

# client certificates: the demo's "device" principal, one from a CA nobody trusts with the
# same subject, and a self-signed one with the same subject
subj="CN=device-001,O=certgate demo"
"$CG" issue -c "$C" --profile est-device --subject "$subj" --keygen --out dev.pem \
	--key-out dev.key 2>issue.err || bail "certgate issue: $(cat issue.err)"
lib_make_pki "$T/pki" >/dev/null 2>&1 || bail "cannot make a throwaway PKI"
cat >ext.cnf <<'EOF'
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key \
	-subj "/O=certgate demo/CN=device-001" -out rogue.csr 2>/dev/null &&
openssl x509 -req -in rogue.csr -CA pki/rogue-ca.pem -CAkey pki/rogue-ca.key -CAcreateserial \
	-days 2 -extfile ext.cnf -extensions client -out rogue.pem 2>/dev/null &&
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key \
	-subj "/O=certgate demo/CN=device-001" -days 2 -addext "extendedKeyUsage=clientAuth" \
	-addext "keyUsage=critical,digitalSignature" -out self.pem 2>/dev/null ||
	bail "cannot make the forged certificates"
escaped() {	# URL-escaped PEM, as nginx's $ssl_client_escaped_cert
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$1"
}

lib_spawn serve "$CG" serve -c "$C"
cg=$LIB_PID
for _ in $(seq 100); do [ -S "$sock" ] && break; kill -0 "$cg" 2>/dev/null || break; sleep 0.1; done
[ -S "$sock" ] || bail "certgate did not start: $(tail -3 serve.err)"

# ---------------------------------------------------------------- nginx from the shipped site

mkdir -p "$N"
sed -e "s|server unix:/run/certgate/certgate.sock;|server unix:$sock;|" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$nport ssl;|" \
    -e "/listen \[::\]:443 ssl;/d" \
    -e "s|server_name ca.example.com;|server_name localhost;|" \
    -e "s|ssl_certificate /etc/ssl/certs/ca.example.com.pem;|ssl_certificate $D/tls/server.pem;|" \
    -e "s|ssl_certificate_key /etc/ssl/private/ca.example.com.key;|ssl_certificate_key $D/tls/server.key;|" \
    "$SITE" >"$N/site.conf"
left=$(grep -v '^[[:space:]]*#' "$N/site.conf" | grep -nE '/run/certgate|:443|ca\.example\.com')
is "$left" "" "/nginx/conf: the test site is the shipped one with only paths and ports replaced"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$N/nginx.conf" <<EOF
$user_line
worker_processes 1;
events { worker_connections 128; }
http {
	access_log $N/access.log;
	client_body_temp_path $N/body;
	proxy_temp_path $N/proxy;
	fastcgi_temp_path $N/fastcgi;
	uwsgi_temp_path $N/uwsgi;
	scgi_temp_path $N/scgi;
	include $N/site.conf;
}
EOF
NG=("$NGINX" -e "$N/error.log" -p "$N" -c "$N/nginx.conf")
"${NG[@]}" -t -g "pid $N/nginx.pid; error_log $N/error.log;" >"$N/t.out" 2>&1
ok $? "/nginx/conf: nginx -t accepts the site"
python3 - "$SITE" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"#.*", "", text)
need = ["X-SSL-Client-Cert $ssl_client_escaped_cert", "X-SSL-Client-Verify $ssl_client_verify",
        "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme"]
bad, n = [], 0
for m in re.finditer(r"location\s+([^{]*)\{([^}]*)\}", text):
    body = m.group(2)
    if "proxy_pass" not in body:
        continue
    n += 1
    sets = [" ".join(x.split()) for x in re.findall(r"proxy_set_header\s+([^;]*);", body)]
    for h in need:
        if h not in sets:
            bad.append("%s: %s" % (m.group(1).strip(), h))
for p in ("/.well-known/est/", "/sesam/", "/v1/", "/iot/api/v1/", "= /healthz", "= /metrics"):
    if not re.search(r"location\s+" + re.escape(p) + r"\s*\{[^}]*proxy_pass", text):
        bad.append("no proxied location " + p)
print("\n".join(bad))
sys.exit(1 if bad or n < 6 else 0)
PY
ok $? "/nginx/conf: every proxied location (EST, se.SAM, TSB, IoT, healthz) sets the certificate, verify, X-Forwarded-For and X-Forwarded-Proto headers itself"

lib_spawn nginx "${NG[@]}" -g "daemon off; pid $N/nginx.pid; error_log $N/error.log;"
ngx=$LIB_PID
lib_wait_port 127.0.0.1 "$nport" 10 || bail "nginx did not start: $(tail -5 "$N/error.log")"

NX=https://localhost:$nport
CA=$D/ca/chain.pem
CURL="curl -s --max-time 20 --cacert $CA"
code() { $CURL -o "$T/body" -w '%{http_code}' "$@"; }
audits() { "$CG" audit -c "$C" --limit 100000 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- health and identity

is "$($CURL "$NX/healthz")" "ok" "/nginx/healthz: through nginx to the unix socket"
sleep 0.2
line=$(grep 'path="/healthz"' serve.err | tail -1)
like "$line" 'peer=127\.0\.0\.1 proxy=unix .*secure=yes' \
	"/nginx/healthz: certgate logs the client's address from X-Forwarded-For, the proxy, and TLS at the proxy"

is "$(code --cert dev.pem --key dev.key "$NX/metrics")" "200" \
	"/nginx/client-cert: the device certificate, forwarded by nginx, authenticates principal device"
like "$(head -3 "$T/body")" "^# HELP" "/nginx/client-cert: ... and reads the metrics"
is "$(code "$NX/metrics")" "401" "/nginx/client-cert: without a certificate: 401"
is "$(code --cert self.pem --key self.key "$NX/metrics")" "403" \
	"/nginx/forged/self-signed: nginx passes any certificate (optional_no_ca); certgate refuses a self-signed one"
is "$(code --cert rogue.pem --key rogue.key "$NX/metrics")" "403" \
	"/nginx/forged/other-ca: ... and one from another CA with the same subject"
is "$(code "$NX/nowhere")" "404" "/nginx/site: unknown paths end at nginx"

r=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -H 'X-SSL-Client-Cert: not%20a%20certificate' \
	-H 'X-SSL-Client-Verify: SUCCESS' http://certgate/healthz)
is "$r" "400" "/proxy/trusted/malformed: a malformed certificate header from the trusted socket is 400"

# identity probe through the trusted socket as nginx would send it
probe() {	# probe CERTFILE|- [VERIFY]: status of /metrics on the trusted socket with that header
	local h=()
	[ "$1" != - ] && h=(-H "X-SSL-Client-Cert: $(escaped "$1")" -H "X-SSL-Client-Verify: ${2:-SUCCESS}")
	curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$sock" "${h[@]}" \
		-H 'X-Forwarded-Proto: https' -H 'X-Forwarded-For: 127.0.0.1' http://certgate/metrics
}
is "$(probe dev.pem)" "200" "/proxy/trusted: the device certificate in the header of the trusted hop authenticates"
is "$(probe dev.pem 'FAILED:unable to get local issuer certificate')" "200" \
	"/proxy/trusted: nginx's own verdict (optional_no_ca) does not matter, certgate verifies"
a0=$(audits)
is "$(probe self.pem)" "403" "/proxy/forged/self-signed: a self-signed certificate with the device's subject is refused"
like "$(cat "$T/body")" "does not verify|not trusted|issuer" "/proxy/forged/self-signed: says the certificate does not verify"
is "$(probe rogue.pem)" "403" "/proxy/forged/other-ca: a certificate from another CA with the device's subject is refused"
[ "$(audits)" -ge $((a0 + 2)) ]
ok $? "/proxy/forged: both refusals are audited"
is "$(probe dev.pem NONE)" "400" "/proxy/trusted: a certificate with verify NONE is inconsistent: 400"

# ---------------------------------------------------------------- spoofing

is "$(probe -)" "401" "/proxy/trusted: no certificate header, no identity: 401"
# A client sends the header itself through nginx: nginx replaces it (or drops it when the
# client presented no certificate).
is "$(code -H "X-SSL-Client-Cert: $(escaped dev.pem)" -H 'X-SSL-Client-Verify: SUCCESS' \
	"$NX/metrics")" "401" \
	"/spoof/through-nginx: the device certificate injected as a header by a client without one does not authenticate"
is "$(code -H "X-SSL-Client-Cert: $(escaped dev.pem)" -H 'X-SSL-Client-Verify: SUCCESS' \
	--cert self.pem --key self.key "$NX/metrics")" "403" \
	"/spoof/through-nginx: ... nor alongside another certificate: nginx forwards the one presented"
curl -s -o /dev/null --max-time 20 --cacert "$CA" -H 'X-Forwarded-For: 10.9.9.9' "$NX/healthz?xff"
sleep 0.2
like "$(grep 'path="/healthz"' serve.err | tail -1)" 'peer=127\.0\.0\.1 proxy=unix' \
	"/spoof/through-nginx: an injected X-Forwarded-For is not taken as the client's address"
a0=$(audits)
r=$(curl -s -w '\n%{http_code}' --max-time 20 -H "X-SSL-Client-Cert: $(escaped dev.pem)" \
	-H 'X-SSL-Client-Verify: SUCCESS' "http://127.0.0.1:$http_port/healthz")
is "$(printf '%s' "$r" | tail -1)" "403" \
	"/spoof/direct: the header sent straight to certgate from 127.0.0.1 (not a trusted proxy) is refused"
like "$r" "X-SSL-Client-Cert: .*trusted proxy.*127\.0\.0\.1 is not one" "/spoof/direct: the reply says why"
r=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$CA" \
	-H "X-SSL-Client-Cert: $(escaped dev.pem)" "https://localhost:$https_port/healthz")
is "$r" "403" "/spoof/direct: also on certgate's own HTTPS listener"
[ "$(audits)" -ge $((a0 + 2)) ] && "$CG" audit -c "$C" --limit 100000 | tail -2 | grep -q "forwarded-headers refused"
ok $? "/spoof/direct: the refusals are audited"

# ---------------------------------------------------------------- EST through nginx

if [ "$(code "$NX/.well-known/est/cacerts")" = 200 ]; then
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout e1.key \
		-subj "/CN=nginx-est-1" -outform DER -out e1.der 2>/dev/null
	base64 e1.der >e1.b64
	r=$(code -u "client:$client_pw" -H 'Content-Type: application/pkcs10' \
		--data-binary @e1.b64 "$NX/.well-known/est/simpleenroll")
	is "$r" "200" "/nginx/est/simpleenroll: HTTP Basic through nginx"
	[ "$r" = 200 ] || diag "$(head -c 300 "$T/body")"
	base64 -d "$T/body" 2>/dev/null | openssl pkcs7 -inform DER -print_certs -out e1.pem 2>/dev/null
	openssl verify -CAfile "$CA" e1.pem >/dev/null 2>&1
	ok $? "/nginx/est/simpleenroll: openssl verifies the certificate"
	# chunked request body, reassembled by nginx
	r=$(code -u "client:$client_pw" -H 'Content-Type: application/pkcs10' \
		-H 'Transfer-Encoding: chunked' --data-binary @e1.b64 "$NX/.well-known/est/simpleenroll")
	is "$r" "200" "/nginx/est/simpleenroll: a chunked request body"

	openssl req -new -key e1.key -subj "/CN=nginx-est-1" -outform DER -out e2.der 2>/dev/null
	base64 e2.der >e2.b64
	r=$(code --cert e1.pem --key e1.key -H 'Content-Type: application/pkcs10' \
		--data-binary @e2.b64 "$NX/.well-known/est/simplereenroll")
	is "$r" "200" "/nginx/est/simplereenroll: authenticated by the client certificate nginx forwards"
	[ "$r" = 200 ] || diag "$(head -c 300 "$T/body")"
	base64 -d "$T/body" 2>/dev/null | openssl pkcs7 -inform DER -print_certs -out e2.pem 2>/dev/null
	[ -s e2.pem ] && [ "$(openssl x509 -in e2.pem -noout -subject)" = "$(openssl x509 -in e1.pem -noout -subject)" ] &&
		! cmp -s e1.pem e2.pem && openssl verify -CAfile "$CA" e2.pem >/dev/null 2>&1
	ok $? "/nginx/est/simplereenroll: a new certificate for the same subject, verified by openssl"
	r=$(code --cert rogue.pem --key rogue.key -H 'Content-Type: application/pkcs10' \
		--data-binary @e2.b64 "$NX/.well-known/est/simplereenroll")
	is "$r" "403" "/nginx/est/simplereenroll: a certificate from another CA is refused"
	r=$(code -H "X-SSL-Client-Cert: $(escaped e1.pem)" -H 'X-SSL-Client-Verify: SUCCESS' \
		-H 'Content-Type: application/pkcs10' --data-binary @e2.b64 \
		"$NX/.well-known/est/simplereenroll")
	is "$r" "401" "/spoof/through-nginx/est: the certificate injected as a header by a client without one does not reenroll (401)"
	dd if=/dev/zero bs=1024 count=1100 2>/dev/null | tr '\0' 'A' >big.b64
	r=$(code -u "client:$client_pw" -H 'Content-Type: application/pkcs10' \
		--data-binary @big.b64 "$NX/.well-known/est/simpleenroll")
	is "$r" "413" "/nginx/limits: a body over client_max_body_size (certgate's max_body) is 413"
else
	for n in simpleenroll verify chunked simplereenroll reenroll-cert reenroll-rogue \
		reenroll-injected limits; do
		skip "/nginx/est/$n" "the EST front end does not answer"
	done
fi

# ---------------------------------------------------------------- se.SAM through nginx

sesam_pw=$(cred sesam-client password 2>/dev/null)
if [ -n "$sesam_pw" ] && python3 -c 'import requests' 2>/dev/null; then
	python3 - "$NX/sesam/api" "$CA" "$sesam_pw" >sesam.out 2>&1 <<'PY'
import base64, json, sys
import requests
url, ca, pw = sys.argv[1:4]
r = requests.post(url, data={"command": "gencert", "template": "IoT-Template-2022",
                             "CN": "nginx-sesam-1", "O": "certgate demo", "C": "DE"},
                  auth=("sesam-client", pw), verify=ca, timeout=30)
d = json.loads(r.text)
print(r.status_code, d.get("command"), d.get("result"))
open("sesam.pem", "w").write(d["x509_cert"])
open("sesam.p12", "wb").write(base64.b64decode(d["p12_data"]))
open("sesam.pass", "w").write(d["p12_pass"])
PY
	like "$(head -1 sesam.out)" "^200 gencert [0-9]+$" "/nginx/sesam/gencert: python3-requests through nginx gets a certificate and serial"
	openssl verify -CAfile "$CA" sesam.pem >/dev/null 2>&1
	ok $? "/nginx/sesam/gencert: openssl verifies it"
	openssl pkcs12 -in sesam.p12 -passin file:sesam.pass -nodes -out sesam.all >/dev/null 2>&1 &&
		grep -q "PRIVATE KEY" sesam.all
	ok $? "/nginx/sesam/gencert: the PKCS#12 opens with the returned password and holds the key"
else
	skip "/nginx/sesam/gencert" "no se.SAM demo principal or python3-requests"
	skip "/nginx/sesam/verify" "no se.SAM"
	skip "/nginx/sesam/p12" "no se.SAM"
fi

# ---------------------------------------------------------------- stop

lib_stop "$ngx"
ok $? "/nginx/stop: nginx stops"
lib_stop "$cg"
ok $? "/stop: certgate stops with status 0"
san='ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:'
! grep -q "$san" serve.err
ok $? "/sanitizers: no sanitizer reports"
! grep -q -- "PRIVATE KEY\|$client_pw" serve.err "$N/error.log" "$N/access.log"
ok $? "/logs: no key material or password in certgate's or nginx's logs"
lib_done
