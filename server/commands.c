/* SPDX-License-Identifier: MIT */
/*
 * The command table and the per-node command streams (see commands.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cobs/log.h>

#include "commands.h"
#include "hmap.h"
#include "stats.h"

#define SWEEP_MS              1000
#define MAX_QUEUED_HEARTBEATS (64u << 10) /* a client that stopped reading gets no more */

typedef struct stream {
	h2o_generator_t gen; /* first: h2o hands it back to proceed / stop */
	cobs_commands *owner;
	h2o_req_t *req;
	char node[256];
	cobs_buf pending;  /* frames waiting for the next send */
	cobs_buf inflight; /* frames h2o is sending now */
	int sending;
	int attached; /* in the table and the list: commands may go to it */
	int closing;  /* end the response once nothing is in flight */
	h2o_timeout_entry_t hb;
	struct stream *prev, *next;
} stream;

struct cobs_commands {
	cobs_server *srv;
	h2o_context_t *ctx;
	h2o_timeout_t hb_timeout;
	h2o_timeout_t sweep_timeout;
	h2o_timeout_entry_t sweep;
	cobs_hmap streams_by_node; /* val: stream *, attached ones only */
	stream *streams;           /* attached ones */
	size_t nstreams;
	cobs_hmap by_id; /* val: cobs_cmd * */
	cobs_cmd *oldest, *newest;
	size_t ncmds, result_bytes;
	uint64_t next_id;
};

const char *cobs_cmd_state_name(cobs_cmd_state s)
{
	switch (s) {
	case COBS_CMD_PENDING:
		return "pending";
	case COBS_CMD_DONE:
		return "done";
	case COBS_CMD_FAILED:
		return "failed";
	case COBS_CMD_EXPIRED:
		return "expired";
	}
	return "?";
}

const char *cobs_command_kind_name(cobs_command_kind k)
{
	switch (k) {
	case COBS_COMMAND_PROFILE:
		return "profile";
	case COBS_COMMAND_ECHO:
		return "echo";
	case COBS_COMMAND_UNKNOWN:
		break;
	}
	return "unknown";
}

/* ---- streams ---- */

static int node_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	return strcmp(((const stream *)val)->node, key) == 0;
}

static stream *stream_find(const cobs_commands *c, const char *node)
{
	return (stream *)cobs_hmap_get(&c->streams_by_node, cobs_hash_str(node, 0), node_eq, node,
	                               NULL);
}

/* Takes s out of the table and the list; no command goes to it any more. */
static void detach(stream *s)
{
	cobs_commands *c = s->owner;
	if (!s->attached)
		return;
	s->attached = 0;
	cobs_hmap_del(&c->streams_by_node, cobs_hash_str(s->node, 0), (uintptr_t)s);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	c->nstreams--;
	cobs_stat_add(&c->srv->stats.streams, (uint64_t)-1);
}

static void stream_free(stream *s)
{
	detach(s);
	if (h2o_timeout_is_linked(&s->hb))
		h2o_timeout_unlink(&s->hb);
	cobs_buf_free(&s->pending);
	cobs_buf_free(&s->inflight);
	free(s);
}

