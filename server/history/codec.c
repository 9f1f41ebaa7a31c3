/* SPDX-License-Identifier: MIT */
/*
 * The history codec (see codec.h for the stream layout and why it differs
 * from the Gorilla paper). Encoder and decoder share one state machine: the
 * decoder must make every choice the encoder made from the same inputs, so
 * the functions that move the state (track, the XOR window) are used by both.
 */
#include "codec.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * The integer path's exactness proof (m / 10^k computed by the decoder gives
 * the encoder's bits) assumes each double operation rounds once, to double.
 * x87 excess precision would break it.
 */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the history codec needs FLT_EVAL_METHOD == 0 (SSE2 or equivalent doubles)"
#endif

/* Decimal scales tried by the integer path: 10^0 .. 10^KMAX (nanoseconds as seconds). */
#define KMAX 9
static const double p10[KMAX + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const int64_t p10i[KMAX + 1] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
#define TWO53 9007199254740992.0
#define TWO50 1125899906842624.0
#define MAX_M ((int64_t)1 << 53)

/*
 * A prefix code: entry i is i one-bits then a zero, the last one just ones.
 * Payload: 0 bits means "the value 0"; 64 bits the raw two's complement;
 * otherwise b bits holding a nonzero value in -2^(b-1)..2^(b-1).
 */
typedef struct bucket {
	uint8_t code, codelen, bits;
} bucket;

/* Timestamp residual, ms: timer jitter first, then a late tick, then a missed interval. */
static const bucket ts_buckets[] = {
        {0x00, 1, 0},  {0x02, 2, 2},  {0x06, 3, 4},  {0x0e, 4, 8},
        {0x1e, 5, 14}, {0x3e, 6, 32}, {0x3f, 6, 64},
};
/* Integer residual: a jittery counter's hundredths first, byte counters last. */
static const bucket int_buckets[] = {
        {0x00, 1, 0},  {0x02, 2, 4},  {0x06, 3, 8},  {0x0e, 4, 14},
        {0x1e, 5, 24}, {0x3e, 6, 40}, {0x3f, 6, 64},
};
#define NBUCKETS(b) (sizeof(b) / sizeof((b)[0]))

/* Value codes: the number of leading one-bits of the code. */
enum { V_SAME, V_INT, V_XOR_REUSE, V_XOR_NEW, V_INT_UNIT };

const char *cobs_hist_strerror(int rc)
{
	switch (rc) {
	case COBS_HIST_OK:
		return "ok";
	case COBS_HIST_SKIPPED:
		return "skipped: same resolution slot as the last stored point";
	case COBS_HIST_ENOMEM:
		return "out of memory";
	case COBS_HIST_EORDER:
		return "timestamp not after the series' last point";
	case COBS_HIST_ENOENT:
		return "no such series (removed or evicted)";
	case COBS_HIST_ECORRUPT:
		return "corrupt history stream";
	case COBS_HIST_EINVAL:
		return "invalid argument";
	}
	return "unknown history error";
}

static uint64_t dbits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

/* Two's complement reinterpretation without the implementation-defined cast. */
static int64_t u2i(uint64_t u)
{
	return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;
}

static uint64_t mask(unsigned n)
{
	return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
}

static int fits(int64_t x, unsigned bits)
{
	if (bits == 0)
		return x == 0;
	if (bits >= 64)
		return 1;
	int64_t lim = (int64_t)1 << (bits - 1);
	return x != 0 && x >= -lim && x <= lim;
}

static const bucket *pick(const bucket *b, size_t nb, int64_t x)
{
	for (size_t i = 0; i + 1 < nb; i++)
		if (fits(x, b[i].bits))
			return &b[i];
	return &b[nb - 1];
}

static int64_t med3(int64_t a, int64_t b, int64_t c)
{
	if (a > b) {
		int64_t x = a;
		a = b;
		b = x;
	}
	if (b > c)
		b = c;
	return a > b ? a : b;
}

/* The predicted timestamp delta: the median of the last three (0 before the first). */
static uint64_t predict_dt(const cobs_hist_state *st)
{
	return (uint64_t)med3(u2i(st->dt[0]), u2i(st->dt[1]), u2i(st->dt[2]));
}

static void push_dt(cobs_hist_state *st, uint64_t d)
{
	if (!st->ndt) {
		/* The first delta is the best guess for the next ones too. */
		st->dt[0] = st->dt[1] = st->dt[2] = d;
		st->ndt = 1;
		return;
	}
	st->dt[2] = st->dt[1];
	st->dt[1] = st->dt[0];
	st->dt[0] = d;
}

static unsigned ctz64(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x); /* x != 0 at every call */
}

