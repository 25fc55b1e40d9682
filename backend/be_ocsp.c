/*
 * be_ocsp: the OCSP responder (RFC 6960, RFC 5019).  Request parsing, status lookup, response
 * building and signing, the responder certificates and the response cache.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_asn1.h"
#include "be_ocsp.h"

#define OID_NONCE	"1.3.6.1.5.5.7.48.1.2"	/* RFC 6960 4.4.1, RFC 8954 */
#define OID_BASIC	"1.3.6.1.5.5.7.48.1.1"	/* RFC 6960 4.2.1 id-pkix-ocsp-basic */
#define OID_OCSP_SIGNING "1.3.6.1.5.5.7.3.9"	/* RFC 5280 4.2.1.12 id-kp-OCSPSigning */
#define MAX_EXTENSIONS	16
#define CACHE_SLOTS	4096u			/* power of two */
#define RESPONDER_PRINCIPAL "certgate-ocsp"

/* ---------------------------------------------------------------- counters */

static atomic_uint_fast64_t stat_count[BE_OCSP_STAT__COUNT];
static atomic_uint_fast64_t stat_cache_hits;

static const char *const stat_names[BE_OCSP_STAT__COUNT] = {
	"good", "revoked", "unknown", "malformedRequest", "internalError", "tryLater",
	"unauthorized",
};

const char *
be_ocsp_stat_name(int i)
{
	return i >= 0 && i < BE_OCSP_STAT__COUNT ? stat_names[i] : "none";
}

void
be_ocsp_stats(uint64_t *out, uint64_t *cache_hits)
{
	int i;

	for (i = 0; i < BE_OCSP_STAT__COUNT; i++)
		out[i] = atomic_load_explicit(&stat_count[i], memory_order_relaxed);
	*cache_hits = atomic_load_explicit(&stat_cache_hits, memory_order_relaxed);
}

static void
stat_add(int i)
{
	atomic_fetch_add_explicit(&stat_count[i], 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- hash algorithms */

static const struct {
	const char *oid;
	gnutls_digest_algorithm_t alg;
	size_t len;
} hashes[] = {
	{ "1.3.14.3.2.26", GNUTLS_DIG_SHA1, 20 },
	{ "2.16.840.1.101.3.4.2.1", GNUTLS_DIG_SHA256, 32 },
	{ "2.16.840.1.101.3.4.2.2", GNUTLS_DIG_SHA384, 48 },
	{ "2.16.840.1.101.3.4.2.3", GNUTLS_DIG_SHA512, 64 },
};
#define NHASHES (sizeof(hashes) / sizeof(hashes[0]))

static size_t
hash_index(gnutls_digest_algorithm_t alg)
{
	size_t i;

	for (i = 0; i < NHASHES; i++)
		if (hashes[i].alg == alg)
			return i;
	return 0;
}

/* ---------------------------------------------------------------- request parsing */

/* Reads a fixed-capacity value at path; BE_E_MALFORMED when absent or longer than cap. */
static int
read_fixed(asn1_node el, const char *path, void *buf, size_t cap, size_t *len,
	   struct be_err *e)
{
	int n = (int)cap, r;

	r = asn1_read_value(el, path, buf, &n);
	if (r == ASN1_MEM_ERROR)
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: %s: longer than %zu octets",
				  path, cap);
	if (r != ASN1_SUCCESS)
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: %s: unreadable", path);
	*len = (size_t)n;
	return BE_OK;
}

/* True when the extension at prefix is marked critical. */
static bool
ext_critical(asn1_node el, const char *prefix)
{
	char path[192], v[8];
	int n = sizeof(v);

	snprintf(path, sizeof(path), "%s.critical", prefix);
	if (asn1_read_value(el, path, v, &n) != ASN1_SUCCESS)
		return false;
	return n >= 4 && memcmp(v, "TRUE", 4) == 0;
}

/* Walks the Extensions at path (absent is fine): a nonce (when nonce_ok) goes into out,
 * unknown non-critical extensions are skipped, unknown critical ones refused. */
static int
parse_extensions(asn1_node el, const char *path, bool nonce_ok, struct be_ocsp_req *out,
		 struct be_err *e)
{
	asn1_node nonce = NULL;
	char p[160], oid[64];
	unsigned char val[64];
	size_t vlen = 0;
	int count = 0, i, n, rc = BE_OK;

	if (asn1_number_of_elements(el, path, &count) != ASN1_SUCCESS)
		goto out;	/* absent */
	if (count > MAX_EXTENSIONS) {
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.4: more than %d extensions",
				MAX_EXTENSIONS);
		goto out;
	}
	for (i = 1; i <= count; i++) {
		snprintf(p, sizeof(p), "%s.?%d.extnID", path, i);
		n = sizeof(oid);
		if (asn1_read_value(el, p, oid, &n) != ASN1_SUCCESS) {
			rc = be_err_set(e, BE_E_MALFORMED, "RFC 5280 4.1: extension %d: no extnID",
					i);
			goto out;
		}
		snprintf(p, sizeof(p), "%s.?%d", path, i);
		if (nonce_ok && strcmp(oid, OID_NONCE) == 0) {
			if (out->has_nonce) {
				rc = be_err_set(e, BE_E_MALFORMED, "RFC 8954 2.1: the nonce "
						"extension appears twice");
				goto out;
			}
			snprintf(p, sizeof(p), "%s.?%d.extnValue", path, i);
			if ((rc = read_fixed(el, p, val, sizeof(val), &vlen, e)) != BE_OK) {
				be_err_clear(e);
				rc = be_err_set(e, BE_E_MALFORMED, "RFC 8954 2.1: the nonce is "
						"longer than 32 octets");
				goto out;
			}
			if ((rc = be_asn1_decode("OCSP.Nonce", val, vlen, "RFC 8954 2.1: nonce",
						 &nonce, e)) != BE_OK)
				goto out;
			if ((rc = read_fixed(nonce, "", out->nonce, sizeof(out->nonce),
					     &out->nonce_len, e)) != BE_OK || out->nonce_len == 0) {
				be_err_clear(e);
				rc = be_err_set(e, BE_E_MALFORMED, "RFC 8954 2.1: the nonce must be 1 "
						"to 32 octets");
				goto out;
			}
			out->has_nonce = true;
			asn1_delete_structure(&nonce);
			continue;
		}
		if (ext_critical(el, p)) {
			rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.4: critical extension %s "
					"is not supported", oid);
			goto out;
		}
	}
