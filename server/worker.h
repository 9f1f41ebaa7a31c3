/* SPDX-License-Identifier: MIT */
/*
 * The worker thread: a libevent loop that owns the state. It runs jobs from
 * the h2o thread (a locked queue, woken with event_active), and its timers:
 * a one-second tick (liveness for /healthz, node state changes logged) and
 * the state's housekeeping (history retention, families a node stopped
 * sending).
 *
 * evthread_use_pthreads() is called before the event base is made, so
 * event_active and event_base_loopexit may be called from other threads.
 */
#ifndef COBS_SERVER_WORKER_H
#define COBS_SERVER_WORKER_H

#include "server.h"

struct cobs_job;

/* NULL when out of memory or libevent refuses. */
cobs_worker *cobs_worker_new(cobs_server *srv);
/* Starts the thread. 0 or -1. */
int cobs_worker_start(cobs_worker *w);
/* Queues a job (any thread; in practice the h2o thread). */
void cobs_worker_push(cobs_worker *w, struct cobs_job *job);
/* Runs what is queued, ends the loop and joins the thread. */
void cobs_worker_stop(cobs_worker *w);
void cobs_worker_free(cobs_worker *w);

#endif
