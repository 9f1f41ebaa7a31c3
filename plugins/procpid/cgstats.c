/*
 * container_* series from the cgroup tree, with cAdvisor's names, for every
 * container, pod and (with system_cgroups) other cgroup that had a process
 * this pass. cgroup v2 files sit in one directory per cgroup; v1 files in
 * the same path under each controller's hierarchy (kubelet creates a pod's
 * and a container's cgroup at the same path in all of them). Files are kept
 * open under the plugin's fd budget like /proc's, and a file the kernel does
 * not have (memory.peak before 5.19, pressure without PSI) is not asked for
 * again for that cgroup.
 *
 * Conversions: microseconds (v2) and nanoseconds (v1 cpuacct.usage,
 * throttled_time) to seconds; v1 cpuacct.stat ticks / USER_HZ; an unlimited
 * memory.max or pids.max ("max", or v1's page-counter maximum) is reported
 * as 0, as cAdvisor does; an unlimited cpu.max has no quota series.
 * container_memory_working_set_bytes = usage - inactive_file, floored at 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/proc.h>

#include "procpid.h"

typedef struct cg_file {
	int mount; /* CGM_* */
	const char *name;
} cg_file;

enum {
	V2_CPU_STAT,
	V2_CPU_MAX,
	V2_MEM_CURRENT,
	V2_MEM_MAX,
	V2_MEM_PEAK,
	V2_MEM_SWAP,
	V2_MEM_STAT,
	V2_MEM_EVENTS,
	V2_IO_STAT,
	V2_PIDS_CURRENT,
	V2_PIDS_MAX,
	V2_CPU_PRESSURE,
	V2_MEM_PRESSURE,
	V2_IO_PRESSURE,
	V2_N
};

static const cg_file v2_files[V2_N] = {
        [V2_CPU_STAT] = {CGM_V2, "cpu.stat"},
        [V2_CPU_MAX] = {CGM_V2, "cpu.max"},
        [V2_MEM_CURRENT] = {CGM_V2, "memory.current"},
        [V2_MEM_MAX] = {CGM_V2, "memory.max"},
        [V2_MEM_PEAK] = {CGM_V2, "memory.peak"},
        [V2_MEM_SWAP] = {CGM_V2, "memory.swap.current"},
        [V2_MEM_STAT] = {CGM_V2, "memory.stat"},
        [V2_MEM_EVENTS] = {CGM_V2, "memory.events"},
        [V2_IO_STAT] = {CGM_V2, "io.stat"},
        [V2_PIDS_CURRENT] = {CGM_V2, "pids.current"},
        [V2_PIDS_MAX] = {CGM_V2, "pids.max"},
        [V2_CPU_PRESSURE] = {CGM_V2, "cpu.pressure"},
        [V2_MEM_PRESSURE] = {CGM_V2, "memory.pressure"},
        [V2_IO_PRESSURE] = {CGM_V2, "io.pressure"},
};

enum {
	V1_CPUACCT_USAGE,
	V1_CPUACCT_STAT,
	V1_CPU_STAT,
	V1_CFS_QUOTA,
	V1_CFS_PERIOD,
	V1_MEM_USAGE,
	V1_MEM_LIMIT,
	V1_MEM_MAX_USAGE,
	V1_MEM_STAT,
	V1_MEM_FAILCNT,
	V1_OOM_CONTROL,
	V1_BLKIO_BYTES,
	V1_BLKIO_IOS,
	V1_PIDS_CURRENT,
	V1_PIDS_MAX,
	V1_N
};

static const cg_file v1_files[V1_N] = {
        [V1_CPUACCT_USAGE] = {CGM_CPUACCT, "cpuacct.usage"},
        [V1_CPUACCT_STAT] = {CGM_CPUACCT, "cpuacct.stat"},
        [V1_CPU_STAT] = {CGM_CPU, "cpu.stat"},
        [V1_CFS_QUOTA] = {CGM_CPU, "cpu.cfs_quota_us"},
        [V1_CFS_PERIOD] = {CGM_CPU, "cpu.cfs_period_us"},
        [V1_MEM_USAGE] = {CGM_MEMORY, "memory.usage_in_bytes"},
        [V1_MEM_LIMIT] = {CGM_MEMORY, "memory.limit_in_bytes"},
        [V1_MEM_MAX_USAGE] = {CGM_MEMORY, "memory.max_usage_in_bytes"},
        [V1_MEM_STAT] = {CGM_MEMORY, "memory.stat"},
        [V1_MEM_FAILCNT] = {CGM_MEMORY, "memory.failcnt"},
        [V1_OOM_CONTROL] = {CGM_MEMORY, "memory.oom_control"},
        /* The _recursive files count a pod's I/O in its containers' cgroups too. */
        [V1_BLKIO_BYTES] = {CGM_BLKIO, "blkio.throttle.io_service_bytes_recursive"},
        [V1_BLKIO_IOS] = {CGM_BLKIO, "blkio.throttle.io_serviced_recursive"},
        [V1_PIDS_CURRENT] = {CGM_PIDS, "pids.current"},
        [V1_PIDS_MAX] = {CGM_PIDS, "pids.max"},
};

