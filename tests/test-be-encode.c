/*
 * Certificate and key encodings (backend/be_encode.c): PEM, PKCS#7 certs-only and PKCS#12.
 * A small CA and leaf certificates are made with GnuTLS; openssl must read, verify and
 * open everything certgate emits.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/pkcs7.h>
#include <gnutls/pkcs12.h>
#include <libtasn1.h>

#include "be_key.h"
#include "tap.h"
#include "testlib.h"

/* ------------------------------------------------------------------ scratch directory */

/* Prints the output of the last command as TAP diagnostics. */
static void
show_output(void)
{
	char *text = NULL, *line, *nl;
	size_t len;

	if (!read_file("cmd.out", &text, &len))
		return;
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL) {
			tap_diag("  %s", line);
			break;
		}
		*nl = '\0';
		tap_diag("  %s", line);
	}
	free(text);
}

/* Runs a shell command in the scratch directory with its output in cmd.out; returns the
 * exit status (-1 when it did not run or was killed). */
static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048], full[PATH_MAX + 2200];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	n = snprintf(full, sizeof(full), "cd '%s' && (%s) >cmd.out 2>&1 </dev/null", tmpdir,
		     cmd);
	if (n < 0 || (size_t)n >= sizeof(full))
		return -1;
	fflush(stdout);
	st = system(full);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ok when the command exits 0; shows its output otherwise. */
static void
sh_ok(const char *name, const char *cmd)
{
	if (!tap_ok(sh("%s", cmd) == 0, "%s", name)) {
		tap_diag("command: %s", cmd);
		show_output();
	}
}

/* ok named by fmt; on failure also shows the code and the error sentence. */
static int
ok_rc(int cond, int rc, const struct be_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
ok_rc(int cond, int rc, const struct be_err *e, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (!tap_ok(cond, "%s", name))
		tap_diag("rc %d (%s): %s", rc, be_err_name(rc), e != NULL ? e->msg : "");
	return cond;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Counts the non-overlapping occurrences of needle in hay. */
static unsigned
count_of(const char *hay, const char *needle)
{
	const char *p = hay;
	unsigned n = 0;
	size_t nl = strlen(needle);

	for (p = strstr(p, needle); p != NULL; p = strstr(p + nl, needle))
		n++;
	return n;
}

/* True when the output of the last command holds needle. */
static bool
output_has(const char *needle)
{
	char *text = NULL;
	size_t len;
	bool has = false;

	if (read_file("cmd.out", &text, &len))
		has = strstr(text, needle) != NULL;
	free(text);
	return has;
}

static unsigned
count_of_output(const char *needle)
{
	char *text = NULL;
	size_t len;
	unsigned n = 0;

	if (read_file("cmd.out", &text, &len))
		n = count_of(text, needle);
	free(text);
	return n;
}

/* Shows the lines of the last output that name an iteration count. */
static void
show_iterations(void)
{
	char *text = NULL, *line, *nl;
	size_t len;

	if (!read_file("cmd.out", &text, &len))
		return;
	for (line = text; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, "Iteration") != NULL)
			tap_diag("openssl: %s", line);
	}
	free(text);
}

/* ------------------------------------------------------------------ test PKI */

struct cert {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t der;
	const char *cn;
};

static void
cert_clear(struct cert *c)
{
	gnutls_x509_privkey_deinit(c->key);
	gnutls_x509_crt_deinit(c->crt);
	be_datum_free(&c->der);
	c->key = NULL;
	c->crt = NULL;
}

/* Makes a key of type spec and a certificate for it, signed by issuer (self-signed when
 * issuer is NULL). */
static bool
make_cert(struct cert *c, const char *spec, const char *cn, const struct cert *issuer)
{
	unsigned char serial[16], id[20];
	size_t id_len = sizeof(id);
	struct be_keyspec ks;
	time_t now = time(NULL);
	bool ca = issuer == NULL;
	bool ok;

	c->cn = cn;
	if (be_keyspec_parse(spec, &ks) != BE_OK || be_key_generate(&ks, &c->key, NULL) != BE_OK)
		return false;
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		return false;
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	ok = gnutls_x509_crt_init(&c->crt) >= 0 &&
	     gnutls_x509_crt_set_version(c->crt, 3) >= 0 &&
	     gnutls_x509_crt_set_serial(c->crt, serial, sizeof(serial)) >= 0 &&
	     gnutls_x509_crt_set_dn_by_oid(c->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					   (unsigned)strlen(cn)) >= 0 &&
	     gnutls_x509_crt_set_activation_time(c->crt, now - 60) >= 0 &&
	     gnutls_x509_crt_set_expiration_time(c->crt, now + 86400) >= 0 &&
	     gnutls_x509_crt_set_key(c->crt, c->key) >= 0 &&
	     gnutls_x509_crt_set_basic_constraints(c->crt, ca ? 1 : 0, -1) >= 0 &&
	     gnutls_x509_crt_set_key_usage(c->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN |
							  GNUTLS_KEY_CRL_SIGN
						       : GNUTLS_KEY_DIGITAL_SIGNATURE) >= 0 &&
	     gnutls_x509_crt_get_key_id(c->crt, 0, id, &id_len) >= 0 &&
	     gnutls_x509_crt_set_subject_key_id(c->crt, id, id_len) >= 0;
	if (ok && !ca) {
		id_len = sizeof(id);
		ok = gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &id_len, NULL) >= 0 &&
		     gnutls_x509_crt_set_authority_key_id(c->crt, id, id_len) >= 0;
	}
	ok = ok &&
	     gnutls_x509_crt_sign2(c->crt, ca ? c->crt : issuer->crt,
				   ca ? c->key : issuer->key, GNUTLS_DIG_SHA256, 0) >= 0 &&
	     gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &c->der) >= 0;
	return ok;
}

