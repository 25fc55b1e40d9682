/*
 * The durable store on SQLite: certificates, requests with approvals, the append-only audit.
 *
 * One write connection behind a mutex: every write is one BEGIN IMMEDIATE ... COMMIT that
 * includes its audit row, and COMMIT (WAL, synchronous=FULL) has returned before the caller
 * hears of success.  Certificate inserts are group-committed: concurrent callers queue, one
 * of them (the leader) writes the whole queue in one transaction and one COMMIT (one fsync
 * of the WAL) makes the batch durable before any of them returns; a row that fails (a
 * duplicate serial) fails only its caller.  Checkpoints (copying the WAL into the database
 * file, with its own fsync) run on a background thread with its own connection, so that no
 * caller waits for one.  Readers take a connection from a small pool, so they read the last
 * committed snapshot and never wait behind the writer's fsync.  Each connection caches its
 * prepared statements.  The schema is versioned with PRAGMA user_version and grows by the
 * ordered steps in migrations[], each applied in its own transaction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "be_hex.h"
#include "be_stats.h"
#include "be_store.h"

/* How long a request may wait for the store in all (the in-process write queue and another
 * process's lock together) before it is refused with BE_E_UNAVAILABLE; be_store_set_wait. */
#define STORE_WAIT_MS		5000
#define STORE_READERS		4
/* WAL frames (4 KiB pages) that wake the checkpointer: ten times SQLite's own threshold.
 * Issuances rewrite the same few pages (the ends of the tables and of the ascending serial
 * indexes), and a checkpoint copies each page once however often the WAL holds it, so a
 * longer WAL copies far fewer pages per certificate: 1000 -> 10000 took EST simpleenroll
 * at 64 connections from about 3650 to 4050 per s (the WAL file grows to about 40 MiB). */
#define STORE_CHECKPOINT_PAGES	10000
/* Below this the WAL is never checkpointed early: a few pages per commit. */
#define STORE_CHECKPOINT_MIN	64
/* The WAL may grow to at most this fraction (1/n) of the space it and the free space of its
 * file system have together; past that the checkpointer copies it back and truncates it.
 * Free space is looked up (statvfs) at most every STORE_SPACE_FRAMES new WAL frames. */
#define STORE_WAL_SHARE		4
#define STORE_SPACE_FRAMES	32
/* Below this much free space /healthz checks with a real write (be_store_health). */
#define STORE_HEALTH_FREE	(1024 * 1024)
#define STORE_LIST_DEFAULT	100
#define STORE_LIST_MAX		1000
#define CRL_REASON_HOLD		6	/* RFC 5280 5.3.1 certificateHold */

/* ---------------------------------------------------------------- schema */

struct migration {
	int version;
	const char *sql;
};

static const struct migration migrations[] = {
	{ 1,
	  "CREATE TABLE requests ("
	  " id INTEGER PRIMARY KEY,"
	  " profile TEXT NOT NULL,"
	  " principal TEXT,"
	  " adapter TEXT,"
	  " idem_key TEXT,"
	  " status TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'ISSUED',"
	  "  'REJECTED', 'CANCELLED', 'EXPIRED', 'FAILED')),"
	  " approvals_needed INTEGER NOT NULL DEFAULT 0 CHECK (approvals_needed >= 0),"
	  " created_at INTEGER NOT NULL,"
	  " updated_at INTEGER NOT NULL,"
	  " cert_id INTEGER REFERENCES certificates (id),"
	  " csr BLOB,"
	  " data TEXT,"
	  " reason TEXT,"
	  " CHECK ((status = 'ISSUED') = (cert_id IS NOT NULL))"
	  ");"
	  "CREATE INDEX requests_idem ON requests (profile, idem_key);"
	  /* At most one open request per idempotency key: what be_store_req_find returns. */
	  "CREATE UNIQUE INDEX requests_idem_open ON requests (profile, idem_key)"
	  " WHERE idem_key IS NOT NULL AND status IN ('PENDING', 'APPROVED', 'ISSUED');"
	  "CREATE INDEX requests_status ON requests (status, id);"

	  "CREATE TABLE certificates ("
	  " id INTEGER PRIMARY KEY,"
	  " issuer TEXT NOT NULL,"
	  " serial TEXT NOT NULL,"
	  " subject TEXT,"
	  " profile TEXT,"
	  " principal TEXT,"
	  " not_before INTEGER NOT NULL,"
	  " not_after INTEGER NOT NULL,"
	  " issued_at INTEGER NOT NULL,"
	  " status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked', 'hold')),"
	  " reason INTEGER,"
	  " revoked_at INTEGER,"
	  " request_id INTEGER REFERENCES requests (id),"
	  " deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),"
	  " der BLOB NOT NULL,"
	  " key_blob BLOB,"
	  " UNIQUE (issuer, serial)"
	  ");"
	  "CREATE INDEX certificates_serial ON certificates (serial);"
	  "CREATE INDEX certificates_profile ON certificates (profile);"
	  "CREATE INDEX certificates_principal ON certificates (principal);"
	  "CREATE INDEX certificates_status ON certificates (status);"
	  "CREATE INDEX certificates_not_after ON certificates (not_after);"
	  /* One request, one certificate: the last line of defence under the check in
	   * be_store_cert_insert. */
	  "CREATE UNIQUE INDEX certificates_request ON certificates (request_id)"
	  " WHERE request_id IS NOT NULL;"

	  "CREATE TABLE approvals ("
	  " request_id INTEGER NOT NULL REFERENCES requests (id),"
	  " approver TEXT NOT NULL,"
	  " at INTEGER NOT NULL,"
	  " UNIQUE (request_id, approver)"
	  ");"

	  "CREATE TABLE audit ("
	  " id INTEGER PRIMARY KEY CHECK (id > 0),"
	  " at INTEGER NOT NULL,"
	  " request_id TEXT,"
	  " adapter TEXT,"
	  " operation TEXT NOT NULL,"
	  " principal TEXT,"
	  " profile TEXT,"
	  " peer TEXT,"
	  " outcome TEXT NOT NULL,"
	  " reason TEXT,"
	  " serial TEXT"
	  ");"
	  "CREATE INDEX audit_serial ON audit (serial);"
	  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	  " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	  " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	  /* INSERT OR REPLACE deletes without firing DELETE triggers unless recursive_triggers
	   * is on; refuse to insert over an existing id at all. */
	  "CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit"
	  " WHEN NEW.id > 0 AND EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)"
	  " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;" },
	/* No query reads the audit log by serial (it is read in id order), and the index cost a
	 * random page write per issuance. */
	{ 2, "DROP INDEX IF EXISTS audit_serial;" },
	/* CRLs (be_crlpub.c): per issuer, the last cRLNumber handed out (RFC 5280 5.2.3:
	 * monotonic, so it lives here and survives restarts) and a counter of revocation
	 * changes that a trigger bumps in the transaction that changes a status, whichever
	 * process (daemon, CLI) made it; the publisher rebuilds when it moves.  The partial
	 * index holds what a CRL entry needs of an issuer's revoked and held certificates, so
	 * the publisher reads it alone, not the rows (a million entries: about 60 MiB of index
	 * instead of 700 MiB of table). */
	{ 3,
	  "CREATE TABLE crl_state ("
	  " issuer TEXT PRIMARY KEY,"
	  " number INTEGER NOT NULL DEFAULT 0 CHECK (number >= 0),"
	  " changes INTEGER NOT NULL DEFAULT 0"
	  ");"
	  "CREATE INDEX certificates_revoked ON certificates"
	  " (issuer, serial, status, reason, revoked_at, not_after) WHERE status <> 'valid';"
	  "CREATE TRIGGER crl_state_changes AFTER UPDATE OF status ON certificates"
	  " WHEN OLD.status IS NOT NEW.status"
	  " BEGIN INSERT INTO crl_state (issuer, changes) VALUES (NEW.issuer, 1)"
	  "  ON CONFLICT (issuer) DO UPDATE SET changes = changes + 1; END;" },
};

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))
#define SCHEMA_VERSION	(migrations[NMIGRATIONS - 1].version)

/* ---------------------------------------------------------------- statements */

enum stmt_id {
	S_BEGIN_WRITE,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_AUDIT_INSERT,
	S_AUDIT_SCAN,
	S_CERT_INSERT,
	S_CERT_EXISTS,
	S_CERT_BY_ISSUER_SERIAL,
	S_CERT_BY_ID,
	S_CERT_BY_SERIAL,
	S_CERT_STATE,
	S_CERT_SET_STATUS,
	S_CERT_KEY_ZERO,
	S_CERT_SET_KEY,
	S_CERT_DELETE,
	S_CERT_COUNT,
	S_REQ_INSERT,
	S_REQ_STATE,
	S_REQ_ISSUE,
	S_REQ_SET_STATUS,
	S_REQ_BY_ID,
	S_REQ_FIND,
	S_REQ_LIST_ALL,
	S_REQ_LIST_STATUS,
	S_APPROVAL_INSERT,
	S_APPROVAL_COUNT,
	S_OCSP_STATUS,		/* be_store_cert_status (OCSP) */
	S__COUNT
};

#define CERT_COLS \
	"id, issuer, serial, subject, profile, principal, not_before, not_after, issued_at, " \
	"status, reason, revoked_at, request_id, deleted, der, key_blob"
#define REQ_COLS \
	"r.id, r.profile, r.principal, r.adapter, r.idem_key, r.status, r.approvals_needed, " \
	"(SELECT count(*) FROM approvals a WHERE a.request_id = r.id), r.created_at, " \
	"r.updated_at, r.cert_id, r.csr, r.data, r.reason"
#define REQ_OPEN "r.status NOT IN ('CANCELLED', 'REJECTED', 'EXPIRED', 'FAILED')"

