/*
 * The http2 sink, loaded through the real loader, against the h2o test
 * receiver (tests/support/h2_receiver.c): batches arrive in order with
 * sequence numbers 1..N and their content; nothing is lost while the server
 * is away (memory, then disk), the bounds drop the oldest and say how many;
 * a restart sends the disk spool first; 4xx are dropped, 5xx retried; one
 * TCP connection carries batches and the command stream; commands are
 * answered (echo) or refused with an error (unknown kinds).
 *
 * Nothing here measures time: a test waits for a condition, with a generous
 * deadline only so a bug fails instead of hanging.
 */
#include <check.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/wire.h>

#include "h2_receiver.h"
#include "harness.h"
#include "stats.h"

#define WAIT_MS 30000 /* a deadline for bugs, not a timing */

static struct event_base *base;
static struct event *tick;
static h2_receiver *rx;
static char dir[256];

typedef struct sink {
	cobs_config *cfg;
	cobs_loaded p;
	cobs_plugin_env env;
	cobs_error err;
	cobs_http2_stats_fn stats;
} sink;

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	/* keeps the loop turning, so a wait checks its condition often */
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval tv = {0, 2000};
	event_add(tick, &tv);
	rx = h2r_start();
	ck_assert_ptr_nonnull(rx);
}

static void teardown(void)
{
	h2r_stop(rx);
	event_free(tick);
	event_base_free(base);
}

/* Opens the sink on rx's URL with quick backoffs; kv adds or overrides keys. */
static int sink_open(sink *s, const char *const *kv)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cobs_config_new();
	cobs_section *sec =
	        s->cfg ? cobs_config_add_section(s->cfg, "sink.http2", "test.ini", 1) : NULL;
	ck_assert_ptr_nonnull(sec);
	int line = 2;
	bool has[4] = {false};
	const char *keys[] = {"url", "backoff_min", "backoff_max", "commands"};
	for (int i = 0; kv && kv[i]; i += 2) {
		for (int k = 0; k < 4; k++)
			has[k] |= strcmp(kv[i], keys[k]) == 0;
		if (cobs_section_set(sec, kv[i], kv[i + 1], "test.ini", line++, &s->err) < 0)
			return -1;
	}
	const char *defs[] = {h2r_url(rx), "10ms", "100ms", "false"};
	for (int k = 0; k < 4; k++)
		if (!has[k])
			ck_assert_int_eq(cobs_section_set(sec, keys[k], defs[k], "test.ini", line++,
			                                  &s->err),
			                 0);
	if (cobs_plugin_open(&s->p, COBS_TEST_PLUGIN_DIR, "http2", "http2", COBS_PLUGIN_SINK,
	                     &s->err) < 0)
		return -1;
	s->env = (cobs_plugin_env){.config = sec, .node = "test-node", .base = base};
	if (cobs_plugin_init(&s->p, &s->env, &s->err) < 0)
		return -1;
	s->stats = (cobs_http2_stats_fn)dlsym(s->p.handle, COBS_HTTP2_STATS_SYMBOL);
	ck_assert_ptr_nonnull(s->stats);
	return cobs_section_check_unused(sec, &s->err);
}

static void sink_ok(sink *s, const char *const *kv)
{
	int rc = sink_open(s, kv);
	ck_assert_msg(rc == 0, "open: %s", s->err.msg);
}

static void sink_close(sink *s)
{
	if (s->p.desc && s->p.desc->flush && s->p.initialized)
		s->p.desc->flush(s->p.state);
	cobs_plugin_close(&s->p);
	cobs_config_free(s->cfg);
	s->cfg = NULL;
}

static cobs_http2_stats stats(sink *s)
{
	cobs_http2_stats st;
	ck_assert_int_eq(s->stats(s->p.state, &st), 0);
	return st;
}

/* Batch number i: test_value{k="v"} = i, plus a counter, from source "test". */
static cobs_batch *batch(int i)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->node = "test-node";
	b->source = "test";
	b->timestamp_ms = 1700000000000 + i;
	b->monotonic_ns = 1000000000ull * (uint64_t)(i + 1);
	cobs_family *f = cobs_batch_family(b, "test_value", "The batch's number.", "", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add1(b, f, i, "k", "v"), 0);
	f = cobs_batch_family(b, "test_bytes_total", "Bytes.", "bytes", COBS_COUNTER);
	ck_assert_int_eq(cobs_family_add2(b, f, 1e9 + i, "device", "sda", "dir", "read"), 0);
	return b;
}

