/*
 * The batch formats: exact Prometheus, JSON and text output for hand-built
 * batches, including hostile strings (quotes, backslashes, newlines, markup,
 * bytes that are not UTF-8), every kind of value, promtool's verdict when
 * promtool is installed, and the same bytes rendered a piece at a time.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <cobs/format.h>
#include <cobs/metric.h>

#include "harness.h"

static cobs_batch *new_batch(void)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->node = "node-1";
	b->source = "test";
	b->timestamp_ms = 1700000000123;
	return b;
}

static char *render(const cobs_batch *b, cobs_format fmt)
{
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_format_batch(b, fmt, &out), 0);
	ck_assert_ptr_nonnull(out.data);
	ck_assert_uint_eq(strlen(out.data), out.len);
	return out.data; /* the caller frees */
}

/* The Prometheus spelling of one gauge value. */
static void check_value(double v, const char *want)
{
	cobs_batch *b = new_batch();
	cobs_family *f = cobs_batch_family(b, "v", "", "", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add0(b, f, v), 0);
	char *got = render(b, COBS_FORMAT_PROMETHEUS);
	char line[128];
	snprintf(line, sizeof(line), "# TYPE v gauge\nv %s\n", want);
	ck_assert_str_eq(got, line);
	free(got);
	cobs_batch_free(b);
}

/* A batch of every shape, with hostile strings; valid UTF-8 only, so JSON can
 * give back exactly what went in. */
static cobs_batch *hostile_batch(void)
{
	cobs_batch *b = new_batch();
	cobs_family *c = cobs_batch_family(b, "cobs_test_events_total",
	                                   "Events seen.\nSecond line with a back\\slash.", "",
	                                   COBS_COUNTER);
	cobs_family *g = cobs_batch_family(b, "cobs_test_temperature_celsius",
	                                   "Temperature \"now\".", "celsius", COBS_GAUGE);
	cobs_family *i =
	        cobs_batch_family(b, "cobs_test_build_info", "Build facts.", "", COBS_INFO);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(i);
	ck_assert_int_eq(cobs_family_add2(b, c, 42, "comm", "say \"hi\"", "path", "C:\\dir\\"), 0);
	ck_assert_int_eq(cobs_family_add1(b, c, 7, "comm", "line1\nline2"), 0);
	ck_assert_int_eq(cobs_family_add1(b, c, 0.5, "comm", "<script>alert(1)</script>"), 0);
	ck_assert_int_eq(cobs_family_add1(b, c, 1, "comm", "caf\xc3\xa9 \xe2\x9c\x93"), 0);
	ck_assert_int_eq(cobs_family_add1(b, g, NAN, "sensor", "a"), 0);
	ck_assert_int_eq(cobs_family_add1(b, g, INFINITY, "sensor", "b"), 0);
	ck_assert_int_eq(cobs_family_add1(b, g, -INFINITY, "sensor", "c"), 0);
	ck_assert_int_eq(cobs_family_add1(b, g, -273.15, "sensor", ""), 0);
	ck_assert_int_eq(cobs_family_add0(b, g, 1e300), 0);
	ck_assert_int_eq(cobs_family_add2(b, i, 1, "version", "0.1.0", "commit", "abc"), 0);
	return b;
}

