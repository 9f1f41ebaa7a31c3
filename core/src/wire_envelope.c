/*
 * The Envelope around every body (compression and its bounds) and the
 * capped bump allocator protobuf-c unpacks into. See wire_internal.h.
 *
 * The decompression bomb is stopped twice: an envelope declaring more than
 * COBS_WIRE_MAX_RAW_BYTES is refused before anything is allocated, and the
 * payload is inflated into exactly raw_size bytes, so a payload that would
 * inflate further fails there instead of growing a buffer.
 */
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
/*
 * For ZSTD_c_useBlockSplitter, an "experimental" parameter: it changes how
 * blocks are cut, never the format, so any zstd decoder reads the result.
 * The header and the library come from one package (libzstd-dev and
 * libzstd1, same version); a library that does not know the parameter
 * refuses it and compression goes on without it.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "cobs.pb-c.h"
#include "wire_internal.h"

#define ZSTD_LEVEL_DEFAULT    3
#define DEFLATE_LEVEL_DEFAULT 6

/* ---- capped bump allocator ---- */

/* protobuf-c's structs hold nothing wider than 8 bytes. */
#define ARENA_ALIGN     8u
#define ARENA_CHUNK_MIN (64u * 1024u)
#define ARENA_CHUNK_MAX (8u * 1024u * 1024u)

typedef struct wire_chunk {
	struct wire_chunk *next;
	size_t used;
	size_t cap;
	alignas(ARENA_ALIGN) unsigned char data[];
} wire_chunk;

static void *arena_alloc(void *data, size_t size)
{
	wire_arena *a = data;
	size_t n = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n < size || n > a->cap - a->used) { /* n < size: the rounding wrapped */
		a->over = true;
		return NULL;
	}
	wire_chunk *c = a->chunks;
	if (!c || c->cap - c->used < n) {
		/* Chunks double up to a ceiling; a big array gets one of its own size. */
		size_t cap = c ? c->cap * 2 : ARENA_CHUNK_MIN;
		if (cap > ARENA_CHUNK_MAX)
			cap = ARENA_CHUNK_MAX;
		if (cap < n)
			cap = n;
		wire_chunk *nc = malloc(sizeof(*nc) + cap);
		if (!nc) {
			a->over = true;
			return NULL;
		}
		*nc = (wire_chunk){.cap = cap};
		if (c && c->cap - c->used >= ARENA_CHUNK_MIN / 4 && cap == n) {
			/* Keep filling the current chunk: the dedicated one goes behind it. */
			nc->next = c->next;
			c->next = nc;
			nc->used = n;
			a->used += n;
			return nc->data;
		}
		nc->next = c;
		a->chunks = c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	a->used += n;
	return p;
}

/* Everything goes at once in wire_arena_free. */
static void arena_free_one(void *data, void *p)
{
	(void)data;
	(void)p;
}

void wire_arena_init(wire_arena *a, size_t cap)
{
	*a = (wire_arena){.cap = cap};
	a->pc.alloc = arena_alloc;
	a->pc.free = arena_free_one;
	a->pc.allocator_data = a;
}

void wire_arena_free(wire_arena *a)
{
	wire_chunk *c = a->chunks;
	while (c) {
		wire_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->used = 0;
}

size_t wire_unpack_cap(size_t raw_len)
{
	/* Measured: the bench's batch unpacks to 2.8x its bytes (short strings,
	 * each with a 16-byte descriptor), a batch of 16k one-sample families
	 * to ~10x (a Family struct is ~130 bytes). 16x plus a constant keeps
	 * such honest batches, while a crafted one (empty submessages, ~70x)
	 * fails at 16 x 16 MiB at worst. raw_len is at most
	 * COBS_WIRE_MAX_RAW_BYTES (or a frame's size): no overflow. */
	return raw_len * 16 + (1u << 20);
}

/* ---- buffers ---- */

int wire_pack(const ProtobufCMessage *msg, cobs_buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (cobs_buf_reserve(out, n) < 0)
		return -1;
	size_t w = protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
	out->len += w;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- the envelope ---- */

static int compress_zstd(const uint8_t *raw, size_t n, int level, uint8_t **z, size_t *zlen,
                         cobs_error *err)
{
	size_t bound = ZSTD_compressBound(n);
	if (!(*z = malloc(bound)))
		return cobs_error_set(err, "out of memory compressing %zu bytes", n);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc) {
		free(*z);
		*z = NULL;
		return cobs_error_set(err, "out of memory compressing %zu bytes", n);
	}
	size_t r = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel,
	                                  level ? level : ZSTD_LEVEL_DEFAULT);
	/*
	 * A batch is text (the string table) followed by numbers (label sets,
	 * values): with one entropy table per 128 KiB block zstd codes both
	 * badly. Splitting blocks where the statistics change costs ~0.8 ms on
	 * a 10k-sample batch and saves ~10% (bench/wire_bench.c). Its error,
	 * if any, is ignored on purpose (see the include above).
	 */
	if (!ZSTD_isError(r))
		(void)ZSTD_CCtx_setParameter(cc, ZSTD_c_useBlockSplitter, ZSTD_ps_enable);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(cc, *z, bound, raw, n);
	ZSTD_freeCCtx(cc);
	if (ZSTD_isError(r)) {
		free(*z);
		*z = NULL;
		return cobs_error_set(err, "zstd: %s", ZSTD_getErrorName(r));
	}
	*zlen = r;
	return 0;
}

