/*
 * The sim plugin (cobs-agent --simulate): every collection is the next fake
 * node's batch under that node's name; across passes counters never
 * decrease and grow as the time between the node's batches allows, every
 * derived rate is its counter's delta over that time; busy nodes are busy,
 * hostile comms are there, processes come and go, the flapping node skips
 * passes and comes back with its counters intact, and a seed fixes it all.
 * Times are handed to the plugin, never waited for.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define S(x)      ((uint64_t)(x)*1000000000u)
#define T0        S(1000)
#define INTERVAL  S(5)
#define MAX_NODES 12

/* ---- a batch as a sorted table of "name{l=v,...}" -> value ---- */

typedef struct entry {
	char *key;
	double v;
	int type;
} entry;

typedef struct snap {
	entry *e;
	size_t n;
	uint64_t mono;
	char node[64];
} snap;

static void snap_free(snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].key);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* "name{a=1,b=2,}" into buf; the labels of s, in their order. */
static void key_of(char *buf, size_t len, const char *name, const cobs_sample *s)
{
	size_t o = (size_t)snprintf(buf, len, "%s{", name);
	for (size_t i = 0; i < s->nlabels && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s=%s,", s->labels[i].name,
		                      s->labels[i].value);
	if (o < len)
		snprintf(buf + o, len - o, "}");
}

static void snap_take(snap *s, const cobs_batch *b)
{
	snap_free(s);
	size_t n = cobs_batch_samples(b), k = 0;
	s->e = calloc(n ? n : 1, sizeof(*s->e));
	ck_assert_ptr_nonnull(s->e);
	for (size_t f = 0; f < b->nfamilies; f++)
		for (size_t i = 0; i < b->families[f]->nsamples; i++) {
			char key[1024];
			key_of(key, sizeof(key), b->families[f]->name, &b->families[f]->samples[i]);
			s->e[k] = (entry){strdup(key), b->families[f]->samples[i].value,
			                  (int)b->families[f]->type};
			ck_assert_ptr_nonnull(s->e[k].key);
			k++;
		}
	s->n = k;
	s->mono = b->monotonic_ns;
	snprintf(s->node, sizeof(s->node), "%s", b->node);
	qsort(s->e, s->n, sizeof(*s->e), by_key);
	for (size_t i = 1; i < s->n; i++)
		ck_assert_msg(strcmp(s->e[i - 1].key, s->e[i].key) != 0, "series twice: %s",
		              s->e[i].key);
}

static const entry *find(const snap *s, const char *key)
{
	entry k = {.key = (char *)key};
	return bsearch(&k, s->e, s->n, sizeof(*s->e), by_key);
}

static double get(const snap *s, const char *key)
{
	const entry *e = find(s, key);
	ck_assert_msg(e != NULL, "%s: no series %s", s->node, key);
	return e->v;
}

static void assert_near(double got, double want, const char *what)
{
	double tol = 1e-6 * fmax(1.0, fabs(want));
	ck_assert_msg(fabs(got - want) <= tol, "%s: %.9g, expected %.9g", what, got, want);
}

/* key with name's family prefix swapped: "process_cpu_usage_percent{...}" -> other{...}. */
static void swap_name(char *out, size_t len, const char *key, const char *other, const char *tail)
{
	const char *brace = strchr(key, '{');
	size_t inner = strlen(brace + 1) - 1; /* without the closing brace */
	snprintf(out, len, "%s{%.*s%s}", other, (int)inner, brace + 1, tail ? tail : "");
}

/* ---- the checks across two batches of one node ---- */

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Counters: never down. Node CPUs: exactly the elapsed time across modes. */
static void check_counters(const snap *prev, const snap *cur, double dt)
{
	for (size_t i = 0; i < cur->n; i++) {
		const entry *c = &cur->e[i], *p = find(prev, c->key);
		if (c->type == COBS_COUNTER && p)
			ck_assert_msg(c->v >= p->v, "%s: counter %s went down: %.17g -> %.17g",
			              cur->node, c->key, p->v, c->v);
	}
	static const char *const modes[] = {"user",   "nice", "system",  "idle",
	                                    "iowait", "irq",  "softirq", "steal"};
	for (int cpu = 0; cpu < 2; cpu++) {
		double sum = 0;
		for (int m = 0; m < 8; m++) {
			char key[128];
			snprintf(key, sizeof(key), "node_cpu_seconds_total{cpu=%d,mode=%s,}", cpu,
			         modes[m]);
			sum += get(cur, key) - get(prev, key);
		}
		/* Whole ticks of 10 ms: within one tick of the elapsed time. */
		ck_assert_msg(fabs(sum - dt) <= 0.0100001, "%s cpu %d: %.4f s of CPU in %.4f s",
		              cur->node, cpu, sum, dt);
	}
}

