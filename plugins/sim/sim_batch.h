/*
 * The batch of a simulated node: the families and labels the real plugins
 * send (node_exporter's names from cpu, mem, net, disk; process_*,
 * container_*, cobs_pod_info and cobs_container_info from procpid), with
 * values from the node's state (sim_model.h). Derived rates are left out
 * until the node has advanced twice, as the real plugins leave them out on
 * their first collection.
 */
#ifndef COBS_SIM_BATCH_H
#define COBS_SIM_BATCH_H

#include <cobs/metric.h>

#include "sim_model.h"

#define SIM_NFAMILIES 160

/* The families' handles in a batch reused across passes; zero it once. */
typedef struct sim_families {
	cobs_family_ref refs[SIM_NFAMILIES];
} sim_families;

/* Adds n's samples to b (b->node is the caller's to set). 0, or -1 when out of memory. */
int sim_node_fill(const sim_node *n, cobs_batch *b, sim_families *f);

#endif
