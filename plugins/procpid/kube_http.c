/*
 * curl multi on libevent (see kube_http.h), after libcurl's hiperfifo
 * example. Finished transfers are reported after curl_multi_socket_action
 * returns, so the done callback may remove, add and free handles freely.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "kube_http.h"

/* One socket curl asked us to watch. */
typedef struct sock {
	struct sock *next, *prev; /* all of them, so kube_http_free can free what curl left */
	curl_socket_t fd;
	struct event *ev;
	kube_http *h;
} sock;

struct kube_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	sock *socks;
	kube_http_done_fn done;
	void *arg;
};

static void report_done(kube_http *h)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		curl_multi_remove_handle(h->multi, easy);
		h->done(h->arg, easy, rc);
	}
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	sock *s = arg;
	kube_http *h = s->h; /* s may be freed inside socket_action */
	int flags =
	        (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	report_done(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kube_http *h = arg;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	report_done(h);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be woken after ms (-1: never). */
static int want_timer(CURLM *multi, long ms, void *arg)
{
	(void)multi;
	kube_http *h = arg;
	if (ms < 0)
		return evtimer_del(h->timer);
	/* 0 too goes through the loop: curl must not be called from its own callback. */
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return evtimer_add(h->timer, &tv);
}

static void sock_free(kube_http *h, sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl says, or stop watching it. */
static int want_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	(void)easy;
	kube_http *h = arg;
	sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(h, s);
		return 0;
	}
	short events = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	               (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1; /* curl fails the transfer: retried with backoff */
		s->fd = fd;
		s->h = h;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		curl_multi_assign(h->multi, fd, s);
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(h->base, fd, events, on_socket, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		curl_multi_assign(h->multi, fd, NULL);
		sock_free(h, s);
		return -1;
	}
	return 0;
}

kube_http *kube_http_new(struct event_base *base, kube_http_done_fn done, void *arg)
{
	kube_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base = base;
	h->done = done;
	h->arg = arg;
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->timer) {
		kube_http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, want_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, want_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

int kube_http_add(kube_http *h, CURL *easy)
{
	return curl_multi_add_handle(h->multi, easy) == CURLM_OK ? 0 : -1;
}

void kube_http_remove(kube_http *h, CURL *easy)
{
	curl_multi_remove_handle(h->multi, easy);
}

void kube_http_free(kube_http *h)
{
	if (!h)
		return;
	if (h->multi)
		curl_multi_cleanup(h->multi);
	/* curl does not always say CURL_POLL_REMOVE for sockets it closes in cleanup. */
	while (h->socks)
		sock_free(h, h->socks);
	if (h->timer)
		event_free(h->timer);
	free(h);
}
