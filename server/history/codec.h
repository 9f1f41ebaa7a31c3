/* SPDX-License-Identifier: MIT */
/*
 * The history codec: one series of (timestamp_ms, value) points compressed
 * into a bit stream, after Gorilla (Pelkonen et al., VLDB 2015), with changes
 * that pay off on an agent's series (measured in bench/history_bench.c):
 *
 *  - timestamps: the paper codes delta-of-delta, i.e. predicts "same delta
 *    as last time". An agent's timer is drift-free with 0..3 ms of jitter,
 *    so consecutive deltas are 5000+j(i)-j(i-1) and their difference has
 *    three times the variance of the delta's own wobble around 5000. We
 *    predict the delta by the median of the last three deltas instead (as
 *    regular as delta-of-delta on a perfect clock, robust to one late tick or
 *    a missed interval), and the buckets are sized for ms and ~5 s: an exact
 *    prediction costs 1 bit, +-2 ms 4 bits, +-8 ms 7 bits.
 *  - values: per point the encoder takes the cheapest of "same bits as
 *    before" (1 bit), Gorilla's XOR with leading/trailing-zero window reuse,
 *    and an integer path: when the value is exactly m / 10^k for a small
 *    decimal scale k (counters, bytes, /proc's hundredths of seconds, load
 *    averages) the residual of m against a prediction is coded in buckets,
 *    divided by the largest power of two every delta so far shared (memory
 *    in pages: 2^12). The prediction is the last m plus the median of the
 *    last three deltas, like the timestamps'. 12345.67 cpu-seconds growing
 *    ~5 s per point XOR into ~40 bits; on the integer path ~10.
 *  - the decimal scale is never written: encoder and decoder derive it from
 *    the values they have both seen, so it costs nothing.
 *  - bucket payloads never spend a code on 0 (it has its own): b bits hold
 *    -2^(b-1) .. -1 and 1 .. 2^(b-1).
 *
 * Every int64 timestamp sequence (backwards, equal, gaps up to the whole
 * int64 range) and every double bit pattern (NaN payloads, -0.0, infinities,
 * denormals) round-trips bit-exactly: the integer path is only taken after
 * the encoder checked that the decoder's m / 10^k gives the same bits, and
 * timestamps wrap modulo 2^64 on both sides. Ordering policy belongs to the
 * caller (the ring refuses non-increasing timestamps; the codec does not).
 *
 * Stream layout (MSB first in 64-bit words): point 0 is 64 bits of timestamp
 * then 64 bits of value, so words[0] is the block's first timestamp. Each
 * later point is a timestamp code then a value code:
 *   timestamp residual: '0' | '10' n2 | '110' n4 | '1110' n8 | '11110' n14 |
 *                       '111110' n32 | '111111' raw64
 *   value: '0'    same bits as the last value
 *          '10'   integer residual >> unit, in the integer buckets
 *          '110'  XOR inside the previous window: its meaningful bits
 *          '1110' XOR with a new window: 5 bits leading zeros, 6 bits
 *                 length-1, the meaningful bits
 *          '1111' integer residual with its own unit: 6 bits unit, then the
 *                 residual >> unit in the integer buckets
 *   integer residual: '0' | '10' n4 | '110' n8 | '1110' n14 | '11110' n24 |
 *                     '111110' n40 | '111111' raw64
 *   (nB: B bits holding a nonzero value, see above)
 * A stream is decodable from its start only; the point count (kept by the
 * caller) says where it ends.
 *
 * Appending is O(1) amortized: the buffer grows by an eighth when full.
 */
#ifndef COBS_HISTORY_CODEC_H
#define COBS_HISTORY_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Return codes shared by the codec, the ring and the store. */
enum {
	COBS_HIST_OK = 0,
	COBS_HIST_SKIPPED = 1,   /* ring: same resolution slot as the last point; not stored */
	COBS_HIST_ENOMEM = -1,   /* an allocation failed; nothing was changed */
	COBS_HIST_EORDER = -2,   /* ring: timestamp not after the series' last one; refused */
	COBS_HIST_ENOENT = -3,   /* store: unknown, removed or evicted series id */
	COBS_HIST_ECORRUPT = -4, /* decoder: the stream is truncated or malformed */
	COBS_HIST_EINVAL = -5,   /* a bad argument (NULL key, ...) */
};
/* A static description of a COBS_HIST_* code. */
const char *cobs_hist_strerror(int rc);

typedef struct cobs_hist_point {
	int64_t t; /* ms since the epoch (any int64 as far as the codec cares) */
	double v;
} cobs_hist_point;

/* What encoder and decoder both know after each point: the prediction state. */
typedef struct cobs_hist_state {
	uint64_t t;         /* last timestamp, as unsigned so deltas wrap instead of overflowing */
	uint64_t dt[3];     /* last three timestamp deltas (mod 2^64), newest first */
	uint64_t v;         /* last value's bits */
	int64_t m;          /* last value as m / 10^k, when ivalid */
	int64_t dm[3];      /* last three deltas of m, newest first (ndm of them real) */
	uint8_t lead, mlen; /* XOR window: leading zeros and meaningful bits (0: none yet) */
	int8_t k;           /* decimal scale; -1 until a value had one */
	uint8_t ivalid;     /* m holds the last value */
	uint8_t unit;       /* every delta of m is a multiple of 2^unit (64: none nonzero yet) */
	uint8_t ndt, ndm;   /* whether a delta was seen yet (timestamps, m) */
} cobs_hist_state;

/* An encoder owns one growing stream. Zero-initialized (or _init) is empty. */
typedef struct cobs_hist_enc {
	uint64_t *words;
	uint64_t acc;   /* the last, partial word (also in words: see put()) */
	uint32_t cap;   /* words allocated */
	uint32_t nbits; /* bits written */
	uint32_t n;     /* points written */
	cobs_hist_state st;
} cobs_hist_enc;

void cobs_hist_enc_init(cobs_hist_enc *e);
/* Appends one point. COBS_HIST_OK, or COBS_HIST_ENOMEM with the stream unchanged. */
int cobs_hist_enc_append(cobs_hist_enc *e, int64_t t, double v);
/*
 * Hands the stream over in *words, shrunk to exactly (nbits + 63) / 64 words
 * (NULL when empty; free() it), and empties the encoder. COBS_HIST_OK, or
 * COBS_HIST_ENOMEM with the encoder unchanged.
 */
int cobs_hist_enc_finish(cobs_hist_enc *e, uint64_t **words);
void cobs_hist_enc_free(cobs_hist_enc *e);
/* Bytes of the stream's buffer (allocated, not just used). */
size_t cobs_hist_enc_bytes(const cobs_hist_enc *e);

typedef struct cobs_hist_dec {
	const uint64_t *words;
	uint32_t nbits, pos; /* stream length and read position, in bits */
	uint32_t n, i;       /* points in the stream, points read */
	int bad;             /* a read went past the end */
	cobs_hist_state st;
} cobs_hist_dec;

/* Reads a stream of n points and nbits bits (words stay the caller's). */
void cobs_hist_dec_init(cobs_hist_dec *d, const uint64_t *words, uint32_t nbits, uint32_t n);
/* The next point: 1 with *t and *v set, 0 at the end, COBS_HIST_ECORRUPT. */
int cobs_hist_dec_next(cobs_hist_dec *d, int64_t *t, double *v);

#endif
