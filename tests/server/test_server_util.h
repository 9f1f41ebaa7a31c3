/*
 * Helpers for the cobs-server tests: start the real binary on an ephemeral
 * loopback port, talk to it with libcurl, build protobuf batches with the
 * real encoder, and read values out of /metrics.
 */
#ifndef COBS_TEST_SERVER_UTIL_H
#define COBS_TEST_SERVER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include <cobs/format.h>
#include <cobs/metric.h>
#include <cobs/wire.h>

typedef struct test_srv {
	pid_t pid;
	char dir[64];         /* scratch directory: server.ini, stdout, stderr */
	char url[256];        /* "http://127.0.0.1:PORT/" */
	char ingest_url[256]; /* the ingest listener's, or "" */
	char err_path[128];
} test_srv;

/*
 * Starts build/bin/cobs-server with ini (NULL: no -c), --listen
 * 127.0.0.1:0 unless args hold a --listen of their own, and extra args (NULL-terminated, may be
 * NULL); waits for the "listening on" line. The server dies with the test process. 0 or -1.
 */
int tsrv_start(test_srv *s, const char *ini, const char *const *args);
/* SIGTERM and wait; the exit status (128+signal when killed, -1 on a 60 s timeout). */
int tsrv_stop(test_srv *s);
/* The server's stderr so far (malloc'd). */
char *tsrv_log(const test_srv *s);
/* s->url + path ("metrics", "api/v1/ingest", ...) into a static buffer. */
const char *tsrv_at(const test_srv *s, const char *path);

typedef struct http_resp {
	long status;
	long version; /* CURL_HTTP_VERSION_1_1, _2_0 */
	char *body;   /* NUL-terminated */
	size_t len;
	char ctype[128];
	char *headers; /* the response's header lines, as received (NUL-terminated) */
	CURLcode rc;
} http_resp;

typedef struct http_opts {
	const char *method; /* NULL: GET, or POST when body is set */
	const char *token;  /* Authorization: Bearer */
	const void *body;
	size_t len;
	const char *ctype; /* NULL: application/x-protobuf for a body */
	long version;      /* 0: HTTP/1.1 */
	const char *cafile;
	const char *const *headers; /* more "Name: value" lines, NULL-terminated (or NULL) */
} http_opts;

/* One request on a fresh connection. 0 (a response came), or -1 (see r->rc). */
int http_do(const char *url, const http_opts *o, http_resp *r);
void http_resp_free(http_resp *r);
/* GET url: the body (malloc'd), or NULL unless status 200. */
char *http_get(const char *url);

/* Encodes b as an ingest body (zstd) for node / boot / seq / interval into out (cleared). 0 or -1.
 */
int make_body(const cobs_batch *b, const char *node, const char *boot, uint64_t seq,
              uint64_t interval_ms, cobs_wire_compression comp, cobs_buf *out);
/* POSTs body to the server's ingest endpoint over HTTP/1.1; the status (or -1). */
long post_body(const test_srv *s, const cobs_buf *body, const char *token);

/* The value on the exposition line that starts with series + ' ' (exactly). 1 found, 0 not. */
int metric_value(const char *text, const char *series, double *v);
/* How many lines of text start with prefix. */
size_t count_lines(const char *text, const char *prefix);
/* Polls /metrics (up to timeout_ms) until series has value v. 1 when seen, 0 not. */
int wait_metric(const test_srv *s, const char *series, double v, int timeout_ms);

/* Where promtool is, or NULL (the test then skips its check). */
const char *promtool_path(void);

#endif
