/*
 * GET /metrics: Prometheus text exposition format 0.0.4 (prometheus.io "Exposition
 * formats").  Request counters live here, in a fixed open-addressing table that threads
 * update without locks; backend counters come from be_stats; the pending-approval gauge is
 * read from the store at scrape time.
 *
 * Who may read it ("metrics" section): peers whose address is in metrics.allow (loopback
 * when the section is absent; when proxied, the client's address, not the proxy's), or the
 * principals in metrics.principals, by client certificate or Basic over a secure channel.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_crlpub.h"
#include "be_issue.h"
#include "be_json.h"
#include "be_ocsp.h"
#include "be_stats.h"
#include "gw.h"

#define C BE_E_CONFIG
#define SLOTS 1024u			/* power of two */
#define LABEL_MAX 48
#define PROBES 64
#define PENDING_PAGE 1000
#define PENDING_PAGES_MAX 1000
#define OUT_MAX (4u * 1024u * 1024u)

enum { SLOT_EMPTY = 0, SLOT_FILLING, SLOT_READY };

struct slot {
	atomic_uint state;
	char adapter[LABEL_MAX];
	char operation[LABEL_MAX];
	unsigned status;
	atomic_uint_fast64_t count;
};

static struct slot slots[SLOTS];
static atomic_uint_fast64_t dropped;	/* requests not counted: the table was full */
static atomic_uint_fast64_t reloads_ok, reloads_failed;

/* ---------------------------------------------------------------- configuration */

int
gw_metrics_parse(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "enabled", "allow", "principals", NULL };
	static const char *const loopback[] = { "127.0.0.0/8", "::1" };
	const json_t *m = NULL, *allow = NULL;
	json_t *def = NULL;
	size_t i;
	int rc;

	cfg->metrics_enabled = true;
	if ((rc = be_json_obj(root, "", "metrics", false, &m, C, e)) != BE_OK)
		goto out;
	if (m != NULL &&
	    ((rc = be_json_keys(m, "metrics", keys, C, e)) != BE_OK ||
	     (rc = be_json_bool(m, "metrics", "enabled", false, &cfg->metrics_enabled, C,
				e)) != BE_OK ||
	     (rc = be_json_strv(m, "metrics", "principals", false, &cfg->metrics_principals,
				&cfg->n_metrics_principals, C, e)) != BE_OK))
		goto out;
	for (i = 0; i < cfg->n_metrics_principals; i++) {
		if (gw_config_principal(cfg, cfg->metrics_principals[i]) == NULL) {
			rc = be_err_set(e, C, "metrics.principals[%zu]: no principal named \"%.64s\"",
					i, cfg->metrics_principals[i]);
			goto out;
		}
	}
	if (m != NULL)
		allow = json_object_get(m, "allow");
	if (allow == NULL) {
		if ((def = json_array()) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
			json_array_append_new(def, json_string(loopback[i]));
		allow = def;
	}
	rc = gw_nets_parse(allow, "metrics.allow", &cfg->metrics_allow, &cfg->n_metrics_allow, e);
out:
	json_decref(def);
	return rc;
}

void
gw_metrics_conf_free(struct gw_config *cfg)
{
	free(cfg->metrics_allow);
	cfg->metrics_allow = NULL;
	cfg->n_metrics_allow = 0;
	be_strv_free(cfg->metrics_principals, cfg->n_metrics_principals);
	cfg->metrics_principals = NULL;
	cfg->n_metrics_principals = 0;
}

/* ---------------------------------------------------------------- counting */

