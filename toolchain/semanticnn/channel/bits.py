"""Symbol <-> code word mapping and code-word bits, MSB first (docs/design.md).

Mirror of the C stage in ``toolchain/semanticnn/firmware/templates/src/sq.c``: symbol ``i`` of
``k = log2(L)`` bits becomes the code word ``c = i`` (natural) or
``c = i ^ (i >> 1)`` (Gray); a code word's bits go MSB first. How a frame's code
words become payload bytes is ``channel.payload``.

This is the one mapping implementation: every function takes a numpy array,
anything numpy can read, or a torch tensor, and returns the same kind (numpy
int64 / uint8, or a tensor on the input's device).
"""

import numpy as np
import torch

__all__ = [
    "MAPPINGS",
    "bits_per_symbol",
    "is_gray",
    "to_codewords",
    "from_codewords",
    "codewords_to_bits",
    "bits_to_codewords",
]

MAPPINGS = ("natural", "gray")


def bits_per_symbol(levels):
    """``k = log2(L)``; ``L`` must be a power of two >= 2."""
    if levels < 2 or levels & (levels - 1):
        raise ValueError(f"levels must be a power of two >= 2, got {levels}")
    return levels.bit_length() - 1


def is_gray(mapping):
    """True for ``"gray"``, False for ``"natural"``; anything else is a ValueError."""
    if mapping not in MAPPINGS:
        raise ValueError(f"unknown mapping {mapping!r}: use 'natural' or 'gray'")
    return mapping == "gray"


def _int64(x):
    if isinstance(x, torch.Tensor):
        return x.long()
    return np.asarray(x, dtype=np.int64)


def to_codewords(symbols, gray: bool):
    """Code words of symbol indices: ``c = i ^ (i >> 1)`` if gray else ``c = i``."""
    s = _int64(symbols)
    if gray:
        return s ^ (s >> 1)
    return s.clone() if isinstance(s, torch.Tensor) else s.copy()


def from_codewords(codes, gray: bool):
    """Symbol indices of code words; Gray decoding is ``i = c ^ (c >> 1) ^ (c >> 2) ^ ...``.

    The prefix XOR is computed with doubling shifts (1, 2, 4, ..., 32), which
    covers every non-negative int64 in six steps.
    """
    c = _int64(codes)
    i = c.clone() if isinstance(c, torch.Tensor) else c.copy()
    if gray:
        for shift in (1, 2, 4, 8, 16, 32):
            i ^= i >> shift
    return i


def codewords_to_bits(codes, k: int):
    """Bits of ``k``-bit code words, MSB first: shape ``[..., k]`` -> uint8 0/1 ``[..., k]``."""
    c = _int64(codes)
    if isinstance(c, torch.Tensor):
        shifts = torch.arange(k - 1, -1, -1, device=c.device)
        return ((c.unsqueeze(-1) >> shifts) & 1).to(torch.uint8)
    return ((c[..., None] >> np.arange(k - 1, -1, -1)) & 1).astype(np.uint8)


def bits_to_codewords(bits, k: int):
    """Inverse of ``codewords_to_bits``: 0/1 ``[..., k]`` (MSB first) -> int64 ``[...]``."""
    b = _int64(bits)
    if isinstance(b, torch.Tensor):
        weights = 1 << torch.arange(k - 1, -1, -1, device=b.device)
        return (b * weights).sum(-1)
    return b @ (1 << np.arange(k - 1, -1, -1, dtype=np.int64))
