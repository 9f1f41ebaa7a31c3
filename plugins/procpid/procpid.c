/*
 * procpid: every process on the node, grouped into its container and pod,
 * with the containers' and pods' own cgroup metrics and the pods' networks.
 *
 * Per process (labels pid, comm; for a process in a pod also pod_uid and,
 * in a container, container_id; namespace, pod and container when the
 * Kubernetes API names them):
 *   process_cpu_seconds_total{mode=user|system}          stat utime, stime / USER_HZ
 *   process_children_cpu_seconds_total{mode=user|system} stat cutime, cstime / USER_HZ
 *   process_minor_faults_total, process_major_faults_total
 *   process_priority, process_nice, process_threads, process_processor
 *   process_start_time_seconds                           btime + starttime / USER_HZ
 *   process_virtual_memory_bytes (VmSize), process_virtual_memory_peak_bytes (VmPeak),
 *   process_resident_memory_bytes (VmRSS), process_resident_{anon,file,shmem}_bytes,
 *   process_locked_memory_bytes (VmLck), process_pinned_memory_bytes (VmPin),
 *   process_swap_bytes (VmSwap)
 *   process_{voluntary,nonvoluntary}_context_switches_total
 *   process_io_{read,write,cancelled_write}_bytes_total   io read_bytes, ...
 *   process_io_{rchar,wchar}_bytes_total, process_io_{read,write}_syscalls_total
 *   process_open_fds                                     only with count_fds = true
 *   process_info{state,ppid,cmdline,cgroup} = 1          cgroup: its container's, pod's
 *                                                        or own cgroup, host path
 *   process_security_info{seccomp,speculation_store_bypass,cpus_allowed_list,
 *                         mems_allowed_list,no_new_privs,cap_eff} = 1
 * Derived, from the previous pass's readings of the same PID+starttime and
 * Δt between the batches' monotonic_ns (no value on a process's first pass):
 *   process_cpu_usage_percent  = 100 × Δ(utime + stime) / USER_HZ / Δt; a
 *                                process with several busy threads exceeds 100
 *   process_memory_percent     = 100 × VmRSS / MemTotal (<proc_root>/meminfo)
 *   process_io_{read,write}_bytes_per_second = Δ{read,write}_bytes / Δt
 * A PID reused by a new process (another starttime) is a new process: its
 * old readings are dropped, so a rate is never negative or huge. A process
 * that leaves is dropped with its state: its series are not sent again.
 *
 * Node: node_processes_state{state} (every process by state letter, kernel
 * threads and zombies included), node_processes_pids,
 * node_processes_threads, node_processes_kernel_threads. Kernel threads
 * (PF_KTHREAD in stat flags, or PID 2 and its children) and zombies
 * (state Z) have no process_* series unless include_kernel_threads /
 * include_zombies say so; they are never part of a pod.
 *
 * Containers, pods and other cgroups: container_* with cAdvisor's names
 * from the cgroup tree (cgstats.c), labelled namespace, pod, container
 * (known), pod_uid, container_id, and id (the cgroup's host path); a pod's
 * own cgroup has no container labels; a cgroup outside Kubernetes
 * (system.slice/ssh.service, user.slice/...) only id. cobs_pod_info{pod_uid,
 * qos_class,host_network[,namespace,pod,phase]}, cobs_container_info{...,
 * runtime,id[,image]}, kube_pod_labels and
 * kube_pod_container_status_restarts_total (API only), and
 * container_network_{receive,transmit}_{bytes,packets,errors,packets_dropped}
 * _total{interface} per pod (pods.c). cobs_procpid_open_files: fds kept open.
 *
 * Config, [plugin.procpid]:
 *   include_kernel_threads = false   process_* for kernel threads too
 *   include_zombies        = false   process_* for zombies too
 *   cmdline_max_length     = 256     bytes of the command line in process_info
 *                                    (0: no cmdline label, and no read)
 *   count_fds              = false   process_open_fds (a directory listing per
 *                                    process per pass: costly)
 *   container_metrics      = true    container_* from the cgroup tree
 *   system_cgroups         = true    container_* for cgroups outside Kubernetes too
 *   pod_network            = true    container_network_* per pod
 *   max_open_files         = 0       files kept open between passes; 0 = automatic:
 *                                    the soft RLIMIT_NOFILE less 512 (or half of
 *                                    it), at most 16384
 *   kube_*                           the Kubernetes API client's own (kube.h)
 *
 * Reading: /proc is listed every pass (rewinddir on one open directory) to
 * find new PIDs. stat, status and io stay open (pread at offset 0 is a fresh
 * read; an fd of a process that exited answers ESRCH, so a reused PID is
 * never read through a stale fd). cgroup and cmdline are read once per
 * PID+starttime, and again when comm changes (an exec; also a process that
 * was read just after fork, before its runtime moved it into its container).
 * Each kept file pins ~4.5 KB of kernel memory: max_open_files bounds them,
 * and past the bound, or after an EMFILE/ENFILE, files are opened per pass.
 * ENOENT, ESRCH and EACCES on a process's file are normal (it left; /proc/1/io
 * is closed even to root): the file or the process is skipped quietly.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procpid.h"

#define FD_RESERVE  512u
#define FD_AUTO_MAX 16384u

static const void *entry_key(const void *item, size_t *len)
{
	const proc_entry *e = item;
	*len = sizeof(e->pid);
	return &e->pid;
}

static uint64_t hash_comm(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* What an entry knows about the process that held its PID: dropped on exit or reuse. */
static void entry_forget(procpid *s, proc_entry *e)
{
	reader_close(&s->rd, &e->fd[PF_STATUS]);
	reader_close(&s->rd, &e->fd[PF_IO]);
	e->fd[PF_IO] = READER_CLOSED; /* io may be readable for the new process */
	groups_unref(s, e->node);
	e->node = NULL;
	e->cg_tried = false;
	free(e->cmdline);
	e->cmdline = NULL;
	e->netns = 0;
	e->prev_ns = 0;
	e->prev_io = false;
}

