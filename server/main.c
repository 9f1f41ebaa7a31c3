/* SPDX-License-Identifier: MIT */
/*
 * cobs-server [-c server.ini] [--listen ADDR:PORT] [--check]
 *
 * Loads the configuration, starts the server, prints the URL it serves
 * ("cobs-server listening on http://HOST:PORT/", the real port when 0 was
 * asked for) and waits for SIGTERM or SIGINT, which drain it (stop
 * accepting, finish what is in flight, end the command streams). Exit
 * status: 0 after a drain or a good --check, 1 when the server cannot run
 * (port taken, bad TLS files), 2 for a usage or configuration error.
 *
 * Threads: main runs h2o (cobs_server_run); a small signal thread is the
 * only one with SIGTERM and SIGINT unblocked. The handler only posts a
 * semaphore (sem_post is async-signal-safe); the signal thread wakes on it
 * and calls cobs_server_drain, which is safe from any thread. So no handler
 * ever runs inside h2o or libevent, and their polls are not interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/log.h>

#include "server.h"
#include "settings.h"

#ifndef COBS_VERSION
#define COBS_VERSION "0"
#endif

static sem_t stop_sem;
static volatile sig_atomic_t stop_signal;
static atomic_int exiting;

static void on_signal(int sig)
{
	stop_signal = sig;
	sem_post(&stop_sem);
}

static void *signal_thread(void *arg)
{
	cobs_server *srv = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (sem_wait(&stop_sem) < 0 && errno == EINTR)
		;
	if (!atomic_load(&exiting)) {
		cobs_log(COBS_LOG_INFO, "server", "%s: draining",
		         stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		cobs_server_drain(srv);
	}
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: cobs-server [-c server.ini] [--listen ADDR:PORT] [--check]\n"
	        "  -c, --config FILE    server configuration (default: built-in defaults)\n"
	        "  -l, --listen ADDR    listen address, overrides [server] listen\n"
	        "                       (default %s; port 0 picks a free port)\n"
	        "      --check          check the configuration and exit\n"
	        "  -V, --version        print the version\n"
	        "  -h, --help           this help\n"
	        "Every key can be set from the environment as COBS_<SECTION>_<KEY>,\n"
	        "e.g. COBS_SERVER_LISTEN=:9090 or COBS_AUTH_AGENT_TOKEN_FILE=/run/secrets/token.\n",
	        COBS_SERVER_DEFAULT_LISTEN);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
	        {"check", no_argument, NULL, 'k'},        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	const char *config = NULL, *listen = NULL;
	int check = 0, c;
	while ((c = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'V':
			printf("cobs-server %s\n", COBS_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cobs-server: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	cobs_srv_settings settings;
	cobs_error err = {{0}};
	if (cobs_srv_settings_load(config, listen, &settings, &err) < 0) {
		fprintf(stderr, "cobs-server: %s\n", err.msg);
		return 2;
	}
	if (check) {
		printf("cobs-server: configuration OK (%s)\n",
		       settings.source ? settings.source : "built-in defaults");
		cobs_srv_settings_free(&settings);
		return 0;
	}
	cobs_log_set_level((cobs_log_level)settings.log_level);

	sem_init(&stop_sem, 0, 0);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client that left is an error return, not a death */
	/* blocked while the server's threads are made, so they inherit the mask */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	cobs_server *srv = cobs_server_new(&settings, &err);
	if (!srv) {
		cobs_srv_settings_free(&settings);
		fprintf(stderr, "cobs-server: %s\n", err.msg);
		return 1;
	}
	pthread_t sig_thread;
	if (pthread_create(&sig_thread, NULL, signal_thread, srv) != 0) {
		fprintf(stderr, "cobs-server: cannot start the signal thread\n");
		cobs_server_free(srv);
		return 1;
	}
	printf("cobs-server listening on %s\n", cobs_server_url(srv, 0));
	if (cobs_server_url(srv, 1))
		printf("cobs-server ingest listening on %s\n", cobs_server_url(srv, 1));
	fflush(stdout);
	cobs_log(COBS_LOG_INFO, "server", "cobs-server %s serving on %s%s%s", COBS_VERSION,
	         cobs_server_url(srv, 0), cobs_server_url(srv, 1) ? ", ingest on " : "",
	         cobs_server_url(srv, 1) ? cobs_server_url(srv, 1) : "");
	int rc = cobs_server_run(srv, &err);
	if (rc < 0)
		fprintf(stderr, "cobs-server: %s\n", err.msg);
	atomic_store(&exiting, 1);
	sem_post(&stop_sem); /* the signal thread, if no signal came */
	pthread_join(sig_thread, NULL);
	cobs_server_free(srv);
	if (rc < 0)
		return 1;
	cobs_log(COBS_LOG_INFO, "server", "stopped");
	sem_destroy(&stop_sem);
	return 0;
}
