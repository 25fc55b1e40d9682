/*
 * se.SAM request bodies into name/value fields: application/x-www-form-urlencoded (what
 * Python requests sends for data=dict), multipart/form-data (RFC 7578) and a JSON object
 * (what a Node-RED "http request" node sends for an object payload).  Strict, with limits;
 * every error names the field or the rule.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "be_json.h"
#include "be_pct.h"
#include "be_utf8.h"
#include "sesam.h"

#define PART_HEADER_MAX 1024	/* bytes of one multipart header line */
#define PART_HEADERS_MAX 8	/* header lines of one part */
#define BOUNDARY_MAX 70		/* RFC 2046 section 5.1.1 */

/* ---------------------------------------------------------------- fields */

static bool
name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > SESAM_MAX_NAME)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Adds a field, taking value (malloc()ed, len bytes plus room for a NUL) in every case. */
static int
field_add(struct sesam_form *f, const char *name, size_t nlen, char *value, size_t len,
	  struct be_err *e)
{
	struct sesam_field *fld = NULL;
	char *joined = NULL;
	size_t i;
	int rc = BE_OK;

	if (!name_valid(name, nlen)) {
		rc = be_err_set(e, BE_E_MALFORMED, "field %zu: a field name is 1 to %d characters "
				"of A-Z a-z 0-9 _ . -", f->n + 1, SESAM_MAX_NAME);
		goto out;
	}
	if (len > SESAM_MAX_VALUE) {
		rc = be_err_set(e, BE_E_TOOBIG, "%.*s: value longer than %d bytes", (int)nlen, name,
				SESAM_MAX_VALUE);
		goto out;
	}
	if (memchr(value, '\0', len) != NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "%.*s: contains a NUL byte", (int)nlen, name);
		goto out;
	}
	if (!be_utf8_valid((const unsigned char *)value, len)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%.*s: not valid UTF-8 (RFC 3629)", (int)nlen,
				name);
		goto out;
	}
	value[len] = '\0';
	for (i = 0; i < f->n; i++)
		if (strlen(f->v[i].name) == nlen && memcmp(f->v[i].name, name, nlen) == 0)
			fld = &f->v[i];
	if (fld != NULL) {
		if (fld->len + 1 + len > SESAM_MAX_VALUE) {
			rc = be_err_set(e, BE_E_TOOBIG, "%s: values longer than %d bytes together",
					fld->name, SESAM_MAX_VALUE);
			goto out;
		}
		if ((joined = malloc(fld->len + len + 2)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(joined, fld->value, fld->len);
		joined[fld->len] = ',';
		memcpy(joined + fld->len + 1, value, len + 1);
		be_memzero(fld->value, fld->len);
		free(fld->value);
		fld->value = joined;
		fld->len += len + 1;
		fld->count++;
		joined = NULL;
		goto out;
	}
	if (f->n >= SESAM_MAX_FIELDS) {
		rc = be_err_set(e, BE_E_TOOBIG, "more than %d fields", SESAM_MAX_FIELDS);
		goto out;
	}
	fld = &f->v[f->n++];
	memcpy(fld->name, name, nlen);
	fld->name[nlen] = '\0';
	fld->value = value;
	fld->len = len;
	fld->count = 1;
	value = NULL;
out:
	if (value != NULL) {
		be_memzero(value, len);
		free(value);
	}
	return rc;
}

/* Adds a copy of len bytes at src. */
static int
field_add_copy(struct sesam_form *f, const char *name, size_t nlen, const void *src, size_t len,
	       struct be_err *e)
{
	char *v;

	if (len > SESAM_MAX_VALUE) {
		if (!name_valid(name, nlen))
			return be_err_set(e, BE_E_TOOBIG, "field %zu: value longer than %d bytes",
					  f->n + 1, SESAM_MAX_VALUE);
		return be_err_set(e, BE_E_TOOBIG, "%.*s: value longer than %d bytes", (int)nlen,
				  name, SESAM_MAX_VALUE);
	}
	if ((v = malloc(len + 1)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	memcpy(v, src, len);
	return field_add(f, name, nlen, v, len, e);
}

const struct sesam_field *
sesam_form_get(const struct sesam_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return &f->v[i];
	return NULL;
}

void
sesam_form_clear(struct sesam_form *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		if (f->v[i].value != NULL) {
			be_memzero(f->v[i].value, f->v[i].len);
			free(f->v[i].value);
		}
	}
	memset(f, 0, sizeof(*f));
}

/* ---------------------------------------------------------------- media types (RFC 9110 8.3) */

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* True when the media type of ct (before any parameter) is type, case-insensitively. */
static bool
media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	while (is_ows(*ct))
		ct++;
	return strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || is_ows(ct[n]));
}

