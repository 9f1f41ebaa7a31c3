/* The batch model: families, samples, label copies, reset reuse, merge. */
#include <check.h>
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

int main(void)
{
	Suite *s = suite_create("metric");
	TCase *tc = tcase_create("batch");
	tcase_add_test(tc, family_is_found_again_and_type_is_checked);
	tcase_add_test(tc, labels_are_copied);
	tcase_add_test(tc, reset_empties_and_reuses);
	tcase_add_test(tc, merge_appends_samples);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
