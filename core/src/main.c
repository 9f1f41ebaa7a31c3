/*
 * cobs-agent: loads agent.ini (or the built-in defaults), then either
 * collects once and prints (--once), or runs the loop until SIGTERM.
 * SIGHUP reloads the file; a bad new file is refused and the old runtime
 * keeps running. --simulate N runs fake nodes instead (simulate.c).
 */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cobs/format.h>

#include "agent.h"
#include "simulate.h"

typedef struct cli {
	const char *config_path;
	const char *format;
	const char *server; /* --server URL */
	bool once;
	bool check;
	unsigned long simulate;   /* --simulate N: fake nodes, 0 for a real agent */
	const char *sim_sets[32]; /* --sim KEY=VALUE; [plugin.sim] has fewer keys */
	size_t nsim_sets;
} cli;

typedef struct runner {
	cli opts;
	struct event_base *base;
	cobs_agent *agent;
	cobs_simulation *sim;
} runner;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: cobs-agent [-c agent.ini] [--server URL] [--once [--format "
	        "text|json|prometheus]] [--check]\n"
	        "  -c, --config FILE  read FILE (default: built-in: cpu, mem, net, disk -> "
	        "stdout)\n"
	        "      --server URL   send batches to cobs-server at URL: adds [sink.http2] url = "
	        "URL\n"
	        "                     (without -c, instead of the stdout sink)\n"
	        "      --once         collect once from every plugin, print to stdout, exit\n"
	        "      --format F     output format of the stdout sink: text, json, prometheus\n"
	        "      --check        check the configuration and plugins, then exit\n"
	        "      --simulate N   act as N fake nodes (plugin sim) sending to --server URL;\n"
	        "                     -c FILE may hold [agent], [plugin.sim] and sinks only\n"
	        "      --sim K=V      a [plugin.sim] setting for --simulate: interval=5s, seed=1,\n"
	        "                     pods=50, processes=300, connections=0, ... (see agent.ini)\n"
	        "  -V, --version      print the version\n");
}

/* 0 to go on, 1 to exit successfully, -1 on a usage error. */
static int parse_cli(int argc, char **argv, cli *c)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
	                                         {"once", no_argument, NULL, 'o'},
	                                         {"format", required_argument, NULL, 'f'},
	                                         {"check", no_argument, NULL, 'k'},
	                                         {"server", required_argument, NULL, 's'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {"version", no_argument, NULL, 'V'},
	                                         {"simulate", required_argument, NULL, 'S'},
	                                         {"sim", required_argument, NULL, 'K'},
	                                         {NULL, 0, NULL, 0}};
	int ch;
	char *end;
	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c->config_path = optarg;
			break;
		case 'o':
			c->once = true;
			break;
		case 'f':
			if (cobs_format_parse(optarg) < 0) {
				fprintf(stderr, "cobs-agent: unknown format '%s'\n", optarg);
				return -1;
			}
			c->format = optarg;
			break;
		case 'k':
			c->check = true;
			break;
		case 's':
			c->server = optarg;
			break;
		case 'S':
			c->simulate = strtoul(optarg, &end, 10);
			if (!*optarg || *end || c->simulate < 1 || c->simulate > 100000) {
				fprintf(stderr, "cobs-agent: --simulate wants 1 to 100000 nodes\n");
				return -1;
			}
			break;
		case 'K':
			if (c->nsim_sets == sizeof(c->sim_sets) / sizeof(c->sim_sets[0])) {
				fprintf(stderr, "cobs-agent: too many --sim settings\n");
				return -1;
			}
			c->sim_sets[c->nsim_sets++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("cobs-agent %s\n", COBS_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cobs-agent: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (c->nsim_sets && !c->simulate) {
		fprintf(stderr, "cobs-agent: --sim goes with --simulate N\n");
		return -1;
	}
	return 0;
}

/*
 * --server URL: a [sink.http2] section with url = URL (created, or added to
 * the file's). The built-in defaults' stdout sink is switched off: the quick
 * case sends, it does not print. 0, or -1 with err.
 */
static int add_server(cobs_config *cfg, const char *url, bool builtin, cobs_error *err)
{
	cobs_section *s = cobs_config_add_section(cfg, "sink.http2", "--server", 1);
	if (!s)
		return cobs_error_set(err, "out of memory");
	if (cobs_section_set(s, "url", url, "--server", 1, err) < 0)
		return cobs_error_set(
		        err, "--server: the configuration's [sink.http2] already sets url; "
		             "drop one of them");
	cobs_section *out = builtin ? cobs_config_section(cfg, "sink.stdout") : NULL;
	if (out && cobs_section_set(out, "enabled", "false", "--server", 1, err) < 0)
		return -1;
	return 0;
}

/* --simulate: the file's configuration, or an empty one (not the built-in collectors). */
static cobs_config *simulate_config(const cli *c, cobs_error *err)
{
	cobs_config *cfg =
	        c->config_path ? cobs_config_load(c->config_path, err) : cobs_config_new();
	if (!cfg) {
		if (!c->config_path)
			cobs_error_set(err, "out of memory");
		return NULL;
	}
	cobs_sim_options o = {.nodes = c->simulate,
	                      .server = c->once ? NULL : c->server,
	                      .sets = c->sim_sets,
	                      .nsets = c->nsim_sets};
	if (cobs_simulate_configure(cfg, &o, err) < 0) {
		cobs_config_free(cfg);
		return NULL;
	}
	return cfg;
}

static cobs_agent *build(const runner *r, cobs_error *err)
{
	cobs_config *cfg = r->opts.simulate      ? simulate_config(&r->opts, err)
	                   : r->opts.config_path ? cobs_config_load(r->opts.config_path, err)
	                                         : cobs_default_config(err);
	if (!cfg)
		return NULL;
	if (r->opts.server && !r->opts.once && !r->opts.simulate &&
	    add_server(cfg, r->opts.server, !r->opts.config_path, err) < 0) {
		cobs_config_free(cfg);
		return NULL;
	}
	cobs_agent_options opt = {.format = r->opts.format, .stdout_only = r->opts.once};
	return cobs_agent_build(cfg, r->base, &opt, err);
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	runner *r = arg;
	cobs_error err = {{0}};
	if (r->sim) {
		cobs_log(COBS_LOG_WARN, "agent", "SIGHUP: --simulate does not reload; ignored");
		return;
	}
	cobs_log(COBS_LOG_INFO, "agent", "SIGHUP: reloading %s",
	         r->opts.config_path ? r->opts.config_path : "built-in defaults");
	cobs_log_level level = cobs_log_get_level();
	cobs_agent *fresh = build(r, &err);
	if (!fresh || cobs_agent_start(fresh) < 0) {
		cobs_log_set_level(level);
		cobs_log(COBS_LOG_ERROR, "agent",
		         "reload refused, keeping the running configuration: %s",
		         err.msg[0] ? err.msg : "out of memory");
		cobs_agent_free(fresh);
		return;
	}
	cobs_agent_flush(r->agent);
	cobs_agent_free(r->agent);
	r->agent = fresh;
	cobs_log(COBS_LOG_INFO, "agent", "reloaded: %zu collector(s), %zu sink(s)",
	         fresh->ncollectors, fresh->nsinks);
}

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	runner *r = arg;
	cobs_log(COBS_LOG_INFO, "agent", "signal %d: flushing sinks and exiting", (int)sig);
	event_base_loopbreak(r->base);
}