/* Ends the response; s is freed. Only when nothing is in flight. */
static void finish(stream *s)
{
	h2o_req_t *req = s->req;
	stream_free(s);
	/* FINAL detaches the generator: h2o calls neither proceed nor stop again */
	h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

/*
 * Sends what is queued, or ends the response when closing. s may be freed
 * by the time this returns (a synchronous proceed that finished it): callers
 * do not touch s after calling it.
 */
static void flush(stream *s)
{
	if (s->sending)
		return;
	if (s->pending.len) {
		cobs_buf t = s->inflight;
		s->inflight = s->pending;
		s->pending = t;
		cobs_buf_clear(&s->pending);
		s->sending = 1;
		h2o_iovec_t iov = h2o_iovec_init(s->inflight.data, s->inflight.len);
		h2o_send(s->req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
		return;
	}
	if (s->closing)
		finish(s);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	(void)req;
	stream *s = (stream *)gen;
	s->sending = 0;
	cobs_buf_clear(&s->inflight);
	flush(s);
}

/* The client left (or its connection closed): h2o disposes the request. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	(void)req;
	stream *s = (stream *)gen;
	if (s->attached)
		cobs_log(COBS_LOG_INFO, "commands", "node %s closed its command stream", s->node);
	stream_free(s);
}

/* Starts ending s: detached at once, the response ends once its frames are out. */
static void stream_close(stream *s)
{
	detach(s);
	s->closing = 1;
	if (h2o_timeout_is_linked(&s->hb))
		h2o_timeout_unlink(&s->hb);
	flush(s);
}

static void on_heartbeat(h2o_timeout_entry_t *e)
{
	stream *s = H2O_STRUCT_FROM_MEMBER(stream, hb, e);
	cobs_commands *c = s->owner;
	h2o_timeout_link(c->ctx->loop, &c->hb_timeout, &s->hb);
	/* a client that does not read gets no pile of heartbeats; out of memory
	 * only skips this one */
	if (s->pending.len < MAX_QUEUED_HEARTBEATS &&
	    cobs_wire_frame_heartbeat(cobs_wall_ms(), &s->pending) == 0)
		flush(s);
}

int cobs_commands_open_stream(cobs_commands *c, h2o_req_t *req, const char *node)
{
	stream *old = stream_find(c, node);
	if (old) {
		cobs_log(COBS_LOG_INFO, "commands",
		         "node %s opened a new command stream: the previous one ends", node);
		stream_close(old);
	}
	stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->gen.proceed = on_proceed;
	s->gen.stop = on_stop;
	s->owner = c;
	s->req = req;
	s->hb.cb = on_heartbeat;
	snprintf(s->node, sizeof(s->node), "%s", node);
	if (cobs_wire_frame_heartbeat(cobs_wall_ms(), &s->pending) < 0 ||
	    cobs_hmap_put(&c->streams_by_node, cobs_hash_str(s->node, 0), (uintptr_t)s) < 0) {
		cobs_buf_free(&s->pending);
		free(s);
		return -1;
	}
	s->attached = 1;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->nstreams++;
	cobs_stat_add(&c->srv->stats.streams, 1);

	/* HTTP/1.1: the connection ends with the stream (it carries nothing else,
	 * and an idle keep-alive connection would hold a drain for 10 s) */
	req->http1_is_persistent = 0;
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("application/x-cobs-stream"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	h2o_start_response(req, &s->gen);
	h2o_timeout_link(c->ctx->loop, &c->hb_timeout, &s->hb);
	cobs_log(COBS_LOG_INFO, "commands", "node %s opened its command stream", node);
	/* the first heartbeat sends the headers at once: the agent knows it is connected */
	flush(s);
	return 0;
}

void cobs_commands_close_streams(cobs_commands *c)
{
	while (c->streams)
		stream_close(c->streams);
}

size_t cobs_commands_stream_count(const cobs_commands *c)
{
	return c->nstreams;
}

/* ---- the command table ---- */

static int id_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	return ((const cobs_cmd *)val)->id == *(const uint64_t *)key;
}

const cobs_cmd *cobs_commands_find(const cobs_commands *c, uint64_t id)
{
	return (const cobs_cmd *)cobs_hmap_get(&c->by_id, cobs_hash_u64(id), id_eq, &id, NULL);
}

static void cmd_remove(cobs_commands *c, cobs_cmd *m)
{
	cobs_hmap_del(&c->by_id, cobs_hash_u64(m->id), (uintptr_t)m);
	if (m->older)
		m->older->newer = m->newer;
	else
		c->oldest = m->newer;
	if (m->newer)
		m->newer->older = m->older;
	else
		c->newest = m->older;
	c->ncmds--;
	c->result_bytes -= m->result_len;
	free(m->echo);
	free(m->result);
	free(m);
}

static void finish_cmd(cobs_cmd *m, cobs_cmd_state st, uint64_t now)
{
	m->state = st;
	m->finished_mono = now;
	m->finished_ms = cobs_wall_ms();
}

/*
 * Expires what passed its deadline, then forgets finished commands kept
 * long enough, or the oldest finished ones while over a bound (need: room
 * for one more command and extra result bytes).
 */
static void sweep(cobs_commands *c, uint64_t now, size_t extra_bytes)
{
	for (cobs_cmd *m = c->oldest, *next; m; m = next) {
		next = m->newer;
		if (m->state == COBS_CMD_PENDING && now >= m->deadline_mono) {
			finish_cmd(m, COBS_CMD_EXPIRED, now);
			cobs_log(COBS_LOG_INFO, "commands", "command %llu (%s) for %s expired",
			         (unsigned long long)m->id, cobs_command_kind_name(m->kind),
			         m->node);
		}
		int full = c->ncmds >= COBS_COMMANDS_MAX ||
		           c->result_bytes + extra_bytes > COBS_COMMANDS_MAX_RESULT_BYTES;
		if (m->state != COBS_CMD_PENDING &&
		    (full || now - m->finished_mono >= COBS_COMMANDS_KEEP_MS))
			cmd_remove(c, m);
	}
}

static void on_sweep(h2o_timeout_entry_t *e)
{
	cobs_commands *c = H2O_STRUCT_FROM_MEMBER(cobs_commands, sweep, e);
	h2o_timeout_link(c->ctx->loop, &c->sweep_timeout, &c->sweep);
	sweep(c, cobs_now_ms(), 0);
}

int cobs_commands_create(cobs_commands *c, const char *node, const cobs_command *tmpl,
                         uint64_t timeout_ms, const cobs_cmd **out, cobs_error *err)
{
	stream *s = stream_find(c, node);
	if (!s) {
		cobs_error_set(err,
		               "node %s has no open command stream (its agent is not connected, "
		               "or runs without the http2 sink)",
		               node);
		return COBS_CMD_ENOSTREAM;
	}
	uint64_t now = cobs_now_ms();
	if (c->ncmds >= COBS_COMMANDS_MAX)
		sweep(c, now, 0);
	if (c->ncmds >= COBS_COMMANDS_MAX) {
		cobs_error_set(err, "too many commands pending (%d); try again later",
		               COBS_COMMANDS_MAX);
		return COBS_CMD_EFULL;
	}
	if (!timeout_ms)
		timeout_ms = c->srv->settings.command_timeout_ms;
	cobs_cmd *m = calloc(1, sizeof(*m));
	if (!m || (tmpl->kind == COBS_COMMAND_ECHO && !(m->echo = malloc(tmpl->echo_len + 1)))) {
		free(m);
		cobs_error_set(err, "out of memory");
		return COBS_CMD_ENOMEM;
	}
	m->id = c->next_id;
	snprintf(m->node, sizeof(m->node), "%s", node);
	m->kind = tmpl->kind;
	m->profile = tmpl->profile;
	if (m->echo) {
		memcpy(m->echo, tmpl->echo, tmpl->echo_len);
		m->echo[tmpl->echo_len] = 0;
		m->echo_len = tmpl->echo_len;
	}
	m->created_ms = cobs_wall_ms();
	m->deadline_ms = m->created_ms + (int64_t)timeout_ms;
	m->deadline_mono = now + timeout_ms;

	/* a frame built apart first: a command that does not encode leaves the stream as it was */
	cobs_command *wire = malloc(sizeof(*wire));
	cobs_buf frame = {0};
	int rc = COBS_CMD_ENOMEM;
	if (!wire) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	*wire = *tmpl;
	wire->id = m->id;
	wire->deadline_ms = m->deadline_ms;
	if (cobs_wire_frame_command(wire, &frame, err) < 0) {
		rc = COBS_CMD_EINVAL;
		goto fail;
	}
	if (cobs_buf_append(&s->pending, frame.data, frame.len) < 0 ||
	    cobs_hmap_put(&c->by_id, cobs_hash_u64(m->id), (uintptr_t)m) < 0) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	free(wire);
	cobs_buf_free(&frame);
	c->next_id++;
	m->older = c->newest;
	if (c->newest)
		c->newest->newer = m;
	else
		c->oldest = m;
	c->newest = m;
	c->ncmds++;
	cobs_stat_add(&c->srv->stats.commands_created, 1);
	cobs_log(COBS_LOG_INFO, "commands", "command %llu (%s) sent to %s",
	         (unsigned long long)m->id, cobs_command_kind_name(m->kind), node);
	*out = m;
	flush(s);
	return 0;
fail:
	free(wire);
	cobs_buf_free(&frame);
	free(m->echo);
	free(m);
	return rc;
}

int cobs_commands_result(cobs_commands *c, const cobs_command_result *r)
{
	cobs_cmd *m = (cobs_cmd *)cobs_commands_find(c, r->id);
	if (!m)
		return COBS_CMD_UNKNOWN;
	if (m->state == COBS_CMD_EXPIRED)
		return COBS_CMD_TOO_LATE;
	if (m->state != COBS_CMD_PENDING)
		return COBS_CMD_ALREADY;
	uint64_t now = cobs_now_ms();
	if (c->result_bytes + r->len > COBS_COMMANDS_MAX_RESULT_BYTES)
		sweep(c, now, r->len);
	uint8_t *copy = malloc(r->len + 1);
	if (!copy)
		return COBS_CMD_ENOMEM;
	if (r->len)
		memcpy(copy, r->data, r->len);
	copy[r->len] = 0;
	m->result = copy;
	m->result_len = r->len;
	m->result_kind = r->kind;
	c->result_bytes += r->len;
	finish_cmd(m, r->kind == COBS_RESULT_ERROR ? COBS_CMD_FAILED : COBS_CMD_DONE, now);
	cobs_log(COBS_LOG_INFO, "commands", "command %llu (%s) for %s: %s",
	         (unsigned long long)m->id, cobs_command_kind_name(m->kind), m->node,
	         cobs_cmd_state_name(m->state));
	return COBS_CMD_STORED;
}

/* ---- life ---- */

cobs_commands *cobs_commands_new(cobs_server *srv, h2o_context_t *ctx)
{
	cobs_commands *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->srv = srv;
	c->ctx = ctx;
	uint16_t epoch = 0;
	if (getrandom(&epoch, sizeof(epoch), GRND_NONBLOCK) != (ssize_t)sizeof(epoch))
		epoch = (uint16_t)cobs_wall_ms();
	c->next_id = ((uint64_t)epoch << 36) | 1;
	h2o_timeout_init(ctx->loop, &c->hb_timeout, srv->settings.heartbeat_ms);
	h2o_timeout_init(ctx->loop, &c->sweep_timeout, SWEEP_MS);
	c->sweep.cb = on_sweep;
	h2o_timeout_link(ctx->loop, &c->sweep_timeout, &c->sweep);
	return c;
}

void cobs_commands_free(cobs_commands *c)
{
	if (!c)
		return;
	/* streams still attached belong to connections h2o never closed (drain
	 * timed out): only their timers are ours to undo */
	for (stream *s = c->streams; s; s = s->next)
		if (h2o_timeout_is_linked(&s->hb))
			h2o_timeout_unlink(&s->hb);
	if (h2o_timeout_is_linked(&c->sweep))
		h2o_timeout_unlink(&c->sweep);
	h2o_timeout_dispose(c->ctx->loop, &c->hb_timeout);
	h2o_timeout_dispose(c->ctx->loop, &c->sweep_timeout);
	while (c->oldest)
		cmd_remove(c, c->oldest);
	cobs_hmap_free(&c->by_id);
	cobs_hmap_free(&c->streams_by_node);
	free(c);
}
