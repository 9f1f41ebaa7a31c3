/* SPDX-License-Identifier: MIT */
/*
 * server.ini: every key's default, range and meaning lives here and in
 * conf/server.ini (which documents them for users).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cobs/log.h>

#include "config_internal.h"
#include "loader.h"
#include "settings.h"

#define MIB (1024ull * 1024ull)

/* A section that must exist so that environment overrides apply to it. */
static cobs_section *section(cobs_config *c, const char *name, cobs_error *err)
{
	cobs_section *s = cobs_config_section(c, name);
	if (!s && !(s = cobs_config_add_section(c, name, NULL, 0)))
		cobs_error_set(err, "out of memory");
	return s;
}

static int check_sections(const cobs_config *c, cobs_error *err)
{
	for (size_t i = 0; i < cobs_config_count(c); i++) {
		const cobs_section *s = cobs_config_at(c, i);
		const char *name = cobs_section_name(s);
		char where[300];
		if (strcmp(name, "server") == 0 || strcmp(name, "auth") == 0 ||
		    strcmp(name, "ui") == 0)
			continue;
		if (strcmp(name, "store") == 0 || strcmp(name, "alerts") == 0 ||
		    strncmp(name, "notifier.", 9) == 0) {
			cobs_log(COBS_LOG_INFO, "server",
			         "%s: section [%s] is accepted and ignored by this version",
			         cobs_section_where(s, where, sizeof(where)), name);
			continue;
		}
		return cobs_error_set(err,
		                      "%s: unknown section [%s] (expected [server], [ui], [auth], "
		                      "[store], [alerts] or [notifier.<name>])",
		                      cobs_section_where(s, where, sizeof(where)), name);
	}
	return 0;
}

/* A string key copied out of the config; "" counts as unset. */
static int get_str(const cobs_section *s, const char *key, const char *def, char **out,
                   cobs_error *err)
{
	const char *v;
	if (cobs_cfg_string(s, key, def, &v, err) < 0)
		return -1;
	*out = NULL;
	if (v && *v && !(*out = strdup(v)))
		return cobs_error_set(err, "out of memory");
	return 0;
}

/* The token file's first line, surrounding whitespace dropped (a Kubernetes secret often ends in
 * '\n'). */
static int read_token_file(const cobs_section *s, const char *key, const char *path, char **out,
                           cobs_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return cobs_cfg_error(s, key, err, "cannot read '%s': %s", path, strerror(errno));
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	int toolong = n == sizeof(buf) - 1 && fgetc(f) != EOF;
	fclose(f);
	if (toolong)
		return cobs_cfg_error(s, key, err, "'%s' is over 4 KiB", path);
	buf[n] = '\0';
	char *start = buf + strspn(buf, " \t\r\n");
	start[strcspn(start, "\r\n")] = '\0';
	size_t len = strlen(start);
	while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		start[--len] = '\0';
	if (!len)
		return cobs_cfg_error(s, key, err, "'%s' holds no secret", path);
	if (!(*out = strdup(start)))
		return cobs_error_set(err, "out of memory");
	return 0;
}

/* The token goes in an HTTP header: printable ASCII without spaces. */
static int token_ok(const char *t)
{
	for (; *t; t++)
		if (*t <= ' ' || *t > '~')
			return 0;
	return 1;
}

/*
 * A secret given as `key` or as `key_file` (a Kubernetes secret mounted as a
 * file), not both; printable ASCII without spaces. *out stays NULL when unset.
 */
static int load_secret(cobs_section *a, const char *key, char **out, cobs_error *err)
{
	char file_key[64], *file = NULL;
	snprintf(file_key, sizeof(file_key), "%s_file", key);
	if (get_str(a, key, NULL, out, err) < 0 || get_str(a, file_key, NULL, &file, err) < 0)
		return -1;
	int rc = 0;
	if (*out && file)
		rc = cobs_cfg_error(a, file_key, err, "set %s or %s, not both", key, file_key);
	else if (file)
		rc = read_token_file(a, file_key, file, out, err);
	if (rc == 0 && *out && !token_ok(*out))
		rc = cobs_cfg_error(a, file ? file_key : key, err,
		                    "must be printable ASCII without spaces");
	free(file);
	return rc;
}

static int load_auth(cobs_config *c, cobs_srv_settings *o, cobs_error *err)
{
	cobs_section *a = section(c, "auth", err);
	if (!a || load_secret(a, "agent_token", &o->agent_token, err) < 0 ||
	    get_str(a, "ui_user", NULL, &o->ui_user, err) < 0 ||
	    load_secret(a, "ui_password", &o->ui_password, err) < 0 ||
	    load_secret(a, "ui_token", &o->ui_token, err) < 0)
		return -1;
	if (!o->ui_user != !o->ui_password)
		return cobs_cfg_error(a, o->ui_user ? "ui_password" : "ui_user", err,
		                      "ui_user and ui_password go together");
	if (o->ui_user && (strchr(o->ui_user, ':') || !token_ok(o->ui_user)))
		return cobs_cfg_error(a, "ui_user", err,
		                      "must be printable ASCII without spaces or ':'");
	return cobs_section_check_unused(a, err);
}

