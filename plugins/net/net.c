/*
 * net: per-interface network counters from <proc_root>/net/dev.
 *
 * Metrics, with node_exporter's names so its dashboards carry over (label
 * `device`, every value a counter as the kernel reports it):
 *   node_network_receive_{bytes,packets,errs,drop,fifo,frame,compressed,multicast}_total
 *   node_network_transmit_{bytes,packets,errs,drop,fifo,colls,carrier,compressed}_total
 * Derived (ours, gauges):
 *   node_network_receive_bytes_per_second{device}  = Δreceive_bytes  / Δt
 *   node_network_transmit_bytes_per_second{device} = Δtransmit_bytes / Δt
 * where Δ is between this collection and the previous one that saw the
 * device, and Δt comes from the batches' monotonic_ns. No rate is emitted on
 * a device's first collection or after a counter reset; a 32-bit wrap is
 * counted through (cobs_rate).
 *
 * Config, [plugin.net]:
 *   include = glob list (comma or space separated); empty (default) = every interface
 *   exclude = glob list; default "lo". An interface is collected when it matches
 *             include (or include is empty) and does not match exclude.
 * A pattern with an unterminated '[' or a trailing '\' is refused at init.
 *
 * Parsing: the file is kept open and re-read with pread. A line is
 * "<name>:<16 counters>"; the name is what precedes the last ':' (the kernel
 * forbids ':' in interface names, and a counter never holds one), so the two
 * header lines, which have no ':', fall out by themselves and a file without
 * them parses the same. A line with fewer than 16 counters, a counter that is
 * not a plain decimal number, or a name that is empty, too long or has blanks
 * is skipped whole; extra numeric columns (a future kernel) are ignored. The
 * first line for a name wins. The include/exclude verdict is taken once per
 * interface and kept with its previous values, and the counters of a
 * filtered-out interface are not even parsed: a pass costs little more than
 * the read itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/plugin.h>

#define NCOUNTERS    16
#define NAME_MAX_LEN 64 /* IFNAMSIZ is 16; leave room, refuse anything longer */

/* Slots of a device's entry in the previous-values table. */
enum {
	V_SELECTED, /* 0: not decided yet, 1: collected, 2: filtered out */
	V_RX_BYTES,
	V_TX_BYTES,
	V_PASS, /* the pass that last saw the device: catches duplicate lines */
	V_WIDTH
};

enum { SEL_UNKNOWN = 0, SEL_YES = 1, SEL_NO = 2 };

typedef struct counter_spec {
	const char *name;
	const char *help;
	const char *unit;
} counter_spec;

/* In /proc/net/dev column order: 8 receive columns, then 8 transmit columns. */
static const counter_spec counters[NCOUNTERS] = {
        {"node_network_receive_bytes_total", "Network device statistic receive_bytes.", "bytes"},
        {"node_network_receive_packets_total", "Network device statistic receive_packets.", ""},
        {"node_network_receive_errs_total", "Network device statistic receive_errs.", ""},
        {"node_network_receive_drop_total", "Network device statistic receive_drop.", ""},
        {"node_network_receive_fifo_total", "Network device statistic receive_fifo.", ""},
        {"node_network_receive_frame_total", "Network device statistic receive_frame.", ""},
        {"node_network_receive_compressed_total", "Network device statistic receive_compressed.",
         ""},
        {"node_network_receive_multicast_total", "Network device statistic receive_multicast.", ""},
        {"node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", "bytes"},
        {"node_network_transmit_packets_total", "Network device statistic transmit_packets.", ""},
        {"node_network_transmit_errs_total", "Network device statistic transmit_errs.", ""},
        {"node_network_transmit_drop_total", "Network device statistic transmit_drop.", ""},
        {"node_network_transmit_fifo_total", "Network device statistic transmit_fifo.", ""},
        {"node_network_transmit_colls_total", "Network device statistic transmit_colls.", ""},
        {"node_network_transmit_carrier_total", "Network device statistic transmit_carrier.", ""},
        {"node_network_transmit_compressed_total", "Network device statistic transmit_compressed.",
         ""},
};

#define COL_RX_BYTES 0
#define COL_TX_BYTES 8

enum { F_RX_RATE = NCOUNTERS, F_TX_RATE, NFAMILIES };

typedef struct net_state {
	cobs_procfile file;
	char **include; /* empty list: every interface */
	char **exclude;
	cobs_prev_table *prev;
	uint64_t pass;
	int warned_garbled; /* cobs_log_recurring */
	char who[64];
	cobs_family_ref refs[NFAMILIES]; /* find each family again without hashing its name */
} net_state;

/* Families are created on first use in a pass, so an empty file yields an empty batch. */
typedef struct pass_ctx {
	net_state *s;
	cobs_batch *b;
	cobs_family *fams[NFAMILIES];
	uint64_t now;
	size_t skipped;
} pass_ctx;

static bool selected(const net_state *s, const char *name)
{
	if (s->include[0] && !cobs_globs_match(s->include, name))
		return false;
	return !cobs_globs_match(s->exclude, name);
}

static int add(pass_ctx *c, int fi, const char *name, const char *help, const char *unit,
               cobs_metric_type type, double v, const cobs_label *dev)
{
	if (!c->fams[fi] &&
	    !(c->fams[fi] = cobs_batch_family_ref(c->b, &c->s->refs[fi], name, help, unit, type)))
		return -1;
	return cobs_family_add_shared(c->b, c->fams[fi], v, dev, 1);
}

