/*
 * The metric batch: families of samples whose strings live in an arena of
 * chunks. cobs_batch_reset rewinds the chunks instead of freeing them, so a
 * collector that produces the same shape every pass allocates nothing once
 * warmed up. Families themselves are kept across resets in an index (with
 * their name, help and unit copied once), because a collector reports the
 * same families every pass and copying their strings was a third of its
 * cost.
 */
#include <stdatomic.h>
#include <stdbool.h>
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

/* A batch that has seen more distinct families forgets them all at a reset. */
#define KNOWN_MAX 8192u

/*
 * Chunks in allocation order; `cur` is the one being filled. The family
 * index (open addressing on the name hash) holds every family this batch has
 * seen; those used in the current pass are also listed in b->families.
 */
struct cobs_arena {
	chunk *head;
	chunk *cur;
	chunk *tail;
	cobs_family **index;
	size_t index_cap; /* a power of two, at least twice `known` */
	size_t known;
	uint64_t pass;  /* starts at 1, so a zeroed family is never current */
	uint64_t epoch; /* unique among all batches; renewed when families are forgotten */
};

/* Epochs are unique process-wide, so a ref can never match another batch's family. */
static _Atomic uint64_t next_epoch = 1;

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
	if (b) {
		b->arena->pass = 1;
		b->arena->epoch = next_epoch++;
	}
	return b;
}

static void forget_families(cobs_arena *a)
{
	for (size_t i = 0; i < a->index_cap; i++) {
		if (a->index[i])
			free(a->index[i]->samples);
		free(a->index[i]);
		a->index[i] = NULL;
	}
	a->known = 0;
	a->epoch = next_epoch++; /* every ref into the old families goes stale */
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
	forget_families(b->arena);
	free(b->arena->index);
	free(b->arena);
	free(b->families);
	free(b);
}

/* Empties the families and the arena, keeping both for reuse. */
static void empty(cobs_batch *b)
{
	cobs_arena *a = b->arena;
	for (chunk *c = a->head; c; c = c->next)
		c->used = 0;
	a->cur = a->head;
	a->pass++;
	b->nfamilies = 0;
}

void cobs_batch_reset(cobs_batch *b)
{
	empty(b);
	if (b->arena->known > KNOWN_MAX) /* names that churn (a bug, or pids in names) */
		forget_families(b->arena);
	b->more = false;
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

/*
 * Names share long prefixes (node_...): hash eight bytes at a time (a
 * multiply-xorshift per word) rather than byte by byte.
 */
static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 29);
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

/* Keeps the index at most half full. 0, or -1 when out of memory. */
static int index_reserve(cobs_arena *a)
{
	if ((a->known + 1) * 2 <= a->index_cap)
		return 0;
	size_t cap = a->index_cap ? a->index_cap * 2 : 64;
	cobs_family **idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -1;
	cobs_family **old = a->index;
	size_t old_cap = a->index_cap;
	a->index = idx;
	a->index_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*index_slot(a, old[i]->name, old[i]->hash) = old[i];
	free(old);
	return 0;
}

const cobs_family *cobs_batch_find(const cobs_batch *b, const char *name)
{
	const cobs_arena *a = b->arena;
	if (!a->index_cap)
		return NULL;
	const cobs_family *f = *index_slot(a, name, name_hash(name, strlen(name)));
	return f && f->pass == a->pass ? f : NULL;
}

/* A family and its three strings in one allocation, owned by the index. */
static cobs_family *family_new(const char *name, size_t nlen, const char *help, const char *unit,
                               cobs_metric_type type, uint64_t hash)
{
	help = help ? help : "";
	unit = unit ? unit : "";
	size_t hlen = strlen(help), ulen = strlen(unit);
	cobs_family *f = malloc(sizeof(*f) + nlen + hlen + ulen + 3);
	if (!f)
		return NULL;
	char *p = (char *)(f + 1);
	*f = (cobs_family){.type = type, .hash = hash};
	f->name = memcpy(p, name, nlen + 1);
	f->help = memcpy(p + nlen + 1, help, hlen + 1);
	f->unit = memcpy(p + nlen + hlen + 2, unit, ulen + 1);
	return f;
}

static int list_family(cobs_batch *b, cobs_family *f)
{
	if (b->nfamilies == b->families_cap) {
		size_t cap = b->families_cap ? b->families_cap * 2 : 16;
		cobs_family **fam = realloc(b->families, cap * sizeof(*fam));
		if (!fam)
			return -1;
		b->families = fam;
		b->families_cap = cap;
	}
	b->families[b->nfamilies++] = f;
	return 0;
}

/* Lists a known family for the current pass, with no samples yet. */
static cobs_family *activate(cobs_batch *b, cobs_family *f, cobs_metric_type type)
{
	if (list_family(b, f) < 0)
		return NULL;
	f->type = type;
	f->nsamples = 0; /* the array stays for reuse; its labels went with the arena */
	f->pass = b->arena->pass;
	return f;
}

