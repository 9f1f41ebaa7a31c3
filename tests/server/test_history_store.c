/*
 * The history store: keys and ids (stale ids after removal), the canonical
 * key helper, the budget's eviction order (class, then least recently
 * viewed, never-viewed first, class 0 never), expiry of silent series, and
 * memory accounting that adds up.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "store.h"

#define T0 1795525000000LL

static cobs_hist_id open_key(cobs_hist_store *s, const char *key, unsigned cls)
{
	cobs_hist_id id = 0;
	int rc = cobs_hist_store_open(s, key, strlen(key), cls, &id);
	ck_assert_msg(rc == 0 || rc == 1, "open %s: %d", key, rc);
	ck_assert_uint_ne(id, 0);
	return id;
}

static int alive(cobs_hist_store *s, cobs_hist_id id)
{
	return cobs_hist_store_key(s, id, NULL) != NULL;
}

/* Sum of the per-series figures must match the store's totals. */
static void check_sums(cobs_hist_store *s, const cobs_hist_id *ids, size_t n, size_t overhead)
{
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	uint64_t points = 0, bits = 0, series = 0;
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		cobs_hist_ring_stats rs;
		if (cobs_hist_store_series_stats(s, ids[i], &rs) != COBS_HIST_OK)
			continue;
		series++;
		points += rs.points;
		bits += rs.stream_bits;
		bytes += rs.bytes;
	}
	ck_assert_uint_eq(st.series, series);
	ck_assert_uint_eq(st.points, points);
	ck_assert_uint_eq(st.stream_bits, bits);
	ck_assert_uint_eq(st.bytes, bytes + overhead);
	if (points) {
		ck_assert(st.bytes_per_point == (double)st.bytes / (double)points);
		ck_assert(st.stream_bytes_per_point == (double)bits / 8.0 / (double)points);
	}
}

START_TEST(keys_ids_and_stale_ids)
{
	cobs_hist_store *s = cobs_hist_store_new(NULL, 0);
	ck_assert_ptr_nonnull(s);
	cobs_hist_id a, b, again;
	ck_assert_int_eq(cobs_hist_store_open(s, "a", 1, 0, &a), 1);
	ck_assert_int_eq(cobs_hist_store_open(s, "b", 1, 2, &b), 1);
	ck_assert_int_eq(cobs_hist_store_open(s, "a", 1, 3, &again), 0);
	ck_assert_uint_eq(a, again);
	ck_assert_uint_ne(a, b);
	ck_assert_int_eq(cobs_hist_store_find(s, "b", 1, &again), COBS_HIST_OK);
	ck_assert_uint_eq(again, b);
	ck_assert_int_eq(cobs_hist_store_find(s, "c", 1, &again), COBS_HIST_ENOENT);
	/* keys are bytes: a NUL inside is part of the key */
	cobs_hist_id z1, z2;
	ck_assert_int_eq(cobs_hist_store_open(s, "x\0y", 3, 0, &z1), 1);
	ck_assert_int_eq(cobs_hist_store_open(s, "x\0z", 3, 0, &z2), 1);
	ck_assert_uint_ne(z1, z2);
	size_t len;
	ck_assert_int_eq(memcmp(cobs_hist_store_key(s, z2, &len), "x\0z", 3), 0);
	ck_assert_uint_eq(len, 3);
	/* bad arguments */
	ck_assert_int_eq(cobs_hist_store_open(s, "c", 1, COBS_HIST_CLASSES, &again),
	                 COBS_HIST_EINVAL);
	ck_assert_int_eq(cobs_hist_store_open(s, NULL, 0, 0, &again), COBS_HIST_EINVAL);

	ck_assert_int_eq(cobs_hist_store_append(s, a, T0, 1.5), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_store_append(s, a, T0, 1.5), COBS_HIST_EORDER);
	ck_assert_int_eq(cobs_hist_store_remove(s, a), COBS_HIST_OK);
	/* every call with the stale id says so */
	cobs_hist_point p[2];
	ck_assert_int_eq(cobs_hist_store_append(s, a, T0 + 1, 1), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_query(s, a, 0, INT64_MAX, p, 2), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_touch(s, a), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_clear(s, a), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_remove(s, a), COBS_HIST_ENOENT);
	ck_assert_ptr_null(cobs_hist_store_key(s, a, NULL));
	ck_assert_int_eq(cobs_hist_store_find(s, "a", 1, &again), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_append(s, 0, T0, 1), COBS_HIST_ENOENT);
	ck_assert_int_eq(cobs_hist_store_append(s, ~(cobs_hist_id)0, T0, 1), COBS_HIST_ENOENT);
	/* reopened: a fresh, empty series under a new id (the slot is reused) */
	cobs_hist_id a2 = open_key(s, "a", 0);
	ck_assert_uint_ne(a2, a);
	ck_assert_uint_eq((uint32_t)a2, (uint32_t)a);
	ck_assert_int_eq(cobs_hist_store_query(s, a2, 0, INT64_MAX, p, 2), 0);
	ck_assert_int_eq(cobs_hist_store_append(s, a2, T0 - 5, 2), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_store_query(s, a2, 0, INT64_MAX, p, 2), 1);
	ck_assert_double_eq(p[0].v, 2);
	/* clear keeps the id and accepts the past again */
	ck_assert_int_eq(cobs_hist_store_clear(s, a2), COBS_HIST_OK);
	ck_assert_int_eq(cobs_hist_store_append(s, a2, T0 - 3600000, 3), COBS_HIST_OK);
	cobs_hist_store_free(s);
}
END_TEST