_Static_assert(V2_N <= CGF_MAX && V1_N <= CGF_MAX, "CGF_MAX too small");

/* v1's "no limit": PAGE_COUNTER_MAX pages, printed as 9223372036854771712 on 4 KiB pages. */
#define V1_UNLIMITED (1ull << 62)

typedef struct node_ctx {
	procpid *s;
	emitter *em;
	cg_node *n;
	label_set l; /* the node's labels; one more slot is used for device */
	int rc;
} node_ctx;

void cgstats_close(procpid *s, cg_node *n)
{
	for (int i = 0; i < CGF_MAX; i++)
		reader_close(&s->rd, &n->fd[i]);
}

/* Reads file i of the node's table into s->rd.buf. true when there is something to parse. */
static bool read_file(node_ctx *c, const cg_file *f, int i)
{
	procpid *s = c->s;
	cg_node *n = c->n;
	int dirfd = s->cg_fd[f->mount];
	if (dirfd < 0 || n->fd[i] == READER_ABSENT)
		return false;
	char rel[4200];
	const char *p = n->path + 1; /* relative to the mount; "" for the root */
	if (snprintf(rel, sizeof(rel), "%s%s%s", p, *p ? "/" : "", f->name) >= (int)sizeof(rel))
		return false;
	if (reader_read(&s->rd, dirfd, rel, &n->fd[i], true, false) == 0)
		return true;
	if (errno == ENOENT || errno == EACCES || errno == ENOTDIR || errno == EINVAL ||
	    errno == EOPNOTSUPP)
		n->fd[i] = READER_ABSENT; /* gone with its cgroup, or never there */
	return false;
}

static void add(node_ctx *c, fam_id f, double v)
{
	if (emit(c->em, f, v, c->l.l, c->l.n) < 0)
		c->rc = -1;
}

/* A file holding one number or "max" (*unlimited then). */
static bool one_value(const reader *r, uint64_t *v, bool *unlimited)
{
	const char *p = r->buf;
	while (*p == ' ' || *p == '\t')
		p++;
	*unlimited = strncmp(p, "max", 3) == 0 && (p[3] == '\n' || p[3] == '\0');
	if (*unlimited) {
		*v = 0;
		return true;
	}
	const char *q = cobs_parse_u64(p, r->buf + r->len, v);
	return q && (*q == '\n' || *q == '\0');
}

static bool read_value(node_ctx *c, const cg_file *files, int i, uint64_t *v, bool *unlimited)
{
	return read_file(c, &files[i], i) && one_value(&c->s->rd, v, unlimited);
}

/* Per-device I/O gathered from one or two files before it is reported. */
#define DEVS_MAX 64

typedef struct devio {
	char dev[32];
	uint64_t v[4]; /* read bytes, written bytes, reads, writes */
	unsigned have; /* bit per v[] */
} devio;

typedef struct devios {
	devio d[DEVS_MAX];
	size_t n;
} devios;

static devio *devio_get(devios *ds, const char *dev)
{
	for (size_t i = 0; i < ds->n; i++)
		if (strcmp(ds->d[i].dev, dev) == 0)
			return &ds->d[i];
	if (ds->n == DEVS_MAX)
		return NULL;
	devio *d = &ds->d[ds->n++];
	memset(d, 0, sizeof(*d));
	snprintf(d->dev, sizeof(d->dev), "%s", dev);
	return d;
}

