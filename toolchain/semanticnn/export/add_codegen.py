"""C specialised per ADD or SUB layer whose two run-time operands both have the output's shape.

TFLM's int8 ADD is, per element, ``clamp(z_out + MBQM(r1(x1) ± r2(x2), m_out, shift_out))``
with ``r_k(x) = MBQM((x - z_k) * 2^20, m_k, shift_k)`` (``quant_math.multiply_by_quantized_multiplier``).
Each ``r_k`` depends on one int8 value alone, so the host computes it for all 256 and the C
reads it from a table (SUB's sign folded into the second): per element two loads and one
requantisation instead of three. The requantisation of the sum is conv_codegen's ``fast``
(``fast_floor`` when the clamp floor is at or above the output zero point), with the tables
doubled for it, when the shift is a right shift and the sum stays below 2^30; else ``exact``.
Broadcasting ADDs, and ADDs of a constant, keep the generic kernel (snn_add_s8 in kernels.c).
"""

import numpy as np

from semanticnn.export.conv_codegen import flat_requant
from semanticnn.export.layer import is_flat_binary
from semanticnn.export.quant_math import multiply_by_quantized_multiplier
from semanticnn.firmware.render import c_array_lines, render_template

__all__ = ["is_flat_add", "add_tables", "add_code"]

INT8_VALUES = np.arange(-128, 128, dtype=np.int64)


def is_flat_add(layer) -> bool:
    """An ADD or SUB of two run-time tensors that each read element ``i`` for output element ``i``."""
    return is_flat_binary(layer, "add")


def add_tables(p) -> tuple[np.ndarray, np.ndarray]:
    """``(r1, ±r2)`` over the int8 inputs -128..127: each operand rescaled to the sum's scale."""
    def rescaled(k):
        shifted = (INT8_VALUES + p[f"input{k}_offset"]) * (1 << p["left_shift"])
        return multiply_by_quantized_multiplier(shifted, p[f"input{k}_multiplier"], p[f"input{k}_shift"])

    return rescaled(1), p["sign2"] * rescaled(2)


def add_code(layer, cname: str, summary: str) -> dict:
    """``{"code": C text, "call": function name}`` for one same-shape ADD or SUB layer."""
    p = layer.params
    table1, table2 = add_tables(p)
    bound = int(np.abs(table1).max() + np.abs(table2).max())
    requant, shift, round_, scale = flat_requant(p["output_shift"], p["output_offset"], p["act_min"], bound)
    saturate = (p["act_min"], p["act_max"]) == (-128, 127)
    clamp = ("snn_sat_s8(", ")") if saturate else ("snn_clamp_s8(", f", {p['act_min']}, {p['act_max']})")
    context = dict(
        index=layer.index, op=layer.op, c=cname, summary=summary, size=p["size"], requant=requant,
        multiplier=p["output_multiplier"], shift=shift, round=round_, doubled=scale == 2,
        table1=c_array_lines(scale * table1), table2=c_array_lines(scale * table2),
        clamp_open=clamp[0], clamp_close=clamp[1],
    )
    return dict(code=render_template("add.c.j2", context), call=f"{cname}_run")
