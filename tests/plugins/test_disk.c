/*
 * The disk plugin against fixture /proc/diskstats files: exact values for
 * the 4-, 11-, 15- and 17-stat layouts, rates and IOPS against hand-computed
 * deltas (resets, 32-bit wraps, disks that come and go), whole disks versus
 * partitions by sysfs and by name, include/exclude patterns, hostile files,
 * init and collect failures, and the real /proc of this machine.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/metric.h>

#include "harness.h"

#define READS       "node_disk_reads_completed_total"
#define WRITES      "node_disk_writes_completed_total"
#define RBYTES      "node_disk_read_bytes_total"
#define WBYTES      "node_disk_written_bytes_total"
#define RBYTES_PS   "node_disk_read_bytes_per_second"
#define WBYTES_PS   "node_disk_written_bytes_per_second"
#define READS_PS    "node_disk_reads_per_second"
#define WRITES_PS   "node_disk_writes_per_second"
#define NO_SYS      "/nonexistent/cobs-test-sys"
#define RATE_TOL    1e-6
#define SECONDS(ms) ((double)(ms) / 1000.0)

/* The 17 stat families in /proc/diskstats column order. */
static const char *const stat_names[17] = {
        "node_disk_reads_completed_total",
        "node_disk_reads_merged_total",
        "node_disk_read_bytes_total",
        "node_disk_read_time_seconds_total",
        "node_disk_writes_completed_total",
        "node_disk_writes_merged_total",
        "node_disk_written_bytes_total",
        "node_disk_write_time_seconds_total",
        "node_disk_io_now",
        "node_disk_io_time_seconds_total",
        "node_disk_io_time_weighted_seconds_total",
        "node_disk_discards_completed_total",
        "node_disk_discards_merged_total",
        "node_disk_discarded_sectors_total",
        "node_disk_discard_time_seconds_total",
        "node_disk_flush_requests_total",
        "node_disk_flush_requests_time_seconds_total",
};

/* What each raw column becomes: sectors × 512, ms / 1000, or as is. */
static double expected(int i, double raw)
{
	switch (i) {
	case 2:
	case 6:
		return raw * 512;
	case 3:
	case 7:
	case 9:
	case 10:
	case 14:
	case 16:
		return SECONDS(raw);
	default:
		return raw;
	}
}

/* A fixture path in a buffer of its own (fixture() reuses one static buffer). */
__attribute__((format(printf, 1, 2))) static const char *fx(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int i;
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s", fixture(rel));
	return bufs[i];
}

static void open_disk(harness *h, const char *proc_root, const char *sys_root,
                      const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "disk", proc_root,
	                      sys_root ? sys_root : NO_SYS, kv);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
}

/* The value of family fam for device dev; fails the test when absent. */
static double val(const cobs_batch *b, const char *fam, const char *dev)
{
	double v = -1;
	int n = sample_value(b, fam, &v, "device", dev, NULL);
	ck_assert_msg(n == 1, "%s{device=%s}: %d matches", fam, dev, n);
	return v;
}

static int has(const cobs_batch *b, const char *fam, const char *dev)
{
	double v;
	return sample_value(b, fam, &v, "device", dev, NULL);
}

/* A device present in no family at all. */
static void ck_absent(const cobs_batch *b, const char *dev)
{
	for (size_t i = 0; i < b->nfamilies; i++)
		ck_assert_msg(has(b, b->families[i]->name, dev) == 0, "%s has %s",
		              b->families[i]->name, dev);
}

/* Asserts the n first stats of dev against raw column values. */
static void ck_stats(const cobs_batch *b, const char *dev, const double *raw, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_msg(val(b, stat_names[i], dev) == expected(i, raw[i]),
		              "%s{device=%s} = %.17g, want %.17g", stat_names[i], dev,
		              val(b, stat_names[i], dev), expected(i, raw[i]));
	for (int i = n; i < 17; i++)
		ck_assert_int_eq(has(b, stat_names[i], dev), 0);
}

/* A temporary tree: <base>/proc/diskstats, and <base>/sys for sysfs tests. */
typedef struct tmp_tree {
	char base[256];
	char proc[300];
	char sys[300];
	char file[400];
} tmp_tree;

