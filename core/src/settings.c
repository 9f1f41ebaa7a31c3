/*
 * The [agent] section: node name, default interval, where plugins live,
 * where /proc and /sys are, log level, backoff policy, part size. Every key has a
 * default, so an agent runs with no file at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static int copy_setting(char *dst, size_t len, const cobs_section *s, const char *key,
                        const char *def, cobs_error *err)
{
	const char *v;
	cobs_cfg_string(s, key, def, &v, err);
	if (!*v || strlen(v) >= len)
		return cobs_cfg_error(s, key, err, "%s",
		                      *v ? "value too long" : "must not be empty");
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* NODE_NAME (the Kubernetes downward API), then the host name. */
static void default_node_name(char *buf, size_t len)
{
	const char *env = getenv("NODE_NAME");
	if (env && *env && strlen(env) < len) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (gethostname(buf, len) != 0 || !*buf)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
}

int cobs_settings_load(cobs_agent_settings *st, const cobs_config *cfg, cobs_error *err)
{
	const cobs_section *s = cobs_config_section(cfg, "agent");
	char node[256], plugin_dir[4096];
	const char *level;
	default_node_name(node, sizeof(node));
	if (cobs_default_plugin_dir(plugin_dir, sizeof(plugin_dir)) < 0)
		snprintf(plugin_dir, sizeof(plugin_dir), "/usr/lib/cobs/plugins");

	if (copy_setting(st->node, sizeof(st->node), s, "node", node, err) < 0 ||
	    copy_setting(st->plugin_dir, sizeof(st->plugin_dir), s, "plugin_dir", plugin_dir, err) <
	            0 ||
	    copy_setting(st->proc_root, sizeof(st->proc_root), s, "proc_root", "/proc", err) < 0 ||
	    copy_setting(st->sys_root, sizeof(st->sys_root), s, "sys_root", "/sys", err) < 0 ||
	    cobs_cfg_duration_ms(s, "interval", 5000, &st->interval_ms, err) < 0 ||
	    cobs_cfg_uint(s, "backoff_after", 3, 1, 1000, &st->backoff_after, err) < 0 ||
	    cobs_cfg_duration_ms(s, "backoff_max", 300000, &st->backoff_max_ms, err) < 0 ||
	    cobs_cfg_uint(s, "batch_samples", 8192, 0, 1000000, &st->batch_samples, err) < 0)
		return -1;
	if (st->interval_ms < 100)
		return cobs_cfg_error(s, "interval", err, "at least 100ms");
	cobs_cfg_string(s, "log_level", "info", &level, err);
	st->log_level = cobs_log_parse_level(level);
	if (st->log_level < 0)
		return cobs_cfg_error(s, "log_level", err,
		                      "invalid value '%s' (expected debug, info, warn or error)",
		                      level);
	return s ? cobs_section_check_unused(s, err) : 0;
}