START_TEST(prometheus_escapes_and_types)
{
	cobs_batch *b = hostile_batch();
	/* an empty family: nothing of it is written */
	ck_assert_ptr_nonnull(cobs_batch_family(b, "cobs_test_empty", "None.", "", COBS_GAUGE));
	char *got = render(b, COBS_FORMAT_PROMETHEUS);
	ck_assert_str_eq(
	        got,
	        "# HELP cobs_test_events_total Events seen.\\nSecond line with a back\\\\slash.\n"
	        "# TYPE cobs_test_events_total counter\n"
	        "cobs_test_events_total{comm=\"say \\\"hi\\\"\",path=\"C:\\\\dir\\\\\"} 42\n"
	        "cobs_test_events_total{comm=\"line1\\nline2\"} 7\n"
	        "cobs_test_events_total{comm=\"<script>alert(1)</script>\"} 0.5\n"
	        "cobs_test_events_total{comm=\"caf\xc3\xa9 \xe2\x9c\x93\"} 1\n"
	        "# HELP cobs_test_temperature_celsius Temperature \"now\".\n"
	        "# TYPE cobs_test_temperature_celsius gauge\n"
	        "cobs_test_temperature_celsius{sensor=\"a\"} NaN\n"
	        "cobs_test_temperature_celsius{sensor=\"b\"} +Inf\n"
	        "cobs_test_temperature_celsius{sensor=\"c\"} -Inf\n"
	        "cobs_test_temperature_celsius{sensor=\"\"} -273.15\n"
	        "cobs_test_temperature_celsius 1e+300\n"
	        "# HELP cobs_test_build_info Build facts.\n"
	        "# TYPE cobs_test_build_info gauge\n"
	        "cobs_test_build_info{version=\"0.1.0\",commit=\"abc\"} 1\n");
	free(got);
	cobs_batch_free(b);
}
END_TEST

START_TEST(prometheus_info_is_gauge_with_value_one)
{
	cobs_batch *b = new_batch();
	cobs_family *i = cobs_batch_family(b, "x_info", "", "", COBS_INFO);
	ck_assert_int_eq(cobs_family_add1(b, i, 5, "k", "v"), 0); /* whatever was stored */
	char *got = render(b, COBS_FORMAT_PROMETHEUS);
	ck_assert_str_eq(got, "# TYPE x_info gauge\nx_info{k=\"v\"} 1\n");
	free(got);
	cobs_batch_free(b);
}
END_TEST

START_TEST(prometheus_values_are_exact)
{
	check_value(0, "0");
	check_value(-0.0, "0");
	check_value(42, "42");
	check_value(-5, "-5");
	check_value(9007199254740992.0, "9007199254740992"); /* 2^53: still an integer */
	check_value(9007199254740994.0, "9007199254740994"); /* beyond: 16 digits suffice */
	check_value(18446744073709551616.0, "1.8446744073709552e+19"); /* 2^64: 17 digits */
	check_value(0.1, "0.1");
	check_value(1.0 / 3.0, "0.3333333333333333");
	check_value(0.1 + 0.2, "0.30000000000000004"); /* needs all 17 */
	check_value(123456.789, "123456.789");
	check_value(1e-300, "1e-300");
	check_value(5e-324, "4.94065645841247e-324"); /* smallest subnormal: 15 digits read back */
	check_value(NAN, "NaN");
	check_value(INFINITY, "+Inf");
	check_value(-INFINITY, "-Inf");
	/* and every one of these reads back to the same double */
	const double vals[] = {0.1,
	                       1.0 / 3.0,
	                       2.0 / 3.0,
	                       0.1 + 0.2,
	                       1e-300,
	                       1.7976931348623157e308,
	                       123.456,
	                       5e-324,
	                       9007199254740993.0,
	                       3.141592653589793};
	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		cobs_batch *b = new_batch();
		cobs_family_add0(b, cobs_batch_family(b, "v", "", "", COBS_GAUGE), vals[k]);
		char *got = render(b, COBS_FORMAT_PROMETHEUS);
		const char *sp = strrchr(got, ' ');
		ck_assert_ptr_nonnull(sp);
		ck_assert_double_eq(strtod(sp + 1, NULL), vals[k]);
		free(got);
		cobs_batch_free(b);
	}
}
END_TEST

