/* SPDX-License-Identifier: MIT */
/*
 * Node summaries (see summary.h): the node figures, and the pod, cgroup and
 * process tables rebuilt from the node's latest series.
 *
 * A rebuild is one walk over the families the tables use (a static name
 * table maps each to a field), then a pass over the processes (whose owner
 * needs process_info's cgroup label) and a pass that derives rates and pod
 * totals. Series of one cgroup share one interned label set across
 * families, so the label scan and key lookup happen once per label set
 * (a per-rebuild cache), not once per series.
 *
 * Identity: a pod is its pod_uid, else its namespace and name; a container
 * its container_id, else its pod and container name; a pod's own cgroup its
 * pod; a service its cgroup path (label id, or process_info's cgroup).
 * Pods and cgroups are also "entities" that persist across rebuilds by that
 * key, because rates need the previous counter; an entity not seen in a
 * rebuild is forgotten.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "state.h"
#include "summary.h"

/* Counter rates an entity keeps. */
enum { R_CPU, R_PERIODS, R_THR_PERIODS, R_FS_READ, R_FS_WRITE, R_NET_RX, R_NET_TX, R_COUNT };

typedef struct rate {
	double prev;  /* counter at ts */
	int64_t ts;   /* agent ms of prev; 0: none yet */
	double per_s; /* the last rate; NaN: none */
	double delta; /* the last increase; NaN: none */
} rate;

typedef struct entity {
	uint64_t hash;
	uint64_t gen; /* the rebuild that last saw it */
	int row;      /* its row in that rebuild's pods or cgroups */
	size_t keylen;
	rate r[R_COUNT];
	char key[]; /* kind byte, then length-prefixed parts */
} entity;

/* A per-rebuild cache entry: a label set and the row it resolved to. */
typedef struct ls_row {
	const cobs_labelset *ls;
	int row;
} ls_row;

typedef struct ls_cache {
	ls_row *v;
	size_t n, cap;
	cobs_hmap index; /* pointer hash -> v index + 1 */
} ls_cache;

struct cobs_summary {
	cobs_sum_node node;
	cobs_sum_tables t;
	size_t cap_pods, cap_cgroups, cap_procs;
	entity **pod_ent, **cg_ent;    /* per row: its entity */
	const cobs_labelset **proc_ls; /* per process row: a label set naming it */
	entity **ents;                 /* every entity */
	size_t nents, cap_ents;
	cobs_hmap ent_index; /* key hash -> entity pointer */
	ls_cache cg_cache, proc_cache;
	cobs_hmap proc_index; /* pid hash -> process row + 1 */
	uint64_t gen;
	char *key;
	size_t keylen, keycap;
};

/* ---- the families the tables read ---- */

typedef enum fld {
	/* cgroup rows */
	G_CPU,
	G_PERIODS,
	G_THR_PERIODS,
	G_THR_SECONDS,
	G_QUOTA,
	G_PERIOD,
	G_MEM_USAGE,
	G_MEM_WS,
	G_MEM_LIMIT,
	G_MEM_MAX,
	G_MEM_RSS,
	G_MEM_CACHE,
	G_MEM_SWAP,
	G_OOM_KILLS,
	G_OOM_EVENTS,
	G_FS_READ,
	G_FS_WRITE,
	G_THREADS,
	G_THREADS_MAX,
	G_CTR_INFO,
	G_RESTARTS,
	/* pod rows */
	P_INFO,
	P_KUBE_INFO,
	P_LABELS,
	P_NET_RX,
	P_NET_TX,
	/* process rows */
	X_INFO,
	X_CPU,
	X_RSS,
	X_MEM,
	X_THREADS,
	X_IO_READ,
	X_IO_WRITE,
	X_START,
	FLD_COUNT
} fld;

typedef struct fam_fld {
	const char *name;
	fld f;
} fam_fld;

