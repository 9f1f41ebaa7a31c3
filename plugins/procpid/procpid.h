/*
 * The procpid plugin's shared state and the functions its files give each
 * other: the pass itself (procpid.c), per-process metrics (procmetrics.c),
 * cgroup nodes (groups.c), cgroup file metrics (cgstats.c), and pod facts
 * and networks (pods.c).
 */
#ifndef PROCPID_PROCPID_H
#define PROCPID_PROCPID_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cobs/plugin.h>

#include "cgmap.h"
#include "emit.h"
#include "imap.h"
#include "kube.h"
#include "parse.h"
#include "reader.h"

/* The kept-open files of a process. cgroup and cmdline are read once per
 * PID+starttime (and again when comm changes: an exec), so never kept. */
enum { PF_STAT, PF_STATUS, PF_IO, PF_N };

/* cgroup mounts under sys_root/fs/cgroup: the v2 root and the v1 hierarchies. */
enum { CGM_V2, CGM_CPU, CGM_CPUACCT, CGM_MEMORY, CGM_PIDS, CGM_BLKIO, CGM_N };

#define CGF_MAX 16 /* cgroup files per node, v1 or v2 (cgstats.c) */

typedef struct cg_node cg_node;

typedef struct proc_entry {
	pid_t pid;
	int fd[PF_N];
	uint64_t starttime; /* ticks after boot: with pid, the process's identity */
	uint64_t pass;      /* the last pass that read it whole */
	uint64_t comm_hash; /* a changed comm means an exec: cgroup and cmdline are reread */
	cg_node *node;      /* its cgroup's node, NULL until read (or unreadable) */
	char *cmdline;
	uint64_t netns; /* inode of its network namespace, 0 until read */
	/* previous readings, for rates */
	uint64_t prev_ns; /* 0: none */
	uint64_t prev_cpu;
	uint64_t prev_rd, prev_wr;
	bool prev_io;
	bool kthread;
	bool cg_tried; /* its cgroup was read (even if it mapped to nothing) */
} proc_entry;

struct cg_node {
	char *path; /* host path of the cgroup: "/kubepods.slice/..." */
	size_t path_len;
	cg_kind kind;
	bool v1;
	char pod_uid[CG_UID_MAX];
	char container_id[CG_ID_MAX];
	const char *runtime;
	const char *qos;
	cg_node *pod;  /* a container's pod node */
	unsigned refs; /* processes and containers pointing here */
	int fd[CGF_MAX];
	/* this pass */
	uint64_t pass;
	unsigned nprocs;
	const cobs_kube_pod *kpod;       /* pods and containers: the API's view, if any */
	const cobs_kube_container *kctr; /* containers */
	proc_entry *net_proc;            /* pods: a process of the pod seen this pass */
};

typedef struct dev_name {
	char dev[32];  /* "8:0" */
	char name[48]; /* "/dev/sda", or dev itself when /sys does not say */
} dev_name;

typedef struct procpid {
	char who[64];
	char *proc_root;
	char *sys_root;
	int proc_fd;
	DIR *proc_dir;
	int cg_fd[CGM_N]; /* -1 where the host has no such mount */
	reader rd;
	imap procs; /* proc_entry by pid */
	imap nodes; /* cg_node by path */
	cobs_kube *kube;

	/* configuration */
	bool include_kthreads;
	bool include_zombies;
	bool count_fds;
	bool container_metrics;
	bool system_cgroups;
	bool pod_network;
	size_t cmdline_max;

	long hz;
	uint64_t btime;
	int meminfo_fd;
	uint64_t mem_total; /* bytes, 0 when unknown; read every pass */
	uint64_t pass;
	uint64_t now_ns;

	/* agent in its own cgroup namespace: the host path of its root per hierarchy */
	char *nsroot[PP_CG_NCTL + 1];
	uint64_t nsroot_retry[PP_CG_NCTL + 1]; /* the pass before which not to search again */
	bool nsroot_warned;

	uint64_t host_netns;  /* PID 1's, 0 until read */
	uint64_t *netns_seen; /* pod networks reported this pass */
	size_t nnetns_seen, netns_cap;

	dev_name *devs; /* block device names for io.stat */
	size_t ndevs, devs_cap;

	char *cmdline_buf;  /* cmdline_max + 1 */
	size_t skipped;     /* processes skipped this pass (garbled stat) */
	int warned_garbled; /* cobs_log_recurring */
} procpid;

/* groups.c */
void groups_init(procpid *s);
/* At the start of a pass until known: whether the agent has its own cgroup namespace. */
void groups_detect_namespace(procpid *s);
/* The node of a process from its cgroup file's text (in s->rd.buf); takes a ref. */
cg_node *groups_attach(procpid *s, char *text, size_t len);
void groups_unref(procpid *s, cg_node *n);
/* Frees nodes that no process refers to any more. */
void groups_sweep(procpid *s);
void groups_free(procpid *s);
/* Marks n (and its pod) as seen this pass, resolving names through the kube client. */
void groups_touch(procpid *s, cg_node *n, proc_entry *e);
/* Closes kept cgroup fds until the reader is within budget. */
void groups_shed(procpid *s);
/* The labels of a node's series: namespace, pod, container (known), pod_uid, container_id. */
void groups_labels(const cg_node *n, label_set *l);

/* procmetrics.c: the status and io keys it reads, and one process's series. */
enum { PM_STATUS_KEYS = 18, PM_IO_KEYS = 7 };
/* 0, or -1 when out of memory. status and io hold PM_STATUS_KEYS / PM_IO_KEYS values. */
int procmetrics_emit(procpid *s, emitter *em, proc_entry *e, const pp_stat *st, pp_val *status,
                     const pp_val *io, bool io_ok, int64_t nfds);
extern const pp_key procmetrics_status_keys[PM_STATUS_KEYS];
extern const pp_key procmetrics_io_keys[PM_IO_KEYS];

/* cgstats.c: container_* of every node seen this pass. 0 or -1 (out of memory). */
int cgstats_emit(procpid *s, emitter *em);
void cgstats_close(procpid *s, cg_node *n);

/* pods.c: pod and container facts, and pod networks. 0 or -1 (out of memory). */
int pods_emit(procpid *s, emitter *em);

#endif
