/*
 * The file sink: batches appended to a file (JSON lines by default), with
 * size-based rotation and a bound on the disk the files may use.
 *
 *   [sink.file]
 *   path = /var/log/cobs/metrics.jsonl   ; required
 *   format = json                        ; json | prometheus | text
 *   max_size = 10MiB    ; rotate before the current file would grow past this
 *   max_files = 5       ; rotated files kept: path.1 (newest) ... path.5 (oldest)
 *   max_total = 100MiB  ; path + rotated files never use more; oldest go first
 *
 * A batch is never split across files: one larger than max_size is written
 * alone into a fresh file, and one larger than max_total is dropped.
 *
 * That needs a batch's size before its first byte is written, so a batch is
 * rendered twice, a piece at a time: once to count its bytes, once to write
 * them. Holding the whole text instead would cost ~13 MiB at 5000 processes;
 * the second rendering costs CPU only, and the buffer stays one piece.
 *
 * The file is opened O_APPEND and re-checked by name before every batch: if
 * it was deleted, moved away (an outside logrotate) or its directory
 * vanished, the sink reopens it, and when that fails the batch is dropped
 * (-1) and the next batch tries again. A write that fails half-way is cut
 * back off the file so it holds whole lines only. Errors are logged once per
 * failing spell, with the sink's name, not once per batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/format.h>
#include <cobs/plugin.h>

#define DEFAULT_MAX_SIZE  (10u * 1024u * 1024u)
#define DEFAULT_MAX_TOTAL (100u * 1024u * 1024u)
#define DEFAULT_MAX_FILES 5u
#define MAX_FILES_LIMIT   1000u         /* a rotation renames every kept file: keep that sane */
#define CHUNK             (64u * 1024u) /* rendered text handed to write() at a time */

typedef struct file_sink {
	char *name; /* for log lines */
	char *path;
	char *from, *to; /* room for "path.N" while renaming */
	size_t namelen;  /* size of from and to */
	cobs_format format;
	uint64_t max_size, max_total, max_files;

	int fd; /* -1 while closed */
	dev_t dev;
	ino_t ino;
	uint64_t size;          /* of the current file */
	uint64_t *rotated;      /* sizes of path.1 .. path.max_files (0: absent) */
	uint64_t rotated_total; /* their sum */

	cobs_buf out; /* one piece of the batch being rendered */
	int failing;  /* an error was logged and nothing has succeeded since */
} file_sink;

