/* SPDX-License-Identifier: MIT */
/*
 * h2o configuration, listeners, TLS and the h2o thread's loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o/version.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cobs/log.h>
#include <cobs/wire.h>

#include "commands.h"
#include "handoff.h"
#include "http.h"
#include "router.h"

#define DRAIN_POLL_MS 50
#define DRAIN_IDLE_MS 1000 /* while draining, an idle connection goes after this */

typedef struct listener {
	int fd;
	h2o_socket_t *sock;
	char url[320];
} listener;

struct cobs_http {
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_evloop_t *loop;
	int config_ready;
	int ctx_ready;
	h2o_hostconf_t *hosts[COBS_HTTP_LISTENERS][2]; /* per listener: its host, NULL */
	h2o_accept_ctx_t accept[COBS_HTTP_LISTENERS];
	listener listeners[COBS_HTTP_LISTENERS];
	size_t nlisteners;
	SSL_CTX *ssl;
	h2o_multithread_receiver_t control; /* wake-ups for the drain */
	int control_registered;
};

/* ---- listeners ---- */

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT". 0, or -1. */
static int split_hostport(const char *text, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon;
	if (*text == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -1;
		snprintf(host, hcap, "%.*s", (int)(close - text - 1), text + 1);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return -1; /* a bare IPv6 address needs brackets */
		snprintf(host, hcap, "%.*s", (int)(colon - text), text);
	}
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
		return -1;
	snprintf(port, pcap, "%s", colon + 1);
	return 0;
}

static int bind_listener(listener *l, const char *key, const char *text, int tls, cobs_error *err)
{
	char host[256], port[8];
	if (split_hostport(text, host, sizeof(host), port, sizeof(port)) < 0)
		return cobs_error_set(err,
		                      "[server] %s: invalid address '%s' (expected HOST:PORT, "
		                      "[IPv6]:PORT or :PORT)",
		                      key, text);
	struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	                         .ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM},
	                *res = NULL;
	int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return cobs_error_set(err, "[server] %s: cannot resolve '%s': %s", key, text,
		                      gai_strerror(rc));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return cobs_error_set(err, "[server] %s: cannot listen on %s: %s", key, text,
		                      strerror(e));
	}
	freeaddrinfo(res);
	/* the real port (port 0 asks the kernel for one) */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned real = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		real = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                      : ((struct sockaddr_in *)&ss)->sin_port);
	int v6 = strchr(host, ':') != NULL;
	snprintf(l->url, sizeof(l->url), "%s://%s%s%s:%u/", tls ? "https" : "http", v6 ? "[" : "",
	         *host ? host : "0.0.0.0", v6 ? "]" : "", real);
	l->fd = fd;
	return 0;
}

static void on_accept(h2o_socket_t *listener_sock, const char *err)
{
	if (err)
		return;
	h2o_accept_ctx_t *actx = listener_sock->data;
	h2o_socket_t *sock = h2o_evloop_socket_accept(listener_sock);
	if (sock)
		h2o_accept(actx, sock);
}

/* ---- TLS ---- */

static int setup_tls(cobs_http *h, const cobs_srv_settings *s, cobs_error *err)
{
	h->ssl = SSL_CTX_new(TLS_server_method());
	if (!h->ssl)
		return cobs_error_set(err, "TLS: cannot create a context");
	SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(h->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	const char *what = NULL, *file = NULL;
	if (SSL_CTX_use_certificate_chain_file(h->ssl, s->tls_cert) != 1)
		what = "tls_cert", file = s->tls_cert;
	else if (SSL_CTX_use_PrivateKey_file(h->ssl, s->tls_key, SSL_FILETYPE_PEM) != 1)
		what = "tls_key", file = s->tls_key;
	else if (SSL_CTX_check_private_key(h->ssl) != 1)
		what = "tls_key", file = s->tls_key;
	if (what) {
		char reason[256];
		ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
		ERR_clear_error();
		return cobs_error_set(err, "[server] %s: cannot use '%s': %s", what, file, reason);
	}
	/* ALPN: h2 first, then http/1.1 */
	h2o_ssl_register_alpn_protocols(h->ssl, h2o_http2_alpn_protocols);
	return 0;
}

/* ---- drain ---- */

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	/* only wake-ups (NULL messages) arrive here; the loop looks at the flag */
	(void)receiver;
	(void)messages;
}

