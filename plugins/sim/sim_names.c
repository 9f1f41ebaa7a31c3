/*
 * Names of simulated things (see sim_names.h). Pod-name suffixes use the
 * alphabet Kubernetes generates them from, and cgroup paths follow the
 * systemd driver's layout, so they look like what procpid reads on a node.
 */
#include <stdio.h>
#include <string.h>

#include "sim_names.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *const sim_hostile_comms[SIM_HOSTILE] = {
        "<img src=x onerror=alert(1)>",
        "a) (b",
        "q\"uote\\back slash",
};

const char *const sim_system_comms[SIM_SYSTEM] = {
        "systemd", "kubelet",  "containerd",  "sshd",
        "chronyd", "rsyslogd", "dbus-daemon", "containerd-shim",
};

static const char *const namespaces[] = {"default", "kube-system", "monitoring",    "payments",
                                         "web",     "data",        "ingress-nginx", "cert-manager"};
static const char *const apps[] = {"checkout-api", "cart",       "frontend",   "postgres",
                                   "redis",        "coredns",    "kube-proxy", "prometheus",
                                   "grafana",      "fluent-bit", "nginx",      "orders-worker"};
/* What an app's main container runs, by the app's index above. */
static const char *const app_comms[] = {"java",         "node",       "node",       "postgres",
                                        "redis-server", "coredns",    "kube-proxy", "prometheus",
                                        "grafana",      "fluent-bit", "nginx",      "python3"};
static const char *const sidecars[] = {"istio-proxy", "log-shipper"};
static const char *const sidecar_comms[] = {"envoy", "fluent-bit"};
static const char *const host_comms[] = {"cron", "sh",         "bash",     "sleep", "kworker/u16:2",
                                         "sshd", "journalctl", "iptables", "runc",  "conntrack"};
static const char *const qos[] = {"guaranteed", "burstable", "besteffort"};

static void rand_chars(sim_rng *r, char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[sim_below(r, k)];
	out[n] = '\0';
}

void sim_name_pod(sim_rng *r, sim_pod *pod, const char **app)
{
	size_t a = sim_below(r, N_OF(apps));
	char rs[11], ps[6], hex[33];
	/* Kubernetes' suffix alphabet: no vowels, no look-alike digits. */
	rand_chars(r, rs, 10, "bcdfghjklmnpqrstvwxz2456789");
	rand_chars(r, ps, 5, "bcdfghjklmnpqrstvwxz2456789");
	rand_chars(r, hex, 32, "0123456789abcdef");
	*app = apps[a];
	pod->ns = namespaces[sim_below(r, N_OF(namespaces))];
	pod->qos = qos[sim_below(r, N_OF(qos))];
	snprintf(pod->name, sizeof(pod->name), "%s-%s-%s", apps[a], rs, ps);
	snprintf(pod->uid, sizeof(pod->uid), "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 12,
	         hex + 15, hex + 18);
}

/* The app's index, for its comm. */
static size_t app_index(const char *app)
{
	for (size_t i = 0; i < N_OF(apps); i++)
		if (strcmp(apps[i], app) == 0)
			return i;
	return 0;
}

void sim_name_container(sim_rng *r, const sim_pod *pod, const char *app, unsigned c,
                        sim_container *k)
{
	char uid[40];
	k->name = c == 0 ? apps[app_index(app)] : sidecars[(c - 1) % N_OF(sidecars)];
	rand_chars(r, k->id, 64, "0123456789abcdef");
	snprintf(k->image, sizeof(k->image), "registry.example.com/%s/%s:1.%u.%u", pod->ns, k->name,
	         (unsigned)sim_below(r, 20), (unsigned)sim_below(r, 10));
	/* systemd escapes '-' in slice names as '_'. */
	snprintf(uid, sizeof(uid), "%s", pod->uid);
	for (char *p = uid; *p; p++)
		if (*p == '-')
			*p = '_';
	if (strcmp(pod->qos, "guaranteed") == 0)
		snprintf(k->cgroup, sizeof(k->cgroup),
		         "/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope", uid,
		         k->id);
	else
		snprintf(k->cgroup, sizeof(k->cgroup),
		         "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice/"
		         "cri-containerd-%s.scope",
		         pod->qos, pod->qos, uid, k->id);
}

static const char *comm_of(sim_rng *r, const sim_container *k)
{
	for (size_t i = 0; i < N_OF(sidecars); i++)
		if (strcmp(k->name, sidecars[i]) == 0)
			return sidecar_comms[i];
	/* Now and then a shell or a probe in the container. */
	if (sim_chance(r, 0.1))
		return sim_chance(r, 0.5) ? "sh" : "curl";
	return app_comms[app_index(k->name)];
}

void sim_name_process(sim_rng *r, const sim_container *k, sim_process *p)
{
	if (!k) {
		const char *comm = host_comms[sim_below(r, N_OF(host_comms))];
		sim_name_host_process(p, comm);
		return;
	}
	const char *comm = comm_of(r, k);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	snprintf(p->cmdline, sizeof(p->cmdline), "/usr/bin/%s --config /etc/%s/%s.yaml", comm,
	         k->name, k->name);
	p->host_cgroup[0] = '\0';
	p->cgroup = k->cgroup;
}

void sim_name_host_process(sim_process *p, const char *comm)
{
	bool hostile = false;
	for (size_t i = 0; i < SIM_HOSTILE; i++)
		hostile |= strcmp(comm, sim_hostile_comms[i]) == 0;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	if (hostile) {
		snprintf(p->cmdline, sizeof(p->cmdline), "./%s --title \"<b>x</b>\" 'y'", comm);
		snprintf(p->host_cgroup, sizeof(p->host_cgroup),
		         "/user.slice/user-1000.slice/session-3.scope");
	} else {
		snprintf(p->cmdline, sizeof(p->cmdline), "/usr/sbin/%s", comm);
		/* kworker/u16:2 and the like: a '/' has no place in a unit name. */
		int n = (int)strcspn(comm, "/");
		snprintf(p->host_cgroup, sizeof(p->host_cgroup), "/system.slice/%.*s.service",
		         n < 24 ? n : 24, comm);
	}
	p->cgroup = p->host_cgroup;
}
