/*
 * cpu: CPU time, scheduler counters and load averages of the node, read from
 * <proc_root>/stat and <proc_root>/loadavg under node_exporter's names, labels
 * and units, so dashboards written for node_exporter work unchanged.
 *
 *   node_cpu_seconds_total{cpu,mode}        per-CPU ticks / USER_HZ, modes user nice
 *                                           system idle iowait irq softirq steal (only
 *                                           the columns the kernel prints)
 *   node_cpu_guest_seconds_total{cpu,mode}  guest (mode="user") and guest_nice
 *                                           (mode="nice") when those columns exist
 *   node_cpu_aggregate_seconds_total{mode}  the "cpu " line (ours, see below)
 *   node_context_switches_total, node_intr_total, node_forks_total,
 *   node_procs_running, node_procs_blocked, node_boot_time_seconds
 *   node_load1, node_load5, node_load15
 *   node_cpu_usage_percent{cpu="N"|"total"} (ours, derived)
 *
 * The aggregate line gets a family of its own: node_exporter has none, and
 * folding it into node_cpu_seconds_total as cpu="total" would make every
 * sum(rate(node_cpu_seconds_total[..])) query count each tick twice.
 *
 * Usage, per CPU and for the aggregate line, between two collections:
 *
 *   total = user + nice + system + idle + iowait + irq + softirq + steal
 *   busy  = total - idle - iowait
 *   node_cpu_usage_percent = 100 * (busy_now - busy_prev) / (total_now - total_prev)
 *
 * Only the columns present are summed (old kernels lack steal, iowait...).
 * guest and guest_nice are left out of total because the kernel already counts
 * them inside user and nice; adding them would count guest time twice.
 * There is no value on the first collection of a CPU, when the number of
 * columns changed, when Δtotal is 0, or on a reset: total, busy or idle+iowait
 * went down. The check is on those sums rather than on each column because
 * iowait alone may go down (Documentation/filesystems/proc.rst: ticks move
 * between iowait and idle), which is not a reset and leaves the sums intact.
 * Tick counters are 64-bit in every kernel that has these columns, so a drop is
 * never read as a wrap (cobs_counter_delta's 32-bit wrap rule would misread a
 * large host's aggregate, which passes 3/4 of 2^32 ticks within days).
 *
 * Previous sums live in a cobs_prev_table keyed by the cpu label; entries of
 * CPUs that went offline are swept after each pass, so a CPU that comes back
 * starts again with no value instead of a delta across its absence.
 *
 * Config ([plugin.cpu]): per_cpu = true|false (default true). false drops the
 * per-CPU series (node_cpu_seconds_total, node_cpu_guest_seconds_total and the
 * per-CPU usage) for hosts with hundreds of CPUs; the aggregate family and
 * cpu="total" usage remain.
 *
 * Parsing is by hand (no sscanf, no strtod): the files are read every few
 * seconds and their parse must cost little next to the pread itself; strtod
 * would also follow the process locale's decimal point.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/plugin.h>

#define NMODES   8  /* user .. steal: the columns summed into total */
#define NCOLS    10 /* + guest, guest_nice */
#define MIN_COLS 4  /* user nice system idle: every kernel since 2.4 prints them */

/* Column i of a "cpu" line is mode_names[i]; guest columns reuse user and nice. */
static const char *const mode_names[NCOLS] = {
        "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "user", "nice",
};

enum fam_id {
	F_SECONDS,
	F_GUEST,
	F_AGGREGATE,
	F_USAGE,
	F_CTXT,
	F_INTR,
	F_FORKS,
	F_RUNNING,
	F_BLOCKED,
	F_BTIME,
	F_LOAD1,
	F_LOAD5,
	F_LOAD15,
	F_COUNT
};

