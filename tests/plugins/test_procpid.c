/*
 * The procpid plugin against fixture Kubernetes nodes (tests/fixtures/k8s-*,
 * see k8s-node/README.md): exact per-process values, hostile comms, kernel
 * threads and zombies, container and pod metrics from cgroup v2 and v1,
 * pod networks and the host-network flag, hand-computed rates, PID reuse,
 * processes that vanish between passes and mid-pass, the agent in its own
 * cgroup namespace, running out of fds, a collection sent in parts,
 * configuration errors, and the real /proc of this machine.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cobs/metric.h>

#include "harness.h"

#define WEB_UID   "1f8e2a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define BATCH_UID "7c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f"
#define DB_UID    "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
#define PROXY_UID "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
#define NGINX_ID  "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"
#define ENVOY_ID  "e17eb1b6c235111f12bf4d25b4dfc53c6f518f08f07b3343ef1c60c5f81864f4"
#define WORKER_ID "dd4680cdcd113bcd22342799213fc821b058a12bb38922bea46da3485c799839"
#define WEB_POD                                                                                    \
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f8e2a4c_5b6d_4e7f_8a9b_0c1d2e3f4a5b.slice"
#define NGINX_CG WEB_POD "/cri-containerd-" NGINX_ID ".scope"
#define BTIME    1700000000.0
#define TOL      1e-9

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

static void open_node(harness *h, const char *node, const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "procpid", fx("%s/proc", node),
	                      fx("%s/sys", node), kv);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
}

/* The value of a family's one sample with these labels; fails the test when absent. */
#define VAL(...) val_(__FILE__, __LINE__, __VA_ARGS__, NULL)
static double val_(const char *file, int line, const cobs_batch *b, const char *fam, ...)
{
	const cobs_family *f = cobs_batch_find(b, fam);
	ck_assert_msg(f != NULL, "%s:%d: no family %s", file, line, fam);
	double found = 0;
	int n = 0;
	for (size_t i = 0; i < f->nsamples; i++) {
		va_list ap;
		va_start(ap, fam);
		const char *name;
		int ok = 1;
		while (ok && (name = va_arg(ap, const char *))) {
			const char *want = va_arg(ap, const char *);
			int hit = 0;
			for (size_t k = 0; k < f->samples[i].nlabels; k++)
				hit |= strcmp(f->samples[i].labels[k].name, name) == 0 &&
				       strcmp(f->samples[i].labels[k].value, want) == 0;
			ok = hit;
		}
		va_end(ap);
		if (ok) {
			found = f->samples[i].value;
			n++;
		}
	}
	ck_assert_msg(n == 1, "%s:%d: %s: %d matching samples", file, line, fam, n);
	return found;
}

/* How many samples of fam carry label=value (0 when the family is absent). */
static size_t count_with(const cobs_batch *b, const char *fam, const char *label, const char *value)
{
	const cobs_family *f = cobs_batch_find(b, fam);
	size_t n = 0;
	for (size_t i = 0; f && i < f->nsamples; i++)
		for (size_t k = 0; k < f->samples[i].nlabels; k++)
			n += strcmp(f->samples[i].labels[k].name, label) == 0 &&
			     strcmp(f->samples[i].labels[k].value, value) == 0;
	return n;
}

/* Samples with label=value across every family. */
static size_t count_all(const cobs_batch *b, const char *label, const char *value)
{
	size_t n = 0;
	for (size_t i = 0; i < b->nfamilies; i++)
		n += count_with(b, b->families[i]->name, label, value);
	return n;
}

/* The value of label `want` on fam's sample whose label `key` is `kv`. */
static const char *label_of(const cobs_batch *b, const char *fam, const char *key, const char *kv,
                            const char *want)
{
	const cobs_family *f = cobs_batch_find(b, fam);
	for (size_t i = 0; f && i < f->nsamples; i++) {
		const char *got = NULL;
		int match = 0;
		for (size_t k = 0; k < f->samples[i].nlabels; k++) {
			const cobs_label *l = &f->samples[i].labels[k];
			match |= strcmp(l->name, key) == 0 && strcmp(l->value, kv) == 0;
			if (strcmp(l->name, want) == 0)
				got = l->value;
		}
		if (match)
			return got;
	}
	return NULL;
}

/* A writable copy of a fixture node in a temporary directory. */
typedef struct tmp_node {
	char base[256];
	char proc[300];
	char sys[300];
} tmp_node;

static void tmp_node_init(tmp_node *t, const char *node)
{
	snprintf(t->base, sizeof(t->base), "%s", temp_dir());
	char *argv[] = {"/bin/cp", "-a", (char *)fx("%s/proc", node), (char *)fx("%s/sys", node),
	                t->base,   NULL};
	ck_assert_int_eq(run_command(argv, NULL, NULL), 0);
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->base);
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->base);
}

static void tmp_node_free(tmp_node *t)
{
	char *argv[] = {"/bin/rm", "-rf", t->base, NULL};
	run_command(argv, NULL, NULL);
}

/* Overwrites <proc>/<rel> in place with the fixture file src. */
static void put(const tmp_node *t, const char *src, const char *rel)
{
	char dst[512];
	snprintf(dst, sizeof(dst), "%s/%s", t->proc, rel);
	ck_assert_msg(fixture_put(src, dst) == 0, "put %s", dst);
}

static void rm_path(const tmp_node *t, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", t->proc, rel);
	char *argv[] = {"/bin/rm", "-rf", path, NULL};
	ck_assert_int_eq(run_command(argv, NULL, NULL), 0);
}

static void open_tmp(harness *h, const tmp_node *t, const char *const *kv)
{
	int rc = harness_open(h, COBS_PLUGIN_COLLECTOR, "procpid", t->proc, t->sys, kv);
	ck_assert_msg(rc == 0, "harness_open: %s", h->err.msg);
}

/* ---- one pass over the k8s-node fixture ---- */

