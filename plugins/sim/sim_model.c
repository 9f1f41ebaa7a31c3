/*
 * The simulated node's state and its movement in time (see sim_model.h).
 *
 * How the numbers hang together, so that a chart or an alert on simulated
 * data behaves as on a real node:
 *   - each CPU accrues exactly 100 ticks per second of the node's uptime,
 *     split over its modes by the node's busy share (a random walk around a
 *     base: high on busy nodes);
 *   - processes share 90 % of the node's user+system ticks by weight (a few
 *     heavy processes, many idle ones), so their CPU never exceeds the
 *     node's; a container's CPU is the sum of its processes';
 *   - disk bytes follow the processes' storage I/O, network bytes the pods';
 *   - memory: processes' resident sets plus caches plus the kernel's, within
 *     MemTotal;
 *   - a rate is the delta of its counter over the advance's own dt.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_model.h"
#include "sim_names.h"

#define TICKS_PER_S  100u
#define NS_PER_TICK  10000000u
#define PAGE         4096u
#define MIB          (1024u * 1024u)
#define GIB          (1024ull * MIB)
#define PID_MAX      4194304u
#define FIRST_PID    10000u
#define DAY_NS       (86400ull * 1000000000ull)
#define SHIM_PROCESS 7 /* containerd-shim in sim_system_comms: the parent of containers */

enum { M_USER, M_NICE, M_SYSTEM, M_IDLE, M_IOWAIT, M_IRQ, M_SOFTIRQ, M_STEAL };

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* A counter's starting value: log-uniform, or near hi for the wire's worst case. */
static uint64_t initial(sim_node *n, uint64_t lo, uint64_t hi)
{
	if (n->p.heavy)
		return hi / 2 + sim_below(&n->rng, hi / 2);
	return sim_log_uniform(&n->rng, lo, hi);
}

static uint64_t page_align(uint64_t v)
{
	return v & ~(uint64_t)(PAGE - 1);
}

/* ---- creation ---- */

static void wire_pod_labels(sim_pod *pod)
{
	pod->labels[0] = (cobs_label){"namespace", pod->ns};
	pod->labels[1] = (cobs_label){"pod", pod->name};
	pod->labels[2] = (cobs_label){"pod_uid", pod->uid};
}

static void wire_container_labels(sim_node *n, sim_container *k)
{
	const sim_pod *pod = &n->pods[k->pod];
	k->labels[0] = (cobs_label){"namespace", pod->ns};
	k->labels[1] = (cobs_label){"pod", pod->name};
	k->labels[2] = (cobs_label){"container", k->name};
	k->labels[3] = (cobs_label){"pod_uid", pod->uid};
	k->labels[4] = (cobs_label){"container_id", k->id};
	k->labels[5] = (cobs_label){"id", k->cgroup};
}

/* procpid's order: pid, comm, then the container's names. */
static void wire_process_labels(sim_node *n, sim_process *p)
{
	size_t k = 0;
	p->labels[k++] = (cobs_label){"pid", p->pid};
	p->labels[k++] = (cobs_label){"comm", p->comm};
	if (p->ctr >= 0) {
		const sim_container *c = &n->ctrs[p->ctr];
		const sim_pod *pod = &n->pods[c->pod];
		p->labels[k++] = (cobs_label){"namespace", pod->ns};
		p->labels[k++] = (cobs_label){"pod", pod->name};
		p->labels[k++] = (cobs_label){"container", c->name};
		p->labels[k++] = (cobs_label){"pod_uid", pod->uid};
		p->labels[k++] = (cobs_label){"container_id", c->id};
	}
	p->nlabels = k;
}

