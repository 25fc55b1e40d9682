/*
 * certgate backend: the types every module and every adapter share.
 *
 * Path of one request (DESIGN.md "The one request"):
 *   adapter parses HTTP -> fills struct be_request -> be_issue() -> struct be_result
 *   -> adapter encodes the reply in its dialect with the be_encode_* helpers.
 *
 * Conventions: functions return 0 or a negative BE_E_* code; when a struct be_err is
 * passed it receives the code and a sentence saying what was wrong, fit to show a client.
 * x_free(NULL) is a no-op.  Untrusted bytes are parsed once, here in the backend, into the
 * validated structs below; nothing downstream sees the raw bytes again.
 */
#ifndef CERTGATE_BE_H
#define CERTGATE_BE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509-ext.h>

/* ---------------------------------------------------------------- errors (be_err.c) */

enum {
	BE_OK = 0,
	BE_E_NOMEM = -1,	/* out of memory */
	BE_E_MALFORMED = -2,	/* request bytes do not parse (400) */
	BE_E_POLICY = -3,	/* well formed but refused by the profile (403 / ST_FF) */
	BE_E_FORBIDDEN = -4,	/* principal may not do this (403) */
	BE_E_NOTFOUND = -5,	/* no such profile, certificate, request (404) */
	BE_E_CONFLICT = -6,	/* exists already / duplicate (409) */
	BE_E_STATE = -7,	/* object is in the wrong state for this operation (409) */
	BE_E_STORE = -8,	/* the store failed (500) */
	BE_E_CRYPTO = -9,	/* a crypto library call failed unexpectedly (500) */
	BE_E_TOOBIG = -10,	/* input over a size limit (413) */
	BE_E_UNAVAILABLE = -11,	/* CA key or store temporarily unusable (503) */
	BE_E_UNAUTH = -12,	/* no or bad credentials (401) */
	BE_E_CONFIG = -13,	/* configuration invalid */
	BE_E_IO = -14,		/* file system error */
	BE_E_INTERNAL = -15,	/* a bug */
	BE_E_MEDIATYPE = -16,	/* body not in a media type the operation takes (415) */
};

#define BE_ERR_MSG_MAX 384

struct be_err {
	int code;
	char msg[BE_ERR_MSG_MAX];
};

/* Records code and a printf-style sentence in e (if e is not NULL); returns code.
 * The first error set wins: a later be_err_set on an e that already holds an error does
 * nothing but return code, so the most specific (innermost) message survives. */
