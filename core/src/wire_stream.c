/*
 * The command side of the wire: Command and Heartbeat frames on the
 * server -> agent stream, CommandResult bodies back, and the gRPC-style
 * framing with an incremental deframer for the agent's streamed response,
 * whose bytes arrive in pieces of any size.
 */
#include <stdlib.h>
#include <string.h>

#include "cobs.pb-c.h"
#include "wire_internal.h"

#define FRAME_PREFIX 5

/* ---- framing ---- */

static void put_prefix(uint8_t *p, uint32_t n)
{
	p[0] = 0; /* not compressed */
	p[1] = (uint8_t)(n >> 24);
	p[2] = (uint8_t)(n >> 16);
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
}

int cobs_wire_frame(const uint8_t *msg, size_t len, cobs_buf *out)
{
	if (len > UINT32_MAX || cobs_buf_reserve(out, FRAME_PREFIX + len) < 0)
		return -1;
	uint8_t *p = (uint8_t *)out->data + out->len;
	put_prefix(p, (uint32_t)len);
	if (len)
		memcpy(p + FRAME_PREFIX, msg, len);
	out->len += FRAME_PREFIX + len;
	out->data[out->len] = '\0';
	return 0;
}

/* Packs msg straight behind its prefix, without an intermediate copy. */
static int frame_message(const ProtobufCMessage *msg, cobs_buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (n > COBS_WIRE_MAX_FRAME || cobs_buf_reserve(out, FRAME_PREFIX + n) < 0)
		return -1;
	uint8_t *p = (uint8_t *)out->data + out->len;
	put_prefix(p, (uint32_t)n);
	protobuf_c_message_pack(msg, p + FRAME_PREFIX);
	out->len += FRAME_PREFIX + n;
	out->data[out->len] = '\0';
	return 0;
}

void cobs_deframer_init(cobs_deframer *d, size_t max_frame)
{
	*d = (cobs_deframer){.max = max_frame ? max_frame : COBS_WIRE_MAX_FRAME};
}

void cobs_deframer_free(cobs_deframer *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->off = d->cap = 0;
}

