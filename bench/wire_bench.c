/*
 * Bytes on the wire and encode/decode time for one batch of a realistic
 * node: 50 pods of 1-3 containers (100 containers), 300 processes (200 of
 * them in containers), the node_* families of an 8-CPU machine; ~10k
 * samples, values after a few passes of plausible change (counters as big
 * integers, CPU seconds in 1/100 s ticks, percentages and rates as floats).
 *
 * Prints the size of the naive protobuf (every sample repeating its label
 * strings: the schema in naive_* below, encoded by hand here so it needs no
 * generated code), the naive one compressed, and cobs.proto's encoding with
 * each compression, with encode and decode times (median of thread CPU
 * microseconds per batch; decode includes validation and filling a batch).
 *   bench_wire [iterations [dump_prefix]]
 * With dump_prefix, each encoding is also written to dump_prefix-N.bin (for
 * inspection, or as fuzzing seeds).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include <cobs/wire.h>

#define NPODS  50
#define NPROCS 300
#define NCPUS  8

/* ---- a deterministic generator, so every run measures the same batch ---- */

static uint64_t rng_state = 0x853c49e6748fea9bu;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

/*
 * A counter's value: log-uniform between lo and hi (most processes are
 * small, a few are huge), or with `heavy` every counter near hi, the worst
 * case for a batch that cannot refer to the previous one.
 */
static int heavy;

static uint64_t rnd_count(uint64_t lo, uint64_t hi)
{
	if (heavy)
		return hi / 2 + rnd_below(hi / 2);
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	return (uint64_t)exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
}

static void rnd_hex(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = "0123456789abcdef"[rnd_below(16)];
	out[n] = '\0';
}

static void rnd_uuid(char *out)
{
	rnd_hex(out, 36);
	out[8] = out[13] = out[18] = out[23] = '-';
}

/* ---- the node ---- */

typedef struct pod {
	char ns[32], name[64], uid[40], qos[16];
	int ncontainers;
} pod;

typedef struct container {
	int pod;
	char name[32], id[72], image[96], cgroup[200];
	uint64_t cpu_usec, cpu_user_usec, periods, throttled, fs_read, fs_write;
	uint64_t mem, limit;
} container;

typedef struct process {
	int container; /* -1: a host process */
	char pid[12], ppid[12], comm[16], cmdline[160], cgroup[200];
	uint64_t utime, stime, cutime, cstime, minflt, majflt, vctx, nvctx;
	uint64_t read_bytes, write_bytes, rchar, wchar, syscr, syscw;
	uint64_t vsize, rss, rss_anon, rss_file, starttime;
	int threads, fds, priority, nice;
	double cpu_pct, read_rate, write_rate;
} process;

typedef struct node {
	pod pods[NPODS];
	container ctrs[NPODS * 3];
	int nctrs;
	process procs[NPROCS];
	uint64_t cpu_ticks[NCPUS][8];
	uint64_t net[4][16], disk[3][17];
	uint64_t mem_total;
	int pass;
} node;

static const char *const namespaces[] = {"default", "kube-system", "monitoring",    "payments",
                                         "web",     "data",        "ingress-nginx", "cert-manager"};
static const char *const apps[] = {"checkout-api", "cart",       "frontend",   "postgres",
                                   "redis",        "coredns",    "kube-proxy", "prometheus",
                                   "grafana",      "fluent-bit", "nginx",      "orders-worker"};
static const char *const host_comms[] = {"systemd",  "kubelet",     "containerd", "sshd",
                                         "journald", "kworker/0:1", "rsyslogd",   "cron",
                                         "chronyd",  "dbus-daemon"};
static const char *const ctr_comms[] = {"java",  "node",  "python3",     "postgres", "redis-server",
                                        "nginx", "envoy", "pilot-agent", "coredns",  "prometheus"};
static const char *const cpu_modes[] = {"user",   "nice", "system",  "idle",
                                        "iowait", "irq",  "softirq", "steal"};
static const char *const net_devs[] = {"eth0", "lo", "cni0", "flannel.1"};
static const char *const disks[] = {"nvme0n1", "nvme1n1", "dm-0"};
static const char *const qos[] = {"guaranteed", "burstable", "besteffort"};

