/*
 * Unit tests for backend/be_pct.c: RFC 3986 section 2.1 percent-decoding, '+' as space for
 * form bodies, refusal of malformed escapes and (when asked) of %00.
 */
#include "config.h"

#include <string.h>

#include "be_pct.h"
#include "tap.h"

static void
dec_is(const char *in, size_t len, unsigned flags, const char *want, size_t want_len,
       const char *name)
{
	char out[64];
	size_t n = 99;
	int rc;

	memset(out, 'X', sizeof(out));
	rc = be_pct_decode(in, len, flags, out, &n);
	if (want == NULL)
		tap_ok(rc == -1, "%s (refused)", name);
	else
		tap_ok(rc == 0 && n == want_len && memcmp(out, want, n) == 0 && out[n] == '\0',
		       "%s (rc %d, %zu bytes)", name, rc, n);
}

#define D(in, flags, want, name) dec_is(in, strlen(in), flags, want, sizeof(want) - 1, name)
#define R(in, flags, name) dec_is(in, strlen(in), flags, NULL, 0, name)

int
main(void)
{
	char out[8];

	D("", 0, "", "/pct/empty");
	D("plain", 0, "plain", "/pct/no-escapes");
	D("a%20b", 0, "a b", "/pct/space");
	D("%41%6a%6A", 0, "Ajj", "/pct/hex-either-case");
	D("%25", 0, "%", "/pct/escaped-percent-is-not-decoded-twice");
	D("%2541", 0, "%41", "/pct/single-pass");
	D("%ff%C3%a9", 0, "\xff\xc3\xa9", "/pct/high-bytes");
	D("a+b", 0, "a+b", "/pct/plus-kept-without-flag");
	D("a+b%2B", BE_PCT_PLUS, "a b+", "/pct/plus-as-space-with-flag");
	D("a%00b", 0, "a\0b", "/pct/nul-allowed-without-flag");
	R("a%00b", BE_PCT_NO_NUL, "/pct/nul-refused-with-flag");
	D("%01", BE_PCT_NO_NUL, "\x01", "/pct/only-00-is-nul");
	R("%", 0, "/pct/lone-percent");
	R("ab%4", 0, "/pct/one-digit-at-end");
	R("%4g", 0, "/pct/non-hex-low");
	R("%g4", 0, "/pct/non-hex-high");
	R("%+1", BE_PCT_PLUS, "/pct/plus-is-no-digit");
	R("% 41", 0, "/pct/space-is-no-digit");
	/* the escape must fit within len, even when the bytes after it are digits */
	dec_is("%41", 2, 0, NULL, 0, "/pct/escape-cut-by-len");
	dec_is("%414", 3, 0, "A", 1, "/pct/len-bounds-input");
	TAP_IS_INT(be_pct_decode("%41", 3, 0, out, NULL), 0, "/pct/outlen-may-be-null");
	return tap_done();
}