out:
	if (nonce != NULL)
		asn1_delete_structure(&nonce);
	return rc;
}

static int
parse_certid(asn1_node el, int i, struct be_ocsp_certid *id, struct be_err *e)
{
	char p[128], oid[64];
	unsigned char params[8];
	size_t len = 0, k;
	int n, r;

	memset(id, 0, sizeof(*id));
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.reqCert.hashAlgorithm.algorithm", i);
	n = sizeof(oid);
	if (asn1_read_value(el, p, oid, &n) != ASN1_SUCCESS)
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: CertID %d: hashAlgorithm "
				  "unreadable", i);
	for (k = 0; k < NHASHES && strcmp(hashes[k].oid, oid) != 0; k++)
		;
	if (k == NHASHES)
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: CertID %d: hash algorithm "
				  "%.40s is not supported (SHA-1, SHA-256, SHA-384, SHA-512 are)",
				  i, oid);
	id->hash = hashes[k].alg;
	id->hash_len = hashes[k].len;
	/* RFC 5754 2: the parameters of SHA-2 are absent, or NULL as many clients send. */
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.reqCert.hashAlgorithm.parameters", i);
	n = sizeof(params);
	r = asn1_read_value(el, p, params, &n);
	if (r == ASN1_SUCCESS) {
		if (n != 2 || params[0] != 0x05 || params[1] != 0x00)
			return be_err_set(e, BE_E_MALFORMED, "RFC 5754 2: CertID %d: hash "
					  "parameters must be NULL or absent", i);
		id->params_null = true;
	} else if (r != ASN1_ELEMENT_NOT_FOUND && r != ASN1_VALUE_NOT_FOUND) {
		return be_err_set(e, BE_E_MALFORMED, "RFC 5754 2: CertID %d: hash parameters "
				  "must be NULL or absent", i);
	}
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.reqCert.issuerNameHash", i);
	if (read_fixed(el, p, id->name_hash, sizeof(id->name_hash), &len, e) != BE_OK ||
	    len != id->hash_len) {
		be_err_clear(e);
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: CertID %d: issuerNameHash "
				  "is not a %zu-octet hash", i, id->hash_len);
	}
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.reqCert.issuerKeyHash", i);
	if (read_fixed(el, p, id->key_hash, sizeof(id->key_hash), &len, e) != BE_OK ||
	    len != id->hash_len) {
		be_err_clear(e);
		return be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: CertID %d: issuerKeyHash "
				  "is not a %zu-octet hash", i, id->hash_len);
	}
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.reqCert.serialNumber", i);
	if (read_fixed(el, p, id->serial, sizeof(id->serial), &id->serial_len, e) != BE_OK ||
	    id->serial_len == 0) {
		be_err_clear(e);
		return be_err_set(e, BE_E_MALFORMED, "RFC 5280 4.1.2.2: CertID %d: serialNumber "
				  "is empty or longer than %d octets", i, BE_OCSP_SERIAL_MAX);
	}
	snprintf(p, sizeof(p), "tbsRequest.requestList.?%d.singleRequestExtensions", i);
	return parse_extensions(el, p, false, NULL, e);
}

int
be_ocsp_req_parse(const unsigned char *der, size_t len, size_t max_certids,
		  struct be_ocsp_req *out, struct be_err *e)
{
	asn1_node el = NULL;
	gnutls_datum_t re = { NULL, 0 };
	unsigned char ver[8];
	int count = 0, i, n, r, rc;

	memset(out, 0, sizeof(*out));
	if (max_certids == 0 || max_certids > BE_OCSP_MAX_CERTIDS)
		max_certids = BE_OCSP_MAX_CERTIDS;
	if ((rc = be_asn1_decode("OCSP.OCSPRequest", der, len, "RFC 6960 4.1.1: OCSPRequest",
				 &el, e)) != BE_OK)
		goto out;
	/* RFC 6960 4.1.1 asks for DER: libtasn1's strict mode still takes BER length forms, so
	 * the request must be exactly its own re-encoding. */
	if ((rc = be_asn1_encode(el, &re, e)) != BE_OK)
		goto out;
	if (re.size != len || memcmp(re.data, der, len) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: OCSPRequest: not DER (a BER "
				"length form)");
		goto out;
	}
	/* RFC 6960 4.1.2: v1(0) is the only version; DER omits the DEFAULT. */
	n = sizeof(ver);
	r = asn1_read_value(el, "tbsRequest.version", ver, &n);
	if (r == ASN1_SUCCESS && !(n == 1 && ver[0] == 0)) {
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.2: version must be v1");
		goto out;
	}
	if (asn1_number_of_elements(el, "tbsRequest.requestList", &count) != ASN1_SUCCESS ||
	    count == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: requestList is empty");
		goto out;
	}
	if ((size_t)count > max_certids) {
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 4.1.1: %d CertIDs in one request; "
				"this responder answers at most %zu", count, max_certids);
		goto out;
	}
	for (i = 1; i <= count; i++) {
		if ((rc = parse_certid(el, i, &out->ids[out->n], e)) != BE_OK)
			goto out;
		out->n++;
	}
	rc = parse_extensions(el, "tbsRequest.requestExtensions", true, out, e);
