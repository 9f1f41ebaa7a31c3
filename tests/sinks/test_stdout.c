/*
 * The stdout sink, loaded through the real loader: the format key and the
 * command-line override, exact bytes on a redirected stdout, a reader that
 * went away (EPIPE), a non-blocking stdout that is full (no hang, no torn
 * line, the kept tail finished later), a slow reader of a batch written in
 * many pieces, and memory that stays at about a piece with a fast reader.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cobs/format.h>

#include "harness.h"

/* harness_open for the stdout sink, with env->format as `--format` sets it. */
static int open_stdout(harness *h, const char *const *kv, const char *format)
{
	memset(h, 0, sizeof(*h));
	h->config = cobs_config_new();
	cobs_section *s =
	        h->config ? cobs_config_add_section(h->config, "sink.stdout", "test.ini", 1) : NULL;
	if (!s)
		return cobs_error_set(&h->err, "out of memory");
	for (int i = 0; kv && kv[i]; i += 2)
		if (cobs_section_set(s, kv[i], kv[i + 1], "test.ini", i / 2 + 2, &h->err) < 0)
			return -1;
	if (cobs_plugin_open(&h->plugin, COBS_TEST_PLUGIN_DIR, "stdout", "stdout", COBS_PLUGIN_SINK,
	                     &h->err) < 0)
		return -1;
	h->env = (cobs_plugin_env){.config = s,
	                           .node = "test-node",
	                           .proc_root = "/proc",
	                           .sys_root = "/sys",
	                           .format = format};
	if (cobs_plugin_init(&h->plugin, &h->env, &h->err) < 0)
		return -1;
	return cobs_section_check_unused(s, &h->err);
}

static int sink_write(harness *h, const cobs_batch *b)
{
	return h->plugin.desc->write(h->plugin.state, b);
}

static int sink_flush(harness *h)
{
	return h->plugin.desc->flush(h->plugin.state);
}

static cobs_batch *small_batch(void)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->node = "test-node";
	b->source = "cpu";
	b->timestamp_ms = 1700000000000;
	cobs_family *f = cobs_batch_family(b, "node_cpu_seconds_total", "CPU time.", "seconds",
	                                   COBS_COUNTER);
	ck_assert_int_eq(cobs_family_add2(b, f, 12.5, "cpu", "0", "mode", "user"), 0);
	ck_assert_int_eq(cobs_family_add2(b, f, 99, "cpu", "0", "mode", "idle"), 0);
	return b;
}

/* A batch whose text rendering is a few kilobytes. */
static cobs_batch *big_batch(int samples)
{
	cobs_batch *b = small_batch();
	cobs_family *f =
	        cobs_batch_family(b, "process_resident_memory_bytes", "RSS.", "bytes", COBS_GAUGE);
	char pid[16];
	for (int i = 0; i < samples; i++) {
		snprintf(pid, sizeof(pid), "%d", 1000 + i);
		ck_assert_int_eq(cobs_family_add1(b, f, 4096.0 * i, "pid", pid), 0);
	}
	return b;
}

static char *render(const cobs_batch *b, cobs_format fmt)
{
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_format_batch(b, fmt, &out), 0);
	return out.data;
}

/* Points STDOUT_FILENO at fd; returns the saved stdout. */
static int redirect(int target, int fd)
{
	fflush(NULL);
	int saved = dup(target);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, target), target);
	return saved;
}

static void restore(int target, int saved)
{
	ck_assert_int_eq(dup2(saved, target), target);
	close(saved);
}

