/*
 * The history codec: bit-exact round trips on random series (walks, constants,
 * counters with resets, sparse, NaN/Inf mixes, random bit patterns, clocks
 * going backwards) and on the real series in fixtures/history; truncated and
 * random streams are refused, never overrun.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "harness.h"

/* ---- deterministic randomness ---- */

static uint64_t rng = 0x853c49e6748fea9bu;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double unif(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2.0 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif());
}

static double from_bits(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t to_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

/* Wrapping add: test timestamps may run off either end of int64. */
static int64_t wrap_add(int64_t a, int64_t b)
{
	uint64_t u = (uint64_t)a + (uint64_t)b;
	return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;
}

/*
 * Encodes n points, checks every one comes back with the same bits (before
 * and after the stream is handed over), that every truncation is refused,
 * and returns the stream's length in bits.
 */
static uint64_t roundtrip(const int64_t *t, const double *v, size_t n)
{
	cobs_hist_enc e;
	cobs_hist_enc_init(&e);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(cobs_hist_enc_append(&e, t[i], v[i]), COBS_HIST_OK);
	ck_assert_uint_eq(e.n, n);
	ck_assert_uint_le((uint64_t)e.nbits, (uint64_t)e.cap * 64);

	cobs_hist_dec d;
	int64_t tt;
	double vv;
	for (int pass = 0; pass < 2; pass++) {
		cobs_hist_dec_init(&d, e.words, e.nbits, e.n);
		for (size_t i = 0; i < n; i++) {
			ck_assert_int_eq(cobs_hist_dec_next(&d, &tt, &vv), 1);
			if (tt != t[i] || to_bits(vv) != to_bits(v[i]))
				ck_abort_msg("point %zu of %zu: got (%lld, %a) want (%lld, %a)", i,
				             n, (long long)tt, vv, (long long)t[i], v[i]);
		}
		ck_assert_int_eq(cobs_hist_dec_next(&d, &tt, &vv), 0);
		ck_assert_uint_eq(d.pos, e.nbits); /* every bit written was read */
		if (pass == 0) {
			/* A few truncations: the decoder must say so, not read on. */
			for (int c = 0; c < 3 && e.nbits > 1; c++) {
				uint32_t cut = (uint32_t)(rnd() % e.nbits);
				cobs_hist_dec_init(&d, e.words, cut, e.n);
				int rc;
				size_t got = 0;
				while ((rc = cobs_hist_dec_next(&d, &tt, &vv)) == 1)
					got++;
				ck_assert_int_eq(rc, COBS_HIST_ECORRUPT);
				ck_assert_uint_lt(got, n);
				ck_assert_uint_le(d.pos, cut);
			}
			/* Hand the stream over: exactly sized, still the same points. */
			uint32_t nbits = e.nbits, np = e.n;
			uint64_t *w;
			ck_assert_int_eq(cobs_hist_enc_finish(&e, &w), COBS_HIST_OK);
			ck_assert_ptr_nonnull(w);
			ck_assert_uint_eq(e.n, 0);
			e.words = w; /* decode from it in pass 1, freed below */
			e.nbits = nbits;
			e.n = np;
			e.cap = (nbits + 63) / 64;
		}
	}
	uint64_t bits = e.nbits;
	cobs_hist_enc_free(&e);
	return bits;
}

typedef struct series {
	int64_t *t;
	double *v;
	size_t n;
} series;

static series alloc_series(size_t n)
{
	series s = {malloc(n * sizeof(int64_t)), malloc(n * sizeof(double)), n};
	ck_assert_ptr_nonnull(s.t);
	ck_assert_ptr_nonnull(s.v);
	return s;
}

static void free_series(series *s)
{
	free(s->t);
	free(s->v);
}

/* Agent-like timestamps: 5 s with 0..3 ms of jitter. */
static void regular_times(series *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->t[i] = 1795525000000LL + (int64_t)i * 5000 + (int64_t)(rnd() % 4);
}

static uint64_t check_series(series *s)
{
	uint64_t bits = roundtrip(s->t, s->v, s->n);
	free_series(s);
	return bits;
}

START_TEST(empty_and_single_points)
{
	cobs_hist_enc e;
	cobs_hist_enc_init(&e);
	uint64_t *w = (uint64_t *)&e; /* must be replaced */
	ck_assert_int_eq(cobs_hist_enc_finish(&e, &w), COBS_HIST_OK);
	ck_assert_ptr_null(w);
	cobs_hist_dec d;
	int64_t t;
	double v;
	cobs_hist_dec_init(&d, NULL, 0, 0);
	ck_assert_int_eq(cobs_hist_dec_next(&d, &t, &v), 0);

	int64_t ts[] = {0, INT64_MIN, INT64_MAX, -1};
	double vs[] = {0.0, -0.0, NAN, 1e-310};
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(roundtrip(&ts[i], &vs[i], 1), 128);
	ck_assert_uint_gt(roundtrip(ts, vs, 2), 128);
}
END_TEST

START_TEST(special_doubles)
{
	static const uint64_t raw[] = {
	        0x0000000000000000u, 0x8000000000000000u, /* +0, -0 */
	        0x7ff0000000000000u, 0xfff0000000000000u, /* +-inf */
	        0x7ff8000000000000u, 0xfff8000000000000u, /* quiet NaNs */
	        0x7ff0000000000001u, 0x7ff4000000000000u, /* signalling NaNs with payloads */
	        0x7fffffffffffffffu, 0xffffffffffffffffu, /* NaNs, all payload bits */
	        0x7ff8deadbeef1234u, 0x0000000000000001u, /* a payload; the smallest denormal */
	        0x000fffffffffffffu, 0x800fffffffffffffu, /* the largest denormals */
	        0x0010000000000000u, 0x7fefffffffffffffu, /* DBL_MIN, DBL_MAX */
	        0x4340000000000000u, 0x433fffffffffffffu, /* 2^53, 2^53 - 1 */
	};
	size_t nraw = sizeof(raw) / sizeof(raw[0]);
	/* Every ordered pair, so each special follows each other one. */
	series s = alloc_series(nraw * nraw * 2);
	size_t n = 0;
	for (size_t i = 0; i < nraw; i++)
		for (size_t j = 0; j < nraw; j++) {
			s.v[n++] = from_bits(raw[i]);
			s.v[n++] = from_bits(raw[j]);
		}
	regular_times(&s);
	check_series(&s);

	/* Around the integer path: decimals near the limits of its scales. */
	s = alloc_series(4000);
	for (size_t i = 0; i < s.n; i++) {
		switch (rnd() % 8) {
		case 0:
			s.v[i] = (double)(int64_t)(rnd() >> 10) - 4503599627370496.0; /* ~2^53 */
			break;
		case 1:
			s.v[i] = (double)(int64_t)(rnd() >> 14) / 1e9;
			break;
		case 2:
			s.v[i] = -(double)(rnd() % 100000) / 100.0;
			break;
		case 3:
			s.v[i] = (double)(rnd() % 1000) * 1e-12; /* finer than any scale */
			break;
		case 4:
			s.v[i] = nextafter((double)(rnd() % 100000) / 100.0, INFINITY);
			break;
		case 5:
			s.v[i] = 9007199254740993.0 - (double)(rnd() % 4);
			break;
		case 6:
			s.v[i] = i ? s.v[i - 1] : 0;
			break;
		default:
			s.v[i] = (double)(rnd() % 7) * 1125899906842624.0; /* multiples of 2^50 */
			break;
		}
	}
	regular_times(&s);
	check_series(&s);
}
END_TEST

START_TEST(random_walks_and_constants)
{
	for (int rep = 0; rep < 50; rep++) {
		series s = alloc_series(1 + rnd() % 1500);
		double x = gauss() * 1e6, step = pow(10, (double)(rnd() % 12) - 6);
		for (size_t i = 0; i < s.n; i++) {
			x += step * gauss();
			s.v[i] = x;
		}
		regular_times(&s);
		check_series(&s);
	}
	for (int rep = 0; rep < 20; rep++) {
		series s = alloc_series(1 + rnd() % 1500);
		double c = rep % 2 ? gauss() : (double)(rnd() % 1000);
		for (size_t i = 0; i < s.n; i++)
			s.v[i] = c;
		regular_times(&s);
		size_t n = s.n;
		uint64_t bits = check_series(&s);
		/* A constant at a jittery 5 s: a few bits a point. */
		if (n > 100)
			ck_assert_uint_lt(bits, 128 + (uint64_t)n * 6);
	}
	/* Decimal walks at every scale (the integer path), with scale changes. */
	for (int rep = 0; rep < 40; rep++) {
		series s = alloc_series(1 + rnd() % 1500);
		int k = rep % 13;
		double p = pow(10, k);
		int64_t m = (int64_t)(rnd() % 1000000);
		for (size_t i = 0; i < s.n; i++) {
			m += (int64_t)(rnd() % 2000) - 1000;
			if (rnd() % 50 == 0)
				p = pow(10, (double)(rnd() % 13));
			s.v[i] = (double)m / p;
		}
		regular_times(&s);
		check_series(&s);
	}
}
END_TEST

START_TEST(counters_with_resets_and_sparse)
{
	for (int rep = 0; rep < 40; rep++) {
		series s = alloc_series(1 + rnd() % 2000);
		double ticks = (double)(rnd() % 100000000);
		int64_t t = (int64_t)(rnd() >> 20);
		for (size_t i = 0; i < s.n; i++) {
			if (rnd() % 200 == 0)
				ticks = 0; /* the process or the agent restarted */
			ticks += (double)(rnd() % (1 + rep * 50));
			s.v[i] = rep % 2 ? ticks / 100.0 : ticks * 4096;
			/* sparse: mostly regular, sometimes hours or years apart */
			switch (rnd() % 20) {
			case 0:
				t = wrap_add(t, (int64_t)(rnd() % 100000000));
				break;
			case 1:
				t = wrap_add(t, (int64_t)(rnd() >> 2));
				break;
			default:
				t = wrap_add(t, 5000 + (int64_t)(rnd() % 7) - 3);
			}
			s.t[i] = t;
		}
		check_series(&s);
	}
}
END_TEST

START_TEST(nan_inf_mixes_and_random_bits)
{
	static const double specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, 0.01};
	for (int rep = 0; rep < 40; rep++) {
		series s = alloc_series(1 + rnd() % 1000);
		double x = 0;
		for (size_t i = 0; i < s.n; i++) {
			if (rnd() % 4 == 0) {
				s.v[i] = specials[rnd() % 8];
			} else {
				x += (double)(rnd() % 100) / 100.0;
				s.v[i] = x;
			}
		}
		regular_times(&s);
		check_series(&s);
	}
	for (int rep = 0; rep < 40; rep++) {
		series s = alloc_series(1 + rnd() % 1000);
		for (size_t i = 0; i < s.n; i++) {
			/* random bit patterns, some with few bits set so XOR windows vary */
			uint64_t u = rnd();
			if (rep % 3 == 1)
				u &= rnd() & rnd();
			else if (rep % 3 == 2)
				u = (i ? to_bits(s.v[i - 1]) : 0) ^ ((uint64_t)1 << (rnd() % 64));
			s.v[i] = from_bits(u);
			s.t[i] = (int64_t)rnd();
		}
		check_series(&s);
	}
}
END_TEST

