/*
 * A scripted HTTPS/1.1 server for tests of HTTP clients: listens on
 * 127.0.0.1 on an ephemeral port with a self-signed certificate made at
 * start, answers each request with the next scripted response (in order),
 * and records what each request asked for. Runs on threads of its own (one
 * per connection), so a response that hangs never blocks the next request
 * or the test's event loop.
 */
#ifndef COBS_TEST_HTTPS_SERVER_H
#define COBS_TEST_HTTPS_SERVER_H

#include <stddef.h>

typedef enum https_kind {
	/* status and body with Content-Length, then close */
	HTTPS_FULL,
	/* Content-Length of the whole body but only `cut` bytes of it, then close */
	HTTPS_TRUNCATED,
	/* reads the request and never answers; waits until the client leaves */
	HTTPS_HANG,
	/* 200, the body as one chunk, then close without the last chunk: a dropped stream */
	HTTPS_STREAM,
	/* 200, the body as one chunk, then stays open until the client leaves (or
	 * https_server_release) */
	HTTPS_STREAM_HOLD,
} https_kind;

typedef struct https_server https_server;

/*
 * Starts a server whose certificate (its own CA, valid for 127.0.0.1 and
 * localhost) is written to dir/server.crt. NULL on failure.
 */
https_server *https_server_start(const char *dir);
/* Stops listening, ends every connection and frees the server. */
void https_server_stop(https_server *s);

int https_server_port(const https_server *s);
/* The certificate file a client must trust. */
const char *https_server_ca(const https_server *s);

/*
 * Queues the answer to the next unanswered request (body copied; cut is for
 * HTTPS_TRUNCATED). With the queue empty, a request gets HTTPS_STREAM_HOLD
 * with no body: an idle watch.
 */
void https_server_push(https_server *s, https_kind kind, int status, const char *body, size_t cut);

/* Requests read so far (a TLS handshake that failed is no request). */
size_t https_server_requests(https_server *s);
/*
 * Copies the i-th request's target ("/path?query") and Authorization header
 * value ("" when absent). 0, or -1 when there is no such request.
 */
int https_server_request(https_server *s, size_t i, char *target, size_t tlen, char *auth,
                         size_t alen);
/* TLS handshakes that failed (a client that does not trust the certificate). */
size_t https_server_bad_handshakes(https_server *s);
/* Connections now held open by HTTPS_HANG or HTTPS_STREAM_HOLD. */
size_t https_server_holding(https_server *s);

/* Closes every connection held now (a stream ends without its last chunk: a
 * dropped watch), so a test decides when a client must reconnect. */
void https_server_release(https_server *s);
/* Held connections the client closed (it gave up, or aborted a stream). */
size_t https_server_hangups(https_server *s);

/* Writes a self-signed certificate for another key to path: a CA that does not
 * match the server. 0 or -1. */
int https_write_other_cert(const char *path);

#endif
