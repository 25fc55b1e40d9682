/*
 * Percent-decoding (RFC 3986 section 2.1), optionally with '+' as space
 * (application/x-www-form-urlencoded, WHATWG URL standard section 5.1).  Shared by every
 * layer; nothing here allocates.
 */
#ifndef CERTGATE_BE_PCT_H
#define CERTGATE_BE_PCT_H

#include <stddef.h>

#define BE_PCT_PLUS	0x1u	/* '+' decodes to ' ' (form bodies) */
#define BE_PCT_NO_NUL	0x2u	/* "%00" is refused */

/* Decodes in[0..len) into out, which the caller owns and which has room for len + 1 bytes,
 * and NUL-terminates it; *outlen (may be NULL) is the decoded length.  Every '%' must be
 * followed by two hex digits within len.  flags: BE_PCT_PLUS | BE_PCT_NO_NUL.  Returns 0,
 * or -1 on a malformed escape or a refused %00 (out is then unspecified). */
int be_pct_decode(const char *in, size_t len, unsigned flags, char *out, size_t *outlen);

#endif
