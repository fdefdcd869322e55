"""Frames of the serial protocol (docs/protocol.md, "Framing").

``wire = COBS(body) 0x00`` with ``body = version cmd seq payload crc32_le``. COBS
removes every zero from the body, so a zero byte ends a frame and a reader that
got garbage is back in step at the next zero.
"""

import struct
import time
import zlib
from dataclasses import dataclass

from semanticnn.errors import BoardError, ProtocolError

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_BODY_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_RESULT_BYTES",
    "Frame",
    "FrameTimeout",
    "FrameReader",
    "cobs_encode",
    "cobs_decode",
    "crc32",
    "build_frame",
    "parse_frame",
]

PROTOCOL_VERSION = 1
MAX_BODY_BYTES = 1280
_HEADER = struct.Struct("<BBB")
_CRC = struct.Struct("<I")
MAX_PAYLOAD_BYTES = MAX_BODY_BYTES - _HEADER.size - _CRC.size
MAX_RESULT_BYTES = MAX_PAYLOAD_BYTES - 1
"""Largest result in a response: its payload less the status byte."""
MAX_WIRE_BYTES = MAX_BODY_BYTES + MAX_BODY_BYTES // 254 + 1
"""Longest COBS encoding of a legal body, delimiter not counted."""

_LINK_HINT = "the link is corrupting bytes; check the baud rate and the cable"


class FrameTimeout(BoardError):
    """No whole frame arrived before the deadline."""


@dataclass(frozen=True)
class Frame:
    """A decoded frame whose version and CRC were good."""

    cmd: int
    seq: int
    payload: bytes


def crc32(data):
    """CRC-32 (IEEE 802.3, reflected, init and xor-out 0xFFFFFFFF) of ``data``."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data):
    """COBS-encode ``data``: the result holds no zero byte (the delimiter is not added)."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            continue
        block.append(byte)
        if len(block) == 254:
            out.append(255)
            out += block
            block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data):
    """Undo :func:`cobs_encode`; a malformed encoding raises :class:`ProtocolError`."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        end = i + code
        if code == 0 or end > len(data) or 0 in data[i + 1:end]:
            raise ProtocolError(f"malformed COBS frame at byte {i}: {_LINK_HINT}")
        out += data[i + 1:end]
        i = end
        if code != 255 and i < len(data):
            out.append(0)
    return bytes(out)


def build_frame(cmd, seq, payload=b""):
    """Wire bytes of one frame, delimiter included."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    head = _HEADER.pack(PROTOCOL_VERSION, cmd, seq) + bytes(payload)
    return cobs_encode(head + _CRC.pack(crc32(head))) + b"\x00"


def parse_frame(encoded):
    """Decode the bytes between two delimiters into a :class:`Frame`."""
    body = cobs_decode(encoded)
    if len(body) < _HEADER.size + _CRC.size:
        raise ProtocolError(f"frame of {len(body)} bytes is shorter than 7: {_LINK_HINT}")
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes is longer than {MAX_BODY_BYTES}: {_LINK_HINT}")
    (crc,) = _CRC.unpack_from(body, len(body) - _CRC.size)
    head = body[:-_CRC.size]
    if crc != crc32(head):
        raise ProtocolError(f"frame CRC 0x{crc:08x} should be 0x{crc32(head):08x}: {_LINK_HINT}")
    version, cmd, seq = _HEADER.unpack_from(head)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"board speaks protocol version {version}, snn-bench speaks {PROTOCOL_VERSION}: "
            "flash firmware built by this toolchain (`make flash`)"
        )
    return Frame(cmd, seq, bytes(head[_HEADER.size:]))


class FrameReader:
    """Cuts the byte stream of a transport into frames.

    A bad frame (CRC, version, COBS, length) raises :class:`ProtocolError` after it
    has been consumed, so the next :meth:`read_frame` starts on a frame boundary.
    ``bytes_received`` counts every byte seen, garbage included.
    """

    def __init__(self, transport):
        self._transport = transport
        self._buffer = bytearray()
        self._oversized = False
        self.bytes_received = 0

    def read_frame(self, timeout):
        """Return the next good frame; :class:`FrameTimeout` if none is whole within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._buffer.find(0)
            if end >= 0:
                encoded = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                if self._oversized:
                    self._oversized = False
                    raise ProtocolError(f"frame longer than {MAX_BODY_BYTES} bytes dropped: {_LINK_HINT}")
                if encoded:
                    return parse_frame(encoded)
                continue
            if len(self._buffer) > MAX_WIRE_BYTES:
                self._buffer.clear()
                self._oversized = True
            left = deadline - time.monotonic()
            if left <= 0:
                raise FrameTimeout(f"no frame from {self._transport.name} within {timeout:g} s")
            data = self._transport.read_some(left)
            self.bytes_received += len(data)
            self._buffer += data

    def discard(self):
        """Forget buffered bytes and everything the transport holds (before a retry)."""
        self._buffer.clear()
        self._oversized = False
        self._transport.discard_input()
