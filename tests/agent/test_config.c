/*
 * Configuration: unit parsers, environment overrides, and every error path
 * naming file, line and key.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "harness.h"

/* Writes text to a fresh file and returns its path (static buffer). */
static const char *write_ini(const char *text)
{
	static char path[4200];
	snprintf(path, sizeof(path), "%s/agent.ini", temp_dir());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text, builds an agent, and returns the error message ("" on success). */
static const char *build_error(const char *text)
{
	static cobs_error err;
	memset(&err, 0, sizeof(err));
	cobs_config *c = cobs_config_load(write_ini(text), &err);
	if (!c)
		return err.msg;
	cobs_agent *a = cobs_agent_build(c, NULL, NULL, &err);
	cobs_agent_free(a);
	return a ? "" : err.msg;
}

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(strstr(haystack, needle), "'%s' not in '%s'", needle, haystack);
}

START_TEST(durations)
{
	uint64_t ms;
	ck_assert_int_eq(cobs_parse_duration_ms("250ms", &ms), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(cobs_parse_duration_ms("5s", &ms), 0);
	ck_assert_uint_eq(ms, 5000);
	ck_assert_int_eq(cobs_parse_duration_ms("1m", &ms), 0);
	ck_assert_uint_eq(ms, 60000);
	ck_assert_int_eq(cobs_parse_duration_ms("1.5s", &ms), 0);
	ck_assert_uint_eq(ms, 1500);
	ck_assert_int_eq(cobs_parse_duration_ms("2h", &ms), 0);
	ck_assert_uint_eq(ms, 7200000);
	ck_assert_int_eq(cobs_parse_duration_ms("10", &ms), 0);
	ck_assert_uint_eq(ms, 10000);
	ck_assert_int_eq(cobs_parse_duration_ms("5 s", &ms), 0);
	ck_assert_uint_eq(ms, 5000);
	ck_assert_int_eq(cobs_parse_duration_ms("5x", &ms), -1);
	ck_assert_int_eq(cobs_parse_duration_ms("-5s", &ms), -1);
	ck_assert_int_eq(cobs_parse_duration_ms("", &ms), -1);
	ck_assert_int_eq(cobs_parse_duration_ms("s", &ms), -1);
	ck_assert_int_eq(cobs_parse_duration_ms("5s trailing", &ms), -1);
	ck_assert_int_eq(cobs_parse_duration_ms("1e300s", &ms), -1);
}
END_TEST

START_TEST(sizes)
{
	uint64_t n;
	ck_assert_int_eq(cobs_parse_size("512", &n), 0);
	ck_assert_uint_eq(n, 512);
	ck_assert_int_eq(cobs_parse_size("64KiB", &n), 0);
	ck_assert_uint_eq(n, 65536);
	ck_assert_int_eq(cobs_parse_size("10MiB", &n), 0);
	ck_assert_uint_eq(n, 10485760);
	ck_assert_int_eq(cobs_parse_size("1GiB", &n), 0);
	ck_assert_uint_eq(n, 1073741824);
	ck_assert_int_eq(cobs_parse_size("1KB", &n), 0);
	ck_assert_uint_eq(n, 1000);
	ck_assert_int_eq(cobs_parse_size("10 MiB", &n), 0);
	ck_assert_uint_eq(n, 10485760);
	ck_assert_int_eq(cobs_parse_size("10Mib", &n), -1);
	ck_assert_int_eq(cobs_parse_size("lots", &n), -1);
}
END_TEST

START_TEST(booleans)
{
	bool b;
	ck_assert_int_eq(cobs_parse_bool("yes", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(cobs_parse_bool("Off", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(cobs_parse_bool("maybe", &b), -1);
}
END_TEST

START_TEST(keys_remember_their_line)
{
	cobs_error err;
	cobs_config *c = cobs_config_load(write_ini("; comment\n[agent]\n\ninterval = 2s\n"
	                                            "node = n1 ; trailing comment\n"),
	                                  &err);
	ck_assert_ptr_nonnull(c);
	cobs_section *s = cobs_config_section(c, "agent");
	ck_assert_ptr_nonnull(s);
	char where[300];
	ck_assert_str_eq(cobs_cfg_where(s, "interval", where, sizeof(where)) + strlen(where) - 2,
	                 ":4");
	ck_assert_str_eq(cobs_cfg_raw(s, "node"), "n1");
	cobs_config_free(c);
}
END_TEST

START_TEST(bad_value_names_file_line_and_key)
{
	const char *msg = build_error("[agent]\nnode = n1\ninterval = soon\n");
	assert_contains(msg, "agent.ini:3");
	assert_contains(msg, "'interval'");
	assert_contains(msg, "soon");
}
END_TEST

START_TEST(unknown_agent_key)
{
	const char *msg = build_error("[agent]\n\nintervall = 5s\n");
	assert_contains(msg, "agent.ini:3");
	assert_contains(msg, "unknown key 'intervall'");
}
END_TEST

START_TEST(unknown_section)
{
	const char *msg = build_error("[agent]\n[plugins.cpu]\n");
	assert_contains(msg, "agent.ini:2");
	assert_contains(msg, "unknown section [plugins.cpu]");
}
END_TEST

START_TEST(bad_log_level)
{
	const char *msg = build_error("[agent]\nlog_level = loud\n");
	assert_contains(msg, "agent.ini:2");
	assert_contains(msg, "'log_level'");
}
END_TEST

START_TEST(syntax_error_names_line)
{
	const char *msg = build_error("[agent]\nnode = a\nthis line has no equals sign\n");
	assert_contains(msg, "agent.ini:3");
}
END_TEST

START_TEST(section_twice)
{
	const char *msg = build_error("[plugin.cpu]\n[agent]\n[plugin.cpu]\n");
	assert_contains(msg, "agent.ini:3");
	assert_contains(msg, "[plugin.cpu] appears twice (first on line 1)");
}
END_TEST

START_TEST(key_twice)
{
	const char *msg = build_error("[agent]\nnode = a\nnode = b\n");
	assert_contains(msg, "agent.ini:3");
	assert_contains(msg, "'node' is set twice");
}
END_TEST

START_TEST(key_before_section)
{
	const char *msg = build_error("node = a\n[agent]\n");
	assert_contains(msg, "agent.ini:1");
	assert_contains(msg, "'node'");
}
END_TEST

START_TEST(line_too_long)
{
	char text[600];
	snprintf(text, sizeof(text), "[agent]\nnode = %0400d\n", 1);
	const char *msg = build_error(text);
	assert_contains(msg, "agent.ini:2");
	assert_contains(msg, "too long");
}
END_TEST

START_TEST(missing_file)
{
	cobs_error err;
	ck_assert_ptr_null(cobs_config_load("/nonexistent/agent.ini", &err));
	assert_contains(err.msg, "/nonexistent/agent.ini");
}
END_TEST

START_TEST(plugin_key_error_names_line_and_key)
{
	char text[512];
	snprintf(text, sizeof(text), "[agent]\nplugin_dir = %s\n[plugin.good]\nvalue = 5000\n",
	         COBS_TESTPLUG_DIR);
	const char *msg = build_error(text);
	assert_contains(msg, "agent.ini:4");
	assert_contains(msg, "'value'");
}
END_TEST

START_TEST(unknown_plugin_key)
{
	char text[512];
	snprintf(text, sizeof(text),
	         "[agent]\nplugin_dir = %s\n[plugin.good]\nvalue = 5\nvalu = 6\n",
	         COBS_TESTPLUG_DIR);
	const char *msg = build_error(text);
	assert_contains(msg, "agent.ini:5");
	assert_contains(msg, "unknown key 'valu'");
}
END_TEST

START_TEST(bad_plugin_interval)
{
	char text[512];
	snprintf(text, sizeof(text), "[agent]\nplugin_dir = %s\n[plugin.good]\ninterval = 10ms\n",
	         COBS_TESTPLUG_DIR);
	const char *msg = build_error(text);
	assert_contains(msg, "agent.ini:4");
	assert_contains(msg, "'interval'");
}
END_TEST

START_TEST(environment_overrides_file)
{
	cobs_error err;
	setenv("COBS_AGENT_INTERVAL", "250ms", 1);
	setenv("COBS_PLUGIN_GOOD_VALUE", "42", 1);
	char text[512];
	snprintf(text, sizeof(text), "[agent]\nplugin_dir = %s\ninterval = 9s\n[plugin.good]\n",
	         COBS_TESTPLUG_DIR);
	cobs_config *c = cobs_config_load(write_ini(text), &err);
	ck_assert_ptr_nonnull(c);
	cobs_agent *a = cobs_agent_build(c, NULL, NULL, &err);
	ck_assert_msg(a, "%s", err.msg);
	ck_assert_uint_eq(a->settings.interval_ms, 250);
	ck_assert_int_eq(cobs_agent_collect_once(a) > 0, 1);
	double v;
	ck_assert_int_eq(sample_value(a->collectors[0].batch, "test_config_value", &v, NULL), 1);
	ck_assert_double_eq(v, 42);
	cobs_agent_free(a);

	/* A bad value from the environment names the variable. */
	setenv("COBS_AGENT_INTERVAL", "never", 1);
	const char *msg = build_error(text);
	assert_contains(msg, "environment COBS_AGENT_INTERVAL");
	unsetenv("COBS_AGENT_INTERVAL");
	unsetenv("COBS_PLUGIN_GOOD_VALUE");
}
END_TEST

START_TEST(node_name_defaults)
{
	cobs_agent_settings st;
	cobs_error err;
	cobs_config *c = cobs_config_new();
	setenv("NODE_NAME", "k8s-worker-3", 1);
	ck_assert_int_eq(cobs_settings_load(&st, c, &err), 0);
	ck_assert_str_eq(st.node, "k8s-worker-3");
	ck_assert_uint_eq(st.interval_ms, 5000);
	ck_assert_str_eq(st.proc_root, "/proc");
	ck_assert_uint_eq(st.batch_samples, 8192);
	unsetenv("NODE_NAME");
	ck_assert_int_eq(cobs_settings_load(&st, c, &err), 0);
	ck_assert_str_ne(st.node, "");
	ck_assert_str_ne(st.node, "k8s-worker-3");
	cobs_config_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, keys_remember_their_line);
	tcase_add_test(tc, bad_value_names_file_line_and_key);
	tcase_add_test(tc, unknown_agent_key);
	tcase_add_test(tc, unknown_section);
	tcase_add_test(tc, bad_log_level);
	tcase_add_test(tc, syntax_error_names_line);
	tcase_add_test(tc, section_twice);
	tcase_add_test(tc, key_twice);
	tcase_add_test(tc, key_before_section);
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, plugin_key_error_names_line_and_key);
	tcase_add_test(tc, unknown_plugin_key);
	tcase_add_test(tc, bad_plugin_interval);
	tcase_add_test(tc, environment_overrides_file);
	tcase_add_test(tc, node_name_defaults);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
