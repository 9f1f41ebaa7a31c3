/*
 * A batch to and from the wire (core/proto/cobs.proto, message Batch).
 *
 * Encoding interns every string once into the batch's string table and
 * every distinct label set once into its label-set table, where a set that
 * extends another (a process's {..., mode="user"}) names it as its parent
 * and adds only its own labels. A sample is then a one-byte delta to its
 * label set plus a value in the integer column (zigzag varints, scaled by
 * a per-family power of ten so CPU seconds in 1/100 s ticks are integers
 * too) or the double column. For a node of 50 pods and 300 processes this
 * is 11x smaller than repeating labels per sample before compression, 27x
 * after (bench/wire_bench.c).
 *
 * Most samples repeat a label set already seen (a process has ~30
 * families in the same order): the previous family's set at the same
 * position is compared first, then the set table is searched by hash.
 *
 * Decoding validates everything before it trusts it. Label sets are checked
 * once each, not once per sample; a name twice in a set is found through
 * ids given to label names by content, so a crafted set costs linear time.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cobs.pb-c.h"
#include "wire_internal.h"

/* ---- names and strings ---- */

static bool name_char(unsigned char c, bool colon, bool digit)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (digit && c >= '0' && c <= '9');
}

/* Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names without ':'. */
static bool prom_name_ok(const char *s, size_t n, bool colon)
{
	if (n == 0 || n > COBS_WIRE_MAX_NAME || !name_char((unsigned char)s[0], colon, false))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!name_char((unsigned char)s[i], colon, true))
			return false;
	return true;
}

/* Printable ASCII; the space only when space_ok. */
static bool printable(const char *s, size_t n, bool space_ok)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x7e || c < (space_ok ? 0x20 : 0x21))
			return false;
	}
	return true;
}

/* A node name goes into URLs (/api/v1/agents/{node}/...): no space, no '/'. */
static bool node_ok(const char *s, size_t n)
{
	return n >= 1 && n <= COBS_WIRE_MAX_NODE && printable(s, n, false) && !memchr(s, '/', n);
}

static bool unit_ok(const char *s, size_t n)
{
	return n <= COBS_WIRE_MAX_UNIT && printable(s, n, true);
}

/* ---- values ---- */

#define MAX_DECIMALS 15u
#define NO_DECIMALS  0xffu

/* Powers of ten, all exact in a double. */
static const double pow10_tab[MAX_DECIMALS + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* What a decoder computes from an integer-column entry. */
static double unscale(int64_t m, unsigned k)
{
	return k ? (double)m / pow10_tab[k] : (double)m;
}

/*
 * v as m / 10^k, when unscale(m, k) gives back v's exact bits (so -0.0 and
 * NaN never qualify). The check is the decoder's own arithmetic, so the
 * round trip is exact by construction, whatever the rounding on the way.
 */
static bool as_scaled(double v, unsigned k, int64_t *out)
{
	double x = v * pow10_tab[k];
	/* Also refuses NaN; 2^63 itself does not fit an int64. */
	if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
		return false;
	int64_t m = k ? llrint(x) : (int64_t)x;
	double back = unscale(m, k);
	if (memcmp(&back, &v, sizeof(v)) != 0)
		return false;
	*out = m;
	return true;
}

/* The fewest decimals that hold v exactly, or NO_DECIMALS. */
static uint8_t min_decimals(double v)
{
	int64_t m;
	for (unsigned k = 0; k <= MAX_DECIMALS; k++) {
		if (as_scaled(v, k, &m))
			return (uint8_t)k;
		if (!(fabs(v) * pow10_tab[k] < 9223372036854775808.0))
			break; /* more decimals only make it bigger (or it is NaN) */
	}
	return NO_DECIMALS;
}

static size_t zigzag_len(int64_t m)
{
	uint64_t z = ((uint64_t)m << 1) ^ (uint64_t)(m >> 63);
	size_t n = 1;
	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}

/*
 * The decimals that make a family's values smallest: each candidate (a
 * value's own fewest decimals) costs the varint of every value it holds and
 * 8 bytes for every value left to the double column. A family of ticks / 100
 * picks 2; one stray value with 12 decimals does not drag the rest to 12.
 */
static unsigned choose_decimals(const double *v, const uint8_t *kmin, size_t n)
{
	uint32_t seen = 0;
	for (size_t i = 0; i < n; i++)
		if (kmin[i] != NO_DECIMALS)
			seen |= 1u << kmin[i];
	if (seen <= 1)
		return 0; /* integers only, or nothing decimal at all */
	unsigned best = 0;
	size_t best_cost = SIZE_MAX;
	for (unsigned k = 0; k <= MAX_DECIMALS; k++) {
		if (!(seen & (1u << k)))
			continue;
		size_t cost = 0;
		for (size_t i = 0; i < n; i++) {
			double x = v[i] * pow10_tab[k];
			/* Out of an int64's range it stays a double (and the cast would be
			 * undefined). */
			bool fits = kmin[i] <= k && x >= -9223372036854775808.0 &&
			            x < 9223372036854775808.0;
			cost += fits ? zigzag_len((int64_t)x) : 8;
		}
		if (cost < best_cost) {
			best_cost = cost;
			best = k;
		}
	}
	return best;
}

/* ---- encoding ---- */

/*
 * Eight bytes at a time. The last bytes are read as whole words that may
 * overlap the ones before (as wyhash does) rather than copied byte by byte,
 * which stalled every call on a store-to-load forward: label values are
 * short and this runs for each of them.
 */
static uint64_t hash_bytes(const void *p, size_t len, uint64_t h)
{
	const unsigned char *s = p;
	uint64_t w = 0;
	h ^= len * 0x9e3779b97f4a7c15u;
	if (len > 8) {
		size_t left = len;
		while (left > 8) {
			memcpy(&w, s, 8);
			h = (h ^ w) * 0xff51afd7ed558ccdu;
			h ^= h >> 32;
			s += 8;
			left -= 8;
		}
		memcpy(&w, s + left - 8, 8);
	} else if (len >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + len - 4, 4);
		w = a | (uint64_t)b << 32;
	} else if (len) {
		w = s[0] | (uint64_t)s[len / 2] << 8 | (uint64_t)s[len - 1] << 16;
	}
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return h ^ (h >> 29);
}

