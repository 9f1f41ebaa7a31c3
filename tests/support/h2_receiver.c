/*
 * The h2o test receiver (see h2_receiver.h). The child runs h2o's own event
 * loop; the parent talks to it over two socket pairs: controls one way
 * (read by h2o as a socket), events the other (written blocking by the
 * child, read non-blocking by the test).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H2O_USE_LIBUV 0
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <h2o.h>
#pragma GCC diagnostic pop

#include <cobs/format.h>
#include <cobs/proc.h>
#include <cobs/wire.h>

#include "h2_receiver.h"

enum { EV_READY = 100, EV_ACK = 101 };
enum { CTL_INGEST_ANSWER = 1, CTL_STREAM_SEND = 2, CTL_STREAM_END = 3 };

typedef struct ev_hdr {
	uint32_t type;
	int32_t status;
	uint64_t conn;
	uint32_t path_len, auth_len, body_len;
} ev_hdr;

typedef struct ctl_hdr {
	uint32_t op;
	int32_t a, b;
	uint32_t seq;
	uint32_t len;
} ctl_hdr;

/* ================= the child: h2o ================= */

static int ev_fd = -1;
static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static int ingest_status = 204, ingest_times = -1;

typedef struct stream {
	h2o_generator_t gen;
	h2o_req_t *req;
	bool busy, ending, closed;
	uint8_t *pend;
	size_t plen, pcap;
} stream;
static stream *newest;

static void write_all_or_die(const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(ev_fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(0); /* the test is gone */
		c += w;
		n -= (size_t)w;
	}
}

static void emit(uint32_t type, int status, uint64_t conn, h2o_iovec_t path, h2o_iovec_t auth,
                 h2o_iovec_t body)
{
	ev_hdr h = {.type = type,
	            .status = status,
	            .conn = conn,
	            .path_len = (uint32_t)path.len,
	            .auth_len = (uint32_t)auth.len,
	            .body_len = (uint32_t)body.len};
	write_all_or_die(&h, sizeof(h));
	if (path.len)
		write_all_or_die(path.base, path.len);
	if (auth.len)
		write_all_or_die(auth.base, auth.len);
	if (body.len)
		write_all_or_die(body.base, body.len);
}

static h2o_iovec_t none(void)
{
	return h2o_iovec_init(NULL, 0);
}

static void respond(h2o_req_t *req, int st)
{
	req->res.status = st;
	if (st == 204) {
		req->res.reason = "No Content";
		h2o_send_inline(req, "", 0);
		return;
	}
	req->res.reason = "Refused";
	char *msg = h2o_mem_alloc_pool(&req->pool, 64);
	int n = snprintf(msg, 64, "the test receiver answers %d", st);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("text/plain"));
	h2o_send_inline(req, msg, (size_t)n);
}

