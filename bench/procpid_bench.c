/*
 * procpid against the cost of reading /proc at all, with N idle processes
 * on the machine (N = 100, 1000, 5000 by default), in one run:
 *
 *   A  minimal reader, reopening: list /proc, then open+read+close stat, status,
 *      io and cgroup of every PID, every pass
 *   B  minimal reader, keeping: list /proc, pread stat, status and io through fds
 *      kept open, read cgroup once per PID+starttime
 *   ours  one procpid collection (loaded as the agent loads it), and the same
 *      plus rendering the Prometheus text
 *
 * Each runs in a worker process of its own, and passes alternate A, B, ours so
 * all see the same machine; medians of thread CPU time are printed with the ratio ours / min(A, B)
 * (target <= 1.5). Then, when prometheus-process-exporter is installed, it scrapes the same N
 * processes (CPU per scrape from its /proc/PID/stat via bench_scrape; target:
 * ours at least 10x cheaper). Last, at the largest N, 1000 collections while
 * processes come and go: the process's RSS after 100 and after 1000.
 *
 *   bench_procpid [N,N,...] [passes]       the comparison
 *   bench_procpid --hold N [churn]         only keep N idle processes (replacing
 *                                          `churn` of them every 100 ms) until
 *                                          stdin closes: for run-benchmarks
 *
 * The idle processes come from a spawner forked first, while this process
 * has nothing open: forking from here later would copy thousands of kept fds
 * into every child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cobs/format.h>

#include "config_internal.h"
#include "loader.h"

/* ---- the spawner: a small process that forks and kills idle children ---- */

typedef struct spawner {
	pid_t pid;
	int cmd; /* we write int32 deltas: +k spawn k, -k kill the k oldest */
	int ack; /* it answers one byte per command */
} spawner;

static void idle_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
}

