/* SPDX-License-Identifier: MIT */
/*
 * POST /api/v1/ingest: one protobuf batch per request.
 *
 * On the h2o thread: the size (413 over max_batch_size), then the agent
 * token (401), then the body is copied into a job; nothing is decoded here,
 * so a large or hostile body never holds up other requests. On the worker:
 * decode and validate (400 with the decoder's reason as a text/plain body,
 * and one log line naming the peer), admit by (boot id, sequence) and apply
 * (204; a duplicate is 204 too, counted, not applied).
 *
 * Checking the size before the token costs nothing (h2o has the length) and
 * tells an agent whose batches are too big so, even before it is configured
 * right; decoding only ever happens for an authenticated client.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cobs/log.h>
#include <cobs/wire.h>

#include "auth.h"
#include "handoff.h"
#include "respond.h"
#include "routes.h"

typedef struct ingest_job {
	cobs_job job;
	char peer[64];
	size_t len;
	uint8_t body[];
} ingest_job;

/* "addr:port" of the request's client, for log lines. */
static void peer_name(h2o_req_t *req, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	snprintf(buf, cap, "?");
	socklen_t sl = req->conn->callbacks->get_peername
	                       ? req->conn->callbacks->get_peername(req->conn, (void *)&ss)
	                       : 0;
	char host[INET6_ADDRSTRLEN];
	if (sl && ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)))
			snprintf(buf, cap, "%s:%u", host, ntohs(in->sin_port));
	} else if (sl && ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
			snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static void answer(cobs_job *job, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void answer(cobs_job *job, int status, const char *fmt, ...)
{
	job->status = status;
	job->content_type = "text/plain; charset=utf-8";
	if (!fmt)
		return;
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cobs_buf_printf(&job->body, "%s\n", msg) < 0)
		cobs_buf_clear(&job->body);
}

/* Worker thread: decode, validate, admit, apply. */
static void run(cobs_job *job)
{
	ingest_job *ij = (ingest_job *)job;
	cobs_server *srv = job->srv;
	cobs_srv_stats *st = &srv->stats;
	cobs_wire_meta meta;
	cobs_error err = {{0}};
	/* a fresh batch each time: the decoder keeps the first help/unit a batch object saw */
	cobs_batch *b = cobs_batch_new();
	if (!b) {
		answer(job, 503, "out of memory");
		return;
	}
	if (cobs_wire_decode_batch(ij->body, ij->len, b, &meta, &err) < 0) {
		cobs_stat_add(&st->ingest[COBS_INGEST_BAD], 1);
		cobs_stat_add(&st->decode_errors, 1);
		cobs_log(COBS_LOG_WARN, "ingest", "bad batch from %s (%zu bytes): %s", ij->peer,
		         ij->len, err.msg);
		answer(job, 400, "bad batch: %s", err.msg);
		cobs_batch_free(b);
		return;
	}
	cobs_apply_result res;
	uint64_t now = cobs_now_ms();
	int rc = cobs_state_apply(srv->state, &meta, b, now, cobs_wall_ms(), &res, &err);
	cobs_batch_free(b);
	if (rc < 0) {
		cobs_log(COBS_LOG_ERROR, "ingest", "batch %llu of %s from %s: %s",
		         (unsigned long long)meta.sequence, meta.node, ij->peer, err.msg);
		answer(job, 503, "%s", err.msg);
		return;
	}
	cobs_stat_add(&st->history_refused, res.history_refused);
	if (res.verdict == COBS_ADMIT_DUPLICATE) {
		cobs_stat_add(&st->ingest[COBS_INGEST_DUPLICATE], 1);
		cobs_log(COBS_LOG_DEBUG, "ingest",
		         "duplicate batch %llu of %s (boot %s) from %s: acknowledged, not applied",
		         (unsigned long long)meta.sequence, meta.node, meta.boot_id, ij->peer);
	} else {
		cobs_stat_add(&st->ingest[COBS_INGEST_OK], 1);
		cobs_stat_add(&st->ingest_samples, res.samples);
		if (res.node->batches == 1)
			cobs_log(COBS_LOG_INFO, "ingest", "new node %s (agent %s) from %s",
			         meta.node, meta.agent_version, ij->peer);
		else if (res.verdict == COBS_ADMIT_RESTART)
			cobs_log(COBS_LOG_INFO, "ingest",
			         "node %s: agent restarted (boot %s, agent %s); history kept",
			         meta.node, meta.boot_id, meta.agent_version);
	}
	answer(job, 204, NULL);
}

int cobs_route_ingest(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	cobs_srv_stats *st = &srv->stats;
	size_t len = req->entity.base ? req->entity.len : 0;
	uint64_t max = srv->settings.max_batch_size;
	cobs_stat_add(&st->ingest_bytes, len);
	if (len > max) {
		cobs_stat_add(&st->ingest[COBS_INGEST_TOO_LARGE], 1);
		cobs_respond_text(req, 413,
		                  "batch of %zu bytes is over max_batch_size (%llu bytes)", len,
		                  (unsigned long long)max);
		return 0;
	}
	if (!cobs_auth_ok(srv->settings.agent_token, req)) {
		cobs_stat_add(&st->ingest[COBS_INGEST_UNAUTHORIZED], 1);
		cobs_auth_refuse(req);
		return 0;
	}
	ingest_job *ij = calloc(1, sizeof(*ij) + len);
	if (!ij) {
		cobs_stat_add(&st->ingest[COBS_INGEST_OVERLOADED], 1);
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_text(req, 503, "out of memory");
		return 0;
	}
	ij->job.srv = srv;
	ij->job.run = run;
	ij->job.bytes = len;
	ij->job.bulk = 1;
	ij->len = len;
	if (len)
		memcpy(ij->body, req->entity.base, len);
	peer_name(req, ij->peer, sizeof(ij->peer));
	if (cobs_handoff_submit(srv->handoff, req, &ij->job) < 0) {
		free(ij);
		cobs_stat_add(&st->ingest[COBS_INGEST_OVERLOADED], 1);
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_text(req, 503, "server busy: too many batches waiting; retry later");
	}
	return 0;
}