static void node_init(node *n)
{
	memset(n, 0, sizeof(*n));
	n->mem_total = 64ull << 30;
	for (int i = 0; i < NPODS; i++) {
		pod *p = &n->pods[i];
		const char *app = apps[rnd_below(12)];
		char suffix[16];
		rnd_hex(suffix, 10);
		snprintf(p->ns, sizeof(p->ns), "%s", namespaces[rnd_below(8)]);
		snprintf(p->name, sizeof(p->name), "%s-%.10s-%.5s", app, suffix, suffix + 3);
		rnd_uuid(p->uid);
		snprintf(p->qos, sizeof(p->qos), "%s", qos[rnd_below(3)]);
		p->ncontainers = 1 + (int)rnd_below(3); /* 1-3: 2 on average */
		for (int c = 0; c < p->ncontainers; c++) {
			container *k = &n->ctrs[n->nctrs++];
			k->pod = i;
			snprintf(k->name, sizeof(k->name), "%s",
			         c == 0   ? app
			         : c == 1 ? "istio-proxy"
			                  : "log-shipper");
			rnd_hex(k->id, 64);
			/* Built in locals: the compiler cannot tell the node's fields apart. */
			char image[sizeof(k->image)], cgroup[sizeof(k->cgroup)];
			snprintf(image, sizeof(image), "registry.example.com/%s/%s:1.%d.%d", p->ns,
			         k->name, (int)rnd_below(20), (int)rnd_below(10));
			snprintf(cgroup, sizeof(cgroup),
			         "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%.8s.slice/"
			         "cri-containerd-%.64s.scope",
			         p->qos, p->qos, p->uid, k->id);
			memcpy(k->image, image, sizeof(image));
			memcpy(k->cgroup, cgroup, sizeof(cgroup));
			k->limit = (uint64_t)(1 + rnd_below(8)) << 29;
			k->mem = k->limit / 4 + rnd_below(k->limit / 2);
			k->cpu_usec = rnd_count(1000000, 1ull << 40);
			k->cpu_user_usec = k->cpu_usec / 3 * 2;
			k->periods = rnd_count(1000, 1u << 24);
			k->throttled = k->periods / (5 + rnd_below(100));
			k->fs_read = rnd_count(4096, 1ull << 36);
			k->fs_write = rnd_count(4096, 1ull << 36);
		}
	}
	for (int i = 0; i < NPROCS; i++) {
		process *p = &n->procs[i];
		p->container = i < 200 ? (int)rnd_below((uint64_t)n->nctrs) : -1;
		snprintf(p->pid, sizeof(p->pid), "%d", (int)(1 + rnd_below(4000000)));
		snprintf(p->ppid, sizeof(p->ppid), "%d", (int)(1 + rnd_below(40000)));
		/* Formatted from the source strings, not from p->comm: the compiler
		 * cannot tell p's fields apart and warns of overlap (-Wrestrict). */
		if (p->container >= 0) {
			const container *k = &n->ctrs[p->container];
			const char *comm = ctr_comms[rnd_below(10)];
			snprintf(p->comm, sizeof(p->comm), "%s", comm);
			snprintf(p->cmdline, sizeof(p->cmdline),
			         "/usr/bin/%s --config /etc/%s/%s.yaml", comm, k->name, k->name);
			snprintf(p->cgroup, sizeof(p->cgroup), "%s", k->cgroup);
		} else {
			const char *comm = host_comms[rnd_below(10)];
			snprintf(p->comm, sizeof(p->comm), "%s", comm);
			snprintf(p->cmdline, sizeof(p->cmdline), "/usr/sbin/%s", comm);
			snprintf(p->cgroup, sizeof(p->cgroup), "/system.slice/%s.service", comm);
		}
		p->utime = rnd_count(10, 10000000);
		p->stime = p->utime / 4;
		p->minflt = rnd_count(100, 1ull << 32);
		p->majflt = rnd_count(1, 5000);
		p->vctx = rnd_count(10, 1ull << 28);
		p->nvctx = p->vctx / 20;
		p->read_bytes = rnd_count(4096, 1ull << 40) & ~4095ull;
		p->write_bytes = rnd_count(4096, 1ull << 38) & ~4095ull;
		p->rchar = rnd_count(1000, 1ull << 42);
		p->wchar = rnd_count(1000, 1ull << 40);
		p->syscr = rnd_count(10, 1ull << 30);
		p->syscw = rnd_count(10, 1ull << 29);
		p->vsize = rnd_count(256, 1u << 22) << 12;
		p->rss = rnd_count(64, 1u << 20) << 12;
		p->rss_anon = p->rss / 3 * 2 & ~4095ull;
		p->rss_file = p->rss - p->rss_anon;
		p->starttime = rnd_below(100000000);
		p->threads = 1 + (int)rnd_below(64);
		p->fds = 3 + (int)rnd_below(500);
		p->priority = 20;
	}
	for (int c = 0; c < NCPUS; c++)
		for (int m = 0; m < 8; m++)
			n->cpu_ticks[c][m] = rnd_count(100, m == 3 ? 1ull << 32 : 1ull << 26);
	for (int d = 0; d < 4; d++)
		for (int k = 0; k < 16; k++)
			n->net[d][k] = rnd_count(1, k % 8 < 2 ? 1ull << 44 : 1ull << 12);
	for (int d = 0; d < 3; d++)
		for (int k = 0; k < 17; k++)
			n->disk[d][k] = rnd_count(1, 1ull << 36);
}