START_TEST(prometheus_repairs_names_and_utf8)
{
	cobs_batch *b = new_batch();
	cobs_family *f = cobs_batch_family(b, "9bad-name.x", "caf\xe9 \xff", "", COBS_GAUGE);
	/* \xff alone, an overlong '/', a UTF-16 surrogate, a truncated sequence */
	const char *vals[] = {"a\xff"
	                      "b",
	                      "\xc0\xaf", "\xed\xa0\x80", "x\xe2\x9c"};
	for (int k = 0; k < 4; k++) {
		char v[8];
		snprintf(v, sizeof(v), "%d", k);
		cobs_label l[2] = {{"1st-label", v}, {"v", vals[k]}};
		ck_assert_int_eq(cobs_family_add(b, f, k, l, 2), 0);
	}
	char *got = render(b, COBS_FORMAT_PROMETHEUS);
	ck_assert_str_eq(
	        got, "# HELP _9bad_name_x caf\xef\xbf\xbd \xef\xbf\xbd\n"
	             "# TYPE _9bad_name_x gauge\n"
	             "_9bad_name_x{_1st_label=\"0\",v=\"a\xef\xbf\xbd"
	             "b\"} 0\n"
	             "_9bad_name_x{_1st_label=\"1\",v=\"\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"
	             "_9bad_name_x{_1st_label=\"2\",v=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 2\n"
	             "_9bad_name_x{_1st_label=\"3\",v=\"x\xef\xbf\xbd\xef\xbf\xbd\"} 3\n");
	free(got);
	cobs_batch_free(b);
}
END_TEST

/* promtool's path, or NULL when it is not installed. */
static const char *find_promtool(void)
{
	static char buf[4096];
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/promtool", (int)n, path);
		if (n && access(buf, X_OK) == 0)
			return buf;
		path += n + (path[n] == ':');
	}
	return NULL;
}

