/* SPDX-License-Identifier: MIT */
/*
 * What the JSON API's endpoints share (docs/api.md): the hand-off of a
 * request to the worker thread, query parameters, and building answers
 * with jansson.
 *
 * Every API endpoint reads the state, so each runs as a job (handoff.h):
 * the h2o thread copies the route's path segments and the raw query string
 * into the job and nothing else; the query is parsed on the worker, which
 * also renders the JSON, so the h2o thread never waits on either.
 */
#ifndef COBS_SERVER_API_UTIL_H
#define COBS_SERVER_API_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "handoff.h"
#include "router.h"
#include "summary.h"

#define COBS_API_MAX_QUERY 8192 /* bytes of query string a request may carry */

/* One decoded query parameter. */
typedef struct cobs_api_param {
	const char *name, *value;
} cobs_api_param;

typedef struct cobs_api_params {
	cobs_api_param *v;
	size_t n;
	char *buf; /* the decoded strings */
} cobs_api_params;

typedef struct cobs_api_job cobs_api_job;
/* An endpoint's body, on the worker thread: fills aj->job's answer. */
typedef void (*cobs_api_fn)(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p);

struct cobs_api_job {
	cobs_job job;
	cobs_route_args args; /* the route's '*' segments, decoded */
	cobs_api_fn fn;
	const char *page;              /* a dashboard page's template (pages.h); NULL: JSON */
	const cobs_api_params *params; /* while fn runs */
	size_t qlen;
	char query[]; /* the raw query string (after '?'), NUL-terminated */
};

/*
 * A route handler's whole work (h2o thread): sends fn to the worker with
 * the request's segments and query; answers 400 / 503 itself when the query
 * is too long or the worker is saturated. Returns 0 (as routes do). On a
 * page's route (a->page), fn's document is rendered through that template
 * (pages.h) instead of being sent as JSON.
 */
int cobs_api_defer(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a, cobs_api_fn fn);

/* The last value of parameter name, or NULL (also when that value is empty). */
const char *cobs_api_param_get(const cobs_api_params *p, const char *name);

/* A decimal integer in [min, max]. 0, or -1 when s is not one. */
int cobs_api_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* ---- answers (worker thread) ---- */

/*
 * Answers with o as compact JSON and a newline, or for a page o through its
 * template; takes o (500 when o is NULL: out of memory).
 */
void cobs_api_json(cobs_api_job *aj, int status, json_t *o);
/* {"error": "<message>"}. */
void cobs_api_error(cobs_api_job *aj, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * A JSON string of s, with bytes that are not well-formed UTF-8 replaced by
 * U+FFFD (agents send bytes, JSON carries text); json null for NULL. NULL
 * only when out of memory.
 */
json_t *cobs_api_str(const char *s);
/* A number: integral values as integers, NaN and infinities as null. */
json_t *cobs_api_num(double v);
/* A count. */
json_t *cobs_api_count(size_t n);
/* json_object_set_new that fails (-1) for a NULL value too; v is taken either way. */
int cobs_api_set(json_t *o, const char *key, json_t *v);
/* json_array_append_new likewise. */
int cobs_api_push(json_t *a, json_t *v);
/*
 * The labels as an object, leaving out the names in skip (NULL-terminated,
 * may be NULL). A name starting with strip (may be NULL) loses that prefix.
 */
json_t *cobs_api_labels(const cobs_labelset *ls, const char *const *skip, const char *strip);

/* The node of the route's first segment; NULL after answering 404. */
const cobs_node *cobs_api_find_node(cobs_api_job *aj, cobs_state *st);

/* ---- renderers shared between endpoints (api_pods.c) ---- */

/* A pod's summary object (docs/api.md, "Pod summary"). */
json_t *cobs_api_pod_summary(const cobs_sum_tables *t, size_t pod);
/* A cgroup's object (docs/api.md, "Cgroup"). */
json_t *cobs_api_cgroup(const cobs_sum_tables *t, size_t cg);
/*
 * Process rows (docs/api.md, "Process row") of pod row pod (-1: outside
 * pods) whose cgroup row is owner (-2: every one not in a container).
 */
json_t *cobs_api_procs(const cobs_sum_tables *t, long pod, long owner);
/*
 * The node's pods as summaries, sorted by sort ("name", "namespace", "cpu",
 * "memory", "network", "io", "restarts", "processes"; desc for descending),
 * those of namespace ns only when ns is not NULL, whose name contains
 * filter when not NULL. *total gets their number.
 */
json_t *cobs_api_pod_list(const cobs_sum_tables *t, const char *sort, int desc, const char *ns,
                          const char *filter, size_t *total);

/* A table row with the name it sorts by (qsort with cobs_api_row_cmp: by name, bytewise). */
typedef struct cobs_api_row {
	const char *name;
	size_t row;
} cobs_api_row;
int cobs_api_row_cmp(const void *a, const void *b);

/* Case-insensitive (ASCII) substring test; an empty needle matches. */
int cobs_api_contains(const char *hay, const char *needle);

/* Compares two numbers for sorting: NaN after every number whatever the order. */
int cobs_api_cmp_num(double a, double b, int desc);

#endif
