"""The ``cmsis-nn`` runtime: our kernel plan and memory plan, layers run by CMSIS-NN.

Each layer kind that CMSIS-NN implements is mapped here to its call
(``conv2d`` -> ``arm_convolve_wrapper_s8``, ``depthwise_conv2d`` ->
``arm_depthwise_conv_wrapper_s8``, ``mul`` without broadcasting -> ``arm_elementwise_mul_s8``,
``max_pool`` -> ``arm_max_pool_s8``); every other kind (the 256-entry tables, for
instance) keeps our portable kernel from ``src/kernels.c``. Both read the same arena
offsets, so the memory plan is ours either way. CMSIS-NN's int8 kernels use
TFLite's double-rounding requantisation, so the result is bit-exact with the
reference kernels.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from semanticnn.firmware.render import c_array_lines, model_context, render_template

__all__ = ["TREE_MARKERS", "SOURCE_GLOBS", "CmsisCall", "CMSIS_CALLS", "scratch_bytes", "cmsis_context", "render"]

TREE_MARKERS = ("Include/arm_nnfunctions.h", "Source/ConvolutionFunctions/arm_convolve_wrapper_s8.c")
# Sources compiled from the tree, relative to its Source/ folder; unused functions are dropped by --gc-sections.
SOURCE_GLOBS = (
    "ConvolutionFunctions/*_s8*.c",
    "BasicMathFunctions/*_s8.c",
    "PoolingFunctions/*_s8.c",
    "NNSupportFunctions/*_s8*.c",
    "NNSupportFunctions/arm_q7_to_q15_with_offset.c",
    "NNSupportFunctions/arm_nntables.c",
)
INT16_BYTES = 2


def _tile(w, h):
    return f"{{.w = {w}, .h = {h}}}"


def _activation(p):
    return f"{{.min = {p['act_min']}, .max = {p['act_max']}}}"


def _dims(cname, name, n, h, w, c):
    return dict(ctype="cmsis_nn_dims", cname=f"{cname}_{name}", fields=list(dict(n=n, h=h, w=w, c=c).items()))


def _struct(ctype, cname, **fields):
    return dict(ctype=ctype, cname=cname, fields=list(fields.items()))


def _quant(cname):
    return _struct("cmsis_nn_per_channel_quant_params", f"{cname}_quant",
                   multiplier=f"(int32_t *){cname}_multiplier", shift=f"(int32_t *){cname}_shift")


def _conv_like(function, params_struct, cname, p, args, filter_dims, out_c):
    """Structs, call and scratch query of ``arm_convolve_wrapper_s8`` / ``arm_depthwise_conv_wrapper_s8``."""
    inp, out = args
    structs = [
        params_struct, _quant(cname),
        _dims(cname, "in_dims", 1, p["in_h"], p["in_w"], p["in_c"]),
        _dims(cname, "filter_dims", *filter_dims),
        _dims(cname, "bias_dims", 1, 1, 1, out_c),
        _dims(cname, "out_dims", 1, p["out_h"], p["out_w"], out_c),
    ]
    dims = f"&{cname}_in_dims, &{cname}_filter_dims, &{cname}_out_dims"
    call = (f"{function}(&ctx, &{cname}_conv, &{cname}_quant, &{cname}_in_dims, {inp}, &{cname}_filter_dims, "
            f"{cname}_weights, &{cname}_bias_dims, {cname}_bias, &{cname}_out_dims, {out})")
    return structs, call, f"{function}_get_buffer_size(&{cname}_conv, {dims})"


def _conv_fields(p):
    return dict(input_offset=p["input_offset"], output_offset=p["output_offset"],
                stride=_tile(p["stride_w"], p["stride_h"]), padding=_tile(p["pad_w"], p["pad_h"]),
                dilation=_tile(p["dil_w"], p["dil_h"]), activation=_activation(p))


def _conv2d(cname, p, args):
    conv = _struct("cmsis_nn_conv_params", f"{cname}_conv", **_conv_fields(p))
    return _conv_like("arm_convolve_wrapper_s8", conv, cname, p, args,
                      (p["out_c"], p["k_h"], p["k_w"], p["in_c"]), p["out_c"])


def _depthwise_conv2d(cname, p, args):
    fields = _conv_fields(p)
    conv = _struct("cmsis_nn_dw_conv_params", f"{cname}_conv", input_offset=fields.pop("input_offset"),
                   output_offset=fields.pop("output_offset"), ch_mult=p["depth_multiplier"], **fields)
    return _conv_like("arm_depthwise_conv_wrapper_s8", conv, cname, p, args,
                      (1, p["k_h"], p["k_w"], p["out_c"]), p["out_c"])


def _mul(cname, p, args):
    in1, in2, out = args
    call = (f"arm_elementwise_mul_s8({in1}, {in2}, {p['input1_offset']}, {p['input2_offset']}, {out}, "
            f"{p['output_offset']}, {p['multiplier']}, {p['shift']}, {p['act_min']}, {p['act_max']}, {p['size']})")
    return [], call, None


def _max_pool(cname, p, args):
    inp, out = args
    structs = [
        _struct("cmsis_nn_pool_params", f"{cname}_pool", stride=_tile(p["stride_w"], p["stride_h"]),
                padding=_tile(p["pad_w"], p["pad_h"]), activation=_activation(p)),
        _dims(cname, "in_dims", 1, p["in_h"], p["in_w"], p["channels"]),
        _dims(cname, "filter_dims", 1, p["f_h"], p["f_w"], 1),
        _dims(cname, "out_dims", 1, p["out_h"], p["out_w"], p["channels"]),
    ]
    call = (f"arm_max_pool_s8(&ctx, &{cname}_pool, &{cname}_in_dims, {inp}, &{cname}_filter_dims, "
            f"&{cname}_out_dims, {out})")
    return structs, call, None


def _same_shapes(layer):
    """No broadcasting: both inputs are walked with the output's own strides (or carry no stride arrays)."""
    if "out_shape" not in layer.arrays:
        return True
    shape = [int(d) for d in np.asarray(layer.arrays["out_shape"][1])]
    contiguous = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    return all(int(stride) == contiguous[d]
               for name in ("in1_strides", "in2_strides")
               for d, stride in enumerate(np.asarray(layer.arrays[name][1])) if shape[d] > 1)


