/*
 * mem: the node's memory, read from <proc_root>/meminfo under node_exporter's
 * names, so dashboards written for node_exporter work unchanged.
 *
 * Every line "Key:   value kB" becomes the gauge node_memory_<Key>_bytes with
 * value * 1024; a line without a unit (HugePages_Total, HugePages_Free, ...)
 * is a count and becomes node_memory_<Key> with the value as is. Parentheses
 * in keys are rewritten as node_exporter does: Active(anon) ->
 * node_memory_Active_anon_bytes. Every key is taken, so keys of newer kernels
 * (Percpu, KReclaimable, SecPageTables, FileHugePages, Zswap, ...) need no
 * change here.
 *
 * Derived (ours):
 *
 *   node_memory_used_percent = 100 * (MemTotal - MemAvailable) / MemTotal
 *
 * MemAvailable is the kernel's own estimate of memory that can be given to new
 * work without swapping. Kernels before 3.14 lack it; there we use
 * MemFree + Buffers + Cached instead (what free(1) called "free -/+
 * buffers/cache"), which overstates what is available a little, since not all
 * of the page cache can be dropped. No value when MemTotal is 0, a term is
 * missing, or the available estimate exceeds MemTotal (an inconsistent file).
 *
 * Lines that do not parse are skipped, never guessed at: no colon, a key with
 * characters a metric name cannot carry, a value that is not a plain 64-bit
 * number, a unit other than kB, anything after the unit, and an unterminated
 * last line (the kernel ends every line with '\n', so such a tail is a
 * truncated copy whose number may have lost digits, or its " kB"). A key seen
 * twice keeps its first value.
 *
 * No config keys.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/plugin.h>

#define PREFIX     "node_memory_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define MAX_KEY    64 /* the longest kernel key today is 17 characters */

/* Lines remembered by position; a file with more is parsed uncached past it. */
#define MAX_LINES 256

typedef struct mem_state mem_state;

/* The values the derived percentage needs, in bytes, and which were seen. */
enum { K_TOTAL, K_AVAILABLE, K_FREE, K_BUFFERS, K_CACHED, K_COUNT };
static const struct {
	const char *key;
	size_t len;
} derived_keys[K_COUNT] = {
        [K_TOTAL] = {"MemTotal", 8}, [K_AVAILABLE] = {"MemAvailable", 12},
        [K_FREE] = {"MemFree", 7},   [K_BUFFERS] = {"Buffers", 7},
        [K_CACHED] = {"Cached", 6},
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Only complete lines are parsed, so each ends in '\n'; a NUL before it is
 * garbage (it makes the number or line it sits in invalid), never an end. */
static bool is_end(char c)
{
	return c == '\n';
}

#define HELP_PREFIX     "Memory information field "
#define HELP_PREFIX_LEN (sizeof(HELP_PREFIX) - 1)

/* A metric name and its help text ("Memory information field <Key>_bytes.", as
 * node_exporter words it), built side by side in one pass over the key. */
typedef struct names {
	char name[PREFIX_LEN + MAX_KEY + sizeof("_bytes")];
	char help[HELP_PREFIX_LEN + MAX_KEY + sizeof("_bytes.")];
	size_t len; /* of the key part */
} names;

/*
 * What one line position held last pass: its key, the names built from it and
 * the family. meminfo's lines keep their order, so from the second pass on a
 * line costs a memcmp of its key instead of building two strings and looking
 * the family up by name (mem was the dearest of the node collectors).
 */
typedef struct line_memo {
	char key[MAX_KEY];
	size_t klen; /* 0: nothing remembered */
	bool kb;
	int derived; /* a K_* index, or -1 */
	names nm;
	cobs_family_ref ref;
} line_memo;

struct mem_state {
	char *name; /* for log lines */
	cobs_procfile meminfo;
	line_memo *lines; /* MAX_LINES of them */
};

/*
 * Writes the metric form of key[0..len) after the prefixes. Returns false when
 * the key is empty, too long or has a character a metric name cannot carry.
 * '(' becomes '_' and ')' goes, as node_exporter's regexp `\((.*)\)` -> "_$1"
 * does for the one pair the kernel uses.
 */
static bool make_names(names *nm, const char *key, size_t len)
{
	if (len == 0 || len > MAX_KEY)
		return false;
	char *n = nm->name + PREFIX_LEN, *h = nm->help + HELP_PREFIX_LEN;
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];
		if (c == '(')
			c = '_';
		else if (c == ')')
			continue;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '_'))
			return false;
		n[k] = h[k] = c;
		k++;
	}
	nm->len = k;
	return true;
}

