/*
 * `certgate init DIR`: a demo that works at once — a root and an issuing CA, an HTTPS server
 * certificate for localhost, certgate.json with profiles mirroring the vendor documents'
 * templates, and demo principals for every role (credentials printed once and written to
 * DIR/demo-credentials.json, mode 0600).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be_issue.h"
#include "be_json.h"
#include "gw.h"
#include "gw_cli.h"

struct init_opts {
	const char *dir;
	struct be_keyspec ca_key;
	unsigned https_port, http_port;
};

static int
write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
	   struct be_err *e)
{
	char *path = be_path_join(dir, name);
	int fd = -1, rc = BE_OK;

	if (path == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		rc = be_err_set(e, BE_E_IO, "%s: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int
write_key(const char *dir, const char *name, gnutls_x509_privkey_t key, struct be_err *e)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc;

	if ((rc = be_key_export(key, BE_KEY_PKCS8, true, &pem, e)) == BE_OK)
		rc = write_file(dir, name, pem.data, pem.size, 0600, e);
	be_datum_wipe(&pem);
	return rc;
}

static int
write_certs(const char *dir, const char *name, const gnutls_datum_t *ders, size_t n,
	    struct be_err *e)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc;

	if ((rc = be_encode_pem_certs(ders, n, &pem, e)) == BE_OK)
		rc = write_file(dir, name, pem.data, pem.size, 0644, e);
	be_datum_free(&pem);
	return rc;
}

static int
make_root(const char *dir, const struct be_keyspec *spec, struct be_err *e)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t der = { NULL, 0 };
	unsigned char serial[20], kid[64];
	size_t slen, kidlen = sizeof(kid);
	time_t now = time(NULL);
	int rc;

	if ((rc = be_key_generate(spec, &key, e)) != BE_OK)
		goto out;
	if ((rc = be_serial_new(serial, &slen, e)) != BE_OK)
		goto out;
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, slen) < 0 ||
	    gnutls_x509_crt_set_dn(crt, "CN=certgate Demo Root CA,O=certgate demo", NULL) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 20 * 365 * 86400L) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 1, 1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key,
				  spec->alg == BE_KEY_ED25519 ? GNUTLS_DIG_UNKNOWN :
				  GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot make the root CA certificate");
		goto out;
	}
	if ((rc = write_key(dir, "ca/root.key", key, e)) != BE_OK ||
	    (rc = write_certs(dir, "ca/root.pem", &der, 1, e)) != BE_OK)
		goto out;
out:
	be_datum_free(&der);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

/* A new key of spec, certified through be_issue by the CA loaded from cert/key files under
 * a one-off profile (name; key usage and extended key usage as configuration names, NULL
 * for none) and recorded in the demo's store, as every certificate certgate signs is;
 * writes the key and the certificate (followed by the CA's, when with_chain). */
