/* SPDX-License-Identifier: MIT */
/*
 * /healthz and /readyz for Kubernetes probes, answered on the h2o thread.
 *
 * /healthz: 200 while both loops run. The h2o loop runs if it answers at
 * all; the worker proves it runs by its one-second tick, and a worker that
 * has not ticked for COBS_HEALTH_WORKER_MS (stuck, or dead) makes it 503 so
 * a liveness probe restarts the pod.
 * /readyz: 200 once the listeners are open, 503 while draining (so the
 * Service stops sending traffic before the process goes).
 */
#include "respond.h"
#include "routes.h"

#define COBS_HEALTH_WORKER_MS 10000

int cobs_route_healthz(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	uint64_t tick = cobs_stat_get(&srv->stats.worker_tick_ms), now = cobs_now_ms();
	if (now > tick && now - tick > COBS_HEALTH_WORKER_MS)
		cobs_respond_text(req, 503, "worker loop stalled for %llu ms",
		                  (unsigned long long)(now - tick));
	else
		cobs_respond_text(req, 200, "ok");
	return 0;
}

int cobs_route_readyz(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	if (atomic_load(&srv->draining))
		cobs_respond_text(req, 503, "draining");
	else if (!atomic_load(&srv->listening))
		cobs_respond_text(req, 503, "starting");
	else
		cobs_respond_text(req, 200, "ready");
	return 0;
}