def _conv_scratch(p):
    """im2col buffer of ``arm_convolve_s8`` on a DSP core: two int16 columns of k_h * k_w * in_c, 4-aligned."""
    cols = p["k_h"] * p["k_w"] * p["in_c"]
    return 2 * ((cols + 3) // 4 * 4) * INT16_BYTES


def _depthwise_scratch(p):
    """``arm_depthwise_conv_s8_opt`` on a DSP core: one int16 patch of k_h * k_w * in_c."""
    return p["k_h"] * p["k_w"] * p["in_c"] * INT16_BYTES


@dataclass(frozen=True)
class CmsisCall:
    """How one layer kind runs on CMSIS-NN: ``build(cname, params, args) -> (structs, call, scratch query)``.

    ``arrays`` are the plan arrays the call reads; ``applies(layer)`` says whether this
    layer fits the function; ``scratch(params)`` bounds the scratch it asks for.
    """

    build: Callable
    arrays: tuple = ()
    applies: Callable = staticmethod(lambda layer: True)
    scratch: Callable = staticmethod(lambda params: 0)


_CONV_ARRAYS = ("weights", "bias", "multiplier", "shift")
# Layer kind (Layer.kind) -> its CMSIS-NN call; other kinds, or a layer ``applies`` rejects, keep our kernel.
CMSIS_CALLS = {
    "conv2d": CmsisCall(_conv2d, _CONV_ARRAYS, scratch=_conv_scratch),
    "depthwise_conv2d": CmsisCall(_depthwise_conv2d, _CONV_ARRAYS, scratch=_depthwise_scratch),
    "mul": CmsisCall(_mul, applies=_same_shapes),
    "max_pool": CmsisCall(_max_pool),
}


def _cmsis_call(layer):
    call = CMSIS_CALLS.get(layer.kind)
    return call if call is not None and call.applies(layer) else None


def scratch_bytes(plan) -> int:
    """Scratch buffer the CMSIS-NN layers share: the largest any of them may ask for."""
    return max((_cmsis_call(layer).scratch(layer.params) for layer in plan.layers if _cmsis_call(layer)), default=0)


def _tensor_expr(plan, index):
    return "snn_input" if index == plan.input_tensor.index else f"snn_arena + {plan.offsets[index]}"


def _layer_context(plan, layer):
    """One layer: its constant arrays, arena bounds checks, and either a CMSIS-NN call or our kernel's."""
    cname = f"layer{layer.index}"
    tensors = [*layer.inputs, layer.output]
    args = [_tensor_expr(plan, t) for t in tensors]
    mapped = _cmsis_call(layer)
    names = list(layer.arrays) if mapped is None else list(mapped.arrays)
    context = dict(
        index=layer.index, op=layer.op, kind=layer.kind, cname=cname,
        arrays=[dict(cname=f"{cname}_{name}", ctype=layer.arrays[name][0],
                     length=len(np.asarray(layer.arrays[name][1]).reshape(-1)),
                     lines=c_array_lines(layer.arrays[name][1])) for name in names],
        static_asserts=[f"{plan.offsets[t]} + {plan.graph_tensors[t].nbytes} <= SNN_ACTIVATION_BYTES"
                        for t in tensors if t in plan.offsets],
        cmsis=None, fields=None, args=args,
    )
    context["elided"] = layer.kind == "copy" and args[0] == args[-1]  # a copy the memory plan made in place
    if mapped is None:
        context["fields"] = [(k, int(v)) for k, v in layer.params.items()] + [(n, f"{cname}_{n}") for n in names]
    else:
        structs, call, size = mapped.build(cname, layer.params, args)
        context["cmsis"] = dict(structs=structs, call=call, buffer_size=size)
    return context


def cmsis_context(plan, source: str) -> dict:
    """Context of model.h.j2 (codegen's, so the interface main.c sees is the same) and the cmsis-nn model.c.j2."""
    layers = [_layer_context(plan, layer) for layer in plan.layers]
    context = model_context(plan, source)
    context.update(
        layers=layers,
        output_expr=_tensor_expr(plan, plan.output_tensor.index),
        scratch_bytes=scratch_bytes(plan),
        cmsis_layers=sum(layer["cmsis"] is not None for layer in layers),
    )
    return context


def render(plan, manifest, tree) -> dict:
    """``model/model.c`` calling CMSIS-NN, ``model/model.h`` as codegen's, and ``runtime.mk``."""
    context = cmsis_context(plan, manifest["source"])
    return {
        "model/model.h": render_template("model.h.j2", context),
        "model/model.c": render_template("runtimes/cmsis_nn/model.c.j2", context),
        "runtime.mk": render_template("runtimes/cmsis_nn/runtime.mk.j2",
                                      dict(tree=str(tree), source_globs=SOURCE_GLOBS)),
    }
