/*
 * Backoff and randomness for the http2 sink (see backoff.h). The jitter does
 * not need cryptographic quality, only independence between agents, so one
 * xorshift state per process seeded from the kernel is enough.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"

static uint64_t rng_state; /* loop thread only, like every sink callback */

void h2_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, GRND_NONBLOCK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		while (fd >= 0 && got < n) {
			ssize_t r = read(fd, p + got, n - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (fd >= 0)
			close(fd);
	}
	/* No entropy at all (very early boot, seccomp): still differ between processes. */
	for (; got < n; got++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		p[got] = (unsigned char)(ts.tv_nsec ^ (long)getpid() ^ (long)(got * 131));
	}
}

static uint64_t next_random(void)
{
	while (rng_state == 0)
		h2_random_bytes(&rng_state, sizeof(rng_state));
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

uint64_t h2_random_below(uint64_t n)
{
	return next_random() % (n + 1);
}

void h2_backoff_init(h2_backoff *b, uint64_t min_ms, uint64_t max_ms)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	h2_backoff_reset(b);
}

uint64_t h2_backoff_next(h2_backoff *b)
{
	uint64_t cur = b->cur_ms;
	uint64_t delay = cur / 2 + h2_random_below(cur - cur / 2);
	b->cur_ms = cur > b->max_ms / 2 ? b->max_ms : cur * 2;
	b->attempts++;
	return delay ? delay : 1;
}

void h2_backoff_reset(h2_backoff *b)
{
	b->cur_ms = b->min_ms;
	b->attempts = 0;
}
