/*
 * Pure parsers for procpid (see parse.h). Written by hand over the buffer
 * rather than with sscanf: a pass parses every process's stat and status,
 * and their cost must stay small next to the pread that fetched them.
 */
#include <stdio.h>
#include <string.h>

#include <cobs/proc.h>

#include "parse.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

const char *pp_parse_i64(const char *p, const char *end, int64_t *out)
{
	while (p < end && blank(*p))
		p++;
	bool neg = p < end && *p == '-';
	uint64_t v;
	const char *q = cobs_parse_u64(p + neg, end, &v);
	if (!q || v > (uint64_t)INT64_MAX)
		return NULL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return q;
}

/* The next token of a stat line (a run of non-blanks); p past it. */
static const char *skip_token(const char *p, const char *end)
{
	while (p < end && blank(*p))
		p++;
	while (p < end && !blank(*p) && *p != '\n' && *p != '\0')
		p++;
	return p;
}

int pp_parse_stat(const char *buf, size_t len, pp_stat *out)
{
	const char *end = buf + len;
	const char *open = memchr(buf, '(', len);
	const char *close = memrchr(buf, ')', len);
	if (!open || !close || close < open || open == buf || open[-1] != ' ')
		return -1;
	size_t clen = (size_t)(close - open - 1);
	if (clen >= PP_COMM_MAX)
		clen = PP_COMM_MAX - 1;
	memcpy(out->comm, open + 1, clen);
	out->comm[clen] = '\0';

	const char *p = close + 1;
	if (end - p < 3 || p[0] != ' ' || p[1] == ' ' || p[1] == '\n' || p[1] == '\0' ||
	    (p[2] != ' ' && p[2] != '\n'))
		return -1;
	out->state = p[1];
	p += 2;
	out->processor = -1;

	int64_t i;
	int field = 4;
	for (; field <= 39; field++) {
		while (p < end && blank(*p))
			p++;
		if (p == end || *p == '\n' || *p == '\0')
			break;
		const char *q = p;
		switch (field) {
		case 4:
			q = pp_parse_i64(p, end, &out->ppid);
			break;
		case 9:
			q = cobs_parse_u64(p, end, &out->flags);
			break;
		case 10:
			q = cobs_parse_u64(p, end, &out->minflt);
			break;
		case 12:
			q = cobs_parse_u64(p, end, &out->majflt);
			break;
		case 14:
			q = cobs_parse_u64(p, end, &out->utime);
			break;
		case 15:
			q = cobs_parse_u64(p, end, &out->stime);
			break;
		case 16:
			q = pp_parse_i64(p, end, &out->cutime);
			break;
		case 17:
			q = pp_parse_i64(p, end, &out->cstime);
			break;
		case 18:
			q = pp_parse_i64(p, end, &out->priority);
			break;
		case 19:
			q = pp_parse_i64(p, end, &out->nice);
			break;
		case 20:
			q = pp_parse_i64(p, end, &out->num_threads);
			break;
		case 22:
			q = cobs_parse_u64(p, end, &out->starttime);
			break;
		case 39:
			q = pp_parse_i64(p, end, &i);
			if (q)
				out->processor = i;
			break;
		default:
			q = skip_token(p, end);
			break;
		}
		if (!q)
			return -1;
		p = q;
	}
	return field > 22 ? 0 : -1;
}

/* Whether [p, p+n) is the key name (a NUL-terminated string). */
static bool key_is(const char *name, const char *p, size_t n)
{
	return name[0] == p[0] && strncmp(name, p, n) == 0 && name[n] == '\0';
}

/* Blanks then the line's end (or a NUL). */
static bool only_blanks(const char *p, const char *end)
{
	while (p < end && blank(*p))
		p++;
	return p == end || *p == '\0';
}

static bool parse_value(char *v, char *le, pp_kind kind, pp_val *out)
{
	while (v < le && blank(*v))
		v++;
	if (kind == PP_STR) {
		char *e = le;
		while (e > v && blank(e[-1]))
			e--;
		*e = '\0';
		out->str = v;
		return true;
	}
	uint64_t n;
	const char *q = cobs_parse_u64(v, le, &n);
	if (!q)
		return false;
	if (kind == PP_KB) {
		while (q < le && blank(*q))
			q++;
		if (le - q >= 2 && q[0] == 'k' && q[1] == 'B')
			q += 2;
		if (n > UINT64_MAX / 1024)
			return false;
		n *= 1024;
	}
	if (!only_blanks(q, le))
		return false;
	out->num = n;
	return true;
}

size_t pp_parse_kv(char *buf, size_t len, char sep, const pp_key *keys, size_t nkeys, pp_val *vals)
{
	size_t found = 0;
	memset(vals, 0, nkeys * sizeof(*vals));
	char *p = buf, *end = buf + len;
	while (p < end && found < nkeys) {
		char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			le = end; /* a last line without its newline: buf[len] is a NUL */
		char *s = memchr(p, sep, (size_t)(le - p));
		if (s && s > p) {
			size_t klen = (size_t)(s - p);
			for (size_t k = 0; k < nkeys; k++) {
				if (vals[k].present || !key_is(keys[k].name, p, klen))
					continue;
				if (parse_value(s + 1, le, keys[k].kind, &vals[k])) {
					vals[k].present = true;
					found++;
				}
				break;
			}
		}
		p = le + 1;
	}
	return found;
}