/* RFC 9110 5.6.2 token characters. */
static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Finds parameter name (case-insensitive) among the "; name=value" parameters following the
 * first token of s (RFC 9110 5.6.6; values are tokens or quoted-strings).  Returns 1 and the
 * value in out, 0 when absent, -1 when s does not parse or the value does not fit. */
static int
header_param(const char *s, const char *name, char *out, size_t outlen)
{
	const char *p = s, *n;
	size_t nlen, o;
	bool match;

	while (is_ows(*p))
		p++;
	while (*p != '\0' && *p != ';' && !is_ows(*p))
		p++;
	for (;;) {
		while (is_ows(*p))
			p++;
		if (*p == '\0')
			return 0;
		if (*p++ != ';')
			return -1;
		while (is_ows(*p))
			p++;
		if (*p == '\0')
			return 0;	/* a trailing ';' */
		n = p;
		while (is_tchar(*p))
			p++;
		nlen = (size_t)(p - n);
		if (nlen == 0 || *p++ != '=')
			return -1;
		match = nlen == strlen(name) && strncasecmp(n, name, nlen) == 0;
		o = 0;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					return -1;
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (match) {
					if (o + 1 >= outlen)
						return -1;
					out[o++] = *p;
				}
			}
			p++;
		} else {
			const char *v = p;

			while (is_tchar(*p))
				p++;
			if (p == v)
				return -1;
			if (match) {
				if ((size_t)(p - v) >= outlen)
					return -1;
				memcpy(out, v, (size_t)(p - v));
				o = (size_t)(p - v);
			}
		}
		if (match) {
			out[o] = '\0';
			return 1;
		}
	}
}

/* A charset parameter, when present, must name UTF-8 (or its subset US-ASCII). */
static int
charset_check(const char *ct, const char *what, struct be_err *e)
{
	char cs[32];
	int r = header_param(ct, "charset", cs, sizeof(cs));

	if (r < 0)
		return be_err_set(e, BE_E_MALFORMED, "%s: Content-Type parameters do not parse "
				  "(RFC 9110 section 8.3)", what);
	if (r == 1 && strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "utf8") != 0 &&
	    strcasecmp(cs, "us-ascii") != 0)
		return be_err_set(e, BE_E_MALFORMED, "%s: charset %.32s is not supported; send "
				  "UTF-8", what, cs);
	return BE_OK;
}

/* ---------------------------------------------------------------- urlencoded */

