/* SPDX-License-Identifier: MIT */
/* One series' history: sealed blocks plus an open one (policies in ring.h). */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_RETENTION_MS (3600 * 1000)
#define DEFAULT_BLOCK_POINTS 2048
/* A block also closes at 2 MiB of stream, far below the codec's uint32 bit count. */
#define BLOCK_BITS_MAX (1u << 24)

int cobs_hist_config_defaults(cobs_hist_config *c)
{
	if (c->retention_ms < 0 || c->resolution_ms < 0 || c->block_span_ms < 0)
		return COBS_HIST_EINVAL;
	if (!c->retention_ms)
		c->retention_ms = DEFAULT_RETENTION_MS;
	if (!c->block_span_ms)
		c->block_span_ms = c->retention_ms / 4 ? c->retention_ms / 4 : 1;
	if (!c->block_points)
		c->block_points = DEFAULT_BLOCK_POINTS;
	return COBS_HIST_OK;
}

static int64_t u2i(uint64_t u)
{
	return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;
}

static int64_t first_t(const uint64_t *words)
{
	return u2i(words[0]);
}

/* floor(t / r) for r > 0, also for negative t. */
static int64_t slot(int64_t t, int64_t r)
{
	int64_t q = t / r;
	return (t % r < 0) ? q - 1 : q;
}

void cobs_hist_ring_init(cobs_hist_ring *r, const cobs_hist_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	cobs_hist_enc_init(&r->open);
}

void cobs_hist_ring_clear(cobs_hist_ring *r)
{
	for (uint32_t i = 0; i < r->nblocks; i++)
		free(r->blocks[i].words);
	r->nblocks = 0;
	r->sealed_words = 0;
	r->sealed_bits = 0;
	cobs_hist_enc_free(&r->open);
	r->points = 0;
}

void cobs_hist_ring_free(cobs_hist_ring *r)
{
	cobs_hist_ring_clear(r);
	free(r->blocks);
	r->blocks = NULL;
	r->cap = 0;
}

static size_t words_of(uint32_t nbits)
{
	return ((size_t)nbits + 63) / 64;
}

/* Moves the open block to the sealed list. Nothing changes on failure. */
static int seal(cobs_hist_ring *r)
{
	if (r->nblocks == r->cap) {
		/*
		 * One more slot at a time: seals are rare (one per block span) and
		 * retention keeps the count steady, so exact sizing wastes nothing.
		 */
		cobs_hist_block *b = realloc(r->blocks, (r->cap + 1) * sizeof(*b));
		if (!b)
			return COBS_HIST_ENOMEM;
		r->blocks = b;
		r->cap++;
	}
	cobs_hist_block blk = {.t_last = r->t_last, .nbits = r->open.nbits, .n = r->open.n};
	if (cobs_hist_enc_finish(&r->open, &blk.words) != COBS_HIST_OK)
		return COBS_HIST_ENOMEM;
	if (!r->nblocks)
		r->oldest = blk.t_last;
	r->blocks[r->nblocks++] = blk;
	r->sealed_words += words_of(blk.nbits);
	r->sealed_bits += blk.nbits;
	return COBS_HIST_OK;
}

/* Drops the oldest k sealed blocks. */
static uint64_t drop_front(cobs_hist_ring *r, uint32_t k)
{
	uint64_t dropped = 0;
	for (uint32_t i = 0; i < k; i++) {
		dropped += r->blocks[i].n;
		r->sealed_words -= words_of(r->blocks[i].nbits);
		r->sealed_bits -= r->blocks[i].nbits;
		free(r->blocks[i].words);
	}
	memmove(r->blocks, r->blocks + k, (r->nblocks - k) * sizeof(*r->blocks));
	r->nblocks -= k;
	if (r->nblocks)
		r->oldest = r->blocks[0].t_last;
	r->points -= dropped;
	return dropped;
}

uint64_t cobs_hist_ring_trim(cobs_hist_ring *r, int64_t now)
{
	int64_t ret = r->cfg->retention_ms;
	if (now < INT64_MIN + ret)
		return 0; /* nothing can be older than the start of time */
	int64_t cutoff = now - ret;
	if (r->nblocks && r->oldest >= cutoff)
		return 0; /* the common case, decided without touching the blocks */
	uint32_t k = 0;
	while (k < r->nblocks && r->blocks[k].t_last < cutoff)
		k++;
	uint64_t dropped = k ? drop_front(r, k) : 0;
	if (k == r->nblocks && r->open.n && r->t_last < cutoff) {
		dropped += r->open.n;
		r->points -= r->open.n;
		cobs_hist_enc_free(&r->open);
	}
	return dropped;
}