static int compress_deflate(const uint8_t *raw, size_t n, int level, uint8_t **z, size_t *zlen,
                            cobs_error *err)
{
	/* n is at most COBS_WIRE_MAX_RAW_BYTES, well inside zlib's uLong. */
	uLongf bound = compressBound((uLong)n);
	if (!(*z = malloc(bound)))
		return cobs_error_set(err, "out of memory compressing %zu bytes", n);
	int r = compress2(*z, &bound, raw, (uLong)n, level ? level : DEFLATE_LEVEL_DEFAULT);
	if (r != Z_OK) {
		free(*z);
		*z = NULL;
		return cobs_error_set(err, "deflate: %s",
		                      r == Z_STREAM_ERROR ? "bad compression level" : zError(r));
	}
	*zlen = bound;
	return 0;
}

int wire_seal(const ProtobufCMessage *msg, const cobs_wire_opts *opts, cobs_buf *out,
              cobs_error *err)
{
	cobs_wire_opts o = opts ? *opts : (cobs_wire_opts){0};
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (n > COBS_WIRE_MAX_RAW_BYTES)
		return cobs_error_set(err, "encoded message of %zu bytes is over the limit of %u",
		                      n, COBS_WIRE_MAX_RAW_BYTES);
	uint8_t *raw = malloc(n ? n : 1);
	if (!raw)
		return cobs_error_set(err, "out of memory encoding %zu bytes", n);
	protobuf_c_message_pack(msg, raw);

	Cobs__V1__Envelope env;
	cobs__v1__envelope__init(&env);
	env.raw_size = n;
	uint8_t *z = NULL;
	size_t zlen = 0;
	int rc = 0;
	switch (o.compression) {
	case COBS_WIRE_NONE:
		env.compression = COBS__V1__COMPRESSION__COMPRESSION_NONE;
		env.payload = (ProtobufCBinaryData){.len = n, .data = raw};
		break;
	case COBS_WIRE_ZSTD:
		env.compression = COBS__V1__COMPRESSION__COMPRESSION_ZSTD;
		rc = compress_zstd(raw, n, o.level, &z, &zlen, err);
		env.payload = (ProtobufCBinaryData){.len = zlen, .data = z};
		break;
	case COBS_WIRE_DEFLATE:
		env.compression = COBS__V1__COMPRESSION__COMPRESSION_DEFLATE;
		rc = compress_deflate(raw, n, o.level, &z, &zlen, err);
		env.payload = (ProtobufCBinaryData){.len = zlen, .data = z};
		break;
	default:
		rc = cobs_error_set(err, "unknown compression %d", (int)o.compression);
	}
	if (rc == 0 && wire_pack(&env.base, out) < 0)
		rc = cobs_error_set(err, "out of memory encoding %zu bytes", n);
	free(z);
	free(raw);
	return rc;
}

static int inflate_zstd(const ProtobufCBinaryData *p, uint8_t *dst, size_t raw_size,
                        cobs_error *err)
{
	/* Single-shot into a buffer of exactly raw_size: the output buffer is
	 * the window, so a frame's declared window size allocates nothing. */
	size_t r = ZSTD_decompress(dst, raw_size, p->data, p->len);
	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
			return cobs_error_set(
			        err, "zstd payload inflates to more than raw_size %zu", raw_size);
		return cobs_error_set(err, "zstd payload: %s", ZSTD_getErrorName(r));
	}
	if (r != raw_size)
		return cobs_error_set(err, "zstd payload inflates to %zu bytes, not raw_size %zu",
		                      r, raw_size);
	return 0;
}