static int
form_urlencoded(const unsigned char *b, size_t len, struct sesam_form *f, struct be_err *e)
{
	char name[SESAM_MAX_NAME * 3 + 1];
	char *value = NULL;
	size_t i = 0, j, eq, nlen, vlen;
	int rc = BE_OK;

	while (i < len) {
		for (j = i; j < len && b[j] != '&'; j++)
			;
		if (j == i) {
			i++;
			continue;
		}
		for (eq = i; eq < j && b[eq] != '='; eq++)
			;
		if (eq - i > SESAM_MAX_NAME * 3) {
			rc = be_err_set(e, BE_E_MALFORMED, "field %zu: name longer than %d bytes",
					f->n + 1, SESAM_MAX_NAME);
			goto out;
		}
		if (be_pct_decode((const char *)b + i, eq - i, BE_PCT_PLUS, name, &nlen) != 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "field %zu: '%%' in the name not followed "
					"by two hex digits (RFC 3986 section 2.1)", f->n + 1);
			goto out;
		}
		if (!name_valid(name, nlen)) {
			rc = be_err_set(e, BE_E_MALFORMED, "field %zu: a field name is 1 to %d "
					"characters of A-Z a-z 0-9 _ . -", f->n + 1, SESAM_MAX_NAME);
			goto out;
		}
		vlen = eq < j ? j - eq - 1 : 0;
		if (vlen > SESAM_MAX_VALUE * 3) {
			rc = be_err_set(e, BE_E_TOOBIG, "%.*s: value longer than %d bytes", (int)nlen,
					name, SESAM_MAX_VALUE);
			goto out;
		}
		if ((value = malloc(vlen + 1)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if (be_pct_decode((const char *)b + eq + 1, vlen, BE_PCT_PLUS, value, &vlen) != 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "%.*s: '%%' not followed by two hex digits "
					"(RFC 3986 section 2.1)", (int)nlen, name);
			goto out;
		}
		rc = field_add(f, name, nlen, value, vlen, e);
		value = NULL;
		if (rc != BE_OK)
			goto out;
		i = j + 1;
	}
out:
	if (value != NULL) {
		be_memzero(value, vlen);
		free(value);
	}
	return rc;
}

/* ---------------------------------------------------------------- multipart (RFC 7578) */

/* RFC 2046 section 5.1.1 bchars. */
static bool
boundary_valid(const char *b)
{
	size_t i, n = strlen(b);

	if (n == 0 || n > BOUNDARY_MAX || b[n - 1] == ' ')
		return false;
	for (i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("'()+_,-./:=? ", c) != NULL))
			return false;
	}
	return true;
}

/* Position of "\r\n" delim at or after from, or len when there is none. */
static size_t
find_delim(const unsigned char *b, size_t len, size_t from, const char *delim, size_t dlen)
{
	size_t i;

	for (i = from; i + 2 + dlen <= len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && memcmp(b + i + 2, delim, dlen) == 0)
			return i;
	return len;
}

/* Reads the header lines of a part starting at *pos (just after the delimiter line) up to
 * and including the empty line; fills name with the Content-Disposition name. */
static int
part_headers(const unsigned char *b, size_t len, size_t *pos, size_t part, char *name,
	     size_t namelen, struct be_err *e)
{
	char line[PART_HEADER_MAX + 1];
	size_t p = *pos, n, lines = 0;
	bool have_cd = false;
	int r;

	for (;;) {
		const unsigned char *crlf = NULL;
		size_t k;

		for (k = p; k + 1 < len && k - p <= PART_HEADER_MAX; k++) {
			if (b[k] == '\r' && b[k + 1] == '\n') {
				crlf = b + k;
				break;
			}
		}
		if (crlf == NULL)
			return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: header line too long "
					  "or not ended by CRLF (RFC 7578 section 4)", part);
		n = (size_t)(crlf - (b + p));
		if (n == 0) {
			p += 2;
			break;
		}
		if (++lines > PART_HEADERS_MAX)
			return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: more than %d header "
					  "lines", part, PART_HEADERS_MAX);
		memcpy(line, b + p, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL || is_ows(line[0]))
			return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: malformed header "
					  "line", part);
		p += n + 2;
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			const char *v = line + 20;
			char star[4];

			while (is_ows(*v))
				v++;
			if (!media_is(v, "form-data"))
				return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: "
						  "Content-Disposition is not form-data (RFC 7578 "
						  "section 4.2)", part);
			if (header_param(v, "name*", star, sizeof(star)) != 0)
				return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: name* is not "
						  "used in form-data (RFC 7578 section 4.2)", part);
			r = header_param(v, "name", name, namelen);
			if (r != 1)
				return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: "
						  "Content-Disposition without a usable name parameter "
						  "(RFC 7578 section 4.2)", part);
			if (have_cd)
				return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: two "
						  "Content-Disposition headers", part);
			have_cd = true;
		} else if (strncasecmp(line, "Content-Type:", 13) == 0) {
			if ((r = charset_check(line + 13, "multipart part", e)) != BE_OK)
				return r;
		} else if (strncasecmp(line, "Content-Transfer-Encoding:", 26) == 0) {
			const char *v = line + 26;

			while (is_ows(*v))
				v++;
			if (!media_is(v, "7bit") && !media_is(v, "8bit") && !media_is(v, "binary"))
				return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: "
						  "Content-Transfer-Encoding other than 7bit, 8bit or "
						  "binary (RFC 7578 section 4.7)", part);
		}
		/* other header fields are ignored (RFC 7578 section 4.8) */
	}
	if (!have_cd)
		return be_err_set(e, BE_E_MALFORMED, "multipart part %zu: no Content-Disposition "
				  "(RFC 7578 section 4.2)", part);
	*pos = p;
	return BE_OK;
}

