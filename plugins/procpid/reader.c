/*
 * Shared-buffer reads with kept-open fds under a budget (see reader.h), and
 * what happens when the process runs out of fds: the first EMFILE or ENFILE
 * lowers the budget below what is open, the plugin closes fds down to it,
 * and from then on the files beyond the budget are opened per read. The
 * collection goes on, a little slower, instead of failing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/log.h>

#include "reader.h"

#define BUF_INITIAL (64u * 1024u)
#define SHED_MARGIN 64u /* fds given back at the first EMFILE */

int reader_init(reader *r, size_t budget, const char *who)
{
	*r = (reader){.budget = budget, .who = who};
	r->buf = malloc(BUF_INITIAL);
	if (!r->buf)
		return -1;
	r->cap = BUF_INITIAL;
	r->buf[0] = '\0';
	return 0;
}

void reader_free(reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int open_file(reader *r, int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
		return fd;
	int err = errno;
	if (!r->out_of_fds)
		cobs_log(COBS_LOG_WARN, r->who,
		         "out of file descriptors (%s) with %zu kept open: keeping fewer, "
		         "reopening the rest every pass",
		         strerror(err), r->kept);
	r->out_of_fds = true;
	r->budget = r->kept > SHED_MARGIN ? r->kept - SHED_MARGIN : 0;
	if (r->shed)
		r->shed(r->shed_ctx);
	fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != EMFILE && errno != ENFILE)
		return -1;
	if (fd < 0)
		errno = err;
	return fd;
}

/* pread from offset 0 to EOF into the buffer. 0 or -1. */
static int read_all(reader *r, int fd, size_t max)
{
	size_t off = 0;
	for (;;) {
		if (r->cap - off < 2) {
			size_t cap = r->cap * 2;
			char *b = realloc(r->buf, cap);
			if (!b) {
				errno = ENOMEM;
				return -1;
			}
			r->buf = b;
			r->cap = cap;
		}
		size_t want = r->cap - off - 1;
		if (max && want > max - off)
			want = max - off;
		ssize_t n = pread(fd, r->buf + off, want, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
		/* /proc and cgroup files hand out all they have per read: a short read is the
		 * end, and the extra pread that would return 0 is saved. */
		if (n == 0 || (size_t)n < want || (max && off >= max))
			break;
	}
	r->buf[off] = '\0';
	r->len = off;
	return 0;
}

void reader_close(reader *r, int *slot)
{
	if (*slot >= 0) {
		close(*slot);
		r->kept--;
		*slot = READER_CLOSED;
	}
}

int reader_read(reader *r, int dirfd, const char *rel, int *slot, bool keep, bool retry)
{
	if (*slot == READER_ABSENT) {
		errno = ENOENT;
		return -1;
	}
	if (*slot >= 0) {
		if (read_all(r, *slot, 0) == 0)
			return 0;
		int err = errno;
		reader_close(r, slot);
		if (!retry || err == ENOMEM) {
			errno = err;
			return -1;
		}
	}
	int fd = open_file(r, dirfd, rel);
	if (fd < 0)
		return -1;
	int rc = read_all(r, fd, 0);
	int err = errno;
	if (rc == 0 && keep && r->kept < r->budget) {
		*slot = fd;
		r->kept++;
		return 0;
	}
	close(fd);
	errno = err;
	return rc;
}

int reader_read_max(reader *r, int dirfd, const char *rel, size_t max)
{
	int fd = open_file(r, dirfd, rel);
	if (fd < 0)
		return -1;
	int rc = read_all(r, fd, max);
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}
