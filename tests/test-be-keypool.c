/*
 * Tests for backend/be_keypool.c: configuration (every error with its key path), the
 * default, filling to the target, handing out each key once and of the asked type,
 * refilling, many threads taking at once, clean shutdown while keys are being made, the
 * refill threads' low priority, and be_issue taking its server-generated key from the pool
 * of a configuration loaded from certgate.json (and generating inline when it is empty),
 * with the PKCS#12 iteration count it chooses for its own random passwords.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/pkcs12.h>

#include "be_issue.h"
#include "be_keypool.h"
#include "gw.h"
#include "gw_cli.h"
#include "tap.h"

#define TAKERS		8
#define TAKES_EACH	40

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Builds a pool from JSON text; returns the be_keypool_new code, *kp the pool. */
static int
pool_from(const char *text, const struct be_ctx *ctx, struct be_keypool **kp,
	  struct be_err *e)
{
	json_t *conf = text != NULL ? json_loads(text, 0, NULL) : NULL;
	int rc;

	be_err_clear(e);
	rc = be_keypool_new(conf, ctx, kp, e);
	if (conf != NULL)
		json_decref(conf);
	return rc;
}

static void
test_config(void)
{
	static const struct {
		const char *json, *name, *needle;
	} bad[] = {
		{ "[]", "not-an-object", "keypool: must be an object" },
		{ "{\"rsa1000\": 4}", "unknown-type", "keypool.rsa1000: not a key type" },
		{ "{\"rsa1024\": 4}", "type-not-generated", "keypool.rsa1024: not a key type" },
		{ "{\"brainpool256\": 4}", "brainpool", "keypool.brainpool256" },
		{ "{\"rsa2048\": -1}", "negative-count", "keypool.rsa2048: must be a number" },
		{ "{\"rsa2048\": 4097}", "count-over-4096", "keypool.rsa2048: must be a number" },
		{ "{\"rsa2048\": \"4\"}", "count-as-string", "keypool.rsa2048: must be a number" },
		{ "{\"rsa2048\": 1.5}", "count-not-integer", "keypool.rsa2048: must be a number" },
		{ "{\"rsa2048\": 4, \"RSA-2048\": 2}", "same-type-twice",
		  "keypool.RSA-2048: rsa2048 is listed twice" },
		{ "{\"threads\": 0, \"p256\": 1}", "zero-threads", "keypool.threads: must be" },
		{ "{\"threads\": 17, \"p256\": 1}", "17-threads", "keypool.threads: must be" },
		{ "{\"threads\": true, \"p256\": 1}", "threads-bool", "keypool.threads: must be" },
	};
	struct be_keypool *kp = NULL;
	struct be_keypool_stat st[4];
	struct be_err e;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = pool_from(bad[i].json, NULL, &kp, &e);
		tap_ok(rc == BE_E_CONFIG && kp == NULL && strstr(e.msg, bad[i].needle) != NULL,
		       "/keypool/config/refuses-%s (%s)", bad[i].name, e.msg);
		be_keypool_free(kp);
		kp = NULL;
	}

	rc = pool_from("{\"RSA-2048\": 3, \"p_256\": 5, \"ed25519\": 0, \"threads\": 2}", NULL,
		       &kp, &e);
	n = be_keypool_stats(kp, st, 4);
	tap_ok(rc == BE_OK && kp != NULL && n == 2 && st[0].spec.alg == BE_KEY_RSA &&
		       st[0].spec.bits == 2048 && st[0].target == 3 && st[1].spec.alg == BE_KEY_EC &&
		       st[1].spec.bits == 256 && st[1].target == 5 && st[0].depth == 0,
	       "/keypool/config/any-spelling-counts-zero-means-none (%s)", e.msg);
	be_keypool_free(kp);
	kp = NULL;

	rc = pool_from("{\"rsa2048\": 0, \"threads\": 4}", NULL, &kp, &e);
	tap_ok(rc == BE_OK && kp == NULL, "/keypool/config/all-zero-is-no-pool");
	rc = pool_from("{}", NULL, &kp, &e);
	tap_ok(rc == BE_OK && kp == NULL, "/keypool/config/empty-object-is-no-pool");
}

