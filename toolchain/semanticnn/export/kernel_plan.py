"""Turn an int8 TFLite graph into a kernel plan: the data the C templates loop over.

Every decision is made here: per-layer shapes, offsets, Q31 multipliers and shifts,
clamp ranges, broadcast strides, 256-entry tables for element-wise operators, and the
static activation-memory plan. The templates only print it. The op planners live in
``ops_spatial`` and ``ops_elementwise``; ``SUPPORTED_OPS`` maps each TFLite builtin to one.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from semanticnn.errors import ExportError
from semanticnn.export.layer import MAX_DIMS, Layer, shape4
from semanticnn.export.ops_elementwise import (
    TABLE_OPS,
    plan_add,
    plan_concat,
    plan_mul,
    plan_prelu,
    plan_reshape,
    plan_table,
)
from semanticnn.export.ops_spatial import (
    plan_avg_pool,
    plan_conv2d,
    plan_depthwise_conv2d,
    plan_fully_connected,
    plan_max_pool,
    plan_mean,
    plan_pad,
)
from semanticnn.export.tflite_graph import Graph

__all__ = ["Layer", "KernelPlan", "plan_graph", "SUPPORTED_OPS", "ARENA_ALIGN"]

ARENA_ALIGN = 16
FLOAT_OPS = ("DEQUANTIZE", "CAST")
FLOAT_HINT = " (DEQUANTIZE means float operators in the graph: quantize the whole model to int8)"

SUPPORTED_OPS = {
    "CONV_2D": plan_conv2d,
    "DEPTHWISE_CONV_2D": plan_depthwise_conv2d,
    "FULLY_CONNECTED": plan_fully_connected,
    "MAX_POOL_2D": plan_max_pool,
    "AVERAGE_POOL_2D": plan_avg_pool,
    "MEAN": plan_mean,
    "PAD": plan_pad,
    "PADV2": plan_pad,
    "ADD": plan_add,
    "SUB": plan_add,
    "MUL": plan_mul,
    "PRELU": plan_prelu,
    "CONCATENATION": plan_concat,
    "RESHAPE": plan_reshape,
    "SQUEEZE": plan_reshape,
    "EXPAND_DIMS": plan_reshape,
    **{name: plan_table for name in TABLE_OPS},
}


@dataclass
class KernelPlan:
    """Layers in execution order plus the activation-memory plan.

    ``input_tensor`` and ``output_tensor`` carry the graph's tensors with their shapes
    padded to 4 dimensions (``[1, 1, 1, N]`` for a ``[1, N]`` output); the bytes are the same.
    """

    layers: list
    input_tensor: object
    output_tensor: object
    offsets: dict  # tensor index -> byte offset in the arena
    arena_bytes: int
    const_bytes: int
    graph_tensors: list


def plan_graph(graph: Graph) -> KernelPlan:
    """Plan ``graph``; raises a one-line ExportError naming the first operator or shape it cannot run."""
    unsupported = [f"{op.name} (layer {op.index})" for op in graph.operators if op.name not in SUPPORTED_OPS]
    if unsupported:
        hint = FLOAT_HINT if any(op.name in FLOAT_OPS for op in graph.operators) else ""
        raise ExportError(
            f"unsupported operator{'s' if len(unsupported) > 1 else ''} {', '.join(unsupported)}; "
            f"supported: {', '.join(sorted(SUPPORTED_OPS))}{hint}"
        )
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ExportError("the model must have exactly one input and one output tensor")
    tin, tout = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    for t in (tin, tout):
        if t.dtype is not np.int8 or len(t.shape) > MAX_DIMS:
            raise ExportError(f"tensor {t.name!r} is {np.dtype(t.dtype).name} {list(t.shape)}: "
                              f"the model needs int8 input and output of at most {MAX_DIMS} dimensions")
    layers = [SUPPORTED_OPS[op.name](graph, op) for op in graph.operators]
    offsets, arena = _plan_memory(graph, layers)
    const_bytes = sum(np.asarray(v).nbytes for layer in layers for _, v in layer.arrays.values())
    return KernelPlan(layers, _as_4d(tin), _as_4d(tout), offsets, arena, const_bytes, graph.tensors)


def _as_4d(t):
    return dataclasses.replace(t, shape=tuple(shape4(None, t.shape)))


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
