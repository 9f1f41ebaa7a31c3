/*
 * The Kubernetes API client behind kube.h: keeps the pods of this node in a
 * cache by UID, filled by a list call and kept current by a watch, on the
 * agent's loop (libcurl multi on libevent, kube_http.c). procpid's lookups
 * only read the cache.
 *
 * The cycle: list (GET /api/v1/pods?fieldSelector=spec.nodeName=<node>) ->
 * watch from the list's resourceVersion (ADDED / MODIFIED / DELETED applied,
 * BOOKMARK moves the resourceVersion on) -> when the watch ends, watch again
 * from the last resourceVersion seen; "410 Gone" (the version is too old)
 * -> list again. A slow resync timer relists anyway, so a watch stalled on a
 * dead connection or a missed event cannot keep the cache wrong for long.
 * Every failure waits an exponential backoff with jitter (1 s doubling to
 * 5 min), so a node full of agents does not hammer an API server that is
 * down. One transfer at most is in flight.
 *
 * Failures are logged once (why names are missing) and once more when the
 * API answers again; retries in between log at debug level. The cache is
 * kept through failures: stale names beat none, and a pod that is gone no
 * longer has processes to label.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "kube.h"
#include "kube_cache.h"
#include "kube_config.h"
#include "kube_http.h"
#include "kube_json.h"

#define BACKOFF_FIRST_MS 1000u
#define BACKOFF_MAX_MS   300000u
/* A watch that lasted this long was healthy: its end restarts the backoff. */
#define WATCH_HEALTHY_NS (60ull * 1000000000ull)
#define MAX_LIST_BYTES   (64u << 20)
#define MAX_EVENT_BYTES  (16u << 20)
#define MAX_ERROR_BYTES  (64u << 10)
#define MAX_TOKEN_BYTES  (64u << 10)

typedef enum xfer_kind { XFER_LIST, XFER_WATCH } xfer_kind;

typedef struct kbuf {
	char *data;
	size_t len, cap;
} kbuf;

struct cobs_kube {
	char who[64]; /* the plugin's name, for log lines */

	/* configuration */
	char *api_url;    /* "https://10.96.0.1:443", no trailing '/' */
	char *list_url;   /* api_url + the pods of this node */
	char *token_file; /* NULL: send no token */
	bool token_required;
	char *ca_file; /* NULL: curl's default CA store */
	bool ca_required;
	uint64_t timeout_ms, resync_ms;

	kube_http *http;
	kube_cache *cache;
	char *rv; /* resourceVersion to watch from */

	/* the transfer in flight (easy != NULL) */
	CURL *easy;
	struct curl_slist *headers;
	xfer_kind kind;
	long status;   /* from the status line, 0 until it came */
	kbuf body;     /* list body, error body, or watch bytes not yet a whole line */
	bool relist;   /* watch: 410, list again */
	char why[256]; /* why the write callback stopped the transfer */
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started_ns;

	/* retries and logging */
	unsigned attempts; /* failures in a row, for the backoff */
	bool failing;      /* "names missing" logged, "answers again" not yet */
	bool ever_ok;
	xfer_kind next; /* what retry_ev starts */
	struct event *retry_ev;
	struct event *resync_ev;
	struct event *deadline_ev; /* watch: no answer within timeout_ms */
	struct event *reap_ev;     /* frees retired pods once control is back in the loop */
	uint64_t rng;
	bool curl_inited;
};

static void start(cobs_kube *k, xfer_kind kind);

/* ---- small helpers ---- */

static uint64_t now_ns(void)
{
	return cobs_monotonic_ns();
}

static uint64_t rnd(cobs_kube *k)
{
	k->rng ^= k->rng << 13; /* xorshift64: jitter needs spread, not secrecy */
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return k->rng;
}

/* Uniform in [d/2, d]: spreads retries of many agents (half jitter keeps a floor). */
static uint64_t jitter(cobs_kube *k, uint64_t d)
{
	return d / 2 + rnd(k) % (d / 2 + 1);
}

static uint64_t backoff_ms(cobs_kube *k)
{
	uint64_t d = BACKOFF_FIRST_MS;
	for (unsigned i = 0; i < k->attempts && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return jitter(k, d);
}

static void arm(struct event *ev, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

static int kbuf_add(kbuf *b, const char *data, size_t n, size_t max)
{
	if (n > max - b->len)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

static void kbuf_free(kbuf *b)
{
	free(b->data);
	*b = (kbuf){0};
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);
	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb);
		memcpy(s + la + lb, c, lc + 1);
	}
	return s;
}

