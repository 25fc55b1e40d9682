# Shell helpers for certgate's end-to-end tests (sourced; POSIX sh plus bash's /dev/tcp).
#
#   . "$srcdir/tests/lib.sh"
#   lib_init                       # temp dir in $LIB_TMP, cleanup trap, TAP counters
#   port=$(lib_free_port)
#   lib_spawn NAME cmd args...     # background process, pid in LIB_PID; killed at exit
#   lib_wait_ready FILE 10         # until FILE has a line "ready" (or time out)
#   lib_wait_port 127.0.0.1 PORT 10
#   lib_make_pki DIR               # ca, server, client-ca, client, rogue-* (see below)
#   ok COND_EXIT_STATUS "name"; is GOT WANT "name"; skip "name" "reason"; lib_done
#
# Only processes started here are killed, each by its own pid.

LIB_TMP=
LIB_PIDS=
LIB_T=0
LIB_FAILED=0

lib_cleanup() {
	for _p in $LIB_PIDS; do
		kill "$_p" 2>/dev/null && wait "$_p" 2>/dev/null
	done
	LIB_PIDS=
	if [ -n "$LIB_TMP" ] && [ -d "$LIB_TMP" ] && [ -z "${LIB_KEEP:-}" ]; then
		rm -rf "$LIB_TMP"
	fi
}

