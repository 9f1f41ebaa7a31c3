/* SPDX-License-Identifier: MIT */
/*
 * The server's live state: the node registry, the latest value of every
 * series of every node, and their history (server/history's store).
 *
 * Latest values: per node, per metric family (name, help, unit, type), the
 * samples of the newest batch that carried that family. A batch replaces
 * exactly the families it carries, wholly (a process that exited leaves its
 * process_* families with the next batch); families it does not carry are
 * left alone, because an agent sends one batch per collector plugin and the
 * wire batch does not name the plugin: a family belongs to one collector, so
 * "replace per family" is "replace per source plugin". A family that the
 * node stops sending while it keeps sending others is dropped after
 * down_after of its intervals (a plugin that was unloaded).
 *
 * A large collection arrives in parts (Batch.more: several batches with the
 * same timestamp, all but the last with more set). Its families are then
 * replaced by everything the parts carried together: series are added and
 * updated as each part arrives, and the series none of the parts carried go
 * when the last part arrives (or, if that was lost, when the family's next
 * collection begins). The dashboard tables are rebuilt once per collection.
 *
 * History: every sample of a gauge or counter (info families hold facts, not
 * values) is appended to its series in the history store, keyed by
 * cobs_hist_key(node, family, labels sorted by name). Eviction classes:
 * 0 node series (never evicted), 1 pod and container series (container_*,
 * kube_*), 2 process_* series (evicted first, least recently viewed first).
 * Under a full budget a pod or process series that has no history (new, or
 * evicted) gets none until the store has room again or a view asks for it
 * (cobs_state_history_want); node series always do.
 * An agent restart (new boot id) keeps the node's history: the keys do not
 * contain the boot id.
 *
 * Threading: a cobs_state belongs to one thread, the worker (libevent)
 * thread. HTTP handlers on the h2o thread reach it only through a job
 * (handoff.h): copy the request's inputs into the job, read the state in
 * the job's run function, render the answer there, and hand the bytes back.
 * Everything returned by the read functions below is valid until the next
 * cobs_state_apply or cobs_state_sweep on that thread.
 */
#ifndef COBS_SERVER_STATE_H
#define COBS_SERVER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>
#include <cobs/metric.h>
#include <cobs/wire.h>

#include "labelset.h"
#include "registry.h"
#include "store.h"
#include "summary.h"

typedef struct cobs_state cobs_state;

typedef struct cobs_state_config {
	uint64_t stale_after;         /* intervals without a batch: stale (default 2) */
	uint64_t down_after;          /* ... down (default 5) */
	uint64_t default_interval_ms; /* for agents that send interval 0 (default 10 s) */
	cobs_hist_config history;     /* retention, resolution (0: every point the agent sends) */
	size_t history_budget;        /* bytes; 0: unlimited */
} cobs_state_config;

/* One series' latest value. */
typedef struct cobs_state_series {
	const cobs_labelset *labels; /* ->n labels at ->labels[i].name / .value */
	double value;
	cobs_hist_id hist; /* private: cached history id (0: none yet) */
	uint64_t gen;      /* private */
} cobs_state_series;

/* One family of one node, as the newest batch carrying it said. */
typedef struct cobs_state_family {
	char *name;
	char *help;
	char *unit;
	cobs_metric_type type;
	int64_t timestamp_ms; /* the agent's clock: when that batch was collected */
	uint64_t updated_ms;  /* server monotonic clock: when it arrived */
	cobs_state_series *series;
	size_t nseries;
	/* private */
	size_t cap;
	cobs_hmap index; /* labelset pointer -> series index + 1 */
	unsigned hist_class;
	bool table; /* the summary's tables are built from it (cobs_summary_table_family) */
	/* the collection whose parts are arriving (see Batch.more in cobs.proto) */
	bool open;
	int64_t coll_ts;   /* its timestamp */
	uint64_t coll_gen; /* the gen its series are marked with */
} cobs_state_family;

/* What cobs_state_apply did with a batch. */
typedef struct cobs_apply_result {
	cobs_admit verdict;
	cobs_node *node;
	size_t samples;           /* samples applied (0 for a duplicate) */
	uint64_t history_refused; /* points the history did not take (out of order, no memory) */
} cobs_apply_result;

/* NULL when out of memory or the history config is invalid. */
cobs_state *cobs_state_new(const cobs_state_config *cfg);
void cobs_state_free(cobs_state *s);

/*
 * Applies one decoded batch (meta and b from cobs_wire_decode_batch) at
 * server time now_ms (monotonic) and now_wall_ms. Duplicates change nothing
 * but counters; an earlier boot's batch only feeds history. Returns 0 with
 * *res filled, or -1 with err when out of memory (the batch may then be
 * partly applied).
 */
int cobs_state_apply(cobs_state *s, const cobs_wire_meta *meta, const cobs_batch *b,
                     uint64_t now_ms, int64_t now_wall_ms, cobs_apply_result *res, cobs_error *err);

/*
 * Housekeeping, every second: history retention over a fifth of the series
 * (series of exited processes go), and families a node stopped sending.
 * Returns the number of families dropped.
 */
size_t cobs_state_sweep(cobs_state *s, uint64_t now_ms, int64_t now_wall_ms);

/* ---- reading (on the state's thread) ---- */

const cobs_registry *cobs_state_registry(const cobs_state *s);
size_t cobs_state_node_count(const cobs_state *s);
const cobs_node *cobs_state_node_at(const cobs_state *s, size_t i);
const cobs_node *cobs_state_node_find(const cobs_state *s, const char *name);
cobs_liveness cobs_state_liveness(const cobs_state *s, const cobs_node *n, uint64_t now_ms);

size_t cobs_state_family_count(const cobs_node *n);
const cobs_state_family *cobs_state_family_at(const cobs_node *n, size_t i);
const cobs_state_family *cobs_state_family_find(const cobs_node *n, const char *name);
/* The node's summary (summary.h), kept current by apply and sweep; NULL before its first batch. */
const cobs_summary *cobs_state_summary(const cobs_node *n);
/* Samples across a node's families. */
size_t cobs_state_node_samples(const cobs_node *n);

/*
 * The history key of a series (cobs_hist_key's format), snprintf-like: at
 * most cap bytes with a NUL, returns the length the key needs.
 */
size_t cobs_state_series_key(const cobs_node *n, const cobs_state_family *f,
                             const cobs_state_series *se, char *buf, size_t cap);

/*
 * History of the series with this key (any node, also one that vanished
 * from the latest values), points with from <= t <= to (agent ms), oldest
 * first, like cobs_hist_store_query: returns the number in range (more than
 * cap: only the oldest cap written), COBS_HIST_ENOENT for an unknown key.
 * A query counts as a view for the store's eviction order.
 */
int64_t cobs_state_history(cobs_state *s, const char *key, size_t keylen, int64_t from, int64_t to,
                           cobs_hist_point *out, size_t cap);
/*
 * A view asked for the history of a live series that has none (never opened
 * for want of room, or evicted): the next batch opens it, whatever the
 * budget, as a viewed series. Info families have no history.
 */
void cobs_state_history_want(cobs_state *s, const cobs_state_family *f,
                             const cobs_state_series *se);
/* The same with a visitor (no copy). */
int64_t cobs_state_history_each(cobs_state *s, const char *key, size_t keylen, int64_t from,
                                int64_t to, cobs_hist_visit fn, void *ctx);

void cobs_state_history_stats(const cobs_state *s, cobs_hist_store_stats *st);

/* The store's eviction class for a family name (see above). */
unsigned cobs_state_history_class(const char *family);

#endif