/* "/dev/sda" for "8:0", from the <sys_root>/dev/block/8:0 link; "8:0" when it has none. */
static const char *dev_name_of(procpid *s, const char *dev, char *buf, size_t len)
{
	for (size_t i = 0; i < s->ndevs; i++)
		if (strcmp(s->devs[i].dev, dev) == 0)
			return s->devs[i].name;
	char link[512], target[512];
	snprintf(link, sizeof(link), "%s/dev/block/%s", s->sys_root, dev);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		const char *base = strrchr(target, '/');
		snprintf(buf, len, "/dev/%.40s", base ? base + 1 : target);
	} else {
		snprintf(buf, len, "%s", dev);
	}
	/* Devices are few and rarely change: remember up to a bound, never grow past it. */
	if (s->ndevs == s->devs_cap && s->devs_cap < 256) {
		size_t cap = s->devs_cap ? s->devs_cap * 2 : 8;
		dev_name *d = realloc(s->devs, cap * sizeof(*d));
		if (d) {
			s->devs = d;
			s->devs_cap = cap;
		}
	}
	if (s->ndevs < s->devs_cap) {
		dev_name *d = &s->devs[s->ndevs++];
		snprintf(d->dev, sizeof(d->dev), "%s", dev);
		snprintf(d->name, sizeof(d->name), "%s", buf);
		return d->name;
	}
	return buf;
}

static void emit_devios(node_ctx *c, const devios *ds)
{
	static const fam_id fams[4] = {F_C_FS_READ_BYTES, F_C_FS_WRITE_BYTES, F_C_FS_READS,
	                               F_C_FS_WRITES};
	size_t n = c->l.n;
	for (size_t i = 0; i < ds->n; i++) {
		char buf[48];
		c->l.l[n] =
		        (cobs_label){"device", dev_name_of(c->s, ds->d[i].dev, buf, sizeof(buf))};
		c->l.n = n + 1;
		for (int k = 0; k < 4; k++)
			if (ds->d[i].have & (1u << k))
				add(c, fams[k], (double)ds->d[i].v[k]);
	}
	c->l.n = n;
}

static void pressure(node_ctx *c, int i, fam_id waiting, fam_id stalled)
{
	if (!read_file(c, &v2_files[i], i))
		return;
	pp_pressure p;
	pp_parse_pressure(c->s->rd.buf, c->s->rd.len, &p);
	if (p.some_ok)
		add(c, waiting, (double)p.some_total / 1e6);
	if (p.full_ok)
		add(c, stalled, (double)p.full_total / 1e6);
}

/* The memory series both versions share, from usage, the stat file's values and a limit. */
static void memory(node_ctx *c, bool have_usage, uint64_t usage, const pp_val *st)
{
	if (have_usage)
		add(c, F_C_MEM_USAGE, (double)usage);
	if (st[0].present)
		add(c, F_C_MEM_RSS, (double)st[0].num);
	if (st[1].present)
		add(c, F_C_MEM_CACHE, (double)st[1].num);
	if (st[2].present)
		add(c, F_C_MEM_MAPPED, (double)st[2].num);
	if (have_usage && st[3].present)
		add(c, F_C_MEM_WORKING_SET, usage > st[3].num ? (double)(usage - st[3].num) : 0.0);
}

