/*
 * The JSON API (docs/api.md) against the real cobs-server: hand-built
 * batches for a few nodes (node figures, pods with containers and
 * processes, services, hostile names), then the exact JSON of every
 * endpoint, sorting, pagination, filters, 404s and 400s, and history.
 *
 * Exact: each answer is parsed and compared with json_equal to the whole
 * expected document (after removing the two wall-clock fields), so a key
 * added, dropped or renamed fails here before it breaks a user.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "test_server_util.h"

#define HOSTILE_NODE "h\"<x>&\\%?#;'"
#define HOSTILE_NS   "a/b"
#define HOSTILE_POD  "p\"<b>\n&\\"

static test_srv srv;
static int64_t t0, t1;       /* the two collections' timestamps */
static const char *gone_pid; /* a process the batches leave out (it exited) */

/* ---- batches ---- */

/* Adds one sample to family fam (created with help "h") with labels k, v, ..., NULL. */
static void add(cobs_batch *b, const char *fam, cobs_metric_type type, double v, ...)
{
	cobs_label l[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, v);
	for (const char *k; (k = va_arg(ap, const char *));) {
		l[n].name = k;
		l[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	cobs_family *f = cobs_batch_family(b, fam, "h", "", type);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cobs_family_add(b, f, v, l, n), 0);
}

#define G COBS_GAUGE
#define C COBS_COUNTER
#define I COBS_INFO

static void post(const cobs_batch *b, const char *node, uint64_t seq, uint64_t interval)
{
	cobs_buf body = {0};
	ck_assert_int_eq(make_body(b, node, "boot-1", seq, interval, COBS_WIRE_ZSTD, &body), 0);
	ck_assert_int_eq(post_body(&srv, &body, NULL), 204);
	cobs_buf_free(&body);
}

/* n1's node collectors; second: the later collection. */
static cobs_batch *n1_node(int second)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = second ? t1 : t0;
	add(b, "node_cpu_usage_percent", G, second ? 12 : 10, "cpu", "0", NULL);
	add(b, "node_cpu_usage_percent", G, second ? 32 : 30, "cpu", "1", NULL);
	add(b, "node_cpu_usage_percent", G, second ? 22 : 20, "cpu", "total", NULL);
	add(b, "node_memory_used_percent", G, second ? 41.5 : 40, NULL);
	add(b, "node_memory_MemTotal_bytes", G, 8589934592, NULL);
	add(b, "node_memory_MemAvailable_bytes", G, 5000000000, NULL);
	add(b, "node_load1", G, second ? 1.5 : 0.5, NULL);
	add(b, "node_load5", G, second ? 0.75 : 0.25, NULL);
	add(b, "node_load15", G, second ? 0.375 : 0.125, NULL);
	add(b, "node_network_receive_bytes_per_second", G, 1000, "device", "eth0", NULL);
	add(b, "node_network_receive_bytes_per_second", G, 24, "device", "eth1", NULL);
	add(b, "node_network_transmit_bytes_per_second", G, 500, "device", "eth0", NULL);
	add(b, "node_network_transmit_bytes_per_second", G, 12, "device", "eth1", NULL);
	add(b, "node_network_receive_bytes_total", C, 123456, "device", "eth0", NULL);
	add(b, "node_disk_read_bytes_per_second", G, 4096, "device", "sda", NULL);
	add(b, "node_disk_read_bytes_per_second", G, 2048, "device", "nvme0n1", NULL);
	add(b, "node_disk_written_bytes_per_second", G, 1024, "device", "sda", NULL);
	add(b, "node_disk_written_bytes_per_second", G, 512, "device", "nvme0n1", NULL);
	return b;
}

/* Labels of pod web-1's container app (procpid's order). */
#define APP                                                                                        \
	"namespace", "shop", "pod", "web-1", "container", "app", "pod_uid", "uid-a",               \
	        "container_id", "cid-app"
#define SIDE                                                                                       \
	"namespace", "shop", "pod", "web-1", "container", "sidecar", "pod_uid", "uid-a",           \
	        "container_id", "cid-side"
#define POD_A "namespace", "shop", "pod", "web-1", "pod_uid", "uid-a"
#define POD_C "namespace", HOSTILE_NS, "pod", HOSTILE_POD, "pod_uid", "uid-c"
#define CTR_C POD_C, "container", "c<1>", "container_id", "cid-c"

/* A process's series: the families the summary and the process page read. */
static void proc(cobs_batch *b, int second, const char *pid, const char *comm, double cpu,
                 double rss, double threads, const char *state, const char *cgroup,
                 const cobs_label *extra, size_t nextra)
{
	if (gone_pid && strcmp(pid, gone_pid) == 0)
		return;
	cobs_label l[16] = {{"pid", pid}, {"comm", comm}};
	size_t n = 2;
	for (size_t i = 0; i < nextra; i++)
		l[n++] = extra[i];
	const size_t base = n;
	cobs_family *f;
	if (second) {
		f = cobs_batch_family(b, "process_cpu_usage_percent", "h", "", G);
		cobs_family_add(b, f, cpu, l, base);
	}
	f = cobs_batch_family(b, "process_resident_memory_bytes", "h", "", G);
	cobs_family_add(b, f, rss, l, base);
	f = cobs_batch_family(b, "process_threads", "h", "", G);
	cobs_family_add(b, f, threads, l, base);
	f = cobs_batch_family(b, "process_cpu_seconds_total", "CPU time.", "seconds", C);
	l[base] = (cobs_label){"mode", "user"};
	cobs_family_add(b, f, second ? 1.5 : 1, l, base + 1);
	l[base] = (cobs_label){"mode", "system"};
	cobs_family_add(b, f, 0.5, l, base + 1);
	l[base] = (cobs_label){"state", state};
	l[base + 1] = (cobs_label){"ppid", "1"};
	l[base + 2] = (cobs_label){"cmdline", "run --flag \"x\""};
	l[base + 3] = (cobs_label){"cgroup", cgroup};
	f = cobs_batch_family(b, "process_info", "h", "", I);
	cobs_family_add(b, f, 1, l, base + 4);
	l[base] = (cobs_label){"seccomp", "2"};
	l[base + 1] = (cobs_label){"cpus_allowed_list", "0-1"};
	f = cobs_batch_family(b, "process_security_info", "h", "", I);
	cobs_family_add(b, f, 1, l, base + 2);
}

