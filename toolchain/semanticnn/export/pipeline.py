"""``snn-export``: checkpoint -> int8 TFLite -> checked kernel plan -> firmware project.

Nothing is written until every check has passed; the project directory then
appears whole (``write_tree``).
"""

import json
import zlib
from pathlib import Path

import numpy as np
import torch

from semanticnn.channel.packets import DEFAULT_MTU, packet_count
from semanticnn.channel.payload import PayloadLayout
from semanticnn.export import checks, preflight
from semanticnn.export.convert import images_to_float, to_int8_tflite
from semanticnn.export.equalise import channel_scales, scale_gdn_output
from semanticnn.export.gdn_ranges import gdn_ranges
from semanticnn.export.kernel_plan import plan_graph
from semanticnn.export.model_data import render_model_data
from semanticnn.export.tflite_graph import read_graph
from semanticnn.firmware.project import STACK_BYTES
from semanticnn.firmware.render import render_model, write_tree
from semanticnn.firmware.runtimes import DEFAULT_RUNTIME
from semanticnn.firmware.sq import float_symbols, positive_q7, sq_params, symbols_from_outputs
from semanticnn.provenance import provenance

__all__ = ["DEFAULT_MTU", "MODEL_FILE", "export_encoder", "quantize_input"]

MODEL_FILE = "encoder_int8.tflite"
CALIBRATION_IMAGES = 128
CHECK_IMAGES = 32
RUNTIME_FLASH_BYTES = 16 * 1024  # startup, kernels, protocol, SQ stage: measured about 8 KB at -Os


