/* SPDX-License-Identifier: MIT */
/*
 * The JSON API's shared parts (see api_util.h): the job round trip, query
 * parsing, and jansson helpers that never let agent bytes break the JSON.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "pages.h"
#include "respond.h"

/* ---- query parameters ---- */

/* Splits and decodes a query string. 0, -1 out of memory, -2 malformed. */
static int params_parse(const char *q, size_t len, cobs_api_params *p)
{
	*p = (cobs_api_params){0};
	if (!len)
		return 0;
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		n += q[i] == '&';
	p->v = calloc(n, sizeof(*p->v));
	p->buf = malloc(len + n + 1);
	if (!p->v || !p->buf)
		return -1;
	char *o = p->buf;
	size_t i = 0;
	while (i <= len) {
		size_t end = i;
		while (end < len && q[end] != '&')
			end++;
		if (end > i) {
			size_t eq = i;
			while (eq < end && q[eq] != '=')
				eq++;
			long nl = cobs_percent_decode(q + i, eq - i, o, eq - i + 1, 1);
			if (nl < 0)
				return -2;
			p->v[p->n].name = o;
			o += nl + 1;
			long vl = eq < end ? cobs_percent_decode(q + eq + 1, end - eq - 1, o,
			                                         end - eq, 1)
			                   : cobs_percent_decode("", 0, o, 1, 1);
			if (vl < 0)
				return -2;
			p->v[p->n].value = o;
			o += vl + 1;
			p->n++;
		}
		i = end + 1;
	}
	return 0;
}

static void params_free(cobs_api_params *p)
{
	free(p->v);
	free(p->buf);
}

const char *cobs_api_param_get(const cobs_api_params *p, const char *name)
{
	/* an empty value is no value: a form's "any" option sends name= */
	for (size_t i = p->n; i-- > 0;)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value[0] ? p->v[i].value : NULL;
	return NULL;
}

int cobs_api_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	if (!s || !*s)
		return -1;
	const char *d = *s == '-' ? s + 1 : s;
	if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 18)
		return -1;
	errno = 0;
	long long v = strtoll(s, NULL, 10);
	if (errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ---- the job ---- */

static void run(cobs_job *job)
{
	cobs_api_job *aj = (cobs_api_job *)job;
	cobs_api_params p;
	int rc = params_parse(aj->query, aj->qlen, &p);
	if (rc == -1)
		cobs_api_error(aj, 503, "out of memory");
	else if (rc == -2)
		cobs_api_error(aj, 400, "malformed query string (bad %%-escape or a NUL byte)");
	else {
		aj->params = &p;
		aj->fn(aj, job->srv->state, &p);
		aj->params = NULL;
	}
	params_free(&p);
}

int cobs_api_defer(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a, cobs_api_fn fn)
{
	size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
	if (qlen > COBS_API_MAX_QUERY) {
		cobs_respond_json_error(req, 400, "query string over %d bytes", COBS_API_MAX_QUERY);
		return 0;
	}
	cobs_api_job *aj = calloc(1, sizeof(*aj) + qlen + 1);
	if (!aj) {
		cobs_respond_json_error(req, 503, "out of memory");
		return 0;
	}
	aj->job.srv = srv;
	aj->job.run = run;
	aj->job.bytes = sizeof(*aj) + qlen;
	aj->args = *a;
	aj->fn = fn;
	aj->page = a->page;
	aj->qlen = qlen;
	if (qlen)
		memcpy(aj->query, req->path.base + req->query_at + 1, qlen);
	aj->query[qlen] = '\0';
	if (cobs_handoff_submit(srv->handoff, req, &aj->job) < 0) {
		free(aj);
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_json_error(req, 503, "server busy");
	}
	return 0;
}

/* ---- answers ---- */

void cobs_api_json(cobs_api_job *aj, int status, json_t *o)
{
	cobs_job *job = &aj->job;
	if (aj->page) {
		cobs_page_answer(aj, status, o);
		return;
	}
	/* 15 significant digits: every double shows as the decimal it came from
	 * (0.3, not 0.29999999999999999), at most an ulp away from it */
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(o);
	cobs_buf_clear(&job->body);
	job->content_type = "application/json";
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		job->status = 500;
		if (cobs_buf_append(&job->body, oom, sizeof(oom) - 1) < 0)
			cobs_buf_clear(&job->body);
		return;
	}
	size_t len = strlen(text);
	cobs_buf_free(&job->body);
	job->body = (cobs_buf){text, len, len + 1};
	job->status = status;
	if (cobs_buf_append(&job->body, "\n", 1) < 0) {
		/* the JSON is whole without its newline */
		job->body.data[len] = '\0';
	}
}

void cobs_api_error(cobs_api_job *aj, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	if (o && cobs_api_set(o, "error", cobs_api_str(msg)) < 0) {
		json_decref(o);
		o = NULL;
	}
	cobs_api_json(aj, status, o);
}

/* Length (1-4) of the well-formed UTF-8 sequence at s (NUL-terminated), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* over U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

json_t *cobs_api_str(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	/* not UTF-8: every bad byte becomes U+FFFD (3 bytes) */
	size_t len = strlen(s);
	char *r = malloc(3 * len + 1);
	if (!r)
		return NULL;
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (n) {
			memcpy(r + o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(r + o, "\xEF\xBF\xBD", 3);
			o += 3;
			p++;
		}
	}
	j = json_stringn(r, o);
	free(r);
	return j;
}

json_t *cobs_api_num(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

json_t *cobs_api_count(size_t n)
{
	return json_integer((json_int_t)n);
}

int cobs_api_set(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(o, key, v);
}

int cobs_api_push(json_t *a, json_t *v)
{
	if (!v)
		return -1;
	return json_array_append_new(a, v);
}

json_t *cobs_api_labels(const cobs_labelset *ls, const char *const *skip, const char *strip)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	size_t sl = strip ? strlen(strip) : 0;
	for (size_t i = 0; ls && i < ls->n; i++) {
		const char *name = ls->labels[i].name;
		int skipped = 0;
		for (size_t j = 0; skip && skip[j] && !skipped; j++)
			skipped = strcmp(skip[j], name) == 0;
		if (skipped)
			continue;
		if (sl && strncmp(name, strip, sl) == 0 && name[sl])
			name += sl;
		/* label names are Prometheus names (the decoder checked): ASCII keys */
		if (cobs_api_set(o, name, cobs_api_str(ls->labels[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

const cobs_node *cobs_api_find_node(cobs_api_job *aj, cobs_state *st)
{
	const char *name = aj->args.arg[0];
	/* a name the wire refuses cannot be a node's: the same 404 */
	const cobs_node *n = cobs_node_name_ok(name) ? cobs_state_node_find(st, name) : NULL;
	if (!n)
		cobs_api_error(aj, 404, "no node %s", name);
	return n;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int cobs_api_row_cmp(const void *a, const void *b)
{
	return strcmp(((const cobs_api_row *)a)->name, ((const cobs_api_row *)b)->name);
}

int cobs_api_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (!n)
		return 1;
	for (const char *h = hay; *h; h++) {
		size_t i = 0;
		while (i < n && h[i] && lower(h[i]) == lower(needle[i]))
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

int cobs_api_cmp_num(double a, double b, int desc)
{
	int an = isnan(a), bn = isnan(b);
	if (an || bn)
		return an - bn;
	if (a == b)
		return 0;
	return (a < b) == !desc ? -1 : 1;
}
