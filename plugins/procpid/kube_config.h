/*
 * The [plugin.procpid] kube_* keys, read and checked in one place: by the
 * client itself (kube_api.c) and by procpid before it decides whether to
 * load the client at all (kube_lazy.c). Every key is read even when the API
 * is off, so none is reported unknown and a bad value is an error either way.
 */
#ifndef PROCPID_KUBE_CONFIG_H
#define PROCPID_KUBE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <cobs/plugin.h>

#define KUBE_SA_DIR        "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_DEFAULT_TOKEN KUBE_SA_DIR "/token"
#define KUBE_DEFAULT_CA    KUBE_SA_DIR "/ca.crt"

typedef struct kube_config {
	/* the section's own strings: valid while the configuration is */
	const char *url;   /* kube_api_url, "" when unset */
	const char *token; /* kube_token_file, "" for none */
	const char *ca;    /* kube_ca_file, "" for none */
	const char *host;  /* KUBERNETES_SERVICE_HOST, when in a cluster */
	uint64_t timeout_ms, resync_ms;
	bool enabled; /* kube_api is not off, and there is a URL or a cluster to ask */
} kube_config;

/* 0, or -1 with err naming the key. who names the plugin in a warning. */
int kube_config_read(const cobs_plugin_env *env, const char *who, kube_config *c, cobs_error *err);

#endif