static void note_error(file_sink *s, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void note_error(file_sink *s, int err, const char *fmt, ...)
{
	if (!s->failing) {
		char what[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		cobs_log(COBS_LOG_ERROR, s->name,
		         "%s: %s (batches are dropped; further errors are not logged until a write "
		         "succeeds)",
		         what, strerror(err));
	}
	s->failing = 1;
}

static void note_success(file_sink *s)
{
	if (s->failing)
		cobs_log(COBS_LOG_INFO, s->name, "writing to '%s' again", s->path);
	s->failing = 0;
}

static const char *numbered(file_sink *s, char *buf, uint64_t k)
{
	snprintf(buf, s->namelen, "%s.%" PRIu64, s->path, k);
	return buf;
}

/* Re-reads the sizes of the rotated files (at start and after reopening). */
static void scan_rotated(file_sink *s)
{
	s->rotated_total = 0;
	for (uint64_t k = 1; k <= s->max_files; k++) {
		struct stat st;
		s->rotated[k - 1] =
		        stat(numbered(s, s->from, k), &st) == 0 ? (uint64_t)st.st_size : 0;
		s->rotated_total += s->rotated[k - 1];
	}
}

static void close_current(file_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Opens path for appending and continues from its size. 0, or -1 with errno. */
static int open_current(file_sink *s)
{
	int fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Makes sure fd is the file that path names now. Writing on through an fd
 * whose file was unlinked would succeed and lose every batch, so the name is
 * checked each time (one stat per batch). 0, or -1 with errno.
 */
static int ensure_open(file_sink *s)
{
	if (s->fd >= 0) {
		struct stat st;
		if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
			return 0;
		close_current(s);
	}
	if (open_current(s) < 0)
		return -1;
	scan_rotated(s); /* whoever moved things may have touched these too */
	return 0;
}

/* path -> path.1 -> path.2 ... ; the oldest beyond max_files is deleted. 0 or -1 with errno. */
static int rotate(file_sink *s)
{
	close_current(s);
	if (s->max_files == 0) {
		if (unlink(s->path) < 0 && errno != ENOENT)
			return -1;
	} else {
		if (unlink(numbered(s, s->from, s->max_files)) < 0 && errno != ENOENT)
			return -1;
		for (uint64_t k = s->max_files - 1; k >= 1; k--)
			if (rename(numbered(s, s->from, k), numbered(s, s->to, k + 1)) < 0 &&
			    errno != ENOENT)
				return -1;
		if (rename(s->path, numbered(s, s->to, 1)) < 0 && errno != ENOENT)
			return -1;
		s->rotated_total -= s->rotated[s->max_files - 1];
		memmove(s->rotated + 1, s->rotated, (s->max_files - 1) * sizeof(*s->rotated));
		s->rotated[0] = s->size;
		s->rotated_total += s->size;
	}
	return open_current(s);
}

/* Deletes the oldest rotated files until n more bytes fit under max_total. */
static void enforce_total(file_sink *s, uint64_t n)
{
	for (uint64_t k = s->max_files; k >= 1 && s->rotated_total + s->size + n > s->max_total;
	     k--) {
		if (!s->rotated[k - 1])
			continue;
		if (unlink(numbered(s, s->from, k)) < 0 && errno != ENOENT)
			continue; /* counted as still there: the next batch tries again */
		s->rotated_total -= s->rotated[k - 1];
		s->rotated[k - 1] = 0;
	}
}

/* The whole buffer, through partial writes and signals. 0, or -1 with errno. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Renders the batch piece by piece, handing each piece to fd, or only
 * counting it when fd is -1. 0 with *n the bytes; -1 with errno (ENOMEM:
 * rendering failed).
 */
static int render(file_sink *s, const cobs_batch *batch, int fd, uint64_t *n)
{
	cobs_format_iter it;
	if (cobs_format_begin(&it, batch, s->format) < 0) {
		errno = EINVAL;
		return -1;
	}
	*n = 0;
	int more;
	do {
		cobs_buf_clear(&s->out);
		more = cobs_format_next(&it, &s->out, CHUNK);
		if (more < 0) {
			errno = ENOMEM;
			return -1;
		}
		if (fd >= 0 && write_all(fd, s->out.data, s->out.len) < 0)
			return -1;
		*n += s->out.len;
	} while (more);
	return 0;
}

static int sink_write(void *state, const cobs_batch *batch)
{
	file_sink *s = state;
	uint64_t n;
	if (render(s, batch, -1, &n) < 0) {
		note_error(s, errno, "rendering a batch for '%s'", s->path);
		return -1;
	}
	if (n > s->max_total) {
		note_error(s, EFBIG,
		           "a batch of %" PRIu64 " bytes is larger than max_total for '%s'", n,
		           s->path);
		return -1;
	}
	if (ensure_open(s) < 0) {
		note_error(s, errno, "cannot open '%s'", s->path);
		return -1;
	}
	if (s->size > 0 && s->size + n > s->max_size && rotate(s) < 0) {
		int err = errno;
		close_current(s); /* reopened (and rotation retried) by the next batch */
		note_error(s, err, "cannot rotate '%s'", s->path);
		return -1;
	}
	enforce_total(s, n);
	if (render(s, batch, s->fd, &n) < 0) {
		int err = errno;
		/* Cut a partial batch back off, so the file holds whole lines only. */
		if (ftruncate(s->fd, (off_t)s->size) < 0) {
			/* nothing more to do: the error below is what matters */
		}
		close_current(s);
		note_error(s, err, "cannot write to '%s'", s->path);
		return -1;
	}
	s->size += n;
	note_success(s);
	return 0;
}

static int sink_flush(void *state)
{
	file_sink *s = state;
	if (s->fd >= 0 && fdatasync(s->fd) < 0) {
		note_error(s, errno, "cannot sync '%s'", s->path);
		return -1;
	}
	return 0;
}

static void sink_shutdown(void *state)
{
	file_sink *s = state;
	if (!s)
		return;
	close_current(s);
	cobs_buf_free(&s->out);
	free(s->rotated);
	free(s->from);
	free(s->to);
	free(s->path);
	free(s->name);
	free(s);
}

/* The error for a value the getters accept but the sink cannot use. */
static int bad_key(const cobs_plugin_env *env, const char *key, const char *why)
{
	const char *raw = cobs_cfg_raw(env->config, key);
	return cobs_cfg_error(env->config, key, env->err, "invalid value '%s' (%s)", raw ? raw : "",
	                      why);
}

static int read_config(const cobs_plugin_env *env, file_sink *s)
{
	const char *path = NULL, *format = NULL;
	if (cobs_cfg_string(env->config, "path", NULL, &path, env->err) < 0 ||
	    cobs_cfg_string(env->config, "format", "json", &format, env->err) < 0 ||
	    cobs_cfg_size(env->config, "max_size", DEFAULT_MAX_SIZE, &s->max_size, env->err) < 0 ||
	    cobs_cfg_uint(env->config, "max_files", DEFAULT_MAX_FILES, 0, MAX_FILES_LIMIT,
	                  &s->max_files, env->err) < 0 ||
	    cobs_cfg_size(env->config, "max_total", DEFAULT_MAX_TOTAL, &s->max_total, env->err) < 0)
		return -1;
	if (!path || !*path)
		return cobs_cfg_error(env->config, "path", env->err,
		                      "required: the file batches are written to");
	int fmt = cobs_format_parse(format);
	if (fmt < 0)
		return bad_key(env, "format", "expected json, prometheus or text");
	s->format = (cobs_format)fmt;
	if (s->max_size == 0)
		return bad_key(env, "max_size", "must be more than 0");
	if (s->max_total < s->max_size)
		return bad_key(env, "max_total", "must be at least max_size");
	if (!(s->path = strdup(path)))
		return cobs_error_set(env->err, "out of memory");
	return 0;
}

static int sink_init(const cobs_plugin_env *env, void **state)
{
	file_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	s->fd = -1;
	if (read_config(env, s) < 0)
		goto fail;
	s->namelen = strlen(s->path) + 24; /* "." and any uint64 */
	s->name = strdup(env->name ? env->name : "file");
	s->from = malloc(s->namelen);
	s->to = malloc(s->namelen);
	/* One slot more than needed, so max_files = 0 allocates too. */
	s->rotated = calloc(s->max_files + 1, sizeof(*s->rotated));
	if (!s->name || !s->from || !s->to || !s->rotated) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	if (open_current(s) < 0) {
		/* Not a configuration error: the agent goes on with its other sinks. */
		cobs_error_set(env->err, "[%s] key 'path': cannot open '%s': %s",
		               cobs_section_name(env->config), s->path, strerror(errno));
		goto fail;
	}
	/* Files left beyond max_files (it was lowered) would escape max_total. */
	for (uint64_t k = s->max_files + 1; unlink(numbered(s, s->from, k)) == 0; k++) {
	}
	scan_rotated(s);
	*state = s;
	return 0;
fail:
	sink_shutdown(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_SINK,
        .name = "file",
        .description = "Appends batches to a file (JSON lines by default) with size-based "
                       "rotation and a bound on total disk use",
        .init = sink_init,
        .shutdown = sink_shutdown,
        .write = sink_write,
        .flush = sink_flush,
};