/* "10s" or "1500ms", for messages. */
static const char *fmt_ms(uint64_t ms, char *buf, size_t n)
{
	if (ms % 1000)
		snprintf(buf, n, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
	return buf;
}

/* ---- logging and retry policy ---- */

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_kube *k = arg;
	kube_cache_reap(k->cache);
}

/* Pods were replaced or deleted: free them in a later loop callback, never under
 * a collection that may still hold their pointers. */
static void reap_later(cobs_kube *k)
{
	if (kube_cache_has_retired(k->cache))
		event_active(k->reap_ev, EV_TIMEOUT, 0);
}

/* The API answered well: say so once if it had failed (or on the very first success). */
static void answers_again(cobs_kube *k)
{
	if (k->failing)
		cobs_log(COBS_LOG_INFO, k->who,
		         "Kubernetes API answers again: pod names are back (%zu pods cached)",
		         kube_cache_count(k->cache));
	else if (!k->ever_ok)
		cobs_log(COBS_LOG_INFO, k->who,
		         "pod names from the Kubernetes API at %s (%zu pods)", k->api_url,
		         kube_cache_count(k->cache));
	k->failing = false;
	k->ever_ok = true;
}

/* A list worked: the backoff starts over. */
static void went_well(cobs_kube *k)
{
	k->attempts = 0;
	answers_again(k);
}

/* Logs why (once until it works again) and retries `next` after a backoff. */
static void went_wrong(cobs_kube *k, xfer_kind next, const char *why)
{
	if (!k->failing)
		cobs_log(
		        COBS_LOG_WARN, k->who,
		        "no pod names from the Kubernetes API: %s; processes in pods are labelled by "
		        "pod UID and container ID until it answers (retrying with backoff)",
		        why);
	else
		cobs_log(COBS_LOG_DEBUG, k->who, "Kubernetes API still failing: %s", why);
	k->failing = true;
	uint64_t ms = backoff_ms(k);
	if (k->attempts < 64)
		k->attempts++;
	k->next = next;
	arm(k->retry_ev, ms);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_kube *k = arg;
	start(k, k->next);
}

/* ---- one transfer ---- */

/* Forgets the transfer in flight (already out of the multi, or never in it). */
static void end_transfer(cobs_kube *k)
{
	if (k->easy)
		curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->headers);
	k->easy = NULL;
	k->headers = NULL;
	k->body.len = 0;
	if (k->deadline_ev)
		evtimer_del(k->deadline_ev);
}

/* Stops the transfer in flight from a loop callback (a timer of ours). */
static void abort_transfer(cobs_kube *k)
{
	if (k->easy)
		kube_http_remove(k->http, k->easy);
	end_transfer(k);
}

/* The service account token (whitespace-trimmed), re-read for every request
 * because bound tokens rotate. NULL with why filled, or with *why empty when
 * there is none to send. */
