/* SPDX-License-Identifier: MIT */
/*
 * Small helpers for collectors that read /proc and /sys.
 *
 * cobs_procfile keeps a file open and re-reads it with pread at offset 0:
 * /proc files give fresh contents on every pread, and this halves the cost of
 * a pass compared with open/read/close (PLATFORM.md). If the fd goes bad the
 * file is reopened once.
 *
 * cobs_counter_delta and cobs_prev_table carry the state that derived rates
 * need: the previous value of a counter, per key (device, interface, cpu).
 */
#ifndef COBS_PROC_H
#define COBS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cobs_procfile {
	int fd;
	char *path;
	char *buf; /* NUL-terminated contents after a read */
	size_t len;
	size_t cap;
} cobs_procfile;

/* Joins root and rel ("/proc" + "stat"). Returns 0, or -1 when out of memory. */
int cobs_procfile_init(cobs_procfile *f, const char *root, const char *rel);
/*
 * Reads the whole file into f->buf (NUL-terminated, f->len bytes).
 * Returns 0, or -1 with errno set (ENOENT when the file does not exist).
 */
int cobs_procfile_read(cobs_procfile *f);
void cobs_procfile_close(cobs_procfile *f);
/*
 * Calls line(ctx, p, eol) for each line of f's last read in order, [p, eol)
 * without its '\n' (a last line without one too). Stops at the first nonzero
 * return and returns it; 0 when every line returned 0.
 */
int cobs_procfile_lines(const cobs_procfile *f,
                        int (*line)(void *ctx, const char *p, const char *eol), void *ctx);

/* Joins a root and a relative path into buf. Returns 0, or -1 if it does not fit. */
int cobs_path_join(char *buf, size_t len, const char *root, const char *rel);

/* Monotonic clock in nanoseconds. */
uint64_t cobs_monotonic_ns(void);
/* Wall clock in ms since the epoch. */
int64_t cobs_wallclock_ms(void);

/*
 * The increase of a counter from prev to cur. A counter that went down is a
 * reset (returns false: no rate for this interval) unless it looks like a
 * 32-bit wrap: both values fit in 32 bits and prev was in the top quarter of
 * the range, then the delta is counted through the wrap.
 */
bool cobs_counter_delta(uint64_t prev, uint64_t cur, uint64_t *delta);

/*
 * Previous values per key, for rates. Each entry holds `width` counters and
 * the monotonic time they were read. Entries not touched during a pass are
 * removed by cobs_prev_sweep, so a vanished device leaves no state behind.
 */
typedef struct cobs_prev_table cobs_prev_table;

typedef struct cobs_prev_entry {
	uint64_t t_ns;  /* 0 when the entry is new (no previous sample) */
	uint64_t *vals; /* width counters */
} cobs_prev_entry;

cobs_prev_table *cobs_prev_new(size_t width);
void cobs_prev_free(cobs_prev_table *t);
/* The entry for key, created if absent (t_ns == 0 then). NULL when out of memory. */
cobs_prev_entry *cobs_prev_get(cobs_prev_table *t, const char *key);
/* Removes entries not returned by cobs_prev_get since the previous sweep. */
void cobs_prev_sweep(cobs_prev_table *t);
size_t cobs_prev_count(const cobs_prev_table *t);

/*
 * Per-second rate of a counter between a previous and a current reading.
 * Returns false when there is no rate (first sample, reset, zero interval).
 */
bool cobs_rate(uint64_t prev, uint64_t cur, uint64_t prev_ns, uint64_t cur_ns, double *out);

/*
 * One unsigned decimal field at p, after blanks (spaces, tabs). The line ends
 * at end, a '\n' or a NUL (end may be NULL). Returns the end of the number,
 * or NULL when there is none, it overflows, or it runs into anything but a
 * blank or the line's end ("12ab", "-1", "0x10"): the shared strict parser
 * for /proc's columns of counters.
 */
const char *cobs_parse_u64(const char *p, const char *end, uint64_t *out);

/*
 * The interface name of a /proc/net/dev line [p, eol) (also /proc/PID/net/dev):
 * what precedes the line's last ':' (the kernel allows no ':' in a name), the
 * blanks before it skipped, copied into name (cap bytes with the NUL). Returns
 * where the counters start, just after the ':'; NULL when the line has no ':'
 * or the name is empty, does not fit, or holds a blank or control byte.
 */
const char *cobs_netdev_name(const char *p, const char *eol, char *name, size_t cap);

/* Simple glob match (*, ?, [..]) for include/exclude patterns; fnmatch semantics. */
bool cobs_glob_match(const char *pattern, const char *name);
/*
 * A comma- or space-separated list of glob patterns. Returns NULL-terminated
 * array (free with cobs_globs_free), NULL when out of memory.
 */
char **cobs_globs_parse(const char *list);
bool cobs_globs_match(char *const *globs, const char *name);
void cobs_globs_free(char **globs);

#ifdef __cplusplus
}
#endif
#endif
