/*
 * cgroup nodes: the containers, pods and other cgroups that processes live
 * in, each created when its first process is seen and freed when its last
 * one is gone. A process's node comes from its /proc/PID/cgroup, read once
 * per PID+starttime: the path is resolved to the host's (when the agent
 * sits in a cgroup namespace), mapped to pod and container (cgmap.c), and
 * cut to the container's or pod's cgroup, so every process of a container
 * shares one node however deep it sits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procpid.h"

#define NSROOT_RETRY_PASSES 60

static const void *node_key(const void *item, size_t *len)
{
	const cg_node *n = item;
	*len = n->path_len;
	return n->path;
}

void groups_init(procpid *s)
{
	imap_init(&s->nodes, node_key);
}

static cg_node *get_node(procpid *s, const char *path, size_t len, const cg_map_t *m, cg_kind kind,
                         bool v1)
{
	cg_node *n = imap_find(&s->nodes, path, len);
	if (n) {
		n->refs++;
		return n;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strndup(path, len))) {
		free(n);
		return NULL;
	}
	n->path_len = len;
	n->kind = kind;
	n->v1 = v1;
	n->runtime = "";
	n->qos = "";
	for (int i = 0; i < CGF_MAX; i++)
		n->fd[i] = READER_CLOSED;
	if (kind != CG_OTHER) {
		memcpy(n->pod_uid, m->pod_uid, sizeof(n->pod_uid));
		n->qos = m->qos;
	}
	if (kind == CG_CONTAINER) {
		memcpy(n->container_id, m->container_id, sizeof(n->container_id));
		n->runtime = m->runtime;
		if (!(n->pod = get_node(s, path, m->pod_len, m, CG_POD, v1)))
			goto fail;
	}
	if (imap_add(&s->nodes, n) < 0) {
		if (n->pod)
			n->pod->refs--; /* swept at the end of the pass if now unused */
		goto fail;
	}
	n->refs = 1;
	return n;
fail:
	free(n->path);
	free(n);
	return NULL;
}

/* The mount of hierarchy hier (a PP_CG_* index) under sys_root. */
static void mount_dir(const procpid *s, int hier, char *buf, size_t len)
{
	static const char *const names[PP_CG_NCTL] = {"cpu", "cpuacct", "memory"};
	if (hier == PP_CG_V2)
		snprintf(buf, len, "%s/fs/cgroup", s->sys_root);
	else
		snprintf(buf, len, "%s/fs/cgroup/%s", s->sys_root, names[hier]);
}

/*
 * Finds the namespace root of hierarchy hier (see cgmap.c for why and how):
 * the anchor is the agent itself, <proc_root>/self, which must see itself
 * at "/". Needs the host's PID namespace (hostPID), as a node monitor does.
 */
static void find_nsroot(procpid *s, int hier, unsigned min_depth)
{
	char link[32], why[4300] = "";
	ssize_t n = readlinkat(s->proc_fd, "self", link, sizeof(link) - 1);
	long anchor = 0;
	if (n > 0) {
		link[n] = '\0';
		anchor = strtol(link, NULL, 10);
	}
	int fd = READER_CLOSED; /* read once, not kept */
	char rel[48];
	snprintf(rel, sizeof(rel), "%ld/cgroup", anchor);
	pp_cgroup cg;
	pp_span own = {0};
	if (anchor <= 0)
		snprintf(why, sizeof(why), "%s/self does not name the agent (no hostPID?)",
		         s->proc_root);
	else if (reader_read(&s->rd, s->proc_fd, rel, &fd, false, false) < 0 ||
	         pp_parse_cgroup(s->rd.buf, s->rd.len, &cg) < 0)
		snprintf(why, sizeof(why), "cannot read %s/%s", s->proc_root, rel);
	else if (hier == PP_CG_V2 ? (own = cg.v2).p == NULL : (own = cg.v1[hier]).p == NULL)
		snprintf(why, sizeof(why), "%s/%s lacks the hierarchy", s->proc_root, rel);
	else if (!(own.len == 1 && own.p[0] == '/'))
		snprintf(why, sizeof(why), "the agent is not at its namespace's root");
	char dir[4096], root[4096];
	mount_dir(s, hier, dir, sizeof(dir));
	if (!why[0] && cg_find_nsroot(dir, (pid_t)anchor, min_depth, root, sizeof(root)) < 0)
		snprintf(why, sizeof(why), "no cgroup under %s lists pid %ld", dir, anchor);
	if (why[0]) {
		if (!s->nsroot_warned)
			cobs_log(
			        COBS_LOG_WARN, s->who,
			        "cgroup paths are relative to the agent's cgroup namespace and its "
			        "root was not found (%s): container metrics from the cgroup tree "
			        "are missing; pods and containers are still named from the paths",
			        why);
		s->nsroot_warned = true;
		return;
	}
	s->nsroot[hier] = strdup(root);
	if (s->nsroot[hier])
		cobs_log(COBS_LOG_INFO, s->who,
		         "the agent has its own cgroup namespace; its root is %s on the host",
		         s->nsroot[hier]);
}

/*
 * The host path of a path read in the agent's cgroup namespace: once its root
 * is known every path is relative to it ("/" is the agent's own cgroup), and
 * a path that climbs out with "/.." is the sign that there is one. 0 or -1.
 */