START_TEST(process_values_exact)
{
	harness h;
	open_node(&h, "k8s-node", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_int_eq(sysconf(_SC_CLK_TCK), 100); /* the fixture's ticks assume USER_HZ 100 */

	/* nginx master, PID 1020: stat utime 1500 stime 300 cutime 40 cstime 10 ... */
	ck_assert_double_eq_tol(VAL(b, "process_cpu_seconds_total", "pid", "1020", "mode", "user"),
	                        15, TOL);
	ck_assert_double_eq_tol(
	        VAL(b, "process_cpu_seconds_total", "pid", "1020", "mode", "system"), 3, TOL);
	ck_assert_double_eq_tol(
	        VAL(b, "process_children_cpu_seconds_total", "pid", "1020", "mode", "user"), 0.4,
	        TOL);
	ck_assert_double_eq_tol(
	        VAL(b, "process_children_cpu_seconds_total", "pid", "1020", "mode", "system"), 0.1,
	        TOL);
	ck_assert_double_eq(VAL(b, "process_minor_faults_total", "pid", "1020"), 52341);
	ck_assert_double_eq(VAL(b, "process_major_faults_total", "pid", "1020"), 12);
	ck_assert_double_eq(VAL(b, "process_priority", "pid", "1020"), 20);
	ck_assert_double_eq(VAL(b, "process_nice", "pid", "1020"), 0);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1020"), 1);
	ck_assert_double_eq(VAL(b, "process_processor", "pid", "1020"), 0);
	/* btime 1700000000 + starttime 20100 / 100 */
	ck_assert_double_eq(VAL(b, "process_start_time_seconds", "pid", "1020"), 1700000201);
	/* status, kB * 1024 */
	ck_assert_double_eq(VAL(b, "process_virtual_memory_bytes", "pid", "1020"), 120000.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_virtual_memory_peak_bytes", "pid", "1020"),
	                    121024.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_resident_memory_bytes", "pid", "1020"), 40000.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_resident_anon_bytes", "pid", "1020"), 20000.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_resident_file_bytes", "pid", "1020"), 19936.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_resident_shmem_bytes", "pid", "1020"), 64.0 * 1024);
	ck_assert_double_eq(VAL(b, "process_locked_memory_bytes", "pid", "1020"), 0);
	ck_assert_double_eq(VAL(b, "process_pinned_memory_bytes", "pid", "1020"), 0);
	ck_assert_double_eq(VAL(b, "process_swap_bytes", "pid", "1020"), 0);
	ck_assert_double_eq(VAL(b, "process_voluntary_context_switches_total", "pid", "1020"),
	                    1200);
	ck_assert_double_eq(VAL(b, "process_nonvoluntary_context_switches_total", "pid", "1020"),
	                    34);
	/* io */
	ck_assert_double_eq(VAL(b, "process_io_read_bytes_total", "pid", "1020"), 1048576);
	ck_assert_double_eq(VAL(b, "process_io_write_bytes_total", "pid", "1020"), 4096);
	ck_assert_double_eq(VAL(b, "process_io_cancelled_write_bytes_total", "pid", "1020"), 0);
	ck_assert_double_eq(VAL(b, "process_io_rchar_bytes_total", "pid", "1020"), 2000000);
	ck_assert_double_eq(VAL(b, "process_io_wchar_bytes_total", "pid", "1020"), 500000);
	ck_assert_double_eq(VAL(b, "process_io_read_syscalls_total", "pid", "1020"), 1500);
	ck_assert_double_eq(VAL(b, "process_io_write_syscalls_total", "pid", "1020"), 400);
	/* 100 * VmRSS 40000 kB / MemTotal 8000000 kB */
	ck_assert_double_eq_tol(VAL(b, "process_memory_percent", "pid", "1020"), 0.5, TOL);
	/* labels: pod UID and container ID, and no names without the API */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1020", "comm", "nginx", "pod_uid",
	                        WEB_UID, "container_id", NGINX_ID),
	                    1);
	ck_assert_ptr_null(label_of(b, "process_threads", "pid", "1020", "namespace"));
	ck_assert_ptr_null(label_of(b, "process_threads", "pid", "1020", "container"));
	/* facts */
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1020", "state", "S", "ppid", "612",
	                        "cmdline", "nginx: master process nginx -g daemon off;", "cgroup",
	                        NGINX_CG),
	                    1);
	ck_assert_double_eq(VAL(b, "process_security_info", "pid", "1020", "seccomp", "2",
	                        "speculation_store_bypass", "thread force mitigated",
	                        "cpus_allowed_list", "0-1", "mems_allowed_list", "0",
	                        "no_new_privs", "1", "cap_eff", "00000000a80425fb"),
	                    1);
	ck_assert_int_eq(cobs_batch_find(b, "process_info")->type, COBS_INFO);
	ck_assert_int_eq(cobs_batch_find(b, "process_cpu_seconds_total")->type, COBS_COUNTER);
	ck_assert_int_eq(cobs_batch_find(b, "process_resident_memory_bytes")->type, COBS_GAUGE);
	/* First pass: no rates yet. */
	ck_assert_uint_eq(family_size(b, "process_cpu_usage_percent"), 0);
	ck_assert_uint_eq(family_size(b, "process_io_read_bytes_per_second"), 0);

	/* Outside Kubernetes: pid and comm only; cgroup in process_info. systemd has no io
	 * file (as /proc/1/io answers EACCES): no io series, the rest is there. */
	ck_assert_ptr_null(label_of(b, "process_threads", "pid", "1", "pod_uid"));
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1", "cgroup", "/init.scope", "cmdline",
	                        "/sbin/init splash", "ppid", "0"),
	                    1);
	ck_assert_uint_eq(count_with(b, "process_io_rchar_bytes_total", "pid", "1"), 0);
	ck_assert_double_eq(VAL(b, "process_cpu_seconds_total", "pid", "1", "mode", "user"), 12);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "700", "cgroup",
	                        "/system.slice/ssh.service", "cmdline",
	                        "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
	                    1);
	/* 19 processes: 22 PIDs less two kernel threads and a zombie. */
	ck_assert_uint_eq(family_size(b, "process_threads"), 19);
	ck_assert_uint_eq(family_size(b, "process_cpu_seconds_total"), 38);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(hostile_comms)
{
	harness h;
	open_node(&h, "k8s-node", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* "a) (b": the comm ends at the last ')', and the fields after it are right. */
	ck_assert_double_eq(VAL(b, "process_nice", "pid", "1120", "comm", "a) (b"), 10);
	ck_assert_double_eq(VAL(b, "process_priority", "pid", "1120", "comm", "a) (b"), 30);
	ck_assert_double_eq(VAL(b, "process_cpu_seconds_total", "pid", "1120", "mode", "user"), 7);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1120", "cmdline", "./a) (b --x"), 1);
	/* A newline, and bytes that are not UTF-8, pass through as they are (the formats
	 * escape and repair them). */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1121", "comm", "new\nline",
	                        "container_id", WORKER_ID),
	                    1);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1122", "comm", "bad\xff\xfeutf8",
	                        "pod_uid", BATCH_UID),
	                    1);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1122", "cmdline", "./bad\xff\xfeutf8"),
	                    1);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(kernel_threads_and_zombies)
{
	harness h;
	open_node(&h, "k8s-node", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* Excluded from process series (and so from pods) by default ... */
	ck_assert_uint_eq(count_all(b, "pid", "2"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "3"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "1123"), 0);
	/* ... counted on the node. 22 PIDs: 20 sleeping, rcu_gp idle, one zombie; threads
	 * 14 + 17 + 12 + 19 x 1. */
	ck_assert_double_eq(VAL(b, "node_processes_pids"), 22);
	ck_assert_double_eq(VAL(b, "node_processes_state", "state", "S"), 20);
	ck_assert_double_eq(VAL(b, "node_processes_state", "state", "I"), 1);
	ck_assert_double_eq(VAL(b, "node_processes_state", "state", "Z"), 1);
	ck_assert_uint_eq(family_size(b, "node_processes_state"), 3);
	ck_assert_double_eq(VAL(b, "node_processes_threads"), 62);
	ck_assert_double_eq(VAL(b, "node_processes_kernel_threads"), 2);
	/* The batch worker container's processes, the zombie not among them. */
	ck_assert_double_eq(VAL(b, "container_processes", "container_id", WORKER_ID), 4);
	cobs_batch_free(b);
	harness_close(&h);

	open_node(&h, "k8s-node",
	          (const char *const[]){"include_kernel_threads", "true", "include_zombies", "yes",
	                                NULL});
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* A kernel thread: no memory (no mm), in the root cgroup, in no pod. */
	ck_assert_double_eq(VAL(b, "process_cpu_seconds_total", "pid", "2", "comm", "kthreadd",
	                        "mode", "system"),
	                    0.03);
	ck_assert_uint_eq(count_with(b, "process_resident_memory_bytes", "pid", "2"), 0);
	ck_assert_ptr_null(label_of(b, "process_threads", "pid", "2", "pod_uid"));
	ck_assert_double_eq(
	        VAL(b, "process_info", "pid", "3", "state", "I", "cgroup", "/", "cmdline", ""), 1);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1123", "state", "Z", "comm", "defunct"),
	                    1);
	ck_assert_uint_eq(count_with(b, "process_virtual_memory_bytes", "pid", "1123"), 0);
	ck_assert_uint_eq(family_size(b, "process_threads"), 22);
	ck_assert_double_eq(VAL(b, "container_processes", "container_id", WORKER_ID), 5);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(container_metrics_v2)
{
	harness h;
	open_node(&h, "k8s-node", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
#define C(fam) VAL(b, fam, "container_id", NGINX_ID, "pod_uid", WEB_UID, "id", NGINX_CG)
	ck_assert_double_eq_tol(C("container_cpu_usage_seconds_total"), 123.456789, TOL);
	ck_assert_double_eq_tol(C("container_cpu_user_seconds_total"), 100, TOL);
	ck_assert_double_eq_tol(C("container_cpu_system_seconds_total"), 23.456789, TOL);
	ck_assert_double_eq(C("container_cpu_cfs_periods_total"), 1000);
	ck_assert_double_eq(C("container_cpu_cfs_throttled_periods_total"), 25);
	ck_assert_double_eq_tol(C("container_cpu_cfs_throttled_seconds_total"), 1.5, TOL);
	ck_assert_double_eq(C("container_spec_cpu_quota"), 50000);
	ck_assert_double_eq(C("container_spec_cpu_period"), 100000);
	ck_assert_double_eq(C("container_memory_usage_bytes"), 104857600);
	ck_assert_double_eq(C("container_spec_memory_limit_bytes"), 268435456);
	ck_assert_double_eq(C("container_memory_max_usage_bytes"), 157286400);
	/* current 104857600 - inactive_file 20971520 */
	ck_assert_double_eq(C("container_memory_working_set_bytes"), 83886080);
	ck_assert_double_eq(C("container_memory_rss"), 73400320);
	ck_assert_double_eq(C("container_memory_cache"), 31457280);
	ck_assert_double_eq(C("container_memory_mapped_file"), 8388608);
	ck_assert_double_eq(C("container_memory_swap"), 0);
	ck_assert_double_eq(C("container_oom_events_total"), 2);
	ck_assert_double_eq(C("container_memory_oom_kills_total"), 1);
	ck_assert_double_eq(C("container_threads"), 5);
	ck_assert_double_eq(C("container_threads_max"), 4096);
	ck_assert_double_eq(C("container_processes"), 2);
	ck_assert_double_eq_tol(C("container_pressure_cpu_waiting_seconds_total"), 1.234567, TOL);
	ck_assert_double_eq_tol(C("container_pressure_cpu_stalled_seconds_total"), 0.234567, TOL);
	ck_assert_double_eq_tol(C("container_pressure_memory_waiting_seconds_total"), 0.345678,
	                        TOL);
	ck_assert_double_eq_tol(C("container_pressure_memory_stalled_seconds_total"), 0.045678,
	                        TOL);
	ck_assert_double_eq_tol(C("container_pressure_io_waiting_seconds_total"), 0.56789, TOL);
	ck_assert_double_eq_tol(C("container_pressure_io_stalled_seconds_total"), 0.06789, TOL);
#undef C
	/* io.stat per device: named from /sys/dev/block, or MAJ:MIN when /sys has no link. */
	ck_assert_double_eq(VAL(b, "container_fs_reads_bytes_total", "container_id", NGINX_ID,
	                        "device", "/dev/vda"),
	                    1048576);
	ck_assert_double_eq(VAL(b, "container_fs_writes_bytes_total", "container_id", NGINX_ID,
	                        "device", "/dev/vda"),
	                    409600);
	ck_assert_double_eq(
	        VAL(b, "container_fs_reads_total", "container_id", NGINX_ID, "device", "/dev/vda"),
	        256);
	ck_assert_double_eq(
	        VAL(b, "container_fs_writes_total", "container_id", NGINX_ID, "device", "/dev/vda"),
	        100);
	ck_assert_double_eq(
	        VAL(b, "container_fs_reads_bytes_total", "container_id", NGINX_ID, "device", "7:3"),
	        4096);
	ck_assert_uint_eq(count_with(b, "container_fs_writes_bytes_total", "device", "7:3"), 1);

	/* The pod's own cgroup: no container labels; the working set floors at 0 (inactive
	 * 220 MiB > current 200 MiB); unlimited memory.max and pids.max read 0. */
	const char *pod_only = "container_memory_working_set_bytes";
	ck_assert_double_eq(VAL(b, pod_only, "id", WEB_POD, "pod_uid", WEB_UID), 0);
	ck_assert_ptr_null(label_of(b, pod_only, "id", WEB_POD, "container_id"));
	ck_assert_double_eq(VAL(b, "container_spec_memory_limit_bytes", "id", WEB_POD), 0);
	ck_assert_double_eq(VAL(b, "container_threads_max", "id", WEB_POD), 0);
	ck_assert_double_eq(VAL(b, "container_cpu_usage_seconds_total", "id", WEB_POD), 200);
	ck_assert_uint_eq(count_with(b, "container_spec_cpu_quota", "id", WEB_POD), 0);
	ck_assert_double_eq(VAL(b, "container_processes", "id", WEB_POD), 4);

	/* Every container of every pod: 4 pods with 9 containers (sandboxes included). */
	ck_assert_uint_eq(count_with(b, "container_processes", "pod_uid", WEB_UID), 4);
	ck_assert_uint_eq(count_with(b, "container_processes", "pod_uid", BATCH_UID), 3);
	ck_assert_uint_eq(count_with(b, "container_processes", "pod_uid", DB_UID), 3);
	ck_assert_uint_eq(count_with(b, "container_processes", "pod_uid", PROXY_UID), 3);
	/* Node services by cgroup; no memory.peak on them (an older kernel): no series. */
	ck_assert_double_eq(VAL(b, "container_processes", "id", "/system.slice/ssh.service"), 1);
	ck_assert_double_eq(
	        VAL(b, "container_processes", "id", "/user.slice/user-1000.slice/session-3.scope"),
	        1);
	ck_assert_uint_eq(count_with(b, "container_memory_max_usage_bytes", "id",
	                             "/system.slice/ssh.service"),
	                  0);
	ck_assert_double_eq(
	        VAL(b, "container_memory_usage_bytes", "id", "/system.slice/containerd.service"),
	        50 << 20);
	/* 13 pod cgroups + 5 services; never the root. */
	ck_assert_uint_eq(family_size(b, "container_processes"), 18);
	ck_assert_uint_eq(count_with(b, "container_processes", "id", "/"), 0);
	cobs_batch_free(b);
	harness_close(&h);

	open_node(&h, "k8s-node", (const char *const[]){"system_cgroups", "false", NULL});
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_uint_eq(family_size(b, "container_processes"), 13);
	cobs_batch_free(b);
	harness_close(&h);

	open_node(&h, "k8s-node", (const char *const[]){"container_metrics", "false", NULL});
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_uint_eq(family_size(b, "container_processes"), 0);
	ck_assert_uint_eq(family_size(b, "container_memory_usage_bytes"), 0);
	ck_assert_uint_eq(family_size(b, "cobs_pod_info"), 4);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(pods_and_networks)
{
	harness h;
	open_node(&h, "k8s-node", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", WEB_UID, "qos_class", "burstable",
	                        "host_network", "false"),
	                    1);
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", BATCH_UID, "qos_class", "besteffort",
	                        "host_network", "false"),
	                    1);
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", DB_UID, "qos_class", "guaranteed",
	                        "host_network", "false"),
	                    1);
	/* kube-proxy shares PID 1's network namespace: flagged, and its interfaces (the
	 * node's) not counted again. */
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", PROXY_UID, "qos_class", "burstable",
	                        "host_network", "true"),
	                    1);
	ck_assert_uint_eq(
	        count_with(b, "container_network_receive_bytes_total", "pod_uid", PROXY_UID), 0);
	/* web's eth0, read through its first process (the sandbox); lo left out. */
	ck_assert_double_eq(VAL(b, "container_network_receive_bytes_total", "pod_uid", WEB_UID,
	                        "interface", "eth0"),
	                    9876543);
	ck_assert_double_eq(VAL(b, "container_network_receive_packets_total", "pod_uid", WEB_UID),
	                    12345);
	ck_assert_double_eq(VAL(b, "container_network_receive_errors_total", "pod_uid", WEB_UID),
	                    1);
	ck_assert_double_eq(
	        VAL(b, "container_network_receive_packets_dropped_total", "pod_uid", WEB_UID), 2);
	ck_assert_double_eq(VAL(b, "container_network_transmit_bytes_total", "pod_uid", WEB_UID),
	                    1234567);
	ck_assert_double_eq(VAL(b, "container_network_transmit_packets_total", "pod_uid", WEB_UID),
	                    2345);
	ck_assert_double_eq(VAL(b, "container_network_transmit_errors_total", "pod_uid", WEB_UID),
	                    3);
	ck_assert_double_eq(
	        VAL(b, "container_network_transmit_packets_dropped_total", "pod_uid", WEB_UID), 4);
	ck_assert_uint_eq(count_with(b, "container_network_receive_bytes_total", "interface", "lo"),
	                  0);
	ck_assert_uint_eq(family_size(b, "container_network_receive_bytes_total"), 3);
	ck_assert_double_eq(VAL(b, "container_network_transmit_bytes_total", "pod_uid", DB_UID),
	                    800);
	/* Containers: runtime from the cgroup name, the cgroup as id. */
	ck_assert_double_eq(VAL(b, "cobs_container_info", "container_id", NGINX_ID, "runtime",
	                        "containerd", "pod_uid", WEB_UID, "id", NGINX_CG),
	                    1);
	ck_assert_uint_eq(family_size(b, "cobs_container_info"), 9);
	ck_assert_uint_eq(family_size(b, "kube_pod_labels"), 0); /* no API */
	cobs_batch_free(b);
	harness_close(&h);

	open_node(&h, "k8s-node", (const char *const[]){"pod_network", "false", NULL});
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_uint_eq(family_size(b, "container_network_receive_bytes_total"), 0);
	ck_assert_uint_eq(family_size(b, "cobs_pod_info"), 4);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

