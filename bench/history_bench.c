/*
 * The server's history store: bytes per stored point on simulated series (a
 * node's counters and gauges, its derived percentages, its processes, at a
 * 5 s interval with the few ms of timer jitter a real agent shows) and on the
 * real series in tests/fixtures/history/; append and query ns per point.
 *   bench_history [nodes] [fixture_dir]
 * Two figures per point: the compressed stream alone (what the Gorilla paper's
 * 1.37 bytes counts) and everything the store allocated (block headers, ring
 * and series structs, keys, index), which is what the memory budget sees.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define INTERVAL_MS 5000
#define T0          1795525000000LL
/* 1 h retention plus a third: blocks have expired, the store is in its steady state. */
#define POINTS 1000

/* ---- deterministic randomness ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1du;
}

static double unif(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = unif(), v = unif();
	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static int chance(double p)
{
	return unif() < p;
}

/* ---- simulated series ---- */

enum kind { K_CPU, K_COUNTER, K_GAUGE, K_DERIVED, K_PROCESS, NKINDS };
static const char *const kind_names[NKINDS] = {
        "node cpu seconds (counters, 1/100 s)",     "node other counters (ctxt, intr, net, disk)",
        "node gauges (load, memory, procs)",        "node derived (cpu %, memory %, bytes/s)",
        "process series (cpu s, rss, threads, io)",
};

typedef struct sim {
	enum kind kind;
	int sub;           /* which flavour within the kind */
	double x, rate, y; /* state */
} sim;

/* Next value of a simulated series; dt_ms the real elapsed time. */
static double sim_next(sim *s, int64_t dt_ms)
{
	double f = (double)dt_ms / 1000.0;
	switch (s->kind) {
	case K_CPU: {
		/* ticks of USER_HZ=100 per mode: idle most, user/system some, the rest rare */
		double ticks;
		switch (s->sub) {
		case 0: /* idle */
			ticks = fmax(0, 100 * f - s->y);
			s->y = fmax(0, 8 + 6 * gauss()); /* busy share of the next one */
			break;
		case 1: /* user */
			ticks = fmax(0, s->rate * f + 3 * gauss());
			break;
		case 2: /* system */
			ticks = fmax(0, s->rate * f + 1.5 * gauss());
			break;
		case 3: /* iowait, softirq: mostly nothing */
			ticks = chance(0.3) ? (double)(rnd() % 4) : 0;
			break;
		default: /* nice, irq, steal, guest: zero on most machines */
			ticks = chance(0.01) ? 1 : 0;
			break;
		}
		s->x += floor(ticks + 0.5);
		return s->x / 100.0; /* as the cpu plugin turns ticks into seconds */
	}
	case K_COUNTER:
		switch (s->sub) {
		case 0: /* context switches, interrupts: steady rate with noise */
			s->x += floor(s->rate * f * (1 + 0.1 * gauss()));
			return s->x;
		case 1: /* network bytes: background chatter, bursts */
			s->x += floor(s->rate * f * fabs(1 + 0.5 * gauss()) +
			              (chance(0.05) ? unif() * 5e6 : 0));
			return s->x;
		case 2: /* network packets */
			s->x += floor(s->rate * f * fabs(1 + 0.3 * gauss()));
			return s->x;
		case 3: /* disk bytes: sectors of 512, idle with write-backs */
			if (chance(0.2))
				s->x += 512 * floor(unif() * 4000);
			return s->x;
		default: /* disk io time in seconds with ms resolution */
			if (chance(0.2))
				s->x += floor(unif() * 40);
			return s->x / 1000.0;
		}
	case K_GAUGE:
		switch (s->sub) {
		case 0: /* a load average: the kernel's 2 decimals */
			s->y = s->y * 0.92 + 0.08 * fmax(0, s->rate + gauss());
			return floor(s->y * 100 + 0.5) / 100;
		case 1: /* a memory figure in bytes: kB granularity, pages moving */
			s->x += 4096 * floor(64 * gauss());
			if (s->x < 0)
				s->x = 4096;
			return s->x;
		case 2: /* a memory figure that does not move (MemTotal, SwapTotal, zeros) */
			return s->x;
		default: /* procs running */
			return (double)(1 + rnd() % 3);
		}
	case K_DERIVED: {
		/* 100 * delta(busy) / delta(total) and friends: no short decimal form */
		double busy = 40 + 30 * unif(), total = 500 + 3 * gauss();
		switch (s->sub) {
		case 0:
			return 100 * busy / total;
		case 1: /* memory used percent: slow moving */
			s->x += 4096 * floor(64 * gauss());
			return 100 * (2.5e10 - s->x) / 2.5e10;
		default: /* bytes per second from a counter delta over the real interval */
			return floor(2e4 * fabs(1 + 0.5 * gauss())) / ((double)dt_ms / 1000.0);
		}
	}
	default:
		switch (s->sub) {
		case 0: /* cpu seconds: 80% idle, 15% a tick now and then, 5% busy */
			if (s->rate > 0.9)
				s->x += floor(fmax(0, 50 * s->rate * (1 + 0.3 * gauss())));
			else if (s->rate > 0.75 && chance(0.2))
				s->x += 1 + (double)(rnd() % 3);
			return s->x / 100.0;
		case 1: /* rss bytes: pages, rarely moving except for busy ones */
			if (chance(s->rate > 0.9 ? 0.5 : 0.02))
				s->x += 4096 * floor(32 * gauss());
			return s->x;
		case 2: /* threads */
			if (chance(0.005))
				s->x += chance(0.5) ? 1 : -1;
			return s->x;
		default: /* io bytes: mostly nothing */
			if (chance(s->rate > 0.9 ? 0.6 : 0.03))
				s->x += 4096 * (double)(rnd() % 64);
			return s->x;
		}
	}
}

