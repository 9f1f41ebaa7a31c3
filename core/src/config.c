/*
 * INI configuration: libinih does the parsing; this file keeps each key's
 * file and line, applies COBS_<SECTION>_<KEY> environment overrides, parses
 * units (durations, sizes, booleans) and words every error with file, line
 * and key.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include <cobs/proc.h>

#include "config_internal.h"

typedef struct entry {
	char *key;
	char *value;
	int line;
	int used; /* asked for by someone: unknown keys are the ones never asked for */
} entry;

struct cobs_section {
	char *name;
	const char *file; /* owned by the config */
	int line;
	entry *entries;
	size_t n, cap;
	int bad_value; /* a getter refused a value: a configuration error, not a plugin failure */
};

struct cobs_config {
	char *file;
	cobs_section **sections;
	size_t n, cap;
	cobs_error *err; /* during loading */
	int line;        /* the line inih is on, counted by our reader */
	int lines_done;
	int too_long;
	int dup_line; /* a [section] header seen twice: the second one's line */
	int dup_first;
	char dup_name[128];
	FILE *fp;
};

int cobs_error_set(cobs_error *err, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

cobs_config *cobs_config_new(void)
{
	return calloc(1, sizeof(cobs_config));
}

static void section_free(cobs_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->entries[i].key);
		free(s->entries[i].value);
	}
	free(s->entries);
	free(s->name);
	free(s);
}

void cobs_config_free(cobs_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		section_free(c->sections[i]);
	free(c->sections);
	free(c->file);
	free(c);
}

cobs_section *cobs_config_section(const cobs_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->sections[i]->name, name) == 0)
			return c->sections[i];
	return NULL;
}

cobs_section *cobs_config_add_section(cobs_config *c, const char *name, const char *file, int line)
{
	cobs_section *s = cobs_config_section(c, name);
	if (s)
		return s;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		cobs_section **v = realloc(c->sections, cap * sizeof(*v));
		if (!v)
			return NULL;
		c->sections = v;
		c->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return NULL;
	}
	s->file = file;
	s->line = line;
	c->sections[c->n++] = s;
	return s;
}

size_t cobs_config_count(const cobs_config *c)
{
	return c->n;
}

cobs_section *cobs_config_at(const cobs_config *c, size_t i)
{
	return i < c->n ? c->sections[i] : NULL;
}

const char *cobs_section_name(const cobs_section *s)
{
	return s->name;
}

const char *cobs_section_where(const cobs_section *s, char *buf, size_t len)
{
	if (s->file)
		snprintf(buf, len, "%s:%d", s->file, s->line);
	else
		snprintf(buf, len, "built-in defaults");
	return buf;
}

static entry *find_entry(const cobs_section *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

int cobs_section_set(cobs_section *s, const char *key, const char *value, const char *file,
                     int line, cobs_error *err)
{
	entry *e = find_entry(s, key);
	if (e)
		return cobs_error_set(err, "%s:%d: [%s] key '%s' is set twice (first on line %d)",
		                      file ? file : "config", line, s->name, key, e->line);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		entry *v = realloc(s->entries, cap * sizeof(*v));
		if (!v)
			return cobs_error_set(err, "out of memory");
		s->entries = v;
		s->cap = cap;
	}
	e = &s->entries[s->n];
	*e = (entry){.key = strdup(key), .value = strdup(value), .line = line};
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		return cobs_error_set(err, "out of memory");
	}
	s->n++;
	return 0;
}

int cobs_section_check_unused(const cobs_section *s, cobs_error *err)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->entries[i].used)
			return cobs_error_set(err, "%s:%d: [%s] unknown key '%s'",
			                      s->file ? s->file : "config", s->entries[i].line,
			                      s->name, s->entries[i].key);
	return 0;
}

/* COBS_<SECTION>_<KEY>, upper case, every other character an underscore. */
static void env_name(const cobs_section *s, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "COBS_%s_%s", s->name, key);
	for (char *p = buf; *p; p++)
		*p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
}

static const char *env_override(const cobs_section *s, const char *key)
{
	char name[256];
	env_name(s, key, name, sizeof(name));
	return getenv(name);
}

const char *cobs_cfg_raw(const cobs_section *s, const char *key)
{
	if (!s)
		return NULL;
	entry *e = find_entry(s, key);
	if (e)
		e->used = 1;
	const char *env = env_override(s, key);
	if (env)
		return env;
	return e ? e->value : NULL;
}

const char *cobs_cfg_where(const cobs_section *s, const char *key, char *buf, size_t len)
{
	char name[256];
	if (!s) {
		snprintf(buf, len, "default");
		return buf;
	}
	env_name(s, key, name, sizeof(name));
	entry *e = find_entry(s, key);
	if (getenv(name))
		snprintf(buf, len, "environment %s", name);
	else if (e)
		snprintf(buf, len, "%s:%d", s->file ? s->file : "config", e->line);
	else if (s->file) /* an absent key: point at its section */
		snprintf(buf, len, "%s:%d", s->file, s->line);
	else
		snprintf(buf, len, "default");
	return buf;
}

