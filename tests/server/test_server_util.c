/*
 * The cobs-server tests' helpers: process control, libcurl requests, batch
 * bodies, /metrics parsing.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_server_util.h"

#define SERVER_BIN COBS_BUILD_DIR "/bin/cobs-server"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int tsrv_start(test_srv *s, const char *ini, const char *const *args)
{
	memset(s, 0, sizeof(*s));
	const char *d = temp_dir();
	if (!d)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", d);
	char ini_path[128], out_path[128];
	snprintf(ini_path, sizeof(ini_path), "%s/server.ini", s->dir);
	snprintf(out_path, sizeof(out_path), "%s/stdout", s->dir);
	snprintf(s->err_path, sizeof(s->err_path), "%s/stderr", s->dir);
	const char *argv[32];
	size_t n = 0;
	argv[n++] = SERVER_BIN;
	int listen_given = 0;
	for (const char *const *a = args; a && *a && n < 26; a++)
		if (strcmp(*a, "--listen") == 0)
			listen_given = 1;
	if (ini) {
		if (write_file(ini_path, ini) < 0)
			return -1;
		argv[n++] = "-c";
		argv[n++] = ini_path;
	}
	if (!listen_given) {
		argv[n++] = "--listen";
		argv[n++] = "127.0.0.1:0";
	}
	for (const char *const *a = args; a && *a && n < 30; a++)
		argv[n++] = *a;
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* a failing test must not leave a server behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(SERVER_BIN, (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	for (int waited = 0; waited < 60000; waited += 10) {
		char *out = read_file(out_path);
		const char *at = out ? strstr(out, "cobs-server listening on ") : NULL;
		const char *nl = at ? strchr(at, '\n') : NULL;
		if (nl) {
			at += strlen("cobs-server listening on ");
			snprintf(s->url, sizeof(s->url), "%.*s", (int)(nl - at), at);
			const char *ing = strstr(out, "cobs-server ingest listening on ");
			const char *inl = ing ? strchr(ing, '\n') : NULL;
			if (inl) {
				ing += strlen("cobs-server ingest listening on ");
				snprintf(s->ingest_url, sizeof(s->ingest_url), "%.*s",
				         (int)(inl - ing), ing);
			}
			free(out);
			return 0;
		}
		free(out);
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s->pid = 0;
			return -1; /* it exited: the caller reads tsrv_log */
		}
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	s->pid = 0;
	return -1;
}

int tsrv_stop(test_srv *s)
{
	if (!s->pid)
		return -1;
	kill(s->pid, SIGTERM);
	int rc = wait_command(s->pid, 60000);
	if (rc == -1) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	return rc;
}

char *tsrv_log(const test_srv *s)
{
	char *t = read_file(s->err_path);
	return t ? t : strdup("");
}

const char *tsrv_at(const test_srv *s, const char *path)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%s%s", s->url, path);
	return buf;
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	cobs_buf *b = arg;
	return cobs_buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

int http_do(const char *url, const http_opts *o, http_resp *r)
{
	static const http_opts none = {0};
	if (!o)
		o = &none;
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	if (!c)
		return -1;
	cobs_buf body = {0};
	struct curl_slist *h = NULL;
	char auth[512];
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	cobs_buf heads = {0};
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &heads);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, o->version ? o->version : CURL_HTTP_VERSION_1_1);
	if (o->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cafile);
	if (o->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
		h = curl_slist_append(h, auth);
	}
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		h = curl_slist_append(h, o->headers[i]);
	if (o->body || (o->method && strcmp(o->method, "POST") == 0)) {
		char ct[160];
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		         o->ctype ? o->ctype : "application/x-protobuf");
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body ? o->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->len);
	}
	if (o->method && strcmp(o->method, "POST") != 0 && strcmp(o->method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method);
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->rc = curl_easy_perform(c);
	if (r->rc == CURLE_OK) {
		char *ct = NULL;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->version);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cobs_buf_append(&body, "", 0) < 0 && !body.data)
		r->rc = CURLE_OUT_OF_MEMORY;
	r->body = body.data ? body.data : strdup("");
	r->len = body.len;
	cobs_buf_append(&heads, "", 0);
	r->headers = heads.data ? heads.data : strdup("");
	return r->rc == CURLE_OK ? 0 : -1;
}

void http_resp_free(http_resp *r)
{
	free(r->body);
	free(r->headers);
	r->body = r->headers = NULL;
}

char *http_get(const char *url)
{
	http_resp r;
	if (http_do(url, NULL, &r) < 0 || r.status != 200) {
		http_resp_free(&r);
		return NULL;
	}
	char *body = r.body;
	r.body = NULL;
	http_resp_free(&r);
	return body;
}

/* ---- batches ---- */

int make_body(const cobs_batch *b, const char *node, const char *boot, uint64_t seq,
              uint64_t interval_ms, cobs_wire_compression comp, cobs_buf *out)
{
	cobs_wire_meta m = {.sequence = seq, .interval_ms = interval_ms};
	snprintf(m.node, sizeof(m.node), "%s", node);
	snprintf(m.agent_version, sizeof(m.agent_version), "0.1.0-test");
	snprintf(m.boot_id, sizeof(m.boot_id), "%s", boot);
	cobs_wire_opts opts = {.compression = comp};
	cobs_error err;
	cobs_buf_clear(out);
	out->len = 0;
	return cobs_wire_encode_batch(b, &m, &opts, out, &err) < 0 ? -1 : 0;
}

long post_body(const test_srv *s, const cobs_buf *body, const char *token)
{
	http_opts o = {.body = body->data, .len = body->len, .token = token};
	http_resp r;
	long status = http_do(tsrv_at(s, "api/v1/ingest"), &o, &r) == 0 ? r.status : -1;
	http_resp_free(&r);
	return status;
}

/* ---- /metrics ---- */

int metric_value(const char *text, const char *series, double *v)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			*v = strtod(p + n + 1, NULL);
			return 1;
		}
	}
	return 0;
}

size_t count_lines(const char *text, const char *prefix)
{
	size_t count = 0, n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			count++;
	return count;
}

int wait_metric(const test_srv *s, const char *series, double v, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		char *m = http_get(tsrv_at(s, "metrics"));
		double got;
		int ok = m && metric_value(m, series, &got) && got == v;
		free(m);
		if (ok)
			return 1;
		sleep_ms(20);
	}
	return 0;
}

const char *promtool_path(void)
{
	static const char *const paths[] = {"/usr/bin/promtool", "/usr/local/bin/promtool"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}
