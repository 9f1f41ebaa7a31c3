/* SPDX-License-Identifier: MIT */
/*
 * cobs-server as a whole: its threads, and the parts each one owns.
 *
 * Threads (DESIGN.md, "Server"):
 *  - the h2o thread, the one that calls cobs_server_run (main), runs all
 *    HTTP: listeners, connections, routing, the command streams and the
 *    command table (commands.h). It is the main thread so that h2o's
 *    thread-local buffer caches live as long as the process;
 *  - the worker thread runs a libevent loop and owns the state (state.h):
 *    ingest decoding and applying, /metrics rendering, housekeeping timers,
 *    and later the store, alert engine and notifiers;
 *  - whoever wants the server to stop (cobs-server's signal thread) calls
 *    cobs_server_drain from any thread.
 * Work crosses over as jobs (handoff.h): h2o -> worker through a locked
 * queue and event_active, worker -> h2o through h2o_multithread_send_message.
 * No h2o_req_t is ever touched off the h2o thread; a job whose client left
 * is finished and dropped, never answered.
 */
#ifndef COBS_SERVER_SERVER_H
#define COBS_SERVER_SERVER_H

#include <stdatomic.h>

#include <cobs/config.h>

#include "auth.h"
#include "settings.h"
#include "state.h"
#include "stats.h"

typedef struct cobs_server cobs_server;
typedef struct cobs_http cobs_http;
typedef struct cobs_worker cobs_worker;
typedef struct cobs_handoff cobs_handoff;
typedef struct cobs_commands cobs_commands;
typedef struct cobs_tmpl_set cobs_tmpl_set;

struct cobs_server {
	cobs_srv_settings settings; /* read-only once started */
	cobs_srv_stats stats;       /* atomics: any thread */
	cobs_state *state;          /* worker thread */
	cobs_tmpl_set *pages;       /* the dashboard's templates: read-only once started */
	cobs_ui_auth ui_auth;       /* the dashboard's credentials: read-only once started */
	cobs_worker *worker;        /* its queue: any thread */
	cobs_http *http;            /* h2o thread */
	cobs_handoff *handoff;      /* h2o thread */
	cobs_commands *commands;    /* h2o thread */
	atomic_int drain_requested; /* set by cobs_server_drain, read by the h2o thread */
	atomic_int draining;        /* the h2o thread began draining: /readyz says 503 */
	atomic_int listening;       /* listeners are open: /readyz may say 200 */
	int ran;                    /* cobs_server_run returned */
	int all_closed;             /* ... with every connection closed */
};

/*
 * A server for these settings (moved in: the caller's copy is emptied):
 * state, h2o configuration, TLS, bound listeners (so a busy port is an
 * error here, before any thread starts). NULL with err on failure.
 */
cobs_server *cobs_server_new(cobs_srv_settings *settings, cobs_error *err);
/* The base URL of listener i (0: main, 1: ingest), or NULL. Valid after cobs_server_new. */
const char *cobs_server_url(const cobs_server *srv, int i);
/*
 * Starts the worker thread and runs the h2o loop on the calling thread
 * until a drain (cobs_server_drain) is over; the worker is then stopped.
 * 0, or -1 with err when the worker cannot start. Once per server.
 */
int cobs_server_run(cobs_server *srv, cobs_error *err);
/* Asks for a drain: stop accepting, finish in-flight requests, close streams. Any thread. */
void cobs_server_drain(cobs_server *srv);
/*
 * Takes everything down, the h2o side included: call it on the thread that
 * ran the server, once nobody calls cobs_server_drain any more.
 */
void cobs_server_free(cobs_server *srv);

#endif
