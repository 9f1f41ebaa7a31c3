/*
 * Batch rendering: the human table (text), JSON lines and the Prometheus text
 * exposition format 0.0.4, all appended to a cobs_buf so a sink reuses one
 * buffer for every batch. Each format is a step function that renders one
 * unit (a header, one sample, a closing bracket) and moves an iterator on,
 * so a sink can stream a batch in pieces (cobs_format_next) and
 * cobs_format_batch is the same steps run to the end.
 *
 * Strings in a batch may hold any bytes (a comm, a cgroup path, a label taken
 * from a pod). Every format therefore writes valid UTF-8: a byte that is not
 * part of a well-formed UTF-8 sequence becomes U+FFFD, because Prometheus
 * rejects invalid label values and jansson rejects invalid strings, and one
 * odd process name must not cost the whole batch.
 *
 * Values:
 *  - text and Prometheus: an integral value up to 2^53 is written as an
 *    integer; anything else with the fewest of 15, 16 or 17 significant digits
 *    that reads back to the same double; NaN, +Inf and -Inf as Prometheus
 *    spells them.
 *  - JSON: integral values up to 2^53 are JSON integers; other finite values
 *    are reals with the same 15-17 digits as above (jansson writes them);
 *    NaN and the infinities have no JSON spelling and are written as null.
 *
 * Everything is linear in the size of the batch.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <cobs/format.h>

int cobs_buf_reserve(cobs_buf *b, size_t n)
{
	if (n >= SIZE_MAX - b->len)
		return -1;
	if (b->cap - b->len > n)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

int cobs_buf_append(cobs_buf *b, const char *s, size_t n)
{
	if (cobs_buf_reserve(b, n) < 0)
		return -1;
	if (n) /* s may be NULL when n is 0, and memcpy must not see NULL */
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int cobs_buf_printf(cobs_buf *b, const char *fmt, ...)
{
	/* Format straight into the free space; only a result that does not fit
	 * costs a second pass, after growing to the exact size. */
	if (cobs_buf_reserve(b, 0) < 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (cobs_buf_reserve(b, (size_t)n) < 0) {
			b->data[b->len] = '\0';
			return -1;
		}
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

void cobs_buf_clear(cobs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cobs_buf_free(cobs_buf *b)
{
	free(b->data);
	*b = (cobs_buf){0};
}

int cobs_format_parse(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "text") == 0)
		return COBS_FORMAT_TEXT;
	if (strcmp(name, "json") == 0)
		return COBS_FORMAT_JSON;
	if (strcmp(name, "prometheus") == 0)
		return COBS_FORMAT_PROMETHEUS;
	return -1;
}

static int buf_puts(cobs_buf *b, const char *s)
{
	return cobs_buf_append(b, s, strlen(s));
}

/* ---- UTF-8 and escaping ------------------------------------------------ */

/*
 * Length (1-4) of the well-formed UTF-8 sequence starting at s, or 0 when
 * s[0] starts none (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF; the same rules jansson checks). s is NUL-terminated and every
 * test of a byte comes before reading the next, so a NUL stops the look-ahead.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0; /* a stray continuation byte, or an overlong 2-byte lead */
	if (c < 0xE0)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0xF0) {
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80
		               ? 4
		               : 0;
	}
	return 0;
}

static int utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		size_t n = utf8_len(s);
		if (!n)
			return 0;
		s += n;
	}
	return 1;
}

typedef enum esc_mode {
	ESC_UTF8,       /* only repair UTF-8 (JSON: jansson escapes the rest) */
	ESC_PROM_LABEL, /* Prometheus label value: \\ \" \n */
	ESC_PROM_HELP,  /* Prometheus HELP text: \\ \n */
	ESC_TERM,       /* a terminal: quotes, backslashes and every control character */
} esc_mode;

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* The escape for ASCII byte c in mode, written to esc; its length, or 0 when c stays. */
static size_t escape_ascii(unsigned char c, esc_mode mode, char esc[8])
{
	switch (mode) {
	case ESC_UTF8:
		return 0;
	case ESC_PROM_LABEL:
		if (c == '"')
			return memcpy(esc, "\\\"", 2), 2;
		/* fall through */
	case ESC_PROM_HELP:
		if (c == '\\')
			return memcpy(esc, "\\\\", 2), 2;
		if (c == '\n')
			return memcpy(esc, "\\n", 2), 2;
		return 0;
	case ESC_TERM:
		if (c == '\\' || c == '"')
			return esc[0] = '\\', esc[1] = (char)c, 2;
		if (c == '\n')
			return memcpy(esc, "\\n", 2), 2;
		if (c == '\t')
			return memcpy(esc, "\\t", 2), 2;
		if (c == '\r')
			return memcpy(esc, "\\r", 2), 2;
		/* ESC and friends would let a label drive the user's terminal */
		if (c < 0x20 || c == 0x7F)
			return (size_t)snprintf(esc, 8, "\\x%02x", c);
		return 0;
	}
	return 0;
}