/* The spawner's loop: a ring of child PIDs, oldest first. */
static void spawner_main(int cmd, int ack)
{
	size_t cap = 65536, head = 0, n = 0;
	pid_t *ring = malloc(cap * sizeof(*ring));
	if (!ring)
		_exit(1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int32_t d;
	while (read(cmd, &d, sizeof(d)) == (ssize_t)sizeof(d)) {
		for (; d > 0 && n < cap; d--) {
			pid_t p = fork();
			if (p == 0)
				idle_child();
			if (p < 0)
				break;
			ring[(head + n++) % cap] = p;
		}
		for (; d < 0 && n > 0; d++) {
			pid_t p = ring[head];
			head = (head + 1) % cap;
			n--;
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
		char c = 1;
		if (write(ack, &c, 1) != 1)
			break;
	}
	for (; n > 0; n--, head = (head + 1) % cap)
		kill(ring[head], SIGKILL);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static int spawner_start(spawner *s)
{
	int c[2], a[2];
	if (pipe(c) < 0 || pipe(a) < 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(c[1]);
		close(a[0]);
		spawner_main(c[0], a[1]);
	}
	close(c[0]);
	close(a[1]);
	s->cmd = c[1];
	s->ack = a[0];
	fcntl(s->cmd, F_SETFD, FD_CLOEXEC);
	fcntl(s->ack, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* Changes the number of idle processes by delta and waits until it is done. */
static int spawner_adjust(spawner *s, int32_t delta)
{
	char c;
	if (write(s->cmd, &delta, sizeof(delta)) != (ssize_t)sizeof(delta) ||
	    read(s->ack, &c, 1) != 1)
		return -1;
	return 0;
}

static void spawner_stop(spawner *s)
{
	close(s->cmd);
	close(s->ack);
	waitpid(s->pid, NULL, 0);
}

/* ---- the two minimal readers ---- */

static char rbuf[65536];

static bool numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* open + read + close. Bytes read, 0 on error. */
static size_t read_once(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, rbuf, sizeof(rbuf));
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* A: reopen every file of every PID every pass. */
static size_t reader_a_pass(int proc_fd, DIR *d)
{
	static const char *const files[] = {"stat", "status", "io", "cgroup"};
	size_t bytes = 0;
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!numeric(de->d_name))
			continue;
		char rel[64];
		for (int i = 0; i < 4; i++) {
			snprintf(rel, sizeof(rel), "%.20s/%s", de->d_name, files[i]);
			bytes += read_once(proc_fd, rel);
		}
	}
	return bytes;
}

/* B: stat, status and io kept open; cgroup once per PID+starttime. */
typedef struct b_entry {
	int pid; /* 0: empty slot */
	unsigned long long start;
	int fd[3];
	unsigned pass;
} b_entry;

typedef struct reader_b {
	b_entry *slots;
	size_t cap; /* power of two, > 2x the PIDs */
	unsigned pass;
} reader_b;

static b_entry *b_slot(reader_b *r, int pid)
{
	size_t i = ((size_t)pid * 2654435761u) & (r->cap - 1);
	while (r->slots[i].pid && r->slots[i].pid != pid)
		i = (i + 1) & (r->cap - 1);
	return &r->slots[i];
}

static void b_close(b_entry *e)
{
	for (int i = 0; i < 3; i++)
		if (e->fd[i] >= 0)
			close(e->fd[i]);
	e->fd[0] = e->fd[1] = e->fd[2] = -1;
}

static size_t pread_fd(int fd)
{
	ssize_t n = pread(fd, rbuf, sizeof(rbuf) - 1, 0);
	if (n <= 0)
		return 0;
	rbuf[n] = '\0';
	return (size_t)n;
}

/* stat field 22 (starttime), counted after the comm's last ')'. */
static unsigned long long starttime_of(size_t n)
{
	char *p = memrchr(rbuf, ')', n);
	if (!p)
		return 0;
	for (int f = 2; f < 22 && p; f++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static size_t reader_b_pass(reader_b *r, int proc_fd, DIR *d)
{
	static const char *const files[] = {"stat", "status", "io"};
	size_t bytes = 0;
	r->pass++;
	rewinddir(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!numeric(de->d_name))
			continue;
		int pid = atoi(de->d_name);
		b_entry *e = b_slot(r, pid);
		char rel[64];
		if (!e->pid) {
			*e = (b_entry){.pid = pid, .fd = {-1, -1, -1}};
			for (int i = 0; i < 3; i++) {
				snprintf(rel, sizeof(rel), "%d/%s", pid, files[i]);
				e->fd[i] = openat(proc_fd, rel, O_RDONLY | O_CLOEXEC);
			}
		}
		size_t n = e->fd[0] >= 0 ? pread_fd(e->fd[0]) : 0;
		if (!n)
			continue; /* gone: swept below */
		unsigned long long st = starttime_of(n);
		if (st != e->start) {
			e->start = st;
			snprintf(rel, sizeof(rel), "%d/cgroup", pid);
			bytes += read_once(proc_fd, rel);
		}
		bytes += n;
		for (int i = 1; i < 3; i++)
			if (e->fd[i] >= 0)
				bytes += pread_fd(e->fd[i]);
		e->pass = r->pass;
	}
	/* Sweep: drop the departed and re-place the rest (linear probing has no delete). */
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i].pid && r->slots[i].pass != r->pass) {
			b_close(&r->slots[i]);
			r->slots[i].pid = 0;
		}
	for (size_t i = 0; i < r->cap; i++) {
		if (!r->slots[i].pid)
			continue;
		b_entry e = r->slots[i];
		r->slots[i].pid = 0;
		*b_slot(r, e.pid) = e;
	}
	return bytes;
}

static void reader_b_free(reader_b *r)
{
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i].pid)
			b_close(&r->slots[i]);
	free(r->slots);
}

/* ---- measuring ---- */

static double thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long self_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

typedef struct ours {
	cobs_config *cfg;
	cobs_loaded p;
	cobs_plugin_env env;
	cobs_batch *b;
	cobs_buf text;
} ours;

