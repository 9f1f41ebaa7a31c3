/* Batch rendering (text, JSON lines, Prometheus). Being written. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/format.h>

int cobs_buf_append(cobs_buf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int cobs_buf_printf(cobs_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(tmp))
		return cobs_buf_append(b, tmp, (size_t)n);
	char *big = malloc((size_t)n + 1);
	if (!big)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = cobs_buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

void cobs_buf_clear(cobs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void cobs_buf_free(cobs_buf *b)
{
	free(b->data);
	*b = (cobs_buf){0};
}

int cobs_format_parse(const char *name)
{
	if (strcmp(name, "text") == 0)
		return COBS_FORMAT_TEXT;
	if (strcmp(name, "json") == 0)
		return COBS_FORMAT_JSON;
	if (strcmp(name, "prometheus") == 0)
		return COBS_FORMAT_PROMETHEUS;
	return -1;
}

int cobs_format_batch(const cobs_batch *b, cobs_format fmt, cobs_buf *out)
{
	(void)fmt;
	for (size_t i = 0; i < b->nfamilies; i++) {
		const cobs_family *f = b->families[i];
		for (size_t j = 0; j < f->nsamples; j++)
			if (cobs_buf_printf(out, "%s %g\n", f->name, f->samples[j].value) < 0)
				return -1;
	}
	return 0;
}
