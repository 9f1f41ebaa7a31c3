/* SPDX-License-Identifier: MIT */
/*
 * The command endpoints (h2o thread; the table lives here, see commands.h):
 *   GET  /api/v1/agents/{node}/commands  the agent's stream
 *   POST /api/v1/commands                {"node","kind","payload"|profile fields,
 *                                        "timeout_ms"} -> 202 {"id",...}; 409 when
 *                                        the node has no open stream
 *   GET  /api/v1/commands/{id}           state (pending/done/failed/expired), result
 *   POST /api/v1/commands/{id}/result    the agent's CommandResult (protobuf Envelope)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cobs/wire.h>

#include "commands.h"
#include "registry.h"
#include "respond.h"
#include "routes.h"

#define MAX_TIMEOUT_MS (24ull * 3600 * 1000)

/* A decimal id from a path segment. 0 when it is not one. */
static uint64_t parse_id(const char *s)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
		return 0;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	return errno ? 0 : (uint64_t)v;
}

int cobs_route_command_stream(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	const char *node = a->arg[0];
	if (!cobs_node_name_ok(node)) {
		cobs_respond_json_error(req, 400,
		                        "bad node name (1-253 printable ASCII, no space or '/')");
		return 0;
	}
	if (atomic_load(&srv->draining)) {
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_json_error(req, 503, "server is shutting down");
		return 0;
	}
	if (cobs_commands_open_stream(srv->commands, req, node) < 0)
		cobs_respond_json_error(req, 503, "out of memory");
	return 0;
}

/* Copies a JSON string field into buf (cap with NUL). 0 absent, 1 set, -1 wrong type or too long.
 */