static void v2_node(node_ctx *c)
{
	procpid *s = c->s;
	uint64_t v;
	bool unl;
	if (read_file(c, &v2_files[V2_CPU_STAT], V2_CPU_STAT)) {
		static const pp_key keys[] = {{"usage_usec", PP_NUM},   {"user_usec", PP_NUM},
		                              {"system_usec", PP_NUM},  {"nr_periods", PP_NUM},
		                              {"nr_throttled", PP_NUM}, {"throttled_usec", PP_NUM}};
		static const fam_id fams[] = {F_C_CPU_USAGE,
		                              F_C_CPU_USER,
		                              F_C_CPU_SYSTEM,
		                              F_C_CFS_PERIODS,
		                              F_C_CFS_THROTTLED_PERIODS,
		                              F_C_CFS_THROTTLED_SECONDS};
		static const double scale[] = {1e6, 1e6, 1e6, 1, 1, 1e6};
		pp_val vals[6];
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 6, vals);
		for (int i = 0; i < 6; i++)
			if (vals[i].present)
				add(c, fams[i], (double)vals[i].num / scale[i]);
	}
	if (read_file(c, &v2_files[V2_CPU_MAX], V2_CPU_MAX)) {
		/* "max 100000" or "50000 100000" */
		const char *p = s->rd.buf, *end = p + s->rd.len;
		uint64_t quota = 0, period;
		bool unlimited = strncmp(p, "max ", 4) == 0;
		const char *q = unlimited ? p + 3 : cobs_parse_u64(p, end, &quota);
		if (q && cobs_parse_u64(q, end, &period)) {
			if (!unlimited)
				add(c, F_C_CPU_QUOTA, (double)quota);
			add(c, F_C_CPU_PERIOD, (double)period);
		}
	}
	uint64_t usage = 0;
	bool have_usage = read_value(c, v2_files, V2_MEM_CURRENT, &usage, &unl);
	if (read_value(c, v2_files, V2_MEM_MAX, &v, &unl))
		add(c, F_C_MEM_LIMIT, (double)v);
	if (read_value(c, v2_files, V2_MEM_PEAK, &v, &unl))
		add(c, F_C_MEM_MAX_USAGE, (double)v);
	if (read_value(c, v2_files, V2_MEM_SWAP, &v, &unl))
		add(c, F_C_MEM_SWAP, (double)v);
	pp_val st[4] = {0};
	if (read_file(c, &v2_files[V2_MEM_STAT], V2_MEM_STAT)) {
		static const pp_key keys[] = {{"anon", PP_NUM},
		                              {"file", PP_NUM},
		                              {"file_mapped", PP_NUM},
		                              {"inactive_file", PP_NUM}};
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 4, st);
	}
	memory(c, have_usage, usage, st);
	if (read_file(c, &v2_files[V2_MEM_EVENTS], V2_MEM_EVENTS)) {
		static const pp_key keys[] = {{"oom", PP_NUM}, {"oom_kill", PP_NUM}};
		pp_val ev[2];
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 2, ev);
		if (ev[0].present)
			add(c, F_C_OOM_EVENTS, (double)ev[0].num);
		if (ev[1].present)
			add(c, F_C_OOM_KILLS, (double)ev[1].num);
	}
	if (read_file(c, &v2_files[V2_IO_STAT], V2_IO_STAT)) {
		static const char *const keys[4] = {"rbytes", "wbytes", "rios", "wios"};
		devios ds = {.n = 0};
		const char *p = s->rd.buf, *end = p + s->rd.len, *rest, *rest_end;
		char dev[32];
		int r;
		while ((r = pp_next_dev_line(&p, end, dev, &rest, &rest_end)) >= 0) {
			devio *d = r ? devio_get(&ds, dev) : NULL;
			for (int k = 0; d && k < 4; k++)
				if (pp_kv_field(rest, rest_end, keys[k], &d->v[k]))
					d->have |= 1u << k;
		}
		emit_devios(c, &ds);
	}
	if (read_value(c, v2_files, V2_PIDS_CURRENT, &v, &unl))
		add(c, F_C_THREADS, (double)v);
	if (read_value(c, v2_files, V2_PIDS_MAX, &v, &unl))
		add(c, F_C_THREADS_MAX, (double)v);
	pressure(c, V2_CPU_PRESSURE, F_C_PSI_CPU_WAITING, F_C_PSI_CPU_STALLED);
	pressure(c, V2_MEM_PRESSURE, F_C_PSI_MEM_WAITING, F_C_PSI_MEM_STALLED);
	pressure(c, V2_IO_PRESSURE, F_C_PSI_IO_WAITING, F_C_PSI_IO_STALLED);
}

/* v1 blkio: "8:0 Read 123" lines; k is 0 for bytes, 2 for operations. */
static void v1_blkio(node_ctx *c, devios *ds, int k)
{
	const char *p = c->s->rd.buf, *end = p + c->s->rd.len, *rest, *rest_end;
	char dev[32];
	int r;
	while ((r = pp_next_dev_line(&p, end, dev, &rest, &rest_end)) >= 0) {
		if (!r)
			continue;
		while (rest < rest_end && *rest == ' ')
			rest++;
		int op = strncmp(rest, "Read ", 5) == 0    ? 0
		         : strncmp(rest, "Write ", 6) == 0 ? 1
		                                           : -1;
		uint64_t v;
		devio *d;
		if (op < 0 || !cobs_parse_u64(rest + (op ? 6 : 5), rest_end, &v) ||
		    !(d = devio_get(ds, dev)))
			continue;
		d->v[k + op] = v;
		d->have |= 1u << (k + op);
	}
}

