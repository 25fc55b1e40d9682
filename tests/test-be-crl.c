/*
 * Tests for backend/be_crl.c (the CRL encoder) and backend/be_crlpub.c (the publisher):
 * what we write decodes with libtasn1 (strict DER, CERTGATE.CertificateList), GnuTLS and
 * openssl parse it and verify its signature, reasons and hold come out as RFC 5280 5.3.1
 * says, partitions carry their Issuing Distribution Point, and the publisher rebuilds when a
 * status changes and not otherwise.
 */
#include "config.h"

#include "tap.h"
#include "testlib.h"

#include <jansson.h>
#include <sys/wait.h>

#include "be_asn1.h"
#include "be_ca.h"
#include "be_crl.h"
#include "be_crlpub.h"
#include "be_issue.h"
#include "be_store.h"

static unsigned char der_bytes[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

/* A self-signed CA of algorithm pk written as <name>.pem / <name>.key. */
static bool
make_ca(const char *name, gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = { NULL, 0 }, kpem = { NULL, 0 };
	unsigned char serial[8] = { 0x11, 2, 3, 4, 5, 6, 7, 8 }, kid[20];
	size_t kidlen = sizeof(kid);
	char file[128];
	time_t now = time(NULL);
	bool ok = false;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate2(key, pk, bits, 0, NULL, 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name,
					  (unsigned)strlen(name)) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 86400 * 365) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, pk == GNUTLS_PK_EDDSA_ED25519 ?
				  GNUTLS_DIG_UNKNOWN : GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &kpem) < 0)
		goto out;
	snprintf(file, sizeof(file), "%s.pem", name);
	if (!write_file(file, pem.data, pem.size))
		goto out;
	snprintf(file, sizeof(file), "%s.key", name);
	ok = write_file(file, kpem.data, kpem.size);
out:
	gnutls_free(pem.data);
	gnutls_free(kpem.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return ok;
}

static struct be_ca *
load_ca(const char *name, unsigned shards)
{
	struct be_ca *ca = NULL;
	struct be_err e = { 0, "" };
	char cert[128], key[128];
	json_t *conf;

	snprintf(cert, sizeof(cert), "%s.pem", name);
	snprintf(key, sizeof(key), "%s.key", name);
	conf = json_pack("{s:s, s:s, s:i}", "certificate", cert, "key", key, "crl_shards",
			 (int)shards);
	if (be_ca_load(name, conf, "cas.test", tmpdir, &ca, &e) != BE_OK)
		tap_diag("be_ca_load: %s", e.msg);
	json_decref(conf);
	return ca;
}

