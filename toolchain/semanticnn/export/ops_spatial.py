"""Planners of the operators that move over pixels or reduce: convolutions, pooling, MEAN, PAD, FULLY_CONNECTED.

Each ``plan_<op>(graph, op) -> Layer`` reproduces what TFLite Micro's reference kernel
computes in its Prepare step (multipliers, shifts, paddings, clamp ranges), so the C
kernel only applies them.
"""

import numpy as np

from semanticnn.export.layer import Layer, constant, nhwc, per_tensor_int8, shape4, unsupported
from semanticnn.export.quant_math import activation_range, conv_output_size, quantize_multiplier, same_padding

__all__ = ["plan_conv2d", "plan_depthwise_conv2d", "plan_fully_connected", "plan_max_pool", "plan_avg_pool",
           "plan_mean", "plan_pad", "fold_conv_pads"]

SAME = 0  # tflite Padding enum: SAME 0, VALID 1
FUSED = "no activation, RELU, RELU_N1_TO_1 or RELU6"


def _act(op, tout):
    try:
        return activation_range(op.options["fusedActivationFunction"], tout.scale[0], int(tout.zero_point[0]))
    except ValueError:
        raise unsupported(op, f"fused activation {op.options['fusedActivationFunction']}", FUSED) from None


def _window(op, in_hw, out_hw, k_hw, strides, dilations):
    """``(pad_h, pad_w)`` of a SAME or VALID window, checked against the output shape."""
    same = op.options["padding"] == SAME
    sizes = tuple(conv_output_size(i, k, s, d, same) for i, k, s, d in zip(in_hw, k_hw, strides, dilations,
                                                                              strict=True))
    if sizes != tuple(out_hw):
        raise unsupported(op, f"output {list(out_hw)} does not follow from its input and options",
                          "outputs of SAME or VALID padding")
    if not same:
        return 0, 0
    return tuple(same_padding(i, k, s, d, o) for i, k, s, d, o in zip(in_hw, k_hw, strides, dilations, out_hw,
                                                                      strict=True))


def _requant(op, tin, tw, tout, channels):
    """Per-channel Q31 multipliers and shifts of ``in_scale * w_scale / out_scale`` (double, as TFLM)."""
    in_scale, _ = per_tensor_int8(op, tin)
    out_scale, _ = per_tensor_int8(op, tout)
    if tw.dtype is not np.int8 or np.any(tw.zero_point != 0):
        raise unsupported(op, "weights are not symmetric int8", "int8 weights with zero point 0")
    if len(tw.scale) not in (1, channels):
        raise unsupported(op, f"{len(tw.scale)} weight scales for {channels} channels", "per-tensor or per-channel")
    w_scales = np.broadcast_to(tw.scale, (channels,))
    pairs = [quantize_multiplier(in_scale * float(s) / out_scale) for s in w_scales]
    return np.array([m for m, _ in pairs], np.int64), np.array([s for _, s in pairs], np.int64)


def _bias(graph, op, channels):
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return np.zeros(channels, np.int32)
    bias = constant(graph, op, 2, "bias")
    if bias.dtype != np.int32:
        raise unsupported(op, f"{bias.dtype} bias", "int32 bias")
    return bias.reshape(-1)


def _conv_common(graph, op, k_hw, out_c):
    tin, tw, tout = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    (ih, iw, ic), (oh, ow, oc) = nhwc(op, tin), nhwc(op, tout)
    o = op.options
    strides, dilations = (o["strideH"], o["strideW"]), (o["dilationHFactor"], o["dilationWFactor"])
    pad_h, pad_w = _window(op, (ih, iw), (oh, ow), k_hw, strides, dilations)
    mults, shifts = _requant(op, tin, tw, tout, out_c)
    act_min, act_max = _act(op, tout)
    params = dict(
        in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=k_hw[0], k_w=k_hw[1],
        stride_h=strides[0], stride_w=strides[1], dil_h=dilations[0], dil_w=dilations[1], pad_h=pad_h, pad_w=pad_w,
        input_offset=-int(tin.zero_point[0]), output_offset=int(tout.zero_point[0]), act_min=act_min, act_max=act_max,
    )
    arrays = {
        "weights": ("int8_t", constant(graph, op, 1, "filter").reshape(-1)),
        "bias": ("int32_t", _bias(graph, op, out_c)),
        "multiplier": ("int32_t", mults),
        "shift": ("int32_t", shifts),
    }
    return params, arrays