START_TEST(many_series_index)
{
	/* Enough series to grow the index several times, removing half on the way. */
	cobs_hist_store *s = cobs_hist_store_new(NULL, 0);
	enum { N = 20000 };
	cobs_hist_id *ids = calloc(N, sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	char key[64];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key),
		         "node-%d\x1f"
		         "cpu\x1f%d",
		         i % 7, i);
		ids[i] = open_key(s, key, (unsigned)i % COBS_HIST_CLASSES);
		ck_assert_int_eq(cobs_hist_store_append(s, ids[i], T0, i), COBS_HIST_OK);
	}
	for (int i = 0; i < N; i += 2)
		ck_assert_int_eq(cobs_hist_store_remove(s, ids[i]), COBS_HIST_OK);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key),
		         "node-%d\x1f"
		         "cpu\x1f%d",
		         i % 7, i);
		cobs_hist_id id;
		int rc = cobs_hist_store_find(s, key, strlen(key), &id);
		if (i % 2) {
			ck_assert_int_eq(rc, COBS_HIST_OK);
			ck_assert_uint_eq(id, ids[i]);
			cobs_hist_point p;
			ck_assert_int_eq(cobs_hist_store_query(s, id, 0, INT64_MAX, &p, 1), 1);
			ck_assert_double_eq(p.v, i);
		} else {
			ck_assert_int_eq(rc, COBS_HIST_ENOENT);
		}
	}
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_eq(st.series, N / 2);
	ck_assert_uint_eq(st.points, N / 2);
	free(ids);
	cobs_hist_store_free(s);
}
END_TEST

