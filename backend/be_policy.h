/*
 * Approval policies of stored keys (Securosys "Smart Key Attributes") and the certificate
 * flows of the TSB-style API that use them (PROTOCOLS.md section 3).
 *
 * A policy's rule "use" holds tokens; a token holds groups, a timelock and a timeout; a
 * group names approvers (public keys or certificates) and a quorum.  Tokens are alternatives
 * (OR), the groups of a token must all reach their quorum (AND).  A request made with a key
 * whose every token has a group is PENDING until some token is satisfied by approvals
 * recorded before that token's timeout; it then executes once the token's timelock has
 * passed.  It is REJECTED when rejections leave no token reachable, EXPIRED when the
 * timeouts have passed.
 *
 * Approvals are signatures, by the approver's private key, over the task's
 * approvalToBeSigned (be_policy_token); a rejection signs the task's rejectionToBeSigned.
 * The verifying key is the one in the policy, never one the caller supplies.
 *
 * The certificate a stored CA key signs is issued by be_issue under the key-store profile
 * (be_tsb_env.profile: "issuer": "keystore", "extensions": "request"), like every other
 * certificate; be_issuer.h has the rules the profile bounds.  Here: the signing key has the
 * sign attribute, an imported CA certificate valid now (be_keystore_ca), and the signature
 * algorithm fits its type; subject CN = commonName when given, else the CSR's validated
 * subject; keyUsage, extendedKeyUsage, certificateAuthority and validity as asked, within
 * the profile.  A request that waits for approvals is checked in full when it is made
 * (be_request.check_only), and issued, with a fresh serial, when they are complete.
 */
#ifndef CERTGATE_BE_POLICY_H
#define CERTGATE_BE_POLICY_H

#include <jansson.h>

#include "be.h"
#include "be_issue.h"
#include "be_keystore.h"

/* ---------------------------------------------------------------- policies */

enum be_approver_type {
	BE_APPROVER_PUBLIC_KEY = 0,	/* value: base64 SubjectPublicKeyInfo DER */
	BE_APPROVER_CERTIFICATE,	/* value: base64 certificate DER; its key approves */
};

struct be_approver {
	enum be_approver_type type;
	char *name;			/* may be NULL */
	char *value;			/* canonical base64 of the DER given */
	char *spki;			/* base64 SubjectPublicKeyInfo DER: the approver's identity */
};

struct be_policy_group {
	char *name;
	unsigned quorum;		/* 1 .. n */
	struct be_approver *v;
	size_t n;
};

struct be_policy_token {
	char *name;
	unsigned timelock;		/* seconds after the request before it may execute */
	unsigned timeout;		/* seconds after the request during which approvals count;
					 * 0 = none */
	struct be_policy_group *groups;
	size_t n_groups;
};

struct be_policy {
	struct be_policy_token *tokens;	/* rule "use" */
	size_t n_tokens;
	json_t *rules;			/* ruleBlock / ruleUnblock / ruleModify, validated, kept */
	bool blocked;			/* keyStatus.blocked: the key may not be used */
};

/* Parses a TSB policy object {ruleUse, ruleBlock, ruleUnblock, ruleModify, keyStatus}
 * strictly (unknown keys and wrong types are BE_E_MALFORMED naming the path under `path`);
 * approver values are parsed (be_approver_parse) and canonicalised.  At most 8 tokens per
 * rule, 8 groups per token, 32 approvers per group; quorum 1..approvers; timelock and
 * timeout 0..31536000.  Type "onboarded_approver_certificate" is refused.  *out: caller
 * be_policy_free(). */
int be_policy_parse(const json_t *j, const char *path, struct be_policy **out,
		    struct be_err *e);
/* The canonical JSON of p (what the catalogue stores and the attributes show); caller
 * json_decref()s. */
json_t *be_policy_json(const struct be_policy *p);
/* Re-reads canonical JSON text from the catalogue. */
int be_policy_decode(const char *text, struct be_policy **out, struct be_err *e);
void be_policy_free(struct be_policy *p);

