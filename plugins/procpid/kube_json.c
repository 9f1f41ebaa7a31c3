/*
 * Kubernetes JSON to pod cache entries (see kube_json.h). Every value is
 * type-checked: a field of the wrong type counts as absent, never as a crash,
 * because the bytes come from the network.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_json.h"

/*
 * Lays a pod out in one block. The same walk runs twice: first with base NULL
 * to measure, then into the block, so sizes and layout cannot disagree.
 */
typedef struct pack {
	char *base; /* NULL while measuring */
	size_t off;
} pack;

static void *take(pack *p, size_t n, size_t align)
{
	p->off = (p->off + align - 1) & ~(align - 1);
	void *r = p->base ? p->base + p->off : NULL;
	p->off += n;
	return r;
}

/* A copy of s in the block ("" for NULL); NULL while measuring. */
static const char *put_str(pack *p, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s) + 1;
	char *d = take(p, n, 1);
	if (d)
		memcpy(d, s, n);
	return d;
}

static const char *get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* "containerd://abc" -> "abc": cgroup paths carry the bare ID. */
static const char *strip_scheme(const char *id)
{
	if (!id)
		return NULL;
	const char *s = strstr(id, "://");
	if (s)
		id = s + 3;
	return *id ? id : NULL;
}

static size_t count_labels(const json_t *labels)
{
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (json_is_string(v))
			n++;
	}
	return n;
}

static size_t count_objects(const json_t *arr)
{
	size_t n = 0, i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_object(v))
			n++;
	}
	return n;
}

/* The status lists whose entries become containers, and whether they are init ones.
 * Ephemeral (debug) containers run in cgroups of their own too, so they are kept. */
static const struct {
	const char *key;
	bool init;
} status_lists[] = {
        {"initContainerStatuses", true},
        {"containerStatuses", false},
        {"ephemeralContainerStatuses", false},
};

#define NLISTS (sizeof(status_lists) / sizeof(status_lists[0]))

static void put_container(pack *p, cobs_kube_container *c, const json_t *cs, bool init)
{
	const char *id = strip_scheme(get_str(cs, "containerID"));
	const char *sid = id ? put_str(p, id) : NULL;
	const char *name = put_str(p, get_str(cs, "name"));
	const char *image = put_str(p, get_str(cs, "image"));
	if (!c)
		return;
	json_int_t rc = json_integer_value(json_object_get(cs, "restartCount"));
	c->id = sid;
	c->name = name;
	c->image = image;
	c->restart_count = rc < 0 ? 0 : rc > (json_int_t)UINT32_MAX ? UINT32_MAX : (uint32_t)rc;
	c->init = init;
}

/* One walk over the pod; writes only when p->base is set. Returns the entry (or NULL). */
static kube_entry *build(pack *p, const json_t *obj)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *status = json_object_get(obj, "status");
	const json_t *labels = json_object_get(meta, "labels");

	kube_entry *e = take(p, sizeof(*e), alignof(kube_entry));
	size_t nl = json_is_object(labels) ? count_labels(labels) : 0;
	cobs_kube_label *lab = take(p, nl * sizeof(*lab), alignof(cobs_kube_label));
	size_t nc = 0;
	for (size_t i = 0; i < NLISTS; i++)
		nc += count_objects(json_object_get(status, status_lists[i].key));
	cobs_kube_container *ctr = take(p, nc * sizeof(*ctr), alignof(cobs_kube_container));

	const char *uid = put_str(p, get_str(meta, "uid"));
	const char *ns = put_str(p, get_str(meta, "namespace"));
	const char *name = put_str(p, get_str(meta, "name"));
	const char *qos = put_str(p, get_str(status, "qosClass"));
	const char *phase = put_str(p, get_str(status, "phase"));

	size_t li = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
	{
		if (!json_is_string(v))
			continue;
		const char *lk = put_str(p, k);
		const char *lv = put_str(p, json_string_value(v));
		if (lab)
			lab[li] = (cobs_kube_label){.name = lk, .value = lv};
		li++;
	}

	size_t ci = 0;
	for (size_t i = 0; i < NLISTS; i++) {
		size_t j;
		json_array_foreach(json_object_get(status, status_lists[i].key), j, v)
		{
			if (!json_is_object(v))
				continue;
			put_container(p, ctr ? &ctr[ci] : NULL, v, status_lists[i].init);
			ci++;
		}
	}

	if (e) {
		e->next = NULL;
		e->hash = 0;
		e->pod = (cobs_kube_pod){
		        .uid = uid,
		        .namespace_name = ns,
		        .name = name,
		        .qos_class = qos,
		        .phase = phase,
		        .host_network = json_is_true(json_object_get(spec, "hostNetwork")),
		        .labels = nl ? lab : NULL,
		        .nlabels = nl,
		        .containers = nc ? ctr : NULL,
		        .ncontainers = nc,
		};
	}
	return e;
}

