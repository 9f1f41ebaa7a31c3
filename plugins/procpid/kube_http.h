/*
 * libcurl's multi interface driven by a libevent loop: the Kubernetes
 * client's transfers run on the agent's loop thread without ever blocking
 * it. curl tells us which sockets to watch and when to wake it (socket and
 * timer callbacks); libevent tells curl when they are ready
 * (curl_multi_socket_action).
 */
#ifndef PROCPID_KUBE_HTTP_H
#define PROCPID_KUBE_HTTP_H

#include <curl/curl.h>

struct event_base;

typedef struct kube_http kube_http;

/* Called from a loop callback (never from inside curl) when a transfer ends;
 * the handle is already out of the multi and belongs to the caller again. */
typedef void (*kube_http_done_fn)(void *arg, CURL *easy, CURLcode result);

kube_http *kube_http_new(struct event_base *base, kube_http_done_fn done, void *arg);
/* Starts a transfer. 0, or -1 (curl refused it). */
int kube_http_add(kube_http *h, CURL *easy);
/* Stops a transfer without calling done (the caller still owns easy). Not from a
 * curl callback. */
void kube_http_remove(kube_http *h, CURL *easy);
/* Ends every transfer (without done) and frees h; the caller frees its handles. */
void kube_http_free(kube_http *h);

#endif
