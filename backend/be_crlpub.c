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
#include "be_keystore.h"
#include "be_store.h"

#define C BE_E_CONFIG

struct pub_ca {
	const struct be_ca *ca;		/* changes only under build_mu and mu together */
	struct be_ca *owned;		/* a key store CA (be_keystore_ca): ca, owned */
	char name[72];			/* the URL's name: the CA's, or "tsb-<label>" */
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
	struct pub_ca **cas;		/* the configured CAs, then the key store's; the array
					 * grows only under build_mu and mu together */
	size_t n, cap;
	struct be_keystore *ks;		/* borrowed, may be NULL */
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
	pub->cap = ctx->n_cas;
	for (i = 0; i < ctx->n_cas; i++) {
		struct pub_ca *pc;

		if ((pc = pub->cas[i] = calloc(1, sizeof(*pc))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		pc->ca = ctx->cas[i];
		snprintf(pc->name, sizeof(pc->name), "%s", pc->ca->name);
		pc->shards = ctx->cas[i]->crl_shards > 1 ? ctx->cas[i]->crl_shards : 1;
		pub->n = i + 1;
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

static void
pub_ca_free(struct pub_ca *pc)
{
	size_t k;

	if (pc == NULL)
		return;
	for (k = 0; pc->blobs != NULL && k < n_blobs(pc); k++)
		be_crl_blob_unref(pc->blobs[k]);
	free(pc->blobs);
	be_ca_free(pc->owned);
	free(pc);
}

void
be_crlpub_free(struct be_crlpub *pub)
{
	size_t i;

	if (pub == NULL)
		return;
	pthread_mutex_lock(&pub->mu);
	pub->stop = true;
	pthread_cond_broadcast(&pub->cv);
	pthread_mutex_unlock(&pub->mu);
	if (pub->started)
		pthread_join(pub->thread, NULL);
	for (i = 0; i < pub->n; i++)
		pub_ca_free(pub->cas[i]);
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
			 "built in %.3f s", pc->name, (long long)number,
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

void
be_crlpub_set_keystore(struct be_crlpub *pub, struct be_keystore *ks)
{
	pub->ks = ks;
}

/* The URL name of stored key label: "tsb-<label>" when that is a plain name (protocols/crl.c
 * serves [A-Za-z0-9._-], at most 64 characters), else false. */
static bool
ks_name(const char *label, char *buf, size_t len)
{
	size_t i, n = strlen(label);

	if (n == 0 || n + 4 > 64 || n + 5 > len)
		return false;
	for (i = 0; i < n; i++) {
		char c = label[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	snprintf(buf, len, "tsb-%s", label);
	return true;
}

static struct pub_ca *
find_name(struct be_crlpub *pub, const char *name)
{
	size_t i;

	for (i = 0; i < pub->n; i++)
		if (strcmp(pub->cas[i]->name, name) == 0)
			return pub->cas[i];
	return NULL;
}

/* Stored key label as an issuer: a new entry when it first acts as a CA, the entry's CA
 * replaced when its certificate changed.  Keys that cannot act as a CA (no certificate, not
 * a CA certificate, not valid now, sign false: be_keystore_ca) are passed over; an entry
 * whose certificate was replaced by one that cannot keeps its CA.  *keep: label has an
 * entry after the call.  Under build_mu. */
static int
ks_one(struct be_crlpub *pub, const char *label, bool *keep, struct be_err *e)
{
	struct be_ks_key *k = NULL;
	struct be_ca *ca = NULL, *old = NULL;
	struct pub_ca *pc = NULL, *fresh = NULL, **grown;
	struct be_err ignored = { 0, "" };
	char name[72];
	int rc = BE_OK;

	if (!ks_name(label, name, sizeof(name)))
		goto out;
	pc = find_name(pub, name);
	if (pc != NULL && pc->owned == NULL)
		goto out;		/* a configured CA has that name: it wins */
	if ((rc = be_keystore_key_get(pub->ks, label, &k, e)) != BE_OK) {
		if (rc == BE_E_NOTFOUND)
			rc = BE_OK;	/* deleted since the listing */
		goto out;
	}
	if (k->cert.size == 0)
		goto out;		/* its certificate was deleted: no CA any more */
	if (pc != NULL)
		*keep = true;
	if (pc != NULL && pc->ca->chain[0].size == k->cert.size &&
	    memcmp(pc->ca->chain[0].data, k->cert.data, k->cert.size) == 0)
		goto out;		/* unchanged */
	/* The handle be_issue signs the key's certificates with (be_issuer.h), and its hash. */
	if (be_keystore_ca(pub->ks, k, GNUTLS_DIG_UNKNOWN, time(NULL), &ca, &ignored) != BE_OK)
		goto out;
	if (pc != NULL) {
		/* A new certificate (perhaps a new key identifier): built anew. */
		pthread_mutex_lock(&pub->mu);
		old = pc->owned;
		pc->ca = pc->owned = ca;
		ca = NULL;
		pc->built = false;
		pthread_mutex_unlock(&pub->mu);
		goto out;
	}
	if ((fresh = calloc(1, sizeof(*fresh))) == NULL ||
	    (fresh->blobs = calloc(1, sizeof(*fresh->blobs))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(fresh->name, sizeof(fresh->name), "%s", name);
	fresh->shards = 1;
	pthread_mutex_lock(&pub->mu);
	if (pub->n == pub->cap) {
		size_t cap = pub->cap ? 2 * pub->cap : 8;

		if ((grown = realloc(pub->cas, cap * sizeof(*grown))) == NULL) {
			pthread_mutex_unlock(&pub->mu);
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		pub->cas = grown;
		pub->cap = cap;
	}
	fresh->ca = fresh->owned = ca;
	ca = NULL;
	pub->cas[pub->n++] = fresh;
	fresh = NULL;
	pthread_mutex_unlock(&pub->mu);
	*keep = true;
out:
	pub_ca_free(fresh);
	be_ca_free(old);
	be_ca_free(ca);
	be_ks_key_free(k);
	return rc;
}

/* Every key of the key store that acts as a CA gets its CRL (ks_one).  A key deleted (its
 * material destroyed) or whose certificate was deleted loses its CRL: the signing handle
 * is dropped with it.  Under build_mu. */
static int
ks_discover(struct be_crlpub *pub, struct be_err *e)
{
	char **labels = NULL, name[72];
	bool *keep = NULL;
	size_t n = 0, i, j, o;
	int rc;

	if (pub->ks == NULL)
		return BE_OK;
	if ((rc = be_keystore_key_list(pub->ks, &labels, &n, e)) != BE_OK)
		goto out;
	if ((keep = calloc(pub->n + n + 1, sizeof(*keep))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && rc == BE_OK; i++) {
		bool k = false;

		rc = ks_one(pub, labels[i], &k, e);
		if (k && ks_name(labels[i], name, sizeof(name)))
			for (j = 0; j < pub->n; j++)
				if (strcmp(pub->cas[j]->name, name) == 0)
					keep[j] = true;
	}
	if (rc != BE_OK)
		goto out;
	pthread_mutex_lock(&pub->mu);
	for (i = o = 0; i < pub->n; i++) {
		struct pub_ca *pc = pub->cas[i];

		if (pc->owned == NULL || keep[i])
			pub->cas[o++] = pc;
		else
			pub_ca_free(pc);
	}
	pub->n = o;
	pthread_mutex_unlock(&pub->mu);
out:
	free(keep);
	be_strv_free(labels, n);
	return rc;
}

int
be_crlpub_refresh(struct be_crlpub *pub, bool force, struct be_err *e)
{
	struct be_err de = { 0, "" };
	size_t i;
	int rc = BE_OK, r;

	if (pub->ctx->store == NULL)
		return be_err_set(e, BE_E_UNAVAILABLE, "no store: no CRL can be built");
	pthread_mutex_lock(&pub->build_mu);
	if ((r = ks_discover(pub, &de)) != BE_OK) {
		rc = be_err_set(e, r, "key store CAs: %s", de.msg);
		if (pub->log != NULL) {
			char msg[BE_ERR_MSG_MAX + 64];

			snprintf(msg, sizeof(msg), "CRLs of key store CAs: %s", de.msg);
			pub->log(true, msg);
		}
	}
	for (i = 0; i < pub->n; i++) {
		struct pub_ca *pc = pub->cas[i];
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
					 pc->name, le.msg);
				pub->log(true, msg);
			}
			if (rc == BE_OK)
				rc = be_err_set(e, r, "CRL of CA %.64s: %s", pc->name, le.msg);
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
		struct pub_ca *pc = pub->cas[i];

		for (j = 0; j < from->n; j++) {
			const struct pub_ca *fc = from->cas[j];

			if (strcmp(fc->ca->id, pc->ca->id) != 0 || fc->shards != pc->shards ||
			    strcmp(fc->name, pc->name) != 0)
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
	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n; i++)
		if (strcmp(pub->cas[i]->name, ca) == 0)
			pc = pub->cas[i];
	if (pc == NULL) {
		rc = be_err_set(e, BE_E_NOTFOUND, "no CA named \"%.64s\"", ca);
		goto out;
	}
	if (shard >= 0 && (pc->shards <= 1 || (unsigned)shard >= pc->shards)) {
		rc = be_err_set(e, BE_E_NOTFOUND, "CA %.64s has no CRL partition %d", ca, shard);
		goto out;
	}
	*out = pc->blobs[shard < 0 ? 0 : 1 + shard];
	if (*out != NULL)
		atomic_fetch_add(&(*out)->refs, 1);
	else
		rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s is not built yet", ca);
out:
	pthread_mutex_unlock(&pub->mu);
	return rc;
}

bool
be_crlpub_has(struct be_crlpub *pub, const char *ca)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n && !found; i++)
		found = strcmp(pub->cas[i]->name, ca) == 0;
	pthread_mutex_unlock(&pub->mu);
	return found;
}

int
be_crlpub_check(struct be_crlpub *pub, time_t now, struct be_err *e)
{
	size_t i, k;
	int rc = BE_OK;

	pthread_mutex_lock(&pub->mu);
	for (i = 0; i < pub->n && rc == BE_OK; i++) {
		const struct pub_ca *pc = pub->cas[i];

		if (pc->failed && pc->blobs[0] == NULL)
			rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s could not be built",
					pc->name);
		for (k = 0; rc == BE_OK && k < n_blobs(pc); k++)
			if (pc->blobs[k] != NULL && pc->blobs[k]->next_update <= now)
				rc = be_err_set(e, BE_E_UNAVAILABLE, "the CRL of CA %.64s is past its "
						"nextUpdate (RFC 5280 5.1.2.5)%s", pc->name,
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
		const struct pub_ca *pc = pub->cas[i];

		for (k = 0; k < n_blobs(pc) && n < max; k++) {
			const struct be_crl_blob *b = pc->blobs[k];
			struct be_crlpub_stat *s = &out[n++];

			memset(s, 0, sizeof(*s));
			snprintf(s->ca, sizeof(s->ca), "%.63s", pc->name);
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
