/*
 * procpid's side of the Kubernetes API client (kube.h): the kube_* keys are
 * checked here, and the client itself (KUBE_MODULE_FILE, built from
 * kube_api.c and its helpers) is loaded from procpid.so's own directory only
 * when the API is enabled. A node outside Kubernetes thus never maps libcurl
 * and the TLS libraries behind it (~5 MiB of RSS, most of it their load-time
 * initialisation), and with the API off every lookup answers NULL as before.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "kube_config.h"

struct cobs_kube {
	void *dl;              /* the module, NULL while the API is off */
	const kube_module *fn; /* its table */
	void *client;          /* its client */
};

/* The module next to this plugin: found through this function's own address. 0 or -1. */
static int load_module(cobs_kube *k, cobs_error *err)
{
	Dl_info info;
	if (!dladdr((void *)load_module, &info) || !info.dli_fname)
		return cobs_error_set(err, "cannot find procpid's own directory for %s",
		                      KUBE_MODULE_FILE);
	const char *slash = strrchr(info.dli_fname, '/');
	int dirlen = slash ? (int)(slash - info.dli_fname) : 1;
	const char *dir = slash ? info.dli_fname : ".";
	char path[4096];
	if (snprintf(path, sizeof(path), "%.*s/%s", dirlen, dir, KUBE_MODULE_FILE) >=
	    (int)sizeof(path))
		return cobs_error_set(err, "the path of %s is too long", KUBE_MODULE_FILE);
	if (!(k->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		return cobs_error_set(err, "cannot load the Kubernetes API client: %s", dlerror());
	if (!(k->fn = dlsym(k->dl, KUBE_MODULE_SYMBOL)))
		return cobs_error_set(err, "%s has no %s", path, KUBE_MODULE_SYMBOL);
	return 0;
}

cobs_kube *cobs_kube_new(const cobs_plugin_env *env, cobs_error *err)
{
	kube_config c;
	if (kube_config_read(env, env->name ? env->name : "procpid", &c, err) < 0)
		return NULL;
	cobs_kube *k = calloc(1, sizeof(*k));
	if (!k)
		return cobs_error_set(err, "out of memory"), NULL;
	/* With the API on, the client reads (and checks) the same keys again for itself. */
	if (c.enabled && (load_module(k, err) < 0 || !(k->client = k->fn->open(env, err)))) {
		cobs_kube_free(k);
		return NULL;
	}
	return k;
}

const cobs_kube_pod *cobs_kube_find_pod(cobs_kube *k, const char *pod_uid)
{
	return k && k->client ? k->fn->find_pod(k->client, pod_uid) : NULL;
}

void cobs_kube_free(cobs_kube *k)
{
	if (!k)
		return;
	if (k->client)
		k->fn->close(k->client);
	if (k->dl)
		dlclose(k->dl);
	free(k);
}
