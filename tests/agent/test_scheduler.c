/*
 * The scheduler: fixed-rate deadlines without catch-up bursts, backoff of a
 * failing plugin and its recovery, collections on a real loop, and a large
 * collection sent in parts.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "harness.h"

#define MS 1000000ull

START_TEST(deadline_on_time)
{
	uint64_t missed;
	ck_assert_uint_eq(cobs_next_deadline(1000 * MS, 100 * MS, 1050 * MS, &missed), 1100 * MS);
	ck_assert_uint_eq(missed, 0);
}
END_TEST

START_TEST(deadline_late_skips_instead_of_bursting)
{
	uint64_t missed;
	/* The tick due at 1100 ran until 1370: 1200 and 1300 are skipped, next is 1400. */
	ck_assert_uint_eq(cobs_next_deadline(1100 * MS, 100 * MS, 1370 * MS, &missed), 1400 * MS);
	ck_assert_uint_eq(missed, 2);
	/* Exactly on a grid point counts that point as missed: no zero-length wait loop. */
	ck_assert_uint_eq(cobs_next_deadline(1100 * MS, 100 * MS, 1200 * MS, &missed), 1300 * MS);
	ck_assert_uint_eq(missed, 1);
}
END_TEST

/* An agent with the flaky test plugin failing while `flag` exists. */
static cobs_agent *flaky_agent(struct event_base *base, const char *flag, const char *interval)
{
	cobs_config *c = cobs_config_new();
	cobs_error err;
	cobs_section *ag = cobs_config_add_section(c, "agent", NULL, 0);
	cobs_section_set(ag, "plugin_dir", COBS_TESTPLUG_DIR, "t.ini", 1, &err);
	cobs_section_set(ag, "backoff_after", "2", "t.ini", 2, &err);
	cobs_section_set(ag, "interval", interval, "t.ini", 3, &err);
	cobs_section_set(ag, "backoff_max", "1s", "t.ini", 4, &err);
	cobs_section_set(cobs_config_add_section(c, "plugin.flaky", NULL, 0), "fail_flag", flag,
	                 "t.ini", 5, &err);
	cobs_config_add_section(c, "sink.sink", NULL, 0);
	cobs_agent *a = cobs_agent_build(c, base, NULL, &err);
	ck_assert_msg(a, "%s", err.msg);
	return a;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

START_TEST(backoff_doubles_and_recovers)
{
	char flag[4200];
	snprintf(flag, sizeof(flag), "%s/fail", temp_dir());
	touch(flag);
	cobs_agent *a = flaky_agent(NULL, flag, "100ms");
	cobs_collector_slot *s = &a->collectors[0];
	ck_assert_int_eq(cobs_collector_run(s, 1), -1);
	ck_assert_uint_eq(s->backoff_ticks, 0); /* one failure: not yet */
	ck_assert_int_eq(cobs_collector_run(s, 2), -1);
	ck_assert_uint_eq(s->backoff_ticks, 1); /* backoff_after = 2 */
	ck_assert_int_eq(cobs_collector_run(s, 3), -1);
	ck_assert_uint_eq(s->backoff_ticks, 2);
	ck_assert_int_eq(cobs_collector_run(s, 4), -1);
	ck_assert_uint_eq(s->backoff_ticks, 4);
	for (int i = 0; i < 10; i++)
		cobs_collector_run(s, 5);
	ck_assert_uint_eq(s->backoff_ticks, 10); /* capped: backoff_max 1s / 100ms */
	ck_assert_uint_eq(s->errors, 14);
	unlink(flag);
	ck_assert_int_eq(cobs_collector_run(s, 6), 0);
	ck_assert_uint_eq(s->failing, 0);
	ck_assert_uint_eq(s->last_samples, 2);
	cobs_agent_free(a);
}
END_TEST

static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	struct event *ev = evtimer_new(base, stop_loop, base);
	evtimer_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

START_TEST(loop_collects_at_its_interval_and_backs_off)
{
	char flag[4200];
	snprintf(flag, sizeof(flag), "%s/fail", temp_dir());
	struct event_base *base = event_base_new();
	cobs_agent *a = flaky_agent(base, flag, "100ms");
	cobs_collector_slot *s = &a->collectors[0];
	ck_assert_int_eq(cobs_agent_start(a), 0);
	run_for(base, 1050);
	/* Ticks at 0, 100, ..., 1000 ms: 11, give or take a slow machine, never a burst. */
	ck_assert_uint_ge(s->collections, 6);
	ck_assert_uint_le(s->collections, 11);
	ck_assert_uint_eq(s->errors, 0);
	ck_assert_uint_gt(a->sinks[0].writes, s->collections); /* plus the agent's own */

	touch(flag);
	uint64_t before = s->collections;
	run_for(base, 1000);
	ck_assert_uint_gt(s->errors, 2);
	ck_assert_uint_gt(s->skips, 0); /* backed off: ticks skipped, not run */
	ck_assert_uint_lt(s->collections - before, 9);

	unlink(flag);
	run_for(base, 1500); /* the longest backoff here is 1 s */
	ck_assert_uint_eq(s->failing, 0);
	cobs_agent_free(a);
	event_base_free(base);
}
END_TEST

START_TEST(a_large_collection_goes_out_in_parts)
{
	cobs_config *c = cobs_config_new();
	cobs_error err;
	cobs_section *ag = cobs_config_add_section(c, "agent", NULL, 0);
	cobs_section_set(ag, "plugin_dir", COBS_TESTPLUG_DIR, "t.ini", 1, &err);
	cobs_section_set(ag, "interval", "10s", "t.ini", 2, &err);
	cobs_section_set(ag, "batch_samples", "4", "t.ini", 3, &err);
	cobs_section_set(cobs_config_add_section(c, "plugin.good", NULL, 0), "samples", "10",
	                 "t.ini", 4, &err);
	cobs_config_add_section(c, "sink.sink", NULL, 0);
	struct event_base *base = event_base_new();
	cobs_agent *a = cobs_agent_build(c, base, NULL, &err);
	ck_assert_msg(a, "%s", err.msg);
	cobs_collector_slot *s = &a->collectors[0];

	/* --once: no parts, one merged batch */
	ck_assert_int_eq(cobs_agent_collect_once(a), 12);
	ck_assert_uint_eq(s->last_parts, 0);
	ck_assert_uint_eq(a->sinks[0].writes, 1);

	/* the loop: 12 samples in parts of 4 (a checkpoint after each test_sample):
	 * three full parts, then a last one with nothing left but the end of the
	 * collection */
	ck_assert_int_eq(cobs_agent_start(a), 0);
	run_for(a->base, 100);
	ck_assert_uint_eq(s->collections, 2);
	ck_assert_uint_eq(s->last_samples, 12);
	ck_assert_uint_eq(s->last_parts, 4);
	ck_assert_uint_eq(a->sinks[0].writes, 1 + 4 + 1); /* once, the parts, the agent's own */
	ck_assert(!s->batch->more);
	cobs_agent_free(a);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, deadline_on_time);
	tcase_add_test(tc, deadline_late_skips_instead_of_bursting);
	tcase_add_test(tc, backoff_doubles_and_recovers);
	tcase_add_test(tc, loop_collects_at_its_interval_and_backs_off);
	tcase_add_test(tc, a_large_collection_goes_out_in_parts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
