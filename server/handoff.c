/* SPDX-License-Identifier: MIT */
/*
 * The job round trip between the h2o thread and the worker, with the guard
 * that keeps a deferred answer away from a request h2o already disposed.
 */
#include <stdlib.h>

#include "handoff.h"
#include "respond.h"
#include "worker.h"

struct cobs_job_guard {
	cobs_job *job; /* NULL once the job came back */
};

struct cobs_handoff {
	cobs_server *srv;
	h2o_multithread_receiver_t receiver; /* the way back, on the h2o context's queue */
	h2o_multithread_queue_t *queue;
	size_t pending, pending_bytes, max_bytes; /* h2o thread only */
};

/* h2o disposes the request: its client left (or the connection closed). */
static void on_req_dispose(void *p)
{
	cobs_job_guard *g = p;
	if (g->job) {
		g->job->req = NULL;
		g->job->guard = NULL;
	}
}

static void job_free(cobs_job *job)
{
	cobs_buf_free(&job->body);
	if (job->free)
		job->free(job);
	else
		free(job);
}

/* Jobs back from the worker (h2o thread). */
static void on_returned(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	cobs_handoff *h = H2O_STRUCT_FROM_MEMBER(cobs_handoff, receiver, receiver);
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *m =
		        H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		h2o_linklist_unlink(&m->link);
		cobs_job *job = H2O_STRUCT_FROM_MEMBER(cobs_job, msg, m);
		h->pending--;
		h->pending_bytes -= job->bytes;
		if (job->req) {
			h2o_req_t *req = job->req;
			job->guard->job = NULL; /* answering may dispose req at once */
			cobs_respond_take(req, job->status ? job->status : 500,
			                  job->content_type ? job->content_type : "text/plain",
			                  &job->body);
		}
		job_free(job);
	}
}

cobs_handoff *cobs_handoff_new(cobs_server *srv, h2o_context_t *ctx, size_t max_bytes)
{
	cobs_handoff *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->srv = srv;
	h->max_bytes = max_bytes;
	h->queue = ctx->queue;
	h2o_multithread_register_receiver(h->queue, &h->receiver, on_returned);
	return h;
}

void cobs_handoff_free(cobs_handoff *h)
{
	if (!h)
		return;
	h2o_multithread_unregister_receiver(h->queue, &h->receiver);
	free(h);
}

int cobs_handoff_submit(cobs_handoff *h, h2o_req_t *req, cobs_job *job)
{
	if (h->pending >= COBS_HANDOFF_MAX_JOBS || h->pending_bytes + job->bytes > h->max_bytes)
		return -1;
	/* h2o's pool allocator aborts the process when out of memory: no NULL here */
	cobs_job_guard *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_req_dispose);
	g->job = job;
	job->guard = g;
	job->req = req;
	job->next = NULL;
	job->msg = (h2o_multithread_message_t){{NULL, NULL}};
	h->pending++;
	h->pending_bytes += job->bytes;
	cobs_worker_push(h->srv->worker, job);
	return 0;
}

size_t cobs_handoff_pending(const cobs_handoff *h)
{
	return h->pending;
}

void cobs_handoff_return(cobs_handoff *h, cobs_job *job)
{
	h2o_multithread_send_message(&h->receiver, &job->msg);
}
