/* SPDX-License-Identifier: MIT */
/*
 * Response helpers over h2o_start_response / h2o_send.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "respond.h"

/* Handlers answer in one piece: nothing to proceed or stop. */
static h2o_generator_t oneshot = {NULL, NULL};

const char *cobs_status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Unknown";
}

void cobs_respond_header(h2o_req_t *req, const char *name, const char *value)
{
	size_t nl = strlen(name);
	h2o_iovec_t n = h2o_strdup(&req->pool, name, nl);
	h2o_iovec_t v = h2o_strdup(&req->pool, value, strlen(value));
	h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

/*
 * A page's protection: scripts and styles only from this server (no inline
 * script: what an agent sends can never run), no framing, no sniffing, no
 * referrer leaving the site.
 */
static void add_page_headers(h2o_req_t *req)
{
	static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
	                          "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
	                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"),
	                      0, NULL, csp, sizeof(csp) - 1);
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL,
	                      H2O_STRLIT("DENY"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"),
	                      0, NULL, H2O_STRLIT("nosniff"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
	                      H2O_STRLIT("same-origin"));
}

static void send_body(h2o_req_t *req, int status, const char *content_type, const void *body,
                      size_t len)
{
	if (status == 204 || status == 304)
		len = 0;
	req->res.status = status;
	req->res.reason = cobs_status_reason(status);
	/* a 204 carries no Content-Length at all (RFC 9110 8.6); h2o leaves it out
	 * for an unknown length on a 204 */
	req->res.content_length = status == 204 ? SIZE_MAX : len;
	if (len || status != 204)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               content_type, strlen(content_type));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	if (strncmp(content_type, "text/html", 9) == 0)
		add_page_headers(req);
	h2o_start_response(req, &oneshot);
	h2o_iovec_t iov = h2o_iovec_init(body, len);
	h2o_send(req, &iov, len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void cobs_respond(h2o_req_t *req, int status, const char *content_type, const void *body,
                  size_t len)
{
	void *copy = NULL;
	if (len) {
		copy = h2o_mem_alloc_pool(&req->pool, len);
		memcpy(copy, body, len);
	}
	send_body(req, status, content_type, copy, len);
}

typedef struct owned {
	cobs_buf buf;
} owned;

static void owned_dispose(void *p)
{
	cobs_buf_free(&((owned *)p)->buf);
}

void cobs_respond_take(h2o_req_t *req, int status, const char *content_type, cobs_buf *body)
{
	owned *o = h2o_mem_alloc_shared(&req->pool, sizeof(*o), owned_dispose);
	o->buf = *body;
	*body = (cobs_buf){0};
	send_body(req, status, content_type, o->buf.data, o->buf.len);
}

void cobs_respond_text(h2o_req_t *req, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(msg) - 1 ? (size_t)n : sizeof(msg) - 2;
	msg[len++] = '\n';
	cobs_respond(req, status, "text/plain; charset=utf-8", msg, len);
}

void cobs_respond_json_error(h2o_req_t *req, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* jansson escapes; a message that is not UTF-8 (it quotes client input) gets a generic one
	 */
	json_t *o = json_pack("{s:s}", "error", msg);
	if (!o)
		o = json_pack("{s:s}", "error", cobs_status_reason(status));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		cobs_respond(req, status, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	size_t len = strlen(text);
	char *body = h2o_mem_alloc_pool(&req->pool, len + 1);
	memcpy(body, text, len);
	body[len++] = '\n';
	free(text);
	send_body(req, status, "application/json", body, len);
}