/*
 * Label sets while encoding. A set is keyed by the labels of the first
 * sample that had it; sets get provisional ids in the order they are seen,
 * then parents (the longest earlier-seen set that is a prefix), then their
 * final numbers, parents first.
 */
typedef struct set_slot {
	uint64_t hash;
	const cobs_sample *first;
	int32_t id; /* provisional; -1: a decoder would refuse these labels */
	bool used;
} set_slot;

typedef struct set_info {
	const cobs_sample *first;
	int32_t parent; /* provisional id, or -1 */
	int32_t final;  /* number on the wire, or -1 until given */
} set_info;

typedef struct enc {
	ProtobufCBinaryData *strings;
	uint64_t *string_hash;
	size_t nstrings, strings_cap;
	uint32_t *str_slots; /* string index + 1; 0 empty */
	size_t str_mask;

	set_slot *set_slots;
	size_t set_mask, nset_slots;
	set_info *info;
	size_t ninfo, info_cap;
	uint32_t *words; /* the flattened label-set table */
	size_t nwords, words_cap;
	int32_t next_final;
} enc;

static void enc_free(enc *e)
{
	free(e->strings);
	free(e->string_hash);
	free(e->str_slots);
	free(e->set_slots);
	free(e->info);
	free(e->words);
}

static int str_table_grow(enc *e)
{
	size_t cap = e->str_mask ? (e->str_mask + 1) * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < e->nstrings; i++) {
		size_t j = e->string_hash[i] & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(e->str_slots);
	e->str_slots = slots;
	e->str_mask = cap - 1;
	return 0;
}

/* The index of s in the string table, added on first sight. -1 when out of memory. */
static int64_t intern(enc *e, const char *s, size_t n)
{
	if ((e->nstrings + 1) * 2 > e->str_mask + 1 && str_table_grow(e) < 0)
		return -1;
	uint64_t h = hash_bytes(s, n, 0);
	size_t j = h & e->str_mask;
	for (; e->str_slots[j]; j = (j + 1) & e->str_mask) {
		uint32_t i = e->str_slots[j] - 1;
		if (e->string_hash[i] == h && e->strings[i].len == n &&
		    memcmp(e->strings[i].data, s, n) == 0)
			return i;
	}
	if (e->nstrings == e->strings_cap) {
		size_t cap = e->strings_cap ? e->strings_cap * 2 : 512;
		ProtobufCBinaryData *st = realloc(e->strings, cap * sizeof(*st));
		if (!st)
			return -1;
		e->strings = st;
		uint64_t *sh = realloc(e->string_hash, cap * sizeof(*sh));
		if (!sh)
			return -1;
		e->string_hash = sh;
		e->strings_cap = cap;
	}
	/* The table points at the batch's own strings: nothing is copied. */
	e->strings[e->nstrings] = (ProtobufCBinaryData){.len = n, .data = (uint8_t *)s};
	e->string_hash[e->nstrings] = h;
	e->str_slots[j] = (uint32_t)e->nstrings + 1;
	return (int64_t)e->nstrings++;
}

static int words_push(enc *e, uint32_t w)
{
	if (e->nwords == e->words_cap) {
		size_t cap = e->words_cap ? e->words_cap * 2 : 1024;
		uint32_t *s = realloc(e->words, cap * sizeof(*s));
		if (!s)
			return -1;
		e->words = s;
		e->words_cap = cap;
	}
	e->words[e->nwords++] = w;
	return 0;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* hs[j] = the hash of s's first j labels, for j = 0..n (n <= COBS_WIRE_MAX_LABELS). */
static void prefix_hashes(const cobs_sample *s, size_t n, uint64_t *hs)
{
	uint64_t h = 0x2545f4914f6cdd1du;
	hs[0] = h;
	for (size_t i = 0; i < n; i++) {
		const char *a = str_or_empty(s->labels[i].name);
		const char *v = str_or_empty(s->labels[i].value);
		h = hash_bytes(a, strlen(a), h);
		h = hash_bytes(v, strlen(v), h);
		hs[i + 1] = h;
	}
}

/* Whether a's labels are b's first n labels. */
static bool same_prefix(const cobs_sample *a, const cobs_sample *b, size_t n)
{
	if (a->nlabels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(str_or_empty(a->labels[i].name), str_or_empty(b->labels[i].name)) ||
		    strcmp(str_or_empty(a->labels[i].value), str_or_empty(b->labels[i].value)))
			return false;
	return true;
}

/* Whether a decoder would take these labels. */
static bool labels_ok(const cobs_sample *s)
{
	if (s->nlabels > COBS_WIRE_MAX_LABELS)
		return false;
	for (size_t i = 0; i < s->nlabels; i++) {
		const char *n = str_or_empty(s->labels[i].name);
		if (!prom_name_ok(n, strlen(n), false) ||
		    strlen(str_or_empty(s->labels[i].value)) > COBS_WIRE_MAX_VALUE)
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(n, str_or_empty(s->labels[j].name)) == 0)
				return false;
	}
	return true;
}

