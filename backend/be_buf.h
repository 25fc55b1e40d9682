/*
 * A growable byte buffer.  A buffer marked secret (key material, passwords) wipes every
 * copy it lets go of: the old storage when it grows, and its storage when freed.
 *
 * Usage: struct be_buf b = { 0 }; b.secret = true; b.max = LIMIT; be_buf_add(&b, ...);
 * ... be_buf_free(&b).  The buffer owns b.p until be_buf_take() or be_buf_free().
 */
#ifndef CERTGATE_BE_BUF_H
#define CERTGATE_BE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct be_buf {
	unsigned char *p;	/* malloc()ed, owned by the buffer; NULL while empty */
	size_t len, cap;
	size_t max;		/* upper bound on len, 0 = none */
	bool secret;		/* wipe storage before it is freed */
};

/* Appends n bytes of d (borrowed).  Returns BE_OK, BE_E_TOOBIG when len would pass max,
 * or BE_E_NOMEM; on failure the buffer is unchanged. */
int be_buf_add(struct be_buf *b, const void *d, size_t n);

/* Appends the NUL-terminated string s (borrowed) without its NUL; as be_buf_add(). */
int be_buf_str(struct be_buf *b, const char *s);

/* Hands over the contents: returns b->p (caller frees; NULL when empty), *len (may be NULL)
 * its length, and leaves b empty.  Capacity beyond len never held data; the taker of a
 * secret buffer wipes its len bytes before freeing them. */
unsigned char *be_buf_take(struct be_buf *b, size_t *len);

/* Frees the contents (wiped first when secret) and leaves b empty; b may be NULL. */
void be_buf_free(struct be_buf *b);

#endif
