/*
 * Request message framing (RFC 9112 section 6): how long the body of a request is.
 *
 * libmicrohttpd 0.9.75 takes the first of two Content-Length headers, lets a Content-Length
 * stand beside a Transfer-Encoding and waits forever on a transfer coding it does not know.
 * A request whose length two parsers could read differently is how requests are smuggled
 * past a proxy, so certgate decides the framing itself, once, before a body is read, and
 * refuses every ambiguous form with 400 and a closed connection (RFC 9112 section 6.3).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw.h"

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 section 8.6: Content-Length = 1*DIGIT, nothing else (no sign, no list). */
static bool
length_parse(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	const char *p = v;

	while (is_ows(*p))
		p++;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (n > UINT64_MAX / 10 || (n == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return false;
		n = n * 10 + d;
	}
	while (is_ows(*p))
		p++;
	if (*p != '\0')
		return false;
	*out = n;
	return true;
}

/* RFC 9112 section 6.1: every coding of every Transfer-Encoding line, in order; only one
 * "chunked", last, is understood.  Counts the codings into f. */
static void
codings_add(struct gw_framing *f, const char *v)
{
	const char *p = v, *s;
	size_t n;

	for (;;) {
		while (is_ows(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p != '\0' && *p != ',' && *p != ';' && !is_ows(*p))
			p++;
		n = (size_t)(p - s);
		f->n_codings++;
		if (n == 7 && strncasecmp(s, "chunked", 7) == 0 && *p != ';')
			f->n_chunked++;
		else
			f->other_coding = true;
		/* a coding's parameters (";q=...") are skipped with it */
		while (*p != '\0' && *p != ',')
			p++;
	}
}

void
gw_framing_init(struct gw_framing *f)
{
	memset(f, 0, sizeof(*f));
}

void
gw_framing_header(struct gw_framing *f, const char *name, const char *value)
{
	if (name == NULL)
		return;
	if (strcasecmp(name, "Content-Length") == 0) {
		f->n_length++;
		if (value == NULL || !length_parse(value, &f->length))
			f->bad_length = true;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		f->n_te++;
		codings_add(f, value != NULL ? value : "");
	}
}

const char *
gw_framing_verdict(struct gw_framing *f, bool http10)
{
	const char *why = NULL;

	if (f->n_length > 1)
		why = "RFC 9112 section 6.3: Content-Length sent more than once";
	else if (f->n_length == 1 && f->n_te > 0)
		why = "RFC 9112 section 6.3: both Content-Length and Transfer-Encoding";
	else if (f->bad_length)
		why = "RFC 9110 section 8.6: Content-Length is not a decimal number";
	else if (f->n_te > 0 && http10)
		why = "RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 request";
	else if (f->n_te > 0 && f->other_coding)
		why = "RFC 9112 section 6.1: Transfer-Encoding other than chunked is not "
		      "supported";
	else if (f->n_te > 0 && f->n_codings == 0)
		why = "RFC 9112 section 6.1: empty Transfer-Encoding";
	else if (f->n_te > 0 && f->n_chunked != 1)
		why = "RFC 9112 section 6.1: chunked applied more than once";
	f->chunked = why == NULL && f->n_te > 0;
	return why;
}