static int set_table_grow(enc *e)
{
	size_t cap = e->set_mask ? (e->set_mask + 1) * 2 : 1024;
	set_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; e->set_mask && i <= e->set_mask; i++) {
		if (!e->set_slots[i].used)
			continue;
		size_t j = e->set_slots[i].hash & (cap - 1);
		while (slots[j].used)
			j = (j + 1) & (cap - 1);
		slots[j] = e->set_slots[i];
	}
	free(e->set_slots);
	e->set_slots = slots;
	e->set_mask = cap - 1;
	return 0;
}

/* The slot of the set with s's first n labels and hash h, or an empty slot. */
static set_slot *set_find(enc *e, const cobs_sample *s, size_t n, uint64_t h)
{
	size_t j = h & e->set_mask;
	for (; e->set_slots[j].used; j = (j + 1) & e->set_mask) {
		set_slot *sl = &e->set_slots[j];
		if (sl->hash == h && same_prefix(sl->first, s, n))
			return sl;
	}
	return &e->set_slots[j];
}

/*
 * The provisional id of s's label set, added on first sight; -1 when a
 * decoder would refuse the labels (the sample is left out), -2 when out of
 * memory. Most samples repeat a set already seen: one hash, one comparison.
 */
static int32_t label_set(enc *e, const cobs_sample *s)
{
	if (s->nlabels > COBS_WIRE_MAX_LABELS)
		return -1;
	if ((e->nset_slots + 1) * 2 > e->set_mask + 1 && set_table_grow(e) < 0)
		return -2;
	uint64_t hs[COBS_WIRE_MAX_LABELS + 1];
	prefix_hashes(s, s->nlabels, hs);
	set_slot *sl = set_find(e, s, s->nlabels, hs[s->nlabels]);
	if (sl->used)
		return sl->id;
	int32_t id = -1;
	if (labels_ok(s)) {
		if (e->ninfo == e->info_cap) {
			size_t cap = e->info_cap ? e->info_cap * 2 : 256;
			set_info *in = realloc(e->info, cap * sizeof(*in));
			if (!in)
				return -2;
			e->info = in;
			e->info_cap = cap;
		}
		id = (int32_t)e->ninfo;
		e->info[e->ninfo++] = (set_info){.first = s, .parent = -1, .final = -1};
	}
	*sl = (set_slot){.hash = hs[s->nlabels], .first = s, .id = id, .used = true};
	e->nset_slots++;
	return id;
}

/* Each set's parent: the longest proper prefix of its labels that is a set too. */
static void find_parents(enc *e)
{
	uint64_t hs[COBS_WIRE_MAX_LABELS + 1];
	for (size_t p = 0; p < e->ninfo; p++) {
		const cobs_sample *s = e->info[p].first;
		if (s->nlabels < 2)
			continue;
		prefix_hashes(s, s->nlabels - 1, hs);
		for (size_t j = s->nlabels - 1; j >= 1; j--) {
			set_slot *sl = set_find(e, s, j, hs[j]);
			if (sl->used && sl->id >= 0) {
				e->info[p].parent = sl->id;
				break;
			}
		}
	}
}

/* Gives set p its number and writes it to the table, after its unnumbered ancestors. */
static int emit_set(enc *e, int32_t p)
{
	int32_t chain[COBS_WIRE_MAX_LABELS + 1];
	size_t depth = 0;
	/* A parent has fewer labels than its child: the chain is short. */
	for (int32_t x = p; x >= 0 && e->info[x].final < 0; x = e->info[x].parent)
		chain[depth++] = x;
	while (depth--) {
		set_info *in = &e->info[chain[depth]];
		const cobs_sample *s = in->first;
		size_t from = 0;
		uint32_t parent_word = 0;
		if (in->parent >= 0) {
			from = e->info[in->parent].first->nlabels;
			parent_word = (uint32_t)e->info[in->parent].final + 1;
		}
		if (words_push(e, parent_word) < 0 ||
		    words_push(e, (uint32_t)(s->nlabels - from)) < 0)
			return -1;
		for (size_t i = from; i < s->nlabels; i++) {
			const char *n = str_or_empty(s->labels[i].name);
			const char *v = str_or_empty(s->labels[i].value);
			int64_t ni = intern(e, n, strlen(n));
			int64_t vi = intern(e, v, strlen(v));
			if (ni < 0 || vi < 0 || words_push(e, (uint32_t)ni) < 0 ||
			    words_push(e, (uint32_t)vi) < 0)
				return -1;
		}
		in->final = e->next_final++;
	}
	return 0;
}

/* Scratch columns for all samples, sliced per family. */
typedef struct columns {
	int32_t *sets; /* per sample: provisional set id, then the delta on the wire */
	int64_t *ints;
	double *floats;
	double *values; /* the kept samples' values, before they are sorted into columns */
	uint8_t *kmin;  /* their fewest decimals */
	uint8_t *masks;
	Cobs__V1__Family *fams;
	Cobs__V1__Family **fam_ptrs;
} columns;

static void columns_free(columns *c)
{
	free(c->sets);
	free(c->ints);
	free(c->floats);
	free(c->values);
	free(c->kmin);
	free(c->masks);
	free(c->fams);
	free(c->fam_ptrs);
}

static bool family_ok(const cobs_family *f)
{
	const char *name = str_or_empty(f->name), *help = str_or_empty(f->help),
	           *unit = str_or_empty(f->unit);
	return prom_name_ok(name, strlen(name), true) && strlen(help) <= COBS_WIRE_MAX_HELP &&
	       unit_ok(unit, strlen(unit)) && (unsigned)f->type <= COBS_INFO;
}