/* Writes the PEM of one certificate with be_encode_pem_certs. */
static bool
write_cert_pem(const char *file, const struct cert *c)
{
	gnutls_datum_t pem = { NULL, 0 };
	bool ok;

	ok = be_encode_pem_certs(&c->der, 1, &pem, NULL) == BE_OK &&
	     write_file(file, pem.data, pem.size);
	be_datum_free(&pem);
	return ok;
}

/* ------------------------------------------------------------------ PEM */

static void
test_pem(const struct cert *leaf, const struct cert *ca)
{
	gnutls_datum_t ders[2] = { leaf->der, ca->der }, pem = { NULL, 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n_list = 0, i;
	struct be_err e;
	char subj[128], *text = NULL;
	size_t len;
	const char *p, *q;
	int rc;

	be_err_clear(&e);
	rc = be_encode_pem_certs(ders, 2, &pem, &e);
	ok_rc(rc == BE_OK && pem.data != NULL, rc, &e, "/encode/pem/two-certs");
	if (rc != BE_OK)
		return;
	tap_ok(strlen((const char *)pem.data) == pem.size,
	       "/encode/pem/nul-terminated-and-size-excludes-it");
	tap_ok(count_of((const char *)pem.data, "-----BEGIN CERTIFICATE-----\n") == 2 &&
		       count_of((const char *)pem.data, "-----END CERTIFICATE-----\n") == 2 &&
		       memcmp(pem.data, "-----BEGIN CERTIFICATE-----\n", 28) == 0,
	       "/encode/pem/two-certificate-blocks");
	rc = gnutls_x509_crt_list_import2(&list, &n_list, &pem, GNUTLS_X509_FMT_PEM,
					  GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	tap_ok(rc >= 0 && n_list == 2 && gnutls_x509_crt_equals2(list[0], &leaf->der) &&
		       gnutls_x509_crt_equals2(list[1], &ca->der),
	       "/encode/pem/gnutls-reads-back-same-certs-in-order");
	for (i = 0; i < n_list; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);

	write_file("chain.pem", pem.data, pem.size);
	write_cert_pem("leaf.pem", leaf);
	write_cert_pem("ca.pem", ca);
	sh_ok("/encode/pem/openssl-verify-leaf-against-ca",
	      "openssl verify -CAfile ca.pem leaf.pem");
	sh_ok("/encode/pem/openssl-verify-with-chain-file",
	      "openssl verify -CAfile ca.pem -untrusted chain.pem chain.pem");
	rc = sh("openssl crl2pkcs7 -nocrl -certfile chain.pem | "
		"openssl pkcs7 -print_certs -noout");
	text = NULL;
	read_file("cmd.out", &text, &len);
	snprintf(subj, sizeof(subj), "subject=CN = %s", leaf->cn);
	p = text != NULL ? strstr(text, subj) : NULL;
	snprintf(subj, sizeof(subj), "subject=CN = %s", ca->cn);
	q = text != NULL ? strstr(text, subj) : NULL;
	if (!tap_ok(rc == 0 && p != NULL && q != NULL && p < q,
		    "/encode/pem/openssl-reads-both-in-order"))
		show_output();
	free(text);
	be_datum_free(&pem);
}

static void
test_pem_refusals(const struct cert *leaf)
{
	gnutls_datum_t many[17], junk = { (unsigned char *)"not a certificate", 17 };
	gnutls_datum_t two[2] = { leaf->der, junk }, out = { NULL, 0 };
	gnutls_datum_t csr = { NULL, 0 }, cut, longer = { NULL, 0 };
	gnutls_x509_crq_t crq = NULL;
	struct be_err e;
	size_t i;
	int rc;

	be_err_clear(&e);
	rc = be_encode_pem_certs(&leaf->der, 0, &out, &e);
	ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e, "/encode/pem/refuses-no-certs");
	be_err_clear(&e);
	rc = be_encode_pem_certs(two, 2, &out, &e);
	ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e,
	      "/encode/pem/refuses-a-non-certificate");
	be_err_clear(&e);
	rc = be_encode_pkcs7_certs(two, 2, &out, &e);
	ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e,
	      "/encode/pkcs7/refuses-a-non-certificate");
	/* Things that look a little like a certificate: a CSR of the same key (a SEQUENCE
	 * of SEQUENCEs beginning with an INTEGER), the certificate cut short, and the
	 * certificate with an octet after it. */
	if (gnutls_x509_crq_init(&crq) >= 0 && gnutls_x509_crq_set_version(crq, 1) >= 0 &&
	    gnutls_x509_crq_set_dn(crq, "CN=not a certificate", NULL) >= 0 &&
	    gnutls_x509_crq_set_key(crq, leaf->key) >= 0 &&
	    gnutls_x509_crq_sign2(crq, leaf->key, GNUTLS_DIG_SHA256, 0) >= 0 &&
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &csr) >= 0) {
		two[1] = csr;
		be_err_clear(&e);
		rc = be_encode_pem_certs(two, 2, &out, &e);
		ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e,
		      "/encode/pem/refuses-a-csr");
	} else {
		tap_ok(0, "/encode/pem/refuses-a-csr (could not make one)");
	}
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	be_datum_free(&csr);
	cut = leaf->der;
	cut.size--;
	be_err_clear(&e);
	rc = be_encode_pkcs7_certs(&cut, 1, &out, &e);
	ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e,
	      "/encode/pkcs7/refuses-a-truncated-certificate");
	if ((longer.data = malloc(leaf->der.size + 1)) != NULL) {
		memcpy(longer.data, leaf->der.data, leaf->der.size);
		longer.data[leaf->der.size] = 0;
		longer.size = leaf->der.size + 1;
		be_err_clear(&e);
		rc = be_encode_pem_certs(&longer, 1, &out, &e);
		ok_rc(rc == BE_E_INTERNAL && out.data == NULL, rc, &e,
		      "/encode/pem/refuses-a-certificate-with-trailing-octets");
		free(longer.data);
	}
	for (i = 0; i < 17; i++)
		many[i] = leaf->der;
	be_err_clear(&e);
	rc = be_encode_pkcs7_certs(many, 17, &out, &e);
	ok_rc(rc == BE_E_TOOBIG && out.data == NULL, rc, &e, "/encode/pkcs7/refuses-17-certs");
	be_err_clear(&e);
	rc = be_encode_pkcs7_certs(many, 16, &out, &e);
	ok_rc(rc == BE_OK && out.data != NULL, rc, &e, "/encode/pkcs7/takes-16-certs");
	if (rc == BE_OK) {
		write_file("many.p7b", out.data, out.size);
		sh_ok("/encode/pkcs7/openssl-reads-16-certs",
		      "test \"$(openssl pkcs7 -inform DER -in many.p7b -print_certs -noout | "
		      "grep -c '^subject=')\" = 16");
	}
	be_datum_free(&out);
}

