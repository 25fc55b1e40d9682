/*
 * The CRL publisher: keeps, for every CA, its current CRL (and one per partition when the CA
 * has crl_shards > 1) encoded and signed, ready to serve.  A background thread rebuilds a
 * CA's CRLs when the store says a revocation status changed (any process: the daemon, the
 * CLI) and before nextUpdate (RFC 5280 5.1.2.5), so relying parties see a change within
 * the check interval plus one build.
 *
 * Keys of the TSB key store that act as a CA (be_keystore_ca: the stored key with its
 * imported CA certificate, the issuer be_issue signs with under a key-store profile) get
 * a CRL each too, named "tsb-<label>" (for labels of [A-Za-z0-9._-] only, at most 60
 * characters; a configured CA of that name wins), found by the thread when a key first
 * has such a certificate and signed with the stored key's handle.  Never partitioned.
 *
 * Configuration, the "crl" object (all optional):
 *   next_update_seconds  nextUpdate - thisUpdate (default 86400)
 *   refresh_seconds      a CRL this old is rebuilt though nothing changed (default half of
 *                        next_update_seconds; less than it)
 *   check_interval_ms    how often the store is asked for changes (default 1000)
 */
#ifndef CERTGATE_BE_CRLPUB_H
#define CERTGATE_BE_CRLPUB_H

#include <jansson.h>
#include <stdatomic.h>

#include "be.h"

struct be_ctx;
struct be_crlpub;
struct be_keystore;

/* One encoded CRL, shared by the publisher and the requests serving it (refcounted). */
struct be_crl_blob {
	atomic_uint refs;
	gnutls_datum_t der;		/* the CertificateList */
	int64_t number;			/* cRLNumber */
	time_t this_update, next_update;
	size_t entries;
	char etag[64];			/* quoted strong entity tag (RFC 9110 8.8.3) */
};

/* Drops a reference from be_crlpub_get; NULL is a no-op. */
void be_crl_blob_unref(struct be_crl_blob *b);

/* Reads the "crl" object (NULL: defaults) for ctx's CAs and profiles (borrowed: ctx must
 * outlive *out).  A partitioned CA needs its profiles' crl_url (the partitions' IDP names
 * it), the same in each.  BE_E_CONFIG naming the key path.  Builds nothing and starts no
 * thread.  *out: caller be_crlpub_free(). */
int be_crlpub_new(const json_t *conf, struct be_ctx *ctx, struct be_crlpub **out,
		  struct be_err *e);
/* Stops the thread (if started) and frees; NULL is a no-op. */
void be_crlpub_free(struct be_crlpub *pub);
/* Where the thread reports each build and each failure (one line, no secrets); may be
 * NULL.  Set before be_crlpub_start. */
void be_crlpub_set_log(struct be_crlpub *pub, void (*log)(bool error, const char *msg));
/* Publishes a CRL for every key of ks that acts as a CA (above).  ks is borrowed: it must
 * outlive pub's thread (be_crlpub_free before closing ks).  Set before be_crlpub_start. */
void be_crlpub_set_keystore(struct be_crlpub *pub, struct be_keystore *ks);
/* Starts the background thread (once; later calls do nothing). */
int be_crlpub_start(struct be_crlpub *pub, struct be_err *e);
/* Serves from's current CRLs from pub until pub's first build (a configuration reload:
 * relying parties get no 503 in between), for each CA of pub that from has with the same
 * key identifier and partition count.  Both borrowed; takes references. */
void be_crlpub_adopt(struct be_crlpub *pub, struct be_crlpub *from);
/* Builds now, on the caller's thread, the CRLs of every CA that needs it (never built, a
 * revocation changed, older than refresh_seconds), or of all when force.  For tests, the
 * benchmark and the thread. */
int be_crlpub_refresh(struct be_crlpub *pub, bool force, struct be_err *e);

/* The current CRL of the CA named ca (configuration name, or "tsb-<label>"), the complete one for
 * shard < 0, else partition shard.  *out: a reference the caller drops with
 * be_crl_blob_unref().  BE_E_NOTFOUND for an unknown CA or partition, BE_E_UNAVAILABLE
 * before the first build. */
int be_crlpub_get(struct be_crlpub *pub, const char *ca, int shard, struct be_crl_blob **out,
		  struct be_err *e);

/* Whether pub publishes a CRL named ca (a configured CA, or "tsb-<label>"). */
bool be_crlpub_has(struct be_crlpub *pub, const char *ca);

/* Health: BE_E_UNAVAILABLE naming the CA when one of its CRLs is past nextUpdate at now, or
 * its last build failed and none is published. */
int be_crlpub_check(struct be_crlpub *pub, time_t now, struct be_err *e);

struct be_crlpub_stat {
	char ca[64];
	int shard;			/* -1: the complete CRL */
	bool built;
	int64_t number;
	time_t this_update, next_update;
	size_t bytes, entries;
	double build_seconds;		/* the last build of this CA (all its CRLs) */
};
/* Fills up to max entries (one per published CRL); returns how many. */
size_t be_crlpub_stats(struct be_crlpub *pub, struct be_crlpub_stat *out, size_t max);

#endif