static char *read_token(cobs_kube *k, char *why, size_t n)
{
	why[0] = '\0';
	if (!k->token_file)
		return NULL;
	int fd = open(k->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (k->token_required)
			snprintf(why, n, "cannot read the service account token %s: %s",
			         k->token_file, strerror(errno));
		return NULL;
	}
	char *tok = malloc(MAX_TOKEN_BYTES + 1);
	size_t len = 0;
	ssize_t r = 0;
	while (tok && len < MAX_TOKEN_BYTES &&
	       (r = read(fd, tok + len, MAX_TOKEN_BYTES - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		len += (size_t)r;
	}
	int err = errno;
	close(fd);
	if (!tok) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	while (len && strchr(" \t\r\n", tok[len - 1]))
		len--;
	tok[len] = '\0';
	const char *bad = r < 0 ? strerror(err) : !len ? "the file is empty" : NULL;
	if (!bad)
		bad = strpbrk(tok, "\r\n") ? "it holds several lines" : NULL;
	if (bad) {
		free(tok);
		if (k->token_required)
			snprintf(why, n, "cannot use the service account token %s: %s",
			         k->token_file, bad);
		return NULL;
	}
	return tok;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	cobs_kube *k = arg;
	size_t n = size * nmemb;
	/* The status line: the server answered, so the watch's no-answer deadline is off. */
	if (n > 9 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);
		if (sp && (size_t)(sp - data) + 4 <= n) {
			long st = 0;
			for (int i = 1; i <= 3 && sp[i] >= '0' && sp[i] <= '9'; i++)
				st = st * 10 + (sp[i] - '0');
			k->status = st;
		}
		evtimer_del(k->deadline_ev);
		/* A watch that opens after failures ends the failure (its backoff does
		 * not restart: a server that accepts and drops at once is no success). */
		if (k->kind == XFER_WATCH && k->status == 200 && k->failing)
			answers_again(k);
	}
	return n;
}

/* One watch event. 0 to go on, -1 to stop the stream (k->why or k->relist say why). */
static int watch_line(cobs_kube *k, const char *line, size_t len)
{
	while (len && strchr(" \t\r", line[len - 1]))
		len--;
	if (!len)
		return 0;
	kube_event ev;
	char why[200];
	if (kube_event_parse(line, len, &ev, why, sizeof(why)) < 0) {
		snprintf(k->why, sizeof(k->why), "watch stream: %s", why);
		return -1;
	}
	int rc = 0;
	switch (ev.type) {
	case KUBE_EV_ADDED:
	case KUBE_EV_MODIFIED:
		if (ev.pod) {
			kube_cache_put(k->cache, ev.pod);
			ev.pod = NULL;
		}
		break;
	case KUBE_EV_DELETED:
		if (ev.pod)
			kube_cache_del(k->cache, ev.pod->pod.uid);
		break;
	case KUBE_EV_ERROR:
		if (ev.code == 410)
			k->relist = true;
		else
			snprintf(k->why, sizeof(k->why), "watch error %ld: %s", ev.code,
			         ev.message ? ev.message : "(no message)");
		rc = -1;
		break;
	case KUBE_EV_BOOKMARK: /* only moves the resourceVersion on */
	case KUBE_EV_OTHER:
		break;
	}
	if (ev.rv) {
		free(k->rv);
		k->rv = ev.rv;
		ev.rv = NULL;
	}
	kube_event_clear(&ev);
	reap_later(k);
	return rc;
}

/* Applies every whole line in the buffer and keeps the incomplete rest. */
static int watch_bytes(cobs_kube *k, const char *data, size_t n)
{
	size_t scan = k->body.len;
	if (kbuf_add(&k->body, data, n, MAX_EVENT_BYTES) < 0) {
		snprintf(k->why, sizeof(k->why),
		         "watch event larger than %u MiB (or out of memory)",
		         MAX_EVENT_BYTES >> 20);
		return -1;
	}
	size_t start_at = 0;
	char *nl;
	while ((nl = memchr(k->body.data + scan, '\n', k->body.len - scan))) {
		size_t end = (size_t)(nl - k->body.data);
		if (watch_line(k, k->body.data + start_at, end - start_at) < 0)
			return -1;
		start_at = scan = end + 1;
	}
	memmove(k->body.data, k->body.data + start_at, k->body.len - start_at);
	k->body.len -= start_at;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	cobs_kube *k = arg;
	size_t n = size * nmemb;
	if (k->status != 200) { /* an error answer: keep its start for the message */
		size_t room = MAX_ERROR_BYTES - k->body.len;
		kbuf_add(&k->body, data, n < room ? n : room, MAX_ERROR_BYTES);
		return n;
	}
	if (k->kind == XFER_WATCH)
		return watch_bytes(k, data, n) < 0 ? 0 : n;
	if (kbuf_add(&k->body, data, n, MAX_LIST_BYTES) < 0) {
		snprintf(k->why, sizeof(k->why), "PodList larger than %u MiB (or out of memory)",
		         MAX_LIST_BYTES >> 20);
		return 0;
	}
	return n;
}

/* A new request for url, or NULL with why filled. */
static CURL *new_request(cobs_kube *k, const char *url, xfer_kind kind, char *why, size_t n)
{
	char *tok = read_token(k, why, n);
	if (!tok && why[0])
		return NULL;
	bool https = strncasecmp(url, "https:", 6) == 0;
	if (https && k->ca_file && access(k->ca_file, R_OK) != 0 && k->ca_required) {
		snprintf(why, n, "cannot read the CA certificate %s: %s", k->ca_file,
		         strerror(errno));
		free(tok);
		return NULL;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	bool ok = h != NULL;
	if (ok && tok) {
		char *auth = join("Authorization: Bearer ", tok, "");
		ok = auth && curl_slist_append(h, auth);
		free(auth);
	}
	free(tok);
	CURL *e = ok ? curl_easy_init() : NULL;
	if (!e) {
		snprintf(why, n, "out of memory");
		curl_slist_free_all(h);
		return NULL;
	}
	k->headers = h;
	k->errbuf[0] = '\0';
	k->why[0] = '\0';
	k->status = 0;
	k->relist = false;
	k->body.len = 0;
	k->kind = kind;
	k->started_ns = now_ns();
	CURLcode rc = CURLE_OK;
#define SET(opt, val) (rc = rc ? rc : curl_easy_setopt(e, opt, val))
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	/* One request at a time: HTTP/2 would buy nothing, and 7.88's h2 has reuse bugs. */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_HTTPHEADER, h);
	SET(CURLOPT_USERAGENT, "cobs-agent (procpid)");
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)k->timeout_ms);
	SET(CURLOPT_ERRORBUFFER, k->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, k);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, k);
	if (https && k->ca_file && access(k->ca_file, R_OK) == 0)
		SET(CURLOPT_CAINFO, k->ca_file);
	if (kind == XFER_LIST) {
		SET(CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
		SET(CURLOPT_ACCEPT_ENCODING, ""); /* a big node's PodList shrinks ~10x gzipped */
	} else {
		/* A watch is idle for minutes: keepalive notices a peer that vanished. */
		SET(CURLOPT_TCP_KEEPALIVE, 1L);
	}
#undef SET
	if (rc != CURLE_OK) {
		snprintf(why, n, "libcurl refused an option: %s", curl_easy_strerror(rc));
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		k->headers = NULL;
		return NULL;
	}
	return e;
}

