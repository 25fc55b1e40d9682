/*
 * CRL encoding (RFC 5280 section 5) with a small DER writer (X.690 10: definite lengths,
 * minimal encodings).  The structure written is CERTGATE.CertificateList in certgate.asn.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_ca.h"
#include "be_crl.h"

#define DER_SEQUENCE	0x30
#define DER_INTEGER	0x02
#define DER_BITSTRING	0x03
#define DER_OCTETSTRING	0x04
#define DER_NULL	0x05
#define DER_OID		0x06
#define DER_ENUMERATED	0x0a
#define DER_BOOLEAN	0x01
#define DER_UTCTIME	0x17
#define DER_GENTIME	0x18

/* A growing byte buffer. */
struct dbuf {
	unsigned char *p;
	size_t len, cap;
	bool failed;		/* an allocation failed; everything after is dropped */
};

struct be_crl_builder {
	struct dbuf entries;	/* concatenated revokedCertificates entries */
	size_t n;
};

static void
dbuf_reserve(struct dbuf *b, size_t more)
{
	unsigned char *np;
	size_t cap;

	if (b->failed || b->len + more <= b->cap)
		return;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void
dbuf_put(struct dbuf *b, const void *data, size_t n)
{
	dbuf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* Tag and definite length (X.690 8.1.3: short form below 128, else minimal long form). */
static void
dbuf_tl(struct dbuf *b, unsigned char tag, size_t len)
{
	unsigned char h[6];
	size_t n = 0, v;
	int bytes = 0;

	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else {
		for (v = len; v != 0; v >>= 8)
			bytes++;
		h[n++] = (unsigned char)(0x80 | bytes);
		while (bytes-- > 0)
			h[n++] = (unsigned char)(len >> (8 * bytes));
	}
	dbuf_put(b, h, n);
}

/* Octets of a tag and length header for len octets of contents. */
static size_t
tl_size(size_t len)
{
	size_t n = 2;

	if (len >= 0x80)
		for (; len != 0; len >>= 8)
			n++;
	return n;
}

static void
dbuf_tlv(struct dbuf *b, unsigned char tag, const void *data, size_t len)
{
	dbuf_tl(b, tag, len);
	dbuf_put(b, data, len);
}

/* Wraps src as the contents of a tag into b. */
static void
dbuf_wrap(struct dbuf *b, unsigned char tag, const struct dbuf *src)
{
	if (src->failed)
		b->failed = true;
	dbuf_tlv(b, tag, src->p, src->len);
}

static void
dbuf_free(struct dbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* An unsigned big-endian integer as a DER INTEGER: leading zero octets dropped, one 0x00
 * added when the high bit is set (X.690 8.3). */
static void
put_uint(struct dbuf *b, const unsigned char *v, size_t len)
{
	unsigned char z = 0;

	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	if (len == 0) {
		dbuf_tlv(b, DER_INTEGER, &z, 1);
		return;
	}
	if (v[0] & 0x80) {
		dbuf_tl(b, DER_INTEGER, len + 1);
		dbuf_put(b, &z, 1);
		dbuf_put(b, v, len);
	} else {
		dbuf_tlv(b, DER_INTEGER, v, len);
	}
}

/* RFC 5280 5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; both in Zulu with
 * seconds. */
static int
put_time(struct dbuf *b, time_t t)
{
	struct tm tm;
	char s[20];
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return BE_E_MALFORMED;
	if (tm.tm_year + 1900 >= 1950 && tm.tm_year + 1900 < 2050) {
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", tm.tm_year % 100,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		dbuf_tlv(b, DER_UTCTIME, s, (size_t)n);
	} else {
		if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
			return BE_E_MALFORMED;
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		dbuf_tlv(b, DER_GENTIME, s, (size_t)n);
	}
	return BE_OK;
}

/* A dotted OID as DER contents (X.690 8.19). */
static int
oid_der(const char *dotted, unsigned char *out, size_t cap, size_t *len)
{
	unsigned long arcs[32];
	size_t n = 0, o = 0, i;
	const char *p = dotted;
	char *end;

	while (*p != '\0' && n < 32) {
		if (*p < '0' || *p > '9')
			return BE_E_MALFORMED;
		arcs[n++] = strtoul(p, &end, 10);
		p = end;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return BE_E_MALFORMED;
	}
	if (n < 2 || *p != '\0' || arcs[0] > 2)
		return BE_E_MALFORMED;
	arcs[1] += arcs[0] * 40;
	for (i = 1; i < n; i++) {
		unsigned char tmp[10];
		size_t t = 0;
		unsigned long v = arcs[i];

		do {
			tmp[t++] = (unsigned char)(v & 0x7f);
			v >>= 7;
		} while (v != 0);
		if (o + t > cap)
			return BE_E_TOOBIG;
		while (t > 0) {
			t--;
			out[o++] = (unsigned char)(tmp[t] | (t > 0 ? 0x80 : 0));
		}
	}
	*len = o;
	return BE_OK;
}

/* ---------------------------------------------------------------- builder */

int
be_crl_builder_new(struct be_crl_builder **out, struct be_err *e)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

void
be_crl_builder_free(struct be_crl_builder *b)
{
	if (b == NULL)
		return;
	dbuf_free(&b->entries);
	free(b);
}

size_t
be_crl_builder_count(const struct be_crl_builder *b)
{
	return b->n;
}

int
be_crl_builder_add(struct be_crl_builder *b, const unsigned char *serial, size_t len,
		   time_t revoked_at, int reason, struct be_err *e)
{
	/* Extensions { Extension { reasonCode (2.5.29.21), OCTET STRING { ENUMERATED } } } */
	unsigned char ext[] = { 0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15,
				0x04, 0x03, DER_ENUMERATED, 0x01, 0x00 };
	unsigned char body[80];
	struct dbuf tmp = { body, 0, sizeof(body), false };
	size_t start;

	while (len > 1 && serial[0] == 0) {
		serial++;
		len--;
	}
	/* The DER INTEGER gains a 0x00 octet when the high bit is set: 20 octets at most. */
	if (len == 0 || len > 20 || (len == 20 && (serial[0] & 0x80)))
		return be_err_set(e, BE_E_MALFORMED, "CRL entry: serial is not a positive "
				  "integer of at most 20 octets (RFC 5280 4.1.2.2)");
	if (reason < 0 || reason > 10 || reason == 7 || reason == 8)
		return be_err_set(e, BE_E_MALFORMED, "CRL entry: %d is not a CRLReason for an "
				  "entry (RFC 5280 5.3.1)", reason);
	/* The entry's contents go into a stack buffer (at most 2+20+17+14 octets), then the
	 * SEQUENCE header and contents into the entries. */
	put_uint(&tmp, serial, len);
	if (put_time(&tmp, revoked_at) != BE_OK)
		return be_err_set(e, BE_E_MALFORMED, "CRL entry: revocation date out of range");
	if (reason != BE_CRL_REASON_UNSPECIFIED) {
		ext[sizeof(ext) - 1] = (unsigned char)reason;
		dbuf_put(&tmp, ext, sizeof(ext));
	}
	if (tmp.failed)
		return be_err_set(e, BE_E_INTERNAL, "CRL entry: larger than expected");
	start = b->entries.len;
	dbuf_tlv(&b->entries, DER_SEQUENCE, tmp.p, tmp.len);
	if (b->entries.failed) {
		b->entries.failed = false;
		b->entries.len = start;
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	}
	b->n++;
	return BE_OK;
}

int
be_crl_builder_add_hex(struct be_crl_builder *b, const char *hex, time_t revoked_at,
		       int reason, struct be_err *e)
{
	unsigned char serial[21];
	size_t n = strlen(hex), i, o = 0;
	int hi = -1;

	if (n == 0 || n > 42)
		return be_err_set(e, BE_E_MALFORMED, "CRL entry: serial \"%.48s\" is not hex", hex);
	/* An odd count of digits has an implied leading zero. */
	if (n % 2 == 1)
		hi = 0;
	for (i = 0; i < n; i++) {
		char c = hex[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (v < 0)
			return be_err_set(e, BE_E_MALFORMED, "CRL entry: serial \"%.48s\" is not hex",
					  hex);
		if (hi < 0) {
			hi = v;
		} else {
			serial[o++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return be_crl_builder_add(b, serial, o, revoked_at, reason, e);
}

/* ---------------------------------------------------------------- encoding and signing */

/* The signature algorithm for ca's key: GnuTLS' sign id and the AlgorithmIdentifier. */
static int
sig_alg(const struct be_ca *ca, gnutls_sign_algorithm_t *sign, struct dbuf *algid,
	struct be_err *e)
{
	unsigned char oid[32];
	size_t oid_len;
	const char *dotted;
	struct dbuf c = { NULL, 0, 0, false };
	int pk, rc = BE_OK;

	pk = gnutls_privkey_get_pk_algorithm(ca->key, NULL);
	if (pk == GNUTLS_PK_EDDSA_ED25519)
		*sign = GNUTLS_SIGN_EDDSA_ED25519;
	else if (pk == GNUTLS_PK_EDDSA_ED448)
		*sign = GNUTLS_SIGN_EDDSA_ED448;
	else if (pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_ECDSA)
		*sign = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, ca->hash);
	else
		*sign = GNUTLS_SIGN_UNKNOWN;
	if (*sign == GNUTLS_SIGN_UNKNOWN || (dotted = gnutls_sign_get_oid(*sign)) == NULL ||
	    oid_der(dotted, oid, sizeof(oid), &oid_len) != BE_OK) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: its key type cannot sign CRLs here",
				ca->name);
		goto out;
	}
	dbuf_tlv(&c, DER_OID, oid, oid_len);
	/* RFC 4055 5 / RFC 3279 2.2.1: NULL parameters for RSA PKCS #1 v1.5; absent for
	 * ECDSA (RFC 5758 3.2) and EdDSA (RFC 8410 3). */
	if (pk == GNUTLS_PK_RSA)
		dbuf_tl(&c, DER_NULL, 0);
	dbuf_wrap(algid, DER_SEQUENCE, &c);
out:
	dbuf_free(&c);
	return rc;
}

static void
put_ext(struct dbuf *b, const unsigned char *oid, size_t oid_len, bool critical,
	const struct dbuf *value)
{
	struct dbuf x = { NULL, 0, 0, false };
	static const unsigned char t = 0xff;

	dbuf_tlv(&x, DER_OID, oid, oid_len);
	if (critical)
		dbuf_tlv(&x, DER_BOOLEAN, &t, 1);
	dbuf_wrap(&x, DER_OCTETSTRING, value);
	dbuf_wrap(b, DER_SEQUENCE, &x);
	dbuf_free(&x);
}

/* crlExtensions (5.2): authorityKeyIdentifier, cRLNumber, issuingDistributionPoint. */
static void
put_crl_exts(struct dbuf *tbs, const struct be_ca *ca, const struct be_crl_params *p)
{
	static const unsigned char oid_aki[] = { 0x55, 0x1d, 0x23 };
	static const unsigned char oid_number[] = { 0x55, 0x1d, 0x14 };
	static const unsigned char oid_idp[] = { 0x55, 0x1d, 0x1c };
	struct dbuf exts = { NULL, 0, 0, false }, v = { NULL, 0, 0, false };
	struct dbuf w = { NULL, 0, 0, false }, w2 = { NULL, 0, 0, false };
	unsigned char num[8];
	int i;

	/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } */
	dbuf_tlv(&w, 0x80, ca->ski, ca->ski_len);
	dbuf_wrap(&v, DER_SEQUENCE, &w);
	put_ext(&exts, oid_aki, sizeof(oid_aki), false, &v);
	v.len = w.len = 0;

	for (i = 0; i < 8; i++)
		num[i] = (unsigned char)(p->number >> (8 * (7 - i)));
	put_uint(&v, num, sizeof(num));
	put_ext(&exts, oid_number, sizeof(oid_number), false, &v);
	v.len = 0;

	if (p->idp_uri != NULL) {
		/* IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0]
		 * DistributionPointName }; DistributionPointName ::= CHOICE { fullName [0]
		 * GeneralNames }; GeneralName uniformResourceIdentifier [6] IA5String.
		 * A tag on a CHOICE is explicit; [0] GeneralNames is implicit. */
		dbuf_tlv(&w, 0x86, p->idp_uri, strlen(p->idp_uri));
		dbuf_wrap(&w2, 0xa0, &w);		/* fullName */
		w.len = 0;
		dbuf_wrap(&w, 0xa0, &w2);		/* distributionPoint */
		dbuf_wrap(&v, DER_SEQUENCE, &w);
		put_ext(&exts, oid_idp, sizeof(oid_idp), true, &v);
	}
	w.len = 0;
	dbuf_wrap(&w, DER_SEQUENCE, &exts);
	dbuf_wrap(tbs, 0xa0, &w);			/* crlExtensions [0] EXPLICIT */
	if (exts.failed || v.failed || w.failed || w2.failed)
		tbs->failed = true;
	dbuf_free(&exts);
	dbuf_free(&v);
	dbuf_free(&w);
	dbuf_free(&w2);
}

int
be_crl_encode(const struct be_ca *ca, const struct be_crl_builder *b,
	      const struct be_crl_params *p, gnutls_datum_t *der, struct be_err *e)
{
	static const unsigned char v2 = 1;
	struct dbuf algid = { NULL, 0, 0, false }, tbs = { NULL, 0, 0, false };
	struct dbuf body = { NULL, 0, 0, false }, out = { NULL, 0, 0, false };
	gnutls_datum_t dn = { NULL, 0 }, sig = { NULL, 0 }, data;
	gnutls_sign_algorithm_t sign;
	size_t total;
	int rc, r;

	der->data = NULL;
	der->size = 0;
	if (p->next_update <= p->this_update) {
		rc = be_err_set(e, BE_E_INTERNAL, "CRL: nextUpdate is not after thisUpdate");
		goto out;
	}
	if ((rc = sig_alg(ca, &sign, &algid, e)) != BE_OK)
		goto out;
	if (gnutls_x509_crt_get_raw_dn(ca->crt, &dn) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CA %s: cannot read its subject", ca->name);
		goto out;
	}
	/* TBSCertList (5.1.2) contents. */
	dbuf_tlv(&body, DER_INTEGER, &v2, 1);
	dbuf_put(&body, algid.p, algid.len);
	dbuf_put(&body, dn.data, dn.size);
	if (put_time(&body, p->this_update) != BE_OK ||
	    put_time(&body, p->next_update) != BE_OK) {
		rc = be_err_set(e, BE_E_INTERNAL, "CRL: thisUpdate or nextUpdate out of range");
		goto out;
	}
	/* 5.1.2.6: absent, not empty, when nothing is revoked. */
	if (b != NULL && b->n > 0)
		dbuf_wrap(&body, DER_SEQUENCE, &b->entries);
	put_crl_exts(&body, ca, p);
	/* The entries may be many megabytes: size the TBS exactly, copy them once. */
	dbuf_reserve(&tbs, body.len + 8);
	dbuf_wrap(&tbs, DER_SEQUENCE, &body);
	dbuf_free(&body);
	if (tbs.failed || algid.failed) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (tbs.len > UINT32_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "CRL: over 4 GiB");
		goto out;
	}
	data.data = tbs.p;
	data.size = (unsigned)tbs.len;
	r = gnutls_privkey_sign_data2(ca->key, sign, 0, &data, &sig);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s could not sign its CRL: %s", ca->name,
				gnutls_strerror(r));
		goto out;
	}
	/* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue } */
	total = tbs.len + algid.len + sig.size + 16;
	dbuf_reserve(&out, total);
	dbuf_tl(&out, DER_SEQUENCE, tbs.len + algid.len + tl_size(sig.size + 1) + sig.size + 1);
	dbuf_put(&out, tbs.p, tbs.len);
	dbuf_put(&out, algid.p, algid.len);
	dbuf_tl(&out, DER_BITSTRING, sig.size + 1);
	dbuf_put(&out, "", 1);				/* no unused bits */
	dbuf_put(&out, sig.data, sig.size);
	dbuf_free(&tbs);
	if (out.failed || (der->data = gnutls_malloc(out.len)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(der->data, out.p, out.len);
	der->size = (unsigned)out.len;
out:
	dbuf_free(&algid);
	dbuf_free(&body);
	dbuf_free(&tbs);
	dbuf_free(&out);
	gnutls_free(dn.data);
	gnutls_free(sig.data);
	return rc;
}

/* ---------------------------------------------------------------- partitions */

unsigned
be_crl_shard(const unsigned char *serial, size_t len, unsigned shards)
{
	uint32_t v = 0;
	size_t i = len > 4 ? len - 4 : 0;

	if (shards <= 1)
		return 0;
	for (; i < len; i++)
		v = (v << 8) | serial[i];
	return v % shards;
}

int
be_crl_shard_url(const char *base, unsigned shard, char *buf, size_t len, struct be_err *e)
{
	size_t n = strlen(base);
	int w;

	if (n >= 4 && strcmp(base + n - 4, ".crl") == 0)
		w = snprintf(buf, len, "%.*s-%u.crl", (int)(n - 4), base, shard);
	else
		w = snprintf(buf, len, "%s-%u", base, shard);
	if (w < 0 || (size_t)w >= len)
		return be_err_set(e, BE_E_TOOBIG, "CRL URL %.64s...: too long", base);
	return BE_OK;
}
