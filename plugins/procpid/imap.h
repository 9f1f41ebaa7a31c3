/*
 * A dense array of items with a hash index on a byte-string key each item
 * carries: O(1) lookup, iteration in insertion order, and a sweep that drops
 * many items at once and rebuilds the index. Serves both the PID table
 * (key: the pid) and the cgroup node table (key: the path).
 */
#ifndef PROCPID_IMAP_H
#define PROCPID_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct imap {
	void **items;
	size_t n, cap;
	uint32_t *slots; /* index into items + 1; 0 is empty */
	size_t nslots;   /* a power of two, at least twice n */
	/* The item's key: its bytes and length. */
	const void *(*key_of)(const void *item, size_t *len);
} imap;

void imap_init(imap *m, const void *(*key_of)(const void *item, size_t *len));
void imap_free(imap *m);
void *imap_find(const imap *m, const void *key, size_t len);
/* Adds an item whose key is not present. 0, or -1 when out of memory. */
int imap_add(imap *m, void *item);
/*
 * Calls gone(item, ctx) for every item, in order; those for which it returns
 * true are removed (gone may free them). Returns how many were removed.
 */
size_t imap_sweep(imap *m, bool (*gone)(void *item, void *ctx), void *ctx);

#endif
