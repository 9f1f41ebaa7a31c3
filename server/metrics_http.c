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

typedef struct metrics_job {
	cobs_job job;
	int nodes; /* 0: the server's own metrics only */
} metrics_job;

static void run(cobs_job *job)
{
	int nodes = ((metrics_job *)job)->nodes;
	if (cobs_metrics_render(job->srv->state, &job->srv->stats, cobs_now_ms(), nodes,
	                        &job->body) < 0) {
		cobs_buf_clear(&job->body);
		cobs_buf_printf(&job->body, "out of memory rendering /metrics\n");
		job->status = 500;
		job->content_type = "text/plain; charset=utf-8";
		return;
	}
	job->status = 200;
	job->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static int submit(cobs_server *srv, h2o_req_t *req, int nodes)
{
	metrics_job *mj = calloc(1, sizeof(*mj));
	if (!mj) {
		cobs_respond_text(req, 503, "out of memory");
		return 0;
	}
	mj->nodes = nodes;
	mj->job.srv = srv;
	mj->job.run = run;
	if (cobs_handoff_submit(srv->handoff, req, &mj->job) < 0) {
		free(mj);
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_text(req, 503, "server busy");
	}
	return 0;
}

int cobs_route_metrics(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	return submit(srv, req, 1);
}

int cobs_route_metrics_server(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	return submit(srv, req, 0);
}
