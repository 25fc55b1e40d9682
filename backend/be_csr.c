/*
 * PKCS#10 requests (RFC 2986) and bare SubjectPublicKeyInfo, parsed once from untrusted
 * bytes.
 *
 * Two decoders read a request, and both must see the one canonical DER encoding (RFC 2986
 * 4.2): every length is first checked to be definite and minimal (libtasn1 keeps the length
 * octets of primitive values as they came, even in strict mode); libtasn1 with certgate.asn
 * decodes it strictly, must re-encode it to the same octets, and is the one that reads the
 * subject, the attributes and the extensionRequest, by path; GnuTLS imports it for the key and
 * the signature, and its re-encoding must equal the input too.  GnuTLS alone accepts
 * non-minimal lengths and verifies the signature over its own re-encoding, so without these
 * checks a request could carry octets the signature never covered.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/x509-ext.h>

#include "be_asn1.h"
#include "be_csr.h"
#include "be_goodkey.h"
#include "be_key.h"

#define CSR_TEXT_MAX (4 * BE_CSR_MAX_DER)	/* PEM or base64 of the largest request */
#define PUBKEY_MAX_DER 8192
#define PUBKEY_TEXT_MAX (4 * PUBKEY_MAX_DER)
#define CSR_MAX_RDNS 32
#define CSR_MAX_ATTRS 32
#define CSR_MAX_EXTS 64
#define CSR_MAX_EKUS 32
#define CHALLENGE_MAX 255	/* RFC 2985 5.4.1: pkcs-9-ub-challengePassword */
#define DECRYPT_KEY_ID_MAX 256
#define RSA_EXPONENT_MAX_BITS 256	/* bounds the cost of verifying (FIPS 186-4 B.3.1) */
#define OID_MAX 128
#define DER_MAX_DEPTH 32

#define OID_CHALLENGE "1.2.840.113549.1.9.7"
#define OID_EXT_REQ "1.2.840.113549.1.9.14"
#define OID_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.37"
#define OID_ASYM_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"
#define OID_SAN "2.5.29.17"
#define OID_KU "2.5.29.15"
#define OID_BC "2.5.29.19"
#define OID_EKU "2.5.29.37"

enum str_kind {
	STR_UTF8,
	STR_PRINTABLE,
	STR_IA5,
	STR_BMP,
	STR_UNIVERSAL,
	STR_TELETEX,
};

static const struct {
	const char *choice;	/* alternative names in certgate.asn */
	enum str_kind kind;
} str_kinds[] = {
	{ "utf8String", STR_UTF8 },
	{ "printableString", STR_PRINTABLE },
	{ "ia5String", STR_IA5 },
	{ "bmpString", STR_BMP },
	{ "universalString", STR_UNIVERSAL },
	{ "teletexString", STR_TELETEX },
};

/* The attributes certgate reads (RFC 2985 5.4, RFC 7030 4.4.1); each at most once. */
enum csr_attr {
	ATTR_CHALLENGE,
	ATTR_EXT_REQ,
	ATTR_DECRYPT_KEY_ID,
	ATTR_ASYM_DECRYPT_KEY_ID,
	ATTR__COUNT
};

static const struct {
	const char *oid;
	const char *name;
	const char *rfc;
} csr_attrs[ATTR__COUNT] = {
	{ OID_CHALLENGE, "challengePassword", "RFC 2985 5.4.1" },
	{ OID_EXT_REQ, "extensionRequest", "RFC 2985 5.4.2" },
	{ OID_DECRYPT_KEY_ID, "DecryptKeyIdentifier", "RFC 7030 4.4.1.1" },
	{ OID_ASYM_DECRYPT_KEY_ID, "AsymmetricDecryptKeyIdentifier", "RFC 7030 4.4.1.2" },
};

/* Size limits, then PEM / base64 / DER to DER, with what in front of every sentence. */
static int
text_to_der(const unsigned char *data, size_t len, const char *const *labels, size_t text_max,
	    size_t der_max, const char *what, unsigned char **der, size_t *der_len,
	    struct be_err *e)
{
	struct be_err le = { 0, "" };
	int rc;

	*der = NULL;
	*der_len = 0;
	if (len > text_max) {
		rc = be_err_set(e, BE_E_TOOBIG, "%s: larger than %zu bytes", what, text_max);
		goto out;
	}
	if ((rc = be_der_from_text(data, len, labels, der, der_len, &le)) != BE_OK) {
		rc = be_err_set(e, rc, "%s: %s", what, le.msg);
		goto out;
	}
	if (*der_len > der_max) {
		rc = be_err_set(e, BE_E_TOOBIG, "%s: %zu bytes of DER, more than %zu", what,
				*der_len, der_max);
		goto out;
	}
out:
	if (rc != BE_OK) {
		free(*der);
		*der = NULL;
		*der_len = 0;
	}
	return rc;
}

static bool
unsupported_alg(int r)
{
	return r == GNUTLS_E_UNKNOWN_PK_ALGORITHM || r == GNUTLS_E_ECC_UNSUPPORTED_CURVE ||
	       r == GNUTLS_E_UNIMPLEMENTED_FEATURE || r == GNUTLS_E_UNKNOWN_ALGORITHM ||
	       r == GNUTLS_E_X509_UNSUPPORTED_OID;
}

/* The key types and sizes certgate issues for (be_keyspec_of_pubkey), and an RSA public
 * exponent small enough that verifying a signature cannot be made arbitrarily slow. */
