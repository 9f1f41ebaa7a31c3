/*
 * cgroup path -> Kubernetes pod and container (see cgmap.h), and the host
 * path of a path seen from inside a cgroup namespace.
 *
 * Why a namespace root has to be found: an agent in a pod with a private
 * cgroup namespace (the default with cgroup v2) reads other processes'
 * cgroups relative to its own, e.g. "0::/../../kubepods-besteffort.slice/
 * kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope", and the
 * processes of its own pod as "/../cri-containerd-<id>.scope", which names
 * no pod at all. The host's tree (sys_root/fs/cgroup, mounted from the host
 * so it shows every cgroup) holds the answer: the namespace root is the
 * directory whose cgroup.procs lists a process that sees itself at "/" (the
 * agent, or anything else in its container). It is searched once, no
 * shallower than the deepest "/.." seen (a process in the host's root cgroup,
 * such as a kernel thread, climbs exactly to the top), and every relative
 * path is then joined to it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgmap.h"

typedef struct comp {
	const char *s;
	size_t n;
} comp;

static bool has_prefix(comp c, const char *pre)
{
	size_t n = strlen(pre);
	return c.n >= n && memcmp(c.s, pre, n) == 0;
}

static bool has_suffix(comp c, const char *suf)
{
	size_t n = strlen(suf);
	return c.n >= n && memcmp(c.s + c.n - n, suf, n) == 0;
}

static bool comp_is(comp c, const char *s)
{
	return c.n == strlen(s) && memcmp(c.s, s, c.n) == 0;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A pod UID: 8-4-4-4-12 hex digits separated by sep (systemd escapes '-' in
 * unit names as '_'), or the 32 hex digits of a static pod's config hash.
 * Written to out with dashes.
 */
static bool parse_uid(const char *s, size_t n, char sep, char out[CG_UID_MAX])
{
	if (n == 32) {
		for (size_t i = 0; i < n; i++)
			if (!is_hex(s[i]))
				return false;
	} else if (n == 36) {
		for (size_t i = 0; i < n; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;
			if (dash ? s[i] != sep : !is_hex(s[i]))
				return false;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] == sep ? '-' : s[i];
	out[n] = '\0';
	return true;
}

static bool parse_id(const char *s, size_t n, char out[CG_ID_MAX])
{
	if (n < 12 || n >= CG_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* "<...>kubepods[-<qos>]-pod<uid_>.slice" (systemd driver). */
static bool systemd_pod(comp c, cg_map_t *m)
{
	static const struct {
		const char *tail;
		const char *qos;
	} prefixes[] = {{"kubepods-burstable", "burstable"},
	                {"kubepods-besteffort", "besteffort"},
	                {"kubepods", "guaranteed"}};
	if (!has_suffix(c, ".slice"))
		return false;
	size_t n = c.n - 6;
	/* The UID is the part after the last "-pod". */
	for (size_t i = n; i-- > 4;) {
		if (memcmp(c.s + i - 4, "-pod", 4) != 0)
			continue;
		if (!parse_uid(c.s + i, n - i, '_', m->pod_uid))
			return false;
		comp pre = {c.s, i - 4};
		for (size_t k = 0; k < sizeof(prefixes) / sizeof(*prefixes); k++) {
			if (!has_suffix(pre, prefixes[k].tail))
				continue;
			size_t tl = strlen(prefixes[k].tail);
			if (pre.n == tl || pre.s[pre.n - tl - 1] == '-') {
				m->qos = prefixes[k].qos;
				return true;
			}
		}
		return false;
	}
	return false;
}

/* "pod<uid>" under "kubepods" or "kubepods/<qos>" (cgroupfs driver). */
static bool cgroupfs_pod(comp c, const comp *prev, const comp *prev2, cg_map_t *m)
{
	if (!prev || !has_prefix(c, "pod") || !parse_uid(c.s + 3, c.n - 3, '-', m->pod_uid))
		return false;
	if (comp_is(*prev, "kubepods")) {
		m->qos = "guaranteed";
		return true;
	}
	if (prev2 && comp_is(*prev2, "kubepods") &&
	    (comp_is(*prev, "burstable") || comp_is(*prev, "besteffort"))) {
		m->qos = comp_is(*prev, "burstable") ? "burstable" : "besteffort";
		return true;
	}
	return false;
}

/* The component right below a pod's: a container, or something of the pod's own. */
static bool container(comp c, cg_map_t *m)
{
	static const struct {
		const char *prefix;
		const char *runtime;
	} runtimes[] = {
	        {"cri-containerd-", "containerd"}, {"crio-", "cri-o"}, {"docker-", "docker"}};
	if (has_suffix(c, ".scope"))
		c.n -= 6;
	if (has_prefix(c, "crio-conmon-"))
		return false; /* CRI-O's monitor lives in the pod, outside every container */
	for (size_t k = 0; k < sizeof(runtimes) / sizeof(*runtimes); k++) {
		size_t pl = strlen(runtimes[k].prefix);
		if (has_prefix(c, runtimes[k].prefix) &&
		    parse_id(c.s + pl, c.n - pl, m->container_id)) {
			m->runtime = runtimes[k].runtime;
			return true;
		}
	}
	/* cgroupfs: the bare ID (containerd and docker both name it so). */
	return parse_id(c.s, c.n, m->container_id);
}

void cg_map(const char *path, cg_map_t *out)
{
	*out = (cg_map_t){.kind = CG_OTHER, .runtime = "", .qos = ""};
	comp prev = {0}, prev2 = {0};
	bool have_prev = false, have_prev2 = false;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		comp c = {p, (size_t)(e - p)};
		if (out->kind == CG_OTHER) {
			cg_map_t m = *out;
			if (systemd_pod(c, &m) || cgroupfs_pod(c, have_prev ? &prev : NULL,
			                                       have_prev2 ? &prev2 : NULL, &m)) {
				*out = m;
				out->kind = CG_POD;
				out->pod_len = (size_t)(e - path);
			}
		} else {
			if (container(c, out)) {
				out->kind = CG_CONTAINER;
				out->container_len = (size_t)(e - path);
			} else {
				out->container_id[0] = '\0';
			}
			return; /* whatever lies deeper belongs to this component */
		}
		prev2 = prev;
		have_prev2 = have_prev;
		prev = c;
		have_prev = true;
		p = e;
	}
}

unsigned cg_updepth(const char *path)
{
	unsigned n = 0;
	while (path[0] == '/' && path[1] == '.' && path[2] == '.' &&
	       (path[3] == '/' || path[3] == '\0')) {
		n++;
		path += 3;
	}
	return n;
}

/* Appends path's components to out (length *ol), applying "." and "..". */
static int push_components(char *out, size_t len, size_t *ol, const char *path)
{
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (*ol > 0 && out[*ol - 1] != '/')
				(*ol)--;
			if (*ol > 0)
				(*ol)--; /* the '/' itself; never above the root */
		} else if (!(n == 1 && p[0] == '.')) {
			if (*ol + 1 + n + 1 > len)
				return -1;
			out[(*ol)++] = '/';
			memcpy(out + *ol, p, n);
			*ol += n;
		}
		p += n;
	}
	return 0;
}

