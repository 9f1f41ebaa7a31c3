/* SPDX-License-Identifier: MIT */
/*
 * The live state: batches in, latest values and history out. See state.h
 * for the rules; this file keeps the per-node tables (families by name,
 * interned label sets, series by label set) and feeds the history store.
 */
#include <stdlib.h>
#include <string.h>

#include "state.h"

/* Per node: its families and the label sets their series share. */
typedef struct node_values {
	cobs_state_family **families; /* in order of first appearance */
	size_t n, cap;
	cobs_hmap by_name;
	cobs_labelsets sets;
	cobs_summary *summary; /* kept current after every change (summary.h) */
	size_t open;           /* families with a collection still arriving in parts */
	int pending_tables;    /* table families the parts so far carried */
	bool released;         /* a table family's series went since the tables were rebuilt */
} node_values;

/* The batch being applied: its label arrays (shared per set by the decoder) -> interned sets. */
typedef struct set_cache {
	cobs_hmap map; /* val: index + 1 into pairs */
	struct set_pair {
		const cobs_label *labels;
		cobs_labelset *ls; /* holds a reference until the batch is done */
	} * pairs;
	size_t n, cap;
} set_cache;

struct cobs_state {
	cobs_registry reg;
	set_cache cache;
	cobs_hist_config hist_cfg;
	cobs_hist_store *hist;
	uint64_t gen; /* collection counter: series a family's collection did not carry have gone */
	char *key;    /* scratch for history keys */
	size_t keycap;
	const char **kv; /* scratch: label names and values for cobs_hist_key */
};

unsigned cobs_state_history_class(const char *family)
{
	if (strncmp(family, "process_", 8) == 0)
		return 2;
	if (strncmp(family, "container_", 10) == 0 || strncmp(family, "kube_", 5) == 0)
		return 1;
	return 0;
}

/* ---- families ---- */

static void family_clear_series(node_values *nv, cobs_state_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		cobs_labelsets_release(&nv->sets, (cobs_labelset *)f->series[i].labels);
	nv->released |= f->table && f->nseries > 0;
	f->nseries = 0;
	cobs_hmap_clear(&f->index);
}

static void family_free(node_values *nv, cobs_state_family *f)
{
	nv->open -= f->open;
	family_clear_series(nv, f);
	cobs_hmap_free(&f->index);
	free(f->series);
	free(f->name);
	free(f->help);
	free(f->unit);
	free(f);
}

static void values_free(void *p)
{
	node_values *nv = p;
	for (size_t i = 0; i < nv->n; i++)
		family_free(nv, nv->families[i]);
	free(nv->families);
	cobs_hmap_free(&nv->by_name);
	cobs_labelsets_free(&nv->sets);
	cobs_summary_free(nv->summary);
	free(nv);
}

static int family_name_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	return strcmp(((const cobs_state_family *)val)->name, key) == 0;
}

static cobs_state_family *family_find(const node_values *nv, const char *name)
{
	return (cobs_state_family *)cobs_hmap_get(&nv->by_name, cobs_hash_str(name, 0),
	                                          family_name_eq, name, NULL);
}

