/*
 * Names out of an issued certificate.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "be_ca.h"
#include "be_cert.h"

int
be_cert_import(const gnutls_datum_t *der, gnutls_x509_crt_t *crt, struct be_err *e)
{
	gnutls_datum_t re = { NULL, 0 };
	int rc = BE_OK;

	*crt = NULL;
	if (gnutls_x509_crt_init(crt) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_import(*crt, der, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_export2(*crt, GNUTLS_X509_FMT_DER, &re) < 0 ||
	    !be_ct_equal(re.data, re.size, der->data, der->size)) {
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: not a DER X.509 certificate "
				"(RFC 5280 4.1; X.690 10.1), or trailing bytes");
		goto out;
	}
out:
	be_datum_free(&re);
	if (rc != BE_OK && *crt != NULL) {
		gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
	}
	return rc;
}

static int
subject(gnutls_x509_crt_t crt, struct be_name *out, struct be_err *e)
{
	gnutls_x509_dn_t dn = NULL;
	gnutls_x509_ava_st ava;
	int irdn, iava, r, rc;

	if (gnutls_x509_crt_get_subject(crt, &dn) < 0)
		return be_err_set(e, BE_E_MALFORMED, "certificate subject: unreadable");
	for (irdn = 0;; irdn++) {
		for (iava = 0;; iava++) {
			enum be_dn_attr a;
			char oid[128];

			r = gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava);
			if (r == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND)
				break;
			if (r < 0)
				return be_err_set(e, BE_E_MALFORMED, "certificate subject: unreadable");
			if (ava.oid.size >= sizeof(oid))
				return be_err_set(e, BE_E_POLICY, "certificate subject: OID too long");
			memcpy(oid, ava.oid.data, ava.oid.size);
			oid[ava.oid.size] = '\0';
			if (be_dn_lookup(oid, &a) != BE_OK)
				return be_err_set(e, BE_E_POLICY, "certificate subject: attribute %s "
						  "is not supported", oid);
			rc = be_name_add(out, a, (const char *)ava.value.data, ava.value.size, e);
			if (rc != BE_OK)
				return rc;
		}
		if (iava == 0)
			break;
	}
	return BE_OK;
}

static int
sans(gnutls_x509_crt_t crt, struct be_sans *out, struct be_err *e)
{
	unsigned i, crit;
	int rc;

	for (i = 0;; i++) {
		unsigned char buf[1024];
		size_t len = sizeof(buf) - 1;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len, &crit);

		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (t < 0)
			return be_err_set(e, BE_E_MALFORMED, "certificate subjectAltName: unreadable");
		switch (t) {
		case GNUTLS_SAN_DNSNAME:
			rc = be_sans_add(out, BE_SAN_DNS, (const char *)buf, len, e);
			break;
		case GNUTLS_SAN_RFC822NAME:
			rc = be_sans_add(out, BE_SAN_EMAIL, (const char *)buf, len, e);
			break;
		case GNUTLS_SAN_URI:
			rc = be_sans_add(out, BE_SAN_URI, (const char *)buf, len, e);
			break;
		case GNUTLS_SAN_IPADDRESS:
			rc = be_sans_add_ip_raw(out, buf, len, e);
			break;
		default:
			rc = be_err_set(e, BE_E_POLICY, "certificate subjectAltName: a name of type "
					"%d is not supported", t);
			break;
		}
		if (rc != BE_OK)
			return rc;
	}
	return BE_OK;
}

int
be_cert_names(const gnutls_datum_t *der, struct be_name *subj, struct be_sans *alt,
	      struct be_keyspec *key, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	int rc;

	if ((rc = be_cert_import(der, &crt, e)) != BE_OK)
		goto out;
	if ((rc = subject(crt, subj, e)) != BE_OK || (rc = sans(crt, alt, e)) != BE_OK)
		goto out;
	if (key != NULL) {
		if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "certificate: unreadable public key");
			goto out;
		}
		rc = be_keyspec_of_pubkey(pub, key, e);
	}
out:
	if (rc != BE_OK) {
		be_name_clear(subj);
		be_sans_clear(alt);
	}
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

int
be_cert_serial_hex(const gnutls_datum_t *der, char *buf, size_t len, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[40];
	size_t slen = sizeof(serial);
	int rc;

	if ((rc = be_cert_import(der, &crt, e)) != BE_OK)
		return rc;
	if (gnutls_x509_crt_get_serial(crt, serial, &slen) < 0)
		rc = be_err_set(e, BE_E_MALFORMED, "certificate serial: unreadable");
	else
		be_serial_hex(serial, slen, buf, len);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
