/* SPDX-License-Identifier: MIT */
/*
 * The route table and the one h2o handler that consults it.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "respond.h"
#include "routes.h"

typedef struct route {
	const char *method;
	const char *pattern;
	unsigned flags;
	cobs_route_fn fn;
	const char *page; /* a dashboard page: fn's document through this template */
} route;

/*
 * /api/v1/ingest checks the token itself, after the size: a batch over the
 * limit is refused before anything else (see ingest.c).
 */
static const route routes[] = {
        {"GET", "/healthz", COBS_ROUTE_AGENT, cobs_route_healthz, NULL},
        {"GET", "/readyz", COBS_ROUTE_AGENT, cobs_route_readyz, NULL},
        {"GET", "/metrics", 0, cobs_route_metrics, NULL},
        {"GET", "/metrics/server", 0, cobs_route_metrics_server, NULL},
        {"POST", "/api/v1/ingest", COBS_ROUTE_AGENT, cobs_route_ingest, NULL},
        {"GET", "/api/v1/agents/*/commands", COBS_ROUTE_AGENT | COBS_ROUTE_AUTH,
         cobs_route_command_stream, NULL},
        {"POST", "/api/v1/commands", COBS_ROUTE_AUTH, cobs_route_command_create, NULL},
        {"GET", "/api/v1/commands/*", COBS_ROUTE_AUTH, cobs_route_command_get, NULL},
        {"POST", "/api/v1/commands/*/result", COBS_ROUTE_AGENT | COBS_ROUTE_AUTH,
         cobs_route_command_result, NULL},
        {"GET", "/api/v1/nodes", 0, cobs_route_api_nodes, NULL},
        {"GET", "/api/v1/nodes/*", 0, cobs_route_api_node, NULL},
        {"GET", "/api/v1/nodes/*/pods", 0, cobs_route_api_pods, NULL},
        {"GET", "/api/v1/nodes/*/pods/*/*", 0, cobs_route_api_pod, NULL},
        {"GET", "/api/v1/nodes/*/processes/*", 0, cobs_route_api_process, NULL},
        {"GET", "/api/v1/series", 0, cobs_route_api_series, NULL},
        /* the dashboard: each page is its API twin's document through a template */
        {"GET", "/", 0, cobs_route_api_nodes, "nodes"},
        {"GET", "/nodes/*", 0, cobs_route_api_node, "node"},
        {"GET", "/nodes/*/pods", 0, cobs_route_api_pods, "pods"},
        {"GET", "/nodes/*/pods/*/*", 0, cobs_route_api_pod, "pod"},
        {"GET", "/nodes/*/processes/*", 0, cobs_route_api_process, "process"},
};