/*
 * Appends str to out (when out is not NULL) escaped for mode, with invalid
 * UTF-8 repaired. *cols (when not NULL) receives the width in terminal columns
 * (one per character: good enough for aligning a table). Plain runs are
 * copied in one piece. 0, or -1 when out of memory.
 */
static int put_escaped(cobs_buf *out, const char *str, esc_mode mode, size_t *cols)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	const unsigned char *run = s;
	size_t width = 0;
	while (*s) {
		char esc[8];
		size_t n = utf8_len(s), elen = 0, ecols = 0;
		const char *rep = NULL;
		if (n == 1) {
			elen = escape_ascii(*s, mode, esc);
			rep = elen ? esc : NULL;
			ecols = elen;
		} else if (n == 0) {
			rep = REPLACEMENT;
			elen = 3;
			ecols = 1;
			n = 1;
		} else if (mode == ESC_TERM && n == 2 && s[0] == 0xC2 && s[1] < 0xA0) {
			/* C1 controls (U+0080-U+009F): some terminals obey them too */
			elen = ecols = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", s[1]);
			rep = esc;
		}
		if (!rep) {
			s += n;
			width++;
			continue;
		}
		if (out && (cobs_buf_append(out, (const char *)run, (size_t)(s - run)) < 0 ||
		            cobs_buf_append(out, rep, elen) < 0))
			return -1;
		width += ecols;
		s += n;
		run = s;
	}
	if (out && cobs_buf_append(out, (const char *)run, (size_t)(s - run)) < 0)
		return -1;
	if (cols)
		*cols = width;
	return 0;
}

/* ---- values ------------------------------------------------------------ */

#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: every integer up to it is a double */

static int is_exact_int(double v)
{
	return fabs(v) <= EXACT_INT_MAX && v == (double)(int64_t)v;
}

/* The fewest of 15, 16, 17 significant digits that read back as v (17 always do). */
static int precision(double v)
{
	char buf[32];
	for (int prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return prec;
	}
	return 17;
}

/* v as Prometheus reads it, into buf (32 bytes is enough for any double). */
static size_t fmt_value(double v, char buf[32])
{
	if (isnan(v))
		return (size_t)snprintf(buf, 32, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, 32, v > 0 ? "+Inf" : "-Inf");
	if (is_exact_int(v)) /* also turns -0 into 0 */
		return (size_t)snprintf(buf, 32, "%" PRId64, (int64_t)v);
	return (size_t)snprintf(buf, 32, "%.*g", precision(v), v);
}

static const char *type_name(cobs_metric_type t)
{
	switch (t) {
	case COBS_COUNTER:
		return "counter";
	case COBS_INFO:
		return "info";
	case COBS_GAUGE:
		break;
	}
	return "gauge";
}

/* ---- Prometheus --------------------------------------------------------- */

/*
 * A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name ([a-zA-Z_][a-zA-Z0-9_]*):
 * any other byte becomes '_', so a careless plugin cannot break the exposition.
 */
static int put_prom_name(cobs_buf *out, const char *name, int label)
{
	const char *s = name ? name : "";
	if (!*s || (*s >= '0' && *s <= '9'))
		if (cobs_buf_append(out, "_", 1) < 0)
			return -1;
	size_t ok = 0;
	for (;;) {
		while ((s[ok] >= 'a' && s[ok] <= 'z') || (s[ok] >= 'A' && s[ok] <= 'Z') ||
		       (s[ok] >= '0' && s[ok] <= '9') || s[ok] == '_' || (!label && s[ok] == ':'))
			ok++;
		if (cobs_buf_append(out, s, ok) < 0)
			return -1;
		if (!s[ok])
			return 0;
		if (cobs_buf_append(out, "_", 1) < 0)
			return -1;
		s += ok + 1;
		ok = 0;
	}
}

