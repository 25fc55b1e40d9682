/*
 * Unit tests for backend/be_hex.c: digit values, strict decoding (length, case, non-digits)
 * and encoding.
 */
#include "config.h"

#include <string.h>

#include "be_hex.h"
#include "tap.h"

int
main(void)
{
	unsigned char out[4], all[256];
	char text[2 * 256 + 1];
	int c, bad = 0;
	size_t i;

	for (c = 0; c < 256; c++) {
		int want = -1;

		if (c >= '0' && c <= '9')
			want = c - '0';
		else if (c >= 'a' && c <= 'f')
			want = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			want = c - 'A' + 10;
		if (be_hex_digit((unsigned char)c) != want)
			bad++;
	}
	TAP_IS_INT(bad, 0, "/hex/digit/all-256-bytes");
	TAP_IS_INT(be_hex_digit('\0'), -1, "/hex/digit/nul-is-not-a-digit");
	TAP_IS_INT(be_hex_digit('g'), -1, "/hex/digit/g");
	TAP_IS_INT(be_hex_digit('/'), -1, "/hex/digit/before-0");
	TAP_IS_INT(be_hex_digit(':'), -1, "/hex/digit/after-9");
	TAP_IS_INT(be_hex_digit('@'), -1, "/hex/digit/before-A");

	TAP_IS_INT(be_hex_decode("00fFa9", 6, out, 3, 0), 0, "/hex/decode/mixed-case");
	tap_ok(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xa9, "/hex/decode/mixed-case/bytes");
	TAP_IS_INT(be_hex_decode("00fFa9", 6, out, 3, BE_HEX_LOWER), -1,
		   "/hex/decode/lower-only-refuses-upper");
	TAP_IS_INT(be_hex_decode("00ffa9", 6, out, 3, BE_HEX_LOWER), 0,
		   "/hex/decode/lower-only-accepts-lower");
	TAP_IS_INT(be_hex_decode("00ff", 4, out, 3, 0), -1, "/hex/decode/too-short");
	TAP_IS_INT(be_hex_decode("00ffa9b", 7, out, 3, 0), -1, "/hex/decode/too-long");
	TAP_IS_INT(be_hex_decode("0", 1, out, 0, 0), -1, "/hex/decode/odd-length");
	TAP_IS_INT(be_hex_decode("", 0, out, 0, 0), 0, "/hex/decode/empty");
	TAP_IS_INT(be_hex_decode("0g", 2, out, 1, 0), -1, "/hex/decode/non-digit-low");
	TAP_IS_INT(be_hex_decode("g0", 2, out, 1, 0), -1, "/hex/decode/non-digit-high");
	TAP_IS_INT(be_hex_decode("0\0", 2, out, 1, 0), -1, "/hex/decode/embedded-nul");
	TAP_IS_INT(be_hex_decode("0 ", 2, out, 1, 0), -1, "/hex/decode/space");
	TAP_IS_INT(be_hex_decode("+f", 2, out, 1, 0), -1, "/hex/decode/sign");

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	be_hex_encode(all, sizeof(all), text);
	tap_ok(strlen(text) == 512 && memcmp(text, "000102", 6) == 0 &&
	       memcmp(text + 506, "fdfeff", 6) == 0, "/hex/encode/all-bytes-lower-case");
	memset(all, 0, sizeof(all));
	TAP_IS_INT(be_hex_decode(text, 512, all, sizeof(all), BE_HEX_LOWER), 0,
		   "/hex/round-trip/decode");
	for (i = 0, bad = 0; i < sizeof(all); i++)
		if (all[i] != i)
			bad++;
	TAP_IS_INT(bad, 0, "/hex/round-trip/bytes");
	text[0] = 'x';
	be_hex_encode(all, 0, text);
	TAP_IS_INT(text[0], '\0', "/hex/encode/empty-is-nul-terminated");
	return tap_done();
}
