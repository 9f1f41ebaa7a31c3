/*
 * cobs-server's state in-process, on a fake clock: latest values replaced
 * family by family, admission (duplicates, agent restarts, a late spool of
 * an earlier boot), liveness, history through the store, the sweep, and the
 * /metrics rendering (node label, exported_node, HELP/TYPE once), a
 * collection sent in parts. Also the hash index under churn against a
 * reference.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hmap.h"
#include "metrics.h"
#include "settings.h"
#include "state.h"
#include "stats.h"

#define T0 1700000000000LL /* agent wall clock of the first batch */

static cobs_state *new_state(void)
{
	cobs_state_config c = {
	        .stale_after = 2, .down_after = 5, .history = {.retention_ms = 3600000}};
	cobs_state *s = cobs_state_new(&c);
	ck_assert_ptr_nonnull(s);
	return s;
}

static cobs_wire_meta meta(const char *node, const char *boot, uint64_t seq)
{
	cobs_wire_meta m = {.sequence = seq, .interval_ms = 1000};
	snprintf(m.node, sizeof(m.node), "%s", node);
	snprintf(m.agent_version, sizeof(m.agent_version), "1.2.3");
	snprintf(m.boot_id, sizeof(m.boot_id), "%s", boot);
	return m;
}

/* A batch: cpu{mode=user} u, cpu{mode=idle} i (when i >= 0), load l. */
static cobs_batch *batch(int64_t ts, double u, double i, double l)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->timestamp_ms = ts;
	cobs_family *cpu = cobs_batch_family(b, "node_cpu_seconds_total", "CPU time.", "seconds",
	                                     COBS_COUNTER);
	ck_assert_int_eq(cobs_family_add2(b, cpu, u, "cpu", "0", "mode", "user"), 0);
	if (i >= 0)
		ck_assert_int_eq(cobs_family_add2(b, cpu, i, "cpu", "0", "mode", "idle"), 0);
	if (l >= 0) {
		cobs_family *load = cobs_batch_family(b, "node_load1", "Load.", "", COBS_GAUGE);
		ck_assert_int_eq(cobs_family_add0(b, load, l), 0);
	}
	return b;
}

static int apply(cobs_state *s, const char *node, const char *boot, uint64_t seq, cobs_batch *b,
                 uint64_t now)
{
	cobs_wire_meta m = meta(node, boot, seq);
	cobs_apply_result res;
	cobs_error err;
	ck_assert_int_eq(cobs_state_apply(s, &m, b, now, T0 + (int64_t)now, &res, &err), 0);
	cobs_batch_free(b);
	return (int)res.verdict;
}

/* The latest value of family name with label (lname=lval) (NULL: the first series). */
static int latest(const cobs_state *s, const char *node, const char *name, const char *lname,
                  const char *lval, double *v)
{
	const cobs_node *n = cobs_state_node_find(s, node);
	const cobs_state_family *f = n ? cobs_state_family_find(n, name) : NULL;
	if (!f)
		return 0;
	for (size_t i = 0; i < f->nseries; i++) {
		const cobs_labelset *ls = f->series[i].labels;
		for (size_t j = 0; j < ls->n || (!lname && j == 0); j++) {
			if (!lname || (strcmp(ls->labels[j].name, lname) == 0 &&
			               strcmp(ls->labels[j].value, lval) == 0)) {
				*v = f->series[i].value;
				return 1;
			}
		}
	}
	return 0;
}

static int64_t history_len(cobs_state *s, const char *node, const char *family,
                           const char *const *labels)
{
	char key[1024];
	size_t len = cobs_hist_key(key, sizeof(key), node, family, labels);
	cobs_hist_point pts[64];
	return cobs_state_history(s, key, len, 0, INT64_MAX, pts, 64);
}

