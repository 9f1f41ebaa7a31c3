/*
 * The agent's metrics about itself (cobs_agent_*): per-plugin collection
 * time, errors and skips, batch sizes, per-sink writes and errors, its own
 * CPU time and resident memory. They travel like any plugin's batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent.h"

static double timeval_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Resident set from /proc/self/statm (pages), or -1. */
static double resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, rss;
	if (!f)
		return -1;
	int n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : -1;
}

typedef struct fam {
	const char *name, *help, *unit;
	cobs_metric_type type;
} fam;

static const fam plugin_fams[] = {
        {"cobs_agent_collections_total", "Collections run per plugin.", "", COBS_COUNTER},
        {"cobs_agent_collect_errors_total", "Collections that failed per plugin.", "",
         COBS_COUNTER},
        {"cobs_agent_collect_skips_total",
         "Scheduled collections skipped per plugin (late or backed off).", "", COBS_COUNTER},
        {"cobs_agent_collect_duration_seconds", "Duration of the last collection per plugin.",
         "seconds", COBS_GAUGE},
        {"cobs_agent_collect_seconds_total", "Time spent collecting per plugin.", "seconds",
         COBS_COUNTER},
        {"cobs_agent_batch_samples", "Samples in the last collection per plugin.", "", COBS_GAUGE},
        {"cobs_agent_batch_parts", "Batches the last collection was sent in, per plugin.", "",
         COBS_GAUGE},
        {"cobs_agent_plugin_backed_off", "1 while the plugin is backed off after failures.", "",
         COBS_GAUGE},
};

static const fam sink_fams[] = {
        {"cobs_agent_sink_writes_total", "Batches handed to each sink.", "", COBS_COUNTER},
        {"cobs_agent_sink_errors_total", "Batches a sink failed to take (dropped for it).", "",
         COBS_COUNTER},
        {"cobs_agent_sink_samples_total", "Samples written by each sink.", "", COBS_COUNTER},
};

static int add_plugin_stats(cobs_batch *b, const cobs_collector_slot *s)
{
	double v[] = {(double)s->collections, (double)s->errors,
	              (double)s->skips,       s->last_duration_s,
	              s->total_duration_s,    (double)s->last_samples,
	              (double)s->last_parts,  s->backoff_ticks > 0 ? 1.0 : 0.0};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		const fam *f = &plugin_fams[i];
		cobs_family *fm = cobs_batch_family(b, f->name, f->help, f->unit, f->type);
		if (!fm || cobs_family_add1(b, fm, v[i], "plugin", s->plugin.name) < 0)
			return -1;
	}
	return 0;
}

static int add_sink_stats(cobs_batch *b, const cobs_sink_slot *s)
{
	double v[] = {(double)s->writes, (double)s->errors, (double)s->samples};
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		const fam *f = &sink_fams[i];
		cobs_family *fm = cobs_batch_family(b, f->name, f->help, f->unit, f->type);
		if (!fm || cobs_family_add1(b, fm, v[i], "sink", s->plugin.name) < 0)
			return -1;
	}
	return 0;
}

static int add_process_stats(cobs_agent *a, cobs_batch *b)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	cobs_family *cpu = cobs_batch_family(b, "cobs_agent_cpu_seconds_total",
	                                     "CPU time the agent used.", "seconds", COBS_COUNTER);
	cobs_family *rss = cobs_batch_family(b, "cobs_agent_resident_memory_bytes",
	                                     "The agent's resident memory.", "bytes", COBS_GAUGE);
	cobs_family *loaderr = cobs_batch_family(b, "cobs_agent_plugin_load_errors",
	                                         "Plugins refused at load time.", "", COBS_GAUGE);
	cobs_family *info =
	        cobs_batch_family(b, "cobs_agent_info", "The agent's version.", "", COBS_INFO);
	if (!cpu || !rss || !loaderr || !info ||
	    cobs_family_add1(b, cpu, timeval_s(ru.ru_utime), "mode", "user") < 0 ||
	    cobs_family_add1(b, cpu, timeval_s(ru.ru_stime), "mode", "system") < 0 ||
	    cobs_family_add0(b, loaderr, (double)a->load_errors) < 0 ||
	    cobs_family_add1(b, info, 1, "version", COBS_VERSION) < 0)
		return -1;
	double r = resident_bytes();
	return r >= 0 ? cobs_family_add0(b, rss, r) : 0;
}

int cobs_agent_self_metrics(cobs_agent *a, cobs_batch *b)
{
	for (size_t i = 0; i < a->ncollectors; i++)
		if (add_plugin_stats(b, &a->collectors[i]) < 0)
			return -1;
	for (size_t i = 0; i < a->nsinks; i++)
		if (add_sink_stats(b, &a->sinks[i]) < 0)
			return -1;
	return add_process_stats(a, b);
}