def plan_conv2d(graph, op):
    """CONV_2D: any kernel, stride, dilation, SAME or VALID; per-channel weights."""
    tin, tw = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    oc, kh, kw, fic = (int(d) for d in tw.shape)
    if fic != nhwc(op, tin)[2]:
        raise unsupported(op, f"grouped convolution ({nhwc(op, tin)[2]} input channels, filters of {fic})",
                          "groups = 1 (DEPTHWISE_CONV_2D for depthwise)")
    params, arrays = _conv_common(graph, op, (kh, kw), oc)
    return Layer(op.index, op.name, "conv2d", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def plan_depthwise_conv2d(graph, op):
    """DEPTHWISE_CONV_2D: any depth multiplier; filter ``[1, kh, kw, in_c * multiplier]``."""
    tin, tw, tout = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _, kh, kw, oc = (int(d) for d in tw.shape)
    ic = nhwc(op, tin)[2]
    if oc % ic or nhwc(op, tout)[2] != oc:
        raise unsupported(op, f"{oc} output channels from {ic} input channels", "out_c = in_c * depth multiplier")
    params, arrays = _conv_common(graph, op, (kh, kw), oc)
    params = dict(size=tout.size, **params, depth_multiplier=oc // ic)
    return Layer(op.index, op.name, "depthwise_conv2d", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def plan_fully_connected(graph, op):
    """FULLY_CONNECTED: ``[batches, in_depth] x [out_depth, in_depth]^T``, per-tensor or per-channel weights."""
    tin, tw, tout = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    out_depth, in_depth = (int(d) for d in tw.shape)
    if tin.size % in_depth or tout.size != tin.size // in_depth * out_depth:
        raise unsupported(op, f"input {list(tin.shape)} against weights {list(tw.shape)}", "[batches, in_depth] input")
    mults, shifts = _requant(op, tin, tw, tout, out_depth)
    act_min, act_max = _act(op, tout)
    params = dict(
        size=tout.size, batches=tin.size // in_depth, in_depth=in_depth, out_depth=out_depth,
        input_offset=-int(tin.zero_point[0]), output_offset=int(tout.zero_point[0]), act_min=act_min, act_max=act_max,
    )
    arrays = {
        "weights": ("int8_t", constant(graph, op, 1, "weights").reshape(-1)),
        "bias": ("int32_t", _bias(graph, op, out_depth)),
        "multiplier": ("int32_t", mults),
        "shift": ("int32_t", shifts),
    }
    return Layer(op.index, op.name, "fully_connected", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def _pool_params(graph, op):
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    (ih, iw, c), (oh, ow, _) = nhwc(op, tin), nhwc(op, tout)
    o = op.options
    fh, fw, sh, sw = o["filterHeight"], o["filterWidth"], o["strideH"], o["strideW"]
    pad_h, pad_w = _window(op, (ih, iw), (oh, ow), (fh, fw), (sh, sw), (1, 1))
    if per_tensor_int8(op, tin) != per_tensor_int8(op, tout):
        raise unsupported(op, "input and output quantization differ", "pooling that keeps the quantization")
    act_min, act_max = _act(op, tout)
    return dict(in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw, stride_h=sh, stride_w=sw,
                pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max)


def plan_max_pool(graph, op):
    """MAX_POOL_2D: window clipped to the input, fused activation."""
    return Layer(op.index, op.name, "max_pool", [int(op.inputs[0])], int(op.outputs[0]), _pool_params(graph, op))


def plan_avg_pool(graph, op):
    """AVERAGE_POOL_2D: mean of the window clipped to the input, rounded half away from zero."""
    params = dict(size=graph.tensors[op.outputs[0]].size, **_pool_params(graph, op))
    return Layer(op.index, op.name, "avg_pool", [int(op.inputs[0])], int(op.outputs[0]), params)


def plan_mean(graph, op):
    """MEAN over H and W of an NHWC tensor (global average pooling), as TFLM's integer QuantizedMeanOrSum."""
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    axes = sorted({int(a) % max(len(tin.shape), 1) for a in constant(graph, op, 1, "axis").reshape(-1)})
    if len(tin.shape) != 4 or axes != [1, 2]:
        raise unsupported(op, f"axes {axes} of a {len(tin.shape)}-d tensor", "MEAN over axes 1 and 2 of [1, H, W, C]")
    c = nhwc(op, tin)[2]
    pixels = tin.size // c
    in_scale, in_zp = per_tensor_int8(op, tin)
    out_scale, out_zp = per_tensor_int8(op, tout)
    mult, shift = quantize_multiplier(in_scale / out_scale)
    # QuantizedMeanOrSum folds 1/pixels into the multiplier: m' = (m << k) / pixels, shift' = shift - k.
    k = min(pixels.bit_length() - 1, 32, 31 + shift)
    mult, shift = (mult << k) // pixels, shift - k
    params = dict(size=tout.size, pixels=pixels, channels=c, sum_offset=-in_zp * pixels,
                  multiplier=mult, shift=shift, output_offset=out_zp)
    return Layer(op.index, op.name, "mean", [int(op.inputs[0])], int(op.outputs[0]), params)


def plan_pad(graph, op):
    """PAD and PADV2: constant padding (the output zero point, or PADV2's value) around up to 4 dimensions."""
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    pads = constant(graph, op, 1, "paddings").reshape(-1, 2)
    in4, out4 = shape4(op, tin.shape), shape4(op, tout.shape)
    before = [0] * (4 - len(pads)) + [int(b) for b, _ in pads]
    if any(b < 0 or a < 0 for b, a in pads) or [n + int(b) + int(a) for n, (b, a) in
                                                  zip(tin.shape, pads, strict=True)] != list(tout.shape):
        raise unsupported(op, f"paddings {pads.tolist()} do not give {list(tout.shape)}", "non-negative paddings")
    _, out_zp = per_tensor_int8(op, tout)
    per_tensor_int8(op, tin)
    value = int(constant(graph, op, 2, "pad value").reshape(-1)[0]) if len(op.inputs) > 2 else out_zp
    params = dict(size=tout.size, pad_value=value)
    arrays = {"out_shape": ("int32_t", np.array(out4)), "in_shape": ("int32_t", np.array(in4)),
              "pad_before": ("int32_t", np.array(before))}
    return Layer(op.index, op.name, "pad", [int(op.inputs[0])], int(op.outputs[0]), params, arrays)


def _foldable_pad(graph, pad, reader, n_readers):
    """True if ``reader`` may pad its own input instead of reading ``pad``'s output.

    The PAD pads H and W alone, by its input's zero point, and its only reader is a VALID
    conv or depthwise conv whose kernel is larger than the top and left padding.
    """
    if reader.kind not in ("conv2d", "depthwise_conv2d") or n_readers != 1 or reader.inputs[0] != pad.output:
        return False
    p, q = pad.arrays, reader.params
    before = [int(v) for v in p["pad_before"][1]]
    after = [int(o) - int(i) - b for o, i, b in zip(p["out_shape"][1], p["in_shape"][1], before, strict=True)]
    tin, tout = graph.tensors[pad.inputs[0]], graph.tensors[pad.output]
    same_quant = float(tin.scale[0]) == float(tout.scale[0]) and int(tin.zero_point[0]) == int(tout.zero_point[0])
    return (before[0] == before[3] == after[0] == after[3] == 0 and same_quant and pad.output != graph.outputs[0]
            and pad.params["pad_value"] == int(tout.zero_point[0]) and q["pad_h"] == q["pad_w"] == 0
            and before[1] < q["k_h"] and before[2] < q["k_w"])


def fold_conv_pads(graph, layers):
    """``layers`` without the PADs that the conv reading them can do itself.

    A conv's taps outside its input read the input's zero point (they add nothing), which
    is what a PAD by that zero point writes there. So a VALID window over the padded tensor
    equals the same window over the unpadded one with the PAD's top and left padding as
    ``pad_h``, ``pad_w``: rows and columns past the bottom and right edges are padding too.
    The PAD's copy and its buffer go (a 3x3 stride-2 conv of PyTorch's ``padding=1`` on an
    even input converts to PAD + VALID conv).
    """
    readers = {}
    for layer in layers:
        for t in layer.inputs:
            readers.setdefault(t, []).append(layer)
    kept = []
    for layer in layers:
        users = readers.get(layer.output, [])
        if layer.kind == "pad" and users and _foldable_pad(graph, layer, users[0], len(users)):
            conv = users[0]
            before = [int(v) for v in layer.arrays["pad_before"][1]]
            in_shape = [int(v) for v in layer.arrays["in_shape"][1]]
            conv.inputs[0] = layer.inputs[0]
            conv.params.update(in_h=in_shape[1], in_w=in_shape[2], pad_h=before[1], pad_w=before[2])
            continue
        kept.append(layer)
    return kept
