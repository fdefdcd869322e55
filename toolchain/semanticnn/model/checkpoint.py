"""Checkpoint files as fixed by docs/design.md.

    {"format": "semanticnn-encoder" | "semanticnn-decoder" | "semanticnn-base", "version": 1,
     "config": {...}, "state_dict": {...}, "metadata": {...}}

Saved with ``torch.save`` through a temp file + ``os.replace`` (never half-written),
loaded with ``torch.load(path, weights_only=True)``.
"""

import io
from pathlib import Path

import torch

from semanticnn.atomic_file import write_atomic
from semanticnn.errors import CheckpointError, SnnError
from semanticnn.model.backbone import build_backbone
from semanticnn.model.codec import SplitDecoder, SplitEncoder

__all__ = [
    "ENCODER_FORMAT", "DECODER_FORMAT", "BASE_FORMAT", "VERSION", "base_config",
    "save_encoder", "save_decoder", "save_base", "load_encoder", "load_decoder", "load_base",
    "read_checkpoint", "atomic_save",
]

ENCODER_FORMAT = "semanticnn-encoder"
DECODER_FORMAT = "semanticnn-decoder"
BASE_FORMAT = "semanticnn-base"
VERSION = 1
_FIX = "re-run `snn train` or pass the right file"


def base_config(backbone="resnet8", stem_channels=16, classes=10):
    """Config of the unsplit backbone: what ``build_backbone`` needs to rebuild it."""
    return {"backbone": backbone, "stem_channels": stem_channels, "classes": classes}


def _build_base(config):
    return build_backbone(config["backbone"], config["stem_channels"], config["classes"])


def atomic_save(obj, path):
    """``torch.save`` of ``obj`` written to ``path`` atomically; returns the Path."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_atomic(path, buf.getvalue())


def _save(path, fmt, module, metadata, config=None):
    return atomic_save({
        "format": fmt, "version": VERSION, "config": dict(module.config if config is None else config),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "metadata": dict(metadata or {}),
    }, path)


def save_encoder(path, encoder, metadata=None):
    """Write ``encoder`` (a SplitEncoder) to ``path``; returns the Path."""
    return _save(path, ENCODER_FORMAT, encoder, metadata)


def save_decoder(path, decoder, metadata=None):
    """Write ``decoder`` (a SplitDecoder) to ``path``; returns the Path."""
    return _save(path, DECODER_FORMAT, decoder, metadata)


def save_base(path, model, config, metadata=None):
    """Write the unsplit backbone ``model`` with its ``base_config``; returns the Path."""
    return _save(path, BASE_FORMAT, model, metadata, config)


def read_checkpoint(path, fmt):
    """Load and validate the checkpoint dict; raise CheckpointError on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} ({_FIX})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({_FIX})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not a SemanticNN checkpoint: not a dict ({_FIX})")
    if data.get("format") != fmt:
        raise CheckpointError(
            f"{path} has format {data.get('format')!r}, expected {fmt!r} ({_FIX})")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has version {data.get('version')!r}, expected {VERSION} ({_FIX})")
    if not isinstance(data.get("config"), dict) or not isinstance(data.get("state_dict"), dict):
        raise CheckpointError(f"{path} lacks config or state_dict ({_FIX})")
    return data


def _load(path, fmt, cls):
    data = read_checkpoint(path, fmt)
    try:
        module = cls(data["config"])
        module.load_state_dict(data["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError, SnnError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} does not match its config: {first} ({_FIX})") from None
    module.eval()
    module.metadata = data.get("metadata", {})
    return module


def load_encoder(path):
    """SplitEncoder from ``path``, eval mode; ``.metadata`` holds the metadata dict."""
    return _load(path, ENCODER_FORMAT, SplitEncoder)


def load_decoder(path):
    """SplitDecoder from ``path``, eval mode; ``.metadata`` holds the metadata dict."""
    return _load(path, DECODER_FORMAT, SplitDecoder)


def load_base(path):
    """Unsplit backbone from ``path``, eval mode; ``.config`` is its base_config."""
    return _load(path, BASE_FORMAT, _build_base)
