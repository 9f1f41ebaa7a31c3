/*
 * The file sink, loaded through the real loader: configuration errors name
 * their key, batches land as whole lines, rotation happens at max_size,
 * max_files and max_total are honoured, a restart continues the current file,
 * a batch of many rendered pieces is sized right and lands whole, and a
 * vanished directory makes writes fail (logged once) until it is back.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/format.h>

#include "harness.h"

static char dir[64];   /* this test's temporary directory */
static char path[128]; /* dir/metrics.jsonl */

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	snprintf(path, sizeof(path), "%s/metrics.jsonl", dir);
}

static const char *numbered(int k)
{
	static char buf[160];
	snprintf(buf, sizeof(buf), "%s.%d", path, k);
	return buf;
}

static long long size_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Every batch renders to the same number of bytes: the tests count in batches. */
static cobs_batch *batch(void)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->node = "test-node";
	b->source = "mem";
	b->timestamp_ms = 1700000000000;
	cobs_family *f =
	        cobs_batch_family(b, "node_memory_MemFree_bytes", "Free.", "bytes", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add0(b, f, 123456789), 0);
	return b;
}

static char *render(const cobs_batch *b, cobs_format fmt)
{
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_format_batch(b, fmt, &out), 0);
	return out.data;
}

static long long batch_len(void)
{
	cobs_batch *b = batch();
	char *r = render(b, COBS_FORMAT_JSON);
	long long n = (long long)strlen(r);
	free(r);
	cobs_batch_free(b);
	return n;
}

static void open_ok(harness *h, const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_SINK, "file", NULL, NULL, kv);
	ck_assert_msg(rc == 0, "open: %s", h->err.msg);
}

/* Opening fails with a message that contains every one of the needles. */
static void open_fails(const char *const *kv, const char *n1, const char *n2)
{
	harness h;
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_SINK, "file", NULL, NULL, kv), -1);
	ck_assert_msg(strstr(h.err.msg, n1) != NULL, "'%s' not in: %s", n1, h.err.msg);
	ck_assert_msg(!n2 || strstr(h.err.msg, n2) != NULL, "'%s' not in: %s", n2, h.err.msg);
	harness_close(&h);
}

static int sink_write(harness *h, const cobs_batch *b)
{
	return h->plugin.desc->write(h->plugin.state, b);
}

/* n writes of the standard batch, each must succeed. */
static void write_n(harness *h, int n)
{
	cobs_batch *b = batch();
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(sink_write(h, b), 0);
	cobs_batch_free(b);
}

static void size_arg(char *buf, size_t len, long long bytes)
{
	snprintf(buf, len, "%lld", bytes);
}

START_TEST(missing_path_is_an_error)
{
	open_fails(NULL, "'path'", "required");
	const char *empty[] = {"path", "", NULL};
	open_fails(empty, "'path'", NULL);
}
END_TEST

START_TEST(bad_values_name_file_line_and_key)
{
	fresh_dir();
	const char *size[] = {"path", path, "max_size", "ten parsecs", NULL};
	open_fails(size, "test.ini:3", "'max_size'");
	const char *zero[] = {"path", path, "max_size", "0", NULL};
	open_fails(zero, "test.ini:3", "'max_size'");
	const char *files[] = {"path", path, "max_files", "-1", NULL};
	open_fails(files, "test.ini:3", "'max_files'");
	const char *total[] = {"path", path, "max_size", "1MiB", "max_total", "64KiB", NULL};
	open_fails(total, "test.ini:4", "'max_total'");
	const char *fmt[] = {"path", path, "format", "yaml", NULL};
	open_fails(fmt, "test.ini:3", "'format'");
	char nodir[200];
	snprintf(nodir, sizeof(nodir), "%s/no/such/dir/m.jsonl", dir);
	const char *missing[] = {"path", nodir, NULL};
	open_fails(missing, "'path'", "cannot open");
}
END_TEST

START_TEST(batches_are_whole_json_lines)
{
	fresh_dir();
	harness h;
	const char *kv[] = {"path", path, NULL};
	open_ok(&h, kv);
	write_n(&h, 3);
	ck_assert_int_eq(h.plugin.desc->flush(h.plugin.state), 0);
	harness_close(&h);
	cobs_batch *b = batch();
	char *one = render(b, COBS_FORMAT_JSON);
	char want[4096];
	snprintf(want, sizeof(want), "%s%s%s", one, one, one);
	char *got = read_file(path);
	ck_assert_str_eq(got, want);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	free(got);
	free(one);
	cobs_batch_free(b);
}
END_TEST

START_TEST(other_formats)
{
	fresh_dir();
	harness h;
	const char *kv[] = {"path", path, "format", "prometheus", NULL};
	open_ok(&h, kv);
	write_n(&h, 1);
	harness_close(&h);
	cobs_batch *b = batch();
	char *want = render(b, COBS_FORMAT_PROMETHEUS);
	char *got = read_file(path);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	cobs_batch_free(b);
}
END_TEST

