/*
 * RFC 7030 4.5.2 CSR attributes from a profile, and the signer of server-generated keys
 * (RFC 7030 4.4.2).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be_asn1.h"
#include "be_ca.h"
#include "be_csrattrs.h"
#include "be_profile.h"

#define OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"	/* RFC 2985 5.4.1 */
#define OID_EC_PUBLIC_KEY "1.2.840.10045.2.1"		/* RFC 5480 2.1.1 */
#define OID_RSA_ENCRYPTION "1.2.840.113549.1.1.1"	/* RFC 8017 A.1 */
#define OID_ED25519 "1.3.101.112"			/* RFC 8410 3 */

#define PEM_MAX (1024 * 1024)

/* RFC 5480 2.1.1.1 named curves. */
static const char *
curve_oid(unsigned bits)
{
	switch (bits) {
	case 256: return "1.2.840.10045.3.1.7";		/* secp256r1 */
	case 384: return "1.3.132.0.34";		/* secp384r1 */
	case 521: return "1.3.132.0.35";		/* secp521r1 */
	default: return NULL;
	}
}

/* RFC 4055 5 / RFC 5758 3.2: the signature algorithm for a key family and hash. */
static const char *
sig_oid(enum be_key_alg alg, gnutls_digest_algorithm_t h)
{
	if (alg == BE_KEY_RSA) {
		switch (h) {
		case GNUTLS_DIG_SHA384: return "1.2.840.113549.1.1.12";
		case GNUTLS_DIG_SHA512: return "1.2.840.113549.1.1.13";
		default: return "1.2.840.113549.1.1.11";
		}
	}
	if (alg == BE_KEY_EC) {
		switch (h) {
		case GNUTLS_DIG_SHA384: return "1.2.840.10045.4.3.3";
		case GNUTLS_DIG_SHA512: return "1.2.840.10045.4.3.4";
		default: return "1.2.840.10045.4.3.2";
		}
	}
	return NULL;
}

static int
tasn_err(int r, const char *what, struct be_err *e)
{
	return be_err_set(e, r == ASN1_MEM_ERROR || r == ASN1_MEM_ALLOC_ERROR ? BE_E_NOMEM :
			  BE_E_INTERNAL, "CsrAttrs: %s: %s", what, asn1_strerror(r));
}

/* Appends AttrOrOID oid. */
static int
add_oid(asn1_node el, const char *oid, size_t *count, struct be_err *e)
{
	int r;

	if ((r = asn1_write_value(el, "", "NEW", 1)) != ASN1_SUCCESS ||
	    (r = asn1_write_value(el, "?LAST", "oid", 1)) != ASN1_SUCCESS ||
	    (r = asn1_write_value(el, "?LAST.oid", oid, 1)) != ASN1_SUCCESS)
		return tasn_err(r, oid, e);
	(*count)++;
	return BE_OK;
}

/* The DER of OBJECT IDENTIFIER oid, into *out (caller be_datum_free). */
static int
oid_der(const char *oid, gnutls_datum_t *out, struct be_err *e)
{
	asn1_node v = NULL;
	asn1_node defs = be_asn1_module("EST.OIDValue");
	int r, rc;

	if (defs == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 module EST did not load");
		goto out;
	}
	if ((r = asn1_create_element(defs, "EST.OIDValue", &v)) != ASN1_SUCCESS ||
	    (r = asn1_write_value(v, "", oid, 1)) != ASN1_SUCCESS) {
		rc = tasn_err(r, oid, e);
		goto out;
	}
	rc = be_asn1_encode(v, out, e);
out:
	asn1_delete_structure(&v);
	return rc;
}

/* Appends AttrOrOID attribute { type, values = the OIDs in vals } (n >= 1). */
static int
add_attr_oids(asn1_node el, const char *type, const char *const *vals, size_t n,
	      size_t *count, struct be_err *e)
{
	gnutls_datum_t d = { NULL, 0 };
	size_t i;
	int r, rc = BE_OK;

	if ((r = asn1_write_value(el, "", "NEW", 1)) != ASN1_SUCCESS ||
	    (r = asn1_write_value(el, "?LAST", "attribute", 1)) != ASN1_SUCCESS ||
	    (r = asn1_write_value(el, "?LAST.attribute.type", type, 1)) != ASN1_SUCCESS) {
		rc = tasn_err(r, type, e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rc = oid_der(vals[i], &d, e)) != BE_OK)
			goto out;
		if ((r = asn1_write_value(el, "?LAST.attribute.values", "NEW", 1)) !=
		    ASN1_SUCCESS ||
		    (r = asn1_write_value(el, "?LAST.attribute.values.?LAST", d.data,
					  (int)d.size)) != ASN1_SUCCESS) {
			rc = tasn_err(r, vals[i], e);
			goto out;
		}
		be_datum_free(&d);
	}
	(*count)++;
out:
	be_datum_free(&d);
	return rc;
}