START_TEST(promtool_accepts_our_output)
{
	const char *promtool = find_promtool();
	if (!promtool) {
		fprintf(stderr, "promtool not found on PATH: skipped\n");
		return;
	}
	cobs_batch *b = hostile_batch();
	/* and labels that are not UTF-8, which promtool would refuse unrepaired */
	cobs_family *f = cobs_batch_family(b, "cobs_test_bytes", "Odd bytes.", "bytes", COBS_GAUGE);
	cobs_family_add2(b, f, 1, "comm", "\xff\xfe\x80", "cgroup", "/kube\xc0pods/\x1b[31m");
	ck_assert_ptr_nonnull(cobs_batch_family(b, "cobs_test_empty", "None.", "", COBS_GAUGE));
	char *text = render(b, COBS_FORMAT_PROMETHEUS);
	char file[256];
	snprintf(file, sizeof(file), "%s/metrics.prom", temp_dir());
	FILE *fp = fopen(file, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' 1>&2", promtool, file);
	int st = system(cmd);
	ck_assert_int_eq(WIFEXITED(st), 1);
	ck_assert_int_eq(WEXITSTATUS(st), 0); /* 1: parse error, 3: lint complaints */
	unlink(file);
	free(text);
	cobs_batch_free(b);
}
END_TEST

START_TEST(json_exact_shape)
{
	cobs_batch *b = new_batch();
	cobs_family *c = cobs_batch_family(b, "x_total", "Xs.", "", COBS_COUNTER);
	cobs_family *g = cobs_batch_family(b, "y_bytes", "Ys.", "bytes", COBS_GAUGE);
	cobs_family *i = cobs_batch_family(b, "z_info", "Zs.", "", COBS_INFO);
	cobs_batch_family(b, "empty", "", "", COBS_GAUGE);
	cobs_family_add2(b, c, 5, "cpu", "0", "mode", "idle");
	cobs_family_add0(b, g, 0.91);      /* 15 digits are enough: no ...00000003 tail */
	cobs_family_add0(b, g, 0.1 + 0.2); /* needs all 17 */
	cobs_family_add0(b, g, NAN);
	cobs_family_add0(b, g, -INFINITY);
	cobs_family_add1(b, i, 1, "k", "v");
	char *got = render(b, COBS_FORMAT_JSON);
	ck_assert_str_eq(
	        got, "{\"node\":\"node-1\",\"source\":\"test\",\"timestamp_ms\":1700000000123,"
	             "\"families\":["
	             "{\"name\":\"x_total\",\"help\":\"Xs.\",\"unit\":\"\",\"type\":\"counter\","
	             "\"samples\":[{\"labels\":{\"cpu\":\"0\",\"mode\":\"idle\"},\"value\":5}]},"
	             "{\"name\":\"y_bytes\",\"help\":\"Ys.\",\"unit\":\"bytes\",\"type\":\"gauge\","
	             "\"samples\":[{\"labels\":{},\"value\":0.91},"
	             "{\"labels\":{},\"value\":0.30000000000000004},{\"labels\":{},\"value\":null},"
	             "{\"labels\":{},\"value\":null}]},"
	             "{\"name\":\"z_info\",\"help\":\"Zs.\",\"unit\":\"\",\"type\":\"info\","
	             "\"samples\":[{\"labels\":{\"k\":\"v\"},\"value\":1}]},"
	             "{\"name\":\"empty\",\"help\":\"\",\"unit\":\"\",\"type\":\"gauge\","
	             "\"samples\":[]}]}\n");
	free(got);
	cobs_batch_free(b);
}
END_TEST

static const char *type_str(cobs_metric_type t)
{
	return t == COBS_COUNTER ? "counter" : t == COBS_INFO ? "info" : "gauge";
}

/* Walks the parsed JSON and the batch side by side: all equal. */
static void check_json_equals(const json_t *root, const cobs_batch *b)
{
	ck_assert_str_eq(json_string_value(json_object_get(root, "node")), b->node);
	ck_assert_str_eq(json_string_value(json_object_get(root, "source")), b->source);
	ck_assert_int_eq(json_integer_value(json_object_get(root, "timestamp_ms")),
	                 b->timestamp_ms);
	ck_assert_int_eq(json_is_true(json_object_get(root, "more")), b->more);
	const json_t *fams = json_object_get(root, "families");
	ck_assert_uint_eq(json_array_size(fams), b->nfamilies);
	for (size_t i = 0; i < b->nfamilies; i++) {
		const cobs_family *f = b->families[i];
		const json_t *jf = json_array_get(fams, i);
		ck_assert_str_eq(json_string_value(json_object_get(jf, "name")), f->name);
		ck_assert_str_eq(json_string_value(json_object_get(jf, "help")), f->help);
		ck_assert_str_eq(json_string_value(json_object_get(jf, "unit")), f->unit);
		ck_assert_str_eq(json_string_value(json_object_get(jf, "type")), type_str(f->type));
		const json_t *samples = json_object_get(jf, "samples");
		ck_assert_uint_eq(json_array_size(samples), f->nsamples);
		for (size_t j = 0; j < f->nsamples; j++) {
			const cobs_sample *s = &f->samples[j];
			const json_t *js = json_array_get(samples, j);
			const json_t *labels = json_object_get(js, "labels");
			ck_assert_uint_eq(json_object_size(labels), s->nlabels);
			for (size_t k = 0; k < s->nlabels; k++)
				ck_assert_str_eq(json_string_value(json_object_get(
				                         labels, s->labels[k].name)),
				                 s->labels[k].value);
			const json_t *v = json_object_get(js, "value");
			if (isfinite(s->value)) {
				ck_assert(json_is_number(v));
				ck_assert(json_number_value(v) == s->value); /* exact */
			} else {
				ck_assert(json_is_null(v));
			}
		}
	}
}

START_TEST(json_parses_back_equal)
{
	cobs_batch *b = hostile_batch();
	cobs_family *f = cobs_batch_family(b, "cobs_test_values", "", "", COBS_GAUGE);
	const double vals[] = {0.1,
	                       1.0 / 3.0,
	                       0.1 + 0.2,
	                       -1e-300,
	                       1.7976931348623157e308,
	                       9007199254740992.0,
	                       9007199254740994.0,
	                       -42,
	                       5e-324};
	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++)
		ck_assert_int_eq(cobs_family_add0(b, f, vals[k]), 0);
	char *got = render(b, COBS_FORMAT_JSON);
	/* one line per batch */
	ck_assert_ptr_eq(strchr(got, '\n'), got + strlen(got) - 1);
	json_error_t jerr;
	json_t *root = json_loads(got, 0, &jerr);
	ck_assert_msg(root != NULL, "JSON does not parse: %s", jerr.text);
	check_json_equals(root, b);
	json_decref(root);
	free(got);
	cobs_batch_free(b);
}
END_TEST

