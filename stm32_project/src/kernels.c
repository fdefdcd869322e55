/* int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels. See kernels.h. */
#include "kernels.h"

#include <stdarg.h>

static int32_t clamp_i32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* round(a * b / 2^31), saturating the one overflowing case INT32_MIN * INT32_MIN. */
static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent, rounding half away from zero. */
static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t snn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int32_t scaled = (int32_t)((uint32_t)x << left);
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier), right);
}

void snn_conv2d_s8(const snn_conv2d_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t oc = 0; oc < p->out_c; ++oc) {
                const int8_t *w = p->weights + (int32_t)oc * p->k_h * p->k_w * p->in_c;
                int32_t acc = 0;
                for (int32_t ky = 0; ky < p->k_h; ++ky) {
                    int32_t iy = y0 + ky * p->dil_h;
                    if (iy < 0 || iy >= p->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < p->k_w; ++kx) {
                        int32_t ix = x0 + kx * p->dil_w;
                        if (ix < 0 || ix >= p->in_w) {
                            continue;
                        }
                        const int8_t *in = input + ((int32_t)iy * p->in_w + ix) * p->in_c;
                        const int8_t *wk = w + ((int32_t)ky * p->k_w + kx) * p->in_c;
                        for (int32_t ic = 0; ic < p->in_c; ++ic) {
                            acc += (int32_t)wk[ic] * ((int32_t)in[ic] + p->input_offset);
                        }
                    }
                }
                acc += p->bias[oc];
                acc = snn_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
                acc += p->output_offset;
                output[((int32_t)oy * p->out_w + ox) * p->out_c + oc] = (int8_t)clamp_i32(acc, p->act_min, p->act_max);
            }
        }
    }
}

/* One output of a depthwise convolution: channel oc reads input channel ic. */
static int32_t depthwise_acc(const snn_depthwise_conv2d_params_t *p, const int8_t *input,
                             int32_t y0, int32_t x0, int32_t ic, int32_t oc)
{
    int32_t acc = 0;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        int32_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            int32_t ix = x0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) {
                continue;
            }
            int32_t v = (int32_t)input[((int32_t)iy * p->in_w + ix) * p->in_c + ic] + p->input_offset;
            acc += v * (int32_t)p->weights[((int32_t)ky * p->k_w + kx) * p->out_c + oc];
        }
    }
    return acc;
}

void snn_depthwise_conv2d_s8(const snn_depthwise_conv2d_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t ic = 0; ic < p->in_c; ++ic) {
                for (int32_t m = 0; m < p->depth_multiplier; ++m) {
                    int32_t oc = ic * p->depth_multiplier + m;
                    int32_t acc = depthwise_acc(p, input, y0, x0, ic, oc) + p->bias[oc];
                    acc = snn_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
                    acc += p->output_offset;
                    output[((int32_t)oy * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void snn_fully_connected_s8(const snn_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->in_depth;
        for (int32_t o = 0; o < p->out_depth; ++o) {
            const int8_t *w = p->weights + o * p->in_depth;
            int32_t acc = 0;
            for (int32_t i = 0; i < p->in_depth; ++i) {
                acc += (int32_t)w[i] * ((int32_t)in[i] + p->input_offset);
            }
            acc += p->bias[o];
            acc = snn_multiply_by_quantized_multiplier(acc, p->multiplier[o], p->shift[o]);
            acc += p->output_offset;
            output[b * p->out_depth + o] = (int8_t)clamp_i32(acc, p->act_min, p->act_max);
        }
    }
}

static int32_t offset4(const int32_t *strides, int32_t i0, int32_t i1, int32_t i2, int32_t i3)
{
    return i0 * strides[0] + i1 * strides[1] + i2 * strides[2] + i3 * strides[3];
}

static int8_t add_one(const snn_add_params_t *p, int8_t x, int8_t y)
{
    int32_t a = ((int32_t)x + p->input1_offset) * (1 << p->left_shift);
    int32_t b = ((int32_t)y + p->input2_offset) * (1 << p->left_shift);
    int32_t sa = snn_multiply_by_quantized_multiplier(a, p->input1_multiplier, p->input1_shift);
    int32_t sb = snn_multiply_by_quantized_multiplier(b, p->input2_multiplier, p->input2_shift);
    int32_t sum = sa + p->sign2 * sb;
    int32_t r = snn_multiply_by_quantized_multiplier(sum, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)clamp_i32(r, p->act_min, p->act_max);
}

void snn_add_s8(const snn_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *s = p->out_shape;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    int8_t x = input1[offset4(p->in1_strides, i0, i1, i2, i3)];
                    int8_t y = input2[offset4(p->in2_strides, i0, i1, i2, i3)];
                    *output++ = add_one(p, x, y);
                }
            }
        }
    }
}

void snn_add_const_s8(const snn_add_const_params_t *p, const int8_t *input, int8_t *output)
{
    if (p->constant_input == 1) {
        snn_add_s8(p, p->constant, input, output);
    } else {
        snn_add_s8(p, input, p->constant, output);
    }
}

static int8_t mul_one(const snn_mul_params_t *p, int8_t x, int8_t y)
{
    int32_t a = (int32_t)x + p->input1_offset;
    int32_t b = (int32_t)y + p->input2_offset;
    int32_t r = p->output_offset + snn_multiply_by_quantized_multiplier(a * b, p->multiplier, p->shift);
    return (int8_t)clamp_i32(r, p->act_min, p->act_max);
}