/* Sorted by name (bsearch). */
static const fam_fld fams[] = {
        {"cobs_container_info", G_CTR_INFO},
        {"cobs_pod_info", P_INFO},
        {"container_cpu_cfs_periods_total", G_PERIODS},
        {"container_cpu_cfs_throttled_periods_total", G_THR_PERIODS},
        {"container_cpu_cfs_throttled_seconds_total", G_THR_SECONDS},
        {"container_cpu_usage_seconds_total", G_CPU},
        {"container_fs_reads_bytes_total", G_FS_READ},
        {"container_fs_writes_bytes_total", G_FS_WRITE},
        {"container_memory_cache", G_MEM_CACHE},
        {"container_memory_max_usage_bytes", G_MEM_MAX},
        {"container_memory_oom_kills_total", G_OOM_KILLS},
        {"container_memory_rss", G_MEM_RSS},
        {"container_memory_swap", G_MEM_SWAP},
        {"container_memory_usage_bytes", G_MEM_USAGE},
        {"container_memory_working_set_bytes", G_MEM_WS},
        {"container_network_receive_bytes_total", P_NET_RX},
        {"container_network_transmit_bytes_total", P_NET_TX},
        {"container_oom_events_total", G_OOM_EVENTS},
        {"container_spec_cpu_period", G_PERIOD},
        {"container_spec_cpu_quota", G_QUOTA},
        {"container_spec_memory_limit_bytes", G_MEM_LIMIT},
        {"container_threads", G_THREADS},
        {"container_threads_max", G_THREADS_MAX},
        {"kube_pod_container_status_restarts_total", G_RESTARTS},
        {"kube_pod_info", P_KUBE_INFO},
        {"kube_pod_labels", P_LABELS},
        {"process_cpu_usage_percent", X_CPU},
        {"process_info", X_INFO},
        {"process_io_read_bytes_per_second", X_IO_READ},
        {"process_io_write_bytes_per_second", X_IO_WRITE},
        {"process_memory_percent", X_MEM},
        {"process_resident_memory_bytes", X_RSS},
        {"process_start_time_seconds", X_START},
        {"process_threads", X_THREADS},
};

static int fam_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const fam_fld *)elem)->name);
}

static int field_of(const char *name)
{
	const fam_fld *ff =
	        bsearch(name, fams, sizeof(fams) / sizeof(fams[0]), sizeof(fams[0]), fam_cmp);
	return ff ? (int)ff->f : -1;
}

int cobs_summary_table_family(const char *name)
{
	return strncmp(name, "container_", 10) == 0 || strncmp(name, "process_", 8) == 0 ||
	       strncmp(name, "kube_", 5) == 0 || strcmp(name, "cobs_pod_info") == 0 ||
	       strcmp(name, "cobs_container_info") == 0;
}

/* ---- labels that identify ---- */

typedef struct ids {
	const char *pod_uid, *ns, *pod, *container, *container_id, *id, *cgroup, *pid, *comm;
} ids;

static const char *nonempty(const char *v)
{
	return v && *v ? v : NULL;
}

static void read_ids(const cobs_labelset *ls, ids *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < ls->n; i++) {
		const char *n = ls->labels[i].name, *v = nonempty(ls->labels[i].value);
		if (strcmp(n, "pod_uid") == 0 || (strcmp(n, "uid") == 0 && !o->pod_uid))
			o->pod_uid = v;
		else if (strcmp(n, "namespace") == 0)
			o->ns = v;
		else if (strcmp(n, "pod") == 0)
			o->pod = v;
		else if (strcmp(n, "container") == 0)
			o->container = v;
		else if (strcmp(n, "container_id") == 0)
			o->container_id = v;
		else if (strcmp(n, "id") == 0)
			o->id = v;
		else if (strcmp(n, "cgroup") == 0)
			o->cgroup = v;
		else if (strcmp(n, "pid") == 0)
			o->pid = v;
		else if (strcmp(n, "comm") == 0)
			o->comm = v;
	}
}

static const char *label_of(const cobs_labelset *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->labels[i].name, name) == 0)
			return ls->labels[i].value;
	return NULL;
}

static int has_pod(const ids *d)
{
	return d->pod_uid || (d->ns && d->pod);
}

/* ---- keys and entities ---- */

static int key_grow(cobs_summary *s, size_t more)
{
	if (s->keylen + more <= s->keycap)
		return 0;
	size_t cap = s->keycap ? s->keycap : 256;
	while (cap < s->keylen + more)
		cap *= 2;
	char *k = realloc(s->key, cap);
	if (!k)
		return -1;
	s->key = k;
	s->keycap = cap;
	return 0;
}

static int key_byte(cobs_summary *s, char c)
{
	if (key_grow(s, 1) < 0)
		return -1;
	s->key[s->keylen++] = c;
	return 0;
}

/* A part, length-prefixed so that no value can make two keys equal. */
static int key_part(cobs_summary *s, const char *p)
{
	size_t n = strlen(p);
	if (key_grow(s, n + sizeof(size_t)) < 0)
		return -1;
	memcpy(s->key + s->keylen, &n, sizeof(n));
	memcpy(s->key + s->keylen + sizeof(n), p, n);
	s->keylen += n + sizeof(n);
	return 0;
}

