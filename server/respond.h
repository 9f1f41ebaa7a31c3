/* SPDX-License-Identifier: MIT */
/*
 * Answering a request on the h2o thread: status, content type, a body
 * either copied into the request's pool or handed over (freed when h2o
 * disposes the request, so a large /metrics body is never copied).
 */
#ifndef COBS_SERVER_RESPOND_H
#define COBS_SERVER_RESPOND_H

#include <stddef.h>

#include <h2o.h>

#include <cobs/format.h>

/* Adds a response header (before one of the calls below). Copies name and value. */
void cobs_respond_header(h2o_req_t *req, const char *name, const char *value);

/* Answers with a copy of body (len bytes; NULL / 0 for none). 204 and 304 send no body. */
void cobs_respond(h2o_req_t *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with body, taking it over (*body is left empty). */
void cobs_respond_take(h2o_req_t *req, int status, const char *content_type, cobs_buf *body);
/* text/plain; one line, '\n' added. */
void cobs_respond_text(h2o_req_t *req, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* application/json {"error": "..."}. */
void cobs_respond_json_error(h2o_req_t *req, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* "Not Found" for 404, ... (HTTP/1.1 reason phrases). */
const char *cobs_status_reason(int status);

#endif