static void write_batch(sink *s, int i)
{
	cobs_batch *b = batch(i);
	ck_assert_int_eq(s->p.desc->write(s->p.state, b), 0);
	cobs_batch_free(b);
}

/* Runs the loop until cond holds (true) or the deadline passes (false). */
static bool run_until(bool (*cond)(void *), void *arg)
{
	uint64_t end = cobs_monotonic_ns() + (uint64_t)WAIT_MS * 1000000u;
	while (!cond(arg)) {
		if (cobs_monotonic_ns() > end)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
		h2r_drain(rx, 0);
	}
	return true;
}

static size_t want_n;
/* The receiver answered 204 to n ingests, and the sink has seen that many 204s. */
static bool ingests_204(void *arg)
{
	size_t n = 0;
	for (size_t i = 0; i < h2r_count(rx, H2R_INGEST); i++)
		n += h2r_get(rx, H2R_INGEST, i)->status == 204;
	return n >= want_n && stats(arg).sent >= want_n;
}

static void wait_delivered_by(sink *s, size_t n)
{
	want_n = n;
	ck_assert_msg(run_until(ingests_204, s), "only %zu ingests arrived, %zu expected",
	              h2r_count(rx, H2R_INGEST), n);
}

static bool count_at_least(void *arg)
{
	const size_t *want = arg; /* [type, n] */
	return h2r_count(rx, (h2r_type)want[0]) >= want[1];
}

static void wait_events(h2r_type type, size_t n)
{
	size_t want[2] = {type, n};
	ck_assert_msg(run_until(count_at_least, want), "%zu events of type %d, %zu expected",
	              h2r_count(rx, type), (int)type, n);
}

typedef struct got {
	cobs_wire_meta meta;
	double value;
} got;

/* The k-th delivered (204) ingest, decoded. */
static got delivered(size_t k)
{
	for (size_t i = 0; i < h2r_count(rx, H2R_INGEST); i++) {
		const h2r_event *e = h2r_get(rx, H2R_INGEST, i);
		if (e->status != 204 || k-- != 0)
			continue;
		got g = {0};
		cobs_batch *b = cobs_batch_new();
		cobs_error err = {{0}};
		ck_assert_msg(cobs_wire_decode_batch(e->body, e->len, b, &g.meta, &err) == 0, "%s",
		              err.msg);
		ck_assert_int_eq(sample_value(b, "test_value", &g.value, "k", "v", NULL), 1);
		cobs_batch_free(b);
		return g;
	}
	ck_abort_msg("no delivered ingest #%zu", k);
	return (got){0};
}

static bool stats_retries(void *arg)
{
	sink *s = arg;
	return stats(s).retries >= 2;
}

static bool stats_disk(void *arg)
{
	return stats(arg).disk_attached;
}

static bool spool_empty(void *arg)
{
	return stats(arg).spool_batches == 0;
}

/* ---- configuration ---- */

static void open_fails(const char *const *kv, const char *needle)
{
	sink s;
	ck_assert_int_eq(sink_open(&s, kv), -1);
	ck_assert_msg(strstr(s.err.msg, needle) != NULL, "'%s' not in: %s", needle, s.err.msg);
	sink_close(&s);
}

START_TEST(bad_configuration_names_the_key)
{
	const char *nourl[] = {"url", "", NULL};
	open_fails(nourl, "'url'");
	const char *scheme[] = {"url", "ftp://x", NULL};
	open_fails(scheme, "'url'");
	const char *both[] = {"token", "a", "token_file", "/x", NULL};
	open_fails(both, "'token_file'");
	const char *ca[] = {"ca_file", "/etc/ssl/certs/ca-certificates.crt", NULL};
	open_fails(ca, "'ca_file'");
	const char *mem[] = {"max_batch", "1MiB", "spool_memory", "64KiB", NULL};
	open_fails(mem, "'spool_memory'");
	const char *bo[] = {"backoff_min", "10s", "backoff_max", "1s", NULL};
	open_fails(bo, "'backoff_max'");
	const char *typo[] = {"spool_dri", "/tmp", NULL};
	open_fails(typo, "spool_dri");
}
END_TEST

