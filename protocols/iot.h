/*
 * Enrollment-profile JSON API in the style of DigiCert IoT Trust Manager (PROTOCOLS.md
 * section 4, seed 002): enrollment profiles from the "iot" configuration section, each bound
 * to one certgate profile, and the certificate operations under /iot/api/v1/.
 *
 * iot.c holds the configuration, the demo, authentication, routing and the enrollment-profile
 * resources; iot_ops.c the certificate operations (enroll, renew, get, search, revoke).
 * Nothing here signs, generates keys or touches storage: that is be_issue() and be_store_*.
 */
#ifndef CERTGATE_IOT_H
#define CERTGATE_IOT_H

#include "be_issue.h"
#include "proto.h"

#define IOT_PREFIX "/iot/api/v1/"
#define IOT_MAX_KEYTYPES 8

/* Enrollment methods (bits); only API enrolls through this adapter. */
enum iot_method {
	IOT_METHOD_API = 1u << 0,
	IOT_METHOD_EST = 1u << 1,
	IOT_METHOD_SCEP = 1u << 2,
	IOT_METHOD_ACME = 1u << 3,
	IOT_METHOD_CMPV2 = 1u << 4,
	IOT_METHOD_PORTAL = 1u << 5,
	IOT_METHOD_BATCH = 1u << 6,
};

enum iot_keygen {
	IOT_KEYGEN_CLIENT = 0,		/* "client_side": a CSR only */
	IOT_KEYGEN_SERVER,		/* "server_side": server_side_key_gen only */
	IOT_KEYGEN_EITHER,		/* "client_or_server_side" */
};

struct iot_devattr {
	char *id;
	bool required;
};

/* One enrollment profile: what the vendor API calls an enrollment profile, layered on a
 * certgate profile that makes every security decision about the certificate itself. */
struct iot_eprofile {
	char *id;			/* "IOT_6b1f3c2e-..." ([A-Za-z0-9_-], at most 64) */
	char *name;
	const struct be_profile *cprof;	/* borrowed from the backend context */
	unsigned methods;		/* IOT_METHOD_* */
	enum iot_keygen keygen;
	struct be_keyspec key_types[IOT_MAX_KEYTYPES];	/* within cprof's key types */
	size_t n_key_types;
	struct be_keyspec default_key;	/* alg BE_KEY_NONE when server keygen is not allowed */
	char **required;		/* attribute ids ("subject.common_name") */
	size_t n_required;
	struct iot_devattr *devattrs;
	size_t n_devattrs;
	unsigned char (*passcodes)[32];	/* SHA-256 of each passcode (gw_auth_hash_api_key) */
	size_t n_passcodes;
};

struct iot_state {
	struct iot_eprofile *v;
	size_t n;
};

/* A certificate_profile_attributes id: a subject attribute or a subjectAltName type. */
struct iot_attr {
	const char *id;			/* "subject.common_name", "extensions.san.dns_name" */
	bool san;
	enum be_dn_attr dn;		/* when !san */
	enum be_san_type san_type;	/* when san */
};

/* The attribute table entry for id, borrowed, or NULL. */
const struct iot_attr *iot_attr_find(const char *id);
/* True when the certgate profile would take a value for attribute a. */
bool iot_attr_allowed(const struct be_profile *p, const struct iot_attr *a);

/* Parses a vendor key type name (rsa_2048 rsa_3072 rsa_4096 p_256 p_384 p_521 ed_25519)
 * into *out; false for anything else, including other spellings be_keyspec_parse knows. */
bool iot_keytype_parse(const char *name, struct be_keyspec *out);
/* The vendor name of a key spec ("p_256"), or NULL when it has none. */
const char *iot_keytype_name(const struct be_keyspec *k);
/* True when k is among the enrollment profile's key types. */
bool iot_key_allowed(const struct iot_eprofile *ep, const struct be_keyspec *k);
/* "p_256, p_384" into buf, for error sentences. */
void iot_key_list(const struct iot_eprofile *ep, char *buf, size_t len);

/* Enrollment profile by id, or by the certgate profile it issues under; borrowed or NULL. */
const struct iot_eprofile *iot_eprofile_find(const struct iot_state *st, const char *id);
const struct iot_eprofile *iot_eprofile_of(const struct iot_state *st, const char *profile);

/* ---------------------------------------------------------------- authentication */

enum iot_cred {
	IOT_CRED_API_KEY = 0,	/* x-api-key: a configured principal */
	IOT_CRED_PASSCODE,	/* x-passcode: one enrollment profile, enroll and renew only */
	IOT_CRED_CERT,		/* TLS client certificate bound to a principal */
	IOT_CRED_CERT_SELF,	/* TLS client certificate bound to no principal: it may renew
				 * itself only */
};

struct iot_auth {
	enum iot_cred cred;
	struct be_principal principal;	/* name points into name[] */
	char name[160];
	const struct iot_eprofile *passcode_ep;	/* IOT_CRED_PASSCODE */
	char leaf_serial[41];		/* IOT_CRED_CERT*: serial of the presented certificate */
};

/* Authenticates req: x-api-key, else x-passcode, else the TLS client certificate.
 * enroll_creds says whether the operation takes passcodes and client certificates (enroll
 * and renew do, nothing else does).  Returns 0 or BE_E_UNAUTH / BE_E_MALFORMED with the
 * reason in e (never the credential). */
int iot_authenticate(const struct gw_request *req, const struct iot_state *st,
		     bool enroll_creds, struct iot_auth *a, struct be_err *e);

/* ---------------------------------------------------------------- replies */

/* Context of one API call, for errors, the audit and the access log. */
struct iot_call {
	struct gw_request *req;
	struct gw_response *resp;
	const struct iot_state *st;
	const char *operation;		/* "enroll", "renew", "get", ... */
	const char *profile;		/* certgate profile concerned, for audit, or NULL */
	bool audited;			/* the backend audited the outcome itself */
	struct iot_auth auth;
	bool authed;
};

/* Answers with {errors:[{code, message}]} and the status that fits e->code, and audits the
 * refusal unless the backend did (c->audited).  Returns 0 when a reply was formed. */
int iot_reply_error(struct iot_call *c, const struct be_err *e);
/* Sets the access-log fields of c->resp from c. */
void iot_log_fields(struct iot_call *c);

/* The be_op_ctx of c, for the backend's management functions and be_audit_refusal. */
void iot_op_ctx(const struct iot_call *c, struct be_op_ctx *op);

/* ---------------------------------------------------------------- certificate operations
 * (iot_ops.c); each answers in c->resp and returns 0, or fills e and returns the code for
 * iot_reply_error.  cert_ref is the path segment naming a certificate: its certificate_id
 * (the store id, decimal) or its serial number (hex). */

int iot_op_enroll(struct iot_call *c, struct be_err *e);
int iot_op_renew(struct iot_call *c, const char *cert_ref, struct be_err *e);
int iot_op_get(struct iot_call *c, const char *cert_ref, struct be_err *e);
int iot_op_search(struct iot_call *c, struct be_err *e);
int iot_op_revoke(struct iot_call *c, const char *cert_ref, struct be_err *e);

#endif