static int
key_check(gnutls_pubkey_t pub, const char *what, struct be_keyspec *spec, struct be_err *e)
{
	gnutls_datum_t m = { NULL, 0 }, ex = { NULL, 0 };
	struct be_err le = { 0, "" };
	size_t i, bits;
	unsigned nbits = 0;
	int r, rc;

	/* The floor under every profile (be_goodkey.h), with be_goodkey_check's words. */
	if (gnutls_pubkey_get_pk_algorithm(pub, &nbits) == GNUTLS_PK_RSA &&
	    nbits < BE_GOODKEY_RSA_MIN_BITS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: RSA modulus of %u bits; certgate certifies "
				"%u to %u bits", what, nbits, BE_GOODKEY_RSA_MIN_BITS,
				BE_GOODKEY_RSA_MAX_BITS);
		goto out;
	}
	if ((rc = be_keyspec_of_pubkey(pub, spec, &le)) != BE_OK) {
		rc = be_err_set(e, rc, "%s: %s", what, le.msg);
		goto out;
	}
	if (spec->alg != BE_KEY_RSA)
		goto out;
	if ((r = gnutls_pubkey_export_rsa_raw2(pub, &m, &ex, 0)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot read the RSA key: %s", what,
				gnutls_strerror(r));
		goto out;
	}
	for (i = 0; i < ex.size && ex.data[i] == 0; i++)
		;
	bits = (ex.size - i) * 8;
	if (bits > RSA_EXPONENT_MAX_BITS || (ex.size > i && (ex.data[ex.size - 1] & 1) == 0) ||
	    (ex.size - i == 1 && ex.data[i] < 3)) {
		rc = be_err_set(e, BE_E_POLICY,
				"%s: RSA public exponent must be odd, at least 3 and at most %d bits",
				what, RSA_EXPONENT_MAX_BITS);
		goto out;
	}
out:
	be_datum_free(&m);
	be_datum_free(&ex);
	if (rc != BE_OK) {
		spec->alg = BE_KEY_NONE;
		spec->bits = 0;
	}
	return rc;
}

/* X.690 10.1: every length in the definite form and as short as possible, walking into
 * constructed values (the contents of primitive ones are not looked at).  libtasn1 keeps the
 * length octets of primitive values as they came, even in strict mode. */
static bool
der_lengths_ok(const unsigned char *p, size_t len, unsigned depth)
{
	unsigned char cls;
	unsigned long tag;
	size_t i, n, clen, hl;
	int taglen = 0;

	if (depth > DER_MAX_DEPTH)
		return false;
	while (len > 0) {
		if (len > INT32_MAX || asn1_get_tag_der(p, (int)len, &cls, &taglen, &tag) !=
		    ASN1_SUCCESS || taglen <= 0 || (size_t)taglen >= len)
			return false;
		hl = (size_t)taglen;
		if (p[hl] < 0x80) {
			clen = p[hl];
			hl++;
		} else {
			n = p[hl] & 0x7f;
			if (n == 0 || n > 4 || hl + 1 + n > len || p[hl + 1] == 0)
				return false;
			for (clen = 0, i = 0; i < n; i++)
				clen = (clen << 8) | p[hl + 1 + i];
			if (clen < 0x80)
				return false;
			hl += 1 + n;
		}
		if (clen > len - hl)
			return false;
		if ((p[0] & 0x20) != 0 && !der_lengths_ok(p + hl, clen, depth + 1))
			return false;
		p += hl + clen;
		len -= hl + clen;
	}
	return true;
}

/* be_asn1_decode, plus what libtasn1's strict mode leaves out: nothing may follow the value,
 * and the value must re-encode to exactly its input (X.690 10: minimal lengths, DEFAULT
 * values absent, BOOLEAN TRUE as FF, SET OF sorted). */
static int
der_decode(const char *type, const unsigned char *der, size_t len, const char *what,
	   asn1_node *out, struct be_err *e)
{
	asn1_node el = NULL;
	gnutls_datum_t re = { NULL, 0 };
	unsigned char cls;
	unsigned long tag;
	long clen;
	int taglen = 0, lenlen = 0, rc;

	*out = NULL;
	if (len > 0 && len <= INT32_MAX &&
	    asn1_get_tag_der(der, (int)len, &cls, &taglen, &tag) == ASN1_SUCCESS &&
	    (clen = asn1_get_length_der(der + taglen, (int)len - taglen, &lenlen)) >= 0 &&
	    (size_t)taglen + (size_t)lenlen + (size_t)clen < len) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"%s: %zu trailing octet(s) after the DER value", what,
				len - ((size_t)taglen + (size_t)lenlen + (size_t)clen));
		goto out;
	}
	if (!der_lengths_ok(der, len, 0)) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"%s: not DER; a length is indefinite or not minimal (X.690 10.1)",
				what);
		goto out;
	}
	if ((rc = be_asn1_decode(type, der, len, what, &el, e)) != BE_OK)
		goto out;
	if ((rc = be_asn1_encode(el, &re, e)) != BE_OK)
		goto out;
	if (re.size != len || memcmp(re.data, der, len) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"%s: not DER; the encoding is not the canonical one (X.690 10)",
				what);
		goto out;
	}
	*out = el;
	el = NULL;
out:
	be_datum_free(&re);
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

/* UCS-2 (width 2) or UCS-4 (width 4) big-endian to UTF-8, NUL appended.  Surrogates and
 * values above U+10FFFF are refused (returns false). */