/* The pod's identity after kind byte k. */
static int key_pod(cobs_summary *s, char k, const ids *d)
{
	s->keylen = 0;
	if (key_byte(s, k) < 0)
		return -1;
	if (d->pod_uid)
		return key_byte(s, 'u') < 0 || key_part(s, d->pod_uid) < 0 ? -1 : 0;
	return key_byte(s, 'n') < 0 || key_part(s, d->ns) < 0 || key_part(s, d->pod) < 0 ? -1 : 0;
}

static int ent_eq(uintptr_t val, const void *key, const void *ctx)
{
	const entity *e = (const entity *)val;
	const cobs_summary *s = ctx;
	(void)key;
	return e->keylen == s->keylen && memcmp(e->key, s->key, s->keylen) == 0;
}

static rate rate_none(void)
{
	return (rate){.per_s = NAN, .delta = NAN};
}

/* The entity of the key in s->key, created when absent. NULL when out of memory. */
static entity *ent_get(cobs_summary *s)
{
	uint64_t h = cobs_hash_bytes(s->key, s->keylen, 0);
	entity *e = (entity *)cobs_hmap_get(&s->ent_index, h, ent_eq, NULL, s);
	if (e)
		return e;
	if (s->nents == s->cap_ents) {
		size_t cap = s->cap_ents ? s->cap_ents * 2 : 64;
		entity **v = realloc(s->ents, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->ents = v;
		s->cap_ents = cap;
	}
	e = malloc(sizeof(*e) + s->keylen);
	if (!e)
		return NULL;
	e->hash = h;
	e->gen = 0;
	e->row = -1;
	e->keylen = s->keylen;
	for (int i = 0; i < R_COUNT; i++)
		e->r[i] = rate_none();
	memcpy(e->key, s->key, s->keylen);
	if (cobs_hmap_put(&s->ent_index, h, (uintptr_t)e) < 0) {
		free(e);
		return NULL;
	}
	s->ents[s->nents++] = e;
	return e;
}

/* Forgets the entities the last rebuild did not see. */
static void ent_sweep(cobs_summary *s)
{
	size_t keep = 0;
	for (size_t i = 0; i < s->nents; i++) {
		entity *e = s->ents[i];
		if (e->gen == s->gen) {
			s->ents[keep++] = e;
			continue;
		}
		cobs_hmap_del(&s->ent_index, e->hash, (uintptr_t)e);
		free(e);
	}
	s->nents = keep;
}

/*
 * The counter's rate over the last interval: updated when the family's
 * timestamp moved on, kept when the rebuild came from another family.
 */
static void rate_update(rate *r, double v, int64_t ts)
{
	if (isnan(v) || ts <= 0)
		return;
	if (r->ts && ts == r->ts)
		return;
	if (r->ts && ts > r->ts && v >= r->prev) {
		r->delta = v - r->prev;
		r->per_s = r->delta / ((double)(ts - r->ts) / 1000.0);
	} else {
		/* first sighting, a reset, or the agent's clock went back */
		r->delta = r->per_s = NAN;
	}
	r->prev = v;
	r->ts = ts;
}

/* ---- rows ---- */

static int grow(void **v, size_t *cap, size_t n, size_t size, void **par, size_t psize)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, c * size);
	if (!nv)
		return -1;
	*v = nv;
	void *np = realloc(*par, c * psize);
	if (!np)
		return -1;
	*par = np;
	*cap = c;
	return 0;
}

static int pod_row(cobs_summary *s, const ids *d)
{
	if (key_pod(s, 'P', d) < 0)
		return -1;
	entity *e = ent_get(s);
	if (!e)
		return -1;
	cobs_sum_tables *t = &s->t;
	if (e->gen == s->gen) {
		cobs_sum_pod *p = &t->pods[e->row];
		if (!p->uid)
			p->uid = d->pod_uid;
		if (!p->namespace_)
			p->namespace_ = d->ns;
		if (!p->name)
			p->name = d->pod;
		return e->row;
	}
	if (grow((void **)&t->pods, &s->cap_pods, t->npods, sizeof(*t->pods), (void **)&s->pod_ent,
	         sizeof(*s->pod_ent)) < 0)
		return -1;
	cobs_sum_pod *p = &t->pods[t->npods];
	*p = (cobs_sum_pod){.uid = d->pod_uid,
	                    .namespace_ = d->ns,
	                    .name = d->pod,
	                    .cgroup = -1,
	                    .cpu_cores = NAN,
	                    .mem_working_set = NAN,
	                    .mem_limit = NAN,
	                    .net_rx_bps = NAN,
	                    .net_tx_bps = NAN,
	                    .net_rx = NAN,
	                    .net_tx = NAN,
	                    .fs_read_bps = NAN,
	                    .fs_write_bps = NAN,
	                    .restarts = NAN};
	s->pod_ent[t->npods] = e;
	e->gen = s->gen;
	e->row = (int)t->npods++;
	return e->row;
}