static int prom_header(const cobs_family *f, cobs_buf *out)
{
	/* Prometheus 0.0.4 has no info type: the OpenMetrics convention of a
	 * gauge whose value is 1 keeps the facts queryable. */
	const char *type = f->type == COBS_COUNTER ? "counter" : "gauge";
	if (f->help && *f->help) {
		if (buf_puts(out, "# HELP ") < 0 || put_prom_name(out, f->name, 0) < 0 ||
		    cobs_buf_append(out, " ", 1) < 0 ||
		    put_escaped(out, f->help, ESC_PROM_HELP, NULL) < 0 ||
		    cobs_buf_append(out, "\n", 1) < 0)
			return -1;
	}
	if (buf_puts(out, "# TYPE ") < 0 || put_prom_name(out, f->name, 0) < 0 ||
	    cobs_buf_printf(out, " %s\n", type) < 0)
		return -1;
	return 0;
}

static int prom_sample(const cobs_family *f, const cobs_sample *s, cobs_buf *out)
{
	if (put_prom_name(out, f->name, 0) < 0)
		return -1;
	for (size_t j = 0; j < s->nlabels; j++) {
		if (cobs_buf_append(out, j ? "," : "{", 1) < 0 ||
		    put_prom_name(out, s->labels[j].name, 1) < 0 ||
		    cobs_buf_append(out, "=\"", 2) < 0 ||
		    put_escaped(out, s->labels[j].value, ESC_PROM_LABEL, NULL) < 0 ||
		    cobs_buf_append(out, "\"", 1) < 0)
			return -1;
	}
	char val[32];
	size_t n = fmt_value(f->type == COBS_INFO ? 1.0 : s->value, val);
	if ((s->nlabels && cobs_buf_append(out, "}", 1) < 0) || cobs_buf_append(out, " ", 1) < 0 ||
	    cobs_buf_append(out, val, n) < 0 || cobs_buf_append(out, "\n", 1) < 0)
		return -1;
	return 0;
}

/*
 * The family holding the iterator's next sample, past finished (and empty)
 * families; NULL at the end of the batch. Prometheus and text skip empty
 * families: 0.0.4 has no use for a header without samples.
 */
static const cobs_family *sample_family(cobs_format_iter *it)
{
	const cobs_batch *b = it->batch;
	while (it->family < b->nfamilies && it->sample >= b->families[it->family]->nsamples) {
		it->family++;
		it->sample = 0;
		it->opened = 0;
	}
	return it->family < b->nfamilies ? b->families[it->family] : NULL;
}

/* One unit: a family's header, or one sample. 1, 0 at the end, -1 when out of memory. */
static int prom_step(cobs_format_iter *it, cobs_buf *out)
{
	const cobs_family *f = sample_family(it);
	if (!f)
		return 0;
	if (!it->opened) {
		if (prom_header(f, out) < 0)
			return -1;
		it->opened = 1;
		return 1;
	}
	if (prom_sample(f, &f->samples[it->sample], out) < 0)
		return -1;
	it->sample++;
	return 1;
}

/* ---- JSON --------------------------------------------------------------- */

/* A JSON string for s (null for NULL), repaired when it is not UTF-8. */
static json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	if (utf8_valid(s))
		return json_string_nocheck(s); /* checked just now: skip jansson's own pass */
	/* A repaired copy only for the rare string that needs one. */
	cobs_buf fixed = {0};
	json_t *v = put_escaped(&fixed, s, ESC_UTF8, NULL) < 0
	                    ? NULL
	                    : json_stringn_nocheck(fixed.data ? fixed.data : "", fixed.len);
	cobs_buf_free(&fixed);
	return v;
}

/* obj[key] = v, with the key repaired like any string. Takes v's reference. */
static int jset(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -1;
	if (utf8_valid(key))
		return json_object_set_new_nocheck(obj, key, v);
	cobs_buf fixed = {0};
	int rc = -1;
	if (put_escaped(&fixed, key, ESC_UTF8, NULL) == 0)
		rc = json_object_set_new_nocheck(obj, fixed.data ? fixed.data : "", v);
	else
		json_decref(v);
	cobs_buf_free(&fixed);
	return rc;
}

