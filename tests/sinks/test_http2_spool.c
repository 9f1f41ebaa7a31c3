/*
 * The http2 sink's spool, compiled in directly: order through memory,
 * spill and disk; the bounds drop the oldest and count them; the head goes
 * back to the front when its delivery fails; a restart resumes at the
 * cursor; a torn tail and a damaged record are skipped; one agent per
 * spool directory.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "spool.h"

#define BODY 100 /* bytes per test batch */

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "%s/spool", temp_dir());
}

/* The body of batch seq: its number, then filler, BODY bytes in all. */
static void body_of(uint64_t seq, uint8_t *out)
{
	memset(out, 'a' + (int)(seq % 26), BODY);
	snprintf((char *)out, BODY, "batch-%" PRIu64 "-", seq);
}

static void push(h2_spool *s, uint64_t seq)
{
	uint8_t b[BODY];
	body_of(seq, b);
	ck_assert_int_eq(spool_push(s, seq, b, sizeof(b)), 0);
}

/* Takes the head, checks it is batch seq (body included) and marks it delivered. */
static void deliver(h2_spool *s, uint64_t seq)
{
	const spool_entry *e = spool_take(s);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->seq, seq);
	uint8_t b[BODY];
	body_of(seq, b);
	ck_assert_uint_eq(e->len, BODY);
	ck_assert_mem_eq(e->data, b, BODY);
	spool_done(s);
}

static void open_disk(h2_spool *s, uint64_t mem, uint64_t disk)
{
	cobs_error err = {{0}};
	spool_init(s, "http2", mem);
	ck_assert_msg(spool_attach_disk(s, dir, disk, &err) == 0, "%s", err.msg);
}

static int count_segments(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".seg") != NULL;
	if (d)
		closedir(d);
	return n;
}

START_TEST(memory_only_keeps_order_and_drops_the_oldest)
{
	h2_spool s;
	spool_init(&s, "http2", 10 * BODY);
	for (uint64_t i = 1; i <= 10; i++)
		push(&s, i);
	ck_assert_uint_eq(spool_batches(&s), 10);
	ck_assert_uint_eq(s.dropped, 0);
	push(&s, 11); /* over the bound: batch 1 goes */
	ck_assert_uint_eq(s.dropped, 1);
	ck_assert_uint_eq(spool_batches(&s), 10);
	/* a failed delivery puts the head back in front */
	const spool_entry *e = spool_take(&s);
	ck_assert_uint_eq(e->seq, 2);
	spool_release(&s);
	for (uint64_t i = 2; i <= 11; i++)
		deliver(&s, i);
	ck_assert_ptr_null(spool_take(&s));
	ck_assert_uint_eq(s.mem_bytes, 0);
	/* without a disk tier, what memory holds at the end is reported as lost */
	push(&s, 12);
	ck_assert_uint_eq(spool_persist(&s), 1);
	spool_free(&s);
}
END_TEST

START_TEST(spills_to_disk_in_order)
{
	fresh_dir();
	h2_spool s;
	open_disk(&s, 3 * BODY, 1 << 20);
	for (uint64_t i = 1; i <= 50; i++)
		push(&s, i);
	ck_assert_uint_eq(s.mem_count, 3);
	ck_assert_uint_eq(spool_batches(&s), 50);
	ck_assert_uint_gt(spool_disk_bytes(&s), 47 * BODY);
	ck_assert_uint_eq(s.dropped, 0);
	for (uint64_t i = 1; i <= 50; i++)
		deliver(&s, i);
	ck_assert_ptr_null(spool_take(&s));
	/* delivered segments are deleted */
	ck_assert_int_eq(count_segments(), 0);
	ck_assert_uint_eq(spool_disk_bytes(&s), 0);
	spool_free(&s);
}
END_TEST

START_TEST(a_head_from_memory_goes_to_disk_before_newer_batches)
{
	fresh_dir();
	h2_spool s;
	open_disk(&s, 3 * BODY, 1 << 20);
	push(&s, 1);
	push(&s, 2);
	const spool_entry *e = spool_take(&s);
	ck_assert_uint_eq(e->seq, 1);
	for (uint64_t i = 3; i <= 20; i++) /* spills while 1 is in flight */
		push(&s, i);
	ck_assert_ptr_eq(spool_take(&s), e); /* the head stays put, its bytes too */
	ck_assert_uint_eq(e->seq, 1);
	spool_release(&s); /* its delivery failed */
	for (uint64_t i = 1; i <= 20; i++)
		deliver(&s, i);
	spool_free(&s);
}
END_TEST

START_TEST(restart_resumes_where_delivery_stood)
{
	fresh_dir();
	h2_spool s;
	open_disk(&s, 1 << 20, 1 << 20);
	for (uint64_t i = 1; i <= 10; i++)
		push(&s, i);
	deliver(&s, 1);
	ck_assert_uint_eq(spool_persist(&s), 0); /* shutdown: memory to disk */
	spool_free(&s);

	open_disk(&s, 1 << 20, 1 << 20);
	ck_assert_uint_eq(spool_batches(&s), 9);
	deliver(&s, 2);
	deliver(&s, 3);
	const spool_entry *e = spool_take(&s); /* in flight when the agent died */
	ck_assert_uint_eq(e->seq, 4);
	spool_free(&s); /* a crash: no persist, no release */

	open_disk(&s, 1 << 20, 1 << 20);
	ck_assert_uint_eq(spool_batches(&s), 7); /* 4 was never confirmed: sent again */
	push(&s, 11);                            /* newer than everything left on disk */
	for (uint64_t i = 4; i <= 11; i++)
		deliver(&s, i);
	ck_assert_ptr_null(spool_take(&s));
	spool_free(&s);
}
END_TEST

