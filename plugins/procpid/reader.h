/*
 * Reading /proc and cgroup files into one shared buffer, keeping the file
 * open between passes while an fd budget allows it.
 *
 * Why not cobs_procfile: it gives every file a buffer of its own, which at
 * 5000 processes x 3 files is tens of MiB of RSS; here every read lands in
 * one scratch buffer that the caller parses before the next read.
 *
 * A slot (an int the caller keeps per file) is >= 0 for a kept fd,
 * READER_CLOSED when the file is opened per read (new, or over budget), or
 * READER_ABSENT when the caller decided not to read it again (EACCES on
 * /proc/1/io, a cgroup file the kernel does not have).
 */
#ifndef PROCPID_READER_H
#define PROCPID_READER_H

#include <stdbool.h>
#include <stddef.h>

#define READER_CLOSED (-1)
#define READER_ABSENT (-2)

typedef struct reader {
	char *buf; /* the last read, NUL-terminated at len */
	size_t len;
	size_t cap;
	size_t kept;   /* fds held open now */
	size_t budget; /* at most this many */
	bool out_of_fds;
	const char *who; /* for the log */
	/* Closes kept fds until kept <= budget (set by the plugin: it owns the slots). */
	void (*shed)(void *ctx);
	void *shed_ctx;
} reader;

int reader_init(reader *r, size_t budget, const char *who);
void reader_free(reader *r);

/*
 * Reads dirfd/rel whole into r->buf. With keep, a newly opened fd is kept in
 * *slot if the budget allows. A kept fd that fails is closed; with retry the
 * path is then opened again once (/proc/PID/stat after the PID was reused:
 * the old fd answers ESRCH). Returns 0, or -1 with errno (ENOENT, ESRCH,
 * EACCES: the file or process is gone or closed to us; EMFILE: no fd even
 * after shedding).
 */
int reader_read(reader *r, int dirfd, const char *rel, int *slot, bool keep, bool retry);

/* Reads at most max bytes of dirfd/rel (opened and closed): cmdline. 0 or -1. */
int reader_read_max(reader *r, int dirfd, const char *rel, size_t max);

/* Closes a kept fd (the slot becomes READER_CLOSED); ABSENT stays ABSENT. */
void reader_close(reader *r, int *slot);

#endif