out:
	be_datum_free(&re);
	if (el != NULL)
		asn1_delete_structure(&el);
	if (rc != BE_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------------------------------------------------------- configuration */

void
be_ocsp_conf_default(struct be_ocsp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->responder_key.alg = BE_KEY_EC;
	c->responder_key.bits = 256;
	c->responder_validity = 2 * 86400;
	c->response_validity = 3600;
	c->cache_seconds = 60;
	c->max_request = 4096;
	c->max_certids = 4;
}

/* ---------------------------------------------------------------- signers */

/* What signs responses for one CA: a delegated responder (its own key and certificate) or
 * the CA itself. */
struct signer {
	gnutls_privkey_t key;		/* owned when cert is set, else the CA's (borrowed) */
	gnutls_datum_t cert;		/* responder certificate DER; empty when the CA signs */
	unsigned char key_hash[20];	/* RFC 6960 4.2.1 ResponderID byKey */
	gnutls_sign_algorithm_t sign;
	const char *sig_oid;
	bool sig_null_params;		/* RSA: parameters NULL (RFC 4055 5) */
	time_t issued, not_after;
	uint64_t gen;			/* distinguishes signers in the cache */
};

struct cache_entry {
	bool used;
	size_t hash;			/* index into hashes[] */
	bool params_null;
	unsigned char serial[BE_OCSP_SERIAL_MAX];
	size_t serial_len;
	/* the status row it answered */
	bool found;
	struct be_cert_status_rec st;
	uint64_t gen;
	gnutls_datum_t der;
	time_t produced, next_update;
	char etag[33];
};

struct ocsp_ca {
	const struct be_ca *ca;
	unsigned char name_hash[NHASHES][64];
	unsigned char key_hash[NHASHES][64];
	struct be_profile profile;	/* the internal responder profile */
	char *allow[1];
	char *eku[1];
	pthread_rwlock_t lock;		/* guards signer */
	pthread_mutex_t rotate;		/* one issuance at a time */
	struct signer *signer;
	pthread_mutex_t cache_mu;
	struct cache_entry *cache;	/* CACHE_SLOTS */
	/* Serials of the configured CAs' certificates this CA issued (an issuing CA under a
	 * root): known from the configuration, not the store. */
	struct {
		unsigned char serial[BE_OCSP_SERIAL_MAX];
		size_t len;
	} *subs;
	size_t n_subs;
};

struct be_ocsp {
	struct be_ctx *ctx;
	struct be_ocsp_conf conf;
	struct ocsp_ca *cas;
	size_t n_cas;
	atomic_uint_fast64_t next_gen;
};

static void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->cert.data != NULL && s->key != NULL)
		gnutls_privkey_deinit(s->key);
	be_datum_free(&s->cert);
	free(s);
}

/* Fills the signature fields of s for key. */
static int
signer_algorithm(struct signer *s, gnutls_pubkey_t pub, gnutls_digest_algorithm_t hash,
		 struct be_err *e)
{
	int pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);

	if (pk == GNUTLS_PK_EDDSA_ED25519)
		s->sign = GNUTLS_SIGN_EDDSA_ED25519;
	else if (pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_ECDSA)
		s->sign = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, hash);
	else
		return be_err_set(e, BE_E_CONFIG, "OCSP: the signing key's algorithm is not "
				  "supported");
	if (s->sign == GNUTLS_SIGN_UNKNOWN || (s->sig_oid = gnutls_sign_get_oid(s->sign)) == NULL)
		return be_err_set(e, BE_E_CONFIG, "OCSP: no signature algorithm for the key");
	s->sig_null_params = pk == GNUTLS_PK_RSA;
	return be_pubkey_key_id(pub, s->key_hash, e);
}

/* A signer that is the CA itself. */
static int
signer_ca(struct be_ocsp *o, const struct be_ca *ca, struct signer **out, struct be_err *e)
{
	struct signer *s = NULL;
	gnutls_pubkey_t pub = NULL;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, ca->crt, 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: cannot read its public key", ca->name);
		goto out;
	}
	if ((rc = signer_algorithm(s, pub, ca->hash, e)) != BE_OK)
		goto out;
	s->key = ca->key;
	s->not_after = ca->not_after;
	s->gen = atomic_fetch_add(&o->next_gen, 1);
	*out = s;
	s = NULL;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	signer_free(s);
	return rc;
}

/* Issues a new responder certificate for oc through be_issue (RFC 6960 4.2.2.2: issued by
 * the CA, id-kp-OCSPSigning; 4.2.2.2.1: id-pkix-ocsp-nocheck).  The key stays in memory. */
