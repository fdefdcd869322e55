"""Packetiser of the symbol bitstream (docs/design.md, "Symbols, bits, packets"; docs/protocol.md).

Header format v2: ``HEADER_BYTES = 6``, two extended Golay(24, 12) code words
(``channel.golay``), each 3 bytes big-endian ``[12 info bits | 12 parity bits]``::

    word 0 info: frame_id mod 4096
    word 1 info: fragment (6 bits, high) | count - 1 (6 bits, low)     1..64 packets a frame

There is no length field and no CRC: a packet's payload is the rest of the packet
(the link gives packet lengths), fragment ``i`` carries bitstream bytes from
``i * (mtu - 6)``, and the receiver knows ``mtu`` and the bitstream size from the
manifest. ``decode_header`` corrects up to 3 flipped bits in each word and rejects a
packet whose word it cannot correct (4 flips are always detected) or whose fragment is
not below its count; ``reassemble`` also drops a packet whose count or length is not the
one its frame has. Such a packet is not lost yet: ``rescue_header`` matches its header
against the few the receiver expects (its frame ids, the fragments of that length)
and keeps it if one is clearly nearest.
Payload bit errors reach the decoder untouched. Mirror of
``snn_packetize`` in ``toolchain/semanticnn/firmware/templates/src/sq.c``, which encodes
with the same ``golay.PARITY_ROWS`` (printed into the generated ``snn_packet.h``).
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from semanticnn.channel import golay
from semanticnn.errors import ConfigError, ProtocolError

__all__ = [
    "HEADER_VERSION",
    "HEADER_BYTES",
    "WORD_BYTES",
    "FRAME_ID_BITS",
    "FRAGMENT_BITS",
    "MAX_PACKETS",
    "FRAME_ID_MODULO",
    "DEFAULT_MTU",
    "RESCUE_WORD_BITS",
    "Header",
    "Reassembled",
    "decode_header",
    "encode_header",
    "fragment_span",
    "fits_frame",
    "min_mtu",
    "check_packet_count",
    "packet_count",
    "packetize",
    "reassemble",
    "rescue_header",
    "trusted_header",
    "expected_ids",
]

HEADER_VERSION = 2
WORD_BYTES = golay.WORD_BITS // 8
HEADER_BYTES = 2 * WORD_BYTES
FRAME_ID_BITS = golay.INFO_BITS
FRAGMENT_BITS = golay.INFO_BITS // 2  # word 1 holds fragment and count - 1, 6 bits each
MAX_PACKETS = 1 << FRAGMENT_BITS
FRAME_ID_MODULO = 1 << FRAME_ID_BITS
DEFAULT_MTU = 51  # LoRa EU868 SF12

RESCUE_WORD_BITS = 7
"""The most bits each Golay word of a rescued header may differ in from the expected header's.

