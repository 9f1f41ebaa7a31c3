/*
 * The command stream: GET /api/v1/agents/{node}/commands kept open on the
 * sink's one connection, its length-prefixed frames deframed and decoded
 * (<cobs/wire.h>), each command dispatched to the handler registered for
 * its kind, and each answer POSTed to /api/v1/commands/{id}/result.
 *
 * Every command gets exactly one answer: a kind nobody registered, a kind
 * this build does not know (a newer server) and a command past its deadline
 * are answered with an error result, never with silence. The built-in kind
 * is echo (the payload back, unchanged); h2_commands_register is the hook
 * for the rest (profile, with the perf plugin), shaped like the host API
 * proposed for <cobs/plugin.h> so it can move there unchanged.
 */
#ifndef COBS_HTTP2_COMMANDS_H
#define COBS_HTTP2_COMMANDS_H

#include <stdint.h>

#include <cobs/config.h>
#include <cobs/wire.h>

#include "transport.h"

struct event_base;

typedef struct h2_commands h2_commands;

/* A pending answer: pass it to h2_reply_send exactly once, now or later (on the loop). */
typedef struct h2_reply h2_reply;
/* Runs on the loop and must not block; slow work answers later through reply. */
typedef void (*h2_command_handler)(void *state, const cobs_command *cmd, h2_reply *reply);
/* Sends the answer (copied) and frees reply. r->id is taken from the command. */
void h2_reply_send(h2_reply *reply, const cobs_command_result *r);

typedef struct h2_commands_stats {
	uint64_t received; /* commands decoded from the stream */
	uint64_t answered; /* results the server took */
	uint64_t refused;  /* commands answered with an error by the sink itself */
	uint64_t lost;     /* results that could not be delivered */
	uint64_t streams;  /* times the stream was opened (200) */
	bool open;         /* the stream is open now */
} h2_commands_stats;

h2_commands *h2_commands_new(struct event_base *base, h2_transport *t, const char *node,
                             const char *who, uint64_t backoff_min_ms, uint64_t backoff_max_ms,
                             cobs_error *err);
/* Opens the stream (and keeps reopening it). */
void h2_commands_start(h2_commands *c);
/* Cancels the stream and pending results; answers not sent yet are lost. Safe on NULL. */
void h2_commands_free(h2_commands *c);

/* Routes commands of kind to fn. 0, or -1 when the kind is out of range or taken. */
int h2_commands_register(h2_commands *c, cobs_command_kind kind, h2_command_handler fn,
                         void *state);

h2_commands_stats h2_commands_get_stats(const h2_commands *c);

#endif
