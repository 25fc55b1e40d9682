/*
 * The key pool: background threads keep a number of ready key pairs per key type so that
 * server-side key generation (be_issue) answers in milliseconds even for RSA (DESIGN.md
 * "Backend promises", Keys).
 *
 * Keys in the pool live only in this process's memory: never written anywhere, handed out
 * at most once, and wiped when freed (gnutls_x509_privkey_deinit clears the key's numbers).
 * Refilling runs off the request path on threads of the lowest CPU priority (Linux
 * SCHED_IDLE, else nice 19): they use CPU time no request wants.  When a type's pool is
 * empty be_issue generates the key inline, as without a pool.
 *
 * Configuration, the top-level "keypool" object of certgate.json:
 *   {"rsa2048": 32, "rsa4096": 8, "p256": 0, "threads": 1}
 * each key type (any spelling be_keyspec_parse knows; a type certgate generates) with the
 * number of keys to keep ready (0..4096, 0 = none), and "threads" (1..16, default 1).
 * Without the object: {"rsa2048": 16, "threads": 1} when a profile lets the server generate
 * RSA-2048 keys, else no pool.  EC and Ed25519 keys take well under a millisecond to make
 * and gain nothing from pooling.
 */
#ifndef CERTGATE_BE_KEYPOOL_H
#define CERTGATE_BE_KEYPOOL_H

#include <jansson.h>

#include "be.h"

struct be_ctx;
struct be_keypool;

#define BE_KEYPOOL_MAX_DEPTH	4096
#define BE_KEYPOOL_MAX_THREADS	16
#define BE_KEYPOOL_DEFAULT_RSA2048 16

/* Validates conf (the "keypool" object, NULL when absent) and builds an idle pool; ctx's
 * profiles decide the default.  *out is NULL when the pool would hold nothing.  Errors are
 * BE_E_CONFIG naming the key path ("keypool.rsa1000: ...").  *out: caller
 * be_keypool_free(). */
int be_keypool_new(const json_t *conf, const struct be_ctx *ctx, struct be_keypool **out,
		   struct be_err *e);

/* Starts the refill threads (once; later calls do nothing).  The daemon calls it when it
 * starts serving; be_keypool_take also starts them on first use, so a one-shot command
 * that never generates a key never spends CPU on the pool.  kp may be NULL.  Returns 0,
 * or BE_E_UNAVAILABLE when no thread could be started (the pool then stays empty and
 * be_issue generates inline). */
int be_keypool_start(struct be_keypool *kp);

/* Stops the threads (waiting for a key being generated to be finished), joins them and
 * wipes every pooled key.  Once the crypto library has failed (be_crypto_failed) it waits
 * 2 s at most: a thread stuck in a generation that cannot end is detached and its pool left
 * allocated (wiped), so that the daemon still stops.  kp may be NULL. */
void be_keypool_free(struct be_keypool *kp);

/* Stops the pool for good after a crypto failure: no more generation, the ready keys wiped
 * (be_keypool_take finds none).  The threads return when their generation does; freeing
 * stays be_keypool_free's.  The pool halts itself when a generation fails that way; be_issue
 * and the health check call this too.  kp may be NULL.  Thread-safe. */
void be_keypool_halt(struct be_keypool *kp);

/* Hands out a ready key of spec: *out is the caller's (free with
 * gnutls_x509_privkey_deinit, which wipes it) and never given to anyone else.  Returns 0,
 * or BE_E_NOTFOUND (*out NULL) when kp is NULL, spec is not pooled or none is ready: then
 * generate inline.  Thread-safe. */
int be_keypool_take(struct be_keypool *kp, const struct be_keyspec *spec,
		    gnutls_x509_privkey_t *out);

/* Number of ready keys of spec (0 when kp is NULL or spec is not pooled).  Thread-safe;
 * for /metrics (the pool also reports every change to be_stats_keypool_set). */
size_t be_keypool_depth(struct be_keypool *kp, const struct be_keyspec *spec);

/* What one pooled type looks like at one moment. */
struct be_keypool_stat {
	struct be_keyspec spec;
	size_t depth;		/* ready now */
	size_t target;		/* configured */
	uint64_t taken;		/* handed out */
	uint64_t missed;	/* asked for while empty (generated inline instead) */
	uint64_t generated;	/* made by the refill threads */
};

/* Fills out[0..max) with the pooled types in configuration order; returns how many types
 * the pool has (which may exceed max).  kp may be NULL (0). */
size_t be_keypool_stats(struct be_keypool *kp, struct be_keypool_stat *out, size_t max);

/* Starts the pool if needed and blocks until every type holds its target or timeout_ms
 * passed; true when full.  For tests and the benchmark. */
bool be_keypool_wait_full(struct be_keypool *kp, unsigned timeout_ms);

#endif