START_TEST(rotates_at_max_size)
{
	fresh_dir();
	long long l = batch_len();
	char max[32];
	size_arg(max, sizeof(max), 3 * l + l / 2); /* room for three batches */
	harness h;
	const char *kv[] = {"path", path, "max_size", max, NULL};
	open_ok(&h, kv);
	write_n(&h, 3);
	ck_assert_int_eq(size_of(path), 3 * l);
	ck_assert_int_eq(size_of(numbered(1)), -1);
	write_n(&h, 1);
	ck_assert_int_eq(size_of(numbered(1)), 3 * l);
	ck_assert_int_eq(size_of(path), l);
	write_n(&h, 6);
	ck_assert_int_eq(size_of(numbered(2)), 3 * l);
	ck_assert_int_eq(size_of(numbered(1)), 3 * l);
	ck_assert_int_eq(size_of(path), l);
	harness_close(&h);
}
END_TEST

START_TEST(max_files_is_honoured)
{
	fresh_dir();
	long long l = batch_len();
	char max[32];
	size_arg(max, sizeof(max), l); /* one batch per file */
	harness h;
	const char *kv[] = {"path", path, "max_size", max, "max_files", "2", NULL};
	open_ok(&h, kv);
	write_n(&h, 10);
	ck_assert_int_eq(size_of(path), l);
	ck_assert_int_eq(size_of(numbered(1)), l);
	ck_assert_int_eq(size_of(numbered(2)), l);
	ck_assert_int_eq(size_of(numbered(3)), -1);
	harness_close(&h);
	/* max_files = 0: no history at all */
	fresh_dir();
	const char *none[] = {"path", path, "max_size", max, "max_files", "0", NULL};
	open_ok(&h, none);
	write_n(&h, 5);
	ck_assert_int_eq(size_of(path), l);
	ck_assert_int_eq(size_of(numbered(1)), -1);
	harness_close(&h);
}
END_TEST

static long long total_size(void)
{
	long long t = size_of(path) > 0 ? size_of(path) : 0;
	for (int k = 1; k <= 20; k++)
		if (size_of(numbered(k)) > 0)
			t += size_of(numbered(k));
	return t;
}

START_TEST(total_stays_under_max_total)
{
	fresh_dir();
	long long l = batch_len();
	char max[32], total[32];
	size_arg(max, sizeof(max), 2 * l);
	size_arg(total, sizeof(total), 5 * l);
	harness h;
	const char *kv[] = {"path", path,        "max_size", max, "max_files",
	                    "10",   "max_total", total,      NULL};
	open_ok(&h, kv);
	for (int i = 0; i < 100; i++) {
		write_n(&h, 1);
		ck_assert_int_le(total_size(), 5 * l);
	}
	/* it is the oldest that went: what is left is the newest, without gaps */
	ck_assert_int_eq(size_of(path), 2 * l);
	ck_assert_int_eq(size_of(numbered(1)), 2 * l);
	ck_assert_int_eq(size_of(numbered(2)), -1);
	harness_close(&h);
}
END_TEST

