/*
 * Building an adapter's reply: status, content type, body, extra headers.
 * Bodies marked secret (key material) are wiped before they are freed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

static void
body_release(struct gw_response *resp)
{
	if (resp->body != NULL && resp->secret)
		be_memzero(resp->body, resp->body_len);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/* Sets status and content type; the body is left to the caller. */
static int
head_set(struct gw_response *resp, unsigned status, const char *content_type)
{
	char *ct = NULL;

	if (content_type != NULL) {
		if (strpbrk(content_type, "\r\n") != NULL)
			return BE_E_INTERNAL;
		ct = strdup(content_type);
		if (ct == NULL)
			return BE_E_NOMEM;
	}
	free(resp->content_type);
	resp->content_type = ct;
	resp->status = status;
	return 0;
}

int
gw_response_take(struct gw_response *resp, unsigned status, const char *content_type,
		 unsigned char *body, size_t len)
{
	int rc;

	rc = head_set(resp, status, content_type);
	if (rc != 0)
		goto out;
	body_release(resp);
	resp->body = body;
	resp->body_len = body != NULL ? len : 0;
	body = NULL;
out:
	if (body != NULL && resp->secret)
		be_memzero(body, len);
	free(body);
	return rc;
}

int
gw_response_set(struct gw_response *resp, unsigned status, const char *content_type,
		const void *body, size_t len)
{
	unsigned char *copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return BE_E_NOMEM;
		memcpy(copy, body, len);
	}
	return gw_response_take(resp, status, content_type, copy, len);
}

int
gw_response_text(struct gw_response *resp, unsigned status, const char *fmt, ...)
{
	va_list ap;
	char *buf = NULL;
	int n;
	size_t len;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return BE_E_INTERNAL;
	len = (size_t)n;
	buf = malloc(len + 2);
	if (buf == NULL)
		return BE_E_NOMEM;
	va_start(ap, fmt);
	vsnprintf(buf, len + 1, fmt, ap);
	va_end(ap);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return gw_response_take(resp, status, "text/plain; charset=utf-8",
				(unsigned char *)buf, len + 1);
}

int
gw_response_json(struct gw_response *resp, unsigned status, const json_t *j)
{
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	unsigned char *buf = NULL;
	size_t need;

	need = json_dumpb(j, NULL, 0, flags);
	if (need == 0)
		return BE_E_INTERNAL;
	buf = malloc(need);
	if (buf == NULL)
		return BE_E_NOMEM;
	if (json_dumpb(j, (char *)buf, need, flags) != need) {
		be_memzero(buf, need);
		free(buf);
		return BE_E_INTERNAL;
	}
	return gw_response_take(resp, status, "application/json", buf, need);
}

int
gw_response_header(struct gw_response *resp, const char *name, const char *value)
{
	char *n = NULL, *v = NULL;
	int rc = BE_E_NOMEM;

	if (name == NULL || value == NULL || name[0] == '\0' ||
	    strpbrk(name, "\r\n: \t") != NULL || strpbrk(value, "\r\n") != NULL) {
		rc = BE_E_INTERNAL;
		goto out;
	}
	if (resp->n_headers >= GW_MAX_HEADERS) {
		rc = BE_E_INTERNAL;
		goto out;
	}
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL)
		goto out;
	resp->headers[resp->n_headers].name = n;
	resp->headers[resp->n_headers].value = v;
	resp->n_headers++;
	n = NULL;
	v = NULL;
	rc = 0;
out:
	free(v);
	free(n);
	return rc;
}

void
gw_response_clear(struct gw_response *resp)
{
	size_t i;

	if (resp == NULL)
		return;
	body_release(resp);
	free(resp->content_type);
	for (i = 0; i < resp->n_headers; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->principal);
	free(resp->profile);
	memset(resp, 0, sizeof(*resp));
}
