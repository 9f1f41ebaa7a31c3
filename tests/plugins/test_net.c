/*
 * The net plugin against fixture /proc/net/dev files: exact counters per
 * machine kind, rates against hand-computed deltas (resets, 32-bit wraps,
 * interfaces that come and go), include/exclude patterns, hostile files,
 * init and collect failures, and the real /proc of this machine.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/metric.h>

#include "harness.h"

#define RX       "node_network_receive_bytes_total"
#define TX       "node_network_transmit_bytes_total"
#define RX_RATE  "node_network_receive_bytes_per_second"
#define TX_RATE  "node_network_transmit_bytes_per_second"
#define NO_SYS   "/nonexistent/cobs-test-sys"
#define RATE_TOL 1e-6

/* The 16 counter families in /proc/net/dev column order. */
static const char *const counter_names[16] = {
        "node_network_receive_bytes_total",      "node_network_receive_packets_total",
        "node_network_receive_errs_total",       "node_network_receive_drop_total",
        "node_network_receive_fifo_total",       "node_network_receive_frame_total",
        "node_network_receive_compressed_total", "node_network_receive_multicast_total",
        "node_network_transmit_bytes_total",     "node_network_transmit_packets_total",
        "node_network_transmit_errs_total",      "node_network_transmit_drop_total",
        "node_network_transmit_fifo_total",      "node_network_transmit_colls_total",
        "node_network_transmit_carrier_total",   "node_network_transmit_compressed_total",
};

/* A fixture path in a buffer of its own (fixture() reuses one static buffer). */
__attribute__((format(printf, 1, 2))) static const char *fx(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int i;
	char rel[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s", fixture(rel));
	return bufs[i];
}

static void open_net(harness *h, const char *proc_root, const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "net", proc_root, NO_SYS, kv);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
}

/* The value of family fam for device dev; fails the test when absent. */
static double val(const cobs_batch *b, const char *fam, const char *dev)
{
	double v = -1;
	int n = sample_value(b, fam, &v, "device", dev, NULL);
	ck_assert_msg(n == 1, "%s{device=%s}: %d matches", fam, dev, n);
	return v;
}

static int has(const cobs_batch *b, const char *fam, const char *dev)
{
	double v;
	return sample_value(b, fam, &v, "device", dev, NULL);
}

/* A device present in no family at all. */
static void ck_absent(const cobs_batch *b, const char *dev)
{
	for (size_t i = 0; i < b->nfamilies; i++)
		ck_assert_msg(has(b, b->families[i]->name, dev) == 0, "%s has %s",
		              b->families[i]->name, dev);
}

/* A temporary proc root holding one file copied from a fixture. */
typedef struct tmp_proc {
	char base[256]; /* the temp dir, removed by tmp_proc_free */
	char root[300]; /* <base>/proc */
	char file[400]; /* <root>/net/dev */
} tmp_proc;

static void tmp_proc_init(tmp_proc *t, const char *src)
{
	const char *d = temp_dir();
	ck_assert_ptr_nonnull(d);
	snprintf(t->base, sizeof(t->base), "%s", d);
	snprintf(t->root, sizeof(t->root), "%s/proc", t->base);
	snprintf(t->file, sizeof(t->file), "%s/net/dev", t->root);
	char dir[350];
	snprintf(dir, sizeof(dir), "%s/net", t->root);
	ck_assert_int_eq(make_dirs(dir), 0);
	if (src)
		ck_assert_int_eq(fixture_put(src, t->file), 0);
}

