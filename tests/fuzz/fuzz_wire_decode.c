/*
 * libFuzzer target over everything that decodes bytes from the network:
 * the ingest body (envelope, decompression, batch, validation) above all,
 * and on the same input the command-stream message, the result body and
 * the deframer. A batch that decodes must re-encode with nothing left out
 * and decode again to the same thing: the validator and the encoder agree
 * on what is valid. Build with -DCOBS_FUZZ=ON (clang); seeds from
 * make_seeds (see CMakeLists.txt).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Both batches hold the same families, samples, labels and value bits. */
static void check_same(const cobs_batch *a, const cobs_batch *b)
{
	if (a->nfamilies != b->nfamilies)
		abort();
	for (size_t i = 0; i < a->nfamilies; i++) {
		const cobs_family *x = a->families[i], *y = b->families[i];
		if (strcmp(x->name, y->name) || strcmp(x->help, y->help) ||
		    strcmp(x->unit, y->unit) || x->type != y->type || x->nsamples != y->nsamples)
			abort();
		for (size_t j = 0; j < x->nsamples; j++) {
			const cobs_sample *s = &x->samples[j], *t = &y->samples[j];
			if (memcmp(&s->value, &t->value, sizeof(double)) ||
			    s->nlabels != t->nlabels)
				abort();
			for (size_t k = 0; k < s->nlabels; k++)
				if (strcmp(s->labels[k].name, t->labels[k].name) ||
				    strcmp(s->labels[k].value, t->labels[k].value))
					abort();
		}
	}
}

static void fuzz_batch(const uint8_t *data, size_t size)
{
	cobs_batch *b = cobs_batch_new(), *again = cobs_batch_new();
	cobs_wire_meta meta, meta2;
	cobs_error err;
	cobs_buf out = {0};
	if (!b || !again)
		abort();
	if (cobs_wire_decode_batch(data, size, b, &meta, &err) == 0) {
		static const cobs_wire_opts none = {COBS_WIRE_NONE, 0};
		if (cobs_wire_encode_batch(b, &meta, &none, &out, &err) != 0)
			abort();
		if (cobs_wire_decode_batch((const uint8_t *)out.data, out.len, again, &meta2, &err))
			abort();
		if (memcmp(&meta, &meta2, sizeof(meta)))
			abort();
		check_same(b, again);
	} else if (b->nfamilies || !err.msg[0]) {
		abort(); /* a refusal leaves the batch empty and says why */
	}
	cobs_buf_free(&out);
	cobs_batch_free(b);
	cobs_batch_free(again);
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
	cobs_command *c = malloc(sizeof(*c));
	int64_t hb;
	cobs_error err;
	if (!c)
		abort();
	int r = cobs_wire_decode_stream(data, size, c, &hb, &err);
	if (r == COBS_STREAM_COMMAND && c->kind != COBS_COMMAND_UNKNOWN) {
		/* What decodes re-encodes. */
		cobs_buf out = {0};
		if (cobs_wire_frame_command(c, &out, &err) != 0)
			abort();
		cobs_buf_free(&out);
	}
	free(c);

	cobs_command_result res;
	cobs_buf payload = {0};
	if (cobs_wire_decode_result(data, size, &res, &payload, &err) == 0 && res.data[res.len])
		abort(); /* the data is NUL-terminated */
	cobs_buf_free(&payload);

	/* The deframer, fed in two pieces at a point the input chooses. */
	cobs_deframer d;
	cobs_deframer_init(&d, 4096);
	size_t cut = size ? data[0] % (size + 1) : 0;
	const uint8_t *m;
	size_t n;
	if (cobs_deframer_feed(&d, data, cut) != 0)
		abort();
	while (cobs_deframer_next(&d, &m, &n, &err) == 1)
		if (n > 4096)
			abort();
	if (cobs_deframer_feed(&d, data + cut, size - cut) != 0)
		abort();
	while (cobs_deframer_next(&d, &m, &n, &err) == 1)
		if (n > 4096)
			abort();
	cobs_deframer_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_batch(data, size);
	fuzz_stream(data, size);
	return 0;
}
