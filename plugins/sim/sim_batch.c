/*
 * A simulated node's batch (see sim_batch.h). Families come from one table
 * and are found again through cobs_family_ref, and each process's,
 * container's and pod's label set is copied into the batch once and shared
 * by all its samples: building a 10k-sample batch is mostly storing values.
 */
#include <stdio.h>
#include <string.h>

#include "sim_batch.h"

#define C COBS_COUNTER
#define G COBS_GAUGE
#define I COBS_INFO

#define NMEM 35

enum {
	F_CPU,
	F_CPU_PCT,
	F_CPU_AGG,
	F_CTXT,
	F_INTR,
	F_FORKS,
	F_RUNNING,
	F_BLOCKED,
	F_BOOT,
	F_LOAD1,
	F_LOAD5,
	F_LOAD15,
	F_MEM_PCT,
	F_NET_RX_RATE,
	F_NET_TX_RATE,
	F_DISK_READ_RATE,
	F_DISK_WRITE_RATE,
	F_DISK_READS_RATE,
	F_DISK_WRITES_RATE,
	F_PSTATE,
	F_PIDS,
	F_PTHREADS,
	F_KTHREADS,
	/* per process */
	F_P_CPU,
	F_P_CHILD_CPU,
	F_P_MINFLT, /* first of the plain ones, see proc_value */
	F_P_MAJFLT,
	F_P_PRIORITY,
	F_P_NICE,
	F_P_THREADS,
	F_P_START,
	F_P_VSIZE,
	F_P_RSS,
	F_P_RSS_ANON,
	F_P_RSS_FILE,
	F_P_SWAP,
	F_P_VCTX,
	F_P_NVCTX,
	F_P_IO_READ,
	F_P_IO_WRITE,
	F_P_IO_RCHAR,
	F_P_IO_WCHAR,
	F_P_IO_SYSCR,
	F_P_IO_SYSCW,
	F_P_FDS,
	F_P_MEM_PCT, /* last of the plain ones */
	F_P_CPU_PCT, /* the rates: only with a previous pass */
	F_P_READ_RATE,
	F_P_WRITE_RATE,
	F_P_INFO,
	/* per container */
	F_C_CPU_USAGE,
	F_C_CPU_USER,
	F_C_CPU_SYSTEM,
	F_C_PERIODS,
	F_C_THROTTLED,
	F_C_THROTTLED_SECONDS,
	F_C_MEM_USAGE,
	F_C_WORKING_SET,
	F_C_RSS,
	F_C_CACHE,
	F_C_LIMIT,
	F_C_THREADS,
	F_C_PROCESSES,
	F_C_FS_READ,
	F_C_FS_WRITE,
	F_C_COUNT_END,
	/* per pod */
	F_POD_RX_BYTES = F_C_COUNT_END,
	F_POD_RX_PACKETS,
	F_POD_TX_BYTES,
	F_POD_TX_PACKETS,
	F_POD_INFO,
	F_CTR_INFO,
	F_MEM,                          /* NMEM families */
	F_NET = F_MEM + NMEM,           /* SIM_NET_STATS families */
	F_DISK = F_NET + SIM_NET_STATS, /* SIM_DISK_STATS families */
	F_COUNT = F_DISK + SIM_DISK_STATS,
};
_Static_assert(F_COUNT <= SIM_NFAMILIES, "raise SIM_NFAMILIES");

typedef struct fam_spec {
	const char *name, *help, *unit;
	cobs_metric_type type;
} fam_spec;

