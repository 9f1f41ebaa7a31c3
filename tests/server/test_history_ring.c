/*
 * A series' history ring: ordering policy, resolution slots, retention by
 * whole blocks, range queries (empty, partial, whole, across blocks, capped
 * buffers, early stops) and memory accounting against its own structure.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ring.h"

#define T0 1795525000000LL

static cobs_hist_config config(int64_t retention, int64_t resolution, int64_t span, uint32_t points)
{
	cobs_hist_config c = {retention, resolution, span, points};
	ck_assert_int_eq(cobs_hist_config_defaults(&c), COBS_HIST_OK);
	return c;
}

/* Value of point i: distinct, and on the integer path like a counter. */
static double val(int64_t i)
{
	return (double)(i * 7 + 3) / 100.0;
}

/* What a ring's bytes must be, recomputed from its parts. */
static size_t expected_bytes(const cobs_hist_ring *r)
{
	size_t b = sizeof(*r) + r->cap * sizeof(cobs_hist_block) + r->open.cap * sizeof(uint64_t);
	for (uint32_t i = 0; i < r->nblocks; i++)
		b += (r->blocks[i].nbits + 63) / 64 * sizeof(uint64_t);
	return b;
}

static void check_accounting(const cobs_hist_ring *r)
{
	cobs_hist_ring_stats st;
	cobs_hist_ring_stats_get(r, &st);
	ck_assert_uint_eq(st.bytes, expected_bytes(r));
	uint64_t pts = r->open.n, bits = r->open.nbits;
	for (uint32_t i = 0; i < r->nblocks; i++) {
		pts += r->blocks[i].n;
		bits += r->blocks[i].nbits;
		ck_assert_uint_gt(r->blocks[i].n, 0);
		/* blocks are in time order and do not overlap */
		if (i + 1 < r->nblocks)
			ck_assert_int_lt(r->blocks[i].t_last, (int64_t)r->blocks[i + 1].words[0]);
	}
	ck_assert_uint_eq(st.points, pts);
	ck_assert_uint_eq(r->points, pts);
	ck_assert_uint_eq(st.stream_bits, bits);
	ck_assert_uint_eq(st.blocks, r->nblocks + (r->open.n ? 1 : 0));
	/* and every point can be read back */
	ck_assert_int_eq(cobs_hist_ring_query(r, INT64_MIN, INT64_MAX, NULL, 0), (int64_t)pts);
}

START_TEST(config_defaults)
{
	cobs_hist_config c = {0};
	ck_assert_int_eq(cobs_hist_config_defaults(&c), COBS_HIST_OK);
	ck_assert_int_eq(c.retention_ms, 3600000);
	ck_assert_int_eq(c.resolution_ms, 0);
	ck_assert_int_eq(c.block_span_ms, 900000);
	ck_assert_uint_eq(c.block_points, 2048);
	cobs_hist_config bad = {.retention_ms = -1};
	ck_assert_int_eq(cobs_hist_config_defaults(&bad), COBS_HIST_EINVAL);
	ck_assert_int_eq(bad.block_span_ms, 0);
	ck_assert_str_eq(cobs_hist_strerror(COBS_HIST_EORDER),
	                 "timestamp not after the series' last point");
}
END_TEST

START_TEST(order_is_enforced)
{
	cobs_hist_config c = config(0, 0, 0, 0);
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0, 1), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0, 2), COBS_HIST_EORDER);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0 - 1, 2), COBS_HIST_EORDER);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0 - 3600000, 2), COBS_HIST_EORDER);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0 + 1, 3), COBS_HIST_OK);
	cobs_hist_point p[4];
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 4), 2);
	ck_assert_int_eq(p[0].t, T0);
	ck_assert_double_eq(p[0].v, 1);
	ck_assert_int_eq(p[1].t, T0 + 1);
	ck_assert_double_eq(p[1].v, 3);
	/* cleared, it accepts the past again (a caller's answer to a big clock jump) */
	cobs_hist_ring_clear(&r);
	check_accounting(&r);
	ck_assert_int_eq(cobs_hist_ring_append(&r, T0 - 3600000, 4), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 4), 1);
	/* the extremes of int64 are fine timestamps (retention is relative to the newest) */
	cobs_hist_ring_clear(&r);
	ck_assert_int_eq(cobs_hist_ring_append(&r, INT64_MIN, 1), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, INT64_MIN + 1, 2), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 4), 2);
	ck_assert_int_eq(p[0].t, INT64_MIN);
	ck_assert_int_eq(p[1].t, INT64_MIN + 1);
	ck_assert_int_eq(cobs_hist_ring_append(&r, INT64_MAX - 1, 3), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, INT64_MAX, 4), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 4), 2);
	ck_assert_int_eq(p[0].t, INT64_MAX - 1);
	ck_assert_int_eq(p[1].t, INT64_MAX);
	check_accounting(&r);
	cobs_hist_ring_free(&r);
}
END_TEST