static void start(cobs_kube *k, xfer_kind kind)
{
	char why[300];
	evtimer_del(k->retry_ev);
	if (k->easy)
		abort_transfer(k);
	char *url = NULL;
	if (kind == XFER_WATCH) {
		char *rv = curl_easy_escape(NULL, k->rv ? k->rv : "", 0);
		url = rv ? join(k->list_url,
		                "&watch=1&allowWatchBookmarks=true&resourceVersion=", rv)
		         : NULL;
		curl_free(rv);
	} else {
		url = strdup(k->list_url);
	}
	if (!url) {
		went_wrong(k, kind, "out of memory");
		return;
	}
	CURL *e = new_request(k, url, kind, why, sizeof(why));
	free(url);
	if (!e) {
		went_wrong(k, kind, why);
		return;
	}
	k->easy = e;
	if (kube_http_add(k->http, e) < 0) {
		end_transfer(k);
		went_wrong(k, kind, "libcurl refused the transfer");
		return;
	}
	/* A list has CURLOPT_TIMEOUT; a watch never ends by design, so only its
	 * first answer has a deadline. */
	if (kind == XFER_WATCH)
		arm(k->deadline_ev, k->timeout_ms);
}

/* Why a transfer that did not bring a 200 failed, in words for the log. */
static void describe(cobs_kube *k, CURLcode rc, char *why, size_t n)
{
	char t[32];
	const char *what = k->kind == XFER_LIST ? "listing pods" : "watching pods";
	if (k->why[0]) {
		snprintf(why, n, "%s", k->why);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, n, "%s: no answer from %s within %s (kube_timeout)", what, k->api_url,
		         fmt_ms(k->timeout_ms, t, sizeof(t)));
	} else if (rc != CURLE_OK) {
		snprintf(why, n, "%s: %s", what, k->errbuf[0] ? k->errbuf : curl_easy_strerror(rc));
	} else {
		char msg[160];
		kube_status_message(k->body.data, k->body.len, msg, sizeof(msg));
		const char *hint = k->status == 401 ? " (the token was refused)"
		                   : k->status == 403
		                           ? " (RBAC: the service account needs get, list "
		                             "and watch on pods)"
		                           : "";
		snprintf(why, n, "%s: HTTP %ld%s%s%s", what, k->status, hint, msg[0] ? ": " : "",
		         msg);
	}
}

