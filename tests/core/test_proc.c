/* The collector helpers: counters, rates, the previous-value table, parsing, procfile. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/log.h>
#include <cobs/proc.h>

#include "harness.h"

START_TEST(counter_delta_reset_and_wrap)
{
	uint64_t d;
	ck_assert(cobs_counter_delta(10, 25, &d));
	ck_assert_uint_eq(d, 15);
	/* A 32-bit counter near the top that wraps: 4294967290 -> 4 is 10 more. */
	ck_assert(cobs_counter_delta(4294967290u, 4, &d));
	ck_assert_uint_eq(d, 10);
	/* Going down from the middle of the range is a reset: no delta. */
	ck_assert(!cobs_counter_delta(1000000, 5, &d));
	/* 64-bit values never wrap: a decrease is a reset. */
	ck_assert(!cobs_counter_delta(UINT64_MAX - 5, 3, &d));
}
END_TEST

START_TEST(rate_needs_two_samples_and_time)
{
	double r;
	ck_assert(!cobs_rate(0, 100, 0, 1000000000, &r));            /* first sample */
	ck_assert(!cobs_rate(100, 200, 5000, 5000, &r));             /* no time passed */
	ck_assert(!cobs_rate(500, 100, 1000000000, 3000000000, &r)); /* reset */
	ck_assert(cobs_rate(100, 600, 1000000000, 3000000000, &r));
	ck_assert_double_eq(r, 250.0); /* 500 over 2 s */
}
END_TEST

START_TEST(prev_table_sweeps_vanished_keys)
{
	cobs_prev_table *t = cobs_prev_new(3);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "veth%d", i);
		cobs_prev_entry *e = cobs_prev_get(t, key);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->t_ns, 0);
		e->t_ns = 1;
		e->vals[2] = (uint64_t)i;
	}
	cobs_prev_sweep(t);
	ck_assert_uint_eq(cobs_prev_count(t), 1000);
	/* Only even keys seen in this pass: the odd ones go at the sweep. */
	for (int i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof(key), "veth%d", i);
		cobs_prev_entry *e = cobs_prev_get(t, key);
		ck_assert_uint_eq(e->t_ns, 1);
		ck_assert_uint_eq(e->vals[2], (uint64_t)i);
	}
	cobs_prev_sweep(t);
	ck_assert_uint_eq(cobs_prev_count(t), 500);
	ck_assert_uint_eq(cobs_prev_get(t, "veth1")->t_ns, 0); /* came back: starts fresh */
	ck_assert_uint_eq(cobs_prev_get(t, "veth998")->vals[2], 998);
	cobs_prev_free(t);
}
END_TEST

START_TEST(parse_u64_is_strict)
{
	const char *line = "  12 0 18446744073709551615 12ab 18446744073709551616";
	const char *end = line + strlen(line), *p;
	uint64_t v;
	ck_assert_ptr_nonnull(p = cobs_parse_u64(line, end, &v));
	ck_assert_uint_eq(v, 12);
	ck_assert_ptr_nonnull(p = cobs_parse_u64(p, end, &v));
	ck_assert_uint_eq(v, 0);
	ck_assert_ptr_nonnull(p = cobs_parse_u64(p, end, &v));
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_ptr_null(cobs_parse_u64(p, end, &v));     /* 12ab */
	ck_assert_ptr_null(cobs_parse_u64(p + 5, end, &v)); /* overflow */
	ck_assert_ptr_null(cobs_parse_u64(end, end, &v));   /* nothing left */
	ck_assert_ptr_null(cobs_parse_u64("-1", end, &v));
}
END_TEST

/* n: the name cobs_netdev_name finds in line (NULL: none); returns where the counters start. */
static const char *netdev(const char *line, char *n, size_t cap)
{
	return cobs_netdev_name(line, line + strlen(line), n, cap);
}

START_TEST(netdev_names)
{
	char n[16];
	const char *q = netdev("  eth0: 1 2 3", n, sizeof(n));
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(n, "eth0");
	ck_assert_str_eq(q, " 1 2 3");
	/* the last ':' ends the name: a count glued to it still parses after */
	ck_assert_ptr_nonnull(q = netdev("veth1:123 4", n, sizeof(n)));
	ck_assert_str_eq(n, "veth1");
	ck_assert_str_eq(q, "123 4");
	/* headers, blank lines, and names that are no names */
	ck_assert_ptr_null(netdev("Inter-|   Receive", n, sizeof(n)));
	ck_assert_ptr_null(netdev("   ", n, sizeof(n)));
	ck_assert_ptr_null(netdev("  : 1 2", n, sizeof(n)));
	ck_assert_ptr_null(netdev("et h0: 1", n, sizeof(n)));
	ck_assert_ptr_null(netdev("eth\x01: 1", n, sizeof(n)));
	ck_assert_ptr_null(netdev("a-name-of-16-bytes: 1", n, sizeof(n)));
	ck_assert_ptr_nonnull(netdev("fifteen-bytes-x: 1", n, sizeof(n)));
	ck_assert_str_eq(n, "fifteen-bytes-x");
}
END_TEST

