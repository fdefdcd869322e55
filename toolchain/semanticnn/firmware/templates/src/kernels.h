/*
 * int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * Every parameter (shapes, offsets, Q31 multipliers, shifts, clamp ranges, tables)
 * is decided by the exporter (semanticnn.export.kernel_plan) and written into the
 * generated model.c; these functions only apply them. Tensors are NHWC, batch 1.
 */
#ifndef SNN_KERNELS_H
#define SNN_KERNELS_H

#include <stdint.h>

typedef struct {
    int16_t in_h, in_w, in_c, out_h, out_w, out_c;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t input_offset, output_offset, act_min, act_max;
    const int8_t *weights;     /* [out_c][k_h][k_w][in_c] */
    const int32_t *bias;       /* [out_c] */
    const int32_t *multiplier; /* [out_c], Q31 */
    const int32_t *shift;      /* [out_c], power of two, left if > 0 */
} snn_conv2d_params_t;

typedef struct {
    int32_t size;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t multiplier, shift, act_min, act_max;
} snn_mul_params_t;

typedef struct {
    int16_t in_h, in_w, channels, out_h, out_w, f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} snn_max_pool_params_t;

typedef struct {
    int32_t size;
    const int8_t *table; /* [256], indexed by input + 128 */
} snn_table_params_t;

/* x * multiplier * 2^shift with TFLite's double rounding (SaturatingRoundingDoublingHighMul
 * followed by RoundingDivideByPOT). */
int32_t snn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

void snn_conv2d_s8(const snn_conv2d_params_t *p, const int8_t *input, int8_t *output);
void snn_mul_s8(const snn_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void snn_max_pool_s8(const snn_max_pool_params_t *p, const int8_t *input, int8_t *output);
void snn_table_s8(const snn_table_params_t *p, const int8_t *input, int8_t *output);

#endif /* SNN_KERNELS_H */
