"""Packetiser of the symbol bitstream (docs/design.md, "Symbols, bits, packets").

A packet is a 7-byte big-endian header followed by at most ``mtu - 7`` payload
bytes::

    frame_id:u16  fragment:u8  count:u8  length:u16  crc8:u8

``crc8`` (poly 0x07, init 0, no reflection, no xor-out) covers header bytes 0..5
only, so payload bit errors reach the decoder. Mirror of ``snn_packetize`` in
``toolchain/semanticnn/firmware/templates/src/sq.c``.

The receiver repairs one flipped header bit (``correct_header``): over the 56
header bits every single-bit error leaves its own non-zero syndrome
``crc8(bytes 0..5) ^ byte 6``. ``parse_header`` alone stays strict.
"""

import struct
from dataclasses import dataclass

import numpy as np

from semanticnn.errors import ConfigError, ProtocolError

__all__ = [
    "HEADER_BYTES",
    "DEFAULT_MTU",
    "Header",
    "Reassembled",
    "correct_header",
    "crc8",
    "packet_count",
    "packetize",
    "parse_header",
    "reassemble",
]

HEADER_BYTES = 7
DEFAULT_MTU = 51  # LoRa EU868 SF12
_HEADER = struct.Struct(">HBBH")


@dataclass(frozen=True)
class Header:
    """A parsed packet header."""

    frame_id: int
    fragment: int
    count: int
    length: int


@dataclass(frozen=True)
class Reassembled:
    """A bitstream rebuilt from packets: missing bytes are zero and False in ``received``."""

    data: bytes
    received: np.ndarray  # bool per byte of data
    missing: tuple[int, ...]  # fragment indices that never arrived intact


def crc8(data: bytes) -> int:
    """CRC-8: poly ``x^8 + x^2 + x + 1`` (0x07), init 0x00, MSB first, no final xor."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _syndrome_bits() -> dict[int, int]:
    """Syndrome of a one-bit error -> its bit position in the header (0 = MSB of byte 0)."""
    table = {}
    for position in range(8 * HEADER_BYTES):
        error = bytearray(HEADER_BYTES)
        error[position // 8] = 0x80 >> (position % 8)
        table[crc8(bytes(error[:6])) ^ error[6]] = position
    return table


_SYNDROME_BIT = _syndrome_bits()


def packet_count(n_bytes: int, mtu: int) -> int:
    """Packets for ``n_bytes`` of bitstream: ``ceil(n_bytes / (mtu - 7))``."""
    return -(-n_bytes // (mtu - HEADER_BYTES))


def packetize(bitstream: bytes, frame_id: int, mtu: int = DEFAULT_MTU) -> list[bytes]:
    """Cut ``bitstream`` into packets of at most ``mtu`` bytes (header included)."""
    if mtu <= HEADER_BYTES:
        raise ConfigError(f"mtu {mtu} leaves no room after the {HEADER_BYTES}-byte header")
    room = mtu - HEADER_BYTES
    count = packet_count(len(bitstream), mtu)
    if count > 255:
        raise ConfigError(f"{len(bitstream)} bytes need {count} packets of mtu {mtu}; at most 255 fit")
    packets = []
    for i in range(count):
        payload = bytes(bitstream[i * room : (i + 1) * room])
        head = _HEADER.pack(frame_id & 0xFFFF, i, count, len(payload))
        packets.append(head + bytes([crc8(head)]) + payload)
    return packets


def correct_header(packet: bytes) -> tuple[bytes, bool]:
    """``(packet, corrected)``: ``packet`` with a single flipped header bit put back.

    A header that passes its CRC-8 comes back unchanged. One that fails is
    repaired when its syndrome names one bit and the repaired header is
    consistent (``count >= 1``, ``fragment < count``, ``length`` no more than
    the payload bytes present); otherwise ProtocolError.
    """
    _check_length(packet)
    syndrome = crc8(packet[:6]) ^ packet[6]
    if syndrome == 0:
        return bytes(packet), False
    position = _SYNDROME_BIT.get(syndrome)
    if position is None:
        raise ProtocolError(f"packet header CRC-8 mismatch (syndrome 0x{syndrome:02x}) is not a single-bit error")
    fixed = bytearray(packet)
    fixed[position // 8] ^= 0x80 >> (position % 8)
    head = Header(*_HEADER.unpack(fixed[:6]))
    if head.count < 1 or head.fragment >= head.count or head.length > len(packet) - HEADER_BYTES:
        raise ProtocolError(f"packet header with bit {position} repaired is inconsistent: {head}")
    return bytes(fixed), True


def _check_length(packet: bytes):
    if len(packet) < HEADER_BYTES:
        raise ProtocolError(f"packet of {len(packet)} bytes is shorter than the {HEADER_BYTES}-byte header")


def parse_header(packet: bytes) -> Header:
    """Header of a packet; raises ProtocolError if it is short or fails its CRC-8 (no repair)."""
    if len(packet) < HEADER_BYTES:
        raise ProtocolError(f"packet of {len(packet)} bytes is shorter than the {HEADER_BYTES}-byte header")
    if crc8(packet[:6]) != packet[6]:
        raise ProtocolError(
            f"packet header CRC-8 mismatch: got 0x{packet[6]:02x}, want 0x{crc8(packet[:6]):02x}"
        )
    return Header(*_HEADER.unpack(packet[:6]))


def reassemble(packets, total_bytes: int, mtu: int = DEFAULT_MTU) -> Reassembled:
    """Rebuild a ``total_bytes`` bitstream; fragment ``i`` sits at ``i * (mtu - 7)``.

    Headers with one flipped bit are repaired (``correct_header``). Packets
    that are None, whose header cannot be repaired, or that claim an
    out-of-range position are treated as lost; their bytes stay zero and are marked missing.
    """
    room = mtu - HEADER_BYTES
    count = packet_count(total_bytes, mtu)
    data = bytearray(total_bytes)
    received = np.zeros(total_bytes, dtype=bool)
    got = set()
    for packet in packets:
        if packet is None:
            continue
        try:
            packet, _ = correct_header(packet)
        except ProtocolError:
            continue
        head = parse_header(packet)
        start = head.fragment * room
        payload = packet[HEADER_BYTES : HEADER_BYTES + head.length]
        if head.fragment >= count or len(payload) != head.length or start + head.length > total_bytes:
            continue
        data[start : start + head.length] = payload
        received[start : start + head.length] = True
        got.add(head.fragment)
    missing = tuple(i for i in range(count) if i not in got)
    return Reassembled(bytes(data), received, missing)
