/*
 * The se.SAM commands (PROTOCOLS.md section 2): each reads its fields, fills one struct
 * be_request (or calls the store's management functions) and writes the reply's keys.
 *
 * Subject fields CN GN SN O OU C ST L E map to the X.520 / PKCS#9 attributes of the same
 * short names (be_dn_lookup); a field the template marks "ignore" is dropped before it is
 * looked at, any other value goes through be_name_add, so an invalid one (C "My City") is
 * refused with its sentence and never encoded.  E is an e-mail address: it goes into the
 * subject as emailAddress (the se.SAM "E" a user sees in the certificate) and into the
 * subjectAltName as an rfc822Name (RFC 5280 4.1.2.6: what S/MIME and TLS clients read), each
 * where the template allows it.  DNS is one or more host names separated by commas or
 * spaces (or a repeated field, or a JSON array), each a dNSName.  Empty fields are as if
 * absent (HTML forms send every field).
 *
 * Serials are shown in decimal as se.SAM shows them; requests may name a certificate by its
 * decimal serial or by hex with a "0x" prefix or colons.
 *
 * Roles (PROTOCOLS.md section 2):
 *   client          gencert, issuepseudocsr, loadcsr on templates whose "allow" names it;
 *                   listcerts and getcert of its own certificates
 *   RO admin        the same on any certificate, plus newrequest, signrequest, rejectrequest,
 *                   listrequests, copycert
 *   CA admin        everything, plus revokecert, reactivatecert, deletecert
 *
 * A server-generated key comes back as p12_data (base64 PKCS#12 with key, certificate and
 * chain) under the client's p12_pass or, without one, under a fresh random password returned
 * once in p12_pass.  When the template needs approval (or for newrequest / copycert) the key is
 * made when an administrator signs, under the p12_pass given to signrequest; a p12_pass with
 * the request itself is refused rather than stored.  Templates with "keep_key" or
 * distribution "download" keep the PKCS#12 for getcert.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "be_cert.h"
#include "be_json.h"
#include "be_request.h"
#include "sesam.h"
#include "sesam_pseudo.h"

#define ANY_ROLE (BE_ROLE_CLIENT | BE_ROLE_RO_ADMIN | BE_ROLE_CA_ADMIN)
#define ADMINS (BE_ROLE_RO_ADMIN | BE_ROLE_CA_ADMIN)
#define NAME_MAX_BYTES 256	/* the se.SAM display name of a request */

static const char *const subject_keys[] = {
	"CN", "GN", "SN", "O", "OU", "C", "ST", "L", "E", NULL
};

/* ---------------------------------------------------------------- fields */

/* The value of field name (borrowed), NULL when absent or empty.  A field given more than
 * once is refused unless list. */
static int
field_get(const struct sesam_call *c, const struct sesam_form *f, const char *path,
	  const char *name, bool required, bool list, const char **out, struct be_err *e)
{
	const struct sesam_field *fld = sesam_form_get(f, name);

	*out = NULL;
	if (fld != NULL && fld->len > 0) {
		if (fld->count > 1 && !list)
			return be_err_set(e, BE_E_MALFORMED, "%s%s: given %u times; one value expected",
					  path, name, fld->count);
		*out = fld->value;
		return BE_OK;
	}
	if (required)
		return be_err_set(e, BE_E_MALFORMED, "%s%s: missing; command %s needs it", path, name,
				  c->command);
	return BE_OK;
}

static int
field(const struct sesam_call *c, const char *name, bool required, const char **out,
      struct be_err *e)
{
	return field_get(c, c->form, "", name, required, false, out, e);
}

/* p12_pass: absent asks for a random password; given, it must not be empty (an empty
 * password is a bad input, never "absent"). */
static int
password_field(const struct sesam_call *c, const char **out, struct be_err *e)
{
	const struct sesam_field *fld = sesam_form_get(c->form, "p12_pass");

	if (fld != NULL && fld->len == 0)
		return be_err_set(e, BE_E_MALFORMED, "p12_pass: given but empty; leave it out "
				  "for a random password");
	return field(c, "p12_pass", false, out, e);
}

static int
uint_parse(const char *name, const char *s, unsigned long long min, unsigned long long max,
	   unsigned long long *out, struct be_err *e)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 19)
			return be_err_set(e, BE_E_MALFORMED, "%s: \"%.32s\" is not a number from %llu "
					  "to %llu", name, s, min, max);
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (i == 0 || v < min || v > max)
		return be_err_set(e, BE_E_MALFORMED, "%s: \"%.32s\" is not a number from %llu to %llu",
				  name, s, min, max);
	*out = v;
	return BE_OK;
}

static int
set_profile(struct sesam_call *c, const char *name)
{
	free(c->profile);
	c->profile = be_strdup(name);
	return name != NULL && c->profile == NULL ? BE_E_NOMEM : BE_OK;
}

/* The profile named by the template field (or by name when not NULL). */
static int
template_get(struct sesam_call *c, const char *name, const struct be_profile **out,
	     struct be_err *e)
{
	char list[200];
	size_t i, o = 0;
	int rc;

	*out = NULL;
	if (name == NULL && (rc = field(c, "template", true, &name, e)) != BE_OK)
		return rc;
	if ((rc = set_profile(c, name)) != BE_OK)
		return be_err_set(e, rc, "out of memory");
	if ((*out = be_ctx_profile(c->be, name)) != NULL)
		return BE_OK;
	list[0] = '\0';
	for (i = 0; i < c->be->n_profiles; i++) {
		const struct be_profile *p = &c->be->profiles[i];
		int w;

		if (!be_profile_allows(p, &c->principal))
			continue;
		w = snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", p->name);
		if (w < 0 || (size_t)w >= sizeof(list) - o)
			break;
		o += (size_t)w;
	}
	return be_err_set(e, BE_E_NOTFOUND, "template: no template named \"%.64s\"%s%s%s", name,
			  o ? " (templates you may use: " : "", list, o ? ")" : "");
}

/* ---------------------------------------------------------------- serials */

/* The serial field as canonical hex (no leading zero octets) into hex[41]: decimal digits
 * (se.SAM), or hex with a "0x" prefix or ':' separators.  RFC 5280 4.1.2.2: positive, at
 * most 20 octets. */
