/*
 * cobs-agent --simulate N (see simulate.h).
 *
 * The sim collector's every call is the batch of the next fake node, named
 * after it, so the agent's scheduler (one call per interval) does not fit:
 * here the collector is called N times per interval on an even grid, node i
 * at i/N of the interval, so a server sees N agents whose batches arrive
 * spread out as real ones do, not N batches at once. At most a few calls run
 * per turn of the loop, so the sinks' network I/O keeps flowing in between.
 * Falling behind by more than a whole interval drops the backlog (counted
 * and logged) rather than bursting to catch up, as the scheduler does.
 *
 * Each batch goes to exactly one sink, chosen by its node's name: a node
 * always travels on the same HTTP/2 connection, so its batches stay in
 * order, and the --server sinks (one per 25 nodes) share the load, since
 * each connection has one POST in flight at a time (at 100 nodes per
 * connection a busy server's queueing alone held 1000 nodes under 200
 * batches/s). The http2 sink keeps a
 * boot id and a sequence per node it carries, so each fake node looks like
 * an agent of its own to the server.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simulate.h"

#define NODES_PER_CONNECTION 25u
#define MAX_AUTO_CONNECTIONS 64u
#define MAX_CONNECTIONS      64u
#define MAX_PER_TURN         8
#define REPORT_EVERY_NS      (60ull * 1000000000ull)

/* ---- configuration ---- */

static int set_key(cobs_section *s, const char *kv, cobs_error *err)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return cobs_error_set(err, "--sim '%s': expected KEY=VALUE (a [plugin.sim] key)",
		                      kv);
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	if (cobs_section_set(s, key, eq + 1, "--sim", 1, err) < 0)
		return cobs_error_set(
		        err, "--sim %s: [plugin.sim] already sets %s; drop one of them", kv, key);
	return 0;
}

/* An http2 sink of the file: no command stream unless it asks for one (see header). */
static int quiet_file_sink(cobs_section *s, cobs_error *err)
{
	const char *name = cobs_section_name(s) + strlen("sink.");
	const char *file = cobs_cfg_raw(s, "file");
	if (strcmp(file ? file : name, "http2") != 0 || cobs_cfg_raw(s, "commands"))
		return 0;
	return cobs_section_set(s, "commands", "false", "--simulate", 1, err);
}

static int add_sinks(cobs_config *cfg, const char *url, uint64_t k, cobs_error *err)
{
	for (uint64_t i = 1; i <= k; i++) {
		char name[64];
		snprintf(name, sizeof(name), "sink.sim-http2-%" PRIu64, i);
		cobs_section *s = cobs_config_add_section(cfg, name, "--server", 1);
		if (!s)
			return cobs_error_set(err, "out of memory");
		/*
		 * The fake nodes have no command stream; this process's own name needs none.
		 * A real agent's spool (8 MiB) is its own; here one sink carries 25 nodes,
		 * so it gets 32 MiB, ~25 batches of each (two minutes at 5 s): a server
		 * warming up to a thousand nodes must not cost the fakes data.
		 */
		if (cobs_section_set(s, "file", "http2", "--server", 1, err) < 0 ||
		    cobs_section_set(s, "url", url, "--server", 1, err) < 0 ||
		    cobs_section_set(s, "spool_memory", "32MiB", "--server", 1, err) < 0 ||
		    cobs_section_set(s, "commands", "false", "--server", 1, err) < 0)
			return -1;
	}
	return 0;
}

int cobs_simulate_configure(cobs_config *cfg, const cobs_sim_options *o, cobs_error *err)
{
	for (size_t i = 0; i < cobs_config_count(cfg); i++) {
		cobs_section *s = cobs_config_at(cfg, i);
		const char *name = cobs_section_name(s);
		char where[300];
		if (strncmp(name, "plugin.", 7) == 0 && strcmp(name, "plugin.sim") != 0)
			return cobs_error_set(
			        err,
			        "%s: [%s] cannot run with --simulate: only [plugin.sim] "
			        "does (fake data never mixes with a real node's)",
			        cobs_section_where(s, where, sizeof(where)), name);
		if (strncmp(name, "sink.", 5) == 0 && quiet_file_sink(s, err) < 0)
			return -1;
	}
	cobs_section *sim = cobs_config_add_section(cfg, "plugin.sim", "--simulate", 1);
	char n[32];
	snprintf(n, sizeof(n), "%lu", o->nodes);
	if (!sim)
		return cobs_error_set(err, "out of memory");
	if (cobs_section_set(sim, "nodes", n, "--simulate", 1, err) < 0)
		return cobs_error_set(err,
		                      "--simulate %lu: [plugin.sim] already sets nodes; drop "
		                      "one of them",
		                      o->nodes);
	for (size_t i = 0; i < o->nsets; i++)
		if (set_key(sim, o->sets[i], err) < 0)
			return -1;
	uint64_t k;
	if (cobs_cfg_uint(sim, "connections", 0, 0, MAX_CONNECTIONS, &k, err) < 0)
		return -1;
	if (!o->server)
		return 0;
	if (!k) {
		k = (o->nodes + NODES_PER_CONNECTION - 1) / NODES_PER_CONNECTION;
		k = k > MAX_AUTO_CONNECTIONS ? MAX_AUTO_CONNECTIONS : k;
	}
	return add_sinks(cfg, o->server, k, err);
}

/* ---- the run ---- */

struct cobs_simulation {
	cobs_agent *a;
	cobs_collector_slot *slot;
	struct event *timer, *report;
	uint64_t nodes, interval_ns;
	uint64_t origin_ns; /* when the current round of N calls began, on the grid */
	uint64_t done;      /* calls made in the current round */

