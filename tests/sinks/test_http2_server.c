/*
 * The http2 sink against the real cobs-server (built in this tree, run as a
 * child process on loopback): batches reach the server's state and
 * /metrics, a kill -9 of the server mid-run loses nothing, and commands
 * posted to the server's API come back answered (echo) or refused (a kind
 * no plugin here handles). The receiver-based suite (test_http2.c) covers
 * the sink's edge cases; this one proves both sides speak one protocol.
 */
#include <check.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cobs/format.h>

#include "harness.h"
#include "stats.h"

#define WAIT_MS 30000 /* a deadline for bugs, not a timing */

static struct event_base *base;
static struct event *tick;
static pid_t server = -1;
static char url[128];    /* http://127.0.0.1:PORT, no trailing '/' */
static char listen_[64]; /* 127.0.0.1:PORT once known */
static char dir[256];
static char server_ini[PATH_MAX]; /* -c for the server when set */

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

/* Starts cobs-server on listen_ (or a free port) and learns its URL from its first line. */
static void server_start(void)
{
	char out[300], err[300], bin[300];
	snprintf(out, sizeof(out), "%s/server.out", dir);
	snprintf(err, sizeof(err), "%s/server.err", dir);
	snprintf(bin, sizeof(bin), "%s/bin/cobs-server", COBS_BUILD_DIR);
	char *argv[] = {bin, "--listen", listen_[0] ? listen_ : "127.0.0.1:0", NULL, NULL, NULL};
	if (server_ini[0]) {
		argv[3] = "-c";
		argv[4] = server_ini;
	}
	unlink(out);
	server = spawn_command(argv, out, err);
	ck_assert_int_gt(server, 0);
	for (int i = 0; i < 1000; i++) {
		char *text = read_file(out);
		const char *at = text ? strstr(text, "listening on http") : NULL;
		if (at && strchr(at, '\n')) {
			int port = 0;
			char scheme[8];
			ck_assert_int_eq(
			        sscanf(at, "listening on %5[a-z]://127.0.0.1:%d", scheme, &port),
			        2);
			snprintf(url, sizeof(url), "%s://127.0.0.1:%d", scheme, port);
			snprintf(listen_, sizeof(listen_), "127.0.0.1:%d", port);
			free(text);
			return;
		}
		free(text);
		usleep(10000);
	}
	ck_abort_msg("cobs-server did not start: %s", read_file(err));
}

static void server_kill(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	server = -1;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	listen_[0] = '\0';
	server_ini[0] = '\0';
	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	struct timeval tv = {0, 2000};
	event_add(tick, &tv);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	server_start();
}

static void teardown(void)
{
	server_kill();
	event_free(tick);
	event_base_free(base);
	curl_global_cleanup();
}

/* A sink sending to url; ca_file: the CA to trust for https (NULL: the system's). */
static void sink_open(sink *s, bool commands, const char *ca_file)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cobs_config_new();
	cobs_section *sec = cobs_config_add_section(s->cfg, "sink.http2", "test.ini", 1);
	ck_assert_ptr_nonnull(sec);
	const char *kv[] = {"url",
	                    url,
	                    "backoff_min",
	                    "10ms",
	                    "backoff_max",
	                    "100ms",
	                    "commands",
	                    commands ? "true" : "false",
	                    ca_file ? "ca_file" : NULL,
	                    ca_file,
	                    NULL};
	for (int i = 0; kv[i]; i += 2)
		ck_assert_int_eq(
		        cobs_section_set(sec, kv[i], kv[i + 1], "test.ini", i + 2, &s->err), 0);
	ck_assert_msg(cobs_plugin_open(&s->p, COBS_TEST_PLUGIN_DIR, "http2", "http2",
	                               COBS_PLUGIN_SINK, &s->err) == 0,
	              "%s", s->err.msg);
	s->env = (cobs_plugin_env){.config = sec, .node = "test-node", .base = base};
	ck_assert_msg(cobs_plugin_init(&s->p, &s->env, &s->err) == 0, "%s", s->err.msg);
	s->stats = (cobs_http2_stats_fn)dlsym(s->p.handle, COBS_HTTP2_STATS_SYMBOL);
	ck_assert_ptr_nonnull(s->stats);
}

static void sink_ok(sink *s, bool commands)
{
	sink_open(s, commands, NULL);
}

static void sink_close(sink *s)
{
	cobs_plugin_close(&s->p);
	cobs_config_free(s->cfg);
}

static cobs_http2_stats stats(sink *s)
{
	cobs_http2_stats st;
	ck_assert_int_eq(s->stats(s->p.state, &st), 0);
	return st;
}

static void write_batch(sink *s, int i)
{
	cobs_batch *b = cobs_batch_new();
	b->node = "test-node";
	b->source = "test";
	b->timestamp_ms = cobs_wallclock_ms();
	b->monotonic_ns = cobs_monotonic_ns();
	cobs_family *f = cobs_batch_family(b, "test_value", "The batch's number.", "", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add1(b, f, i, "k", "v"), 0);
	ck_assert_int_eq(s->p.desc->write(s->p.state, b), 0);
	cobs_batch_free(b);
}

static bool run_until(bool (*cond)(void *), void *arg)
{
	uint64_t end = cobs_monotonic_ns() + (uint64_t)WAIT_MS * 1000000u;
	while (!cond(arg)) {
		if (cobs_monotonic_ns() > end)
			return false;
		event_base_loop(base, EVLOOP_ONCE);
	}
	return true;
}

static size_t want;
static bool sent(void *arg)
{
	return stats(arg).sent >= want;
}

static bool stream_open(void *arg)
{
	return stats(arg).stream_open;
}

