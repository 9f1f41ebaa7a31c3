/*
 * The stdout sink: every batch rendered as text, JSON lines or Prometheus
 * exposition on standard output.
 *
 *   [sink.stdout]
 *   format = text        ; text | json | prometheus (cobs-agent --format wins)
 *
 * A batch is rendered and written a piece (~CHUNK bytes) at a time, not
 * rendered whole first: at 5000 processes the Prometheus text of one batch is
 * ~13 MiB, which the agent would otherwise hold for nothing. With a reader
 * that keeps up, memory stays at about one piece.
 *
 * Writing follows the descriptor's own mode. A blocking stdout (a terminal, a
 * shell pipe, `--once | less`) gets ordinary back-pressure. A non-blocking one
 * never stalls the agent's loop: when nothing of a batch could be written the
 * batch is dropped (-1, counted by the host as a sink error); once part of it
 * went out, the rest of the batch is rendered and kept in memory (the reader
 * is slow, and what it has not taken must wait somewhere) and finished before
 * the next batch, so a reader never sees a torn line. A buffer grown that way
 * is given back once it has drained. EPIPE (reader gone; the host ignores
 * SIGPIPE) and other errors drop the batch. Errors are logged once per
 * failing spell, not once per batch. Flush (at exit) waits for a kept tail
 * as long as the reader keeps taking some of it.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cobs/format.h>
#include <cobs/plugin.h>

/* How long flush waits for a non-blocking stdout to take a kept remainder. */
#define FLUSH_WAIT_MS 1000

/* Rendered text handed to write() at a time: a few pipe buffers' worth. */
#define CHUNK (64u * 1024u)

/* A buffer grown past this by a slow reader is freed once it has drained. */
#define KEEP_CAP (4u * CHUNK)

typedef struct stdout_sink {
	char *name; /* for log lines */
	cobs_format format;
	cobs_buf out; /* rendered text; out.data[sent..len) is still owed */
	size_t sent;
	int failing; /* an error was logged and nothing has succeeded since */
} stdout_sink;

static void note_error(stdout_sink *s, const char *what, int err)
{
	if (!s->failing)
		cobs_log(COBS_LOG_ERROR, s->name,
		         "%s: %s (further errors are not logged until a write succeeds)", what,
		         strerror(err));
	s->failing = 1;
}

static void note_success(stdout_sink *s)
{
	if (s->failing)
		cobs_log(COBS_LOG_INFO, s->name, "writing to stdout again");
	s->failing = 0;
}

/*
 * Writes what is owed. 0 when all of it is out; -1 with errno set otherwise
 * (EAGAIN: stdout is non-blocking and full; the rest stays owed).
 */
static int drain(stdout_sink *s)
{
	while (s->sent < s->out.len) {
		ssize_t n = write(STDOUT_FILENO, s->out.data + s->sent, s->out.len - s->sent);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s->sent += (size_t)n;
	}
	return 0;
}

/* Forgets what is owed (the reader is gone, or the batch is dropped). */
static void discard(stdout_sink *s)
{
	cobs_buf_clear(&s->out);
	s->sent = 0;
	if (s->out.cap > KEEP_CAP)
		cobs_buf_free(&s->out); /* grown for a slow reader: give it back */
}

/* Drops the owed text that went out, so the buffer only holds what is owed. */
static void compact(stdout_sink *s)
{
	if (s->sent == s->out.len) {
		discard(s);
	} else if (s->sent > s->out.len / 2) {
		/* Moving the owed tail costs less than what was written: amortised linear. */
		memmove(s->out.data, s->out.data + s->sent, s->out.len - s->sent + 1);
		s->out.len -= s->sent;
		s->sent = 0;
	}
}

static int is_again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

/*
 * Renders the batch a piece at a time and writes each piece as it comes.
 * Once stdout is full part-way (EAGAIN), the rest is rendered and kept, and
 * each piece still tries the descriptor, so a reader that catches up keeps
 * the kept text short. Returns 0, or -1 when the batch is dropped.
 */
