/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's pages. A page is its JSON API twin's document rendered
 * through a template of web/templates (tmpl.h): the API endpoint's function
 * runs as for JSON, and its answer goes through cobs_page_answer instead of
 * being serialized. So a page shows exactly what its API says, and there
 * is one place that reads the state for both.
 *
 * A page's template receives the API document with one more key, `ui`:
 *   ui.refresh_ms, ui.refresh ("2s", for hx-trigger; absent when live
 *   updates are off), ui.query (the request's raw query string),
 *   ui.params (its parameters, decoded), ui.prev.offset / ui.next.offset and
 *   ui.shown.first / .last (for documents with total, offset and limit), ui.node (the {node} of a
 *   page under /nodes/{node}), ui.now_ms.
 *
 * `?fragment=NAME` renders the template PAGE-NAME instead: the part of the
 * page that HTMX refreshes, under the page's own URL. An error (4xx, 5xx)
 * renders the template `error` with the API's {"error": ...}.
 *
 * HTML answers carry a Content-Security-Policy without inline script or
 * style (respond.c).
 */
#ifndef COBS_SERVER_PAGES_H
#define COBS_SERVER_PAGES_H

#include "api_util.h"
#include "tmpl.h"

/* web_dir/templates loaded; NULL with err naming the bad file. */
cobs_tmpl_set *cobs_pages_load(const char *web_dir, cobs_error *err);

/* Renders o (taken) through aj->page's template as the job's answer (worker thread). */
void cobs_page_answer(cobs_api_job *aj, int status, json_t *o);

#endif