static unsigned clz64(uint64_t x)
{
	return (unsigned)__builtin_clzll(x); /* x != 0 at every call */
}

static int64_t med_dm(const cobs_hist_state *st)
{
	return med3(st->dm[0], st->dm[1], st->dm[2]);
}

/* A new delta of m: the history, and the unit all deltas share. */
static void push_dm(cobs_hist_state *st, int64_t d)
{
	if (!st->ndm) {
		st->dm[0] = st->dm[1] = st->dm[2] = d;
		st->ndm = 1;
	} else {
		st->dm[2] = st->dm[1];
		st->dm[1] = st->dm[0];
		st->dm[0] = d;
	}
	if (d) {
		unsigned z = ctz64((uint64_t)d);
		if (z < st->unit)
			st->unit = (uint8_t)z;
	}
}

/* The integer path starts over (no usable last m, or a new scale). */
static void restart_dm(cobs_hist_state *st)
{
	st->dm[0] = st->dm[1] = st->dm[2] = 0;
	st->ndm = 0;
	st->unit = 64;
}

/*
 * Whether v is exactly m / 10^k as the decoder will compute it. The product
 * only proposes m; the division, done as the decoder does it, decides.
 */
static int repr(double v, int k, int64_t *m)
{
	double s = v * p10[k];
	if (!(s >= -TWO53 && s <= TWO53)) /* also NaN and infinities */
		return 0;
	int64_t c = (int64_t)(s < 0 ? s - 0.5 : s + 0.5);
	if (dbits((double)c / p10[k]) != dbits(v))
		return 0;
	*m = c;
	return 1;
}

/*
 * The smallest scale >= kmin at which v is representable. One test decides
 * "none": at the largest scale keeping |v| * 10^k <= 2^50 the product is
 * within 1/4 of the integer whenever v = m'/10^k' for a smaller k' (two
 * roundings, each <= 2^-53 relative), so a failure there rules out every
 * smaller scale. Series that never qualify (ratios) pay one test per point.
 */
static int find_scale(double v, int kmin, int *k, int64_t *m)
{
	double a = fabs(v);
	if (kmin > KMAX || !(a <= TWO50))
		return 0;
	int top = KMAX;
	while (top > 0 && a * p10[top] > TWO50)
		top--;
	int64_t mt;
	if (top < kmin || !repr(v, top, &mt))
		return 0;
	for (int i = kmin; i < top; i++)
		if (repr(v, i, m)) {
			*k = i;
			return 1;
		}
	*k = top;
	*m = mt;
	return 1;
}

/*
 * Moves the integer path's state past value v. at_k: 1 when v is m at the
 * current scale, 0 when it is known not to be, -1 when not yet tested. The
 * scale only grows within a stream, so a coarser value (12345.6 after
 * 12345.67) stays on the integer path; a finer one re-expresses the last m
 * and starts the delta history over.
 */
static void track(cobs_hist_state *st, double v, int at_k, int64_t m)
{
	if (at_k < 0)
		at_k = st->k >= 0 && repr(v, st->k, &m);
	if (!at_k) {
		int nk;
		if (!find_scale(v, st->k + 1, &nk, &m)) {
			st->ivalid = 0;
			return;
		}
		if (st->ivalid) {
			int64_t f = p10i[nk - st->k];
			if (st->m > MAX_M / f || st->m < -(MAX_M / f))
				st->ivalid = 0;
			else
				st->m *= f;
		}
		st->k = (int8_t)nk;
		restart_dm(st);
	}
	if (st->ivalid)
		push_dm(st, m - st->m);
	else
		restart_dm(st);
	st->m = m;
	st->ivalid = 1;
}

