/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/nodes/{node}/pods (the node's pods, filtered and sorted) and
 * GET /api/v1/nodes/{node}/pods/{namespace}/{pod} (one pod: its own
 * cgroup, its containers against their limits with their processes, its
 * metadata), plus the pod and cgroup objects the node page shares. All
 * from the node's summary tables (summary.h). Shapes: docs/api.md.
 *
 * A pod is addressed by namespace and name; one whose names are not known
 * (the agent could not reach the Kubernetes API) by "_" and its UID.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "routes.h"

/* A boolean label ("true"/"false") as JSON; null when absent or neither. */
static json_t *bool_label(const char *v)
{
	if (v && strcmp(v, "true") == 0)
		return json_true();
	if (v && strcmp(v, "false") == 0)
		return json_false();
	return json_null();
}

json_t *cobs_api_pod_summary(const cobs_sum_tables *t, size_t i)
{
	const cobs_sum_pod *p = &t->pods[i];
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (cobs_api_set(o, "namespace", cobs_api_str(p->namespace_)) < 0 ||
	    cobs_api_set(o, "name", cobs_api_str(p->name)) < 0 ||
	    cobs_api_set(o, "uid", cobs_api_str(p->uid)) < 0 ||
	    cobs_api_set(o, "qos_class", cobs_api_str(p->qos)) < 0 ||
	    cobs_api_set(o, "phase", cobs_api_str(p->phase)) < 0 ||
	    cobs_api_set(o, "host_network", bool_label(p->host_network)) < 0 ||
	    cobs_api_set(o, "container_count", cobs_api_count(p->containers)) < 0 ||
	    cobs_api_set(o, "process_count", cobs_api_count(p->processes)) < 0 ||
	    cobs_api_set(o, "restarts", cobs_api_num(p->restarts)) < 0 ||
	    cobs_api_set(o, "cpu_cores", cobs_api_num(p->cpu_cores)) < 0 ||
	    cobs_api_set(o, "memory_working_set_bytes", cobs_api_num(p->mem_working_set)) < 0 ||
	    cobs_api_set(o, "memory_limit_bytes", cobs_api_num(p->mem_limit)) < 0 ||
	    cobs_api_set(o, "network_receive_bytes_per_second", cobs_api_num(p->net_rx_bps)) < 0 ||
	    cobs_api_set(o, "network_transmit_bytes_per_second", cobs_api_num(p->net_tx_bps)) < 0 ||
	    cobs_api_set(o, "network_receive_bytes_total", cobs_api_num(p->net_rx)) < 0 ||
	    cobs_api_set(o, "network_transmit_bytes_total", cobs_api_num(p->net_tx)) < 0 ||
	    cobs_api_set(o, "fs_read_bytes_per_second", cobs_api_num(p->fs_read_bps)) < 0 ||
	    cobs_api_set(o, "fs_write_bytes_per_second", cobs_api_num(p->fs_write_bps)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static const char *const kind_names[] = {"container", "pod", "service"};

/* 0 means unlimited for cAdvisor's limits: null. */
static json_t *limit(double v)
{
	return cobs_api_num(v > 0 ? v : NAN);
}

json_t *cobs_api_cgroup(const cobs_sum_tables *t, size_t i)
{
	const cobs_sum_cgroup *c = &t->cgroups[i];
	double pct = c->mem_limit > 0 ? 100.0 * c->mem_working_set / c->mem_limit : NAN;
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (cobs_api_set(o, "kind", json_string(kind_names[c->kind])) < 0 ||
	    cobs_api_set(o, "name", cobs_api_str(c->name)) < 0 ||
	    cobs_api_set(o, "container_id", cobs_api_str(c->container_id)) < 0 ||
	    cobs_api_set(o, "cgroup", cobs_api_str(c->id)) < 0 ||
	    cobs_api_set(o, "image", cobs_api_str(c->image)) < 0 ||
	    cobs_api_set(o, "runtime", cobs_api_str(c->runtime)) < 0 ||
	    cobs_api_set(o, "restarts", cobs_api_num(c->restarts)) < 0 ||
	    cobs_api_set(o, "process_count", cobs_api_count(c->processes)) < 0 ||
	    cobs_api_set(o, "cpu_cores", cobs_api_num(c->cpu_cores)) < 0 ||
	    cobs_api_set(o, "cpu_seconds_total", cobs_api_num(c->cpu_seconds)) < 0 ||
	    cobs_api_set(o, "cpu_limit_cores", cobs_api_num(c->cpu_limit_cores)) < 0 ||
	    cobs_api_set(o, "cpu_throttled_percent", cobs_api_num(c->throttled_percent)) < 0 ||
	    cobs_api_set(o, "cpu_throttled_seconds_total", cobs_api_num(c->throttled_seconds)) <
	            0 ||
	    cobs_api_set(o, "cpu_throttled_periods_total", cobs_api_num(c->throttled_periods)) <
	            0 ||
	    cobs_api_set(o, "cpu_periods_total", cobs_api_num(c->periods)) < 0 ||
	    cobs_api_set(o, "memory_usage_bytes", cobs_api_num(c->mem_usage)) < 0 ||
	    cobs_api_set(o, "memory_working_set_bytes", cobs_api_num(c->mem_working_set)) < 0 ||
	    cobs_api_set(o, "memory_limit_bytes", limit(c->mem_limit)) < 0 ||
	    cobs_api_set(o, "memory_limit_percent", cobs_api_num(pct)) < 0 ||
	    cobs_api_set(o, "memory_max_usage_bytes", cobs_api_num(c->mem_max_usage)) < 0 ||
	    cobs_api_set(o, "memory_rss_bytes", cobs_api_num(c->mem_rss)) < 0 ||
	    cobs_api_set(o, "memory_cache_bytes", cobs_api_num(c->mem_cache)) < 0 ||
	    cobs_api_set(o, "memory_swap_bytes", cobs_api_num(c->mem_swap)) < 0 ||
	    cobs_api_set(o, "oom_kills_total", cobs_api_num(c->oom_kills)) < 0 ||
	    cobs_api_set(o, "oom_events_total", cobs_api_num(c->oom_events)) < 0 ||
	    cobs_api_set(o, "fs_read_bytes_per_second", cobs_api_num(c->fs_read_bps)) < 0 ||
	    cobs_api_set(o, "fs_write_bytes_per_second", cobs_api_num(c->fs_write_bps)) < 0 ||
	    cobs_api_set(o, "fs_read_bytes_total", cobs_api_num(c->fs_read)) < 0 ||
	    cobs_api_set(o, "fs_write_bytes_total", cobs_api_num(c->fs_write)) < 0 ||
	    cobs_api_set(o, "threads", cobs_api_num(c->threads)) < 0 ||
	    cobs_api_set(o, "threads_max", limit(c->threads_max)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- the pod list ---- */

typedef enum pod_sort {
	PS_NAME,
	PS_NAMESPACE,
	PS_CPU,
	PS_MEMORY,
	PS_NETWORK,
	PS_IO,
	PS_RESTARTS,
	PS_PROCESSES,
	PS_COUNT
} pod_sort;

static const char *const pod_sorts[PS_COUNT] = {"name",    "namespace", "cpu",      "memory",
                                                "network", "io",        "restarts", "processes"};

static int sort_of(const char *s)
{
	for (int i = 0; i < PS_COUNT; i++)
		if (strcmp(s, pod_sorts[i]) == 0)
			return i;
	return -1;
}

typedef struct pod_item {
	const cobs_sum_pod *p;
	size_t row;
	double key;
	pod_sort by;
	int desc;
} pod_item;

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* namespace, name, uid: the order a person scans a pod list in. */
static int name_cmp(const cobs_sum_pod *a, const cobs_sum_pod *b, int name_first)
{
	int c = name_first ? strcmp(or_empty(a->name), or_empty(b->name))
	                   : strcmp(or_empty(a->namespace_), or_empty(b->namespace_));
	if (!c)
		c = name_first ? strcmp(or_empty(a->namespace_), or_empty(b->namespace_))
		               : strcmp(or_empty(a->name), or_empty(b->name));
	return c ? c : strcmp(or_empty(a->uid), or_empty(b->uid));
}

static int pod_cmp(const void *a, const void *b)
{
	const pod_item *x = a, *y = b;
	if (x->by == PS_NAME || x->by == PS_NAMESPACE) {
		int c = name_cmp(x->p, y->p, x->by == PS_NAME);
		return x->desc ? -c : c;
	}
	int c = cobs_api_cmp_num(x->key, y->key, x->desc);
	return c ? c : name_cmp(x->p, y->p, 0);
}

static double pod_key(const cobs_sum_pod *p, pod_sort by)
{
	switch (by) {
	case PS_CPU:
		return p->cpu_cores;
	case PS_MEMORY:
		return p->mem_working_set;
	case PS_NETWORK:
		return p->net_rx_bps + p->net_tx_bps;
	case PS_IO:
		return p->fs_read_bps + p->fs_write_bps;
	case PS_RESTARTS:
		return p->restarts;
	case PS_PROCESSES:
		return (double)p->processes;
	default:
		return 0;
	}
}

json_t *cobs_api_pod_list(const cobs_sum_tables *t, const char *sort, int desc, const char *ns,
                          const char *filter, size_t *total)
{
	int by = sort_of(sort);
	pod_item *v = malloc((t->npods + 1) * sizeof(*v));
	json_t *out = json_array();
	if (by < 0 || !v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < t->npods; i++) {
		const cobs_sum_pod *p = &t->pods[i];
		if (ns && strcmp(ns, or_empty(p->namespace_)) != 0)
			continue;
		if (filter && !cobs_api_contains(or_empty(p->name), filter) &&
		    !cobs_api_contains(or_empty(p->uid), filter))
			continue;
		v[k++] = (pod_item){p, i, pod_key(p, (pod_sort)by), (pod_sort)by, desc};
	}
	qsort(v, k, sizeof(*v), pod_cmp);
	for (size_t i = 0; i < k; i++)
		if (cobs_api_push(out, cobs_api_pod_summary(t, v[i].row)) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	free(v);
	*total = k;
	return out;
}

static const cobs_sum_tables no_tables;

static const cobs_sum_tables *tables_of(const cobs_node *n)
{
	const cobs_summary *s = cobs_state_summary(n);
	return s ? cobs_summary_tables(s) : &no_tables;
}

static void pods_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	const char *sort = cobs_api_param_get(p, "sort");
	const char *order = cobs_api_param_get(p, "order");
	const char *ns = cobs_api_param_get(p, "namespace");
	const char *filter = cobs_api_param_get(p, "filter");
	if (!sort)
		sort = "name";
	if (sort_of(sort) < 0) {
		cobs_api_error(aj, 400,
		               "sort must be one of name, namespace, cpu, memory, network, io, "
		               "restarts, processes");
		return;
	}
	int desc = sort_of(sort) > PS_NAMESPACE;
	if (order && strcmp(order, "asc") == 0) {
		desc = 0;
	} else if (order && strcmp(order, "desc") == 0) {
		desc = 1;
	} else if (order) {
		cobs_api_error(aj, 400, "order must be asc or desc");
		return;
	}
	const cobs_node *n = cobs_api_find_node(aj, st);
	if (!n)
		return;
	size_t total = 0;
	json_t *list = cobs_api_pod_list(tables_of(n), sort, desc, ns, filter, &total);
	json_t *o = json_object();
	if (!list || !o || cobs_api_set(o, "node", cobs_api_str(n->name)) < 0 ||
	    cobs_api_set(o, "total", cobs_api_count(total)) < 0 ||
	    cobs_api_set(o, "pods", json_incref(list)) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(list);
	cobs_api_json(aj, 200, o);
}

int cobs_route_api_pods(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, pods_run);
}

/* ---- one pod ---- */

/* The pod at /pods/{ns}/{name}, or "_"/{uid}; -1 when none. */
static long find_pod(const cobs_sum_tables *t, const char *ns, const char *name)
{
	for (size_t i = 0; i < t->npods; i++) {
		const cobs_sum_pod *p = &t->pods[i];
		if (p->namespace_ && p->name && strcmp(p->namespace_, ns) == 0 &&
		    strcmp(p->name, name) == 0)
			return (long)i;
	}
	if (strcmp(ns, "_") == 0)
		for (size_t i = 0; i < t->npods; i++)
			if (t->pods[i].uid && strcmp(t->pods[i].uid, name) == 0)
				return (long)i;
	return -1;
}

static json_t *proc_json(const cobs_sum_proc *q)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_t *pid = q->pidnum >= 0 ? json_integer(q->pidnum) : cobs_api_str(q->pid);
	if (cobs_api_set(o, "pid", pid) < 0 || cobs_api_set(o, "comm", cobs_api_str(q->comm)) < 0 ||
	    cobs_api_set(o, "state", cobs_api_str(q->state)) < 0 ||
	    cobs_api_set(o, "cpu_percent", cobs_api_num(q->cpu_percent)) < 0 ||
	    cobs_api_set(o, "resident_memory_bytes", cobs_api_num(q->rss)) < 0 ||
	    cobs_api_set(o, "memory_percent", cobs_api_num(q->memory_percent)) < 0 ||
	    cobs_api_set(o, "threads", cobs_api_num(q->threads)) < 0 ||
	    cobs_api_set(o, "io_read_bytes_per_second", cobs_api_num(q->io_read_bps)) < 0 ||
	    cobs_api_set(o, "io_write_bytes_per_second", cobs_api_num(q->io_write_bps)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cobs_api_procs(const cobs_sum_tables *t, long pod, long owner)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < t->nprocs; i++) {
		const cobs_sum_proc *q = &t->procs[i];
		if (q->pod != pod)
			continue;
		int in_container = q->owner >= 0 && t->cgroups[q->owner].kind == COBS_CG_CONTAINER;
		if (owner >= 0 ? q->owner != owner : in_container)
			continue;
		if (cobs_api_push(a, proc_json(q)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *containers_json(const cobs_sum_tables *t, long pod)
{
	cobs_api_row *v = malloc((t->ncgroups + 1) * sizeof(*v));
	json_t *a = json_array();
	size_t k = 0;
	if (!v || !a)
		goto fail;
	for (size_t i = 0; i < t->ncgroups; i++) {
		const cobs_sum_cgroup *c = &t->cgroups[i];
		if (c->pod == pod && c->kind == COBS_CG_CONTAINER)
			v[k++] = (cobs_api_row){c->name ? c->name : or_empty(c->container_id), i};
	}
	qsort(v, k, sizeof(*v), cobs_api_row_cmp);
	for (size_t i = 0; i < k; i++) {
		json_t *c = cobs_api_cgroup(t, v[i].row);
		if (cobs_api_push(a, c) < 0 ||
		    cobs_api_set(c, "processes", cobs_api_procs(t, pod, (long)v[i].row)) < 0)
			goto fail;
	}
	free(v);
	return a;
fail:
	free(v);
	json_decref(a);
	return NULL;
}

static void pod_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	(void)p;
	const cobs_node *n = cobs_api_find_node(aj, st);
	if (!n)
		return;
	const cobs_sum_tables *t = tables_of(n);
	const char *ns = aj->args.arg[1], *name = aj->args.arg[2];
	long i = find_pod(t, ns, name);
	if (i < 0) {
		cobs_api_error(aj, 404, "no pod %s/%s on node %s", ns, name, n->name);
		return;
	}
	const cobs_sum_pod *pod = &t->pods[i];
	json_t *o = json_object(), *ps = cobs_api_pod_summary(t, (size_t)i);
	if (!o || !ps || cobs_api_set(o, "node", cobs_api_str(n->name)) < 0 ||
	    cobs_api_set(o, "pod", json_incref(ps)) < 0 ||
	    cobs_api_set(ps, "labels",
	                 pod->labels
	                         ? cobs_api_labels(pod->labels,
	                                           (const char *const[]){"namespace", "pod",
	                                                                 "pod_uid", "uid", NULL},
	                                           "label_")
	                         : json_object()) < 0 ||
	    cobs_api_set(o, "cgroup",
	                 pod->cgroup >= 0 ? cobs_api_cgroup(t, (size_t)pod->cgroup) : json_null()) <
	            0 ||
	    cobs_api_set(o, "containers", containers_json(t, i)) < 0 ||
	    cobs_api_set(o, "processes", cobs_api_procs(t, i, -2)) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(ps);
	cobs_api_json(aj, 200, o);
}

int cobs_route_api_pod(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, pod_run);
}