/* ---- delivery ---- */

START_TEST(batches_arrive_in_order_with_their_content)
{
	sink s;
	sink_ok(&s, NULL);
	for (int i = 0; i < 20; i++)
		write_batch(&s, i);
	wait_delivered_by(&s, 20);
	ck_assert_uint_eq(h2r_count(rx, H2R_INGEST), 20);
	got first = delivered(0);
	for (size_t k = 0; k < 20; k++) {
		got g = delivered(k);
		ck_assert_uint_eq(g.meta.sequence, k + 1);
		ck_assert_double_eq(g.value, (double)k);
		ck_assert_str_eq(g.meta.node, "test-node");
		ck_assert_str_eq(g.meta.boot_id, first.meta.boot_id);
		ck_assert_uint_eq(g.meta.dropped, 0);
		ck_assert_uint_eq(g.meta.interval_ms, k ? 1000 : 0); /* monotonic 1 s apart */
	}
	ck_assert_uint_ge(strlen(first.meta.boot_id), 16);
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.sent, 20);
	ck_assert_uint_eq(st.spool_batches, 0);
	ck_assert_uint_eq(h2r_count(rx, H2R_ACCEPT), 1);
	sink_close(&s);
}
END_TEST

START_TEST(nothing_is_lost_while_the_server_is_away)
{
	sink s;
	sink_ok(&s, NULL);
	write_batch(&s, 0);
	wait_delivered_by(&s, 1);
	h2r_kill(rx);
	for (int i = 1; i <= 10; i++)
		write_batch(&s, i);
	ck_assert(run_until(stats_retries, &s));
	ck_assert_int_eq(h2r_restart(rx), 0);
	wait_delivered_by(&s, 11);
	for (size_t k = 0; k <= 10; k++) {
		got g = delivered(k);
		ck_assert_uint_eq(g.meta.sequence, k + 1);
		ck_assert_double_eq(g.value, (double)k);
	}
	ck_assert_uint_eq(stats(&s).spool_dropped, 0);
	sink_close(&s);
}
END_TEST

START_TEST(memory_spills_to_disk)
{
	char spool[300];
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	const char *kv[] = {"spool_memory", "1KiB", "max_batch", "1KiB", "spool_dir", spool, NULL};
	sink s;
	sink_ok(&s, kv);
	ck_assert(run_until(stats_disk, &s));
	h2r_kill(rx);
	for (int i = 0; i < 40; i++)
		write_batch(&s, i);
	ck_assert(run_until(stats_retries, &s));
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_gt(st.spool_disk_bytes, 0);
	ck_assert_uint_le(st.spool_mem_bytes, 1024 + 1024); /* the bound, plus one in flight */
	ck_assert_uint_eq(st.spool_batches, 40);
	ck_assert_int_eq(h2r_restart(rx), 0);
	wait_delivered_by(&s, 40);
	for (size_t k = 0; k < 40; k++)
		ck_assert_uint_eq(delivered(k).meta.sequence, k + 1);
	ck_assert_uint_eq(stats(&s).spool_dropped, 0);
	sink_close(&s);
}
END_TEST

START_TEST(the_disk_bound_drops_the_oldest_and_says_how_many)
{
	char spool[300];
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	const char *kv[] = {"spool_memory", "1KiB",       "max_batch", "1KiB", "spool_dir",
	                    spool,          "spool_disk", "4KiB",      NULL};
	sink s;
	sink_ok(&s, kv);
	ck_assert(run_until(stats_disk, &s));
	h2r_kill(rx);
	/* written without the loop turning: nothing is in flight, the oldest go */
	for (int i = 0; i < 200; i++)
		write_batch(&s, i);
	uint64_t dropped = stats(&s).spool_dropped;
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_eq(stats(&s).spool_batches + dropped, 200);
	ck_assert_int_eq(h2r_restart(rx), 0);
	ck_assert(run_until(spool_empty, &s));
	write_batch(&s, 200); /* tells the server the count */
	size_t n = 200 - dropped + 1;
	wait_delivered_by(&s, n);
	for (size_t k = 0; k + 1 < n; k++) /* the gap is exactly the oldest `dropped` */
		ck_assert_uint_eq(delivered(k).meta.sequence, dropped + 1 + k);
	got last = delivered(n - 1);
	ck_assert_uint_eq(last.meta.sequence, 201);
	ck_assert_uint_eq(last.meta.dropped, dropped);
	sink_close(&s);
}
END_TEST

