/* SPDX-License-Identifier: MIT */
/*
 * The node registry: admission by (boot id, sequence) and liveness.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

void cobs_registry_init(cobs_registry *r, uint64_t stale_after, uint64_t down_after,
                        uint64_t default_interval_ms)
{
	*r = (cobs_registry){.stale_after = stale_after ? stale_after : 2,
	                     .down_after = down_after ? down_after : 5,
	                     .default_interval_ms =
	                             default_interval_ms ? default_interval_ms : 10000};
}

void cobs_registry_free(cobs_registry *r, void (*free_values)(void *values))
{
	for (size_t i = 0; i < r->n; i++) {
		if (free_values && r->nodes[i]->values)
			free_values(r->nodes[i]->values);
		free(r->nodes[i]);
	}
	free(r->nodes);
	cobs_hmap_free(&r->by_name);
	*r = (cobs_registry){0};
}

static int name_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	return strcmp(((const cobs_node *)val)->name, key) == 0;
}

cobs_node *cobs_registry_find(const cobs_registry *r, const char *name)
{
	return (cobs_node *)cobs_hmap_get(&r->by_name, cobs_hash_str(name, 0), name_eq, name, NULL);
}

static cobs_node *add_node(cobs_registry *r, const char *name, uint64_t now_ms)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		cobs_node **v = realloc(r->nodes, cap * sizeof(*v));
		if (!v)
			return NULL;
		r->nodes = v;
		r->cap = cap;
	}
	cobs_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->first_seen_ms = now_ms;
	if (cobs_hmap_put(&r->by_name, cobs_hash_str(n->name, 0), (uintptr_t)n) < 0) {
		free(n);
		return NULL;
	}
	r->nodes[r->n++] = n;
	return n;
}

/* Keeps b as the newest past boot, forgetting the oldest beyond the bound. */
static void push_past(cobs_node *n, const cobs_boot *b)
{
	size_t keep = n->npast < COBS_REGISTRY_PAST_BOOTS ? n->npast : COBS_REGISTRY_PAST_BOOTS - 1;
	memmove(&n->past[1], &n->past[0], keep * sizeof(n->past[0]));
	n->past[0] = *b;
	n->npast = keep + 1;
}

/* Whether seq continues boot b: a duplicate otherwise. Updates b. */
static int advance(cobs_boot *b, uint64_t seq, int64_t batch_ms, uint64_t *missed)
{
	if (seq == 0) { /* unnumbered: nothing to deduplicate by */
		if (batch_ms > b->last_batch_ms)
			b->last_batch_ms = batch_ms;
		return 1;
	}
	if (seq <= b->last_sequence)
		return 0;
	if (missed && b->last_sequence && seq > b->last_sequence + 1)
		*missed += seq - b->last_sequence - 1;
	b->last_sequence = seq;
	if (batch_ms > b->last_batch_ms)
		b->last_batch_ms = batch_ms;
	return 1;
}

/* Any valid batch, even a resend or an old spool, shows the agent is alive. */
static void alive(cobs_node *n, uint64_t now_ms, int64_t now_wall_ms)
{
	n->last_seen_ms = now_ms;
	n->last_seen_wall_ms = now_wall_ms;
}

/* The current agent's batch: its identity and interval are the node's now. */
static void seen(cobs_node *n, const cobs_wire_meta *m, uint64_t now_ms, int64_t now_wall_ms)
{
	alive(n, now_ms, now_wall_ms);
	snprintf(n->agent_version, sizeof(n->agent_version), "%s", m->agent_version);
	if (m->interval_ms)
		n->interval_ms = m->interval_ms;
	n->dropped = m->dropped;
	n->batches++;
}

int cobs_registry_admit(cobs_registry *r, const cobs_wire_meta *m, int64_t batch_ms,
                        uint64_t now_ms, int64_t now_wall_ms, cobs_node **out)
{
	cobs_node *n = cobs_registry_find(r, m->node);
	if (!n) {
		if (!(n = add_node(r, m->node, now_ms)))
			return -1;
		snprintf(n->boot.boot_id, sizeof(n->boot.boot_id), "%s", m->boot_id);
		n->boot.last_sequence = m->sequence;
		n->boot.last_batch_ms = batch_ms;
		seen(n, m, now_ms, now_wall_ms);
		*out = n;
		return COBS_ADMIT_CURRENT;
	}
	*out = n;
	alive(n, now_ms, now_wall_ms);
	if (strcmp(n->boot.boot_id, m->boot_id) == 0) {
		if (!advance(&n->boot, m->sequence, batch_ms, &n->missed)) {
			n->duplicates++;
			return COBS_ADMIT_DUPLICATE;
		}
		seen(n, m, now_ms, now_wall_ms);
		return COBS_ADMIT_CURRENT;
	}
	for (size_t i = 0; i < n->npast; i++) {
		if (strcmp(n->past[i].boot_id, m->boot_id) != 0)
			continue;
		if (!advance(&n->past[i], m->sequence, batch_ms, NULL)) {
			n->duplicates++;
			return COBS_ADMIT_DUPLICATE;
		}
		n->batches++;
		return COBS_ADMIT_PAST;
	}
	cobs_boot b = {.last_sequence = m->sequence, .last_batch_ms = batch_ms};
	snprintf(b.boot_id, sizeof(b.boot_id), "%s", m->boot_id);
	if (batch_ms < n->boot.last_batch_ms) {
		/* An unknown boot with older data: an earlier agent process's
		 * spool arriving after its successor started. */
		push_past(n, &b);
		n->batches++;
		return COBS_ADMIT_PAST;
	}
	push_past(n, &n->boot);
	n->boot = b;
	n->restarts++;
	seen(n, m, now_ms, now_wall_ms);
	return COBS_ADMIT_RESTART;
}

uint64_t cobs_registry_interval(const cobs_registry *r, const cobs_node *n)
{
	return n->interval_ms ? n->interval_ms : r->default_interval_ms;
}

cobs_liveness cobs_registry_liveness(const cobs_registry *r, const cobs_node *n, uint64_t now_ms)
{
	uint64_t iv = cobs_registry_interval(r, n);
	uint64_t since = now_ms > n->last_seen_ms ? now_ms - n->last_seen_ms : 0;
	if (since > r->down_after * iv)
		return COBS_NODE_DOWN;
	if (since > r->stale_after * iv)
		return COBS_NODE_STALE;
	return COBS_NODE_UP;
}

const char *cobs_liveness_name(cobs_liveness l)
{
	switch (l) {
	case COBS_NODE_UP:
		return "up";
	case COBS_NODE_STALE:
		return "stale";
	case COBS_NODE_DOWN:
		return "down";
	}
	return "?";
}

int cobs_node_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > COBS_WIRE_MAX_NODE)
		return 0;
	for (const char *p = name; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '/')
			return 0;
	return 1;
}
