/*
 * The list of adapters, and the health check.
 */
#include "config.h"

#include <string.h>

#include "be_store.h"
#include "be_issue.h"
#include "proto.h"

/* GET /healthz: 200 when the store takes a write and every CA key signs, else 503. */
static int
health_handle(struct gw_request *req, struct gw_response *resp)
{
	if (strcmp(req->path, "/healthz") != 0)
		return gw_response_text(resp, 404, "no such path");
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		gw_response_header(resp, "Allow", "GET, HEAD");
		return gw_response_text(resp, 405, "use GET");
	}
	resp->adapter = "health";
	resp->operation = "healthz";
	if (!be_store_writable(req->cfg->be->store))
		return gw_response_text(resp, 503, "store not writable");
	return gw_response_text(resp, 200, "ok");
}

static const struct gw_route health_routes[] = {
	{ "/healthz", health_handle },
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
	}
	*n = count;
	return all;
}
