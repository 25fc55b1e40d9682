/*
 * The durable store: issued certificates, requests with their approvals, and the
 * append-only audit log.  SQLite (WAL, synchronous=FULL, versioned schema via
 * PRAGMA user_version); the interface is what a PostgreSQL implementation would also offer.
 *
 * Every function is safe to call from several threads at once.  Writes that must be
 * atomic together (a certificate and its audit entry; a certificate and the request it
 * completes) happen in one transaction, committed before the function returns.
 *
 * Errors common to all functions: BE_E_STORE (with SQLite's message) when the database
 * fails, BE_E_UNAVAILABLE when another process holds its write lock for longer than the
 * busy timeout, BE_E_NOMEM.  Every write function takes an audit entry (may be NULL: none)
 * that is written in the same transaction; an entry needs operation and outcome
 * (BE_E_INTERNAL otherwise).  For functions concerning one certificate the audit row's
 * serial is that certificate's canonical serial, whatever audit->serial says.
 */
#ifndef CERTGATE_BE_STORE_H
#define CERTGATE_BE_STORE_H

#include "be.h"

struct be_store;

enum be_cert_status {
	BE_CERT_VALID = 0,
	BE_CERT_REVOKED,	/* final */
	BE_CERT_HOLD,		/* revoked with reason certificateHold; may be reactivated */
};

struct be_cert_rec {
	int64_t id;			/* set by the store */
	char issuer[65];		/* issuing CA's subjectKeyIdentifier, lower-case hex
					 * (up to 32 octets, e.g. RFC 7093 SHA-256 key ids) */
	char serial[41];		/* serial, lower-case hex without leading zero octets */
	char *subject;			/* RFC 4514 string */
	char *profile;
	char *principal;
	int64_t not_before, not_after;	/* seconds since the epoch */
	int64_t issued_at;
	enum be_cert_status status;
	int reason;			/* RFC 5280 5.3.1 CRLReason when revoked/hold, else -1 */
	int64_t revoked_at;		/* 0 when valid */
	int64_t request_id;		/* 0 when issued without a stored request */
	bool deleted;			/* hidden by an administrator ("deletecert") */
	gnutls_datum_t der;		/* the certificate */
	gnutls_datum_t key_blob;	/* kept, encrypted key material (e.g. PKCS#12); empty if none */
};

enum be_req_status {
	BE_REQ_PENDING = 0,	/* waiting for approvals */
	BE_REQ_APPROVED,	/* approvals complete, not yet issued */
	BE_REQ_ISSUED,		/* certificate issued: cert_id set */
	BE_REQ_REJECTED,
	BE_REQ_CANCELLED,
	BE_REQ_EXPIRED,
	BE_REQ_FAILED,
};

struct be_req_rec {
	int64_t id;			/* set by the store */
	char *profile;
	char *principal;		/* who asked */
	char *adapter;			/* "est", "sesam", ... */
	char *idem_key;			/* hex digest identifying a repeated request, may be NULL */
	enum be_req_status status;
	unsigned approvals_needed;
	unsigned approvals;		/* approvals recorded so far (read only) */
	int64_t created_at, updated_at;
	int64_t cert_id;		/* when ISSUED */
	gnutls_datum_t csr_der;		/* the client's CSR, may be empty */
	char *data;			/* JSON text of the normalised request, may be NULL */
	char *reason;			/* why rejected/failed, may be NULL */
};

struct be_audit_rec {
	int64_t id;			/* set by the store */
	int64_t at;			/* set by the store when 0 */
	const char *request_id;		/* the HTTP request id, may be NULL */
	const char *adapter;		/* "est", "sesam", "tsb", "iot", "cli" */
	const char *operation;		/* "simpleenroll", "gencert", "revoke", ... */
	const char *principal;		/* may be NULL for anonymous */
	const char *profile;		/* may be NULL */
	const char *peer;		/* client address, may be NULL */
	const char *outcome;		/* "issued", "refused", "pending", "approved", "revoked", "error", ... */
	const char *reason;		/* the human sentence; never a secret */
	const char *serial;		/* hex, when a certificate is concerned */
};

/* Opens (creating and migrating as needed) the database at path.  *out is a new handle the
 * caller closes with be_store_close().  BE_E_STORE / BE_E_IO with a sentence on failure. */
int be_store_open(const char *path, struct be_store **out, struct be_err *e);
void be_store_close(struct be_store *st);
/* The WAL length (frames, 1..2^24; others are ignored) at which the checkpointer copies it
 * into the database; beyond twice that it finishes under the write lock.  The default suits
 * issuance (be_store.c says why); tests set a small one to watch the checkpointer work. */
void be_store_set_checkpoint_pages(struct be_store *st, int pages);
/* True when the store answers a write (for /healthz). */
bool be_store_writable(struct be_store *st);
/* Health for /healthz: 0 when a write transaction can begin (and, after a fault or while
 * free space is under 1 MiB, a real write commits, which also ends the fault), else
 * BE_E_UNAVAILABLE with a sentence naming the reason (disk full, I/O error, database busy).
 * After a full disk it first asks for the WAL to be truncated. */
