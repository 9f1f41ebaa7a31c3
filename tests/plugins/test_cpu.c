/*
 * The cpu plugin against fixture trees (tests/fixtures/nodes/<kind>/proc and
 * tests/fixtures/hostile/cpu-<case>/proc) and against this machine's /proc:
 * exact counter values, usage from hand-computed deltas, resets, CPUs going
 * offline, garbled files and init failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SECONDS "node_cpu_seconds_total"
#define GUEST   "node_cpu_guest_seconds_total"
#define AGG     "node_cpu_aggregate_seconds_total"
#define USAGE   "node_cpu_usage_percent"
#define SEC     1000000000ull

static const char *const modes[8] = {"user",   "nice", "system",  "idle",
                                     "iowait", "irq",  "softirq", "steal"};

/* USER_HZ as the plugin sees it; expected seconds are ticks / hz, computed the same way. */
static double hz(void)
{
	return (double)sysconf(_SC_CLK_TCK);
}

/* sample_value() for a NULL-terminated label list of 0, 1 or 2 pairs. */
static int lookup(const cobs_batch *b, const char *name, const char *const *lv, double *out)
{
	size_t n = 0;
	while (lv[n])
		n++;
	switch (n) {
	case 0:
		return sample_value(b, name, out, NULL);
	case 2:
		return sample_value(b, name, out, lv[0], lv[1], NULL);
	case 4:
		return sample_value(b, name, out, lv[0], lv[1], lv[2], lv[3], NULL);
	}
	ck_abort_msg("lookup: odd label list for %s", name);
	return -1;
}

/* The value of one sample, which must exist exactly once. */
static double value_of(const cobs_batch *b, const char *name, const char *const *lv)
{
	double v = -1;
	int n = lookup(b, name, lv, &v);
	if (n != 1) {
		char what[256] = "";
		for (size_t i = 0; lv[i] && lv[i + 1]; i += 2) {
			size_t len = strlen(what);
			snprintf(what + len, sizeof(what) - len, " %s=%s", lv[i], lv[i + 1]);
		}
		ck_abort_msg("%s{%s }: %d matching samples, expected 1", name, what, n);
	}
	return v;
}

/* No sample matches. */
static void absent(const cobs_batch *b, const char *name, const char *const *lv)
{
	double v;
	int n = lookup(b, name, lv, &v);
	ck_assert_msg(n == 0, "%s{%s=%s ...}: %d samples, expected none", name, lv[0] ? lv[0] : "",
	              lv[0] && lv[1] ? lv[1] : "", n);
}

#define VALUE(b, name, ...)  value_of((b), (name), (const char *const[]){__VA_ARGS__, NULL})
#define VALUE0(b, name)      value_of((b), (name), (const char *const[]){NULL})
#define ABSENT(b, name, ...) absent((b), (name), (const char *const[]){__VA_ARGS__, NULL})

static void open_ok(harness *h, const char *proc_root, const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "cpu", proc_root, NULL, kv);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
}

/* Asserts the 8 modes of one CPU's line (ticks) in node_cpu_seconds_total. */
static void assert_cpu(const cobs_batch *b, const char *cpu, const unsigned long long *ticks)
{
	for (int i = 0; i < 8; i++)
		ck_assert_double_eq(VALUE(b, SECONDS, "cpu", cpu, "mode", modes[i]),
		                    (double)ticks[i] / hz());
}

/* ---- a temporary proc root whose files tests overwrite between collections ---- */

static char root[64];

static void put(const char *name, const char *src_rel)
{
	char dst[256];
	snprintf(dst, sizeof(dst), "%s/%s", root, name);
	ck_assert_msg(fixture_put(fixture(src_rel), dst) == 0, "cannot copy %s", src_rel);
}

static void make_root(const char *stat_rel, const char *loadavg_rel)
{
	const char *t = temp_dir();
	ck_assert_ptr_nonnull(t);
	snprintf(root, sizeof(root), "%s", t);
	put("stat", stat_rel);
	if (loadavg_rel)
		put("loadavg", loadavg_rel);
}

