/*
 * The wire format: exact round trips of batches, meta, commands and
 * results; every refusal of the decoder with its reason, on messages built
 * by hand here (a small protobuf writer, so the tests check the schema's
 * field numbers from the outside, not through the generated code);
 * truncation at every byte, random and mutated input, decompression bombs;
 * the command-stream framing split at every byte.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/wire.h>

/* ---- a protobuf writer for hand-made messages ---- */

typedef struct pb {
	uint8_t *d;
	size_t n, cap;
} pb;

static void pb_raw(pb *p, const void *s, size_t n)
{
	if (p->n + n > p->cap) {
		size_t cap = p->cap ? p->cap : 256;
		while (cap < p->n + n)
			cap *= 2;
		p->d = realloc(p->d, cap);
		ck_assert_ptr_nonnull(p->d);
		p->cap = cap;
	}
	if (n)
		memcpy(p->d + p->n, s, n);
	p->n += n;
}

static void pb_varint(pb *p, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	pb_raw(p, b, n);
}

static void pb_tag(pb *p, unsigned field, unsigned wt)
{
	pb_varint(p, (uint64_t)field << 3 | wt);
}

static void pb_uint(pb *p, unsigned field, uint64_t v)
{
	pb_tag(p, field, 0);
	pb_varint(p, v);
}

static void pb_bytes(pb *p, unsigned field, const void *s, size_t n)
{
	pb_tag(p, field, 2);
	pb_varint(p, n);
	pb_raw(p, s, n);
}

