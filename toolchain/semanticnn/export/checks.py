"""The checks an export runs on itself before it writes anything.

1. ``check_interpreters``: LiteRT's reference kernels (``BUILTIN_REF``) and the
   tflite_micro interpreter give the same int8 output, bit for bit.
2. ``check_generated_c``: the generated C, compiled for the host, gives the
   tflite_micro output bit for bit.
3. ``check_float_closeness``: the dequantized int8 output stays close to the float
   PyTorch encoder: ``nrmse = rms(int8 - float) / rms(float) <= MAX_NRMSE`` and the
   SQ symbols agree on at least ``MIN_SYMBOL_AGREEMENT`` of positions.
4. ``check_fits``: weights, arena and buffers fit the target's memory regions (targets.toml).
"""

import contextlib
import os
import sys

import numpy as np

from semanticnn.errors import ExportError

__all__ = [
    "MAX_NRMSE",
    "MIN_SYMBOL_AGREEMENT",
    "tflm_outputs",
    "tflm_arena_bytes",
    "check_interpreters",
    "check_generated_c",
    "check_float_closeness",
    "check_fits",
]

MAX_NRMSE = 0.15
MIN_SYMBOL_AGREEMENT = 0.85
ARENA_SEARCH_LIMIT = 4 << 20


def _tflm(model_bytes, arena_size):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_size)


def tflm_outputs(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """Run the tflite_micro interpreter (reference kernels) on each int8 input."""
    interp = _tflm(model_bytes, ARENA_SEARCH_LIMIT)
    outs = []
    for x in inputs:
        interp.set_input(x[None], 0)
        interp.invoke()
        outs.append(np.asarray(interp.get_output(0)).copy())
    return np.stack(outs).reshape(len(inputs), *outs[0].shape[1:])


@contextlib.contextmanager
def _native_output_silenced():
    """The interpreter's C++ side prints every failed allocation to fds 1 and 2."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def tflm_arena_bytes(model_bytes: bytes) -> int:
    """Smallest arena tflite_micro accepts for this model on this (64-bit) host, to 16 bytes."""
    lo, hi = 0, ARENA_SEARCH_LIMIT
    with _native_output_silenced():
        while hi - lo > 16:
            mid = (lo + hi) // 2 // 16 * 16
            try:
                _tflm(model_bytes, mid)
                hi = mid
            except (RuntimeError, ValueError):
                lo = mid
    return hi


def _litert_ref_outputs(model_bytes, inputs):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=model_bytes, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    outs = []
    for x in inputs:
        interp.set_tensor(inp, x[None])
        interp.invoke()
        outs.append(interp.get_tensor(out).copy())
    return np.stack(outs).reshape(len(inputs), *outs[0].shape[1:])


def _mismatch(a, b):
    same = (a.reshape(len(a), -1) == b.reshape(len(b), -1)).all(axis=1)
    return int((~same).sum())


def check_interpreters(model_bytes, inputs, reference) -> dict:
    """LiteRT BUILTIN_REF against tflite_micro (``reference``)."""
    bad = _mismatch(_litert_ref_outputs(model_bytes, inputs), reference)
    if bad:
        raise ExportError(f"LiteRT reference kernels and tflite_micro disagree on {bad}/{len(inputs)} inputs")
    return {"samples": len(inputs), "bit_exact": len(inputs)}


def check_generated_c(model_files, inputs, reference) -> dict:
    """Host build of the generated C against tflite_micro (``reference``)."""
    from semanticnn.export.host_check import run_generated_model

    got = run_generated_model(model_files, inputs.reshape(len(inputs), -1), reference[0].size)
    bad = _mismatch(got, reference)
    if bad:
        raise ExportError(
            f"generated C differs from tflite_micro on {bad}/{len(inputs)} inputs: a kernel bug, please report it"
        )
    return {"samples": len(inputs), "bit_exact": len(inputs)}


def check_float_closeness(dequantized, reference_float, symbols_int, symbols_float) -> dict:
    """int8 path against the float encoder, on the GDN output and on the final symbols."""
    err = np.sqrt(np.mean((dequantized - reference_float) ** 2))
    nrmse = float(err / max(np.sqrt(np.mean(reference_float**2)), 1e-12))
    agreement = float(np.mean(symbols_int == symbols_float))
    result = {"nrmse": round(nrmse, 5), "symbol_agreement": round(agreement, 5)}
    if nrmse > MAX_NRMSE or agreement < MIN_SYMBOL_AGREEMENT:
        raise ExportError(
            f"int8 model strays from the float encoder (nrmse {nrmse:.3f} > {MAX_NRMSE} or symbol agreement "
            f"{agreement:.3f} < {MIN_SYMBOL_AGREEMENT}): calibrate on the encoder's own training images "
            "(--data), or retrain it: its activations do not survive int8"
        )
    return result


def check_fits(target, flash_bytes, fast_bytes, data_bytes) -> dict:
    """Estimated sizes against the target's memory regions (targets.toml, as link.ld has them).

    ``fast_bytes`` (stack, input, activations) go to the fast region, DTCM where there is one;
    ``data_bytes`` (the rest of .data/.bss) to the data region, or the same one.
    """
    regions = target.regions
    need = {"FLASH": flash_bytes, target.fast_region: fast_bytes}
    need[target.ram_region] = need.get(target.ram_region, 0) + data_bytes
    for name, n in need.items():
        if n > regions[name].length:
            raise ExportError(
                f"model does not fit {target.name}: needs {n} B of {name}, which has {regions[name].length} B: "
                "use fewer channels or a larger target"
            )
    return {"flash_estimate_bytes": flash_bytes, "ram_estimate_bytes": fast_bytes + data_bytes,
            "regions": {name: {"estimate_bytes": n, "limit_bytes": regions[name].length} for name, n in need.items()}}
