/*
 * EST (RFC 7030, updated by RFC 8951 and RFC 8996): the adapter's shared state.
 *
 *   est.c      configuration section "est", demo hook, routing, authentication, replies
 *   est_ops.c  the operations: cacerts, simpleenroll, simplereenroll, serverkeygen,
 *              csrattrs, fullcmc
 */
#ifndef CERTGATE_EST_H
#define CERTGATE_EST_H

#include "be_issue.h"
#include "be_csrattrs.h"
#include "be_cms.h"
#include "proto.h"

#define EST_LABEL_MAX 64

struct est_label {
	char *name;				/* [A-Za-z0-9._-]{1,64}, not an operation name */
	const struct be_profile *profile;	/* borrowed from the backend context */
};

/* A key the server may encrypt server-generated keys to (RFC 7030 4.4.1.1 / 4.4.1.2). */
struct est_decrypt_key {
	unsigned char id[64];			/* KEKIdentifier or the recipient's SKI */
	size_t id_len;
	unsigned char kek[32];			/* symmetric: AES key-wrap key, 16/24/32 octets */
	size_t kek_len;
	struct be_cms_recipient *recipient;	/* asymmetric, or NULL */
	enum be_cms_kt kt;
};

/* The "est" section, validated (est.c). */
struct est_state {
	const struct be_profile *default_profile;	/* NULL: only labelled paths */
	struct est_label *labels;
	size_t n_labels;
	char *realm;					/* WWW-Authenticate realm */
	unsigned retry_after;				/* seconds, for 202 and 503 */
	struct est_decrypt_key *keys;
	size_t n_keys;
	struct be_est_signer *signer;			/* set when keys exist */
};

enum est_op {
	EST_OP_CACERTS = 0,
	EST_OP_SIMPLEENROLL,
	EST_OP_SIMPLEREENROLL,
	EST_OP_SERVERKEYGEN,
	EST_OP_CSRATTRS,
	EST_OP_FULLCMC,
	EST_OP__COUNT
};

/* One routed request: what est.c resolved before an operation runs. */
struct est_call {
	struct gw_request *req;
	struct gw_response *resp;
	const struct est_state *st;
	enum est_op op;
	const char *op_name;			/* static */
	const struct be_profile *profile;	/* the label's (or the default) profile */
	const char *label;			/* NULL for the default */
};

/* ---------------------------------------------------------------- est.c */

/* RFC 7030 3.2.3: true when the request reached certgate over TLS.  The one place that
 * decides it (a trusted TLS-terminating proxy will count here too). */
bool est_channel_secure(const struct gw_request *req);
/* The TLS client certificate chain of the request, leaf first (borrowed), *n its length
 * (0: none).  The one place that decides which certificate the client presented. */
const gnutls_datum_t *est_client_chain(const struct gw_request *req, size_t *n);

/* Who is asking: a TLS client certificate bound to a principal, else HTTP Basic over a
 * secure channel.  On success fills *who (name borrowed from the configuration) and
 * returns 0; otherwise answers the request (401 with the challenge, 403) and returns the
 * negative code with e set. */
int est_authenticate(struct est_call *c, struct be_principal *who, struct be_err *e);

/* Answers with the status for e->code and e->msg as text (401 carries the Basic
 * challenge, 503 a Retry-After).  audit: also record the refusal (for refusals before
 * be_issue, which audits its own).  Returns 0 or BE_E_NOMEM. */
int est_fail(struct est_call *c, const struct be_err *e, const char *principal, bool audit);
/* Same, from a code and a sentence. */
int est_fail_msg(struct est_call *c, int code, const char *principal, bool audit,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Same, with an HTTP status no backend code stands for (415). */
int est_fail_status(struct est_call *c, unsigned status, const char *principal, bool audit,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sets a 200 reply of content type ct whose body is the base64 of der in 64-column lines, with Content-Transfer-Encoding: base64 (RFC 8951 section 3).  secret: the bytes
 * are key material. */
int est_reply_base64(struct est_call *c, const char *ct, const unsigned char *der, size_t len,
		     bool secret);
/* Base64 of der in 64-column lines each ended by LF; *out malloc()ed (NUL-terminated),
 * *outlen its length. */
int est_base64_lines(const unsigned char *der, size_t len, char **out, size_t *outlen);

/* ---------------------------------------------------------------- est_ops.c */

int est_op_cacerts(struct est_call *c);
int est_op_csrattrs(struct est_call *c);
/* simpleenroll, simplereenroll and serverkeygen. */
int est_op_enroll(struct est_call *c);

#endif
