"""The activation-memory plan: one arena holding the input, every intermediate tensor and scratch.

As TensorFlow Lite Micro's greedy planner does, each buffer lives from the layer that
writes it (the graph input: from the start) to the last layer that reads it (the
graph output: to the end), and buffers are placed largest first at the lowest offset
where they overlap no buffer alive at the same time. Two things go beyond it:

- **in place**: an element-wise layer (table, copy, PReLU, ADD/SUB/MUL without
  broadcasting that operand) writes its output over an input of the same shape that
  dies at that layer, since each output element is written after its input element is read;
- **scratch**: a specialised convolution's im2col columns are a buffer alive only
  during its layer.

So the arena size is the whole activation RAM, input included: the same quantity as
tflite_micro's ``arena_used_bytes()`` minus its bookkeeping.
"""

import numpy as np

from semanticnn.export.conv_codegen import REQUANT_ROW_BYTES, conv2d_scratch_bytes, k_padded
from semanticnn.export.dwconv_codegen import dwconv2d_const_bytes

__all__ = ["ARENA_ALIGN", "IN_PLACE_KINDS", "MemoryPlan", "plan_memory", "const_bytes", "scratch_bytes"]

ARENA_ALIGN = 16
IN_PLACE_KINDS = ("table", "copy", "prelu", "add", "sub", "mul", "add_const", "sub_const", "mul_const")
C_TYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "uint32_t": 4}


class MemoryPlan:
    """``offsets``: tensor -> arena offset; ``scratch``: layer position -> offset; ``in_place``: positions."""

    def __init__(self, offsets, scratch, arena_bytes, in_place):
        self.offsets, self.scratch, self.arena_bytes, self.in_place = offsets, scratch, arena_bytes, in_place


def scratch_bytes(layer) -> int:
    """Scratch RAM the layer's code needs while it runs."""
    return conv2d_scratch_bytes(layer.params) if layer.kind == "conv2d" else 0


def _same_shape(graph, a, b):
    return tuple(graph.tensors[a].shape) == tuple(graph.tensors[b].shape)


def _in_place_input(graph, layers, pos, last_use):
    """The input tensor that layer ``pos`` may overwrite with its output, or None."""
    layer = layers[pos]
    if layer.kind not in IN_PLACE_KINDS:
        return None
    for t in layer.inputs:
        if t != graph.outputs[0] and last_use.get(t) == pos and _same_shape(graph, t, layer.output):
            return t
    return None


def _buffers(graph, layers):
    """``{key: [size, first, last]}`` and the in-place aliases ``{tensor: tensor it overwrites}``."""
    end = len(layers)
    live = {graph.inputs[0]: [graph.tensors[graph.inputs[0]].nbytes, 0, 0]}
    for pos, layer in enumerate(layers):
        for t in layer.inputs:
            live[t][2] = pos
        live[layer.output] = [graph.tensors[layer.output].nbytes, pos, pos]
        if scratch_bytes(layer):
            live[("scratch", pos)] = [scratch_bytes(layer), pos, pos]
    live[graph.outputs[0]][2] = end
    last_use = {t: v[2] for t, v in live.items()}
    alias = {}
    for pos, layer in enumerate(layers):
        src = _in_place_input(graph, layers, pos, last_use)
        if src is not None:
            root = alias.get(src, src)
            alias[layer.output] = root
            live[root][0] = max(live[root][0], live[layer.output][0])
            live[root][2] = max(live[root][2], live.pop(layer.output)[2])
    return live, alias


def plan_memory(graph, layers) -> MemoryPlan:
    """Place every activation buffer of ``graph`` (run as ``layers``) in one arena."""
    live, alias = _buffers(graph, layers)
    placed, offsets = [], {}  # placed: (offset, size, first, last)
    for key in sorted(live, key=lambda k: (-live[k][0], str(k))):
        size, first, last = _align(live[key][0]), live[key][1], live[key][2]
        offset = 0
        for o, s, _, _ in sorted(p for p in placed if not (p[3] < first or last < p[2])):
            if offset + size <= o:
                break
            offset = max(offset, o + s)
        placed.append((offset, size, first, last))
        offsets[key] = offset
    for t, root in alias.items():
        offsets[t] = offsets[root]
    scratch = {key[1]: offsets.pop(key) for key in list(offsets) if isinstance(key, tuple)}
    arena = max((o + s for o, s, _, _ in placed), default=0)
    in_place = {pos for pos, layer in enumerate(layers) if layer.output in alias}
    return MemoryPlan(offsets, scratch, arena, in_place)


def const_bytes(layers, dsp: bool = True) -> int:
    """Flash of the constant arrays as the generated C declares them (for a core with DSP or not)."""
    total = 0
    for layer in layers:
        if layer.kind == "conv2d":
            p = layer.params
            k = p["k_h"] * p["k_w"] * p["in_c"]
            total += p["out_c"] * (k_padded(k) * 2 + REQUANT_ROW_BYTES)
            continue
        if layer.kind == "depthwise_conv2d":
            total += dwconv2d_const_bytes(layer, dsp)
            continue
        total += sum(np.asarray(v).size * C_TYPE_BYTES[ctype] for ctype, v in layer.arrays.values())
    return total


def _align(n):
    return (n + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN
