/*
 * Helpers for collectors: keep-open /proc files read with pread, path
 * joining, clocks, counter deltas across resets and 32-bit wraps, and glob
 * lists for include/exclude patterns.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cobs/proc.h>

int cobs_path_join(char *buf, size_t len, const char *root, const char *rel)
{
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	while (*rel == '/')
		rel++;
	int n = snprintf(buf, len, "%.*s/%s", (int)rl, root, rel);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cobs_procfile_init(cobs_procfile *f, const char *root, const char *rel)
{
	*f = (cobs_procfile){.fd = -1};
	size_t len = strlen(root) + strlen(rel) + 2;
	f->path = malloc(len);
	if (!f->path)
		return -1;
	cobs_path_join(f->path, len, root, rel);
	return 0;
}

/* Reads from offset 0 to EOF into f->buf, growing it as needed. */
static int read_all(cobs_procfile *f)
{
	size_t off = 0;
	for (;;) {
		if (f->cap - off < 2) {
			size_t cap = f->cap ? f->cap * 2 : 4096;
			char *b = realloc(f->buf, cap);
			if (!b) {
				errno = ENOMEM;
				return -1;
			}
			f->buf = b;
			f->cap = cap;
		}
		ssize_t n = pread(f->fd, f->buf + off, f->cap - off - 1, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		/*
		 * A read that did not fill the buffer reached the end: /proc and
		 * /sys hand out the whole remainder per read, so the extra pread
		 * that would return 0 is skipped (it costs ~0.5 us a file).
		 */
		if ((size_t)n < f->cap - (off - (size_t)n) - 1)
			break;
	}
	f->buf[off] = '\0';
	f->len = off;
	return 0;
}

int cobs_procfile_read(cobs_procfile *f)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (f->fd < 0) {
			f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
			if (f->fd < 0)
				return -1;
		}
		if (read_all(f) == 0)
			return 0;
		if (errno == ENOMEM)
			return -1;
		/* A stale fd (device gone, file replaced): reopen once. */
		close(f->fd);
		f->fd = -1;
	}
	return -1;
}

void cobs_procfile_close(cobs_procfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->buf);
	*f = (cobs_procfile){.fd = -1};
}

uint64_t cobs_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t cobs_wallclock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cobs_counter_delta(uint64_t prev, uint64_t cur, uint64_t *delta)
{
	if (cur >= prev) {
		*delta = cur - prev;
		return true;
	}
	/* 32-bit counters (some /proc/diskstats fields, 32-bit kernels) wrap. */
	if (prev <= UINT32_MAX && prev >= (UINT32_MAX / 4) * 3) {
		*delta = (UINT32_MAX - prev) + cur + 1;
		return true;
	}
	return false; /* a reset: no rate for this interval */
}

bool cobs_rate(uint64_t prev, uint64_t cur, uint64_t prev_ns, uint64_t cur_ns, double *out)
{
	uint64_t d;
	if (prev_ns == 0 || cur_ns <= prev_ns || !cobs_counter_delta(prev, cur, &d))
		return false;
	*out = (double)d / ((double)(cur_ns - prev_ns) / 1e9);
	return true;
}

/* ---- previous values per key: open addressing, linear probing ---- */

typedef struct slot {
	char *key;
	uint64_t seen; /* the sweep generation that last asked for it */
	cobs_prev_entry e;
} slot;

