/*
 * The http2 sink's transport (see transport.h): curl multi on libevent, and
 * the rules that keep every request on one HTTP/2 connection.
 *
 * A connection is opened by a POST, never by the command stream: a POST has
 * a deadline (timeout), so a server that accepts and then says nothing
 * cannot leave everyone waiting behind an opener that never ends. Batches
 * go out from the first collection on, so the stream joins within one
 * interval.
 */
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/log.h>

#include "transport.h"

#define REASON_MAX  1024       /* bytes of an error answer kept for the log */
#define TOKEN_MAX   (16 << 10) /* a bearer token file larger than this is not one */
#define KEEPIDLE_S  30L        /* TCP keepalive: a silently dead peer is noticed */
#define KEEPINTVL_S 10L

typedef enum conn_state {
	CONN_NONE = 0,    /* no connection: the next POST opens one */
	CONN_OPENING = 1, /* an opener is on its way */
	CONN_UP = 2,      /* the opener got an HTTP/2 answer: everyone may join */
} conn_state;

typedef struct sock_ctx {
	struct sock_ctx *next, *prev;
	struct h2_transport *t;
	curl_socket_t fd;
	struct event *ev;
} sock_ctx;

typedef struct req_list {
	h2_request *first, *last;
} req_list;

struct h2_request {
	h2_request *next, *prev;
	req_list *on; /* the list it is on: pending, active or done */
	h2_transport *t;
	CURL *easy;
	struct curl_slist *headers;
	h2_handlers h;
	void *arg;
	bool stream;
	bool opener;  /* allowed to open the connection */
	bool refused; /* we refused it a socket: queue it again, unseen */
	bool h1;      /* the server answered over HTTP/1 */
	bool aborted; /* its owner aborted it from on_data */
	int result;   /* CURLcode once done */
	long status;
	uint64_t retry_after_ms;
	char reason[REASON_MAX + 1];
	size_t reason_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct h2_transport {
	struct event_base *base;
	CURLM *multi;
	struct event *timer; /* curl's timeout */
	struct event *pump;  /* deferred: start what may start */
	char *url, *token, *token_file, *ca_file, *who, *user_agent;
	bool tls;
	uint64_t timeout_ms;
	req_list pending, active, done;
	conn_state conn;
	int open_sockets;
	bool reset_wanted;
	sock_ctx *socks;

	/* token_file, re-read only when it changed (a rotated secret is a new inode) */
	char *file_token;
	dev_t tok_dev;
	ino_t tok_ino;
	struct timespec tok_mtime;
	off_t tok_size;
	bool tok_failing;

	h2_transport_stats stats;
};

static void list_push(req_list *l, h2_request *r, bool front)
{
	r->on = l;
	r->prev = r->next = NULL;
	if (!l->first) {
		l->first = l->last = r;
	} else if (front) {
		r->next = l->first;
		l->first->prev = r;
		l->first = r;
	} else {
		r->prev = l->last;
		l->last->next = r;
		l->last = r;
	}
}

static void list_unlink(h2_request *r)
{
	req_list *l = r->on;
	if (!l)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		l->first = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->last = r->prev;
	r->on = NULL;
	r->prev = r->next = NULL;
}

static void schedule_pump(h2_transport *t)
{
	event_active(t->pump, 0, 0);
}

/* ---- the bearer token ---- */

/* Whitespace and a trailing newline are not part of a token; a control byte would be a
 * header injection. 0, or -1 for a token that cannot go in a header. */
static int trim_token(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	size_t lead = strspn(s, " \t\r\n");
	memmove(s, s + lead, n - lead + 1);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	return 0;
}

static void token_failed(h2_transport *t, const char *why)
{
	if (!t->tok_failing)
		cobs_log(COBS_LOG_ERROR, t->who,
		         "token_file '%s': %s; requests go without a token until it is readable",
		         t->token_file, why);
	t->tok_failing = true;
	free(t->file_token);
	t->file_token = NULL;
	t->tok_ino = 0;
}

/* The token for the next request: the configured one, or token_file's current content. */
static const char *current_token(h2_transport *t)
{
	if (!t->token_file)
		return t->token;
	struct stat st;
	if (stat(t->token_file, &st) < 0) {
		token_failed(t, strerror(errno));
		return NULL;
	}
	if (t->file_token && st.st_dev == t->tok_dev && st.st_ino == t->tok_ino &&
	    st.st_size == t->tok_size && st.st_mtim.tv_sec == t->tok_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == t->tok_mtime.tv_nsec)
		return t->file_token;
	if (st.st_size > TOKEN_MAX) {
		token_failed(t, "larger than 16 KiB");
		return NULL;
	}
	int fd = open(t->token_file, O_RDONLY | O_CLOEXEC);
	char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = fd >= 0 && buf ? read(fd, buf, (size_t)st.st_size) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		free(buf);
		token_failed(t, buf ? strerror(e) : "out of memory");
		return NULL;
	}
	buf[n] = '\0';
	if (trim_token(buf) < 0 || !*buf) {
		free(buf);
		token_failed(t, "empty, or holds control characters");
		return NULL;
	}
	if (t->tok_failing)
		cobs_log(COBS_LOG_INFO, t->who, "token_file '%s' is readable again", t->token_file);
	t->tok_failing = false;
	free(t->file_token);
	t->file_token = buf;
	t->tok_dev = st.st_dev;
	t->tok_ino = st.st_ino;
	t->tok_size = st.st_size;
	t->tok_mtime = st.st_mtim;
	return buf;
}

