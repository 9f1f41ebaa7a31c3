/*
 * The scripted HTTPS test server (see https_server.h), on OpenSSL. One
 * thread accepts; each connection gets a thread that does the handshake,
 * reads one request, plays one scripted response and closes (every answer
 * says Connection: close, so a request is a connection). A pipe that is
 * written once at stop wakes every thread that waits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "https_server.h"

#define MAX_REQ 16384

typedef struct script {
	struct script *next;
	https_kind kind;
	int status;
	char *body;
	size_t len, cut;
} script;

typedef struct record {
	char target[2048];
	char auth[1024];
} record;

typedef struct conn {
	struct conn *next;
	pthread_t thread;
	int fd;
	https_server *srv;
} conn;

struct https_server {
	int lfd, port;
	int wake[2]; /* written once at stop; never read, so it stays readable */
	char ca_path[4096];
	SSL_CTX *ctx;
	pthread_t acceptor;
	pthread_mutex_t mu;
	script *queue, **tail;
	record *recs;
	size_t nrecs, caprecs;
	size_t bad_handshakes, holding, hangups;
	unsigned release_gen; /* bumped by https_server_release */
	conn *conns;
};

/* ---- certificates ---- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	int ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* A P-256 key and a self-signed certificate for it, good for 127.0.0.1. */
static int make_cert(const char *cn, EVP_PKEY **key_out, X509 **cert_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int ok = key && x;
	unsigned char serial[8];
	ok = ok && X509_set_version(x, 2) && RAND_bytes(serial, sizeof(serial)) == 1;
	if (ok) {
		serial[0] &= 0x7f; /* positive */
		BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
		ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
		BN_free(bn);
	}
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) && X509_set_pubkey(x, key);
	X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
	ok = ok &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                                0) &&
	     X509_set_issuer_name(x, name);
	ok = ok && add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
	     add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") == 0 &&
	     add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost") == 0 &&
	     X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		EVP_PKEY_free(key);
		X509_free(x);
		return -1;
	}
	*key_out = key;
	*cert_out = x;
	return 0;
}

static int write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = PEM_write_X509(f, x);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int https_write_other_cert(const char *path)
{
	EVP_PKEY *key;
	X509 *x;
	if (make_cert("cobs test other CA", &key, &x) < 0)
		return -1;
	int rc = write_cert(path, x);
	EVP_PKEY_free(key);
	X509_free(x);
	return rc;
}

/* ---- one connection ---- */

/* Waits until the client leaves (EOF or error), the test releases held
 * connections, or the server stops. */
static void wait_gone(conn *c, SSL *ssl)
{
	https_server *s = c->srv;
	pthread_mutex_lock(&s->mu);
	s->holding++;
	unsigned gen = s->release_gen;
	pthread_mutex_unlock(&s->mu);
	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
		                      {.fd = s->wake[0], .events = POLLIN}};
		/* A short poll so a release is seen without a pipe per connection. */
		if (poll(p, 2, 20) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		pthread_mutex_lock(&s->mu);
		bool released = s->release_gen != gen;
		pthread_mutex_unlock(&s->mu);
		if (released)
			break;
		if (p[0].revents) {
			char buf[512];
			if (SSL_read(ssl, buf, sizeof(buf)) <= 0) {
				pthread_mutex_lock(&s->mu);
				s->hangups++;
				pthread_mutex_unlock(&s->mu);
				break;
			}
		}
	}
	pthread_mutex_lock(&s->mu);
	s->holding--;
	pthread_mutex_unlock(&s->mu);
}

static int write_all(SSL *ssl, const char *data, size_t len)
{
	while (len) {
		int n = SSL_write(ssl, data, len > 65536 ? 65536 : (int)len);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 410:
		return "Gone";
	case 500:
		return "Internal Server Error";
	default:
		return "Status";
	}
}