static void stream_flush(stream *s)
{
	if (s->busy || s->closed)
		return;
	if (s->plen) {
		h2o_iovec_t v = h2o_iovec_init(h2o_mem_alloc_pool(&s->req->pool, s->plen), s->plen);
		memcpy(v.base, s->pend, s->plen);
		s->plen = 0;
		s->busy = true;
		h2o_send(s->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
	} else if (s->ending) {
		s->closed = true;
		if (newest == s)
			newest = NULL;
		free(s->pend);
		s->pend = NULL;
		h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
	}
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	(void)req;
	stream *s = (stream *)g;
	s->busy = false;
	stream_flush(s);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
	stream *s = (stream *)g;
	s->closed = true;
	if (newest == s)
		newest = NULL;
	free(s->pend);
	s->pend = NULL;
	emit(H2R_STREAM_CLOSED, 0, req->conn->id, none(), none(), none());
}

static void stream_append(stream *s, const void *p, size_t n)
{
	if (s->plen + n > s->pcap) {
		size_t cap = (s->plen + n) * 2;
		uint8_t *b = realloc(s->pend, cap);
		if (!b)
			_exit(3);
		s->pend = b;
		s->pcap = cap;
	}
	memcpy(s->pend + s->plen, p, n);
	s->plen += n;
}

static bool has_prefix(h2o_iovec_t s, const char *p)
{
	size_t n = strlen(p);
	return s.len >= n && memcmp(s.base, p, n) == 0;
}

static bool has_suffix(h2o_iovec_t s, const char *p)
{
	size_t n = strlen(p);
	return s.len >= n && memcmp(s.base + s.len - n, p, n) == 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	(void)self;
	h2o_iovec_t path = req->path_normalized, auth = none();
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i >= 0)
		auth = req->headers.entries[i].value;
	bool post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
	uint64_t conn = req->conn->id;
	if (post && h2o_memis(path.base, path.len, H2O_STRLIT("/api/v1/ingest"))) {
		int st = ingest_status;
		if (ingest_times > 0 && --ingest_times == 0) {
			ingest_status = 204;
			ingest_times = -1;
		}
		emit(H2R_INGEST, st, conn, path, auth, req->entity);
		if (st != 0) /* 0: never answer, the client times out */
			respond(req, st);
		return 0;
	}
	if (!post && has_prefix(path, "/api/v1/agents/") && has_suffix(path, "/commands")) {
		stream *s = h2o_mem_alloc_pool(&req->pool, sizeof(*s));
		memset(s, 0, sizeof(*s));
		s->gen.proceed = stream_proceed;
		s->gen.stop = stream_stop;
		s->req = req;
		req->res.status = 200;
		req->res.reason = "OK";
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		               H2O_STRLIT("application/x-protobuf"));
		h2o_start_response(req, &s->gen);
		newest = s;
		emit(H2R_STREAM_OPEN, 200, conn, path, auth, none());
		/* A heartbeat at once, so the headers go out now. */
		cobs_buf hb = {0};
		if (cobs_wire_frame_heartbeat(cobs_wallclock_ms(), &hb) < 0)
			_exit(3);
		stream_append(s, hb.data, hb.len);
		cobs_buf_free(&hb);
		stream_flush(s);
		return 0;
	}
	if (post && has_prefix(path, "/api/v1/commands/") && has_suffix(path, "/result")) {
		emit(H2R_RESULT, 204, conn, path, auth, req->entity);
		respond(req, 204);
		return 0;
	}
	emit(H2R_OTHER, 404, conn, path, auth, req->entity);
	respond(req, 404);
	return 0;
}

static void on_conn_close(void *data)
{
	(void)data;
	emit(H2R_CLOSED, 0, 0, none(), none(), none());
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	if (err)
		return;
	h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
	if (!sock)
		return;
	emit(H2R_ACCEPT, 0, 0, none(), none(), none());
	sock->on_close.cb = on_conn_close;
	h2o_accept(&accept_ctx, sock);
}

static void on_ctl(h2o_socket_t *sock, const char *err)
{
	if (err)
		_exit(0); /* the test closed its end */
	ctl_hdr h;
	while (sock->input->size >= sizeof(h)) {
		memcpy(&h, sock->input->bytes, sizeof(h));
		if (sock->input->size < sizeof(h) + h.len)
			break;
		const uint8_t *data = (const uint8_t *)sock->input->bytes + sizeof(h);
		int ok = 0;
		switch (h.op) {
		case CTL_INGEST_ANSWER:
			ingest_status = h.a;
			ingest_times = h.b;
			break;
		case CTL_STREAM_SEND:
			if (newest) {
				stream_append(newest, data, h.len);
				stream_flush(newest);
			} else {
				ok = -1;
			}
			break;
		case CTL_STREAM_END:
			if (newest) {
				newest->ending = true;
				stream_flush(newest);
			} else {
				ok = -1;
			}
			break;
		default:
			ok = -1;
		}
		h2o_buffer_consume(&sock->input, sizeof(h) + h.len);
		emit(EV_ACK, ok, h.seq, none(), none(), none());
	}
}

