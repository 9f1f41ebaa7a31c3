/*
 * Bytes on the wire and encode/decode time for one batch of a realistic
 * node, from the simulator's node model (plugins/sim, the data of
 * `cobs-agent --simulate`): 50 pods of 1-3 containers (~100 containers),
 * 300 processes (200 of them in containers), the node_* families of an
 * 8-CPU machine; ~10.7k samples, values after three 5 s passes of plausible
 * change (counters as big integers, CPU seconds in 1/100 s ticks,
 * percentages and rates as floats).
 *
 * Prints the size of the naive protobuf (every sample repeating its label
 * strings: the schema in naive_* below, encoded by hand here so it needs no
 * generated code), the naive one compressed, and cobs.proto's encoding with
 * each compression, with encode and decode times (median of thread CPU
 * microseconds per batch; decode includes validation and filling a batch).
 *   bench_wire [iterations [dump_prefix]]
 * With dump_prefix, each encoding is also written to dump_prefix-N.bin (for
 * inspection, or as fuzzing seeds).
 *
 * Then the same batch in parts, as an agent sends a large collection
 * ([agent] batch_samples): process by process, a part going out whenever it
 * holds the part size, the node's and containers' series in the last part;
 * the bytes of all parts against the whole batch give the cost of a part.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include <cobs/wire.h>

#include "sim_batch.h"
#include "sim_model.h"

#define NPODS  50
#define NPROCS 300
#define NCPUS  8

/* ---- the naive encoding: every sample carries its labels ---- */
/*
 * message NaiveBatch  { string node = 1; string agent_version = 2; string boot_id = 3;
 *                       uint64 sequence = 4; int64 timestamp_ms = 5; uint64 interval_ms = 6;
 *                       uint64 dropped = 7; repeated NaiveFamily families = 8; }
 * message NaiveFamily { string name = 1; string help = 2; string unit = 3; MetricType type = 4;
 *                       repeated NaiveSample samples = 5; }
 * message NaiveSample { repeated Label labels = 1; double value = 2; }
 * message Label       { string name = 1; string value = 2; }
 */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A length-delimited field of n bytes, its tag included. */
static size_t ld_len(size_t n)
{
	return 1 + varint_len(n) + n;
}

