/*
 * In-order delivery of the spool (see sender.h): take the head, POST it,
 * and on the answer drop it, keep it for a retry, or reject it.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cobs/log.h>
#include <cobs/proc.h>

#include "sender.h"

#define INGEST_PATH      "/api/v1/ingest"
#define REJECT_LOG_EVERY 60000 /* ms */

static void arm(h2_sender *s, uint64_t delay_ms)
{
	struct timeval tv = {.tv_sec = (time_t)(delay_ms / 1000),
	                     .tv_usec = (suseconds_t)((delay_ms % 1000) * 1000)};
	evtimer_add(s->timer, &tv);
}

void h2_sender_kick(h2_sender *s)
{
	if (s->running && !s->inflight && !evtimer_pending(s->timer, NULL))
		arm(s, 0);
}

/* The server's words, made safe for one log line. */
static void clean_reason(const h2_response *r, char *out, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < r->body_len && j + 1 < n; i++) {
		unsigned char c = (unsigned char)r->body[i];
		out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (j && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	if (!j)
		snprintf(out, n, "no reason given");
}

static bool retryable(const h2_response *r)
{
	long st = r->status;
	return st == 0 || st >= 500 || st == 408 || st == 429 || st == 401 || st == 403 || st < 200;
}

static void on_rejected(h2_sender *s, const h2_response *r, const spool_entry *e)
{
	s->rejected++;
	int64_t now = cobs_wallclock_ms();
	if (s->last_reject_log && now - s->last_reject_log < REJECT_LOG_EVERY) {
		s->unlogged_rejects++;
		return;
	}
	char reason[256], more[64] = "";
	clean_reason(r, reason, sizeof(reason));
	if (s->unlogged_rejects)
		snprintf(more, sizeof(more), " (%" PRIu64 " more since the last such line)",
		         s->unlogged_rejects);
	cobs_log(COBS_LOG_ERROR, s->who,
	         "the server refused batch %" PRIu64 " (%zu bytes) with %ld: %s; dropped, not "
	         "retried%s%s",
	         e->seq, e->len, r->status, reason,
	         r->status == 413 ? " (lower max_batch below the server's limit)" : "", more);
	s->last_reject_log = now;
	s->unlogged_rejects = 0;
}

static void on_done(void *arg, const h2_response *r)
{
	h2_sender *s = arg;
	s->inflight = NULL;
	const spool_entry *e = spool_take(s->spool); /* the head we sent */
	if (r->status >= 200 && r->status < 300) {
		spool_done(s->spool);
		s->sent++;
		if (s->failing)
			cobs_log(COBS_LOG_INFO, s->who,
			         "delivering batches to %s again (%" PRIu64 " waiting)", s->url,
			         spool_batches(s->spool));
		s->failing = false;
		h2_backoff_reset(&s->backoff);
		h2_sender_kick(s);
		return;
	}
	if (!retryable(r)) {
		on_rejected(s, r, e);
		spool_done(s->spool);
		h2_sender_kick(s);
		return;
	}
	spool_release(s->spool);
	s->retries++;
	uint64_t delay = h2_backoff_next(&s->backoff);
	if (r->retry_after_ms > delay)
		delay = r->retry_after_ms < s->backoff.max_ms ? r->retry_after_ms
		                                              : s->backoff.max_ms;
	if (!s->failing) {
		char why[300];
		if (r->status) {
			char reason[256];
			clean_reason(r, reason, sizeof(reason));
			snprintf(why, sizeof(why), "status %ld: %s", r->status, reason);
		} else {
			snprintf(why, sizeof(why), "%s", r->error ? r->error : "no answer");
		}
		cobs_log(COBS_LOG_WARN, s->who,
		         "cannot deliver batches to %s (%s); keeping them and retrying with "
		         "backoff (%" PRIu64 " waiting)",
		         s->url, why, spool_batches(s->spool));
	}
	s->failing = true;
	arm(s, delay);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2_sender *s = arg;
	if (!s->running || s->inflight)
		return;
	const spool_entry *e = spool_take(s->spool);
	if (!e)
		return; /* empty: the next push kicks */
	static const h2_handlers handlers = {.on_done = on_done};
	s->inflight = h2_transport_post(s->t, INGEST_PATH, e->data, e->len, &handlers, s);
	if (!s->inflight) {
		spool_release(s->spool);
		arm(s, h2_backoff_next(&s->backoff));
	}
}

int h2_sender_init(h2_sender *s, struct event_base *base, h2_spool *spool, h2_transport *t,
                   const char *who, const char *url, uint64_t backoff_min_ms,
                   uint64_t backoff_max_ms)
{
	memset(s, 0, sizeof(*s));
	s->who = who;
	s->url = url;
	s->spool = spool;
	s->t = t;
	h2_backoff_init(&s->backoff, backoff_min_ms, backoff_max_ms);
	s->timer = evtimer_new(base, on_timer, s);
	return s->timer ? 0 : -1;
}

void h2_sender_start(h2_sender *s)
{
	s->running = true;
	h2_sender_kick(s);
}

void h2_sender_stop(h2_sender *s)
{
	s->running = false;
	if (s->timer)
		evtimer_del(s->timer);
	if (s->inflight) {
		h2_request_cancel(s->inflight);
		s->inflight = NULL;
		spool_release(s->spool);
	}
}

void h2_sender_free(h2_sender *s)
{
	h2_sender_stop(s);
	if (s->timer)
		event_free(s->timer);
	s->timer = NULL;
}