/* True when some request must wait for approvals: every token of rule "use" has at least
 * one group (no rule, or a token without groups, means the key signs at once). */
bool be_policy_needs_approval(const struct be_policy *p);
/* True when spki (base64) is an approver anywhere in rule "use". */
bool be_policy_has_approver(const struct be_policy *p, const char *spki);

/* The state a request reaches (see the top of this file): BE_KS_PENDING, BE_KS_APPROVED
 * with *ready_at, BE_KS_REJECTED or BE_KS_EXPIRED with *why (a static sentence).
 * Decisions by keys outside the policy count for nothing. */
enum be_ks_status be_policy_eval(const struct be_policy *p, const struct be_ks_decision *d,
				 size_t n, int64_t created, int64_t now, int64_t *ready_at,
				 const char **why);

/* ---------------------------------------------------------------- approver keys and signatures */

/* Parses an approver identity: public_key (base64 SPKI DER) or certificate (base64 DER),
 * exactly one of them non-NULL.  Strict DER; RSA >= 2048, EC P-256/384/521, Ed25519.
 * *pub (may be NULL) caller gnutls_pubkey_deinit()s; *spki (may be NULL) the canonical
 * base64 SPKI, malloc()ed.  BE_E_MALFORMED / BE_E_POLICY with a sentence. */
int be_approver_parse(const char *public_key, const char *certificate, gnutls_pubkey_t *pub,
		      char **spki, struct be_err *e);
/* Digest names as TSB clients send them ("SHA-256", "SHA256", "SHA3-256", ...; "EdDSA",
 * "NONE" for Ed25519); NULL gives SHA-256.  BE_E_MALFORMED for others. */
int be_approver_digest(const char *name, gnutls_digest_algorithm_t *out, struct be_err *e);
/* Verifies sig over data with pub as a JDK Signature would produce it: RSA PKCS#1 v1.5 or
 * ECDSA (DER) with dig, or Ed25519 (dig ignored).  BE_E_FORBIDDEN when it does not verify. */
int be_approver_verify(gnutls_pubkey_t pub, gnutls_digest_algorithm_t dig, const void *data,
		       size_t len, const unsigned char *sig, size_t siglen, struct be_err *e);
/* Signs like be_approver_verify verifies; *sig gnutls_malloc()ed, caller be_datum_free(). */
int be_approver_sign(gnutls_privkey_t key, gnutls_digest_algorithm_t dig, const void *data,
		     size_t len, gnutls_datum_t *sig, struct be_err *e);
/* Loads an unencrypted PEM private key file (PKCS#8 or the traditional forms) as an
 * approver: *key caller gnutls_privkey_deinit()s; *spki its base64 SPKI, malloc()ed. */
int be_approver_load(const char *path, gnutls_privkey_t *key, char **spki, struct be_err *e);

/* Parses an ISO-8601 UTC time "2023-10-30T17:30:24Z", "...+00:00" or with fractional
 * seconds, into seconds since the epoch.  BE_E_MALFORMED. */
int be_time_parse(const char *s, int64_t *out, struct be_err *e);
/* Writes "YYYY-MM-DDTHH:MM:SSZ" (buf >= 21 bytes). */
void be_time_format(int64_t t, char *buf, size_t len);

/* ---------------------------------------------------------------- certificate flows */

/* What the flows work with; all borrowed. */
struct be_tsb_env {
	struct be_ctx *ctx;		/* be_issue: certificate store and audit */
	struct be_keystore *ks;
	const struct be_profile *profile;	/* of the certificates stored keys sign: issuer
						 * "keystore", extensions "request"; NULL:
						 * signing is refused */
};

