/*
 * Profiles (certificate templates): everything that matters for security is decided here,
 * from configuration data, never from the request (DESIGN.md "The one request").
 */
#ifndef CERTGATE_BE_PROFILE_H
#define CERTGATE_BE_PROFILE_H

#include <jansson.h>

#include "be.h"

struct be_ca;

enum be_field_policy {
	BE_FIELD_FORBIDDEN = 0,	/* not listed: a value for it is refused */
	BE_FIELD_OPTIONAL,	/* taken when given */
	BE_FIELD_REQUIRED,	/* must be given */
	BE_FIELD_FIXED,		/* the profile's value; a different value given is refused */
	BE_FIELD_IGNORE,	/* dropped silently when given */
};

/* Output formats a profile allows (bits). */
enum be_out_bits {
	BE_OUT_PEM = 1u << 0,		/* certificate / key as PEM */
	BE_OUT_DER = 1u << 1,
	BE_OUT_PKCS7 = 1u << 2,		/* certs-only */
	BE_OUT_PKCS12 = 1u << 3,
	BE_OUT_CMS = 1u << 4,		/* key (or bundle) in CMS EnvelopedData */
};

enum be_p12_password_policy {
	BE_P12PW_OPTIONAL = 0,		/* client's password, else a fresh random one returned once */
	BE_P12PW_REQUIRED,		/* the client must supply one */
};

enum be_distribution {
	BE_DIST_REPLY = 0,		/* in the reply */
	BE_DIST_DOWNLOAD,		/* kept for download later (implies keep_key) */
	BE_DIST_DROP,			/* written into drop_dir as well */
};

#define BE_PROFILE_MAX_KEYTYPES 16

struct be_profile {
	char *name;
	char *description;
	struct be_ca *ca;			/* borrowed from the context; NULL when
						 * keystore_issuer */
	/* "issuer": "keystore": certificates are signed by the key-store key a request names
	 * (be_request.issuer, a CA built by be_keystore_ca), not by a configured CA. */
	bool keystore_issuer;
	/* "extensions": "request": the request names key usage, EKU and the CA flag
	 * (be_request.ext), within key_usage, eku, is_ca, path_len and the validity caps
	 * below (be_issuer.h); otherwise the profile decides them. */
	bool ext_from_request;

	unsigned validity_days;			/* default */
	unsigned max_validity_days;		/* cap on what a request may ask */
	unsigned max_ca_validity_days;		/* ext_from_request: cap for CA certificates */

	struct be_keyspec key_types[BE_PROFILE_MAX_KEYTYPES];	/* allowed (client and server) */
	size_t n_key_types;
	struct be_keyspec server_key;		/* default for server keygen */
	bool server_keygen;			/* server may generate the key */
	bool client_keys;			/* client may bring its key (CSR / public key) */

	unsigned key_usage;			/* GNUTLS_KEY_* bits (ext_from_request: the
						 * bits a request may ask for) */
	char **eku;				/* dotted OIDs (ext_from_request: allowed) */
	size_t n_eku;
	bool is_ca;				/* (ext_from_request: CA certificates allowed) */
	int path_len;				/* -1 none (ext_from_request: the most a CA
						 * certificate gets) */

	enum be_field_policy subject[BE_DN__COUNT];
	char *subject_fixed[BE_DN__COUNT];

	unsigned san_types;			/* bits (1u << enum be_san_type) */
	unsigned san_max;
	char **dns_patterns;			/* "*.example.com" (one label), "**.example.com"
						 * (any depth), "host.example.org"; none = any */
	size_t n_dns_patterns;
	bool cn_as_dns;				/* add the CN as a DNS SAN when it is a host name */
	bool san_wildcards;			/* "*.example.com" DNS names may be issued */

	unsigned outputs;			/* BE_OUT_* bits */
	enum be_p12_password_policy p12_password;
	unsigned p12_min_len;
	unsigned p12_iterations;

	unsigned approvals;			/* approvals needed; 0 = issued at once */
	char **allow;				/* "role:<role>", "<principal>", "*" */
	size_t n_allow;
	bool keep_key;				/* keep an encrypted copy (PKCS#12) for download */
	enum be_distribution distribution;
	char *drop_dir;
	bool pop_linking;			/* RFC 7030 3.5: challengePassword = channel binding */
	/* Internal profiles only (be_ocsp.c's responder certificates), never from the
	 * configuration: validity in seconds instead of days when non-zero, and the RFC 6960
	 * 4.2.2.2.1 id-pkix-ocsp-nocheck extension. */
	unsigned validity_seconds;
	bool ocsp_nocheck;
	/* Written into what the profile issues (be_tbs): CRLDistributionPoints, and
	 * authorityInfoAccess OCSP / caIssuers.  NULL: none. */
	char *crl_url, *ocsp_url, *ca_issuers_url;
};

/* Parses the "profiles" object (name -> profile) of the configuration; cas are the loaded CAs
 * a profile names by "ca".  Every error names the key path ("profiles.IoT.key_usage[2]: ...").
 * *out: array of *n profiles; caller be_profiles_free(). */
int be_profiles_parse(const json_t *profiles, struct be_ca **cas, size_t n_cas,
		      struct be_profile **out, size_t *n, struct be_err *e);
void be_profiles_free(struct be_profile *p, size_t n);

/* True when principal may use profile p. */
bool be_profile_allows(const struct be_profile *p, const struct be_principal *principal);
/* True when key spec k is among the profile's allowed key types. */
bool be_profile_key_allowed(const struct be_profile *p, const struct be_keyspec *k);
/* Comma-separated allowed key type names, for error sentences. */
void be_profile_key_list(const struct be_profile *p, char *buf, size_t len);

/* Names of key usage bits and EKU purposes as the configuration spells them. */
int be_ku_parse(const char *name, unsigned *bit);
/* Comma-separated RFC 5280 names of the key usage bits, for sentences, into buf. */
void be_ku_names(unsigned bits, char *buf, size_t len);
int be_eku_parse(const char *name, const char **oid);
const char *be_eku_name(const char *oid);

#endif
