/* SPDX-License-Identifier: MIT */
/*
 * The server's own counters, bumped on both threads (the h2o thread refuses
 * oversized and unauthorized requests, the worker decodes and applies), so
 * they are C11 atomics with relaxed ordering: each is a tally, nothing is
 * ordered by them. Rendered on /metrics as cobs_server_*.
 */
#ifndef COBS_SERVER_STATS_H
#define COBS_SERVER_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef enum cobs_ingest_result {
	COBS_INGEST_OK = 0,
	COBS_INGEST_BAD,          /* 400: the body did not decode or validate */
	COBS_INGEST_UNAUTHORIZED, /* 401 */
	COBS_INGEST_TOO_LARGE,    /* 413 */
	COBS_INGEST_DUPLICATE,    /* 204 without applying: a resend */
	COBS_INGEST_OVERLOADED,   /* 503: the worker's queue is full */
	COBS_INGEST_RESULTS
} cobs_ingest_result;

typedef struct cobs_srv_stats {
	atomic_uint_fast64_t ingest[COBS_INGEST_RESULTS];
	atomic_uint_fast64_t ingest_bytes;   /* request bodies received on /api/v1/ingest */
	atomic_uint_fast64_t ingest_samples; /* samples applied */
	atomic_uint_fast64_t decode_errors;  /* bodies cobs_wire_decode_batch refused */
	atomic_uint_fast64_t history_refused;
	atomic_uint_fast64_t streams;           /* command streams open now */
	atomic_uint_fast64_t commands_created;  /* accepted by POST /api/v1/commands */
	atomic_uint_fast64_t commands_rejected; /* 409: no stream for the node */
	atomic_uint_fast64_t worker_tick_ms; /* monotonic ms of the worker's last timer: liveness */
} cobs_srv_stats;

const char *cobs_ingest_result_name(cobs_ingest_result r);

static inline void cobs_stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t cobs_stat_get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* The server's monotonic clock in ms (CLOCK_MONOTONIC), and the wall clock. */
uint64_t cobs_now_ms(void);
int64_t cobs_wall_ms(void);

#endif
