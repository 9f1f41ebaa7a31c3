/*
 * One process's series: what stat, status and io say, the facts as info
 * metrics, and the rates derived from the previous pass's readings of the
 * same PID+starttime (a reused PID starts over with no rate, so a rate is
 * never negative or huge).
 */
#include <stdio.h>

#include "procpid.h"

enum {
	S_VMPEAK,
	S_VMSIZE,
	S_VMLCK,
	S_VMPIN,
	S_VMRSS,
	S_RSSANON,
	S_RSSFILE,
	S_RSSSHMEM,
	S_VMSWAP,
	S_THREADS,
	S_CAPEFF,
	S_NNP,
	S_SECCOMP,
	S_SSB,
	S_CPUS,
	S_MEMS,
	S_VCTX,
	S_NVCTX,
	S_N
};

/* In the file's own order (the parser does not need it, but it reads better). */
_Static_assert((int)S_N == (int)PM_STATUS_KEYS, "PM_STATUS_KEYS");
const pp_key procmetrics_status_keys[PM_STATUS_KEYS] = {
        [S_VMPEAK] = {"VmPeak", PP_KB},
        [S_VMSIZE] = {"VmSize", PP_KB},
        [S_VMLCK] = {"VmLck", PP_KB},
        [S_VMPIN] = {"VmPin", PP_KB},
        [S_VMRSS] = {"VmRSS", PP_KB},
        [S_RSSANON] = {"RssAnon", PP_KB},
        [S_RSSFILE] = {"RssFile", PP_KB},
        [S_RSSSHMEM] = {"RssShmem", PP_KB},
        [S_VMSWAP] = {"VmSwap", PP_KB},
        [S_THREADS] = {"Threads", PP_NUM},
        [S_CAPEFF] = {"CapEff", PP_STR},
        [S_NNP] = {"NoNewPrivs", PP_STR},
        [S_SECCOMP] = {"Seccomp", PP_STR},
        [S_SSB] = {"Speculation_Store_Bypass", PP_STR},
        [S_CPUS] = {"Cpus_allowed_list", PP_STR},
        [S_MEMS] = {"Mems_allowed_list", PP_STR},
        [S_VCTX] = {"voluntary_ctxt_switches", PP_NUM},
        [S_NVCTX] = {"nonvoluntary_ctxt_switches", PP_NUM},
};

enum { IO_RCHAR, IO_WCHAR, IO_SYSCR, IO_SYSCW, IO_READ, IO_WRITE, IO_CANCELLED, IO_N };

_Static_assert((int)IO_N == (int)PM_IO_KEYS, "PM_IO_KEYS");
const pp_key procmetrics_io_keys[PM_IO_KEYS] = {
        [IO_RCHAR] = {"rchar", PP_NUM},
        [IO_WCHAR] = {"wchar", PP_NUM},
        [IO_SYSCR] = {"syscr", PP_NUM},
        [IO_SYSCW] = {"syscw", PP_NUM},
        [IO_READ] = {"read_bytes", PP_NUM},
        [IO_WRITE] = {"write_bytes", PP_NUM},
        [IO_CANCELLED] = {"cancelled_write_bytes", PP_NUM},
};

/* status keys that become a gauge of their own, with their family. */
static const struct {
	int key;
	fam_id fam;
} status_gauges[] = {
        {S_VMSIZE, F_P_VSIZE},     {S_VMPEAK, F_P_VPEAK},     {S_VMRSS, F_P_RSS},
        {S_RSSANON, F_P_RSS_ANON}, {S_RSSFILE, F_P_RSS_FILE}, {S_RSSSHMEM, F_P_RSS_SHMEM},
        {S_VMLCK, F_P_LOCKED},     {S_VMPIN, F_P_PINNED},     {S_VMSWAP, F_P_SWAP},
        {S_VCTX, F_P_VCTX},        {S_NVCTX, F_P_NVCTX},
};

static const struct {
	int key;
	const char *label;
} security_labels[] = {
        {S_SECCOMP, "seccomp"},        {S_SSB, "speculation_store_bypass"},
        {S_CPUS, "cpus_allowed_list"}, {S_MEMS, "mems_allowed_list"},
        {S_NNP, "no_new_privs"},       {S_CAPEFF, "cap_eff"},
};

static const struct {
	int key;
	fam_id fam;
} io_counters[] = {
        {IO_READ, F_P_IO_READ},   {IO_WRITE, F_P_IO_WRITE}, {IO_CANCELLED, F_P_IO_CANCELLED},
        {IO_RCHAR, F_P_IO_RCHAR}, {IO_WCHAR, F_P_IO_WCHAR}, {IO_SYSCR, F_P_IO_SYSCR},
        {IO_SYSCW, F_P_IO_SYSCW},
};

/*
 * A process's label sets, copied into the batch once and shared by all of its
 * ~36 samples: copying pid, comm and the pod labels per sample made the batch
 * of a 5000-process node ~18 MiB.
 */
typedef struct shared_sets {
	const cobs_label *base, *user, *system;
	size_t n; /* labels in base; user and system have one more */
} shared_sets;

static int share_sets(emitter *em, label_set *l, shared_sets *out)
{
	size_t n = l->n;
	out->n = n;
	out->base = cobs_batch_labels(em->b, l->l, n);
	l->l[n] = (cobs_label){"mode", "user"};
	out->user = cobs_batch_labels(em->b, l->l, n + 1);
	l->l[n] = (cobs_label){"mode", "system"};
	out->system = cobs_batch_labels(em->b, l->l, n + 1);
	return (n && !out->base) || !out->user || !out->system ? -1 : 0;
}

