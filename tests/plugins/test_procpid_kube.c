/*
 * procpid's Kubernetes API client (kube_api.c and friends) against a local
 * HTTPS server that speaks the API's v1 JSON: list then lookups, the token
 * and the CA, 403, a server that never answers, truncated and garbled
 * bodies, watch events, a dropped watch, 410 Gone, token rotation, the
 * resync, configuration, the JSON parsers on hostile input, and procpid
 * loading the client's module only when the API is enabled. The loop
 * runs in bounded slices (event_base_loopexit); waits end on conditions,
 * never on exact times.
 */
#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <event2/event.h>

#include <cobs/config.h>
#include <cobs/log.h>
#include <cobs/proc.h>

#include "harness.h"
#include "https_server.h"
#include "kube.h"
#include "kube_json.h"

/* How long any wait may take before the test fails: generous, for ASan on busy cores. */
#define BOUND_NS (20ull * 1000000000ull)
#define NO_NAMES "no pod names from the Kubernetes API"
#define AGAIN    "Kubernetes API answers again"

#define U1 "0a1b2c3d-0000-4000-8000-000000000001"
#define U2 "0a1b2c3d-0000-4000-8000-000000000002"
#define U3 "0a1b2c3d-0000-4000-8000-000000000003"
#define U4 "0a1b2c3d-0000-4000-8000-000000000004"
#define U5 "0a1b2c3d-0000-4000-8000-000000000005"
#define U9 "0a1b2c3d-0000-4000-8000-000000000009"

/* A Burstable pod with an init container and a sidecar, containerd. */
#define POD1_R(restarts, tier)                                                                           \
	"{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"shop\",\"uid\":\"" U1 "\","                   \
	"\"resourceVersion\":\"90\",\"labels\":{\"app\":\"web\",\"tier\":\"" tier "\"}},"                \
	"\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\"},"    \
	"{\"name\":\"log\",\"image\":\"busybox\"}]},"                                                    \
	"\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"podIP\":\"10.1.0.7\","           \
	"\"initContainerStatuses\":[{\"name\":\"init-db\",\"image\":\"docker.io/library/busybox:1.36\"," \
	"\"imageID\":\"docker.io/library/busybox@sha256:aa\",\"containerID\":\"containerd://1111aaaa\"," \
	"\"restartCount\":1,\"ready\":true,\"state\":{\"terminated\":{\"exitCode\":0}}}],"               \
	"\"containerStatuses\":[{\"name\":\"nginx\",\"image\":\"docker.io/library/nginx:1.25\","         \
	"\"containerID\":\"containerd://2222bbbb\",\"restartCount\":" restarts ",\"ready\":true,"        \
	"\"state\":{\"running\":{\"startedAt\":\"2024-05-01T10:00:00Z\"}}},"                             \
	"{\"name\":\"log\",\"image\":\"docker.io/library/busybox:1.36\","                                \
	"\"containerID\":\"containerd://3333cccc\",\"restartCount\":0,\"ready\":true}]}}"
#define POD1 POD1_R("3", "front")

/* A host-network pod under CRI-O. */
#define POD2                                                                                       \
	"{\"metadata\":{\"name\":\"kube-proxy-x7\",\"namespace\":\"kube-system\",\"uid\":\"" U2    \
	"\","                                                                                      \
	"\"labels\":{\"k8s-app\":\"kube-proxy\"}},\"spec\":{\"hostNetwork\":true},"                \
	"\"status\":{\"phase\":\"Running\",\"qosClass\":\"BestEffort\",\"containerStatuses\":["    \
	"{\"name\":\"kube-proxy\",\"image\":\"registry.k8s.io/kube-proxy:v1.29.0\","               \
	"\"containerID\":\"cri-o://4444dddd\",\"restartCount\":0}]}}"

/* A Guaranteed pod under Docker, one container not started yet (no containerID). */
#define POD3                                                                                              \
	"{\"metadata\":{\"name\":\"db-1\",\"namespace\":\"data\",\"uid\":\"" U3 "\"},"                    \
	"\"spec\":{\"hostNetwork\":false},\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Guaranteed\"," \
	"\"containerStatuses\":[{\"name\":\"pg\",\"image\":\"postgres:16\","                              \
	"\"containerID\":\"docker://5555eeee\",\"restartCount\":7},"                                      \
	"{\"name\":\"exporter\",\"image\":\"exporter:1\",\"restartCount\":0,"                             \
	"\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}"

#define POD4                                                                                          \
	"{\"metadata\":{\"name\":\"job-4\",\"namespace\":\"batch\",\"uid\":\"" U4 "\","               \
	"\"resourceVersion\":\"101\"},\"status\":{\"phase\":\"Running\",\"qosClass\":\"BestEffort\"," \
	"\"containerStatuses\":[{\"name\":\"work\",\"image\":\"work:2\","                             \
	"\"containerID\":\"containerd://6666ffff\",\"restartCount\":0}]}}"

#define LIST(rv, items)                                                                            \
	"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv      \
	"\"},"                                                                                     \
	"\"items\":[" items "]}"
