/*
 * The metric batch: families of samples whose strings live in an arena of
 * chunks. cobs_batch_reset rewinds the chunks instead of freeing them, so a
 * collector that produces the same shape every pass allocates nothing once
 * warmed up.
 */
#include <stdlib.h>
#include <string.h>

#include <cobs/metric.h>

#define CHUNK_MIN (16u * 1024u)

typedef struct chunk {
	struct chunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
} chunk;

/*
 * Chunks in allocation order; `cur` is the one being filled. The family
 * index lives here too (open addressing on the name hash) because a collector
 * looks a family up for every sample it adds: a scan would be quadratic in
 * the number of families (meminfo alone has ~55).
 */
struct cobs_arena {
	chunk *head;
	chunk *cur;
	chunk *tail;
	cobs_family **index;
	size_t index_cap; /* a power of two, at least twice the families */
};

static void *chunk_take(chunk *c, size_t n)
{
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void *arena_alloc(cobs_batch *b, size_t n)
{
	cobs_arena *a = b->arena;
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	while (a->cur && a->cur->cap - a->cur->used < n)
		a->cur = a->cur->next; /* the rest of a full chunk is given up until reset */
	if (a->cur)
		return chunk_take(a->cur, n);
	/* Each new chunk doubles, so a large batch needs few of them. */
	size_t cap = a->tail ? a->tail->cap * 2 : CHUNK_MIN;
	if (cap < n)
		cap = n;
	chunk *c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	*c = (chunk){.cap = cap};
	if (a->tail)
		a->tail->next = c;
	else
		a->head = c;
	a->tail = a->cur = c;
	return chunk_take(c, n);
}

cobs_batch *cobs_batch_new(void)
{
	cobs_batch *b = calloc(1, sizeof(*b));
	if (b && !(b->arena = calloc(1, sizeof(*b->arena)))) {
		free(b);
		return NULL;
	}
	return b;
}

void cobs_batch_free(cobs_batch *b)
{
	if (!b)
		return;
	chunk *c = b->arena->head;
	while (c) {
		chunk *next = c->next;
		free(c);
		c = next;
	}
	free(b->arena->index);
	free(b->arena);
	free(b->families);
	free(b);
}

void cobs_batch_reset(cobs_batch *b)
{
	for (chunk *c = b->arena->head; c; c = c->next)
		c->used = 0;
	b->arena->cur = b->arena->head;
	if (b->arena->index_cap)
		memset(b->arena->index, 0, b->arena->index_cap * sizeof(*b->arena->index));
	b->nfamilies = 0;
	b->timestamp_ms = 0;
	b->monotonic_ns = 0;
	b->node = NULL;
	b->source = NULL;
}

const char *cobs_batch_strdup(cobs_batch *b, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(b, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* FNV-1a: names share long prefixes (node_...), so strcmp alone is slow. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The index slot for name: its family, or the empty slot where it goes. */
static cobs_family **index_slot(const cobs_arena *a, const char *name, uint64_t hash)
{
	size_t mask = a->index_cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		cobs_family *f = a->index[i];
		if (!f || (f->hash == hash && strcmp(f->name, name) == 0))
			return &a->index[i];
	}
}

static cobs_family *find_hashed(const cobs_batch *b, const char *name, uint64_t hash)
{
	if (!b->arena->index_cap)
		return NULL;
	return *index_slot(b->arena, name, hash);
}

/* Keeps the index at most half full. 0, or -1 when out of memory. */
static int index_reserve(cobs_batch *b)
{
	cobs_arena *a = b->arena;
	if ((b->nfamilies + 1) * 2 <= a->index_cap)
		return 0;
	size_t cap = a->index_cap ? a->index_cap * 2 : 64;
	cobs_family **idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -1;
	free(a->index);
	a->index = idx;
	a->index_cap = cap;
	for (size_t i = 0; i < b->nfamilies; i++)
		*index_slot(a, b->families[i]->name, b->families[i]->hash) = b->families[i];
	return 0;
}

const cobs_family *cobs_batch_find(const cobs_batch *b, const char *name)
{
	return find_hashed(b, name, name_hash(name));
}

cobs_family *cobs_batch_family(cobs_batch *b, const char *name, const char *help, const char *unit,
                               cobs_metric_type type)
{
	uint64_t hash = name_hash(name);
	cobs_family *f = find_hashed(b, name, hash);
	if (f)
		return f->type == type ? f : NULL;
	if (index_reserve(b) < 0)
		return NULL;
	if (b->nfamilies == b->families_cap) {
		size_t cap = b->families_cap ? b->families_cap * 2 : 16;
		cobs_family **fam = realloc(b->families, cap * sizeof(*fam));
		if (!fam)
			return NULL;
		b->families = fam;
		b->families_cap = cap;
	}
	f = arena_alloc(b, sizeof(*f));
	if (!f)
		return NULL;
	*f = (cobs_family){.type = type, .hash = hash};
	f->name = cobs_batch_strdup(b, name);
	f->help = cobs_batch_strdup(b, help);
	f->unit = cobs_batch_strdup(b, unit);
	if (!f->name || !f->help || !f->unit)
		return NULL;
	b->families[b->nfamilies++] = f;
	*index_slot(b->arena, f->name, hash) = f;
	return f;
}

int cobs_family_add(cobs_batch *b, cobs_family *f, double value, const cobs_label *labels,
                    size_t nlabels)
{
	if (f->nsamples == f->cap) {
		/* Grown in the arena: the old array is reclaimed at the next reset. */
		size_t cap = f->cap ? f->cap * 2 : 8;
		cobs_sample *s = arena_alloc(b, cap * sizeof(*s));
		if (!s)
			return -1;
		if (f->nsamples)
			memcpy(s, f->samples, f->nsamples * sizeof(*s));
		f->samples = s;
		f->cap = cap;
	}
	cobs_label *copy = NULL;
	if (nlabels) {
		copy = arena_alloc(b, nlabels * sizeof(*copy));
		if (!copy)
			return -1;
		for (size_t i = 0; i < nlabels; i++) {
			copy[i].name = cobs_batch_strdup(b, labels[i].name);
			copy[i].value = cobs_batch_strdup(b, labels[i].value);
			if (!copy[i].name || !copy[i].value)
				return -1;
		}
	}
	f->samples[f->nsamples++] =
	        (cobs_sample){.labels = copy, .nlabels = nlabels, .value = value};
	return 0;
}

int cobs_family_add0(cobs_batch *b, cobs_family *f, double value)
{
	return cobs_family_add(b, f, value, NULL, 0);
}

int cobs_family_add1(cobs_batch *b, cobs_family *f, double value, const char *name, const char *val)
{
	cobs_label l = {name, val};
	return cobs_family_add(b, f, value, &l, 1);
}

int cobs_family_add2(cobs_batch *b, cobs_family *f, double value, const char *n1, const char *v1,
                     const char *n2, const char *v2)
{
	cobs_label l[2] = {{n1, v1}, {n2, v2}};
	return cobs_family_add(b, f, value, l, 2);
}

size_t cobs_batch_samples(const cobs_batch *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->nfamilies; i++)
		n += b->families[i]->nsamples;
	return n;
}

int cobs_batch_merge(cobs_batch *dst, const cobs_batch *src)
{
	for (size_t i = 0; i < src->nfamilies; i++) {
		const cobs_family *sf = src->families[i];
		cobs_family *df = cobs_batch_family(dst, sf->name, sf->help, sf->unit, sf->type);
		if (!df)
			return -1;
		for (size_t j = 0; j < sf->nsamples; j++) {
			const cobs_sample *s = &sf->samples[j];
			if (cobs_family_add(dst, df, s->value, s->labels, s->nlabels) < 0)
				return -1;
		}
	}
	return 0;
}
