/*
 * The dashboard's template engine (server/tmpl.h): escaping that cannot be
 * turned off, sections over every JSON shape, partials, the number filters
 * on empty, ordinary and huge values, and parse errors naming file and line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tmpl.h"

#define NOW 1700000000000LL

static cobs_tmpl_set *set;
static cobs_buf out;

static void setup(void)
{
	set = cobs_tmpl_set_new();
	ck_assert_ptr_nonnull(set);
	memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
	cobs_tmpl_set_free(set);
	cobs_buf_free(&out);
}

static void add(const char *name, const char *src)
{
	cobs_error err = {{0}};
	ck_assert_msg(cobs_tmpl_add(set, name, "t.html", src, strlen(src), &err) == 0, "%s",
	              err.msg);
}

/* src rendered over the JSON text data. */
static const char *render(const char *src, const char *data)
{
	add("t", src);
	json_error_t je;
	json_t *d = json_loads(data, JSON_DECODE_ANY, &je);
	ck_assert_msg(d != NULL, "bad test JSON: %s", je.text);
	cobs_error err = {{0}};
	cobs_buf_clear(&out);
	ck_assert_msg(cobs_tmpl_render(set, "t", d, NOW, &out, &err) == 0, "%s", err.msg);
	json_decref(d);
	return out.data ? out.data : "";
}

static const char *parse_error(const char *src)
{
	static cobs_error err;
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(cobs_tmpl_add(set, "bad", "bad.html", src, strlen(src), &err), -1);
	return err.msg;
}

START_TEST(values_are_escaped_always)
{
	ck_assert_str_eq(render("<p>{{comm}}</p>", "{\"comm\": \"<img src=x onerror=alert(1)>\"}"),
	                 "<p>&lt;img src=x onerror=alert(1)&gt;</p>");
	ck_assert_str_eq(render("<a title=\"{{v}}\">", "{\"v\": \"a\\\"b' & c\"}"),
	                 "<a title=\"a&quot;b&#39; &amp; c\">");
	/* through filters and sections too */
	ck_assert_str_eq(render("{{#xs}}[{{.}}]{{/xs}}", "{\"xs\": [\"<b>\", \"&\"]}"),
	                 "[&lt;b&gt;][&amp;]");
	ck_assert_str_eq(render("{{n|url}}", "{\"n\": \"a/b c?&<\"}"), "a%2Fb%20c%3F%26%3C");
	/* and there is no way around it */
	ck_assert_ptr_nonnull(strstr(parse_error("{{{x}}}"), "no unescaped output"));
	ck_assert_ptr_nonnull(strstr(parse_error("a {{& x}}"), "no unescaped output"));
}
END_TEST

START_TEST(plain_values)
{
	ck_assert_str_eq(
	        render("{{s}}|{{i}}|{{r}}|{{t}}|{{f}}|{{z}}|{{missing}}|",
	               "{\"s\": \"x\", \"i\": -42, \"r\": 0.25, \"t\": true, \"f\": false, "
	               "\"z\": null}"),
	        "x|-42|0.25|true|false|||");
	ck_assert_str_eq(
	        render("{{big}} {{huge}}", "{\"big\": 9223372036854775807, \"huge\": 1e308}"),
	        "9223372036854775807 1e+308");
	ck_assert_str_eq(render("{{a.b.c}}/{{a.x.c}}", "{\"a\": {\"b\": {\"c\": 7}}}"), "7/");
	ck_assert_str_eq(render("{{xs.1}}{{#xs.0}}+{{/xs.0}}{{#e.0}}-{{/e.0}}{{xs.9}}",
	                        "{\"xs\": [\"a\", \"b\"], \"e\": []}"),
	                 "b+");
	ck_assert_str_eq(render("", "{}"), "");
	ck_assert_str_eq(render("no tags at all", "{}"), "no tags at all");
}
END_TEST

