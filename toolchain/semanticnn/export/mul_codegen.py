"""C specialised per MUL layer whose two run-time operands both have the output's shape.

TFLM's int8 MUL is, per element, ``clamp(z_out + MultiplyByQuantizedMultiplier((x1 - z1) *
(x2 - z2), m, shift))``. With no broadcasting, element ``i`` of the output reads element
``i`` of each input: one flat loop of constant length, the offsets, multiplier, shift and
clamp printed as constants. The requantisation is conv_codegen's: ``fast`` (one SMMULR on
twice the product, the first operand doubled as it is loaded; the output zero point rides in
the rounding constant) when the shift is a right shift and the rounding constant stays below
2^30 (the product is below 2^16 in magnitude, far from conv_codegen's 2^30 limit); ``fast_floor``
the same when the clamp floor is at or above the output zero point; else ``exact``.
Broadcasting MULs keep the generic kernel (snn_mul_s8 in kernels.c).
"""

from semanticnn.export.conv_codegen import flat_requant
from semanticnn.export.layer import is_flat_binary
from semanticnn.firmware.render import render_template

__all__ = ["is_flat_mul", "mul_code"]


def is_flat_mul(layer) -> bool:
    """A MUL of two run-time tensors that each read element ``i`` for output element ``i``."""
    return is_flat_binary(layer, "mul")


def _product_bound(p) -> int:
    """Largest ``|(x1 - z1) * (x2 - z2)|`` over int8 inputs."""
    span1, span2 = (max(abs(-128 + p[k]), abs(127 + p[k])) for k in ("input1_offset", "input2_offset"))
    return span1 * span2


def mul_code(layer, cname: str, summary: str) -> dict:
    """``{"code": C text, "call": function name}`` for one same-shape MUL layer."""
    p = layer.params
    # 2x the bound: the mul path checked twice the product against 2^30 (the doubled operand)
    requant, shift, round_, scale = flat_requant(p["shift"], p["output_offset"], p["act_min"], 2 * _product_bound(p))
    saturate = (p["act_min"], p["act_max"]) == (-128, 127)
    clamp = ("snn_sat_s8(", ")") if saturate else ("snn_clamp_s8(", f", {p['act_min']}, {p['act_max']})")
    context = dict(
        index=layer.index, c=cname, summary=summary, size=p["size"], requant=requant,
        multiplier=p["multiplier"], shift=shift, round=round_, scale=scale,
        offset1=scale * p["input1_offset"], offset2=p["input2_offset"],
        clamp_open=clamp[0], clamp_close=clamp[1],
    )
    return dict(code=render_template("mul.c.j2", context), call=f"{cname}_run")