static const fam_spec specs[F_COUNT] = {
        [F_CPU] = {"node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "seconds", C},
        [F_CPU_PCT] = {"node_cpu_usage_percent",
                       "CPU busy share over the last interval: 100 * delta(total - idle - "
                       "iowait) / delta(total).",
                       "percent", G},
        [F_CPU_AGG] = {"node_cpu_aggregate_seconds_total",
                       "Seconds all CPUs together spent in each mode.", "seconds", C},
        [F_CTXT] = {"node_context_switches_total", "Total number of context switches.", "", C},
        [F_INTR] = {"node_intr_total", "Total number of interrupts serviced.", "", C},
        [F_FORKS] = {"node_forks_total", "Total number of forks.", "", C},
        [F_RUNNING] = {"node_procs_running", "Number of processes in runnable state.", "", G},
        [F_BLOCKED] = {"node_procs_blocked", "Number of processes blocked waiting for I/O.", "", G},
        [F_BOOT] = {"node_boot_time_seconds", "Node boot time, in unixtime.", "seconds", G},
        [F_LOAD1] = {"node_load1", "1m load average.", "", G},
        [F_LOAD5] = {"node_load5", "5m load average.", "", G},
        [F_LOAD15] = {"node_load15", "15m load average.", "", G},
        [F_MEM_PCT] = {"node_memory_used_percent",
                       "Memory in use: 100 * (MemTotal - MemAvailable) / MemTotal.", "percent", G},
        [F_NET_RX_RATE] = {"node_network_receive_bytes_per_second",
                           "Receive rate over the last interval: delta(receive_bytes) / delta t.",
                           "bytes_per_second", G},
        [F_NET_TX_RATE] = {"node_network_transmit_bytes_per_second",
                           "Transmit rate over the last interval: delta(transmit_bytes) / delta t.",
                           "bytes_per_second", G},
        [F_DISK_READ_RATE] = {"node_disk_read_bytes_per_second",
                              "Read rate over the last interval: delta(read_bytes) / delta t.",
                              "bytes_per_second", G},
        [F_DISK_WRITE_RATE] = {"node_disk_written_bytes_per_second",
                               "Write rate over the last interval: delta(written_bytes) / "
                               "delta t.",
                               "bytes_per_second", G},
        [F_DISK_READS_RATE] = {"node_disk_reads_per_second",
                               "Reads completed per second over the last interval.", "", G},
        [F_DISK_WRITES_RATE] = {"node_disk_writes_per_second",
                                "Writes completed per second over the last interval.", "", G},
        [F_PSTATE] = {"node_processes_state", "Processes on the node by state letter.", "", G},
        [F_PIDS] = {"node_processes_pids", "Processes on the node.", "", G},
        [F_PTHREADS] = {"node_processes_threads", "Threads of all processes on the node.", "", G},
        [F_KTHREADS] = {"node_processes_kernel_threads", "Kernel threads on the node.", "", G},

        [F_P_CPU] = {"process_cpu_seconds_total", "CPU time of the process by mode.", "seconds", C},
        [F_P_CHILD_CPU] = {"process_children_cpu_seconds_total",
                           "CPU time of the process's waited-for children by mode.", "seconds", C},
        [F_P_MINFLT] = {"process_minor_faults_total", "Minor page faults.", "", C},
        [F_P_MAJFLT] = {"process_major_faults_total", "Major page faults.", "", C},
        [F_P_PRIORITY] = {"process_priority", "Scheduling priority.", "", G},
        [F_P_NICE] = {"process_nice", "Nice value.", "", G},
        [F_P_THREADS] = {"process_threads", "Threads in the process.", "", G},
        [F_P_START] = {"process_start_time_seconds", "Start time since the epoch.", "seconds", G},
        [F_P_VSIZE] = {"process_virtual_memory_bytes", "Virtual memory size.", "bytes", G},
        [F_P_RSS] = {"process_resident_memory_bytes", "Resident set size.", "bytes", G},
        [F_P_RSS_ANON] = {"process_resident_anon_bytes", "Resident anonymous memory.", "bytes", G},
        [F_P_RSS_FILE] = {"process_resident_file_bytes", "Resident file mappings.", "bytes", G},
        [F_P_SWAP] = {"process_swap_bytes", "Swapped-out anonymous memory.", "bytes", G},
        [F_P_VCTX] = {"process_voluntary_context_switches_total", "Voluntary context switches.", "",
                      C},
        [F_P_NVCTX] = {"process_nonvoluntary_context_switches_total",
                       "Involuntary context switches.", "", C},
        [F_P_IO_READ] = {"process_io_read_bytes_total",
                         "Bytes the process caused to be read from storage.", "bytes", C},
        [F_P_IO_WRITE] = {"process_io_write_bytes_total",
                          "Bytes the process caused to be written to storage.", "bytes", C},
        [F_P_IO_RCHAR] = {"process_io_rchar_bytes_total", "Bytes passed to read() and similar.",
                          "bytes", C},
        [F_P_IO_WCHAR] = {"process_io_wchar_bytes_total", "Bytes passed to write() and similar.",
                          "bytes", C},
        [F_P_IO_SYSCR] = {"process_io_read_syscalls_total", "Read system calls.", "", C},
        [F_P_IO_SYSCW] = {"process_io_write_syscalls_total", "Write system calls.", "", C},
        [F_P_FDS] = {"process_open_fds", "Open file descriptors.", "", G},
        [F_P_MEM_PCT] = {"process_memory_percent",
                         "Resident memory as a share of the node's: 100 * VmRSS / MemTotal.",
                         "percent", G},
        [F_P_CPU_PCT] = {"process_cpu_usage_percent",
                         "CPU use over the last interval: 100 * delta(utime + stime) / USER_HZ / "
                         "delta t.",
                         "percent", G},
        [F_P_READ_RATE] = {"process_io_read_bytes_per_second",
                           "Storage read rate over the last interval: delta(read_bytes) / delta "
                           "t.",
                           "bytes_per_second", G},
        [F_P_WRITE_RATE] = {"process_io_write_bytes_per_second",
                            "Storage write rate over the last interval: delta(write_bytes) / "
                            "delta t.",
                            "bytes_per_second", G},
        [F_P_INFO] = {"process_info",
                      "Process facts: state, parent, command line, cgroup (value 1).", "", I},

        [F_C_CPU_USAGE] = {"container_cpu_usage_seconds_total", "Cumulative CPU time consumed.",
                           "seconds", C},
        [F_C_CPU_USER] = {"container_cpu_user_seconds_total", "Cumulative user CPU time.",
                          "seconds", C},
        [F_C_CPU_SYSTEM] = {"container_cpu_system_seconds_total", "Cumulative system CPU time.",
                            "seconds", C},
        [F_C_PERIODS] = {"container_cpu_cfs_periods_total", "Elapsed CFS enforcement periods.", "",
                         C},
        [F_C_THROTTLED] = {"container_cpu_cfs_throttled_periods_total", "Throttled CFS periods.",
                           "", C},
        [F_C_THROTTLED_SECONDS] = {"container_cpu_cfs_throttled_seconds_total", "Time throttled.",
                                   "seconds", C},
        [F_C_MEM_USAGE] = {"container_memory_usage_bytes", "Memory usage, cache included.", "bytes",
                           G},
        [F_C_WORKING_SET] = {"container_memory_working_set_bytes",
                             "Working set: usage - inactive_file, at least 0.", "bytes", G},
        [F_C_RSS] = {"container_memory_rss", "Anonymous memory.", "bytes", G},
        [F_C_CACHE] = {"container_memory_cache", "Page cache.", "bytes", G},
        [F_C_LIMIT] = {"container_spec_memory_limit_bytes", "Memory limit; 0 when unlimited.",
                       "bytes", G},
        [F_C_THREADS] = {"container_threads", "Tasks in the cgroup.", "", G},
        [F_C_PROCESSES] = {"container_processes", "Processes in the cgroup.", "", G},
        [F_C_FS_READ] = {"container_fs_reads_bytes_total", "Bytes read.", "bytes", C},
        [F_C_FS_WRITE] = {"container_fs_writes_bytes_total", "Bytes written.", "bytes", C},

        [F_POD_RX_BYTES] = {"container_network_receive_bytes_total",
                            "Bytes received by the pod per interface.", "bytes", C},
        [F_POD_RX_PACKETS] = {"container_network_receive_packets_total",
                              "Packets received by the pod per interface.", "", C},
        [F_POD_TX_BYTES] = {"container_network_transmit_bytes_total",
                            "Bytes sent by the pod per interface.", "bytes", C},
        [F_POD_TX_PACKETS] = {"container_network_transmit_packets_total",
                              "Packets sent by the pod per interface.", "", C},
        [F_POD_INFO] = {"cobs_pod_info", "A pod on this node (value 1).", "", I},
        [F_CTR_INFO] = {"cobs_container_info", "A container on this node (value 1).", "", I},

#define MEM(i, key, unit)                                                                          \
	[F_MEM + (i)] = {"node_memory_" key,                                                       \
	                 "Memory information field "                                               \
	                 "from /proc/meminfo.",                                                    \
	                 unit, G}
        MEM(0, "MemTotal_bytes", "bytes"),
        MEM(1, "MemFree_bytes", "bytes"),
        MEM(2, "MemAvailable_bytes", "bytes"),
        MEM(3, "Buffers_bytes", "bytes"),
        MEM(4, "Cached_bytes", "bytes"),
        MEM(5, "SwapCached_bytes", "bytes"),
        MEM(6, "Active_bytes", "bytes"),
        MEM(7, "Inactive_bytes", "bytes"),
        MEM(8, "Active_anon_bytes", "bytes"),
        MEM(9, "Inactive_anon_bytes", "bytes"),
        MEM(10, "Active_file_bytes", "bytes"),
        MEM(11, "Inactive_file_bytes", "bytes"),
        MEM(12, "Unevictable_bytes", "bytes"),
        MEM(13, "Mlocked_bytes", "bytes"),
        MEM(14, "SwapTotal_bytes", "bytes"),
        MEM(15, "SwapFree_bytes", "bytes"),
        MEM(16, "Dirty_bytes", "bytes"),
        MEM(17, "Writeback_bytes", "bytes"),
        MEM(18, "AnonPages_bytes", "bytes"),
        MEM(19, "Mapped_bytes", "bytes"),
        MEM(20, "Shmem_bytes", "bytes"),
        MEM(21, "KReclaimable_bytes", "bytes"),
        MEM(22, "Slab_bytes", "bytes"),
        MEM(23, "SReclaimable_bytes", "bytes"),
        MEM(24, "SUnreclaim_bytes", "bytes"),
        MEM(25, "KernelStack_bytes", "bytes"),
        MEM(26, "PageTables_bytes", "bytes"),
        MEM(27, "CommitLimit_bytes", "bytes"),
        MEM(28, "Committed_AS_bytes", "bytes"),
        MEM(29, "VmallocTotal_bytes", "bytes"),
        MEM(30, "VmallocUsed_bytes", "bytes"),
        MEM(31, "Percpu_bytes", "bytes"),
        MEM(32, "HugePages_Total", ""),
        MEM(33, "HugePages_Free", ""),
        MEM(34, "Hugepagesize_bytes", "bytes"),
#undef MEM

#define NET(i, name)                                                                               \
	[F_NET + (i)] = {"node_network_" name "_total",                                            \
	                 "Network device statistic from /proc/net/dev.", "", C}
        NET(0, "receive_bytes"),
        NET(1, "receive_packets"),
        NET(2, "receive_errs"),
        NET(3, "receive_drop"),
        NET(4, "receive_fifo"),
        NET(5, "receive_frame"),
        NET(6, "receive_compressed"),
        NET(7, "receive_multicast"),
        NET(8, "transmit_bytes"),
        NET(9, "transmit_packets"),
        NET(10, "transmit_errs"),
        NET(11, "transmit_drop"),
        NET(12, "transmit_fifo"),
        NET(13, "transmit_colls"),
        NET(14, "transmit_carrier"),
        NET(15, "transmit_compressed"),
#undef NET

#define DISK(i, name, unit, type)                                                                  \
	[F_DISK + (i)] = {"node_disk_" name, "Disk statistic from /proc/diskstats.", unit, type}
        DISK(0, "reads_completed_total", "", C),
        DISK(1, "reads_merged_total", "", C),
        DISK(2, "read_bytes_total", "bytes", C),
        DISK(3, "read_time_seconds_total", "seconds", C),
        DISK(4, "writes_completed_total", "", C),
        DISK(5, "writes_merged_total", "", C),
        DISK(6, "written_bytes_total", "bytes", C),
        DISK(7, "write_time_seconds_total", "seconds", C),
        DISK(8, "io_now", "", G),
        DISK(9, "io_time_seconds_total", "seconds", C),
        DISK(10, "io_time_weighted_seconds_total", "seconds", C),
        DISK(11, "discards_completed_total", "", C),
        DISK(12, "discards_merged_total", "", C),
        DISK(13, "discarded_sectors_total", "", C),
        DISK(14, "discard_time_seconds_total", "seconds", C),
        DISK(15, "flush_requests_total", "", C),
        DISK(16, "flush_requests_time_seconds_total", "seconds", C),
#undef DISK
};

static const char *const cpu_modes[SIM_CPU_MODES] = {"user",   "nice", "system",  "idle",
                                                     "iowait", "irq",  "softirq", "steal"};
static const char *const net_devs[SIM_NET_DEVS] = {"eth0", "cni0", "flannel.1"};
static const char *const disks[SIM_DISKS] = {"nvme0n1", "nvme1n1"};

typedef struct fill {
	cobs_batch *b;
	sim_families *f;
	int failed;
} fill;

static cobs_family *fam(fill *x, int id)
{
	const fam_spec *s = &specs[id];
	cobs_family *f =
	        cobs_batch_family_ref(x->b, &x->f->refs[id], s->name, s->help, s->unit, s->type);
	if (!f)
		x->failed = 1;
	return f;
}

/* A sample with its own copy of labels. */
static void add(fill *x, int id, double v, const cobs_label *l, size_t n)
{
	cobs_family *f = fam(x, id);
	if (f && cobs_family_add(x->b, f, v, l, n) < 0)
		x->failed = 1;
}

/* A sample pointing at a label set already copied by cobs_batch_labels. */
static void add_shared(fill *x, int id, double v, const cobs_label *l, size_t n)
{
	cobs_family *f = fam(x, id);
	if (f && (!l || cobs_family_add_shared(x->b, f, v, l, n) < 0))
		x->failed = 1;
}

/* ---- node ---- */

static void fill_cpu(fill *x, const sim_node *n)
{
	char cpu[12];
	uint64_t agg[SIM_CPU_MODES] = {0};
	for (unsigned c = 0; c < n->ncpus; c++) {
		snprintf(cpu, sizeof(cpu), "%u", c);
		const cobs_label *set = cobs_batch_labels(x->b, (cobs_label[]){{"cpu", cpu}}, 1);
		for (int m = 0; m < SIM_CPU_MODES; m++) {
			cobs_label l[] = {{"cpu", cpu}, {"mode", cpu_modes[m]}};
			add(x, F_CPU, (double)n->cpu[c][m] / 100.0, l, 2);
			agg[m] += n->cpu[c][m];
		}
		if (n->has_rate)
			add_shared(x, F_CPU_PCT, n->cpu_pct[c], set, 1);
	}
	if (n->has_rate)
		add(x, F_CPU_PCT, n->cpu_pct[n->ncpus], (cobs_label[]){{"cpu", "total"}}, 1);
	for (int m = 0; m < SIM_CPU_MODES; m++)
		add(x, F_CPU_AGG, (double)agg[m] / 100.0, (cobs_label[]){{"mode", cpu_modes[m]}},
		    1);
	add(x, F_CTXT, (double)n->ctxt, NULL, 0);
	add(x, F_INTR, (double)n->intr, NULL, 0);
	add(x, F_FORKS, (double)n->forks, NULL, 0);
	add(x, F_RUNNING, n->running + 1, NULL, 0);
	add(x, F_BLOCKED, n->blocked, NULL, 0);
	add(x, F_BOOT, n->boot_time, NULL, 0);
	/* Two decimals, as /proc/loadavg prints them. */
	add(x, F_LOAD1, (double)(int64_t)(n->load[0] * 100 + 0.5) / 100, NULL, 0);
	add(x, F_LOAD5, (double)(int64_t)(n->load[1] * 100 + 0.5) / 100, NULL, 0);
	add(x, F_LOAD15, (double)(int64_t)(n->load[2] * 100 + 0.5) / 100, NULL, 0);
}

static uint64_t kb(uint64_t v)
{
	return v & ~(uint64_t)1023;
}

/* meminfo from the processes' memory, the caches and the kernel's share. */
static void fill_memory(fill *x, const sim_node *n)
{
	uint64_t total = n->mem_total, ctr_cache = 0;
	for (unsigned i = 0; i < n->nctrs; i++)
		ctr_cache += n->ctrs[i].cache;
	uint64_t anon = n->anon / 10 * 8, mapped = n->anon - anon;
	uint64_t cached = n->cache + ctr_cache, buffers = n->buffers, slab = n->kernel / 2;
	uint64_t other = n->kernel - slab;
	uint64_t used = anon + mapped + cached + buffers + n->kernel;
	if (used > total / 100 * 97) { /* the page cache gives way first */
		uint64_t over = used - total / 100 * 97;
		cached = cached > over ? cached - over : 0;
		used = anon + mapped + cached + buffers + n->kernel;
	}
	uint64_t free_ = used < total ? total - used : 0;
	uint64_t avail = free_ + cached / 10 * 8 + buffers + slab / 2;
	if (avail > total)
		avail = total;
	uint64_t v[NMEM] = {
	        total,                                        /* MemTotal */
	        free_,                                        /* MemFree */
	        avail,                                        /* MemAvailable */
	        buffers,                                      /* Buffers */
	        cached,                                       /* Cached */
	        0,                                            /* SwapCached */
	        anon / 5 * 3 + (cached + buffers) / 2,        /* Active */
	        anon - anon / 5 * 3 + (cached + buffers) / 2, /* Inactive: rounding aside */
	        anon / 5 * 3,                                 /* Active_anon */
	        anon - anon / 5 * 3,                          /* Inactive_anon */
	        (cached + buffers) / 2,                       /* Active_file */
	        (cached + buffers) - (cached + buffers) / 2,  /* Inactive_file */
	        0,                                            /* Unevictable */
	        0,                                            /* Mlocked */
	        0,                                            /* SwapTotal */
	        0,                                            /* SwapFree */
	        cached / 1000,                                /* Dirty */
	        0,                                            /* Writeback */
	        anon,                                         /* AnonPages */
	        mapped,                                       /* Mapped */
	        cached / 50,                                  /* Shmem */
	        slab / 2,                                     /* KReclaimable */
	        slab,                                         /* Slab */
	        slab / 2,                                     /* SReclaimable */
	        slab - slab / 2,                              /* SUnreclaim */
	        other / 8,                                    /* KernelStack */
	        other / 4,                                    /* PageTables */
	        total / 2,                                    /* CommitLimit */
	        (anon + mapped) * 2,                          /* Committed_AS */
	        35184372087808ull,                            /* VmallocTotal */
	        other / 4,                                    /* VmallocUsed */
	        n->ncpus * 512ull * 1024,                     /* Percpu */
	        0,                                            /* HugePages_Total (a count) */
	        0,                                            /* HugePages_Free (a count) */
	        2048 * 1024,                                  /* Hugepagesize */
	};
	for (int i = 0; i < NMEM; i++)
		add(x, F_MEM + i, (double)(i == 32 || i == 33 ? v[i] : kb(v[i])), NULL, 0);
	add(x, F_MEM_PCT, 100.0 * (double)(kb(total) - kb(avail)) / (double)kb(total), NULL, 0);
}

static void fill_network(fill *x, const sim_node *n)
{
	for (int s = 0; s < SIM_NET_STATS; s++)
		for (unsigned d = 0; d < SIM_NET_DEVS; d++)
			add(x, F_NET + s, (double)n->net[d][s],
			    (cobs_label[]){{"device", net_devs[d]}}, 1);
	for (unsigned d = 0; n->has_rate && d < SIM_NET_DEVS; d++) {
		const cobs_label l[] = {{"device", net_devs[d]}};
		add(x, F_NET_RX_RATE, n->net_rate[d][0], l, 1);
		add(x, F_NET_TX_RATE, n->net_rate[d][1], l, 1);
	}
}

/* diskstats units to node_exporter's: sectors to bytes, milliseconds to seconds. */
static double disk_value(int s, uint64_t v)
{
	switch (s) {
	case 2:
	case 6:
		return (double)v * 512;
	case 3:
	case 7:
	case 9:
	case 10:
	case 14:
	case 16:
		return (double)v / 1000.0;
	default:
		return (double)v;
	}
}

static void fill_disks(fill *x, const sim_node *n)
{
	for (int s = 0; s < SIM_DISK_STATS; s++)
		for (unsigned d = 0; d < SIM_DISKS; d++)
			add(x, F_DISK + s, disk_value(s, n->disk[d][s]),
			    (cobs_label[]){{"device", disks[d]}}, 1);
	for (unsigned d = 0; n->has_rate && d < SIM_DISKS; d++) {
		const cobs_label l[] = {{"device", disks[d]}};
		for (int k = 0; k < 4; k++)
			add(x, F_DISK_READ_RATE + k, n->disk_rate[d][k], l, 1);
	}
}

static void fill_process_counts(fill *x, const sim_node *n)
{
	unsigned sleeping = n->nprocs - n->running - n->blocked;
	add(x, F_PSTATE, n->running, (cobs_label[]){{"state", "R"}}, 1);
	add(x, F_PSTATE, sleeping, (cobs_label[]){{"state", "S"}}, 1);
	add(x, F_PSTATE, n->blocked, (cobs_label[]){{"state", "D"}}, 1);
	add(x, F_PSTATE, SIM_KTHREADS, (cobs_label[]){{"state", "I"}}, 1);
	add(x, F_PIDS, n->nprocs + SIM_KTHREADS, NULL, 0);
	add(x, F_PTHREADS, n->threads, NULL, 0);
	add(x, F_KTHREADS, SIM_KTHREADS, NULL, 0);
}

/* ---- processes ---- */

static double proc_value(const sim_node *n, const sim_process *p, int id)
{
	uint64_t anon = p->rss / 10 * 7 & ~(uint64_t)4095;
	switch (id) {
	case F_P_MINFLT:
		return (double)p->minflt;
	case F_P_MAJFLT:
		return (double)p->majflt;
	case F_P_PRIORITY:
		return p->priority;
	case F_P_NICE:
		return p->nice;
	case F_P_THREADS:
		return p->threads;
	case F_P_START:
		return n->boot_time + (double)p->starttime / 100.0;
	case F_P_VSIZE:
		return (double)p->vsize;
	case F_P_RSS:
		return (double)p->rss;
	case F_P_RSS_ANON:
		return (double)anon;
	case F_P_RSS_FILE:
		return (double)(p->rss - anon);
	case F_P_SWAP:
		return (double)p->swap;
	case F_P_VCTX:
		return (double)p->vctx;
	case F_P_NVCTX:
		return (double)p->nvctx;
	case F_P_IO_READ:
		return (double)p->read_bytes;
	case F_P_IO_WRITE:
		return (double)p->write_bytes;
	case F_P_IO_RCHAR:
		return (double)p->rchar;
	case F_P_IO_WCHAR:
		return (double)p->wchar;
	case F_P_IO_SYSCR:
		return (double)p->syscr;
	case F_P_IO_SYSCW:
		return (double)p->syscw;
	case F_P_FDS:
		return p->fds;
	default: /* F_P_MEM_PCT */
		return 100.0 * (double)p->rss / (double)n->mem_total;
	}
}

/* A set of n labels plus one more, copied into the batch. */
static const cobs_label *with_label(fill *x, const cobs_label *l, size_t n, const char *name,
                                    const char *value)
{
	cobs_label ext[16];
	memcpy(ext, l, n * sizeof(*l));
	ext[n] = (cobs_label){name, value};
	return cobs_batch_labels(x->b, ext, n + 1);
}

static void fill_process(fill *x, const sim_node *n, const sim_process *p)
{
	size_t k = p->nlabels;
	const cobs_label *set = cobs_batch_labels(x->b, p->labels, k);
	const cobs_label *user = with_label(x, p->labels, k, "mode", "user");
	const cobs_label *sys = with_label(x, p->labels, k, "mode", "system");
	add_shared(x, F_P_CPU, (double)p->utime / 100.0, user, k + 1);
	add_shared(x, F_P_CPU, (double)p->stime / 100.0, sys, k + 1);
	add_shared(x, F_P_CHILD_CPU, (double)p->cutime / 100.0, user, k + 1);
	add_shared(x, F_P_CHILD_CPU, (double)p->cstime / 100.0, sys, k + 1);
	for (int id = F_P_MINFLT; id <= F_P_MEM_PCT; id++)
		add_shared(x, id, proc_value(n, p, id), set, k);
	if (p->has_rate) {
		add_shared(x, F_P_CPU_PCT, p->cpu_pct, set, k);
		add_shared(x, F_P_READ_RATE, p->read_rate, set, k);
		add_shared(x, F_P_WRITE_RATE, p->write_rate, set, k);
	}
	cobs_label info[16];
	memcpy(info, p->labels, k * sizeof(*info));
	info[k++] = (cobs_label){"state", p->state};
	info[k++] = (cobs_label){"ppid", p->ppid};
	info[k++] = (cobs_label){"cmdline", p->cmdline};
	info[k++] = (cobs_label){"cgroup", p->cgroup};
	add(x, F_P_INFO, 1, info, k);
}

/* ---- containers and pods ---- */

static void fill_container(fill *x, const sim_container *c)
{
	const cobs_label *set = cobs_batch_labels(x->b, c->labels, 6);
	uint64_t inactive_file = c->cache / 2;
	const double v[F_C_COUNT_END - F_C_CPU_USAGE] = {
	        (double)c->cpu_usec / 1e6,
	        (double)c->cpu_user_usec / 1e6,
	        (double)(c->cpu_usec - c->cpu_user_usec) / 1e6,
	        (double)c->periods,
	        (double)c->throttled,
	        (double)c->throttled_usec / 1e6,
	        (double)c->usage,
	        (double)(c->usage - inactive_file),
	        (double)c->anon,
	        (double)c->cache,
	        (double)c->limit,
	        (double)c->threads,
	        (double)c->procs,
	        (double)c->fs_read,
	        (double)c->fs_write,
	};
	for (int id = F_C_CPU_USAGE; id < F_C_COUNT_END; id++)
		add_shared(x, id, v[id - F_C_CPU_USAGE], set, 6);
}

static void fill_pod(fill *x, const sim_pod *pod)
{
	const cobs_label *eth = with_label(x, pod->labels, 3, "interface", "eth0");
	for (int i = 0; i < 4; i++)
		add_shared(x, F_POD_RX_BYTES + i, (double)pod->net[i], eth, 4);
	cobs_label l[] = {pod->labels[0],
	                  pod->labels[1],
	                  pod->labels[2],
	                  {"qos_class", pod->qos},
	                  {"host_network", "false"},
	                  {"phase", "Running"}};
	add(x, F_POD_INFO, 1, l, 6);
}

static void fill_container_info(fill *x, const sim_container *c)
{
	cobs_label l[] = {c->labels[0], c->labels[1],       c->labels[2],
	                  c->labels[3], c->labels[4],       {"runtime", "containerd"},
	                  c->labels[5], {"image", c->image}};
	add(x, F_CTR_INFO, 1, l, 8);
}

int sim_node_fill(const sim_node *n, cobs_batch *b, sim_families *f)
{
	fill x = {.b = b, .f = f};
	fill_cpu(&x, n);
	fill_memory(&x, n);
	fill_network(&x, n);
	fill_disks(&x, n);
	fill_process_counts(&x, n);
	for (unsigned i = 0; i < n->nprocs; i++)
		fill_process(&x, n, &n->procs[i]);
	for (unsigned i = 0; i < n->nctrs; i++)
		fill_container(&x, &n->ctrs[i]);
	for (unsigned i = 0; i < n->npods; i++)
		fill_pod(&x, &n->pods[i]);
	for (unsigned i = 0; i < n->nctrs; i++)
		fill_container_info(&x, &n->ctrs[i]);
	return x.failed ? -1 : 0;
}
