/*
 * The command stream against the real cobs-server: an agent's stream (a
 * libcurl multi transfer here) gets heartbeats and the echo command posted
 * for it; the result comes back and GET shows it done. A node without a
 * stream gets 409 at once; a client that leaves mid-stream (HTTP/2 and
 * HTTP/1.1) is forgotten without harm; deadlines expire commands; a new
 * stream replaces the old; SIGTERM ends open streams and exits 0.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "harness.h"
#include "test_server_util.h"

static test_srv srv;

static void start(const char *ini)
{
	if (tsrv_start(&srv, ini, NULL) < 0) {
		char *log = tsrv_log(&srv);
		ck_abort_msg("server did not start: %s", log);
	}
}

typedef struct stream_client {
	CURLM *multi;
	CURL *easy;
	cobs_deframer d;
	int running;
	int abort_next; /* the write callback fails: curl drops the transfer */
	size_t bytes;
} stream_client;

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
	stream_client *c = arg;
	if (c->abort_next)
		return 0;
	c->bytes += size * n;
	return cobs_deframer_feed(&c->d, (const uint8_t *)p, size * n) == 0 ? size * n : 0;
}

static void stream_open(stream_client *c, const char *node, long version, const char *token)
{
	memset(c, 0, sizeof(*c));
	cobs_deframer_init(&c->d, 0);
	char url[512], auth[128];
	snprintf(url, sizeof(url), "%sapi/v1/agents/%s/commands", srv.url, node);
	c->multi = curl_multi_init();
	c->easy = curl_easy_init();
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, version);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		struct curl_slist *h = curl_slist_append(NULL, auth);
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c->easy, CURLOPT_PRIVATE, h);
	}
	curl_multi_add_handle(c->multi, c->easy);
	c->running = 1;
}

/* Drives the transfer once (up to 50 ms). Returns 0 while it runs, 1 when it ended. */
static int stream_drive(stream_client *c)
{
	int still = 0;
	curl_multi_perform(c->multi, &still);
	if (!still) {
		c->running = 0;
		return 1;
	}
	curl_multi_poll(c->multi, NULL, 0, 50, NULL);
	return 0;
}

/* The next stream message within timeout_ms: COBS_STREAM_* with cmd filled, or -1. */
static int stream_next(stream_client *c, cobs_command *cmd, int timeout_ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		const uint8_t *msg;
		size_t len;
		cobs_error err;
		int rc = cobs_deframer_next(&c->d, &msg, &len, &err);
		ck_assert_int_ge(rc, 0);
		if (rc == 1) {
			int64_t hb;
			int kind = cobs_wire_decode_stream(msg, len, cmd, &hb, &err);
			ck_assert_int_ge(kind, 0);
			return kind;
		}
		if (!c->running)
			return -1;
		stream_drive(c);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			return -1;
	}
}

/* Drives until the transfer ends (1) or timeout (0). */
static int stream_wait_end(stream_client *c, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 50)
		if (!c->running || stream_drive(c))
			return 1;
	return 0;
}

static void stream_close(stream_client *c)
{
	struct curl_slist *h = NULL;
	curl_easy_getinfo(c->easy, CURLINFO_PRIVATE, (char **)&h);
	curl_multi_remove_handle(c->multi, c->easy);
	curl_easy_cleanup(c->easy);
	curl_multi_cleanup(c->multi);
	curl_slist_free_all(h);
	cobs_deframer_free(&c->d);
}

/* POST /api/v1/commands with json; the status, and the id when 202. */
static long create(const char *json, uint64_t *id, char **body)
{
	http_opts o = {.body = json, .len = strlen(json), .ctype = "application/json"};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/commands"), &o, &r), 0);
	if (r.status == 202) {
		json_t *j = json_loads(r.body, 0, NULL);
		ck_assert_ptr_nonnull(j);
		*id = (uint64_t)json_integer_value(json_object_get(j, "id"));
		json_decref(j);
	}
	if (body)
		*body = strdup(r.body);
	http_resp_free(&r);
	return r.status;
}

/* GET /api/v1/commands/{id}: the JSON (caller decrefs), or NULL when not 200. */
static json_t *command(uint64_t id)
{
	char path[64];
	snprintf(path, sizeof(path), "api/v1/commands/%llu", (unsigned long long)id);
	char *b = http_get(tsrv_at(&srv, path));
	json_t *j = b ? json_loads(b, 0, NULL) : NULL;
	free(b);
	return j;
}

static long post_result(uint64_t path_id, uint64_t id, cobs_result_kind kind, const char *data)
{
	cobs_command_result res = {
	        .id = id, .kind = kind, .data = (const uint8_t *)data, .len = strlen(data)};
	cobs_buf body = {0};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_encode_result(&res, NULL, &body, &err), 0);
	char path[96];
	snprintf(path, sizeof(path), "api/v1/commands/%llu/result", (unsigned long long)path_id);
	http_opts o = {.body = body.data, .len = body.len};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, path), &o, &r), 0);
	cobs_buf_free(&body);
	http_resp_free(&r);
	return r.status;
}