/* ---- across passes ---- */

START_TEST(rates_reuse_and_vanish)
{
	tmp_node t;
	tmp_node_init(&t, "k8s-node");
	harness h;
	open_tmp(&h, &t, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1500", "comm", "cronjob"), 1);

	/* 10 s later: nginx and envoy ran; PID 1500 is another process (starttime 31000 ->
	 * 32000), now in web's nginx container. */
	static const char *const files[] = {"1020/stat", "1020/io",     "1040/stat",
	                                    "1040/io",   "1500/stat",   "1500/status",
	                                    "1500/io",   "1500/cgroup", "1500/cmdline"};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
		put(&t, fx("k8s-node/t1/proc/%s", files[i]), files[i]);
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	/* nginx: utime+stime 1800 -> 2200 ticks = 4 s of CPU in 10 s = 40 %. */
	ck_assert_double_eq_tol(VAL(b, "process_cpu_usage_percent", "pid", "1020"), 40, TOL);
	/* read_bytes 1048576 -> 11534336: 10485760 B / 10 s; write 4096 -> 413696: 40960 B/s */
	ck_assert_double_eq_tol(VAL(b, "process_io_read_bytes_per_second", "pid", "1020"), 1048576,
	                        TOL);
	ck_assert_double_eq_tol(VAL(b, "process_io_write_bytes_per_second", "pid", "1020"), 40960,
	                        TOL);
	/* envoy, 12 threads: 60000 -> 62500 ticks = 25 s in 10 s = 250 % (over 100: several
	 * threads at once). */
	ck_assert_double_eq_tol(VAL(b, "process_cpu_usage_percent", "pid", "1040"), 250, TOL);
	/* A process that did not run: 0 %, and 0 B/s. */
	ck_assert_double_eq(VAL(b, "process_cpu_usage_percent", "pid", "1021"), 0);
	ck_assert_double_eq(VAL(b, "process_io_read_bytes_per_second", "pid", "1021"), 0);
	/* PID 1500 reused: a new process, never a rate against the old one (whose 50 MB
	 * read_bytes would make this one's 4096 a negative rate), new labels. */
	ck_assert_uint_eq(count_with(b, "process_cpu_usage_percent", "pid", "1500"), 0);
	ck_assert_uint_eq(count_with(b, "process_io_read_bytes_per_second", "pid", "1500"), 0);
	ck_assert_uint_eq(count_all(b, "comm", "cronjob"), 0);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1500", "comm", "sh", "cmdline",
	                        "sh -c sleep 1", "pod_uid", WEB_UID, "container_id", NGINX_ID),
	                    1);
	ck_assert_double_eq(VAL(b, "process_start_time_seconds", "pid", "1500"), BTIME + 320);
	ck_assert_double_eq(VAL(b, "container_processes", "container_id", NGINX_ID), 3);
	ck_assert_double_eq(VAL(b, "container_processes", "container_id", WORKER_ID), 3);
	/* 18 processes had a previous reading of the same PID+starttime. */
	ck_assert_uint_eq(family_size(b, "process_cpu_usage_percent"), 18);

	/* PID 1021 leaves: its series are not sent again; its container has one fewer. */
	rm_path(&t, "1021");
	ck_assert_int_eq(harness_collect_at(&h, b, 120000000000u), 0);
	ck_assert_uint_eq(count_all(b, "pid", "1021"), 0);
	ck_assert_double_eq(VAL(b, "container_processes", "container_id", NGINX_ID), 2);
	ck_assert_double_eq(VAL(b, "node_processes_pids"), 21);
	/* Rates went on for the others: nginx did not run since, 0 %. */
	ck_assert_double_eq(VAL(b, "process_cpu_usage_percent", "pid", "1020"), 0);
	/* A zero interval gives no rate rather than a division by zero. */
	ck_assert_int_eq(harness_collect_at(&h, b, 120000000000u), 0);
	ck_assert_uint_eq(family_size(b, "process_cpu_usage_percent"), 0);

	/* Every process of the batch pod leaves: the pod, its containers and network go. */
	static const char *const batch[] = {"1101", "1120", "1121", "1122", "1123", "1500"};
	for (size_t i = 0; i < sizeof(batch) / sizeof(*batch); i++)
		rm_path(&t, batch[i]);
	ck_assert_int_eq(harness_collect_at(&h, b, 130000000000u), 0);
	ck_assert_uint_eq(count_all(b, "pod_uid", BATCH_UID), 0);
	ck_assert_uint_eq(family_size(b, "cobs_pod_info"), 3);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_node_free(&t);
}
END_TEST

