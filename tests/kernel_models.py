"""The int8 models the kernel tests run: every supported operator, few models.

``spatial_model``: convolutions (1x1, dilated, even kernel SAME, rectangular), depthwise
convolutions (multipliers 1, 2, 3, strides, dilation), PAD, AVERAGE_POOL_2D, MAX_POOL_2D,
MEAN and two FULLY_CONNECTED layers (per-channel and per-tensor), down to a [1, 10] output.
``elementwise_model``: HARD_SWISH, LEAKY_RELU, ADD/SUB/MUL with broadcasting and constant
operands, PRELU, CONCATENATION, RESHAPE, PADV2, ending in a 3-d output.
"""

import numpy as np

from tflite_builder import ModelBuilder

RELU, RELU_N1_TO_1, RELU6 = 1, 2, 3


def extreme_inputs(shape, n, seed):
    """``n`` int8 inputs: all -128, all 127, alternating extremes, then seeded uniform ones."""
    rng = np.random.default_rng(seed)
    fixed = [np.full(shape, -128), np.full(shape, 127), np.where(np.indices(shape).sum(0) % 2, 127, -128)]
    xs = fixed + [rng.integers(-128, 128, shape) for _ in range(n - len(fixed))]
    return np.stack(xs).astype(np.int8)


SPATIAL_GAINS = (1.94, 0.054, 0.248, 0.523, 0.059, 1.364, 1.399, 0.295, 1.208)  # per conv, then FC: measured


def spatial_model(gains=SPATIAL_GAINS) -> bytes:
    """Convolutions, depthwise, pad, pooling, mean, fully connected."""
    m = ModelBuilder(seed=1)
    s = 0.03
    x0 = m.act((1, 22, 21, 5), s, 3)
    y, s = m.conv(x0, s, 8, 1, same=False, gain=gains[0])                                  # 22x21x8
    y, s = m.conv(y, s, 10, 3, dilation=2, same=False, act=RELU6, gain=gains[1])           # 18x17x10
    y, s = m.conv(y, s, 6, (2, 3), stride=2, act=RELU, gain=gains[2])                      # 9x9x6, even SAME
    y, s = m.conv(y, s, 0, 3, depthwise=True, multiplier=2, dilation=2, act=RELU, gain=gains[3])  # 9x9x12
    zp = int(m.tensors[y].quantization.zeroPoint[0])
    p = m.act((1, 12, 12, 12), s, zp)
    m.op("PAD", [y, m.const_int32([[0, 0], [1, 2], [2, 1], [0, 0]])], [p])
    y, s = m.conv(p, s, 0, 3, stride=2, same=False, depthwise=True, act=RELU6, gain=gains[4])  # 5x5x12
    y, s = m.conv(y, s, 0, 5, stride=2, depthwise=True, multiplier=3, gain=gains[5])           # 3x3x36
    up, s = m.conv(y, s, 16, 1, gain=gains[6])                                                  # 3x3x16
    zp = int(m.tensors[up].quantization.zeroPoint[0])
    a = m.act((1, 3, 3, 16), s, zp)
    m.op("AVERAGE_POOL_2D", [up], [a], padding=0, strideH=1, strideW=1, filterHeight=3, filterWidth=2,
         fusedActivationFunction=RELU)
    mp = m.act((1, 2, 2, 16), s, zp)
    m.op("MAX_POOL_2D", [up], [mp], padding=0, strideH=2, strideW=2, filterHeight=2, filterWidth=2,
         fusedActivationFunction=0)
    return _spatial_tail(m, a, mp, s, zp, gains[7:])


def _spatial_tail(m, a, mp, s, zp, gains):
    """MEAN of the average pool, broadcast ADD with the max pool, two FULLY_CONNECTED layers."""
    mean = m.act((1, 1, 1, 16), s * 0.7, zp - 5)
    m.op("MEAN", [a, m.const_int32([1, 2])], [mean], keepDims=True)
    both = m.act((1, 2, 2, 16), s * 1.3, 2)
    m.op("ADD", [mean, mp], [both], fusedActivationFunction=0)
    w1_scale = m.rng.uniform(0.005, 0.02, 12)
    w1 = m.const_int8((12, 64), w1_scale)
    b1 = m.const_int32(m.rng.integers(-2000, 2000, 12), scale=s * 1.3 * w1_scale)
    h_scale = float(s * 1.3 * w1_scale.mean() * 8 * 75 * 73 / 60 * gains[0])
    h = m.act((1, 12), h_scale, -7)
    m.op("FULLY_CONNECTED", [both, w1, b1], [h], fusedActivationFunction=RELU)
    w2 = m.const_int8((10, 12), 0.01)
    out = m.act((1, 10), h_scale * 0.01 * 3.5 * 75 * 73 / 60 * gains[1], 4)
    m.op("FULLY_CONNECTED", [h, w2, -1], [out], fusedActivationFunction=0)
    return m.build([0], [out])  # tensor 0: the model input


def elementwise_model() -> bytes:
    """Element-wise, broadcasting and data-movement operators."""
    m = ModelBuilder(seed=2)
    x = m.act((1, 6, 5, 8), 0.05, -5)
    hs = m.act((1, 6, 5, 8), 0.04, -20)
    m.op("HARD_SWISH", [x], [hs])
    lr = m.act((1, 6, 5, 8), 0.045, 10)
    m.op("LEAKY_RELU", [x], [lr], alpha=0.2)
    pooled = m.act((1, 1, 1, 8), 0.02, 0)
    m.op("MEAN", [x, m.const_int32([1, 2])], [pooled], keepDims=True)
    b = m.act((1, 6, 5, 8), 0.06, -3)
    m.op("ADD", [x, m.const_int8((1, 1, 1, 8), 0.03, 4)], [b], fusedActivationFunction=RELU)
    c = m.act((1, 6, 5, 8), 0.08, 6)
    m.op("MUL", [hs, b], [c], fusedActivationFunction=0)
    c2 = m.act((1, 6, 5, 8), 0.08, 2)
    m.op("ADD", [c, pooled], [c2], fusedActivationFunction=0)
    d = m.act((1, 6, 5, 8), 0.09, -1)
    m.op("SUB", [m.const_int8((1, 6, 1, 1), 0.07, -2), c2], [d], fusedActivationFunction=RELU6)
    e = m.act((1, 6, 5, 8), 0.05, 0)
    m.op("PRELU", [d, m.const_int8((1, 1, 8), 0.01, 3)], [e])
    f = m.act((1, 6, 5, 8), 0.045, 10)  # quantized as lr, for the concatenation
    m.op("ADD", [e, lr], [f], fusedActivationFunction=0)
    g = m.act((1, 6, 5, 16), 0.045, 10)
    m.op("CONCATENATION", [f, lr], [g], axis=-1, fusedActivationFunction=0)
    r = m.act((1, 30, 16), 0.045, 10)
    m.op("RESHAPE", [g, m.const_int32([1, 30, 16])], [r], newShape=np.array([1, 30, 16], np.int32))
    q = m.act((1, 30, 16), 0.05, -8)
    m.op("MUL", [r, m.const_int8((16,), 0.02, -1)], [q], fusedActivationFunction=RELU_N1_TO_1)
    out = m.act((1, 32, 18), 0.05, -8)
    pad_value = m.tensor((), 0.05, -8, np.array(-9), np.int8)
    m.op("PADV2", [q, m.const_int32([[0, 0], [1, 1], [0, 2]]), pad_value], [out])
    return m.build([x], [out])
