/* SPDX-License-Identifier: MIT */
/*
 * The agent token check: `Authorization: Bearer <token>`, compared in
 * constant time so the comparison leaks nothing about the token.
 */
#ifndef COBS_SERVER_AUTH_H
#define COBS_SERVER_AUTH_H

#include <h2o.h>

/* 1 when token is NULL (no authentication configured) or req carries it. */
int cobs_auth_ok(const char *token, h2o_req_t *req);
/* Answers 401 with a WWW-Authenticate challenge. */
void cobs_auth_refuse(h2o_req_t *req);

#endif
