"""The int8 model as a TFLite-Micro C array (``model_data.cc`` / ``model_data.h``).

The generated firmware runs its own kernels and does not need it; it is there for
users who build the same model with TFLite-Micro (``snn_model_data``, 16-byte
aligned as the interpreter requires).
"""

from semanticnn.firmware.render import render_template

__all__ = ["render_model_data"]

BYTES_PER_LINE = 16


def render_model_data(model_bytes: bytes, source: str) -> dict:
    """``model_data.h`` and ``model_data.cc`` holding ``model_bytes``."""
    context = dict(
        source=source,
        length=len(model_bytes),
        lines=_hex_lines(model_bytes),
    )
    return {
        "model_data.h": render_template("model_data.h.j2", context),
        "model_data.cc": render_template("model_data.cc.j2", context),
    }


def _hex_lines(data: bytes):
    return [
        " ".join(f"0x{b:02x}," for b in data[i : i + BYTES_PER_LINE]) for i in range(0, len(data), BYTES_PER_LINE)
    ]

