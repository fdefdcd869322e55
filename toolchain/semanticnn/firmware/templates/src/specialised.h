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
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t r;

    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return snn_sxtb16((x >> 8) | (x << 24));
#endif
}

/* Four int16 products of two columns (a, and b = a + col_bytes) with two weight rows
 * (w, and w + row_bytes) into four accumulators: acc[column + 2 * row]. Advances a and
 * w by 8 bytes; col_bytes and row_bytes at most 1020 (an LDRD offset). On DSP cores:
 * four LDRD and eight SMLAD, 16 MACs in 12 instructions. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define SNN_MAC_2X2(a, w, acc00, acc01, acc10, acc11, col_bytes, row_bytes)                    \
    do {                                                                                      \
        uint32_t x0_, x1_, y0_, y1_, v0_, v1_;                                                \
        __asm volatile("ldrd %[x0], %[x1], [%[pa], %[cb]]\n\t"                               \
                       "ldrd %[y0], %[y1], [%[pa]], #8\n\t"                                   \
                       "ldrd %[v0], %[v1], [%[pw], %[rb]]\n\t"                               \
                       "smlad %[c11], %[v0], %[x0], %[c11]\n\t"                              \
                       "smlad %[c11], %[v1], %[x1], %[c11]\n\t"                              \
                       "smlad %[c10], %[v0], %[y0], %[c10]\n\t"                              \
                       "smlad %[c10], %[v1], %[y1], %[c10]\n\t"                              \
                       "ldrd %[v0], %[v1], [%[pw]], #8\n\t"                                   \
                       "smlad %[c01], %[v0], %[x0], %[c01]\n\t"                              \
                       "smlad %[c01], %[v1], %[x1], %[c01]\n\t"                              \
                       "smlad %[c00], %[v0], %[y0], %[c00]\n\t"                              \
                       "smlad %[c00], %[v1], %[y1], %[c00]"                                   \
                       : [pa] "+r"(a), [pw] "+r"(w), [c00] "+r"(acc00), [c01] "+r"(acc01),  \
                         [c10] "+r"(acc10), [c11] "+r"(acc11), [x0] "=&r"(x0_), [x1] "=&r"(x1_), \
                         [y0] "=&r"(y0_), [y1] "=&r"(y1_), [v0] "=&r"(v0_), [v1] "=&r"(v1_)     \
                       : [cb] "n"(col_bytes), [rb] "n"(row_bytes)                            \
                       : "memory");                                                          \
    } while (0)
#else
#define SNN_MAC_2X2(a, w, acc00, acc01, acc10, acc11, col_bytes, row_bytes)                    \
    do {                                                                                      \
        const int16_t *x_ = (const int16_t *)(a), *y_ = (const int16_t *)((a) + (col_bytes)); \
        const int16_t *v_ = (const int16_t *)(w), *u_ = (const int16_t *)((w) + (row_bytes)); \
        for (int32_t i_ = 0; i_ < 4; ++i_) {                                                  \
            acc00 += (int32_t)v_[i_] * x_[i_];                                                \
            acc01 += (int32_t)v_[i_] * y_[i_];                                                \
            acc10 += (int32_t)u_[i_] * x_[i_];                                                \
            acc11 += (int32_t)u_[i_] * y_[i_];                                                \
        }                                                                                     \
        (a) += 8;                                                                             \
        (w) += 8;                                                                             \
    } while (0)
#endif

/* TFLite's MultiplyByQuantizedMultiplier for accumulators the exporter proved to be
 * below 2^30 in magnitude, with a right shift >= 1. The weights and bias were doubled
 * at export, so acc2 = 2 * acc, and
 * SaturatingRoundingDoublingHighMul(acc, m) = floor((acc2 m + 2^31) / 2^32), one SMMULR
 * (exact: no saturation possible); then RoundingDivideByPOT (half away from zero),
 * with the output zero point riding in q->round. */
static inline int32_t snn_high_mul(int32_t acc2, int32_t multiplier)
{
    int32_t x;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    __asm("smmulr %0, %1, %2" : "=r"(x) : "r"(acc2), "r"(multiplier));
#else
    x = (int32_t)(((int64_t)acc2 * multiplier + (1LL << 31)) >> 32);
#endif
    return x;
}

static inline int32_t snn_requant_fast(int32_t acc2, const snn_requant_t *q)
{
    int32_t x = snn_high_mul(acc2, q->multiplier);

    return (x + q->round - (int32_t)((uint32_t)x >> 31)) >> q->shift;
}

/* The same where the clamp's lower bound is at or above the output zero point: a
 * negative x lands there either way, so the half-away correction for it is skipped. */
static inline int32_t snn_requant_fast_floor(int32_t acc2, const snn_requant_t *q)
{
    return (snn_high_mul(acc2, q->multiplier) + q->round) >> q->shift;
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