static int
serial_parse(const char *s, char *hex, size_t hexlen, struct be_err *e)
{
	unsigned char n[21];
	char nib[64];
	size_t i, len = strlen(s), o = 0, start;
	bool digits = true;

	memset(n, 0, sizeof(n));
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = false;
	if (len == 0 || len > 64)
		return be_err_set(e, BE_E_MALFORMED, "serial: not a certificate serial number");
	if (digits) {
		for (i = 0; i < len; i++) {
			unsigned carry = (unsigned)(s[i] - '0');
			size_t k;

			for (k = sizeof(n); k-- > 0;) {
				unsigned v = n[k] * 10u + carry;

				n[k] = (unsigned char)(v & 0xff);
				carry = v >> 8;
			}
			if (carry != 0 || n[0] != 0)
				return be_err_set(e, BE_E_MALFORMED, "serial: more than 20 octets (RFC "
						  "5280 section 4.1.2.2)");
		}
	} else {
		i = (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0;
		for (; i < len; i++) {
			char ch = s[i];

			if (ch == ':')
				continue;
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			      (ch >= 'A' && ch <= 'F')) || o >= 42)
				return be_err_set(e, BE_E_MALFORMED, "serial: \"%.64s\" is neither "
						  "decimal nor hex (0x...)", s);
			nib[o++] = ch;
		}
		for (start = 0; start < o && nib[start] == '0'; start++)
			;
		if (o - start > 40)
			return be_err_set(e, BE_E_MALFORMED, "serial: more than 20 octets (RFC 5280 "
					  "section 4.1.2.2)");
		for (i = o; i > start; i--) {
			char ch = nib[i - 1];
			unsigned v = ch <= '9' ? (unsigned)(ch - '0') :
				     ch <= 'F' ? (unsigned)(ch - 'A' + 10) : (unsigned)(ch - 'a' + 10);
			size_t pos = o - i;	/* nibble index from the right */

			n[sizeof(n) - 1 - pos / 2] |= (unsigned char)(pos % 2 ? v << 4 : v);
		}
	}
	for (i = 0; i < sizeof(n) && n[i] == 0; i++)
		;
	if (i == sizeof(n))
		return be_err_set(e, BE_E_MALFORMED, "serial: 0 is not a certificate serial number "
				  "(RFC 5280 section 4.1.2.2)");
	be_serial_hex(n + i, sizeof(n) - i, hex, hexlen);
	return BE_OK;
}

/* Decimal of a canonical hex serial into dec (>= 50 bytes). */
static void
serial_dec(const char *hex, char *dec, size_t declen)
{
	unsigned char b[21];
	size_t len = strlen(hex), i, nb;

	memset(b, 0, sizeof(b));
	if (len > 40)
		len = 40;
	nb = (len + 1) / 2;
	for (i = 0; i < len; i++) {
		char ch = hex[len - 1 - i];
		unsigned v = ch <= '9' ? (unsigned)(ch - '0') : (unsigned)((ch | 0x20) - 'a' + 10);

		b[nb - 1 - i / 2] |= (unsigned char)(i % 2 ? v << 4 : v);
	}
	be_serial_dec(b, nb, dec, declen);
}

/* ---------------------------------------------------------------- reply helpers */

static int
put(struct sesam_call *c, const char *key, json_t *v, struct be_err *e)
{
	if (v == NULL || json_object_set_new(c->reply, key, v) != 0)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

static json_t *
time_json(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_integer(t);
	return json_string(buf);
}

static int
put_pem(struct sesam_call *c, const char *key, const gnutls_datum_t *ders, size_t n,
	struct be_err *e)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc;

	if (n == 0)
		return BE_OK;
	if ((rc = be_encode_pem_certs(ders, n, &pem, e)) == BE_OK)
		rc = put(c, key, json_stringn((const char *)pem.data, pem.size), e);
	be_datum_free(&pem);
	return rc;
}

/* p12_data: base64 in 64-character lines, as the N200 sends it. */
static int
put_p12(struct sesam_call *c, const gnutls_datum_t *p12, struct be_err *e)
{
	char *b64 = NULL;
	int rc;

	if (be_base64_encode(p12->data, p12->size, 64, &b64) != BE_OK)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	c->secret = true;
	rc = put(c, "p12_data", json_string(b64), e);
	be_memzero(b64, strlen(b64));
	free(b64);
	return rc;
}

static const char *const reason_names[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", NULL, "removeFromCRL", "privilegeWithdrawn",
	"aACompromise",
};

static const char *
reason_name(int r)
{
	if (r < 0 || r > 10 || reason_names[r] == NULL)
		return NULL;
	return reason_names[r];
}

/* ---------------------------------------------------------------- names */

/* Subject and subjectAltNames from the fields of f (the request, or request_data). */
static int
names_build(const struct be_profile *p, const struct sesam_call *c, const struct sesam_form *f,
	    const char *path, struct be_name *subject, struct be_sans *sans, struct be_err *e)
{
	const char *v;
	size_t i;
	int rc;

	for (i = 0; subject_keys[i] != NULL; i++) {
		enum be_dn_attr a;

		if ((rc = field_get(c, f, path, subject_keys[i], false, false, &v, e)) != BE_OK)
			return rc;
		if (v == NULL)
			continue;
		if (be_dn_lookup(subject_keys[i], &a) != BE_OK)
			return be_err_set(e, BE_E_INTERNAL, "no attribute %s", subject_keys[i]);
		if (p->subject[a] == BE_FIELD_IGNORE)
			continue;
		if (a == BE_DN_E) {
			bool in_subject = p->subject[BE_DN_E] != BE_FIELD_FORBIDDEN;
			bool in_san = (p->san_types & (1u << BE_SAN_EMAIL)) != 0;

			/* Neither allowed: let the profile refuse it, naming the field. */
			if (!in_subject && !in_san)
				in_subject = true;
			if (in_subject && (rc = be_name_add(subject, a, v, strlen(v), e)) != BE_OK)
				return rc;
			if (in_san && (rc = be_sans_add(sans, BE_SAN_EMAIL, v, strlen(v), e)) != BE_OK)
				return rc;
			continue;
		}
		if ((rc = be_name_add(subject, a, v, strlen(v), e)) != BE_OK)
			return rc;
	}
	if ((rc = field_get(c, f, path, "DNS", false, true, &v, e)) != BE_OK || v == NULL)
		return rc;
	while (*v != '\0') {
		size_t n = strcspn(v, ", \t\r\n");

		if (n > 0 && (rc = be_sans_add(sans, BE_SAN_DNS, v, n, e)) != BE_OK)
			return rc;
		v += n;
		v += strspn(v, ", \t\r\n");
	}
	return BE_OK;
}

