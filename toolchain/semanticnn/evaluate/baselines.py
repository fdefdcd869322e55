"""Raw split-feature baselines: the stem output sent as 8-bit values, no noise training.

The split feature ``f = stem(x)`` [B, 16, 32, 32] (ReLU output, so ``f >= 0``) is
quantised per tensor with one scale fixed by calibration (min/max over training
images, as a TFLite int8 graph would fix it), serialised in NHWC order as one byte
per value, sent over the channel, dequantised and fed to the frozen tail.

* ``raw-uint8``: affine, ``q = clamp(round(f / s) + z, 0, 255)``,
  ``s = (hi - lo) / 255``, ``z = round(-lo / s)``; ``f' = (q - z) * s``.
* ``raw-int8``: symmetric, ``q = clamp(round(f / s), -127, 127)``, ``s = max|f| / 127``,
  sent as the two's-complement byte; ``f' = q * s`` (a flipped sign bit makes ``f' < 0``).

An asymmetric int8 tensor is the uint8 one with every byte XORed with 0x80, so under
a bit-flip channel it behaves exactly like ``raw-uint8``; the symmetric form is the
int8 variant that differs.
"""

from dataclasses import dataclass

import torch

__all__ = ["ByteQuantizer", "RAW_SCHEMES", "calibrate", "to_frames", "from_frames"]


@dataclass(frozen=True)
class ByteQuantizer:
    """Per-tensor 8-bit quantiser with fixed ``scale`` and ``zero_point``."""

    signed: bool
    scale: float
    zero_point: int

    def encode(self, feature):
        """Float feature -> bytes as int64 in 0..255 (same shape)."""
        lo, hi = (-127, 127) if self.signed else (0, 255)
        q = torch.clamp(torch.round(feature / self.scale) + self.zero_point, lo, hi).long()
        return q & 0xFF

    def decode(self, data):
        """Bytes (int64 in 0..255) -> float feature."""
        q = torch.where(data >= 128, data - 256, data) if self.signed else data
        return (q - self.zero_point).float() * self.scale


def _fit_uint8(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-12) / 255.0
    return ByteQuantizer(False, scale, int(round(-lo / scale)))


def _fit_int8(lo, hi):
    return ByteQuantizer(True, max(abs(lo), abs(hi), 1e-12) / 127.0, 0)


RAW_SCHEMES = {"raw-uint8": _fit_uint8, "raw-int8": _fit_int8}


def calibrate(features):
    """``{scheme: ByteQuantizer}`` fitted to the min/max of ``features``."""
    lo, hi = float(features.min()), float(features.max())
    return {name: fit(lo, hi) for name, fit in RAW_SCHEMES.items()}


def to_frames(t):
    """NCHW tensor -> [B, H*W*C] rows in NHWC order (the order the device sends)."""
    return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)


def from_frames(rows, shape):
    """Inverse of ``to_frames`` for an NCHW ``shape``."""
    b, c, h, w = shape
    return rows.reshape(b, h, w, c).permute(0, 3, 1, 2)
