/*
 * bench-crl: how long building a CA's CRL takes with N revoked certificates in the store
 * (tests/bench/run.sh), against the raw signature rate of the same CA key in the same run.
 *
 *   bench-crl -c CONF --ca NAME --entries 100000,1000000 [--gnutls N]
 *
 * Fills the configuration's store (a direct SQLite bulk insert, as run.sh fills it for the
 * store benchmark: 560-octet certificates, 16-octet serials) up to each count of revoked
 * certificates of CA NAME, then times be_crlpub_refresh (read the store, encode, sign: what
 * the publisher thread does) and checks the CRL (its signature verifies with the CA
 * certificate's key, it lists N).
 * The raw signature rate is gnutls_privkey_sign_data2 over 32 octets with the CA's key
 * handle, one thread, for two seconds.  --gnutls N also builds an N-entry CRL with GnuTLS's
 * crl API (gnutls_x509_crl_set_crt_serial per entry), the approach be_crl.c replaces.
 *
 * Output: one line per count, "entries=N build_s=S bytes=B sign_rate=R build_in_signatures=X
 * entries_per_s=E", and "gnutls_entries=N gnutls_build_s=S" for --gnutls.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "be_crlpub.h"
#include "be_issue.h"
#include "gw.h"
#include "proto.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *msg)
{
	fprintf(stderr, "bench-crl: %s\n", msg);
	exit(2);
}

/* Revoked certificates of issuer in the store, then inserts more up to want. */
static void
fill(const char *db_path, const char *issuer, long want)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char sql[1024];
	long have;

	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		die("cannot open the store");
	sqlite3_busy_timeout(db, 10000);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM certificates WHERE issuer = '%s' AND "
		 "status = 'revoked'", issuer);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		die(sqlite3_errmsg(db));
	have = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (have >= want)
		goto out;
	snprintf(sql, sizeof(sql),
		 "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN;"
		 "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %ld)"
		 " INSERT OR IGNORE INTO certificates (issuer, serial, subject, profile, principal,"
		 " not_before, not_after, issued_at, status, reason, revoked_at, der)"
		 " SELECT '%s', '40' || lower(hex(randomblob(15))), 'CN=revoked-' || x,"
		 " 'est-device', 'client', 1700000000, 4100000000, 1700000000 + x, 'revoked',"
		 " x %% 6, 1760000000 + x, randomblob(560) FROM n;"
		 " COMMIT; PRAGMA wal_checkpoint(TRUNCATE);", want - have, issuer);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
out:
	sqlite3_close(db);
}

static double
sign_rate(const struct be_ca *ca)
{
	unsigned char msg[32] = { 0 };
	gnutls_datum_t d = { msg, sizeof(msg) }, sig = { NULL, 0 };
	gnutls_sign_algorithm_t alg;
	double t0 = now_s(), t;
	unsigned long n = 0;
	int pk = gnutls_privkey_get_pk_algorithm(ca->key, NULL);

	alg = pk == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_SIGN_EDDSA_ED25519 :
	      gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, ca->hash);
	do {
		msg[0] = (unsigned char)n;
		if (gnutls_privkey_sign_data2(ca->key, alg, 0, &d, &sig) < 0)
			die("the CA key does not sign");
		gnutls_free(sig.data);
		n++;
		t = now_s();
	} while (t - t0 < 2.0);
	return (double)n / (t - t0);
}

/* The approach be_crl.c replaces: GnuTLS's crl API, an ASN.1 node per entry. */
static double
gnutls_build(const struct be_ca *ca, long n)
{
	gnutls_x509_crl_t crl = NULL;
	unsigned char serial[16];
	time_t now = time(NULL);
	double t0 = now_s();
	long i;

	if (gnutls_x509_crl_init(&crl) < 0 || gnutls_x509_crl_set_version(crl, 2) < 0 ||
	    gnutls_x509_crl_set_this_update(crl, now) < 0 ||
	    gnutls_x509_crl_set_next_update(crl, now + 86400) < 0)
		die("gnutls crl");
	for (i = 0; i < n; i++) {
		gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
		serial[0] = 0x40;
		if (gnutls_x509_crl_set_crt_serial(crl, serial, sizeof(serial), now) < 0)
			die("gnutls_x509_crl_set_crt_serial");
	}
	if (gnutls_x509_crl_privkey_sign(crl, ca->crt, ca->key, ca->hash, 0) < 0)
		die("gnutls_x509_crl_privkey_sign");
	t0 = now_s() - t0;
	gnutls_x509_crl_deinit(crl);
	return t0;
}

/* One DER header at p (below end): *len the contents' length; returns the header's size,
 * 0 when it does not parse. */