static void remove_root(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/stat", root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/loadavg", root);
	unlink(p);
	rmdir(root);
}

/* ---- machine kinds ---- */

START_TEST(small_vm_counters)
{
	harness h;
	open_ok(&h, fixture("nodes/small-vm/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);

	static const unsigned long long cpu0[8] = {412345, 1203, 98765, 2345678,
	                                           4321,   0,    6789,  1234};
	static const unsigned long long cpu1[8] = {398765, 987, 101234, 2356789,
	                                           3987,   0,   5432,   1198};
	static const unsigned long long agg[8] = {811110, 2190, 199999, 4702467,
	                                          8308,   0,    12221,  2432};
	assert_cpu(b, "0", cpu0);
	assert_cpu(b, "1", cpu1);
	ck_assert_uint_eq(family_size(b, SECONDS), 16);
	for (int i = 0; i < 8; i++)
		ck_assert_double_eq(VALUE(b, AGG, "mode", modes[i]), (double)agg[i] / hz());
	ck_assert_uint_eq(family_size(b, AGG), 8);
	/* the guest columns exist (both 0 on this VM): node_exporter emits them */
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "1", "mode", "user"), 0);
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "1", "mode", "nice"), 0);
	ck_assert_uint_eq(family_size(b, GUEST), 4);

	ck_assert_double_eq(VALUE0(b, "node_context_switches_total"), 98765432);
	ck_assert_double_eq(VALUE0(b, "node_intr_total"), 45678901);
	ck_assert_double_eq(VALUE0(b, "node_forks_total"), 123456);
	ck_assert_double_eq(VALUE0(b, "node_procs_running"), 2);
	ck_assert_double_eq(VALUE0(b, "node_procs_blocked"), 0);
	ck_assert_double_eq(VALUE0(b, "node_boot_time_seconds"), 1718000000);
	ck_assert_double_eq(VALUE0(b, "node_load1"), 0.52);
	ck_assert_double_eq(VALUE0(b, "node_load5"), 0.41);
	ck_assert_double_eq(VALUE0(b, "node_load15"), 0.35);

	/* first collection: no usage yet */
	ck_assert_ptr_null(cobs_batch_find(b, USAGE));

	const cobs_family *f = cobs_batch_find(b, SECONDS);
	ck_assert_int_eq(f->type, COBS_COUNTER);
	ck_assert_str_eq(f->unit, "seconds");
	ck_assert_int_eq(cobs_batch_find(b, "node_load1")->type, COBS_GAUGE);
	ck_assert_int_eq(cobs_batch_find(b, "node_forks_total")->type, COBS_COUNTER);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(small_vm_usage_from_deltas)
{
	make_root("nodes/small-vm/proc/stat", "nodes/small-vm/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100 * SEC), 0);
	put("stat", "nodes/small-vm/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 110 * SEC), 0);

	/*
	 * cpu0   t0: 412345 1203 98765 2345678 4321 0 6789 1234
	 *        t1: 412596 1203 98862 2346281 4342 0 6807 1243
	 *        Δ:     251    0    97     603   21 0   18    9
	 *        Δtotal = 251+0+97+603+21+0+18+9 = 999, Δbusy = 999-603-21 = 375
	 * cpu1   Δ: 88 3 41 842 7 0 11 6 -> Δtotal = 998, Δbusy = 998-842-7 = 149
	 * total  t0: 811110 2190 199999 4702467 8308 0 12221 2432
	 *        t1: 811449 2193 200137 4703912 8336 0 12250 2447
	 *        Δ:     339    3    138    1445   28 0    29   15
	 *        Δtotal = 1997, Δbusy = 1997-1445-28 = 524
	 */
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "0"), 100.0 * 375 / 999, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "1"), 100.0 * 149 / 998, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 524 / 1997, 1e-9);
	ck_assert_uint_eq(family_size(b, USAGE), 3);
	const cobs_family *f = cobs_batch_find(b, USAGE);
	ck_assert_int_eq(f->type, COBS_GAUGE);
	ck_assert_str_eq(f->unit, "percent");

	/* and the counters are t1's */
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "0", "mode", "user"), 412596 / hz());
	ck_assert_double_eq(VALUE0(b, "node_context_switches_total"), 98771234);
	ck_assert_double_eq(VALUE0(b, "node_procs_blocked"), 1);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(reset_gives_no_usage_then_resumes)
{
	make_root("nodes/small-vm/t1/stat", "nodes/small-vm/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100 * SEC), 0);
	/* every counter goes down (t1 -> t0): a reset, no usage for anyone */
	put("stat", "nodes/small-vm/proc/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 110 * SEC), 0);
	ck_assert_uint_eq(family_size(b, USAGE), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 16); /* the counters are still reported */
	/* the reset pass became the new baseline: t0 -> t1 gives the usual figures */
	put("stat", "nodes/small-vm/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 120 * SEC), 0);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "0"), 100.0 * 375 / 999, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 524 / 1997, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(partial_resets_and_iowait_going_down)
{
	make_root("hostile/cpu-backwards/proc/stat", "hostile/cpu-backwards/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 10 * SEC), 0);
	put("stat", "hostile/cpu-backwards/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 15 * SEC), 0);
	/*
	 * Every CPU at t0: 1000 0 500 8000 100 0 50 10 0 0 (total 9660, busy 1560).
	 * cpu0 t1: 1300 0 500 7950 100 0 50 10: total +250 but idle went back 50: a reset
	 * cpu1 t1: 1050 0 520 8105 95 0 50 10: iowait -5, idle +105 (ticks moved between
	 *          them, proc.rst allows it): Δtotal = 50+20+105-5 = 170, Δbusy = 70
	 * cpu2 t1: 500 0 500 9000 100 0 50 10: total +500 but user went back: a reset
	 * cpu3 t1: 8 columns instead of 10: not comparable, starts again
	 * total t0: 4000 0 2000 32000 400 0 200 40 -> total 38640, idle+iowait 32400
	 *       t1: 3950 0 2070 33455 405 0 205 42 -> total 40127, idle+iowait 33860
	 *       Δtotal = 1487, Δbusy = (40127-33860) - (38640-32400) = 6267 - 6240 = 27
	 */
	ABSENT(b, USAGE, "cpu", "0");
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "1"), 100.0 * 70 / 170, 1e-9);
	ABSENT(b, USAGE, "cpu", "2");
	ABSENT(b, USAGE, "cpu", "3");
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 27 / 1487, 1e-9);
	ck_assert_uint_eq(family_size(b, USAGE), 2);
	/* the counters themselves are reported as read, backwards or not */
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "2", "mode", "user"), 500 / hz());
	ck_assert_uint_eq(family_size(b, SECONDS), 3 * 8 + 8);
	ck_assert_uint_eq(family_size(b, GUEST), 3 * 2);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(unchanged_counters_give_no_usage)
{
	harness h;
	open_ok(&h, fixture("nodes/small-vm/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1 * SEC), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 2 * SEC), 0);
	ck_assert_uint_eq(family_size(b, USAGE), 0); /* Δtotal = 0: no division by zero */
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(cpu_going_offline_leaves_no_state)
{
	make_root("hostile/cpu-offline/proc/stat", "hostile/cpu-offline/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 10 * SEC), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 32);

	/* t1: cpu2 is offline (no cpu2 line); the aggregate still counts its frozen ticks */
	put("stat", "hostile/cpu-offline/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 15 * SEC), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 24);
	ABSENT(b, SECONDS, "cpu", "2");
	ABSENT(b, USAGE, "cpu", "2");
	/*
	 * cpu0, cpu1, cpu3 each Δ: 60 0 30 400 5 0 3 2 -> Δtotal 500, Δbusy 500-400-5 = 95
	 * total: t0 39500 0 18600 322000 405 0 740 155, t1 39680 0 18690 323200 420 0 749 161
	 *        Δ 180 0 90 1200 15 0 9 6 -> Δtotal 1500, Δbusy 1500-1200-15 = 285
	 */
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "0"), 100.0 * 95 / 500, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "3"), 100.0 * 95 / 500, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 285 / 1500, 1e-9);
	ck_assert_uint_eq(family_size(b, USAGE), 4);

	/*
	 * t2: cpu2 is back and has counted on from where it froze (+ one interval).
	 * Its state was swept at t1, so this is its first sample again: a delta
	 * against t0 would span its absence. The others go on: Δtotal 500, Δbusy 95;
	 * total: t2 39920 0 18810 324800 440 0 761 169 -> Δ 240 0 120 1600 20 0 12 8
	 *        -> Δtotal 2000, Δbusy 2000-1600-20 = 380
	 */
	put("stat", "hostile/cpu-offline/t2/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 20 * SEC), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 32);
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "2", "mode", "user"), 9060 / hz());
	ABSENT(b, USAGE, "cpu", "2");
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "1"), 100.0 * 95 / 500, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 380 / 2000, 1e-9);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(many_core)
{
	harness h;
	open_ok(&h, fixture("nodes/many-core/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 64 * 8);
	ck_assert_uint_eq(family_size(b, GUEST), 64 * 2);
	char id[8];
	for (int i = 0; i < 64; i++) {
		snprintf(id, sizeof(id), "%d", i);
		double v;
		ck_assert_int_eq(sample_value(b, SECONDS, &v, "cpu", id, "mode", "steal", NULL), 1);
	}
	static const unsigned long long cpu0[8] = {1234567, 8901, 234567, 25000000,
	                                           45678,   0,    98765,  0};
	assert_cpu(b, "0", cpu0);
	/* cpu63 2063259 597 446271 21789056 58178 0 28350 0 164819 25 */
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "63", "mode", "idle"), 21789056 / hz());
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "0", "mode", "user"), 456789 / hz());
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "0", "mode", "nice"), 123 / hz());
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "63", "mode", "nice"), 25 / hz());
	ck_assert_double_eq(VALUE(b, AGG, "mode", "user"), 102754271 / hz());
	ck_assert_double_eq(VALUE(b, AGG, "mode", "idle"), 1594560571 / hz());
	ck_assert_double_eq(VALUE0(b, "node_context_switches_total"), 9876543210.0);
	ck_assert_double_eq(VALUE0(b, "node_intr_total"), 23456789012.0);
	ck_assert_double_eq(VALUE0(b, "node_procs_running"), 17);
	ck_assert_double_eq(VALUE0(b, "node_load1"), 23.17);
	ck_assert_double_eq(VALUE0(b, "node_load15"), 18.02);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(old_kernel_has_fewer_columns)
{
	make_root("nodes/old-kernel/proc/stat", "nodes/old-kernel/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 50 * SEC), 0);
	/* 2.6.18: 8 columns, no guest ones, no softirq line */
	static const unsigned long long cpu0[8] = {113201, 3412, 144123, 11311718,
	                                           36751,  1270, 4389,   0};
	assert_cpu(b, "0", cpu0);
	ck_assert_uint_eq(family_size(b, SECONDS), 4 * 8);
	ck_assert_ptr_null(cobs_batch_find(b, GUEST));
	ck_assert_double_eq(VALUE0(b, "node_boot_time_seconds"), 1262304000);
	ck_assert_double_eq(VALUE0(b, "node_context_switches_total"), 1990473123);
	ck_assert_double_eq(VALUE0(b, "node_load1"), 0.08);

	put("stat", "nodes/old-kernel/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 60 * SEC), 0);
	/*
	 * cpu0 Δ: 150 0 60 770 12 1 7 0 -> Δtotal 1000, Δbusy 1000-770-12 = 218
	 * total Δ (sum of the four CPUs' Δ):
	 *   user 150+40+25+33 = 248, nice 0+0+0+2 = 2, system 60+20+15+18 = 113,
	 *   idle 770+935+955+940 = 3600, iowait 12+3+4+5 = 24, irq 1, softirq 7+2+1+2 = 12,
	 *   steal 0 -> Δtotal 4000, Δbusy 4000-3600-24 = 376
	 */
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "0"), 100.0 * 218 / 1000, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 376 / 4000, 1e-9);
	ck_assert_uint_eq(family_size(b, USAGE), 5);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(new_kernel_guest_time)
{
	harness h;
	open_ok(&h, fixture("nodes/new-kernel/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	/* cpu3 280667 81 54965 3272722 6779 0 8271 1847 31694 0 */
	static const unsigned long long cpu3[8] = {280667, 81, 54965, 3272722, 6779, 0, 8271, 1847};
	assert_cpu(b, "3", cpu3);
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "3", "mode", "user"), 31694 / hz());
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "3", "mode", "nice"), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 8 * 8);
	/* the aggregate's guest columns have no family (node_exporter has no aggregate) */
	ck_assert_uint_eq(family_size(b, AGG), 8);
	ck_assert_double_eq(VALUE(b, AGG, "mode", "steal"), 8548 / hz());
	ck_assert_double_eq(VALUE0(b, "node_forks_total"), 2345678);
	ck_assert_double_eq(VALUE0(b, "node_load5"), 4.12);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(new_kernel_usage_leaves_guest_out)
{
	make_root("nodes/new-kernel/proc/stat", "nodes/new-kernel/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 30 * SEC), 0);
	put("stat", "nodes/new-kernel/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 35 * SEC), 0);
	/*
	 * cpu3 t0: 280667 81 54965 3272722 6779 0 8271 1847 | guest 31694 0
	 *      t1: 280847 83 55005 3272952 6791 0 8280 1874 | guest 31844 0
	 *      Δ:     180  2    40     230   12 0    9   27 | guest   150 0
	 *      Δtotal = 180+2+40+230+12+0+9+27 = 500, Δbusy = 500-230-12 = 258
	 *      (with guest counted twice it would be 408 / 650)
	 * total t0: 1773916 12112 384070 25983172 28509 0 35187 8548 | 369927 0
	 *       t1: 1774936 12114 384320 25985712 28556 0 35238 8638 | 370497 0
	 *       Δ:     1020     2    250     2540    47 0    51   90 |    570 0
	 *       Δtotal = 4000, Δbusy = 4000-2540-47 = 1413
	 */
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "3"), 100.0 * 258 / 500, 1e-9);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 1413 / 4000, 1e-9);
	ck_assert_uint_eq(family_size(b, USAGE), 8 + 1);
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "3", "mode", "user"), 31844 / hz());
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

