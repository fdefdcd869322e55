"""C specialised per CONV_2D layer: every shape a constant, offsets folded, weights pre-packed.

A convolution becomes im2col + a small matrix product. The exporter decides:

- ``bias' = bias - zp_in * sum(w)``: the input offset folded into the bias. Padding taps
  read the input zero point, whose offset-corrected value is 0, so this stays exact.
- the weights as int16, each row padded to ``k_pad`` (a multiple of 4) with zeros. With
  the DSP extension and ``in_c % 4 == 0`` im2col expands 4 bytes at a time with SXTB16,
  which yields lanes (x0, x2), (x1, x3): the weights are stored in that order too.
- the requantisation path: ``fast`` (one SMMULR on twice the accumulator: weights and bias
  are stored doubled; the output zero point rides in the rounding constant) when every
  channel shifts right and no accumulator can reach 2^30 in magnitude; ``fast_floor``, the
  same without the negative-rounding fix when the clamp floor is at or above the output
  zero point; else ``exact`` (TFLite's MultiplyByQuantizedMultiplier in kernels.c). All bit-exact.
- the clamp: one SSAT when the activation range is all of int8.
"""

import numpy as np

from semanticnn.firmware.render import c_array_lines, render_template

__all__ = ["conv2d_code", "conv2d_scratch_bytes", "fold_bias", "inside_range", "pack_weights", "k_padded",
           "flat_requant"]

REQUANT_ROW_BYTES = 16  # sizeof(snn_requant_t): bias, multiplier, shift, round
FAST_ACC_LIMIT = 1 << 30  # |acc| below this: 2 * acc fits int32, as SMMULR needs
MAX_UNROLL = 32  # inner-loop iterations GCC may unroll fully


def flat_requant(shift, zero_point, act_min, bound):
    """The requantisation of a flat element-wise loop (mul_codegen, add_codegen) whose value is at most ``bound``.

    Returns (path, right-or-TFLite shift, round constant, scale of the value): ``fast``
    (``fast_floor`` when the clamp floor is at or above the zero point) with the value doubled
    and the zero point in the rounding constant, for a right shift of a value below 2^30;
    else ``exact``, with the TFLite shift and the zero point.
    """
    if -31 <= shift <= -1 and bound < FAST_ACC_LIMIT:
        right = -shift
        round_ = (1 << (right - 1)) + (zero_point << right)
        if abs(round_) < FAST_ACC_LIMIT:
            return ("fast_floor" if act_min >= zero_point else "fast"), right, round_, 2
    return "exact", shift, zero_point, 1


def k_padded(k: int) -> int:
    """Column length: ``k`` rounded up to a multiple of 4 (two int16 words)."""
    return (k + 3) // 4 * 4


def conv2d_scratch_bytes(params: dict) -> int:
    """Bytes of the two int16 im2col columns the layer needs."""
    return 2 * k_padded(params["k_h"] * params["k_w"] * params["in_c"]) * 2


def fold_bias(weights: np.ndarray, bias: np.ndarray, input_offset: int) -> np.ndarray:
    """``bias + input_offset * sum(w)`` per output channel (weights ``[out_c, k]``), int64."""
    return bias.astype(np.int64) + input_offset * weights.astype(np.int64).sum(axis=1)


def pack_weights(weights: np.ndarray, quad: bool) -> np.ndarray:
    """``[out_c, k]`` int8 -> ``[out_c, k_pad]`` int16, zero padded; SXTB16 lane order if ``quad``."""
    out_c, k = weights.shape
    packed = np.zeros((out_c, k_padded(k)), np.int16)
    packed[:, :k] = weights
    if quad:
        packed = packed.reshape(out_c, -1, 4)[:, :, [0, 2, 1, 3]].reshape(out_c, -1)
    return packed