int be_store_health(struct be_store *st, struct be_err *e);
/* The fault that failed the last write ("disk full", "I/O error"), NULL when there is none
 * (a write committed since, or none failed).  A static string.  Thread-safe. */
const char *be_store_fault(struct be_store *st);

/* How long (ms, 1 .. 3600000; default 5000) a request may wait for the store in all: the
 * in-process write queue and another process's lock together.  Past it the write fails with
 * BE_E_UNAVAILABLE ("database busy").  Thread-safe. */
void be_store_set_wait(struct be_store *st, unsigned ms);
/* Starts this thread's request deadline: every store call until be_store_deadline_end
 * waits until now + st's wait at most, in all.  Without one, each call gets its own wait.
 * st may be NULL (no deadline). */
void be_store_deadline_begin(struct be_store *st);
void be_store_deadline_end(void);

/* Inserts rec (borrowed) and, in the same transaction, the audit entry (borrowed, may be
 * NULL).  When rec->request_id is set the request must be APPROVED or PENDING with
 * approvals_needed == 0, and becomes ISSUED with cert_id in that transaction; otherwise
 * BE_E_STATE and nothing is written (so one request yields one certificate however many
 * threads race).  A duplicate (issuer, serial) is BE_E_CONFLICT and nothing is written.
 * BE_E_MALFORMED for an issuer or serial that is not hex (colons allowed) or a serial over
 * 20 octets.  Sets rec->id and rec->issued_at (when 0) and rewrites rec->issuer and
 * rec->serial in canonical form.  Durable on return. */
int be_store_cert_insert(struct be_store *st, struct be_cert_rec *rec,
			 const struct be_audit_rec *audit, struct be_err *e);

/* Looks a certificate up by issuer and hex serial (case-insensitive, leading zeros ignored),
 * or by id.  *out is a new record the caller frees with be_cert_rec_free(); BE_E_NOTFOUND.
 * Deleted records are found too (rec->deleted tells). */
int be_store_cert_get(struct be_store *st, const char *issuer, const char *serial,
		      struct be_cert_rec **out, struct be_err *e);
int be_store_cert_get_id(struct be_store *st, int64_t id, struct be_cert_rec **out,
			 struct be_err *e);
/* By serial alone, any issuer (the vendor APIs name certificates by serial only);
 * BE_E_CONFLICT if two issuers share it. */
int be_store_cert_get_serial(struct be_store *st, const char *serial, struct be_cert_rec **out,
			     struct be_err *e);

struct be_cert_filter {
	const char *serial;		/* exact, may be NULL */
	const char *profile;		/* may be NULL */
	const char *principal;		/* may be NULL */
	int status;			/* enum be_cert_status, or -1 for any */
	bool include_deleted;
	int64_t expired_before;		/* not_after < this when non-zero */
	int64_t valid_after;		/* not_after >= this when non-zero */
	size_t offset, limit;		/* limit 0 = 100 */
};

/* Records matching f in id order.  *out is a new array of n records the caller frees with
 * be_cert_recs_free(*out, n) (NULL when n is 0).  *total, when not NULL, receives the count
 * ignoring paging, from the same snapshot.  limit is capped at 1000; BE_E_MALFORMED for a
 * serial that is not hex or an unknown status. */
int be_store_cert_list(struct be_store *st, const struct be_cert_filter *f,
		       struct be_cert_rec **out, size_t *n, size_t *total, struct be_err *e);

/* Changes the status of certificate id with the audit entry, atomically.
 * VALID -> REVOKED or HOLD; HOLD -> REVOKED or VALID (reactivation); REVOKED is final:
 * BE_E_STATE, as is a change to the status it already has.  reason is the CRLReason for
 * REVOKED: 0-5, 9 or 10, else BE_E_MALFORMED; HOLD always records certificateHold (6);
 * ignored for VALID.  revoked_at is set on REVOKED / HOLD, kept from the hold when a
 * certificate on hold is revoked, and cleared on reactivation.  Deleted certificates can
 * still be revoked. */
int be_store_cert_set_status(struct be_store *st, int64_t id, enum be_cert_status status,
			     int reason, const struct be_audit_rec *audit, struct be_err *e);
/* Stores (or with an empty blob drops) kept key material of certificate id; the old blob
 * is overwritten with zeros first.  BE_E_STATE when the certificate is deleted. */
int be_store_cert_set_key(struct be_store *st, int64_t id, const gnutls_datum_t *blob,
			  const struct be_audit_rec *audit, struct be_err *e);
/* Hides certificate id and wipes its kept key material (zeros, then NULL, with SQLite's
 * secure_delete on and the WAL truncated after the commit); the row and audit stay.
 * BE_E_STATE when it is deleted already. */
int be_store_cert_delete(struct be_store *st, int64_t id, const struct be_audit_rec *audit,
			 struct be_err *e);
/* Number of certificate rows (for tests and the benchmark). */
int be_store_cert_count(struct be_store *st, int64_t *out, struct be_err *e);

void be_cert_rec_free(struct be_cert_rec *rec);
void be_cert_recs_free(struct be_cert_rec *recs, size_t n);

