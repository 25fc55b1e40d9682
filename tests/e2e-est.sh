#!/bin/bash
# End to end: EST (RFC 7030 / 8951 / 8996) against the running daemon, with curl, openssl and
# python3 (standard library) as the EST clients: every operation, each way to authenticate,
# labels, server-side key generation (plain and CMS), approval (202), PoP linking to the TLS
# channel (tls-unique on TLS 1.2, tls-exporter on TLS 1.3), wire variants, and every refusal:
# status, a reason, nothing stored, an audit entry.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
CG=$(cd "$(dirname "$CG")" && pwd)/$(basename "$CG")
D="$LIB_TMP/demo"
C="$D/certgate.json"
cd "$LIB_TMP" || bail "no temp dir"
for t in openssl curl python3 sqlite3 base64; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t missing"; exit 0; }
done
# Debian's interpreter: version-manager shims cost a second per start on a loaded machine.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# ---------------------------------------------------------------- helpers in python

cat >est_client.py <<'PY'
"""EST test client: CSRs with the attributes openssl req cannot write, and PoP-linked
enrollment (RFC 7030 3.5) on one TLS connection.  Standard library plus the openssl
command only.

  est_client.py csr KEY SUBJ [--challenge V | --challenge-int] [--decrypt-id HEX]
                [--asym-id HEX] [--san SAN]                    -> base64 DER on stdout
  est_client.py pop 1.2|1.3 HOST PORT CAFILE PATH USER:PASS KEY SUBJ MODE OUT
      MODE: good | short | long | wrong | none | int; prints the HTTP status, body in OUT
  est_client.py parts HEADERS BODY PREFIX   multipart/mixed -> PREFIX1.der, PREFIX2.der;
                                            prints "content-type|transfer-encoding" each
  est_client.py unwrap IN OUT               OUT = the contents of IN's outer DER TLV
"""
import base64
import os
import re
import subprocess
import sys
import tempfile


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def parse(d, off):
    """(tag, content start, end) of the TLV at off."""
    tag = d[off]
    n = d[off + 1]
    p = off + 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(d[p:p + k], 'big')
        p += k
    return tag, p, p + n


def children(d, start, end):
    out = []
    while start < end:
        _, cs, ce = parse(d, start)
        out.append(d[start:ce])
        start = ce
    return out


def oid(dotted):
    a = [int(x) for x in dotted.split('.')]
    body = bytes([40 * a[0] + a[1]])
    for v in a[2:]:
        enc = [v & 0x7f]
        v >>= 7
        while v:
            enc.insert(0, 0x80 | (v & 0x7f))
            v >>= 7
        body += bytes(enc)
    return tlv(0x06, body)


OID_CHALLENGE = oid('1.2.840.113549.1.9.7')


def openssl_csr(key, subj, challenge=None, san=None):
    # openssl req writes no attributes with -subj: the subject goes into the config
    rdns = [r.split('=', 1) for r in subj.strip('/').split('/')]
    with tempfile.NamedTemporaryFile('w', suffix='.cnf', delete=False) as f:
        f.write('[req]\nprompt=no\ndistinguished_name=dn\nattributes=attr\n'
                'string_mask=utf8only\n[dn]\n')
        for i, (k, v) in enumerate(rdns):
            f.write('%d.%s=%s\n' % (i, k, v))
        f.write('[attr]\n')
        if challenge is not None:
            f.write('challengePassword=%s\n' % challenge)
        name = f.name
    cmd = ['openssl', 'req', '-new', '-key', key, '-config', name, '-outform', 'DER']
    if san:
        cmd += ['-addext', 'subjectAltName=' + san]
    try:
        return subprocess.run(cmd, check=True, capture_output=True).stdout
    finally:
        os.unlink(name)


def resign(key, csr, extra_attrs=(), challenge_to_int=False):
    """csr with attributes added / the challengePassword's string turned into an INTEGER,
    signed again with key (same algorithm)."""
    _, s, e = parse(csr, 0)
    cri, alg, _ = children(csr, s, e)
    _, s, e = parse(cri, 0)
    parts = children(cri, s, e)
    _, s, e = parse(parts[3], 0)
    attrs = children(parts[3], s, e)
    if challenge_to_int:
        new = []
        for a in attrs:
            if a.find(OID_CHALLENGE) >= 0:
                _, s2, e2 = parse(a, 0)
                t, vset = children(a, s2, e2)
                _, s3, e3 = parse(vset, 0)
                (val,) = children(vset, s3, e3)
                _, vs, ve = parse(val, 0)
                a = tlv(0x30, t + tlv(0x31, tlv(0x02, b'\x01' + val[vs:ve])))
            new.append(a)
        attrs = new
    attrs = sorted(attrs + [tlv(0x30, oid(o) + tlv(0x31, v)) for o, v in extra_attrs])
    cri = tlv(0x30, b''.join(parts[:3]) + tlv(0xa0, b''.join(attrs)))
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(cri)
        name = f.name
    try:
        sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', key, name], check=True,
                             capture_output=True).stdout
    finally:
        os.unlink(name)
    return tlv(0x30, cri + alg + tlv(0x03, b'\x00' + sig))


def build(key, subj, challenge=None, challenge_int=False, decrypt_id=None, asym_id=None,
          san=None):
    csr = openssl_csr(key, subj, challenge, san)
    extra = []
    if decrypt_id:
        extra.append(('1.2.840.113549.1.9.16.2.37', tlv(0x04, bytes.fromhex(decrypt_id))))
    if asym_id:
        extra.append(('1.2.840.113549.1.9.16.2.54', tlv(0x04, bytes.fromhex(asym_id))))
    if extra or challenge_int:
        csr = resign(key, csr, extra, challenge_int)
    return csr


def pop_value(binding, mode):
    b64 = base64.b64encode(binding).decode()
    return {'good': b64, 'short': b64[:-2], 'long': b64 + 'AAAA', 'int': b64,
            'wrong': base64.b64encode(bytes(len(binding))).decode(), 'none': None}[mode]


def request_bytes(path, host, auth, body):
    return ('POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/pkcs10\r\n'
            'Authorization: Basic %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
            % (path, host, base64.b64encode(auth.encode()).decode(), len(body))
            ).encode() + body


def pop_tls12(host, port, ca, path, auth, key, subj, mode):
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    conn = http.client.HTTPSConnection(host, port, context=ctx)
    conn.connect()
    binding = conn.sock.get_channel_binding('tls-unique')     # RFC 5929
    csr = build(key, subj, pop_value(binding, mode), mode == 'int')
    conn.request('POST', path, body=base64.b64encode(csr), headers={
        'Content-Type': 'application/pkcs10',
        'Authorization': 'Basic ' + base64.b64encode(auth.encode()).decode()})
    r = conn.getresponse()
    return r.status, r.read()


