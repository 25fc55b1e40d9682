/*
 * The protocol adapters: each translates its dialect into be_request and back
 * (DESIGN.md).  main registers every adapter listed here with the gateway.
 */
#ifndef CERTGATE_PROTO_H
#define CERTGATE_PROTO_H

#include "gw.h"

/* The adapters, borrowed; *n receives their count. */
const struct gw_adapter *proto_adapters(size_t *n);

/* Each adapter's definition (protocols/<name>.c). */
extern const struct gw_adapter proto_health_adapter;
extern const struct gw_adapter proto_est_adapter;
extern const struct gw_adapter proto_sesam_adapter;
extern const struct gw_adapter proto_tsb_adapter;
extern const struct gw_adapter proto_iot_adapter;
extern const struct gw_adapter proto_ocsp_adapter;
extern const struct gw_adapter proto_crl_adapter;

/* Conditional GET (RFC 9110 13.1.2, 13.1.3; 13.2.2 order): true when req's If-None-Match
 * names etag (a quoted entity tag, weak comparison) or "*", or, without If-None-Match, its
 * If-Modified-Since (an IMF-fixdate) is not before modified: the answer is then 304.
 * protocols/crl.c. */
bool proto_not_modified(const struct gw_request *req, const char *etag, time_t modified);

#endif
