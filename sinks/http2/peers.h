/*
 * The identities of the other nodes whose batches this sink carries: the
 * fake nodes of `cobs-agent --simulate`, whose batches name their own node
 * (batch->node) rather than the agent's. Each gets what a real agent has on
 * the wire: its own boot id and its own sequence from 1, so the server's
 * duplicate and gap accounting works per fake node. A real agent's batches
 * all name its own node and never come here. The drop count they carry is
 * the sink's: their connection's spool is shared, so is what it dropped.
 *
 * A name-keyed open-addressing table; entries are never removed (a
 * simulator's node set is fixed for its run) and at most H2_MAX_PEERS exist.
 */
#ifndef COBS_HTTP2_PEERS_H
#define COBS_HTTP2_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/wire.h>

#define H2_MAX_PEERS 100000u

typedef struct h2_peer {
	cobs_wire_meta meta; /* node, agent version, boot id; the rest per body */
	uint64_t next_seq;   /* from 1 */
	uint64_t last_ns;    /* the previous batch's monotonic time, for the interval */
} h2_peer;

typedef struct h2_peers {
	h2_peer **items;
	size_t n, cap;
	uint32_t *slots; /* item index + 1, 0 empty; a power of two, at least twice n */
	size_t nslots;
} h2_peers;

/* The peer named node, or NULL. */
h2_peer *h2_peers_find(const h2_peers *p, const char *node);
/* A new zeroed peer with meta.node set (node must not be known yet), or NULL when out of
 * memory or at H2_MAX_PEERS. */
h2_peer *h2_peers_add(h2_peers *p, const char *node);
void h2_peers_free(h2_peers *p);

#endif
