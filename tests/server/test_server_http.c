/*
 * cobs-server's HTTP surface: HTTP/1.1, h2c with prior knowledge and with
 * Upgrade, TLS with ALPN h2 on a self-signed certificate made at test time,
 * /healthz and /readyz, 404 and 405, the ingest-only listener, --check and
 * configuration errors, and SIGTERM -> exit 0.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static long get(const char *url, long version, long *got_version, const char *cafile)
{
	http_opts o = {.version = version, .cafile = cafile};
	http_resp r;
	long st = http_do(url, &o, &r) == 0 ? r.status : -(long)r.rc;
	if (got_version)
		*got_version = r.version;
	http_resp_free(&r);
	return st;
}

static cobs_buf one_batch(void)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = 1700000000000;
	cobs_family *f = cobs_batch_family(b, "node_load1", "Load.", "", COBS_GAUGE);
	cobs_family_add0(b, f, 0.5);
	cobs_buf body = {0};
	ck_assert_int_eq(make_body(b, "n1", "boot", 1, 5000, COBS_WIRE_ZSTD, &body), 0);
	cobs_batch_free(b);
	return body;
}

START_TEST(http1_and_h2c_both_ways)
{
	start(NULL);
	long v;
	ck_assert_int_eq(get(tsrv_at(&srv, "healthz"), CURL_HTTP_VERSION_1_1, &v, NULL), 200);
	ck_assert_int_eq(v, CURL_HTTP_VERSION_1_1);
	ck_assert_int_eq(
	        get(tsrv_at(&srv, "healthz"), CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, &v, NULL), 200);
	ck_assert_int_eq(v, CURL_HTTP_VERSION_2_0);
	/* Upgrade: h2c on the first request */
	ck_assert_int_eq(get(tsrv_at(&srv, "readyz"), CURL_HTTP_VERSION_2_0, &v, NULL), 200);
	ck_assert_int_eq(v, CURL_HTTP_VERSION_2_0);
	/* ingest over h2c */
	cobs_buf body = one_batch();
	http_opts o = {
	        .body = body.data, .len = body.len, .version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_int_eq(r.version, CURL_HTTP_VERSION_2_0);
	ck_assert_uint_eq(r.len, 0);
	http_resp_free(&r);
	cobs_buf_free(&body);
	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(strstr(m, "node_load1{node=\"n1\"} 0.5\n"));
	free(m);
	/* the server's own alone */
	m = http_get(tsrv_at(&srv, "metrics/server"));
	ck_assert_ptr_nonnull(strstr(m, "cobs_server_ingest_batches_total{result=\"ok\"} 1\n"));
	ck_assert_ptr_null(strstr(m, "node_load1"));
	free(m);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

/* GET or POST path with these extra header lines: the status. */
static long ask(const char *method, const char *path, const char *h1, const char *h2)
{
	const char *const headers[] = {h1, h2, NULL};
	http_opts o = {.method = method, .headers = headers, .ctype = "application/json"};
	if (method && strcmp(method, "POST") == 0) {
		o.body = "{}";
		o.len = 2;
	}
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, path), &o, &r), 0);
	long status = r.status;
	if (status == 401 && !(r.headers && strstr(r.headers, "www-authenticate: Basic realm=")))
		status = -401; /* a 401 must say how to authenticate */
	http_resp_free(&r);
	return status;
}