/* The series of one simulated node, and how many of each kind. */
static size_t make_node(sim *out)
{
	size_t n = 0;
	for (int cpu = 0; cpu <= 4; cpu++) /* 4 cpus and the aggregate line */
		for (int mode = 0; mode < 8; mode++) {
			int sub = mode == 0 ? 0 : mode == 1 ? 1 : mode == 2 ? 2 : mode < 5 ? 3 : 4;
			out[n++] = (sim){K_CPU, sub, floor(1e5 + unif() * 1e6),
			                 mode == 1 ? 2 + 10 * unif() : 1 + 3 * unif(), 0};
		}
	for (int i = 0; i < 16; i++)
		out[n++] = (sim){K_COUNTER, i % 5, floor(1e6 + unif() * 1e9),
		                 i % 5 == 1   ? 2e4
		                 : i % 5 == 2 ? 40
		                              : 1500 + 1000 * unif(),
		                 0};
	for (int i = 0; i < 3; i++)
		out[n++] = (sim){K_GAUGE, 0, 0, 0.5 + unif(), 0.5};
	for (int i = 0; i < 20; i++)
		out[n++] = (sim){K_GAUGE, 1, 4096 * floor(1e5 + unif() * 5e6), 0, 0};
	for (int i = 0; i < 25; i++)
		out[n++] = (sim){K_GAUGE, 2, i % 2 ? 0 : 1024 * floor(unif() * 3e7), 0, 0};
	out[n++] = (sim){K_GAUGE, 3, 0, 0, 0};
	for (int i = 0; i < 8; i++)
		out[n++] = (sim){K_DERIVED, i < 5 ? 0 : i == 5 ? 1 : 2, 0, 0, 0};
	for (int p = 0; p < 300; p++) {
		double busy = unif();
		out[n++] = (sim){K_PROCESS, 0, floor(unif() * 1e5), busy, 0};
		out[n++] = (sim){K_PROCESS, 1, 4096 * floor(200 + unif() * 5e4), busy, 0};
		out[n++] = (sim){K_PROCESS, 2, 1 + (double)(rnd() % 20), busy, 0};
		out[n++] = (sim){K_PROCESS, 3, 4096 * floor(unif() * 1e5), busy, 0};
	}
	return n;
}

