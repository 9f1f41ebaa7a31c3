/* SPDX-License-Identifier: MIT */
/*
 * The server's history: every series' ring (ring.h), found by a string key
 * or, on the hot path, by the id the store hands out, under one memory budget.
 *
 * Ids: cobs_hist_store_open returns an id the ingest path can cache (per
 * connection, per interned label set) so that an append costs no hashing.
 * An id goes stale when its series is removed, expired or evicted; every
 * call taking an id then says COBS_HIST_ENOENT and the caller opens the key
 * again (getting a fresh, empty series). A stale id is never reused for
 * another series (a generation count is part of it).
 *
 * Budget and eviction: after an append (or a new budget) that leaves the
 * store over its budget, whole series are evicted until it is 1/16 under
 * it: first from the highest class, and within a class the least recently
 * viewed first (a query, or cobs_hist_store_touch, is a view; series never
 * viewed go before any viewed one, oldest first). Class 0 is never evicted:
 * with only class-0 series left the store stays over budget and says so in
 * its stats. Suggested classes: 0 node series, 1 pods and containers, 2
 * processes. The series just appended to can be the one evicted: the append
 * still returns OK.
 *
 * Evicting to below the budget, and cobs_hist_store_has_room saying yes only
 * further below (1/8), is hysteresis: a caller that opens series only while
 * there is room does not evict one series per append for another it opened
 * a moment ago (at 1000 nodes that churn cost more than the ingest itself).
 *
 * Memory accounting counts what the store allocated, as requested from
 * malloc (the allocator's own per-chunk overhead is not included): every
 * series struct with its key, ring, block array and streams, the id and hash
 * tables and the store itself.
 *
 * Single-threaded: the server calls it from one thread (no locks inside).
 */
#ifndef COBS_HISTORY_STORE_H
#define COBS_HISTORY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

typedef struct cobs_hist_store cobs_hist_store;
typedef uint64_t cobs_hist_id; /* 0 is never an id */

#define COBS_HIST_CLASSES 4 /* classes 0 (never evicted) .. 3 (evicted first) */

typedef struct cobs_hist_store_stats {
	size_t bytes;                  /* everything allocated (see above) */
	size_t budget;                 /* 0: none */
	uint64_t series;               /* live series */
	uint64_t points;               /* points stored */
	uint64_t stream_bits;          /* compressed payload of those points */
	uint64_t evicted;              /* series evicted for the budget, ever */
	uint64_t expired;              /* series removed by cobs_hist_store_expire, ever */
	double bytes_per_point;        /* bytes / points (0 when empty) */
	double stream_bytes_per_point; /* stream_bits / 8 / points */
} cobs_hist_store_stats;

/*
 * A store with cfg (copied; zero fields get their defaults) and a budget in
 * bytes (0: unlimited). NULL when out of memory or cfg has a negative field.
 */
cobs_hist_store *cobs_hist_store_new(const cobs_hist_config *cfg, size_t budget);
void cobs_hist_store_free(cobs_hist_store *s);
/* A new budget, enforced at once (e.g. on a configuration reload). */
void cobs_hist_store_set_budget(cobs_hist_store *s, size_t budget);
/* Whether the store has no budget, or is at least 1/8 under it (see above). */
int cobs_hist_store_has_room(const cobs_hist_store *s);

/*
 * The series of key (keylen bytes, any bytes): found (returns 0) or created
 * with class cls (returns 1; cls of an existing series is left as it is).
 * *id is set in both cases. COBS_HIST_EINVAL (cls >= COBS_HIST_CLASSES, key
 * NULL or longer than 64 KiB), COBS_HIST_ENOMEM.
 */
int cobs_hist_store_open(cobs_hist_store *s, const char *key, size_t keylen, unsigned cls,
                         cobs_hist_id *id);
/* The series of key: COBS_HIST_OK with *id, or COBS_HIST_ENOENT. */
int cobs_hist_store_find(const cobs_hist_store *s, const char *key, size_t keylen,
                         cobs_hist_id *id);
/* The key of a series (not NUL-terminated when it holds NULs; *len its length), or NULL. */
const char *cobs_hist_store_key(const cobs_hist_store *s, cobs_hist_id id, size_t *len);

/* cobs_hist_ring_append on the series, then the budget. Also COBS_HIST_ENOENT. */
int cobs_hist_store_append(cobs_hist_store *s, cobs_hist_id id, int64_t t, double v);

/* cobs_hist_ring_each / _query on the series, which counts as a view. Also COBS_HIST_ENOENT. */
int64_t cobs_hist_store_each(cobs_hist_store *s, cobs_hist_id id, int64_t from, int64_t to,
                             cobs_hist_visit fn, void *ctx);
int64_t cobs_hist_store_query(cobs_hist_store *s, cobs_hist_id id, int64_t from, int64_t to,
                              cobs_hist_point *out, size_t cap);
/* A view without a query (a page showing the series). COBS_HIST_OK or COBS_HIST_ENOENT. */
int cobs_hist_store_touch(cobs_hist_store *s, cobs_hist_id id);

/* Drops a series' points, keeping the series (after a big agent clock jump back). */
int cobs_hist_store_clear(cobs_hist_store *s, cobs_hist_id id);
/* Removes a series; its id goes stale. COBS_HIST_OK or COBS_HIST_ENOENT. */
int cobs_hist_store_remove(cobs_hist_store *s, cobs_hist_id id);
/*
 * Applies retention relative to now (ms) to every series and removes the
 * series left empty (processes that exited). O(series): call it every few
 * seconds, not per append. Returns the number of series removed.
 */
uint64_t cobs_hist_store_expire(cobs_hist_store *s, int64_t now);
/*
 * The same for at most `slots` series slots, going on from where the last
 * call stopped and wrapping around: a server with millions of series
 * spreads the work over its ticks instead of stalling once for all of it.
 */
uint64_t cobs_hist_store_expire_some(cobs_hist_store *s, int64_t now, uint32_t slots);

/* One series' figures; bytes include its share of the store (struct, key). */
int cobs_hist_store_series_stats(const cobs_hist_store *s, cobs_hist_id id,
                                 cobs_hist_ring_stats *st);
void cobs_hist_store_stats_get(const cobs_hist_store *s, cobs_hist_store_stats *st);

/*
 * A canonical key for (node, family, label set): every part length-prefixed
 * ("4:node3:cpu...", so no byte in a value can make two sets collide), the
 * labels sorted by name so their order does not matter. labels: name, value,
 * name, value, ..., NULL. Like snprintf: writes at most cap bytes including
 * a NUL and returns the length the whole key needs (without the NUL).
 */
size_t cobs_hist_key(char *buf, size_t cap, const char *node, const char *family,
                     const char *const *labels);

#endif
