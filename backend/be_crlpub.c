/*
 * The CRL publisher (be_crlpub.h): what to build when, and the encoded CRLs served.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_ca.h"
#include "be_crl.h"
#include "be_crlpub.h"
#include "be_issue.h"
#include "be_json.h"
#include "be_store.h"

#define C BE_E_CONFIG

struct pub_ca {
	const struct be_ca *ca;
	const char *url;		/* the profiles' crl_url (borrowed), NULL when none */
	unsigned shards;		/* partitions; 1 = only the complete CRL */
	struct be_crl_blob **blobs;	/* [0] complete, [1 + k] partition k; under mu */
	int64_t built_changes;		/* the store's change counter the last build saw */
	time_t built_at;
	bool built;
	bool failed;			/* the last build failed */
	double build_seconds;
};

struct be_crlpub {
	struct be_ctx *ctx;
	unsigned validity, refresh, interval_ms;
	struct pub_ca *cas;
	size_t n;
	void (*log)(bool error, const char *msg);
	pthread_mutex_t mu;		/* blobs, stop */
	pthread_cond_t cv;
	pthread_mutex_t build_mu;	/* one build at a time (thread, tests, bench) */
	bool stop, started;
	pthread_t thread;
};

void
be_crl_blob_unref(struct be_crl_blob *b)
{
	if (b == NULL || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	be_datum_free(&b->der);
	free(b);
}

static int
find_url(struct be_crlpub *pub, struct pub_ca *pc, struct be_err *e)
{
	const struct be_profile *first = NULL;
	size_t i;

	for (i = 0; i < pub->ctx->n_profiles; i++) {
		const struct be_profile *p = &pub->ctx->profiles[i];

		if (p->ca != pc->ca || p->crl_url == NULL)
			continue;
		if (first == NULL) {
			first = p;
			pc->url = p->crl_url;
		} else if (pc->shards > 1 && strcmp(p->crl_url, first->crl_url) != 0) {
			return be_err_set(e, C, "profiles.%.64s.crl_url: differs from profiles.%.64s."
					  "crl_url, but CA %.64s's CRL is partitioned and each "
					  "partition's Issuing Distribution Point names one URL",
					  p->name, first->name, pc->ca->name);
		}
	}
	if (pc->shards > 1 && pc->url == NULL)
		return be_err_set(e, C, "cas.%.64s.crl_shards: a partitioned CRL needs a profile of "
				  "this CA with crl_url (certificates name their partition in it)",
				  pc->ca->name);
	return BE_OK;
}

int
be_crlpub_new(const json_t *conf, struct be_ctx *ctx, struct be_crlpub **out, struct be_err *e)
{
	static const char *const keys[] = { "next_update_seconds", "refresh_seconds",
					    "check_interval_ms", NULL };
	struct be_crlpub *pub = NULL;
	unsigned long long v;
	size_t i;
	int rc;

	*out = NULL;
	if ((pub = calloc(1, sizeof(*pub))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&pub->mu, NULL);
	pthread_mutex_init(&pub->build_mu, NULL);
	pthread_cond_init(&pub->cv, NULL);
	pub->ctx = ctx;
	if (conf != NULL && !json_is_object(conf)) {
		rc = be_err_set(e, C, "crl: must be an object");
		goto out;
	}
	if (conf != NULL && (rc = be_json_keys(conf, "crl", keys, C, e)) != BE_OK)
		goto out;
	v = 86400;
	if (conf != NULL && (rc = be_json_uint(conf, "crl", "next_update_seconds", false, 2,
					       366ull * 86400, &v, C, e)) != BE_OK)
		goto out;
	pub->validity = (unsigned)v;
	v = pub->validity / 2;
	if (conf != NULL && (rc = be_json_uint(conf, "crl", "refresh_seconds", false, 1,
					       366ull * 86400, &v, C, e)) != BE_OK)
		goto out;
	if (v >= pub->validity) {
		rc = be_err_set(e, C, "crl.refresh_seconds: must be less than next_update_seconds, "
				"so a new CRL is out before the old one's nextUpdate");
		goto out;
	}
	pub->refresh = (unsigned)v;
	v = 1000;
	if (conf != NULL && (rc = be_json_uint(conf, "crl", "check_interval_ms", false, 10,
					       60000, &v, C, e)) != BE_OK)
		goto out;
	pub->interval_ms = (unsigned)v;
	if (ctx->n_cas > 0 && (pub->cas = calloc(ctx->n_cas, sizeof(*pub->cas))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ctx->n_cas; i++) {
		struct pub_ca *pc = &pub->cas[i];

		pc->ca = ctx->cas[i];
		pc->shards = ctx->cas[i]->crl_shards > 1 ? ctx->cas[i]->crl_shards : 1;
		pub->n++;
		if ((pc->blobs = calloc(1 + (pc->shards > 1 ? pc->shards : 0),
					sizeof(*pc->blobs))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = find_url(pub, pc, e)) != BE_OK)
			goto out;
	}
	*out = pub;
	pub = NULL;
	rc = BE_OK;
out:
	be_crlpub_free(pub);
	return rc;
}

static size_t
n_blobs(const struct pub_ca *pc)
{
	return 1 + (pc->shards > 1 ? pc->shards : 0);
}

void
be_crlpub_free(struct be_crlpub *pub)
{
	size_t i, k;

	if (pub == NULL)
		return;
	pthread_mutex_lock(&pub->mu);
	pub->stop = true;
	pthread_cond_broadcast(&pub->cv);
	pthread_mutex_unlock(&pub->mu);
	if (pub->started)
		pthread_join(pub->thread, NULL);
	for (i = 0; i < pub->n; i++) {
		for (k = 0; pub->cas[i].blobs != NULL && k < n_blobs(&pub->cas[i]); k++)
			be_crl_blob_unref(pub->cas[i].blobs[k]);
		free(pub->cas[i].blobs);
	}
	free(pub->cas);
	pthread_cond_destroy(&pub->cv);
	pthread_mutex_destroy(&pub->mu);
	pthread_mutex_destroy(&pub->build_mu);
	free(pub);
}

void
be_crlpub_set_log(struct be_crlpub *pub, void (*log)(bool error, const char *msg))
{
	pub->log = log;
}

/* ---------------------------------------------------------------- building */

struct scan {
	struct be_crl_builder **b;	/* [0] complete, [1 + k] partition k */
	unsigned shards;
	struct be_err *e;
};

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int
scan_one(const char *serial, enum be_cert_status status, int reason, int64_t revoked_at,
	 void *arg)
{
	struct scan *sc = arg;
	unsigned char bin[20];
	size_t n = strlen(serial), i = 0, o = 0;
	int hi, lo, rc;

	/* The store's serials are canonical hex (be_store.h): at most 20 octets. */
	if (n == 0 || n > 40)
		return be_err_set(sc->e, BE_E_STORE, "store: serial \"%.48s\" is damaged", serial);
	while (i < n) {
		hi = i == 0 && n % 2 == 1 ? 0 : hexval(serial[i++]);
		lo = hexval(serial[i++]);
		if (hi < 0 || lo < 0)
			return be_err_set(sc->e, BE_E_STORE, "store: serial \"%.48s\" is damaged",
					  serial);
		bin[o++] = (unsigned char)(hi << 4 | lo);
	}
	/* RFC 5280 5.3.1: a certificate on hold is listed with certificateHold; a revoked one
	 * with its reason (unspecified writes none). */
	if (status == BE_CERT_HOLD)
		reason = BE_CRL_REASON_HOLD;
	if ((rc = be_crl_builder_add(sc->b[0], bin, o, (time_t)revoked_at, reason,
				     sc->e)) != BE_OK || sc->shards <= 1)
		return rc;
	return be_crl_builder_add(sc->b[1 + be_crl_shard(bin, o, sc->shards)], bin, o,
				  (time_t)revoked_at, reason, sc->e);
}

static int
blob_new(const struct pub_ca *pc, const struct be_crl_builder *b, int shard, int64_t number,
	 time_t now, unsigned validity, struct be_crl_blob **out, struct be_err *e)
{
	struct be_crl_blob *blob = NULL;
	struct be_crl_params p;
	char url[1100];
	int rc;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.number = (uint64_t)number;
	p.this_update = now;
	p.next_update = now + (time_t)validity;
	if (shard >= 0) {
		if ((rc = be_crl_shard_url(pc->url, (unsigned)shard, url, sizeof(url), e)) != BE_OK)
			goto out;
		p.idp_uri = url;
	}
	if ((blob = calloc(1, sizeof(*blob))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	atomic_init(&blob->refs, 1);
	if ((rc = be_crl_encode(pc->ca, b, &p, &blob->der, e)) != BE_OK)
		goto out;
	blob->number = number;
	blob->this_update = p.this_update;
	blob->next_update = p.next_update;
	blob->entries = be_crl_builder_count(b);
	/* The CA, the cRLNumber and the partition: a new build is a new tag. */
	if (shard < 0)
		snprintf(blob->etag, sizeof(blob->etag), "\"%.16s-%lld\"", pc->ca->id,
			 (long long)number);
	else
		snprintf(blob->etag, sizeof(blob->etag), "\"%.16s-%lld-p%d\"", pc->ca->id,
			 (long long)number, shard);
	*out = blob;
	blob = NULL;
out:
	be_crl_blob_unref(blob);
	return rc;
}

static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds every CRL of pc from the store and publishes them together. */
static int
build_ca(struct be_crlpub *pub, struct pub_ca *pc, struct be_err *e)
{
	struct be_crl_builder **b = NULL;
	struct be_crl_blob **nb = NULL, *old;
	struct scan sc;
	size_t nbl = n_blobs(pc), k;
	int64_t changes = 0, number = 0;
	time_t now = time(NULL);
	double t0 = mono_seconds();
	int rc;

	if ((b = calloc(nbl, sizeof(*b))) == NULL || (nb = calloc(nbl, sizeof(*nb))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < nbl; k++)
		if ((rc = be_crl_builder_new(&b[k], e)) != BE_OK)
			goto out;
	/* The change counter is read before the scan: a change that lands during the scan
	 * moves it again, and the next round rebuilds. */
	if ((rc = be_store_crl_state(pub->ctx->store, pc->ca->id, &changes, &number, e)) !=
	    BE_OK ||
	    (rc = be_store_crl_next_number(pub->ctx->store, pc->ca->id, &number, e)) != BE_OK)
		goto out;
	sc.b = b;
	sc.shards = pc->shards;
	sc.e = e;
	if ((rc = be_store_crl_scan(pub->ctx->store, pc->ca->id, (int64_t)now, scan_one, &sc,
				    e)) != BE_OK)
		goto out;
	for (k = 0; k < nbl; k++)
		if ((rc = blob_new(pc, b[k], (int)k - 1, number, now, pub->validity, &nb[k],
				   e)) != BE_OK)
			goto out;
	pthread_mutex_lock(&pub->mu);
	for (k = 0; k < nbl; k++) {
		old = pc->blobs[k];
		pc->blobs[k] = nb[k];
		nb[k] = old;
	}
	pc->built = true;
	pc->failed = false;
	pc->built_changes = changes;
	pc->built_at = now;
	pc->build_seconds = mono_seconds() - t0;
	pthread_mutex_unlock(&pub->mu);
	if (pub->log != NULL) {
		char msg[200];

		snprintf(msg, sizeof(msg), "CRL of CA %.64s: number %lld, %zu entries, %u bytes%s, "
			 "built in %.3f s", pc->ca->name, (long long)number,
			 be_crl_builder_count(b[0]), pc->blobs[0]->der.size,
			 pc->shards > 1 ? " (and its partitions)" : "", pc->build_seconds);
		pub->log(false, msg);
	}
out:
	for (k = 0; b != NULL && k < nbl; k++)
		be_crl_builder_free(b[k]);
	for (k = 0; nb != NULL && k < nbl; k++)
		be_crl_blob_unref(nb[k]);
	free(b);
	free(nb);
	return rc;
}

int
be_crlpub_refresh(struct be_crlpub *pub, bool force, struct be_err *e)
{
	size_t i;
	int rc = BE_OK, r;

	if (pub->ctx->store == NULL)
		return be_err_set(e, BE_E_UNAVAILABLE, "no store: no CRL can be built");
	pthread_mutex_lock(&pub->build_mu);
	for (i = 0; i < pub->n; i++) {
		struct pub_ca *pc = &pub->cas[i];
		struct be_err le = { 0, "" };
		int64_t changes = 0, number = 0;
		bool need = force || !pc->built || time(NULL) - pc->built_at >= (time_t)pub->refresh;

		if (!need) {
			if ((r = be_store_crl_state(pub->ctx->store, pc->ca->id, &changes, &number,
						    &le)) == BE_OK)
				need = changes != pc->built_changes;
			else if (rc == BE_OK)
				rc = be_err_set(e, r, "%s", le.msg);
		}
		if (!need)
			continue;
		if ((r = build_ca(pub, pc, &le)) != BE_OK) {
			pthread_mutex_lock(&pub->mu);
			pc->failed = true;
			pthread_mutex_unlock(&pub->mu);
			if (pub->log != NULL) {
				char msg[BE_ERR_MSG_MAX + 64];

				snprintf(msg, sizeof(msg), "CRL of CA %.64s: not built: %s",
					 pc->ca->name, le.msg);
				pub->log(true, msg);
			}
			if (rc == BE_OK)
				rc = be_err_set(e, r, "CRL of CA %.64s: %s", pc->ca->name, le.msg);
		}
	}
	pthread_mutex_unlock(&pub->build_mu);
	return rc;
}

static void *
publisher(void *arg)
{
	struct be_crlpub *pub = arg;
	struct timespec ts;

	pthread_mutex_lock(&pub->mu);
	while (!pub->stop) {
		pthread_mutex_unlock(&pub->mu);
		be_crlpub_refresh(pub, false, NULL);
		pthread_mutex_lock(&pub->mu);
		if (pub->stop)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += pub->interval_ms / 1000;
		ts.tv_nsec += (long)(pub->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!pub->stop && pthread_cond_timedwait(&pub->cv, &pub->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&pub->mu);
	return NULL;
}

int
be_crlpub_start(struct be_crlpub *pub, struct be_err *e)
{
	int r;

	if (pub->started)
		return BE_OK;
	if ((r = pthread_create(&pub->thread, NULL, publisher, pub)) != 0)
		return be_err_set(e, BE_E_UNAVAILABLE, "cannot start the CRL publisher: %s",
				  strerror(r));
	pub->started = true;
	return BE_OK;
}

/* ---------------------------------------------------------------- serving */

void
be_crlpub_adopt(struct be_crlpub *pub, struct be_crlpub *from)
{
	size_t i, j, k;

	if (pub == NULL || from == NULL || pub == from)
		return;
	pthread_mutex_lock(&from->mu);
	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n; i++) {
		struct pub_ca *pc = &pub->cas[i];

		for (j = 0; j < from->n; j++) {
			const struct pub_ca *fc = &from->cas[j];

			if (strcmp(fc->ca->id, pc->ca->id) != 0 || fc->shards != pc->shards)
				continue;
			for (k = 0; k < n_blobs(pc); k++) {
				if (pc->blobs[k] != NULL || fc->blobs[k] == NULL)
					continue;
				atomic_fetch_add(&fc->blobs[k]->refs, 1);
				pc->blobs[k] = fc->blobs[k];
			}
		}
	}
	pthread_mutex_unlock(&pub->mu);
	pthread_mutex_unlock(&from->mu);
}

int
be_crlpub_get(struct be_crlpub *pub, const char *ca, int shard, struct be_crl_blob **out,
	      struct be_err *e)
{
	struct pub_ca *pc = NULL;
	size_t i;
	int rc = BE_OK;

	*out = NULL;
	for (i = 0; i < pub->n; i++)
		if (strcmp(pub->cas[i].ca->name, ca) == 0)
			pc = &pub->cas[i];
	if (pc == NULL)
		return be_err_set(e, BE_E_NOTFOUND, "no CA named \"%.64s\"", ca);
	if (shard >= 0 && (pc->shards <= 1 || (unsigned)shard >= pc->shards))
		return be_err_set(e, BE_E_NOTFOUND, "CA %.64s has no CRL partition %d", ca, shard);
	pthread_mutex_lock(&pub->mu);
	*out = pc->blobs[shard < 0 ? 0 : 1 + shard];
	if (*out != NULL)
		atomic_fetch_add(&(*out)->refs, 1);
	else
		rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s is not built yet", ca);
	pthread_mutex_unlock(&pub->mu);
	return rc;
}

int
be_crlpub_check(struct be_crlpub *pub, time_t now, struct be_err *e)
{
	size_t i, k;
	int rc = BE_OK;

	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n && rc == BE_OK; i++) {
		const struct pub_ca *pc = &pub->cas[i];

		if (pc->failed && pc->blobs[0] == NULL)
			rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s could not be built",
					pc->ca->name);
		for (k = 0; rc == BE_OK && k < n_blobs(pc); k++)
			if (pc->blobs[k] != NULL && pc->blobs[k]->next_update <= now)
				rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s is past its "
						"nextUpdate (RFC 5280 5.1.2.5)%s", pc->ca->name,
						pc->failed ? " and its rebuild failed" : "");
	}
	pthread_mutex_unlock(&pub->mu);
	return rc;
}

size_t
be_crlpub_stats(struct be_crlpub *pub, struct be_crlpub_stat *out, size_t max)
{
	size_t i, k, n = 0;

	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n; i++) {
		const struct pub_ca *pc = &pub->cas[i];

		for (k = 0; k < n_blobs(pc) && n < max; k++) {
			const struct be_crl_blob *b = pc->blobs[k];
			struct be_crlpub_stat *s = &out[n++];

			memset(s, 0, sizeof(*s));
			snprintf(s->ca, sizeof(s->ca), "%s", pc->ca->name);
			s->shard = (int)k - 1;
			s->built = b != NULL;
			s->build_seconds = pc->build_seconds;
			if (b == NULL)
				continue;
			s->number = b->number;
			s->this_update = b->this_update;
			s->next_update = b->next_update;
			s->bytes = b->der.size;
			s->entries = b->entries;
		}
	}
	pthread_mutex_unlock(&pub->mu);
	return n;
}