/* What fn wrote to stderr (malloc'd). */
static char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/cobs-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	char *text = read_file(path);
	unlink(path);
	ck_assert_ptr_nonnull(text);
	return text;
}

static int warned;
static void twice(void)
{
	cobs_log_recurring(&warned, "net", "skipped %d line(s)", 1);
	cobs_log_recurring(&warned, "net", "skipped %d line(s)", 2);
}

START_TEST(recurring_problems_warn_once)
{
	warned = 0;
	cobs_log_set_level(COBS_LOG_INFO);
	char *t = stderr_of(twice);
	ck_assert_ptr_nonnull(strstr(t, "warn  net: skipped 1 line(s)\n"));
	ck_assert_ptr_null(strstr(t, "skipped 2"));
	ck_assert_int_eq(warned, 1);
	free(t);
	/* at debug level the later ones show, as debug */
	warned = 0;
	cobs_log_set_level(COBS_LOG_DEBUG);
	t = stderr_of(twice);
	ck_assert_ptr_nonnull(strstr(t, "warn  net: skipped 1 line(s)\n"));
	ck_assert_ptr_nonnull(strstr(t, "debug net: skipped 2 line(s)\n"));
	free(t);
	cobs_log_set_level(COBS_LOG_INFO);
}
END_TEST

START_TEST(globs)
{
	char **g = cobs_globs_parse("lo, veth* ,docker[0-9]");
	ck_assert_ptr_nonnull(g);
	ck_assert(cobs_globs_match(g, "lo"));
	ck_assert(cobs_globs_match(g, "veth1a2b"));
	ck_assert(cobs_globs_match(g, "docker0"));
	ck_assert(!cobs_globs_match(g, "eth0"));
	cobs_globs_free(g);
	g = cobs_globs_parse("");
	ck_assert_ptr_nonnull(g);
	ck_assert(!cobs_globs_match(g, "eth0"));
	cobs_globs_free(g);
}
END_TEST

START_TEST(procfile_rereads_in_place_and_grows)
{
	char dir[64], path[128];
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	snprintf(path, sizeof(path), "%s/big", dir);
	/* Larger than the first buffer, so the read has to grow it. */
	char *text = malloc(100001);
	memset(text, 'x', 100000);
	text[100000] = '\0';
	ck_assert_int_eq(write_file(path, text), 0);
	cobs_procfile f;
	ck_assert_int_eq(cobs_procfile_init(&f, dir, "/big"), 0);
	ck_assert_int_eq(cobs_procfile_read(&f), 0);
	ck_assert_uint_eq(f.len, 100000);
	ck_assert_int_eq(write_file(path, "short\n"), 0); /* same inode, truncated */
	ck_assert_int_eq(cobs_procfile_read(&f), 0);
	ck_assert_str_eq(f.buf, "short\n");
	unlink(path);
	/* The kept fd still reads the unlinked inode; a missing file fails on reopen. */
	cobs_procfile g;
	ck_assert_int_eq(cobs_procfile_init(&g, dir, "missing"), 0);
	ck_assert_int_eq(cobs_procfile_read(&g), -1);
	cobs_procfile_close(&g);
	cobs_procfile_close(&f);
	free(text);
}
END_TEST

START_TEST(procfile_on_real_proc)
{
	cobs_procfile f;
	ck_assert_int_eq(cobs_procfile_init(&f, "/proc", "self/status"), 0);
	ck_assert_int_eq(cobs_procfile_read(&f), 0);
	ck_assert_ptr_nonnull(strstr(f.buf, "Pid:"));
	size_t first = f.len;
	ck_assert_int_eq(cobs_procfile_read(&f), 0); /* pread at 0: fresh, not EOF */
	ck_assert_uint_gt(f.len, first / 2);
	cobs_procfile_close(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("proc");
	tcase_add_test(tc, counter_delta_reset_and_wrap);
	tcase_add_test(tc, netdev_names);
	tcase_add_test(tc, recurring_problems_warn_once);
	tcase_add_test(tc, rate_needs_two_samples_and_time);
	tcase_add_test(tc, prev_table_sweeps_vanished_keys);
	tcase_add_test(tc, parse_u64_is_strict);
	tcase_add_test(tc, globs);
	tcase_add_test(tc, procfile_rereads_in_place_and_grows);
	tcase_add_test(tc, procfile_on_real_proc);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
