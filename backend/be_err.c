/*
 * Error codes and the small memory helpers every module uses.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "be.h"

int
be_err_set(struct be_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL || e->code != 0)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
be_err_clear(struct be_err *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}

const char *
be_err_name(int code)
{
	switch (code) {
	case BE_OK:		return "ok";
	case BE_E_NOMEM:	return "nomem";
	case BE_E_MALFORMED:	return "malformed";
	case BE_E_POLICY:	return "policy";
	case BE_E_FORBIDDEN:	return "forbidden";
	case BE_E_NOTFOUND:	return "notfound";
	case BE_E_CONFLICT:	return "conflict";
	case BE_E_STATE:	return "state";
	case BE_E_STORE:	return "store";
	case BE_E_CRYPTO:	return "crypto";
	case BE_E_TOOBIG:	return "toobig";
	case BE_E_UNAVAILABLE:	return "unavailable";
	case BE_E_UNAUTH:	return "unauthenticated";
	case BE_E_CONFIG:	return "config";
	case BE_E_IO:		return "io";
	case BE_E_INTERNAL:	return "internal";
	case BE_E_MEDIATYPE:	return "mediatype";
	default:		return "unknown";
	}
}

void
be_memzero(void *p, size_t n)
{
	if (p != NULL && n > 0)
		gnutls_memset(p, 0, n);
}

void
be_datum_wipe(gnutls_datum_t *d)
{
	if (d == NULL)
		return;
	if (d->data != NULL) {
		be_memzero(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

void
be_datum_free(gnutls_datum_t *d)
{
	if (d == NULL)
		return;
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
}

bool
be_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	if (alen == 0)
		return true;
	return gnutls_memcmp(a, b, alen) == 0;
}
