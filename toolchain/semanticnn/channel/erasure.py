"""Whole-packet erasures and the per-symbol mask of what arrived.

Each packet is lost independently with probability ``rate``
(``lost_i ~ Bernoulli(rate)``, so the expected fraction lost is ``rate``). A lost
packet is None, which ``packets.reassemble`` treats as missing: its bytes stay
zero and False in ``Reassembled.received``. ``received_symbols`` lifts that byte
mask to symbols: symbol ``j`` occupies bits ``[j k, (j + 1) k)`` of the stream
and arrived only if every one of those bits did. ``symbol_packets`` gives, for
every symbol, the first and last packet its bits lie in (payload of
``mtu - HEADER_BYTES`` bytes a packet), which batched training uses to erase the
symbols of lost packets without building packets.
"""

import numpy as np
import torch

from semanticnn.channel.models import make_generator
from semanticnn.channel.packets import HEADER_BYTES
from semanticnn.errors import ConfigError

__all__ = ["erasure_mask", "erase_packets", "received_symbols", "symbol_packets"]


def erasure_mask(n_packets: int, rate: float, generator=None) -> np.ndarray:
    """Bool ``[n_packets]``, True where a packet is lost: ``U(0, 1) < rate``."""
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"erasure rate must be in [0, 1], got {rate}")
    return (torch.rand(n_packets, generator=make_generator(generator)) < rate).numpy()


def erase_packets(packets, rate: float, generator=None) -> list:
    """``packets`` with each one replaced by None with probability ``rate``."""
    lost = erasure_mask(len(packets), rate, generator)
    return [None if gone else packet for packet, gone in zip(packets, lost, strict=True)]


def received_symbols(received: np.ndarray, n_symbols: int, k: int) -> np.ndarray:
    """Per-symbol mask from a per-byte one: True where all ``k`` bits of a symbol arrived."""
    bits = np.repeat(np.asarray(received, dtype=bool), 8)[: n_symbols * k]
    if bits.size != n_symbols * k:
        raise ValueError(f"mask covers {bits.size} bits, {n_symbols} symbols of {k} bits need {n_symbols * k}")
    return bits.reshape(n_symbols, k).all(axis=1)


def symbol_packets(n_symbols: int, k: int, mtu: int) -> tuple[np.ndarray, np.ndarray]:
    """``(first, last)`` packet index of each symbol's ``k`` bits, payload ``mtu - HEADER_BYTES`` bytes a packet."""
    per_packet = mtu - HEADER_BYTES
    start = np.arange(n_symbols) * k
    return (start // 8) // per_packet, ((start + k - 1) // 8) // per_packet
