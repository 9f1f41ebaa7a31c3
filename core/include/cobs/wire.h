/* SPDX-License-Identifier: MIT */
/*
 * The agent <-> server wire format: a batch (with the agent's identity and
 * sequence number) to and from the protobuf bytes defined in
 * core/proto/cobs.proto, plus the length-prefixed framing of the command
 * stream (gRPC's 5-byte prefix: 1 flag byte, 4 bytes big-endian length) and
 * the command, result and heartbeat messages it carries.
 *
 * Shared by the http2 sink and the server so both speak exactly one format.
 * Callers never see protobuf-c types: everything crosses this header as the
 * batch model or the small structs below.
 *
 * Bodies (ingest, command result) are an Envelope: the message, compressed
 * with zstd by default, with its uncompressed size. The body describes its
 * own compression (no Content-Encoding header needed), so a batch spooled to
 * disk is a complete request body. A batch is self-contained: it carries its
 * own string and label-set tables, nothing is shared across batches.
 *
 * Decoding never trusts its input: every limit below is checked and a
 * refusal says why in err (the text of a 400), on any bytes whatsoever.
 */
#ifndef COBS_WIRE_H
#define COBS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>
#include <cobs/format.h>
#include <cobs/metric.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits a decoder enforces (and an encoder respects, see below). */
#define COBS_WIRE_MAX_RAW_BYTES (16u << 20) /* an uncompressed message: a bomb stops here */
#define COBS_WIRE_MAX_NODE      253u        /* node name bytes (a DNS name's bound) */
#define COBS_WIRE_MAX_NAME      1024u       /* metric and label name bytes */
#define COBS_WIRE_MAX_LABELS    32u         /* labels per sample */
#define COBS_WIRE_MAX_VALUE     4096u       /* label value bytes */
#define COBS_WIRE_MAX_HELP      4096u       /* help text bytes */
#define COBS_WIRE_MAX_UNIT      64u         /* unit bytes */
#define COBS_WIRE_MAX_FAMILIES  16384u      /* families per batch */
#define COBS_WIRE_MAX_SAMPLES   1000000u    /* samples per batch */
#define COBS_WIRE_MAX_FRAME     (16u << 20) /* command stream frame, the deframer's default */
#define COBS_WIRE_MAX_ECHO      4096u       /* echo command payload bytes */

/* Who sent a batch and where it stands in that agent's sequence. */
typedef struct cobs_wire_meta {
	char node[256]; /* 1-253 printable ASCII bytes, no space or '/' */
	char agent_version[32];
	char boot_id[64];  /* the agent process's random id: a restart changes it */
	uint64_t sequence; /* per boot id, from 1, no gaps unless batches were dropped */
	uint64_t interval_ms;
	uint64_t dropped; /* batches the agent dropped so far (spool bound hit) */
} cobs_wire_meta;

typedef enum cobs_wire_compression {
	COBS_WIRE_ZSTD = 0, /* the default: best size for the CPU (bench/wire_bench.c) */
	COBS_WIRE_NONE = 1,
	COBS_WIRE_DEFLATE = 2, /* zlib stream, for peers without zstd */
} cobs_wire_compression;

/* How to encode a body. NULL or zeroed options: zstd at its default level. */
typedef struct cobs_wire_opts {
	cobs_wire_compression compression;
	int level; /* 0: the algorithm's default (zstd 3, deflate 6) */
} cobs_wire_opts;

/*
 * Appends the encoded batch to out (the HTTP body of POST /api/v1/ingest).
 * The node, version and sequence come from meta; the timestamp and
 * monotonic time from b.
 *
 * What a decoder would refuse in one family or sample (a name that is not a
 * Prometheus name, more than COBS_WIRE_MAX_LABELS labels, a label value over
 * COBS_WIRE_MAX_VALUE, a duplicate label name, help or unit over their
 * bounds) is left out rather than costing the whole batch: the return value
 * counts the samples left out. Returns that count (>= 0), or -1 with err when
 * out of memory or the batch as a whole cannot be sent (bad node name, over
 * COBS_WIRE_MAX_SAMPLES samples or COBS_WIRE_MAX_FAMILIES families, over
 * COBS_WIRE_MAX_RAW_BYTES encoded); out is then unchanged.
 */
int cobs_wire_encode_batch(const cobs_batch *b, const cobs_wire_meta *meta,
                           const cobs_wire_opts *opts, cobs_buf *out, cobs_error *err);

/*
 * Decodes and validates a body into b (reset first) and meta; b->node,
 * b->timestamp_ms and b->monotonic_ns are set from the batch. Returns 0, or
 * -1 with err saying what is wrong (for the 400 reason): malformed or
 * truncated protobuf, an unknown compression, a size over
 * COBS_WIRE_MAX_RAW_BYTES, a bad node name, a bad metric or label name, too
 * many or too long labels, a string or label-set index out of range, an
 * unknown metric type, too many samples, ... On -1, b is left empty.
 *
 * Help and unit follow cobs_batch_family's rule: a batch object keeps the
 * help and unit it first saw for a name. Decode into a fresh batch (or one
 * per node) when those must be exactly the sender's.
 */
int cobs_wire_decode_batch(const uint8_t *data, size_t len, cobs_batch *b, cobs_wire_meta *meta,
                           cobs_error *err);