static json_t *jvalue(double v)
{
	if (!isfinite(v))
		return json_null();
	if (is_exact_int(v))
		return json_integer((json_int_t)v);
	return json_real(v);
}

static int dump_to_buf(const char *s, size_t n, void *data)
{
	return cobs_buf_append(data, s, n);
}

/* Appends v as compact JSON and releases it (NULL: out of memory). */
static int put_json(cobs_buf *out, json_t *v, size_t flags)
{
	if (!v)
		return -1;
	int rc = json_dump_callback(v, dump_to_buf, out, JSON_COMPACT | JSON_ENCODE_ANY | flags);
	json_decref(v);
	return rc;
}

/* {"labels":{...},"value":v}, its real printed with no more digits than it needs. */
static int json_sample(const cobs_sample *s, cobs_buf *out)
{
	json_t *sample = json_object();
	json_t *labels = json_object();
	if (!sample) {
		json_decref(labels);
		return -1;
	}
	if (jset(sample, "labels", labels) < 0) {
		json_decref(sample);
		return -1;
	}
	for (size_t j = 0; j < s->nlabels; j++)
		if (jset(labels, s->labels[j].name, jstr(s->labels[j].value)) < 0) {
			json_decref(sample);
			return -1;
		}
	if (jset(sample, "value", jvalue(s->value)) < 0) {
		json_decref(sample);
		return -1;
	}
	size_t prec = isfinite(s->value) && !is_exact_int(s->value) ? precision(s->value) : 17;
	return put_json(out, sample, JSON_REAL_PRECISION(prec));
}

/* A family's opening, up to the '[' of its samples. */
static int json_family_head(const cobs_family *f, cobs_buf *out)
{
	if (buf_puts(out, "{\"name\":") < 0 || put_json(out, jstr(f->name), 0) < 0 ||
	    buf_puts(out, ",\"help\":") < 0 || put_json(out, jstr(f->help ? f->help : ""), 0) < 0 ||
	    buf_puts(out, ",\"unit\":") < 0 || put_json(out, jstr(f->unit ? f->unit : ""), 0) < 0 ||
	    cobs_buf_printf(out, ",\"type\":\"%s\",\"samples\":[", type_name(f->type)) < 0)
		return -1;
	return 0;
}

static int json_batch_head(const cobs_batch *b, cobs_buf *out)
{
	if (buf_puts(out, "{\"node\":") < 0 || put_json(out, jstr(b->node), 0) < 0 ||
	    buf_puts(out, ",\"source\":") < 0 || put_json(out, jstr(b->source), 0) < 0 ||
	    cobs_buf_printf(out, ",\"timestamp_ms\":%" PRId64, b->timestamp_ms) < 0 ||
	    /* a part of a collection: lines with the same node, source and time belong together */
	    (b->more && buf_puts(out, ",\"more\":true") < 0) ||
	    buf_puts(out, ",\"families\":[") < 0)
		return -1;
	return 0;
}

enum { STAGE_START, STAGE_BODY, STAGE_DONE };

/*
 * jansson encodes every string and every sample; only the fixed punctuation
 * between them is written here. That lets each value carry its own precision
 * (a dump has one precision for all its reals: 17 digits would turn 0.91 into
 * 0.91000000000000003), and keeps one sample's nodes in memory at a time
 * instead of a tree of the whole batch. Unlike Prometheus, JSON keeps a
 * family with no samples (its "samples" are []).
 *
 * One unit per call: the batch's opening, a family's opening, one sample, a
 * family's closing, or the batch's closing. The position moves only once
 * the unit is out, so a failed unit can be rendered again.
 */
static int json_step(cobs_format_iter *it, cobs_buf *out)
{
	const cobs_batch *b = it->batch;
	if (it->stage == STAGE_DONE)
		return 0;
	if (it->stage == STAGE_START) {
		if (json_batch_head(b, out) < 0)
			return -1;
		it->stage = STAGE_BODY;
		return 1;
	}
	if (it->family == b->nfamilies) {
		if (buf_puts(out, "]}\n") < 0)
			return -1;
		it->stage = STAGE_DONE;
		return 1;
	}
	const cobs_family *f = b->families[it->family];
	if (!it->opened) {
		if ((it->family && cobs_buf_append(out, ",", 1) < 0) ||
		    json_family_head(f, out) < 0)
			return -1;
		it->opened = 1;
		return 1;
	}
	if (it->sample < f->nsamples) {
		if ((it->sample && cobs_buf_append(out, ",", 1) < 0) ||
		    json_sample(&f->samples[it->sample], out) < 0)
			return -1;
		it->sample++;
		return 1;
	}
	if (buf_puts(out, "]}") < 0)
		return -1;
	it->family++;
	it->sample = 0;
	it->opened = 0;
	return 1;
}