static void tmp_tree_init(tmp_tree *t, const char *src)
{
	const char *d = temp_dir();
	ck_assert_ptr_nonnull(d);
	snprintf(t->base, sizeof(t->base), "%s", d);
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->base);
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->base);
	snprintf(t->file, sizeof(t->file), "%s/diskstats", t->proc);
	ck_assert_int_eq(make_dirs(t->proc), 0);
	if (src)
		ck_assert_int_eq(fixture_put(src, t->file), 0);
}

static void tmp_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb"); /* truncates in place, like fixture_put */
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_tree_free(tmp_tree *t)
{
	nftw(t->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static cobs_batch *collect_once(harness *h, const char *proc_root, const char *const *kv)
{
	open_disk(h, proc_root, NULL, kv);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(h, b, 1000000000u), 0);
	return b;
}

START_TEST(small_vm_15_stats_exact)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/small-vm/proc"), NULL);
	/* vda (kernel 5.4 layout, 15 stats):
	 * 31826 7624 2701498 8305 6190 5818 510744 1981 0 5448 10539 120 0 4096 15 */
	const double vda[15] = {31826, 7624, 2701498, 8305, 6190, 5818, 510744, 1981,
	                        0,     5448, 10539,   120,  0,    4096, 15};
	ck_stats(b, "vda", vda, 15);
	/* A few conversions spelled out: 2701498 sectors × 512 = 1383166976 bytes,
	 * 8305 ms = 8.305 s, 510744 × 512 = 261500928 bytes. */
	ck_assert_double_eq(val(b, RBYTES, "vda"), 1383166976.0);
	ck_assert_double_eq(val(b, WBYTES, "vda"), 261500928.0);
	ck_assert_double_eq_tol(val(b, "node_disk_read_time_seconds_total", "vda"), 8.305, 1e-12);
	ck_assert_int_eq(cobs_batch_find(b, "node_disk_io_now")->type, COBS_GAUGE);
	ck_assert_int_eq(cobs_batch_find(b, READS)->type, COBS_COUNTER);
	/* vda and sr0; vda1 and vda15 are partitions, loop0 and loop1 excluded. */
	ck_assert_uint_eq(family_size(b, READS), 2);
	ck_assert_int_eq(has(b, READS, "sr0"), 1);
	ck_absent(b, "vda1");
	ck_absent(b, "vda15");
	ck_absent(b, "loop0");
	ck_assert_uint_eq(family_size(b, RBYTES_PS), 0); /* first collection */
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(small_vm_rates_and_iops)
{
	tmp_tree t;
	tmp_tree_init(&t, fx("nodes/small-vm/proc/diskstats"));
	harness h;
	open_disk(&h, t.proc, NULL, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 5000000000u), 0);
	ck_assert_int_eq(fixture_put(fx("nodes/small-vm/t1/diskstats"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 15000000000u), 0);
	/* Δt = 10 s.
	 * reads  31826 -> 32826: 1000 / 10 = 100 /s
	 * writes  6190 ->  6690:  500 / 10 =  50 /s
	 * sectors read    2701498 -> 2721978: 20480 × 512 = 10485760 B / 10 = 1048576 B/s
	 * sectors written  510744 ->  531224: 20480 × 512 = 10485760 B / 10 = 1048576 B/s */
	ck_assert_double_eq_tol(val(b, READS_PS, "vda"), 100, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WRITES_PS, "vda"), 50, RATE_TOL);
	ck_assert_double_eq_tol(val(b, RBYTES_PS, "vda"), 1048576, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WBYTES_PS, "vda"), 1048576, RATE_TOL);
	ck_assert_double_eq(val(b, "node_disk_io_now", "vda"), 2);
	ck_assert_int_eq(cobs_batch_find(b, RBYTES_PS)->type, COBS_GAUGE);
	/* sr0 did nothing: rates of 0, not absent. */
	ck_assert_double_eq(val(b, READS_PS, "sr0"), 0);
	ck_assert_uint_eq(family_size(b, READS_PS), 2);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

static const char *const many_core_disks[] = {"nvme0n1", "nvme1n1", "sda",  "sdb",  "sdc", "sdd",
                                              "md0",     "md127",   "dm-0", "dm-1", "dm-2"};
static const char *const many_core_parts[] = {"nvme0n1p1", "nvme0n1p2", "nvme1n1p1",
                                              "sda1",      "sdb1",      "md127p1"};

