/* SPDX-License-Identifier: MIT */
/*
 * Template parsing and rendering (tmpl.h). A template is parsed once into a
 * flat array of nodes; a section node knows where its body ends, so
 * rendering is a walk over the array with a stack of context values.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"

#define MAX_DEPTH    64 /* nested sections */
#define MAX_PARTIALS 16 /* partials within partials */

typedef enum kind { TEXT, VAR, SECTION, INVERTED, PARTIAL } kind;

typedef enum filter {
	F_NONE,
	F_BYTES,
	F_BPS,
	F_NUM,
	F_RATE,
	F_PCT,
	F_FIXED,
	F_DUR,
	F_AGO,
	F_URL
} filter;

static const char *const filter_names[] = {"",    "bytes", "bps", "num", "rate",
                                           "pct", "fixed", "dur", "ago", "url"};

typedef struct node {
	kind kind;
	filter filter;
	const char
	        *s; /* TEXT: the text; others: the name (NUL-terminated, in the template's copy) */
	size_t len; /* TEXT: its length */
	size_t end; /* SECTION, INVERTED: the index after the body's last node */
	const char *word; /* SECTION, INVERTED: {{#name=word}}'s word, or NULL */
	int members;      /* SECTION, INVERTED: {{#name.*}} */
} node;

typedef struct tmpl {
	char *name;
	char *src; /* a copy, with NULs written after names */
	node *nodes;
	size_t n;
} tmpl;

struct cobs_tmpl_set {
	tmpl *v;
	size_t n, cap;
};

/* ---- parsing ---- */

typedef struct parser {
	tmpl *t;
	size_t cap;
	const char *file;
	const char *base;
	cobs_error *err;
} parser;

static int line_of(const parser *p, const char *at)
{
	int line = 1;
	for (const char *c = p->base; c < at; c++)
		line += *c == '\n';
	return line;
}

static int fail(const parser *p, const char *at, const char *what)
{
	return cobs_error_set(p->err, "%s:%d: %s", p->file, line_of(p, at), what);
}

static node *push(parser *p)
{
	if (p->t->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		node *v = realloc(p->t->nodes, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->t->nodes = v;
		p->cap = cap;
	}
	node *nd = &p->t->nodes[p->t->n++];
	*nd = (node){0};
	return nd;
}

static char *trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return s;
}

/*
 * A tag's name split in place: "a.b.*" is members of a.b, "a.b=word" an
 * equality test; name is left holding the name alone. 0, or -1 when it is
 * not a name of letters, digits, '_', '-' and '.' (or the word is empty or
 * holds another '=').
 */
static int split_name(char *name, const char **word, int *members)
{
	*word = NULL;
	*members = 0;
	char *eq = strchr(name, '=');
	if (eq) {
		if (!eq[1] || strchr(eq + 1, '='))
			return -1;
		*eq = '\0';
		*word = eq + 1; /* any text but '=' */
	}
	size_t n = strlen(name);
	if (!eq && n > 2 && strcmp(name + n - 2, ".*") == 0) {
		name[n -= 2] = '\0';
		*members = 1;
	}
	if (!n)
		return -1;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return -1;
	return 0;
}

/* One tag's inside [s, e) (written over). 0, or -1 with the error set. */
static int parse_tag(parser *p, char *s, char *e, size_t *open, size_t *nopen)
{
	char sigil = *s;
	if (sigil == '!')
		return 0;
	if (sigil == '{' || sigil == '&')
		return fail(p, s, "no unescaped output in templates: use {{name}}");
	if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '>')
		s++;
	else
		sigil = 0;
	char *bar = memchr(s, '|', (size_t)(e - s));
	filter f = F_NONE;
	if (bar) {
		if (sigil)
			return fail(p, s, "filters go on {{name|filter}} only");
		const char *fname = trim(bar + 1, e);
		for (size_t i = 1; i < sizeof(filter_names) / sizeof(*filter_names); i++)
			if (strcmp(fname, filter_names[i]) == 0)
				f = (filter)i;
		if (f == F_NONE)
			return fail(
			        p, s,
			        "unknown filter (bytes, bps, num, rate, pct, fixed, dur, ago, url)");
		e = bar;
	}
	char *name = trim(s, e);
	const char *word;
	int members;
	if (split_name(name, &word, &members) < 0 ||
	    ((word || members) && sigil != '#' && sigil != '^' && sigil != '/'))
		return fail(p, s, "a tag needs a name of letters, digits, '_', '-' and '.'");
	if (sigil == '/') {
		if (!*nopen)
			return fail(p, s, "{{/...}} closes no section");
		node *o = &p->t->nodes[open[*nopen - 1]];
		if (strcmp(o->s, name) != 0 || o->members != members || !o->word != !word ||
		    (word && strcmp(o->word, word) != 0))
			return fail(p, s, "{{/...}} does not close the innermost section");
		o->end = p->t->n;
		(*nopen)--;
		return 0;
	}
	node *nd = push(p);
	if (!nd)
		return cobs_error_set(p->err, "out of memory");
	nd->kind = sigil == '#' ? SECTION : sigil == '^' ? INVERTED : sigil == '>' ? PARTIAL : VAR;
	nd->s = name;
	nd->word = word;
	nd->members = members;
	nd->filter = f;
	if (nd->kind == SECTION || nd->kind == INVERTED) {
		if (*nopen == MAX_DEPTH)
			return fail(p, s, "sections nested too deep");
		open[(*nopen)++] = p->t->n - 1;
	}
	return 0;
}

