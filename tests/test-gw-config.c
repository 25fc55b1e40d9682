/*
 * certgate.json: the demo loads; every kind of mistake is refused with the key's path.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be_issue.h"
#include "gw.h"
#include "gw_cli.h"
#include "tap.h"

static char dir[64];
static json_t *demo;

/* Loads the demo with one change made by `edit` (a jansson path + value) and expects a
 * refusal whose sentence contains `needle`. */
static void
expect_bad(const char *name, json_t *doc, const char *needle)
{
	char path[128];
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	int rc;

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	json_dump_file(doc, path, JSON_INDENT(1));
	rc = gw_config_load(path, &cfg, &e);
	tap_ok(rc == BE_E_CONFIG && strstr(e.msg, needle) != NULL, "%s: refused: %s", name,
	       e.msg);
	gw_config_free(cfg);
	json_decref(doc);
}

static json_t *
copy(void)
{
	return json_deep_copy(demo);
}

static json_t *
profile(json_t *doc, const char *name)
{
	return json_object_get(json_object_get(doc, "profiles"), name);
}

int
main(void)
{
	char conf[128];
	char *argv[3];
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	json_t *d;
	int saved;

	gnutls_global_init();
	snprintf(dir, sizeof(dir), "/tmp/certgate-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	rmdir(dir);
	argv[0] = "init";
	argv[1] = dir;
	argv[2] = NULL;
	fflush(stdout);
	saved = dup(1);
	dup2(open("/dev/null", O_WRONLY), 1);
	gw_cmd_init(2, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);

	snprintf(conf, sizeof(conf), "%s/certgate.json", dir);
	tap_ok(gw_config_load(conf, &cfg, &e) == BE_OK, "/config/demo: loads (%s)", e.msg);
	tap_ok(cfg != NULL && cfg->be->n_profiles >= 6 && cfg->n_principals >= 4 &&
	       cfg->max_body == 1024 * 1024, "/config/demo: profiles, principals, defaults");
	gw_config_free(cfg);
	demo = json_load_file(conf, 0, NULL);

	/* limits.threads: a pool size, or "per-connection". */
	d = copy();
	json_object_set_new(d, "limits", json_pack("{s:s}", "threads", "per-connection"));
	snprintf(conf, sizeof(conf), "%s/threads.json", dir);
	json_dump_file(d, conf, JSON_INDENT(1));
	json_decref(d);
	be_err_clear(&e);
	tap_ok(gw_config_load(conf, &cfg, &e) == BE_OK && cfg->threads == 0,
	       "/config/threads-per-connection: accepted (%s)", e.msg);
	gw_config_free(cfg);
	cfg = NULL;
	d = copy();
	json_object_set_new(d, "limits", json_pack("{s:s}", "threads", "many"));
	expect_bad("/config/threads-unknown-word", d,
		   "limits.threads: must be an integer 1..256 or \"per-connection\"");
	d = copy();
	json_object_set_new(d, "limits", json_pack("{s:i}", "threads", 0));
	expect_bad("/config/threads-zero", d, "limits.threads: must be between 1 and 256");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "crl_url",
			    json_string("https://127.0.0.1/crl/issuing.crl"));
	expect_bad("/config/crl-url-not-http", d,
		   "profiles.est-device.crl_url: must be an http:// URL");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "ocsp_url",
			    json_string("http://127.0.0.1/oc sp"));
	expect_bad("/config/ocsp-url-with-space", d,
		   "profiles.est-device.ocsp_url: character 20 is not printable ASCII");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "ca_issuers_url", json_integer(1));
	expect_bad("/config/ca-issuers-url-wrong-type", d,
		   "profiles.est-device.ca_issuers_url: must be a string");

	d = copy();
	json_object_set_new(json_object_get(json_object_get(d, "cas"), "issuing"), "crl_shards",
			    json_integer(0));
	expect_bad("/config/crl-shards-zero", d, "crl_shards: must be between 1 and 1024");

	d = copy();
	json_object_set_new(d, "crl", json_pack("{s:i}", "check_interval_ms", 5));
	expect_bad("/config/crl-check-interval-too-small", d,
		   "crl.check_interval_ms: must be between 10 and 60000");

	d = copy();
	json_object_set_new(d, "crl", json_pack("{s:i, s:i}", "next_update_seconds", 60,
						"refresh_seconds", 60));
	expect_bad("/config/crl-refresh-not-before-next-update", d,
		   "crl.refresh_seconds: must be less than next_update_seconds");

	d = copy();
	json_object_set_new(d, "colour", json_string("blue"));
	expect_bad("/config/unknown-top-level-key", d, "colour: unknown key");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "validity", json_integer(3));
	expect_bad("/config/unknown-profile-key", d, "profiles.est-device.validity: unknown key");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "validity_days", json_string("365"));
	expect_bad("/config/wrong-type", d, "profiles.est-device.validity_days: must be an integer");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "pkcs12", json_pack("{s:i}", "iterations",
									   999));
	expect_bad("/config/pkcs12-iterations-below-nist-minimum", d,
		   "profiles.est-device.pkcs12.iterations: must be between 1000 and 10000000");

	d = copy();
	json_object_set_new(profile(d, "est-device"), "ca", json_string("nope"));
	expect_bad("/config/unknown-ca", d, "profiles.est-device.ca: no CA named");

	d = copy();
	json_array_append_new(json_object_get(profile(d, "est-device"), "key_types"),
			      json_string("dsa1024"));
	expect_bad("/config/bad-key-type", d, "profiles.est-device.key_types[6]");

	d = copy();
	json_array_append_new(json_object_get(profile(d, "est-device"), "key_usage"),
			      json_string("keyCertSign"));
	expect_bad("/config/leaf-with-keycertsign", d, "need ca_certificate");

	d = copy();
	json_object_set_new(json_object_get(profile(d, "est-device"), "subject"), "C",
			    json_pack("{s:s}", "fixed", "Germany"));
	expect_bad("/config/fixed-country-invalid", d, "ISO 3166");

	d = copy();
	json_object_set_new(json_object_get(profile(d, "est-device"), "subject"), "CN",
			    json_string("mandatory"));
	expect_bad("/config/subject-policy-word", d, "profiles.est-device.subject.CN");

	d = copy();
	json_object_set_new(json_object_get(json_object_get(d, "principals"), "admin"),
			    "roles", json_pack("[s]", "superuser"));
	expect_bad("/config/unknown-role", d, "principals.admin.roles[0]");

	d = copy();
	json_object_set_new(json_object_get(json_object_get(d, "principals"), "admin"),
			    "password", json_string("admin"));
	expect_bad("/config/plain-password-refused", d, "principals.admin.password");

	d = copy();
	json_object_set_new(json_object_get(json_object_get(d, "cas"), "issuing"), "key",
			    json_string("ca/root.key"));
	expect_bad("/config/ca-key-mismatch", d, "does not belong");

	d = copy();
	json_object_set_new(d, "listen", json_pack("[{s:s}]", "address", "127.0.0.1"));
	expect_bad("/config/listen-without-port", d, "listen[0].port");

	d = copy();
	json_object_del(d, "state_dir");
	expect_bad("/config/state-dir-required", d, "state_dir: required");

	{
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "%s/dup.json", dir);
		f = fopen(path, "w");
		fputs("{\"state_dir\": \"a\", \"state_dir\": \"b\"}", f);
		fclose(f);
		be_err_clear(&e);
		tap_ok(gw_config_load(path, &cfg, &e) == BE_E_CONFIG &&
		       strstr(e.msg, "duplicate") != NULL,
		       "/config/duplicate-key: refused: %s", e.msg);
	}

	json_decref(demo);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			tap_diag("cleanup failed");
	}
	gnutls_global_deinit();
	return tap_done();
}
