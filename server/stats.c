/* SPDX-License-Identifier: MIT */
/*
 * Names for the counters' labels, and the two clocks every room reads.
 */
#include <time.h>

#include "stats.h"

const char *cobs_ingest_result_name(cobs_ingest_result r)
{
	static const char *const names[] = {"ok",        "bad",       "unauthorized",
	                                    "too_large", "duplicate", "overloaded"};
	return (unsigned)r < COBS_INGEST_RESULTS ? names[r] : "?";
}

uint64_t cobs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t cobs_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