START_TEST(batch_values_and_per_family_replacement)
{
	cobs_state *s = new_state();
	ck_assert_int_eq(apply(s, "n1", "A", 1, batch(T0, 10, 90, 0.5), 1000), COBS_ADMIT_CURRENT);
	double v;
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 10);
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "idle", &v) && v == 90);
	ck_assert(latest(s, "n1", "node_load1", NULL, NULL, &v) && v == 0.5);
	const cobs_node *n = cobs_state_node_find(s, "n1");
	const cobs_state_family *f = cobs_state_family_find(n, "node_cpu_seconds_total");
	ck_assert_str_eq(f->help, "CPU time.");
	ck_assert_str_eq(f->unit, "seconds");
	ck_assert_int_eq(f->type, COBS_COUNTER);
	ck_assert_int_eq(f->timestamp_ms, T0);
	ck_assert_uint_eq(cobs_state_node_samples(n), 3);

	/* a batch with the cpu family only: idle vanished from it, load is untouched */
	ck_assert_int_eq(apply(s, "n1", "A", 2, batch(T0 + 1000, 11, -1, -1), 2000),
	                 COBS_ADMIT_CURRENT);
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 11);
	ck_assert(!latest(s, "n1", "node_cpu_seconds_total", "mode", "idle", &v));
	ck_assert(latest(s, "n1", "node_load1", NULL, NULL, &v) && v == 0.5);
	ck_assert_str_eq(n->agent_version, "1.2.3");
	ck_assert_uint_eq(n->boot.last_sequence, 2);
	ck_assert_uint_eq(n->batches, 2);
	cobs_state_free(s);
}
END_TEST

START_TEST(duplicates_are_not_applied)
{
	cobs_state *s = new_state();
	ck_assert_int_eq(apply(s, "n1", "A", 1, batch(T0, 10, 90, 0.5), 1000), COBS_ADMIT_CURRENT);
	ck_assert_int_eq(apply(s, "n1", "A", 2, batch(T0 + 1000, 20, 90, 0.5), 2000),
	                 COBS_ADMIT_CURRENT);
	/* the resend of batch 1 (with other values, to see it is not applied) */
	ck_assert_int_eq(apply(s, "n1", "A", 1, batch(T0, 99, 99, 9), 2500), COBS_ADMIT_DUPLICATE);
	ck_assert_int_eq(apply(s, "n1", "A", 2, batch(T0 + 1000, 99, 99, 9), 2600),
	                 COBS_ADMIT_DUPLICATE);
	double v;
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 20);
	const cobs_node *n = cobs_state_node_find(s, "n1");
	ck_assert_uint_eq(n->duplicates, 2);
	ck_assert_uint_eq(n->batches, 2);
	const char *user[] = {"cpu", "0", "mode", "user", NULL};
	ck_assert_int_eq(history_len(s, "n1", "node_cpu_seconds_total", user), 2);
	/* a gap is counted as missed, then applied */
	ck_assert_int_eq(apply(s, "n1", "A", 5, batch(T0 + 2000, 30, 90, 0.5), 3000),
	                 COBS_ADMIT_CURRENT);
	ck_assert_uint_eq(n->missed, 2);
	/* sequence 0: an agent that does not number batches is never deduplicated */
	ck_assert_int_eq(apply(s, "n2", "B", 0, batch(T0, 1, 1, 1), 1000), COBS_ADMIT_CURRENT);
	ck_assert_int_eq(apply(s, "n2", "B", 0, batch(T0 + 1000, 2, 1, 1), 2000),
	                 COBS_ADMIT_CURRENT);
	cobs_state_free(s);
}
END_TEST

START_TEST(restart_keeps_history_and_late_spool_is_history_only)
{
	cobs_state *s = new_state();
	for (uint64_t i = 1; i <= 3; i++)
		ck_assert_int_eq(apply(s, "n1", "A", i,
		                       batch(T0 + (int64_t)i * 1000, (double)i, 5, 1), i * 1000),
		                 COBS_ADMIT_CURRENT);
	const char *user[] = {"cpu", "0", "mode", "user", NULL};
	ck_assert_int_eq(history_len(s, "n1", "node_cpu_seconds_total", user), 3);
	/* the agent restarts: new boot id, sequence from 1 */
	ck_assert_int_eq(apply(s, "n1", "B", 1, batch(T0 + 10000, 0.5, 5, 1), 10000),
	                 COBS_ADMIT_RESTART);
	ck_assert_int_eq(history_len(s, "n1", "node_cpu_seconds_total", user), 4);
	double v;
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 0.5);
	const cobs_node *n = cobs_state_node_find(s, "n1");
	ck_assert_uint_eq(n->restarts, 1);
	ck_assert_str_eq(n->boot.boot_id, "B");
	/* boot A's batch 2 again: a duplicate of the earlier boot */
	ck_assert_int_eq(apply(s, "n1", "A", 2, batch(T0 + 2000, 42, 5, 1), 10500),
	                 COBS_ADMIT_DUPLICATE);
	/* boot A's spool, batch 4 (never seen): history only, the latest stays B's */
	ck_assert_int_eq(apply(s, "n1", "A", 4, batch(T0 + 4000, 4, 5, 1), 10600), COBS_ADMIT_PAST);
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 0.5);
	/* an unknown boot with older data than the current one is a past boot too */
	ck_assert_int_eq(apply(s, "n1", "Z", 7, batch(T0 + 500, 77, 5, 1), 10700), COBS_ADMIT_PAST);
	ck_assert_str_eq(n->boot.boot_id, "B");
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v) && v == 0.5);
	cobs_state_free(s);
}
END_TEST