/* dst has raw_size + 1 bytes. */
static int inflate_deflate(const ProtobufCBinaryData *p, uint8_t *dst, size_t raw_size,
                           cobs_error *err)
{
	if (p->len > UINT_MAX)
		return cobs_error_set(err, "deflate payload of %zu bytes is too large", p->len);
	z_stream zs = {0};
	if (inflateInit(&zs) != Z_OK)
		return cobs_error_set(err, "out of memory inflating");
	zs.next_in = p->data;
	zs.avail_in = (uInt)p->len;
	zs.next_out = dst;
	/*
	 * One byte more than raw_size (dst has it): with an exactly full buffer
	 * inflate stops before reading the stream's end and checksum, and an
	 * honest stream would fail. A stream longer than raw_size still fills
	 * the spare byte and is refused below. At most COBS_WIRE_MAX_RAW_BYTES + 1.
	 */
	zs.avail_out = (uInt)raw_size + 1;
	int r = inflate(&zs, Z_FINISH);
	int rc = 0;
	if (r == Z_STREAM_END) {
		if (zs.total_out > raw_size)
			rc = cobs_error_set(err,
			                    "deflate payload inflates to more than raw_size %zu",
			                    raw_size);
		else if (zs.total_out != raw_size)
			rc = cobs_error_set(
			        err, "deflate payload inflates to %lu bytes, not raw_size %zu",
			        zs.total_out, raw_size);
		else if (zs.avail_in)
			rc = cobs_error_set(err, "%u bytes after the end of the deflate stream",
			                    zs.avail_in);
	} else if (r == Z_MEM_ERROR) {
		rc = cobs_error_set(err, "out of memory inflating");
	} else if (r == Z_DATA_ERROR || r == Z_NEED_DICT) {
		rc = cobs_error_set(err, "deflate payload is corrupt: %s",
		                    zs.msg ? zs.msg : "needs a dictionary");
	} else if (zs.avail_out == 0) {
		rc = cobs_error_set(err, "deflate payload inflates to more than raw_size %zu",
		                    raw_size);
	} else {
		rc = cobs_error_set(err, "deflate payload is truncated");
	}
	inflateEnd(&zs);
	return rc;
}

int wire_open(const uint8_t *data, size_t len, wire_arena *a, const char *what, const uint8_t **msg,
              size_t *msg_len, uint8_t **owned, cobs_error *err)
{
	*owned = NULL;
	if (!data && len)
		return cobs_error_set(err, "no %s body", what);
	Cobs__V1__Envelope *env = cobs__v1__envelope__unpack(&a->pc, len, data);
	if (!env)
		return a->over ? cobs_error_set(err, "%s body of %zu bytes: out of memory", what,
		                                len)
		               : cobs_error_set(err,
		                                "malformed %s body: not a protobuf Envelope "
		                                "(truncated or corrupt)",
		                                what);
	if (env->raw_size > COBS_WIRE_MAX_RAW_BYTES)
		return cobs_error_set(
		        err, "%s of %llu bytes uncompressed is over the limit of %u bytes", what,
		        (unsigned long long)env->raw_size, COBS_WIRE_MAX_RAW_BYTES);
	size_t raw_size = (size_t)env->raw_size;
	const ProtobufCBinaryData *p = &env->payload;
	if (env->compression == COBS__V1__COMPRESSION__COMPRESSION_NONE) {
		if (p->len != raw_size)
			return cobs_error_set(
			        err, "uncompressed %s payload has %zu bytes, raw_size says %zu",
			        what, p->len, raw_size);
		*msg = p->data;
		*msg_len = p->len;
		return 0;
	}
	if (env->compression != COBS__V1__COMPRESSION__COMPRESSION_ZSTD &&
	    env->compression != COBS__V1__COMPRESSION__COMPRESSION_DEFLATE)
		return cobs_error_set(err, "unknown compression %d", (int)env->compression);
	uint8_t *dst = malloc(raw_size + 1); /* + 1: see inflate_deflate */
	if (!dst)
		return cobs_error_set(err, "out of memory inflating %zu bytes", raw_size);
	int rc = env->compression == COBS__V1__COMPRESSION__COMPRESSION_ZSTD
	                 ? inflate_zstd(p, dst, raw_size, err)
	                 : inflate_deflate(p, dst, raw_size, err);
	if (rc < 0) {
		free(dst);
		return -1;
	}
	*owned = dst;
	*msg = dst;
	*msg_len = raw_size;
	return 0;
}
