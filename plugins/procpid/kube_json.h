/*
 * What the Kubernetes client reads from the API server's JSON: a v1 PodList
 * (the list call), one watch event line, and a v1 Status (the body of an
 * error answer). Pure functions over bytes, so tests can feed them anything.
 *
 * Of a pod it keeps exactly the kube.h fields. Pod strings (uid, namespace,
 * name, qos_class, phase) and container name and image are never NULL ("" when
 * the API left them out); a container's id is NULL until the runtime has
 * started it (no containerID yet).
 */
#ifndef PROCPID_KUBE_JSON_H
#define PROCPID_KUBE_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "kube_cache.h"

/*
 * A v1 Pod object as one allocation (free it with free()), or NULL: *oom set
 * when memory ran out, else the object is not a pod with a metadata.uid.
 */
kube_entry *kube_pod_parse(const json_t *pod, int *oom);

/*
 * A PodList body. 0 with *pods (a list linked by next, caller frees) and *rv
 * (metadata.resourceVersion, malloc'd), or -1 with why filled (bad JSON, not
 * a PodList, out of memory). Items that are not pods are skipped.
 */
int kube_podlist_parse(const char *buf, size_t len, kube_entry **pods, char **rv, char *why,
                       size_t whylen);

typedef enum kube_event_type {
	KUBE_EV_ADDED,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_BOOKMARK,
	KUBE_EV_ERROR,
	KUBE_EV_OTHER, /* a type this client does not know: ignored */
} kube_event_type;

typedef struct kube_event {
	kube_event_type type;
	kube_entry *pod; /* ADDED, MODIFIED, DELETED: the object, or NULL if not a pod */
	char *rv;        /* object.metadata.resourceVersion, or NULL */
	long code;       /* ERROR: the Status code (410: resourceVersion too old) */
	char *message;   /* ERROR: the Status message, or NULL */
} kube_event;

/*
 * One watch event line ({"type": ..., "object": ...}). 0 with ev filled (clear
 * it with kube_event_clear), or -1 with why filled (bad JSON, not an event,
 * out of memory).
 */
int kube_event_parse(const char *line, size_t len, kube_event *ev, char *why, size_t whylen);
void kube_event_clear(kube_event *ev);

/* The "message" of a v1 Status body, into out ("" when there is none). */
void kube_status_message(const char *buf, size_t len, char *out, size_t outlen);

#endif
