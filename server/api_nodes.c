/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/nodes (the fleet, sorted, filtered, one page at a time) and
 * GET /api/v1/nodes/{node} (one node: its figures, CPUs, memory,
 * interfaces, disks, pods and services). Shapes: docs/api.md.
 *
 * Cheap at 1000 nodes: a node's figures come from its summary (summary.h,
 * kept at ingest), so the list costs a sort of pointers and the rendering
 * of one page; the node page reads a handful of small node_* families.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "routes.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT     1000

typedef enum sort_key {
	BY_NAME,
	BY_STATE,
	BY_CPU,
	BY_MEMORY,
	BY_LOAD,
	BY_NETWORK,
	BY_DISK,
	BY_PODS,
	BY_PROCESSES,
	BY_LAST_SEEN,
} sort_key;

static const char *const sort_names[] = {"name",    "state", "cpu",  "memory",    "load",
                                         "network", "disk",  "pods", "processes", "last_seen"};

typedef struct row {
	const cobs_node *n;
	const cobs_sum_node *f; /* NULL before the node's first batch */
	size_t pods, procs;
	cobs_liveness state;
	double key; /* the figure sorted by */
	sort_key by;
	int desc;
} row;

static const cobs_sum_node empty_figures = {
        NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0,
};

static void row_fill(row *r, cobs_state *st, const cobs_node *n, uint64_t now)
{
	const cobs_summary *s = cobs_state_summary(n);
	const cobs_sum_tables *t = s ? cobs_summary_tables(s) : NULL;
	r->n = n;
	r->f = s ? cobs_summary_node(s) : &empty_figures;
	r->pods = t ? t->npods : 0;
	r->procs = t ? t->nprocs : 0;
	r->state = cobs_state_liveness(st, n, now);
}

static double row_key(const row *r)
{
	const cobs_sum_node *f = r->f;
	switch (r->by) {
	case BY_STATE:
		return (double)r->state;
	case BY_CPU:
		return f->cpu_percent;
	case BY_MEMORY:
		return f->memory_percent;
	case BY_LOAD:
		return f->load1;
	case BY_NETWORK:
		return f->net_rx + f->net_tx;
	case BY_DISK:
		return f->disk_read + f->disk_write;
	case BY_PODS:
		return (double)r->pods;
	case BY_PROCESSES:
		return (double)r->procs;
	case BY_LAST_SEEN:
		return (double)r->n->last_seen_ms;
	case BY_NAME:
		break;
	}
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const row *x = a, *y = b;
	int c = x->by == BY_NAME ? 0 : cobs_api_cmp_num(x->key, y->key, x->desc);
	if (!c) {
		c = strcmp(x->n->name, y->n->name);
		if (x->by == BY_NAME && x->desc)
			c = -c;
	}
	return c;
}