START_TEST(ui_credentials_and_cross_site_posts)
{
	start("[auth]\nui_user = admin\nui_password = s3cret\nui_token = tok\n"
	      "agent_token = agent\n");
	/* base64("admin:s3cret") = YWRtaW46czNjcmV0 */
	const char *basic = "Authorization: Basic YWRtaW46czNjcmV0";
	ck_assert_int_eq(ask(NULL, "", NULL, NULL), 401);
	ck_assert_int_eq(ask(NULL, "", basic, NULL), 200);
	ck_assert_int_eq(ask(NULL, "", "Authorization: Basic YWRtaW46d3Jvbmc=", NULL), 401);
	ck_assert_int_eq(ask(NULL, "", "Authorization: Bearer tok", NULL), 200);
	ck_assert_int_eq(ask(NULL, "", "Authorization: Bearer tok2", NULL), 401);
	ck_assert_int_eq(ask(NULL, "api/v1/nodes", NULL, NULL), 401);
	ck_assert_int_eq(ask(NULL, "api/v1/nodes", "Authorization: Bearer tok", NULL), 200);
	ck_assert_int_eq(ask(NULL, "metrics", NULL, NULL), 401);
	ck_assert_int_eq(ask(NULL, "metrics", basic, NULL), 200);
	/* probes, static files and the agents' routes do not ask for them */
	ck_assert_int_eq(ask(NULL, "healthz", NULL, NULL), 200);
	ck_assert_int_eq(ask(NULL, "static/cobs.css", NULL, NULL), 200);
	cobs_buf body = one_batch();
	ck_assert_int_eq(post_body(&srv, &body, "agent"), 204);
	cobs_buf_free(&body);
	/* a POST from another site's page is refused, whatever credentials it carries */
	const char *agent = "Authorization: Bearer agent";
	ck_assert_int_eq(ask("POST", "api/v1/commands", agent, "Origin: http://evil.example"), 403);
	ck_assert_int_eq(ask("POST", "api/v1/commands", agent, "Sec-Fetch-Site: cross-site"), 403);
	/* from this server's own page, or from no page at all (curl), it goes through */
	char origin[300];
	snprintf(origin, sizeof(origin), "Origin: %.*s", (int)strlen(srv.url) - 1, srv.url);
	ck_assert_int_ne(ask("POST", "api/v1/commands", agent, origin), 403);
	ck_assert_int_ne(ask("POST", "api/v1/commands", agent, "Sec-Fetch-Site: same-origin"), 403);
	ck_assert_int_ne(ask("POST", "api/v1/commands", agent, NULL), 403);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(routes_404_and_405)
{
	start(NULL);
	ck_assert_int_eq(get(tsrv_at(&srv, "nope"), 0, NULL, NULL), 404);
	ck_assert_int_eq(get(tsrv_at(&srv, "api/v1/nope"), 0, NULL, NULL), 404);
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(r.ctype, "application/json");
	ck_assert_ptr_nonnull(strstr(r.body, "POST"));
	http_resp_free(&r);
	http_opts o = {.method = "POST", .body = "x", .len = 1};
	ck_assert_int_eq(http_do(tsrv_at(&srv, "metrics"), &o, &r), 0);
	ck_assert_int_eq(r.status, 405);
	http_resp_free(&r);
	ck_assert_int_eq(get(tsrv_at(&srv, "healthz?probe=1"), 0, NULL, NULL), 200);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(tls_with_alpn_h2)
{
	char cert[PATH_MAX], key[PATH_MAX];
	ck_assert_int_eq(make_test_cert(temp_dir(), cert, key), 0);
	char ini[3 * PATH_MAX];
	snprintf(ini, sizeof(ini), "[server]\ntls_cert = %s\ntls_key = %s\n", cert, key);
	start(ini);
	ck_assert_ptr_nonnull(strstr(srv.url, "https://127.0.0.1:"));
	long v;
	ck_assert_int_eq(get(tsrv_at(&srv, "healthz"), CURL_HTTP_VERSION_2TLS, &v, cert), 200);
	ck_assert_int_eq(v, CURL_HTTP_VERSION_2_0);
	ck_assert_int_eq(get(tsrv_at(&srv, "healthz"), CURL_HTTP_VERSION_1_1, &v, cert), 200);
	ck_assert_int_eq(v, CURL_HTTP_VERSION_1_1);
	cobs_buf body = one_batch();
	http_opts o = {.body = body.data,
	               .len = body.len,
	               .version = CURL_HTTP_VERSION_2TLS,
	               .cafile = cert};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/ingest"), &o, &r), 0);
	ck_assert_int_eq(r.status, 204);
	http_resp_free(&r);
	cobs_buf_free(&body);
	/* cleartext on a TLS port is no answer at all, not a crash */
	char plain[700];
	snprintf(plain, sizeof(plain), "http%s", srv.url + 5);
	strcat(plain, "healthz");
	ck_assert_int_lt(get(plain, 0, NULL, NULL), 0);
	ck_assert_int_eq(get(tsrv_at(&srv, "healthz"), 0, NULL, cert), 200);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(ingest_listener_serves_agents_only)
{
	start("[server]\ningest_listen = 127.0.0.1:0\n");
	ck_assert_int_ne(srv.ingest_url[0], 0);
	char url[300];
	snprintf(url, sizeof(url), "%shealthz", srv.ingest_url);
	ck_assert_int_eq(get(url, 0, NULL, NULL), 200);
	snprintf(url, sizeof(url), "%smetrics", srv.ingest_url);
	ck_assert_int_eq(get(url, 0, NULL, NULL), 404);
	cobs_buf body = one_batch();
	snprintf(url, sizeof(url), "%sapi/v1/ingest", srv.ingest_url);
	http_opts o = {.body = body.data, .len = body.len};
	http_resp r;
	ck_assert_int_eq(http_do(url, &o, &r), 0);
	ck_assert_int_eq(r.status, 204);
	http_resp_free(&r);
	cobs_buf_free(&body);
	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(strstr(m, "node_load1{node=\"n1\"} 0.5\n"));
	free(m);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

static int run_server(const char *ini_text, char **err)
{
	const char *dir = temp_dir();
	char ini[128];
	snprintf(ini, sizeof(ini), "%s/server.ini", dir);
	write_file(ini, ini_text);
	char *argv[] = {COBS_BUILD_DIR "/bin/cobs-server", "-c", ini, "--check", NULL};
	return run_command(argv, NULL, err);
}

START_TEST(check_flag_and_configuration_errors)
{
	char *err = NULL;
	ck_assert_int_eq(
	        run_server("[server]\nmax_batch_size = 1MiB\n[store]\nbackend = x\n", &err), 0);
	free(err);
	ck_assert_int_eq(run_server("[server]\nlisten = :0\nbogus = 1\n", &err), 2);
	ck_assert_msg(strstr(err, "server.ini:3") && strstr(err, "unknown key 'bogus'"), "%s", err);
	free(err);
	ck_assert_int_eq(run_server("[server]\n\n[sevrer]\n", &err), 2);
	ck_assert_msg(strstr(err, "server.ini:3") && strstr(err, "[sevrer]"), "%s", err);
	free(err);
	ck_assert_int_eq(run_server("[server]\nhistory_retention = forever\n", &err), 2);
	ck_assert_msg(strstr(err, "server.ini:2") && strstr(err, "history_retention"), "%s", err);
	free(err);
	ck_assert_int_eq(run_server("[auth]\nagent_token_file = /nonexistent/token\n", &err), 2);
	ck_assert_msg(strstr(err, "agent_token_file") && strstr(err, "/nonexistent/token"), "%s",
	              err);
	free(err);
	/* the environment overrides a key and is named when wrong */
	setenv("COBS_SERVER_DOWN_AFTER", "1", 1);
	ck_assert_int_eq(run_server("[server]\n", &err), 2);
	ck_assert_msg(strstr(err, "COBS_SERVER_DOWN_AFTER"), "%s", err);
	free(err);
	unsetenv("COBS_SERVER_DOWN_AFTER");
	/* a busy port is a clear error, exit 1 */
	start(NULL);
	char *argv[] = {COBS_BUILD_DIR "/bin/cobs-server", "--listen", srv.url + 7, NULL};
	srv.url[strlen(srv.url) - 1] = '\0'; /* "127.0.0.1:PORT" without the '/' */
	ck_assert_int_eq(run_command(argv, NULL, &err), 1);
	ck_assert_msg(strstr(err, "cannot listen"), "%s", err);
	free(err);
	strcat(srv.url, "/");
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

START_TEST(sigterm_drains_and_exits_0)
{
	start("[auth]\nagent_token = t\n");
	ck_assert_int_eq(get(tsrv_at(&srv, "readyz"), 0, NULL, NULL), 200);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
	char *log = tsrv_log(&srv);
	ck_assert_ptr_nonnull(strstr(log, "SIGTERM: draining"));
	ck_assert_ptr_nonnull(strstr(log, "stopped"));
	free(log);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_http");
	TCase *tc = tcase_create("http");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, http1_and_h2c_both_ways);
	tcase_add_test(tc, routes_404_and_405);
	tcase_add_test(tc, tls_with_alpn_h2);
	tcase_add_test(tc, ui_credentials_and_cross_site_posts);
	tcase_add_test(tc, ingest_listener_serves_agents_only);
	tcase_add_test(tc, check_flag_and_configuration_errors);
	tcase_add_test(tc, sigterm_drains_and_exits_0);
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