static int stream_batch(stdout_sink *s, const cobs_batch *batch)
{
	cobs_format_iter it;
	if (cobs_format_begin(&it, batch, s->format) < 0) {
		note_error(s, "rendering the batch", EINVAL);
		return -1;
	}
	size_t written = 0; /* of this batch */
	int more = 1;
	while (more) {
		more = cobs_format_next(&it, &s->out, CHUNK);
		if (more < 0) {
			/* Whole samples up to here are kept and go out; a JSON line is
			 * ended so the next batch starts on a line of its own. */
			if (written && s->format == COBS_FORMAT_JSON)
				(void)cobs_buf_append(&s->out, "\n", 1);
			note_error(s, "rendering the batch", ENOMEM);
			if (!written)
				discard(s);
			return -1;
		}
		size_t before = s->sent;
		int rc = drain(s);
		written += s->sent - before;
		if (rc < 0) {
			int err = errno;
			if (!written || !is_again(err)) {
				discard(s); /* nothing of it is out, or nothing more ever will be */
				note_error(s, "write", err);
				return -1;
			}
		}
		compact(s);
	}
	return 0;
}

static int sink_write(void *state, const cobs_batch *batch)
{
	stdout_sink *s = state;
	if (s->sent < s->out.len) {
		/* The tail of an earlier batch comes first; if it still cannot go,
		 * this batch is dropped rather than queued without bound. */
		if (drain(s) < 0) {
			int err = errno;
			if (!is_again(err))
				discard(s);
			note_error(s, "write", err);
			return -1;
		}
	}
	discard(s);
	if (stream_batch(s, batch) < 0)
		return -1;
	if (s->sent == s->out.len) /* a kept tail is not a success yet */
		note_success(s);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Pushes out a kept remainder, waiting for a non-blocking stdout as long as
 * the reader makes progress: it gives up after FLUSH_WAIT_MS without any (a
 * kept batch can be megabytes, more than a pipe takes in one go).
 */
static int sink_flush(void *state)
{
	stdout_sink *s = state;
	uint64_t last = now_ms();
	for (;;) {
		size_t before = s->sent;
		if (drain(s) == 0)
			break;
		int err = errno;
		uint64_t now = now_ms();
		if (s->sent != before)
			last = now;
		if (!is_again(err) || now - last >= FLUSH_WAIT_MS) {
			discard(s);
			note_error(s, "flush", err);
			return -1;
		}
		struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
		if (poll(&p, 1, 100) < 0 && errno != EINTR) {
			discard(s);
			note_error(s, "flush", errno);
			return -1;
		}
	}
	discard(s);
	return 0;
}

static void sink_shutdown(void *state)
{
	stdout_sink *s = state;
	if (!s)
		return;
	cobs_buf_free(&s->out);
	free(s->name);
	free(s);
}

static int sink_init(const cobs_plugin_env *env, void **state)
{
	const char *key = NULL;
	/* Read (and check) the key even when the command line overrides it, so a
	 * typo in agent.ini is still reported. */
	if (cobs_cfg_string(env->config, "format", "text", &key, env->err) < 0)
		return -1;
	int fmt = cobs_format_parse(key);
	if (fmt < 0)
		return cobs_cfg_error(env->config, "format", env->err,
		                      "invalid value '%s' (expected text, json or prometheus)",
		                      key);
	if (env->format) {
		fmt = cobs_format_parse(env->format);
		if (fmt < 0)
			return cobs_error_set(
			        env->err,
			        "format '%s' from the command line is unknown (expected text, json or prometheus)",
			        env->format);
	}
	stdout_sink *s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(env->name ? env->name : "stdout"))) {
		free(s);
		return cobs_error_set(env->err, "out of memory");
	}
	s->format = (cobs_format)fmt;
	*state = s;
	return 0;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_SINK,
        .name = "stdout",
        .description = "Writes batches to standard output as text, JSON lines or Prometheus text",
        .init = sink_init,
        .shutdown = sink_shutdown,
        .write = sink_write,
        .flush = sink_flush,
};