START_TEST(vanished_mid_pass)
{
	/* Listed in /proc, then gone before its files were read: each file missing in turn. */
	tmp_node t;
	tmp_node_init(&t, "k8s-node");
	rm_path(&t, "1221/status"); /* stat read, status gone: the process is skipped whole */
	rm_path(&t, "1401/io");     /* io gone (or EACCES): the rest is reported */
	rm_path(&t, "1320/stat");   /* nothing readable at all */
	rm_path(&t, "640/cgroup");  /* cgroup gone: it left */
	rm_path(&t, "700/cmdline");
	harness h;
	open_tmp(&h, &t, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_uint_eq(count_all(b, "pid", "1221"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "1320"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "640"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "700"), 0);
	ck_assert_uint_eq(count_with(b, "process_io_read_bytes_total", "pid", "1401"), 0);
	ck_assert_double_eq(VAL(b, "process_resident_memory_bytes", "pid", "1401"), 2048.0 * 1024);
	ck_assert_uint_eq(family_size(b, "process_threads"), 15);
	/* The rest of the node is whole. */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1020"), 1);
	/* kube-proxy's container lost its only process; its sandbox keeps the pod. */
	ck_assert_uint_eq(count_with(b, "container_processes", "pod_uid", PROXY_UID), 2);

	/* They come back: read as new processes. */
	put(&t, fx("k8s-node/proc/1221/status"), "1221/status");
	put(&t, fx("k8s-node/proc/1320/stat"), "1320/stat");
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1221"), 1);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "1320"), 1);
	ck_assert_uint_eq(count_with(b, "process_cpu_usage_percent", "pid", "1320"), 0);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_node_free(&t);
}
END_TEST

START_TEST(garbled_files)
{
	tmp_node t;
	tmp_node_init(&t, "k8s-node");
	char path[512];
	snprintf(path, sizeof(path), "%s/1401/stat", t.proc);
	ck_assert_int_eq(write_file(path, "1401 (bash S 1 2 3\n"), 0); /* no ')' */
	snprintf(path, sizeof(path), "%s/700/stat", t.proc);
	ck_assert_int_eq(write_file(path, "700 (sshd) S 1 2 3 0 -1 0 1 0 2\n"), 0); /* cut */
	snprintf(path, sizeof(path), "%s/612/status", t.proc);
	ck_assert_int_eq(write_file(path, "VmRSS:\tlots kB\n\xff\xfe\n"), 0);
	snprintf(path, sizeof(path), "%s/612/io", t.proc);
	ck_assert_int_eq(write_file(path, ""), 0);
	snprintf(path, sizeof(path), "%s/640/cgroup", t.proc);
	ck_assert_int_eq(write_file(path, "garbage\n"), 0);
	snprintf(path, sizeof(path), "%s/1001/net/dev", t.proc);
	ck_assert_int_eq(write_file(path, "eth0: 1 2 3\n"), 0);
	harness h;
	open_tmp(&h, &t, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* A stat that does not parse: skipped (and counted in the log). */
	ck_assert_uint_eq(count_all(b, "pid", "1401"), 0);
	ck_assert_uint_eq(count_all(b, "pid", "700"), 0);
	/* A status that does not parse: the stat series remain, none from status. */
	ck_assert_double_eq(VAL(b, "process_cpu_seconds_total", "pid", "612", "mode", "user"), 520);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "612"), 14); /* stat's */
	ck_assert_uint_eq(count_with(b, "process_resident_memory_bytes", "pid", "612"), 0);
	ck_assert_uint_eq(count_with(b, "process_io_read_bytes_total", "pid", "612"), 0);
	/* A cgroup file that does not parse: no group, cgroup "". */
	ck_assert_double_eq(VAL(b, "process_info", "pid", "640", "cgroup", ""), 1);
	/* No interface parsed: no network series for web, the others still there. */
	ck_assert_uint_eq(
	        count_with(b, "container_network_receive_bytes_total", "pod_uid", WEB_UID), 0);
	ck_assert_uint_eq(family_size(b, "container_network_receive_bytes_total"), 2);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_node_free(&t);
}
END_TEST

