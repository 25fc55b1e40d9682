#!/bin/bash
# Crash safety (DESIGN.md "Durability"): processes killed with SIGKILL in the middle of
# issuing leave a consistent store — no duplicate serial, no half rows, every certificate
# with its audit entry — and no certificate that reached a client is missing from it.
set -u
. "${top_srcdir:-.}/tests/lib.sh"
lib_init
CG="${top_builddir:-.}/certgate"
D="$LIB_TMP/demo"
C="$D/certgate.json"
"$CG" init "$D" --https-port "$(lib_free_port)" --http-port 0 >/dev/null 2>&1 || bail "init failed"
DB="$D/state/certgate.db"
mkdir -p "$LIB_TMP/out"

# A worker issues in a loop; a certificate counts as delivered once `certgate issue` has
# exited 0 and its output file is complete.
worker() {
	local w=$1 i=0
	while :; do
		i=$((i + 1))
		if "$CG" issue -c "$C" --profile est-device --subject "CN=crash-$w-$i" \
			--keygen=p256 --key-out /dev/null --out "$LIB_TMP/out/$w-$i.tmp" 2>/dev/null; then
			mv "$LIB_TMP/out/$w-$i.tmp" "$LIB_TMP/out/$w-$i.pem"
		fi
	done
}

exec 3>&2 2>/dev/null	# the shell's "Killed" notices are expected
for round in 1 2 3; do
	pids=
	for w in 1 2 3; do
		worker "$round$w" &
		pids="$pids $!"
	done
	# Kill only once this round has delivered (a loaded machine may take seconds for the
	# first one), then at a random moment of the next second.
	for _ in $(seq 600); do
		ls "$LIB_TMP/out/$round"?-*.pem >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep "0.$((RANDOM % 9 + 1))"
	# Kill the loops and the certgate processes they started, mid-flight.
	for p in $pids; do
		kill -STOP "$p" 2>/dev/null
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -f "$LIB_TMP"/out/*.tmp

	is "$(sqlite3 "$DB" 'PRAGMA integrity_check;')" "ok" "/crash/round-$round: integrity_check ok"
	is "$(sqlite3 "$DB" 'SELECT count(*) - count(DISTINCT issuer || serial) FROM certificates;')" \
		"0" "/crash/round-$round: no duplicate serial"
	is "$(sqlite3 "$DB" "SELECT count(*) FROM certificates c WHERE NOT EXISTS
		(SELECT 1 FROM audit a WHERE a.serial = c.serial AND a.outcome = 'issued');")" \
		"0" "/crash/round-$round: every certificate has its audit entry"
	missing=0
	delivered=0
	for f in "$LIB_TMP"/out/*.pem; do
		[ -f "$f" ] || continue
		delivered=$((delivered + 1))
		s=$(openssl x509 -in "$f" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
		n=$(sqlite3 "$DB" "SELECT count(*) FROM certificates WHERE serial = '$s';")
		[ "$n" = "1" ] || missing=$((missing + 1))
	done
	[ "$delivered" -gt 0 ]
	ok $? "/crash/round-$round: certificates were delivered before the kill ($delivered)"
	is "$missing" "0" "/crash/round-$round: every delivered certificate is in the store"
done
exec 2>&3
"$CG" list -c "$C" >/dev/null 2>&1
ok $? "/crash/reopen: certgate opens the store after the crashes"
lib_done
