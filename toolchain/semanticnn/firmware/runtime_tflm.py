"""The ``tflm`` runtime: the TFLite Micro interpreter over the project's ``tflm/model_data.cc``.

The project compiles the interpreter and exactly the kernels of the operators the
model uses (``OPS``) from a TFLite Micro checkout, with its header-only
dependencies (flatbuffers, gemmlowp, ruy) where TFLite Micro's own ``make third_party_downloads`` puts them
(``DOWNLOADS``). The ``MicroMutableOpResolver`` holds those operators and nothing
else; the tensor arena is the size the export measured (``tflm_arena_bytes``,
found with the same interpreter on the 64-bit host, an upper bound of what the
32-bit target uses); the firmware reports ``arena_used_bytes()`` measured on the
target in INFO's activation field. Each operator's kernel is wrapped to time it, so the
per-layer table (LAYERS) works as for codegen.

With ``cmsis_nn`` given, the conv and mul kernels are TFLite Micro's CMSIS-NN
variants (``tensorflow/lite/micro/kernels/cmsis_nn/``) over that CMSIS-NN tree.
"""

from semanticnn.errors import ExportError
from semanticnn.firmware.render import render_template

__all__ = ["TREE_MARKERS", "DOWNLOADS", "CORE_SOURCES", "OPS", "kernel_sources", "tflm_context", "render"]

DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
TREE_MARKERS = (
    "tensorflow/lite/micro/micro_interpreter.h",
    f"{DOWNLOADS}/flatbuffers/include/flatbuffers/flatbuffers.h",
    f"{DOWNLOADS}/gemmlowp/fixedpoint/fixedpoint.h",
    f"{DOWNLOADS}/ruy/ruy/profiler/instrumentation.h",
)
_MICRO = "tensorflow/lite/micro"
# CMSIS-NN sources under Source/ for TFLite Micro's CMSIS-NN kernels, which also reference
# the int16 and int4 variants (unused ones are dropped by --gc-sections).
CMSIS_NN_SOURCE_GLOBS = tuple(
    f"{folder}/*_{kind}*.c"
    for folder in ("ActivationFunctions", "BasicMathFunctions", "ConcatenationFunctions", "ConvolutionFunctions",
                   "FullyConnectedFunctions", "NNSupportFunctions", "PadFunctions", "PoolingFunctions",
                   "ReshapeFunctions", "SoftmaxFunctions", "TransposeFunctions")
    for kind in ("s4", "s8", "s16")
) + ("NNSupportFunctions/arm_q7_to_q15_with_offset.c", "NNSupportFunctions/arm_nntables.c")
# The interpreter, allocator, memory planner and flatbuffer parsing; relative to the tree.
CORE_SOURCES = (
    *(f"{_MICRO}/{name}.cc" for name in (
        "debug_log", "flatbuffer_utils", "memory_helpers", "micro_allocation_info", "micro_allocator",
        "micro_context", "micro_interpreter", "micro_interpreter_context", "micro_interpreter_graph",
        "micro_log", "micro_op_resolver", "micro_profiler", "micro_resource_variable", "micro_time",
        "micro_utils",
        "arena_allocator/non_persistent_arena_buffer_allocator",
        "arena_allocator/persistent_arena_buffer_allocator",
        "arena_allocator/single_arena_buffer_allocator",
        "memory_planner/greedy_memory_planner", "memory_planner/linear_memory_planner",
        "memory_planner/non_persistent_buffer_planner_shim",
        "tflite_bridge/flatbuffer_conversions_bridge", "tflite_bridge/micro_error_reporter",
        "kernels/kernel_util", "kernels/micro_tensor_utils",
    )),
    "tensorflow/lite/core/c/common.cc",
    "tensorflow/lite/core/api/flatbuffer_conversions.cc",
    "tensorflow/lite/core/api/tensor_utils.cc",
    "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc",
    "tensorflow/lite/kernels/internal/runtime_shape.cc",
    "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/kernels/kernel_util.cc",
    "tensorflow/compiler/mlir/lite/schema/schema_utils.cc",
)

