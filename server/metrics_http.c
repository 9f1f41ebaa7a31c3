/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the rendering reads the state, so it runs on the worker as
 * a job (metrics.h); the h2o thread only sends the bytes.
 */
#include <stdlib.h>

#include "handoff.h"
#include "metrics.h"
#include "respond.h"
#include "routes.h"

static void run(cobs_job *job)
{
	if (cobs_metrics_render(job->srv->state, &job->srv->stats, cobs_now_ms(), &job->body) < 0) {
		cobs_buf_clear(&job->body);
		cobs_buf_printf(&job->body, "out of memory rendering /metrics\n");
		job->status = 500;
		job->content_type = "text/plain; charset=utf-8";
		return;
	}
	job->status = 200;
	job->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

int cobs_route_metrics(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	cobs_job *job = calloc(1, sizeof(*job));
	if (!job) {
		cobs_respond_text(req, 503, "out of memory");
		return 0;
	}
	job->srv = srv;
	job->run = run;
	if (cobs_handoff_submit(srv->handoff, req, job) < 0) {
		free(job);
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_text(req, 503, "server busy");
	}
	return 0;
}