/*
 * The predicted m: the last one plus the median of the last three deltas. A
 * steady counter is predicted as well as by delta-of-delta, and one burst
 * (a network counter) costs once instead of twice. Measured with
 * bench/history_bench.c: predicting "no change" instead costs counters 10 to
 * 30% more; choosing adaptively between the two (both sides tracking each
 * one's recent cost) gained under 0.5% once XOR competes for gauges, so the
 * state and code for it were not kept.
 */
static int64_t predict_m(const cobs_hist_state *st)
{
	return st->m + med_dm(st);
}

/* Timestamp and value state after the first point of a stream. */
static void start(cobs_hist_state *st, uint64_t t, uint64_t vb)
{
	memset(st, 0, sizeof(*st));
	st->t = t;
	st->v = vb;
	st->k = -1;
	restart_dm(st);
	track(st, bitsd(vb), -1, 0);
}

/* ---- encoder ---- */

void cobs_hist_enc_init(cobs_hist_enc *e)
{
	memset(e, 0, sizeof(*e));
}

void cobs_hist_enc_free(cobs_hist_enc *e)
{
	free(e->words);
	cobs_hist_enc_init(e);
}

size_t cobs_hist_enc_bytes(const cobs_hist_enc *e)
{
	return (size_t)e->cap * sizeof(uint64_t);
}

/* Room for nbits more bits, so that nothing can fail half-way through a point. */
static int reserve(cobs_hist_enc *e, unsigned nbits)
{
	uint64_t need = ((uint64_t)e->nbits + nbits + 63) / 64;
	if (need <= e->cap)
		return 0;
	if (need > UINT32_MAX / 128)
		return -1; /* nbits would overflow its uint32 */
	/*
	 * An eighth more (at least 16 bytes): the open stream of every series
	 * carries this slack, and a realloc every ~8 points of a small block is
	 * cheap next to encoding them.
	 */
	uint64_t cap = (uint64_t)e->cap + (e->cap / 8 > 2 ? e->cap / 8 : 2);
	if (cap < need)
		cap = need;
	uint64_t *w = realloc(e->words, (size_t)cap * sizeof(*w));
	if (!w)
		return -1;
	memset(w + e->cap, 0, (size_t)(cap - e->cap) * sizeof(*w));
	e->words = w;
	e->cap = (uint32_t)cap;
	return 0;
}

/*
 * n bits (1..64) of x, which has nothing above them. The partial last word
 * is built in e->acc and stored whole: a store to the stream's tail, unlike a
 * read-modify-write, does not wait for that cache line, which is cold when a
 * server appends to ten thousand series in turn (append time halved).
 */
static void put(cobs_hist_enc *e, uint64_t x, unsigned n)
{
	uint32_t w = e->nbits >> 6;
	unsigned room = 64 - (e->nbits & 63);
	if (n < room) {
		e->acc |= x << (room - n);
		e->words[w] = e->acc;
	} else {
		e->words[w] = e->acc | x >> (n - room);
		e->acc = 0;
		if (n > room) {
			e->acc = x << (64 - (n - room));
			e->words[w + 1] = e->acc;
		}
	}
	e->nbits += n;
}

static void put_bucketed(cobs_hist_enc *e, const bucket *p, uint64_t u)
{
	put(e, p->code, p->codelen);
	if (p->bits == 64) {
		put(e, u, 64);
	} else if (p->bits) {
		int64_t x = u2i(u);
		/* 1..2^(b-1) as 0..2^(b-1)-1: no code is spent on 0. */
		put(e, (uint64_t)(x > 0 ? x - 1 : x) & mask(p->bits), p->bits);
	}
}

static unsigned cost(const bucket *p)
{
	return (unsigned)p->codelen + p->bits;
}

