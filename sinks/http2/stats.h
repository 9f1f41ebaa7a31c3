/*
 * The http2 sink's counters, readable from outside through the exported
 * function cobs_http2_stats (dlsym it from http2.so): for tests and tools.
 * The same figures travel to the server as cobs_agent_spool_* and
 * cobs_agent_http2_* in the agent's own batch (see sink.c).
 */
#ifndef COBS_HTTP2_STATS_H
#define COBS_HTTP2_STATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cobs_http2_stats {
	uint64_t next_sequence; /* of the next body encoded */
	uint64_t spool_batches; /* waiting: memory, disk and the one in flight */
	uint64_t spool_mem_bytes;
	uint64_t spool_disk_bytes;
	uint64_t spool_dropped;  /* lost to the spool bounds (or damaged on disk) */
	uint64_t sent;           /* delivered (2xx) */
	uint64_t retries;        /* failed attempts that are retried */
	uint64_t rejected;       /* refused by the server (4xx): dropped */
	uint64_t encode_dropped; /* could not be encoded or a sample exceeds max_batch */
	uint64_t splits;         /* batches split to stay under max_batch */
	uint64_t connects;       /* sockets opened */
	uint64_t resets;         /* connections torn down after an error */
	bool connected;
	bool disk_attached;
	bool stream_open;
	uint64_t streams; /* command streams opened */
	uint64_t commands_received;
	uint64_t commands_answered; /* results the server took */
	uint64_t commands_refused;  /* answered with an error by the sink */
	uint64_t results_lost;
} cobs_http2_stats;

/* Fills *out from the state init returned. 0, or -1 on NULL. */
typedef int (*cobs_http2_stats_fn)(const void *state, cobs_http2_stats *out);
#define COBS_HTTP2_STATS_SYMBOL "cobs_http2_get_stats"

#endif