START_TEST(canonical_keys)
{
	char a[256], b[256];
	const char *l1[] = {"mode", "user", "cpu", "0", NULL};
	const char *l2[] = {"cpu", "0", "mode", "user", NULL};
	size_t n1 = cobs_hist_key(a, sizeof(a), "node-1", "node_cpu_seconds_total", l1);
	size_t n2 = cobs_hist_key(b, sizeof(b), "node-1", "node_cpu_seconds_total", l2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(a, "6:node-122:node_cpu_seconds_total3:cpu1:04:mode4:user");
	/* no value can impersonate a separator */
	const char *l3[] = {"a", "b=c", NULL};
	const char *l4[] = {"a=b", "c", NULL};
	cobs_hist_key(a, sizeof(a), "n", "f", l3);
	cobs_hist_key(b, sizeof(b), "n", "f", l4);
	ck_assert_str_ne(a, b);
	cobs_hist_key(a, sizeof(a), "n:1", "f", NULL);
	cobs_hist_key(b, sizeof(b), "n", "1:f", NULL);
	ck_assert_str_ne(a, b);
	/* like snprintf: the length it needs, a truncated NUL-terminated prefix */
	char small[8];
	size_t need = cobs_hist_key(small, sizeof(small), "node-1", "fam", l1);
	ck_assert_uint_eq(need, strlen("6:node-13:fam3:cpu1:04:mode4:user"));
	ck_assert_str_eq(small, "6:node-");
	ck_assert_uint_eq(cobs_hist_key(NULL, 0, "node-1", "fam", l1), need);
	/* duplicate label names stay in their given order */
	const char *l5[] = {"x", "1", "x", "2", NULL};
	cobs_hist_key(a, sizeof(a), "", "", l5);
	ck_assert_str_eq(a, "0:0:1:x1:11:x1:2");
}
END_TEST

START_TEST(eviction_order)
{
	/*
	 * Class 2 ("processes"): p0..p3; class 1 ("pods"): q0, q1; class 0
	 * ("node"): n0. Views: p2 then p1 then q0.
	 * Expected victims: p0, p3 (never viewed, oldest first), p2, p1 (viewed,
	 * least recent first), q1, q0, then nothing: n0 stays.
	 */
	cobs_hist_store *s = cobs_hist_store_new(NULL, 0);
	const char *names[] = {"p0", "p1", "p2", "p3", "q0", "q1", "n0"};
	unsigned cls[] = {2, 2, 2, 2, 1, 1, 0};
	cobs_hist_id ids[7];
	for (int i = 0; i < 7; i++) {
		ids[i] = open_key(s, names[i], cls[i]);
		for (int k = 0; k < 200; k++)
			ck_assert_int_eq(cobs_hist_store_append(s, ids[i], T0 + k * 5000, k * 1.5),
			                 COBS_HIST_OK);
	}
	cobs_hist_point p[4];
	ck_assert_int_eq(cobs_hist_store_query(s, ids[2], T0, T0, p, 4), 1);
	ck_assert_int_eq(cobs_hist_store_touch(s, ids[1]), COBS_HIST_OK);
	ck_assert_int_ge(cobs_hist_store_query(s, ids[4], 0, INT64_MAX, p, 4), 0);
	/* the class of an existing series is not changed by reopening it */
	open_key(s, "p0", 0);

	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	size_t full = st.bytes;
	cobs_hist_ring_stats rs;
	const int order[] = {0, 3, 2, 1, 5, 4};
	for (int v = 0; v < 6; v++) {
		/* a budget one byte short: exactly one series must go, the expected one */
		cobs_hist_store_stats_get(s, &st);
		cobs_hist_store_set_budget(s, st.bytes - 1);
		for (int i = 0; i < 7; i++) {
			int gone = 0;
			for (int w = 0; w <= v; w++)
				gone |= order[w] == i;
			ck_assert_msg(alive(s, ids[i]) == !gone, "after eviction %d: %s is %s", v,
			              names[i], alive(s, ids[i]) ? "alive" : "gone");
		}
		cobs_hist_store_stats_get(s, &st);
		ck_assert_uint_eq(st.evicted, (uint64_t)v + 1);
		ck_assert_uint_le(st.bytes, full);
	}
	/* only class 0 left: over budget, and it says so, but nothing more goes */
	cobs_hist_store_set_budget(s, 1);
	ck_assert(alive(s, ids[6]));
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_gt(st.bytes, st.budget);
	ck_assert_uint_eq(st.evicted, 6);
	ck_assert_int_eq(cobs_hist_store_series_stats(s, ids[6], &rs), COBS_HIST_OK);
	ck_assert_uint_eq(rs.points, 200);
	ck_assert_int_eq(cobs_hist_store_append(s, ids[6], T0 + 200 * 5000, 1), COBS_HIST_OK);
	cobs_hist_store_free(s);
}
END_TEST

START_TEST(budget_holds_under_appends)
{
	/* Many process series appended to in rounds: the store stays within budget. */
	const size_t budget = 256 * 1024;
	cobs_hist_store *s = cobs_hist_store_new(NULL, budget);
	enum { N = 500 };
	cobs_hist_id ids[N];
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "proc-%d", i);
		ids[i] = open_key(s, key, i < 10 ? 0 : 2);
	}
	/* the node page views series 10..19 regularly */
	uint64_t lost = 0;
	for (int k = 0; k < 400; k++) {
		for (int i = 0; i < N; i++) {
			int rc = cobs_hist_store_append(s, ids[i], T0 + k * 5000 + i,
			                                (double)(k * i));
			if (rc == COBS_HIST_ENOENT) {
				lost++;
				snprintf(key, sizeof(key), "proc-%d", i);
				ids[i] = open_key(s, key, 2);
				rc = cobs_hist_store_append(s, ids[i], T0 + k * 5000 + i,
				                            (double)(k * i));
			}
			ck_assert_int_eq(rc, COBS_HIST_OK);
			cobs_hist_store_stats st;
			cobs_hist_store_stats_get(s, &st);
			ck_assert_uint_le(st.bytes, budget);
		}
		if (k % 10 == 0)
			for (int i = 10; i < 20; i++)
				ck_assert_int_ge(cobs_hist_store_touch(s, ids[i]), 0);
	}
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	/* every eviction but those after a series' last append was seen as a stale id */
	ck_assert_uint_gt(lost, 0);
	ck_assert_uint_le(lost, st.evicted);
	/* class 0 series kept all their points; viewed ones outlived the rest */
	cobs_hist_ring_stats rs;
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(cobs_hist_store_series_stats(s, ids[i], &rs), COBS_HIST_OK);
		ck_assert_uint_eq(rs.points, 400);
	}
	uint64_t viewed = 0, other = 0;
	for (int i = 10; i < N; i++) {
		ck_assert_int_eq(cobs_hist_store_series_stats(s, ids[i], &rs), COBS_HIST_OK);
		*(i < 20 ? &viewed : &other) += rs.points;
	}
	ck_assert_uint_gt(viewed / 10, other / (N - 20));
	cobs_hist_store_free(s);
}
END_TEST

