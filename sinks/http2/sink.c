/*
 * The http2 sink: batches to cobs-server over one HTTP/2 connection, never
 * lost because the server is away, and the server's commands back.
 *
 *   [sink.http2]
 *   url = http://server:8080   ; required; the sink appends /api/v1/ingest
 *   token = / token_file =     ; bearer token (token_file re-read when it changes)
 *   ca_file =                  ; https: CA bundle (default: the system's)
 *   timeout = 10s              ; connect, and a whole POST
 *   spool_memory = 8MiB        ; batches waiting in memory
 *   spool_dir =                ; then on disk (off when unset)
 *   spool_disk = 256MiB        ; bound of the disk spool
 *   max_batch = 4MiB           ; largest body; larger batches are split
 *   backoff_min = 1s           ; retry delays double from here ...
 *   backoff_max = 60s          ; ... to here, with jitter
 *   commands = true            ; keep the command stream open
 *
 * write() never blocks on the network: it encodes the batch (encode.c),
 * appends it to the spool (spool.c, spool_disk.c) and wakes the sender
 * (sender.c), which delivers in order over the transport (transport.c);
 * commands.c keeps the command stream. Everything runs on the agent's loop.
 *
 * The disk spool is opened on the loop's first turn, not in init: on a
 * SIGHUP reload the new instance is initialised while the old one still
 * holds the directory, and the old one hands its memory over to disk when
 * it shuts down right after; `--check` never touches the directory.
 *
 * The sink's own figures travel as cobs_agent_* families added to the
 * agent's own batch (source "agent") on its way through this sink.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/plugin.h>

#include "commands.h"
#include "encode.h"
#include "sender.h"
#include "spool.h"
#include "stats.h"
#include "transport.h"

#ifndef COBS_VERSION
#define COBS_VERSION "unknown"
#endif

#define DEFAULT_TIMEOUT_MS     10000u
#define DEFAULT_SPOOL_MEMORY   (8u << 20)
#define DEFAULT_SPOOL_DISK     (256u << 20)
#define DEFAULT_MAX_BATCH      (4u << 20)
#define DEFAULT_BACKOFF_MIN_MS 1000u
#define DEFAULT_BACKOFF_MAX_MS 60000u
#define MIN_MAX_BATCH          1024u
#define SPOOL_DISK_SLACK       64u /* a segment and a record header */

typedef struct http2_sink {
	char *name;
	char *url; /* without a trailing '/' */
	const char *token, *token_file, *ca_file,
	        *spool_dir; /* in the section: live until shutdown */
	uint64_t timeout_ms, spool_memory, spool_disk, max_batch, backoff_min, backoff_max;
	bool commands;

	struct event_base *base;
	struct event *start;
	bool started, disk_failed, curl_ready;
	h2_encoder enc;
	h2_spool spool;
	h2_transport *t;
	h2_sender sender;
	h2_commands *cmds;
	cobs_batch *scratch; /* the agent's batch plus the sink's own figures */
} http2_sink;

static void attach_disk(http2_sink *s)
{
	cobs_error err = {{0}};
	if (!s->spool_dir || s->spool.disk || s->disk_failed)
		return;
	if (spool_attach_disk(&s->spool, s->spool_dir, s->spool_disk, &err) < 0) {
		s->disk_failed = true;
		cobs_log(COBS_LOG_ERROR, s->name, "%s; spooling in memory only", err.msg);
	}
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http2_sink *s = arg;
	attach_disk(s);
	s->started = true;
	h2_sender_start(&s->sender);
	if (s->cmds)
		h2_commands_start(s->cmds);
	cobs_log(COBS_LOG_INFO, s->name, "sending to %s (spool: %" PRIu64 " bytes in memory%s%s)",
	         s->url, s->spool_memory, s->spool.disk ? ", then on disk in " : "",
	         s->spool.disk ? s->spool_dir : "");
}

/* ---- the sink's own metrics ---- */