/*
 * The cgroup row the labels name, created when new: -1 out of memory, -2
 * when they name no cgroup.
 */
static int cgroup_row(cobs_summary *s, const ids *d)
{
	cobs_cg_kind kind;
	s->keylen = 0;
	if (d->container_id) {
		kind = COBS_CG_CONTAINER;
		if (key_byte(s, 'C') < 0 || key_part(s, d->container_id) < 0)
			return -1;
	} else if (d->container && has_pod(d)) {
		kind = COBS_CG_CONTAINER;
		if (key_pod(s, 'N', d) < 0 || key_part(s, d->container) < 0)
			return -1;
	} else if (has_pod(d)) {
		kind = COBS_CG_POD;
		if (key_pod(s, 'G', d) < 0)
			return -1;
	} else if (d->id && strcmp(d->id, "/") != 0) {
		kind = COBS_CG_SERVICE;
		if (key_byte(s, 'S') < 0 || key_part(s, d->id) < 0)
			return -1;
	} else {
		return -2;
	}
	entity *e = ent_get(s);
	if (!e)
		return -1;
	cobs_sum_tables *t = &s->t;
	if (e->gen == s->gen) {
		cobs_sum_cgroup *c = &t->cgroups[e->row];
		if (!c->id)
			c->id = d->id;
		if (!c->name && kind == COBS_CG_CONTAINER)
			c->name = d->container;
		return e->row;
	}
	int pod = -1;
	if (kind != COBS_CG_SERVICE && (pod = pod_row(s, d)) < 0)
		return -1;
	if (grow((void **)&t->cgroups, &s->cap_cgroups, t->ncgroups, sizeof(*t->cgroups),
	         (void **)&s->cg_ent, sizeof(*s->cg_ent)) < 0)
		return -1;
	int row = (int)t->ncgroups++;
	cobs_sum_cgroup *c = &t->cgroups[row];
	*c = (cobs_sum_cgroup){.kind = kind,
	                       .pod = pod,
	                       .id = d->id,
	                       .name = kind == COBS_CG_CONTAINER ? d->container : NULL,
	                       .container_id = d->container_id};
	double *nums[] = {&c->cpu_quota,         &c->cpu_period,        &c->cpu_cores,
	                  &c->cpu_seconds,       &c->cpu_limit_cores,   &c->throttled_percent,
	                  &c->throttled_seconds, &c->throttled_periods, &c->periods,
	                  &c->mem_usage,         &c->mem_working_set,   &c->mem_limit,
	                  &c->mem_max_usage,     &c->mem_rss,           &c->mem_cache,
	                  &c->mem_swap,          &c->oom_kills,         &c->oom_events,
	                  &c->fs_read_bps,       &c->fs_write_bps,      &c->fs_read,
	                  &c->fs_write,          &c->threads,           &c->threads_max,
	                  &c->restarts};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		*nums[i] = NAN;
	s->cg_ent[row] = e;
	e->gen = s->gen;
	e->row = row;
	if (kind == COBS_CG_POD)
		t->pods[pod].cgroup = row;
	return row;
}

static int cache_eq(uintptr_t val, const void *key, const void *ctx)
{
	const ls_cache *c = ctx;
	return c->v[val - 1].ls == key;
}

/* The row cached for ls: >= 0, or -3 when not cached yet. */
static int cache_get(const ls_cache *c, const cobs_labelset *ls)
{
	uintptr_t i = cobs_hmap_get(&c->index, cobs_hash_u64((uintptr_t)ls), cache_eq, ls, c);
	return i ? c->v[i - 1].row : -3;
}

static int cache_put(ls_cache *c, const cobs_labelset *ls, int row)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		ls_row *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	if (cobs_hmap_put(&c->index, cobs_hash_u64((uintptr_t)ls), c->n + 1) < 0)
		return -1;
	c->v[c->n++] = (ls_row){ls, row};
	return 0;
}

static void cache_clear(ls_cache *c)
{
	c->n = 0;
	cobs_hmap_clear(&c->index);
}

static void cache_free(ls_cache *c)
{
	free(c->v);
	cobs_hmap_free(&c->index);
}

