/* SPDX-License-Identifier: MIT */
/*
 * Jobs: how an HTTP request's work crosses from the h2o thread to the
 * worker thread (which owns the state) and its answer comes back.
 *
 * A handler copies what it needs out of the request into a job, submits it
 * and returns 0 (the response is deferred). The worker runs job->run, which
 * fills status, content type and body; the job goes back to the h2o thread
 * through h2o_multithread_send_message, and is answered there if its client
 * is still there. A guard allocated in the request's memory pool clears
 * job->req when h2o disposes the request (client gone, connection reset),
 * so a job never touches a dead request. The job is freed on the h2o thread
 * either way.
 *
 * Bounded: at most COBS_HANDOFF_MAX_JOBS jobs and max_bytes of job payload
 * wait at once; beyond that submit refuses and the handler answers 503 at
 * once, so a flood of large batches costs memory up to a bound and never
 * stalls the h2o thread.
 */
#ifndef COBS_SERVER_HANDOFF_H
#define COBS_SERVER_HANDOFF_H

#include <stddef.h>

#include <h2o.h>

#include <cobs/format.h>

#include "server.h"

#define COBS_HANDOFF_MAX_JOBS 4096

typedef struct cobs_job cobs_job;
typedef struct cobs_job_guard cobs_job_guard;

struct cobs_job {
	/* private */
	h2o_multithread_message_t msg;
	cobs_job *next;
	cobs_job_guard *guard;
	h2o_req_t *req;
	/* set by the handler */
	cobs_server *srv;
	size_t bytes;                /* payload held, for the bound */
	int bulk;                    /* ingest: runs after any waiting page or API read */
	void (*run)(cobs_job *job);  /* worker thread */
	void (*free)(cobs_job *job); /* h2o thread; NULL: free(job) */
	/* the answer, filled by run */
	int status;
	const char *content_type; /* a static string */
	cobs_buf body;
};

/* A handoff for srv (srv->worker must exist), registered on the h2o context's queue. */
cobs_handoff *cobs_handoff_new(cobs_server *srv, h2o_context_t *ctx, size_t max_bytes);
void cobs_handoff_free(cobs_handoff *h);

/*
 * Sends job to the worker on behalf of req (h2o thread). 0: the job is on
 * its way and will be answered (or dropped) by the handoff. -1: over the
 * bound; the job is untouched and the caller still owns it.
 */
int cobs_handoff_submit(cobs_handoff *h, h2o_req_t *req, cobs_job *job);
/* Jobs submitted and not yet back (h2o thread). */
size_t cobs_handoff_pending(const cobs_handoff *h);

/* Worker side: the job ran; send it back (worker thread). */
void cobs_handoff_return(cobs_handoff *h, cobs_job *job);

#endif