START_TEST(many_core_whole_disks_by_default)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/many-core/proc"), NULL);
	for (size_t i = 0; i < 11; i++)
		ck_assert_int_eq(has(b, READS, many_core_disks[i]), 1);
	for (size_t i = 0; i < 6; i++)
		ck_absent(b, many_core_parts[i]);
	ck_absent(b, "loop0");
	ck_absent(b, "zram0");
	for (int i = 0; i < 17; i++)
		ck_assert_uint_eq(family_size(b, stat_names[i]), 11);
	/* nvme0n1 (20 columns):
	 * 1843021 102934 398471232 412345 9876543 2345678 1523456789 8765432 3 3456789
	 * 9123456 45678 12 987654321 2345 123456 7890 */
	const double nvme[17] = {1843021,    102934,    398471232, 412345,  9876543, 2345678,
	                         1523456789, 8765432,   3,         3456789, 9123456, 45678,
	                         12,         987654321, 2345,      123456,  7890};
	ck_stats(b, "nvme0n1", nvme, 17);
	ck_assert_double_eq(val(b, "node_disk_flush_requests_total", "nvme0n1"), 123456);
	ck_assert_double_eq_tol(val(b, "node_disk_flush_requests_time_seconds_total", "nvme0n1"),
	                        7.89, 1e-12);
	ck_assert_double_eq(val(b, "node_disk_discarded_sectors_total", "nvme0n1"), 987654321);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(many_core_partitions_on_request)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/many-core/proc"),
	                             (const char *const[]){"partitions", "true", NULL});
	for (size_t i = 0; i < 11; i++)
		ck_assert_int_eq(has(b, READS, many_core_disks[i]), 1);
	for (size_t i = 0; i < 6; i++)
		ck_assert_int_eq(has(b, READS, many_core_parts[i]), 1);
	ck_assert_uint_eq(family_size(b, READS), 17);
	ck_absent(b, "loop0"); /* still excluded by pattern */
	/* sda1: 23110 2311 1479040 ... */
	ck_assert_double_eq(val(b, READS, "sda1"), 23110);
	ck_assert_double_eq(val(b, RBYTES, "sda1"), 1479040.0 * 512);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(many_core_reset_wrap_appear_disappear)
{
	tmp_tree t;
	tmp_tree_init(&t, fx("nodes/many-core/proc/diskstats"));
	harness h;
	open_disk(&h, t.proc, NULL, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_int_eq(fixture_put(fx("nodes/many-core/t1/diskstats"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 105000000000u), 0);
	/* Δt = 5 s. */

	/* Growth. nvme0n1: reads +5000 / 5 = 1000 /s; writes +2500 / 5 = 500 /s;
	 * sectors read +409600 × 512 = 209715200 B / 5 = 41943040 B/s;
	 * sectors written +204800 × 512 = 104857600 B / 5 = 20971520 B/s. */
	ck_assert_double_eq_tol(val(b, READS_PS, "nvme0n1"), 1000, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WRITES_PS, "nvme0n1"), 500, RATE_TOL);
	ck_assert_double_eq_tol(val(b, RBYTES_PS, "nvme0n1"), 41943040, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WBYTES_PS, "nvme0n1"), 20971520, RATE_TOL);

	/* Reset: every sda counter went down (500000 -> 100 reads, ...): counters as they
	 * are, no rate at all. */
	ck_assert_double_eq(val(b, READS, "sda"), 100);
	ck_assert_int_eq(has(b, READS_PS, "sda"), 0);
	ck_assert_int_eq(has(b, WRITES_PS, "sda"), 0);
	ck_assert_int_eq(has(b, RBYTES_PS, "sda"), 0);
	ck_assert_int_eq(has(b, WBYTES_PS, "sda"), 0);

	/* 32-bit wrap on md0. reads 4294967000 -> 1000:
	 * (4294967295 - 4294967000) + 1000 + 1 = 1296; 1296 / 5 = 259.2 /s.
	 * sectors read 4294960000 -> 6000: (4294967295 - 4294960000) + 6000 + 1 = 13296;
	 * 13296 × 512 = 6807552 B / 5 = 1361510.4 B/s.
	 * writes 700000 -> 700100: 100 / 5 = 20 /s;
	 * sectors written 5600000 -> 5600800: 800 × 512 = 409600 B / 5 = 81920 B/s. */
	ck_assert_double_eq_tol(val(b, READS_PS, "md0"), 259.2, RATE_TOL);
	ck_assert_double_eq_tol(val(b, RBYTES_PS, "md0"), 1361510.4, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WRITES_PS, "md0"), 20, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WBYTES_PS, "md0"), 81920, RATE_TOL);

	/* dm-2 went away; nvme2n1 came (with a partition, left out): no rate yet. */
	ck_absent(b, "dm-2");
	ck_assert_double_eq(val(b, READS, "nvme2n1"), 300);
	ck_assert_double_eq(val(b, RBYTES, "nvme2n1"), 2400.0 * 512);
	ck_assert_int_eq(has(b, READS_PS, "nvme2n1"), 0);
	ck_absent(b, "nvme2n1p1");

	/* 11 disks; rates for all but the new one and the reset one. */
	ck_assert_uint_eq(family_size(b, READS), 11);
	ck_assert_uint_eq(family_size(b, READS_PS), 9);
	ck_assert_uint_eq(family_size(b, WBYTES_PS), 9);

	/* Back to the first file at 110 s: dm-2 returns as a new disk (no rate: its state
	 * was swept), nvme2n1 is gone, nvme0n1 went backwards (a reset: no rate). */
	ck_assert_int_eq(fixture_put(fx("nodes/many-core/proc/diskstats"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	ck_assert_int_eq(has(b, READS, "dm-2"), 1);
	ck_assert_int_eq(has(b, READS_PS, "dm-2"), 0);
	ck_absent(b, "nvme2n1");
	ck_assert_int_eq(has(b, READS_PS, "nvme0n1"), 0);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

static size_t count_with(const char *const *kv)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/many-core/proc"), kv);
	size_t n = family_size(b, READS);
	cobs_batch_free(b);
	harness_close(&h);
	return n;
}

START_TEST(include_exclude_patterns)
{
	/* nvme0n1, nvme1n1 */
	ck_assert_uint_eq(count_with((const char *const[]){"include", "nvme*", NULL}), 2);
	/* ... and nvme0n1p1, nvme0n1p2, nvme1n1p1 */
	ck_assert_uint_eq(
	        count_with((const char *const[]){"include", "nvme*", "partitions", "yes", NULL}),
	        5);
	/* A list of one's own replaces the default: 11 - dm-0, dm-1, dm-2, md0, md127
	 * + loop0-3, zram0 = 11; naming loop and zram again leaves the 6 others. */
	ck_assert_uint_eq(count_with((const char *const[]){"exclude", "dm-*,md*", NULL}), 11);
	ck_assert_uint_eq(
	        count_with((const char *const[]){"exclude", "dm-*,md*,loop*,zram*", NULL}), 6);
	/* An empty exclude list lets loop0-3 and zram0 in. */
	ck_assert_uint_eq(count_with((const char *const[]){"exclude", "", NULL}), 16);
	/* include and exclude together: sd? minus sdd */
	ck_assert_uint_eq(
	        count_with((const char *const[]){"include", "sd[a-z]", "exclude", "sdd", NULL}), 3);
}
END_TEST

START_TEST(old_kernel_11_stats_and_4_stat_partitions)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/old-kernel/proc"), NULL);
	/* hda, sda, md0, xvda; ram0-3, loop0 and fd0 are excluded, hda1, hda2, sda1 and
	 * xvda1 are partitions. */
	ck_assert_uint_eq(family_size(b, READS), 4);
	const double hda[11] = {446216,  784926,   9550688, 4382310, 424847,  312726,
	                        5922052, 19310380, 0,       3376340, 23705160};
	ck_stats(b, "hda", hda, 11); /* and no discard or flush families */
	ck_assert_int_eq(has(b, READS, "xvda"), 1);
	ck_assert_int_eq(has(b, READS, "md0"), 1);
	ck_absent(b, "ram0");
	ck_absent(b, "fd0");
	ck_absent(b, "hda1");
	cobs_batch_free(b);
	harness_close(&h);

	b = collect_once(&h, fx("nodes/old-kernel/proc"),
	                 (const char *const[]){"partitions", "true", NULL});
	ck_assert_uint_eq(family_size(b, READS), 8);
	/* hda1 has the old 4-stat layout: reads, sectors read, writes, sectors written
	 * = 35486 1137094 4213 33704; nothing else is made up for it. */
	ck_assert_double_eq(val(b, READS, "hda1"), 35486);
	ck_assert_double_eq(val(b, RBYTES, "hda1"), 1137094.0 * 512);
	ck_assert_double_eq(val(b, WRITES, "hda1"), 4213);
	ck_assert_double_eq(val(b, WBYTES, "hda1"), 33704.0 * 512);
	ck_assert_int_eq(has(b, "node_disk_reads_merged_total", "hda1"), 0);
	ck_assert_int_eq(has(b, "node_disk_io_now", "hda1"), 0);
	ck_assert_int_eq(has(b, "node_disk_read_time_seconds_total", "hda1"), 0);
	ck_assert_uint_eq(family_size(b, "node_disk_reads_merged_total"), 5);
	/* xvda1 has the full 11 */
	ck_assert_double_eq(val(b, "node_disk_io_time_weighted_seconds_total", "xvda1"), 59.0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(old_kernel_4_stat_rates)
{
	/* Rates come from the four stats every layout has. */
	tmp_tree t;
	tmp_tree_init(&t, NULL);
	harness h;
	const char a[] = "   3    1 hda1 100 800 50 400\n";
	const char c[] = "   3    1 hda1 140 1600 70 1200\n";
	tmp_write(t.file, a, sizeof(a) - 1);
	open_disk(&h, t.proc, NULL, (const char *const[]){"partitions", "true", NULL});
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 2000000000u), 0);
	tmp_write(t.file, c, sizeof(c) - 1);
	ck_assert_int_eq(harness_collect_at(&h, b, 4000000000u), 0);
	/* Δt = 2 s: reads 40/2 = 20; writes 20/2 = 10; 800 × 512 / 2 = 204800 B/s both ways. */
	ck_assert_double_eq_tol(val(b, READS_PS, "hda1"), 20, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WRITES_PS, "hda1"), 10, RATE_TOL);
	ck_assert_double_eq_tol(val(b, RBYTES_PS, "hda1"), 204800, RATE_TOL);
	ck_assert_double_eq_tol(val(b, WBYTES_PS, "hda1"), 204800, RATE_TOL);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

START_TEST(new_kernel_17_stats)
{
	harness h;
	cobs_batch *b = collect_once(&h, fx("nodes/new-kernel/proc"), NULL);
	/* nvme0n1, mmcblk0, mmcblk0boot0, vda, dm-0, sr0, nbd0; zram0 and loop0 excluded;
	 * nvme0n1p1, nvme0n1p2, mmcblk0p1, vda1 are partitions. */
	const char *whole[] = {"nvme0n1", "mmcblk0", "mmcblk0boot0", "vda", "dm-0", "sr0", "nbd0"};
	for (size_t i = 0; i < 7; i++)
		ck_assert_int_eq(has(b, READS, whole[i]), 1);
	ck_assert_uint_eq(family_size(b, READS), 7);
	ck_absent(b, "mmcblk0p1");
	ck_absent(b, "nvme0n1p2");
	ck_absent(b, "zram0");
	const double vda[17] = {31826, 7624,  2701498, 8305, 6190,   5818, 510744, 1981, 0,
	                        5448,  10539, 4376,    20,   111152, 221,  966,    31};
	ck_stats(b, "vda", vda, 17);
	ck_assert_double_eq(val(b, "node_disk_flush_requests_total", "nvme0n1"), 345678);
	ck_assert_double_eq_tol(val(b, "node_disk_flush_requests_time_seconds_total", "nvme0n1"),
	                        98.765, 1e-12);
	ck_assert_double_eq(val(b, "node_disk_io_now", "dm-0"), 1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

static void touch(const char *path)
{
	tmp_write(path, "1\n", 2);
}

START_TEST(sysfs_decides_before_the_name)
{
	tmp_tree t;
	tmp_tree_init(&t, NULL);
	const char stats[] = "   8  0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
	                     "   8  1 sda1 1 2 3 4 5 6 7 8 9 10 11\n"
	                     " 202  1 xvda1 1 2 3 4 5 6 7 8 9 10 11\n"
	                     " 259  0 foo9 1 2 3 4 5 6 7 8 9 10 11\n"
	                     " 259  1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11\n";
	tmp_write(t.file, stats, sizeof(stats) - 1);
	/* sda: a disk; sda1 a partition; xvda1 a whole disk as Xen PV guests show them;
	 * foo9 a partition whatever its name says; nvme0n1p1 unknown to sysfs (the name
	 * decides: a partition). */
	char p[600];
	snprintf(p, sizeof(p), "%s/class/block/sda", t.sys);
	ck_assert_int_eq(make_dirs(p), 0);
	snprintf(p, sizeof(p), "%s/class/block/sda1", t.sys);
	ck_assert_int_eq(make_dirs(p), 0);
	snprintf(p, sizeof(p), "%s/class/block/sda1/partition", t.sys);
	touch(p);
	snprintf(p, sizeof(p), "%s/class/block/xvda1", t.sys);
	ck_assert_int_eq(make_dirs(p), 0);
	snprintf(p, sizeof(p), "%s/class/block/foo9", t.sys);
	ck_assert_int_eq(make_dirs(p), 0);
	snprintf(p, sizeof(p), "%s/class/block/foo9/partition", t.sys);
	touch(p);

	harness h;
	open_disk(&h, t.proc, t.sys, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	ck_assert_int_eq(has(b, READS, "sda"), 1);
	ck_assert_int_eq(has(b, READS, "xvda1"), 1);
	ck_absent(b, "sda1");
	ck_absent(b, "foo9");
	ck_absent(b, "nvme0n1p1");
	ck_assert_uint_eq(family_size(b, READS), 2);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

START_TEST(partition_names_without_sysfs)
{
	tmp_tree t;
	tmp_tree_init(&t, NULL);
	/* Whole disks first, then partitions, by the name rule alone. */
	static const char *const whole[] = {
	        "sda",      "sdaa",    "vdb",          "xvdf", "hdc",   "nvme0n1",
	        "nvme12n3", "mmcblk0", "mmcblk0boot1", "dm-0", "md127", "sr0",
	        "nbd15",    "rbd0",    "cciss!c0d0",   "zd16", "sd",    "9"};
	static const char *const parts[] = {"sda1",    "sdaa12",    "vdb3",        "xvdf1",
	                                    "hdc2",    "nvme0n1p1", "nvme12n3p15", "mmcblk0p2",
	                                    "md127p1", "nbd15p1",   "rbd0p1",      "cciss!c0d0p1",
	                                    "zd16p1",  "loop0p1"};
	char text[4096] = "";
	size_t nw = sizeof(whole) / sizeof(whole[0]), np = sizeof(parts) / sizeof(parts[0]);
	for (size_t i = 0; i < nw; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "8 %zu %s 1 2 3 4 5 6 7 8 9 10 11\n", i, whole[i]);
	for (size_t i = 0; i < np; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "8 %zu %s 1 2 3 4 5 6 7 8 9 10 11\n", 100 + i, parts[i]);
	tmp_write(t.file, text, strlen(text));

	harness h;
	open_disk(&h, t.proc, NULL, (const char *const[]){"exclude", "", NULL});
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	for (size_t i = 0; i < nw; i++)
		ck_assert_msg(has(b, READS, whole[i]) == 1, "%s is a whole disk", whole[i]);
	for (size_t i = 0; i < np; i++)
		ck_assert_msg(has(b, READS, parts[i]) == 0, "%s is a partition", parts[i]);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

static cobs_batch *collect_hostile(harness *h, const char *kase)
{
	return collect_once(h, fx("hostile/%s/proc", kase), NULL);
}

START_TEST(hostile_truncated)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "disk-truncated");
	/* sda has 2 stats, sdb none, the third line no name, sdd is cut at 7 stats with
	 * no newline: only sdc (1..17) is whole. */
	const double one_to_17[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
	ck_stats(b, "sdc", one_to_17, 17);
	ck_assert_uint_eq(family_size(b, READS), 1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_missing_and_extra_fields)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "disk-fields");
	/* Stats 1..n. Kept: sdd (11), sde (15), sdf (17), sdg (19: first 17), sdh (4).
	 * Skipped: sda (10), sdb (12), sdc (16), sdi (3), sdj (5). */
	const double one_to_17[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
	ck_stats(b, "sdd", one_to_17, 11);
	ck_stats(b, "sde", one_to_17, 15);
	ck_stats(b, "sdf", one_to_17, 17);
	ck_stats(b, "sdg", one_to_17, 17);
	/* sdh "4 3 2 1": reads 4, sectors read 3, writes 2, sectors written 1 */
	ck_assert_double_eq(val(b, READS, "sdh"), 4);
	ck_assert_double_eq(val(b, RBYTES, "sdh"), 3 * 512);
	ck_assert_double_eq(val(b, WRITES, "sdh"), 2);
	ck_assert_double_eq(val(b, WBYTES, "sdh"), 512);
	ck_assert_int_eq(has(b, "node_disk_reads_merged_total", "sdh"), 0);
	ck_assert_uint_eq(family_size(b, READS), 5);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_garbage)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "disk-garbage");
	/* Skipped: "x3", a minor of "a", a major of "-8", "-4", an overflowing stat, an
	 * 80-character name, a line of text, trailing junk, an overflowing major. The
	 * second sdz line is a duplicate: the first is kept. vdb is tab separated. */
	ck_assert_double_eq(val(b, READS, "sdz"), 1);
	ck_assert_double_eq(val(b, READS, "vdb"), 1);
	ck_assert_double_eq(val(b, "node_disk_io_time_weighted_seconds_total", "vdb"), 0.011);
	ck_assert_uint_eq(family_size(b, READS), 2);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_empty_file)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "disk-empty");
	ck_assert_uint_eq(b->nfamilies, 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_binary_and_random_bytes)
{
	tmp_tree t;
	tmp_tree_init(&t, NULL);
	static const char bin[] = "   8 0 sd\0a 1 2 3 4 5 6 7 8 9 10 11\n"
	                          "   8 0 sdb 1 2 3 4\0 6 7 8 9 10 11\n"
	                          "   8 0 sd\x01x 1 2 3 4 5 6 7 8 9 10 11\n"
	                          "   8 0 sdc 1 2 3 4 5 6 7 8 9 10 11\n"
	                          "\0\0\0\n";
	tmp_write(t.file, bin, sizeof(bin) - 1);
	harness h;
	open_disk(&h, t.proc, NULL, (const char *const[]){"exclude", "", NULL});
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	ck_assert_int_eq(has(b, READS, "sdc"), 1);
	ck_assert_uint_eq(family_size(b, READS), 1);

	/* Random lines from the characters that matter: never a crash, never a read past
	 * the end (the sanitizer build checks), always a successful collection. */
	static const char alphabet[] = "0123456789  \n\tsdp-\0x\xff";
	char buf[4096];
	uint64_t seed = 0x2545f4914f6cdd1du;
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)(seed >> 33) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			buf[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		tmp_write(t.file, buf, len);
		ck_assert_int_eq(harness_collect_at(&h, b, 2000000000u + (uint64_t)round), 0);
	}
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

START_TEST(init_fails_without_the_file)
{
	harness h;
	ck_assert_int_eq(
	        harness_open(&h, COBS_PLUGIN_COLLECTOR, "disk", "/nonexistent/proc", NO_SYS, NULL),
	        -1);
	ck_assert_msg(strstr(h.err.msg, "plugin 'disk'") && strstr(h.err.msg, "diskstats") &&
	                      strstr(h.err.msg, "No such file"),
	              "%s", h.err.msg);
	harness_close(&h);
}
END_TEST

START_TEST(bad_values_are_refused_naming_the_key)
{
	harness h;
	const char *proc = fx("nodes/small-vm/proc");
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "disk", proc, NO_SYS,
	                              (const char *const[]){"partitions", "maybe", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "test.ini:2") && strstr(h.err.msg, "[plugin.disk]") &&
	                      strstr(h.err.msg, "key 'partitions'") && strstr(h.err.msg, "maybe"),
	              "%s", h.err.msg);
	harness_close(&h);

	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "disk", proc, NO_SYS,
	                              (const char *const[]){"include", "sd[a-", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "key 'include'") && strstr(h.err.msg, "unterminated"), "%s",
	              h.err.msg);
	harness_close(&h);

	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "disk", proc, NO_SYS,
	                              (const char *const[]){"exclude", "loop* [[:digit]", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "key 'exclude'"), "%s", h.err.msg);
	harness_close(&h);

	/* A misspelt key is an error too (the host checks what the plugin never asked). */
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "disk", proc, NO_SYS,
	                              (const char *const[]){"partition", "true", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "unknown key 'partition'"), "%s", h.err.msg);
	harness_close(&h);
}
END_TEST

