/*
 * A growable byte buffer that can wipe what it frees.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "be_buf.h"

#define BUF_FIRST 1024

int
be_buf_add(struct be_buf *b, const void *d, size_t n)
{
	unsigned char *np = NULL;
	size_t cap;
	int rc;

	if (n > (size_t)-1 - b->len || (b->max != 0 && b->len + n > b->max)) {
		rc = BE_E_TOOBIG;
		goto out;
	}
	if (n > b->cap - b->len) {
		cap = b->cap > 0 ? b->cap : BUF_FIRST;
		while (cap - b->len < n)
			cap = cap > (size_t)-1 / 2 ? (size_t)-1 : cap * 2;
		if ((np = malloc(cap)) == NULL) {
			rc = BE_E_NOMEM;
			goto out;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			if (b->secret)
				be_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	rc = BE_OK;
out:
	return rc;
}

int
be_buf_str(struct be_buf *b, const char *s)
{
	return be_buf_add(b, s, strlen(s));
}

unsigned char *
be_buf_take(struct be_buf *b, size_t *len)
{
	unsigned char *p = b->p;

	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void
be_buf_free(struct be_buf *b)
{
	if (b == NULL)
		return;
	if (b->p != NULL && b->secret)
		be_memzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
