/*
 * The pod cache of the Kubernetes client: pods by UID, each one allocation
 * (kube_json.c builds them). Entries replaced or deleted are not freed at
 * once but retired, and freed by kube_cache_reap, which the client calls
 * from a later loop callback: a pointer handed out by kube_cache_get stays
 * valid until control has gone back to the loop (the kube.h contract).
 */
#ifndef PROCPID_KUBE_CACHE_H
#define PROCPID_KUBE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "kube.h"

/* One pod: the public view, followed in the same allocation by its labels,
 * containers and strings. Free it with free(). */
typedef struct kube_entry {
	struct kube_entry *next; /* hash chain, list of parsed pods, or retired list */
	uint64_t hash;
	cobs_kube_pod pod;
} kube_entry;

typedef struct kube_cache kube_cache;

kube_cache *kube_cache_new(void);
void kube_cache_free(kube_cache *c);

/* The pod with this UID, or NULL. */
const cobs_kube_pod *kube_cache_get(const kube_cache *c, const char *uid);
/* Takes e, replacing (retiring) a pod with the same UID. Never fails: when the
 * table cannot grow, chains just get longer. */
void kube_cache_put(kube_cache *c, kube_entry *e);
/* Retires the pod with this UID, if present. */
void kube_cache_del(kube_cache *c, const char *uid);
/* Retires every pod (before a relist is put in). */
void kube_cache_clear(kube_cache *c);
size_t kube_cache_count(const kube_cache *c);
/* Whether retired entries wait to be freed. */
int kube_cache_has_retired(const kube_cache *c);
/* Frees the retired entries. Only call it when no lookup result is in use. */
void kube_cache_reap(kube_cache *c);

#endif
