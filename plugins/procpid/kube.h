/*
 * Pod metadata for procpid: names, namespaces, labels, QoS class, phase,
 * container names, images and restart counts, by pod UID. The interface is
 * all procpid knows of the Kubernetes API (the client is kube_api.c and its
 * helpers). procpid needs no answer to work: when every lookup returns NULL
 * it groups by pod UID and container ID alone (tests/plugins builds it with a
 * stand-in, test_procpid_kubefake.c).
 *
 * Contract for an implementation:
 *  - Everything runs on the agent's loop thread and never blocks: the client
 *    lists and watches pods through env->base (libcurl multi driven by
 *    libevent), caches them by UID, and answers lookups from the cache. It
 *    never makes a request per lookup or per collection.
 *  - Without API access (no token, 403, unreachable, timeout) it logs once
 *    why names are missing and keeps answering NULL; metrics keep flowing.
 *  - Pointers it returns stay valid until control returns to the loop (that
 *    is, for the rest of the collection that asked): procpid copies what it
 *    keeps into the batch.
 *  - Its configuration keys are read from env->config ([plugin.procpid]),
 *    with names starting "kube_", and documented in conf/agent.ini.
 */
#ifndef PROCPID_KUBE_H
#define PROCPID_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cobs/plugin.h>

typedef struct cobs_kube cobs_kube;

typedef struct cobs_kube_label {
	const char *name;
	const char *value;
} cobs_kube_label;

typedef struct cobs_kube_container {
	/* The runtime's ID as in the cgroup path: status.containerStatuses[].containerID
	 * without its "containerd://", "cri-o://" or "docker://" scheme. */
	const char *id;
	const char *name;
	const char *image;
	uint32_t restart_count;
	bool init; /* from initContainerStatuses */
} cobs_kube_container;

typedef struct cobs_kube_pod {
	const char *uid; /* metadata.uid, with dashes */
	const char *namespace_name;
	const char *name;
	const char *qos_class; /* status.qosClass: "Guaranteed", "Burstable", "BestEffort" */
	const char *phase;     /* status.phase: "Running", "Pending", ... */
	bool host_network;     /* spec.hostNetwork */
	const cobs_kube_label *labels;
	size_t nlabels;
	const cobs_kube_container *containers;
	size_t ncontainers;
} cobs_kube_pod;

/*
 * A client for this node's pods (env->node is the node name). Returns NULL
 * with err filled only when its configuration is wrong; missing API access
 * is not an error (see above).
 */
cobs_kube *cobs_kube_new(const cobs_plugin_env *env, cobs_error *err);

/* The pod with this UID (with dashes), or NULL when it is not known (yet). */
const cobs_kube_pod *cobs_kube_find_pod(cobs_kube *k, const char *pod_uid);

void cobs_kube_free(cobs_kube *k);

/* The container of pod p with this runtime ID, or NULL (the sandbox has none). */
/*
 * procpid loads the client as a module of its own (KUBE_MODULE_FILE, next to
 * procpid.so) only when the API is enabled: libcurl and the TLS stack behind
 * it cost ~5 MiB of RSS on every node otherwise. The module (kube_api.c)
 * exports this table as KUBE_MODULE_SYMBOL; procpid's side (kube_lazy.c)
 * implements the three functions above through it.
 */
typedef struct kube_module {
	void *(*open)(const cobs_plugin_env *env, cobs_error *err);
	const cobs_kube_pod *(*find_pod)(void *client, const char *pod_uid);
	void (*close)(void *client);
} kube_module;

#define KUBE_MODULE_FILE   "procpid_kube.so"
#define KUBE_MODULE_SYMBOL "cobs_procpid_kube"
extern const kube_module cobs_procpid_kube;

static inline const cobs_kube_container *cobs_kube_pod_container(const cobs_kube_pod *p,
                                                                 const char *id)
{
	for (size_t i = 0; p && id && i < p->ncontainers; i++)
		if (p->containers[i].id && strcmp(p->containers[i].id, id) == 0)
			return &p->containers[i];
	return NULL;
}

#endif