static bool entry_gone(void *item, void *ctx)
{
	procpid *s = ctx;
	proc_entry *e = item;
	if (e->pass == s->pass)
		return false;
	entry_forget(s, e);
	reader_close(&s->rd, &e->fd[PF_STAT]);
	free(e);
	return true;
}

/* The reader's shed callback: close kept fds, processes first, until within budget. */
static void shed(void *ctx)
{
	procpid *s = ctx;
	for (size_t i = 0; i < s->procs.n && s->rd.kept > s->rd.budget; i++) {
		proc_entry *e = s->procs.items[i];
		for (int f = 0; f < PF_N; f++)
			reader_close(&s->rd, &e->fd[f]);
	}
	groups_shed(s);
}

/* Open fds in <pid>/fd, or -1 when the directory cannot be listed (another user's). */
static int64_t count_fds(procpid *s, pid_t pid)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "%ld/fd", (long)pid);
	int fd = openat(s->proc_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int64_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The process's command line, read once per PID+starttime. false when it left. */
static bool read_cmdline(procpid *s, proc_entry *e)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "%ld/cmdline", (long)e->pid);
	/* A few bytes past the bound, so a cut can step back to a character boundary. */
	if (reader_read_max(&s->rd, s->proc_fd, rel, s->cmdline_max + 4) < 0)
		return false;
	pp_cmdline(s->rd.buf, s->rd.len, s->cmdline_max, s->cmdline_buf);
	e->cmdline = strdup(s->cmdline_buf); /* NULL when out of memory: "" in the label */
	return true;
}

typedef struct node_counts {
	uint32_t state[256];
	uint64_t pids, threads, kthreads;
} node_counts;

/*
 * One PID of the listing. 0 when handled or skipped (a process that left
 * mid-read leaves no series and its entry is swept), -1 when out of memory.
 */