struct cobs_prev_table {
	size_t width;
	slot *slots;
	size_t cap; /* power of two */
	size_t n;
	uint64_t gen;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

cobs_prev_table *cobs_prev_new(size_t width)
{
	cobs_prev_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->width = width;
	t->cap = 16;
	t->gen = 1;
	t->slots = calloc(t->cap, sizeof(slot));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void cobs_prev_free(cobs_prev_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++) {
		free(t->slots[i].key);
		free(t->slots[i].e.vals);
	}
	free(t->slots);
	free(t);
}

static slot *probe(slot *slots, size_t cap, const char *key)
{
	size_t i = hash_str(key) & (cap - 1);
	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(cobs_prev_table *t)
{
	size_t cap = t->cap * 2;
	slot *slots = calloc(cap, sizeof(slot));
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			*probe(slots, cap, t->slots[i].key) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

cobs_prev_entry *cobs_prev_get(cobs_prev_table *t, const char *key)
{
	if ((t->n + 1) * 4 > t->cap * 3 && grow(t) < 0)
		return NULL;
	slot *s = probe(t->slots, t->cap, key);
	if (!s->key) {
		char *k = strdup(key);
		uint64_t *vals = calloc(t->width ? t->width : 1, sizeof(uint64_t));
		if (!k || !vals) {
			free(k);
			free(vals);
			return NULL;
		}
		*s = (slot){.key = k, .e = {.t_ns = 0, .vals = vals}};
		t->n++;
	}
	s->seen = t->gen;
	return &s->e;
}

void cobs_prev_sweep(cobs_prev_table *t)
{
	/* Rebuild instead of deleting in place: linear probing has no cheap delete. */
	int removed = 0;
	for (size_t i = 0; i < t->cap; i++) {
		slot *s = &t->slots[i];
		if (s->key && s->seen != t->gen) {
			free(s->key);
			free(s->e.vals);
			*s = (slot){0};
			t->n--;
			removed = 1;
		}
	}
	if (removed) {
		slot *slots = calloc(t->cap, sizeof(slot));
		if (slots) {
			for (size_t i = 0; i < t->cap; i++)
				if (t->slots[i].key)
					*probe(slots, t->cap, t->slots[i].key) = t->slots[i];
			free(t->slots);
			t->slots = slots;
		} else {
			/* Out of memory: re-place entries in their own array instead. */
			for (size_t i = 0; i < t->cap; i++) {
				if (!t->slots[i].key)
					continue;
				slot tmp = t->slots[i];
				t->slots[i] = (slot){0};
				*probe(t->slots, t->cap, tmp.key) = tmp;
			}
		}
	}
	t->gen++;
}

size_t cobs_prev_count(const cobs_prev_table *t)
{
	return t->n;
}

static bool field_end(const char *p, const char *end)
{
	return (end && p >= end) || *p == '\0' || *p == '\n';
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

int cobs_procfile_lines(const cobs_procfile *f,
                        int (*line)(void *ctx, const char *p, const char *eol), void *ctx)
{
	const char *p = f->buf, *end = p + f->len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end; /* a last line without its newline */
		int rc = line(ctx, p, eol);
		if (rc)
			return rc;
		p = eol < end ? eol + 1 : end;
	}
	return 0;
}

const char *cobs_netdev_name(const char *p, const char *eol, char *name, size_t cap)
{
	const char *colon = memrchr(p, ':', (size_t)(eol - p));
	if (!colon)
		return NULL;
	while (p < colon && (*p == ' ' || *p == '\t'))
		p++;
	size_t n = (size_t)(colon - p);
	if (n == 0 || n >= cap)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c == 0x7f) /* blanks, control bytes, NUL */
			return NULL;
		name[i] = (char)c;
	}
	name[n] = '\0';
	return colon + 1;
}

const char *cobs_parse_u64(const char *p, const char *end, uint64_t *out)
{
	while (!field_end(p, end) && blank(*p))
		p++;
	if (field_end(p, end) || !digit(*p))
		return NULL;
	/*
	 * The digit loop is the hottest code of every collector: a NUL or '\n' is
	 * never a digit, so only the end bound needs checking inside it.
	 */
	const char *lim = end ? end : p + strnlen(p, 21);
	uint64_t v = 0;
	for (; p < lim && digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		/* Constant bounds: no division per digit. */
		if (v >= UINT64_MAX / 10 && (v > UINT64_MAX / 10 || d > UINT64_MAX % 10))
			return NULL;
		v = v * 10 + d;
	}
	if (!field_end(p, end) && !blank(*p))
		return NULL;
	*out = v;
	return p;
}

/* ---- glob lists ---- */

bool cobs_glob_match(const char *pattern, const char *name)
{
	return fnmatch(pattern, name, 0) == 0;
}

char **cobs_globs_parse(const char *list)
{
	size_t n = 0, cap = 4;
	char **v = calloc(cap, sizeof(*v));
	if (!v)
		return NULL;
	const char *p = list ? list : "";
	while (*p) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (!len)
			break;
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[n] = strndup(p, len)))
			goto oom;
		v[++n] = NULL;
		p += len;
	}
	return v;
oom:
	cobs_globs_free(v);
	return NULL;
}

bool cobs_globs_match(char *const *globs, const char *name)
{
	for (; globs && *globs; globs++)
		if (cobs_glob_match(*globs, name))
			return true;
	return false;
}

void cobs_globs_free(char **globs)
{
	if (!globs)
		return;
	for (char **g = globs; *g; g++)
		free(*g);
	free(globs);
}
