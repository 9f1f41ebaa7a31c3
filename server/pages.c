/* SPDX-License-Identifier: MIT */
/*
 * Rendering a page's document through its template (pages.h).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cobs/log.h>

#include "pages.h"

#define MAX_FRAGMENT 32

cobs_tmpl_set *cobs_pages_load(const char *web_dir, cobs_error *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/templates", web_dir ? web_dir : ".");
	cobs_tmpl_set *t = cobs_tmpl_set_new();
	if (!t) {
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	if (cobs_tmpl_load_dir(t, dir, err) < 0) {
		cobs_tmpl_set_free(t);
		return NULL;
	}
	return t;
}

/* The `ui` object of the page (see pages.h). NULL when out of memory. */
static json_t *ui_of(const cobs_api_job *aj, json_t *doc)
{
	const cobs_server *srv = aj->job.srv;
	json_t *ui = json_object(), *params = json_object();
	if (!ui || !params || cobs_api_set(ui, "params", params) < 0 ||
	    cobs_api_set(ui, "query", cobs_api_str(aj->query)) < 0 ||
	    cobs_api_set(ui, "now_ms", json_integer(cobs_wall_ms())) < 0 ||
	    cobs_api_set(ui, "refresh_ms", cobs_api_count(srv->settings.refresh_ms)) < 0) {
		if (!ui || !params)
			json_decref(params);
		json_decref(ui);
		return NULL;
	}
	/* pages under /nodes/{node}: the node as the URL named it, for links */
	if (aj->args.n && cobs_api_set(ui, "node", cobs_api_str(aj->args.arg[0])) < 0)
		goto fail;
	if (srv->settings.refresh_ms) {
		char every[32];
		snprintf(every, sizeof(every), "%gs", (double)srv->settings.refresh_ms / 1000.0);
		if (cobs_api_set(ui, "refresh", json_string(every)) < 0)
			goto fail;
	}
	for (size_t i = 0; aj->params && i < aj->params->n; i++)
		if (cobs_api_set(params, aj->params->v[i].name,
		                 cobs_api_str(aj->params->v[i].value)) < 0)
			goto fail;
	/* paging links for documents that are one page of a list */
	json_t *total = json_object_get(doc, "total"), *offset = json_object_get(doc, "offset");
	json_t *limit = json_object_get(doc, "limit");
	if (json_is_integer(total) && json_is_integer(offset) && json_is_integer(limit)) {
		json_int_t t = json_integer_value(total), o = json_integer_value(offset);
		json_int_t l = json_integer_value(limit);
		json_int_t c = json_integer_value(json_object_get(doc, "count"));
		if (cobs_api_set(ui, "shown",
		                 json_pack("{s:I,s:I}", "first", (json_int_t)(c ? o + 1 : 0),
		                           "last", (json_int_t)(o + c))) < 0)
			goto fail;
		/* objects, so that offset 0 is still a link ({{#ui.prev}}) */
		if (o > 0 &&
		    cobs_api_set(ui, "prev",
		                 json_pack("{s:I}", "offset", (json_int_t)(o > l ? o - l : 0))) < 0)
			goto fail;
		if (l > 0 && o + l < t &&
		    cobs_api_set(ui, "next", json_pack("{s:I}", "offset", (json_int_t)(o + l))) < 0)
			goto fail;
	}
	return ui;
fail:
	json_decref(ui);
	return NULL;
}

/* The template for this request: the page, one of its fragments, or NULL (404 said why). */
static const char *template_of(const cobs_api_job *aj, char *buf, size_t cap, const char **why)
{
	const char *f = aj->params ? cobs_api_param_get(aj->params, "fragment") : NULL;
	if (!f)
		return aj->page;
	size_t n = strlen(f);
	if (n == 0 || n > MAX_FRAGMENT || strspn(f, "abcdefghijklmnopqrstuvwxyz") != n) {
		*why = "fragment must be a name of a-z";
		return NULL;
	}
	snprintf(buf, cap, "%s-%s", aj->page, f);
	if (!cobs_tmpl_has(aj->job.srv->pages, buf)) {
		*why = "this page has no such fragment";
		return NULL;
	}
	return buf;
}

static void render(cobs_api_job *aj, int status, const char *name, json_t *doc)
{
	cobs_job *job = &aj->job;
	cobs_error err = {{0}};
	cobs_buf_clear(&job->body);
	job->content_type = "text/html; charset=utf-8";
	job->status = status;
	if (cobs_tmpl_render(job->srv->pages, name, doc, cobs_wall_ms(), &job->body, &err) == 0)
		return;
	cobs_log(COBS_LOG_ERROR, "ui", "page %s: %s", name, err.msg);
	cobs_buf_clear(&job->body);
	job->status = 500;
	job->content_type = "text/plain; charset=utf-8";
	cobs_buf_printf(&job->body, "cannot render this page (see the server's log)\n");
}

/* An error document {"error": msg} through the `error` template. */
static void render_error(cobs_api_job *aj, int status, const char *msg)
{
	json_t *doc = json_object();
	json_t *ui = doc ? ui_of(aj, doc) : NULL;
	if (!ui || cobs_api_set(doc, "ui", ui) < 0 ||
	    cobs_api_set(doc, "error", cobs_api_str(msg)) < 0 ||
	    cobs_api_set(doc, "status", json_integer(status)) < 0) {
		json_decref(doc);
		aj->job.status = 500;
		aj->job.content_type = "text/plain; charset=utf-8";
		cobs_buf_clear(&aj->job.body);
		cobs_buf_printf(&aj->job.body, "out of memory\n");
		return;
	}
	render(aj, status, "error", doc);
	json_decref(doc);
}

void cobs_page_answer(cobs_api_job *aj, int status, json_t *o)
{
	if (!o) {
		render_error(aj, 500, "out of memory");
		return;
	}
	if (status >= 400) {
		const char *msg = json_string_value(json_object_get(o, "error"));
		render_error(aj, status, msg ? msg : "error");
		json_decref(o);
		return;
	}
	char buf[64 + MAX_FRAGMENT];
	const char *why = NULL;
	const char *name = template_of(aj, buf, sizeof(buf), &why);
	json_t *ui = name ? ui_of(aj, o) : NULL;
	if (!name)
		render_error(aj, 404, why);
	else if (!ui || cobs_api_set(o, "ui", ui) < 0)
		render_error(aj, 500, "out of memory");
	else
		render(aj, status, name, o);
	json_decref(o);
}