START_TEST(batch_larger_than_limits)
{
	fresh_dir();
	long long l = batch_len();
	char half[32];
	size_arg(half, sizeof(half), l / 2);
	harness h;
	/* larger than max_size: alone in its own file, never split */
	const char *kv[] = {"path", path, "max_size", half, NULL};
	open_ok(&h, kv);
	write_n(&h, 3);
	ck_assert_int_eq(size_of(path), l);
	ck_assert_int_eq(size_of(numbered(1)), l);
	ck_assert_int_eq(size_of(numbered(2)), l);
	harness_close(&h);
	/* larger than max_total: dropped */
	fresh_dir();
	const char *tiny[] = {"path", path, "max_size", half, "max_total", half, NULL};
	open_ok(&h, tiny);
	cobs_batch *b = batch();
	ck_assert_int_eq(sink_write(&h, b), -1);
	ck_assert_int_eq(size_of(path), 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

/* A batch of many 64 KiB pieces: written whole, measured right for rotation. */
START_TEST(large_batch_in_pieces_rotates_whole)
{
	fresh_dir();
	cobs_batch *big = batch();
	cobs_family *f = cobs_batch_family(big, "process_resident_memory_bytes", "RSS.", "bytes",
	                                   COBS_GAUGE);
	char pid[16];
	for (int i = 0; i < 20000; i++) {
		snprintf(pid, sizeof(pid), "%d", i + 1);
		ck_assert_int_eq(cobs_family_add1(big, f, 4096.0 * i, "pid", pid), 0);
	}
	char *r = render(big, COBS_FORMAT_JSON);
	long long n = (long long)strlen(r);
	ck_assert_int_gt(n, 512 * 1024);
	char max[32];
	size_arg(max, sizeof(max), n + n / 2); /* one fits, a second does not */
	harness h;
	const char *kv[] = {"path", path, "max_size", max, NULL};
	open_ok(&h, kv);
	ck_assert_int_eq(sink_write(&h, big), 0);
	ck_assert_int_eq(size_of(path), n);
	ck_assert_int_eq(sink_write(&h, big), 0);
	ck_assert_int_eq(size_of(numbered(1)), n); /* rotated before, not split */
	ck_assert_int_eq(size_of(path), n);
	harness_close(&h);
	char *got = read_file(path);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, r);
	free(got);
	free(r);
	cobs_batch_free(big);
}
END_TEST

START_TEST(restart_continues_the_current_file)
{
	fresh_dir();
	long long l = batch_len();
	char max[32];
	size_arg(max, sizeof(max), 3 * l + l / 2);
	const char *kv[] = {"path", path, "max_size", max, NULL};
	harness h;
	open_ok(&h, kv);
	write_n(&h, 2);
	harness_close(&h);
	open_ok(&h, kv);
	write_n(&h, 1);
	ck_assert_int_eq(size_of(path), 3 * l); /* appended, not truncated or rotated */
	write_n(&h, 1);
	ck_assert_int_eq(size_of(numbered(1)), 3 * l);
	ck_assert_int_eq(size_of(path), l);
	harness_close(&h);
}
END_TEST

START_TEST(startup_removes_files_beyond_max_files)
{
	fresh_dir();
	for (int k = 1; k <= 4; k++)
		ck_assert_int_eq(write_file(numbered(k), "old\n"), 0);
	harness h;
	const char *kv[] = {"path", path, "max_files", "2", NULL};
	open_ok(&h, kv);
	ck_assert_int_eq(size_of(numbered(1)), 4);
	ck_assert_int_eq(size_of(numbered(2)), 4);
	ck_assert_int_eq(size_of(numbered(3)), -1);
	ck_assert_int_eq(size_of(numbered(4)), -1);
	harness_close(&h);
}
END_TEST

START_TEST(file_removed_or_moved_is_reopened)
{
	fresh_dir();
	long long l = batch_len();
	harness h;
	const char *kv[] = {"path", path, NULL};
	open_ok(&h, kv);
	write_n(&h, 2);
	ck_assert_int_eq(unlink(path), 0);
	write_n(&h, 1); /* not into the unlinked inode, where it would be lost */
	ck_assert_int_eq(size_of(path), l);
	char moved[200];
	snprintf(moved, sizeof(moved), "%s.moved", path);
	ck_assert_int_eq(rename(path, moved), 0); /* an outside logrotate */
	write_n(&h, 1);
	ck_assert_int_eq(size_of(path), l);
	ck_assert_int_eq(size_of(moved), l);
	harness_close(&h);
}
END_TEST

static int count_matches(const char *file, const char *needle)
{
	char *text = read_file(file);
	ck_assert_ptr_nonnull(text);
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

START_TEST(vanished_directory_fails_then_recovers)
{
	fresh_dir();
	char sub[128], file[200], log[128];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(file, sizeof(file), "%s/metrics.jsonl", sub);
	snprintf(log, sizeof(log), "%s/log", dir);
	ck_assert_int_eq(make_dirs(sub), 0);
	long long l = batch_len();
	harness h;
	const char *kv[] = {"path", file, NULL};
	open_ok(&h, kv);
	write_n(&h, 1);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(sub), 0);

	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(logfd, 0);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_eq(dup2(logfd, STDERR_FILENO), STDERR_FILENO);
	cobs_batch *b = batch();
	int w1 = sink_write(&h, b), w2 = sink_write(&h, b), w3 = sink_write(&h, b);
	int made = make_dirs(sub);
	int w4 = sink_write(&h, b), w5 = sink_write(&h, b);
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(logfd);
	cobs_batch_free(b);

	ck_assert_int_eq(w1, -1);
	ck_assert_int_eq(w2, -1);
	ck_assert_int_eq(w3, -1);
	ck_assert_int_eq(made, 0);
	ck_assert_int_eq(w4, 0);
	ck_assert_int_eq(w5, 0);
	ck_assert_int_eq(size_of(file), 2 * l);
	/* one error for the whole spell, with the sink's name; one line on recovery */
	ck_assert_int_eq(count_matches(log, "error file: cannot open"), 1);
	ck_assert_int_eq(count_matches(log, "file: writing to"), 1);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, missing_path_is_an_error);
	tcase_add_test(tc, bad_values_name_file_line_and_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("writing");
	tcase_add_test(tc, batches_are_whole_json_lines);
	tcase_add_test(tc, other_formats);
	tcase_add_test(tc, file_removed_or_moved_is_reopened);
	tcase_add_test(tc, vanished_directory_fails_then_recovers);
	suite_add_tcase(s, tc);
	tc = tcase_create("rotation");
	tcase_add_test(tc, rotates_at_max_size);
	tcase_add_test(tc, max_files_is_honoured);
	tcase_add_test(tc, total_stays_under_max_total);
	tcase_add_test(tc, batch_larger_than_limits);
	tcase_add_test(tc, large_batch_in_pieces_rotates_whole);
	tcase_add_test(tc, restart_continues_the_current_file);
	tcase_add_test(tc, startup_removes_files_beyond_max_files);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
