/* SPDX-License-Identifier: MIT */
/*
 * The set of series: an id table (slot + generation), an open-addressing
 * hash index on the keys, and per class two LRU lists (never viewed, viewed)
 * that give the eviction victim in O(1). Figures are kept incrementally so
 * that stats and the budget check are O(1) per append.
 */
#include "store.h"

#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX (64 * 1024)

typedef struct series series;
struct series {
	cobs_hist_ring ring;
	series *prev, *next; /* in its class's never-viewed or viewed list */
	uint64_t hash;
	uint32_t slot, keylen;
	uint8_t cls, viewed;
	char key[]; /* keylen bytes and a NUL */
};

typedef struct list {
	series *head, *tail; /* head: next victim */
} list;

struct cobs_hist_store {
	cobs_hist_config cfg;
	size_t budget;
	/* ids: slot index in the low 32 bits, the slot's generation in the high ones */
	series **slots;
	uint32_t *gen;
	uint32_t *free_slots;
	uint32_t nslots, slot_cap, nfree;
	uint32_t cursor; /* cobs_hist_store_expire_some's next slot */
	/* hash index: slot + 1 per entry (0: empty), linear probing */
	uint32_t *index;
	uint32_t index_size, nseries;
	list never[COBS_HIST_CLASSES], viewed[COBS_HIST_CLASSES];
	/* running figures */
	size_t series_bytes;
	uint64_t points, stream_bits, evicted, expired;
};

/* ---- keys ---- */

static size_t put_part(char *buf, size_t cap, size_t at, const char *s)
{
	size_t n = strlen(s);
	/* the length in decimal and ':', by hand: snprintf was a fifth of ingest's time */
	char len[24];
	int ln = (int)sizeof(len);
	len[--ln] = ':';
	size_t v = n;
	do
		len[--ln] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (; ln < (int)sizeof(len); ln++, at++)
		if (at < cap)
			buf[at] = len[ln];
	for (size_t i = 0; i < n; i++, at++)
		if (at < cap)
			buf[at] = s[i];
	return at;
}

/* Whether label a sorts before label b: by name, then by position (duplicates stay stable). */
static int label_before(const char *const *l, size_t a, size_t b)
{
	int c = strcmp(l[2 * a], l[2 * b]);
	return c < 0 || (c == 0 && a < b);
}

size_t cobs_hist_key(char *buf, size_t cap, const char *node, const char *family,
                     const char *const *labels)
{
	size_t at = put_part(buf, cap, 0, node ? node : "");
	at = put_part(buf, cap, at, family ? family : "");
	size_t n = 0;
	while (labels && labels[2 * n] && labels[2 * n + 1])
		n++;
	/* Selection by "next after the previous one": no allocation, n is small. */
	size_t prev = SIZE_MAX;
	for (size_t done = 0; done < n; done++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < n; i++) {
			if (prev != SIZE_MAX && !label_before(labels, prev, i))
				continue;
			if (best == SIZE_MAX || label_before(labels, i, best))
				best = i;
		}
		at = put_part(buf, cap, at, labels[2 * best]);
		at = put_part(buf, cap, at, labels[2 * best + 1]);
		prev = best;
	}
	if (cap)
		buf[at < cap ? at : cap - 1] = '\0';
	return at;
}

/* ---- figures ---- */

static size_t series_bytes(const series *se)
{
	return sizeof(*se) - sizeof(se->ring) + se->keylen + 1 + cobs_hist_ring_bytes(&se->ring);
}

static uint64_t ring_bits(const cobs_hist_ring *r)
{
	return r->sealed_bits + r->open.nbits;
}

static void unaccount(cobs_hist_store *s, const series *se)
{
	s->series_bytes -= series_bytes(se);
	s->points -= se->ring.points;
	s->stream_bits -= ring_bits(&se->ring);
}

static void account(cobs_hist_store *s, const series *se)
{
	s->series_bytes += series_bytes(se);
	s->points += se->ring.points;
	s->stream_bits += ring_bits(&se->ring);
}