static void init_pods(sim_node *n)
{
	sim_rng *r = &n->rng;
	for (unsigned i = 0; i < n->npods; i++) {
		sim_pod *pod = &n->pods[i];
		const char *app;
		sim_name_pod(r, pod, &app);
		wire_pod_labels(pod);
		pod->rate = (double)sim_log_uniform(r, 1000, 4 * MIB);
		pod->net[0] = initial(n, 1000000, 1ull << 40);
		pod->net[1] = pod->net[0] / 800;
		pod->net[2] = initial(n, 1000000, 1ull << 40);
		pod->net[3] = pod->net[2] / 800;
		/* 1-3 containers, 2 on average: the app and up to two sidecars. */
		unsigned nc = 1 + (unsigned)sim_below(r, 3);
		for (unsigned c = 0; c < nc; c++) {
			sim_container *k = &n->ctrs[n->nctrs++];
			k->pod = i;
			sim_name_container(r, pod, app, c, k);
			wire_container_labels(n, k);
			k->limit = (1 + sim_below(r, 8)) * 512ull * MIB;
			k->cache = k->limit / 16 + sim_below(r, k->limit / 8);
			k->cpu_usec = initial(n, 1000000, 1ull << 40);
			k->cpu_user_usec = k->cpu_usec / 3 * 2;
			k->periods = initial(n, 1000, 1u << 24);
			k->throttled = k->periods / (5 + sim_below(r, 100));
			k->throttled_usec = k->throttled * 20000;
			k->fs_read = initial(n, 4096, 1ull << 36);
			k->fs_write = initial(n, 4096, 1ull << 36);
		}
	}
}

/* The counters of a process that has run for age_ticks. */
static void init_process_counters(sim_node *n, sim_process *p, uint64_t age_ticks, bool fresh)
{
	sim_rng *r = &n->rng;
	uint64_t cap = age_ticks > 10 ? age_ticks : 10;
	p->utime = fresh ? sim_below(r, 3) : initial(n, 10, cap < 10000000 ? cap : 10000000);
	p->stime = p->utime / 4;
	p->cutime = fresh ? 0 : sim_below(r, 1000);
	p->cstime = p->cutime / 3;
	p->minflt = fresh ? 100 + sim_below(r, 1000) : initial(n, 100, 1ull << 32);
	p->majflt = fresh ? 0 : initial(n, 1, 5000);
	p->vctx = fresh ? 1 + sim_below(r, 20) : initial(n, 10, 1ull << 28);
	p->nvctx = p->vctx / 20;
	p->read_bytes = fresh ? 0 : page_align(initial(n, PAGE, 1ull << 40));
	p->write_bytes = fresh ? 0 : page_align(initial(n, PAGE, 1ull << 38));
	p->rchar = p->read_bytes + (fresh ? 4096 : initial(n, 1000, 1ull << 40));
	p->wchar = p->write_bytes + (fresh ? 512 : initial(n, 1000, 1ull << 38));
	p->syscr = 1 + p->rchar / 8192;
	p->syscw = 1 + p->wchar / 8192;
	p->rss0 =
	        page_align(sim_log_uniform(r, fresh ? MIB : 2 * MIB, fresh ? 64 * MIB : 512 * MIB));
	p->rss = p->rss0;
	p->vsize = page_align(p->rss * (2 + sim_below(r, 8)));
	p->swap = 0;
	p->threads = fresh ? 1 : 1 + (unsigned)sim_below(r, 64);
	p->fds = 3 + (unsigned)sim_below(r, fresh ? 10 : 500);
	p->priority = 20;
	p->nice = 0;
	p->weight = (double)sim_log_uniform(r, 1, 1000) / 1000.0;
	p->io_rate = sim_chance(r, 0.1) ? (double)sim_log_uniform(r, PAGE, 4 * MIB)
	                                : (double)sim_below(r, 1024);
	p->has_rate = false;
	snprintf(p->state, sizeof(p->state), "S");
}

/* The next PID the kernel would hand out, wrapping at pid_max. */
static uint64_t next_pid(sim_node *n)
{
	n->last_pid += 1 + sim_below(&n->rng, 40);
	if (n->last_pid >= PID_MAX)
		n->last_pid = FIRST_PID;
	return n->last_pid;
}