static int
form_multipart(const char *ct, const unsigned char *b, size_t len, struct sesam_form *f,
	       struct be_err *e)
{
	char boundary[BOUNDARY_MAX + 1], delim[BOUNDARY_MAX + 3];
	char name[SESAM_MAX_NAME + 2];
	size_t dlen, pos, p, end, part = 0;
	int rc = BE_OK, r;

	r = header_param(ct, "boundary", boundary, sizeof(boundary));
	if (r != 1 || !boundary_valid(boundary)) {
		rc = be_err_set(e, BE_E_MALFORMED, "multipart/form-data: %s boundary parameter "
				"(RFC 2046 section 5.1.1)", r == 1 ? "invalid" : "no usable");
		goto out;
	}
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if (len >= dlen && memcmp(b, delim, dlen) == 0)
		pos = 0;
	else if ((pos = find_delim(b, len, 0, delim, dlen)) < len)
		pos += 2;
	else {
		rc = be_err_set(e, BE_E_MALFORMED, "multipart/form-data: no boundary delimiter in "
				"the body (RFC 2046 section 5.1.1)");
		goto out;
	}
	for (;;) {
		p = pos + dlen;
		if (p + 2 <= len && b[p] == '-' && b[p + 1] == '-')
			break;		/* close-delimiter; the epilogue is ignored */
		while (p < len && is_ows((char)b[p]))
			p++;
		if (p + 2 > len || b[p] != '\r' || b[p + 1] != '\n') {
			rc = be_err_set(e, BE_E_MALFORMED, "multipart/form-data: boundary delimiter "
					"not followed by CRLF (RFC 2046 section 5.1.1)");
			goto out;
		}
		p += 2;
		part++;
		if ((rc = part_headers(b, len, &p, part, name, sizeof(name), e)) != BE_OK)
			goto out;
		end = find_delim(b, len, p, delim, dlen);
		if (end >= len) {
			rc = be_err_set(e, BE_E_MALFORMED, "multipart/form-data: part %zu is not "
					"closed by a boundary delimiter (RFC 2046 section 5.1.1)",
					part);
			goto out;
		}
		if ((rc = field_add_copy(f, name, strlen(name), b + p, end - p, e)) != BE_OK)
			goto out;
		pos = end + 2;
	}
	if (part == 0)
		rc = be_err_set(e, BE_E_MALFORMED, "multipart/form-data: no parts");
out:
	return rc;
}

/* ---------------------------------------------------------------- JSON */

