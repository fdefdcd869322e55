"""Planners of element-wise and data-movement operators: ADD, SUB, MUL, PRELU, CONCATENATION, RESHAPE, tables.

Binary operators broadcast numpy-style over up to 4 dimensions: the planner gives the
C kernel each input's strides (0 along a broadcast dimension). A constant operand
becomes an array of the layer and the ``_const`` kernel, so ``inputs`` lists only
activations. Element-wise int8 -> int8 operators (HARD_SWISH, LOGISTIC, ...) become
256-entry tables computed by tflite_micro itself, bit-exact by construction.
"""

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from semanticnn.export.layer import Layer, broadcast_strides, constant, per_tensor_int8, shape4, unsupported
from semanticnn.export.quant_math import activation_range, quantize_multiplier
from semanticnn.export.tflite_graph import single_op_model

__all__ = ["TABLE_OPS", "ADD_LEFT_SHIFT", "plan_add", "plan_mul", "plan_prelu", "plan_concat", "plan_reshape",
           "plan_table"]

TABLE_OPS = ("RSQRT", "QUANTIZE", "LOGISTIC", "TANH", "HARD_SWISH", "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU")
ADD_LEFT_SHIFT = 20  # TFLM's int8 ADD/SUB rescale both inputs after this left shift
MAX_CONCAT_INPUTS = 8  # SNN_CONCAT_MAX_INPUTS in kernels.h


def _act(op, tout):
    fused = op.options.get("fusedActivationFunction", 0)
    try:
        return activation_range(fused, tout.scale[0], int(tout.zero_point[0]))
    except ValueError:
        raise unsupported(op, f"fused activation {fused}", "no activation, RELU, RELU_N1_TO_1 or RELU6") from None


def _binary(graph, op, kind, params):
    """Layer of a broadcasting binary operator; a constant operand goes into the arrays."""
    a, b, out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    arrays = {
        "out_shape": ("int32_t", np.array(shape4(op, out.shape))),
        "in1_strides": ("int32_t", np.array(broadcast_strides(op, a.shape, out.shape))),
        "in2_strides": ("int32_t", np.array(broadcast_strides(op, b.shape, out.shape))),
    }
    params = dict(size=out.size, **params)
    consts = [i for i, t in enumerate((a, b)) if t.data is not None]
    if len(consts) == 2:
        raise unsupported(op, "both inputs are constant", "at least one run-time input")
    if consts:
        arrays["constant"] = ("int8_t", (a, b)[consts[0]].data.reshape(-1))
        params["constant_input"] = consts[0] + 1
        inputs = [int(op.inputs[1 - consts[0]])]
        return Layer(op.index, op.name, f"{kind}_const", inputs, int(op.outputs[0]), params, arrays)
    return Layer(op.index, op.name, kind, [int(i) for i in op.inputs[:2]], int(op.outputs[0]), params, arrays)


def plan_add(graph, op):
    """ADD and SUB: TFLM's general int8 path (inputs scaled by 2^20, rescaled to 2 * max scale)."""
    (s1, z1), (s2, z2), (so, zo) = (per_tensor_int8(op, graph.tensors[i]) for i in (*op.inputs[:2], op.outputs[0]))
    twice_max = 2 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * so))
    act_min, act_max = _act(op, graph.tensors[op.outputs[0]])
    params = dict(
        input1_offset=-z1, input2_offset=-z2, left_shift=ADD_LEFT_SHIFT, sign2=-1 if op.name == "SUB" else 1,
        input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
        output_multiplier=mo, output_shift=sho, output_offset=zo, act_min=act_min, act_max=act_max,
    )
    return _binary(graph, op, "add", params)


def plan_mul(graph, op):
    """MUL: ``(x1 - z1) * (x2 - z2) * s1 * s2 / s_out + z_out``."""
    (s1, z1), (s2, z2), (so, zo) = (per_tensor_int8(op, graph.tensors[i]) for i in (*op.inputs[:2], op.outputs[0]))
    mult, shift = quantize_multiplier(s1 * s2 / so)
    act_min, act_max = _act(op, graph.tensors[op.outputs[0]])
    params = dict(input1_offset=-z1, input2_offset=-z2, output_offset=zo, multiplier=mult, shift=shift,
                  act_min=act_min, act_max=act_max)
    return _binary(graph, op, "mul", params)


