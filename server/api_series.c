/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/series?name=&node=&match[]=&from=&to=&max_points=&max_series=:
 * history points of every series of family `name` (on one node, or on
 * every node) whose labels pass the matchers, from the history store.
 * Shape and bounds: docs/api.md.
 *
 * The series are those in the latest values: a series that left (a
 * process that exited) keeps its history until retention drops it, but is
 * no longer listed here. Output is bounded: at most max_series series and
 * max_points points each; a range holding more points is thinned to every
 * k-th point, counted back from the newest, so a chart still spans the
 * whole range and always ends at the latest value.
 */
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "routes.h"

#define DEFAULT_POINTS   1000
#define MAX_POINTS       10000
#define DEFAULT_SERIES   100
#define MAX_SERIES       1000
#define MAX_TOTAL_POINTS 1000000 /* max_points x max_series: ~25 MB of JSON at most */
#define MAX_MATCHERS     16
#define DEFAULT_RANGE_MS (3600 * 1000) /* the default history retention */

typedef struct matcher {
	char *name, *value; /* one allocation, name first */
	int neg;            /* != */
} matcher;

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* label="value", label!="value" (value unquoted also accepted). 0 or -1; -2 out of memory. */
static int parse_matcher(const char *s, matcher *m)
{
	size_t nl = 0;
	while (s[nl] && name_char(s[nl], nl == 0))
		nl++;
	if (!nl)
		return -1;
	const char *p = s + nl;
	m->neg = 0;
	if (p[0] == '!' && p[1] == '=') {
		m->neg = 1;
		p += 2;
	} else if (p[0] == '=') {
		p++;
	} else {
		return -1;
	}
	size_t len = strlen(p);
	if (!(m->name = malloc(nl + 1 + len + 1)))
		return -2;
	memcpy(m->name, s, nl);
	m->name[nl] = '\0';
	m->value = m->name + nl + 1;
	if (*p != '"') {
		memcpy(m->value, p, len + 1);
		return 0;
	}
	/* quoted, with PromQL's escapes */
	size_t o = 0;
	for (p++; *p && *p != '"'; p++) {
		char c = *p;
		if (c == '\\') {
			c = *++p;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c != '\\' && c != '"')
				goto bad;
		}
		m->value[o++] = c;
	}
	if (*p != '"' || p[1])
		goto bad;
	m->value[o] = '\0';
	return 0;
bad:
	free(m->name);
	m->name = NULL;
	return -1;
}

static int matches(const cobs_labelset *ls, const matcher *m, size_t nm)
{
	for (size_t i = 0; i < nm; i++) {
		const char *v = "";
		for (size_t j = 0; j < ls->n; j++)
			if (strcmp(ls->labels[j].name, m[i].name) == 0)
				v = ls->labels[j].value;
		if ((strcmp(v, m[i].value) == 0) == m[i].neg)
			return 0;
	}
	return 1;
}

/* ms since the epoch, "now", or "-<n><ms|s|m|h|d>" before now. 0 or -1. */
static int parse_time(const char *s, int64_t now, int64_t *out)
{
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (*s != '-')
		return cobs_api_parse_int(s, 0, INT64_MAX / 2, out);
	s++;
	size_t nd = strspn(s, "0123456789");
	if (!nd || nd > 12)
		return -1;
	int64_t n = 0;
	for (size_t i = 0; i < nd; i++)
		n = n * 10 + (s[i] - '0');
	const char *u = s + nd;
	int64_t mul = strcmp(u, "ms") == 0  ? 1
	              : strcmp(u, "s") == 0 ? 1000
	              : strcmp(u, "m") == 0 ? 60000
	              : strcmp(u, "h") == 0 ? 3600000
	              : strcmp(u, "d") == 0 ? 86400000
	                                    : 0;
	if (!mul)
		return -1;
	*out = now - n * mul;
	return 0;
}

typedef struct points {
	cobs_hist_point *v;
	size_t n, cap;
	int oom;
} points;