START_TEST(clocks_going_backwards_and_equal)
{
	for (int rep = 0; rep < 30; rep++) {
		series s = alloc_series(2 + rnd() % 1000);
		int64_t t = rep % 3 == 0 ? INT64_MAX - 10000 : rep % 3 == 1 ? INT64_MIN + 10 : 0;
		for (size_t i = 0; i < s.n; i++) {
			switch (rnd() % 6) {
			case 0:
				break; /* equal */
			case 1:
				t = wrap_add(t,
				             -(int64_t)(rnd() % 3600000)); /* back up to an hour */
				break;
			case 2:
				t = i % 2 ? INT64_MIN : INT64_MAX;
				break;
			default:
				t = wrap_add(t, 5000);
			}
			s.t[i] = t;
			s.v[i] = (double)(rnd() % 1000);
		}
		check_series(&s);
	}
}
END_TEST

START_TEST(corrupt_streams_are_refused)
{
	uint64_t words[64];
	for (int rep = 0; rep < 20000; rep++) {
		uint32_t nw = 1 + (uint32_t)(rnd() % 64);
		for (uint32_t i = 0; i < nw; i++)
			words[i] = rep % 2 ? rnd() : ~(uint64_t)0 << (rnd() % 64);
		uint32_t nbits = (uint32_t)(rnd() % (nw * 64 + 1));
		uint32_t n = (uint32_t)(rnd() % 100000);
		cobs_hist_dec d;
		cobs_hist_dec_init(&d, words, nbits, n);
		int64_t t;
		double v;
		int rc;
		uint32_t got = 0;
		while ((rc = cobs_hist_dec_next(&d, &t, &v)) == 1)
			got++;
		ck_assert_uint_le(got, n);
		ck_assert_uint_le(d.pos, nbits);
		if (got < n)
			ck_assert_int_eq(rc, COBS_HIST_ECORRUPT);
		/* once refused, it stays refused */
		ck_assert_int_eq(cobs_hist_dec_next(&d, &t, &v), 0);
	}
}
END_TEST