static void pb_str(pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_msg(pb *p, unsigned field, const pb *sub)
{
	pb_bytes(p, field, sub->d, sub->n);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void pb_packed_u32(pb *p, unsigned field, const uint32_t *v, size_t n)
{
	pb body = {0};
	for (size_t i = 0; i < n; i++)
		pb_varint(&body, v[i]);
	pb_msg(p, field, &body);
	free(body.d);
}

static void pb_packed_s32(pb *p, unsigned field, const int32_t *v, size_t n)
{
	pb body = {0};
	for (size_t i = 0; i < n; i++)
		pb_varint(&body, zigzag(v[i]));
	pb_msg(p, field, &body);
	free(body.d);
}

static void pb_packed_s64(pb *p, unsigned field, const int64_t *v, size_t n)
{
	pb body = {0};
	for (size_t i = 0; i < n; i++)
		pb_varint(&body, zigzag(v[i]));
	pb_msg(p, field, &body);
	free(body.d);
}

static void pb_packed_double(pb *p, unsigned field, const double *v, size_t n)
{
	pb_bytes(p, field, v, n * sizeof(double)); /* little-endian host */
}

/* An Envelope around a message: compression, raw_size, payload. */
static pb envelope(int compression, uint64_t raw_size, const void *payload, size_t n)
{
	pb e = {0};
	if (compression)
		pb_uint(&e, 1, (uint64_t)compression);
	if (raw_size)
		pb_uint(&e, 2, raw_size);
	if (n)
		pb_bytes(&e, 3, payload, n);
	return e;
}

/* ---- hand-made batches ---- */

typedef struct str {
	const char *s;
	size_t len;
} str;
#define S(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}

typedef struct fam {
	uint32_t name, help, unit;
	int64_t type;
	const int32_t *deltas;
	size_t n;
	const uint8_t *mask;
	size_t mask_len;
	const int64_t *ints;
	size_t ni;
	const double *floats;
	size_t nf;
	uint32_t decimals;
} fam;

typedef struct craft {
	const char *node;
	const char *version;
	const char *boot;
	const str *strings;
	size_t nstrings;
	const uint32_t *sets;
	size_t nsets;
	const fam *fams;
	size_t nfams;
} craft;

static pb craft_batch(const craft *c)
{
	pb b = {0};
	if (c->node)
		pb_str(&b, 1, c->node);
	if (c->version)
		pb_str(&b, 2, c->version);
	if (c->boot)
		pb_str(&b, 3, c->boot);
	pb_uint(&b, 4, 7);
	pb_uint(&b, 5, 1718000000000);
	pb_uint(&b, 6, 5000);
	for (size_t i = 0; i < c->nstrings; i++)
		pb_bytes(&b, 9, c->strings[i].s, c->strings[i].len);
	if (c->nsets)
		pb_packed_u32(&b, 10, c->sets, c->nsets);
	for (size_t i = 0; i < c->nfams; i++) {
		const fam *f = &c->fams[i];
		pb m = {0};
		pb_uint(&m, 1, f->name);
		pb_uint(&m, 2, f->help);
		pb_uint(&m, 3, f->unit);
		if (f->type)
			pb_uint(&m, 4, (uint64_t)f->type);
		if (f->n)
			pb_packed_s32(&m, 5, f->deltas, f->n);
		if (f->mask_len)
			pb_bytes(&m, 6, f->mask, f->mask_len);
		if (f->ni)
			pb_packed_s64(&m, 7, f->ints, f->ni);
		if (f->nf)
			pb_packed_double(&m, 8, f->floats, f->nf);
		if (f->decimals)
			pb_uint(&m, 9, f->decimals);
		pb_msg(&b, 11, &m);
		free(m.d);
	}
	pb e = envelope(0, b.n, b.d, b.n);
	free(b.d);
	return e;
}

/*
 * The baseline every refusal test bends one thing of: strings
 * 0 "", 1 "m", 2 "help", 3 "bytes", 4 "pid", 5 "1", 6 "mode", 7 "user";
 * set 0 {pid="1"}, set 1 = set 0 + {mode="user"}; family m (gauge) with two
 * samples, 5 on set 0 and 7 on set 1.
 */
static const str base_strings[] = {S(""),    S("m"), S("help"), S("bytes"),
                                   S("pid"), S("1"), S("mode"), S("user")};
static const uint32_t base_sets[] = {0, 1, 4, 5, 1, 1, 6, 7};
static const int32_t base_deltas[] = {0, 1};
static const int64_t base_ints[] = {5, 7};

static craft base(fam *f)
{
	*f = (fam){.name = 1,
	           .help = 2,
	           .unit = 3,
	           .deltas = base_deltas,
	           .n = 2,
	           .ints = base_ints,
	           .ni = 2};
	return (craft){.node = "node-1",
	               .version = "0.1.0",
	               .boot = "boot",
	               .strings = base_strings,
	               .nstrings = 8,
	               .sets = base_sets,
	               .nsets = 8,
	               .fams = f,
	               .nfams = 1};
}

/* Decodes p; it must be refused with a reason containing want, leaving b empty. */
static void expect_refused(const pb *p, const char *want)
{
	cobs_batch *b = cobs_batch_new();
	cobs_wire_meta meta;
	cobs_error err = {{0}};
	int rc = cobs_wire_decode_batch(p->d, p->n, b, &meta, &err);
	ck_assert_msg(rc == -1, "accepted; wanted refusal '%s'", want);
	ck_assert_msg(strstr(err.msg, want), "reason '%s' lacks '%s'", err.msg, want);
	ck_assert_uint_eq(b->nfamilies, 0);
	ck_assert_str_eq(meta.node, "");
	cobs_batch_free(b);
}

static void expect_craft_refused(const craft *c, const char *want)
{
	pb p = craft_batch(c);
	expect_refused(&p, want);
	free(p.d);
}

/* ---- comparing batches ---- */

static void same_batch(const cobs_batch *a, const cobs_batch *b)
{
	ck_assert_uint_eq(a->nfamilies, b->nfamilies);
	for (size_t i = 0; i < a->nfamilies; i++) {
		const cobs_family *x = a->families[i], *y = b->families[i];
		ck_assert_str_eq(x->name, y->name);
		ck_assert_str_eq(x->help, y->help);
		ck_assert_str_eq(x->unit, y->unit);
		ck_assert_int_eq(x->type, y->type);
		ck_assert_uint_eq(x->nsamples, y->nsamples);
		for (size_t j = 0; j < x->nsamples; j++) {
			const cobs_sample *s = &x->samples[j], *t = &y->samples[j];
			ck_assert_msg(memcmp(&s->value, &t->value, sizeof(double)) == 0,
			              "%s sample %zu: %.17g became %.17g", x->name, j, s->value,
			              t->value);
			ck_assert_uint_eq(s->nlabels, t->nlabels);
			for (size_t k = 0; k < s->nlabels; k++) {
				ck_assert_str_eq(s->labels[k].name, t->labels[k].name);
				ck_assert_str_eq(s->labels[k].value, t->labels[k].value);
			}
		}
	}
}

static const cobs_wire_meta test_meta = {.node = "node-1.example.com",
                                         .agent_version = "0.1.0",
                                         .boot_id = "b00t",
                                         .sequence = 42,
                                         .interval_ms = 5000,
                                         .dropped = 3};

static const cobs_wire_opts opts_none = {COBS_WIRE_NONE, 0};

/* Encodes b, decodes it into a new batch (returned), checks meta and the round trip. */
static cobs_batch *round_trip(const cobs_batch *b, const cobs_wire_opts *opts)
{
	cobs_buf out = {0};
	cobs_error err;
	ck_assert_msg(cobs_wire_encode_batch(b, &test_meta, opts, &out, &err) == 0, "%s", err.msg);
	cobs_batch *d = cobs_batch_new();
	cobs_wire_meta meta;
	ck_assert_msg(cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &meta, &err) ==
	                      0,
	              "%s", err.msg);
	ck_assert_str_eq(meta.node, test_meta.node);
	ck_assert_str_eq(d->node, test_meta.node);
	ck_assert_int_eq(d->timestamp_ms, b->timestamp_ms);
	ck_assert_uint_eq(d->monotonic_ns, b->monotonic_ns);
	same_batch(b, d);
	cobs_buf_free(&out);
	return d;
}

/* Values every column must carry bit for bit. */
static double tricky_value(size_t i)
{
	static const double v[] = {0.0,
	                           -0.0,
	                           1.0,
	                           -1.0,
	                           9007199254740992.0,      /* 2^53 */
	                           9007199254740994.0,      /* 2^53 + 2 */
	                           9223372036854774784.0,   /* the largest double below 2^63 */
	                           9223372036854775808.0,   /* 2^63: not an int64 */
	                           -9223372036854775808.0,  /* -2^63: an int64 */
	                           18446744073709551616.0,  /* 2^64 */
	                           4.9406564584124654e-324, /* the smallest denormal */
	                           2.2250738585072009e-308, /* the largest denormal */
	                           DBL_MIN,
	                           DBL_MAX,
	                           -DBL_MAX,
	                           0.1,
	                           1.0 / 3.0,
	                           12.34,
	                           -0.5,
	                           123456.78,
	                           1e-15,
	                           1e300,
	                           1718000123.37,
	                           99999999999.99,
	                           0.30000000000000004};
	size_t n = sizeof(v) / sizeof(v[0]);
	if (i < n)
		return v[i];
	switch (i - n) {
	case 0:
		return INFINITY;
	case 1:
		return -INFINITY;
	case 2:
		return NAN;
	default: {
		/* A NaN with a payload and the sign bit: its bits must survive too. */
		uint64_t bits = 0xfff8000000abcdefu;
		double d;
		memcpy(&d, &bits, sizeof(d));
		return d;
	}
	}
}
#define NTRICKY 29

/* A batch with everything hostile or odd the model allows. */
static cobs_batch *tricky_batch(void)
{
	cobs_batch *b = cobs_batch_new();
	ck_assert_ptr_nonnull(b);
	b->timestamp_ms = -1234567;
	b->monotonic_ns = UINT64_MAX;
	cobs_family *g = cobs_batch_family(b, "odd_values",
	                                   "Help with \"quotes\", \\ and\nnewlines, "
	                                   "UTF-8 \xc3\xa9\xe2\x82\xac and bad \xff.",
	                                   "bytes", COBS_GAUGE);
	for (size_t i = 0; i < NTRICKY; i++)
		ck_assert_int_eq(cobs_family_add1(b, g, tricky_value(i), "i", "x"), 0);
	/* The same values with no label, in another family type. */
	cobs_family *c = cobs_batch_family(b, "odd_total", NULL, NULL, COBS_COUNTER);
	for (size_t i = 0; i < NTRICKY; i++)
		ck_assert_int_eq(cobs_family_add0(b, c, tricky_value(NTRICKY - 1 - i)), 0);
	/* Hostile label values; sets that extend others; a set reused across families. */
	cobs_family *info = cobs_batch_family(b, "hostile_info", "", "", COBS_INFO);
	static char big[COBS_WIRE_MAX_VALUE + 1];
	memset(big, 'v', COBS_WIRE_MAX_VALUE);
	const char *values[] = {"",
	                        "a\"b",
	                        "back\\slash",
	                        "new\nline",
	                        "tab\tcr\r",
	                        "\xe6\x97\xa5\xe6\x9c\xac",
	                        "\xff\xfe invalid UTF-8 \xc3",
	                        "a) (b",
	                        " spaces ",
	                        big};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		cobs_label l[] = {
		        {"pid", "1"}, {"comm", values[i]}, {"extra", values[(i + 3) % 10]}};
		ck_assert_int_eq(cobs_family_add(b, info, 1, l, 2), 0);
		ck_assert_int_eq(cobs_family_add(b, info, 1, l, 3), 0);
		ck_assert_int_eq(cobs_family_add(b, g, (double)i / 4, l, 3), 0);
	}
	/* 32 labels, the most a sample may have, and a prefix of it. */
	cobs_label many[COBS_WIRE_MAX_LABELS];
	char names[COBS_WIRE_MAX_LABELS][8];
	for (size_t i = 0; i < COBS_WIRE_MAX_LABELS; i++) {
		snprintf(names[i], sizeof(names[i]), "l%zu", i);
		many[i] = (cobs_label){names[i], names[COBS_WIRE_MAX_LABELS - 1 - i]};
	}
	cobs_family *wide = cobs_batch_family(b, "ns:wide_metric", "", "", COBS_GAUGE);
	ck_assert_int_eq(cobs_family_add(b, wide, 1.5, many, COBS_WIRE_MAX_LABELS), 0);
	ck_assert_int_eq(cobs_family_add(b, wide, 2.5, many, 16), 0);
	ck_assert_int_eq(cobs_family_add(b, wide, 3.5, many, COBS_WIRE_MAX_LABELS), 0);
	/* An empty family, and names Prometheus allows at the edges. */
	ck_assert_ptr_nonnull(cobs_batch_family(b, "_empty", "", "", COBS_GAUGE));
	cobs_family *colon = cobs_batch_family(b, ":a_:b9", "", "", COBS_COUNTER);
	ck_assert_int_eq(cobs_family_add1(b, colon, 1e9, "_", "v"), 0);
	return b;
}

/* ---- round trips ---- */

START_TEST(round_trip_is_exact_for_every_compression)
{
	cobs_batch *b = tricky_batch();
	const cobs_wire_opts opts[] = {{COBS_WIRE_NONE, 0},    {COBS_WIRE_ZSTD, 0},
	                               {COBS_WIRE_ZSTD, 1},    {COBS_WIRE_ZSTD, 19},
	                               {COBS_WIRE_DEFLATE, 0}, {COBS_WIRE_DEFLATE, 9}};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cobs_batch_free(round_trip(b, &opts[i]));
	cobs_batch_free(round_trip(b, NULL));
	cobs_batch_free(b);
}
END_TEST

