/*
 * Tests for backend/be_store.c: schema and reopen, certificates (insert, lookup, serial
 * normalisation, duplicates, listing, status transitions, deletion), requests and approvals,
 * exactly-once issuance under racing threads, the append-only audit, crash safety
 * (a child SIGKILLed while inserting loses no acknowledged certificate), and group commit
 * (concurrent inserts share one fsync; a failing row fails only its own caller).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "be_store.h"
#include "tap.h"

#define CRASH_ROUNDS	5
#define RACERS		8
#define GC_THREADS	16
#define GC_EACH		25
#define GC_ROUNDS	10
#define STORE_CHECKPOINT_PAGES_TEST 1000	/* set with be_store_set_checkpoint_pages */

static char tmpdir[256];

static unsigned char der_bytes[] = {
	0x30, 0x0a, 0x02, 0x01, 0x01, 0x0c, 0x05, 'c', 'e', 'r', 't', '!'
};

/* Distinctive bytes, so the raw database file can be searched for them. */
#define KEY_MARK	"KEYBLOB-MARK-7c1e55a0-"

static char *
tpath(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

/*
 * Counting the store's fsyncs: SQLite (unix VFS, Linux) makes a commit durable with
 * fdatasync(); this definition interposes on libc's for the whole process (the dynamic
 * linker binds libsqlite3's call to the executable's symbol) and counts before doing the
 * real system call.  When it is not reached (another SQLite build), syncs stays 0 and the
 * tests that count say so and skip.
 */
static atomic_uint syncs;

int
fdatasync(int fd)
{
	atomic_fetch_add(&syncs, 1);
	return (int)syscall(SYS_fdatasync, fd);
}

static void
cert_init(struct be_cert_rec *r, char *issuer, char *serial, char *profile, char *principal,
	  int64_t not_after)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->issuer, sizeof(r->issuer), "%s", issuer);
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	r->subject = "CN=device.example,O=Example";
	r->profile = profile;
	r->principal = principal;
	r->not_before = 1000;
	r->not_after = not_after;
	r->status = BE_CERT_VALID;
	r->reason = -1;
	r->der.data = der_bytes;
	r->der.size = sizeof(der_bytes);
}

static struct be_audit_rec
audit_make(const char *operation, const char *outcome)
{
	struct be_audit_rec a;

	memset(&a, 0, sizeof(a));
	a.request_id = "req-test";
	a.adapter = "test";
	a.operation = operation;
	a.principal = "tester";
	a.peer = "127.0.0.1";
	a.outcome = outcome;
	a.reason = "test case";
	return a;
}

/* ---------------------------------------------------------------- raw SQLite access */

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	} else {
		sqlite3_busy_timeout(db, 5000);
	}
	return db;
}

/* First column of the first row as an integer, -1 on any failure. */
static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (db == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
raw_text(const char *path, const char *sql, char *buf, size_t len)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *s = NULL;
	const unsigned char *t;

	buf[0] = '\0';
	if (db == NULL)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW && (t = sqlite3_column_text(s, 0)) != NULL)
		snprintf(buf, len, "%s", (const char *)t);
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Runs sql; returns SQLite's code and copies its message into msg. */
static int
raw_exec(const char *path, const char *sql, char *msg, size_t len)
{
	sqlite3 *db = raw_open(path);
	char *err = NULL;
	int r = SQLITE_CANTOPEN;

	if (msg != NULL)
		msg[0] = '\0';
	if (db == NULL)
		goto out;
	r = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (msg != NULL && err != NULL)
		snprintf(msg, len, "%s", err);
out:
	sqlite3_free(err);
	sqlite3_close(db);
	return r;
}

/* ---------------------------------------------------------------- audit helpers */

struct scan_acc {
	const char *serial;
	const char *operation;
	size_t n;
	int64_t last;
};

static int
scan_cb(const struct be_audit_rec *a, void *arg)
{
	struct scan_acc *acc = arg;

	acc->last = a->id;
	if (acc->serial != NULL && (a->serial == NULL || strcmp(a->serial, acc->serial) != 0))
		return 0;
	if (acc->operation != NULL && strcmp(a->operation, acc->operation) != 0)
		return 0;
	acc->n++;
	return 0;
}

/* Audit rows (about serial and of operation, when not NULL). */
static size_t
audit_count(struct be_store *st, const char *serial, const char *operation)
{
	struct scan_acc acc = { serial, operation, 0, 0 };
	int64_t before;

	do {
		before = acc.last;
		if (be_store_audit_scan(st, acc.last, 1000, scan_cb, &acc, NULL) != 0)
			return (size_t)-1;
	} while (acc.last != before);
	return acc.n;
}

static int64_t
cert_count(struct be_store *st)
{
	int64_t n = -1;

	if (be_store_cert_count(st, &n, NULL) != 0)
		n = -1;
	return n;
}

/* ---------------------------------------------------------------- open, schema, reopen */

static void
test_open(void)
{
	struct be_store *st = NULL;
	struct be_cert_rec rec, *got = NULL;
	struct be_audit_rec a = audit_make("enroll", "issued");
	struct be_err e = { 0 };
	struct stat sb;
	char path[512], mode[32];
	int rc;

	tpath("open.db", path, sizeof(path));
	rc = be_store_open(path, &st, &e);
	TAP_IS_INT(rc, 0, "/store/open/creates-database");
	if (rc != 0)
		tap_diag("%s", e.msg);
	tap_ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	       "/store/open/file-is-private-0600");
	TAP_IS_INT(raw_int(path, "PRAGMA user_version"), 3, "/store/open/schema-version-is-3");
	raw_text(path, "PRAGMA journal_mode", mode, sizeof(mode));
	tap_ok(strcmp(mode, "wal") == 0, "/store/open/journal-mode-is-wal (%s)", mode);
	TAP_IS_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
			   " name IN ('certificates', 'requests', 'approvals', 'audit')"), 4,
		   "/store/open/has-all-tables");
	TAP_IS_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
			   " AND tbl_name = 'audit'"), 3, "/store/open/audit-has-guard-triggers");
	tap_ok(be_store_writable(st), "/store/open/writable");

	cert_init(&rec, "aa11", "0102", "web", "alice", 5000);
	rc = be_store_cert_insert(st, &rec, &a, &e);
	be_store_close(st);
	st = NULL;

	be_err_clear(&e);
	rc = be_store_open(path, &st, &e);
	TAP_IS_INT(rc, 0, "/store/open/reopens-existing");
	TAP_IS_INT(raw_int(path, "PRAGMA user_version"), 3,
		   "/store/open/reopen-keeps-schema-version");
	rc = st != NULL ? be_store_cert_get(st, "aa11", "0102", &got, &e) : -1;
	tap_ok(rc == 0 && got != NULL && strcmp(got->profile, "web") == 0,
	       "/store/open/reopen-keeps-certificates");
	be_cert_rec_free(got);
	be_store_close(st);
	be_store_close(NULL);
}

static void
test_future_version(void)
{
	struct be_store *st = NULL;
	struct be_err e = { 0 };
	char path[512], junk[4096];
	int rc, fd;

	tpath("future.db", path, sizeof(path));
	if (be_store_open(path, &st, NULL) == 0)
		be_store_close(st);
	st = NULL;
	raw_exec(path, "PRAGMA user_version = 99", NULL, 0);
	rc = be_store_open(path, &st, &e);
	TAP_IS_INT(rc, BE_E_STORE, "/store/open/future-schema-version-refused");
	tap_ok(st == NULL && strcmp(e.msg, "store schema version 99 is newer than this "
				    "certgate (3)") == 0,
	       "/store/open/future-schema-version-message (%s)", e.msg);
	be_store_close(st);
	st = NULL;
	TAP_IS_INT(raw_int(path, "PRAGMA user_version"), 99,
		   "/store/open/future-schema-left-untouched");

	tpath("garbage.db", path, sizeof(path));
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, junk, sizeof(junk)) < 0)
			tap_diag("write failed");
		close(fd);
	}
	be_err_clear(&e);
	rc = be_store_open(path, &st, &e);
	tap_ok(rc == BE_E_STORE && st == NULL, "/store/open/not-a-database-refused (%s)",
	       e.msg);
	be_store_close(st);
}

/* A version-1 store (with the audit_serial index version 2 drops) is migrated in place and
 * keeps its rows. */
static void
test_migrate_v1(void)
{
	struct be_store *st = NULL;
	struct be_err e = { 0 };
	struct be_cert_rec rec, *got = NULL;
	struct be_audit_rec a = audit_make("enroll", "issued");
	char path[512];
	int rc;

	tpath("v1.db", path, sizeof(path));
	if (be_store_open(path, &st, NULL) == 0) {
		cert_init(&rec, "aa11", "0a0b", "web", "alice", 5000);
		(void)be_store_cert_insert(st, &rec, &a, NULL);
		be_store_close(st);
	}
	st = NULL;
	raw_exec(path, "CREATE INDEX audit_serial ON audit (serial);"
		 " DROP TRIGGER crl_state_changes; DROP INDEX certificates_revoked;"
		 " DROP TABLE crl_state; PRAGMA user_version = 1", NULL, 0);
	rc = be_store_open(path, &st, &e);
	tap_ok(rc == 0, "/store/migrate/v1-opens (%s)", e.msg);
	TAP_IS_INT(raw_int(path, "PRAGMA user_version"), 3, "/store/migrate/v1-becomes-v3");
	TAP_IS_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_serial'"),
		   0, "/store/migrate/v1-audit-serial-index-dropped");
	rc = st != NULL ? be_store_cert_get(st, "aa11", "0a0b", &got, &e) : -1;
	tap_ok(rc == 0 && got != NULL && strcmp(got->principal, "alice") == 0,
	       "/store/migrate/v1-keeps-certificates");
	TAP_IS_INT(raw_int(path, "SELECT count(*) FROM audit WHERE serial = '0a0b'"), 1,
		   "/store/migrate/v1-keeps-audit");
	be_cert_rec_free(got);
	be_store_close(st);
}

