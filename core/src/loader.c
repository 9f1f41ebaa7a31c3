/*
 * Plugin loading. A plugin that cannot be used is refused with its name and
 * the reason (missing file, missing symbol, wrong ABI, wrong kind, failing
 * init); the caller goes on with the rest.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

static const char *kind_name(cobs_plugin_kind kind)
{
	switch (kind) {
	case COBS_PLUGIN_COLLECTOR:
		return "collector";
	case COBS_PLUGIN_SINK:
		return "sink";
	case COBS_PLUGIN_NOTIFIER:
		return "notifier";
	}
	return "unknown";
}

int cobs_plugin_open(cobs_loaded *p, const char *dir, const char *name, const char *file,
                     cobs_plugin_kind kind, cobs_error *err)
{
	char path[PATH_MAX];
	*p = (cobs_loaded){0};
	if (strchr(file, '/'))
		snprintf(path, sizeof(path), "%s", file);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s.so", dir, file) >= sizeof(path))
		return cobs_error_set(err, "plugin '%s': path too long", name);
	if (access(path, R_OK) != 0)
		return cobs_error_set(err, "plugin '%s': cannot read %s: %s", name, path,
		                      strerror(errno));
	/* RTLD_LOCAL: two plugins may define the same static-looking names. */
	p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle)
		return cobs_error_set(err, "plugin '%s': cannot load %s: %s", name, path,
		                      dlerror());
	p->desc = dlsym(p->handle, COBS_PLUGIN_SYMBOL);
	if (!p->desc) {
		cobs_error_set(err, "plugin '%s': %s has no '%s' symbol (not a cobs plugin?)", name,
		               path, COBS_PLUGIN_SYMBOL);
		goto fail;
	}
	if (p->desc->abi_version != COBS_PLUGIN_ABI) {
		cobs_error_set(err,
		               "plugin '%s': %s was built for plugin ABI %u, this agent speaks %u",
		               name, path, p->desc->abi_version, COBS_PLUGIN_ABI);
		goto fail;
	}
	if (p->desc->kind != kind) {
		cobs_error_set(err, "plugin '%s': %s is a %s, expected a %s", name, path,
		               kind_name(p->desc->kind), kind_name(kind));
		goto fail;
	}
	int ok = p->desc->init && p->desc->shutdown &&
	         (kind != COBS_PLUGIN_COLLECTOR || p->desc->collect) &&
	         (kind != COBS_PLUGIN_SINK || p->desc->write);
	if (!ok) {
		cobs_error_set(err, "plugin '%s': %s lacks a callback a %s needs", name, path,
		               kind_name(kind));
		goto fail;
	}
	p->name = strdup(name);
	p->path = strdup(path);
	if (!p->name || !p->path) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	return 0;
fail:
	cobs_plugin_close(p);
	return -1;
}

int cobs_plugin_init(cobs_loaded *p, cobs_plugin_env *env, cobs_error *err)
{
	cobs_error perr = {{0}};
	env->err = &perr;
	env->name = p->name;
	if (p->desc->init(env, &p->state) != 0) {
		env->err = NULL;
		return cobs_error_set(err, "plugin '%s': init failed: %s", p->name,
		                      perr.msg[0] ? perr.msg : "no reason given");
	}
	env->err = NULL;
	p->initialized = 1;
	return 0;
}

void cobs_plugin_close(cobs_loaded *p)
{
	if (p->initialized && p->desc && p->desc->shutdown)
		p->desc->shutdown(p->state);
		/* Sanitizer builds keep the object mapped so leak reports can name plugin frames.
		 */
#ifndef COBS_KEEP_PLUGINS_MAPPED
	if (p->handle)
		dlclose(p->handle);
#endif
	free(p->name);
	free(p->path);
	*p = (cobs_loaded){0};
}

int cobs_install_dir(const char *subdir, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	char *dir = dirname(exe); /* <prefix>/bin */
	int m = snprintf(buf, len, "%s/../%s", dir, subdir);
	return m < 0 || (size_t)m >= len ? -1 : 0;
}

int cobs_default_plugin_dir(char *buf, size_t len)
{
	return cobs_install_dir(COBS_PLUGIN_SUBDIR, buf, len);
}