def quantize_input(images_uint8: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """uint8 NHWC images -> the model's int8 input: ``clip(round(pixel / 255 / scale) + zp, -128, 127)``."""
    x = np.asarray(images_uint8, np.float32) / np.float32(255.0)
    return np.clip(np.round(x / np.float32(scale)) + zero_point, -128, 127).astype(np.int8)


def export_encoder(checkpoint, target_name, out_dir, mtu=DEFAULT_MTU, data=None, render_project=None,
                   runtime=DEFAULT_RUNTIME, runtime_trees=None, force=False) -> dict:
    """Export ``checkpoint`` for ``target_name`` into ``out_dir``; returns the manifest.

    ``runtime`` (``semanticnn.firmware.runtimes``) picks what runs the graph on the target;
    ``runtime_trees`` (``{option: dir}``) gives its third-party source trees, else their environment variables.
    ``out_dir`` must be new, empty or an earlier export unless ``force`` (``preflight.check_destination``).
    """
    from semanticnn.data import read_calibration, read_split
    from semanticnn.evaluate.sweep import split_payload_bytes
    from semanticnn.firmware.project import render_project as default_render_project
    from semanticnn.model.checkpoint import load_encoder

    if Path(checkpoint).suffix == ".tflite":  # an int8 graph from any converter: no calibration, no SQ stage
        from semanticnn.export.tflite_export import export_tflite

        return export_tflite(checkpoint, target_name, out_dir, mtu=mtu, render_project=render_project, force=force,
                             runtime=runtime, runtime_trees=runtime_trees)
    target, chosen_runtime, trees = preflight.check_export(target_name, runtime, runtime_trees, mtu, out_dir, force)
    checkpoint = Path(checkpoint)
    encoder = load_encoder(checkpoint)
    preflight.check_mapping(encoder.config["mapping"], checkpoint)
    preflight.check_packets(split_payload_bytes(encoder), mtu)
    n_images = CALIBRATION_IMAGES + CHECK_IMAGES
    if data is None:
        images, _ = read_calibration(limit=n_images)
    else:
        images, _ = read_split(data, "train", limit=n_images, seed=0)
    module = encoder.export_module().eval()
    slopes, centres = np.asarray(encoder.prelu_slopes(), np.float64), np.asarray(encoder.centres(), np.float64)
    calibration = images_to_float(images[:CALIBRATION_IMAGES])
    scales = channel_scales(module, calibration.permute(0, 3, 1, 2), slopes)
    scale_gdn_output(module, scales)
    slopes32, centres32, scales32 = slopes.astype(np.float32), centres.astype(np.float32), scales.astype(np.float32)
    pinned = gdn_ranges(module, calibration.permute(0, 3, 1, 2),
                        lambda gdn: float_symbols(gdn.permute(0, 2, 3, 1).numpy() / scales32, slopes32, centres32))
    model_bytes = to_int8_tflite(module, calibration, pinned)
    plan = plan_graph(read_graph(model_bytes), dsp=target.dsp, fold_pads=chosen_runtime.folds_pads)
    model_files = render_model(plan, source=checkpoint.name, dsp=target.dsp)
    tin, tout = plan.input_tensor, plan.output_tensor
    in_scale, in_zp = float(tin.scale[0]), int(tin.zero_point[0])
    out_scale, out_zp = float(tout.scale[0]), int(tout.zero_point[0])

    check_images = images[CALIBRATION_IMAGES:]
    q_in = quantize_input(check_images, in_scale, in_zp)
    ref = checks.tflm_outputs(model_bytes, q_in)
    a_q7, b_q12 = sq_params(centres, slopes, scales)
    p_q7 = positive_q7(scales, len(scales))
    with torch.no_grad():
        float_out = module(images_to_float(check_images).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    report = {
        "litert_ref_vs_tflm": checks.check_interpreters(model_bytes, q_in, ref),
        "generated_c_vs_tflm": checks.check_generated_c(model_files, q_in, ref),
        "int8_vs_float": checks.check_float_closeness(
            (ref.astype(np.float32) - out_zp) * out_scale,
            float_out.reshape(ref.shape),
            symbols_from_outputs(ref, out_zp, a_q7, b_q12, p_q7),
            float_symbols(float_out / scales32, slopes32, centres32).reshape(len(ref), -1),
        ),
    }
    config = encoder.config
    n_symbols = tout.size
    layout = PayloadLayout.of(config, n_symbols)
    bits, payload_bytes = layout.k, layout.n_bytes
    activation_bytes = plan.arena_bytes
    report["fits_target"] = checks.check_fits(
        target,
        flash_bytes=plan.const_bytes + RUNTIME_FLASH_BYTES,
        fast_bytes=activation_bytes + STACK_BYTES,  # the arena holds the input
        data_bytes=payload_bytes + mtu * 2,
    )
    manifest = {
        "target": target.name,
        "runtime": chosen_runtime.name,
        "source": checkpoint.name,
        "model_file": MODEL_FILE,
        "model_crc32": zlib.crc32(model_bytes),
        "input": {"shape": list(tin.shape), "layout": "NHWC", "scale": in_scale, "zero_point": in_zp},
        "output": {"shape": list(tout.shape), "layout": "NHWC", "scale": out_scale, "zero_point": out_zp},
        "sq": {
            "levels": int(config["levels"]),
            "bits_per_symbol": bits,
            "mapping": config["mapping"],
            "payload_code": layout.code,
            "centres": [float(c) for c in centres],
            "prelu_slopes": [float(a) for a in slopes],
            "channel_scales": [float(k) for k in scales],
            "prelu_positive_q7": [int(p) for p in p_q7],
            "prelu_slopes_q7": [int(a) for a in a_q7],
            "boundaries_q12": [int(b) for b in b_q12],
        },
        "n_symbols": n_symbols,
        "payload_bytes": payload_bytes,
        "mtu": mtu,
        "max_packets": packet_count(payload_bytes, mtu),
        "float32_split_bytes": int(config["stem_channels"]) * int(np.prod(config["input_shape"][1:])) * 4,
        "compression_vs_float32": None,
        "tflm_arena_bytes": checks.tflm_arena_bytes(model_bytes),
        "activation_bytes": activation_bytes,
        "const_bytes": plan.const_bytes,
        "layers": [f"{layer.op}" for layer in plan.layers],
        "checks": report,
        "provenance": provenance(encoder=checkpoint),
    }
    manifest["compression_vs_float32"] = round(manifest["float32_split_bytes"] / payload_bytes, 2)
    files = chosen_runtime.render(plan, manifest, trees, model_files)
    files.update({f"tflm/{k}": v for k, v in render_model_data(model_bytes, checkpoint.name).items()})
    files[MODEL_FILE] = model_bytes
    files.update((render_project or default_render_project)(target, manifest))
    files[preflight.MANIFEST_FILE] = json.dumps(manifest, indent=2) + "\n"
    write_tree(files, Path(out_dir), preflight.MANIFEST_FILE, force)
    return manifest
