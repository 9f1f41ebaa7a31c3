/*
 * The simulator's random numbers: xorshift64* seeded through splitmix64, one
 * generator per simulated node, so a node's whole history follows from the
 * seed and its index, whatever order the nodes are advanced in.
 */
#ifndef COBS_SIM_RNG_H
#define COBS_SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
	uint64_t s;
} sim_rng;

/* A generator for (seed, stream): distinct streams never share a sequence. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rand(sim_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint64_t sim_below(sim_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double sim_unit(sim_rng *r);
/* Log-uniform in [lo, hi] (lo >= 1): most values small, a few huge, as in real counters. */
uint64_t sim_log_uniform(sim_rng *r, uint64_t lo, uint64_t hi);
/* true with probability p. */
int sim_chance(sim_rng *r, double p);

#endif
