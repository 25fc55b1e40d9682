/*
 * The durable store: issued certificates, requests with their approvals, and the
 * append-only audit log.  SQLite (WAL, synchronous=FULL, versioned schema via
 * PRAGMA user_version); the interface is what a PostgreSQL implementation would also offer.
 *
 * Every function is safe to call from several threads at once.  Writes that must be
 * atomic together (a certificate and its audit entry; a certificate and the request it
 * completes) happen in one transaction, committed before the function returns.
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
	char issuer[64];		/* issuing CA's subjectKeyIdentifier, lower-case hex */
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
/* True when the store answers a write (for /healthz). */
bool be_store_writable(struct be_store *st);

/* Inserts rec (borrowed) and, in the same transaction, the audit entry (borrowed, may be
 * NULL).  When rec->request_id is set the request must be APPROVED or PENDING with
 * approvals_needed == 0, and becomes ISSUED with cert_id in that transaction; otherwise
 * BE_E_STATE and nothing is written (so one request yields one certificate however many
 * threads race).  A duplicate (issuer, serial) is BE_E_CONFLICT and nothing is written.
 * Sets rec->id and rec->issued_at (when 0).  Durable on return. */
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
 * be_cert_recs_free(*out, n).  *total, when not NULL, receives the count ignoring paging. */
int be_store_cert_list(struct be_store *st, const struct be_cert_filter *f,
		       struct be_cert_rec **out, size_t *n, size_t *total, struct be_err *e);

/* Changes the status of certificate id with the audit entry, atomically.
 * VALID -> REVOKED or HOLD; HOLD -> REVOKED or VALID (reactivation); REVOKED is final:
 * BE_E_STATE.  reason is the CRLReason (ignored for VALID). */
int be_store_cert_set_status(struct be_store *st, int64_t id, enum be_cert_status status,
			     int reason, const struct be_audit_rec *audit, struct be_err *e);
/* Stores (or with an empty blob drops) kept key material of certificate id. */
int be_store_cert_set_key(struct be_store *st, int64_t id, const gnutls_datum_t *blob,
			  const struct be_audit_rec *audit, struct be_err *e);
/* Hides certificate id and wipes its kept key material; the row and audit stay. */
int be_store_cert_delete(struct be_store *st, int64_t id, const struct be_audit_rec *audit,
			 struct be_err *e);
/* Number of certificate rows (for tests and the benchmark). */
int be_store_cert_count(struct be_store *st, int64_t *out, struct be_err *e);

void be_cert_rec_free(struct be_cert_rec *rec);
void be_cert_recs_free(struct be_cert_rec *recs, size_t n);

/* Inserts a request (borrowed) with its audit entry; sets rec->id. */
int be_store_req_insert(struct be_store *st, struct be_req_rec *rec,
			const struct be_audit_rec *audit, struct be_err *e);
int be_store_req_get(struct be_store *st, int64_t id, struct be_req_rec **out,
		     struct be_err *e);
/* The newest request of profile with idem_key that is not CANCELLED/REJECTED/EXPIRED/FAILED;
 * BE_E_NOTFOUND. */
int be_store_req_find(struct be_store *st, const char *profile, const char *idem_key,
		      struct be_req_rec **out, struct be_err *e);
/* Moves request id from status `from` to `to` atomically with the audit entry; BE_E_STATE
 * when it is not in `from` any more. reason may be NULL. */
int be_store_req_transition(struct be_store *st, int64_t id, enum be_req_status from,
			    enum be_req_status to, const char *reason,
			    const struct be_audit_rec *audit, struct be_err *e);
/* Records approver's approval of request id (once per approver: a repeat is BE_E_CONFLICT).
 * When the count reaches approvals_needed the request moves PENDING -> APPROVED in the same
 * transaction.  *approved (may be NULL) tells whether it is now APPROVED. BE_E_STATE when
 * the request is not PENDING. */
int be_store_req_approve(struct be_store *st, int64_t id, const char *approver,
			 const struct be_audit_rec *audit, bool *approved, struct be_err *e);
/* Requests in a status (or -1 for all), id order, paging as for certificates. */
int be_store_req_list(struct be_store *st, int status, size_t offset, size_t limit,
		      struct be_req_rec **out, size_t *n, struct be_err *e);
void be_req_rec_free(struct be_req_rec *rec);
void be_req_recs_free(struct be_req_rec *recs, size_t n);

/* Appends an audit entry on its own. */
int be_store_audit(struct be_store *st, const struct be_audit_rec *a, struct be_err *e);

/* Audit entries with id > after_id, oldest first, at most limit; callback gets each
 * (borrowed for the duration of the call).  For the CLI and tests. */
int be_store_audit_scan(struct be_store *st, int64_t after_id, size_t limit,
			int (*cb)(const struct be_audit_rec *a, void *arg), void *arg,
			struct be_err *e);

const char *be_req_status_name(enum be_req_status s);	/* "PENDING", ... */
const char *be_cert_status_name(enum be_cert_status s);	/* "valid", "revoked", "hold" */

#endif