struct crl_seen {
	char serials[8][41];
	int reasons[8];
	enum be_cert_status status[8];
	int n;
};

static int
crl_collect(const char *serial, enum be_cert_status status, int reason, int64_t revoked_at,
	    void *arg)
{
	struct crl_seen *s = arg;

	(void)revoked_at;
	if (s->n < 8) {
		snprintf(s->serials[s->n], sizeof(s->serials[0]), "%s", serial);
		s->reasons[s->n] = reason;
		s->status[s->n] = status;
		s->n++;
	}
	return 0;
}

/* A version-2 store (before the CRL state) is migrated to 3: a certificate revoked before
 * the migration is found by the CRL scan, CRL numbers count up from 1 and persist, and every
 * status change after it (revoke, hold, reactivate) moves the change counter. */
static void
test_migrate_v2_crl(void)
{
	struct be_store *st = NULL;
	struct be_err e = { 0 };
	struct be_cert_rec rec, *got = NULL;
	struct be_audit_rec a = audit_make("enroll", "issued");
	struct crl_seen seen;
	int64_t changes = -1, number = -1, ch2 = -1;
	char path[512];
	int rc;

	tpath("v2.db", path, sizeof(path));
	if (be_store_open(path, &st, NULL) == 0) {
		cert_init(&rec, "cc33", "0a01", "web", "alice", 5000000000);
		(void)be_store_cert_insert(st, &rec, &a, NULL);
		cert_init(&rec, "cc33", "0a02", "web", "alice", 5000000000);
		(void)be_store_cert_insert(st, &rec, &a, NULL);
		cert_init(&rec, "cc33", "0a03", "web", "alice", 1500);	/* long expired */
		(void)be_store_cert_insert(st, &rec, &a, NULL);
		cert_init(&rec, "dd44", "0b01", "web", "alice", 5000000000);
		(void)be_store_cert_insert(st, &rec, &a, NULL);
		be_store_close(st);
	}
	st = NULL;
	raw_exec(path, "DROP TRIGGER crl_state_changes; DROP INDEX certificates_revoked;"
		 " DROP TABLE crl_state;"
		 " UPDATE certificates SET status = 'revoked', reason = 1, revoked_at = 2000"
		 " WHERE serial IN ('0a01', '0a03', '0b01');"
		 " PRAGMA user_version = 2", NULL, 0);
	TAP_IS_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'crl_state'"),
		   0, "/store/migrate/v2-has-no-crl-state");
	rc = be_store_open(path, &st, &e);
	tap_ok(rc == 0, "/store/migrate/v2-opens (%s)", e.msg);
	if (rc != 0)
		return;
	TAP_IS_INT(raw_int(path, "PRAGMA user_version"), 3, "/store/migrate/v2-becomes-v3");
	rc = be_store_crl_state(st, "cc33", &changes, &number, &e);
	tap_ok(rc == 0 && changes == 0 && number == 0, "/store/crl/state-of-new-issuer-is-zero");
	memset(&seen, 0, sizeof(seen));
	rc = be_store_crl_scan(st, "cc33", 3000, crl_collect, &seen, &e);
	tap_ok(rc == 0 && seen.n == 1 && strcmp(seen.serials[0], "0a01") == 0 &&
	       seen.reasons[0] == 1 && seen.status[0] == BE_CERT_REVOKED,
	       "/store/crl/scan-finds-pre-migration-revocation-not-expired-nor-other-issuer "
	       "(%d)", seen.n);
	rc = be_store_crl_next_number(st, "cc33", &number, &e);
	tap_ok(rc == 0 && number == 1, "/store/crl/first-number-is-1");
	rc = be_store_crl_next_number(st, "cc33", &number, &e);
	tap_ok(rc == 0 && number == 2, "/store/crl/number-counts-up");

	rc = be_store_cert_get(st, "cc33", "0a02", &got, &e);
	if (rc == 0) {
		a = audit_make("revoke", "hold");
		be_store_cert_set_status(st, got->id, BE_CERT_HOLD, 6, &a, NULL);
		be_store_crl_state(st, "cc33", &changes, &number, NULL);
		memset(&seen, 0, sizeof(seen));
		be_store_crl_scan(st, "cc33", 3000, crl_collect, &seen, NULL);
		tap_ok(changes == 1 && seen.n == 2, "/store/crl/hold-moves-counter-and-is-listed");
		a = audit_make("reactivate", "reactivated");
		be_store_cert_set_status(st, got->id, BE_CERT_VALID, -1, &a, NULL);
		be_store_crl_state(st, "cc33", &ch2, &number, NULL);
		memset(&seen, 0, sizeof(seen));
		be_store_crl_scan(st, "cc33", 3000, crl_collect, &seen, NULL);
		tap_ok(ch2 == 2 && seen.n == 1, "/store/crl/reactivation-moves-counter-and-leaves");
		/* A refused change (already valid) moves nothing. */
		be_store_cert_set_status(st, got->id, BE_CERT_VALID, -1, &a, NULL);
		be_store_crl_state(st, "cc33", &ch2, &number, NULL);
		TAP_IS_INT(ch2, 2, "/store/crl/refused-change-moves-nothing");
	}
	be_cert_rec_free(got);
	be_store_close(st);
	st = NULL;
	rc = be_store_open(path, &st, &e);
	if (rc == 0)
		rc = be_store_crl_next_number(st, "cc33", &number, &e);
	tap_ok(rc == 0 && number == 3, "/store/crl/number-persists-across-reopen");
	be_store_close(st);
}

/* ---------------------------------------------------------------- certificates */

static void
test_cert_basic(struct be_store *st)
{
	struct be_cert_rec rec, dup, other, *got = NULL;
	struct be_audit_rec a = audit_make("enroll", "issued");
	struct be_err e = { 0 };
	unsigned char key[] = KEY_MARK "basic";
	char big[64];
	int64_t before;
	size_t audits;
	int rc;

	cert_init(&rec, "AB:CD:EF:01", "00:0A:1B:2C", "web", "alice", 9000);
	rec.key_blob.data = key;
	rec.key_blob.size = sizeof(key);
	rc = be_store_cert_insert(st, &rec, &a, &e);
	TAP_IS_INT(rc, 0, "/store/cert/insert");
	tap_ok(rec.id > 0 && rec.issued_at > 0, "/store/cert/insert-sets-id-and-issued-at");
	tap_ok(strcmp(rec.serial, "0a1b2c") == 0 && strcmp(rec.issuer, "abcdef01") == 0,
	       "/store/cert/insert-canonicalises-issuer-and-serial (%s %s)", rec.issuer,
	       rec.serial);
	TAP_IS_INT(audit_count(st, "0a1b2c", "enroll"), 1,
		   "/store/cert/insert-writes-audit-row-with-serial");

	rc = be_store_cert_get(st, "abcdef01", "0a1b2c", &got, &e);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id &&
	       strcmp(got->subject, "CN=device.example,O=Example") == 0 &&
	       strcmp(got->profile, "web") == 0 && strcmp(got->principal, "alice") == 0 &&
	       got->not_before == 1000 && got->not_after == 9000 &&
	       got->issued_at == rec.issued_at && got->status == BE_CERT_VALID &&
	       got->reason == -1 && got->revoked_at == 0 && got->request_id == 0 &&
	       !got->deleted && got->der.size == sizeof(der_bytes) &&
	       memcmp(got->der.data, der_bytes, sizeof(der_bytes)) == 0 &&
	       got->key_blob.size == sizeof(key) &&
	       memcmp(got->key_blob.data, key, sizeof(key)) == 0,
	       "/store/cert/get-round-trips-every-field");
	be_cert_rec_free(got);
	got = NULL;

	rc = be_store_cert_get(st, "ABCDEF01", "0A1B2C", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id, "/store/cert/lookup-upper-case");
	be_cert_rec_free(got);
	got = NULL;
	rc = be_store_cert_get(st, "abcdef01", "00000a1b2c", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id,
	       "/store/cert/lookup-leading-zeros");
	be_cert_rec_free(got);
	got = NULL;
	rc = be_store_cert_get(st, "ab:cd:ef:01", "0a:1b:2c", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id, "/store/cert/lookup-colons");
	be_cert_rec_free(got);
	got = NULL;
	rc = be_store_cert_get(st, "abcdef01", "a1b2c", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id,
	       "/store/cert/lookup-odd-digit-count");
	be_cert_rec_free(got);
	got = NULL;

	rc = be_store_cert_get_id(st, rec.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && strcmp(got->serial, "0a1b2c") == 0,
	       "/store/cert/get-by-id");
	be_cert_rec_free(got);
	got = NULL;
	rc = be_store_cert_get_serial(st, "0A:1B:2C", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == rec.id, "/store/cert/get-by-serial-alone");
	be_cert_rec_free(got);
	got = NULL;

	be_err_clear(&e);
	rc = be_store_cert_get_serial(st, "1A2B", &got, &e);
	tap_ok(rc == BE_E_NOTFOUND && got == NULL &&
	       strcmp(e.msg, "certificate 1a2b not found") == 0,
	       "/store/cert/unknown-serial-not-found-sentence (%s)", e.msg);
	be_err_clear(&e);
	rc = be_store_cert_get_id(st, 424242, &got, &e);
	TAP_IS_INT(rc, BE_E_NOTFOUND, "/store/cert/unknown-id-not-found");
	be_err_clear(&e);
	rc = be_store_cert_get(st, "abcdef01", "0x12", &got, &e);
	tap_ok(rc == BE_E_MALFORMED && got == NULL, "/store/cert/non-hex-serial-malformed (%s)",
	       e.msg);

	/* 21 octets refused; 21 octets with a leading 00 (a DER sign octet) are 20. */
	cert_init(&other, "abcdef01", "x", "web", "alice", 9000);
	memset(other.serial, '7', sizeof(other.serial));	/* no room for the NUL */
	be_err_clear(&e);
	rc = be_store_cert_insert(st, &other, NULL, &e);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/cert/serial-over-20-octets-refused");
	be_err_clear(&e);
	rc = be_store_cert_get_serial(st, "7777777777777777777777777777777777777777777777", &got,
				      &e);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/cert/lookup-serial-over-20-octets-malformed");
	memset(big, 0, sizeof(big));
	memcpy(big, "8f", 2);
	memset(big + 2, '1', 38);
	cert_init(&other, "abcdef01", big, "web", "alice", 9000);
	rc = be_store_cert_insert(st, &other, NULL, &e);
	TAP_IS_INT(rc, 0, "/store/cert/20-octet-serial-accepted");
	big[0] = '0';
	big[1] = '0';
	memcpy(big + 2, "8F", 2);
	memset(big + 4, '1', 38);
	rc = be_store_cert_get_serial(st, big, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == other.id,
	       "/store/cert/lookup-with-der-sign-octet-finds-20-octet-serial");
	be_cert_rec_free(got);
	got = NULL;

	/* Duplicate, written differently: refused, no certificate and no audit row. */
	before = cert_count(st);
	audits = audit_count(st, NULL, NULL);
	cert_init(&dup, "ABCDEF01", "0A1B2C", "other", "mallory", 9000);
	be_err_clear(&e);
	rc = be_store_cert_insert(st, &dup, &a, &e);
	TAP_IS_INT(rc, BE_E_CONFLICT, "/store/cert/duplicate-serial-refused");
	tap_diag("%s", e.msg);
	tap_ok(cert_count(st) == before && audit_count(st, NULL, NULL) == audits &&
	       dup.id == 0, "/store/cert/duplicate-serial-writes-nothing");

	/* The same serial under another issuer is a different certificate. */
	cert_init(&other, "ffee", "0a1b2c", "web", "bob", 9000);
	rc = be_store_cert_insert(st, &other, &a, NULL);
	TAP_IS_INT(rc, 0, "/store/cert/same-serial-other-issuer-accepted");
	be_err_clear(&e);
	rc = be_store_cert_get_serial(st, "0a1b2c", &got, &e);
	tap_ok(rc == BE_E_CONFLICT && got == NULL,
	       "/store/cert/serial-shared-by-two-issuers-is-ambiguous (%s)", e.msg);

	cert_init(&other, "abcdef01", "77", "web", "bob", 9000);
	other.der.size = 0;
	other.der.data = NULL;
	rc = be_store_cert_insert(st, &other, NULL, NULL);
	TAP_IS_INT(rc, BE_E_INTERNAL, "/store/cert/insert-without-der-refused");
	cert_init(&other, "abc", "77", "web", "bob", 9000);
	rc = be_store_cert_insert(st, &other, NULL, NULL);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/cert/odd-length-issuer-refused");
	cert_init(&other, "abcdef01", "78", "web", "bob", 9000);
	a.outcome = NULL;
	rc = be_store_cert_insert(st, &other, &a, NULL);
	TAP_IS_INT(rc, BE_E_INTERNAL, "/store/cert/audit-entry-without-outcome-refused");
}