/* ---- curl callbacks: they only record and schedule, never call curl ---- */

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	h2_request *r = arg;
	(void)purpose;
	if (!r->opener) {
		/* Its connection is gone and it would open another: it waits for an opener. */
		r->refused = true;
		return CURL_SOCKET_BAD;
	}
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd >= 0) {
		r->t->open_sockets++;
		r->t->stats.connects++;
	}
	return fd;
}

static int on_close_socket(void *arg, curl_socket_t fd)
{
	h2_transport *t = arg;
	close(fd);
	if (--t->open_sockets <= 0) {
		t->open_sockets = 0;
		if (t->conn == CONN_UP) {
			t->conn = CONN_NONE;
			schedule_pump(t);
		}
	}
	return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	h2_request *r = arg;
	size_t len = size * n;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);
		long status = sp ? strtol(sp + 1, NULL, 10) : 0;
		if (!(len > 6 && p[5] == '2' && (p[6] == ' ' || p[6] == '.'))) {
			r->h1 = true;
			return 0; /* abort: see transport.h */
		}
		r->status = status;
		r->reason_len = 0;
		if (r->opener && r->t->conn == CONN_OPENING) {
			r->t->conn = CONN_UP;
			schedule_pump(r->t);
		}
		if (r->stream && r->h.on_status)
			r->h.on_status(r->arg, status);
	} else if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char *end;
		unsigned long long s = strtoull(p + 12, &end, 10);
		if (end != p + 12 && s < 86400)
			r->retry_after_ms = s * 1000u;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	h2_request *r = arg;
	size_t len = size * n;
	if (r->stream && r->status == 200) {
		if (r->h.on_data(r->arg, (const uint8_t *)p, len) < 0) {
			r->aborted = true;
			return 0;
		}
		return len;
	}
	size_t room = REASON_MAX - r->reason_len;
	size_t take = len < room ? len : room;
	memcpy(r->reason + r->reason_len, p, take);
	r->reason_len += take;
	r->reason[r->reason_len] = '\0';
	return len;
}

/* ---- requests ---- */

static void request_free(h2_request *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r);
}

static int add_header(h2_request *r, const char *h)
{
	struct curl_slist *l = curl_slist_append(r->headers, h);
	if (!l)
		return -1;
	r->headers = l;
	return 0;
}

