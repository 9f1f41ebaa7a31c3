/*
 * cobs-agent --simulate N: one agent process standing in for N nodes, with
 * the sim collector plugin (plugins/sim) and the real sinks. See simulate.c.
 */
#ifndef COBS_SIMULATE_H
#define COBS_SIMULATE_H

#include <stddef.h>

#include "agent.h"

typedef struct cobs_sim_options {
	unsigned long nodes;     /* --simulate N */
	const char *server;      /* --server URL: `connections` http2 sinks to it, or NULL */
	const char *const *sets; /* --sim KEY=VALUE, for [plugin.sim] */
	size_t nsets;
} cobs_sim_options;

/*
 * Makes cfg (a file's, or a new empty one) the simulator's: [plugin.sim]
 * with nodes = N and the --sim settings, and with a server URL the http2
 * sinks [sink.sim-http2-1..K]. Refuses any other collector section: fake
 * data never mixes with a real node's. Sinks the file names are used as
 * they are (their command stream off unless they say otherwise). 0, or -1
 * with err.
 */
int cobs_simulate_configure(cobs_config *cfg, const cobs_sim_options *o, cobs_error *err);

typedef struct cobs_simulation cobs_simulation;

/*
 * Starts calling a's sim collector N times per interval, evenly spread,
 * each batch to the one sink its node is assigned to. Instead of
 * cobs_agent_start. NULL when out of memory or a has no sim collector.
 */
cobs_simulation *cobs_simulation_start(cobs_agent *a, size_t nodes);
/* Stops, logs the totals and frees. Safe on NULL. */
void cobs_simulation_stop(cobs_simulation *s);

#endif