static void v1_node(node_ctx *c)
{
	procpid *s = c->s;
	uint64_t v;
	bool unl;
	if (read_value(c, v1_files, V1_CPUACCT_USAGE, &v, &unl))
		add(c, F_C_CPU_USAGE, (double)v / 1e9);
	if (read_file(c, &v1_files[V1_CPUACCT_STAT], V1_CPUACCT_STAT)) {
		static const pp_key keys[] = {{"user", PP_NUM}, {"system", PP_NUM}};
		pp_val t[2];
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 2, t);
		if (t[0].present)
			add(c, F_C_CPU_USER, (double)t[0].num / (double)s->hz);
		if (t[1].present)
			add(c, F_C_CPU_SYSTEM, (double)t[1].num / (double)s->hz);
	}
	if (read_file(c, &v1_files[V1_CPU_STAT], V1_CPU_STAT)) {
		static const pp_key keys[] = {{"nr_periods", PP_NUM},
		                              {"nr_throttled", PP_NUM},
		                              {"throttled_time", PP_NUM}};
		pp_val t[3];
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 3, t);
		if (t[0].present)
			add(c, F_C_CFS_PERIODS, (double)t[0].num);
		if (t[1].present)
			add(c, F_C_CFS_THROTTLED_PERIODS, (double)t[1].num);
		if (t[2].present)
			add(c, F_C_CFS_THROTTLED_SECONDS, (double)t[2].num / 1e9);
	}
	if (read_file(c, &v1_files[V1_CFS_QUOTA], V1_CFS_QUOTA)) {
		int64_t q; /* -1: no quota */
		if (pp_parse_i64(s->rd.buf, s->rd.buf + s->rd.len, &q) && q > 0)
			add(c, F_C_CPU_QUOTA, (double)q);
	}
	if (read_value(c, v1_files, V1_CFS_PERIOD, &v, &unl))
		add(c, F_C_CPU_PERIOD, (double)v);
	uint64_t usage = 0;
	bool have_usage = read_value(c, v1_files, V1_MEM_USAGE, &usage, &unl);
	if (read_value(c, v1_files, V1_MEM_LIMIT, &v, &unl))
		add(c, F_C_MEM_LIMIT, v >= V1_UNLIMITED ? 0.0 : (double)v);
	if (read_value(c, v1_files, V1_MEM_MAX_USAGE, &v, &unl))
		add(c, F_C_MEM_MAX_USAGE, (double)v);
	pp_val st[5] = {0};
	if (read_file(c, &v1_files[V1_MEM_STAT], V1_MEM_STAT)) {
		static const pp_key keys[] = {{"total_rss", PP_NUM},
		                              {"total_cache", PP_NUM},
		                              {"total_mapped_file", PP_NUM},
		                              {"total_inactive_file", PP_NUM},
		                              {"total_swap", PP_NUM}};
		pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 5, st);
	}
	memory(c, have_usage, usage, st);
	if (st[4].present)
		add(c, F_C_MEM_SWAP, (double)st[4].num);
	if (read_value(c, v1_files, V1_MEM_FAILCNT, &v, &unl))
		add(c, F_C_MEM_FAILCNT, (double)v);
	if (read_file(c, &v1_files[V1_OOM_CONTROL], V1_OOM_CONTROL)) {
		static const pp_key keys[] = {{"oom_kill", PP_NUM}};
		pp_val k[1];
		if (pp_parse_kv(s->rd.buf, s->rd.len, ' ', keys, 1, k))
			add(c, F_C_OOM_KILLS, (double)k[0].num);
	}
	devios ds = {.n = 0};
	if (read_file(c, &v1_files[V1_BLKIO_BYTES], V1_BLKIO_BYTES))
		v1_blkio(c, &ds, 0);
	if (read_file(c, &v1_files[V1_BLKIO_IOS], V1_BLKIO_IOS))
		v1_blkio(c, &ds, 2);
	emit_devios(c, &ds);
	if (read_value(c, v1_files, V1_PIDS_CURRENT, &v, &unl))
		add(c, F_C_THREADS, (double)v);
	if (read_value(c, v1_files, V1_PIDS_MAX, &v, &unl))
		add(c, F_C_THREADS_MAX, (double)v);
}

int cgstats_emit(procpid *s, emitter *em)
{
	for (size_t i = 0; i < s->nodes.n; i++) {
		cg_node *n = s->nodes.items[i];
		if (n->pass != s->pass || (n->kind == CG_OTHER && !s->system_cgroups) ||
		    n->path_len <= 1)
			continue; /* the root cgroup is the node, which node metrics cover */
		node_ctx c = {.s = s, .em = em, .n = n};
		groups_labels(n, &c.l);
		labels_add(&c.l, "id", n->path);
		add(&c, F_C_PROCESSES, n->nprocs);
		if (n->v1)
			v1_node(&c);
		else
			v2_node(&c);
		if (c.rc < 0)
			return -1;
		cobs_batch_checkpoint(em->b); /* a cgroup's series are self-contained too */
	}
	return 0;
}