static void tmp_write(const tmp_proc *t, const void *data, size_t len)
{
	FILE *f = fopen(t->file, "wb"); /* truncates in place, like fixture_put */
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_proc_free(tmp_proc *t)
{
	nftw(t->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

START_TEST(small_vm_exact_counters)
{
	harness h;
	open_net(&h, fx("nodes/small-vm/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 5000000000u), 0);
	/* eth0: 1523402811 1205511 1 2 3 4 5 6 98765432 604001 7 8 9 10 11 12 */
	const double want[16] = {1523402811, 1205511, 1, 2, 3, 4,  5,  6,
	                         98765432,   604001,  7, 8, 9, 10, 11, 12};
	for (int i = 0; i < 16; i++) {
		ck_assert_double_eq(val(b, counter_names[i], "eth0"), want[i]);
		ck_assert_uint_eq(family_size(b, counter_names[i]), 1);
		ck_assert_int_eq(cobs_batch_find(b, counter_names[i])->type, COBS_COUNTER);
	}
	ck_absent(b, "lo"); /* excluded by default */
	/* First collection: no previous sample, so no rate. */
	ck_assert_uint_eq(family_size(b, RX_RATE), 0);
	ck_assert_uint_eq(family_size(b, TX_RATE), 0);
	ck_assert_uint_eq(b->nfamilies, 16);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(small_vm_rates)
{
	tmp_proc t;
	tmp_proc_init(&t, fx("nodes/small-vm/proc/net/dev"));
	harness h;
	open_net(&h, t.root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 5000000000u), 0);
	ck_assert_int_eq(fixture_put(fx("nodes/small-vm/t1/net/dev"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 15000000000u), 0);
	/* Δt = 15 s - 5 s = 10 s.
	 * rx: 1528402811 - 1523402811 = 5000000 B / 10 s = 500000 B/s
	 * tx:  100765432 -   98765432 = 2000000 B / 10 s = 200000 B/s */
	ck_assert_double_eq(val(b, RX, "eth0"), 1528402811);
	ck_assert_double_eq(val(b, TX, "eth0"), 100765432);
	ck_assert_double_eq_tol(val(b, RX_RATE, "eth0"), 500000, RATE_TOL);
	ck_assert_double_eq_tol(val(b, TX_RATE, "eth0"), 200000, RATE_TOL);
	ck_assert_int_eq(cobs_batch_find(b, RX_RATE)->type, COBS_GAUGE);
	ck_assert_uint_eq(family_size(b, RX_RATE), 1);

	/* Same time again: a zero interval gives no rate rather than a division by zero. */
	ck_assert_int_eq(harness_collect_at(&h, b, 15000000000u), 0);
	ck_assert_uint_eq(family_size(b, RX_RATE), 0);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_proc_free(&t);
}
END_TEST

START_TEST(many_core_interfaces)
{
	harness h;
	open_net(&h, fx("nodes/many-core/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* 17 named interfaces + 24 veths, lo excluded. */
	for (int i = 0; i < 16; i++)
		ck_assert_uint_eq(family_size(b, counter_names[i]), 40);
	ck_assert_double_eq(val(b, RX, "bond0"), 8123456789012345.0);
	ck_assert_double_eq(val(b, TX, "bond0"), 4123456789012345.0);
	ck_assert_double_eq(val(b, "node_network_receive_multicast_total", "bond0"), 912345);
	/* eth0.100: 123456789 234567 1 2 3 4 5 6 987654321 765432 7 8 9 10 11 12 */
	const double want[16] = {123456789, 234567, 1, 2, 3, 4,  5,  6,
	                         987654321, 765432, 7, 8, 9, 10, 11, 12};
	for (int i = 0; i < 16; i++)
		ck_assert_double_eq(val(b, counter_names[i], "eth0.100"), want[i]);
	const char *present[] = {"eno1",         "eno2",         "ens1f0",          "ens1f1",
	                         "eth0",         "eth1",         "docker0",         "cni0",
	                         "flannel.1",    "kube-ipvs0",   "nodelocaldns",    "tunl0",
	                         "vxlan.calico", "veth0a1b2c3d", "cali8f3e2a1b4c5", "veth9f8e7d6c"};
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
		ck_assert_int_eq(has(b, RX, present[i]), 1);
	ck_absent(b, "lo");
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(many_core_reset_wrap_appear_disappear)
{
	tmp_proc t;
	tmp_proc_init(&t, fx("nodes/many-core/proc/net/dev"));
	harness h;
	open_net(&h, t.root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_int_eq(fixture_put(fx("nodes/many-core/t1/net/dev"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 105000000000u), 0);
	/* Δt = 105 s - 100 s = 5 s. */

	/* Growth. eth0 rx 700000000000 -> 700050000000: 50000000 / 5 = 10000000 B/s;
	 * tx 300000000000 -> 300025000000: 25000000 / 5 = 5000000 B/s. */
	ck_assert_double_eq_tol(val(b, RX_RATE, "eth0"), 10000000, RATE_TOL);
	ck_assert_double_eq_tol(val(b, TX_RATE, "eth0"), 5000000, RATE_TOL);

	/* Reset (pod sandbox recreated): rx 900000000 -> 1200, tx 800000000 -> 800.
	 * The counters are reported as they are, with no rate for the interval. */
	ck_assert_double_eq(val(b, RX, "veth0a1b2c3d"), 1200);
	ck_assert_double_eq(val(b, TX, "veth0a1b2c3d"), 800);
	ck_assert_int_eq(has(b, RX_RATE, "veth0a1b2c3d"), 0);
	ck_assert_int_eq(has(b, TX_RATE, "veth0a1b2c3d"), 0);

	/* 32-bit wrap. tunl0 rx 4294000000 -> 1000000:
	 * (4294967295 - 4294000000) + 1000000 + 1 = 967295 + 1000001 = 1967296 B
	 * 1967296 / 5 = 393459.2 B/s. tx 1000 -> 6000: 5000 / 5 = 1000 B/s. */
	ck_assert_double_eq(val(b, RX, "tunl0"), 1000000);
	ck_assert_double_eq_tol(val(b, RX_RATE, "tunl0"), 393459.2, RATE_TOL);
	ck_assert_double_eq_tol(val(b, TX_RATE, "tunl0"), 1000, RATE_TOL);

	/* veth9f8e7d6c went away; vethfeedbeef came: counters, but no rate yet. */
	ck_absent(b, "veth9f8e7d6c");
	ck_assert_double_eq(val(b, RX, "vethfeedbeef"), 5000);
	ck_assert_double_eq(val(b, TX, "vethfeedbeef"), 7000);
	ck_assert_int_eq(has(b, RX_RATE, "vethfeedbeef"), 0);

	/* 40 interfaces (one left, one came); rates for all but the new and the reset one. */
	ck_assert_uint_eq(family_size(b, RX), 40);
	ck_assert_uint_eq(family_size(b, RX_RATE), 38);
	ck_assert_uint_eq(family_size(b, TX_RATE), 38);

	/* Back to the first file at 110 s: veth9f8e7d6c returns as a new interface (its
	 * old state was swept, so no rate), vethfeedbeef is gone, and eth0's counters
	 * went backwards (a reset: no rate). */
	ck_assert_int_eq(fixture_put(fx("nodes/many-core/proc/net/dev"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	ck_assert_int_eq(has(b, RX, "veth9f8e7d6c"), 1);
	ck_assert_int_eq(has(b, RX_RATE, "veth9f8e7d6c"), 0);
	ck_absent(b, "vethfeedbeef");
	ck_assert_int_eq(has(b, RX_RATE, "eth0"), 0);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_proc_free(&t);
}
END_TEST

/* How many interfaces the many-core fixture yields with this config. */
static size_t count_with(const char *const *kv)
{
	harness h;
	open_net(&h, fx("nodes/many-core/proc"), kv);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	size_t n = family_size(b, RX);
	cobs_batch_free(b);
	harness_close(&h);
	return n;
}

START_TEST(include_exclude_patterns)
{
	/* 41 interfaces in the file: lo, 16 named others, 24 veths. */
	ck_assert_uint_eq(count_with((const char *const[]){"include", "veth*", NULL}), 24);
	ck_assert_uint_eq(count_with((const char *const[]){"exclude", "", NULL}), 41);
	ck_assert_uint_eq(count_with((const char *const[]){"exclude", "lo veth* cali*", NULL}), 15);
	/* eth0, eth0.100, bond0 */
	ck_assert_uint_eq(count_with((const char *const[]){"include", "eth0*,bond?", NULL}), 3);
	/* eth0, eth1: eth0.100 is excluded even though it is included */
	ck_assert_uint_eq(
	        count_with((const char *const[]){"include", "eth*", "exclude", "eth0.*", NULL}), 2);
	ck_assert_uint_eq(count_with((const char *const[]){"include", "en[os]*", NULL}), 4);
	ck_assert_uint_eq(count_with((const char *const[]){"include", "nomatch", NULL}), 0);
}
END_TEST

START_TEST(environment_overrides_config)
{
	setenv("COBS_PLUGIN_NET_INCLUDE", "bond0", 1);
	ck_assert_uint_eq(count_with((const char *const[]){"include", "veth*", NULL}), 1);
	unsetenv("COBS_PLUGIN_NET_INCLUDE");
}
END_TEST

START_TEST(old_kernel_no_blank_after_colon)
{
	/* 2.6-era format "%6s:%8lu": "  eth0:2847295123 ..." */
	harness h;
	open_net(&h, fx("nodes/old-kernel/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	ck_assert_double_eq(val(b, RX, "eth0"), 2847295123);
	ck_assert_double_eq(val(b, "node_network_receive_packets_total", "eth0"), 19385722);
	ck_assert_double_eq(val(b, "node_network_receive_drop_total", "eth0"), 12);
	ck_assert_double_eq(val(b, "node_network_receive_multicast_total", "eth0"), 1201);
	ck_assert_double_eq(val(b, TX, "eth0"), 1739012844);
	ck_assert_double_eq(val(b, "node_network_transmit_colls_total", "eth0"), 4);
	ck_assert_double_eq(val(b, RX, "sit0"), 0);
	ck_assert_uint_eq(family_size(b, RX), 2);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(new_kernel_names)
{
	harness h;
	open_net(&h, fx("nodes/new-kernel/proc"), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	ck_assert_double_eq(val(b, RX, "enp3s0"), 48293018473.0);
	ck_assert_double_eq(val(b, TX, "enp3s0"), 8372910283.0);
	ck_assert_double_eq(val(b, "node_network_receive_multicast_total", "enp3s0"), 93821);
	ck_assert_double_eq(val(b, RX, "br-4f2a9c1d8e7b"), 1000);
	ck_assert_double_eq(val(b, TX, "wg0"), 88888);
	ck_assert_double_eq(val(b, TX, "wlp2s0"), 567);
	ck_assert_uint_eq(family_size(b, RX), 4);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

/* Opens a hostile fixture and collects once; the plugin must succeed. */
static cobs_batch *collect_hostile(harness *h, const char *kase)
{
	open_net(h, fx("hostile/%s/proc", kase), NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(h, b, 1000000000u), 0);
	return b;
}

START_TEST(hostile_truncated)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "net-truncated");
	/* eth0 has 3 counters, eth2 none, eth3 no colon, eth4 is cut at 10 counters and
	 * has no newline: only eth1 is whole. */
	ck_assert_double_eq(val(b, RX, "eth1"), 1);
	ck_assert_double_eq(val(b, "node_network_transmit_compressed_total", "eth1"), 16);
	ck_assert_uint_eq(family_size(b, RX), 1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_missing_and_extra_fields)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "net-fields");
	/* eth0: 15 counters (skipped); eth1: 17, eth2: 20 (extras ignored); eth3: 16;
	 * eth4: none. Values are 1..16 in column order. */
	const char *ok[] = {"eth1", "eth2", "eth3"};
	for (size_t d = 0; d < 3; d++)
		for (int i = 0; i < 16; i++)
			ck_assert_double_eq(val(b, counter_names[i], ok[d]), i + 1);
	ck_assert_uint_eq(family_size(b, RX), 3);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_garbage)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "net-garbage");
	/* "12a4", "-5", "0x10", an overflow, junk text, a name with a blank, an empty name,
	 * an 80-character name, trailing junk and "1.5" are all skipped. */
	ck_assert_double_eq(val(b, RX, "eth4"), 18446744073709551615.0); /* UINT64_MAX */
	ck_assert_double_eq(val(b, RX, "eth5"), 1); /* the first of two eth5 lines */
	ck_assert_double_eq(val(b, TX, "eth7"), 9); /* tab separated */
	ck_assert_uint_eq(family_size(b, RX), 3);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_empty_file)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "net-empty");
	ck_assert_uint_eq(b->nfamilies, 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_no_header)
{
	harness h;
	cobs_batch *b = collect_hostile(&h, "net-noheader");
	ck_assert_double_eq(val(b, RX, "eth0"), 1000);
	ck_assert_double_eq(val(b, TX, "eth0"), 2000);
	ck_assert_uint_eq(family_size(b, RX), 1); /* lo is there, and excluded */
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_binary_and_random_bytes)
{
	tmp_proc t;
	tmp_proc_init(&t, NULL);
	static const char nul_name[] = "  et\0h0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	                               "  \xff\xfe: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
	                               "  eth1: 1 2 3 4 5 6 7 8\0 10 11 12 13 14 15 16\n"
	                               "  eth2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
	tmp_write(&t, nul_name, sizeof(nul_name) - 1);
	harness h;
	open_net(&h, t.root, (const char *const[]){"exclude", "", NULL});
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	/* NUL in a name or a counter skips the line; a name of high bytes is a name. */
	ck_assert_int_eq(has(b, RX, "et"), 0);
	ck_assert_int_eq(has(b, RX, "eth1"), 0);
	ck_assert_int_eq(has(b, RX, "eth2"), 1);
	ck_assert_int_eq(has(b, RX, "\xff\xfe"), 1);
	ck_assert_uint_eq(family_size(b, RX), 2);

	/* Random lines from the characters that matter: never a crash, never a read past
	 * the end (the sanitizer build checks), always a successful collection. */
	static const char alphabet[] = "0123456789 :\n\t|abc\0-.x\xff";
	char buf[4096];
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)(seed >> 33) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			buf[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		tmp_write(&t, buf, len);
		ck_assert_int_eq(harness_collect_at(&h, b, 2000000000u + (uint64_t)round), 0);
	}
	cobs_batch_free(b);
	harness_close(&h);
	tmp_proc_free(&t);
}
END_TEST

START_TEST(init_fails_without_the_file)
{
	harness h;
	ck_assert_int_eq(
	        harness_open(&h, COBS_PLUGIN_COLLECTOR, "net", "/nonexistent/proc", NO_SYS, NULL),
	        -1);
	ck_assert_msg(strstr(h.err.msg, "plugin 'net'") && strstr(h.err.msg, "net/dev") &&
	                      strstr(h.err.msg, "No such file"),
	              "%s", h.err.msg);
	harness_close(&h);
}
END_TEST

START_TEST(bad_pattern_is_refused_naming_the_key)
{
	harness h;
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "net", fx("nodes/small-vm/proc"),
	                              NO_SYS, (const char *const[]){"include", "eth[0", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "test.ini:2") && strstr(h.err.msg, "[plugin.net]") &&
	                      strstr(h.err.msg, "key 'include'") && strstr(h.err.msg, "eth[0"),
	              "%s", h.err.msg);
	harness_close(&h);

	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "net", fx("nodes/small-vm/proc"),
	                              NO_SYS,
	                              (const char *const[]){"include", "eth*", "exclude",
	                                                    "lo veth\\", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "test.ini:3") && strstr(h.err.msg, "key 'exclude'"), "%s",
	              h.err.msg);
	harness_close(&h);

	/* Bracket expressions that are whole are fine. */
	ck_assert_uint_eq(
	        count_with((const char *const[]){"include", "e[!t]*,[[:alpha:]]th[]0]", NULL}), 5);
}
END_TEST

/* The fd this process has open on path, or -1. */
static int fd_of(const char *path)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int found = -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		char link[300], target[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

START_TEST(collect_fails_when_the_file_is_unreadable_then_recovers)
{
	tmp_proc t;
	tmp_proc_init(&t, fx("nodes/small-vm/proc/net/dev"));
	harness h;
	open_net(&h, t.root, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);

	/* Make the kept-open fd unreadable (a directory answers EISDIR to pread) and
	 * remove the file, so the plugin's one reopen fails too. */
	int fd = fd_of(t.file);
	ck_assert_int_ge(fd, 0);
	int dirfd = open(t.root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	ck_assert_int_eq(dup2(dirfd, fd), fd);
	close(dirfd);
	ck_assert_int_eq(unlink(t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 2000000000u), -1);

	/* The file is back: the next collection reopens it. */
	ck_assert_int_eq(fixture_put(fx("nodes/small-vm/proc/net/dev"), t.file), 0);
	ck_assert_int_eq(harness_collect_at(&h, b, 3000000000u), 0);
	ck_assert_double_eq(val(b, RX, "eth0"), 1523402811);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_proc_free(&t);
}
END_TEST

typedef struct seen_dev {
	char name[64];
	unsigned long long rx;
} seen_dev;

START_TEST(real_proc_counters_only_grow)
{
	harness h;
	open_net(&h, NULL, (const char *const[]){"exclude", "", NULL});

	/* Read /proc/net/dev here, just before the plugin does. */
	seen_dev devs[256];
	size_t n = 0;
	FILE *f = fopen("/proc/net/dev", "r");
	ck_assert_ptr_nonnull(f);
	char line[1024];
	while (n < 256 && fgets(line, sizeof(line), f)) {
		char *colon = strrchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *name = line + strspn(line, " ");
		snprintf(devs[n].name, sizeof(devs[n].name), "%s", name);
		ck_assert_int_eq(sscanf(colon + 1, "%llu", &devs[n].rx), 1);
		n++;
	}
	fclose(f);
	ck_assert_uint_gt(n, 0); /* lo at least */

	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	for (size_t i = 0; i < n; i++) {
		double v = val(b, RX, devs[i].name);
		ck_assert_msg(v >= (double)devs[i].rx, "%s: plugin %.0f < test %llu", devs[i].name,
		              v, devs[i].rx);
	}
	ck_assert_uint_eq(family_size(b, RX), n);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("fixtures");
	tcase_add_test(tc, small_vm_exact_counters);
	tcase_add_test(tc, small_vm_rates);
	tcase_add_test(tc, many_core_interfaces);
	tcase_add_test(tc, many_core_reset_wrap_appear_disappear);
	tcase_add_test(tc, include_exclude_patterns);
	tcase_add_test(tc, environment_overrides_config);
	tcase_add_test(tc, old_kernel_no_blank_after_colon);
	tcase_add_test(tc, new_kernel_names);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("hostile");
	tcase_add_test(th, hostile_truncated);
	tcase_add_test(th, hostile_missing_and_extra_fields);
	tcase_add_test(th, hostile_garbage);
	tcase_add_test(th, hostile_empty_file);
	tcase_add_test(th, hostile_no_header);
	tcase_add_test(th, hostile_binary_and_random_bytes);
	suite_add_tcase(s, th);
	TCase *te = tcase_create("errors");
	tcase_add_test(te, init_fails_without_the_file);
	tcase_add_test(te, bad_pattern_is_refused_naming_the_key);
	tcase_add_test(te, collect_fails_when_the_file_is_unreadable_then_recovers);
	suite_add_tcase(s, te);
	TCase *tr = tcase_create("real");
	tcase_add_test(tr, real_proc_counters_only_grow);
	suite_add_tcase(s, tr);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
