"""Binary symmetric channel: every bit flips independently with probability BER.

Two forms:

* ``flip_bits(data, ber, seed)`` on a packed uint8 bitstream (numpy); each of the
  ``8 * len(data)`` bits is XORed with ``Bernoulli(ber)``.
* ``flip_symbol_bits(indices, ber, levels, mapping, generator)`` on a batch of
  symbol indices (torch, for training): ``i -> code(i)`` (natural or Gray),
  flip each of the ``k = log2(L)`` code bits with probability ``ber`` (a float or a
  per-sample tensor [B]), ``-> index``. It is ``corrupt_symbols`` with an
  ``IIDChannel``; burst channels live in ``channel.models``.
"""

import numpy as np

from semanticnn.channel.bits import bits_per_symbol
from semanticnn.channel.models import IIDChannel, corrupt_symbols

__all__ = ["flip_bits", "flip_symbol_bits", "bits_per_symbol"]


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def flip_bits(data, ber, seed=None):
    """Return a copy of ``data`` (bytes or uint8 array) with i.i.d. bit flips.

    ``seed`` is an int, None or a ``numpy.random.Generator``. Returns the same type
    as given (bytes in, bytes out; array in, uint8 array out).
    """
    if not 0.0 <= ber <= 1.0:
        raise ValueError(f"ber must be in [0, 1], got {ber}")
    as_bytes = isinstance(data, (bytes, bytearray))
    arr = np.frombuffer(bytes(data), dtype=np.uint8) if as_bytes else np.asarray(data, dtype=np.uint8)
    flips = _rng(seed).random((arr.size, 8)) < ber
    mask = np.packbits(flips, axis=1, bitorder="big").reshape(arr.shape)
    out = arr ^ mask
    return out.tobytes() if as_bytes else out


def flip_symbol_bits(indices, ber, levels, mapping="gray", generator=None, channel_dim=None, payload_code="plain"):
    """Flip the payload bits of symbol ``indices`` (int64 tensor, any shape [B, ...]).

    ``ber`` is a float or a tensor of shape [B] (one BER per sample).
    ``generator`` is a ``torch.Generator`` (or an int seed) for determinism.
    ``channel_dim`` and ``payload_code`` as in ``corrupt_symbols``.
    """
    return corrupt_symbols(indices, levels, mapping, IIDChannel(ber), generator, channel_dim, payload_code)