/* ---- other nodes ---- */

#define V1_BURST_UID "3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d"
#define V1_GUAR_UID  "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
#define V1_BEST_UID  "6b6c6d6e-6f70-4172-a374-757677787970"
#define V1_APP_ID    "2798bdb407dac4e71366b86cb038c57d41f6b42bd8b4c2de680cfef3a7992f58"
#define V1_REDIS_ID  "e77cafb21a394ebf72a56c6e4b0342cdf416b90e7630c524617d111412ef6254"

START_TEST(cgroup_v1_node)
{
	harness h;
	open_node(&h, "k8s-node-v1", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2010", "comm", "java", "pod_uid",
	                        V1_BURST_UID, "container_id", V1_APP_ID),
	                    40);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2110", "pod_uid", V1_GUAR_UID,
	                        "container_id", V1_REDIS_ID),
	                    1);
	ck_assert_double_eq(
	        VAL(b, "cobs_pod_info", "pod_uid", V1_GUAR_UID, "qos_class", "guaranteed"), 1);
	ck_assert_double_eq(
	        VAL(b, "cobs_pod_info", "pod_uid", V1_BEST_UID, "qos_class", "besteffort"), 1);
	/* cgroupfs names no runtime: no runtime label. */
	ck_assert_ptr_null(
	        label_of(b, "cobs_container_info", "container_id", V1_APP_ID, "runtime"));