static void list_done(cobs_kube *k, CURLcode rc)
{
	char why[300];
	if (rc != CURLE_OK || k->status != 200) {
		describe(k, rc, why, sizeof(why));
		end_transfer(k);
		went_wrong(k, XFER_LIST, why);
		return;
	}
	kube_entry *pods;
	char *rv, jwhy[200];
	int bad = kube_podlist_parse(k->body.data, k->body.len, &pods, &rv, jwhy, sizeof(jwhy));
	end_transfer(k);
	if (bad) {
		snprintf(why, sizeof(why), "listing pods: %s", jwhy);
		went_wrong(k, XFER_LIST, why);
		return;
	}
	kube_cache_clear(k->cache);
	while (pods) {
		kube_entry *next = pods->next;
		kube_cache_put(k->cache, pods);
		pods = next;
	}
	reap_later(k);
	free(k->rv);
	k->rv = rv;
	went_well(k);
	if (k->resync_ms)
		arm(k->resync_ev,
		    k->resync_ms - k->resync_ms / 10 + rnd(k) % (k->resync_ms / 5 + 1));
	start(k, XFER_WATCH);
}

static void watch_done(cobs_kube *k, CURLcode rc)
{
	char why[300];
	bool relist = k->relist || k->status == 410;
	bool opened = k->status == 200;
	uint64_t lasted = now_ns() - k->started_ns;
	if (!relist && !opened)
		describe(k, rc, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", k->why[0] ? k->why : k->errbuf);
	end_transfer(k);
	if (relist) {
		/* Our resourceVersion is older than the server keeps: only a list helps. */
		cobs_log(COBS_LOG_DEBUG, k->who, "watch: resourceVersion expired (410), relisting");
		start(k, XFER_LIST);
		return;
	}
	if (!opened) {
		went_wrong(k, XFER_WATCH, why);
		return;
	}
	/* Servers end watches after a while; a drop is no failure worth a warning. */
	cobs_log(COBS_LOG_DEBUG, k->who, "watch ended%s%s; watching again from %s",
	         why[0] ? ": " : "", why, k->rv ? k->rv : "the start");
	if (lasted >= WATCH_HEALTHY_NS)
		k->attempts = 0;
	uint64_t ms = backoff_ms(k);
	if (k->attempts < 64)
		k->attempts++;
	k->next = XFER_WATCH;
	arm(k->retry_ev, ms);
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
	cobs_kube *k = arg;
	if (easy != k->easy) { /* not ours any more: cannot happen, but never leak it */
		curl_easy_cleanup(easy);
		return;
	}
	if (k->kind == XFER_LIST)
		list_done(k, rc);
	else
		watch_done(k, rc);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_kube *k = arg;
	char why[200], t[32];
	if (!k->easy || k->status)
		return;
	snprintf(why, sizeof(why), "watching pods: no answer from %s within %s (kube_timeout)",
	         k->api_url, fmt_ms(k->timeout_ms, t, sizeof(t)));
	abort_transfer(k);
	went_wrong(k, XFER_WATCH, why);
}

/* The slow resync: a fresh list, unless one is already under way or due. */
static void on_resync(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_kube *k = arg;
	if (k->easy ? k->kind == XFER_LIST
	            : evtimer_pending(k->retry_ev, NULL) && k->next == XFER_LIST)
		return;
	start(k, XFER_LIST);
}

/* ---- configuration ---- */

static int dup_to(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

/* Reads every kube_ key (all of them, so none is reported unknown when the API
 * is off). *enabled says whether to talk to an API at all. */
static int configure(cobs_kube *k, const cobs_plugin_env *env, bool *enabled, cobs_error *err)
{
	kube_config c;
	if (kube_config_read(env, k->who, &c, err) < 0)
		return -1;
	const char *url = c.url, *token = c.token, *ca = c.ca, *host = c.host;
	k->timeout_ms = c.timeout_ms;
	k->resync_ms = c.resync_ms;
	*enabled = c.enabled;
	if (!*enabled)
		return 0;
	if (*url) {
		if (dup_to(&k->api_url, url) < 0)
			return cobs_error_set(err, "out of memory");
	} else {
		const char *port = getenv("KUBERNETES_SERVICE_PORT");
		if (!port || !*port)
			port = "443";
		bool v6 = strchr(host, ':') && host[0] != '['; /* an IPv6 address needs brackets */
		size_t n = strlen("https://[]:") + strlen(host) + strlen(port) + 1;
		if (!(k->api_url = malloc(n)))
			return cobs_error_set(err, "out of memory");
		snprintf(k->api_url, n, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
		         port);
	}
	for (size_t n = strlen(k->api_url); n && k->api_url[n - 1] == '/'; n--)
		k->api_url[n - 1] = '\0';
	/* In a cluster the service account's files must be there. Against an
	 * explicit URL (kubectl proxy, tests) the standard ones are used only when
	 * present, and other files named explicitly must be there. Empty: none. */
	k->token_required = *token && (!*url || strcmp(token, KUBE_DEFAULT_TOKEN) != 0);
	k->ca_required = *ca && (!*url || strcmp(ca, KUBE_DEFAULT_CA) != 0);
	if (dup_to(&k->token_file, *token ? token : NULL) < 0 ||
	    dup_to(&k->ca_file, *ca ? ca : NULL) < 0)
		return cobs_error_set(err, "out of memory");

	char *sel = join("spec.nodeName=", env->node ? env->node : "", "");
	char *esc = sel ? curl_easy_escape(NULL, sel, 0) : NULL;
	k->list_url = esc ? join(k->api_url, "/api/v1/pods?fieldSelector=", esc) : NULL;
	free(sel);
	curl_free(esc);
	if (!k->list_url)
		return cobs_error_set(err, "out of memory");
	if (!env->node || !*env->node) {
		/* An empty nodeName selects the unscheduled pods of the whole cluster. */
		cobs_log(COBS_LOG_WARN, k->who,
		         "no node name: no pod names from the Kubernetes API");
		*enabled = false;
	}
	return 0;
}

/* ---- kube.h ---- */

cobs_kube *cobs_kube_new(const cobs_plugin_env *env, cobs_error *err)
{
	cobs_kube *k = calloc(1, sizeof(*k));
	if (!k) {
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	snprintf(k->who, sizeof(k->who), "%s", env->name ? env->name : "procpid");
	bool enabled = false;
	if (configure(k, env, &enabled, err) < 0) {
		cobs_kube_free(k);
		return NULL;
	}
	if (!enabled)
		return k;
	cobs_log(COBS_LOG_DEBUG, k->who, "Kubernetes API at %s%s", k->api_url,
	         env->base ? "" : " (not used: no event loop)");
	if (!env->base) /* no loop to run requests on: every lookup answers "unknown" */
		return k;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cobs_error_set(err, "cannot initialise libcurl");
		cobs_kube_free(k);
		return NULL;
	}
	k->curl_inited = true;
	k->rng = now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)k;
	if (!k->rng)
		k->rng = 88172645463325252ull;
	k->cache = kube_cache_new();
	k->http = kube_http_new(env->base, on_done, k);
	k->retry_ev = evtimer_new(env->base, on_retry, k);
	k->resync_ev = evtimer_new(env->base, on_resync, k);
	k->deadline_ev = evtimer_new(env->base, on_deadline, k);
	k->reap_ev = event_new(env->base, -1, 0, on_reap, k);
	if (!k->cache || !k->http || !k->retry_ev || !k->resync_ev || !k->deadline_ev ||
	    !k->reap_ev) {
		cobs_error_set(err, "out of memory");
		cobs_kube_free(k);
		return NULL;
	}
	/* The first list starts from the loop: nothing happens under --check or --once. */
	k->next = XFER_LIST;
	arm(k->retry_ev, 0);
	return k;
}

const cobs_kube_pod *cobs_kube_find_pod(cobs_kube *k, const char *pod_uid)
{
	return k && k->cache ? kube_cache_get(k->cache, pod_uid) : NULL;
}

void cobs_kube_free(cobs_kube *k)
{
	if (!k)
		return;
	if (k->easy)
		abort_transfer(k);
	else
		curl_slist_free_all(k->headers);
	kube_http_free(k->http);
	struct event *evs[] = {k->retry_ev, k->resync_ev, k->deadline_ev, k->reap_ev};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	kube_cache_free(k->cache);
	kbuf_free(&k->body);
	free(k->rv);
	free(k->api_url);
	free(k->list_url);
	free(k->token_file);
	free(k->ca_file);
	if (k->curl_inited)
		curl_global_cleanup();
	free(k);
}

/* ---- the module's table (kube.h) ---- */

static void *module_open(const cobs_plugin_env *env, cobs_error *err)
{
	return cobs_kube_new(env, err);
}

static const cobs_kube_pod *module_find_pod(void *client, const char *pod_uid)
{
	return cobs_kube_find_pod(client, pod_uid);
}

static void module_close(void *client)
{
	cobs_kube_free(client);
}

COBS_EXPORT const kube_module cobs_procpid_kube = {module_open, module_find_pod, module_close};