START_TEST(eviction_leaves_headroom)
{
	/* An eviction goes 1/16 under the budget; "room" is only said 1/8 under it. */
	const size_t budget = 64 * 1024;
	cobs_hist_store *s = cobs_hist_store_new(NULL, budget);
	ck_assert(cobs_hist_store_has_room(s));
	char key[32];
	cobs_hist_store_stats st;
	int i = 0, lost_room_at = -1;
	for (; i < 1000; i++) {
		snprintf(key, sizeof(key), "proc-%d", i);
		cobs_hist_id id = open_key(s, key, 2);
		for (int k = 0; k < 50; k++)
			ck_assert_int_eq(cobs_hist_store_append(s, id, T0 + k * 5000, k * 0.5), 0);
		if (lost_room_at < 0 && !cobs_hist_store_has_room(s))
			lost_room_at = i;
		cobs_hist_store_stats_get(s, &st);
		if (st.evicted)
			break;
	}
	ck_assert_int_ge(lost_room_at, 0);
	ck_assert_int_lt(lost_room_at, i);
	ck_assert_uint_gt(st.evicted, 0);
	ck_assert_uint_le(st.bytes, budget - budget / 16);
	/* appends that stay under the budget evict nothing more */
	uint64_t evicted = st.evicted;
	cobs_hist_id keep = open_key(s, "node", 0);
	for (int k = 0; k < 20; k++)
		ck_assert_int_eq(cobs_hist_store_append(s, keep, T0 + k * 5000, k), 0);
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_le(st.bytes, budget);
	ck_assert_uint_eq(st.evicted, evicted);
	cobs_hist_store_set_budget(s, 0);
	ck_assert(cobs_hist_store_has_room(s));
	cobs_hist_store_free(s);
}
END_TEST

