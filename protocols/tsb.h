/*
 * The Securosys TSB-style adapter (PROTOCOLS.md section 3; seeds 001/003/004): JSON over
 * HTTP under /v1/, X-API-KEY tokens with the TSB roles.  tsb.c routes, authenticates,
 * parses bodies and writes errors; tsb_ops.c has one handler per operation.  Keys, CSRs,
 * signing, approvals and storage are the backend's (be_keystore.h, be_policy.h).
 *
 * Endpoints (role in brackets):
 *   GET  /v1/versionInfo                               [service]
 *   POST /v1/key, GET /v1/key                          [key_management]
 *   GET  /v1/key/{label}/attributes, POST /v1/key/attributes
 *   DELETE /v1/key/{label}, POST /v1/key/deleteKey
 *   POST /v1/key/export/plain
 *   POST /v1/certificate/synchronous/request           [key_operation]
 *   POST /v1/certificate/synchronous/sign
 *   POST /v1/certificate/sign                          -> {signRequestId}
 *   POST /v1/certificate/import/plain
 *   GET, DELETE /v1/certificate/{label}
 *   GET, DELETE /v1/request/{id}
 *   POST /v1/filteredSignApprovalTask                  [approver]
 *   POST /v1/approval, POST /v1/rejection
 *
 * Approver side, for the certgate approve CLI and for curl with openssl alike: list the
 * tasks of a key by POSTing {timestamp, timestampSignature, approverPublicKey} to
 * /v1/filteredSignApprovalTask, where timestampSignature is base64 of the approver key's
 * signature over the timestamp text (RSA / EC: `printf %s "$ts" | openssl dgst -sha256
 * -sign key.pem | base64 -w0`; Ed25519: `openssl pkeyutl -sign -rawin`), within
 * tsb.timestamp_window seconds of the server's clock.  Each task carries approvalToBeSigned
 * and rejectionToBeSigned (base64 text); POST /v1/approval {id, approvalToBeSigned,
 * signature, approverPublicKey} with the signature over the decoded token approves, and
 * POST /v1/rejection {id, rejectionToBeSigned, signature, approverPublicKey} rejects.
 */
#ifndef CERTGATE_TSB_H
#define CERTGATE_TSB_H

#include <jansson.h>

#include "be_keystore.h"
#include "be_policy.h"
#include "proto.h"

/* The adapter's state, from the "tsb" configuration section. */
struct tsb_state {
	struct be_keystore *ks;
	const struct be_profile *profile;	/* tsb.profile: what stored keys sign (borrowed
						 * from the configuration), or NULL */
	unsigned timestamp_window;	/* seconds */
};

/* What a NOTFOUND is about, for TSB's errorCode. */
enum tsb_obj {
	TSB_OBJ_NONE = 0,
	TSB_OBJ_KEY,
	TSB_OBJ_REQUEST,
	TSB_OBJ_CERT,
};

/* One HTTP request as the handlers see it. */
struct tsb_call {
	struct gw_request *req;
	struct gw_response *resp;
	struct tsb_state *st;
	const struct gw_principal *who;
	struct be_tsb_env env;
	struct be_op_ctx op;
	enum tsb_obj obj;
	const char *label;		/* the key concerned, once known (borrowed) */
};

/* Writes the TSB error reply {errorCode, reason, message} for backend code `code` (status
 * and errorCode from the adapter's one table) and audits it as a refusal unless audited
 * (the backend flows audit their own).  Returns 0 (a reply was formed). */
int tsb_fail(struct tsb_call *c, int code, const char *message, bool audited);
/* Writes status and j (taken) as the JSON reply.  Returns 0 or a negative code. */
int tsb_reply(struct tsb_call *c, unsigned status, json_t *j);
/* Names the key a call concerns (borrowed for the call): refusals are audited under
 * profile "tsb:<label>", and the access log shows it. */
void tsb_label(struct tsb_call *c, const char *label);
/* Appends an audit entry for a successful key-store operation. */
void tsb_audit(struct tsb_call *c, const char *label, const char *outcome, const char *reason);
/* Parses the request body as one JSON object (Content-Type application/json; trailing
 * commas before } or ] are tolerated, as TSB's real clients send them).  *out: caller
 * json_decref()s.  On failure the error reply is written and a negative code returned. */
int tsb_body(struct tsb_call *c, json_t **out);
/* Reading TSB request bodies: as be_json_str / _uint / _bool / _obj with BE_E_MALFORMED,
 * except that a JSON null, and an empty string where a value is optional, count as absent
 * (TSB's Java clients send null for "not set", tsb-client-go ""); be_json.h's
 * BE_JSON_NULL_ABSENT | BE_JSON_EMPTY_ABSENT.  tsb_json_get returns the value or NULL. */
const json_t *tsb_json_get(const json_t *o, const char *key);
int tsb_json_str(const json_t *o, const char *path, const char *key, bool required,
		 const char **out, struct be_err *e);
int tsb_json_uint(const json_t *o, const char *path, const char *key, bool required,
		  unsigned long long min, unsigned long long max, unsigned long long *out,
		  struct be_err *e);
int tsb_json_bool(const json_t *o, const char *path, const char *key, bool *out,
		  struct be_err *e);
int tsb_json_obj(const json_t *o, const char *path, const char *key, bool required,
		 const json_t **out, struct be_err *e);
/* Reads a TSB password: null or absent (none), an array of one-character strings, or a
 * string.  *out malloc()ed (NULL for none), caller wipes and frees.  BE_E_MALFORMED. */
int tsb_password(const json_t *o, const char *path, const char *key, char **out,
		 struct be_err *e);

/* Handlers (tsb_ops.c); label and id are percent-decoded path segments.  Each returns 0
 * after writing a reply. */
int tsb_version(struct tsb_call *c);
int tsb_key_create(struct tsb_call *c);
int tsb_key_list(struct tsb_call *c);
int tsb_key_attributes(struct tsb_call *c, const char *label);
int tsb_key_delete(struct tsb_call *c, const char *label);
int tsb_key_export(struct tsb_call *c);
int tsb_csr(struct tsb_call *c);
int tsb_sign_sync(struct tsb_call *c);
int tsb_sign_async(struct tsb_call *c);
int tsb_cert_import(struct tsb_call *c);
int tsb_cert_get(struct tsb_call *c, const char *label);
int tsb_cert_delete(struct tsb_call *c, const char *label);
int tsb_request_get(struct tsb_call *c, const char *id);
int tsb_request_delete(struct tsb_call *c, const char *id);
int tsb_tasks(struct tsb_call *c);
int tsb_decide(struct tsb_call *c, bool approve);

#endif