/* ------------------------------------------------------------------ PKCS#7 */

/* What RFC 5652 says a certs-only SignedData is; certificates and signerInfos opaque. */
static const char cms_asn[] =
	"CGTEST { }\n"
	"DEFINITIONS IMPLICIT TAGS ::=\n"
	"BEGIN\n"
	"ContentInfo ::= SEQUENCE {\n"
	"    contentType OBJECT IDENTIFIER,\n"
	"    content [0] EXPLICIT ANY }\n"
	"SignedData ::= SEQUENCE {\n"
	"    version INTEGER,\n"
	"    digestAlgorithms SET OF AlgorithmIdentifier,\n"
	"    encapContentInfo EncapsulatedContentInfo,\n"
	"    certificates [0] IMPLICIT SET OF ANY OPTIONAL,\n"
	"    crls [1] IMPLICIT SET OF ANY OPTIONAL,\n"
	"    signerInfos SET OF ANY }\n"
	"EncapsulatedContentInfo ::= SEQUENCE {\n"
	"    eContentType OBJECT IDENTIFIER,\n"
	"    eContent [0] EXPLICIT OCTET STRING OPTIONAL }\n"
	"AlgorithmIdentifier ::= SEQUENCE {\n"
	"    algorithm OBJECT IDENTIFIER,\n"
	"    parameters ANY DEFINED BY algorithm OPTIONAL }\n"
	"END\n";

static bool
asn_decode(asn1_node defs, const char *type, const unsigned char *der, int len,
	   asn1_node *out)
{
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	int consumed = len;

	*out = NULL;
	if (asn1_create_element(defs, type, out) != ASN1_SUCCESS)
		return false;
	if (asn1_der_decoding2(out, der, &consumed, ASN1_DECODE_FLAG_STRICT_DER, msg) !=
		    ASN1_SUCCESS ||
	    consumed != len) {
		tap_diag("%s: strict DER decoding failed: %s", type, msg);
		return false;
	}
	return true;
}

static bool
asn_equal(asn1_node n, const char *path, const void *want, int want_len)
{
	unsigned char buf[4096];
	int len = sizeof(buf);

	if (asn1_read_value(n, path, buf, &len) != ASN1_SUCCESS)
		return false;
	return len == want_len && memcmp(buf, want, (size_t)len) == 0;
}

static int
asn_count(asn1_node n, const char *path)
{
	int count = -1;

	if (asn1_number_of_elements(n, path, &count) != ASN1_SUCCESS)
		return -1;
	return count;
}

