/*
 * Enrollment-profile JSON API (DigiCert IoT Trust Manager style, PROTOCOLS.md section 4):
 * the "iot" configuration section, the demo, authentication (x-api-key, x-passcode, TLS
 * client certificate), routing, error replies and the enrollment-profile resources.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_cert.h"
#include "be_hex.h"
#include "be_json.h"
#include "iot.h"

#define C BE_E_CONFIG
#define EP_ID_MAX 64
#define DEVATTR_MAX 32
#define PASSCODE_PREFIX "sha256$"

/* ---------------------------------------------------------------- tables */

static const struct iot_attr attrs[] = {
	{ "subject.common_name", false, BE_DN_CN, BE_SAN_DNS },
	{ "subject.organization_name", false, BE_DN_O, BE_SAN_DNS },
	{ "subject.organization_unit_name", false, BE_DN_OU, BE_SAN_DNS },
	{ "subject.country", false, BE_DN_C, BE_SAN_DNS },
	{ "subject.state", false, BE_DN_ST, BE_SAN_DNS },
	{ "subject.locality", false, BE_DN_L, BE_SAN_DNS },
	{ "subject.street_address", false, BE_DN_STREET, BE_SAN_DNS },
	{ "subject.serial_number", false, BE_DN_SERIALNUMBER, BE_SAN_DNS },
	{ "subject.email", false, BE_DN_E, BE_SAN_DNS },
	{ "extensions.san.dns_name", true, BE_DN_CN, BE_SAN_DNS },
	{ "extensions.san.ip_address", true, BE_DN_CN, BE_SAN_IP },
	{ "extensions.san.email", true, BE_DN_CN, BE_SAN_EMAIL },
	{ "extensions.san.uri", true, BE_DN_CN, BE_SAN_URI },
};

static const char *const key_types[] = {
	"rsa_2048", "rsa_3072", "rsa_4096", "p_256", "p_384", "p_521", "ed_25519",
};

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
	{ "API", IOT_METHOD_API }, { "EST", IOT_METHOD_EST }, { "SCEP", IOT_METHOD_SCEP },
	{ "ACME", IOT_METHOD_ACME }, { "CMPv2", IOT_METHOD_CMPV2 },
	{ "PORTAL", IOT_METHOD_PORTAL }, { "BATCH", IOT_METHOD_BATCH },
};

static const char *const keygen_names[] = {
	[IOT_KEYGEN_CLIENT] = "client_side",
	[IOT_KEYGEN_SERVER] = "server_side",
	[IOT_KEYGEN_EITHER] = "client_or_server_side",
};

const struct iot_attr *
iot_attr_find(const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcmp(attrs[i].id, id) == 0)
			return &attrs[i];
	return NULL;
}

bool
iot_attr_allowed(const struct be_profile *p, const struct iot_attr *a)
{
	if (a->san)
		return (p->san_types & (1u << a->san_type)) != 0;
	return p->subject[a->dn] == BE_FIELD_OPTIONAL || p->subject[a->dn] == BE_FIELD_REQUIRED ||
	       p->subject[a->dn] == BE_FIELD_FIXED;
}

bool
iot_keytype_parse(const char *name, struct be_keyspec *out)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(key_types[i], name) == 0)
			return be_keyspec_parse(name, out) == BE_OK;
	return false;
}

const char *
iot_keytype_name(const struct be_keyspec *k)
{
	struct be_keyspec t;
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (be_keyspec_parse(key_types[i], &t) == BE_OK && be_keyspec_equal(&t, k))
			return key_types[i];
	return NULL;
}

bool
iot_key_allowed(const struct iot_eprofile *ep, const struct be_keyspec *k)
{
	size_t i;

	for (i = 0; i < ep->n_key_types; i++)
		if (be_keyspec_equal(&ep->key_types[i], k))
			return true;
	return false;
}

void
iot_key_list(const struct iot_eprofile *ep, char *buf, size_t len)
{
	size_t i, o = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < ep->n_key_types; i++) {
		w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
			     iot_keytype_name(&ep->key_types[i]));
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

const struct iot_eprofile *
iot_eprofile_find(const struct iot_state *st, const char *id)
{
	size_t i;

	for (i = 0; st != NULL && id != NULL && i < st->n; i++)
		if (strcmp(st->v[i].id, id) == 0)
			return &st->v[i];
	return NULL;
}

const struct iot_eprofile *
iot_eprofile_of(const struct iot_state *st, const char *profile)
{
	size_t i;

	for (i = 0; st != NULL && profile != NULL && i < st->n; i++)
		if (strcmp(st->v[i].cprof->name, profile) == 0)
			return &st->v[i];
	return NULL;
}

/* ---------------------------------------------------------------- configuration */

