"""``snn-export MODEL.tflite``: an int8 TFLite graph from any converter -> checked firmware project.

The graph is already quantised, so there is no calibration: the checks run on seeded
random int8 inputs, the extremes -128 and 127 among them. Without SQ parameters the
firmware sends the raw int8 output tensor (``sq.mapping = "raw"``: 256 levels, 8 bits a
symbol) and ``snn-bench`` checks it against tflite_micro bit for bit.
"""

import json
import zlib
from pathlib import Path

import numpy as np

from semanticnn.channel.packets import DEFAULT_MTU, packet_count
from semanticnn.errors import ConfigError
from semanticnn.export import checks, preflight
from semanticnn.export.kernel_plan import plan_graph
from semanticnn.export.model_data import render_model_data
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.project import RAW_MAPPING, STACK_BYTES
from semanticnn.firmware.render import render_model, write_tree
from semanticnn.firmware.runtimes import DEFAULT_RUNTIME
from semanticnn.provenance import provenance

__all__ = ["CHECK_INPUTS", "check_inputs", "export_tflite"]

CHECK_INPUTS = 32
CHECK_SEED = 0
RUNTIME_FLASH_BYTES = 16 * 1024  # startup, kernels, protocol: as pipeline.RUNTIME_FLASH_BYTES
MODEL_FILE = "model_int8.tflite"


def check_inputs(shape, n=CHECK_INPUTS, seed=CHECK_SEED) -> np.ndarray:
    """``n`` int8 inputs of ``shape``: all -128, all 127, then seeded uniform ones."""
    rng = np.random.default_rng(seed)
    fixed = [np.full(shape, -128), np.full(shape, 127)]
    return np.stack(fixed + [rng.integers(-128, 128, shape) for _ in range(n - 2)])[:n].astype(np.int8)


def _read_model(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}): check the path") from None


def export_tflite(model_path, target_name, out_dir, mtu=DEFAULT_MTU, render_project=None, force=False,
                  runtime=DEFAULT_RUNTIME, runtime_trees=None) -> dict:
    """Export the int8 ``.tflite`` at ``model_path`` for ``target_name`` into ``out_dir``; returns the manifest.

    ``runtime`` and ``runtime_trees`` as in ``pipeline.export_encoder``.
    """
    from semanticnn.firmware.project import render_project as default_render_project

    target, chosen_runtime, trees = preflight.check_export(target_name, runtime, runtime_trees, mtu, out_dir, force)
    model_path = Path(model_path)
    model_bytes = _read_model(model_path)
    plan = plan_graph(read_graph(model_bytes), dsp=target.dsp, fold_pads=chosen_runtime.folds_pads)
    preflight.check_packets(plan.output_tensor.nbytes, mtu)
    model_files = render_model(plan, source=model_path.name, dsp=target.dsp)
    tin, tout = plan.input_tensor, plan.output_tensor
    inputs = check_inputs(tuple(tin.shape[1:]))
    ref = checks.tflm_outputs(model_bytes, inputs)
    payload_bytes = tout.nbytes
    report = {
        "generated_c_vs_tflm": checks.check_generated_c(model_files, inputs, ref),
        "fits_target": checks.check_fits(
            target,
            flash_bytes=plan.const_bytes + RUNTIME_FLASH_BYTES,
            fast_bytes=plan.arena_bytes + STACK_BYTES,  # the arena holds the input
            data_bytes=payload_bytes + mtu * 2,
        ),
    }
    manifest = _manifest(target, model_path, model_bytes, plan, mtu, report)
    manifest["provenance"] = provenance(model=model_path)
    manifest["runtime"] = chosen_runtime.name
    files = chosen_runtime.render(plan, manifest, trees, model_files)
    files.update({f"tflm/{k}": v for k, v in render_model_data(model_bytes, model_path.name).items()})
    files[MODEL_FILE] = model_bytes
    files.update((render_project or default_render_project)(target, manifest))
    files[preflight.MANIFEST_FILE] = json.dumps(manifest, indent=2) + "\n"
    write_tree(files, Path(out_dir), preflight.MANIFEST_FILE, force)
    return manifest


def _quant(t):
    return {"shape": list(t.shape), "layout": "NHWC", "scale": float(t.scale[0]), "zero_point": int(t.zero_point[0])}


def _manifest(target, model_path, model_bytes, plan, mtu, report) -> dict:
    tout = plan.output_tensor
    return {
        "target": target.name,
        "runtime": "generated",
        "source": model_path.name,
        "model_file": MODEL_FILE,
        "model_crc32": zlib.crc32(model_bytes),
        "input": _quant(plan.input_tensor),
        "output": _quant(tout),
        "sq": {"levels": 256, "bits_per_symbol": 8, "mapping": RAW_MAPPING},
        "n_symbols": tout.size,
        "payload_bytes": tout.nbytes,
        "mtu": mtu,
        "max_packets": packet_count(tout.nbytes, mtu),
        "float32_split_bytes": tout.size * 4,
        "compression_vs_float32": 4.0,
        "tflm_arena_bytes": checks.tflm_arena_bytes(model_bytes),
        "activation_bytes": plan.arena_bytes,
        "const_bytes": plan.const_bytes,
        "layers": [layer.op for layer in plan.layers],
        "checks": report,
    }