static double delta(const snap *prev, const snap *cur, const char *key)
{
	return get(cur, key) - get(prev, key);
}

/* Every rate is its counter's delta over the time between the two batches. */
static size_t check_rates(const snap *prev, const snap *cur, double dt)
{
	size_t checked = 0;
	char a[1100], b[1100];
	for (size_t i = 0; i < cur->n; i++) {
		const char *k = cur->e[i].key;
		double v = cur->e[i].v;
		if (starts(k, "process_cpu_usage_percent{")) {
			swap_name(a, sizeof(a), k, "process_cpu_seconds_total", "mode=user,");
			swap_name(b, sizeof(b), k, "process_cpu_seconds_total", "mode=system,");
			if (!find(prev, a))
				continue; /* a new process: it has a rate only if it had a batch */
			assert_near(v, 100.0 * (delta(prev, cur, a) + delta(prev, cur, b)) / dt, k);
		} else if (starts(k, "process_io_read_bytes_per_second{")) {
			swap_name(a, sizeof(a), k, "process_io_read_bytes_total", NULL);
			if (!find(prev, a))
				continue;
			assert_near(v, delta(prev, cur, a) / dt, k);
		} else if (starts(k, "node_network_receive_bytes_per_second{")) {
			swap_name(a, sizeof(a), k, "node_network_receive_bytes_total", NULL);
			assert_near(v, delta(prev, cur, a) / dt, k);
		} else if (starts(k, "node_disk_written_bytes_per_second{")) {
			swap_name(a, sizeof(a), k, "node_disk_written_bytes_total", NULL);
			assert_near(v, delta(prev, cur, a) / dt, k);
		} else if (starts(k, "node_cpu_usage_percent{cpu=0,")) {
			double total = 0, idle = 0;
			static const char *const modes[] = {"user",   "nice", "system",  "idle",
			                                    "iowait", "irq",  "softirq", "steal"};
			for (int m = 0; m < 8; m++) {
				snprintf(a, sizeof(a), "node_cpu_seconds_total{cpu=0,mode=%s,}",
				         modes[m]);
				double d = delta(prev, cur, a);
				total += d;
				idle += m == 3 || m == 4 ? d : 0;
			}
			assert_near(v, 100.0 * (total - idle) / total, k);
		} else {
			continue;
		}
		checked++;
	}
	return checked;
}

/* ---- running the plugin ---- */

static harness h;
static cobs_batch *batch;

static void open_sim(const char *const *kv)
{
	ck_assert_msg(harness_open(&h, COBS_PLUGIN_COLLECTOR, "sim", NULL, NULL, kv) == 0, "%s",
	              h.err.msg);
	batch = cobs_batch_new();
	ck_assert_ptr_nonnull(batch);
}

static void close_sim(void)
{
	harness_close(&h);
	cobs_batch_free(batch);
}

/* Node i's batch of pass p: nodes spread over the interval as --simulate spreads them. */
static int collect(size_t nodes, size_t p, size_t i)
{
	uint64_t t = T0 + p * INTERVAL + i * INTERVAL / nodes;
	int rc = harness_collect_at(&h, batch, t);
	ck_assert_int_eq(rc, 0);
	return (int)cobs_batch_samples(batch);
}

START_TEST(counters_and_rates_hold_across_passes)
{
	const char *kv[] = {"nodes", "3",  "pods",     "6", "processes", "40",
	                    "churn", "10", "flapping", "0", NULL};
	open_sim(kv);
	snap prev[3] = {0}, cur = {0};
	size_t rates = 0, compared = 0;
	for (size_t p = 0; p < 12; p++)
		for (size_t i = 0; i < 3; i++) {
			ck_assert_int_gt(collect(3, p, i), 0);
			snap_take(&cur, batch);
			if (prev[i].n) {
				ck_assert_str_eq(prev[i].node, cur.node);
				double dt = (double)(cur.mono - prev[i].mono) / 1e9;
				check_counters(&prev[i], &cur, dt);
				rates += check_rates(&prev[i], &cur, dt);
				compared++;
			}
			snap tmp = prev[i];
			prev[i] = cur;
			cur = tmp;
		}
	ck_assert_uint_eq(compared, 33);
	/* Processes, CPUs, devices: thousands of rates checked, not a lucky few. */
	ck_assert_uint_gt(rates, 1000);
	for (size_t i = 0; i < 3; i++)
		snap_free(&prev[i]);
	snap_free(&cur);
	close_sim();
}
END_TEST

