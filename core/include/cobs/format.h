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

#ifdef __cplusplus
}
#endif
#endif