static uint8_t *put_ld(uint8_t *p, int field, const void *s, size_t n)
{
	*p++ = (uint8_t)(field << 3 | 2);
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static size_t label_len(const cobs_label *l)
{
	return ld_len(strlen(l->name)) + ld_len(strlen(l->value));
}

static size_t sample_len(const cobs_sample *s)
{
	size_t n = s->value != 0 || signbit(s->value) ? 9 : 0;
	for (size_t i = 0; i < s->nlabels; i++)
		n += ld_len(label_len(&s->labels[i]));
	return n;
}

static size_t family_len(const cobs_family *f)
{
	size_t n = ld_len(strlen(f->name)) + ld_len(strlen(f->help)) + ld_len(strlen(f->unit)) +
	           (f->type ? 2 : 0);
	for (size_t i = 0; i < f->nsamples; i++)
		n += ld_len(sample_len(&f->samples[i]));
	return n;
}

static uint8_t *naive_encode(const cobs_batch *b, const cobs_wire_meta *m, size_t *len)
{
	size_t n = ld_len(strlen(m->node)) + ld_len(strlen(m->agent_version)) +
	           ld_len(strlen(m->boot_id)) + 1 + varint_len(m->sequence) + 1 +
	           varint_len((uint64_t)b->timestamp_ms) + 1 + varint_len(m->interval_ms);
	for (size_t i = 0; i < b->nfamilies; i++)
		n += ld_len(family_len(b->families[i]));
	uint8_t *buf = malloc(n), *p = buf;
	if (!buf)
		return NULL;
	p = put_ld(p, 1, m->node, strlen(m->node));
	p = put_ld(p, 2, m->agent_version, strlen(m->agent_version));
	p = put_ld(p, 3, m->boot_id, strlen(m->boot_id));
	*p++ = 4 << 3;
	p = put_varint(p, m->sequence);
	*p++ = 5 << 3;
	p = put_varint(p, (uint64_t)b->timestamp_ms);
	*p++ = 6 << 3;
	p = put_varint(p, m->interval_ms);
	for (size_t i = 0; i < b->nfamilies; i++) {
		const cobs_family *f = b->families[i];
		*p++ = 8 << 3 | 2;
		p = put_varint(p, family_len(f));
		p = put_ld(p, 1, f->name, strlen(f->name));
		p = put_ld(p, 2, f->help, strlen(f->help));
		p = put_ld(p, 3, f->unit, strlen(f->unit));
		if (f->type) {
			*p++ = 4 << 3;
			*p++ = (uint8_t)f->type;
		}
		for (size_t j = 0; j < f->nsamples; j++) {
			const cobs_sample *s = &f->samples[j];
			*p++ = 5 << 3 | 2;
			p = put_varint(p, sample_len(s));
			for (size_t k = 0; k < s->nlabels; k++) {
				const cobs_label *l = &s->labels[k];
				*p++ = 1 << 3 | 2;
				p = put_varint(p, label_len(l));
				p = put_ld(p, 1, l->name, strlen(l->name));
				p = put_ld(p, 2, l->value, strlen(l->value));
			}
			if (s->value != 0 || signbit(s->value)) {
				*p++ = 2 << 3 | 1;
				memcpy(p, &s->value, 8);
				p += 8;
			}
		}
	}
	*len = (size_t)(p - buf);
	return buf;
}

/* ---- timing ---- */

static double thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct variant {
	const char *label;
	cobs_wire_opts opts;
} variant;

static const variant variants[] = {
        {"cobs.proto, uncompressed", {COBS_WIRE_NONE, 0}},
        {"cobs.proto + zstd 1", {COBS_WIRE_ZSTD, 1}},
        {"cobs.proto + zstd 3 (default)", {COBS_WIRE_ZSTD, 0}},
        {"cobs.proto + zstd 9", {COBS_WIRE_ZSTD, 9}},
        {"cobs.proto + zstd 19", {COBS_WIRE_ZSTD, 19}},
        {"cobs.proto + deflate 6", {COBS_WIRE_DEFLATE, 0}},
        {"cobs.proto + deflate 9", {COBS_WIRE_DEFLATE, 9}},
};
#define NVARIANTS       (sizeof(variants) / sizeof(variants[0]))
#define DEFAULT_VARIANT 2

static const cobs_wire_meta meta = {.node = "ip-10-0-12-34.eu-west-1.compute.internal",
                                    .agent_version = "0.1.0",
                                    .boot_id = "5f0c6a1e-2b7d-4c39-9a51-0d6e2f8b7c44",
                                    .sequence = 1234,
                                    .interval_ms = 5000};

/*
 * A node after three 5 s intervals, in a fresh batch; with heavy_counters
 * every counter starts near its maximum (the worst case for the integer
 * column). NULL when out of memory.
 */
static cobs_batch *make_batch(int heavy_counters)
{
	const sim_params p = {.seed = 0x853c49e6748fea9bu,
	                      .pods = NPODS,
	                      .processes = NPROCS,
	                      .cpus = NCPUS,
	                      .churn_permille = 10,
	                      .heavy = heavy_counters};
	sim_families fams = {0};
	sim_node *n = sim_node_new(meta.node, 0, &p);
	cobs_batch *b = cobs_batch_new();
	if (!n || !b)
		goto fail;
	for (uint64_t i = 0; i <= 3; i++) /* the first advance only starts the clock */
		sim_node_advance(n, 1000000000u + i * 5000000000u,
		                 1718000000000 + (int64_t)i * 5000);
	b->timestamp_ms = 1718000015000;
	b->monotonic_ns = 16000000000u;
	if (sim_node_fill(n, b, &fams) < 0)
		goto fail;
	printf("batch: %zu families, %zu samples (%u pods, %u containers, %u processes)%s\n",
	       b->nfamilies, cobs_batch_samples(b), n->npods, n->nctrs, n->nprocs,
	       heavy_counters ? ", every counter near its maximum" : "");
	sim_node_free(n);
	return b;
fail:
	sim_node_free(n);
	cobs_batch_free(b);
	return NULL;
}

static int print_naive(const cobs_batch *b)
{
	size_t samples = cobs_batch_samples(b), naive_len = 0;
	uint8_t *naive = naive_encode(b, &meta, &naive_len);
	size_t zb = ZSTD_compressBound(naive_len);
	uint8_t *z = malloc(zb);
	if (!naive || !z) {
		free(naive);
		free(z);
		return -1;
	}
	size_t naive_z = ZSTD_compress(z, zb, naive, naive_len, 3);
	printf("%-30s %9zu  %12.2f\n", "naive protobuf", naive_len,
	       (double)naive_len / (double)samples);
	printf("%-30s %9zu  %12.2f\n", "naive protobuf + zstd 3", naive_z,
	       (double)naive_z / (double)samples);
	free(naive);
	free(z);
	return 0;
}

/* One line of the table: size, median encode and decode time. -1 on failure. */
static int measure(const cobs_batch *b, const variant *var, size_t iters, double *t,
                   const char *dump)
{
	size_t samples = cobs_batch_samples(b);
	cobs_batch *d = cobs_batch_new();
	cobs_buf out = {0};
	cobs_error err;
	int rc = -1;
	if (!d)
		return -1;
	for (size_t i = 0; i < iters; i++) {
		cobs_buf_clear(&out);
		double t0 = thread_cpu_us();
		int r = cobs_wire_encode_batch(b, &meta, &var->opts, &out, &err);
		t[i] = thread_cpu_us() - t0;
		if (r != 0) {
			fprintf(stderr, "bench_wire: encode: %s (%d)\n", r < 0 ? err.msg : "", r);
			goto done;
		}
	}
	double enc_us = median(t, iters);
	cobs_wire_meta got;
	for (size_t i = 0; i < iters; i++) {
		double t0 = thread_cpu_us();
		int r = cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &got, &err);
		t[i] = thread_cpu_us() - t0;
		if (r != 0) {
			fprintf(stderr, "bench_wire: decode: %s\n", err.msg);
			goto done;
		}
	}
	double dec_us = median(t, iters);
	if (cobs_batch_samples(d) != samples) {
		fprintf(stderr, "bench_wire: decoded %zu samples of %zu\n", cobs_batch_samples(d),
		        samples);
		goto done;
	}
	if (dump) {
		FILE *fp = fopen(dump, "wb");
		if (!fp || fwrite(out.data, 1, out.len, fp) != out.len || fclose(fp) != 0) {
			fprintf(stderr, "bench_wire: cannot write %s\n", dump);
			goto done;
		}
	}
	printf("%-30s %9zu  %12.2f  %10.0f  %10.0f%s\n", var->label, out.len,
	       (double)out.len / (double)samples, enc_us, dec_us,
	       var == &variants[DEFAULT_VARIANT]
	               ? (out.len <= 65536 ? "  target <= 65536: met" : "  target <= 65536: MISSED")
	               : "");
	rc = 0;
done:
	cobs_buf_free(&out);
	cobs_batch_free(d);
	return rc;
}