/* Appends the suffix ("_bytes" or "") to both strings and terminates them. */
static void finish_names(names *nm, const char *suffix, size_t slen)
{
	char *n = nm->name + PREFIX_LEN + nm->len, *h = nm->help + HELP_PREFIX_LEN + nm->len;
	memcpy(n, suffix, slen);
	n[slen] = '\0';
	memcpy(h, suffix, slen);
	h[slen] = '.';
	h[slen + 1] = '\0';
}

/*
 * Parses the part after the colon: blanks, a decimal number, then optionally
 * " kB". Returns 1 with *kb telling whether the unit was there, -1 otherwise.
 */
static int parse_value(const char *p, uint64_t *out, bool *kb)
{
	uint64_t v;
	if (!(p = cobs_parse_u64(p, NULL, &v)))
		return -1; /* "12x", "-5", nothing */
	while (is_blank(*p))
		p++;
	*kb = false;
	if (p[0] == 'k' && p[1] == 'B') {
		*kb = true;
		p += 2;
		while (is_blank(*p))
			p++;
	}
	if (!is_end(*p))
		return -1; /* another unit, or extra fields */
	*out = v;
	return 1;
}

/* The K_* index of a key the derived percentage needs, or -1. */
static int derived_index(const char *key, size_t klen)
{
	for (int k = 0; k < K_COUNT; k++)
		if (klen == derived_keys[k].len && memcmp(key, derived_keys[k].key, klen) == 0)
			return k;
	return -1;
}

/* Fills memo for key; false when the key cannot be a metric name (the line is skipped). */
static bool remember_line(line_memo *m, const char *key, size_t klen, bool kb)
{
	m->klen = 0;
	memcpy(m->nm.name, PREFIX, PREFIX_LEN);
	memcpy(m->nm.help, HELP_PREFIX, HELP_PREFIX_LEN);
	if (!make_names(&m->nm, key, klen))
		return false;
	finish_names(&m->nm, kb ? "_bytes" : "", kb ? 6 : 0);
	memcpy(m->key, key, klen);
	m->klen = klen;
	m->kb = kb;
	m->derived = kb ? derived_index(key, klen) : -1;
	m->ref = (cobs_family_ref){0};
	return true;
}

/* One line, at position idx. Returns 1 when it gave a sample, 0 when skipped, -1 on OOM. */
static int mem_line(cobs_batch *b, mem_state *s, size_t idx, const char *line, const char *eol,
                    double *dv, bool *seen)
{
	const char *colon = memchr(line, ':', (size_t)(eol - line));
	if (!colon)
		return 0;
	size_t klen = (size_t)(colon - line);
	uint64_t v;
	bool kb;
	if (klen == 0 || klen > MAX_KEY || parse_value(colon + 1, &v, &kb) < 0)
		return 0;
	line_memo tmp, *m = idx < MAX_LINES ? &s->lines[idx] : &tmp;
	bool same = m != &tmp && m->klen == klen && m->kb == kb && memcmp(m->key, line, klen) == 0;
	if (!same && !remember_line(m, line, klen, kb))
		return 0;
	double value = kb ? (double)v * 1024.0 : (double)v;
	if (m->derived >= 0 && !seen[m->derived]) {
		dv[m->derived] = value;
		seen[m->derived] = true;
	}
	cobs_family *f = cobs_batch_family_ref(b, &m->ref, m->nm.name, m->nm.help,
	                                       kb ? "bytes" : "", COBS_GAUGE);
	if (!f)
		return -1;
	if (f->nsamples)
		return 0; /* a key seen twice: the first one wins, no duplicate series */
	return cobs_family_add0(b, f, value) < 0 ? -1 : 1;
}