/* Runs a shell command in the scratch directory; its stdout into out (may be NULL). */
static int
run(const char *cmd, char *out, size_t len)
{
	char full[PATH_MAX + 512];
	FILE *p;
	size_t n = 0;
	int st;

	if (snprintf(full, sizeof(full), "cd '%s' && %.400s 2>&1", tmpdir, cmd) >= (int)sizeof(full))
		return -1;
	if ((p = popen(full, "r")) == NULL)
		return -1;
	if (out != NULL && len > 0) {
		n = fread(out, 1, len - 1, p);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static gnutls_x509_crl_t
import_crl(const gnutls_datum_t *der)
{
	gnutls_x509_crl_t crl = NULL;

	if (gnutls_x509_crl_init(&crl) < 0 ||
	    gnutls_x509_crl_import(crl, der, GNUTLS_X509_FMT_DER) < 0) {
		if (crl != NULL)
			gnutls_x509_crl_deinit(crl);
		return NULL;
	}
	return crl;
}

static bool
gnutls_verifies(gnutls_x509_crl_t crl, const struct be_ca *ca)
{
	unsigned status = 1;

	return gnutls_x509_crl_verify(crl, &ca->crt, 1, 0, &status) >= 0 && status == 0;
}

/* Encodes, checks the common properties for a CA, returns the DER (caller frees). */
static void
check_ca(const char *tag, gnutls_pk_algorithm_t pk, unsigned bits)
{
	struct be_ca *ca = NULL;
	struct be_crl_builder *b = NULL;
	struct be_crl_params p = { 7, 0, 0, NULL };
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_crl_t crl = NULL;
	unsigned char s1[] = { 0x40, 0x01, 0x02 }, s2[] = { 0x00, 0x00, 0x81, 0xff },
		      s3[20], got[32], aki[32];
	size_t glen, akilen = sizeof(aki);
	time_t t;
	char out[8192], cmd[256];
	asn1_node node = NULL;
	unsigned crit = 0;
	int rc;

	memset(s3, 0x7f, sizeof(s3));
	if (!tap_ok(make_ca(tag, pk, bits) && (ca = load_ca(tag, 1)) != NULL,
		    "/crl/%s/ca-made", tag))
		goto out;
	p.this_update = time(NULL);
	p.next_update = p.this_update + 3600;
	be_crl_builder_new(&b, NULL);
	rc = be_crl_encode(ca, b, &p, &der, &e);
	tap_ok(rc == 0, "/crl/%s/empty-encodes (%s)", tag, e.msg);
	crl = import_crl(&der);
	tap_ok(crl != NULL && gnutls_x509_crl_get_crt_count(crl) == 0 &&
	       gnutls_verifies(crl, ca), "/crl/%s/empty-gnutls-parses-and-verifies", tag);
	rc = be_asn1_decode("CERTGATE.CertificateList", der.data, der.size, "CRL", &node, &e);
	tap_ok(rc == 0, "/crl/%s/empty-strict-der-decodes (%s)", tag, e.msg);
	/* 5.1.2.6: revokedCertificates absent when empty. */
	glen = sizeof(got);
	{
		int l = (int)glen;

		tap_ok(node != NULL && asn1_read_value(node, "tbsCertList.revokedCertificates",
						       got, &l) == ASN1_ELEMENT_NOT_FOUND,
		       "/crl/%s/empty-has-no-revokedCertificates", tag);
	}
	if (node != NULL)
		asn1_delete_structure(&node);
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	crl = NULL;
	be_datum_free(&der);

	be_err_clear(&e);
	rc = be_crl_builder_add(b, s1, sizeof(s1), p.this_update - 60, 0, &e) |
	     be_crl_builder_add(b, s2, sizeof(s2), p.this_update - 50, 1, &e) |
	     be_crl_builder_add(b, s3, sizeof(s3), p.this_update - 40, BE_CRL_REASON_HOLD, &e) |
	     be_crl_builder_add_hex(b, "abc", p.this_update - 30, 9, &e);
	tap_ok(rc == 0 && be_crl_builder_count(b) == 4, "/crl/%s/entries-added (%s)", tag, e.msg);
	rc = be_crl_encode(ca, b, &p, &der, &e);
	crl = rc == 0 ? import_crl(&der) : NULL;
	tap_ok(crl != NULL && gnutls_x509_crl_get_crt_count(crl) == 4 &&
	       gnutls_verifies(crl, ca), "/crl/%s/gnutls-parses-and-verifies-4-entries", tag);
	if (crl != NULL) {
		glen = sizeof(got);
		rc = gnutls_x509_crl_get_crt_serial(crl, 1, got, &glen, &t);
		/* 0x81ff is positive: the DER INTEGER carries a 0x00 first (X.690 8.3). */
		tap_ok(rc == 0 && glen == 3 && got[0] == 0 && got[1] == 0x81 && got[2] == 0xff &&
		       t == p.this_update - 50, "/crl/%s/high-bit-serial-gets-leading-zero", tag);
		glen = sizeof(got);
		rc = gnutls_x509_crl_get_crt_serial(crl, 3, got, &glen, &t);
		tap_ok(rc == 0 && glen == 2 && got[0] == 0x0a && got[1] == 0xbc,
		       "/crl/%s/odd-hex-serial", tag);
		glen = sizeof(got);
		rc = gnutls_x509_crl_get_number(crl, got, &glen, &crit);
		tap_ok(rc == 0 && glen == 1 && got[0] == 7 && !crit, "/crl/%s/crl-number", tag);
		rc = gnutls_x509_crl_get_authority_key_id(crl, aki, &akilen, &crit);
		tap_ok(rc == 0 && akilen == ca->ski_len && memcmp(aki, ca->ski, akilen) == 0,
		       "/crl/%s/authority-key-identifier-is-ca-ski", tag);
		tap_ok(gnutls_x509_crl_get_this_update(crl) == p.this_update &&
		       gnutls_x509_crl_get_next_update(crl) == p.next_update,
		       "/crl/%s/this-and-next-update", tag);
	}
	tap_ok(write_file("t.crl", der.data, der.size), "/crl/%s/written", tag);
	snprintf(cmd, sizeof(cmd), "openssl crl -inform DER -in t.crl -CAfile %s.pem -noout "
		 "-text", tag);
	rc = run(cmd, out, sizeof(out));
	tap_ok(rc == 0 && strstr(out, "verify OK") != NULL, "/crl/%s/openssl-verifies", tag);
	tap_ok(strstr(out, "Key Compromise") != NULL && strstr(out, "Certificate Hold") != NULL &&
	       strstr(out, "Privilege Withdrawn") != NULL,
	       "/crl/%s/openssl-shows-reasons", tag);
	/* 5.3.1: unspecified is written as no reasonCode at all: three reason extensions for
	 * four entries. */
	{
		const char *q = out;
		int n = 0;

		while ((q = strstr(q, "CRL Reason Code")) != NULL) {
			n++;
			q++;
		}
		TAP_IS_INT(n, 3, "/crl/unspecified-reason-writes-no-extension");
	}
	tap_ok(strstr(out, "Issuing Distribution Point") == NULL,
	       "/crl/%s/complete-crl-has-no-idp", tag);
out:
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	be_datum_free(&der);
	be_crl_builder_free(b);
	be_ca_free(ca);
}

static void
test_encoder_details(void)
{
	struct be_ca *ca = load_ca("p256", 1);
	struct be_crl_builder *b = NULL;
	struct be_crl_params p = { 1, 0, 0, "http://127.0.0.1:8080/crl/p256-3.crl" };
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_crl_t crl = NULL;
	unsigned char s[21] = { 0x01 }, big[20];
	char out[8192], url[64];
	int rc;

	if (!tap_ok(ca != NULL, "/crl/details/ca"))
		return;
	be_crl_builder_new(&b, NULL);
	memset(big, 0x80, sizeof(big));
	tap_ok(be_crl_builder_add(b, s, 0, 1, 0, &e) == BE_E_MALFORMED,
	       "/crl/refuse/empty-serial");
	tap_ok(be_crl_builder_add(b, s, 21, 1, 0, NULL) == BE_E_MALFORMED,
	       "/crl/refuse/21-octet-serial");
	tap_ok(be_crl_builder_add(b, big, 20, 1, 0, NULL) == BE_E_MALFORMED,
	       "/crl/refuse/20-octets-needing-a-21st");
	tap_ok(be_crl_builder_add(b, s, 1, 1, 7, NULL) == BE_E_MALFORMED &&
	       be_crl_builder_add(b, s, 1, 1, 8, NULL) == BE_E_MALFORMED &&
	       be_crl_builder_add(b, s, 1, 1, 11, NULL) == BE_E_MALFORMED &&
	       be_crl_builder_add(b, s, 1, 1, -1, NULL) == BE_E_MALFORMED,
	       "/crl/refuse/reasons-7-8-and-out-of-range");
	tap_ok(be_crl_builder_add_hex(b, "12zz", 1, 0, NULL) == BE_E_MALFORMED &&
	       be_crl_builder_add_hex(b, "", 1, 0, NULL) == BE_E_MALFORMED,
	       "/crl/refuse/non-hex-serial");
	TAP_IS_INT(be_crl_builder_count(b), 0, "/crl/refuse/nothing-added");
	/* A revocation in 2051 is a GeneralizedTime (5.1.2.4). */
	be_err_clear(&e);
	p.this_update = time(NULL);
	p.next_update = 2600000000;		/* 2052 */
	rc = be_crl_builder_add(b, s, 1, 2560000000, 1, &e);
	rc = rc == 0 ? be_crl_encode(ca, b, &p, &der, &e) : rc;
	crl = rc == 0 ? import_crl(&der) : NULL;
	tap_ok(crl != NULL && gnutls_x509_crl_get_next_update(crl) == 2600000000,
	       "/crl/time/generalized-time-after-2049 (%s)", e.msg);
	write_file("idp.crl", der.data, der.size);
	rc = run("openssl crl -inform DER -in idp.crl -CAfile p256.pem -noout -text", out,
		 sizeof(out));
	tap_ok(rc == 0 && strstr(out, "verify OK") != NULL &&
	       strstr(out, "Issuing Distribution Point: critical") != NULL &&
	       strstr(out, "URI:http://127.0.0.1:8080/crl/p256-3.crl") != NULL,
	       "/crl/idp/critical-with-full-name-uri");
	p.next_update = p.this_update;
	be_datum_free(&der);
	tap_ok(be_crl_encode(ca, b, &p, &der, NULL) != 0 && der.data == NULL,
	       "/crl/refuse/next-update-not-after-this-update");

	TAP_IS_INT(be_crl_shard(s, 1, 1), 0, "/crl/shard/one-partition-is-0");
	{
		unsigned hits[4] = { 0 }, i;
		unsigned char r[16];

		for (i = 0; i < 400; i++) {
			gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r));
			hits[be_crl_shard(r, sizeof(r), 4)]++;
		}
		tap_ok(hits[0] > 50 && hits[1] > 50 && hits[2] > 50 && hits[3] > 50,
		       "/crl/shard/spread (%u %u %u %u)", hits[0], hits[1], hits[2], hits[3]);
	}
	be_crl_shard_url("http://h/crl/ca.crl", 3, url, sizeof(url), NULL);
	tap_ok(strcmp(url, "http://h/crl/ca-3.crl") == 0, "/crl/shard/url-before-dot-crl");
	be_crl_shard_url("http://h/crl/ca", 12, url, sizeof(url), NULL);
	tap_ok(strcmp(url, "http://h/crl/ca-12") == 0, "/crl/shard/url-appended");
	tap_ok(be_crl_shard_url("http://h/crl/ca.crl", 3, url, 10, NULL) == BE_E_TOOBIG,
	       "/crl/shard/url-too-long");
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	be_datum_free(&der);
	be_crl_builder_free(b);
	be_ca_free(ca);
}

