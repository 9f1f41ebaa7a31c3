/*
 * The table of every family procpid reports, and lazy creation per pass (see
 * emit.h). The help texts carry the source file and, for derived values,
 * the formula, so a user reading /metrics knows what a number means.
 */
#include <string.h>

#include "emit.h"

typedef struct fam_spec {
	const char *name;
	const char *help;
	const char *unit;
	cobs_metric_type type;
} fam_spec;

#define C COBS_COUNTER
#define G COBS_GAUGE
#define I COBS_INFO

static const fam_spec specs[F_COUNT] = {
        [F_P_CPU] = {"process_cpu_seconds_total",
                     "CPU time of the process by mode (stat utime, stime).", "seconds", C},
        [F_P_CHILD_CPU] = {"process_children_cpu_seconds_total",
                           "CPU time of the process's waited-for children by mode (stat "
                           "cutime, cstime).",
                           "seconds", C},
        [F_P_MINFLT] = {"process_minor_faults_total", "Minor page faults (stat minflt).", "", C},
        [F_P_MAJFLT] = {"process_major_faults_total", "Major page faults (stat majflt).", "", C},
        [F_P_PRIORITY] = {"process_priority", "Scheduling priority (stat priority).", "", G},
        [F_P_NICE] = {"process_nice", "Nice value (stat nice).", "", G},
        [F_P_THREADS] = {"process_threads", "Threads in the process (stat num_threads).", "", G},
        [F_P_START] = {"process_start_time_seconds",
                       "Start time since the epoch (btime + stat starttime / USER_HZ).", "seconds",
                       G},
        [F_P_PROCESSOR] = {"process_processor", "CPU the process last ran on (stat processor).", "",
                           G},
        [F_P_VSIZE] = {"process_virtual_memory_bytes", "Virtual memory size (status VmSize).",
                       "bytes", G},
        [F_P_VPEAK] = {"process_virtual_memory_peak_bytes",
                       "Peak virtual memory size (status VmPeak).", "bytes", G},
        [F_P_RSS] = {"process_resident_memory_bytes", "Resident set size (status VmRSS).", "bytes",
                     G},
        [F_P_RSS_ANON] = {"process_resident_anon_bytes",
                          "Resident anonymous memory (status RssAnon).", "bytes", G},
        [F_P_RSS_FILE] = {"process_resident_file_bytes", "Resident file mappings (status RssFile).",
                          "bytes", G},
        [F_P_RSS_SHMEM] = {"process_resident_shmem_bytes",
                           "Resident shared memory (status RssShmem).", "bytes", G},
        [F_P_LOCKED] = {"process_locked_memory_bytes", "Locked memory (status VmLck).", "bytes", G},
        [F_P_PINNED] = {"process_pinned_memory_bytes", "Pinned memory (status VmPin).", "bytes", G},
        [F_P_SWAP] = {"process_swap_bytes", "Swapped-out anonymous memory (status VmSwap).",
                      "bytes", G},
        [F_P_VCTX] = {"process_voluntary_context_switches_total",
                      "Voluntary context switches (status voluntary_ctxt_switches).", "", C},
        [F_P_NVCTX] = {"process_nonvoluntary_context_switches_total",
                       "Involuntary context switches (status nonvoluntary_ctxt_switches).", "", C},
        [F_P_IO_READ] = {"process_io_read_bytes_total",
                         "Bytes the process caused to be read from storage (io read_bytes).",
                         "bytes", C},
        [F_P_IO_WRITE] = {"process_io_write_bytes_total",
                          "Bytes the process caused to be written to storage (io write_bytes).",
                          "bytes", C},
        [F_P_IO_CANCELLED] = {"process_io_cancelled_write_bytes_total",
                              "Written bytes later truncated away (io "
                              "cancelled_write_bytes).",
                              "bytes", C},
        [F_P_IO_RCHAR] = {"process_io_rchar_bytes_total",
                          "Bytes passed to read() and similar, page cache included (io rchar).",
                          "bytes", C},
        [F_P_IO_WCHAR] = {"process_io_wchar_bytes_total",
                          "Bytes passed to write() and similar (io wchar).", "bytes", C},
        [F_P_IO_SYSCR] = {"process_io_read_syscalls_total", "Read system calls (io syscr).", "", C},
        [F_P_IO_SYSCW] = {"process_io_write_syscalls_total", "Write system calls (io syscw).", "",
                          C},
        [F_P_FDS] = {"process_open_fds", "Open file descriptors (entries of /proc/PID/fd).", "", G},
        [F_P_INFO] = {"process_info",
                      "Process facts: state, parent, command line, cgroup (value 1).", "", I},
        [F_P_SECURITY] = {"process_security_info",
                          "Security settings from status: Seccomp, Speculation_Store_Bypass, "
                          "Cpus_allowed_list, Mems_allowed_list, NoNewPrivs, CapEff (value 1).",
                          "", I},
        [F_P_CPU_PCT] = {"process_cpu_usage_percent",
                         "CPU use over the last interval: 100 * delta(utime + stime) / USER_HZ "
                         "/ delta t; above 100 when several threads run at once.",
                         "percent", G},
        [F_P_MEM_PCT] = {"process_memory_percent",
                         "Resident memory as a share of the node's: 100 * VmRSS / MemTotal.",
                         "percent", G},
        [F_P_IO_READ_RATE] = {"process_io_read_bytes_per_second",
                              "Storage read rate over the last interval: delta(read_bytes) / "
                              "delta t.",
                              "bytes_per_second", G},
        [F_P_IO_WRITE_RATE] = {"process_io_write_bytes_per_second",
                               "Storage write rate over the last interval: delta(write_bytes) / "
                               "delta t.",
                               "bytes_per_second", G},
        [F_N_STATE] = {"node_processes_state",
                       "Processes on the node by state letter (stat state), kernel threads and "
                       "zombies included.",
                       "", G},
        [F_N_PIDS] = {"node_processes_pids", "Processes on the node (entries of /proc).", "", G},
        [F_N_THREADS] = {"node_processes_threads", "Threads of all processes on the node.", "", G},
        [F_N_KTHREADS] = {"node_processes_kernel_threads", "Kernel threads on the node.", "", G},
        [F_C_CPU_USAGE] = {"container_cpu_usage_seconds_total",
                           "Cumulative CPU time consumed (cpu.stat usage_usec; v1 "
                           "cpuacct.usage).",
                           "seconds", C},
        [F_C_CPU_USER] = {"container_cpu_user_seconds_total",
                          "Cumulative user CPU time (cpu.stat user_usec; v1 cpuacct.stat).",
                          "seconds", C},
        [F_C_CPU_SYSTEM] = {"container_cpu_system_seconds_total",
                            "Cumulative system CPU time (cpu.stat system_usec; v1 "
                            "cpuacct.stat).",
                            "seconds", C},
        [F_C_CFS_PERIODS] = {"container_cpu_cfs_periods_total",
                             "Elapsed CFS enforcement periods (cpu.stat nr_periods).", "", C},
        [F_C_CFS_THROTTLED_PERIODS] = {"container_cpu_cfs_throttled_periods_total",
                                       "Throttled CFS periods (cpu.stat nr_throttled).", "", C},
        [F_C_CFS_THROTTLED_SECONDS] = {"container_cpu_cfs_throttled_seconds_total",
                                       "Time throttled (cpu.stat throttled_usec; v1 "
                                       "throttled_time).",
                                       "seconds", C},
        [F_C_CPU_QUOTA] = {"container_spec_cpu_quota",
                           "CPU quota per period in microseconds (cpu.max; v1 cfs_quota_us); "
                           "absent when unlimited.",
                           "", G},
        [F_C_CPU_PERIOD] = {"container_spec_cpu_period",
                            "CPU period in microseconds (cpu.max; v1 cfs_period_us).", "", G},
        [F_C_MEM_USAGE] = {"container_memory_usage_bytes",
                           "Memory usage, cache included (memory.current; v1 usage_in_bytes).",
                           "bytes", G},
        [F_C_MEM_LIMIT] = {"container_spec_memory_limit_bytes",
                           "Memory limit (memory.max; v1 limit_in_bytes); 0 when unlimited.",
                           "bytes", G},
        [F_C_MEM_MAX_USAGE] = {"container_memory_max_usage_bytes",
                               "Peak memory usage (memory.peak; v1 max_usage_in_bytes).", "bytes",
                               G},
        [F_C_MEM_WORKING_SET] = {"container_memory_working_set_bytes",
                                 "Working set: usage - inactive_file (memory.stat), at least 0.",
                                 "bytes", G},
        [F_C_MEM_RSS] = {"container_memory_rss",
                         "Anonymous memory (memory.stat anon; v1 total_rss).", "bytes", G},
        [F_C_MEM_CACHE] = {"container_memory_cache",
                           "Page cache (memory.stat file; v1 total_cache).", "bytes", G},
        [F_C_MEM_MAPPED] = {"container_memory_mapped_file",
                            "Mapped files (memory.stat file_mapped; v1 total_mapped_file).",
                            "bytes", G},
        [F_C_MEM_SWAP] = {"container_memory_swap",
                          "Swap usage (memory.swap.current; v1 memory.stat total_swap).", "bytes",
                          G},
        [F_C_MEM_FAILCNT] = {"container_memory_failcnt",
                             "Times the memory limit was hit (v1 memory.failcnt).", "", C},
        [F_C_OOM_EVENTS] = {"container_oom_events_total",
                            "Times the cgroup ran out of memory (memory.events oom).", "", C},
        [F_C_OOM_KILLS] = {"container_memory_oom_kills_total",
                           "Processes killed by the OOM killer (memory.events oom_kill; v1 "
                           "memory.oom_control oom_kill).",
                           "", C},
        [F_C_FS_READ_BYTES] = {"container_fs_reads_bytes_total",
                               "Bytes read per device (io.stat rbytes; v1 blkio).", "bytes", C},
        [F_C_FS_WRITE_BYTES] = {"container_fs_writes_bytes_total",
                                "Bytes written per device (io.stat wbytes; v1 blkio).", "bytes", C},
        [F_C_FS_READS] = {"container_fs_reads_total",
                          "Reads completed per device (io.stat rios; v1 blkio).", "", C},
        [F_C_FS_WRITES] = {"container_fs_writes_total",
                           "Writes completed per device (io.stat wios; v1 blkio).", "", C},
        [F_C_THREADS] = {"container_threads", "Tasks in the cgroup (pids.current).", "", G},
        [F_C_THREADS_MAX] = {"container_threads_max", "Task limit (pids.max); 0 when unlimited.",
                             "", G},
        [F_C_PROCESSES] = {"container_processes",
                           "Processes seen in the cgroup this pass (from /proc).", "", G},
        [F_C_PSI_CPU_WAITING] = {"container_pressure_cpu_waiting_seconds_total",
                                 "Time some tasks waited for CPU (cpu.pressure some total).",
                                 "seconds", C},
        [F_C_PSI_CPU_STALLED] = {"container_pressure_cpu_stalled_seconds_total",
                                 "Time all tasks stalled on CPU (cpu.pressure full total).",
                                 "seconds", C},
        [F_C_PSI_MEM_WAITING] = {"container_pressure_memory_waiting_seconds_total",
                                 "Time some tasks waited for memory (memory.pressure some).",
                                 "seconds", C},
        [F_C_PSI_MEM_STALLED] = {"container_pressure_memory_stalled_seconds_total",
                                 "Time all tasks stalled on memory (memory.pressure full).",
                                 "seconds", C},
        [F_C_PSI_IO_WAITING] = {"container_pressure_io_waiting_seconds_total",
                                "Time some tasks waited for I/O (io.pressure some total).",
                                "seconds", C},
        [F_C_PSI_IO_STALLED] = {"container_pressure_io_stalled_seconds_total",
                                "Time all tasks stalled on I/O (io.pressure full total).",
                                "seconds", C},
        [F_POD_INFO] = {"cobs_pod_info",
                        "A pod on this node: QoS from its cgroup, host network from its "
                        "network namespace, names and phase when the API is reachable (value "
                        "1).",
                        "", I},
        [F_POD_LABELS] = {"kube_pod_labels", "A pod's Kubernetes labels as label_<name> (value 1).",
                          "", I},
        [F_CTR_INFO] = {"cobs_container_info",
                        "A container on this node: runtime and cgroup, name and image when "
                        "known (value 1).",
                        "", I},
        [F_CTR_RESTARTS] = {"kube_pod_container_status_restarts_total",
                            "Container restarts, from the Kubernetes API.", "", C},
        [F_NET_RX_BYTES] = {"container_network_receive_bytes_total",
                            "Bytes received by the pod per interface (net/dev).", "bytes", C},
        [F_NET_RX_PACKETS] = {"container_network_receive_packets_total",
                              "Packets received by the pod per interface.", "", C},
        [F_NET_RX_ERRORS] = {"container_network_receive_errors_total",
                             "Receive errors of the pod per interface.", "", C},
        [F_NET_RX_DROPPED] = {"container_network_receive_packets_dropped_total",
                              "Received packets dropped, per interface.", "", C},
        [F_NET_TX_BYTES] = {"container_network_transmit_bytes_total",
                            "Bytes sent by the pod per interface (net/dev).", "bytes", C},
        [F_NET_TX_PACKETS] = {"container_network_transmit_packets_total",
                              "Packets sent by the pod per interface.", "", C},
        [F_NET_TX_ERRORS] = {"container_network_transmit_errors_total",
                             "Transmit errors of the pod per interface.", "", C},
        [F_NET_TX_DROPPED] = {"container_network_transmit_packets_dropped_total",
                              "Transmitted packets dropped, per interface.", "", C},
        [F_SELF_OPEN_FILES] = {"cobs_procpid_open_files",
                               "Files procpid keeps open between passes (see max_open_files).", "",
                               G},
};

void emitter_init(emitter *e, cobs_batch *b)
{
	memset(e, 0, sizeof(*e));
	e->b = b;
}

static cobs_family *family(emitter *e, fam_id id)
{
	if (!e->f[id]) {
		const fam_spec *s = &specs[id];
		e->f[id] = cobs_batch_family(e->b, s->name, s->help, s->unit, s->type);
	}
	return e->f[id];
}

int emit(emitter *e, fam_id id, double v, const cobs_label *labels, size_t n)
{
	cobs_family *f = family(e, id);
	return f ? cobs_family_add(e->b, f, v, labels, n) : -1;
}

int emit_shared(emitter *e, fam_id id, double v, const cobs_label *labels, size_t n)
{
	cobs_family *f = family(e, id);
	return f ? cobs_family_add_shared(e->b, f, v, labels, n) : -1;
}