/* ---- config ---- */

START_TEST(per_cpu_false_keeps_only_the_aggregate)
{
	make_root("nodes/small-vm/proc/stat", "nodes/small-vm/proc/loadavg");
	harness h;
	const char *kv[] = {"per_cpu", "false", NULL};
	open_ok(&h, root, kv);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1 * SEC), 0);
	put("stat", "nodes/small-vm/t1/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 11 * SEC), 0);
	ck_assert_ptr_null(cobs_batch_find(b, SECONDS));
	ck_assert_ptr_null(cobs_batch_find(b, GUEST));
	ck_assert_uint_eq(family_size(b, AGG), 8);
	ck_assert_uint_eq(family_size(b, USAGE), 1);
	ck_assert_double_eq_tol(VALUE(b, USAGE, "cpu", "total"), 100.0 * 524 / 1997, 1e-9);
	ck_assert_double_eq(VALUE0(b, "node_context_switches_total"), 98771234);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

START_TEST(bad_per_cpu_value_fails_init)
{
	harness h;
	const char *kv[] = {"per_cpu", "maybe", NULL};
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "cpu",
	                              fixture("nodes/small-vm/proc"), NULL, kv),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "per_cpu"), "message: %s", h.err.msg);
	harness_close(&h);
}
END_TEST

