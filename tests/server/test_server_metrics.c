/*
 * /metrics through a real Prometheus parser: promtool check metrics (from
 * Debian's prometheus package) must accept the whole exposition, hostile
 * label values and help texts included. Skipped when promtool is absent.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_server_util.h"

START_TEST(promtool_accepts_metrics)
{
	const char *promtool = promtool_path();
	if (!promtool) {
		fprintf(stderr, "promtool not found: skipping (apt-get install prometheus)\n");
		return;
	}
	test_srv srv;
	ck_assert_int_eq(tsrv_start(&srv, NULL, NULL), 0);
	for (int node = 0; node < 3; node++) {
		cobs_batch *b = cobs_batch_new();
		b->timestamp_ms = 1700000000000;
		cobs_family *f = cobs_batch_family(b, "node_network_receive_bytes_total",
		                                   "Bytes received.", "bytes", COBS_COUNTER);
		cobs_family_add1(b, f, 1e12 + node, "device", "eth0");
		cobs_family_add1(b, f, 0.1 + node, "device", "we\"ird\\dev\nice");
		f = cobs_batch_family(
		        b, "process_cpu_usage_percent",
		        "CPU % of the process: 100 * delta(cpu) / delta(t), \\ and\nnewline.",
		        "percent", COBS_GAUGE);
		cobs_label l[] = {{"pid", "42"},
		                  {"comm", "a) (b"},
		                  {"namespace", "ns"},
		                  {"pod", "p\xc3\xa9"},
		                  {"container", "c"}};
		cobs_family_add(b, f, 12.5, l, 5);
		f = cobs_batch_family(b, "kube_pod_info", "Pod facts.", "", COBS_INFO);
		cobs_label pl[] = {{"namespace", "ns"}, {"pod", "p"}, {"node", "x"}};
		cobs_family_add(b, f, 1, pl, 3);
		f = cobs_batch_family(b, "test_special_values", "Odd values.", "", COBS_GAUGE);
		cobs_family_add1(b, f, -0.0, "k", "zero");
		cobs_family_add1(b, f, 1e-300, "k", "tiny");
		cobs_family_add1(b, f, -1.5e300, "k", "huge");
		char name[16];
		snprintf(name, sizeof(name), "node-%d", node);
		cobs_buf body = {0};
		ck_assert_int_eq(make_body(b, name, "boot", 1, 5000, COBS_WIRE_ZSTD, &body), 0);
		ck_assert_int_eq(post_body(&srv, &body, NULL), 204);
		cobs_buf_free(&body);
		cobs_batch_free(b);
	}
	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(
	        m,
	        "node_network_receive_bytes_total{node=\"node-2\",device=\"eth0\"} 1000000000002\n"));
	char path[256];
	snprintf(path, sizeof(path), "%s/metrics.txt", srv.dir);
	ck_assert_int_eq(write_file(path, m), 0);
	free(m);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", promtool, path);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char *out = NULL, *err = NULL;
	int rc = run_command(argv, &out, &err);
	ck_assert_msg(rc == 0, "promtool said (%d): %s %s", rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_metrics");
	TCase *tc = tcase_create("metrics");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, promtool_accepts_metrics);
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
