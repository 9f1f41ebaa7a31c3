/*
 * The agent runtime: what one configuration loads (collectors, sinks, the
 * agent's own settings) and how it runs on a libevent loop. A SIGHUP builds a
 * whole new runtime from the new file and swaps it in only if it built.
 */
#ifndef COBS_AGENT_H
#define COBS_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cobs/plugin.h>

#include "config_internal.h"
#include "loader.h"

/* The [agent] section. */
typedef struct cobs_agent_settings {
	char node[256];
	uint64_t interval_ms;
	char plugin_dir[4096];
	char proc_root[4096];
	char sys_root[4096];
	int log_level;
	uint64_t backoff_after; /* consecutive failures before a plugin is backed off */
	uint64_t backoff_max_ms;
	uint64_t batch_samples; /* a collection goes out in parts of about this many (0: whole) */
} cobs_agent_settings;

/* Reads [agent] (absent means defaults). 0, or -1 with err naming file, line and key. */
int cobs_settings_load(cobs_agent_settings *st, const cobs_config *cfg, cobs_error *err);

struct cobs_agent;

/*
 * The collectors that share an interval share one timer: they run back to
 * back on the same tick with the same collection time, so the agent wakes
 * once per interval, not once per plugin. The group with the agent's own
 * interval also reports the agent's metrics, after its collectors.
 */
typedef struct cobs_tick_group {
	struct cobs_agent *agent;
	struct event *timer;
	uint64_t interval_ns;
	uint64_t next_ns; /* the next deadline on the fixed-rate grid */
	uint64_t skips;   /* ticks lost to lateness (each member counts them too) */
	bool self_metrics;
} cobs_tick_group;

/* A loaded collector and what the agent knows of its health. */
typedef struct cobs_collector_slot {
	cobs_loaded plugin;
	cobs_plugin_env env;
	struct cobs_agent *agent;
	struct event *timer;
	cobs_batch *batch;
	uint64_t interval_ns;
	uint64_t next_ns;       /* the next deadline on the fixed-rate grid */
	uint64_t collections;   /* attempts that ran */
	uint64_t errors;        /* attempts that failed */
	uint64_t skips;         /* ticks skipped: late (no catch-up) or backed off */
	uint64_t failing;       /* consecutive failures */
	uint64_t backoff_ticks; /* ticks still to skip */
	double last_duration_s;
	double total_duration_s;
	size_t last_samples; /* of the last collection, all its parts */
	size_t last_parts;   /* batches the last collection went out in */
	size_t sent_samples; /* private: samples of parts already written */
} cobs_collector_slot;

/* A loaded sink and its counters. */
typedef struct cobs_sink_slot {
	cobs_loaded plugin;
	cobs_plugin_env env;
	uint64_t writes;
	uint64_t errors; /* batches the sink refused or failed: dropped */
	uint64_t samples;
} cobs_sink_slot;

typedef struct cobs_agent {
	cobs_agent_settings settings;
	cobs_config *config; /* owned */
	struct event_base *base;
	cobs_collector_slot *collectors;
	size_t ncollectors;
	cobs_sink_slot *sinks;
	size_t nsinks;
	size_t load_errors;             /* plugins that were refused */
	struct cobs_tick_group *groups; /* one timer per distinct interval */
	size_t ngroups;
	cobs_batch *self_batch;
	const char *format; /* forced output format (--format), or NULL */
	bool stdout_only;   /* --once: configured sinks are ignored, stdout prints */
} cobs_agent;

/* What the command line imposes on a build. */
typedef struct cobs_agent_options {
	const char *format; /* text|json|prometheus for the stdout sink, or NULL */
	bool stdout_only;
} cobs_agent_options;

/*
 * Builds a runtime from cfg (taking ownership of it, even on failure):
 * settings, collectors, sinks. A plugin that fails to load is logged and
 * skipped; a configuration error (bad key, unknown section, no collector
 * left) fails the build. Returns NULL with err filled.
 */
cobs_agent *cobs_agent_build(cobs_config *cfg, struct event_base *base,
                             const cobs_agent_options *opt, cobs_error *err);
/* Arms the timers: every collector at its interval, the agent's own metrics too. */
int cobs_agent_start(cobs_agent *a);
/*
 * One collection from every collector, merged into one batch and written to
 * every sink. Returns the number of samples collected (0: nothing produced),
 * or -1 when out of memory.
 */
long cobs_agent_collect_once(cobs_agent *a);
/* Flushes every sink. */
void cobs_agent_flush(cobs_agent *a);
/* Stops timers, shuts plugins down, frees. */
void cobs_agent_free(cobs_agent *a);

/* The built-in configuration used with no -c: the four node plugins, stdout. */
cobs_config *cobs_default_config(cobs_error *err);

/* Appends the agent's own metrics (cobs_agent_*) to b. 0 or -1. */
int cobs_agent_self_metrics(cobs_agent *a, cobs_batch *b);

/* Hands a batch to every sink, counting writes and errors. */
void cobs_pipeline_write(cobs_agent *a, const cobs_batch *b);

/* Runs one collection of slot into its batch; updates health counters. 0 or -1. */
int cobs_collector_run(cobs_collector_slot *slot, uint64_t now_ns);

/*
 * Fixed-rate scheduling without catch-up: the first grid point after now,
 * counting the grid points that were missed (the skips). Exposed for tests.
 */
uint64_t cobs_next_deadline(uint64_t prev_deadline, uint64_t interval, uint64_t now,
                            uint64_t *missed);

#endif