static bool
ucs_to_utf8(const unsigned char *in, size_t len, unsigned width, unsigned char **out,
	    size_t *outlen)
{
	unsigned char *buf = NULL;
	unsigned long cp;
	size_t i, o = 0;
	unsigned k;
	bool ok = false;

	*out = NULL;
	*outlen = 0;
	if (len % width != 0 || (buf = malloc(len / width * 4 + 1)) == NULL)
		goto out;
	for (i = 0; i < len; i += width) {
		cp = 0;
		for (k = 0; k < width; k++)
			cp = (cp << 8) | in[i + k];
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			goto out;
		if (cp < 0x80) {
			buf[o++] = (unsigned char)cp;
		} else if (cp < 0x800) {
			buf[o++] = (unsigned char)(0xc0 | (cp >> 6));
			buf[o++] = (unsigned char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			buf[o++] = (unsigned char)(0xe0 | (cp >> 12));
			buf[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (unsigned char)(0x80 | (cp & 0x3f));
		} else {
			buf[o++] = (unsigned char)(0xf0 | (cp >> 18));
			buf[o++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			buf[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (unsigned char)(0x80 | (cp & 0x3f));
		}
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	buf = NULL;
	ok = true;
out:
	free(buf);
	return ok;
}

static bool
printable_string_ok(const unsigned char *s, size_t len)
{
	size_t i;

	/* X.680 41.4 */
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] != '\0' && strchr(" '()+,-./:=?", s[i]) != NULL)))
			return false;
	return true;
}

/* Decodes tlv as the CHOICE of string types named type and returns its characters: UTF-8
 * for UTF8String, PrintableString, IA5String (alphabets checked), BMPString and
 * UniversalString (converted); the raw octets of a TeletexString.  *out is malloc()ed with a
 * NUL appended; caller frees.  BE_E_MALFORMED: "<what>: not a <expect>". */
static int
read_string(const char *type, const unsigned char *tlv, size_t len, const char *what,
	    const char *expect, enum str_kind *kind, unsigned char **out, size_t *outlen,
	    struct be_err *e)
{
	asn1_node el = NULL;
	struct be_err le = { 0, "" };
	unsigned char *raw = NULL, *conv = NULL;
	char choice[32];
	size_t i, raw_len = 0, conv_len = 0;
	int n, rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = der_decode(type, tlv, len, what, &el, &le)) != BE_OK) {
		if (rc == BE_E_MALFORMED)
			rc = be_err_set(e, rc, "%s: not a %s", what, expect);
		else
			rc = be_err_set(e, rc, "%s", le.msg);
		goto out;
	}
	memset(choice, 0, sizeof(choice));
	n = (int)sizeof(choice) - 1;
	if (asn1_read_value(el, "", choice, &n) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: not a %s", what, expect);
		goto out;
	}
	for (i = 0; i < sizeof(str_kinds) / sizeof(str_kinds[0]); i++)
		if (strcmp(choice, str_kinds[i].choice) == 0)
			break;
	if (i == sizeof(str_kinds) / sizeof(str_kinds[0])) {
		rc = be_err_set(e, BE_E_INTERNAL, "%s: unexpected string type %s", what, choice);
		goto out;
	}
	*kind = str_kinds[i].kind;
	if ((rc = be_asn1_read(el, choice, &raw, &raw_len, e)) != BE_OK)
		goto out;
	switch (*kind) {
	case STR_PRINTABLE:
		if (!printable_string_ok(raw, raw_len))
			rc = be_err_set(e, BE_E_MALFORMED,
					"%s: PrintableString with characters outside its alphabet "
					"(X.680 41.4)", what);
		break;
	case STR_IA5:
		for (i = 0; i < raw_len && rc == BE_OK; i++)
			if (raw[i] >= 0x80)
				rc = be_err_set(e, BE_E_MALFORMED,
						"%s: IA5String with non-ASCII octets", what);
		break;
	case STR_BMP:
	case STR_UNIVERSAL:
		if (!ucs_to_utf8(raw, raw_len, *kind == STR_BMP ? 2 : 4, &conv, &conv_len)) {
			rc = be_err_set(e, BE_E_MALFORMED, "%s: %s is not valid UCS-%d", what,
					*kind == STR_BMP ? "BMPString" : "UniversalString",
					*kind == STR_BMP ? 2 : 4);
			break;
		}
		be_memzero(raw, raw_len);
		free(raw);
		raw = conv;
		raw_len = conv_len;
		conv = NULL;
		break;
	default:
		break;
	}
	if (rc != BE_OK)
		goto out;
	*out = raw;
	*outlen = raw_len;
	raw = NULL;
out:
	if (raw != NULL) {
		be_memzero(raw, raw_len);
		free(raw);
	}
	free(conv);
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

/* Reads the dotted OID at path. */
static int
read_oid(asn1_node tree, const char *path, char *oid, size_t size, const char *what,
	 struct be_err *e)
{
	int n = (int)size - 1, rc = BE_OK;

	memset(oid, 0, size);
	if (asn1_read_value(tree, path, oid, &n) != ASN1_SUCCESS || n <= 0)
		rc = be_err_set(e, BE_E_MALFORMED, "%s: unreadable object identifier", what);
	return rc;
}

static int
count_elements(asn1_node tree, const char *path, int *n)
{
	int r;

	*n = 0;
	r = asn1_number_of_elements(tree, path, n);
	if (r == ASN1_ELEMENT_NOT_FOUND) {
		*n = 0;
		r = ASN1_SUCCESS;
	}
	return r == ASN1_SUCCESS ? BE_OK : BE_E_MALFORMED;
}

/* ---------------------------------------------------------------- the request */

/* Both decoders, and the comparison that makes them agree (RFC 2986 4.2: DER). */
static int
csr_decode(struct be_csr *csr, const unsigned char *der, size_t len, asn1_node *tree,
	   struct be_err *e)
{
	gnutls_datum_t in = { (unsigned char *)der, (unsigned)len }, re = { NULL, 0 };
	int r, rc;

