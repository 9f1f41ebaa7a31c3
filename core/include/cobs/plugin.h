/* SPDX-License-Identifier: MIT */
/*
 * The plugin contract. A plugin is a shared object that exports one symbol,
 * `cobs_plugin` (COBS_PLUGIN_SYMBOL), of type cobs_plugin_desc. The host
 * refuses a plugin whose abi_version differs from COBS_PLUGIN_ABI, whose
 * kind it does not expect, or whose init fails, and goes on with the rest.
 *
 * Threading: every callback runs on the agent's loop thread and must not
 * block. A plugin keeps all its state behind its own opaque pointer.
 *
 * A minimal collector:
 *
 *   static int init(const cobs_plugin_env *env, void **state) { ... }
 *   static int collect(void *state, cobs_batch *b) {
 *       cobs_family *f = cobs_batch_family(b, "x_total", "Xs seen.", "", COBS_COUNTER);
 *       return f ? cobs_family_add0(b, f, 42) : -1;
 *   }
 *   static void shutdown(void *state) { ... }
 *   COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
 *       .abi_version = COBS_PLUGIN_ABI, .kind = COBS_PLUGIN_COLLECTOR,
 *       .name = "x", .init = init, .collect = collect, .shutdown = shutdown,
 *   };
 */
#ifndef COBS_PLUGIN_H
#define COBS_PLUGIN_H

#include <cobs/config.h>
#include <cobs/log.h>
#include <cobs/metric.h>
#include <cobs/proc.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COBS_PLUGIN_ABI    1u
#define COBS_PLUGIN_SYMBOL "cobs_plugin"
#define COBS_EXPORT        __attribute__((visibility("default")))

typedef enum cobs_plugin_kind {
	COBS_PLUGIN_COLLECTOR = 1,
	COBS_PLUGIN_SINK = 2,
	COBS_PLUGIN_NOTIFIER = 3,
} cobs_plugin_kind;

struct event_base;

/* What the host hands a plugin at init. Valid until shutdown. */
typedef struct cobs_plugin_env {
	const char *name;           /* the instance name from [plugin.<name>] / [sink.<name>] */
	const cobs_section *config; /* that section (may have no keys) */
	const char *node;           /* this node's name */
	const char *proc_root;      /* "/proc" or a fixture tree */
	const char *sys_root;       /* "/sys" or a fixture tree */
	struct event_base *base;    /* the agent's loop, for plugins with I/O of their own */
	const char *format;         /* sinks: a format forced by the command line, or NULL */
	cobs_error *err;            /* init writes why it failed here */
} cobs_plugin_env;

typedef struct cobs_plugin_desc {
	uint32_t abi_version;
	cobs_plugin_kind kind;
	const char *name;
	const char *description;

	/* Reads config from env->config, sets *state. 0, or -1 with env->err filled. */
	int (*init)(const cobs_plugin_env *env, void **state);
	void (*shutdown)(void *state);

	/* Collectors: fills the batch. 0, or -1 on failure (the host backs off). */
	int (*collect)(void *state, cobs_batch *batch);

	/* Sinks: takes one batch (copy what you keep). 0, or -1 when it was dropped. */
	int (*write)(void *state, const cobs_batch *batch);
	/* Sinks: pushes out what is buffered (at exit and on reload). May be NULL. */
	int (*flush)(void *state);
} cobs_plugin_desc;

#ifdef __cplusplus
}
#endif
#endif
