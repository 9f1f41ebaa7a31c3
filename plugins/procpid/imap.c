/*
 * Dense item array + open-addressing index (see imap.h). Removal happens
 * only in bulk (a sweep after each pass), so the index is simply rebuilt
 * then: no tombstones, and no deletion logic on the lookup path.
 */
#include <stdlib.h>
#include <string.h>

#include "imap.h"

static uint64_t hash_bytes(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h ^ (h >> 29);
}

void imap_init(imap *m, const void *(*key_of)(const void *item, size_t *len))
{
	*m = (imap){.key_of = key_of};
}

void imap_free(imap *m)
{
	free(m->items);
	free(m->slots);
	imap_init(m, m->key_of);
}

static size_t slot_of(const imap *m, const void *key, size_t len)
{
	size_t mask = m->nslots - 1;
	for (size_t i = hash_bytes(key, len) & mask;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];
		if (!s)
			return i;
		size_t il;
		const void *ik = m->key_of(m->items[s - 1], &il);
		if (il == len && memcmp(ik, key, len) == 0)
			return i;
	}
}

void *imap_find(const imap *m, const void *key, size_t len)
{
	if (!m->nslots)
		return NULL;
	uint32_t s = m->slots[slot_of(m, key, len)];
	return s ? m->items[s - 1] : NULL;
}

static void reindex(imap *m)
{
	memset(m->slots, 0, m->nslots * sizeof(*m->slots));
	for (size_t i = 0; i < m->n; i++) {
		size_t len;
		const void *k = m->key_of(m->items[i], &len);
		m->slots[slot_of(m, k, len)] = (uint32_t)(i + 1);
	}
}

int imap_add(imap *m, void *item)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		void **items = realloc(m->items, cap * sizeof(*items));
		if (!items)
			return -1;
		m->items = items;
		m->cap = cap;
	}
	if ((m->n + 1) * 2 > m->nslots) {
		size_t nslots = m->nslots ? m->nslots * 2 : 128;
		uint32_t *slots = calloc(nslots, sizeof(*slots));
		if (!slots)
			return -1;
		free(m->slots);
		m->slots = slots;
		m->nslots = nslots;
		reindex(m);
	}
	size_t len;
	const void *k = m->key_of(item, &len);
	m->items[m->n++] = item;
	m->slots[slot_of(m, k, len)] = (uint32_t)m->n;
	return 0;
}

size_t imap_sweep(imap *m, bool (*gone)(void *item, void *ctx), void *ctx)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n; i++)
		if (!gone(m->items[i], ctx))
			m->items[kept++] = m->items[i];
	size_t removed = m->n - kept;
	m->n = kept;
	if (removed)
		reindex(m);
	return removed;
}