static int str_field(json_t *o, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

/* An unsigned JSON integer field within [0, max] (absent: 0). 0 absent, 1 set, -1 wrong. */
static int uint_field(json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

/* Fills cmd from the request body; NULL, or why it is refused. */
static const char *parse_create(json_t *o, char *node, size_t nodecap, cobs_command *cmd,
                                uint64_t *timeout_ms)
{
	char kind[16];
	uint64_t u;
	if (!json_is_object(o))
		return "the body must be a JSON object";
	if (str_field(o, "node", node, nodecap) != 1 || !cobs_node_name_ok(node))
		return "\"node\" must be a node name (1-253 printable ASCII, no space or '/')";
	if (str_field(o, "kind", kind, sizeof(kind)) != 1)
		return "\"kind\" must be \"echo\" or \"profile\"";
	if (uint_field(o, "timeout_ms", MAX_TIMEOUT_MS, timeout_ms) < 0 ||
	    (*timeout_ms && *timeout_ms < 100))
		return "\"timeout_ms\" must be an integer from 100 to 86400000";
	if (strcmp(kind, "echo") == 0) {
		cmd->kind = COBS_COMMAND_ECHO;
		json_t *p = json_object_get(o, "payload");
		if (p && !json_is_null(p)) {
			if (!json_is_string(p) || json_string_length(p) > COBS_WIRE_MAX_ECHO)
				return "\"payload\" must be a string of at most 4096 bytes";
			cmd->echo_len = json_string_length(p);
			memcpy(cmd->echo, json_string_value(p), cmd->echo_len);
		}
		return NULL;
	}
	if (strcmp(kind, "profile") != 0)
		return "\"kind\" must be \"echo\" or \"profile\"";
	cobs_profile_request *pr = &cmd->profile;
	cmd->kind = COBS_COMMAND_PROFILE;
	if (str_field(o, "namespace", pr->namespace_, sizeof(pr->namespace_)) < 0 ||
	    str_field(o, "pod", pr->pod, sizeof(pr->pod)) < 0 ||
	    str_field(o, "pod_uid", pr->pod_uid, sizeof(pr->pod_uid)) < 0)
		return "\"namespace\", \"pod\" and \"pod_uid\" must be strings of Kubernetes size";
	if (uint_field(o, "pid", UINT32_MAX, &u) < 0)
		return "\"pid\" must be a process id";
	pr->pid = (uint32_t)u;
	if (uint_field(o, "duration_s", 3600, &u) < 0)
		return "\"duration_s\" must be an integer from 0 to 3600";
	pr->duration_s = (uint32_t)u;
	if (uint_field(o, "frequency_hz", 100000, &u) < 0)
		return "\"frequency_hz\" must be an integer from 0 to 100000";
	pr->frequency_hz = (uint32_t)u;
	if (!pr->pid && !*pr->pod)
		return "a profile needs \"pid\", or \"namespace\" and \"pod\"";
	return NULL;
}

/* Answers with o as JSON (and releases it). */
static void respond_json(h2o_req_t *req, int status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text) {
		cobs_respond_json_error(req, 503, "out of memory");
		return;
	}
	cobs_buf body = {text, strlen(text), strlen(text) + 1};
	if (cobs_buf_append(&body, "\n", 1) < 0) {
		free(text);
		cobs_respond_json_error(req, 503, "out of memory");
		return;
	}
	cobs_respond_take(req, status, "application/json", &body);
}

int cobs_route_command_create(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	(void)a;
	json_error_t jerr;
	json_t *o = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len,
	                       JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		cobs_respond_json_error(req, 400, "the body is not JSON: %s (line %d)", jerr.text,
		                        jerr.line);
		return 0;
	}
	char node[256];
	uint64_t timeout_ms = 0;
	cobs_command *cmd = calloc(1, sizeof(*cmd));
	if (!cmd) {
		json_decref(o);
		cobs_respond_json_error(req, 503, "out of memory");
		return 0;
	}
	const char *why = parse_create(o, node, sizeof(node), cmd, &timeout_ms);
	json_decref(o);
	if (why) {
		free(cmd);
		cobs_respond_json_error(req, 400, "%s", why);
		return 0;
	}
	const cobs_cmd *m;
	cobs_error err = {{0}};
	int rc = cobs_commands_create(srv->commands, node, cmd, timeout_ms, &m, &err);
	free(cmd);
	switch (rc) {
	case 0:
		respond_json(req, 202,
		             json_pack("{s:I,s:s,s:s,s:I}", "id", (json_int_t)m->id, "node",
		                       m->node, "state", cobs_cmd_state_name(m->state),
		                       "deadline_ms", (json_int_t)m->deadline_ms));
		return 0;
	case COBS_CMD_ENOSTREAM:
		cobs_stat_add(&srv->stats.commands_rejected, 1);
		cobs_respond_json_error(req, 409, "%s", err.msg);
		return 0;
	case COBS_CMD_EINVAL:
		cobs_respond_json_error(req, 400, "%s", err.msg);
		return 0;
	default:
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_json_error(req, 503, "%s", err.msg);
		return 0;
	}
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* data as base64 in a new JSON string (NULL when out of memory). */
static json_t *base64(const uint8_t *data, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	json_t *s = json_stringn_nocheck(out, o);
	free(out);
	return s;
}

static const char *result_kind_name(cobs_result_kind k)
{
	switch (k) {
	case COBS_RESULT_PROFILE:
		return "profile";
	case COBS_RESULT_ERROR:
		return "error";
	case COBS_RESULT_ECHO:
		return "echo";
	}
	return "unknown";
}

static json_t *command_json(const cobs_cmd *m)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I}", "id", (json_int_t)m->id, "node", m->node,
	                      "kind", cobs_command_kind_name(m->kind), "state",
	                      cobs_cmd_state_name(m->state), "created_ms",
	                      (json_int_t)m->created_ms, "deadline_ms", (json_int_t)m->deadline_ms);
	if (!o)
		return NULL;
	json_t *fin = m->finished_ms ? json_integer(m->finished_ms) : json_null();
	json_t *res = json_null();
	if (m->result) {
		/* text when it is UTF-8 (echo payloads, error messages, folded stacks) */
		json_t *data = json_stringn((const char *)m->result, m->result_len);
		res = json_pack("{s:s,s:I,s:o}", "kind", result_kind_name(m->result_kind), "size",
		                (json_int_t)m->result_len, data ? "data" : "data_base64",
		                data ? data : base64(m->result, m->result_len));
	}
	if (json_object_set_new(o, "finished_ms", fin) < 0 ||
	    json_object_set_new(o, "result", res) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int cobs_route_command_get(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	uint64_t id = parse_id(a->arg[0]);
	const cobs_cmd *m = id ? cobs_commands_find(srv->commands, id) : NULL;
	if (!m) {
		cobs_respond_json_error(req, 404,
		                        "no command %s (unknown, or finished over %d "
		                        "minutes ago)",
		                        a->arg[0], COBS_COMMANDS_KEEP_MS / 60000);
		return 0;
	}
	respond_json(req, 200, command_json(m));
	return 0;
}

int cobs_route_command_result(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	uint64_t id = parse_id(a->arg[0]);
	if (!id) {
		cobs_respond_text(req, 404, "no command %s", a->arg[0]);
		return 0;
	}
	cobs_command_result r;
	cobs_buf payload = {0};
	cobs_error err = {{0}};
	if (cobs_wire_decode_result((const uint8_t *)(req->entity.base ? req->entity.base : ""),
	                            req->entity.len, &r, &payload, &err) < 0) {
		cobs_buf_free(&payload);
		cobs_respond_text(req, 400, "bad result: %s", err.msg);
		return 0;
	}
	if (r.id != id) {
		cobs_buf_free(&payload);
		cobs_respond_text(req, 400, "bad result: it answers command %llu, posted for %llu",
		                  (unsigned long long)r.id, (unsigned long long)id);
		return 0;
	}
	int rc = cobs_commands_result(srv->commands, &r);
	cobs_buf_free(&payload);
	switch (rc) {
	case COBS_CMD_STORED:
	case COBS_CMD_ALREADY:
		cobs_respond(req, 204, "text/plain", NULL, 0);
		break;
	case COBS_CMD_UNKNOWN:
		cobs_respond_text(req, 404, "no command %llu", (unsigned long long)id);
		break;
	case COBS_CMD_TOO_LATE:
		cobs_respond_text(req, 410, "command %llu expired before its result came",
		                  (unsigned long long)id);
		break;
	default:
		cobs_respond_header(req, "retry-after", "1");
		cobs_respond_text(req, 503, "out of memory");
		break;
	}
	return 0;
}
