/*
 * The command stream, dispatch and results (see commands.h). Commands are
 * decoded inside libcurl's write callback but dispatched from a deferred
 * event, so a handler never runs inside libcurl and may start requests.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/log.h>
#include <cobs/proc.h>

#include "backoff.h"
#include "commands.h"

#define MAX_KINDS 16
#define STREAM_IDLE_MS                                                                             \
	60000u /* no byte, not even a heartbeat (the server sends one every 5 s): reopen */
#define RESULT_ATTEMPTS 8u

typedef struct queued_cmd {
	struct queued_cmd *next;
	cobs_command cmd;
} queued_cmd;

struct h2_reply {
	h2_reply *next, *prev;
	h2_commands *c;
	uint64_t id;
	int64_t deadline_ms;
};

typedef struct result_job {
	struct result_job *next, *prev;
	h2_commands *c;
	uint64_t id;
	int64_t deadline_ms;
	cobs_buf body;
	char path[64];
	h2_request *req;
	struct event *timer;
	h2_backoff backoff;
	unsigned attempts;
} result_job;

struct h2_commands {
	struct event_base *base;
	h2_transport *t;
	char *who;
	char *path; /* of the stream */
	struct {
		h2_command_handler fn;
		void *state;
	} handlers[MAX_KINDS];
	uint64_t backoff_min, backoff_max;

	bool running;
	h2_request *stream;
	cobs_deframer df;
	bool got_frame; /* this stream carried a valid frame: the backoff starts over */
	bool failing;   /* a failure was logged and the stream has not worked since */
	h2_backoff backoff;
	struct event *retry, *dispatch, *idle;

	queued_cmd *qfirst, *qlast;
	result_job *jobs;
	h2_reply *replies;
	h2_commands_stats stats;
};

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
	evtimer_add(ev, &tv);
}

static const char *kind_name(cobs_command_kind k)
{
	switch (k) {
	case COBS_COMMAND_PROFILE:
		return "profile";
	case COBS_COMMAND_ECHO:
		return "echo";
	default:
		return "unknown";
	}
}

/* ---- results ---- */

static void job_free(result_job *j)
{
	h2_commands *c = j->c;
	if (j->prev)
		j->prev->next = j->next;
	else
		c->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	if (j->req)
		h2_request_cancel(j->req);
	if (j->timer)
		event_free(j->timer);
	cobs_buf_free(&j->body);
	free(j);
}

static void post_job(result_job *j);

static void on_job_done(void *arg, const h2_response *r)
{
	result_job *j = arg;
	h2_commands *c = j->c;
	j->req = NULL;
	if (r->status >= 200 && r->status < 300) {
		c->stats.answered++;
		job_free(j);
		return;
	}
	long st = r->status;
	bool again = st == 0 || st >= 500 || st == 408 || st == 429 || st == 401 || st == 403;
	bool in_time = !j->deadline_ms || cobs_wallclock_ms() < j->deadline_ms;
	if (again && in_time && ++j->attempts < RESULT_ATTEMPTS) {
		arm_ms(j->timer, h2_backoff_next(&j->backoff));
		return;
	}
	char why[240];
	if (st) {
		snprintf(why, sizeof(why), "status %ld: %.*s", st,
		         (int)(r->body_len < 150 ? r->body_len : 150), r->body ? r->body : "");
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
	} else {
		snprintf(why, sizeof(why), "%s", r->error ? r->error : "no answer");
	}
	cobs_log(COBS_LOG_WARN, c->who, "the result of command %" PRIu64 " was not delivered: %s",
	         j->id, why);
	c->stats.lost++;
	job_free(j);
}

static void on_job_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	post_job(arg);
}

static void post_job(result_job *j)
{
	static const h2_handlers handlers = {.on_done = on_job_done};
	j->req = h2_transport_post(j->c->t, j->path, (const uint8_t *)j->body.data, j->body.len,
	                           &handlers, j);
	if (!j->req)
		arm_ms(j->timer, h2_backoff_next(&j->backoff));
}

static void reply_free(h2_reply *rep)
{
	h2_commands *c = rep->c;
	if (rep->prev)
		rep->prev->next = rep->next;
	else
		c->replies = rep->next;
	if (rep->next)
		rep->next->prev = rep->prev;
	free(rep);
}

void h2_reply_send(h2_reply *rep, const cobs_command_result *r)
{
	h2_commands *c = rep->c;
	cobs_command_result res = *r;
	res.id = rep->id;
	cobs_error err = {{0}};
	result_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->timer = evtimer_new(c->base, on_job_timer, j)) ||
	    cobs_wire_encode_result(&res, NULL, &j->body, &err) < 0) {
		cobs_log(COBS_LOG_ERROR, c->who, "cannot answer command %" PRIu64 ": %s", rep->id,
		         err.msg[0] ? err.msg : "out of memory");
		c->stats.lost++;
		if (j && j->timer)
			event_free(j->timer);
		if (j)
			cobs_buf_free(&j->body);
		free(j);
		reply_free(rep);
		return;
	}
	j->c = c;
	j->id = rep->id;
	j->deadline_ms = rep->deadline_ms;
	snprintf(j->path, sizeof(j->path), "/api/v1/commands/%" PRIu64 "/result", rep->id);
	h2_backoff_init(&j->backoff, c->backoff_min, c->backoff_max);
	j->next = c->jobs;
	if (c->jobs)
		c->jobs->prev = j;
	c->jobs = j;
	reply_free(rep);
	post_job(j);
}

