"""Real packets through a channel, and symbols end to end as the firmware sends them.

``transmit`` sends a list of packets as one bit stream (packet after packet,
headers included, so a Gilbert-Elliott burst can straddle two packets), then
loses whole packets at ``erasure_rate``. Header bits are flipped like any other
bits; the receiver (``packets.reassemble``, ``edge.FrameAssembler``) drops a packet
whose header it can neither decode nor rescue, exactly as a real receiver would:
its fragment index cannot be trusted, so the fragment cannot be placed. Payload
errors pass through to the decoder (docs/design.md). This makes the packet-loss
rate grow with BER, as on a real link, instead of pretending headers are
error-free.

``symbols_through_channel`` is the whole path:
symbols -> code words -> payload bytes (``channel.payload``) -> (packets at ``mtu``)
-> channel -> reassemble -> payload decode -> symbols, with a mask of the symbols
that never arrived.
"""

from typing import NamedTuple

import numpy as np

from semanticnn.channel.bits import from_codewords, is_gray, to_codewords
from semanticnn.channel.erasure import erasure_mask
from semanticnn.channel.models import make_generator
from semanticnn.channel.packets import packetize, reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError

__all__ = ["Received", "transmit", "symbols_through_channel"]


class Received(NamedTuple):
    """Symbols after the channel; ``erased`` is True where a symbol's bits were lost.

    Erased symbols hold the index of the all-zero code word (symbol 0); the
    decoder should use ``erased``, not the value.
    """

    symbols: np.ndarray
    erased: np.ndarray


def transmit(packets, channel, seed, erasure_rate=0.0) -> list:
    """Packets after ``channel`` and erasures: bytes (headers as they arrived), or None if lost.

    ``seed`` is an int or a ``torch.Generator``; bit errors are drawn first, then
    erasures, from the same generator.
    """
    generator = make_generator(seed)
    packets = [bytes(p) for p in packets]
    noisy = channel.corrupt_bytes(b"".join(packets), generator)
    bounds = np.cumsum([0] + [len(p) for p in packets])
    lost = erasure_mask(len(packets), erasure_rate, generator)
    out = []
    for i, gone in enumerate(lost):
        packet = noisy[bounds[i] : bounds[i + 1]]
        out.append(None if gone else packet)
    return out


def symbols_through_channel(symbols, levels, mapping, channel, seed, mtu=None, erasure_rate=0.0,
                            payload_code="plain") -> Received:
    """Send ``symbols`` (any shape, C order = transmission order, NHWC) as the firmware does.

    Without ``mtu`` the packed bitstream alone goes through ``channel`` (nothing
    is erased); with it, the stream is cut into packets of ``mtu`` bytes
    (frame id 0), sent with ``transmit`` and reassembled as frame 0 (a packet whose
    header names another frame id, or is rescued to one, is lost, as a receiver files
    it elsewhere). The payload is laid out by ``payload_code`` (``channel.payload``).
    Returns ``Received`` with both arrays shaped like ``symbols``.
    """
    s = np.asarray(symbols, dtype=np.int64)
    layout = PayloadLayout(s.size, levels, payload_code)
    gray = is_gray(mapping)
    stream = layout.pack(to_codewords(s, gray))
    if mtu is None:
        if erasure_rate:
            raise ConfigError("packet erasures need an mtu: pass mtu= with erasure_rate")
        noisy = channel.corrupt_bytes(stream, make_generator(seed))
        received = np.ones(len(stream), dtype=bool)
    else:
        sent = transmit(packetize(stream, 0, mtu), channel, seed, erasure_rate)
        rebuilt = reassemble(sent, len(stream), mtu, frame_id=0)
        noisy, received = rebuilt.data, rebuilt.received
    out = from_codewords(layout.unpack(noisy), gray).reshape(s.shape)
    erased = ~layout.received(received).reshape(s.shape)
    return Received(out, erased)