def _requant_rows(layer, folded):
    """(path, rows): ``fast`` rows are (bias', multiplier, right shift, 2^(shift-1))."""
    p, (_, w) = layer.params, layer.arrays["weights"]
    mults = np.asarray(layer.arrays["multiplier"][1], np.int64)
    shifts = np.asarray(layer.arrays["shift"][1], np.int64)
    weights = np.asarray(w, np.int64).reshape(p["out_c"], -1)
    span = max(abs(-128 + p["input_offset"]), abs(127 + p["input_offset"]))
    bound = np.abs(np.asarray(layer.arrays["bias"][1], np.int64)) + span * np.abs(weights).sum(axis=1)
    zp = p["output_offset"]
    if bool(np.all(shifts <= -1)) and bool(np.all(shifts >= -31)) and int(bound.max()) < FAST_ACC_LIMIT:
        rounds = [(1 << int(-s - 1)) + (zp << int(-s)) for s in shifts]
        if max(abs(r) for r in rounds) < FAST_ACC_LIMIT:  # x + round stays in int32 (|x| <= |acc|)
            rows = zip(2 * folded, mults, -shifts, rounds, strict=True)  # doubled with the weights
            path = "fast_floor" if p["act_min"] >= zp else "fast"
            return path, [tuple(int(v) for v in row) for row in rows]
    return "exact", [(int(b), int(m), int(s), zp) for b, m, s in zip(folded, mults, shifts, strict=True)]


def inside_range(pad, stride, dilation, k, size, out):
    """``[lo, hi)``: output positions whose every tap lies inside the input along one axis."""
    lo = -(-pad // stride)
    hi = (size - 1 + pad - (k - 1) * dilation) // stride + 1
    return min(lo, out), max(min(hi, out), min(lo, out))


def conv2d_code(layer, cname: str, summary: str, dsp: bool) -> dict:
    """``{"code": C text, "call": function name, "scratch_bytes": n}`` for one conv2d layer."""
    p = layer.params
    k = p["k_h"] * p["k_w"] * p["in_c"]
    weights = np.asarray(layer.arrays["weights"][1], np.int64).reshape(p["out_c"], k)
    bias = np.asarray(layer.arrays["bias"][1], np.int64)
    folded = fold_bias(weights, bias, p["input_offset"])
    if np.abs(folded).max(initial=0) >= 1 << 31:
        raise ValueError(f"layer {layer.index}: folded bias overflows int32")
    quad = dsp and p["in_c"] % 4 == 0
    requant, rows = _requant_rows(layer, folded)
    pad_free = p["pad_h"] == 0 and p["pad_w"] == 0
    in_reach = (
        (p["out_h"] - 1) * p["stride_h"] + (p["k_h"] - 1) * p["dil_h"] < p["in_h"]
        and (p["out_w"] - 1) * p["stride_w"] + (p["k_w"] - 1) * p["dil_w"] < p["in_w"]
    )
    inside_y = inside_range(p["pad_h"], p["stride_h"], p["dil_h"], p["k_h"], p["in_h"], p["out_h"])
    inside_x = inside_range(p["pad_w"], p["stride_w"], p["dil_w"], p["k_w"], p["in_w"], p["out_w"])
    saturate = (p["act_min"], p["act_max"]) == (-128, 127)
    clamp = ("snn_sat_s8(", ")") if saturate else ("snn_clamp_s8(", f", {p['act_min']}, {p['act_max']})")
    context = dict(
        clamp_open=clamp[0], clamp_close=clamp[1], inside_y=inside_y, inside_x=inside_x,
        index=layer.index, c=cname, summary=summary, dsp=dsp, quad=quad, requant=requant,
        k=k, k_pad=k_padded(k), unroll=min(MAX_UNROLL, k_padded(k)),
        weight_rows=[c_array_lines(row) for row in pack_weights(weights, quad) * (1 if requant == "exact" else 2)],
        requant_rows=rows, bounds_check=not (pad_free and in_reach),
        input_zero_point=-p["input_offset"], n_pixels=p["out_h"] * p["out_w"],
        out_c_odd=p["out_c"] % 2,
        **{name: p[name] for name in (
            "in_h", "in_w", "in_c", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
            "dil_h", "dil_w", "pad_h", "pad_w")},
    )
    return dict(code=render_template("conv2d.c.j2", context), call=f"{cname}_run",
                scratch_bytes=conv2d_scratch_bytes(p))