static const char *const stmt_sql[S__COUNT] = {
	[S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT item",
	[S_RELEASE] = "RELEASE item",
	[S_ROLLBACK_TO] = "ROLLBACK TO item",
	[S_AUDIT_INSERT] =
		"INSERT INTO audit (at, request_id, adapter, operation, principal, profile, peer,"
		" outcome, reason, serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_AUDIT_SCAN] =
		"SELECT id, at, request_id, adapter, operation, principal, profile, peer, outcome,"
		" reason, serial FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_CERT_INSERT] =
		"INSERT INTO certificates (issuer, serial, subject, profile, principal, not_before,"
		" not_after, issued_at, status, reason, revoked_at, request_id, deleted, der,"
		" key_blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
		" ?15)",
	[S_CERT_EXISTS] = "SELECT 1 FROM certificates WHERE issuer = ?1 AND serial = ?2",
	[S_CERT_BY_ISSUER_SERIAL] =
		"SELECT " CERT_COLS " FROM certificates WHERE issuer = ?1 AND serial = ?2",
	[S_CERT_BY_ID] = "SELECT " CERT_COLS " FROM certificates WHERE id = ?1",
	[S_CERT_BY_SERIAL] =
		"SELECT " CERT_COLS " FROM certificates WHERE serial = ?1 ORDER BY id LIMIT 2",
	[S_CERT_STATE] =
		"SELECT status, serial, deleted, key_blob IS NOT NULL FROM certificates"
		" WHERE id = ?1",
	/* revoked_at: cleared on reactivation; a revocation after a hold keeps the hold's time
	 * (the certificate has been out of service since then). */
	[S_CERT_SET_STATUS] =
		"UPDATE certificates SET status = ?2, reason = ?3, revoked_at = CASE"
		" WHEN ?2 = 'valid' THEN NULL ELSE coalesce(revoked_at, ?4) END WHERE id = ?1",
	[S_CERT_KEY_ZERO] =
		"UPDATE certificates SET key_blob = zeroblob(length(key_blob))"
		" WHERE id = ?1 AND key_blob IS NOT NULL",
	[S_CERT_SET_KEY] = "UPDATE certificates SET key_blob = ?2 WHERE id = ?1",
	[S_CERT_DELETE] = "UPDATE certificates SET deleted = 1, key_blob = NULL WHERE id = ?1",
	[S_CERT_COUNT] = "SELECT count(*) FROM certificates",
	[S_REQ_INSERT] =
		"INSERT INTO requests (profile, principal, adapter, idem_key, status,"
		" approvals_needed, created_at, updated_at, csr, data, reason)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_REQ_STATE] = "SELECT status, approvals_needed FROM requests WHERE id = ?1",
	[S_REQ_ISSUE] =
		"UPDATE requests SET status = 'ISSUED', cert_id = ?2, updated_at = ?3 WHERE id = ?1",
	[S_REQ_SET_STATUS] =
		"UPDATE requests SET status = ?2, reason = coalesce(?3, reason), updated_at = ?4"
		" WHERE id = ?1",
	[S_REQ_BY_ID] = "SELECT " REQ_COLS " FROM requests r WHERE r.id = ?1",
	[S_REQ_FIND] =
		"SELECT " REQ_COLS " FROM requests r WHERE r.profile = ?1 AND r.idem_key = ?2"
		" AND " REQ_OPEN " ORDER BY r.id DESC LIMIT 1",
	[S_REQ_LIST_ALL] =
		"SELECT " REQ_COLS " FROM requests r ORDER BY r.id LIMIT ?1 OFFSET ?2",
	[S_REQ_LIST_STATUS] =
		"SELECT " REQ_COLS " FROM requests r WHERE r.status = ?3 ORDER BY r.id"
		" LIMIT ?1 OFFSET ?2",
	[S_APPROVAL_INSERT] = "INSERT INTO approvals (request_id, approver, at) VALUES (?1, ?2, ?3)",
	[S_APPROVAL_COUNT] = "SELECT count(*) FROM approvals WHERE request_id = ?1",
	[S_OCSP_STATUS] =
		"SELECT id, status, reason, revoked_at FROM certificates"
		" WHERE issuer = ?1 AND serial = ?2",
};

/* Certificate list filters; each present filter adds its fixed clause, values are bound. */
enum {
	F_SERIAL,
	F_PROFILE,
	F_PRINCIPAL,
	F_STATUS,
	F_LIVE,
	F_EXPIRED_BEFORE,
	F_VALID_AFTER,
	F__COUNT
};

static const char *const filter_sql[F__COUNT] = {
	[F_SERIAL] = "serial = :serial",
	[F_PROFILE] = "profile = :profile",
	[F_PRINCIPAL] = "principal = :principal",
	[F_STATUS] = "status = :status",
	[F_LIVE] = "deleted = 0",
	[F_EXPIRED_BEFORE] = "not_after < :expired_before",
	[F_VALID_AFTER] = "not_after >= :valid_after",
};

struct conn {
	sqlite3 *db;
	struct be_store *owner;		/* for db_fail's fault record; NULL while opening */
	uint64_t deadline;		/* busy_wait gives up here (be_stats_clock); 0: at once */
	sqlite3_stmt *st[S__COUNT];
	sqlite3_stmt *list[1u << F__COUNT];
	sqlite3_stmt *count[1u << F__COUNT];
};

struct be_store {
	pthread_mutex_t wmu;		/* guards w */
	struct conn *w;
	pthread_mutex_t rmu;		/* guards rfree, nfree */
	pthread_cond_t rcv;
	struct conn *r[STORE_READERS];
	struct conn *rfree[STORE_READERS];
	size_t nfree;
	bool locks;			/* mutexes initialised */
	/* Group commit of certificate inserts (be_store_cert_insert). */
	pthread_mutex_t gmu;		/* guards gq_head, gq_tail, gleader */
	struct gc_item *gq_head, **gq_tail;
	bool gleader;			/* a leader is writing a batch */
	bool glocks;			/* gmu initialised */
	/* The checkpointer: a thread with its own connection. */
	struct conn *ck;
	pthread_t ck_thread;
	pthread_mutex_t ck_mu;		/* guards ck_frames, ck_stop */
	pthread_cond_t ck_cv;
	int ck_frames;			/* WAL frames at the last commit */
	_Atomic int ck_pages;		/* STORE_CHECKPOINT_PAGES, or a test's */
	bool ck_stop;
	bool ck_truncate;		/* guarded by ck_mu: truncate the WAL (space is short) */
	bool ck_running;		/* thread started */
	bool ck_locks;
	/* Space: the WAL file's directory, the frames at the last statvfs and what it said. */
	char *dir;
	_Atomic int sp_frames;
	_Atomic int sp_limit;		/* frames the WAL may hold now */
	_Atomic int wait_ms;		/* STORE_WAIT_MS, or be_store_set_wait's */
	/* The last fault that failed a write (SQLITE_FULL, SQLITE_IOERR), 0 once a write
	 * commits again: be_store_health reports it. */
	_Atomic int fault;
};

/* The request deadline of this thread (be_store_deadline_begin), 0 when none is set. */
static _Thread_local uint64_t req_deadline;

/* ---------------------------------------------------------------- names */

static const char *const req_status_names[] = {
	[BE_REQ_PENDING] = "PENDING",
	[BE_REQ_APPROVED] = "APPROVED",
	[BE_REQ_ISSUED] = "ISSUED",
	[BE_REQ_REJECTED] = "REJECTED",
	[BE_REQ_CANCELLED] = "CANCELLED",
	[BE_REQ_EXPIRED] = "EXPIRED",
	[BE_REQ_FAILED] = "FAILED",
};

static const char *const cert_status_names[] = {
	[BE_CERT_VALID] = "valid",
	[BE_CERT_REVOKED] = "revoked",
	[BE_CERT_HOLD] = "hold",
};

#define NREQSTATUS	(sizeof(req_status_names) / sizeof(req_status_names[0]))
#define NCERTSTATUS	(sizeof(cert_status_names) / sizeof(cert_status_names[0]))

const char *
be_req_status_name(enum be_req_status s)
{
	return (unsigned)s < NREQSTATUS ? req_status_names[s] : "UNKNOWN";
}

const char *
be_cert_status_name(enum be_cert_status s)
{
	return (unsigned)s < NCERTSTATUS ? cert_status_names[s] : "unknown";
}

static bool
req_status_valid(int s)
{
	return s >= 0 && (unsigned)s < NREQSTATUS;
}

static bool
cert_status_valid(int s)
{
	return s >= 0 && (unsigned)s < NCERTSTATUS;
}

static int
req_status_parse(const char *t, enum be_req_status *out)
{
	size_t i;
	int rc = BE_E_STORE;

	for (i = 0; t != NULL && i < NREQSTATUS; i++) {
		if (strcmp(t, req_status_names[i]) == 0) {
			*out = (enum be_req_status)i;
			rc = BE_OK;
			break;
		}
	}
	return rc;
}

static int
cert_status_parse(const char *t, enum be_cert_status *out)
{
	size_t i;
	int rc = BE_E_STORE;

	for (i = 0; t != NULL && i < NCERTSTATUS; i++) {
		if (strcmp(t, cert_status_names[i]) == 0) {
			*out = (enum be_cert_status)i;
			rc = BE_OK;
			break;
		}
	}
	return rc;
}

/* ---------------------------------------------------------------- small helpers */

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/*
 * Canonical form of a byte string written in hex (len bytes at in, colons allowed between
 * digits): lower case, an even number of digits, and with strip, no leading zero octets
 * (an odd count is padded with one "0"; all zeros is "00").  Returns 0, BE_E_MALFORMED for
 * a non-hex character or no digits, BE_E_TOOBIG when the result does not fit outsz.
 */
static int
hex_canon(const char *in, size_t len, bool strip, char *out, size_t outsz)
{
	size_t i, ndig = 0, nsig = 0, o = 0;
	bool lead = true;
	int rc = BE_OK;

	for (i = 0; i < len; i++) {
		if (in[i] == ':')
			continue;
		if (be_hex_digit((unsigned char)in[i]) < 0) {
			rc = BE_E_MALFORMED;
			goto out;
		}
		ndig++;
		if (lead && strip && in[i] == '0')
			continue;
		lead = false;
		nsig++;
	}
	if (ndig == 0 || (!strip && ndig % 2 != 0)) {
		rc = BE_E_MALFORMED;
		goto out;
	}
	if (nsig == 0) {
		if (outsz < 3) {
			rc = BE_E_TOOBIG;
			goto out;
		}
		memcpy(out, "00", 3);
		goto out;
	}
	if (nsig + nsig % 2 + 1 > outsz) {
		rc = BE_E_TOOBIG;
		goto out;
	}
	if (nsig % 2 != 0)
		out[o++] = '0';
	lead = true;
	for (i = 0; i < len; i++) {
		if (in[i] == ':')
			continue;
		if (lead && strip && in[i] == '0')
			continue;
		lead = false;
		out[o++] = "0123456789abcdef"[be_hex_digit((unsigned char)in[i])];
	}
	out[o] = '\0';
out:
	return rc;
}

/* Serial as a client may write it -> canonical; a sentence on failure. */
static int
serial_canon(const char *in, char out[41], struct be_err *e)
{
	size_t len;
	int rc = BE_OK;

	if (in == NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "no serial number was given");
		goto out;
	}
	len = strlen(in);
	rc = hex_canon(in, len, true, out, 41);
	if (rc == BE_E_MALFORMED)
		be_err_set(e, rc, "serial number \"%.64s\" is not hexadecimal", in);
	else if (rc == BE_E_TOOBIG)
		rc = be_err_set(e, BE_E_MALFORMED,
				"serial number %.64s%s is longer than 20 octets (RFC 5280 4.1.2.2)",
				in, len > 64 ? "..." : "");
out:
	return rc;
}

/* Issuer key identifier (len bounded by the caller) -> canonical lower-case hex. */
static int
issuer_canon(const char *in, size_t max, char *out, size_t outsz, struct be_err *e)
{
	size_t len;
	int rc = BE_OK;

	if (in == NULL || (len = strnlen(in, max)) == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "no issuer key identifier was given");
		goto out;
	}
	if (len == max) {
		rc = be_err_set(e, BE_E_MALFORMED, "issuer key identifier is too long");
		goto out;
	}
	rc = hex_canon(in, len, false, out, outsz);
	if (rc == BE_E_MALFORMED)
		be_err_set(e, rc, "issuer key identifier \"%.80s\" is not an even number of hex "
			   "digits", in);
	else if (rc == BE_E_TOOBIG)
		rc = be_err_set(e, BE_E_MALFORMED, "issuer key identifier %.80s is longer than "
				"32 octets", in);
out:
	return rc;
}

/* ---------------------------------------------------------------- SQLite plumbing */

/* Asks the checkpointer to copy the WAL back and truncate it. */
static void
checkpoint_truncate(struct be_store *st)
{
	pthread_mutex_lock(&st->ck_mu);
	st->ck_truncate = true;
	pthread_cond_signal(&st->ck_cv);
	pthread_mutex_unlock(&st->ck_mu);
}

/* Records a fault that fails writes until one commits again; a full disk also wakes the
 * checkpointer to give the WAL's space back. */
static void
store_fault(struct conn *c, int kind)
{
	struct be_store *st = c != NULL ? c->owner : NULL;

	if (st == NULL)
		return;
	atomic_store(&st->fault, kind);
	if (kind == SQLITE_FULL && st->ck_running)
		checkpoint_truncate(st);
}

/* Why a fault stops writes, in words for a client and /healthz. */
static const char *
fault_reason(int kind)
{
	switch (kind) {
	case SQLITE_FULL:	return "disk full";
	case SQLITE_IOERR:	return "I/O error";
	case SQLITE_BUSY:	return "database busy";
	default:		return "store failure";
	}
}

/*
 * Translates a SQLite failure on c into a BE_E_* code and a sentence.  A full disk, an I/O
 * error and a lock held past the request's deadline are BE_E_UNAVAILABLE (503 with
 * Retry-After on every front end): the request may succeed later, nothing was stored.
 */
static int
db_fail(struct conn *c, int r, const char *doing, struct be_err *e)
{
	const char *msg = c != NULL && c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(r);
	int code = BE_E_STORE, kind = 0;

	be_stats_store_error();
	switch (r & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		kind = SQLITE_BUSY;
		break;
	case SQLITE_FULL:
		kind = SQLITE_FULL;
		break;
	case SQLITE_IOERR:
		if (r == SQLITE_IOERR_NOMEM)
			code = BE_E_NOMEM;
		else if (c != NULL && c->db != NULL && sqlite3_system_errno(c->db) == ENOSPC)
			kind = SQLITE_FULL;
		else
			kind = SQLITE_IOERR;
		break;
	case SQLITE_NOMEM:
		code = BE_E_NOMEM;
		break;
	default:
		break;
	}
	if (kind == 0)
		return be_err_set(e, code, "the store could not %s: %s", doing, msg);
	if (kind != SQLITE_BUSY)
		store_fault(c, kind);
	return be_err_set(e, BE_E_UNAVAILABLE, "the store could not %s: %s (%s)", doing,
			  fault_reason(kind), msg);
}