START_TEST(a_restart_sends_the_disk_spool_first)
{
	char spool[300];
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	const char *kv[] = {"spool_dir", spool, NULL};
	sink a;
	sink_ok(&a, kv);
	ck_assert(run_until(stats_disk, &a));
	h2r_kill(rx);
	for (int i = 0; i < 5; i++)
		write_batch(&a, i);
	ck_assert(run_until(stats_retries, &a));
	sink_close(&a); /* flush and shutdown: memory goes to disk */

	sink b;
	sink_ok(&b, kv);
	ck_assert_int_eq(h2r_restart(rx), 0);
	for (int i = 100; i < 103; i++)
		write_batch(&b, i);
	wait_delivered_by(&b, 8);
	got g0 = delivered(0), g5 = delivered(5);
	ck_assert_str_ne(g0.meta.boot_id, g5.meta.boot_id);
	for (size_t k = 0; k < 8; k++) {
		got g = delivered(k);
		ck_assert_str_eq(g.meta.boot_id, k < 5 ? g0.meta.boot_id : g5.meta.boot_id);
		ck_assert_uint_eq(g.meta.sequence, k < 5 ? k + 1 : k - 4);
		ck_assert_double_eq(g.value, k < 5 ? (double)k : (double)(100 + k - 5));
	}
	sink_close(&b);
}
END_TEST

START_TEST(a_reload_hands_the_spool_over)
{
	char spool[300];
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	const char *kv[] = {"spool_dir", spool, NULL};
	sink old;
	sink_ok(&old, kv);
	ck_assert(run_until(stats_disk, &old));
	h2r_kill(rx);
	for (int i = 0; i < 5; i++)
		write_batch(&old, i);
	ck_assert(run_until(stats_retries, &old));
	/* SIGHUP: the new runtime is built while the old one still holds the directory, then
	 * the old one is flushed and shut down, all before the loop turns again */
	sink fresh;
	sink_ok(&fresh, kv);
	write_batch(&fresh, 100);
	sink_close(&old);
	ck_assert_int_eq(h2r_restart(rx), 0);
	wait_delivered_by(&fresh, 6);
	got g0 = delivered(0), g5 = delivered(5);
	for (size_t k = 0; k < 5; k++) {
		got g = delivered(k);
		ck_assert_str_eq(g.meta.boot_id, g0.meta.boot_id);
		ck_assert_uint_eq(g.meta.sequence, k + 1);
	}
	ck_assert_str_ne(g5.meta.boot_id, g0.meta.boot_id);
	ck_assert_uint_eq(g5.meta.sequence, 1);
	ck_assert_double_eq(g5.value, 100);
	ck_assert(stats(&fresh).disk_attached);
	sink_close(&fresh);
}
END_TEST

START_TEST(the_sinks_own_metrics_ride_on_the_agents_batch)
{
	sink s;
	sink_ok(&s, NULL);
	write_batch(&s, 0);
	wait_delivered_by(&s, 1);
	cobs_batch *b = batch(1);
	b->source = "agent";
	ck_assert_int_eq(s.p.desc->write(s.p.state, b), 0);
	cobs_batch_free(b);
	wait_delivered_by(&s, 2);
	const h2r_event *e = h2r_get(rx, H2R_INGEST, 1);
	cobs_batch *d = cobs_batch_new();
	cobs_wire_meta m;
	cobs_error err;
	ck_assert_int_eq(cobs_wire_decode_batch(e->body, e->len, d, &m, &err), 0);
	double v;
	ck_assert_int_eq(sample_value(d, "test_value", &v, "k", "v", NULL), 1); /* still there */
	ck_assert_double_eq(v, 1);
	ck_assert_int_eq(sample_value(d, "cobs_agent_http2_sent_total", &v, "sink", "http2", NULL),
	                 1);
	ck_assert_double_eq(v, 1);
	ck_assert_int_eq(sample_value(d, "cobs_agent_spool_batches", &v, "sink", "http2", NULL), 1);
	ck_assert_int_eq(sample_value(d, "cobs_agent_spool_dropped_total", &v, NULL), 1);
	ck_assert_double_eq(v, 0);
	ck_assert_int_eq(sample_value(d, "cobs_agent_spool_bytes", &v, "tier", "disk", NULL), 1);
	ck_assert_int_eq(sample_value(d, "cobs_agent_http2_retries_total", &v, NULL), 1);
	ck_assert_int_eq(sample_value(d, "cobs_agent_http2_connects_total", &v, NULL), 1);
	ck_assert_double_eq(v, 1);
	cobs_batch_free(d);
	sink_close(&s);
}
END_TEST