static void stop_listening(cobs_http *h)
{
	for (size_t i = 0; i < h->nlisteners; i++) {
		listener *l = &h->listeners[i];
		if (l->sock) {
			h2o_socket_read_stop(l->sock);
			h2o_socket_close(l->sock); /* closes the fd too */
			l->sock = NULL;
			l->fd = -1;
		}
	}
}

static int connections_open(cobs_http *h)
{
	return !h2o_linklist_is_empty(&h->ctx.http1._conns) ||
	       !h2o_linklist_is_empty(&h->ctx.http2._conns);
}

/* ---- life ---- */

int cobs_http_new(cobs_server *srv, cobs_error *err)
{
	const cobs_srv_settings *s = &srv->settings;
	cobs_http *h = calloc(1, sizeof(*h));
	if (!h)
		return cobs_error_set(err, "out of memory");
	srv->http = h;
	for (size_t i = 0; i < COBS_HTTP_LISTENERS; i++)
		h->listeners[i].fd = -1;
	int tls = s->tls_cert != NULL;
	if (tls && setup_tls(h, s, err) < 0)
		return -1;
	if (bind_listener(&h->listeners[0], "listen", s->listen, tls, err) < 0)
		return -1;
	h->nlisteners = 1;
	if (s->ingest_listen) {
		if (bind_listener(&h->listeners[1], "ingest_listen", s->ingest_listen, tls, err) <
		    0)
			return -1;
		h->nlisteners = 2;
	}

	h2o_config_init(&h->config);
	h->config_ready = 1;
	h->config.server_name = h2o_iovec_init(H2O_STRLIT("cobs-server"));
	/* at least a whole wire message: a command result (a profile) may be that big */
	uint64_t entity = s->max_batch_size > COBS_WIRE_MAX_RAW_BYTES ? s->max_batch_size
	                                                              : COBS_WIRE_MAX_RAW_BYTES;
	h->config.max_request_entity_size = (size_t)entity + COBS_HTTP_ENTITY_SLACK;
	h->config.http2.graceful_shutdown_timeout = s->drain_timeout_ms;
	h->config.http1.upgrade_to_http2 = 1;
	static const char *const names[COBS_HTTP_LISTENERS] = {"main", "ingest"};
	for (size_t i = 0; i < h->nlisteners; i++) {
		/* each listener sees only its own host: no Host header picks the other */
		h->hosts[i][0] = h2o_config_register_host(
		        &h->config, h2o_iovec_init(names[i], strlen(names[i])), 65535);
		cobs_router_register(srv, h->hosts[i][0], i == 1);
	}
	if (!(h->loop = h2o_evloop_create()))
		return cobs_error_set(err, "cannot create the h2o loop");
	h2o_context_init(&h->ctx, h->loop, &h->config);
	h->ctx_ready = 1;
	h2o_multithread_register_receiver(h->ctx.queue, &h->control, on_control);
	h->control_registered = 1;
	for (size_t i = 0; i < h->nlisteners; i++)
		h->accept[i] =
		        (h2o_accept_ctx_t){.ctx = &h->ctx, .hosts = h->hosts[i], .ssl_ctx = h->ssl};
	return 0;
}

h2o_context_t *cobs_http_context(cobs_server *srv)
{
	return &srv->http->ctx;
}

const char *cobs_http_url(const cobs_server *srv, int i)
{
	const cobs_http *h = srv->http;
	return h && i >= 0 && (size_t)i < h->nlisteners ? h->listeners[i].url : NULL;
}

void cobs_http_wake(cobs_server *srv)
{
	h2o_multithread_send_message(&srv->http->control, NULL);
}