static int
make_signed(const char *dir, const char *name, const char *ca_cert, const char *ca_key,
	    const struct be_keyspec *spec, const char *cn, const char *o, bool is_ca,
	    json_t *ku, const char *eku, bool localhost, unsigned days, const char *key_out,
	    const char *cert_out, bool with_chain, struct be_err *e)
{
	struct be_ctx *ctx = NULL;
	json_t *cas = NULL, *profiles = NULL, *prof = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	struct be_name subject = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	struct be_request req;
	struct be_result res;
	gnutls_datum_t ders[2];
	char keyname[24], *store = NULL;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	cas = json_pack("{s:{s:s, s:s}}", "init", "certificate", ca_cert, "key", ca_key);
	prof = json_pack("{s:s, s:s, s:i, s:[s], s:O, s:b, s:{s:s, s:s}, s:[s]}",
			 "description", "certgate init", "ca", "init", "validity_days", (int)days,
			 "key_types", be_keyspec_name(spec, keyname, sizeof(keyname)),
			 "key_usage", ku, "ca_certificate", is_ca, "subject", "CN", "required",
			 "O", "required", "allow", "role:ca_admin");
	if (prof != NULL && is_ca)
		json_object_set_new(prof, "path_len", json_integer(0));
	if (prof != NULL && eku != NULL)
		json_object_set_new(prof, "extended_key_usage", json_pack("[s]", eku));
	if (prof != NULL && localhost)
		json_object_set_new(prof, "san", json_pack("{s:[s,s]}", "types", "dns", "ip"));
	profiles = json_pack("{s:O}", name, prof);
	store = be_path_join(dir, "state/certgate.db");
	if (cas == NULL || prof == NULL || profiles == NULL || store == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_ctx_new(cas, profiles, store, dir, &ctx, e)) != BE_OK ||
	    (rc = be_key_generate(spec, &key, e)) != BE_OK ||
	    (rc = be_key_pubkey(key, &pub, e)) != BE_OK ||
	    (rc = be_name_add(&subject, BE_DN_O, o, strlen(o), e)) != BE_OK ||
	    (rc = be_name_add(&subject, BE_DN_CN, cn, strlen(cn), e)) != BE_OK)
		goto out;
	if (localhost) {
		static const unsigned char v4[4] = { 127, 0, 0, 1 };
		static const unsigned char v6[16] = { [15] = 1 };

		if ((rc = be_sans_add(&sans, BE_SAN_DNS, "localhost", 9, e)) != BE_OK ||
		    (rc = be_sans_add_ip_raw(&sans, v4, 4, e)) != BE_OK ||
		    (rc = be_sans_add_ip_raw(&sans, v6, 16, e)) != BE_OK)
			goto out;
	}
	req.adapter = "cli";
	req.operation = "init";
	req.principal.name = "init";
	req.principal.roles = BE_ROLE_CA_ADMIN;
	req.profile = be_ctx_profile(ctx, name);
	req.pubkey = pub;
	req.subject = &subject;
	req.sans = &sans;
	if ((rc = be_issue(ctx, &req, &res, e)) != BE_OK)
		goto out;
	ders[0] = res.cert;
	ders[1] = res.chain[0];
	if ((rc = write_key(dir, key_out, key, e)) != BE_OK ||
	    (rc = write_certs(dir, cert_out, ders, with_chain ? 2 : 1, e)) != BE_OK)
		goto out;
out:
	be_result_clear(&res);
	be_name_clear(&subject);
	be_sans_clear(&sans);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	be_ctx_free(ctx);
	free(store);
	json_decref(cas);
	json_decref(prof);
	json_decref(profiles);
	return rc;
}