static const struct fam_def {
	const char *name, *help, *unit;
	cobs_metric_type type;
} fam_defs[F_COUNT] = {
        [F_SECONDS] = {"node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "seconds",
                       COBS_COUNTER},
        [F_GUEST] = {"node_cpu_guest_seconds_total",
                     "Seconds the CPUs spent in guests (VMs) for each mode.", "seconds",
                     COBS_COUNTER},
        [F_AGGREGATE] = {"node_cpu_aggregate_seconds_total",
                         "Seconds all CPUs together spent in each mode (the \"cpu\" line of "
                         "/proc/stat).",
                         "seconds", COBS_COUNTER},
        [F_USAGE] = {"node_cpu_usage_percent",
                     "CPU busy share since the previous collection: 100 * delta(busy) / "
                     "delta(total), total = user+nice+system+idle+iowait+irq+softirq+steal, "
                     "busy = total-idle-iowait.",
                     "percent", COBS_GAUGE},
        [F_CTXT] = {"node_context_switches_total", "Total number of context switches.", "",
                    COBS_COUNTER},
        [F_INTR] = {"node_intr_total", "Total number of interrupts serviced.", "", COBS_COUNTER},
        [F_FORKS] = {"node_forks_total", "Total number of forks.", "", COBS_COUNTER},
        [F_RUNNING] = {"node_procs_running", "Number of processes in runnable state.", "",
                       COBS_GAUGE},
        [F_BLOCKED] = {"node_procs_blocked",
                       "Number of processes blocked waiting for I/O to complete.", "", COBS_GAUGE},
        [F_BTIME] = {"node_boot_time_seconds", "Node boot time, in unixtime.", "seconds",
                     COBS_GAUGE},
        [F_LOAD1] = {"node_load1", "1m load average.", "", COBS_GAUGE},
        [F_LOAD5] = {"node_load5", "5m load average.", "", COBS_GAUGE},
        [F_LOAD15] = {"node_load15", "15m load average.", "", COBS_GAUGE},
};

/* The single-number lines of /proc/stat we keep, and the family each feeds. */
static const struct stat_key {
	const char *word;
	size_t len;
	enum fam_id fam;
} stat_keys[] = {
        {"ctxt", 4, F_CTXT},
        {"intr", 4, F_INTR}, /* the first number is the total; per-IRQ counts are skipped */
        {"btime", 5, F_BTIME},
        {"processes", 9, F_FORKS},
        {"procs_running", 13, F_RUNNING},
        {"procs_blocked", 13, F_BLOCKED},
};

/* What a cobs_prev_table entry holds per CPU. */
enum { PV_TOTAL, PV_BUSY, PV_NCOLS, PV_PASS, PV_WIDTH };

typedef struct cpu_state {
	char *name; /* for log lines */
	bool per_cpu;
	double hz; /* USER_HZ: the unit of /proc/stat's times */
	cobs_procfile stat;
	cobs_procfile loadavg;
	cobs_prev_table *prev;
	uint64_t pass; /* collection count, to spot a CPU listed twice in one file */
	cobs_family_ref refs[F_COUNT]; /* find each family again without hashing its name */
} cpu_state;

/* One collection in progress; families are created on first use so a file
 * without, say, guest columns yields no empty family. */
typedef struct pass {
	cpu_state *s;
	cobs_batch *b;
	uint64_t now;
	cobs_family *fam[F_COUNT];
} pass;

static cobs_family *family(pass *ps, enum fam_id id)
{
	if (!ps->fam[id]) {
		const struct fam_def *d = &fam_defs[id];
		ps->fam[id] = cobs_batch_family_ref(ps->b, &ps->s->refs[id], d->name, d->help,
		                                    d->unit, d->type);
	}
	return ps->fam[id];
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Only complete lines are parsed, so each ends in '\n'; a NUL before it is
 * garbage (it makes the number or line it sits in invalid), never an end. */
static bool is_end(char c)
{
	return c == '\n';
}

/*
 * The next unsigned decimal field at *pp, after blanks. Returns 1 (and moves
 * *pp past it), 0 when the line has no more fields, -1 when the field is not a
 * plain number that fits in 64 bits ("-5", "0x12", "4x", a NUL, too many
 * digits). Never moves past the line's '\n'.
 */
static int next_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	while (is_blank(*p))
		p++;
	*pp = p;
	if (is_end(*p))
		return 0;
	const char *q = cobs_parse_u64(p, NULL, out);
	if (!q)
		return -1;
	*pp = q;
	return 1;
}
/* Records this pass's sums for a CPU and adds its usage when there is a fair previous one. */
static int usage(pass *ps, cobs_prev_entry *e, const char *cpu, const uint64_t *v, int ncols)
{
	int n = ncols < NMODES ? ncols : NMODES;
	uint64_t total = 0, idle = v[3] + (ncols > 4 ? v[4] : 0);
	bool sane = idle >= v[3];
	for (int i = 0; i < n; i++) {
		sane = sane && total <= UINT64_MAX - v[i];
		total += v[i];
	}
	if (!sane) { /* sums past 64 bits: no usage now, nor a baseline for the next pass */
		e->t_ns = 0;
		return 0;
	}
	uint64_t busy = total - idle; /* idle <= total: both columns are in the sum */
	uint64_t pt = e->vals[PV_TOTAL], pb = e->vals[PV_BUSY];
	bool have = e->t_ns != 0 && e->vals[PV_NCOLS] == (uint64_t)ncols && total > pt &&
	            busy >= pb && total - busy >= pt - pb;
	e->t_ns = ps->now ? ps->now : 1; /* nonzero: "has a previous sample" */
	e->vals[PV_TOTAL] = total;
	e->vals[PV_BUSY] = busy;
	e->vals[PV_NCOLS] = (uint64_t)ncols;
	if (!have)
		return 0;
	double pct = 100.0 * (double)(busy - pb) / (double)(total - pt);
	cobs_family *f = family(ps, F_USAGE);
	return f ? cobs_family_add1(ps->b, f, pct, "cpu", cpu) : -1;
}