#define EVENT(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"
#define BOOKMARK(rv)                                                                               \
	EVENT("BOOKMARK",                                                                          \
	      "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv    \
	      "\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}")
#define GONE_EVENT                                                                                 \
	EVENT("ERROR",                                                                             \
	      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"                        \
	      "\"status\":\"Failure\",\"message\":\"too old resource version: 100 (250)\","        \
	      "\"reason\":\"Expired\",\"code\":410}")
#define STATUS(code, reason, msg)                                                                  \
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","       \
	"\"message\":\"" msg "\",\"reason\":\"" reason "\",\"code\":" code "}"

static const char list3[] = LIST("100", POD1 "," POD2 "," POD3);

static struct event_base *base;
static https_server *srv;
static cobs_config *cfg;
static cobs_section *sec;
static cobs_kube *kube;
static cobs_error err;
static char dir[256], token_path[320], log_path[320];
static int saved_stderr = -1;

/* ---- fixture ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	/* The client must reach 127.0.0.1 directly, and only where the test says. */
	const char *unset[] = {"http_proxy",
	                       "https_proxy",
	                       "HTTPS_PROXY",
	                       "ALL_PROXY",
	                       "all_proxy",
	                       "KUBERNETES_SERVICE_HOST",
	                       "KUBERNETES_SERVICE_PORT"};
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		unsetenv(unset[i]);
	cobs_log_set_level(COBS_LOG_INFO);
	const char *d = temp_dir();
	ck_assert_ptr_nonnull(d);
	snprintf(dir, sizeof(dir), "%s", d);
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	snprintf(log_path, sizeof(log_path), "%s/stderr.log", dir);
	ck_assert_int_eq(write_file(token_path, "tok-1\n"), 0);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	srv = https_server_start(dir);
	ck_assert_ptr_nonnull(srv);
	/* Log lines are part of the contract ("logged once"): capture them. */
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	cobs_kube_free(kube);
	kube = NULL;
	https_server_stop(srv);
	srv = NULL;
	event_base_free(base);
	base = NULL;
	cobs_config_free(cfg);
	cfg = NULL;
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The value kv gives key: 1 and *v (maybe NULL: "leave it unset"), or 0 when absent. */
static int kv_find(const char *const *kv, const char *key, const char **v)
{
	for (size_t i = 0; kv && kv[i]; i += 2)
		if (strcmp(kv[i], key) == 0)
			return *v = kv[i + 1], 1;
	return 0;
}

/*
 * A client for node `node` with [plugin.procpid] holding kv, plus kube_api_url
 * (this server), kube_token_file and kube_ca_file unless kv names them (a NULL
 * value leaves the key out). Returns the client (NULL with err filled).
 */
static cobs_kube *open_kube_on(struct event_base *b, const char *node, const char *const *kv)
{
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", https_server_port(srv));
	const char *defaults[] = {"kube_api_url",    url,
	                          "kube_token_file", token_path,
	                          "kube_ca_file",    https_server_ca(srv)};
	cfg = cobs_config_new();
	ck_assert_ptr_nonnull(cfg);
	sec = cobs_config_add_section(cfg, "plugin.procpid", "test.ini", 1);
	ck_assert_ptr_nonnull(sec);
	int line = 2;
	for (size_t i = 0; kv && kv[i]; i += 2, line++)
		if (kv[i + 1])
			ck_assert_int_eq(
			        cobs_section_set(sec, kv[i], kv[i + 1], "test.ini", line, &err), 0);
	for (size_t i = 0; i < 6; i += 2, line++) {
		const char *v;
		if (!kv_find(kv, defaults[i], &v))
			ck_assert_int_eq(cobs_section_set(sec, defaults[i], defaults[i + 1],
			                                  "test.ini", line, &err),
			                 0);
	}
	cobs_plugin_env env = {
	        .name = "procpid",
	        .config = sec,
	        .node = node,
	        .proc_root = "/proc",
	        .sys_root = "/sys",
	        .base = b,
	        .err = &err,
	};
	kube = cobs_kube_new(&env, &err);
	return kube;
}

static cobs_kube *open_kube(const char *const *kv)
{
	cobs_kube *k = open_kube_on(base, "node-a", kv);
	ck_assert_msg(k != NULL, "cobs_kube_new: %s", err.msg);
	return k;
}

/* ---- running the loop ---- */