#define C(fam) VAL(b, fam, "container_id", V1_APP_ID)
	/* cpuacct.usage ns; cpuacct.stat ticks / 100; cpu.stat throttled_time ns */
	ck_assert_double_eq_tol(C("container_cpu_usage_seconds_total"), 987.654321, TOL);
	ck_assert_double_eq_tol(C("container_cpu_user_seconds_total"), 600, TOL);
	ck_assert_double_eq_tol(C("container_cpu_system_seconds_total"), 200, TOL);
	ck_assert_double_eq(C("container_cpu_cfs_periods_total"), 500);
	ck_assert_double_eq(C("container_cpu_cfs_throttled_periods_total"), 7);
	ck_assert_double_eq_tol(C("container_cpu_cfs_throttled_seconds_total"), 2.5, TOL);
	ck_assert_double_eq(C("container_spec_cpu_quota"), 150000);
	ck_assert_double_eq(C("container_spec_cpu_period"), 100000);
	ck_assert_double_eq(C("container_memory_usage_bytes"), 536870912);
	ck_assert_double_eq(C("container_spec_memory_limit_bytes"), 1073741824);
	ck_assert_double_eq(C("container_memory_max_usage_bytes"), 805306368);
	ck_assert_double_eq(C("container_memory_rss"), 402653184);
	ck_assert_double_eq(C("container_memory_cache"), 100663296);
	ck_assert_double_eq(C("container_memory_mapped_file"), 16777216);
	/* usage 536870912 - total_inactive_file 67108864 */
	ck_assert_double_eq(C("container_memory_working_set_bytes"), 469762048);
	ck_assert_double_eq(C("container_memory_swap"), 1048576);
	ck_assert_double_eq(C("container_memory_failcnt"), 3);
	ck_assert_double_eq(C("container_memory_oom_kills_total"), 1);
	ck_assert_double_eq(C("container_threads"), 40);
	ck_assert_double_eq(C("container_threads_max"), 1024);
#undef C
	ck_assert_double_eq(VAL(b, "container_fs_reads_bytes_total", "container_id", V1_APP_ID,
	                        "device", "/dev/nvme0n1"),
	                    7340032);
	ck_assert_double_eq(VAL(b, "container_fs_writes_bytes_total", "container_id", V1_APP_ID,
	                        "device", "/dev/nvme0n1"),
	                    3145728);
	ck_assert_double_eq(VAL(b, "container_fs_reads_total", "container_id", V1_APP_ID, "device",
	                        "/dev/nvme0n1"),
	                    700);
	ck_assert_double_eq(VAL(b, "container_fs_writes_total", "container_id", V1_APP_ID, "device",
	                        "/dev/nvme0n1"),
	                    300);
	/* v1 has no quota when cfs_quota_us is -1, and an unlimited limit reads 0. */
	ck_assert_uint_eq(count_with(b, "container_spec_cpu_quota", "container_id", V1_REDIS_ID),
	                  0);
	ck_assert_double_eq(
	        VAL(b, "container_spec_memory_limit_bytes", "container_id", V1_REDIS_ID), 0);
	/* v1 has no pressure files: no such series at all. */
	ck_assert_uint_eq(family_size(b, "container_pressure_cpu_waiting_seconds_total"), 0);
	/* 3 pods x (pod + sandbox + container) + containerd.service */
	ck_assert_uint_eq(family_size(b, "container_processes"), 10);
	ck_assert_double_eq(VAL(b, "container_network_transmit_bytes_total", "pod_uid",
	                        V1_BURST_UID, "interface", "eth0"),
	                    2000);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

#define AGENT_UID  "c0b5a9e1-1111-4222-8333-944455556666"
#define APP_UID    "a7b8c9d0-aaaa-4bbb-8ccc-dddddddddddd"
#define AGENT_ID   "40908f2da66ab1e16b685014a46753e55cd6219d5299c0831f2ff9a5115cb1fc"
#define SIDECAR_ID "f4763ba2e26e8369311083ac68620ba22187b133acae6def15416592bfb5615b"
#define APP_ID     "7f74d310572552d78e1f802efadf7d4060095a55cb1f124b0df15a8f995d261e"
#define AGENT_POD                                                                                  \
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podc0b5a9e1_1111_4222_8333_944455556666.slice"

START_TEST(agent_in_its_own_cgroup_namespace)
{
	harness h;
	open_node(&h, "k8s-node-cgroupns", NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	/* The agent itself reads "0::/": resolved to its container on the host. */
	ck_assert_double_eq(VAL(b, "process_info", "pid", "2001", "pod_uid", AGENT_UID,
	                        "container_id", AGENT_ID, "cgroup",
	                        AGENT_POD "/crio-" AGENT_ID ".scope"),
	                    1);
	/* Its sidecar "/../crio-<id>.scope" names no pod by itself. */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2020", "pod_uid", AGENT_UID,
	                        "container_id", SIDECAR_ID),
	                    1);
	/* CRI-O's conmon: in the pod, in no container. */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2000", "pod_uid", AGENT_UID), 1);
	ck_assert_ptr_null(label_of(b, "process_threads", "pid", "2000", "container_id"));
	/* Another pod, three levels up and down again. */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2110", "pod_uid", APP_UID,
	                        "container_id", APP_ID),
	                    1);
	ck_assert_double_eq(
	        VAL(b, "process_info", "pid", "800", "cgroup", "/system.slice/crio.service"), 1);
	/* cgroup files read at the host paths. */
	ck_assert_double_eq(VAL(b, "container_memory_usage_bytes", "container_id", AGENT_ID),
	                    7 << 20);
	ck_assert_double_eq(VAL(b, "container_memory_usage_bytes", "container_id", APP_ID),
	                    3 << 20);
	ck_assert_double_eq(VAL(b, "container_memory_usage_bytes", "id", AGENT_POD), 3 << 20);
	ck_assert_double_eq(
	        VAL(b, "cobs_container_info", "container_id", APP_ID, "runtime", "cri-o"), 1);
	/* The agent's pod is on the host network, the app's is not, though its conmon (a
	 * lower PID, in the pod's cgroup) is on the host's. */
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", AGENT_UID, "host_network", "true"),
	                    1);
	ck_assert_double_eq(VAL(b, "cobs_pod_info", "pod_uid", APP_UID, "host_network", "false"),
	                    1);
	ck_assert_double_eq(
	        VAL(b, "process_threads", "pid", "2100", "comm", "conmon", "pod_uid", APP_UID), 1);
	ck_assert_double_eq(VAL(b, "container_network_receive_bytes_total", "pod_uid", APP_UID),
	                    111);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(cgroup_namespace_root_not_found)
{
	/* Without <proc_root>/self (no hostPID), the root cannot be found: pods are still
	 * named from the paths below the "/..", their cgroup files are not found. */
	tmp_node t;
	tmp_node_init(&t, "k8s-node-cgroupns");
	rm_path(&t, "self");
	harness h;
	open_tmp(&h, &t, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2110", "pod_uid", APP_UID,
	                        "container_id", APP_ID),
	                    1);
	ck_assert_uint_eq(count_with(b, "container_memory_usage_bytes", "container_id", APP_ID), 0);
	ck_assert_double_eq(
	        VAL(b, "process_info", "pid", "800", "cgroup", "/system.slice/crio.service"), 1);
	/* A second pass does not search again straight away, and still works. */
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	ck_assert_double_eq(VAL(b, "process_threads", "pid", "2110", "pod_uid", APP_UID), 1);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_node_free(&t);
}
END_TEST

