/* SPDX-License-Identifier: MIT */
/*
 * The node registry: every node that ever sent a valid batch, who it is
 * (agent version, boot id), where its batch sequence stands, and whether it
 * is up, stale or down.
 *
 * Admission is what makes an agent's resends safe: within one boot id the
 * sequence only grows, so a batch at or below the last sequence seen is a
 * duplicate (the agent resent it after losing our 204): acknowledged, never
 * applied twice. A new boot id is an agent restart: the sequence starts
 * again and the node keeps its history. The last few boot ids are
 * remembered, so a spool of an earlier agent process replayed late is
 * deduplicated too and never overwrites newer values.
 *
 * Liveness is computed on demand against the server's monotonic clock: stale
 * once stale_after intervals passed without a batch, down after down_after.
 * Any valid batch counts as a sign of life, a duplicate or an old spool too:
 * the agent that sent it is running.
 *
 * Owned by the worker thread (inside the state), like everything it points to.
 */
#ifndef COBS_SERVER_REGISTRY_H
#define COBS_SERVER_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/wire.h>

#include "hmap.h"

#define COBS_REGISTRY_PAST_BOOTS 4

typedef enum cobs_liveness {
	COBS_NODE_UP = 0,
	COBS_NODE_STALE = 1,
	COBS_NODE_DOWN = 2,
} cobs_liveness;
#define COBS_LIVENESS_COUNT 3

typedef struct cobs_boot {
	char boot_id[64];
	uint64_t last_sequence;
	int64_t last_batch_ms; /* the agent's timestamp of its newest batch */
} cobs_boot;

/* One node. Read-only outside registry.c, except `values` (state.c's). */
typedef struct cobs_node {
	char name[256];
	char agent_version[32];
	cobs_boot boot;            /* the current agent process */
	uint64_t interval_ms;      /* from the newest batch; 0: the agent did not say */
	uint64_t first_seen_ms;    /* server monotonic clock */
	uint64_t last_seen_ms;     /* server monotonic clock, last valid batch */
	int64_t last_seen_wall_ms; /* server wall clock of the same */
	uint64_t batches;          /* admitted and applied */
	uint64_t duplicates;       /* acknowledged but not applied */
	uint64_t restarts;         /* boot id changes */
	uint64_t missed;           /* sequence gaps: batches the agent numbered but we never got */
	uint64_t dropped;          /* what the agent says it dropped (spool bound) */
	cobs_boot past[COBS_REGISTRY_PAST_BOOTS]; /* earlier agent processes, newest first */
	size_t npast;
	void *values; /* the state's per-node data */
} cobs_node;

typedef enum cobs_admit {
	COBS_ADMIT_CURRENT = 0,   /* the current agent's next batch (or a new node's first) */
	COBS_ADMIT_RESTART = 1,   /* a new boot id: now the current one */
	COBS_ADMIT_PAST = 2,      /* an earlier boot's batch not seen before: history only */
	COBS_ADMIT_DUPLICATE = 3, /* seen before: acknowledge, do not apply */
} cobs_admit;

typedef struct cobs_registry {
	cobs_node **nodes; /* in order of first appearance */
	size_t n, cap;
	cobs_hmap by_name;
	uint64_t stale_after, down_after; /* in intervals */
	uint64_t default_interval_ms;     /* for agents that send interval 0 */
} cobs_registry;

void cobs_registry_init(cobs_registry *r, uint64_t stale_after, uint64_t down_after,
                        uint64_t default_interval_ms);
/* Frees every node; free_values (may be NULL) gets each node's values first. */
void cobs_registry_free(cobs_registry *r, void (*free_values)(void *values));

cobs_node *cobs_registry_find(const cobs_registry *r, const char *name);

/*
 * Admits one decoded batch (meta; batch_ms its timestamp) at server time
 * now_ms (monotonic) / now_wall_ms: finds or creates the node, decides
 * (see cobs_admit) and updates the node's bookkeeping. Sequence 0 means the
 * agent does not number its batches: never a duplicate. Returns the verdict
 * with *out set, or -1 when out of memory (nothing changed).
 */
int cobs_registry_admit(cobs_registry *r, const cobs_wire_meta *meta, int64_t batch_ms,
                        uint64_t now_ms, int64_t now_wall_ms, cobs_node **out);

/* The interval a node's liveness is measured in: its own, or the default. */
uint64_t cobs_registry_interval(const cobs_registry *r, const cobs_node *n);
cobs_liveness cobs_registry_liveness(const cobs_registry *r, const cobs_node *n, uint64_t now_ms);
const char *cobs_liveness_name(cobs_liveness l);

/* Whether name is a node name the wire accepts (1-253 printable ASCII, no space or '/'). */
int cobs_node_name_ok(const char *name);

#endif