static int parse(parser *p, char *src)
{
	size_t open[MAX_DEPTH], nopen = 0;
	char *at = src;
	while (*at) {
		char *tag = strstr(at, "{{");
		char *text_end = tag ? tag : at + strlen(at);
		if (text_end > at) {
			node *nd = push(p);
			if (!nd)
				return cobs_error_set(p->err, "out of memory");
			*nd = (node){.kind = TEXT, .s = at, .len = (size_t)(text_end - at)};
		}
		if (!tag)
			break;
		char *close = strstr(tag + 2, "}}");
		if (!close)
			return fail(p, tag, "{{ without }}");
		/* {{{x}}}: its own error, not "}" left in the text */
		if (tag[2] == '{')
			return fail(p, tag, "no unescaped output in templates: use {{name}}");
		if (parse_tag(p, tag + 2, close, open, &nopen) < 0)
			return -1;
		at = close + 2;
	}
	if (nopen)
		return fail(p, p->t->nodes[open[nopen - 1]].s, "section not closed");
	return 0;
}

static void tmpl_clear(tmpl *t)
{
	free(t->name);
	free(t->src);
	free(t->nodes);
	*t = (tmpl){0};
}

static tmpl *find(const cobs_tmpl_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

int cobs_tmpl_add(cobs_tmpl_set *s, const char *name, const char *file, const char *src, size_t len,
                  cobs_error *err)
{
	tmpl t = {0};
	if (memchr(src, '\0', len))
		return cobs_error_set(err, "%s: a NUL byte in a template", file);
	if (!(t.name = strdup(name)) || !(t.src = malloc(len + 1))) {
		tmpl_clear(&t);
		return cobs_error_set(err, "out of memory");
	}
	memcpy(t.src, src, len);
	t.src[len] = '\0';
	/* the copy is parsed, and written over, in place: node strings point into it */
	parser p = {.t = &t, .file = file, .base = t.src, .err = err};
	if (parse(&p, t.src) < 0) {
		tmpl_clear(&t);
		return -1;
	}
	tmpl *old = find(s, name);
	if (old) {
		tmpl_clear(old);
		*old = t;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		tmpl *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			tmpl_clear(&t);
			return cobs_error_set(err, "out of memory");
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = t;
	return 0;
}

int cobs_tmpl_load_dir(cobs_tmpl_set *s, const char *dir, cobs_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return cobs_error_set(err, "%s: cannot open the template directory", dir);
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= 5 || strcmp(de->d_name + n - 5, ".html") != 0)
			continue;
		char path[4096], name[256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), de->d_name);
		FILE *f = fopen(path, "rb");
		cobs_buf b = {0};
		char chunk[8192];
		size_t got;
		while (f && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (cobs_buf_append(&b, chunk, got) < 0)
				break;
		if (!f || ferror(f))
			rc = cobs_error_set(err, "%s: cannot read", path);
		else
			rc = cobs_tmpl_add(s, name, path, b.data ? b.data : "", b.len, err);
		if (f)
			fclose(f);
		cobs_buf_free(&b);
	}
	closedir(d);
	return rc;
}

cobs_tmpl_set *cobs_tmpl_set_new(void)
{
	return calloc(1, sizeof(cobs_tmpl_set));
}

void cobs_tmpl_set_free(cobs_tmpl_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		tmpl_clear(&s->v[i]);
	free(s->v);
	free(s);
}

int cobs_tmpl_has(const cobs_tmpl_set *s, const char *name)
{
	return find(s, name) != NULL;
}

/* ---- values ---- */

typedef struct render {
	const cobs_tmpl_set *set;
	json_t *stack[MAX_DEPTH + 1];
	size_t depth;
	int partials;
	int64_t now_ms;
	cobs_buf *out;
	cobs_error *err;
} render;

