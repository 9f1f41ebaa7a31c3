/*
 * disk: per-device block I/O counters from <proc_root>/diskstats.
 *
 * Metrics, with node_exporter's names so its dashboards carry over (label
 * `device`; sectors are 512 bytes whatever the device's block size, times
 * are kernel milliseconds turned into seconds):
 *   node_disk_reads_completed_total, node_disk_reads_merged_total,
 *   node_disk_read_bytes_total (sectors × 512), node_disk_read_time_seconds_total,
 *   node_disk_writes_completed_total, node_disk_writes_merged_total,
 *   node_disk_written_bytes_total (sectors × 512), node_disk_write_time_seconds_total,
 *   node_disk_io_now (gauge), node_disk_io_time_seconds_total,
 *   node_disk_io_time_weighted_seconds_total;
 *   kernel >= 4.18 (15 stats): node_disk_discards_completed_total,
 *   node_disk_discards_merged_total, node_disk_discarded_sectors_total,
 *   node_disk_discard_time_seconds_total;
 *   kernel >= 5.5 (17 stats): node_disk_flush_requests_total,
 *   node_disk_flush_requests_time_seconds_total.
 * Old kernels (< 2.6.25) give partitions only 4 stats (reads, sectors read,
 * writes, sectors written): those lines yield just the four matching families.
 *
 * Derived (ours, gauges), between this collection and the previous one that
 * saw the device, Δt from the batches' monotonic_ns:
 *   node_disk_read_bytes_per_second    = Δsectors_read × 512 / Δt
 *   node_disk_written_bytes_per_second = Δsectors_written × 512 / Δt
 *   node_disk_reads_per_second         = Δreads_completed / Δt   (read IOPS)
 *   node_disk_writes_per_second        = Δwrites_completed / Δt  (write IOPS)
 * No rate on a device's first collection or after a counter reset; a 32-bit
 * wrap (32-bit kernels) is counted through (cobs_rate, on the raw counter).
 *
 * Config, [plugin.disk]:
 *   include    = glob list; empty (default) = every device
 *   exclude    = glob list; default "loop[0-9]* ram[0-9]* zram[0-9]* fd[0-9]*",
 *                the devices node_exporter leaves out (loop, RAM and floppy disks)
 *   partitions = false (default): partitions are left out; true keeps them.
 * A device is collected when it matches include (or include is empty), does
 * not match exclude, and is a whole disk unless partitions = true.
 *
 * Whole disk or partition: <sys_root>/class/block/<dev>/partition exists only
 * for partitions, so a device with that file is a partition and a device
 * listed there without it is a whole disk (this gets Xen's whole-disk "xvda1"
 * right). When sysfs does not know the device (another root, a fixture), the
 * name decides: "<h|s|v|xv>d<letters><digits>" (sda1, vda2, xvda1, hda1) and
 * "<...digit>p<digits>" (nvme0n1p1, mmcblk0p1, md0p1, nbd0p1, loop0p1) are
 * partitions; everything else (sda, nvme0n1, mmcblk0, dm-0, md127, sr0) is a
 * whole disk. The verdict is taken once per device, not every pass.
 *
 * Parsing: "<major> <minor> <name> <stats...>" with 4, 11, 15 or 17 stats
 * (more: a newer kernel, the first 17 are used). Any other count, a field
 * that is not a plain decimal number, or a bad name skips the line whole;
 * the first line for a name wins. The stats of a filtered-out device (every
 * loop device, every partition by default) are not even parsed.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cobs/plugin.h>

#define NSTATS       17
#define NAME_MAX_LEN 64 /* the kernel's DISK_NAME_LEN is 32 */
#define SECTOR       512.0

/* Slots of a device's entry in the previous-values table. */
enum {
	V_SELECTED, /* 0: not decided yet, 1: collected, 2: filtered out */
	V_READS,
	V_WRITES,
	V_RSECT,
	V_WSECT,
	V_PASS, /* the pass that last saw the device: catches duplicate lines */
	V_WIDTH
};

enum { SEL_UNKNOWN = 0, SEL_YES = 1, SEL_NO = 2 };

/* Stat positions in the full layout (Documentation/admin-guide/iostats.rst). */
enum {
	S_READS,
	S_READS_MERGED,
	S_RSECT,
	S_RTIME,
	S_WRITES,
	S_WRITES_MERGED,
	S_WSECT,
	S_WTIME,
	S_IO_NOW,
	S_IO_TIME,
	S_IO_WEIGHTED,
	S_DISCARDS,
	S_DISCARDS_MERGED,
	S_DSECT,
	S_DTIME,
	S_FLUSHES,
	S_FTIME,
};

