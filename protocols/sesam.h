/*
 * The se.SAM N200 PKI-style command API (PROTOCOLS.md section 2): POST /sesam/api with HTTP
 * Basic authentication; a body of form fields (application/x-www-form-urlencoded,
 * multipart/form-data) or a JSON object (a Node-RED "http request" node); the field `command`
 * selects the operation; every reply is a JSON object echoing `command`.
 *
 *   sesam.c       the adapter: routing, authentication, dispatch, replies, demo
 *   sesam_form.c  request bodies -> name/value fields, strictly and with limits
 *   sesam_ops.c   the commands: fields -> struct be_request / store calls -> reply
 */
#ifndef CERTGATE_SESAM_H
#define CERTGATE_SESAM_H

#include <jansson.h>

#include "be_issue.h"
#include "gw.h"

#define SESAM_PATH "/sesam/api"

/* Limits on request bodies (besides the gateway's limits.max_body). */
#define SESAM_MAX_FIELDS 32		/* distinct field names */
#define SESAM_MAX_NAME 64		/* bytes of a field name */
#define SESAM_MAX_VALUE (192 * 1024)	/* bytes of one value: a 64 KiB CSR, base64 of PEM */

/* One field.  value is UTF-8 without NUL bytes, NUL-terminated.  A field given more than
 * once (form fields repeated, or a JSON array of strings) has its values joined by ','
 * and count > 1; commands accept that only where a list makes sense (DNS). */
struct sesam_field {
	char name[SESAM_MAX_NAME + 1];
	char *value;
	size_t len;
	unsigned count;
};

struct sesam_form {
	struct sesam_field v[SESAM_MAX_FIELDS];
	size_t n;
};

/* Parses a request body by its Content-Type (media type compared case-insensitively):
 * application/x-www-form-urlencoded (WHATWG URL "application/x-www-form-urlencoded parsing",
 * but strict: a '%' must start a valid escape), multipart/form-data (RFC 7578; RFC 2046
 * section 5.1.1 delimiters), application/json (one object; sesam_form_from_json).
 * Field names are 1..SESAM_MAX_NAME characters of [A-Za-z0-9_.-]; values valid UTF-8
 * (RFC 3629) without NUL.  A charset other than UTF-8 is refused.
 * f must be zeroed; on error it holds the fields read so far (for echoing `command`).
 * Release with sesam_form_clear().  BE_E_MALFORMED, BE_E_TOOBIG, or BE_E_POLICY for a media
 * type that is not one of the three (the sentence says which are). */
int sesam_form_parse(const char *content_type, const unsigned char *body, size_t len,
		     struct sesam_form *f, struct be_err *e);
/* Reads a JSON object into f (zeroed): strings as they are, integers in decimal, true /
 * false as "true" / "false", objects as their compact JSON text, arrays of strings as a
 * repeated field; null is as if the key were absent; other values are BE_E_MALFORMED
 * naming "<path>.<key>". */
int sesam_form_from_json(const json_t *obj, const char *path, struct sesam_form *f,
			 struct be_err *e);
/* The field called name, borrowed, or NULL. */
const struct sesam_field *sesam_form_get(const struct sesam_form *f, const char *name);
/* Wipes and frees the values (they may hold a PKCS#12 password). */
void sesam_form_clear(struct sesam_form *f);

/* One authenticated call being answered. */
struct sesam_call {
	struct gw_request *req;
	struct be_ctx *be;
	struct be_principal principal;	/* name borrowed from the configuration */
	const char *command;		/* the command's static name */
	const struct sesam_form *form;
	json_t *reply;			/* the reply object; "command" is set already */
	char *profile;			/* template concerned, for log and audit; owned */
	bool secret;			/* the reply holds a PKCS#12 or its password */
	bool audited;			/* the backend audited the outcome itself */
};

/* A command: 0 with c->reply filled, or a BE_E_* code with the sentence in e. */
typedef int (*sesam_op_fn)(struct sesam_call *c, struct be_err *e);

struct sesam_op {
	const char *name;
	sesam_op_fn fn;
	unsigned roles;			/* BE_ROLE_* bits that may call it */
	const char *const *fields;	/* accepted fields besides "command", NULL-terminated */
};

/* The BE_ROLE_* bits of a configured principal's GW_ROLE_* roles. */
unsigned sesam_roles_of(const struct gw_principal *p);

/* The command called name (case-sensitive, as the vendor spells them), borrowed, or NULL. */
const struct sesam_op *sesam_op_find(const char *name);
/* Comma-separated command names, for error sentences; static. */
const char *sesam_op_names(void);

#endif