/* n1's procpid collection: pods web-1 (names known), uid-b (names unknown), a hostile one. */
static cobs_batch *n1_procpid(int second)
{
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = second ? t1 : t0;
	const char *pa = "/kubepods/pod-a", *app = "/kubepods/pod-a/cid-app",
	           *side = "/kubepods/pod-a/cid-side", *b1 = "/kubepods/besteffort/pod-b/cid-b1",
	           *c1 = "/kubepods/pod-c/cid-c", *ssh = "/system.slice/ssh.service";
	/* pod web-1: its own cgroup, two containers */
	add(b, "cobs_pod_info", I, 1, POD_A, "qos_class", "Burstable", "host_network", "false",
	    "phase", "Running", NULL);
	add(b, "kube_pod_labels", I, 1, POD_A, "label_app", "web", "label_tier", "front<1>", NULL);
	add(b, "container_cpu_usage_seconds_total", C, second ? 101.5 : 100, POD_A, "id", pa, NULL);
	add(b, "container_memory_working_set_bytes", G, 314572800, POD_A, "id", pa, NULL);
	add(b, "container_spec_memory_limit_bytes", G, 1073741824, POD_A, "id", pa, NULL);
	add(b, "container_cpu_usage_seconds_total", C, second ? 61 : 60, APP, "id", app, NULL);
	add(b, "container_cpu_cfs_periods_total", C, second ? 1050 : 1000, APP, "id", app, NULL);
	add(b, "container_cpu_cfs_throttled_periods_total", C, second ? 110 : 100, APP, "id", app,
	    NULL);
	add(b, "container_cpu_cfs_throttled_seconds_total", C, 3.5, APP, "id", app, NULL);
	add(b, "container_spec_cpu_quota", G, 50000, APP, "id", app, NULL);
	add(b, "container_spec_cpu_period", G, 100000, APP, "id", app, NULL);
	add(b, "container_memory_usage_bytes", G, 262144000, APP, "id", app, NULL);
	add(b, "container_memory_working_set_bytes", G, 209715200, APP, "id", app, NULL);
	add(b, "container_spec_memory_limit_bytes", G, 536870912, APP, "id", app, NULL);
	add(b, "container_memory_rss", G, 104857600, APP, "id", app, NULL);
	add(b, "container_memory_cache", G, 52428800, APP, "id", app, NULL);
	add(b, "container_memory_swap", G, 0, APP, "id", app, NULL);
	add(b, "container_memory_oom_kills_total", C, 2, APP, "id", app, NULL);
	add(b, "container_oom_events_total", C, 3, APP, "id", app, NULL);
	add(b, "container_fs_reads_bytes_total", C, second ? 6000 : 1000, APP, "id", app, "device",
	    "8:0", NULL);
	add(b, "container_fs_reads_bytes_total", C, second ? 5000 : 0, APP, "id", app, "device",
	    "8:16", NULL);
	add(b, "container_fs_writes_bytes_total", C, second ? 2560 : 0, APP, "id", app, "device",
	    "8:0", NULL);
	add(b, "container_threads", G, 12, APP, "id", app, NULL);
	add(b, "container_threads_max", G, 0, APP, "id", app, NULL);
	add(b, "cobs_container_info", I, 1, APP, "runtime", "containerd", "id", app, "image",
	    "nginx:1.25", NULL);
	add(b, "kube_pod_container_status_restarts_total", C, 1, APP, NULL);
	add(b, "container_cpu_usage_seconds_total", C, second ? 10.5 : 10, SIDE, "id", side, NULL);
	add(b, "container_memory_working_set_bytes", G, 52428800, SIDE, "id", side, NULL);
	add(b, "container_spec_memory_limit_bytes", G, 0, SIDE, "id", side, NULL);
	add(b, "kube_pod_container_status_restarts_total", C, 2, SIDE, NULL);
	add(b, "container_network_receive_bytes_total", C, second ? 15000 : 10000, POD_A,
	    "interface", "eth0", NULL);
	add(b, "container_network_transmit_bytes_total", C, second ? 7500 : 5000, POD_A,
	    "interface", "eth0", NULL);
	/* pod uid-b: no names, no pod cgroup */
	add(b, "cobs_pod_info", I, 1, "pod_uid", "uid-b", "qos_class", "BestEffort", "host_network",
	    "true", NULL);
	add(b, "container_cpu_usage_seconds_total", C, 5, "pod_uid", "uid-b", "container_id",
	    "cid-b1", "id", b1, NULL);
	add(b, "container_memory_working_set_bytes", G, 1048576, "pod_uid", "uid-b", "container_id",
	    "cid-b1", "id", b1, NULL);
	/* the hostile pod */
	add(b, "cobs_pod_info", I, 1, POD_C, "qos_class", "Guaranteed", NULL);
	add(b, "container_cpu_usage_seconds_total", C, second ? 2 : 1, CTR_C, "id", c1, NULL);
	add(b, "container_memory_working_set_bytes", G, 1000, CTR_C, "id", c1, NULL);
	add(b, "container_spec_memory_limit_bytes", G, 4096, CTR_C, "id", c1, NULL);
	/* a service */
	add(b, "container_cpu_usage_seconds_total", C, second ? 20.25 : 20, "id", ssh, NULL);
	add(b, "container_memory_working_set_bytes", G, 4194304, "id", ssh, NULL);

	cobs_label la[] = {{"namespace", "shop"},
	                   {"pod", "web-1"},
	                   {"container", "app"},
	                   {"pod_uid", "uid-a"},
	                   {"container_id", "cid-app"}};
	cobs_label ls[] = {{"namespace", "shop"},
	                   {"pod", "web-1"},
	                   {"container", "sidecar"},
	                   {"pod_uid", "uid-a"},
	                   {"container_id", "cid-side"}};
	cobs_label lb[] = {{"pod_uid", "uid-b"}, {"container_id", "cid-b1"}};
	cobs_label lc[] = {{"namespace", HOSTILE_NS},
	                   {"pod", HOSTILE_POD},
	                   {"pod_uid", "uid-c"},
	                   {"container", "c<1>"},
	                   {"container_id", "cid-c"}};
	proc(b, second, "1", "systemd", 0, 8388608, 1, "S", "/init.scope", NULL, 0);
	proc(b, second, "50", "sshd", 0.5, 4194304, 1, "S", ssh, NULL, 0);
	proc(b, second, "100", "nginx", 15, 10485760, 4, "S", app, la, 5);
	proc(b, second, "101", "nginx", 5, 5242880, 4, "R", app, la, 5);
	proc(b, second, "200", "envoy", 10, 20971520, 8, "S", side, ls, 5);
	proc(b, second, "300", "evil<\"\n>", 0.5, 1000, 1, "S", b1, lb, 2);
	proc(b, second, "400", "\xff\xfe", 2.5, 2000, 2, "S", c1, lc, 5);
	return b;
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Starts a server and feeds it n1 (two collections), n2, n3 (down soon) and a hostile node. */
static void fleet(void)
{
	if (tsrv_start(&srv, NULL, NULL) < 0) {
		char *log = tsrv_log(&srv);
		ck_abort_msg("server did not start: %s", log);
	}
	t0 = wall_ms() - 20000;
	t1 = t0 + 5000;
	uint64_t seq = 1;
	for (int second = 0; second < 2; second++) {
		cobs_batch *b = n1_node(second);
		post(b, "n1", seq++, 5000);
		cobs_batch_free(b);
		b = n1_procpid(second);
		post(b, "n1", seq++, 5000);
		cobs_batch_free(b);
	}
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = t1;
	add(b, "node_cpu_usage_percent", G, 80, "cpu", "total", NULL);
	add(b, "node_memory_used_percent", G, 90, NULL);
	add(b, "node_load1", G, 4, NULL);
	post(b, "n2", 1, 5000);
	cobs_batch_free(b);
	b = cobs_batch_new();
	b->timestamp_ms = t1;
	add(b, "node_cpu_usage_percent", G, 50, "cpu", "total", NULL);
	post(b, "n3", 1, 100); /* a 100 ms interval: down half a second later */
	cobs_batch_free(b);
	b = cobs_batch_new();
	b->timestamp_ms = t1;
	add(b, "test_hostile", G, 7, "path", "a\"b\\c\nd</script>", NULL);
	post(b, HOSTILE_NODE, 1, 5000);
	cobs_batch_free(b);
}

static void stop_ok(void)
{
	ck_assert_int_eq(tsrv_stop(&srv), 0);
}

/* ---- requests ---- */

/* s percent-encoded as one path segment or query value (static buffer, one at a time). */
static const char *enc(const char *s)
{
	static char out[2048];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < sizeof(out); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
	}
	out[o] = '\0';
	return out;
}

