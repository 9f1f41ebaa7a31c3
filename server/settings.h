/* SPDX-License-Identifier: MIT */
/*
 * cobs-server's configuration: server.ini ([server], [ui], [auth]) through the
 * core's INI loader, so every error names file, line and key and every key
 * can be overridden from the environment as COBS_<SECTION>_<KEY>. Sections
 * [store], [alerts] and [notifier.*] belong to rooms not built yet: they
 * are accepted and ignored. Any other section or key is an error.
 */
#ifndef COBS_SERVER_SETTINGS_H
#define COBS_SERVER_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>

/* All interfaces: in Kubernetes the pod IP must answer probes and agents. */
#define COBS_SERVER_DEFAULT_LISTEN "0.0.0.0:8080"
/* max_batch_size's ceiling: the wire refuses a message over 16 MiB uncompressed anyway. */
#define COBS_SERVER_MAX_BATCH (64ull << 20)

typedef struct cobs_srv_settings {
	char *listen;        /* ADDR:PORT, [v6]:PORT, :PORT; port 0 picks one */
	char *ingest_listen; /* NULL: none */
	char *tls_cert;      /* both or neither: TLS on every listener */
	char *tls_key;
	uint64_t max_batch_size; /* bytes */
	uint64_t stale_after;    /* missed intervals */
	uint64_t down_after;
	uint64_t history_retention_ms;
	uint64_t history_resolution_ms; /* 0: every point the agent sends */
	uint64_t history_memory;        /* bytes; 0: unlimited */
	uint64_t heartbeat_ms;          /* command stream heartbeat */
	uint64_t command_timeout_ms;    /* default command deadline */
	uint64_t drain_timeout_ms;      /* SIGTERM: longest wait for in-flight requests */
	int log_level;
	char *web_dir;       /* [ui]: templates, static files, front-end packages */
	uint64_t refresh_ms; /* [ui]: live updates of pages; 0: none */
	char *agent_token;   /* NULL: no authentication */
	char *ui_user;       /* [auth] the dashboard, the API and /metrics: Basic */
	char *ui_password;
	char *ui_token; /* ... or Bearer; all NULL: open (local use) */
	char *source;   /* the file read, or NULL for the built-in defaults */
} cobs_srv_settings;

/*
 * Loads path (NULL: defaults and environment only); listen_override (may be
 * NULL) replaces [server] listen (the --listen flag). Returns 0, or -1 with
 * err naming file, line and key. Notes about ignored sections are logged.
 */
int cobs_srv_settings_load(const char *path, const char *listen_override, cobs_srv_settings *out,
                           cobs_error *err);
void cobs_srv_settings_free(cobs_srv_settings *s);

#endif
