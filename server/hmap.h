/* SPDX-License-Identifier: MIT */
/*
 * A small open-addressing hash index for the server's tables (nodes by
 * name, families by name, label sets, series, commands by id). It stores a
 * 64-bit hash and one caller-defined nonzero value per slot (a pointer, or an
 * array index plus one); equality is the caller's, so one index serves every
 * key type without copying keys.
 * Keys are hashed with hash.h's seeded hashes. Not thread-safe: each table
 * belongs to one thread.
 */
#ifndef COBS_SERVER_HMAP_H
#define COBS_SERVER_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

typedef struct cobs_hmap_slot {
	uint64_t hash;
	uintptr_t val; /* 0: empty */
} cobs_hmap_slot;

typedef struct cobs_hmap {
	cobs_hmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t n;
} cobs_hmap;

/* Whether the value val holds key (ctx: whatever the caller needs to tell). */
typedef int (*cobs_hmap_eq)(uintptr_t val, const void *key, const void *ctx);

/* The value for key with this hash, or 0. */
uintptr_t cobs_hmap_get(const cobs_hmap *m, uint64_t hash, cobs_hmap_eq eq, const void *key,
                        const void *ctx);
/* Adds val (nonzero; the caller made sure the key is absent). 0, or -1 when out of memory. */
int cobs_hmap_put(cobs_hmap *m, uint64_t hash, uintptr_t val);
/* Removes the slot holding exactly val. 0, or -1 when absent. */
int cobs_hmap_del(cobs_hmap *m, uint64_t hash, uintptr_t val);
/* Empties the index and keeps its memory. */
void cobs_hmap_clear(cobs_hmap *m);
void cobs_hmap_free(cobs_hmap *m);

#endif