static int proc_eq(uintptr_t val, const void *key, const void *ctx)
{
	const cobs_summary *s = ctx;
	return strcmp(s->t.procs[val - 1].pid, key) == 0;
}

/* The process row of a label set with a pid label: -1 out of memory, -2 no pid. */
static int proc_row(cobs_summary *s, const cobs_labelset *ls)
{
	int row = cache_get(&s->proc_cache, ls);
	if (row != -3)
		return row;
	ids d;
	read_ids(ls, &d);
	if (!d.pid)
		return cache_put(&s->proc_cache, ls, -2) < 0 ? -1 : -2;
	cobs_sum_tables *t = &s->t;
	uint64_t h = cobs_hash_str(d.pid, 0);
	uintptr_t i = cobs_hmap_get(&s->proc_index, h, proc_eq, d.pid, s);
	if (i) {
		row = (int)i - 1;
		if (!t->procs[row].comm)
			t->procs[row].comm = d.comm;
	} else {
		if (grow((void **)&t->procs, &s->cap_procs, t->nprocs, sizeof(*t->procs),
		         (void **)&s->proc_ls, sizeof(*s->proc_ls)) < 0 ||
		    cobs_hmap_put(&s->proc_index, h, t->nprocs + 1) < 0)
			return -1;
		row = (int)t->nprocs++;
		char *end;
		long long pn = strtoll(d.pid, &end, 10);
		t->procs[row] = (cobs_sum_proc){.pid = d.pid,
		                                .comm = d.comm,
		                                .pidnum = *end ? -1 : pn,
		                                .owner = -1,
		                                .pod = -1,
		                                .cpu_percent = NAN,
		                                .rss = NAN,
		                                .memory_percent = NAN,
		                                .threads = NAN,
		                                .io_read_bps = NAN,
		                                .io_write_bps = NAN};
		s->proc_ls[row] = ls;
	}
	return cache_put(&s->proc_cache, ls, row) < 0 ? -1 : row;
}

/* ---- one rebuild ---- */

static void add(double *sum, double v)
{
	*sum = isnan(*sum) ? v : *sum + v;
}

static void set_cgroup(cobs_sum_cgroup *c, fld f, const cobs_labelset *ls, double v)
{
	switch (f) {
	case G_CPU:
		c->cpu_seconds = v;
		break;
	case G_PERIODS:
		c->periods = v;
		break;
	case G_THR_PERIODS:
		c->throttled_periods = v;
		break;
	case G_THR_SECONDS:
		c->throttled_seconds = v;
		break;
	case G_QUOTA:
		c->cpu_quota = v;
		break;
	case G_PERIOD:
		c->cpu_period = v;
		break;
	case G_MEM_USAGE:
		c->mem_usage = v;
		break;
	case G_MEM_WS:
		c->mem_working_set = v;
		break;
	case G_MEM_LIMIT:
		c->mem_limit = v;
		break;
	case G_MEM_MAX:
		c->mem_max_usage = v;
		break;
	case G_MEM_RSS:
		c->mem_rss = v;
		break;
	case G_MEM_CACHE:
		c->mem_cache = v;
		break;
	case G_MEM_SWAP:
		c->mem_swap = v;
		break;
	case G_OOM_KILLS:
		c->oom_kills = v;
		break;
	case G_OOM_EVENTS:
		c->oom_events = v;
		break;
	case G_FS_READ:
		add(&c->fs_read, v);
		break;
	case G_FS_WRITE:
		add(&c->fs_write, v);
		break;
	case G_THREADS:
		c->threads = v;
		break;
	case G_THREADS_MAX:
		c->threads_max = v;
		break;
	case G_RESTARTS:
		c->restarts = v;
		break;
	case G_CTR_INFO:
		if (!c->image)
			c->image = nonempty(label_of(ls, "image"));
		if (!c->runtime)
			c->runtime = nonempty(label_of(ls, "runtime"));
		break;
	default:
		break;
	}
}

/* A cgroup family's series. */
static int take_cgroup(cobs_summary *s, fld f, const cobs_state_family *fam)
{
	for (size_t i = 0; i < fam->nseries; i++) {
		const cobs_state_series *se = &fam->series[i];
		int row = cache_get(&s->cg_cache, se->labels);
		if (row == -3) {
			ids d;
			read_ids(se->labels, &d);
			row = cgroup_row(s, &d);
			if (row == -1 || cache_put(&s->cg_cache, se->labels, row) < 0)
				return -1;
		}
		if (row >= 0)
			set_cgroup(&s->t.cgroups[row], f, se->labels, se->value);
	}
	return 0;
}

