/* SPDX-License-Identifier: MIT */
/*
 * Label set interning: each set is one allocation (header, label array,
 * strings), found by the hash of its names and values in order.
 */
#include <stdlib.h>
#include <string.h>

#include "labelset.h"

typedef struct probe {
	const cobs_label *labels;
	size_t n;
} probe;

static const char *s_or_empty(const char *s)
{
	return s ? s : "";
}

uint64_t cobs_labels_hash(const cobs_label *labels, size_t n)
{
	uint64_t h = cobs_hash_u64(n);
	for (size_t i = 0; i < n; i++) {
		/* name and value hashed apart: {a="bc"} and {ab="c"} differ */
		h = cobs_hash_str(labels[i].name, h);
		h = cobs_hash_str(labels[i].value, h);
	}
	return h;
}

static int set_eq(uintptr_t val, const void *key, const void *ctx)
{
	(void)ctx;
	const cobs_labelset *ls = (const cobs_labelset *)val;
	const probe *p = key;
	if (ls->n != p->n)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(ls->labels[i].name, s_or_empty(p->labels[i].name)) != 0 ||
		    strcmp(ls->labels[i].value, s_or_empty(p->labels[i].value)) != 0)
			return 0;
	return 1;
}

cobs_labelset *cobs_labelsets_find(const cobs_labelsets *t, const cobs_label *labels, size_t n,
                                   uint64_t hash)
{
	probe p = {labels, n};
	return (cobs_labelset *)cobs_hmap_get(&t->map, hash, set_eq, &p, NULL);
}

static size_t set_size(const cobs_label *labels, size_t n)
{
	size_t sz = sizeof(cobs_labelset) + n * sizeof(cobs_label);
	for (size_t i = 0; i < n; i++)
		sz += strlen(s_or_empty(labels[i].name)) + strlen(s_or_empty(labels[i].value)) + 2;
	return sz;
}

cobs_labelset *cobs_labelsets_intern(cobs_labelsets *t, const cobs_label *labels, size_t n,
                                     uint64_t hash)
{
	cobs_labelset *ls = cobs_labelsets_find(t, labels, n, hash);
	if (ls) {
		ls->refs++;
		return ls;
	}
	ls = malloc(set_size(labels, n));
	if (!ls)
		return NULL;
	ls->hash = hash;
	ls->refs = 1;
	ls->n = (uint32_t)n;
	char *p = (char *)&ls->labels[n];
	for (size_t i = 0; i < n; i++) {
		const char *name = s_or_empty(labels[i].name), *value = s_or_empty(labels[i].value);
		size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
		ls->labels[i].name = memcpy(p, name, nl);
		p += nl;
		ls->labels[i].value = memcpy(p, value, vl);
		p += vl;
	}
	if (cobs_hmap_put(&t->map, hash, (uintptr_t)ls) < 0) {
		free(ls);
		return NULL;
	}
	return ls;
}

void cobs_labelsets_release(cobs_labelsets *t, cobs_labelset *ls)
{
	if (!ls || --ls->refs)
		return;
	cobs_hmap_del(&t->map, ls->hash, (uintptr_t)ls);
	free(ls);
}

void cobs_labelsets_free(cobs_labelsets *t)
{
	for (size_t i = 0; i < t->map.cap; i++)
		free((void *)t->map.slots[i].val);
	cobs_hmap_free(&t->map);
}