START_TEST(integers_and_decimals_round_trip)
{
	/* Families that go through the scaled-integer column: every value must come back. */
	cobs_batch *b = cobs_batch_new();
	cobs_family *f[5] = {
	        cobs_batch_family(b, "ticks", "", "", COBS_COUNTER),
	        cobs_batch_family(b, "big", "", "", COBS_COUNTER),
	        cobs_batch_family(b, "mixed", "", "", COBS_GAUGE),
	        cobs_batch_family(b, "neg", "", "", COBS_GAUGE),
	        cobs_batch_family(b, "rates", "", "", COBS_GAUGE),
	};
	uint64_t x = 88172645463325252u;
	for (int i = 0; i < 2000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", i);
		ck_assert_int_eq(
		        cobs_family_add1(b, f[0], (double)(x % 100000000) / 100.0, "pid", pid), 0);
		ck_assert_int_eq(cobs_family_add1(b, f[1], (double)(x >> 1), "pid", pid), 0);
		double m = i % 3 == 0   ? (double)(x % 1000)
		           : i % 3 == 1 ? (double)(x % 1000) / 7.0
		                        : (double)(x % 1000) / 1000.0;
		ck_assert_int_eq(cobs_family_add1(b, f[2], m, "pid", pid), 0);
		ck_assert_int_eq(
		        cobs_family_add1(b, f[3], -(double)(x % 100000) / 10.0, "pid", pid), 0);
		ck_assert_int_eq(cobs_family_add1(b, f[4], (double)(x % 1000000) / 5.0, "pid", pid),
		                 0);
	}
	cobs_batch_free(round_trip(b, &opts_none));
	cobs_batch_free(round_trip(b, NULL));
	cobs_batch_free(b);
}
END_TEST

START_TEST(meta_round_trips)
{
	cobs_batch *b = cobs_batch_new();
	cobs_wire_meta m = {.sequence = UINT64_MAX, .interval_ms = 1, .dropped = UINT64_MAX - 1};
	memset(m.node, 'n', COBS_WIRE_MAX_NODE); /* the longest name */
	memset(m.agent_version, 'v', sizeof(m.agent_version) - 1);
	memset(m.boot_id, '~', sizeof(m.boot_id) - 1);
	b->timestamp_ms = INT64_MIN;
	b->monotonic_ns = 12345;
	cobs_buf out = {0};
	cobs_error err;
	cobs_batch *d = cobs_batch_new();
	for (int more = 1; more >= 0; more--) { /* a part, then a last part into the same d */
		b->more = more;
		cobs_buf_clear(&out);
		ck_assert_int_eq(cobs_wire_encode_batch(b, &m, NULL, &out, &err), 0);
		cobs_wire_meta got;
		ck_assert_int_eq(
		        cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &got, &err),
		        0);
		ck_assert_mem_eq(&got, &m, sizeof(m));
		ck_assert_int_eq(d->more, more);
		ck_assert_int_eq(d->timestamp_ms, INT64_MIN);
		ck_assert_uint_eq(d->monotonic_ns, 12345);
		ck_assert_uint_eq(d->nfamilies, 0);
		ck_assert_str_eq(d->node, m.node);
	}
	cobs_buf_free(&out);
	cobs_batch_free(b);
	cobs_batch_free(d);
}
END_TEST

START_TEST(decode_reuses_a_batch_and_appends_nothing_stale)
{
	cobs_batch *b = tricky_batch(), *d = cobs_batch_new();
	cobs_buf out = {0};
	cobs_error err;
	cobs_wire_meta meta;
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, NULL, &out, &err), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(
		        cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &meta, &err),
		        0);
		same_batch(b, d);
	}
	cobs_buf_free(&out);
	cobs_batch_free(b);
	cobs_batch_free(d);
}
END_TEST

START_TEST(encoder_leaves_out_what_a_decoder_refuses)
{
	cobs_batch *b = cobs_batch_new();
	cobs_family *good = cobs_batch_family(b, "good", "", "", COBS_GAUGE);
	cobs_family_add1(b, good, 1, "a", "1");
	cobs_family_add1(b, good, 2, "bad-name", "1");    /* '-' */
	cobs_family_add1(b, good, 3, "a:b", "1");         /* ':' is for metric names only */
	cobs_family_add1(b, good, 4, "", "1");            /* empty */
	cobs_family_add2(b, good, 5, "a", "1", "a", "2"); /* twice */
	static char big[COBS_WIRE_MAX_VALUE + 2];
	memset(big, 'x', COBS_WIRE_MAX_VALUE + 1);
	cobs_family_add1(b, good, 6, "a", big); /* value too long */
	cobs_label many[COBS_WIRE_MAX_LABELS + 1];
	char names[COBS_WIRE_MAX_LABELS + 1][8];
	for (size_t i = 0; i <= COBS_WIRE_MAX_LABELS; i++) {
		snprintf(names[i], sizeof(names[i]), "l%zu", i);
		many[i] = (cobs_label){names[i], "v"};
	}
	cobs_family_add(b, good, 7, many, COBS_WIRE_MAX_LABELS + 1); /* 33 labels */
	cobs_family_add1(b, good, 8, "bad-name", "1");               /* a refused set, seen again */
	cobs_family_add1(b, good, 9, "a", "2");

	cobs_family_add0(b, cobs_batch_family(b, "9starts_with_digit", "", "", COBS_GAUGE), 1);
	cobs_family_add0(b, cobs_batch_family(b, "has space", "", "", COBS_GAUGE), 1);
	static char help[COBS_WIRE_MAX_HELP + 2];
	memset(help, 'h', COBS_WIRE_MAX_HELP + 1);
	cobs_family_add0(b, cobs_batch_family(b, "long_help", help, "", COBS_GAUGE), 1);
	cobs_family_add0(b, cobs_batch_family(b, "bad_unit", "", "by\ntes", COBS_GAUGE), 1);
	cobs_family_add0(b, cobs_batch_family(b, "after", "", "", COBS_GAUGE), 10);

	cobs_buf out = {0};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, NULL, &out, &err), 7 + 4);
	cobs_batch *d = cobs_batch_new();
	cobs_wire_meta meta;
	ck_assert_int_eq(cobs_wire_decode_batch((const uint8_t *)out.data, out.len, d, &meta, &err),
	                 0);
	ck_assert_uint_eq(d->nfamilies, 2);
	const cobs_family *f = cobs_batch_find(d, "good");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->nsamples, 2);
	ck_assert_double_eq(f->samples[0].value, 1);
	ck_assert_double_eq(f->samples[1].value, 9);
	ck_assert_str_eq(f->samples[1].labels[0].value, "2");
	ck_assert_ptr_nonnull(cobs_batch_find(d, "after"));
	cobs_buf_free(&out);
	cobs_batch_free(b);
	cobs_batch_free(d);
}
END_TEST