/* *dst = copy of src (NULL as ""), unless equal already. 0 or -1. */
static int set_str(char **dst, const char *src)
{
	if (!src)
		src = "";
	if (*dst && strcmp(*dst, src) == 0)
		return 0;
	char *c = strdup(src);
	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

static cobs_state_family *family_get(node_values *nv, const cobs_family *bf)
{
	cobs_state_family *f = family_find(nv, bf->name);
	if (!f) {
		if (nv->n == nv->cap) {
			size_t cap = nv->cap ? nv->cap * 2 : 32;
			cobs_state_family **v = realloc(nv->families, cap * sizeof(*v));
			if (!v)
				return NULL;
			nv->families = v;
			nv->cap = cap;
		}
		f = calloc(1, sizeof(*f));
		if (!f || !(f->name = strdup(bf->name)) ||
		    cobs_hmap_put(&nv->by_name, cobs_hash_str(f->name, 0), (uintptr_t)f) < 0) {
			if (f)
				free(f->name);
			free(f);
			return NULL;
		}
		f->type = bf->type;
		f->hist_class = cobs_state_history_class(f->name);
		f->table = cobs_summary_table_family(f->name) != 0;
		nv->families[nv->n++] = f;
	} else if (f->type != bf->type) {
		/* An agent upgrade changed the type: the old samples mean something else. */
		family_clear_series(nv, f);
		f->type = bf->type;
	}
	if (set_str(&f->help, bf->help) < 0 || set_str(&f->unit, bf->unit) < 0)
		return NULL;
	return f;
}

static int series_eq(uintptr_t val, const void *key, const void *ctx)
{
	const cobs_state_family *f = ctx;
	return f->series[val - 1].labels == key;
}

static cobs_state_series *series_find(const cobs_state_family *f, const cobs_labelset *ls)
{
	uintptr_t i = cobs_hmap_get(&f->index, cobs_hash_u64((uintptr_t)ls), series_eq, ls, f);
	return i ? &f->series[i - 1] : NULL;
}

static cobs_state_series *series_add(cobs_state_family *f, const cobs_labelset *ls)
{
	if (f->nseries == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		cobs_state_series *v = realloc(f->series, cap * sizeof(*v));
		if (!v)
			return NULL;
		f->series = v;
		f->cap = cap;
	}
	if (cobs_hmap_put(&f->index, cobs_hash_u64((uintptr_t)ls), f->nseries + 1) < 0)
		return NULL;
	cobs_state_series *se = &f->series[f->nseries++];
	*se = (cobs_state_series){.labels = ls};
	return se;
}

/* Drops the series this batch did not carry, keeping the others' order. */
static int family_sweep_series(node_values *nv, cobs_state_family *f, uint64_t gen)
{
	size_t keep = 0;
	for (size_t i = 0; i < f->nseries; i++) {
		if (f->series[i].gen == gen)
			f->series[keep++] = f->series[i];
		else
			cobs_labelsets_release(&nv->sets, (cobs_labelset *)f->series[i].labels);
	}
	if (keep == f->nseries)
		return 0;
	nv->released |= f->table;
	f->nseries = keep;
	cobs_hmap_clear(&f->index);
	for (size_t i = 0; i < keep; i++)
		if (cobs_hmap_put(&f->index, cobs_hash_u64((uintptr_t)f->series[i].labels), i + 1) <
		    0)
			return -1; /* cannot happen: the index only shrank, no growth needed */
	return 0;
}

/*
 * A collection may arrive in parts (Batch.more): a family's series are
 * marked with its collection's gen in every part, and the series none of
 * the parts carried are swept when the collection closes.
 */
static int family_close(node_values *nv, cobs_state_family *f)
{
	f->open = false;
	nv->open--;
	return family_sweep_series(nv, f, f->coll_gen);
}

/* The gen of the family's collection at timestamp ts, opened if new. */
static uint64_t family_open(cobs_state *s, node_values *nv, cobs_state_family *f, int64_t ts)
{
	if (f->open && f->coll_ts == ts)
		return f->coll_gen;
	if (f->open) /* the last part of its previous collection was lost: close that one */
		family_close(nv, f);
	f->open = true;
	nv->open++;
	f->coll_ts = ts;
	return f->coll_gen = ++s->gen;
}

/* A last part: every family its collection opened closes, also those it did not carry. */
static void close_collection(node_values *nv, int64_t ts)
{
	for (size_t i = 0; i < nv->n && nv->open; i++)
		if (nv->families[i]->open && nv->families[i]->coll_ts == ts)
			family_close(nv, nv->families[i]);
}

/* ---- history ---- */

/* The history key of (node, family, labels) into s->key; its length, or 0 when out of memory. */
static size_t make_key(cobs_state *s, const char *node, const char *family,
                       const cobs_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		s->kv[2 * i] = labels[i].name ? labels[i].name : "";
		s->kv[2 * i + 1] = labels[i].value ? labels[i].value : "";
	}
	s->kv[2 * n] = NULL;
	size_t len = cobs_hist_key(s->key, s->keycap, node, family, s->kv);
	if (len >= s->keycap) {
		size_t cap = len + 1;
		char *k = realloc(s->key, cap);
		if (!k)
			return 0;
		s->key = k;
		s->keycap = cap;
		cobs_hist_key(s->key, s->keycap, node, family, s->kv);
	}
	return len;
}