/* A pod family's series. */
static int take_pod(cobs_summary *s, fld f, const cobs_state_family *fam)
{
	for (size_t i = 0; i < fam->nseries; i++) {
		const cobs_state_series *se = &fam->series[i];
		ids d;
		read_ids(se->labels, &d);
		if (!has_pod(&d))
			continue;
		int row = pod_row(s, &d);
		if (row < 0)
			return -1;
		cobs_sum_pod *p = &s->t.pods[row];
		switch (f) {
		case P_INFO:
		case P_KUBE_INFO:
			if (!p->qos)
				p->qos = nonempty(label_of(se->labels, "qos_class"));
			if (!p->phase)
				p->phase = nonempty(label_of(se->labels, "phase"));
			if (!p->host_network)
				p->host_network = nonempty(label_of(se->labels, "host_network"));
			break;
		case P_LABELS:
			p->labels = se->labels;
			break;
		case P_NET_RX:
			add(&p->net_rx, se->value);
			break;
		case P_NET_TX:
			add(&p->net_tx, se->value);
			break;
		default:
			break;
		}
	}
	return 0;
}

static int take_proc(cobs_summary *s, fld f, const cobs_state_family *fam)
{
	for (size_t i = 0; i < fam->nseries; i++) {
		const cobs_state_series *se = &fam->series[i];
		int row = proc_row(s, se->labels);
		if (row == -1)
			return -1;
		if (row < 0)
			continue;
		cobs_sum_proc *p = &s->t.procs[row];
		double v = se->value;
		switch (f) {
		case X_INFO:
			p->state = nonempty(label_of(se->labels, "state"));
			p->cgroup = nonempty(label_of(se->labels, "cgroup"));
			break;
		case X_CPU:
			p->cpu_percent = v;
			break;
		case X_RSS:
			p->rss = v;
			break;
		case X_MEM:
			p->memory_percent = v;
			break;
		case X_THREADS:
			p->threads = v;
			break;
		case X_IO_READ:
			p->io_read_bps = v;
			break;
		case X_IO_WRITE:
			p->io_write_bps = v;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Each process's cgroup and pod (the cgroup label came with process_info). */
static int link_procs(cobs_summary *s)
{
	for (size_t i = 0; i < s->t.nprocs; i++) {
		cobs_sum_proc *p = &s->t.procs[i];
		ids d;
		read_ids(s->proc_ls[i], &d);
		if (!d.id)
			d.id = p->cgroup;
		/* a process names its cgroup even when no container_* series does
		 * (container_metrics = false): the row is made from its labels */
		int row = cgroup_row(s, &d);
		if (row == -1)
			return -1;
		if (row >= 0) {
			p->owner = row;
			p->pod = s->t.cgroups[row].pod;
		}
	}
	return 0;
}

/* Sums of finite values; NaN when there is none. */
typedef struct fsum {
	double v;
	size_t n;
} fsum;

static void fsum_add(fsum *f, double v)
{
	if (isfinite(v)) {
		f->v += v;
		f->n++;
	}
}

static double fsum_get(const fsum *f)
{
	return f->n ? f->v : NAN;
}

/* First finite of a, b, c. */
static double first_of(double a, double b, double c)
{
	return isfinite(a) ? a : isfinite(b) ? b : c;
}

/* Per pod, while deriving: its containers' and processes' sums. */
typedef struct pod_acc {
	fsum cpu, ws, rd, wr, restarts, limit; /* containers */
	size_t unlimited;                      /* containers without a memory limit */
	fsum pcpu, prss, prd, pwr;             /* processes */
} pod_acc;

static int derive(cobs_summary *s, const int64_t *ts)
{
	cobs_sum_tables *t = &s->t;
	pod_acc *acc = calloc(t->npods + 1, sizeof(*acc));
	if (!acc)
		return -1;
	for (size_t i = 0; i < t->ncgroups; i++) {
		cobs_sum_cgroup *c = &t->cgroups[i];
		rate *r = s->cg_ent[i]->r;
		rate_update(&r[R_CPU], c->cpu_seconds, ts[G_CPU]);
		rate_update(&r[R_PERIODS], c->periods, ts[G_PERIODS]);
		rate_update(&r[R_THR_PERIODS], c->throttled_periods, ts[G_THR_PERIODS]);
		rate_update(&r[R_FS_READ], c->fs_read, ts[G_FS_READ]);
		rate_update(&r[R_FS_WRITE], c->fs_write, ts[G_FS_WRITE]);
		c->cpu_cores = isnan(c->cpu_seconds) ? NAN : r[R_CPU].per_s;
		c->fs_read_bps = isnan(c->fs_read) ? NAN : r[R_FS_READ].per_s;
		c->fs_write_bps = isnan(c->fs_write) ? NAN : r[R_FS_WRITE].per_s;
		double dp = r[R_PERIODS].delta, dt = r[R_THR_PERIODS].delta;
		if (isnan(c->periods) || isnan(c->throttled_periods) || !isfinite(dp) ||
		    !isfinite(dt))
			c->throttled_percent = NAN;
		else
			c->throttled_percent = dp > 0 ? 100.0 * dt / dp : 0.0;
		c->cpu_limit_cores =
		        c->cpu_quota > 0 && c->cpu_period > 0 ? c->cpu_quota / c->cpu_period : NAN;
		if (c->pod >= 0 && c->kind == COBS_CG_CONTAINER) {
			pod_acc *a = &acc[c->pod];
			t->pods[c->pod].containers++;
			fsum_add(&a->cpu, c->cpu_cores);
			fsum_add(&a->ws, c->mem_working_set);
			fsum_add(&a->rd, c->fs_read_bps);
			fsum_add(&a->wr, c->fs_write_bps);
			fsum_add(&a->restarts, c->restarts);
			if (c->mem_limit > 0)
				fsum_add(&a->limit, c->mem_limit);
			else
				a->unlimited++;
		}
	}
	for (size_t i = 0; i < t->nprocs; i++) {
		const cobs_sum_proc *p = &t->procs[i];
		if (p->owner >= 0)
			t->cgroups[p->owner].processes++;
		if (p->pod < 0)
			continue;
		pod_acc *a = &acc[p->pod];
		t->pods[p->pod].processes++;
		fsum_add(&a->pcpu, p->cpu_percent / 100.0);
		fsum_add(&a->prss, p->rss);
		fsum_add(&a->prd, p->io_read_bps);
		fsum_add(&a->pwr, p->io_write_bps);
	}
	for (size_t i = 0; i < t->npods; i++) {
		cobs_sum_pod *p = &t->pods[i];
		const pod_acc *a = &acc[i];
		rate *r = s->pod_ent[i]->r;
		rate_update(&r[R_NET_RX], p->net_rx, ts[P_NET_RX]);
		rate_update(&r[R_NET_TX], p->net_tx, ts[P_NET_TX]);
		p->net_rx_bps = isnan(p->net_rx) ? NAN : r[R_NET_RX].per_s;
		p->net_tx_bps = isnan(p->net_tx) ? NAN : r[R_NET_TX].per_s;
		/* the pod's own cgroup holds its containers: its figures first, then the
		 * containers' sum, then its processes' */
		const cobs_sum_cgroup *own = p->cgroup >= 0 ? &t->cgroups[p->cgroup] : NULL;
		p->cpu_cores =
		        first_of(own ? own->cpu_cores : NAN, fsum_get(&a->cpu), fsum_get(&a->pcpu));
		p->mem_working_set = first_of(own ? own->mem_working_set : NAN, fsum_get(&a->ws),
		                              fsum_get(&a->prss));
		p->fs_read_bps =
		        first_of(own ? own->fs_read_bps : NAN, fsum_get(&a->rd), fsum_get(&a->prd));
		p->fs_write_bps = first_of(own ? own->fs_write_bps : NAN, fsum_get(&a->wr),
		                           fsum_get(&a->pwr));
		/* without the pod cgroup's own, the sum of its containers' limits when every
		 * one has a limit (what Kubernetes sets the pod cgroup to) */
		if (own && own->mem_limit > 0)
			p->mem_limit = own->mem_limit;
		else
			p->mem_limit = a->unlimited ? NAN : fsum_get(&a->limit);
		p->restarts = fsum_get(&a->restarts);
	}
	free(acc);
	return 0;
}

static int proc_cmp(const void *a, const void *b)
{
	const cobs_sum_proc *x = a, *y = b;
	if (x->pidnum != y->pidnum)
		return x->pidnum < y->pidnum ? -1 : 1;
	return strcmp(x->pid, y->pid);
}

static int rebuild(cobs_summary *s, const cobs_node *n)
{
	cobs_sum_tables *t = &s->t;
	t->npods = t->ncgroups = t->nprocs = 0;
	cache_clear(&s->cg_cache);
	cache_clear(&s->proc_cache);
	cobs_hmap_clear(&s->proc_index);
	s->gen++;
	int64_t ts[FLD_COUNT] = {0};
	const cobs_state_family *procf[FLD_COUNT] = {0};
	size_t nf = cobs_state_family_count(n);
	for (size_t i = 0; i < nf; i++) {
		const cobs_state_family *f = cobs_state_family_at(n, i);
		int fl = field_of(f->name);
		if (fl < 0)
			continue;
		ts[fl] = f->timestamp_ms;
		if (fl >= X_INFO) {
			procf[fl] = f; /* after the cgroups, in a fixed order */
			continue;
		}
		if ((fl < P_INFO ? take_cgroup(s, (fld)fl, f) : take_pod(s, (fld)fl, f)) < 0)
			return -1;
	}
	for (int fl = X_INFO; fl < FLD_COUNT; fl++)
		if (procf[fl] && take_proc(s, (fld)fl, procf[fl]) < 0)
			return -1;
	if (link_procs(s) < 0 || derive(s, ts) < 0)
		return -1;
	/* nothing refers to a process row by index any more: sorting is safe */
	if (t->nprocs > 1)
		qsort(t->procs, t->nprocs, sizeof(*t->procs), proc_cmp);
	ent_sweep(s);
	return 0;
}

/* ---- node figures ---- */

static double value_of(const cobs_node *n, const char *family)
{
	const cobs_state_family *f = cobs_state_family_find(n, family);
	return f && f->nseries == 1 && f->series[0].labels->n == 0 ? f->series[0].value : NAN;
}

static double sum_of(const cobs_node *n, const char *family)
{
	const cobs_state_family *f = cobs_state_family_find(n, family);
	if (!f || !f->nseries)
		return NAN;
	double sum = 0;
	for (size_t i = 0; i < f->nseries; i++)
		sum += f->series[i].value;
	return sum;
}

static void node_figures(cobs_sum_node *o, const cobs_node *n)
{
	o->cpu_percent = NAN;
	o->cpus = 0;
	const cobs_state_family *f = cobs_state_family_find(n, "node_cpu_usage_percent");
	for (size_t i = 0; f && i < f->nseries; i++) {
		const char *cpu = label_of(f->series[i].labels, "cpu");
		if (cpu && strcmp(cpu, "total") == 0)
			o->cpu_percent = f->series[i].value;
		else if (cpu)
			o->cpus++;
	}
	o->memory_percent = value_of(n, "node_memory_used_percent");
	o->memory_total = value_of(n, "node_memory_MemTotal_bytes");
	o->memory_available = value_of(n, "node_memory_MemAvailable_bytes");
	o->load1 = value_of(n, "node_load1");
	o->load5 = value_of(n, "node_load5");
	o->load15 = value_of(n, "node_load15");
	o->net_rx = sum_of(n, "node_network_receive_bytes_per_second");
	o->net_tx = sum_of(n, "node_network_transmit_bytes_per_second");
	o->disk_read = sum_of(n, "node_disk_read_bytes_per_second");
	o->disk_write = sum_of(n, "node_disk_written_bytes_per_second");
}

/* ---- life ---- */

cobs_summary *cobs_summary_new(void)
{
	cobs_summary *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	cobs_sum_node *o = &s->node;
	o->cpu_percent = o->memory_percent = o->memory_total = o->memory_available = NAN;
	o->load1 = o->load5 = o->load15 = NAN;
	o->net_rx = o->net_tx = o->disk_read = o->disk_write = NAN;
	return s;
}

void cobs_summary_free(cobs_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nents; i++)
		free(s->ents[i]);
	free(s->ents);
	cobs_hmap_free(&s->ent_index);
	cache_free(&s->cg_cache);
	cache_free(&s->proc_cache);
	cobs_hmap_free(&s->proc_index);
	free(s->t.pods);
	free(s->t.cgroups);
	free(s->t.procs);
	free(s->pod_ent);
	free(s->cg_ent);
	free(s->proc_ls);
	free(s->key);
	free(s);
}

int cobs_summary_update(cobs_summary *s, const cobs_node *n, int tables)
{
	node_figures(&s->node, n);
	if (!tables)
		return 0;
	if (rebuild(s, n) < 0) {
		s->t.npods = s->t.ncgroups = s->t.nprocs = 0;
		return -1;
	}
	return 0;
}

const cobs_sum_node *cobs_summary_node(const cobs_summary *s)
{
	return &s->node;
}

const cobs_sum_tables *cobs_summary_tables(const cobs_summary *s)
{
	return &s->t;
}