START_TEST(encoder_refuses_a_bad_node_or_too_much)
{
	cobs_batch *b = cobs_batch_new();
	cobs_buf out = {0};
	cobs_error err;
	const char *bad[] = {"", "has space", "a/b", "caf\xc3\xa9", "tab\t", "del\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cobs_wire_meta m = test_meta;
		snprintf(m.node, sizeof(m.node), "%s", bad[i]);
		ck_assert_int_eq(cobs_wire_encode_batch(b, &m, NULL, &out, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "node name"));
	}
	cobs_wire_meta m = test_meta;
	memset(m.node, 'n', sizeof(m.node)); /* 256 bytes, no NUL */
	ck_assert_int_eq(cobs_wire_encode_batch(b, &m, NULL, &out, &err), -1);
	m = test_meta;
	memset(m.node, 'n', COBS_WIRE_MAX_NODE + 1);
	ck_assert_int_eq(cobs_wire_encode_batch(b, &m, NULL, &out, &err), -1);
	m = test_meta;
	memset(m.boot_id, 'b', sizeof(m.boot_id));
	ck_assert_int_eq(cobs_wire_encode_batch(b, &m, NULL, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "boot id"));
	ck_assert_uint_eq(out.len, 0);

	cobs_family *f = cobs_batch_family(b, "many", "", "", COBS_GAUGE);
	for (size_t i = 0; i <= COBS_WIRE_MAX_SAMPLES; i++)
		ck_assert_int_eq(cobs_family_add0(b, f, 1), 0);
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, NULL, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "samples, over the limit"));
	cobs_batch_reset(b);
	char name[32];
	for (size_t i = 0; i <= COBS_WIRE_MAX_FAMILIES; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		ck_assert_ptr_nonnull(cobs_batch_family(b, name, "", "", COBS_GAUGE));
	}
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, NULL, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "families, over the limit"));
	ck_assert_uint_eq(out.len, 0);

	cobs_batch_reset(b);
	cobs_wire_opts bad_level = {COBS_WIRE_DEFLATE, 42};
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, &bad_level, &out, &err), -1);
	cobs_wire_opts bad_kind = {(cobs_wire_compression)9, 0};
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, &bad_kind, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown compression"));
	cobs_buf_free(&out);
	cobs_batch_free(b);
}
END_TEST

/* ---- refusals, one per reason ---- */

START_TEST(handmade_baseline_is_accepted)
{
	fam f;
	craft c = base(&f);
	pb p = craft_batch(&c);
	cobs_batch *b = cobs_batch_new();
	cobs_wire_meta meta;
	cobs_error err;
	ck_assert_msg(cobs_wire_decode_batch(p.d, p.n, b, &meta, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(meta.node, "node-1");
	ck_assert_str_eq(meta.agent_version, "0.1.0");
	ck_assert_uint_eq(meta.sequence, 7);
	ck_assert_uint_eq(meta.interval_ms, 5000);
	double v;
	const cobs_family *m = cobs_batch_find(b, "m");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->help, "help");
	ck_assert_str_eq(m->unit, "bytes");
	ck_assert_uint_eq(m->samples[1].nlabels, 2);
	ck_assert_str_eq(m->samples[1].labels[0].name, "pid");
	ck_assert_str_eq(m->samples[1].labels[1].value, "user");
	v = m->samples[1].value;
	ck_assert_double_eq(v, 7);
	free(p.d);
	cobs_batch_free(b);
}
END_TEST

START_TEST(refuses_bad_envelopes)
{
	pb p = {.d = (uint8_t *)"\xff\xff\xff", .n = 3};
	expect_refused(&p, "not a protobuf Envelope");
	pb e = envelope(7, 10, "x", 1);
	expect_refused(&e, "unknown compression 7");
	free(e.d);
	e = envelope(0, 10, "x", 1);
	expect_refused(&e, "raw_size says 10");
	free(e.d);
	e = envelope(1, (uint64_t)COBS_WIRE_MAX_RAW_BYTES + 1, "x", 1);
	expect_refused(&e, "over the limit");
	free(e.d);
	e = envelope(0, 5, "\xff\xff\xff\xff\xff", 5);
	expect_refused(&e, "malformed batch");
	free(e.d);
	e = envelope(1, 100, "\x28\xb5\x2f\xfd garbage", 12);
	expect_refused(&e, "zstd payload");
	free(e.d);
	e = envelope(2, 100, "\x78\x9c garbage", 10);
	expect_refused(&e, "deflate payload");
	free(e.d);
	/* An empty body is an empty envelope: an empty batch with no node. */
	pb empty = {0};
	expect_refused(&empty, "node name is empty");
}
END_TEST

START_TEST(refuses_bad_meta)
{
	fam f;
	craft c = base(&f);
	const char *bad_nodes[] = {"", "a b", "a/b", "\x01x", "caf\xc3\xa9", "x\x7f"};
	const char *why[] = {"empty",     "printable", "printable",
	                     "printable", "printable", "printable"};
	for (size_t i = 0; i < 6; i++) {
		c.node = bad_nodes[i];
		expect_craft_refused(&c, why[i]);
	}
	char longname[COBS_WIRE_MAX_NODE + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	c.node = longname;
	expect_craft_refused(&c, "over the limit of 253");
	c = base(&f);
	char v[64];
	memset(v, 'v', 32);
	v[32] = '\0';
	c.version = v;
	expect_craft_refused(&c, "agent version");
	c.version = "0.1 beta";
	expect_craft_refused(&c, "agent version");
	c = base(&f);
	char boot[80];
	memset(boot, 'b', 64);
	boot[64] = '\0';
	c.boot = boot;
	expect_craft_refused(&c, "boot id");
}
END_TEST

START_TEST(refuses_bad_names_and_strings)
{
	fam f;
	craft c = base(&f);
	const str names[] = {S("9m"), S("a b"), S("a-b"), S(""), S("caf\xc3\xa9")};
	str strings[8];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memcpy(strings, base_strings, sizeof(strings));
		strings[1] = names[i];
		c.strings = strings;
		expect_craft_refused(&c, "is not a valid metric name");
	}
	/* Label names: ':' is allowed in metric names only. */
	const str lnames[] = {S("a:b"), S("1a"), S(""), S("a.b")};
	for (size_t i = 0; i < sizeof(lnames) / sizeof(lnames[0]); i++) {
		memcpy(strings, base_strings, sizeof(strings));
		strings[4] = lnames[i];
		c.strings = strings;
		expect_craft_refused(&c, "is not a valid label name");
	}
	memcpy(strings, base_strings, sizeof(strings));
	strings[7] = (str){"us\0er", 5};
	c.strings = strings;
	expect_craft_refused(&c, "contains a NUL byte");
	static char big[COBS_WIRE_MAX_HELP + 1];
	memset(big, 'x', sizeof(big));
	memcpy(strings, base_strings, sizeof(strings));
	strings[5] = (str){big, COBS_WIRE_MAX_VALUE + 1};
	expect_craft_refused(&c, "over the limit of 4096");
	memcpy(strings, base_strings, sizeof(strings));
	strings[2] = (str){big, COBS_WIRE_MAX_HELP + 1};
	expect_craft_refused(&c, "help has");
	memcpy(strings, base_strings, sizeof(strings));
	strings[3] = (str){"by\ntes", 6};
	expect_craft_refused(&c, "unit");
	memcpy(strings, base_strings, sizeof(strings));
	strings[3] = (str){big, COBS_WIRE_MAX_UNIT + 1};
	expect_craft_refused(&c, "unit");
}
END_TEST

START_TEST(refuses_indexes_out_of_range)
{
	fam f;
	craft c = base(&f);
	f.name = 8;
	expect_craft_refused(&c, "name index 8 is out of range");
	c = base(&f);
	f.help = 1000;
	expect_craft_refused(&c, "help index 1000 is out of range");
	c = base(&f);
	f.unit = UINT32_MAX;
	expect_craft_refused(&c, "unit index 4294967295 is out of range");
	c = base(&f);
	uint32_t sets[] = {0, 1, 8, 5, 1, 1, 6, 7};
	c.sets = sets;
	expect_craft_refused(&c, "string index 8 is out of range");
	sets[2] = 4;
	sets[7] = 99;
	expect_craft_refused(&c, "string index 99 is out of range");
	/* Samples naming a set that does not exist: past the end, and before 0. */
	c = base(&f);
	int32_t deltas[] = {0, 2};
	f.deltas = deltas;
	expect_craft_refused(&c, "refers to label set 2 of 2");
	deltas[0] = -1;
	deltas[1] = 1;
	expect_craft_refused(&c, "refers to label set -1 of 2");
	deltas[0] = INT32_MAX;
	deltas[1] = INT32_MAX;
	expect_craft_refused(&c, "refers to label set");
}
END_TEST

START_TEST(refuses_bad_label_sets)
{
	fam f;
	craft c = base(&f);
	/* Parent not earlier than the set. */
	uint32_t fwd[] = {2, 1, 4, 5, 1, 1, 6, 7};
	c.sets = fwd;
	expect_craft_refused(&c, "parent 1 is not an earlier set");
	/* A child that adds nothing. */
	uint32_t none[] = {0, 1, 4, 5, 1, 0};
	c.sets = none;
	c.nsets = 6;
	expect_craft_refused(&c, "adds no label");
	/* Cut short. */
	c = base(&f);
	c.nsets = 7;
	expect_craft_refused(&c, "cut short");
	uint32_t huge[] = {0, UINT32_MAX, 1, 1};
	c.sets = huge;
	c.nsets = 4;
	expect_craft_refused(&c, "cut short");
	/* The same name twice: same index, same content at another index, parent and child. */
	c = base(&f);
	uint32_t twice[] = {0, 2, 4, 5, 4, 7, 1, 1, 6, 7};
	c.sets = twice;
	c.nsets = 10;
	expect_craft_refused(&c, "label pid appears twice");
	str strings[9];
	memcpy(strings, base_strings, sizeof(base_strings));
	strings[8] = (str)S("pid");
	c.strings = strings;
	c.nstrings = 9;
	uint32_t twice2[] = {0, 2, 4, 5, 8, 7, 1, 1, 6, 7};
	c.sets = twice2;
	expect_craft_refused(&c, "label pid appears twice");
	uint32_t twice3[] = {0, 1, 4, 5, 1, 1, 8, 7};
	c.sets = twice3;
	c.nsets = 8;
	expect_craft_refused(&c, "label pid appears twice");
}
END_TEST

/* A label-set table: a flat set of n labels, or a chain adding one label per set. */
static uint32_t *label_chain(size_t n, bool chain, size_t *nwords, str *strings)
{
	uint32_t *w = calloc(4 * n + 2, sizeof(*w));
	size_t k = 0;
	static char names[40][24]; /* "l" and any size_t, so the format never truncates */
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "l%zu", i);
		strings[i] = (str){names[i], strlen(names[i])};
	}
	if (!chain) {
		w[k++] = 0;
		w[k++] = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			w[k++] = (uint32_t)i;
			w[k++] = (uint32_t)i;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			w[k++] = (uint32_t)i; /* parent: the previous set, + 1; 0 for the first */
			w[k++] = 1;
			w[k++] = (uint32_t)i;
			w[k++] = (uint32_t)i;
		}
	}
	*nwords = k;
	return w;
}