def pop_tls13(host, port, ca, path, auth, key, subj, mode):
    # RFC 9266 tls-exporter: exporter label "EXPORTER-Channel-Binding", no context, 32 octets
    p = subprocess.Popen(['openssl', 's_client', '-connect', '%s:%d' % (host, port),
                          '-servername', host, '-CAfile', ca, '-verify_return_error',
                          '-tls1_3', '-keymatexport', 'EXPORTER-Channel-Binding',
                          '-keymatexportlen', '32', '-ign_eof'],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    binding = None
    for line in p.stdout:
        m = re.match(rb'\s*Keying material: ([0-9A-Fa-f]+)', line)
        if m:
            binding = bytes.fromhex(m.group(1).decode())
            break
    if binding is None:
        p.kill()
        raise SystemExit('s_client printed no keying material')
    csr = build(key, subj, pop_value(binding, mode), mode == 'int')
    p.stdin.write(request_bytes(path, host, auth, base64.b64encode(csr)))
    p.stdin.close()
    rest = p.stdout.read()
    p.wait(10)
    m = re.search(rb'HTTP/1\.1 (\d{3})[^\n]*\n(.*?)\r\n\r\n', rest, re.S)
    n = re.search(rb'(?i)content-length: *(\d+)', m.group(2)) if m else None
    if not n:
        raise SystemExit('no HTTP response from s_client')
    return int(m.group(1)), rest[m.end():m.end() + int(n.group(1))]


def main(argv):
    if argv[1] == 'csr':
        key, subj = argv[2], argv[3]
        opts = dict(challenge=None, challenge_int=False, decrypt_id=None, asym_id=None,
                    san=None)
        i = 4
        while i < len(argv):
            a = argv[i]
            if a == '--challenge-int':
                opts['challenge'] = 'not-a-string'
                opts['challenge_int'] = True
                i += 1
                continue
            opts[a[2:].replace('-', '_')] = argv[i + 1]
            i += 2
        sys.stdout.write(base64.b64encode(build(key, subj, **opts)).decode() + '\n')
        return 0
    if argv[1] == 'parts':
        # RFC 7030 4.4.2 multipart/mixed: each part's headers and decoded body
        import email
        import email.policy
        ct = [l.split(':', 1)[1].strip() for l in open(argv[2], encoding='latin-1')
              if l.lower().startswith('content-type:')][0]
        raw = open(argv[3], 'rb').read()
        msg = email.message_from_bytes(b'Content-Type: ' + ct.encode() + b'\r\n\r\n' + raw,
                                       policy=email.policy.HTTP)
        for i, part in enumerate(msg.iter_parts(), 1):
            with open('%s%d.der' % (argv[4], i), 'wb') as f:
                f.write(part.get_payload(decode=True))
            print('%s|%s' % (part['Content-Type'], part['Content-Transfer-Encoding']))
        return 0
    if argv[1] == 'unwrap':
        d = open(argv[2], 'rb').read()
        _, s, e = parse(d, 0)
        with open(argv[3], 'wb') as f:
            f.write(d[s:e])
        return 0
    if argv[1] == 'pop':
        ver, host, port, ca, path, auth, key, subj, mode, out = argv[2:12]
        fn = pop_tls12 if ver == '1.2' else pop_tls13
        status, body = fn(host, int(port), ca, path, auth, key, subj, mode)
        with open(out, 'wb') as f:
            f.write(body)
        print(status)
        return 0
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
PY

client() { "$PY" "$LIB_TMP/est_client.py" "$@"; }

# ---------------------------------------------------------------- the demo, plus test-only parts

https_port=$(lib_free_port)
http_port=$(lib_free_port)
"$CG" init "$D" --https-port "$https_port" --http-port "$http_port" >init.out 2>init.err ||
	bail "certgate init failed: $(cat init.err)"
secret() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["password"])' \
	"$D/demo-credentials.json" "$1"; }
PW=$(secret client)
ossl() { openssl "$@" >>ossl.log 2>&1; }
eckey() { ossl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${2:-P-256}" -out "$1"; }

# A foreign PKI (rogue CA and a client certificate it issued).
lib_make_pki "$LIB_TMP/pki" >/dev/null 2>&1 || bail "cannot make the foreign PKI"

# Keys a serverkeygen CSR may name (RFC 7030 4.4.1.1 symmetric, 4.4.1.2 certificates).
KEKID=0123456789abcdef0123456789abcdef
openssl rand -out "$D/kek.bin" 32
KEKHEX=$(od -An -tx1 -v "$D/kek.bin" | tr -d ' \n')
cat >recip.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[rsa]
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
[ec]
keyUsage = critical, keyAgreement
subjectKeyIdentifier = hash
EOF
ossl req -x509 -newkey rsa:2048 -nodes -keyout rsa-recip.key -out "$D/rsa-recip.pem" \
	-subj "/CN=EST key recipient (RSA)" -days 2 -config recip.cnf -extensions rsa
eckey ec-recip.key
ossl req -x509 -new -key ec-recip.key -out "$D/ec-recip.pem" -subj "/CN=EST key recipient (EC)" \
	-days 2 -config recip.cnf -extensions ec
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :\n' |
	tr 'A-F' 'a-f'; }
RSA_SKI=$(ski "$D/rsa-recip.pem")
EC_SKI=$(ski "$D/ec-recip.pem")

configure() {	# configure yes|no: with the recipient certificates or not
	"$PY" - "$C" "$1" <<'EOF'
import copy, json, sys
path, recipients = sys.argv[1], sys.argv[2] == 'yes'
c = json.load(open(path))
c['cas']['short'] = {'certificate': 'short/ca.pem', 'key': 'short/ca.key', 'chain': 'ca/root.pem'}
p = copy.deepcopy(c['profiles']['est-device'])
p['ca'] = 'short'
p['description'] = 'EST test profile on a CA that expires during the test'
c['profiles']['est-short'] = p
c['est']['labels']['short'] = 'est-short'
keys = [{'id': '0123456789abcdef0123456789abcdef', 'key_file': 'kek.bin'}]
if recipients:
    keys += [{'certificate': 'rsa-recip.pem'},
             {'certificate': 'ec-recip.pem', 'key_transport': 'oaep'}]
c['est']['decrypt_keys'] = keys
json.dump(c, open(path, 'w'), indent=2)
EOF
}
# A sub-CA of the demo root that expires SHORT seconds from now: certificates it issues
# expire with it, so an expired certificate that certgate really issued and recorded can be
# presented later (and issuing under it then answers 503).
SHORT=45
short_end=$(( $(date +%s) + SHORT ))
mkdir -p "$D/short" && : >"$D/short/index.txt" && echo 01 >"$D/short/serial"
cat >"$D/short/ca.cnf" <<EOF
[ca]
default_ca = d
[d]
database = $D/short/index.txt
serial = $D/short/serial
new_certs_dir = $D/short
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
eckey "$D/short/ca.key"
ossl req -new -key "$D/short/ca.key" -subj "/O=certgate demo/CN=short-lived EST test CA" \
	-out "$D/short/ca.csr"
ossl ca -batch -notext -config "$D/short/ca.cnf" -cert "$D/ca/root.pem" -keyfile "$D/ca/root.key" \
	-in "$D/short/ca.csr" -out "$D/short/ca.pem" -extensions ext \
	-startdate "$(date -u -d "@$(( $(date +%s) - 3600 ))" +%Y%m%d%H%M%SZ)" \
	-enddate "$(date -u -d "@$short_end" +%Y%m%d%H%M%SZ)" || bail "cannot make the short-lived CA"