static const Cobs__V1__MetricType type_to_wire[] = {
        [COBS_GAUGE] = COBS__V1__METRIC_TYPE__METRIC_TYPE_GAUGE,
        [COBS_COUNTER] = COBS__V1__METRIC_TYPE__METRIC_TYPE_COUNTER,
        [COBS_INFO] = COBS__V1__METRIC_TYPE__METRIC_TYPE_INFO,
};

/*
 * Fills one Family message from f, its columns starting at *at in c; the
 * label-set column holds provisional ids until set_deltas. Returns the
 * samples left out, or -1 when out of memory.
 */
static int64_t encode_family(enc *e, const cobs_family *f, columns *c, size_t *at,
                             uint8_t **mask_at, const Cobs__V1__Family *prev, Cobs__V1__Family *m)
{
	int64_t name = intern(e, f->name, strlen(f->name));
	int64_t help = intern(e, str_or_empty(f->help), strlen(str_or_empty(f->help)));
	int64_t unit = intern(e, str_or_empty(f->unit), strlen(str_or_empty(f->unit)));
	if (name < 0 || help < 0 || unit < 0)
		return -1;
	cobs__v1__family__init(m);
	m->name = (uint32_t)name;
	m->help = (uint32_t)help;
	m->unit = (uint32_t)unit;
	m->type = type_to_wire[f->type];

	int32_t *sets = c->sets + *at;
	int64_t *ints = c->ints + *at;
	double *floats = c->floats + *at, *values = c->values + *at;
	uint8_t *kmin = c->kmin + *at, *mask = *mask_at;
	memset(mask, 0, (f->nsamples + 7) / 8);
	size_t n = 0, ni = 0, nf = 0;
	int64_t skipped = 0;
	/*
	 * Families of one collector list the same things in the same order (a
	 * process's ~30 families): the previous family's set at this position
	 * is checked first, which skips hashing for most samples.
	 */
	const int32_t *hint = prev ? prev->label_set_deltas : NULL;
	size_t nhint = prev ? prev->n_label_set_deltas : 0;
	for (size_t i = 0; i < f->nsamples; i++) {
		const cobs_sample *s = &f->samples[i];
		int32_t set;
		if (n < nhint && same_prefix(e->info[hint[n]].first, s, s->nlabels))
			set = hint[n];
		else
			set = label_set(e, s);
		if (set == -2)
			return -1;
		if (set < 0) {
			skipped++;
			continue;
		}
		sets[n] = set;
		values[n] = s->value;
		kmin[n] = min_decimals(s->value);
		n++;
	}
	unsigned k = choose_decimals(values, kmin, n);
	for (size_t i = 0; i < n; i++) {
		if (kmin[i] <= k && as_scaled(values[i], k, &ints[ni])) {
			ni++;
		} else {
			floats[nf++] = values[i];
			mask[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	m->decimals = k;
	m->n_label_set_deltas = n;
	m->label_set_deltas = sets;
	m->n_int_values = ni;
	m->int_values = ints;
	m->n_float_values = nf;
	m->float_values = floats;
	if (nf) /* an all-integer family needs no mask */
		m->float_mask = (ProtobufCBinaryData){.len = (n + 7) / 8, .data = mask};
	*at += f->nsamples;
	*mask_at += (f->nsamples + 7) / 8;
	return skipped;
}

/* Provisional ids to final numbers, then to the deltas on the wire. */
static void set_deltas(const enc *e, Cobs__V1__Family *m)
{
	int32_t prev = 0;
	for (size_t i = 0; i < m->n_label_set_deltas; i++) {
		int32_t set = e->info[m->label_set_deltas[i]].final;
		m->label_set_deltas[i] = set - prev;
		prev = set;
	}
}

static int check_meta_out(const cobs_wire_meta *meta, cobs_error *err)
{
	size_t n = strnlen(meta->node, sizeof(meta->node));
	if (!node_ok(meta->node, n))
		return cobs_error_set(err,
		                      "node name must be 1 to %u printable ASCII bytes without "
		                      "space or '/'",
		                      COBS_WIRE_MAX_NODE);
	n = strnlen(meta->agent_version, sizeof(meta->agent_version));
	if (n == sizeof(meta->agent_version) || !printable(meta->agent_version, n, false))
		return cobs_error_set(err, "agent version must be printable ASCII");
	n = strnlen(meta->boot_id, sizeof(meta->boot_id));
	if (n == sizeof(meta->boot_id) || !printable(meta->boot_id, n, false))
		return cobs_error_set(err, "boot id must be printable ASCII");
	return 0;
}

int cobs_wire_encode_batch(const cobs_batch *b, const cobs_wire_meta *meta,
                           const cobs_wire_opts *opts, cobs_buf *out, cobs_error *err)
{
	if (check_meta_out(meta, err) < 0)
		return -1;
	if (b->nfamilies > COBS_WIRE_MAX_FAMILIES)
		return cobs_error_set(err, "batch has %zu families, over the limit of %u",
		                      b->nfamilies, COBS_WIRE_MAX_FAMILIES);
	size_t total = cobs_batch_samples(b), mask_bytes = 0;
	if (total > COBS_WIRE_MAX_SAMPLES)
		return cobs_error_set(err, "batch has %zu samples, over the limit of %u", total,
		                      COBS_WIRE_MAX_SAMPLES);
	for (size_t i = 0; i < b->nfamilies; i++)
		mask_bytes += (b->families[i]->nsamples + 7) / 8;

	enc e = {0};
	columns c = {0};
	int64_t skipped = 0;
	int rc = -1;
	size_t nfam = b->nfamilies, cols = total ? total : 1;
	c.sets = malloc(cols * sizeof(*c.sets));
	c.ints = malloc(cols * sizeof(*c.ints));
	c.floats = malloc(cols * sizeof(*c.floats));
	c.values = malloc(cols * sizeof(*c.values));
	c.kmin = malloc(cols);
	c.masks = malloc(mask_bytes ? mask_bytes : 1);
	c.fams = malloc((nfam ? nfam : 1) * sizeof(*c.fams));
	c.fam_ptrs = malloc((nfam ? nfam : 1) * sizeof(*c.fam_ptrs));
	if (!c.sets || !c.ints || !c.floats || !c.values || !c.kmin || !c.masks || !c.fams ||
	    !c.fam_ptrs)
		goto oom;
	/* "" first, so an index left at proto3's default 0 reads as "". */
	if (intern(&e, "", 0) < 0)
		goto oom;

	size_t at = 0, nout = 0;
	uint8_t *mask_at = c.masks;
	for (size_t i = 0; i < nfam; i++) {
		const cobs_family *f = b->families[i];
		if (!family_ok(f)) {
			skipped += (int64_t)f->nsamples;
			continue;
		}
		int64_t s = encode_family(&e, f, &c, &at, &mask_at, nout ? &c.fams[nout - 1] : NULL,
		                          &c.fams[nout]);
		if (s < 0)
			goto oom;
		skipped += s;
		c.fam_ptrs[nout] = &c.fams[nout];
		nout++;
	}
	find_parents(&e);
	for (size_t p = 0; p < e.ninfo; p++)
		if (emit_set(&e, (int32_t)p) < 0)
			goto oom;
	for (size_t i = 0; i < nout; i++)
		set_deltas(&e, &c.fams[i]);

	Cobs__V1__Batch m;
	cobs__v1__batch__init(&m);
	m.node = (char *)meta->node;
	/* The meta strings may fill their arrays: pack needs them terminated. */
	char version[sizeof(meta->agent_version) + 1], boot[sizeof(meta->boot_id) + 1];
	memcpy(version, meta->agent_version, sizeof(meta->agent_version));
	version[sizeof(meta->agent_version)] = '\0';
	memcpy(boot, meta->boot_id, sizeof(meta->boot_id));
	boot[sizeof(meta->boot_id)] = '\0';
	m.agent_version = version;
	m.boot_id = boot;
	m.sequence = meta->sequence;
	m.timestamp_ms = b->timestamp_ms;
	m.interval_ms = meta->interval_ms;
	m.dropped = meta->dropped;
	m.monotonic_ns = b->monotonic_ns;
	m.more = b->more;
	m.n_strings = e.nstrings;
	m.strings = e.strings;
	m.n_label_sets = e.nwords;
	m.label_sets = e.words;
	m.n_families = nout;
	m.families = c.fam_ptrs;
	rc = wire_seal(&m.base, opts, out, err) < 0 ? -1 : 0;
	goto done;
oom:
	cobs_error_set(err, "out of memory encoding a batch of %zu samples", total);
done:
	enc_free(&e);
	columns_free(&c);
	if (rc < 0)
		return -1;
	/* skipped <= total <= COBS_WIRE_MAX_SAMPLES: it fits an int. */
	return (int)skipped;
}

/* ---- decoding ---- */

/* Per string, which checks it passed, so each runs once however often it is used. */
enum {
	S_METRIC_CHECKED = 1,
	S_METRIC_OK = 2,
	S_LABEL_CHECKED = 4,
	S_LABEL_OK = 8,
};

#define NO_PARENT UINT32_MAX

typedef struct dec {
	const Cobs__V1__Batch *m;
	char **str;      /* NUL-terminated copies of the table */
	char *str_block; /* what str points into */
	uint8_t *flags;  /* S_* per string */
	/*
	 * Label names by content, so a name twice in a set is caught even when
	 * the table holds it twice: canon[i] is string i's name id + 1 (0: not
	 * seen as a label name), names an open-addressing table of string
	 * indexes + 1, stamp[id] the last set (+ 1) that used the name.
	 */
	uint32_t *canon;
	uint32_t *names;
	size_t names_mask, nnames;
	uint32_t *stamp;
	/* Label sets: where each one's own pairs start in m->label_sets, its parent, counts. */
	uint32_t *set_at;
	uint32_t *set_parent;
	uint8_t *set_own;
	uint8_t *set_total;
	const cobs_label **set_shared; /* the set's labels in the batch (shared_labels) */
	size_t nsets;
} dec;

static void dec_free(dec *d)
{
	free(d->str);
	free(d->str_block);
	free(d->flags);
	free(d->canon);
	free(d->names);
	free(d->stamp);
	free(d->set_at);
	free(d->set_parent);
	free(d->set_own);
	free(d->set_total);
	free(d->set_shared);
}

static bool is_name(dec *d, uint32_t i, bool metric)
{
	uint8_t checked = metric ? S_METRIC_CHECKED : S_LABEL_CHECKED;
	uint8_t ok = metric ? S_METRIC_OK : S_LABEL_OK;
	if (!(d->flags[i] & checked)) {
		const ProtobufCBinaryData *s = &d->m->strings[i];
		d->flags[i] |= checked;
		if (prom_name_ok((const char *)s->data, s->len, metric))
			d->flags[i] |= ok;
	}
	return d->flags[i] & ok;
}

static int names_grow(dec *d)
{
	size_t cap = d->names_mask ? (d->names_mask + 1) * 2 : 256;
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; d->names_mask && i <= d->names_mask; i++) {
		if (!d->names[i])
			continue;
		const ProtobufCBinaryData *s = &d->m->strings[d->names[i] - 1];
		size_t j = hash_bytes(s->data, s->len, 0) & (cap - 1);
		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = d->names[i];
	}
	free(d->names);
	d->names = t;
	d->names_mask = cap - 1;
	return 0;
}

/* The name id of label-name string i (same content, same id). -1 when out of memory. */
static int64_t name_id(dec *d, uint32_t i)
{
	if (d->canon[i])
		return d->canon[i] - 1;
	if ((d->nnames + 1) * 2 > d->names_mask + 1 && names_grow(d) < 0)
		return -1;
	const ProtobufCBinaryData *s = &d->m->strings[i];
	size_t j = hash_bytes(s->data, s->len, 0) & d->names_mask;
	for (; d->names[j]; j = (j + 1) & d->names_mask) {
		uint32_t o = d->names[j] - 1;
		const ProtobufCBinaryData *t = &d->m->strings[o];
		if (t->len == s->len && memcmp(t->data, s->data, s->len) == 0) {
			d->canon[i] = d->canon[o];
			return d->canon[i] - 1;
		}
	}
	d->names[j] = i + 1;
	d->canon[i] = (uint32_t)++d->nnames;
	return d->canon[i] - 1;
}

/* Shows a refused name in an error without letting it flood or garble the message. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i = 0, j = 0;
	for (; s[i] && j + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[j++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	if (s[i]) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

static int dec_strings(dec *d, cobs_error *err)
{
	const Cobs__V1__Batch *m = d->m;
	size_t n = m->n_strings, total = 0;
	if (n > UINT32_MAX - 1)
		return cobs_error_set(err, "%zu strings is too many", n);
	for (size_t i = 0; i < n; i++) {
		const ProtobufCBinaryData *s = &m->strings[i];
		if (s->len && memchr(s->data, '\0', s->len))
			return cobs_error_set(err, "string %zu contains a NUL byte", i);
		total += s->len + 1; /* <= the message's size + n: no overflow */
	}
	d->str = malloc((n ? n : 1) * sizeof(*d->str));
	d->str_block = malloc(total ? total : 1);
	d->flags = calloc(n ? n : 1, 1);
	d->canon = calloc(n ? n : 1, sizeof(*d->canon));
	d->stamp = calloc(n ? n : 1, sizeof(*d->stamp));
	if (!d->str || !d->str_block || !d->flags || !d->canon || !d->stamp)
		return cobs_error_set(err, "out of memory decoding %zu strings", n);
	char *p = d->str_block;
	for (size_t i = 0; i < n; i++) {
		const ProtobufCBinaryData *s = &m->strings[i];
		if (s->len)
			memcpy(p, s->data, s->len);
		p[s->len] = '\0';
		d->str[i] = p;
		p += s->len + 1;
	}
	return 0;
}