static void
test_cert_list(const char *path)
{
	struct be_store *st = NULL;
	struct be_cert_rec rec, *recs = NULL;
	struct be_cert_filter f;
	struct be_audit_rec a = audit_make("enroll", "issued");
	struct be_err e = { 0 };
	char serial[16];
	int64_t ids[25], last;
	size_t n = 0, total = 0, i, seen;
	bool ok;
	int rc, fails = 0;

	if (be_store_open(path, &st, &e) != 0) {
		tap_ok(0, "/store/list/open (%s)", e.msg);
		return;
	}
	for (i = 0; i < 25; i++) {
		snprintf(serial, sizeof(serial), "%02zx", 0x10 + i);
		cert_init(&rec, "cafe", serial, i % 2 == 0 ? "web" : "vpn",
			  i % 5 == 0 ? "alice" : "bob", 1000 + (int64_t)i * 100);
		if (be_store_cert_insert(st, &rec, &a, NULL) != 0)
			fails++;
		ids[i] = rec.id;
	}
	TAP_IS_INT(fails, 0, "/store/list/setup-25-certificates");

	memset(&f, 0, sizeof(f));
	f.status = -1;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, &e);
	tap_ok(rc == 0 && n == 25 && total == 25, "/store/list/all (n %zu total %zu)", n, total);
	be_cert_recs_free(recs, n);

	/* Three pages of ten walk every row once, in id order, with the same total. */
	ok = true;
	seen = 0;
	last = 0;
	for (i = 0; i < 3; i++) {
		f.offset = i * 10;
		f.limit = 10;
		recs = NULL;
		rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
		if (rc != 0 || total != 25 || n != (i < 2 ? 10u : 5u))
			ok = false;
		for (size_t j = 0; rc == 0 && j < n; j++) {
			if (recs[j].id <= last || recs[j].id != ids[seen])
				ok = false;
			last = recs[j].id;
			seen++;
		}
		be_cert_recs_free(recs, n);
	}
	tap_ok(ok && seen == 25, "/store/list/paging-walks-all-in-id-order");
	f.offset = 100;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 0 && recs == NULL && total == 25,
	       "/store/list/page-past-the-end-is-empty");
	be_cert_recs_free(recs, n);

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.profile = "web";
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 13 && total == 13, "/store/list/filter-profile");
	be_cert_recs_free(recs, n);

	f.profile = NULL;
	f.principal = "alice";
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 5 && total == 5, "/store/list/filter-principal");
	be_cert_recs_free(recs, n);

	f.principal = NULL;
	f.expired_before = 2000;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 10 && total == 10, "/store/list/filter-expired-before");
	be_cert_recs_free(recs, n);

	f.expired_before = 0;
	f.valid_after = 2000;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 15 && total == 15, "/store/list/filter-valid-after");
	be_cert_recs_free(recs, n);

	f.profile = "web";
	f.limit = 3;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 3 && total == 8, "/store/list/filters-combine-with-paging");
	be_cert_recs_free(recs, n);

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.serial = "00:1A";
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 1 && total == 1 && strcmp(recs[0].serial, "1a") == 0,
	       "/store/list/filter-serial-normalised");
	be_cert_recs_free(recs, n);
	f.serial = "zz";
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/list/filter-bad-serial-malformed");

	fails = 0;
	for (i = 0; i < 3; i++)
		if (be_store_cert_set_status(st, ids[i], BE_CERT_REVOKED, 1, &a, NULL) != 0)
			fails++;
	fails += be_store_cert_set_status(st, ids[3], BE_CERT_HOLD, 6, &a, NULL) != 0;
	memset(&f, 0, sizeof(f));
	f.status = BE_CERT_REVOKED;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(fails == 0 && rc == 0 && n == 3 && total == 3, "/store/list/filter-status");
	be_cert_recs_free(recs, n);
	f.status = 7;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/list/filter-unknown-status-malformed");

	fails = (be_store_cert_delete(st, ids[4], &a, NULL) != 0) +
		(be_store_cert_delete(st, ids[5], &a, NULL) != 0);
	memset(&f, 0, sizeof(f));
	f.status = -1;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(fails == 0 && rc == 0 && n == 23 && total == 23,
	       "/store/list/deleted-hidden-by-default");
	be_cert_recs_free(recs, n);
	f.include_deleted = true;
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 25 && total == 25, "/store/list/include-deleted");
	be_cert_recs_free(recs, n);

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.profile = "web' OR '1'='1";
	f.principal = "x\"; DROP TABLE certificates; --";
	rc = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	tap_ok(rc == 0 && n == 0 && total == 0 && cert_count(st) == 25,
	       "/store/list/filter-values-are-bound-not-sql");
	be_cert_recs_free(recs, n);
	be_store_close(st);
}

static void
test_cert_status(struct be_store *st)
{
	struct be_cert_rec rec, held, *got = NULL;
	struct be_audit_rec a = audit_make("revoke", "revoked");
	struct be_err e = { 0 };
	size_t audits;
	int rc;

	cert_init(&rec, "5151", "0100", "web", "alice", 9000);
	if (be_store_cert_insert(st, &rec, NULL, &e) != 0)
		tap_diag("insert: %s", e.msg);

	rc = be_store_cert_set_status(st, rec.id, BE_CERT_HOLD, 0, &a, &e);
	be_store_cert_get_id(st, rec.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_CERT_HOLD && got->reason == 6 &&
	       got->revoked_at > 0, "/store/status/valid-to-hold-records-certificateHold");
	be_cert_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_HOLD, 6, &a, &e);
	tap_ok(rc == BE_E_STATE, "/store/status/hold-to-hold-refused (%s)", e.msg);

	rc = be_store_cert_set_status(st, rec.id, BE_CERT_VALID, 0, &a, NULL);
	be_store_cert_get_id(st, rec.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_CERT_VALID && got->reason == -1 &&
	       got->revoked_at == 0, "/store/status/hold-to-valid-reactivates");
	be_cert_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_VALID, 0, &a, &e);
	tap_ok(rc == BE_E_STATE, "/store/status/valid-to-valid-refused (%s)", e.msg);

	audits = audit_count(st, "0100", NULL);
	be_err_clear(&e);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_REVOKED, 7, &a, &e);
	tap_ok(rc == BE_E_MALFORMED, "/store/status/unused-crl-reason-7-refused (%s)", e.msg);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_REVOKED, 6, &a, NULL);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/store/status/revoke-with-certificateHold-refused");
	TAP_IS_INT(audit_count(st, "0100", NULL), audits, "/store/status/refusals-write-no-audit");

	rc = be_store_cert_set_status(st, rec.id, BE_CERT_REVOKED, 1, &a, NULL);
	be_store_cert_get_id(st, rec.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_CERT_REVOKED && got->reason == 1 &&
	       got->revoked_at > 0, "/store/status/valid-to-revoked");
	be_cert_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_VALID, 0, &a, &e);
	tap_ok(rc == BE_E_STATE && strcmp(e.msg, "certificate 0100 is revoked, which is final")
	       == 0, "/store/status/revoked-is-final-for-valid (%s)", e.msg);
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_HOLD, 6, &a, NULL);
	TAP_IS_INT(rc, BE_E_STATE, "/store/status/revoked-is-final-for-hold");
	rc = be_store_cert_set_status(st, rec.id, BE_CERT_REVOKED, 4, &a, NULL);
	TAP_IS_INT(rc, BE_E_STATE, "/store/status/revoked-is-final-for-revoked");
	TAP_IS_INT(audit_count(st, "0100", "revoke"), 3,
		   "/store/status/each-change-has-its-audit-row");

	/* A certificate on hold since t=12345 keeps that time when it is revoked for good. */
	cert_init(&held, "5151", "0200", "web", "alice", 9000);
	held.status = BE_CERT_HOLD;
	held.reason = 6;
	held.revoked_at = 12345;
	rc = be_store_cert_insert(st, &held, NULL, NULL);
	rc = rc != 0 ? rc : be_store_cert_set_status(st, held.id, BE_CERT_REVOKED, 4, &a, NULL);
	be_store_cert_get_id(st, held.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_CERT_REVOKED && got->reason == 4 &&
	       got->revoked_at == 12345, "/store/status/hold-to-revoked-keeps-hold-time");
	be_cert_rec_free(got);
	got = NULL;

	be_err_clear(&e);
	rc = be_store_cert_set_status(st, 999999, BE_CERT_REVOKED, 1, &a, &e);
	TAP_IS_INT(rc, BE_E_NOTFOUND, "/store/status/unknown-certificate-not-found");
}