static int add_metric(cobs_batch *b, const char *sink, const char *name, const char *help,
                      const char *unit, cobs_metric_type type, double v, const char *tier)
{
	cobs_family *f = cobs_batch_family(b, name, help, unit, type);
	if (!f)
		return -1;
	return tier ? cobs_family_add2(b, f, v, "sink", sink, "tier", tier)
	            : cobs_family_add1(b, f, v, "sink", sink);
}

static int sink_stats(const void *state, cobs_http2_stats *out);

/* b plus cobs_agent_spool_* and cobs_agent_http2_*, or NULL (then b goes alone). */
static const cobs_batch *with_own_metrics(http2_sink *s, const cobs_batch *b)
{
	cobs_http2_stats st;
	cobs_batch *x = s->scratch;
	cobs_batch_reset(x);
	x->timestamp_ms = b->timestamp_ms;
	x->monotonic_ns = b->monotonic_ns;
	x->node = b->node;
	x->source = b->source;
	sink_stats(s, &st);
	const char *n = s->name;
	if (cobs_batch_merge(x, b) < 0 ||
	    add_metric(x, n, "cobs_agent_spool_batches",
	               "Batches waiting in the sink's spool (memory, disk, in flight).", "",
	               COBS_GAUGE, (double)st.spool_batches, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_spool_bytes", "Bytes the sink's spool holds per tier.",
	               "bytes", COBS_GAUGE, (double)st.spool_mem_bytes, "memory") < 0 ||
	    add_metric(x, n, "cobs_agent_spool_bytes", NULL, "bytes", COBS_GAUGE,
	               (double)st.spool_disk_bytes, "disk") < 0 ||
	    add_metric(x, n, "cobs_agent_spool_dropped_total",
	               "Oldest batches dropped because the spool bounds were hit.", "",
	               COBS_COUNTER, (double)st.spool_dropped, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_sent_total", "Batches the server accepted.", "",
	               COBS_COUNTER, (double)st.sent, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_retries_total",
	               "Failed deliveries that are retried with backoff.", "", COBS_COUNTER,
	               (double)st.retries, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_rejected_total",
	               "Batches the server refused (4xx): dropped, not retried.", "", COBS_COUNTER,
	               (double)st.rejected, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_connects_total", "Connections opened to the server.",
	               "", COBS_COUNTER, (double)st.connects, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_connected",
	               "1 while an HTTP/2 connection to the server is up.", "", COBS_GAUGE,
	               st.connected ? 1 : 0, NULL) < 0 ||
	    add_metric(x, n, "cobs_agent_http2_commands_total",
	               "Commands received on the command stream.", "", COBS_COUNTER,
	               (double)st.commands_received, NULL) < 0)
		return NULL;
	return x;
}

/* ---- the plugin callbacks ---- */

static int keep(void *arg, uint64_t seq, const uint8_t *body, size_t len)
{
	http2_sink *s = arg;
	return spool_push(&s->spool, seq, body, len);
}

static int sink_write(void *state, const cobs_batch *batch)
{
	http2_sink *s = state;
	const cobs_batch *b = batch;
	if (b->source && strcmp(b->source, "agent") == 0) {
		b = with_own_metrics(s, batch);
		if (!b)
			b = batch;
	}
	/* The server reconciles sequence gaps with this: spool drops and rejections. */
	uint64_t dropped = s->spool.dropped + s->sender.rejected;
	int rc = h2_encode(&s->enc, b, dropped, keep, s);
	h2_sender_kick(&s->sender);
	return rc;
}

/* At exit and on reload: what memory holds goes to disk, so the next run sends it. */
static int sink_flush(void *state)
{
	http2_sink *s = state;
	if (s->spool.disk)
		spool_persist(&s->spool);
	return 0;
}

static void sink_shutdown(void *state)
{
	http2_sink *s = state;
	if (!s)
		return;
	h2_commands_free(s->cmds);
	h2_sender_free(&s->sender);
	if (spool_batches(&s->spool) && !s->started)
		attach_disk(s); /* batches written before the first turn of the loop */
	uint64_t lost = spool_persist(&s->spool);
	if (lost)
		cobs_log(COBS_LOG_WARN, s->name,
		         "%" PRIu64 " undelivered batches are lost (set spool_dir to keep them "
		         "across restarts)",
		         lost);
	h2_transport_free(s->t);
	spool_free(&s->spool);
	h2_encoder_free(&s->enc);
	cobs_batch_free(s->scratch);
	if (s->start)
		event_free(s->start);
	if (s->curl_ready)
		curl_global_cleanup();
	free(s->url);
	free(s->name);
	free(s);
}

