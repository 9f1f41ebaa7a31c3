/* SPDX-License-Identifier: MIT */
/*
 * Routing: one h2o handler per listener looks the request up in a table of
 * (method, path pattern) routes. A pattern's '*' segment matches one path
 * segment, handed to the route percent-decoded. A path that matches with
 * another method gets 405 with Allow; no match, 404.
 *
 * Flags: COBS_ROUTE_AGENT routes are also served on the ingest listener
 * (which serves nothing else); COBS_ROUTE_AUTH routes need the agent token
 * when one is configured (401 otherwise; the router checks it before the
 * route runs).
 *
 * To add routes (the JSON API, pages), add rows to the table in router.c.
 */
#ifndef COBS_SERVER_ROUTER_H
#define COBS_SERVER_ROUTER_H

#include <h2o.h>

#include "server.h"

#define COBS_ROUTE_AGENT    1u
#define COBS_ROUTE_AUTH     2u
#define COBS_ROUTE_MAX_ARGS 4
#define COBS_ROUTE_MAX_ARG  256 /* a node name's 253 bytes fit */

typedef struct cobs_route_args {
	size_t n;
	char arg[COBS_ROUTE_MAX_ARGS][COBS_ROUTE_MAX_ARG]; /* the '*' segments, decoded */
	const char *page; /* the route's page template (a static string), NULL for the API */
} cobs_route_args;

/* A route: returns 0 once it answered or deferred the request (like h2o's on_req). */
typedef int (*cobs_route_fn)(cobs_server *srv, h2o_req_t *req, const cobs_route_args *args);

/*
 * Percent-decodes [s, s+len) into out (cap bytes with the NUL); with form,
 * '+' is a space (a query string). Its length, or -1: a bad escape, a NUL,
 * or it does not fit.
 */
long cobs_percent_decode(const char *s, size_t len, char *out, size_t cap, int form);

/* Registers the router as the only handler of hostconf's "/" (h2o configuration time). */
void cobs_router_register(cobs_server *srv, h2o_hostconf_t *hostconf, int agent_only);

#endif