A word of ours has more than 7 of its 24 bits flipped with p = 1.7e-3 at BER 1e-1 (1.4e-5
at 5e-2); a word of 24 random bits lies within 7 bits of a given code word with p = 3.2%.
"""


@dataclass(frozen=True)
class Header:
    """A decoded packet header: frame id (mod 4096), fragment index, fragments in the frame."""

    frame_id: int
    fragment: int
    count: int


@dataclass(frozen=True)
class Reassembled:
    """A bitstream rebuilt from packets: missing bytes are zero and False in ``received``."""

    data: bytes
    received: np.ndarray  # bool per byte of data
    missing: tuple[int, ...]  # fragment indices that never arrived intact


def packet_count(n_bytes: int, mtu: int) -> int:
    """Packets for ``n_bytes`` of bitstream: ``ceil(n_bytes / (mtu - 6))``."""
    return -(-n_bytes // (mtu - HEADER_BYTES))


def min_mtu(n_bytes: int) -> int:
    """Smallest mtu that sends ``n_bytes`` in at most ``MAX_PACKETS`` packets."""
    return -(-n_bytes // MAX_PACKETS) + HEADER_BYTES


def check_packet_count(n_bytes: int, mtu: int, option: str = "mtu"):
    """ConfigError unless ``n_bytes`` fit ``MAX_PACKETS`` packets of ``mtu`` bytes (and one byte of payload fits)."""
    if mtu <= HEADER_BYTES:
        raise ConfigError(f"{option} {mtu} leaves no room after the {HEADER_BYTES}-byte header: "
                          f"pass {max(HEADER_BYTES + 1, min_mtu(n_bytes))} or more")
    count = packet_count(n_bytes, mtu)
    if count > MAX_PACKETS:
        raise ConfigError(f"{option} {mtu} cuts the {n_bytes}-byte bitstream into {count} packets, the header "
                          f"counts at most {MAX_PACKETS}: pass {min_mtu(n_bytes)} or more")


def fragment_span(fragment: int, n_bytes: int, mtu: int) -> tuple[int, int]:
    """``(start, length)`` in the bitstream of fragment ``fragment`` of an ``n_bytes`` stream."""
    room = mtu - HEADER_BYTES
    start = fragment * room
    return start, min(room, n_bytes - start)


def fits_frame(head: Header, packet: bytes, n_bytes: int, mtu: int) -> bool:
    """True if ``packet`` (header ``head``) has the packet count and fragment length of an ``n_bytes`` stream."""
    _, length = fragment_span(head.fragment, n_bytes, mtu)
    return head.count == packet_count(n_bytes, mtu) and len(packet) == HEADER_BYTES + length


def encode_header(frame_id: int, fragment: int, count: int) -> bytes:
    """The 6 header bytes: Golay words of ``frame_id mod 4096`` and ``fragment << 6 | count - 1``."""
    if not 0 <= fragment < count <= MAX_PACKETS:
        raise ConfigError(f"fragment {fragment} of {count}: a frame has 1 to {MAX_PACKETS} fragments")
    words = (frame_id % FRAME_ID_MODULO, fragment << FRAGMENT_BITS | (count - 1))
    return b"".join(golay.encode(info).to_bytes(WORD_BYTES, "big") for info in words)


def decode_header(packet: bytes) -> tuple[Header, int]:
    """``(header, bits corrected)`` of a packet.

    ProtocolError if the packet is shorter than a header, a Golay word has more than 3
    bit errors, or the fragment is not below the count.
    """
    if len(packet) < HEADER_BYTES:
        raise ProtocolError(f"packet of {len(packet)} bytes is shorter than the {HEADER_BYTES}-byte header")
    infos, corrected = [], 0
    for w in range(2):
        decoded = golay.decode(int.from_bytes(packet[w * WORD_BYTES : (w + 1) * WORD_BYTES], "big"))
        if decoded is None:
            raise ProtocolError(f"packet header word {w} has more than {golay.CORRECTABLE} bit errors")
        infos.append(decoded[0])
        corrected += decoded[1]
    fragment, count = infos[1] >> FRAGMENT_BITS, (infos[1] & (MAX_PACKETS - 1)) + 1
    if fragment >= count:
        raise ProtocolError(f"packet header names fragment {fragment} of a {count}-packet frame")
    return Header(infos[0], fragment, count), corrected


@lru_cache(maxsize=4096)
def _header_words(frame_id, fragment, count):
    """The two Golay words of ``encode_header`` as ints (rescue compares many packets with the same few headers)."""
    raw = encode_header(frame_id, fragment, count)
    return tuple(int.from_bytes(raw[w * WORD_BYTES : (w + 1) * WORD_BYTES], "big") for w in range(2))


def rescue_header(packet: bytes, frame_ids, n_bytes: int, mtu: int) -> tuple[Header, int] | None:
    """``(header, bits differing)`` of the expected header nearest to ``packet``'s, or None.

    For a packet whose header does not decode (4 or more bit errors in a Golay word) or
    decodes to a count or length that is not its frame's (5 or more, miscorrected): the
    expected headers are each of ``frame_ids`` with each fragment of an ``n_bytes`` stream
    at ``mtu`` that is ``len(packet)`` long. Those within ``RESCUE_WORD_BITS`` of the
    packet's header in each word are candidates; the nearest over both words is taken if
    it is strictly nearer than every other candidate (expected headers differ in 8 bits
    or more, so a tie is a coin toss: the packet stays lost).
    """
    count = packet_count(n_bytes, mtu)
    if len(packet) < HEADER_BYTES or count > MAX_PACKETS:
        return None
    words = [int.from_bytes(packet[w * WORD_BYTES : (w + 1) * WORD_BYTES], "big") for w in range(2)]
    scored = []
    for frame_id in sorted({f % FRAME_ID_MODULO for f in frame_ids}):
        for fragment in range(count):
            if len(packet) != HEADER_BYTES + fragment_span(fragment, n_bytes, mtu)[1]:
                continue
            bits = [(a ^ b).bit_count() for a, b in zip(words, _header_words(frame_id, fragment, count), strict=True)]
            if max(bits) <= RESCUE_WORD_BITS:
                scored.append((sum(bits), Header(frame_id, fragment, count)))
    distances = [d for d, _ in scored]
    if not scored or distances.count(min(distances)) > 1:
        return None
    distance, head = min(scored, key=lambda candidate: candidate[0])
    return head, distance


def packetize(bitstream: bytes, frame_id: int, mtu: int = DEFAULT_MTU) -> list[bytes]:
    """Cut ``bitstream`` into packets of at most ``mtu`` bytes (header included)."""
    check_packet_count(len(bitstream), mtu)
    count = packet_count(len(bitstream), mtu)
    packets = []
    for i in range(count):
        start, length = fragment_span(i, len(bitstream), mtu)
        packets.append(encode_header(frame_id, i, count) + bytes(bitstream[start : start + length]))
    return packets


def trusted_header(packet: bytes, n_bytes: int, mtu: int) -> tuple[Header, int] | None:
    """``decode_header(packet)`` if it decodes and fits an ``n_bytes`` frame at ``mtu``, else None."""
    try:
        head, corrected = decode_header(packet)
    except ProtocolError:
        return None
    return (head, corrected) if fits_frame(head, packet, n_bytes, mtu) else None


def expected_ids(newest: int) -> tuple[int, int, int]:
    """The frame ids a packet is rescued to: ``newest`` and the ids either side of it (mod 4096).

    A device sends one frame at a time, so a packet belongs to the frame on air, the next
    one, or (reordered) the one before.
    """
    return tuple((newest + d) % FRAME_ID_MODULO for d in (-1, 0, 1))


def reassemble(packets, total_bytes: int, mtu: int = DEFAULT_MTU, frame_id: int | None = None) -> Reassembled:
    """Rebuild a ``total_bytes`` bitstream; fragment ``i`` sits at ``i * (mtu - 6)``.

    A packet whose header is not a ``trusted_header`` is rescued (``rescue_header``) to
    the ``expected_ids`` of ``frame_id``, as a streaming receiver does with its newest id
    (``edge.FrameAssembler``); without ``frame_id``, to the ids of the packets whose
    headers are trusted. Packets that are None, that are neither trusted nor rescued, or
    (with ``frame_id``) whose header names another frame (a receiver would file it
    there) are treated as lost: their bytes stay zero and are marked missing.
    """
    count = packet_count(total_bytes, mtu)
    heads = [None if p is None else trusted_header(p, total_bytes, mtu) for p in packets]
    if frame_id is None:
        expected = {h.frame_id for h, _ in filter(None, heads)}
    else:
        expected = expected_ids(frame_id)
    data = bytearray(total_bytes)
    received = np.zeros(total_bytes, dtype=bool)
    got = set()
    for packet, trusted in zip(packets, heads, strict=True):
        if trusted is None and packet is not None:
            trusted = rescue_header(packet, expected, total_bytes, mtu)
        if trusted is None or (frame_id is not None and trusted[0].frame_id != frame_id % FRAME_ID_MODULO):
            continue
        start, length = fragment_span(trusted[0].fragment, total_bytes, mtu)
        data[start : start + length] = packet[HEADER_BYTES:]
        received[start : start + length] = True
        got.add(trusted[0].fragment)
    missing = tuple(i for i in range(count) if i not in got)
    return Reassembled(bytes(data), received, missing)
