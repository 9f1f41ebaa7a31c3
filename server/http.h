/* SPDX-License-Identifier: MIT */
/*
 * The h2o side: configuration, listeners (the main one and the optional
 * ingest one), TLS with ALPN, the h2o thread's loop and its drain.
 *
 * Protocols on every listener: HTTP/1.1, HTTP/2 over cleartext with prior
 * knowledge or Upgrade: h2c, and with TLS (tls_cert + tls_key) HTTPS with
 * ALPN h2 or http/1.1. The main listener serves every route; the ingest
 * listener serves only the agent routes (router.h: COBS_ROUTE_AGENT).
 *
 * h2o buffers a request body whole before the handler runs: its
 * max_request_entity_size is the larger of max_batch_size and a whole wire
 * message (COBS_WIRE_MAX_RAW_BYTES: a command result may be a profile that
 * big), plus COBS_HTTP_ENTITY_SLACK. So a batch somewhat over
 * max_batch_size reaches the ingest handler and gets a clear 413 with a
 * reason (and is counted); a far larger body is stopped by h2o itself before
 * it is buffered (HTTP/1.1 413, HTTP/2 a refused stream, which curl
 * retries: agents cap their batches below max_batch_size).
 */
#ifndef COBS_SERVER_HTTP_H
#define COBS_SERVER_HTTP_H

#include <h2o.h>

#include <cobs/config.h>

#include "server.h"

#define COBS_HTTP_ENTITY_SLACK (1u << 20)
#define COBS_HTTP_LISTENERS    2

/* Configures h2o and binds the listeners (not yet accepting). 0, or -1 with err. */
int cobs_http_new(cobs_server *srv, cobs_error *err);
/* The h2o context (for the parts that live on the h2o thread). */
h2o_context_t *cobs_http_context(cobs_server *srv);
/* The URL of listener i ("http://127.0.0.1:8080/"), or NULL. */
const char *cobs_http_url(const cobs_server *srv, int i);
/*
 * The h2o thread's body: accepts, serves, and when a drain is asked for
 * stops accepting, ends the command streams, asks connections to close
 * (HTTP/2 GOAWAY), waits for them and for jobs in flight (at most
 * drain_timeout for connections), then returns. Whether every connection
 * closed: 1, else 0 (cobs_http_free then abandons h2o's state to the exit).
 */
int cobs_http_run(cobs_server *srv);
/* Wakes the h2o loop (any thread): it then looks at srv->drain_requested. */
void cobs_http_wake(cobs_server *srv);
/* Frees the h2o side; all_closed as cobs_http_run returned (1 when it never ran). */
void cobs_http_free(cobs_server *srv, int all_closed);

#endif