/* A "cpu " or "cpuN " line. Returns 1 when it produced samples, 0 when skipped, -1 on OOM. */
static int cpu_line(pass *ps, const char *line)
{
	const char *p = line + 3;
	char id[16];
	bool aggregate = *p == ' ';
	if (aggregate) {
		memcpy(id, "total", sizeof("total"));
	} else {
		if (!ps->s->per_cpu)
			return 0;
		size_t n = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (n + 1 >= sizeof(id))
				return 0;
			id[n++] = *p;
		}
		if (n == 0 || *p != ' ') /* "cpuX", "cpufreq ..." */
			return 0;
		id[n] = '\0';
	}

	uint64_t v[NCOLS];
	int ncols = 0;
	while (ncols < NCOLS) { /* columns past guest_nice (a future kernel's) are ignored */
		int r = next_u64(&p, &v[ncols]);
		if (r < 0)
			return 0; /* garbled: skip the whole line rather than guess */
		if (r == 0)
			break;
		ncols++;
	}
	if (ncols < MIN_COLS)
		return 0;

	cobs_prev_entry *e = cobs_prev_get(ps->s->prev, id);
	if (!e)
		return -1;
	if (e->vals[PV_PASS] == ps->s->pass)
		return 0; /* the same CPU twice in one file: keep the first, no duplicate series */
	e->vals[PV_PASS] = ps->s->pass;

	int nmodes = ncols < NMODES ? ncols : NMODES;
	double hz = ps->s->hz;
	cobs_family *f = family(ps, aggregate ? F_AGGREGATE : F_SECONDS);
	if (!f)
		return -1;
	for (int i = 0; i < nmodes; i++) {
		double sec = (double)v[i] / hz;
		int rc = aggregate ? cobs_family_add1(ps->b, f, sec, "mode", mode_names[i])
		                   : cobs_family_add2(ps->b, f, sec, "cpu", id, "mode",
		                                      mode_names[i]);
		if (rc < 0)
			return -1;
	}
	if (!aggregate && ncols > NMODES) {
		cobs_family *g = family(ps, F_GUEST);
		if (!g)
			return -1;
		for (int i = NMODES; i < ncols; i++)
			if (cobs_family_add2(ps->b, g, (double)v[i] / hz, "cpu", id, "mode",
			                     mode_names[i]) < 0)
				return -1;
	}
	return usage(ps, e, id, v, ncols) < 0 ? -1 : 1;
}

/* One line of /proc/stat. Returns 1 for a cpu line used, 0 otherwise, -1 on OOM. */
static int stat_line(pass *ps, const char *line, size_t len)
{
	if (len >= 4 && memcmp(line, "cpu", 3) == 0)
		return cpu_line(ps, line);
	for (size_t i = 0; i < sizeof(stat_keys) / sizeof(stat_keys[0]); i++) {
		const struct stat_key *k = &stat_keys[i];
		if (len <= k->len || line[k->len] != ' ' || memcmp(line, k->word, k->len) != 0)
			continue;
		const char *p = line + k->len;
		uint64_t v;
		if (next_u64(&p, &v) != 1)
			return 0;
		cobs_family *f = family(ps, k->fam);
		if (!f || f->nsamples) /* a repeated line: the first one wins */
			return f ? 0 : -1;
		return cobs_family_add0(ps->b, f, (double)v) < 0 ? -1 : 0;
	}
	return 0; /* softirq, page, swap, ...: not ours */
}

/*
 * A load average such as "0.52": digits, an optional '.', digits. Returns 1, 0
 * at the end of the line, or -1 for a garbled token (then *pp is past it, so
 * the next field keeps its position).
 */
static int next_load(const char **pp, double *out)
{
	static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	const char *p = *pp;
	while (is_blank(*p))
		p++;
	*pp = p;
	if (is_end(*p))
		return 0;
	uint64_t m = 0;
	int digits = 0, frac = -1; /* frac: digits after the '.', -1 before it */
	bool bad = false;
	for (; !is_blank(*p) && !is_end(*p); p++) { /* to the token's end even when bad */
		if (*p == '\0') {
			bad = true; /* a NUL: stop here, the rest of the line is not to be trusted
			             */
			break;
		}
		if (bad)
			continue;
		if (*p == '.' && frac < 0) {
			frac = 0;
		} else if (*p < '0' || *p > '9' || digits >= 18 || frac >= 9) {
			bad = true; /* "nan", "1.2.3", "-1", absurdly long */
		} else {
			m = m * 10 + (uint64_t)(*p - '0');
			digits++;
			if (frac >= 0)
				frac++;
		}
	}
	*pp = p;
	if (bad || digits == 0 || frac == 0)
		return -1;
	/* One division by a power of ten: correctly rounded, so "0.52" is 0.52. */
	*out = (double)m / pow10[frac < 0 ? 0 : frac];
	return 1;
}

