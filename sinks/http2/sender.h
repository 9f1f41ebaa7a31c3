/*
 * The batch sender: delivers the spool's batches to POST /api/v1/ingest in
 * order, one in flight at a time, so the server sees sequence numbers
 * ascending whatever fails in between.
 *
 *   2xx                     delivered: the batch leaves the spool
 *   no answer, 5xx, 408,    kept, retried after exponential backoff with
 *   429, 401, 403           jitter (Retry-After when longer, up to the max)
 *   other 4xx (400, 413..)  logged with the server's reason, dropped and
 *                           counted: resending the same bytes cannot help
 *
 * 401 and 403 are retried rather than dropped: the batch is fine, the
 * credentials are not (a rotating secret, RBAC being fixed), and the spool
 * bounds still cap what waits.
 */
#ifndef COBS_HTTP2_SENDER_H
#define COBS_HTTP2_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "spool.h"
#include "transport.h"

struct event_base;
struct event;

typedef struct h2_sender {
	const char *who;
	const char *url; /* for log lines */
	h2_spool *spool;
	h2_transport *t;
	struct event *timer;
	h2_backoff backoff;
	h2_request *inflight;
	bool running;
	bool failing;            /* a failure was logged and nothing was delivered since */
	int64_t last_reject_log; /* wall ms, to log rejections at most once a minute */
	uint64_t unlogged_rejects;

	uint64_t sent;     /* batches delivered */
	uint64_t retries;  /* failed attempts that will be retried */
	uint64_t rejected; /* batches the server refused for good (dropped) */
} h2_sender;

/* 0, or -1 when out of memory. */
int h2_sender_init(h2_sender *s, struct event_base *base, h2_spool *spool, h2_transport *t,
                   const char *who, const char *url, uint64_t backoff_min_ms,
                   uint64_t backoff_max_ms);
void h2_sender_start(h2_sender *s);
/* Something was added to the spool: send it unless busy or backing off. */
void h2_sender_kick(h2_sender *s);
/* Cancels the batch in flight (it stays in the spool) and stops. */
void h2_sender_stop(h2_sender *s);
void h2_sender_free(h2_sender *s);

#endif
