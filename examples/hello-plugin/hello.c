/* SPDX-License-Identifier: MIT */
/*
 * hello: the smallest useful collector, built out of tree against an
 * installed libcobs. It reports how many times it ran and a greeting from its
 * [plugin.hello] section, to show the whole path: config key -> metric.
 *
 *   cc -shared -fPIC -o hello.so hello.c $(pkg-config --cflags --libs cobs)
 *   cp hello.so $(pkg-config --variable=plugindir cobs)/
 *   printf '[plugin.hello]\ngreeting = hi\n' > agent.ini && cobs-agent -c agent.ini --once
 */
#include <stdlib.h>

#include <cobs/plugin.h>

typedef struct hello {
	const char *greeting;
	uint64_t runs;
} hello;

static int hello_init(const cobs_plugin_env *env, void **state)
{
	hello *h = calloc(1, sizeof(*h));
	if (!h)
		return cobs_error_set(env->err, "out of memory");
	/* The section outlives the plugin instance, so keeping the pointer is fine. */
	if (cobs_cfg_string(env->config, "greeting", "hello", &h->greeting, env->err) < 0) {
		free(h);
		return -1;
	}
	*state = h;
	return 0;
}

static int hello_collect(void *state, cobs_batch *b)
{
	hello *h = state;
	h->runs++;
	cobs_family *runs = cobs_batch_family(b, "hello_runs_total", "Times the hello plugin ran.",
	                                      "", COBS_COUNTER);
	cobs_family *info =
	        cobs_batch_family(b, "hello_info", "The configured greeting.", "", COBS_INFO);
	if (!runs || !info || cobs_family_add0(b, runs, (double)h->runs) < 0 ||
	    cobs_family_add1(b, info, 1, "greeting", h->greeting) < 0)
		return -1;
	return 0;
}

static void hello_shutdown(void *state)
{
	free(state);
}

COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
        .abi_version = COBS_PLUGIN_ABI,
        .kind = COBS_PLUGIN_COLLECTOR,
        .name = "hello",
        .description = "An example collector built out of tree",
        .init = hello_init,
        .collect = hello_collect,
        .shutdown = hello_shutdown,
};
