/*
 * Building and tearing down an agent runtime from a configuration: which
 * sections name plugins, loading each (a refused plugin is reported and the
 * rest go on), and the built-in defaults used with no file.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static const char *const default_collectors[] = {"cpu", "mem", "net", "disk", "procpid"};

cobs_config *cobs_default_config(cobs_error *err)
{
	cobs_config *c = cobs_config_new();
	if (!c)
		goto oom;
	for (size_t i = 0; i < sizeof(default_collectors) / sizeof(*default_collectors); i++) {
		char name[64];
		snprintf(name, sizeof(name), "plugin.%s", default_collectors[i]);
		if (!cobs_config_add_section(c, name, NULL, 0))
			goto oom;
	}
	if (!cobs_config_add_section(c, "sink.stdout", NULL, 0) ||
	    !cobs_config_add_section(c, "agent", NULL, 0))
		goto oom;
	return c;
oom:
	cobs_config_free(c);
	cobs_error_set(err, "out of memory");
	return NULL;
}

/* "plugin.net" -> kind collector, instance "net". 0, or -1 for an unknown section. */
static int section_kind(const char *section, cobs_plugin_kind *kind, const char **instance)
{
	static const struct {
		const char *prefix;
		cobs_plugin_kind kind;
	} kinds[] = {{"plugin.", COBS_PLUGIN_COLLECTOR}, {"sink.", COBS_PLUGIN_SINK}};
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(section, kinds[i].prefix, n) == 0 && section[n]) {
			*kind = kinds[i].kind;
			*instance = section + n;
			return 0;
		}
	}
	return -1;
}

/*
 * Host keys every plugin section may carry: enabled, file, interval. They are
 * read here so the plugin's own init sees only its keys.
 */
static int load_plugin(cobs_agent *a, cobs_section *s, cobs_plugin_kind kind, const char *instance,
                       cobs_loaded *out, cobs_plugin_env *env, uint64_t *interval_ms,
                       cobs_error *err)
{
	bool enabled;
	const char *file;
	if (cobs_cfg_bool(s, "enabled", true, &enabled, err) < 0 ||
	    cobs_cfg_string(s, "file", instance, &file, err) < 0)
		return -1;
	if (kind == COBS_PLUGIN_COLLECTOR &&
	    cobs_cfg_duration_ms(s, "interval", a->settings.interval_ms, interval_ms, err) < 0)
		return -1;
	if (kind == COBS_PLUGIN_COLLECTOR && *interval_ms < 100)
		return cobs_cfg_error(s, "interval", err, "at least 100ms");
	if (!enabled)
		return 1;
	*env = (cobs_plugin_env){
	        .config = s,
	        .node = a->settings.node,
	        .proc_root = a->settings.proc_root,
	        .sys_root = a->settings.sys_root,
	        .base = a->base,
	        .format = a->format,
	};
	cobs_error perr;
	if (cobs_plugin_open(out, a->settings.plugin_dir, instance, file, kind, &perr) < 0 ||
	    cobs_plugin_init(out, env, &perr) < 0) {
		/* A value the plugin refused is the user's typo: stop before starting. */
		if (cobs_section_has_bad_value(s)) {
			cobs_plugin_close(out);
			return cobs_error_set(err, "%s", perr.msg);
		}
		cobs_log(COBS_LOG_ERROR, "agent", "%s; going on without it", perr.msg);
		cobs_plugin_close(out);
		a->load_errors++;
		return 1;
	}
	/* A typo in the plugin's own keys is a configuration error, not a warning. */
	if (cobs_section_check_unused(s, err) < 0) {
		cobs_plugin_close(out);
		return -1;
	}
	return 0;
}