START_TEST(json_repairs_invalid_utf8)
{
	cobs_batch *b = new_batch();
	b->node = "node\xff";
	cobs_family *f = cobs_batch_family(b, "x", "h\xc0\xaf", "", COBS_GAUGE);
	cobs_family_add1(b, f, 1, "la\xfe", "v\xed\xa0\x80z");
	char *got = render(b, COBS_FORMAT_JSON);
	json_error_t jerr;
	json_t *root = json_loads(got, 0, &jerr);
	ck_assert_msg(root != NULL, "JSON does not parse: %s", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(root, "node")), "node\xef\xbf\xbd");
	json_t *fam = json_array_get(json_object_get(root, "families"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(fam, "help")),
	                 "h\xef\xbf\xbd\xef\xbf\xbd");
	json_t *labels =
	        json_object_get(json_array_get(json_object_get(fam, "samples"), 0), "labels");
	ck_assert_str_eq(json_string_value(json_object_get(labels, "la\xef\xbf\xbd")),
	                 "v\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	json_decref(root);
	free(got);
	cobs_batch_free(b);
}
END_TEST

START_TEST(text_table)
{
	cobs_batch *b = new_batch();
	cobs_family *c =
	        cobs_batch_family(b, "node_cpu_seconds_total", "", "seconds", COBS_COUNTER);
	cobs_family *m =
	        cobs_batch_family(b, "node_memory_MemTotal_bytes", "", "bytes", COBS_GAUGE);
	cobs_family *p = cobs_batch_family(b, "node_cpu_usage_percent", "", "percent", COBS_GAUGE);
	cobs_family *h = cobs_batch_family(b, "process_info", "", "", COBS_INFO);
	cobs_family_add2(b, c, 12345.5, "cpu", "0", "mode", "idle");
	cobs_family_add2(b, c, 0.25, "cpu", "0", "mode", "irq");
	cobs_family_add0(b, m, 8242479104.0);
	cobs_family_add0(b, p, 12.345);
	cobs_family_add0(b, p, NAN);
	cobs_family_add1(b, h, 1, "comm", "evil\x1b[2J\"\n\xc2\x9b\xff");
	char *got = render(b, COBS_FORMAT_TEXT);
	ck_assert_str_eq(
	        got,
	        "=== node node-1 | source test | 2023-11-14T22:13:20.123Z | 6 samples\n"
	        "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}         12345.5  3h25m46s\n"
	        "node_cpu_seconds_total{cpu=\"0\",mode=\"irq\"}             0.25  250ms\n"
	        "node_memory_MemTotal_bytes                       8242479104  7.7 GiB\n"
	        "node_cpu_usage_percent                               12.345  12.3%\n"
	        "node_cpu_usage_percent                                  NaN\n"
	        "process_info{comm=\"evil\\x1b[2J\\\"\\n\\u009b\xef\xbf\xbd\"}               1\n");
	free(got);
	cobs_batch_free(b);
}
END_TEST