	if ((rc = der_decode("CERTGATE.CertificationRequest", der, len, "CSR", tree, e)) != BE_OK)
		goto out;
	if ((r = gnutls_x509_crq_init(&csr->crq)) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = gnutls_x509_crq_import(csr->crq, &in, GNUTLS_X509_FMT_DER)) < 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR: not a PKCS#10 request (RFC 2986 4.1): %s",
				gnutls_strerror(r));
		goto out;
	}
	if ((r = gnutls_x509_crq_export2(csr->crq, GNUTLS_X509_FMT_DER, &re)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CSR: cannot re-encode: %s", gnutls_strerror(r));
		goto out;
	}
	if (re.size != len || memcmp(re.data, der, len) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR: not DER; the encoding is not the canonical one "
				"(RFC 2986 4.2, X.690 10)");
		goto out;
	}
	/* RFC 2986 4.1: version is 0 (GnuTLS counts from 1) */
	if (gnutls_x509_crq_get_version(csr->crq) != 1) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR version: must be 0 (RFC 2986 4.1)");
		goto out;
	}
	csr->der = re;
	re.data = NULL;
out:
	be_datum_free(&re);
	return rc;
}

static int
csr_key(struct be_csr *csr, asn1_node tree, struct be_err *e)
{
	static const char spk[] = "certificationRequestInfo.subjectPKInfo.subjectPublicKey";
	unsigned char *octets = NULL;
	char oid[OID_MAX];
	size_t size = sizeof(oid);
	int nbits = 0, n, r, rc = BE_OK;

	if ((r = gnutls_pubkey_init(&csr->pubkey)) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((r = gnutls_pubkey_import_x509_crq(csr->pubkey, csr->crq, 0)) < 0) {
		memset(oid, 0, sizeof(oid));
		if (gnutls_x509_crq_get_pk_oid(csr->crq, oid, &size) < 0)
			oid[0] = '\0';
		if (r == GNUTLS_E_ECC_UNSUPPORTED_CURVE)
			rc = be_err_set(e, BE_E_POLICY,
					"CSR: the EC curve of the public key is not supported; use "
					"P-256, P-384 or P-521");
		else if (unsupported_alg(r))
			rc = be_err_set(e, BE_E_POLICY,
					"CSR: public key algorithm %s is not supported",
					oid[0] != '\0' ? oid : "(unknown)");
		else
			rc = be_err_set(e, BE_E_MALFORMED,
					"CSR subjectPKInfo: not a usable public key (RFC 5280 "
					"4.1.2.7): %s", gnutls_strerror(r));
		goto out;
	}
	if ((rc = key_check(csr->pubkey, "CSR", &csr->key, e)) != BE_OK)
		goto out;
	/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING value.  Not
	 * gnutls_pubkey_get_key_id(), which hashes the whole SubjectPublicKeyInfo. */
	if (asn1_read_value(tree, spk, NULL, &nbits) != ASN1_MEM_ERROR || nbits <= 0 ||
	    nbits % 8 != 0 || (octets = malloc((size_t)nbits / 8)) == NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR subjectPublicKey: not whole octets");
		goto out;
	}
	n = nbits / 8;		/* in: the buffer's octets; out: the bits read */
	if (asn1_read_value(tree, spk, octets, &n) != ASN1_SUCCESS || n != nbits ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA1, octets, (size_t)nbits / 8, csr->key_id) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CSR: cannot compute the key identifier");
		goto out;
	}
out:
	free(octets);
	return rc;
}

#define SIG_ALLOWED_TEXT "SHA-256, SHA-384 or SHA-512 with RSA (PKCS #1 v1.5 or PSS) or " \
	"ECDSA, or with Ed25519"

/* The signature algorithms a CSR may be signed with: SHA-2 of at least 256 bits (RFC 6151
 * and RFC 9155: MD5 and SHA-1 are broken for signatures) with RSA, RSA-PSS or ECDSA
 * (RFC 4055, RFC 5758 3.2), and Ed25519 (RFC 8410 6).  Everything else is refused. */
static bool
sig_allowed(int sig)
{
	static const gnutls_sign_algorithm_t allowed[] = {
		GNUTLS_SIGN_RSA_SHA256, GNUTLS_SIGN_RSA_SHA384, GNUTLS_SIGN_RSA_SHA512,
		GNUTLS_SIGN_RSA_PSS_SHA256, GNUTLS_SIGN_RSA_PSS_SHA384, GNUTLS_SIGN_RSA_PSS_SHA512,
		GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_SIGN_RSA_PSS_RSAE_SHA384,
		GNUTLS_SIGN_RSA_PSS_RSAE_SHA512,
		GNUTLS_SIGN_ECDSA_SHA256, GNUTLS_SIGN_ECDSA_SHA384, GNUTLS_SIGN_ECDSA_SHA512,
		GNUTLS_SIGN_EDDSA_ED25519,
	};
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((int)allowed[i] == sig)
			return true;
	return false;
}