START_TEST(resolution_keeps_the_first_point_of_a_slot)
{
	cobs_hist_config c = config(0, 10000, 0, 0);
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	/* slots of 10 s: [0,10000) [10000,20000) ... */
	ck_assert_int_eq(cobs_hist_ring_append(&r, 1000, 1), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 6000, 2), COBS_HIST_SKIPPED);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 9999, 3), COBS_HIST_SKIPPED);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 10000, 4), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 19999, 5), COBS_HIST_SKIPPED);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 45000, 6), COBS_HIST_OK);
	/* order is checked before the slot */
	ck_assert_int_eq(cobs_hist_ring_append(&r, 44000, 7), COBS_HIST_EORDER);
	cobs_hist_point p[8];
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 8), 3);
	ck_assert_double_eq(p[0].v, 1);
	ck_assert_double_eq(p[1].v, 4);
	ck_assert_double_eq(p[2].v, 6);
	/* negative timestamps: slots are floored, -1 and -9999 share [-10000, 0) */
	cobs_hist_ring_clear(&r);
	ck_assert_int_eq(cobs_hist_ring_append(&r, -9999, 1), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_ring_append(&r, -1, 2), COBS_HIST_SKIPPED);
	ck_assert_int_eq(cobs_hist_ring_append(&r, 0, 3), COBS_HIST_OK);
	/* 5 s points into 10 s slots: every other one is kept */
	cobs_hist_ring_clear(&r);
	int kept = 0;
	for (int i = 0; i < 1000; i++) {
		int rc = cobs_hist_ring_append(&r, T0 + i * 5000 + i % 3, val(i));
		ck_assert(rc == COBS_HIST_OK || rc == COBS_HIST_SKIPPED);
		kept += rc == COBS_HIST_OK;
	}
	ck_assert_int_eq(kept, 500);
	check_accounting(&r);
	cobs_hist_ring_free(&r);
}
END_TEST

START_TEST(retention_drops_whole_blocks)
{
	/* 1 h retention, 15 min blocks, 5 s points: 2 h of them */
	cobs_hist_config c = config(3600000, 0, 0, 0);
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	int64_t last = 0;
	for (int i = 0; i < 1440; i++) {
		last = T0 + i * 5000LL + (i * 7) % 4;
		ck_assert_int_eq(cobs_hist_ring_append(&r, last, val(i)), COBS_HIST_OK);
		if (i % 97 == 0)
			check_accounting(&r);
	}
	check_accounting(&r);
	cobs_hist_point *p = malloc(1440 * sizeof(*p));
	ck_assert_ptr_nonnull(p);
	int64_t n = cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 1440);
	/* everything within the hour is there, and at most one block span more */
	int64_t cutoff = last - 3600000, want = 0;
	for (int i = 0; i < 1440; i++)
		want += T0 + i * 5000LL + (i * 7) % 4 >= cutoff;
	ck_assert_int_ge(p[0].t, cutoff - c.block_span_ms);
	ck_assert_int_ge(n, want);
	ck_assert_int_le(n, want + 180);
	for (int64_t i = 0; i < n; i++) {
		int64_t k = (p[i].t - T0) / 5000;
		ck_assert_double_eq(p[i].v, val(k));
		if (i)
			ck_assert_int_gt(p[i].t, p[i - 1].t);
	}
	ck_assert_int_eq(cobs_hist_ring_query(&r, cutoff, INT64_MAX, NULL, 0), want);

	/* a silent series: trim with the wall clock drops the sealed blocks, then the open one */
	uint64_t had = r.points, open = r.open.n;
	ck_assert_uint_eq(cobs_hist_ring_trim(&r, last + 3600000 - 1), had - open);
	ck_assert_uint_eq(r.points, open);
	ck_assert_uint_eq(r.nblocks, 0);
	ck_assert_uint_eq(cobs_hist_ring_trim(&r, last + 3600001), open);
	ck_assert_uint_eq(r.points, 0);
	check_accounting(&r);
	/* trimming at the start of time must not underflow */
	ck_assert_uint_eq(cobs_hist_ring_trim(&r, INT64_MIN), 0);
	free(p);
	cobs_hist_ring_free(&r);
}
END_TEST

START_TEST(blocks_by_span_and_by_count)
{
	cobs_hist_config c = config(INT64_MAX, 0, 60000, 16);
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	/* 1 s points: blocks close at 16 points before 60 s */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(cobs_hist_ring_append(&r, T0 + i * 1000, val(i)), COBS_HIST_OK);
	ck_assert_uint_eq(r.nblocks, 6);
	for (uint32_t i = 0; i < r.nblocks; i++)
		ck_assert_uint_eq(r.blocks[i].n, 16);
	ck_assert_uint_eq(r.open.n, 4);
	check_accounting(&r);
	/* 30 s points: blocks close by span (every 2 points) */
	cobs_hist_ring_clear(&r);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(cobs_hist_ring_append(&r, T0 + i * 30000, val(i)), COBS_HIST_OK);
	ck_assert_uint_eq(r.nblocks, 4);
	ck_assert_uint_eq(r.open.n, 2);
	check_accounting(&r);
	cobs_hist_ring_free(&r);
}
END_TEST