/* The summary object of a node (docs/api.md, "Node summary"). */
static json_t *node_json(const row *r, cobs_state *st, uint64_t now)
{
	const cobs_node *n = r->n;
	const cobs_sum_node *f = r->f;
	json_t *o = json_object();
	if (!o)
		return NULL;
	double ago = now >= n->last_seen_ms ? (double)(now - n->last_seen_ms) / 1000.0 : 0;
	if (cobs_api_set(o, "name", cobs_api_str(n->name)) < 0 ||
	    cobs_api_set(o, "state", json_string(cobs_liveness_name(r->state))) < 0 ||
	    cobs_api_set(o, "last_seen_ms", json_integer(n->last_seen_wall_ms)) < 0 ||
	    cobs_api_set(o, "last_seen_seconds_ago", cobs_api_num(ago)) < 0 ||
	    cobs_api_set(o, "agent_version", cobs_api_str(n->agent_version)) < 0 ||
	    cobs_api_set(o, "boot_id", cobs_api_str(n->boot.boot_id)) < 0 ||
	    cobs_api_set(o, "interval_ms",
	                 json_integer((json_int_t)cobs_registry_interval(cobs_state_registry(st),
	                                                                 n))) < 0 ||
	    cobs_api_set(o, "cpu_percent", cobs_api_num(f->cpu_percent)) < 0 ||
	    cobs_api_set(o, "cpu_count", f->cpus ? cobs_api_count(f->cpus) : json_null()) < 0 ||
	    cobs_api_set(o, "memory_percent", cobs_api_num(f->memory_percent)) < 0 ||
	    cobs_api_set(o, "memory_total_bytes", cobs_api_num(f->memory_total)) < 0 ||
	    cobs_api_set(o, "memory_available_bytes", cobs_api_num(f->memory_available)) < 0 ||
	    cobs_api_set(o, "load1", cobs_api_num(f->load1)) < 0 ||
	    cobs_api_set(o, "load5", cobs_api_num(f->load5)) < 0 ||
	    cobs_api_set(o, "load15", cobs_api_num(f->load15)) < 0 ||
	    cobs_api_set(o, "network_receive_bytes_per_second", cobs_api_num(f->net_rx)) < 0 ||
	    cobs_api_set(o, "network_transmit_bytes_per_second", cobs_api_num(f->net_tx)) < 0 ||
	    cobs_api_set(o, "disk_read_bytes_per_second", cobs_api_num(f->disk_read)) < 0 ||
	    cobs_api_set(o, "disk_write_bytes_per_second", cobs_api_num(f->disk_write)) < 0 ||
	    cobs_api_set(o, "pod_count", cobs_api_count(r->pods)) < 0 ||
	    cobs_api_set(o, "process_count", cobs_api_count(r->procs)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* "up,stale" into a bit per liveness. 0, or -1 for an unknown name. */
static int parse_states(const char *s, unsigned *mask)
{
	*mask = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		int found = 0;
		for (int l = 0; l < COBS_LIVENESS_COUNT; l++) {
			const char *name = cobs_liveness_name((cobs_liveness)l);
			if (len == strlen(name) && strncmp(s, name, len) == 0) {
				*mask |= 1u << l;
				found = 1;
			}
		}
		if (!found)
			return -1;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

static void nodes_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	const char *sort = cobs_api_param_get(p, "sort");
	const char *order = cobs_api_param_get(p, "order");
	const char *filter = cobs_api_param_get(p, "filter");
	const char *state = cobs_api_param_get(p, "state");
	const char *limit_s = cobs_api_param_get(p, "limit");
	const char *offset_s = cobs_api_param_get(p, "offset");
	sort_key by = BY_NAME;
	if (sort) {
		size_t i = 0;
		while (i < sizeof(sort_names) / sizeof(sort_names[0]) &&
		       strcmp(sort, sort_names[i]))
			i++;
		if (i == sizeof(sort_names) / sizeof(sort_names[0])) {
			cobs_api_error(
			        aj, 400,
			        "sort must be one of name, state, cpu, memory, load, network, "
			        "disk, pods, processes, last_seen");
			return;
		}
		by = (sort_key)i;
	}
	/* names and states read naturally ascending, figures from the largest */
	int desc = by != BY_NAME && by != BY_STATE;
	if (order && strcmp(order, "asc") == 0) {
		desc = 0;
	} else if (order && strcmp(order, "desc") == 0) {
		desc = 1;
	} else if (order) {
		cobs_api_error(aj, 400, "order must be asc or desc");
		return;
	}
	unsigned mask = (1u << COBS_LIVENESS_COUNT) - 1;
	if (state && (parse_states(state, &mask) < 0 || !mask)) {
		cobs_api_error(aj, 400, "state must be a comma-separated list of up, stale, down");
		return;
	}
	int64_t limit = DEFAULT_LIMIT, offset = 0;
	if (limit_s && cobs_api_parse_int(limit_s, 0, MAX_LIMIT, &limit) < 0) {
		cobs_api_error(aj, 400, "limit must be an integer from 0 to %d", MAX_LIMIT);
		return;
	}
	if (offset_s && cobs_api_parse_int(offset_s, 0, INT32_MAX, &offset) < 0) {
		cobs_api_error(aj, 400, "offset must be a non-negative integer");
		return;
	}

	uint64_t now = cobs_now_ms();
	size_t nn = cobs_state_node_count(st), total = 0;
	size_t by_state[COBS_LIVENESS_COUNT] = {0};
	row *rows = malloc((nn + 1) * sizeof(*rows));
	if (!rows) {
		cobs_api_error(aj, 503, "out of memory");
		return;
	}
	for (size_t i = 0; i < nn; i++) {
		row r;
		row_fill(&r, st, cobs_state_node_at(st, i), now);
		by_state[r.state]++;
		if (!(mask & (1u << r.state)) || (filter && !cobs_api_contains(r.n->name, filter)))
			continue;
		r.by = by;
		r.desc = desc;
		r.key = row_key(&r);
		rows[total++] = r;
	}
	qsort(rows, total, sizeof(*rows), row_cmp);

	json_t *o = json_object(), *list = json_array(), *states = json_object();
	int bad = !o || !list || !states;
	for (int l = 0; l < COBS_LIVENESS_COUNT && !bad; l++)
		bad = cobs_api_set(states, cobs_liveness_name((cobs_liveness)l),
		                   cobs_api_count(by_state[l])) < 0;
	for (size_t i = (size_t)offset; i < total && i < (size_t)(offset + limit) && !bad; i++)
		bad = cobs_api_push(list, node_json(&rows[i], st, now)) < 0;
	free(rows);
	if (bad || cobs_api_set(o, "total", cobs_api_count(total)) < 0 ||
	    cobs_api_set(o, "offset", json_integer(offset)) < 0 ||
	    cobs_api_set(o, "limit", json_integer(limit)) < 0 ||
	    cobs_api_set(o, "count", cobs_api_count(json_array_size(list))) < 0 ||
	    cobs_api_set(o, "states", json_incref(states)) < 0 ||
	    cobs_api_set(o, "nodes", json_incref(list)) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(states);
	json_decref(list);
	cobs_api_json(aj, 200, o);
}

int cobs_route_api_nodes(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, nodes_run);
}

/* ---- one node ---- */

/* A column of a table: a family and the key its value gets. */
typedef struct col {
	const char *family, *key;
} col;

typedef struct table {
	const char **keys; /* the label's values, one per row */
	double *v;         /* rows x ncols */
	size_t n, cap, ncols;
	cobs_hmap index; /* value hash -> row + 1 */
} table;

static int key_eq(uintptr_t val, const void *key, const void *ctx)
{
	const table *t = ctx;
	return strcmp(t->keys[val - 1], key) == 0;
}

/* The row of value k, added when new. -1 out of memory. */
static long table_row(table *t, const char *k)
{
	uint64_t h = cobs_hash_str(k, 0);
	uintptr_t i = cobs_hmap_get(&t->index, h, key_eq, k, t);
	if (i)
		return (long)i - 1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		const char **k2 = realloc(t->keys, cap * sizeof(*k2));
		if (!k2)
			return -1;
		t->keys = k2;
		double *v2 = realloc(t->v, cap * t->ncols * sizeof(*v2));
		if (!v2)
			return -1;
		t->v = v2;
		t->cap = cap;
	}
	if (cobs_hmap_put(&t->index, h, t->n + 1) < 0)
		return -1;
	t->keys[t->n] = k;
	for (size_t c = 0; c < t->ncols; c++)
		t->v[t->n * t->ncols + c] = NAN;
	return (long)t->n++;
}

/* Natural order: numbers by value ("2" before "10"), then text. */
static int natural_cmp(const char *a, const char *b)
{
	size_t da = strspn(a, "0123456789"), db = strspn(b, "0123456789");
	if (da && db && !a[da] && !b[db] && da != db)
		return da < db ? -1 : 1;
	return strcmp(a, b);
}

typedef struct order_item {
	const char *key;
	size_t row;
} order_item;

static int order_cmp(const void *a, const void *b)
{
	return natural_cmp(((const order_item *)a)->key, ((const order_item *)b)->key);
}

/*
 * The node's series of cols' families grouped by label: one object per
 * label value (keyname: value, then one key per column), in natural order.
 * Values equal to skip (may be NULL) are left out.
 */
static json_t *label_table(const cobs_node *n, const char *label, const char *keyname,
                           const col *cols, size_t ncols, const char *skip)
{
	table t = {.ncols = ncols};
	json_t *out = NULL;
	order_item *ord = NULL;
	for (size_t c = 0; c < ncols; c++) {
		const cobs_state_family *f = cobs_state_family_find(n, cols[c].family);
		for (size_t i = 0; f && i < f->nseries; i++) {
			const cobs_labelset *ls = f->series[i].labels;
			const char *k = NULL;
			for (size_t j = 0; j < ls->n && !k; j++)
				if (strcmp(ls->labels[j].name, label) == 0)
					k = ls->labels[j].value;
			if (!k || (skip && strcmp(k, skip) == 0))
				continue;
			long r = table_row(&t, k);
			if (r < 0)
				goto done;
			t.v[(size_t)r * ncols + c] = f->series[i].value;
		}
	}
	if (!(ord = malloc((t.n + 1) * sizeof(*ord))) || !(out = json_array()))
		goto done;
	for (size_t r = 0; r < t.n; r++)
		ord[r] = (order_item){t.keys[r], r};
	qsort(ord, t.n, sizeof(*ord), order_cmp);
	for (size_t r = 0; r < t.n; r++) {
		json_t *o = json_object();
		if (cobs_api_push(out, o) < 0 ||
		    cobs_api_set(o, keyname, cobs_api_str(ord[r].key)) < 0)
			goto fail;
		for (size_t c = 0; c < ncols; c++)
			if (cobs_api_set(o, cols[c].key,
			                 cobs_api_num(t.v[ord[r].row * ncols + c])) < 0)
				goto fail;
	}
	goto done;
fail:
	json_decref(out);
	out = NULL;
done:
	free(ord);
	free(t.keys);
	free(t.v);
	cobs_hmap_free(&t.index);
	return out;
}

static const col cpu_cols[] = {{"node_cpu_usage_percent", "usage_percent"}};

static const col net_cols[] = {
        {"node_network_receive_bytes_per_second", "receive_bytes_per_second"},
        {"node_network_transmit_bytes_per_second", "transmit_bytes_per_second"},
        {"node_network_receive_bytes_total", "receive_bytes_total"},
        {"node_network_transmit_bytes_total", "transmit_bytes_total"},
        {"node_network_receive_packets_total", "receive_packets_total"},
        {"node_network_transmit_packets_total", "transmit_packets_total"},
        {"node_network_receive_errs_total", "receive_errors_total"},
        {"node_network_transmit_errs_total", "transmit_errors_total"},
        {"node_network_receive_drop_total", "receive_drops_total"},
        {"node_network_transmit_drop_total", "transmit_drops_total"},
};

static const col disk_cols[] = {
        {"node_disk_read_bytes_per_second", "read_bytes_per_second"},
        {"node_disk_written_bytes_per_second", "write_bytes_per_second"},
        {"node_disk_reads_per_second", "reads_per_second"},
        {"node_disk_writes_per_second", "writes_per_second"},
        {"node_disk_read_bytes_total", "read_bytes_total"},
        {"node_disk_written_bytes_total", "written_bytes_total"},
        {"node_disk_reads_completed_total", "reads_completed_total"},
        {"node_disk_writes_completed_total", "writes_completed_total"},
        {"node_disk_io_now", "io_now"},
        {"node_disk_io_time_seconds_total", "io_time_seconds_total"},
};

/* Unlabelled node_memory_* gauges. */
static const col mem_cols[] = {
        {"node_memory_MemTotal_bytes", "total_bytes"},
        {"node_memory_MemAvailable_bytes", "available_bytes"},
        {"node_memory_used_percent", "used_percent"},
        {"node_memory_MemFree_bytes", "free_bytes"},
        {"node_memory_Buffers_bytes", "buffers_bytes"},
        {"node_memory_Cached_bytes", "cached_bytes"},
        {"node_memory_SwapTotal_bytes", "swap_total_bytes"},
        {"node_memory_SwapFree_bytes", "swap_free_bytes"},
};

static json_t *memory_json(const cobs_node *n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < sizeof(mem_cols) / sizeof(mem_cols[0]); i++) {
		const cobs_state_family *f = cobs_state_family_find(n, mem_cols[i].family);
		double v = f && f->nseries == 1 ? f->series[0].value : NAN;
		if (cobs_api_set(o, mem_cols[i].key, cobs_api_num(v)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* The node's services (cgroups outside Kubernetes), by cgroup path. */
static json_t *services_json(const cobs_sum_tables *t)
{
	cobs_api_row *v = malloc((t->ncgroups + 1) * sizeof(*v));
	json_t *out = json_array();
	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < t->ncgroups; i++)
		if (t->cgroups[i].kind == COBS_CG_SERVICE)
			v[k++] = (cobs_api_row){t->cgroups[i].id ? t->cgroups[i].id : "", i};
	qsort(v, k, sizeof(*v), cobs_api_row_cmp);
	for (size_t i = 0; i < k; i++) {
		json_t *svc = cobs_api_cgroup(t, v[i].row);
		if (cobs_api_push(out, svc) < 0 ||
		    cobs_api_set(svc, "processes", cobs_api_procs(t, -1, (long)v[i].row)) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(v);
	return out;
}

static void node_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	(void)p;
	const cobs_node *n = cobs_api_find_node(aj, st);
	if (!n)
		return;
	uint64_t now = cobs_now_ms();
	row r;
	row_fill(&r, st, n, now);
	const cobs_summary *s = cobs_state_summary(n);
	static const cobs_sum_tables none = {0};
	const cobs_sum_tables *t = s ? cobs_summary_tables(s) : &none;
	size_t total;
	json_t *o = json_object();
	if (!o || cobs_api_set(o, "node", node_json(&r, st, now)) < 0 ||
	    cobs_api_set(o, "cpus", label_table(n, "cpu", "cpu", cpu_cols, 1, "total")) < 0 ||
	    cobs_api_set(o, "memory", memory_json(n)) < 0 ||
	    cobs_api_set(o, "interfaces",
	                 label_table(n, "device", "device", net_cols,
	                             sizeof(net_cols) / sizeof(net_cols[0]), NULL)) < 0 ||
	    cobs_api_set(o, "disks",
	                 label_table(n, "device", "device", disk_cols,
	                             sizeof(disk_cols) / sizeof(disk_cols[0]), NULL)) < 0 ||
	    cobs_api_set(o, "pods", cobs_api_pod_list(t, "name", 0, NULL, NULL, &total)) < 0 ||
	    cobs_api_set(o, "services", services_json(t)) < 0) {
		json_decref(o);
		o = NULL;
	}
	cobs_api_json(aj, 200, o);
}

int cobs_route_api_node(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, node_run);
}