/*
 * A series' cached history id, besides a real one: 0 never opened, HIST_OFF
 * its history was evicted (or never had room), HIST_WANTED a view asked for
 * it since. An OFF series is opened again only when the store has room or a
 * view wants it: reopening at once would evict another series, which would
 * reopen in turn, every batch.
 */
#define HIST_OFF    UINT64_MAX
#define HIST_WANTED (UINT64_MAX - 1)

static int history_open(cobs_state *s, const cobs_node *n, const cobs_state_family *f,
                        const cobs_label *labels, size_t nlabels, cobs_hist_id *id)
{
	int wanted = *id == HIST_WANTED;
	if (!wanted && f->hist_class > 0 && !cobs_hist_store_has_room(s->hist)) {
		*id = HIST_OFF;
		return COBS_HIST_ENOMEM;
	}
	size_t len = make_key(s, n->name, f->name, labels, nlabels);
	int rc = len ? cobs_hist_store_open(s->hist, s->key, len, f->hist_class, id)
	             : COBS_HIST_ENOMEM;
	if (rc < 0)
		*id = wanted ? HIST_WANTED : 0;
	else if (wanted)
		cobs_hist_store_touch(s->hist, *id);
	return rc;
}

/* Appends one point to the series of (node, family, labels); *id caches its id. */
static void history_append(cobs_state *s, const cobs_node *n, const cobs_state_family *f,
                           const cobs_label *labels, size_t nlabels, cobs_hist_id *id, int64_t t,
                           double v, cobs_apply_result *res)
{
	int rc = COBS_HIST_ENOENT;
	if (*id && *id < HIST_WANTED) {
		rc = cobs_hist_store_append(s->hist, *id, t, v);
		if (rc == COBS_HIST_ENOENT)
			*id = HIST_OFF; /* evicted, or expired while the node was away */
	}
	if (rc == COBS_HIST_ENOENT) {
		rc = history_open(s, n, f, labels, nlabels, id);
		if (rc >= 0)
			rc = cobs_hist_store_append(s->hist, *id, t, v);
	}
	if (rc < 0)
		res->history_refused++;
}

/* ---- the batch's label sets ---- */

static int cache_eq(uintptr_t val, const void *key, const void *ctx)
{
	const set_cache *c = ctx;
	return c->pairs[val - 1].labels == key;
}

/*
 * The interned set of a sample's labels. The decoder gives every sample of
 * one label set the same array, so a set is hashed and looked up once per
 * batch, not once per sample (a process's set serves ~30 families).
 */
static cobs_labelset *batch_set(set_cache *c, node_values *nv, const cobs_sample *smp)
{
	uint64_t ph = cobs_hash_u64((uintptr_t)smp->labels);
	uintptr_t i = cobs_hmap_get(&c->map, ph, cache_eq, smp->labels, c);
	if (i)
		return c->pairs[i - 1].ls;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct set_pair *v = realloc(c->pairs, cap * sizeof(*v));
		if (!v)
			return NULL;
		c->pairs = v;
		c->cap = cap;
	}
	uint64_t h = cobs_labels_hash(smp->labels, smp->nlabels);
	cobs_labelset *ls = cobs_labelsets_intern(&nv->sets, smp->labels, smp->nlabels, h);
	if (!ls)
		return NULL;
	if (cobs_hmap_put(&c->map, ph, c->n + 1) < 0) {
		cobs_labelsets_release(&nv->sets, ls);
		return NULL;
	}
	c->pairs[c->n++] = (struct set_pair){smp->labels, ls};
	return ls;
}