/* ---- init failures ---- */

START_TEST(init_fails_on_missing_proc_root)
{
	harness h;
	ck_assert_int_eq(
	        harness_open(&h, COBS_PLUGIN_COLLECTOR, "cpu", "/nonexistent/proc", NULL, NULL),
	        -1);
	ck_assert_msg(strstr(h.err.msg, "/nonexistent/proc/stat"), "message: %s", h.err.msg);
	ck_assert_msg(strstr(h.err.msg, "cpu"), "message: %s", h.err.msg);
	harness_close(&h);
}
END_TEST

START_TEST(init_fails_without_loadavg)
{
	make_root("nodes/small-vm/proc/stat", NULL);
	harness h;
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "cpu", root, NULL, NULL), -1);
	char want[128];
	snprintf(want, sizeof(want), "%s/loadavg", root);
	ck_assert_msg(strstr(h.err.msg, want), "message: %s", h.err.msg);
	harness_close(&h);
	remove_root();
}
END_TEST

/* ---- hostile files ---- */

START_TEST(hostile_truncated)
{
	harness h;
	open_ok(&h, fixture("hostile/cpu-truncated/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	ck_assert_uint_eq(family_size(b, AGG), 8);
	static const unsigned long long cpu0[8] = {412345, 1203, 98765, 2345678,
	                                           4321,   0,    6789,  1234};
	assert_cpu(b, "0", cpu0);
	/* "cpu1 398765 987 10" with no newline: cut short, dropped rather than half-read */
	ABSENT(b, SECONDS, "cpu", "1");
	ck_assert_uint_eq(family_size(b, SECONDS), 8);
	ck_assert_ptr_null(cobs_batch_find(b, "node_context_switches_total"));
	/* loadavg "0.52 0.41 0.3" with no newline: 0.3 may be 0.35 cut short, so none */
	ck_assert_ptr_null(cobs_batch_find(b, "node_load1"));
	ck_assert_ptr_null(cobs_batch_find(b, "node_load15"));
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_missing_and_extra_fields)
{
	harness h;
	open_ok(&h, fixture("hostile/cpu-fields/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	/* "cpu  30000 100 9000 500000 700 10 300 50 0 0 777 888": 12 columns, 2 unknown */
	ck_assert_uint_eq(family_size(b, AGG), 8);
	ck_assert_double_eq(VALUE(b, AGG, "mode", "steal"), 50 / hz());
	/* cpu0 has 5 columns (user..iowait), cpu1 the 4 of 2.4, cpu2 3 (too few), cpu3 9 */
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "0", "mode", "iowait"), 350 / hz());
	ABSENT(b, SECONDS, "cpu", "0", "mode", "irq");
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "1", "mode", "idle"), 250000 / hz());
	ABSENT(b, SECONDS, "cpu", "1", "mode", "iowait");
	ABSENT(b, SECONDS, "cpu", "2");
	ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "3", "mode", "steal"), 25 / hz());
	ck_assert_uint_eq(family_size(b, SECONDS), 5 + 4 + 8);
	/* cpu3 has guest but no guest_nice column */
	ck_assert_double_eq(VALUE(b, GUEST, "cpu", "3", "mode", "user"), 1234 / hz());
	ck_assert_uint_eq(family_size(b, GUEST), 1);
	/* "intr", "ctxt", "procs_running" without a number; "btime N 42" keeps N */
	ck_assert_ptr_null(cobs_batch_find(b, "node_intr_total"));
	ck_assert_ptr_null(cobs_batch_find(b, "node_context_switches_total"));
	ck_assert_ptr_null(cobs_batch_find(b, "node_procs_running"));
	ck_assert_double_eq(VALUE0(b, "node_boot_time_seconds"), 1718000000);
	ck_assert_double_eq(VALUE0(b, "node_forks_total"), 4000);
	ck_assert_double_eq(VALUE0(b, "node_procs_blocked"), 3);
	ck_assert_double_eq(VALUE0(b, "node_load15"), 0.35);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_garbage)
{
	harness h;
	open_ok(&h, fixture("hostile/cpu-garbage/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	for (int pass = 0; pass < 3; pass++) {
		ck_assert_int_eq(harness_collect_at(&h, b, (uint64_t)(pass + 1) * SEC), 0);
		/* "cpu  abc ...": no aggregate */
		ck_assert_ptr_null(cobs_batch_find(b, AGG));
		/* cpu0 is fine and its later duplicate line is ignored (one sample, first values)
		 */
		static const unsigned long long cpu0[8] = {412345, 1203, 98765, 2345678,
		                                           4321,   0,    6789,  1234};
		assert_cpu(b, "0", cpu0);
		/* negative, overflowing, "4x", "cpuX", a 20-digit id, "cpufreq", a NUL: skipped */
		ABSENT(b, SECONDS, "cpu", "1");
		ABSENT(b, SECONDS, "cpu", "2");
		ABSENT(b, SECONDS, "cpu", "3");
		ABSENT(b, SECONDS, "cpu", "5");
		/* cpu4 holds UINT64_MAX twice: valid numbers, whose sum overflows: no usage */
		ck_assert_double_eq(VALUE(b, SECONDS, "cpu", "4", "mode", "user"),
		                    18446744073709551615.0 / hz());
		ck_assert_uint_eq(family_size(b, SECONDS), 16);
		ck_assert_uint_eq(family_size(b, USAGE), 0);
		ck_assert_ptr_null(cobs_batch_find(b, "node_context_switches_total")); /* 0x1234 */
		ck_assert_ptr_null(cobs_batch_find(b, "node_intr_total"));             /* 1.5 */
		ck_assert_ptr_null(cobs_batch_find(b, "node_forks_total"));   /* overflow */
		ck_assert_ptr_null(cobs_batch_find(b, "node_procs_blocked")); /* " procs" */
		ck_assert_double_eq(VALUE0(b, "node_procs_running"), 2);
		ck_assert_double_eq(VALUE0(b, "node_boot_time_seconds"), 1718000000); /* not "1" */
		/* loadavg "nan 0.41 1.2.3": only load5 */
		ck_assert_ptr_null(cobs_batch_find(b, "node_load1"));
		ck_assert_double_eq(VALUE0(b, "node_load5"), 0.41);
		ck_assert_ptr_null(cobs_batch_find(b, "node_load15"));
	}
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_empty_files)
{
	harness h;
	open_ok(&h, fixture("hostile/cpu-empty/proc"), NULL); /* readable: init is fine */
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), -1); /* but there is nothing to report */
	ck_assert_uint_eq(cobs_batch_samples(b), 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(stat_growing_past_its_buffer)
{
	/* 2 CPUs, then 64: the kept-open file's buffer grows; then back to 2 */
	make_root("nodes/small-vm/proc/stat", "nodes/small-vm/proc/loadavg");
	harness h;
	open_ok(&h, root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1 * SEC), 0);
	put("stat", "nodes/many-core/proc/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 2 * SEC), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 64 * 8);
	put("stat", "nodes/small-vm/proc/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 3 * SEC), 0);
	ck_assert_uint_eq(family_size(b, SECONDS), 2 * 8);
	cobs_batch_free(b);
	harness_close(&h);
	remove_root();
}
END_TEST

/* ---- this machine ---- */

#define MAX_CPUS 4096

static unsigned long long proc_cpu[MAX_CPUS][10];
static int proc_cpu_id[MAX_CPUS];

/* Reads /proc/stat the simple way: the cpuN lines and btime. Returns the CPU count. */
static int read_proc_stat(int *ncols, unsigned long long *btime)
{
	FILE *f = fopen("/proc/stat", "r");
	ck_assert_ptr_nonnull(f);
	char line[65536];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		int id, used;
		/* "cpuN ", not the aggregate "cpu  " (%d would skip its blanks) */
		if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9' &&
		    sscanf(line, "cpu%d%n", &id, &used) == 1 && n < MAX_CPUS) {
			unsigned long long *v = proc_cpu[n];
			*ncols = sscanf(line + used,
			                "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			                &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
			                &v[9]);
			proc_cpu_id[n++] = id;
		}
		sscanf(line, "btime %llu", btime);
	}
	fclose(f);
	return n;
}

