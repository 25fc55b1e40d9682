/*
 * The request lifecycle (DESIGN.md "One request lifecycle"): one normalised record for every
 * request that waits for a decision, whichever front end made it, and the one set of rules
 * by which any front end, the CLI or a console shows, matches, approves, rejects, cancels,
 * expires and issues it.
 *
 *   PENDING --approve (quorum)--> APPROVED --be_issue (once)--> ISSUED
 *      |  \                          |
 *      |   reject / cancel           reject / cancel
 *      |        \                    |
 *      +--age--> EXPIRED      REJECTED / CANCELLED
 *
 * The record (be_req_rec.data) is JSON the backend writes and reads; adapters never parse
 * it.  Its shape (version 2):
 *   {"v":2, "operation":"simpleenroll", "key":"csr"|"public_key"|"server",
 *    "public_key":"-----BEGIN PUBLIC KEY-----..."   (key "public_key"; a CSR is in csr_der),
 *    "key_type":"p256",                              (key "server": the key to generate),
 *    "subject":[["CN","dev-1"],...], "san":[["dns","a.example"],...]  (absent: the CSR's),
 *    "validity_days":0,
 *    "output":{"key_format":"pkcs12", "key_syntax":"pkcs8", "chain":true},
 *    "adapter_data":{...}}                           (what the front end shows; never used)
 * It never holds a secret: PKCS#12 passwords are given when the request is issued.
 */
#ifndef CERTGATE_BE_REQUEST_H
#define CERTGATE_BE_REQUEST_H

#include "be_issue.h"

/* How long an open (PENDING or APPROVED) request waits before it expires, unless
 * be_ctx.request_ttl says otherwise. */
#define BE_REQUEST_TTL_DEFAULT (30 * 86400)

/* Roles that may decide (approve, reject) requests: the administrators. */
#define BE_REQUEST_DECIDERS (BE_ROLE_RO_ADMIN | BE_ROLE_CA_ADMIN)

/* The retry key of req: SHA-256 (hex) over what the request means — profile, principal,
 * where the key comes from and the public key itself (SubjectPublicKeyInfo, never a
 * signature), the key type to generate, the subject and SANs asked for (SANs in any order)
 * and the validity — so a client that signs its CSR again (ECDSA signatures are randomised)
 * finds its request.  out must hold 65 octets. */
int be_request_match_key(const struct be_request *req, char *out, size_t outlen,
			 struct be_err *e);

/* The normalised record of req (see above) as JSON text; *out malloc()ed, caller frees. */
int be_request_record(const struct be_request *req, char **out, struct be_err *e);

/* A stored request made ready for be_issue: req points into this struct and its record.
 * The caller sets req.adapter, operation, request_id, peer (who acts now), the requester's
 * roles in req.principal.roles, and the output (key_fmt, p12_password) when it collects a
 * server-generated key; req.approved_request is the request's id. */
struct be_request_stored {
	struct be_req_rec *rec;		/* owned */
	struct be_request req;
	struct be_csr *csr;		/* owned */
	gnutls_pubkey_t pubkey;		/* owned */
	struct be_name subject;
	struct be_sans sans;
	char *operation;		/* owned: the operation that made the request */
	json_t *adapter_data;		/* owned, may be NULL */
};

/* Loads request id and its record.  BE_E_NOTFOUND ("no request 7"), BE_E_STATE when the
 * record is not a version-2 record or its profile is gone.  Caller clears *out with
 * be_request_stored_clear() in any case. */
int be_request_load(struct be_ctx *ctx, int64_t id, struct be_request_stored *out,
		    struct be_err *e);
void be_request_stored_clear(struct be_request_stored *s);

/* Records op->principal's approval of request id; *approved (may be NULL) tells whether the
 * quorum is now complete (APPROVED).  Refused, with one audit entry naming op->principal:
 * BE_E_FORBIDDEN (no decider role), BE_E_NOTFOUND, BE_E_STATE (not PENDING — also when
 * another approver completed it first — or expired now), BE_E_CONFLICT (this approver
 * approved it already).  Success is audited "approved" in the same transaction. */
int be_request_approve(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		       bool *approved, struct be_err *e);
/* Closes request id (PENDING or APPROVED) as REJECTED with reason (may be NULL; at most 200
 * characters, no control characters: else BE_E_MALFORMED).  Deciders only.  Audited as
 * be_request_approve. */
int be_request_reject(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		      const char *reason, struct be_err *e);
/* Withdraws request id (PENDING or APPROVED) as CANCELLED: its requester or a decider. */
int be_request_cancel(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		      struct be_err *e);
/* Moves every open request older than the TTL to EXPIRED, audited one by one under op;
 * *n (may be NULL) receives how many. */
int be_request_expire(struct be_ctx *ctx, const struct be_op_ctx *op, size_t *n,
		      struct be_err *e);
/* When rec (open) has outlived the TTL at now: moves it to EXPIRED (audited under op, which
 * may be NULL: the backend itself) and returns true. */
bool be_request_expire_one(struct be_ctx *ctx, const struct be_op_ctx *op,
			   const struct be_req_rec *rec, time_t now);

/* True when front end `adapter` may issue approved request rec and hand over its result: a
 * certificate for the requester's own key may go out through any front end (its requester
 * gets the same certificate when it asks again); a server-generated key only through the
 * front end that was asked for it. */
bool be_request_may_collect(const struct be_req_rec *rec, const char *adapter);

#endif
