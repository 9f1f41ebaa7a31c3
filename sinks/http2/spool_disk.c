/*
 * The disk tier of the spool: segment files, the cursor, the scan at open
 * and the bound. See spool_disk.h for the format and why it is crash-safe.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <cobs/log.h>

#include "spool_disk.h"

#define SEG_MAGIC      "COBSSPL" /* 7 bytes and its NUL: 8 */
#define SEG_VERSION    1u
#define SEG_HDR        16u
#define REC_MAGIC      0x31525343u /* "CSR1" */
#define REC_HDR        24u
#define CURSOR_MAGIC   0x31525543u /* "CUR1" */
#define CURSOR_LEN     24u
#define MAX_RECORD     (64u << 20) /* larger than any body the encoder makes */
#define SEG_TARGET_MAX (16u << 20)
#define NAME_LEN       32

typedef struct segment {
	uint64_t num;
	uint64_t size;     /* bytes of the file (header and valid records) */
	uint64_t records;  /* valid records in it */
	uint64_t handed;   /* records handed out: delivered, or in flight */
	uint64_t read_off; /* offset of the next record to hand out */
} segment;

struct sd_store {
	char *who;
	uint64_t limit;
	uint64_t target; /* a segment is sealed past this: the bound drops this much at once */
	int dirfd, lockfd, cursorfd;
	segment *segs; /* oldest first */
	size_t nsegs, cap;
	int wfd; /* the last segment, open for appending; -1 when none is */
	uint64_t next_num;
	uint64_t bytes;   /* of all segment files */
	uint64_t pending; /* records not handed out */
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (n) {
		uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
		c = crc32(c, p, chunk);
		p += chunk;
		n -= chunk;
	}
	return (uint32_t)c;
}

static const char *seg_name(char *buf, uint64_t num)
{
	snprintf(buf, NAME_LEN, "%016" PRIx64 ".seg", num);
	return buf;
}

/* Whole reads at an offset, through short reads. 0, or -1 (errno; EIO at a short file). */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* A record header's fields, when it is one. */
static int parse_rec_header(const uint8_t *h, uint32_t *len, uint64_t *seq, uint32_t *pcrc)
{
	if (get32(h) != REC_MAGIC || get32(h + 20) != crc(h, 20))
		return -1;
	*len = get32(h + 4);
	*seq = get64(h + 8);
	*pcrc = get32(h + 16);
	return *len <= MAX_RECORD ? 0 : -1;
}