/* Checks der against RFC 5652 5.1 / RFC 5272 3.1 (Simple PKI Response) field by field. */
static void
check_certs_only(const gnutls_datum_t *der, const gnutls_datum_t *certs, int n)
{
	asn1_node defs = NULL, ci = NULL, sd = NULL;
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "", path[PATH_MAX + 16], oid[128];
	unsigned char *content = NULL;
	int len, i, r;
	bool ok;

	snprintf(path, sizeof(path), "%s/cms.asn", tmpdir);
	write_file("cms.asn", cms_asn, sizeof(cms_asn) - 1);
	r = asn1_parser2tree(path, &defs, msg);
	if (!tap_ok(r == ASN1_SUCCESS, "/encode/pkcs7/test-schema-loads")) {
		tap_diag("%s", msg);
		return;
	}
	ok = asn_decode(defs, "CGTEST.ContentInfo", der->data, (int)der->size, &ci);
	tap_ok(ok, "/encode/pkcs7/strict-der-content-info");
	len = sizeof(oid);
	tap_ok(ok && asn1_read_value(ci, "contentType", oid, &len) == ASN1_SUCCESS &&
		       strcmp(oid, "1.2.840.113549.1.7.2") == 0,
	       "/encode/pkcs7/content-type-is-signed-data");
	len = 0;
	r = ok ? asn1_read_value(ci, "content", NULL, &len) : -1;
	if (r == ASN1_MEM_ERROR && len > 0) {
		content = malloc((size_t)len);
		if (content != NULL &&
		    asn1_read_value(ci, "content", content, &len) == ASN1_SUCCESS)
			ok = asn_decode(defs, "CGTEST.SignedData", content, len, &sd);
		else
			ok = false;
	} else {
		ok = false;
	}
	tap_ok(ok, "/encode/pkcs7/strict-der-signed-data");
	tap_ok(ok && asn_equal(sd, "version", "\x01", 1),
	       "/encode/pkcs7/version-is-1 (RFC 5652 5.1: X.509 certificates only)");
	tap_ok(ok && asn_count(sd, "digestAlgorithms") == 0,
	       "/encode/pkcs7/no-digest-algorithms");
	len = sizeof(oid);
	tap_ok(ok && asn1_read_value(sd, "encapContentInfo.eContentType", oid, &len) ==
				     ASN1_SUCCESS &&
		       strcmp(oid, "1.2.840.113549.1.7.1") == 0,
	       "/encode/pkcs7/econtent-type-is-id-data (RFC 5272 Simple PKI Response)");
	len = sizeof(oid);
	r = ok ? asn1_read_value(sd, "encapContentInfo.eContent", oid, &len) : -1;
	tap_ok(r == ASN1_ELEMENT_NOT_FOUND || r == ASN1_VALUE_NOT_FOUND,
	       "/encode/pkcs7/econtent-absent");
	tap_ok(ok && asn_count(sd, "certificates") == n,
	       "/encode/pkcs7/holds-%d-certificates", n);
	for (i = 0; ok && i < n; i++) {
		snprintf(path, sizeof(path), "certificates.?%d", i + 1);
		tap_ok(asn_equal(sd, path, certs[i].data, (int)certs[i].size),
		       "/encode/pkcs7/certificate-%d-in-caller-order", i + 1);
	}
	len = sizeof(oid);
	r = ok ? asn1_read_value(sd, "crls", oid, &len) : -1;
	tap_ok(r == ASN1_ELEMENT_NOT_FOUND || r == ASN1_VALUE_NOT_FOUND,
	       "/encode/pkcs7/no-crls");
	tap_ok(ok && asn_count(sd, "signerInfos") == 0, "/encode/pkcs7/no-signer-infos");
	free(content);
	asn1_delete_structure(&sd);
	asn1_delete_structure(&ci);
	asn1_delete_structure(&defs);
}

static void
test_pkcs7(const struct cert *leaf, const struct cert *ca)
{
	gnutls_datum_t ders[2] = { leaf->der, ca->der }, p7 = { NULL, 0 }, got = { NULL, 0 };
	gnutls_pkcs7_t pk = NULL;
	struct be_err e;
	char subj[128], *text = NULL;
	const char *p, *q;
	size_t len;
	int rc;

	be_err_clear(&e);
	rc = be_encode_pkcs7_certs(ders, 2, &p7, &e);
	if (!ok_rc(rc == BE_OK && p7.data != NULL, rc, &e, "/encode/pkcs7/leaf-and-ca"))
		return;
	write_file("chain.p7b", p7.data, p7.size);
	check_certs_only(&p7, ders, 2);

	rc = sh("openssl pkcs7 -inform DER -in chain.p7b -print_certs -noout");
	read_file("cmd.out", &text, &len);
	snprintf(subj, sizeof(subj), "subject=CN = %s", leaf->cn);
	p = text != NULL ? strstr(text, subj) : NULL;
	snprintf(subj, sizeof(subj), "subject=CN = %s", ca->cn);
	q = text != NULL ? strstr(text, subj) : NULL;
	if (!tap_ok(rc == 0 && p != NULL && q != NULL && p < q,
		    "/encode/pkcs7/openssl-print-certs-lists-both-in-order"))
		show_output();
	free(text);

	sh_ok("/encode/pkcs7/same-bytes-as-openssl-crl2pkcs7",
	      "openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out ossl.p7b && "
	      "cmp chain.p7b ossl.p7b");

	rc = gnutls_pkcs7_init(&pk);
	if (rc >= 0)
		rc = gnutls_pkcs7_import(pk, &p7, GNUTLS_X509_FMT_DER);
	tap_ok(rc >= 0 && gnutls_pkcs7_get_crt_count(pk) == 2 &&
		       gnutls_pkcs7_get_signature_count(pk) == 0,
	       "/encode/pkcs7/gnutls-imports-two-certs-no-signers");
	rc = rc >= 0 ? gnutls_pkcs7_get_crt_raw2(pk, 0, &got) : rc;
	tap_ok(rc >= 0 && got.size == leaf->der.size &&
		       memcmp(got.data, leaf->der.data, got.size) == 0,
	       "/encode/pkcs7/gnutls-first-cert-is-leaf");
	be_datum_free(&got);
	gnutls_pkcs7_deinit(pk);
	be_datum_free(&p7);

	rc = be_encode_pkcs7_certs(&leaf->der, 1, &p7, &e);
	if (ok_rc(rc == BE_OK, rc, &e, "/encode/pkcs7/single-cert")) {
		write_file("leaf.p7b", p7.data, p7.size);
		sh_ok("/encode/pkcs7/single-cert-same-bytes-as-openssl-crl2pkcs7",
		      "openssl crl2pkcs7 -nocrl -certfile leaf.pem -outform DER -out ossl1.p7b "
		      "&& cmp leaf.p7b ossl1.p7b");
	}
	be_datum_free(&p7);
}