/* One 5-second interval of plausible change. */
static void node_advance(node *n)
{
	n->pass++;
	for (int i = 0; i < n->nctrs; i++) {
		container *k = &n->ctrs[i];
		uint64_t d = rnd_below(5000000);
		k->cpu_usec += d;
		k->cpu_user_usec += d / 3 * 2;
		k->periods += 50;
		k->throttled += rnd_below(3);
		k->fs_read += rnd_below(1u << 20);
		k->fs_write += rnd_below(1u << 22);
		k->mem += rnd_below(1u << 20) - (1u << 19);
	}
	for (int i = 0; i < NPROCS; i++) {
		process *p = &n->procs[i];
		uint64_t du = rnd_below(300), ds = rnd_below(80), dr = rnd_below(1u << 22) & ~4095u,
		         dw = rnd_below(1u << 21) & ~4095u;
		p->utime += du;
		p->stime += ds;
		p->cpu_pct = 100.0 * (double)(du + ds) / 100.0 / 5.0;
		p->minflt += rnd_below(10000);
		p->vctx += rnd_below(5000);
		p->nvctx += rnd_below(300);
		p->read_bytes += dr;
		p->write_bytes += dw;
		p->read_rate = (double)dr / 5.0;
		p->write_rate = (double)dw / 5.0;
		p->rchar += rnd_below(1u << 24);
		p->wchar += rnd_below(1u << 22);
		p->syscr += rnd_below(20000);
		p->syscw += rnd_below(8000);
		p->rss += (rnd_below(64) << 12) - (32 << 12);
		p->fds += (int)rnd_below(3) - 1;
	}
	for (int c = 0; c < NCPUS; c++)
		for (int m = 0; m < 8; m++)
			n->cpu_ticks[c][m] += rnd_below(m == 3 ? 400 : 60);
	for (int d = 0; d < 4; d++)
		for (int k = 0; k < 16; k++)
			n->net[d][k] += k % 8 < 2 ? rnd_below(1u << 24) : rnd_below(2);
	for (int d = 0; d < 3; d++)
		for (int k = 0; k < 17; k++)
			n->disk[d][k] += rnd_below(1u << 20);
}

/* ---- the batch, as the plugins would fill it ---- */

typedef struct fill {
	cobs_batch *b;
	int failed;
} fill;

static cobs_family *fam(fill *f, const char *name, const char *help, const char *unit,
                        cobs_metric_type type)
{
	cobs_family *x = cobs_batch_family(f->b, name, help, unit, type);
	if (!x)
		f->failed = 1;
	return x;
}

static void add(fill *f, cobs_family *x, double v, const cobs_label *l, size_t n)
{
	if (!x || cobs_family_add(f->b, x, v, l, n) < 0)
		f->failed = 1;
}

/* Process labels: pid, comm, and namespace, pod, container when in a pod. */
static size_t proc_labels(const node *n, const process *p, cobs_label *l)
{
	size_t k = 0;
	l[k++] = (cobs_label){"pid", p->pid};
	l[k++] = (cobs_label){"comm", p->comm};
	if (p->container >= 0) {
		const container *c = &n->ctrs[p->container];
		l[k++] = (cobs_label){"namespace", n->pods[c->pod].ns};
		l[k++] = (cobs_label){"pod", n->pods[c->pod].name};
		l[k++] = (cobs_label){"container", c->name};
	}
	return k;
}

typedef struct pfam {
	const char *name, *help, *unit;
	cobs_metric_type type;
} pfam;

static const pfam proc_fams[] = {
        {"process_minor_faults_total", "Minor page faults (stat minflt).", "", COBS_COUNTER},
        {"process_major_faults_total", "Major page faults (stat majflt).", "", COBS_COUNTER},
        {"process_threads", "Threads in the process (stat num_threads).", "", COBS_GAUGE},
        {"process_start_time_seconds",
         "Start time since the epoch (btime + stat starttime / USER_HZ).", "seconds", COBS_GAUGE},
        {"process_virtual_memory_bytes", "Virtual memory size (status VmSize).", "bytes",
         COBS_GAUGE},
        {"process_resident_memory_bytes", "Resident set size (status VmRSS).", "bytes", COBS_GAUGE},
        {"process_resident_anon_bytes", "Resident anonymous memory (status RssAnon).", "bytes",
         COBS_GAUGE},
        {"process_resident_file_bytes", "Resident file mappings (status RssFile).", "bytes",
         COBS_GAUGE},
        {"process_swap_bytes", "Swapped-out anonymous memory (status VmSwap).", "bytes",
         COBS_GAUGE},
        {"process_voluntary_context_switches_total",
         "Voluntary context switches (status voluntary_ctxt_switches).", "", COBS_COUNTER},
        {"process_nonvoluntary_context_switches_total",
         "Involuntary context switches (status nonvoluntary_ctxt_switches).", "", COBS_COUNTER},
        {"process_io_read_bytes_total",
         "Bytes the process caused to be read from storage (io read_bytes).", "bytes",
         COBS_COUNTER},
        {"process_io_write_bytes_total",
         "Bytes the process caused to be written to storage (io write_bytes).", "bytes",
         COBS_COUNTER},
        {"process_io_rchar_bytes_total",
         "Bytes passed to read() and similar, page cache included (io rchar).", "bytes",
         COBS_COUNTER},
        {"process_io_wchar_bytes_total", "Bytes passed to write() and similar (io wchar).", "bytes",
         COBS_COUNTER},
        {"process_io_read_syscalls_total", "Read system calls (io syscr).", "", COBS_COUNTER},
        {"process_io_write_syscalls_total", "Write system calls (io syscw).", "", COBS_COUNTER},
        {"process_open_fds", "Open file descriptors (entries of /proc/PID/fd).", "", COBS_GAUGE},
        {"process_cpu_usage_percent",
         "CPU use over the last interval: 100 * delta(utime + stime) / USER_HZ / delta t.",
         "percent", COBS_GAUGE},
        {"process_memory_percent",
         "Resident memory as a share of the node's: 100 * VmRSS / MemTotal.", "percent",
         COBS_GAUGE},
        {"process_io_read_bytes_per_second",
         "Storage read rate over the last interval: delta(read_bytes) / delta t.",
         "bytes_per_second", COBS_GAUGE},
        {"process_io_write_bytes_per_second",
         "Storage write rate over the last interval: delta(write_bytes) / delta t.",
         "bytes_per_second", COBS_GAUGE},
        {"process_priority", "Scheduling priority (stat priority).", "", COBS_GAUGE},
        {"process_nice", "Nice value (stat nice).", "", COBS_GAUGE},
};
#define NPROC_FAMS (sizeof(proc_fams) / sizeof(proc_fams[0]))

