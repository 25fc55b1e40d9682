/*
 * bench-ceiling: what issuance costs in-process, without HTTP and without the store, with
 * the CA key and profile of a certgate.json — the ceiling the daemon's rates are compared
 * with (tests/bench/run.sh).
 *
 *   --op sign     EST simpleenroll's work: parse and verify a pre-made CSR (be_csr_parse),
 *                 draw a serial, sign (be_ca_sign), PKCS#7 certs-only and base64 it
 *   --op keygen   server keygen: generate a key (or take a pre-made one with --pooled, as
 *                 from a warm key pool), sign, and encode the key as --format pem | der |
 *                 pkcs12 (the profile's PKCS#12 iteration count, a random password)
 *   --op rawsign  one signature by the CA key over 256 bytes (gnutls_privkey_sign_data2 with
 *                 the CA's hash): the raw signature rate OCSP answers are compared with
 *
 * --threads N workers share the one CA key object (as the daemon's threads do), so the
 * 2-thread figure also shows that signing needs no lock.  Every certificate of the first
 * round is verified against the CA (be_ca_verify).
 *
 * Output: one line "name=... ok=N fail=N secs=S rate=R p50_ms=... p99_ms=... threads=N".
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_csr.h"
#include "be_issue.h"
#include "gw.h"
#include "proto.h"

#define N_CSRS		64
#define N_POOLED	8	/* --pooled: ready keys, each copied per operation */
#define MAX_THREADS	16

struct opts {
	const char *conf, *profile, *op, *key, *format, *name;
	bool pooled;
	unsigned threads;
	unsigned long count;
	double seconds;
};

static struct opts o;
static const struct be_profile *prof;
static gnutls_datum_t csrs[N_CSRS];
static gnutls_x509_privkey_t pool[N_POOLED];	/* --pooled: keys made before the clock */
static struct be_keyspec spec;
static atomic_ulong next_op;
static double deadline;

struct worker {
	pthread_t th;
	unsigned long ok, fail;
	uint32_t *lat_us;
	size_t n_lat, cap_lat;
	char err[BE_ERR_MSG_MAX];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench-ceiling: %s\n", what);
	exit(2);
}

/* A CSR for a fresh key of spec with CN=ceiling-i, DER. */
static int
make_csr(unsigned i, gnutls_datum_t *der)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crq_t crq = NULL;
	char cn[32];
	int rc = -1;

	snprintf(cn, sizeof(cn), "ceiling-%u", i);
	if (be_key_generate(&spec, &key, NULL) != BE_OK || gnutls_x509_crq_init(&crq) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crq_set_key(crq, key) < 0 ||
	    gnutls_x509_crq_sign2(crq, key, spec.alg == BE_KEY_ED25519 ? GNUTLS_DIG_UNKNOWN :
				  GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, der) < 0)
		goto out;
	rc = 0;
out:
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

/* The to-be-signed certificate as be_issue fills it for this profile. */
static void
tbs_fill(struct be_tbs *tbs, const struct be_name *subject, const struct be_sans *sans,
	 gnutls_pubkey_t pub, const struct be_keyspec *k)
{
	time_t now = time(NULL);

	memset(tbs, 0, sizeof(*tbs));
	tbs->subject = subject;
	tbs->sans = sans;
	tbs->pubkey = pub;
	tbs->not_before = now - 60;
	tbs->not_after = now + (time_t)prof->validity_days * 86400;
	if (tbs->not_after > prof->ca->not_after)
		tbs->not_after = prof->ca->not_after;
	tbs->key_usage = prof->key_usage;
	if (k->alg != BE_KEY_RSA)
		tbs->key_usage &= ~(unsigned)(GNUTLS_KEY_KEY_ENCIPHERMENT |
					      GNUTLS_KEY_DATA_ENCIPHERMENT);
	if (k->alg != BE_KEY_EC)
		tbs->key_usage &= ~(unsigned)(GNUTLS_KEY_KEY_AGREEMENT |
					      GNUTLS_KEY_ENCIPHER_ONLY | GNUTLS_KEY_DECIPHER_ONLY);
	tbs->eku = prof->eku;
	tbs->n_eku = prof->n_eku;
	tbs->is_ca = prof->is_ca;
	tbs->path_len = prof->path_len;
}

