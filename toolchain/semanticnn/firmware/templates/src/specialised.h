/*
 * Helpers of the layers that snn-export specialises per shape (model/model.c).
 *
 * The exporter folds the input offset into the bias and pre-packs the weights
 * as int16 pairs; the generated loops only multiply-accumulate and requantise.
 * On cores with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55)
 * two 16-bit MACs run in one SMLAD; elsewhere (and on the host, for the
 * export's bit-exactness check) the same arithmetic runs in portable C.
 */
#ifndef SNN_SPECIALISED_H
#define SNN_SPECIALISED_H

#include <stdint.h>

#include "kernels.h"

#if defined(__arm__)
#include <arm_acle.h>
#endif

/* A 32-bit word of two int16 lanes, read from int16 arrays (may alias them). */
typedef uint32_t __attribute__((may_alias, aligned(4))) snn_word_t;
/* Two such words, loaded in one LDRD. */
typedef uint64_t __attribute__((may_alias, aligned(8))) snn_dword_t;

/* Per output channel: bias with the input offset folded in, Q31 multiplier,
 * and the shift. Fast path: shift is a right shift >= 1 and
 * round = 2^(shift-1) + (output zero point << shift), so the shift also adds the
 * zero point. Exact path: shift is TFLite's (left if > 0), round is the output zero point. */
typedef struct {
    int32_t bias;
    int32_t multiplier;
    int32_t shift;
    int32_t round;
} snn_requant_t;

/* acc + lo(x) * lo(y) + hi(x) * hi(y), int16 lanes. */
static inline int32_t snn_smlad(uint32_t x, uint32_t y, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __smlad(x, y, acc);
#else
    return acc + (int32_t)(int16_t)x * (int16_t)y + (int32_t)(int16_t)(x >> 16) * (int16_t)(y >> 16);
#endif
}

/* int8 bytes 0 and 2 of x sign-extended into int16 lanes (lo, hi). */
static inline uint32_t snn_sxtb16(uint32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return (uint32_t)__sxtb16(x);
#else
    return (uint32_t)(uint16_t)(int16_t)(int8_t)x | ((uint32_t)(uint16_t)(int16_t)(int8_t)(x >> 16) << 16);
#endif
}

/* int8 bytes 1 and 3 of x sign-extended into int16 lanes. */
static inline uint32_t snn_sxtb16_ror8(uint32_t x)
{
    return snn_sxtb16((x >> 8) | (x << 24));
}

/* TFLite's MultiplyByQuantizedMultiplier for accumulators the exporter proved
 * to be below 2^30 in magnitude, with a right shift >= 1:
 * SaturatingRoundingDoublingHighMul(acc, m) = floor((2 acc m + 2^31) / 2^32)
 * (exact, no saturation possible), then RoundingDivideByPOT (half away from 0). */
static inline int32_t snn_requant_fast(int32_t acc, const snn_requant_t *q)
{
    int32_t x;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm("smmulr %0, %1, %2" : "=r"(x) : "r"(acc * 2), "r"(q->multiplier));
#else
    x = (int32_t)(((int64_t)acc * q->multiplier + (1LL << 30)) >> 31);
#endif
    return (x + q->round - (int32_t)((uint32_t)x >> 31)) >> q->shift;
}

/* The same for any accumulator and shift (kernels.c), plus the output zero point. */
static inline int32_t snn_requant_exact(int32_t acc, const snn_requant_t *q)
{
    return snn_multiply_by_quantized_multiplier(acc, q->multiplier, q->shift) + q->round;
}

static inline int8_t snn_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* Clamp to [-128, 127]: one SSAT where the core has it. */
static inline int8_t snn_sat_s8(int32_t x)
{
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return (int8_t)__ssat(x, 8);
#else
    return snn_clamp_s8(x, -128, 127);
#endif
}

#endif /* SNN_SPECIALISED_H */