/* Checks set's own pairs, and that no name appears twice along its chain. */
static int dec_set_labels(dec *d, uint32_t set, cobs_error *err)
{
	const uint32_t *w = d->m->label_sets;
	size_t nstr = d->m->n_strings;
	char b1[64];
	const uint32_t *pairs = w + d->set_at[set];
	for (uint32_t k = 0; k < d->set_own[set]; k++) {
		uint32_t ni = pairs[2 * k], vi = pairs[2 * k + 1];
		if (ni >= nstr || vi >= nstr)
			return cobs_error_set(err,
			                      "label set %u: string index %u is out of range (%zu "
			                      "strings)",
			                      set, ni >= nstr ? ni : vi, nstr);
		if (!is_name(d, ni, false))
			return cobs_error_set(err, "label set %u: \"%s\" is not a valid label name",
			                      set, shown(d->str[ni], b1, sizeof(b1)));
		if (d->m->strings[vi].len > COBS_WIRE_MAX_VALUE)
			return cobs_error_set(
			        err,
			        "label set %u: the value of %s has %zu bytes, over the "
			        "limit of %u",
			        set, d->str[ni], d->m->strings[vi].len, COBS_WIRE_MAX_VALUE);
		if (name_id(d, ni) < 0)
			return cobs_error_set(err, "out of memory decoding label sets");
	}
	/* Stamp every name of the set (its own and its ancestors'): a second stamp is a repeat. */
	for (uint32_t x = set; x != NO_PARENT; x = d->set_parent[x]) {
		const uint32_t *p = w + d->set_at[x];
		for (uint32_t k = 0; k < d->set_own[x]; k++) {
			uint32_t id = d->canon[p[2 * k]] - 1;
			if (d->stamp[id] == set + 1)
				return cobs_error_set(err, "label set %u: label %s appears twice",
				                      set, d->str[p[2 * k]]);
			d->stamp[id] = set + 1;
		}
	}
	return 0;
}