/* ---- timing ---- */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void print_row(const char *what, const cobs_hist_store_stats *st)
{
	printf("  %-46s %8llu pts  stream %5.2f B/pt  total %5.2f B/pt\n", what,
	       (unsigned long long)st->points, st->stream_bytes_per_point, st->bytes_per_point);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "bench_history: %s: %s\n", what, cobs_hist_strerror(rc));
	return 1;
}

/* ---- simulated nodes ---- */

static int simulated(int nodes)
{
	static sim node_series[2048];
	size_t per_node = make_node(node_series);
	size_t nseries = per_node * (size_t)nodes;
	sim *s = calloc(nseries, sizeof(*s));
	cobs_hist_id *ids = calloc(nseries, sizeof(*ids));
	cobs_hist_store *kinds[NKINDS] = {0};
	cobs_hist_id *kind_ids = calloc(nseries, sizeof(*kind_ids));
	cobs_hist_store *all = cobs_hist_store_new(NULL, 0);
	if (!s || !ids || !kind_ids || !all)
		return fail("setup", COBS_HIST_ENOMEM);
	for (int k = 0; k < NKINDS; k++)
		if (!(kinds[k] = cobs_hist_store_new(NULL, 0)))
			return fail("setup", COBS_HIST_ENOMEM);

	char key[128];
	for (int nd = 0; nd < nodes; nd++) {
		make_node(s + (size_t)nd * per_node);
		for (size_t i = 0; i < per_node; i++) {
			size_t j = (size_t)nd * per_node + i;
			int n = snprintf(key, sizeof(key), "node%d/series%zu", nd, i);
			int rc = cobs_hist_store_open(all, key, (size_t)n,
			                              s[j].kind == K_PROCESS ? 2 : 0, &ids[j]);
			if (rc < 0)
				return fail("open", rc);
			rc = cobs_hist_store_open(kinds[s[j].kind], key, (size_t)n, 0,
			                          &kind_ids[j]);
			if (rc < 0)
				return fail("open", rc);
		}
	}

	/* Values first (the generator is not what is being timed), then appends. */
	double *vals = malloc(nseries * sizeof(*vals));
	int64_t *ts = malloc((size_t)nodes * sizeof(*ts));
	if (!vals || !ts)
		return fail("setup", COBS_HIST_ENOMEM);
	double append_ns = 0;
	uint64_t appended = 0;
	int64_t last_t = 0;
	for (int p = 0; p < POINTS; p++) {
		for (int nd = 0; nd < nodes; nd++) {
			/* Timer jitter as a real agent shows: 0..3 ms, now and then tens. */
			int64_t j =
			        (int64_t)(rnd() % 4) + (chance(0.02) ? (int64_t)(rnd() % 40) : 0);
			int64_t t = T0 + (int64_t)p * INTERVAL_MS + (int64_t)nd * 17 + j;
			int64_t dt = p ? t - ts[nd] : INTERVAL_MS;
			ts[nd] = t;
			for (size_t i = 0; i < per_node; i++) {
				size_t k = (size_t)nd * per_node + i;
				vals[k] = sim_next(&s[k], dt);
			}
		}
		double t0 = now_ns();
		for (int nd = 0; nd < nodes; nd++)
			for (size_t i = 0; i < per_node; i++) {
				size_t k = (size_t)nd * per_node + i;
				int rc = cobs_hist_store_append(all, ids[k], ts[nd], vals[k]);
				if (rc != COBS_HIST_OK)
					return fail("append", rc);
			}
		append_ns += now_ns() - t0;
		appended += nseries;
		for (size_t k = 0; k < nseries; k++) {
			int rc = cobs_hist_store_append(kinds[s[k].kind], kind_ids[k],
			                                ts[k / per_node], vals[k]);
			if (rc != COBS_HIST_OK)
				return fail("append", rc);
		}
		last_t = ts[nodes - 1];
	}

	printf("== simulated: %d node(s) x %zu series, %d points at %d ms (+0..3 ms jitter), "
	       "1 h retention\n",
	       nodes, per_node, POINTS, INTERVAL_MS);
	cobs_hist_store_stats st;
	for (int k = 0; k < NKINDS; k++) {
		cobs_hist_store_stats_get(kinds[k], &st);
		print_row(kind_names[k], &st);
	}
	/* The node's own series together (what a node page charts). */
	{
		cobs_hist_store_stats a = {0};
		uint64_t bytes = 0;
		for (int k = 0; k < K_PROCESS; k++) {
			cobs_hist_store_stats_get(kinds[k], &st);
			a.points += st.points;
			a.stream_bits += st.stream_bits;
			bytes += st.bytes;
		}
		a.stream_bytes_per_point = (double)a.stream_bits / 8.0 / (double)a.points;
		a.bytes_per_point = (double)bytes / (double)a.points;
		print_row("node series, all of the above but processes", &a);
		a.points = a.stream_bits = bytes = 0;
		for (int k = 0; k < K_PROCESS; k++) {
			if (k == K_DERIVED)
				continue;
			cobs_hist_store_stats_get(kinds[k], &st);
			a.points += st.points;
			a.stream_bits += st.stream_bits;
			bytes += st.bytes;
		}
		a.stream_bytes_per_point = (double)a.stream_bits / 8.0 / (double)a.points;
		a.bytes_per_point = (double)bytes / (double)a.points;
		print_row("node series without the derived ones", &a);
	}
	cobs_hist_store_stats_get(all, &st);
	print_row("whole node (node + 300 processes)", &st);
	printf("  store: %llu series, %.1f MiB\n", (unsigned long long)st.series,
	       (double)st.bytes / 1048576.0);
	printf("  append: %.1f ns/point (%llu appends through store ids)\n",
	       append_ns / (double)appended, (unsigned long long)appended);

	/* Query: every series, its whole history, then its last 5 minutes. */
	cobs_hist_point *buf = malloc(POINTS * sizeof(*buf));
	if (!buf)
		return fail("setup", COBS_HIST_ENOMEM);
	double q_ns = 0, q5_ns = 0;
	uint64_t q_pts = 0, q5_pts = 0;
	double t0 = now_ns();
	for (size_t k = 0; k < nseries; k++) {
		int64_t n = cobs_hist_store_query(all, ids[k], INT64_MIN, INT64_MAX, buf, POINTS);
		if (n < 0)
			return fail("query", (int)n);
		q_pts += (uint64_t)n;
	}
	q_ns = now_ns() - t0;
	t0 = now_ns();
	for (size_t k = 0; k < nseries; k++) {
		int64_t n =
		        cobs_hist_store_query(all, ids[k], last_t - 300000, INT64_MAX, buf, POINTS);
		if (n < 0)
			return fail("query", (int)n);
		q5_pts += (uint64_t)n;
	}
	q5_ns = now_ns() - t0;
	printf("  query, whole history: %.1f ns/point (%llu points)\n", q_ns / (double)q_pts,
	       (unsigned long long)q_pts);
	printf("  query, last 5 min:    %.1f ns/point returned (the block is decoded from its "
	       "start)\n",
	       q5_ns / (double)q5_pts);

	free(buf);
	free(vals);
	free(ts);
	for (int k = 0; k < NKINDS; k++)
		cobs_hist_store_free(kinds[k]);
	cobs_hist_store_free(all);
	free(kind_ids);
	free(ids);
	free(s);
	return 0;
}