	uint64_t batches, samples, silent, failed, late_rounds; /* since the start */
	uint64_t started_ns;
	uint64_t win_batches, win_samples, win_max_lag_ns, win_ns; /* since the last report */
};

/* When the next call is due. */
static uint64_t due(const cobs_simulation *s)
{
	return s->origin_ns + s->done * s->interval_ns / s->nodes;
}

static uint64_t fnv1a(const char *p)
{
	uint64_t h = 1469598103934665603u;
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211u;
	return h;
}

/* The batch to its node's sink only (counted as cobs_pipeline_write counts). */
static void route(cobs_agent *a, const cobs_batch *b)
{
	if (!a->nsinks)
		return;
	cobs_sink_slot *k = &a->sinks[fnv1a(b->node ? b->node : "") % a->nsinks];
	k->writes++;
	if (k->plugin.desc->write(k->plugin.state, b) < 0) {
		if (k->errors++ == 0)
			cobs_log(COBS_LOG_WARN, k->plugin.name,
			         "write failed; batch of %s dropped (further drops are not logged)",
			         b->node ? b->node : "?");
		return;
	}
	k->samples += cobs_batch_samples(b);
}

static void run_one(cobs_simulation *s)
{
	uint64_t now = cobs_monotonic_ns(), lag = now - due(s);
	cobs_collector_slot *slot = s->slot;
	if (lag > s->win_max_lag_ns)
		s->win_max_lag_ns = lag;
	if (cobs_collector_run(slot, now) < 0) {
		s->failed++;
	} else if (slot->last_samples == 0) {
		s->silent++; /* a flapping node in its silence */
	} else {
		route(s->a, slot->batch);
		s->batches++;
		s->samples += slot->last_samples;
		s->win_batches++;
		s->win_samples += slot->last_samples;
	}
	if (++s->done == s->nodes) {
		s->done = 0;
		s->origin_ns += s->interval_ns;
	}
}

static void arm(struct event *ev, uint64_t wait_ns)
{
	struct timeval tv = {.tv_sec = (time_t)(wait_ns / 1000000000u),
	                     .tv_usec = (suseconds_t)(wait_ns % 1000000000u / 1000u)};
	event_add(ev, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_simulation *s = arg;
	for (int i = 0; i < MAX_PER_TURN && due(s) <= cobs_monotonic_ns(); i++)
		run_one(s);
	uint64_t now = cobs_monotonic_ns();
	if (due(s) + s->interval_ns < now) {
		uint64_t missed = (now - due(s)) / s->interval_ns;
		if (!s->late_rounds)
			cobs_log(
			        COBS_LOG_WARN, "simulate",
			        "more than one interval behind: skipping ahead (this process cannot "
			        "keep up with %" PRIu64 " nodes; later skips are in the minute's "
			        "report)",
			        s->nodes);
		s->origin_ns += missed * s->interval_ns;
		s->late_rounds += missed;
	}
	arm(s->timer, due(s) > now ? due(s) - now : 0);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_simulation *s = arg;
	uint64_t now = cobs_monotonic_ns();
	double secs = (double)(now - s->win_ns) / 1e9;
	cobs_log(COBS_LOG_INFO, "simulate",
	         "%" PRIu64 " nodes: %.1f batches/s, %.0f samples/s, max lag %.1f ms; %" PRIu64
	         " silent (flapping), %" PRIu64 " failed, %" PRIu64 " intervals skipped so far",
	         s->nodes, (double)s->win_batches / secs, (double)s->win_samples / secs,
	         (double)s->win_max_lag_ns / 1e6, s->silent, s->failed, s->late_rounds);
	s->win_batches = s->win_samples = s->win_max_lag_ns = 0;
	s->win_ns = now;
	arm(s->report, REPORT_EVERY_NS);
}

cobs_simulation *cobs_simulation_start(cobs_agent *a, size_t nodes)
{
	if (a->ncollectors != 1 || strcmp(a->collectors[0].plugin.desc->name, "sim") != 0 || !nodes)
		return NULL;
	cobs_simulation *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->a = a;
	s->slot = &a->collectors[0];
	s->nodes = nodes;
	s->interval_ns = s->slot->interval_ns;
	s->started_ns = s->win_ns = s->origin_ns = cobs_monotonic_ns();
	s->timer = event_new(a->base, -1, 0, on_tick, s);
	s->report = event_new(a->base, -1, 0, on_report, s);
	if (!s->timer || !s->report) {
		cobs_simulation_stop(s);
		return NULL;
	}
	arm(s->timer, 0);
	arm(s->report, REPORT_EVERY_NS);
	cobs_log(COBS_LOG_INFO, "simulate",
	         "%zu nodes every %" PRIu64 " ms (one every %.2f ms) over %zu sink(s)", nodes,
	         s->interval_ns / 1000000u, (double)s->interval_ns / 1e6 / (double)nodes,
	         a->nsinks);
	return s;
}

void cobs_simulation_stop(cobs_simulation *s)
{
	if (!s)
		return;
	if (s->batches || s->silent) {
		double secs = (double)(cobs_monotonic_ns() - s->started_ns) / 1e9;
		cobs_log(COBS_LOG_INFO, "simulate",
		         "%" PRIu64 " batches, %" PRIu64 " samples in %.1f s; %" PRIu64
		         " silent (flapping), %" PRIu64 " failed, %" PRIu64 " intervals skipped",
		         s->batches, s->samples, secs, s->silent, s->failed, s->late_rounds);
	}
	if (s->timer)
		event_free(s->timer);
	if (s->report)
		event_free(s->report);
	free(s);
}
