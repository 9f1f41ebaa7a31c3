/*
 * What the wire files share and nobody else needs: a capped bump allocator
 * for protobuf-c's unpack, the Envelope (compression) on both sides, and
 * packing a protobuf-c message onto a cobs_buf.
 */
#ifndef COBS_WIRE_INTERNAL_H
#define COBS_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <cobs/wire.h>

/*
 * protobuf-c allocates every repeated field, bytes value and submessage on
 * its own; a bump allocator makes unpack one allocation per chunk and the
 * free a single walk. It also caps the total, because the unpacked form can
 * be many times the wire bytes (an empty submessage is 2 bytes on the wire
 * and a whole struct in memory): past the cap unpack fails and `over` tells
 * the caller it was size, not shape.
 */
typedef struct wire_arena {
	ProtobufCAllocator pc; /* give &a->pc to unpack */
	struct wire_chunk *chunks;
	size_t used; /* bytes handed out */
	size_t cap;  /* the most it may hand out */
	bool over;   /* an allocation was refused for the cap (or by malloc) */
} wire_arena;

void wire_arena_init(wire_arena *a, size_t cap);
void wire_arena_free(wire_arena *a);

/*
 * The cap for unpacking raw_len bytes of message: generous for any real
 * batch (measured at 3x to 10x), far below what a crafted message could
 * demand.
 */
size_t wire_unpack_cap(size_t raw_len);

/*
 * Opens an Envelope body: *msg / *msg_len is the message inside, either a
 * pointer into the envelope's unpacked payload (no compression) or into a
 * malloc'd buffer returned in *owned (free it; NULL otherwise). The
 * envelope itself is unpacked into a (which must outlive *msg). what names
 * the message for errors ("batch", "result"). Returns 0, or -1 with err.
 */
int wire_open(const uint8_t *data, size_t len, wire_arena *a, const char *what, const uint8_t **msg,
              size_t *msg_len, uint8_t **owned, cobs_error *err);

/* Packs msg, compresses it as opts say and appends the Envelope to out. 0 or -1 with err. */
int wire_seal(const ProtobufCMessage *msg, const cobs_wire_opts *opts, cobs_buf *out,
              cobs_error *err);

/* Appends msg packed to out. 0, or -1 when out of memory. */
int wire_pack(const ProtobufCMessage *msg, cobs_buf *out);

#endif
