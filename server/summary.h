/* SPDX-License-Identifier: MIT */
/*
 * Per-node summaries for the JSON API and the dashboard, kept at ingest
 * time on the worker thread so that a page never scans a node's series:
 *
 *  - node figures (CPU %, memory %, load, network and disk rates summed over
 *    devices), recomputed after every applied batch from a handful of small
 *    node_* families;
 *  - tables of the node's pods, cgroups (containers, pods' own cgroups, and
 *    the node's own services: cgroups outside Kubernetes) and processes,
 *    rebuilt after a batch that carried one of the families they are made
 *    of (container_*, process_*, cobs_pod_info, cobs_container_info,
 *    kube_*), or when the state dropped families.
 *
 * Counter rates the agent does not send (container CPU seconds, cgroup I/O
 * bytes, pod network bytes, CFS periods) are derived here, the one place
 * that sees two batches: rate = (v_now - v_prev) / (t_now - t_prev), t the
 * agent's batch timestamps of the family; per-device counters are summed
 * first; no rate on the first sighting, when the sum went down (a reset, or
 * a device that left) or when the clock went back. A rebuild caused by
 * another family keeps the last rate.
 *
 * Unknown figures are NaN (null in JSON). Strings point into the state's
 * interned label sets: valid until the next cobs_state_apply or
 * cobs_state_sweep, which rebuild the tables whenever those label sets
 * could have gone. Owned by the worker thread, like the state.
 */
#ifndef COBS_SERVER_SUMMARY_H
#define COBS_SERVER_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "labelset.h"
#include "registry.h"

typedef struct cobs_summary cobs_summary;

typedef enum cobs_cg_kind {
	COBS_CG_CONTAINER = 0, /* a container of a pod */
	COBS_CG_POD = 1,       /* a pod's own cgroup (holds its containers) */
	COBS_CG_SERVICE = 2,   /* outside Kubernetes: system.slice/ssh.service, ... */
} cobs_cg_kind;

/* The node as a whole. */
typedef struct cobs_sum_node {
	double cpu_percent;    /* node_cpu_usage_percent{cpu="total"} */
	double memory_percent; /* node_memory_used_percent */
	double memory_total, memory_available;
	double load1, load5, load15;
	double net_rx, net_tx;        /* sums of node_network_*_bytes_per_second */
	double disk_read, disk_write; /* sums of node_disk_{read,written}_bytes_per_second */
	size_t cpus;                  /* node_cpu_usage_percent series other than "total" */
} cobs_sum_node;

/* One cgroup: figures of its container_* series. */
typedef struct cobs_sum_cgroup {
	cobs_cg_kind kind;
	int pod;                      /* index in pods, -1 for a service */
	const char *id;               /* label id: the cgroup's host path (NULL: not sent) */
	const char *name;             /* label container (NULL: unknown) */
	const char *container_id;     /* label container_id */
	const char *image, *runtime;  /* cobs_container_info */
	double cpu_cores;             /* rate of container_cpu_usage_seconds_total */
	double cpu_seconds;           /* container_cpu_usage_seconds_total */
	double cpu_limit_cores;       /* cpu_quota / cpu_period */
	double cpu_quota, cpu_period; /* container_spec_cpu_{quota,period}, microseconds */
	double throttled_percent;     /* 100 * Δthrottled_periods / Δperiods, last interval */
	double throttled_seconds, throttled_periods, periods; /* the counters */
	double mem_usage, mem_working_set, mem_limit, mem_max_usage;
	double mem_rss, mem_cache, mem_swap;
	double oom_kills, oom_events;
	double fs_read_bps, fs_write_bps; /* rates of container_fs_{reads,writes}_bytes_total */
	double fs_read, fs_write;         /* those counters, summed over devices */
	double threads, threads_max;
	double restarts;  /* kube_pod_container_status_restarts_total */
	size_t processes; /* processes of ours in it */
} cobs_sum_cgroup;

/* One pod, from every series naming it. */
typedef struct cobs_sum_pod {
	const char *uid, *namespace_, *name; /* NULL when not known */
	const char *qos, *phase, *host_network;
	const cobs_labelset *labels; /* kube_pod_labels' series, or NULL */
	int cgroup;                  /* index of its own cgroup in cgroups, or -1 */
	size_t containers, processes;
	double cpu_cores, mem_working_set, mem_limit;
	double net_rx_bps, net_tx_bps, net_rx, net_tx; /* container_network_*_bytes_total */
	double fs_read_bps, fs_write_bps;
	double restarts;
} cobs_sum_pod;

/* One process (process_* series). */
typedef struct cobs_sum_proc {
	const char *pid, *comm, *state, *cgroup;
	long long pidnum;
	int owner; /* index in cgroups, or -1 */
	int pod;   /* index in pods, or -1 */
	double cpu_percent, rss, memory_percent, threads, io_read_bps, io_write_bps;
} cobs_sum_proc;

/* The tables, read-only for readers. */
typedef struct cobs_sum_tables {
	cobs_sum_pod *pods;
	size_t npods;
	cobs_sum_cgroup *cgroups;
	size_t ncgroups;
	cobs_sum_proc *procs; /* by pid, ascending */
	size_t nprocs;
} cobs_sum_tables;

cobs_summary *cobs_summary_new(void);
void cobs_summary_free(cobs_summary *s);

/* Whether a family's name is one the tables are built from. */
int cobs_summary_table_family(const char *name);

/*
 * Brings s up to date with node n's latest values: the node figures always,
 * the tables when tables is nonzero. -1 when out of memory: the tables are
 * then empty until the next successful rebuild (never half-built).
 */
int cobs_summary_update(cobs_summary *s, const cobs_node *n, int tables);

const cobs_sum_node *cobs_summary_node(const cobs_summary *s);
const cobs_sum_tables *cobs_summary_tables(const cobs_summary *s);

#endif
