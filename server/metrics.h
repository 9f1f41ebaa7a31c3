/* SPDX-License-Identifier: MIT */
/*
 * /metrics: everything the server knows in the Prometheus text format 0.0.4.
 * Every latest series of every node with a `node` label added, each family's
 * HELP and TYPE once across nodes, then the server's own cobs_server_*
 * metrics. Rendering goes through the core's formatter (cobs_format_batch),
 * so names, label values and help are escaped exactly as the agent's own
 * Prometheus output is.
 *
 * A series that already has a `node` label (kube_pod_info{node=...}) keeps
 * it as `exported_node`, as Prometheus does for a clashing target label.
 * Families named cobs_server_* that a node sends are left out: the server's
 * own take that name. When nodes disagree on a family's type, the first
 * node's type wins and the others' samples of that family are left out.
 *
 * Runs on the worker thread (it reads the state).
 */
#ifndef COBS_SERVER_METRICS_H
#define COBS_SERVER_METRICS_H

#include <stdint.h>

#include <cobs/format.h>

#include "state.h"
#include "stats.h"

/*
 * Appends the exposition to out: the nodes' series (when nodes is nonzero)
 * and the server's own. 0, or -1 when out of memory. GET /metrics/server
 * serves the server's own alone: with a thousand nodes the whole exposition
 * is ten million lines, more than a scrape of the server's health needs.
 */
int cobs_metrics_render(cobs_state *s, cobs_srv_stats *st, uint64_t now_ms, int nodes,
                        cobs_buf *out);

#endif
