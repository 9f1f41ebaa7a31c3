/*
 * The stdout sink: every batch rendered as text, JSON lines or Prometheus
 * exposition on standard output.
 *
 *   [sink.stdout]
 *   format = text        ; text | json | prometheus (cobs-agent --format wins)
 *
 * Writing follows the descriptor's own mode. A blocking stdout (a terminal, a
 * shell pipe, `--once | less`) gets ordinary back-pressure. A non-blocking one
 * never stalls the agent's loop: when nothing of a batch could be written the
 * batch is dropped (-1, counted by the host as a sink error); when only part
 * of it went out, the rest is kept and finished before the next batch, so a
 * reader never sees a torn line. EPIPE (reader gone; the host ignores SIGPIPE)
 * and other errors drop the batch. Errors are logged once per failing spell,
 * not once per batch.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cobs/format.h>
#include <cobs/plugin.h>

/* How long flush waits for a non-blocking stdout to take a kept remainder. */
#define FLUSH_WAIT_MS 1000

typedef struct stdout_sink {
	char *name; /* for log lines */
	cobs_format format;
	cobs_buf out; /* the rendered batch; out.data[sent..len) is still owed */
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
}

static int sink_write(void *state, const cobs_batch *batch)
{
	stdout_sink *s = state;
	if (s->sent < s->out.len) {
		/* The tail of an earlier batch comes first; if it still cannot go,
		 * this batch is dropped rather than queued without bound. */
		if (drain(s) < 0) {
			int err = errno;
			if (err != EAGAIN && err != EWOULDBLOCK)
				discard(s);
			note_error(s, "write", err);
			return -1;
		}
	}
	discard(s);
	if (cobs_format_batch(batch, s->format, &s->out) < 0) {
		discard(s);
		note_error(s, "rendering the batch", ENOMEM);
		return -1;
	}
	if (drain(s) < 0) {
		int err = errno;
		if (s->sent == 0 || (err != EAGAIN && err != EWOULDBLOCK)) {
			discard(s); /* nothing of it is out, or nothing more ever will be */
			note_error(s, "write", err);
			return -1;
		}
		/* Part of it is out: the rest is kept so the stream stays whole. */
		return 0;
	}
	note_success(s);
	return 0;
}

/* Pushes out a kept remainder, waiting a little for a non-blocking stdout. */
static int sink_flush(void *state)
{
	stdout_sink *s = state;
	int waited = 0;
	while (drain(s) < 0) {
		int err = errno;
		if ((err != EAGAIN && err != EWOULDBLOCK) || waited >= FLUSH_WAIT_MS) {
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
		waited += 100;
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