static int add_collector(cobs_agent *a, cobs_section *s, const char *instance, cobs_error *err)
{
	cobs_collector_slot *slot = &a->collectors[a->ncollectors];
	*slot = (cobs_collector_slot){.agent = a};
	uint64_t interval_ms = 0;
	int rc = load_plugin(a, s, COBS_PLUGIN_COLLECTOR, instance, &slot->plugin, &slot->env,
	                     &interval_ms, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	a->ncollectors++; /* counted now so cobs_agent_free shuts it down on any later error */
	slot->interval_ns = interval_ms * 1000000u;
	if (!(slot->batch = cobs_batch_new()))
		return cobs_error_set(err, "out of memory");
	return 0;
}

static int add_sink(cobs_agent *a, cobs_section *s, const char *instance, cobs_error *err)
{
	cobs_sink_slot *slot = &a->sinks[a->nsinks];
	*slot = (cobs_sink_slot){0};
	uint64_t unused;
	int rc = load_plugin(a, s, COBS_PLUGIN_SINK, instance, &slot->plugin, &slot->env, &unused,
	                     err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	a->nsinks++;
	return 0;
}

static int load_sections(cobs_agent *a, cobs_error *err)
{
	size_t n = cobs_config_count(a->config);
	a->collectors = calloc(n ? n : 1, sizeof(*a->collectors));
	a->sinks = calloc(n + 1, sizeof(*a->sinks));
	if (!a->collectors || !a->sinks)
		return cobs_error_set(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		cobs_section *s = cobs_config_at(a->config, i);
		const char *name = cobs_section_name(s), *instance;
		cobs_plugin_kind kind;
		char where[300];
		if (strcmp(name, "agent") == 0)
			continue;
		if (a->stdout_only && strncmp(name, "sink.", 5) == 0 && strcmp(name, "sink.stdout"))
			continue;
		if (section_kind(name, &kind, &instance) < 0)
			return cobs_error_set(err,
			                      "%s: unknown section [%s] (expected [agent], "
			                      "[plugin.<name>] or [sink.<name>])",
			                      cobs_section_where(s, where, sizeof(where)), name);
		int rc = kind == COBS_PLUGIN_COLLECTOR ? add_collector(a, s, instance, err)
		                                       : add_sink(a, s, instance, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

cobs_agent *cobs_agent_build(cobs_config *cfg, struct event_base *base,
                             const cobs_agent_options *opt, cobs_error *err)
{
	cobs_agent *a = calloc(1, sizeof(*a));
	if (!a) {
		cobs_config_free(cfg);
		cobs_error_set(err, "out of memory");
		return NULL;
	}
	a->config = cfg;
	a->base = base;
	a->format = opt ? opt->format : NULL;
	a->stdout_only = opt && opt->stdout_only;
	if (cobs_settings_load(&a->settings, cfg, err) < 0)
		goto fail;
	cobs_log_set_level((cobs_log_level)a->settings.log_level);
	/* No sink named: print to stdout, so a bare agent.ini still shows something. */
	bool has_sink = false;
	for (size_t i = 0; i < cobs_config_count(cfg); i++)
		if (strncmp(cobs_section_name(cobs_config_at(cfg, i)), "sink.", 5) == 0)
			has_sink = !a->stdout_only;
	if (!has_sink && !cobs_config_add_section(cfg, "sink.stdout", NULL, 0)) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	if (load_sections(a, err) < 0)
		goto fail;
	if (a->ncollectors == 0) {
		cobs_error_set(err, "no collector plugin could be loaded (plugin_dir %s)",
		               a->settings.plugin_dir);
		goto fail;
	}
	if (!(a->self_batch = cobs_batch_new())) {
		cobs_error_set(err, "out of memory");
		goto fail;
	}
	return a;
fail:
	cobs_agent_free(a);
	return NULL;
}

void cobs_agent_flush(cobs_agent *a)
{
	for (size_t i = 0; i < a->nsinks; i++) {
		cobs_sink_slot *s = &a->sinks[i];
		if (s->plugin.desc->flush && s->plugin.desc->flush(s->plugin.state) < 0)
			cobs_log(COBS_LOG_WARN, s->plugin.name, "flush failed");
	}
}

void cobs_agent_free(cobs_agent *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ncollectors; i++) {
		cobs_collector_slot *c = &a->collectors[i];
		cobs_batch_free(c->batch);
		cobs_plugin_close(&c->plugin);
	}
	for (size_t i = 0; i < a->nsinks; i++)
		cobs_plugin_close(&a->sinks[i].plugin);
	for (size_t i = 0; i < a->ngroups; i++)
		if (a->groups[i].timer)
			event_free(a->groups[i].timer);
	free(a->groups);
	cobs_batch_free(a->self_batch);
	free(a->collectors);
	free(a->sinks);
	cobs_config_free(a->config);
	free(a);
}