static int
chain_file(const char *dir, struct be_err *e)
{
	char *a = be_path_join(dir, "ca/issuing.pem"), *b = be_path_join(dir, "ca/root.pem");
	unsigned char *x = NULL, *y = NULL, *z = NULL;
	size_t xl = 0, yl = 0;
	int rc;

	if (a == NULL || b == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_file_read(a, 1 << 20, &x, &xl, e)) != BE_OK ||
	    (rc = be_file_read(b, 1 << 20, &y, &yl, e)) != BE_OK)
		goto out;
	if ((z = malloc(xl + yl)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(z, x, xl);
	memcpy(z + xl, y, yl);
	rc = write_file(dir, "ca/chain.pem", z, xl + yl, 0644, e);
out:
	free(a);
	free(b);
	free(x);
	free(y);
	free(z);
	return rc;
}

/* A credential: a random secret, its hash for the configuration, and the plain text for
 * demo-credentials.json. */
int
gw_demo_principal(json_t *conf, json_t *creds, const char *name, const char *role,
		  bool password, bool api_key, const char *cert_subject, struct be_err *e)
{
	json_t *principals = json_object_get(conf, "principals");
	json_t *p = NULL, *c = NULL;
	char secret[40];
	char *hash = NULL;
	int rc = BE_OK;

	p = json_pack("{s:[s]}", "roles", role);
	c = json_pack("{s:s}", "role", role);
	if (p == NULL || c == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (password) {
		if (be_random_password(secret, sizeof(secret), 20) != BE_OK ||
		    gw_auth_hash_password(secret, 100000, &hash) != 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot make a password");
			goto out;
		}
		json_object_set_new(p, "password", json_string(hash));
		json_object_set_new(c, "username", json_string(name));
		json_object_set_new(c, "password", json_string(secret));
		free(hash);
		hash = NULL;
	}
	if (api_key) {
		if (be_random_password(secret, sizeof(secret), 32) != BE_OK ||
		    gw_auth_hash_api_key(secret, &hash) != 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot make an API key");
			goto out;
		}
		json_object_set_new(p, "api_keys", json_pack("[s]", hash));
		json_object_set_new(c, "api_key", json_string(secret));
	}
	if (cert_subject != NULL)
		json_object_set_new(p, "certificates", json_pack("[s]", cert_subject));
	if (principals == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "demo has no principals object");
		goto out;
	}
	json_object_set(principals, name, p);
	json_object_set(creds, name, c);
out:
	be_memzero(secret, sizeof(secret));
	free(hash);
	json_decref(p);
	json_decref(c);
	return rc;
}

static json_t *
profiles_json(const char *ca_default_key)
{
	json_t *all;
	/* Subject policy shared by the se.SAM templates: the seed scripts send CN GN SN O OU C
	 * ST L E; C must be a real ISO 3166 code. */
	json_t *sesam_subject = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
					  "CN", "required", "GN", "optional", "SN", "optional",
					  "O", "optional", "OU", "optional", "C", "optional",
					  "ST", "optional", "L", "optional", "E", "optional");

	if (sesam_subject == NULL)
		return NULL;
	all = json_pack(
		"{"
		" s:{s:s, s:s, s:i, s:i, s:[s,s,s,s,s,s], s:s, s:b, s:[s,s], s:[s], s:O,"
		"    s:{s:[s,s], s:i}, s:{s:s}, s:[s,s]},"
		" s:{s:s, s:s, s:i, s:i, s:[s,s,s,s,s], s:s, s:b, s:[s,s,s], s:[s,s], s:O,"
		"    s:{s:[s,s], s:i}, s:{s:s}, s:[s,s]},"
		" s:{s:s, s:s, s:i, s:[s,s,s,s], s:s, s:b, s:[s,s], s:[s], s:O,"
		"    s:{s:[s,s], s:i}, s:i, s:[s,s]},"
		" s:{s:s, s:s, s:i, s:i, s:[s,s,s,s,s,s], s:s, s:b, s:[s], s:[s],"
		"    s:{s:s, s:s, s:s}, s:{s:[s,s], s:i}, s:[s,s]},"
		" s:{s:s, s:s, s:i, s:i, s:[s,s,s,s,s,s,s], s:s, s:b, s:[s,s], s:[s],"
		"    s:{s:s, s:s, s:s, s:s}, s:{s:[s,s,s], s:i}, s:[s,s]},"
		" s:{s:s, s:s, s:i, s:i, s:[s,s,s], s:s, s:b, s:[s,s], s:[s],"
		"    s:{s:s, s:s}, s:{s:[s,s], s:i, s:b}, s:[s]}"
		"}",
		"IoT-Template-2022",
		"description", "se.SAM N200 IoT template: device certificates, key made by the CA or the device",
		"ca", "issuing", "validity_days", 365, "max_validity_days", 825,
		"key_types", "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "ed25519",
		"server_key_type", "rsa2048", "server_keygen", 1,
		"key_usage", "digitalSignature", "keyEncipherment",
		"extended_key_usage", "clientAuth",
		"subject", sesam_subject,
		"san", "types", "dns", "email", "max", 10,
		"pkcs12", "password", "optional",
		"allow", "role:client", "role:ro_admin",

		"Email-Template-2022",
		"description", "se.SAM N200 e-mail template: S/MIME and client authentication",
		"ca", "issuing", "validity_days", 365, "max_validity_days", 730,
		"key_types", "rsa2048", "rsa3072", "rsa4096", "p256", "p384",
		"server_key_type", "rsa2048", "server_keygen", 1,
		"key_usage", "digitalSignature", "keyEncipherment", "nonRepudiation",
		"extended_key_usage", "emailProtection", "clientAuth",
		"subject", sesam_subject,
		"san", "types", "dns", "email", "max", 10,
		"pkcs12", "password", "optional",
		"allow", "role:client", "role:ro_admin",

		"Approval-Template-2022",
		"description", "se.SAM N200 template whose requests an administrator signs",
		"ca", "issuing", "validity_days", 365,
		"key_types", "rsa2048", "rsa3072", "p256", "p384",
		"server_key_type", "p256", "server_keygen", 1,
		"key_usage", "digitalSignature", "keyEncipherment",
		"extended_key_usage", "clientAuth",
		"subject", sesam_subject,
		"san", "types", "dns", "email", "max", 10,
		"approvals", 1,
		"allow", "role:client", "role:ro_admin",

		"est-device",
		"description", "EST (RFC 7030) device enrollment",
		"ca", "issuing", "validity_days", 365, "max_validity_days", 365,
		"key_types", "p256", "p384", "p521", "rsa2048", "rsa3072", "ed25519",
		"server_key_type", ca_default_key, "server_keygen", 1,
		"key_usage", "digitalSignature",
		"extended_key_usage", "clientAuth",
		"subject", "CN", "required", "O", "optional", "OU", "optional",
		"san", "types", "dns", "ip", "max", 8,
		"allow", "role:client", "role:ro_admin",

		"iot-device",
		"description", "DigiCert IoT Trust Manager-style enrollment profile: device identity",
		"ca", "issuing", "validity_days", 365, "max_validity_days", 1095,
		"key_types", "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519",
		"server_key_type", "p256", "server_keygen", 1,
		"key_usage", "digitalSignature", "keyEncipherment",
		"extended_key_usage", "clientAuth",
		"subject", "CN", "required", "O", "optional", "OU", "optional", "serialNumber", "optional",
		"san", "types", "dns", "ip", "uri", "max", 8,
		"allow", "role:client", "role:ro_admin",

		"tls-server",
		"description", "TLS server certificates (CN copied into the DNS names)",
		"ca", "issuing", "validity_days", 90, "max_validity_days", 397,
		"key_types", "p256", "p384", "rsa2048",
		"server_key_type", "p256", "server_keygen", 1,
		"key_usage", "digitalSignature", "keyEncipherment",
		"extended_key_usage", "serverAuth",
		"subject", "CN", "required", "O", "optional",
		"san", "types", "dns", "ip", "max", 32, "cn_as_dns", 1,
		"allow", "role:ca_admin");
	json_decref(sesam_subject);
	return all;
}