/* ------------------------------------------------------------------ PKCS#12 */

/* Opens f.p12 with openssl in every way a user would and checks what comes out. */
static void
check_p12_with_openssl(const char *t, const char *p12, const char *passin,
		       const struct cert *leaf, const struct cert *ca, const char *friendly,
		       unsigned iter)
{
	char name[160], cmd[1024], line[256], *text = NULL, *a, *b;
	size_t len, ascii;
	int rc;

	snprintf(name, sizeof(name), "/encode/pkcs12/%s/openssl-info-opens", t);
	snprintf(cmd, sizeof(cmd), "openssl pkcs12 -info -in %s -passin %s -noout", p12,
		 passin);
	rc = sh("%s", cmd);
	if (!tap_ok(rc == 0, "%s", name))
		show_output();
	tap_ok(rc == 0 && output_has("MAC: sha256"), "/encode/pkcs12/%s/mac-is-hmac-sha256", t);
	tap_ok(rc == 0 && output_has("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC") &&
		       output_has("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"),
	       "/encode/pkcs12/%s/certs-and-key-pbes2-aes-256-cbc", t);
	tap_ok(rc == 0 && count_of_output("PRF hmacWithSHA256") == 2,
	       "/encode/pkcs12/%s/pbkdf2-prf-is-hmac-sha256", t);
	snprintf(line, sizeof(line), "Iteration %u\n", iter);
	tap_ok(rc == 0 && count_of_output(line) == 1, "/encode/pkcs12/%s/mac-%u-iterations", t,
	       iter);
	snprintf(line, sizeof(line), "Iteration %u, PRF", iter);
	tap_ok(rc == 0 && count_of_output(line) == 2, "/encode/pkcs12/%s/both-bags-%u-iterations",
	       t, iter);
	if (rc == 0)
		show_iterations();

	snprintf(cmd, sizeof(cmd), "openssl pkcs12 -info -in %s -passin pass:wrong-%s -noout",
		 p12, t);
	rc = sh("%s", cmd);
	tap_ok(rc != 0 && output_has("invalid password"),
	       "/encode/pkcs12/%s/openssl-refuses-wrong-password", t);

	snprintf(cmd, sizeof(cmd), "openssl pkcs12 -in %s -passin %s -nodes -out %s.out.pem",
		 p12, passin, t);
	snprintf(name, sizeof(name), "/encode/pkcs12/%s/openssl-extracts-nodes", t);
	sh_ok(name, cmd);

	snprintf(cmd, sizeof(cmd),
		 "openssl pkey -in %s.out.pem -pubout -out %s.p12key.pub && "
		 "openssl x509 -in %s.out.pem -pubkey -noout > %s.crt.pub && "
		 "openssl x509 -in %s.out.pem -noout -subject | grep -q 'CN = %s' && "
		 "cmp %s.p12key.pub %s.crt.pub",
		 t, t, t, t, t, leaf->cn, t, t);
	snprintf(name, sizeof(name), "/encode/pkcs12/%s/extracted-key-matches-leaf", t);
	sh_ok(name, cmd);

	snprintf(line, sizeof(line), "%s.out.pem", t);
	if (read_file(line, &text, &len)) {
		a = strstr(text, "localKeyID:");
		b = a != NULL ? strstr(a + 1, "localKeyID:") : NULL;
		tap_ok(a != NULL && b != NULL && count_of(text, "localKeyID:") == 2 &&
			       strncmp(a, b, (size_t)(strchr(a, '\n') - a)) == 0,
		       "/encode/pkcs12/%s/same-local-key-id-on-key-and-leaf", t);
		if (friendly != NULL) {
			/* OpenSSL 3.0 prints a BMPString's characters as single bytes
			 * (OPENSSL_uni2asc), so only the ASCII part reads back as given;
			 * check_p12_with_gnutls compares the whole name. */
			for (ascii = 0; friendly[ascii] != '\0' &&
					(unsigned char)friendly[ascii] < 0x80; ascii++)
				;
			snprintf(line, sizeof(line), "friendlyName: %.*s", (int)ascii, friendly);
			tap_ok(count_of(text, line) == 2,
			       "/encode/pkcs12/%s/friendly-name-on-key-and-leaf", t);
		} else {
			tap_ok(count_of(text, "friendlyName") == 0,
			       "/encode/pkcs12/%s/no-friendly-name-when-none-given", t);
		}
	} else {
		tap_ok(0, "/encode/pkcs12/%s/same-local-key-id-on-key-and-leaf", t);
	}
	free(text);

	snprintf(cmd, sizeof(cmd),
		 "openssl pkcs12 -in %s -passin %s -nokeys -clcerts | "
		 "openssl x509 -noout -subject | grep -q 'CN = %s'",
		 p12, passin, leaf->cn);
	snprintf(name, sizeof(name), "/encode/pkcs12/%s/openssl-clcerts-is-leaf", t);
	sh_ok(name, cmd);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkcs12 -in %s -passin %s -nokeys -cacerts | "
		 "openssl x509 -noout -subject | grep -q 'CN = %s'",
		 p12, passin, ca->cn);
	snprintf(name, sizeof(name), "/encode/pkcs12/%s/openssl-cacerts-is-ca", t);
	sh_ok(name, cmd);
}