lib_init() {
	LIB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/certgate-e2e.XXXXXX") || exit 99
	trap lib_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ---------------------------------------------------------------- TAP

# ok STATUS NAME: passes when STATUS is 0 (use: cmd; ok $? "name").
ok() {
	LIB_T=$((LIB_T + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $LIB_T - $2"
	else
		echo "not ok $LIB_T - $2"
		LIB_FAILED=$((LIB_FAILED + 1))
	fi
}

# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

# like GOT PATTERN NAME (grep -E pattern)
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$(printf '%s' "$1" | head -c 400)'"
		echo "#   want: /$2/"
	fi
}

skip() {
	LIB_T=$((LIB_T + 1))
	echo "ok $LIB_T - $1 # SKIP $2"
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# Prints the plan and exits 0 or 1.
lib_done() {
	echo "1..$LIB_T"
	[ "$LIB_FAILED" -eq 0 ]
	exit $?
}

# Stops the test run at once (TAP "Bail out!").
bail() {
	echo "Bail out! $*"
	exit 1
}

# ---------------------------------------------------------------- processes and ports

# A TCP port nobody listens on, on 127.0.0.1 (and ::1).
lib_free_port() {
	_i=0
	while [ $_i -lt 200 ]; do
		_p=$(( (RANDOM * 32768 + RANDOM) % 30000 + 20000 ))
		if command -v ss >/dev/null 2>&1; then
			if ! ss -Htan 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$_p\$"; then
				echo "$_p"
				return 0
			fi
		elif ! (exec 3<>"/dev/tcp/127.0.0.1/$_p") 2>/dev/null; then
			echo "$_p"
			return 0
		fi
		_i=$((_i + 1))
	done
	return 1
}

# lib_spawn NAME cmd args...: stdout to $LIB_TMP/NAME.out, stderr to NAME.err.
lib_spawn() {
	_name=$1
	shift
	"$@" >"$LIB_TMP/$_name.out" 2>"$LIB_TMP/$_name.err" &
	LIB_PID=$!
	LIB_PIDS="$LIB_PIDS $LIB_PID"
}

# lib_stop PID: TERM, wait; returns the process's exit status.
lib_stop() {
	kill "$1" 2>/dev/null
	wait "$1"
	_st=$?
	LIB_PIDS=$(echo "$LIB_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	return $_st
}

# lib_wait_ready FILE SECONDS [PID]: until FILE holds a line "ready".
lib_wait_ready() {
	_n=0
	while [ $_n -lt $(($2 * 10)) ]; do
		grep -qx ready "$1" 2>/dev/null && return 0
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

# lib_wait_port HOST PORT SECONDS: until a TCP connection succeeds.
lib_wait_port() {
	_n=0
	while [ $_n -lt $(($3 * 10)) ]; do
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

# lib_raw HOST PORT: sends stdin as is over TCP, prints what comes back (5 s at most).
lib_raw() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		cat >&3
		cat <&3' lib_raw "$1" "$2"
}

# lib_oversize_body CONFIG FILE: writes to FILE a body one byte over CONFIG's
# limits.max_body (the default 1 MiB when unset) and prints that limit.
lib_oversize_body() {
	_max=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1])).get("limits", {}).get("max_body", 1048576))' "$1")
	head -c $((_max + 1)) /dev/zero | tr '\0' 'A' >"$2"
	echo "$_max"
}

# lib_json_refusal NAME STATUS WANT HEADERS BODY: the status is WANT, the reply's
# Content-Type is application/json and its body parses as JSON (three TAP lines).
lib_json_refusal() {
	is "$2" "$3" "$1: HTTP $3"
	like "$(grep -i '^Content-Type:' "$4" | tr -d '\r')" '^Content-Type: application/json$' \
		"$1: Content-Type application/json"
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$5" 2>/dev/null
	ok $? "$1: the body is JSON"
}

# ---------------------------------------------------------------- a throwaway PKI

# lib_make_pki DIR: ca.pem/.key (issues the server certificate), server.pem/.key
# (127.0.0.1, ::1, localhost; serverAuth), client-ca.pem/.key (a separate CA for clients, so a
# client trusting ca.pem cannot build and send a longer chain), client.pem/.key (CN=dev1,
# clientAuth), client2.pem/.key (CN=dev2), rogue-ca.pem and rogue-client.pem/.key (CN=dev1
# from a CA nobody trusts), server-client.pem/.key (CN=dev1, serverAuth only).
# Uses openssl, else certtool.
lib_make_pki() {
	_d=$1
	mkdir -p "$_d" || return 1
	if command -v openssl >/dev/null 2>&1; then
		_lib_pki_openssl "$_d"
	elif command -v certtool >/dev/null 2>&1; then
		_lib_pki_certtool "$_d"
	else
		echo "lib_make_pki: neither openssl nor certtool" >&2
		return 1
	fi
}

_lib_pki_openssl() {
	(
	cd "$1" || exit 1
	_ossl() { openssl "$@" >/dev/null 2>>pki.log || { cat pki.log >&2; exit 1; }; }
	_key() { _ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
	cat >ext.cnf <<-'EOF'
	[req]
	distinguished_name = dn
	x509_extensions = ca
	[dn]
	[ca]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	[server]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
	authorityKeyIdentifier = keyid
	[client]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = clientAuth
	authorityKeyIdentifier = keyid
	[serveronly]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	authorityKeyIdentifier = keyid
	EOF
	_ca() {	# name subject
		_key "$1.key"
		_ossl req -new -x509 -config ext.cnf -key "$1.key" -out "$1.pem" -days 30 \
			-subj "$2"
	}
	_leaf() {	# name subject ca section
		_key "$1.key"
		_ossl req -new -config ext.cnf -key "$1.key" -out "$1.csr" -subj "$2"
		_ossl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
			-out "$1.pem" -days 7 -extfile ext.cnf -extensions "$4"
	}
	_ca ca "/CN=certgate test CA"
	_ca client-ca "/CN=certgate test client CA"
	_ca rogue-ca "/CN=certgate rogue CA"
	_leaf server "/CN=localhost" ca server
	_leaf client "/CN=dev1" client-ca client
	_leaf client2 "/CN=dev2" client-ca client
	_leaf rogue-client "/CN=dev1" rogue-ca client
	_leaf server-client "/CN=dev1" client-ca serveronly
	rm -f ./*.csr ./*.srl ext.cnf
	)
}

_lib_pki_certtool() {
	(
	cd "$1" || exit 1
	_ct() { certtool "$@" >/dev/null 2>>pki.log || { cat pki.log >&2; exit 1; }; }
	_key() { _ct --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$1"; }
	_ca() {	# name cn
		_key "$1.key"
		printf 'cn = "%s"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 30\n' \
			"$2" >"$1.tmpl"
		_ct --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" \
			--outfile "$1.pem"
	}
	_leaf() {	# name cn ca extra-template-lines
		_key "$1.key"
		printf 'cn = "%s"\nsigning_key\nexpiration_days = 7\n%s\n' "$2" "$4" >"$1.tmpl"
		_ct --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$3.pem" \
			--load-ca-privkey "$3.key" --template "$1.tmpl" --outfile "$1.pem"
	}
	_ca ca "certgate test CA"
	_ca client-ca "certgate test client CA"
	_ca rogue-ca "certgate rogue CA"
	_leaf server localhost ca 'tls_www_server
ip_address = "127.0.0.1"
ip_address = "::1"
dns_name = "localhost"'
	_leaf client dev1 client-ca tls_www_client
	_leaf client2 dev2 client-ca tls_www_client
	_leaf rogue-client dev1 rogue-ca tls_www_client
	_leaf server-client dev1 client-ca tls_www_server
	rm -f ./*.tmpl
	)
}