static h2_request *request_new(h2_transport *t, const char *path, bool stream, const h2_handlers *h,
                               void *arg)
{
	h2_request *r = calloc(1, sizeof(*r));
	size_t ulen = strlen(t->url) + strlen(path) + 1;
	char *url = malloc(ulen);
	if (!r || !url || !(r->easy = curl_easy_init()))
		goto fail;
	snprintf(url, ulen, "%s%s", t->url, path);
	r->t = t;
	r->h = *h;
	r->arg = arg;
	r->stream = stream;
	const char *tok = current_token(t);
	if (tok) {
		size_t n = strlen(tok) + 32;
		char *auth = malloc(n);
		if (!auth)
			goto fail;
		snprintf(auth, n, "Authorization: Bearer %s", tok);
		int rc = add_header(r, auth);
		free(auth);
		if (rc < 0)
			goto fail;
	}
	if (add_header(r, stream ? "Accept: application/x-protobuf"
	                         : "Content-Type: application/x-protobuf") < 0 ||
	    add_header(r, "Expect:") < 0)
		goto fail;
	CURL *e = r->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PIPEWAIT, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)t->timeout_ms);
	if (!stream)
		SET(CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, KEEPIDLE_S);
	SET(CURLOPT_TCP_KEEPINTVL, KEEPINTVL_S);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, r);
	/* The connection outlives the request that opened it: its close goes to t. */
	SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SET(CURLOPT_CLOSESOCKETDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_USERAGENT, t->user_agent);
	if (t->ca_file)
		SET(CURLOPT_CAINFO, t->ca_file);
#undef SET
	free(url); /* curl copies strings it is given */
	url = NULL;
	if (rc != CURLE_OK) {
		cobs_log(COBS_LOG_ERROR, t->who, "libcurl refused an option: %s",
		         curl_easy_strerror(rc));
		goto fail;
	}
	return r;
fail:
	free(url);
	request_free(r);
	return NULL;
}

h2_request *h2_transport_post(h2_transport *t, const char *path, const uint8_t *body, size_t len,
                              const h2_handlers *h, void *arg)
{
	h2_request *r = request_new(t, path, false, h, arg);
	if (!r)
		return NULL;
	if (curl_easy_setopt(r->easy, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, (const char *)body) != CURLE_OK) {
		request_free(r);
		return NULL;
	}
	list_push(&t->pending, r, false);
	schedule_pump(t);
	return r;
}

h2_request *h2_transport_stream(h2_transport *t, const char *path, const h2_handlers *h, void *arg)
{
	h2_request *r = request_new(t, path, true, h, arg);
	if (!r)
		return NULL;
	list_push(&t->pending, r, false);
	schedule_pump(t);
	return r;
}

void h2_request_cancel(h2_request *r)
{
	if (!r)
		return;
	h2_transport *t = r->t;
	if (r->on == &t->active) {
		curl_multi_remove_handle(t->multi, r->easy);
		if (r->opener && t->conn == CONN_OPENING) {
			t->conn = CONN_NONE; /* someone else opens it */
			schedule_pump(t);
		}
	}
	list_unlink(r);
	request_free(r);
}

/* ---- the multi handle on the loop ---- */

static void process_done(h2_transport *t);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	sock_ctx *c = arg;
	h2_transport *t = c->t; /* c may be freed inside socket_action */
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	             ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(t->multi, fd, action, &running);
	process_done(t);
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2_transport *t = arg;
	int running;
	curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(t);
}

static void sock_free(h2_transport *t, sock_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->socks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->ev)
		event_free(c->ev);
	free(c);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)e;
	h2_transport *t = userp;
	sock_ctx *c = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (c) {
			curl_multi_assign(t->multi, fd, NULL);
			sock_free(t, c);
		}
		return 0;
	}
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))))
			return -1;
		c->t = t;
		c->fd = fd;
		c->next = t->socks;
		if (t->socks)
			t->socks->prev = c;
		t->socks = c;
		curl_multi_assign(t->multi, fd, c);
	}
	if (c->ev)
		event_free(c->ev);
	short kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	                     ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
	c->ev = event_new(t->base, fd, kind, on_socket_event, c);
	if (!c->ev || event_add(c->ev, NULL) < 0)
		return -1;
	return 0;
}

