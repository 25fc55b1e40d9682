/*
 * be_ocsp_req_parse (RFC 6960 4.1.1, RFC 8954 2.1): what a valid request yields, and every
 * refusal, on DER built here byte by byte.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be_ocsp.h"
#include "tap.h"

struct buf {
	unsigned char b[8192];
	size_t n;
};

static void
put(struct buf *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		abort();
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

/* Appends tag, the DER length of in, then in. */
static void
tlv(struct buf *o, unsigned char tag, const struct buf *in)
{
	unsigned char h[4];
	size_t hn = 0;

	h[hn++] = tag;
	if (in->n < 128) {
		h[hn++] = (unsigned char)in->n;
	} else if (in->n < 256) {
		h[hn++] = 0x81;
		h[hn++] = (unsigned char)in->n;
	} else {
		h[hn++] = 0x82;
		h[hn++] = (unsigned char)(in->n >> 8);
		h[hn++] = (unsigned char)in->n;
	}
	put(o, h, hn);
	put(o, in->b, in->n);
}

static void
prim(struct buf *o, unsigned char tag, const void *p, size_t n)
{
	struct buf t;

	t.n = 0;
	put(&t, p, n);
	tlv(o, tag, &t);
}

static const unsigned char OID_SHA1[] = { 0x2b, 0x0e, 0x03, 0x02, 0x1a };
static const unsigned char OID_SHA256[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };
static const unsigned char OID_MD5[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05 };
static const unsigned char OID_NONCE[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02 };
static const unsigned char OID_OTHER[] = { 0x2a, 0x03, 0x04 };

/* A Request with a CertID: hash OID, params NULL or absent, hashes of hlen octets, serial. */
static void
request(struct buf *o, const unsigned char *oid, size_t oidlen, bool null_params, size_t hlen,
	const unsigned char *serial, size_t slen)
{
	struct buf alg = { .n = 0 }, certid = { .n = 0 }, req = { .n = 0 };
	unsigned char h[64];

	memset(h, 0xab, sizeof(h));
	prim(&alg, 0x06, oid, oidlen);
	if (null_params)
		put(&alg, "\x05\x00", 2);
	tlv(&certid, 0x30, &alg);
	prim(&certid, 0x04, h, hlen);
	prim(&certid, 0x04, h, hlen);
	prim(&certid, 0x02, serial, slen);
	tlv(&req, 0x30, &certid);
	tlv(o, 0x30, &req);
}

/* An extension: OID, critical or not, extnValue. */
static void
extension(struct buf *o, const unsigned char *oid, size_t oidlen, bool critical,
	  const void *val, size_t vlen)
{
	struct buf e = { .n = 0 };

	prim(&e, 0x06, oid, oidlen);
	if (critical)
		put(&e, "\x01\x01\xff", 3);
	prim(&e, 0x04, val, vlen);
	tlv(o, 0x30, &e);
}

/* A nonce extension of n octets (extnValue holds OCTET STRING). */
static void
nonce_ext(struct buf *o, size_t n)
{
	struct buf v = { .n = 0 };
	unsigned char x[64];

	memset(x, 0x5a, sizeof(x));
	prim(&v, 0x04, x, n);
	extension(o, OID_NONCE, sizeof(OID_NONCE), false, v.b, v.n);
}

/* OCSPRequest { TBSRequest { [version] requestList [exts] } } */
static void
ocsp_request(struct buf *o, const struct buf *list, const struct buf *exts, int version)
{
	struct buf tbs = { .n = 0 }, l = { .n = 0 }, x = { .n = 0 }, v = { .n = 0 },
		   outer = { .n = 0 };
	unsigned char ver = (unsigned char)version;

	if (version >= 0) {
		prim(&v, 0x02, &ver, 1);
		tlv(&tbs, 0xa0, &v);
	}
	tlv(&l, 0x30, list);
	put(&tbs, l.b, l.n);
	if (exts != NULL && exts->n > 0) {
		tlv(&x, 0x30, exts);
		tlv(&tbs, 0xa2, &x);
	}
	tlv(&outer, 0x30, &tbs);
	o->n = 0;
	tlv(o, 0x30, &outer);
}

static int
parse(const struct buf *b, size_t max, struct be_ocsp_req *r, struct be_err *e)
{
	be_err_clear(e);
	return be_ocsp_req_parse(b->b, b->n, max, r, e);
}

static void
refused(const struct buf *b, size_t max, const char *want, const char *name)
{
	struct be_ocsp_req r;
	struct be_err e;
	int rc = parse(b, max, &r, &e);

	tap_ok(rc == BE_E_MALFORMED && strstr(e.msg, want) != NULL && r.n == 0,
	       "%s: refused (\"%s\")", name, e.msg);
}

