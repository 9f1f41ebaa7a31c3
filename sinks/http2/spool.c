/*
 * The ordered, bounded spool (see spool.h): the memory FIFO, the head the
 * sender holds, spilling to the disk tier and counting what the bounds
 * drop, with one log line when a spell of drops starts and one, with the
 * count, when delivery works again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/log.h>

#include "spool.h"

void spool_init(h2_spool *s, const char *who, uint64_t mem_limit)
{
	memset(s, 0, sizeof(*s));
	s->who = who;
	s->mem_limit = mem_limit;
}

int spool_attach_disk(h2_spool *s, const char *dir, uint64_t limit, cobs_error *err)
{
	s->disk = sd_open(dir, limit, s->who, err);
	return s->disk ? 0 : -1;
}

static void note_drops(h2_spool *s, uint64_t n)
{
	if (!n)
		return;
	if (!s->burst_dropped)
		cobs_log(COBS_LOG_WARN, s->who,
		         "spool full: dropping the oldest batches (counted in "
		         "cobs_agent_spool_dropped_total); the server has been unreachable for "
		         "longer than spool_memory%s holds",
		         s->disk ? " and spool_disk" : "");
	s->burst_dropped += n;
	s->dropped += n;
}

static void end_burst(h2_spool *s)
{
	if (!s->burst_dropped)
		return;
	cobs_log(COBS_LOG_INFO, s->who,
	         "spool: %" PRIu64 " oldest batches were dropped in that spell (%" PRIu64
	         " since start)",
	         s->burst_dropped, s->dropped);
	s->burst_dropped = 0;
}

static void note_spill_error(h2_spool *s, int err)
{
	if (s->spill_errors++ == 0 || !s->burst_dropped)
		cobs_log(COBS_LOG_WARN, s->who, "spool: cannot write to spool_dir: %s",
		         strerror(err));
}

/* Moves the oldest memory entry e (already unlinked) to the end of the disk tier. */
static void spill(h2_spool *s, spool_entry *e)
{
	uint64_t dropped = 0;
	sd_pos pos;
	/* A head taken from memory is older than e: it goes to disk first, or the
	 * order would break if its delivery failed and it came back. */
	if (s->head_from == HEAD_MEMORY) {
		if (sd_append(s->disk, s->head->seq, s->head->data, s->head->len, &pos, &dropped) <
		    0) {
			note_spill_error(s, errno);
			note_drops(s, dropped + 1); /* e, since it cannot go behind the head */
			free(e);
			return;
		}
		s->head_from = HEAD_DISK;
		s->head_pos = pos;
		s->mem_bytes -= s->head->len;
	}
	if (sd_append(s->disk, e->seq, e->data, e->len, &pos, &dropped) < 0) {
		note_spill_error(s, errno);
		dropped++;
	}
	note_drops(s, dropped);
	free(e);
}

static spool_entry *pop_first(h2_spool *s)
{
	spool_entry *e = s->first;
	s->first = e->next;
	if (!s->first)
		s->last = NULL;
	e->next = NULL;
	s->mem_count--;
	s->mem_bytes -= e->len;
	return e;
}

int spool_push(h2_spool *s, uint64_t seq, const uint8_t *data, size_t len)
{
	spool_entry *e = malloc(sizeof(*e) + (len ? len : 1));
	if (!e) {
		note_drops(s, 1);
		return -1;
	}
	e->next = NULL;
	e->seq = seq;
	e->len = len;
	memcpy(e->data, data, len);
	if (s->last)
		s->last->next = e;
	else
		s->first = e;
	s->last = e;
	s->mem_count++;
	s->mem_bytes += len;
	while (s->mem_bytes > s->mem_limit && s->first) {
		spool_entry *old = pop_first(s);
		if (s->disk) {
			spill(s, old);
		} else {
			free(old);
			note_drops(s, 1);
		}
	}
	return 0;
}

const spool_entry *spool_take(h2_spool *s)
{
	if (s->head)
		return s->head;
	while (s->disk && sd_pending(s->disk)) {
		uint8_t *data;
		size_t len;
		uint64_t seq, dropped = 0;
		sd_pos pos;
		int rc = sd_next(s->disk, &data, &len, &seq, &pos, &dropped);
		note_drops(s, dropped);
		if (rc < 0)
			return NULL; /* out of memory: try again later */
		if (rc == 0)
			break;
		spool_entry *e = malloc(sizeof(*e) + (len ? len : 1));
		if (!e) {
			free(data);
			sd_unread(s->disk, &pos);
			return NULL;
		}
		e->next = NULL;
		e->seq = seq;
		e->len = len;
		memcpy(e->data, data, len);
		free(data);
		s->head = e;
		s->head_from = HEAD_DISK;
		s->head_pos = pos;
		return e;
	}
	if (!s->first)
		return NULL;
	spool_entry *e = pop_first(s);
	s->mem_bytes += e->len; /* still held in memory, as the head */
	s->head = e;
	s->head_from = HEAD_MEMORY;
	return e;
}

void spool_done(h2_spool *s)
{
	if (!s->head)
		return;
	if (s->head_from == HEAD_DISK)
		sd_consume(s->disk, &s->head_pos);
	else
		s->mem_bytes -= s->head->len;
	free(s->head);
	s->head = NULL;
	s->head_from = HEAD_NONE;
	end_burst(s); /* delivery works again: the spell of drops is over */
}

void spool_release(h2_spool *s)
{
	spool_entry *e = s->head;
	if (!e)
		return;
	if (s->head_from == HEAD_DISK) {
		/* The disk copy is handed out again; a bound may have deleted it meanwhile. */
		if (sd_unread(s->disk, &s->head_pos) < 0)
			note_drops(s, 1);
		free(e);
	} else {
		/* Taken from memory, so nothing is on disk: it is simply first again. */
		s->mem_bytes -= e->len;
		e->next = s->first;
		s->first = e;
		if (!s->last)
			s->last = e;
		s->mem_count++;
		s->mem_bytes += e->len;
	}
	s->head = NULL;
	s->head_from = HEAD_NONE;
}

uint64_t spool_persist(h2_spool *s)
{
	if (!s->disk)
		return s->mem_count;
	while (s->first)
		spill(s, pop_first(s));
	if (sd_sync(s->disk) < 0)
		cobs_log(COBS_LOG_WARN, s->who, "spool: cannot sync spool_dir: %s",
		         strerror(errno));
	return 0;
}

void spool_free(h2_spool *s)
{
	while (s->first)
		free(pop_first(s));
	free(s->head);
	s->head = NULL;
	sd_close(s->disk);
	s->disk = NULL;
}

uint64_t spool_batches(const h2_spool *s)
{
	return (s->head ? 1 : 0) + s->mem_count + (s->disk ? sd_pending(s->disk) : 0);
}

uint64_t spool_disk_bytes(const h2_spool *s)
{
	return s->disk ? sd_bytes(s->disk) : 0;
}