/* Removes the wall-clock fields, at any depth. */
static void strip(json_t *j)
{
	if (json_is_object(j)) {
		json_object_del(j, "last_seen_ms");
		json_object_del(j, "last_seen_seconds_ago");
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) strip(v);
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) strip(v);
	}
}

/* GET path (after the base URL): the parsed body, the status checked, as JSON. */
static json_t *get(const char *path, long status)
{
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, path), NULL, &r), 0);
	ck_assert_msg(r.status == status, "GET %s: %ld, want %ld: %s", path, r.status, status,
	              r.body);
	ck_assert_str_eq(r.ctype, "application/json");
	json_error_t err;
	json_t *j = json_loads(r.body, 0, &err);
	ck_assert_msg(j != NULL, "GET %s: not JSON (%s): %s", path, err.text, r.body);
	http_resp_free(&r);
	return j;
}

static void expect_json(json_t *got, const char *want_text)
{
	json_error_t err;
	json_t *want = json_loads(want_text, 0, &err);
	ck_assert_msg(want != NULL, "bad expected JSON (%s, line %d col %d): %s", err.text,
	              err.line, err.column, want_text);
	strip(got);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
		char *w = json_dumps(want, JSON_INDENT(1) | JSON_SORT_KEYS);
		/* Check's messages are bounded: the documents go to stderr */
		fprintf(stderr, "--- got:\n%s\n--- want:\n%s\n", g, w);
		ck_abort_msg("JSON differs (both printed on stderr)");
	}
	json_decref(want);
	json_decref(got);
}

static void expect(const char *path, long status, const char *want_text)
{
	expect_json(get(path, status), want_text);
}

/* A 4xx with {"error": "..."} containing part. */
static void expect_error(const char *path, long status, const char *part)
{
	json_t *j = get(path, status);
	const char *e = json_string_value(json_object_get(j, "error"));
	ck_assert_msg(e && strstr(e, part), "GET %s: error '%s' lacks '%s'", path, e ? e : "",
	              part);
	ck_assert_uint_eq(json_object_size(j), 1);
	json_decref(j);
}

/* The names in a nodes answer, comma-separated (static buffer). */
static const char *names(json_t *j, const char *list, const char *key)
{
	static char out[1024];
	size_t o = 0;
	out[0] = '\0';
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, list), i, v)
	{
		const char *n = json_string_value(json_object_get(v, key));
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? "," : "",
		                      n ? n : "null");
	}
	return out;
}

static void expect_names(const char *path, const char *list, const char *key, const char *want)
{
	json_t *j = get(path, 200);
	ck_assert_str_eq(names(j, list, key), want);
	json_decref(j);
}

/* ---- expected documents ---- */

#define NODE_N1                                                                                      \
	"{\"name\":\"n1\",\"state\":\"up\",\"agent_version\":\"0.1.0-test\",\"boot_id\":\"boot-1\"," \
	"\"interval_ms\":5000,\"cpu_percent\":22,\"cpu_count\":2,\"memory_percent\":41.5,"           \
	"\"memory_total_bytes\":8589934592,\"memory_available_bytes\":5000000000,\"load1\":1.5,"     \
	"\"load5\":0.75,\"load15\":0.375,\"network_receive_bytes_per_second\":1024,"                 \
	"\"network_transmit_bytes_per_second\":512,\"disk_read_bytes_per_second\":6144,"             \
	"\"disk_write_bytes_per_second\":1536,\"pod_count\":3,\"process_count\":7}"

#define NODE_N2                                                                                      \
	"{\"name\":\"n2\",\"state\":\"up\",\"agent_version\":\"0.1.0-test\",\"boot_id\":\"boot-1\"," \
	"\"interval_ms\":5000,\"cpu_percent\":80,\"cpu_count\":null,\"memory_percent\":90,"          \
	"\"memory_total_bytes\":null,\"memory_available_bytes\":null,\"load1\":4,\"load5\":null,"    \
	"\"load15\":null,\"network_receive_bytes_per_second\":null,"                                 \
	"\"network_transmit_bytes_per_second\":null,\"disk_read_bytes_per_second\":null,"            \
	"\"disk_write_bytes_per_second\":null,\"pod_count\":0,\"process_count\":0}"

/* Pod summaries. */
#define POD_SUM_A                                                                                   \
	"{\"namespace\":\"shop\",\"name\":\"web-1\",\"uid\":\"uid-a\",\"qos_class\":\"Burstable\"," \
	"\"phase\":\"Running\",\"host_network\":false,\"container_count\":2,\"process_count\":3,"   \
	"\"restarts\":3,\"cpu_cores\":0.3,\"memory_working_set_bytes\":314572800,"                  \
	"\"memory_limit_bytes\":1073741824,\"network_receive_bytes_per_second\":1000,"              \
	"\"network_transmit_bytes_per_second\":500,\"network_receive_bytes_total\":15000,"          \
	"\"network_transmit_bytes_total\":7500,\"fs_read_bytes_per_second\":2000,"                  \
	"\"fs_write_bytes_per_second\":512"
#define POD_SUM_B                                                                                  \
	"{\"namespace\":null,\"name\":null,\"uid\":\"uid-b\",\"qos_class\":\"BestEffort\","        \
	"\"phase\":null,\"host_network\":true,\"container_count\":1,\"process_count\":1,"          \
	"\"restarts\":null,\"cpu_cores\":0,\"memory_working_set_bytes\":1048576,"                  \
	"\"memory_limit_bytes\":null,\"network_receive_bytes_per_second\":null,"                   \
	"\"network_transmit_bytes_per_second\":null,\"network_receive_bytes_total\":null,"         \
	"\"network_transmit_bytes_total\":null,\"fs_read_bytes_per_second\":null,"                 \
	"\"fs_write_bytes_per_second\":null"
#define POD_SUM_C                                                                                    \
	"{\"namespace\":\"a/b\",\"name\":\"p\\\"<b>\\n&\\\\\",\"uid\":\"uid-c\","                    \
	"\"qos_class\":\"Guaranteed\",\"phase\":null,\"host_network\":null,\"container_count\":1,"   \
	"\"process_count\":1,\"restarts\":null,\"cpu_cores\":0.2,\"memory_working_set_bytes\":1000," \
	"\"memory_limit_bytes\":4096,\"network_receive_bytes_per_second\":null,"                     \
	"\"network_transmit_bytes_per_second\":null,\"network_receive_bytes_total\":null,"           \
	"\"network_transmit_bytes_total\":null,\"fs_read_bytes_per_second\":null,"                   \
	"\"fs_write_bytes_per_second\":null"

