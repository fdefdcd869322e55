"""The unit of a kernel plan: one kernel call (``Layer``), and the helpers every op planner shares."""

from dataclasses import dataclass, field

import numpy as np

from semanticnn.errors import ExportError

__all__ = ["MAX_DIMS", "Layer", "unsupported", "nhwc", "shape4", "broadcast_strides", "is_flat_binary", "constant",
           "per_tensor_int8"]

MAX_DIMS = 4


@dataclass
class Layer:
    """One kernel call.

    ``kind`` names the C function (``snn_<kind>_s8``), ``params`` its scalar fields,
    ``arrays`` its constant arrays as ``name -> (c_type, flat values)``. ``inputs`` are
    the activation tensors it reads, in the C call's order; ``output`` the one it writes.
    """

    index: int
    op: str
    kind: str
    inputs: list
    output: int
    params: dict
    arrays: dict = field(default_factory=dict)


def unsupported(op, problem: str, supported: str) -> ExportError:
    """The one-line error for an operator the engine cannot run: op, layer index, what is supported."""
    return ExportError(f"{op.name} at layer {op.index}: {problem}; supported: {supported}")


def nhwc(op, t):
    """``(H, W, C)`` of a ``[1, H, W, C]`` tensor."""
    if len(t.shape) != 4 or t.shape[0] != 1:
        raise unsupported(op, f"tensor {t.name!r} has shape {list(t.shape)}", "[1, H, W, C] tensors")
    return tuple(int(d) for d in t.shape[1:])


def shape4(op, shape) -> list:
    """``shape`` padded with leading 1s to 4 dimensions."""
    if len(shape) > MAX_DIMS:
        raise unsupported(op, f"{len(shape)}-dimensional tensor", f"at most {MAX_DIMS} dimensions")
    return [1] * (MAX_DIMS - len(shape)) + [int(d) for d in shape]


def broadcast_strides(op, in_shape, out_shape) -> list:
    """Element strides of a row-major input read at every index of ``out_shape`` (0 where it broadcasts)."""
    src, dst = shape4(op, in_shape), shape4(op, out_shape)
    strides, step = [0] * MAX_DIMS, 1
    for d in reversed(range(MAX_DIMS)):
        if src[d] not in (1, dst[d]):
            raise unsupported(op, f"shapes {list(in_shape)} and {list(out_shape)} do not broadcast",
                              "numpy-style broadcasting")
        strides[d] = step if src[d] == dst[d] and dst[d] != 1 else 0
        step *= src[d]
    return strides


def is_flat_binary(layer, kind) -> bool:
    """A ``kind`` layer of two run-time tensors that each read element ``i`` for output element ``i``."""
    if layer.kind != kind:
        return False
    out_shape = [int(v) for v in layer.arrays["out_shape"][1]]
    flat = broadcast_strides(None, out_shape, out_shape)
    return all([int(v) for v in layer.arrays[name][1]] == flat for name in ("in1_strides", "in2_strides"))


def constant(graph, op, position: int, what: str) -> np.ndarray:
    """The data of the operator's constant input ``position``."""
    t = graph.tensors[op.inputs[position]]
    if t.data is None:
        raise unsupported(op, f"{what} is computed at run time", f"a constant {what}")
    return t.data


def per_tensor_int8(op, t):
    """``(scale, zero_point)`` of an int8 activation tensor with one scale."""
    if t.dtype is not np.int8 or len(t.scale) != 1:
        kind = np.dtype(t.dtype).name if t.dtype is not np.int8 else "per-channel int8"
        raise unsupported(op, f"tensor {t.name!r} is {kind}", "int8 activations with one scale")
    return float(t.scale[0]), int(t.zero_point[0])