/* One EST simpleenroll's backend work. */
static int
op_sign(unsigned long i, bool check, struct be_err *e)
{
	struct be_csr *csr = NULL;
	struct be_tbs tbs;
	gnutls_datum_t cert = { NULL, 0 }, p7 = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	char *b64 = NULL;
	int rc;

	if ((rc = be_csr_parse(csrs[i % N_CSRS].data, csrs[i % N_CSRS].size, 0, &csr, e)) != 0)
		goto out;
	tbs_fill(&tbs, &csr->subject, &csr->sans, csr->pubkey, &csr->key);
	if ((rc = be_serial_new(tbs.serial, &tbs.serial_len, e)) != 0 ||
	    (rc = be_ca_sign(prof->ca, &tbs, &cert, e)) != 0 ||
	    (rc = be_encode_pkcs7_certs(&cert, 1, &p7, e)) != 0)
		goto out;
	if ((rc = be_base64_encode(p7.data, p7.size, 64, &b64)) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "base64");
		goto out;
	}
	if (check && (rc = be_ca_verify(prof->ca, &cert, time(NULL), &crt, e)) != 0)
		goto out;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	free(b64);
	be_datum_free(&p7);
	be_datum_free(&cert);
	be_csr_free(csr);
	return rc;
}

/* One raw signature by the CA key (raw_alg: the CA key's algorithm with its hash). */
static gnutls_sign_algorithm_t raw_alg;

static int
op_rawsign(unsigned long i, struct be_err *e)
{
	unsigned char msg[256];
	gnutls_datum_t d = { msg, sizeof(msg) }, sig = { NULL, 0 };
	int rc = 0;

	memset(msg, (int)(i & 0xff), sizeof(msg));
	if (gnutls_privkey_sign_data2(prof->ca->key, raw_alg, 0, &d, &sig) < 0)
		rc = be_err_set(e, BE_E_CRYPTO, "the CA key did not sign");
	gnutls_free(sig.data);
	return rc;
}