int cobs_cfg_error(const cobs_section *s, const char *key, cobs_error *err, const char *fmt, ...)
{
	char where[300], msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s)
		((cobs_section *)s)->bad_value = 1; /* the flag is bookkeeping, not content */
	return cobs_error_set(err, "%s: [%s] key '%s': %s",
	                      cobs_cfg_where(s, key, where, sizeof(where)), s ? s->name : "?", key,
	                      msg);
}

/* The error every getter writes: where, section, key, what is wrong. */
static int bad_value(const cobs_section *s, const char *key, const char *value,
                     const char *expected, cobs_error *err)
{
	return cobs_cfg_error(s, key, err, "invalid value '%s' (%s)", value, expected);
}

int cobs_cfg_string(const cobs_section *s, const char *key, const char *def, const char **out,
                    cobs_error *err)
{
	(void)err;
	const char *v = cobs_cfg_raw(s, key);
	*out = v ? v : def;
	return 0;
}

int cobs_parse_bool(const char *text, bool *out)
{
	static const char *yes[] = {"1", "true", "yes", "on"};
	static const char *no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(text, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

int cobs_cfg_bool(const cobs_section *s, const char *key, bool def, bool *out, cobs_error *err)
{
	const char *v = cobs_cfg_raw(s, key);
	if (!v)
		return *out = def, 0;
	if (cobs_parse_bool(v, out) < 0)
		return bad_value(s, key, v, "expected true or false", err);
	return 0;
}

/* A decimal number with an optional unit suffix; the unit is returned in *unit. */
static int parse_number(const char *text, double *num, const char **unit)
{
	while (isspace((unsigned char)*text))
		text++;
	if (!isdigit((unsigned char)*text))
		return -1;
	char *end;
	errno = 0;
	double d = strtod(text, &end);
	if (errno || !isfinite(d) || d < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	*num = d;
	*unit = end;
	/* trailing spaces after the unit are allowed, nothing else */
	size_t ulen = strcspn(end, " \t");
	if (end[ulen + strspn(end + ulen, " \t")] != '\0')
		return -1;
	return 0;
}

static int unit_is(const char *unit, const char *name)
{
	size_t n = strlen(name);
	return strncmp(unit, name, n) == 0 && (unit[n] == '\0' || isspace((unsigned char)unit[n]));
}

int cobs_parse_duration_ms(const char *text, uint64_t *out_ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ms", 1},      {"s", 1000},    {"", 1000},     {"m", 60000},
	             {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
	double num;
	const char *unit;
	if (parse_number(text, &num, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (unit_is(unit, units[i].unit)) {
			double ms = num * units[i].ms;
			if (ms > 1e15)
				return -1;
			*out_ms = (uint64_t)llround(ms);
			return 0;
		}
	}
	return -1;
}

int cobs_parse_size(const char *text, uint64_t *out)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"", 1},
	             {"B", 1},
	             {"KiB", 1024.0},
	             {"MiB", 1048576.0},
	             {"GiB", 1073741824.0},
	             {"TiB", 1099511627776.0},
	             {"KB", 1e3},
	             {"kB", 1e3},
	             {"MB", 1e6},
	             {"GB", 1e9},
	             {"TB", 1e12},
	             {"K", 1024.0},
	             {"M", 1048576.0},
	             {"G", 1073741824.0}};
	double num;
	const char *unit;
	if (parse_number(text, &num, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (unit_is(unit, units[i].unit)) {
			double v = num * units[i].mult;
			if (v > 9e18)
				return -1;
			*out = (uint64_t)llround(v);
			return 0;
		}
	}
	return -1;
}

int cobs_cfg_uint(const cobs_section *s, const char *key, uint64_t def, uint64_t min, uint64_t max,
                  uint64_t *out, cobs_error *err)
{
	const char *v = cobs_cfg_raw(s, key);
	if (!v)
		return *out = def, 0;
	char *end;
	errno = 0;
	const char *p = v;
	while (isspace((unsigned char)*p))
		p++;
	unsigned long long n = strtoull(p, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (!isdigit((unsigned char)*p) || errno || *end || n < min || n > max) {
		char expected[96];
		snprintf(expected, sizeof(expected), "expected a whole number from %llu to %llu",
		         (unsigned long long)min, (unsigned long long)max);
		return bad_value(s, key, v, expected, err);
	}
	*out = n;
	return 0;
}

int cobs_cfg_duration_ms(const cobs_section *s, const char *key, uint64_t def_ms, uint64_t *out_ms,
                         cobs_error *err)
{
	const char *v = cobs_cfg_raw(s, key);
	if (!v)
		return *out_ms = def_ms, 0;
	if (cobs_parse_duration_ms(v, out_ms) < 0)
		return bad_value(s, key, v, "expected a duration such as 250ms, 5s, 1m, 2h", err);
	return 0;
}

int cobs_cfg_size(const cobs_section *s, const char *key, uint64_t def, uint64_t *out,
                  cobs_error *err)
{
	const char *v = cobs_cfg_raw(s, key);
	if (!v)
		return *out = def, 0;
	if (cobs_parse_size(v, out) < 0)
		return bad_value(s, key, v, "expected a size such as 512, 64KiB, 10MiB, 1GiB", err);
	return 0;
}

/*
 * inih merges a repeated [section] silently; a repeated plugin section is
 * almost always a copy-paste mistake, so it is an error here.
 */
static void note_section_header(cobs_config *c, const char *line)
{
	line += strspn(line, " \t");
	if (*line != '[' || c->dup_line)
		return;
	size_t len = strcspn(line + 1, "]");
	if (line[1 + len] != ']')
		return; /* inih reports the syntax error */
	char name[128];
	snprintf(name, sizeof(name), "%.*s", (int)len, line + 1);
	cobs_section *s = cobs_config_section(c, name);
	if (s) {
		c->dup_line = c->line;
		c->dup_first = s->line;
		snprintf(c->dup_name, sizeof(c->dup_name), "%s", name);
	} else if (!cobs_config_add_section(c, name, c->file, c->line)) {
		c->too_long = c->line; /* out of memory: stop the parse */
	}
}

/*
 * Why a pattern is refused, or NULL. fnmatch would quietly treat a lone '['
 * as a literal, which is never what a user who wrote "sd[a-z" meant.
 */
static const char *glob_problem(const char *pat)
{
	for (const char *p = pat; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return "trailing '\\'";
			p++;
			continue;
		}
		if (*p != '[')
			continue;
		const char *q = p + 1;
		if (*q == '!' || *q == '^')
			q++;
		if (*q == ']') /* a leading ']' is a member, not the end */
			q++;
		while (*q && *q != ']') {
			if (q[0] == '[' && q[1] == ':') { /* [:class:] */
				const char *c = strstr(q + 2, ":]");
				if (!c)
					return "unterminated '[:' class";
				q = c + 2;
				continue;
			}
			q++;
		}
		if (!*q)
			return "unterminated '['";
		p = q;
	}
	return NULL;
}

int cobs_cfg_globs(const cobs_section *s, const char *key, const char *def, char ***out,
                   cobs_error *err)
{
	const char *text = cobs_cfg_raw(s, key);
	if (!text)
		text = def;
	char **g = cobs_globs_parse(text);
	if (!g)
		return cobs_error_set(err, "out of memory");
	for (char **p = g; *p; p++) {
		const char *why = glob_problem(*p);
		if (why) {
			cobs_cfg_error(s, key, err, "invalid value '%s' (pattern '%s': %s)", text,
			               *p, why);
			cobs_globs_free(g);
			return -1;
		}
	}
	*out = g;
	return 0;
}

/* inih's reader: fgets that counts lines, so handler errors can name one. */
static char *counting_reader(char *str, int num, void *stream)
{
	cobs_config *c = stream;
	char *r = fgets(str, num, c->fp);
	if (!r)
		return NULL;
	c->line = c->lines_done + 1;
	note_section_header(c, str);
	size_t n = strlen(str);
	if (n && str[n - 1] == '\n')
		c->lines_done++;
	else if (!feof(c->fp) && !c->too_long)
		c->too_long = c->line; /* inih would split it into two lines */
	return r;
}

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
	cobs_config *c = user;
	if (c->too_long || c->dup_line)
		return 0;
	cobs_section *s = cobs_config_section(c, section);
	if (!s && !(s = cobs_config_add_section(c, section, c->file, c->line))) {
		cobs_error_set(c->err, "out of memory");
		return 0;
	}
	if (!name) /* a section header alone (INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;
	if (!*section) {
		cobs_error_set(c->err, "%s:%d: key '%s' stands before any [section]", c->file,
		               c->line, name);
		return 0;
	}
	return cobs_section_set(s, name, value, c->file, c->line, c->err) == 0;
}

cobs_config *cobs_config_load(const char *path, cobs_error *err)
{
	cobs_config *c = cobs_config_new();
	if (!c || !(c->file = strdup(path))) {
		cobs_config_free(c);
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	c->fp = fopen(path, "r");
	if (!c->fp) {
		cobs_error_set(err, "%s: cannot open: %s", path, strerror(errno));
		cobs_config_free(c);
		return NULL;
	}
	if (err)
		err->msg[0] = '\0';
	c->err = err;
	int rc = ini_parse_stream(counting_reader, c, on_ini_key, c);
	fclose(c->fp);
	c->fp = NULL;
	if (c->dup_line) {
		cobs_error_set(err, "%s:%d: section [%s] appears twice (first on line %d)", path,
		               c->dup_line, c->dup_name, c->dup_first);
		rc = -1;
	} else if (c->too_long) {
		cobs_error_set(err, "%s:%d: line too long (at most %d characters)", path,
		               c->too_long, INI_MAX_LINE - 2);
	} else if (rc != 0 && (!err || !err->msg[0])) {
		cobs_error_set(err, "%s:%d: syntax error (expected [section] or key = value)", path,
		               rc > 0 ? rc : c->line);
	}
	if (rc != 0 || c->too_long) {
		cobs_config_free(c);
		return NULL;
	}
	c->err = NULL;
	return c;
}

int cobs_section_has_bad_value(const cobs_section *s)
{
	return s->bad_value;
}