START_TEST(refuses_too_many_labels)
{
	for (int chain = 0; chain < 2; chain++) {
		str strings[40];
		size_t nw;
		uint32_t *w = label_chain(COBS_WIRE_MAX_LABELS + 1, chain, &nw, strings);
		strings[COBS_WIRE_MAX_LABELS + 1] = (str)S("m");
		fam f = {.name = COBS_WIRE_MAX_LABELS + 1};
		craft c = {.node = "n",
		           .strings = strings,
		           .nstrings = COBS_WIRE_MAX_LABELS + 2,
		           .sets = w,
		           .nsets = nw,
		           .fams = &f,
		           .nfams = 1};
		expect_craft_refused(&c, "33 labels, over the limit of 32");
		/* 32 is fine. */
		free(w);
		w = label_chain(COBS_WIRE_MAX_LABELS, chain, &nw, strings);
		strings[COBS_WIRE_MAX_LABELS] = (str)S("m");
		f.name = COBS_WIRE_MAX_LABELS;
		int32_t delta = chain ? COBS_WIRE_MAX_LABELS - 1 : 0;
		int64_t one = 1;
		f.deltas = &delta;
		f.n = 1;
		f.ints = &one;
		f.ni = 1;
		c.nstrings = COBS_WIRE_MAX_LABELS + 1;
		c.sets = w;
		c.nsets = nw;
		pb p = craft_batch(&c);
		cobs_batch *b = cobs_batch_new();
		cobs_wire_meta meta;
		cobs_error err;
		ck_assert_msg(cobs_wire_decode_batch(p.d, p.n, b, &meta, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(b->families[0]->samples[0].nlabels, COBS_WIRE_MAX_LABELS);
		ck_assert_str_eq(b->families[0]->samples[0].labels[31].name, "l31");
		cobs_batch_free(b);
		free(p.d);
		free(w);
	}
}
END_TEST

START_TEST(refuses_bad_families)
{
	fam f;
	craft c = base(&f);
	f.type = 3;
	expect_craft_refused(&c, "unknown metric type 3");
	f.type = -1;
	expect_craft_refused(&c, "unknown metric type -1");
	c = base(&f);
	f.decimals = 16;
	expect_craft_refused(&c, "16 decimals");
	/* Columns that disagree with the samples. */
	c = base(&f);
	f.ni = 1;
	expect_craft_refused(&c, "2 samples with 0 float and 1 integer values");
	c = base(&f);
	const uint8_t mask = 1, mask2[] = {1, 0};
	const double fl = 0.5;
	f.mask = &mask;
	f.mask_len = 1;
	expect_craft_refused(&c, "the mask wants 1 and 1");
	f.ni = 1;
	f.floats = &fl;
	f.nf = 1;
	pb ok = craft_batch(&c); /* now consistent: accepted */
	cobs_batch *b = cobs_batch_new();
	cobs_wire_meta meta;
	cobs_error err;
	ck_assert_msg(cobs_wire_decode_batch(ok.d, ok.n, b, &meta, &err) == 0, "%s", err.msg);
	ck_assert_double_eq(b->families[0]->samples[0].value, 0.5);
	ck_assert_double_eq(b->families[0]->samples[1].value, 5);
	cobs_batch_free(b);
	free(ok.d);
	f.mask = mask2;
	f.mask_len = 2;
	expect_craft_refused(&c, "float mask has 2 bytes");
	/* The same family twice. */
	c = base(&f);
	fam two[2] = {f, f};
	c.fams = two;
	c.nfams = 2;
	expect_craft_refused(&c, "family m appears twice");
}
END_TEST

START_TEST(refuses_too_many_families_or_samples)
{
	fam f;
	craft c = base(&f);
	fam *many = calloc(COBS_WIRE_MAX_FAMILIES + 1, sizeof(*many));
	for (size_t i = 0; i <= COBS_WIRE_MAX_FAMILIES; i++)
		many[i] = f;
	c.fams = many;
	c.nfams = COBS_WIRE_MAX_FAMILIES + 1;
	expect_craft_refused(&c, "16385 families, over the limit of 16384");
	free(many);
	c = base(&f);
	int32_t *zeros = calloc(COBS_WIRE_MAX_SAMPLES + 1, sizeof(*zeros));
	f.deltas = zeros;
	f.n = COBS_WIRE_MAX_SAMPLES + 1;
	expect_craft_refused(&c, "1000001 samples, over the limit of 1000000");
	free(zeros);
}
END_TEST

/* A zstd frame (RFC 8878) of RLE blocks: size zero bytes from a few hundred bytes. */
static pb zstd_rle_frame(size_t size)
{
	pb z = {0};
	pb_raw(&z, "\x28\xb5\x2f\xfd", 4);
	pb_raw(&z, "\x00\x38", 2); /* no content size, window 2^17 */
	const size_t block = 128 * 1024;
	for (size_t done = 0; done < size;) {
		size_t n = size - done < block ? size - done : block;
		done += n;
		uint32_t h = (done == size ? 1u : 0u) | 1u << 1 | (uint32_t)n << 3;
		uint8_t hdr[4] = {(uint8_t)h, (uint8_t)(h >> 8), (uint8_t)(h >> 16), 0};
		pb_raw(&z, hdr, 4); /* header, then the byte to repeat */
	}
	return z;
}

START_TEST(refuses_decompression_bombs)
{
	/* 64 MiB of zeros in 2 KiB: honest about it, refused on the declared size. */
	pb z = zstd_rle_frame(64u << 20);
	ck_assert_uint_lt(z.n, 4096);
	pb e = envelope(1, 64u << 20, z.d, z.n);
	expect_refused(&e, "over the limit");
	free(e.d);
	/* Lying about it: inflating stops at raw_size. */
	e = envelope(1, 1000, z.d, z.n);
	expect_refused(&e, "inflates to more than raw_size 1000");
	free(e.d);
	e = envelope(1, COBS_WIRE_MAX_RAW_BYTES, z.d, z.n);
	expect_refused(&e, "inflates to more than raw_size");
	free(e.d);
	free(z.d);
	/* Inflating to less than declared. */
	z = zstd_rle_frame(100);
	e = envelope(1, 1000, z.d, z.n);
	expect_refused(&e, "inflates to 100 bytes, not raw_size 1000");
	free(e.d);
	free(z.d);

	/* deflate: a real 15 MiB stream of zeros (from a result body) with a lying raw_size. */
	size_t n = 15u << 20;
	uint8_t *zeros = calloc(n, 1);
	cobs_command_result r = {.id = 1, .kind = COBS_RESULT_PROFILE, .data = zeros, .len = n};
	cobs_wire_opts deflate = {COBS_WIRE_DEFLATE, 0};
	cobs_buf body = {0};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_encode_result(&r, &deflate, &body, &err), 0);
	ck_assert_uint_lt(body.len, 64 * 1024);
	/* Take the envelope apart: 0x08 compression, 0x10 raw_size, 0x1a payload, in order. */
	const uint8_t *p = (const uint8_t *)body.data;
	ck_assert_uint_eq(p[0], 0x08);
	ck_assert_uint_eq(p[2], 0x10);
	size_t i = 3, raw = 0, plen = 0;
	for (unsigned shift = 0;; shift += 7) {
		raw |= (size_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			break;
	}
	ck_assert_uint_eq(p[i++], 0x1a);
	for (unsigned shift = 0;; shift += 7) {
		plen |= (size_t)(p[i] & 0x7f) << shift;
		if (!(p[i++] & 0x80))
			break;
	}
	ck_assert_uint_eq(i + plen, body.len);
	ck_assert_uint_gt(raw, n); /* the profile and a few bytes of CommandResult */
	/* Honest, it opens (as a result: a batch would be refused for its contents). */
	cobs_command_result got;
	cobs_buf payload = {0};
	ck_assert_msg(cobs_wire_decode_result((const uint8_t *)body.data, body.len, &got, &payload,
	                                      &err) == 0,
	              "%s", err.msg);
	ck_assert_uint_eq(got.len, n);
	e = envelope(2, 4096, p + i, plen);
	expect_refused(&e, "inflates to more than raw_size 4096");
	free(e.d);
	e = envelope(2, raw - 1, p + i, plen);
	expect_refused(&e, "inflates to more than raw_size");
	free(e.d);
	e = envelope(2, raw + 1, p + i, plen);
	expect_refused(&e, "not raw_size");
	free(e.d);
	e = envelope(2, raw, p + i, plen - 10);
	expect_refused(&e, "truncated");
	free(e.d);
	pb trail = {0};
	pb_raw(&trail, p + i, plen);
	pb_raw(&trail, "junk", 4);
	e = envelope(2, raw, trail.d, trail.n);
	ck_assert_int_eq(cobs_wire_decode_result(e.d, e.n, &got, &payload, &err), -1);
	ck_assert_msg(strstr(err.msg, "after the end of the deflate stream"), "%s", err.msg);
	free(e.d);
	free(trail.d);
	cobs_buf_free(&payload);
	cobs_buf_free(&body);
	free(zeros);
}
END_TEST

/* ---- hostile bytes ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A decode that fails must say why and leave nothing; one that succeeds must re-encode. */
static void decode_anything(const uint8_t *data, size_t len, cobs_batch *b)
{
	cobs_wire_meta meta;
	cobs_error err = {{0}};
	int rc = cobs_wire_decode_batch(data, len, b, &meta, &err);
	ck_assert(rc == 0 || rc == -1);
	if (rc < 0) {
		ck_assert(err.msg[0] != '\0');
		ck_assert_uint_eq(b->nfamilies, 0);
		return;
	}
	cobs_buf out = {0};
	ck_assert_int_eq(cobs_wire_encode_batch(b, &meta, &opts_none, &out, &err), 0);
	cobs_buf_free(&out);
}

START_TEST(truncation_at_every_byte_is_refused)
{
	cobs_batch *b = tricky_batch(), *d = cobs_batch_new();
	const cobs_wire_opts opts[] = {
	        {COBS_WIRE_NONE, 0}, {COBS_WIRE_ZSTD, 0}, {COBS_WIRE_DEFLATE, 0}};
	for (size_t o = 0; o < 3; o++) {
		cobs_buf out = {0};
		cobs_error err;
		ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, &opts[o], &out, &err), 0);
		for (size_t n = 0; n < out.len; n++) {
			cobs_wire_meta meta;
			err.msg[0] = '\0';
			ck_assert_msg(cobs_wire_decode_batch((const uint8_t *)out.data, n, d, &meta,
			                                     &err) == -1,
			              "a prefix of %zu bytes of %zu was accepted", n, out.len);
			ck_assert(err.msg[0] != '\0');
		}
		cobs_buf_free(&out);
	}
	cobs_batch_free(b);
	cobs_batch_free(d);
}
END_TEST

