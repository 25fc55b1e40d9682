/*
 * CA loading and signing.  Certificates are assembled with GnuTLS' crt API and signed with
 * gnutls_x509_crt_privkey_sign, so the key may be a file or a PKCS#11 object.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "be_asn1.h"
#include "be_ca.h"
#include "be_crl.h"
#include "be_json.h"

#define CA_FILE_MAX (1024 * 1024)

char *
be_path_join(const char *basedir, const char *path)
{
	size_t a, b;
	char *s;

	if (path == NULL)
		return NULL;
	if (path[0] == '/' || basedir == NULL || basedir[0] == '\0' ||
	    strncmp(path, "pkcs11:", 7) == 0)
		return strdup(path);
	a = strlen(basedir);
	b = strlen(path);
	if ((s = malloc(a + b + 2)) == NULL)
		return NULL;
	memcpy(s, basedir, a);
	s[a] = '/';
	memcpy(s + a + 1, path, b + 1);
	return s;
}

int
be_file_read(const char *path, size_t max, unsigned char **out, size_t *len, struct be_err *e)
{
	FILE *f = NULL;
	unsigned char *buf = NULL;
	struct stat st;
	size_t n;
	int rc = BE_OK;

	*out = NULL;
	*len = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = be_err_set(e, BE_E_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = be_err_set(e, BE_E_TOOBIG, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size) {
		rc = be_err_set(e, BE_E_IO, "%s: short read", path);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

int
be_serial_new(unsigned char *buf, size_t *len, struct be_err *e)
{
	struct timespec ts;
	uint64_t ms;
	int i;

	if (gnutls_rnd(GNUTLS_RND_NONCE, buf + BE_SERIAL_TIME_OCTETS + 1,
		       BE_SERIAL_RANDOM_OCTETS) != 0)
		return be_err_set(e, BE_E_CRYPTO, "random number generator failed");
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		ts.tv_sec = ts.tv_nsec = 0;
	ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	buf[0] = 0x40;
	for (i = BE_SERIAL_TIME_OCTETS; i >= 1; i--, ms >>= 8)
		buf[i] = (unsigned char)ms;
	*len = 1 + BE_SERIAL_TIME_OCTETS + BE_SERIAL_RANDOM_OCTETS;
	return BE_OK;
}

void
be_serial_hex(const unsigned char *serial, size_t len, char *buf, size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, o = 0;

	while (i + 1 < len && serial[i] == 0)
		i++;
	for (; i < len && o + 2 < buflen; i++) {
		buf[o++] = hex[serial[i] >> 4];
		buf[o++] = hex[serial[i] & 0xf];
	}
	if (buflen > 0)
		buf[o] = '\0';
}

void
be_serial_dec(const unsigned char *serial, size_t len, char *buf, size_t buflen)
{
	unsigned char num[32];
	char tmp[80];
	size_t n = len < sizeof(num) ? len : sizeof(num), t = 0, i;
	bool zero;

	memcpy(num, serial, n);
	do {
		unsigned rem = 0;

		zero = true;
		for (i = 0; i < n; i++) {
			unsigned cur = rem * 256 + num[i];

			num[i] = (unsigned char)(cur / 10);
			rem = cur % 10;
			if (num[i] != 0)
				zero = false;
		}
		tmp[t++] = (char)('0' + rem);
	} while (!zero && t < sizeof(tmp));
	for (i = 0; i < t && i + 1 < buflen; i++)
		buf[i] = tmp[t - 1 - i];
	if (buflen > 0)
		buf[i < buflen ? i : buflen - 1] = '\0';
}

static int
chain_append(struct be_ca *ca, const gnutls_datum_t *der, struct be_err *e)
{
	gnutls_datum_t *n;

	n = realloc(ca->chain, (ca->n_chain + 1) * sizeof(*n));
	if (n == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	ca->chain = n;
	n[ca->n_chain].data = gnutls_malloc(der->size);
	if (n[ca->n_chain].data == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	memcpy(n[ca->n_chain].data, der->data, der->size);
	n[ca->n_chain].size = der->size;
	ca->n_chain++;
	return BE_OK;
}

/* Appends every certificate of a PEM file to the chain; the first becomes ca->crt if unset. */
static int
load_certs(struct be_ca *ca, const char *file, const char *path, struct be_err *e)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned char *buf = NULL;
	unsigned n = 0, i;
	size_t len;
	gnutls_datum_t in, der = { NULL, 0 };
	int rc, r;

	if ((rc = be_file_read(file, CA_FILE_MAX, &buf, &len, e)) != BE_OK)
		goto out;
	in.data = buf;
	in.size = (unsigned)len;
	r = gnutls_x509_crt_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n == 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: %s: no PEM certificate (%s)", path, file,
				r < 0 ? gnutls_strerror(r) : "empty");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_DER, &der) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "%s: %s: cannot re-encode", path, file);
			goto out;
		}
		if ((rc = chain_append(ca, &der, e)) != BE_OK)
			goto out;
		be_datum_free(&der);
		if (ca->crt == NULL) {
			ca->crt = list[i];
			list[i] = NULL;
		}
	}