static int on_timer_change(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	h2_transport *t = userp;
	if (timeout_ms < 0) {
		evtimer_del(t->timer);
		return 0;
	}
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	return evtimer_add(t->timer, &tv) < 0 ? -1 : 0;
}

static CURLM *multi_new(h2_transport *t)
{
	CURLM *m = curl_multi_init();
	if (!m)
		return NULL;
	if (curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 1L) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, t) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer_change) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERDATA, t) != CURLM_OK) {
		curl_multi_cleanup(m);
		return NULL;
	}
	return m;
}

/* Closes the connection and whatever libcurl cached with it. */
static void multi_close(h2_transport *t)
{
	if (t->multi)
		curl_multi_cleanup(t->multi);
	t->multi = NULL;
	while (t->socks)
		sock_free(t, t->socks);
	if (t->timer)
		evtimer_del(t->timer);
	t->open_sockets = 0;
	t->conn = CONN_NONE;
}

static void complete(h2_transport *t, h2_request *r)
{
	(void)t;
	h2_response resp = {
	        .curl_code = r->result,
	        .status = r->h1 ? 0 : r->status,
	        .body = r->reason,
	        .body_len = r->reason_len,
	        .retry_after_ms = r->retry_after_ms,
	};
	if (r->h1)
		resp.error = "the server answered over HTTP/1, not HTTP/2";
	else if (r->result != CURLE_OK)
		resp.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror((CURLcode)r->result);
	if (r->result != CURLE_OK || r->h1) {
		resp.status = 0;
		resp.body = "";
		resp.body_len = 0;
		if (!resp.curl_code)
			resp.curl_code = CURLE_WEIRD_SERVER_REPLY;
	}
	/* resp points into r: freed after the owner is done with it */
	r->h.on_done(r->arg, &resp);
	request_free(r);
}

/*
 * Fails every request on the connection and closes it, so the next request
 * opens a fresh one: after a transport error nothing on it can be trusted,
 * and libcurl must not keep a connection that answered over HTTP/1.
 */
static void reset_connection(h2_transport *t)
{
	t->reset_wanted = false;
	t->stats.resets++;
	while (t->active.first) {
		h2_request *r = t->active.first;
		curl_multi_remove_handle(t->multi, r->easy);
		list_unlink(r);
		r->result = CURLE_RECV_ERROR;
		snprintf(r->errbuf, sizeof(r->errbuf), "the connection was reset after an error");
		list_push(&t->done, r, false);
	}
	multi_close(t);
	t->multi = multi_new(t);
	if (!t->multi)
		cobs_log(COBS_LOG_ERROR, t->who, "out of memory: cannot reconnect (will retry)");
	while (t->done.first) {
		h2_request *r = t->done.first;
		list_unlink(r);
		complete(t, r);
	}
	schedule_pump(t);
}

static void finish(h2_transport *t, h2_request *r)
{
	if (r->opener && t->conn == CONN_OPENING)
		t->conn = CONN_NONE; /* it ended before an HTTP/2 answer */
	if (r->refused && r->result == CURLE_COULDNT_CONNECT) {
		/* It never reached the server: again, as an opener if need be. */
		r->refused = false;
		r->status = 0;
		r->errbuf[0] = '\0';
		if (t->conn == CONN_UP && t->open_sockets == 0)
			t->conn = CONN_NONE;
		list_push(&t->pending, r, true);
		schedule_pump(t);
		return;
	}
	if ((r->result != CURLE_OK && !r->aborted) || r->h1)
		t->reset_wanted = true;
	complete(t, r);
}