/* One bounded turn of the loop (10 ms). */
static void slice(void)
{
	struct timeval tv = {.tv_usec = 10000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void run_for_ms(unsigned ms)
{
	uint64_t end = cobs_monotonic_ns() + ms * 1000000ull;
	while (cobs_monotonic_ns() < end)
		slice();
}

/* Runs the loop until expr holds; fails the test past BOUND_NS. */
#define WAIT(expr)                                                                                 \
	do {                                                                                       \
		uint64_t end_ = cobs_monotonic_ns() + BOUND_NS;                                    \
		while (!(expr) && cobs_monotonic_ns() < end_)                                      \
			slice();                                                                   \
		ck_assert_msg((expr), "gave up waiting for: %s", #expr);                           \
	} while (0)

/* ---- observations ---- */

static const cobs_kube_pod *pod(const char *uid)
{
	return cobs_kube_find_pod(kube, uid);
}

/* Lines of the captured log that contain pat. */
static int log_count(const char *pat)
{
	char *text = read_file(log_path);
	int n = 0;
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(line, pat))
			n++;
		line = nl ? nl + 1 : line + strlen(line);
	}
	free(text);
	return n;
}

/* The first captured log line containing pat (static buffer, "" when none). */
static const char *log_line(const char *pat)
{
	static char out[2048];
	out[0] = '\0';
	char *text = read_file(log_path);
	char *hit = text ? strstr(text, pat) : NULL;
	if (hit) {
		char *start = hit;
		while (start > text && start[-1] != '\n')
			start--;
		snprintf(out, sizeof(out), "%.*s", (int)strcspn(start, "\n"), start);
	}
	free(text);
	return out;
}

static size_t nreq(void)
{
	return https_server_requests(srv);
}

static const char *target(size_t i)
{
	static char t[4][2048];
	static int k;
	k = (k + 1) % 4;
	ck_assert_int_eq(https_server_request(srv, i, t[k], sizeof(t[k]), NULL, 0), 0);
	return t[k];
}

static const char *auth(size_t i)
{
	static char a[4][1024];
	static int k;
	k = (k + 1) % 4;
	ck_assert_int_eq(https_server_request(srv, i, NULL, 0, a[k], sizeof(a[k])), 0);
	return a[k];
}

static bool is_watch_from(size_t i, const char *rv)
{
	char want[64];
	snprintf(want, sizeof(want), "resourceVersion=%s", rv);
	const char *t = target(i);
	const char *r = strstr(t, want);
	return strstr(t, "watch=1") && strstr(t, "allowWatchBookmarks=true") && r &&
	       (r[strlen(want)] == '\0' || r[strlen(want)] == '&');
}

static bool is_list(size_t i)
{
	return strcmp(target(i), "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a") == 0;
}

static const char *label(const cobs_kube_pod *p, const char *name)
{
	for (size_t i = 0; i < p->nlabels; i++)
		if (strcmp(p->labels[i].name, name) == 0)
			return p->labels[i].value;
	return NULL;
}

/* ---- list and lookups ---- */

START_TEST(list_then_lookups_by_uid)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	open_kube(NULL);
	ck_assert_ptr_null(pod(U1)); /* nothing before the loop ran */
	WAIT(pod(U1) && pod(U2) && pod(U3));

	const cobs_kube_pod *p = pod(U1);
	ck_assert_str_eq(p->uid, U1);
	ck_assert_str_eq(p->namespace_name, "shop");
	ck_assert_str_eq(p->name, "web-0");
	ck_assert_str_eq(p->qos_class, "Burstable");
	ck_assert_str_eq(p->phase, "Running");
	ck_assert(!p->host_network);
	ck_assert_uint_eq(p->nlabels, 2);
	ck_assert_str_eq(label(p, "app"), "web");
	ck_assert_str_eq(label(p, "tier"), "front");
	ck_assert_uint_eq(p->ncontainers, 3);
	const cobs_kube_container *c = cobs_kube_pod_container(p, "2222bbbb");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "nginx");
	ck_assert_str_eq(c->image, "docker.io/library/nginx:1.25");
	ck_assert_uint_eq(c->restart_count, 3);
	ck_assert(!c->init);
	c = cobs_kube_pod_container(p, "1111aaaa");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "init-db");
	ck_assert_uint_eq(c->restart_count, 1);
	ck_assert(c->init);
	ck_assert_str_eq(cobs_kube_pod_container(p, "3333cccc")->name, "log");
	ck_assert_ptr_null(cobs_kube_pod_container(p, "containerd://2222bbbb"));
	ck_assert_ptr_null(cobs_kube_pod_container(p, "9999"));

	p = pod(U2); /* CRI-O, host network */
	ck_assert_str_eq(p->namespace_name, "kube-system");
	ck_assert_str_eq(p->qos_class, "BestEffort");
	ck_assert(p->host_network);
	c = cobs_kube_pod_container(p, "4444dddd");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->image, "registry.k8s.io/kube-proxy:v1.29.0");

	p = pod(U3); /* Docker; a container without an ID yet */
	ck_assert_str_eq(p->qos_class, "Guaranteed");
	ck_assert_str_eq(p->phase, "Pending");
	ck_assert_uint_eq(p->nlabels, 0);
	ck_assert_uint_eq(p->ncontainers, 2);
	ck_assert_uint_eq(cobs_kube_pod_container(p, "5555eeee")->restart_count, 7);
	ck_assert_ptr_null(p->containers[1].id);
	ck_assert_str_eq(p->containers[1].name, "exporter");

	ck_assert_ptr_null(pod(U4));
	ck_assert_ptr_null(
	        pod("0a1b2c3d_0000_4000_8000_000000000001")); /* underscores: not a UID */
	ck_assert_ptr_null(pod(NULL));

	/* One list with the token, then a watch from the list's resourceVersion. */
	WAIT(nreq() >= 2);
	ck_assert(is_list(0));
	ck_assert_str_eq(auth(0), "Bearer tok-1");
	ck_assert(is_watch_from(1, "100"));
	ck_assert_str_eq(auth(1), "Bearer tok-1");
	ck_assert_int_eq(log_count(NO_NAMES), 0);
	ck_assert_int_eq(log_count("pod names from the Kubernetes API at https://127.0.0.1:"), 1);

	/* Lookups never cause requests: the watch just stays open. */
	for (int i = 0; i < 1000; i++)
		ck_assert_ptr_nonnull(pod(U1));
	run_for_ms(100);
	ck_assert_uint_eq(nreq(), 2);
}
END_TEST

