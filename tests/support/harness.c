/* Test harness: see harness.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int harness_open(harness *h, cobs_plugin_kind kind, const char *name, const char *proc_root,
                 const char *sys_root, const char *const *kv)
{
	char section[128];
	memset(h, 0, sizeof(*h));
	snprintf(section, sizeof(section), "%s.%s", kind == COBS_PLUGIN_SINK ? "sink" : "plugin",
	         name);
	h->config = cobs_config_new();
	cobs_section *s =
	        h->config ? cobs_config_add_section(h->config, section, "test.ini", 1) : NULL;
	if (!s)
		return cobs_error_set(&h->err, "out of memory");
	for (int i = 0; kv && kv[i]; i += 2)
		if (cobs_section_set(s, kv[i], kv[i + 1], "test.ini", i / 2 + 2, &h->err) < 0)
			return -1;
	if (cobs_plugin_open(&h->plugin, COBS_TEST_PLUGIN_DIR, name, name, kind, &h->err) < 0)
		return -1;
	h->env = (cobs_plugin_env){
	        .config = s,
	        .node = "test-node",
	        .proc_root = proc_root ? proc_root : "/proc",
	        .sys_root = sys_root ? sys_root : "/sys",
	};
	if (cobs_plugin_init(&h->plugin, &h->env, &h->err) < 0)
		return -1;
	return cobs_section_check_unused(s, &h->err);
}

void harness_close(harness *h)
{
	cobs_plugin_close(&h->plugin);
	cobs_config_free(h->config);
	h->config = NULL;
}

int harness_collect(harness *h, cobs_batch *b)
{
	return harness_collect_at(h, b, cobs_monotonic_ns());
}

int harness_collect_at(harness *h, cobs_batch *b, uint64_t monotonic_ns)
{
	cobs_batch_reset(b);
	b->monotonic_ns = monotonic_ns;
	b->node = "test-node";
	b->source = h->plugin.name;
	b->timestamp_ms = cobs_wallclock_ms();
	return h->plugin.desc->collect(h->plugin.state, b);
}

const char *fixture(const char *rel)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", COBS_FIXTURES, rel);
	return buf;
}

static int labels_match(const cobs_sample *s, va_list ap)
{
	const char *name;
	while ((name = va_arg(ap, const char *))) {
		const char *want = va_arg(ap, const char *);
		int found = 0;
		for (size_t i = 0; i < s->nlabels; i++)
			if (strcmp(s->labels[i].name, name) == 0 &&
			    strcmp(s->labels[i].value, want) == 0)
				found = 1;
		if (!found)
			return 0;
	}
	return 1;
}

int sample_value(const cobs_batch *b, const char *name, double *out, ...)
{
	const cobs_family *f = cobs_batch_find(b, name);
	int matches = 0;
	for (size_t i = 0; f && i < f->nsamples; i++) {
		va_list ap;
		va_start(ap, out);
		if (labels_match(&f->samples[i], ap)) {
			*out = f->samples[i].value;
			matches++;
		}
		va_end(ap);
	}
	return matches > 1 ? -1 : matches;
}

size_t family_size(const cobs_batch *b, const char *name)
{
	const cobs_family *f = cobs_batch_find(b, name);
	return f ? f->nsamples : 0;
}

int fixture_put(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb");
	if (!in)
		return -1;
	FILE *out = fopen(dst, "wb"); /* truncates in place: the inode stays */
	if (!out) {
		fclose(in);
		return -1;
	}
	char buf[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

const char *temp_dir(void)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "/tmp/cobs-test-XXXXXX");
	return mkdtemp(buf);
}

int make_dirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int make_test_cert(const char *dir, char *cert, char *key)
{
	char cmd[3 * PATH_MAX];
	snprintf(cert, PATH_MAX, "%s/cert.pem", dir);
	snprintf(key, PATH_MAX, "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 2 "
	         "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost",
	         key, cert);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char *err = NULL;
	int rc = run_command(argv, NULL, &err);
	if (rc != 0)
		fprintf(stderr, "openssl: %s\n", err ? err : "(no output)");
	free(err);
	return rc == 0 ? 0 : -1;
}

char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) != 0 ? -1 : rc;
}

pid_t spawn_command(char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* A test's children never outlive it, even when an assertion ends it early. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	             0644);
	int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	             0644);
	if (o < 0 || e < 0)
		_exit(126);
	dup2(o, STDOUT_FILENO);
	dup2(e, STDERR_FILENO);
	execv(argv[0], argv);
	_exit(127);
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int wait_command(pid_t pid, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return exit_code(status);
		if (r < 0)
			return -1;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

int run_command(char *const argv[], char **out, char **err)
{
	char dir[64], out_path[128], err_path[128];
	snprintf(dir, sizeof(dir), "%s", temp_dir());
	snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	pid_t pid = spawn_command(argv, out_path, err_path);
	if (pid < 0)
		return -1;
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (out)
		*out = read_file(out_path);
	if (err)
		*err = read_file(err_path);
	unlink(out_path);
	unlink(err_path);
	rmdir(dir);
	return exit_code(status);
}