static size_t store_bytes(const cobs_hist_store *s)
{
	return sizeof(*s) + s->series_bytes +
	       (size_t)s->slot_cap *
	               (sizeof(*s->slots) + sizeof(*s->gen) + sizeof(*s->free_slots)) +
	       (size_t)s->index_size * sizeof(*s->index);
}

/* ---- LRU lists ---- */

static list *list_of(cobs_hist_store *s, const series *se)
{
	return se->viewed ? &s->viewed[se->cls] : &s->never[se->cls];
}

static void unlink_series(cobs_hist_store *s, series *se)
{
	list *l = list_of(s, se);
	if (se->prev)
		se->prev->next = se->next;
	else
		l->head = se->next;
	if (se->next)
		se->next->prev = se->prev;
	else
		l->tail = se->prev;
	se->prev = se->next = NULL;
}

static void push_tail(cobs_hist_store *s, series *se)
{
	list *l = list_of(s, se);
	se->prev = l->tail;
	se->next = NULL;
	if (l->tail)
		l->tail->next = se;
	else
		l->head = se;
	l->tail = se;
}

static void view(cobs_hist_store *s, series *se)
{
	unlink_series(s, se);
	se->viewed = 1;
	push_tail(s, se);
}

/* ---- ids and index ---- */

static cobs_hist_id make_id(const cobs_hist_store *s, uint32_t slot)
{
	return (uint64_t)s->gen[slot] << 32 | slot;
}

static series *get(const cobs_hist_store *s, cobs_hist_id id)
{
	uint32_t slot = (uint32_t)id;
	if (slot >= s->nslots || s->gen[slot] != (uint32_t)(id >> 32))
		return NULL;
	return s->slots[slot]; /* NULL for a free slot: its generation moved on */
}

/* The index position holding se's slot, or of the empty entry where key would go. */
static uint32_t probe(const cobs_hist_store *s, uint64_t h, const char *key, size_t keylen)
{
	uint32_t m = s->index_size - 1, i = (uint32_t)h & m;
	for (;; i = (i + 1) & m) {
		uint32_t e = s->index[i];
		if (!e)
			return i;
		const series *se = s->slots[e - 1];
		if (se->hash == h && se->keylen == keylen && !memcmp(se->key, key, keylen))
			return i;
	}
}

static int index_grow(cobs_hist_store *s)
{
	uint32_t size = s->index_size ? s->index_size * 2 : 64;
	if (size < s->index_size)
		return -1;
	uint32_t *idx = calloc(size, sizeof(*idx));
	if (!idx)
		return -1;
	uint32_t *old = s->index, oldsize = s->index_size;
	s->index = idx;
	s->index_size = size;
	for (uint32_t i = 0; i < oldsize; i++)
		if (old[i]) {
			const series *se = s->slots[old[i] - 1];
			s->index[probe(s, se->hash, se->key, se->keylen)] = old[i];
		}
	free(old);
	return 0;
}

/* Backward-shift deletion: linear probing without tombstones. */
static void index_remove(cobs_hist_store *s, uint32_t i)
{
	uint32_t m = s->index_size - 1, j = i;
	s->index[i] = 0;
	for (;;) {
		j = (j + 1) & m;
		uint32_t e = s->index[j];
		if (!e)
			return;
		uint32_t home = (uint32_t)s->slots[e - 1]->hash & m;
		/* Move e into the hole unless its home lies cyclically in (i, j]. */
		if ((i < j) ? (home <= i || home > j) : (home <= i && home > j)) {
			s->index[i] = e;
			s->index[j] = 0;
			i = j;
		}
	}
}

static int slots_grow(cobs_hist_store *s)
{
	uint32_t cap = s->slot_cap ? s->slot_cap * 2 : 64;
	if (cap < s->slot_cap || cap > UINT32_MAX / 2)
		return -1;
	series **sl = realloc(s->slots, cap * sizeof(*sl));
	if (!sl)
		return -1;
	s->slots = sl;
	uint32_t *g = realloc(s->gen, cap * sizeof(*g));
	if (!g)
		return -1;
	s->gen = g;
	uint32_t *f = realloc(s->free_slots, cap * sizeof(*f));
	if (!f)
		return -1;
	s->free_slots = f;
	s->slot_cap = cap; /* only now: the arrays above are all at least cap long */
	return 0;
}

