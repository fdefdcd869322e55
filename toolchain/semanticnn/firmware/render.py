"""Render a firmware project: ``render_*(...) -> {relative path: text}``, then ``write_tree``.

Rendering is pure (nanopb style): it reads templates and returns text; only
``write_tree`` touches the disk, and it replaces the destination atomically.
"""

from importlib import resources
from pathlib import Path

import jinja2
import numpy as np

from semanticnn import __version__
from semanticnn.atomic_file import write_tree_atomic
from semanticnn.output_paths import check_project_dir

__all__ = ["TEMPLATES_DIR", "model_context", "render_model", "render_template", "write_tree"]

# Shipped inside the package (pyproject package-data), so a wheel renders as a checkout does.
TEMPLATES_DIR = Path(str(resources.files("semanticnn.firmware") / "templates"))
VALUES_PER_LINE = 16


def _environment():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, context: dict) -> str:
    """Render ``templates/<name>`` with ``context``."""
    return _environment().get_template(name).render(tool_version=__version__, **context)


def c_array_lines(values, per_line=VALUES_PER_LINE):
    """Comma-terminated lines of integers, ``per_line`` a line."""
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    return [", ".join(str(v) for v in flat[i : i + per_line]) + "," for i in range(0, len(flat), per_line)]


def _tensor_expr(plan, index, input_in_arena):
    if index == plan.input_tensor.index and not input_in_arena:
        return "snn_input"
    return f"snn_arena + {plan.offsets[index]}"


def _summary(layer):
    p = layer.params
    if layer.kind == "conv2d":
        return (f"{p['in_h']}x{p['in_w']}x{p['in_c']} -> {p['out_h']}x{p['out_w']}x{p['out_c']}, "
                f"kernel {p['k_h']}x{p['k_w']}, stride {p['stride_h']}")
    if layer.kind == "max_pool":
        return f"{p['in_h']}x{p['in_w']}x{p['channels']} -> {p['out_h']}x{p['out_w']}, window {p['f_h']}x{p['f_w']}"
    return f"{p['size']} elements"


def _arena_asserts(plan, tensors):
    return [
        f"{plan.offsets[t]} + {plan.graph_tensors[t].nbytes} <= SNN_ACTIVATION_BYTES"
        for t in tensors if t in plan.offsets
    ]


def _specialised_layer(plan, pos, layer, dsp, input_in_arena):
    """A layer emitted as its own C function (conv_codegen), its scratch in the arena."""
    from semanticnn.export.conv_codegen import conv2d_code

    cname = f"layer{layer.index}"
    code = conv2d_code(layer, cname, _summary(layer), dsp)
    tensors = [*layer.inputs, layer.output]
    return dict(
        index=layer.index, op=layer.op, kind=layer.kind, code=code["code"], call=code["call"], cname=cname,
        elided=False,
        static_asserts=_arena_asserts(plan, tensors) + [f"{plan.scratch[pos]} + {code['scratch_bytes']} "
                                                        "<= SNN_ACTIVATION_BYTES"],
        args=[_tensor_expr(plan, t, input_in_arena) for t in tensors]
        + [f"(int16_t *)(void *)(snn_arena + {plan.scratch[pos]})"],
    )


def _flat_layer(plan, layer, input_in_arena, emit):
    """A same-shape MUL, ADD or SUB emitted as its own flat loop by ``emit`` (mul_codegen, add_codegen)."""
    cname = f"layer{layer.index}"
    code = emit(layer, cname, _summary(layer))
    tensors = [*layer.inputs, layer.output]
    return dict(
        index=layer.index, op=layer.op, kind=layer.kind, code=code["code"], call=code["call"], cname=cname,
        elided=False, static_asserts=_arena_asserts(plan, tensors),
        args=[_tensor_expr(plan, t, input_in_arena) for t in tensors],
    )