/* A cgroup object: every key null but the kind and those given (a JSON object's members). */
static char *cgroup(const char *kind, const char *members)
{
	static const char *const keys[] = {
	        "name",
	        "container_id",
	        "cgroup",
	        "image",
	        "runtime",
	        "restarts",
	        "process_count",
	        "cpu_cores",
	        "cpu_seconds_total",
	        "cpu_limit_cores",
	        "cpu_throttled_percent",
	        "cpu_throttled_seconds_total",
	        "cpu_throttled_periods_total",
	        "cpu_periods_total",
	        "memory_usage_bytes",
	        "memory_working_set_bytes",
	        "memory_limit_bytes",
	        "memory_limit_percent",
	        "memory_max_usage_bytes",
	        "memory_rss_bytes",
	        "memory_cache_bytes",
	        "memory_swap_bytes",
	        "oom_kills_total",
	        "oom_events_total",
	        "fs_read_bytes_per_second",
	        "fs_write_bytes_per_second",
	        "fs_read_bytes_total",
	        "fs_write_bytes_total",
	        "threads",
	        "threads_max",
	};
	char *text;
	ck_assert_int_ge(asprintf(&text, "{%s}", members), 0);
	json_error_t err;
	json_t *given = json_loads(text, 0, &err);
	ck_assert_msg(given != NULL, "bad members (%s): %s", err.text, text);
	free(text);
	json_t *o = json_pack("{s:s}", "kind", kind);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(o, keys[i], json_null());
	/* a service's process rows come with it (the node endpoint) */
	size_t want = 31 + (json_object_get(given, "processes") != NULL);
	json_object_update(o, given);
	json_decref(given);
	ck_assert_uint_eq(json_object_size(o), want); /* nothing misspelt in members */
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static char *cg_app(void)
{
	return cgroup("container",
	              "\"name\":\"app\",\"container_id\":\"cid-app\","
	              "\"cgroup\":\"/kubepods/pod-a/cid-app\",\"image\":\"nginx:1.25\","
	              "\"runtime\":\"containerd\",\"restarts\":1,\"process_count\":2,"
	              "\"cpu_cores\":0.2,\"cpu_seconds_total\":61,\"cpu_limit_cores\":0.5,"
	              "\"cpu_throttled_percent\":20,\"cpu_throttled_seconds_total\":3.5,"
	              "\"cpu_throttled_periods_total\":110,\"cpu_periods_total\":1050,"
	              "\"memory_usage_bytes\":262144000,\"memory_working_set_bytes\":209715200,"
	              "\"memory_limit_bytes\":536870912,\"memory_limit_percent\":39.0625,"
	              "\"memory_rss_bytes\":104857600,\"memory_cache_bytes\":52428800,"
	              "\"memory_swap_bytes\":0,\"oom_kills_total\":2,\"oom_events_total\":3,"
	              "\"fs_read_bytes_per_second\":2000,\"fs_write_bytes_per_second\":512,"
	              "\"fs_read_bytes_total\":11000,\"fs_write_bytes_total\":2560,"
	              "\"threads\":12");
}

/* A process row. */
#define PROC(pid, comm, state, cpu, rss, threads)                                                  \
	"{\"pid\":" pid ",\"comm\":" comm ",\"state\":\"" state "\",\"cpu_percent\":" cpu          \
	",\"resident_memory_bytes\":" rss ",\"memory_percent\":null,\"threads\":" threads          \
	",\"io_read_bytes_per_second\":null,\"io_write_bytes_per_second\":null}"

/* ---- tests ---- */

START_TEST(nodes_list_sorts_filters_and_pages)
{
	fleet();
	/* n3 said 100 ms: down after 5 intervals; the others stay up for 10 s */
	usleep(700 * 1000);
	char want[8192];
	snprintf(want, sizeof(want),
	         "{\"total\":2,\"offset\":0,\"limit\":2,\"count\":2,"
	         "\"states\":{\"up\":3,\"stale\":0,\"down\":1},\"nodes\":[%s,%s]}",
	         NODE_N1, NODE_N2);
	expect("api/v1/nodes?filter=n&state=up&limit=2", 200, want);

	/* every node is there, with the wall-clock fields */
	json_t *j = get("api/v1/nodes", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "total")), 4);
	json_t *first = json_array_get(json_object_get(j, "nodes"), 1);
	ck_assert(json_integer_value(json_object_get(first, "last_seen_ms")) > t0);
	double ago = json_number_value(json_object_get(first, "last_seen_seconds_ago"));
	ck_assert(ago >= 0 && ago < 60);
	ck_assert_str_eq(names(j, "nodes", "name"), HOSTILE_NODE ",n1,n2,n3");
	json_decref(j);

	expect_names("api/v1/nodes?sort=name&order=desc", "nodes", "name",
	             "n3,n2,n1," HOSTILE_NODE);
	/* figures sort from the largest; nodes without the figure come last either way */
	expect_names("api/v1/nodes?sort=cpu", "nodes", "name", "n2,n3,n1," HOSTILE_NODE);
	expect_names("api/v1/nodes?sort=cpu&order=asc", "nodes", "name", "n1,n3,n2," HOSTILE_NODE);
	expect_names("api/v1/nodes?sort=memory", "nodes", "name", "n2,n1," HOSTILE_NODE ",n3");
	expect_names("api/v1/nodes?sort=processes", "nodes", "name", "n1," HOSTILE_NODE ",n2,n3");
	expect_names("api/v1/nodes?limit=2&offset=1", "nodes", "name", "n1,n2");
	expect_names("api/v1/nodes?limit=2&offset=3", "nodes", "name", "n3");
	expect_names("api/v1/nodes?offset=9", "nodes", "name", "");
	expect_names("api/v1/nodes?filter=N", "nodes", "name", "n1,n2,n3");
	char path[256];
	snprintf(path, sizeof(path), "api/v1/nodes?filter=%s", enc("<x>&"));
	expect_names(path, "nodes", "name", HOSTILE_NODE);
	j = get("api/v1/nodes?limit=0", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "total")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 0);
	json_decref(j);

	expect_names("api/v1/nodes?state=down", "nodes", "name", "n3");
	expect_names("api/v1/nodes?state=up,stale", "nodes", "name", HOSTILE_NODE ",n1,n2");
	expect_names("api/v1/nodes?sort=state", "nodes", "name", HOSTILE_NODE ",n1,n2,n3");
	j = get("api/v1/nodes?state=down", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "states"), "down")),
	                 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "total")), 1);
	json_decref(j);

	expect_error("api/v1/nodes?sort=bogus", 400, "sort must be one of");
	expect_error("api/v1/nodes?order=up", 400, "order must be asc or desc");
	expect_error("api/v1/nodes?state=gone", 400, "state must be");
	expect_error("api/v1/nodes?limit=1001", 400, "limit must be");
	expect_error("api/v1/nodes?limit=-1", 400, "limit must be");
	expect_error("api/v1/nodes?offset=x", 400, "offset must be");
	expect_error("api/v1/nodes?filter=%zz", 400, "malformed query string");
	stop_ok();
}
END_TEST