int
main(void)
{
	static const unsigned char serial[] = { 0x40, 0x01, 0x02, 0x03 };
	struct buf list = { .n = 0 }, exts = { .n = 0 }, req;
	struct be_ocsp_req r;
	struct be_err e;
	unsigned char big[40];
	int i;

	/* ---- valid */
	request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, -1);
	tap_ok(parse(&req, 4, &r, &e) == BE_OK && r.n == 1 && r.ids[0].hash == GNUTLS_DIG_SHA1 &&
	       r.ids[0].hash_len == 20 && r.ids[0].params_null && r.ids[0].serial_len == 4 &&
	       memcmp(r.ids[0].serial, serial, 4) == 0 && !r.has_nonce,
	       "/ocsp/req/sha1: one SHA-1 CertID, parameters NULL, no nonce (%s)", e.msg);
	list.n = 0;
	request(&list, OID_SHA256, sizeof(OID_SHA256), false, 32, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, -1);
	tap_ok(parse(&req, 4, &r, &e) == BE_OK && r.n == 1 &&
	       r.ids[0].hash == GNUTLS_DIG_SHA256 && !r.ids[0].params_null,
	       "/ocsp/req/sha256: SHA-256 CertID, parameters absent");
	nonce_ext(&exts, 32);
	extension(&exts, OID_OTHER, sizeof(OID_OTHER), false, "\x05\x00", 2);
	ocsp_request(&req, &list, &exts, -1);
	tap_ok(parse(&req, 4, &r, &e) == BE_OK && r.has_nonce && r.nonce_len == 32 &&
	       r.nonce[31] == 0x5a, "/ocsp/req/nonce-32: a 32-octet nonce is kept; an unknown "
	       "non-critical extension ignored");
	exts.n = 0;
	nonce_ext(&exts, 1);
	ocsp_request(&req, &list, &exts, -1);
	tap_ok(parse(&req, 4, &r, &e) == BE_OK && r.nonce_len == 1,
	       "/ocsp/req/nonce-1: a 1-octet nonce is kept");
	list.n = 0;
	for (i = 0; i < 4; i++)
		request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, 0);
	tap_ok(parse(&req, 4, &r, &e) == BE_OK && r.n == 4,
	       "/ocsp/req/four: four CertIDs within max_certids 4 (%s)", e.msg);

	/* ---- refusals */
	refused(&req, 3, "4 CertIDs in one request; this responder answers at most 3",
		"/ocsp/req/too-many");
	list.n = 0;
	for (i = 0; i < 17; i++)
		request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, -1);
	refused(&req, 100, "at most 16", "/ocsp/req/over-ceiling: max_certids above 16 is 16");
	list.n = 0;
	ocsp_request(&req, &list, NULL, -1);
	refused(&req, 4, "requestList is empty", "/ocsp/req/empty-list");
	request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, 1);
	refused(&req, 4, "version must be v1", "/ocsp/req/version-2");
	list.n = 0;
	request(&list, OID_SHA256, sizeof(OID_SHA256), true, 20, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, -1);
	refused(&req, 4, "issuerNameHash is not a 32-octet hash", "/ocsp/req/hash-length");
	list.n = 0;
	request(&list, OID_MD5, sizeof(OID_MD5), true, 16, serial, sizeof(serial));
	ocsp_request(&req, &list, NULL, -1);
	refused(&req, 4, "is not supported", "/ocsp/req/md5");
	list.n = 0;
	memset(big, 0x11, sizeof(big));
	request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, big, 33);
	ocsp_request(&req, &list, NULL, -1);
	refused(&req, 4, "serialNumber is empty or longer than 32", "/ocsp/req/serial-33");
	list.n = 0;
	request(&list, OID_SHA1, sizeof(OID_SHA1), true, 20, serial, sizeof(serial));
	for (i = 0; i < 3; i++) {
		static const size_t lens[] = { 0, 33, 40 };

		exts.n = 0;
		nonce_ext(&exts, lens[i]);
		ocsp_request(&req, &list, &exts, -1);
		refused(&req, 4, "RFC 8954 2.1", i == 0 ? "/ocsp/req/nonce-0" : i == 1 ?
			"/ocsp/req/nonce-33" : "/ocsp/req/nonce-40");
	}
	exts.n = 0;
	nonce_ext(&exts, 8);
	nonce_ext(&exts, 8);
	ocsp_request(&req, &list, &exts, -1);
	refused(&req, 4, "appears twice", "/ocsp/req/nonce-twice");
	exts.n = 0;
	extension(&exts, OID_NONCE, sizeof(OID_NONCE), false, "\x02\x01\x05", 3);
	ocsp_request(&req, &list, &exts, -1);
	refused(&req, 4, "nonce", "/ocsp/req/nonce-not-octet-string");
	exts.n = 0;
	extension(&exts, OID_OTHER, sizeof(OID_OTHER), true, "\x05\x00", 2);
	ocsp_request(&req, &list, &exts, -1);
	refused(&req, 4, "critical extension 1.2.3.4 is not supported", "/ocsp/req/critical");
	ocsp_request(&req, &list, NULL, -1);
	put(&req, "\x00", 1);
	refused(&req, 4, "OCSPRequest: ", "/ocsp/req/trailing-byte");
	/* BER, not DER: the outer length in long form where the short form fits */
	ocsp_request(&req, &list, NULL, -1);
	memmove(req.b + 3, req.b + 2, req.n - 2);
	req.b[2] = req.b[1];
	req.b[1] = 0x81;
	req.n++;
	refused(&req, 4, "not DER", "/ocsp/req/ber-length");
	req.n = 0;
	refused(&req, 4, "OCSPRequest", "/ocsp/req/empty-input");
	put(&req, "\x30\x80\x00\x00", 4);
	refused(&req, 4, "OCSPRequest", "/ocsp/req/indefinite-length");
	return tap_done();
}
