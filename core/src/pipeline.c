/*
 * The sink pipeline: every batch goes to every sink in configuration order.
 * A sink that fails a write loses that batch for itself only (counted as a
 * drop in cobs_agent_sink_errors_total); the others still get it.
 */
#include "agent.h"

void cobs_pipeline_write(cobs_agent *a, const cobs_batch *b)
{
	size_t samples = cobs_batch_samples(b);
	for (size_t i = 0; i < a->nsinks; i++) {
		cobs_sink_slot *s = &a->sinks[i];
		s->writes++;
		if (s->plugin.desc->write(s->plugin.state, b) < 0) {
			if (s->errors++ == 0)
				cobs_log(COBS_LOG_WARN, s->plugin.name,
				         "write failed; batch from %s dropped (further drops are "
				         "counted in cobs_agent_sink_errors_total)",
				         b->source ? b->source : "?");
			continue;
		}
		s->samples += samples;
	}
}