START_TEST(node_page_has_everything)
{
	fleet();
	char *init = cgroup("service", "\"cgroup\":\"/init.scope\",\"process_count\":1,"
	                               "\"processes\":[" PROC("1", "\"systemd\"", "S", "0",
	                                                      "8388608", "1") "]");
	char *ssh =
	        cgroup("service",
	               "\"cgroup\":\"/system.slice/ssh.service\",\"process_count\":1,"
	               "\"cpu_cores\":0.05,\"cpu_seconds_total\":20.25,"
	               "\"memory_working_set_bytes\":4194304,"
	               "\"processes\":[" PROC("50", "\"sshd\"", "S", "0.5", "4194304", "1") "]");
	char want[32768];
	snprintf(
	        want, sizeof(want),
	        "{\"node\":%s,"
	        "\"cpus\":[{\"cpu\":\"0\",\"usage_percent\":12},{\"cpu\":\"1\",\"usage_percent\":32}],"
	        "\"memory\":{\"total_bytes\":8589934592,\"available_bytes\":5000000000,"
	        "\"used_percent\":41.5,\"free_bytes\":null,\"buffers_bytes\":null,"
	        "\"cached_bytes\":null,\"swap_total_bytes\":null,\"swap_free_bytes\":null},"
	        "\"interfaces\":["
	        "{\"device\":\"eth0\",\"receive_bytes_per_second\":1000,"
	        "\"transmit_bytes_per_second\":500,\"receive_bytes_total\":123456,"
	        "\"transmit_bytes_total\":null,\"receive_packets_total\":null,"
	        "\"transmit_packets_total\":null,\"receive_errors_total\":null,"
	        "\"transmit_errors_total\":null,\"receive_drops_total\":null,"
	        "\"transmit_drops_total\":null},"
	        "{\"device\":\"eth1\",\"receive_bytes_per_second\":24,"
	        "\"transmit_bytes_per_second\":12,\"receive_bytes_total\":null,"
	        "\"transmit_bytes_total\":null,\"receive_packets_total\":null,"
	        "\"transmit_packets_total\":null,\"receive_errors_total\":null,"
	        "\"transmit_errors_total\":null,\"receive_drops_total\":null,"
	        "\"transmit_drops_total\":null}],"
	        "\"disks\":["
	        "{\"device\":\"nvme0n1\",\"read_bytes_per_second\":2048,"
	        "\"write_bytes_per_second\":512,\"reads_per_second\":null,"
	        "\"writes_per_second\":null,\"read_bytes_total\":null,"
	        "\"written_bytes_total\":null,\"reads_completed_total\":null,"
	        "\"writes_completed_total\":null,\"io_now\":null,\"io_time_seconds_total\":null},"
	        "{\"device\":\"sda\",\"read_bytes_per_second\":4096,"
	        "\"write_bytes_per_second\":1024,\"reads_per_second\":null,"
	        "\"writes_per_second\":null,\"read_bytes_total\":null,"
	        "\"written_bytes_total\":null,\"reads_completed_total\":null,"
	        "\"writes_completed_total\":null,\"io_now\":null,\"io_time_seconds_total\":null}],"
	        "\"pods\":[%s},%s},%s}],"
	        "\"services\":[%s,%s]}",
	        NODE_N1, POD_SUM_B, POD_SUM_C, POD_SUM_A, init, ssh);
	expect("api/v1/nodes/n1", 200, want);

	/* a node with node figures only */
	snprintf(want, sizeof(want),
	         "{\"node\":%s,\"cpus\":[],\"memory\":{\"total_bytes\":null,"
	         "\"available_bytes\":null,\"used_percent\":90,\"free_bytes\":null,"
	         "\"buffers_bytes\":null,\"cached_bytes\":null,\"swap_total_bytes\":null,"
	         "\"swap_free_bytes\":null},\"interfaces\":[],\"disks\":[],\"pods\":[],"
	         "\"services\":[]}",
	         NODE_N2);
	expect("api/v1/nodes/n2", 200, want);

	/* the hostile name, percent-encoded in the path, comes back exactly */
	char path[512];
	snprintf(path, sizeof(path), "api/v1/nodes/%s", enc(HOSTILE_NODE));
	json_t *j = get(path, 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "node"), "name")),
	                 HOSTILE_NODE);
	json_decref(j);

	expect_error("api/v1/nodes/nope", 404, "no node nope");
	expect_error("api/v1/nodes/a%20b", 404, "no node a b");
	expect_error("api/v1/nodes/n1/bogus", 404, "no such endpoint");
	free(init);
	free(ssh);
	stop_ok();
}
END_TEST

START_TEST(pods_list_and_filters)
{
	fleet();
	char want[16384];
	snprintf(want, sizeof(want), "{\"node\":\"n1\",\"total\":3,\"pods\":[%s},%s},%s}]}",
	         POD_SUM_A, POD_SUM_C, POD_SUM_B);
	expect("api/v1/nodes/n1/pods?sort=cpu", 200, want);
	snprintf(want, sizeof(want), "{\"node\":\"n1\",\"total\":1,\"pods\":[%s}]}", POD_SUM_A);
	expect("api/v1/nodes/n1/pods?namespace=shop", 200, want);
	expect_names("api/v1/nodes/n1/pods", "pods", "uid", "uid-b,uid-c,uid-a");
	expect_names("api/v1/nodes/n1/pods?sort=name&order=desc", "pods", "uid",
	             "uid-a,uid-c,uid-b");
	expect_names("api/v1/nodes/n1/pods?sort=namespace", "pods", "uid", "uid-b,uid-c,uid-a");
	expect_names("api/v1/nodes/n1/pods?sort=memory", "pods", "uid", "uid-a,uid-b,uid-c");
	expect_names("api/v1/nodes/n1/pods?sort=restarts", "pods", "uid", "uid-a,uid-b,uid-c");
	expect_names("api/v1/nodes/n1/pods?sort=network&order=asc", "pods", "uid",
	             "uid-a,uid-b,uid-c");
	expect_names("api/v1/nodes/n1/pods?filter=WEB", "pods", "uid", "uid-a");
	char path[256];
	snprintf(path, sizeof(path), "api/v1/nodes/n1/pods?namespace=%s", enc(HOSTILE_NS));
	expect_names(path, "pods", "uid", "uid-c");
	expect_names("api/v1/nodes/n1/pods?namespace=none", "pods", "uid", "");
	expect("api/v1/nodes/n2/pods", 200, "{\"node\":\"n2\",\"total\":0,\"pods\":[]}");
	expect_error("api/v1/nodes/n1/pods?sort=size", 400, "sort must be one of");
	expect_error("api/v1/nodes/n1/pods?order=sideways", 400, "order must be");
	expect_error("api/v1/nodes/nope/pods", 404, "no node nope");
	stop_ok();
}
END_TEST