/* RFC 2986 3: the signature is the requester's proof of possession of the private key. */
static int
csr_signature(struct be_csr *csr, unsigned flags, struct be_err *e)
{
	char oid[OID_MAX];
	size_t size = sizeof(oid);
	const char *name;
	int sig, r, rc = BE_OK;

	if (flags & BE_CSR_NO_VERIFY) {
		/* RFC 7030 4.4.2: not required; still recorded */
		csr->signature_ok = gnutls_x509_crq_verify(csr->crq, 0) == 0;
		goto out;
	}
	sig = gnutls_x509_crq_get_signature_algorithm(csr->crq);
	memset(oid, 0, sizeof(oid));
	if (gnutls_x509_crq_get_signature_oid(csr->crq, oid, &size) < 0)
		oid[0] = '\0';
	name = sig > 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sig) : NULL;
	if (sig <= 0 || sig == GNUTLS_SIGN_UNKNOWN || !sig_allowed(sig)) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR signature: algorithm %s (%s) is not "
				"accepted; sign with %s", name != NULL ? name : "unknown",
				oid[0] != '\0' ? oid : "no OID", SIG_ALLOWED_TEXT);
		goto out;
	}
	r = gnutls_x509_crq_verify(csr->crq, 0);
	if (r == GNUTLS_E_INSUFFICIENT_SECURITY || r == GNUTLS_E_CONSTRAINT_ERROR) {
		rc = be_err_set(e, BE_E_POLICY, "CSR signature: %s is not accepted as secure",
				name != NULL ? name : "the algorithm");
		goto out;
	}
	/* A library in its error state verifies nothing: that is not the client's fault. */
	if (r < 0 && (rc = be_crypto_check(e)) != BE_OK)
		goto out;
	if (r < 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR signature: does not verify with the request's public key "
				"(RFC 2986 3, proof of possession)");
		goto out;
	}
	csr->signature_ok = true;
out:
	return rc;
}

/* RFC 2986 4.1 subject, RFC 5280 4.1.2.4 / 4.1.2.6: every attribute known, one per RDN. */
static int
csr_subject(struct be_csr *csr, asn1_node tree, struct be_err *e)
{
	static const char base[] = "certificationRequestInfo.subject.rdnSequence";
	const struct be_dn_info *info;
	const char *known;
	struct be_err le = { 0, "" };
	unsigned char *tlv = NULL, *val = NULL;
	char path[sizeof(base) + 32], oid[OID_MAX], what[64];
	size_t tlv_len = 0, val_len = 0;
	enum be_dn_attr attr;
	enum str_kind kind;
	int i, nrdn, nava, rc;

	if ((rc = count_elements(tree, base, &nrdn)) != BE_OK) {
		rc = be_err_set(e, rc, "CSR subject: unreadable");
		goto out;
	}
	if (nrdn > CSR_MAX_RDNS) {
		rc = be_err_set(e, BE_E_POLICY, "CSR subject: more than %d attributes",
				CSR_MAX_RDNS);
		goto out;
	}
	for (i = 1; i <= nrdn; i++) {
		snprintf(path, sizeof(path), "%s.?%d", base, i);
		if ((rc = count_elements(tree, path, &nava)) != BE_OK || nava != 1) {
			rc = be_err_set(e, BE_E_POLICY,
					"CSR subject: RDN %d holds %d attributes; multi-valued RDNs "
					"are not supported", i, nava);
			goto out;
		}
		snprintf(path, sizeof(path), "%s.?%d.?1.type", base, i);
		if ((rc = read_oid(tree, path, oid, sizeof(oid), "CSR subject", e)) != BE_OK)
			goto out;
		if (be_dn_lookup(oid, &attr) != BE_OK || strcmp(be_dn_info(attr)->oid, oid) != 0) {
			known = gnutls_x509_dn_oid_name(oid, 0);
			rc = be_err_set(e, BE_E_POLICY,
					"CSR subject: attribute %s%s%s%s is not supported", oid,
					known != NULL ? " (" : "", known != NULL ? known : "",
					known != NULL ? ")" : "");
			goto out;
		}
		info = be_dn_info(attr);
		snprintf(what, sizeof(what), "CSR subject %s", info->key);
		snprintf(path, sizeof(path), "%s.?%d.?1.value", base, i);
		if ((rc = be_asn1_read(tree, path, &tlv, &tlv_len, e)) != BE_OK)
			goto out;
		if ((rc = read_string("CERTGATE.NameString", tlv, tlv_len, what,
				      "string type (RFC 5280 4.1.2.4)", &kind, &val, &val_len,
				      e)) != BE_OK)
			goto out;
		if (kind == STR_TELETEX) {
			rc = be_err_set(e, BE_E_POLICY,
					"%s: TeletexString values are not supported (RFC 5280 "
					"4.1.2.4: use UTF8String or PrintableString)", what);
			goto out;
		}
		if ((rc = be_name_add(&csr->subject, attr, (const char *)val, val_len, &le)) !=
		    BE_OK) {
			rc = be_err_set(e, rc, "CSR %s", le.msg);
			goto out;
		}
		free(tlv);
		free(val);
		tlv = val = NULL;
	}
out:
	free(tlv);
	free(val);
	return rc;
}

/* RFC 2985 5.4.1: challengePassword is one DirectoryString of 1 to 255 characters. */
static int
csr_challenge(struct be_csr *csr, const unsigned char *tlv, size_t len, struct be_err *e)
{
	unsigned char *val = NULL;
	size_t i, chars = 0, val_len = 0;
	enum str_kind kind;
	int rc;

	if ((rc = read_string("CERTGATE.DirectoryString", tlv, len, "CSR challengePassword",
			      "DirectoryString (RFC 2985 5.4.1)", &kind, &val, &val_len, e)) !=
	    BE_OK)
		goto out;
	if (memchr(val, '\0', val_len) != NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR challengePassword: contains a NUL byte");
		goto out;
	}
	for (i = 0; i < val_len; i++)
		if (kind == STR_TELETEX || (val[i] & 0xc0) != 0x80)
			chars++;
	if (chars == 0 || chars > CHALLENGE_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR challengePassword: %zu characters where 1 to %d are allowed "
				"(RFC 2985 5.4.1)", chars, CHALLENGE_MAX);
		goto out;
	}
	csr->challenge = val;
	csr->challenge_len = val_len;
	csr->has_challenge = true;
	val = NULL;
out:
	if (val != NULL) {
		be_memzero(val, val_len);
		free(val);
	}
	return rc;
}

