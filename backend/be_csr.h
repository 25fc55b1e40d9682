/*
 * PKCS#10 certification requests (RFC 2986) and bare public keys, parsed once from
 * untrusted bytes into validated structs.
 */
#ifndef CERTGATE_BE_CSR_H
#define CERTGATE_BE_CSR_H

#include "be.h"

#define BE_CSR_MAX_DER (64 * 1024)

/* be_csr_parse flags */
#define BE_CSR_NO_VERIFY 0x1	/* do not verify the self-signature (RFC 7030 4.4 serverkeygen) */

struct be_csr {
	gnutls_x509_crq_t crq;		/* owned */
	gnutls_datum_t der;		/* owned; the exact DER that was parsed */
	gnutls_pubkey_t pubkey;		/* owned */
	struct be_keyspec key;		/* type and size of pubkey */
	bool signature_ok;		/* self-signature verified (always true without NO_VERIFY) */
	struct be_name subject;		/* validated subject */
	struct be_sans sans;		/* validated subjectAltName from the extensionRequest */

	/* What the requester asked for in its extensionRequest, for policy decisions only;
	 * never copied into a certificate. */
	bool has_basic_constraints;
	bool asks_ca;			/* basicConstraints cA TRUE */
	bool has_key_usage;
	unsigned key_usage;		/* GNUTLS_KEY_* bits */
	char **eku;			/* dotted OIDs */
	size_t n_eku;

	/* challengePassword (PKCS#9 1.2.840.113549.1.9.7), when present and a DirectoryString
	 * (PrintableString / UTF8String / ...).  Raw value bytes, not NUL-terminated for
	 * comparison purposes (a NUL is appended for convenience). */
	bool has_challenge;
	unsigned char *challenge;
	size_t challenge_len;

	/* RFC 7030 4.4.1.1 DecryptKeyIdentifier (1.2.840.113549.1.9.16.2.37) and 4.4.1.2
	 * AsymmetricDecryptKeyIdentifier (1.2.840.113549.1.9.16.2.54): the OCTET STRING. */
	unsigned char *decrypt_key_id;
	size_t decrypt_key_id_len;
	unsigned char *asym_decrypt_key_id;
	size_t asym_decrypt_key_id_len;

	unsigned char key_id[20];	/* SHA-1 of subjectPublicKey (RFC 5280 4.2.1.2 method 1) */
};

/* Parses a CSR from PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST"), bare base64
 * (whitespace and CRLF allowed) or DER.  Strict DER: no trailing bytes, the encoding must be
 * the one GnuTLS would produce, size at most BE_CSR_MAX_DER.  Verifies the self-signature
 * unless BE_CSR_NO_VERIFY.  Validates subject and SANs with be_name_add / be_sans_add.
 * On success *out is a new struct the caller frees with be_csr_free(); on failure *out is
 * NULL and e says what was wrong (BE_E_MALFORMED, BE_E_POLICY, BE_E_TOOBIG). */
int be_csr_parse(const unsigned char *data, size_t len, unsigned flags, struct be_csr **out,
		 struct be_err *e);
void be_csr_free(struct be_csr *csr);

/* Parses a SubjectPublicKeyInfo from PEM ("PUBLIC KEY"), bare base64 or DER, strictly.
 * On success *out is a new key the caller frees with gnutls_pubkey_deinit() and *spec its
 * type.  BE_E_MALFORMED, or BE_E_POLICY for an algorithm certgate does not issue for. */
int be_pubkey_parse(const unsigned char *data, size_t len, gnutls_pubkey_t *out,
		    struct be_keyspec *spec, struct be_err *e);

/* Decodes base64 (RFC 4648, standard alphabet, padding required) ignoring ASCII whitespace.
 * Strict: any other character, bad padding or non-zero trailing bits is BE_E_MALFORMED.
 * *out is malloc()ed; caller frees. */
int be_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		     struct be_err *e);
/* Encodes base64; line_len 0 for one line without a LF, else lines of line_len characters
 * (64, 76), each one, the last included, ended by a LF (ready to sit between PEM BEGIN and
 * END lines).  *out is a malloc()ed NUL-terminated string; caller frees. */
int be_base64_encode(const unsigned char *in, size_t len, unsigned line_len, char **out);

/* Reads PEM, base64 or DER input into DER: when data begins (after whitespace) with
 * "-----BEGIN <label>-----" the label must be one of labels (a NULL-terminated list), the
 * END line must carry the same label and nothing but whitespace may follow it (a second
 * block is an error); else if it is all base64 alphabet and whitespace it is decoded;
 * else it is taken as DER.  Empty results are BE_E_MALFORMED.  *der is malloc()ed; caller
 * frees. */
int be_der_from_text(const unsigned char *data, size_t len, const char *const *labels,
		     unsigned char **der, size_t *der_len, struct be_err *e);

#endif