static void process_done(h2_transport *t)
{
	CURLMsg *m;
	int left;
	while (t->multi && (m = curl_multi_info_read(t->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		h2_request *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		r->result = m->data.result;
		curl_multi_remove_handle(t->multi, r->easy);
		list_unlink(r);
		list_push(&t->done, r, false);
	}
	/* Callbacks may cancel other requests, including ones on this list. */
	while (t->done.first) {
		h2_request *r = t->done.first;
		list_unlink(r);
		finish(t, r);
	}
	if (t->reset_wanted)
		reset_connection(t);
}

static void start(h2_transport *t, h2_request *r, bool opener)
{
	list_unlink(r);
	r->opener = opener;
	long version = t->tls   ? CURL_HTTP_VERSION_2TLS
	               : opener ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
	                        : CURL_HTTP_VERSION_2_0;
	curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, version);
	/* An opener never reuses: prior knowledge on a reused connection breaks it. */
	curl_easy_setopt(r->easy, CURLOPT_FRESH_CONNECT, opener ? 1L : 0L);
	r->status = 0;
	r->h1 = r->aborted = false;
	r->reason_len = 0;
	r->reason[0] = '\0';
	r->retry_after_ms = 0;
	if (!t->multi || curl_multi_add_handle(t->multi, r->easy) != CURLM_OK) {
		r->result = CURLE_OUT_OF_MEMORY;
		snprintf(r->errbuf, sizeof(r->errbuf), "cannot start the request");
		list_push(&t->done, r, false);
		return;
	}
	t->stats.requests++;
	list_push(&t->active, r, false);
	if (opener)
		t->conn = CONN_OPENING;
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	h2_transport *t = arg;
	if (!t->multi && !(t->multi = multi_new(t)))
		return; /* the next submission tries again */
	for (h2_request *r = t->pending.first, *next; r; r = next) {
		next = r->next;
		if (t->conn == CONN_UP)
			start(t, r, false);
		else if (t->conn == CONN_NONE && !r->stream)
			start(t, r, true);
	}
	/* Starting may have finished some at once (add_handle failed); curl may have work. */
	int running;
	curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(t);
}

h2_transport *h2_transport_new(struct event_base *base, const h2_transport_config *cfg,
                               cobs_error *err)
{
	h2_transport *t = calloc(1, sizeof(*t));
	if (!t)
		goto oom;
	t->base = base;
	t->tls = strncasecmp(cfg->url, "https://", 8) == 0;
	t->timeout_ms = cfg->timeout_ms;
	if (!(t->url = strdup(cfg->url)) || !(t->who = strdup(cfg->who)) ||
	    !(t->user_agent = strdup(cfg->user_agent)) ||
	    (cfg->token && !(t->token = strdup(cfg->token))) ||
	    (cfg->token_file && !(t->token_file = strdup(cfg->token_file))) ||
	    (cfg->ca_file && !(t->ca_file = strdup(cfg->ca_file))))
		goto oom;
	if (!(t->timer = evtimer_new(base, on_curl_timer, t)) ||
	    !(t->pump = event_new(base, -1, 0, on_pump, t)) || !(t->multi = multi_new(t)))
		goto oom;
	return t;
oom:
	cobs_error_set(err, "out of memory");
	h2_transport_free(t);
	return NULL;
}

void h2_transport_free(h2_transport *t)
{
	if (!t)
		return;
	req_list *lists[] = {&t->pending, &t->active, &t->done};
	for (size_t i = 0; i < 3; i++)
		while (lists[i]->first)
			h2_request_cancel(lists[i]->first);
	multi_close(t);
	if (t->timer)
		event_free(t->timer);
	if (t->pump)
		event_free(t->pump);
	free(t->url);
	free(t->who);
	free(t->user_agent);
	free(t->token);
	free(t->token_file);
	free(t->ca_file);
	free(t->file_token);
	free(t);
}

h2_transport_stats h2_transport_get_stats(const h2_transport *t)
{
	h2_transport_stats s = t->stats;
	s.up = t->conn == CONN_UP;
	return s;
}
