/*
 * sim: fake nodes, for load tests and demos (`cobs-agent --simulate N`).
 *
 * Each collection is the batch of the next fake node in turn, and carries
 * that node's name in batch->node, never this agent's: fake data cannot mix
 * into a real node's series. Under --simulate the agent calls collect N
 * times per interval, spread over it (core/src/simulate.c), so every node
 * reports once per interval. Named in an ordinary agent.ini it is called once
 * per interval like any collector, so each of its nodes reports every
 * `nodes` intervals: only nodes = 1 makes sense there.
 *
 * The nodes (sim_model.h, sim_batch.h): pods with containers, processes
 * (some with hostile comms), node_exporter's node metrics, all
 * counter-correct. Some are busy; the last `flapping` ones stop sending for
 * flap_down out of every flap_period (their batches are empty then, and an
 * empty batch is not sent), so a server sees them go stale and down and come
 * back with their sequence unbroken.
 *
 *   [plugin.sim]
 *   nodes       = 1           fake nodes (--simulate N sets it)
 *   prefix      = sim-node-   names: prefix + a number from 0001 (wider past 9999)
 *   pods        = 50          per node, 1-3 containers each
 *   processes   = 300         per node, at least 16
 *   cpus        = 8           per node; 4 GiB of memory per CPU
 *   seed        = 1           same seed, same nodes and values
 *   busy        = 10          percent of nodes with CPUs near 100 % (nodes 2, 12, 22, ...)
 *   churn       = 1           percent of a node's processes replaced per pass
 *   flapping    = 1           nodes that go silent now and then (the last ones; never all)
 *   flap_period = 60s         how often they go silent ...
 *   flap_down   = 30s         ... and for how long (past 2 and 5 intervals of 5 s: a
 *                             server marks them stale, then down)
 *   connections = 0           --simulate only: HTTP/2 connections to the server;
 *                             0 = one per 100 nodes, at most 16 (read by the agent)
 * and the host's keys (enabled, file, interval).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/plugin.h>

#include "sim_batch.h"
#include "sim_model.h"

#define MAX_NODES  100000u
#define MIN_PROCS  16u /* the system and hostile processes, and room for others */
#define NAME_WIDTH 4

typedef struct sim_state {
	sim_node **nodes;
	size_t n;
	size_t next; /* the node the next collection is for */
	size_t flapping;
	uint64_t flap_period_ns, flap_down_ns;
	uint64_t t0; /* monotonic time of the first collection: the flap cycle's origin */
	sim_families fams;
} sim_state;

static void sim_shutdown(void *state)
{
	sim_state *s = state;
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		sim_node_free(s->nodes[i]);
	free(s->nodes);
	free(s);
}

/* What the wire accepts as a node name, with room for the number. */
static int prefix_ok(const char *p, size_t width)
{
	size_t len = strlen(p);
	if (len + width > 253)
		return 0;
	for (; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '/')
			return 0;
	return 1;
}

