/* SPDX-License-Identifier: MIT */
/*
 * Interned label sets, one table per node: a process's {pid, comm,
 * namespace, pod, container} labels are shared by the ~30 process_* families
 * that use them, so they are stored once per node and the series keep a
 * pointer. Reference counted: a set goes when its last series does.
 *
 * Owned by the thread that owns the state (the worker).
 */
#ifndef COBS_SERVER_LABELSET_H
#define COBS_SERVER_LABELSET_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/metric.h>

#include "hmap.h"

typedef struct cobs_labelset {
	uint64_t hash;
	uint32_t refs;
	uint32_t n;
	cobs_label labels[]; /* in the order the agent sent them; strings follow in the block */
} cobs_labelset;

typedef struct cobs_labelsets {
	cobs_hmap map; /* val: cobs_labelset * */
} cobs_labelsets;

/* The hash cobs_labelsets_find and _intern take. */
uint64_t cobs_labels_hash(const cobs_label *labels, size_t n);

/* The set with exactly these labels (same order), or NULL. Takes no reference. */
cobs_labelset *cobs_labelsets_find(const cobs_labelsets *t, const cobs_label *labels, size_t n,
                                   uint64_t hash);
/* That set with one more reference, created when absent. NULL when out of memory. */
cobs_labelset *cobs_labelsets_intern(cobs_labelsets *t, const cobs_label *labels, size_t n,
                                     uint64_t hash);
/* Drops a reference; the set is freed with its last one. */
void cobs_labelsets_release(cobs_labelsets *t, cobs_labelset *ls);
/* Frees every set, whatever its references. */
void cobs_labelsets_free(cobs_labelsets *t);

#endif
