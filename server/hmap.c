/* SPDX-License-Identifier: MIT */
/*
 * The hash index: linear probing at most half full, deletion by backward
 * shift (no tombstones, so a table that churns, like a family's series as
 * processes come and go, never degrades).
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

uintptr_t cobs_hmap_get(const cobs_hmap *m, uint64_t hash, cobs_hmap_eq eq, const void *key,
                        const void *ctx)
{
	if (!m->cap)
		return 0;
	size_t mask = m->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		const cobs_hmap_slot *sl = &m->slots[i];
		if (!sl->val)
			return 0;
		if (sl->hash == hash && eq(sl->val, key, ctx))
			return sl->val;
	}
}

static void place(cobs_hmap_slot *slots, size_t cap, uint64_t hash, uintptr_t val)
{
	size_t mask = cap - 1, i = hash & mask;
	while (slots[i].val)
		i = (i + 1) & mask;
	slots[i] = (cobs_hmap_slot){hash, val};
}

int cobs_hmap_put(cobs_hmap *m, uint64_t hash, uintptr_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		cobs_hmap_slot *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -1;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].val)
				place(slots, cap, m->slots[i].hash, m->slots[i].val);
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	place(m->slots, m->cap, hash, val);
	m->n++;
	return 0;
}

int cobs_hmap_del(cobs_hmap *m, uint64_t hash, uintptr_t val)
{
	if (!m->cap)
		return -1;
	size_t mask = m->cap - 1, i = hash & mask;
	while (m->slots[i].val != val) {
		if (!m->slots[i].val)
			return -1;
		i = (i + 1) & mask;
	}
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot does not lie (cyclically) between hole and them. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole] = (cobs_hmap_slot){0, 0};
	m->n--;
	return 0;
}

void cobs_hmap_clear(cobs_hmap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void cobs_hmap_free(cobs_hmap *m)
{
	free(m->slots);
	*m = (cobs_hmap){0};
}
