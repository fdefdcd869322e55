"""Turn an int8 TFLite graph into a kernel plan: the data the C templates loop over.

Every decision is made here: per-layer shapes, offsets, Q31 multipliers and shifts,
clamp ranges, 256-entry tables for element-wise operators, and the static
activation-memory plan. The templates only print it.
"""

from dataclasses import dataclass, field

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from semanticnn.errors import ExportError
from semanticnn.export.quant_math import (
    activation_range,
    conv_output_size,
    quantize_multiplier,
    same_padding,
)
from semanticnn.export.tflite_graph import Graph, single_op_model

__all__ = ["Layer", "KernelPlan", "plan_graph", "SUPPORTED_OPS", "ARENA_ALIGN"]

ARENA_ALIGN = 16
TABLE_OPS = ("RSQRT", "QUANTIZE", "LOGISTIC", "TANH")  # int8 -> int8 element-wise: tabulated
SAME, VALID = 0, 1


@dataclass
class Layer:
    """One kernel call.

    ``kind`` names the C function, ``params`` its scalar fields, ``arrays`` its constant
    arrays as ``name -> (c_type, flat values)``.
    """

    index: int
    op: str
    kind: str
    inputs: list
    output: int
    params: dict
    arrays: dict = field(default_factory=dict)


@dataclass
class KernelPlan:
    """Layers in execution order plus the activation-memory plan."""

    layers: list
    input_tensor: object
    output_tensor: object
    offsets: dict  # tensor index -> byte offset in the arena
    arena_bytes: int
    const_bytes: int
    graph_tensors: list


def plan_graph(graph: Graph) -> KernelPlan:
    """Plan ``graph``; raises ExportError naming every unsupported operator."""
    unsupported = [f"{op.name} (layer {op.index})" for op in graph.operators if op.name not in SUPPORTED_OPS]
    if unsupported:
        raise ExportError(f"unsupported operators: {', '.join(unsupported)}; supported: {', '.join(SUPPORTED_OPS)}")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ExportError("the model must have exactly one input and one output tensor")
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    for t in (tin, tout):
        if t.dtype is not np.int8:
            raise ExportError(f"tensor {t.name!r} is {np.dtype(t.dtype).name}: the model needs int8 input and output")
    layers = [SUPPORTED_OPS[op.name](graph, op) for op in graph.operators]
    offsets, arena = _plan_memory(graph, layers)
    const_bytes = sum(np.asarray(v).nbytes for layer in layers for _, v in layer.arrays.values())
    return KernelPlan(layers, tin, tout, offsets, arena, const_bytes, graph.tensors)


def _nhwc(t):
    if len(t.shape) != 4 or t.shape[0] != 1:
        raise ExportError(f"tensor {t.name!r} has shape {list(t.shape)}: expected [1, H, W, C]")
    return t.shape[1:]