START_TEST(an_idle_connection_the_server_closed_is_replaced_unseen)
{
	h2r_stop(rx);
	rx = h2r_start_idle(200); /* h2o closes idle HTTP/2 connections (10 s by default) */
	ck_assert_ptr_nonnull(rx);
	sink s;
	sink_ok(&s, NULL);
	write_batch(&s, 0);
	wait_delivered_by(&s, 1);
	wait_events(H2R_CLOSED, 1); /* libcurl still holds it, and does not know yet */
	write_batch(&s, 1);
	wait_delivered_by(&s, 2);
	ck_assert_uint_eq(h2r_count(rx, H2R_ACCEPT), 2);
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.retries, 0); /* no failed attempt: it never reached the dead one */
	ck_assert_uint_eq(delivered(1).meta.sequence, 2);
	sink_close(&s);
}
END_TEST

/* ---- the server's answers ---- */

static char *capture_start(int *saved, char *path, size_t n)
{
	snprintf(path, n, "%s/log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	*saved = dup(STDERR_FILENO);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return path;
}

static char *capture_end(int saved, const char *path)
{
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return read_file(path);
}

START_TEST(a_400_is_dropped_not_retried)
{
	sink s;
	sink_ok(&s, NULL);
	ck_assert_int_eq(h2r_ingest_answer(rx, 400, 1), 0);
	int saved;
	char path[300];
	capture_start(&saved, path, sizeof(path));
	for (int i = 0; i < 3; i++)
		write_batch(&s, i);
	wait_delivered_by(&s, 2);
	char *log = capture_end(saved, path);
	ck_assert_uint_eq(h2r_count(rx, H2R_INGEST), 3); /* one attempt each */
	ck_assert_int_eq(h2r_get(rx, H2R_INGEST, 0)->status, 400);
	ck_assert_uint_eq(delivered(0).meta.sequence, 2);
	ck_assert_uint_eq(delivered(1).meta.sequence, 3);
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.rejected, 1);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_msg(strstr(log, "refused batch 1") &&
	                      strstr(log, "the test receiver answers 400"),
	              "%s", log);
	free(log);
	/* the next batch tells the server the gap */
	write_batch(&s, 3);
	wait_delivered_by(&s, 3);
	ck_assert_uint_eq(delivered(2).meta.dropped, 1);
	sink_close(&s);
}
END_TEST

START_TEST(a_413_is_dropped_not_retried)
{
	sink s;
	sink_ok(&s, NULL);
	ck_assert_int_eq(h2r_ingest_answer(rx, 413, 1), 0);
	write_batch(&s, 0);
	write_batch(&s, 1);
	wait_delivered_by(&s, 1);
	ck_assert_uint_eq(h2r_count(rx, H2R_INGEST), 2);
	ck_assert_uint_eq(stats(&s).rejected, 1);
	sink_close(&s);
}
END_TEST

START_TEST(a_503_is_retried_with_backoff)
{
	sink s;
	sink_ok(&s, NULL);
	ck_assert_int_eq(h2r_ingest_answer(rx, 503, 3), 0);
	write_batch(&s, 0);
	write_batch(&s, 1);
	wait_delivered_by(&s, 2);
	ck_assert_uint_eq(h2r_count(rx, H2R_INGEST), 5);
	for (size_t i = 0; i < 3; i++) { /* batch 1, three times, then both in order */
		const h2r_event *e = h2r_get(rx, H2R_INGEST, i);
		ck_assert_int_eq(e->status, 503);
	}
	ck_assert_uint_eq(delivered(0).meta.sequence, 1);
	ck_assert_uint_eq(delivered(1).meta.sequence, 2);
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.retries, 3);
	ck_assert_uint_eq(st.rejected, 0);
	sink_close(&s);
}
END_TEST

