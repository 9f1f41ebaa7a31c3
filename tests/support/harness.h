/*
 * Test harness: loads a built plugin through the real loader, configures it
 * from key/value pairs as if they came from agent.ini, runs it, and finds
 * samples in the batches it produced.
 */
#ifndef COBS_TEST_HARNESS_H
#define COBS_TEST_HARNESS_H

#include <limits.h>
#include <sys/types.h>

#include <cobs/plugin.h>

#include "config_internal.h"
#include "loader.h"

typedef struct harness {
	cobs_config *config;
	cobs_loaded plugin;
	cobs_plugin_env env;
	cobs_error err; /* why open/init failed */
} harness;

/*
 * Opens plugin `name` (a collector or sink, by kind) from the build's plugin
 * dir with section [plugin.<name>] or [sink.<name>] holding kv ("key",
 * "value", ..., NULL). proc_root / sys_root may be NULL ("/proc", "/sys").
 * Returns 0, or -1 with h->err filled.
 */
int harness_open(harness *h, cobs_plugin_kind kind, const char *name, const char *proc_root,
                 const char *sys_root, const char *const *kv);
void harness_close(harness *h);
/* One collection into a fresh batch (reset first). Returns the plugin's result. */
int harness_collect(harness *h, cobs_batch *b);
/* The same at a chosen monotonic time, so tests know the interval rates divide by. */
int harness_collect_at(harness *h, cobs_batch *b, uint64_t monotonic_ns);

/* Overwrites dst in place with src's contents (same inode: kept-open fds see it). 0 or -1. */
int fixture_put(const char *src, const char *dst);
/* A fresh temporary directory (static buffer), removed by the OS /tmp cleanup. */
const char *temp_dir(void);
/* mkdir -p. 0 or -1. */
int make_dirs(const char *path);

/* The path of a fixture tree: COBS_FIXTURES "/" rel (static buffer). */
const char *fixture(const char *rel);

/*
 * The value of the sample of family `name` whose labels include all pairs in
 * lv ("label", "value", ..., NULL). Returns 1 and sets *out when found (exactly
 * one match), 0 when absent, -1 when several samples match.
 */
int sample_value(const cobs_batch *b, const char *name, double *out, ...);
/* Number of samples in family `name` (0 if absent). */
size_t family_size(const cobs_batch *b, const char *name);

/*
 * Runs argv to completion with stdout and stderr captured into files; returns
 * the exit status (or 128+signal), -1 if it could not run. *out and *err
 * (malloc'd, NUL-terminated; free them) may be NULL to discard.
 */
int run_command(char *const argv[], char **out, char **err);
/* Starts argv in the background with stdout/stderr to the given files. Returns the pid. */
pid_t spawn_command(char *const argv[], const char *out_path, const char *err_path);
/* Waits up to timeout_ms for pid; returns the exit status, 128+signal, or -1 on timeout. */
int wait_command(pid_t pid, int timeout_ms);
/*
 * A self-signed certificate and its key for 127.0.0.1 and localhost, made by
 * the openssl command in dir (dir/cert.pem, dir/key.pem, paths copied into
 * cert and key, each PATH_MAX long). 0, or -1 with openssl's stderr logged.
 */
int make_test_cert(const char *dir, char *cert, char *key);
/* Reads a whole file (malloc'd, NUL-terminated), or NULL. */
char *read_file(const char *path);
/* Writes text to path (truncating). 0 or -1. */
int write_file(const char *path, const char *text);

#endif