/* ---- store ---- */

cobs_hist_store *cobs_hist_store_new(const cobs_hist_config *cfg, size_t budget)
{
	cobs_hist_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (cfg)
		s->cfg = *cfg;
	if (cobs_hist_config_defaults(&s->cfg) != COBS_HIST_OK || index_grow(s) < 0) {
		free(s);
		return NULL;
	}
	s->budget = budget;
	return s;
}

static void destroy(cobs_hist_store *s, series *se)
{
	unaccount(s, se);
	unlink_series(s, se);
	index_remove(s, probe(s, se->hash, se->key, se->keylen));
	s->slots[se->slot] = NULL;
	if (++s->gen[se->slot] == 0)
		s->gen[se->slot] = 1; /* generation 0 is never used, so no id is 0 */
	s->free_slots[s->nfree++] = se->slot;
	s->nseries--;
	cobs_hist_ring_free(&se->ring);
	free(se);
}

void cobs_hist_store_free(cobs_hist_store *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nslots; i++)
		if (s->slots[i]) {
			cobs_hist_ring_free(&s->slots[i]->ring);
			free(s->slots[i]);
		}
	free(s->slots);
	free(s->gen);
	free(s->free_slots);
	free(s->index);
	free(s);
}

static series *victim(cobs_hist_store *s)
{
	for (unsigned c = COBS_HIST_CLASSES - 1; c > 0; c--) {
		if (s->never[c].head)
			return s->never[c].head;
		if (s->viewed[c].head)
			return s->viewed[c].head;
	}
	return NULL;
}

static void enforce(cobs_hist_store *s)
{
	if (!s->budget || store_bytes(s) <= s->budget)
		return;
	size_t target = s->budget - s->budget / 16;
	series *v;
	while (store_bytes(s) > target && (v = victim(s))) {
		destroy(s, v);
		s->evicted++;
	}
}

int cobs_hist_store_has_room(const cobs_hist_store *s)
{
	return !s->budget || store_bytes(s) <= s->budget - s->budget / 8;
}

void cobs_hist_store_set_budget(cobs_hist_store *s, size_t budget)
{
	s->budget = budget;
	enforce(s);
}

int cobs_hist_store_find(const cobs_hist_store *s, const char *key, size_t keylen, cobs_hist_id *id)
{
	if (!key || keylen > KEY_MAX)
		return COBS_HIST_ENOENT;
	uint32_t e = s->index[probe(s, cobs_hash_bytes(key, keylen, 0), key, keylen)];
	if (!e)
		return COBS_HIST_ENOENT;
	*id = make_id(s, e - 1);
	return COBS_HIST_OK;
}

int cobs_hist_store_open(cobs_hist_store *s, const char *key, size_t keylen, unsigned cls,
                         cobs_hist_id *id)
{
	if (!key || keylen > KEY_MAX || cls >= COBS_HIST_CLASSES)
		return COBS_HIST_EINVAL;
	uint64_t h = cobs_hash_bytes(key, keylen, 0);
	uint32_t pos = probe(s, h, key, keylen);
	if (s->index[pos]) {
		*id = make_id(s, s->index[pos] - 1);
		return 0;
	}
	/* Room first, so that a failure leaves nothing half made. */
	if ((s->nseries + 1) * 2 > s->index_size) {
		if (index_grow(s) < 0)
			return COBS_HIST_ENOMEM;
		pos = probe(s, h, key, keylen);
	}
	if (!s->nfree && s->nslots == s->slot_cap && slots_grow(s) < 0)
		return COBS_HIST_ENOMEM;
	series *se = malloc(sizeof(*se) + keylen + 1);
	if (!se)
		return COBS_HIST_ENOMEM;
	memset(se, 0, sizeof(*se));
	cobs_hist_ring_init(&se->ring, &s->cfg);
	memcpy(se->key, key, keylen);
	se->key[keylen] = '\0';
	se->keylen = (uint32_t)keylen;
	se->hash = h;
	se->cls = (uint8_t)cls;
	if (s->nfree) {
		se->slot = s->free_slots[--s->nfree];
	} else {
		se->slot = s->nslots++;
		s->gen[se->slot] = 1;
	}
	s->slots[se->slot] = se;
	s->index[pos] = se->slot + 1;
	s->nseries++;
	push_tail(s, se);
	account(s, se);
	*id = make_id(s, se->slot);
	/* No eviction here: it could take this very series before its first point. */
	return 1;
}

