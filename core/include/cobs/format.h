/* SPDX-License-Identifier: MIT */
/*
 * Rendering a batch as text: a human table, JSON lines, or the Prometheus
 * text exposition format 0.0.4. Shared by the stdout and file sinks and by
 * `cobs-agent --once`, so every output speaks the same way.
 */
#ifndef COBS_FORMAT_H
#define COBS_FORMAT_H

#include <stddef.h>

#include <cobs/metric.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer, always NUL-terminated after a successful append. */
typedef struct cobs_buf {
	char *data;
	size_t len;
	size_t cap;
} cobs_buf;

int cobs_buf_append(cobs_buf *b, const char *s, size_t n);
/* Room for n more bytes plus the terminating NUL (for writing in place). 0, or -1 when out of
 * memory. */
int cobs_buf_reserve(cobs_buf *b, size_t n);
int cobs_buf_printf(cobs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cobs_buf_clear(cobs_buf *b);
void cobs_buf_free(cobs_buf *b);

typedef enum cobs_format {
	COBS_FORMAT_TEXT = 0,
	COBS_FORMAT_JSON = 1,
	COBS_FORMAT_PROMETHEUS = 2,
} cobs_format;

/* "text", "json", "prometheus" -> format; -1 when unknown. */
int cobs_format_parse(const char *name);

/*
 * Appends the batch rendered in fmt to out. JSON is one line per batch
 * ending in '\n'. Returns 0, or -1 when out of memory.
 */
int cobs_format_batch(const cobs_batch *b, cobs_format fmt, cobs_buf *out);

/*
 * The same rendering a piece at a time, so a sink can write as it goes and
 * hold a piece in memory instead of the whole batch (a node of 5000
 * processes is ~13 MiB of Prometheus text). The pieces joined are exactly
 * what cobs_format_batch appends. The batch must not change until the last
 * piece is out.
 */
typedef struct cobs_format_iter {
	/* all private */
	const cobs_batch *batch;
	cobs_format fmt;
	size_t family; /* the family being rendered */
	size_t sample; /* its next sample */
	size_t keyw;   /* text: the width of the key column */
	int stage;     /* the batch's opening is out; the batch is done */
	int opened;    /* the current family's opening is out */
} cobs_format_iter;

/* Starts rendering b in fmt. 0, or -1 when fmt is unknown or out of memory. */
int cobs_format_begin(cobs_format_iter *it, const cobs_batch *b, cobs_format fmt);

/*
 * Appends the next piece to out: whole samples (or headers) until at least
 * min bytes were appended or the batch ends. Returns 1 when there may be
 * more (call again), 0 when the batch is complete (nothing was appended),
 * -1 when out of memory: out then ends after the last whole sample and the
 * same piece may be asked for again.
 */
int cobs_format_next(cobs_format_iter *it, cobs_buf *out, size_t min);

#ifdef __cplusplus
}
#endif
#endif