/* Overwrites every string of j (request bodies may carry p12_pass). */
static void
json_wipe(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		be_memzero((char *)(uintptr_t)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			json_wipe(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_wipe(v);
	}
}

int
sesam_form_from_json(const json_t *obj, const char *path, struct sesam_form *f,
		     struct be_err *e)
{
	const char *key, *dot = path[0] != '\0' ? "." : "";
	json_t *v, *it;
	char num[32];
	char *text = NULL;
	size_t i;
	int rc = BE_OK;

	if (!json_is_object(obj)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: must be a JSON object",
				path[0] != '\0' ? path : "request body");
		goto out;
	}
	json_object_foreach((json_t *)obj, key, v) {
		size_t klen = strlen(key);

		if (!name_valid(key, klen)) {
			rc = be_err_set(e, BE_E_MALFORMED, "%s%skey %zu: a field name is 1 to %d "
					"characters of A-Z a-z 0-9 _ . -", path, dot, f->n + 1,
					SESAM_MAX_NAME);
			goto out;
		}
		switch (json_typeof(v)) {
		case JSON_STRING:
			rc = field_add_copy(f, key, klen, json_string_value(v), json_string_length(v),
					    e);
			break;
		case JSON_INTEGER:
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			rc = field_add_copy(f, key, klen, num, strlen(num), e);
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			rc = field_add_copy(f, key, klen, json_is_true(v) ? "true" : "false",
					    json_is_true(v) ? 4 : 5, e);
			break;
		case JSON_NULL:
			break;
		case JSON_OBJECT:
			if ((text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				break;
			}
			rc = field_add_copy(f, key, klen, text, strlen(text), e);
			be_memzero(text, strlen(text));
			free(text);
			text = NULL;
			break;
		case JSON_ARRAY:
			json_array_foreach(v, i, it) {
				if (!json_is_string(it)) {
					rc = be_err_set(e, BE_E_MALFORMED, "%s%s%s[%zu]: must be a string",
							path, dot, key, i);
					break;
				}
				rc = field_add_copy(f, key, klen, json_string_value(it),
						    json_string_length(it), e);
				if (rc != BE_OK)
					break;
			}
			break;
		default:
			rc = be_err_set(e, BE_E_MALFORMED, "%s%s%s: must be a string", path, dot, key);
			break;
		}
		if (rc != BE_OK)
			goto out;
	}
out:
	return rc;
}

static int
form_json(const char *ct, const unsigned char *b, size_t len, struct sesam_form *f,
	  struct be_err *e)
{
	json_t *j = NULL;
	int rc;

	if ((rc = charset_check(ct, "application/json", e)) != BE_OK)
		goto out;
	/* RFC 8259 section 8.1: UTF-8; jansson checks it while parsing. */
	if ((rc = be_json_parse((const char *)b, len, "request body", BE_E_MALFORMED, &j,
				e)) != BE_OK)
		goto out;
	rc = sesam_form_from_json(j, "", f, e);
out:
	if (j != NULL) {
		json_wipe(j);
		json_decref(j);
	}
	return rc;
}

/* ---------------------------------------------------------------- entry */

int
sesam_form_parse(const char *content_type, const unsigned char *body, size_t len,
		 struct sesam_form *f, struct be_err *e)
{
	static const char accepted[] = "send application/x-www-form-urlencoded, "
				       "multipart/form-data or application/json";
	int rc;

	if (content_type == NULL) {
		if (len == 0)
			return be_err_set(e, BE_E_MALFORMED, "empty request: the fields command and "
					  "template are expected; %s", accepted);
		return be_err_set(e, BE_E_POLICY, "no Content-Type; %s", accepted);
	}
	if (media_is(content_type, "application/x-www-form-urlencoded")) {
		if ((rc = charset_check(content_type, "application/x-www-form-urlencoded", e)) !=
		    BE_OK)
			return rc;
		return form_urlencoded(body, len, f, e);
	}
	if (media_is(content_type, "multipart/form-data"))
		return form_multipart(content_type, body, len, f, e);
	if (media_is(content_type, "application/json"))
		return form_json(content_type, body, len, f, e);
	return be_err_set(e, BE_E_POLICY, "Content-Type %.64s is not supported; %s", content_type,
			  accepted);
}