cp "$C" certgate.json.orig
configure yes
CMS=yes
if ! "$CG" list -c "$C" >/dev/null 2>cms-probe.err; then
	# be_cms (another module) not ready: run without the recipient certificates and the
	# CMS cases.
	CMS=no
	diag "CMS recipients refused, CMS cases skipped: $(cat cms-probe.err)"
	cp certgate.json.orig "$C"
	configure no
fi

# The "est" section is validated strictly, naming the key path.
badconf() {	# badconf NAME REGEX PYTHON-STATEMENT: the statement edits the section e
	"$PY" - "$C" "$D/bad.json" "$3" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
e = c['est']
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], 'w'))
EOF
	like "$("$CG" list -c "$D/bad.json" 2>&1)" "$2" "/est/config/$1: refused, naming the key"
}
printf 'short' >"$D/short.kek"
badconf dot-label 'est\.labels\.\.\.: a label is' 'e["labels"][".."] = "est-device"'
badconf op-label 'est\.labels\.cacerts: a label may not be an operation name' \
	'e["labels"]["cacerts"] = "est-device"'
badconf slash-label 'est\.labels\.a/b: a label is' 'e["labels"]["a/b"] = "est-device"'
badconf no-profile 'est\.labels\.x: no profile named "nope"' 'e["labels"]["x"] = "nope"'
badconf not-string 'est\.labels\.x: must be the name of a profile' 'e["labels"]["x"] = 7'
badconf unknown-key 'est\.bogus: unknown key' 'e["bogus"] = 1'
badconf realm 'est\.realm: at most 64 printable ASCII' 'e["realm"] = "a\"b"'
badconf retry-after 'est\.retry_after: must be between 1 and 86400' 'e["retry_after"] = 0'
badconf kek-length 'est\.decrypt_keys\[[0-9]\]\.key_file: .* holds 5 octets' \
	'e["decrypt_keys"].append({"id": "01", "key_file": "short.kek"})'
badconf kek-id 'est\.decrypt_keys\[[0-9]\]\.id: required' \
	'e["decrypt_keys"].append({"key_file": "kek.bin"})'
badconf duplicate-id 'est\.decrypt_keys\[[0-9]\]: the same key identifier as est\.decrypt_keys\[0\]' \
	'e["decrypt_keys"].append({"id": "0123456789ABCDEF0123456789ABCDEF", "key_file": "kek.bin"})'

lib_spawn serve "$CG" serve -c "$C"
SERVE_PID=$LIB_PID
lib_wait_port 127.0.0.1 "$https_port" 20 || bail "certgate serve did not start: $(cat serve.err)"

H="https://localhost:$https_port"
U="$H/.well-known/est"

count() { "$CG" list -c "$C" 2>&1 >/dev/null | awk '{print $3}'; }
# the newest audit id, a mark for `certgate audit --after`
last_audit() { sqlite3 "$D/state/certgate.db" "SELECT coalesce(max(id), 0) FROM audit"; }

