/*
 * A stand-in for the Kubernetes API client (kube.h) for tests: it knows two
 * of the k8s-node fixture's four pods, as the API would describe them, and
 * nothing else, so the tests see names where the API has them and UIDs
 * alone where it does not.
 */
#include <stdlib.h>
#include <string.h>

#include "kube.h"

struct cobs_kube {
	int lookups;
};

static const cobs_kube_label web_labels[] = {
        {"app.kubernetes.io/name", "web"},
        {"pod-template-hash", "7d9f8c6b5"},
};

static const cobs_kube_container web_containers[] = {
        {"c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0", "nginx",
         "docker.io/library/nginx:1.25", 2, false},
        {"e17eb1b6c235111f12bf4d25b4dfc53c6f518f08f07b3343ef1c60c5f81864f4", "envoy",
         "docker.io/envoyproxy/envoy:v1.29", 0, false},
};

static const cobs_kube_container db_containers[] = {
        {"8afd82ab54277fdf5ee452fd7cd1dd888278aad5cabff20ac0fc88e8d783a1b0", "postgres",
         "docker.io/library/postgres:16", 0, false},
};

static const cobs_kube_pod pods[] = {
        {"1f8e2a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "shop", "web-7d9f8c6b5-x2x7q", "Burstable",
         "Running", false, web_labels, 2, web_containers, 2},
        {"0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "data", "db-0", "Guaranteed", "Running", false,
         NULL, 0, db_containers, 1},
};

cobs_kube *cobs_kube_new(const cobs_plugin_env *env, cobs_error *err)
{
	const char *fail;
	/* A key of the client's own, so a test can see a failing client fail init. */
	if (cobs_cfg_string(env->config, "kube_fail", "", &fail, err) < 0)
		return NULL;
	if (*fail) {
		cobs_error_set(err, "kube: %s", fail);
		return NULL;
	}
	cobs_kube *k = calloc(1, sizeof(*k));
	if (!k)
		cobs_error_set(err, "out of memory");
	return k;
}

const cobs_kube_pod *cobs_kube_find_pod(cobs_kube *k, const char *pod_uid)
{
	k->lookups++;
	for (size_t i = 0; i < sizeof(pods) / sizeof(*pods); i++)
		if (strcmp(pods[i].uid, pod_uid) == 0)
			return &pods[i];
	return NULL;
}

void cobs_kube_free(cobs_kube *k)
{
	free(k);
}