/* One server keygen's backend work. */
static int
op_keygen(unsigned long i, bool check, struct be_err *e)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	struct be_name subject = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	struct be_tbs tbs;
	struct be_p12_params pp;
	gnutls_datum_t cert = { NULL, 0 }, out = { NULL, 0 };
	gnutls_x509_crt_t crt = NULL;
	char cn[32], pw[21];
	int rc;

	if (o.pooled) {
		/* A key from a warm pool costs a copy (RSA-4096 keys take seconds to make, and
		 * the ceiling measures what follows). */
		if (gnutls_x509_privkey_init(&key) < 0 ||
		    gnutls_x509_privkey_cpy(key, pool[i % N_POOLED]) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "key copy");
			goto out;
		}
	} else if ((rc = be_key_generate(&spec, &key, e)) != 0) {
		goto out;
	}
	snprintf(cn, sizeof(cn), "ceiling-%lu", i);
	if ((rc = be_key_pubkey(key, &pub, e)) != 0 ||
	    (rc = be_name_add(&subject, BE_DN_CN, cn, strlen(cn), e)) != 0)
		goto out;
	tbs_fill(&tbs, &subject, &sans, pub, &spec);
	if ((rc = be_serial_new(tbs.serial, &tbs.serial_len, e)) != 0 ||
	    (rc = be_ca_sign(prof->ca, &tbs, &cert, e)) != 0)
		goto out;
	if (strcmp(o.format, "pkcs12") == 0) {
		if ((rc = be_random_password(pw, sizeof(pw), 20)) != 0)
			goto out;
		pp.password = pw;
		pp.friendly_name = cn;
		pp.iterations = prof->p12_iterations;
		rc = be_encode_pkcs12(key, &cert, prof->ca->chain, prof->ca->n_chain, &pp, &out, e);
	} else {
		rc = be_key_export(key, BE_KEY_PKCS8, strcmp(o.format, "pem") == 0, &out, e);
	}
	if (rc == 0 && check)
		rc = be_ca_verify(prof->ca, &cert, time(NULL), &crt, e);
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	be_datum_wipe(&out);
	be_datum_free(&cert);
	be_name_clear(&subject);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	be_memzero(pw, sizeof(pw));
	return rc;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct be_err e;
	unsigned long i;
	double t0, us;
	int rc;

	for (;;) {
		i = atomic_fetch_add(&next_op, 1);
		if (i >= o.count || now_s() > deadline)
			break;
		be_err_clear(&e);
		t0 = now_s();
		if (strcmp(o.op, "sign") == 0)
			rc = op_sign(i, i < N_CSRS, &e);
		else if (strcmp(o.op, "rawsign") == 0)
			rc = op_rawsign(i, &e);
		else
			rc = op_keygen(i, i < 16, &e);
		us = (now_s() - t0) * 1e6;
		if (rc != 0) {
			w->fail++;
			if (w->err[0] == '\0')
				snprintf(w->err, sizeof(w->err), "%s", e.msg);
			continue;
		}
		w->ok++;
		if (w->n_lat == w->cap_lat) {
			size_t cap = w->cap_lat ? w->cap_lat * 2 : 1024;
			uint32_t *nl = realloc(w->lat_us, cap * sizeof(*nl));

			if (nl == NULL)
				continue;
			w->lat_us = nl;
			w->cap_lat = cap;
		}
		w->lat_us[w->n_lat++] = (uint32_t)us;
	}
	return NULL;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint32_t *v, size_t n, double p)
{
	return n == 0 ? 0.0 : (double)v[(size_t)(p * (double)(n - 1) + 0.5)] / 1000.0;
}

static unsigned long
num(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end != '\0')
		die(what);
	return v;
}

static void
parse_args(int argc, char **argv)
{
	int i;

	o.op = "sign";
	o.key = "p256";
	o.format = "pem";
	o.threads = 1;
	o.count = 2000;
	o.seconds = 20;
	o.name = "ceiling";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--pooled") == 0) {
			o.pooled = true;
			continue;
		}
		if (v == NULL)
			die("usage: bench-ceiling -c CONF --profile NAME [--op sign|keygen|rawsign] "
			    "[--key TYPE] [--format pem|der|pkcs12] [--pooled] [--threads N] "
			    "[--count N] [--time S] [--name NAME]");
		i++;
		if (strcmp(a, "-c") == 0)
			o.conf = v;
		else if (strcmp(a, "--profile") == 0)
			o.profile = v;
		else if (strcmp(a, "--op") == 0)
			o.op = v;
		else if (strcmp(a, "--key") == 0)
			o.key = v;
		else if (strcmp(a, "--format") == 0)
			o.format = v;
		else if (strcmp(a, "--threads") == 0)
			o.threads = (unsigned)num(v, "--threads: a number");
		else if (strcmp(a, "--count") == 0)
			o.count = num(v, "--count: a number");
		else if (strcmp(a, "--time") == 0)
			o.seconds = (double)num(v, "--time: seconds");
		else if (strcmp(a, "--name") == 0)
			o.name = v;
		else
			die("unknown option");
	}
	if (o.conf == NULL || o.profile == NULL)
		die("-c CONF and --profile NAME are needed");
	if (o.threads == 0 || o.threads > MAX_THREADS)
		die("--threads: 1 to 16");
	if (strcmp(o.op, "sign") != 0 && strcmp(o.op, "keygen") != 0 &&
	    strcmp(o.op, "rawsign") != 0)
		die("--op: sign, keygen or rawsign");
	if (strcmp(o.format, "pem") != 0 && strcmp(o.format, "der") != 0 &&
	    strcmp(o.format, "pkcs12") != 0)
		die("--format: pem, der or pkcs12");
	if (be_keyspec_parse(o.key, &spec) != BE_OK)
		die("--key: not a key type");
}