/* Whether the bytes of mark occur in the file at path. */
static bool
file_contains(const char *path, const char *mark)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, r, mlen = strlen(mark), i;
	bool found = false;
	char *tmp;

	if (fp == NULL)
		goto out;
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((tmp = realloc(buf, cap)) == NULL)
				goto out;
			buf = tmp;
		}
		r = fread(buf + len, 1, cap - len, fp);
		if (r == 0)
			break;
		len += r;
	}
	for (i = 0; i + mlen <= len && !found; i++)
		found = memcmp(buf + i, mark, mlen) == 0;
out:
	if (fp != NULL)
		fclose(fp);
	free(buf);
	return found;
}

static void
test_cert_delete(const char *path)
{
	struct be_store *st = NULL;
	struct be_cert_rec gone, kept, *got = NULL;
	struct be_audit_rec a = audit_make("enroll", "issued");
	struct be_audit_rec d = audit_make("deletecert", "deleted");
	struct be_err e = { 0 };
	unsigned char *k1 = NULL, *k2 = NULL;
	gnutls_datum_t nk;
	char wal[600];
	size_t i, klen = 6000;	/* bigger than a page: overflow pages too */
	int rc;

	if (be_store_open(path, &st, &e) != 0 || (k1 = malloc(klen)) == NULL ||
	    (k2 = malloc(klen)) == NULL) {
		tap_ok(0, "/store/delete/setup (%s)", e.msg);
		goto out;
	}
	for (i = 0; i + sizeof(KEY_MARK) + 4 <= klen; i += sizeof(KEY_MARK) + 3) {
		memcpy(k1 + i, KEY_MARK "GON", sizeof(KEY_MARK) + 3);
		memcpy(k2 + i, KEY_MARK "KPT", sizeof(KEY_MARK) + 3);
	}
	memset(k1 + i, '.', klen - i);
	memset(k2 + i, '.', klen - i);
	cert_init(&gone, "d00d", "0abc", "web", "alice", 9000);
	gone.key_blob.data = k1;
	gone.key_blob.size = (unsigned)klen;
	cert_init(&kept, "d00d", "0abd", "web", "alice", 9000);
	kept.key_blob.data = k2;
	kept.key_blob.size = (unsigned)klen;
	rc = be_store_cert_insert(st, &gone, &a, NULL);
	rc = rc != 0 ? rc : be_store_cert_insert(st, &kept, &a, NULL);
	TAP_IS_INT(rc, 0, "/store/delete/setup-two-certificates-with-kept-keys");

	rc = be_store_cert_delete(st, gone.id, &d, &e);
	TAP_IS_INT(rc, 0, "/store/delete/deletes");
	rc = be_store_cert_get_id(st, gone.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->deleted && got->key_blob.size == 0 &&
	       got->key_blob.data == NULL && got->der.size == sizeof(der_bytes),
	       "/store/delete/keeps-row-and-certificate-drops-key");
	be_cert_rec_free(got);
	got = NULL;
	rc = be_store_cert_get(st, "d00d", "0abc", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->deleted, "/store/delete/still-found-by-serial");
	be_cert_rec_free(got);
	got = NULL;
	tap_ok(audit_count(st, "0abc", "enroll") == 1 &&
	       audit_count(st, "0abc", "deletecert") == 1,
	       "/store/delete/keeps-issue-audit-and-adds-its-own");
	be_err_clear(&e);
	rc = be_store_cert_delete(st, gone.id, &d, &e);
	tap_ok(rc == BE_E_STATE, "/store/delete/twice-refused (%s)", e.msg);
	nk.data = k1;
	nk.size = 16;
	rc = be_store_cert_set_key(st, gone.id, &nk, &d, NULL);
	TAP_IS_INT(rc, BE_E_STATE, "/store/delete/set-key-on-deleted-refused");

	/* Replacing and dropping a kept key. */
	nk.data = (unsigned char *)der_bytes;
	nk.size = 5;
	rc = be_store_cert_set_key(st, kept.id, &nk, &d, NULL);
	be_store_cert_get_id(st, kept.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->key_blob.size == 5 &&
	       memcmp(got->key_blob.data, der_bytes, 5) == 0, "/store/set-key/replaces");
	be_cert_rec_free(got);
	got = NULL;
	nk.size = 0;
	rc = be_store_cert_set_key(st, kept.id, &nk, &d, NULL);
	be_store_cert_get_id(st, kept.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->key_blob.size == 0, "/store/set-key/empty-drops");
	be_cert_rec_free(got);
	got = NULL;
	nk.data = k2;
	nk.size = (unsigned)klen;
	rc = be_store_cert_set_key(st, kept.id, &nk, &d, NULL);
	TAP_IS_INT(rc, 0, "/store/set-key/stores-again");

	be_store_close(st);
	st = NULL;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	tap_ok(file_contains(path, KEY_MARK "KPT"),
	       "/store/delete/control-kept-key-is-on-disk");
	tap_ok(!file_contains(path, KEY_MARK "GON") && !file_contains(wal, KEY_MARK "GON"),
	       "/store/delete/leaves-no-key-bytes-on-disk");
out:
	be_store_close(st);
	free(k1);
	free(k2);
}

/* ---------------------------------------------------------------- requests and approvals */

static void
req_init(struct be_req_rec *r, char *profile, char *idem, unsigned needed)
{
	memset(r, 0, sizeof(*r));
	r->profile = profile;
	r->principal = "alice";
	r->adapter = "sesam";
	r->idem_key = idem;
	r->status = BE_REQ_PENDING;
	r->approvals_needed = needed;
	r->data = "{\"cn\":\"device\"}";
}