int cg_resolve(const char *nsroot, const char *rel, char *out, size_t len)
{
	size_t ol = 0;
	if (len < 2 || push_components(out, len, &ol, nsroot) < 0 ||
	    push_components(out, len, &ol, rel) < 0)
		return -1;
	if (ol == 0)
		out[ol++] = '/';
	out[ol] = '\0';
	return 0;
}

/* Whether dir/cgroup.procs lists pid. */
static bool lists_pid(const char *dir, pid_t pid)
{
	char path[4200], line[32], want[24];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strcmp(line, want) == 0;
	fclose(f);
	return found;
}

typedef struct walk {
	pid_t anchor;
	unsigned min_depth;
	size_t root_len;
	unsigned visited;
	char *found;
	size_t found_len;
} walk;

#define WALK_MAX_DIRS  65536u
#define WALK_MAX_DEPTH 32u

static bool walk_dir(walk *w, char *path, size_t pl, size_t cap, unsigned depth)
{
	if (++w->visited > WALK_MAX_DIRS || depth > WALK_MAX_DEPTH)
		return false;
	if (depth >= w->min_depth && lists_pid(path, w->anchor)) {
		const char *rel = path + w->root_len;
		snprintf(w->found, w->found_len, "%s", *rel ? rel : "/");
		return true;
	}
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		size_t nl = strlen(de->d_name);
		if (pl + 1 + nl + 1 > cap)
			continue;
		path[pl] = '/';
		memcpy(path + pl + 1, de->d_name, nl + 1);
		bool dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
		}
		if (dir)
			found = walk_dir(w, path, pl + 1 + nl, cap, depth + 1);
		path[pl] = '\0';
	}
	closedir(d);
	return found;
}

int cg_find_nsroot(const char *mount_dir, pid_t anchor, unsigned min_depth, char *out, size_t len)
{
	char path[4096];
	size_t rl = strlen(mount_dir);
	while (rl > 1 && mount_dir[rl - 1] == '/')
		rl--;
	if (rl >= sizeof(path))
		return -1;
	memcpy(path, mount_dir, rl);
	path[rl] = '\0';
	walk w = {.anchor = anchor,
	          .min_depth = min_depth,
	          .root_len = rl,
	          .found = out,
	          .found_len = len};
	return walk_dir(&w, path, rl, sizeof(path), 0) ? 0 : -1;
}