/* Many plugins keep /proc files open: raise the soft fd limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Callbacks must not block the loop. A stdout that is a pipe or socket (a log
 * collector, kubectl logs) can stall, so it is made non-blocking and the
 * stdout sink drops instead of waiting. A terminal or file is left alone:
 * O_NONBLOCK would leak into the shell that shares it.
 */
static void stdout_nonblocking_if_pipe(void)
{
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		if (fl >= 0)
			fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK);
	}
}

static int run_loop(runner *r)
{
	stdout_nonblocking_if_pipe();
	struct event *hup = evsignal_new(r->base, SIGHUP, on_reload, r);
	struct event *term = evsignal_new(r->base, SIGTERM, on_terminate, r);
	struct event *intr = evsignal_new(r->base, SIGINT, on_terminate, r);
	int rc = 1;
	if (!hup || !term || !intr || evsignal_add(hup, NULL) < 0 || evsignal_add(term, NULL) < 0 ||
	    evsignal_add(intr, NULL) < 0 ||
	    (r->opts.simulate ? !(r->sim = cobs_simulation_start(r->agent, r->opts.simulate))
	                      : cobs_agent_start(r->agent) < 0)) {
		cobs_log(COBS_LOG_ERROR, "agent", "cannot set up the event loop");
		goto out;
	}
	if (!r->sim)
		cobs_log(COBS_LOG_INFO, "agent",
		         "node %s: %zu collector(s), %zu sink(s), every %llu ms",
		         r->agent->settings.node, r->agent->ncollectors, r->agent->nsinks,
		         (unsigned long long)r->agent->settings.interval_ms);
	rc = event_base_dispatch(r->base) < 0;
	/*
	 * Stopping. A second SIGTERM (timeout(1) and some supervisors signal the
	 * process and then its group) must not kill the flush below: once the
	 * signal events are freed the default action would be back.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	cobs_simulation_stop(r->sim);
	r->sim = NULL;
	cobs_agent_flush(r->agent);
out:
	if (hup)
		event_free(hup);
	if (term)
		event_free(term);
	if (intr)
		event_free(intr);
	return rc;
}

int main(int argc, char **argv)
{
	runner r = {0};
	int rc = parse_cli(argc, argv, &r.opts);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	r.base = event_base_new();
	if (!r.base) {
		cobs_log(COBS_LOG_ERROR, "agent", "cannot create the event loop");
		return 1;
	}
	cobs_error err = {{0}};
	r.agent = build(&r, &err);
	if (!r.agent) {
		cobs_log(COBS_LOG_ERROR, "agent", "%s", err.msg);
		event_base_free(r.base);
		return 1;
	}
	if (r.opts.check) {
		printf("configuration OK: %zu collector(s), %zu sink(s), %zu plugin(s) refused\n",
		       r.agent->ncollectors, r.agent->nsinks, r.agent->load_errors);
		rc = r.agent->load_errors ? 1 : 0;
	} else if (r.opts.once) {
		long n = cobs_agent_collect_once(r.agent);
		cobs_agent_flush(r.agent);
		rc = n > 0 ? 0 : 1;
		if (n <= 0)
			cobs_log(COBS_LOG_ERROR, "agent", "no plugin produced data");
	} else {
		rc = run_loop(&r);
	}
	cobs_agent_free(r.agent);
	event_base_free(r.base);
	return rc;
}
