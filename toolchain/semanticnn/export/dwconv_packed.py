"""The packed DEPTHWISE_CONV_2D path: four output channels a pass, two taps an SMLAD.

A group is four output channels: four input channels for multiplier 1 (``in_c % 4 == 0``), two
for multiplier 2 (``in_c % 2 == 0``). Per output pixel and group the taps go in pairs ``(t, t')``:
one load of each tap's input bytes, one PKHBT/PKHTB putting the same channel of both taps in
one word, SXTB16 into int16 lanes, and one SMLAD per output channel with the weight pair
``(w[t], w[t'])``; an odd last tap uses SMLABB/SMLATT.

The requantisation is one SMMLA and one SSAT per output. TFLite's
``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, m), s) + zp`` with round half up
(the clamp floor at or above the zero point makes half-up and half-away agree, as
``fast_floor`` in conv_codegen) is one floor: ``floor((2 acc m + 2^31 + 2^32 round) / 2^(32+s))``;
with a lower floor (``signed``) a negative accumulator takes ``F = 2^(S-s)`` off ``R`` (half away
from zero; the sign of ``acc`` is that of the high product, or the product is 0 and both agree).
Scaling the accumulator by ``2^(S-s)`` (weights and bias stored times ``2^(1+S-s)``) gives
every channel the same right shift ``S = max(s) + 1``, an SSAT immediate, and leaves
``R = 2^(S-s-1) + 2^(S-1) + zp 2^S`` for SMMLA's accumulate operand. Four outputs are packed
into one word and clamped by bytes (SSUB8 + SEL) where the activation range is not all of int8.

Padding: the exporter splits the output into classes of pixels with the same taps inside the
input; a class's code reads no input for a tap in the padding but multiplies the zero point.
"""

import numpy as np

from semanticnn.export.conv_codegen import fold_bias

__all__ = ["packed_plan", "channel_weights"]

# Code size: one function a pixel class, its taps unrolled (about 30 bytes a tap). A 3x3 SAME
# layer's 9 classes of 9 taps fit; beyond (5x5 SAME: 25 classes of 25 taps, some 17 KB) the
# per-tap code runs instead.
MAX_CLASS_TAPS = 81
INT16_MAX = 32767
FAST_LIMIT = 1 << 30


def channel_weights(layer) -> np.ndarray:
    """The filter ``[1, k_h, k_w, out_c]`` as ``[out_c, taps]`` int64."""
    p = layer.params
    return np.asarray(layer.arrays["weights"][1], np.int64).reshape(p["k_h"] * p["k_w"], p["out_c"]).T


def _group(p):
    """(input channels a group reads, number of groups), or None where the path does not apply."""
    if p["depth_multiplier"] == 1 and p["in_c"] % 4 == 0:
        return 4, p["in_c"] // 4
    if p["depth_multiplier"] == 2 and p["in_c"] % 2 == 0:
        return 2, p["in_c"] // 2
    return None


def _common_shift(p, weights, folded, shifts, mults):
    """Per channel scale exponent ``1 + S - s`` and S, or None where int16/int32 would overflow."""
    right = -shifts
    if right.min() < 1 or mults.min() <= 0:
        return None
    shift = int(right.max()) + 1
    if shift > 31:
        return None
    scale = 1 + shift - right
    bound = np.abs(folded) + 128 * np.abs(weights).sum(axis=1)
    if (np.abs(weights).max(axis=1) << scale).max() > INT16_MAX or (bound << scale).max() >= 1 << 31:
        return None
    return scale, shift


def _rounding(p, right, shift):
    """SMMLA's accumulate operand per channel: ``2^(S-s-1) + 2^(S-1) + zp 2^S``."""
    return [(1 << (shift - int(s) - 1)) + (1 << (shift - 1)) + p["output_offset"] * (1 << shift) for s in right]


def _lanes_of_pair(w, t, u):
    """The four weight words of taps (t, u) for one group's four output channels ``w[4, taps]``."""
    return [_word(w[j, t], w[j, u]) for j in range(4)]


def _lanes_of_single(mult, w, t):
    """The two weight words of a lone tap: (c0, c2), (c1, c3) for multiplier 1, (o0, o1), (o2, o3) for 2."""
    order = ((0, 2), (1, 3)) if mult == 1 else ((0, 1), (2, 3))
    return [_word(w[a, t], w[b, t]) for a, b in order]


def _word(lo, hi):
    return int(np.int32(np.uint32((int(lo) & 0xFFFF) | ((int(hi) & 0xFFFF) << 16))))


