/*
 * int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * Every parameter (shapes, offsets, Q31 multipliers, shifts, clamp ranges, tables,
 * broadcast strides) is decided by the exporter (semanticnn.export.kernel_plan) and
 * written into the generated model.c; these functions only apply them. Tensors are
 * NHWC, batch 1. Portable C: no core-specific instructions.
 */
#ifndef SNN_KERNELS_H
#define SNN_KERNELS_H

#include <stdint.h>

/* Shapes and strides of broadcast kernels are int32_t[4]: the tensor's shape padded
 * with leading 1s; a stride is 0 along a dimension the input is broadcast over. */

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
    int32_t size; /* output elements */
    int16_t in_h, in_w, in_c, out_h, out_w, out_c, depth_multiplier;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t input_offset, output_offset, act_min, act_max;
    const int8_t *weights;     /* [k_h][k_w][out_c], out channel = in channel * depth_multiplier + m */
    const int32_t *bias;       /* [out_c] */
    const int32_t *multiplier; /* [out_c], Q31 */
    const int32_t *shift;      /* [out_c] */
} snn_depthwise_conv2d_params_t;

typedef struct {
    int32_t size; /* output elements */
    int32_t batches, in_depth, out_depth;
    int32_t input_offset, output_offset, act_min, act_max;
    const int8_t *weights;     /* [out_depth][in_depth] */
    const int32_t *bias;       /* [out_depth] */
    const int32_t *multiplier; /* [out_depth] (one value repeated for per-tensor weights) */
    const int32_t *shift;      /* [out_depth] */
} snn_fully_connected_params_t;

/* out = in1 + in2 (sign2 = 1) or in1 - in2 (sign2 = -1), each input rescaled to a
 * common scale after a left shift, as TFLite's int8 ADD and SUB. The _const variant
 * takes one input from `constant`, as input 1 or 2 (`constant_input`). */
typedef struct {
    int32_t size; /* output elements */
    const int32_t *out_shape, *in1_strides, *in2_strides;
    const int8_t *constant;
    int32_t constant_input;
    int32_t input1_offset, input2_offset, left_shift, sign2;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift, output_offset, act_min, act_max;
} snn_add_params_t;

typedef struct {
    int32_t size; /* output elements */
    const int32_t *out_shape, *in1_strides, *in2_strides;
    const int8_t *constant;
    int32_t constant_input;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t multiplier, shift, act_min, act_max;
} snn_mul_params_t;

typedef struct {
    int16_t in_h, in_w, channels, out_h, out_w, f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} snn_max_pool_params_t;

typedef struct {
    int32_t size; /* output elements */
    int16_t in_h, in_w, channels, out_h, out_w, f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} snn_avg_pool_params_t;

typedef snn_add_params_t snn_add_const_params_t;
typedef snn_mul_params_t snn_mul_const_params_t;

/* Mean over the pixels of an NHWC tensor: out[c] from the sum over in[p][c]. */
typedef struct {
    int32_t size; /* output elements */
    int32_t pixels, channels;
    int32_t sum_offset; /* -input_zero_point * pixels */
    int32_t multiplier, shift, output_offset;
} snn_mean_params_t;

typedef struct {
    int32_t size; /* output elements */
    const int32_t *out_shape, *in_shape, *pad_before;
    int32_t pad_value;
} snn_pad_params_t;

typedef struct {
    int32_t size;
} snn_copy_params_t;

/* Concatenation: the output is `outer` rows; row r is, for each input i in turn,
 * chunk[i] bytes of input i starting at r * chunk[i]. snn_concat_s8 takes n_inputs
 * input pointers, then the output pointer. */
#define SNN_CONCAT_MAX_INPUTS 8

typedef struct {
    int32_t size; /* output elements */
    int32_t outer, n_inputs; /* n_inputs <= SNN_CONCAT_MAX_INPUTS */
    const int32_t *chunk; /* [n_inputs] */
} snn_concat_params_t;

typedef struct {
    int32_t size; /* output elements */
    const int32_t *out_shape, *alpha_strides;
    int32_t input_offset, alpha_offset, output_offset;
    int32_t multiplier_pos, shift_pos, multiplier_neg, shift_neg;
    const int8_t *alpha;
} snn_prelu_params_t;

typedef struct {
    int32_t size;
    const int8_t *table; /* [256], indexed by input + 128 */
} snn_table_params_t;

/* x * multiplier * 2^shift with TFLite's double rounding (SaturatingRoundingDoublingHighMul
 * followed by RoundingDivideByPOT). */
int32_t snn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

void snn_conv2d_s8(const snn_conv2d_params_t *p, const int8_t *input, int8_t *output);
void snn_depthwise_conv2d_s8(const snn_depthwise_conv2d_params_t *p, const int8_t *input, int8_t *output);
void snn_fully_connected_s8(const snn_fully_connected_params_t *p, const int8_t *input, int8_t *output);
void snn_add_s8(const snn_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void snn_add_const_s8(const snn_add_const_params_t *p, const int8_t *input, int8_t *output);
void snn_mul_s8(const snn_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void snn_mul_const_s8(const snn_mul_const_params_t *p, const int8_t *input, int8_t *output);
void snn_max_pool_s8(const snn_max_pool_params_t *p, const int8_t *input, int8_t *output);
void snn_avg_pool_s8(const snn_avg_pool_params_t *p, const int8_t *input, int8_t *output);
void snn_mean_s8(const snn_mean_params_t *p, const int8_t *input, int8_t *output);
void snn_pad_s8(const snn_pad_params_t *p, const int8_t *input, int8_t *output);
void snn_copy_s8(const snn_copy_params_t *p, const int8_t *input, int8_t *output);
void snn_concat_s8(const snn_concat_params_t *p, ...);
void snn_prelu_s8(const snn_prelu_params_t *p, const int8_t *input, int8_t *output);
void snn_table_s8(const snn_table_params_t *p, const int8_t *input, int8_t *output);

#endif /* SNN_KERNELS_H */
