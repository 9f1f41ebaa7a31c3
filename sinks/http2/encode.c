/*
 * Batch -> request bodies for the http2 sink (see encode.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cobs/log.h>

#include "backoff.h"
#include "encode.h"

#ifndef COBS_VERSION
#define COBS_VERSION "unknown"
#endif

/* What the wire's decoder accepts as a node name (and a URL path segment needs). */
static int node_ok(const char *n)
{
	size_t len = strlen(n);
	if (len < 1 || len > COBS_WIRE_MAX_NODE)
		return 0;
	for (const char *p = n; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '/')
			return 0;
	return 1;
}

/* This build's version and a fresh boot id in m. */
static void new_identity(cobs_wire_meta *m)
{
	snprintf(m->agent_version, sizeof(m->agent_version), "%s", COBS_VERSION);
	/* A new id per start: the server tells a restart (sequence from 1 again) from a replay. */
	uint8_t id[16];
	h2_random_bytes(id, sizeof(id));
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(m->boot_id + 2 * i, 3, "%02x", id[i]);
}

int h2_encoder_init(h2_encoder *e, const char *who, const char *node, uint64_t max_batch,
                    cobs_error *err)
{
	memset(e, 0, sizeof(*e));
	e->who = who;
	e->max_batch = max_batch;
	e->next_seq = 1;
	if (!node || !node_ok(node))
		return cobs_error_set(err,
		                      "the node name '%s' cannot be sent: 1 to %u printable ASCII "
		                      "bytes without space or '/' (set [agent] node)",
		                      node ? node : "", COBS_WIRE_MAX_NODE);
	snprintf(e->meta.node, sizeof(e->meta.node), "%s", node);
	new_identity(&e->meta);
	return 0;
}

void h2_encoder_free(h2_encoder *e)
{
	cobs_buf_free(&e->buf);
	h2_peers_free(&e->peers);
}

/* The time since this source's previous batch (0 for its first): its interval. */
static uint64_t interval_ms(h2_encoder *e, const cobs_batch *b)
{
	const char *src = b->source ? b->source : "";
	if (!b->monotonic_ns)
		return 0;
	for (size_t i = 0; i < e->nsources; i++) {
		if (strcmp(e->sources[i].name, src) != 0)
			continue;
		uint64_t last = e->sources[i].last_ns;
		e->sources[i].last_ns = b->monotonic_ns;
		return b->monotonic_ns > last ? (b->monotonic_ns - last + 500000u) / 1000000u : 0;
	}
	if (e->nsources < H2_MAX_SOURCES) {
		snprintf(e->sources[e->nsources].name, sizeof(e->sources[0].name), "%s", src);
		e->sources[e->nsources++].last_ns = b->monotonic_ns;
	}
	return 0;
}

/* Whose meta and sequence a body goes out under: the agent's own, or a peer's. */
typedef struct ident {
	cobs_wire_meta *meta;
	uint64_t *next_seq;
} ident;

/* A batch with families [flo, fhi) of b whole, or (shi > 0) samples [slo, shi) of family flo. */
static cobs_batch *part_of(const cobs_batch *b, size_t flo, size_t fhi, size_t slo, size_t shi)
{
	cobs_batch *p = cobs_batch_new();
	if (!p)
		return NULL;
	p->timestamp_ms = b->timestamp_ms;
	p->monotonic_ns = b->monotonic_ns;
	p->node = b->node;
	p->source = b->source;
	for (size_t i = flo; i < fhi; i++) {
		const cobs_family *f = b->families[i];
		size_t lo = shi ? slo : 0, hi = shi ? shi : f->nsamples;
		cobs_family *nf = cobs_batch_family(p, f->name, f->help, f->unit, f->type);
		if (!nf)
			goto fail;
		for (size_t k = lo; k < hi; k++) {
			const cobs_sample *s = &f->samples[k];
			if (cobs_family_add(p, nf, s->value, s->labels, s->nlabels) < 0)
				goto fail;
		}
	}
	return p;
fail:
	cobs_batch_free(p);
	return NULL;
}

static int encode_range(h2_encoder *e, const ident *id, const cobs_batch *b, size_t flo, size_t fhi,
                        size_t slo, size_t shi, uint64_t dropped, h2_emit_fn emit, void *arg);