static int process_pid(procpid *s, emitter *em, pid_t pid, node_counts *nc)
{
	proc_entry *e = imap_find(&s->procs, &pid, sizeof(pid));
	bool fresh = !e;
	if (!e) {
		if (!(e = calloc(1, sizeof(*e))))
			return -1;
		e->pid = pid;
		for (int f = 0; f < PF_N; f++)
			e->fd[f] = READER_CLOSED;
		if (imap_add(&s->procs, e) < 0) {
			free(e);
			return -1;
		}
	}
	char rel[48];
	snprintf(rel, sizeof(rel), "%ld/stat", (long)pid);
	if (reader_read(&s->rd, s->proc_fd, rel, &e->fd[PF_STAT], true, true) < 0)
		return errno == ENOMEM ? -1 : 0;
	pp_stat st;
	if (pp_parse_stat(s->rd.buf, s->rd.len, &st) < 0) {
		s->skipped++;
		return 0;
	}
	uint64_t comm_hash = hash_comm(st.comm);
	if (!fresh && st.starttime != e->starttime)
		entry_forget(s, e); /* the PID was reused: another process */
	else if (!fresh && comm_hash != e->comm_hash) {
		/* An exec: the cgroup may have been set after we read it, cmdline changed. */
		groups_unref(s, e->node);
		e->node = NULL;
		e->cg_tried = false;
		free(e->cmdline);
		e->cmdline = NULL;
	}
	e->starttime = st.starttime;
	e->comm_hash = comm_hash;
	e->kthread = (st.flags & PP_PF_KTHREAD) || pid == 2 || st.ppid == 2;
	e->pass = s->pass;
	nc->state[(unsigned char)st.state]++;
	nc->pids++;
	nc->threads += st.num_threads > 0 ? (uint64_t)st.num_threads : 0;
	nc->kthreads += e->kthread;
	if ((e->kthread && !s->include_kthreads) || (st.state == 'Z' && !s->include_zombies)) {
		/* Counted only: the stat fd stays, status and io are not needed. */
		reader_close(&s->rd, &e->fd[PF_STATUS]);
		reader_close(&s->rd, &e->fd[PF_IO]);
		return 0;
	}

	/* The order matters: status's text values point into the shared buffer, so it is
	 * read last, after cgroup, cmdline and io. */
	if (!e->cg_tried) {
		snprintf(rel, sizeof(rel), "%ld/cgroup", (long)pid);
		int fd = READER_CLOSED;
		if (reader_read(&s->rd, s->proc_fd, rel, &fd, false, false) < 0)
			goto vanished;
		e->node = groups_attach(s, s->rd.buf, s->rd.len);
		e->cg_tried = true;
	}
	if (s->cmdline_max && !e->cmdline && !read_cmdline(s, e))
		goto vanished;
	pp_val io[PM_IO_KEYS];
	bool io_ok = false;
	if (e->fd[PF_IO] != READER_ABSENT) {
		snprintf(rel, sizeof(rel), "%ld/io", (long)pid);
		if (reader_read(&s->rd, s->proc_fd, rel, &e->fd[PF_IO], true, false) == 0) {
			pp_parse_kv(s->rd.buf, s->rd.len, ':', procmetrics_io_keys, PM_IO_KEYS, io);
			io_ok = true;
		} else if (errno == EACCES || errno == ENOENT) {
			e->fd[PF_IO] =
			        READER_ABSENT; /* not ours to read, for this process's life */
		} else if (errno == ESRCH) {
			goto vanished;
		}
	}
	int64_t nfds = s->count_fds ? count_fds(s, pid) : -1;
	snprintf(rel, sizeof(rel), "%ld/status", (long)pid);
	if (reader_read(&s->rd, s->proc_fd, rel, &e->fd[PF_STATUS], true, false) < 0)
		goto vanished;
	pp_val status[PM_STATUS_KEYS];
	pp_parse_kv(s->rd.buf, s->rd.len, ':', procmetrics_status_keys, PM_STATUS_KEYS, status);
	if (e->node)
		groups_touch(s, e->node, e);
	return procmetrics_emit(s, em, e, &st, status, io, io_ok, nfds);
vanished:
	if (errno == ENOMEM)
		return -1;
	e->pass = 0; /* swept at the end of the pass */
	return 0;
}