int be_err_set(struct be_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Clears e. */
void be_err_clear(struct be_err *e);
/* Stable lower-case name of a code ("malformed", "policy", ...). */
const char *be_err_name(int code);

/* Zeroes and gnutls_free()s d->data; d may be NULL or empty. For key material. */
void be_datum_wipe(gnutls_datum_t *d);
/* gnutls_free()s d->data and empties d; d may be NULL. */
void be_datum_free(gnutls_datum_t *d);
/* Zeroes n bytes at p in a way the compiler keeps. */
void be_memzero(void *p, size_t n);
/* Constant-time comparison of two byte strings; false when lengths differ. */
bool be_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* ---------------------------------------------------------------- key specs (be_keyspec.c) */

enum be_key_alg {
	BE_KEY_NONE = 0,
	BE_KEY_RSA,
	BE_KEY_EC,		/* NIST curves P-256, P-384, P-521 */
	BE_KEY_ED25519,
};

struct be_keyspec {
	enum be_key_alg alg;
	unsigned bits;		/* RSA modulus bits; EC 256/384/521; Ed25519 256 */
};

/* Parses a key type name as any front end spells it: "rsa2048", "rsa_2048", "RSA-2048",
 * "p256", "p_256", "P-256", "prime256v1", "secp256r1", "ec256", "ed25519", "ed_25519".
 * Returns 0 or BE_E_MALFORMED. */
int be_keyspec_parse(const char *s, struct be_keyspec *out);
/* Writes the canonical name ("rsa2048", "p256", "ed25519") into buf; returns buf. */
const char *be_keyspec_name(const struct be_keyspec *k, char *buf, size_t len);
/* The key spec of a public key; BE_E_POLICY for algorithms certgate does not issue for. */
int be_keyspec_of_pubkey(gnutls_pubkey_t pub, struct be_keyspec *out, struct be_err *e);
bool be_keyspec_equal(const struct be_keyspec *a, const struct be_keyspec *b);
/* GnuTLS curve for an EC spec, GNUTLS_ECC_CURVE_INVALID otherwise. */
gnutls_ecc_curve_t be_keyspec_curve(const struct be_keyspec *k);

/* ---------------------------------------------------------------- names (be_name.c) */

/* Subject attributes certgate knows.  The table in be_name.c gives each its OID, its short
 * key (as the vendor APIs name it) and the RFC 5280 Appendix A upper bound. */
enum be_dn_attr {
	BE_DN_CN = 0,		/* commonName 2.5.4.3 */
	BE_DN_SN,		/* surname 2.5.4.4 */
	BE_DN_SERIALNUMBER,	/* serialNumber 2.5.4.5 (PrintableString) */
	BE_DN_C,		/* countryName 2.5.4.6 (PrintableString, ISO 3166 alpha-2) */
	BE_DN_L,		/* localityName 2.5.4.7 */
	BE_DN_ST,		/* stateOrProvinceName 2.5.4.8 */
	BE_DN_STREET,		/* streetAddress 2.5.4.9 */
	BE_DN_O,		/* organizationName 2.5.4.10 */
	BE_DN_OU,		/* organizationalUnitName 2.5.4.11 */
	BE_DN_TITLE,		/* title 2.5.4.12 */
	BE_DN_GN,		/* givenName 2.5.4.42 */
	BE_DN_INITIALS,		/* initials 2.5.4.43 */
	BE_DN_GENQ,		/* generationQualifier 2.5.4.44 */
	BE_DN_PSEUDONYM,	/* pseudonym 2.5.4.65 */
	BE_DN_ORGID,		/* organizationIdentifier 2.5.4.97 */
	BE_DN_UID,		/* userId 0.9.2342.19200300.100.1.1 */
	BE_DN_DC,		/* domainComponent 0.9.2342.19200300.100.1.25 (IA5String) */
	BE_DN_E,		/* emailAddress 1.2.840.113549.1.9.1 (IA5String) */
	BE_DN__COUNT
};

struct be_dn_info {
	enum be_dn_attr attr;
	const char *key;	/* "CN", "SN", "C", "E", ... */
	const char *ldap;	/* "commonName", ... (TSB JSON names where they differ) */
	const char *oid;
	unsigned max_len;	/* in characters */
};

/* Table entry for a; never NULL for a valid attr. */
const struct be_dn_info *be_dn_info(enum be_dn_attr a);
/* Finds an attribute by short key, long name or dotted OID (case-insensitive for names).
 * Returns 0 or BE_E_NOTFOUND. */
int be_dn_lookup(const char *name, enum be_dn_attr *out);

struct be_rdn {
	enum be_dn_attr attr;
	char *value;		/* validated UTF-8, no NUL, within max_len */
};

/* A distinguished name in order, most significant (C) first as written by the caller. */
struct be_name {
	struct be_rdn *v;
	size_t n;
};

/* Validates value (len bytes, untrusted) for attribute a and appends a copy.
 * Refuses with BE_E_POLICY and a sentence naming the attribute: empty values, NUL or control
 * characters, invalid UTF-8, values over the upper bound, a C that is not an ISO 3166-1
 * alpha-2 code, an E that is not an addr-spec, characters outside PrintableString for
 * serialNumber / C, outside IA5String for E / DC. */
int be_name_add(struct be_name *n, enum be_dn_attr a, const char *value, size_t len,
		struct be_err *e);
/* First value of attribute a, borrowed, or NULL. */
const char *be_name_get(const struct be_name *n, enum be_dn_attr a);
/* True when both hold the same attributes with the same values in the same order. */
bool be_name_equal(const struct be_name *a, const struct be_name *b);
/* RFC 4514 string (most specific first, escaped); caller frees with free(). */
char *be_name_to_string(const struct be_name *n);
/* Deep copy into dst (which must be empty). */
int be_name_copy(struct be_name *dst, const struct be_name *src);
void be_name_clear(struct be_name *n);

enum be_san_type {
	BE_SAN_DNS = 0,
	BE_SAN_EMAIL,
	BE_SAN_IP,
	BE_SAN_URI,
	BE_SAN__COUNT
};

struct be_san {
	enum be_san_type type;
	char *value;		/* textual form: host name, addr-spec, address, URI */
	unsigned char ip[16];	/* BE_SAN_IP: network order */
	unsigned iplen;		/* 4 or 16 */
};

struct be_sans {
	struct be_san *v;
	size_t n;
};

/* Validates and appends.  DNS: RFC 1035 / 5280 preferred name syntax (LDH labels, each
 * 1-63 octets, total <= 253, no trailing dot, A-labels valid IDNA2008, U-labels refused; a
 * whole left-most "*" label allowed here, the profile decides: be_namepolicy.h), stored
 * lower-case; EMAIL: addr-spec;
 * IP: IPv4 or IPv6 text (or raw 4/16 bytes when type is BE_SAN_IP and raw is true);
 * URI: absolute URI with a scheme, printable ASCII.  BE_E_POLICY with a sentence otherwise. */
int be_sans_add(struct be_sans *s, enum be_san_type t, const char *value, size_t len,
		struct be_err *e);
/* True when s (len octets) is a DNS name be_sans_add takes (with wildcard, "*.rest" is
 * allowed); false with a sentence saying what is wrong in why. */
bool be_dns_name_valid(const char *s, size_t len, bool wildcard, char *why, size_t whysize);
/* True when name begins with a wildcard label ("*."). */
bool be_dns_is_wildcard(const char *name);
/* Appends an IP SAN from 4 or 16 raw network-order bytes. */
int be_sans_add_ip_raw(struct be_sans *s, const unsigned char *ip, size_t len,
		       struct be_err *e);
/* True when a and b name the same thing: DNS case-insensitively, IP by address, e-mail with
 * a case-sensitive local part and a case-insensitive domain (RFC 5321 2.4), URI exactly. */
bool be_san_equal(const struct be_san *a, const struct be_san *b);
/* True when both hold the same entries (order-insensitive, DNS case-insensitive). */
bool be_sans_equal(const struct be_sans *a, const struct be_sans *b);
int be_sans_copy(struct be_sans *dst, const struct be_sans *src);
void be_sans_clear(struct be_sans *s);
const char *be_san_type_name(enum be_san_type t);	/* "dns", "email", "ip", "uri" */

/* ---------------------------------------------------------------- principals (be_profile.c) */

/* Roles a principal can hold (PROTOCOLS.md: se.SAM client / RO / CA administrator; TSB key
 * management, key operation, approver, service). */
enum be_role {
	BE_ROLE_CLIENT = 1u << 0,
	BE_ROLE_RO_ADMIN = 1u << 1,
	BE_ROLE_CA_ADMIN = 1u << 2,
	BE_ROLE_KEY_MGMT = 1u << 3,
	BE_ROLE_KEY_OP = 1u << 4,
	BE_ROLE_APPROVER = 1u << 5,
	BE_ROLE_SERVICE = 1u << 6,
};

/* "client", "ro_admin", "ca_admin", "key_management", "key_operation", "approver",
 * "service" -> bit; 0 when unknown. */
unsigned be_role_parse(const char *name);

/* Who is asking, as authenticated by the gateway. */
struct be_principal {
	const char *name;	/* borrowed; NULL for an anonymous caller */
	unsigned roles;		/* BE_ROLE_* bits */
};

#endif