/* ---- dispatch ---- */

static void refuse(h2_commands *c, h2_reply *rep, const char *text)
{
	c->stats.refused++;
	cobs_command_result r = {
	        .kind = COBS_RESULT_ERROR, .data = (const uint8_t *)text, .len = strlen(text)};
	h2_reply_send(rep, &r);
}

static void dispatch_one(h2_commands *c, const cobs_command *cmd)
{
	h2_reply *rep = calloc(1, sizeof(*rep));
	if (!rep) {
		cobs_log(COBS_LOG_ERROR, c->who, "out of memory: command %" PRIu64 " unanswered",
		         cmd->id);
		c->stats.lost++;
		return;
	}
	rep->c = c;
	rep->id = cmd->id;
	rep->deadline_ms = cmd->deadline_ms;
	rep->next = c->replies;
	if (c->replies)
		c->replies->prev = rep;
	c->replies = rep;
	unsigned k = (unsigned)cmd->kind;
	char text[160];
	if (cmd->deadline_ms && cobs_wallclock_ms() > cmd->deadline_ms) {
		refuse(c, rep, "the command's deadline passed before the agent got to it");
	} else if (cmd->kind == COBS_COMMAND_UNKNOWN || k >= MAX_KINDS) {
		refuse(c, rep, "unknown command kind (the server is newer than this agent)");
	} else if (!c->handlers[k].fn) {
		snprintf(text, sizeof(text), "no plugin on this agent handles %s commands",
		         kind_name(cmd->kind));
		refuse(c, rep, text);
	} else {
		c->handlers[k].fn(c->handlers[k].state, cmd, rep);
	}
}

static void on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2_commands *c = arg;
	while (c->qfirst) {
		queued_cmd *q = c->qfirst;
		c->qfirst = q->next;
		if (!c->qfirst)
			c->qlast = NULL;
		dispatch_one(c, &q->cmd);
		free(q);
	}
}

static void echo(void *state, const cobs_command *cmd, h2_reply *reply)
{
	(void)state;
	cobs_command_result r = {.kind = COBS_RESULT_ECHO, .data = cmd->echo, .len = cmd->echo_len};
	h2_reply_send(reply, &r);
}

int h2_commands_register(h2_commands *c, cobs_command_kind kind, h2_command_handler fn, void *state)
{
	unsigned k = (unsigned)kind;
	if (kind == COBS_COMMAND_UNKNOWN || k >= MAX_KINDS || !fn || c->handlers[k].fn)
		return -1;
	c->handlers[k].fn = fn;
	c->handlers[k].state = state;
	return 0;
}

/* ---- the stream ---- */

static void open_stream(h2_commands *c);

static void stream_failed(h2_commands *c, const char *why)
{
	if (!c->failing)
		cobs_log(COBS_LOG_WARN, c->who,
		         "command stream: %s; reopening with backoff (commands wait meanwhile)",
		         why);
	c->failing = true;
	arm_ms(c->retry, h2_backoff_next(&c->backoff));
}

static void on_stream_status(void *arg, long status)
{
	h2_commands *c = arg;
	if (status == 200) {
		c->stats.open = true;
		c->stats.streams++;
		arm_ms(c->idle, STREAM_IDLE_MS);
	}
}

static int on_stream_data(void *arg, const uint8_t *p, size_t n)
{
	h2_commands *c = arg;
	cobs_error err = {{0}};
	arm_ms(c->idle, STREAM_IDLE_MS);
	if (cobs_deframer_feed(&c->df, p, n) < 0) {
		cobs_log(COBS_LOG_ERROR, c->who, "command stream: out of memory");
		return -1;
	}
	const uint8_t *msg;
	size_t len;
	int rc;
	while ((rc = cobs_deframer_next(&c->df, &msg, &len, &err)) == 1) {
		queued_cmd *q = malloc(sizeof(*q));
		int64_t hb;
		if (!q) {
			cobs_log(COBS_LOG_ERROR, c->who, "command stream: out of memory");
			return -1;
		}
		int kind = cobs_wire_decode_stream(msg, len, &q->cmd, &hb, &err);
		if (kind != COBS_STREAM_COMMAND)
			free(q);
		if (kind < 0) {
			cobs_log(COBS_LOG_WARN, c->who,
			         "command stream: a message that does not decode (%s); skipped",
			         err.msg);
			continue;
		}
		if (!c->got_frame) {
			c->got_frame = true;
			h2_backoff_reset(&c->backoff);
			if (c->failing)
				cobs_log(COBS_LOG_INFO, c->who, "command stream open again");
			c->failing = false;
		}
		if (kind != COBS_STREAM_COMMAND)
			continue; /* a heartbeat (the idle timer was re-armed) or a newer message */
		q->next = NULL;
		if (c->qlast)
			c->qlast->next = q;
		else
			c->qfirst = q;
		c->qlast = q;
		c->stats.received++;
		event_active(c->dispatch, 0, 0);
	}
	if (rc < 0) {
		cobs_log(COBS_LOG_WARN, c->who, "command stream: %s; reopening", err.msg);
		return -1;
	}
	return 0;
}