/* RFC 7030 4.4.1.1 / 4.4.1.2: an OCTET STRING naming the key to encrypt the private key to. */
static int
csr_decrypt_key_id(enum csr_attr a, const unsigned char *tlv, size_t len, unsigned char **out,
		   size_t *outlen, struct be_err *e)
{
	asn1_node el = NULL;
	struct be_err le = { 0, "" };
	unsigned char *val = NULL;
	size_t val_len = 0;
	int rc;

	if ((rc = der_decode("CERTGATE.DecryptKeyIdentifier", tlv, len, csr_attrs[a].name, &el,
			     &le)) != BE_OK) {
		rc = be_err_set(e, rc, "CSR %s: not an OCTET STRING (%s)", csr_attrs[a].name,
				csr_attrs[a].rfc);
		goto out;
	}
	if ((rc = be_asn1_read(el, "", &val, &val_len, e)) != BE_OK)
		goto out;
	if (val_len == 0 || val_len > DECRYPT_KEY_ID_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, "CSR %s: %zu octets where 1 to %d are allowed",
				csr_attrs[a].name, val_len, DECRYPT_KEY_ID_MAX);
		goto out;
	}
	*out = val;
	*outlen = val_len;
	val = NULL;
out:
	free(val);
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

static const char *
san_type_label(unsigned type)
{
	switch (type) {
	case GNUTLS_SAN_OTHERNAME:
	case GNUTLS_SAN_OTHERNAME_XMPP:
	case GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL:
		return "otherName";
	case GNUTLS_SAN_DN:
		return "directoryName";
	case GNUTLS_SAN_REGISTERED_ID:
		return "registeredID";
	default:
		return "these";
	}
}

/* RFC 5280 4.2.1.6: at least one name; dNSName, rfc822Name, iPAddress and URI only. */
static int
csr_san(struct be_csr *csr, const gnutls_datum_t *der, struct be_err *e)
{
	gnutls_subject_alt_names_t names = NULL;
	gnutls_datum_t san, other;
	struct be_err le = { 0, "" };
	unsigned i, type;
	int r, rc = BE_OK;

	if (gnutls_subject_alt_names_init(&names) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_ext_import_subject_alt_names(der, names, 0) < 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR subjectAltName: not a GeneralNames (RFC 5280 4.2.1.6)");
		goto out;
	}
	for (i = 0;; i++) {
		r = gnutls_subject_alt_names_get(names, i, &type, &san, &other);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0) {
			rc = be_err_set(e, BE_E_MALFORMED,
					"CSR subjectAltName: unreadable (RFC 5280 4.2.1.6)");
			goto out;
		}
		switch (type) {
		case GNUTLS_SAN_DNSNAME:
			rc = be_sans_add(&csr->sans, BE_SAN_DNS, (const char *)san.data, san.size,
					 &le);
			break;
		case GNUTLS_SAN_RFC822NAME:
			rc = be_sans_add(&csr->sans, BE_SAN_EMAIL, (const char *)san.data,
					 san.size, &le);
			break;
		case GNUTLS_SAN_URI:
			rc = be_sans_add(&csr->sans, BE_SAN_URI, (const char *)san.data, san.size,
					 &le);
			break;
		case GNUTLS_SAN_IPADDRESS:
			rc = be_sans_add_ip_raw(&csr->sans, san.data, san.size, &le);
			break;
		default:
			rc = be_err_set(e, BE_E_POLICY,
					"CSR subjectAltName: %s entries are not supported",
					san_type_label(type));
			goto out;
		}
		if (rc != BE_OK) {
			rc = be_err_set(e, rc, "CSR %s", le.msg);
			goto out;
		}
	}
	if (i == 0)
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR subjectAltName: empty (RFC 5280 4.2.1.6: at least one name)");
out:
	if (names != NULL)
		gnutls_subject_alt_names_deinit(names);
	return rc;
}