static bool answered(void *arg)
{
	return stats(arg).commands_answered >= want;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	cobs_buf *b = arg;
	return cobs_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* A blocking request from the test itself (the sink is not running meanwhile). */
static long http(const char *method, const char *path, const char *json, char **body)
{
	char full[300];
	snprintf(full, sizeof(full), "%s%s", url, path);
	CURL *c = curl_easy_init();
	cobs_buf out = {0};
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	cobs_buf_append(&out, "", 0);
	*body = out.data ? out.data : strdup("");
	return status;
}

static bool metrics_have(const char *needle)
{
	char *body;
	ck_assert_int_eq(http("GET", "/metrics", NULL, &body), 200);
	bool found = strstr(body, needle) != NULL;
	free(body);
	return found;
}

START_TEST(batches_reach_the_server)
{
	sink s;
	sink_ok(&s, false);
	for (int i = 0; i < 5; i++)
		write_batch(&s, i);
	want = 5;
	ck_assert(run_until(sent, &s));
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_uint_eq(st.connects, 1);
	ck_assert_msg(metrics_have("test_value{node=\"test-node\",k=\"v\"} 4") ||
	                      metrics_have("test_value{k=\"v\",node=\"test-node\"} 4"),
	              "the latest value is not in /metrics");
	sink_close(&s);
}
END_TEST

static bool retried(void *arg)
{
	return stats(arg).retries >= 2;
}

START_TEST(tls_with_a_ca_file_on_one_connection)
{
	/* the server again, now with a certificate */
	server_kill();
	char cert[PATH_MAX], key[PATH_MAX], ini[3 * PATH_MAX];
	ck_assert_int_eq(make_test_cert(dir, cert, key), 0);
	snprintf(ini, sizeof(ini), "[server]\ntls_cert = %s\ntls_key = %s\n", cert, key);
	snprintf(server_ini, sizeof(server_ini), "%s/server.ini", dir);
	ck_assert_int_eq(write_file(server_ini, ini), 0);
	server_start();
	ck_assert_ptr_nonnull(strstr(url, "https://127.0.0.1:"));

	sink s;
	sink_open(&s, true, cert);
	for (int i = 0; i < 5; i++)
		write_batch(&s, i);
	want = 5;
	ck_assert(run_until(sent, &s));
	ck_assert(run_until(stream_open, &s));
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.retries, 0);
	/* batches and the command stream share one TLS connection */
	ck_assert_uint_eq(st.connects, 1);
	sink_close(&s);

	/* without the CA the server is not trusted: nothing is sent, all is kept for later */
	sink_open(&s, false, NULL);
	write_batch(&s, 9);
	ck_assert(run_until(retried, &s));
	st = stats(&s);
	ck_assert_uint_eq(st.sent, 0);
	ck_assert_uint_eq(st.spool_dropped, 0);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_ge(st.spool_batches, 1);
	sink_close(&s);
}
END_TEST

START_TEST(a_server_killed_mid_run_loses_nothing)
{
	sink s;
	sink_ok(&s, true);
	write_batch(&s, 0);
	want = 1;
	ck_assert(run_until(sent, &s));
	server_kill();
	for (int i = 1; i <= 10; i++)
		write_batch(&s, i);
	for (int i = 0; i < 50; i++) /* the sink notices and backs off */
		event_base_loop(base, EVLOOP_ONCE);
	server_start(); /* same port */
	want = 11;
	ck_assert(run_until(sent, &s));
	cobs_http2_stats st = stats(&s);
	ck_assert_uint_eq(st.spool_dropped, 0);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.spool_batches, 0);
	ck_assert(metrics_have("\"} 10\n"));
	ck_assert(run_until(stream_open, &s)); /* the command stream came back too */
	sink_close(&s);
}
END_TEST

/* Posts a command through the server's API, waits for the sink to answer, returns its JSON. */
static char *command_round_trip(sink *s, const char *json)
{
	char *body;
	long st = http("POST", "/api/v1/commands", json, &body);
	ck_assert_msg(st == 202 || st == 200 || st == 201, "%ld: %s", st, body);
	const char *idp = strstr(body, "\"id\":");
	ck_assert_ptr_nonnull(idp);
	unsigned long long id = strtoull(idp + 5, NULL, 10);
	free(body);
	want = stats(s).commands_answered + 1;
	ck_assert(run_until(answered, s));
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/commands/%llu", id);
	ck_assert_int_eq(http("GET", path, NULL, &body), 200);
	return body;
}

START_TEST(commands_through_the_server)
{
	sink s;
	sink_ok(&s, true);
	write_batch(&s, 0); /* opens the connection, the stream joins it */
	ck_assert(run_until(stream_open, &s));
	char *r = command_round_trip(
	        &s, "{\"node\":\"test-node\",\"kind\":\"echo\",\"payload\":\"hello, agent\"}");
	ck_assert_msg(strstr(r, "\"state\":\"done\"") && strstr(r, "\"data\":\"hello, agent\""),
	              "%s", r);
	free(r);
	r = command_round_trip(&s, "{\"node\":\"test-node\",\"kind\":\"profile\",\"pid\":1}");
	ck_assert_msg(strstr(r, "\"kind\":\"error\"") && strstr(r, "profile"), "%s", r);
	free(r);
	ck_assert_uint_eq(stats(&s).connects, 1);
	sink_close(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http2_server");
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, batches_reach_the_server);
	tcase_add_test(tc, tls_with_a_ca_file_on_one_connection);
	tcase_add_test(tc, a_server_killed_mid_run_loses_nothing);
	tcase_add_test(tc, commands_through_the_server);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