def _group_words(p, w, bias, requant, n_taps):
    """One group's int32 words: 4 biases, the tap pairs, the lone tap, then the requant words per channel."""
    words = [int(b) for b in bias]
    for t in range(0, n_taps - 1, 2):
        words += _lanes_of_pair(w, t, t + 1)
    if n_taps % 2:
        words += _lanes_of_single(p["depth_multiplier"], w, n_taps - 1)
    for row in requant:
        words += [int(v) for v in row]
    return words


def _axis_classes(pad, stride, dil, k, size, out):
    """Runs ``(lo, hi, inside taps)`` of output positions with the same taps inside the input."""
    runs = []
    for o in range(out):
        inside = tuple(i for i in range(k) if 0 <= o * stride - pad + i * dil < size)
        if runs and runs[-1][2] == inside:
            runs[-1] = (runs[-1][0], o + 1, inside)
        else:
            runs.append((o, o + 1, inside))
    return runs


def _class_taps(p, rows, cols):
    """Per tap (row-major): its byte offset from the class's first inside tap, or None in the padding."""
    if not rows or not cols:
        return [None] * (p["k_h"] * p["k_w"])
    ky0, kx0 = rows[0], cols[0]
    return [((ky - ky0) * p["dil_h"] * p["in_w"] + (kx - kx0) * p["dil_w"]) * p["in_c"]
            if ky in rows and kx in cols else None
            for ky in range(p["k_h"]) for kx in range(p["k_w"])]


def _regions(p):
    """Row runs x column runs with their class index, and the classes' tap offsets."""
    ys = _axis_classes(p["pad_h"], p["stride_h"], p["dil_h"], p["k_h"], p["in_h"], p["out_h"])
    xs = _axis_classes(p["pad_w"], p["stride_w"], p["dil_w"], p["k_w"], p["in_w"], p["out_w"])
    classes, regions = {}, []
    for y_lo, y_hi, rows in ys:
        cols_of_row = []
        for x_lo, x_hi, cols in xs:
            key = (rows, cols)
            classes.setdefault(key, len(classes))
            anchor = (-p["pad_h"] + (rows[0] * p["dil_h"] if rows else 0),
                      -p["pad_w"] + (cols[0] * p["dil_w"] if cols else 0), bool(rows and cols))
            cols_of_row.append(dict(lo=x_lo, hi=x_hi, cls=classes[key], dx=anchor[1], reads=anchor[2]))
        regions.append(dict(lo=y_lo, hi=y_hi, dy=-p["pad_h"] + (rows[0] * p["dil_h"] if rows else 0), cols=cols_of_row))
    taps = [None] * len(classes)
    for (rows, cols), i in classes.items():
        taps[i] = _class_taps(p, rows, cols)
    return regions, taps


def _pairs(taps):
    """A class's taps: ``pairs`` of offsets (t, t'), the ``lone`` last tap's, how many are ``inside``."""
    pairs = [(taps[t], taps[t + 1]) for t in range(0, len(taps) - 1, 2)]
    return dict(pairs=pairs, lone=taps[-1] if len(taps) % 2 else None, inside=sum(t is not None for t in taps))


def packed_plan(layer):
    """Everything the packed template needs for ``layer``, or None where the per-tap code must run."""
    p = layer.params
    group = _group(p)
    if group is None:
        return None
    weights = channel_weights(layer)
    folded = fold_bias(weights, np.asarray(layer.arrays["bias"][1], np.int64), p["input_offset"])
    shifts = np.asarray(layer.arrays["shift"][1], np.int64)
    mults = np.asarray(layer.arrays["multiplier"][1], np.int64)
    common = _common_shift(p, weights, folded, shifts, mults)
    regions, class_taps = _regions(p)
    if common is None or len(class_taps) * len(class_taps[0]) > MAX_CLASS_TAPS:
        return None
    scale, shift = common
    signed = p["act_min"] < p["output_offset"]  # half away from zero matters: R - F for acc < 0
    rounding = _rounding(p, -shifts, shift)
    fix = [(1 << (shift - int(s))) * signed for s in -shifts]
    if max(max(abs(r), abs(r - f)) for r, f in zip(rounding, fix, strict=True)) >= FAST_LIMIT:
        return None  # SMMLA's sum must stay in int32
    w = weights << scale[:, None]
    bias = folded << scale
    n_taps = p["k_h"] * p["k_w"]
    requant = [(m, r, f) if signed else (m, r) for m, r, f in zip(mults, rounding, fix, strict=True)]
    data = [_group_words(p, w[4 * g:4 * g + 4], bias[4 * g:4 * g + 4], requant[4 * g:4 * g + 4], n_taps)
            for g in range(group[1])]
    return dict(group_in_c=group[0], groups=group[1], data=data, shift=shift, regions=regions, signed=signed,
                classes=[_pairs(t) for t in class_taps], n_pairs=n_taps // 2, lone=n_taps % 2)