/* Opens the PKCS#12 with GnuTLS: MAC, algorithms, key and chain. */
static void
check_p12_with_gnutls(const char *t, const gnutls_datum_t *der, const char *password,
		      const struct cert *leaf, const char *friendly, unsigned expect_iter)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t *chain = NULL;
	gnutls_pkcs12_bag_t bag = NULL;
	unsigned chain_len = 0, mac = 0, iter = 0, salt_size = 0, schema = 0, cipher = 0, i;
	unsigned char salt[64], id1[20], id2[20];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	char *oid = NULL, *fn;
	bool names_ok = true;
	int rc, b;

	rc = gnutls_pkcs12_init(&p12);
	if (rc >= 0)
		rc = gnutls_pkcs12_import(p12, der, GNUTLS_X509_FMT_DER, 0);
	tap_ok(rc >= 0 && gnutls_pkcs12_verify_mac(p12, password) >= 0 &&
		       gnutls_pkcs12_verify_mac(p12, "wrong") < 0,
	       "/encode/pkcs12/%s/gnutls-mac-verifies-with-password-only", t);
	salt_size = sizeof(salt);
	rc = gnutls_pkcs12_mac_info(p12, &mac, salt, &salt_size, &iter, &oid);
	tap_ok(rc >= 0 && mac == GNUTLS_MAC_SHA256, "/encode/pkcs12/%s/gnutls-mac-is-sha256", t);
	tap_ok(rc >= 0 && iter == expect_iter, "/encode/pkcs12/%s/gnutls-mac-%u-iterations", t,
	       expect_iter);
	tap_diag("%s: MAC %s, salt %u bytes, %u iterations", t,
		 gnutls_mac_get_name((gnutls_mac_algorithm_t)mac), salt_size, iter);
	gnutls_free(oid);
	oid = NULL;
	iter = 0;
	salt_size = sizeof(salt);
	rc = gnutls_pkcs12_bag_init(&bag);
	if (rc >= 0)
		rc = gnutls_pkcs12_get_bag(p12, 0, bag);
	if (rc >= 0)
		rc = gnutls_pkcs12_bag_enc_info(bag, &schema, &cipher, salt, &salt_size, &iter,
						&oid);
	tap_ok(rc >= 0 && schema == GNUTLS_PKCS_PBES2_AES_256 &&
		       cipher == GNUTLS_CIPHER_AES_256_CBC && iter == expect_iter,
	       "/encode/pkcs12/%s/certificate-bag-pbes2-aes-256-%u-iterations", t, expect_iter);
	tap_diag("%s: certificate bag %s, salt %u bytes, %u iterations", t,
		 rc >= 0 ? gnutls_pkcs_schema_get_name(schema) : "?", salt_size, iter);
	gnutls_free(oid);
	gnutls_pkcs12_bag_deinit(bag);
	/* RFC 2985 5.5.1: friendlyName is a BMPString; GnuTLS reads it back into UTF-8. */
	for (b = 0; b < 2; b++) {
		fn = NULL;
		rc = gnutls_pkcs12_bag_init(&bag);
		if (rc >= 0)
			rc = gnutls_pkcs12_get_bag(p12, b, bag);
		if (rc >= 0 && gnutls_pkcs12_bag_get_type(bag, 0) == GNUTLS_BAG_ENCRYPTED)
			rc = gnutls_pkcs12_bag_decrypt(bag, password);
		if (rc >= 0)
			rc = gnutls_pkcs12_bag_get_friendly_name(bag, 0, &fn);
		names_ok = names_ok && rc >= 0 &&
			   (friendly == NULL ? fn == NULL : fn != NULL && strcmp(fn, friendly) == 0);
		gnutls_pkcs12_bag_deinit(bag);
	}
	tap_ok(names_ok, "/encode/pkcs12/%s/gnutls-reads-friendly-name-on-both-bags", t);
	rc = gnutls_pkcs12_simple_parse(p12, password, &key, &chain, &chain_len, NULL, NULL,
					NULL, 0);
	tap_ok(rc >= 0 && chain_len >= 1 && gnutls_x509_crt_equals2(chain[0], &leaf->der),
	       "/encode/pkcs12/%s/gnutls-simple-parse-finds-leaf", t);
	tap_ok(rc >= 0 && gnutls_x509_privkey_get_key_id(key, 0, id1, &l1) >= 0 &&
		       gnutls_x509_privkey_get_key_id(leaf->key, 0, id2, &l2) >= 0 &&
		       l1 == l2 && memcmp(id1, id2, l1) == 0,
	       "/encode/pkcs12/%s/gnutls-key-is-the-generated-key", t);
	for (i = 0; i < chain_len; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_x509_privkey_deinit(key);
	gnutls_pkcs12_deinit(p12);
}

