/*
 * Random numbers for the simulator (see sim_rng.h).
 */
#include <math.h>

#include "sim_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95u);
	r->s = splitmix64(&x);
	if (!r->s) /* xorshift never leaves 0 */
		r->s = 0x853c49e6748fea9bu;
}

uint64_t sim_rand(sim_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1du;
}

uint64_t sim_below(sim_rng *r, uint64_t n)
{
	return n ? sim_rand(r) % n : 0;
}

double sim_unit(sim_rng *r)
{
	return (double)(sim_rand(r) >> 11) / 9007199254740992.0;
}

uint64_t sim_log_uniform(sim_rng *r, uint64_t lo, uint64_t hi)
{
	if (lo < 1)
		lo = 1;
	if (hi <= lo)
		return lo;
	double v = exp(log((double)lo) + sim_unit(r) * (log((double)hi) - log((double)lo)));
	return v < (double)lo ? lo : v > (double)hi ? hi : (uint64_t)v;
}

int sim_chance(sim_rng *r, double p)
{
	return sim_unit(r) < p;
}