/* ---- real series ---- */

/* Columns of a fixture: header "t_ms<TAB>name...", rows of values or "-". */
typedef struct table {
	size_t ncols, nrows;
	int64_t *t;
	double *v;  /* nrows * ncols */
	char *have; /* nrows * ncols */
} table;

static int load_table(const char *path, table *tb)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	memset(tb, 0, sizeof(*tb));
	char *line = NULL;
	size_t cap = 0, rows_cap = 0;
	if (getline(&line, &cap, f) < 0) {
		fclose(f);
		return -1;
	}
	for (char *p = line; *p; p++)
		tb->ncols += *p == '\t';
	while (getline(&line, &cap, f) > 0) {
		if (tb->nrows == rows_cap) {
			rows_cap = rows_cap ? rows_cap * 2 : 256;
			tb->t = realloc(tb->t, rows_cap * sizeof(*tb->t));
			tb->v = realloc(tb->v, rows_cap * tb->ncols * sizeof(*tb->v));
			tb->have = realloc(tb->have, rows_cap * tb->ncols);
			ck_assert(tb->t && tb->v && tb->have);
		}
		char *save = NULL, *tok = strtok_r(line, "\t\n", &save);
		ck_assert_ptr_nonnull(tok);
		tb->t[tb->nrows] = strtoll(tok, NULL, 10);
		for (size_t c = 0; c < tb->ncols; c++) {
			tok = strtok_r(NULL, "\t\n", &save);
			ck_assert_ptr_nonnull(tok);
			size_t k = tb->nrows * tb->ncols + c;
			tb->have[k] = strcmp(tok, "-") != 0;
			tb->v[k] = tb->have[k] ? strtod(tok, NULL) : 0;
		}
		tb->nrows++;
	}
	free(line);
	fclose(f);
	return 0;
}