/* Inserts a request (borrowed) with its audit entry; sets rec->id, created_at (when 0)
 * and updated_at.  rec->profile is required; rec->status may be anything but ISSUED
 * (BE_E_STATE: a request becomes ISSUED only through be_store_cert_insert).  BE_E_CONFLICT
 * when idem_key is set and the profile already has an open (PENDING, APPROVED or ISSUED)
 * request with it, so racing duplicates store one request; be_store_req_find it then. */
int be_store_req_insert(struct be_store *st, struct be_req_rec *rec,
			const struct be_audit_rec *audit, struct be_err *e);
int be_store_req_get(struct be_store *st, int64_t id, struct be_req_rec **out,
		     struct be_err *e);
/* The newest request of profile with idem_key that is not CANCELLED/REJECTED/EXPIRED/FAILED;
 * BE_E_NOTFOUND. */
int be_store_req_find(struct be_store *st, const char *profile, const char *idem_key,
		      struct be_req_rec **out, struct be_err *e);
/* Moves request id from status `from` to `to` atomically with the audit entry; BE_E_STATE
 * when it is not in `from` any more ("request 7 is REJECTED, not PENDING"), and when `to`
 * is ISSUED or `from` is ISSUED (final).  reason may be NULL (keeps the old one). */
int be_store_req_transition(struct be_store *st, int64_t id, enum be_req_status from,
			    enum be_req_status to, const char *reason,
			    const struct be_audit_rec *audit, struct be_err *e);
/* Records approver's approval of request id (once per approver: a repeat is BE_E_CONFLICT).
 * When the count reaches approvals_needed the request moves PENDING -> APPROVED in the same
 * transaction.  *approved (may be NULL) tells whether it is now APPROVED. BE_E_STATE when
 * the request is not PENDING. */
int be_store_req_approve(struct be_store *st, int64_t id, const char *approver,
			 const struct be_audit_rec *audit, bool *approved, struct be_err *e);
/* Requests in a status (or -1 for all), id order, paging as for certificates (limit 0 =
 * 100, at most 1000). */
int be_store_req_list(struct be_store *st, int status, size_t offset, size_t limit,
		      struct be_req_rec **out, size_t *n, struct be_err *e);
void be_req_rec_free(struct be_req_rec *rec);
void be_req_recs_free(struct be_req_rec *recs, size_t n);

/* Appends an audit entry on its own. */
int be_store_audit(struct be_store *st, const struct be_audit_rec *a, struct be_err *e);

/* Audit entries with id > after_id, oldest first, at most limit (0 = 100); callback gets
 * each (borrowed for the duration of the call).  Entries are read in batches and the
 * callback runs with no store lock held, so it may call the store; a non-zero return stops
 * the scan and is returned.  For the CLI and tests. */
int be_store_audit_scan(struct be_store *st, int64_t after_id, size_t limit,
			int (*cb)(const struct be_audit_rec *a, void *arg), void *arg,
			struct be_err *e);

/* ---------------------------------------------------------------- OCSP status (be_ocsp.c) */

/* What an OCSP answer needs of one certificate, nothing more (one indexed read). */
struct be_cert_status_rec {
	int64_t id;
	enum be_cert_status status;
	int reason;			/* CRLReason when revoked / hold, else -1 */
	int64_t revoked_at;		/* 0 when valid */
};

/* The status of the certificate issuer (SKI hex) issued with hex serial, into *out
 * (caller's).  BE_E_NOTFOUND when the store has no such certificate; BE_E_MALFORMED for an
 * issuer or serial that is not hex or a serial over 20 octets.  Deleted records count. */
int be_store_cert_status(struct be_store *st, const char *issuer, const char *serial,
			 struct be_cert_status_rec *out, struct be_err *e);
/* CRL state of issuer (schema 3): *changes counts the status changes of its certificates
 * (bumped by a trigger in the changing transaction, whoever made it), *number the last
 * cRLNumber handed out; both 0 for an issuer never seen. */
int be_store_crl_state(struct be_store *st, const char *issuer, int64_t *changes,
		       int64_t *number, struct be_err *e);
/* Hands out issuer's next cRLNumber (1, 2, ...: RFC 5280 5.2.3 monotonic), durable on return. */
int be_store_crl_next_number(struct be_store *st, const char *issuer, int64_t *number,
			     struct be_err *e);
/* Calls cb for every certificate of issuer that is revoked or on hold and whose not_after
 * is >= expired_before (RFC 5280 5.1.2.6 allows an entry to go once the certificate has
 * expired), from one snapshot.  serial is hex (borrowed for the call); reason the stored
 * CRLReason.  cb runs with a store connection held: it must not call the store.  A non-zero
 * return from cb stops the scan and is returned. */
int be_store_crl_scan(struct be_store *st, const char *issuer, int64_t expired_before,
		      int (*cb)(const char *serial, enum be_cert_status status, int reason,
				int64_t revoked_at, void *arg),
		      void *arg, struct be_err *e);

const char *be_req_status_name(enum be_req_status s);	/* "PENDING", ... */
const char *be_cert_status_name(enum be_cert_status s);	/* "valid", "revoked", "hold" */

#endif