static int
signer_issue(struct be_ocsp *o, struct ocsp_ca *oc, struct signer **out, struct be_err *e)
{
	struct be_request req;
	struct be_result res;
	struct signer *s = NULL;
	gnutls_pubkey_t pub = NULL;
	int rc;

	*out = NULL;
	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.adapter = "ocsp";
	req.operation = "responder-certificate";
	req.profile = &oc->profile;
	req.principal.name = RESPONDER_PRINCIPAL;
	req.principal.roles = BE_ROLE_SERVICE;
	req.keygen = o->conf.responder_key;
	req.key_fmt = BE_KEYFMT_DER;
	req.key_syntax = BE_KEY_PKCS8;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_issue(o->ctx, &req, &res, e)) != BE_OK)
		goto out;
	if (gnutls_privkey_init(&s->key) < 0 ||
	    gnutls_privkey_import_x509(s->key, res.key, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot load the responder key");
		goto out;
	}
	res.key = NULL;		/* now s->key's */
	s->cert = res.cert;
	res.cert.data = NULL;
	res.cert.size = 0;
	s->issued = time(NULL);
	s->not_after = res.not_after;
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, s->key, 0, 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot read the responder public key");
		goto out;
	}
	if ((rc = signer_algorithm(s, pub, GNUTLS_DIG_SHA256, e)) != BE_OK)
		goto out;
	s->gen = atomic_fetch_add(&o->next_gen, 1);
	*out = s;
	s = NULL;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (s != NULL && s->cert.data == NULL && s->key != NULL) {
		gnutls_privkey_deinit(s->key);
		s->key = NULL;
	}
	signer_free(s);
	be_result_clear(&res);
	return rc;
}

/* True when s must be replaced: none yet, or less than a third of its validity left (of
 * the validity it got: a CA near its own end gives shorter ones). */
static bool
signer_stale(const struct signer *s, time_t now)
{
	if (s == NULL)
		return true;
	if (s->cert.data == NULL)
		return false;	/* the CA itself */
	return now >= s->not_after - (s->not_after - s->issued) / 3;
}

/* Makes sure oc has a usable signer, issuing or rotating one when due.  A failed rotation
 * keeps the old signer while it is valid. */
static int
signer_ensure(struct be_ocsp *o, struct ocsp_ca *oc, time_t now, struct be_err *e)
{
	struct signer *s = NULL, *old = NULL;
	bool stale, usable;
	int rc = BE_OK;

	pthread_rwlock_rdlock(&oc->lock);
	stale = signer_stale(oc->signer, now);
	pthread_rwlock_unlock(&oc->lock);
	if (!stale)
		return BE_OK;
	pthread_mutex_lock(&oc->rotate);
	pthread_rwlock_rdlock(&oc->lock);
	stale = signer_stale(oc->signer, now);
	usable = oc->signer != NULL && oc->signer->not_after > now;
	pthread_rwlock_unlock(&oc->lock);
	if (!stale)
		goto out;
	rc = o->conf.sign_with_ca ? signer_ca(o, oc->ca, &s, e) : signer_issue(o, oc, &s, e);
	if (rc != BE_OK) {
		if (usable) {
			be_err_clear(e);
			rc = BE_OK;
		}
		goto out;
	}
	pthread_rwlock_wrlock(&oc->lock);
	old = oc->signer;
	oc->signer = s;
	pthread_rwlock_unlock(&oc->lock);
	s = NULL;
out:
	pthread_mutex_unlock(&oc->rotate);
	signer_free(old);
	return rc;
}

/* ---------------------------------------------------------------- responder */

static int
ca_hashes(struct ocsp_ca *oc, struct be_err *e)
{
	gnutls_datum_t dn = { NULL, 0 }, spki = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	asn1_node el = NULL;
	unsigned char *bits = NULL;
	size_t k;
	int nbits = 0, rc = BE_OK;

	if (gnutls_x509_crt_get_raw_dn(oc->ca->crt, &dn) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, oc->ca->crt, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: cannot read its name and key",
				oc->ca->name);
		goto out;
	}
	/* RFC 6960 4.1.1: issuerKeyHash covers the subjectPublicKey BIT STRING's value. */
	if ((rc = be_asn1_decode("CERTGATE.SubjectPublicKeyInfo", spki.data, spki.size,
				 "CA public key", &el, e)) != BE_OK)
		goto out;
	if (asn1_read_value(el, "subjectPublicKey", NULL, &nbits) != ASN1_MEM_ERROR ||
	    nbits <= 0 || nbits % 8 != 0 || (bits = malloc((size_t)nbits / 8)) == NULL) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: public key is not whole octets",
				oc->ca->name);
		goto out;
	}
	if (asn1_read_value(el, "subjectPublicKey", bits, &nbits) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: public key unreadable", oc->ca->name);
		goto out;
	}
	for (k = 0; k < NHASHES; k++) {
		if (gnutls_hash_fast(hashes[k].alg, dn.data, dn.size, oc->name_hash[k]) < 0 ||
		    gnutls_hash_fast(hashes[k].alg, bits, (size_t)nbits / 8,
				     oc->key_hash[k]) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot hash");
			goto out;
		}
	}
out:
	free(bits);
	if (el != NULL)
		asn1_delete_structure(&el);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	be_datum_free(&dn);
	be_datum_free(&spki);
	return rc;
}