/* A key operator's request to have a stored key sign a CSR. */
struct be_tsb_sign {
	const char *key_label;
	const char *key_password;	/* NULL or "": none */
	enum be_key_alg sig_alg;	/* from signatureAlgorithm; BE_KEY_NONE: the key's */
	gnutls_digest_algorithm_t hash;	/* GNUTLS_DIG_UNKNOWN: default for the key */
	const char *common_name;	/* NULL: the CSR's subject */
	bool ca;
	const unsigned char *csr;	/* untrusted: PEM, base64 or DER */
	size_t csr_len;
	unsigned key_usage;		/* GNUTLS_KEY_* */
	char *const *eku;		/* dotted OIDs */
	size_t n_eku;
	unsigned validity_days;		/* 0: default */
};

/* Signs at once with a key that needs no approval (synchronous/sign).  Every refusal and
 * the issuance are audited (op names who and how).  *der gnutls_malloc()ed; caller
 * be_datum_free().  A key with an approval policy is BE_E_STATE. */
int be_policy_sign_now(const struct be_tsb_env *env, const struct be_op_ctx *op,
		       const struct be_tsb_sign *r, gnutls_datum_t *der, struct be_err *e);
/* Validates r as be_policy_sign_now would and records a request; a key that needs no
 * approval executes it at once.  id receives the request id.  Audited. */
int be_policy_request_new(const struct be_tsb_env *env, const struct be_op_ctx *op,
			  const struct be_tsb_sign *r, char id[BE_KS_ID_LEN], struct be_err *e);
/* The request, brought up to date first: expired when its timeouts passed, executed when
 * approved and its timelock passed.  *out: caller be_ks_req_free(). */
int be_policy_request_get(const struct be_tsb_env *env, const struct be_op_ctx *op,
			  const char *id, struct be_ks_req **out, struct be_err *e);
/* PENDING / APPROVED -> CANCELLED; BE_E_STATE from any other state.  Audited. */
int be_policy_request_cancel(const struct be_tsb_env *env, const struct be_op_ctx *op,
			     const char *id, struct be_err *e);

/* The lists a request status shows: approvers (base64 SPKI) who approved, who may still
 * approve (PENDING only), who rejected.  Each a malloc()ed array of malloc()ed strings
 * (NULL when empty); caller be_strv_free(). */
int be_policy_request_lists(const struct be_ks_req *r, char ***approved, size_t *n_approved,
			    char ***waiting, size_t *n_waiting, char ***rejected,
			    size_t *n_rejected, struct be_err *e);

/* What approver spki signs to approve (approve true) or reject request r: the text
 * "certgate TSB approval v1\ndecision: APPROVE|REJECT\n" followed by r->body.  *out
 * gnutls_malloc()ed, caller be_datum_free(). */
int be_policy_token(const struct be_ks_req *r, bool approve, gnutls_datum_t *out,
		    struct be_err *e);

/* PENDING requests (brought up to date) that approver spki may still decide, oldest
 * first; when id is not NULL only that one.  *out: caller be_ks_reqs_free(). */
int be_policy_tasks(const struct be_tsb_env *env, const char *spki, const char *id,
		    struct be_ks_req **out, size_t *n, struct be_err *e);

/* An approver's decision on a request. */
struct be_tsb_decision {
	const char *id;				/* request (task) id */
	bool approve;
	gnutls_pubkey_t approver;		/* from be_approver_parse */
	const char *spki;			/* its canonical base64 SPKI */
	const unsigned char *token;		/* the approval/rejection token as sent back */
	size_t token_len;
	const unsigned char *sig;
	size_t sig_len;
	gnutls_digest_algorithm_t dig;
};

/* Records a decision: the token must be the request's (BE_E_MALFORMED), the approver in the
 * policy of the request (BE_E_FORBIDDEN), the signature valid under the policy's key
 * (BE_E_FORBIDDEN), the request PENDING (BE_E_STATE) and not yet decided by this approver
 * (BE_E_CONFLICT).  When the decision completes a quorum whose timelock has passed, the
 * certificate is issued before this returns (exactly once however many decide at the same
 * time).  Audited.  *out (may be NULL): the request as it now is; caller be_ks_req_free(). */
int be_policy_decide(const struct be_tsb_env *env, const struct be_op_ctx *op,
		     const struct be_tsb_decision *d, struct be_ks_req **out, struct be_err *e);

#endif