/* ---------------------------------------------------------------- the publisher */

static int
new_ctx(unsigned shards, const char *crl_url2, const char *crl_conf, struct be_ctx **ctx,
	struct be_crlpub **pub, struct be_err *e)
{
	json_t *cas, *profiles, *crl = NULL;
	char store[PATH_MAX + 16];
	int rc;

	if (snprintf(store, sizeof(store), "%s/pub.db", tmpdir) >= (int)sizeof(store))
		return BE_E_TOOBIG;
	cas = json_pack("{s:{s:s, s:s, s:i}}", "pub", "certificate", "p256.pem", "key", "p256.key",
			"crl_shards", (int)shards);
	profiles = json_pack("{s:{s:s, s:[s], s:[s], s:s, s:{s:s}},"
			     " s:{s:s, s:[s], s:[s], s:s, s:{s:s}}}",
			     "a", "ca", "pub", "key_types", "p256", "allow", "*", "crl_url",
			     "http://127.0.0.1:1/crl/pub.crl", "subject", "CN", "required",
			     "b", "ca", "pub", "key_types", "p256", "allow", "*", "crl_url",
			     crl_url2, "subject", "CN", "required");
	if (crl_conf != NULL)
		crl = json_loads(crl_conf, 0, NULL);
	*pub = NULL;
	rc = be_ctx_new(cas, profiles, store, tmpdir, ctx, e);
	if (rc == 0)
		rc = be_crlpub_new(crl, *ctx, pub, e);
	json_decref(cas);
	json_decref(profiles);
	json_decref(crl);
	return rc;
}

