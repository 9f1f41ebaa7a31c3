/* SPDX-License-Identifier: MIT */
/*
 * Seeded hashes for the server's tables (hmap.h) and the history store's
 * key index (history/store.c).
 */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		/* no entropy yet (early boot): the clock still differs per process */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
	}
	seed = s | 1;
}

/* murmur3's finalizer: spreads the weak low bits over the whole word */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t cobs_hash_bytes(const void *p, size_t n, uint64_t h)
{
	pthread_once(&seed_once, seed_init);
	/* a word at a time (multiply, xorshift): label values are long, byte-wise FNV was slow */
	const unsigned char *s = p;
	const uint64_t mul = 0x9e3779b97f4a7c15ull;
	h = (h ? h : 0xcbf29ce484222325ull) ^ seed ^ (n * mul);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * mul;
		h ^= h >> 29;
	}
	uint64_t tail = 0;
	for (unsigned j = 0; i < n; i++, j += 8)
		tail |= (uint64_t)s[i] << j;
	return mix((h ^ tail) * mul);
}

uint64_t cobs_hash_str(const char *s, uint64_t h)
{
	return cobs_hash_bytes(s ? s : "", s ? strlen(s) : 0, h);
}

uint64_t cobs_hash_u64(uint64_t v)
{
	pthread_once(&seed_once, seed_init);
	return mix(v ^ seed);
}