static void write_cursor(sd_store *d, uint64_t seg, uint64_t off)
{
	uint8_t b[CURSOR_LEN];
	put32(b, CURSOR_MAGIC);
	put64(b + 8, seg);
	put64(b + 16, off);
	put32(b + 4, crc(b + 8, 16));
	/* 24 bytes at offset 0: one sector, so in practice never torn; if it were,
	 * the CRC makes the next start resend from the oldest segment instead. */
	if (pwrite(d->cursorfd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		cobs_log(COBS_LOG_WARN, d->who,
		         "spool: cannot update the cursor (%s); a restart may resend batches",
		         strerror(errno));
}

static int read_cursor(sd_store *d, uint64_t *seg, uint64_t *off)
{
	uint8_t b[CURSOR_LEN];
	*seg = 0;
	*off = 0;
	if (pread_all(d->cursorfd, b, sizeof(b), 0) < 0)
		return -1;
	if (get32(b) != CURSOR_MAGIC || get32(b + 4) != crc(b + 8, 16))
		return -1;
	*seg = get64(b + 8);
	*off = get64(b + 16);
	return 0;
}

static int add_segment(sd_store *d, const segment *s)
{
	if (d->nsegs == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		segment *n = realloc(d->segs, cap * sizeof(*n));
		if (!n)
			return -1;
		d->segs = n;
		d->cap = cap;
	}
	d->segs[d->nsegs++] = *s;
	d->bytes += s->size;
	d->pending += s->records - s->handed;
	return 0;
}

/* Removes segs[i] from the list and the disk; its undelivered records are lost. */
static void remove_segment(sd_store *d, size_t i, uint64_t *dropped)
{
	segment *s = &d->segs[i];
	char name[NAME_LEN];
	uint64_t lost = s->records - s->handed;
	if (dropped)
		*dropped += lost;
	d->pending -= lost;
	d->bytes -= s->size;
	if (i == d->nsegs - 1 && d->wfd >= 0) {
		close(d->wfd);
		d->wfd = -1;
	}
	if (unlinkat(d->dirfd, seg_name(name, s->num), 0) < 0 && errno != ENOENT)
		cobs_log(COBS_LOG_WARN, d->who, "spool: cannot delete %s: %s", name,
		         strerror(errno));
	memmove(s, s + 1, (d->nsegs - i - 1) * sizeof(*s));
	d->nsegs--;
}

/*
 * Reads what an earlier run left in segment num: walks the record headers
 * (payloads are checked when read), ignores and cuts off a torn tail, and
 * skips what the cursor says was delivered. 0, or -1 when out of memory.
 */
static int scan_segment(sd_store *d, uint64_t num, uint64_t cursor_seg, uint64_t cursor_off)
{
	char name[NAME_LEN];
	seg_name(name, num);
	int fd = openat(d->dirfd, name, O_RDWR | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		cobs_log(COBS_LOG_WARN, d->who, "spool: cannot open %s: %s; skipped", name,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint8_t h[REC_HDR];
	if (size < SEG_HDR || pread_all(fd, h, SEG_HDR, 0) < 0 ||
	    memcmp(h, SEG_MAGIC, sizeof(SEG_MAGIC)) != 0 || get32(h + 8) != SEG_VERSION) {
		if (size > 0)
			cobs_log(
			        COBS_LOG_WARN, d->who,
			        "spool: %s is not a spool segment (or its header is torn); deleted",
			        name);
		close(fd);
		unlinkat(d->dirfd, name, 0);
		return 0;
	}
	segment s = {.num = num, .read_off = SEG_HDR};
	bool want_cursor = num == cursor_seg && cursor_off > SEG_HDR, found_cursor = false;
	uint64_t off = SEG_HDR;
	while (off + REC_HDR <= size) {
		uint32_t len, pcrc;
		uint64_t seq;
		if (pread_all(fd, h, REC_HDR, off) < 0 ||
		    parse_rec_header(h, &len, &seq, &pcrc) < 0 || off + REC_HDR + len > size)
			break;
		if (want_cursor && off == cursor_off) {
			s.handed = s.records;
			s.read_off = off;
			found_cursor = true;
		}
		s.records++;
		off += REC_HDR + len;
	}
	if (want_cursor && off == cursor_off) {
		s.handed = s.records;
		s.read_off = off;
		found_cursor = true;
	}
	if (want_cursor && !found_cursor)
		cobs_log(COBS_LOG_WARN, d->who,
		         "spool: the cursor is not at a record of %s; resending it whole", name);
	if (off < size) {
		cobs_log(COBS_LOG_WARN, d->who,
		         "spool: ignoring %" PRIu64 " bytes of a torn record at the end of %s",
		         size - off, name);
		if (ftruncate(fd, (off_t)off) < 0) {
			/* harmless: the scan stops at the same place next time */
		}
	}
	close(fd);
	s.size = off;
	if (s.handed == s.records) { /* nothing left to send in it */
		unlinkat(d->dirfd, name, 0);
		return 0;
	}
	return add_segment(d, &s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The numbers of the segment files in the directory, sorted. 0 or -1. */
static int list_segments(sd_store *d, uint64_t **out, size_t *n)
{
	int fd = dup(d->dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uint64_t *nums = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char *end;
		if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".seg") != 0)
			continue;
		errno = 0;
		uint64_t num = strtoull(e->d_name, &end, 16);
		if (errno || end != e->d_name + 16 || num == 0)
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nn = realloc(nums, cap * sizeof(*nn));
			if (!nn) {
				free(nums);
				closedir(dir);
				return -1;
			}
			nums = nn;
		}
		nums[len++] = num;
	}
	closedir(dir);
	if (len)
		qsort(nums, len, sizeof(*nums), cmp_u64);
	*out = nums;
	*n = len;
	return 0;
}

sd_store *sd_open(const char *dir, uint64_t limit, const char *who, cobs_error *err)
{
	sd_store *d = calloc(1, sizeof(*d));
	if (!d || !(d->who = strdup(who))) {
		free(d);
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	d->dirfd = d->lockfd = d->cursorfd = d->wfd = -1;
	d->limit = limit;
	d->target = limit / 8 < SEG_TARGET_MAX ? limit / 8 : SEG_TARGET_MAX;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		cobs_error_set(err, "spool_dir '%s': cannot create it: %s", dir, strerror(errno));
		goto fail;
	}
	if ((d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d->lockfd = openat(d->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    (d->cursorfd = openat(d->dirfd, "cursor", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		cobs_error_set(err, "spool_dir '%s': %s", dir, strerror(errno));
		goto fail;
	}
	/* Two agents appending to one directory would interleave their batches. */
	if (flock(d->lockfd, LOCK_EX | LOCK_NB) < 0) {
		cobs_error_set(err, "spool_dir '%s': %s", dir,
		               errno == EWOULDBLOCK ? "in use by another agent (locked)"
		                                    : strerror(errno));
		goto fail;
	}
	uint64_t cseg, coff, *nums = NULL;
	size_t n = 0;
	read_cursor(d, &cseg, &coff);
	if (list_segments(d, &nums, &n) < 0) {
		cobs_error_set(err, "spool_dir '%s': cannot list it: %s", dir, strerror(errno));
		goto fail;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char name[NAME_LEN];
		if (nums[i] < cseg) /* delivered before the last stop */
			unlinkat(d->dirfd, seg_name(name, nums[i]), 0);
		else
			rc = scan_segment(d, nums[i], cseg, coff);
	}
	d->next_num = (n ? nums[n - 1] : 0) + 1;
	if (d->next_num <= cseg)
		d->next_num = cseg + 1;
	free(nums);
	if (rc < 0) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	/* The bound may have been lowered since: the oldest go, counted by the caller's log. */
	uint64_t lost = 0;
	while (d->bytes > d->limit && d->nsegs)
		remove_segment(d, 0, &lost);
	if (lost)
		cobs_log(COBS_LOG_WARN, d->who,
		         "spool: dropped the %" PRIu64 " oldest batches left on disk to fit "
		         "spool_disk",
		         lost);
	if (d->pending)
		cobs_log(COBS_LOG_INFO, d->who,
		         "spool: %" PRIu64 " batches left by an earlier run in %s are sent first",
		         d->pending, dir);
	return d;
fail:
	sd_close(d);
	return NULL;
}

int sd_sync(sd_store *d)
{
	int rc = 0;
	if (d->wfd >= 0 && fdatasync(d->wfd) < 0)
		rc = -1;
	if (d->cursorfd >= 0 && fdatasync(d->cursorfd) < 0)
		rc = -1;
	return rc;
}

void sd_close(sd_store *d)
{
	if (!d)
		return;
	if (sd_sync(d) < 0)
		cobs_log(COBS_LOG_WARN, d->who, "spool: cannot sync: %s", strerror(errno));
	if (d->wfd >= 0)
		close(d->wfd);
	if (d->cursorfd >= 0)
		close(d->cursorfd);
	if (d->lockfd >= 0)
		close(d->lockfd); /* releases the flock */
	if (d->dirfd >= 0)
		close(d->dirfd);
	free(d->segs);
	free(d->who);
	free(d);
}

/* Seals the segment being written (synced: it will not change again) and starts a new one. */
static int new_segment(sd_store *d)
{
	if (d->wfd >= 0) {
		if (fdatasync(d->wfd) < 0)
			cobs_log(COBS_LOG_WARN, d->who, "spool: cannot sync a segment: %s",
			         strerror(errno));
		close(d->wfd);
		d->wfd = -1;
	}
	char name[NAME_LEN];
	uint64_t num = d->next_num;
	int fd = openat(d->dirfd, seg_name(name, num), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                0600);
	if (fd < 0)
		return -1;
	uint8_t h[SEG_HDR] = {0};
	memcpy(h, SEG_MAGIC, sizeof(SEG_MAGIC));
	put32(h + 8, SEG_VERSION);
	segment s = {.num = num, .size = SEG_HDR, .read_off = SEG_HDR};
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) || add_segment(d, &s) < 0) {
		int e = errno;
		close(fd);
		unlinkat(d->dirfd, name, 0);
		errno = e ? e : ENOMEM;
		return -1;
	}
	d->next_num++;
	d->wfd = fd;
	return 0;
}

static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

int sd_append(sd_store *d, uint64_t seq, const uint8_t *data, size_t len, sd_pos *pos,
              uint64_t *dropped)
{
	uint64_t rec = REC_HDR + (uint64_t)len;
	if (len > MAX_RECORD || rec + SEG_HDR > d->limit) {
		errno = EFBIG;
		return -1;
	}
	for (;;) {
		segment *last = d->wfd >= 0 ? &d->segs[d->nsegs - 1] : NULL;
		bool fresh = !last || (last->records > 0 && last->size + rec > d->target);
		if (d->bytes + rec + (fresh ? SEG_HDR : 0) <= d->limit || d->nsegs == 0)
			break;
		remove_segment(d, 0, dropped);
	}
	segment *last = d->wfd >= 0 ? &d->segs[d->nsegs - 1] : NULL;
	if ((!last || (last->records > 0 && last->size + rec > d->target)) && new_segment(d) < 0)
		return -1;
	last = &d->segs[d->nsegs - 1];
	uint8_t h[REC_HDR];
	put32(h, REC_MAGIC);
	put32(h + 4, (uint32_t)len);
	put64(h + 8, seq);
	put32(h + 16, crc(data, len));
	put32(h + 20, crc(h, 20));
	struct iovec iov[2] = {{h, sizeof(h)}, {(void *)data, len}};
	if (write_all(d->wfd, iov, 2) < 0) {
		int e = errno;
		/* Cut the partial record off, so later appends follow a whole one. */
		if (ftruncate(d->wfd, (off_t)last->size) < 0) {
			/* then the scan at the next start stops here: what follows is lost */
		}
		errno = e;
		return -1;
	}
	*pos = (sd_pos){.seg = last->num, .off = last->size, .end = last->size + rec};
	last->size += rec;
	last->records++;
	d->bytes += rec;
	d->pending++;
	return 0;
}

int sd_next(sd_store *d, uint8_t **data, size_t *len, uint64_t *seq, sd_pos *pos, uint64_t *dropped)
{
	for (size_t i = 0; i < d->nsegs; i++) {
		segment *s = &d->segs[i];
		if (s->handed == s->records)
			continue;
		char name[NAME_LEN];
		int fd = openat(d->dirfd, seg_name(name, s->num), O_RDONLY | O_CLOEXEC);
		while (s->handed < s->records) {
			uint8_t h[REC_HDR];
			uint32_t n, pcrc;
			uint64_t sq;
			if (fd < 0 || pread_all(fd, h, REC_HDR, s->read_off) < 0 ||
			    parse_rec_header(h, &n, &sq, &pcrc) < 0 ||
			    s->read_off + REC_HDR + n > s->size) {
				/* The segment changed under us or cannot be read: the rest is lost.
				 */
				cobs_log(COBS_LOG_WARN, d->who,
				         "spool: cannot read %s (%s); %" PRIu64 " batches lost",
				         name, fd < 0 ? strerror(errno) : "bad record",
				         s->records - s->handed);
				*dropped += s->records - s->handed;
				d->pending -= s->records - s->handed;
				s->handed = s->records;
				s->read_off = s->size;
				break;
			}
			uint8_t *buf = malloc(n ? n : 1);
			if (!buf) {
				close(fd);
				return -1;
			}
			sd_pos p = {.seg = s->num,
			            .off = s->read_off,
			            .end = s->read_off + REC_HDR + n};
			s->handed++;
			s->read_off = p.end;
			d->pending--;
			if (pread_all(fd, buf, n, p.off + REC_HDR) < 0 || crc(buf, n) != pcrc) {
				cobs_log(COBS_LOG_WARN, d->who,
				         "spool: batch %" PRIu64 " in %s is damaged; skipped", sq,
				         name);
				free(buf);
				(*dropped)++;
				continue;
			}
			close(fd);
			*data = buf;
			*len = n;
			*seq = sq;
			*pos = p;
			return 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int sd_unread(sd_store *d, const sd_pos *pos)
{
	for (size_t i = 0; i < d->nsegs; i++) {
		segment *s = &d->segs[i];
		if (s->num != pos->seg)
			continue;
		if (s->read_off != pos->end || s->handed == 0)
			return -1;
		s->read_off = pos->off;
		s->handed--;
		d->pending++;
		return 0;
	}
	return -1;
}

void sd_consume(sd_store *d, const sd_pos *pos)
{
	write_cursor(d, pos->seg, pos->end);
	/* Delivery is in order: everything up to pos is delivered. */
	while (d->nsegs) {
		segment *s = &d->segs[0];
		bool spent = s->num < pos->seg ||
		             (s->num == pos->seg && s->handed == s->records && pos->end >= s->size);
		if (!spent)
			break;
		remove_segment(d, 0, NULL);
	}
}

uint64_t sd_pending(const sd_store *d)
{
	return d->pending;
}

uint64_t sd_bytes(const sd_store *d)
{
	return d->bytes;
}