START_TEST(expire_removes_silent_series)
{
	cobs_hist_config c = {.retention_ms = 600000};
	cobs_hist_store *s = cobs_hist_store_new(&c, 0);
	cobs_hist_id live = open_key(s, "live", 0), dead = open_key(s, "dead", 2);
	cobs_hist_id empty = open_key(s, "empty", 2);
	for (int k = 0; k < 100; k++) {
		ck_assert_int_eq(cobs_hist_store_append(s, live, T0 + k * 5000, k), COBS_HIST_OK);
		if (k < 20)
			ck_assert_int_eq(cobs_hist_store_append(s, dead, T0 + k * 5000, k), 0);
	}
	/* "dead" stopped 80 * 5 s = 400 s ago: still within 10 min */
	int64_t now = T0 + 99 * 5000;
	ck_assert_uint_eq(cobs_hist_store_expire(s, now), 1); /* "empty" never had points */
	ck_assert(!alive(s, empty));
	ck_assert(alive(s, dead));
	ck_assert_uint_eq(cobs_hist_store_expire(s, now + 300000), 1);
	ck_assert(!alive(s, dead));
	ck_assert(alive(s, live));
	/* the same a few slots at a time: the cursor goes round */
	cobs_hist_id gone = open_key(s, "gone", 2);
	ck_assert_int_eq(cobs_hist_store_append(s, gone, T0, 1), COBS_HIST_OK);
	uint64_t removed = 0;
	for (int k = 0; k < 3; k++)
		removed += cobs_hist_store_expire_some(s, now + 300000, 1);
	ck_assert_uint_eq(removed, 1);
	ck_assert(!alive(s, gone));
	ck_assert(alive(s, live));
	ck_assert_uint_eq(cobs_hist_store_expire_some(s, now + 300000, 100), 0);
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_eq(st.expired, 3);
	ck_assert_uint_eq(st.series, 1);
	ck_assert_uint_eq(st.evicted, 0);
	cobs_hist_store_free(s);
	/* a bad config is refused */
	c.resolution_ms = -5;
	ck_assert_ptr_null(cobs_hist_store_new(&c, 0));
}
END_TEST

START_TEST(accounting_adds_up)
{
	cobs_hist_store *s = cobs_hist_store_new(NULL, 0);
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s, &st);
	size_t empty = st.bytes;
	ck_assert_uint_gt(empty, 0);
	ck_assert_uint_eq(st.points, 0);
	ck_assert(st.bytes_per_point == 0);

	enum { N = 40 };
	cobs_hist_id ids[N];
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "series-%d", i);
		ids[i] = open_key(s, key, (unsigned)i % 3);
	}
	/* the id and hash tables are now sized; what is not series is fixed */
	cobs_hist_store_stats_get(s, &st);
	size_t series_bytes = 0;
	for (int i = 0; i < N; i++) {
		cobs_hist_ring_stats rs;
		ck_assert_int_eq(cobs_hist_store_series_stats(s, ids[i], &rs), COBS_HIST_OK);
		series_bytes += rs.bytes;
	}
	size_t overhead = st.bytes - series_bytes;
	check_sums(s, ids, N, overhead);
	/* 2 h of 5 s points through 1 h retention: blocks are sealed and dropped */
	for (int k = 0; k < 1440; k++) {
		for (int i = 0; i < N; i++) {
			double v = i % 4 == 0 ? k * 0.01 * i : i % 4 == 1 ? 42 : (double)k / 3.0;
			ck_assert_int_eq(
			        cobs_hist_store_append(s, ids[i], T0 + k * 5000 + k % 3, v), 0);
		}
		if (k % 150 == 0)
			check_sums(s, ids, N, overhead);
	}
	check_sums(s, ids, N, overhead);
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_gt(st.points, (uint64_t)N * 720);
	ck_assert_uint_le(st.points, (uint64_t)N * 901);
	/* views, clears and removals keep it consistent */
	for (int i = 0; i < N; i += 3)
		ck_assert_int_eq(cobs_hist_store_clear(s, ids[i]), COBS_HIST_OK);
	check_sums(s, ids, N, overhead);
	for (int i = 1; i < N; i += 3)
		ck_assert_int_eq(cobs_hist_store_remove(s, ids[i]), COBS_HIST_OK);
	check_sums(s, ids, N, overhead);
	for (int i = 0; i < N; i++)
		cobs_hist_store_remove(s, ids[i]);
	cobs_hist_store_stats_get(s, &st);
	ck_assert_uint_eq(st.bytes, overhead);
	ck_assert_uint_eq(st.points, 0);
	ck_assert_uint_eq(st.stream_bits, 0);
	ck_assert_uint_eq(st.series, 0);
	cobs_hist_store_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("history_store");
	TCase *tc = tcase_create("store");
	tcase_add_test(tc, keys_ids_and_stale_ids);
	tcase_add_test(tc, many_series_index);
	tcase_add_test(tc, canonical_keys);
	tcase_add_test(tc, eviction_order);
	tcase_add_test(tc, eviction_leaves_headroom);
	tcase_add_test(tc, budget_holds_under_appends);
	tcase_add_test(tc, expire_removes_silent_series);
	tcase_add_test(tc, accounting_adds_up);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
