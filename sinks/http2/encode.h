/*
 * Turning a batch into request bodies: the wire meta (node, agent version,
 * this run's boot id, the sequence number, the interval, the drop count),
 * and splitting a batch whose body would exceed max_batch into several,
 * each with its own sequence number, so no body is ever too large to send.
 *
 * A batch naming another node than the agent's (batch->node: the fake nodes
 * of --simulate) is sent under that node's own identity (peers.h): its own
 * boot id, sequence and interval. Batches of the agent's own node, or with
 * no node, are encoded exactly as before.
 */
#ifndef COBS_HTTP2_ENCODE_H
#define COBS_HTTP2_ENCODE_H

#include <stdint.h>

#include <cobs/format.h>
#include <cobs/metric.h>
#include <cobs/wire.h>

#include "peers.h"

#define H2_MAX_SOURCES 64

typedef struct h2_encoder {
	const char *who;
	cobs_wire_meta meta;
	uint64_t next_seq; /* the next batch's sequence number, from 1 */
	uint64_t max_batch;
	cobs_buf buf;
	struct {
		char name[64];
		uint64_t last_ns;
	} sources[H2_MAX_SOURCES]; /* for the interval: the time between a plugin's batches */
	size_t nsources;
	h2_peers peers; /* other nodes' identities, created on their first batch */

	uint64_t splits;  /* batches sent as several bodies */
	uint64_t too_big; /* batches (or parts) dropped: one sample over max_batch */
	uint64_t failed;  /* batches that could not be encoded (out of memory) */
	uint64_t omitted; /* samples the encoder left out (invalid names, labels) */
} h2_encoder;

/* Called once per body, in sequence order. 0, or -1 (the body was not kept). */
typedef int (*h2_emit_fn)(void *arg, uint64_t seq, const uint8_t *body, size_t len);

/* 0, or -1 with err when the node name cannot be sent. */
int h2_encoder_init(h2_encoder *e, const char *who, const char *node, uint64_t max_batch,
                    cobs_error *err);
void h2_encoder_free(h2_encoder *e);

/* Encodes b with meta.dropped = dropped and hands each body to emit. 0, or -1 when
 * (part of) the batch was dropped. */
int h2_encode(h2_encoder *e, const cobs_batch *b, uint64_t dropped, h2_emit_fn emit, void *arg);

#endif