START_TEST(distinct_names_hostile_comms_busy_nodes)
{
	const char *kv[] = {"nodes", "12", "pods", "4", "processes", "20", "busy", "10", NULL};
	open_sim(kv);
	char names[MAX_NODES][64];
	double busy[MAX_NODES];
	for (size_t p = 0; p < 3; p++)
		for (size_t i = 0; i < 12; i++) {
			collect(12, p, i);
			char want[32];
			snprintf(want, sizeof(want), "sim-node-%04zu", i + 1);
			ck_assert_str_eq(batch->node, want);
			snprintf(names[i], sizeof(names[i]), "%s", batch->node);
			ck_assert_int_eq(sample_value(batch, "process_info", &busy[i], "comm",
			                              "<img src=x onerror=alert(1)>", NULL),
			                 1);
			ck_assert_int_eq(sample_value(batch, "process_cpu_seconds_total", &busy[i],
			                              "comm", "a) (b", "mode", "user", NULL),
			                 1);
			ck_assert_int_eq(sample_value(batch, "process_info", &busy[i], "comm",
			                              "q\"uote\\back slash", NULL),
			                 1);
			if (p == 2)
				ck_assert_int_eq(sample_value(batch, "node_cpu_usage_percent",
				                              &busy[i], "cpu", "total", NULL),
				                 1);
		}
	for (size_t i = 0; i < 12; i++)
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(names[i], names[j]);
	/* busy = 10: the second node of every ten. */
	ck_assert_msg(busy[1] > 75 && busy[11] > 75, "busy nodes at %.1f %% and %.1f %%", busy[1],
	              busy[11]);
	for (size_t i = 0; i < 12; i++)
		if (i != 1 && i != 11)
			ck_assert_msg(busy[i] < 60, "node %zu at %.1f %%", i + 1, busy[i]);
	close_sim();
}
END_TEST

/* The pids of a batch (process_info's first label), at most 64. */
static size_t pids_of(const cobs_batch *b, char pids[][16])
{
	const cobs_family *f = cobs_batch_find(b, "process_info");
	size_t n = 0;
	for (size_t i = 0; f && i < f->nsamples && n < 64; i++)
		snprintf(pids[n++], 16, "%s", f->samples[i].labels[0].value);
	return n;
}

static int has_pid(char pids[][16], size_t n, const char *pid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pids[i], pid) == 0)
			return 1;
	return 0;
}

START_TEST(processes_come_and_go)
{
	const char *kv[] = {"nodes", "1", "pods", "4", "processes", "50", "churn", "10", NULL};
	open_sim(kv);
	char before[64][16], after[64][16];
	collect(1, 0, 0);
	size_t nb = pids_of(batch, before), gone = 0, fresh = 0;
	for (size_t p = 1; p < 4; p++) {
		collect(1, p, 0);
		size_t na = pids_of(batch, after);
		ck_assert_uint_eq(na, 50);
		for (size_t i = 0; i < na; i++) {
			if (has_pid(before, nb, after[i]))
				continue;
			/* A process in its first batch has counters but no rate yet. */
			double v;
			ck_assert_int_eq(sample_value(batch, "process_cpu_usage_percent", &v, "pid",
			                              after[i], NULL),
			                 0);
			ck_assert_int_eq(sample_value(batch, "process_minor_faults_total", &v,
			                              "pid", after[i], NULL),
			                 1);
			fresh++;
		}
		for (size_t i = 0; i < nb; i++)
			gone += !has_pid(after, na, before[i]);
		memcpy(before, after, sizeof(before));
		nb = na;
	}
	/* 10 % of 50 every pass: new PIDs appear, old ones are gone, as many. */
	ck_assert_uint_gt(fresh, 5);
	ck_assert_uint_eq(gone, fresh);
	close_sim();
}
END_TEST