/* ---- text --------------------------------------------------------------- */

#define TEXT_KEY_MAX 72 /* a longer name{labels} does not widen the whole table */
#define TEXT_VAL_MIN 14 /* the value column: right-aligned in at least this width */

/* name{l="v",...} as shown in the table; with out NULL it only measures. */
static int text_key(cobs_buf *out, const cobs_family *f, const cobs_sample *s, size_t *cols)
{
	size_t w, total;
	if (put_escaped(out, f->name, ESC_TERM, &total) < 0)
		return -1;
	for (size_t j = 0; j < s->nlabels; j++) {
		if (out && (cobs_buf_append(out, j ? "," : "{", 1) < 0))
			return -1;
		if (put_escaped(out, s->labels[j].name, ESC_TERM, &w) < 0)
			return -1;
		total += w + 4; /* "{" or ",", then =" and " */
		if (out && cobs_buf_append(out, "=\"", 2) < 0)
			return -1;
		if (put_escaped(out, s->labels[j].value, ESC_TERM, &w) < 0)
			return -1;
		total += w;
		if (out && cobs_buf_append(out, "\"", 1) < 0)
			return -1;
	}
	if (s->nlabels) {
		total++; /* } */
		if (out && cobs_buf_append(out, "}", 1) < 0)
			return -1;
	}
	*cols = total;
	return 0;
}

static int put_spaces(cobs_buf *out, size_t n)
{
	static const char spaces[] = "                                ";
	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		if (cobs_buf_append(out, spaces, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

/* 1536 -> "1.5 KiB"; nothing below 1024, where the exact value says it all. */
static int human_bytes(char *buf, size_t len, double v, const char *per)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (fabs(v) < 1024)
		return 0;
	size_t u = 0;
	v /= 1024;
	while (fabs(v) >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	return snprintf(buf, len, "%.1f %s%s", v, units[u], per);
}

/* 12345 -> "3h25m45s", 0.0042 -> "4.2ms"; nothing between 1 s and a minute. */
static int human_seconds(char *buf, size_t len, double v)
{
	double a = fabs(v);
	if (a == 0 || (a >= 1 && a < 60))
		return 0;
	if (a < 1e-3)
		return snprintf(buf, len, "%.3gus", v * 1e6);
	if (a < 1)
		return snprintf(buf, len, "%.3gms", v * 1e3);
	if (a >= 1e15) /* ~31 million years: not worth splitting */
		return 0;
	const char *sign = v < 0 ? "-" : "";
	uint64_t t = (uint64_t)llround(a);
	uint64_t d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, s = t % 60;
	if (d)
		return snprintf(buf, len, "%s%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", sign, d, h,
		                m);
	if (h)
		return snprintf(buf, len, "%s%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", sign, h, m,
		                s);
	return snprintf(buf, len, "%s%" PRIu64 "m%02" PRIu64 "s", sign, m, s);
}

/* The value in the family's unit, for people; 0 when there is nothing to add. */
static int human_value(char *buf, size_t len, double v, const char *unit)
{
	if (!isfinite(v) || !unit)
		return 0;
	if (strcmp(unit, "bytes") == 0)
		return human_bytes(buf, len, v, "");
	if (strcmp(unit, "bytes_per_second") == 0)
		return human_bytes(buf, len, v, "/s");
	if (strcmp(unit, "seconds") == 0)
		return human_seconds(buf, len, v);
	if (strcmp(unit, "percent") == 0)
		return snprintf(buf, len, "%.1f%%", v);
	return 0;
}

static int text_header(const cobs_batch *b, cobs_buf *out)
{
	/* Floor division, so a time before 1970 still prints a sane clock. */
	int64_t ms = b->timestamp_ms % 1000, secs = b->timestamp_ms / 1000;
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&t, &tm))
		snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, (int)ms);
	if (buf_puts(out, "=== node ") < 0 ||
	    put_escaped(out, b->node ? b->node : "-", ESC_TERM, NULL) < 0 ||
	    buf_puts(out, " | source ") < 0 ||
	    put_escaped(out, b->source ? b->source : "-", ESC_TERM, NULL) < 0 ||
	    cobs_buf_printf(out, " | %s | %zu samples\n", when, cobs_batch_samples(b)) < 0)
		return -1;
	return 0;
}

