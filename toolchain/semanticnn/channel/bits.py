"""Symbol <-> code word mapping and MSB-first bit packing (docs/design.md).

Mirror of the C stage in ``firmware_templates/src/sq.c``: symbol ``i`` of ``k``
bits becomes the code word ``i`` (natural) or ``i ^ (i >> 1)`` (Gray); code
words are packed MSB-first, the last byte padded with zero bits.
"""

import numpy as np

__all__ = ["to_codewords", "from_codewords", "pack_bits", "unpack_bits", "payload_bytes"]


def to_codewords(symbols, gray: bool) -> np.ndarray:
    """Code words of symbol indices: ``c = i ^ (i >> 1)`` if gray else ``c = i``."""
    s = np.asarray(symbols, dtype=np.int64)
    return s ^ (s >> 1) if gray else s.copy()


def from_codewords(codes, gray: bool) -> np.ndarray:
    """Symbol indices of code words; Gray decoding is ``i = c ^ (c >> 1) ^ (c >> 2) ^ ...``."""
    c = np.asarray(codes, dtype=np.int64)
    if not gray:
        return c.copy()
    i = c.copy()
    shift = c >> 1
    while np.any(shift):
        i ^= shift
        shift >>= 1
    return i


def payload_bytes(n_symbols: int, k: int) -> int:
    """Bitstream length: ``ceil(n_symbols * k / 8)``."""
    return (n_symbols * k + 7) // 8


def pack_bits(codes, k: int) -> bytes:
    """Pack ``k``-bit code words MSB-first; the last byte is padded with zeros."""
    c = np.asarray(codes, dtype=np.int64).ravel()
    bits = ((c[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


def unpack_bits(data: bytes, k: int, n: int) -> np.ndarray:
    """Unpack the first ``n`` ``k``-bit code words of an MSB-first bitstream (int64 array)."""
    bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))[: n * k]
    if bits.size != n * k:
        raise ValueError(f"bitstream holds {bits.size} bits, {n} code words of {k} bits need {n * k}")
    weights = 1 << np.arange(k - 1, -1, -1, dtype=np.int64)
    return bits.reshape(n, k).astype(np.int64) @ weights