static bool
id_chars_ok(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

/* "sha256$<64 lower-case hex>" (what gw_auth_hash_api_key writes) into out. */
static bool
passcode_hash_parse(const char *s, unsigned char out[32])
{
	size_t pl = strlen(PASSCODE_PREFIX);

	if (strncmp(s, PASSCODE_PREFIX, pl) != 0 || strlen(s + pl) != 64)
		return false;
	return be_hex_decode(s + pl, 64, out, 32, BE_HEX_LOWER) == 0;
}

static void
eprofile_clear(struct iot_eprofile *ep)
{
	size_t i;

	free(ep->id);
	free(ep->name);
	be_strv_free(ep->required, ep->n_required);
	for (i = 0; i < ep->n_devattrs; i++)
		free(ep->devattrs[i].id);
	free(ep->devattrs);
	if (ep->passcodes != NULL)
		be_memzero(ep->passcodes, ep->n_passcodes * sizeof(*ep->passcodes));
	free(ep->passcodes);
	memset(ep, 0, sizeof(*ep));
}

static void
state_free(void *p)
{
	struct iot_state *st = p;
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		eprofile_clear(&st->v[i]);
	free(st->v);
	free(st);
}

static int
parse_methods(struct iot_eprofile *ep, const json_t *o, const char *path, struct be_err *e)
{
	char **v = NULL;
	size_t n = 0, i, j;
	int rc;

	if ((rc = be_json_strv(o, path, "enrollment_methods", true, &v, &n, C, e)) != BE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
			if (strcmp(v[i], methods[j].name) == 0)
				break;
		if (j == sizeof(methods) / sizeof(methods[0])) {
			rc = be_err_set(e, C, "%s.enrollment_methods[%zu]: must be API, EST, SCEP, "
					"ACME, CMPv2, PORTAL or BATCH", path, i);
			goto out;
		}
		ep->methods |= methods[j].bit;
	}
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_keys(struct iot_eprofile *ep, const json_t *o, const char *path, struct be_err *e)
{
	const struct be_profile *p = ep->cprof;
	const char *def = NULL;
	char **v = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = be_json_strv(o, path, "allowed_key_types", true, &v, &n, C, e)) != BE_OK)
		goto out;
	if (n == 0 || n > IOT_MAX_KEYTYPES) {
		rc = be_err_set(e, C, "%s.allowed_key_types: must list 1 to %d key types", path,
				IOT_MAX_KEYTYPES);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct be_keyspec k;

		if (!iot_keytype_parse(v[i], &k)) {
			rc = be_err_set(e, C, "%s.allowed_key_types[%zu]: must be rsa_2048, rsa_3072, "
					"rsa_4096, p_256, p_384, p_521 or ed_25519", path, i);
			goto out;
		}
		if (!be_profile_key_allowed(p, &k)) {
			rc = be_err_set(e, C, "%s.allowed_key_types[%zu]: %s is not among the key "
					"types of certificate profile %s", path, i, v[i], p->name);
			goto out;
		}
		if (iot_key_allowed(ep, &k)) {
			rc = be_err_set(e, C, "%s.allowed_key_types[%zu]: %s listed twice", path, i,
					v[i]);
			goto out;
		}
		ep->key_types[ep->n_key_types++] = k;
	}
	if ((rc = be_json_str(o, path, "default_key_type", ep->keygen != IOT_KEYGEN_CLIENT,
			      &def, C, e)) != BE_OK)
		goto out;
	if (def != NULL) {
		if (!iot_keytype_parse(def, &ep->default_key) ||
		    !iot_key_allowed(ep, &ep->default_key)) {
			rc = be_err_set(e, C, "%s.default_key_type: must be one of allowed_key_types",
					path);
			goto out;
		}
	}
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_attrs(struct iot_eprofile *ep, const json_t *o, const char *path, struct be_err *e)
{
	const json_t *arr, *d;
	size_t i, j;
	int rc;

	if ((rc = be_json_strv(o, path, "required_attributes", false, &ep->required,
			       &ep->n_required, C, e)) != BE_OK)
		return rc;
	for (i = 0; i < ep->n_required; i++) {
		const struct iot_attr *a = iot_attr_find(ep->required[i]);

		if (a == NULL)
			return be_err_set(e, C, "%s.required_attributes[%zu]: unknown attribute "
					  "\"%.64s\"", path, i, ep->required[i]);
		if (!iot_attr_allowed(ep->cprof, a))
			return be_err_set(e, C, "%s.required_attributes[%zu]: certificate profile "
					  "%s does not take %s", path, i, ep->cprof->name, a->id);
		for (j = 0; j < i; j++)
			if (strcmp(ep->required[j], ep->required[i]) == 0)
				return be_err_set(e, C, "%s.required_attributes[%zu]: listed twice",
						  path, i);
	}

	arr = json_object_get(o, "device_attributes");
	if (arr == NULL)
		return BE_OK;
	if (!json_is_array(arr) || json_array_size(arr) > DEVATTR_MAX)
		return be_err_set(e, C, "%s.device_attributes: must be an array of at most %d "
				  "objects", path, DEVATTR_MAX);
	ep->devattrs = calloc(json_array_size(arr) + 1, sizeof(*ep->devattrs));
	if (ep->devattrs == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, d) {
		static const char *const keys[] = { "id", "required", NULL };
		char sub[192];
		const char *id = NULL;
		bool req = false;

		snprintf(sub, sizeof(sub), "%s.device_attributes[%zu]", path, i);
		if ((rc = be_json_keys(d, sub, keys, C, e)) != BE_OK ||
		    (rc = be_json_str(d, sub, "id", true, &id, C, e)) != BE_OK ||
		    (rc = be_json_bool(d, sub, "required", false, &req, C, e)) != BE_OK)
			return rc;
		if (!id_chars_ok(id, 64))
			return be_err_set(e, C, "%s.id: 1 to 64 characters of A-Z a-z 0-9 - _ .",
					  sub);
		for (j = 0; j < ep->n_devattrs; j++)
			if (strcmp(ep->devattrs[j].id, id) == 0)
				return be_err_set(e, C, "%s.id: \"%s\" listed twice", sub, id);
		if ((ep->devattrs[ep->n_devattrs].id = strdup(id)) == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		ep->devattrs[ep->n_devattrs++].required = req;
	}
	return BE_OK;
}

static int
parse_passcodes(struct iot_eprofile *ep, const json_t *o, const char *path, struct be_err *e)
{
	char **v = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = be_json_strv(o, path, "passcodes", false, &v, &n, C, e)) != BE_OK || n == 0)
		goto out;
	if ((ep->passcodes = calloc(n, sizeof(*ep->passcodes))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!passcode_hash_parse(v[i], ep->passcodes[i])) {
			rc = be_err_set(e, C, "%s.passcodes[%zu]: must be \"sha256$<64 hex>\" as "
					"certgate writes it", path, i);
			goto out;
		}
		ep->n_passcodes++;
	}
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_eprofile(const struct gw_config *cfg, const struct iot_state *st, const char *id,
	       const json_t *o, struct iot_eprofile *ep, struct be_err *e)
{
	static const char *const keys[] = {
		"name", "certificate_profile", "enrollment_methods", "key_generation_option",
		"allowed_key_types", "default_key_type", "required_attributes",
		"device_attributes", "passcodes", NULL
	};
	const struct iot_eprofile *other;
	const char *name = NULL, *prof = NULL, *kg = NULL;
	char path[128];
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "iot.enrollment_profiles.%.64s", id);
	if (!id_chars_ok(id, EP_ID_MAX))
		return be_err_set(e, C, "%s: an enrollment profile id is 1 to %d characters of "
				  "A-Z a-z 0-9 - _ .", path, EP_ID_MAX);
	if ((ep->id = strdup(id)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	if ((rc = be_json_keys(o, path, keys, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "name", true, &name, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "certificate_profile", true, &prof, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "key_generation_option", true, &kg, C, e)) != BE_OK)
		return rc;
	if ((ep->name = strdup(name)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	if ((ep->cprof = be_ctx_profile(cfg->be, prof)) == NULL)
		return be_err_set(e, C, "%s.certificate_profile: no profile named \"%.64s\"", path,
				  prof);
	/* The store records the certgate profile of each certificate; it names the
	 * enrollment profile only while no two enrollment profiles share one. */
	if ((other = iot_eprofile_of(st, prof)) != NULL)
		return be_err_set(e, C, "%s.certificate_profile: profile %s already belongs to "
				  "enrollment profile %s; give each enrollment profile its own",
				  path, prof, other->id);
	for (i = 0; i < sizeof(keygen_names) / sizeof(keygen_names[0]); i++)
		if (strcmp(kg, keygen_names[i]) == 0)
			break;
	if (i == sizeof(keygen_names) / sizeof(keygen_names[0]))
		return be_err_set(e, C, "%s.key_generation_option: must be client_side, "
				  "server_side or client_or_server_side", path);
	ep->keygen = (enum iot_keygen)i;
	if (ep->keygen != IOT_KEYGEN_CLIENT && !ep->cprof->server_keygen)
		return be_err_set(e, C, "%s.key_generation_option: certificate profile %s does "
				  "not allow server-side key generation", path, prof);
	if (ep->keygen != IOT_KEYGEN_SERVER && !ep->cprof->client_keys)
		return be_err_set(e, C, "%s.key_generation_option: certificate profile %s does "
				  "not take client keys", path, prof);
	if ((rc = parse_methods(ep, o, path, e)) != BE_OK ||
	    (rc = parse_keys(ep, o, path, e)) != BE_OK ||
	    (rc = parse_attrs(ep, o, path, e)) != BE_OK ||
	    (rc = parse_passcodes(ep, o, path, e)) != BE_OK)
		return rc;
	return BE_OK;
}

static int
iot_init(const struct gw_config *cfg, const json_t *section, void **state, struct be_err *e)
{
	static const char *const keys[] = { "enrollment_profiles", NULL };
	struct iot_state *st = NULL;
	const json_t *eps = NULL, *o;
	const char *id;
	int rc = BE_OK;

	*state = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (section != NULL &&
	    ((rc = be_json_keys(section, "iot", keys, C, e)) != BE_OK ||
	     (rc = be_json_obj(section, "iot", "enrollment_profiles", false, &eps, C, e)) != BE_OK))
		goto out;
	if (eps != NULL && json_object_size(eps) > 0) {
		if ((st->v = calloc(json_object_size(eps), sizeof(*st->v))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		json_object_foreach((json_t *)eps, id, o) {
			if (!json_is_object(o)) {
				rc = be_err_set(e, C, "iot.enrollment_profiles.%.64s: must be an "
						"object", id);
				goto out;
			}
			rc = parse_eprofile(cfg, st, id, o, &st->v[st->n], e);
			if (rc != BE_OK) {
				eprofile_clear(&st->v[st->n]);
				goto out;
			}
			st->n++;
		}
	}
	*state = st;
	st = NULL;
out:
	state_free(st);
	return rc;
}

/* ---------------------------------------------------------------- demo */

#define DEMO_EP_DEVICE "IOT_6b1f3c2e-9d4a-4e8b-a7c5-2f0e1d3b4a59"
#define DEMO_EP_FACTORY "IOT_0c7d5e21-4f3a-4b9c-8e6d-1a2b3c4d5e6f"

/* A fresh passcode: plain text into pcs[id], its hash into the profile's "passcodes". */
static int
demo_passcode(json_t *ep, json_t *pcs, const char *id, struct be_err *e)
{
	char secret[32];
	char *hash = NULL;
	int rc = BE_OK;

	if (be_random_password(secret, sizeof(secret), 24) != BE_OK ||
	    gw_auth_hash_api_key(secret, &hash) != 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot make a passcode");
		goto out;
	}
	if (json_object_set_new(ep, "passcodes", json_pack("[s]", hash)) != 0 ||
	    json_object_set_new(pcs, id, json_string(secret)) != 0)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	be_memzero(secret, sizeof(secret));
	free(hash);
	return rc;
}

/* Two enrollment profiles: device identities with the key made by the device or by us on
 * the demo's "iot-device" profile, and factory CSR enrollment on "iot-device-csr" (a copy
 * that takes client keys only); an API-key principal "iot-client"; one passcode each. */
static int
iot_demo(json_t *conf, json_t *creds, struct be_err *e)
{
	json_t *profiles = json_object_get(conf, "profiles");
	json_t *base = profiles != NULL ? json_object_get(profiles, "iot-device") : NULL;
	json_t *csrprof = NULL, *dev = NULL, *fac = NULL, *pcs = NULL, *sec = NULL;
	int rc = BE_OK;

	if (base == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "the demo has no iot-device profile");
		goto out;
	}
	csrprof = json_deep_copy(base);
	dev = json_pack("{s:s, s:s, s:[s], s:s, s:[s,s,s,s,s,s], s:s, s:[s],"
			" s:[{s:s, s:b}, {s:s, s:b}]}",
			"name", "Demo device identity (device or server key)",
			"certificate_profile", "iot-device",
			"enrollment_methods", "API",
			"key_generation_option", "client_or_server_side",
			"allowed_key_types", "rsa_2048", "rsa_3072", "p_256", "p_384", "p_521",
			"ed_25519",
			"default_key_type", "p_256",
			"required_attributes", "subject.common_name",
			"device_attributes", "id", "party-no", "required", 0,
			"id", "comments", "required", 0);
	fac = json_pack("{s:s, s:s, s:[s], s:s, s:[s,s], s:s, s:[s,s], s:[{s:s, s:b}]}",
			"name", "Demo factory enrollment (device key, CSR only)",
			"certificate_profile", "iot-device-csr",
			"enrollment_methods", "API",
			"key_generation_option", "client_side",
			"allowed_key_types", "p_256", "p_384",
			"default_key_type", "p_256",
			"required_attributes", "subject.common_name", "subject.serial_number",
			"device_attributes", "id", "hardware-id", "required", 1);
	pcs = json_object();
	if (csrprof == NULL || dev == NULL || fac == NULL || pcs == NULL ||
	    json_object_set_new(csrprof, "description", json_string("DigiCert IoT Trust "
				"Manager-style factory enrollment: device keys only")) != 0 ||
	    json_object_set_new(csrprof, "server_keygen", json_false()) != 0 ||
	    json_object_set(profiles, "iot-device-csr", csrprof) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = demo_passcode(dev, pcs, DEMO_EP_DEVICE, e)) != BE_OK ||
	    (rc = demo_passcode(fac, pcs, DEMO_EP_FACTORY, e)) != BE_OK)
		goto out;
	sec = json_pack("{s:{s:O, s:O}}", "enrollment_profiles", DEMO_EP_DEVICE, dev,
			DEMO_EP_FACTORY, fac);
	if (sec == NULL || json_object_set(conf, "iot", sec) != 0 ||
	    json_object_set(creds, "iot-passcodes", pcs) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = gw_demo_principal(conf, creds, "iot-client", "client", false, true, NULL, e);
out:
	json_decref(csrprof);
	json_decref(dev);
	json_decref(fac);
	json_decref(pcs);
	json_decref(sec);
	return rc;
}

/* ---------------------------------------------------------------- authentication */

static void
principal_set(struct iot_auth *a, const char *name, unsigned roles)
{
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->principal.name = a->name;
	a->principal.roles = roles;
}

/* The enrollment profile whose passcode this is, comparing SHA-256 digests in constant time
 * over every passcode of every profile. */
static const struct iot_eprofile *
passcode_match(const struct iot_state *st, const char *passcode)
{
	const struct iot_eprofile *found = NULL;
	unsigned char want[32];
	char *hash = NULL;
	size_t i, j;

	if (gw_auth_hash_api_key(passcode, &hash) != 0 || !passcode_hash_parse(hash, want))
		goto out;
	for (i = 0; i < st->n; i++)
		for (j = 0; j < st->v[i].n_passcodes; j++)
			if (be_ct_equal(st->v[i].passcodes[j], 32, want, 32) && found == NULL)
				found = &st->v[i];
out:
	if (hash != NULL) {
		be_memzero(hash, strlen(hash));
		free(hash);
	}
	be_memzero(want, sizeof(want));
	return found;
}

int
iot_authenticate(const struct gw_request *req, const struct iot_state *st, bool enroll_creds,
		 struct iot_auth *a, struct be_err *e)
{
	const char *key = gw_request_header(req, "x-api-key");
	const char *pc = gw_request_header(req, "x-passcode");
	const struct gw_principal *gp = NULL;
	struct be_err local = { 0, "" };
	char *subject = NULL;
	int rc;

	memset(a, 0, sizeof(*a));
	if (key != NULL && pc != NULL) {
		rc = be_err_set(e, BE_E_MALFORMED, "send either x-api-key or x-passcode, not both");
		goto out;
	}
	if (key != NULL) {
		if ((rc = gw_auth_api_key(req->cfg, key, &gp, e)) != BE_OK)
			goto out;
		a->cred = IOT_CRED_API_KEY;
		principal_set(a, gp->name, gp->roles);
		goto out;
	}
	if (pc != NULL) {
		if (!enroll_creds) {
			rc = be_err_set(e, BE_E_UNAUTH, "an enrollment passcode authenticates "
					"enroll and renew requests only; use x-api-key");
			goto out;
		}
		if ((a->passcode_ep = passcode_match(st, pc)) == NULL) {
			rc = be_err_set(e, BE_E_UNAUTH, "unknown enrollment passcode");
			goto out;
		}
		a->cred = IOT_CRED_PASSCODE;
		snprintf(a->name, sizeof(a->name), "passcode:%s", a->passcode_ep->id);
		a->principal.name = a->name;
		a->principal.roles = BE_ROLE_CLIENT;
		rc = BE_OK;
		goto out;
	}
	if (req->n_peer_certs == 0) {
		rc = be_err_set(e, BE_E_UNAUTH, "no credentials: send x-api-key%s",
				enroll_creds ? " or x-passcode, or present a client certificate" :
				"");
		goto out;
	}
	if (!enroll_creds) {
		rc = be_err_set(e, BE_E_UNAUTH, "a client certificate authenticates enroll and "
				"renew requests only; use x-api-key");
		goto out;
	}
	if ((rc = be_cert_serial_hex(&req->peer_certs[0], a->leaf_serial,
				     sizeof(a->leaf_serial), &local)) != BE_OK) {
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate: %s", local.msg);
		goto out;
	}
	if (gw_auth_client_cert(req->client_trust, req->peer_certs, req->n_peer_certs, &gp,
				&subject, &local) == BE_OK) {
		a->cred = IOT_CRED_CERT;
		principal_set(a, gp->name, gp->roles);
		rc = BE_OK;
		goto out;
	}
	free(subject);
	subject = NULL;
	/* Verified, but bound to no principal: good only for renewing itself. */
	be_err_clear(&local);
	if ((rc = gw_auth_client_cert(req->client_trust, req->peer_certs, req->n_peer_certs,
				      NULL, &subject, e)) != BE_OK)
		goto out;
	a->cred = IOT_CRED_CERT_SELF;
	principal_set(a, subject, BE_ROLE_CLIENT);
	rc = BE_OK;
out:
	free(subject);
	return rc;
}

/* ---------------------------------------------------------------- replies */

void
iot_op_ctx(const struct iot_call *c, struct be_op_ctx *op)
{
	memset(op, 0, sizeof(*op));
	op->adapter = "iot";
	op->operation = c->operation;
	op->request_id = c->req->id;
	op->peer = c->req->peer;
	if (c->authed)
		op->principal = c->auth.principal;
}

void
iot_log_fields(struct iot_call *c)
{
	c->resp->adapter = "iot";
	c->resp->operation = c->operation;
	if (c->authed && c->resp->principal == NULL)
		c->resp->principal = be_strdup(c->auth.principal.name);
	if (c->profile != NULL && c->resp->profile == NULL)
		c->resp->profile = be_strdup(c->profile);
}

/* The one table from backend code to HTTP status and error code name. */
static const struct {
	int code;
	unsigned status;
	const char *name;
} error_map[] = {
	{ BE_E_MALFORMED, 400, "invalid_input" },
	{ BE_E_POLICY, 403, "not_allowed" },
	{ BE_E_FORBIDDEN, 403, "access_denied" },
	{ BE_E_NOTFOUND, 404, "entity_not_found" },
	{ BE_E_CONFLICT, 409, "conflict" },
	{ BE_E_STATE, 409, "invalid_state" },
	{ BE_E_UNAUTH, 401, "unauthorized" },
	{ BE_E_TOOBIG, 413, "payload_too_large" },
	{ BE_E_MEDIATYPE, 415, "unsupported_media_type" },
	{ BE_E_UNAVAILABLE, 503, "service_unavailable" },
};

/* Writes the error body {errors:[{code: name, message: msg}]} with status into resp. */
static int
error_body(struct gw_response *resp, unsigned status, const char *name, const char *msg)
{
	json_t *j = NULL;
	int rc;

	j = json_pack("{s:[{s:s, s:s}]}", "errors", "code", name, "message", msg);
	if (j == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	if (status == 503)
		gw_response_header(resp, "Retry-After", "30");
	rc = gw_response_json(resp, status, j);
out:
	json_decref(j);
	return rc;
}

int
iot_reply_error(struct iot_call *c, const struct be_err *e)
{
	struct be_op_ctx op;
	unsigned status = 500;
	const char *name = "internal_error";
	size_t i;

	for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++) {
		if (error_map[i].code == e->code) {
			status = error_map[i].status;
			name = error_map[i].name;
		}
	}
	if (!c->audited) {
		iot_op_ctx(c, &op);
		be_audit_refusal(c->req->cfg->be, &op, c->profile, e->msg);
	}
	gw_response_clear(c->resp);
	return error_body(c->resp, status, name,
			  e->msg[0] != '\0' ? e->msg : be_err_name(e->code));
}

/* ---------------------------------------------------------------- enrollment profiles */

static json_t *
strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static bool
ep_required(const struct iot_eprofile *ep, const char *id)
{
	size_t i;

	for (i = 0; i < ep->n_required; i++)
		if (strcmp(ep->required[i], id) == 0)
			return true;
	return false;
}

/* The resource an enrollment profile is: what it takes, never its passcodes. */
static json_t *
eprofile_json(const struct iot_eprofile *ep)
{
	json_t *o = NULL, *m, *k, *ca, *da;
	size_t i;

	m = json_array();
	k = json_array();
	ca = json_array();
	da = json_array();
	if (m == NULL || k == NULL || ca == NULL || da == NULL)
		goto fail;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if ((ep->methods & methods[i].bit) &&
		    json_array_append_new(m, json_string(methods[i].name)) != 0)
			goto fail;
	for (i = 0; i < ep->n_key_types; i++)
		if (json_array_append_new(k, json_string(iot_keytype_name(&ep->key_types[i]))) != 0)
			goto fail;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (iot_attr_allowed(ep->cprof, &attrs[i]) &&
		    json_array_append_new(ca, json_pack("{s:s, s:b}", "id", attrs[i].id,
							"required",
							ep_required(ep, attrs[i].id))) != 0)
			goto fail;
	for (i = 0; i < ep->n_devattrs; i++)
		if (json_array_append_new(da, json_pack("{s:s, s:b}", "id", ep->devattrs[i].id,
							"required",
							ep->devattrs[i].required)) != 0)
			goto fail;
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:{s:s, s:s*, s:i}, s:o, s:s?, s:o, s:o, s:o}",
		      "id", ep->id, "name", ep->name, "status", "ACTIVE",
		      "enrollment_methods", m,
		      "key_generation_option", keygen_names[ep->keygen],
		      "certificate_profile", "name", ep->cprof->name,
		      "description", ep->cprof->description,
		      "validity_days", (int)ep->cprof->validity_days,
		      "allowed_key_types", k,
		      "default_key_type", ep->default_key.alg != BE_KEY_NONE ?
		      iot_keytype_name(&ep->default_key) : NULL,
		      "required_attributes", strv_json(ep->required, ep->n_required),
		      "certificate_profile_attributes", ca,
		      "device_attributes", da);
	return o;
fail:
	json_decref(m);
	json_decref(k);
	json_decref(ca);
	json_decref(da);
	return NULL;
}

/* One sample body ("Get example JSON payloads" in the seed): the profile's required
 * certificate and device attributes with placeholders to fill in. */
static json_t *
sample_body(const struct iot_eprofile *ep, bool renew, bool server)
{
	json_t *b = json_object(), *ca = json_array(), *da = json_array();
	char ph[96];
	size_t i;

	if (b == NULL || ca == NULL || da == NULL)
		goto fail;
	if (!renew && json_object_set_new(b, "enrollment_profile_id", json_string(ep->id)) != 0)
		goto fail;
	if (server) {
		if (json_object_set_new(b, "server_side_key_gen", json_true()) != 0 ||
		    json_object_set_new(b, "key_type",
					json_string(iot_keytype_name(&ep->default_key))) != 0 ||
		    json_object_set_new(b, "private_key_format", json_string("pem")) != 0 ||
		    json_object_set_new(b, "private_key_syntax", json_string("pkcs8")) != 0 ||
		    json_object_set_new(b, "include_certificate_chain", json_true()) != 0)
			goto fail;
	} else if (json_object_set_new(b, "csr", json_string("{{csr}}")) != 0) {
		goto fail;
	}
	for (i = 0; !renew && i < ep->n_required; i++) {
		snprintf(ph, sizeof(ph), "{{%s}}", ep->required[i]);
		if (json_array_append_new(ca, json_pack("{s:s, s:s}", "id", ep->required[i],
							"value", ph)) != 0)
			goto fail;
	}
	for (i = 0; i < ep->n_devattrs; i++) {
		if (!ep->devattrs[i].required)
			continue;
		snprintf(ph, sizeof(ph), "{{%s}}", ep->devattrs[i].id);
		if (json_array_append_new(da, json_pack("{s:s, s:s}", "id", ep->devattrs[i].id,
							"value", ph)) != 0)
			goto fail;
	}
	if (json_array_size(ca) > 0 && json_object_set(b, "certificate_profile_attributes", ca) != 0)
		goto fail;
	if (json_array_size(da) > 0 && json_object_set(b, "device_attributes", da) != 0)
		goto fail;
	json_decref(ca);
	json_decref(da);
	return b;
fail:
	json_decref(b);
	json_decref(ca);
	json_decref(da);
	return NULL;
}

static json_t *
sample_json(const struct iot_eprofile *ep)
{
	json_t *o = NULL, *enroll = json_object(), *renew = json_object();
	bool client = ep->keygen != IOT_KEYGEN_SERVER, server = ep->keygen != IOT_KEYGEN_CLIENT;

	if (enroll == NULL || renew == NULL)
		goto out;
	if (client &&
	    (json_object_set_new(enroll, "client_side_key_gen",
				 json_pack("{s:s, s:s, s:o*}", "method", "POST", "path",
					   IOT_PREFIX "certificate", "body",
					   sample_body(ep, false, false))) != 0 ||
	     json_object_set_new(renew, "client_side_key_gen",
				 json_pack("{s:s, s:s, s:o*}", "method", "PUT", "path",
					   IOT_PREFIX "certificate/{{certificate_id}}/renew",
					   "body", sample_body(ep, true, false))) != 0))
		goto out;
	if (server &&
	    (json_object_set_new(enroll, "server_side_key_gen",
				 json_pack("{s:s, s:s, s:o*}", "method", "POST", "path",
					   IOT_PREFIX "certificate", "body",
					   sample_body(ep, false, true))) != 0 ||
	     json_object_set_new(renew, "server_side_key_gen",
				 json_pack("{s:s, s:s, s:o*}", "method", "PUT", "path",
					   IOT_PREFIX "certificate/{{certificate_id}}/renew",
					   "body", sample_body(ep, true, true))) != 0))
		goto out;
	o = json_pack("{s:s, s:O, s:O}", "enrollment_profile_id", ep->id, "enroll", enroll,
		      "renew", renew);
out:
	json_decref(enroll);
	json_decref(renew);
	return o;
}

/* GET enrollment-profile[/<id>[/sample-request]]: the profiles whose certificate profile
 * the caller may use. */
static int
op_profiles(struct iot_call *c, const char *id, bool sample, struct be_err *e)
{
	const struct iot_eprofile *ep;
	json_t *j = NULL, *recs = NULL;
	size_t i;
	int rc;

	if (id == NULL) {
		if ((recs = json_array()) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < c->st->n; i++) {
			if (!be_profile_allows(c->st->v[i].cprof, &c->auth.principal))
				continue;
			if (json_array_append_new(recs, eprofile_json(&c->st->v[i])) != 0) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				goto out;
			}
		}
		j = json_pack("{s:i, s:O}", "total", (int)json_array_size(recs), "records", recs);
	} else {
		ep = iot_eprofile_find(c->st, id);
		if (ep == NULL || !be_profile_allows(ep->cprof, &c->auth.principal)) {
			rc = be_err_set(e, BE_E_NOTFOUND, "enrollment profile with id %.64s does "
					"not exist", id);
			goto out;
		}
		c->profile = ep->cprof->name;
		j = sample ? sample_json(ep) : eprofile_json(ep);
	}
	if (j == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = gw_response_json(c->resp, 200, j);
	if (rc != BE_OK)
		be_err_set(e, rc, "cannot encode the reply");
out:
	json_decref(recs);
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- routing */

/* A path segment naming a resource: [A-Za-z0-9_.:-], 1..96 characters; anything else
 * (percent escapes, dots only, NUL) names nothing. */
static bool
segment_ok(const char *s, size_t n)
{
	size_t i;
	bool other = false;

	if (n == 0 || n > 96)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == ':' ||
		      ch == '.'))
			return false;
		if (ch != '.')
			other = true;
	}
	return other;
}

/* Splits rest ("certificate/17/renew") into at most 3 segments copied into seg[]. */
static size_t
split_path(const char *rest, char seg[3][100], bool *ok)
{
	size_t n = 0;
	const char *p = rest, *slash;

	*ok = true;
	while (*p != '\0') {
		size_t len;

		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 3 || !segment_ok(p, len)) {
			*ok = false;
			return n;
		}
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		if (slash == NULL)
			break;
		p = slash + 1;
		if (*p == '\0') {
			*ok = false;	/* a trailing slash names nothing */
			return n;
		}
	}
	return n;
}