typedef enum scale { RAW, SECTORS, MILLIS } scale;

typedef struct stat_spec {
	const char *name;
	const char *help;
	const char *unit;
	cobs_metric_type type;
	scale sc;
} stat_spec;

/* Indexed by stat position. */
static const stat_spec stats[NSTATS] = {
        {"node_disk_reads_completed_total", "The total number of reads completed successfully.", "",
         COBS_COUNTER, RAW},
        {"node_disk_reads_merged_total", "The total number of reads merged.", "", COBS_COUNTER,
         RAW},
        {"node_disk_read_bytes_total", "The total number of bytes read successfully.", "bytes",
         COBS_COUNTER, SECTORS},
        {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.",
         "seconds", COBS_COUNTER, MILLIS},
        {"node_disk_writes_completed_total", "The total number of writes completed successfully.",
         "", COBS_COUNTER, RAW},
        {"node_disk_writes_merged_total", "The number of writes merged.", "", COBS_COUNTER, RAW},
        {"node_disk_written_bytes_total", "The total number of bytes written successfully.",
         "bytes", COBS_COUNTER, SECTORS},
        {"node_disk_write_time_seconds_total",
         "This is the total number of seconds spent by all writes.", "seconds", COBS_COUNTER,
         MILLIS},
        {"node_disk_io_now", "The number of I/Os currently in progress.", "", COBS_GAUGE, RAW},
        {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", "seconds",
         COBS_COUNTER, MILLIS},
        {"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.",
         "seconds", COBS_COUNTER, MILLIS},
        {"node_disk_discards_completed_total",
         "The total number of discards completed successfully.", "", COBS_COUNTER, RAW},
        {"node_disk_discards_merged_total", "The total number of discards merged.", "",
         COBS_COUNTER, RAW},
        {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.",
         "", COBS_COUNTER, RAW},
        {"node_disk_discard_time_seconds_total",
         "This is the total number of seconds spent by all discards.", "seconds", COBS_COUNTER,
         MILLIS},
        {"node_disk_flush_requests_total",
         "The total number of flush requests completed successfully.", "", COBS_COUNTER, RAW},
        {"node_disk_flush_requests_time_seconds_total",
         "This is the total number of seconds spent by all flush requests.", "seconds",
         COBS_COUNTER, MILLIS},
};

/* The four stats a 4-stat (old kernel partition) line carries, in its order. */
static const int old_partition_stats[4] = {S_READS, S_RSECT, S_WRITES, S_WSECT};

typedef struct rate_spec {
	const char *name;
	const char *help;
	const char *unit;
	int slot;   /* V_* */
	int stat;   /* S_* */
	double mul; /* per counter unit */
} rate_spec;

static const rate_spec rates[] = {
        {"node_disk_read_bytes_per_second",
         "Bytes read per second over the last interval (derived: delta of sectors read x 512 / "
         "delta t).",
         "bytes_per_second", V_RSECT, S_RSECT, SECTOR},
        {"node_disk_written_bytes_per_second",
         "Bytes written per second over the last interval (derived: delta of sectors written x "
         "512 / delta t).",
         "bytes_per_second", V_WSECT, S_WSECT, SECTOR},
        {"node_disk_reads_per_second",
         "Reads completed per second over the last interval (derived: delta of "
         "node_disk_reads_completed_total / delta t).",
         "", V_READS, S_READS, 1.0},
        {"node_disk_writes_per_second",
         "Writes completed per second over the last interval (derived: delta of "
         "node_disk_writes_completed_total / delta t).",
         "", V_WRITES, S_WRITES, 1.0},
};

#define NRATES    (sizeof(rates) / sizeof(rates[0]))
#define NFAMILIES (NSTATS + NRATES)

typedef struct disk_state {
	cobs_procfile file;
	char *sys_root;
	char **include; /* empty list: every device */
	char **exclude;
	bool partitions;
	cobs_prev_table *prev;
	uint64_t pass;
	int warned_garbled; /* cobs_log_recurring */
	char who[64];
	cobs_family_ref refs[NFAMILIES]; /* find each family again without hashing its name */
} disk_state;

