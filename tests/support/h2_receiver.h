/*
 * A minimal cobs-server stand-in for tests of the http2 sink: h2o (h2c,
 * prior knowledge and Upgrade) in a child process on 127.0.0.1, serving
 *   POST /api/v1/ingest                  answers 204, or what it is told
 *   GET  /api/v1/agents/{node}/commands  a held-open stream of frames
 *   POST /api/v1/commands/{id}/result    answers 204
 * and reporting every connection and request (with its connection id,
 * Authorization header and body) back to the test as events.
 *
 * A child process, because killing it is exactly a server going away:
 * every connection drops at once and the port refuses until a restart
 * (same port). Control calls are synchronous: they return once the child
 * has applied them.
 */
#ifndef COBS_TEST_H2_RECEIVER_H
#define COBS_TEST_H2_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

typedef enum h2r_type {
	H2R_ACCEPT = 1,        /* a TCP connection was accepted */
	H2R_INGEST = 2,        /* a batch: body, status answered (0: left hanging) */
	H2R_STREAM_OPEN = 3,   /* a command stream started: path */
	H2R_STREAM_CLOSED = 4, /* the client left a command stream */
	H2R_RESULT = 5,        /* a command result: path, body */
	H2R_OTHER = 6,         /* anything else (answered 404): path */
	H2R_CLOSED = 7,        /* a TCP connection was closed (by either side) */
} h2r_type;

typedef struct h2r_event {
	h2r_type type;
	int status;    /* what the receiver answered */
	uint64_t conn; /* h2o's connection id: equal ids, one TCP connection */
	char *path;
	char *auth; /* the Authorization header, "" when absent */
	uint8_t *body;
	size_t len;
} h2r_event;

typedef struct h2_receiver h2_receiver;

/* Starts on an ephemeral port. NULL on failure. */
h2_receiver *h2r_start(void);
/* The same, closing HTTP/2 connections idle (no open stream) for idle_ms (h2o: 10 s). */
h2_receiver *h2r_start_idle(unsigned idle_ms);
/* Kills the child and frees everything. */
void h2r_stop(h2_receiver *r);
/* Kills the child (SIGKILL): every connection drops, the port refuses. Events are kept. */
void h2r_kill(h2_receiver *r);
/* A fresh child on the same port (answering 204 again). 0 or -1. */
int h2r_restart(h2_receiver *r);
int h2r_port(const h2_receiver *r);
/* The base URL, "http://127.0.0.1:PORT" (static buffer in r). */
const char *h2r_url(const h2_receiver *r);

/* Reads the events that arrived, waiting up to timeout_ms for the first. The count read. */
int h2r_drain(h2_receiver *r, int timeout_ms);
size_t h2r_count(const h2_receiver *r, h2r_type type);
/* The i-th event of type (in arrival order), or NULL. */
const h2r_event *h2r_get(const h2_receiver *r, h2r_type type, size_t i);

/* The next `times` ingests are answered with status (times < 0: until told otherwise);
 * status 0 leaves them without an answer. 0 or -1. */
int h2r_ingest_answer(h2_receiver *r, int status, int times);
/* Writes bytes (whole frames, made with <cobs/wire.h>) on the newest command stream. */
int h2r_stream_send(h2_receiver *r, const void *bytes, size_t len);
/* Ends the newest command stream normally. */
int h2r_stream_end(h2_receiver *r);

#endif