static int collect(void *ctx, int64_t t, double v)
{
	points *p = ctx;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		cobs_hist_point *nv = realloc(p->v, cap * sizeof(*nv));
		if (!nv) {
			p->oom = 1;
			return 1;
		}
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = (cobs_hist_point){t, v};
	return 0;
}

typedef struct query {
	const char *name;
	matcher m[MAX_MATCHERS];
	size_t nm;
	int64_t from, to;
	size_t max_points, max_series;
	char *key;
	size_t keycap;
	points pts;
} query;

/* The JSON of one series' history. NULL when out of memory. */
static json_t *series_json(cobs_state *st, query *q, const cobs_node *n, const cobs_state_family *f,
                           const cobs_state_series *se)
{
	size_t len = cobs_state_series_key(n, f, se, q->key, q->keycap);
	if (len >= q->keycap) {
		char *k = realloc(q->key, len + 1);
		if (!k)
			return NULL;
		q->key = k;
		q->keycap = len + 1;
		cobs_state_series_key(n, f, se, q->key, q->keycap);
	}
	q->pts.n = 0;
	q->pts.oom = 0;
	/* an unknown key (an info family, or evicted) is a series with no points */
	int64_t rc = cobs_state_history_each(st, q->key, len, q->from, q->to, collect, &q->pts);
	if (q->pts.oom)
		return NULL;
	if (rc < 0) {
		q->pts.n = 0;
		cobs_state_history_want(st, f, se); /* shown from the next batch on */
	}
	size_t m = q->pts.n, step = m > q->max_points ? (m + q->max_points - 1) / q->max_points : 1;
	json_t *o = json_object(), *a = json_array();
	if (!o || !a || cobs_api_set(o, "node", cobs_api_str(n->name)) < 0 ||
	    cobs_api_set(o, "labels", cobs_api_labels(se->labels, NULL, NULL)) < 0 ||
	    cobs_api_set(o, "points_in_range", cobs_api_count(m)) < 0 ||
	    cobs_api_set(o, "step", cobs_api_count(step)) < 0 ||
	    cobs_api_set(o, "points", json_incref(a)) < 0)
		goto fail;
	/* every step-th point counted back from the newest, which is always kept */
	for (size_t i = m ? (m - 1) % step : 0; i < m; i += step) {
		json_t *pt = json_array();
		if (cobs_api_push(a, pt) < 0 ||
		    cobs_api_push(pt, json_integer(q->pts.v[i].t)) < 0 ||
		    cobs_api_push(pt, cobs_api_num(q->pts.v[i].v)) < 0)
			goto fail;
	}
	json_decref(a);
	return o;
fail:
	json_decref(a);
	json_decref(o);
	return NULL;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp((*(const cobs_node *const *)a)->name, (*(const cobs_node *const *)b)->name);
}

static json_t *run_query(cobs_state *st, query *q, const char *node, int *truncated)
{
	size_t nn = cobs_state_node_count(st), k = 0;
	const cobs_node **nodes = malloc((nn + 1) * sizeof(*nodes));
	json_t *out = json_array();
	if (!nodes || !out)
		goto fail;
	for (size_t i = 0; i < nn; i++) {
		const cobs_node *n = cobs_state_node_at(st, i);
		if (!node || strcmp(n->name, node) == 0)
			nodes[k++] = n;
	}
	qsort(nodes, k, sizeof(*nodes), node_cmp);
	for (size_t i = 0; i < k && !*truncated; i++) {
		const cobs_state_family *f = cobs_state_family_find(nodes[i], q->name);
		for (size_t j = 0; f && j < f->nseries; j++) {
			const cobs_state_series *se = &f->series[j];
			if (!matches(se->labels, q->m, q->nm))
				continue;
			if (json_array_size(out) == q->max_series) {
				*truncated = 1;
				break;
			}
			if (cobs_api_push(out, series_json(st, q, nodes[i], f, se)) < 0)
				goto fail;
		}
	}
	free(nodes);
	return out;
fail:
	free(nodes);
	json_decref(out);
	return NULL;
}