static void
test_default(void)
{
	struct be_profile p[2];
	struct be_ctx ctx;
	struct be_keypool *kp = NULL;
	struct be_keypool_stat st;
	struct be_err e;
	int rc;

	memset(p, 0, sizeof(p));
	memset(&ctx, 0, sizeof(ctx));
	p[0].name = "ec-only";
	p[0].server_keygen = true;
	p[0].server_key = (struct be_keyspec){ BE_KEY_EC, 256 };
	p[0].key_types[0] = p[0].server_key;
	p[0].n_key_types = 1;
	p[1].name = "csr-only";
	p[1].server_keygen = false;
	p[1].key_types[0] = (struct be_keyspec){ BE_KEY_RSA, 2048 };
	p[1].n_key_types = 1;
	ctx.profiles = p;
	ctx.n_profiles = 2;
	rc = pool_from(NULL, &ctx, &kp, &e);
	tap_ok(rc == BE_OK && kp == NULL, "/keypool/default/none-without-rsa2048-server-keygen");

	p[0].key_types[1] = (struct be_keyspec){ BE_KEY_RSA, 2048 };
	p[0].n_key_types = 2;
	rc = pool_from(NULL, &ctx, &kp, &e);
	tap_ok(rc == BE_OK && kp != NULL && be_keypool_stats(kp, &st, 1) == 1 &&
		       st.spec.alg == BE_KEY_RSA && st.spec.bits == 2048 &&
		       st.target == BE_KEYPOOL_DEFAULT_RSA2048,
	       "/keypool/default/rsa2048-%d-when-a-profile-generates-rsa2048",
	       BE_KEYPOOL_DEFAULT_RSA2048);
	/* Never started: freeing starts nothing and waits for nothing. */
	be_keypool_free(kp);
}

/* SHA-256 key id of a key, for telling keys apart. */
static bool
key_id(gnutls_x509_privkey_t k, unsigned char id[32])
{
	size_t len = 32;

	return gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, id, &len) >= 0 &&
	       len == 32;
}

/* Counts the refill threads running under SCHED_IDLE (policy 5, sched(7)), from
 * /proc/self/task/TID/stat field 41. */