static void
test_requests(struct be_store *st)
{
	struct be_req_rec req, dup, r2, r3, *got = NULL, *list = NULL;
	struct be_cert_rec cert, *cgot = NULL;
	struct be_audit_rec a = audit_make("approve", "approved");
	struct be_err e = { 0 };
	unsigned char csr[] = { 0x30, 0x02, 0x05, 0x00 };
	char want[128];
	bool approved = true;
	int64_t before;
	size_t n = 0;
	int rc;

	req_init(&req, "gated", "idem-1", 2);
	req.csr_der.data = csr;
	req.csr_der.size = sizeof(csr);
	rc = be_store_req_insert(st, &req, &a, &e);
	tap_ok(rc == 0 && req.id > 0 && req.created_at > 0, "/store/req/insert");
	rc = be_store_req_get(st, req.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_REQ_PENDING &&
	       got->approvals_needed == 2 && got->approvals == 0 &&
	       strcmp(got->profile, "gated") == 0 && strcmp(got->principal, "alice") == 0 &&
	       strcmp(got->adapter, "sesam") == 0 && strcmp(got->idem_key, "idem-1") == 0 &&
	       strcmp(got->data, "{\"cn\":\"device\"}") == 0 && got->reason == NULL &&
	       got->csr_der.size == sizeof(csr) &&
	       memcmp(got->csr_der.data, csr, sizeof(csr)) == 0 && got->cert_id == 0,
	       "/store/req/get-round-trips-every-field");
	be_req_rec_free(got);
	got = NULL;
	rc = be_store_req_find(st, "gated", "idem-1", &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->id == req.id, "/store/req/find-by-idempotency-key");
	be_req_rec_free(got);
	got = NULL;
	req_init(&dup, "gated", "idem-1", 2);
	rc = be_store_req_insert(st, &dup, &a, &e);
	TAP_IS_INT(rc, BE_E_CONFLICT, "/store/req/second-open-request-same-key-refused");

	/* Quorum of two. */
	rc = be_store_req_approve(st, req.id, "bob", &a, &approved, NULL);
	be_store_req_get(st, req.id, &got, NULL);
	tap_ok(rc == 0 && !approved && got != NULL && got->status == BE_REQ_PENDING &&
	       got->approvals == 1, "/store/approve/first-of-two-keeps-pending");
	be_req_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_req_approve(st, req.id, "bob", &a, &approved, &e);
	tap_ok(rc == BE_E_CONFLICT, "/store/approve/repeated-approver-refused (%s)", e.msg);
	be_store_req_get(st, req.id, &got, NULL);
	tap_ok(got != NULL && got->approvals == 1 && got->status == BE_REQ_PENDING,
	       "/store/approve/repeat-changes-nothing");
	be_req_rec_free(got);
	got = NULL;

	before = cert_count(st);
	cert_init(&cert, "9a9a", "01", "gated", "alice", 9000);
	cert.request_id = req.id;
	be_err_clear(&e);
	rc = be_store_cert_insert(st, &cert, NULL, &e);
	tap_ok(rc == BE_E_STATE && cert_count(st) == before,
	       "/store/issue/pending-request-with-quorum-not-issued (%s)", e.msg);

	rc = be_store_req_approve(st, req.id, "carol", &a, &approved, NULL);
	be_store_req_get(st, req.id, &got, NULL);
	tap_ok(rc == 0 && approved && got != NULL && got->status == BE_REQ_APPROVED &&
	       got->approvals == 2, "/store/approve/second-of-two-approves");
	be_req_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_req_approve(st, req.id, "dave", &a, &approved, &e);
	snprintf(want, sizeof(want), "request %" PRId64 " is APPROVED, not PENDING", req.id);
	tap_ok(rc == BE_E_STATE && strcmp(e.msg, want) == 0,
	       "/store/approve/approved-request-refuses-more (%s)", e.msg);
	rc = be_store_req_approve(st, 987654, "dave", &a, &approved, NULL);
	TAP_IS_INT(rc, BE_E_NOTFOUND, "/store/approve/unknown-request-not-found");

	rc = be_store_cert_insert(st, &cert, NULL, &e);
	be_store_req_get(st, req.id, &got, NULL);
	be_store_cert_get_id(st, cert.id, &cgot, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_REQ_ISSUED && got->cert_id == cert.id &&
	       cgot != NULL && cgot->request_id == req.id,
	       "/store/issue/approved-request-becomes-issued-with-cert-id");
	be_req_rec_free(got);
	got = NULL;
	be_cert_rec_free(cgot);
	cgot = NULL;
	cert_init(&cert, "9a9a", "02", "gated", "alice", 9000);
	cert.request_id = req.id;
	be_err_clear(&e);
	rc = be_store_cert_insert(st, &cert, NULL, &e);
	snprintf(want, sizeof(want), "request %" PRId64 " is ISSUED, not APPROVED", req.id);
	tap_ok(rc == BE_E_STATE && strcmp(e.msg, want) == 0,
	       "/store/issue/issued-request-refuses-second-certificate (%s)", e.msg);
	cert.request_id = 31337;
	rc = be_store_cert_insert(st, &cert, NULL, NULL);
	TAP_IS_INT(rc, BE_E_NOTFOUND, "/store/issue/unknown-request-not-found");

	/* No approvals needed: PENDING is enough. */
	req_init(&r2, "open", NULL, 0);
	rc = be_store_req_insert(st, &r2, &a, NULL);
	cert_init(&cert, "9a9a", "03", "open", "alice", 9000);
	cert.request_id = r2.id;
	rc = rc != 0 ? rc : be_store_cert_insert(st, &cert, NULL, NULL);
	TAP_IS_INT(rc, 0, "/store/issue/pending-request-without-quorum-issued");

	/* Transitions. */
	req_init(&r3, "gated", "idem-3", 1);
	rc = be_store_req_insert(st, &r3, &a, NULL);
	rc = rc != 0 ? rc : be_store_req_transition(st, r3.id, BE_REQ_PENDING,
						     BE_REQ_REJECTED, "not today", &a, NULL);
	be_store_req_get(st, r3.id, &got, NULL);
	tap_ok(rc == 0 && got != NULL && got->status == BE_REQ_REJECTED &&
	       got->reason != NULL && strcmp(got->reason, "not today") == 0,
	       "/store/req/transition-pending-to-rejected-with-reason");
	be_req_rec_free(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_store_req_transition(st, r3.id, BE_REQ_PENDING, BE_REQ_CANCELLED, NULL, &a, &e);
	snprintf(want, sizeof(want), "request %" PRId64 " is REJECTED, not PENDING", r3.id);
	tap_ok(rc == BE_E_STATE && strcmp(e.msg, want) == 0,
	       "/store/req/transition-from-wrong-status-refused (%s)", e.msg);
	rc = be_store_req_transition(st, r3.id, BE_REQ_REJECTED, BE_REQ_ISSUED, NULL, &a, NULL);
	TAP_IS_INT(rc, BE_E_STATE, "/store/req/transition-to-issued-refused");
	be_err_clear(&e);
	rc = be_store_req_transition(st, 555555, BE_REQ_PENDING, BE_REQ_CANCELLED, NULL, &a, &e);
	tap_ok(rc == BE_E_NOTFOUND && strcmp(e.msg, "request 555555 not found") == 0,
	       "/store/req/transition-unknown-not-found (%s)", e.msg);
	rc = be_store_req_find(st, "gated", "idem-3", &got, NULL);
	tap_ok(rc == BE_E_NOTFOUND && got == NULL, "/store/req/find-skips-rejected");
	req_init(&r3, "gated", "idem-3", 1);
	rc = be_store_req_insert(st, &r3, &a, NULL);
	TAP_IS_INT(rc, 0, "/store/req/key-of-rejected-request-may-be-reused");
	req_init(&r3, "gated", "idem-1", 1);
	rc = be_store_req_insert(st, &r3, &a, NULL);
	TAP_IS_INT(rc, BE_E_CONFLICT, "/store/req/key-of-issued-request-stays-taken");

	rc = be_store_req_list(st, BE_REQ_PENDING, 0, 0, &list, &n, NULL);
	tap_ok(rc == 0 && n == 1 && list[0].status == BE_REQ_PENDING,
	       "/store/req/list-by-status");
	be_req_recs_free(list, n);
	list = NULL;
	rc = be_store_req_list(st, -1, 1, 2, &list, &n, NULL);
	tap_ok(rc == 0 && n == 2 && list[0].id < list[1].id, "/store/req/list-all-paged");
	be_req_recs_free(list, n);
	list = NULL;
	be_err_clear(&e);
	rc = be_store_req_get(st, 99999, &got, &e);
	tap_ok(rc == BE_E_NOTFOUND && strcmp(e.msg, "request 99999 not found") == 0,
	       "/store/req/unknown-not-found-sentence");
	tap_ok(strcmp(be_req_status_name(BE_REQ_CANCELLED), "CANCELLED") == 0 &&
	       strcmp(be_cert_status_name(BE_CERT_HOLD), "hold") == 0,
	       "/store/names");
}

/* ---------------------------------------------------------------- concurrency */

struct racer {
	struct be_store *st;
	pthread_barrier_t *go;
	int64_t req;
	int idx;
	int rc;
	int64_t cert_id;
};

static void *
racer_run(void *arg)
{
	struct racer *r = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("issue", "issued");
	char serial[32];

	snprintf(serial, sizeof(serial), "%" PRIx64 "%02x", r->req + 0x100, r->idx);
	cert_init(&cert, "7777", serial, "race", "alice", 9000);
	cert.request_id = r->req;
	pthread_barrier_wait(r->go);
	r->rc = be_store_cert_insert(r->st, &cert, &a, NULL);
	r->cert_id = cert.id;
	return NULL;
}

/* RACERS threads over two handles on one file (two "processes"): each request yields one
 * certificate. */
static void
test_race(const char *path)
{
	struct be_store *st[2] = { NULL, NULL };
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t go;
	struct be_req_rec req, *got = NULL;
	struct be_audit_rec a = audit_make("approve", "approved");
	char sql[160];
	int round, i, wins_ok = 0, state_ok = 0, rows_ok = 0, link_ok = 0, rounds = 5;

	if (be_store_open(path, &st[0], NULL) != 0 || be_store_open(path, &st[1], NULL) != 0) {
		tap_ok(0, "/store/race/open");
		goto out;
	}
	for (round = 0; round < rounds; round++) {
		int wins = 0, states = 0;
		int64_t winner = 0;

		req_init(&req, "race", NULL, 1);
		if (be_store_req_insert(st[0], &req, &a, NULL) != 0 ||
		    be_store_req_approve(st[1], req.id, "bob", &a, NULL, NULL) != 0)
			continue;
		pthread_barrier_init(&go, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			rs[i] = (struct racer){ st[i % 2], &go, req.id, i, -100, 0 };
			pthread_create(&th[i], NULL, racer_run, &rs[i]);
		}
		for (i = 0; i < RACERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		for (i = 0; i < RACERS; i++) {
			if (rs[i].rc == 0) {
				wins++;
				winner = rs[i].cert_id;
			} else if (rs[i].rc == BE_E_STATE) {
				states++;
			}
		}
		wins_ok += wins == 1;
		state_ok += states == RACERS - 1;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM certificates WHERE request_id = %"
			 PRId64, req.id);
		rows_ok += raw_int(path, sql) == 1;
		if (be_store_req_get(st[0], req.id, &got, NULL) == 0 &&
		    got->status == BE_REQ_ISSUED && got->cert_id == winner)
			link_ok++;
		be_req_rec_free(got);
		got = NULL;
	}
	TAP_IS_INT(wins_ok, rounds, "/store/race/8-threads-one-request-exactly-one-success");
	TAP_IS_INT(state_ok, rounds, "/store/race/8-threads-one-request-seven-state-errors");
	TAP_IS_INT(rows_ok, rounds, "/store/race/8-threads-one-request-one-certificate-row");
	TAP_IS_INT(link_ok, rounds, "/store/race/request-points-at-the-winner");
out:
	be_store_close(st[0]);
	be_store_close(st[1]);
}

struct worker {
	struct be_store *st;
	int idx;
	int count;
	int fails;
	atomic_int *stop;
};

static void *
writer_run(void *arg)
{
	struct worker *w = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("enroll", "issued");
	char serial[32];
	int i;

	for (i = 0; i < w->count; i++) {
		snprintf(serial, sizeof(serial), "5e%02x%06x", w->idx, i);
		cert_init(&cert, "1234", serial, "mixed", "alice", 9000);
		if (be_store_cert_insert(w->st, &cert, &a, NULL) != 0)
			w->fails++;
	}
	return NULL;
}

static void *
reader_run(void *arg)
{
	struct worker *w = arg;
	struct be_cert_rec *got = NULL, *recs = NULL;
	struct be_cert_filter f;
	struct be_err e;
	size_t n = 0, total = 0;
	int rc;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.profile = "mixed";
	f.limit = 10;
	while (!atomic_load(w->stop)) {
		be_err_clear(&e);
		rc = be_store_cert_get(w->st, "1234", "5e00000000", &got, &e);
		if (rc != 0 && rc != BE_E_NOTFOUND)
			w->fails++;
		be_cert_rec_free(got);
		got = NULL;
		if (be_store_cert_list(w->st, &f, &recs, &n, &total, NULL) != 0)
			w->fails++;
		be_cert_recs_free(recs, n);
		recs = NULL;
		w->count++;
	}
	return NULL;
}

static void
test_mixed(struct be_store *st)
{
	struct worker ws[8];
	pthread_t th[8];
	atomic_int stop = 0;
	int64_t before = cert_count(st);
	int i, fails = 0, reads = 0;

	for (i = 0; i < 8; i++) {
		ws[i] = (struct worker){ st, i, i < 4 ? 40 : 0, 0, &stop };
		pthread_create(&th[i], NULL, i < 4 ? writer_run : reader_run, &ws[i]);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, 1);
	for (i = 4; i < 8; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 8; i++) {
		fails += ws[i].fails;
		if (i >= 4)
			reads += ws[i].count;
	}
	tap_ok(fails == 0 && cert_count(st) == before + 160,
	       "/store/concurrency/4-writers-4-readers-no-errors (%d read rounds)", reads);
}

struct stopper {
	struct be_store *st;
	size_t calls;
	size_t stop_at;
	int nested_fails;
};

/* Counts entries, calls back into the store from inside the scan, stops at stop_at. */
static int
stopper_cb(const struct be_audit_rec *a, void *arg)
{
	struct stopper *sp = arg;
	int64_t n = 0;

	sp->calls++;
	if (be_store_cert_count(sp->st, &n, NULL) != 0 || n <= 0)
		sp->nested_fails++;
	return sp->stop_at != 0 && sp->calls == sp->stop_at ? 7 : 0;
}

/* Another process holds the write lock mid-transaction: reads still answer at once. */
static void
test_read_while_locked(struct be_store *st, const char *path)
{
	sqlite3 *h = raw_open(path);
	struct be_cert_rec *got = NULL, *recs = NULL;
	struct be_cert_filter f;
	struct timespec t0, t1;
	size_t n = 0, total = 0;
	double secs;
	int r1 = -1, r2 = -1, locked;

	locked = h != NULL && sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO audit (at, operation,"
					   " outcome) VALUES (1, 'lock', 'held')", NULL, NULL,
					   NULL) == SQLITE_OK;
	memset(&f, 0, sizeof(f));
	f.status = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (locked) {
		r1 = be_store_cert_get(st, "abcdef01", "0a1b2c", &got, NULL);
		r2 = be_store_cert_list(st, &f, &recs, &n, &total, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(locked && r1 == 0 && r2 == 0 && n > 0 && secs < 1.0,
	       "/store/concurrency/reads-answer-while-a-writer-holds-the-lock (%.3f s)", secs);
	be_cert_rec_free(got);
	be_cert_recs_free(recs, n);
	if (h != NULL)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
}

/* ---------------------------------------------------------------- audit */

static void
test_audit(struct be_store *st, const char *path)
{
	struct be_audit_rec a = audit_make("probe", "refused");
	char msg[256];
	int64_t before;
	int r;

	a.serial = "beef";
	r = be_store_audit(st, &a, NULL);
	TAP_IS_INT(r, 0, "/store/audit/append");
	TAP_IS_INT(audit_count(st, "beef", "probe"), 1, "/store/audit/scan-finds-it");
	{
		struct be_audit_rec bulk = audit_make("bulk", "refused");
		int i, fails = 0;

		for (i = 0; i < 300; i++)
			fails += be_store_audit(st, &bulk, NULL) != 0;
		TAP_IS_INT(fails, 0, "/store/audit/append-300-more");
	}
	before = raw_int(path, "SELECT count(*) FROM audit");
	r = raw_exec(path, "UPDATE audit SET reason = 'rewritten'", msg, sizeof(msg));
	tap_ok(r == SQLITE_CONSTRAINT && strstr(msg, "append-only") != NULL,
	       "/store/audit/raw-update-fails (%s)", msg);
	r = raw_exec(path, "DELETE FROM audit", msg, sizeof(msg));
	tap_ok(r == SQLITE_CONSTRAINT && strstr(msg, "append-only") != NULL,
	       "/store/audit/raw-delete-fails (%s)", msg);
	r = raw_exec(path, "PRAGMA recursive_triggers = OFF; INSERT OR REPLACE INTO audit"
		     " (id, at, operation, outcome) VALUES (1, 0, 'forged', 'forged')",
		     msg, sizeof(msg));
	tap_ok(r == SQLITE_CONSTRAINT, "/store/audit/raw-insert-or-replace-fails (%s)", msg);
	tap_ok(raw_int(path, "SELECT count(*) FROM audit") == before &&
	       raw_int(path, "SELECT count(*) FROM audit WHERE reason = 'rewritten' OR"
		       " operation = 'forged'") == 0, "/store/audit/rows-unchanged");
	{
		struct stopper sp = { st, 0, 0, 0 };

		r = be_store_audit_scan(st, 0, 1000000, stopper_cb, &sp, NULL);
		tap_ok(r == 0 && before > 400 && (int64_t)sp.calls == before &&
		       sp.nested_fails == 0,
		       "/store/audit/scan-over-many-batches-sees-every-row (%zu of %" PRId64 ")",
		       sp.calls, before);
		sp = (struct stopper){ st, 0, 300, 0 };
		r = be_store_audit_scan(st, 0, 0, stopper_cb, &sp, NULL);
		tap_ok(r == 0 && sp.calls == 100, "/store/audit/scan-limit-0-means-100");
		sp = (struct stopper){ st, 0, 270, 0 };
		r = be_store_audit_scan(st, 0, 1000, stopper_cb, &sp, NULL);
		tap_ok(r == 7 && sp.calls == 270,
		       "/store/audit/scan-callback-return-stops-and-is-returned");
		sp = (struct stopper){ st, 0, 0, 0 };
		r = be_store_audit_scan(st, before - 2, 1000, stopper_cb, &sp, NULL);
		tap_ok(r == 0 && sp.calls == 2, "/store/audit/scan-after-id");
	}
	a.operation = NULL;
	r = be_store_audit(st, &a, NULL);
	TAP_IS_INT(r, BE_E_INTERNAL, "/store/audit/entry-without-operation-refused");
}

/* ---------------------------------------------------------------- crash safety */

static void
crash_child(const char *db, const char *ack, unsigned round)
{
	struct be_store *st = NULL;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("crashtest", "issued");
	char serial[41];
	uint64_t i, sn;
	int fd;

	fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || be_store_open(db, &st, NULL) != 0)
		_exit(2);
	for (i = 0;; i++) {
		sn = UINT64_C(0x7000000000000000) | ((uint64_t)round << 32) | i;
		snprintf(serial, sizeof(serial), "%016" PRIx64, sn);
		cert_init(&cert, "c0ffee", serial, "crash", "child", 9000);
		if (be_store_cert_insert(st, &cert, &a, NULL) != 0)
			_exit(3);
		if (write(fd, &sn, sizeof(sn)) != (ssize_t)sizeof(sn) || fsync(fd) != 0)
			_exit(4);
	}
}

/* Serials the child acknowledged; caller frees. */
static uint64_t *
acks_read(const char *ack, size_t *n)
{
	FILE *fp = fopen(ack, "rb");
	uint64_t *v = NULL, *tmp, x;
	size_t cap = 0;

	*n = 0;
	if (fp == NULL)
		return NULL;
	while (fread(&x, sizeof(x), 1, fp) == 1) {
		if (*n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			if ((tmp = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = tmp;
		}
		v[(*n)++] = x;
	}
	fclose(fp);
	return v;
}

static size_t
acks_missing(const char *db, const uint64_t *v, size_t n)
{
	sqlite3 *h = raw_open(db);
	sqlite3_stmt *s = NULL;
	char serial[41];
	size_t i, missing = 0;

	if (h == NULL || sqlite3_prepare_v2(h, "SELECT count(*) FROM certificates WHERE"
					    " issuer = 'c0ffee' AND serial = ?1", -1, &s,
					    NULL) != SQLITE_OK) {
		missing = n + 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(serial, sizeof(serial), "%016" PRIx64, v[i]);
		sqlite3_bind_text(s, 1, serial, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0) != 1)
			missing++;
		sqlite3_reset(s);
	}
out:
	sqlite3_finalize(s);
	sqlite3_close(h);
	return missing;
}

static void
test_crash(void)
{
	struct be_store *st = NULL;
	char db[512], ack[512], name[32], ic[64];
	uint64_t *acks = NULL;
	size_t nacks = 0;
	int64_t rows;
	unsigned round, seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	long delay_ms;
	struct timespec ts;
	pid_t pid;
	int status;

	tpath("crash.db", db, sizeof(db));
	tap_diag("crash test seed %u", seed);
	srand(seed);
	for (round = 0; round < CRASH_ROUNDS; round++) {
		snprintf(name, sizeof(name), "crash-ack-%u", round);
		tpath(name, ack, sizeof(ack));
		/* Round 0 dies early (open, migration); the rest mid-stream around 200 ms. */
		delay_ms = round == 0 ? 1 + rand() % 20 : 100 + rand() % 200;
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			tap_ok(0, "/store/crash/fork");
			break;
		}
		if (pid == 0)
			crash_child(db, ack, round);
		ts.tv_sec = delay_ms / 1000;
		ts.tv_nsec = (delay_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		status = 0;
		waitpid(pid, &status, 0);
		tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		       "/store/crash/round-%u/child-killed-mid-run-after-%ld-ms", round, delay_ms);

		tap_ok(be_store_open(db, &st, NULL) == 0, "/store/crash/round-%u/reopens", round);
		be_store_close(st);
		st = NULL;
		raw_text(db, "PRAGMA integrity_check", ic, sizeof(ic));
		tap_ok(strcmp(ic, "ok") == 0, "/store/crash/round-%u/integrity-check-ok (%s)",
		       round, ic);
		tap_ok(raw_int(db, "SELECT count(*) FROM (SELECT 1 FROM certificates"
			       " GROUP BY issuer, serial HAVING count(*) > 1)") == 0,
		       "/store/crash/round-%u/no-duplicate-serial", round);
		tap_ok(raw_int(db, "SELECT count(*) FROM certificates c WHERE NOT EXISTS"
			       " (SELECT 1 FROM audit a WHERE a.serial = c.serial AND"
			       " a.operation = 'crashtest')") == 0 &&
		       raw_int(db, "SELECT count(*) FROM certificates") ==
		       raw_int(db, "SELECT count(*) FROM audit WHERE operation = 'crashtest'"),
		       "/store/crash/round-%u/every-certificate-has-its-audit-row", round);
		acks = acks_read(ack, &nacks);
		rows = raw_int(db, "SELECT count(*) FROM certificates");
		tap_ok((int64_t)nacks <= rows && acks_missing(db, acks, nacks) == 0,
		       "/store/crash/round-%u/no-acknowledged-insert-lost (%zu acked, %" PRId64
		       " rows)", round, nacks, rows);
		free(acks);
		acks = NULL;
	}
}

/* ---------------------------------------------------------------- group commit */

struct gc_worker {
	struct be_store *st;
	pthread_barrier_t *go;
	unsigned idx, round;
	unsigned ok, conflict, notfound, other;
	uint64_t *acked;		/* crash child: serials acknowledged */
	int ackfd;
};

/* GC_EACH distinct serials per thread, all threads released at once. */
static void *
gc_distinct(void *arg)
{
	struct gc_worker *w = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("gc", "issued");
	char serial[41];
	unsigned i;

	pthread_barrier_wait(w->go);
	for (i = 0; i < GC_EACH; i++) {
		snprintf(serial, sizeof(serial), "6c%02x%04x", w->idx, i);
		cert_init(&cert, "9c", serial, "gc", "alice", 9000);
		if (be_store_cert_insert(w->st, &cert, &a, NULL) == 0 && cert.id > 0)
			w->ok++;
		else
			w->other++;
	}
	return NULL;
}

/* Threads 2k and 2k+1 insert the same serial at the same moment; thread 0 of each round
 * also names a request that does not exist. */
static void *
gc_clash(void *arg)
{
	struct gc_worker *w = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("gcclash", "issued");
	char serial[41];
	int rc;

	snprintf(serial, sizeof(serial), "7d%02x%02x", w->round, w->idx / 2);
	cert_init(&cert, "9c", serial, "gc", "alice", 9000);
	if (w->idx == 0) {
		snprintf(serial, sizeof(serial), "7e%02x", w->round);
		snprintf(cert.serial, sizeof(cert.serial), "%s", serial);
		cert.request_id = 999999;
	}
	pthread_barrier_wait(w->go);
	rc = be_store_cert_insert(w->st, &cert, &a, NULL);
	if (rc == 0)
		w->ok++;
	else if (rc == BE_E_CONFLICT)
		w->conflict++;
	else if (rc == BE_E_NOTFOUND)
		w->notfound++;
	else
		w->other++;
	return NULL;
}

static void
gc_run(struct be_store *st, void *(*fn)(void *), struct gc_worker *w, unsigned round)
{
	pthread_barrier_t go;
	pthread_t th[GC_THREADS];
	unsigned i;

	pthread_barrier_init(&go, NULL, GC_THREADS);
	for (i = 0; i < GC_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].go = &go;
		w[i].idx = i;
		w[i].round = round;
		pthread_create(&th[i], NULL, fn, &w[i]);
	}
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
}

static void
test_group_commit(const char *path)
{
	struct be_store *st = NULL;
	struct gc_worker w[GC_THREADS];
	unsigned i, round, ok = 0, other = 0, before, n_sync;
	bool pairs_ok = true, lone_ok = true;

	if (be_store_open(path, &st, NULL) != 0) {
		tap_ok(0, "/store/group-commit/open");
		return;
	}
	before = atomic_load(&syncs);
	gc_run(st, gc_distinct, w, 0);
	n_sync = atomic_load(&syncs) - before;
	for (i = 0; i < GC_THREADS; i++) {
		ok += w[i].ok;
		other += w[i].other;
	}
	tap_ok(ok == GC_THREADS * GC_EACH && other == 0,
	       "/store/group-commit/%d-threads-all-%d-inserts-succeed", GC_THREADS,
	       GC_THREADS * GC_EACH);
	tap_ok(raw_int(path, "SELECT count(*) FROM certificates WHERE profile = 'gc'") ==
		       GC_THREADS * GC_EACH &&
	       raw_int(path, "SELECT count(*) FROM audit WHERE operation = 'gc'") ==
		       GC_THREADS * GC_EACH,
	       "/store/group-commit/every-certificate-and-audit-row-stored");
	if (n_sync == 0 && before == 0) {
		tap_ok(1, "/store/group-commit/fewer-fsyncs-than-inserts # SKIP fdatasync is not "
		       "observable here");
	} else {
		tap_ok(n_sync > 0 && n_sync < (unsigned)(GC_THREADS * GC_EACH),
		       "/store/group-commit/fewer-fsyncs-than-inserts");
		tap_diag("group commit: %d inserts from %d threads took %u fdatasync calls "
			 "(%.1f certificates per sync)", GC_THREADS * GC_EACH, GC_THREADS, n_sync,
			 n_sync ? (double)(GC_THREADS * GC_EACH) / n_sync : 0.0);
	}

	/* Duplicates and a bad request inside batches fail alone. */
	for (round = 0; round < GC_ROUNDS; round++) {
		unsigned k;

		gc_run(st, gc_clash, w, round);
		for (k = 1; k < GC_THREADS / 2; k++)
			pairs_ok = pairs_ok && w[2 * k].ok + w[2 * k + 1].ok == 1 &&
				   w[2 * k].conflict + w[2 * k + 1].conflict == 1;
		/* Pair 0: thread 0 names a missing request, thread 1 inserts alone. */
		lone_ok = lone_ok && w[0].notfound == 1 && w[1].ok == 1;
		for (k = 0; k < GC_THREADS; k++)
			other += w[k].other;
	}
	tap_ok(pairs_ok, "/store/group-commit/same-serial-at-once-one-wins-one-conflict");
	tap_ok(lone_ok, "/store/group-commit/missing-request-fails-only-its-caller");
	tap_ok(other == 0, "/store/group-commit/no-other-errors");
	tap_ok(raw_int(path, "SELECT count(*) FROM certificates WHERE serial LIKE '7d%'") ==
		       GC_ROUNDS * (GC_THREADS / 2) &&
	       raw_int(path, "SELECT count(*) FROM certificates WHERE serial LIKE '7e%'") == 0 &&
	       raw_int(path, "SELECT count(*) FROM audit WHERE operation = 'gcclash'") ==
		       GC_ROUNDS * (GC_THREADS / 2),
	       "/store/group-commit/failed-rows-leave-no-certificate-and-no-audit-row");
	be_store_close(st);
}

/* Certificates of about 3 KB (an RSA-4096 certificate with a chain's worth of extensions),
 * so that the WAL grows fast. */
static unsigned char big_der[3000];

static void *
gc_big(void *arg)
{
	struct gc_worker *w = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("gcbig", "issued");
	char serial[41];
	unsigned i;

	pthread_barrier_wait(w->go);
	for (i = 0; i < 200; i++) {
		snprintf(serial, sizeof(serial), "5b%02x%04x", w->idx, i);
		cert_init(&cert, "9c", serial, "gc", "alice", 9000);
		cert.der.data = big_der;
		cert.der.size = sizeof(big_der);
		if (be_store_cert_insert(w->st, &cert, &a, NULL) == 0)
			w->ok++;
		else
			w->other++;
	}
	return NULL;
}

/* The checkpointer thread keeps the WAL short: 3200 inserts of 3 KB write some 10000 pages
 * (40 MB), yet the WAL stays within a few times the threshold of 1000 pages. */
static void
test_checkpointer(const char *path)
{
	struct be_store *st = NULL;
	struct gc_worker w[GC_THREADS];
	char wal[600];
	struct stat sb;
	unsigned i, ok = 0;
	int64_t page, walsize;

	memset(big_der, 0x5a, sizeof(big_der));
	big_der[0] = 0x30;
	if (be_store_open(path, &st, NULL) != 0) {
		tap_ok(0, "/store/checkpointer/open");
		return;
	}
	be_store_set_checkpoint_pages(st, STORE_CHECKPOINT_PAGES_TEST);
	gc_run(st, gc_big, w, 0);
	for (i = 0; i < GC_THREADS; i++)
		ok += w[i].ok;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	walsize = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : -1;
	page = raw_int(path, "PRAGMA page_size");
	tap_ok(ok == GC_THREADS * 200 && walsize >= 0 && page > 0 &&
		       walsize < 4 * STORE_CHECKPOINT_PAGES_TEST * page,
	       "/store/checkpointer/wal-stays-short (%" PRId64 " bytes after %u inserts of 3 KB)",
	       walsize, ok);
	be_store_close(st);
	tap_ok(raw_int(path, "SELECT count(*) FROM certificates WHERE profile = 'gc'") ==
		       GC_THREADS * 200,
	       "/store/checkpointer/every-row-readable-after-close");
}

/* A child whose GC_THREADS threads insert at once, each acknowledging a serial (to a file,
 * fsynced) only after be_store_cert_insert returned; the parent SIGKILLs it. */
static void *
gc_crash_worker(void *arg)
{
	struct gc_worker *w = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("crashtest", "issued");
	char serial[41];
	uint64_t i, sn;

	for (i = 0;; i++) {
		sn = UINT64_C(0x6000000000000000) | ((uint64_t)w->round << 40) |
		     ((uint64_t)w->idx << 32) | i;
		snprintf(serial, sizeof(serial), "%016" PRIx64, sn);
		cert_init(&cert, "c0ffee", serial, "crash", "child", 9000);
		if (be_store_cert_insert(w->st, &cert, &a, NULL) != 0)
			_exit(3);
		if (write(w->ackfd, &sn, sizeof(sn)) != (ssize_t)sizeof(sn) ||
		    fdatasync(w->ackfd) != 0)
			_exit(4);
	}
	return NULL;
}

static void
gc_crash_child(const char *db, const char *ack, unsigned round)
{
	struct be_store *st = NULL;
	struct gc_worker w[GC_THREADS];
	pthread_t th;
	unsigned i;
	int fd;

	fd = open(ack, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || be_store_open(db, &st, NULL) != 0)
		_exit(2);
	for (i = 0; i < GC_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].idx = i;
		w[i].round = round;
		w[i].ackfd = fd;
		if (pthread_create(&th, NULL, gc_crash_worker, &w[i]) != 0)
			_exit(5);
	}
	for (;;)
		pause();
}