# TFLite operator -> (MicroMutableOpResolver method, kernel files under micro/kernels/, CMSIS-NN variant or None).
OPS = {
    "CONV_2D": ("AddConv2D", ("conv", "conv_common"), "cmsis_nn/conv"),
    "DEPTHWISE_CONV_2D": ("AddDepthwiseConv2D", ("depthwise_conv", "depthwise_conv_common"),
                          "cmsis_nn/depthwise_conv"),
    "FULLY_CONNECTED": ("AddFullyConnected", ("fully_connected", "fully_connected_common"),
                        "cmsis_nn/fully_connected"),
    "MUL": ("AddMul", ("mul", "mul_common"), "cmsis_nn/mul"),
    "ADD": ("AddAdd", ("add", "add_common"), "cmsis_nn/add"),
    "MAX_POOL_2D": ("AddMaxPool2D", ("pooling", "pooling_common"), "cmsis_nn/pooling"),
    "AVERAGE_POOL_2D": ("AddAveragePool2D", ("pooling", "pooling_common"), "cmsis_nn/pooling"),
    "RSQRT": ("AddRsqrt", ("elementwise",), None),
    "QUANTIZE": ("AddQuantize", ("quantize", "quantize_common"), None),
    "LOGISTIC": ("AddLogistic", ("logistic", "logistic_common"), None),
    "TANH": ("AddTanh", ("tanh",), None),
    "RESHAPE": ("AddReshape", ("reshape", "reshape_common"), None),
    "SOFTMAX": ("AddSoftmax", ("softmax", "softmax_common"), "cmsis_nn/softmax"),
    "SUB": ("AddSub", ("sub", "sub_common"), None),
    "PAD": ("AddPad", ("pad", "pad_common"), "cmsis_nn/pad"),
    "PADV2": ("AddPadV2", ("pad", "pad_common"), "cmsis_nn/pad"),
    "MEAN": ("AddMean", ("reduce", "reduce_common"), None),
    "CONCATENATION": ("AddConcatenation", ("concatenation",), None),
    "PRELU": ("AddPrelu", ("prelu", "prelu_common"), None),
    "HARD_SWISH": ("AddHardSwish", ("hard_swish", "hard_swish_common"), None),
    "LEAKY_RELU": ("AddLeakyRelu", ("leaky_relu", "leaky_relu_common"), None),
}


def _ops_used(layers):
    """The model's operators, each once, in first-use order; ExportError for one TFLM is not built with."""
    used = list(dict.fromkeys(layers))
    unknown = [op for op in used if op not in OPS]
    if unknown:
        raise ExportError(
            f"--runtime tflm has no kernel list for {', '.join(unknown)}: add it to OPS in "
            f"semanticnn.firmware.runtime_tflm, or use --runtime codegen"
        )
    return used


def kernel_sources(ops, cmsis_nn=False) -> list:
    """Kernel files of ``ops`` relative to the tree: the reference ones, or the CMSIS-NN variants."""
    sources = []
    for op in ops:
        _, reference, variant = OPS[op]
        if cmsis_nn and variant is not None:
            names = [variant, *(name for name in reference if name.endswith("_common"))]
        else:
            names = list(reference)
        sources += [f"{_MICRO}/kernels/{name}.cc" for name in names]
    return list(dict.fromkeys(sources))


def tflm_context(plan, manifest, tree, cmsis_nn=None) -> dict:
    """Context of the tflm templates, from the kernel plan (MACs per operator) and the export manifest."""
    from semanticnn.export.layer_stats import layer_macs

    ops = _ops_used(manifest["layers"])
    return dict(
        source=manifest["source"],
        tree=str(tree),
        downloads=DOWNLOADS,
        cmsis_nn=None if cmsis_nn is None else str(cmsis_nn),
        cmsis_nn_source_globs=CMSIS_NN_SOURCE_GLOBS,
        resolver_ops=[dict(method=OPS[op][0], registration=f"Register_{op}") for op in ops],
        layer_macs=[layer_macs(layer) for layer in plan.layers],
        sources=[*CORE_SOURCES, *kernel_sources(ops, cmsis_nn is not None)],
        arena_bytes=manifest["tflm_arena_bytes"],
        input_shape=manifest["input"]["shape"],
        output_shape=manifest["output"]["shape"],
        input_bytes=_count(manifest["input"]["shape"]),
        output_bytes=_count(manifest["output"]["shape"]),
    )


def _count(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def render(plan, manifest, tree, cmsis_nn=None) -> dict:
    """``model/model.h``, the C++ glue ``model/model.cc`` and ``runtime.mk``."""
    context = tflm_context(plan, manifest, tree, cmsis_nn)
    return {
        "model/model.h": render_template("runtimes/tflm/model.h.j2", context),
        "model/model.cc": render_template("runtimes/tflm/model.cc.j2", context),
        "runtime.mk": render_template("runtimes/tflm/runtime.mk.j2", context),
    }