size_t pp_cmdline(const char *raw, size_t n, size_t max, char *out)
{
	while (n > 0 && raw[n - 1] == '\0')
		n--;
	size_t cut = n;
	if (cut > max) {
		cut = max;
		/* Never keep the first bytes of a character whose last bytes are cut off. */
		while (cut > 0 && ((unsigned char)raw[cut] & 0xC0) == 0x80)
			cut--;
	}
	for (size_t i = 0; i < cut; i++)
		out[i] = raw[i] == '\0' ? ' ' : raw[i];
	out[cut] = '\0';
	return cut;
}

/* Whether the comma-separated list [p, e) names controller c. */
static bool names_controller(const char *p, const char *e, const char *c)
{
	size_t cl = strlen(c);
	while (p < e) {
		const char *comma = memchr(p, ',', (size_t)(e - p));
		const char *te = comma ? comma : e;
		if ((size_t)(te - p) == cl && memcmp(p, c, cl) == 0)
			return true;
		p = te + 1;
	}
	return false;
}

int pp_parse_cgroup(const char *buf, size_t len, pp_cgroup *out)
{
	static const char *const ctl[PP_CG_NCTL] = {"cpu", "cpuacct", "memory"};
	static const char deleted[] = " (deleted)";
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	int lines = 0;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			le = end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2 && c2 + 1 < le && c2[1] == '/') {
			pp_span path = {c2 + 1, (size_t)(le - c2 - 1)};
			size_t dl = sizeof(deleted) - 1;
			if (path.len > dl && memcmp(path.p + path.len - dl, deleted, dl) == 0)
				path.len -= dl;
			if (memchr(path.p, '\0', path.len) == NULL) {
				lines++;
				if (c2 == c1 + 1) {
					if (c1 - p == 1 && *p == '0' && !out->v2.p)
						out->v2 = path;
				} else {
					for (int i = 0; i < PP_CG_NCTL; i++)
						if (!out->v1[i].p &&
						    names_controller(c1 + 1, c2, ctl[i])) {
							out->v1[i] = path;
							out->v1_any = true;
						}
				}
			}
		}
		p = le + 1;
	}
	return lines ? 0 : -1;
}

pp_span pp_cgroup_path(const pp_cgroup *cg, int *hier)
{
	*hier = PP_CG_V2;
	if (!cg->v1_any)
		return cg->v2;
	int first = -1;
	for (int i = 0; i < PP_CG_NCTL; i++) {
		if (!cg->v1[i].p)
			continue;
		if (first < 0)
			first = i;
		if (!(cg->v1[i].len == 1 && cg->v1[i].p[0] == '/')) {
			*hier = i;
			return cg->v1[i];
		}
	}
	*hier = first;
	return cg->v1[first]; /* v1_any: at least one is present */
}

bool pp_kv_field(const char *rest, const char *end, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	const char *p = rest;
	while (p < end) {
		while (p < end && blank(*p))
			p++;
		const char *te = p;
		while (te < end && !blank(*te) && *te != '\n' && *te != '\0')
			te++;
		if ((size_t)(te - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *q = cobs_parse_u64(p + kl + 1, te, out);
			return q == te;
		}
		if (te == p)
			break;
		p = te;
	}
	return false;
}

void pp_parse_pressure(const char *buf, size_t len, pp_pressure *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			le = end;
		if (le - p > 5 && memcmp(p, "some ", 5) == 0)
			out->some_ok = pp_kv_field(p + 5, le, "total", &out->some_total);
		else if (le - p > 5 && memcmp(p, "full ", 5) == 0)
			out->full_ok = pp_kv_field(p + 5, le, "total", &out->full_total);
		p = le + 1;
	}
}

int pp_next_dev_line(const char **pp, const char *end, char dev[32], const char **rest,
                     const char **rest_end)
{
	const char *p = *pp;
	if (p >= end)
		return -1;
	const char *le = memchr(p, '\n', (size_t)(end - p));
	if (!le)
		le = end;
	*pp = le + 1;
	/* "MAJ:MIN" is one field with a ':' inside: the major's digits by hand. */
	uint64_t maj = 0, min;
	const char *q = p;
	if (q == le || *q < '0' || *q > '9')
		return 0; /* blkio's "Total 123" line, blank lines */
	for (; q < le && *q >= '0' && *q <= '9'; q++)
		if ((maj = maj * 10 + (uint64_t)(*q - '0')) > UINT32_MAX)
			return 0;
	if (q == le || *q != ':' || !(q = cobs_parse_u64(q + 1, le, &min)) || min > UINT32_MAX)
		return 0;
	snprintf(dev, 32, "%u:%u", (unsigned)maj, (unsigned)min);
	*rest = q;
	*rest_end = le;
	return 1;
}

int pp_next_netdev(const char **pp, const char *end, char name[32], uint64_t v[PP_NETDEV_NCOUNTERS])
{
	const char *p = *pp;
	if (p >= end)
		return -1;
	const char *le = memchr(p, '\n', (size_t)(end - p));
	if (!le)
		le = end;
	*pp = le + 1;
	const char *q = cobs_netdev_name(p, le, name, 32);
	if (!q)
		return 0; /* the headers, a blank line, a garbled name */
	for (int i = 0; i < PP_NETDEV_NCOUNTERS; i++)
		if (!(q = cobs_parse_u64(q, le, &v[i])))
			return 0;
	return 1;
}