START_TEST(in_cluster_from_environment_escapes_the_node)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", https_server_port(srv));
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	const char *kv[] = {"kube_api_url", NULL, NULL};
	ck_assert_ptr_nonnull(open_kube_on(base, "node a&b/1", kv));
	WAIT(pod(U1));
	ck_assert_str_eq(target(0), "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode%20a%26b%2F1");
	ck_assert_str_eq(auth(0), "Bearer tok-1");
	cobs_kube_free(kube);
	kube = NULL;
	cobs_config_free(cfg);
	cfg = NULL;

	/* An IPv6 service address goes in brackets; the port defaults to 443. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	unsetenv("KUBERNETES_SERVICE_PORT");
	cobs_log_set_level(COBS_LOG_DEBUG);
	ck_assert_ptr_nonnull(open_kube_on(NULL, "node-a", kv)); /* no loop: no I/O */
	ck_assert_int_eq(log_count("Kubernetes API at https://[fd00:10:96::1]:443"), 1);
}
END_TEST

/* ---- the token and the CA ---- */

START_TEST(wrong_ca_no_names_logged_once)
{
	char other[400];
	snprintf(other, sizeof(other), "%s/other-ca.crt", dir);
	ck_assert_int_eq(https_write_other_cert(other), 0);
	const char *kv[] = {"kube_ca_file", other, NULL};
	open_kube(kv);
	WAIT(https_server_bad_handshakes(srv) >= 2); /* it retried */
	ck_assert_uint_eq(nreq(), 0);                /* and never sent the token */
	ck_assert_ptr_null(pod(U1));
	ck_assert_int_eq(log_count(NO_NAMES), 1);
	ck_assert_msg(strstr(log_line(NO_NAMES), "certificate"), "%s", log_line(NO_NAMES));
	ck_assert_msg(strstr(log_line(NO_NAMES), "warn"), "%s", log_line(NO_NAMES));
}
END_TEST

START_TEST(missing_token_file_then_it_appears)
{
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/sa/token", dir);
	const char *kv[] = {"kube_token_file", missing, NULL};
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	open_kube(kv);
	WAIT(log_count(NO_NAMES) == 1);
	ck_assert_msg(strstr(log_line(NO_NAMES), missing), "%s", log_line(NO_NAMES));
	ck_assert_uint_eq(nreq(), 0);
	ck_assert_ptr_null(pod(U1));
	char sa[400];
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	ck_assert_int_eq(make_dirs(sa), 0);
	ck_assert_int_eq(write_file(missing, "tok-new"), 0);
	WAIT(pod(U1));
	ck_assert_str_eq(auth(0), "Bearer tok-new");
	ck_assert_int_eq(log_count(NO_NAMES), 1);
	ck_assert_int_eq(log_count(AGAIN), 1);
}
END_TEST

START_TEST(rotated_token_is_used_on_the_next_request)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, HTTPS_STREAM_HOLD, 200, "", 0);
	open_kube(NULL);
	WAIT(nreq() >= 2 && https_server_holding(srv) == 1);
	/* Rotate as the kubelet does: a new file renamed over the old one. */
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s/token.new", dir);
	ck_assert_int_eq(write_file(tmp, "tok-2\n"), 0);
	ck_assert_int_eq(rename(tmp, token_path), 0);
	https_server_release(srv); /* the watch drops: the client reconnects */
	WAIT(nreq() >= 3);
	ck_assert_str_eq(auth(0), "Bearer tok-1");
	ck_assert_str_eq(auth(1), "Bearer tok-1");
	ck_assert_str_eq(auth(2), "Bearer tok-2");
	ck_assert(is_watch_from(2, "100"));
}
END_TEST

/* ---- failures ---- */

#define FORBIDDEN                                                                                  \
	STATUS("403", "Forbidden",                                                                 \
	       "pods is forbidden: User \\\"system:serviceaccount:cobs:agent\\\" cannot list "     \
	       "resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope")

START_TEST(forbidden_then_names_appear)
{
	https_server_push(srv, HTTPS_FULL, 403, FORBIDDEN, 0);
	https_server_push(srv, HTTPS_FULL, 403, FORBIDDEN, 0);
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	open_kube(NULL);
	WAIT(nreq() >= 1 && log_count(NO_NAMES) == 1);
	ck_assert_ptr_null(pod(U1));
	const char *l = log_line(NO_NAMES);
	ck_assert_msg(strstr(l, "HTTP 403") && strstr(l, "cannot list resource"), "%s", l);
	WAIT(nreq() >= 2);
	ck_assert_ptr_null(pod(U1));
	WAIT(pod(U1));
	ck_assert_uint_ge(nreq(), 3);
	ck_assert_int_eq(log_count(NO_NAMES), 1); /* two failures, one line */
	ck_assert_int_eq(log_count(AGAIN), 1);
}
END_TEST

