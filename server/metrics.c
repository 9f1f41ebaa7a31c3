/* SPDX-License-Identifier: MIT */
/*
 * The /metrics renderer: one family at a time across all nodes (so memory
 * peaks at the largest family, not the whole fleet), then the server's own.
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "metrics.h"

#define SELF_PREFIX "cobs_server_"

typedef struct distinct {
	const cobs_state_family **first; /* per distinct name: the first node's family */
	size_t n, cap;
	cobs_hmap index;
} distinct;

static int distinct_eq(uintptr_t val, const void *key, const void *ctx)
{
	const distinct *d = ctx;
	return strcmp(d->first[val - 1]->name, key) == 0;
}

static int distinct_add(distinct *d, const cobs_state_family *f)
{
	uint64_t h = cobs_hash_str(f->name, 0);
	if (cobs_hmap_get(&d->index, h, distinct_eq, f->name, d))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		const cobs_state_family **v = realloc(d->first, cap * sizeof(*v));
		if (!v)
			return -1;
		d->first = v;
		d->cap = cap;
	}
	if (cobs_hmap_put(&d->index, h, d->n + 1) < 0)
		return -1;
	d->first[d->n++] = f;
	return 0;
}

/* One node's samples of family f into bf, with node="..." first. */
static int add_node_samples(cobs_batch *b, cobs_family *bf, const cobs_node *n,
                            const cobs_state_family *f)
{
	cobs_label l[COBS_WIRE_MAX_LABELS + 1];
	for (size_t i = 0; i < f->nseries; i++) {
		const cobs_labelset *ls = f->series[i].labels;
		int has_exported = 0;
		for (size_t j = 0; j < ls->n; j++)
			if (strcmp(ls->labels[j].name, "exported_node") == 0)
				has_exported = 1;
		size_t k = 0;
		l[k++] = (cobs_label){"node", n->name};
		for (size_t j = 0; j < ls->n && k < COBS_WIRE_MAX_LABELS + 1; j++) {
			if (strcmp(ls->labels[j].name, "node") == 0) {
				if (has_exported)
					continue; /* no third name to move it to: ours wins */
				l[k++] = (cobs_label){"exported_node", ls->labels[j].value};
			} else {
				l[k++] = ls->labels[j];
			}
		}
		if (cobs_family_add(b, bf, f->series[i].value, l, k) < 0)
			return -1;
	}
	return 0;
}

static int render_nodes(cobs_state *s, cobs_batch *b, cobs_buf *out)
{
	distinct d = {0};
	int rc = -1;
	size_t nn = cobs_state_node_count(s);
	for (size_t i = 0; i < nn; i++) {
		const cobs_node *n = cobs_state_node_at(s, i);
		for (size_t j = 0; j < cobs_state_family_count(n); j++) {
			const cobs_state_family *f = cobs_state_family_at(n, j);
			if (f->nseries && strncmp(f->name, SELF_PREFIX, strlen(SELF_PREFIX)) != 0 &&
			    distinct_add(&d, f) < 0)
				goto done;
		}
	}
	for (size_t i = 0; i < d.n; i++) {
		const cobs_state_family *first = d.first[i];
		cobs_batch_reset(b);
		cobs_family *bf =
		        cobs_batch_family(b, first->name, first->help, first->unit, first->type);
		if (!bf)
			goto done;
		for (size_t j = 0; j < nn; j++) {
			const cobs_node *n = cobs_state_node_at(s, j);
			const cobs_state_family *f = cobs_state_family_find(n, first->name);
			if (f && f->type == first->type && add_node_samples(b, bf, n, f) < 0)
				goto done;
		}
		if (cobs_format_batch(b, COBS_FORMAT_PROMETHEUS, out) < 0)
			goto done;
	}
	rc = 0;
done:
	free(d.first);
	cobs_hmap_free(&d.index);
	return rc;
}

/* A family of the server's own with one unlabelled sample. */
static int self1(cobs_batch *b, const char *name, const char *help, const char *unit,
                 cobs_metric_type type, double v)
{
	cobs_family *f = cobs_batch_family(b, name, help, unit, type);
	return f ? cobs_family_add0(b, f, v) : -1;
}