def _layer_context(plan, pos, layer, dsp, input_in_arena):
    from semanticnn.export.add_codegen import add_code, is_flat_add
    from semanticnn.export.dwconv_codegen import dwconv2d_layer
    from semanticnn.export.mul_codegen import is_flat_mul, mul_code

    if layer.kind == "conv2d":
        return _specialised_layer(plan, pos, layer, dsp, input_in_arena)
    if layer.kind == "depthwise_conv2d":
        return dwconv2d_layer(plan, layer, dsp, input_in_arena)
    if is_flat_mul(layer):
        return _flat_layer(plan, layer, input_in_arena, mul_code)
    if is_flat_add(layer):
        return _flat_layer(plan, layer, input_in_arena, add_code)
    return _generic_layer(plan, pos, layer, input_in_arena)


def _generic_layer(plan, pos, layer, input_in_arena):
    """A layer run by its kernel in src/kernels.c with a params struct; an in-place copy runs nothing."""
    cname = f"layer{layer.index}"
    arrays = [
        dict(cname=f"{cname}_{name}", ctype=ctype, length=len(np.asarray(values).reshape(-1)),
             lines=c_array_lines(values))
        for name, (ctype, values) in layer.arrays.items()
    ]
    fields = [(k, int(v)) for k, v in layer.params.items()] + [(name, f"{cname}_{name}") for name in layer.arrays]
    tensors = [*layer.inputs, layer.output]
    elided = layer.kind == "copy" and pos in plan.in_place
    return dict(
        index=layer.index, op=layer.op, kind=layer.kind, cname=cname, summary=_summary(layer),
        arrays=[] if elided else arrays, fields=fields, static_asserts=_arena_asserts(plan, tensors), code=None,
        elided=elided, call=f"snn_{layer.kind}_s8",
        args=[f"&{cname}"] + [_tensor_expr(plan, t, input_in_arena) for t in tensors],
    )


def model_context(plan, source: str, dsp: bool = False, input_in_arena: bool = False) -> dict:
    """Everything model.c.j2 and model.h.j2 print, decided here.

    ``dsp``: the core has SMLAD; ``input_in_arena``: the input is the arena buffer the
    memory plan gave it (snn-export's own runtime), else a separate ``snn_input`` array.
    """
    from semanticnn.export.layer_stats import layer_macs

    layers = [_layer_context(plan, pos, layer, dsp, input_in_arena) for pos, layer in enumerate(plan.layers)]
    return dict(
        source=source,
        layers=layers,
        input_shape=list(plan.input_tensor.shape),
        output_shape=list(plan.output_tensor.shape),
        input_bytes=plan.input_tensor.nbytes,
        output_bytes=plan.output_tensor.nbytes,
        input_offset=plan.offsets[plan.input_tensor.index] if input_in_arena else None,
        arena_bytes=plan.arena_bytes,
        const_bytes=plan.const_bytes,
        layer_macs=[layer_macs(layer) for layer in plan.layers],
        output_expr=_tensor_expr(plan, plan.output_tensor.index, input_in_arena),
    )


def render_model(plan, source: str, dsp: bool = False) -> dict:
    """``model/model.c`` and ``model/model.h`` for ``plan``; ``dsp``: emit SMLAD code for the core."""
    context = model_context(plan, source, dsp, input_in_arena=True)
    return {
        "model/model.h": render_template("model.h.j2", context),
        "model/model.c": render_template("model.c.j2", context),
    }


def write_tree(files: dict, dest: Path, marker: str | None = None, force: bool = False) -> None:
    """Write ``files`` ({relative path: str or bytes}) as the directory ``dest``, atomically.

    ``dest`` must be missing, empty, or an earlier output holding the file ``marker``
    (``semanticnn.output_paths.check_project_dir``); ``force`` replaces it anyway.
    A failure leaves ``dest`` as it was.
    """
    check_project_dir(dest, marker, force)
    write_tree_atomic(files, dest)