static int sink_stats(const void *state, cobs_http2_stats *out)
{
	const http2_sink *s = state;
	if (!s || !out)
		return -1;
	h2_transport_stats ts = h2_transport_get_stats(s->t);
	h2_commands_stats cs = {0};
	if (s->cmds)
		cs = h2_commands_get_stats(s->cmds);
	*out = (cobs_http2_stats){
	        .next_sequence = s->enc.next_seq,
	        .spool_batches = spool_batches(&s->spool),
	        .spool_mem_bytes = s->spool.mem_bytes,
	        .spool_disk_bytes = spool_disk_bytes(&s->spool),
	        .spool_dropped = s->spool.dropped,
	        .sent = s->sender.sent,
	        .retries = s->sender.retries,
	        .rejected = s->sender.rejected,
	        .encode_dropped = s->enc.too_big + s->enc.failed,
	        .splits = s->enc.splits,
	        .connects = ts.connects,
	        .resets = ts.resets,
	        .connected = ts.up,
	        .disk_attached = s->spool.disk != NULL,
	        .stream_open = cs.open,
	        .streams = cs.streams,
	        .commands_received = cs.received,
	        .commands_answered = cs.answered,
	        .commands_refused = cs.refused,
	        .results_lost = cs.lost,
	};
	return 0;
}

/* For tests and tools: see stats.h. */
COBS_EXPORT int cobs_http2_get_stats(const void *state, cobs_http2_stats *out);
COBS_EXPORT int cobs_http2_get_stats(const void *state, cobs_http2_stats *out)
{
	return sink_stats(state, out);
}

/* ---- configuration ---- */

static int bad_key(const cobs_plugin_env *env, const char *key, const char *why)
{
	const char *raw = cobs_cfg_raw(env->config, key);
	return cobs_cfg_error(env->config, key, env->err, "invalid value '%s' (%s)", raw ? raw : "",
	                      why);
}

static const char *nonempty(const char *v)
{
	return v && *v ? v : NULL;
}

