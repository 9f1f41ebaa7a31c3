/*
 * POST /api/v1/ingest against the real cobs-server: 204 and the exact
 * values on /metrics, 400 with reasons (garbage, truncated, bad names),
 * 401, 413, duplicates acknowledged but not applied, an agent restart that
 * keeps history, and a node going stale then down.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_server_util.h"

static test_srv srv;

static void stop_ok(void)
{
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}

static void start(const char *ini)
{
	if (tsrv_start(&srv, ini, NULL) < 0) {
		char *log = tsrv_log(&srv);
		ck_abort_msg("server did not start: %s", log);
	}
}

/* node_load1 l, node_cpu_seconds_total{cpu=0,mode=user|idle}, a hostile label, an info family. */
static cobs_batch *sample_batch(int64_t ts, double load, double user, int with_idle)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = ts;
	cobs_family *f = cobs_batch_family(b, "node_load1", "1m load average.", "", COBS_GAUGE);
	cobs_family_add0(b, f, load);
	f = cobs_batch_family(b, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
	                      "seconds", COBS_COUNTER);
	cobs_family_add2(b, f, user, "cpu", "0", "mode", "user");
	if (with_idle)
		cobs_family_add2(b, f, 99, "cpu", "0", "mode", "idle");
	f = cobs_batch_family(b, "test_hostile", "Help with a \\ and a\nnewline.", "", COBS_GAUGE);
	cobs_family_add1(b, f, 1, "path", "a\"b\\c\nd");
	f = cobs_batch_family(b, "kube_pod_info", "Pods.", "", COBS_INFO);
	cobs_label l[] = {{"namespace", "ns"}, {"pod", "p"}, {"node", "other"}};
	cobs_family_add(b, f, 1, l, 3);
	return b;
}

static long post(const cobs_batch *b, const char *node, const char *boot, uint64_t seq)
{
	cobs_buf body = {0};
	ck_assert_int_eq(make_body(b, node, boot, seq, 5000, COBS_WIRE_ZSTD, &body), 0);
	long st = post_body(&srv, &body, NULL);
	cobs_buf_free(&body);
	return st;
}

static double metric(const char *series)
{
	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(m);
	double v = -12345;
	int found = metric_value(m, series, &v);
	free(m);
	ck_assert_msg(found, "no series %s on /metrics", series);
	return v;
}

START_TEST(ingest_then_metrics_exactly)
{
	start(NULL);
	cobs_batch *b = sample_batch(1700000000000, 0.5, 123.25, 1);
	ck_assert_int_eq(post(b, "n1", "boot-a", 1), 204);
	cobs_batch_free(b);
	b = sample_batch(1700000000000, 1.75, 7, 1);
	ck_assert_int_eq(post(b, "n2", "boot-b", 1), 204);
	cobs_batch_free(b);

	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "metrics"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	const char *t = r.body;
	ck_assert_ptr_nonnull(strstr(t, "# HELP node_load1 1m load average.\n"
	                                "# TYPE node_load1 gauge\n"
	                                "node_load1{node=\"n1\"} 0.5\n"
	                                "node_load1{node=\"n2\"} 1.75\n"));
	ck_assert_uint_eq(count_lines(t, "# TYPE node_load1 "), 1);
	ck_assert_uint_eq(count_lines(t, "# HELP node_cpu_seconds_total "), 1);
	ck_assert_ptr_nonnull(
	        strstr(t, "node_cpu_seconds_total{node=\"n1\",cpu=\"0\",mode=\"user\"} 123.25\n"));
	ck_assert_ptr_nonnull(
	        strstr(t, "node_cpu_seconds_total{node=\"n2\",cpu=\"0\",mode=\"idle\"} 99\n"));
	ck_assert_ptr_nonnull(strstr(t, "# HELP test_hostile Help with a \\\\ and a\\nnewline.\n"));
	ck_assert_ptr_nonnull(strstr(t, "test_hostile{node=\"n1\",path=\"a\\\"b\\\\c\\nd\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(
	        t,
	        "kube_pod_info{node=\"n1\",namespace=\"ns\",pod=\"p\",exported_node=\"other\"} 1\n"));
	double v;
	ck_assert(metric_value(t, "cobs_server_ingest_batches_total{result=\"ok\"}", &v) && v == 2);
	ck_assert(metric_value(t, "cobs_server_ingest_samples_total", &v) && v == 10);
	ck_assert(metric_value(t, "cobs_server_nodes{state=\"up\"}", &v) && v == 2);
	ck_assert(metric_value(t, "cobs_server_history_points", &v) && v == 8);
	http_resp_free(&r);

	/* the next batch of n1 carries no idle sample: it is gone, the others stay */
	b = sample_batch(1700000005000, 0.25, 124, 0);
	ck_assert_int_eq(post(b, "n1", "boot-a", 2), 204);
	cobs_batch_free(b);
	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_null(
	        strstr(m, "node_cpu_seconds_total{node=\"n1\",cpu=\"0\",mode=\"idle\"}"));
	ck_assert(metric_value(m, "node_cpu_seconds_total{node=\"n1\",cpu=\"0\",mode=\"user\"}",
	                       &v) &&
	          v == 124);
	ck_assert(metric_value(m, "node_load1{node=\"n1\"}", &v) && v == 0.25);
	free(m);
	stop_ok();
}
END_TEST