/* The internal profile of oc's responder certificates. */
static int
ca_profile(struct be_ocsp *o, struct ocsp_ca *oc, struct be_err *e)
{
	struct be_profile *p = &oc->profile;
	char cn[65];

	snprintf(cn, sizeof(cn), "OCSP responder for %.44s", oc->ca->name);
	p->name = (char *)"ocsp-responder";
	p->description = (char *)"certgate's delegated OCSP responder (RFC 6960 4.2.2.2)";
	p->ca = (struct be_ca *)oc->ca;
	p->validity_days = 1;
	p->validity_seconds = o->conf.responder_validity;
	p->key_types[0] = o->conf.responder_key;
	p->n_key_types = 1;
	p->server_key = o->conf.responder_key;
	p->server_keygen = true;
	p->key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	oc->eku[0] = (char *)OID_OCSP_SIGNING;
	p->eku = oc->eku;
	p->n_eku = 1;
	p->path_len = -1;
	p->subject[BE_DN_CN] = BE_FIELD_FIXED;
	if ((p->subject_fixed[BE_DN_CN] = strdup(cn)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	p->outputs = BE_OUT_DER;
	oc->allow[0] = (char *)RESPONDER_PRINCIPAL;
	p->allow = oc->allow;
	p->n_allow = 1;
	p->ocsp_nocheck = true;
	return BE_OK;
}

int
be_ocsp_new(struct be_ctx *ctx, const struct be_ocsp_conf *conf, struct be_ocsp **out,
	    struct be_err *e)
{
	struct be_ocsp *o = NULL;
	size_t i, j;
	unsigned vst = 0;
	int rc = BE_OK;

	*out = NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->cas = calloc(ctx->n_cas ? ctx->n_cas : 1, sizeof(*o->cas))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	o->ctx = ctx;
	o->conf = *conf;
	atomic_init(&o->next_gen, 1);
	for (i = 0; i < ctx->n_cas; i++) {
		struct ocsp_ca *oc = &o->cas[i];

		oc->ca = ctx->cas[i];
		pthread_rwlock_init(&oc->lock, NULL);
		pthread_mutex_init(&oc->rotate, NULL);
		pthread_mutex_init(&oc->cache_mu, NULL);
		o->n_cas++;
		if ((oc->cache = calloc(CACHE_SLOTS, sizeof(*oc->cache))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = ca_hashes(oc, e)) != BE_OK || (rc = ca_profile(o, oc, e)) != BE_OK)
			goto out;
	}
	for (i = 0; i < o->n_cas; i++) {
		struct ocsp_ca *oc = &o->cas[i];

		if ((oc->subs = calloc(o->n_cas, sizeof(*oc->subs))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (j = 0; j < o->n_cas; j++) {
			size_t len = sizeof(oc->subs[0].serial);

			if (j == i || !gnutls_x509_crt_check_issuer(o->cas[j].ca->crt, oc->ca->crt) ||
			    gnutls_x509_crt_verify(o->cas[j].ca->crt, &oc->ca->crt, 1,
						   GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &vst) < 0 ||
			    vst != 0 ||
			    gnutls_x509_crt_get_serial(o->cas[j].ca->crt, oc->subs[oc->n_subs].serial,
						       &len) < 0)
				continue;
			oc->subs[oc->n_subs++].len = len;
		}
	}
	*out = o;
	o = NULL;
out:
	be_ocsp_free(o);
	return rc;
}

void
be_ocsp_free(struct be_ocsp *o)
{
	size_t i, j;

	if (o == NULL)
		return;
	for (i = 0; i < o->n_cas; i++) {
		struct ocsp_ca *oc = &o->cas[i];

		signer_free(oc->signer);
		for (j = 0; oc->cache != NULL && j < CACHE_SLOTS; j++)
			be_datum_free(&oc->cache[j].der);
		free(oc->cache);
		free(oc->subs);
		free(oc->profile.subject_fixed[BE_DN_CN]);
		pthread_rwlock_destroy(&oc->lock);
		pthread_mutex_destroy(&oc->rotate);
		pthread_mutex_destroy(&oc->cache_mu);
	}
	free(o->cas);
	free(o);
}

void
be_ocsp_reply_clear(struct be_ocsp_reply *r)
{
	if (r == NULL)
		return;
	be_datum_free(&r->der);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- encoding */

/* GeneralizedTime "YYYYMMDDHHMMSSZ" (RFC 5280 4.1.2.5.2: UTC, no fractions). */
static int
gtime(time_t t, char buf[16])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return BE_E_INTERNAL;
	snprintf(buf, 16, "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return BE_OK;
}

/* The OCSPResponse of an error status: no responseBytes (RFC 6960 4.2.1). */
static int
encode_error(enum be_ocsp_status status, gnutls_datum_t *out, struct be_err *e)
{
	asn1_node el = NULL;
	char v[4];
	int rc;

	snprintf(v, sizeof(v), "%d", (int)status);
	if (asn1_create_element(be_asn1_module("OCSP.OCSPResponse"), "OCSP.OCSPResponse", &el) !=
	    ASN1_SUCCESS ||
	    asn1_write_value(el, "responseStatus", v, 0) != ASN1_SUCCESS ||
	    asn1_write_value(el, "responseBytes", NULL, 0) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "cannot build an OCSPResponse");
		goto out;
	}
	rc = be_asn1_encode(el, out, e);
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

/* One answer to encode: the status of one CertID. */
struct answer {
	const struct be_ocsp_certid *id;
	bool found;
	struct be_cert_status_rec st;
};

#define W(path, val, len) \
	do { \
		if (asn1_write_value(el, (path), (val), (len)) != ASN1_SUCCESS) { \
			rc = be_err_set(e, BE_E_INTERNAL, "OCSP response: cannot write %s", \
					(path)); \
			goto out; \
		} \
	} while (0)

/* RFC 6960 4.2.1: a successful OCSPResponse holding a BasicOCSPResponse for ans[0..n),
 * signed by s, with the nonce when req has one. */
static int
encode_basic(const struct signer *s, const struct be_ocsp_req *req, const struct answer *ans,
	     size_t n, time_t now, time_t next, gnutls_datum_t *out, struct be_err *e)
{
	asn1_node el = NULL, resp = NULL, nonce = NULL;
	gnutls_datum_t tbs = { NULL, 0 }, sig = { NULL, 0 }, basic = { NULL, 0 };
	gnutls_datum_t nonce_der = { NULL, 0 };
	char t_now[16], t_next[16], t_rev[16], v[8];
	size_t i;
	int len = 0, rc = BE_OK;
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	unsigned char *tbuf = NULL;

	out->data = NULL;
	out->size = 0;
	if (gtime(now, t_now) != BE_OK || gtime(next, t_next) != BE_OK) {
		rc = be_err_set(e, BE_E_INTERNAL, "cannot format the time");
		goto out;
	}
	if (asn1_create_element(be_asn1_module("OCSP.BasicOCSPResponse"),
				"OCSP.BasicOCSPResponse", &el) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "OCSP definitions did not load");
		goto out;
	}
	/* RFC 5019 2.2.3: ResponderID byKey, the SHA-1 of the responder's public key. */
	W("tbsResponseData.responderID", "byKey", 1);
	W("tbsResponseData.responderID.byKey", s->key_hash, sizeof(s->key_hash));
	W("tbsResponseData.producedAt", t_now, strlen(t_now));
	for (i = 0; i < n; i++) {
		const struct be_ocsp_certid *id = ans[i].id;

		W("tbsResponseData.responses", "NEW", 1);
		W("tbsResponseData.responses.?LAST.certID.hashAlgorithm.algorithm",
		  hashes[hash_index(id->hash)].oid, 1);
		if (id->params_null)
			W("tbsResponseData.responses.?LAST.certID.hashAlgorithm.parameters",
			  "\x05\x00", 2);
		else
			W("tbsResponseData.responses.?LAST.certID.hashAlgorithm.parameters",
			  NULL, 0);
		W("tbsResponseData.responses.?LAST.certID.issuerNameHash", id->name_hash,
		  (int)id->hash_len);
		W("tbsResponseData.responses.?LAST.certID.issuerKeyHash", id->key_hash,
		  (int)id->hash_len);
		W("tbsResponseData.responses.?LAST.certID.serialNumber", id->serial,
		  (int)id->serial_len);
		if (!ans[i].found) {
			W("tbsResponseData.responses.?LAST.certStatus", "unknown", 1);
		} else if (ans[i].st.status == BE_CERT_VALID) {
			W("tbsResponseData.responses.?LAST.certStatus", "good", 1);
		} else {
			/* RFC 6960 4.2.1 RevokedInfo; a certificate on hold is revoked with
			 * reason certificateHold (RFC 5280 5.3.1). */
			int reason = ans[i].st.status == BE_CERT_HOLD ? 6 : ans[i].st.reason;

			if (gtime((time_t)ans[i].st.revoked_at, t_rev) != BE_OK) {
				rc = be_err_set(e, BE_E_INTERNAL, "cannot format the time");
				goto out;
			}
			W("tbsResponseData.responses.?LAST.certStatus", "revoked", 1);
			W("tbsResponseData.responses.?LAST.certStatus.revoked.revocationTime",
			  t_rev, strlen(t_rev));
			if (reason >= 0 && reason <= 10 && reason != 7) {
				snprintf(v, sizeof(v), "%d", reason);
				W("tbsResponseData.responses.?LAST.certStatus.revoked."
				  "revocationReason", v, 0);
			} else {
				W("tbsResponseData.responses.?LAST.certStatus.revoked."
				  "revocationReason", NULL, 0);
			}
		}
		W("tbsResponseData.responses.?LAST.thisUpdate", t_now, strlen(t_now));
		W("tbsResponseData.responses.?LAST.nextUpdate", t_next, strlen(t_next));
		W("tbsResponseData.responses.?LAST.singleExtensions", NULL, 0);
	}
	if (req->has_nonce) {
		/* RFC 8954 2.1 / RFC 6960 4.4.1: the request's nonce, echoed. */
		if (asn1_create_element(be_asn1_module("OCSP.Nonce"), "OCSP.Nonce", &nonce) !=
		    ASN1_SUCCESS ||
		    asn1_write_value(nonce, "", req->nonce, (int)req->nonce_len) != ASN1_SUCCESS ||
		    (rc = be_asn1_encode(nonce, &nonce_der, e)) != BE_OK) {
			rc = be_err_set(e, BE_E_INTERNAL, "cannot encode the nonce");
			goto out;
		}
		W("tbsResponseData.responseExtensions", "NEW", 1);
		W("tbsResponseData.responseExtensions.?LAST.extnID", OID_NONCE, 1);
		W("tbsResponseData.responseExtensions.?LAST.extnValue", nonce_der.data,
		  (int)nonce_der.size);
	} else {
		W("tbsResponseData.responseExtensions", NULL, 0);
	}
	/* RFC 6960 4.2.1: the signature is over the DER of tbsResponseData. */
	len = 0;
	if (asn1_der_coding(el, "tbsResponseData", NULL, &len, msg) != ASN1_MEM_ERROR ||
	    len <= 0 || (tbuf = malloc((size_t)len)) == NULL ||
	    asn1_der_coding(el, "tbsResponseData", tbuf, &len, msg) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "cannot encode tbsResponseData");
		goto out;
	}
	tbs.data = tbuf;
	tbs.size = (unsigned)len;
	if (gnutls_privkey_sign_data2(s->key, s->sign, 0, &tbs, &sig) < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "the OCSP signing key did not sign");
		goto out;
	}
	W("signatureAlgorithm.algorithm", s->sig_oid, 1);
	if (s->sig_null_params)
		W("signatureAlgorithm.parameters", "\x05\x00", 2);
	else
		W("signatureAlgorithm.parameters", NULL, 0);
	W("signature", sig.data, (int)sig.size * 8);
	if (s->cert.data != NULL) {
		/* RFC 6960 4.2.2.2: the delegated responder's certificate travels along. */
		W("certs", "NEW", 1);
		W("certs.?LAST", s->cert.data, (int)s->cert.size);
	} else {
		W("certs", NULL, 0);
	}
	if ((rc = be_asn1_encode(el, &basic, e)) != BE_OK)
		goto out;
	if (asn1_create_element(be_asn1_module("OCSP.OCSPResponse"), "OCSP.OCSPResponse",
				&resp) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "OCSP definitions did not load");
		goto out;
	}
	asn1_delete_structure(&el);
	el = resp;
	resp = NULL;
	W("responseStatus", "0", 0);
	W("responseBytes.responseType", OID_BASIC, 1);
	W("responseBytes.response", basic.data, (int)basic.size);
	rc = be_asn1_encode(el, out, e);
out:
	free(tbuf);
	be_datum_free(&sig);
	be_datum_free(&basic);
	be_datum_free(&nonce_der);
	if (nonce != NULL)
		asn1_delete_structure(&nonce);
	if (resp != NULL)
		asn1_delete_structure(&resp);
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

#undef W

/* ---------------------------------------------------------------- answering */

/* The CA whose name and key hashes id carries, or NULL. */
static struct ocsp_ca *
find_ca(struct be_ocsp *o, const struct be_ocsp_certid *id)
{
	size_t i, k = hash_index(id->hash);

	for (i = 0; i < o->n_cas; i++)
		if (memcmp(o->cas[i].name_hash[k], id->name_hash, id->hash_len) == 0 &&
		    memcmp(o->cas[i].key_hash[k], id->key_hash, id->hash_len) == 0)
			return &o->cas[i];
	return NULL;
}

/* Reads the store's status of id (issued by oc) into a. */
static int
lookup(struct be_ocsp *o, struct ocsp_ca *oc, const struct be_ocsp_certid *id,
       struct answer *a, struct be_err *e)
{
	const unsigned char *p = id->serial;
	size_t n = id->serial_len;
	char hex[2 * BE_OCSP_SERIAL_MAX + 1];
	size_t i;
	int rc;

	a->id = id;
	a->found = false;
	memset(&a->st, 0, sizeof(a->st));
	/* RFC 5280 4.1.2.2: serials are positive and at most 20 octets; others are not ours. */
	if (p[0] & 0x80)
		return BE_OK;
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n == 0 || n > 20)
		return BE_OK;
	be_serial_hex(p, n, hex, sizeof(hex));
	rc = be_store_cert_status(o->ctx->store, oc->ca->id, hex, &a->st, e);
	if (rc == BE_E_NOTFOUND) {
		be_err_clear(e);
		/* A configured CA's own certificate is good while it is configured. */
		for (i = 0; i < oc->n_subs; i++) {
			const unsigned char *q = oc->subs[i].serial;
			size_t m = oc->subs[i].len;

			while (m > 0 && q[0] == 0) {
				q++;
				m--;
			}
			if (m == n && memcmp(q, p, n) == 0) {
				memset(&a->st, 0, sizeof(a->st));
				a->st.status = BE_CERT_VALID;
				a->st.reason = -1;
				a->found = true;
			}
		}
		return BE_OK;
	}
	if (rc != BE_OK)
		return rc;
	a->found = true;
	return BE_OK;
}

static size_t
cache_slot(const struct be_ocsp_certid *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < id->serial_len; i++)
		h = (h ^ id->serial[i]) * 16777619u;
	h = (h ^ (uint32_t)hash_index(id->hash)) * 16777619u;
	h = (h ^ (uint32_t)id->params_null) * 16777619u;
	return h & (CACHE_SLOTS - 1);
}