/* ---------------------------------------------------------------- sources of a certificate */

struct source {
	const struct be_profile *profile;
	const char *origin;		/* the command that made the data */
	bool have_names;
	struct be_name subject;
	struct be_sans sans;
	struct be_csr *csr;
	gnutls_pubkey_t pubkey;
	char *pubkey_text;		/* the PEM as given, kept with an open request */
	char *name;			/* se.SAM display name, kept with an open request */
};

static void
source_clear(struct source *s)
{
	be_name_clear(&s->subject);
	be_sans_clear(&s->sans);
	be_csr_free(s->csr);
	if (s->pubkey != NULL)
		gnutls_pubkey_deinit(s->pubkey);
	free(s->pubkey_text);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

/* csr_dump: "the base64 encoded RFC 2986 CSR" — base64 of the DER, PEM, or base64 of the
 * PEM text; be_csr_parse reads the first two itself. */
static int
csr_load(const char *dump, struct be_csr **out, struct be_err *e)
{
	unsigned char *dec = NULL;
	size_t declen = 0;
	const char *p = dump + strspn(dump, " \t\r\n");
	struct be_err ignore = { 0, "" };
	int rc;

	if (strncmp(p, "-----", 5) != 0 &&
	    be_base64_decode(dump, strlen(dump), &dec, &declen, &ignore) == BE_OK &&
	    declen > 11 && memcmp(dec, "-----BEGIN ", 11) == 0)
		rc = be_csr_parse(dec, declen, 0, out, e);
	else
		rc = be_csr_parse((const unsigned char *)dump, strlen(dump), 0, out, e);
	free(dec);
	if (rc != BE_OK && e != NULL && strncmp(e->msg, "csr_dump", 8) != 0) {
		char msg[BE_ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		be_err_clear(e);
		be_err_set(e, rc, "csr_dump: %s", msg);
	}
	return rc;
}

static int
pubkey_load(struct source *s, const char *pem, struct be_err *e)
{
	struct be_keyspec spec;
	int rc;

	if ((rc = be_pubkey_parse((const unsigned char *)pem, strlen(pem), &s->pubkey, &spec,
				  e)) != BE_OK)
		return rc;
	if ((s->pubkey_text = strdup(pem)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

static int
name_set(struct source *s, const char *name, struct be_err *e)
{
	if (name == NULL)
		return BE_OK;
	if (strlen(name) > NAME_MAX_BYTES)
		return be_err_set(e, BE_E_MALFORMED, "request_data.name: longer than %d bytes",
				  NAME_MAX_BYTES);
	if ((s->name = strdup(name)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

/* request_data: the pseudo-CSR, a JSON object given as a string (or, from Node-RED, as an
 * object). */
static int
pseudo_csr_load(struct sesam_call *c, struct source *s, struct be_err *e)
{
	static const char *const keys[] = {
		"name", "CN", "GN", "SN", "O", "OU", "C", "ST", "L", "E", "DNS", "public_key", NULL
	};
	struct sesam_form sub;
	json_t *j = NULL;
	const char *rd, *v;
	int rc;

	memset(&sub, 0, sizeof(sub));
	if ((rc = field(c, "request_data", true, &rd, e)) != BE_OK ||
	    (rc = be_json_parse(rd, strlen(rd), "request_data", BE_E_MALFORMED, &j, e)) != BE_OK ||
	    (rc = be_json_keys(j, "request_data", keys, BE_E_MALFORMED, e)) != BE_OK ||
	    (rc = sesam_form_from_json(j, "request_data", &sub, e)) != BE_OK)
		goto out;
	if ((rc = field_get(c, &sub, "request_data.", "name", false, false, &v, e)) != BE_OK ||
	    (rc = name_set(s, v, e)) != BE_OK)
		goto out;
	if ((rc = names_build(s->profile, c, &sub, "request_data.", &s->subject, &s->sans,
			      e)) != BE_OK)
		goto out;
	s->have_names = true;
	if ((rc = field_get(c, &sub, "request_data.", "public_key", false, false, &v, e)) != BE_OK)
		goto out;
	if (v != NULL && (rc = pubkey_load(s, v, e)) != BE_OK) {
		if (strncmp(e->msg, "request_data", 12) != 0) {
			char msg[BE_ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", e->msg);
			be_err_clear(e);
			be_err_set(e, rc, "request_data.public_key: %s", msg);
		}
		goto out;
	}
out:
	sesam_form_clear(&sub);
	json_decref(j);
	return rc;
}

int
sesam_pseudo_csr_parse(const struct be_profile *p, const char *request_data,
		       struct be_name *subject, struct be_sans *sans, gnutls_pubkey_t *pubkey,
		       struct be_err *e)
{
	struct sesam_form f;
	struct sesam_call c;
	struct source s;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	*pubkey = NULL;
	c.command = "issuepseudocsr";
	c.form = &f;
	s.profile = p;
	snprintf(f.v[0].name, sizeof(f.v[0].name), "request_data");
	if ((f.v[0].value = be_strdup(request_data)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	f.v[0].len = strlen(request_data);
	f.v[0].count = 1;
	f.n = 1;
	if ((rc = pseudo_csr_load(&c, &s, e)) != BE_OK)
		goto out;
	*subject = s.subject;
	*sans = s.sans;
	*pubkey = s.pubkey;
	memset(&s.subject, 0, sizeof(s.subject));
	memset(&s.sans, 0, sizeof(s.sans));
	s.pubkey = NULL;
out:
	source_clear(&s);
	sesam_form_clear(&f);
	return rc;
}

/* What se.SAM shows with an open signing request (be_request.data): its display name.  The
 * backend keeps the normalised request itself (be_request.h). */
static char *
data_json(const struct source *s)
{
	json_t *j = json_pack("{s:s?}", "name", s->name);
	char *text = NULL;

	if (j != NULL)
		text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* ---------------------------------------------------------------- issuing */

/* Writes the reply of an issuance (or of a request now waiting for approval). */
static int
reply_issued(struct sesam_call *c, const struct be_profile *p, const struct be_result *res,
	     struct be_err *e)
{
	char dec[50];
	int rc;

	if (res->pending) {
		if ((rc = put(c, "result", json_string("ST_PENDING"), e)) != BE_OK ||
		    (rc = put(c, "request_id", json_integer(res->request_id), e)) != BE_OK)
			return rc;
		return put(c, "message", json_string("waiting for an administrator to sign the "
						     "request (signrequest)"), e);
	}
	if (res->serial_dec[0] != '\0')
		snprintf(dec, sizeof(dec), "%s", res->serial_dec);
	else
		serial_dec(res->serial_hex, dec, sizeof(dec));
	if ((rc = put(c, "result", json_string(dec), e)) != BE_OK)
		return rc;
	if (res->key_out.size > 0 && (rc = put_p12(c, &res->key_out, e)) != BE_OK)
		return rc;
	if (res->p12_password[0] != '\0') {
		c->secret = true;
		if ((rc = put(c, "p12_pass", json_string(res->p12_password), e)) != BE_OK)
			return rc;
	}
	if ((rc = put_pem(c, "x509_cert", &res->cert, 1, e)) != BE_OK)
		return rc;
	if (res->chain != NULL)
		rc = put_pem(c, "ca_chain", res->chain, res->n_chain, e);
	else
		rc = put_pem(c, "ca_chain", p->ca->chain, p->ca->n_chain, e);
	if (rc != BE_OK)
		return rc;
	if (res->request_id != 0)
		rc = put(c, "request_id", json_integer(res->request_id), e);
	return rc;
}

/* Issues (or holds for approval) what s describes for owner.  approved: the id of an
 * approved stored request this completes, else 0. */
static int
issue(struct sesam_call *c, struct source *s, bool hold, int64_t approved,
      const struct be_principal *owner, const char *p12_pass, struct be_err *e)
{
	struct be_request r;
	struct be_result res;
	char *data = NULL;
	char idem[33];
	bool server_key = s->csr == NULL && s->pubkey == NULL;
	bool pending = approved == 0 && (hold || s->profile->approvals > 0);
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	if (p12_pass != NULL && !server_key) {
		rc = be_err_set(e, BE_E_MALFORMED, "p12_pass: no PKCS#12 is made when the requester "
				"brings the public key");
		goto out;
	}
	if (p12_pass != NULL && pending) {
		rc = be_err_set(e, BE_E_POLICY, "p12_pass: template %s needs an administrator to "
				"sign the request; the key and its PKCS#12 are made then, under the "
				"p12_pass given to signrequest (passwords are never stored)",
				s->profile->name);
		goto out;
	}
	r.adapter = "sesam";
	r.operation = c->command;
	r.request_id = c->req->id;
	r.peer = c->req->peer;
	r.profile = s->profile;
	r.principal = *owner;
	r.csr = s->csr;
	r.pubkey = s->pubkey;
	if (s->have_names) {
		r.subject = &s->subject;
		r.sans = &s->sans;
	}
	r.key_fmt = server_key ? BE_KEYFMT_PKCS12 : BE_KEYFMT_NONE;
	r.p12_password = p12_pass;
	r.hold = hold;
	r.approved_request = approved;
	if (pending) {
		if ((data = data_json(s)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		r.data = data;
		/* A new key is a new request each time; a client's key or CSR sent again finds
		 * its request (and, once signed, its certificate). */
		if (hold || server_key) {
			if (be_random_password(idem, sizeof(idem), 32) != BE_OK) {
				rc = be_err_set(e, BE_E_CRYPTO, "no random numbers");
				goto out;
			}
			r.idem_key = idem;
		}
	}
	c->audited = true;
	if ((rc = be_issue(c->be, &r, &res, e)) != BE_OK)
		goto out;
	c->audited = false;
	rc = reply_issued(c, s->profile, &res, e);
out:
	be_result_clear(&res);
	free(data);
	return rc;
}

/* ---------------------------------------------------------------- issuing commands */

/* gencert: the CA generates the key (the template's key type) and returns a PKCS#12. */
static int
op_gencert(struct sesam_call *c, struct be_err *e)
{
	struct source s;
	const char *pw = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	s.origin = "gencert";
	if ((rc = template_get(c, NULL, &s.profile, e)) != BE_OK ||
	    (rc = password_field(c, &pw, e)) != BE_OK ||
	    (rc = names_build(s.profile, c, c->form, "", &s.subject, &s.sans, e)) != BE_OK)
		goto out;
	s.have_names = true;
	rc = issue(c, &s, false, 0, &c->principal, pw, e);
out:
	source_clear(&s);
	return rc;
}

/* issuepseudocsr: request_data with the subject and, optionally, the client's public key. */
static int
op_issuepseudocsr(struct sesam_call *c, struct be_err *e)
{
	struct source s;
	const char *pw = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	s.origin = "issuepseudocsr";
	if ((rc = template_get(c, NULL, &s.profile, e)) != BE_OK ||
	    (rc = password_field(c, &pw, e)) != BE_OK ||
	    (rc = pseudo_csr_load(c, &s, e)) != BE_OK)
		goto out;
	rc = issue(c, &s, false, 0, &c->principal, pw, e);
out:
	source_clear(&s);
	return rc;
}

/* loadcsr: an RFC 2986 CSR; issued at once, or held when the template needs approval. */
static int
op_loadcsr(struct sesam_call *c, struct be_err *e)
{
	struct source s;
	const char *dump;
	int rc;

	memset(&s, 0, sizeof(s));
	s.origin = "loadcsr";
	if ((rc = template_get(c, NULL, &s.profile, e)) != BE_OK ||
	    (rc = field(c, "csr_dump", true, &dump, e)) != BE_OK ||
	    (rc = csr_load(dump, &s.csr, e)) != BE_OK)
		goto out;
	rc = issue(c, &s, false, 0, &c->principal, NULL, e);
out:
	source_clear(&s);
	return rc;
}

/* newrequest: an administrator's open signing request, from subject fields (the key is
 * made when it is signed), request_data or csr_dump. */
static int
op_newrequest(struct sesam_call *c, struct be_err *e)
{
	struct source s;
	const char *dump = NULL, *rd = NULL;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.origin = "newrequest";
	if ((rc = template_get(c, NULL, &s.profile, e)) != BE_OK ||
	    (rc = field(c, "csr_dump", false, &dump, e)) != BE_OK ||
	    (rc = field(c, "request_data", false, &rd, e)) != BE_OK)
		goto out;
	if (dump != NULL || rd != NULL) {
		for (i = 0; subject_keys[i] != NULL; i++)
			if (sesam_form_get(c->form, subject_keys[i]) != NULL)
				break;
		if (subject_keys[i] != NULL || sesam_form_get(c->form, "DNS") != NULL ||
		    (dump != NULL && rd != NULL)) {
			rc = be_err_set(e, BE_E_MALFORMED, "newrequest takes its data from one of "
					"csr_dump, request_data or the subject fields");
			goto out;
		}
	}
	if (dump != NULL)
		rc = csr_load(dump, &s.csr, e);
	else if (rd != NULL)
		rc = pseudo_csr_load(c, &s, e);
	else if ((rc = names_build(s.profile, c, c->form, "", &s.subject, &s.sans, e)) == BE_OK)
		s.have_names = true;
	if (rc != BE_OK)
		goto out;
	rc = issue(c, &s, true, 0, &c->principal, NULL, e);
out:
	source_clear(&s);
	return rc;
}

static void
op_of(const struct sesam_call *c, struct be_op_ctx *op)
{
	memset(op, 0, sizeof(*op));
	op->adapter = "sesam";
	op->operation = c->command;
	op->request_id = c->req->id;
	op->peer = c->req->peer;
	op->principal = c->principal;
}

/* signrequest: records the caller's approval of an open request (whichever front end made
 * it: the backend's rules, be_request_approve) and, once it has all it needs, issues it for
 * the principal who asked — unless its key is to be generated for a requester of another
 * front end, who collects it there. */
static int
op_signrequest(struct sesam_call *c, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	struct be_request_stored st;
	struct be_result res;
	struct be_op_ctx op;
	const struct gw_principal *gp;
	const char *idtext, *pw = NULL;
	unsigned long long id;
	bool approved = false, server_key;
	int rc;

	memset(&st, 0, sizeof(st));
	memset(&res, 0, sizeof(res));
	op_of(c, &op);
	if ((rc = field(c, "request_id", true, &idtext, e)) != BE_OK ||
	    (rc = uint_parse("request_id", idtext, 1, INT64_MAX, &id, e)) != BE_OK ||
	    (rc = password_field(c, &pw, e)) != BE_OK)
		goto out;
	rc = be_store_req_get(c->be->store, (int64_t)id, &rec, e);
	if (rc == BE_E_NOTFOUND) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_NOTFOUND, "request_id: no request %llu", id);
	}
	if (rc != BE_OK)
		goto out;
	if ((rc = set_profile(c, rec->profile)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	if (rec->status != BE_REQ_APPROVED) {
		/* The backend refuses anything but PENDING, and audits either way. */
		c->audited = true;
		if ((rc = be_request_approve(c->be, &op, (int64_t)id, &approved, e)) != BE_OK)
			goto out;
		c->audited = false;
		if (!approved) {
			if ((rc = put(c, "result", json_string("ST_PENDING"), e)) != BE_OK ||
			    (rc = put(c, "request_id", json_integer((json_int_t)id), e)) != BE_OK ||
			    (rc = put(c, "approvals", json_integer(rec->approvals + 1), e)) != BE_OK)
				goto out;
			rc = put(c, "approvals_needed", json_integer(rec->approvals_needed), e);
			goto out;
		}
	}
	if (!be_request_may_collect(rec, "sesam")) {
		if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK ||
		    (rc = put(c, "request_id", json_integer((json_int_t)id), e)) != BE_OK ||
		    (rc = put(c, "status", json_string("APPROVED"), e)) != BE_OK)
			goto out;
		rc = put(c, "message", json_string("approved; its key is generated when the "
						   "requester asks again through the front end "
						   "it used"), e);
		goto out;
	}
	if ((rc = be_request_load(c->be, (int64_t)id, &st, e)) != BE_OK)
		goto out;
	/* The certificate belongs to who asked for it, with that principal's roles now. */
	gp = gw_config_principal(c->req->cfg, st.rec->principal);
	if (gp == NULL) {
		rc = be_err_set(e, BE_E_STATE, "request_id: request %llu was made by %s, who is no "
				"longer a principal", id, st.rec->principal);
		goto out;
	}
	server_key = st.req.csr == NULL && st.req.pubkey == NULL;
	if (pw != NULL && !server_key) {
		rc = be_err_set(e, BE_E_MALFORMED, "p12_pass: no PKCS#12 is made when the requester "
				"brings the public key");
		goto out;
	}
	st.req.adapter = "sesam";
	st.req.operation = c->command;
	st.req.request_id = c->req->id;
	st.req.peer = c->req->peer;
	st.req.actor = c->principal.name;
	st.req.principal.name = gp->name;
	st.req.principal.roles = sesam_roles_of(gp);
	st.req.key_fmt = server_key ? BE_KEYFMT_PKCS12 : BE_KEYFMT_NONE;
	st.req.p12_password = pw;
	c->audited = true;
	if ((rc = be_issue(c->be, &st.req, &res, e)) != BE_OK)
		goto out;
	c->audited = false;
	rc = reply_issued(c, st.req.profile, &res, e);
out:
	be_result_clear(&res);
	be_request_stored_clear(&st);
	be_req_rec_free(rec);
	return rc;
}

/* rejectrequest: closes an open request without a certificate (be_request_reject). */
static int
op_rejectrequest(struct sesam_call *c, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	struct be_op_ctx op;
	const char *idtext, *why = NULL;
	unsigned long long id;
	int rc;

	op_of(c, &op);
	if ((rc = field(c, "request_id", true, &idtext, e)) != BE_OK ||
	    (rc = uint_parse("request_id", idtext, 1, INT64_MAX, &id, e)) != BE_OK ||
	    (rc = field(c, "reason", false, &why, e)) != BE_OK)
		goto out;
	if (be_store_req_get(c->be->store, (int64_t)id, &rec, NULL) == BE_OK &&
	    (rc = set_profile(c, rec->profile)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	c->audited = true;
	if ((rc = be_request_reject(c->be, &op, (int64_t)id, why, e)) != BE_OK)
		goto out;
	c->audited = false;
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK ||
	    (rc = put(c, "request_id", json_integer((json_int_t)id), e)) != BE_OK)
		goto out;
	rc = put(c, "status", json_string(be_req_status_name(BE_REQ_REJECTED)), e);
out:
	be_req_rec_free(rec);
	return rc;
}

/* ---------------------------------------------------------------- certificates */

static bool
is_admin(const struct sesam_call *c)
{
	return (c->principal.roles & ADMINS) != 0;
}

/* The certificate named by the serial field, as the caller may see it: a client sees only
 * its own; a deleted one only when deleted_ok.  *dec receives its decimal serial. */
static int
cert_lookup(struct sesam_call *c, bool deleted_ok, struct be_cert_rec **out, char *dec,
	    size_t declen, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct be_err local = { 0, "" };
	const char *given;
	char hex[41];
	int rc;

	*out = NULL;
	if ((rc = field(c, "serial", true, &given, e)) != BE_OK ||
	    (rc = serial_parse(given, hex, sizeof(hex), e)) != BE_OK)
		goto out;
	serial_dec(hex, dec, declen);
	rc = be_store_cert_get_serial(c->be->store, hex, &rec, &local);
	if (rc == BE_E_NOTFOUND) {
		rc = be_err_set(e, BE_E_NOTFOUND, "serial: no certificate %s", dec);
		goto out;
	}
	if (rc != BE_OK) {
		rc = be_err_set(e, rc, "%s", local.msg);
		goto out;
	}
	if ((rc = set_profile(c, rec->profile)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	if (!is_admin(c) && (rec->principal == NULL || c->principal.name == NULL ||
			     strcmp(rec->principal, c->principal.name) != 0)) {
		rc = be_err_set(e, BE_E_NOTFOUND, "serial: no certificate %s issued to %s", dec,
				c->principal.name);
		goto out;
	}
	if (rec->deleted && !deleted_ok) {
		rc = be_err_set(e, BE_E_NOTFOUND, "serial: certificate %s was deleted", dec);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	be_cert_rec_free(rec);
	return rc;
}

static void
op_ctx(const struct sesam_call *c, struct be_op_ctx *op)
{
	memset(op, 0, sizeof(*op));
	op->adapter = "sesam";
	op->operation = c->command;
	op->request_id = c->req->id;
	op->peer = c->req->peer;
	op->principal = c->principal;
}

static int
put_status(struct sesam_call *c, const struct be_cert_rec *rec, struct be_err *e)
{
	int rc;

	if ((rc = put(c, "status", json_string(be_cert_status_name(rec->status)), e)) != BE_OK)
		return rc;
	if (rec->status != BE_CERT_VALID && reason_name(rec->reason) != NULL &&
	    ((rc = put(c, "reason", json_string(reason_name(rec->reason)), e)) != BE_OK ||
	     (rc = put(c, "revoked_at", time_json(rec->revoked_at), e)) != BE_OK))
		return rc;
	return BE_OK;
}

/* getcert: the certificate and, when the template keeps it, the PKCS#12. */
static int
op_getcert(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	const struct be_ca *ca;
	char dec[50];
	int rc;

	if ((rc = cert_lookup(c, false, &rec, dec, sizeof(dec), e)) != BE_OK)
		goto out;
	if ((rc = put(c, "result", json_string(dec), e)) != BE_OK)
		goto out;
	if (rec->key_blob.size > 0 && (rc = put_p12(c, &rec->key_blob, e)) != BE_OK)
		goto out;
	if ((rc = put_pem(c, "x509_cert", &rec->der, 1, e)) != BE_OK)
		goto out;
	if ((ca = be_ctx_ca(c->be, rec->issuer)) != NULL &&
	    (rc = put_pem(c, "ca_chain", ca->chain, ca->n_chain, e)) != BE_OK)
		goto out;
	if ((rc = put(c, "template", json_string(rec->profile), e)) != BE_OK ||
	    (rc = put(c, "subject", json_string(rec->subject ? rec->subject : ""), e)) != BE_OK ||
	    (rc = put_status(c, rec, e)) != BE_OK ||
	    (rc = put(c, "not_after", time_json(rec->not_after), e)) != BE_OK)
		goto out;
out:
	be_cert_rec_free(rec);
	return rc;
}

/* RFC 5280 5.3.1 CRLReason by name (case-insensitive) or number; absent: unspecified. */
static int
reason_parse(const char *s, int *out, struct be_err *e)
{
	unsigned long long n;
	int i;

	*out = 0;
	if (s == NULL)
		return BE_OK;
	for (i = 0; i <= 10; i++) {
		if (reason_names[i] != NULL && strcasecmp(s, reason_names[i]) == 0) {
			*out = i;
			return BE_OK;
		}
	}
	if (s[0] >= '0' && s[0] <= '9' && uint_parse("reason", s, 0, 10, &n, NULL) == BE_OK &&
	    n != 7) {
		*out = (int)n;
		return BE_OK;
	}
	return be_err_set(e, BE_E_MALFORMED, "reason: \"%.32s\" is not an RFC 5280 CRLReason "
			  "(section 5.3.1: unspecified, keyCompromise, cACompromise, "
			  "affiliationChanged, superseded, cessationOfOperation, certificateHold, "
			  "privilegeWithdrawn, aACompromise, or 0-10)", s);
}

/* revokecert: revoked for good, or put on hold with reason certificateHold. */
static int
op_revokecert(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct be_op_ctx op;
	const char *rs = NULL;
	char dec[50];
	int reason, rc;

	if ((rc = field(c, "reason", false, &rs, e)) != BE_OK ||
	    (rc = reason_parse(rs, &reason, e)) != BE_OK)
		goto out;
	if (reason == 8) {
		rc = be_err_set(e, BE_E_MALFORMED, "reason: removeFromCRL only appears in delta "
				"CRLs (RFC 5280 section 5.3.1); use reactivatecert");
		goto out;
	}
	if ((rc = cert_lookup(c, false, &rec, dec, sizeof(dec), e)) != BE_OK)
		goto out;
	op_ctx(c, &op);
	c->audited = true;
	if ((rc = be_cert_revoke(c->be, &op, rec->serial, reason, e)) != BE_OK)
		goto out;
	c->audited = false;
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK ||
	    (rc = put(c, "serial", json_string(dec), e)) != BE_OK ||
	    (rc = put(c, "status", json_string(reason == 6 ? "hold" : "revoked"), e)) != BE_OK)
		goto out;
	rc = put(c, "reason", json_string(reason_name(reason)), e);
out:
	be_cert_rec_free(rec);
	return rc;
}

/* reactivatecert: only a certificate on hold (RFC 5280 5.3.1 certificateHold). */
static int
op_reactivatecert(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct be_op_ctx op;
	char dec[50];
	int rc;

	if ((rc = cert_lookup(c, false, &rec, dec, sizeof(dec), e)) != BE_OK)
		goto out;
	if (rec->status != BE_CERT_HOLD) {
		rc = be_err_set(e, BE_E_STATE, "serial: certificate %s is %s%s%s; only a "
				"certificate on hold (certificateHold) can be re-activated (RFC 5280 "
				"section 5.3.1)", dec, be_cert_status_name(rec->status),
				rec->status == BE_CERT_REVOKED ? ", reason " : "",
				rec->status == BE_CERT_REVOKED && reason_name(rec->reason) ?
				reason_name(rec->reason) : "");
		goto out;
	}
	op_ctx(c, &op);
	c->audited = true;
	if ((rc = be_cert_reactivate(c->be, &op, rec->serial, e)) != BE_OK)
		goto out;
	c->audited = false;
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK ||
	    (rc = put(c, "serial", json_string(dec), e)) != BE_OK)
		goto out;
	rc = put(c, "status", json_string("valid"), e);
out:
	be_cert_rec_free(rec);
	return rc;
}

/* copycert: a new open signing request with the certificate's subject and names; the key
 * is made when it is signed. */
static int
op_copycert(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct source s;
	const char *tmpl = NULL;
	char dec[50], name[80];
	int rc;

	memset(&s, 0, sizeof(s));
	s.origin = "copycert";
	if ((rc = field(c, "template", false, &tmpl, e)) != BE_OK ||
	    (rc = cert_lookup(c, false, &rec, dec, sizeof(dec), e)) != BE_OK ||
	    (rc = template_get(c, tmpl != NULL ? tmpl : rec->profile, &s.profile, e)) != BE_OK ||
	    (rc = be_cert_names(&rec->der, &s.subject, &s.sans, NULL, e)) != BE_OK)
		goto out;
	s.have_names = true;
	snprintf(name, sizeof(name), "copy of %s", dec);
	if ((rc = name_set(&s, name, e)) != BE_OK ||
	    (rc = issue(c, &s, true, 0, &c->principal, NULL, e)) != BE_OK)
		goto out;
	rc = put(c, "copied_from", json_string(dec), e);
out:
	source_clear(&s);
	be_cert_rec_free(rec);
	return rc;
}

/* deletecert: hides the record and wipes kept key material; the issuance record and the
 * audit trail stay. */
static int
op_deletecert(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct be_audit_rec a;
	char dec[50];
	int rc;

	if ((rc = cert_lookup(c, true, &rec, dec, sizeof(dec), e)) != BE_OK)
		goto out;
	if (rec->deleted) {
		rc = be_err_set(e, BE_E_STATE, "serial: certificate %s is deleted already", dec);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.request_id = c->req->id;
	a.adapter = "sesam";
	a.operation = c->command;
	a.principal = c->principal.name;
	a.profile = rec->profile;
	a.peer = c->req->peer;
	a.outcome = "deleted";
	a.reason = rec->key_blob.size > 0 ? "record hidden, kept PKCS#12 wiped" : "record hidden";
	a.serial = rec->serial;
	if ((rc = be_store_cert_delete(c->be->store, rec->id, &a, e)) != BE_OK)
		goto out;
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK)
		goto out;
	rc = put(c, "serial", json_string(dec), e);
out:
	be_cert_rec_free(rec);
	return rc;
}

static int
bool_parse(const char *name, const char *s, bool *out, struct be_err *e)
{
	if (s == NULL)
		return BE_OK;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "no") == 0)
		*out = false;
	else
		return be_err_set(e, BE_E_MALFORMED, "%s: must be true or false", name);
	return BE_OK;
}

static int
paging(struct sesam_call *c, size_t *offset, size_t *limit, struct be_err *e)
{
	const char *o = NULL, *l = NULL;
	unsigned long long v;
	int rc;

	if ((rc = field(c, "offset", false, &o, e)) != BE_OK ||
	    (rc = field(c, "limit", false, &l, e)) != BE_OK)
		return rc;
	if (o != NULL) {
		if ((rc = uint_parse("offset", o, 0, 1000000000, &v, e)) != BE_OK)
			return rc;
		*offset = (size_t)v;
	}
	if (l != NULL) {
		if ((rc = uint_parse("limit", l, 1, 1000, &v, e)) != BE_OK)
			return rc;
		*limit = (size_t)v;
	}
	return BE_OK;
}

/* listcerts: the caller's certificates (a client), or anyone's (administrators). */
static int
op_listcerts(struct sesam_call *c, struct be_err *e)
{
	struct be_cert_filter f;
	struct be_cert_rec *recs = NULL;
	const char *tmpl, *status, *serial, *who, *del;
	char hex[41], dec[50];
	json_t *arr = NULL, *o;
	size_t n = 0, total = 0, i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	if ((rc = field(c, "template", false, &tmpl, e)) != BE_OK ||
	    (rc = field(c, "status", false, &status, e)) != BE_OK ||
	    (rc = field(c, "serial", false, &serial, e)) != BE_OK ||
	    (rc = field(c, "principal", false, &who, e)) != BE_OK ||
	    (rc = field(c, "deleted", false, &del, e)) != BE_OK ||
	    (rc = bool_parse("deleted", del, &f.include_deleted, e)) != BE_OK ||
	    (rc = paging(c, &f.offset, &f.limit, e)) != BE_OK)
		goto out;
	f.profile = tmpl;
	if ((rc = set_profile(c, tmpl)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	if (status != NULL) {
		if (strcasecmp(status, "valid") == 0)
			f.status = BE_CERT_VALID;
		else if (strcasecmp(status, "revoked") == 0)
			f.status = BE_CERT_REVOKED;
		else if (strcasecmp(status, "hold") == 0)
			f.status = BE_CERT_HOLD;
		else {
			rc = be_err_set(e, BE_E_MALFORMED, "status: must be valid, revoked or hold");
			goto out;
		}
	}
	if (serial != NULL) {
		if ((rc = serial_parse(serial, hex, sizeof(hex), e)) != BE_OK)
			goto out;
		f.serial = hex;
	}
	if (!is_admin(c)) {
		if (who != NULL && strcmp(who, c->principal.name) != 0) {
			rc = be_err_set(e, BE_E_FORBIDDEN, "principal: %s may list only its own "
					"certificates", c->principal.name);
			goto out;
		}
		if (f.include_deleted) {
			rc = be_err_set(e, BE_E_FORBIDDEN, "deleted: only administrators see deleted "
					"certificates");
			goto out;
		}
		who = c->principal.name;
	}
	f.principal = who;
	if ((rc = be_store_cert_list(c->be->store, &f, &recs, &n, &total, e)) != BE_OK)
		goto out;
	if ((arr = json_array()) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct be_cert_rec *r = &recs[i];

		serial_dec(r->serial, dec, sizeof(dec));
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b}",
			      "serial", dec, "serial_hex", r->serial,
			      "subject", r->subject ? r->subject : "",
			      "template", r->profile ? r->profile : "",
			      "principal", r->principal ? r->principal : "",
			      "status", be_cert_status_name(r->status),
			      "not_before", time_json(r->not_before),
			      "not_after", time_json(r->not_after),
			      "issued_at", time_json(r->issued_at),
			      "p12", r->key_blob.size > 0);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if ((r->status != BE_CERT_VALID && reason_name(r->reason) != NULL &&
		     json_object_set_new(o, "reason", json_string(reason_name(r->reason))) != 0) ||
		    (r->request_id != 0 &&
		     json_object_set_new(o, "request_id", json_integer(r->request_id)) != 0) ||
		    (f.include_deleted &&
		     json_object_set_new(o, "deleted", json_boolean(r->deleted)) != 0)) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK ||
	    (rc = put(c, "total", json_integer((json_int_t)total), e)) != BE_OK)
		goto out;
	rc = put(c, "certificates", arr, e);
	arr = NULL;
out:
	json_decref(arr);
	be_cert_recs_free(recs, n);
	return rc;
}

/* listrequests: signing requests, for the administrators who sign them. */
static int
op_listrequests(struct sesam_call *c, struct be_err *e)
{
	struct be_req_rec *recs = NULL;
	const char *status;
	json_t *arr = NULL, *o, *d;
	size_t n = 0, i, offset = 0, limit = 0;
	int st = -1, k, rc;

	if ((rc = field(c, "status", false, &status, e)) != BE_OK ||
	    (rc = paging(c, &offset, &limit, e)) != BE_OK)
		goto out;
	if (status != NULL) {
		for (k = BE_REQ_PENDING; k <= BE_REQ_FAILED && st < 0; k++)
			if (strcasecmp(status, be_req_status_name((enum be_req_status)k)) == 0)
				st = k;
		if (st < 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "status: must be PENDING, APPROVED, ISSUED, "
					"REJECTED, CANCELLED, EXPIRED or FAILED");
			goto out;
		}
	}
	if ((rc = be_store_req_list(c->be->store, st, offset, limit, &recs, &n, e)) != BE_OK)
		goto out;
	if ((arr = json_array()) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct be_req_rec *r = &recs[i];

		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:b}",
			      "request_id", (json_int_t)r->id,
			      "template", r->profile ? r->profile : "",
			      "principal", r->principal ? r->principal : "",
			      "adapter", r->adapter ? r->adapter : "",
			      "status", be_req_status_name(r->status),
			      "approvals", (int)r->approvals, "approvals_needed",
			      (int)r->approvals_needed, "created_at", time_json(r->created_at),
			      "csr", r->csr_der.size > 0);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		/* The normalised request (operation, name, subject) as stored: shown, never
		 * trusted. */
		if (r->data != NULL &&
		    (d = json_loads(r->data, JSON_REJECT_DUPLICATES, NULL)) != NULL) {
			json_t *v;

			if ((v = json_object_get(d, "operation")) != NULL)
				json_object_set(o, "command", v);
			if ((v = json_object_get(json_object_get(d, "adapter_data"), "name")) != NULL)
				json_object_set(o, "name", v);
			if ((v = json_object_get(d, "subject")) != NULL)
				json_object_set(o, "subject", v);
			json_decref(d);
		}
		if (r->cert_id != 0 && r->status == BE_REQ_ISSUED) {
			struct be_cert_rec *cr = NULL;
			char dec[50];

			if (be_store_cert_get_id(c->be->store, r->cert_id, &cr, NULL) == BE_OK) {
				serial_dec(cr->serial, dec, sizeof(dec));
				json_object_set_new(o, "serial", json_string(dec));
			}
			be_cert_rec_free(cr);
		}
	}
	if ((rc = put(c, "result", json_string("ST_OK"), e)) != BE_OK)
		goto out;
	rc = put(c, "requests", arr, e);
	arr = NULL;
out:
	json_decref(arr);
	be_req_recs_free(recs, n);
	return rc;
}

/* ---------------------------------------------------------------- the table */

#define SUBJECT_FIELDS "CN", "GN", "SN", "O", "OU", "C", "ST", "L", "E", "DNS"

static const char *const f_gencert[] = { "template", SUBJECT_FIELDS, "p12_pass", NULL };
static const char *const f_pseudo[] = { "template", "request_data", "p12_pass", NULL };
static const char *const f_loadcsr[] = { "template", "csr_dump", NULL };
static const char *const f_newreq[] = { "template", SUBJECT_FIELDS, "request_data", "csr_dump",
					NULL };
static const char *const f_sign[] = { "request_id", "p12_pass", NULL };
static const char *const f_reject[] = { "request_id", "reason", NULL };
static const char *const f_list[] = { "template", "status", "serial", "principal", "deleted",
				      "offset", "limit", NULL };
static const char *const f_listreq[] = { "status", "offset", "limit", NULL };
static const char *const f_serial[] = { "serial", NULL };
static const char *const f_revoke[] = { "serial", "reason", NULL };
static const char *const f_copy[] = { "serial", "template", NULL };

static const struct sesam_op ops[] = {
	{ "gencert", op_gencert, ANY_ROLE, f_gencert },
	{ "issuepseudocsr", op_issuepseudocsr, ANY_ROLE, f_pseudo },
	{ "loadcsr", op_loadcsr, ANY_ROLE, f_loadcsr },
	{ "newrequest", op_newrequest, ADMINS, f_newreq },
	{ "signrequest", op_signrequest, ADMINS, f_sign },
	{ "rejectrequest", op_rejectrequest, ADMINS, f_reject },
	{ "listrequests", op_listrequests, ADMINS, f_listreq },
	{ "listcerts", op_listcerts, ANY_ROLE, f_list },
	{ "getcert", op_getcert, ANY_ROLE, f_serial },
	{ "revokecert", op_revokecert, BE_ROLE_CA_ADMIN, f_revoke },
	{ "reactivatecert", op_reactivatecert, BE_ROLE_CA_ADMIN, f_serial },
	{ "copycert", op_copycert, ADMINS, f_copy },
	{ "deletecert", op_deletecert, BE_ROLE_CA_ADMIN, f_serial },
};

const struct sesam_op *
sesam_op_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

const char *
sesam_op_names(void)
{
	return "gencert, issuepseudocsr, loadcsr, newrequest, signrequest, rejectrequest, "
	       "listrequests, listcerts, getcert, revokecert, reactivatecert, copycert, "
	       "deletecert";
}