cobs_family *cobs_batch_family(cobs_batch *b, const char *name, const char *help, const char *unit,
                               cobs_metric_type type)
{
	cobs_arena *a = b->arena;
	size_t nlen = strlen(name);
	uint64_t hash = name_hash(name, nlen);
	if (index_reserve(a) < 0)
		return NULL;
	cobs_family **slot = index_slot(a, name, hash);
	cobs_family *f = *slot;
	if (f && f->pass == a->pass) /* already used in this pass */
		return f->type == type ? f : NULL;
	if (!f) {
		if (!(f = family_new(name, nlen, help, unit, type, hash)))
			return NULL;
		*slot = f;
		a->known++;
	}
	return activate(b, f, type);
}

cobs_family *cobs_batch_family_ref(cobs_batch *b, cobs_family_ref *ref, const char *name,
                                   const char *help, const char *unit, cobs_metric_type type)
{
	cobs_family *f = ref->family;
	if (f && ref->epoch == b->arena->epoch) {
		if (f->pass == b->arena->pass)
			return f->type == type ? f : NULL;
		return activate(b, f, type);
	}
	f = cobs_batch_family(b, name, help, unit, type);
	if (f) {
		ref->family = f;
		ref->epoch = b->arena->epoch;
	}
	return f;
}

/*
 * The labels and their strings in one arena block: one allocation per sample
 * instead of one per string, which showed in profiles of every collector.
 */
static cobs_label *copy_labels(cobs_batch *b, const cobs_label *labels, size_t n)
{
	size_t lens[2 * 16], total = n * sizeof(cobs_label);
	bool measured = n <= 16;
	for (size_t i = 0; measured && i < n; i++) {
		lens[2 * i] = strlen(labels[i].name ? labels[i].name : "") + 1;
		lens[2 * i + 1] = strlen(labels[i].value ? labels[i].value : "") + 1;
		total += lens[2 * i] + lens[2 * i + 1];
	}
	if (!measured) { /* a rare wide sample: string by string */
		cobs_label *copy = arena_alloc(b, n * sizeof(*copy));
		for (size_t i = 0; copy && i < n; i++) {
			copy[i].name = cobs_batch_strdup(b, labels[i].name);
			copy[i].value = cobs_batch_strdup(b, labels[i].value);
			if (!copy[i].name || !copy[i].value)
				return NULL;
		}
		return copy;
	}
	cobs_label *copy = arena_alloc(b, total);
	if (!copy)
		return NULL;
	char *p = (char *)(copy + n);
	for (size_t i = 0; i < n; i++) {
		copy[i].name = memcpy(p, labels[i].name ? labels[i].name : "", lens[2 * i]);
		p += lens[2 * i];
		copy[i].value = memcpy(p, labels[i].value ? labels[i].value : "", lens[2 * i + 1]);
		p += lens[2 * i + 1];
	}
	return copy;
}

/* Appends a sample whose labels already live in the batch. */
static int append_sample(cobs_family *f, double value, const cobs_label *labels, size_t nlabels)
{
	if (f->nsamples == f->cap) {
		/*
		 * The array belongs to the family and outlives resets like the
		 * family does: a steady collector reuses it and allocates nothing.
		 */
		size_t cap = f->cap ? f->cap * 2 : 4;
		cobs_sample *grown = realloc(f->samples, cap * sizeof(*grown));
		if (!grown)
			return -1;
		f->samples = grown;
		f->cap = cap;
	}
	f->samples[f->nsamples++] =
	        (cobs_sample){.labels = labels, .nlabels = nlabels, .value = value};
	return 0;
}

const cobs_label *cobs_batch_labels(cobs_batch *b, const cobs_label *labels, size_t nlabels)
{
	return nlabels ? copy_labels(b, labels, nlabels) : NULL;
}

/* A family from before a checkpoint is listed again when it gets its next sample. */
static int relist(cobs_batch *b, cobs_family *f)
{
	return f->pass == b->arena->pass || activate(b, f, f->type) ? 0 : -1;
}

int cobs_family_add_shared(cobs_batch *b, cobs_family *f, double value, const cobs_label *labels,
                           size_t nlabels)
{
	if (relist(b, f) < 0)
		return -1;
	return append_sample(f, value, labels, nlabels);
}

int cobs_family_add(cobs_batch *b, cobs_family *f, double value, const cobs_label *labels,
                    size_t nlabels)
{
	if (relist(b, f) < 0)
		return -1;
	const cobs_label *copy = NULL;
	if (nlabels && !(copy = copy_labels(b, labels, nlabels)))
		return -1;
	return append_sample(f, value, copy, nlabels);
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

void cobs_batch_set_parts(cobs_batch *b, size_t samples, void (*fn)(void *arg, cobs_batch *b),
                          void *arg)
{
	b->part_fn = samples ? fn : NULL; /* no hook: checkpoints do nothing */
	b->part_samples = samples;
	b->part_arg = arg;
}

void cobs_batch_checkpoint(cobs_batch *b)
{
	if (!b->part_fn || cobs_batch_samples(b) < b->part_samples)
		return;
	b->more = true;
	b->part_fn(b->part_arg, b);
	b->more = false;
	empty(b);
}