static int
init_parse(int argc, char **argv, struct init_opts *o)
{
	int i;

	o->dir = NULL;
	o->ca_key.alg = BE_KEY_EC;
	o->ca_key.bits = 256;
	o->https_port = 8443;
	o->http_port = 8080;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rsa") == 0) {
			o->ca_key.alg = BE_KEY_RSA;
			o->ca_key.bits = 3072;
		} else if (strcmp(argv[i], "--ca-key") == 0 && i + 1 < argc) {
			if (be_keyspec_parse(argv[++i], &o->ca_key) != BE_OK)
				return -1;
		} else if (strcmp(argv[i], "--https-port") == 0 && i + 1 < argc) {
			if (gw_cli_uint(argv[++i], 1, 65535, &o->https_port) != 0)
				return -1;
		} else if (strcmp(argv[i], "--http-port") == 0 && i + 1 < argc) {
			if (gw_cli_uint(argv[++i], 0, 65535, &o->http_port) != 0)
				return -1;
		} else if (argv[i][0] == '-' || o->dir != NULL) {
			return -1;
		} else {
			o->dir = argv[i];
		}
	}
	return o->dir != NULL ? 0 : -1;
}

int
gw_cmd_init(int argc, char **argv)
{
	struct init_opts o;
	struct be_err e = { 0, "" };
	json_t *conf = NULL, *principals = NULL, *creds = NULL, *listen = NULL;
	json_t *ca_ku = NULL, *tls_ku = NULL;
	char *text = NULL, *ctext = NULL, *dirs[3] = { NULL, NULL, NULL };
	char keyname[24];
	const struct be_keyspec leaf = { BE_KEY_EC, 256 };
	const struct gw_adapter *adapters;
	size_t i, n_adapters;
	int rc = 1;

	if (init_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: certgate init DIR [--rsa | --ca-key TYPE] "
			"[--https-port N] [--http-port N (0: none)]\n");
		return 2;
	}
	if (mkdir(o.dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "certgate init: %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	dirs[0] = be_path_join(o.dir, "ca");
	dirs[1] = be_path_join(o.dir, "tls");
	dirs[2] = be_path_join(o.dir, "state");
	for (i = 0; i < 3; i++) {
		if (dirs[i] == NULL || mkdir(dirs[i], 0700) != 0) {
			fprintf(stderr, "certgate init: %s: %s (refusing to overwrite a demo)\n",
				dirs[i] ? dirs[i] : o.dir, strerror(errno));
			goto out;
		}
	}
	ca_ku = json_pack("[s,s]", "keyCertSign", "cRLSign");
	tls_ku = json_pack("[s]", "digitalSignature");
	if (ca_ku == NULL || tls_ku == NULL || make_root(o.dir, &o.ca_key, &e) != BE_OK ||
	    make_signed(o.dir, "init-issuing-ca", "ca/root.pem", "ca/root.key", &o.ca_key,
			"certgate Demo Issuing CA", "certgate demo", true, ca_ku, NULL, false,
			10 * 365, "ca/issuing.key", "ca/issuing.pem", false, &e) != BE_OK ||
	    chain_file(o.dir, &e) != BE_OK ||
	    make_signed(o.dir, "init-tls-server", "ca/issuing.pem", "ca/issuing.key", &leaf,
			"localhost", "certgate demo", false, tls_ku, "serverAuth", true, 397,
			"tls/server.key", "tls/server.pem", true, &e) != BE_OK) {
		fprintf(stderr, "certgate init: %s\n", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}

	principals = json_object();
	creds = json_object();
	listen = json_pack("[{s:s, s:i, s:b}]", "address", "127.0.0.1", "port",
			   (int)o.https_port, "tls", 1);
	if (listen != NULL && o.http_port != 0)
		json_array_append_new(listen, json_pack("{s:s, s:i, s:b}", "address", "127.0.0.1",
							"port", (int)o.http_port, "tls", 0));
	conf = json_pack("{s:s, s:o, s:{s:s, s:s, s:s}, s:{s:{s:s, s:s, s:s}}, s:o, s:O}",
			 "state_dir", "state",
			 "listen", listen,
			 "tls", "certificate", "tls/server.pem", "key", "tls/server.key",
			 "client_ca", "ca/chain.pem",
			 "cas", "issuing", "certificate", "ca/issuing.pem", "key", "ca/issuing.key",
			 "chain", "ca/root.pem",
			 "profiles", profiles_json(be_keyspec_name(&o.ca_key, keyname,
								   sizeof(keyname))),
			 "principals", principals);
	listen = NULL;
	if (conf == NULL || creds == NULL ||
	    gw_demo_principal(conf, creds, "admin", "ca_admin", true, true, NULL, &e) != BE_OK ||
	    gw_demo_principal(conf, creds, "ro-admin", "ro_admin", true, false, NULL, &e) != BE_OK ||
	    gw_demo_principal(conf, creds, "client", "client", true, true, NULL, &e) != BE_OK ||
	    gw_demo_principal(conf, creds, "device", "client", false, false,
			      "CN=device-001,O=certgate demo", &e) != BE_OK) {
		fprintf(stderr, "certgate init: %s\n", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}
	adapters = gw_adapters(&n_adapters);
	for (i = 0; i < n_adapters; i++) {
		const struct gw_adapter *a = &adapters[i];

		if (a->demo != NULL && a->demo(conf, creds, &e) != BE_OK) {
			fprintf(stderr, "certgate init: %s: %s\n", a->name, e.msg);
			goto out;
		}
	}
	if ((text = json_dumps(conf, JSON_INDENT(2))) == NULL ||
	    (ctext = json_dumps(creds, JSON_INDENT(2))) == NULL) {
		fprintf(stderr, "certgate init: out of memory\n");
		goto out;
	}
	if (write_file(o.dir, "certgate.json", text, strlen(text), 0600, &e) != BE_OK ||
	    write_file(o.dir, "demo-credentials.json", ctext, strlen(ctext), 0600, &e) != BE_OK) {
		fprintf(stderr, "certgate init: %s\n", e.msg);
		goto out;
	}
	printf("certgate demo written to %s\n\n"
	       "  CA chain:     %s/ca/chain.pem (issuing CA, then root)\n"
	       "  HTTPS:        https://localhost:%u/ (server certificate for localhost)\n"
	       "  credentials:  %s/demo-credentials.json (also below; shown once)\n\n%s\n\n"
	       "Start it:       certgate serve -c %s/certgate.json\n"
	       "Issue offline:  certgate issue -c %s/certgate.json --profile tls-server "
	       "--subject CN=www.example.com --keygen --out www.pem --key-out www.key\n",
	       o.dir, o.dir, o.https_port, o.dir, ctext, o.dir, o.dir);
	rc = 0;
out:
	for (i = 0; i < 3; i++)
		free(dirs[i]);
	if (ctext != NULL) {
		be_memzero(ctext, strlen(ctext));
		free(ctext);
	}
	free(text);
	json_decref(ca_ku);
	json_decref(tls_ku);
	json_decref(listen);
	json_decref(conf);
	json_decref(principals);
	json_decref(creds);
	return rc;
}
