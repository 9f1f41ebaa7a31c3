/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/nodes/{node}/processes/{pid}: everything the node's latest
 * values hold for one PID, whatever the collector: every process_* family
 * with a series labelled pid="{pid}", values grouped by family, info
 * families as their labels. 404 once the process is gone (its series
 * leave with the agent's next batch). Shape: docs/api.md.
 *
 * Read at request time: one page, one process, a walk over the node's
 * process_* series (a few thousand) costs well under a millisecond.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "routes.h"

/* The labels that say which process this is, not facts about it. */
static const char *const identity[] = {"pid",     "comm",      "namespace",    "pod",
                                       "pod_uid", "container", "container_id", NULL};

static const char *label_of(const cobs_labelset *ls, const char *name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->labels[i].name, name) == 0)
			return ls->labels[i].value;
	return NULL;
}

static const char *type_name(cobs_metric_type t)
{
	switch (t) {
	case COBS_GAUGE:
		return "gauge";
	case COBS_COUNTER:
		return "counter";
	case COBS_INFO:
		return "info";
	}
	return "unknown";
}

/* A decimal label value as a number when it is one, else the string. */
static json_t *int_or_str(const char *v)
{
	int64_t n;
	if (v && cobs_api_parse_int(v, INT64_MIN + 1, INT64_MAX, &n) == 0)
		return json_integer(n);
	return cobs_api_str(v);
}

/* Adds the process's identity and process_info's facts (first series seen). */
static int add_identity(json_t *o, const cobs_labelset *ls, const cobs_labelset *info)
{
	static const char *const keys[][2] = {
	        {"comm", "comm"},
	        {"namespace", "namespace"},
	        {"pod", "pod"},
	        {"pod_uid", "pod_uid"},
	        {"container", "container"},
	        {"container_id", "container_id"},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (cobs_api_set(o, keys[i][1], cobs_api_str(label_of(ls, keys[i][0]))) < 0)
			return -1;
	const char *state = info ? label_of(info, "state") : NULL;
	const char *ppid = info ? label_of(info, "ppid") : NULL;
	const char *cmdline = info ? label_of(info, "cmdline") : NULL;
	const char *cgroup = info ? label_of(info, "cgroup") : NULL;
	if (cobs_api_set(o, "state", cobs_api_str(state)) < 0 ||
	    cobs_api_set(o, "ppid", int_or_str(ppid)) < 0 ||
	    cobs_api_set(o, "cmdline", cobs_api_str(cmdline)) < 0 ||
	    cobs_api_set(o, "cgroup", cobs_api_str(cgroup)) < 0)
		return -1;
	return 0;
}

/* The samples of family f for pid, as {labels, value} objects (an empty array: none). */
static json_t *samples_of(const cobs_state_family *f, const char *pid, const cobs_labelset **first)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < f->nseries; i++) {
		const cobs_labelset *ls = f->series[i].labels;
		const char *p = label_of(ls, "pid");
		if (!p || strcmp(p, pid) != 0)
			continue;
		if (!*first)
			*first = ls;
		json_t *s = json_object();
		if (cobs_api_push(a, s) < 0 ||
		    cobs_api_set(s, "labels", cobs_api_labels(ls, identity, NULL)) < 0 ||
		    cobs_api_set(s, "value", cobs_api_num(f->series[i].value)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static void process_run(cobs_api_job *aj, cobs_state *st, const cobs_api_params *p)
{
	(void)p;
	int64_t pidn;
	if (cobs_api_parse_int(aj->args.arg[1], 0, INT32_MAX, &pidn) < 0) {
		cobs_api_error(aj, 400, "pid must be a process id (a decimal integer)");
		return;
	}
	const cobs_node *n = cobs_api_find_node(aj, st);
	if (!n)
		return;
	char pid[24];
	snprintf(pid, sizeof(pid), "%lld", (long long)pidn); /* "007" is pid 7 */
	json_t *o = json_object(), *fams = json_object(), *info = json_object();
	const cobs_labelset *ident = NULL, *pinfo = NULL;
	int bad = !o || !fams || !info;
	for (size_t i = 0; i < cobs_state_family_count(n) && !bad; i++) {
		const cobs_state_family *f = cobs_state_family_at(n, i);
		if (strncmp(f->name, "process_", 8) != 0)
			continue;
		const cobs_labelset *first = NULL;
		json_t *samples = samples_of(f, pid, &first);
		if (!samples) {
			bad = 1;
			break;
		}
		if (!first) {
			json_decref(samples);
			continue;
		}
		if (!ident || (f->type != COBS_INFO && ident->n > first->n))
			ident = first; /* the plainest label set names the process best */
		if (f->type == COBS_INFO) {
			if (strcmp(f->name, "process_info") == 0)
				pinfo = first;
			/* an info family's facts are its labels: one object per family */
			json_t *facts = json_array_size(samples) == 1
			                        ? json_incref(json_object_get(
			                                  json_array_get(samples, 0), "labels"))
			                        : json_incref(samples);
			json_decref(samples);
			bad = cobs_api_set(info, f->name, facts) < 0;
			continue;
		}
		json_t *fo = json_object(); /* borrowed once fams holds it */
		int ok = fo && cobs_api_set(fams, f->name, fo) == 0 &&
		         cobs_api_set(fo, "type", json_string(type_name(f->type))) == 0 &&
		         cobs_api_set(fo, "unit", cobs_api_str(f->unit)) == 0 &&
		         cobs_api_set(fo, "help", cobs_api_str(f->help)) == 0 &&
		         cobs_api_set(fo, "timestamp_ms", json_integer(f->timestamp_ms)) == 0;
		if (ok)
			ok = cobs_api_set(fo, "samples", samples) == 0; /* takes samples */
		else
			json_decref(samples);
		bad = !ok;
	}
	if (!bad && !ident) {
		json_decref(o);
		json_decref(fams);
		json_decref(info);
		cobs_api_error(aj, 404, "no process %s on node %s (gone, or never seen)", pid,
		               n->name);
		return;
	}
	if (bad || cobs_api_set(o, "node", cobs_api_str(n->name)) < 0 ||
	    cobs_api_set(o, "pid", json_integer(pidn)) < 0 || add_identity(o, ident, pinfo) < 0 ||
	    cobs_api_set(o, "info", json_incref(info)) < 0 ||
	    cobs_api_set(o, "metrics", json_incref(fams)) < 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(fams);
	json_decref(info);
	cobs_api_json(aj, 200, o);
}

int cobs_route_api_process(cobs_server *srv, h2o_req_t *req, const cobs_route_args *a)
{
	return cobs_api_defer(srv, req, a, process_run);
}