/* node_memory_used_percent, when the file has what it needs (see the top comment). */
static int used_percent(cobs_batch *b, const double *dv, const bool *seen)
{
	double avail;
	if (seen[K_AVAILABLE])
		avail = dv[K_AVAILABLE];
	else if (seen[K_FREE] && seen[K_BUFFERS] && seen[K_CACHED])
		avail = dv[K_FREE] + dv[K_BUFFERS] + dv[K_CACHED];
	else
		return 0;
	if (!seen[K_TOTAL] || dv[K_TOTAL] <= 0 || avail > dv[K_TOTAL])
		return 0;
	cobs_family *f = cobs_batch_family(
	        b, "node_memory_used_percent",
	        "Memory in use: 100 * (MemTotal - MemAvailable) / MemTotal; MemFree + Buffers + "
	        "Cached stands in for MemAvailable on kernels before 3.14.",
	        "percent", COBS_GAUGE);
	if (!f)
		return -1;
	if (f->nsamples) /* a meminfo key of that name got there first */
		return 0;
	return cobs_family_add0(b, f, 100.0 * (dv[K_TOTAL] - avail) / dv[K_TOTAL]);
}

static int collect(void *state, cobs_batch *b)
{
	mem_state *s = state;
	cobs_procfile *f = &s->meminfo;
	if (cobs_procfile_read(f) < 0) {
		cobs_log(COBS_LOG_WARN, s->name, "cannot read %s: %s", f->path, strerror(errno));
		return -1;
	}
	double dv[K_COUNT] = {0};
	bool seen[K_COUNT] = {0};
	int samples = 0;
	size_t idx = 0;

	/* Only complete lines (see the top comment): end is just past the last '\n'. */
	size_t len = f->len;
	while (len > 0 && f->buf[len - 1] != '\n')
		len--;
	const char *p = f->buf, *end = p + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		int r = mem_line(b, s, idx++, p, eol, dv, seen);
		if (r < 0)
			goto oom;
		samples += r;
		p = eol + 1;
	}
	if (samples == 0) {
		cobs_log(COBS_LOG_WARN, s->name, "%s has no usable line", f->path);
		return -1;
	}
	if (used_percent(b, dv, seen) < 0)
		goto oom;
	return 0;
oom:
	cobs_log(COBS_LOG_WARN, s->name, "out of memory while collecting");
	return -1;
}

static void shutdown(void *state)
{
	mem_state *s = state;
	if (!s)
		return;
	cobs_procfile_close(&s->meminfo);
	free(s->lines);
	free(s->name);
	free(s);
}

static int init(const cobs_plugin_env *env, void **state)
{
	mem_state *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->meminfo.fd = -1; /* so shutdown() is safe from any point below */
	s->name = strdup(env->name ? env->name : "mem");
	s->lines = calloc(MAX_LINES, sizeof(*s->lines));
	if (!s->name || !s->lines ||
	    cobs_procfile_init(&s->meminfo, env->proc_root ? env->proc_root : "/proc", "meminfo") <
	            0) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	/* Read once now, so a wrong proc_root fails at load time, naming the file. */
	if (cobs_procfile_read(&s->meminfo) < 0) {
		cobs_error_set(env->err, "cannot read %s: %s", s->meminfo.path, strerror(errno));
		goto fail;
	}
	*state = s;
	return 0;
fail:
	shutdown(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "mem",
        .description = "Memory figures from /proc/meminfo and the derived used percentage",
        .init = init,
        .collect = collect,
        .shutdown = shutdown,
};