static void set_pids(sim_node *n, sim_process *p, uint64_t pid, uint64_t ppid)
{
	snprintf(p->pid, sizeof(p->pid), "%llu", (unsigned long long)pid);
	snprintf(p->ppid, sizeof(p->ppid), "%llu", (unsigned long long)ppid);
	wire_process_labels(n, p);
}

static uint64_t shim_pid(const sim_node *n)
{
	return n->nprocs > SHIM_PROCESS ? strtoull(n->procs[SHIM_PROCESS].pid, NULL, 10) : 1;
}

/*
 * The system processes (systemd is PID 1), the hostile ones, one process in
 * every container, more in containers up to two thirds, then host processes.
 */
static void init_processes(sim_node *n)
{
	sim_rng *r = &n->rng;
	uint64_t uptime_ticks = n->uptime_ns / NS_PER_TICK;
	unsigned in_ctrs = n->nctrs ? n->nprocs * 2 / 3 : 0;
	uint64_t pid = 1;
	n->last_pid = FIRST_PID;
	for (unsigned i = 0; i < n->nprocs; i++) {
		sim_process *p = &n->procs[i];
		unsigned fixed = i < SIM_SYSTEM ? 1 : i < SIM_SYSTEM + SIM_HOSTILE ? 2 : 0;
		unsigned j = fixed ? 0 : i - SIM_SYSTEM - SIM_HOSTILE; /* among the others */
		p->ctr = -1;
		if (fixed == 1)
			sim_name_host_process(p, sim_system_comms[i]);
		else if (fixed == 2)
			sim_name_host_process(p, sim_hostile_comms[i - SIM_SYSTEM]);
		else if (j < in_ctrs) {
			p->ctr = (int)(j < n->nctrs ? j : sim_below(r, n->nctrs));
			sim_name_process(r, &n->ctrs[p->ctr], p);
		} else {
			sim_name_process(r, NULL, p);
		}
		/* System processes start with the node; the rest any time since. */
		uint64_t start = fixed == 1 ? 200 + i * 50 + sim_below(r, 50)
		                            : 1000 + sim_below(r, uptime_ticks - 1000);
		p->starttime = start;
		init_process_counters(n, p, uptime_ticks - start, false);
		/* systemd is 1, the other system daemons next; later ones from FIRST_PID on. */
		if (i == 0)
			pid = 1;
		else if (i < SIM_SYSTEM)
			pid += 100 + sim_below(r, 200);
		else
			pid = next_pid(n);
		set_pids(n, p, pid, 1);
	}
	/* Container processes are the shim's children. */
	uint64_t shim = shim_pid(n);
	for (unsigned i = 0; i < n->nprocs; i++)
		if (n->procs[i].ctr >= 0)
			snprintf(n->procs[i].ppid, sizeof(n->procs[i].ppid), "%llu",
			         (unsigned long long)shim);
	/* A few hot processes: a busy node's work is concentrated, as in real clusters. */
	unsigned hot = n->p.busy ? 3 : 1;
	for (unsigned h = 0; h < hot && n->nprocs > SIM_SYSTEM + SIM_HOSTILE; h++) {
		unsigned i = SIM_SYSTEM + SIM_HOSTILE +
		             (unsigned)sim_below(r, n->nprocs - SIM_SYSTEM - SIM_HOSTILE);
		n->procs[i].weight = n->p.busy ? 50 : 5;
		n->procs[i].threads = 32 + (unsigned)sim_below(r, 64);
	}
	/* Resident memory scaled so processes hold a plausible share of MemTotal. */
	uint64_t sum = 0;
	for (unsigned i = 0; i < n->nprocs; i++)
		sum += n->procs[i].rss0;
	double target = (double)n->mem_total * (n->p.busy ? 0.55 : 0.2 + 0.2 * sim_unit(r));
	if (sum > target)
		for (unsigned i = 0; i < n->nprocs; i++) {
			sim_process *p = &n->procs[i];
			p->rss0 = page_align((uint64_t)((double)p->rss0 * target / (double)sum)) +
			          PAGE;
			p->rss = p->rss0;
		}
}