START_TEST(flapping_node_skips_passes_and_comes_back)
{
	const char *kv[] = {"nodes",       "3",   "pods",      "2",  "processes", "20",
	                    "flap_period", "20s", "flap_down", "8s", NULL};
	open_sim(kv);
	snap last = {0}, cur = {0};
	int silent = 0, back = 0, was_silent = 0;
	for (size_t p = 0; p < 8; p++)
		for (size_t i = 0; i < 3; i++) {
			int n = collect(3, p, i);
			if (i < 2) {
				ck_assert_int_gt(n, 0); /* the steady ones never skip */
				continue;
			}
			ck_assert_str_eq(batch->node, "sim-node-0003");
			/* Node 3 at 3.33 s into each 5 s pass: silent from 12 s of every 20 s. */
			double phase = fmod((double)p * 5 + 10.0 / 3, 20);
			if (phase >= 12) {
				ck_assert_int_eq(n, 0);
				silent++;
				was_silent = 1;
				continue;
			}
			ck_assert_int_gt(n, 0);
			snap_take(&cur, batch);
			if (was_silent) {
				/* Back after the gap: counters went on, rates cover the gap. */
				double dt = (double)(cur.mono - last.mono) / 1e9;
				ck_assert(dt > 14.9);
				check_counters(&last, &cur, dt);
				ck_assert_uint_gt(check_rates(&last, &cur, dt), 10);
				back++;
				was_silent = 0;
			}
			snap tmp = last;
			last = cur;
			cur = tmp;
		}
	ck_assert_int_eq(silent, 4);
	ck_assert_int_eq(back, 1);
	snap_free(&last);
	snap_free(&cur);
	close_sim();
}
END_TEST

START_TEST(a_seed_fixes_everything)
{
	const char *a[] = {"nodes", "2", "pods", "3", "processes", "20", "seed", "7", NULL};
	const char *c[] = {"nodes", "2", "pods", "3", "processes", "20", "seed", "8", NULL};
	snap s1 = {0}, s2 = {0}, s3 = {0};
	for (int run = 0; run < 3; run++) {
		open_sim(run == 2 ? c : a);
		collect(2, 0, 0);
		collect(2, 0, 1);
		collect(2, 1, 0);
		snap_take(run == 0 ? &s1 : run == 1 ? &s2 : &s3, batch);
		close_sim();
	}
	ck_assert_uint_eq(s1.n, s2.n);
	for (size_t i = 0; i < s1.n; i++) {
		ck_assert_str_eq(s1.e[i].key, s2.e[i].key);
		ck_assert_msg(s1.e[i].v == s2.e[i].v, "%s differs", s1.e[i].key);
	}
	size_t same = 0;
	for (size_t i = 0; i < s3.n; i++) {
		const entry *e = find(&s1, s3.e[i].key);
		same += e && e->v == s3.e[i].v;
	}
	ck_assert_uint_lt(same, s3.n / 2);
	snap_free(&s1);
	snap_free(&s2);
	snap_free(&s3);
}
END_TEST

START_TEST(a_default_node_is_ten_thousand_samples)
{
	open_sim((const char *[]){"nodes", "1", NULL});
	collect(1, 0, 0);
	int n = collect(1, 1, 0);
	/* 50 pods, ~100 containers, 300 processes: the node the ingest target is set for. */
	ck_assert_msg(n > 10000 && n < 11500, "%d samples", n);
	ck_assert_uint_eq(family_size(batch, "cobs_pod_info"), 50);
	ck_assert_uint_eq(family_size(batch, "process_info"), 300);
	close_sim();
}
END_TEST

START_TEST(bad_settings_are_refused)
{
	static const char *const bad[][3] = {
	        {"processes", "3", "processes"}, {"flap_down", "60s", "flap_down"},
	        {"prefix", "a b", "prefix"},     {"nodes", "0", "nodes"},
	        {"busy", "101", "busy"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kv[] = {bad[i][0], bad[i][1], NULL};
		ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "sim", NULL, NULL, kv),
		                 -1);
		ck_assert_msg(strstr(h.err.msg, bad[i][2]) != NULL, "%s", h.err.msg);
		harness_close(&h);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sim");
	TCase *t = tcase_create("core");
	tcase_add_test(t, counters_and_rates_hold_across_passes);
	tcase_add_test(t, distinct_names_hostile_comms_busy_nodes);
	tcase_add_test(t, processes_come_and_go);
	tcase_add_test(t, flapping_node_skips_passes_and_comes_back);
	tcase_add_test(t, a_seed_fixes_everything);
	tcase_add_test(t, a_default_node_is_ten_thousand_samples);
	tcase_add_test(t, bad_settings_are_refused);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
