"""TFLite's integer quantization arithmetic, decided on the host.

The generated C only applies what these functions compute, so they follow the
reference kernels' definitions exactly:

- ``quantize_multiplier(m)``: ``m = q * 2**(shift - 31)`` with ``q`` a Q31 integer in
  ``[2**30, 2**31)``; ``q = round_half_away(frexp(m).mantissa * 2**31)``.
- activation range of a fused activation: ``[max(-128, zp + round(lo / s)), min(127, zp + round(hi / s))]``.
- SAME padding: ``pad = max(0, (out - 1) * stride + (k - 1) * dilation + 1 - in) // 2``.
- ``multiply_by_quantized_multiplier(x, q, shift)``: ``x * 2**max(shift, 0)`` (int32), its
  saturating rounding doubling high product with ``q`` (``(x q + nudge) / 2**31``, the nudge
  ``2**30`` or ``1 - 2**30`` by the product's sign, truncated), then divided by
  ``2**max(-shift, 0)`` rounding half away from zero.
"""

import math

import numpy as np

__all__ = ["quantize_multiplier", "multiply_by_quantized_multiplier", "activation_range", "conv_output_size",
           "same_padding"]

INT8_MIN, INT8_MAX = -128, 127


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Q31 multiplier and power-of-two shift of a positive real scale."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    q = _round_half_away(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def multiply_by_quantized_multiplier(x, multiplier: int, shift: int) -> np.ndarray:
    """The reference kernels' requantisation of int32 ``x`` (array), exactly as the C computes it."""
    left, right = max(shift, 0), max(-shift, 0)
    scaled = ((np.asarray(x, np.int64) << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 wrap
    product = scaled * int(multiplier)
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.sign(nudged) * (np.abs(nudged) >> 31)  # C's division truncates toward zero
    high = np.where((scaled == -(1 << 31)) & (multiplier == -(1 << 31)), (1 << 31) - 1, high)
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def activation_range(fused: int, scale: float, zero_point: int) -> tuple[int, int]:
    """int8 clamp range of a fused activation (0 none, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6)."""
    def quantize(f):
        return zero_point + _round_half_away(float(np.float32(f) / np.float32(scale)))

    bounds = {0: (None, None), 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
    if fused not in bounds:
        raise ValueError(f"unsupported fused activation {fused}")
    lo, hi = bounds[fused]
    qmin = INT8_MIN if lo is None else max(INT8_MIN, quantize(lo))
    qmax = INT8_MAX if hi is None else min(INT8_MAX, quantize(hi))
    return qmin, qmax


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, same: bool) -> int:
    """Output length of a convolution or pooling along one axis."""
    effective = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if same else (size - effective + stride) // stride


def same_padding(size: int, kernel: int, stride: int, dilation: int, out: int) -> int:
    """Leading padding of SAME (the reference kernels ignore the odd trailing pixel)."""
    total = (out - 1) * stride + (kernel - 1) * dilation + 1 - size
    return max(0, total) // 2
