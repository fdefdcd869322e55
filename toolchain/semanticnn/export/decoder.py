"""``snn export-decoder``: the edge half (decoder + tail) as ONNX, checked on onnxruntime.

The graph takes what a receiver has after reassembly and returns the logits::

    indices  int64 [B, C, H, W]   received symbol indices, NCHW (erased ones: any value)
    ber      float [B]            the receiver's BER estimate of each frame's link
    erased   bool  [B, C, H, W]   True where the symbol's packet never arrived
    logits   float [B, classes]

The batch is dynamic. ``decoder.json`` beside it holds what a receiver needs to
turn packets into those inputs: symbol count and order, levels, bit mapping,
payload bytes and packet format. Nothing is written unless onnxruntime matches
PyTorch on ``CHECK_IMAGES`` images (argmax agreement 1.0, logits within
``MAX_LOGIT_DIFF``).
"""

import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from semanticnn.channel import golay
from semanticnn.channel.packets import (
    DEFAULT_MTU,
    FRAGMENT_BITS,
    HEADER_BYTES,
    HEADER_VERSION,
    MAX_PACKETS,
    check_packet_count,
    packet_count,
)
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError, ExportError
from semanticnn.provenance import provenance

__all__ = ["ONNX_FILE", "MANIFEST_FILE", "CHECK_IMAGES", "MAX_LOGIT_DIFF", "CHECK_BERS", "export_decoder",
           "decoder_manifest", "check_onnx"]

ONNX_FILE = "decoder.onnx"
MANIFEST_FILE = "decoder.json"
FORMAT = "semanticnn-decoder-onnx"
CHECK_IMAGES = 500
MAX_LOGIT_DIFF = 1e-3
CHECK_BERS = (0.0, 1e-3, 1e-2, 5e-2)  # told to the decoder in turn, image by image
CHECK_LOSS = 0.1  # packets erased in the check inputs
OPSET = 18


class _EdgeGraph(torch.nn.Module):
    """``(indices, ber, erased) -> logits``: the decoder's ``classify_indices`` as one graph."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, indices, ber, erased):
        return self.decoder.classify_indices(indices, ber, erased)


def _to_onnx(decoder):
    """ONNX bytes of the decoder with a dynamic batch (torch.onnx's dynamo exporter, quiet)."""
    graph = _EdgeGraph(decoder).eval()
    c, h, w = decoder.config["code_shape"]
    example = (torch.zeros(2, c, h, w, dtype=torch.int64), torch.zeros(2), torch.zeros(2, c, h, w, dtype=torch.bool))
    batch = torch.export.Dim("batch", min=1, max=65536)
    with (tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()),
          warnings.catch_warnings()):
        warnings.simplefilter("ignore")
        path = Path(tmp) / ONNX_FILE
        torch.onnx.export(graph, example, str(path), input_names=["indices", "ber", "erased"],
                          output_names=["logits"], opset_version=OPSET, dynamo=True, optimize=True, external_data=False,
                          dynamic_shapes={"indices": {0: batch}, "ber": {0: batch}, "erased": {0: batch}})
        return path.read_bytes()


def _check_inputs(encoder, decoder, images, mtu, seed=0):
    """Encoder symbols of ``images`` (uint8 NHWC), a BER from ``CHECK_BERS`` each, packet erasures."""
    from semanticnn.train.tensors import to_float

    with torch.no_grad():
        indices = encoder(to_float(torch.from_numpy(images).permute(0, 3, 1, 2))).indices
    b, c, h, w = indices.shape
    ber = torch.tensor([CHECK_BERS[i % len(CHECK_BERS)] for i in range(b)], dtype=torch.float32)
    first, last = PayloadLayout.of(decoder.config, c * h * w).symbol_packets(mtu)
    lost = torch.rand(b, int(last[-1]) + 1, generator=torch.Generator().manual_seed(seed)) < CHECK_LOSS
    erased_nhwc = lost[:, first] | lost[:, last]  # symbols in NHWC order, as sent
    erased = erased_nhwc.view(b, h, w, c).permute(0, 3, 1, 2).contiguous()
    return indices, ber, erased


