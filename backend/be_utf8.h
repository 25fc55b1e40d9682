/*
 * Strict UTF-8 (RFC 3629 section 4): no overlong forms, no surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no truncated sequences.  Shared by every layer; nothing here
 * allocates.
 */
#ifndef CERTGATE_BE_UTF8_H
#define CERTGATE_BE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length 1..4 of the well-formed UTF-8 sequence at the start of s[0..len), storing its
 * code point in *cp when cp is not NULL; 0 when the sequence is ill-formed or cut by len
 * (also when len is 0).  A NUL byte is the one-byte sequence for U+0000.  s is borrowed. */
size_t be_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* True when s[0..len) is well-formed UTF-8 throughout (U+0000 allowed).  s is borrowed. */
bool be_utf8_valid(const unsigned char *s, size_t len);

#endif
