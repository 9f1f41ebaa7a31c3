/*
 * The table of other nodes' identities (see peers.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h ^ (h >> 29);
}

/* The slot holding node, or the empty slot where it would go. */
static size_t slot_of(const h2_peers *p, const char *node)
{
	size_t mask = p->nslots - 1;
	for (size_t i = hash_name(node) & mask;; i = (i + 1) & mask) {
		uint32_t s = p->slots[i];
		if (!s || strcmp(p->items[s - 1]->meta.node, node) == 0)
			return i;
	}
}

h2_peer *h2_peers_find(const h2_peers *p, const char *node)
{
	if (!p->nslots)
		return NULL;
	uint32_t s = p->slots[slot_of(p, node)];
	return s ? p->items[s - 1] : NULL;
}

static int grow(h2_peers *p)
{
	size_t cap = p->cap ? p->cap * 2 : 64;
	uint32_t *slots = calloc(cap * 2, sizeof(*slots));
	h2_peer **items = slots ? realloc(p->items, cap * sizeof(*items)) : NULL;
	if (!items) {
		free(slots);
		return -1;
	}
	free(p->slots);
	p->items = items;
	p->cap = cap;
	p->slots = slots;
	p->nslots = cap * 2;
	for (size_t i = 0; i < p->n; i++)
		p->slots[slot_of(p, p->items[i]->meta.node)] = (uint32_t)(i + 1);
	return 0;
}

h2_peer *h2_peers_add(h2_peers *p, const char *node)
{
	if (p->n >= H2_MAX_PEERS || (p->n == p->cap && grow(p) < 0))
		return NULL;
	h2_peer *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->meta.node, sizeof(e->meta.node), "%s", node);
	p->items[p->n++] = e;
	p->slots[slot_of(p, node)] = (uint32_t)p->n;
	return e;
}

void h2_peers_free(h2_peers *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i]);
	free(p->items);
	free(p->slots);
	memset(p, 0, sizeof(*p));
}
