/*
 * The pod cache (see kube_cache.h): a chained hash table on the pod UID.
 * Chains rather than open addressing because watch events delete single
 * pods, and a node holds a few hundred pods at most.
 */
#include <stdlib.h>
#include <string.h>

#include "kube_cache.h"

#define MIN_BUCKETS 64

struct kube_cache {
	kube_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	kube_entry *retired;
};

static uint64_t hash_uid(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h ^ (h >> 29);
}

kube_cache *kube_cache_new(void)
{
	kube_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->buckets = calloc(MIN_BUCKETS, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->nbuckets = MIN_BUCKETS;
	return c;
}

static void free_list(kube_entry *e)
{
	while (e) {
		kube_entry *next = e->next;
		free(e);
		e = next;
	}
}

void kube_cache_free(kube_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++)
		free_list(c->buckets[i]);
	free_list(c->retired);
	free(c->buckets);
	free(c);
}

/* The link that points at the entry with this UID (or at the chain's end). */
static kube_entry **find_link(const kube_cache *c, const char *uid, uint64_t h)
{
	kube_entry **link = &c->buckets[h & (c->nbuckets - 1)];
	while (*link && ((*link)->hash != h || strcmp((*link)->pod.uid, uid) != 0))
		link = &(*link)->next;
	return link;
}

const cobs_kube_pod *kube_cache_get(const kube_cache *c, const char *uid)
{
	if (!c || !uid)
		return NULL;
	kube_entry *e = *find_link(c, uid, hash_uid(uid));
	return e ? &e->pod : NULL;
}

static void retire(kube_cache *c, kube_entry *e)
{
	e->next = c->retired;
	c->retired = e;
}

/* Doubles the table; on allocation failure keeps the old one (longer chains). */
static void grow(kube_cache *c)
{
	size_t n = c->nbuckets * 2;
	kube_entry **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		kube_entry *e = c->buckets[i];
		while (e) {
			kube_entry *next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

void kube_cache_put(kube_cache *c, kube_entry *e)
{
	e->hash = hash_uid(e->pod.uid);
	kube_entry **link = find_link(c, e->pod.uid, e->hash);
	if (*link) {
		kube_entry *old = *link;
		e->next = old->next;
		*link = e;
		retire(c, old);
		return;
	}
	e->next = NULL;
	*link = e;
	if (++c->count > c->nbuckets)
		grow(c);
}

void kube_cache_del(kube_cache *c, const char *uid)
{
	kube_entry **link = find_link(c, uid, hash_uid(uid));
	kube_entry *e = *link;
	if (!e)
		return;
	*link = e->next;
	c->count--;
	retire(c, e);
}

void kube_cache_clear(kube_cache *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		kube_entry *e = c->buckets[i];
		while (e) {
			kube_entry *next = e->next;
			retire(c, e);
			e = next;
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
}

size_t kube_cache_count(const kube_cache *c)
{
	return c->count;
}

int kube_cache_has_retired(const kube_cache *c)
{
	return c->retired != NULL;
}

void kube_cache_reap(kube_cache *c)
{
	free_list(c->retired);
	c->retired = NULL;
}