int cobs_http_run(cobs_server *srv)
{
	cobs_http *h = srv->http;
	for (size_t i = 0; i < h->nlisteners; i++) {
		listener *l = &h->listeners[i];
		l->sock = h2o_evloop_socket_create(h->loop, l->fd, H2O_SOCKET_FLAG_DONT_READ);
		l->sock->data = &h->accept[i];
		h2o_socket_read_start(l->sock, on_accept);
	}
	atomic_store(&srv->listening, 1);

	uint64_t deadline = 0;
	int draining = 0;
	for (;;) {
		h2o_evloop_run(h->loop, draining ? DRAIN_POLL_MS : INT32_MAX);
		if (!draining && atomic_load(&srv->drain_requested)) {
			draining = 1;
			atomic_store(&srv->draining, 1);
			/* h2o itself closes HTTP/2 stragglers one second (its GOAWAY
			 * resend) plus drain_timeout after the shutdown request: wait
			 * a little longer than that before giving up on them */
			deadline = cobs_now_ms() + srv->settings.drain_timeout_ms + 1500;
			cobs_log(COBS_LOG_INFO, "server",
			         "draining: no new connections, finishing requests in flight");
			stop_listening(h);
			cobs_commands_close_streams(srv->commands);
			h2o_context_request_shutdown(&h->ctx);
			/* h2o 2.2 closes idle keep-alive connections only at their
			 * idle timeouts (10 s). A timeout's length is read when its
			 * entries are due, so shortening it now applies to the
			 * connections already waiting: idle ones go within a second.
			 * (An HTTP/1.1 request still being received after that long
			 * is cut: its client retries elsewhere.) */
			h->ctx.http1.req_timeout.timeout = DRAIN_IDLE_MS;
			h->ctx.http2.idle_timeout.timeout = DRAIN_IDLE_MS;
		}
		if (!draining)
			continue;
		/* jobs always come back (the worker runs until they did), connections may not */
		if (cobs_handoff_pending(srv->handoff))
			continue;
		if (!connections_open(h))
			return 1;
		if (cobs_now_ms() >= deadline) {
			cobs_log(COBS_LOG_WARN, "server",
			         "drain_timeout reached with connections still open: leaving them");
			return 0;
		}
	}
}

void cobs_http_free(cobs_server *srv, int all_closed)
{
	cobs_http *h = srv->http;
	if (!h)
		return;
	for (size_t i = 0; i < COBS_HTTP_LISTENERS; i++) {
		if (h->listeners[i].sock)
			h2o_socket_close(h->listeners[i].sock);
		else if (h->listeners[i].fd >= 0)
			close(h->listeners[i].fd);
	}
	if (!all_closed) {
		/* h2o cannot dispose a context whose connections still have timers
		 * linked (it asserts): leave it all to the process exit */
		srv->http = NULL;
		return;
	}
	if (h->control_registered)
		h2o_multithread_unregister_receiver(h->ctx.queue, &h->control);
	if (h->ctx_ready) {
		/* h2o_context_request_shutdown links a GOAWAY resend one second
		 * later; a drain with no HTTP/2 connection ends before it fires */
		if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
		h2o_multithread_queue_t *queue = h->ctx.queue;
		h2o_context_dispose(&h->ctx);
		/* one more turn frees the sockets closed above (the queue's pipe) */
		h2o_evloop_run(h->loop, 0);
#if H2O_LIBRARY_VERSION_MAJOR == 0 && H2O_LIBRARY_VERSION_MINOR <= 13
		/* h2o 2.2's evloop h2o_multithread_destroy_queue does not free the queue */
		free(queue);
#else
		(void)queue;
#endif
	}
	if (h->loop)
		h2o_evloop_destroy(h->loop);
	if (h->config_ready)
		h2o_config_dispose(&h->config);
	if (h->ssl)
		SSL_CTX_free(h->ssl);
	free(h);
	srv->http = NULL;
}