static int ours_open(ours *o)
{
	cobs_error err;
	memset(o, 0, sizeof(*o));
	o->cfg = cobs_config_new();
	o->b = cobs_batch_new();
	if (!o->cfg || !o->b)
		return -1;
	o->env = (cobs_plugin_env){
	        .config = cobs_config_add_section(o->cfg, "plugin.procpid", NULL, 0),
	        .name = "procpid",
	        .node = "bench",
	        .proc_root = "/proc",
	        .sys_root = "/sys"};
	if (cobs_plugin_open(&o->p, COBS_BENCH_PLUGIN_DIR, "procpid", "procpid",
	                     COBS_PLUGIN_COLLECTOR, &err) < 0 ||
	    cobs_plugin_init(&o->p, &o->env, &err) < 0) {
		fprintf(stderr, "procpid: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int ours_collect(ours *o)
{
	cobs_batch_reset(o->b);
	o->b->monotonic_ns = cobs_monotonic_ns();
	return o->p.desc->collect(o->p.state, o->b);
}

static void ours_close(ours *o)
{
	cobs_plugin_close(&o->p);
	cobs_batch_free(o->b);
	cobs_buf_free(&o->text);
	cobs_config_free(o->cfg);
}

/* ---- prometheus-process-exporter, for comparison ---- */

static const char *exporter_path(void)
{
	const char *p = getenv("PROCESS_EXPORTER");
	if (p && *p)
		return access(p, X_OK) == 0 ? p : NULL;
	return access("/usr/bin/prometheus-process-exporter", X_OK) == 0
	               ? "/usr/bin/prometheus-process-exporter"
	               : NULL;
}

/* Runs argv, its stdout into out (NUL-terminated), its stderr dropped when quiet.
 * Exit status, or -1. */
static int run_capture(char *const argv[], char *out, size_t len, bool quiet)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, STDERR_FILENO);
		}
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t off = 0;
	ssize_t n;
	while (pid > 0 && off + 1 < len && (n = read(p[0], out + off, len - off - 1)) > 0)
		off += (size_t)n;
	out[off] = '\0';
	close(p[0]);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts process-exporter grouping every process by comm, scrapes it, prints its cost. */
static double exporter_compare(const char *exporter, const char *scraper, int scrapes)
{
	char cfg[] = "/tmp/cobs-bench-pe-XXXXXX";
	int fd = mkstemp(cfg);
	if (fd < 0)
		return -1;
	const char yaml[] = "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.+'\n";
	if (write(fd, yaml, sizeof(yaml) - 1) != (ssize_t)sizeof(yaml) - 1) {
		close(fd);
		return -1;
	}
	close(fd);
	pid_t pe = fork();
	if (pe == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl(exporter, exporter, "-config.path", cfg, "-web.listen-address",
		      "127.0.0.1:19256", (char *)NULL);
		_exit(127);
	}
	char pid_s[24], n_s[24], out[4096];
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pe);
	char *probe[] = {(char *)scraper, "19256", "1", pid_s, NULL};
	bool up = false;
	for (int i = 0; i < 100 && !up; i++) {
		up = run_capture(probe, out, sizeof(out), true) == 0;
		if (!up)
			nanosleep(&(struct timespec){0, 100000000}, NULL);
	}
	double ms = -1;
	snprintf(n_s, sizeof(n_s), "%d", scrapes);
	char *scrape[] = {(char *)scraper, "19256", n_s, pid_s, NULL};
	if (up && run_capture(scrape, out, sizeof(out), false) == 0) {
		const char *c = strstr(out, "cpu_ms_per_scrape ");
		const char *r = strstr(out, "rss_kib ");
		ms = c ? strtod(c + 18, NULL) : -1;
		printf("  process-exporter: %8.1f ms CPU per scrape, RSS %ld KiB (%d scrapes)\n",
		       ms, r ? strtol(r + 8, NULL, 10) : -1L, scrapes);
	} else {
		printf("  process-exporter: did not answer on 127.0.0.1:19256\n");
	}
	kill(pe, SIGTERM);
	waitpid(pe, NULL, 0);
	unlink(cfg);
	return ms;
}

/* ---- the run ---- */

static int hold(int n, int churn)
{
	spawner sp;
	if (spawner_start(&sp) < 0 || spawner_adjust(&sp, n) < 0)
		return 1;
	printf("holding %d idle processes, replacing %d every 100 ms; close stdin to end\n", n,
	       churn);
	fflush(stdout);
	struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
	char c[64];
	for (;;) {
		int r = poll(&in, 1, 100);
		if (r > 0 && read(STDIN_FILENO, c, sizeof(c)) <= 0)
			break;
		if (churn && (spawner_adjust(&sp, -churn) < 0 || spawner_adjust(&sp, churn) < 0))
			break;
	}
	spawner_stop(&sp);
	return 0;
}

