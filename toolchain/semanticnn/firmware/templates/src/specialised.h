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
/* Two int8 (or one int16) read from int8 arrays. */
typedef uint16_t __attribute__((may_alias, aligned(2))) snn_half_t;
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

/* acc + the high word of the 64-bit product a * b (rounded down): SMMLA. */
static inline int32_t snn_smmla(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;

    __asm("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return acc + (int32_t)(((int64_t)a * b) >> 32);
#endif
}

/* Per byte i, (int8)x_i >= (int8)y_i ? if_ge_i : if_lt_i: SSUB8 sets a GE flag per byte, SEL
 * picks by them. snn_max_s8x4 and snn_min_s8x4 are its two orders. */
static inline uint32_t snn_pick_s8x4(uint32_t x, uint32_t y, uint32_t if_ge, uint32_t if_lt)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    uint32_t d, r;

    __asm("ssub8 %0, %2, %3\n\tsel %1, %4, %5" : "=&r"(d), "=r"(r) : "r"(x), "r"(y), "r"(if_ge), "r"(if_lt)
          : "cc");
    (void)d;
    return r;
#else
    uint32_t r = 0;

    for (int32_t i = 0; i < 32; i += 8) {
        uint32_t pick = (int8_t)(x >> i) >= (int8_t)(y >> i) ? if_ge : if_lt;

        r |= ((pick >> i) & 0xFFu) << i;
    }
    return r;
#endif
}

static inline uint32_t snn_max_s8x4(uint32_t x, uint32_t y)
{
    return snn_pick_s8x4(x, y, x, y);
}