static void child_main(int lfd, int ctl, int ev, unsigned idle_ms)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	ev_fd = ev;
	h2o_config_init(&config);
	config.max_request_entity_size = 64u << 20;
	if (idle_ms)
		config.http2.idle_timeout = idle_ms;
	h2o_hostconf_t *host =
	        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));
	h->on_req = on_req;
	h2o_context_init(&ctx, h2o_evloop_create(), &config);
	accept_ctx.ctx = &ctx;
	accept_ctx.hosts = config.hosts;
	h2o_socket_t *ls = h2o_evloop_socket_create(ctx.loop, lfd, H2O_SOCKET_FLAG_DONT_READ);
	h2o_socket_read_start(ls, on_accept);
	h2o_socket_t *cs = h2o_evloop_socket_create(ctx.loop, ctl, 0); /* h2o reads it into input */
	h2o_socket_read_start(cs, on_ctl);
	emit(EV_READY, 0, 0, none(), none(), none());
	while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0) {
	}
	_exit(0);
}

/* ================= the parent: the test's side ================= */

struct h2_receiver {
	pid_t pid;
	unsigned idle_ms;
	int port;
	int ctl, ev; /* our ends; -1 while the child is down */
	uint8_t *in;
	size_t in_len, in_cap;
	h2r_event *events;
	size_t nevents, cap;
	bool ready;
	uint32_t seq, acked;
	int ack_status;
	char url[64];
};

static int listen_on(int port, int *out_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*out_port = ntohs(a.sin_port);
	return fd;
}

static int add_event(h2_receiver *r, const ev_hdr *h, const uint8_t *p)
{
	if (h->type == EV_READY) {
		r->ready = true;
		return 0;
	}
	if (h->type == EV_ACK) {
		r->acked = (uint32_t)h->conn;
		r->ack_status = h->status;
		return 0;
	}
	if (r->nevents == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		h2r_event *n = realloc(r->events, cap * sizeof(*n));
		if (!n)
			return -1;
		r->events = n;
		r->cap = cap;
	}
	h2r_event *e = &r->events[r->nevents];
	e->type = (h2r_type)h->type;
	e->status = h->status;
	e->conn = h->conn;
	e->path = strndup((const char *)p, h->path_len);
	e->auth = strndup((const char *)p + h->path_len, h->auth_len);
	e->body = malloc(h->body_len + 1);
	if (!e->path || !e->auth || !e->body) {
		free(e->path);
		free(e->auth);
		free(e->body);
		return -1;
	}
	memcpy(e->body, p + h->path_len + h->auth_len, h->body_len);
	e->len = h->body_len;
	r->nevents++;
	return 0;
}

/* Parses the complete events buffered. The number parsed. */
static int parse(h2_receiver *r)
{
	int n = 0;
	size_t off = 0;
	while (r->in_len - off >= sizeof(ev_hdr)) {
		ev_hdr h;
		memcpy(&h, r->in + off, sizeof(h));
		size_t total = sizeof(h) + h.path_len + h.auth_len + h.body_len;
		if (r->in_len - off < total)
			break;
		if (add_event(r, &h, r->in + off + sizeof(h)) < 0)
			break;
		off += total;
		n++;
	}
	memmove(r->in, r->in + off, r->in_len - off);
	r->in_len -= off;
	return n;
}