static void init_node_counters(sim_node *n)
{
	sim_rng *r = &n->rng;
	uint64_t ticks = n->uptime_ns / NS_PER_TICK;
	for (unsigned c = 0; c < n->ncpus; c++) {
		uint64_t *m = n->cpu[c];
		double share = clampd(n->busy_base * (0.7 + 0.6 * sim_unit(r)), 0.01, 1);
		uint64_t busy = (uint64_t)((double)ticks * share);
		m[M_NICE] = busy / 100;
		m[M_IRQ] = busy / 100;
		m[M_SOFTIRQ] = busy * 3 / 100;
		m[M_SYSTEM] = busy * 16 / 100;
		m[M_USER] = busy - m[M_NICE] - m[M_IRQ] - m[M_SOFTIRQ] - m[M_SYSTEM];
		m[M_IOWAIT] = (ticks - busy) / 100;
		m[M_IDLE] = ticks - busy - m[M_IOWAIT];
		m[M_STEAL] = 0;
	}
	for (unsigned d = 0; d < SIM_NET_DEVS; d++) {
		uint64_t *s = n->net[d];
		s[0] = initial(n, 1000000, 1ull << 44);
		s[8] = initial(n, 1000000, 1ull << 44);
		s[1] = s[0] / 900;
		s[9] = s[8] / 900;
		s[2] = sim_below(r, 10);
		s[3] = sim_below(r, 1000);
		s[7] = initial(n, 1, 1u << 20);
	}
	for (unsigned d = 0; d < SIM_DISKS; d++) {
		uint64_t *s = n->disk[d];
		s[2] = initial(n, 1000, 1ull << 33); /* sectors read */
		s[6] = initial(n, 1000, 1ull << 33); /* sectors written */
		s[0] = s[2] / 64 + 1;                /* reads: 32 KiB each */
		s[4] = s[6] / 16 + 1;                /* writes: 8 KiB each */
		s[1] = s[0] / 4;
		s[5] = s[4] / 3;
		s[3] = s[0] / 5;
		s[7] = s[4] / 3;
		s[9] = (s[3] + s[7]) / 2;
		s[10] = s[3] + s[7];
		s[11] = sim_below(r, 100000);
		s[13] = s[11] * 2048;
		s[14] = s[11] / 10;
		s[15] = s[4] / 16;
		s[16] = s[15] / 10;
	}
	n->ctxt = initial(n, 1000000, 1ull << 40);
	n->intr = initial(n, 1000000, 1ull << 40);
	n->forks = initial(n, 10000, 1ull << 24);
	for (int i = 0; i < 3; i++)
		n->load[i] = n->busy * n->ncpus;
}

/* Per-pass sums the batch reports: containers' memory and counts, the node's. */
static void settle(sim_node *n)
{
	for (unsigned i = 0; i < n->nctrs; i++) {
		sim_container *k = &n->ctrs[i];
		k->anon = k->procs = k->threads = 0;
	}
	n->anon = 0;
	n->running = n->blocked = 0;
	n->threads = SIM_KTHREADS;
	for (unsigned i = 0; i < n->nprocs; i++) {
		const sim_process *p = &n->procs[i];
		n->anon += p->rss;
		n->threads += p->threads;
		n->running += p->state[0] == 'R';
		n->blocked += p->state[0] == 'D';
		if (p->ctr >= 0) {
			sim_container *k = &n->ctrs[p->ctr];
			k->anon += p->rss;
			k->procs++;
			k->threads += p->threads;
		}
	}
	for (unsigned i = 0; i < n->nctrs; i++) {
		sim_container *k = &n->ctrs[i];
		k->usage = k->anon + k->cache;
	}
}