def plan_prelu(graph, op):
    """PRELU with a constant alpha broadcast over the input."""
    tin, talpha, tout = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if tin.shape != tout.shape:
        raise unsupported(op, f"input {list(tin.shape)} broadcast to {list(tout.shape)}", "alpha broadcasting only")
    (si, zi), (sa, za), (so, zo) = (per_tensor_int8(op, t) for t in (tin, talpha, tout))
    m1, sh1 = quantize_multiplier(si / so)
    m2, sh2 = quantize_multiplier(si * sa / so)
    params = dict(size=tout.size, input_offset=-zi, alpha_offset=-za, output_offset=zo,
                  multiplier_pos=m1, shift_pos=sh1, multiplier_neg=m2, shift_neg=sh2)
    arrays = {
        "out_shape": ("int32_t", np.array(shape4(op, tout.shape))),
        "alpha_strides": ("int32_t", np.array(broadcast_strides(op, talpha.shape, tout.shape))),
        "alpha": ("int8_t", constant(graph, op, 1, "alpha").reshape(-1)),
    }
    return Layer(op.index, op.name, "prelu", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def plan_concat(graph, op):
    """CONCATENATION along any axis of inputs quantized as the output (TFLM's int8 condition)."""
    out = graph.tensors[op.outputs[0]]
    ins = [graph.tensors[i] for i in op.inputs]
    axis = int(op.options["axis"]) % len(out.shape)
    quant = per_tensor_int8(op, out)
    if any(t.data is not None for t in ins) or len(ins) > MAX_CONCAT_INPUTS:
        raise unsupported(op, f"{len(ins)} inputs, constants among them or too many",
                          f"up to {MAX_CONCAT_INPUTS} run-time inputs")
    if any(per_tensor_int8(op, t) != quant for t in ins) or op.options.get("fusedActivationFunction", 0):
        raise unsupported(op, "inputs quantized unlike the output, or a fused activation",
                          "inputs with the output's scale and zero point, no activation")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    chunks = [t.size // outer for t in ins]
    params = dict(size=out.size, outer=outer, n_inputs=len(ins))
    return Layer(op.index, op.name, "concat", [int(i) for i in op.inputs], int(op.outputs[0]), params,
                 {"chunk": ("int32_t", np.array(chunks))})


def plan_reshape(graph, op):
    """RESHAPE (and SQUEEZE, EXPAND_DIMS): the bytes stay as they are."""
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if tin.size != tout.size or per_tensor_int8(op, tin) != per_tensor_int8(op, tout):
        raise unsupported(op, "size or quantization changes", "reshapes that keep size and quantization")
    return Layer(op.index, op.name, "copy", [int(op.inputs[0])], int(op.outputs[0]), dict(size=tout.size))


def plan_table(graph, op):
    """Tabulate an element-wise int8 operator by running it in tflite_micro over all 256 inputs."""
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if tin.dtype is not np.int8 or tout.dtype is not np.int8:
        raise unsupported(op, f"{np.dtype(tin.dtype).name} -> {np.dtype(tout.dtype).name}", "int8 -> int8")
    values = np.arange(-128, 128, dtype=np.int8)
    table = _run_single(graph.model_bytes, op.index, values)
    if table is None:  # some inputs are outside the operator's domain: tabulate one by one
        table = np.array([_entry(graph.model_bytes, op.index, v, int(tout.zero_point[0])) for v in values], np.int8)
    return Layer(op.index, op.name, "table", [int(op.inputs[0])], int(op.outputs[0]), dict(size=tout.size),
                 {"table": ("int8_t", table)})


def _run_single(model_bytes, op_index, values):
    interp = runtime.Interpreter.from_bytes(single_op_model(model_bytes, op_index, len(values)), arena_size=65536)
    interp.set_input(values, 0)
    try:
        interp.invoke()
    except RuntimeError:
        return None
    return np.asarray(interp.get_output(0), np.int8).copy()


def _entry(model_bytes, op_index, value, fallback):
    """One table entry; inputs the reference kernel rejects map to the output zero point."""
    out = _run_single(model_bytes, op_index, np.array([value], np.int8))
    return fallback if out is None else int(out[0])
