/* The loader: every way a plugin is refused, with its name and the reason. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "harness.h"

static void assert_contains(const char *haystack, const char *needle)
{
	ck_assert_msg(strstr(haystack, needle), "'%s' not in '%s'", needle, haystack);
}

/* Opens test plugin `file` as a collector; returns the error ("" when it opened). */
static const char *open_error(const char *file, cobs_plugin_kind kind)
{
	static cobs_error err;
	cobs_loaded p;
	memset(&err, 0, sizeof(err));
	int rc = cobs_plugin_open(&p, COBS_TESTPLUG_DIR, "probe", file, kind, &err);
	if (rc == 0)
		cobs_plugin_close(&p);
	return rc == 0 ? "" : err.msg;
}

START_TEST(good_plugin_opens)
{
	ck_assert_str_eq(open_error("good", COBS_PLUGIN_COLLECTOR), "");
}
END_TEST

START_TEST(wrong_abi)
{
	const char *msg = open_error("bad_abi", COBS_PLUGIN_COLLECTOR);
	assert_contains(msg, "plugin 'probe'");
	assert_contains(msg, "ABI 999");
}
END_TEST

START_TEST(missing_symbol)
{
	assert_contains(open_error("no_symbol", COBS_PLUGIN_COLLECTOR), "no 'cobs_plugin' symbol");
}
END_TEST

START_TEST(missing_file)
{
	const char *msg = open_error("does_not_exist", COBS_PLUGIN_COLLECTOR);
	assert_contains(msg, "does_not_exist.so");
	assert_contains(msg, "No such file");
}
END_TEST

START_TEST(wrong_kind)
{
	assert_contains(open_error("sink", COBS_PLUGIN_COLLECTOR),
	                "is a sink, expected a collector");
	assert_contains(open_error("good", COBS_PLUGIN_SINK), "is a collector, expected a sink");
}
END_TEST

START_TEST(not_a_shared_object)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/garbage.so", temp_dir());
	FILE *f = fopen(path, "w");
	fputs("not an ELF file\n", f);
	fclose(f);
	assert_contains(open_error(path, COBS_PLUGIN_COLLECTOR), "cannot load");
}
END_TEST

START_TEST(failing_init_reports_reason)
{
	cobs_loaded p;
	cobs_error err = {{0}};
	ck_assert_int_eq(cobs_plugin_open(&p, COBS_TESTPLUG_DIR, "fi", "fail_init",
	                                  COBS_PLUGIN_COLLECTOR, &err),
	                 0);
	cobs_config *c = cobs_config_new();
	cobs_plugin_env env = {.config = cobs_config_add_section(c, "plugin.fi", NULL, 0)};
	ck_assert_int_eq(cobs_plugin_init(&p, &env, &err), -1);
	assert_contains(err.msg, "plugin 'fi': init failed: the test asked me to fail");
	cobs_plugin_close(&p);
	cobs_config_free(c);
}
END_TEST

/* An agent whose config names good and bad plugins keeps the good ones. */
START_TEST(agent_goes_on_without_refused_plugins)
{
	char text[1024];
	snprintf(text, sizeof(text),
	         "[agent]\nplugin_dir = %s\n"
	         "[plugin.good]\n[plugin.bad_abi]\n[plugin.no_symbol]\n[plugin.fail_init]\n"
	         "[plugin.missing]\n[plugin.second]\nfile = good\nvalue = 9\n"
	         "[sink.sink]\n",
	         COBS_TESTPLUG_DIR);
	char path[4200];
	snprintf(path, sizeof(path), "%s/agent.ini", temp_dir());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	cobs_error err;
	cobs_agent *a = cobs_agent_build(cobs_config_load(path, &err), NULL, NULL, &err);
	ck_assert_msg(a, "%s", err.msg);
	ck_assert_uint_eq(a->ncollectors, 2);
	ck_assert_uint_eq(a->load_errors, 4);
	ck_assert_uint_eq(a->nsinks, 1);
	ck_assert_int_eq(cobs_agent_collect_once(a), 4);
	/* Two instances of one .so keep separate state and config. */
	double v;
	ck_assert_int_eq(sample_value(a->collectors[0].batch, "test_config_value", &v, NULL), 1);
	ck_assert_double_eq(v, 7);
	ck_assert_int_eq(sample_value(a->collectors[1].batch, "test_config_value", &v, NULL), 1);
	ck_assert_double_eq(v, 9);
	ck_assert_uint_eq(a->sinks[0].writes, 1);
	cobs_agent_free(a);
}
END_TEST

START_TEST(plugin_dir_missing)
{
	cobs_config *c = cobs_config_new();
	cobs_section *s = cobs_config_add_section(c, "agent", NULL, 0);
	cobs_error err;
	cobs_section_set(s, "plugin_dir", "/nonexistent/plugins", "t.ini", 1, &err);
	cobs_config_add_section(c, "plugin.cpu", NULL, 0);
	cobs_agent *a = cobs_agent_build(c, NULL, NULL, &err);
	ck_assert_ptr_null(a);
	assert_contains(err.msg, "no collector plugin could be loaded");
	assert_contains(err.msg, "/nonexistent/plugins");
}
END_TEST

START_TEST(disabled_plugin_is_not_loaded)
{
	cobs_config *c = cobs_config_new();
	cobs_error err;
	cobs_section_set(cobs_config_add_section(c, "agent", NULL, 0), "plugin_dir",
	                 COBS_TESTPLUG_DIR, "t.ini", 1, &err);
	cobs_config_add_section(c, "plugin.good", NULL, 0);
	cobs_section_set(cobs_config_add_section(c, "plugin.fail_init", NULL, 0), "enabled", "no",
	                 "t.ini", 3, &err);
	cobs_config_add_section(c, "sink.sink", NULL, 0);
	cobs_agent *a = cobs_agent_build(c, NULL, NULL, &err);
	ck_assert_msg(a, "%s", err.msg);
	ck_assert_uint_eq(a->ncollectors, 1);
	ck_assert_uint_eq(a->load_errors, 0);
	cobs_agent_free(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");
	tcase_add_test(tc, good_plugin_opens);
	tcase_add_test(tc, wrong_abi);
	tcase_add_test(tc, missing_symbol);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, wrong_kind);
	tcase_add_test(tc, not_a_shared_object);
	tcase_add_test(tc, failing_init_reports_reason);
	tcase_add_test(tc, agent_goes_on_without_refused_plugins);
	tcase_add_test(tc, plugin_dir_missing);
	tcase_add_test(tc, disabled_plugin_is_not_loaded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