/* Drops the batch's references (sets no series took go now). */
static void cache_reset(set_cache *c, node_values *nv)
{
	for (size_t i = 0; i < c->n; i++)
		cobs_labelsets_release(&nv->sets, c->pairs[i].ls);
	c->n = 0;
	cobs_hmap_clear(&c->map);
}

static void cache_free(set_cache *c)
{
	free(c->pairs);
	cobs_hmap_free(&c->map);
}

/* ---- applying a batch ---- */

static int apply_family(cobs_state *s, cobs_node *n, node_values *nv, const cobs_batch *b,
                        const cobs_family *bf, uint64_t now_ms, cobs_apply_result *res)
{
	cobs_state_family *f = family_get(nv, bf);
	if (!f)
		return -1;
	uint64_t gen = family_open(s, nv, f, b->timestamp_ms);
	f->timestamp_ms = b->timestamp_ms;
	f->updated_ms = now_ms;
	size_t next = 0; /* where the next sample's series is, most likely */
	for (size_t i = 0; i < bf->nsamples; i++) {
		const cobs_sample *smp = &bf->samples[i];
		cobs_labelset *ls = batch_set(&s->cache, nv, smp);
		if (!ls)
			return -1;
		/* agents send a family's series in the same order every time: after a
		 * series comes the one after it, unless a process came or went */
		cobs_state_series *se = next < f->nseries && f->series[next].labels == ls
		                                ? &f->series[next]
		                                : series_find(f, ls);
		if (!se) {
			if (!(se = series_add(f, ls)))
				return -1;
			ls->refs++; /* the series' own reference */
		}
		next = (size_t)(se - f->series) + 1;
		if (se->gen == gen)
			continue; /* the same labels twice in one family: the first wins */
		se->value = smp->value;
		se->gen = gen;
		res->samples++;
		if (f->type != COBS_INFO)
			history_append(s, n, f, smp->labels, smp->nlabels, &se->hist,
			               b->timestamp_ms, smp->value, res);
	}
	return b->more ? 0 : family_close(nv, f);
}

/* An earlier agent process's batch: its points may fill history, nothing else. */
static void apply_past(cobs_state *s, cobs_node *n, const cobs_batch *b, cobs_apply_result *res)
{
	for (size_t i = 0; i < b->nfamilies; i++) {
		const cobs_family *bf = b->families[i];
		if (bf->type == COBS_INFO)
			continue;
		cobs_state_family tmp = {.name = (char *)bf->name,
		                         .hist_class = cobs_state_history_class(bf->name)};
		for (size_t j = 0; j < bf->nsamples; j++) {
			cobs_hist_id id = 0;
			history_append(s, n, &tmp, bf->samples[j].labels, bf->samples[j].nlabels,
			               &id, b->timestamp_ms, bf->samples[j].value, res);
			res->samples++;
		}
	}
}