void snn_mul_s8(const snn_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    const int32_t *s = p->out_shape;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    int8_t x = input1[offset4(p->in1_strides, i0, i1, i2, i3)];
                    int8_t y = input2[offset4(p->in2_strides, i0, i1, i2, i3)];
                    *output++ = mul_one(p, x, y);
                }
            }
        }
    }
}

void snn_mul_const_s8(const snn_mul_const_params_t *p, const int8_t *input, int8_t *output)
{
    if (p->constant_input == 1) {
        snn_mul_s8(p, p->constant, input, output);
    } else {
        snn_mul_s8(p, input, p->constant, output);
    }
}

void snn_max_pool_s8(const snn_max_pool_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t x0 = ox * p->stride_w - p->pad_w;
            for (int32_t c = 0; c < p->channels; ++c) {
                int32_t best = -128;
                for (int32_t fy = 0; fy < p->f_h; ++fy) {
                    for (int32_t fx = 0; fx < p->f_w; ++fx) {
                        int32_t iy = y0 + fy, ix = x0 + fx;
                        if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                            continue;
                        }
                        int32_t v = input[((int32_t)iy * p->in_w + ix) * p->channels + c];
                        best = v > best ? v : best;
                    }
                }
                output[((int32_t)oy * p->out_w + ox) * p->channels + c] = (int8_t)clamp_i32(best, p->act_min, p->act_max);
            }
        }
    }
}

/* Average of the window clipped to the input, rounded half away from zero (TFLite's int8 AVERAGE_POOL_2D). */
void snn_avg_pool_s8(const snn_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t x0 = ox * p->stride_w - p->pad_w;
            int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = p->in_h - y0 < p->f_h ? p->in_h - y0 : p->f_h;
            int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = p->in_w - x0 < p->f_w ? p->in_w - x0 : p->f_w;
            int32_t count = (fy1 - fy0) * (fx1 - fx0);
            for (int32_t c = 0; c < p->channels; ++c) {
                int32_t acc = 0;
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        acc += input[((y0 + fy) * p->in_w + x0 + fx) * p->channels + c];
                    }
                }
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                output[((int32_t)oy * p->out_w + ox) * p->channels + c] = (int8_t)clamp_i32(acc, p->act_min, p->act_max);
            }
        }
    }
}

void snn_mean_s8(const snn_mean_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t c = 0; c < p->channels; ++c) {
        int32_t acc = p->sum_offset;
        for (int32_t i = 0; i < p->pixels; ++i) {
            acc += input[i * p->channels + c];
        }
        int32_t r = snn_multiply_by_quantized_multiplier(acc, p->multiplier, p->shift) + p->output_offset;
        output[c] = (int8_t)clamp_i32(r, -128, 127);
    }
}

static int32_t inside(int32_t i, int32_t size)
{
    return i >= 0 && i < size;
}

void snn_pad_s8(const snn_pad_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t *s = p->out_shape, *n = p->in_shape, *b = p->pad_before;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                int32_t j0 = i0 - b[0], j1 = i1 - b[1], j2 = i2 - b[2];
                int32_t row = inside(j0, n[0]) && inside(j1, n[1]) && inside(j2, n[2]);
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    int32_t j3 = i3 - b[3];
                    *output++ = row && inside(j3, n[3]) ? input[((j0 * n[1] + j1) * n[2] + j2) * n[3] + j3]
                                                        : (int8_t)p->pad_value;
                }
            }
        }
    }
}

void snn_copy_s8(const snn_copy_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = input[i];
    }
}

void snn_concat_s8(const snn_concat_params_t *p, ...)
{
    const int8_t *inputs[SNN_CONCAT_MAX_INPUTS];
    va_list args;

    va_start(args, p);
    for (int32_t k = 0; k < p->n_inputs; ++k) {
        inputs[k] = va_arg(args, const int8_t *);
    }
    int8_t *output = va_arg(args, int8_t *);
    va_end(args);
    for (int32_t r = 0; r < p->outer; ++r) {
        for (int32_t k = 0; k < p->n_inputs; ++k) {
            const int8_t *in = inputs[k] + r * p->chunk[k];
            for (int32_t i = 0; i < p->chunk[k]; ++i) {
                *output++ = in[i];
            }
        }
    }
}

static int8_t prelu_one(const snn_prelu_params_t *p, int8_t x, int8_t alpha)
{
    int32_t v = (int32_t)x + p->input_offset;
    int32_t r;
    if (v >= 0) {
        r = snn_multiply_by_quantized_multiplier(v, p->multiplier_pos, p->shift_pos);
    } else {
        r = snn_multiply_by_quantized_multiplier(v * ((int32_t)alpha + p->alpha_offset), p->multiplier_neg,
                                                 p->shift_neg);
    }
    return (int8_t)clamp_i32(r + p->output_offset, -128, 127);
}

void snn_prelu_s8(const snn_prelu_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t *s = p->out_shape;
    for (int32_t i0 = 0; i0 < s[0]; ++i0) {
        for (int32_t i1 = 0; i1 < s[1]; ++i1) {
            for (int32_t i2 = 0; i2 < s[2]; ++i2) {
                for (int32_t i3 = 0; i3 < s[3]; ++i3) {
                    *output = prelu_one(p, *input++, p->alpha[offset4(p->alpha_strides, i0, i1, i2, i3)]);
                    ++output;
                }
            }
        }
    }
}

void snn_table_s8(const snn_table_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = p->table[(int32_t)input[i] + 128];
    }
}