/* SQLite's busy handler on every connection: waits for another process's lock until the
 * connection's deadline (its holder's request deadline), then gives up (SQLITE_BUSY). */
static int
busy_wait(void *arg, int count)
{
	static const unsigned delay_ms[] = { 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 };
	struct conn *c = arg;
	uint64_t now = be_stats_clock(), left, ms;
	struct timespec ts;

	if (c->deadline == 0 || now >= c->deadline)
		return 0;
	left = (c->deadline - now) / 1000000u + 1;
	ms = count >= 0 && (size_t)count < sizeof(delay_ms) / sizeof(delay_ms[0])
		? delay_ms[count] : 100;
	if (ms > left)
		ms = left;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return 1;
}

/* The moment this thread's store operation stops waiting: the request's deadline when one
 * is set (be_store_deadline_begin), else the store's wait from now. */
static uint64_t
op_deadline(struct be_store *st)
{
	if (req_deadline != 0)
		return req_deadline;
	return be_stats_clock() + (uint64_t)atomic_load(&st->wait_ms) * 1000000u;
}

static int
stmt_get(struct conn *c, enum stmt_id id, sqlite3_stmt **out, struct be_err *e)
{
	int r, rc = BE_OK;

	if (c->st[id] == NULL) {
		r = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &c->st[id], NULL);
		if (r != SQLITE_OK) {
			c->st[id] = NULL;
			rc = db_fail(c, r, "prepare a statement", e);
		}
	}
	*out = c->st[id];
	return rc;
}

/* Returns a statement to its cached, unbound state (and ends its implicit read). */
static void
stmt_done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* The bind helpers do nothing once *r holds an error, so a run of binds is checked once. */
static void
bind_int(sqlite3_stmt *s, int i, int64_t v, int *r)
{
	if (*r == SQLITE_OK)
		*r = sqlite3_bind_int64(s, i, v);
}

static void
bind_int_or_null(sqlite3_stmt *s, int i, int64_t v, bool null, int *r)
{
	if (*r == SQLITE_OK)
		*r = null ? sqlite3_bind_null(s, i) : sqlite3_bind_int64(s, i, v);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v, int *r)
{
	if (*r == SQLITE_OK)
		*r = v != NULL ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC)
			       : sqlite3_bind_null(s, i);
}

static void
bind_datum(sqlite3_stmt *s, int i, const gnutls_datum_t *d, int *r)
{
	if (*r == SQLITE_OK)
		*r = d != NULL && d->data != NULL && d->size > 0
			? sqlite3_bind_blob(s, i, d->data, (int)d->size, SQLITE_STATIC)
			: sqlite3_bind_null(s, i);
}

static void
bind_named_text(sqlite3_stmt *s, const char *name, const char *v, int *r)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i > 0)
		bind_text(s, i, v, r);
}

static void
bind_named_int(sqlite3_stmt *s, const char *name, int64_t v, int *r)
{
	int i = sqlite3_bind_parameter_index(s, name);

	if (i > 0)
		bind_int(s, i, v, r);
}