static void series_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	query q = {.name = cobs_api_param_get(p, "name")};
	const char *node = cobs_api_param_get(p, "node");
	const char *from = cobs_api_param_get(p, "from"), *to = cobs_api_param_get(p, "to");
	const char *mp = cobs_api_param_get(p, "max_points");
	const char *ms = cobs_api_param_get(p, "max_series");
	int64_t now = cobs_wall_ms(), v;
	int open_end = !to;
	json_t *o = NULL, *list = NULL;
	if (!q.name || !*q.name) {
		cobs_api_error(aj, 400, "name (a metric family) is required");
		goto done;
	}
	q.from = now - DEFAULT_RANGE_MS;
	if (from && parse_time(from, now, &q.from) < 0) {
		cobs_api_error(aj, 400,
		               "from must be ms since the epoch, now, or -<n><ms|s|m|h|d>");
		goto done;
	}
	q.to = INT64_MAX;
	if (to && parse_time(to, now, &q.to) < 0) {
		cobs_api_error(aj, 400, "to must be ms since the epoch, now, or -<n><ms|s|m|h|d>");
		goto done;
	}
	if (q.to < q.from) {
		cobs_api_error(aj, 400, "to is before from");
		goto done;
	}
	q.max_points = DEFAULT_POINTS;
	if (mp) {
		if (cobs_api_parse_int(mp, 1, MAX_POINTS, &v) < 0) {
			cobs_api_error(aj, 400, "max_points must be an integer from 1 to %d",
			               MAX_POINTS);
			goto done;
		}
		q.max_points = (size_t)v;
	}
	q.max_series = DEFAULT_SERIES;
	if (ms) {
		if (cobs_api_parse_int(ms, 1, MAX_SERIES, &v) < 0) {
			cobs_api_error(aj, 400, "max_series must be an integer from 1 to %d",
			               MAX_SERIES);
			goto done;
		}
		q.max_series = (size_t)v;
	}
	if (q.max_points * q.max_series > MAX_TOTAL_POINTS) {
		cobs_api_error(aj, 400, "max_points x max_series must not exceed %d",
		               MAX_TOTAL_POINTS);
		goto done;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].name, "match[]") != 0)
			continue;
		if (q.nm == MAX_MATCHERS) {
			cobs_api_error(aj, 400, "at most %d match[] parameters", MAX_MATCHERS);
			goto done;
		}
		int rc = parse_matcher(p->v[i].value, &q.m[q.nm]);
		if (rc == -2) {
			cobs_api_error(aj, 503, "out of memory");
			goto done;
		}
		if (rc < 0) {
			cobs_api_error(aj, 400,
			               "bad match[] %s: want label=\"value\" or label!=\"value\"",
			               p->v[i].value);
			goto done;
		}
		q.nm++;
	}
	if (node && !cobs_state_node_find(st, node)) {
		cobs_api_error(aj, 404, "no node %s", node);
		goto done;
	}
	int truncated = 0;
	list = run_query(st, &q, node, &truncated);
	o = json_object();
	if (!list || !o || cobs_api_set(o, "name", cobs_api_str(q.name)) < 0 ||
	    cobs_api_set(o, "from", json_integer(q.from)) < 0 ||
	    cobs_api_set(o, "to", open_end ? json_null() : json_integer(q.to)) < 0 ||
	    cobs_api_set(o, "max_points", cobs_api_count(q.max_points)) < 0 ||
	    cobs_api_set(o, "max_series", cobs_api_count(q.max_series)) < 0 ||
	    cobs_api_set(o, "truncated", json_boolean(truncated)) < 0 ||
	    cobs_api_set(o, "series", json_incref(list)) < 0) {
		json_decref(o);
		o = NULL;
	}
	cobs_api_json(aj, 200, o);
done:
	json_decref(list);
	for (size_t i = 0; i < q.nm; i++)
		free(q.m[i].name);
	free(q.key);
	free(q.pts.v);
}

int cobs_route_api_series(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, series_run);
}
