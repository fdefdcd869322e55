"""Read an int8 TFLite flatbuffer into plain Python data.

Only what the code generator needs: tensors (shape, dtype, quantization, constant
data) and operators (name, input and output tensor ids, builtin options), in
execution order. The flatbuffer schema comes from ``ai_edge_litert``.
"""

import copy
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from semanticnn.errors import ExportError

__all__ = ["Tensor", "Operator", "Graph", "read_graph", "single_op_model"]

OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
DTYPES = {
    schema.TensorType.INT8: np.int8,
    schema.TensorType.INT32: np.int32,
    schema.TensorType.FLOAT32: np.float32,
    schema.TensorType.UINT8: np.uint8,
    schema.TensorType.INT16: np.int16,
    schema.TensorType.INT64: np.int64,
}


@dataclass
class Tensor:
    """One tensor: ``data`` is set for constants (weights, biases), else None."""

    index: int
    name: str
    shape: tuple
    dtype: type
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    data: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Element count."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's data."""
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Operator:
    """One operator in execution order; ``options`` holds its builtin options as a dict."""

    index: int
    name: str
    inputs: list
    outputs: list
    options: dict


@dataclass
class Graph:
    """The single subgraph of a model, plus the raw bytes it was read from."""

    tensors: list
    operators: list
    inputs: list
    outputs: list
    model_bytes: bytes


def read_graph(model_bytes: bytes) -> Graph:
    """Parse ``model_bytes`` (a .tflite flatbuffer) with one subgraph."""
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise ExportError(f"not a TFLite flatbuffer ({exc.__class__.__name__}): re-run the conversion") from None
    if len(model.subgraphs) != 1:
        raise ExportError(f"model has {len(model.subgraphs)} subgraphs: only single-subgraph models are supported")
    sub = model.subgraphs[0]
    tensors = [_tensor(i, t, model.buffers) for i, t in enumerate(sub.tensors)]
    operators = [_operator(i, op, model.operatorCodes) for i, op in enumerate(sub.operators)]
    return Graph(tensors, operators, list(sub.inputs), list(sub.outputs), bytes(model_bytes))


def _tensor(index, t, buffers):
    q = t.quantization
    scale = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32)
    zero_point = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64)
    dtype = DTYPES.get(t.type)
    if dtype is None:
        raise ExportError(f"tensor {t.name.decode()!r} has unsupported type {t.type}")
    raw = buffers[t.buffer].data if t.buffer < len(buffers) else None
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    data = None
    if raw is not None and len(raw):
        data = np.frombuffer(bytes(bytearray(raw)), dtype=dtype).reshape(shape)
    return Tensor(index, t.name.decode(), shape, dtype, scale, zero_point, data)


def _operator(index, op, codes):
    code = codes[op.opcodeIndex]
    name = OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
    options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
    return Operator(index, name, [i for i in op.inputs], list(op.outputs), options)


def single_op_model(model_bytes: bytes, op_index: int, length: int) -> bytes:
    """A model holding only operator ``op_index``, its one input and output reshaped to ``[length]``.

    Used to tabulate element-wise int8 operators over all 256 inputs with the
    reference interpreter itself.
    """
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    sub = model.subgraphs[0]
    op = copy.deepcopy(sub.operators[op_index])
    tin, tout = (copy.deepcopy(sub.tensors[op.inputs[0]]), copy.deepcopy(sub.tensors[op.outputs[0]]))
    for t in (tin, tout):
        t.shape = np.array([length], np.int32)
        t.shapeSignature = None
        t.buffer = 0
    code = copy.deepcopy(model.operatorCodes[op.opcodeIndex])
    op.opcodeIndex, op.inputs, op.outputs = 0, np.array([0], np.int32), np.array([1], np.int32)
    new_sub = schema.SubGraphT()
    new_sub.tensors, new_sub.operators = [tin, tout], [op]
    new_sub.inputs, new_sub.outputs = np.array([0], np.int32), np.array([1], np.int32)
    new_sub.name = b"lut"
    new = schema.ModelT()
    new.version, new.operatorCodes, new.subgraphs = 3, [code], [new_sub]
    new.buffers, new.description = [schema.BufferT()], b"single op"
    builder = flatbuffers.Builder(1024)
    builder.Finish(new.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
