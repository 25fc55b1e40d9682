/*
 * Unit tests for backend/be_utf8.c: RFC 3629 section 4 well-formedness at every boundary
 * (overlong forms, surrogates, above U+10FFFF, truncation, stray continuation bytes).
 */
#include "config.h"

#include <string.h>

#include "be_utf8.h"
#include "tap.h"

#define S(lit) (const unsigned char *)(lit), sizeof(lit) - 1

static void
next_is(const unsigned char *s, size_t len, size_t want_n, uint32_t want_cp, const char *name)
{
	uint32_t cp = 0xffffffffu;
	size_t n = be_utf8_next(s, len, &cp);

	if (want_n == 0)
		tap_ok(n == 0 && cp == 0xffffffffu, "%s (got %zu, refused)", name, n);
	else
		tap_ok(n == want_n && cp == want_cp, "%s (got %zu U+%04X)", name, n, (unsigned)cp);
}

int
main(void)
{
	/* well-formed boundaries of each length */
	next_is(S("\x00"), 1, 0x0, "/utf8/next/nul");
	next_is(S("\x7f"), 1, 0x7f, "/utf8/next/last-1-byte");
	next_is(S("\xc2\x80"), 2, 0x80, "/utf8/next/first-2-byte");
	next_is(S("\xdf\xbf"), 2, 0x7ff, "/utf8/next/last-2-byte");
	next_is(S("\xe0\xa0\x80"), 3, 0x800, "/utf8/next/first-3-byte");
	next_is(S("\xed\x9f\xbf"), 3, 0xd7ff, "/utf8/next/below-surrogates");
	next_is(S("\xee\x80\x80"), 3, 0xe000, "/utf8/next/above-surrogates");
	next_is(S("\xef\xbf\xbf"), 3, 0xffff, "/utf8/next/last-3-byte");
	next_is(S("\xf0\x90\x80\x80"), 4, 0x10000, "/utf8/next/first-4-byte");
	next_is(S("\xf4\x8f\xbf\xbf"), 4, 0x10ffff, "/utf8/next/U+10FFFF");
	/* ill-formed */
	next_is(S("\xc0\x80"), 0, 0, "/utf8/next/overlong-nul-c0");
	next_is(S("\xc1\xbf"), 0, 0, "/utf8/next/overlong-c1");
	next_is(S("\xe0\x9f\xbf"), 0, 0, "/utf8/next/overlong-3-byte");
	next_is(S("\xf0\x8f\xbf\xbf"), 0, 0, "/utf8/next/overlong-4-byte");
	next_is(S("\xed\xa0\x80"), 0, 0, "/utf8/next/surrogate-d800");
	next_is(S("\xed\xbf\xbf"), 0, 0, "/utf8/next/surrogate-dfff");
	next_is(S("\xf4\x90\x80\x80"), 0, 0, "/utf8/next/U+110000");
	next_is(S("\xf5\x80\x80\x80"), 0, 0, "/utf8/next/lead-f5");
	next_is(S("\xff"), 0, 0, "/utf8/next/ff");
	next_is(S("\x80"), 0, 0, "/utf8/next/stray-continuation");
	next_is(S("\xc2\x41"), 0, 0, "/utf8/next/bad-continuation");
	next_is(S("\xe2\x82"), 0, 0, "/utf8/next/truncated-3-byte");
	next_is(S("\xf0\x9f\x98"), 0, 0, "/utf8/next/truncated-4-byte");
	next_is((const unsigned char *)"\xe2\x82\xac", 2, 0, 0, "/utf8/next/cut-by-len");
	next_is((const unsigned char *)"", 0, 0, 0, "/utf8/next/empty");
	TAP_IS_INT(be_utf8_next(S("\xe2\x82\xac"), NULL), 3, "/utf8/next/cp-may-be-null");

	tap_ok(be_utf8_valid(S("")), "/utf8/valid/empty");
	tap_ok(be_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")), "/utf8/valid/mixed");
	tap_ok(be_utf8_valid(S("a\x00" "b")), "/utf8/valid/nul-inside");
	tap_ok(!be_utf8_valid(S("caf\xc3")), "/utf8/valid/truncated-at-end");
	tap_ok(!be_utf8_valid(S("a\xed\xa0\x80z")), "/utf8/valid/surrogate-inside");
	tap_ok(!be_utf8_valid(S("abc\xc0\xaf")), "/utf8/valid/overlong-slash");
	tap_ok(!be_utf8_valid(S("\xe2\x82\xac\x80")), "/utf8/valid/trailing-continuation");
	return tap_done();
}