static void parse_loadavg(pass *ps, const char *p, int *oom)
{
	static const enum fam_id ids[3] = {F_LOAD1, F_LOAD5, F_LOAD15};
	for (int i = 0; i < 3; i++) {
		double v;
		int r = next_load(&p, &v);
		if (r == 0)
			return;
		if (r < 0)
			continue;
		cobs_family *f = family(ps, ids[i]);
		if (!f || cobs_family_add0(ps->b, f, v) < 0)
			*oom = 1;
	}
}

/* The length of the part of f's buffer made of complete lines: the kernel ends
 * every line with '\n', so an unterminated tail was cut short (a truncated
 * copy) and its last number may be missing digits. */
static size_t complete_len(const cobs_procfile *f)
{
	size_t n = f->len;
	while (n > 0 && f->buf[n - 1] != '\n')
		n--;
	return n;
}

static int read_file(cpu_state *s, cobs_procfile *f)
{
	if (cobs_procfile_read(f) == 0)
		return 0;
	cobs_log(COBS_LOG_WARN, s->name, "cannot read %s: %s", f->path, strerror(errno));
	return -1;
}

static int collect(void *state, cobs_batch *b)
{
	cpu_state *s = state;
	if (read_file(s, &s->stat) < 0 || read_file(s, &s->loadavg) < 0)
		return -1;
	pass ps = {.s = s, .b = b, .now = b->monotonic_ns};
	s->pass++;

	int cpus = 0, oom = 0;
	const char *p = s->stat.buf, *end = p + complete_len(&s->stat);
	while (p < end && !oom) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		int r = stat_line(&ps, p, (size_t)(eol - p)); /* eol exists: end is after a '\n' */
		if (r < 0)
			oom = 1;
		else
			cpus += r;
		p = eol + 1;
	}
	if (!oom && complete_len(&s->loadavg) > 0)
		parse_loadavg(&ps, s->loadavg.buf, &oom);
	if (oom) {
		/* No sweep: CPUs not reached this pass would lose their baseline. */
		cobs_log(COBS_LOG_WARN, s->name, "out of memory while collecting");
		return -1;
	}
	cobs_prev_sweep(s->prev);
	if (cpus == 0) {
		cobs_log(COBS_LOG_WARN, s->name, "%s has no usable cpu line", s->stat.path);
		return -1;
	}
	return 0;
}

static void shutdown(void *state)
{
	cpu_state *s = state;
	if (!s)
		return;
	cobs_procfile_close(&s->stat);
	cobs_procfile_close(&s->loadavg);
	cobs_prev_free(s->prev);
	free(s->name);
	free(s);
}

/* Opens and reads a file once, so a wrong proc_root fails at load time, by name. */
static int open_file(const cobs_plugin_env *env, cobs_procfile *f, const char *root,
                     const char *rel)
{
	if (cobs_procfile_init(f, root, rel) < 0)
		return cobs_error_set(env->err, "out of memory");
	if (cobs_procfile_read(f) < 0)
		return cobs_error_set(env->err, "cannot read %s: %s", f->path, strerror(errno));
	return 0;
}

static int init(const cobs_plugin_env *env, void **state)
{
	cpu_state *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->stat.fd = s->loadavg.fd = -1; /* so shutdown() is safe from any point below */
	const char *root = env->proc_root ? env->proc_root : "/proc";
	long hz = sysconf(_SC_CLK_TCK);
	s->hz = hz > 0 ? (double)hz : 100.0; /* USER_HZ is 100 on every mainstream arch */
	s->name = strdup(env->name ? env->name : "cpu");
	s->prev = cobs_prev_new(PV_WIDTH);
	if (!s->name || !s->prev) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	if (cobs_cfg_bool(env->config, "per_cpu", true, &s->per_cpu, env->err) < 0)
		goto fail;
	if (open_file(env, &s->stat, root, "stat") < 0 ||
	    open_file(env, &s->loadavg, root, "loadavg") < 0)
		goto fail;
	*state = s;
	return 0;
fail:
	shutdown(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "cpu",
        .description = "CPU time, usage, scheduler counters and load averages from /proc/stat "
                       "and /proc/loadavg",
        .init = init,
        .collect = collect,
        .shutdown = shutdown,
};
