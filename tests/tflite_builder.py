"""Small int8 TFLite models written directly as flatbuffers, for the kernel tests.

``ModelBuilder`` adds tensors and operators one at a time with the quantization the
test chooses, so every op, option and broadcast shape can be hit exactly; the same
bytes then run in tflite_micro (the reference) and in the generated C.
"""

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

OPTIONS = {  # builtin operator -> its options table
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "MAX_POOL_2D": "Pool2DOptions", "AVERAGE_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions", "PAD": "PadOptions",
    "PADV2": "PadV2Options", "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
    "CONCATENATION": "ConcatenationOptions", "RESHAPE": "ReshapeOptions", "HARD_SWISH": "HardSwishOptions",
    "LEAKY_RELU": "LeakyReluOptions",
}
TYPES = {np.int8: schema.TensorType.INT8, np.int32: schema.TensorType.INT32, np.float32: schema.TensorType.FLOAT32}


class ModelBuilder:
    """Tensors and operators of one subgraph; ``build(inputs, outputs)`` gives the .tflite bytes."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors, self.buffers, self.ops, self.codes = [], [schema.BufferT()], [], {}

    def tensor(self, shape, scale=None, zero_point=0, data=None, dtype=np.int8, axis=0):
        """Add a tensor (constant if ``data``); ``scale`` a float or one per channel along ``axis``."""
        t = schema.TensorT()
        t.shape, t.type, t.name = np.array(shape, np.int32), TYPES[dtype], f"t{len(self.tensors)}".encode()
        t.buffer = 0
        if data is not None:
            buf = schema.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data, dtype).tobytes(), np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = schema.QuantizationParametersT()
            scales = np.atleast_1d(np.asarray(scale, np.float32))
            q.scale = scales
            q.zeroPoint = np.broadcast_to(np.asarray(zero_point, np.int64), scales.shape).copy()
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def act(self, shape, scale, zero_point):
        """An int8 activation tensor."""
        return self.tensor(shape, scale, zero_point)

    def const_int8(self, shape, scale, zero_point=0, axis=0, low=-127, high=128):
        """A random constant int8 tensor (weights, a constant operand)."""
        return self.tensor(shape, scale, zero_point, self.rng.integers(low, high, shape), np.int8, axis)

    def const_int32(self, values, scale=None):
        """A constant int32 tensor (bias, axis, paddings, shape)."""
        values = np.asarray(values, np.int32)
        return self.tensor(values.shape, scale, 0, values, np.int32)

    def op(self, name, inputs, outputs, **options):
        """Add operator ``name``; ``options`` are fields of its builtin options table."""
        code = getattr(schema.BuiltinOperator, name)
        if code not in self.codes:
            self.codes[code] = len(self.codes)
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[code], np.array(inputs, np.int32), np.array(outputs, np.int32)
        if name in OPTIONS:
            opts = getattr(schema, OPTIONS[name] + "T")()
            for key, value in options.items():
                setattr(opts, key, value)
            o.builtinOptionsType = getattr(schema.BuiltinOptions, OPTIONS[name])
            o.builtinOptions = opts
        self.ops.append(o)
        return outputs[0]

    def build(self, inputs, outputs) -> bytes:
        """The model as .tflite bytes."""
        sub = schema.SubGraphT()
        sub.tensors, sub.operators, sub.name = self.tensors, self.ops, b"main"
        sub.inputs, sub.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
        model = schema.ModelT()
        model.version, model.subgraphs, model.buffers, model.description = 3, [sub], self.buffers, b"test"
        model.operatorCodes = []
        for code in sorted(self.codes, key=self.codes.get):
            c = schema.OperatorCodeT()
            c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), 1
            model.operatorCodes.append(c)
        builder = flatbuffers.Builder(4096)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    # Layers with their quantization chosen so outputs use the int8 range.

    def conv(self, x, in_scale, out_c, k, stride=1, dilation=1, same=True, act=0, depthwise=False, multiplier=1,
             gain=1.0):
        """CONV_2D or DEPTHWISE_CONV_2D on ``x`` with per-channel weights; returns ``(tensor, scale)``.

        ``gain`` scales the output scale (measured per layer so the outputs spread over int8).
        """
        _, h, w, c = self.tensors[x].shape
        kh, kw = (k, k) if isinstance(k, int) else k
        oc = c * multiplier if depthwise else out_c
        w_scale = self.rng.uniform(0.004, 0.02, oc)
        wshape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, c)
        weights = self.const_int8(wshape, w_scale, 0, axis=3 if depthwise else 0)
        bias = self.const_int32(self.rng.integers(-3000, 3000, oc), scale=in_scale * w_scale)
        taps = kh * kw * (1 if depthwise else c)
        out_scale = float(in_scale * w_scale.mean() * np.sqrt(taps) * 75 * 73 / 60 * gain)
        eff_h, eff_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
        oh = -(-h // stride) if same else (h - eff_h + stride) // stride
        ow = -(-w // stride) if same else (w - eff_w + stride) // stride
        y = self.act((1, oh, ow, oc), out_scale, int(self.rng.integers(-20, 20)))
        opts = dict(padding=0 if same else 1, strideH=stride, strideW=stride, dilationHFactor=dilation,
                    dilationWFactor=dilation, fusedActivationFunction=act)
        if depthwise:
            opts["depthMultiplier"] = multiplier
        self.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, weights, bias], [y], **opts)
        return y, out_scale
