/*
 * The spool: every encoded batch waits here, oldest first, until the server
 * took it. A bounded FIFO in memory, spilling its oldest entries to the disk
 * tier (spool_disk.h) when over spool_memory; without a disk tier, or when
 * the disk is full, the oldest batches are dropped and counted.
 *
 * Order: the logical queue is [head] + [disk] + [memory], oldest first. The
 * head is the one batch handed to the sender; it leaves the queue only when
 * done (delivered or rejected) and goes back to the front when its delivery
 * failed. Spilling always moves the oldest memory entries to the end of the
 * disk tier, and a head taken from memory is written to disk before
 * anything newer is, so disk always holds older batches than memory and the
 * order survives any mix of outage, spill and restart.
 */
#ifndef COBS_HTTP2_SPOOL_H
#define COBS_HTTP2_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>

#include "spool_disk.h"

typedef struct spool_entry {
	struct spool_entry *next;
	uint64_t seq;
	size_t len;
	uint8_t data[];
} spool_entry;

typedef enum spool_head_from {
	HEAD_NONE = 0,
	HEAD_MEMORY = 1, /* the entry left the memory FIFO */
	HEAD_DISK = 2,   /* a copy of the record at head_pos */
} spool_head_from;

typedef struct h2_spool {
	const char *who;
	uint64_t mem_limit;
	spool_entry *first, *last; /* the memory FIFO */
	uint64_t mem_count;
	uint64_t mem_bytes; /* FIFO plus a head taken from memory */
	sd_store *disk;     /* NULL: memory only */

	spool_entry *head;
	spool_head_from head_from;
	sd_pos head_pos;

	uint64_t dropped;       /* batches lost to the bounds (and damaged on disk) */
	uint64_t burst_dropped; /* in the current spell of drops, for its log line */
	uint64_t spill_errors;  /* disk writes that failed */
} h2_spool;

void spool_init(h2_spool *s, const char *who, uint64_t mem_limit);
/* Adds the disk tier (its leftovers go before what memory holds). 0, or -1 with err. */
int spool_attach_disk(h2_spool *s, const char *dir, uint64_t limit, cobs_error *err);

/* Appends a copy of one batch. 0, or -1 when out of memory (the batch is counted as dropped). */
int spool_push(h2_spool *s, uint64_t seq, const uint8_t *data, size_t len);

/* The oldest batch, kept as the head until spool_done or spool_release. NULL when empty. */
const spool_entry *spool_take(h2_spool *s);
/* The head was delivered (or rejected for good): it leaves the spool. */
void spool_done(h2_spool *s);
/* The head's delivery failed: it is the oldest batch again. */
void spool_release(h2_spool *s);

/*
 * Writes everything held in memory to the disk tier and syncs it (flush,
 * shutdown): the next run sends it first. Without a disk tier, returns the
 * number of batches that only memory holds (lost if the agent stops now).
 * Call with no head taken.
 */
uint64_t spool_persist(h2_spool *s);
void spool_free(h2_spool *s);

/* Batches held (head, disk, memory) and bytes per tier. */
uint64_t spool_batches(const h2_spool *s);
uint64_t spool_disk_bytes(const h2_spool *s);

#endif