START_TEST(watch_forbidden_keeps_the_cache_then_recovers)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, HTTPS_FULL, 403, FORBIDDEN, 0);
	https_server_push(srv, HTTPS_STREAM_HOLD, 200, EVENT("ADDED", POD4), 0);
	open_kube(NULL);
	WAIT(log_count(NO_NAMES) == 1);
	ck_assert_msg(strstr(log_line(NO_NAMES), "watching pods: HTTP 403"), "%s",
	              log_line(NO_NAMES));
	ck_assert_ptr_nonnull(pod(U1)); /* what the list brought stays */
	WAIT(pod(U4) && log_count(AGAIN) == 1);
	ck_assert(is_watch_from(2, "100")); /* the watch is retried, not a list */
	ck_assert_int_eq(log_count(NO_NAMES), 1);
}
END_TEST

static bool fired;
static int no_names_when_fired;

static void on_test_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fired = true;
	no_names_when_fired = log_count(NO_NAMES);
}

START_TEST(server_that_never_answers_times_out_without_blocking)
{
	https_server_push(srv, HTTPS_HANG, 0, "", 0);
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	const char *kv[] = {"kube_timeout", "3s", NULL};
	open_kube(kv);
	WAIT(https_server_holding(srv) == 1); /* the list is hanging */
	/* A timer armed now fires while the request hangs: the loop is not blocked. */
	struct event *t = evtimer_new(base, on_test_timer, NULL);
	ck_assert_ptr_nonnull(t);
	struct timeval tv = {.tv_usec = 50000};
	evtimer_add(t, &tv);
	WAIT(fired);
	event_free(t);
	ck_assert_int_eq(no_names_when_fired, 0); /* well before the 3 s timeout */
	ck_assert_ptr_null(pod(U1));
	WAIT(log_count(NO_NAMES) == 1);
	const char *l = log_line(NO_NAMES);
	ck_assert_msg(strstr(l, "no answer") && strstr(l, "kube_timeout"), "%s", l);
	ck_assert_ptr_null(pod(U1));
	WAIT(https_server_hangups(srv) == 1); /* the client hung up */
	WAIT(pod(U1));                        /* and the retry worked */
	ck_assert_int_eq(log_count(AGAIN), 1);
}
END_TEST

START_TEST(truncated_and_garbled_bodies_then_recovery)
{
	https_server_push(srv, HTTPS_TRUNCATED, 200, list3, sizeof(list3) / 2);
	https_server_push(srv, HTTPS_FULL, 200, "{\"kind\":\"PodList\",\"items\":[{\"metadata\"",
	                  0);
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	open_kube(NULL);
	WAIT(log_count(NO_NAMES) == 1);
	ck_assert_ptr_null(pod(U1));
	WAIT(nreq() >= 2);
	ck_assert_ptr_null(pod(U1));
	WAIT(pod(U1) && pod(U3));
	ck_assert_int_eq(log_count(NO_NAMES), 1);
	ck_assert_int_eq(log_count(AGAIN), 1);
	ck_assert(is_list(0) && is_list(1) && is_list(2));
}
END_TEST

START_TEST(unreachable_server)
{
	/* A port nobody listens on: bind one, note it, close it. */
	https_server *gone = https_server_start(dir);
	ck_assert_ptr_nonnull(gone);
	int port = https_server_port(gone);
	https_server_stop(gone);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	const char *kv[] = {"kube_api_url", url, NULL};
	open_kube(kv);
	WAIT(log_count(NO_NAMES) == 1);
	ck_assert_ptr_null(pod(U1));
	ck_assert_msg(strstr(log_line(NO_NAMES), "listing pods"), "%s", log_line(NO_NAMES));
}
END_TEST

/* ---- the watch ---- */

START_TEST(watch_events_applied)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, HTTPS_STREAM, 200,
	                  EVENT("ADDED", POD4) EVENT("MODIFIED", POD1_R("5", "back"))
	                          EVENT("DELETED", POD2) BOOKMARK("150")
	                                  EVENT("SOMETHING_NEW", "{\"metadata\":{}}"),
	                  0);
	open_kube(NULL);
	WAIT(pod(U4) && !pod(U2) && pod(U1) && cobs_kube_pod_container(pod(U1), "2222bbbb") &&
	     cobs_kube_pod_container(pod(U1), "2222bbbb")->restart_count == 5);
	ck_assert_str_eq(label(pod(U1), "tier"), "back");
	ck_assert_str_eq(pod(U4)->namespace_name, "batch");
	ck_assert_str_eq(cobs_kube_pod_container(pod(U4), "6666ffff")->name, "work");
	ck_assert_ptr_nonnull(pod(U3));
	/* The stream dropped: the next watch starts from the bookmark. */
	WAIT(nreq() >= 3);
	ck_assert(is_watch_from(2, "150"));
	ck_assert_int_eq(log_count(NO_NAMES), 0);
}
END_TEST