static int resolve(procpid *s, int hier, const char *path, char *out, size_t len)
{
	unsigned up = cg_updepth(path);
	if (!s->nsroot[hier] && up && s->pass >= s->nsroot_retry[hier]) {
		s->nsroot_retry[hier] = s->pass + NSROOT_RETRY_PASSES;
		find_nsroot(s, hier, up);
	}
	if (s->nsroot[hier])
		return cg_resolve(s->nsroot[hier], path, out, len);
	/* Unresolved: the part below the "/.." still names pods and containers. */
	return cg_resolve("/", path + 3 * up, out, len);
}

void groups_detect_namespace(procpid *s)
{
	/* PID 1 is outside any container: in a cgroup namespace its path climbs out. */
	int fd = READER_CLOSED, hier;
	pp_cgroup cg;
	if (reader_read(&s->rd, s->proc_fd, "1/cgroup", &fd, false, false) < 0 ||
	    pp_parse_cgroup(s->rd.buf, s->rd.len, &cg) < 0)
		return;
	pp_span sp = pp_cgroup_path(&cg, &hier);
	char path[4096], out[4096];
	if (sp.p && sp.len < sizeof(path)) {
		memcpy(path, sp.p, sp.len);
		path[sp.len] = '\0';
		if (cg_updepth(path))
			resolve(s, hier, path, out, sizeof(out));
	}
}

cg_node *groups_attach(procpid *s, char *text, size_t len)
{
	pp_cgroup cg;
	int hier;
	if (pp_parse_cgroup(text, len, &cg) < 0)
		return NULL;
	pp_span sp = pp_cgroup_path(&cg, &hier);
	char path[4096], host[4096];
	if (!sp.p || sp.len >= sizeof(path))
		return NULL;
	memcpy(path, sp.p, sp.len);
	path[sp.len] = '\0';
	const char *p = path;
	if (cg_updepth(path) > 0 || s->nsroot[hier]) {
		if (resolve(s, hier, path, host, sizeof(host)) < 0)
			return NULL;
		p = host;
	}
	cg_map_t m;
	cg_map(p, &m);
	size_t nl = m.kind == CG_CONTAINER ? m.container_len
	            : m.kind == CG_POD     ? m.pod_len
	                                   : strlen(p);
	return get_node(s, p, nl, &m, m.kind, cg.v1_any);
}

void groups_unref(procpid *s, cg_node *n)
{
	(void)s;
	if (n)
		n->refs--;
}

void groups_touch(procpid *s, cg_node *n, proc_entry *e)
{
	cg_node *pod = n->kind == CG_POD ? n : n->pod;
	if (pod && pod->pass != s->pass) {
		pod->pass = s->pass;
		pod->nprocs = 0;
		pod->net_proc = NULL;
		pod->kpod = cobs_kube_find_pod(s->kube, pod->pod_uid);
	}
	if (n->pass != s->pass) {
		n->pass = s->pass;
		n->nprocs = 0;
		if (n->kind == CG_CONTAINER) {
			n->kpod = pod->kpod;
			n->kctr = cobs_kube_pod_container(n->kpod, n->container_id);
		}
	}
	n->nprocs++;
	if (n->kind == CG_CONTAINER)
		pod->nprocs++;
	/* The lowest PID in the pod's containers (its sandbox, usually) stands for its
	 * network: the same process every pass, whatever order /proc lists them in. Not
	 * a process of the pod's own cgroup: CRI-O's conmon lives there, on the host's
	 * network. */
	if (n->kind == CG_CONTAINER && (!pod->net_proc || e->pid < pod->net_proc->pid))
		pod->net_proc = e;
}

void groups_labels(const cg_node *n, label_set *l)
{
	const cg_node *pod = n->kind == CG_POD ? n : n->pod;
	if (!pod)
		return;
	if (pod->kpod) {
		labels_add(l, "namespace", pod->kpod->namespace_name);
		labels_add(l, "pod", pod->kpod->name);
	}
	if (n->kind == CG_CONTAINER && n->kctr)
		labels_add(l, "container", n->kctr->name);
	labels_add(l, "pod_uid", pod->pod_uid);
	if (n->kind == CG_CONTAINER)
		labels_add(l, "container_id", n->container_id);
}

void groups_shed(procpid *s)
{
	for (size_t i = 0; i < s->nodes.n && s->rd.kept > s->rd.budget; i++)
		cgstats_close(s, s->nodes.items[i]);
}

static void free_node(procpid *s, cg_node *n)
{
	cgstats_close(s, n);
	free(n->path);
	free(n);
}

static bool node_gone(void *item, void *ctx)
{
	cg_node *n = item;
	if (n->refs)
		return false;
	if (n->pod)
		n->pod->refs--;
	free_node(ctx, n);
	return true;
}

void groups_sweep(procpid *s)
{
	/* A container freed here may leave its pod unused: sweep until nothing goes. */
	while (imap_sweep(&s->nodes, node_gone, s))
		;
}

static bool node_free_all(void *item, void *ctx)
{
	free_node(ctx, item);
	return true;
}

void groups_free(procpid *s)
{
	imap_sweep(&s->nodes, node_free_all, s);
	imap_free(&s->nodes);
}