static char *last_segment(void)
{
	static char path[600];
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[256] = "";
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/%s", dir, best);
	return path;
}

START_TEST(a_torn_tail_is_ignored)
{
	fresh_dir();
	h2_spool s;
	open_disk(&s, 1 << 20, 1 << 20);
	for (uint64_t i = 1; i <= 5; i++)
		push(&s, i);
	spool_persist(&s);
	spool_free(&s);
	/* a crash in the middle of the next append: half a header, half a record */
	const char *seg = last_segment();
	int fd = open(seg, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "CSR1\x40\x00\x00\x00garbage", 15), 15);
	close(fd);
	struct stat st;
	ck_assert_int_eq(stat(seg, &st), 0);
	off_t torn = st.st_size;

	open_disk(&s, 1 << 20, 1 << 20);
	ck_assert_uint_eq(spool_batches(&s), 5);
	ck_assert_int_eq(stat(seg, &st), 0);
	ck_assert_int_eq(st.st_size, torn - 15); /* cut off */
	push(&s, 6);
	for (uint64_t i = 1; i <= 6; i++)
		deliver(&s, i);
	ck_assert_uint_eq(s.dropped, 0);
	spool_free(&s);
}
END_TEST

START_TEST(a_damaged_record_is_skipped_and_counted)
{
	fresh_dir();
	h2_spool s;
	open_disk(&s, 1 << 20, 1 << 20);
	for (uint64_t i = 1; i <= 3; i++)
		push(&s, i);
	spool_persist(&s);
	spool_free(&s);
	/* flip a payload byte of batch 2: segment header 16, record header 24 */
	int fd = open(last_segment(), O_RDWR);
	ck_assert_int_ge(fd, 0);
	off_t at = 16 + (24 + BODY) + 24 + 50;
	ck_assert_int_eq(pwrite(fd, "#", 1, at), 1);
	close(fd);
	open_disk(&s, 1 << 20, 1 << 20);
	deliver(&s, 1);
	deliver(&s, 3);
	ck_assert_uint_eq(s.dropped, 1);
	spool_free(&s);
}
END_TEST

START_TEST(the_disk_bound_drops_the_oldest)
{
	fresh_dir();
	h2_spool s;
	uint64_t limit = 20 * (24 + BODY); /* segments of ~2 records: the bound bites often */
	open_disk(&s, BODY, limit);
	for (uint64_t i = 1; i <= 200; i++) {
		push(&s, i);
		ck_assert_uint_le(spool_disk_bytes(&s), limit);
	}
	uint64_t dropped = s.dropped;
	ck_assert_uint_gt(dropped, 100);
	ck_assert_uint_eq(spool_batches(&s) + dropped, 200);
	/* what is left is the newest, without a gap */
	for (uint64_t i = dropped + 1; i <= 200; i++)
		deliver(&s, i);
	ck_assert_ptr_null(spool_take(&s));
	spool_free(&s);
}
END_TEST

START_TEST(a_head_whose_segment_was_dropped_is_counted)
{
	fresh_dir();
	h2_spool s;
	uint64_t limit = 20 * (24 + BODY);
	open_disk(&s, BODY, limit);
	for (uint64_t i = 1; i <= 5; i++)
		push(&s, i);
	const spool_entry *e = spool_take(&s);
	ck_assert_uint_eq(e->seq, 1);
	for (uint64_t i = 6; i <= 100; i++)
		push(&s, i);
	uint64_t before = s.dropped;
	spool_release(&s); /* its segment is gone: lost, and counted */
	ck_assert_uint_eq(s.dropped, before + 1);
	ck_assert_uint_eq(spool_batches(&s) + s.dropped, 100);
	for (uint64_t i = s.dropped + 1; i <= 100; i++)
		deliver(&s, i);
	spool_free(&s);
}
END_TEST

START_TEST(one_agent_per_directory)
{
	fresh_dir();
	h2_spool a, b;
	open_disk(&a, 1 << 20, 1 << 20);
	cobs_error err = {{0}};
	spool_init(&b, "http2", 1 << 20);
	ck_assert_int_eq(spool_attach_disk(&b, dir, 1 << 20, &err), -1);
	ck_assert_msg(strstr(err.msg, "in use") != NULL, "%s", err.msg);
	spool_free(&b);
	spool_free(&a);
	spool_init(&b, "http2", 1 << 20); /* released at close */
	ck_assert_int_eq(spool_attach_disk(&b, dir, 1 << 20, &err), 0);
	spool_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http2_spool");
	TCase *tc = tcase_create("memory");
	tcase_add_test(tc, memory_only_keeps_order_and_drops_the_oldest);
	suite_add_tcase(s, tc);
	tc = tcase_create("disk");
	tcase_add_test(tc, spills_to_disk_in_order);
	tcase_add_test(tc, a_head_from_memory_goes_to_disk_before_newer_batches);
	tcase_add_test(tc, restart_resumes_where_delivery_stood);
	tcase_add_test(tc, a_torn_tail_is_ignored);
	tcase_add_test(tc, a_damaged_record_is_skipped_and_counted);
	tcase_add_test(tc, the_disk_bound_drops_the_oldest);
	tcase_add_test(tc, a_head_whose_segment_was_dropped_is_counted);
	tcase_add_test(tc, one_agent_per_directory);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
