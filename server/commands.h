/* SPDX-License-Identifier: MIT */
/*
 * Commands to agents and the streams that carry them (h2o thread only).
 *
 * Streams: an agent keeps GET /api/v1/agents/{node}/commands open; the
 * response never ends while the server runs. It carries length-prefixed
 * StreamMessage frames (cobs_wire_frame_*): a Heartbeat at once and every
 * heartbeat_interval (h2o closes an HTTP/2 connection idle for 10 s, and
 * proxies drop silent ones), and each Command as it is created. h2o allows
 * one h2o_send in flight per response, so frames queue in the stream and go
 * out together on the next proceed. A node has at most one stream: a new
 * one (the agent reconnected) replaces and ends the old one. A client that
 * leaves makes h2o call the generator's stop: the stream is forgotten then.
 *
 * Commands: created only for a node whose stream is open (otherwise the
 * caller answers 409 at once: nothing is queued for an absent agent), then
 * pending until the agent posts a result (done, or failed for an error
 * result) or the deadline passes (expired). Deadlines are enforced here, on
 * the h2o thread, by one h2o_timeout_t ticking every second (created once,
 * never disposed inside its own callback): commands and streams live on
 * this thread, so their expiry needs no hop. Finished commands are kept for
 * COBS_COMMANDS_KEEP_MS for GET /api/v1/commands/{id}, within
 * COBS_COMMANDS_MAX commands and COBS_COMMANDS_MAX_RESULT_BYTES of results.
 *
 * Ids are 52-bit: 16 random bits drawn at start, then a counter, so a result
 * posted for a command of a previous server process is not taken for a new
 * command with the same number (and JSON numbers carry ids exactly).
 */
#ifndef COBS_SERVER_COMMANDS_H
#define COBS_SERVER_COMMANDS_H

#include <stdint.h>

#include <h2o.h>

#include <cobs/config.h>
#include <cobs/wire.h>

#include "server.h"

#define COBS_COMMANDS_MAX              10000
#define COBS_COMMANDS_KEEP_MS          (10 * 60 * 1000)
#define COBS_COMMANDS_MAX_RESULT_BYTES (256u << 20)

typedef enum cobs_cmd_state {
	COBS_CMD_PENDING = 0,
	COBS_CMD_DONE = 1,
	COBS_CMD_FAILED = 2,
	COBS_CMD_EXPIRED = 3,
} cobs_cmd_state;

/* One command; read-only outside commands.c. */
typedef struct cobs_cmd {
	uint64_t id;
	char node[256];
	cobs_command_kind kind;
	cobs_profile_request profile; /* kind PROFILE */
	uint8_t *echo;                /* kind ECHO */
	size_t echo_len;
	cobs_cmd_state state;
	int64_t created_ms;  /* wall clock */
	int64_t deadline_ms; /* wall clock, as sent to the agent */
	int64_t finished_ms; /* wall clock; 0 while pending */
	cobs_result_kind result_kind;
	uint8_t *result; /* NUL-terminated copy of the result data */
	size_t result_len;
	/* private */
	uint64_t deadline_mono, finished_mono;
	struct cobs_cmd *older, *newer;
} cobs_cmd;

/* What cobs_commands_create may refuse. */
enum {
	COBS_CMD_ENOSTREAM = -1, /* 409: the node has no open stream */
	COBS_CMD_EFULL = -2,     /* 503: too many commands pending */
	COBS_CMD_ENOMEM = -3,
	COBS_CMD_EINVAL = -4, /* 400: the command does not encode */
};
/* What cobs_commands_result may answer. */
enum {
	COBS_CMD_STORED = 0,
	COBS_CMD_ALREADY = 1,    /* a result came before: this one is ignored (a resend) */
	COBS_CMD_UNKNOWN = -10,  /* 404 */
	COBS_CMD_TOO_LATE = -11, /* 410: expired */
};

cobs_commands *cobs_commands_new(cobs_server *srv, h2o_context_t *ctx);
/* Frees the table and the timers (after the loop stopped; streams must be closed). */
void cobs_commands_free(cobs_commands *c);

/* Starts the streamed response for node on req (replacing its previous stream). 0 or -1. */
int cobs_commands_open_stream(cobs_commands *c, h2o_req_t *req, const char *node);
/* Ends every stream (drain). */
void cobs_commands_close_streams(cobs_commands *c);
size_t cobs_commands_stream_count(const cobs_commands *c);

/*
 * Creates a command for node from tmpl (kind and its fields; id and
 * deadline are set here; timeout_ms 0: the configured default) and sends it
 * down the node's stream. 0 with *out, or a COBS_CMD_E* code with err.
 */
int cobs_commands_create(cobs_commands *c, const char *node, const cobs_command *tmpl,
                         uint64_t timeout_ms, const cobs_cmd **out, cobs_error *err);
const cobs_cmd *cobs_commands_find(const cobs_commands *c, uint64_t id);
/* Records the agent's result. COBS_CMD_STORED / _ALREADY / _UNKNOWN / _TOO_LATE, or ENOMEM. */
int cobs_commands_result(cobs_commands *c, const cobs_command_result *r);

const char *cobs_cmd_state_name(cobs_cmd_state s);
const char *cobs_command_kind_name(cobs_command_kind k);

#endif