/* Families are created on first use in a pass, so an empty file yields an empty batch. */
typedef struct pass_ctx {
	disk_state *s;
	cobs_batch *b;
	cobs_family *fams[NFAMILIES];
	uint64_t now;
	size_t skipped;
} pass_ctx;

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The name rule, for devices sysfs does not know (see the top comment). */
static bool partition_by_name(const char *name)
{
	size_t len = strlen(name), i = len;
	while (i > 0 && is_digit(name[i - 1]))
		i--;
	if (i == len || i == 0)
		return false; /* no trailing number (sda, sdp) or only digits */
	if (i >= 2 && name[i - 1] == 'p' && is_digit(name[i - 2]))
		return true; /* nvme0n1p1, mmcblk0p1, md0p1, nbd0p1, loop0p1 */
	const char *q;
	if (strncmp(name, "xvd", 3) == 0)
		q = name + 3;
	else if ((name[0] == 'h' || name[0] == 's' || name[0] == 'v') && name[1] == 'd')
		q = name + 2;
	else
		return false;
	if (q == name + i)
		return false;
	for (; q < name + i; q++)
		if (*q < 'a' || *q > 'z')
			return false;
	return true; /* sda1, sdaa12, vda2, xvda1, hda1 */
}

static bool is_partition(const disk_state *s, const char *name)
{
	char rel[NAME_MAX_LEN + 32], path[PATH_MAX];
	struct stat st;
	/* Names with '/' or a leading '.' never reach the filesystem. */
	if (name[0] != '.' && !strchr(name, '/')) {
		snprintf(rel, sizeof(rel), "class/block/%s/partition", name);
		if (cobs_path_join(path, sizeof(path), s->sys_root, rel) == 0) {
			if (stat(path, &st) == 0)
				return true;
			path[strlen(path) - strlen("/partition")] = '\0';
			if (stat(path, &st) == 0)
				return false;
		}
	}
	return partition_by_name(name);
}

static bool selected(const disk_state *s, const char *name)
{
	if (s->include[0] && !cobs_globs_match(s->include, name))
		return false;
	if (cobs_globs_match(s->exclude, name))
		return false;
	return s->partitions || !is_partition(s, name);
}

static int add(pass_ctx *c, size_t fi, const char *name, const char *help, const char *unit,
               cobs_metric_type type, double v, const cobs_label *dev)
{
	if (!c->fams[fi] &&
	    !(c->fams[fi] = cobs_batch_family_ref(c->b, &c->s->refs[fi], name, help, unit, type)))
		return -1;
	return cobs_family_add_shared(c->b, c->fams[fi], v, dev, 1);
}

static double scaled(scale sc, uint64_t v)
{
	switch (sc) {
	case SECTORS:
		return (double)v * SECTOR;
	case MILLIS:
		return (double)v / 1000.0;
	case RAW:
		break;
	}
	return (double)v;
}

/* One line of the file, [p, eol). 0 when handled or skipped, -1 when out of memory. */
static int parse_line(void *ctx, const char *p, const char *eol)
{
	pass_ctx *c = ctx;
	uint64_t major, minor;
	const char *q = p;
	while (q < eol && (*q == ' ' || *q == '\t'))
		q++;
	if (q == eol)
		return 0; /* a blank line */
	if (!(q = cobs_parse_u64(q, eol, &major)) || !(q = cobs_parse_u64(q, eol, &minor)))
		goto garbled;

	while (q < eol && (*q == ' ' || *q == '\t'))
		q++;
	char name[NAME_MAX_LEN];
	size_t nlen = 0;
	for (; q < eol && *q != ' ' && *q != '\t'; q++) {
		unsigned char ch = (unsigned char)*q;
		if (ch < ' ' || ch == 0x7f || nlen + 1 >= sizeof(name))
			goto garbled; /* control bytes, NUL, or longer than any disk name */
		name[nlen++] = (char)ch;
	}
	if (nlen == 0)
		goto garbled;
	name[nlen] = '\0';

	disk_state *s = c->s;
	cobs_prev_entry *e = cobs_prev_get(s->prev, name);
	if (!e)
		return -1;
	if (e->vals[V_PASS] == s->pass)
		goto garbled; /* the same device twice: keep the first */
	e->vals[V_PASS] = s->pass;
	/* The verdict (globs, sysfs lookups) is kept with the device, taken once. */
	if (e->vals[V_SELECTED] == SEL_UNKNOWN)
		e->vals[V_SELECTED] = selected(s, name) ? SEL_YES : SEL_NO;
	if (e->vals[V_SELECTED] != SEL_YES)
		return 0; /* filtered out: its stats are not even parsed */

	uint64_t raw[NSTATS];
	size_t n = 0;
	for (;;) {
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol)
			break;
		uint64_t v;
		if (!(q = cobs_parse_u64(q, eol, &v)))
			goto garbled;
		if (n < NSTATS)
			raw[n] = v;
		n++; /* past 17: a newer kernel's columns, counted and ignored */
	}

	/* Spread the line into full-layout positions; have[] says which exist. */
	uint64_t st[NSTATS] = {0};
	bool have[NSTATS] = {false};
	if (n == 4) {
		for (size_t i = 0; i < 4; i++) {
			st[old_partition_stats[i]] = raw[i];
			have[old_partition_stats[i]] = true;
		}
	} else if (n == 11 || n == 15 || n >= NSTATS) {
		size_t m = n < NSTATS ? n : NSTATS;
		for (size_t i = 0; i < m; i++) {
			st[i] = raw[i];
			have[i] = true;
		}
	} else {
		goto garbled; /* no kernel writes this many: a cut or mangled line */
	}

	/* One copy of {device="..."} shared by all of this device's samples. */
	const cobs_label *dev = cobs_batch_labels(c->b, &(cobs_label){"device", name}, 1);
	if (!dev)
		return -1;
	for (size_t i = 0; i < NSTATS; i++)
		if (have[i] && add(c, i, stats[i].name, stats[i].help, stats[i].unit, stats[i].type,
		                   scaled(stats[i].sc, st[i]), dev) < 0)
			return -1;

	for (size_t i = 0; i < NRATES; i++) {
		const rate_spec *r = &rates[i];
		double v;
		/* The rate is taken on the raw counter so a 32-bit wrap is seen as one. */
		if (cobs_rate(e->vals[r->slot], st[r->stat], e->t_ns, c->now, &v) &&
		    add(c, NSTATS + i, r->name, r->help, r->unit, COBS_GAUGE, v * r->mul, dev) < 0)
			return -1;
		e->vals[r->slot] = st[r->stat];
	}
	e->t_ns = c->now;
	return 0;

