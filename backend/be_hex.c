/*
 * Hexadecimal digits (RFC 4648 section 8).
 */
#include "config.h"

#include "be_hex.h"

int
be_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
be_hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t outlen,
	      unsigned flags)
{
	size_t i;
	int hi, lo, rc = -1;

	if (outlen > (size_t)-1 / 2 || hexlen != 2 * outlen)
		goto out;
	for (i = 0; i < hexlen; i++)
		if ((flags & BE_HEX_LOWER) != 0 && hex[i] >= 'A' && hex[i] <= 'F')
			goto out;
	for (i = 0; i < outlen; i++) {
		hi = be_hex_digit((unsigned char)hex[2 * i]);
		lo = be_hex_digit((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto out;
		out[i] = (unsigned char)((hi << 4) | lo);
	}
	rc = 0;
out:
	return rc;
}

void
be_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}
