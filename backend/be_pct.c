/*
 * Percent-decoding (RFC 3986 section 2.1).
 */
#include "config.h"

#include "be_hex.h"
#include "be_pct.h"

int
be_pct_decode(const char *in, size_t len, unsigned flags, char *out, size_t *outlen)
{
	size_t i, o = 0;
	int hi, lo, rc = -1;

	for (i = 0; i < len; i++) {
		if (in[i] == '+' && (flags & BE_PCT_PLUS) != 0) {
			out[o++] = ' ';
			continue;
		}
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (len - i < 3)
			goto out;
		hi = be_hex_digit((unsigned char)in[i + 1]);
		lo = be_hex_digit((unsigned char)in[i + 2]);
		if (hi < 0 || lo < 0 || ((flags & BE_PCT_NO_NUL) != 0 && hi == 0 && lo == 0))
			goto out;
		out[o++] = (char)((hi << 4) | lo);
		i += 2;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	rc = 0;
out:
	return rc;
}
