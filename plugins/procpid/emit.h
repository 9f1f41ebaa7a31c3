/*
 * Every metric family procpid reports (name, help, unit, type in one table,
 * emit.c), created in the batch on first use in a pass, so a pass with no
 * pods simply has no container_* families. One emitter serves the process,
 * cgroup, pod and network code alike.
 */
#ifndef PROCPID_EMIT_H
#define PROCPID_EMIT_H

#include <stddef.h>

#include <cobs/metric.h>

typedef enum fam_id {
	/* per process */
	F_P_CPU,
	F_P_CHILD_CPU,
	F_P_MINFLT,
	F_P_MAJFLT,
	F_P_PRIORITY,
	F_P_NICE,
	F_P_THREADS,
	F_P_START,
	F_P_PROCESSOR,
	F_P_VSIZE,
	F_P_VPEAK,
	F_P_RSS,
	F_P_RSS_ANON,
	F_P_RSS_FILE,
	F_P_RSS_SHMEM,
	F_P_LOCKED,
	F_P_PINNED,
	F_P_SWAP,
	F_P_VCTX,
	F_P_NVCTX,
	F_P_IO_READ,
	F_P_IO_WRITE,
	F_P_IO_CANCELLED,
	F_P_IO_RCHAR,
	F_P_IO_WCHAR,
	F_P_IO_SYSCR,
	F_P_IO_SYSCW,
	F_P_FDS,
	F_P_INFO,
	F_P_SECURITY,
	F_P_CPU_PCT,
	F_P_MEM_PCT,
	F_P_IO_READ_RATE,
	F_P_IO_WRITE_RATE,
	/* the node's processes */
	F_N_STATE,
	F_N_PIDS,
	F_N_THREADS,
	F_N_KTHREADS,
	/* containers, pods and other cgroups, from the cgroup tree */
	F_C_CPU_USAGE,
	F_C_CPU_USER,
	F_C_CPU_SYSTEM,
	F_C_CFS_PERIODS,
	F_C_CFS_THROTTLED_PERIODS,
	F_C_CFS_THROTTLED_SECONDS,
	F_C_CPU_QUOTA,
	F_C_CPU_PERIOD,
	F_C_MEM_USAGE,
	F_C_MEM_LIMIT,
	F_C_MEM_MAX_USAGE,
	F_C_MEM_WORKING_SET,
	F_C_MEM_RSS,
	F_C_MEM_CACHE,
	F_C_MEM_MAPPED,
	F_C_MEM_SWAP,
	F_C_MEM_FAILCNT,
	F_C_OOM_EVENTS,
	F_C_OOM_KILLS,
	F_C_FS_READ_BYTES,
	F_C_FS_WRITE_BYTES,
	F_C_FS_READS,
	F_C_FS_WRITES,
	F_C_THREADS,
	F_C_THREADS_MAX,
	F_C_PROCESSES,
	F_C_PSI_CPU_WAITING,
	F_C_PSI_CPU_STALLED,
	F_C_PSI_MEM_WAITING,
	F_C_PSI_MEM_STALLED,
	F_C_PSI_IO_WAITING,
	F_C_PSI_IO_STALLED,
	/* pod and container facts */
	F_POD_INFO,
	F_POD_LABELS,
	F_CTR_INFO,
	F_CTR_RESTARTS,
	/* pod network, in /proc/net/dev column order */
	F_NET_RX_BYTES,
	F_NET_RX_PACKETS,
	F_NET_RX_ERRORS,
	F_NET_RX_DROPPED,
	F_NET_TX_BYTES,
	F_NET_TX_PACKETS,
	F_NET_TX_ERRORS,
	F_NET_TX_DROPPED,
	/* the plugin itself */
	F_SELF_OPEN_FILES,
	F_COUNT
} fam_id;

typedef struct emitter {
	cobs_batch *b;
	cobs_family *f[F_COUNT];
} emitter;

void emitter_init(emitter *e, cobs_batch *b);
/* Adds one sample to family id. 0, or -1 when out of memory. */
int emit(emitter *e, fam_id id, double v, const cobs_label *labels, size_t n);
/* The same for labels from cobs_batch_labels on e's batch: shared, not copied again. */
int emit_shared(emitter *e, fam_id id, double v, const cobs_label *labels, size_t n);

/* A label list built up per series; absent values are left out. */
#define LABELS_MAX 24

typedef struct label_set {
	cobs_label l[LABELS_MAX];
	size_t n;
} label_set;

static inline void labels_add(label_set *s, const char *name, const char *value)
{
	if (value && s->n < LABELS_MAX)
		s->l[s->n++] = (cobs_label){name, value};
}

#endif