static int64_t
size_to_i64(size_t n)
{
	return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

/* Runs a cached statement that returns no rows. */
static int
stmt_exec(struct conn *c, enum stmt_id id, const char *doing, struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if ((rc = stmt_get(c, id, &s, e)) != BE_OK)
		goto out;
	r = sqlite3_step(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_fail(c, r, doing, e);
out:
	stmt_done(s);
	return rc;
}

static int
exec_sql(struct conn *c, const char *sql, const char *doing, struct be_err *e)
{
	int r, rc = BE_OK;

	r = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (r != SQLITE_OK)
		rc = db_fail(c, r, doing, e);
	return rc;
}

/* First column of the first row of sql, as an integer or into buf as text. */
static int
query_one(struct conn *c, const char *sql, int64_t *iv, char *buf, size_t len,
	  const char *doing, struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	int r, rc = BE_OK;

	r = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
	if (r != SQLITE_OK) {
		rc = db_fail(c, r, doing, e);
		goto out;
	}
	r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, doing, e);
		goto out;
	}
	if (iv != NULL)
		*iv = sqlite3_column_int64(s, 0);
	if (buf != NULL) {
		t = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static void
conn_close(struct conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < S__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	for (i = 0; i < (1u << F__COUNT); i++) {
		sqlite3_finalize(c->list[i]);
		sqlite3_finalize(c->count[i]);
	}
	sqlite3_close(c->db);
	free(c);
}

static int
conn_open(const char *path, bool writer, struct conn **out, struct be_err *e)
{
	struct conn *c = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
	int r, rc = BE_OK;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (writer)
		flags |= SQLITE_OPEN_CREATE;
	r = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (r != SQLITE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the store %s could not be opened: %s", path,
				c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
		goto out;
	}
	sqlite3_extended_result_codes(c->db, 1);
	/* Until its owner sets a deadline, the connection waits the default (opening). */
	c->deadline = be_stats_clock() + (uint64_t)STORE_WAIT_MS * 1000000u;
	sqlite3_busy_handler(c->db, busy_wait, c);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	/* secure_delete: freed space (a wiped key blob) is overwritten with zeros. */
	rc = exec_sql(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
		      " PRAGMA secure_delete = ON;", "set its connection options", e);
	if (rc == BE_OK && !writer)
		rc = exec_sql(c, "PRAGMA query_only = ON;", "set its connection options", e);
	if (rc != BE_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	conn_close(c);
	return rc;
}

/* Creates the file with mode 0600 (it holds kept key material) unless it exists. */
static int
file_precreate(const char *path, struct be_err *e)
{
	char buf[128] = "";
	int fd, rc = BE_OK;

	/* O_EXCL: never open (and close) a file this process may already hold open through
	 * SQLite — close() would drop all of the process's POSIX locks on it (fcntl(2)), and
	 * another process could then checkpoint and remove the WAL under us. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		goto out;
	if (fd < 0) {
		if (strerror_r(errno, buf, sizeof(buf)) != 0)
			snprintf(buf, sizeof(buf), "error %d", errno);
		rc = be_err_set(e, BE_E_IO, "the store %s could not be created: %s", path, buf);
		goto out;
	}
	close(fd);
out:
	return rc;
}

/* Applies the migration steps the database lacks, each in its own transaction; refuses a
 * database from a newer certgate. */
static int
migrate(struct conn *c, struct be_err *e)
{
	char sql[64];
	int64_t v = 0;
	size_t i;
	bool tx = false;
	int rc = BE_OK;

	for (;;) {
		if ((rc = exec_sql(c, "BEGIN IMMEDIATE", "begin a schema migration", e)) != BE_OK)
			goto out;
		tx = true;
		if ((rc = query_one(c, "PRAGMA user_version", &v, NULL, 0,
				    "read its schema version", e)) != BE_OK)
			goto out;
		if (v > SCHEMA_VERSION) {
			rc = be_err_set(e, BE_E_STORE, "store schema version %" PRId64 " is newer "
					"than this certgate (%d)", v, SCHEMA_VERSION);
			goto out;
		}
		for (i = 0; i < NMIGRATIONS && migrations[i].version <= v; i++)
			;
		if (i == NMIGRATIONS)
			break;
		if ((rc = exec_sql(c, migrations[i].sql, "migrate its schema", e)) != BE_OK)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", migrations[i].version);
		if ((rc = exec_sql(c, sql, "record its schema version", e)) != BE_OK)
			goto out;
		if ((rc = exec_sql(c, "COMMIT", "commit a schema migration", e)) != BE_OK)
			goto out;
		tx = false;
	}
	rc = exec_sql(c, "COMMIT", "end a schema check", e);
	tx = false;
out:
	if (tx && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---------------------------------------------------------------- checkpointer */

/* Looks up the free space of the store's file system: the WAL (frames long now) may hold a
 * STORE_WAL_SHARE'th of what it and the free space have together. */
static void
space_check(struct be_store *st, int frames)
{
	struct statvfs sv;
	uint64_t avail, limit;

	atomic_store(&st->sp_frames, frames);
	if (st->dir == NULL || statvfs(st->dir, &sv) != 0)
		return;
	avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize / 4096u;
	limit = (avail + (uint64_t)frames) / STORE_WAL_SHARE;
	if (limit < STORE_CHECKPOINT_MIN)
		limit = STORE_CHECKPOINT_MIN;
	atomic_store(&st->sp_limit, limit > INT32_MAX ? INT32_MAX : (int)limit);
}

/* SQLite calls this on the writer after each commit with the WAL's length in frames; it
 * takes the place of SQLite's own auto-checkpoint, which would run inside the commit and
 * make the batch wait for a second fsync.  The WAL is checkpointed at ck_pages frames, or
 * earlier (and truncated) when the disk has less room than STORE_WAL_SHARE times that. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct be_store *st = arg;
	int limit = atomic_load(&st->ck_pages), sp, low = 0;

	(void)db;
	(void)name;
	if (frames >= STORE_CHECKPOINT_MIN) {
		sp = atomic_load(&st->sp_frames);
		if (frames < sp || frames - sp >= STORE_SPACE_FRAMES)
			space_check(st, frames);
		if ((sp = atomic_load(&st->sp_limit)) < limit) {
			limit = sp;
			low = 1;
		}
	}
	if (frames >= limit) {
		pthread_mutex_lock(&st->ck_mu);
		st->ck_frames = frames;
		if (low)
			st->ck_truncate = true;
		pthread_cond_signal(&st->ck_cv);
		pthread_mutex_unlock(&st->ck_mu);
	}
	return SQLITE_OK;
}

/*
 * Copies the WAL into the database when it grows long.  A PASSIVE checkpoint never blocks
 * the writer or the readers, and once all of the WAL is copied the next write starts it
 * over.  Under a steady stream of commits the copy rarely catches up with the end of the
 * WAL at the moment a write begins, so when the WAL has grown past twice the threshold the
 * rest (by then a few pages and the database file's fsync) is copied under the write lock.
 * When space is short (wal_hook) or a write found the disk full (db_fail), the WAL is copied
 * and then truncated to nothing under the write lock (TRUNCATE), so that its space returns
 * to the file system; when that fails (the database file cannot grow either), the next
 * fault or /healthz asks again.
 */
static void *
checkpointer(void *arg)
{
	struct be_store *st = arg;
	int log = 0, done = 0;
	bool trunc;

	pthread_mutex_lock(&st->ck_mu);
	for (;;) {
		while (!st->ck_stop && !st->ck_truncate && st->ck_frames < st->ck_pages)
			pthread_cond_wait(&st->ck_cv, &st->ck_mu);
		if (st->ck_stop)
			break;
		st->ck_frames = 0;
		trunc = st->ck_truncate;
		st->ck_truncate = false;
		pthread_mutex_unlock(&st->ck_mu);
		if (sqlite3_wal_checkpoint_v2(st->ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
					      &done) == SQLITE_OK && (trunc ||
					      log > 2 * st->ck_pages)) {
			pthread_mutex_lock(&st->wmu);
			st->ck->deadline = op_deadline(st);
			(void)sqlite3_wal_checkpoint_v2(st->ck->db, NULL, trunc ?
							SQLITE_CHECKPOINT_TRUNCATE :
							SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			pthread_mutex_unlock(&st->wmu);
		}
		pthread_mutex_lock(&st->ck_mu);
	}
	pthread_mutex_unlock(&st->ck_mu);
	return NULL;
}

static int
checkpointer_start(struct be_store *st, const char *path, struct be_err *e)
{
	int rc;

	if ((rc = conn_open(path, true, &st->ck, e)) != BE_OK)
		goto out;
	st->ck->owner = st;
	if (pthread_create(&st->ck_thread, NULL, checkpointer, st) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "the store could not start its checkpointer");
		goto out;
	}
	st->ck_running = true;
	sqlite3_wal_hook(st->w->db, wal_hook, st);
out:
	return rc;
}

static void
checkpointer_stop(struct be_store *st)
{
	if (st->ck_running) {
		pthread_mutex_lock(&st->ck_mu);
		st->ck_stop = true;
		pthread_cond_signal(&st->ck_cv);
		pthread_mutex_unlock(&st->ck_mu);
		pthread_join(st->ck_thread, NULL);
		st->ck_running = false;
		sqlite3_wal_hook(st->w->db, NULL, NULL);
	}
	conn_close(st->ck);
	st->ck = NULL;
}

/* ---------------------------------------------------------------- open / close */

/* The length of the database's WAL file in 4 KiB pages (0 when there is none). */
static int64_t
wal_pages(const char *path)
{
	char wal[4096];
	struct stat sb;

	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) >= sizeof(wal) ||
	    stat(wal, &sb) != 0)
		return 0;
	return (int64_t)(sb.st_size / 4096);
}

/* The directory of path (where SQLite puts the WAL), for statvfs; caller frees. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int
be_store_open(const char *path, struct be_store **out, struct be_err *e)
{
	struct be_store *st = NULL;
	char mode[16] = "";
	int64_t v = 0, fk = 0;
	size_t i;
	int rc = BE_OK;

	*out = NULL;
	if (sqlite3_threadsafe() == 0) {
		rc = be_err_set(e, BE_E_STORE, "SQLite was built without thread support");
		goto out;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&st->wmu, NULL) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&st->rmu, NULL) != 0) {
		pthread_mutex_destroy(&st->wmu);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_cond_init(&st->rcv, NULL) != 0) {
		pthread_mutex_destroy(&st->rmu);
		pthread_mutex_destroy(&st->wmu);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	st->locks = true;
	if (pthread_mutex_init(&st->gmu, NULL) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	st->glocks = true;
	st->ck_pages = STORE_CHECKPOINT_PAGES;
	if (pthread_mutex_init(&st->ck_mu, NULL) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_cond_init(&st->ck_cv, NULL) != 0) {
		pthread_mutex_destroy(&st->ck_mu);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	st->ck_locks = true;
	st->gq_tail = &st->gq_head;
	st->wait_ms = STORE_WAIT_MS;
	st->sp_limit = INT32_MAX;
	if ((st->dir = dir_of(path)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = file_precreate(path, e)) != BE_OK)
		goto out;
	if ((rc = conn_open(path, true, &st->w, e)) != BE_OK)
		goto out;
	/* Refuse a newer schema before touching the file (journal_mode writes its header). */
	if ((rc = query_one(st->w, "PRAGMA user_version", &v, NULL, 0,
			    "read its schema version", e)) != BE_OK)
		goto out;
	if (v > SCHEMA_VERSION) {
		rc = be_err_set(e, BE_E_STORE, "store schema version %" PRId64 " is newer than "
				"this certgate (%d)", v, SCHEMA_VERSION);
		goto out;
	}
	if ((rc = query_one(st->w, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode),
			    "switch to write-ahead logging", e)) != BE_OK)
		goto out;
	if (strcmp(mode, "wal") != 0) {
		rc = be_err_set(e, BE_E_STORE, "the store %s could not switch to write-ahead "
				"logging (journal mode is %s)", path, mode);
		goto out;
	}
	if ((rc = migrate(st->w, e)) != BE_OK)
		goto out;
	if ((rc = query_one(st->w, "PRAGMA foreign_keys", &fk, NULL, 0,
			    "read its connection options", e)) != BE_OK)
		goto out;
	if (fk != 1) {
		rc = be_err_set(e, BE_E_STORE, "SQLite was built without foreign key support");
		goto out;
	}
	/* A WAL left long by a run that stopped on a full disk gives its space back now
	 * (best effort: a disk still full fails this, and writes answer 503 until it is not). */
	if (wal_pages(path) >= STORE_CHECKPOINT_MIN)
		(void)sqlite3_wal_checkpoint_v2(st->w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
						NULL);
	st->w->owner = st;
	for (i = 0; i < STORE_READERS; i++) {
		if ((rc = conn_open(path, false, &st->r[i], e)) != BE_OK)
			goto out;
		st->r[i]->owner = st;
		st->rfree[st->nfree++] = st->r[i];
	}
	if ((rc = checkpointer_start(st, path, e)) != BE_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	be_store_close(st);
	return rc;
}

void
be_store_set_checkpoint_pages(struct be_store *st, int pages)
{
	if (st != NULL && pages > 0 && pages <= (1 << 24))	/* 64 GiB of WAL; 2x fits an int */
		st->ck_pages = pages;
}

void
be_store_set_wait(struct be_store *st, unsigned ms)
{
	if (st != NULL && ms > 0 && ms <= 3600u * 1000u)
		atomic_store(&st->wait_ms, (int)ms);
}

void
be_store_deadline_begin(struct be_store *st)
{
	req_deadline = 0;
	if (st != NULL)
		req_deadline = op_deadline(st);
}

void
be_store_deadline_end(void)
{
	req_deadline = 0;
}

void
be_store_close(struct be_store *st)
{
	size_t i;

	if (st == NULL)
		return;
	checkpointer_stop(st);
	free(st->dir);
	for (i = 0; i < STORE_READERS; i++)
		conn_close(st->r[i]);
	conn_close(st->w);
	if (st->locks) {
		pthread_cond_destroy(&st->rcv);
		pthread_mutex_destroy(&st->rmu);
		pthread_mutex_destroy(&st->wmu);
	}
	if (st->glocks)
		pthread_mutex_destroy(&st->gmu);
	if (st->ck_locks) {
		pthread_cond_destroy(&st->ck_cv);
		pthread_mutex_destroy(&st->ck_mu);
	}
	free(st);
}

/* ---------------------------------------------------------------- connections */

static struct conn *
reader_get(struct be_store *st)
{
	struct conn *c;

	pthread_mutex_lock(&st->rmu);
	while (st->nfree == 0)
		pthread_cond_wait(&st->rcv, &st->rmu);
	c = st->rfree[--st->nfree];
	pthread_mutex_unlock(&st->rmu);
	c->deadline = op_deadline(st);
	return c;
}

static void
reader_put(struct be_store *st, struct conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&st->rmu);
	st->rfree[st->nfree++] = c;
	pthread_cond_signal(&st->rcv);
	pthread_mutex_unlock(&st->rmu);
}

/* Takes the in-process write lock, waiting until deadline (be_stats_clock) at most. */
static int
wmu_lock_until(struct be_store *st, uint64_t deadline, struct be_err *e)
{
	struct timespec ts;
	uint64_t now = be_stats_clock(), left;
	int r;

	if (pthread_mutex_trylock(&st->wmu) == 0)
		return BE_OK;
	left = deadline > now ? deadline - now : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000000000u);
	ts.tv_nsec += (long)(left % 1000000000u);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if ((r = pthread_mutex_timedlock(&st->wmu, &ts)) == 0)
		return BE_OK;
	be_stats_store_error();
	return be_err_set(e, BE_E_UNAVAILABLE, "the store could not begin a transaction: "
			  "%s (other writes held it for %d ms)", fault_reason(SQLITE_BUSY),
			  atomic_load(&st->wait_ms));
}

/* Takes the writer and opens BEGIN IMMEDIATE, waiting until deadline at most for the
 * write queue and another process's lock together; *out is NULL on failure. */
static int
wtx_begin_until(struct be_store *st, uint64_t deadline, struct conn **out, struct be_err *e)
{
	int rc;

	*out = NULL;
	if ((rc = wmu_lock_until(st, deadline, e)) != BE_OK)
		return rc;
	st->w->deadline = deadline;
	rc = stmt_exec(st->w, S_BEGIN_WRITE, "begin a transaction", e);
	if (rc != BE_OK) {
		pthread_mutex_unlock(&st->wmu);
		*out = NULL;
	} else {
		*out = st->w;
	}
	return rc;
}

/* wtx_begin_until this thread's deadline (op_deadline). */
static int
wtx_begin(struct be_store *st, struct conn **out, struct be_err *e)
{
	return wtx_begin_until(st, op_deadline(st), out, e);
}

/* Commits when rc is 0, else rolls back; releases the writer; returns the outcome. */
static int
wtx_end(struct be_store *st, struct conn *c, int rc, struct be_err *e)
{
	if (c != NULL) {
		if (rc == BE_OK)
			rc = stmt_exec(c, S_COMMIT, "commit", e);
		if (rc == BE_OK)
			atomic_store(&st->fault, 0);
		if (rc != BE_OK && !sqlite3_get_autocommit(c->db))
			stmt_exec(c, S_ROLLBACK, "roll back", NULL);
		pthread_mutex_unlock(&st->wmu);
	}
	return rc;
}

/* Best effort, after a commit that dropped key material: copy the WAL into the database
 * and truncate it, so the old pages do not linger in the log. */
static void
wal_purge(struct be_store *st)
{
	pthread_mutex_lock(&st->wmu);
	st->w->deadline = op_deadline(st);
	sqlite3_wal_checkpoint_v2(st->w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	pthread_mutex_unlock(&st->wmu);
}

/* A write that changes nothing: the schema version set to itself, committed. */
static int
probe_write(struct be_store *st, struct be_err *e)
{
	struct conn *c = NULL;
	char sql[64];
	int64_t v = 0;
	int rc;

	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = query_one(c, "PRAGMA user_version", &v, NULL, 0, "read its schema version",
			    e)) != BE_OK)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %" PRId64, v);
	rc = exec_sql(c, sql, "write", e);
out:
	return wtx_end(st, c, rc, e);
}

int
be_store_health(struct be_store *st, struct be_err *e)
{
	struct statvfs sv;
	struct conn *c = NULL;
	bool low;
	int rc = BE_OK;

	if (st == NULL) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no store");
		goto out;
	}
	if (sqlite3_db_readonly(st->w->db, "main") != 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "the store is read-only");
		goto out;
	}
	low = st->dir != NULL && statvfs(st->dir, &sv) == 0 &&
	      (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize < STORE_HEALTH_FREE;
	if (atomic_load(&st->fault) != 0 || low) {
		/* Space may have come back: give the WAL's back too, then see whether a
		 * write commits (which clears the fault). */
		if (atomic_load(&st->fault) == SQLITE_FULL)
			wal_purge(st);
		rc = probe_write(st, e);
		goto out;
	}
	if ((rc = wtx_begin(st, &c, e)) == BE_OK)
		wtx_end(st, c, BE_E_INTERNAL, NULL);	/* nothing written: no commit */
out:
	return rc;
}

const char *
be_store_fault(struct be_store *st)
{
	int kind = st != NULL ? atomic_load(&st->fault) : 0;

	return kind != 0 ? fault_reason(kind) : NULL;
}

bool
be_store_writable(struct be_store *st)
{
	struct conn *c = NULL;
	bool ok = false;

	if (st == NULL || sqlite3_db_readonly(st->w->db, "main") != 0)
		goto out;
	if (wtx_begin(st, &c, NULL) != BE_OK)
		goto out;
	ok = true;
	/* Nothing was written: end it without a commit's fsync. */
	wtx_end(st, c, BE_E_INTERNAL, NULL);
out:
	return ok;
}

/* ---------------------------------------------------------------- audit */

static int
audit_check(const struct be_audit_rec *a, struct be_err *e)
{
	int rc = BE_OK;

	if (a != NULL && (a->operation == NULL || a->outcome == NULL))
		rc = be_err_set(e, BE_E_INTERNAL, "an audit entry needs an operation and an "
				"outcome");
	return rc;
}

/* Appends a (may be NULL: nothing) inside the caller's transaction; serial, when not NULL,
 * replaces a->serial. */
