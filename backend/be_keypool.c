/*
 * The key pool: ready key pairs per type, refilled by low-priority background threads.
 *
 * One mutex guards everything; the work under it is O(number of types).  Key generation
 * itself runs unlocked.  A worker picks the type that is emptiest relative to its target
 * (counting keys being generated), makes one key, puts it in, and sleeps on the condition
 * variable when every type is full; be_keypool_take wakes one worker.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "be_issue.h"
#include "be_json.h"
#include "be_keypool.h"
#include "be_stats.h"

#define C BE_E_CONFIG

/* Linux's SCHED_IDLE (sched(7)); <sched.h> hides it without _GNU_SOURCE. */
#if defined(__linux__) && !defined(SCHED_IDLE)
#define SCHED_IDLE 5
#endif

/* After a failed generation (which should not happen) a worker waits this long before
 * trying again, so that a broken library does not spin a core. */
#define RETRY_MS 1000

/* How long be_keypool_free waits for a thread once the crypto library has failed: a
 * generation under way then never ends (be_key.h), and its thread is left behind. */
#define ABANDON_MS 2000

struct slot {
	struct be_keyspec spec;
	size_t target;
	gnutls_x509_privkey_t *keys;	/* target entries, the first n ready */
	size_t n;
	size_t busy;			/* being generated */
	uint64_t taken, missed, generated;
};

struct be_keypool {
	pthread_mutex_t mu;
	pthread_cond_t work;		/* a slot needs a key, or stop */
	pthread_cond_t filled;		/* a key was added (be_keypool_wait_full) */
	bool locks;
	struct slot *slots;
	size_t n_slots;
	unsigned n_threads;
	pthread_t *threads;
	unsigned n_started;
	unsigned running;		/* threads that have not returned */
	bool started;
	bool stop;
	struct be_keypool *next_abandoned;
};

/* Pools whose threads could not be joined (be_keypool_free), kept reachable: a thread
 * stuck in a failed crypto library still points at its pool until the process ends. */
static struct be_keypool *abandoned;
static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------- configuration */

static int
slot_add(struct be_keypool *kp, const struct be_keyspec *spec, size_t target, const char *key,
	 struct be_err *e)
{
	char name[24];
	size_t i;

	for (i = 0; i < kp->n_slots; i++)
		if (be_keyspec_equal(&kp->slots[i].spec, spec))
			return be_err_set(e, C, "keypool.%.32s: %s is listed twice", key,
					  be_keyspec_name(spec, name, sizeof(name)));
	if (target == 0)
		return BE_OK;
	kp->slots[kp->n_slots].spec = *spec;
	kp->slots[kp->n_slots].target = target;
	if ((kp->slots[kp->n_slots].keys = calloc(target, sizeof(gnutls_x509_privkey_t))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	kp->n_slots++;
	return BE_OK;
}

/* A type certgate generates (be_key_generate's rules), so that a worker never loops on a
 * type it cannot make. */
static bool
spec_generated(const struct be_keyspec *k)
{
	switch (k->alg) {
	case BE_KEY_RSA:
		return k->bits >= 2048 && k->bits <= 8192 && k->bits % 8 == 0;
	case BE_KEY_EC:
		return be_keyspec_curve(k) != GNUTLS_ECC_CURVE_INVALID;
	case BE_KEY_ED25519:
		return true;
	default:
		return false;
	}
}

static int
parse_conf(struct be_keypool *kp, const json_t *conf, struct be_err *e)
{
	const char *key;
	json_t *v;
	struct be_keyspec spec;
	json_int_t n;
	int rc;

	if (!json_is_object(conf))
		return be_err_set(e, C, "keypool: must be an object of key type: count, and "
				  "\"threads\"");
	json_object_foreach((json_t *)conf, key, v) {
		if (strcmp(key, "threads") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > BE_KEYPOOL_MAX_THREADS)
				return be_err_set(e, C, "keypool.threads: must be an integer from 1 "
						  "to %d", BE_KEYPOOL_MAX_THREADS);
			kp->n_threads = (unsigned)json_integer_value(v);
			continue;
		}
		if (be_keyspec_parse(key, &spec) != BE_OK || !spec_generated(&spec))
			return be_err_set(e, C, "keypool.%.32s: not a key type certgate generates "
					  "(rsa2048 .. rsa8192, p256, p384, p521, ed25519) and not "
					  "\"threads\"", key);
		if (!json_is_integer(v) || (n = json_integer_value(v)) < 0 ||
		    n > BE_KEYPOOL_MAX_DEPTH)
			return be_err_set(e, C, "keypool.%.32s: must be a number of keys from 0 "
					  "to %d", key, BE_KEYPOOL_MAX_DEPTH);
		if ((rc = slot_add(kp, &spec, (size_t)n, key, e)) != BE_OK)
			return rc;
	}
	return BE_OK;
}

/* True when a profile lets the server generate RSA-2048 keys. */
static bool
wants_rsa2048(const struct be_ctx *ctx)
{
	const struct be_keyspec rsa = { BE_KEY_RSA, 2048 };
	size_t i;

	for (i = 0; ctx != NULL && i < ctx->n_profiles; i++) {
		const struct be_profile *p = &ctx->profiles[i];

		if (p->server_keygen && (be_keyspec_equal(&p->server_key, &rsa) ||
					 be_profile_key_allowed(p, &rsa)))
			return true;
	}
	return false;
}

int
be_keypool_new(const json_t *conf, const struct be_ctx *ctx, struct be_keypool **out,
	       struct be_err *e)
{
	const struct be_keyspec rsa = { BE_KEY_RSA, 2048 };
	struct be_keypool *kp = NULL;
	size_t cap;
	int rc = BE_OK;

