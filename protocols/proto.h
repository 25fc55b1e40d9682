/*
 * The protocol adapters: each translates its dialect into be_request and back
 * (DESIGN.md).  The gateway mounts every route listed here.
 */
#ifndef CERTGATE_PROTO_H
#define CERTGATE_PROTO_H

#include "gw.h"

/* The adapters' routes, borrowed; *n receives their count. */
const struct gw_route *proto_routes(size_t *n);

#endif