START_TEST(random_bytes_never_crash)
{
	cobs_batch *d = cobs_batch_new();
	uint8_t buf[512];
	for (int i = 0; i < 10000; i++) {
		size_t n = next_rand() % sizeof(buf);
		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)next_rand();
		/* Half of them inside a valid envelope, so the batch parser sees them. */
		if (i % 2) {
			pb e = envelope(0, n, buf, n);
			decode_anything(e.d, e.n, d);
			free(e.d);
		} else {
			decode_anything(buf, n, d);
		}
	}
	cobs_batch_free(d);
}
END_TEST

START_TEST(mutated_batches_never_crash)
{
	cobs_batch *b = tricky_batch(), *d = cobs_batch_new();
	cobs_buf out = {0};
	cobs_error err;
	ck_assert_int_eq(cobs_wire_encode_batch(b, &test_meta, &opts_none, &out, &err), 0);
	uint8_t *m = malloc(out.len);
	for (int i = 0; i < 10000; i++) {
		memcpy(m, out.data, out.len);
		int flips = 1 + (int)(next_rand() % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = next_rand() % out.len;
			m[at] = next_rand() % 3 ? (uint8_t)next_rand() : (uint8_t)(m[at] ^ 0x80);
		}
		decode_anything(m, out.len, d);
	}
	free(m);
	cobs_buf_free(&out);
	cobs_batch_free(b);
	cobs_batch_free(d);
}
END_TEST

/* ---- commands, results, framing ---- */

static cobs_command profile_command(void)
{
	cobs_command c = {.id = 77, .deadline_ms = 1718000005000, .kind = COBS_COMMAND_PROFILE};
	c.profile = (cobs_profile_request){.duration_s = 30, .frequency_hz = 99, .pid = 0};
	snprintf(c.profile.namespace_, sizeof(c.profile.namespace_), "payments");
	snprintf(c.profile.pod, sizeof(c.profile.pod), "checkout-api-7d9f8b6c5d-x2k4q");
	snprintf(c.profile.pod_uid, sizeof(c.profile.pod_uid),
	         "5f0c6a1e-2b7d-4c39-9a51-0d6e2f8b7c44");
	return c;
}