START_TEST(watch_dropped_mid_event_resumes_from_last_version)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(
	        srv, HTTPS_STREAM, 200,
	        EVENT("ADDED", POD4) "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"uid\":\"" U5,
	        0);
	open_kube(NULL);
	WAIT(nreq() >= 3);
	ck_assert_ptr_nonnull(pod(U4));
	ck_assert_ptr_null(pod(U5)); /* half an event is no event */
	ck_assert(is_watch_from(1, "100"));
	ck_assert(is_watch_from(2, "101"));
	ck_assert_ptr_nonnull(pod(U1));
	ck_assert_int_eq(log_count(NO_NAMES), 0); /* a dropped watch is not missing names */
}
END_TEST

START_TEST(garbled_watch_line_reconnects_from_last_good_version)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, HTTPS_STREAM_HOLD, 200, EVENT("ADDED", POD4) "{not json}\n", 0);
	open_kube(NULL);
	WAIT(nreq() >= 3);
	ck_assert_ptr_nonnull(pod(U4));
	ck_assert(is_watch_from(2, "101"));
	WAIT(https_server_hangups(srv) >= 1); /* the client closed the garbled stream */
}
END_TEST

/* The list of U1 U2 U3 at 100, a watch that answers 410 as `kind`, a relist. */
static void gone_then_relist(https_kind kind, int status, const char *body)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, kind, status, body, 0);
	https_server_push(srv, HTTPS_FULL, 200, LIST("300", POD3 "," POD4), 0);
	open_kube(NULL);
	WAIT(pod(U4) && !pod(U1) && nreq() >= 4);
	ck_assert_ptr_nonnull(pod(U3));
	ck_assert_ptr_null(pod(U2)); /* a relist replaces the cache */
	ck_assert(is_list(0));
	ck_assert(is_watch_from(1, "100"));
	ck_assert(is_list(2));
	ck_assert(is_watch_from(3, "300"));
	ck_assert_int_eq(log_count(NO_NAMES), 0); /* an expired version is routine */
}

START_TEST(gone_410_event_relists)
{
	gone_then_relist(HTTPS_STREAM_HOLD, 200, BOOKMARK("120") GONE_EVENT);
}
END_TEST

START_TEST(gone_410_status_relists)
{
	gone_then_relist(HTTPS_FULL, 410, STATUS("410", "Expired", "too old resource version"));
}
END_TEST

START_TEST(resync_relists_while_watching)
{
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	https_server_push(srv, HTTPS_STREAM_HOLD, 200, "", 0);
	https_server_push(srv, HTTPS_FULL, 200, LIST("500", POD4), 0);
	const char *kv[] = {"kube_resync", "1s", NULL};
	open_kube(kv);
	WAIT(pod(U1));
	WAIT(pod(U4) && !pod(U1));
	ck_assert(is_list(2));
	WAIT(nreq() >= 4 && https_server_hangups(srv) == 1); /* old watch closed by the client */
	ck_assert(is_watch_from(3, "500"));
}
END_TEST

/* ---- configuration and no-I/O cases ---- */