int
main(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	struct worker ws[MAX_THREADS];
	const struct gw_adapter *adapters;
	size_t n_adapters;
	uint32_t *all = NULL;
	unsigned long ok = 0, fail = 0, k;
	size_t n = 0;
	unsigned i;
	double t0, secs;

	parse_args(argc, argv);
	/* The adapters' sections of certgate.json are theirs to check, as in the daemon. */
	adapters = proto_adapters(&n_adapters);
	gw_adapters_register(adapters, n_adapters);
	if (gnutls_global_init() < 0)
		die("GnuTLS initialisation failed");
	if (gw_config_load(o.conf, &cfg, &e) != BE_OK) {
		fprintf(stderr, "bench-ceiling: %s\n", e.msg);
		return 2;
	}
	if ((prof = be_ctx_profile(cfg->be, o.profile)) == NULL)
		die("--profile: no such profile");
	if (strcmp(o.op, "sign") == 0) {
		for (i = 0; i < N_CSRS; i++)
			if (make_csr(i, &csrs[i]) != 0)
				die("cannot make the CSRs");
	} else if (strcmp(o.op, "rawsign") == 0) {
		gnutls_pubkey_t pub = NULL;
		int pk;

		if (gnutls_pubkey_init(&pub) < 0 ||
		    gnutls_pubkey_import_x509(pub, prof->ca->crt, 0) < 0)
			die("the CA public key does not load");
		pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);
		raw_alg = pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_SIGN_EDDSA_ED25519 :
			  gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, prof->ca->hash);
		gnutls_pubkey_deinit(pub);
	} else if (o.pooled) {
		/* A warm pool: the keys exist before the clock starts. */
		for (k = 0; k < N_POOLED; k++)
			if (be_key_generate(&spec, &pool[k], &e) != BE_OK)
				die(e.msg);
	}
	memset(ws, 0, sizeof(ws));
	t0 = now_s();
	deadline = t0 + o.seconds;
	for (i = 0; i < o.threads; i++)
		if (pthread_create(&ws[i].th, NULL, worker_run, &ws[i]) != 0)
			die("cannot start a thread");
	for (i = 0; i < o.threads; i++) {
		pthread_join(ws[i].th, NULL);
		ok += ws[i].ok;
		fail += ws[i].fail;
		n += ws[i].n_lat;
		if (ws[i].err[0] != '\0')
			fprintf(stderr, "bench-ceiling %s: %s\n", o.name, ws[i].err);
	}
	secs = now_s() - t0;
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL)
		die("out of memory");
	for (n = 0, i = 0; i < o.threads; i++) {
		if (ws[i].n_lat > 0)
			memcpy(all + n, ws[i].lat_us, ws[i].n_lat * sizeof(*all));
		n += ws[i].n_lat;
		free(ws[i].lat_us);
	}
	qsort(all, n, sizeof(*all), u32_cmp);
	printf("name=%s ok=%lu fail=%lu secs=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "threads=%u\n", o.name, ok, fail, secs, secs > 0 ? (double)ok / secs : 0.0,
	       pct(all, n, 0.5), pct(all, n, 0.99), o.threads);
	free(all);
	for (k = 0; k < N_POOLED; k++)
		if (pool[k] != NULL)
			gnutls_x509_privkey_deinit(pool[k]);
	for (i = 0; i < N_CSRS; i++)
		be_datum_free(&csrs[i]);
	gw_config_free(cfg);
	gnutls_global_deinit();
	return fail == 0 && ok > 0 ? 0 : 1;
}