START_TEST(liveness_follows_the_interval)
{
	cobs_state *s = new_state();
	apply(s, "n1", "A", 1, batch(T0, 1, 1, 1), 10000);
	const cobs_node *n = cobs_state_node_find(s, "n1");
	/* interval 1 s: stale past 2 s, down past 5 s */
	ck_assert_int_eq(cobs_state_liveness(s, n, 10000), COBS_NODE_UP);
	ck_assert_int_eq(cobs_state_liveness(s, n, 12000), COBS_NODE_UP);
	ck_assert_int_eq(cobs_state_liveness(s, n, 12001), COBS_NODE_STALE);
	ck_assert_int_eq(cobs_state_liveness(s, n, 15000), COBS_NODE_STALE);
	ck_assert_int_eq(cobs_state_liveness(s, n, 15001), COBS_NODE_DOWN);
	apply(s, "n1", "A", 2, batch(T0 + 1000, 1, 1, 1), 16000);
	ck_assert_int_eq(cobs_state_liveness(s, n, 16500), COBS_NODE_UP);
	/* a resend is a sign of life too: the agent is running */
	apply(s, "n1", "A", 2, batch(T0 + 1000, 1, 1, 1), 20000);
	ck_assert_int_eq(cobs_state_liveness(s, n, 20000), COBS_NODE_UP);
	ck_assert_int_eq(cobs_state_liveness(s, n, 25001), COBS_NODE_DOWN);
	cobs_state_free(s);
}
END_TEST

START_TEST(sweep_drops_families_a_node_stopped_sending)
{
	cobs_state *s = new_state();
	apply(s, "n1", "A", 1, batch(T0, 1, 1, 1), 1000);
	/* load1 stops; the cpu family keeps coming for more than 5 intervals */
	for (uint64_t i = 2; i <= 8; i++)
		apply(s, "n1", "A", i, batch(T0 + (int64_t)i * 1000, 1, 1, -1), i * 1000);
	ck_assert_uint_eq(cobs_state_sweep(s, 8000, T0 + 8000), 1);
	double v;
	ck_assert(!latest(s, "n1", "node_load1", NULL, NULL, &v));
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v));
	/* a node that went silent keeps its last values */
	ck_assert_uint_eq(cobs_state_sweep(s, 100000, T0 + 100000), 0);
	ck_assert(latest(s, "n1", "node_cpu_seconds_total", "mode", "user", &v));
	cobs_state_free(s);
}
END_TEST

START_TEST(info_families_have_no_history_and_classes)
{
	cobs_state *s = new_state();
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = T0;
	cobs_family *info = cobs_batch_family(b, "kube_pod_info", "Pods.", "", COBS_INFO);
	cobs_family_add2(b, info, 1, "namespace", "ns", "pod", "p");
	cobs_family *proc =
	        cobs_batch_family(b, "process_resident_memory_bytes", "RSS.", "bytes", COBS_GAUGE);
	cobs_family_add1(b, proc, 4096, "pid", "1");
	apply(s, "n1", "A", 1, b, 1000);
	const char *pod[] = {"namespace", "ns", "pod", "p", NULL};
	const char *pid1[] = {"pid", "1", NULL};
	ck_assert_int_eq(history_len(s, "n1", "kube_pod_info", pod), COBS_HIST_ENOENT);
	ck_assert_int_eq(history_len(s, "n1", "process_resident_memory_bytes", pid1), 1);
	ck_assert_uint_eq(cobs_state_history_class("process_cpu_seconds_total"), 2);
	ck_assert_uint_eq(cobs_state_history_class("container_memory_rss"), 1);
	ck_assert_uint_eq(cobs_state_history_class("node_load1"), 0);
	/* the key of a live series finds the same history */
	const cobs_node *n = cobs_state_node_find(s, "n1");
	const cobs_state_family *f = cobs_state_family_find(n, "process_resident_memory_bytes");
	char key[256];
	size_t len = cobs_state_series_key(n, f, &f->series[0], key, sizeof(key));
	cobs_hist_point p[4];
	ck_assert_int_eq(cobs_state_history(s, key, len, 0, INT64_MAX, p, 4), 1);
	ck_assert_int_eq(p[0].t, T0);
	ck_assert(p[0].v == 4096);
	cobs_state_free(s);
}
END_TEST

