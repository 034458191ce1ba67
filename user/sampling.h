/* Byte sampling (-s): the fixed-point tables the BPF program works with
 * (bpf/sampling.h explains them). */
#ifndef LEAKTOP_SAMPLING_TABLES_H
#define LEAKTOP_SAMPLING_TABLES_H

#include <stdint.h>
#include "leaktop_types.h"

/* exp[EXP_STEPS + 1]: mean * -ln(i / EXP_STEPS) in 1/BYTE_PARTS bytes;
 * weight[WEIGHT_STEPS + 1]: x / (1 - exp(-x)) at x = i / WEIGHT_PER_UNIT,
 * times SAMPLE_ONE. */
void sampling_tables(uint64_t mean, uint64_t *exp, uint32_t *weight);

#endif
