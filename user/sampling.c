/* The sampling tables, computed once in floating point for the kernel side. */
#include <math.h>
#include "sampling.h"

void sampling_tables(uint64_t mean, uint64_t *exp, uint32_t *weight)
{
	exp[0] = 0; /* unused: -ln(0) */
	for (int i = 1; i <= EXP_STEPS; i++)
		exp[i] = (uint64_t)llround(-log((double)i / EXP_STEPS) * (double)mean * BYTE_PARTS);
	weight[0] = SAMPLE_ONE; /* the limit at x = 0 */
	for (int i = 1; i <= WEIGHT_STEPS; i++) {
		double x = (double)i / WEIGHT_PER_UNIT;

		weight[i] = (uint32_t)lround(x / -expm1(-x) * SAMPLE_ONE);
	}
}