/* ---- real series ---- */

/* Derived ratios (100 * a / b, bytes / seconds): doubles with no short decimal form. */
static int derived(const char *name)
{
	return strstr(name, "_percent") || strstr(name, "_per_second");
}

/*
 * A fixture: a header "t_ms<TAB>name..." then rows "t<TAB>value..." with "-"
 * where a series had no sample. Its series go into st, all of them or (plain)
 * all but the derived ones.
 */
static int load_fixture(const char *path, cobs_hist_store *st, int plain, size_t *nseries)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	cobs_hist_id *ids = NULL;
	size_t n = 0;
	int rc = 0;
	if (getline(&line, &cap, f) < 0) {
		rc = -1;
		goto out;
	}
	/* columns after t_ms */
	char *save = NULL, *tok = strtok_r(line, "\t\n", &save);
	while ((tok = strtok_r(NULL, "\t\n", &save))) {
		cobs_hist_id *g = realloc(ids, (n + 1) * sizeof(*ids));
		if (!g) {
			rc = -1;
			goto out;
		}
		ids = g;
		char key[512];
		int kl = snprintf(key, sizeof(key), "%s:%s", path, tok);
		ids[n] = 0; /* no such id: its samples are skipped */
		if ((!plain || !derived(tok)) &&
		    cobs_hist_store_open(st, key, (size_t)kl, 0, &ids[n]) < 0) {
			rc = -1;
			goto out;
		}
		n++;
	}
	while (getline(&line, &cap, f) > 0) {
		save = NULL;
		tok = strtok_r(line, "\t\n", &save);
		if (!tok)
			continue;
		long long t = strtoll(tok, NULL, 10);
		for (size_t i = 0; i < n && (tok = strtok_r(NULL, "\t\n", &save)); i++) {
			if (!strcmp(tok, "-") || !ids[i])
				continue;
			int r = cobs_hist_store_append(st, ids[i], t, strtod(tok, NULL));
			if (r < 0) {
				rc = -1;
				goto out;
			}
		}
	}
	*nseries = n;
