"""Integer SQ stage: Python mirror of ``toolchain/semanticnn/firmware/templates/src/sq.c`` (docs/design.md).

From the int8 GDN output ``q`` (NHWC, zero point ``z``) to symbol indices::

    v = q - z
    w = v * P_c if v >= 0 else v * A_c            P_c = round(128 / k_c), A_c = round(a_c * 128 / k_c)
    R = isqrt((sum(w^2) << 8) // N)               16 * rms(w), floored
    symbol = #{j : w * 2^16 > B_j * R}            B_j = round((c_j + c_{j+1}) / 2 * 4096)

``k_c`` is the scale the export put on channel ``c`` of the GDN output
(``export.equalise``; 1 where it put none), so that ``w`` is the PReLU output of the
unscaled channel. ``round`` is round-half-away-from-zero. All arithmetic below is on Python or
numpy int64 integers, bit-exact with the C code.
"""

import math

import numpy as np

from semanticnn.channel.bits import to_codewords
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError

__all__ = [
    "float_symbols", "sq_params", "positive_q7", "rms_scale", "symbols_from_output", "symbols_from_outputs",
    "bitstream_from_output",
]

_INT32_MAX = 2**31 - 1
_A_Q7_MAX = 2**11  # |slope| <= 16 keeps sum(w^2) << 8 inside uint64 for N up to 2^18


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """``sign(x) * floor(|x| + 0.5)`` as int64."""
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def _scales(channel_scales, channels):
    """``k_c`` as float64 [C]: ones when ``channel_scales`` is None."""
    if channel_scales is None:
        return np.ones(channels)
    k = np.asarray(channel_scales, dtype=np.float64).ravel()
    if k.size != channels or not np.all(np.isfinite(k)) or np.any(k <= 0):
        raise ConfigError(f"channel scales must be {channels} positive numbers, got {k.tolist()}")
    return k


def positive_q7(channel_scales, channels) -> np.ndarray:
    """``P_c = round(128 / k_c)``: the positive side of the integer PReLU (128 where ``k_c`` is 1)."""
    p_q7 = _round_half_away(128 / _scales(channel_scales, channels))
    if np.any(p_q7 > _A_Q7_MAX):
        raise ConfigError(f"channel scales below {128 / _A_Q7_MAX:g} are too small for the integer SQ stage")
    return p_q7.astype(np.int32)


def sq_params(centres, prelu_slopes, channel_scales=None) -> tuple[np.ndarray, np.ndarray]:
    """``(A_q7, B_q12)``: ``A_c = round(a_c * 128 / k_c)``, ``B_j = round((c_j + c_{j+1}) / 2 * 4096)``."""
    c = np.asarray(centres, dtype=np.float64).ravel()
    a = np.asarray(prelu_slopes, dtype=np.float64).ravel()
    levels = c.size
    if levels < 2 or levels & (levels - 1):
        raise ConfigError(f"the quantiser needs a power-of-two number of centres >= 2, got {levels}")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(a))):
        raise ConfigError("quantiser centres and PReLU slopes must be finite")
    if np.any(np.diff(c) <= 0):
        raise ConfigError(f"quantiser centres must be strictly increasing, got {c.tolist()}")
    a_q7 = _round_half_away(a * 128 / _scales(channel_scales, a.size))
    b_q12 = _round_half_away((c[:-1] + c[1:]) / 2 * 4096)
    if np.any(np.abs(a_q7) > _A_Q7_MAX) or np.any(np.abs(b_q12) > _INT32_MAX):
        raise ConfigError("PReLU slopes or quantiser centres too large for the integer SQ stage")
    return a_q7.astype(np.int32), b_q12.astype(np.int32)


def _prelu(q: np.ndarray, zero_point: int, a_q7, p_q7=None) -> np.ndarray:
    """``w = (q - z) * P_c`` where ``q >= z``, else ``(q - z) * A_c`` (int64, channel last); ``P_c`` 128 if None."""
    v = np.asarray(q, dtype=np.int64) - int(zero_point)
    a = np.asarray(a_q7, dtype=np.int64)
    p = np.full(a.shape, 128, dtype=np.int64) if p_q7 is None else np.asarray(p_q7, dtype=np.int64)
    if v.ndim == 0 or v.shape[-1] != a.size or p.shape != a.shape:
        raise ConfigError(f"output tensor with last dimension {v.shape[-1:]} needs one PReLU slope and one "
                          f"positive multiplier per channel, got {a.size} and {p.size}")
    return np.where(v >= 0, v * p, v * a)


def rms_scale(w: np.ndarray) -> int:
    """``R = isqrt((sum(w^2) << 8) // N)`` over all elements of ``w``."""
    flat = np.asarray(w, dtype=np.int64).ravel()
    if flat.size == 0:
        return 0
    s = int(np.sum(flat * flat, dtype=np.uint64))
    if s << 8 >= 2**64:
        raise ConfigError("sum(w^2) << 8 overflows the C stage's uint64: output tensor too large")
    return math.isqrt((s << 8) // flat.size)


def symbols_from_output(q, zero_point: int, a_q7, b_q12, p_q7=None) -> np.ndarray:
    """Symbol indices (int64, NHWC order flattened) of the int8 output ``q`` (channel last)."""
    w = _prelu(q, zero_point, a_q7, p_q7).ravel()
    r = rms_scale(w)
    thresholds = np.asarray(b_q12, dtype=np.int64) * r
    return np.sum((w * 65536)[:, None] > thresholds[None, :], axis=1).astype(np.int64)


def symbols_from_outputs(outputs, zero_point: int, a_q7, b_q12, p_q7=None) -> np.ndarray:
    """``symbols_from_output`` of each sample of a batch ``[N, ...]``: int64 ``[N, n]``, every sample normed alone."""
    return np.stack([symbols_from_output(q, zero_point, a_q7, b_q12, p_q7) for q in outputs])


def bitstream_from_output(q, zero_point: int, a_q7, b_q12, gray: bool, payload_code="plain", p_q7=None) -> bytes:
    """SQ stage + mapping + the payload layout of ``payload_code``: the bytes ``snn_sq_encode`` produces."""
    symbols = symbols_from_output(q, zero_point, a_q7, b_q12, p_q7)
    layout = PayloadLayout(symbols.size, len(b_q12) + 1, payload_code)
    return layout.pack(to_codewords(symbols, gray))


def float_symbols(gdn_nhwc: np.ndarray, prelu_slopes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The float SQ stage per sample: PReLU, power norm over the sample, nearest centre."""
    y = np.where(gdn_nhwc >= 0, gdn_nhwc, gdn_nhwc * prelu_slopes)
    axes = tuple(range(1, y.ndim))
    y = y / np.sqrt(np.mean(y**2, axis=axes, keepdims=True) + 1e-12)
    return np.argmin(np.abs(y[..., None] - centres), axis=-1)
