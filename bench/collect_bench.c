/*
 * CPU time of one collection by the cpu, mem, net and disk plugins (loaded as
 * the agent loads them), against the minimal reader of the same files, in one
 * run, alternating so both see the same machine. Also the same collection
 * plus rendering the Prometheus text, to compare with node_exporter's scrape.
 * Prints medians in microseconds of thread CPU time and the ratios.
 *   bench_collect [passes] [proc_root] [pause_ms]
 * With pause_ms, the process sleeps between passes as the agent does between
 * ticks: caches go cold, and the figures are what a real tick costs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cobs/format.h>

#include "config_internal.h"
#include "loader.h"
#include "minimal_reader.h"

static const char *const plugins[] = {"cpu", "mem", "net", "disk"};
#define NPLUGINS 4

static double thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of the values that are not NaN (v is reordered). */
static double median(double *v, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	n = m;
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double time_reader(minimal_reader *r, size_t *bytes)
{
	double t0 = thread_cpu_us();
	*bytes += minimal_reader_pass(r);
	return thread_cpu_us() - t0;
}

static double time_collect(cobs_loaded *p, cobs_batch *b)
{
	double t0 = thread_cpu_us();
	cobs_batch_reset(b);
	b->monotonic_ns = cobs_monotonic_ns();
	for (int i = 0; i < NPLUGINS; i++)
		p[i].desc->collect(p[i].state, b);
	return thread_cpu_us() - t0;
}

static double time_render(const cobs_batch *b, cobs_buf *text)
{
	double t0 = thread_cpu_us();
	cobs_buf_clear(text);
	cobs_format_batch(b, COBS_FORMAT_PROMETHEUS, text);
	return thread_cpu_us() - t0;
}

int main(int argc, char **argv)
{
	size_t passes = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000;
	const char *proc_root = argc > 2 ? argv[2] : "/proc";
	long pause_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
	cobs_config *cfg = cobs_config_new();
	cobs_loaded p[NPLUGINS];
	cobs_plugin_env env[NPLUGINS];
	cobs_error err;
	cobs_batch *b = cobs_batch_new();
	cobs_buf text = {0};
	double *ours = calloc(passes, sizeof(double)), *ref = calloc(passes, sizeof(double)),
	       *rendered = calloc(passes, sizeof(double));
	minimal_reader *r = minimal_reader_open(proc_root);
	if (!cfg || !b || !ours || !ref || !rendered || !r)
		return 1;
	for (int i = 0; i < NPLUGINS; i++) {
		char section[64];
		snprintf(section, sizeof(section), "plugin.%s", plugins[i]);
		env[i] = (cobs_plugin_env){.config = cobs_config_add_section(cfg, section, NULL, 0),
		                           .node = "bench",
		                           .proc_root = proc_root,
		                           .sys_root = "/sys"};
		if (cobs_plugin_open(&p[i], COBS_BENCH_PLUGIN_DIR, plugins[i], plugins[i],
		                     COBS_PLUGIN_COLLECTOR, &err) < 0 ||
		    cobs_plugin_init(&p[i], &env[i], &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
	}
	size_t samples = 0, bytes = 0;
	for (size_t pass = 0; pass < passes + 50; pass++) {
		if (pause_ms > 0) {
			struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
		}
		/* Alternate who goes first: the first to run after a pause pays for cold caches. */
		double t_ref = 0, t_ours = 0, t_render = 0;
		if (pass % 2 == 0)
			t_ref = time_reader(r, &bytes);
		t_ours = time_collect(p, b);
		t_render = time_render(b, &text);
		if (pass % 2 == 1)
			t_ref = time_reader(r, &bytes);
		if (pass < 50)
			continue; /* warm-up: page cache, prev tables, arena */
		/* After a pause only the one that ran first was cold: keep that one's figure. */
		size_t k = pass - 50;
		ref[k] = pause_ms > 0 && pass % 2 == 1 ? NAN : t_ref;
		ours[k] = pause_ms > 0 && pass % 2 == 0 ? NAN : t_ours;
		rendered[k] = ours[k] + t_render;
		samples = cobs_batch_samples(b);
	}
	double m_ref = median(ref, passes), m_ours = median(ours, passes),
	       m_rendered = median(rendered, passes);
	printf("passes: %zu, pause between passes: %ld ms, proc_root: %s, samples per collection: "
	       "%zu, bytes read per pass: %zu\n",
	       passes, pause_ms, proc_root, samples, bytes / (passes + 50));
	printf("minimal reader (pread only):        %8.1f us CPU per pass (median)\n", m_ref);
	printf("cobs cpu+mem+net+disk collect:      %8.1f us CPU per pass (median)\n", m_ours);
	printf("cobs collect + Prometheus text:     %8.1f us CPU per pass (median)\n", m_rendered);
	printf("ratio collect / minimal reader:     %8.2f (target <= 1.20)\n", m_ours / m_ref);
	for (int i = 0; i < NPLUGINS; i++)
		cobs_plugin_close(&p[i]);
	minimal_reader_close(r);
	cobs_buf_free(&text);
	cobs_batch_free(b);
	cobs_config_free(cfg);
	free(ours);
	free(ref);
	free(rendered);
	return 0;
}