static double proc_value(const node *n, const process *p, size_t k)
{
	switch (k) {
	case 0:
		return (double)p->minflt;
	case 1:
		return (double)p->majflt;
	case 2:
		return p->threads;
	case 3:
		return 1718000000.0 + (double)p->starttime / 100.0;
	case 4:
		return (double)p->vsize;
	case 5:
		return (double)p->rss;
	case 6:
		return (double)p->rss_anon;
	case 7:
		return (double)p->rss_file;
	case 8:
		return 0;
	case 9:
		return (double)p->vctx;
	case 10:
		return (double)p->nvctx;
	case 11:
		return (double)p->read_bytes;
	case 12:
		return (double)p->write_bytes;
	case 13:
		return (double)p->rchar;
	case 14:
		return (double)p->wchar;
	case 15:
		return (double)p->syscr;
	case 16:
		return (double)p->syscw;
	case 17:
		return p->fds;
	case 18:
		return p->cpu_pct;
	case 19:
		return 100.0 * (double)p->rss / (double)n->mem_total;
	case 20:
		return p->read_rate;
	case 21:
		return p->write_rate;
	case 22:
		return p->priority;
	default:
		return p->nice;
	}
}

static void fill_processes(fill *f, const node *n)
{
	cobs_label l[12]; /* a process's 5 labels and info's 4 more */
	cobs_family *cpu = fam(f, "process_cpu_seconds_total",
	                       "CPU time of the process by mode (stat utime, stime).", "seconds",
	                       COBS_COUNTER);
	cobs_family *ccpu = fam(f, "process_children_cpu_seconds_total",
	                        "CPU time of the process's waited-for children by mode (stat "
	                        "cutime, cstime).",
	                        "seconds", COBS_COUNTER);
	for (int i = 0; i < NPROCS; i++) {
		const process *p = &n->procs[i];
		size_t k = proc_labels(n, p, l);
		l[k] = (cobs_label){"mode", "user"};
		add(f, cpu, (double)p->utime / 100.0, l, k + 1);
		add(f, ccpu, (double)p->cutime / 100.0, l, k + 1);
		l[k] = (cobs_label){"mode", "system"};
		add(f, cpu, (double)p->stime / 100.0, l, k + 1);
		add(f, ccpu, (double)p->cstime / 100.0, l, k + 1);
	}
	for (size_t j = 0; j < NPROC_FAMS; j++) {
		const pfam *d = &proc_fams[j];
		cobs_family *x = fam(f, d->name, d->help, d->unit, d->type);
		for (int i = 0; i < NPROCS; i++) {
			size_t k = proc_labels(n, &n->procs[i], l);
			add(f, x, proc_value(n, &n->procs[i], j), l, k);
		}
	}
	cobs_family *info =
	        fam(f, "process_info",
	            "Process facts: state, parent, command line, cgroup (value 1).", "", COBS_INFO);
	for (int i = 0; i < NPROCS; i++) {
		const process *p = &n->procs[i];
		size_t k = proc_labels(n, p, l);
		l[k++] = (cobs_label){"state", rnd_below(10) ? "S" : "R"};
		l[k++] = (cobs_label){"ppid", p->ppid};
		l[k++] = (cobs_label){"cmdline", p->cmdline};
		l[k++] = (cobs_label){"cgroup", p->cgroup};
		add(f, info, 1, l, k);
	}
}