int cobs_hist_ring_append(cobs_hist_ring *r, int64_t t, double v)
{
	const cobs_hist_config *c = r->cfg;
	if (r->points) {
		if (t <= r->t_last)
			return COBS_HIST_EORDER;
		if (c->resolution_ms > 0 &&
		    slot(t, c->resolution_ms) == slot(r->t_last, c->resolution_ms))
			return COBS_HIST_SKIPPED;
	}
	if (r->open.n) {
		/* t > first here, so the unsigned difference is the true span. */
		uint64_t span = (uint64_t)t - (uint64_t)r->t_open;
		if ((span >= (uint64_t)c->block_span_ms || r->open.n >= c->block_points ||
		     r->open.nbits >= BLOCK_BITS_MAX) &&
		    seal(r) != COBS_HIST_OK)
			return COBS_HIST_ENOMEM;
	}
	if (cobs_hist_enc_append(&r->open, t, v) != COBS_HIST_OK)
		return COBS_HIST_ENOMEM;
	if (r->open.n == 1)
		r->t_open = t;
	r->t_last = t;
	r->points++;
	cobs_hist_ring_trim(r, t);
	return COBS_HIST_OK;
}

/* Walks one stream; returns points visited, or ECORRUPT; *stop when fn or the range ended it. */
static int64_t walk(const uint64_t *words, uint32_t nbits, uint32_t n, int64_t from, int64_t to,
                    cobs_hist_visit fn, void *ctx, int *stop)
{
	cobs_hist_dec d;
	int64_t t, seen = 0;
	double v;
	int rc;
	cobs_hist_dec_init(&d, words, nbits, n);
	while ((rc = cobs_hist_dec_next(&d, &t, &v)) == 1) {
		if (t < from)
			continue;
		if (t > to) {
			*stop = 1;
			break;
		}
		seen++;
		if (fn(ctx, t, v)) {
			*stop = 1;
			break;
		}
	}
	return rc < 0 ? rc : seen;
}

int64_t cobs_hist_ring_each(const cobs_hist_ring *r, int64_t from, int64_t to, cobs_hist_visit fn,
                            void *ctx)
{
	int64_t total = 0, got;
	int stop = 0;
	if (from > to)
		return 0;
	for (uint32_t i = 0; i < r->nblocks && !stop; i++) {
		const cobs_hist_block *b = &r->blocks[i];
		if (b->t_last < from)
			continue;
		if (first_t(b->words) > to)
			return total;
		if ((got = walk(b->words, b->nbits, b->n, from, to, fn, ctx, &stop)) < 0)
			return got;
		total += got;
	}
	if (!stop && r->open.n && r->t_last >= from) {
		if ((got = walk(r->open.words, r->open.nbits, r->open.n, from, to, fn, ctx,
		                &stop)) < 0)
			return got;
		total += got;
	}
	return total;
}

typedef struct copy_ctx {
	cobs_hist_point *out;
	size_t cap, n;
} copy_ctx;

static int copy_point(void *ctx, int64_t t, double v)
{
	copy_ctx *c = ctx;
	if (c->n < c->cap)
		c->out[c->n] = (cobs_hist_point){.t = t, .v = v};
	c->n++;
	return 0;
}

int64_t cobs_hist_ring_query(const cobs_hist_ring *r, int64_t from, int64_t to,
                             cobs_hist_point *out, size_t cap)
{
	copy_ctx c = {.out = out, .cap = cap};
	return cobs_hist_ring_each(r, from, to, copy_point, &c);
}

size_t cobs_hist_ring_bytes(const cobs_hist_ring *r)
{
	return sizeof(*r) + (size_t)r->cap * sizeof(*r->blocks) +
	       r->sealed_words * sizeof(uint64_t) + cobs_hist_enc_bytes(&r->open);
}

void cobs_hist_ring_stats_get(const cobs_hist_ring *r, cobs_hist_ring_stats *st)
{
	st->points = r->points;
	st->stream_bits = r->sealed_bits + r->open.nbits;
	st->blocks = r->nblocks + (r->open.n ? 1 : 0);
	st->bytes = cobs_hist_ring_bytes(r);
}