/* ---- the batch in parts ---- */

/* The pid label of a sample, or NULL. */
static const char *pid_of(const cobs_sample *s)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, "pid") == 0)
			return s->labels[i].value;
	return NULL;
}

typedef struct parts_total {
	size_t parts, bytes, samples;
	cobs_buf out;
	int failed;
} parts_total;

static void encode_part(void *arg, cobs_batch *b)
{
	parts_total *t = arg;
	cobs_error err;
	cobs_buf_clear(&t->out);
	if (cobs_wire_encode_batch(b, &meta, &variants[DEFAULT_VARIANT].opts, &t->out, &err) != 0)
		t->failed = 1;
	t->parts++;
	t->bytes += t->out.len;
	t->samples += cobs_batch_samples(b);
}

/* Copies the samples of src whose pid is pid (NULL: those without one) into dst. */
static int copy_samples(cobs_batch *dst, const cobs_batch *src, const char *pid)
{
	for (size_t i = 0; i < src->nfamilies; i++) {
		const cobs_family *f = src->families[i];
		cobs_family *df = NULL;
		for (size_t k = 0; k < f->nsamples; k++) {
			const cobs_sample *smp = &f->samples[k];
			const char *p = pid_of(smp);
			if (pid ? !p || strcmp(p, pid) != 0 : p != NULL)
				continue;
			if (!df &&
			    !(df = cobs_batch_family(dst, f->name, f->help, f->unit, f->type)))
				return -1;
			if (cobs_family_add(dst, df, smp->value, smp->labels, smp->nlabels) < 0)
				return -1;
		}
	}
	return 0;
}

