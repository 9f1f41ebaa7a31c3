/*
 * cobs-agent --simulate 3 against the real cobs-server: three nodes with
 * their own names, boot ids and unbroken sequences (the server counts no
 * gap, duplicate or restart), their process series on /metrics with the
 * `node` label and hostile comms escaped, the flapping node going stale
 * and coming back, and promtool accepting the whole exposition.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test_server_util.h"

static const char *const nodes[] = {"sim-node-0001", "sim-node-0002", "sim-node-0003"};

/* The state="..." of node's cobs_server_node_info line, into out. 1 found, 0 not. */
static int node_state(const char *metrics, const char *node, char *out, size_t len)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "cobs_server_node_info{node=\"%s\",", node);
	const char *l = strstr(metrics, prefix);
	const char *s = l ? strstr(l, "state=\"") : NULL;
	const char *eol = l ? strchr(l, '\n') : NULL;
	if (!s || (eol && s > eol))
		return 0;
	snprintf(out, len, "%.*s", (int)strcspn(s + 7, "\""), s + 7);
	return 1;
}

/* Polls /metrics until node's state is want (up to timeout_ms). */
static int wait_state(const test_srv *s, const char *node, const char *want, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 100) {
		char *m = http_get(tsrv_at(s, "metrics")), state[16];
		int ok = m && node_state(m, node, state, sizeof(state)) && strcmp(state, want) == 0;
		free(m);
		if (ok)
			return 1;
		usleep(100000);
	}
	return 0;
}

static double node_metric(const char *metrics, const char *family, const char *node)
{
	char series[160];
	double v = -1;
	snprintf(series, sizeof(series), "%s{node=\"%s\"}", family, node);
	ck_assert_msg(metric_value(metrics, series, &v), "no %s", series);
	return v;
}

/*
 * The exposition parses with promtool (when installed). Its lint (exit 3) is
 * allowed one complaint only: node_exporter's own camelCase meminfo names
 * (node_memory_MemTotal_bytes), which the simulator keeps on purpose.
 */
static void promtool_check(const char *metrics)
{
	const char *promtool = promtool_path();
	if (!promtool)
		return;
	char path[128], cmd[512];
	snprintf(path, sizeof(path), "%s/metrics.txt", temp_dir());
	ck_assert_int_eq(write_file(path, metrics), 0);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s 2>&1", promtool, path);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char *out = NULL;
	int rc = run_command(argv, &out, NULL);
	char *lines = out ? strdup(out) : NULL, *save = NULL;
	int only_camel = rc == 3 && lines;
	for (char *l = lines ? strtok_r(lines, "\n", &save) : NULL; only_camel && l;
	     l = strtok_r(NULL, "\n", &save))
		only_camel = strncmp(l, "node_memory_", 12) == 0 && strstr(l, "'camelCase'");
	free(lines);
	ck_assert_msg(rc == 0 || only_camel, "promtool said (%d): %s", rc, out ? out : "");
	free(out);
}

START_TEST(three_simulated_nodes_reach_the_server)
{
	test_srv srv;
	ck_assert_int_eq(tsrv_start(&srv, NULL, NULL), 0);
	char agent[4096], dir[64], err_path[128], out_path[128];
	snprintf(agent, sizeof(agent), "%s/bin/cobs-agent", COBS_BUILD_DIR);
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	snprintf(err_path, sizeof(err_path), "%s/agent.err", dir);
	snprintf(out_path, sizeof(out_path), "%s/agent.out", dir);
	/* A 1 s interval so a few seconds hold several batches; node 3 silent 7 s of 12 s.
	 * (spawn_command's children die with the test, should an assertion end it.) */
	char *argv[] = {agent,
	                "--simulate",
	                "3",
	                "--server",
	                srv.url,
	                "--sim",
	                "interval=1s",
	                "--sim",
	                "pods=10",
	                "--sim",
	                "processes=60",
	                "--sim",
	                "flap_period=12s",
	                "--sim",
	                "flap_down=7s",
	                NULL};
	pid_t pid = spawn_command(argv, out_path, err_path);
	ck_assert_int_gt(pid, 0);

	/* Every node sends: three batches each, at the least. */
	int seen = 0;
	for (int i = 0; i < 300 && !seen; i++) {
		char *m = http_get(tsrv_at(&srv, "metrics"));
		double ok = 0;
		seen = m &&
		       metric_value(m, "cobs_server_ingest_batches_total{result=\"ok\"}", &ok) &&
		       ok >= 9;
		free(m);
		if (!seen)
			usleep(100000);
	}
	char *log = read_file(err_path);
	ck_assert_msg(seen, "no batches arrived; the agent said: %s", log ? log : "");
	free(log);

	char *m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(m);
	char boots[3][64];
	for (int i = 0; i < 3; i++) {
		char prefix[256], state[16];
		ck_assert_msg(node_state(m, nodes[i], state, sizeof(state)), "%s unknown",
		              nodes[i]);
		snprintf(prefix, sizeof(prefix), "process_cpu_seconds_total{node=\"%s\",pid=\"1\"",
		         nodes[i]);
		ck_assert_uint_eq(count_lines(m, prefix), 2); /* systemd: user and system */
		snprintf(prefix, sizeof(prefix), "cobs_pod_info{node=\"%s\",", nodes[i]);
		ck_assert_uint_eq(count_lines(m, prefix), 10);
		/* Each node is an agent of its own: a boot id of its own. */
		snprintf(prefix, sizeof(prefix), "cobs_server_node_info{node=\"%s\",", nodes[i]);
		const char *b = strstr(strstr(m, prefix), "boot_id=\"") + 9;
		snprintf(boots[i], sizeof(boots[i]), "%.*s", (int)strcspn(b, "\""), b);
	}
	ck_assert_str_ne(boots[0], boots[1]);
	ck_assert_str_ne(boots[1], boots[2]);
	ck_assert_str_ne(boots[0], boots[2]);
	/* Hostile comms arrive whole, escaped where the format needs it. */
	ck_assert_ptr_nonnull(strstr(m, "comm=\"<img src=x onerror=alert(1)>\""));
	ck_assert_ptr_nonnull(strstr(m, "comm=\"a) (b\""));
	ck_assert_ptr_nonnull(strstr(m, "comm=\"q\\\"uote\\\\back slash\""));
	free(m);

	/* The flapping node goes silent (stale after 2 intervals) and comes back. */
	ck_assert(wait_state(&srv, nodes[2], "stale", 20000));
	ck_assert(wait_state(&srv, nodes[2], "up", 20000));
	ck_assert(wait_state(&srv, nodes[0], "up", 0));

	kill(pid, SIGTERM);
	int rc = wait_command(pid, 30000);
	log = read_file(err_path);
	ck_assert_msg(rc == 0, "the agent ended with %d: %s", rc, log ? log : "");
	free(log);

	/* Sequences unbroken: no gap, no resend, no restart, for every node. */
	m = http_get(tsrv_at(&srv, "metrics"));
	ck_assert_ptr_nonnull(m);
	for (int i = 0; i < 3; i++) {
		ck_assert(node_metric(m, "cobs_server_node_missed_batches_total", nodes[i]) == 0);
		ck_assert(node_metric(m, "cobs_server_node_duplicate_batches_total", nodes[i]) ==
		          0);
		ck_assert(node_metric(m, "cobs_server_node_agent_restarts_total", nodes[i]) == 0);
	}
	promtool_check(m);
	free(m);
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("server_sim");
	TCase *t = tcase_create("simulate");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, three_simulated_nodes_reach_the_server);
	suite_add_tcase(s, t);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