START_TEST(sections_over_every_shape)
{
	const char *data = "{\"xs\": [{\"n\": 1}, {\"n\": 2}], \"o\": {\"n\": 9}, \"n\": 0, "
	                   "\"e\": [], \"s\": \"\", \"t\": true, \"z\": null, \"name\": \"top\"}";
	ck_assert_str_eq(render("{{#xs}}{{n}}{{name}};{{/xs}}", data), "1top;2top;");
	ck_assert_str_eq(render("{{#o}}{{n}}{{/o}}", data), "9");
	ck_assert_str_eq(
	        render("{{#n}}A{{/n}}{{#e}}B{{/e}}{{#s}}C{{/s}}{{#z}}D{{/z}}{{#q}}E{{/q}}", data),
	        "");
	ck_assert_str_eq(
	        render("{{^n}}A{{/n}}{{^e}}B{{/e}}{{^s}}C{{/s}}{{^z}}D{{/z}}{{^q}}E{{/q}}", data),
	        "ABCDE");
	ck_assert_str_eq(render("{{#t}}yes{{/t}}{{^t}}no{{/t}}{{^xs}}none{{/xs}}", data), "yes");
	/* equality tests */
	ck_assert_str_eq(render("{{#s=up}}U{{/s=up}}{{^s=up}}-{{/s=up}}{{#n=0}}zero{{/n=0}}"
	                        "{{#q=x}}Q{{/q=x}}{{^q=x}}noq{{/q=x}}",
	                        "{\"s\": \"up\", \"n\": 0}"),
	                 "Uzeronoq");
	ck_assert_ptr_nonnull(strstr(parse_error("{{#=x}}{{/=x}}"), "needs a name"));
	/* an object's members */
	ck_assert_str_eq(render("{{#l.*}}{{key}}={{val}};{{/l.*}}{{^o.*}}none{{/o.*}}",
	                        "{\"l\": {\"app\": \"web\", \"<k>\": 1}, \"o\": {}}"),
	                 "app=web;&lt;k&gt;=1;none");
	ck_assert_str_eq(
	        render("{{#m.*}}{{key}}:{{val.x}}{{/m.*}}", "{\"m\": {\"a\": {\"x\": 2}}}"), "a:2");
	/* nested arrays, {{.}} of scalars */
	ck_assert_str_eq(render("{{#m}}({{#.}}{{.}}{{/.}}){{/m}}", "{\"m\": [[1, 2], [3]]}"),
	                 "(12)(3)");
}
END_TEST