/* The fd this process has open on path, or -1. */
static int fd_of(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int found = -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		char link[300], target[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

START_TEST(collect_fails_when_the_file_is_unreadable_then_recovers)
{
	tmp_tree t;
	tmp_tree_init(&t, fx("nodes/small-vm/proc/diskstats"));
	harness h;
	open_disk(&h, t.proc, NULL, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);

	/* Make the kept-open fd unreadable (a directory answers EISDIR to pread) and
	 * remove the file, so the plugin's one reopen fails too. */
	int fd = fd_of(t.file);
	ck_assert_int_ge(fd, 0);
	int dirfd = open(t.proc, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(dup2(dirfd, fd), fd);
	close(dirfd);
	ck_assert_int_eq(unlink(t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 2000000000u), -1);

	ck_assert_int_eq(fixture_put(fx("nodes/small-vm/proc/diskstats"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 3000000000u), 0);
	ck_assert_double_eq(val(b, READS, "vda"), 31826);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_tree_free(&t);
}
END_TEST

typedef struct seen_dev {
	char name[64];
	unsigned long long sectors;
} seen_dev;

START_TEST(real_proc_counters_only_grow)
{
	harness h;
	open_disk(&h, NULL, "/sys",
	          (const char *const[]){"exclude", "", "partitions", "true", NULL});

	/* Read /proc/diskstats here, just before the plugin does. */
	seen_dev devs[512];
	size_t n = 0;
	FILE *f = fopen("/proc/diskstats", "r");
	ck_assert_ptr_nonnull(f);
	char line[1024];
	while (n < 512 && fgets(line, sizeof(line), f)) {
		unsigned maj, mnr;
		unsigned long long reads, merged;
		if (sscanf(line, "%u %u %63s %llu %llu %llu", &maj, &mnr, devs[n].name, &reads,
		           &merged, &devs[n].sectors) == 6)
			n++;
	}
	fclose(f);

	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	for (size_t i = 0; i < n; i++) {
		double v = val(b, RBYTES, devs[i].name);
		ck_assert_msg(v >= (double)devs[i].sectors * 512,
		              "%s: plugin %.0f < test %llu × 512", devs[i].name, v,
		              devs[i].sectors);
	}
	ck_assert_uint_eq(family_size(b, READS), n);
	cobs_batch_free(b);
	harness_close(&h);

	/* With the defaults on the real /sys, nothing collected is a partition there. */
	open_disk(&h, NULL, "/sys", NULL);
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	const cobs_family *fam = cobs_batch_find(b, READS);
	for (size_t i = 0; fam && i < fam->nsamples; i++) {
		char p[512];
		struct stat st;
		snprintf(p, sizeof(p), "/sys/class/block/%s/partition",
		         fam->samples[i].labels[0].value);
		ck_assert_msg(stat(p, &st) != 0, "%s is a partition", p);
	}
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("disk");
	TCase *tc = tcase_create("fixtures");
	tcase_add_test(tc, small_vm_15_stats_exact);
	tcase_add_test(tc, small_vm_rates_and_iops);
	tcase_add_test(tc, many_core_whole_disks_by_default);
	tcase_add_test(tc, many_core_partitions_on_request);
	tcase_add_test(tc, many_core_reset_wrap_appear_disappear);
	tcase_add_test(tc, include_exclude_patterns);
	tcase_add_test(tc, old_kernel_11_stats_and_4_stat_partitions);
	tcase_add_test(tc, old_kernel_4_stat_rates);
	tcase_add_test(tc, new_kernel_17_stats);
	tcase_add_test(tc, sysfs_decides_before_the_name);
	tcase_add_test(tc, partition_names_without_sysfs);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("hostile");
	tcase_add_test(th, hostile_truncated);
	tcase_add_test(th, hostile_missing_and_extra_fields);
	tcase_add_test(th, hostile_garbage);
	tcase_add_test(th, hostile_empty_file);
	tcase_add_test(th, hostile_binary_and_random_bytes);
	suite_add_tcase(s, th);
	TCase *te = tcase_create("errors");
	tcase_add_test(te, init_fails_without_the_file);
	tcase_add_test(te, bad_values_are_refused_naming_the_key);
	tcase_add_test(te, collect_fails_when_the_file_is_unreadable_then_recovers);
	suite_add_tcase(s, te);
	TCase *tr = tcase_create("real");
	tcase_add_test(tr, real_proc_counters_only_grow);
	suite_add_tcase(s, tr);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