/* node_load1 and process_resident_memory_bytes{pid} for nprocs processes. */
static cobs_batch *procs_batch(int64_t ts, int nprocs)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = ts;
	cobs_family *load = cobs_batch_family(b, "node_load1", "Load.", "", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add0(b, load, 1), 0);
	cobs_family *rss =
	        cobs_batch_family(b, "process_resident_memory_bytes", "RSS.", "bytes", COBS_GAUGE);
	for (int i = 0; i < nprocs; i++) {
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", i + 1);
		ck_assert_int_eq(cobs_family_add1(b, rss, (double)(ts % 100000) + i, "pid", pid),
		                 0);
	}
	return b;
}

/* One part of a collection: process_resident_memory_bytes of the pids in list (0-ended). */
static cobs_batch *part(int64_t ts, bool more, const int *pids)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = ts;
	b->more = more;
	cobs_family *rss =
	        cobs_batch_family(b, "process_resident_memory_bytes", "RSS.", "bytes", COBS_GAUGE);
	for (; *pids; pids++) {
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", *pids);
		ck_assert_int_eq(cobs_family_add1(b, rss, *pids, "pid", pid), 0);
	}
	if (!more) {
		cobs_family *load = cobs_batch_family(b, "node_load1", "Load.", "", COBS_GAUGE);
		ck_assert_int_eq(cobs_family_add0(b, load, 1), 0);
	}
	return b;
}

static size_t rss_series(const cobs_state *s)
{
	const cobs_state_family *f = cobs_state_family_find(cobs_state_node_find(s, "n1"),
	                                                    "process_resident_memory_bytes");
	return f ? f->nseries : 0;
}

static size_t summary_procs(const cobs_state *s)
{
	return cobs_summary_tables(cobs_state_summary(cobs_state_node_find(s, "n1")))->nprocs;
}

START_TEST(a_collection_in_parts_is_one_collection)
{
	cobs_state *s = new_state();
	double v;
	/* T0 in three parts: the second must not sweep the first's series */
	apply(s, "n1", "A", 1, part(T0, true, (int[]){1, 2, 3, 0}), 1000);
	apply(s, "n1", "A", 2, part(T0, true, (int[]){4, 5, 6, 0}), 1000);
	ck_assert_uint_eq(rss_series(s), 6);
	ck_assert_uint_eq(summary_procs(s), 0); /* tables wait for the whole collection */
	apply(s, "n1", "A", 3, part(T0, false, (int[]){0}), 1000);
	ck_assert_uint_eq(rss_series(s), 6);
	ck_assert_uint_eq(summary_procs(s), 6);

	/* T1: pids 3, 5 and 6 left; they stay until the last part, which does
	 * not carry the family at all, closes the collection */
	apply(s, "n1", "A", 4, part(T0 + 1000, true, (int[]){1, 2, 4, 0}), 2000);
	ck_assert_uint_eq(rss_series(s), 6);
	ck_assert(latest(s, "n1", "process_resident_memory_bytes", "pid", "5", &v) && v == 5);
	ck_assert_uint_eq(summary_procs(s), 6);
	apply(s, "n1", "A", 5, part(T0 + 1000, false, (int[]){0}), 2000);
	ck_assert_uint_eq(rss_series(s), 3);
	ck_assert(!latest(s, "n1", "process_resident_memory_bytes", "pid", "5", &v));
	ck_assert(latest(s, "n1", "process_resident_memory_bytes", "pid", "4", &v) && v == 4);
	ck_assert_uint_eq(summary_procs(s), 3);

	/* T2's last part is lost: T3's first part closes T2 (only pid 1 was
	 * seen) before opening its own */
	apply(s, "n1", "A", 6, part(T0 + 2000, true, (int[]){1, 0}), 3000);
	ck_assert_uint_eq(rss_series(s), 3);
	apply(s, "n1", "A", 8, part(T0 + 3000, true, (int[]){7, 0}), 4000);
	ck_assert_uint_eq(rss_series(s), 2);
	ck_assert(!latest(s, "n1", "process_resident_memory_bytes", "pid", "2", &v));
	/* series went mid-collection: the tables were rebuilt then, not left pointing at them */
	ck_assert_uint_eq(summary_procs(s), 2);
	apply(s, "n1", "A", 9, part(T0 + 3000, false, (int[]){8, 0}), 4000);
	ck_assert_uint_eq(rss_series(s), 2);
	ck_assert(latest(s, "n1", "process_resident_memory_bytes", "pid", "8", &v) && v == 8);
	ck_assert(!latest(s, "n1", "process_resident_memory_bytes", "pid", "1", &v));
	ck_assert_uint_eq(summary_procs(s), 2);

	/* whole batches (more never set) behave as before */
	apply(s, "n1", "A", 10, part(T0 + 4000, false, (int[]){9, 0}), 5000);
	ck_assert_uint_eq(rss_series(s), 1);
	ck_assert_uint_eq(summary_procs(s), 1);
	cobs_state_free(s);
}
END_TEST