# req CURL-ARGS...: status in ST, headers in r.hdr, body in r.body
req() { ST=$(curl -s -o r.body -D r.hdr -w '%{http_code}' "$@"); }
hdr() { grep -i "^$1:" r.hdr | tail -1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'; }
TA="$D/ca/chain.pem"	# until cacerts gave us the trust anchor
post() {	# post FILE PATH [curl args]: a CSR as application/pkcs10
	local f=$1 p=$2
	shift 2
	req --cacert "$TA" -H "Content-Type: application/pkcs10" --data-binary @"$f" "$@" "$U/$p"
}
basic() { post "$@" -u "client:$PW"; }
csr() {	# csr NAME SUBJ [est_client csr options]: NAME.key (P-256 unless it exists), NAME.b64
	local n=$1 s=$2
	shift 2
	[ -f "$n.key" ] || eckey "$n.key"
	if [ $# -eq 0 ]; then
		openssl req -new -key "$n.key" -subj "$s" -outform DER 2>>ossl.log | base64 >"$n.b64"
	else
		client csr "$n.key" "$s" "$@" >"$n.b64"
	fi
}
p7certs() { base64 -d "$1" | openssl pkcs7 -inform DER -print_certs 2>/dev/null; }
cert_of() {	# cert_of OUT.pem: the single certificate in r.body
	p7certs r.body | sed -n '/BEGIN CERT/,/END CERT/p' >"$1"
}
verifies() { openssl verify -CAfile "$LIB_TMP/cacerts.pem" "$1" >/dev/null 2>&1; }
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }

COUNT=0
AUDIT=0
# refused NAME STATUS REGEX [noaudit]: checks the last reply, and the audit log since the
# last mark: a refusal entry (or, for refusals of the HTTP layer, no entry at all) and no
# issuance.  `same_count` compares `certgate list` counts after a block of refusals.
refused() {
	local name=$1 want=$2 why=$3 a
	is "$ST" "$want" "$name: HTTP $want"
	like "$(cat r.body)" "$why" "$name: says why"
	a=$("$CG" audit -c "$C" --after "$AUDIT")
	if [ "${4:-}" = noaudit ]; then
		is "$a" "" "$name: nothing stored, nothing audited"
		return
	fi
	like "$a" "^[0-9]+ .* est [a-z]+ refused " "$name: audited as refused"
	printf '%s\n' "$a" | grep -Eq " est [a-z]+ issued "
	ok $((! $?)) "$name: nothing issued"
	[ -n "$a" ] && AUDIT=$(printf '%s\n' "$a" | tail -1 | cut -d' ' -f1)
}
same_count() { is "$(count)" "$COUNT" "$1: certgate list count unchanged"; }
stored() { COUNT=$(count); AUDIT=$(last_audit); AUDIT=${AUDIT:-0}; }

# The short-lived CA first: enroll while it is valid; present the certificate at the end,
# after the CA (and so the certificate) expired.
csr sh "/CN=short-lived-device"
basic sh.b64 short/simpleenroll
SHORT_OK=$ST
cert_of sh.pem

# ---------------------------------------------------------------- cacerts (RFC 7030 4.1)

req --cacert "$TA" "$U/cacerts"
is "$ST" 200 "/est/cacerts: 200 without authentication"
is "$(hdr Content-Type)" "application/pkcs7-mime" "/est/cacerts: Content-Type application/pkcs7-mime"
is "$(hdr Content-Transfer-Encoding)" "base64" "/est/cacerts: Content-Transfer-Encoding: base64"
[ "$(hdr Content-Length)" = "$(wc -c <r.body | tr -d ' ')" ]
ok $? "/est/cacerts: Content-Length matches the body"
p7certs r.body >cacerts.pem
is "$(grep -c 'BEGIN CERT' cacerts.pem)" 2 "/est/cacerts: base64 -d | openssl pkcs7 gives issuing CA and root"
cmp -s <(openssl x509 -in cacerts.pem) <(openssl x509 -in "$D/ca/issuing.pem")
ok $? "/est/cacerts: the issuing CA comes first"
TA="$LIB_TMP/cacerts.pem"	# RFC 7030 4.1.1: from here on, the EST trust anchor
cp r.body cacerts.b64
req --cacert "$TA" "$U/devices/cacerts"
cmp -s r.body cacerts.b64
ok $? "/est/cacerts/label: /devices/cacerts works with cacerts as the TLS trust anchor"
req --cacert "$TA" -X POST "$U/cacerts"
is "$ST $(hdr Allow)" "405 GET, HEAD" "/est/cacerts/post: 405 with Allow"

# ---------------------------------------------------------------- csrattrs (RFC 7030 4.5)

req --cacert "$TA" "$U/csrattrs"
is "$ST $(hdr Content-Type) $(hdr Content-Transfer-Encoding)" "200 application/csrattrs base64" \
	"/est/csrattrs: 200 application/csrattrs, base64, no authentication"
attrs=$(base64 -d r.body | openssl asn1parse -inform DER 2>&1)
like "$attrs" "commonName" "/est/csrattrs: asks for the commonName the profile requires"
like "$(printf '%s' "$attrs" | tr '\n' ' ')" "id-ecPublicKey .* SET .*prime256v1" \
	"/est/csrattrs: an id-ecPublicKey attribute listing the allowed curves"
like "$attrs" "ecdsa-with-SHA256" "/est/csrattrs: the signature algorithm for EC keys"
like "$attrs" "rsaEncryption" "/est/csrattrs: RSA keys allowed"
req --cacert "$TA" "$U/pop/csrattrs"
like "$(base64 -d r.body | openssl asn1parse -inform DER 2>&1)" "challengePassword" \
	"/est/csrattrs/pop: a PoP-linking profile asks for challengePassword (RFC 7030 3.5)"

# ---------------------------------------------------------------- simpleenroll (RFC 7030 4.2)

stored
csr dev1 "/O=certgate demo/CN=device-001"
basic dev1.b64 simpleenroll
is "$ST" 200 "/est/simpleenroll/basic: 200 with HTTP Basic over TLS"
is "$(hdr Content-Type)" "application/pkcs7-mime; smime-type=certs-only" \
	"/est/simpleenroll/basic: Content-Type exactly as RFC 7030 spells it"
is "$(hdr Content-Transfer-Encoding)" "base64" "/est/simpleenroll/basic: Content-Transfer-Encoding: base64"
[ -n "$(hdr Content-Length)" ]
ok $? "/est/simpleenroll/basic: Content-Length present"
cert_of dev1.pem
is "$(p7certs r.body | grep -c 'BEGIN CERT')" 1 "/est/simpleenroll/basic: certs-only with the issued certificate only"
verifies dev1.pem
ok $? "/est/simpleenroll/basic: openssl verifies it against cacerts"
is "$(subject_of dev1.pem)" "CN=device-001,O=certgate demo" "/est/simpleenroll/basic: subject as requested"
cmp -s <(openssl pkey -in dev1.key -pubout) <(openssl x509 -in dev1.pem -pubkey -noout)
ok $? "/est/simpleenroll/basic: certifies the CSR's key"
is "$(count)" "$((COUNT + 1))" "/est/simpleenroll/basic: recorded in the store"
like "$("$CG" audit -c "$C" --after "$AUDIT")" "est simpleenroll issued principal=client profile=est-device" \
	"/est/simpleenroll/basic: audited with principal and profile"
stored

csr any "/CN=anyauth-device"
post any.b64 simpleenroll --anyauth -u "client:$PW"
is "$ST" 200 "/est/simpleenroll/anyauth: curl --anyauth gets the certificate"
is "$(grep -c '^HTTP/1.1 401' r.hdr) $(grep -ci '^WWW-Authenticate: Basic realm="certgate EST"' r.hdr)" \
	"1 1" "/est/simpleenroll/anyauth: after a 401 with the Basic challenge"

csr cc "/CN=by-client-cert"
post cc.b64 simpleenroll --cert dev1.pem --key dev1.key
is "$ST" 200 "/est/simpleenroll/client-cert: 200 with a TLS client certificate bound to principal device"
like "$("$CG" audit -c "$C" | tail -1)" "est simpleenroll issued principal=device " \
	"/est/simpleenroll/client-cert: issued to principal device"

csr lab "/CN=labelled-device"
basic lab.b64 devices/simpleenroll
is "$ST" 200 "/est/simpleenroll/label: /devices/simpleenroll issues"
cert_of lab.pem
verifies lab.pem
ok $? "/est/simpleenroll/label: verifies against cacerts"

# wire variants (RFC 8951): base64 with and without line breaks, CRLF, a
# Content-Transfer-Encoding request header, chunked bodies, media-type case and parameters
csr w "/CN=wire-device"
tr -d '\n' <w.b64 >w-oneline.b64
base64 -d w.b64 | base64 -w 40 | sed 's/$/\r/' >w-crlf.b64
basic w-oneline.b64 simpleenroll
is "$ST" 200 "/est/simpleenroll/wire: base64 without line breaks"
basic w-crlf.b64 simpleenroll
is "$ST" 200 "/est/simpleenroll/wire: base64 in 40-column CRLF lines"
basic w.b64 simpleenroll -H "Content-Transfer-Encoding: base64"
is "$ST" 200 "/est/simpleenroll/wire: Content-Transfer-Encoding request header ignored"
basic w.b64 simpleenroll -H "Transfer-Encoding: chunked"
is "$ST" 200 "/est/simpleenroll/wire: chunked request body"
req --cacert "$TA" -u "client:$PW" -H "Content-Type: Application/PKCS10; name=req.p10" \
	--data-binary @w.b64 "$U/simpleenroll"
is "$ST" 200 "/est/simpleenroll/wire: media type case-insensitive, with a parameter"

# connections: keep-alive and close per request, TLS 1.2 and 1.3
out=$(curl -s --cacert "$TA" -u "client:$PW" -H "Content-Type: application/pkcs10" \
	--data-binary @w.b64 -o /dev/null -w '%{http_code}:%{num_connects} ' \
	"$U/simpleenroll" -o /dev/null "$U/simpleenroll")
is "$out" "200:1 200:0 " "/est/simpleenroll/keep-alive: two enrollments on one connection"
basic w.b64 simpleenroll -H "Connection: close"
is "$ST $(hdr Connection)" "200 close" "/est/simpleenroll/close: client closing after each request"
basic w.b64 simpleenroll --tlsv1.2 --tls-max 1.2 -v 2>tls.err
is "$ST $(grep -o 'SSL connection using TLSv1\.[0-9]' tls.err)" "200 SSL connection using TLSv1.2" \
	"/est/simpleenroll/tls1.2: over TLS 1.2"
basic w.b64 simpleenroll --tlsv1.3 -v 2>tls.err
is "$ST $(grep -o 'SSL connection using TLSv1\.[0-9]' tls.err)" "200 SSL connection using TLSv1.3" \
	"/est/simpleenroll/tls1.3: over TLS 1.3"

# ---------------------------------------------------------------- refusals before issuance

stored

csr r1 "/CN=refused-device"
post r1.b64 simpleenroll -u "client:not-the-password"
refused /est/refuse/wrong-password 401 "wrong user or password"
like "$(hdr WWW-Authenticate)" '^Basic realm="certgate EST"$' "/est/refuse/wrong-password: Basic challenge"
post r1.b64 simpleenroll
refused /est/refuse/no-credentials 401 "no credentials"
like "$(hdr WWW-Authenticate)" '^Basic realm="certgate EST"$' "/est/refuse/no-credentials: Basic challenge"
post r1.b64 simpleenroll --cert "$LIB_TMP/pki/rogue-client.pem" --key "$LIB_TMP/pki/rogue-client.key"
refused /est/refuse/foreign-client-cert 401 "client certificate was not accepted"
req -H "Content-Type: application/pkcs10" -u "client:$PW" --data-binary @r1.b64 \
	"http://127.0.0.1:$http_port/.well-known/est/simpleenroll"
refused /est/refuse/basic-over-http 403 "needs TLS"
req --cacert "$TA" -u "client:$PW" -H "Content-Type: text/plain" --data-binary @r1.b64 \
	"$U/simpleenroll"
refused /est/refuse/content-type 415 "application/pkcs10"
printf 'this is not a CSR\n' >garbage.b64
basic garbage.b64 simpleenroll
refused /est/refuse/garbage 400 "CSR"
: >empty.b64
basic empty.b64 simpleenroll
refused /est/refuse/empty-body 400 "empty"
base64 -d r1.b64 | head -c 100 | base64 >cut.b64
basic cut.b64 simpleenroll
refused /est/refuse/truncated-csr 400 "CSR"
csr badl "/L=Somewhere/CN=refused-locality"
basic badl.b64 simpleenroll
refused /est/refuse/profile-policy 403 "subject L is not allowed"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >big.b64
basic big.b64 simpleenroll
refused /est/refuse/2mb-body 413 "larger than the limit" noaudit
like "$(hdr Content-Type)" '^text/plain(;|$)' "/est/refuse/2mb-body: plain text, as RFC 7030 errors are"

same_count /est/refuse
# paths and methods: 404 with no file-system access, 405 with Allow, 501 for fullcmc
path404() {	# path404 NAME REGEX CURL-ARGS...
	local name=$1 why=$2
	shift 2
	req --cacert "$TA" "$@"
	is "$ST" 404 "$name: HTTP 404"
	like "$(cat r.body)" "$why" "$name: says why"
}
path404 /est/path/unknown-label "no such EST label" "$U/no-such-label/cacerts"
path404 /est/path/dot-dot "no such EST" --path-as-is "$U/../cacerts"
path404 /est/path/dot-dot-deep "no such EST" --path-as-is "$U/../../../../etc/passwd"
path404 /est/path/encoded-dots "no such EST" "$U/%2e%2e/cacerts"
path404 /est/path/encoded-slash "no such EST" "$U/%2e%2e%2fcacerts"
path404 /est/path/extra-segment "no such EST" "$U/devices/extra/cacerts"
path404 /est/path/no-operation "no such EST operation" "$U/devices/"
path404 /est/path/operation-as-label "no such EST label" "$U/simpleenroll/cacerts"
path404 /est/path/unknown-operation "no such EST operation" "$U/devices/bogus"
path404 /est/path/post-unknown-label "no such EST label" -u "client:$PW" \
	-H "Content-Type: application/pkcs10" --data-binary @r1.b64 "$U/nope/simpleenroll"
is "$("$CG" audit -c "$C" --after "$AUDIT")" "" "/est/path: 404s store and audit nothing"
req --cacert "$TA" "$U/devices%00/cacerts"
is "$ST" 400 "/est/path/nul: an encoded NUL is refused by the server (400)"
req --cacert "$TA" -u "client:$PW" "$U/simpleenroll"
is "$ST $(hdr Allow)" "405 POST" "/est/method/get-simpleenroll: 405 with Allow: POST"
basic r1.b64 fullcmc
is "$ST" 501 "/est/fullcmc: 501 Not Implemented"
same_count /est/path

# ---------------------------------------------------------------- simplereenroll (RFC 7030 4.2.2)

eckey dev1-new.key
client csr dev1-new.key "/O=certgate demo/CN=device-001" >re.b64
post re.b64 simplereenroll --cert dev1.pem --key dev1.key
is "$ST $(hdr Content-Type)" "200 application/pkcs7-mime; smime-type=certs-only" \
	"/est/simplereenroll: 200 with the certificate being renewed as TLS client certificate"
cert_of dev1b.pem
verifies dev1b.pem
ok $? "/est/simplereenroll: the new certificate verifies against cacerts"
is "$(subject_of dev1b.pem)" "$(subject_of dev1.pem)" "/est/simplereenroll: same subject"
cmp -s <(openssl pkey -in dev1-new.key -pubout) <(openssl x509 -in dev1b.pem -pubkey -noout)
ok $? "/est/simplereenroll: re-key: certifies the new key"
[ "$(openssl x509 -in dev1b.pem -noout -serial)" != "$(openssl x509 -in dev1.pem -noout -serial)" ]
ok $? "/est/simplereenroll: a new serial"
s1=$(openssl x509 -in dev1.pem -noout -serial | cut -d= -f2)
s2=$(openssl x509 -in dev1b.pem -noout -serial | cut -d= -f2)
[ ${#s1} -eq 32 ] && [ ${#s2} -eq 32 ] && [ "${s1:0:2}" = 40 ] && [[ "$s2" > "$s1" ]]
ok $? "/est/serial: 16 octets from 0x40, the later one sorts after ($s1 < $s2)"
like "$("$CG" audit -c "$C" | tail -1)" "est simplereenroll issued principal=client profile=est-device" \
	"/est/simplereenroll: issued for the principal that enrolled the certificate"
client csr dev1-new.key "/O=certgate demo/CN=device-001" >re2.b64
post re2.b64 simplereenroll --cert dev1b.pem --key dev1-new.key
is "$ST" 200 "/est/simplereenroll/again: a renewed certificate renews in turn"
stored

csr dev2 "/O=certgate demo/CN=device-002"
basic dev2.b64 simpleenroll
cert_of dev2.pem
csr dsan "/CN=device-san" --san "DNS:a.example.com"
basic dsan.b64 simpleenroll
cert_of dsan.pem
csr dev3 "/CN=device-revoked"
basic dev3.b64 simpleenroll
cert_of dev3.pem
csr dev4 "/CN=device-hold"
basic dev4.b64 simpleenroll
cert_of dev4.pem
"$CG" revoke -c "$C" "$(openssl x509 -in dev3.pem -noout -serial | cut -d= -f2)" \
	--reason keyCompromise 2>/dev/null
ok $? "/est/simplereenroll: certgate revoke revokes device-revoked"
"$CG" revoke -c "$C" "$(openssl x509 -in dev4.pem -noout -serial | cut -d= -f2)" \
	--reason certificateHold 2>/dev/null
ok $? "/est/simplereenroll: certgate revoke puts device-hold on hold"
stored

post re.b64 simplereenroll --cert dev2.pem --key dev2.key
refused /est/simplereenroll/refuse/other-identity 403 "Subject .*CN=device-001.* differs from the certificate's .*CN=device-002"
client csr dev1-new.key "/O=certgate demo/CN=device-001-new" >chg.b64
post chg.b64 simplereenroll --cert dev1.pem --key dev1.key
refused /est/simplereenroll/refuse/changed-subject 403 "RFC 7030 4.2.2: the CSR's Subject"
client csr dsan.key "/CN=device-san" --san "DNS:b.example.com" >chsan.b64
post chsan.b64 simplereenroll --cert dsan.pem --key dsan.key
refused /est/simplereenroll/refuse/changed-san 403 "SubjectAltName differs"
client csr dev3.key "/CN=device-revoked" >rev.b64
post rev.b64 simplereenroll --cert dev3.pem --key dev3.key
refused /est/simplereenroll/refuse/revoked 403 "is revoked"
client csr dev4.key "/CN=device-hold" >hold.b64
post hold.b64 simplereenroll --cert dev4.pem --key dev4.key
refused /est/simplereenroll/refuse/on-hold 403 "is on hold"
client csr "$LIB_TMP/pki/rogue-client.key" "/CN=dev1" >rogue.b64
post rogue.b64 simplereenroll --cert "$LIB_TMP/pki/rogue-client.pem" --key "$LIB_TMP/pki/rogue-client.key"
refused /est/simplereenroll/refuse/foreign-ca 403 "not issued by CA issuing"
post re.b64 simplereenroll -u "client:$PW"
refused /est/simplereenroll/refuse/basic-only 403 "TLS client certificate being renewed"
post re.b64 simplereenroll
refused /est/simplereenroll/refuse/no-credentials 401 "TLS client certificate being renewed"

# One presented-certificate check for every certificate login (be_presented): a revoked
# certificate bound to a principal no longer authenticates simpleenroll either.
csr dev5 "/O=certgate demo/CN=device-001"
basic dev5.b64 simpleenroll
cert_of dev5.pem
csr cc5 "/CN=by-client-cert-5"
post cc5.b64 simpleenroll --cert dev5.pem --key dev5.key
is "$ST" 200 "/est/simpleenroll/client-cert-revoked: the certificate logs in while valid"
"$CG" revoke -c "$C" "$(openssl x509 -in dev5.pem -noout -serial | cut -d= -f2)" \
	--reason keyCompromise 2>/dev/null
stored
post cc5.b64 simpleenroll --cert dev5.pem --key dev5.key
refused /est/simpleenroll/refuse/client-cert-revoked 401 "client certificate [0-9a-f]+ is revoked"
same_count /est/simpleenroll/refuse/client-cert-revoked
post re.b64 pop/simplereenroll --cert dev1.pem --key dev1.key
refused /est/simplereenroll/refuse/other-profile 403 "issued under profile est-device, not est-device-pop"
same_count /est/simplereenroll/refuse

# ---------------------------------------------------------------- serverkeygen (RFC 7030 4.4)

csr kg "/CN=keygen-device"
basic kg.b64 serverkeygen
is "$ST" 200 "/est/serverkeygen: 200"
like "$(hdr Content-Type)" "^multipart/mixed; boundary=[A-Za-z0-9-]+$" "/est/serverkeygen: multipart/mixed"
is "$(hdr Cache-Control)" "no-store" "/est/serverkeygen: the key is not cached"
parts=$(client parts r.hdr r.body kg | tr '\n' ' ')
is "$parts" 'application/pkcs8|base64 application/pkcs7-mime; smime-type="certs-only"|base64 ' \
	"/est/serverkeygen: key part application/pkcs8 then certs-only, each base64"
grep -q '^Content-Type: application/pkcs7-mime; smime-type=certs-only' r.body
ok $? "/est/serverkeygen: the certificate part's media type exactly as RFC 7030 spells it"
openssl pkcs7 -inform DER -in kg2.der -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p' >kg.pem
cmp -s <(openssl pkey -inform DER -in kg1.der -pubout) <(openssl x509 -in kg.pem -pubkey -noout)
ok $? "/est/serverkeygen: the PKCS#8 key matches the certificate"
verifies kg.pem
ok $? "/est/serverkeygen: the certificate verifies against cacerts"
cmp -s <(openssl pkey -in kg.key -pubout) <(openssl x509 -in kg.pem -pubkey -noout)
ok $((! $?)) "/est/serverkeygen: the CSR's own key is not the one certified (RFC 7030 4.4)"
eckey kg384.key P-384
client csr kg384.key "/CN=keygen-p384" >kg384.b64
basic kg384.b64 devices/serverkeygen
client parts r.hdr r.body kg384 >/dev/null
like "$(openssl pkey -inform DER -in kg3841.der -noout -text 2>&1 | head -1)" "384 bit" \
	"/est/serverkeygen/key-type: a P-384 CSR gets a P-384 key (allowed by the profile)"
stored
csr kgx "/CN=keygen-unknown-kek" --decrypt-id 00ff00ff
basic kgx.b64 serverkeygen
refused /est/serverkeygen/refuse/unknown-decrypt-key 400 "DecryptKeyIdentifier 00ff00ff names no key"
csr kgy "/CN=keygen-unknown-cert" --asym-id "$(printf '%040d' 7)"
basic kgy.b64 serverkeygen
refused /est/serverkeygen/refuse/unknown-asym-key 400 "AsymmetricDecryptKeyIdentifier .* names no key"
same_count /est/serverkeygen/refuse

cms_key() {	# cms_key NAME DECRYPT-ARGS...: part 1 of r.body opened with openssl cms
	local n=$1
	shift
	client parts r.hdr r.body "$n" >"$n.parts" &&
	openssl cms -decrypt -inform DER -in "${n}1.der" -binary -out "$n.sd" "$@" 2>>ossl.log &&
	openssl cms -verify -inform DER -in "$n.sd" -CAfile "$TA" -purpose any -binary \
		-out "$n.akp" 2>>ossl.log &&
	client unwrap "$n.akp" "$n.p8" &&
	openssl pkcs7 -inform DER -in "${n}2.der" -print_certs 2>/dev/null |
		sed -n '/BEGIN/,/END/p' >"$n.pem" &&
	cmp -s <(openssl pkey -inform DER -in "$n.p8" -pubout) <(openssl x509 -in "$n.pem" -pubkey -noout)
}
if [ "$CMS" = yes ]; then
	csr kek "/CN=keygen-kek" --decrypt-id "$KEKID"
	basic kek.b64 serverkeygen
	is "$ST" 200 "/est/serverkeygen/cms-kek: 200 for a DecryptKeyIdentifier the server holds"
	client parts r.hdr r.body kek >kek.parts
	like "$(head -1 kek.parts)" "^application/pkcs7-mime; smime-type=\"?server-generated-key\"?\|base64$" \
		"/est/serverkeygen/cms-kek: key part is server-generated-key CMS, base64"
	cms_key kek -secretkey "$KEKHEX" -secretkeyid "$KEKID"
	ok $? "/est/serverkeygen/cms-kek: openssl cms -decrypt opens it, the signature verifies, the key matches"
	csr rsak "/CN=keygen-rsa-recipient" --asym-id "$RSA_SKI"
	basic rsak.b64 serverkeygen
	cms_key rsak -recip "$D/rsa-recip.pem" -inkey rsa-recip.key
	ok $? "/est/serverkeygen/cms-rsa: to an RSA recipient certificate, opened by openssl cms"
	csr eck "/CN=keygen-ec-recipient" --asym-id "$EC_SKI"
	basic eck.b64 serverkeygen
	cms_key eck -recip "$D/ec-recip.pem" -inkey ec-recip.key
	ok $? "/est/serverkeygen/cms-ec: to an EC recipient certificate (ECDH), opened by openssl cms"
	verifies kek.pem && verifies rsak.pem && verifies eck.pem
	ok $? "/est/serverkeygen/cms: the certificates verify against cacerts"
else
	for n in cms-kek cms-rsa cms-ec cms; do
		skip "/est/serverkeygen/$n" "be_cms not available in this build"
	done
fi
stored

# ---------------------------------------------------------------- approval (202, RFC 7030 4.2.3)

secret ro-admin >ro-admin.pw
secret admin >admin.pw
secret client >client.pw
echo "not-the-password" >wrong.pw
chmod 600 ro-admin.pw admin.pw client.pw wrong.pw
rid_of() { sed -n 's/^request \([0-9][0-9]*\) waits.*/\1/p' r.body; }
# resign NAME SUBJ OUT: the same CSR content (key, subject) with a fresh ECDSA signature, as
# libest and globalsign/est clients send on each retry.
resign() { openssl req -new -key "$1.key" -subj "$2" -outform DER 2>>ossl.log | base64 >"$3"; }
audit_since() { "$CG" audit -c "$C" --after "$AUDIT"; }

csr ap "/CN=approval-device"
basic ap.b64 approval/simpleenroll
is "$ST $(hdr Retry-After)" "202 60" "/est/approval: 202 with Retry-After"
rid=$(rid_of)
[ -n "$rid" ]
ok $? "/est/approval: the reply names the pending request"
is "$(count)" "$COUNT" "/est/approval: nothing issued yet"
basic ap.b64 approval/simpleenroll
is "$ST $(rid_of)" "202 $rid" "/est/approval: the same CSR again is the same pending request"
resign ap "/CN=approval-device" ap-re1.b64
cmp -s ap.b64 ap-re1.b64
ok $((! $?)) "/est/approval/ec-retry: the re-signed CSR differs in its bytes (randomised ECDSA)"
basic ap-re1.b64 approval/simpleenroll
is "$ST $(rid_of)" "202 $rid" \
	"/est/approval/ec-retry: the same content, signed again, is the same pending request"
like "$("$CG" request -c "$C" list)" "^$rid +PENDING +0/1 +Approval-Template-2022 +client +est" \
	"/est/approval: certgate request list shows it pending"
is "$("$CG" request -c "$C" list | grep -c ' est$')" 1 "/est/approval/ec-retry: one pending request, not one per retry"
like "$("$CG" request -c "$C" show "$rid")" 'record: \{"v":2,"operation":"simpleenroll","key":"csr"' \
	"/est/approval: certgate request show prints the normalised record"

# Deciding from the CLI proves the approver (issue 12: --as alone is free text).
stored
"$CG" request -c "$C" approve "$rid" --as ro-admin </dev/null >/dev/null 2>cli.err
ok $((! $?)) "/est/approval/cli-no-credential: --as without a password is refused"
like "$(cat cli.err)" "no password for ro-admin" "/est/approval/cli-no-credential: says why"
like "$(audit_since)" "cli approve refused principal=- .*peer=unix:[a-z0-9_-]+\([0-9]+\).*claiming to be ro-admin: no password" \
	"/est/approval/cli-no-credential: audited, with the Unix user"
stored
"$CG" request -c "$C" approve "$rid" --as ro-admin --password-file wrong.pw >/dev/null 2>cli.err
ok $((! $?)) "/est/approval/cli-wrong-password: a wrong password is refused"
like "$(audit_since)" "cli approve refused principal=- .*claiming to be ro-admin: wrong user or password" \
	"/est/approval/cli-wrong-password: audited"
stored
"$CG" request -c "$C" approve "$rid" --as client --password-file client.pw >/dev/null 2>cli.err
ok $((! $?)) "/est/approval/cli-not-admin: a client's own password does not make it an approver"
like "$(audit_since)" "cli approve refused principal=client .*client may not approve requests" \
	"/est/approval/cli-not-admin: audited under the principal who acted"
like "$("$CG" request -c "$C" list)" "^$rid +PENDING +0/1" "/est/approval/cli-refusals: still pending"
stored
"$CG" request -c "$C" approve "$rid" --as ro-admin --password-file ro-admin.pw 2>/dev/null
ok $? "/est/approval: an administrator approves it with certgate request approve, proven by its password"
like "$(audit_since)" "cli approve approved principal=ro-admin profile=Approval-Template-2022 peer=unix:" \
	"/est/approval: the approval is audited under the approver and the Unix user"
stored
"$CG" request -c "$C" approve "$rid" --as admin --password-file admin.pw >/dev/null 2>cli.err
ok $((! $?)) "/est/approval/late-approver: a second approval of an approved request is refused"
like "$(audit_since)" "cli approve refused principal=admin .*is APPROVED" \
	"/est/approval/late-approver: audited under the late approver, not the requester"
stored
resign ap "/CN=approval-device" ap-re2.b64
basic ap-re2.b64 approval/simpleenroll
is "$ST" 200 "/est/approval/ec-retry: a re-signed CSR after approval gets the certificate"
cert_of ap.pem
verifies ap.pem
ok $? "/est/approval: it verifies against cacerts"
cmp -s <(openssl x509 -in ap.pem -pubkey -noout) <(openssl pkey -in ap.key -pubout)
ok $? "/est/approval/ec-retry: for the requester's key"
is "$(count)" "$((COUNT + 1))" "/est/approval: one certificate recorded"
like "$("$CG" request -c "$C" list --status all)" "^$rid +ISSUED" "/est/approval: the request is ISSUED"
basic ap.b64 approval/simpleenroll
cert_of ap2.pem
is "$ST $(openssl x509 -in ap2.pem -noout -serial)" "200 $(openssl x509 -in ap.pem -noout -serial)" \
	"/est/approval: asking again returns the same certificate"
resign ap "/CN=approval-device" ap-re3.b64
basic ap-re3.b64 approval/simpleenroll
cert_of ap3.pem
is "$ST $(openssl x509 -in ap3.pem -noout -serial)" "200 $(openssl x509 -in ap.pem -noout -serial)" \
	"/est/approval/ec-retry: re-signed once more, still the same certificate"
is "$(count)" "$((COUNT + 1))" "/est/approval: still one certificate (issued once)"

# A request made through EST, approved through the se.SAM API.
csr apx "/CN=approval-via-sesam"
basic apx.b64 approval/simpleenroll
ridx=$(rid_of)
is "$ST" 202 "/est/approval/sesam: pending"
stored
ST=$(curl -s -o sx.json --cacert "$TA" -u "ro-admin:$(secret ro-admin)" -d command=signrequest \
	-d request_id="$ridx" -w '%{http_code}' "$H/sesam/api")
sx=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"])' sx.json 2>/dev/null)
like "$ST $sx" '^200 [0-9]+$' "/est/approval/sesam: the RO administrator signs the EST request through se.SAM"
like "$(audit_since)" "sesam signrequest approved principal=ro-admin" \
	"/est/approval/sesam: approval audited under the se.SAM administrator"
resign apx "/CN=approval-via-sesam" apx-re.b64
basic apx-re.b64 approval/simpleenroll
cert_of apx.pem
is "$ST $(openssl x509 -in apx.pem -noout -serial | cut -d= -f2 | tr A-F a-f)" \
	"200 $("$PY" -c "import sys; print('%x' % int(sys.argv[1]))" "$sx")" \
	"/est/approval/sesam: the EST client's re-signed retry gets the certificate se.SAM issued"
is "$(count)" "$((COUNT + 1))" "/est/approval/sesam: one certificate"

# A server-key request made through EST and approved through se.SAM: se.SAM records the
# approval but does not take the key; the EST client's retry (signed again) collects it.
csr kga "/CN=approval-keygen"
basic kga.b64 approval/serverkeygen
kgr=$(rid_of)
is "$ST" 202 "/est/approval/serverkeygen: pending"
ST=$(curl -s -o kg.json --cacert "$TA" -u "ro-admin:$(secret ro-admin)" -d command=signrequest \
	-d request_id="$kgr" -w '%{http_code}' "$H/sesam/api")
is "$ST $("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["result"], d["status"], "p12_data" in d)' kg.json)" \
	"200 ST_OK APPROVED False" "/est/approval/serverkeygen: se.SAM approves, the key is not handed to the administrator"
resign kga "/CN=approval-keygen" kga-re.b64
basic kga-re.b64 approval/serverkeygen
like "$ST $(hdr Content-Type)" "^200 multipart/mixed; boundary=" \
	"/est/approval/serverkeygen: the EST client's retry gets key and certificate"
basic kga.b64 approval/serverkeygen
like "$ST $(cat r.body)" "^409 .*issued already" "/est/approval/serverkeygen: the key is delivered once"

csr rj "/CN=rejected-device"
basic rj.b64 approval/simpleenroll
rj=$(rid_of)
stored
"$CG" request -c "$C" reject "$rj" --as ro-admin --password-file ro-admin.pw \
	--reason "$(printf 'bad\001reason')" >/dev/null 2>&1
ok $((! $?)) "/est/approval/reject: a reason with control characters is refused (as se.SAM refuses it)"
like "$(audit_since)" "cli reject refused principal=ro-admin .*reason: at most 200 characters" \
	"/est/approval/reject: the refused rejection is audited"
"$CG" request -c "$C" reject "$rj" --as ro-admin --password-file ro-admin.pw \
	--reason "unknown device" 2>/dev/null
ok $? "/est/approval/reject: an administrator rejects a request"
like "$("$CG" request -c "$C" list --status all)" "^$rj +REJECTED" \
	"/est/approval/reject: listed as REJECTED"
stored
"$CG" request -c "$C" approve "$rj" --as ro-admin --password-file ro-admin.pw >/dev/null 2>&1
ok $((! $?)) "/est/approval/reject: a rejected request cannot be approved"
like "$(audit_since)" "cli approve refused principal=ro-admin .*is REJECTED" \
	"/est/approval/reject: the refused approval is audited"
is "$(count)" "$COUNT" "/est/approval/reject: nothing issued"
stored

# ---------------------------------------------------------------- PoP linking (RFC 7030 3.5)

eckey pop.key
pop() {	# pop TLS-VERSION MODE: status in ST, body in r.body
	ST=$(client pop "$1" localhost "$https_port" "$TA" /.well-known/est/pop/simpleenroll \
		"client:$PW" pop.key "/CN=pop-device" "$2" r.body)
}
for v in 1.2 1.3; do
	binding=tls-unique
	[ "$v" = 1.3 ] && binding=tls-exporter
	pop "$v" good
	is "$ST" 200 "/est/pop/tls$v: challengePassword = base64 $binding of the connection issues"
	base64 -d r.body | openssl pkcs7 -inform DER -print_certs 2>/dev/null | sed -n '/BEGIN/,/END/p' >pop.pem
	verifies pop.pem
	ok $? "/est/pop/tls$v: the certificate verifies against cacerts"
	stored
	pop "$v" short
	refused "/est/pop/tls$v/refuse/short" 403 "challengePassword is [0-9]+ octets; the base64 channel binding .* is"
	pop "$v" long
	refused "/est/pop/tls$v/refuse/long" 403 "challengePassword is [0-9]+ octets"
	pop "$v" wrong
	refused "/est/pop/tls$v/refuse/other-binding" 403 "not the channel binding of this TLS connection"
	pop "$v" none
	refused "/est/pop/tls$v/refuse/no-challenge" 403 "challengePassword; it has none"
	pop "$v" int
	refused "/est/pop/tls$v/refuse/not-a-string" 400 "challengePassword: not a DirectoryString"
done
csr popc "/CN=pop-on-another-connection" --challenge "AAAAAAAAAAAAAAAAAAAAAA=="
basic popc.b64 pop/simpleenroll
refused /est/pop/refuse/binding-of-another-connection 403 "challengePassword"
same_count /est/pop/refuse

# ---------------------------------------------------------------- expiry (the short-lived CA)

if [ "$SHORT_OK" = 200 ]; then
	now=$(date +%s)
	[ "$now" -le "$short_end" ] && sleep $((short_end - now + 1))
	stored
	client csr sh.key "/CN=short-lived-device" >sh-re.b64
	post sh-re.b64 short/simplereenroll --cert sh.pem --key sh.key
	refused /est/simplereenroll/refuse/expired 403 "client certificate [0-9a-f]+: expired"
	same_count /est/simplereenroll/refuse/expired
	csr sh2 "/CN=short-lived-device-2"
	basic sh2.b64 short/simpleenroll
	is "$ST $(hdr Retry-After)" "503 60" "/est/ca-unavailable: 503 with Retry-After when the CA cannot issue"
	like "$(cat r.body)" "CA short has expired" "/est/ca-unavailable: says why"
else
	diag "enrolling under the short-lived CA answered $SHORT_OK (machine too slow?)"
	for n in /est/simplereenroll/refuse/expired /est/ca-unavailable; do
		skip "$n" "no certificate from the short-lived CA"
	done
fi

# ---------------------------------------------------------------- the log

like "$(grep 'path="/.well-known/est/simpleenroll" status=200' serve.err | head -1)" \
	"adapter=est op=simpleenroll principal=client profile=est-device" \
	"/est/log: access log names adapter, operation, principal and profile"
grep -q "$PW" serve.err "$D/state/certgate.db"
ok $((! $?)) "/est/log: the password appears in neither the log nor the store"

lib_stop "$SERVE_PID"
ok $? "/est/serve: stops cleanly"
lib_done