out:
	free(line);
	free(ids);
	fclose(f);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int real(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("== real series: %s not found, skipped\n", dir);
		return 0;
	}
	char *names[64];
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(d)) && nn < 64) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".tsv"))
			names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp_str);
	printf("== real series (%s): 20 min each, so the fixed cost of a series (~330 bytes)\n"
	       "   weighs ~3x what it does at 1 h; the stream figure is the one to compare\n",
	       dir);
	cobs_hist_store *all = cobs_hist_store_new(NULL, 0);
	cobs_hist_store *plain = cobs_hist_store_new(NULL, 0);
	if (!all || !plain)
		return fail("setup", COBS_HIST_ENOMEM);
	for (size_t i = 0; i < nn; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cobs_hist_store *one = cobs_hist_store_new(NULL, 0);
		size_t ns = 0;
		if (!one || load_fixture(path, plain, 1, &ns) < 0 ||
		    load_fixture(path, all, 0, &ns) < 0 || load_fixture(path, one, 0, &ns) < 0) {
			fprintf(stderr, "bench_history: cannot load %s\n", path);
			return 1;
		}
		cobs_hist_store_stats st;
		cobs_hist_store_stats_get(one, &st);
		char what[128];
		snprintf(what, sizeof(what), "%s (%zu series)", names[i], ns);
		print_row(what, &st);
		cobs_hist_store_free(one);
		free(names[i]);
	}
	cobs_hist_store_stats st;
	cobs_hist_store_stats_get(all, &st);
	print_row("all real series", &st);
	cobs_hist_store_stats_get(plain, &st);
	print_row("all but derived ratios (*_percent, *_per_second)", &st);
	cobs_hist_store_free(all);
	cobs_hist_store_free(plain);
	return 0;
}

int main(int argc, char **argv)
{
	int nodes = argc > 1 ? atoi(argv[1]) : 20;
	const char *dir = argc > 2 ? argv[2] : COBS_BENCH_FIXTURES "/history";
	if (nodes < 1)
		nodes = 1;
	printf("target: <= 2 bytes per stored point (the Gorilla paper reports 1.37)\n");
	if (simulated(nodes))
		return 1;
	return real(dir);
}