sim_node *sim_node_new(const char *name, uint64_t index, const sim_params *p)
{
	sim_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->p = *p;
	snprintf(n->name, sizeof(n->name), "%.253s", name);
	sim_rng_seed(&n->rng, p->seed, index);
	n->npods = p->pods;
	n->nprocs = p->processes;
	n->ncpus = p->cpus ? p->cpus : 1;
	n->pods = calloc(n->npods ? n->npods : 1, sizeof(*n->pods));
	n->ctrs = calloc(n->npods ? n->npods * 3 : 1, sizeof(*n->ctrs));
	n->procs = calloc(n->nprocs ? n->nprocs : 1, sizeof(*n->procs));
	n->cpu = calloc(n->ncpus, sizeof(*n->cpu));
	n->cpu_pct = calloc(n->ncpus + 1, sizeof(*n->cpu_pct));
	if (!n->pods || !n->ctrs || !n->procs || !n->cpu || !n->cpu_pct) {
		sim_node_free(n);
		return NULL;
	}
	sim_rng *r = &n->rng;
	n->uptime_ns = DAY_NS + sim_below(r, 29 * DAY_NS);
	n->mem_total = n->ncpus * 4 * GIB;
	n->kernel = n->mem_total / 25;
	n->buffers = n->mem_total / 100;
	n->cache = (uint64_t)((double)n->mem_total * (0.05 + 0.15 * sim_unit(r)));
	n->busy_base = p->busy ? 0.88 + 0.08 * sim_unit(r) : 0.05 + 0.35 * sim_unit(r);
	n->busy = n->busy_base;
	init_pods(n);
	init_processes(n);
	init_node_counters(n);
	/* Room for the containers' processes to grow: a limit above twice their use. */
	settle(n);
	for (unsigned i = 0; i < n->nctrs; i++) {
		sim_container *k = &n->ctrs[i];
		while (k->limit < k->anon * 5 / 2 + k->cache)
			k->limit += 512ull * MIB;
	}
	return n;
}

void sim_node_free(sim_node *n)
{
	if (!n)
		return;
	free(n->pods);
	free(n->ctrs);
	free(n->procs);
	free(n->cpu);
	free(n->cpu_pct);
	free(n);
}

/* ---- one advance ---- */

/* Splits each CPU's new ticks over its modes; returns the user+system ticks of all. */
static uint64_t advance_cpus(sim_node *n, uint64_t dticks)
{
	sim_rng *r = &n->rng;
	uint64_t work = 0, busy_all = 0;
	for (unsigned c = 0; c < n->ncpus; c++) {
		uint64_t *m = n->cpu[c];
		double share = clampd(n->busy * (0.75 + 0.5 * sim_unit(r)), 0.005, 1);
		uint64_t busy = (uint64_t)((double)dticks * share + sim_unit(r));
		if (busy > dticks)
			busy = dticks;
		uint64_t nice = busy / 100, irq = busy / 100, softirq = busy * 3 / 100,
		         system = busy * 16 / 100, user = busy - nice - irq - softirq - system;
		uint64_t rest = dticks - busy;
		uint64_t iowait = (uint64_t)((double)rest * 0.04 * sim_unit(r));
		m[M_USER] += user;
		m[M_NICE] += nice;
		m[M_SYSTEM] += system;
		m[M_IRQ] += irq;
		m[M_SOFTIRQ] += softirq;
		m[M_IOWAIT] += iowait;
		m[M_IDLE] += rest - iowait;
		/* node_cpu_usage_percent: busy = total - idle - iowait. */
		n->cpu_pct[c] = dticks ? 100.0 * (double)busy / (double)dticks : 0;
		work += user + system;
		busy_all += busy;
	}
	n->cpu_pct[n->ncpus] = dticks ? 100.0 * (double)busy_all / ((double)dticks * n->ncpus) : 0;
	return work;
}

typedef struct io_sums {
	uint64_t read, write, ctx;
} io_sums;

