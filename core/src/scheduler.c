/*
 * Running collectors on the loop: each at its own interval on a fixed-rate
 * grid (a late tick skips the missed grid points rather than bursting to
 * catch up), with exponential backoff for a plugin that keeps failing. Every
 * batch goes to the sink pipeline; a large collection goes in parts of
 * [agent] batch_samples, as the plugin's checkpoints allow.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "agent.h"

uint64_t cobs_next_deadline(uint64_t prev_deadline, uint64_t interval, uint64_t now,
                            uint64_t *missed)
{
	uint64_t next = prev_deadline + interval;
	*missed = 0;
	if (next <= now) {
		uint64_t behind = (now - next) / interval + 1;
		*missed = behind;
		next += behind * interval;
	}
	return next;
}

static void arm(struct event *ev, uint64_t deadline, uint64_t now)
{
	uint64_t wait = deadline > now ? deadline - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(wait / 1000000000u),
	                     .tv_usec = (suseconds_t)((wait % 1000000000u) / 1000u)};
	event_add(ev, &tv);
}

static void note_failure(cobs_collector_slot *s)
{
	const cobs_agent_settings *st = &s->agent->settings;
	s->errors++;
	s->failing++;
	if (s->failing < st->backoff_after)
		return;
	/* Double the pause with every further failure, up to backoff_max. */
	uint64_t shift = s->failing - st->backoff_after;
	uint64_t max_ticks = st->backoff_max_ms * 1000000u / s->interval_ns;
	uint64_t ticks = shift >= 20 ? max_ticks : (1u << shift);
	if (ticks > max_ticks)
		ticks = max_ticks;
	s->backoff_ticks = ticks;
	cobs_log(COBS_LOG_WARN, s->plugin.name,
	         "%llu failures in a row; backing off for %llu interval(s)",
	         (unsigned long long)s->failing, (unsigned long long)ticks);
}

/* A full part of a collection in progress (cobs_batch_checkpoint): out it goes. */
static void write_part(void *arg, cobs_batch *b)
{
	cobs_collector_slot *s = arg;
	s->sent_samples += cobs_batch_samples(b);
	s->last_parts++;
	cobs_pipeline_write(s->agent, b);
}

int cobs_collector_run(cobs_collector_slot *s, uint64_t now_ns)
{
	cobs_batch *b = s->batch;
	cobs_batch_reset(b);
	b->node = s->agent->settings.node;
	b->source = s->plugin.name;
	b->monotonic_ns = now_ns;
	b->timestamp_ms = cobs_wallclock_ms();
	s->last_parts = 0;
	s->sent_samples = 0;
	uint64_t t0 = cobs_monotonic_ns();
	int rc = s->plugin.desc->collect(s->plugin.state, b);
	s->last_duration_s = (double)(cobs_monotonic_ns() - t0) / 1e9;
	s->total_duration_s += s->last_duration_s;
	s->collections++;
	s->last_samples = s->sent_samples + cobs_batch_samples(b);
	if (rc < 0) {
		note_failure(s);
		return -1;
	}
	if (s->failing >= s->agent->settings.backoff_after)
		cobs_log(COBS_LOG_INFO, s->plugin.name, "collecting again after %llu failures",
		         (unsigned long long)s->failing);
	s->failing = 0;
	return 0;
}

static void run_self_metrics(cobs_agent *a, uint64_t now)
{
	cobs_batch *b = a->self_batch;
	cobs_batch_reset(b);
	b->node = a->settings.node;
	b->source = "agent";
	b->monotonic_ns = now;
	b->timestamp_ms = cobs_wallclock_ms();
	if (cobs_agent_self_metrics(a, b) == 0)
		cobs_pipeline_write(a, b);
	else
		cobs_log(COBS_LOG_ERROR, "agent", "out of memory building the agent's own metrics");
}

static void on_group_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cobs_tick_group *g = arg;
	cobs_agent *a = g->agent;
	uint64_t now = cobs_monotonic_ns(), missed;
	for (size_t i = 0; i < a->ncollectors; i++) {
		cobs_collector_slot *s = &a->collectors[i];
		if (s->interval_ns != g->interval_ns)
			continue;
		if (s->backoff_ticks > 0) {
			s->backoff_ticks--;
			s->skips++;
		} else if (cobs_collector_run(s, now) == 0 && s->last_samples > 0) {
			/* also when empty after parts: this last part ends the collection */
			cobs_pipeline_write(a, s->batch);
			s->last_parts++;
		}
	}
	if (g->self_metrics)
		run_self_metrics(a, now);
	/* Measure lateness after the work, so a slow tick skips, not bursts. */
	now = cobs_monotonic_ns();
	g->next_ns = cobs_next_deadline(g->next_ns, g->interval_ns, now, &missed);
	for (size_t i = 0; missed && i < a->ncollectors; i++)
		if (a->collectors[i].interval_ns == g->interval_ns)
			a->collectors[i].skips += missed;
	g->skips += missed;
	arm(g->timer, g->next_ns, now);
}

/* The group for interval, added if new. NULL when out of memory. */
static cobs_tick_group *group_for(cobs_agent *a, uint64_t interval_ns)
{
	for (size_t i = 0; i < a->ngroups; i++)
		if (a->groups[i].interval_ns == interval_ns)
			return &a->groups[i];
	cobs_tick_group *g = &a->groups[a->ngroups++];
	*g = (cobs_tick_group){.agent = a, .interval_ns = interval_ns};
	if (!(g->timer = event_new(a->base, -1, 0, on_group_tick, g)))
		return NULL;
	return g;
}

int cobs_agent_start(cobs_agent *a)
{
	uint64_t now = cobs_monotonic_ns();
	/* At most one group per collector, plus the agent's own interval. */
	a->groups = calloc(a->ncollectors + 1, sizeof(*a->groups));
	if (!a->groups)
		return -1;
	cobs_tick_group *self = group_for(a, a->settings.interval_ms * 1000000u);
	if (!self)
		return -1;
	self->self_metrics = true;
	for (size_t i = 0; i < a->ncollectors; i++) {
		cobs_collector_slot *s = &a->collectors[i];
		if (!group_for(a, s->interval_ns))
			return -1;
		/* Only on the loop: --once merges whole collections into one batch. */
		cobs_batch_set_parts(s->batch, a->settings.batch_samples, write_part, s);
	}
	/* The first tick runs at once; each group's grid starts there. */
	for (size_t i = 0; i < a->ngroups; i++) {
		a->groups[i].next_ns = now;
		arm(a->groups[i].timer, now, now);
	}
	return 0;
}

long cobs_agent_collect_once(cobs_agent *a)
{
	cobs_batch *all = cobs_batch_new();
	if (!all)
		return -1;
	uint64_t now = cobs_monotonic_ns();
	all->node = a->settings.node;
	all->source = "once";
	all->monotonic_ns = now;
	all->timestamp_ms = cobs_wallclock_ms();
	long rc = 0;
	for (size_t i = 0; i < a->ncollectors; i++) {
		cobs_collector_slot *s = &a->collectors[i];
		if (cobs_collector_run(s, now) < 0) {
			cobs_log(COBS_LOG_ERROR, s->plugin.name, "collection failed");
			continue;
		}
		if (cobs_batch_merge(all, s->batch) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && cobs_agent_self_metrics(a, all) < 0)
		rc = -1;
	if (rc == 0) {
		/* Only plugin samples count as "produced data", not the agent's own. */
		for (size_t i = 0; i < a->ncollectors; i++)
			rc += (long)a->collectors[i].last_samples;
		cobs_pipeline_write(a, all);
	}
	cobs_batch_free(all);
	return rc;
}