const char *cobs_hist_store_key(const cobs_hist_store *s, cobs_hist_id id, size_t *len)
{
	const series *se = get(s, id);
	if (!se)
		return NULL;
	if (len)
		*len = se->keylen;
	return se->key;
}

int cobs_hist_store_append(cobs_hist_store *s, cobs_hist_id id, int64_t t, double v)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	unaccount(s, se);
	int rc = cobs_hist_ring_append(&se->ring, t, v);
	account(s, se);
	if (rc == COBS_HIST_OK)
		enforce(s);
	return rc;
}

int64_t cobs_hist_store_each(cobs_hist_store *s, cobs_hist_id id, int64_t from, int64_t to,
                             cobs_hist_visit fn, void *ctx)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	view(s, se);
	return cobs_hist_ring_each(&se->ring, from, to, fn, ctx);
}

int64_t cobs_hist_store_query(cobs_hist_store *s, cobs_hist_id id, int64_t from, int64_t to,
                              cobs_hist_point *out, size_t cap)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	view(s, se);
	return cobs_hist_ring_query(&se->ring, from, to, out, cap);
}

int cobs_hist_store_touch(cobs_hist_store *s, cobs_hist_id id)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	view(s, se);
	return COBS_HIST_OK;
}

int cobs_hist_store_clear(cobs_hist_store *s, cobs_hist_id id)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	unaccount(s, se);
	cobs_hist_ring_clear(&se->ring);
	account(s, se);
	return COBS_HIST_OK;
}

int cobs_hist_store_remove(cobs_hist_store *s, cobs_hist_id id)
{
	series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	destroy(s, se);
	return COBS_HIST_OK;
}

/* Retention for the series in slot i; whether it was removed. */
static int expire_slot(cobs_hist_store *s, uint32_t i, int64_t now)
{
	series *se = s->slots[i];
	if (!se)
		return 0;
	unaccount(s, se);
	cobs_hist_ring_trim(&se->ring, now);
	account(s, se);
	if (se->ring.points)
		return 0;
	destroy(s, se);
	return 1;
}

uint64_t cobs_hist_store_expire(cobs_hist_store *s, int64_t now)
{
	uint64_t removed = 0;
	for (uint32_t i = 0; i < s->nslots; i++)
		removed += (uint64_t)expire_slot(s, i, now);
	s->expired += removed;
	return removed;
}

uint64_t cobs_hist_store_expire_some(cobs_hist_store *s, int64_t now, uint32_t slots)
{
	uint64_t removed = 0;
	for (uint32_t k = 0; k < slots && s->nslots; k++) {
		if (s->cursor >= s->nslots)
			s->cursor = 0;
		removed += (uint64_t)expire_slot(s, s->cursor++, now);
	}
	s->expired += removed;
	return removed;
}

int cobs_hist_store_series_stats(const cobs_hist_store *s, cobs_hist_id id,
                                 cobs_hist_ring_stats *st)
{
	const series *se = get(s, id);
	if (!se)
		return COBS_HIST_ENOENT;
	cobs_hist_ring_stats_get(&se->ring, st);
	st->bytes = series_bytes(se);
	return COBS_HIST_OK;
}

void cobs_hist_store_stats_get(const cobs_hist_store *s, cobs_hist_store_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes = store_bytes(s);
	st->budget = s->budget;
	st->series = s->nseries;
	st->points = s->points;
	st->stream_bits = s->stream_bits;
	st->evicted = s->evicted;
	st->expired = s->expired;
	if (s->points) {
		st->bytes_per_point = (double)st->bytes / (double)s->points;
		st->stream_bytes_per_point = (double)s->stream_bits / 8.0 / (double)s->points;
	}
}