/* One process over dt seconds with d ticks of CPU. */
static void advance_process(sim_node *n, sim_process *p, uint64_t d, double dt, io_sums *sum)
{
	sim_rng *r = &n->rng;
	uint64_t du = d * 4 / 5, ds = d - du;
	p->utime += du;
	p->stime += ds;
	if (sim_chance(r, 0.02)) {
		p->cutime += sim_below(r, 10);
		p->cstime += sim_below(r, 3);
	}
	p->minflt += d * (5 + sim_below(r, 45)) + sim_below(r, 20);
	p->majflt += sim_chance(r, 0.01);
	uint64_t dv = (uint64_t)(dt * (1 + 50 * p->weight)) + d * 2 + sim_below(r, 3);
	uint64_t dnv = dv / 20 + sim_below(r, 2);
	p->vctx += dv;
	p->nvctx += dnv;
	uint64_t dr = page_align((uint64_t)(p->io_rate * dt * (0.5 + sim_unit(r))));
	uint64_t dw = page_align((uint64_t)(p->io_rate * 0.5 * dt * (0.5 + sim_unit(r))));
	uint64_t drc = dr + (uint64_t)(dt * (double)sim_below(r, 65536));
	uint64_t dwc = dw + (uint64_t)(dt * (double)sim_below(r, 16384));
	p->read_bytes += dr;
	p->write_bytes += dw;
	p->rchar += drc;
	p->wchar += dwc;
	p->syscr += drc / 8192 + (drc > 0);
	p->syscw += dwc / 8192 + (dwc > 0);
	/* Resident memory wanders within half and twice where it started. */
	int64_t step = (int64_t)((sim_unit(r) - 0.5) * 0.04 * (double)p->rss0);
	int64_t rss = (int64_t)p->rss + step;
	rss = rss < (int64_t)(p->rss0 / 2)   ? (int64_t)(p->rss0 / 2)
	      : rss > (int64_t)(p->rss0 * 2) ? (int64_t)(p->rss0 * 2)
	                                     : rss;
	p->rss = page_align((uint64_t)rss) + PAGE;
	if (p->vsize < p->rss * 2)
		p->vsize = page_align(p->rss * 3);
	if (sim_chance(r, 0.05))
		p->fds++;
	else if (sim_chance(r, 0.05) && p->fds > 3)
		p->fds--;
	/* Rates over this advance: 100 ticks are one CPU-second, so ticks/s is percent. */
	p->cpu_pct = (double)d / dt;
	p->read_rate = (double)dr / dt;
	p->write_rate = (double)dw / dt;
	double pct = p->cpu_pct;
	snprintf(p->state, sizeof(p->state), "%s",
	         pct >= 50 || sim_chance(r, 0.02) ? "R"
	         : sim_chance(r, 0.003)           ? "D"
	                                          : "S");
	if (p->ctr >= 0) {
		sim_container *k = &n->ctrs[p->ctr];
		k->cpu_usec += d * 10000;
		k->cpu_user_usec += du * 10000;
		k->fs_read += dr;
		k->fs_write += dw;
	}
	sum->read += dr;
	sum->write += dw;
	sum->ctx += dv + dnv;
}

static io_sums advance_processes(sim_node *n, uint64_t work, double dt)
{
	io_sums sum = {0};
	double weights = 0;
	for (unsigned i = 0; i < n->nprocs; i++)
		weights += n->procs[i].weight;
	/* 90 % of the user+system ticks: the rest is kernel threads. */
	double budget = (double)work * 0.9;
	for (unsigned i = 0; i < n->nprocs; i++) {
		sim_process *p = &n->procs[i];
		/* Dithered rounding: the shares add up to the budget on average. */
		uint64_t d = (uint64_t)(budget * p->weight / weights + sim_unit(&n->rng));
		advance_process(n, p, d, dt, &sum);
		p->has_rate = true;
	}
	return sum;
}