static void fill_containers(fill *f, const node *n)
{
	static const struct {
		const char *name, *unit;
		cobs_metric_type type;
	} cf[] = {
	        {"container_cpu_usage_seconds_total", "seconds", COBS_COUNTER},
	        {"container_cpu_user_seconds_total", "seconds", COBS_COUNTER},
	        {"container_cpu_system_seconds_total", "seconds", COBS_COUNTER},
	        {"container_cpu_cfs_periods_total", "", COBS_COUNTER},
	        {"container_cpu_cfs_throttled_periods_total", "", COBS_COUNTER},
	        {"container_memory_usage_bytes", "bytes", COBS_GAUGE},
	        {"container_memory_working_set_bytes", "bytes", COBS_GAUGE},
	        {"container_memory_rss", "bytes", COBS_GAUGE},
	        {"container_memory_cache", "bytes", COBS_GAUGE},
	        {"container_spec_memory_limit_bytes", "bytes", COBS_GAUGE},
	        {"container_threads", "", COBS_GAUGE},
	        {"container_processes", "", COBS_GAUGE},
	        {"container_fs_reads_bytes_total", "bytes", COBS_COUNTER},
	        {"container_fs_writes_bytes_total", "bytes", COBS_COUNTER},
	};
	cobs_label l[6];
	for (size_t j = 0; j < sizeof(cf) / sizeof(cf[0]); j++) {
		cobs_family *x =
		        fam(f, cf[j].name, "From the container's cgroup (cAdvisor's name).",
		            cf[j].unit, cf[j].type);
		for (int i = 0; i < n->nctrs; i++) {
			const container *c = &n->ctrs[i];
			const pod *p = &n->pods[c->pod];
			l[0] = (cobs_label){"namespace", p->ns};
			l[1] = (cobs_label){"pod", p->name};
			l[2] = (cobs_label){"container", c->name};
			l[3] = (cobs_label){"pod_uid", p->uid};
			l[4] = (cobs_label){"container_id", c->id};
			double v[] = {(double)c->cpu_usec / 1e6,
			              (double)c->cpu_user_usec / 1e6,
			              (double)(c->cpu_usec - c->cpu_user_usec) / 1e6,
			              (double)c->periods,
			              (double)c->throttled,
			              (double)c->mem,
			              (double)(c->mem / 10 * 9),
			              (double)(c->mem / 3 * 2),
			              (double)(c->mem / 3),
			              (double)c->limit,
			              (double)(1 + c->periods % 40),
			              (double)(1 + c->periods % 4),
			              (double)c->fs_read,
			              (double)c->fs_write};
			add(f, x, v[j], l, 5);
		}
	}
	/* Pod network, per interface. */
	static const char *const nf[] = {"container_network_receive_bytes_total",
	                                 "container_network_transmit_bytes_total",
	                                 "container_network_receive_packets_total",
	                                 "container_network_transmit_packets_total"};
	for (size_t j = 0; j < 4; j++) {
		cobs_family *x =
		        fam(f, nf[j], "Pod network per interface (net/dev).", "", COBS_COUNTER);
		for (int i = 0; i < NPODS; i++) {
			l[0] = (cobs_label){"namespace", n->pods[i].ns};
			l[1] = (cobs_label){"pod", n->pods[i].name};
			l[2] = (cobs_label){"interface", "eth0"};
			add(f, x, (double)(n->ctrs[0].fs_read / (j + 1) + (uint64_t)i * 7919), l,
			    3);
		}
	}
	/* Inventory as info families. */
	cobs_family *pi = fam(f, "kube_pod_info", "A pod on this node (value 1).", "", COBS_INFO);
	cobs_family *ci = fam(f, "kube_pod_container_info", "A container on this node (value 1).",
	                      "", COBS_INFO);
	for (int i = 0; i < NPODS; i++) {
		const pod *p = &n->pods[i];
		cobs_label pl[] = {{"namespace", p->ns},
		                   {"pod", p->name},
		                   {"uid", p->uid},
		                   {"qos_class", p->qos},
		                   {"phase", "Running"},
		                   {"host_network", "false"},
		                   {"node", "ip-10-0-12-34.eu-west-1.compute.internal"}};
		add(f, pi, 1, pl, 7);
	}
	for (int i = 0; i < n->nctrs; i++) {
		const container *c = &n->ctrs[i];
		const pod *p = &n->pods[c->pod];
		cobs_label cl[] = {{"namespace", p->ns},   {"pod", p->name},
		                   {"container", c->name}, {"container_id", c->id},
		                   {"image", c->image},    {"runtime", "containerd"}};
		add(f, ci, 1, cl, 6);
	}
}