static void read_meminfo(procpid *s)
{
	static const pp_key keys[] = {{"MemTotal", PP_KB}};
	pp_val v[1];
	s->mem_total = 0;
	if (reader_read(&s->rd, s->proc_fd, "meminfo", &s->meminfo_fd, true, true) == 0 &&
	    pp_parse_kv(s->rd.buf, s->rd.len, ':', keys, 1, v))
		s->mem_total = v[0].num;
}

static int node_series(procpid *s, emitter *em, const node_counts *nc)
{
	int rc = 0;
	for (int c = 0; c < 256; c++) {
		if (!nc->state[c])
			continue;
		char state[2] = {(char)c, '\0'};
		cobs_label l = {"state", state};
		rc |= emit(em, F_N_STATE, nc->state[c], &l, 1);
	}
	rc |= emit(em, F_N_PIDS, (double)nc->pids, NULL, 0);
	rc |= emit(em, F_N_THREADS, (double)nc->threads, NULL, 0);
	rc |= emit(em, F_N_KTHREADS, (double)nc->kthreads, NULL, 0);
	rc |= emit(em, F_SELF_OPEN_FILES, (double)s->rd.kept, NULL, 0);
	return rc;
}

static bool all_digits(const char *p)
{
	if (!*p)
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int collect(void *state, cobs_batch *b)
{
	procpid *s = state;
	s->pass++;
	s->now_ns = b->monotonic_ns;
	s->skipped = 0;
	emitter em;
	emitter_init(&em, b);
	read_meminfo(s);
	if (s->pass == 1)
		groups_detect_namespace(s);

	node_counts nc;
	memset(&nc, 0, sizeof(nc));
	int rc = 0;
	rewinddir(s->proc_dir);
	struct dirent *de;
	while (rc == 0 && (de = readdir(s->proc_dir))) {
		if (!all_digits(de->d_name))
			continue;
		long pid = strtol(de->d_name, NULL, 10);
		if (pid > 0 && pid <= INT32_MAX)
			rc = process_pid(s, &em, (pid_t)pid, &nc);
		/* A process's series are self-contained: a full part may go out here. */
		cobs_batch_checkpoint(b);
	}
	/* Processes that left (or were not read whole) go with their state; then the cgroup
	 * nodes no process refers to any more. */
	imap_sweep(&s->procs, entry_gone, s);
	groups_sweep(s);
	if (rc == 0 && s->container_metrics)
		rc = cgstats_emit(s, &em);
	if (rc == 0)
		rc = pods_emit(s, &em);
	if (rc == 0)
		rc = node_series(s, &em, &nc);
	if (rc < 0) {
		cobs_log(COBS_LOG_WARN, s->who, "out of memory while collecting");
		return -1;
	}
	if (s->skipped)
		cobs_log_recurring(&s->warned_garbled, s->who,
		                   "skipped %zu process(es) whose stat did not parse", s->skipped);
	return 0;
}

static void destroy(procpid *s)
{
	if (!s)
		return;
	s->pass++; /* every entry is now stale */
	imap_sweep(&s->procs, entry_gone, s);
	imap_free(&s->procs);
	groups_free(s);
	reader_close(&s->rd, &s->meminfo_fd);
	reader_free(&s->rd);
	if (s->proc_dir)
		closedir(s->proc_dir);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	for (int i = 0; i < CGM_N; i++)
		if (s->cg_fd[i] >= 0)
			close(s->cg_fd[i]);
	for (int i = 0; i <= PP_CG_NCTL; i++)
		free(s->nsroot[i]);
	if (s->kube)
		cobs_kube_free(s->kube);
	free(s->netns_seen);
	free(s->devs);
	free(s->cmdline_buf);
	free(s->proc_root);
	free(s->sys_root);
	free(s);
}

static void shutdown_procpid(void *state)
{
	destroy(state);
}

/* btime from <proc_root>/stat: process start times are ticks after it. 0 or -1. */
static int read_btime(procpid *s, cobs_error *err)
{
	int fd = READER_CLOSED;
	if (reader_read(&s->rd, s->proc_fd, "stat", &fd, false, false) < 0)
		return cobs_error_set(err, "cannot read %s/stat: %s", s->proc_root,
		                      strerror(errno));
	static const pp_key keys[] = {{"btime", PP_NUM}};
	pp_val v[1];
	if (!pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 1, v))
		return cobs_error_set(err, "%s/stat has no btime line", s->proc_root);
	s->btime = v[0].num;
	return 0;
}

