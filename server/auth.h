/* SPDX-License-Identifier: MIT */
/*
 * Authentication and the cross-site check. The agents: `Authorization:
 * Bearer <agent_token>`. The dashboard, the JSON API and /metrics, when
 * [auth] sets ui_user and ui_password (HTTP Basic: browsers ask for it) or
 * ui_token (Bearer, for scripts and Prometheus): either one passes. Secrets
 * are compared in constant time so the comparison leaks nothing about them.
 */
#ifndef COBS_SERVER_AUTH_H
#define COBS_SERVER_AUTH_H

#include <h2o.h>

/* 1 when token is NULL (no authentication configured) or req carries it. */
int cobs_auth_ok(const char *token, h2o_req_t *req);
/* Answers 401 with a WWW-Authenticate challenge. */
void cobs_auth_refuse(h2o_req_t *req);

typedef struct cobs_ui_auth {
	char *basic; /* base64 of "user:password", as a browser sends it; NULL: none */
	const char *token;
} cobs_ui_auth;

/* The check for these settings' ui_* keys. 0, or -1 when out of memory. */
int cobs_ui_auth_init(cobs_ui_auth *a, const char *user, const char *password, const char *token);
void cobs_ui_auth_free(cobs_ui_auth *a);
/* 1 when no ui_* credential is configured, or req carries one of them. */
int cobs_ui_auth_ok(const cobs_ui_auth *a, h2o_req_t *req);
/* Answers 401 asking for Basic credentials (a browser then prompts for them). */
void cobs_ui_auth_refuse(h2o_req_t *req);

/*
 * CSRF: whether a request that changes something (any method but GET and
 * HEAD) may come from this browser page. A browser names the page that
 * made the request (Origin, Sec-Fetch-Site); another site's page is
 * refused. A request without those headers is no browser's (curl, an
 * agent, a script) and cannot be forged by a page, so it passes.
 */
int cobs_auth_same_origin(h2o_req_t *req);

#endif