kube_entry *kube_pod_parse(const json_t *pod, int *oom)
{
	*oom = 0;
	const char *uid = get_str(json_object_get(pod, "metadata"), "uid");
	if (!json_is_object(pod) || !uid || !*uid)
		return NULL;
	pack p = {0};
	build(&p, pod);
	p.base = malloc(p.off);
	if (!p.base) {
		*oom = 1;
		return NULL;
	}
	p.off = 0;
	return build(&p, pod);
}

/* jansson's own description of a parse failure, with where it happened. */
static void json_why(const json_error_t *je, char *why, size_t whylen)
{
	snprintf(why, whylen, "bad JSON: %s (line %d, column %d)", je->text, je->line, je->column);
}

static char *dup_rv(const json_t *obj, int *oom)
{
	const char *rv = get_str(json_object_get(obj, "metadata"), "resourceVersion");
	if (!rv || !*rv)
		return NULL;
	char *d = strdup(rv);
	if (!d)
		*oom = 1;
	return d;
}

static void free_pods(kube_entry *e)
{
	while (e) {
		kube_entry *next = e->next;
		free(e);
		e = next;
	}
}

int kube_podlist_parse(const char *buf, size_t len, kube_entry **pods, char **rv, char *why,
                       size_t whylen)
{
	*pods = NULL;
	*rv = NULL;
	json_error_t je;
	json_t *root = json_loadb(buf, len, 0, &je);
	if (!root) {
		json_why(&je, why, whylen);
		return -1;
	}
	int oom = 0;
	json_t *items = json_object_get(root, "items");
	char *version = dup_rv(root, &oom);
	if (!json_is_array(items) && !json_is_null(items)) { /* null: an empty list */
		snprintf(why, whylen, "not a PodList (no items array)");
		goto fail;
	}
	if (!version) {
		snprintf(why, whylen,
		         oom ? "out of memory" : "PodList without metadata.resourceVersion");
		goto fail;
	}
	kube_entry *head = NULL, **tail = &head;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item)
	{
		kube_entry *e = kube_pod_parse(item, &oom);
		if (oom) {
			free_pods(head);
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
		if (!e)
			continue; /* not a pod: nothing to cache, the rest still counts */
		*tail = e;
		tail = &e->next;
	}
	json_decref(root);
	*pods = head;
	*rv = version;
	return 0;
fail:
	free(version);
	json_decref(root);
	return -1;
}

static const struct {
	const char *name;
	kube_event_type type;
} event_types[] = {
        {"ADDED", KUBE_EV_ADDED},     {"MODIFIED", KUBE_EV_MODIFIED},
        {"DELETED", KUBE_EV_DELETED}, {"BOOKMARK", KUBE_EV_BOOKMARK},
        {"ERROR", KUBE_EV_ERROR},
};

int kube_event_parse(const char *line, size_t len, kube_event *ev, char *why, size_t whylen)
{
	*ev = (kube_event){.type = KUBE_EV_OTHER};
	json_error_t je;
	json_t *root = json_loadb(line, len, 0, &je);
	if (!root) {
		json_why(&je, why, whylen);
		return -1;
	}
	const char *type = get_str(root, "type");
	json_t *obj = json_object_get(root, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(why, whylen, "not a watch event (no type or object)");
		json_decref(root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (strcmp(type, event_types[i].name) == 0)
			ev->type = event_types[i].type;
	int oom = 0;
	if (ev->type == KUBE_EV_ERROR) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		ev->code = code < 0 || code > 999 ? 0 : (long)code;
		const char *msg = get_str(obj, "message");
		if (msg && !(ev->message = strdup(msg)))
			oom = 1;
	} else if (ev->type != KUBE_EV_OTHER) {
		ev->rv = dup_rv(obj, &oom);
		if (ev->type != KUBE_EV_BOOKMARK && !oom)
			ev->pod = kube_pod_parse(obj, &oom);
	}
	json_decref(root);
	if (oom) {
		kube_event_clear(ev);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

void kube_event_clear(kube_event *ev)
{
	free(ev->pod);
	free(ev->rv);
	free(ev->message);
	*ev = (kube_event){.type = KUBE_EV_OTHER};
}

void kube_status_message(const char *buf, size_t len, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	json_t *root = json_loadb(buf, len, 0, NULL);
	const char *msg = get_str(root, "message");
	if (msg && outlen)
		snprintf(out, outlen, "%s", msg);
	json_decref(root);
}