static void
label_copy(char *dst, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (src == NULL || n == 0) {
		src = "none";
		n = 4;
	}
	if (n > LABEL_MAX - 1)
		n = LABEL_MAX - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint32_t
fnv1a(uint32_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void
gw_metrics_request(const char *adapter, const char *operation, unsigned status)
{
	char a[LABEL_MAX], o[LABEL_MAX];
	uint32_t h;
	unsigned i, expect, st;
	struct slot *s;

	label_copy(a, adapter);
	label_copy(o, operation);
	h = fnv1a(fnv1a(2166136261u, a), o) ^ (status * 2654435761u);
	for (i = 0; i < PROBES; i++) {
		s = &slots[(h + i) & (SLOTS - 1)];
		st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == SLOT_EMPTY) {
			expect = SLOT_EMPTY;
			if (atomic_compare_exchange_strong_explicit(&s->state, &expect,
								    SLOT_FILLING,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				memcpy(s->adapter, a, sizeof(a));
				memcpy(s->operation, o, sizeof(o));
				s->status = status;
				atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
				atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
				return;
			}
			st = expect;
		}
		/* Another thread is filling it: a few stores, so wait. */
		while (st == SLOT_FILLING)
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (s->status == status && strcmp(s->adapter, a) == 0 &&
		    strcmp(s->operation, o) == 0) {
			atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

void
gw_metrics_reload(bool ok)
{
	atomic_fetch_add_explicit(ok ? &reloads_ok : &reloads_failed, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- exposition */

struct out {
	char *b;
	size_t n, cap;
	bool failed;
};

static void
emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *nb;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->b != NULL ? o->b + o->n : NULL, o->b != NULL ? o->cap - o->n : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->b != NULL && (size_t)n < o->cap - o->n) {
			o->n += (size_t)n;
			return;
		}
		cap = o->cap > 0 ? o->cap * 2 : 8192;
		while (cap < o->n + (size_t)n + 1)
			cap *= 2;
		if (cap > OUT_MAX || (nb = realloc(o->b, cap)) == NULL) {
			o->failed = true;
			return;
		}
		o->b = nb;
		o->cap = cap;
	}
}

/* A label value (exposition format: backslash, double quote and line feed escaped). */
static void
label_escape(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 3 < cap; src++) {
		if (*src == '\\' || *src == '"') {
			dst[o++] = '\\';
			dst[o++] = *src;
		} else if (*src == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			dst[o++] = *src;
		}
	}
	dst[o] = '\0';
}

static void
emit_requests(struct out *o)
{
	char a[2 * LABEL_MAX + 4], op[2 * LABEL_MAX + 4];
	size_t i;
	struct slot *s;

	emit(o, "# HELP certgate_requests_total HTTP requests answered, by adapter, operation "
	     "and status (0: no answer was sent).\n"
	     "# TYPE certgate_requests_total counter\n");
	for (i = 0; i < SLOTS; i++) {
		s = &slots[i];
		if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_READY)
			continue;
		label_escape(a, sizeof(a), s->adapter);
		label_escape(op, sizeof(op), s->operation);
		emit(o, "certgate_requests_total{adapter=\"%s\",operation=\"%s\",status=\"%u\"} "
		     "%llu\n", a, op, s->status,
		     (unsigned long long)atomic_load_explicit(&s->count, memory_order_relaxed));
	}
	emit(o, "# HELP certgate_requests_uncounted_total Requests not in "
	     "certgate_requests_total because its table was full.\n"
	     "# TYPE certgate_requests_uncounted_total counter\n"
	     "certgate_requests_uncounted_total %llu\n",
	     (unsigned long long)atomic_load_explicit(&dropped, memory_order_relaxed));
}

static void
emit_backend(struct out *o, const struct be_stats_snapshot *st)
{
	size_t i;

	emit(o, "# HELP certgate_issuance_duration_seconds Time from request to recorded "
	     "certificate, for each certificate issued.\n"
	     "# TYPE certgate_issuance_duration_seconds histogram\n");
	for (i = 0; i < BE_STATS_ISSUE_BUCKETS; i++)
		emit(o, "certgate_issuance_duration_seconds_bucket{le=\"%g\"} %llu\n",
		     be_stats_issue_bounds[i], (unsigned long long)st->issue_le[i]);
	emit(o, "certgate_issuance_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	     "certgate_issuance_duration_seconds_sum %.9g\n"
	     "certgate_issuance_duration_seconds_count %llu\n",
	     (unsigned long long)st->issue_count, st->issue_sum,
	     (unsigned long long)st->issue_count);
	emit(o, "# HELP certgate_keypool_depth Pre-generated keys ready for server key "
	     "generation, by key type.\n"
	     "# TYPE certgate_keypool_depth gauge\n");
	for (i = 0; i < st->n_keypool; i++)
		emit(o, "certgate_keypool_depth{type=\"%s\"} %llu\n", st->keypool[i].type,
		     (unsigned long long)st->keypool[i].depth);
	emit(o, "# HELP certgate_store_errors_total Store operations that failed.\n"
	     "# TYPE certgate_store_errors_total counter\n"
	     "certgate_store_errors_total %llu\n", (unsigned long long)st->store_errors);
}

/* OCSP answers (be_ocsp.h). */
static void
emit_ocsp(struct out *o)
{
	uint64_t n[BE_OCSP_STAT__COUNT], hits = 0;
	int i;

	be_ocsp_stats(n, &hits);
	emit(o, "# HELP certgate_ocsp_responses_total OCSP answers by status: good, revoked, "
	     "unknown for each certificate answered, else the OCSPResponseStatus.\n"
	     "# TYPE certgate_ocsp_responses_total counter\n");
	for (i = 0; i < BE_OCSP_STAT__COUNT; i++)
		emit(o, "certgate_ocsp_responses_total{status=\"%s\"} %llu\n",
		     be_ocsp_stat_name(i), (unsigned long long)n[i]);
	emit(o, "# HELP certgate_ocsp_cache_hits_total OCSP answers served from the response "
	     "cache, without a new signature.\n"
	     "# TYPE certgate_ocsp_cache_hits_total counter\n"
	     "certgate_ocsp_cache_hits_total %llu\n", (unsigned long long)hits);
}

/* Requests in state PENDING; -1 when the store cannot say. */
static long long
pending_count(struct be_ctx *be)
{
	struct be_req_rec *recs = NULL;
	size_t n = 0, page;
	long long total = 0;

	if (be == NULL || be->store == NULL)
		return -1;
	for (page = 0; page < PENDING_PAGES_MAX; page++) {
		if (be_store_req_list(be->store, BE_REQ_PENDING, page * PENDING_PAGE, PENDING_PAGE,
				      &recs, &n, NULL) != BE_OK)
			return -1;
		be_req_recs_free(recs, n);
		recs = NULL;
		total += (long long)n;
		if (n < PENDING_PAGE)
			break;
	}
	return total;
}

static void
emit_gateway(struct out *o, const struct gw_config *cfg)
{
	long long pending = pending_count(cfg->be);
	const char *fault = cfg->be != NULL ? be_store_fault(cfg->be->store) : NULL;

	emit(o, "# HELP certgate_store_fault 1 while writes fail for the reason named (disk "
	     "full, I/O error), until one commits again.\n"
	     "# TYPE certgate_store_fault gauge\n");
	if (fault != NULL)
		emit(o, "certgate_store_fault{reason=\"%s\"} 1\n", fault);
	emit(o, "# HELP certgate_crypto_failed 1 once the crypto library is in its error state "
	     "(restart certgate).\n"
	     "# TYPE certgate_crypto_failed gauge\n"
	     "certgate_crypto_failed %d\n", be_crypto_failed() ? 1 : 0);

	emit(o, "# HELP certgate_pending_approvals Requests stored for approval and not yet "
	     "approved, rejected or cancelled.\n"
	     "# TYPE certgate_pending_approvals gauge\n");
	if (pending >= 0)
		emit(o, "certgate_pending_approvals %lld\n", pending);
	emit(o, "# HELP certgate_config_reloads_total Configuration reloads (SIGHUP), by "
	     "result.\n"
	     "# TYPE certgate_config_reloads_total counter\n"
	     "certgate_config_reloads_total{result=\"success\"} %llu\n"
	     "certgate_config_reloads_total{result=\"failure\"} %llu\n",
	     (unsigned long long)atomic_load(&reloads_ok),
	     (unsigned long long)atomic_load(&reloads_failed));
	emit(o, "# HELP certgate_build_info The running certgate's version.\n"
	     "# TYPE certgate_build_info gauge\n"
	     "certgate_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

/* Per published CRL (be_crlpub.h): age, size, entries, seconds to nextUpdate.  shard="all"
 * is a CA's complete CRL, "0".. its partitions. */
static void
emit_crl(struct out *o, const struct gw_config *cfg)
{
	struct be_crlpub_stat *st = NULL;
	static const char *const fam[5][2] = {
		{ "age_seconds", "Seconds since the thisUpdate of the CRL served." },
		{ "bytes", "Size of the DER CRL served." },
		{ "entries", "Revoked certificates the CRL lists." },
		{ "next_update_seconds", "Seconds until the CRL's nextUpdate (negative: stale)." },
		{ "build_seconds", "Duration of the CA's last CRL build (all its partitions)." },
	};
	size_t n = 0, i, j, k, f;
	time_t now = time(NULL);
	char ca[64], shard[16];

	if (cfg->be == NULL || cfg->be->crlpub == NULL ||
	    (st = calloc(PENDING_PAGE, sizeof(*st))) == NULL)
		return;
	n = be_crlpub_stats(cfg->be->crlpub, st, PENDING_PAGE);
	/* Each family's samples together, after its HELP and TYPE (exposition format 0.0.4). */
	for (f = 0; f < 5; f++) {
		emit(o, "# HELP certgate_crl_%s %s\n# TYPE certgate_crl_%s gauge\n", fam[f][0],
		     fam[f][1], fam[f][0]);
		for (i = 0; i < n; i++) {
			if (!st[i].built || (f == 4 && st[i].shard >= 0))
				continue;
			/* Label values escape backslash, quote and newline. */
			for (j = 0, k = 0; st[i].ca[j] != '\0' && k + 3 < sizeof(ca); j++) {
				char c = st[i].ca[j];

				if (c == '\\' || c == '"' || c == '\n')
					ca[k++] = '\\';
				ca[k++] = c == '\n' ? 'n' : c;
			}
			ca[k] = '\0';
			if (st[i].shard < 0)
				snprintf(shard, sizeof(shard), "all");
			else
				snprintf(shard, sizeof(shard), "%d", st[i].shard);
			if (f == 0)
				emit(o, "certgate_crl_age_seconds{ca=\"%s\",shard=\"%s\"} %lld\n", ca,
				     shard, (long long)(now - st[i].this_update));
			else if (f == 1)
				emit(o, "certgate_crl_bytes{ca=\"%s\",shard=\"%s\"} %zu\n", ca, shard,
				     st[i].bytes);
			else if (f == 2)
				emit(o, "certgate_crl_entries{ca=\"%s\",shard=\"%s\"} %zu\n", ca, shard,
				     st[i].entries);
			else if (f == 3)
				emit(o, "certgate_crl_next_update_seconds{ca=\"%s\",shard=\"%s\"} %lld\n",
				     ca, shard, (long long)(st[i].next_update - now));
			else
				emit(o, "certgate_crl_build_seconds{ca=\"%s\"} %.6f\n", ca,
				     st[i].build_seconds);
		}
	}
	free(st);
}

/* ---------------------------------------------------------------- the route */

/* 0 when req may read the metrics, else the status to answer (reason in e). */
static unsigned
metrics_access(struct gw_request *req, struct be_err *e)
{
	const struct gw_config *cfg = req->cfg;
	const struct gw_principal *p = NULL;
	const char *auth;
	size_t i;

	if (gw_nets_match(cfg->metrics_allow, cfg->n_metrics_allow, req->peer))
		return 0;
	if (cfg->n_metrics_principals == 0) {
		be_err_set(e, BE_E_FORBIDDEN, "metrics: %s is not in metrics.allow", req->peer);
		return 403;
	}
	auth = gw_request_header(req, "Authorization");
	if (auth != NULL) {
		if (!req->secure) {
			be_err_set(e, BE_E_UNAUTH, "metrics: Basic credentials are accepted only "
				   "over TLS");
			return 403;
		}
		if (gw_auth_basic(cfg, auth, &p, e) != 0)
			return 401;
	} else if (req->n_peer_certs > 0) {
		if (gw_auth_client_cert(req->client_trust, req->peer_certs, req->n_peer_certs, &p,
					NULL, e) != 0)
			return 403;
	} else {
		be_err_set(e, BE_E_UNAUTH, "metrics: %s is not in metrics.allow, and no "
			   "credentials were presented", req->peer);
		return 401;
	}
	for (i = 0; i < cfg->n_metrics_principals; i++)
		if (strcmp(cfg->metrics_principals[i], p->name) == 0)
			return 0;
	be_err_set(e, BE_E_FORBIDDEN, "metrics: %s is not in metrics.principals", p->name);
	return 403;
}

int
gw_metrics_handle(struct gw_request *req, struct gw_response *resp)
{
	struct be_stats_snapshot st;
	struct be_err e = { 0, "" };
	struct be_op_ctx op;
	struct out o = { NULL, 0, 0, false };
	unsigned status;
	int rc;

	resp->adapter = "gateway";
	resp->operation = "metrics";
	if (strcmp(req->path, "/metrics") != 0 || !req->cfg->metrics_enabled) {
		rc = gw_response_text(resp, 404, "no such resource");
		goto out;
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		rc = gw_response_header(resp, "Allow", "GET, HEAD");
		if (rc == 0)
			rc = gw_response_text(resp, 405, "use GET");
		goto out;
	}
	status = metrics_access(req, &e);
	if (status != 0) {
		memset(&op, 0, sizeof(op));
		op.adapter = "gateway";
		op.operation = "metrics";
		op.request_id = req->id;
		op.peer = req->peer;
		be_audit_refusal(req->cfg->be, &op, NULL, e.msg);
		gw_log(GW_LOG_INFO, "id=%s: %s", req->id, e.msg);
		rc = gw_response_text(resp, status, "%s", e.msg);
		if (rc == 0 && status == 401)
			rc = gw_response_header(resp, "WWW-Authenticate",
						"Basic realm=\"certgate metrics\"");
		goto out;
	}
	be_stats_snapshot(&st);
	emit_requests(&o);
	emit_backend(&o, &st);
	emit_ocsp(&o);
	emit_gateway(&o, req->cfg);
	emit_crl(&o, req->cfg);
	if (o.failed) {
		rc = gw_response_text(resp, 500, "metrics: out of memory");
		goto out;
	}
	rc = gw_response_take(resp, 200, "text/plain; version=0.0.4; charset=utf-8",
			      (unsigned char *)o.b, o.n);
	o.b = NULL;
out:
	free(o.b);
	return rc;
}