int
be_csrattrs_encode(const struct be_profile *p, gnutls_datum_t *out, struct be_err *e)
{
	asn1_node defs = be_asn1_module("EST.CsrAttrs");
	asn1_node el = NULL;
	const char *curves[BE_PROFILE_MAX_KEYTYPES];
	gnutls_digest_algorithm_t hash;
	size_t i, n_curves = 0, count = 0;
	bool rsa = false, ec = false, ed = false;
	int r, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (defs == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 module EST did not load");
		goto out;
	}
	if ((r = asn1_create_element(defs, "EST.CsrAttrs", &el)) != ASN1_SUCCESS) {
		rc = tasn_err(r, "create", e);
		goto out;
	}
	/* RFC 7030 3.5 / 4.5.2: the client is to put the channel binding there. */
	if (p->pop_linking && (rc = add_oid(el, OID_CHALLENGE_PASSWORD, &count, e)) != BE_OK)
		goto out;
	for (i = 0; i < BE_DN__COUNT; i++) {
		if (p->subject[i] != BE_FIELD_REQUIRED)
			continue;
		if ((rc = add_oid(el, be_dn_info((enum be_dn_attr)i)->oid, &count, e)) != BE_OK)
			goto out;
	}
	for (i = 0; i < p->n_key_types; i++) {
		const struct be_keyspec *k = &p->key_types[i];
		const char *c;
		size_t j;
		bool dup = false;

		switch (k->alg) {
		case BE_KEY_RSA:
			rsa = true;
			break;
		case BE_KEY_ED25519:
			ed = true;
			break;
		case BE_KEY_EC:
			ec = true;
			if ((c = curve_oid(k->bits)) == NULL)
				break;
			for (j = 0; j < n_curves; j++)
				dup = dup || strcmp(curves[j], c) == 0;
			if (!dup)
				curves[n_curves++] = c;
			break;
		default:
			break;
		}
	}
	if (n_curves > 0 &&
	    (rc = add_attr_oids(el, OID_EC_PUBLIC_KEY, curves, n_curves, &count, e)) != BE_OK)
		goto out;
	if (rsa && (rc = add_oid(el, OID_RSA_ENCRYPTION, &count, e)) != BE_OK)
		goto out;
	if (ed && (rc = add_oid(el, OID_ED25519, &count, e)) != BE_OK)
		goto out;
	hash = p->ca != NULL ? p->ca->hash : GNUTLS_DIG_SHA256;
	if (ec && (rc = add_oid(el, sig_oid(BE_KEY_EC, hash), &count, e)) != BE_OK)
		goto out;
	if (rsa && (rc = add_oid(el, sig_oid(BE_KEY_RSA, hash), &count, e)) != BE_OK)
		goto out;
	if (count > 0)
		rc = be_asn1_encode(el, out, e);
out:
	asn1_delete_structure(&el);
	return rc;
}

/* ---------------------------------------------------------------- keygen signer */

void
be_est_signer_free(struct be_est_signer *s)
{
	if (s == NULL)
		return;
	be_datum_free(&s->cert);
	if (s->key != NULL)
		gnutls_privkey_deinit(s->key);
	free(s);
}

int
be_est_signer_load(const char *cert_file, const char *key_file, const char *what,
		   struct be_est_signer **out, struct be_err *e)
{
	struct be_est_signer *s = NULL;
	unsigned char *cbuf = NULL, *kbuf = NULL;
	size_t clen = 0, klen = 0;
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0, i, ku = 0, critical = 0;
	gnutls_pubkey_t pub = NULL;
	unsigned char id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	gnutls_datum_t d;
	struct be_err le = { 0, "" };
	int rc, r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_file_read(cert_file, PEM_MAX, &cbuf, &clen, &le)) != BE_OK ||
	    (rc = be_file_read(key_file, PEM_MAX, &kbuf, &klen, &le)) != BE_OK) {
		rc = be_err_set(e, rc, "%s: %s", what, le.msg);
		goto out;
	}
	d.data = cbuf;
	d.size = (unsigned)clen;
	r = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n == 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.certificate: %s: no PEM certificate (%s)",
				what, cert_file, r < 0 ? gnutls_strerror(r) : "empty");
		goto out;
	}
	if (gnutls_x509_crt_export2(list[0], GNUTLS_X509_FMT_DER, &s->cert) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s.certificate: cannot export it", what);
		goto out;
	}
	r = gnutls_x509_crt_get_key_usage(list[0], &ku, &critical);
	if (r >= 0 && !(ku & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.certificate: %s: keyUsage lacks "
				"digitalSignature (RFC 5280 4.2.1.3)", what, cert_file);
		goto out;
	}
	d.data = kbuf;
	d.size = (unsigned)klen;
	if (gnutls_privkey_init(&s->key) < 0) {
		s->key = NULL;
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	r = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.key: %s: %s", what, key_file,
				gnutls_strerror(r));
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, s->key, 0, 0) < 0 ||
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &l1) < 0 ||
	    gnutls_x509_crt_get_key_id(list[0], GNUTLS_KEYID_USE_SHA256, id2, &l2) < 0 ||
	    !be_ct_equal(id1, l1, id2, l2)) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: the key in %s does not belong to the "
				"certificate in %s", what, key_file, cert_file);
		goto out;
	}
	*out = s;
	s = NULL;
	rc = BE_OK;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	free(cbuf);
	if (kbuf != NULL) {
		be_memzero(kbuf, klen);
		free(kbuf);
	}
	be_est_signer_free(s);
	return rc;
}
