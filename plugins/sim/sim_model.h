/*
 * A simulated Kubernetes node: its pods, containers and processes and the
 * node's own counters, kept in memory and moved forward in time. The batch a
 * real agent (cpu, mem, net, disk, procpid) would send for it is built from
 * this state by sim_batch.h. Shared by the sim plugin (cobs-agent
 * --simulate) and bench/wire_bench.c.
 *
 * Values are counter-correct: every counter only grows, by what the time
 * since the previous advance allows (a CPU accrues exactly 100 ticks a
 * second across its modes; processes share the node's busy ticks; disk and
 * network counters move with the processes' I/O), and every derived rate is
 * the delta of the counters it names divided by that same time. Label
 * strings live here and stay put between passes, so a batch points at them
 * instead of formatting them again.
 */
#ifndef COBS_SIM_MODEL_H
#define COBS_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cobs/metric.h>

#include "sim_rng.h"

#define SIM_CPU_MODES  8 /* user nice system idle iowait irq softirq steal */
#define SIM_NET_DEVS   3 /* eth0 cni0 flannel.1 */
#define SIM_NET_STATS  16
#define SIM_DISKS      2 /* nvme0n1 nvme1n1 */
#define SIM_DISK_STATS 17
#define SIM_COMM_MAX   32 /* a real comm is at most 15 bytes; hostile ones are longer */
#define SIM_KTHREADS   150u

/* What a node looks like. */
typedef struct sim_params {
	uint64_t seed;
	unsigned pods;           /* 1-3 containers each, 2 on average */
	unsigned processes;      /* two thirds of them in containers */
	unsigned cpus;           /* 4 GiB of memory per CPU */
	unsigned churn_permille; /* processes replaced per pass, per mille of processes */
	bool busy;               /* CPUs near 100 %, a few hot processes */
	bool heavy;              /* every counter starts near its maximum (wire's worst case) */
} sim_params;

typedef struct sim_pod {
	const char *ns;  /* from a pool */
	const char *qos; /* guaranteed, burstable, besteffort */
	char name[64];
	char uid[40];
	uint64_t net[4];      /* rx bytes, rx packets, tx bytes, tx packets */
	double rate;          /* bytes per second, each way */
	cobs_label labels[3]; /* namespace, pod, pod_uid */
} sim_pod;

typedef struct sim_container {
	unsigned pod;
	const char *name; /* from a pool */
	char id[72];
	char image[128];
	char cgroup[200];
	uint64_t cpu_usec, cpu_user_usec, periods, throttled, throttled_usec;
	uint64_t fs_read, fs_write;
	uint64_t cache, limit;
	uint64_t usage, anon; /* this pass: cache plus its processes' resident memory */
	unsigned procs, threads;
	cobs_label labels[6]; /* namespace, pod, container, pod_uid, container_id, id */
} sim_container;

typedef struct sim_process {
	int ctr; /* index of its container, -1 for a host process */
	bool has_rate;
	char state[2];
	char pid[12], ppid[12];
	char comm[SIM_COMM_MAX];
	char cmdline[112];
	char host_cgroup[48];                  /* a host process's cgroup */
	const char *cgroup;                    /* its container's, or host_cgroup */
	uint64_t utime, stime, cutime, cstime; /* ticks (USER_HZ 100) */
	uint64_t minflt, majflt, vctx, nvctx;
	uint64_t read_bytes, write_bytes, rchar, wchar, syscr, syscw;
	uint64_t vsize, rss, rss0, swap;
	uint64_t starttime; /* ticks after boot */
	unsigned threads, fds;
	int priority, nice;
	double weight; /* its share of the node's busy CPU */
	double io_rate;
	double cpu_pct, read_rate, write_rate; /* from the last advance, when has_rate */
	cobs_label labels[7]; /* pid, comm, [namespace, pod, container, pod_uid, container_id] */
	size_t nlabels;
} sim_process;

typedef struct sim_node {
	char name[256];
	sim_params p;
	sim_rng rng;
	sim_pod *pods;
	sim_container *ctrs;
	sim_process *procs;
	unsigned npods, nctrs, nprocs, ncpus;

	uint64_t clock_ns;  /* monotonic time of the last advance; 0 before the first */
	uint64_t uptime_ns; /* the node's uptime at clock_ns */
	double boot_time;   /* seconds since the epoch */
	bool has_rate;      /* the last advance had a previous one: rates are valid */
	uint64_t last_pid;

	double busy, busy_base;                     /* share of CPU time in use */
	uint64_t (*cpu)[SIM_CPU_MODES];             /* ticks per CPU and mode */
	double *cpu_pct;                            /* per CPU, then the total */
	uint64_t mem_total, cache, kernel, buffers; /* bytes */
	uint64_t anon;                              /* every process's resident memory */
	uint64_t net[SIM_NET_DEVS][SIM_NET_STATS];
	double net_rate[SIM_NET_DEVS][2];
	uint64_t disk[SIM_DISKS][SIM_DISK_STATS]; /* diskstats units: sectors, ms */
	double disk_rate[SIM_DISKS][4];           /* read bytes, written bytes, reads, writes /s */
	uint64_t ctxt, intr, forks;
	double load[3];
	unsigned running, blocked, threads; /* this pass */
} sim_node;

/*
 * A node named name (copied; at most 253 bytes), the index-th of its seed:
 * its pods, containers and processes, counters at plausible values for a
 * node that has been up for days. NULL when out of memory.
 */
sim_node *sim_node_new(const char *name, uint64_t index, const sim_params *p);
void sim_node_free(sim_node *n);

/*
 * Moves the node to monotonic time now_ns (wall clock wall_ms): counters
 * grow by what the time since the previous advance allows, gauges wander,
 * and a few processes are replaced by new ones. The first advance only sets
 * the clock (and the boot time from wall_ms): no rates yet. A time not after
 * the previous advance changes nothing.
 */
void sim_node_advance(sim_node *n, uint64_t now_ns, int64_t wall_ms);

#endif