START_TEST(a_full_history_budget_does_not_churn)
{
	enum { PROCS = 300, BATCHES = 60 };
	cobs_state_config c = {.stale_after = 2,
	                       .down_after = 5,
	                       .history = {.retention_ms = 3600000},
	                       .history_budget = 48 * 1024};
	cobs_state *s = cobs_state_new(&c);
	ck_assert_ptr_nonnull(s);
	for (int k = 0; k < BATCHES; k++)
		apply(s, "n1", "A", (uint64_t)k + 1, procs_batch(T0 + k * 5000, PROCS),
		      (uint64_t)k * 5000);
	cobs_hist_store_stats st;
	cobs_state_history_stats(s, &st);
	ck_assert_uint_le(st.bytes, c.history_budget);
	/* a series that lost its history stays without: each one was evicted at most once */
	ck_assert_uint_gt(st.evicted, 0);
	ck_assert_uint_le(st.evicted, PROCS);
	/* node series always keep theirs */
	ck_assert_int_eq(history_len(s, "n1", "node_load1", (const char *[]){NULL}), BATCHES);
	/* the processes with history have every point since theirs was opened */
	const cobs_node *n = cobs_state_node_find(s, "n1");
	const cobs_state_family *f = cobs_state_family_find(n, "process_resident_memory_bytes");
	ck_assert_uint_eq(f->nseries, PROCS);
	int with = 0, without = -1;
	for (int i = 0; i < PROCS; i++) {
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", i + 1);
		int64_t len = history_len(s, "n1", f->name, (const char *[]){"pid", pid, NULL});
		if (len > 0)
			with++;
		else if (without < 0)
			without = i;
	}
	ck_assert_int_gt(with, 0);
	ck_assert_int_ge(without, 0);
	/* a view wants one without: it has history from the next batch on, budget or not */
	cobs_state_history_want(s, f, &f->series[without]);
	apply(s, "n1", "A", BATCHES + 1, procs_batch(T0 + BATCHES * 5000, PROCS),
	      (uint64_t)BATCHES * 5000);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", without + 1);
	ck_assert_int_eq(history_len(s, "n1", f->name, (const char *[]){"pid", pid, NULL}), 1);
	cobs_state_free(s);
}
END_TEST