/*
 * Each reader runs in a worker process of its own: reader B and procpid each keep
 * 3 fds per process, and both at N = 5000 do not fit one process's fd limit. The
 * workers take turns, one pass each, so all three see the same machine.
 */
enum { W_A, W_B, W_OURS, W_N };

typedef struct reply {
	double cpu_ms;    /* the pass */
	double render_ms; /* ours: the pass + the Prometheus text */
	size_t samples, text_len;
	double pids;
	long rss_kib;
} reply;

typedef struct worker {
	pid_t pid;
	int cmd, res;
} worker;

static void worker_main(int kind, int cmd, int res)
{
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = opendir("/proc");
	reader_b rb = {.cap = 1 << 16};
	ours o;
	if (proc_fd < 0 || !d || !(rb.slots = calloc(rb.cap, sizeof(*rb.slots))) ||
	    (kind == W_OURS && ours_open(&o) < 0))
		_exit(1);
	char c;
	size_t bytes = 0;
	while (read(cmd, &c, 1) == 1 && c == 'p') {
		reply r = {0};
		double t0 = thread_cpu_ms();
		if (kind == W_A)
			bytes += reader_a_pass(proc_fd, d);
		else if (kind == W_B)
			bytes += reader_b_pass(&rb, proc_fd, d);
		else if (ours_collect(&o) < 0)
			fprintf(stderr, "procpid collect failed\n");
		r.cpu_ms = thread_cpu_ms() - t0;
		if (kind == W_OURS) {
			cobs_buf_clear(&o.text);
			cobs_format_batch(o.b, COBS_FORMAT_PROMETHEUS, &o.text);
			r.render_ms = thread_cpu_ms() - t0;
			r.samples = cobs_batch_samples(o.b);
			r.text_len = o.text.len;
			const cobs_family *f = cobs_batch_find(o.b, "node_processes_pids");
			r.pids = f && f->nsamples ? f->samples[0].value : 0;
		}
		r.rss_kib = self_rss_kib();
		if (write(res, &r, sizeof(r)) != (ssize_t)sizeof(r))
			break;
	}
	(void)bytes;
	if (kind == W_OURS)
		ours_close(&o);
	reader_b_free(&rb);
	closedir(d);
	close(proc_fd);
	_exit(0);
}