/* ---- files and fds ---- */

START_TEST(fd_budget_and_reopening)
{
	/* One kept file: everything else is opened per pass, and values are the same. */
	harness h;
	open_node(&h, "k8s-node", (const char *const[]){"max_open_files", "1", NULL});
	cobs_batch *b = cobs_batch_new();
	for (int pass = 0; pass < 3; pass++) {
		ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u + 10000000000u * pass), 0);
		ck_assert_double_eq(VAL(b, "cobs_procpid_open_files"), 1);
		ck_assert_double_eq(VAL(b, "process_resident_memory_bytes", "pid", "1020"),
		                    40000.0 * 1024);
		ck_assert_uint_eq(family_size(b, "process_threads"), 19);
	}
	cobs_batch_free(b);
	harness_close(&h);

	/* The default keeps stat, status and io of every process, and the cgroup files of
	 * every container: 19 x 3 - 1 (PID 1 has no io) + 2 kernel threads' and the
	 * zombie's stat + meminfo + 18 cgroups' files. */
	open_node(&h, "k8s-node", NULL);
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	double kept = VAL(b, "cobs_procpid_open_files");
	ck_assert_double_gt(kept, 19 * 3 - 1 + 3 + 1);
	/* Steady: the same number every pass. */
	ck_assert_int_eq(harness_collect_at(&h, b, 110000000000u), 0);
	ck_assert_double_eq(VAL(b, "cobs_procpid_open_files"), kept);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(out_of_fds)
{
	/* A budget far above what the process may open: the kernel's EMFILE decides. The
	 * plugin gives fds back and reopens per pass instead of failing. */
	harness h;
	open_node(&h, "k8s-node", (const char *const[]){"max_open_files", "100000", NULL});
	int probe = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(probe, 0);
	close(probe);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	struct rlimit low = {.rlim_cur = (rlim_t)probe + 40, .rlim_max = rl.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	cobs_batch *b = cobs_batch_new();
	for (int pass = 0; pass < 3; pass++) {
		ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u + 10000000000u * pass), 0);
		ck_assert_uint_eq(family_size(b, "process_threads"), 19);
		ck_assert_double_eq(VAL(b, "process_resident_memory_bytes", "pid", "1020"),
		                    40000.0 * 1024);
		ck_assert_double_eq(VAL(b, "process_io_read_bytes_total", "pid", "1500"), 50000000);
		ck_assert_double_eq(
		        VAL(b, "container_memory_usage_bytes", "container_id", NGINX_ID),
		        104857600);
		ck_assert_double_eq(
		        VAL(b, "container_network_receive_bytes_total", "pod_uid", WEB_UID),
		        9876543);
		ck_assert_double_le(VAL(b, "cobs_procpid_open_files"), 40);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(count_fds_and_cmdline_length)
{
	harness h;
	open_node(&h, "k8s-node",
	          (const char *const[]){"count_fds", "true", "cmdline_max_length", "8", NULL});
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_double_eq(VAL(b, "process_open_fds", "pid", "1020"), 3);
	ck_assert_uint_eq(family_size(b, "process_open_fds"), 19);
	ck_assert_double_eq(VAL(b, "process_info", "pid", "1020", "cmdline", "nginx: m"), 1);
	cobs_batch_free(b);
	harness_close(&h);

	open_node(&h, "k8s-node", (const char *const[]){"cmdline_max_length", "0", NULL});
	b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_ptr_null(label_of(b, "process_info", "pid", "1020", "cmdline"));
	ck_assert_uint_eq(family_size(b, "process_open_fds"), 0); /* off by default */
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(processes_come_and_go_without_growth)
{
	/* 300 passes where a process leaves and comes back: its state goes with it (open
	 * files return to the same count, it comes back with no rate), and no series of a
	 * departed PID is sent. */
	tmp_node t;
	tmp_node_init(&t, "k8s-node");
	harness h;
	open_tmp(&h, &t, NULL);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u), 0);
	double kept = VAL(b, "cobs_procpid_open_files");
	char src[512], dst[512];
	snprintf(src, sizeof(src), "%s/1500", t.base);
	snprintf(dst, sizeof(dst), "%s/1500", t.proc);
	for (int pass = 1; pass <= 300; pass++) {
		char *mv[] = {"/bin/mv", pass % 2 ? dst : src, pass % 2 ? src : dst, NULL};
		ck_assert_int_eq(run_command(mv, NULL, NULL), 0);
		ck_assert_int_eq(harness_collect_at(&h, b, 1000000000u * (uint64_t)(pass + 1)), 0);
		ck_assert_uint_eq(count_all(b, "pid", "1500"), pass % 2 ? 0 : 32);
	}
	ck_assert_double_eq(VAL(b, "cobs_procpid_open_files"), kept);
	cobs_batch_free(b);
	harness_close(&h);
	tmp_node_free(&t);
}
END_TEST

/* The parts of a collection, merged back into one batch as a server would see them. */
typedef struct merged_parts {
	cobs_batch *all;
	size_t parts;
} merged_parts;

static void merge_part(void *arg, cobs_batch *b)
{
	merged_parts *m = arg;
	ck_assert(b->more);
	ck_assert_int_eq(cobs_batch_merge(m->all, b), 0);
	m->parts++;
}

START_TEST(a_collection_in_parts_carries_the_same_samples)
{
	/* Two plugins on the same node at the same time: one collects whole, the
	 * other in parts of at least 40 samples; put together, the parts hold
	 * exactly the whole batch's samples, in the same order. */
	harness whole_h, parts_h;
	open_node(&whole_h, "k8s-node", NULL);
	open_node(&parts_h, "k8s-node", NULL);
	cobs_batch *whole = cobs_batch_new(), *b = cobs_batch_new();
	merged_parts m = {.all = cobs_batch_new()};
	cobs_batch_set_parts(b, 40, merge_part, &m);
	for (uint64_t pass = 1; pass <= 2; pass++) { /* the second pass has rates */
		cobs_batch_reset(m.all);
		m.parts = 0;
		ck_assert_int_eq(harness_collect_at(&whole_h, whole, pass * 1000000000u), 0);
		ck_assert_int_eq(harness_collect_at(&parts_h, b, pass * 1000000000u), 0);
		ck_assert(!b->more);
		ck_assert_int_eq(cobs_batch_merge(m.all, b), 0);
		ck_assert_uint_gt(m.parts, 2);
		ck_assert_uint_eq(cobs_batch_samples(m.all), cobs_batch_samples(whole));
		for (size_t i = 0; i < whole->nfamilies; i++) {
			const cobs_family *wf = whole->families[i];
			const cobs_family *pf = cobs_batch_find(m.all, wf->name);
			ck_assert_msg(pf && pf->nsamples == wf->nsamples, "family %s", wf->name);
			for (size_t k = 0; k < wf->nsamples; k++) {
				const cobs_sample *ws = &wf->samples[k], *ps = &pf->samples[k];
				ck_assert_double_eq(ws->value, ps->value);
				ck_assert_uint_eq(ws->nlabels, ps->nlabels);
				for (size_t l = 0; l < ws->nlabels; l++)
					ck_assert_str_eq(ws->labels[l].value, ps->labels[l].value);
			}
		}
	}
	cobs_batch_free(whole);
	cobs_batch_free(b);
	cobs_batch_free(m.all);
	harness_close(&whole_h);
	harness_close(&parts_h);
}
END_TEST

