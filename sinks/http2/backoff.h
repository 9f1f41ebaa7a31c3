/*
 * Exponential backoff with jitter, shared by the batch sender, the command
 * stream and result delivery, plus the sink's small random source (boot id,
 * jitter). Jitter keeps a fleet of agents that lost the same server from
 * reconnecting in lockstep when it comes back.
 */
#ifndef COBS_HTTP2_BACKOFF_H
#define COBS_HTTP2_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

typedef struct h2_backoff {
	uint64_t min_ms, max_ms;
	uint64_t cur_ms;   /* the ceiling of the next delay */
	uint64_t attempts; /* failures since the last reset */
} h2_backoff;

void h2_backoff_init(h2_backoff *b, uint64_t min_ms, uint64_t max_ms);
/* The delay before the next attempt ("equal jitter": between cur/2 and cur), then doubles cur. */
uint64_t h2_backoff_next(h2_backoff *b);
/* After a success: the next failure waits about min again. */
void h2_backoff_reset(h2_backoff *b);

/* Fills buf with random bytes (getrandom, else /dev/urandom, else clock-seeded). */
void h2_random_bytes(void *buf, size_t n);
/* A uniformly distributed value in [0, n] (n < 2^63). */
uint64_t h2_random_below(uint64_t n);

#endif