	*out = NULL;
	if ((kp = calloc(1, sizeof(*kp))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_mutex_init(&kp->mu, NULL) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_cond_init(&kp->work, NULL) != 0) {
		pthread_mutex_destroy(&kp->mu);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_cond_init(&kp->filled, NULL) != 0) {
		pthread_cond_destroy(&kp->work);
		pthread_mutex_destroy(&kp->mu);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	kp->locks = true;
	kp->n_threads = 1;
	cap = conf != NULL && json_is_object(conf) ? json_object_size(conf) : 1;
	if ((kp->slots = calloc(cap > 0 ? cap : 1, sizeof(*kp->slots))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (conf != NULL)
		rc = parse_conf(kp, conf, e);
	else if (wants_rsa2048(ctx))
		rc = slot_add(kp, &rsa, BE_KEYPOOL_DEFAULT_RSA2048, "rsa2048", e);
	if (rc != BE_OK || kp->n_slots == 0)
		goto out;
	if ((kp->threads = calloc(kp->n_threads, sizeof(*kp->threads))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	*out = kp;
	kp = NULL;
out:
	be_keypool_free(kp);
	return rc;
}

/* ---------------------------------------------------------------- refill threads */

/* The lowest priority there is for this thread: SCHED_IDLE runs it only on a CPU that has
 * nothing else to do; nice 19 where that is refused. */
static void
lower_priority(void)
{
#ifdef __linux__
	/* Seen by ps -L and top -H (and by the tests' getrandom shim). */
	(void)prctl(PR_SET_NAME, "cg-keypool", 0, 0, 0);
#endif
#ifdef SCHED_IDLE
	struct sched_param sp;

	memset(&sp, 0, sizeof(sp));
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0)
		return;
#endif
#if defined(__linux__) && defined(SYS_gettid)
	/* Linux applies PRIO_PROCESS with a thread id to that thread only. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
}

static void
publish(const struct slot *s)
{
	be_stats_keypool_set(&s->spec, (uint64_t)s->n);
}

/* The slot most in need of a key, or NULL when all are full (counting keys in the making). */
static struct slot *
pick(struct be_keypool *kp)
{
	struct slot *best = NULL;
	size_t i;

	for (i = 0; i < kp->n_slots; i++) {
		struct slot *s = &kp->slots[i];

		if (s->n + s->busy >= s->target)
			continue;
		/* (n + busy) / target smallest, compared without division. */
		if (best == NULL || (s->n + s->busy) * best->target <
				    (best->n + best->busy) * s->target)
			best = s;
	}
	return best;
}

static void
deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void halt_locked(struct be_keypool *kp);

static void *
worker(void *arg)
{
	struct be_keypool *kp = arg;
	gnutls_x509_privkey_t key = NULL;
	struct timespec until;
	struct slot *s;
	int rc;

	lower_priority();
	pthread_mutex_lock(&kp->mu);
	for (;;) {
		while (!kp->stop && (s = pick(kp)) == NULL)
			pthread_cond_wait(&kp->work, &kp->mu);
		if (kp->stop)
			break;
		s->busy++;
		pthread_mutex_unlock(&kp->mu);

		rc = be_key_generate(&s->spec, &key, NULL);

		pthread_mutex_lock(&kp->mu);
		s->busy--;
		if (rc != BE_OK && be_crypto_failed())
			halt_locked(kp);	/* nothing more can be generated */
		if (rc == BE_OK && !kp->stop && s->n < s->target) {
			s->keys[s->n++] = key;
			key = NULL;
			s->generated++;
			publish(s);
			pthread_cond_broadcast(&kp->filled);
		}
		if (key != NULL) {
			pthread_mutex_unlock(&kp->mu);
			gnutls_x509_privkey_deinit(key);
			key = NULL;
			pthread_mutex_lock(&kp->mu);
		}
		if (rc != BE_OK && !kp->stop) {
			deadline_in(&until, RETRY_MS);
			while (!kp->stop &&
			       pthread_cond_timedwait(&kp->work, &kp->mu, &until) != ETIMEDOUT)
				;
		}
	}
	kp->running--;
	pthread_cond_broadcast(&kp->filled);	/* be_keypool_free waits for it */
	pthread_mutex_unlock(&kp->mu);
	return NULL;
}

int
be_keypool_start(struct be_keypool *kp)
{
	unsigned i;
	int rc = BE_OK;

	if (kp == NULL)
		goto out;
	pthread_mutex_lock(&kp->mu);
	if (kp->started || kp->stop) {
		pthread_mutex_unlock(&kp->mu);
		goto out;
	}
	kp->started = true;
	pthread_mutex_unlock(&kp->mu);

	for (i = 0; i < kp->n_threads; i++) {
		pthread_mutex_lock(&kp->mu);
		kp->running++;
		pthread_mutex_unlock(&kp->mu);
		if (pthread_create(&kp->threads[kp->n_started], NULL, worker, kp) != 0) {
			pthread_mutex_lock(&kp->mu);
			kp->running--;
			pthread_mutex_unlock(&kp->mu);
			break;
		}
		kp->n_started++;
	}
	if (kp->n_started == 0)
		rc = BE_E_UNAVAILABLE;
out:
	return rc;
}

/* Stops the pool for good and wipes its ready keys; kp->mu held. */
static void
halt_locked(struct be_keypool *kp)
{
	size_t i, j;

	kp->stop = true;
	pthread_cond_broadcast(&kp->work);
	for (i = 0; i < kp->n_slots; i++) {
		struct slot *s = &kp->slots[i];

		for (j = 0; j < s->n; j++) {
			gnutls_x509_privkey_deinit(s->keys[j]);
			s->keys[j] = NULL;
		}
		s->n = 0;
		publish(s);
	}
}

void
be_keypool_halt(struct be_keypool *kp)
{
	if (kp == NULL || !kp->locks)
		return;
	pthread_mutex_lock(&kp->mu);
	if (!kp->stop)
		halt_locked(kp);
	pthread_mutex_unlock(&kp->mu);
}

/* Waits for every thread to return; after a crypto failure ABANDON_MS at most.  True when
 * all returned (they may be joined). */
static bool
threads_returned(struct be_keypool *kp)
{
	struct timespec until;
	bool done;

	deadline_in(&until, ABANDON_MS);
	pthread_mutex_lock(&kp->mu);
	while (kp->running > 0) {
		if (!be_crypto_failed()) {
			/* A generation under way finishes (and is checked) in its time. */
			pthread_cond_wait(&kp->filled, &kp->mu);
			deadline_in(&until, ABANDON_MS);
		} else if (pthread_cond_timedwait(&kp->filled, &kp->mu, &until) == ETIMEDOUT) {
			break;
		}
	}
	done = kp->running == 0;
	pthread_mutex_unlock(&kp->mu);
	return done;
}

void
be_keypool_free(struct be_keypool *kp)
{
	size_t i, j;
	unsigned t;

	if (kp == NULL)
		return;
	if (kp->locks) {
		pthread_mutex_lock(&kp->mu);
		kp->stop = true;
		pthread_cond_broadcast(&kp->work);
		pthread_mutex_unlock(&kp->mu);
		if (!threads_returned(kp)) {
			/* A thread is stuck in the failed library: let it go, keep what it
			 * points at, wipe the keys. */
			be_keypool_halt(kp);
			for (t = 0; t < kp->n_started; t++)
				pthread_detach(kp->threads[t]);
			pthread_mutex_lock(&abandoned_mu);
			kp->next_abandoned = abandoned;
			abandoned = kp;
			pthread_mutex_unlock(&abandoned_mu);
			return;
		}
	}
	for (t = 0; t < kp->n_started; t++)
		pthread_join(kp->threads[t], NULL);
	for (i = 0; i < kp->n_slots; i++) {
		struct slot *s = &kp->slots[i];

		for (j = 0; j < s->n; j++)
			gnutls_x509_privkey_deinit(s->keys[j]);
		s->n = 0;
		publish(s);
		free(s->keys);
	}
	free(kp->slots);
	free(kp->threads);
	if (kp->locks) {
		pthread_cond_destroy(&kp->filled);
		pthread_cond_destroy(&kp->work);
		pthread_mutex_destroy(&kp->mu);
	}
	free(kp);
}

/* ---------------------------------------------------------------- use */

static struct slot *
slot_of(struct be_keypool *kp, const struct be_keyspec *spec)
{
	size_t i;

	for (i = 0; i < kp->n_slots; i++)
		if (be_keyspec_equal(&kp->slots[i].spec, spec))
			return &kp->slots[i];
	return NULL;
}

int
be_keypool_take(struct be_keypool *kp, const struct be_keyspec *spec,
		gnutls_x509_privkey_t *out)
{
	struct slot *s;
	bool start = false;
	int rc = BE_E_NOTFOUND;

	*out = NULL;
	if (kp == NULL || spec == NULL)
		goto out;
	pthread_mutex_lock(&kp->mu);
	if ((s = slot_of(kp, spec)) != NULL) {
		if (s->n > 0) {
			*out = s->keys[--s->n];
			s->keys[s->n] = NULL;
			s->taken++;
			publish(s);
			rc = BE_OK;
		} else {
			s->missed++;
		}
		pthread_cond_signal(&kp->work);
		start = !kp->started;
	}
	pthread_mutex_unlock(&kp->mu);
	if (start)
		(void)be_keypool_start(kp);
out:
	return rc;
}

size_t
be_keypool_depth(struct be_keypool *kp, const struct be_keyspec *spec)
{
	struct slot *s;
	size_t n = 0;

	if (kp == NULL || spec == NULL)
		return 0;
	pthread_mutex_lock(&kp->mu);
	if ((s = slot_of(kp, spec)) != NULL)
		n = s->n;
	pthread_mutex_unlock(&kp->mu);
	return n;
}

size_t
be_keypool_stats(struct be_keypool *kp, struct be_keypool_stat *out, size_t max)
{
	size_t i, n;

	if (kp == NULL)
		return 0;
	pthread_mutex_lock(&kp->mu);
	n = kp->n_slots;
	for (i = 0; i < n && i < max; i++) {
		const struct slot *s = &kp->slots[i];

		out[i].spec = s->spec;
		out[i].depth = s->n;
		out[i].target = s->target;
		out[i].taken = s->taken;
		out[i].missed = s->missed;
		out[i].generated = s->generated;
	}
	pthread_mutex_unlock(&kp->mu);
	return n;
}

static bool
all_full(const struct be_keypool *kp)
{
	size_t i;

	for (i = 0; i < kp->n_slots; i++)
		if (kp->slots[i].n < kp->slots[i].target)
			return false;
	return true;
}

bool
be_keypool_wait_full(struct be_keypool *kp, unsigned timeout_ms)
{
	struct timespec until;
	bool full;

	if (kp == NULL)
		return true;
	(void)be_keypool_start(kp);
	deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&kp->mu);
	while (!(full = all_full(kp)) &&
	       pthread_cond_timedwait(&kp->filled, &kp->mu, &until) != ETIMEDOUT)
		;
	full = all_full(kp);
	pthread_mutex_unlock(&kp->mu);
	return full;
}