static int dec_label_sets(dec *d, cobs_error *err)
{
	const uint32_t *w = d->m->label_sets;
	size_t nw = d->m->n_label_sets, nsets = 0;
	if (nw > UINT32_MAX / 2)
		return cobs_error_set(err, "label-set table of %zu words is too large", nw);
	/* First the shape, to size the arrays: two words, then the pairs. */
	for (size_t i = 0; i < nw; nsets++) {
		if (nw - i < 2 || (nw - i - 2) / 2 < w[i + 1])
			return cobs_error_set(err, "label set %zu is cut short: the table ends",
			                      nsets);
		i += 2 + 2 * (size_t)w[i + 1];
	}
	d->nsets = nsets;
	d->set_at = malloc((nsets ? nsets : 1) * sizeof(*d->set_at));
	d->set_parent = malloc((nsets ? nsets : 1) * sizeof(*d->set_parent));
	d->set_own = malloc(nsets ? nsets : 1);
	d->set_total = malloc(nsets ? nsets : 1);
	d->set_shared = calloc(nsets ? nsets : 1, sizeof(*d->set_shared));
	if (!d->set_at || !d->set_parent || !d->set_own || !d->set_total || !d->set_shared)
		return cobs_error_set(err, "out of memory decoding %zu label sets", nsets);
	size_t i = 0;
	for (uint32_t set = 0; set < nsets; set++) {
		uint32_t parent = w[i], cnt = w[i + 1];
		if (parent > set)
			return cobs_error_set(err, "label set %u: parent %u is not an earlier set",
			                      set, parent - 1);
		if (parent && cnt == 0)
			return cobs_error_set(err, "label set %u adds no label to its parent", set);
		size_t total = (parent ? d->set_total[parent - 1] : 0) + (size_t)cnt;
		if (total > COBS_WIRE_MAX_LABELS)
			return cobs_error_set(err,
			                      "label set %u has %zu labels, over the limit of %u",
			                      set, total, COBS_WIRE_MAX_LABELS);
		d->set_at[set] = (uint32_t)(i + 2);
		d->set_parent[set] = parent ? parent - 1 : NO_PARENT;
		d->set_own[set] = (uint8_t)cnt;
		d->set_total[set] = (uint8_t)total;
		if (dec_set_labels(d, set, err) < 0)
			return -1;
		i += 2 + 2 * (size_t)cnt;
	}
	return 0;
}