/* A pair of series split by mode="user"/"system", from two tick counts. */
static int emit_modes(emitter *em, fam_id f, const shared_sets *ls, double hz, double user,
                      double system)
{
	int rc = emit_shared(em, f, user / hz, ls->user, ls->n + 1);
	return rc | emit_shared(em, f, system / hz, ls->system, ls->n + 1);
}

static double nonneg(int64_t v)
{
	return v < 0 ? 0 : (double)v;
}

int procmetrics_emit(procpid *s, emitter *em, proc_entry *e, const pp_stat *st, pp_val *status,
                     const pp_val *io, bool io_ok, int64_t nfds)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%ld", (long)e->pid);
	label_set l = {0};
	labels_add(&l, "pid", pid);
	labels_add(&l, "comm", st->comm);
	if (e->node)
		groups_labels(e->node, &l);
	const size_t nl = l.n;
	const double hz = (double)s->hz;
	shared_sets ls;
	if (share_sets(em, &l, &ls) < 0)
		return -1;
	const cobs_label *base = ls.base;
	int rc = 0;

	rc |= emit_modes(em, F_P_CPU, &ls, hz, (double)st->utime, (double)st->stime);
	rc |= emit_modes(em, F_P_CHILD_CPU, &ls, hz, nonneg(st->cutime), nonneg(st->cstime));
	rc |= emit_shared(em, F_P_MINFLT, (double)st->minflt, base, nl);
	rc |= emit_shared(em, F_P_MAJFLT, (double)st->majflt, base, nl);
	rc |= emit_shared(em, F_P_PRIORITY, (double)st->priority, base, nl);
	rc |= emit_shared(em, F_P_NICE, (double)st->nice, base, nl);
	double threads =
	        status[S_THREADS].present ? (double)status[S_THREADS].num : (double)st->num_threads;
	rc |= emit_shared(em, F_P_THREADS, threads, base, nl);
	rc |= emit_shared(em, F_P_START, (double)s->btime + (double)st->starttime / hz, base, nl);
	if (st->processor >= 0)
		rc |= emit_shared(em, F_P_PROCESSOR, (double)st->processor, base, nl);
	for (size_t i = 0; i < sizeof(status_gauges) / sizeof(*status_gauges); i++)
		if (status[status_gauges[i].key].present)
			rc |= emit_shared(em, status_gauges[i].fam,
			                  (double)status[status_gauges[i].key].num, base, nl);
	if (io_ok)
		for (size_t i = 0; i < sizeof(io_counters) / sizeof(*io_counters); i++)
			if (io[io_counters[i].key].present)
				rc |= emit_shared(em, io_counters[i].fam,
				                  (double)io[io_counters[i].key].num, base, nl);
	if (nfds >= 0)
		rc |= emit_shared(em, F_P_FDS, (double)nfds, base, nl);

	/* Derived values. */
	if (status[S_VMRSS].present && s->mem_total)
		rc |= emit_shared(em, F_P_MEM_PCT,
		                  100.0 * (double)status[S_VMRSS].num / (double)s->mem_total, base,
		                  nl);
	uint64_t cpu = st->utime + st->stime;
	double dt =
	        e->prev_ns && s->now_ns > e->prev_ns ? (double)(s->now_ns - e->prev_ns) / 1e9 : 0;
	if (dt > 0 && cpu >= e->prev_cpu)
		rc |= emit_shared(em, F_P_CPU_PCT, 100.0 * (double)(cpu - e->prev_cpu) / hz / dt,
		                  base, nl);
	bool have_io = io_ok && io[IO_READ].present && io[IO_WRITE].present;
	if (dt > 0 && have_io && e->prev_io) {
		if (io[IO_READ].num >= e->prev_rd)
			rc |= emit_shared(em, F_P_IO_READ_RATE,
			                  (double)(io[IO_READ].num - e->prev_rd) / dt, base, nl);
		if (io[IO_WRITE].num >= e->prev_wr)
			rc |= emit_shared(em, F_P_IO_WRITE_RATE,
			                  (double)(io[IO_WRITE].num - e->prev_wr) / dt, base, nl);
	}
	e->prev_ns = s->now_ns;
	e->prev_cpu = cpu;
	e->prev_io = have_io;
	if (have_io) {
		e->prev_rd = io[IO_READ].num;
		e->prev_wr = io[IO_WRITE].num;
	}

	/* Facts, as labels of value-1 series. */
	char state[2] = {st->state, '\0'}, ppid[24];
	snprintf(ppid, sizeof(ppid), "%lld", (long long)st->ppid);
	labels_add(&l, "state", state);
	labels_add(&l, "ppid", ppid);
	if (s->cmdline_max)
		labels_add(&l, "cmdline", e->cmdline ? e->cmdline : "");
	labels_add(&l, "cgroup", e->node ? e->node->path : "");
	rc |= emit(em, F_P_INFO, 1, l.l, l.n);
	l.n = nl;
	size_t nsec = 0;
	for (size_t i = 0; i < sizeof(security_labels) / sizeof(*security_labels); i++)
		if (status[security_labels[i].key].present) {
			labels_add(&l, security_labels[i].label,
			           status[security_labels[i].key].str);
			nsec++;
		}
	if (nsec)
		rc |= emit(em, F_P_SECURITY, 1, l.l, l.n);
	return rc ? -1 : 0;
}