int cobs_hist_enc_append(cobs_hist_enc *e, int64_t t, double v)
{
	cobs_hist_state *st = &e->st;
	uint64_t vb = dbits(v);
	if (e->n == 0) {
		if (reserve(e, 128) < 0)
			return COBS_HIST_ENOMEM;
		put(e, (uint64_t)t, 64);
		put(e, vb, 64);
		start(st, (uint64_t)t, vb);
		e->n = 1;
		return COBS_HIST_OK;
	}

	/* Choose every code first: the point is written only once room is sure. */
	uint64_t dt = (uint64_t)t - st->t, tres = dt - predict_dt(st);
	const bucket *tb = pick(ts_buckets, NBUCKETS(ts_buckets), u2i(tres));
	unsigned bits = cost(tb);

	int code = V_SAME, at_k = -1;
	int64_t m = 0;
	uint64_t ires = 0, x = 0;
	unsigned vbits = 1, unit = 0, lead = 0, mlen = 0;
	const bucket *ib = NULL;
	if (vb != st->v) {
		vbits = UINT32_MAX;
		if (st->ivalid) {
			at_k = repr(v, st->k, &m);
			if (at_k) {
				/* |m|, |last m| <= 2^53 and |median delta| <= 2^54: no overflow. */
				int64_t r = m - predict_m(st);
				unsigned u = st->unit < 64 ? st->unit : 0;
				if (r && ctz64((uint64_t)r) < u) {
					code = V_INT_UNIT;
					unit = ctz64((uint64_t)r);
				} else {
					code = V_INT;
					unit = u;
				}
				/* r is a multiple of 2^unit: the division is exact. */
				int64_t q = r / ((int64_t)1 << unit);
				ib = pick(int_buckets, NBUCKETS(int_buckets), q);
				ires = (uint64_t)q;
				vbits = (code == V_INT ? 2 : 4 + 6) + cost(ib);
			}
		}
		x = vb ^ st->v;
		lead = clz64(x);
		unsigned trail = ctz64(x);
		if (lead > 31)
			lead = 31; /* 5 bits */
		mlen = 64 - lead - trail;
		if (st->mlen && lead >= st->lead && trail >= 64u - st->lead - st->mlen &&
		    3u + st->mlen < vbits) {
			vbits = 3u + st->mlen;
			code = V_XOR_REUSE;
		}
		if (4u + 11u + mlen < vbits) {
			vbits = 4u + 11u + mlen;
			code = V_XOR_NEW;
		}
	}
	if (reserve(e, bits + vbits) < 0)
		return COBS_HIST_ENOMEM;

	put_bucketed(e, tb, tres);
	push_dt(st, dt);
	st->t = (uint64_t)t;
	switch (code) {
	case V_SAME:
		put(e, 0, 1);
		if (st->ivalid)
			push_dm(st, 0);
		e->n++;
		return COBS_HIST_OK;
	case V_INT:
		put(e, 0x2, 2);
		put_bucketed(e, ib, ires);
		break;
	case V_INT_UNIT:
		put(e, 0xf, 4);
		put(e, unit, 6);
		put_bucketed(e, ib, ires);
		break;
	case V_XOR_REUSE:
		put(e, 0x6, 3);
		put(e, x >> (64 - st->lead - st->mlen), st->mlen);
		break;
	default:
		put(e, 0xe, 4);
		put(e, lead, 5);
		put(e, mlen - 1, 6);
		put(e, x >> (64 - lead - mlen), mlen);
		st->lead = (uint8_t)lead;
		st->mlen = (uint8_t)mlen;
		break;
	}
	st->v = vb;
	track(st, v, at_k, m);
	e->n++;
	return COBS_HIST_OK;
}

int cobs_hist_enc_finish(cobs_hist_enc *e, uint64_t **words)
{
	*words = NULL;
	if (e->n == 0) {
		cobs_hist_enc_free(e);
		return COBS_HIST_OK;
	}
	size_t used = ((size_t)e->nbits + 63) / 64;
	uint64_t *w = e->words;
	if (used < e->cap) {
		w = realloc(e->words, used * sizeof(*w));
		if (!w)
			return COBS_HIST_ENOMEM;
	}
	*words = w;
	cobs_hist_enc_init(e);
	return COBS_HIST_OK;
}

/* ---- decoder ---- */

void cobs_hist_dec_init(cobs_hist_dec *d, const uint64_t *words, uint32_t nbits, uint32_t n)
{
	memset(d, 0, sizeof(*d));
	d->words = words;
	d->nbits = nbits;
	d->n = n;
	d->bad = 0;
}

/* n bits (1..64); past the end: 0 and the stream is marked bad. */
static uint64_t get(cobs_hist_dec *d, unsigned n)
{
	if (n > d->nbits - d->pos) {
		d->bad = 1;
		d->pos = d->nbits;
		return 0;
	}
	uint32_t w = d->pos >> 6;
	unsigned off = d->pos & 63;
	uint64_t x = d->words[w] << off;
	if (off + n > 64)
		x |= d->words[w + 1] >> (64 - off);
	d->pos += n;
	return x >> (64 - n);
}