START_TEST(appends_and_leaves_out_alone_on_error)
{
	cobs_batch *b = new_batch();
	cobs_family_add0(b, cobs_batch_family(b, "g", "", "", COBS_GAUGE), 1);
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_buf_printf(&out, "%s", "before\n"), 0);
	ck_assert_int_eq(cobs_format_batch(b, COBS_FORMAT_PROMETHEUS, &out), 0);
	ck_assert_str_eq(out.data, "before\n# TYPE g gauge\ng 1\n");
	size_t len = out.len;
	ck_assert_int_eq(cobs_format_batch(b, (cobs_format)42, &out), -1);
	ck_assert_uint_eq(out.len, len);
	ck_assert_str_eq(out.data, "before\n# TYPE g gauge\ng 1\n");
	/* printf output longer than any internal scratch space */
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cobs_buf_clear(&out);
	ck_assert_int_eq(cobs_buf_printf(&out, "<%s>", big), 0);
	ck_assert_uint_eq(out.len, sizeof(big) + 1);
	ck_assert_int_eq(out.data[0], '<');
	ck_assert_int_eq(out.data[out.len - 1], '>');
	ck_assert_int_eq(cobs_buf_append(&out, NULL, 0), 0);
	cobs_buf_free(&out);
	ck_assert_int_eq(cobs_format_parse("text"), COBS_FORMAT_TEXT);
	ck_assert_int_eq(cobs_format_parse("json"), COBS_FORMAT_JSON);
	ck_assert_int_eq(cobs_format_parse("prometheus"), COBS_FORMAT_PROMETHEUS);
	ck_assert_int_eq(cobs_format_parse("xml"), -1);
	cobs_batch_free(b);
}
END_TEST

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(large_batch_all_formats)
{
	/* 10k samples, the size a busy node produces: every format copes. */
	cobs_batch *b = new_batch();
	cobs_family *f =
	        cobs_batch_family(b, "process_cpu_seconds_total", "CPU.", "seconds", COBS_COUNTER);
	char pid[16], comm[32];
	for (int k = 0; k < 10000; k++) {
		snprintf(pid, sizeof(pid), "%d", k + 1);
		snprintf(comm, sizeof(comm), "worker-%d", k % 97);
		ck_assert_int_eq(cobs_family_add2(b, f, k * 0.01, "pid", pid, "comm", comm), 0);
	}
	b->more = true; /* a part of a larger collection */
	char *prom = render(b, COBS_FORMAT_PROMETHEUS);
	ck_assert_uint_eq(count_lines(prom), 10002);
	char *text = render(b, COBS_FORMAT_TEXT);
	ck_assert_uint_eq(count_lines(text), 10001);
	char *json = render(b, COBS_FORMAT_JSON);
	ck_assert_uint_eq(count_lines(json), 1);
	json_t *root = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(root);
	check_json_equals(root, b);
	json_decref(root);
	free(prom);
	free(text);
	free(json);
	cobs_batch_free(b);
}
END_TEST

/* A batch with an empty family between two full ones, and hostile strings. */
static cobs_batch *streaming_batch(void)
{
	cobs_batch *b = hostile_batch();
	ck_assert_ptr_nonnull(cobs_batch_family(b, "cobs_test_empty", "Nothing.", "", COBS_GAUGE));
	cobs_family *f =
	        cobs_batch_family(b, "process_cpu_seconds_total", "CPU.", "seconds", COBS_COUNTER);
	char pid[16];
	for (int k = 0; k < 500; k++) {
		snprintf(pid, sizeof(pid), "%d", k + 1);
		ck_assert_int_eq(cobs_family_add2(b, f, k * 0.25, "pid", pid, "bad", "\xff\xfe"),
		                 0);
	}
	return b;
}