static int read_config(const cobs_plugin_env *env, http2_sink *s)
{
	const cobs_section *c = env->config;
	cobs_error *err = env->err;
	const char *url = NULL;
	if (cobs_cfg_string(c, "url", NULL, &url, err) < 0 ||
	    cobs_cfg_string(c, "token", NULL, &s->token, err) < 0 ||
	    cobs_cfg_string(c, "token_file", NULL, &s->token_file, err) < 0 ||
	    cobs_cfg_string(c, "ca_file", NULL, &s->ca_file, err) < 0 ||
	    cobs_cfg_string(c, "spool_dir", NULL, &s->spool_dir, err) < 0 ||
	    cobs_cfg_duration_ms(c, "timeout", DEFAULT_TIMEOUT_MS, &s->timeout_ms, err) < 0 ||
	    cobs_cfg_size(c, "spool_memory", DEFAULT_SPOOL_MEMORY, &s->spool_memory, err) < 0 ||
	    cobs_cfg_size(c, "spool_disk", DEFAULT_SPOOL_DISK, &s->spool_disk, err) < 0 ||
	    cobs_cfg_size(c, "max_batch", DEFAULT_MAX_BATCH, &s->max_batch, err) < 0 ||
	    cobs_cfg_duration_ms(c, "backoff_min", DEFAULT_BACKOFF_MIN_MS, &s->backoff_min, err) <
	            0 ||
	    cobs_cfg_duration_ms(c, "backoff_max", DEFAULT_BACKOFF_MAX_MS, &s->backoff_max, err) <
	            0 ||
	    cobs_cfg_bool(c, "commands", true, &s->commands, err) < 0)
		return -1;
	s->token = nonempty(s->token);
	s->token_file = nonempty(s->token_file);
	s->ca_file = nonempty(s->ca_file);
	s->spool_dir = nonempty(s->spool_dir);
	if (!url || !*url)
		return cobs_cfg_error(
		        c, "url", err,
		        "required: the server's base URL, e.g. http://cobs-server:8080");
	bool tls = strncasecmp(url, "https://", 8) == 0;
	if (!tls && strncasecmp(url, "http://", 7) != 0)
		return bad_key(env, "url", "expected http://host[:port] or https://host[:port]");
	const char *host = url + (tls ? 8 : 7);
	if (!*host || *host == '/' || strpbrk(url, " \t\r\n?#"))
		return bad_key(env, "url", "expected http://host[:port] or https://host[:port]");
	if (s->token && s->token_file)
		return cobs_cfg_error(c, "token_file", err, "set token or token_file, not both");
	if (s->ca_file && !tls)
		return cobs_cfg_error(c, "ca_file", err, "only for https:// URLs");
	if (s->timeout_ms < 100 || s->timeout_ms > 3600000)
		return bad_key(env, "timeout", "from 100ms to 1h");
	if (s->backoff_min < 1 || s->backoff_min > 3600000)
		return bad_key(env, "backoff_min", "from 1ms to 1h");
	if (s->backoff_max < s->backoff_min || s->backoff_max > 86400000)
		return bad_key(env, "backoff_max", "at least backoff_min, at most 1d");
	if (s->max_batch < MIN_MAX_BATCH || s->max_batch > (64u << 20))
		return bad_key(env, "max_batch", "from 1KiB to 64MiB");
	if (s->spool_memory < s->max_batch)
		return bad_key(env, "spool_memory", "must be at least max_batch");
	if (s->spool_dir && s->spool_disk < s->max_batch + SPOOL_DISK_SLACK)
		return bad_key(env, "spool_disk", "must be more than max_batch");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (!(s->url = strndup(url, n)))
		return cobs_error_set(err, "out of memory");
	return 0;
}

static int sink_init(const cobs_plugin_env *env, void **state)
{
	http2_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	if (!(s->name = strdup(env->name ? env->name : "http2"))) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	spool_init(&s->spool, s->name, 0);
	if (read_config(env, s) < 0)
		goto fail;
	if (!env->base) {
		cobs_error_set(env->err, "[%s] the http2 sink needs the agent's event loop",
		               cobs_section_name(env->config));
		goto fail;
	}
	s->base = env->base;
	s->spool.mem_limit = s->spool_memory;
	if (h2_encoder_init(&s->enc, s->name, env->node, s->max_batch, env->err) < 0)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cobs_error_set(env->err, "libcurl cannot initialise");
		goto fail;
	}
	s->curl_ready = true;
	h2_transport_config tc = {
	        .url = s->url,
	        .token = s->token,
	        .token_file = s->token_file,
	        .ca_file = s->ca_file,
	        .timeout_ms = s->timeout_ms,
	        .who = s->name,
	        .user_agent = "cobs-agent/" COBS_VERSION,
	};
	if (!(s->t = h2_transport_new(s->base, &tc, env->err)))
		goto fail;
	if (h2_sender_init(&s->sender, s->base, &s->spool, s->t, s->name, s->url, s->backoff_min,
	                   s->backoff_max) < 0 ||
	    !(s->scratch = cobs_batch_new()) ||
	    !(s->start = event_new(s->base, -1, 0, on_start, s))) {
		cobs_error_set(env->err, "out of memory");
		goto fail;
	}
	if (s->commands && !(s->cmds = h2_commands_new(s->base, s->t, env->node, s->name,
	                                               s->backoff_min, s->backoff_max, env->err)))
		goto fail;
	event_active(s->start, 0, 0);
	*state = s;
	return 0;
fail:
	sink_shutdown(s);
	return -1;
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_SINK,
        .name = "http2",
        .description = "Sends batches to cobs-server over one HTTP/2 connection with an "
                       "in-order spool (memory, then disk), and answers its commands",
        .init = sink_init,
        .shutdown = sink_shutdown,
        .write = sink_write,
        .flush = sink_flush,
};
