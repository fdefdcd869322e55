"""Frames of symbols over a bit-level channel, as the firmware sends them (docs/design.md).

Each frame (one image's symbols, in NHWC order) becomes code words (natural or Gray),
an MSB-first bitstream, goes through the channel as one stream (so bursts run in air
order) and comes back as symbols. Frame ``i`` draws its errors from its own seed,
``frame_seed(seed, *key, i)``, so results do not depend on batching.

The i.i.d. channel is sampled by its flip positions: the gaps between flips of a
Bernoulli(p) process are Geometric(p) (trials up to and including the next flip), so
``t_j = g_1 + ... + g_j - 1``; this draws about ``n p`` numbers a frame instead of
``n``, which matters for the 131072-bit frames of the raw 8-bit baselines. Other
channels go through ``channel.link.symbols_through_channel``. ``send_symbols`` sends
payload bits only (the raw baselines' 16384 bytes would need more than 64 packets at
any LoRa MTU). ``send_packets`` sends the split code as the firmware does: real
packets, headers included, through ``channel.link.transmit`` and the receiver's
``reassemble``, so a packet whose header is neither decoded nor rescued is lost and its
symbols come back erased; it draws the same errors as ``snn-bench --accuracy`` for the same seed,
key and image. ``lost_symbols`` erases whole packets of the split code at a given rate.
"""

import zlib

import numpy as np
import torch

from semanticnn.channel.bits import from_codewords, is_gray, to_codewords
from semanticnn.channel.erasure import erasure_mask
from semanticnn.channel.link import symbols_through_channel
from semanticnn.channel.models import CHANNELS, make_channel, make_generator
from semanticnn.channel.packets import packet_count
from semanticnn.channel.payload import PayloadLayout

__all__ = ["known_channels", "check_channel", "send_symbols", "send_packets", "frame_seed", "stream_key",
           "iid_flip_positions", "flip_codewords", "lost_symbols"]


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
    """A 32-bit seed derived from ``seed`` and integer ``keys`` (stream, BER, image)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def stream_key(stream, ber):
    """The ``key`` of ``frame_seed`` for a stream name (``"split"``, ``"raw-uint8"``...) at ``ber``."""
    return zlib.crc32(stream.encode()), round(float(ber) * 1e9)


def iid_flip_positions(n_bits, ber, generator):
    """Sorted positions in ``[0, n_bits)`` of the bits an i.i.d. channel at ``ber`` flips."""
    if ber <= 0.0 or n_bits == 0:
        return np.zeros(0, dtype=np.int64)
    mean = n_bits * ber
    chunk = int(mean + 6.0 * mean ** 0.5 + 16)
    found, end = [], 0.0
    while end < n_bits:
        gaps = torch.empty(chunk, dtype=torch.float64).geometric_(ber, generator=generator).numpy()
        ends = end + np.cumsum(gaps)
        found.append(ends[ends <= n_bits])
        end = float(ends[-1])
    return np.concatenate(found).astype(np.int64) - 1


def flip_codewords(codes, k, positions):
    """``k``-bit code words [n] with bit ``t`` of their MSB-first stream flipped for each ``t`` in ``positions``."""
    symbol, bit = np.divmod(np.asarray(positions, dtype=np.int64), k)
    weights = np.left_shift(1, k - 1 - bit).astype(np.float64)
    masks = np.bincount(symbol, weights=weights, minlength=len(codes)).astype(np.int64)
    return np.asarray(codes, dtype=np.int64) ^ masks


def _send_iid(frames, levels, mapping, ber, seed, key, start, payload_code):
    gray = is_gray(mapping)
    codes = to_codewords(frames, gray)
    layout = PayloadLayout(codes.shape[1], levels, payload_code)
    flips = [iid_flip_positions(layout.bits, ber, make_generator(frame_seed(seed, *key, start + i)))
             for i in range(len(codes))]
    if layout.code == "plain":
        for i, positions in enumerate(flips):
            codes[i] = flip_codewords(codes[i], layout.k, positions)
        return from_codewords(codes, gray)
    bits = layout.to_bits(torch.from_numpy(codes)).numpy()
    for i, positions in enumerate(flips):
        bits[i, positions] ^= 1
    return from_codewords(layout.from_bits(torch.from_numpy(bits)).numpy(), gray)


def send_symbols(frames, levels, mapping, channel, ber, seed, key=(), start=0, payload_code="plain"):
    """Received symbols of ``frames`` (int array [B, n], one frame a row) over ``channel`` at ``ber``.

    Row ``i`` is image ``start + i`` and is sent with seed ``frame_seed(seed, *key, start + i)``;
    the payload bits are laid out by ``payload_code`` (``channel.payload``).
    """
    frames = np.asarray(frames, dtype=np.int64)
    if float(ber) == 0.0:
        return frames.copy()
    if channel == "iid":
        return _send_iid(frames, levels, mapping, float(ber), seed, key, start, payload_code)
    link = make_channel(channel, float(ber))
    out = np.empty_like(frames)
    for i, row in enumerate(frames):
        out[i] = symbols_through_channel(row, levels, mapping, link, frame_seed(seed, *key, start + i),
                                         payload_code=payload_code).symbols
    return out


def send_packets(frames, levels, mapping, channel, ber, seed, mtu, key=(), start=0, payload_code="plain"):
    """``(symbols, erased)`` of ``frames`` (int [B, n]) sent as packets of ``mtu`` bytes over ``channel`` at ``ber``.

    Row ``i`` is image ``start + i``, sent with seed ``frame_seed(seed, *key, start + i)``
    (``channel.link.symbols_through_channel``, payload laid out by ``payload_code``);
    ``erased`` is True for the symbols of packets whose header did not decode.
    """
    frames = np.asarray(frames, dtype=np.int64)
    if float(ber) == 0.0:
        return frames.copy(), np.zeros(frames.shape, dtype=bool)
    link = make_channel(channel, float(ber))
    symbols, erased = np.empty_like(frames), np.empty(frames.shape, dtype=bool)
    for i, row in enumerate(frames):
        symbols[i], erased[i] = symbols_through_channel(row, levels, mapping, link,
                                                        frame_seed(seed, *key, start + i), mtu,
                                                        payload_code=payload_code)
    return symbols, erased


def lost_symbols(n_frames, layout, mtu, rate, seed, key=(), start=0):
    """Bool [n_frames, layout.n]: True where a symbol's packet was lost (``rate`` per packet).

    Frame ``i`` (image ``start + i``) draws its ``packet_count`` losses with seed
    ``frame_seed(seed, *key, start + i)``; a symbol whose span (``PayloadLayout.spans``)
    straddles two packets is lost with either.
    """
    n_symbols = layout.n
    first, last = layout.symbol_packets(mtu)
    count = packet_count(layout.n_bytes, mtu)
    out = np.empty((n_frames, n_symbols), dtype=bool)
    for i in range(n_frames):
        lost = erasure_mask(count, rate, frame_seed(seed, *key, start + i))
        out[i] = lost[first] | lost[last]
    return out