START_TEST(bad_values_are_refused_naming_the_key)
{
	static const char *const bad[][2] = {
	        {"kube_api", "maybe"},
	        {"kube_api_url", "ftp://host"},
	        {"kube_api_url", "https://h/?x=1"},
	        {"kube_timeout", "0"},
	        {"kube_timeout", "soon"},
	        {"kube_resync", "500ms"},
	        {"kube_resync", "weekly"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kv[] = {bad[i][0], bad[i][1], NULL};
		memset(&err, 0, sizeof(err));
		ck_assert_ptr_null(open_kube_on(base, "node-a", kv));
		ck_assert_msg(strstr(err.msg, bad[i][0]) && strstr(err.msg, "test.ini:2"), "%s",
		              err.msg);
		ck_assert(cobs_section_has_bad_value(sec));
		cobs_config_free(cfg);
		cfg = NULL;
	}
	const char *good[] = {"kube_api", "off", "kube_timeout", "250ms", "kube_resync", "0", NULL};
	open_kube(good);
	ck_assert_int_eq(cobs_section_check_unused(sec, &err), 0); /* every key read, even off */
}
END_TEST

START_TEST(no_requests_when_off_without_cluster_or_loop)
{
	const char *off[] = {"kube_api", "off", NULL};
	open_kube(off);
	run_for_ms(200);
	cobs_kube_free(kube);
	kube = NULL;
	cobs_config_free(cfg);
	cfg = NULL;

	/* auto, no KUBERNETES_SERVICE_HOST, no URL: not in a cluster */
	const char *auto_kv[] = {"kube_api_url", NULL, NULL};
	open_kube(auto_kv);
	run_for_ms(200);
	ck_assert_ptr_null(pod(U1));
	cobs_kube_free(kube);
	kube = NULL;
	cobs_config_free(cfg);
	cfg = NULL;

	/* no loop (tests, --once): lookups answer NULL */
	https_server_push(srv, HTTPS_FULL, 200, list3, 0);
	ck_assert_ptr_nonnull(open_kube_on(NULL, "node-a", NULL));
	run_for_ms(200);
	ck_assert_ptr_null(pod(U1));
	ck_assert_uint_eq(nreq(), 0);
	ck_assert_int_eq(log_count(NO_NAMES), 0);
	cobs_kube_free(kube);
	kube = NULL;
	cobs_config_free(cfg);
	cfg = NULL;

	/* on, but nowhere to go: said once, at start */
	const char *on[] = {"kube_api", "on", "kube_api_url", NULL, NULL};
	open_kube(on);
	run_for_ms(200);
	ck_assert_int_eq(log_count("kube_api = on"), 1);
	ck_assert_uint_eq(nreq(), 0);
}
END_TEST

/* Whether the client's module is mapped into this process now. */
static bool module_mapped(void)
{
	char *maps = read_file("/proc/self/maps");
	ck_assert_ptr_nonnull(maps);
	bool found = strstr(maps, "/" KUBE_MODULE_FILE) != NULL;
	free(maps);
	return found;
}

START_TEST(procpid_loads_the_client_only_when_enabled)
{
	harness h;
	/* outside a cluster, no URL: the module (and libcurl) stays out */
	ck_assert_msg(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", NULL, NULL, NULL) == 0,
	              "%s", h.err.msg);
	ck_assert(!module_mapped());
	harness_close(&h);
	/* a bad kube_ value is still refused by name with the API off */
	const char *bad[] = {"kube_api", "off", "kube_timeout", "0", NULL};
	ck_assert_int_eq(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", NULL, NULL, bad), -1);
	ck_assert_msg(strstr(h.err.msg, "kube_timeout") != NULL, "%s", h.err.msg);
	harness_close(&h);
	ck_assert(!module_mapped());
	/* a URL: loaded from procpid.so's directory, and unloaded with the plugin */
	const char *url[] = {"kube_api_url", "http://127.0.0.1:1", NULL};
	ck_assert_msg(harness_open(&h, COBS_PLUGIN_COLLECTOR, "procpid", NULL, NULL, url) == 0,
	              "%s", h.err.msg);
	ck_assert(module_mapped());
	harness_close(&h);
	ck_assert(!module_mapped());
}
END_TEST

START_TEST(freed_while_requests_are_in_flight)
{
	https_server_push(srv, HTTPS_HANG, 0, "", 0);
	open_kube(NULL);
	WAIT(https_server_holding(srv) == 1);
	cobs_kube_free(kube); /* LeakSanitizer checks that nothing stays behind */
	kube = NULL;
	WAIT(https_server_hangups(srv) == 1); /* freeing closed the connection */
}
END_TEST

/* ---- the JSON parsers, without a server ---- */

START_TEST(json_hostile_items_and_types)
{
	static const char body[] = LIST(
	        "7",
	        "\"a string\",42,null,{\"metadata\":{\"name\":\"no-uid\"}},"
	        "{\"metadata\":{\"uid\":\"\"}},"
	        "{\"metadata\":{\"uid\":\"" U9 "\",\"name\":7,\"labels\":{\"n\":5,\"ok\":\"yes\"}},"
	        "\"spec\":{\"hostNetwork\":\"true\"},"
	        "\"status\":{\"phase\":[],\"containerStatuses\":[\"junk\",{\"name\":7,"
	        "\"restartCount\":\"x\",\"containerID\":5},{\"name\":\"big\",\"restartCount\":"
	        "99999999999,\"containerID\":\"containerd://\"},{\"name\":\"neg\","
	        "\"restartCount\":-3,\"containerID\":\"plainid\"}],\"initContainerStatuses\":{}}}");
	kube_entry *pods;
	char *rv, why[200];
	ck_assert_int_eq(kube_podlist_parse(body, sizeof(body) - 1, &pods, &rv, why, sizeof(why)),
	                 0);
	ck_assert_str_eq(rv, "7");
	ck_assert_ptr_nonnull(pods);
	ck_assert_ptr_null(pods->next); /* only the item with a uid */
	const cobs_kube_pod *p = &pods->pod;
	ck_assert_str_eq(p->uid, U9);
	ck_assert_str_eq(p->name, "");
	ck_assert_str_eq(p->namespace_name, "");
	ck_assert_str_eq(p->phase, "");
	ck_assert(!p->host_network);
	ck_assert_uint_eq(p->nlabels, 1);
	ck_assert_str_eq(p->labels[0].name, "ok");
	ck_assert_uint_eq(p->ncontainers, 3);
	ck_assert_ptr_null(p->containers[0].id);
	ck_assert_str_eq(p->containers[0].name, "");
	ck_assert_uint_eq(p->containers[0].restart_count, 0);
	ck_assert_ptr_null(p->containers[1].id); /* "containerd://" with nothing after */
	ck_assert_uint_eq(p->containers[1].restart_count, UINT32_MAX);
	ck_assert_str_eq(p->containers[2].id, "plainid");
	ck_assert_uint_eq(p->containers[2].restart_count, 0);
	free(pods);
	free(rv);

	static const char *const bad[] = {
	        "",
	        "[]",
	        "{\"items\":[]}",
	        "{\"metadata\":{\"resourceVersion\":\"1\"}}",
	        "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}",
	        "{\"items\":[",
	        "\xff\xfe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_int_eq(
		        kube_podlist_parse(bad[i], strlen(bad[i]), &pods, &rv, why, sizeof(why)),
		        -1);
		ck_assert_ptr_null(pods);
		ck_assert_ptr_null(rv);
		ck_assert_msg(why[0], "no reason for %s", bad[i]);
	}
	static const char empty[] = "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":null}";
	ck_assert_int_eq(kube_podlist_parse(empty, sizeof(empty) - 1, &pods, &rv, why, sizeof(why)),
	                 0);
	ck_assert_ptr_null(pods);
	free(rv);
}
END_TEST

