/* SPDX-License-Identifier: MIT */
/*
 * The worker thread's loop, queue and timers.
 */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <cobs/log.h>

#include "handoff.h"
#include "worker.h"

struct cobs_worker {
	cobs_server *srv;
	struct event_base *base;
	struct event *wake; /* activated by cobs_worker_push */
	struct event *tick;
	pthread_mutex_t lock;
	/* under lock: [0] pages and API reads, [1] bulk work (ingest), served after [0] */
	cobs_job *head[2], *tail[2];
	pthread_t thread;
	int running;
	unsigned char *logged; /* per node: the liveness last logged */
	size_t nlogged;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

/* The next job to run: a waiting read before any bulk job. NULL when none waits. */
static cobs_job *next_job(cobs_worker *w)
{
	pthread_mutex_lock(&w->lock);
	int q = w->head[0] ? 0 : 1;
	cobs_job *job = w->head[q];
	if (job && !(w->head[q] = job->next))
		w->tail[q] = NULL;
	pthread_mutex_unlock(&w->lock);
	return job;
}

/*
 * Runs every queued job and sends each back, one at a time: a page asked
 * for while batches wait runs after the batch being applied, not after all
 * of them (at 1000 nodes the queue holds a few 3 ms batches at any time).
 */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_worker *w = arg;
	cobs_job *job;
	while ((job = next_job(w))) {
		job->next = NULL;
		job->run(job);
		cobs_handoff_return(w->srv->handoff, job);
	}
}

/* One log line when a node changes between up, stale and down. */
static void log_liveness(cobs_worker *w, uint64_t now)
{
	cobs_state *st = w->srv->state;
	size_t n = cobs_state_node_count(st);
	if (n > w->nlogged) {
		unsigned char *v = realloc(w->logged, n);
		if (!v)
			return; /* only the log lines are lost */
		for (size_t i = w->nlogged; i < n; i++)
			v[i] = COBS_NODE_UP; /* a new node announces itself in the ingest log */
		w->logged = v;
		w->nlogged = n;
	}
	for (size_t i = 0; i < n; i++) {
		const cobs_node *node = cobs_state_node_at(st, i);
		cobs_liveness l = cobs_state_liveness(st, node, now);
		if (l == w->logged[i])
			continue;
		w->logged[i] = (unsigned char)l;
		cobs_log(l == COBS_NODE_UP ? COBS_LOG_INFO : COBS_LOG_WARN, "server",
		         "node %s is %s (last batch %.1fs ago, interval %.1fs)", node->name,
		         cobs_liveness_name(l), (double)(now - node->last_seen_ms) / 1000.0,
		         (double)cobs_registry_interval(cobs_state_registry(st), node) / 1000.0);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_worker *w = arg;
	uint64_t now = cobs_now_ms();
	atomic_store_explicit(&w->srv->stats.worker_tick_ms, now, memory_order_relaxed);
	log_liveness(w, now);
	cobs_state_sweep(w->srv->state, now, cobs_wall_ms());
}

cobs_worker *cobs_worker_new(cobs_server *srv)
{
	pthread_once(&evthread_once, evthread_init);
	if (evthread_rc != 0)
		return NULL;
	cobs_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->srv = srv;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		free(w);
		return NULL;
	}
	struct timeval second = {1, 0};
	if (!(w->base = event_base_new()) || !(w->wake = event_new(w->base, -1, 0, on_wake, w)) ||
	    !(w->tick = event_new(w->base, -1, EV_PERSIST, on_tick, w)) ||
	    event_add(w->tick, &second) < 0) {
		cobs_worker_free(w);
		return NULL;
	}
	return w;
}

static void *worker_main(void *arg)
{
	cobs_worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

int cobs_worker_start(cobs_worker *w)
{
	/* before the thread exists: /healthz may be asked before it first runs */
	atomic_store_explicit(&w->srv->stats.worker_tick_ms, cobs_now_ms(), memory_order_relaxed);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	w->running = 1;
	return 0;
}

void cobs_worker_push(cobs_worker *w, cobs_job *job)
{
	int q = job->bulk ? 1 : 0;
	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail[q])
		w->tail[q]->next = job;
	else
		w->head[q] = job;
	w->tail[q] = job;
	pthread_mutex_unlock(&w->lock);
	/* several pushes before the worker wakes make one activation: fine, it drains all */
	event_active(w->wake, 0, 0);
}

void cobs_worker_stop(cobs_worker *w)
{
	if (!w->running)
		return;
	event_active(w->wake, 0, 0); /* whatever is still queued runs before the exit */
	event_base_loopexit(w->base, NULL);
	pthread_join(w->thread, NULL);
	w->running = 0;
	on_wake(-1, 0, w); /* anything pushed after the last wake-up ran */
}

void cobs_worker_free(cobs_worker *w)
{
	if (!w)
		return;
	cobs_worker_stop(w);
	if (w->wake)
		event_free(w->wake);
	if (w->tick)
		event_free(w->tick);
	if (w->base)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	free(w->logged);
	free(w);
}