static void advance_containers(sim_node *n, double dt)
{
	sim_rng *r = &n->rng;
	for (unsigned i = 0; i < n->nctrs; i++) {
		sim_container *k = &n->ctrs[i];
		/* CFS periods are 100 ms; busy containers get throttled now and then. */
		uint64_t periods = (uint64_t)(dt * 10);
		uint64_t thr = sim_chance(r, n->busy) ? sim_below(r, periods / 4 + 1) : 0;
		k->periods += periods;
		k->throttled += thr;
		k->throttled_usec += thr * (1000 + sim_below(r, 50000));
		int64_t step = (int64_t)((sim_unit(r) - 0.5) * 0.02 * (double)k->limit);
		int64_t cache = (int64_t)k->cache + step;
		k->cache = cache < 0                        ? 0
		           : (uint64_t)cache > k->limit / 4 ? k->limit / 4
		                                            : (uint64_t)cache;
		k->cache = page_align(k->cache);
	}
}

static void advance_network(sim_node *n, double dt)
{
	sim_rng *r = &n->rng;
	double pods = 0;
	for (unsigned i = 0; i < n->npods; i++) {
		sim_pod *pod = &n->pods[i];
		pod->rate = clampd(pod->rate * (0.9 + 0.2 * sim_unit(r)), 100, 64.0 * MIB);
		uint64_t rx = (uint64_t)(pod->rate * dt), tx = (uint64_t)(pod->rate * 0.8 * dt);
		pod->net[0] += rx;
		pod->net[1] += rx / 800 + (rx > 0);
		pod->net[2] += tx;
		pod->net[3] += tx / 800 + (tx > 0);
		pods += pod->rate;
	}
	/* eth0 carries the pods' traffic and the node's own; flannel.1 what crosses nodes. */
	const double rates[SIM_NET_DEVS] = {pods * 1.1 + 50000, pods, pods * 0.3};
	for (unsigned d = 0; d < SIM_NET_DEVS; d++) {
		uint64_t *s = n->net[d];
		uint64_t rx = (uint64_t)(rates[d] * dt * (0.9 + 0.2 * sim_unit(r)));
		uint64_t tx = (uint64_t)(rates[d] * 0.8 * dt * (0.9 + 0.2 * sim_unit(r)));
		s[0] += rx;
		s[1] += rx / 900 + (rx > 0);
		s[2] += sim_chance(r, 0.001);
		s[3] += sim_chance(r, 0.01) ? sim_below(r, 3) : 0;
		s[7] += sim_chance(r, 0.2);
		s[8] += tx;
		s[9] += tx / 900 + (tx > 0);
		s[11] += sim_chance(r, 0.005);
		n->net_rate[d][0] = (double)rx / dt;
		n->net_rate[d][1] = (double)tx / dt;
	}
}

/* Disk I/O follows the processes' storage I/O: 80 % on the first disk. */
static void advance_disks(sim_node *n, const io_sums *io, double dt)
{
	sim_rng *r = &n->rng;
	uint64_t rsec = io->read / 512, wsec = io->write / 512 + (uint64_t)(dt * 8);
	for (unsigned d = 0; d < SIM_DISKS; d++) {
		uint64_t *s = n->disk[d];
		uint64_t dr = d == 0 ? rsec * 4 / 5 : rsec - rsec * 4 / 5;
		uint64_t dw = d == 0 ? wsec * 4 / 5 : wsec - wsec * 4 / 5;
		uint64_t reads = dr / 64 + (dr > 0), writes = dw / 16 + (dw > 0);
		uint64_t rms = reads / 5 + sim_below(r, 2), wms = writes / 3 + sim_below(r, 2);
		s[0] += reads;
		s[1] += reads / 4;
		s[2] += dr;
		s[3] += rms;
		s[4] += writes;
		s[5] += writes / 3;
		s[6] += dw;
		s[7] += wms;
		s[8] = sim_below(r, 3);
		uint64_t busy_ms = (rms + wms) / 2, max_ms = (uint64_t)(dt * 1000);
		s[9] += busy_ms < max_ms ? busy_ms : max_ms;
		s[10] += rms + wms;
		if (sim_chance(r, 0.05)) {
			uint64_t k = 1 + sim_below(r, 10);
			s[11] += k;
			s[12] += k / 3;
			s[13] += k * 2048;
			s[14] += k / 2;
		}
		s[15] += writes / 16;
		s[16] += writes / 160;
		n->disk_rate[d][0] = (double)(dr * 512) / dt;
		n->disk_rate[d][1] = (double)(dw * 512) / dt;
		n->disk_rate[d][2] = (double)reads / dt;
		n->disk_rate[d][3] = (double)writes / dt;
	}
}