int cobs_deframer_feed(cobs_deframer *d, const uint8_t *data, size_t len)
{
	if (d->failed || len == 0)
		return 0; /* a failed stream is read no further */
	if (d->off) {
		/* Messages handed out are dropped only now: their pointers lived until this feed.
		 */
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	if (len > SIZE_MAX - d->len)
		return -1;
	if (d->cap - d->len < len) {
		size_t cap = d->cap ? d->cap : 4096;
		while (cap - d->len < len) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		uint8_t *b = realloc(d->buf, cap);
		if (!b)
			return -1;
		d->buf = b;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, data, len);
	d->len += len;
	return 0;
}

static int deframer_error(const cobs_deframer *d, cobs_error *err)
{
	if (d->failed == 1)
		return cobs_error_set(err,
		                      "command stream frame of %llu bytes is over the limit of %zu",
		                      (unsigned long long)d->bad_size, d->max);
	return cobs_error_set(err,
	                      "command stream frame has flag byte %llu: compressed frames "
	                      "are not supported",
	                      (unsigned long long)d->bad_size);
}

int cobs_deframer_next(cobs_deframer *d, const uint8_t **msg, size_t *len, cobs_error *err)
{
	if (d->failed)
		return deframer_error(d, err);
	size_t avail = d->len - d->off;
	if (avail < FRAME_PREFIX)
		return 0;
	const uint8_t *p = d->buf + d->off;
	if (p[0] != 0) {
		d->failed = 2;
		d->bad_size = p[0];
		return deframer_error(d, err);
	}
	uint32_t n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	/* Refused on its prefix alone: an oversize frame is never buffered. */
	if (n > d->max) {
		d->failed = 1;
		d->bad_size = n;
		return deframer_error(d, err);
	}
	if (avail - FRAME_PREFIX < n)
		return 0;
	*msg = p + FRAME_PREFIX;
	*len = n;
	d->off += FRAME_PREFIX + n;
	return 1;
}

/* ---- commands ---- */

/* A fixed char array of the struct as a C string, refused when it fills the array. */
static int field_string(const char *s, size_t size, const char *what, cobs_error *err)
{
	if (strnlen(s, size) == size)
		return cobs_error_set(err, "%s does not fit in %zu bytes", what, size - 1);
	return 0;
}

int cobs_wire_frame_command(const cobs_command *c, cobs_buf *out, cobs_error *err)
{
	Cobs__V1__StreamMessage sm;
	Cobs__V1__Command m;
	Cobs__V1__ProfileRequest p;
	Cobs__V1__Echo e;
	cobs__v1__stream_message__init(&sm);
	cobs__v1__command__init(&m);
	m.id = c->id;
	m.deadline_ms = c->deadline_ms;
	switch (c->kind) {
	case COBS_COMMAND_PROFILE:
		if (field_string(c->profile.namespace_, sizeof(c->profile.namespace_), "namespace",
		                 err) < 0 ||
		    field_string(c->profile.pod, sizeof(c->profile.pod), "pod", err) < 0 ||
		    field_string(c->profile.pod_uid, sizeof(c->profile.pod_uid), "pod uid", err) <
		            0)
			return -1;
		cobs__v1__profile_request__init(&p);
		p.duration_s = c->profile.duration_s;
		p.frequency_hz = c->profile.frequency_hz;
		p.namespace_ = (char *)c->profile.namespace_;
		p.pod = (char *)c->profile.pod;
		p.pod_uid = (char *)c->profile.pod_uid;
		p.pid = c->profile.pid;
		m.kind_case = COBS__V1__COMMAND__KIND_PROFILE;
		m.profile = &p;
		break;
	case COBS_COMMAND_ECHO:
		if (c->echo_len > COBS_WIRE_MAX_ECHO)
			return cobs_error_set(err,
			                      "echo payload of %zu bytes is over the limit of %u",
			                      c->echo_len, COBS_WIRE_MAX_ECHO);
		cobs__v1__echo__init(&e);
		e.payload = (ProtobufCBinaryData){.len = c->echo_len, .data = (uint8_t *)c->echo};
		m.kind_case = COBS__V1__COMMAND__KIND_ECHO;
		m.echo = &e;
		break;
	default:
		return cobs_error_set(err, "command %llu has no known kind (%d)",
		                      (unsigned long long)c->id, (int)c->kind);
	}
	sm.message_case = COBS__V1__STREAM_MESSAGE__MESSAGE_COMMAND;
	sm.command = &m;
	if (frame_message(&sm.base, out) < 0)
		return cobs_error_set(err, "out of memory framing command %llu",
		                      (unsigned long long)c->id);
	return 0;
}

int cobs_wire_frame_heartbeat(int64_t timestamp_ms, cobs_buf *out)
{
	Cobs__V1__StreamMessage sm;
	Cobs__V1__Heartbeat h;
	cobs__v1__stream_message__init(&sm);
	cobs__v1__heartbeat__init(&h);
	h.timestamp_ms = timestamp_ms;
	sm.message_case = COBS__V1__STREAM_MESSAGE__MESSAGE_HEARTBEAT;
	sm.heartbeat = &h;
	return frame_message(&sm.base, out);
}

/* Copies a decoded string into a fixed array, refusing what does not fit. */
static int copy_field(char *dst, size_t size, const char *src, const char *what, cobs_error *err)
{
	size_t n = strlen(src);
	if (n >= size)
		return cobs_error_set(err,
		                      "profile command: %s has %zu bytes, over the limit of %zu",
		                      what, n, size - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

static int decode_command(const Cobs__V1__Command *m, cobs_command *c, cobs_error *err)
{
	c->id = m->id;
	c->deadline_ms = m->deadline_ms;
	switch (m->kind_case) {
	case COBS__V1__COMMAND__KIND_PROFILE: {
		const Cobs__V1__ProfileRequest *p = m->profile;
		cobs_profile_request *q = &c->profile;
		c->kind = COBS_COMMAND_PROFILE;
		q->duration_s = p->duration_s;
		q->frequency_hz = p->frequency_hz;
		q->pid = p->pid;
		if (copy_field(q->namespace_, sizeof(q->namespace_), p->namespace_, "namespace",
		               err) < 0 ||
		    copy_field(q->pod, sizeof(q->pod), p->pod, "pod", err) < 0 ||
		    copy_field(q->pod_uid, sizeof(q->pod_uid), p->pod_uid, "pod uid", err) < 0)
			return -1;
		return 0;
	}
	case COBS__V1__COMMAND__KIND_ECHO:
		c->kind = COBS_COMMAND_ECHO;
		if (m->echo->payload.len > COBS_WIRE_MAX_ECHO)
			return cobs_error_set(
			        err,
			        "echo command: payload of %zu bytes is over the limit "
			        "of %u",
			        m->echo->payload.len, COBS_WIRE_MAX_ECHO);
		if (m->echo->payload.len)
			memcpy(c->echo, m->echo->payload.data, m->echo->payload.len);
		c->echo_len = m->echo->payload.len;
		return 0;
	default:
		/* A newer server's kind: keep the id so the agent can answer. */
		c->kind = COBS_COMMAND_UNKNOWN;
		return 0;
	}
}

int cobs_wire_decode_stream(const uint8_t *msg, size_t len, cobs_command *c, int64_t *heartbeat_ms,
                            cobs_error *err)
{
	memset(c, 0, sizeof(*c));
	*heartbeat_ms = 0;
	if (!msg && len)
		return cobs_error_set(err, "no stream message");
	wire_arena a;
	wire_arena_init(&a, wire_unpack_cap(len));
	Cobs__V1__StreamMessage *m = cobs__v1__stream_message__unpack(&a.pc, len, msg);
	int rc;
	if (!m) {
		rc = a.over ? cobs_error_set(err, "stream message of %zu bytes: out of memory", len)
		            : cobs_error_set(err,
		                             "malformed stream message (truncated or corrupt)");
	} else if (m->message_case == COBS__V1__STREAM_MESSAGE__MESSAGE_COMMAND) {
		rc = decode_command(m->command, c, err) < 0 ? -1 : COBS_STREAM_COMMAND;
	} else if (m->message_case == COBS__V1__STREAM_MESSAGE__MESSAGE_HEARTBEAT) {
		*heartbeat_ms = m->heartbeat->timestamp_ms;
		rc = COBS_STREAM_HEARTBEAT;
	} else {
		rc = COBS_STREAM_OTHER;
	}
	wire_arena_free(&a);
	if (rc < 0)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* ---- results ---- */

int cobs_wire_encode_result(const cobs_command_result *r, const cobs_wire_opts *opts, cobs_buf *out,
                            cobs_error *err)
{
	Cobs__V1__CommandResult m;
	cobs__v1__command_result__init(&m);
	m.id = r->id;
	ProtobufCBinaryData bin = {.len = r->len, .data = (uint8_t *)r->data};
	if (!r->data)
		bin.len = 0;
	char *text = NULL;
	switch (r->kind) {
	case COBS_RESULT_PROFILE:
		m.result_case = COBS__V1__COMMAND_RESULT__RESULT_PROFILE;
		m.profile = bin;
		break;
	case COBS_RESULT_ECHO:
		m.result_case = COBS__V1__COMMAND_RESULT__RESULT_ECHO;
		m.echo = bin;
		break;
	case COBS_RESULT_ERROR:
		/* protobuf-c takes a C string: terminate a copy. */
		if (!(text = malloc(bin.len + 1)))
			return cobs_error_set(err, "out of memory encoding a result");
		if (bin.len)
			memcpy(text, bin.data, bin.len);
		text[bin.len] = '\0';
		m.result_case = COBS__V1__COMMAND_RESULT__RESULT_ERROR;
		m.error = text;
		break;
	default:
		return cobs_error_set(err, "result for command %llu has no known kind (%d)",
		                      (unsigned long long)r->id, (int)r->kind);
	}
	int rc = wire_seal(&m.base, opts, out, err);
	free(text);
	return rc;
}

int cobs_wire_decode_result(const uint8_t *data, size_t len, cobs_command_result *r,
                            cobs_buf *payload, cobs_error *err)
{
	memset(r, 0, sizeof(*r));
	cobs_buf_clear(payload);
	wire_arena a;
	wire_arena_init(&a, len + 4096);
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	uint8_t *owned = NULL;
	int rc = wire_open(data, len, &a, "result", &raw, &raw_len, &owned, err);
	if (rc == 0) {
		a.cap = a.used + wire_unpack_cap(raw_len);
		Cobs__V1__CommandResult *m = cobs__v1__command_result__unpack(&a.pc, raw_len, raw);
		const uint8_t *p = NULL;
		size_t n = 0;
		if (!m) {
			rc = a.over ? cobs_error_set(err, "result of %zu bytes: out of memory",
			                             raw_len)
			            : cobs_error_set(err, "malformed result: not a protobuf "
			                                  "CommandResult (truncated or corrupt)");
		} else if (m->result_case == COBS__V1__COMMAND_RESULT__RESULT_PROFILE) {
			r->kind = COBS_RESULT_PROFILE;
			p = m->profile.data;
			n = m->profile.len;
		} else if (m->result_case == COBS__V1__COMMAND_RESULT__RESULT_ECHO) {
			r->kind = COBS_RESULT_ECHO;
			p = m->echo.data;
			n = m->echo.len;
		} else if (m->result_case == COBS__V1__COMMAND_RESULT__RESULT_ERROR) {
			r->kind = COBS_RESULT_ERROR;
			p = (const uint8_t *)m->error;
			n = strlen(m->error);
		} else {
			rc = cobs_error_set(err, "result for command %llu carries no known kind",
			                    (unsigned long long)m->id);
		}
		if (rc == 0) {
			r->id = m->id;
			/* Append even when empty, so payload->data is a valid "" . */
			if (cobs_buf_append(payload, (const char *)p, n) < 0)
				rc = cobs_error_set(err, "out of memory decoding a result");
			r->data = (const uint8_t *)payload->data;
			r->len = n;
		}
	}
	free(owned);
	wire_arena_free(&a);
	if (rc < 0)
		memset(r, 0, sizeof(*r));
	return rc;
}
