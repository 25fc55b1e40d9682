/*
 * Backend counters for /metrics (process-wide, lock-free C11 atomics: any thread may count
 * while another reads), and the health check behind /healthz.
 *
 * The counters outlive configuration reloads: they describe the process, not one
 * configuration.
 */
#ifndef CERTGATE_BE_STATS_H
#define CERTGATE_BE_STATS_H

#include <stdint.h>

#include "be.h"

struct be_ctx;

/* Upper bounds (seconds) of the issuance latency histogram's buckets; +Inf follows. */
#define BE_STATS_ISSUE_BUCKETS 12
extern const double be_stats_issue_bounds[BE_STATS_ISSUE_BUCKETS];

/* Key types reported for the key pool: these always (0 until a pool reports them), then
 * others as a pool first reports them, up to BE_STATS_KEYPOOL_MAX in all. */
#define BE_STATS_KEYPOOL_PRESET 7
#define BE_STATS_KEYPOOL_MAX 16

/* A monotonic clock reading in nanoseconds, to pass to be_stats_issue_observe(). */
uint64_t be_stats_clock(void);
/* Records one certificate issued by be_issue() that began at start (be_stats_clock()). */
void be_stats_issue_observe(uint64_t start);
/* Counts one failed store operation (a SQLite error, a busy timeout). */
void be_stats_store_error(void);
/* The key pool's hooks (lock-free).  be_stats_keypool_add: delta keys of type k became
 * ready (positive) or were taken or dropped (negative); the gauge is the sum over every
 * pool alive, so two pools overlapping across a configuration reload are counted right.
 * be_stats_keypool_set: the number of ready keys of type k now, for a process with one
 * pool only. */
void be_stats_keypool_add(const struct be_keyspec *k, int64_t delta);
void be_stats_keypool_set(const struct be_keyspec *k, uint64_t depth);

/* A copy of the counters at one moment. */
struct be_stats_snapshot {
	uint64_t issue_le[BE_STATS_ISSUE_BUCKETS];	/* cumulative: issuances <= bound */
	uint64_t issue_count;				/* all issuances (the +Inf bucket) */
	double issue_sum;				/* seconds */
	uint64_t store_errors;
	struct {
		char type[16];				/* "rsa2048", "p256", ... */
		uint64_t depth;
	} keypool[BE_STATS_KEYPOOL_MAX];
	size_t n_keypool;
};

/* Fills out from the counters (each read atomically; the histogram's count is the sum of its
 * buckets, so it is consistent with them). */
void be_stats_snapshot(struct be_stats_snapshot *out);

/* Health of ctx: the store takes a write transaction, and every CA's key makes a signature
 * that the CA certificate's public key verifies (so a lost PKCS#11 session or a replaced key
 * file shows).  Returns 0, or BE_E_UNAVAILABLE with a sentence naming what failed (never key
 * material). */
int be_health_check(struct be_ctx *ctx, struct be_err *e);

#endif