static inline uint32_t snn_min_s8x4(uint32_t x, uint32_t y)
{
    return snn_pick_s8x4(x, y, y, x);
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

/* The packed depthwise path (dwconv2d_packed.c.j2). d walks one group's int32 words, 8 bytes a
 * step: 4 biases, 4 weight words a tap pair, 2 for a lone tap, then (multiplier, rounding) per
 * output channel. acc0..acc3 are the group's four output channels. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* LDM loads four words in one instruction, into fixed registers: each step's weight words
 * into r8-r11 (register variables living within one asm statement) and, when optimising, the
 * biases into the accumulators r0-r3 (GCC keeps such variables across statements only with
 * its data-flow analysis: at -O0 two LDRD load them instead). */
#if defined(__OPTIMIZE__)
#define SNN_DW_ACCUMULATORS(acc0, acc1, acc2, acc3)                                            \
    register int32_t acc0 __asm("r0");                                                        \
    register int32_t acc1 __asm("r1");                                                        \
    register int32_t acc2 __asm("r2");                                                        \
    register int32_t acc3 __asm("r3")

#define SNN_DW_BIAS(d, acc0, acc1, acc2, acc3)                                                 \
    __asm("ldmia %[pd]!, {r0, r1, r2, r3}"                                                    \
          : [pd] "+r"(d), "=r"(acc0), "=r"(acc1), "=r"(acc2), "=r"(acc3)                       \
          :                                                                                   \
          : "memory")
#else
#define SNN_DW_ACCUMULATORS(acc0, acc1, acc2, acc3) int32_t acc0, acc1, acc2, acc3

#define SNN_DW_BIAS(d, acc0, acc1, acc2, acc3)                                                 \
    __asm("ldrd %[c0], %[c1], [%[pd]], #8\n\t"                                                \
          "ldrd %[c2], %[c3], [%[pd]], #8"                                                     \
          : [pd] "+r"(d), [c0] "=r"(acc0), [c1] "=r"(acc1), [c2] "=r"(acc2), [c3] "=r"(acc3)   \
          :                                                                                   \
          : "memory")
#endif

/* Multiplier 1: word_a, word_b (variables, overwritten) are 4 channels of taps t and t';
 * PKHBT/PKHTB pair each channel's two taps, SXTB16 widens them, one SMLAD per channel:
 * 8 MACs in 11 instructions after the input loads. */
#define SNN_DW_PAIR4(word_a, word_b, d, acc0, acc1, acc2, acc3)                                \
    do {                                                                                      \
        register uint32_t w0_ __asm("r8"), w1_ __asm("r9"), w2_ __asm("r10"), w3_ __asm("r11"); \
        uint32_t lo_;                                                                         \
        __asm("ldmia %[pd]!, {r8, r9, r10, r11}\n\t"                                          \
              "pkhbt %[lo], %[xa], %[xb], lsl #16\n\t"                                       \
              "pkhtb %[xb], %[xb], %[xa], asr #16\n\t"                                       \
              "sxtb16 %[xa], %[lo]\n\t"                                                      \
              "sxtb16 %[lo], %[lo], ror #8\n\t"                                              \
              "smlad %[c0], %[xa], %[w0], %[c0]\n\t"                                         \
              "smlad %[c1], %[lo], %[w1], %[c1]\n\t"                                         \
              "sxtb16 %[xa], %[xb]\n\t"                                                      \
              "sxtb16 %[xb], %[xb], ror #8\n\t"                                              \
              "smlad %[c2], %[xa], %[w2], %[c2]\n\t"                                         \
              "smlad %[c3], %[xb], %[w3], %[c3]"                                             \
              : [pd] "+r"(d), [c0] "+r"(acc0), [c1] "+r"(acc1), [c2] "+r"(acc2), [c3] "+r"(acc3), \
                [xa] "+r"(word_a), [xb] "+r"(word_b), [lo] "=&r"(lo_), [w0] "=&r"(w0_),        \
                [w1] "=&r"(w1_), [w2] "=&r"(w2_), [w3] "=&r"(w3_)                           \
              :                                                                             \
              : "memory");                                                                  \
    } while (0)

/* Both taps of a pair in the padding: (zp, zp) times each channel's weight pair. */
#define SNN_DW_PADDED_PAIR(zp_pair, d, acc0, acc1, acc2, acc3)                                 \
    do {                                                                                      \
        register uint32_t w0_ __asm("r8"), w1_ __asm("r9"), w2_ __asm("r10"), w3_ __asm("r11"); \
        __asm("ldmia %[pd]!, {r8, r9, r10, r11}\n\t"                                          \
              "smlad %[c0], %[z], %[w0], %[c0]\n\t"                                          \
              "smlad %[c1], %[z], %[w1], %[c1]\n\t"                                          \
              "smlad %[c2], %[z], %[w2], %[c2]\n\t"                                          \
              "smlad %[c3], %[z], %[w3], %[c3]"                                              \
              : [pd] "+r"(d), [c0] "+r"(acc0), [c1] "+r"(acc1), [c2] "+r"(acc2), [c3] "+r"(acc3), \
                [w0] "=&r"(w0_), [w1] "=&r"(w1_), [w2] "=&r"(w2_), [w3] "=&r"(w3_)           \
              : [z] "r"(zp_pair)                                                            \
              : "memory");                                                                  \
    } while (0)

#define SNN_DW_PAIR2(both, d, acc0, acc1, acc2, acc3)                                          \
    do {                                                                                      \
        register uint32_t w0_ __asm("r8"), w1_ __asm("r9"), w2_ __asm("r10"), w3_ __asm("r11"); \
        uint32_t e_;                                                                          \
        __asm("ldmia %[pd]!, {r8, r9, r10, r11}\n\t"                                          \
              "sxtb16 %[e], %[x]\n\t"                                                        \
              "sxtb16 %[x], %[x], ror #8\n\t"                                                \
              "smlad %[c0], %[e], %[w0], %[c0]\n\t"                                          \
              "smlad %[c1], %[e], %[w1], %[c1]\n\t"                                          \
              "smlad %[c2], %[x], %[w2], %[c2]\n\t"                                          \
              "smlad %[c3], %[x], %[w3], %[c3]"                                              \
              : [pd] "+r"(d), [c0] "+r"(acc0), [c1] "+r"(acc1), [c2] "+r"(acc2), [c3] "+r"(acc3), \
                [x] "+r"(both), [e] "=&r"(e_), [w0] "=&r"(w0_), [w1] "=&r"(w1_), [w2] "=&r"(w2_), \
                [w3] "=&r"(w3_)                                                             \
              :                                                                             \
              : "memory");                                                                  \
    } while (0)

#define SNN_DW_LONE_(t, d, x0, x1, x2, x3, hi_mac, i1, i3)                                    \
    do {                                                                                      \
        uint32_t e_, o_, w0_, w1_;                                                            \
        __asm("sxtb16 %[e], %[x]\n\t"                                                        \
              "ldrd %[w0], %[w1], [%[pd]], #8\n\t"                                           \
              "sxtb16 %[o], %[x], ror #8\n\t"                                                \
              "smlabb %[c0], %[e], %[w0], %[c0]\n\t"                                         \
              hi_mac " %[c1], %[e], %[w0], %[c1]\n\t"                                         \
              "smlabb %[c2], %[o], %[w1], %[c2]\n\t"                                         \
              hi_mac " %[c3], %[o], %[w1], %[c3]"                                             \
              : [pd] "+r"(d), [c0] "+r"(x0), [c1] "+r"(x1), [c2] "+r"(x2), [c3] "+r"(x3),     \
                [e] "=&r"(e_), [o] "=&r"(o_), [w0] "=&r"(w0_), [w1] "=&r"(w1_)               \
              : [x] "r"(t)                                                                  \
              : "memory");                                                                  \
    } while (0)

/* The four accumulators to four int8 in one word (byte i: channel i): per channel SMMLA with
 * (multiplier, rounding) and SSAT #8 after ASR #shift, BFI into place. */
#define SNN_DW_REQUANT(d, acc0, acc1, acc2, acc3, shift, packed)                               \
    do {                                                                                      \
        register uint32_t m0_ __asm("r8"), r0_ __asm("r9"), m1_ __asm("r10"), r1_ __asm("r11"); \
        uint32_t t_;                                                                          \
        __asm("ldmia %[pd]!, {r8, r9, r10, r11}\n\t"                                          \
              "smmla %[v], %[c0], %[m0], %[r0]\n\t"                                          \
              "smmla %[t], %[c1], %[m1], %[r1]\n\t"                                          \
              "ssat %[v], #8, %[v], asr %[s]\n\t"                                            \
              "ssat %[t], #8, %[t], asr %[s]\n\t"                                            \
              "bfi %[v], %[t], #8, #8\n\t"                                                   \
              "ldmia %[pd]!, {r8, r9, r10, r11}\n\t"                                          \
              "smmla %[t], %[c2], %[m0], %[r0]\n\t"                                          \
              "smmla %[m0], %[c3], %[m1], %[r1]\n\t"                                         \
              "ssat %[t], #8, %[t], asr %[s]\n\t"                                            \
              "ssat %[m0], #8, %[m0], asr %[s]\n\t"                                          \
              "bfi %[v], %[t], #16, #8\n\t"                                                  \
              "bfi %[v], %[m0], #24, #8"                                                     \
              : [pd] "+r"(d), [v] "=&r"(packed), [t] "=&r"(t_), [m0] "=&r"(m0_), [r0] "=&r"(r0_), \
                [m1] "=&r"(m1_), [r1] "=&r"(r1_)                                            \
              : [c0] "r"(acc0), [c1] "r"(acc1), [c2] "r"(acc2), [c3] "r"(acc3), [s] "n"(shift) \
              : "memory");                                                                  \
    } while (0)

/* The same where the clamp floor is below the output zero point: words (multiplier, rounding,
 * F = 2^(S - s)) per channel, and a negative accumulator rounds with rounding - F (TFLite's
 * half away from zero). */
#define SNN_DW_REQUANT_SIGNED(d, acc0, acc1, acc2, acc3, shift, packed)                        \
    do {                                                                                      \
        register uint32_t m_ __asm("r8"), r_ __asm("r9"), f_ __asm("r10");                    \
        uint32_t t_;                                                                          \
        __asm("ldmia %[pd]!, {r8, r9, r10}\n\t"                                               \
              "and %[t], %[f], %[c0], asr #31\n\t"                                           \
              "sub %[t], %[r], %[t]\n\t"                                                     \
              "smmla %[v], %[c0], %[m], %[t]\n\t"                                            \
              "ssat %[v], #8, %[v], asr %[s]\n\t"                                            \
              "ldmia %[pd]!, {r8, r9, r10}\n\t"                                               \
              "and %[t], %[f], %[c1], asr #31\n\t"                                           \
              "sub %[t], %[r], %[t]\n\t"                                                     \
              "smmla %[t], %[c1], %[m], %[t]\n\t"                                            \
              "ssat %[t], #8, %[t], asr %[s]\n\t"                                            \
              "bfi %[v], %[t], #8, #8\n\t"                                                   \
              "ldmia %[pd]!, {r8, r9, r10}\n\t"                                               \
              "and %[t], %[f], %[c2], asr #31\n\t"                                           \
              "sub %[t], %[r], %[t]\n\t"                                                     \
              "smmla %[t], %[c2], %[m], %[t]\n\t"                                            \
              "ssat %[t], #8, %[t], asr %[s]\n\t"                                            \
              "bfi %[v], %[t], #16, #8\n\t"                                                  \
              "ldmia %[pd]!, {r8, r9, r10}\n\t"                                               \
              "and %[t], %[f], %[c3], asr #31\n\t"                                           \
              "sub %[t], %[r], %[t]\n\t"                                                     \
              "smmla %[t], %[c3], %[m], %[t]\n\t"                                            \
              "ssat %[t], #8, %[t], asr %[s]\n\t"                                            \
              "bfi %[v], %[t], #24, #8"                                                      \
              : [pd] "+r"(d), [v] "=&r"(packed), [t] "=&r"(t_), [m] "=&r"(m_), [r] "=&r"(r_),  \
                [f] "=&r"(f_)                                                               \
              : [c0] "r"(acc0), [c1] "r"(acc1), [c2] "r"(acc2), [c3] "r"(acc3), [s] "n"(shift) \
              : "memory");                                                                  \
    } while (0)
#else
#define SNN_DW_ACCUMULATORS(acc0, acc1, acc2, acc3) int32_t acc0, acc1, acc2, acc3

/* Without DSP (the exporter's host check of the DSP code; DSP-less cores get the per-tap code):
 * a multiply-accumulate per product, reading the same words: int16 weight k of the step is
 * ((const snn_half_weight_t *)d)[k], byte b of an input word is channel b. */
typedef int16_t __attribute__((may_alias)) snn_half_weight_t;

#define SNN_DW_BIAS(d, acc0, acc1, acc2, acc3)                                                 \
    do {                                                                                      \
        (acc0) = (d)[0];                                                                      \
        (acc1) = (d)[1];                                                                      \
        (acc2) = (d)[2];                                                                      \
        (acc3) = (d)[3];                                                                      \
        (d) += 4;                                                                             \
    } while (0)

#define SNN_DW_BYTE(word, b) ((int32_t)(int8_t)((word) >> (8 * (b))))

#define SNN_DW_PAIR4(word_a, word_b, d, acc0, acc1, acc2, acc3)                                \
    do {                                                                                      \
        const snn_half_weight_t *w_ = (const snn_half_weight_t *)(d);                         \
        (acc0) += SNN_DW_BYTE(word_a, 0) * w_[0] + SNN_DW_BYTE(word_b, 0) * w_[1];            \
        (acc1) += SNN_DW_BYTE(word_a, 1) * w_[2] + SNN_DW_BYTE(word_b, 1) * w_[3];            \
        (acc2) += SNN_DW_BYTE(word_a, 2) * w_[4] + SNN_DW_BYTE(word_b, 2) * w_[5];            \
        (acc3) += SNN_DW_BYTE(word_a, 3) * w_[6] + SNN_DW_BYTE(word_b, 3) * w_[7];            \
        (d) += 4;                                                                             \
    } while (0)

#define SNN_DW_PADDED_PAIR(zp_pair, d, acc0, acc1, acc2, acc3)                                 \
    do {                                                                                      \
        (acc0) = snn_smlad((zp_pair), (uint32_t)(d)[0], (acc0));                              \
        (acc1) = snn_smlad((zp_pair), (uint32_t)(d)[1], (acc1));                              \
        (acc2) = snn_smlad((zp_pair), (uint32_t)(d)[2], (acc2));                              \
        (acc3) = snn_smlad((zp_pair), (uint32_t)(d)[3], (acc3));                              \
        (d) += 4;                                                                             \
    } while (0)

#define SNN_DW_PAIR2(both, d, acc0, acc1, acc2, acc3)                                          \
    do {                                                                                      \
        const snn_half_weight_t *w_ = (const snn_half_weight_t *)(d);                         \
        int32_t c0_ = SNN_DW_BYTE(both, 0), c1_ = SNN_DW_BYTE(both, 1);                        \
        int32_t c2_ = SNN_DW_BYTE(both, 2), c3_ = SNN_DW_BYTE(both, 3);                        \
        (acc0) += c0_ * w_[0] + c2_ * w_[1];                                                  \
        (acc1) += c0_ * w_[2] + c2_ * w_[3];                                                  \
        (acc2) += c1_ * w_[4] + c3_ * w_[5];                                                  \
        (acc3) += c1_ * w_[6] + c3_ * w_[7];                                                  \
        (d) += 4;                                                                             \
    } while (0)

#define SNN_DW_LONE_(t, d, x0, x1, x2, x3, hi_mac, i1, i3)                                    \
    do {                                                                                      \
        const snn_half_weight_t *w_ = (const snn_half_weight_t *)(d);                         \
        (x0) += SNN_DW_BYTE(t, 0) * w_[0];                                                    \
        (x1) += SNN_DW_BYTE(t, i1) * w_[1];                                                   \
        (x2) += SNN_DW_BYTE(t, 1) * w_[2];                                                    \
        (x3) += SNN_DW_BYTE(t, i3) * w_[3];                                                   \
        (d) += 2;                                                                             \
    } while (0)

#define SNN_DW_REQUANT(d, acc0, acc1, acc2, acc3, shift, packed)                               \
    do {                                                                                      \
        int32_t c_[4] = {(acc0), (acc1), (acc2), (acc3)};                                     \
        (packed) = 0;                                                                         \
        for (int32_t i_ = 0; i_ < 4; ++i_) {                                                  \
            int32_t v_ = snn_smmla(c_[i_], (d)[2 * i_], (d)[2 * i_ + 1]) >> (shift);          \
            (packed) |= (uint32_t)(uint8_t)snn_sat_s8(v_) << (8 * i_);                        \
        }                                                                                     \
        (d) += 8;                                                                             \
    } while (0)

#define SNN_DW_REQUANT_SIGNED(d, acc0, acc1, acc2, acc3, shift, packed)                        \
    do {                                                                                      \
        int32_t c_[4] = {(acc0), (acc1), (acc2), (acc3)};                                     \
        (packed) = 0;                                                                         \
        for (int32_t i_ = 0; i_ < 4; ++i_) {                                                  \
            int32_t r_ = (d)[3 * i_ + 1] - (c_[i_] < 0 ? (d)[3 * i_ + 2] : 0);                \
            int32_t v_ = snn_smmla(c_[i_], (d)[3 * i_], r_) >> (shift);                       \
            (packed) |= (uint32_t)(uint8_t)snn_sat_s8(v_) << (8 * i_);                        \
        }                                                                                     \
        (d) += 12;                                                                            \
    } while (0)
#endif

/* A lone tap t: lanes (c0, c2) and (c1, c3) of SXTB16 times the weight words of 4 channels of
 * multiplier 1 (SMLABB/SMLATT), or (c0, -) and (c1, -) times those of 2 channels of multiplier 2
 * (SMLABB/SMLABT). i1, i3: the bytes of t that the portable code multiplies into x1 and x3. */
#define SNN_DW_LONE4(t, d, acc0, acc1, acc2, acc3) SNN_DW_LONE_(t, d, acc0, acc2, acc1, acc3, "smlatt", 2, 3)
#define SNN_DW_LONE2(t, d, acc0, acc1, acc2, acc3) SNN_DW_LONE_(t, d, acc0, acc1, acc2, acc3, "smlabt", 0, 1)

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