/* The captures in fixtures/history (make-fixtures.py there says how they were made). */
static const char *const fixtures[] = {"history/cpu.tsv",   "history/mem.tsv",
                                       "history/net.tsv",   "history/disk.tsv",
                                       "history/agent.tsv", "history/procs.tsv"};

START_TEST(real_series_round_trip)
{
	uint64_t bits = 0, points = 0;
	for (size_t fx = 0; fx < sizeof(fixtures) / sizeof(fixtures[0]); fx++) {
		table tb;
		ck_assert_msg(load_table(fixture(fixtures[fx]), &tb) == 0, "cannot read %s",
		              fixture(fixtures[fx]));
		ck_assert_uint_gt(tb.nrows, 100);
		series s = alloc_series(tb.nrows);
		for (size_t c = 0; c < tb.ncols; c++) {
			size_t n = 0;
			for (size_t r = 0; r < tb.nrows; r++)
				if (tb.have[r * tb.ncols + c]) {
					s.t[n] = tb.t[r];
					s.v[n++] = tb.v[r * tb.ncols + c];
				}
			if (!n)
				continue;
			bits += roundtrip(s.t, s.v, n) - 128; /* the first point is 128 bits raw */
			points += n - 1;
		}
		free_series(&s);
		free(tb.t);
		free(tb.v);
		free(tb.have);
	}
	/* Not a benchmark, a tripwire: the real series compress as measured. */
	ck_assert_msg((double)bits / 8.0 / (double)points < 2.0, "%.2f bytes per point",
	              (double)bits / 8.0 / (double)points);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("history_codec");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, empty_and_single_points);
	tcase_add_test(tc, special_doubles);
	tcase_add_test(tc, random_walks_and_constants);
	tcase_add_test(tc, counters_with_resets_and_sparse);
	tcase_add_test(tc, nan_inf_mixes_and_random_bits);
	tcase_add_test(tc, clocks_going_backwards_and_equal);
	tcase_add_test(tc, corrupt_streams_are_refused);
	tcase_add_test(tc, real_series_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