static void
test_group_commit_crash(void)
{
	struct be_store *st = NULL;
	char db[512], ack[512], name[40];
	uint64_t *acks = NULL;
	size_t nacks = 0;
	int64_t rows;
	unsigned round;
	long delay_ms;
	struct timespec ts;
	pid_t pid;
	int status;

	tpath("gccrash.db", db, sizeof(db));
	for (round = 0; round < 3; round++) {
		snprintf(name, sizeof(name), "gccrash-ack-%u", round);
		tpath(name, ack, sizeof(ack));
		delay_ms = 300 + rand() % 300;
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			tap_ok(0, "/store/group-commit/crash/fork");
			break;
		}
		if (pid == 0)
			gc_crash_child(db, ack, round);
		ts.tv_sec = delay_ms / 1000;
		ts.tv_nsec = (delay_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		status = 0;
		waitpid(pid, &status, 0);
		tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		       "/store/group-commit/crash/round-%u/child-killed-after-%ld-ms", round,
		       delay_ms);
		/* On a loaded machine the child may die before its first migration committed:
		 * open (and migrate) as a restart would before counting. */
		if (be_store_open(db, &st, NULL) == 0)
			be_store_close(st);
		st = NULL;
		acks = acks_read(ack, &nacks);
		rows = raw_int(db, "SELECT count(*) FROM certificates");
		tap_ok((int64_t)nacks <= rows && acks_missing(db, acks, nacks) == 0,
		       "/store/group-commit/crash/round-%u/no-acknowledged-insert-lost (%zu acked, "
		       "%" PRId64 " rows)", round, nacks, rows);
		tap_ok(raw_int(db, "SELECT count(*) FROM certificates") ==
		       raw_int(db, "SELECT count(*) FROM audit WHERE operation = 'crashtest'"),
		       "/store/group-commit/crash/round-%u/every-certificate-has-its-audit-row",
		       round);
		free(acks);
		acks = NULL;
	}
}