/* The key column fits the widest key of the batch (up to TEXT_KEY_MAX): measured first. */
static size_t text_key_width(const cobs_batch *b)
{
	size_t keyw = 0;
	for (size_t i = 0; i < b->nfamilies; i++)
		for (size_t j = 0; j < b->families[i]->nsamples; j++) {
			size_t w = 0;
			/* Measuring (out NULL) allocates nothing, so it cannot fail. */
			(void)text_key(NULL, b->families[i], &b->families[i]->samples[j], &w);
			if (w > keyw)
				keyw = w;
		}
	return keyw > TEXT_KEY_MAX ? TEXT_KEY_MAX : keyw;
}

static int text_line(const cobs_family *f, const cobs_sample *s, size_t keyw, cobs_buf *out)
{
	size_t w;
	char val[32], human[64];
	if (text_key(out, f, s, &w) < 0)
		return -1;
	size_t vlen = fmt_value(s->value, val);
	size_t pad = (w < keyw ? keyw - w : 0) + 2;
	if (vlen < TEXT_VAL_MIN)
		pad += TEXT_VAL_MIN - vlen;
	int hlen = human_value(human, sizeof(human), s->value, f->unit);
	if (put_spaces(out, pad) < 0 || cobs_buf_append(out, val, vlen) < 0 ||
	    (hlen > 0 && (cobs_buf_append(out, "  ", 2) < 0 ||
	                  cobs_buf_append(out, human, (size_t)hlen) < 0)) ||
	    cobs_buf_append(out, "\n", 1) < 0)
		return -1;
	return 0;
}

/* One unit: the header line, or one sample's line. */
static int text_step(cobs_format_iter *it, cobs_buf *out)
{
	if (it->stage == STAGE_START) {
		if (text_header(it->batch, out) < 0)
			return -1;
		it->stage = STAGE_BODY;
		return 1;
	}
	const cobs_family *f = sample_family(it);
	if (!f)
		return 0;
	if (text_line(f, &f->samples[it->sample], it->keyw, out) < 0)
		return -1;
	it->sample++;
	return 1;
}

int cobs_format_begin(cobs_format_iter *it, const cobs_batch *b, cobs_format fmt)
{
	*it = (cobs_format_iter){.batch = b, .fmt = fmt, .stage = STAGE_START};
	switch (fmt) {
	case COBS_FORMAT_TEXT:
		it->keyw = text_key_width(b);
		return 0;
	case COBS_FORMAT_JSON:
	case COBS_FORMAT_PROMETHEUS:
		return 0;
	}
	return -1;
}

static int step(cobs_format_iter *it, cobs_buf *out)
{
	switch (it->fmt) {
	case COBS_FORMAT_JSON:
		return json_step(it, out);
	case COBS_FORMAT_PROMETHEUS:
		return prom_step(it, out);
	case COBS_FORMAT_TEXT:
		return text_step(it, out);
	}
	return -1;
}

/* Cuts out back to len (a unit that failed half-way). */
static void truncate_to(cobs_buf *out, size_t len)
{
	if (out->data) {
		out->len = len;
		out->data[len] = '\0';
	}
}

int cobs_format_next(cobs_format_iter *it, cobs_buf *out, size_t min)
{
	size_t start = out->len;
	for (;;) {
		size_t mark = out->len;
		int rc = step(it, out);
		if (rc < 0) {
			truncate_to(out, mark);
			return -1;
		}
		if (rc == 0)
			return 0;
		if (out->len - start >= min)
			return 1;
	}
}

int cobs_format_batch(const cobs_batch *b, cobs_format fmt, cobs_buf *out)
{
	size_t start = out->len;
	cobs_format_iter it;
	if (cobs_format_begin(&it, b, fmt) < 0)
		return -1;
	int rc;
	while ((rc = cobs_format_next(&it, out, SIZE_MAX)) > 0) {
	}
	/* On failure leave out as it was: no half-rendered batch reaches a sink. */
	if (rc < 0)
		truncate_to(out, start);
	return rc;
}
