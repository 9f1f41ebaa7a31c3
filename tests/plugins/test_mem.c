/*
 * The mem plugin against fixture trees (tests/fixtures/nodes/<kind>/proc and
 * tests/fixtures/hostile/mem-<case>/proc) and against this machine's
 * /proc/meminfo: node_exporter's names, kB -> bytes, counts left as counts,
 * the derived used percentage and its pre-3.14 fallback, garbled files.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define USED "node_memory_used_percent"

static double value_of(const cobs_batch *b, const char *name)
{
	double v = -1;
	int n = sample_value(b, name, &v, NULL);
	ck_assert_msg(n == 1, "%s: %d matching samples, expected 1", name, n);
	return v;
}

#define ABSENT(b, name) ck_assert_msg(!cobs_batch_find((b), (name)), "%s should be absent", (name))

/* Opens the plugin on a proc root and collects once into b; returns collect's result. */
static int collect_from(harness *h, const char *proc_root, cobs_batch *b)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "mem", proc_root, NULL, NULL);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
	return harness_collect(h, b);
}

START_TEST(small_vm)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("nodes/small-vm/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 2030020.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_MemFree_bytes"), 143212.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_MemAvailable_bytes"), 1203456.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Buffers_bytes"), 61236.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Cached_bytes"), 951788.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_SwapTotal_bytes"), 969960.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_SwapFree_bytes"), 903412.0 * 1024);
	/* parentheses the node_exporter way */
	ck_assert_double_eq(value_of(b, "node_memory_Active_anon_bytes"), 91236.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Inactive_file_bytes"), 371392.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_VmallocTotal_bytes"), 34359738367.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Committed_AS_bytes"), 2583516.0 * 1024);
	/* counts stay counts: no _bytes, no * 1024 */
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Total"), 0);
	ABSENT(b, "node_memory_HugePages_Total_bytes");
	ck_assert_double_eq(value_of(b, "node_memory_Hugepagesize_bytes"), 2048.0 * 1024);
	/* every one of the 50 lines, plus used % */
	ck_assert_uint_eq(b->nfamilies, 50 + 1);
	ck_assert_uint_eq(cobs_batch_samples(b), 50 + 1);

	const cobs_family *f = cobs_batch_find(b, "node_memory_MemTotal_bytes");
	ck_assert_int_eq(f->type, COBS_GAUGE);
	ck_assert_str_eq(f->unit, "bytes");
	ck_assert_str_eq(f->help, "Memory information field MemTotal_bytes.");
	ck_assert_str_eq(cobs_batch_find(b, "node_memory_HugePages_Free")->unit, "");

	/* 100 * (MemTotal - MemAvailable) / MemTotal = 100 * (2030020 - 1203456) / 2030020
	 *                                            = 100 * 826564 / 2030020 = 40.7170...% */
	ck_assert_double_eq_tol(value_of(b, USED), 100.0 * 826564 / 2030020, 1e-9);
	f = cobs_batch_find(b, USED);
	ck_assert_int_eq(f->type, COBS_GAUGE);
	ck_assert_str_eq(f->unit, "percent");

	/* a second pass on the kept-open file gives the same shape */
	ck_assert_int_eq(harness_collect(&h, b), 0);
	ck_assert_uint_eq(cobs_batch_samples(b), 51);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(new_kernel_keys)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("nodes/new-kernel/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_Percpu_bytes"), 28672.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_KReclaimable_bytes"), 2345672.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_SecPageTables_bytes"), 4096.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_FileHugePages_bytes"), 65536.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_FilePmdMapped_bytes"), 32768.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Zswap_bytes"), 45678.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Zswapped_bytes"), 123456.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Unaccepted_bytes"), 0);
	ck_assert_double_eq(value_of(b, "node_memory_Hugetlb_bytes"), 32768.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Total"), 16);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Free"), 12);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Rsvd"), 2);
	ck_assert_double_eq(value_of(b, "node_memory_DirectMap1G_bytes"), 51380224.0 * 1024);
	ck_assert_uint_eq(b->nfamilies, 57 + 1);
	/* 100 * (65536412 - 45678904) / 65536412 = 100 * 19857508 / 65536412 */
	ck_assert_double_eq_tol(value_of(b, USED), 100.0 * 19857508 / 65536412, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(old_kernel_without_memavailable)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("nodes/old-kernel/proc"), b), 0);
	ABSENT(b, "node_memory_MemAvailable_bytes");
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 8174236.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_LowTotal_bytes"), 8174236.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_VmallocChunk_bytes"), 34359468063.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Rsvd"), 0);
	ck_assert_uint_eq(b->nfamilies, 30 + 1);
	/*
	 * MemFree + Buffers + Cached stands in for MemAvailable:
	 *   191884 + 336512 + 6296388 = 6824784 kB
	 *   100 * (8174236 - 6824784) / 8174236 = 100 * 1349452 / 8174236 = 16.5086...%
	 */
	ck_assert_double_eq_tol(value_of(b, USED), 100.0 * 1349452 / 8174236, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(many_core)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("nodes/many-core/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 527951948.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_AnonHugePages_bytes"), 67108864.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Total"), 1024);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Free"), 512);
	ck_assert_double_eq(value_of(b, "node_memory_SwapTotal_bytes"), 0);
	/* 100 * (527951948 - 398765432) / 527951948 = 100 * 129186516 / 527951948 */
	ck_assert_double_eq_tol(value_of(b, USED), 100.0 * 129186516 / 527951948, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(init_fails_on_missing_proc_root)
{
	harness h;
	ck_assert_int_eq(
	        harness_open(&h, COBS_PLUGIN_COLLECTOR, "mem", "/nonexistent/proc", NULL, NULL),
	        -1);
	ck_assert_msg(strstr(h.err.msg, "/nonexistent/proc/meminfo"), "message: %s", h.err.msg);
	ck_assert_msg(strstr(h.err.msg, "mem"), "message: %s", h.err.msg);
	harness_close(&h);
}
END_TEST

START_TEST(has_no_config_keys)
{
	/* a key mem does not know is the host's "unknown key" error, naming it */
	harness h;
	const char *kv[] = {"per_cpu", "true", NULL};
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "mem",
	                              fixture("nodes/small-vm/proc"), NULL, kv),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "per_cpu"), "message: %s", h.err.msg);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_truncated)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("hostile/mem-truncated/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 2030020.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_MemFree_bytes"), 143212.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_SwapTotal_bytes"), 969960.0 * 1024);
	/* "MemAvailable:" with no value; "Cached: 951788 k" (cut unit) */
	ABSENT(b, "node_memory_MemAvailable_bytes");
	ABSENT(b, "node_memory_Cached_bytes");
	ABSENT(b, "node_memory_Cached");
	/* "SwapFree:         903" with no newline: a cut copy, not a count of 903 */
	ABSENT(b, "node_memory_SwapFree");
	ABSENT(b, "node_memory_SwapFree_bytes");
	/* no MemAvailable, and no Buffers/Cached for the fallback: no used % */
	ABSENT(b, USED);
	ck_assert_uint_eq(b->nfamilies, 3);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_garbage)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("hostile/mem-garbage/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 2030020.0 * 1024);
	/* the first MemAvailable wins over the later duplicate "1 kB" */
	ck_assert_double_eq(value_of(b, "node_memory_MemAvailable_bytes"), 1203456.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_Inactive_anon_bytes"), 448720.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_HugePages_Total"), 7);
	ck_assert_double_eq(value_of(b, "node_memory_Bounce_bytes"), 0); /* "Bounce:0 kB" */
	ck_assert_double_eq(value_of(b, "node_memory_KReclaimable_bytes"), 98412.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_DirectMap4k_bytes"), 126848.0 * 1024);
	/* "abc", no colon, a space in the key, "-5", overflow, extra field, "MB", empty key,
	 * binary bytes in the key: all skipped */
	ABSENT(b, "node_memory_MemFree_bytes");
	ABSENT(b, "node_memory_Active_anon_bytes");
	ABSENT(b, "node_memory_Slab_bytes");
	ABSENT(b, "node_memory_Shmem_bytes");
	ABSENT(b, "node_memory_Cached_bytes");
	ABSENT(b, "node_memory__bytes");
	/* "Writeback: 12\0 kB": a NUL mid-line, not an end of line (else a count of 12) */
	ABSENT(b, "node_memory_Writeback");
	ABSENT(b, "node_memory_Writeback_bytes");
	ck_assert_uint_eq(b->nfamilies, 7 + 1);
	/* 100 * (2030020 - 1203456) / 2030020 = 100 * 826564 / 2030020 */
	ck_assert_double_eq_tol(value_of(b, USED), 100.0 * 826564 / 2030020, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_inconsistent)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("hostile/mem-inconsistent/proc"), b), 0);
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), 1000.0 * 1024);
	ck_assert_double_eq(value_of(b, "node_memory_MemAvailable_bytes"), 3000.0 * 1024);
	ABSENT(b, USED); /* available > total: no negative percentage */
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_empty)
{
	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, fixture("hostile/mem-empty/proc"), b), -1);
	ck_assert_uint_eq(cobs_batch_samples(b), 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(real_proc_meminfo)
{
	/* what the test reads itself */
	FILE *fp = fopen("/proc/meminfo", "r");
	ck_assert_ptr_nonnull(fp);
	char line[256];
	unsigned long long total_kb = 0;
	int lines = 0;
	while (fgets(line, sizeof(line), fp)) {
		sscanf(line, "MemTotal: %llu kB", &total_kb);
		lines++;
	}
	fclose(fp);
	ck_assert_uint_gt(total_kb, 0);

	harness h;
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(collect_from(&h, NULL, b), 0); /* NULL: the real /proc */
	ck_assert_double_eq(value_of(b, "node_memory_MemTotal_bytes"), (double)total_kb * 1024);
	ck_assert_double_gt(value_of(b, "node_memory_MemFree_bytes"), 0);
	double used = value_of(b, USED);
	ck_assert_double_gt(used, 0);
	ck_assert_double_lt(used, 100);
	/* every line became a family (the kernel's keys are all well-formed), plus used % */
	ck_assert_uint_eq(b->nfamilies, (size_t)lines + 1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mem");
	TCase *kinds = tcase_create("kinds");
	tcase_add_test(kinds, small_vm);
	tcase_add_test(kinds, new_kernel_keys);
	tcase_add_test(kinds, old_kernel_without_memavailable);
	tcase_add_test(kinds, many_core);
	tcase_add_test(kinds, init_fails_on_missing_proc_root);
	tcase_add_test(kinds, has_no_config_keys);
	suite_add_tcase(s, kinds);
	TCase *hostile = tcase_create("hostile");
	tcase_add_test(hostile, hostile_truncated);
	tcase_add_test(hostile, hostile_garbage);
	tcase_add_test(hostile, hostile_inconsistent);
	tcase_add_test(hostile, hostile_empty);
	suite_add_tcase(s, hostile);
	TCase *real = tcase_create("real");
	tcase_add_test(real, real_proc_meminfo);
	suite_add_tcase(s, real);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