static void on_stream_done(void *arg, const h2_response *r)
{
	h2_commands *c = arg;
	c->stream = NULL;
	c->stats.open = false;
	evtimer_del(c->idle);
	char why[300];
	if (r->curl_code == 0 && r->status == 200) {
		/* The server ended it (restart, drain): after a working stream, soon. */
		snprintf(why, sizeof(why), "the server closed it");
	} else if (r->status) {
		snprintf(why, sizeof(why), "status %ld: %.*s", r->status,
		         (int)(r->body_len < 200 ? r->body_len : 200), r->body);
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
	} else {
		snprintf(why, sizeof(why), "%s", r->error ? r->error : "no answer");
	}
	if (c->running)
		stream_failed(c, why);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2_commands *c = arg;
	if (!c->stream)
		return;
	h2_request_cancel(c->stream);
	c->stream = NULL;
	c->stats.open = false;
	stream_failed(c, "nothing received for a minute, not even a heartbeat");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	open_stream(arg);
}

static void open_stream(h2_commands *c)
{
	static const h2_handlers handlers = {.on_status = on_stream_status,
	                                     .on_data = on_stream_data,
	                                     .on_done = on_stream_done};
	if (!c->running || c->stream)
		return;
	cobs_deframer_free(&c->df);
	cobs_deframer_init(&c->df, 0);
	c->got_frame = false;
	c->stream = h2_transport_stream(c->t, c->path, &handlers, c);
	if (!c->stream)
		stream_failed(c, "out of memory");
}

/* The node as a URL path segment: unreserved bytes as they are, the rest %XX. */
static char *path_for(const char *node)
{
	static const char pre[] = "/api/v1/agents/", post[] = "/commands";
	size_t n = strlen(node);
	char *p = malloc(sizeof(pre) + 3 * n + sizeof(post));
	if (!p)
		return NULL;
	char *w = p + sprintf(p, "%s", pre);
	for (const unsigned char *s = (const unsigned char *)node; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_' || *s == '~')
			*w++ = (char)*s;
		else
			w += sprintf(w, "%%%02X", *s);
	}
	strcpy(w, post);
	return p;
}

h2_commands *h2_commands_new(struct event_base *base, h2_transport *t, const char *node,
                             const char *who, uint64_t backoff_min_ms, uint64_t backoff_max_ms,
                             cobs_error *err)
{
	h2_commands *c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	c->base = base;
	c->t = t;
	c->backoff_min = backoff_min_ms;
	c->backoff_max = backoff_max_ms;
	h2_backoff_init(&c->backoff, backoff_min_ms, backoff_max_ms);
	cobs_deframer_init(&c->df, 0);
	if (!(c->who = strdup(who)) || !(c->path = path_for(node)) ||
	    !(c->retry = evtimer_new(base, on_retry, c)) ||
	    !(c->idle = evtimer_new(base, on_idle, c)) ||
	    !(c->dispatch = event_new(base, -1, 0, on_dispatch, c)))
		goto oom;
	h2_commands_register(c, COBS_COMMAND_ECHO, echo, NULL);
	return c;
oom:
	h2_commands_free(c);
	cobs_error_set(err, "out of memory");
	return NULL;
}

void h2_commands_start(h2_commands *c)
{
	c->running = true;
	open_stream(c);
}

void h2_commands_free(h2_commands *c)
{
	if (!c)
		return;
	c->running = false;
	if (c->stream)
		h2_request_cancel(c->stream);
	while (c->qfirst) {
		queued_cmd *q = c->qfirst;
		c->qfirst = q->next;
		free(q);
	}
	while (c->jobs)
		job_free(c->jobs);
	while (c->replies)
		reply_free(c->replies);
	struct event *evs[] = {c->retry, c->idle, c->dispatch};
	for (size_t i = 0; i < 3; i++)
		if (evs[i])
			event_free(evs[i]);
	cobs_deframer_free(&c->df);
	free(c->path);
	free(c->who);
	free(c);
}

h2_commands_stats h2_commands_get_stats(const h2_commands *c)
{
	return c->stats;
}
