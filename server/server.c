/* SPDX-License-Identifier: MIT */
/*
 * The server's life: build every part, start the two threads, drain, and
 * take it all down in the order the parts depend on each other.
 */
#include <stdlib.h>
#include <string.h>

#include <cobs/log.h>

#include "commands.h"
#include "handoff.h"
#include "http.h"
#include "pages.h"
#include "server.h"
#include "worker.h"

#define MIB (1024ull * 1024ull)

/* Takes down the h2o side: worker (jobs use the handoff), commands (h2o timers), handoff, h2o. */
static void teardown_h2o_side(cobs_server *srv, int all_closed)
{
	if (srv->worker)
		cobs_worker_stop(srv->worker);
	if (all_closed) {
		cobs_commands_free(srv->commands);
		srv->commands = NULL;
		cobs_handoff_free(srv->handoff);
		srv->handoff = NULL;
	}
	cobs_http_free(srv, all_closed);
}

cobs_server *cobs_server_new(cobs_srv_settings *settings, cobs_error *err)
{
	cobs_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	srv->settings = *settings;
	*settings = (cobs_srv_settings){0};
	const cobs_srv_settings *s = &srv->settings;
	cobs_state_config sc = {
	        .stale_after = s->stale_after,
	        .down_after = s->down_after,
	        .history = {.retention_ms = (int64_t)s->history_retention_ms,
	                    .resolution_ms = (int64_t)s->history_resolution_ms},
	        .history_budget = (size_t)s->history_memory,
	};
	/* a batch waits in the worker's queue as a copy: allow a few of the largest */
	size_t queue_bytes = s->max_batch_size * 4 > 64 * MIB ? s->max_batch_size * 4 : 64 * MIB;
	if (!(srv->state = cobs_state_new(&sc))) {
		cobs_error_set(err, "out of memory creating the state");
		goto fail;
	}
	if (!(srv->pages = cobs_pages_load(s->web_dir, err)))
		goto fail;
	if (cobs_ui_auth_init(&srv->ui_auth, s->ui_user, s->ui_password, s->ui_token) < 0) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	if (!(srv->worker = cobs_worker_new(srv))) {
		cobs_error_set(err, "cannot create the worker's event loop");
		goto fail;
	}
	if (cobs_http_new(srv, err) < 0)
		goto fail;
	if (!(srv->handoff = cobs_handoff_new(srv, cobs_http_context(srv), queue_bytes)) ||
	    !(srv->commands = cobs_commands_new(srv, cobs_http_context(srv)))) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	return srv;
fail:
	cobs_server_free(srv);
	return NULL;
}

const char *cobs_server_url(const cobs_server *srv, int i)
{
	return cobs_http_url(srv, i);
}

int cobs_server_run(cobs_server *srv, cobs_error *err)
{
	if (srv->ran)
		return cobs_error_set(err, "the server ran already");
	if (cobs_worker_start(srv->worker) < 0)
		return cobs_error_set(err, "cannot start the worker thread");
	srv->all_closed = cobs_http_run(srv);
	cobs_worker_stop(srv->worker);
	srv->ran = 1;
	return 0;
}

void cobs_server_drain(cobs_server *srv)
{
	atomic_store(&srv->drain_requested, 1);
	if (srv->http)
		cobs_http_wake(srv);
}

void cobs_server_free(cobs_server *srv)
{
	if (!srv)
		return;
	/* here rather than at the end of cobs_server_run: a cobs_server_drain
	 * racing with the end of the run may still be waking the h2o loop */
	teardown_h2o_side(srv, srv->ran ? srv->all_closed : 1);
	cobs_worker_free(srv->worker);
	cobs_state_free(srv->state);
	cobs_tmpl_set_free(srv->pages);
	cobs_ui_auth_free(&srv->ui_auth);
	cobs_srv_settings_free(&srv->settings);
	free(srv);
}