/* A capped unary prefix: the number of one-bits before a zero, at most max (<= 8). */
static unsigned get_prefix(cobs_hist_dec *d, unsigned max)
{
	if (d->nbits - d->pos >= max) {
		/* All of it in one look: the prefix is the count of leading ones. */
		uint32_t w = d->pos >> 6;
		unsigned off = d->pos & 63;
		uint64_t x = d->words[w] << off;
		if (off + max > 64)
			x |= d->words[w + 1] >> (64 - off);
		x &= ~(~(uint64_t)0 >> max); /* bits past the prefix: zeros, so ~x != 0 */
		unsigned ones = clz64(~x);   /* <= max */
		d->pos += ones < max ? ones + 1 : max;
		return ones;
	}
	unsigned i = 0;
	while (i < max && get(d, 1))
		i++;
	return i;
}

static uint64_t get_bucketed(cobs_hist_dec *d, const bucket *b, size_t nb)
{
	const bucket *p = &b[get_prefix(d, (unsigned)nb - 1)];
	if (!p->bits)
		return 0;
	uint64_t u = get(d, p->bits);
	if (p->bits == 64)
		return u;
	if ((u >> (p->bits - 1)) & 1)
		return u | ~mask(p->bits); /* negative: sign extension */
	return u + 1;                      /* positive: 0..2^(b-1)-1 stand for 1..2^(b-1) */
}

static int fail(cobs_hist_dec *d)
{
	d->i = d->n; /* a bad stream yields nothing more */
	return COBS_HIST_ECORRUPT;
}

/* An integer residual q << unit on top of the prediction; 0 when m leaves +-2^53. */
static int int_value(cobs_hist_state *st, uint64_t q, unsigned unit)
{
	if (!st->ivalid || unit > 63)
		return 0;
	/* Modular: a corrupt stream must not overflow a signed type. */
	int64_t m = u2i((uint64_t)predict_m(st) + (q << unit));
	if (m > MAX_M || m < -MAX_M)
		return 0;
	double x = (double)m / p10[st->k];
	st->v = dbits(x);
	track(st, x, 1, m);
	return 1;
}

int cobs_hist_dec_next(cobs_hist_dec *d, int64_t *t, double *v)
{
	if (d->i >= d->n)
		return 0;
	cobs_hist_state *st = &d->st;
	if (d->i == 0) {
		uint64_t tb = get(d, 64), vb = get(d, 64);
		if (d->bad)
			return fail(d);
		start(st, tb, vb);
	} else {
		uint64_t dt = predict_dt(st) + get_bucketed(d, ts_buckets, NBUCKETS(ts_buckets));
		push_dt(st, dt);
		st->t += dt;

		switch (get_prefix(d, 4)) {
		case V_SAME:
			if (st->ivalid)
				push_dm(st, 0);
			break;
		case V_INT: {
			unsigned u = st->unit < 64 ? st->unit : 0;
			if (!int_value(st, get_bucketed(d, int_buckets, NBUCKETS(int_buckets)), u))
				return fail(d);
			break;
		}
		case V_INT_UNIT: {
			unsigned u = (unsigned)get(d, 6);
			if (!int_value(st, get_bucketed(d, int_buckets, NBUCKETS(int_buckets)), u))
				return fail(d);
			break;
		}
		case V_XOR_REUSE:
			if (!st->mlen)
				return fail(d);
			st->v ^= get(d, st->mlen) << (64 - st->lead - st->mlen);
			track(st, bitsd(st->v), -1, 0);
			break;
		default: {
			unsigned lead = (unsigned)get(d, 5), mlen = (unsigned)get(d, 6) + 1;
			if (lead + mlen > 64)
				return fail(d);
			st->v ^= get(d, mlen) << (64 - lead - mlen);
			st->lead = (uint8_t)lead;
			st->mlen = (uint8_t)mlen;
			track(st, bitsd(st->v), -1, 0);
			break;
		}
		}
	}
	if (d->bad)
		return fail(d);
	d->i++;
	*t = u2i(st->t);
	*v = bitsd(st->v);
	return 1;
}