/* Creates (empty) the file `name` in a fresh temp dir; its path in path, an fd to write it. */
static int temp_file(const char *name, char path[128])
{
	snprintf(path, 128, "%s/%s", temp_dir(), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Runs write (twice) and flush with stdout on a temp file; returns what landed there. */
static char *capture(const char *const *kv, const char *format, const cobs_batch *b)
{
	char path[128];
	int fd = temp_file("out", path);
	harness h;
	int rc = open_stdout(&h, kv, format);
	ck_assert_msg(rc == 0, "open: %s", h.err.msg);
	int saved = redirect(STDOUT_FILENO, fd);
	int w1 = sink_write(&h, b), w2 = sink_write(&h, b), fl = sink_flush(&h);
	restore(STDOUT_FILENO, saved);
	close(fd);
	harness_close(&h);
	ck_assert_int_eq(w1, 0);
	ck_assert_int_eq(w2, 0);
	ck_assert_int_eq(fl, 0);
	char *got = read_file(path);
	ck_assert_ptr_nonnull(got);
	unlink(path);
	return got;
}

static void check_capture(const char *const *kv, const char *format, cobs_format want)
{
	cobs_batch *b = small_batch();
	char *got = capture(kv, format, b);
	char *one = render(b, want);
	size_t n = strlen(one);
	ck_assert_uint_eq(strlen(got), 2 * n);
	ck_assert_int_eq(memcmp(got, one, n), 0);
	ck_assert_str_eq(got + n, one);
	free(one);
	free(got);
	cobs_batch_free(b);
}

START_TEST(text_by_default)
{
	check_capture(NULL, NULL, COBS_FORMAT_TEXT);
}
END_TEST

START_TEST(format_key_chooses)
{
	const char *json[] = {"format", "json", NULL};
	check_capture(json, NULL, COBS_FORMAT_JSON);
	const char *prom[] = {"format", "prometheus", NULL};
	check_capture(prom, NULL, COBS_FORMAT_PROMETHEUS);
}
END_TEST

START_TEST(command_line_format_wins)
{
	const char *prom[] = {"format", "prometheus", NULL};
	check_capture(prom, "json", COBS_FORMAT_JSON);
	check_capture(NULL, "prometheus", COBS_FORMAT_PROMETHEUS);
}
END_TEST

START_TEST(bad_format_is_an_error)
{
	harness h;
	const char *kv[] = {"format", "yaml", NULL};
	ck_assert_int_eq(open_stdout(&h, kv, NULL), -1);
	ck_assert_msg(strstr(h.err.msg, "test.ini:2") && strstr(h.err.msg, "'format'") &&
	                      strstr(h.err.msg, "yaml"),
	              "%s", h.err.msg);
	harness_close(&h);
	/* even when the command line would override it: agent.ini is still wrong */
	ck_assert_int_eq(open_stdout(&h, kv, "json"), -1);
	ck_assert_ptr_nonnull(strstr(h.err.msg, "'format'"));
	harness_close(&h);
	ck_assert_int_eq(open_stdout(&h, NULL, "xml"), -1);
	ck_assert_ptr_nonnull(strstr(h.err.msg, "xml"));
	harness_close(&h);
}
END_TEST

/* Lines in the file that contain needle. */
static int count_matches(const char *path, const char *needle)
{
	char *text = read_file(path);
	ck_assert_ptr_nonnull(text);
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

START_TEST(closed_pipe_fails_without_crash)
{
	signal(SIGPIPE, SIG_IGN); /* as cobs-agent does */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	char log[128];
	int logfd = temp_file("log", log);
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "json"), 0);
	cobs_batch *b = small_batch();
	int saved = redirect(STDOUT_FILENO, p[1]);
	int saved_err = redirect(STDERR_FILENO, logfd);
	int w1 = sink_write(&h, b), w2 = sink_write(&h, b), w3 = sink_write(&h, b);
	int fl = sink_flush(&h);
	restore(STDERR_FILENO, saved_err);
	restore(STDOUT_FILENO, saved);
	ck_assert_int_eq(w1, -1);
	ck_assert_int_eq(w2, -1);
	ck_assert_int_eq(w3, -1);
	ck_assert_int_eq(fl, 0); /* nothing is owed: the batches were dropped */
	/* one log line for the spell of failures, naming the sink */
	ck_assert_int_eq(count_matches(log, "stdout: write:"), 1);
	close(p[1]);
	close(logfd);
	harness_close(&h);
	cobs_batch_free(b);
}
END_TEST

/* Reads everything the pipe holds now (its write end is non-blocking-safe). */
static char *drain_pipe(int fd, size_t *len)
{
	int fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		if (cap - n < 4096) {
			buf = realloc(buf, cap *= 2);
			ck_assert_ptr_nonnull(buf);
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

START_TEST(full_nonblocking_stdout_drops_without_blocking)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	while (write(p[1], "x", 1) == 1) {
	}
	ck_assert_int_eq(errno, EAGAIN);
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "text"), 0);
	cobs_batch *b = small_batch();
	int saved = redirect(STDOUT_FILENO, p[1]);
	int w1 = sink_write(&h, b); /* full: dropped at once, not waited for */
	size_t n;
	free(drain_pipe(p[0], &n));
	int w2 = sink_write(&h, b);
	int fl = sink_flush(&h);
	restore(STDOUT_FILENO, saved);
	ck_assert_int_eq(w1, -1);
	ck_assert_int_eq(w2, 0);
	ck_assert_int_eq(fl, 0);
	char *got = drain_pipe(p[0], &n);
	char *want = render(b, COBS_FORMAT_TEXT);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	close(p[0]);
	close(p[1]);
	harness_close(&h);
	cobs_batch_free(b);
}
END_TEST