START_TEST(partials_and_their_errors)
{
	add("row", "<li>{{name}}</li>");
	ck_assert_str_eq(render("<ul>{{#xs}}{{> row}}{{/xs}}</ul>",
	                        "{\"xs\": [{\"name\": \"a\"}, {\"name\": \"<b>\"}]}"),
	                 "<ul><li>a</li><li>&lt;b&gt;</li></ul>");
	cobs_error err = {{0}};
	add("loop", "x{{> loop}}");
	json_t *d = json_object();
	ck_assert_int_eq(cobs_tmpl_render(set, "loop", d, NOW, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "nested"));
	add("lost", "{{> nowhere}}");
	ck_assert_int_eq(cobs_tmpl_render(set, "lost", d, NOW, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no template nowhere"));
	ck_assert_int_eq(cobs_tmpl_render(set, "absent", d, NOW, &out, &err), -1);
	json_decref(d);
	ck_assert(cobs_tmpl_has(set, "row"));
	ck_assert(!cobs_tmpl_has(set, "absent"));
	/* adding a name again replaces it */
	add("row", "<p>{{name}}</p>");
	ck_assert_str_eq(render("{{#xs}}{{> row}}{{/xs}}", "{\"xs\": [{\"name\": \"a\"}]}"),
	                 "<p>a</p>");
}
END_TEST

START_TEST(number_filters)
{
	ck_assert_str_eq(render("{{a|bytes}} {{b|bytes}} {{c|bytes}} {{d|bytes}} {{e|bytes}}",
	                        "{\"a\": 0, \"b\": 512, \"c\": 1536, \"d\": 12897484, "
	                        "\"e\": 1073741824}"),
	                 "0 B 512 B 1.50 KiB 12.3 MiB 1.00 GiB");
	ck_assert_str_eq(render("{{a|bytes}}", "{\"a\": 1e30}"), "867361737988 EiB");
	ck_assert_str_eq(render("{{a|bps}} {{b|rate}} {{c|num}} {{d|num}}",
	                        "{\"a\": 2048, \"b\": 1200, \"c\": 950, \"d\": 3400000}"),
	                 "2.00 KiB/s 1.20 k/s 950 3.40 M");
	ck_assert_str_eq(render("{{a|pct}} {{b|pct}} {{c|fixed}}",
	                        "{\"a\": 12.345, \"b\": 250, \"c\": 0.4249}"),
	                 "12.3% 250.0% 0.42");
	ck_assert_str_eq(render("{{a|dur}} {{b|dur}} {{c|dur}} {{d|dur}} {{e|dur}}",
	                        "{\"a\": 45, \"b\": 200, \"c\": 18120, \"d\": 1047600, \"e\": -3}"),
	                 "45s 3m 20s 5h 2m 12d 3h 0s");
	ck_assert_str_eq(render("{{t|ago}}", "{\"t\": 1699999996000}"), "4s ago");
	/* not a number: a dash, never an error */
	ck_assert_str_eq(render("{{a|bytes}} {{b|pct}} {{c|dur}} {{missing|num}}",
	                        "{\"a\": null, \"b\": \"x\", \"c\": [1]}"),
	                 "- - - -");
	ck_assert_str_eq(render("{{n|url}}", "{\"n\": 42}"), "42");
}
END_TEST

START_TEST(huge_values)
{
	/* a megabyte of hostile text comes out whole and escaped */
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 2 ? '<' : 'a';
	big[n] = '\0';
	json_t *d = json_pack("{s:s}", "v", big);
	add("t", "[{{v}}]");
	cobs_error err = {{0}};
	ck_assert_int_eq(cobs_tmpl_render(set, "t", d, NOW, &out, &err), 0);
	ck_assert_uint_eq(out.len, 2 + n / 2 + n / 2 * 4);
	ck_assert(strncmp(out.data, "[a&lt;a&lt;", 11) == 0);
	ck_assert_ptr_null(strchr(out.data, '<'));
	json_decref(d);
	free(big);
	/* a thousand items */
	json_t *xs = json_array();
	for (int i = 0; i < 1000; i++)
		json_array_append_new(xs, json_integer(i));
	d = json_pack("{s:o}", "xs", xs);
	add("t", "{{#xs}}{{.}},{{/xs}}");
	cobs_buf_clear(&out);
	ck_assert_int_eq(cobs_tmpl_render(set, "t", d, NOW, &out, &err), 0);
	ck_assert(strncmp(out.data, "0,1,2,", 6) == 0);
	ck_assert_ptr_nonnull(strstr(out.data, ",999,"));
	json_decref(d);
}
END_TEST

START_TEST(parse_errors_name_file_and_line)
{
	ck_assert_str_eq(parse_error("a\nb {{x"), "bad.html:2: {{ without }}");
	ck_assert_str_eq(parse_error("{{#a}}\n{{/b}}"),
	                 "bad.html:2: {{/...}} does not close the innermost section");
	ck_assert_str_eq(parse_error("x\n\n{{#a}}"), "bad.html:3: section not closed");
	ck_assert_str_eq(parse_error("{{/a}}"), "bad.html:1: {{/...}} closes no section");
	ck_assert_ptr_nonnull(strstr(parse_error("{{x|shout}}"), "bad.html:1: unknown filter"));
	ck_assert_ptr_nonnull(strstr(parse_error("{{#x|bytes}}{{/x}}"), "filters go on"));
	ck_assert_ptr_nonnull(strstr(parse_error("{{}}"), "needs a name"));
	ck_assert_ptr_nonnull(strstr(parse_error("{{a b}}"), "needs a name"));
	cobs_error err;
	ck_assert_int_eq(cobs_tmpl_add(set, "nul", "nul.html", "a\0b", 3, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "NUL"));
	/* comments are no output and no error */
	ck_assert_str_eq(render("a{{! anything <here> }}b", "{}"), "ab");
}
END_TEST

START_TEST(a_directory_of_templates)
{
	const char *dir = temp_dir();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/page.html", dir);
	ck_assert_int_eq(write_file(path, "<main>{{> part}}</main>"), 0);
	snprintf(path, sizeof(path), "%s/part.html", dir);
	ck_assert_int_eq(write_file(path, "{{title}}"), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	ck_assert_int_eq(write_file(path, "{{ignored"), 0);
	cobs_error err = {{0}};
	ck_assert_msg(cobs_tmpl_load_dir(set, dir, &err) == 0, "%s", err.msg);
	json_t *d = json_pack("{s:s}", "title", "T&T");
	ck_assert_int_eq(cobs_tmpl_render(set, "page", d, NOW, &out, &err), 0);
	ck_assert_str_eq(out.data, "<main>T&amp;T</main>");
	json_decref(d);
	/* a bad file is named */
	snprintf(path, sizeof(path), "%s/broken.html", dir);
	ck_assert_int_eq(write_file(path, "\n{{#open}}"), 0);
	ck_assert_int_eq(cobs_tmpl_load_dir(set, dir, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "broken.html:2: section not closed"));
	ck_assert_int_eq(cobs_tmpl_load_dir(set, "/nonexistent-dir", &err), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tmpl");
	TCase *tc = tcase_create("tmpl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, values_are_escaped_always);
	tcase_add_test(tc, plain_values);
	tcase_add_test(tc, sections_over_every_shape);
	tcase_add_test(tc, partials_and_their_errors);
	tcase_add_test(tc, number_filters);
	tcase_add_test(tc, huge_values);
	tcase_add_test(tc, parse_errors_name_file_and_line);
	tcase_add_test(tc, a_directory_of_templates);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
