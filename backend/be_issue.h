/*
 * The one entry point every adapter calls to get a certificate (DESIGN.md "The one
 * request"), and the backend context it runs in.
 */
#ifndef CERTGATE_BE_ISSUE_H
#define CERTGATE_BE_ISSUE_H

#include <jansson.h>

#include "be.h"
#include "be_ca.h"
#include "be_csr.h"
#include "be_issuer.h"
#include "be_key.h"
#include "be_profile.h"
#include "be_store.h"

struct be_keypool;
struct be_crlpub;

/* CAs, profiles and the store of one configuration. */
struct be_ctx {
	struct be_ca **cas;
	size_t n_cas;
	struct be_profile *profiles;
	size_t n_profiles;
	struct be_store *store;
	/* Ready keys for server keygen (be_keypool.h), owned, may be NULL; set by whoever
	 * loads the configuration (be_keypool_new), freed by be_ctx_free. */
	struct be_keypool *keypool;
	/* Weak-key checks and blocklist (be_goodkey.h), owned, may be NULL (no blocklist);
	 * set by whoever loads the configuration (be_goodkey_new), freed by be_ctx_free. */
	struct be_goodkey *goodkey;
	/* The CRL publisher (be_crlpub.h), owned, may be NULL; set like the key pool. */
	struct be_crlpub *crlpub;
	/* Seconds an open request waits for its decision before it expires; 0 is
	 * BE_REQUEST_TTL_DEFAULT (be_request.h). */
	int64_t request_ttl;
};

/* Loads the "cas" and "profiles" objects of the configuration (relative paths under basedir)
 * and opens the store at store_path.  *out: caller be_ctx_free(). */
int be_ctx_new(const json_t *cas, const json_t *profiles, const char *store_path,
	       const char *basedir, struct be_ctx **out, struct be_err *e);
void be_ctx_free(struct be_ctx *ctx);
/* Profile by name, borrowed, or NULL. */
const struct be_profile *be_ctx_profile(const struct be_ctx *ctx, const char *name);
/* CA by name or by id (subjectKeyIdentifier hex), borrowed, or NULL. */
const struct be_ca *be_ctx_ca(const struct be_ctx *ctx, const char *name_or_id);

/* How a server-generated key is returned. */
enum be_key_fmt {
	BE_KEYFMT_NONE = 0,	/* not returned (only when no key is generated) */
	BE_KEYFMT_PEM,		/* key_syntax decides PKCS#8 or PKCS#1 */
	BE_KEYFMT_DER,
	BE_KEYFMT_PKCS12,	/* key, certificate and chain under p12_password */
	BE_KEYFMT_CMS,		/* only res->key: the adapter has the backend wrap it in CMS
				 * EnvelopedData (be_cms.h); the profile must allow "cms" */
};

struct be_request {
	/* For the audit log. */
	const char *adapter;		/* "est", "sesam", "tsb", "iot", "cli" */
	const char *operation;		/* "simpleenroll", "gencert", ... */
	const char *request_id;		/* HTTP request id, may be NULL */
	const char *peer;		/* may be NULL */
	/* Who acts when it is not the principal (an administrator issuing a request another
	 * principal made and that was approved); the audit names the actor.  May be NULL. */
	const char *actor;

	const struct be_profile *profile;	/* borrowed; required */
	struct be_principal principal;

	/* Exactly one key source: a validated CSR, a bare public key, or neither (the server
	 * generates a key of keygen, or the profile's default when keygen.alg is NONE). */
	const struct be_csr *csr;	/* borrowed */
	gnutls_pubkey_t pubkey;		/* borrowed */
	struct be_keyspec keygen;

	/* Requested names; NULL takes the CSR's (and none without a CSR). */
	const struct be_name *subject;
	const struct be_sans *sans;
	unsigned validity_days;		/* 0 = profile default */

	enum be_key_fmt key_fmt;
	enum be_key_syntax key_syntax;
	const char *p12_password;	/* NULL: a random one (returned in the result) unless the
					 * profile requires the client's */
	bool p12_without_chain;		/* PKCS#12 with the end-entity certificate only */

	/* Approval flows (be_request.h): a repeated request is recognised by idem_key, by
	 * default be_request_match_key (what the request means, never signature bytes); the
	 * backend stores its normalised record with a pending request, data (a JSON object,
	 * no secrets, may be NULL) only as "adapter_data" for display.  match_pubkey: for
	 * server keygen, a key the client sent along (never certified) that tells its
	 * retries apart.  approved_request issues a stored request that is approved. */
	const char *idem_key;
	const char *data;
	gnutls_pubkey_t match_pubkey;	/* borrowed, may be NULL */
	int64_t approved_request;
	/* Store as an open request even when the profile needs no approval (an administrator's
	 * "new signing request" that someone signs later). */
	bool hold;

	/* For a profile whose issuer is the key store: the stored key that signs, as a CA
	 * (be_keystore_ca), borrowed; NULL for every other profile (be_issuer.h). */
	const struct be_ca *issuer;
	/* For a profile with "extensions": "request": what the request asks (borrowed), bounded
	 * by the profile; NULL asks for nothing.  Must be NULL for other profiles. */
	const struct be_ext_request *ext;
	/* Check everything be_issue checks (refusals audited as usual), then return without
	 * storing, generating or signing anything: for a request that first waits for
	 * approvals kept elsewhere (a stored key's policy). */
	bool check_only;
};

struct be_result {
	bool pending;			/* stored for approval: request_id set, nothing issued */
	int64_t request_id;
	int64_t cert_id;
	char serial_hex[41];
	char serial_dec[50];
	gnutls_datum_t cert;		/* DER, owned */
	const gnutls_datum_t *chain;	/* the CA chain (issuing CA first), borrowed from ctx,
					 * or from req->issuer */
	size_t n_chain;
	gnutls_x509_privkey_t key;	/* the generated key, owned, or NULL */
	gnutls_datum_t key_out;		/* key_fmt encoding of key, owned, secret */
	char p12_password[33];		/* the random PKCS#12 password when one was made */
	time_t not_before, not_after;
};

/* Checks req against its profile, and either stores it for approval (res->pending) or
 * generates the key if asked, signs, commits the certificate with its audit entry, and only
 * then fills res.  Every refusal is audited with its reason, nothing else stored.
 * res must be zeroed by the caller and released with be_result_clear(). */
int be_issue(struct be_ctx *ctx, const struct be_request *req, struct be_result *res,
	     struct be_err *e);
void be_result_clear(struct be_result *res);

/* Context of a management operation, for authorisation and audit. */
struct be_op_ctx {
	const char *adapter, *operation, *request_id, *peer;
	struct be_principal principal;
};

/* Changes the revocation status of the certificate with serial (hex) issued by any of ctx's
 * CAs: revoke (reason = RFC 5280 CRLReason; 6 = certificateHold puts it on hold) or
 * reactivate (only from hold).  Audited either way. */
int be_cert_revoke(struct be_ctx *ctx, const struct be_op_ctx *op, const char *serial,
		   int reason, struct be_err *e);
int be_cert_reactivate(struct be_ctx *ctx, const struct be_op_ctx *op, const char *serial,
		       struct be_err *e);

/* Appends an audit entry for a refusal that happened before be_issue (bad credentials,
 * unparseable request); reason is the client-visible sentence. */
void be_audit_refusal(struct be_ctx *ctx, const struct be_op_ctx *op, const char *profile,
		      const char *reason);

#endif
