/*
 * Hexadecimal digits (RFC 4648 section 8, "base16"): one digit's value, and whole byte
 * strings to and from hex.  Shared by every layer; nothing here allocates.
 */
#ifndef CERTGATE_BE_HEX_H
#define CERTGATE_BE_HEX_H

#include <stddef.h>

/* be_hex_decode(): accept only the lower-case digits a-f. */
#define BE_HEX_LOWER 0x1u

/* The value 0..15 of the hex digit c (0-9, a-f, A-F), or -1 for any other byte (NUL
 * included, so a caller may look one byte past a digit of a NUL-terminated string). */
int be_hex_digit(unsigned char c);

/* Decodes exactly 2 * outlen hex digits at hex (hexlen must equal 2 * outlen; no
 * separators) into out, which the caller owns.  flags: 0 or BE_HEX_LOWER.  Returns 0, or -1
 * on a wrong length or a byte that is not a digit (out is then unspecified). */
int be_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t outlen,
		  unsigned flags);

/* Writes the 2 * len lower-case hex digits of in[0..len) and a NUL into out, which the
 * caller owns and which has room for 2 * len + 1 bytes. */
void be_hex_encode(const unsigned char *in, size_t len, char *out);

#endif
