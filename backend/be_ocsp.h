/*
 * The OCSP responder (RFC 6960, RFC 5019 lightweight profile): requests parsed strictly into
 * struct be_ocsp_req, statuses read from the store per request, responses (BasicOCSPResponse,
 * RFC 6960 4.2.1) built with libtasn1 from backend/ocsp.asn and signed by a delegated responder
 * certificate that certgate issues for each CA through be_issue (RFC 6960 4.2.2.2), or by the
 * CA key itself.  Signed responses without a nonce are cached per (CA, CertID hash, serial)
 * together with the store status they answered; each request reads the status again (one
 * indexed read), so a revocation shows in the very next answer.
 */
#ifndef CERTGATE_BE_OCSP_H
#define CERTGATE_BE_OCSP_H

#include "be.h"
#include "be_issue.h"

/* Ceiling of CertIDs in one request (conf.max_certids may be lower). */
#define BE_OCSP_MAX_CERTIDS 16
/* RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)). */
#define BE_OCSP_NONCE_MAX 32
/* Longest serialNumber INTEGER (content octets) a request may carry; RFC 5280 4.1.2.2 allows
 * 20 octets, 21 with the sign octet. */
#define BE_OCSP_SERIAL_MAX 32

/* RFC 6960 4.2.1 OCSPResponseStatus */
enum be_ocsp_status {
	BE_OCSP_SUCCESSFUL = 0,
	BE_OCSP_MALFORMED = 1,
	BE_OCSP_INTERNAL_ERROR = 2,
	BE_OCSP_TRY_LATER = 3,
	BE_OCSP_SIG_REQUIRED = 5,
	BE_OCSP_UNAUTHORIZED = 6,
};

/* RFC 6960 4.1.1 CertID, validated: the hash lengths match the algorithm. */
struct be_ocsp_certid {
	gnutls_digest_algorithm_t hash;	/* SHA-1, SHA-256, SHA-384 or SHA-512 */
	bool params_null;		/* hashAlgorithm parameters NULL (else absent) */
	unsigned char name_hash[64];
	unsigned char key_hash[64];
	size_t hash_len;
	unsigned char serial[BE_OCSP_SERIAL_MAX];	/* INTEGER content octets as sent */
	size_t serial_len;
};

/* RFC 6960 4.1.1 OCSPRequest, validated.  A request's signature (optionalSignature) and
 * requestorName are not used (RFC 5019 2.1.2: no signed requests are needed). */
struct be_ocsp_req {
	struct be_ocsp_certid ids[BE_OCSP_MAX_CERTIDS];
	size_t n;
	bool has_nonce;
	unsigned char nonce[BE_OCSP_NONCE_MAX];
	size_t nonce_len;
};

/* Parses der (len bytes, untrusted) strictly as an OCSPRequest into *out (caller's).
 * BE_E_MALFORMED with a sentence naming the RFC section for: anything not DER, a version
 * other than v1, an empty requestList or one of more than max_certids (at most
 * BE_OCSP_MAX_CERTIDS) entries, a hash algorithm other than SHA-1/-256/-384/-512 or hash
 * values of the wrong length, a serialNumber over BE_OCSP_SERIAL_MAX octets, a nonce of 0 or
 * more than 32 octets or given twice (RFC 8954 2.1), an unknown critical extension. */
int be_ocsp_req_parse(const unsigned char *der, size_t len, size_t max_certids,
		      struct be_ocsp_req *out, struct be_err *e);

/* The responder's configuration ("ocsp" section, protocols/ocsp.c reads it). */
struct be_ocsp_conf {
	bool sign_with_ca;		/* sign with the CA key instead of a delegated responder */
	struct be_keyspec responder_key;	/* key type of the responder certificates */
	unsigned responder_validity;	/* seconds a responder certificate is valid */
	unsigned response_validity;	/* nextUpdate - thisUpdate, seconds */
	unsigned cache_seconds;		/* a signed response is reused this long */
	size_t max_request;		/* bytes of an OCSPRequest */
	unsigned max_certids;		/* CertIDs answered in one request */
};

/* The defaults: delegated P-256 responder valid 2 days (rotated when a third is left),
 * nextUpdate one hour after thisUpdate, cached 60 s, requests up to 4096 bytes with up to 4
 * CertIDs. */
void be_ocsp_conf_default(struct be_ocsp_conf *c);

struct be_ocsp;

/* A responder for every CA of ctx (borrowed: must outlive *out).  Nothing is issued yet: the
 * first request for a CA issues its responder certificate.  *out: caller be_ocsp_free(). */
int be_ocsp_new(struct be_ctx *ctx, const struct be_ocsp_conf *conf, struct be_ocsp **out,
		struct be_err *e);
void be_ocsp_free(struct be_ocsp *o);

/* One answer. */
struct be_ocsp_reply {
	enum be_ocsp_status status;	/* OCSPResponseStatus of der */
	gnutls_datum_t der;		/* the OCSPResponse, gnutls_malloc()ed, caller's */
	bool cacheable;			/* successful and without a nonce: HTTP caches may keep it */
	bool from_cache;		/* served without a new signature */
	time_t this_update, next_update, produced_at;
	time_t fresh_until;		/* when certgate signs this answer anew */
	char etag[33];			/* hex of the first 16 octets of SHA-256(der) */
};

/* Answers the OCSPRequest der (untrusted, len bytes).  Returns 0 with out filled (caller
 * clears it with be_ocsp_reply_clear) for every answer, errors included: out->status says
 * which (malformedRequest, unauthorized for an issuer that is not one of ours, tryLater when
 * no responder key is usable, internalError when the store fails), and e the reason for the
 * log.  Negative only when no OCSPResponse could be encoded at all (BE_E_NOMEM).  Counts the
 * answer for be_ocsp_stats().  Thread-safe. */
int be_ocsp_respond(struct be_ocsp *o, const unsigned char *der, size_t len,
		    struct be_ocsp_reply *out, struct be_err *e);
void be_ocsp_reply_clear(struct be_ocsp_reply *r);

/* Counters for /metrics: answers by status (each SingleResponse of a successful answer
 * counts as good, revoked or unknown; an error answer counts under its OCSPResponseStatus),
 * and how many successful answers came from the cache.  Process-wide, lock-free. */
enum {
	BE_OCSP_STAT_GOOD = 0,
	BE_OCSP_STAT_REVOKED,
	BE_OCSP_STAT_UNKNOWN,
	BE_OCSP_STAT_MALFORMED,
	BE_OCSP_STAT_INTERNAL_ERROR,
	BE_OCSP_STAT_TRY_LATER,
	BE_OCSP_STAT_UNAUTHORIZED,
	BE_OCSP_STAT__COUNT
};
/* The label of counter i ("good", "malformedRequest", ...). */
const char *be_ocsp_stat_name(int i);
/* Fills out[BE_OCSP_STAT__COUNT] and *cache_hits. */
void be_ocsp_stats(uint64_t *out, uint64_t *cache_hits);

#endif