static cobs_command echo_command(size_t n)
{
	cobs_command c = {.id = UINT64_MAX, .kind = COBS_COMMAND_ECHO, .echo_len = n};
	for (size_t i = 0; i < n; i++)
		c.echo[i] = (uint8_t)(i * 7);
	return c;
}

/* Three frames in one buffer: a profile command, a heartbeat, an echo command. */
static void three_frames(cobs_buf *out)
{
	cobs_error err;
	cobs_command p = profile_command(), e = echo_command(COBS_WIRE_MAX_ECHO);
	ck_assert_int_eq(cobs_wire_frame_command(&p, out, &err), 0);
	ck_assert_int_eq(cobs_wire_frame_heartbeat(-5, out), 0);
	ck_assert_int_eq(cobs_wire_frame_command(&e, out, &err), 0);
}

/* Field by field: the structs have padding that no comparison may read. */
static void same_command(const cobs_command *a, const cobs_command *b)
{
	ck_assert_uint_eq(a->id, b->id);
	ck_assert_int_eq(a->deadline_ms, b->deadline_ms);
	ck_assert_int_eq(a->kind, b->kind);
	ck_assert_uint_eq(a->profile.duration_s, b->profile.duration_s);
	ck_assert_uint_eq(a->profile.frequency_hz, b->profile.frequency_hz);
	ck_assert_str_eq(a->profile.namespace_, b->profile.namespace_);
	ck_assert_str_eq(a->profile.pod, b->profile.pod);
	ck_assert_str_eq(a->profile.pod_uid, b->profile.pod_uid);
	ck_assert_uint_eq(a->profile.pid, b->profile.pid);
	ck_assert_uint_eq(a->echo_len, b->echo_len);
	if (a->echo_len)
		ck_assert_mem_eq(a->echo, b->echo, a->echo_len);
}

static void check_three(const uint8_t *const *msg, const size_t *len)
{
	cobs_command c, want;
	int64_t hb;
	cobs_error err;
	ck_assert_int_eq(cobs_wire_decode_stream(msg[0], len[0], &c, &hb, &err),
	                 COBS_STREAM_COMMAND);
	want = profile_command();
	same_command(&c, &want);
	ck_assert_int_eq(cobs_wire_decode_stream(msg[1], len[1], &c, &hb, &err),
	                 COBS_STREAM_HEARTBEAT);
	ck_assert_int_eq(hb, -5);
	ck_assert_int_eq(cobs_wire_decode_stream(msg[2], len[2], &c, &hb, &err),
	                 COBS_STREAM_COMMAND);
	want = echo_command(COBS_WIRE_MAX_ECHO);
	same_command(&c, &want);
}

START_TEST(frames_split_at_every_byte)
{
	cobs_buf all = {0};
	three_frames(&all);
	const uint8_t *data = (const uint8_t *)all.data;
	for (size_t cut = 0; cut <= all.len; cut++) {
		cobs_deframer d;
		cobs_deframer_init(&d, 0);
		const uint8_t *msg[3];
		size_t len[3], got = 0;
		uint8_t *copies[3] = {0};
		cobs_error err;
		/* Messages are valid until the next feed: copy them out as they come. */
		const size_t parts[2][2] = {{0, cut}, {cut, all.len}};
		for (int p = 0; p < 2; p++) {
			ck_assert_int_eq(cobs_deframer_feed(&d, data + parts[p][0],
			                                    parts[p][1] - parts[p][0]),
			                 0);
			const uint8_t *m;
			size_t n;
			int r;
			while ((r = cobs_deframer_next(&d, &m, &n, &err)) == 1) {
				ck_assert_uint_lt(got, 3);
				copies[got] = malloc(n ? n : 1);
				memcpy(copies[got], m, n);
				msg[got] = copies[got];
				len[got++] = n;
			}
			ck_assert_int_eq(r, 0);
		}
		ck_assert_uint_eq(got, 3);
		check_three(msg, len);
		for (int k = 0; k < 3; k++)
			free(copies[k]);
		cobs_deframer_free(&d);
	}
	/* Byte by byte. */
	cobs_deframer d;
	cobs_deframer_init(&d, 0);
	size_t got = 0;
	cobs_error err;
	for (size_t i = 0; i < all.len; i++) {
		ck_assert_int_eq(cobs_deframer_feed(&d, data + i, 1), 0);
		const uint8_t *m;
		size_t n;
		while (cobs_deframer_next(&d, &m, &n, &err) == 1)
			got++;
	}
	ck_assert_uint_eq(got, 3);
	cobs_deframer_free(&d);
	cobs_buf_free(&all);
}
END_TEST

START_TEST(several_frames_in_one_feed)
{
	cobs_buf all = {0};
	three_frames(&all);
	three_frames(&all);
	ck_assert_int_eq(cobs_wire_frame(NULL, 0, &all), 0); /* an empty message */
	cobs_deframer d;
	cobs_deframer_init(&d, 0);
	ck_assert_int_eq(cobs_deframer_feed(&d, (const uint8_t *)all.data, all.len), 0);
	const uint8_t *msg[7];
	size_t len[7], got = 0;
	cobs_error err;
	while (got < 7 && cobs_deframer_next(&d, &msg[got], &len[got], &err) == 1)
		got++;
	ck_assert_uint_eq(got, 7);
	const uint8_t *m;
	size_t n;
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), 0);
	check_three(msg, len);
	check_three(msg + 3, len + 3);
	cobs_command c;
	int64_t hb;
	ck_assert_uint_eq(len[6], 0);
	ck_assert_int_eq(cobs_wire_decode_stream(msg[6], len[6], &c, &hb, &err), COBS_STREAM_OTHER);
	cobs_deframer_free(&d);
	cobs_buf_free(&all);
}
END_TEST

START_TEST(oversize_or_flagged_frames_are_refused)
{
	cobs_buf all = {0};
	uint8_t msg[101] = {0};
	ck_assert_int_eq(cobs_wire_frame(msg, 100, &all), 0);
	ck_assert_int_eq(cobs_wire_frame(msg, 101, &all), 0);
	cobs_deframer d;
	cobs_deframer_init(&d, 100);
	/* Only the 5-byte prefix of the big one is needed to refuse it. */
	ck_assert_int_eq(cobs_deframer_feed(&d, (const uint8_t *)all.data, 105 + 5), 0);
	const uint8_t *m;
	size_t n;
	cobs_error err;
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), 1);
	ck_assert_uint_eq(n, 100);
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "101 bytes is over the limit of 100"));
	/* It stays refused. */
	ck_assert_int_eq(cobs_deframer_feed(&d, (const uint8_t *)all.data, all.len), 0);
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), -1);
	cobs_deframer_free(&d);

	cobs_deframer_init(&d, 0);
	ck_assert_int_eq(cobs_deframer_feed(&d, (const uint8_t *)"\x01\x00\x00\x00\x00", 5), 0);
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "compressed frames"));
	cobs_deframer_free(&d);
	cobs_deframer_init(&d, 0);
	ck_assert_int_eq(cobs_deframer_feed(&d, (const uint8_t *)"\x00\xff\xff\xff\xff", 5), 0);
	ck_assert_int_eq(cobs_deframer_next(&d, &m, &n, &err), -1);
	cobs_deframer_free(&d);
	cobs_buf_free(&all);
}
END_TEST

