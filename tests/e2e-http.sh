#!/bin/bash
# End-to-end tests of the gateway's HTTP layer (gateway/gw_http.c, gw_auth.c, gw_response.c)
# through tests/gw-echo-server, driven by curl, openssl s_client and raw sockets.  TAP output.
#
# Under "make check" top_srcdir and top_builddir come from the environment; by hand:
#   tests/e2e-http.sh BUILDDIR        (the directory holding tests/gw-echo-server)
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=${1:-$top_srcdir}}"
. "$top_srcdir/tests/lib.sh"

server=$top_builddir/tests/gw-echo-server
if [ ! -x "$server" ]; then
	echo "Bail out! $server not built"
	exit 1
fi
for tool in curl sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "1..0 # SKIP $tool not installed"
		exit 0
	fi
done

lib_init
lib_make_pki "$LIB_TMP/pki" || bail "cannot make a throwaway PKI"
P=$LIB_TMP/pki
T=$LIB_TMP
MAX=65536

http=$(lib_free_port) || bail "no free port"
https=$(lib_free_port) || bail "no free port"
while [ "$https" = "$http" ]; do https=$(lib_free_port); done
sock=$T/gw.sock

lib_spawn echo "$server" -p "$http" -s "$https" -c "$P/server.pem" -k "$P/server.key" \
	-a "$P/client-ca.pem" -b "$MAX" -u "$sock" -t 4
srv=$LIB_PID
lib_wait_ready "$T/echo.out" 20 "$srv"
ok $? "/server/starts: prints ready after listening"
if ! grep -qx ready "$T/echo.out"; then
	diag "$(cat "$T/echo.err")"
	bail "gw-echo-server did not start"
fi

H=http://127.0.0.1:$http
S=https://127.0.0.1:$https
C="curl -s --max-time 20"
CT="$C --cacert $P/ca.pem"

# jfield JSON KEY: a top-level string (unquoted), number, true/false/null of the echo's flat,
# compact JSON.
jfield() {
	printf '%s' "$1" | sed -n "s/.*\"$2\":\(\"\([^\"]*\)\"\|\([^,}]*\)\).*/\2\3/p"
}

# ---------------------------------------------------------------- plain HTTP

r=$($C "$H/echo/x?a=hello%20world&b=1")
is "$(jfield "$r" method) $(jfield "$r" path) $(jfield "$r" a)" "GET /echo/x hello world" \
	"/http/get: method, raw path without query, percent-decoded argument"
is "$(jfield "$r" tls) $(jfield "$r" binding_len)" "false 0" "/http/get: no TLS, no binding"

printf 'hello, certgate' >"$T/small"
want=$(sha256sum "$T/small" | cut -d' ' -f1)
r=$($C --data-binary @"$T/small" "$H/echo/post")
is "$(jfield "$r" method) $(jfield "$r" body_len) $(jfield "$r" body_sha256)" "POST 15 $want" \
	"/http/post: body delivered whole"

head -c 40000 /dev/urandom >"$T/b40k"
want=$(sha256sum "$T/b40k" | cut -d' ' -f1)
r=$($C -H 'Transfer-Encoding: chunked' --data-binary @"$T/b40k" "$H/echo/chunked")
is "$(jfield "$r" body_len) $(jfield "$r" body_sha256)" "40000 $want" \
	"/http/post-chunked: chunked body reassembled"

head -c $MAX /dev/urandom >"$T/bmax"
head -c $((MAX + 1)) /dev/urandom >"$T/bover"
want=$(sha256sum "$T/bmax" | cut -d' ' -f1)
r=$($C --data-binary @"$T/bmax" "$H/echo/cap")
is "$(jfield "$r" body_len) $(jfield "$r" body_sha256)" "$MAX $want" \
	"/http/body-cap: a body of exactly max_body is accepted"