/* A set's labels, its ancestors' first, into out (COBS_WIRE_MAX_LABELS). Returns the count. */
static size_t set_labels(const dec *d, uint32_t set, cobs_label *out)
{
	/* Each set below the root adds a label and there are at most 32: depth <= 33. */
	uint32_t chain[COBS_WIRE_MAX_LABELS + 1];
	size_t depth = 0, n = 0;
	for (uint32_t x = set; x != NO_PARENT; x = d->set_parent[x])
		chain[depth++] = x;
	while (depth--) {
		uint32_t x = chain[depth];
		const uint32_t *p = d->m->label_sets + d->set_at[x];
		for (uint32_t k = 0; k < d->set_own[x]; k++)
			out[n++] = (cobs_label){.name = d->str[p[2 * k]],
			                        .value = d->str[p[2 * k + 1]]};
	}
	return n;
}

/*
 * A set's labels copied into the batch once, for every sample of the set:
 * the strings are copied once per set, not per sample, and a reader can
 * tell samples of one set by their labels pointer (the server does).
 */
static const cobs_label *shared_labels(dec *d, cobs_batch *b, uint32_t set)
{
	if (!d->set_shared[set]) {
		cobs_label l[COBS_WIRE_MAX_LABELS];
		size_t nl = set_labels(d, set, l);
		d->set_shared[set] = cobs_batch_labels(b, l, nl);
	}
	return d->set_shared[set];
}

static int dec_meta(const Cobs__V1__Batch *m, cobs_wire_meta *meta, cobs_error *err)
{
	size_t n = strlen(m->node);
	if (n == 0)
		return cobs_error_set(err, "node name is empty");
	if (n > COBS_WIRE_MAX_NODE)
		return cobs_error_set(err, "node name has %zu bytes, over the limit of %u", n,
		                      COBS_WIRE_MAX_NODE);
	if (!node_ok(m->node, n))
		return cobs_error_set(err, "node name has a byte that is not printable ASCII, a "
		                           "space or '/'");
	size_t nv = strlen(m->agent_version), nb = strlen(m->boot_id);
	if (nv >= sizeof(meta->agent_version) || !printable(m->agent_version, nv, false))
		return cobs_error_set(err,
		                      "agent version must be at most %zu printable ASCII bytes",
		                      sizeof(meta->agent_version) - 1);
	if (nb >= sizeof(meta->boot_id) || !printable(m->boot_id, nb, false))
		return cobs_error_set(err, "boot id must be at most %zu printable ASCII bytes",
		                      sizeof(meta->boot_id) - 1);
	memcpy(meta->node, m->node, n + 1);
	memcpy(meta->agent_version, m->agent_version, nv + 1);
	memcpy(meta->boot_id, m->boot_id, nb + 1);
	meta->sequence = m->sequence;
	meta->interval_ms = m->interval_ms;
	meta->dropped = m->dropped;
	return 0;
}

static int string_index(const dec *d, uint32_t i, const char *what, size_t fam, cobs_error *err)
{
	if (i >= d->m->n_strings)
		return cobs_error_set(err, "family %zu: %s index %u is out of range (%zu strings)",
		                      fam, what, i, d->m->n_strings);
	return 0;
}

static size_t popcount_bits(const uint8_t *p, size_t nbits)
{
	size_t n = 0;
	for (size_t i = 0; i < nbits; i++)
		n += (p[i / 8] >> (i % 8)) & 1u;
	return n;
}