static bool
cache_matches(const struct cache_entry *c, const struct answer *a, uint64_t gen)
{
	const struct be_ocsp_certid *id = a->id;

	return c->used && c->gen == gen && c->hash == hash_index(id->hash) &&
	       c->params_null == id->params_null && c->serial_len == id->serial_len &&
	       memcmp(c->serial, id->serial, id->serial_len) == 0 && c->found == a->found &&
	       (!a->found || (c->st.id == a->st.id && c->st.status == a->st.status &&
			      c->st.reason == a->st.reason &&
			      c->st.revoked_at == a->st.revoked_at));
}

static void
etag_of(const gnutls_datum_t *der, char out[33])
{
	unsigned char md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, md) < 0)
		memset(md, 0, sizeof(md));
	be_serial_hex(md, 16, out, 33);
}

static void
count_answers(const struct answer *ans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		stat_add(!ans[i].found ? BE_OCSP_STAT_UNKNOWN :
			 ans[i].st.status == BE_CERT_VALID ? BE_OCSP_STAT_GOOD :
			 BE_OCSP_STAT_REVOKED);
}

static int
fail(enum be_ocsp_status status, struct be_ocsp_reply *out, struct be_err *e)
{
	struct be_err ignore = { 0, "" };
	int stat = status == BE_OCSP_MALFORMED ? BE_OCSP_STAT_MALFORMED :
		   status == BE_OCSP_UNAUTHORIZED ? BE_OCSP_STAT_UNAUTHORIZED :
		   status == BE_OCSP_TRY_LATER ? BE_OCSP_STAT_TRY_LATER :
		   BE_OCSP_STAT_INTERNAL_ERROR;

	(void)e;
	be_datum_free(&out->der);
	out->status = status;
	out->cacheable = false;
	out->from_cache = false;
	stat_add(stat);
	return encode_error(status, &out->der, &ignore);
}