def check_onnx(onnx_bytes, decoder, indices, ber, erased):
    """``{"samples", "max_logit_diff", "argmax_agreement", "passed"}``: onnxruntime against PyTorch."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {"indices": indices.numpy(), "ber": ber.numpy(), "erased": erased.numpy()})[0]
    with torch.no_grad():
        want = decoder.classify_indices(indices, ber, erased).numpy()
    diff = float(np.abs(got - want).max())
    agreement = float((got.argmax(1) == want.argmax(1)).mean())
    return {"samples": len(want), "max_logit_diff": diff, "argmax_agreement": agreement,
            "passed": agreement == 1.0 and diff <= MAX_LOGIT_DIFF}


def decoder_manifest(decoder, source, mtu):
    """What a receiver needs besides the graph (see the module docstring)."""
    cfg = decoder.config
    c, h, w = cfg["code_shape"]
    n_symbols = c * h * w
    layout = PayloadLayout.of(cfg, n_symbols)
    k, n_bytes = layout.k, layout.n_bytes
    return {
        "format": FORMAT, "version": 1, "source": source, "model_file": ONNX_FILE,
        "inputs": {"indices": ["batch", c, h, w], "ber": ["batch"], "erased": ["batch", c, h, w]},
        "output": {"logits": ["batch", cfg["classes"]]},
        "classes": cfg["classes"], "code_shape": [c, h, w], "symbol_order": "NHWC",
        "n_symbols": n_symbols, "levels": cfg["levels"], "bits_per_symbol": k, "mapping": cfg["mapping"],
        "payload_code": layout.code,
        "centres": [float(v) for v in decoder.centres], "erasure_input": bool(cfg.get("erasure_input", False)),
        "payload_bytes": n_bytes, "mtu": mtu, "max_packets": packet_count(n_bytes, mtu),
        "packet": {"format": HEADER_VERSION, "header_bytes": HEADER_BYTES,
                   "header": "two extended Golay(24,12) words, 3 bytes big-endian each, [12 info | 12 parity] bits; "
                             f"word 0 info: frame_id mod 4096; word 1 info: fragment << {FRAGMENT_BITS} | count - 1",
                   "golay_parity_rows": list(golay.PARITY_ROWS), "max_packets_per_frame": MAX_PACKETS,
                   "payload": f"the rest of the packet: fragment i at byte i * (mtu - {HEADER_BYTES}) of the "
                              "payload (payload_code 'plain': code words MSB-first; 'golay-msb': groups of 12 "
                              "symbols, the Golay(24,12) word of their MSBs then their low bits, the rest plain)"},
    }


def _encoder_path(decoder_path, encoder_path):
    """The encoder that goes with a decoder: ``encoder_path``, else ``encoder.pt`` beside it."""
    return Path(encoder_path) if encoder_path is not None else Path(decoder_path).with_name("encoder.pt")


def _encoder_for(decoder_path, encoder_path):
    from semanticnn.model.checkpoint import load_encoder

    path = _encoder_path(decoder_path, encoder_path)
    if not path.is_file():
        raise ConfigError(f"encoder not found: {path} (the check encodes images: pass --encoder)")
    return load_encoder(path)


def export_decoder(checkpoint, out_dir, encoder=None, data=None, mtu=DEFAULT_MTU, samples=CHECK_IMAGES,
                   force=False):
    """Write ``decoder.onnx`` and ``decoder.json`` to ``out_dir`` once the onnxruntime check passes.

    ``encoder`` (default: ``encoder.pt`` beside ``checkpoint``) encodes the check images:
    the shipped calibration images, or ``data``'s test split. ``out_dir`` must be new, empty
    or an earlier decoder export unless ``force``. Returns the manifest.
    """
    from semanticnn.data import read_calibration, read_split
    from semanticnn.evaluate.sweep import check_pair
    from semanticnn.firmware.render import write_tree
    from semanticnn.model.checkpoint import load_decoder
    from semanticnn.output_paths import check_project_dir

    if mtu > 0xFFFF:
        raise ConfigError(f"--mtu {mtu} out of range: packets are at most 65535 bytes")
    check_project_dir(out_dir, MANIFEST_FILE, force)
    decoder = load_decoder(checkpoint)
    n_symbols = int(np.prod(decoder.config["code_shape"]))
    check_packet_count(PayloadLayout.of(decoder.config, n_symbols).n_bytes, mtu, "--mtu")
    enc = _encoder_for(checkpoint, encoder)
    check_pair(enc, decoder)
    images = read_calibration(limit=samples)[0] if data is None else read_split(data, "test", samples)[0]
    onnx_bytes = _to_onnx(decoder)
    check = check_onnx(onnx_bytes, decoder, *_check_inputs(enc, decoder, images, mtu))
    if not check["passed"]:
        raise ExportError(
            f"onnxruntime disagrees with PyTorch: argmax agreement {check['argmax_agreement']:.4f}, "
            f"max logit difference {check['max_logit_diff']:.2e} (limit {MAX_LOGIT_DIFF:g}); nothing written")
    import onnxruntime

    manifest = decoder_manifest(decoder, Path(checkpoint).name, mtu)
    manifest.update(opset=OPSET, onnxruntime=onnxruntime.__version__, check=check,
                    provenance=provenance(decoder=checkpoint, encoder=_encoder_path(checkpoint, encoder)))
    write_tree({ONNX_FILE: onnx_bytes, MANIFEST_FILE: json.dumps(manifest, indent=2) + "\n"}, Path(out_dir),
               MANIFEST_FILE, force)
    return manifest