def _conv2d(graph, op):
    tin, tw, tout = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    bias = graph.tensors[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    (ih, iw, ic), (oh, ow, oc) = _nhwc(tin), _nhwc(tout)
    kh, kw = tw.shape[1], tw.shape[2]
    o = op.options
    sh, sw, dh, dw = o["strideH"], o["strideW"], o["dilationHFactor"], o["dilationWFactor"]
    same = o["padding"] == SAME
    if (conv_output_size(ih, kh, sh, dh, same), conv_output_size(iw, kw, sw, dw, same)) != (oh, ow):
        raise ExportError(f"layer {op.index} CONV_2D: output shape does not follow from its input and options")
    if tw.shape[3] != ic:
        raise ExportError(f"layer {op.index} CONV_2D: grouped convolutions are not supported")
    in_scale, out_scale = float(tin.scale[0]), float(tout.scale[0])
    w_scales = np.broadcast_to(tw.scale, (oc,))
    mults, shifts = zip(*(quantize_multiplier(in_scale * float(s) / out_scale) for s in w_scales), strict=True)
    act_min, act_max = activation_range(o["fusedActivationFunction"], tout.scale[0], int(tout.zero_point[0]))
    params = dict(
        in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
        stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw,
        pad_h=same_padding(ih, kh, sh, dh, oh) if same else 0,
        pad_w=same_padding(iw, kw, sw, dw, ow) if same else 0,
        input_offset=-int(tin.zero_point[0]), output_offset=int(tout.zero_point[0]),
        act_min=act_min, act_max=act_max,
    )
    arrays = {
        "weights": ("int8_t", tw.data.reshape(-1)),
        "bias": ("int32_t", np.zeros(oc, np.int32) if bias is None else bias.reshape(-1)),
        "multiplier": ("int32_t", np.array(mults, np.int64)),
        "shift": ("int32_t", np.array(shifts, np.int64)),
    }
    return Layer(op.index, op.name, "conv2d", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def _mul(graph, op):
    a, b = (graph.tensors[i] for i in op.inputs)
    out = graph.tensors[op.outputs[0]]
    if a.shape != b.shape or a.shape != out.shape:
        raise ExportError(f"layer {op.index} MUL: broadcasting {list(a.shape)} x {list(b.shape)} is not supported")
    mult, shift = quantize_multiplier(float(a.scale[0]) * float(b.scale[0]) / float(out.scale[0]))
    act_min, act_max = activation_range(op.options["fusedActivationFunction"], out.scale[0], int(out.zero_point[0]))
    params = dict(
        size=out.size, input1_offset=-int(a.zero_point[0]), input2_offset=-int(b.zero_point[0]),
        output_offset=int(out.zero_point[0]), multiplier=mult, shift=shift, act_min=act_min, act_max=act_max,
    )
    return Layer(op.index, op.name, "mul", [int(i) for i in op.inputs], int(op.outputs[0]), params)


def _max_pool(graph, op):
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    (ih, iw, c), (oh, ow, _) = _nhwc(tin), _nhwc(tout)
    o = op.options
    fh, fw, sh, sw = o["filterHeight"], o["filterWidth"], o["strideH"], o["strideW"]
    same = o["padding"] == SAME
    act_min, act_max = activation_range(o["fusedActivationFunction"], tout.scale[0], int(tout.zero_point[0]))
    params = dict(
        in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw, stride_h=sh, stride_w=sw,
        pad_h=same_padding(ih, fh, sh, 1, oh) if same else 0, pad_w=same_padding(iw, fw, sw, 1, ow) if same else 0,
        act_min=act_min, act_max=act_max,
    )
    return Layer(op.index, op.name, "max_pool", [int(op.inputs[0])], int(op.outputs[0]), params)


def _table(graph, op):
    """Tabulate an element-wise int8 operator by running it in tflite_micro over all 256 inputs."""
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if tin.dtype is not np.int8 or tout.dtype is not np.int8:
        raise ExportError(f"layer {op.index} {op.name}: only int8 -> int8 is supported")
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


SUPPORTED_OPS = {
    "CONV_2D": _conv2d,
    "MUL": _mul,
    "MAX_POOL_2D": _max_pool,
    **{name: _table for name in TABLE_OPS},
}


def _plan_memory(graph, layers):
    """Greedy first-fit of intermediate tensors into one arena, largest first.

    A tensor lives from the layer that writes it to the last layer that reads it;
    the output tensor lives to the end. Two tensors may share bytes only if their
    lifetimes do not overlap.
    """
    last = len(layers)
    life = {}
    for pos, layer in enumerate(layers):
        life[layer.output] = [pos, pos]
        for t in layer.inputs:
            if t in life:
                life[t][1] = pos
    life[graph.outputs[0]][1] = last
    placed = []  # (offset, size, first, last)
    offsets = {}
    for t in sorted(life, key=lambda i: (-graph.tensors[i].nbytes, i)):
        size = _align(graph.tensors[t].nbytes)
        first, end = life[t]
        offset = 0
        for o, s, _, _ in sorted(p for p in placed if not (p[3] < first or end < p[2])):
            if offset + size <= o:
                break
            offset = max(offset, o + s)
        placed.append((offset, size, first, end))
        offsets[t] = offset
    return offsets, max((o + s for o, s, _, _ in placed), default=0)


def _align(n):
    return (n + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN
