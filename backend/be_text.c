/*
 * Text armour: strict base64 (RFC 4648 4) and PEM (RFC 7468) around DER.
 *
 * GnuTLS' own decoders are not used: gnutls_pem_base64_decode2() with a NULL header still
 * wants the BEGIN / END armour, and gnutls_base64_decode2() (strict about the alphabet and
 * the trailing bits) takes whitespace inside the padding and returns gnutls_malloc()ed memory;
 * the rules here are few enough to state exactly.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "be_csr.h"

#define PEM_LABEL_MAX 64

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
be_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
		 struct be_err *e)
{
	unsigned char *buf = NULL;
	uint32_t acc = 0;
	size_t i, o = 0, nq = 0, pad = 0;
	bool done = false;
	unsigned char c;
	int v, rc = BE_OK;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (is_space(c))
			continue;
		if (done) {
			rc = be_err_set(e, BE_E_MALFORMED,
					"base64: data after the padding at offset %zu", i);
			goto out;
		}
		if (c == '=') {
			/* RFC 4648 4: "=" only completes the last quantum, after 2 or 3 symbols */
			if (nq < 2) {
				rc = be_err_set(e, BE_E_MALFORMED,
						"base64: misplaced padding at offset %zu", i);
				goto out;
			}
			pad++;
			nq++;
			acc <<= 6;
		} else {
			if (pad > 0 || (v = b64_value(c)) < 0) {
				rc = be_err_set(e, BE_E_MALFORMED,
						"base64: invalid character at offset %zu", i);
				goto out;
			}
			acc = (acc << 6) | (uint32_t)v;
			nq++;
		}
		if (nq < 4)
			continue;
		/* RFC 4648 3.5: the bits after the last octet must be zero */
		if ((pad == 1 && (acc & 0xff) != 0) || (pad == 2 && (acc & 0xffff) != 0)) {
			rc = be_err_set(e, BE_E_MALFORMED,
					"base64: non-zero bits after the last octet (RFC 4648 3.5)");
			goto out;
		}
		buf[o++] = (unsigned char)(acc >> 16);
		if (pad < 2)
			buf[o++] = (unsigned char)(acc >> 8);
		if (pad < 1)
			buf[o++] = (unsigned char)acc;
		done = pad > 0;
		acc = 0;
		nq = 0;
	}
	if (nq != 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"base64: the last group has %zu symbols; padding is required "
				"(RFC 4648 4)", nq);
		goto out;
	}
	*out = buf;
	*outlen = o;
	buf = NULL;
out:
	free(buf);
	return rc;
}

int
be_base64_encode(const unsigned char *in, size_t len, unsigned line_len, char **out)
{
	char *s = NULL;
	char quad[4];
	size_t i, k, size, chars, o = 0, col = 0;
	uint32_t acc;
	int rc = BE_OK;

	*out = NULL;
	if (len > SIZE_MAX / 4) {
		rc = BE_E_TOOBIG;
		goto out;
	}
	chars = (len + 2) / 3 * 4;
	size = chars + 1;
	if (line_len > 0)
		size += chars / line_len + 1;
	if ((s = malloc(size)) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	for (i = 0; i < len; i += 3) {
		acc = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			acc |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			acc |= in[i + 2];
		quad[0] = b64_alphabet[(acc >> 18) & 0x3f];
		quad[1] = b64_alphabet[(acc >> 12) & 0x3f];
		quad[2] = i + 1 < len ? b64_alphabet[(acc >> 6) & 0x3f] : '=';
		quad[3] = i + 2 < len ? b64_alphabet[acc & 0x3f] : '=';
		for (k = 0; k < 4; k++) {
			s[o++] = quad[k];
			if (line_len > 0 && ++col == line_len) {
				s[o++] = '\n';
				col = 0;
			}
		}
	}
	if (line_len > 0 && col > 0)
		s[o++] = '\n';
	s[o] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	return rc;
}

/* Position of needle in hay[0..len), or len. */
static size_t
find(const unsigned char *hay, size_t len, const char *needle)
{
	size_t i, n = strlen(needle);

	for (i = 0; n <= len && i <= len - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return i;
	return len;
}

static bool
starts_with(const unsigned char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(p, prefix, n) == 0;
}

/* RFC 7468 2: one BEGIN line with an accepted label, base64 with any whitespace, the END
 * line with the same label, then only whitespace. */
static int
pem_decode(const unsigned char *p, size_t len, const char *const *labels, unsigned char **der,
	   size_t *der_len, struct be_err *e)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ", dashes[] = "-----";
	char label[PEM_LABEL_MAX + 1];
	size_t i, llen, body, body_len, rest;
	bool known = false;
	int rc = BE_OK;

	p += strlen(begin);
	len -= strlen(begin);
	llen = find(p, len, dashes);
	if (llen == len || llen > PEM_LABEL_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, "PEM BEGIN line malformed (RFC 7468 3)");
		goto out;
	}
	for (i = 0; i < llen; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e) {
			rc = be_err_set(e, BE_E_MALFORMED, "PEM BEGIN line malformed (RFC 7468 3)");
			goto out;
		}
	}
	memcpy(label, p, llen);
	label[llen] = '\0';
	for (i = 0; labels != NULL && labels[i] != NULL; i++)
		if (strcmp(label, labels[i]) == 0)
			known = true;
	if (!known) {
		rc = be_err_set(e, BE_E_MALFORMED, "PEM label \"%s\" where \"%s\" was expected",
				label, labels != NULL && labels[0] != NULL ? labels[0] : "");
		goto out;
	}
	body = llen + strlen(dashes);
	body_len = find(p + body, len - body, end);
	if (body_len == len - body) {
		rc = be_err_set(e, BE_E_MALFORMED, "PEM END line missing");
		goto out;
	}
	rest = body + body_len + strlen(end);
	if (!starts_with(p + rest, len - rest, label) ||
	    !starts_with(p + rest + llen, len - rest - llen, dashes)) {
		rc = be_err_set(e, BE_E_MALFORMED, "PEM END line does not say \"%s\"", label);
		goto out;
	}
	for (i = rest + llen + strlen(dashes); i < len; i++) {
		if (is_space(p[i]))
			continue;
		if (starts_with(p + i, len - i, "-----BEGIN"))
			rc = be_err_set(e, BE_E_MALFORMED, "more than one PEM block");
		else
			rc = be_err_set(e, BE_E_MALFORMED, "data after the PEM END line");
		goto out;
	}
	if ((rc = be_base64_decode((const char *)p + body, body_len, der, der_len, e)) != BE_OK)
		goto out;
out:
	return rc;
}

int
be_der_from_text(const unsigned char *data, size_t len, const char *const *labels,
		 unsigned char **der, size_t *der_len, struct be_err *e)
{
	unsigned char *buf = NULL;
	size_t i, start;
	bool b64 = true;
	int rc = BE_OK;

	*der = NULL;
	*der_len = 0;
	for (start = 0; start < len && is_space(data[start]); start++)
		;
	if (start == len) {
		rc = be_err_set(e, BE_E_MALFORMED, "empty input");
		goto out;
	}
	if (starts_with(data + start, len - start, "-----BEGIN ")) {
		rc = pem_decode(data + start, len - start, labels, &buf, der_len, e);
	} else {
		for (i = start; i < len && b64; i++) {
			if (is_space(data[i]))
				continue;
			b64 = data[i] == '=' || b64_value(data[i]) >= 0;
		}
		if (b64) {
			rc = be_base64_decode((const char *)data + start, len - start, &buf,
					      der_len, e);
		} else if ((buf = malloc(len)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		} else {
			memcpy(buf, data, len);
			*der_len = len;
		}
	}
	if (rc != BE_OK)
		goto out;
	if (*der_len == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "empty input");
		goto out;
	}
	*der = buf;
	buf = NULL;
out:
	if (rc != BE_OK)
		*der_len = 0;
	free(buf);
	return rc;
}