static int
audit_insert(struct conn *c, const struct be_audit_rec *a, const char *serial, int64_t now,
	     struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, r, rc = BE_OK;

	if (a == NULL)
		goto out;
	if ((rc = stmt_get(c, S_AUDIT_INSERT, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, a->at != 0 ? a->at : now, &b);
	bind_text(s, 2, a->request_id, &b);
	bind_text(s, 3, a->adapter, &b);
	bind_text(s, 4, a->operation, &b);
	bind_text(s, 5, a->principal, &b);
	bind_text(s, 6, a->profile, &b);
	bind_text(s, 7, a->peer, &b);
	bind_text(s, 8, a->outcome, &b);
	bind_text(s, 9, a->reason, &b);
	bind_text(s, 10, serial != NULL ? serial : a->serial, &b);
	if (b != SQLITE_OK) {
		rc = db_fail(c, b, "record the audit entry", e);
		goto out;
	}
	r = sqlite3_step(s);
	if (r != SQLITE_DONE)
		rc = db_fail(c, r, "record the audit entry", e);
out:
	stmt_done(s);
	return rc;
}

int
be_store_audit(struct be_store *st, const struct be_audit_rec *a, struct be_err *e)
{
	struct conn *c = NULL;
	int rc;

	if (a == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "no audit entry was given");
		goto out;
	}
	if ((rc = audit_check(a, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	rc = audit_insert(c, a, NULL, now_s(), e);
out:
	return wtx_end(st, c, rc, e);
}

#define AUDIT_NSTR	9
#define AUDIT_BATCH	256

struct audit_row {
	struct be_audit_rec a;
	char *f[AUDIT_NSTR];	/* owned copies a's pointers point at */
};

static void
audit_rows_clear(struct audit_row *rows, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < AUDIT_NSTR; j++)
			free(rows[i].f[j]);
		memset(&rows[i], 0, sizeof(rows[i]));
	}
}

/* Copies at most want entries with id > after into rows (zeroed); *n tells how many. */
static int
audit_fetch(struct be_store *st, int64_t after, size_t want, struct audit_row *rows,
	    size_t *n, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct audit_row *row;
	const unsigned char *t;
	size_t j;
	int b = SQLITE_OK, r = SQLITE_DONE, rc;

	*n = 0;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_AUDIT_SCAN, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, after, &b);
	bind_int(s, 2, size_to_i64(want), &b);
	if (b != SQLITE_OK) {
		rc = db_fail(c, b, "read the audit log", e);
		goto out;
	}
	while (*n < want && (r = sqlite3_step(s)) == SQLITE_ROW) {
		row = &rows[(*n)++];
		row->a.id = sqlite3_column_int64(s, 0);
		row->a.at = sqlite3_column_int64(s, 1);
		for (j = 0; j < AUDIT_NSTR; j++) {
			t = sqlite3_column_text(s, (int)j + 2);
			if (t != NULL && (row->f[j] = strdup((const char *)t)) == NULL) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				goto out;
			}
		}
		row->a.request_id = row->f[0];
		row->a.adapter = row->f[1];
		row->a.operation = row->f[2];
		row->a.principal = row->f[3];
		row->a.profile = row->f[4];
		row->a.peer = row->f[5];
		row->a.outcome = row->f[6];
		row->a.reason = row->f[7];
		row->a.serial = row->f[8];
	}
	if (*n < want && r != SQLITE_DONE)
		rc = db_fail(c, r, "read the audit log", e);
out:
	stmt_done(s);
	reader_put(st, c);
	return rc;
}

int
be_store_audit_scan(struct be_store *st, int64_t after_id, size_t limit,
		    int (*cb)(const struct be_audit_rec *a, void *arg), void *arg,
		    struct be_err *e)
{
	struct audit_row *rows = NULL;
	size_t batch, want, n = 0, done = 0, i;
	int64_t after = after_id;
	int rc = BE_OK;