START_TEST(a_hanging_server_times_out_and_is_retried)
{
	const char *kv[] = {"timeout", "300ms", NULL};
	sink s;
	sink_ok(&s, kv);
	ck_assert_int_eq(h2r_ingest_answer(rx, 0, 1), 0);
	write_batch(&s, 0);
	wait_delivered_by(&s, 1);
	ck_assert_uint_eq(h2r_count(rx, H2R_INGEST), 2);
	ck_assert_uint_eq(delivered(0).meta.sequence, 1);
	ck_assert_uint_ge(stats(&s).retries, 1);
	sink_close(&s);
}
END_TEST

START_TEST(large_batches_are_split)
{
	const char *kv[] = {"max_batch", "1KiB", NULL};
	sink s;
	sink_ok(&s, kv);
	cobs_batch *b = batch(7);
	/* labels that do not compress: far over 1 KiB */
	cobs_family *f = cobs_batch_family(b, "test_many", "Many.", "", COBS_GAUGE);
	for (int i = 0; i < 400; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%08x", (unsigned)(i * 2654435761u));
		ck_assert_int_eq(cobs_family_add1(b, f, i, "id", v), 0);
	}
	ck_assert_int_eq(s.p.desc->write(s.p.state, b), 0);
	cobs_batch_free(b);
	uint64_t bodies = stats(&s).next_sequence - 1;
	ck_assert_uint_gt(bodies, 2);
	wait_delivered_by(&s, bodies);
	size_t samples = 0;
	for (size_t k = 0; k < bodies; k++) {
		const h2r_event *e = h2r_get(rx, H2R_INGEST, k);
		ck_assert_uint_le(e->len, 1024);
		cobs_batch *d = cobs_batch_new();
		cobs_wire_meta m;
		cobs_error err;
		ck_assert_int_eq(cobs_wire_decode_batch(e->body, e->len, d, &m, &err), 0);
		ck_assert_uint_eq(m.sequence, k + 1);
		/* one collection still: only the last body ends it, so the server
		 * keeps the series of every body */
		ck_assert_int_eq(d->more, k + 1 < bodies);
		samples += cobs_batch_samples(d);
		cobs_batch_free(d);
	}
	ck_assert_uint_eq(samples, 402);
	ck_assert_uint_eq(stats(&s).splits, 1);
	sink_close(&s);
}
END_TEST

START_TEST(the_token_file_is_reread_when_it_changes)
{
	char tok[300], tmp[320];
	snprintf(tok, sizeof(tok), "%s/token", dir);
	snprintf(tmp, sizeof(tmp), "%s/token.new", dir);
	ck_assert_int_eq(write_file(tok, "first-token\n"), 0);
	const char *kv[] = {"token_file", tok, NULL};
	sink s;
	sink_ok(&s, kv);
	write_batch(&s, 0);
	wait_delivered_by(&s, 1);
	ck_assert_str_eq(h2r_get(rx, H2R_INGEST, 0)->auth, "Bearer first-token");
	/* a Kubernetes secret rotates by swapping files */
	ck_assert_int_eq(write_file(tmp, "second-token"), 0);
	ck_assert_int_eq(rename(tmp, tok), 0);
	write_batch(&s, 1);
	wait_delivered_by(&s, 2);
	ck_assert_str_eq(h2r_get(rx, H2R_INGEST, 1)->auth, "Bearer second-token");
	sink_close(&s);
}
END_TEST

/* ---- one connection, and commands ---- */

static bool stream_open(void *arg)
{
	return stats(arg).stream_open && h2r_count(rx, H2R_STREAM_OPEN) > 0;
}

static void send_echo(uint64_t id, const char *payload)
{
	cobs_command c = {.id = id, .kind = COBS_COMMAND_ECHO};
	c.echo_len = strlen(payload);
	memcpy(c.echo, payload, c.echo_len);
	cobs_buf out = {0};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_frame_command(&c, &out, &err), 0);
	ck_assert_int_eq(h2r_stream_send(rx, out.data, out.len), 0);
	cobs_buf_free(&out);
}

static cobs_command_result result_of(size_t i, cobs_buf *payload, const char **path)
{
	const h2r_event *e = h2r_get(rx, H2R_RESULT, i);
	ck_assert_ptr_nonnull(e);
	*path = e->path;
	cobs_command_result r;
	cobs_error err = {{0}};
	ck_assert_msg(cobs_wire_decode_result(e->body, e->len, &r, payload, &err) == 0, "%s",
	              err.msg);
	return r;
}