static int load_server(cobs_config *c, const char *listen_override, cobs_srv_settings *o,
                       cobs_error *err)
{
	cobs_section *s = section(c, "server", err);
	uint64_t level;
	const char *lvl;
	if (!s || get_str(s, "listen", COBS_SERVER_DEFAULT_LISTEN, &o->listen, err) < 0 ||
	    get_str(s, "ingest_listen", NULL, &o->ingest_listen, err) < 0 ||
	    get_str(s, "tls_cert", NULL, &o->tls_cert, err) < 0 ||
	    get_str(s, "tls_key", NULL, &o->tls_key, err) < 0 ||
	    cobs_cfg_size(s, "max_batch_size", 16 * MIB, &o->max_batch_size, err) < 0 ||
	    cobs_cfg_uint(s, "stale_after", 2, 1, 1000, &o->stale_after, err) < 0 ||
	    cobs_cfg_uint(s, "down_after", 5, 1, 10000, &o->down_after, err) < 0 ||
	    cobs_cfg_duration_ms(s, "history_retention", 3600000, &o->history_retention_ms, err) <
	            0 ||
	    cobs_cfg_duration_ms(s, "history_resolution", 0, &o->history_resolution_ms, err) < 0 ||
	    cobs_cfg_size(s, "history_memory", 256 * MIB, &o->history_memory, err) < 0 ||
	    cobs_cfg_duration_ms(s, "heartbeat_interval", 5000, &o->heartbeat_ms, err) < 0 ||
	    cobs_cfg_duration_ms(s, "command_timeout", 60000, &o->command_timeout_ms, err) < 0 ||
	    cobs_cfg_duration_ms(s, "drain_timeout", 10000, &o->drain_timeout_ms, err) < 0 ||
	    cobs_cfg_string(s, "log_level", "info", &lvl, err) < 0)
		return -1;
	if ((level = (uint64_t)cobs_log_parse_level(lvl)) > COBS_LOG_ERROR)
		return cobs_cfg_error(s, "log_level", err,
		                      "invalid value '%s' (expected debug, info, warn or error)",
		                      lvl);
	o->log_level = (int)level;
	if (o->max_batch_size < 1024 || o->max_batch_size > COBS_SERVER_MAX_BATCH)
		return cobs_cfg_error(s, "max_batch_size", err,
		                      "invalid value (expected 1KiB to %lluMiB)",
		                      (unsigned long long)(COBS_SERVER_MAX_BATCH / MIB));
	if (o->down_after <= o->stale_after)
		return cobs_cfg_error(s, "down_after", err, "must be more than stale_after (%llu)",
		                      (unsigned long long)o->stale_after);
	if (o->history_retention_ms < 1000 || o->history_retention_ms > 366ull * 86400000)
		return cobs_cfg_error(s, "history_retention", err,
		                      "invalid value (expected 1s to 366d)");
	if (o->history_resolution_ms > o->history_retention_ms)
		return cobs_cfg_error(s, "history_resolution", err,
		                      "must not exceed history_retention");
	if (o->heartbeat_ms < 100 || o->heartbeat_ms > 9000)
		return cobs_cfg_error(s, "heartbeat_interval", err,
		                      "invalid value (expected 100ms to 9s: an idle HTTP/2 "
		                      "connection is closed after 10s)");
	if (o->command_timeout_ms < 100 || o->command_timeout_ms > 86400000)
		return cobs_cfg_error(s, "command_timeout", err,
		                      "invalid value (expected 100ms to 1d)");
	if (o->drain_timeout_ms > 600000)
		return cobs_cfg_error(s, "drain_timeout", err, "invalid value (expected 0 to 10m)");
	if (!o->tls_cert != !o->tls_key)
		return cobs_cfg_error(s, o->tls_cert ? "tls_key" : "tls_cert", err,
		                      "tls_cert and tls_key go together");
	if (listen_override) {
		free(o->listen);
		if (!(o->listen = strdup(listen_override)))
			return cobs_error_set(err, "out of memory");
	}
	return cobs_section_check_unused(s, err);
}

static int load_ui(cobs_config *c, cobs_srv_settings *o, cobs_error *err)
{
	cobs_section *u = section(c, "ui", err);
	if (!u || get_str(u, "web_dir", NULL, &o->web_dir, err) < 0 ||
	    cobs_cfg_duration_ms(u, "refresh", 2000, &o->refresh_ms, err) < 0)
		return -1;
	if (o->refresh_ms && (o->refresh_ms < 500 || o->refresh_ms > 3600000))
		return cobs_cfg_error(
		        u, "refresh", err,
		        "invalid value (expected 0 for no live updates, or 500ms to 1h)");
	if (!o->web_dir) {
		char dir[PATH_MAX];
		if (cobs_install_dir(COBS_DATA_SUBDIR "/web", dir, sizeof(dir)) < 0 ||
		    !(o->web_dir = strdup(dir)))
			return cobs_error_set(
			        err, "cannot tell where the web files are: set [ui] web_dir");
	}
	return cobs_section_check_unused(u, err);
}

int cobs_srv_settings_load(const char *path, const char *listen_override, cobs_srv_settings *out,
                           cobs_error *err)
{
	*out = (cobs_srv_settings){0};
	cobs_config *c = path ? cobs_config_load(path, err) : cobs_config_new();
	if (!c)
		return path ? -1 : cobs_error_set(err, "out of memory");
	int rc = -1;
	if (path && !(out->source = strdup(path))) {
		cobs_error_set(err, "out of memory");
		goto done;
	}
	if (check_sections(c, err) < 0 || load_server(c, listen_override, out, err) < 0 ||
	    load_ui(c, out, err) < 0 || load_auth(c, out, err) < 0)
		goto done;
	rc = 0;
done:
	cobs_config_free(c);
	if (rc < 0)
		cobs_srv_settings_free(out);
	return rc;
}

void cobs_srv_settings_free(cobs_srv_settings *s)
{
	free(s->listen);
	free(s->ingest_listen);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->agent_token);
	free(s->ui_user);
	free(s->ui_password);
	free(s->ui_token);
	free(s->web_dir);
	free(s->source);
	*s = (cobs_srv_settings){0};
}
