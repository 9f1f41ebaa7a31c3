/* SPDX-License-Identifier: MIT */
/*
 * Bearer token authentication for the agent endpoints.
 */
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

int cobs_auth_ok(const char *token, h2o_req_t *req)
{
	if (!token)
		return 1;
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i < 0)
		return 0;
	h2o_iovec_t v = req->headers.entries[i].value;
	if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0)
		return 0;
	const char *p = v.base + 7;
	size_t len = v.len - 7;
	while (len && *p == ' ') {
		p++;
		len--;
	}
	return same(p, len, token, strlen(token));
}

void cobs_auth_refuse(h2o_req_t *req)
{
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
	               H2O_STRLIT("Bearer realm=\"cobs\""));
	cobs_respond_text(req, 401, "missing or wrong agent token (Authorization: Bearer ...)");
}