/* b sent in parts of part_samples: the parts and their bytes in *t. -1 on failure. */
static int in_parts(const cobs_batch *b, size_t part_samples, parts_total *t)
{
	cobs_batch *p = cobs_batch_new();
	if (!p)
		return -1;
	p->timestamp_ms = b->timestamp_ms;
	p->monotonic_ns = b->monotonic_ns;
	cobs_batch_set_parts(p, part_samples, encode_part, t);
	/* each pid's samples go together, the first time the pid is seen */
	const char **seen = malloc(cobs_batch_samples(b) * sizeof(*seen));
	size_t nseen = 0, sent = 0;
	int rc = seen ? 0 : -1;
	for (size_t i = 0; i < b->nfamilies && rc == 0; i++) {
		const cobs_family *f = b->families[i];
		for (size_t k = 0; k < f->nsamples && rc == 0; k++) {
			const char *pid = pid_of(&f->samples[k]);
			size_t j = 0;
			while (pid && j < nseen && strcmp(seen[j], pid) != 0)
				j++;
			if (!pid || j < nseen)
				continue;
			seen[nseen++] = pid;
			rc = copy_samples(p, b, pid);
			cobs_batch_checkpoint(p);
		}
	}
	if (rc == 0)
		rc = copy_samples(p, b, NULL);
	sent = t->samples + cobs_batch_samples(p);
	if (rc == 0)
		encode_part(t, p); /* the last part */
	free(seen);
	cobs_batch_free(p);
	/* every sample once: the parts hold the batch */
	return rc < 0 || t->failed || sent != cobs_batch_samples(b) ? -1 : 0;
}

static int print_parts(const cobs_batch *b)
{
	static const size_t sizes[] = {0, 8192, 4096, 2048, 1024};
	size_t samples = cobs_batch_samples(b), whole = 0;
	printf("%-30s %9s  %12s\n", "zstd 3, in parts of", "bytes", "bytes/sample");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		parts_total t = {0};
		int rc = in_parts(b, sizes[i], &t);
		cobs_buf_free(&t.out);
		if (rc < 0)
			return -1;
		if (!sizes[i])
			whole = t.bytes;
		char label[64];
		snprintf(label, sizeof(label), "%zu samples: %zu part(s)", sizes[i], t.parts);
		printf("%-30s %9zu  %12.2f", sizes[i] ? label : "whole (batch_samples = 0)",
		       t.bytes, (double)t.bytes / (double)samples);
		if (t.parts > 1)
			printf("  +%zu bytes a part (+%.1f%%)", (t.bytes - whole) / (t.parts - 1),
			       100.0 * (double)(t.bytes - whole) / (double)whole);
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	if (iters == 0)
		iters = 1;
	double *t = malloc(iters * sizeof(*t));
	cobs_batch *b = make_batch(0);
	if (!t || !b || print_naive(b) < 0) {
		fprintf(stderr, "bench_wire: out of memory\n");
		return 1;
	}
	printf("%-30s %9s  %12s  %10s  %10s\n", "", "bytes", "bytes/sample", "encode us",
	       "decode us");
	char path[4096];
	for (size_t v = 0; v < NVARIANTS; v++) {
		/* zstd 19 is slow enough that a tenth of the runs give a stable median. */
		size_t its = variants[v].opts.level >= 19 ? (iters + 9) / 10 : iters;
		if (argc > 2)
			snprintf(path, sizeof(path), "%s-%zu.bin", argv[2], v);
		if (measure(b, &variants[v], its, t, argc > 2 ? path : NULL) < 0)
			return 1;
	}
	printf("\n");
	if (print_parts(b) < 0) {
		fprintf(stderr, "bench_wire: cannot encode the parts\n");
		return 1;
	}
	cobs_batch_free(b);

	printf("\n");
	if (!(b = make_batch(1)) || print_naive(b) < 0)
		return 1;
	if (measure(b, &variants[DEFAULT_VARIANT], iters, t, NULL) < 0)
		return 1;
	cobs_batch_free(b);
	free(t);
	return 0;
}