static int worker_start(worker *w, int kind)
{
	int c[2], r[2];
	if (pipe(c) < 0 || pipe(r) < 0)
		return -1;
	fflush(stdout);
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		close(c[1]);
		close(r[0]);
		worker_main(kind, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	w->cmd = c[1];
	w->res = r[0];
	fcntl(w->cmd, F_SETFD, FD_CLOEXEC);
	fcntl(w->res, F_SETFD, FD_CLOEXEC);
	return 0;
}

static int worker_pass(worker *w, reply *r)
{
	char c = 'p';
	return write(w->cmd, &c, 1) == 1 && read(w->res, r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 0
	                                                                                       : -1;
}

static void worker_stop(worker *w)
{
	/* An explicit 'q': closing our end is no EOF while the other workers, forked after
	 * this one, still hold copies of it. */
	char c = 'q';
	if (write(w->cmd, &c, 1) != 1)
		kill(w->pid, SIGKILL);
	close(w->cmd);
	close(w->res);
	waitpid(w->pid, NULL, 0);
}

static void measure(spawner *sp, int *current, int n, int passes, const char *scraper)
{
	if (spawner_adjust(sp, n - *current) < 0) {
		fprintf(stderr, "cannot spawn %d processes\n", n);
		exit(1);
	}
	*current = n;
	worker w[W_N];
	double *t[W_N + 1];
	for (int k = 0; k <= W_N; k++)
		if (!(t[k] = calloc((size_t)passes, sizeof(double))))
			exit(1);
	for (int k = 0; k < W_N; k++)
		if (worker_start(&w[k], k) < 0)
			exit(1);
	reply last = {0};
	for (int pass = -3; pass < passes; pass++) { /* 3 warm-up passes */
		for (int k = 0; k < W_N; k++) {
			reply r;
			if (worker_pass(&w[k], &r) < 0) {
				fprintf(stderr, "worker %d failed\n", k);
				exit(1);
			}
			if (pass < 0)
				continue;
			t[k][pass] = r.cpu_ms;
			if (k == W_OURS) {
				t[W_N][pass] = r.render_ms;
				last = r;
			}
		}
	}
	for (int k = 0; k < W_N; k++)
		worker_stop(&w[k]);
	double a = median(t[W_A], (size_t)passes), b = median(t[W_B], (size_t)passes);
	double c = median(t[W_OURS], (size_t)passes), r = median(t[W_N], (size_t)passes);
	double best = a < b ? a : b;
	printf("N = %d idle processes (%.0f on the machine), %d passes, %zu samples per "
	       "collection, %zu bytes of Prometheus text\n",
	       n, last.pids, passes, last.samples, last.text_len);
	printf("  A reopen every file:            %8.2f ms CPU per pass (median)\n", a);
	printf("  B keep fds, cgroup once:        %8.2f ms CPU per pass\n", b);
	printf("  procpid collect:                %8.2f ms CPU per pass\n", c);
	printf("  procpid collect + text:         %8.2f ms CPU per pass\n", r);
	printf("  ratio procpid / min(A, B):      %8.2f (target <= 1.5)\n", c / best);
	printf("  RSS of the procpid worker:      %8ld KiB (plugin, batch, text)\n", last.rss_kib);
	const char *exporter = exporter_path();
	if (exporter && scraper) {
		int scrapes = n >= 5000 ? 5 : n >= 1000 ? 10 : 30;
		double pe = exporter_compare(exporter, scraper, scrapes);
		if (pe > 0)
			printf("  process-exporter / procpid+text: %7.1fx (target >= 10x)\n",
			       pe / r);
	} else {
		printf("  process-exporter: not installed (tools/install-deps bench): skipped\n");
	}
	fflush(stdout);
	for (int k = 0; k <= W_N; k++)
		free(t[k]);
}

/* 1000 collections while `churn` processes are replaced before each: RSS stays flat. */
static void churn_rss(spawner *sp, int n, int churn)
{
	worker w;
	if (worker_start(&w, W_OURS) < 0)
		exit(1);
	long rss100 = 0;
	double cpu = 0;
	reply r = {0};
	for (int i = 1; i <= 1000; i++) {
		if (spawner_adjust(sp, -churn) < 0 || spawner_adjust(sp, churn) < 0 ||
		    worker_pass(&w, &r) < 0)
			exit(1);
		cpu += r.render_ms;
		if (i == 100)
			rss100 = r.rss_kib;
	}
	worker_stop(&w);
	printf("churn at N = %d: %d processes replaced before each of 1000 collections\n", n,
	       churn);
	printf("  RSS of the procpid worker (plugin + batch + text) after 100: %ld KiB, after "
	       "1000: %ld KiB (growth %ld KiB)\n",
	       rss100, r.rss_kib, r.rss_kib - rss100);
	printf("  mean CPU per collection + text: %.2f ms\n", cpu / 1000);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	/* As cobs-agent does at start: the soft fd limit up to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (argc >= 3 && strcmp(argv[1], "--hold") == 0)
		return hold(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 0);
	const char *list = argc > 1 ? argv[1] : "100,1000,5000";
	int passes = argc > 2 ? atoi(argv[2]) : 20;
	if (passes < 1)
		passes = 1;

	/* bench_scrape sits next to this program. */
	static char scraper[4096];
	ssize_t len = readlink("/proc/self/exe", scraper, sizeof(scraper) - 32);
	if (len > 0) {
		scraper[len] = '\0';
		char *slash = strrchr(scraper, '/');
		snprintf(slash + 1, sizeof(scraper) - (size_t)(slash + 1 - scraper),
		         "bench_scrape");
	}
	spawner sp;
	if (spawner_start(&sp) < 0)
		return 1;
	int current = 0, last = 0;
	char *copy = strdup(list);
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		last = atoi(tok);
		measure(&sp, &current, last, passes, len > 0 ? scraper : NULL);
	}
	free(copy);
	if (last > 0)
		churn_rss(&sp, last, last / 100 > 0 ? last / 100 : 1);
	spawner_stop(&sp);
	return 0;
}