int h2r_drain(h2_receiver *r, int timeout_ms)
{
	if (r->ev < 0)
		return 0;
	struct pollfd p = {.fd = r->ev, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	for (;;) {
		if (r->in_cap - r->in_len < 65536) {
			size_t cap = r->in_cap * 2 + 65536;
			uint8_t *n = realloc(r->in, cap);
			if (!n)
				return -1;
			r->in = n;
			r->in_cap = cap;
		}
		ssize_t got = read(r->ev, r->in + r->in_len, r->in_cap - r->in_len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		r->in_len += (size_t)got;
	}
	return parse(r);
}

static void child_down(h2_receiver *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = -1;
	if (r->ev >= 0) {
		h2r_drain(r, 0); /* what it said before it died */
		close(r->ev);
	}
	if (r->ctl >= 0)
		close(r->ctl);
	r->ev = r->ctl = -1;
	r->in_len = 0;
}

static int spawn(h2_receiver *r, int lfd)
{
	int ctl[2], ev[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ev) < 0) {
		close(ctl[0]);
		close(ctl[1]);
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(ctl[0]);
		close(ev[0]);
		child_main(lfd, ctl[1], ev[1], r->idle_ms);
	}
	close(lfd); /* the child alone listens: killing it makes the port refuse */
	close(ctl[1]);
	close(ev[1]);
	if (pid < 0) {
		close(ctl[0]);
		close(ev[0]);
		return -1;
	}
	r->pid = pid;
	r->ctl = ctl[0];
	r->ev = ev[0];
	int fl = fcntl(r->ev, F_GETFL);
	if (fl < 0 || fcntl(r->ev, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	r->ready = false;
	for (int i = 0; i < 100 && !r->ready; i++)
		h2r_drain(r, 50);
	return r->ready ? 0 : -1;
}

h2_receiver *h2r_start(void)
{
	return h2r_start_idle(0);
}

h2_receiver *h2r_start_idle(unsigned idle_ms)
{
	h2_receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->idle_ms = idle_ms;
	r->pid = -1;
	r->ctl = r->ev = -1;
	int lfd = listen_on(0, &r->port);
	if (lfd < 0 || spawn(r, lfd) < 0) {
		h2r_stop(r);
		return NULL;
	}
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", r->port);
	return r;
}

void h2r_kill(h2_receiver *r)
{
	child_down(r);
}

int h2r_restart(h2_receiver *r)
{
	child_down(r);
	int port;
	int lfd = listen_on(r->port, &port);
	if (lfd < 0)
		return -1;
	return spawn(r, lfd);
}

void h2r_stop(h2_receiver *r)
{
	if (!r)
		return;
	child_down(r);
	for (size_t i = 0; i < r->nevents; i++) {
		free(r->events[i].path);
		free(r->events[i].auth);
		free(r->events[i].body);
	}
	free(r->events);
	free(r->in);
	free(r);
}

int h2r_port(const h2_receiver *r)
{
	return r->port;
}

const char *h2r_url(const h2_receiver *r)
{
	return r->url;
}

size_t h2r_count(const h2_receiver *r, h2r_type type)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nevents; i++)
		n += r->events[i].type == type;
	return n;
}

const h2r_event *h2r_get(const h2_receiver *r, h2r_type type, size_t i)
{
	for (size_t k = 0; k < r->nevents; k++)
		if (r->events[k].type == type && i-- == 0)
			return &r->events[k];
	return NULL;
}

/* Sends one control and waits until the child applied it. */
static int control(h2_receiver *r, uint32_t op, int a, int b, const void *data, size_t len)
{
	if (r->ctl < 0)
		return -1;
	ctl_hdr h = {.op = op, .a = a, .b = b, .seq = ++r->seq, .len = (uint32_t)len};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)data, len}};
	size_t want = sizeof(h) + len;
	ssize_t w = writev(r->ctl, iov, len ? 2 : 1);
	if (w != (ssize_t)want)
		return -1; /* small messages on a local socket: never short in practice */
	for (int i = 0; i < 200 && r->acked != r->seq; i++)
		h2r_drain(r, 25);
	return r->acked == r->seq ? r->ack_status : -1;
}

int h2r_ingest_answer(h2_receiver *r, int status, int times)
{
	return control(r, CTL_INGEST_ANSWER, status, times, NULL, 0);
}

int h2r_stream_send(h2_receiver *r, const void *bytes, size_t len)
{
	return control(r, CTL_STREAM_SEND, 0, 0, bytes, len);
}

int h2r_stream_end(h2_receiver *r)
{
	return control(r, CTL_STREAM_END, 0, 0, NULL, 0);
}
