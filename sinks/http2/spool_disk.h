/*
 * The disk tier of the spool: batches that did not fit in memory, kept in
 * order in append-only segment files under spool_dir, so a server outage
 * longer than the memory bound, or an agent restart, loses nothing.
 *
 * Layout of spool_dir:
 *   lock                      flock'd while an agent uses the directory
 *   cursor                    where delivery stands: (segment, offset)
 *   0000000000000001.seg ...  segments, oldest first by number
 *
 * A segment is a 16-byte header ("COBSSPL\0", u32 version, u32 0) followed
 * by records: a 24-byte header (u32 magic, u32 length, u64 sequence, u32
 * CRC-32 of the payload, u32 CRC-32 of the first 20 header bytes, all
 * little-endian) and the payload (one encoded request body). Records are
 * only ever appended; a crash can leave a torn last record, which the scan
 * at open ignores (and cuts off). A record whose payload fails its CRC at
 * read time is skipped and counted as dropped.
 *
 * Delivered records are not rewritten: the cursor file says how far
 * delivery got, and a segment is deleted once everything in it is
 * delivered. The bound counts whole files; to make room the oldest segment
 * goes, and its undelivered records are counted as dropped.
 *
 * Durability: segments are fdatasync'd when sealed and at sync (flush and
 * shutdown), not per record: a record written with write() survives a crash
 * of the agent (it is in the page cache); only a power loss can take the
 * last unsynced records, and then the CRCs keep garbage out. The cursor is
 * rewritten in place per delivery without sync: losing it resends a few
 * delivered batches, which (boot id, sequence) lets the server recognise.
 */
#ifndef COBS_HTTP2_SPOOL_DISK_H
#define COBS_HTTP2_SPOOL_DISK_H

#include <stddef.h>
#include <stdint.h>

#include <cobs/config.h>

typedef struct sd_store sd_store;

/* Where a record lies: its segment, its offset, the offset after it. */
typedef struct sd_pos {
	uint64_t seg, off, end;
} sd_pos;

/*
 * Opens (creating if needed, one level) and locks dir, scans the segments
 * left by an earlier run. limit bounds the bytes of all segment files.
 * who names the sink in log lines. NULL with err (directory unusable or
 * locked by another agent).
 */
sd_store *sd_open(const char *dir, uint64_t limit, const char *who, cobs_error *err);
/* Syncs, unlocks and frees. Safe on NULL. */
void sd_close(sd_store *d);

/*
 * Appends a record. To stay under the bound the oldest segments are deleted
 * first; *dropped is increased by the undelivered records they held. 0 with
 * *pos set, or -1 (errno: EFBIG larger than the bound, or the write's
 * error); the record is then not stored.
 */
int sd_append(sd_store *d, uint64_t seq, const uint8_t *data, size_t len, sd_pos *pos,
              uint64_t *dropped);

/*
 * The oldest record not yet handed out: 1 with *data (malloc'd, the
 * caller frees), *len, *seq, *pos; 0 when there is none; -1 when out of
 * memory. Unreadable records are skipped, counted in *dropped.
 */
int sd_next(sd_store *d, uint8_t **data, size_t *len, uint64_t *seq, sd_pos *pos,
            uint64_t *dropped);
/* Hands the record at pos out again next time (its delivery failed). 0, or -1 if it was
 * deleted meanwhile to honour the bound (then it is lost: count it). */
int sd_unread(sd_store *d, const sd_pos *pos);
/* The record at pos (the oldest) was delivered: moves the cursor, deletes spent segments. */
void sd_consume(sd_store *d, const sd_pos *pos);

/* fdatasync of the segment being written and the cursor. 0 or -1. */
int sd_sync(sd_store *d);

/* Records stored and not handed out, and the bytes of all segment files. */
uint64_t sd_pending(const sd_store *d);
uint64_t sd_bytes(const sd_store *d);

#endif