START_TEST(pod_page_has_containers_limits_processes)
{
	fleet();
	char *app = cg_app();
	char *side = cgroup("container",
	                    "\"name\":\"sidecar\",\"container_id\":\"cid-side\","
	                    "\"cgroup\":\"/kubepods/pod-a/cid-side\",\"restarts\":2,"
	                    "\"process_count\":1,\"cpu_cores\":0.1,\"cpu_seconds_total\":10.5,"
	                    "\"memory_working_set_bytes\":52428800");
	char *own = cgroup("pod",
	                   "\"cgroup\":\"/kubepods/pod-a\",\"process_count\":0,\"cpu_cores\":0.3,"
	                   "\"cpu_seconds_total\":101.5,\"memory_working_set_bytes\":314572800,"
	                   "\"memory_limit_bytes\":1073741824,\"memory_limit_percent\":29.296875");
	/* the container objects gain their processes */
	app[strlen(app) - 1] = '\0';
	side[strlen(side) - 1] = '\0';
	char want[32768];
	snprintf(want, sizeof(want),
	         "{\"node\":\"n1\",\"pod\":%s,\"labels\":{\"app\":\"web\",\"tier\":\"front<1>\"}},"
	         "\"cgroup\":%s,\"containers\":[%s,\"processes\":[%s,%s]},%s,\"processes\":[%s]}],"
	         "\"processes\":[]}",
	         POD_SUM_A, own, app, PROC("100", "\"nginx\"", "S", "15", "10485760", "4"),
	         PROC("101", "\"nginx\"", "R", "5", "5242880", "4"), side,
	         PROC("200", "\"envoy\"", "S", "10", "20971520", "8"));
	expect("api/v1/nodes/n1/pods/shop/web-1", 200, want);

	/* names unknown: "_" and the UID */
	json_t *j = get("api/v1/nodes/n1/pods/_/uid-b", 200);
	json_t *ctrs = json_object_get(j, "containers");
	ck_assert_uint_eq(json_array_size(ctrs), 1);
	json_t *c0 = json_array_get(ctrs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(c0, "container_id")), "cid-b1");
	ck_assert(json_is_null(json_object_get(c0, "name")));
	ck_assert_int_eq(json_integer_value(json_object_get(c0, "cpu_cores")), 0);
	json_t *p0 = json_array_get(json_object_get(c0, "processes"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(p0, "comm")), "evil<\"\n>");
	ck_assert(json_is_null(json_object_get(j, "cgroup")));
	ck_assert_uint_eq(json_object_size(json_object_get(json_object_get(j, "pod"), "labels")),
	                  0);
	json_decref(j);

	/* hostile namespace and name round-trip through the path */
	char path[512];
	int n = snprintf(path, sizeof(path), "api/v1/nodes/n1/pods/%s/", enc(HOSTILE_NS));
	snprintf(path + n, sizeof(path) - (size_t)n, "%s", enc(HOSTILE_POD));
	j = get(path, 200);
	json_t *pod = json_object_get(j, "pod");
	ck_assert_str_eq(json_string_value(json_object_get(pod, "namespace")), HOSTILE_NS);
	ck_assert_str_eq(json_string_value(json_object_get(pod, "name")), HOSTILE_POD);
	c0 = json_array_get(json_object_get(j, "containers"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c0, "name")), "c<1>");
	p0 = json_array_get(json_object_get(c0, "processes"), 0);
	/* a comm that is not UTF-8 comes out with U+FFFD for each bad byte */
	ck_assert_str_eq(json_string_value(json_object_get(p0, "comm")),
	                 "\xEF\xBF\xBD\xEF\xBF\xBD");
	json_decref(j);

	expect_error("api/v1/nodes/n1/pods/shop/web-2", 404, "no pod shop/web-2 on node n1");
	expect_error("api/v1/nodes/n1/pods/_/uid-z", 404, "no pod");
	expect_error("api/v1/nodes/n2/pods/shop/web-1", 404, "no pod");
	expect_error("api/v1/nodes/nope/pods/shop/web-1", 404, "no node");
	free(app);
	free(side);
	free(own);
	stop_ok();
}
END_TEST

START_TEST(process_page_has_every_field)
{
	fleet();
	json_t *j = get("api/v1/nodes/n1/processes/100", 200);
	json_t *metrics = json_object_get(j, "metrics");
	/* the collection's time, apart: the rest is compared whole */
	const char *k;
	json_t *v;
	json_object_foreach(metrics, k, v)
	{
		ck_assert_int_eq(json_integer_value(json_object_get(v, "timestamp_ms")), t1);
		json_object_del(v, "timestamp_ms");
	}
	expect_json(
	        j, "{\"node\":\"n1\",\"pid\":100,\"comm\":\"nginx\",\"namespace\":\"shop\","
	           "\"pod\":\"web-1\",\"pod_uid\":\"uid-a\",\"container\":\"app\","
	           "\"container_id\":\"cid-app\",\"state\":\"S\",\"ppid\":1,"
	           "\"cmdline\":\"run --flag \\\"x\\\"\",\"cgroup\":\"/kubepods/pod-a/cid-app\","
	           "\"info\":{\"process_info\":{\"state\":\"S\",\"ppid\":\"1\","
	           "\"cmdline\":\"run --flag \\\"x\\\"\",\"cgroup\":\"/kubepods/pod-a/cid-app\"},"
	           "\"process_security_info\":{\"seccomp\":\"2\",\"cpus_allowed_list\":\"0-1\"}},"
	           "\"metrics\":{"
	           "\"process_resident_memory_bytes\":{\"type\":\"gauge\",\"unit\":\"\","
	           "\"help\":\"h\",\"samples\":[{\"labels\":{},\"value\":10485760}]},"
	           "\"process_threads\":{\"type\":\"gauge\",\"unit\":\"\",\"help\":\"h\","
	           "\"samples\":[{\"labels\":{},\"value\":4}]},"
	           "\"process_cpu_seconds_total\":{\"type\":\"counter\",\"unit\":\"seconds\","
	           "\"help\":\"CPU time.\",\"samples\":[{\"labels\":{\"mode\":\"user\"},"
	           "\"value\":1.5},{\"labels\":{\"mode\":\"system\"},\"value\":0.5}]},"
	           "\"process_cpu_usage_percent\":{\"type\":\"gauge\",\"unit\":\"\",\"help\":\"h\","
	           "\"samples\":[{\"labels\":{},\"value\":15}]}}}");

	/* a process outside Kubernetes, and one with a hostile comm */
	j = get("api/v1/nodes/n1/processes/50", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "cgroup")),
	                 "/system.slice/ssh.service");
	ck_assert(json_is_null(json_object_get(j, "pod")));
	json_decref(j);
	j = get("api/v1/nodes/n1/processes/0300", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")), 300);
	ck_assert_str_eq(json_string_value(json_object_get(j, "comm")), "evil<\"\n>");
	json_decref(j);

	expect_error("api/v1/nodes/n1/processes/99999", 404, "no process 99999 on node n1");
	expect_error("api/v1/nodes/n2/processes/100", 404, "no process");
	expect_error("api/v1/nodes/n1/processes/abc", 400, "pid must be");
	expect_error("api/v1/nodes/n1/processes/-1", 400, "pid must be");
	expect_error("api/v1/nodes/nope/processes/1", 404, "no node");
	stop_ok();
}
END_TEST

