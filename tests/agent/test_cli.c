/*
 * The cobs-agent binary as a user runs it: --once on this machine's real
 * /proc, output formats, configuration errors, refused plugins, SIGHUP
 * reload (good and bad) and SIGTERM.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(haystack && strstr(haystack, needle), "'%s' not in '%s'", needle,
	              haystack ? haystack : "(null)");
}

/* The first value of a JSON batch's family (labels ignored), or NAN. */
static json_t *family(json_t *batch, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(batch, "families"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return f;
	}
	return NULL;
}

/* MemTotal in bytes from this machine's /proc/meminfo. */
static double proc_memtotal(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 0;
	ck_assert_int_eq(fscanf(f, "MemTotal: %llu kB", &kb), 1);
	fclose(f);
	return (double)kb * 1024;
}

/* cpuN lines and the sum of cpu0's user ticks from /proc/stat. */
static int proc_cpus(unsigned long long *cpu0_user)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9') {
			if (n == 0)
				sscanf(line, "cpu0 %llu", cpu0_user);
			n++;
		}
	}
	fclose(f);
	return n;
}

START_TEST(once_json_on_this_machine)
{
	unsigned long long user0 = 0;
	int cpus = proc_cpus(&user0);
	char *out = NULL, *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "--once", "--format", "json", NULL};
	int rc = run_command(argv, &out, &err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	json_error_t jerr;
	json_t *batch = json_loads(out, 0, &jerr);
	ck_assert_msg(batch, "not one JSON batch: %s", jerr.text);

	json_t *mem = family(batch, "node_memory_MemTotal_bytes");
	ck_assert_ptr_nonnull(mem);
	double total = json_number_value(
	        json_object_get(json_array_get(json_object_get(mem, "samples"), 0), "value"));
	ck_assert_double_eq(total, proc_memtotal());

	/* One node_cpu_seconds_total{mode="user"} per CPU, not below what we read first. */
	json_t *cpu = family(batch, "node_cpu_seconds_total");
	ck_assert_ptr_nonnull(cpu);
	size_t i;
	json_t *s;
	int users = 0;
	json_array_foreach(json_object_get(cpu, "samples"), i, s)
	{
		json_t *labels = json_object_get(s, "labels");
		if (strcmp(json_string_value(json_object_get(labels, "mode")), "user") != 0)
			continue;
		users++;
		if (strcmp(json_string_value(json_object_get(labels, "cpu")), "0") == 0)
			ck_assert_double_ge(json_number_value(json_object_get(s, "value")),
			                    (double)user0 / (double)sysconf(_SC_CLK_TCK) - 1e-9);
	}
	ck_assert_int_eq(users, cpus);
	ck_assert_ptr_nonnull(family(batch, "node_network_receive_bytes_total"));
	ck_assert_ptr_nonnull(family(batch, "node_load1"));
	ck_assert_ptr_nonnull(family(batch, "node_boot_time_seconds"));
	ck_assert_ptr_nonnull(family(batch, "cobs_agent_collections_total"));
	ck_assert_ptr_nonnull(family(batch, "cobs_agent_resident_memory_bytes"));
	json_decref(batch);
	free(out);
	free(err);
}
END_TEST

START_TEST(once_prometheus)
{
	char *out = NULL;
	char *argv[] = {COBS_AGENT_BIN, "--once", "--format", "prometheus", NULL};
	ck_assert_int_eq(run_command(argv, &out, NULL), 0);
	assert_contains(out, "# TYPE node_cpu_seconds_total counter\n");
	assert_contains(out, "# TYPE node_memory_MemAvailable_bytes gauge\n");
	assert_contains(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} ");
	free(out);
}
END_TEST

START_TEST(bad_format_is_a_usage_error)
{
	char *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "--once", "--format", "xml", NULL};
	ck_assert_int_eq(run_command(argv, NULL, &err), 2);
	assert_contains(err, "unknown format 'xml'");
	free(err);
}
END_TEST

START_TEST(bad_config_exits_nonzero_naming_line_and_key)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/agent.ini", temp_dir());
	write_file(path, "[agent]\ninterval = 5s\n\n[plugin.cpu]\ninterval = fast\n");
	char *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "-c", path, NULL};
	ck_assert_int_eq(run_command(argv, NULL, &err), 1);
	assert_contains(err, "agent.ini:5");
	assert_contains(err, "[plugin.cpu] key 'interval'");
	free(err);
}
END_TEST