START_TEST(metrics_render_node_label_and_help_once)
{
	cobs_state *s = new_state();
	apply(s, "n1", "A", 1, batch(T0, 10, 90, 0.5), 1000);
	apply(s, "n2", "B", 1, batch(T0, 20, 80, 1.5), 1000);
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = T0;
	cobs_family *f = cobs_batch_family(b, "kube_pod_info", "Pods.", "", COBS_INFO);
	cobs_label l[] = {{"namespace", "ns"}, {"pod", "p\"q\\r\ns"}, {"node", "elsewhere"}};
	cobs_family_add(b, f, 1, l, 3);
	/* a family the server's own names shadow, and a type clash with n1 */
	f = cobs_batch_family(b, "cobs_server_nodes", "Fake.", "", COBS_GAUGE);
	cobs_family_add0(b, f, 42);
	f = cobs_batch_family(b, "node_load1", "Load as a counter.", "", COBS_COUNTER);
	cobs_family_add0(b, f, 7);
	apply(s, "n3", "C", 1, b, 1000);

	cobs_srv_stats st;
	memset(&st, 0, sizeof(st));
	cobs_stat_add(&st.ingest[COBS_INGEST_OK], 3);
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_metrics_render(s, &st, 1500, 1, &out), 0);
	const char *t = out.data;
	ck_assert_ptr_nonnull(strstr(t,
	                             "# HELP node_load1 Load.\n# TYPE node_load1 gauge\n"
	                             "node_load1{node=\"n1\"} 0.5\nnode_load1{node=\"n2\"} 1.5\n"));
	ck_assert_ptr_null(strstr(t, "node_load1{node=\"n3\"}"));
	ck_assert_ptr_nonnull(
	        strstr(t, "node_cpu_seconds_total{node=\"n2\",cpu=\"0\",mode=\"idle\"} 80\n"));
	ck_assert_ptr_nonnull(
	        strstr(t, "kube_pod_info{node=\"n3\",namespace=\"ns\",pod=\"p\\\"q\\\\r\\ns\","
	                  "exported_node=\"elsewhere\"} 1\n"));
	ck_assert_ptr_null(strstr(t, " 42\n"));
	char *p = strstr(t, "# TYPE node_load1 ");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "# TYPE node_load1 "));
	ck_assert_ptr_nonnull(strstr(t, "cobs_server_ingest_batches_total{result=\"ok\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "cobs_server_nodes{state=\"up\"} 3\n"));
	/* n1, n2: 3 each; n3: its shadowed cobs_server_nodes and its node_load1 (info: none) */
	ck_assert_ptr_nonnull(strstr(t, "cobs_server_history_points 8\n"));
	/* the server's own alone (GET /metrics/server) */
	cobs_buf_clear(&out);
	ck_assert_int_eq(cobs_metrics_render(s, &st, 1500, 0, &out), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "cobs_server_nodes{state=\"up\"} 3\n"));
	ck_assert_ptr_null(strstr(out.data, "node_load1"));
	ck_assert_ptr_null(strstr(out.data, "node_cpu_seconds_total"));
	ck_assert_ptr_nonnull(strstr(out.data, "cobs_server_node_last_seen_timestamp_seconds"));
	cobs_buf_free(&out);
	cobs_state_free(s);
}
END_TEST

static int u64_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	return *(const uint64_t *)val == *(const uint64_t *)key;
}

START_TEST(hmap_survives_churn)
{
	enum { N = 4096 };
	static uint64_t keys[N];
	static int present[N];
	cobs_hmap m = {0};
	unsigned seed = 7;
	for (int round = 0; round < 200000; round++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 8) % N);
		keys[i] = (uint64_t)i * 2654435761u;
		/* a weak hash on purpose: long probe runs exercise the backward shift */
		uint64_t h = keys[i] % 64;
		uintptr_t got = cobs_hmap_get(&m, h, u64_eq, &keys[i], NULL);
		ck_assert_int_eq(got != 0, present[i]);
		if (present[i]) {
			ck_assert_int_eq(cobs_hmap_del(&m, h, (uintptr_t)&keys[i]), 0);
			present[i] = 0;
		} else {
			ck_assert_int_eq(cobs_hmap_put(&m, h, (uintptr_t)&keys[i]), 0);
			present[i] = 1;
		}
	}
	size_t count = 0;
	for (int i = 0; i < N; i++)
		count += (size_t)present[i];
	ck_assert_uint_eq(m.n, count);
	cobs_hmap_free(&m);
}
END_TEST

/* Writes text to path and loads it as server.ini. */
static int load_text(const char *path, const char *text, cobs_srv_settings *st, cobs_error *err)
{
	ck_assert_int_eq(write_file(path, text), 0);
	return cobs_srv_settings_load(path, NULL, st, err);
}

START_TEST(settings_name_file_line_and_key)
{
	const char *dir = temp_dir();
	char path[256];
	snprintf(path, sizeof(path), "%s/server.ini", dir);
	cobs_srv_settings st;
	cobs_error err;
	ck_assert_int_eq(load_text(path, "[server]\nmax_batch_size = 1MiB\nbogus = 1\n", &st, &err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "server.ini:3"));
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown key 'bogus'"));
	ck_assert_int_eq(
	        load_text(path,
	                  "[server]\nstale_after = 3\ndown_after = 3\n[alerts]\nanything = goes\n",
	                  &st, &err),
	        -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "server.ini:3"));
	ck_assert_ptr_nonnull(strstr(err.msg, "down_after"));
	ck_assert_int_eq(load_text(path, "[server]\n[oops]\n", &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "server.ini:2"));
	ck_assert_ptr_nonnull(strstr(err.msg, "[oops]"));
	/* [ui]: live updates within bounds, the web files next to the binary by default */
	ck_assert_int_eq(load_text(path, "[ui]\n\nrefresh = 100ms\n", &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "server.ini:3"));
	ck_assert_ptr_nonnull(strstr(err.msg, "refresh"));
	ck_assert_int_eq(load_text(path, "[ui]\nrefresh = 0\n", &st, &err), 0);
	ck_assert_uint_eq(st.refresh_ms, 0);
	size_t wl = strlen(st.web_dir);
	ck_assert_ptr_null(st.ui_user);
	ck_assert_ptr_null(st.ui_token);
	ck_assert(wl > 15 && strcmp(st.web_dir + wl - 15, "/share/cobs/web") == 0);
	cobs_srv_settings_free(&st);
	/* the dashboard's credentials: a user goes with a password, names no ':' */
	ck_assert_int_eq(load_text(path, "[auth]\nui_user = admin\n", &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ui_password"));
	ck_assert_int_eq(load_text(path, "[auth]\nui_user = a:b\nui_password = x\n", &st, &err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "server.ini:2"));
	ck_assert_ptr_nonnull(strstr(err.msg, "ui_user"));
	ck_assert_int_eq(load_text(path, "[auth]\nui_token_file = /nonexistent/token\n", &st, &err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ui_token_file"));
	ck_assert_int_eq(load_text(path,
	                           "[auth]\nui_user = admin\nui_password = s3cret\nui_token = t\n",
	                           &st, &err),
	                 0);
	ck_assert_str_eq(st.ui_password, "s3cret");
	cobs_srv_settings_free(&st);
	/* the environment overrides, and names itself when wrong */
	setenv("COBS_SERVER_MAX_BATCH_SIZE", "2MiB", 1);
	setenv("COBS_AUTH_AGENT_TOKEN", "t0k", 1);
	ck_assert_int_eq(cobs_srv_settings_load(NULL, ":9", &st, &err), 0);
	ck_assert_uint_eq(st.max_batch_size, 2u << 20);
	ck_assert_str_eq(st.agent_token, "t0k");
	ck_assert_str_eq(st.listen, ":9");
	cobs_srv_settings_free(&st);
	setenv("COBS_SERVER_MAX_BATCH_SIZE", "lots", 1);
	ck_assert_int_eq(cobs_srv_settings_load(NULL, NULL, &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "environment COBS_SERVER_MAX_BATCH_SIZE"));
	unsetenv("COBS_SERVER_MAX_BATCH_SIZE");
	unsetenv("COBS_AUTH_AGENT_TOKEN");
	/* the shipped example is valid as it stands */
	ck_assert_int_eq(
	        cobs_srv_settings_load(COBS_SOURCE_DIR "/conf/server.ini", NULL, &st, &err), 0);
	ck_assert_str_eq(st.listen, COBS_SERVER_DEFAULT_LISTEN);
	ck_assert_ptr_null(st.agent_token);
	cobs_srv_settings_free(&st);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_state");
	TCase *tc = tcase_create("state");
	tcase_add_test(tc, batch_values_and_per_family_replacement);
	tcase_add_test(tc, duplicates_are_not_applied);
	tcase_add_test(tc, restart_keeps_history_and_late_spool_is_history_only);
	tcase_add_test(tc, liveness_follows_the_interval);
	tcase_add_test(tc, sweep_drops_families_a_node_stopped_sending);
	tcase_add_test(tc, info_families_have_no_history_and_classes);
	tcase_add_test(tc, a_collection_in_parts_is_one_collection);
	tcase_add_test(tc, a_full_history_budget_does_not_churn);
	tcase_add_test(tc, metrics_render_node_label_and_help_once);
	tcase_add_test(tc, hmap_survives_churn);
	tcase_add_test(tc, settings_name_file_line_and_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