code=$($C -o /dev/null -w '%{http_code}' --data-binary @"$T/bover" "$H/echo/cap")
is "$code" 413 "/http/body-cap: one byte over max_body is 413"
code=$($C -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/bover" "$H/echo/cap")
is "$code" 413 "/http/body-cap: chunked, one byte over max_body is 413"
r=$($C -H 'Transfer-Encoding: chunked' --data-binary @"$T/bmax" "$H/echo/cap")
is "$(jfield "$r" body_len)" "$MAX" "/http/body-cap: chunked, exactly max_body is accepted"

out=$($C -v -H 'Expect: 100-continue' --data-binary @"$T/bmax" "$H/echo/expect" 2>&1)
like "$out" "< HTTP/1.1 100 Continue" "/http/expect: 100 Continue sent for an acceptable body"
like "$out" "\"body_len\":$MAX" "/http/expect: ... and the body read"
out=$($C -v -H 'Expect: 100-continue' --data-binary @"$T/bover" "$H/echo/expect" 2>&1)
like "$out" "< HTTP/1.1 413" "/http/expect: 413 instead of 100 Continue for a body over the cap"
! printf '%s' "$out" | grep -q "100 Continue"
ok $? "/http/expect: ... and no 100 Continue"

start=$(date +%s)
r=$(printf 'POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999\r\n\r\n' |
	lib_raw 127.0.0.1 "$http" | head -1 | tr -d '\r')
is "$r" "HTTP/1.1 413 Content Too Large" \
	"/http/body-cap: huge Content-Length refused with 413 before any body is sent"
[ $(($(date +%s) - start)) -lt 4 ]
ok $? "/http/body-cap: ... at once (the server did not wait for the body)"

# The server's own refusals after routing (413, 500) take the route's error hook when it has
# one (gw_error_fn), else plain text; a hook that fails or answers another status gets text.
# err_reply NAME STATUS MEDIA-TYPE BODY-REGEX curl-args...
err_reply() {
	local name=$1 st=$2 ct=$3 body=$4 out
	shift 4
	out=$($C -D "$T/err.h" -o "$T/err.body" -w '%{http_code}' "$@")
	is "$out" "$st" "$name: HTTP $st"
	like "$(grep -i '^Content-Type:' "$T/err.h" | tr -d '\r')" "^Content-Type: $ct(;|\$)" \
		"$name: Content-Type $ct"
	like "$(cat "$T/err.body")" "$body" "$name: says why"
}
over="larger than the limit of $MAX bytes \\(limits.max_body\\)"
err_reply /http/error-hook/none 413 text/plain "^request body $over$" \
	--data-binary @"$T/bover" "$H/echo/cap"
err_reply /http/error-hook/413 413 application/json "^\\{\"status\":413,\"error\":\"request body $over\"\\}$" \
	--data-binary @"$T/bover" "$H/json/cap"
err_reply /http/error-hook/413-chunked 413 application/json "\"error\":\"request body $over\"" \
	-H 'Transfer-Encoding: chunked' --data-binary @"$T/bover" "$H/json/cap"
r=$(printf 'POST /json/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 99999999999999\r\n\r\n' |
	lib_raw 127.0.0.1 "$http" | tr -d '\r')
like "$r" "Content-Type: application/json" \
	"/http/error-hook/413-before-body: the route is known before Content-Length is checked"
err_reply /http/error-hook/500 500 application/json '^\{"status":500,"error":"internal error"\}$' \
	"$H/json/fail"
err_reply /http/error-hook/bad-status 500 application/json '"status":500' "$H/json/bad-status"
r=$($C "$H/json/ok")
is "$(jfield "$r" path)" "/json/ok" "/http/error-hook: the handler answers as usual"
err_reply /http/error-hook/fails 413 text/plain "^request body $over$" \
	--data-binary @"$T/bover" "$H/badhook/cap"
err_reply /http/error-hook/wrong-status 500 text/plain "^internal error$" \
	"$H/badhook/wrong-status/fail"
err_reply /http/error-hook/unknown-path 404 text/plain "^no such resource$" \
	--data-binary @"$T/bover" "$H/nowhere"

out=$($C -v "$H/echo/ka1" "$H/echo/ka2" 2>&1)
like "$out" "Re-using existing connection" "/http/keep-alive: second request reuses the connection"
like "$out" '"path":"/echo/ka2"' "/http/keep-alive: second answer is right"
r=$($C -H 'Connection: close' -D - -o /dev/null "$H/echo/close" | tr -d '\r')
like "$r" "^HTTP/1.1 200" "/http/connection-close: one request per connection works"

hdrs=$($C -D - -o /dev/null "$H/echo/hdrs" | tr -d '\r')
like "$hdrs" "^Content-Length: [0-9]+$" "/http/response: Content-Length always sent"
like "$hdrs" "^Content-Type: application/json$" "/http/response: content type from the adapter"

# ---------------------------------------------------------------- paths

code=$($C --path-as-is -o /dev/null -w '%{http_code}' "$H/echo/a%00b")
is "$code" 400 "/path/encoded-nul: %00 in the path is 400"
r=$(printf 'GET /echo/a\0b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
	lib_raw 127.0.0.1 "$http" | head -1 | tr -d '\r')
is "$r" "HTTP/1.1 400 Bad Request" "/path/raw-nul: a raw NUL in the request target is 400"
code=$($C --path-as-is -o /dev/null -w '%{http_code}' "$H/echo/a%zzb")
is "$code" 400 "/path/bad-escape: malformed %-escape is 400"
code=$($C --path-as-is -o /dev/null -w '%{http_code}' "$H/echo/a%4")
is "$code" 400 "/path/bad-escape: truncated %-escape is 400"
code=$($C -o /dev/null -w '%{http_code}' "$H/echo/x?a=%00")
is "$code" 400 "/path/query: %00 in a query value is 400"
code=$($C -o /dev/null -w '%{http_code}' "$H/nowhere/x")
is "$code" 404 "/path/unknown-route: 404"
code=$($C -o /dev/null -w '%{http_code}' "$H/echo")
is "$code" 404 "/path/prefix: /echo without the slash matches no route"
r=$($C --path-as-is "$H/echo/%2e%2e")
is "$(jfield "$r" path)" "/echo/%2e%2e" "/path/raw: %2e%2e delivered to the adapter as sent"
r=$($C --path-as-is "$H/echo/a/../b")
is "$(jfield "$r" path)" "/echo/a/../b" "/path/raw: dot segments delivered as sent"
r=$($C "$H/echo/q?a=x%2By+z")
is "$(jfield "$r" a)" "x+y z" "/path/query: %2B is '+', '+' is a space"

# ---------------------------------------------------------------- TLS

r=$($CT --tlsv1.2 --tls-max 1.2 "$S/echo/t12")
is "$(jfield "$r" tls) $(jfield "$r" binding_len) $(jfield "$r" n_peer_certs)" "true 12 0" \
	"/tls/1.2: served, tls-unique binding of 12 bytes, no client certificate"
r=$($CT --tlsv1.3 "$S/echo/t13")
is "$(jfield "$r" tls) $(jfield "$r" binding_len) $(jfield "$r" principal)" "true 32 null" \
	"/tls/1.3: served, tls-exporter binding of 32 bytes, no principal"

# RFC 8996: a TLS 1.1 handshake fails, where a TLS 1.2 one with the same client settings works.
out='' ctl='' st=0
if command -v openssl >/dev/null 2>&1; then
	out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$https" -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
	st=$?
	ctl=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$https" -tls1_2 \
		-cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
fi
if printf '%s' "$ctl" | grep -q "^New, TLSv1.2, Cipher is [A-Z]"; then
	[ $st -ne 0 ] && printf '%s' "$out" | grep -q "Cipher is (NONE)"
	ok $? "/tls/1.1: refused (RFC 8996)"
else
	skip "/tls/1.1: refused (RFC 8996)" "no openssl s_client that speaks TLS 1.2 here"
fi

for v in 1.2 1.3; do
	r=$($CT --tlsv$v --tls-max $v --cert "$P/client.pem" --key "$P/client.key" "$S/echo/c")
	is "$(jfield "$r" n_peer_certs) $(jfield "$r" principal)" "1 dev1" \
		"/tls/client-cert/$v: certificate presented, verified, mapped to dev1"
done
r=$($CT --cert "$P/rogue-client.pem" --key "$P/rogue-client.key" "$S/echo/c")
is "$(jfield "$r" n_peer_certs) $(jfield "$r" principal)" "1 null" \
	"/tls/client-cert/untrusted-ca: presented but no principal"
r=$($CT --cert "$P/client2.pem" --key "$P/client2.key" "$S/echo/c")
is "$(jfield "$r" n_peer_certs) $(jfield "$r" principal)" "1 null" \
	"/tls/client-cert/unbound-subject: verified but bound to no principal"
r=$($CT --cert "$P/server-client.pem" --key "$P/server-client.key" "$S/echo/c")
is "$(jfield "$r" principal)" "null" "/tls/client-cert/eku: serverAuth-only certificate refused"

# ---------------------------------------------------------------- Basic authentication

hdrs=$($C -D - -o /dev/null "$H/auth/x" | tr -d '\r')
like "$hdrs" "^HTTP/1.1 401" "/basic/none: 401 without credentials"
like "$hdrs" '^WWW-Authenticate: Basic realm="certgate"$' "/basic/none: WWW-Authenticate Basic"
out=$($C -v --anyauth -u alice:secret-pass "$H/auth/x" 2>&1)
like "$out" '"principal":"alice"' "/basic/anyauth: curl retries after the 401 and gets in"
like "$out" "< HTTP/1.1 401" "/basic/anyauth: ... the first try was a 401"
r=$($CT -u alice:secret-pass "$S/auth/x")
is "$(jfield "$r" principal) $(jfield "$r" tls)" "alice true" "/basic/tls: Basic over TLS"
r=$($C -u alice:secret-pass "$H/auth/again")
is "$(jfield "$r" principal)" "alice" "/basic/new-connection: the retry on a new connection works"
code=$($C -o /dev/null -w '%{http_code}' -u alice:wrong-pass "$H/auth/x")
is "$code" 401 "/basic/wrong-password: 401"
code=$($C -o /dev/null -w '%{http_code}' -u bob:secret-pass "$H/auth/x")
is "$code" 401 "/basic/unknown-user: 401"
code=$($C -o /dev/null -w '%{http_code}' -H 'Authorization: Basic !!!' "$H/auth/x")
is "$code" 401 "/basic/garbage: 401"
code=$($C -o /dev/null -w '%{http_code}' -u dev1:x --cert "$P/client.pem" \
	--key "$P/client.key" --cacert "$P/ca.pem" "$S/auth/x")
is "$code" 401 "/basic/cert-is-not-basic: a client certificate does not satisfy /auth/"

# ---------------------------------------------------------------- the rest

hdrs=$($C -D - -o /dev/null "$H/secret/k" | tr -d '\r')
like "$hdrs" "^Cache-Control: no-store$" "/response/secret: Cache-Control: no-store"

r=$($C --unix-socket "$sock" "http://x/echo/u")
is "$(jfield "$r" path) $(jfield "$r" peer)" "/echo/u unix" "/unix: served on the unix socket"
is "$(stat -c %a "$sock" 2>/dev/null)" 660 "/unix: socket mode 0660"

# shellcheck disable=SC2086 # $C is a command with its options
seq 1 40 | xargs -P 8 -I{} $C -o /dev/null -w '%{http_code}\n' "$H/echo/p{}" \
	>"$T/par" 2>&1
is "$(grep -c '^200$' "$T/par")" 40 "/http/parallel: 40 requests from 8 clients all answered"

if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	v6=$(lib_free_port)
	http2=$(lib_free_port)
	lib_spawn echo6 "$server" -p "$http2" -6 "$v6" -b "$MAX"
	if lib_wait_ready "$T/echo6.out" 20 "$LIB_PID"; then
		r=$($C -g "http://[::1]:$v6/echo/six")
		is "$(jfield "$r" peer)" "::1" "/ipv6: served on [::1]"
	else
		skip "/ipv6: served on [::1]" "cannot listen on ::1: $(tail -1 "$T/echo6.err")"
	fi
	lib_stop "$LIB_PID"
else
	skip "/ipv6: served on [::1]" "no ::1 on this host"
fi

lib_spawn dup "$server" -p "$http" -b "$MAX"
dup=$LIB_PID
wait "$dup"
st=$?
LIB_PIDS=$(echo "$LIB_PIDS" | tr ' ' '\n' | grep -vx "$dup" | tr '\n' ' ')
[ $st -ne 0 ] && grep -q "127.0.0.1:$http" "$T/dup.err"
ok $? "/server/start-failure: a port in use is an error naming the listener"

# ---------------------------------------------------------------- graceful stop

http3=$(lib_free_port)
lib_spawn stop "$server" -p "$http3" -b "$MAX"
stopper=$LIB_PID
if lib_wait_ready "$T/stop.out" 20 "$stopper"; then
	{ printf 'POST /echo/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n'
	  printf 'Connection: close\r\n\r\n'; sleep 1; printf 'hello'; } |
		lib_raw 127.0.0.1 "$http3" >"$T/slow.out" 2>&1 &
	client=$!
	sleep 0.4
	kill "$stopper"
	wait "$client"
	like "$(tr -d '\r' <"$T/slow.out")" '"body_len":5' \
		"/server/stop: a request in flight at SIGTERM is still answered"
	lib_stop "$stopper"
	is $? 0 "/server/stop: then the server exits 0"
	! (exec 3<>"/dev/tcp/127.0.0.1/$http3") 2>/dev/null
	ok $? "/server/stop: nothing listens any more"
else
	ok 1 "/server/stop: server for the graceful-stop test started"
fi

# ---------------------------------------------------------------- log and shutdown

lib_stop "$srv"
is $? 0 "/server/stop: exits 0 on SIGTERM"
[ ! -e "$sock" ]
ok $? "/server/stop: unix socket removed"
log=$T/echo.err
n=$(grep -c '^certgate: access id=[0-9a-f]\{16\} peer=' "$log")
[ "$n" -ge 40 ]
ok $? "/log/access: one access line per request ($n)"
like "$(grep 'path="/echo/a%00b"' "$log")" "status=400" "/log/access: refused path logged with status"
! grep -q 'secret-pass\|wrong-pass\|YWxpY2U\|hello%20world\|hello world' "$log"
ok $? "/log/access: no credentials, no query values in the log"
san='ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|WARNING: ThreadSanitizer\|runtime error:'
if grep -q "$san" "$T"/*.err; then
	ok 1 "/server/sanitizers: clean"
	diag "$(grep -A8 "$san" "$T"/*.err | head -30)"
else
	ok 0 "/server/sanitizers: clean"
fi

lib_done