static int64_t
insert(struct be_store *st, const char *issuer, const char *serial)
{
	struct be_cert_rec r;

	memset(&r, 0, sizeof(r));
	snprintf(r.issuer, sizeof(r.issuer), "%s", issuer);
	snprintf(r.serial, sizeof(r.serial), "%s", serial);
	r.profile = "a";
	r.not_before = time(NULL) - 10;
	r.not_after = time(NULL) + 86400;
	r.status = BE_CERT_VALID;
	r.reason = -1;
	r.der.data = der_bytes;
	r.der.size = sizeof(der_bytes);
	if (be_store_cert_insert(st, &r, NULL, NULL) != 0)
		return -1;
	return r.id;
}

static size_t
blob_entries(struct be_crlpub *pub, int shard, int64_t *number)
{
	struct be_crl_blob *b = NULL;
	size_t n = (size_t)-1;

	if (be_crlpub_get(pub, "pub", shard, &b, NULL) == 0) {
		n = b->entries;
		if (number != NULL)
			*number = b->number;
	}
	be_crl_blob_unref(b);
	return n;
}

static void
test_publisher(void)
{
	struct be_ctx *ctx = NULL;
	struct be_crlpub *pub = NULL;
	struct be_crl_blob *blob = NULL;
	struct be_err e = { 0, "" };
	struct be_audit_rec a;
	struct be_crlpub_stat stats[8];
	int64_t id1, id2, n1 = 0, n2 = 0, n3 = 0;
	size_t total, k;
	char serial[8], out[4096], url[64];
	unsigned char bin[3];
	int rc, i;

	memset(&a, 0, sizeof(a));
	a.adapter = "test";
	a.operation = "revoke";
	a.outcome = "revoked";

	rc = new_ctx(1, "http://127.0.0.1:1/crl/other.crl", "{\"refresh_seconds\": 100,"
		     " \"next_update_seconds\": 100}", &ctx, &pub, &e);
	tap_ok(rc == BE_E_CONFIG && strstr(e.msg, "crl.refresh_seconds") != NULL,
	       "/crlpub/refuse/refresh-not-before-next-update (%s)", e.msg);
	be_ctx_free(ctx);
	be_err_clear(&e);
	rc = new_ctx(1, "http://127.0.0.1:1/crl/other.crl", "{\"bogus\": 1}", &ctx, &pub, &e);
	tap_ok(rc == BE_E_CONFIG && strstr(e.msg, "crl.bogus") != NULL,
	       "/crlpub/refuse/unknown-key (%s)", e.msg);
	be_ctx_free(ctx);
	be_err_clear(&e);
	rc = new_ctx(4, "http://127.0.0.1:1/crl/other.crl", NULL, &ctx, &pub, &e);
	tap_ok(rc == BE_E_CONFIG && strstr(e.msg, "profiles.b.crl_url") != NULL,
	       "/crlpub/refuse/partitions-with-two-urls (%s)", e.msg);
	be_ctx_free(ctx);
	be_err_clear(&e);

	rc = new_ctx(4, "http://127.0.0.1:1/crl/pub.crl", NULL, &ctx, &pub, &e);
	if (!tap_ok(rc == 0, "/crlpub/new (%s)", e.msg)) {
		be_ctx_free(ctx);
		return;
	}
	ctx->crlpub = pub;
	tap_ok(be_crlpub_get(pub, "pub", -1, &blob, &e) == BE_E_UNAVAILABLE,
	       "/crlpub/unavailable-before-first-build");
	tap_ok(be_crlpub_get(pub, "nope", -1, &blob, NULL) == BE_E_NOTFOUND &&
	       be_crlpub_get(pub, "pub", 4, &blob, NULL) == BE_E_NOTFOUND,
	       "/crlpub/unknown-ca-or-partition");
	/* Forty certificates, every odd one revoked, one on hold. */
	for (i = 0; i < 40; i++) {
		snprintf(serial, sizeof(serial), "41%02x%02x", i, (i * 5 / 2) & 0xff);
		id1 = insert(ctx->store, ctx->cas[0]->id, serial);
		if (i % 2 == 1)
			be_store_cert_set_status(ctx->store, id1, i == 39 ? BE_CERT_HOLD :
						 BE_CERT_REVOKED, 1, &a, NULL);
	}
	id2 = insert(ctx->store, ctx->cas[0]->id, "4200");
	rc = be_crlpub_refresh(pub, false, &e);
	total = blob_entries(pub, -1, &n1);
	tap_ok(rc == 0 && total == 20, "/crlpub/complete-crl-lists-20 (%zu, %s)", total, e.msg);
	for (k = 0, total = 0; k < 4; k++) {
		size_t m = blob_entries(pub, (int)k, &n2);

		total += m;
		tap_ok(m > 0 && m < 20 && n2 == n1, "/crlpub/partition-%zu-has-its-share (%zu)", k,
		       m);
	}
	TAP_IS_INT(total, 20, "/crlpub/partitions-add-up");
	/* Each revoked serial is in the partition be_crl_shard names, and the partition's IDP
	 * is that partition's URL. */
	bin[0] = 0x41;
	bin[1] = 0x03;
	bin[2] = 0x07;
	k = be_crl_shard(bin, 3, 4);
	be_crlpub_get(pub, "pub", (int)k, &blob, NULL);
	write_file("part.crl", blob->der.data, blob->der.size);
	be_crl_blob_unref(blob);
	blob = NULL;
	be_crl_shard_url("http://127.0.0.1:1/crl/pub.crl", (unsigned)k, url, sizeof(url), NULL);
	run("openssl crl -inform DER -in part.crl -CAfile p256.pem -noout -text", out, sizeof(out));
	tap_ok(strstr(out, "verify OK") != NULL && strstr(out, "Serial Number: 410307") != NULL &&
	       strstr(out, url) != NULL, "/crlpub/serial-in-its-partition-with-idp (%s)", url);

	rc = be_crlpub_refresh(pub, false, &e);
	blob_entries(pub, -1, &n2);
	TAP_IS_INT(n2, n1, "/crlpub/no-change-no-rebuild");
	/* The PEM of the complete CRL for openssl, and read back to see it is all there. */
	{
		char *txt = NULL;
		size_t tl = 0;

		be_crlpub_get(pub, "pub", -1, &blob, NULL);
		write_file("full.crl", blob->der.data, blob->der.size);
		tap_ok(read_file("full.crl", &txt, &tl) && tl == blob->der.size,
		       "/crlpub/complete-crl-written");
		free(txt);
		be_crl_blob_unref(blob);
		blob = NULL;
	}
	be_store_cert_set_status(ctx->store, id2, BE_CERT_REVOKED, 4, &a, NULL);
	rc = be_crlpub_refresh(pub, false, &e);
	total = blob_entries(pub, -1, &n2);
	tap_ok(rc == 0 && total == 21 && n2 == n1 + 1,
	       "/crlpub/revocation-rebuilds-with-next-number (%zu, %lld)", total, (long long)n2);
	/* The hold of 412761 (i = 39) lifted: it leaves the CRL (RFC 5280 5.3.1 certificateHold). */
	{
		struct be_cert_rec *r = NULL;

		if (be_store_cert_get(ctx->store, ctx->cas[0]->id, "412761", &r, NULL) == 0)
			be_store_cert_set_status(ctx->store, r->id, BE_CERT_VALID, -1, &a, NULL);
		be_cert_rec_free(r);
	}
	be_crlpub_refresh(pub, false, &e);
	total = blob_entries(pub, -1, &n3);
	tap_ok(total == 20 && n3 == n2 + 1, "/crlpub/reactivated-leaves-the-crl (%zu)", total);

	tap_ok(be_crlpub_check(pub, time(NULL), &e) == 0, "/crlpub/health-ok-while-fresh");
	be_err_clear(&e);
	rc = be_crlpub_check(pub, time(NULL) + 86401, &e);
	tap_ok(rc == BE_E_UNAVAILABLE && strstr(e.msg, "past its nextUpdate") != NULL,
	       "/crlpub/health-fails-past-next-update (%s)", e.msg);
	TAP_IS_INT(be_crlpub_stats(pub, stats, 8), 5, "/crlpub/stats-one-per-crl");
	tap_ok(stats[0].shard == -1 && stats[0].entries == 20 && stats[0].bytes > 0 &&
	       stats[0].next_update - stats[0].this_update == 86400,
	       "/crlpub/stats-complete-crl");

	/* A reload's new publisher serves the running one's CRLs until it has built. */
	{
		struct be_crlpub *next = NULL;
		int64_t na = 0;

		rc = be_crlpub_new(NULL, ctx, &next, &e);
		tap_ok(rc == 0 && be_crlpub_get(next, "pub", -1, &blob, NULL) == BE_E_UNAVAILABLE,
		       "/crlpub/adopt/new-publisher-has-nothing");
		be_crlpub_adopt(next, pub);
		total = next != NULL ? blob_entries(next, -1, &na) : 0;
		tap_ok(total == 20 && na == n3 && blob_entries(next, 2, NULL) != (size_t)-1,
		       "/crlpub/adopt/serves-the-running-crls (%zu)", total);
		be_crlpub_free(next);
		TAP_IS_INT(blob_entries(pub, -1, NULL), 20, "/crlpub/adopt/old-one-unharmed");
	}

	/* The thread picks a change up by itself within its interval. */
	be_err_clear(&e);
	rc = be_crlpub_start(pub, &e);
	be_store_cert_set_status(ctx->store, insert(ctx->store, ctx->cas[0]->id, "4300"),
				 BE_CERT_REVOKED, 0, &a, NULL);
	for (i = 0; i < 50 && blob_entries(pub, -1, NULL) != 21; i++)
		nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	TAP_IS_INT(blob_entries(pub, -1, NULL), 21, "/crlpub/thread-rebuilds-on-change");
	be_ctx_free(ctx);		/* stops the thread */
}

int
main(void)
{
	if (!tmp_setup("crl")) {
		printf("Bail out! no scratch directory\n");
		return 99;
	}
	check_ca("p256", GNUTLS_PK_ECDSA, 256);
	check_ca("rsa2048", GNUTLS_PK_RSA, 2048);
	check_ca("ed25519", GNUTLS_PK_EDDSA_ED25519, 256);
	test_encoder_details();
	test_publisher();
	tmp_cleanup();
	return tap_done();
}
