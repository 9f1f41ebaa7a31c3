/*
 * procpid with pod names: the plugin built with a stand-in Kubernetes client
 * (test_procpid_kubefake.c) that knows the k8s-node fixture's web and db
 * pods. Names reach process, container and pod series; pods the API does
 * not know keep their UID and container IDs only; a failing client fails
 * init with its message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define WEB_UID   "1f8e2a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
#define BATCH_UID "7c9d0e1f-2a3b-4c5d-8e6f-7a8b9c0d1e2f"
#define NGINX_ID  "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"
#define SANDBOX   "9ec75e384b0c69031d9f288a010b65ada11d7886fcf167caf7e397edd8a2cbd6"
#define WEB_NAME  "web-7d9f8c6b5-x2x7q"

/* harness_open for a plugin file outside the plugin directory. */
static int open_fake(harness *h, const char *const *kv)
{
	memset(h, 0, sizeof(*h));
	h->config = cobs_config_new();
	cobs_section *s =
	        h->config ? cobs_config_add_section(h->config, "plugin.procpid", "test.ini", 1)
	                  : NULL;
	ck_assert_ptr_nonnull(s);
	for (int i = 0; kv && kv[i]; i += 2)
		ck_assert_int_eq(
		        cobs_section_set(s, kv[i], kv[i + 1], "test.ini", i / 2 + 2, &h->err), 0);
	ck_assert_int_eq(cobs_plugin_open(&h->plugin, NULL, "procpid", COBS_KUBEFAKE_SO,
	                                  COBS_PLUGIN_COLLECTOR, &h->err),
	                 0);
	static char proc[4096], sys[4096];
	snprintf(proc, sizeof(proc), "%s", fixture("k8s-node/proc"));
	snprintf(sys, sizeof(sys), "%s", fixture("k8s-node/sys"));
	h->env = (cobs_plugin_env){
	        .config = s, .node = "test-node", .proc_root = proc, .sys_root = sys};
	return cobs_plugin_init(&h->plugin, &h->env, &h->err);
}

START_TEST(names_everywhere)
{
	harness h;
	ck_assert_msg(open_fake(&h, NULL) == 0, "%s", h.err.msg);
	cobs_batch *b = cobs_batch_new();
	ck_assert_int_eq(harness_collect_at(&h, b, 100000000000u), 0);
	double v;
	/* A process in a known container: namespace, pod, container, and the IDs still. */
	ck_assert_int_eq(sample_value(b, "process_resident_memory_bytes", &v, "pid", "1020",
	                              "namespace", "shop", "pod", WEB_NAME, "container", "nginx",
	                              "pod_uid", WEB_UID, "container_id", NGINX_ID, NULL),
	                 1);
	ck_assert_double_eq(v, 40000.0 * 1024);
	/* The sandbox is in no pod spec: namespace and pod, no container name. */
	ck_assert_int_eq(sample_value(b, "process_threads", &v, "pid", "1001", "pod", WEB_NAME,
	                              "container_id", SANDBOX, NULL),
	                 1);
	ck_assert_int_eq(
	        sample_value(b, "process_threads", &v, "pid", "1001", "container", "nginx", NULL),
	        0);
	/* An unknown pod: IDs only. */
	ck_assert_int_eq(
	        sample_value(b, "process_threads", &v, "pid", "1120", "pod_uid", BATCH_UID, NULL),
	        1);
	ck_assert_int_eq(
	        sample_value(b, "process_threads", &v, "pid", "1120", "namespace", "shop", NULL),
	        0);
	/* Container and pod series. */
	ck_assert_int_eq(sample_value(b, "container_memory_working_set_bytes", &v, "namespace",
	                              "shop", "pod", WEB_NAME, "container", "nginx", NULL),
	                 1);
	ck_assert_double_eq(v, 83886080);
	ck_assert_int_eq(sample_value(b, "container_memory_usage_bytes", &v, "namespace", "data",
	                              "pod", "db-0", "container", "postgres", NULL),
	                 1);
	ck_assert_int_eq(sample_value(b, "cobs_pod_info", &v, "namespace", "shop", "pod", WEB_NAME,
	                              "phase", "Running", "qos_class", "burstable", "host_network",
	                              "false", NULL),
	                 1);
	ck_assert_int_eq(sample_value(b, "kube_pod_labels", &v, "namespace", "shop",
	                              "label_app_kubernetes_io_name", "web",
	                              "label_pod_template_hash", "7d9f8c6b5", NULL),
	                 1);
	ck_assert_uint_eq(family_size(b, "kube_pod_labels"), 1); /* db has none */
	ck_assert_int_eq(sample_value(b, "kube_pod_container_status_restarts_total", &v,
	                              "container", "nginx", NULL),
	                 1);
	ck_assert_double_eq(v, 2);
	ck_assert_uint_eq(family_size(b, "kube_pod_container_status_restarts_total"), 3);
	ck_assert_int_eq(sample_value(b, "cobs_container_info", &v, "container", "envoy", "image",
	                              "docker.io/envoyproxy/envoy:v1.29", "runtime", "containerd",
	                              NULL),
	                 1);
	ck_assert_int_eq(sample_value(b, "container_network_receive_bytes_total", &v, "namespace",
	                              "shop", "pod", WEB_NAME, "interface", "eth0", NULL),
	                 1);
	ck_assert_double_eq(v, 9876543);
	cobs_batch_free(b);
	harness_close(&h);
}
END_TEST

START_TEST(failing_client_fails_init)
{
	harness h;
	ck_assert_int_eq(open_fake(&h, (const char *const[]){"kube_fail", "bad token path", NULL}),
	                 -1);
	ck_assert_msg(strstr(h.err.msg, "bad token path") != NULL, "%s", h.err.msg);
	harness_close(&h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procpid_names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, names_everywhere);
	tcase_add_test(tc, failing_client_fails_init);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