/* A valid, uncompressed body with `from` (same length as `to`) replaced in its bytes. */
static void patched_body(const char *node, const char *name, const char *from, const char *to,
                         cobs_buf *out)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = 1700000000000;
	cobs_family *f = cobs_batch_family(b, name, "h", "", COBS_GAUGE);
	cobs_family_add1(b, f, 1, "lbl", "v");
	ck_assert_int_eq(make_body(b, node, "boot", 1, 5000, COBS_WIRE_NONE, out), 0);
	cobs_batch_free(b);
	size_t n = strlen(from);
	ck_assert_uint_eq(n, strlen(to));
	char *p = memmem(out->data, out->len, from, n);
	ck_assert_ptr_nonnull(p);
	memcpy(p, to, n);
}

static void expect_400(const cobs_buf *body, const char *reason_part)
{
	http_opts o = {.body = body->data, .len = body->len};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_msg(strstr(r.body, "bad batch: ") == r.body, "body: %s", r.body);
	ck_assert_msg(strstr(r.body, reason_part), "'%s' not in: %s", reason_part, r.body);
	ck_assert_str_eq(r.ctype, "text/plain; charset=utf-8");
	http_resp_free(&r);
}

START_TEST(bad_batches_get_400_with_a_reason)
{
	start(NULL);
	cobs_buf body = {0};
	cobs_buf_append(&body, "this is not protobuf at all", 27);
	expect_400(&body, "Envelope");

	cobs_batch *b = sample_batch(1700000000000, 1, 1, 1);
	ck_assert_int_eq(make_body(b, "n1", "boot", 1, 5000, COBS_WIRE_ZSTD, &body), 0);
	cobs_batch_free(b);
	body.len /= 2; /* truncated */
	http_opts o = {.body = body.data, .len = body.len};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "bad batch: "));
	http_resp_free(&r);

	patched_body("n1", "good_metric_name", "good_metric", "bad-metric!", &body);
	expect_400(&body, "bad-metric!");
	patched_body("n1", "good_metric_name", "lbl", "l.l", &body);
	expect_400(&body, "l.l");
	patched_body("node_x1", "good_metric_name", "node_x1", "node/x1", &body);
	expect_400(&body, "node");
	cobs_buf_free(&body);

	ck_assert(metric("cobs_server_ingest_batches_total{result=\"bad\"}") == 5);
	ck_assert(metric("cobs_server_decode_errors_total") == 5);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"ok\"}") == 0);
	char *log = tsrv_log(&srv);
	size_t bad_lines = 0;
	for (const char *p = log; (p = strstr(p, "bad batch from 127.0.0.1:")); p++)
		bad_lines++;
	ck_assert_uint_eq(bad_lines, 5);
	free(log);
	stop_ok();
}
END_TEST

START_TEST(the_agent_token_is_required_when_set)
{
	start("[auth]\nagent_token = s3cret-token\n");
	cobs_batch *b = sample_batch(1700000000000, 1, 1, 1);
	cobs_buf body = {0};
	ck_assert_int_eq(make_body(b, "n1", "boot", 1, 5000, COBS_WIRE_ZSTD, &body), 0);
	cobs_batch_free(b);
	ck_assert_int_eq(post_body(&srv, &body, NULL), 401);
	ck_assert_int_eq(post_body(&srv, &body, "wrong"), 401);
	ck_assert_int_eq(post_body(&srv, &body, "s3cret-token-"), 401);
	ck_assert_int_eq(post_body(&srv, &body, "s3cret-token"), 204);
	cobs_buf_free(&body);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"unauthorized\"}") == 3);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"ok\"}") == 1);
	stop_ok();
}
END_TEST

START_TEST(over_max_batch_size_is_413)
{
	start("[server]\nmax_batch_size = 2KiB\n");
	char *big = calloc(1, 3000);
	http_opts o = {.body = big, .len = 3000};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "max_batch_size"));
	http_resp_free(&r);
	/* the same over HTTP/2: a clean 413, not a refused stream */
	o.version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert_int_eq(r.version, CURL_HTTP_VERSION_2_0);
	http_resp_free(&r);
	/* at the limit it is decoded (and this zero body is not a batch) */
	o.len = 2048;
	o.version = 0;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 400);
	http_resp_free(&r);
	free(big);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"too_large\"}") == 2);
	stop_ok();
}
END_TEST

