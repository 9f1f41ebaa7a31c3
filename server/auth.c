/* SPDX-License-Identifier: MIT */
/*
 * Authentication (the agents' token, the dashboard's credentials) and the
 * same-origin check against cross-site requests (auth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "respond.h"

/* Equal without an early exit: the time taken does not depend on where they differ. */
static int same(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;
	for (size_t i = 0; i < blen; i++)
		diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : 0));
	return diff == 0;
}

/* The credentials of req's Authorization header of this scheme ("Bearer", "Basic"). */
static int credentials(h2o_req_t *req, const char *scheme, const char **p, size_t *len)
{
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i < 0)
		return 0;
	h2o_iovec_t v = req->headers.entries[i].value;
	size_t n = strlen(scheme);
	if (v.len <= n || strncasecmp(v.base, scheme, n) != 0 || v.base[n] != ' ')
		return 0;
	*p = v.base + n;
	*len = v.len - n;
	while (*len && **p == ' ') {
		(*p)++;
		(*len)--;
	}
	return 1;
}

int cobs_auth_ok(const char *token, h2o_req_t *req)
{
	const char *p;
	size_t len;
	if (!token)
		return 1;
	return credentials(req, "Bearer", &p, &len) && same(p, len, token, strlen(token));
}

void cobs_auth_refuse(h2o_req_t *req)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
	               H2O_STRLIT("Bearer realm=\"cobs\""));
	cobs_respond_text(req, 401, "missing or wrong agent token (Authorization: Bearer ...)");
}

int cobs_ui_auth_init(cobs_ui_auth *a, const char *user, const char *password, const char *token)
{
	*a = (cobs_ui_auth){.token = token};
	if (!user || !password)
		return 0;
	size_t n = strlen(user) + 1 + strlen(password);
	char *plain = malloc(n + 1);
	a->basic = malloc(h2o_base64_encode_capacity(n));
	if (!plain || !a->basic) {
		free(plain);
		free(a->basic);
		a->basic = NULL;
		return -1;
	}
	snprintf(plain, n + 1, "%s:%s", user, password);
	h2o_base64_encode(a->basic, plain, n, 0);
	memset(plain, 0, n);
	free(plain);
	return 0;
}

void cobs_ui_auth_free(cobs_ui_auth *a)
{
	free(a->basic);
	a->basic = NULL;
}

int cobs_ui_auth_ok(const cobs_ui_auth *a, h2o_req_t *req)
{
	const char *p;
	size_t len;
	if (!a->basic && !a->token)
		return 1;
	if (a->basic && credentials(req, "Basic", &p, &len) &&
	    same(p, len, a->basic, strlen(a->basic)))
		return 1;
	return a->token && credentials(req, "Bearer", &p, &len) &&
	       same(p, len, a->token, strlen(a->token));
}

void cobs_ui_auth_refuse(h2o_req_t *req)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
	               H2O_STRLIT("Basic realm=\"cobservability\", charset=\"UTF-8\""));
	cobs_respond_text(req, 401,
	                  "this server asks for credentials ([auth] ui_user or ui_token)");
}

/* The value of header name, or an empty iovec. */
static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
	ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
	return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

int cobs_auth_same_origin(h2o_req_t *req)
{
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
	    h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
		return 1;
	h2o_iovec_t site = header(req, "sec-fetch-site");
	if (site.len && !h2o_memis(site.base, site.len, H2O_STRLIT("same-origin")) &&
	    !h2o_memis(site.base, site.len, H2O_STRLIT("none")))
		return 0;
	h2o_iovec_t origin = header(req, "origin");
	if (!origin.len)
		return 1;
	/* "scheme://host[:port]" must name the host the request was sent to */
	const char *sep = memchr(origin.base, '/', origin.len);
	if (!sep || (size_t)(sep - origin.base) + 2 > origin.len || sep[1] != '/')
		return 0;
	const char *host = sep + 2;
	size_t hlen = origin.len - (size_t)(host - origin.base);
	return req->authority.len == hlen && strncasecmp(req->authority.base, host, hlen) == 0;
}