out:
	be_datum_free(&der);
	for (i = 0; i < n; i++)
		if (list[i] != NULL)
			gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	free(buf);
	return rc;
}

static int
load_key(struct be_ca *ca, const char *file, const char *path, struct be_err *e)
{
	unsigned char *buf = NULL;
	size_t len;
	gnutls_datum_t in;
	int rc = BE_OK, r;

	if ((r = gnutls_privkey_init(&ca->key)) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (strncmp(file, "pkcs11:", 7) == 0) {
		r = gnutls_privkey_import_url(ca->key, file, 0);
		if (r < 0)
			rc = be_err_set(e, BE_E_UNAVAILABLE, "%s.key: PKCS#11 key unavailable: %s",
					path, gnutls_strerror(r));
		goto out;
	}
	if ((rc = be_file_read(file, CA_FILE_MAX, &buf, &len, e)) != BE_OK)
		goto out;
	in.data = buf;
	in.size = (unsigned)len;
	r = gnutls_privkey_import_x509_raw(ca->key, &in, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0)
		rc = be_err_set(e, BE_E_CONFIG, "%s.key: %s: not an unencrypted PEM private key (%s)",
				path, file, gnutls_strerror(r));
out:
	if (buf != NULL) {
		be_memzero(buf, len);
		free(buf);
	}
	return rc;
}

static int
check_ca(struct be_ca *ca, const char *path, struct be_err *e)
{
	gnutls_pubkey_t pub = NULL;
	unsigned char kid1[64], kid2[64];
	size_t l1 = sizeof(kid1), l2 = sizeof(kid2);
	unsigned critical, ca_flag = 0, ku = 0;
	int rc = BE_OK, r;

	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, ca->key, 0, 0) < 0) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.key: cannot read its public key", path);
		goto out;
	}
	if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, kid1, &l1) < 0 ||
	    gnutls_x509_crt_get_key_id(ca->crt, GNUTLS_KEYID_USE_SHA256, kid2, &l2) < 0 ||
	    !be_ct_equal(kid1, l1, kid2, l2)) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: the key does not belong to the certificate",
				path);
		goto out;
	}
	r = gnutls_x509_crt_get_basic_constraints(ca->crt, &critical, &ca_flag, NULL);
	if (r < 0 || !ca_flag) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.certificate: not a CA (basicConstraints cA)",
				path);
		goto out;
	}
	r = gnutls_x509_crt_get_key_usage(ca->crt, &ku, &critical);
	if (r >= 0 && !(ku & GNUTLS_KEY_KEY_CERT_SIGN)) {
		rc = be_err_set(e, BE_E_CONFIG, "%s.certificate: keyUsage lacks keyCertSign", path);
		goto out;
	}
	ca->ski_len = sizeof(ca->ski);
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, ca->ski, &ca->ski_len, &critical) < 0) {
		ca->ski_len = sizeof(ca->ski);
		if (gnutls_x509_crt_get_key_id(ca->crt, GNUTLS_KEYID_USE_SHA1, ca->ski,
					       &ca->ski_len) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot compute a key identifier", path);
			goto out;
		}
	}
	be_serial_hex(ca->ski, ca->ski_len, ca->id, sizeof(ca->id));
	ca->not_after = gnutls_x509_crt_get_expiration_time(ca->crt);
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return rc;
}

static int
parse_hash(const char *s, gnutls_digest_algorithm_t *out)
{
	if (strcmp(s, "sha256") == 0)
		*out = GNUTLS_DIG_SHA256;
	else if (strcmp(s, "sha384") == 0)
		*out = GNUTLS_DIG_SHA384;
	else if (strcmp(s, "sha512") == 0)
		*out = GNUTLS_DIG_SHA512;
	else
		return BE_E_CONFIG;
	return BE_OK;
}