garbled:
	c->skipped++;
	return 0;
}

static int collect(void *state, cobs_batch *b)
{
	disk_state *s = state;
	if (cobs_procfile_read(&s->file) < 0) {
		cobs_log(COBS_LOG_WARN, s->who, "cannot read %s: %s", s->file.path,
		         strerror(errno));
		return -1;
	}
	s->pass++;
	pass_ctx c = {.s = s, .b = b, .now = b->monotonic_ns};
	int rc = cobs_procfile_lines(&s->file, parse_line, &c);
	cobs_prev_sweep(s->prev); /* vanished devices leave no state behind */
	if (rc < 0) {
		cobs_log(COBS_LOG_WARN, s->who, "out of memory while collecting %s", s->file.path);
		return -1;
	}
	if (c.skipped)
		cobs_log_recurring(&s->warned_garbled, s->who, "%s: skipped %zu malformed line(s)",
		                   s->file.path, c.skipped);
	return 0;
}

static void destroy(disk_state *s)
{
	if (!s)
		return;
	cobs_procfile_close(&s->file);
	free(s->sys_root);
	cobs_globs_free(s->include);
	cobs_globs_free(s->exclude);
	cobs_prev_free(s->prev);
	free(s);
}

static void shutdown_disk(void *state)
{
	destroy(state);
}

static int init(const cobs_plugin_env *env, void **out)
{
	disk_state *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->file.fd = -1; /* so destroy() never closes fd 0 */
	snprintf(s->who, sizeof(s->who), "%s", env->name ? env->name : "disk");

	if (cobs_cfg_globs(env->config, "include", "", &s->include, env->err) < 0 ||
	    cobs_cfg_globs(env->config, "exclude", "loop[0-9]* ram[0-9]* zram[0-9]* fd[0-9]*",
	                   &s->exclude, env->err) < 0 ||
	    cobs_cfg_bool(env->config, "partitions", false, &s->partitions, env->err) < 0)
		goto fail;
	if (!(s->sys_root = strdup(env->sys_root ? env->sys_root : "/sys")) ||
	    !(s->prev = cobs_prev_new(V_WIDTH)) ||
	    cobs_procfile_init(&s->file, env->proc_root ? env->proc_root : "/proc", "diskstats") <
	            0) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	/* Read once now so a wrong proc_root is a load error, not a silent empty plugin. */
	if (cobs_procfile_read(&s->file) < 0) {
		cobs_error_set(env->err, "cannot read %s: %s", s->file.path, strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	destroy(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "disk",
        .description = "Block device I/O counters, byte rates and IOPS from /proc/diskstats",
        .init = init,
        .collect = collect,
        .shutdown = shutdown_disk,
};