/* Reads the request head; records target and Authorization. 0 or -1. */
static int read_request(conn *c, SSL *ssl)
{
	char req[MAX_REQ + 1];
	size_t len = 0;
	while (len < MAX_REQ) {
		int n = SSL_read(ssl, req + len, (int)(MAX_REQ - len));
		if (n <= 0)
			return -1;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	record r;
	memset(&r, 0, sizeof(r));
	char *sp = strchr(req, ' ');
	char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
	if (sp && sp2)
		snprintf(r.target, sizeof(r.target), "%.*s", (int)(sp2 - sp - 1), sp + 1);
	for (char *line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Authorization:", 14) == 0) {
			const char *v = line + 16;
			v += strspn(v, " \t");
			snprintf(r.auth, sizeof(r.auth), "%.*s", (int)strcspn(v, "\r\n"), v);
		}
	}
	https_server *s = c->srv;
	pthread_mutex_lock(&s->mu);
	if (s->nrecs == s->caprecs) {
		size_t cap = s->caprecs ? s->caprecs * 2 : 16;
		record *nr = realloc(s->recs, cap * sizeof(*nr));
		if (!nr) {
			pthread_mutex_unlock(&s->mu);
			return -1;
		}
		s->recs = nr;
		s->caprecs = cap;
	}
	s->recs[s->nrecs++] = r;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static script *next_script(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	script *sc = s->queue;
	if (sc) {
		s->queue = sc->next;
		if (!s->queue)
			s->tail = &s->queue;
	}
	pthread_mutex_unlock(&s->mu);
	return sc;
}

static void play(conn *c, SSL *ssl, const script *sc)
{
	char head[512];
	if (sc->kind == HTTPS_HANG) {
		wait_gone(c, ssl);
		return;
	}
	if (sc->kind == HTTPS_STREAM || sc->kind == HTTPS_STREAM_HOLD) {
		snprintf(head, sizeof(head),
		         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
		if (write_all(ssl, head, strlen(head)) < 0)
			return;
		if (sc->len) {
			char size[32];
			snprintf(size, sizeof(size), "%zx\r\n", sc->len);
			if (write_all(ssl, size, strlen(size)) < 0 ||
			    write_all(ssl, sc->body, sc->len) < 0 || write_all(ssl, "\r\n", 2) < 0)
				return;
		}
		if (sc->kind == HTTPS_STREAM_HOLD)
			wait_gone(c, ssl);
		return; /* HTTPS_STREAM: closed without the last chunk */
	}
	snprintf(head, sizeof(head),
	         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	         "Connection: close\r\n\r\n",
	         sc->status, reason(sc->status), sc->len);
	if (write_all(ssl, head, strlen(head)) < 0)
		return;
	size_t n = sc->kind == HTTPS_TRUNCATED && sc->cut < sc->len ? sc->cut : sc->len;
	if (write_all(ssl, sc->body, n) < 0)
		return;
	if (sc->kind == HTTPS_FULL)
		SSL_shutdown(ssl);
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	https_server *s = c->srv;
	/* Bounds the handshake and the request read: stop must never wait forever. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL *ssl = SSL_new(s->ctx);
	if (!ssl || !SSL_set_fd(ssl, c->fd) || SSL_accept(ssl) != 1) {
		pthread_mutex_lock(&s->mu);
		s->bad_handshakes++;
		pthread_mutex_unlock(&s->mu);
		ERR_clear_error();
		SSL_free(ssl);
		close(c->fd);
		return NULL;
	}
	if (read_request(c, ssl) == 0) {
		script *sc = next_script(s);
		script idle = {.kind = HTTPS_STREAM_HOLD, .status = 200};
		play(c, ssl, sc ? sc : &idle);
		if (sc) {
			free(sc->body);
			free(sc);
		}
	}
	ERR_clear_error();
	SSL_free(ssl);
	close(c->fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	https_server *s = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
		                      {.fd = s->wake[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->srv = s;
		if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		c->next = s->conns;
		s->conns = c;
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* ---- the server ---- */

static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

https_server *https_server_start(const char *dir)
{
	signal(SIGPIPE, SIG_IGN); /* a client that leaves must not kill the test */
	https_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->lfd = s->wake[0] = s->wake[1] = -1;
	s->tail = &s->queue;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->ca_path, sizeof(s->ca_path), "%s/server.crt", dir);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int ok = make_cert("cobs test server", &key, &x) == 0 && write_cert(s->ca_path, x) == 0;
	s->ctx = ok ? SSL_CTX_new(TLS_server_method()) : NULL;
	ok = s->ctx && SSL_CTX_use_certificate(s->ctx, x) == 1 &&
	     SSL_CTX_use_PrivateKey(s->ctx, key) == 1;
	EVP_PKEY_free(key);
	X509_free(x);
	ok = ok && pipe(s->wake) == 0 && (s->lfd = listen_local(&s->port)) >= 0 &&
	     pthread_create(&s->acceptor, NULL, accept_main, s) == 0;
	if (!ok) {
		if (s->lfd >= 0)
			close(s->lfd);
		if (s->wake[0] >= 0) {
			close(s->wake[0]);
			close(s->wake[1]);
		}
		SSL_CTX_free(s->ctx);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

void https_server_stop(https_server *s)
{
	if (!s)
		return;
	ssize_t w = write(s->wake[1], "x", 1);
	(void)w;
	pthread_join(s->acceptor, NULL);
	for (conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		pthread_join(c->thread, NULL);
		free(c);
	}
	for (script *sc = s->queue, *next; sc; sc = next) {
		next = sc->next;
		free(sc->body);
		free(sc);
	}
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	SSL_CTX_free(s->ctx);
	free(s->recs);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int https_server_port(const https_server *s)
{
	return s->port;
}

const char *https_server_ca(const https_server *s)
{
	return s->ca_path;
}

void https_server_push(https_server *s, https_kind kind, int status, const char *body, size_t cut)
{
	script *sc = calloc(1, sizeof(*sc));
	char *copy = strdup(body ? body : "");
	if (!sc || !copy) {
		/* A test that cannot script its server must not pass by accident. */
		fprintf(stderr, "https_server_push: out of memory\n");
		abort();
	}
	*sc = (script){
	        .kind = kind, .status = status, .body = copy, .len = strlen(copy), .cut = cut};
	pthread_mutex_lock(&s->mu);
	*s->tail = sc;
	s->tail = &sc->next;
	pthread_mutex_unlock(&s->mu);
}

size_t https_server_requests(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->nrecs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int https_server_request(https_server *s, size_t i, char *target, size_t tlen, char *auth,
                         size_t alen)
{
	pthread_mutex_lock(&s->mu);
	int rc = -1;
	if (i < s->nrecs) {
		if (target)
			snprintf(target, tlen, "%s", s->recs[i].target);
		if (auth)
			snprintf(auth, alen, "%s", s->recs[i].auth);
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

size_t https_server_bad_handshakes(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->bad_handshakes;
	pthread_mutex_unlock(&s->mu);
	return n;
}

size_t https_server_holding(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->holding;
	pthread_mutex_unlock(&s->mu);
	return n;
}

size_t https_server_hangups(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->hangups;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void https_server_release(https_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->release_gen++;
	pthread_mutex_unlock(&s->mu);
}