int cobs_state_apply(cobs_state *s, const cobs_wire_meta *meta, const cobs_batch *b,
                     uint64_t now_ms, int64_t now_wall_ms, cobs_apply_result *res, cobs_error *err)
{
	*res = (cobs_apply_result){0};
	cobs_node *n;
	int v = cobs_registry_admit(&s->reg, meta, b->timestamp_ms, now_ms, now_wall_ms, &n);
	if (v < 0)
		return cobs_error_set(err, "out of memory admitting a batch of node %s",
		                      meta->node);
	res->verdict = (cobs_admit)v;
	res->node = n;
	if (v == COBS_ADMIT_DUPLICATE)
		return 0;
	if (v == COBS_ADMIT_PAST) {
		apply_past(s, n, b, res);
		return 0;
	}
	if (!n->values) {
		node_values *nv = calloc(1, sizeof(node_values));
		if (!nv || !(nv->summary = cobs_summary_new())) {
			free(nv);
			return cobs_error_set(err, "out of memory for node %s", n->name);
		}
		n->values = nv;
	}
	node_values *nv = n->values;
	int rc = 0, tables = 0;
	for (size_t i = 0; i < b->nfamilies && rc == 0; i++) {
		tables |= cobs_summary_table_family(b->families[i]->name);
		if (apply_family(s, n, nv, b, b->families[i], now_ms, res) < 0)
			rc = cobs_error_set(err, "out of memory applying family %s of node %s",
			                    b->families[i]->name, n->name);
	}
	if (!b->more)
		close_collection(nv, b->timestamp_ms);
	cache_reset(&s->cache, nv);
	/* The tables are built once a collection is whole, from all its parts; but
	 * they point into label sets, so also as soon as a table family's series
	 * went (that family is among the pending ones), and after a failure
	 * (rebuilt whatever happened, or emptied). */
	nv->pending_tables |= tables;
	bool rebuild = !b->more || nv->released || rc < 0;
	cobs_summary_update(nv->summary, n, rebuild ? nv->pending_tables : 0);
	if (rebuild) {
		nv->pending_tables = 0;
		nv->released = false;
	}
	return rc;
}

size_t cobs_state_sweep(cobs_state *s, uint64_t now_ms, int64_t now_wall_ms)
{
	/* a fifth of the history per call, so a call every second covers it every 5 s
	 * without stalling the worker (at 1000 nodes a whole pass took ~0.5 s) */
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(s->hist, &st);
	cobs_hist_store_expire_some(s->hist, now_wall_ms, (uint32_t)(st.series / 5 + 1024));
	size_t dropped = 0;
	for (size_t i = 0; i < s->reg.n; i++) {
		cobs_node *n = s->reg.nodes[i];
		node_values *nv = n->values;
		if (!nv)
			continue;
		uint64_t limit = s->reg.down_after * cobs_registry_interval(&s->reg, n);
		size_t keep = 0, before = dropped;
		for (size_t j = 0; j < nv->n; j++) {
			cobs_state_family *f = nv->families[j];
			/* the node kept sending, this family did not */
			if (n->last_seen_ms > f->updated_ms + limit) {
				cobs_hmap_del(&nv->by_name, cobs_hash_str(f->name, 0),
				              (uintptr_t)f);
				family_free(nv, f);
				dropped++;
			} else {
				nv->families[keep++] = f;
			}
		}
		nv->n = keep;
		if (dropped > before) {
			cobs_summary_update(nv->summary, n, 1);
			nv->released = false;
		}
	}
	(void)now_ms;
	return dropped;
}

/* ---- life ---- */

cobs_state *cobs_state_new(const cobs_state_config *cfg)
{
	cobs_state *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	cobs_registry_init(&s->reg, cfg->stale_after, cfg->down_after, cfg->default_interval_ms);
	s->hist_cfg = cfg->history;
	s->keycap = 1024;
	s->key = malloc(s->keycap);
	s->kv = malloc((2 * COBS_WIRE_MAX_LABELS + 1) * sizeof(*s->kv));
	if (!s->key || !s->kv || cobs_hist_config_defaults(&s->hist_cfg) != COBS_HIST_OK ||
	    !(s->hist = cobs_hist_store_new(&s->hist_cfg, cfg->history_budget))) {
		cobs_state_free(s);
		return NULL;
	}
	return s;
}

void cobs_state_free(cobs_state *s)
{
	if (!s)
		return;
	cobs_registry_free(&s->reg, values_free);
	cobs_hist_store_free(s->hist);
	cache_free(&s->cache);
	free(s->key);
	free(s->kv);
	free(s);
}