/* ---------------------------------------------------------------- busy: bounded waits */

struct busy_writer {
	struct be_store *st;
	bool with_deadline;	/* be_store_deadline_begin around two writes */
	int rc;
	double secs;
	struct be_err err;
};

static void *
busy_writer_run(void *arg)
{
	struct busy_writer *w = arg;
	struct be_audit_rec a = audit_make("busytest", "waited");
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (w->with_deadline)
		be_store_deadline_begin(w->st);
	w->rc = be_store_audit(w->st, &a, &w->err);
	if (w->with_deadline && w->rc != 0)
		(void)be_store_audit(w->st, &a, NULL);	/* the deadline has passed: no wait */
	be_store_deadline_end();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	w->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return NULL;
}

/* Another process holds the write lock: four writers queued in this process each give up
 * after the store's wait (300 ms), in all, with BE_E_UNAVAILABLE "database busy" -- not one
 * wait per writer ahead in the queue -- and /healthz's check says the same. */
static void
test_busy(const char *path)
{
	struct be_store *st = NULL;
	struct busy_writer w[4];
	pthread_t th[4];
	struct be_err e = { 0, "" };
	sqlite3 *h = NULL;
	double worst = 0;
	bool all503 = true, named = true;
	int locked, health;
	size_t i;

	if (be_store_open(path, &st, NULL) != 0 || (h = raw_open(path)) == NULL) {
		tap_ok(0, "/store/busy/open");
		goto out;
	}
	be_store_set_wait(st, 300);
	locked = sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO audit (at, operation, outcome)"
			      " VALUES (1, 'lock', 'held')", NULL, NULL, NULL) == SQLITE_OK;
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].with_deadline = i % 2 == 1;
		pthread_create(&th[i], NULL, busy_writer_run, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		all503 = all503 && w[i].rc == BE_E_UNAVAILABLE;
		named = named && strstr(w[i].err.msg, "database busy") != NULL;
		worst = w[i].secs > worst ? w[i].secs : worst;
	}
	tap_ok(locked && all503, "/store/busy/writers-get-unavailable");
	tap_ok(named, "/store/busy/reason-names-database-busy (%s)", w[0].err.msg);
	tap_ok(locked && worst >= 0.25 && worst < 1.0,
	       "/store/busy/each-waits-the-store-wait-in-all (worst %.3f s, wait 0.3 s)", worst);
	health = be_store_health(st, &e);
	tap_ok(health == BE_E_UNAVAILABLE && strstr(e.msg, "database busy") != NULL,
	       "/store/busy/health-says-database-busy (%s)", e.msg);
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	be_err_clear(&e);
	tap_ok(be_store_health(st, &e) == 0, "/store/busy/health-ok-after-release (%s)", e.msg);
	w[0].with_deadline = true;
	busy_writer_run(&w[0]);
	tap_ok(w[0].rc == 0, "/store/busy/writes-after-release");