/* A process exits and a new one takes its slot (and its container). */
static void replace_process(sim_node *n, sim_process *p)
{
	sim_rng *r = &n->rng;
	sim_name_process(r, p->ctr >= 0 ? &n->ctrs[p->ctr] : NULL, p);
	p->starttime = n->uptime_ns / NS_PER_TICK;
	init_process_counters(n, p, 0, true);
	set_pids(n, p, next_pid(n), p->ctr >= 0 ? shim_pid(n) : 1);
	n->forks++;
}

/* A few processes replaced; never the system and hostile ones, which come first. */
static void churn(sim_node *n)
{
	sim_rng *r = &n->rng;
	unsigned movable =
	        n->nprocs > SIM_SYSTEM + SIM_HOSTILE ? n->nprocs - SIM_SYSTEM - SIM_HOSTILE : 0;
	if (!movable || !n->p.churn_permille)
		return;
	double expect = (double)n->p.churn_permille * n->nprocs / 1000.0;
	unsigned k = (unsigned)expect + sim_chance(r, expect - floor(expect));
	for (unsigned i = 0; i < k; i++)
		replace_process(n, &n->procs[SIM_SYSTEM + SIM_HOSTILE + sim_below(r, movable)]);
}

void sim_node_advance(sim_node *n, uint64_t now_ns, int64_t wall_ms)
{
	if (!n->clock_ns) {
		n->clock_ns = now_ns ? now_ns : 1;
		n->boot_time = floor((double)wall_ms / 1000.0 - (double)n->uptime_ns / 1e9);
		n->has_rate = false;
		settle(n);
		return;
	}
	if (now_ns <= n->clock_ns)
		return;
	uint64_t dns = now_ns - n->clock_ns;
	double dt = (double)dns / 1e9;
	/* Whole ticks of uptime passed: exact over any number of advances. */
	uint64_t dticks = (n->uptime_ns + dns) / NS_PER_TICK - n->uptime_ns / NS_PER_TICK;
	n->uptime_ns += dns;
	n->clock_ns = now_ns;
	sim_rng *r = &n->rng;
	n->busy = clampd(n->busy + (n->busy_base - n->busy) * 0.2 + (sim_unit(r) - 0.5) * 0.06,
	                 0.01, 0.99);
	uint64_t work = advance_cpus(n, dticks);
	io_sums io = advance_processes(n, work, dt);
	advance_containers(n, dt);
	advance_network(n, dt);
	advance_disks(n, &io, dt);
	n->ctxt += io.ctx + (uint64_t)(dt * 1000 * n->ncpus);
	n->intr += (uint64_t)(dt * 500 * n->ncpus * (1 + n->busy));
	n->forks += (uint64_t)(dt * 2);
	/* The kernel's load averages: exponential decay toward the runnable count. */
	static const double horizon[3] = {60, 300, 900};
	for (int i = 0; i < 3; i++) {
		double e = exp(-dt / horizon[i]);
		n->load[i] = n->load[i] * e + n->busy * n->ncpus * (1 - e);
	}
	churn(n);
	settle(n);
	n->has_rate = dticks > 0;
}
