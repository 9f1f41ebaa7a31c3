/*
 * Loading plugin shared objects: dlopen, descriptor lookup, ABI and kind
 * checks, init with the plugin's section, and unloading.
 */
#ifndef COBS_LOADER_H
#define COBS_LOADER_H

#include <cobs/plugin.h>

typedef struct cobs_loaded {
	void *handle; /* from dlopen */
	const cobs_plugin_desc *desc;
	void *state; /* the plugin's own, from init */
	char *name;  /* instance name */
	char *path;  /* the .so it came from */
	int initialized;
} cobs_loaded;

/*
 * Opens dir/<file>.so (or file itself when it contains a '/') and checks its
 * descriptor. Returns 0, or -1 with err saying which plugin and why.
 */
int cobs_plugin_open(cobs_loaded *p, const char *dir, const char *name, const char *file,
                     cobs_plugin_kind kind, cobs_error *err);
/* Runs the plugin's init with env (env->err is set to err). 0 or -1. */
int cobs_plugin_init(cobs_loaded *p, cobs_plugin_env *env, cobs_error *err);
/* Shuts down (if initialized) and unloads. Safe on a zeroed struct. */
void cobs_plugin_close(cobs_loaded *p);

/* <exe's directory>/../subdir: the install (or build) tree around the running binary. 0 or -1. */
int cobs_install_dir(const char *subdir, char *buf, size_t len);
/* The directory with the plugins next to the running binary: <exe>/../lib/cobs/plugins. */
int cobs_default_plugin_dir(char *buf, size_t len);

#endif