typedef struct router_handler {
	h2o_handler_t super;
	cobs_server *srv;
	int agent_only;
} router_handler;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long cobs_percent_decode(const char *s, size_t len, char *out, size_t cap, int form)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (form && c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0' || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* Whether path matches pattern; the '*' segments go to args. */
static int match(const char *pattern, const char *path, size_t plen, cobs_route_args *args)
{
	args->n = 0;
	const char *p = path, *end = path + plen;
	while (*pattern) {
		if (p >= end || *p != '/' || *pattern != '/')
			return 0;
		pattern++;
		p++;
		size_t pl = strcspn(pattern, "/");
		const char *seg = p;
		while (p < end && *p != '/')
			p++;
		size_t sl = (size_t)(p - seg);
		if (pl == 1 && *pattern == '*') {
			if (!sl || args->n == COBS_ROUTE_MAX_ARGS ||
			    cobs_percent_decode(seg, sl, args->arg[args->n], COBS_ROUTE_MAX_ARG,
			                        0) < 0)
				return 0;
			args->n++;
		} else if (pl != sl || memcmp(pattern, seg, sl) != 0) {
			return 0;
		}
		pattern += pl;
	}
	return p == end;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	router_handler *h = (router_handler *)self;
	/* The raw path, decoded here segment by segment: h2o's normalized path has
	 * %2F already turned into '/', which would split a segment in two. A path
	 * with "." or ".." segments simply matches no route. */
	const char *path = req->path.base;
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	cobs_route_args args;
	char allow[64] = "";
	/* draining: an HTTP/1.1 connection closes after this response (h2o 2.2
	 * leaves idle keep-alive connections open until their 10 s timeout) */
	if (atomic_load(&h->srv->draining))
		req->http1_is_persistent = 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const route *r = &routes[i];
		if (h->agent_only && !(r->flags & COBS_ROUTE_AGENT))
			continue;
		if (!match(r->pattern, path, plen, &args))
			continue;
		if (!h2o_memis(req->method.base, req->method.len, r->method, strlen(r->method))) {
			size_t used = strlen(allow);
			snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
			         r->method);
			continue;
		}
		if ((r->flags & COBS_ROUTE_AUTH) &&
		    !cobs_auth_ok(h->srv->settings.agent_token, req)) {
			cobs_auth_refuse(req);
			return 0;
		}
		/* the dashboard, the read API and /metrics: the [auth] ui_* credentials */
		if (!(r->flags & (COBS_ROUTE_AGENT | COBS_ROUTE_AUTH)) &&
		    !cobs_ui_auth_ok(&h->srv->ui_auth, req)) {
			cobs_ui_auth_refuse(req);
			return 0;
		}
		if (!(r->flags & COBS_ROUTE_AGENT) && !cobs_auth_same_origin(req)) {
			cobs_respond_text(req, 403, "cross-site request refused");
			return 0;
		}
		args.page = r->page;
		return r->fn(h->srv, req, &args);
	}
	int api = plen >= 5 && memcmp(path, "/api/", 5) == 0;
	if (*allow) {
		cobs_respond_header(req, "allow", allow);
		if (api)
			cobs_respond_json_error(req, 405, "method not allowed (allowed: %s)",
			                        allow);
		else
			cobs_respond_text(req, 405, "method not allowed (allowed: %s)", allow);
	} else if (api) {
		cobs_respond_json_error(req, 404, "no such endpoint");
	} else {
		cobs_respond_text(req, 404, "not found");
	}
	return 0;
}

/*
 * Static files (h2o's file handler: content types, ETag, ranges). Ours may
 * change with an upgrade, so they are revalidated after 5 minutes; the
 * front-end packages are pinned by the lock file, so a day is fine.
 */
static h2o_iovec_t nosniff_name = {H2O_STRLIT("x-content-type-options")};
static h2o_headers_command_t short_lived[] = {
        {H2O_HEADERS_CMD_SET, &H2O_TOKEN_CACHE_CONTROL->buf, {H2O_STRLIT("public, max-age=300")}},
        {H2O_HEADERS_CMD_SET, &nosniff_name, {H2O_STRLIT("nosniff")}},
        {H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}}};
static h2o_headers_command_t long_lived[] = {
        {H2O_HEADERS_CMD_SET, &H2O_TOKEN_CACHE_CONTROL->buf, {H2O_STRLIT("public, max-age=86400")}},
        {H2O_HEADERS_CMD_SET, &nosniff_name, {H2O_STRLIT("nosniff")}},
        {H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}}};

static void register_static(h2o_hostconf_t *hostconf, const char *web_dir, const char *url,
                            const char *sub, h2o_headers_command_t *headers)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", web_dir, sub);
	h2o_pathconf_t *pc = h2o_config_register_path(hostconf, url, 0);
	h2o_file_register(pc, dir, NULL, NULL, 0);
	h2o_headers_register(pc, headers);
}

void cobs_router_register(cobs_server *srv, h2o_hostconf_t *hostconf, int agent_only)
{
	if (!agent_only) {
		/* before "/": h2o takes the first registered path that matches */
		const char *web = srv->settings.web_dir;
		register_static(hostconf, web, "/static", "static", short_lived);
		register_static(hostconf, web, "/vendor/htmx", "node_modules/htmx.org/dist",
		                long_lived);
		register_static(hostconf, web, "/vendor/uplot", "node_modules/uplot/dist",
		                long_lived);
	}
	h2o_pathconf_t *pc = h2o_config_register_path(hostconf, "/", 0);
	router_handler *h = (router_handler *)h2o_create_handler(pc, sizeof(*h));
	if (!agent_only) {
		/* gzip for clients that ask (browsers, Prometheus): a page of 100 node cards
		 * is ~90 KB of HTML and ~16 KB gzipped (bench section 9) */
		static h2o_compress_args_t gzip = {.min_size = 1024, .gzip = {1}, .brotli = {-1}};
		h2o_compress_register(pc, &gzip);
	}
	h->super.on_req = on_req;
	h->srv = srv;
	h->agent_only = agent_only;
}
