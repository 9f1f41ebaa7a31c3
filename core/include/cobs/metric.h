/* SPDX-License-Identifier: MIT */
/*
 * The metric batch model: what a collector fills and a sink reads.
 *
 * A batch holds metric families (name, help, unit, type) and each family
 * holds samples (labels, value). All strings a plugin passes in are copied
 * into the batch's arena, so a plugin may pass stack buffers. Resetting a
 * batch keeps its memory for the next collection: a steady agent does not
 * allocate on the hot path once warmed up.
 */
#ifndef COBS_METRIC_H
#define COBS_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cobs_metric_type {
	COBS_GAUGE = 0,
	COBS_COUNTER = 1,
	COBS_INFO = 2, /* value 1, the facts are in the labels */
} cobs_metric_type;

typedef struct cobs_label {
	const char *name;
	const char *value;
} cobs_label;

typedef struct cobs_sample {
	const cobs_label *labels;
	size_t nlabels;
	double value;
} cobs_sample;

typedef struct cobs_family {
	const char *name;
	const char *help;
	const char *unit; /* "seconds", "bytes", "percent", "" ... */
	cobs_metric_type type;
	cobs_sample *samples;
	size_t nsamples;
	size_t cap;    /* private */
	uint64_t hash; /* private: of the name, so lookups rarely compare strings */
	uint64_t pass; /* private: the batch pass that last used it */
} cobs_family;

typedef struct cobs_arena cobs_arena;

typedef struct cobs_batch {
	int64_t timestamp_ms;  /* wall clock, ms since the epoch */
	uint64_t monotonic_ns; /* when the collection started; rates divide by its deltas */
	const char *node;      /* set by the host */
	const char *source;    /* the plugin that produced it, set by the host */
	cobs_family **families;
	size_t nfamilies;
	size_t families_cap; /* private */
	cobs_arena *arena;   /* private */
	/*
	 * More parts of this collection follow (see cobs_batch_checkpoint): a
	 * sink sees a large collection as several batches with the same
	 * timestamp, all but the last with more set.
	 */
	bool more;
	/* private: where cobs_batch_checkpoint hands a full part */
	size_t part_samples;
	void (*part_fn)(void *arg, struct cobs_batch *b);
	void *part_arg;
} cobs_batch;

/* A new empty batch, or NULL when out of memory. */
cobs_batch *cobs_batch_new(void);
void cobs_batch_free(cobs_batch *b);
/* Empties the batch and keeps its memory for reuse. */
void cobs_batch_reset(cobs_batch *b);

/*
 * The family with this name, created on first use. help and unit may be NULL.
 * Returns NULL when out of memory, or when the name exists with another type.
 * A family outlives cobs_batch_reset (empty until used again), so the name,
 * help and unit are copied once, the first time the batch sees the name: a
 * collector reporting the same families every pass only pays a lookup.
 */
cobs_family *cobs_batch_family(cobs_batch *b, const char *name, const char *help, const char *unit,
                               cobs_metric_type type);

/*
 * A plugin's handle on one family across passes. Zero it once, keep it in the
 * plugin's state, and always use it for the same name: then finding the
 * family again in the next pass (same batch, not reset to forget its
 * families) is a pointer check instead of hashing and comparing the name.
 */
typedef struct cobs_family_ref {
	uint64_t epoch;      /* private: which batch generation `family` belongs to */
	cobs_family *family; /* private */
} cobs_family_ref;

/* cobs_batch_family through a ref (see above); same results. */
cobs_family *cobs_batch_family_ref(cobs_batch *b, cobs_family_ref *ref, const char *name,
                                   const char *help, const char *unit, cobs_metric_type type);

/* Adds a sample with nlabels labels. Returns 0, or -1 when out of memory. */
int cobs_family_add(cobs_batch *b, cobs_family *f, double value, const cobs_label *labels,
                    size_t nlabels);

/*
 * Label sets shared by several samples (a device's labels on each of its
 * counters): cobs_batch_labels copies the set into the batch once, and
 * cobs_family_add_shared adds a sample that points at that copy instead of
 * copying the strings again. The copy lives until the batch is reset.
 */
const cobs_label *cobs_batch_labels(cobs_batch *b, const cobs_label *labels, size_t nlabels);
/* labels must come from cobs_batch_labels on this batch since its last reset. 0 or -1. */
int cobs_family_add_shared(cobs_batch *b, cobs_family *f, double value, const cobs_label *labels,
                           size_t nlabels);

/* Shorthands for the common shapes: no label, one label, two labels. */
int cobs_family_add0(cobs_batch *b, cobs_family *f, double value);
int cobs_family_add1(cobs_batch *b, cobs_family *f, double value, const char *name,
                     const char *val);
int cobs_family_add2(cobs_batch *b, cobs_family *f, double value, const char *n1, const char *v1,
                     const char *n2, const char *v2);

/* Copies a string into the batch's arena (NULL when out of memory). */
const char *cobs_batch_strdup(cobs_batch *b, const char *s);

/* Total number of samples across families. */
size_t cobs_batch_samples(const cobs_batch *b);

/* The family with this name, or NULL. */
const cobs_family *cobs_batch_find(const cobs_batch *b, const char *name);

/*
 * Sending a large collection in parts, so that memory is bounded by the part
 * size instead of the node's process count. A collector calls
 * cobs_batch_checkpoint between self-contained groups of samples (after each
 * process, say); when the host asked for parts and the batch holds at least
 * the part size, the batch goes to the sinks there and then, with more set,
 * and comes back empty (same timestamp, node and source) for the rest.
 * Family pointers stay valid and are listed again on their next sample; but
 * label sets from cobs_batch_labels and strings from cobs_batch_strdup do
 * not survive a checkpoint, so never keep them across one. Without the host
 * asking (a test, --once) a checkpoint does nothing.
 */
void cobs_batch_checkpoint(cobs_batch *b);
/*
 * For the host: hand every part of at least samples samples to fn(arg, b)
 * from now on; samples 0 turns parts off. The setting outlives resets.
 */
void cobs_batch_set_parts(cobs_batch *b, size_t samples, void (*fn)(void *arg, cobs_batch *b),
                          void *arg);

/* Appends all of src's families and samples to dst (copies strings). 0 or -1. */
int cobs_batch_merge(cobs_batch *dst, const cobs_batch *src);

#ifdef __cplusplus
}
#endif
#endif
