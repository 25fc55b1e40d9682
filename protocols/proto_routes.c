/*
 * The list of adapters, and the health check.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "be_crlpub.h"
#include "be_issue.h"
#include "be_stats.h"
#include "be_store.h"
#include "proto.h"

/* GET /healthz: 200 "ok" when the store takes a write, every CA key makes a signature its
 * certificate verifies (be_health_check) and no CRL is past its nextUpdate
 * (be_crlpub_check), else 503 saying what failed. */
static int
health_handle(struct gw_request *req, struct gw_response *resp)
{
	struct be_err e = { 0, "" };

	resp->adapter = "health";
	resp->operation = "healthz";
	if (strcmp(req->path, "/healthz") != 0)
		return gw_response_text(resp, 404, "no such path");
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		gw_response_header(resp, "Allow", "GET, HEAD");
		return gw_response_text(resp, 405, "use GET");
	}
	if (be_health_check(req->cfg->be, &e) != BE_OK ||
	    (req->cfg->be->crlpub != NULL &&
	     be_crlpub_check(req->cfg->be->crlpub, time(NULL), &e) != BE_OK)) {
		gw_log(GW_LOG_WARNING, "id=%s: healthz: %s", req->id, e.msg);
		gw_response_header(resp, "Retry-After", "10");
		return gw_response_text(resp, 503, "%s", e.msg);
	}
	gw_response_header(resp, "Cache-Control", "no-store");
	return gw_response_text(resp, 200, "ok");
}

/* The health check and the metrics (gateway/gw_metrics.c) are served by the gateway itself,
 * outside every front end's path. */
static const struct gw_route health_routes[] = {
	{ "/healthz", health_handle, NULL },
	{ "/metrics", gw_metrics_handle, NULL },
};

const struct gw_adapter proto_health_adapter = {
	.name = "health",
	.routes = health_routes,
	.n_routes = sizeof(health_routes) / sizeof(health_routes[0]),
};

const struct gw_adapter *
proto_adapters(size_t *n)
{
	static struct gw_adapter all[GW_MAX_ADAPTERS];
	static size_t count;

	if (count == 0) {
		all[count++] = proto_health_adapter;
		all[count++] = proto_est_adapter;
		all[count++] = proto_sesam_adapter;
		all[count++] = proto_tsb_adapter;
		all[count++] = proto_iot_adapter;
		all[count++] = proto_ocsp_adapter;
		all[count++] = proto_crl_adapter;
	}
	*n = count;
	return all;
}