/* One line of the file, [p, eol). 0 when handled or skipped, -1 when out of memory. */
static int parse_line(void *ctx, const char *p, const char *eol)
{
	pass_ctx *c = ctx;
	const char *colon = memrchr(p, ':', (size_t)(eol - p));
	if (!colon) {
		/* The two header lines and blank lines: nothing to say about them. */
		for (const char *q = p; q < eol; q++)
			if (*q == '|')
				return 0;
		for (const char *q = p; q < eol; q++)
			if (*q != ' ' && *q != '\t')
				goto garbled;
		return 0;
	}

	char name[NAME_MAX_LEN];
	const char *cols = cobs_netdev_name(p, eol, name, sizeof(name));
	if (!cols)
		goto garbled;

	net_state *s = c->s;
	cobs_prev_entry *e = cobs_prev_get(s->prev, name);
	if (!e)
		return -1;
	if (e->vals[V_PASS] == s->pass)
		goto garbled; /* the same interface twice: keep the first */
	e->vals[V_PASS] = s->pass;
	/* The filter verdict is kept with the device: no fnmatch per device per pass. */
	if (e->vals[V_SELECTED] == SEL_UNKNOWN)
		e->vals[V_SELECTED] = selected(s, name) ? SEL_YES : SEL_NO;
	if (e->vals[V_SELECTED] != SEL_YES)
		return 0; /* filtered out: its counters are not even parsed */

	uint64_t v[NCOUNTERS];
	const char *q = cols;
	for (int i = 0; i < NCOUNTERS; i++)
		if (!(q = cobs_parse_u64(q, eol, &v[i])))
			goto garbled;
	for (;;) { /* extra columns from a newer kernel: numbers, ignored */
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol)
			break;
		uint64_t extra;
		if (!(q = cobs_parse_u64(q, eol, &extra)))
			goto garbled;
	}

	/* One copy of {device="..."} shared by all of this interface's samples. */
	const cobs_label *dev = cobs_batch_labels(c->b, &(cobs_label){"device", name}, 1);
	if (!dev)
		return -1;
	for (int i = 0; i < NCOUNTERS; i++)
		if (add(c, i, counters[i].name, counters[i].help, counters[i].unit, COBS_COUNTER,
		        (double)v[i], dev) < 0)
			return -1;

	double r;
	if (cobs_rate(e->vals[V_RX_BYTES], v[COL_RX_BYTES], e->t_ns, c->now, &r) &&
	    add(c, F_RX_RATE, "node_network_receive_bytes_per_second",
	        "Bytes received per second over the last interval (derived: delta of "
	        "node_network_receive_bytes_total / delta t).",
	        "bytes_per_second", COBS_GAUGE, r, dev) < 0)
		return -1;
	if (cobs_rate(e->vals[V_TX_BYTES], v[COL_TX_BYTES], e->t_ns, c->now, &r) &&
	    add(c, F_TX_RATE, "node_network_transmit_bytes_per_second",
	        "Bytes transmitted per second over the last interval (derived: delta of "
	        "node_network_transmit_bytes_total / delta t).",
	        "bytes_per_second", COBS_GAUGE, r, dev) < 0)
		return -1;
	e->vals[V_RX_BYTES] = v[COL_RX_BYTES];
	e->vals[V_TX_BYTES] = v[COL_TX_BYTES];
	e->t_ns = c->now;
	return 0;

garbled:
	c->skipped++;
	return 0;
}

static int collect(void *state, cobs_batch *b)
{
	net_state *s = state;
	if (cobs_procfile_read(&s->file) < 0) {
		cobs_log(COBS_LOG_WARN, s->who, "cannot read %s: %s", s->file.path,
		         strerror(errno));
		return -1;
	}
	s->pass++;
	pass_ctx c = {.s = s, .b = b, .now = b->monotonic_ns};
	int rc = cobs_procfile_lines(&s->file, parse_line, &c);
	cobs_prev_sweep(s->prev); /* vanished interfaces leave no state behind */
	if (rc < 0) {
		cobs_log(COBS_LOG_WARN, s->who, "out of memory while collecting %s", s->file.path);
		return -1;
	}
	if (c.skipped)
		cobs_log_recurring(&s->warned_garbled, s->who, "%s: skipped %zu malformed line(s)",
		                   s->file.path, c.skipped);
	return 0;
}

static void destroy(net_state *s)
{
	if (!s)
		return;
	cobs_procfile_close(&s->file);
	cobs_globs_free(s->include);
	cobs_globs_free(s->exclude);
	cobs_prev_free(s->prev);
	free(s);
}

static void shutdown_net(void *state)
{
	destroy(state);
}

static int init(const cobs_plugin_env *env, void **out)
{
	net_state *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->file.fd = -1; /* so destroy() never closes fd 0 */
	snprintf(s->who, sizeof(s->who), "%s", env->name ? env->name : "net");

	if (cobs_cfg_globs(env->config, "include", "", &s->include, env->err) < 0 ||
	    cobs_cfg_globs(env->config, "exclude", "lo", &s->exclude, env->err) < 0)
		goto fail;
	if (!(s->prev = cobs_prev_new(V_WIDTH)) ||
	    cobs_procfile_init(&s->file, env->proc_root ? env->proc_root : "/proc", "net/dev") <
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
        .name = "net",
        .description = "Network interface counters and byte rates from /proc/net/dev",
        .init = init,
        .collect = collect,
        .shutdown = shutdown_net,
};