static int dec_family(dec *d, size_t fi, cobs_batch *b, cobs_error *err)
{
	const Cobs__V1__Family *m = d->m->families[fi];
	char b1[64];
	if (string_index(d, m->name, "name", fi, err) < 0 ||
	    string_index(d, m->help, "help", fi, err) < 0 ||
	    string_index(d, m->unit, "unit", fi, err) < 0)
		return -1;
	const char *name = d->str[m->name];
	if (!is_name(d, m->name, true))
		return cobs_error_set(err, "family %zu: \"%s\" is not a valid metric name", fi,
		                      shown(name, b1, sizeof(b1)));
	if (d->m->strings[m->help].len > COBS_WIRE_MAX_HELP)
		return cobs_error_set(err, "family %s: help has %zu bytes, over the limit of %u",
		                      name, d->m->strings[m->help].len, COBS_WIRE_MAX_HELP);
	const ProtobufCBinaryData *unit = &d->m->strings[m->unit];
	if (!unit_ok((const char *)unit->data, unit->len))
		return cobs_error_set(err,
		                      "family %s: unit must be at most %u printable ASCII bytes",
		                      name, COBS_WIRE_MAX_UNIT);
	cobs_metric_type type;
	switch (m->type) {
	case COBS__V1__METRIC_TYPE__METRIC_TYPE_GAUGE:
		type = COBS_GAUGE;
		break;
	case COBS__V1__METRIC_TYPE__METRIC_TYPE_COUNTER:
		type = COBS_COUNTER;
		break;
	case COBS__V1__METRIC_TYPE__METRIC_TYPE_INFO:
		type = COBS_INFO;
		break;
	default:
		return cobs_error_set(err, "family %s: unknown metric type %d", name, (int)m->type);
	}
	size_t n = m->n_label_set_deltas, mask_len = (n + 7) / 8, nf = 0;
	if (m->float_mask.len) {
		if (m->float_mask.len != mask_len)
			return cobs_error_set(
			        err,
			        "family %s: float mask has %zu bytes, %zu samples need "
			        "%zu",
			        name, m->float_mask.len, n, mask_len);
		nf = popcount_bits(m->float_mask.data, n);
	}
	if (m->decimals > MAX_DECIMALS)
		return cobs_error_set(err, "family %s: %u decimals, over the limit of %u", name,
		                      m->decimals, MAX_DECIMALS);
	if (m->n_float_values != nf || m->n_int_values != n - nf)
		return cobs_error_set(
		        err,
		        "family %s: %zu samples with %zu float and %zu integer values; "
		        "the mask wants %zu and %zu",
		        name, n, m->n_float_values, m->n_int_values, nf, n - nf);
	int64_t set = 0;
	for (size_t i = 0; i < n; i++) {
		set += m->label_set_deltas[i]; /* |sum| <= n * 2^31: no overflow in int64 */
		if (set < 0 || (uint64_t)set >= d->nsets)
			return cobs_error_set(
			        err, "family %s: sample %zu refers to label set %lld of %zu", name,
			        i, (long long)set, d->nsets);
	}

	if (cobs_batch_find(b, name))
		return cobs_error_set(err, "family %s appears twice", name);
	cobs_family *f = cobs_batch_family(b, name, d->str[m->help], d->str[m->unit], type);
	if (!f)
		return cobs_error_set(err, "out of memory decoding family %s", name);
	set = 0;
	size_t ii = 0, fi2 = 0;
	for (size_t i = 0; i < n; i++) {
		set += m->label_set_deltas[i];
		double v;
		if (nf && (m->float_mask.data[i / 8] >> (i % 8)) & 1u)
			v = m->float_values[fi2++];
		else
			v = unscale(m->int_values[ii++], m->decimals);
		size_t nl = d->set_total[set];
		const cobs_label *l = nl ? shared_labels(d, b, (uint32_t)set) : NULL;
		if ((nl && !l) || cobs_family_add_shared(b, f, v, l, nl) < 0)
			return cobs_error_set(err, "out of memory decoding family %s", name);
	}
	return 0;
}

static int dec_batch(dec *d, cobs_batch *b, cobs_wire_meta *meta, cobs_error *err)
{
	const Cobs__V1__Batch *m = d->m;
	if (dec_meta(m, meta, err) < 0)
		return -1;
	if (m->n_families > COBS_WIRE_MAX_FAMILIES)
		return cobs_error_set(err, "batch has %zu families, over the limit of %u",
		                      m->n_families, COBS_WIRE_MAX_FAMILIES);
	size_t samples = 0;
	for (size_t i = 0; i < m->n_families; i++)
		samples += m->families[i]->n_label_set_deltas;
	if (samples > COBS_WIRE_MAX_SAMPLES)
		return cobs_error_set(err, "batch has %zu samples, over the limit of %u", samples,
		                      COBS_WIRE_MAX_SAMPLES);
	if (dec_strings(d, err) < 0 || dec_label_sets(d, err) < 0)
		return -1;
	for (size_t i = 0; i < m->n_families; i++)
		if (dec_family(d, i, b, err) < 0)
			return -1;
	b->node = cobs_batch_strdup(b, meta->node);
	if (!b->node)
		return cobs_error_set(err, "out of memory");
	b->timestamp_ms = m->timestamp_ms;
	b->monotonic_ns = m->monotonic_ns;
	b->more = m->more;
	return 0;
}

int cobs_wire_decode_batch(const uint8_t *data, size_t len, cobs_batch *b, cobs_wire_meta *meta,
                           cobs_error *err)
{
	cobs_batch_reset(b);
	memset(meta, 0, sizeof(*meta));
	wire_arena a;
	/* The envelope needs its payload's copy and a little more. */
	wire_arena_init(&a, len + 4096);
	const uint8_t *raw = NULL;
	size_t raw_len = 0;
	uint8_t *owned = NULL;
	dec d = {0};
	int rc = wire_open(data, len, &a, "batch", &raw, &raw_len, &owned, err);
	if (rc == 0) {
		a.cap = a.used + wire_unpack_cap(raw_len);
		d.m = cobs__v1__batch__unpack(&a.pc, raw_len, raw);
		if (!d.m)
			rc = a.over ? cobs_error_set(
			                      err,
			                      "batch of %zu bytes needs more memory to decode "
			                      "than allowed",
			                      raw_len)
			            : cobs_error_set(err, "malformed batch: not a protobuf Batch "
			                                  "(truncated or corrupt)");
		else
			rc = dec_batch(&d, b, meta, err);
	}
	dec_free(&d);
	free(owned);
	wire_arena_free(&a);
	if (rc < 0) {
		cobs_batch_reset(b);
		memset(meta, 0, sizeof(*meta));
	}
	return rc;
}