START_TEST(duplicates_are_acknowledged_not_applied)
{
	start(NULL);
	cobs_batch *b = sample_batch(1700000000000, 1, 10, 1);
	ck_assert_int_eq(post(b, "n1", "boot-a", 1), 204);
	ck_assert_int_eq(post(b, "n1", "boot-a", 1), 204); /* the resend after a lost 204 */
	cobs_batch_free(b);
	b = sample_batch(1700000005000, 1, 20, 1);
	ck_assert_int_eq(post(b, "n1", "boot-a", 2), 204);
	cobs_batch_free(b);
	b = sample_batch(1700000000000, 1, 99, 1); /* batch 1 again, other values */
	ck_assert_int_eq(post(b, "n1", "boot-a", 1), 204);
	cobs_batch_free(b);
	ck_assert(metric("node_cpu_seconds_total{node=\"n1\",cpu=\"0\",mode=\"user\"}") == 20);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"ok\"}") == 2);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"duplicate\"}") == 2);
	ck_assert(metric("cobs_server_ingest_samples_total") == 10);
	ck_assert(metric("cobs_server_node_duplicate_batches_total{node=\"n1\"}") == 2);
	ck_assert(metric("cobs_server_history_points") == 8);
	stop_ok();
}
END_TEST

START_TEST(agent_restart_keeps_history)
{
	start(NULL);
	for (uint64_t i = 1; i <= 3; i++) {
		cobs_batch *b = sample_batch(1700000000000 + (int64_t)i * 5000, 1, (double)i, 0);
		ck_assert_int_eq(post(b, "n1", "boot-a", i), 204);
		cobs_batch_free(b);
	}
	/* 3 batches x 3 series with history (load, user, hostile): the info family keeps none */
	ck_assert(metric("cobs_server_history_points") == 9);
	cobs_batch *b = sample_batch(1700000030000, 2, 0.5, 0);
	ck_assert_int_eq(post(b, "n1", "boot-b", 1), 204); /* the agent restarted */
	cobs_batch_free(b);
	ck_assert(metric("cobs_server_history_points") == 12);
	ck_assert(metric("cobs_server_history_series") == 3);
	ck_assert(metric("node_cpu_seconds_total{node=\"n1\",cpu=\"0\",mode=\"user\"}") == 0.5);
	ck_assert(metric("cobs_server_node_agent_restarts_total{node=\"n1\"}") == 1);
	ck_assert(metric("cobs_server_node_info{node=\"n1\",agent_version=\"0.1.0-test\","
	                 "boot_id=\"boot-b\",state=\"up\"}") == 1);
	ck_assert(metric("cobs_server_ingest_batches_total{result=\"duplicate\"}") == 0);
	stop_ok();
}
END_TEST

START_TEST(a_silent_node_goes_stale_then_down)
{
	start(NULL);
	cobs_batch *b = sample_batch(1700000000000, 1, 1, 1);
	cobs_buf body = {0};
	/* interval 200 ms: stale after 400 ms, down after 1 s of silence */
	ck_assert_int_eq(make_body(b, "n1", "boot", 1, 200, COBS_WIRE_ZSTD, &body), 0);
	cobs_batch_free(b);
	ck_assert_int_eq(post_body(&srv, &body, NULL), 204);
	cobs_buf_free(&body);
	ck_assert(wait_metric(&srv, "cobs_server_nodes{state=\"stale\"}", 1, 30000));
	ck_assert(wait_metric(&srv, "cobs_server_nodes{state=\"down\"}", 1, 30000));
	ck_assert(metric("cobs_server_nodes{state=\"up\"}") == 0);
	/* it still shows its last values */
	ck_assert(metric("node_load1{node=\"n1\"}") == 1);
	/* and the worker's one-second tick says so in the log */
	int logged = 0;
	for (int waited = 0; waited < 10000 && !logged; waited += 50) {
		char *log = tsrv_log(&srv);
		logged = strstr(log, "node n1 is down") != NULL;
		free(log);
		if (!logged)
			usleep(50000);
	}
	ck_assert(logged);
	stop_ok();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_ingest");
	TCase *tc = tcase_create("ingest");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ingest_then_metrics_exactly);
	tcase_add_test(tc, bad_batches_get_400_with_a_reason);
	tcase_add_test(tc, the_agent_token_is_required_when_set);
	tcase_add_test(tc, over_max_batch_size_is_413);
	tcase_add_test(tc, duplicates_are_acknowledged_not_applied);
	tcase_add_test(tc, agent_restart_keeps_history);
	tcase_add_test(tc, a_silent_node_goes_stale_then_down);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