START_TEST(one_connection_carries_batches_and_commands)
{
	const char *kv[] = {"commands", "true", NULL};
	sink s;
	sink_ok(&s, kv);
	write_batch(&s, 0);
	ck_assert(run_until(stream_open, &s));
	ck_assert_str_eq(h2r_get(rx, H2R_STREAM_OPEN, 0)->path,
	                 "/api/v1/agents/test-node/commands");
	for (int i = 1; i < 10; i++)
		write_batch(&s, i);
	send_echo(1, "ping");
	wait_delivered_by(&s, 10);
	wait_events(H2R_RESULT, 1);
	uint64_t conn = h2r_get(rx, H2R_STREAM_OPEN, 0)->conn;
	for (size_t i = 0; i < 10; i++)
		ck_assert_uint_eq(h2r_get(rx, H2R_INGEST, i)->conn, conn);
	ck_assert_uint_eq(h2r_get(rx, H2R_RESULT, 0)->conn, conn);
	ck_assert_uint_eq(h2r_count(rx, H2R_ACCEPT), 1);
	ck_assert_uint_eq(stats(&s).connects, 1);
	sink_close(&s);
}
END_TEST

START_TEST(echo_round_trip)
{
	const char *kv[] = {"commands", "true", NULL};
	sink s;
	sink_ok(&s, kv);
	write_batch(&s, 0);
	ck_assert(run_until(stream_open, &s));
	send_echo(42, "hello, agent");
	wait_events(H2R_RESULT, 1);
	cobs_buf payload = {0};
	const char *path;
	cobs_command_result r = result_of(0, &payload, &path);
	ck_assert_str_eq(path, "/api/v1/commands/42/result");
	ck_assert_uint_eq(r.id, 42);
	ck_assert_int_eq(r.kind, COBS_RESULT_ECHO);
	ck_assert_uint_eq(r.len, 12);
	ck_assert_mem_eq(r.data, "hello, agent", 12);
	cobs_buf_free(&payload);
	ck_assert_uint_eq(stats(&s).commands_received, 1);
	sink_close(&s);
}
END_TEST

START_TEST(unknown_kinds_get_an_error_result)
{
	const char *kv[] = {"commands", "true", NULL};
	sink s;
	sink_ok(&s, kv);
	write_batch(&s, 0);
	ck_assert(run_until(stream_open, &s));
	/* StreamMessage{command: Command{id: 7, field 20: "x"}}: a kind from a newer server */
	const uint8_t cmd[] = {0x0a, 0x06, 0x08, 0x07, 0xa2, 0x01, 0x01, 'x'};
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_wire_frame(cmd, sizeof(cmd), &out), 0);
	/* and a known kind no plugin registered here: profile */
	cobs_command p = {.id = 8, .kind = COBS_COMMAND_PROFILE, .profile.pid = 1};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_frame_command(&p, &out, &err), 0);
	ck_assert_int_eq(h2r_stream_send(rx, out.data, out.len), 0);
	cobs_buf_free(&out);
	wait_events(H2R_RESULT, 2);
	for (size_t i = 0; i < 2; i++) {
		cobs_buf payload = {0};
		const char *path;
		cobs_command_result r = result_of(i, &payload, &path);
		ck_assert_int_eq(r.kind, COBS_RESULT_ERROR);
		if (r.id == 7) {
			ck_assert_str_eq(path, "/api/v1/commands/7/result");
			ck_assert_msg(strstr((const char *)r.data, "unknown command kind"), "%s",
			              (const char *)r.data);
		} else {
			ck_assert_uint_eq(r.id, 8);
			ck_assert_msg(strstr((const char *)r.data, "profile"), "%s",
			              (const char *)r.data);
		}
		cobs_buf_free(&payload);
	}
	ck_assert_uint_eq(stats(&s).commands_refused, 2);
	sink_close(&s);
}
END_TEST