/* The documented example configuration is itself valid, key for key. */
START_TEST(shipped_agent_ini_checks_ok)
{
	char *out = NULL, *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "-c", COBS_SOURCE_DIR "/conf/agent.ini", "--check", NULL};
	int rc = run_command(argv, &out, &err);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
	assert_contains(out, "configuration OK");
	assert_contains(out, "0 plugin(s) refused");
	free(out);
	free(err);
}
END_TEST

START_TEST(refused_plugin_is_reported_rest_runs)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/agent.ini", temp_dir());
	write_file(path, "[plugin.mem]\n[plugin.nosuch]\n");
	char *out = NULL, *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "-c", path, "--once", "--format", "prometheus", NULL};
	ck_assert_int_eq(run_command(argv, &out, &err), 0);
	assert_contains(err, "plugin 'nosuch'");
	assert_contains(out, "node_memory_MemTotal_bytes ");
	free(out);
	free(err);
}
END_TEST

START_TEST(no_data_exits_nonzero)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/agent.ini", temp_dir());
	write_file(path, "[agent]\nproc_root = /nonexistent\n[plugin.mem]\n");
	char *err = NULL;
	char *argv[] = {COBS_AGENT_BIN, "-c", path, "--once", NULL};
	ck_assert_int_ne(run_command(argv, NULL, &err), 0);
	assert_contains(err, "plugin 'mem'");
	free(err);
}
END_TEST

/* Polls path until it contains needle (or ~10 s pass). */
static int wait_for_text(const char *path, const char *needle)
{
	for (int i = 0; i < 1000; i++) {
		char *text = read_file(path);
		int found = text && strstr(text, needle);
		free(text);
		if (found)
			return 1;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* The test plugins' dir has no stdout.so: the sink is named by path. */
static void write_reload_config(const char *cfg, int value)
{
	char text[8192];
	snprintf(text, sizeof(text),
	         "[agent]\nplugin_dir = %s\ninterval = 200ms\n[plugin.good]\nvalue = %d\n"
	         "[sink.stdout]\nfile = %s/stdout.so\nformat = prometheus\n",
	         COBS_TESTPLUG_DIR, value, COBS_TEST_PLUGIN_DIR);
	ck_assert_int_eq(write_file(cfg, text), 0);
}

START_TEST(sighup_reloads_and_refuses_bad_config_sigterm_exits_zero)
{
	char dir[64], cfg[128], out[128], err[128];
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	snprintf(cfg, sizeof(cfg), "%s/agent.ini", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	write_reload_config(cfg, 1);
	char *argv[] = {COBS_AGENT_BIN, "-c", cfg, NULL};
	pid_t pid = spawn_command(argv, out, err);
	ck_assert_int_gt(pid, 0);
	ck_assert_msg(wait_for_text(out, "test_config_value 1\n"), "no first batch");

	write_reload_config(cfg, 2);
	kill(pid, SIGHUP);
	ck_assert_msg(wait_for_text(out, "test_config_value 2\n"), "reload not applied");

	write_file(cfg, "[agent]\ninterval = never\n");
	kill(pid, SIGHUP);
	ck_assert_msg(wait_for_text(err, "reload refused"), "bad reload not refused");
	/* Still running with the old configuration. */
	ck_assert_int_eq(truncate(out, 0), 0);
	ck_assert_msg(wait_for_text(out, "test_config_value 2\n"), "stopped after bad reload");

	kill(pid, SIGTERM);
	ck_assert_int_eq(wait_command(pid, 10000), 0);
	char *log = read_file(err);
	assert_contains(log, "agent.ini:2");
	free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, once_json_on_this_machine);
	tcase_add_test(tc, once_prometheus);
	tcase_add_test(tc, bad_format_is_a_usage_error);
	tcase_add_test(tc, bad_config_exits_nonzero_naming_line_and_key);
	tcase_add_test(tc, shipped_agent_ini_checks_ok);
	tcase_add_test(tc, refused_plugin_is_reported_rest_runs);
	tcase_add_test(tc, no_data_exits_nonzero);
	tcase_add_test(tc, sighup_reloads_and_refuses_bad_config_sigterm_exits_zero);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