static int read_config(const cobs_plugin_env *env, sim_params *p, uint64_t *nodes,
                       const char **prefix, uint64_t *busy, uint64_t *flapping, uint64_t *period_ms,
                       uint64_t *down_ms)
{
	const cobs_section *c = env->config;
	cobs_error *err = env->err;
	uint64_t pods, procs, cpus, churn, unused;
	if (cobs_cfg_uint(c, "nodes", 1, 1, MAX_NODES, nodes, err) < 0 ||
	    cobs_cfg_string(c, "prefix", "sim-node-", prefix, err) < 0 ||
	    cobs_cfg_uint(c, "pods", 50, 0, 10000, &pods, err) < 0 ||
	    cobs_cfg_uint(c, "processes", 300, MIN_PROCS, 100000, &procs, err) < 0 ||
	    cobs_cfg_uint(c, "cpus", 8, 1, 1024, &cpus, err) < 0 ||
	    cobs_cfg_uint(c, "seed", 1, 0, UINT64_MAX, &p->seed, err) < 0 ||
	    cobs_cfg_uint(c, "busy", 10, 0, 100, busy, err) < 0 ||
	    cobs_cfg_uint(c, "churn", 1, 0, 100, &churn, err) < 0 ||
	    cobs_cfg_uint(c, "flapping", 1, 0, MAX_NODES, flapping, err) < 0 ||
	    cobs_cfg_duration_ms(c, "flap_period", 60000, period_ms, err) < 0 ||
	    cobs_cfg_duration_ms(c, "flap_down", 30000, down_ms, err) < 0 ||
	    /* Read by the agent under --simulate; accepted here so the key is known. */
	    cobs_cfg_uint(c, "connections", 0, 0, 64, &unused, err) < 0)
		return -1;
	if (!prefix_ok(*prefix, NAME_WIDTH))
		return cobs_cfg_error(c, "prefix", err,
		                      "must be printable ASCII without space or '/', and short "
		                      "enough for a node name (253 bytes with the number)");
	if (*down_ms >= *period_ms)
		return cobs_cfg_error(c, "flap_down", err, "must be shorter than flap_period");
	p->pods = (unsigned)pods;
	p->processes = (unsigned)procs;
	p->cpus = (unsigned)cpus;
	p->churn_permille = (unsigned)churn * 10;
	return 0;
}

static int sim_init(const cobs_plugin_env *env, void **state)
{
	sim_params p = {0};
	uint64_t nodes, busy, flapping, period_ms, down_ms;
	const char *prefix;
	if (read_config(env, &p, &nodes, &prefix, &busy, &flapping, &period_ms, &down_ms) < 0)
		return -1;
	sim_state *s = calloc(1, sizeof(*s));
	if (!s || !(s->nodes = calloc(nodes, sizeof(*s->nodes)))) {
		free(s);
		return cobs_error_set(env->err, "out of memory");
	}
	/* Never every node: at least one keeps reporting steadily. */
	s->flapping = flapping < nodes ? flapping : nodes - 1;
	s->flap_period_ns = period_ms * 1000000u;
	s->flap_down_ns = down_ms * 1000000u;
	int width = NAME_WIDTH;
	for (uint64_t v = nodes; v >= 10000; v /= 10)
		width++;
	/* Busy nodes every 100/busy nodes from the second one: one among a few nodes. */
	uint64_t stride = busy ? (100 + busy / 2) / busy : 0;
	for (size_t i = 0; i < nodes; i++) {
		char name[300];
		int len = snprintf(name, sizeof(name), "%s%0*zu", prefix, width, i + 1);
		p.busy = stride && i % stride == 1 % stride;
		/* prefix_ok bounds the length: the check only keeps the compiler sure of it. */
		if (len < 0 || len >= (int)sizeof(name) ||
		    !(s->nodes[i] = sim_node_new(name, i, &p))) {
			sim_shutdown(s);
			return cobs_error_set(env->err,
			                      "out of memory creating %zu simulated nodes",
			                      (size_t)nodes);
		}
		s->n++;
	}
	*state = s;
	return 0;
}

/* Whether node i is silent at monotonic time now. */
static int silent(const sim_state *s, size_t i, uint64_t now)
{
	if (i < s->n - s->flapping || now < s->t0)
		return 0;
	return (now - s->t0) % s->flap_period_ns >= s->flap_period_ns - s->flap_down_ns;
}

static int sim_collect(void *state, cobs_batch *b)
{
	sim_state *s = state;
	size_t i = s->next;
	s->next = (i + 1) % s->n;
	sim_node *n = s->nodes[i];
	b->node = n->name;
	if (!s->t0)
		s->t0 = b->monotonic_ns ? b->monotonic_ns : 1;
	/* A silent node's clock stands still: its next batch covers the whole gap. */
	if (silent(s, i, b->monotonic_ns))
		return 0;
	sim_node_advance(n, b->monotonic_ns, b->timestamp_ms);
	return sim_node_fill(n, b, &s->fams);
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "sim",
        .description = "Simulated nodes (pods, containers, processes, node metrics) for load "
                       "tests and demos: cobs-agent --simulate N",
        .init = sim_init,
        .shutdown = sim_shutdown,
        .collect = sim_collect,
};
