/* int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels. See kernels.h. */
#include "kernels.h"

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

void snn_mul_s8(const snn_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        int32_t a = (int32_t)input1[i] + p->input1_offset;
        int32_t b = (int32_t)input2[i] + p->input2_offset;
        int32_t r = p->output_offset + snn_multiply_by_quantized_multiplier(a * b, p->multiplier, p->shift);
        output[i] = (int8_t)clamp_i32(r, p->act_min, p->act_max);
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

void snn_table_s8(const snn_table_params_t *p, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = p->table[(int32_t)input[i] + 128];
    }
}
