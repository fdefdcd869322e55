"""PyTorch float module -> int8 TFLite flatbuffer, with litert-torch's PT2E quantization.

Weights are int8 per channel (symmetric), activations int8 per tensor; the model's
input and output tensors are int8 NHWC. Calibration uses the images it is given,
so the same images give the same model. ``pinned`` fixes the range of chosen
activations (by the path of the module that computes them) instead of observing it.
"""

import contextlib
import io

import numpy as np
import torch

from semanticnn import verbosity
from semanticnn.errors import ExportError

__all__ = ["to_int8_tflite", "images_to_float"]


def images_to_float(images_uint8: np.ndarray) -> torch.Tensor:
    """uint8 NHWC images -> float NHWC ``pixel / 255`` (the device network's input)."""
    return torch.from_numpy(np.asarray(images_uint8, np.float32) / 255.0)


@contextlib.contextmanager
def _quiet():
    """The converter's Python side prints progress and warnings; keep the terminal for ours unless ``-v``.

    Its native side is silenced through the environment (:mod:`semanticnn.verbosity`).
    """
    if verbosity.level() == verbosity.VERBOSE:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _module_path(node) -> str:
    """The path of the innermost module that ran ``node``, relative to the wrapped module."""
    stack = node.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    return path.removeprefix("wrapped.").removeprefix("wrapped")


def _pin_ranges(prepared, pinned: dict) -> None:
    """Swap the observer after each module output named in ``pinned`` for one fixed at ``(lo, hi)``."""
    from torchao.quantization.pt2e.observer import MinMaxObserver

    done = set()
    for node in prepared.graph.nodes:
        path = _module_path(node)
        if node.op != "call_function" or path not in pinned:
            continue
        for user in node.users:
            if user.op != "call_module" or not user.target.startswith("activation_post_process"):
                continue
            old = getattr(prepared, user.target)
            fixed = MinMaxObserver(dtype=old.dtype, qscheme=old.qscheme, quant_min=old.quant_min,
                                   quant_max=old.quant_max, eps=old.eps)
            fixed(torch.tensor(pinned[path], dtype=torch.float32))
            setattr(prepared, user.target, fixed)
            done.add(path)
    missing = set(pinned) - done
    if missing:
        raise ExportError(f"cannot pin the int8 range of {', '.join(sorted(missing))}: no module of that path "
                          "computes an activation (pass paths from module.named_modules())")


def to_int8_tflite(module: torch.nn.Module, calibration: torch.Tensor, pinned: dict | None = None) -> bytes:
    """Quantize ``module`` (float, NCHW in and out) with ``calibration`` (float NHWC batch) and convert it.

    ``pinned``: ``{module path: (lo, hi)}`` ranges for those modules' outputs (``gdn_ranges``).
    """
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    torch.manual_seed(0)
    wrapped = litert_torch.to_channel_last_io(module.eval(), args=[0], outputs=[0]).eval()
    example = calibration[:1]
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
    )
    try:
        with _quiet(), torch.no_grad():
            exported = torch.export.export(wrapped, (example,)).module()
            prepared = prepare_pt2e(exported, quantizer)
            for image in calibration:
                prepared(image[None])
            _pin_ranges(prepared, pinned or {})
            converted = convert_pt2e(prepared, fold_quantize=False)
            edge = litert_torch.convert(
                converted, (example,), quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer)
            )
            return bytes(edge.model_content())
    except ExportError:
        raise
    except Exception as exc:  # the converter's own errors are long; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ExportError(f"int8 conversion failed: {first}") from exc
