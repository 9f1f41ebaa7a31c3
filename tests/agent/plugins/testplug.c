/*
 * Test plugins, one source built several times with a different TESTPLUG_*
 * define each, to exercise every way the loader must refuse a plugin and the
 * scheduler's backoff:
 *   TESTPLUG_GOOD      a collector emitting test_ticks_total and test_config_value,
 *                      and `samples` more (test_sample) with a checkpoint after each
 *   TESTPLUG_BAD_ABI   abi_version 999
 *   TESTPLUG_NO_SYMBOL no cobs_plugin symbol at all
 *   TESTPLUG_FAIL_INIT init fails with a reason
 *   TESTPLUG_SINK      a sink where a collector is expected
 *   TESTPLUG_FLAKY     collect fails while the file named by key `fail_flag` exists
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cobs/plugin.h>

typedef struct state {
	uint64_t ticks;
	uint64_t value;
	uint64_t samples;
	const char *fail_flag;
} state;

static int init(const cobs_plugin_env *env, void **out)
{
#ifdef TESTPLUG_FAIL_INIT
	(void)out;
	return cobs_error_set(env->err, "the test asked me to fail");
#else
	state *s = calloc(1, sizeof(*s));
	if (!s)
		return cobs_error_set(env->err, "out of memory");
	if (cobs_cfg_uint(env->config, "value", 7, 0, 1000, &s->value, env->err) < 0 ||
	    cobs_cfg_uint(env->config, "samples", 0, 0, 100000, &s->samples, env->err) < 0 ||
	    cobs_cfg_string(env->config, "fail_flag", NULL, &s->fail_flag, env->err) < 0) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
#endif
}

static void shutdown(void *p)
{
	free(p);
}

static int collect(void *p, cobs_batch *b)
{
	state *s = p;
	if (s->fail_flag && access(s->fail_flag, F_OK) == 0)
		return -1;
	s->ticks++;
	cobs_family *t = cobs_batch_family(b, "test_ticks_total", "Collections.", "", COBS_COUNTER);
	cobs_family *v =
	        cobs_batch_family(b, "test_config_value", "The value key.", "", COBS_GAUGE);
	if (!t || !v || cobs_family_add0(b, t, (double)s->ticks) < 0 ||
	    cobs_family_add0(b, v, (double)s->value) < 0)
		return -1;
	cobs_family *many = cobs_batch_family(b, "test_sample", "One of many.", "", COBS_GAUGE);
	for (uint64_t i = 0; i < s->samples; i++) {
		char id[24];
		snprintf(id, sizeof(id), "%llu", (unsigned long long)i);
		if (!many || cobs_family_add1(b, many, (double)i, "i", id) < 0)
			return -1;
		cobs_batch_checkpoint(b);
	}
	return 0;
}

static int write_batch(void *p, const cobs_batch *b)
{
	(void)p;
	(void)b;
	return 0;
}

#ifndef TESTPLUG_NO_SYMBOL
COBS_EXPORT const cobs_plugin_desc cobs_plugin = {
#ifdef TESTPLUG_BAD_ABI
        .abi_version = 999,
#else
        .abi_version = COBS_PLUGIN_ABI,
#endif
#ifdef TESTPLUG_SINK
        .kind = COBS_PLUGIN_SINK,
#else
        .kind = COBS_PLUGIN_COLLECTOR,
#endif
        .collect = collect,
        .write = write_batch,
        .name = "testplug",
        .init = init,
        .shutdown = shutdown,
};
#else
/* Something exported, so the object is a valid library without the descriptor. */
COBS_EXPORT int testplug_not_a_plugin(void);
COBS_EXPORT int testplug_not_a_plugin(void)
{
	return (int)(sizeof(collect) + sizeof(write_batch) + sizeof(init) + sizeof(shutdown));
}
#endif