static json_t *lookup(const render *r, const char *name)
{
	if (strcmp(name, ".") == 0)
		return r->stack[r->depth - 1];
	size_t first = strcspn(name, ".");
	json_t *v = NULL;
	for (size_t i = r->depth; i-- > 0 && !v;)
		if (json_is_object(r->stack[i]))
			v = json_object_getn(r->stack[i], name, first);
	for (const char *p = name + first; v && *p == '.';) {
		p++;
		size_t len = strcspn(p, ".");
		if (json_is_array(v) && len && strspn(p, "0123456789") >= len)
			v = json_array_get(
			        v, strtoul(p, NULL, 10)); /* {{#rows.0}}: is there a first */
		else
			v = json_is_object(v) ? json_object_getn(v, p, len) : NULL;
		p += len;
	}
	return v;
}

static int truthy(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT:
		return 1;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return 1;
	default:
		return 0;
	}
}

/* The value as text, unescaped, into buf (or a pointer to the string itself). */
static const char *plain(const json_t *v, char *buf, size_t cap, size_t *len)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		*len = json_string_length(v);
		return json_string_value(v);
	case JSON_INTEGER:
		*len = (size_t)snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		*len = (size_t)snprintf(buf, cap, "%.15g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		*len = 4;
		return "true";
	case JSON_FALSE:
		*len = 5;
		return "false";
	default:
		*len = 0;
		return "";
	}
}

/* ---- filters ---- */

/* x scaled down by step until below it, with 3 significant digits and the unit. */
static void scaled(double x, double step, const char *const *units, size_t nunits,
                   const char *suffix, char *buf, size_t cap)
{
	size_t u = 0;
	double a = fabs(x);
	while (a >= step && u + 1 < nunits) {
		a /= step;
		x /= step;
		u++;
	}
	/* 3 significant digits, but integers of the base unit as they are */
	int decimals = u == 0 && x == floor(x) ? 0 : a < 10 ? 2 : a < 100 ? 1 : 0;
	snprintf(buf, cap, "%.*f%s%s%s", decimals, x, units[u][0] ? " " : "", units[u], suffix);
}

static void duration(double s, char *buf, size_t cap)
{
	if (s < 0)
		s = 0;
	uint64_t t = (uint64_t)llround(s);
	if (t < 60)
		snprintf(buf, cap, "%llus", (unsigned long long)t);
	else if (t < 3600)
		snprintf(buf, cap, "%llum %llus", (unsigned long long)(t / 60),
		         (unsigned long long)(t % 60));
	else if (t < 86400)
		snprintf(buf, cap, "%lluh %llum", (unsigned long long)(t / 3600),
		         (unsigned long long)(t % 3600 / 60));
	else
		snprintf(buf, cap, "%llud %lluh", (unsigned long long)(t / 86400),
		         (unsigned long long)(t % 86400 / 3600));
}

static const char *const byte_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
static const char *const si_units[] = {"", "k", "M", "G", "T", "P", "E"};

/* A number filter's text into buf. */
static void number_filter(filter f, double x, int64_t now_ms, char *buf, size_t cap)
{
	const size_t nb = sizeof(byte_units) / sizeof(*byte_units);
	const size_t ns = sizeof(si_units) / sizeof(*si_units);
	switch (f) {
	case F_BYTES:
		scaled(x, 1024, byte_units, nb, "", buf, cap);
		break;
	case F_BPS:
		scaled(x, 1024, byte_units, nb, "/s", buf, cap);
		break;
	case F_NUM:
		scaled(x, 1000, si_units, ns, "", buf, cap);
		break;
	case F_RATE:
		scaled(x, 1000, si_units, ns, "/s", buf, cap);
		break;
	case F_PCT:
		snprintf(buf, cap, "%.1f%%", x);
		break;
	case F_FIXED:
		snprintf(buf, cap, "%.2f", x);
		break;
	case F_DUR:
		duration(x, buf, cap);
		break;
	case F_AGO: {
		size_t n;
		duration(((double)now_ms - x) / 1000.0, buf, cap);
		n = strlen(buf);
		snprintf(buf + n, cap - n, " ago");
		break;
	}
	default:
		buf[0] = '\0';
	}
}

static const char hex[] = "0123456789ABCDEF";

/* RFC 3986 unreserved bytes stay; everything else is %XX. */
static int put_url(cobs_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			if (cobs_buf_append(out, (const char *)&s[i], 1) < 0)
				return -1;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (cobs_buf_append(out, e, 3) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- output ---- */

static int put_escaped(cobs_buf *out, const char *s, size_t len)
{
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		const char *e;
		switch (s[i]) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		default:
			continue;
		}
		if (cobs_buf_append(out, s + from, i - from) < 0 ||
		    cobs_buf_append(out, e, strlen(e)) < 0)
			return -1;
		from = i + 1;
	}
	return cobs_buf_append(out, s + from, len - from);
}