START_TEST(series_history_in_range)
{
	fleet();
	char path[1024], want[4096];
	snprintf(want, sizeof(want),
	         "{\"name\":\"node_load1\",\"from\":%lld,\"to\":null,\"max_points\":1000,"
	         "\"max_series\":100,\"truncated\":false,\"series\":["
	         "{\"node\":\"n1\",\"labels\":{},\"points_in_range\":2,\"step\":1,"
	         "\"points\":[[%lld,0.5],[%lld,1.5]]}]}",
	         (long long)t0, (long long)t0, (long long)t1);
	snprintf(path, sizeof(path), "api/v1/series?name=node_load1&node=n1&from=%lld",
	         (long long)t0);
	expect(path, 200, want);

	/* from/to bound the points; both ends are inclusive */
	snprintf(path, sizeof(path), "api/v1/series?name=node_load1&node=n1&from=%lld&to=%lld",
	         (long long)t1, (long long)t1);
	json_t *j = get(path, 200);
	json_t *s0 = json_array_get(json_object_get(j, "series"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "to")), t1);
	ck_assert_uint_eq(json_array_size(json_object_get(s0, "points")), 1);
	ck_assert(json_real_value(json_array_get(json_array_get(json_object_get(s0, "points"), 0),
	                                         1)) == 1.5);
	json_decref(j);

	/* max_points thins from the newest back */
	snprintf(want, sizeof(want),
	         "[{\"node\":\"n1\",\"labels\":{},\"points_in_range\":2,\"step\":2,"
	         "\"points\":[[%lld,1.5]]}]",
	         (long long)t1);
	j = get("api/v1/series?name=node_load1&node=n1&from=-1h&max_points=1", 200);
	expect_json(json_incref(json_object_get(j, "series")), want);
	json_decref(j);

	/* relative times: the last second holds none of them */
	j = get("api/v1/series?name=node_load1&node=n1&from=-1s", 200);
	s0 = json_array_get(json_object_get(j, "series"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(s0, "points_in_range")), 0);
	json_decref(j);

	/* every node, matchers, and the series bound */
	expect_names("api/v1/series?name=node_cpu_usage_percent&from=-1h", "series", "node",
	             "n1,n1,n1,n2,n3");
	j = get("api/v1/series?name=node_cpu_usage_percent&match[]=cpu%3D%22total%22"
	        "&max_series=2",
	        200);
	ck_assert_str_eq(names(j, "series", "node"), "n1,n2");
	ck_assert(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	expect_names("api/v1/series?name=node_cpu_usage_percent&node=n1&match[]=cpu!%3D%22total%22"
	             "&match[]=cpu%3D1",
	             "series", "node", "n1");
	expect_names("api/v1/series?name=container_cpu_usage_seconds_total&node=n1"
	             "&match%5B%5D=pod_uid%3D%22uid-a%22",
	             "series", "node", "n1,n1,n1");

	/* a hostile node and label value, exactly */
	snprintf(path, sizeof(path), "api/v1/series?name=test_hostile&node=%s", enc(HOSTILE_NODE));
	snprintf(
	        want, sizeof(want),
	        "[{\"node\":\"h\\\"<x>&\\\\%%?#;'\",\"labels\":{\"path\":\"a\\\"b\\\\c\\nd</script>\"},"
	        "\"points_in_range\":1,\"step\":1,\"points\":[[%lld,7]]}]",
	        (long long)t1);
	j = get(path, 200);
	expect_json(json_incref(json_object_get(j, "series")), want);
	json_decref(j);

	expect_error("api/v1/series?node=n1", 400, "name");
	expect_error("api/v1/series?name=node_load1&from=yesterday", 400, "from must be");
	expect_error("api/v1/series?name=node_load1&to=-5x", 400, "to must be");
	expect_error("api/v1/series?name=node_load1&from=-1m&to=-2m", 400, "to is before from");
	expect_error("api/v1/series?name=node_load1&max_points=0", 400, "max_points");
	expect_error("api/v1/series?name=node_load1&max_series=1001", 400, "max_series");
	expect_error("api/v1/series?name=node_load1&max_points=10000&max_series=1000", 400,
	             "must not exceed");
	expect_error("api/v1/series?name=node_load1&match[]=%3Dx", 400, "bad match[]");
	expect_error("api/v1/series?name=node_load1&match[]=a%3D%22x", 400, "bad match[]");
	expect_error("api/v1/series?name=node_load1&node=nope", 404, "no node nope");
	expect("api/v1/series?name=no_such_family&from=0", 200,
	       "{\"name\":\"no_such_family\",\"from\":0,\"to\":null,\"max_points\":1000,"
	       "\"max_series\":100,\"truncated\":false,\"series\":[]}");
	stop_ok();
}
END_TEST

/* The figure key of the container named name in the pod page j. */
static json_t *container_figure(json_t *j, const char *name, const char *key)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(j, "containers"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return json_object_get(c, key);
	}
	ck_abort_msg("no container %s", name);
	return NULL;
}

START_TEST(rates_through_other_batches_resets_and_exits)
{
	fleet();
	/* a batch of another table family rebuilds the tables: the rates stay */
	cobs_batch *b = cobs_batch_new();
	b->timestamp_ms = t1 + 1000;
	add(b, "kube_pod_labels", I, 1, POD_A, "label_app", "web2", NULL);
	post(b, "n1", 5, 5000);
	cobs_batch_free(b);
	json_t *j = get("api/v1/nodes/n1/pods/shop/web-1", 200);
	json_t *pod = json_object_get(j, "pod");
	ck_assert(json_real_value(json_object_get(pod, "cpu_cores")) == 0.3);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(pod, "labels"), "app")),
	                 "web2");
	ck_assert(json_real_value(container_figure(j, "app", "cpu_cores")) == 0.2);
	json_decref(j);

	/* the next collection: app's counter went down (a reset): no rate for it */
	b = cobs_batch_new();
	b->timestamp_ms = t1 + 5000;
	add(b, "container_cpu_usage_seconds_total", C, 102.5, POD_A, "id", "/kubepods/pod-a", NULL);
	add(b, "container_cpu_usage_seconds_total", C, 50, APP, "id", "/kubepods/pod-a/cid-app",
	    NULL);
	add(b, "container_cpu_usage_seconds_total", C, 11, SIDE, "id", "/kubepods/pod-a/cid-side",
	    NULL);
	post(b, "n1", 6, 5000);
	cobs_batch_free(b);
	j = get("api/v1/nodes/n1/pods/shop/web-1", 200);
	pod = json_object_get(j, "pod");
	ck_assert(json_real_value(json_object_get(pod, "cpu_cores")) == 0.2);
	ck_assert(json_is_null(container_figure(j, "app", "cpu_cores")));
	ck_assert_int_eq(json_integer_value(container_figure(j, "app", "cpu_seconds_total")), 50);
	ck_assert(json_real_value(container_figure(j, "sidecar", "cpu_cores")) == 0.1);
	json_decref(j);

	/* process 101 exits: the next process batch leaves it out */
	gone_pid = "101";
	b = n1_procpid(1);
	b->timestamp_ms = t1 + 10000;
	post(b, "n1", 7, 5000);
	cobs_batch_free(b);
	gone_pid = NULL;
	expect_error("api/v1/nodes/n1/processes/101", 404, "no process 101");
	j = get("api/v1/nodes/n1/pods/shop/web-1", 200);
	ck_assert_int_eq(json_integer_value(container_figure(j, "app", "process_count")), 1);
	ck_assert_int_eq(
	        json_integer_value(json_object_get(json_object_get(j, "pod"), "process_count")), 2);
	json_decref(j);
	j = get("api/v1/nodes?filter=n1", 200);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                         json_array_get(json_object_get(j, "nodes"), 0), "process_count")),
	                 6);
	json_decref(j);
	stop_ok();
}
END_TEST

