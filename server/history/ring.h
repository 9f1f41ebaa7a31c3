/* SPDX-License-Identifier: MIT */
/*
 * The history of one series: compressed blocks (codec.h) in time order, the
 * last one open for appends, with retention, a resolution knob, range
 * queries and memory accounting.
 *
 * Policies, and why:
 *  - Timestamps must increase: a point at or before the series' last one is
 *    refused with COBS_HIST_EORDER (an agent clock stepping back), so blocks
 *    stay sorted and a query can stop at the first block past its range. The
 *    codec could store it; a chart could not make sense of it. A caller that
 *    prefers to start over after a big jump back calls cobs_hist_ring_clear.
 *  - Resolution r > 0 keeps at most one point per slot [i*r, (i+1)*r): the
 *    first point of a slot is kept and later ones in the same slot are
 *    skipped (COBS_HIST_SKIPPED). Keeping the first costs nothing, where
 *    replacing would mean rewriting the stream's tail; for charts the
 *    difference is a phase shift of less than r. 0 keeps every point.
 *  - Retention drops whole blocks: a sealed block goes when its last point
 *    is older than the newest point minus retention (checked on every
 *    append), or than `now` minus retention in cobs_hist_ring_trim (series
 *    that stopped receiving points). So up to retention + one block span is
 *    held; the default span is retention / 4, a balance between that
 *    overshoot and the per-block cost (a 24-byte header and a 128-bit first
 *    point, against ~1.5 bytes a point).
 *
 * Not thread-safe; the config must outlive the ring (a store shares one).
 */
#ifndef COBS_HISTORY_RING_H
#define COBS_HISTORY_RING_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

typedef struct cobs_hist_config {
	int64_t retention_ms;  /* history kept behind the newest point; default 1 h */
	int64_t resolution_ms; /* at most one point per slot of this many ms; 0: every point */
	int64_t block_span_ms; /* a block covers less than this; 0: retention / 4 */
	uint32_t block_points; /* and at most this many points; 0: 2048 */
} cobs_hist_config;

/*
 * Replaces zero fields with their defaults. COBS_HIST_OK, or COBS_HIST_EINVAL
 * for a negative field (the config is then untouched).
 */
int cobs_hist_config_defaults(cobs_hist_config *c);

/* A sealed block: its stream, exactly (nbits + 63) / 64 words long. */
typedef struct cobs_hist_block {
	uint64_t *words; /* words[0] is the first timestamp (two's complement) */
	int64_t t_last;
	uint32_t nbits, n;
} cobs_hist_block;

typedef struct cobs_hist_ring {
	const cobs_hist_config *cfg;
	cobs_hist_block *blocks; /* sealed blocks, oldest first */
	uint32_t nblocks, cap;
	cobs_hist_enc open; /* the block being appended to (open.n == 0: none) */
	int64_t t_open;     /* first point of the open block (its words[0], kept here so
	                       that an append does not touch that cache line) */
	int64_t t_last;     /* newest point, when points > 0 */
	int64_t oldest;     /* blocks[0].t_last, when nblocks > 0: retention checks it on
	                       every append without touching the block array */
	uint64_t points;    /* points stored, sealed and open */
	uint64_t sealed_bits;
	size_t sealed_words;
} cobs_hist_ring;

typedef struct cobs_hist_ring_stats {
	uint64_t points;
	uint64_t stream_bits; /* compressed payload only */
	uint32_t blocks;      /* sealed + open */
	size_t bytes;         /* cobs_hist_ring_bytes */
} cobs_hist_ring_stats;

/* cfg: normalized by cobs_hist_config_defaults. */
void cobs_hist_ring_init(cobs_hist_ring *r, const cobs_hist_config *cfg);
void cobs_hist_ring_free(cobs_hist_ring *r);
/* Drops every point; the ring then accepts any timestamp again. */
void cobs_hist_ring_clear(cobs_hist_ring *r);

/*
 * Stores a point: COBS_HIST_OK, COBS_HIST_SKIPPED (resolution), COBS_HIST_EORDER
 * (t not after the last point), COBS_HIST_ENOMEM (the point is not stored;
 * what was stored stays). Then applies retention relative to t.
 */
int cobs_hist_ring_append(cobs_hist_ring *r, int64_t t, double v);

/* Applies retention relative to now (ms), the open block included. Returns points dropped. */
uint64_t cobs_hist_ring_trim(cobs_hist_ring *r, int64_t now);

/* Called with each point in order; a nonzero return stops the walk. */
typedef int (*cobs_hist_visit)(void *ctx, int64_t t, double v);
/*
 * Visits the points with from <= t <= to, oldest first. Returns the number of
 * points visited (the stopping one included) or COBS_HIST_ECORRUPT.
 */
int64_t cobs_hist_ring_each(const cobs_hist_ring *r, int64_t from, int64_t to, cobs_hist_visit fn,
                            void *ctx);
/*
 * Copies the points with from <= t <= to, oldest first, into out[0..cap).
 * Returns how many points the range holds (like snprintf: more than cap means
 * only the oldest cap were written) or COBS_HIST_ECORRUPT.
 */
int64_t cobs_hist_ring_query(const cobs_hist_ring *r, int64_t from, int64_t to,
                             cobs_hist_point *out, size_t cap);

/* Memory: the ring struct, its block array and every stream buffer, as allocated. */
size_t cobs_hist_ring_bytes(const cobs_hist_ring *r);
void cobs_hist_ring_stats_get(const cobs_hist_ring *r, cobs_hist_ring_stats *st);

#endif