static int
method_not_allowed(struct iot_call *c, const char *allow)
{
	json_t *j = json_pack("{s:[{s:s, s:s}]}", "errors", "code", "method_not_allowed",
			      "message", "method not allowed here");
	int rc;

	if (j == NULL)
		return BE_E_NOMEM;
	gw_response_header(c->resp, "Allow", allow);
	rc = gw_response_json(c->resp, 405, j);
	json_decref(j);
	return rc;
}

enum route {
	R_NONE = 0, R_ENROLL, R_SEARCH, R_GET, R_RENEW, R_REVOKE, R_PROFILES, R_PROFILE, R_SAMPLE
};

static const char *const op_names[] = {
	[R_NONE] = "-", [R_ENROLL] = "enroll", [R_SEARCH] = "search", [R_GET] = "get",
	[R_RENEW] = "renew", [R_REVOKE] = "revoke", [R_PROFILES] = "profiles",
	[R_PROFILE] = "profile", [R_SAMPLE] = "sample-request",
};

/* Every request under /iot/api/v1/: route, require TLS, authenticate, dispatch. */
static int
iot_handle(struct gw_request *req, struct gw_response *resp)
{
	struct iot_call c;
	struct be_err e = { 0, "" };
	char seg[3][100];
	size_t n;
	bool ok, enroll_creds = false;
	const char *m = req->method;
	int rc = BE_OK;
	enum route route = R_NONE;
	const char *allow = NULL;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.resp = resp;
	c.st = gw_config_adapter(req->cfg, "iot");
	c.operation = "-";

	if (strncmp(req->path, IOT_PREFIX, strlen(IOT_PREFIX)) != 0) {
		rc = be_err_set(&e, BE_E_NOTFOUND, "no such resource");
		goto fail;
	}
	n = split_path(req->path + strlen(IOT_PREFIX), seg, &ok);
	if (ok && n >= 1 && strcmp(seg[0], "certificate") == 0) {
		if (n == 1) {
			route = strcmp(m, "POST") == 0 ? R_ENROLL :
				strcmp(m, "GET") == 0 ? R_SEARCH : R_NONE;
			allow = "GET, POST";
		} else if (n == 2) {
			route = strcmp(m, "GET") == 0 ? R_GET : R_NONE;
			allow = "GET";
		} else if (strcmp(seg[2], "renew") == 0) {
			route = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ? R_RENEW : R_NONE;
			allow = "POST, PUT";
		} else if (strcmp(seg[2], "revoke") == 0) {
			route = strcmp(m, "PUT") == 0 ? R_REVOKE : R_NONE;
			allow = "PUT";
		}
	} else if (ok && n >= 1 && strcmp(seg[0], "enrollment-profile") == 0) {
		allow = "GET";
		if (n == 1)
			route = R_PROFILES;
		else if (n == 2)
			route = R_PROFILE;
		else if (strcmp(seg[2], "sample-request") == 0)
			route = R_SAMPLE;
		else
			allow = NULL;
		if (allow != NULL && strcmp(m, "GET") != 0)
			route = R_NONE;
	}
	if (route == R_NONE) {
		if (allow != NULL) {
			rc = method_not_allowed(&c, allow);
			iot_log_fields(&c);
			return rc;
		}
		rc = be_err_set(&e, BE_E_NOTFOUND, "no such resource");
		goto fail;
	}
	c.operation = op_names[route];
	enroll_creds = route == R_ENROLL || route == R_RENEW;

	/* Keys and passcodes travel in this API: never over a plain channel. */
	if (!req->secure) {
		rc = be_err_set(&e, BE_E_FORBIDDEN, "the enrollment-profile API is served over "
				"HTTPS only");
		goto fail;
	}
	if (c.st == NULL) {
		rc = be_err_set(&e, BE_E_UNAVAILABLE, "the iot adapter has no state");
		goto fail;
	}
	if ((rc = iot_authenticate(req, c.st, enroll_creds, &c.auth, &e)) != BE_OK)
		goto fail;
	c.authed = true;
	/* The operations that take a body take JSON only (PROTOCOLS.md section 4); revoke
	 * may come without one. */
	if ((route == R_ENROLL || route == R_RENEW || (route == R_REVOKE && req->body_len > 0)) &&
	    !gw_request_media_is(req, "application/json")) {
		rc = be_err_set(&e, BE_E_MEDIATYPE, "Content-Type must be application/json");
		goto fail;
	}

	switch (route) {
	case R_ENROLL:
		rc = iot_op_enroll(&c, &e);
		break;
	case R_SEARCH:
		rc = iot_op_search(&c, &e);
		break;
	case R_GET:
		rc = iot_op_get(&c, seg[1], &e);
		break;
	case R_RENEW:
		rc = iot_op_renew(&c, seg[1], &e);
		break;
	case R_REVOKE:
		rc = iot_op_revoke(&c, seg[1], &e);
		break;
	case R_PROFILES:
		rc = op_profiles(&c, NULL, false, &e);
		break;
	case R_PROFILE:
		rc = op_profiles(&c, seg[1], false, &e);
		break;
	case R_SAMPLE:
		rc = op_profiles(&c, seg[1], true, &e);
		break;
	default:
		rc = be_err_set(&e, BE_E_INTERNAL, "no route");
		break;
	}
	if (rc == BE_OK) {
		iot_log_fields(&c);
		return 0;
	}
fail:
	if (e.code == 0)
		be_err_set(&e, rc, "internal error");
	rc = iot_reply_error(&c, &e);
	iot_log_fields(&c);
	return rc;
}

/* The server's own refusals of a request under IOT_PREFIX (gw_error_fn): the API's error
 * body with the code name the table gives status (413: payload_too_large; 500 and any
 * status not in it: internal_error). */
static int
iot_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	  const char *reason)
{
	const char *name = "internal_error";
	size_t i;

	(void)req;
	resp->adapter = "iot";
	resp->operation = "-";
	for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++) {
		if (error_map[i].status == status) {
			name = error_map[i].name;
			break;
		}
	}
	return error_body(resp, status, name, reason);
}

static const struct gw_route iot_routes[] = {
	{ IOT_PREFIX, iot_handle, iot_error },
};

const struct gw_adapter proto_iot_adapter = {
	.name = "iot",
	.init = iot_init,
	.fini = state_free,
	.demo = iot_demo,
	.routes = iot_routes,
	.n_routes = sizeof(iot_routes) / sizeof(iot_routes[0]),
};