/* The batch in pieces of at least min bytes, each piece checked; the pieces joined. */
static char *render_pieces(const cobs_batch *b, cobs_format fmt, size_t min, size_t *npieces)
{
	cobs_format_iter it;
	ck_assert_int_eq(cobs_format_begin(&it, b, fmt), 0);
	cobs_buf all = {0}, piece = {0};
	size_t biggest = 0;
	int more;
	*npieces = 0;
	do {
		cobs_buf_clear(&piece);
		more = cobs_format_next(&it, &piece, min);
		ck_assert_int_ge(more, 0);
		if (more)
			ck_assert_uint_ge(piece.len, min); /* short only at the end */
		if (piece.len > biggest)
			biggest = piece.len;
		ck_assert_int_eq(cobs_buf_append(&all, piece.data, piece.len), 0);
		(*npieces)++;
	} while (more);
	/* Bounded: a piece passes min by less than one unit (a sample's line). */
	if (min < SIZE_MAX)
		ck_assert_uint_lt(biggest, min + 1024);
	/* Asked again after the end, it stays ended and appends nothing. */
	cobs_buf_clear(&piece);
	ck_assert_int_eq(cobs_format_next(&it, &piece, min), 0);
	ck_assert_uint_eq(piece.len, 0);
	cobs_buf_free(&piece);
	return all.data;
}

START_TEST(pieces_join_to_the_whole_batch)
{
	cobs_batch *b = streaming_batch();
	const cobs_format fmts[] = {COBS_FORMAT_PROMETHEUS, COBS_FORMAT_JSON, COBS_FORMAT_TEXT};
	const size_t mins[] = {1, 100, 4096, SIZE_MAX};
	for (size_t i = 0; i < 3; i++) {
		char *whole = render(b, fmts[i]);
		for (size_t j = 0; j < 4; j++) {
			size_t n;
			char *joined = render_pieces(b, fmts[i], mins[j], &n);
			ck_assert_str_eq(joined, whole);
			if (mins[j] == 1) /* one unit per piece: many pieces */
				ck_assert_uint_gt(n, 500);
			if (mins[j] == SIZE_MAX)
				ck_assert_uint_eq(n, 1);
			free(joined);
		}
		free(whole);
	}
	cobs_batch_free(b);
}
END_TEST

START_TEST(pieces_of_an_empty_batch)
{
	cobs_batch *b = new_batch();
	const cobs_format fmts[] = {COBS_FORMAT_PROMETHEUS, COBS_FORMAT_JSON, COBS_FORMAT_TEXT};
	for (size_t i = 0; i < 3; i++) {
		cobs_buf whole = {0};
		ck_assert_int_eq(cobs_format_batch(b, fmts[i], &whole), 0);
		size_t n;
		char *joined = render_pieces(b, fmts[i], 1, &n);
		/* Prometheus has nothing to say about no families; JSON and text still have a line.
		 */
		ck_assert_str_eq(joined ? joined : "", whole.data ? whole.data : "");
		if (fmts[i] == COBS_FORMAT_PROMETHEUS)
			ck_assert_uint_eq(whole.len, 0);
		else
			ck_assert_uint_gt(whole.len, 0);
		free(joined);
		cobs_buf_free(&whole);
	}
	cobs_format_iter it;
	ck_assert_int_eq(cobs_format_begin(&it, b, (cobs_format)42), -1);
	cobs_batch_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("prometheus");
	tcase_add_test(tc, prometheus_escapes_and_types);
	tcase_add_test(tc, prometheus_info_is_gauge_with_value_one);
	tcase_add_test(tc, prometheus_values_are_exact);
	tcase_add_test(tc, prometheus_repairs_names_and_utf8);
	tcase_add_test(tc, promtool_accepts_our_output);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_test(tc, json_exact_shape);
	tcase_add_test(tc, json_parses_back_equal);
	tcase_add_test(tc, json_repairs_invalid_utf8);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_test(tc, text_table);
	suite_add_tcase(s, tc);
	tc = tcase_create("buffer");
	tcase_add_test(tc, appends_and_leaves_out_alone_on_error);
	tcase_add_test(tc, large_batch_all_formats);
	suite_add_tcase(s, tc);
	tc = tcase_create("pieces");
	tcase_add_test(tc, pieces_join_to_the_whole_batch);
	tcase_add_test(tc, pieces_of_an_empty_batch);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