START_TEST(partial_write_is_finished_not_torn)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* Two one-page slots, one taken: a large write fills the other and stops
	 * there (the kernel only merges the tail of a write into a used page). */
	ck_assert_int_eq(fcntl(p[1], F_SETPIPE_SZ, 8192), 8192);
	char filler[4096];
	memset(filler, '#', sizeof(filler));
	ck_assert_int_eq(write(p[1], filler, sizeof(filler)), (ssize_t)sizeof(filler));
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "text"), 0);
	cobs_batch *b1 = big_batch(200), *b2 = small_batch(), *b3 = big_batch(3);
	char *r1 = render(b1, COBS_FORMAT_TEXT), *r3 = render(b3, COBS_FORMAT_TEXT);
	ck_assert_uint_gt(strlen(r1), 8192); /* cannot fit: only part of it goes */
	int saved = redirect(STDOUT_FILENO, p[1]);
	int w1 = sink_write(&h, b1); /* part written, the rest kept */
	int w2 = sink_write(&h, b2); /* the rest still cannot go: b2 is dropped */
	size_t n1, n2;
	char *first = drain_pipe(p[0], &n1);
	ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	int w3 = sink_write(&h, b3); /* finishes b1, then writes b3 */
	int fl = sink_flush(&h);
	restore(STDOUT_FILENO, saved);
	char *rest = drain_pipe(p[0], &n2);
	ck_assert_int_eq(w1, 0);
	ck_assert_int_eq(w2, -1);
	ck_assert_int_eq(w3, 0);
	ck_assert_int_eq(fl, 0);
	/* the stream is the filler, all of b1, all of b3: b2 is absent, not interleaved */
	ck_assert_uint_gt(n1, sizeof(filler));
	ck_assert_uint_eq(n1 + n2, sizeof(filler) + strlen(r1) + strlen(r3));
	ck_assert_int_eq(memcmp(first, filler, sizeof(filler)), 0);
	size_t part = n1 - sizeof(filler);
	ck_assert_int_eq(memcmp(first + sizeof(filler), r1, part), 0);
	ck_assert_int_eq(memcmp(rest, r1 + part, strlen(r1) - part), 0);
	ck_assert_str_eq(rest + strlen(r1) - part, r3);
	free(first);
	free(rest);
	free(r1);
	free(r3);
	close(p[0]);
	close(p[1]);
	harness_close(&h);
	cobs_batch_free(b1);
	cobs_batch_free(b2);
	cobs_batch_free(b3);
}
END_TEST

START_TEST(flush_finishes_a_kept_tail)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* Two one-page slots, one taken: a large write fills the other and stops
	 * there (the kernel only merges the tail of a write into a used page). */
	ck_assert_int_eq(fcntl(p[1], F_SETPIPE_SZ, 8192), 8192);
	char filler[4096];
	memset(filler, '#', sizeof(filler));
	ck_assert_int_eq(write(p[1], filler, sizeof(filler)), (ssize_t)sizeof(filler));
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "json"), 0);
	cobs_batch *b = big_batch(300);
	char *r = render(b, COBS_FORMAT_JSON);
	int saved = redirect(STDOUT_FILENO, p[1]);
	int w = sink_write(&h, b);
	ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	int fl = sink_flush(&h);
	restore(STDOUT_FILENO, saved);
	size_t n;
	char *got = drain_pipe(p[0], &n);
	ck_assert_int_eq(w, 0);
	ck_assert_int_eq(fl, 0);
	ck_assert_uint_eq(n, sizeof(filler) + strlen(r));
	ck_assert_str_eq(got + sizeof(filler), r);
	free(got);
	free(r);
	close(p[0]);
	close(p[1]);
	harness_close(&h);
	cobs_batch_free(b);
}
END_TEST