static size_t
tl(const unsigned char *p, const unsigned char *end, size_t *len)
{
	size_t n, i, h;

	if (end - p < 2)
		return 0;
	if (p[1] < 0x80) {
		*len = p[1];
		h = 2;
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - p) < 2 + n)
			return 0;
		for (*len = 0, i = 0; i < n; i++)
			*len = *len << 8 | p[2 + i];
		h = 2 + n;
	}
	return (size_t)(end - p) - h >= *len ? h : 0;
}

/* Checks the CRL without GnuTLS's CRL parser (which decodes the whole list into ASN.1 nodes
 * and takes minutes for a million entries): the signature over the TBSCertList with the CA
 * certificate's public key, and the number of entries.  Returns it, or 0. */
static size_t
check(const struct be_ca *ca, const gnutls_datum_t *der)
{
	const unsigned char *p = der->data, *end = p + der->size, *tbs, *q, *tend;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t data, sig;
	size_t len, h, tbs_len, count = 0;
	int i;

	if ((h = tl(p, end, &len)) == 0)
		return 0;
	p += h;
	tbs = p;
	if ((h = tl(p, end, &len)) == 0)
		return 0;
	tbs_len = h + len;
	q = p + h;
	tend = q + len;
	p += tbs_len;
	if ((h = tl(p, end, &len)) == 0)		/* signatureAlgorithm */
		return 0;
	p += h + len;
	if (*p != 0x03 || (h = tl(p, end, &len)) == 0 || len < 2)
		return 0;
	sig.data = (unsigned char *)p + h + 1;
	sig.size = (unsigned)len - 1;
	data.data = (unsigned char *)tbs;
	data.size = (unsigned)tbs_len;
	/* version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates */
	for (i = 0; i < 5; i++) {
		if ((h = tl(q, tend, &len)) == 0)
			return 0;
		q += h + len;
	}
	if (q < tend && *q == 0x30 && (h = tl(q, tend, &len)) != 0) {
		const unsigned char *e = q + h + len;

		for (q += h; q < e; q += h + len, count++)
			if ((h = tl(q, e, &len)) == 0)
				return 0;
	}
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, ca->crt, 0) < 0)
		return 0;
	{
		int pk = gnutls_pubkey_get_pk_algorithm(pub, NULL);
		gnutls_sign_algorithm_t alg = pk == GNUTLS_PK_EDDSA_ED25519 ?
			GNUTLS_SIGN_EDDSA_ED25519 : gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk,
								      ca->hash);

		if (gnutls_pubkey_verify_data2(pub, alg, 0, &data, &sig) < 0)
			count = 0;
	}
	gnutls_pubkey_deinit(pub);
	return count;
}

int
main(int argc, char **argv)
{
	const char *conf = NULL, *ca_name = "issuing", *entries = "100000,1000000";
	struct gw_config *cfg = NULL;
	struct be_err e = { 0, "" };
	const struct be_ca *ca;
	struct be_crl_blob *blob = NULL;
	size_t n_adapters;
	long gn = 0;
	double rate, t0, t;
	char *list, *tok, *save = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			ca_name = argv[++i];
		else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
			entries = argv[++i];
		else if (strcmp(argv[i], "--gnutls") == 0 && i + 1 < argc)
			gn = strtol(argv[++i], NULL, 10);
		else
			die("usage: bench-crl -c CONF [--ca NAME] [--entries N,N...] [--gnutls N]");
	}
	if (conf == NULL)
		die("-c CONF is needed");
	gw_adapters_register(proto_adapters(&n_adapters), n_adapters);
	if (gw_config_load(conf, &cfg, &e) != BE_OK)
		die(e.msg);
	if ((ca = be_ctx_ca(cfg->be, ca_name)) == NULL)
		die("no such CA");
	rate = sign_rate(ca);
	if ((list = strdup(entries)) == NULL)
		die("out of memory");
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		long want = strtol(tok, NULL, 10);

		fill(cfg->store_path, ca->id, want);
		t0 = now_s();
		if (be_crlpub_refresh(cfg->be->crlpub, true, &e) != BE_OK)
			die(e.msg);
		t = now_s() - t0;
		if (be_crlpub_get(cfg->be->crlpub, ca_name, -1, &blob, &e) != BE_OK)
			die(e.msg);
		if (check(ca, &blob->der) < (size_t)want)
			die("the CRL does not verify or does not list every entry");
		printf("entries=%zu build_s=%.3f bytes=%u sign_rate=%.1f build_in_signatures=%.0f "
		       "entries_per_s=%.0f\n", blob->entries, t, blob->der.size, rate, t * rate,
		       (double)blob->entries / t);
		fflush(stdout);
		be_crl_blob_unref(blob);
		blob = NULL;
	}
	free(list);
	if (gn > 0)
		printf("gnutls_entries=%ld gnutls_build_s=%.3f\n", gn, gnutls_build(ca, gn));
	gw_config_free(cfg);
	return 0;
}