out:
	sqlite3_close(h);
	be_store_close(st);
}

/* ---------------------------------------------------------------- throughput */

struct bench {
	struct be_store *st;
	int idx;
	int n;
	int fails;
};

static void *
bench_run(void *arg)
{
	struct bench *b = arg;
	struct be_cert_rec cert;
	struct be_audit_rec a = audit_make("bench", "issued");
	char serial[32];
	int i;

	for (i = 0; i < b->n; i++) {
		snprintf(serial, sizeof(serial), "be%02x%08x", b->idx, i);
		cert_init(&cert, "beef", serial, "bench", "alice", 9000);
		if (be_store_cert_insert(b->st, &cert, &a, NULL) != 0)
			b->fails++;
	}
	return NULL;
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
test_bench(const char *path)
{
	struct be_store *st = NULL;
	struct bench bs[4];
	pthread_t th[4];
	struct timespec t0, t1;
	const char *env = getenv("CERTGATE_BENCH_N");
	long total = 400;
	int i, fails = 0;

	if (env != NULL)
		total = strtol(env, NULL, 10);
	if (total < 4)
		total = 4;
	if (be_store_open(path, &st, NULL) != 0) {
		tap_ok(0, "/store/bench/open");
		return;
	}
	bs[0] = (struct bench){ st, 0, (int)total, 0 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bench_run(&bs[0]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fails += bs[0].fails;
	tap_diag("insert rate, 1 thread: %.0f certs/s (%ld inserts, synchronous=FULL)",
		 (double)total / elapsed(&t0, &t1), total);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 4; i++) {
		bs[i] = (struct bench){ st, i + 1, (int)(total / 4), 0 };
		pthread_create(&th[i], NULL, bench_run, &bs[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		fails += bs[i].fails;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_diag("insert rate, 4 threads: %.0f certs/s (%ld inserts, synchronous=FULL)",
		 (double)(total / 4 * 4) / elapsed(&t0, &t1), total / 4 * 4);
	TAP_IS_INT(fails, 0, "/store/bench/all-inserts-succeed");
	be_store_close(st);
}

/* ---------------------------------------------------------------- main */

static void
rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[600];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

int
main(void)
{
	struct be_store *st = NULL;
	struct be_err e = { 0 };
	const char *base = getenv("TMPDIR");
	char path[512];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-be-store.XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 99;
	}
	test_open();
	test_future_version();
	test_migrate_v1();
	test_migrate_v2_crl();

	if (be_store_open(tpath("main.db", path, sizeof(path)), &st, &e) != 0) {
		printf("Bail out! %s\n", e.msg);
		rmtree(tmpdir);
		return 99;
	}
	test_cert_basic(st);
	test_cert_status(st);
	test_requests(st);
	test_mixed(st);
	test_read_while_locked(st, path);
	test_audit(st, path);
	be_store_close(st);

	test_cert_list(tpath("list.db", path, sizeof(path)));
	test_cert_delete(tpath("delete.db", path, sizeof(path)));
	test_race(tpath("race.db", path, sizeof(path)));
	test_crash();
	test_group_commit(tpath("gc.db", path, sizeof(path)));
	test_group_commit_crash();
	test_checkpointer(tpath("ckpt.db", path, sizeof(path)));
	test_busy(tpath("busy.db", path, sizeof(path)));
	test_bench(tpath("bench.db", path, sizeof(path)));

	rmtree(tmpdir);
	return tap_done();
}