/* A child that reads fd slowly (small reads, a pause between them) into path until EOF. */
static pid_t slow_reader(const int p[2], const char *path)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	int fd = p[0];
	close(p[1]); /* or it would never see EOF */
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int fl = fcntl(fd, F_GETFL);
	if (out < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		_exit(2);
	char buf[4096];
	const struct timespec pause = {0, 200000}; /* 0.2 ms per 4 KiB: ~20 MB/s */
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0)
			_exit(0);
		if (r < 0 || write(out, buf, (size_t)r) != r)
			_exit(3);
		nanosleep(&pause, NULL);
	}
}

START_TEST(slow_reader_gets_every_piece_in_order)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/slow", temp_dir());
	pid_t reader = slow_reader(p, path);
	close(p[0]);
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "prometheus"), 0);
	/* ~1 MiB of text: many pieces, most of them met by a full pipe (EAGAIN) */
	cobs_batch *b1 = big_batch(20000), *b2 = big_batch(5);
	char *r1 = render(b1, COBS_FORMAT_PROMETHEUS), *r2 = render(b2, COBS_FORMAT_PROMETHEUS);
	ck_assert_uint_gt(strlen(r1), 512 * 1024);
	int saved = redirect(STDOUT_FILENO, p[1]);
	int w1 = sink_write(&h, b1);
	int fl1 = sink_flush(&h); /* waits for the reader to take the kept rest */
	int w2 = sink_write(&h, b2);
	int fl2 = sink_flush(&h);
	restore(STDOUT_FILENO, saved);
	close(p[1]);
	int status;
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(w1, 0);
	ck_assert_int_eq(fl1, 0);
	ck_assert_int_eq(w2, 0);
	ck_assert_int_eq(fl2, 0);
	/* nothing lost, nothing torn: exactly both batches, in order */
	char *got = read_file(path);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), strlen(r1) + strlen(r2));
	ck_assert_int_eq(memcmp(got, r1, strlen(r1)), 0);
	ck_assert_str_eq(got + strlen(r1), r2);
	free(got);
	free(r1);
	free(r2);
	harness_close(&h);
	cobs_batch_free(b1);
	cobs_batch_free(b2);
}
END_TEST

START_TEST(fast_reader_keeps_memory_to_a_piece)
{
	char path[128];
	int fd = temp_file("fast", path);
	harness h;
	ck_assert_int_eq(open_stdout(&h, NULL, "prometheus"), 0);
	cobs_batch *b = big_batch(50000);
	char *want = render(b, COBS_FORMAT_PROMETHEUS);
	size_t len = strlen(want);
	ck_assert_uint_gt(len, 2u << 20);
	free(want);
	int saved = redirect(STDOUT_FILENO, fd);
	/* What the sink keeps between batches; a whole rendering would be > 2 MiB. */
	size_t before = mallinfo2().uordblks;
	int w = sink_write(&h, b);
	size_t after = mallinfo2().uordblks;
	restore(STDOUT_FILENO, saved);
	close(fd);
	ck_assert_int_eq(w, 0);
	ck_assert_uint_lt(after > before ? after - before : 0, 512 * 1024);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((size_t)st.st_size, len);
	harness_close(&h);
	cobs_batch_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stdout");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, text_by_default);
	tcase_add_test(tc, format_key_chooses);
	tcase_add_test(tc, command_line_format_wins);
	tcase_add_test(tc, bad_format_is_an_error);
	suite_add_tcase(s, tc);
	tc = tcase_create("writing");
	tcase_add_test(tc, closed_pipe_fails_without_crash);
	tcase_add_test(tc, full_nonblocking_stdout_drops_without_blocking);
	tcase_add_test(tc, partial_write_is_finished_not_torn);
	tcase_add_test(tc, flush_finishes_a_kept_tail);
	tcase_add_test(tc, slow_reader_gets_every_piece_in_order);
	tcase_add_test(tc, fast_reader_keeps_memory_to_a_piece);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