/* ---- reading ---- */

const cobs_registry *cobs_state_registry(const cobs_state *s)
{
	return &s->reg;
}

size_t cobs_state_node_count(const cobs_state *s)
{
	return s->reg.n;
}

const cobs_node *cobs_state_node_at(const cobs_state *s, size_t i)
{
	return i < s->reg.n ? s->reg.nodes[i] : NULL;
}

const cobs_node *cobs_state_node_find(const cobs_state *s, const char *name)
{
	return cobs_registry_find(&s->reg, name);
}

cobs_liveness cobs_state_liveness(const cobs_state *s, const cobs_node *n, uint64_t now_ms)
{
	return cobs_registry_liveness(&s->reg, n, now_ms);
}

size_t cobs_state_family_count(const cobs_node *n)
{
	const node_values *nv = n->values;
	return nv ? nv->n : 0;
}

const cobs_state_family *cobs_state_family_at(const cobs_node *n, size_t i)
{
	const node_values *nv = n->values;
	return nv && i < nv->n ? nv->families[i] : NULL;
}

const cobs_state_family *cobs_state_family_find(const cobs_node *n, const char *name)
{
	const node_values *nv = n->values;
	return nv ? family_find(nv, name) : NULL;
}

const cobs_summary *cobs_state_summary(const cobs_node *n)
{
	const node_values *nv = n->values;
	return nv ? nv->summary : NULL;
}

size_t cobs_state_node_samples(const cobs_node *n)
{
	size_t total = 0;
	for (size_t i = 0; i < cobs_state_family_count(n); i++)
		total += cobs_state_family_at(n, i)->nseries;
	return total;
}

size_t cobs_state_series_key(const cobs_node *n, const cobs_state_family *f,
                             const cobs_state_series *se, char *buf, size_t cap)
{
	const char *kv[2 * COBS_WIRE_MAX_LABELS + 1];
	size_t nl = se->labels->n < COBS_WIRE_MAX_LABELS ? se->labels->n : COBS_WIRE_MAX_LABELS;
	for (size_t i = 0; i < nl; i++) {
		kv[2 * i] = se->labels->labels[i].name;
		kv[2 * i + 1] = se->labels->labels[i].value;
	}
	kv[2 * nl] = NULL;
	return cobs_hist_key(buf, cap, n->name, f->name, kv);
}

int64_t cobs_state_history(cobs_state *s, const char *key, size_t keylen, int64_t from, int64_t to,
                           cobs_hist_point *out, size_t cap)
{
	cobs_hist_id id;
	if (cobs_hist_store_find(s->hist, key, keylen, &id) != COBS_HIST_OK)
		return COBS_HIST_ENOENT;
	return cobs_hist_store_query(s->hist, id, from, to, out, cap);
}

void cobs_state_history_want(cobs_state *s, const cobs_state_family *f, const cobs_state_series *se)
{
	(void)s; /* the state's thread, which owns se: the cast below is this file's own memory */
	cobs_state_series *w = (cobs_state_series *)se;
	if (f->type != COBS_INFO && (w->hist == 0 || w->hist == HIST_OFF))
		w->hist = HIST_WANTED;
}

int64_t cobs_state_history_each(cobs_state *s, const char *key, size_t keylen, int64_t from,
                                int64_t to, cobs_hist_visit fn, void *ctx)
{
	cobs_hist_id id;
	if (cobs_hist_store_find(s->hist, key, keylen, &id) != COBS_HIST_OK)
		return COBS_HIST_ENOENT;
	return cobs_hist_store_each(s->hist, id, from, to, fn, ctx);
}

void cobs_state_history_stats(const cobs_state *s, cobs_hist_store_stats *st)
{
	cobs_hist_store_stats_get(s->hist, st);
}