/* Encodes b whole if it fits, else its two halves. */
static int encode_one(h2_encoder *e, const ident *id, const cobs_batch *b, size_t nsamples,
                      uint64_t dropped, h2_emit_fn emit, void *arg)
{
	cobs_error err = {{0}};
	cobs_buf_clear(&e->buf);
	id->meta->sequence = *id->next_seq;
	id->meta->dropped = dropped;
	int omitted = cobs_wire_encode_batch(b, id->meta, NULL, &e->buf, &err);
	if (omitted >= 0 && e->buf.len <= e->max_batch) {
		e->omitted += (uint64_t)omitted;
		/* A body the spool could not keep is counted there as dropped: its sequence
		 * number is spent all the same, so the server's gap matches the count. */
		int rc = emit(arg, *id->next_seq, (const uint8_t *)e->buf.data, e->buf.len);
		(*id->next_seq)++;
		return rc;
	}
	/* Too large (over max_batch or the wire's own limits): halves, down to one sample. */
	if (nsamples > 1 && b->nfamilies >= 1) {
		if (b->nfamilies > 1)
			return encode_range(e, id, b, 0, b->nfamilies, 0, 0, dropped, emit, arg);
		return encode_range(e, id, b, 0, 1, 0, b->families[0]->nsamples, dropped, emit,
		                    arg);
	}
	if (omitted >= 0) {
		e->too_big++;
		cobs_log(COBS_LOG_ERROR, e->who,
		         "a single sample of %s encodes to %zu bytes, over max_batch; dropped",
		         b->nfamilies ? b->families[0]->name : "?", e->buf.len);
	} else {
		e->failed++;
		cobs_log(COBS_LOG_ERROR, e->who, "cannot encode a batch from %s: %s; dropped",
		         b->source ? b->source : "?", err.msg);
	}
	return -1;
}

static size_t samples_in(const cobs_batch *b)
{
	return cobs_batch_samples(b);
}

static int encode_range(h2_encoder *e, const ident *id, const cobs_batch *b, size_t flo, size_t fhi,
                        size_t slo, size_t shi, uint64_t dropped, h2_emit_fn emit, void *arg)
{
	int rc = 0;
	for (int half = 0; half < 2; half++) {
		cobs_batch *p;
		if (fhi - flo > 1) {
			size_t mid = flo + (fhi - flo) / 2;
			p = half ? part_of(b, mid, fhi, 0, 0) : part_of(b, flo, mid, 0, 0);
		} else {
			size_t mid = slo + (shi - slo) / 2;
			p = half ? part_of(b, flo, fhi, mid, shi) : part_of(b, flo, fhi, slo, mid);
		}
		if (!p) {
			e->failed++;
			cobs_log(COBS_LOG_ERROR, e->who,
			         "out of memory splitting a batch; dropped");
			return -1;
		}
		/* the first half never ends the collection; the second does if b does */
		p->more = half ? b->more : true;
		if (encode_one(e, id, p, samples_in(p), dropped, emit, arg) < 0)
			rc = -1;
		cobs_batch_free(p);
	}
	return rc;
}

/*
 * The identity of another node's batch, created on its first (NULL when it
 * cannot be sent: a bad name, out of memory, too many nodes), with its
 * interval set.
 */
static h2_peer *peer_for(h2_encoder *e, const cobs_batch *b)
{
	h2_peer *p = h2_peers_find(&e->peers, b->node);
	if (!p) {
		if (!node_ok(b->node) || !(p = h2_peers_add(&e->peers, b->node)))
			return NULL;
		new_identity(&p->meta);
		p->next_seq = 1;
	}
	uint64_t now = b->monotonic_ns;
	p->meta.interval_ms =
	        p->last_ns && now > p->last_ns ? (now - p->last_ns + 500000u) / 1000000u : 0;
	p->last_ns = now;
	return p;
}

int h2_encode(h2_encoder *e, const cobs_batch *b, uint64_t dropped, h2_emit_fn emit, void *arg)
{
	ident id = {&e->meta, &e->next_seq};
	if (b->node && strcmp(b->node, e->meta.node) != 0) {
		h2_peer *p = peer_for(e, b);
		if (!p) {
			e->failed++;
			cobs_log(COBS_LOG_ERROR, e->who,
			         "cannot send a batch of node '%s' (a bad name, out of memory, or "
			         "over %u nodes); dropped",
			         b->node, H2_MAX_PEERS);
			return -1;
		}
		id = (ident){&p->meta, &p->next_seq};
	} else {
		e->meta.interval_ms = interval_ms(e, b);
	}
	uint64_t before = *id.next_seq;
	int rc = encode_one(e, &id, b, samples_in(b), dropped, emit, arg);
	if (*id.next_seq - before > 1)
		e->splits++;
	return rc;
}