	if (limit == 0)
		limit = STORE_LIST_DEFAULT;
	batch = limit < AUDIT_BATCH ? limit : AUDIT_BATCH;
	if ((rows = calloc(batch, sizeof(*rows))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	/* Batches are copied out so that the callback runs without holding a connection. */
	while (rc == BE_OK && done < limit) {
		want = limit - done < batch ? limit - done : batch;
		rc = audit_fetch(st, after, want, rows, &n, e);
		for (i = 0; i < n && rc == BE_OK; i++)
			rc = cb(&rows[i].a, arg);
		if (n > 0)
			after = rows[n - 1].a.id;
		done += n;
		audit_rows_clear(rows, n);
		if (n < want)
			break;
	}
out:
	free(rows);
	return rc;
}

/* ---------------------------------------------------------------- row readers */

static int
col_str(sqlite3_stmt *s, int i, char **out, struct be_err *e)
{
	const unsigned char *t;
	int rc = BE_OK;

	*out = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		goto out;
	t = sqlite3_column_text(s, i);
	if (t == NULL || (*out = strdup((const char *)t)) == NULL)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	return rc;
}

static int
col_datum(sqlite3_stmt *s, int i, gnutls_datum_t *out, struct be_err *e)
{
	const void *p;
	int n, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	p = sqlite3_column_blob(s, i);
	n = sqlite3_column_bytes(s, i);
	if (p == NULL || n <= 0)
		goto out;
	if ((out->data = gnutls_malloc((size_t)n)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(out->data, p, (size_t)n);
	out->size = (unsigned)n;
out:
	return rc;
}

static int
col_fixed(sqlite3_stmt *s, int i, char *buf, size_t len, struct be_err *e)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = t != NULL ? (size_t)sqlite3_column_bytes(s, i) : 0;
	int rc = BE_OK;

	if (t == NULL || n >= len) {
		rc = be_err_set(e, BE_E_STORE, "the store holds a malformed certificate row");
		goto out;
	}
	memcpy(buf, t, n + 1);
out:
	return rc;
}

static void
cert_rec_clear(struct be_cert_rec *r)
{
	free(r->subject);
	free(r->profile);
	free(r->principal);
	be_datum_free(&r->der);
	be_datum_wipe(&r->key_blob);
	memset(r, 0, sizeof(*r));
}

void
be_cert_rec_free(struct be_cert_rec *rec)
{
	if (rec == NULL)
		return;
	cert_rec_clear(rec);
	free(rec);
}

void
be_cert_recs_free(struct be_cert_rec *recs, size_t n)
{
	size_t i;

	if (recs == NULL)
		return;
	for (i = 0; i < n; i++)
		cert_rec_clear(&recs[i]);
	free(recs);
}

/* Fills r (zeroed) from a row of CERT_COLS; on failure the caller clears r. */
static int
cert_from_row(sqlite3_stmt *s, struct be_cert_rec *r, struct be_err *e)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	if ((rc = col_fixed(s, 1, r->issuer, sizeof(r->issuer), e)) != BE_OK ||
	    (rc = col_fixed(s, 2, r->serial, sizeof(r->serial), e)) != BE_OK ||
	    (rc = col_str(s, 3, &r->subject, e)) != BE_OK ||
	    (rc = col_str(s, 4, &r->profile, e)) != BE_OK ||
	    (rc = col_str(s, 5, &r->principal, e)) != BE_OK)
		goto out;
	r->not_before = sqlite3_column_int64(s, 6);
	r->not_after = sqlite3_column_int64(s, 7);
	r->issued_at = sqlite3_column_int64(s, 8);
	if (cert_status_parse((const char *)sqlite3_column_text(s, 9), &r->status) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the store holds a malformed certificate row");
		goto out;
	}
	r->reason = sqlite3_column_type(s, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 10);
	r->revoked_at = sqlite3_column_int64(s, 11);
	r->request_id = sqlite3_column_int64(s, 12);
	r->deleted = sqlite3_column_int(s, 13) != 0;
	if ((rc = col_datum(s, 14, &r->der, e)) != BE_OK ||
	    (rc = col_datum(s, 15, &r->key_blob, e)) != BE_OK)
		goto out;
out:
	return rc;
}

static void
req_rec_clear(struct be_req_rec *r)
{
	free(r->profile);
	free(r->principal);
	free(r->adapter);
	free(r->idem_key);
	free(r->data);
	free(r->reason);
	be_datum_free(&r->csr_der);
	memset(r, 0, sizeof(*r));
}

void
be_req_rec_free(struct be_req_rec *rec)
{
	if (rec == NULL)
		return;
	req_rec_clear(rec);
	free(rec);
}

void
be_req_recs_free(struct be_req_rec *recs, size_t n)
{
	size_t i;

	if (recs == NULL)
		return;
	for (i = 0; i < n; i++)
		req_rec_clear(&recs[i]);
	free(recs);
}

/* Fills r (zeroed) from a row of REQ_COLS; on failure the caller clears r. */
static int
req_from_row(sqlite3_stmt *s, struct be_req_rec *r, struct be_err *e)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	if ((rc = col_str(s, 1, &r->profile, e)) != BE_OK ||
	    (rc = col_str(s, 2, &r->principal, e)) != BE_OK ||
	    (rc = col_str(s, 3, &r->adapter, e)) != BE_OK ||
	    (rc = col_str(s, 4, &r->idem_key, e)) != BE_OK)
		goto out;
	if (req_status_parse((const char *)sqlite3_column_text(s, 5), &r->status) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the store holds a malformed request row");
		goto out;
	}
	r->approvals_needed = (unsigned)sqlite3_column_int64(s, 6);
	r->approvals = (unsigned)sqlite3_column_int64(s, 7);
	r->created_at = sqlite3_column_int64(s, 8);
	r->updated_at = sqlite3_column_int64(s, 9);
	r->cert_id = sqlite3_column_int64(s, 10);
	if ((rc = col_datum(s, 11, &r->csr_der, e)) != BE_OK ||
	    (rc = col_str(s, 12, &r->data, e)) != BE_OK ||
	    (rc = col_str(s, 13, &r->reason, e)) != BE_OK)
		goto out;
out:
	return rc;
}

/* ---------------------------------------------------------------- state lookups in a transaction */

struct cert_state {
	enum be_cert_status status;
	char serial[41];
	bool deleted;
	bool has_key;
};

static int
cert_state(struct conn *c, int64_t id, struct cert_state *cs, struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, r, rc;

	if ((rc = stmt_get(c, S_CERT_STATE, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate id %" PRId64 " not found", id);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "read the certificate", e);
		goto out;
	}
	if (cert_status_parse((const char *)sqlite3_column_text(s, 0), &cs->status) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the store holds a malformed certificate row");
		goto out;
	}
	if ((rc = col_fixed(s, 1, cs->serial, sizeof(cs->serial), e)) != BE_OK)
		goto out;
	cs->deleted = sqlite3_column_int(s, 2) != 0;
	cs->has_key = sqlite3_column_int(s, 3) != 0;
out:
	stmt_done(s);
	return rc;
}

static int
req_state(struct conn *c, int64_t id, enum be_req_status *status, int64_t *needed,
	  struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, r, rc;

	if ((rc = stmt_get(c, S_REQ_STATE, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "request %" PRId64 " not found", id);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "read the request", e);
		goto out;
	}
	if (req_status_parse((const char *)sqlite3_column_text(s, 0), status) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "the store holds a malformed request row");
		goto out;
	}
	*needed = sqlite3_column_int64(s, 1);
out:
	stmt_done(s);
	return rc;
}

/* Steps a write statement the caller has bound (b is the outcome of the binds). */
static int
step_write(struct conn *c, sqlite3_stmt *s, int b, const char *doing, struct be_err *e)
{
	int r, rc = BE_OK;

	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r != SQLITE_DONE)
		rc = db_fail(c, r, doing, e);
	return rc;
}

/* ---------------------------------------------------------------- certificates */

/* One caller's certificate in a group commit: what be_store_cert_insert validated, and
 * what the leader reports back.  Lives on the caller's stack until done. */
struct gc_item {
	struct be_cert_rec *rec;		/* borrowed */
	const struct be_audit_rec *audit;	/* borrowed, may be NULL */
	char issuer[sizeof(((struct be_cert_rec *)0)->issuer)];
	char serial[sizeof(((struct be_cert_rec *)0)->serial)];
	int64_t now, issued_at;
	uint64_t deadline;			/* the caller's (op_deadline) */
	int64_t id;				/* set when written */
	int rc;
	struct be_err err;
	bool done;				/* guarded by gmu */
	pthread_cond_t cv;			/* the owner waits here: done, or lead */
	struct gc_item *next;
};

/* Writes the item's rows in the open write transaction on c (the caller wraps it in a
 * SAVEPOINT): the request check and update, the certificate, the audit row. */
static int
cert_insert_one(struct conn *c, struct gc_item *it, struct be_err *e)
{
	const struct be_cert_rec *rec = it->rec;
	sqlite3_stmt *s = NULL;
	enum be_req_status rs;
	int64_t needed = 0;
	int b = SQLITE_OK, r, rc = BE_OK;

	if (rec->request_id != 0) {
		if ((rc = req_state(c, rec->request_id, &rs, &needed, e)) != BE_OK)
			goto out;
		if (rs == BE_REQ_PENDING && needed > 0) {
			rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " is PENDING and still "
					"needs approval", rec->request_id);
			goto out;
		}
		if (rs != BE_REQ_APPROVED && rs != BE_REQ_PENDING) {
			rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " is %s, not APPROVED",
					rec->request_id, be_req_status_name(rs));
			goto out;
		}
	}

	if ((rc = stmt_get(c, S_CERT_EXISTS, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, it->issuer, &b);
	bind_text(s, 2, it->serial, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	stmt_done(s);
	s = NULL;
	if (r == SQLITE_ROW) {
		rc = be_err_set(e, BE_E_CONFLICT, "certificate %s of issuer %s exists already",
				it->serial, it->issuer);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "look for the serial number", e);
		goto out;
	}

	if ((rc = stmt_get(c, S_CERT_INSERT, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, it->issuer, &b);
	bind_text(s, 2, it->serial, &b);
	bind_text(s, 3, rec->subject, &b);
	bind_text(s, 4, rec->profile, &b);
	bind_text(s, 5, rec->principal, &b);
	bind_int(s, 6, rec->not_before, &b);
	bind_int(s, 7, rec->not_after, &b);
	bind_int(s, 8, it->issued_at, &b);
	bind_text(s, 9, be_cert_status_name(rec->status), &b);
	bind_int_or_null(s, 10, rec->reason, rec->status == BE_CERT_VALID || rec->reason < 0,
			 &b);
	bind_int_or_null(s, 11, rec->revoked_at, rec->revoked_at == 0, &b);
	bind_int_or_null(s, 12, rec->request_id, rec->request_id == 0, &b);
	bind_int(s, 13, rec->deleted ? 1 : 0, &b);
	bind_datum(s, 14, &rec->der, &b);
	bind_datum(s, 15, &rec->key_blob, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		rc = be_err_set(e, BE_E_CONFLICT, "certificate %s of issuer %s exists already "
				"(%s)", it->serial, it->issuer, sqlite3_errmsg(c->db));
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "insert the certificate", e);
		goto out;
	}
	stmt_done(s);
	s = NULL;
	it->id = sqlite3_last_insert_rowid(c->db);

	if (rec->request_id != 0) {
		if ((rc = stmt_get(c, S_REQ_ISSUE, &s, e)) != BE_OK)
			goto out;
		bind_int(s, 1, rec->request_id, &b);
		bind_int(s, 2, it->id, &b);
		bind_int(s, 3, it->now, &b);
		if ((rc = step_write(c, s, b, "complete the request", e)) != BE_OK)
			goto out;
		stmt_done(s);
		s = NULL;
	}
	rc = audit_insert(c, it->audit, it->serial, it->now, e);
out:
	stmt_done(s);
	return rc;
}

/* Fails every item of batch from `from` on that has not failed yet with code and msg. */
static void
gc_fail(struct gc_item *from, int code, const char *msg)
{
	struct gc_item *it;

	for (it = from; it != NULL; it = it->next) {
		if (it->rc != BE_OK)
			continue;
		it->rc = be_err_set(&it->err, code, "%s", msg);
	}
}

/* Writes batch in the open transaction on c, each item inside its own SAVEPOINT so that a
 * failing item is undone alone.  Returns 0 when the transaction may be committed (the
 * items with rc 0 are in it), else the error that ended it (every item failed). */
static int
gc_isolated(struct conn *c, struct gc_item *batch)
{
	struct gc_item *it;
	struct be_err e = { 0, "" };
	int rc;

	for (it = batch; it != NULL; it = it->next) {
		if ((rc = stmt_exec(c, S_SAVEPOINT, "begin a savepoint", &it->err)) == BE_OK &&
		    (rc = cert_insert_one(c, it, &it->err)) == BE_OK &&
		    (rc = stmt_exec(c, S_RELEASE, "release a savepoint", &it->err)) == BE_OK)
			continue;
		it->rc = rc;
		/* Undo this item's rows only; the transaction goes on. */
		if (!sqlite3_get_autocommit(c->db) &&
		    stmt_exec(c, S_ROLLBACK_TO, "roll back a savepoint", NULL) == BE_OK &&
		    stmt_exec(c, S_RELEASE, "release a savepoint", NULL) == BE_OK)
			continue;
		/* SQLite rolled the whole transaction back (or the savepoint cannot be undone):
		 * nothing of this batch will be committed. */
		rc = rc == BE_E_UNAVAILABLE ? rc : BE_E_STORE;
		be_err_set(&e, rc, "the store lost a write transaction: %s", it->err.msg);
		gc_fail(batch, rc, e.msg);
		return rc;
	}
	return BE_OK;
}

/*
 * The leader's work: the batch in one transaction and one COMMIT.  Rows rarely fail (a
 * duplicate serial is a 2^-64 event), so the batch is first written plainly; when an item
 * of a batch of several fails, the transaction is rolled back and the batch written again
 * with a SAVEPOINT around each item (gc_isolated).  Afterwards every item's rc and err say
 * how it went; only items with rc 0 are durable.
 */
static void
gc_write(struct be_store *st, struct gc_item *batch)
{
	struct conn *c = NULL;
	struct gc_item *it;
	struct be_err e = { 0, "" };
	bool isolate = false;
	uint64_t deadline = UINT64_MAX;
	int rc;

	/* The batch waits no longer than its most impatient caller. */
	for (it = batch; it != NULL; it = it->next)
		if (it->deadline < deadline)
			deadline = it->deadline;
again:
	for (it = batch; it != NULL; it = it->next) {
		it->rc = BE_OK;
		it->id = 0;
		be_err_clear(&it->err);
	}
	if ((rc = wtx_begin_until(st, deadline, &c, &e)) != BE_OK) {
		gc_fail(batch, rc, e.msg);
		return;
	}
	if (isolate) {
		rc = gc_isolated(c, batch);
	} else {
		for (it = batch; it != NULL; it = it->next) {
			if ((rc = cert_insert_one(c, it, &it->err)) == BE_OK)
				continue;
			it->rc = rc;
			if (batch->next != NULL) {
				/* Undo everyone's rows; write them again one savepoint each. */
				wtx_end(st, c, rc, NULL);
				c = NULL;
				isolate = true;
				goto again;
			}
			break;	/* alone: its failure is the transaction's */
		}
	}
	be_err_clear(&e);
	rc = wtx_end(st, c, rc, &e);
	if (rc != BE_OK)
		gc_fail(batch, rc, e.msg);
}

/* Queues it and returns when a leader (possibly this thread) has written it.  Each waiter
 * sleeps on its own condition variable and is woken exactly when its item is done, or when
 * it heads the queue and nobody leads. */
static void
gc_submit(struct be_store *st, struct gc_item *it)
{
	struct gc_item *batch, *next;

	pthread_cond_init(&it->cv, NULL);
	pthread_mutex_lock(&st->gmu);
	it->next = NULL;
	*st->gq_tail = it;
	st->gq_tail = &it->next;
	while (!it->done) {
		if (st->gleader) {
			pthread_cond_wait(&it->cv, &st->gmu);
			continue;
		}
		/* Lead: everything queued so far (this item among it) goes in one commit. */
		st->gleader = true;
		batch = st->gq_head;
		st->gq_head = NULL;
		st->gq_tail = &st->gq_head;
		pthread_mutex_unlock(&st->gmu);

		gc_write(st, batch);

		pthread_mutex_lock(&st->gmu);
		for (; batch != NULL; batch = next) {
			next = batch->next;
			batch->done = true;
			if (batch != it)
				pthread_cond_signal(&batch->cv);	/* its owner returns */
		}
		st->gleader = false;
		if (st->gq_head != NULL)
			pthread_cond_signal(&st->gq_head->cv);	/* the next leader */
	}
	pthread_mutex_unlock(&st->gmu);
	pthread_cond_destroy(&it->cv);
}

int
be_store_cert_insert(struct be_store *st, struct be_cert_rec *rec,
		     const struct be_audit_rec *audit, struct be_err *e)
{
	struct gc_item it;
	int rc;

	memset(&it, 0, sizeof(it));
	if ((rc = issuer_canon(rec->issuer, sizeof(rec->issuer), it.issuer, sizeof(it.issuer),
			       e)) != BE_OK)
		goto out;
	if (strnlen(rec->serial, sizeof(rec->serial)) == sizeof(rec->serial)) {
		rc = be_err_set(e, BE_E_MALFORMED, "serial number is longer than 20 octets");
		goto out;
	}
	if ((rc = serial_canon(rec->serial, it.serial, e)) != BE_OK)
		goto out;
	if (rec->der.data == NULL || rec->der.size == 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "certificate %s has no DER encoding", it.serial);
		goto out;
	}
	if (!cert_status_valid((int)rec->status)) {
		rc = be_err_set(e, BE_E_INTERNAL, "certificate %s has an unknown status %d",
				it.serial, (int)rec->status);
		goto out;
	}
	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	it.rec = rec;
	it.audit = audit;
	it.now = now_s();
	it.issued_at = rec->issued_at != 0 ? rec->issued_at : it.now;
	it.deadline = op_deadline(st);

	gc_submit(st, &it);

	if ((rc = it.rc) != BE_OK) {
		be_err_set(e, rc, "%s", it.err.msg);
		goto out;
	}
	rec->id = it.id;
	rec->issued_at = it.issued_at;
	memcpy(rec->issuer, it.issuer, sizeof(it.issuer));
	memcpy(rec->serial, it.serial, sizeof(it.serial));
out:
	return rc;
}

/* Reads at most two rows of a bound certificate query on c into *out; *nrows tells how
 * many rows there were (0, 1 or 2). */
static int
cert_query(struct conn *c, sqlite3_stmt *s, int b, struct be_cert_rec **out, int *nrows,
	   struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	int r, rc = BE_OK;

	*nrows = 0;
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "read the certificate", e);
		goto out;
	}
	*nrows = 1;
	if ((rec = calloc(1, sizeof(*rec))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = cert_from_row(s, rec, e)) != BE_OK)
		goto out;
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*nrows = 2;
	else if (r != SQLITE_DONE)
		rc = db_fail(c, r, "read the certificate", e);
out:
	stmt_done(s);
	if (rc == BE_OK) {
		*out = rec;
		rec = NULL;
	}
	be_cert_rec_free(rec);
	return rc;
}

int
be_store_cert_get(struct be_store *st, const char *issuer, const char *serial,
		  struct be_cert_rec **out, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct be_cert_rec *rec = NULL;
	char iss[sizeof(rec->issuer)], ser[sizeof(rec->serial)];
	int b = SQLITE_OK, n = 0, rc;

	*out = NULL;
	if ((rc = issuer_canon(issuer, 256, iss, sizeof(iss), e)) != BE_OK ||
	    (rc = serial_canon(serial, ser, e)) != BE_OK)
		goto out;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_CERT_BY_ISSUER_SERIAL, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, iss, &b);
	bind_text(s, 2, ser, &b);
	if ((rc = cert_query(c, s, b, &rec, &n, e)) != BE_OK)
		goto out;
	if (n == 0) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate %s of issuer %s not found", ser,
				iss);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	reader_put(st, c);
	be_cert_rec_free(rec);
	return rc;
}

int
be_store_cert_get_id(struct be_store *st, int64_t id, struct be_cert_rec **out,
		     struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct be_cert_rec *rec = NULL;
	int b = SQLITE_OK, n = 0, rc;

	*out = NULL;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_CERT_BY_ID, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	if ((rc = cert_query(c, s, b, &rec, &n, e)) != BE_OK)
		goto out;
	if (n == 0) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate id %" PRId64 " not found", id);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	reader_put(st, c);
	be_cert_rec_free(rec);
	return rc;
}

int
be_store_cert_get_serial(struct be_store *st, const char *serial, struct be_cert_rec **out,
			 struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct be_cert_rec *rec = NULL;
	char ser[sizeof(rec->serial)];
	int b = SQLITE_OK, n = 0, rc;

	*out = NULL;
	if ((rc = serial_canon(serial, ser, e)) != BE_OK)
		goto out;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_CERT_BY_SERIAL, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, ser, &b);
	if ((rc = cert_query(c, s, b, &rec, &n, e)) != BE_OK)
		goto out;
	if (n == 0) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate %s not found", ser);
		goto out;
	}
	if (n > 1) {
		rc = be_err_set(e, BE_E_CONFLICT, "serial number %s is used by more than one "
				"issuer; name the issuer too", ser);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	reader_put(st, c);
	be_cert_rec_free(rec);
	return rc;
}