int
be_ca_load(const char *name, const json_t *conf, const char *path, const char *basedir,
	   struct be_ca **out, struct be_err *e)
{
	static const char *const keys[] = { "certificate", "key", "chain", "hash", "crl_shards",
					    NULL };
	struct be_ca *ca = NULL;
	const char *cert = NULL, *key = NULL, *chain = NULL, *hash = NULL;
	unsigned long long shards = 1;
	char *f = NULL;
	gnutls_x509_crt_t anchor = NULL;
	unsigned hbits = 0;
	int rc;

	*out = NULL;
	if ((rc = be_json_keys(conf, path, keys, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(conf, path, "certificate", true, &cert, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(conf, path, "key", true, &key, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(conf, path, "chain", false, &chain, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(conf, path, "hash", false, &hash, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_uint(conf, path, "crl_shards", false, 1, 1024, &shards, BE_E_CONFIG,
			       e)) != BE_OK)
		goto out;
	if ((ca = calloc(1, sizeof(*ca))) == NULL || (ca->name = strdup(name)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((f = be_path_join(basedir, cert)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = load_certs(ca, f, path, e)) != BE_OK)
		goto out;
	free(f);
	f = NULL;
	if (chain != NULL) {
		if ((f = be_path_join(basedir, chain)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = load_certs(ca, f, path, e)) != BE_OK)
			goto out;
		free(f);
		f = NULL;
	}
	if ((f = be_path_join(basedir, key)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = load_key(ca, f, path, e)) != BE_OK || (rc = check_ca(ca, path, e)) != BE_OK)
		goto out;
	if (hash != NULL) {
		if (parse_hash(hash, &ca->hash) != BE_OK) {
			rc = be_err_set(e, BE_E_CONFIG, "%s.hash: must be sha256, sha384 or sha512",
					path);
			goto out;
		}
	} else {
		int alg = gnutls_privkey_get_pk_algorithm(ca->key, &hbits);

		if (alg == GNUTLS_PK_EDDSA_ED25519 || alg == GNUTLS_PK_EDDSA_ED448)
			ca->hash = GNUTLS_DIG_UNKNOWN;
		else if (alg == GNUTLS_PK_ECDSA && hbits > 384)
			ca->hash = GNUTLS_DIG_SHA512;
		else if (alg == GNUTLS_PK_ECDSA && hbits > 256)
			ca->hash = GNUTLS_DIG_SHA384;
		else
			ca->hash = GNUTLS_DIG_SHA256;
	}
	if (gnutls_x509_trust_list_init(&ca->trust, 0) < 0 ||
	    gnutls_x509_crt_init(&anchor) < 0 ||
	    gnutls_x509_crt_import(anchor, &ca->chain[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_trust_list_add_cas(ca->trust, &anchor, 1, 0) != 1) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot build the trust list", path);
		goto out;
	}
	anchor = NULL;
	ca->crl_shards = (unsigned)shards;
	*out = ca;
	ca = NULL;
out:
	if (anchor != NULL)
		gnutls_x509_crt_deinit(anchor);
	free(f);
	be_ca_free(ca);
	return rc;
}

void
be_ca_free(struct be_ca *ca)
{
	size_t i;

	if (ca == NULL)
		return;
	free(ca->name);
	if (ca->crt != NULL)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->key != NULL)
		gnutls_privkey_deinit(ca->key);
	for (i = 0; i < ca->n_chain; i++)
		be_datum_free(&ca->chain[i]);
	free(ca->chain);
	if (ca->trust != NULL)
		gnutls_x509_trust_list_deinit(ca->trust, 1);
	free(ca);
}

int
be_pubkey_key_id(gnutls_pubkey_t pub, unsigned char out[20], struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	asn1_node spki = NULL;
	unsigned char *bits = NULL;
	int nbits = 0, n, rc;

	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the public key");
		goto out;
	}
	if ((rc = be_asn1_decode("CERTGATE.SubjectPublicKeyInfo", der.data, der.size,
				 "public key", &spki, e)) != BE_OK)
		goto out;
	if (asn1_read_value(spki, "subjectPublicKey", NULL, &nbits) != ASN1_MEM_ERROR ||
	    nbits <= 0 || nbits % 8 != 0 || (bits = malloc((size_t)nbits / 8)) == NULL) {
		rc = be_err_set(e, BE_E_CRYPTO, "public key: not whole octets");
		goto out;
	}
	n = nbits / 8;
	if (asn1_read_value(spki, "subjectPublicKey", bits, &n) != ASN1_SUCCESS ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA1, bits, (size_t)nbits / 8, out) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot compute the key identifier");
		goto out;
	}
	rc = BE_OK;
out:
	free(bits);
	if (spki != NULL)
		asn1_delete_structure(&spki);
	be_datum_free(&der);
	return rc;
}

static int
set_sans(gnutls_x509_crt_t crt, const struct be_tbs *tbs, struct be_err *e)
{
	gnutls_subject_alt_names_t sans = NULL;
	gnutls_datum_t der = { NULL, 0 };
	size_t i;
	int rc = BE_OK;

	if (tbs->sans == NULL || tbs->sans->n == 0)
		goto out;
	if (gnutls_subject_alt_names_init(&sans) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < tbs->sans->n; i++) {
		const struct be_san *s = &tbs->sans->v[i];
		gnutls_datum_t d;
		unsigned type;

		switch (s->type) {
		case BE_SAN_DNS:
			type = GNUTLS_SAN_DNSNAME;
			break;
		case BE_SAN_EMAIL:
			type = GNUTLS_SAN_RFC822NAME;
			break;
		case BE_SAN_URI:
			type = GNUTLS_SAN_URI;
			break;
		case BE_SAN_IP:
			type = GNUTLS_SAN_IPADDRESS;
			break;
		default:
			rc = be_err_set(e, BE_E_INTERNAL, "unknown SAN type");
			goto out;
		}
		if (s->type == BE_SAN_IP) {
			d.data = (unsigned char *)s->ip;
			d.size = s->iplen;
		} else {
			d.data = (unsigned char *)s->value;
			d.size = (unsigned)strlen(s->value);
		}
		if (gnutls_subject_alt_names_set(sans, type, &d, NULL) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot encode subjectAltName");
			goto out;
		}
	}
	if (gnutls_x509_ext_export_subject_alt_names(sans, &der) < 0 ||
	    gnutls_x509_crt_set_extension_by_oid(crt, GNUTLS_X509EXT_OID_SAN, der.data, der.size,
						 tbs->subject == NULL || tbs->subject->n == 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode subjectAltName");
		goto out;
	}
out:
	be_datum_free(&der);
	if (sans != NULL)
		gnutls_subject_alt_names_deinit(sans);
	return rc;
}

/* Appends one RDN.  GnuTLS picks the string type for attributes it knows; others (e.g.
 * organizationIdentifier, 2.5.4.97, RFC 5280 DirectoryString) go in as a UTF8String it is
 * given ready-encoded. */
static int
set_rdn(gnutls_x509_crt_t crt, const char *oid, const char *value)
{
	unsigned char tl[ASN1_MAX_TL_SIZE], *der = NULL;
	unsigned tl_len = sizeof(tl), len = (unsigned)strlen(value);
	int r;

	if (gnutls_x509_dn_oid_known(oid))
		return gnutls_x509_crt_set_dn_by_oid(crt, oid, 0, value, len);
	if (asn1_encode_simple_der(ASN1_ETYPE_UTF8_STRING, (const unsigned char *)value, len,
				   tl, &tl_len) != ASN1_SUCCESS ||
	    (der = malloc(tl_len + len)) == NULL)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(der, tl, tl_len);
	memcpy(der + tl_len, value, len);
	r = gnutls_x509_crt_set_dn_by_oid(crt, oid, 1, der, tl_len + len);
	free(der);
	return r;
}

/* RFC 5280 4.2.1.13 CRLDistributionPoints (the partition of this serial when the CA's CRL
 * is partitioned, be_crl.h) and 4.2.2.1 authorityInfoAccess (OCSP, caIssuers). */
static int
set_revocation_urls(gnutls_x509_crt_t crt, const struct be_ca *ca, const struct be_tbs *tbs,
		    struct be_err *e)
{
	char url[1100];
	gnutls_datum_t d;
	int rc = BE_OK;

	if (tbs->crl_url != NULL) {
		if (ca->crl_shards > 1)
			rc = be_crl_shard_url(tbs->crl_url, be_crl_shard(tbs->serial,
					      tbs->serial_len, ca->crl_shards), url, sizeof(url), e);
		else
			snprintf(url, sizeof(url), "%s", tbs->crl_url);
		if (rc != BE_OK)
			return rc;
		if (gnutls_x509_crt_set_crl_dist_points2(crt, GNUTLS_SAN_URI, url,
							 (unsigned)strlen(url), 0) < 0)
			return be_err_set(e, BE_E_CRYPTO, "cannot set CRLDistributionPoints");
	}
	if (tbs->ocsp_url != NULL) {
		d.data = (unsigned char *)tbs->ocsp_url;
		d.size = (unsigned)strlen(tbs->ocsp_url);
		if (gnutls_x509_crt_set_authority_info_access(crt, GNUTLS_IA_OCSP_URI, &d) < 0)
			return be_err_set(e, BE_E_CRYPTO, "cannot set authorityInfoAccess OCSP");
	}
	if (tbs->ca_issuers_url != NULL) {
		d.data = (unsigned char *)tbs->ca_issuers_url;
		d.size = (unsigned)strlen(tbs->ca_issuers_url);
		if (gnutls_x509_crt_set_authority_info_access(crt, GNUTLS_IA_CAISSUERS_URI, &d) < 0)
			return be_err_set(e, BE_E_CRYPTO, "cannot set authorityInfoAccess caIssuers");
	}
	return BE_OK;
}

int
be_ca_sign(const struct be_ca *ca, const struct be_tbs *tbs, gnutls_datum_t *der,
	   struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned char kid[64];
	size_t kidlen = sizeof(kid), i;
	int rc = BE_OK, r;

	der->data = NULL;
	der->size = 0;
	if (gnutls_x509_crt_init(&crt) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, tbs->serial, tbs->serial_len) < 0 ||
	    gnutls_x509_crt_set_pubkey(crt, tbs->pubkey) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, tbs->not_before) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, tbs->not_after) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot set certificate fields");
		goto out;
	}
	for (i = 0; tbs->subject != NULL && i < tbs->subject->n; i++) {
		const struct be_rdn *rdn = &tbs->subject->v[i];

		r = set_rdn(crt, be_dn_info(rdn->attr)->oid, rdn->value);
		if (r < 0) {
			rc = be_err_set(e, BE_E_POLICY, "subject %s: cannot be encoded (%s)",
					be_dn_info(rdn->attr)->key, gnutls_strerror(r));
			goto out;
		}
	}
	if (gnutls_x509_crt_set_basic_constraints(crt, tbs->is_ca, tbs->is_ca ? tbs->path_len : -1) < 0 ||
	    (tbs->key_usage != 0 && gnutls_x509_crt_set_key_usage(crt, tbs->key_usage) < 0)) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot set constraints");
		goto out;
	}
	for (i = 0; i < tbs->n_eku; i++) {
		if (gnutls_x509_crt_set_key_purpose_oid(crt, tbs->eku[i], 0) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot set extendedKeyUsage %s", tbs->eku[i]);
			goto out;
		}
	}
	if ((rc = set_sans(crt, tbs, e)) != BE_OK)
		goto out;
	/* RFC 6960 4.2.2.2.1: id-pkix-ocsp-nocheck, extnValue NULL, not critical. */
	if (tbs->ocsp_nocheck &&
	    gnutls_x509_crt_set_extension_by_oid(crt, "1.3.6.1.5.5.7.48.1.5", "\x05\x00", 2,
						 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot set id-pkix-ocsp-nocheck");
		goto out;
	}
	if ((rc = be_pubkey_key_id(tbs->pubkey, kid, e)) != BE_OK)
		goto out;
	kidlen = 20;
	if (gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen) < 0 ||
	    gnutls_x509_crt_set_authority_key_id(crt, ca->ski, ca->ski_len) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot set key identifiers");
		goto out;
	}
	if ((rc = set_revocation_urls(crt, ca, tbs, e)) != BE_OK)
		goto out;
	r = gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->key, ca->hash, 0);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s could not sign: %s", ca->name,
				gnutls_strerror(r));
		goto out;
	}
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the certificate");
		goto out;
	}
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

int
be_ca_verify(const struct be_ca *ca, const gnutls_datum_t *der, time_t now,
	     gnutls_x509_crt_t *out, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned status = 0;
	int rc = BE_OK;

	if (out != NULL)
		*out = NULL;
	if (gnutls_x509_crt_init(&crt) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate: not a DER certificate");
		goto out;
	}
	if (gnutls_x509_trust_list_verify_crt2(ca->trust, &crt, 1, NULL, 0,
					       GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
					       GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
					       &status, NULL) < 0 || status != 0) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate: not issued by CA %s",
				ca->name);
		goto out;
	}
	if (gnutls_x509_crt_get_activation_time(crt) > now) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate: not yet valid");
		goto out;
	}
	if (gnutls_x509_crt_get_expiration_time(crt) < now) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate: expired");
		goto out;
	}
	if (out != NULL) {
		*out = crt;
		crt = NULL;
	}
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}