START_TEST(the_stream_is_reopened_when_it_ends)
{
	const char *kv[] = {"commands", "true", NULL};
	sink s;
	sink_ok(&s, kv);
	write_batch(&s, 0);
	ck_assert(run_until(stream_open, &s));
	ck_assert_int_eq(h2r_stream_end(rx), 0);
	wait_events(H2R_STREAM_OPEN, 2);
	send_echo(5, "again");
	wait_events(H2R_RESULT, 1);
	/* and after the server itself went away and came back */
	h2r_kill(rx);
	ck_assert_int_eq(h2r_restart(rx), 0);
	write_batch(&s, 1);
	wait_events(H2R_STREAM_OPEN, 3);
	wait_delivered_by(&s, 2);
	ck_assert_uint_eq(h2r_count(rx, H2R_ACCEPT), 2); /* one per server life */
	sink_close(&s);
}
END_TEST

/* ---- cobs-agent --server ---- */

static bool ingested(void *arg)
{
	(void)arg;
	return h2r_count(rx, H2R_INGEST) > 0;
}

START_TEST(cobs_agent_server_sends_instead_of_printing)
{
	char bin[300], out[300], err[300];
	snprintf(bin, sizeof(bin), "%s/bin/cobs-agent", COBS_BUILD_DIR);
	snprintf(out, sizeof(out), "%s/agent.out", dir);
	snprintf(err, sizeof(err), "%s/agent.err", dir);
	char *check[] = {bin, "--server", (char *)h2r_url(rx), "--check", NULL};
	char *text = NULL;
	ck_assert_int_eq(run_command(check, &text, NULL), 0);
	ck_assert_msg(strstr(text, "1 sink(s)") != NULL, "%s", text);
	free(text);

	char *run[] = {bin, "--server", (char *)h2r_url(rx), NULL};
	pid_t pid = spawn_command(run, out, err);
	ck_assert_int_gt(pid, 0);
	bool arrived = run_until(ingested, NULL);
	kill(pid, SIGTERM);
	ck_assert_int_eq(wait_command(pid, WAIT_MS), 0);
	ck_assert_msg(arrived, "no batch from cobs-agent: %s", read_file(err));
	const h2r_event *e = h2r_get(rx, H2R_INGEST, 0);
	cobs_batch *b = cobs_batch_new();
	cobs_wire_meta m;
	cobs_error e2;
	ck_assert_int_eq(cobs_wire_decode_batch(e->body, e->len, b, &m, &e2), 0);
	ck_assert_uint_eq(m.sequence, 1);
	cobs_batch_free(b);
	char *printed = read_file(out);
	ck_assert_str_eq(printed, ""); /* no stdout sink */
	free(printed);

	/* a file that names the url already: one of them must go */
	char ini[300], line[200];
	snprintf(ini, sizeof(ini), "%s/agent.ini", dir);
	snprintf(line, sizeof(line), "[sink.http2]\nurl = %s\n", h2r_url(rx));
	ck_assert_int_eq(write_file(ini, line), 0);
	char *both[] = {bin, "-c", ini, "--server", (char *)h2r_url(rx), "--check", NULL};
	char *errtext = NULL;
	ck_assert_int_eq(run_command(both, NULL, &errtext), 1);
	ck_assert_msg(strstr(errtext, "already sets url") != NULL, "%s", errtext);
	free(errtext);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http2");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_configuration_names_the_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("delivery");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, batches_arrive_in_order_with_their_content);
	tcase_add_test(tc, nothing_is_lost_while_the_server_is_away);
	tcase_add_test(tc, memory_spills_to_disk);
	tcase_add_test(tc, the_disk_bound_drops_the_oldest_and_says_how_many);
	tcase_add_test(tc, a_restart_sends_the_disk_spool_first);
	tcase_add_test(tc, large_batches_are_split);
	tcase_add_test(tc, the_token_file_is_reread_when_it_changes);
	tcase_add_test(tc, a_reload_hands_the_spool_over);
	tcase_add_test(tc, the_sinks_own_metrics_ride_on_the_agents_batch);
	tcase_add_test(tc, an_idle_connection_the_server_closed_is_replaced_unseen);
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_400_is_dropped_not_retried);
	tcase_add_test(tc, a_413_is_dropped_not_retried);
	tcase_add_test(tc, a_503_is_retried_with_backoff);
	tcase_add_test(tc, a_hanging_server_times_out_and_is_retried);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_connection_carries_batches_and_commands);
	tcase_add_test(tc, echo_round_trip);
	tcase_add_test(tc, unknown_kinds_get_an_error_result);
	tcase_add_test(tc, the_stream_is_reopened_when_it_ends);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cobs_agent_server_sends_instead_of_printing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
