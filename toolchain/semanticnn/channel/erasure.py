"""Whole-packet erasures and the per-symbol mask of what arrived.

Each packet is lost independently with probability ``rate``
(``lost_i ~ Bernoulli(rate)``, so the expected fraction lost is ``rate``). A lost
packet is None, which ``packets.reassemble`` treats as missing: its bytes stay
zero and False in ``Reassembled.received``. ``channel.payload.PayloadLayout``
lifts that byte mask to symbols (``received``) and names, for every symbol, the
first and last packet its bits lie in (``symbol_packets``), which batched training
uses to erase the symbols of lost packets without building packets.
"""

import numpy as np
import torch

from semanticnn.channel.models import make_generator
from semanticnn.errors import ConfigError

__all__ = ["erasure_mask", "erase_packets"]


def erasure_mask(n_packets: int, rate: float, generator=None) -> np.ndarray:
    """Bool ``[n_packets]``, True where a packet is lost: ``U(0, 1) < rate``."""
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"erasure rate must be in [0, 1], got {rate}")
    return (torch.rand(n_packets, generator=make_generator(generator)) < rate).numpy()


def erase_packets(packets, rate: float, generator=None) -> list:
    """``packets`` with each one replaced by None with probability ``rate``."""
    lost = erasure_mask(len(packets), rate, generator)
    return [None if gone else packet for packet, gone in zip(packets, lost, strict=True)]
