/*
 * Per-pod and per-container series that do not come from cgroup files:
 * cobs_pod_info and cobs_container_info (what the cgroup path and the
 * Kubernetes API say), kube_pod_labels and restart counts when the API is
 * reachable, and the pod's network counters.
 *
 * Pod network: a pod's containers share one network namespace, so one
 * process of the pod is enough: /proc/<pid>/net/dev shows that namespace's
 * interfaces (lo left out, as cAdvisor does). The namespace is told by the
 * inode in the /proc/<pid>/ns/net link; when it is PID 1's, the pod runs on
 * the host network: it is flagged host_network="true" in cobs_pod_info and
 * its interfaces are not reported (they are the node's, already counted by
 * the net plugin). A namespace is reported once per pass even if two pods
 * were to share it. net/dev is opened per pass, never kept: an open fd would
 * keep a deleted pod's network namespace alive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procpid.h"

#define POD_LABELS_MAX 64

/* The inode of dirfd/<rel>'s "net:[4026531840]" link, or 0. */
static uint64_t netns_inode(int dirfd, const char *rel)
{
	char link[64];
	ssize_t n = readlinkat(dirfd, rel, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	/* The digits between '[' and ']' (not a blank-separated field for cobs_parse_u64). */
	const char *p = strchr(link, '[');
	uint64_t ino = 0;
	for (p = p ? p + 1 : link + n; *p >= '0' && *p <= '9' && ino < UINT64_MAX / 10; p++)
		ino = ino * 10 + (uint64_t)(*p - '0');
	return *p == ']' ? ino : 0;
}

/* A process's namespace, read once per PID+starttime. */
static uint64_t netns_of(procpid *s, proc_entry *e)
{
	if (!e->netns) {
		char rel[48];
		snprintf(rel, sizeof(rel), "%ld/ns/net", (long)e->pid);
		e->netns = netns_inode(s->proc_fd, rel);
	}
	return e->netns;
}

/* Whether the namespace was already reported this pass; remembers it if not. */
static bool netns_seen(procpid *s, uint64_t ns)
{
	for (size_t i = 0; i < s->nnetns_seen; i++)
		if (s->netns_seen[i] == ns)
			return true;
	if (s->nnetns_seen == s->netns_cap) {
		size_t cap = s->netns_cap ? s->netns_cap * 2 : 64;
		uint64_t *v = realloc(s->netns_seen, cap * sizeof(*v));
		if (!v)
			return false; /* out of memory: at worst a namespace is reported twice */
		s->netns_seen = v;
		s->netns_cap = cap;
	}
	s->netns_seen[s->nnetns_seen++] = ns;
	return false;
}

static int pod_network(procpid *s, emitter *em, label_set *l, pid_t pid)
{
	static const struct {
		int col;
		fam_id fam;
	} cols[] = {{0, F_NET_RX_BYTES},   {1, F_NET_RX_PACKETS}, {2, F_NET_RX_ERRORS},
	            {3, F_NET_RX_DROPPED}, {8, F_NET_TX_BYTES},   {9, F_NET_TX_PACKETS},
	            {10, F_NET_TX_ERRORS}, {11, F_NET_TX_DROPPED}};
	char rel[48];
	int fd = READER_CLOSED;
	snprintf(rel, sizeof(rel), "%ld/net/dev", (long)pid);
	if (reader_read(&s->rd, s->proc_fd, rel, &fd, false, false) < 0)
		return 0; /* the process left since it was read: no network this pass */
	const char *p = s->rd.buf, *end = p + s->rd.len;
	char name[32];
	uint64_t v[PP_NETDEV_NCOUNTERS];
	int r, rc = 0;
	size_t n = l->n;
	while ((r = pp_next_netdev(&p, end, name, v)) >= 0) {
		if (!r || strcmp(name, "lo") == 0)
			continue;
		l->n = n;
		labels_add(l, "interface", name);
		for (size_t i = 0; i < sizeof(cols) / sizeof(*cols); i++)
			rc |= emit(em, cols[i].fam, (double)v[cols[i].col], l->l, l->n);
	}
	l->n = n;
	return rc;
}

/* "label_" + the Kubernetes label name with every character Prometheus refuses as '_'. */
static void label_name(const char *name, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "label_");
	for (const char *p = name; *p && o + 1 < len; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_';
		out[o++] = ok ? c : '_';
	}
	out[o] = '\0';
}

static int pod_labels(emitter *em, const cobs_kube_pod *kp, label_set *base)
{
	cobs_label l[POD_LABELS_MAX + LABELS_MAX];
	char names[POD_LABELS_MAX][128];
	size_t n = base->n;
	memcpy(l, base->l, n * sizeof(*l));
	for (size_t i = 0; i < kp->nlabels && i < POD_LABELS_MAX; i++) {
		label_name(kp->labels[i].name, names[i], sizeof(names[i]));
		l[n++] = (cobs_label){names[i], kp->labels[i].value ? kp->labels[i].value : ""};
	}
	return emit(em, F_POD_LABELS, 1, l, n);
}

static int pod_facts(procpid *s, emitter *em, cg_node *pod)
{
	label_set l = {0};
	groups_labels(pod, &l);
	const size_t nl = l.n;
	int rc = 0;
	const char *host = NULL;
	uint64_t ns = 0;
	if (pod->net_proc) {
		if (!s->host_netns)
			s->host_netns = netns_inode(s->proc_fd, "1/ns/net");
		ns = netns_of(s, pod->net_proc);
		if (ns && s->host_netns)
			host = ns == s->host_netns ? "true" : "false";
	}
	if (!host && pod->kpod)
		host = pod->kpod->host_network ? "true" : "false";
	labels_add(&l, "qos_class", pod->qos);
	labels_add(&l, "host_network", host);
	if (pod->kpod)
		labels_add(&l, "phase", pod->kpod->phase);
	rc |= emit(em, F_POD_INFO, 1, l.l, l.n);
	l.n = nl;
	if (pod->kpod && pod->kpod->nlabels)
		rc |= pod_labels(em, pod->kpod, &l);
	if (s->pod_network && ns && host && strcmp(host, "false") == 0 && !netns_seen(s, ns))
		rc |= pod_network(s, em, &l, pod->net_proc->pid);
	return rc;
}

static int container_facts(emitter *em, cg_node *n)
{
	label_set l = {0};
	groups_labels(n, &l);
	const size_t nl = l.n;
	int rc = 0;
	if (n->kctr && n->kpod)
		rc |= emit(em, F_CTR_RESTARTS, n->kctr->restart_count, l.l, nl);
	labels_add(&l, "runtime", *n->runtime ? n->runtime : NULL); /* cgroupfs: unknown */
	labels_add(&l, "id", n->path);
	if (n->kctr)
		labels_add(&l, "image", n->kctr->image);
	return rc | emit(em, F_CTR_INFO, 1, l.l, l.n);
}

int pods_emit(procpid *s, emitter *em)
{
	int rc = 0;
	s->nnetns_seen = 0;
	for (size_t i = 0; i < s->nodes.n; i++) {
		cg_node *n = s->nodes.items[i];
		if (n->pass != s->pass)
			continue;
		if (n->kind == CG_POD)
			rc |= pod_facts(s, em, n);
		else if (n->kind == CG_CONTAINER)
			rc |= container_facts(em, n);
		cobs_batch_checkpoint(em->b);
	}
	return rc ? -1 : 0;
}