static void round_trip(long version)
{
	stream_client c;
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_open(&c, "node-a", version, NULL);
	ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	uint64_t id = 0;
	ck_assert_int_eq(
	        create("{\"node\":\"node-a\",\"kind\":\"echo\",\"payload\":\"hello agent\"}", &id,
	               NULL),
	        202);
	ck_assert_uint_ne(id, 0);
	int kind;
	while ((kind = stream_next(&c, cmd, 20000)) == COBS_STREAM_HEARTBEAT)
		;
	ck_assert_int_eq(kind, COBS_STREAM_COMMAND);
	ck_assert_uint_eq(cmd->id, id);
	ck_assert_int_eq(cmd->kind, COBS_COMMAND_ECHO);
	ck_assert_uint_eq(cmd->echo_len, 11);
	ck_assert_int_eq(memcmp(cmd->echo, "hello agent", 11), 0);
	ck_assert_int_gt(cmd->deadline_ms, 0);
	json_t *j = command(id);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "pending");
	ck_assert_str_eq(json_string_value(json_object_get(j, "node")), "node-a");
	json_decref(j);

	ck_assert_int_eq(post_result(id, id, COBS_RESULT_ECHO, "hello agent"), 204);
	j = command(id);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "done");
	json_t *res = json_object_get(j, "result");
	ck_assert_str_eq(json_string_value(json_object_get(res, "kind")), "echo");
	ck_assert_str_eq(json_string_value(json_object_get(res, "data")), "hello agent");
	json_decref(j);
	/* a resent result (the agent lost our 204) is acknowledged and ignored */
	ck_assert_int_eq(post_result(id, id, COBS_RESULT_ECHO, "other"), 204);
	j = command(id);
	res = json_object_get(j, "result");
	ck_assert_str_eq(json_string_value(json_object_get(res, "data")), "hello agent");
	json_decref(j);
	stream_close(&c);
	free(cmd);
}