START_TEST(commands_round_trip_and_unknown_kinds_keep_their_id)
{
	cobs_buf out = {0};
	cobs_error err;
	cobs_command c = echo_command(0), got;
	int64_t hb;
	ck_assert_int_eq(cobs_wire_frame_command(&c, &out, &err), 0);
	ck_assert_int_eq(cobs_wire_decode_stream((const uint8_t *)out.data + 5, out.len - 5, &got,
	                                         &hb, &err),
	                 COBS_STREAM_COMMAND);
	ck_assert_int_eq(got.kind, COBS_COMMAND_ECHO);
	ck_assert_uint_eq(got.echo_len, 0);
	ck_assert_uint_eq(got.id, UINT64_MAX);
	cobs_buf_clear(&out);

	/* Refused on the way out. */
	c = echo_command(0);
	c.echo_len = COBS_WIRE_MAX_ECHO + 1;
	ck_assert_int_eq(cobs_wire_frame_command(&c, &out, &err), -1);
	c = profile_command();
	memset(c.profile.pod, 'p', sizeof(c.profile.pod));
	ck_assert_int_eq(cobs_wire_frame_command(&c, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "pod does not fit"));
	c.kind = COBS_COMMAND_UNKNOWN;
	ck_assert_int_eq(cobs_wire_frame_command(&c, &out, &err), -1);
	ck_assert_uint_eq(out.len, 0);

	/* A kind from a newer server (field 12): decoded with its id, kind unknown. */
	pb cmd = {0}, inner = {0}, sm = {0};
	pb_uint(&cmd, 1, 99);
	pb_uint(&cmd, 2, 1000);
	pb_str(&inner, 1, "whatever");
	pb_msg(&cmd, 12, &inner);
	pb_msg(&sm, 1, &cmd);
	ck_assert_int_eq(cobs_wire_decode_stream(sm.d, sm.n, &got, &hb, &err), COBS_STREAM_COMMAND);
	ck_assert_int_eq(got.kind, COBS_COMMAND_UNKNOWN);
	ck_assert_uint_eq(got.id, 99);
	ck_assert_int_eq(got.deadline_ms, 1000);
	free(sm.d);
	free(inner.d);
	free(cmd.d);

	/* Refused on the way in: an echo too long, a pod name too long, garbage. */
	pb echo = {0}, payload = {0};
	static uint8_t big[COBS_WIRE_MAX_ECHO + 1];
	cmd = (pb){0};
	sm = (pb){0};
	pb_bytes(&payload, 1, big, sizeof(big));
	pb_uint(&cmd, 1, 5);
	pb_msg(&cmd, 11, &payload);
	pb_msg(&sm, 1, &cmd);
	ck_assert_int_eq(cobs_wire_decode_stream(sm.d, sm.n, &got, &hb, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "echo command"));
	free(sm.d);
	free(cmd.d);
	free(payload.d);
	free(echo.d);
	pb prof = {0};
	cmd = (pb){0};
	sm = (pb){0};
	char pod[300];
	memset(pod, 'p', 299);
	pod[299] = '\0';
	pb_str(&prof, 4, pod);
	pb_msg(&cmd, 10, &prof);
	pb_msg(&sm, 1, &cmd);
	ck_assert_int_eq(cobs_wire_decode_stream(sm.d, sm.n, &got, &hb, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "pod has 299 bytes"));
	free(sm.d);
	free(cmd.d);
	free(prof.d);
	ck_assert_int_eq(cobs_wire_decode_stream((const uint8_t *)"\xff\xff", 2, &got, &hb, &err),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed stream message"));
	cobs_buf_free(&out);
}
END_TEST

START_TEST(results_round_trip)
{
	const cobs_wire_opts opts[] = {
	        {COBS_WIRE_NONE, 0}, {COBS_WIRE_ZSTD, 0}, {COBS_WIRE_DEFLATE, 0}};
	static const char folded[] = "main;work;spin 97\nmain;idle 3\n";
	uint8_t binary[300];
	for (size_t i = 0; i < sizeof(binary); i++)
		binary[i] = (uint8_t)i;
	const cobs_command_result rs[] = {
	        {.id = 1,
	         .kind = COBS_RESULT_PROFILE,
	         .data = (const uint8_t *)folded,
	         .len = sizeof(folded) - 1},
	        {.id = 2,
	         .kind = COBS_RESULT_ERROR,
	         .data = (const uint8_t *)"no such pod",
	         .len = 11},
	        {.id = UINT64_MAX, .kind = COBS_RESULT_ECHO, .data = binary, .len = sizeof(binary)},
	        {.id = 3, .kind = COBS_RESULT_ECHO, .data = NULL, .len = 0},
	};
	for (size_t o = 0; o < 3; o++) {
		for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
			cobs_buf body = {0}, payload = {0};
			cobs_error err;
			cobs_command_result got;
			ck_assert_int_eq(cobs_wire_encode_result(&rs[i], &opts[o], &body, &err), 0);
			ck_assert_msg(cobs_wire_decode_result((const uint8_t *)body.data, body.len,
			                                      &got, &payload, &err) == 0,
			              "%s", err.msg);
			ck_assert_uint_eq(got.id, rs[i].id);
			ck_assert_int_eq(got.kind, rs[i].kind);
			ck_assert_uint_eq(got.len, rs[i].len);
			if (rs[i].len)
				ck_assert_mem_eq(got.data, rs[i].data, rs[i].len);
			ck_assert_uint_eq(got.data[got.len], 0); /* NUL after, for text */
			cobs_buf_free(&body);
			cobs_buf_free(&payload);
		}
	}
	cobs_buf body = {0}, payload = {0};
	cobs_error err;
	cobs_command_result bad = {.id = 1, .kind = (cobs_result_kind)9};
	ck_assert_int_eq(cobs_wire_encode_result(&bad, NULL, &body, &err), -1);
	/* No kind set, or garbage. */
	pb r = {0};
	pb_uint(&r, 1, 5);
	pb e = envelope(0, r.n, r.d, r.n);
	cobs_command_result got;
	ck_assert_int_eq(cobs_wire_decode_result(e.d, e.n, &got, &payload, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "carries no known kind"));
	ck_assert_int_eq(
	        cobs_wire_decode_result((const uint8_t *)"\x0a\xff", 2, &got, &payload, &err), -1);
	free(r.d);
	free(e.d);
	cobs_buf_free(&body);
	cobs_buf_free(&payload);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("batch");
	tcase_add_test(tc, round_trip_is_exact_for_every_compression);
	tcase_add_test(tc, integers_and_decimals_round_trip);
	tcase_add_test(tc, meta_round_trips);
	tcase_add_test(tc, decode_reuses_a_batch_and_appends_nothing_stale);
	tcase_add_test(tc, encoder_leaves_out_what_a_decoder_refuses);
	tcase_add_test(tc, encoder_refuses_a_bad_node_or_too_much);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_test(tc, handmade_baseline_is_accepted);
	tcase_add_test(tc, refuses_bad_envelopes);
	tcase_add_test(tc, refuses_bad_meta);
	tcase_add_test(tc, refuses_bad_names_and_strings);
	tcase_add_test(tc, refuses_indexes_out_of_range);
	tcase_add_test(tc, refuses_bad_label_sets);
	tcase_add_test(tc, refuses_too_many_labels);
	tcase_add_test(tc, refuses_bad_families);
	tcase_add_test(tc, refuses_too_many_families_or_samples);
	tcase_add_test(tc, refuses_decompression_bombs);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_add_test(tc, truncation_at_every_byte_is_refused);
	tcase_add_test(tc, random_bytes_never_crash);
	tcase_add_test(tc, mutated_batches_never_crash);
	suite_add_tcase(s, tc);
	tc = tcase_create("stream");
	tcase_add_test(tc, frames_split_at_every_byte);
	tcase_add_test(tc, several_frames_in_one_feed);
	tcase_add_test(tc, oversize_or_flagged_frames_are_refused);
	tcase_add_test(tc, commands_round_trip_and_unknown_kinds_keep_their_id);
	tcase_add_test(tc, results_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