static void
test_pkcs12(const char *t, const struct cert *leaf, const struct cert *ca,
	    const char *password, const char *friendly, unsigned iterations, double *ms)
{
	struct be_p12_params params = { password, friendly, iterations };
	unsigned expect = iterations == 0 ? 10000 : iterations < 1000 ? 1000 : iterations;
	gnutls_datum_t der = { NULL, 0 };
	char p12[64], passin[80];
	struct be_err e;
	double t0;
	int rc;

	be_err_clear(&e);
	t0 = now_ms();
	rc = be_encode_pkcs12(leaf->key, &leaf->der, &ca->der, 1, &params, &der, &e);
	*ms = now_ms() - t0;
	if (!ok_rc(rc == BE_OK && der.data != NULL, rc, &e, "/encode/pkcs12/%s/creates", t))
		return;
	tap_diag("PKCS#12 %s: %.1f ms", t, *ms);
	snprintf(p12, sizeof(p12), "%s.p12", t);
	write_file(p12, der.data, der.size);
	snprintf(passin, sizeof(passin), "file:%s.pw", t);
	snprintf(p12, sizeof(p12), "%s.pw", t);
	write_file(p12, password, strlen(password));
	snprintf(p12, sizeof(p12), "%s.p12", t);
	check_p12_with_openssl(t, p12, passin, leaf, ca, friendly, expect);
	check_p12_with_gnutls(t, &der, password, leaf, friendly, expect);
	be_datum_free(&der);
}

/* What a file costs per iteration count (CPU time of one be_encode_pkcs12, best of 3):
 * the figures behind be_encode.c's choice of default. */
static void
test_pkcs12_cost(const struct cert *leaf, const struct cert *ca)
{
	static const unsigned counts[] = { 1000, 2048, 10000, 100000, 600000 };
	struct be_p12_params params = { "correct horse battery staple", NULL, 0 };
	gnutls_datum_t der = { NULL, 0 };
	struct be_err e;
	double best, t0, ms;
	size_t i, k;
	bool ok = true;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		params.iterations = counts[i];
		best = 1e9;
		for (k = 0; k < 3; k++) {
			be_err_clear(&e);
			t0 = now_ms();
			ok = ok && be_encode_pkcs12(leaf->key, &leaf->der, &ca->der, 1, &params,
						    &der, &e) == BE_OK;
			ms = now_ms() - t0;
			be_datum_free(&der);
			if (ms < best)
				best = ms;
		}
		tap_diag("PKCS#12 cost: %7u iterations: %8.2f ms per file", counts[i], best);
	}
	tap_ok(ok, "/encode/pkcs12/cost-per-iteration-count-measured");
}

#define P64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define P256 P64 P64 P64 P64
#define P257 P256 "x"