static int
csr_eku(struct be_csr *csr, const gnutls_datum_t *der, struct be_err *e)
{
	gnutls_x509_key_purposes_t p = NULL;
	gnutls_datum_t oid;
	char **v;
	size_t k;
	unsigned i;
	int r, rc = BE_OK;

	if (gnutls_x509_key_purpose_init(&p) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_ext_import_key_purposes(der, p, 0) < 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR extKeyUsage: not a sequence of KeyPurposeIds (RFC 5280 "
				"4.2.1.12)");
		goto out;
	}
	for (i = 0;; i++) {
		r = gnutls_x509_key_purpose_get(p, i, &oid);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0 || oid.size == 0 || oid.size >= OID_MAX) {
			rc = be_err_set(e, BE_E_MALFORMED, "CSR extKeyUsage: unreadable");
			goto out;
		}
		for (k = 0; k < oid.size; k++) {
			if (!((oid.data[k] >= '0' && oid.data[k] <= '9') || oid.data[k] == '.')) {
				rc = be_err_set(e, BE_E_MALFORMED,
						"CSR extKeyUsage: not an object identifier");
				goto out;
			}
		}
		if (csr->n_eku >= CSR_MAX_EKUS) {
			rc = be_err_set(e, BE_E_POLICY, "CSR extKeyUsage: more than %d purposes",
					CSR_MAX_EKUS);
			goto out;
		}
		if ((v = realloc(csr->eku, (csr->n_eku + 1) * sizeof(*v))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		csr->eku = v;
		if ((csr->eku[csr->n_eku] = malloc(oid.size + 1)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(csr->eku[csr->n_eku], oid.data, oid.size);
		csr->eku[csr->n_eku][oid.size] = '\0';
		csr->n_eku++;
	}
out:
	if (p != NULL)
		gnutls_x509_key_purpose_deinit(p);
	return rc;
}

/* RFC 2985 5.4.2: the requested extensions, each at most once (RFC 5280 4.2).  Read for
 * policy decisions only; none is ever copied into a certificate from here. */
static int
csr_extensions(struct be_csr *csr, const unsigned char *der, size_t len, struct be_err *e)
{
	asn1_node el = NULL;
	unsigned char *val = NULL;
	char (*ids)[OID_MAX] = NULL;
	char path[32];
	gnutls_datum_t d;
	size_t val_len = 0;
	unsigned ca = 0;
	int i, j, n, pathlen, rc;

	if ((rc = der_decode("CERTGATE.Extensions", der, len, "CSR extensionRequest", &el, e)) !=
	    BE_OK)
		goto out;
	if ((rc = count_elements(el, "", &n)) != BE_OK || n == 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"CSR extensionRequest: no extensions (RFC 5280 4.1: SIZE (1..MAX))");
		goto out;
	}
	if (n > CSR_MAX_EXTS) {
		rc = be_err_set(e, BE_E_POLICY, "CSR extensionRequest: more than %d extensions",
				CSR_MAX_EXTS);
		goto out;
	}
	if ((ids = calloc((size_t)n, sizeof(*ids))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "?%d.extnID", i + 1);
		if ((rc = read_oid(el, path, ids[i], sizeof(ids[i]), "CSR extensionRequest",
				   e)) != BE_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(ids[i], ids[j]) == 0) {
				rc = be_err_set(e, BE_E_MALFORMED,
						"CSR extensionRequest: extension %s appears twice "
						"(RFC 5280 4.2)", ids[i]);
				goto out;
			}
		}
		if (strcmp(ids[i], OID_SAN) != 0 && strcmp(ids[i], OID_BC) != 0 &&
		    strcmp(ids[i], OID_KU) != 0 && strcmp(ids[i], OID_EKU) != 0)
			continue;
		snprintf(path, sizeof(path), "?%d.extnValue", i + 1);
		if ((rc = be_asn1_read(el, path, &val, &val_len, e)) != BE_OK)
			goto out;
		if (!der_lengths_ok(val, val_len, 0)) {
			rc = be_err_set(e, BE_E_MALFORMED,
					"CSR extensionRequest: extension %s is not DER (X.690 10.1)",
					ids[i]);
			goto out;
		}
		d.data = val;
		d.size = (unsigned)val_len;
		if (strcmp(ids[i], OID_SAN) == 0) {
			rc = csr_san(csr, &d, e);
		} else if (strcmp(ids[i], OID_BC) == 0) {
			if (gnutls_x509_ext_import_basic_constraints(&d, &ca, &pathlen) < 0)
				rc = be_err_set(e, BE_E_MALFORMED,
						"CSR basicConstraints: not a BasicConstraints "
						"(RFC 5280 4.2.1.9)");
			csr->has_basic_constraints = true;
			csr->asks_ca = ca != 0;
		} else if (strcmp(ids[i], OID_KU) == 0) {
			if (gnutls_x509_ext_import_key_usage(&d, &csr->key_usage) < 0)
				rc = be_err_set(e, BE_E_MALFORMED,
						"CSR keyUsage: not a KeyUsage (RFC 5280 4.2.1.3)");
			csr->has_key_usage = true;
		} else {
			rc = csr_eku(csr, &d, e);
		}
		free(val);
		val = NULL;
		if (rc != BE_OK)
			goto out;
	}
out:
	free(val);
	free(ids);
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

/* RFC 2986 4.1 attributes: the known ones at most once and with exactly one value; others
 * are ignored. */
static int
csr_attributes(struct be_csr *csr, asn1_node tree, struct be_err *e)
{
	static const char base[] = "certificationRequestInfo.attributes";
	bool seen[ATTR__COUNT] = { false };
	unsigned char *tlv = NULL, *ext_req = NULL;
	char path[sizeof(base) + 32], oid[OID_MAX];
	size_t tlv_len = 0, ext_req_len = 0;
	int i, n, nval, a, rc;

	if ((rc = count_elements(tree, base, &n)) != BE_OK) {
		rc = be_err_set(e, rc, "CSR attributes: unreadable");
		goto out;
	}
	if (n > CSR_MAX_ATTRS) {
		rc = be_err_set(e, BE_E_POLICY, "CSR: more than %d attributes", CSR_MAX_ATTRS);
		goto out;
	}
	for (i = 1; i <= n; i++) {
		snprintf(path, sizeof(path), "%s.?%d.type", base, i);
		if ((rc = read_oid(tree, path, oid, sizeof(oid), "CSR attributes", e)) != BE_OK)
			goto out;
		for (a = 0; a < ATTR__COUNT; a++)
			if (strcmp(oid, csr_attrs[a].oid) == 0)
				break;
		if (a == ATTR__COUNT)
			continue;
		if (seen[a]) {
			rc = be_err_set(e, BE_E_MALFORMED, "CSR %s: appears more than once (%s)",
					csr_attrs[a].name, csr_attrs[a].rfc);
			goto out;
		}
		seen[a] = true;
		snprintf(path, sizeof(path), "%s.?%d.values", base, i);
		if ((rc = count_elements(tree, path, &nval)) != BE_OK || nval != 1) {
			rc = be_err_set(e, BE_E_MALFORMED,
					"CSR %s: %d values where exactly one is allowed (%s)",
					csr_attrs[a].name, nval, csr_attrs[a].rfc);
			goto out;
		}
		snprintf(path, sizeof(path), "%s.?%d.values.?1", base, i);
		if ((rc = be_asn1_read(tree, path, &tlv, &tlv_len, e)) != BE_OK)
			goto out;
		switch (a) {
		case ATTR_CHALLENGE:
			rc = csr_challenge(csr, tlv, tlv_len, e);
			break;
		case ATTR_EXT_REQ:
			ext_req = tlv;
			ext_req_len = tlv_len;
			tlv = NULL;
			break;
		case ATTR_DECRYPT_KEY_ID:
			rc = csr_decrypt_key_id(ATTR_DECRYPT_KEY_ID, tlv, tlv_len,
						&csr->decrypt_key_id, &csr->decrypt_key_id_len, e);
			break;
		default:
			rc = csr_decrypt_key_id(ATTR_ASYM_DECRYPT_KEY_ID, tlv, tlv_len,
						&csr->asym_decrypt_key_id,
						&csr->asym_decrypt_key_id_len, e);
			break;
		}
		if (tlv != NULL) {
			be_memzero(tlv, tlv_len);
			free(tlv);
			tlv = NULL;
		}
		if (rc != BE_OK)
			goto out;
	}
	if (ext_req != NULL)
		rc = csr_extensions(csr, ext_req, ext_req_len, e);
out:
	free(tlv);
	free(ext_req);
	return rc;
}

int
be_csr_parse(const unsigned char *data, size_t len, unsigned flags, struct be_csr **out,
	     struct be_err *e)
{
	static const char *const labels[] = {
		"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", NULL
	};
	struct be_csr *csr = NULL;
	asn1_node tree = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	int rc;

	*out = NULL;
	if ((rc = text_to_der(data, len, labels, CSR_TEXT_MAX, BE_CSR_MAX_DER, "CSR", &der,
			      &der_len, e)) != BE_OK)
		goto out;
	if ((csr = calloc(1, sizeof(*csr))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = csr_decode(csr, der, der_len, &tree, e)) != BE_OK)
		goto out;
	/* the key is checked before the signature: its size bounds the cost of verifying */
	if ((rc = csr_key(csr, tree, e)) != BE_OK)
		goto out;
	if ((rc = csr_signature(csr, flags, e)) != BE_OK)
		goto out;
	if ((rc = csr_subject(csr, tree, e)) != BE_OK)
		goto out;
	if ((rc = csr_attributes(csr, tree, e)) != BE_OK)
		goto out;
	*out = csr;
	csr = NULL;
out:
	if (tree != NULL)
		asn1_delete_structure(&tree);
	free(der);
	be_csr_free(csr);
	return rc;
}

void
be_csr_free(struct be_csr *csr)
{
	size_t i;

	if (csr == NULL)
		return;
	if (csr->crq != NULL)
		gnutls_x509_crq_deinit(csr->crq);
	if (csr->pubkey != NULL)
		gnutls_pubkey_deinit(csr->pubkey);
	be_datum_free(&csr->der);
	be_name_clear(&csr->subject);
	be_sans_clear(&csr->sans);
	for (i = 0; i < csr->n_eku; i++)
		free(csr->eku[i]);
	free(csr->eku);
	if (csr->challenge != NULL) {
		be_memzero(csr->challenge, csr->challenge_len);
		free(csr->challenge);
	}
	free(csr->decrypt_key_id);
	free(csr->asym_decrypt_key_id);
	free(csr);
}

/* ---------------------------------------------------------------- bare public keys */

int
be_pubkey_parse(const unsigned char *data, size_t len, gnutls_pubkey_t *out,
		struct be_keyspec *spec, struct be_err *e)
{
	static const char *const labels[] = { "PUBLIC KEY", NULL };
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, re = { NULL, 0 };
	asn1_node tree = NULL;
	unsigned char *der = NULL;
	char oid[OID_MAX];
	size_t der_len = 0;
	int r, rc;

	*out = NULL;
	spec->alg = BE_KEY_NONE;
	spec->bits = 0;
	if ((rc = text_to_der(data, len, labels, PUBKEY_TEXT_MAX, PUBKEY_MAX_DER, "public key",
			      &der, &der_len, e)) != BE_OK)
		goto out;
	/* RFC 5280 4.1.2.7, strict DER and nothing after it */
	if ((rc = der_decode("CERTGATE.SubjectPublicKeyInfo", der, der_len, "public key", &tree,
			     e)) != BE_OK)
		goto out;
	if ((rc = read_oid(tree, "algorithm.algorithm", oid, sizeof(oid), "public key", e)) !=
	    BE_OK)
		goto out;
	if (gnutls_pubkey_init(&pub) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	in.data = der;
	in.size = (unsigned)der_len;
	if ((r = gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_DER)) < 0) {
		if (r == GNUTLS_E_ECC_UNSUPPORTED_CURVE)
			rc = be_err_set(e, BE_E_POLICY,
					"public key: the EC curve is not supported; use P-256, "
					"P-384 or P-521");
		else if (unsupported_alg(r))
			rc = be_err_set(e, BE_E_POLICY,
					"public key: algorithm %s is not supported", oid);
		else
			rc = be_err_set(e, BE_E_MALFORMED,
					"public key: not a usable SubjectPublicKeyInfo (RFC 5280 "
					"4.1.2.7): %s", gnutls_strerror(r));
		goto out;
	}
	if ((r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &re)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "public key: cannot re-encode: %s",
				gnutls_strerror(r));
		goto out;
	}
	if (re.size != der_len || memcmp(re.data, der, der_len) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"public key: not DER; the encoding is not the canonical one "
				"(X.690 10)");
		goto out;
	}
	if ((rc = key_check(pub, "public key", spec, e)) != BE_OK)
		goto out;
	*out = pub;
	pub = NULL;
out:
	be_datum_free(&re);
	if (tree != NULL)
		asn1_delete_structure(&tree);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	free(der);
	return rc;
}
