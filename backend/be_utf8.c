/*
 * Strict UTF-8 decoding (RFC 3629 section 4, the table of well-formed byte sequences).
 */
#include "config.h"

#include "be_utf8.h"

size_t
be_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n, k;
	uint32_t v;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		n = 1;
		v = s[0];
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
	} else {
		return 0;	/* a continuation byte, C0/C1 (always overlong) or F5..FF */
	}
	if (n > len)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = v;
	return n;
}

bool
be_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = be_utf8_next(s + i, len - i, NULL)) == 0)
			return false;
		i += n;
	}
	return true;
}