typedef struct collect {
	int64_t first, last;
	int64_t n, stop_after;
} collect;

static int visit(void *ctx, int64_t t, double v)
{
	collect *c = ctx;
	(void)v;
	if (!c->n)
		c->first = t;
	c->last = t;
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

START_TEST(query_ranges)
{
	cobs_hist_config c = config(INT64_MAX, 0, 50000, 0); /* blocks of 10 points */
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	cobs_hist_point p[200];
	ck_assert_int_eq(cobs_hist_ring_query(&r, INT64_MIN, INT64_MAX, p, 200), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(cobs_hist_ring_append(&r, T0 + i * 5000, val(i)), COBS_HIST_OK);
	ck_assert_uint_eq(r.nblocks, 9);

	/* whole */
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0, T0 + 99 * 5000, p, 200), 100);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(p[i].t, T0 + i * 5000);
		ck_assert_double_eq(p[i].v, val(i));
	}
	/* empty: before, after, between two points, reversed */
	ck_assert_int_eq(cobs_hist_ring_query(&r, 0, T0 - 1, p, 200), 0);
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0 + 99 * 5000 + 1, INT64_MAX, p, 200), 0);
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0 + 1, T0 + 4999, p, 200), 0);
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0 + 5000, T0, p, 200), 0);
	/* one point, the bounds included */
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0 + 5000, T0 + 5000, p, 200), 1);
	ck_assert_double_eq(p[0].v, val(1));
	/* partial, across block boundaries and into the open block */
	for (int a = 0; a < 100; a += 7)
		for (int b = a; b < 100; b += 11) {
			int64_t n = cobs_hist_ring_query(&r, T0 + a * 5000 - 2500,
			                                 T0 + b * 5000 + 2500, p, 200);
			ck_assert_int_eq(n, b - a + 1);
			ck_assert_int_eq(p[0].t, T0 + a * 5000);
			ck_assert_double_eq(p[n - 1].v, val(b));
		}
	/* a short buffer: the count of the range, the oldest points written */
	memset(p, 0, sizeof(p));
	ck_assert_int_eq(cobs_hist_ring_query(&r, T0 + 10 * 5000, INT64_MAX, p, 5), 90);
	ck_assert_int_eq(p[4].t, T0 + 14 * 5000);
	ck_assert_int_eq(p[5].t, 0);
	/* callbacks, and stopping early */
	collect col = {0};
	ck_assert_int_eq(cobs_hist_ring_each(&r, T0 + 3 * 5000, T0 + 42 * 5000, visit, &col), 40);
	ck_assert_int_eq(col.first, T0 + 3 * 5000);
	ck_assert_int_eq(col.last, T0 + 42 * 5000);
	col = (collect){.stop_after = 25};
	ck_assert_int_eq(cobs_hist_ring_each(&r, INT64_MIN, INT64_MAX, visit, &col), 25);
	ck_assert_int_eq(col.last, T0 + 24 * 5000);
	col = (collect){.stop_after = 95};
	ck_assert_int_eq(cobs_hist_ring_each(&r, INT64_MIN, INT64_MAX, visit, &col), 95);
	ck_assert_int_eq(col.last, T0 + 94 * 5000);
	check_accounting(&r);
	cobs_hist_ring_free(&r);
}
END_TEST

START_TEST(accounting_follows_every_change)
{
	cobs_hist_config c = config(600000, 0, 60000, 0);
	cobs_hist_ring r;
	cobs_hist_ring_init(&r, &c);
	size_t empty = cobs_hist_ring_bytes(&r);
	ck_assert_uint_eq(empty, sizeof(r));
	uint64_t x = 1;
	for (int i = 0; i < 5000; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		double v = i % 3 ? val(i) : (double)(x >> 11) / 3.0; /* integer and XOR paths */
		ck_assert_int_eq(cobs_hist_ring_append(&r, T0 + i * 1000, v), COBS_HIST_OK);
		if (i % 61 == 0)
			check_accounting(&r);
	}
	check_accounting(&r);
	/* retention at 10 min of 1 s points: 600 points, plus at most a 1 min block */
	ck_assert_uint_ge(r.points, 600);
	ck_assert_uint_le(r.points, 661);
	cobs_hist_ring_clear(&r);
	check_accounting(&r);
	ck_assert_uint_eq(r.points, 0);
	cobs_hist_ring_free(&r);
	ck_assert_uint_eq(cobs_hist_ring_bytes(&r), empty);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("history_ring");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, order_is_enforced);
	tcase_add_test(tc, resolution_keeps_the_first_point_of_a_slot);
	tcase_add_test(tc, retention_drops_whole_blocks);
	tcase_add_test(tc, blocks_by_span_and_by_count);
	tcase_add_test(tc, query_ranges);
	tcase_add_test(tc, accounting_follows_every_change);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
