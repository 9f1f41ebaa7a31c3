/*
 * From a process's cgroup path to its Kubernetes pod and container, and from
 * a path seen inside the agent's own cgroup namespace to the host's path.
 * cg_map and cg_resolve are pure; cg_find_nsroot reads the cgroup tree.
 */
#ifndef PROCPID_CGMAP_H
#define PROCPID_CGMAP_H

#include <stddef.h>
#include <sys/types.h>

#define CG_UID_MAX 40 /* a UUID with dashes is 36; a static pod's hash is 32 */
#define CG_ID_MAX  132

typedef enum cg_kind {
	CG_OTHER = 0,     /* not in a pod: a service, a session, the root */
	CG_POD = 1,       /* in a pod's cgroup but no container's (CRI-O's conmon) */
	CG_CONTAINER = 2, /* in a container (the sandbox's pause container included) */
} cg_kind;

typedef struct cg_map_t {
	cg_kind kind;
	char pod_uid[CG_UID_MAX];     /* with dashes, as the API's metadata.uid */
	char container_id[CG_ID_MAX]; /* the runtime's ID, as in the API after "://" */
	const char *runtime;          /* "containerd", "cri-o", "docker" or "" (cgroupfs) */
	const char *qos;              /* "guaranteed", "burstable", "besteffort" */
	size_t pod_len;               /* path[0, pod_len) is the pod's cgroup */
	size_t container_len;         /* path[0, container_len) is the container's cgroup */
} cg_map_t;

/*
 * Maps a host cgroup path (absolute, "/kubepods.slice/...") to its pod and
 * container. Recognised, anywhere in the path (so a kubelet --cgroup-root
 * prefix such as /kubelet.slice/kubelet-kubepods.slice works too):
 *   systemd driver  .../kubepods[-<qos>]-pod<uid with _>.slice/<runtime>-<id>.scope
 *                   runtime: cri-containerd, crio, docker; crio-conmon-<id>.scope
 *                   is CRI-O's monitor, in the pod but in no container
 *   cgroupfs driver .../kubepods[/<qos>]/pod<uid>/[crio-]<id>
 * Guaranteed pods have no QoS level. Anything below the container's cgroup
 * (a nested cgroup made inside the container) belongs to the container.
 */
void cg_map(const char *path, cg_map_t *out);

/*
 * The host path of a path read inside a cgroup namespace: "/../../x/y" is
 * relative to the namespace's root, whose host path is nsroot. Writes the
 * normalised absolute path. 0, or -1 when it does not fit.
 */
int cg_resolve(const char *nsroot, const char *rel, char *out, size_t len);

/* How many leading "/.." components a path has (0 for an ordinary path). */
unsigned cg_updepth(const char *path);

/*
 * Finds the agent's cgroup namespace root in the host's tree mounted at
 * mount_dir: the directory, at depth >= min_depth, whose cgroup.procs lists
 * anchor (a process that sees itself at "/"). Writes its path ("/a/b").
 * 0, or -1 when not found within the first 65536 directories.
 */
int cg_find_nsroot(const char *mount_dir, pid_t anchor, unsigned min_depth, char *out, size_t len);

#endif
