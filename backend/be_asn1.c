/*
 * Loading certgate.asn once, and strict DER decode / encode around libtasn1.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "be_asn1.h"

extern const asn1_static_node certgate_asn1_tab[];
extern const asn1_static_node cms_asn1_tab[];
extern const asn1_static_node est_asn1_tab[];
extern const asn1_static_node ocsp_asn1_tab[];

/* One entry per .asn module; a type name "MODULE.Type" picks its module. */
static struct {
	const char *name;
	const asn1_static_node *tab;
	asn1_node defs;
} modules[] = {
	{ "CERTGATE", certgate_asn1_tab, NULL },
	{ "CMS", cms_asn1_tab, NULL },
	{ "EST", est_asn1_tab, NULL },
	{ "OCSP", ocsp_asn1_tab, NULL },
};
static bool loaded_ok;
static pthread_once_t defs_once = PTHREAD_ONCE_INIT;

static void
defs_load(void)
{
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	size_t i;

	loaded_ok = true;
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		if (asn1_array2tree(modules[i].tab, &modules[i].defs, msg) != ASN1_SUCCESS) {
			modules[i].defs = NULL;
			loaded_ok = false;
		}
	}
}

asn1_node
be_asn1_defs(void)
{
	pthread_once(&defs_once, defs_load);
	return loaded_ok ? modules[0].defs : NULL;
}

asn1_node
be_asn1_module(const char *type)
{
	size_t i, n;

	pthread_once(&defs_once, defs_load);
	for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		n = strlen(modules[i].name);
		if (strncmp(type, modules[i].name, n) == 0 && type[n] == '.')
			return modules[i].defs;
	}
	return NULL;
}

int
be_asn1_decode(const char *type, const unsigned char *der, size_t len, const char *what,
	       asn1_node *out, struct be_err *e)
{
	asn1_node el = NULL;
	asn1_node d;
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	int consumed, rc = BE_OK;

	*out = NULL;
	if ((d = be_asn1_module(type)) == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 definitions for %s did not load", type);
		goto out;
	}
	if (len > INT32_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "%s: too large", what);
		goto out;
	}
	if (asn1_create_element(d, type, &el) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 type %s unknown", type);
		goto out;
	}
	consumed = (int)len;
	if (asn1_der_decoding2(&el, der, &consumed, ASN1_DECODE_FLAG_STRICT_DER, msg) !=
	    ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: not valid DER (%s)", what, msg);
		goto out;
	}
	if ((size_t)consumed != len) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: %zu trailing bytes after the DER value",
				what, len - (size_t)consumed);
		goto out;
	}
	*out = el;
	el = NULL;
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	return rc;
}

int
be_asn1_encode(asn1_node el, gnutls_datum_t *out, struct be_err *e)
{
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	unsigned char *buf = NULL;
	int len = 0, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (asn1_der_coding(el, "", NULL, &len, msg) != ASN1_MEM_ERROR) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 encoding failed: %s", msg);
		goto out;
	}
	if ((buf = gnutls_malloc(len > 0 ? (size_t)len : 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (asn1_der_coding(el, "", buf, &len, msg) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 encoding failed: %s", msg);
		goto out;
	}
	out->data = buf;
	out->size = (unsigned)len;
	buf = NULL;
out:
	gnutls_free(buf);
	return rc;
}

int
be_asn1_read(asn1_node el, const char *path, unsigned char **out, size_t *len,
	     struct be_err *e)
{
	unsigned char *buf = NULL;
	int n = 0, r, rc = BE_OK;

	*out = NULL;
	*len = 0;
	r = asn1_read_value(el, path, NULL, &n);
	if (r == ASN1_ELEMENT_NOT_FOUND || r == ASN1_VALUE_NOT_FOUND) {
		rc = be_err_set(e, BE_E_NOTFOUND, "%s: absent", path);
		goto out;
	}
	if (r != ASN1_MEM_ERROR && r != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: unreadable", path);
		goto out;
	}
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (n > 0 && asn1_read_value(el, path, buf, &n) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: unreadable", path);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	buf = NULL;
out:
	free(buf);
	return rc;
}
