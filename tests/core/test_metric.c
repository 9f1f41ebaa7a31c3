/* The batch model: families, samples, label copies, reset reuse, merge, parts. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/metric.h>

#include "harness.h"

START_TEST(family_is_found_again_and_type_is_checked)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	cobs_family *f = cobs_batch_family(b, "x_total", "Xs.", "", COBS_COUNTER);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq(cobs_batch_family(b, "x_total", NULL, NULL, COBS_COUNTER), f);
	ck_assert_ptr_null(cobs_batch_family(b, "x_total", NULL, NULL, COBS_GAUGE));
	ck_assert_uint_eq(b->nfamilies, 1);
	cobs_batch_free(b);
}
END_TEST

START_TEST(labels_are_copied)
{
	cobs_batch *b = cobs_batch_new();
	cobs_family *f = cobs_batch_family(b, "g", "", "", COBS_GAUGE);
	char name[16], value[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "dev");
		snprintf(value, sizeof(value), "sd%d", i);
		ck_assert_int_eq(cobs_family_add1(b, f, i, name, value), 0);
	}
	strcpy(value, "clobbered");
	double v;
	ck_assert_int_eq(sample_value(b, "g", &v, "dev", "sd500", NULL), 1);
	ck_assert_double_eq(v, 500);
	ck_assert_uint_eq(cobs_batch_samples(b), 1000);
	cobs_batch_free(b);
}
END_TEST

START_TEST(reset_empties_and_reuses)
{
	cobs_batch *b = cobs_batch_new();
	for (int pass = 0; pass < 3; pass++) {
		cobs_batch_reset(b);
		ck_assert_uint_eq(b->nfamilies, 0);
		cobs_family *f = cobs_batch_family(b, "g", "help", "bytes", COBS_GAUGE);
		for (int i = 0; i < 5000; i++)
			ck_assert_int_eq(cobs_family_add2(b, f, i, "a", "x", "b", "yyyyyyyyyyyy"),
			                 0);
		ck_assert_uint_eq(cobs_batch_samples(b), 5000);
		ck_assert_str_eq(f->unit, "bytes");
	}
	cobs_batch_free(b);
}
END_TEST

START_TEST(merge_appends_samples)
{
	cobs_batch *a = cobs_batch_new(), *c = cobs_batch_new();
	cobs_family_add0(a, cobs_batch_family(a, "g", "", "", COBS_GAUGE), 1);
	cobs_family_add0(c, cobs_batch_family(c, "g", "", "", COBS_GAUGE), 2);
	cobs_family_add1(c, cobs_batch_family(c, "h", "", "", COBS_INFO), 1, "k", "v");
	ck_assert_int_eq(cobs_batch_merge(a, c), 0);
	ck_assert_uint_eq(family_size(a, "g"), 2);
	ck_assert_uint_eq(family_size(a, "h"), 1);
	cobs_batch_free(a);
	cobs_batch_free(c);
}
END_TEST

/* What a part hook saw: per part, its samples, flag and the value of its first sample. */
typedef struct parts_seen {
	size_t n;
	size_t samples[8];
	bool more[8];
	double first[8];
	int64_t ts[8];
	const char *node[8];
} parts_seen;

static void record_part(void *arg, cobs_batch *b)
{
	parts_seen *p = arg;
	ck_assert_uint_lt(p->n, 8);
	p->samples[p->n] = cobs_batch_samples(b);
	p->more[p->n] = b->more;
	p->first[p->n] = b->nfamilies ? b->families[0]->samples[0].value : -1;
	p->ts[p->n] = b->timestamp_ms;
	p->node[p->n] = b->node;
	p->n++;
}

START_TEST(checkpoint_hands_full_parts_to_the_host)
{
	cobs_batch *b = cobs_batch_new();
	parts_seen seen = {0};
	cobs_batch_set_parts(b, 4, record_part, &seen);
	b->timestamp_ms = 1234;
	b->node = "n1";
	/* A plugin caching its family pointers, as procpid does, across checkpoints. */
	cobs_family *f = cobs_batch_family(b, "g", "", "", COBS_GAUGE);
	cobs_family *h = cobs_batch_family(b, "h", "", "", COBS_COUNTER);
	char pid[16];
	for (int i = 0; i < 5; i++) { /* five "processes" of two samples each */
		snprintf(pid, sizeof(pid), "%d", i);
		ck_assert_int_eq(cobs_family_add1(b, f, i, "pid", pid), 0);
		ck_assert_int_eq(cobs_family_add1(b, h, 10 + i, "pid", pid), 0);
		cobs_batch_checkpoint(b);
	}
	/* after processes 0-1 and 2-3 the batch held 4 samples: two parts went out */
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_uint_eq(seen.samples[0], 4);
	ck_assert(seen.more[0] && seen.more[1]);
	ck_assert_double_eq(seen.first[1], 2);
	ck_assert_int_eq(seen.ts[1], 1234);
	ck_assert_str_eq(seen.node[1], "n1");
	/* what is left is the last process, both families listed again, more cleared */
	ck_assert(!b->more);
	ck_assert_uint_eq(b->nfamilies, 2);
	ck_assert_uint_eq(cobs_batch_samples(b), 2);
	ck_assert_str_eq(b->families[0]->samples[0].labels[0].value, "4");
	ck_assert_double_eq(cobs_batch_find(b, "h")->samples[0].value, 14);
	ck_assert_int_eq(b->timestamp_ms, 1234);
	cobs_batch_free(b);
}
END_TEST

START_TEST(checkpoint_without_a_host_does_nothing)
{
	cobs_batch *b = cobs_batch_new();
	cobs_family *f = cobs_batch_family(b, "g", "", "", COBS_GAUGE);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(cobs_family_add0(b, f, i), 0);
		cobs_batch_checkpoint(b);
	}
	ck_assert_uint_eq(cobs_batch_samples(b), 100);
	/* size 0 turns parts off even with a hook */
	parts_seen seen = {0};
	cobs_batch_set_parts(b, 0, record_part, &seen);
	cobs_batch_checkpoint(b);
	ck_assert_uint_eq(seen.n, 0);
	ck_assert_uint_eq(cobs_batch_samples(b), 100);
	/* and a reset keeps the setting but clears the flag */
	cobs_batch_set_parts(b, 1, record_part, &seen);
	cobs_batch_reset(b);
	ck_assert(!b->more);
	cobs_family_add0(b, cobs_batch_family(b, "g", "", "", COBS_GAUGE), 1);
	cobs_batch_checkpoint(b);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(b->nfamilies, 0);
	cobs_batch_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metric");
	TCase *tc = tcase_create("batch");
	tcase_add_test(tc, family_is_found_again_and_type_is_checked);
	tcase_add_test(tc, labels_are_copied);
	tcase_add_test(tc, reset_empties_and_reuses);
	tcase_add_test(tc, merge_appends_samples);
	tcase_add_test(tc, checkpoint_hands_full_parts_to_the_host);
	tcase_add_test(tc, checkpoint_without_a_host_does_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
