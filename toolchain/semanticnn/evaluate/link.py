"""Frames of symbols over a bit-level channel, as the firmware sends them (docs/design.md).

Each frame (one image's symbols, in NHWC order) goes through
``channel.link.symbols_through_channel``: symbol -> code word (natural or Gray) ->
MSB-first packed bitstream -> channel (one stream, so bursts run in air order) ->
unpack -> symbol. No packets (``mtu=None``): the raw 8-bit baselines need 16384
bytes a frame, more than 255 packets at any LoRa MTU, so every method is compared
on the bare bitstream. Channels come from ``channel.models.CHANNELS``; the decoder
is told the channel's average BER.
"""

import numpy as np

from semanticnn.channel.link import symbols_through_channel
from semanticnn.channel.models import CHANNELS, make_channel

__all__ = ["known_channels", "check_channel", "send_symbols", "frame_seed"]


def known_channels():
    """Names of the channels ``send_symbols`` accepts, sorted."""
    return tuple(sorted(CHANNELS))


def check_channel(name, bers=(0.0,)):
    """Build ``name`` at every BER once, so a bad name or BER fails before any work.

    Raises the registry's one-line ConfigError (an unknown name lists the known ones).
    """
    for ber in bers:
        make_channel(name, float(ber))


def frame_seed(seed, *keys):
    """A 32-bit seed derived from ``seed`` and integer ``keys`` (method, BER, image)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def send_symbols(frames, levels, mapping, channel, ber, seed, key=(), start=0):
    """Received symbols of ``frames`` (int array [B, n], one frame a row) over ``channel`` at ``ber``.

    Row ``i`` is image ``start + i`` and is sent with seed
    ``frame_seed(seed, *key, start + i)``, so results do not depend on batching.
    """
    link = make_channel(channel, float(ber))
    frames = np.asarray(frames, dtype=np.int64)
    out = np.empty_like(frames)
    for i, row in enumerate(frames):
        seed_i = frame_seed(seed, *key, start + i)
        out[i] = symbols_through_channel(row, levels, mapping, link, seed_i).symbols
    return out