int
be_ocsp_respond(struct be_ocsp *o, const unsigned char *der, size_t len,
		struct be_ocsp_reply *out, struct be_err *e)
{
	struct be_ocsp_req *req = NULL;
	struct answer ans[BE_OCSP_MAX_CERTIDS];
	struct ocsp_ca *oc = NULL;
	struct cache_entry *c;
	struct signer *s;
	time_t now = time(NULL), next;
	uint64_t gen;
	size_t i, slot = 0;
	bool cacheable;
	int rc;

	memset(out, 0, sizeof(*out));
	if (o->ctx->store == NULL) {
		be_err_set(e, BE_E_UNAVAILABLE, "OCSP: no store to answer from");
		rc = fail(BE_OCSP_TRY_LATER, out, e);
		goto out;
	}
	if (len > o->conf.max_request) {
		be_err_set(e, BE_E_TOOBIG, "OCSP request of %zu bytes; the limit is %zu", len,
			   o->conf.max_request);
		rc = fail(BE_OCSP_MALFORMED, out, e);
		goto out;
	}
	if ((req = malloc(sizeof(*req))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (be_ocsp_req_parse(der, len, o->conf.max_certids, req, e) != BE_OK) {
		rc = fail(BE_OCSP_MALFORMED, out, e);
		goto out;
	}
	/* RFC 5019 2.2.3 / RFC 6960 2.3: one signer answers for one CA; a CertID of another
	 * issuer is not ours to answer. */
	for (i = 0; i < req->n; i++) {
		struct ocsp_ca *x = find_ca(o, &req->ids[i]);

		if (x == NULL || (oc != NULL && x != oc)) {
			be_err_set(e, BE_E_FORBIDDEN, x == NULL ? "OCSP: CertID %zu names an issuer "
				   "this responder does not serve" : "OCSP: CertID %zu names "
				   "another CA than the first", i + 1);
			rc = fail(BE_OCSP_UNAUTHORIZED, out, e);
			goto out;
		}
		oc = x;
	}
	for (i = 0; i < req->n; i++) {
		if ((rc = lookup(o, oc, &req->ids[i], &ans[i], e)) != BE_OK) {
			rc = fail(rc == BE_E_UNAVAILABLE ? BE_OCSP_TRY_LATER :
				  BE_OCSP_INTERNAL_ERROR, out, e);
			goto out;
		}
	}
	if (signer_ensure(o, oc, now, e) != BE_OK) {
		rc = fail(BE_OCSP_TRY_LATER, out, e);
		goto out;
	}
	cacheable = req->n == 1 && !req->has_nonce;

	pthread_rwlock_rdlock(&oc->lock);
	s = oc->signer;
	gen = s->gen;
	if (cacheable) {
		slot = cache_slot(&req->ids[0]);
		pthread_mutex_lock(&oc->cache_mu);
		c = &oc->cache[slot];
		if (cache_matches(c, &ans[0], gen) &&
		    now < c->produced + (time_t)o->conf.cache_seconds && now < c->next_update &&
		    (out->der.data = gnutls_malloc(c->der.size)) != NULL) {
			memcpy(out->der.data, c->der.data, c->der.size);
			out->der.size = c->der.size;
			out->produced_at = out->this_update = c->produced;
			out->next_update = c->next_update;
			memcpy(out->etag, c->etag, sizeof(out->etag));
			out->from_cache = true;
		}
		pthread_mutex_unlock(&oc->cache_mu);
	}
	rc = BE_OK;
	if (!out->from_cache) {
		next = now + (time_t)o->conf.response_validity;
		if (next > s->not_after)
			next = s->not_after;
		rc = encode_basic(s, req, ans, req->n, now, next, &out->der, e);
		out->produced_at = out->this_update = now;
		out->next_update = next;
		if (rc == BE_OK)
			etag_of(&out->der, out->etag);
	}
	pthread_rwlock_unlock(&oc->lock);
	if (rc != BE_OK) {
		rc = fail(rc == BE_E_UNAVAILABLE ? BE_OCSP_TRY_LATER : BE_OCSP_INTERNAL_ERROR,
			  out, e);
		goto out;
	}
	if (cacheable && !out->from_cache) {
		pthread_mutex_lock(&oc->cache_mu);
		c = &oc->cache[slot];
		be_datum_free(&c->der);
		memset(c, 0, sizeof(*c));
		if ((c->der.data = gnutls_malloc(out->der.size)) != NULL) {
			memcpy(c->der.data, out->der.data, out->der.size);
			c->der.size = out->der.size;
			c->used = true;
			c->hash = hash_index(req->ids[0].hash);
			c->params_null = req->ids[0].params_null;
			memcpy(c->serial, req->ids[0].serial, req->ids[0].serial_len);
			c->serial_len = req->ids[0].serial_len;
			c->found = ans[0].found;
			c->st = ans[0].st;
			c->gen = gen;
			c->produced = out->produced_at;
			c->next_update = out->next_update;
			memcpy(c->etag, out->etag, sizeof(c->etag));
		}
		pthread_mutex_unlock(&oc->cache_mu);
	}
	if (out->from_cache)
		atomic_fetch_add_explicit(&stat_cache_hits, 1, memory_order_relaxed);
	out->status = BE_OCSP_SUCCESSFUL;
	out->cacheable = cacheable;
	out->fresh_until = out->produced_at + (time_t)o->conf.cache_seconds;
	if (out->fresh_until > out->next_update)
		out->fresh_until = out->next_update;
	count_answers(ans, req->n);
out:
	free(req);
	return rc;
}