/* GET path: the answer, asserting its status and that it is HTML. */
static http_resp page(const char *path, long status)
{
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, path), NULL, &r), 0);
	ck_assert_msg(r.status == status, "%s: %ld, not %ld", path, r.status, status);
	ck_assert_msg(strncmp(r.ctype, "text/html", 9) == 0, "%s: %s", path, r.ctype);
	return r;
}

START_TEST(pages_are_the_api_escaped)
{
	fleet();
	http_resp r = page("", 200);
	/* a CSP that forbids inline script, on every page */
	ck_assert_ptr_nonnull(strstr(r.headers, "content-security-policy: default-src 'self'; "
	                                        "script-src 'self'; style-src 'self';"));
	ck_assert_ptr_nonnull(strstr(r.headers, "x-frame-options: DENY"));
	ck_assert_ptr_nonnull(strstr(r.body, "<!doctype html>"));
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/nodes/n1\""));
	/* the hostile node: text in the page, percent-encoded in its link */
	ck_assert_ptr_nonnull(strstr(r.body, ">h&quot;&lt;x&gt;&amp;\\%?#;&#39;</a>"));
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/nodes/h%22%3Cx%3E%26%5C%25%3F%23%3B%27\""));
	ck_assert_ptr_null(strstr(r.body, "<x>"));
	/* live: the cards refresh from a fragment under the page's own URL */
	ck_assert_ptr_nonnull(strstr(r.body, "hx-get=\"/?fragment=cards&amp;\""));
	ck_assert_ptr_nonnull(strstr(r.body, "hx-trigger=\"every 2s\""));
	http_resp_free(&r);

	r = page("?fragment=cards&sort=cpu&state=up,stale", 200);
	ck_assert_ptr_null(strstr(r.body, "<html"));
	ck_assert_ptr_nonnull(strstr(r.body, "class=\"card state-up\" data-node=\"n2\""));
	/* sorted by CPU: n2 (80 %) before n1 (22 %) */
	const char *at2 = strstr(r.body, "data-node=\"n2\""),
	           *at1 = strstr(r.body, "data-node=\"n1\"");
	ck_assert(at2 && at1 && at2 < at1);
	ck_assert_ptr_nonnull(strstr(r.body, "22.0%"));
	http_resp_free(&r);

	r = page("nodes/n1", 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<td>eth0</td>"));
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/nodes/n1/pods/shop/web-1\""));
	ck_assert_ptr_nonnull(strstr(r.body, "data-name=\"node_cpu_seconds_total\""));
	ck_assert_ptr_nonnull(strstr(r.body, "title=\"8589934592\">8.00 GiB</span>"));
	http_resp_free(&r);

	r = page("nodes/n1/pods/shop/web-1", 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<h2>app "));
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/nodes/n1/processes/100\""));
	http_resp_free(&r);
	/* the hostile comm, in its pod's process table and on its own page */
	r = page("nodes/n1/pods/_/uid-b", 200);
	ck_assert_ptr_nonnull(strstr(r.body, "href=\"/nodes/n1/processes/300\""));
	ck_assert_ptr_nonnull(strstr(r.body, "evil&lt;&quot;\n&gt;"));
	ck_assert_ptr_null(strstr(r.body, "evil<"));
	http_resp_free(&r);
	r = page("nodes/n1/processes/300", 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<h1 class=\"mono\">evil&lt;&quot;\n&gt; "));
	ck_assert_ptr_null(strstr(r.body, "evil<"));
	http_resp_free(&r);
	r = page("nodes/n1/pods?fragment=table&sort=cpu", 200);
	ck_assert_ptr_nonnull(strstr(r.body, "web-1"));
	http_resp_free(&r);

	/* errors are pages too, and the message is escaped */
	r = page("nodes/%3Cb%3E", 404);
	ck_assert_ptr_nonnull(strstr(r.body, "no node &lt;b&gt;"));
	http_resp_free(&r);
	r = page("?fragment=nope", 404);
	http_resp_free(&r);
	r = page("?fragment=Cards", 404);
	http_resp_free(&r);
	r = page("?sort=bogus", 400);
	ck_assert_ptr_nonnull(strstr(r.body, "sort must be one of"));
	http_resp_free(&r);

	/* static files: content types and cache headers */
	ck_assert_int_eq(http_do(tsrv_at(&srv, "static/cobs.css"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.ctype, "text/css");
	ck_assert_ptr_nonnull(strstr(r.headers, "cache-control: public, max-age=300"));
	ck_assert_ptr_nonnull(strstr(r.headers, "x-content-type-options: nosniff"));
	http_resp_free(&r);
	ck_assert_int_eq(http_do(tsrv_at(&srv, "vendor/htmx/htmx.min.js"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.ctype, "application/javascript");
	ck_assert_ptr_nonnull(strstr(r.headers, "cache-control: public, max-age=86400"));
	ck_assert_uint_gt(r.len, 10000);
	http_resp_free(&r);
	ck_assert_int_eq(http_do(tsrv_at(&srv, "vendor/uplot/uPlot.iife.min.js"), NULL, &r), 0);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	ck_assert_int_eq(http_do(tsrv_at(&srv, "static/../templates/nodes.html"), NULL, &r), 0);
	ck_assert_int_ne(r.status, 200);
	http_resp_free(&r);
	stop_ok();
}
END_TEST

START_TEST(methods_and_unknown_paths)
{
	fleet();
	http_opts o = {.method = "POST", .body = "{}", .len = 2, .ctype = "application/json"};
	http_resp r;
	ck_assert_int_eq(http_do(tsrv_at(&srv, "api/v1/nodes"), &o, &r), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	http_resp_free(&r);
	expect_error("api/v1/nodes/", 404, "no such endpoint");
	expect_error("api/v1/nodes/n1/pods/shop", 404, "no such endpoint");
	stop_ok();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("server_api");
	TCase *tc = tcase_create("api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, nodes_list_sorts_filters_and_pages);
	tcase_add_test(tc, node_page_has_everything);
	tcase_add_test(tc, pods_list_and_filters);
	tcase_add_test(tc, pod_page_has_containers_limits_processes);
	tcase_add_test(tc, process_page_has_every_field);
	tcase_add_test(tc, series_history_in_range);
	tcase_add_test(tc, rates_through_other_batches_resets_and_exits);
	tcase_add_test(tc, pages_are_the_api_escaped);
	tcase_add_test(tc, methods_and_unknown_paths);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