/* Appends src to buf (of size len, holding *used bytes and a NUL). */
static void
sql_append(char *buf, size_t len, size_t *used, const char *src)
{
	size_t n = strlen(src);

	if (*used + n >= len)
		n = len - *used - 1;
	memcpy(buf + *used, src, n);
	*used += n;
	buf[*used] = '\0';
}

/* The cached list (count false) or count (count true) statement for a filter mask. */
static int
list_stmt(struct conn *c, unsigned mask, bool count, sqlite3_stmt **out, struct be_err *e)
{
	sqlite3_stmt **slot = count ? &c->count[mask] : &c->list[mask];
	char sql[1024];
	size_t used = 0;
	unsigned i;
	bool first = true;
	int r, rc = BE_OK;

	if (*slot != NULL)
		goto out;
	sql[0] = '\0';
	sql_append(sql, sizeof(sql), &used, count ? "SELECT count(*) FROM certificates"
						  : "SELECT " CERT_COLS " FROM certificates");
	for (i = 0; i < F__COUNT; i++) {
		if ((mask & (1u << i)) == 0)
			continue;
		sql_append(sql, sizeof(sql), &used, first ? " WHERE " : " AND ");
		sql_append(sql, sizeof(sql), &used, filter_sql[i]);
		first = false;
	}
	if (!count)
		sql_append(sql, sizeof(sql), &used, " ORDER BY id LIMIT :limit OFFSET :offset");
	r = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
	if (r != SQLITE_OK) {
		*slot = NULL;
		rc = db_fail(c, r, "prepare a statement", e);
	}
out:
	*out = *slot;
	return rc;
}

static void
list_bind(sqlite3_stmt *s, const struct be_cert_filter *f, const char *serial, int *b)
{
	bind_named_text(s, ":serial", serial, b);
	bind_named_text(s, ":profile", f->profile, b);
	bind_named_text(s, ":principal", f->principal, b);
	if (cert_status_valid(f->status))
		bind_named_text(s, ":status", be_cert_status_name(f->status), b);
	bind_named_int(s, ":expired_before", f->expired_before, b);
	bind_named_int(s, ":valid_after", f->valid_after, b);
}

int
be_store_cert_list(struct be_store *st, const struct be_cert_filter *f,
		   struct be_cert_rec **out, size_t *n, size_t *total, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct be_cert_rec *recs = NULL, *tmp;
	char serial[41] = "";
	size_t cnt = 0, cap = 0, limit;
	unsigned mask = 0;
	bool tx = false;
	int b = SQLITE_OK, r, rc = BE_OK;

	*out = NULL;
	*n = 0;
	if (total != NULL)
		*total = 0;
	if (f->serial != NULL) {
		if ((rc = serial_canon(f->serial, serial, e)) != BE_OK)
			goto out;
		mask |= 1u << F_SERIAL;
	}
	if (f->profile != NULL)
		mask |= 1u << F_PROFILE;
	if (f->principal != NULL)
		mask |= 1u << F_PRINCIPAL;
	if (f->status != -1) {
		if (!cert_status_valid(f->status)) {
			rc = be_err_set(e, BE_E_MALFORMED, "certificate status %d is unknown",
					f->status);
			goto out;
		}
		mask |= 1u << F_STATUS;
	}
	if (!f->include_deleted)
		mask |= 1u << F_LIVE;
	if (f->expired_before != 0)
		mask |= 1u << F_EXPIRED_BEFORE;
	if (f->valid_after != 0)
		mask |= 1u << F_VALID_AFTER;
	limit = f->limit == 0 ? STORE_LIST_DEFAULT : f->limit;
	if (limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;

	c = reader_get(st);
	/* One read transaction: the page and the total come from the same snapshot. */
	if ((rc = stmt_exec(c, S_BEGIN_READ, "begin reading", e)) != BE_OK)
		goto out;
	tx = true;
	if ((rc = list_stmt(c, mask, false, &s, e)) != BE_OK)
		goto out;
	list_bind(s, f, serial, &b);
	bind_named_int(s, ":limit", size_to_i64(limit), &b);
	bind_named_int(s, ":offset", size_to_i64(f->offset), &b);
	if (b != SQLITE_OK) {
		rc = db_fail(c, b, "list certificates", e);
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((tmp = realloc(recs, cap * sizeof(*recs))) == NULL) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				goto out;
			}
			recs = tmp;
		}
		rc = cert_from_row(s, &recs[cnt], e);
		cnt++;
		if (rc != BE_OK)
			goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "list certificates", e);
		goto out;
	}
	stmt_done(s);
	s = NULL;
	if (total != NULL) {
		if ((rc = list_stmt(c, mask, true, &s, e)) != BE_OK)
			goto out;
		list_bind(s, f, serial, &b);
		r = b != SQLITE_OK ? b : sqlite3_step(s);
		if (r != SQLITE_ROW) {
			rc = db_fail(c, r, "count certificates", e);
			goto out;
		}
		*total = (size_t)sqlite3_column_int64(s, 0);
	}
out:
	stmt_done(s);
	if (tx)
		stmt_exec(c, S_COMMIT, "end reading", NULL);
	reader_put(st, c);
	if (rc == BE_OK) {
		*out = recs;
		*n = cnt;
		recs = NULL;
	} else if (total != NULL) {
		*total = 0;
	}
	be_cert_recs_free(recs, cnt);
	return rc;
}

static bool
revocation_reason_valid(int reason)
{
	/* RFC 5280 5.3.1: certificateHold (6) is the hold status, 7 is unused and
	 * removeFromCRL (8) only appears in delta CRLs. */
	return (reason >= 0 && reason <= 5) || reason == 9 || reason == 10;
}

int
be_store_cert_set_status(struct be_store *st, int64_t id, enum be_cert_status status,
			 int reason, const struct be_audit_rec *audit, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct cert_state cs;
	int64_t now = now_s();
	int b = SQLITE_OK, rc;

	if (!cert_status_valid((int)status)) {
		rc = be_err_set(e, BE_E_MALFORMED, "certificate status %d is unknown",
				(int)status);
		goto out;
	}
	if (status == BE_CERT_REVOKED && !revocation_reason_valid(reason)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%d is not a CRLReason a certificate can be "
				"revoked with (RFC 5280 5.3.1)", reason);
		goto out;
	}
	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = cert_state(c, id, &cs, e)) != BE_OK)
		goto out;
	if (cs.status == BE_CERT_REVOKED) {
		rc = be_err_set(e, BE_E_STATE, "certificate %s is revoked, which is final",
				cs.serial);
		goto out;
	}
	if (cs.status == status) {
		rc = be_err_set(e, BE_E_STATE, "certificate %s is already %s", cs.serial,
				status == BE_CERT_HOLD ? "on hold" : be_cert_status_name(status));
		goto out;
	}
	if ((rc = stmt_get(c, S_CERT_SET_STATUS, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	bind_text(s, 2, be_cert_status_name(status), &b);
	if (status == BE_CERT_VALID)
		bind_int_or_null(s, 3, 0, true, &b);
	else
		bind_int(s, 3, status == BE_CERT_HOLD ? CRL_REASON_HOLD : reason, &b);
	bind_int(s, 4, now, &b);
	if ((rc = step_write(c, s, b, "change the certificate's status", e)) != BE_OK)
		goto out;
	stmt_done(s);
	s = NULL;
	rc = audit_insert(c, audit, cs.serial, now, e);
out:
	stmt_done(s);
	return wtx_end(st, c, rc, e);
}

/* Overwrites certificate id's kept key material with zeros in the current transaction. */
static int
key_zero(struct conn *c, int64_t id, struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, rc;

	if ((rc = stmt_get(c, S_CERT_KEY_ZERO, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	rc = step_write(c, s, b, "wipe the kept key", e);
out:
	stmt_done(s);
	return rc;
}

int
be_store_cert_set_key(struct be_store *st, int64_t id, const gnutls_datum_t *blob,
		      const struct be_audit_rec *audit, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct cert_state cs;
	bool dropped = false;
	int b = SQLITE_OK, rc;

	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = cert_state(c, id, &cs, e)) != BE_OK)
		goto out;
	if (cs.deleted) {
		rc = be_err_set(e, BE_E_STATE, "certificate %s is deleted", cs.serial);
		goto out;
	}
	if (cs.has_key) {
		if ((rc = key_zero(c, id, e)) != BE_OK)
			goto out;
		dropped = true;
	}
	if ((rc = stmt_get(c, S_CERT_SET_KEY, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	bind_datum(s, 2, blob, &b);
	if ((rc = step_write(c, s, b, "store the kept key", e)) != BE_OK)
		goto out;
	stmt_done(s);
	s = NULL;
	rc = audit_insert(c, audit, cs.serial, now_s(), e);
out:
	stmt_done(s);
	rc = wtx_end(st, c, rc, e);
	if (rc == BE_OK && dropped)
		wal_purge(st);
	return rc;
}

int
be_store_cert_delete(struct be_store *st, int64_t id, const struct be_audit_rec *audit,
		     struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct cert_state cs;
	bool dropped = false;
	int b = SQLITE_OK, rc;

	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = cert_state(c, id, &cs, e)) != BE_OK)
		goto out;
	if (cs.deleted) {
		rc = be_err_set(e, BE_E_STATE, "certificate %s is already deleted", cs.serial);
		goto out;
	}
	if (cs.has_key) {
		if ((rc = key_zero(c, id, e)) != BE_OK)
			goto out;
		dropped = true;
	}
	if ((rc = stmt_get(c, S_CERT_DELETE, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	if ((rc = step_write(c, s, b, "delete the certificate", e)) != BE_OK)
		goto out;
	stmt_done(s);
	s = NULL;
	rc = audit_insert(c, audit, cs.serial, now_s(), e);
out:
	stmt_done(s);
	rc = wtx_end(st, c, rc, e);
	if (rc == BE_OK && dropped)
		wal_purge(st);
	return rc;
}

int
be_store_cert_count(struct be_store *st, int64_t *out, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int r, rc;

	*out = 0;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_CERT_COUNT, &s, e)) != BE_OK)
		goto out;
	r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "count certificates", e);
		goto out;
	}
	*out = sqlite3_column_int64(s, 0);
out:
	stmt_done(s);
	reader_put(st, c);
	return rc;
}

/* ---------------------------------------------------------------- requests */

int
be_store_req_insert(struct be_store *st, struct be_req_rec *rec,
		    const struct be_audit_rec *audit, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int64_t now = now_s(), created = 0, id = 0;
	int b = SQLITE_OK, r, rc;

	if (rec->profile == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "a request needs a profile");
		goto out;
	}
	if (!req_status_valid((int)rec->status)) {
		rc = be_err_set(e, BE_E_INTERNAL, "request status %d is unknown",
				(int)rec->status);
		goto out;
	}
	if (rec->status == BE_REQ_ISSUED) {
		rc = be_err_set(e, BE_E_STATE, "a request becomes ISSUED only with its "
				"certificate");
		goto out;
	}
	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	created = rec->created_at != 0 ? rec->created_at : now;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = stmt_get(c, S_REQ_INSERT, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, rec->profile, &b);
	bind_text(s, 2, rec->principal, &b);
	bind_text(s, 3, rec->adapter, &b);
	bind_text(s, 4, rec->idem_key, &b);
	bind_text(s, 5, be_req_status_name(rec->status), &b);
	bind_int(s, 6, rec->approvals_needed, &b);
	bind_int(s, 7, created, &b);
	bind_int(s, 8, now, &b);
	bind_datum(s, 9, &rec->csr_der, &b);
	bind_text(s, 10, rec->data, &b);
	bind_text(s, 11, rec->reason, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		rc = be_err_set(e, BE_E_CONFLICT, "profile %s already has an open request with "
				"this idempotency key", rec->profile);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "insert the request", e);
		goto out;
	}
	stmt_done(s);
	s = NULL;
	id = sqlite3_last_insert_rowid(c->db);
	rc = audit_insert(c, audit, NULL, now, e);
out:
	stmt_done(s);
	rc = wtx_end(st, c, rc, e);
	if (rc == BE_OK) {
		rec->id = id;
		rec->created_at = created;
		rec->updated_at = now;
		rec->approvals = 0;
		rec->cert_id = 0;
	}
	return rc;
}