static void fill_node(fill *f, const node *n)
{
	char cpu[8];
	cobs_family *x = fam(f, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
	                     "seconds", COBS_COUNTER);
	for (int c = 0; c < NCPUS; c++) {
		snprintf(cpu, sizeof(cpu), "%d", c);
		for (int m = 0; m < 8; m++)
			add(f, x, (double)n->cpu_ticks[c][m] / 100.0,
			    (cobs_label[]){{"cpu", cpu}, {"mode", cpu_modes[m]}}, 2);
	}
	static const char *const mem[] = {
	        "MemTotal",        "MemFree",        "MemAvailable", "Buffers",
	        "Cached",          "SwapCached",     "Active",       "Inactive",
	        "Active_anon",     "Inactive_anon",  "Active_file",  "Inactive_file",
	        "Unevictable",     "Mlocked",        "SwapTotal",    "SwapFree",
	        "Dirty",           "Writeback",      "AnonPages",    "Mapped",
	        "Shmem",           "KReclaimable",   "Slab",         "SReclaimable",
	        "SUnreclaim",      "KernelStack",    "PageTables",   "CommitLimit",
	        "Committed_AS",    "VmallocTotal",   "VmallocUsed",  "Percpu",
	        "HugePages_Total", "HugePages_Free", "Hugepagesize"};
	char name[64];
	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
		snprintf(name, sizeof(name), "node_memory_%s_bytes", mem[i]);
		x = fam(f, name, "Memory information field from /proc/meminfo.", "bytes",
		        COBS_GAUGE);
		add(f, x, (double)((n->mem_total >> (i % 7)) - rnd_below(1u << 20) * 1024), NULL,
		    0);
	}
	static const char *const netf[] = {"bytes", "packets", "errs",       "drop",
	                                   "fifo",  "frame",   "compressed", "multicast"};
	for (int dir = 0; dir < 2; dir++)
		for (int k = 0; k < 8; k++) {
			snprintf(name, sizeof(name), "node_network_%s_%s_total",
			         dir ? "transmit" : "receive", netf[k]);
			x = fam(f, name, "Network device statistic from /proc/net/dev.", "",
			        COBS_COUNTER);
			for (int d = 0; d < 4; d++)
				add(f, x, (double)n->net[d][dir * 8 + k],
				    (cobs_label[]){{"device", net_devs[d]}}, 1);
		}
	static const char *const diskf[] = {"reads_completed",
	                                    "reads_merged",
	                                    "read_bytes",
	                                    "read_time_seconds",
	                                    "writes_completed",
	                                    "writes_merged",
	                                    "written_bytes",
	                                    "write_time_seconds",
	                                    "io_now",
	                                    "io_time_seconds",
	                                    "io_time_weighted_seconds",
	                                    "discards_completed",
	                                    "discards_merged",
	                                    "discarded_sectors",
	                                    "discard_time_seconds",
	                                    "flush_requests",
	                                    "flush_requests_time_seconds"};
	for (int k = 0; k < 17; k++) {
		snprintf(name, sizeof(name), "node_disk_%s_total", diskf[k]);
		x = fam(f, name, "Disk statistic from /proc/diskstats.", "", COBS_COUNTER);
		for (int d = 0; d < 3; d++) {
			double v = (double)n->disk[d][k];
			if (strstr(diskf[k], "seconds"))
				v /= 1000.0; /* milliseconds in diskstats */
			add(f, x, v, (cobs_label[]){{"device", disks[d]}}, 1);
		}
	}
	x = fam(f, "node_load1", "1m load average.", "", COBS_GAUGE);
	add(f, x, 1.37 + (double)(n->pass % 10) / 100.0, NULL, 0);
	x = fam(f, "node_load5", "5m load average.", "", COBS_GAUGE);
	add(f, x, 1.12, NULL, 0);
	x = fam(f, "node_load15", "15m load average.", "", COBS_GAUGE);
	add(f, x, 0.98, NULL, 0);
	x = fam(f, "node_boot_time_seconds", "Node boot time, in unixtime.", "seconds", COBS_GAUGE);
	add(f, x, 1718000000, NULL, 0);
	x = fam(f, "node_context_switches_total", "Total number of context switches.", "",
	        COBS_COUNTER);
	add(f, x, (double)n->procs[0].vctx * 1000, NULL, 0);
}

static int build(cobs_batch *b, const node *n)
{
	fill f = {.b = b};
	cobs_batch_reset(b);
	b->timestamp_ms = 1718000000000 + (int64_t)n->pass * 5000;
	b->monotonic_ns = (uint64_t)n->pass * 5000000000u + 123456789u;
	fill_node(&f, n);
	fill_processes(&f, n);
	fill_containers(&f, n);
	return f.failed ? -1 : 0;
}

/* ---- the naive encoding: every sample carries its labels ---- */
/*
 * message NaiveBatch  { string node = 1; string agent_version = 2; string boot_id = 3;
 *                       uint64 sequence = 4; int64 timestamp_ms = 5; uint64 interval_ms = 6;
 *                       uint64 dropped = 7; repeated NaiveFamily families = 8; }
 * message NaiveFamily { string name = 1; string help = 2; string unit = 3; MetricType type = 4;
 *                       repeated NaiveSample samples = 5; }
 * message NaiveSample { repeated Label labels = 1; double value = 2; }
 * message Label       { string name = 1; string value = 2; }
 */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A length-delimited field of n bytes, its tag included. */