/* The cgroup mounts the host has (v2 root always, v1 hierarchies when present). */
static void open_cgroup_mounts(procpid *s)
{
	static const char *const dirs[CGM_N] = {"fs/cgroup",         "fs/cgroup/cpu",
	                                        "fs/cgroup/cpuacct", "fs/cgroup/memory",
	                                        "fs/cgroup/pids",    "fs/cgroup/blkio"};
	for (int i = 0; i < CGM_N; i++) {
		char path[4096];
		s->cg_fd[i] = -1;
		if (cobs_path_join(path, sizeof(path), s->sys_root, dirs[i]) == 0)
			s->cg_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
}

static size_t auto_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return FD_AUTO_MAX;
	size_t soft = (size_t)rl.rlim_cur;
	size_t reserve = soft / 2 < FD_RESERVE ? soft / 2 : FD_RESERVE;
	size_t b = soft - reserve;
	return b < FD_AUTO_MAX ? b : FD_AUTO_MAX;
}

static int read_config(procpid *s, const cobs_plugin_env *env)
{
	const cobs_section *c = env->config;
	uint64_t cmdline_max, max_files;
	if (cobs_cfg_bool(c, "include_kernel_threads", false, &s->include_kthreads, env->err) < 0 ||
	    cobs_cfg_bool(c, "include_zombies", false, &s->include_zombies, env->err) < 0 ||
	    cobs_cfg_uint(c, "cmdline_max_length", 256, 0, 65536, &cmdline_max, env->err) < 0 ||
	    cobs_cfg_bool(c, "count_fds", false, &s->count_fds, env->err) < 0 ||
	    cobs_cfg_bool(c, "container_metrics", true, &s->container_metrics, env->err) < 0 ||
	    cobs_cfg_bool(c, "system_cgroups", true, &s->system_cgroups, env->err) < 0 ||
	    cobs_cfg_bool(c, "pod_network", true, &s->pod_network, env->err) < 0 ||
	    cobs_cfg_uint(c, "max_open_files", 0, 0, 1u << 24, &max_files, env->err) < 0)
		return -1;
	s->cmdline_max = (size_t)cmdline_max;
	s->rd.budget = max_files ? (size_t)max_files : auto_budget();
	return 0;
}

static int init(const cobs_plugin_env *env, void **out)
{
	procpid *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->proc_fd = -1;
	s->meminfo_fd = READER_CLOSED;
	for (int i = 0; i < CGM_N; i++)
		s->cg_fd[i] = -1;
	imap_init(&s->procs, entry_key);
	groups_init(s);
	snprintf(s->who, sizeof(s->who), "%s", env->name ? env->name : "procpid");
	s->proc_root = strdup(env->proc_root ? env->proc_root : "/proc");
	s->sys_root = strdup(env->sys_root ? env->sys_root : "/sys");
	if (!s->proc_root || !s->sys_root || reader_init(&s->rd, 0, s->who) < 0) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	s->rd.shed = shed;
	s->rd.shed_ctx = s;
	if (read_config(s, env) < 0)
		goto fail;
	if (!(s->cmdline_buf = malloc(s->cmdline_max + 1))) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	s->hz = sysconf(_SC_CLK_TCK);
	if (s->hz <= 0)
		s->hz = 100;
	s->proc_fd = open(s->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0 || !(s->proc_dir = opendir(s->proc_root))) {
		cobs_error_set(env->err, "cannot open %s: %s", s->proc_root, strerror(errno));
		goto fail;
	}
	if (read_btime(s, env->err) < 0)
		goto fail;
	open_cgroup_mounts(s);
	if (!(s->kube = cobs_kube_new(env, env->err)))
		goto fail;
	*out = s;
	return 0;
fail:
	destroy(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "procpid",
        .description = "Processes, containers and pods: /proc/PID/*, the cgroup tree, pod "
                       "metadata",
        .init = init,
        .collect = collect,
        .shutdown = shutdown_procpid,
};