static int
idle_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	char path[300], buf[1024], *p;
	int n = 0, field;
	FILE *f;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL) {
			/* Field 3 starts after ") "; walk to field 41. */
			for (field = 2; field < 41 && p != NULL; field++)
				p = strchr(p + 1, ' ');
			if (p != NULL && strtol(p + 1, NULL, 10) == 5)
				n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static void
test_fill_and_take(void)
{
	const struct be_keyspec p256 = { BE_KEY_EC, 256 }, ed = { BE_KEY_ED25519, 256 };
	const struct be_keyspec rsa = { BE_KEY_RSA, 2048 }, p384 = { BE_KEY_EC, 384 };
	struct be_keypool *kp = NULL;
	struct be_keypool_stat st[3];
	gnutls_x509_privkey_t k[6];
	unsigned char ids[6][32];
	unsigned bits = 0;
	struct be_err e;
	bool typed = true, distinct = true;
	size_t i, j;
	int rc, idle;

	rc = pool_from("{\"p256\": 6, \"ed25519\": 3, \"rsa2048\": 2, \"threads\": 2}", NULL, &kp,
		       &e);
	if (!tap_ok(rc == BE_OK && kp != NULL, "/keypool/fill/builds (%s)", e.msg))
		return;
	tap_ok(be_keypool_depth(kp, &p256) == 0, "/keypool/fill/idle-until-started");
	tap_ok(be_keypool_wait_full(kp, 120000), "/keypool/fill/reaches-every-target");
	be_keypool_stats(kp, st, 3);
	tap_ok(st[0].depth == 6 && st[1].depth == 3 && st[2].depth == 2 &&
		       st[0].generated == 6 && st[2].generated == 2,
	       "/keypool/fill/depths-6-3-2");
	idle = idle_threads();
	if (idle < 0)
		tap_ok(1, "/keypool/fill/refill-threads-run-sched-idle # SKIP no /proc");
	else
		tap_ok(idle == 2, "/keypool/fill/refill-threads-run-sched-idle (%d)", idle);

	for (i = 0; i < 6; i++) {
		rc = be_keypool_take(kp, &p256, &k[i]);
		typed = typed && rc == BE_OK && k[i] != NULL &&
			gnutls_x509_privkey_get_pk_algorithm2(k[i], &bits) == GNUTLS_PK_ECDSA &&
			bits == 256 && key_id(k[i], ids[i]);
		for (j = 0; typed && j < i; j++)
			distinct = distinct && memcmp(ids[i], ids[j], 32) != 0;
	}
	tap_ok(typed, "/keypool/take/six-p256-keys-of-the-asked-type");
	tap_ok(typed && distinct, "/keypool/take/each-key-handed-out-once");
	for (i = 0; i < 6; i++)
		gnutls_x509_privkey_deinit(k[i]);

	rc = be_keypool_take(kp, &ed, &k[0]);
	tap_ok(rc == BE_OK && gnutls_x509_privkey_get_pk_algorithm(k[0]) ==
				      GNUTLS_PK_EDDSA_ED25519,
	       "/keypool/take/ed25519");
	if (rc == BE_OK)
		gnutls_x509_privkey_deinit(k[0]);
	rc = be_keypool_take(kp, &rsa, &k[0]);
	tap_ok(rc == BE_OK && gnutls_x509_privkey_get_pk_algorithm2(k[0], &bits) ==
				      GNUTLS_PK_RSA && bits == 2048,
	       "/keypool/take/rsa2048");
	if (rc == BE_OK)
		gnutls_x509_privkey_deinit(k[0]);
	rc = be_keypool_take(kp, &p384, &k[0]);
	tap_ok(rc == BE_E_NOTFOUND && k[0] == NULL, "/keypool/take/unpooled-type-is-notfound");
	rc = be_keypool_take(NULL, &p256, &k[0]);
	tap_ok(rc == BE_E_NOTFOUND && k[0] == NULL, "/keypool/take/no-pool-is-notfound");
	tap_ok(be_keypool_depth(NULL, &p256) == 0 && be_keypool_depth(kp, &p384) == 0,
	       "/keypool/depth/zero-for-no-pool-and-unpooled-type");

	tap_ok(be_keypool_wait_full(kp, 120000), "/keypool/refill/full-again-after-taking");
	be_keypool_stats(kp, st, 3);
	tap_ok(st[0].taken == 6 && st[0].generated == 12 && st[0].depth == 6,
	       "/keypool/refill/six-made-for-six-taken");
	be_keypool_free(kp);
}

struct taker {
	struct be_keypool *kp;
	unsigned char ids[TAKES_EACH][32];
	unsigned got;
	unsigned missed;
	bool bad;
};

static void *
take_many(void *arg)
{
	const struct be_keyspec p256 = { BE_KEY_EC, 256 };
	struct taker *t = arg;
	gnutls_x509_privkey_t k;
	unsigned i;

	for (i = 0; i < TAKES_EACH; i++) {
		if (be_keypool_take(t->kp, &p256, &k) != BE_OK) {
			t->missed++;
			continue;
		}
		if (!key_id(k, t->ids[t->got]))
			t->bad = true;
		t->got++;
		gnutls_x509_privkey_deinit(k);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct be_keypool *kp = NULL;
	struct be_keypool_stat st;
	struct taker *t = NULL;
	pthread_t th[TAKERS];
	unsigned i, j, a, b, got = 0, missed = 0;
	bool bad = false, dup = false;
	struct be_err e;
	double t0, ms;
	int rc;

	rc = pool_from("{\"p256\": 64, \"threads\": 2}", NULL, &kp, &e);
	if (!tap_ok(rc == BE_OK && (t = calloc(TAKERS, sizeof(*t))) != NULL,
		    "/keypool/threads/builds"))
		goto out;
	be_keypool_wait_full(kp, 60000);
	for (i = 0; i < TAKERS; i++) {
		t[i].kp = kp;
		pthread_create(&th[i], NULL, take_many, &t[i]);
	}
	for (i = 0; i < TAKERS; i++) {
		pthread_join(th[i], NULL);
		got += t[i].got;
		missed += t[i].missed;
		bad = bad || t[i].bad;
	}
	/* No key reached two takers. */
	for (a = 0; a < TAKERS && !dup; a++)
		for (i = 0; i < t[a].got && !dup; i++)
			for (b = a; b < TAKERS && !dup; b++)
				for (j = b == a ? i + 1 : 0; j < t[b].got && !dup; j++)
					dup = memcmp(t[a].ids[i], t[b].ids[j], 32) == 0;
	be_keypool_stats(kp, &st, 1);
	tap_ok(!bad && got + missed == TAKERS * TAKES_EACH && st.taken == got &&
		       st.missed == missed && got >= 64,
	       "/keypool/threads/%d-takers-counts-add-up (%u taken, %u missed)", TAKERS, got,
	       missed);
	tap_ok(!dup, "/keypool/threads/no-key-handed-out-twice");

	/* Shutdown while the refill threads are busy making RSA keys. */
	be_keypool_free(kp);
	kp = NULL;
	rc = pool_from("{\"rsa3072\": 64, \"threads\": 4}", NULL, &kp, &e);
	if (rc == BE_OK && kp != NULL) {
		be_keypool_start(kp);
		be_keypool_start(kp);	/* once only */
		usleep(50000);
		t0 = now_ms();
		be_keypool_free(kp);
		kp = NULL;
		ms = now_ms() - t0;
		tap_ok(ms < 30000, "/keypool/shutdown/joins-threads-mid-generation (%.0f ms)", ms);
	} else {
		tap_ok(0, "/keypool/shutdown/joins-threads-mid-generation");
	}
out:
	free(t);
	be_keypool_free(kp);
}

/* ---------------------------------------------------------------- with be_issue */

static char dir[64];

static int
write_conf(const char *path, json_t *conf)
{
	return json_dump_file(conf, path, JSON_INDENT(2)) == 0 ? 0 : -1;
}

static int
issue_fmt(struct gw_config *cfg, const char *profile, struct be_keyspec spec,
	  enum be_key_fmt fmt, const char *p12_password, struct be_result *res, struct be_err *e)
{
	struct be_request req;
	struct be_name subject = { NULL, 0 };
	int rc;

	memset(&req, 0, sizeof(req));
	memset(res, 0, sizeof(*res));
	be_err_clear(e);
	req.adapter = "test";
	req.operation = "keygen";
	req.profile = be_ctx_profile(cfg->be, profile);
	req.principal.name = "admin";
	req.principal.roles = BE_ROLE_CA_ADMIN | BE_ROLE_CLIENT;
	req.keygen = spec;
	req.key_fmt = fmt;
	req.key_syntax = BE_KEY_PKCS8;
	req.p12_password = p12_password;
	if ((rc = be_name_add(&subject, BE_DN_CN, "pool.example.com", 16, e)) == BE_OK) {
		req.subject = &subject;
		rc = be_issue(cfg->be, &req, res, e);
	}
	be_name_clear(&subject);
	return rc;
}

static int
issue_keygen(struct gw_config *cfg, struct be_result *res, struct be_err *e)
{
	return issue_fmt(cfg, "tls-server", (struct be_keyspec){ BE_KEY_RSA, 2048 },
			 BE_KEYFMT_PEM, NULL, res, e);
}

/* The MAC iteration count of a PKCS#12 (the bags use the same one), 0 on failure. */
static unsigned
p12_iterations(const gnutls_datum_t *der)
{
	gnutls_pkcs12_t p12 = NULL;
	unsigned mac = 0, iter = 0, salt_size = 0;
	unsigned char salt[64];
	char *oid = NULL;

	salt_size = sizeof(salt);
	if (gnutls_pkcs12_init(&p12) < 0 ||
	    gnutls_pkcs12_import(p12, der, GNUTLS_X509_FMT_DER, 0) < 0 ||
	    gnutls_pkcs12_mac_info(p12, &mac, salt, &salt_size, &iter, &oid) < 0)
		iter = 0;
	gnutls_free(oid);
	if (p12 != NULL)
		gnutls_pkcs12_deinit(p12);
	return iter;
}

/* be_issue's PKCS#12 cost: its own random password needs no key stretching, a client's
 * password gets the profile's count (here the default, 10000). */
static void
test_p12_iterations(struct gw_config *cfg)
{
	const struct be_keyspec p256 = { BE_KEY_EC, 256 };
	struct be_result res;
	struct be_err e = { 0, "" };
	unsigned it;
	int rc;

	rc = issue_fmt(cfg, "IoT-Template-2022", p256, BE_KEYFMT_PKCS12, NULL, &res, &e);
	it = rc == BE_OK ? p12_iterations(&res.key_out) : 0;
	tap_ok(rc == BE_OK && res.p12_password[0] != '\0' && it == BE_P12_ITERATIONS_RANDOM_PW,
	       "/issue/pkcs12/random-password-%d-iterations (%u; %s)",
	       BE_P12_ITERATIONS_RANDOM_PW, it, e.msg);
	be_result_clear(&res);
	rc = issue_fmt(cfg, "IoT-Template-2022", p256, BE_KEYFMT_PKCS12, "client chosen", &res,
		       &e);
	it = rc == BE_OK ? p12_iterations(&res.key_out) : 0;
	tap_ok(rc == BE_OK && res.p12_password[0] == '\0' && it == 10000,
	       "/issue/pkcs12/client-password-10000-iterations (%u; %s)", it, e.msg);
	be_result_clear(&res);
}

static void
test_issue(void)
{
	const struct be_keyspec rsa = { BE_KEY_RSA, 2048 };
	struct gw_config *cfg = NULL;
	struct be_result res;
	struct be_keypool_stat st;
	struct be_err e = { 0, "" };
	char conf[128], *argv[3];
	json_t *root = NULL;
	unsigned char id[32], cid[32];
	size_t cidlen = sizeof(cid);
	gnutls_x509_crt_t crt = NULL;
	double t0, ms;
	int saved, rc;

	snprintf(dir, sizeof(dir), "/tmp/certgate-keypool-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "/keypool/issue/tmpdir");
		return;
	}
	rmdir(dir);
	argv[0] = "init";
	argv[1] = dir;
	argv[2] = NULL;
	fflush(stdout);
	saved = dup(1);
	dup2(open("/dev/null", O_WRONLY), 1);
	rc = gw_cmd_init(2, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	snprintf(conf, sizeof(conf), "%s/certgate.json", dir);
	if (!tap_ok(rc == 0 && (root = json_load_file(conf, 0, NULL)) != NULL,
		    "/keypool/issue/demo-written"))
		goto out;

	/* The demo's profiles generate RSA-2048 keys: the default pool. */
	if (!tap_ok(gw_config_load(conf, &cfg, &e) == BE_OK && cfg->be->keypool != NULL &&
			    be_keypool_stats(cfg->be->keypool, &st, 1) == 1 &&
			    st.target == BE_KEYPOOL_DEFAULT_RSA2048,
		    "/keypool/issue/demo-config-gets-the-default-pool (%s)", e.msg))
		goto out;
	gw_config_free(cfg);
	cfg = NULL;

	json_object_set_new(root, "keypool", json_pack("{s:i, s:i}", "rsa2048", 2, "threads", 1));
	if (write_conf(conf, root) != 0 || !tap_ok(gw_config_load(conf, &cfg, &e) == BE_OK,
						   "/keypool/issue/keypool-section-loads (%s)",
						   e.msg))
		goto out;

	/* Cold: nothing ready, generated inline (and the pool starts). */
	rc = issue_keygen(cfg, &res, &e);
	be_keypool_stats(cfg->be->keypool, &st, 1);
	tap_ok(rc == BE_OK && res.key != NULL && st.missed == 1 && st.taken == 0,
	       "/keypool/issue/empty-pool-generates-inline (%s)", e.msg);
	be_result_clear(&res);

	tap_ok(be_keypool_wait_full(cfg->be->keypool, 60000), "/keypool/issue/pool-fills");
	t0 = now_ms();
	rc = issue_keygen(cfg, &res, &e);
	ms = now_ms() - t0;
	be_keypool_stats(cfg->be->keypool, &st, 1);
	tap_ok(rc == BE_OK && res.key != NULL && st.taken == 1 && st.missed == 1,
	       "/keypool/issue/warm-pool-key-is-taken (%.1f ms)", ms);
	/* The certificate is for the key handed back. */
	tap_ok(rc == BE_OK && key_id(res.key, id) && gnutls_x509_crt_init(&crt) >= 0 &&
		       gnutls_x509_crt_import(crt, &res.cert, GNUTLS_X509_FMT_DER) >= 0 &&
		       gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, cid, &cidlen) >= 0 &&
		       cidlen == 32 && memcmp(id, cid, 32) == 0 && res.key_out.size > 0,
	       "/keypool/issue/certificate-matches-the-pooled-key");
	be_result_clear(&res);

	/* Refused requests leave the pool alone. */
	be_keypool_wait_full(cfg->be->keypool, 60000);
	{
		struct be_request req;
		struct be_result r2;

		memset(&req, 0, sizeof(req));
		memset(&r2, 0, sizeof(r2));
		req.adapter = "test";
		req.operation = "keygen";
		req.profile = be_ctx_profile(cfg->be, "tls-server");
		req.principal.name = "nobody";
		req.keygen = rsa;
		req.key_fmt = BE_KEYFMT_PEM;
		be_err_clear(&e);
		rc = be_issue(cfg->be, &req, &r2, &e);
		tap_ok(rc == BE_E_FORBIDDEN && be_keypool_depth(cfg->be->keypool, &rsa) == 2,
		       "/keypool/issue/refusal-takes-no-key");
		be_result_clear(&r2);
	}
	test_p12_iterations(cfg);
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gw_config_free(cfg);
	if (root != NULL)
		json_decref(root);
	if (dir[0] != '\0') {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", dir);
	}
}

int
main(void)
{
	gnutls_global_init();
	test_config();
	test_default();
	test_fill_and_take();
	test_threads();
	test_issue();
	gnutls_global_deinit();
	return tap_done();
}