START_TEST(json_watch_events)
{
	kube_event ev;
	char why[200];
	static const char added[] = EVENT("ADDED", POD4);
	ck_assert_int_eq(kube_event_parse(added, sizeof(added) - 1, &ev, why, sizeof(why)), 0);
	ck_assert_int_eq(ev.type, KUBE_EV_ADDED);
	ck_assert_str_eq(ev.rv, "101");
	ck_assert_str_eq(ev.pod->pod.uid, U4);
	kube_event_clear(&ev);

	static const char gone[] = GONE_EVENT;
	ck_assert_int_eq(kube_event_parse(gone, sizeof(gone) - 1, &ev, why, sizeof(why)), 0);
	ck_assert_int_eq(ev.type, KUBE_EV_ERROR);
	ck_assert_int_eq(ev.code, 410);
	ck_assert_str_eq(ev.message, "too old resource version: 100 (250)");
	kube_event_clear(&ev);

	static const char bm[] = BOOKMARK("77");
	ck_assert_int_eq(kube_event_parse(bm, sizeof(bm) - 1, &ev, why, sizeof(why)), 0);
	ck_assert_int_eq(ev.type, KUBE_EV_BOOKMARK);
	ck_assert_str_eq(ev.rv, "77");
	ck_assert_ptr_null(ev.pod);
	kube_event_clear(&ev);

	static const char nouid[] = EVENT("DELETED", "{\"metadata\":{\"resourceVersion\":\"9\"}}");
	ck_assert_int_eq(kube_event_parse(nouid, sizeof(nouid) - 1, &ev, why, sizeof(why)), 0);
	ck_assert_ptr_null(ev.pod); /* skipped, but the version still moves on */
	ck_assert_str_eq(ev.rv, "9");
	kube_event_clear(&ev);

	static const char *const bad[] = {"",
	                                  "{",
	                                  "{\"type\":\"ADDED\"}",
	                                  "{\"object\":{}}",
	                                  "{\"type\":1,\"object\":{}}",
	                                  "[1,2]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_int_eq(kube_event_parse(bad[i], strlen(bad[i]), &ev, why, sizeof(why)),
		                 -1);
		ck_assert_msg(why[0], "no reason for %s", bad[i]);
		ck_assert_ptr_null(ev.pod);
	}
	char msg[64];
	static const char st[] = STATUS("403", "Forbidden", "nope");
	kube_status_message(st, sizeof(st) - 1, msg, sizeof(msg));
	ck_assert_str_eq(msg, "nope");
	kube_status_message("<html>", 6, msg, sizeof(msg));
	ck_assert_str_eq(msg, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procpid_kube");
	TCase *tl = tcase_create("list");
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, list_then_lookups_by_uid);
	tcase_add_test(tl, in_cluster_from_environment_escapes_the_node);
	tcase_add_test(tl, wrong_ca_no_names_logged_once);
	tcase_add_test(tl, missing_token_file_then_it_appears);
	tcase_add_test(tl, rotated_token_is_used_on_the_next_request);
	suite_add_tcase(s, tl);
	TCase *tf = tcase_create("failures");
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, forbidden_then_names_appear);
	tcase_add_test(tf, watch_forbidden_keeps_the_cache_then_recovers);
	tcase_add_test(tf, server_that_never_answers_times_out_without_blocking);
	tcase_add_test(tf, truncated_and_garbled_bodies_then_recovery);
	tcase_add_test(tf, unreachable_server);
	tcase_add_test(tf, freed_while_requests_are_in_flight);
	suite_add_tcase(s, tf);
	TCase *tw = tcase_create("watch");
	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 60);
	tcase_add_test(tw, watch_events_applied);
	tcase_add_test(tw, watch_dropped_mid_event_resumes_from_last_version);
	tcase_add_test(tw, garbled_watch_line_reconnects_from_last_good_version);
	tcase_add_test(tw, gone_410_event_relists);
	tcase_add_test(tw, gone_410_status_relists);
	tcase_add_test(tw, resync_relists_while_watching);
	suite_add_tcase(s, tw);
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_values_are_refused_naming_the_key);
	tcase_add_test(tc, no_requests_when_off_without_cluster_or_loop);
	tcase_add_test(tc, procpid_loads_the_client_only_when_enabled);
	suite_add_tcase(s, tc);
	TCase *tj = tcase_create("json");
	tcase_add_test(tj, json_hostile_items_and_types);
	tcase_add_test(tj, json_watch_events);
	suite_add_tcase(s, tj);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