/* Reads one request row of a bound statement on c; BE_E_NOTFOUND (no sentence) if none. */
static int
req_query(struct conn *c, sqlite3_stmt *s, int b, struct be_req_rec **out, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	int r, rc = BE_OK;

	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_DONE) {
		rc = BE_E_NOTFOUND;
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "read the request", e);
		goto out;
	}
	if ((rec = calloc(1, sizeof(*rec))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = req_from_row(s, rec, e)) != BE_OK)
		goto out;
	*out = rec;
	rec = NULL;
out:
	stmt_done(s);
	be_req_rec_free(rec);
	return rc;
}

int
be_store_req_get(struct be_store *st, int64_t id, struct be_req_rec **out, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, rc;

	*out = NULL;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_REQ_BY_ID, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	rc = req_query(c, s, b, out, e);
	if (rc == BE_E_NOTFOUND)
		be_err_set(e, rc, "request %" PRId64 " not found", id);
out:
	reader_put(st, c);
	return rc;
}

int
be_store_req_find(struct be_store *st, const char *profile, const char *idem_key,
		  struct be_req_rec **out, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, rc;

	*out = NULL;
	if (profile == NULL || idem_key == NULL) {
		rc = be_err_set(e, BE_E_NOTFOUND, "no open request with this idempotency key");
		goto out;
	}
	c = reader_get(st);
	if ((rc = stmt_get(c, S_REQ_FIND, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, profile, &b);
	bind_text(s, 2, idem_key, &b);
	rc = req_query(c, s, b, out, e);
	if (rc == BE_E_NOTFOUND)
		be_err_set(e, rc, "profile %s has no open request with this idempotency key",
			   profile);
out:
	reader_put(st, c);
	return rc;
}

static int
req_set_status(struct conn *c, int64_t id, enum be_req_status to, const char *reason,
	       int64_t now, struct be_err *e)
{
	sqlite3_stmt *s = NULL;
	int b = SQLITE_OK, r, rc;

	if ((rc = stmt_get(c, S_REQ_SET_STATUS, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	bind_text(s, 2, be_req_status_name(to), &b);
	bind_text(s, 3, reason, &b);
	bind_int(s, 4, now, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT_UNIQUE)
		rc = be_err_set(e, BE_E_CONFLICT, "request %" PRId64 " cannot become %s: "
				"another open request has its idempotency key", id,
				be_req_status_name(to));
	else if (r != SQLITE_DONE)
		rc = db_fail(c, r, "change the request's status", e);
out:
	stmt_done(s);
	return rc;
}

int
be_store_req_transition(struct be_store *st, int64_t id, enum be_req_status from,
			enum be_req_status to, const char *reason,
			const struct be_audit_rec *audit, struct be_err *e)
{
	struct conn *c = NULL;
	enum be_req_status cur;
	int64_t needed = 0, now = now_s();
	int rc;

	if (!req_status_valid((int)from) || !req_status_valid((int)to)) {
		rc = be_err_set(e, BE_E_INTERNAL, "request status %d is unknown",
				req_status_valid((int)from) ? (int)to : (int)from);
		goto out;
	}
	if (to == BE_REQ_ISSUED) {
		rc = be_err_set(e, BE_E_STATE, "a request becomes ISSUED only with its "
				"certificate");
		goto out;
	}
	if (from == BE_REQ_ISSUED) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " cannot leave ISSUED", id);
		goto out;
	}
	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = req_state(c, id, &cur, &needed, e)) != BE_OK)
		goto out;
	if (cur != from) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " is %s, not %s", id,
				be_req_status_name(cur), be_req_status_name(from));
		goto out;
	}
	if ((rc = req_set_status(c, id, to, reason, now, e)) != BE_OK)
		goto out;
	rc = audit_insert(c, audit, NULL, now, e);
out:
	return wtx_end(st, c, rc, e);
}

int
be_store_req_approve(struct be_store *st, int64_t id, const char *approver,
		     const struct be_audit_rec *audit, bool *approved, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	enum be_req_status cur;
	int64_t needed = 0, count = 0, now = now_s();
	bool done = false;
	int b = SQLITE_OK, r, rc;

	if (approved != NULL)
		*approved = false;
	if (approver == NULL || approver[0] == '\0') {
		rc = be_err_set(e, BE_E_INTERNAL, "an approval needs the approver's identity");
		goto out;
	}
	if ((rc = audit_check(audit, e)) != BE_OK)
		goto out;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	if ((rc = req_state(c, id, &cur, &needed, e)) != BE_OK)
		goto out;
	if (cur != BE_REQ_PENDING) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " is %s, not PENDING", id,
				be_req_status_name(cur));
		goto out;
	}
	if ((rc = stmt_get(c, S_APPROVAL_INSERT, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	bind_text(s, 2, approver, &b);
	bind_int(s, 3, now, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		rc = be_err_set(e, BE_E_CONFLICT, "%.128s has already approved request %" PRId64,
				approver, id);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "record the approval", e);
		goto out;
	}
	stmt_done(s);
	s = NULL;
	if ((rc = stmt_get(c, S_APPROVAL_COUNT, &s, e)) != BE_OK)
		goto out;
	bind_int(s, 1, id, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "count the approvals", e);
		goto out;
	}
	count = sqlite3_column_int64(s, 0);
	stmt_done(s);
	s = NULL;
	if (count >= needed) {
		if ((rc = req_set_status(c, id, BE_REQ_APPROVED, NULL, now, e)) != BE_OK)
			goto out;
		done = true;
	}
	rc = audit_insert(c, audit, NULL, now, e);
out:
	stmt_done(s);
	rc = wtx_end(st, c, rc, e);
	if (rc == BE_OK && approved != NULL)
		*approved = done;
	return rc;
}

int
be_store_req_list(struct be_store *st, int status, size_t offset, size_t limit,
		  struct be_req_rec **out, size_t *n, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	struct be_req_rec *recs = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	int b = SQLITE_OK, r, rc = BE_OK;

	*out = NULL;
	*n = 0;
	if (status != -1 && !req_status_valid(status)) {
		rc = be_err_set(e, BE_E_MALFORMED, "request status %d is unknown", status);
		goto out;
	}
	if (limit == 0)
		limit = STORE_LIST_DEFAULT;
	if (limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	c = reader_get(st);
	if ((rc = stmt_get(c, status == -1 ? S_REQ_LIST_ALL : S_REQ_LIST_STATUS, &s, e)) !=
	    BE_OK)
		goto out;
	bind_int(s, 1, size_to_i64(limit), &b);
	bind_int(s, 2, size_to_i64(offset), &b);
	if (status != -1)
		bind_text(s, 3, be_req_status_name((enum be_req_status)status), &b);
	if (b != SQLITE_OK) {
		rc = db_fail(c, b, "list requests", e);
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((tmp = realloc(recs, cap * sizeof(*recs))) == NULL) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				goto out;
			}
			recs = tmp;
		}
		rc = req_from_row(s, &recs[cnt], e);
		cnt++;
		if (rc != BE_OK)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_fail(c, r, "list requests", e);
out:
	stmt_done(s);
	reader_put(st, c);
	if (rc == BE_OK) {
		*out = recs;
		*n = cnt;
		recs = NULL;
	}
	be_req_recs_free(recs, cnt);
	return rc;
}

/* ---------------------------------------------------------------- OCSP status (be_ocsp.c) */

int
be_store_cert_status(struct be_store *st, const char *issuer, const char *serial,
		     struct be_cert_status_rec *out, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	char iss[65], ser[41];
	int b = SQLITE_OK, r, rc;

	memset(out, 0, sizeof(*out));
	out->reason = -1;
	if ((rc = issuer_canon(issuer, 256, iss, sizeof(iss), e)) != BE_OK ||
	    (rc = serial_canon(serial, ser, e)) != BE_OK)
		goto out;
	c = reader_get(st);
	if ((rc = stmt_get(c, S_OCSP_STATUS, &s, e)) != BE_OK)
		goto out;
	bind_text(s, 1, iss, &b);
	bind_text(s, 2, ser, &b);
	r = b != SQLITE_OK ? b : sqlite3_step(s);
	if (r == SQLITE_DONE) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate %s of issuer %s not found", ser,
				iss);
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "read the certificate status", e);
		goto out;
	}
	out->id = sqlite3_column_int64(s, 0);
	if (cert_status_parse((const char *)sqlite3_column_text(s, 1), &out->status) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "certificate %s: unknown status in the store", ser);
		goto out;
	}
	if (sqlite3_column_type(s, 2) != SQLITE_NULL)
		out->reason = sqlite3_column_int(s, 2);
	out->revoked_at = sqlite3_column_int64(s, 3);
out:
	stmt_done(s);
	reader_put(st, c);
	return rc;
}

/* ---------------------------------------------------------------- CRL state (schema 3) */

int
be_store_crl_state(struct be_store *st, const char *issuer, int64_t *changes, int64_t *number,
		   struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int r, rc = BE_OK;

	*changes = *number = 0;
	c = reader_get(st);
	r = sqlite3_prepare_v2(c->db, "SELECT changes, number FROM crl_state WHERE issuer = ?1",
			       -1, &s, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_bind_text(s, 1, issuer, -1, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*changes = sqlite3_column_int64(s, 0);
		*number = sqlite3_column_int64(s, 1);
	} else if (r != SQLITE_DONE) {
		rc = db_fail(c, r, "read the CRL state", e);
	}
	sqlite3_finalize(s);
	reader_put(st, c);
	return rc;
}

int
be_store_crl_next_number(struct be_store *st, const char *issuer, int64_t *number,
			 struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	int r, rc;

	*number = 0;
	if ((rc = wtx_begin(st, &c, e)) != BE_OK)
		goto out;
	r = sqlite3_prepare_v2(c->db, "INSERT INTO crl_state (issuer, number) VALUES (?1, 1)"
			       " ON CONFLICT (issuer) DO UPDATE SET number = number + 1"
			       " RETURNING number", -1, &s, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_bind_text(s, 1, issuer, -1, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_step(s);
	if (r != SQLITE_ROW) {
		rc = db_fail(c, r, "count the CRL number up", e);
		goto out;
	}
	*number = sqlite3_column_int64(s, 0);
	r = sqlite3_step(s);
	if (r != SQLITE_DONE)
		rc = db_fail(c, r, "count the CRL number up", e);
out:
	sqlite3_finalize(s);
	return wtx_end(st, c, rc, e);
}

int
be_store_crl_scan(struct be_store *st, const char *issuer, int64_t expired_before,
		  int (*cb)(const char *serial, enum be_cert_status status, int reason,
			    int64_t revoked_at, void *arg),
		  void *arg, struct be_err *e)
{
	struct conn *c = NULL;
	sqlite3_stmt *s = NULL;
	enum be_cert_status status;
	int r, rc = BE_OK;

	c = reader_get(st);
	/* One read transaction: the snapshot of one moment, however long the scan. */
	r = sqlite3_prepare_v2(c->db, "SELECT serial, status, reason, revoked_at FROM certificates"
			       " INDEXED BY certificates_revoked"
			       " WHERE issuer = ?1 AND status <> 'valid' AND not_after >= ?2",
			       -1, &s, NULL);
	if (r == SQLITE_OK)
		r = sqlite3_bind_text(s, 1, issuer, -1, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_bind_int64(s, 2, expired_before);
	if (r != SQLITE_OK) {
		rc = db_fail(c, r, "read the revoked certificates", e);
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *serial = (const char *)sqlite3_column_text(s, 0);
		const char *t = (const char *)sqlite3_column_text(s, 1);

		if (serial == NULL || t == NULL || cert_status_parse(t, &status) != BE_OK) {
			rc = be_err_set(e, BE_E_STORE, "store: a revoked certificate row is damaged");
			goto out;
		}
		rc = cb(serial, status, sqlite3_column_type(s, 2) == SQLITE_NULL ? 0 :
			sqlite3_column_int(s, 2), sqlite3_column_int64(s, 3), arg);
		if (rc != BE_OK)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = db_fail(c, r, "read the revoked certificates", e);
out:
	sqlite3_finalize(s);
	reader_put(st, c);
	return rc;
}