static void
test_pkcs12_refusals(const struct cert *leaf, const struct cert *other)
{
	static const struct {
		const char *pw, *why;
		int rc;
	} bad_passwords[] = {
		{ "Cafe\xcc\x81", "nfd", BE_E_MALFORMED },
		{ "x\xc2\xa0y", "no-break-space", BE_E_MALFORMED },
		{ "tab\there", "control-character", BE_E_MALFORMED },
		{ P257, "over-256-bytes", BE_E_TOOBIG },
	};
	static const struct {
		const char *name, *why;
	} bad_names[] = {
		{ "\xc3\x28", "bad-utf8" },
		{ "\xc0\xae", "overlong-utf8" },
		{ "\xed\xa0\x80", "utf8-surrogate" },
		{ "\xf0\x9f\x94\x91 key", "outside-bmp" },
		{ "tab\there", "with-control-character" },
		{ "", "empty" },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		  "xxxxxxxxxxxxxxxx", "over-255-characters" },
	};
	struct be_p12_params params = { "secret", NULL, 0 };
	gnutls_datum_t der = { NULL, 0 }, chain[16];
	struct be_err e;
	size_t i;
	int rc;

	params.iterations = 10000001;
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_E_POLICY && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-over-10000000-iterations");
	be_datum_free(&der);
	params.iterations = 0;
	params.password = "";
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_E_POLICY && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-empty-password");
	be_datum_free(&der);
	params.password = NULL;
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_E_INTERNAL && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-null-password");
	be_datum_free(&der);
	params.password = "\xff\xfe-not-utf8";
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_E_MALFORMED && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-password-not-utf8");
	be_datum_free(&der);
	for (i = 0; i < sizeof(bad_passwords) / sizeof(bad_passwords[0]); i++) {
		params.password = bad_passwords[i].pw;
		be_err_clear(&e);
		rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
		ok_rc(rc == bad_passwords[i].rc && der.data == NULL, rc, &e,
		      "/encode/pkcs12/refuses-password-%s", bad_passwords[i].why);
		be_datum_free(&der);
	}
	params.password = "secret";
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		params.friendly_name = bad_names[i].name;
		be_err_clear(&e);
		rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
		ok_rc(rc == BE_E_MALFORMED && der.data == NULL, rc, &e,
		      "/encode/pkcs12/refuses-friendly-name-%s", bad_names[i].why);
		be_datum_free(&der);
	}
	params.friendly_name = NULL;
	be_err_clear(&e);
	rc = be_encode_pkcs12(other->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_E_INTERNAL && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-certificate-of-another-key");
	be_datum_free(&der);
	for (i = 0; i < 16; i++)
		chain[i] = other->der;
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, chain, 16, &params, &der, &e);
	ok_rc(rc == BE_E_TOOBIG && der.data == NULL, rc, &e,
	      "/encode/pkcs12/refuses-16-chain-certificates");
	be_datum_free(&der);
	be_err_clear(&e);
	rc = be_encode_pkcs12(leaf->key, &leaf->der, NULL, 0, &params, &der, &e);
	ok_rc(rc == BE_OK && der.data != NULL, rc, &e, "/encode/pkcs12/leaf-without-chain");
	if (rc == BE_OK) {
		write_file("nochain.p12", der.data, der.size);
		sh_ok("/encode/pkcs12/leaf-without-chain/openssl-opens",
		      "openssl pkcs12 -in nochain.p12 -passin pass:secret -nodes | "
		      "grep -c 'BEGIN CERTIFICATE' | grep -qx 1");
	}
	be_datum_free(&der);
}

int
main(void)
{
	struct cert ca = { 0 }, leaf = { 0 }, leaf_rsa = { 0 }, leaf_ed = { 0 };
	char pw[21];
	double ms[3];
	bool ok;

	if (!tmp_setup("encode")) {
		printf("Bail out! cannot create a scratch directory\n");
		return 1;
	}
	ok = make_cert(&ca, "p384", "certgate test CA", NULL) &&
	     make_cert(&leaf, "p256", "certgate test leaf", &ca) &&
	     make_cert(&leaf_rsa, "rsa2048", "certgate test leaf rsa", &ca) &&
	     make_cert(&leaf_ed, "ed25519", "certgate test leaf ed25519", &ca);
	if (!tap_ok(ok, "/encode/setup/test-pki")) {
		printf("Bail out! cannot make the test PKI\n");
		return 1;
	}
	test_pem(&leaf, &ca);
	test_pem_refusals(&leaf);
	test_pkcs7(&leaf, &ca);

	/* UTF-8 password and friendly name (GnuTLS writes the MAC password as BMPString). */
	/* UTF-8 password and friendly name (the MAC takes the password as a BMPString). */
	test_pkcs12("p256", &leaf, &ca, "Gr\xc3\xbc\xc3\x9f" "e-\xe2\x82\xac 1",
		    "certgate T\xc3\xabst", 0, &ms[0]);
	test_pkcs12("rsa2048", &leaf_rsa, &ca, "X", "leaf \xe2\x82\xac", 0, &ms[1]);
	test_pkcs12("p256-nfc-password", &leaf, &ca, "Caf\xc3\xa9 \xef\xbc\xa1", NULL, 0, &ms[2]);
	test_pkcs12("p256-256-byte-password", &leaf, &ca, P256, NULL, 0, &ms[2]);
	/* A password outside the BMP: UTF-16 surrogate pairs in the MAC's BMPString, as
	 * OpenSSL makes them. */
	test_pkcs12("p256-astral-password", &leaf, &ca, "key \xf0\x9f\x94\x91", NULL, 0,
		    &ms[2]);
	if (be_random_password(pw, sizeof(pw), 20) == BE_OK)
		test_pkcs12("ed25519", &leaf_ed, &ca, pw, NULL, 0, &ms[2]);
	else
		tap_ok(0, "/encode/pkcs12/ed25519 random password");
	/* The profile's iteration count, and the floor of 1000. */
	test_pkcs12("p256-2048-iterations", &leaf, &ca, "secret", "x", 2048, &ms[2]);
	test_pkcs12("p256-100000-iterations", &leaf, &ca, "secret", NULL, 100000, &ms[2]);
	test_pkcs12("p256-500-iterations-raised", &leaf, &ca, "secret", NULL, 500, &ms[2]);
	test_pkcs12_cost(&leaf, &ca);
	test_pkcs12_refusals(&leaf, &leaf_rsa);

	cert_clear(&leaf_ed);
	cert_clear(&leaf_rsa);
	cert_clear(&leaf);
	cert_clear(&ca);
	tmp_cleanup();
	return tap_done();
}