static size_t ld_len(size_t n)
{
	return 1 + varint_len(n) + n;
}

static uint8_t *put_ld(uint8_t *p, int field, const void *s, size_t n)
{
	*p++ = (uint8_t)(field << 3 | 2);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static size_t label_len(const cobs_label *l)
{
	return ld_len(strlen(l->name)) + ld_len(strlen(l->value));
}

static size_t sample_len(const cobs_sample *s)
{
	size_t n = s->value != 0 || signbit(s->value) ? 9 : 0;
	for (size_t i = 0; i < s->nlabels; i++)
		n += ld_len(label_len(&s->labels[i]));
	return n;
}

static size_t family_len(const cobs_family *f)
{
	size_t n = ld_len(strlen(f->name)) + ld_len(strlen(f->help)) + ld_len(strlen(f->unit)) +
	           (f->type ? 2 : 0);
	for (size_t i = 0; i < f->nsamples; i++)
		n += ld_len(sample_len(&f->samples[i]));
	return n;
}

static uint8_t *naive_encode(const cobs_batch *b, const cobs_wire_meta *m, size_t *len)
{
	size_t n = ld_len(strlen(m->node)) + ld_len(strlen(m->agent_version)) +
	           ld_len(strlen(m->boot_id)) + 1 + varint_len(m->sequence) + 1 +
	           varint_len((uint64_t)b->timestamp_ms) + 1 + varint_len(m->interval_ms);
	for (size_t i = 0; i < b->nfamilies; i++)
		n += ld_len(family_len(b->families[i]));
	uint8_t *buf = malloc(n), *p = buf;
	if (!buf)
		return NULL;
	p = put_ld(p, 1, m->node, strlen(m->node));
	p = put_ld(p, 2, m->agent_version, strlen(m->agent_version));
	p = put_ld(p, 3, m->boot_id, strlen(m->boot_id));
	*p++ = 4 << 3;
	p = put_varint(p, m->sequence);
	*p++ = 5 << 3;
	p = put_varint(p, (uint64_t)b->timestamp_ms);
	*p++ = 6 << 3;
	p = put_varint(p, m->interval_ms);
	for (size_t i = 0; i < b->nfamilies; i++) {
		const cobs_family *f = b->families[i];
		*p++ = 8 << 3 | 2;
		p = put_varint(p, family_len(f));
		p = put_ld(p, 1, f->name, strlen(f->name));
		p = put_ld(p, 2, f->help, strlen(f->help));
		p = put_ld(p, 3, f->unit, strlen(f->unit));
		if (f->type) {
			*p++ = 4 << 3;
			*p++ = (uint8_t)f->type;
		}
		for (size_t j = 0; j < f->nsamples; j++) {
			const cobs_sample *s = &f->samples[j];
			*p++ = 5 << 3 | 2;
			p = put_varint(p, sample_len(s));
			for (size_t k = 0; k < s->nlabels; k++) {
				const cobs_label *l = &s->labels[k];
				*p++ = 1 << 3 | 2;
				p = put_varint(p, label_len(l));
				p = put_ld(p, 1, l->name, strlen(l->name));
				p = put_ld(p, 2, l->value, strlen(l->value));
			}
			if (s->value != 0 || signbit(s->value)) {
				*p++ = 2 << 3 | 1;
				memcpy(p, &s->value, 8);
				p += 8;
			}
		}
	}
	*len = (size_t)(p - buf);
	return buf;
}

/* ---- timing ---- */

static double thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct variant {
	const char *label;
	cobs_wire_opts opts;
} variant;

static const variant variants[] = {
        {"cobs.proto, uncompressed", {COBS_WIRE_NONE, 0}},
        {"cobs.proto + zstd 1", {COBS_WIRE_ZSTD, 1}},
        {"cobs.proto + zstd 3 (default)", {COBS_WIRE_ZSTD, 0}},
        {"cobs.proto + zstd 9", {COBS_WIRE_ZSTD, 9}},
        {"cobs.proto + zstd 19", {COBS_WIRE_ZSTD, 19}},
        {"cobs.proto + deflate 6", {COBS_WIRE_DEFLATE, 0}},
        {"cobs.proto + deflate 9", {COBS_WIRE_DEFLATE, 9}},
};
#define NVARIANTS       (sizeof(variants) / sizeof(variants[0]))
#define DEFAULT_VARIANT 2

static const cobs_wire_meta meta = {.node = "ip-10-0-12-34.eu-west-1.compute.internal",
                                    .agent_version = "0.1.0",
                                    .boot_id = "5f0c6a1e-2b7d-4c39-9a51-0d6e2f8b7c44",
                                    .sequence = 1234,
                                    .interval_ms = 5000};

/* A node after three intervals, in a fresh batch. NULL when out of memory. */
static cobs_batch *make_batch(int heavy_counters)
{
	static node n;
	heavy = heavy_counters;
	rng_state = 0x853c49e6748fea9bu;
	node_init(&n);
	for (int i = 0; i < 3; i++)
		node_advance(&n);
	cobs_batch *b = cobs_batch_new();
	if (b && build(b, &n) < 0) {
		cobs_batch_free(b);
		return NULL;
	}
	if (b)
		printf("batch: %zu families, %zu samples (%d pods, %d containers, %d processes)%s\n",
		       b->nfamilies, cobs_batch_samples(b), NPODS, n.nctrs, NPROCS,
		       heavy_counters ? ", every counter near its maximum" : "");
	return b;
}

static int print_naive(const cobs_batch *b)
{
	size_t samples = cobs_batch_samples(b), naive_len = 0;
	uint8_t *naive = naive_encode(b, &meta, &naive_len);
	size_t zb = ZSTD_compressBound(naive_len);
	uint8_t *z = malloc(zb);
	if (!naive || !z) {
		free(naive);
		free(z);
		return -1;
	}
	size_t naive_z = ZSTD_compress(z, zb, naive, naive_len, 3);
	printf("%-30s %9zu  %12.2f\n", "naive protobuf", naive_len,
	       (double)naive_len / (double)samples);
	printf("%-30s %9zu  %12.2f\n", "naive protobuf + zstd 3", naive_z,
	       (double)naive_z / (double)samples);
	free(naive);
	free(z);
	return 0;
}

/* One line of the table: size, median encode and decode time. -1 on failure. */
static int measure(const cobs_batch *b, const variant *var, size_t iters, double *t,
                   const char *dump)
{
	size_t samples = cobs_batch_samples(b);
	cobs_batch *d = cobs_batch_new();
	cobs_buf out = {0};
	cobs_error err;
	int rc = -1;
	if (!d)
		return -1;
	for (size_t i = 0; i < iters; i++) {
		cobs_buf_clear(&out);
		double t0 = thread_cpu_us();
		int r = cobs_wire_encode_batch(b, &meta, &var->opts, &out, &err);
		t[i] = thread_cpu_us() - t0;
		if (r != 0) {
			fprintf(stderr, "bench_wire: encode: %s (%d)\n", r < 0 ? err.msg : "", r);
			goto done;
		}
	}
	double enc_us = median(t, iters);
	cobs_wire_meta got;
	for (size_t i = 0; i < iters; i++) {
		double t0 = thread_cpu_us();
		int r = cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &got, &err);
		t[i] = thread_cpu_us() - t0;
		if (r != 0) {
			fprintf(stderr, "bench_wire: decode: %s\n", err.msg);
			goto done;
		}
	}
	double dec_us = median(t, iters);
	if (cobs_batch_samples(d) != samples) {
		fprintf(stderr, "bench_wire: decoded %zu samples of %zu\n", cobs_batch_samples(d),
		        samples);
		goto done;
	}
	if (dump) {
		FILE *fp = fopen(dump, "wb");
		if (!fp || fwrite(out.data, 1, out.len, fp) != out.len || fclose(fp) != 0) {
			fprintf(stderr, "bench_wire: cannot write %s\n", dump);
			goto done;
		}
	}
	printf("%-30s %9zu  %12.2f  %10.0f  %10.0f%s\n", var->label, out.len,
	       (double)out.len / (double)samples, enc_us, dec_us,
	       var == &variants[DEFAULT_VARIANT]
	               ? (out.len <= 65536 ? "  target <= 65536: met" : "  target <= 65536: MISSED")
	               : "");
	rc = 0;
done:
	cobs_buf_free(&out);
	cobs_batch_free(d);
	return rc;
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	if (iters == 0)
		iters = 1;
	double *t = malloc(iters * sizeof(*t));
	cobs_batch *b = make_batch(0);
	if (!t || !b || print_naive(b) < 0) {
		fprintf(stderr, "bench_wire: out of memory\n");
		return 1;
	}
	printf("%-30s %9s  %12s  %10s  %10s\n", "", "bytes", "bytes/sample", "encode us",
	       "decode us");
	char path[4096];
	for (size_t v = 0; v < NVARIANTS; v++) {
		/* zstd 19 is slow enough that a tenth of the runs give a stable median. */
		size_t its = variants[v].opts.level >= 19 ? (iters + 9) / 10 : iters;
		if (argc > 2)
			snprintf(path, sizeof(path), "%s-%zu.bin", argv[2], v);
		if (measure(b, &variants[v], its, t, argc > 2 ? path : NULL) < 0)
			return 1;
	}
	cobs_batch_free(b);

	printf("\n");
	if (!(b = make_batch(1)) || print_naive(b) < 0)
		return 1;
	if (measure(b, &variants[DEFAULT_VARIANT], iters, t, NULL) < 0)
		return 1;
	cobs_batch_free(b);
	free(t);
	return 0;
}
