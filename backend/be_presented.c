/*
 * be_presented_check: a presented certificate against certgate's CAs and store
 * (be_presented.h).
 */
#include "config.h"

#include <string.h>

#include "be_cert.h"
#include "be_presented.h"

/* True when ca's signature on crt verifies (RFC 5280 6.1; validity is checked apart so
 * that an expired certificate of ours is told from someone else's). */
static bool
signed_by(const struct be_ca *ca, gnutls_x509_crt_t crt)
{
	unsigned status = 0;

	return gnutls_x509_trust_list_verify_crt2(ca->trust, &crt, 1, NULL, 0,
						  GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
						  GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
						  &status, NULL) >= 0 && status == 0;
}

int
be_presented_check(struct be_ctx *ctx, const struct be_ca *want_ca,
		   const gnutls_datum_t *der, time_t now, struct be_cert_rec **rec_out,
		   const struct be_ca **ca_out, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	const struct be_ca *ca = NULL;
	struct be_cert_rec *rec = NULL;
	struct be_err le = { 0, "" };
	char serial[41];
	size_t i;
	int rc;

	if (rec_out != NULL)
		*rec_out = NULL;
	if (ca_out != NULL)
		*ca_out = NULL;
	if (gnutls_x509_crt_init(&crt) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0 ||
	    be_cert_serial_hex(der, serial, sizeof(serial), &le) != BE_OK) {
		rc = be_err_set(e, BE_E_MALFORMED, "client certificate: not a DER certificate");
		goto out;
	}
	for (i = 0; i < ctx->n_cas && ca == NULL; i++)
		if ((want_ca == NULL || want_ca == ctx->cas[i]) && signed_by(ctx->cas[i], crt))
			ca = ctx->cas[i];
	if (ca == NULL) {
		rc = be_err_set(e, BE_E_NOTFOUND, "client certificate %s: not issued by %s%s",
				serial, want_ca != NULL ? "CA " : "any CA of certgate",
				want_ca != NULL ? want_ca->name : "");
		goto out;
	}
	if (gnutls_x509_crt_get_activation_time(crt) > now) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate %s: not yet valid", serial);
		goto out;
	}
	if (gnutls_x509_crt_get_expiration_time(crt) < now) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate %s: expired", serial);
		goto out;
	}
	if (ctx->store == NULL) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no store: certificates cannot be checked");
		goto out;
	}
	rc = be_store_cert_get(ctx->store, ca->id, serial, &rec, &le);
	if (rc == BE_E_NOTFOUND || (rc == BE_OK && (rec->der.size != der->size ||
						  memcmp(rec->der.data, der->data, der->size) != 0))) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate %s of CA %s is not one "
				"certgate issued (not in its store)", serial, ca->name);
		goto out;
	}
	if (rc != BE_OK) {
		rc = be_err_set(e, rc, "%s", le.msg);
		goto out;
	}
	if (rec->deleted || rec->status != BE_CERT_VALID) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "client certificate %s is %s", rec->serial,
				rec->deleted ? "deleted" :
				rec->status == BE_CERT_HOLD ? "on hold" : "revoked");
		goto out;
	}
	if (rec_out != NULL) {
		*rec_out = rec;
		rec = NULL;
	}
	if (ca_out != NULL)
		*ca_out = ca;
	rc = BE_OK;
out:
	be_cert_rec_free(rec);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}
