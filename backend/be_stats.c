/*
 * Backend counters (lock-free) and the health check.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "be_issue.h"
#include "be_keypool.h"
#include "be_stats.h"

const double be_stats_issue_bounds[BE_STATS_ISSUE_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

static const char *const keypool_preset[BE_STATS_KEYPOOL_PRESET] = {
	"rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519",
};

enum { SLOT_EMPTY = 0, SLOT_FILLING, SLOT_READY };

/* Slots beyond the preset ones are claimed by the first report of a type. */
struct keypool_slot {
	atomic_uint state;
	char type[16];
	atomic_uint_fast64_t depth;
};

/* Per bucket (not cumulative); the last one counts what exceeds every bound. */
static atomic_uint_fast64_t issue_buckets[BE_STATS_ISSUE_BUCKETS + 1];
static atomic_uint_fast64_t issue_sum_ns;
static atomic_uint_fast64_t store_errors;
static struct keypool_slot keypool[BE_STATS_KEYPOOL_MAX - BE_STATS_KEYPOOL_PRESET];
static atomic_uint_fast64_t keypool_preset_depth[BE_STATS_KEYPOOL_PRESET];

uint64_t
be_stats_clock(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
be_stats_issue_observe(uint64_t start)
{
	uint64_t now = be_stats_clock(), ns = now > start ? now - start : 0;
	double s = (double)ns / 1e9;
	size_t i;

	for (i = 0; i < BE_STATS_ISSUE_BUCKETS && s > be_stats_issue_bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&issue_buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&issue_sum_ns, ns, memory_order_relaxed);
}

void
be_stats_store_error(void)
{
	atomic_fetch_add_explicit(&store_errors, 1, memory_order_relaxed);
}

/* The gauge of key type k: a preset one, else a slot claimed on first use; NULL when all
 * are taken. */
static atomic_uint_fast64_t *
keypool_gauge(const struct be_keyspec *k)
{
	char name[16];
	size_t i;
	struct keypool_slot *s;
	unsigned st, expect;

	be_keyspec_name(k, name, sizeof(name));
	for (i = 0; i < BE_STATS_KEYPOOL_PRESET; i++)
		if (strcmp(name, keypool_preset[i]) == 0)
			return &keypool_preset_depth[i];
	for (i = 0; i < sizeof(keypool) / sizeof(keypool[0]); i++) {
		s = &keypool[i];
		st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == SLOT_EMPTY) {
			expect = SLOT_EMPTY;
			if (atomic_compare_exchange_strong_explicit(&s->state, &expect,
								    SLOT_FILLING,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				memcpy(s->type, name, sizeof(s->type));
				atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
				return &s->depth;
			}
			st = expect;
		}
		while (st == SLOT_FILLING)
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (strcmp(s->type, name) == 0)
			return &s->depth;
	}
	return NULL;
}

void
be_stats_keypool_add(const struct be_keyspec *k, int64_t delta)
{
	atomic_uint_fast64_t *g = keypool_gauge(k);

	/* two's complement: adding the unsigned image of a negative delta subtracts */
	if (g != NULL)
		atomic_fetch_add_explicit(g, (uint_fast64_t)delta, memory_order_relaxed);
}

void
be_stats_keypool_set(const struct be_keyspec *k, uint64_t depth)
{
	atomic_uint_fast64_t *g = keypool_gauge(k);

	if (g != NULL)
		atomic_store_explicit(g, depth, memory_order_relaxed);
}

void
be_stats_snapshot(struct be_stats_snapshot *out)
{
	uint64_t n = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i <= BE_STATS_ISSUE_BUCKETS; i++) {
		n += atomic_load_explicit(&issue_buckets[i], memory_order_relaxed);
		if (i < BE_STATS_ISSUE_BUCKETS)
			out->issue_le[i] = n;
	}
	out->issue_count = n;
	out->issue_sum = (double)atomic_load_explicit(&issue_sum_ns, memory_order_relaxed) / 1e9;
	out->store_errors = atomic_load_explicit(&store_errors, memory_order_relaxed);
	for (i = 0; i < BE_STATS_KEYPOOL_PRESET; i++) {
		snprintf(out->keypool[i].type, sizeof(out->keypool[i].type), "%s",
			 keypool_preset[i]);
		out->keypool[i].depth = atomic_load_explicit(&keypool_preset_depth[i],
							     memory_order_relaxed);
	}
	out->n_keypool = BE_STATS_KEYPOOL_PRESET;
	for (i = 0; i < sizeof(keypool) / sizeof(keypool[0]); i++) {
		if (atomic_load_explicit(&keypool[i].state, memory_order_acquire) != SLOT_READY)
			continue;
		memcpy(out->keypool[out->n_keypool].type, keypool[i].type,
		       sizeof(keypool[i].type));
		out->keypool[out->n_keypool].depth =
			atomic_load_explicit(&keypool[i].depth, memory_order_relaxed);
		out->n_keypool++;
	}
}

/* ---------------------------------------------------------------- health */

/* A test signature by ca's key over a fresh nonce, verified with the certificate's key. */
static int
ca_signs(const struct be_ca *ca, struct be_err *e)
{
	static const char label[] = "certgate health check ";
	unsigned char msg[sizeof(label) - 1 + 16];
	gnutls_datum_t data = { msg, sizeof(msg) }, sig = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	gnutls_digest_algorithm_t hash = ca->hash;
	gnutls_pk_algorithm_t pk;
	gnutls_sign_algorithm_t alg;
	int rc, r;

	memcpy(msg, label, sizeof(label) - 1);
	if (gnutls_rnd(GNUTLS_RND_NONCE, msg + sizeof(label) - 1, 16) < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s: no random numbers", ca->name);
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_pubkey_import_x509(pub, ca->crt, 0) < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s: certificate key unreadable", ca->name);
		goto out;
	}
	pk = (gnutls_pk_algorithm_t)gnutls_pubkey_get_pk_algorithm(pub, NULL);
	if (pk == GNUTLS_PK_EDDSA_ED25519 || hash == GNUTLS_DIG_UNKNOWN)
		hash = GNUTLS_DIG_SHA512;
	alg = gnutls_pk_to_sign(pk, hash);
	if (alg == GNUTLS_SIGN_UNKNOWN) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s: no signature algorithm for its key",
				ca->name);
		goto out;
	}
	r = gnutls_privkey_sign_data2(ca->key, alg, 0, &data, &sig);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s: the key does not sign: %s", ca->name,
				gnutls_strerror(r));
		goto out;
	}
	r = gnutls_pubkey_verify_data2(pub, alg, 0, &data, &sig);
	if (r < 0) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "CA %s: the key's signature does not verify "
				"with the CA certificate: %s", ca->name, gnutls_strerror(r));
		goto out;
	}
	rc = BE_OK;
out:
	gnutls_free(sig.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return rc;
}

int
be_health_check(struct be_ctx *ctx, struct be_err *e)
{
	size_t i;
	int rc;

	if ((rc = be_crypto_check(e)) != BE_OK) {
		if (ctx != NULL)
			be_keypool_halt(ctx->keypool);
		goto out;
	}
	if (ctx == NULL || ctx->store == NULL) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no store");
		goto out;
	}
	if ((rc = be_store_health(ctx->store, e)) != BE_OK)
		goto out;
	for (i = 0; i < ctx->n_cas; i++)
		if ((rc = ca_signs(ctx->cas[i], e)) != BE_OK)
			goto out;
	rc = BE_OK;
out:
	return rc;
}
