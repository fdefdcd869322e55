"""Turn an int8 TFLite graph into a kernel plan: the data the C templates loop over.

Every decision is made here: per-layer shapes, offsets, Q31 multipliers and shifts,
clamp ranges, broadcast strides, 256-entry tables for element-wise operators, and the
static activation-memory plan (``memory_plan``). The templates only print it. The op planners live in
``ops_spatial`` and ``ops_elementwise``; ``SUPPORTED_OPS`` maps each TFLite builtin to one.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from semanticnn.errors import ExportError
from semanticnn.export.layer import MAX_DIMS, Layer, shape4
from semanticnn.export.memory_plan import ARENA_ALIGN, const_bytes, plan_memory
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
    fold_conv_pads,
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
    offsets: dict  # tensor index (the input too) -> byte offset in the arena
    arena_bytes: int  # the whole activation RAM: input, intermediates, scratch (memory_plan)
    const_bytes: int
    graph_tensors: list
    scratch: dict = dataclasses.field(default_factory=dict)  # layer position -> scratch offset in the arena
    in_place: set = dataclasses.field(default_factory=set)  # layer positions that overwrite their input


def plan_graph(graph: Graph, dsp: bool = True, fold_pads: bool = False) -> KernelPlan:
    """Plan ``graph`` for a core with SMLAD (``dsp``) or without: the constants of their code differ.

    ``fold_pads``: leave each PAD that the VALID conv reading it can do itself to that conv
    (``ops_spatial.fold_conv_pads``), for our generated C; the TFLM and CMSIS-NN runtimes run
    every operator of the graph, one layer each.

    Raises a one-line ExportError naming the first operator or shape it cannot run.
    """
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
    if fold_pads:
        layers = fold_conv_pads(graph, layers)
    memory = plan_memory(graph, layers)
    return KernelPlan(layers, _as_4d(tin), _as_4d(tout), memory.offsets, memory.arena_bytes, const_bytes(layers, dsp),
                      graph.tensors, memory.scratch, memory.in_place)


def _as_4d(t):
    return dataclasses.replace(t, shape=tuple(shape4(None, t.shape)))