/* ---- configuration ---- */

START_TEST(config_errors)
{
	harness h;
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", fx("k8s-node/proc"),
	                              fx("k8s-node/sys"),
	                              (const char *const[]){"cmdline_max_length", "lots", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "test.ini:2") && strstr(h.err.msg, "cmdline_max_length"),
	              "%s", h.err.msg);
	harness_close(&h);
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", fx("k8s-node/proc"),
	                              fx("k8s-node/sys"),
	                              (const char *const[]){"include_zombies", "maybe", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "include_zombies"), "%s", h.err.msg);
	harness_close(&h);
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", fx("k8s-node/proc"),
	                              fx("k8s-node/sys"),
	                              (const char *const[]){"count_fd", "true", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "count_fd"), "%s", h.err.msg);
	harness_close(&h);
	/* A wrong proc_root is an init error naming it; so is a stat without btime. */
	ck_assert_int_eq(
	        harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", "/nonexistent/proc", NULL, NULL),
	        -1);
	ck_assert_msg(strstr(h.err.msg, "/nonexistent/proc"), "%s", h.err.msg);
	harness_close(&h);
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid",
	                              fx("k8s-node/proc/1020"), NULL, NULL),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "btime"), "%s", h.err.msg);
	harness_close(&h);
	/* No cgroup tree at all: processes still, no container series. */
	open_node(&h, "k8s-node", NULL);
	harness_close(&h);
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", fx("k8s-node/proc"),
	                              "/nonexistent/sys", NULL),
	                 0);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	ck_assert_uint_eq(family_size(b, "process_threads"), 19);
	ck_assert_uint_eq(family_size(b, "container_memory_usage_bytes"), 0);
	ck_assert_uint_eq(family_size(b, "container_processes"), 18);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

/* ---- this machine ---- */

/* Field n (1-based) of /proc/self/stat, counted after the comm. */
static unsigned long long self_stat_field(int n)
{
	char *s = read_file("/proc/self/stat");
	ck_assert_ptr_nonnull(s);
	char *p = strrchr(s, ')') + 2;
	for (int f = 3; f < n; f++)
		p = strchr(p, ' ') + 1;
	unsigned long long v = strtoull(p, NULL, 10);
	free(s);
	return v;
}

static double self_rss_bytes(void)
{
	char *s = read_file("/proc/self/status");
	ck_assert_ptr_nonnull(s);
	char *p = strstr(s, "VmRSS:");
	ck_assert_ptr_nonnull(p);
	double kb = strtod(p + 6, NULL);
	free(s);
	return kb * 1024;
}

START_TEST(real_proc_sees_this_test)
{
	harness h;
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", NULL, NULL, NULL), 0);
	cobs_batch *b = cobs_batch_new();
	double rss_before = self_rss_bytes();
	ck_assert_int_eq(harness_collect(&h, b), 0);
	double rss_after = self_rss_bytes();
	char pid[24], *btime_line;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	char *stat = read_file("/proc/stat");
	ck_assert_ptr_nonnull(stat);
	btime_line = strstr(stat, "btime ");
	ck_assert_ptr_nonnull(btime_line);
	double btime = strtod(btime_line + 6, NULL);
	free(stat);

	/* This process, by its comm (the executable's name, at most 15 bytes). */
	ck_assert_double_eq(VAL(b, "process_threads", "pid", pid, "comm", "test_procpid"), 1);
	/* starttime: field 22, in ticks after boot. */
	double want = btime + (double)self_stat_field(22) / (double)sysconf(_SC_CLK_TCK);
	ck_assert_double_eq(VAL(b, "process_start_time_seconds", "pid", pid), want);
	/* VmRSS moves a little while the test runs: between the readings around it, give
	 * or take 1 MiB. */
	double rss = VAL(b, "process_resident_memory_bytes", "pid", pid);
	double lo = rss_before < rss_after ? rss_before : rss_after;
	double hi = rss_before < rss_after ? rss_after : rss_before;
	ck_assert_msg(rss >= lo - 1048576 && rss <= hi + 1048576, "rss %.0f not in [%.0f, %.0f]",
	              rss, lo, hi);
	ck_assert_double_eq(VAL(b, "process_info", "pid", pid, "state", "R"), 1);
	double pct = VAL(b, "process_memory_percent", "pid", pid);
	ck_assert(pct > 0 && pct < 100);
	/* The parent that ran us is there too, and the node has a sane count. */
	char ppid[24];
	snprintf(ppid, sizeof(ppid), "%ld", (long)getppid());
	ck_assert_uint_ge(count_all(b, "pid", ppid), 10);
	ck_assert_double_gt(VAL(b, "node_processes_pids"), 10);
	ck_assert_double_gt(VAL(b, "node_processes_kernel_threads"), 0);
	/* A second pass: this process has a CPU %, and it is not negative. */
	ck_assert_int_eq(harness_collect(&h, b), 0);
	ck_assert_double_ge(VAL(b, "process_cpu_usage_percent", "pid", pid), 0);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procpid");
	TCase *tf = tcase_create("fixtures");
	tcase_add_test(tf, process_values_exact);
	tcase_add_test(tf, hostile_comms);
	tcase_add_test(tf, kernel_threads_and_zombies);
	tcase_add_test(tf, container_metrics_v2);
	tcase_add_test(tf, pods_and_networks);
	tcase_add_test(tf, cgroup_v1_node);
	tcase_add_test(tf, agent_in_its_own_cgroup_namespace);
	tcase_add_test(tf, cgroup_namespace_root_not_found);
	suite_add_tcase(s, tf);
	TCase *tp = tcase_create("passes");
	tcase_add_test(tp, rates_reuse_and_vanish);
	tcase_add_test(tp, vanished_mid_pass);
	tcase_add_test(tp, garbled_files);
	tcase_add_test(tp, processes_come_and_go_without_growth);
	tcase_add_test(tp, a_collection_in_parts_carries_the_same_samples);
	suite_add_tcase(s, tp);
	TCase *tr = tcase_create("resources");
	tcase_add_test(tr, fd_budget_and_reopening);
	tcase_add_test(tr, out_of_fds);
	tcase_add_test(tr, count_fds_and_cmdline_length);
	tcase_add_test(tr, config_errors);
	suite_add_tcase(s, tr);
	TCase *tm = tcase_create("real");
	tcase_add_test(tm, real_proc_sees_this_test);
	suite_add_tcase(s, tm);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