static int put_var(render *r, const node *nd)
{
	json_t *v = lookup(r, nd->s);
	char buf[64];
	size_t len;
	if (nd->filter == F_NONE || nd->filter == F_URL) {
		const char *s = plain(v, buf, sizeof(buf), &len);
		return nd->filter == F_URL ? put_url(r->out, s, len) : put_escaped(r->out, s, len);
	}
	if (!json_is_number(v))
		return cobs_buf_append(r->out, "-", 1);
	number_filter(nd->filter, json_number_value(v), r->now_ms, buf, sizeof(buf));
	return put_escaped(r->out, buf, strlen(buf));
}

static int render_nodes(render *r, const tmpl *t, size_t from, size_t to);

static int render_template(render *r, const char *name)
{
	const tmpl *t = find(r->set, name);
	if (!t)
		return cobs_error_set(r->err, "no template %s", name);
	if (r->partials == MAX_PARTIALS)
		return cobs_error_set(r->err, "template %s: partials nested over %d deep", name,
		                      MAX_PARTIALS);
	r->partials++;
	int rc = render_nodes(r, t, 0, t->n);
	r->partials--;
	return rc;
}

/* The body of a section once, with v on the stack. */
static int render_with(render *r, const tmpl *t, size_t from, size_t to, json_t *v)
{
	if (r->depth == MAX_DEPTH + 1)
		return cobs_error_set(r->err, "sections nested too deep");
	r->stack[r->depth++] = v;
	int rc = render_nodes(r, t, from, to);
	r->depth--;
	return rc;
}

/* {{#name.*}}: once per member of the object, with {"key": k, "val": v} on the stack. */
static int render_members(render *r, const tmpl *t, size_t i, json_t *obj)
{
	const node *nd = &t->nodes[i];
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		json_t *pair = json_pack("{s:s,s:O}", "key", k, "val", v);
		if (!pair)
			return cobs_error_set(r->err, "out of memory rendering");
		int rc = render_with(r, t, i + 1, nd->end, pair);
		json_decref(pair);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int render_section(render *r, const tmpl *t, size_t i)
{
	const node *nd = &t->nodes[i];
	json_t *v = lookup(r, nd->s);
	if (nd->members) {
		int some = json_is_object(v) && json_object_size(v) > 0;
		if (nd->kind == INVERTED)
			return some ? 0 : render_nodes(r, t, i + 1, nd->end);
		return some ? render_members(r, t, i, v) : 0;
	}
	if (nd->word) {
		/* {{#name=word}}: whether the value's text is word */
		char buf[64];
		size_t len;
		const char *text = plain(v, buf, sizeof(buf), &len);
		int same = len == strlen(nd->word) && memcmp(text, nd->word, len) == 0;
		return same == (nd->kind == SECTION) ? render_nodes(r, t, i + 1, nd->end) : 0;
	}
	if (nd->kind == INVERTED)
		return truthy(v) ? 0 : render_nodes(r, t, i + 1, nd->end);
	if (!truthy(v))
		return 0;
	if (!json_is_array(v))
		return render_with(r, t, i + 1, nd->end, v);
	size_t k;
	json_t *item;
	json_array_foreach(v, k, item)
	{
		if (render_with(r, t, i + 1, nd->end, item) < 0)
			return -1;
	}
	return 0;
}

static int render_nodes(render *r, const tmpl *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const node *nd = &t->nodes[i];
		int rc = 0;
		switch (nd->kind) {
		case TEXT:
			rc = cobs_buf_append(r->out, nd->s, nd->len);
			break;
		case VAR:
			rc = put_var(r, nd);
			break;
		case PARTIAL:
			rc = render_template(r, nd->s);
			break;
		case SECTION:
		case INVERTED:
			rc = render_section(r, t, i);
			i = nd->end - 1;
			break;
		}
		if (rc < 0) {
			if (!r->err->msg[0])
				cobs_error_set(r->err, "out of memory rendering");
			return -1;
		}
	}
	return 0;
}

int cobs_tmpl_render(const cobs_tmpl_set *s, const char *name, json_t *data, int64_t now_ms,
                     cobs_buf *out, cobs_error *err)
{
	err->msg[0] = '\0';
	render r = {.set = s, .now_ms = now_ms, .out = out, .err = err};
	r.stack[r.depth++] = data;
	return render_template(&r, name);
}