/* ---- commands: server -> agent on the command stream ---- */

typedef enum cobs_command_kind {
	COBS_COMMAND_UNKNOWN = 0, /* a kind this build does not know: answer with an error */
	COBS_COMMAND_PROFILE = 1,
	COBS_COMMAND_ECHO = 2,
} cobs_command_kind;

/* Profile a pod (namespace + pod, pod_uid when known) or one process (pid). */
typedef struct cobs_profile_request {
	uint32_t duration_s;   /* 0: the agent's default */
	uint32_t frequency_hz; /* 0: the agent's default */
	char namespace_[64];   /* Kubernetes bounds: 63 */
	char pod[254];         /* 253 */
	char pod_uid[64];
	uint32_t pid; /* 0: the pod is the target */
} cobs_profile_request;

typedef struct cobs_command {
	uint64_t id;
	int64_t deadline_ms; /* wall clock, ms since the epoch; 0: none */
	cobs_command_kind kind;
	cobs_profile_request profile;     /* kind PROFILE */
	uint8_t echo[COBS_WIRE_MAX_ECHO]; /* kind ECHO */
	size_t echo_len;
} cobs_command;

typedef enum cobs_result_kind {
	COBS_RESULT_PROFILE = 1, /* folded stacks text */
	COBS_RESULT_ERROR = 2,   /* why the command failed, for people */
	COBS_RESULT_ECHO = 3,    /* the echo payload, unchanged */
} cobs_result_kind;

/* The agent's answer to one command. */
typedef struct cobs_command_result {
	uint64_t id;
	cobs_result_kind kind;
	const uint8_t *data; /* ERROR: text, cut at a NUL byte */
	size_t len;
} cobs_command_result;

/*
 * Appends the encoded result to out (the HTTP body of POST
 * /api/v1/commands/{id}/result), an Envelope like a batch. opts as for a
 * batch (NULL: zstd). Returns 0, or -1 with err (out of memory, unknown
 * kind, over COBS_WIRE_MAX_RAW_BYTES).
 */
int cobs_wire_encode_result(const cobs_command_result *r, const cobs_wire_opts *opts, cobs_buf *out,
                            cobs_error *err);

/*
 * Decodes a result body into r; r->data points into payload (cleared first,
 * then holding the data and a NUL after it), so it lives as long as payload
 * is not changed. Returns 0, or -1 with err.
 */
int cobs_wire_decode_result(const uint8_t *data, size_t len, cobs_command_result *r,
                            cobs_buf *payload, cobs_error *err);

/* ---- the command stream: frames of StreamMessage ---- */

/* Appends one frame: the 5-byte prefix (flag 0, big-endian length), then msg. 0 or -1. */
int cobs_wire_frame(const uint8_t *msg, size_t len, cobs_buf *out);

/* Appends one frame carrying a command. Returns 0, or -1 with err. */
int cobs_wire_frame_command(const cobs_command *c, cobs_buf *out, cobs_error *err);

/* Appends one frame carrying a heartbeat. 0, or -1 when out of memory. */
int cobs_wire_frame_heartbeat(int64_t timestamp_ms, cobs_buf *out);

typedef enum cobs_stream_kind {
	COBS_STREAM_OTHER = 0, /* a message type from a newer server: ignore it */
	COBS_STREAM_COMMAND = 1,
	COBS_STREAM_HEARTBEAT = 2,
} cobs_stream_kind;

/*
 * Decodes one message the deframer handed out. Returns COBS_STREAM_COMMAND
 * (c filled; an unknown command kind gives kind COBS_COMMAND_UNKNOWN with
 * its id, to answer with an error), COBS_STREAM_HEARTBEAT (*heartbeat_ms
 * set), COBS_STREAM_OTHER, or -1 with err.
 */
int cobs_wire_decode_stream(const uint8_t *msg, size_t len, cobs_command *c, int64_t *heartbeat_ms,
                            cobs_error *err);

/*
 * Incremental deframer: feed bytes as they arrive, in pieces of any size;
 * take complete messages out. Fields are private.
 */
typedef struct cobs_deframer {
	uint8_t *buf;
	size_t len; /* bytes held */
	size_t off; /* start of the first message not yet handed out */
	size_t cap;
	size_t max;        /* largest message accepted */
	uint64_t bad_size; /* nonzero: the stream failed on a frame this large */
	int failed;        /* 0, 1 oversize frame, 2 unknown flag */
} cobs_deframer;

/* max_frame 0: COBS_WIRE_MAX_FRAME. */
void cobs_deframer_init(cobs_deframer *d, size_t max_frame);
void cobs_deframer_free(cobs_deframer *d);

/* Buffers len more bytes. 0, or -1 when out of memory. */
int cobs_deframer_feed(cobs_deframer *d, const uint8_t *data, size_t len);

/*
 * The next complete message: returns 1 with *msg / *len set (valid until the
 * next feed), 0 when more bytes are needed, or -1 with err when the stream
 * is unusable (a frame over the maximum size, or a flag byte other than 0:
 * compressed frames are not used). After -1 every call returns -1: drop the
 * connection.
 */
int cobs_deframer_next(cobs_deframer *d, const uint8_t **msg, size_t *len, cobs_error *err);

#ifdef __cplusplus
}
#endif
#endif
