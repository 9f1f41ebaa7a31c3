/* SPDX-License-Identifier: MIT */
/*
 * The server's hashes: 64-bit, seeded with a per-process random value.
 * Label values and series keys come from the network, and a fixed hash
 * would let a client pile every key into one probe chain of a table.
 */
#ifndef COBS_SERVER_HASH_H
#define COBS_SERVER_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Chain them by passing the previous result as h (start with 0). */
uint64_t cobs_hash_bytes(const void *p, size_t n, uint64_t h);
uint64_t cobs_hash_str(const char *s, uint64_t h);
uint64_t cobs_hash_u64(uint64_t v);

#endif
