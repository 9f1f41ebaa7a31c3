/*
 * HTTP/2 to the server over one connection, with libcurl's multi interface
 * driven by the agent's libevent loop (socket and timer callbacks feeding
 * curl_multi_socket_action), so nothing here ever blocks the loop.
 *
 * One connection, on purpose and by construction: only a request chosen as
 * the connection's opener may open a socket (CURLOPT_OPENSOCKETFUNCTION
 * refuses every other one), there is at most one opener at a time, and the
 * other requests wait until the opener's answer proved the connection
 * speaks HTTP/2; then they are multiplexed on it (CURLPIPE_MULTIPLEX,
 * CURLMOPT_MAX_HOST_CONNECTIONS 1, CURLOPT_PIPEWAIT). A request whose
 * socket was refused (its connection had died) is queued again unseen.
 *
 * h2c uses prior knowledge on the opener only and CURL_HTTP_VERSION_2_0 on
 * the requests that join it: libcurl 7.88.1 breaks a connection reused by a
 * prior-knowledge request (PLATFORM.md). https uses CURL_HTTP_VERSION_2TLS.
 * An answer over HTTP/1 is refused (the command stream would starve the
 * batches), and any transport error tears the connection down and starts
 * over: its other requests fail with it and their owners retry.
 */
#ifndef COBS_HTTP2_TRANSPORT_H
#define COBS_HTTP2_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>

struct event_base;

typedef struct h2_transport h2_transport;
typedef struct h2_request h2_request;

/* How a request ended. */
typedef struct h2_response {
	int curl_code;     /* 0 when the server answered */
	const char *error; /* why not, for logs (curl's words) */
	long status;       /* the HTTP status, 0 without an answer */
	const char *body;  /* the first bytes of the answer (a 4xx reason), NUL-terminated */
	size_t body_len;
	uint64_t retry_after_ms; /* Retry-After in seconds, as ms; 0 when absent */
} h2_response;

typedef struct h2_handlers {
	/* Streams: the status line arrived. */
	void (*on_status)(void *arg, long status);
	/* Streams with status 200: bytes as they arrive; -1 aborts the request. */
	int (*on_data)(void *arg, const uint8_t *p, size_t n);
	/* Exactly once, unless cancelled first; the request is freed right after. */
	void (*on_done)(void *arg, const h2_response *r);
} h2_handlers;

typedef struct h2_transport_config {
	const char *url;        /* the server's base URL, without a trailing '/' */
	const char *token;      /* bearer token, or NULL */
	const char *token_file; /* or a file holding it, re-read when it changes; or NULL */
	const char *ca_file;    /* https: the CA bundle; NULL for the system's */
	uint64_t timeout_ms;    /* connect timeout, and the whole of a POST */
	const char *who;        /* the sink's name, for log lines */
	const char *user_agent;
} h2_transport_config;

typedef struct h2_transport_stats {
	uint64_t connects; /* sockets opened */
	uint64_t requests; /* requests started */
	uint64_t resets;   /* times the connection was torn down after an error */
	bool up;           /* a connection speaks HTTP/2 right now */
} h2_transport_stats;

h2_transport *h2_transport_new(struct event_base *base, const h2_transport_config *cfg,
                               cobs_error *err);
/* Cancels every request (no callbacks), closes the connection, frees. Safe on NULL. */
void h2_transport_free(h2_transport *t);

/* POSTs len bytes of body (not copied: valid until on_done or cancel). NULL when out of memory. */
h2_request *h2_transport_post(h2_transport *t, const char *path, const uint8_t *body, size_t len,
                              const h2_handlers *h, void *arg);
/* GETs a long-lived streamed answer (no overall timeout). NULL when out of memory. */
h2_request *h2_transport_stream(h2_transport *t, const char *path, const h2_handlers *h, void *arg);
/* Ends a request now, without its on_done. Never call from inside its own callbacks. */
void h2_request_cancel(h2_request *r);

h2_transport_stats h2_transport_get_stats(const h2_transport *t);

#endif
