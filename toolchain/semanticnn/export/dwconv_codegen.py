"""C specialised per DEPTHWISE_CONV_2D layer: shapes constant, offset folded, weights pre-packed.

Output channel ``oc`` reads input channel ``oc // multiplier``. On DSP cores, where
dwconv_packed's path applies (multiplier 1 with ``in_c % 4 == 0`` or multiplier 2 with ``in_c``
even, every shift a right shift, accumulators within int32 once scaled), it runs:
SMLAD on tap pairs, SMMLA + SSAT requantisation (dwconv2d_packed.c.j2). Otherwise, and on
cores without DSP (where it measured faster), the per-tap code below: per output pixel the exporter's
code loops over channels, each over the ``k_h * k_w`` taps (unrolled). It reuses conv_codegen's
decisions: the input offset folded into the bias (padding taps read a row of the input zero
point, whose offset-corrected value is 0, so the fold stays exact), the requantisation path
and the doubled weights of the fast paths.

- ``dsp`` (DSP core, multiplier 1, ``in_c % 4 == 0``): one 32-bit load gives 4 channels of a
  tap, SXTB16 splits them into lanes (c0, c2), (c1, c3) and SMLABB/SMLATT multiply each lane
  with its weight, stored as int16 in that lane order per 4-channel group and tap.
- ``portable``: int16 weights ``[out_c][taps]``, a multiply-accumulate per tap.
"""

from types import SimpleNamespace

import numpy as np

from semanticnn.export.conv_codegen import REQUANT_ROW_BYTES, _requant_rows, fold_bias, inside_range, pack_weights
from semanticnn.export.dwconv_packed import channel_weights, packed_plan
from semanticnn.firmware.render import c_array_lines, render_template

__all__ = ["dwconv2d_code", "dwconv2d_const_bytes", "dwconv2d_layer", "dsp_lanes", "channel_weights"]


def dsp_lanes(weights: np.ndarray) -> np.ndarray:
    """``[out_c, taps]`` -> ``[out_c // 4, taps, 4]`` int16 in SXTB16 lane order (c0, c2, c1, c3)."""
    out_c, taps = weights.shape
    groups = weights.reshape(out_c // 4, 4, taps).transpose(0, 2, 1)
    return pack_weights(groups.reshape(-1, 4), quad=True).reshape(out_c // 4, taps, 4)


def _tap_offsets(p):
    """Byte offset of each tap from the pixel's top-left input, row-major over (ky, kx)."""
    return [(ky * p["dil_h"] * p["in_w"] + kx * p["dil_w"]) * p["in_c"]
            for ky in range(p["k_h"]) for kx in range(p["k_w"])]


def dwconv2d_const_bytes(layer, dsp: bool) -> int:
    """Flash of the layer's constant arrays as its emitted C declares them."""
    packed = packed_plan(layer) if dsp else None
    if packed is not None:
        return 4 * len(packed["data"]) * len(packed["data"][0])
    p = layer.params
    return p["out_c"] * (2 * p["k_h"] * p["k_w"] + REQUANT_ROW_BYTES) + p["in_c"]  # weights, requant, zero point row


def _packed_code(layer, plan, cname, summary):
    """The packed path's C (dwconv_packed decided every value)."""
    p = layer.params
    context = dict(
        index=layer.index, c=cname, summary=summary, input_zero_point=-p["input_offset"],
        words=len(plan["data"][0]), data=[c_array_lines(row) for row in plan["data"]],
        **{name: plan[name] for name in ("group_in_c", "groups", "shift", "regions", "classes", "n_pairs", "lone",
                                          "signed")},
        **{name: p[name] for name in ("in_w", "in_c", "out_w", "out_c", "stride_h", "stride_w", "act_min", "act_max")},
    )
    return dict(code=render_template("dwconv2d_packed.c.j2", context), call=f"{cname}_run")


def dwconv2d_code(layer, cname: str, summary: str, dsp: bool) -> dict:
    """``{"code": C text, "call": function name}`` for one depthwise layer."""
    packed = packed_plan(layer) if dsp else None
    if packed is not None:
        return _packed_code(layer, packed, cname, summary)
    p = layer.params
    weights = channel_weights(layer)
    folded = fold_bias(weights, np.asarray(layer.arrays["bias"][1], np.int64), p["input_offset"])
    if np.abs(folded).max(initial=0) >= 1 << 31:
        raise ValueError(f"layer {layer.index}: folded bias overflows int32")
    shim = SimpleNamespace(params=p, arrays={**layer.arrays, "weights": ("int8_t", weights)})
    requant, rows = _requant_rows(shim, folded)
    scale = 1 if requant == "exact" else 2
    lanes = dsp and p["depth_multiplier"] == 1 and p["in_c"] % 4 == 0
    packed = dsp_lanes(weights) if lanes else weights[:, None, :]
    saturate = (p["act_min"], p["act_max"]) == (-128, 127)
    clamp = ("snn_sat_s8(", ")") if saturate else ("snn_clamp_s8(", f", {p['act_min']}, {p['act_max']})")
    context = dict(
        clamp_open=clamp[0], clamp_close=clamp[1], index=layer.index, c=cname, summary=summary, lanes=lanes,
        requant=requant, requant_rows=rows, taps=_tap_offsets(p),
        weight_rows=[c_array_lines(row * scale) for row in packed], row_len=packed.shape[1] * packed.shape[2],
        inside_y=inside_range(p["pad_h"], p["stride_h"], p["dil_h"], p["k_h"], p["in_h"], p["out_h"]),
        inside_x=inside_range(p["pad_w"], p["stride_w"], p["dil_w"], p["k_w"], p["in_w"], p["out_w"]),
        zero_point_row=c_array_lines([-p["input_offset"]] * p["in_c"]), multiplier=p["depth_multiplier"],
        **{name: p[name] for name in (
            "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
            "dil_h", "dil_w", "pad_h", "pad_w")},
    )
    return dict(code=render_template("dwconv2d.c.j2", context), call=f"{cname}_run")


def _summary(p):
    return (f"{p['in_h']}x{p['in_w']}x{p['in_c']} -> {p['out_h']}x{p['out_w']}x{p['out_c']}, "
            f"kernel {p['k_h']}x{p['k_w']}, stride {p['stride_h']}, multiplier {p['depth_multiplier']}")


def dwconv2d_layer(plan, layer, dsp, input_in_arena) -> dict:
    """The model template's entry for one depthwise layer emitted as its own C function."""
    from semanticnn.firmware.render import _arena_asserts, _tensor_expr

    cname = f"layer{layer.index}"
    code = dwconv2d_code(layer, cname, _summary(layer.params), dsp)
    tensors = [*layer.inputs, layer.output]
    return dict(
        index=layer.index, op=layer.op, kind=layer.kind, code=code["code"], call=code["call"], cname=cname,
        elided=False, static_asserts=_arena_asserts(plan, tensors),
        args=[_tensor_expr(plan, t, input_in_arena) for t in tensors],
    )