START_TEST(echo_round_trip_h2c_and_http1)
{
	start(NULL);
	round_trip(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	round_trip(CURL_HTTP_VERSION_1_1);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(no_stream_is_409_at_once)
{
	start(NULL);
	uint64_t id;
	char *body = NULL;
	ck_assert_int_eq(
	        create("{\"node\":\"ghost\",\"kind\":\"echo\",\"payload\":\"x\"}", &id, &body),
	        409);
	ck_assert_ptr_nonnull(strstr(body, "no open command stream"));
	free(body);
	char *m = http_get(tsrv_at(&srv, "metrics"));
	double v;
	ck_assert(metric_value(m, "cobs_server_commands_rejected_total", &v) && v == 1);
	free(m);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

/* Posts commands for node until 409 (its stream is gone): 1, or 0 after timeout. */
static int wait_409(const char *node, int timeout_ms)
{
	char json[128];
	snprintf(json, sizeof(json), "{\"node\":\"%s\",\"kind\":\"echo\"}", node);
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		uint64_t id;
		if (create(json, &id, NULL) == 409)
			return 1;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

START_TEST(a_client_leaving_mid_stream_is_forgotten)
{
	start("[server]\nheartbeat_interval = 200ms\n");
	cobs_command *cmd = malloc(sizeof(*cmd));
	long versions[] = {CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, CURL_HTTP_VERSION_1_1};
	for (int i = 0; i < 2; i++) {
		stream_client c;
		stream_open(&c, "leaver", versions[i], NULL);
		ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
		uint64_t id;
		ck_assert_int_eq(create("{\"node\":\"leaver\",\"kind\":\"echo\"}", &id, NULL), 202);
		/* the client fails on the next bytes and drops the connection */
		c.abort_next = 1;
		stream_wait_end(&c, 20000);
		stream_close(&c);
		ck_assert(wait_409("leaver", 20000));
		/* the command sent to the stream that left is still pending, then answerable */
		ck_assert_int_eq(post_result(id, id, COBS_RESULT_ERROR, "agent went away"), 204);
		json_t *j = command(id);
		ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "failed");
		json_decref(j);
	}
	/* and a client that just closes its connection */
	stream_client c;
	stream_open(&c, "closer", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, NULL);
	ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	stream_close(&c);
	ck_assert(wait_409("closer", 20000));
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "healthz"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	free(cmd);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(heartbeats_keep_coming)
{
	start("[server]\nheartbeat_interval = 100ms\n");
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_client c;
	stream_open(&c, "beats", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	stream_close(&c);
	free(cmd);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(deadlines_expire_commands)
{
	start(NULL);
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_client c;
	stream_open(&c, "slow", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, NULL);
	ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	uint64_t id;
	ck_assert_int_eq(
	        create("{\"node\":\"slow\",\"kind\":\"echo\",\"timeout_ms\":300}", &id, NULL), 202);
	int expired = 0;
	for (int waited = 0; waited < 30000 && !expired; waited += 50) {
		stream_drive(&c); /* keep reading, as an agent would */
		json_t *j = command(id);
		expired = strcmp(json_string_value(json_object_get(j, "state")), "expired") == 0;
		json_decref(j);
	}
	ck_assert(expired);
	ck_assert_int_eq(post_result(id, id, COBS_RESULT_ECHO, "too late"), 410);
	stream_close(&c);
	free(cmd);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(bad_requests_are_refused)
{
	start(NULL);
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_client c;
	stream_open(&c, "n", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, NULL);
	ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	uint64_t id;
	ck_assert_int_eq(create("not json", &id, NULL), 400);
	ck_assert_int_eq(create("{\"node\":\"n\",\"kind\":\"dance\"}", &id, NULL), 400);
	ck_assert_int_eq(create("{\"node\":\"a b\",\"kind\":\"echo\"}", &id, NULL), 400);
	ck_assert_int_eq(create("{\"node\":\"n\",\"kind\":\"echo\",\"timeout_ms\":-5}", &id, NULL),
	                 400);
	ck_assert_int_eq(create("{\"node\":\"n\",\"kind\":\"profile\"}", &id, NULL), 400);
	ck_assert_int_eq(
	        create("{\"node\":\"n\",\"kind\":\"profile\",\"namespace\":\"ns\",\"pod\":\"p\","
	               "\"duration_s\":5}",
	               &id, NULL),
	        202);
	while (stream_next(&c, cmd, 20000) == COBS_STREAM_HEARTBEAT)
		;
	ck_assert_int_eq(cmd->kind, COBS_COMMAND_PROFILE);
	ck_assert_str_eq(cmd->profile.pod, "p");
	ck_assert_uint_eq(cmd->profile.duration_s, 5);
	ck_assert_ptr_null(command(id + 1000));
	ck_assert_int_eq(post_result(id + 1000, id + 1000, COBS_RESULT_ECHO, "x"), 404);
	ck_assert_int_eq(post_result(id, id + 1, COBS_RESULT_ECHO, "x"), 400);
	http_opts o = {.body = "garbage", .len = 7};
	http_resp r;
	char path[96];
	snprintf(path, sizeof(path), "api/v1/commands/%llu/result", (unsigned long long)id);
	ck_assert_int_eq(http_do(tsrv_at(&srv, path), &o, &r), 0);
	ck_assert_int_eq(r.status, 400);
	http_resp_free(&r);
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/agents/a%20b/commands"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 400);
	http_resp_free(&r);
	stream_close(&c);
	free(cmd);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(token_guards_the_command_endpoints)
{
	start("[auth]\nagent_token = tkn\n");
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/agents/n/commands"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);
	http_opts o = {.body = "{}", .len = 2};
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/commands"), &o, &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_client c;
	stream_open(&c, "n", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, "tkn");
	ck_assert_int_eq(stream_next(&c, cmd, 20000), COBS_STREAM_HEARTBEAT);
	stream_close(&c);
	free(cmd);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(a_new_stream_replaces_the_old_and_sigterm_ends_streams)
{
	start(NULL);
	cobs_command *cmd = malloc(sizeof(*cmd));
	stream_client a, b;
	stream_open(&a, "twice", CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, NULL);
	ck_assert_int_eq(stream_next(&a, cmd, 20000), COBS_STREAM_HEARTBEAT);
	stream_open(&b, "twice", CURL_HTTP_VERSION_1_1, NULL);
	ck_assert_int_eq(stream_next(&b, cmd, 20000), COBS_STREAM_HEARTBEAT);
	ck_assert(stream_wait_end(&a, 20000)); /* the old one ended */
	/* its idle HTTP/2 connection would hold the drain below until drain_timeout */
	stream_close(&a);
	uint64_t id;
	ck_assert_int_eq(
	        create("{\"node\":\"twice\",\"kind\":\"echo\",\"payload\":\"b\"}", &id, NULL), 202);
	int kind;
	while ((kind = stream_next(&b, cmd, 20000)) == COBS_STREAM_HEARTBEAT)
		;
	ck_assert_int_eq(kind, COBS_STREAM_COMMAND);
	ck_assert_uint_eq(cmd->id, id);
	/* SIGTERM: the open stream ends cleanly and the server exits 0 */
	kill(srv.pid, SIGTERM);
	ck_assert(stream_wait_end(&b, 30000));
	ck_assert_int_eq(tsrv_stop(&srv), 0);
	stream_close(&b);
	free(cmd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_commands");
	TCase *tc = tcase_create("commands");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, echo_round_trip_h2c_and_http1);
	tcase_add_test(tc, no_stream_is_409_at_once);
	tcase_add_test(tc, a_client_leaving_mid_stream_is_forgotten);
	tcase_add_test(tc, heartbeats_keep_coming);
	tcase_add_test(tc, deadlines_expire_commands);
	tcase_add_test(tc, bad_requests_are_refused);
	tcase_add_test(tc, token_guards_the_command_endpoints);
	tcase_add_test(tc, a_new_stream_replaces_the_old_and_sigterm_ends_streams);
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
