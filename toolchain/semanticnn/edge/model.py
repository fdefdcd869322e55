"""The exported edge model: ``decoder.onnx`` on onnxruntime plus ``decoder.json``.

``EdgeModel.classify(indices, ber, erased)`` runs one batch; everything about the
packets (symbol count, levels, mapping, mtu) comes from the manifest.
"""

import json
from pathlib import Path

import numpy as np

from semanticnn.channel.packets import HEADER_VERSION
from semanticnn.errors import ConfigError

__all__ = ["EdgeModel", "load_edge_model"]

_FORMAT = "semanticnn-decoder-onnx"
_KEYS = ("model_file", "code_shape", "n_symbols", "levels", "bits_per_symbol", "mapping", "payload_bytes", "mtu",
         "max_packets", "classes")
_FIX = "export it with `snn export-decoder decoder.pt -o DIR`"


class EdgeModel:
    """An onnxruntime session of the decoder with its manifest (``.manifest``)."""

    def __init__(self, session, manifest):
        self.session = session
        self.manifest = manifest
        self.code_shape = tuple(manifest["code_shape"])

    def classify(self, indices, ber, erased):
        """``(probabilities float [B, classes])`` of symbol indices int64 [B, C, H, W], BER [B], erased [B, C, H, W]."""
        logits = self.session.run(None, {
            "indices": np.ascontiguousarray(indices, dtype=np.int64),
            "ber": np.ascontiguousarray(ber, dtype=np.float32),
            "erased": np.ascontiguousarray(erased, dtype=bool),
        })[0]
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def load_edge_model(folder, threads=1):
    """EdgeModel from the folder ``snn export-decoder`` wrote; ConfigError naming the fix otherwise."""
    import onnxruntime as ort

    folder = Path(folder)
    path = folder / "decoder.json"
    if not path.is_file():
        raise ConfigError(f"{path} not found: {_FIX}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path} is not valid JSON: {_FIX}") from None
    missing = [k for k in _KEYS if k not in manifest]
    if manifest.get("format") != _FORMAT or missing:
        raise ConfigError(f"{path} is not a decoder manifest (lacks {', '.join(missing) or 'format'}): {_FIX}")
    header = manifest.get("packet", {}).get("format", 1)
    if header != HEADER_VERSION:
        raise ConfigError(f"{path} is for packet header format {header}, this receiver reads format {HEADER_VERSION}: "
                          f"{_FIX}")
    onnx_path = folder / manifest["model_file"]
    if not onnx_path.is_file():
        raise ConfigError(f"{onnx_path} not found: {_FIX}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return EdgeModel(ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"]), manifest)