static int render_self(cobs_state *s, cobs_srv_stats *st, uint64_t now_ms, cobs_batch *b)
{
	cobs_family *f = cobs_batch_family(b, SELF_PREFIX "ingest_batches_total",
	                                   "Ingest requests by result: ok (applied), bad (400), "
	                                   "unauthorized (401), too_large (413), duplicate (a "
	                                   "resend acknowledged without applying it), overloaded "
	                                   "(503)",
	                                   "", COBS_COUNTER);
	if (!f)
		return -1;
	for (int r = 0; r < COBS_INGEST_RESULTS; r++)
		if (cobs_family_add1(b, f, (double)cobs_stat_get(&st->ingest[r]), "result",
		                     cobs_ingest_result_name((cobs_ingest_result)r)) < 0)
			return -1;
	if (self1(b, SELF_PREFIX "ingest_bytes_total",
	          "Bytes of request bodies received on /api/v1/ingest, whatever the result",
	          "bytes", COBS_COUNTER, (double)cobs_stat_get(&st->ingest_bytes)) < 0 ||
	    self1(b, SELF_PREFIX "ingest_samples_total", "Samples applied from ingested batches",
	          "", COBS_COUNTER, (double)cobs_stat_get(&st->ingest_samples)) < 0 ||
	    self1(b, SELF_PREFIX "decode_errors_total",
	          "Ingest bodies that did not decode or validate", "", COBS_COUNTER,
	          (double)cobs_stat_get(&st->decode_errors)) < 0)
		return -1;

	size_t by_state[COBS_LIVENESS_COUNT] = {0};
	size_t nn = cobs_state_node_count(s);
	for (size_t i = 0; i < nn; i++)
		by_state[cobs_state_liveness(s, cobs_state_node_at(s, i), now_ms)]++;
	if (!(f = cobs_batch_family(b, SELF_PREFIX "nodes",
	                            "Nodes known to the server by liveness: stale after "
	                            "stale_after missed intervals, down after down_after",
	                            "", COBS_GAUGE)))
		return -1;
	for (int l = 0; l < COBS_LIVENESS_COUNT; l++)
		if (cobs_family_add1(b, f, (double)by_state[l], "state",
		                     cobs_liveness_name((cobs_liveness)l)) < 0)
			return -1;

	cobs_family *seen = cobs_batch_family(b, SELF_PREFIX "node_last_seen_timestamp_seconds",
	                                      "When the node's last batch arrived (server clock)",
	                                      "seconds", COBS_GAUGE);
	cobs_family *info = cobs_batch_family(b, SELF_PREFIX "node_info",
	                                      "The node's agent and its liveness", "", COBS_INFO);
	cobs_family *dups = cobs_batch_family(
	        b, SELF_PREFIX "node_duplicate_batches_total",
	        "Batches the node resent that were already applied (acknowledged, not applied "
	        "again)",
	        "", COBS_COUNTER);
	cobs_family *missed = cobs_batch_family(
	        b, SELF_PREFIX "node_missed_batches_total",
	        "Gaps in the node's batch sequence: batches it numbered that never arrived", "",
	        COBS_COUNTER);
	cobs_family *restarts =
	        cobs_batch_family(b, SELF_PREFIX "node_agent_restarts_total",
	                          "Agent restarts seen (a new boot id)", "", COBS_COUNTER);
	if (!seen || !info || !dups || !missed || !restarts)
		return -1;
	for (size_t i = 0; i < nn; i++) {
		const cobs_node *n = cobs_state_node_at(s, i);
		cobs_label il[] = {
		        {"node", n->name},
		        {"agent_version", n->agent_version},
		        {"boot_id", n->boot.boot_id},
		        {"state", cobs_liveness_name(cobs_state_liveness(s, n, now_ms))}};
		if (cobs_family_add1(b, seen, (double)n->last_seen_wall_ms / 1000.0, "node",
		                     n->name) < 0 ||
		    cobs_family_add(b, info, 1, il, 4) < 0 ||
		    cobs_family_add1(b, dups, (double)n->duplicates, "node", n->name) < 0 ||
		    cobs_family_add1(b, missed, (double)n->missed, "node", n->name) < 0 ||
		    cobs_family_add1(b, restarts, (double)n->restarts, "node", n->name) < 0)
			return -1;
	}

	cobs_hist_store_stats hs;
	cobs_state_history_stats(s, &hs);
	if (self1(b, SELF_PREFIX "history_bytes",
	          "Memory held by the history store (every series' compressed ring and index)",
	          "bytes", COBS_GAUGE, (double)hs.bytes) < 0 ||
	    self1(b, SELF_PREFIX "history_budget_bytes",
	          "The history store's memory budget (history_memory; 0: unlimited)", "bytes",
	          COBS_GAUGE, (double)hs.budget) < 0 ||
	    self1(b, SELF_PREFIX "history_points", "Points held by the history store", "",
	          COBS_GAUGE, (double)hs.points) < 0 ||
	    self1(b, SELF_PREFIX "history_series", "Series held by the history store", "",
	          COBS_GAUGE, (double)hs.series) < 0 ||
	    self1(b, SELF_PREFIX "history_bytes_per_point",
	          "history_bytes / history_points: the store's whole cost per point", "",
	          COBS_GAUGE, hs.bytes_per_point) < 0 ||
	    self1(b, SELF_PREFIX "history_evicted_series_total",
	          "Series evicted to stay within history_memory", "", COBS_COUNTER,
	          (double)hs.evicted) < 0 ||
	    self1(b, SELF_PREFIX "history_refused_points_total",
	          "Points the history did not store (out of time order, out of memory)", "",
	          COBS_COUNTER, (double)cobs_stat_get(&st->history_refused)) < 0 ||
	    self1(b, SELF_PREFIX "command_streams", "Agents' command streams open now", "",
	          COBS_GAUGE, (double)cobs_stat_get(&st->streams)) < 0 ||
	    self1(b, SELF_PREFIX "commands_created_total", "Commands queued to an agent", "",
	          COBS_COUNTER, (double)cobs_stat_get(&st->commands_created)) < 0 ||
	    self1(b, SELF_PREFIX "commands_rejected_total",
	          "Commands refused because the node had no open command stream (409)", "",
	          COBS_COUNTER, (double)cobs_stat_get(&st->commands_rejected)) < 0)
		return -1;
	return 0;
}

int cobs_metrics_render(cobs_state *s, cobs_srv_stats *st, uint64_t now_ms, int nodes,
                        cobs_buf *out)
{
	size_t start = out->len;
	cobs_batch *b = cobs_batch_new();
	int rc = -1;
	if (b && (!nodes || render_nodes(s, b, out) == 0)) {
		/* a fresh batch: the nodes' families must not shadow the server's own */
		cobs_batch_free(b);
		b = cobs_batch_new();
		if (b && render_self(s, st, now_ms, b) == 0 &&
		    cobs_format_batch(b, COBS_FORMAT_PROMETHEUS, out) == 0)
			rc = 0;
	}
	cobs_batch_free(b);
	if (rc < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}