START_TEST(real_proc_stat)
{
	int ncols = 0;
	unsigned long long btime = 0;
	int ncpu = read_proc_stat(&ncols, &btime);
	ck_assert_int_gt(ncpu, 0);
	ck_assert_int_ge(ncols, 4);

	harness h;
	open_ok(&h, NULL, NULL); /* NULL: the real /proc */
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);

	/* one sample per CPU and mode, as many CPUs as cpuN lines */
	int modes_present = ncols < 8 ? ncols : 8;
	ck_assert_uint_eq(family_size(b, SECONDS), (size_t)(ncpu * modes_present));
	for (int i = 0; i < ncpu; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", proc_cpu_id[i]);
		const unsigned long long *v = proc_cpu[i];
		for (int m = 0; m < modes_present; m++) {
			double got = VALUE(b, SECONDS, "cpu", id, "mode", modes[m]);
			if (m == 3 || m == 4) /* idle and iowait: checked as a sum below */
				continue;
			ck_assert_msg(got >= (double)v[m] / hz(), "cpu%s %s went down", id,
			              modes[m]);
		}
		/* iowait alone may go down (proc.rst); idle + iowait may not */
		double idle = VALUE(b, SECONDS, "cpu", id, "mode", "idle");
		double iow = ncols > 4 ? VALUE(b, SECONDS, "cpu", id, "mode", "iowait") : 0;
		double before = (double)(v[3] + (ncols > 4 ? v[4] : 0)) / hz();
		ck_assert_msg(idle + iow >= before - 1e-9, "cpu%s idle+iowait went down", id);
	}
	ck_assert_uint_eq(family_size(b, AGG), (size_t)modes_present);
	ck_assert_double_eq(VALUE0(b, "node_boot_time_seconds"), (double)btime);
	ck_assert_double_ge(VALUE0(b, "node_load1"), 0);
	ck_assert_double_ge(VALUE0(b, "node_context_switches_total"), 1);

	/* a second pass has usage for every CPU and the total, each within 0..100 */
	ck_assert_int_eq(harness_collect(&h, b), 0);
	const cobs_family *u = cobs_batch_find(b, USAGE);
	for (size_t i = 0; u && i < u->nsamples; i++) {
		ck_assert_double_ge(u->samples[i].value, 0);
		ck_assert_double_le(u->samples[i].value, 100);
	}
	ck_assert_uint_le(family_size(b, USAGE), (size_t)ncpu + 1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu");
	TCase *kinds = tcase_create("kinds");
	tcase_add_test(kinds, small_vm_counters);
	tcase_add_test(kinds, small_vm_usage_from_deltas);
	tcase_add_test(kinds, reset_gives_no_usage_then_resumes);
	tcase_add_test(kinds, partial_resets_and_iowait_going_down);
	tcase_add_test(kinds, unchanged_counters_give_no_usage);
	tcase_add_test(kinds, cpu_going_offline_leaves_no_state);
	tcase_add_test(kinds, many_core);
	tcase_add_test(kinds, old_kernel_has_fewer_columns);
	tcase_add_test(kinds, new_kernel_guest_time);
	tcase_add_test(kinds, new_kernel_usage_leaves_guest_out);
	tcase_add_test(kinds, stat_growing_past_its_buffer);
	suite_add_tcase(s, kinds);
	TCase *config = tcase_create("config");
	tcase_add_test(config, per_cpu_false_keeps_only_the_aggregate);
	tcase_add_test(config, bad_per_cpu_value_fails_init);
	tcase_add_test(config, init_fails_on_missing_proc_root);
	tcase_add_test(config, init_fails_without_loadavg);
	suite_add_tcase(s, config);
	TCase *hostile = tcase_create("hostile");
	tcase_add_test(hostile, hostile_truncated);
	tcase_add_test(hostile, hostile_missing_and_extra_fields);
	tcase_add_test(hostile, hostile_garbage);
	tcase_add_test(hostile, hostile_empty_files);
	suite_add_tcase(s, hostile);
	TCase *real = tcase_create("real");
	tcase_add_test(real, real_proc_stat);
	suite_add_tcase(s, real);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
