"""Board commands of the serial protocol (docs/protocol.md, "Commands").

:meth:`Board.command` sends one request and returns the result bytes of an ok
response. It keeps apart three failures:

- a response that is bad on the wire (CRC, echo, length): :class:`ProtocolError`,
  retried, since every command is idempotent;
- the device answering with a failure status: :class:`BoardError` naming the status;
- silence: retried, then :class:`BoardError` saying the board does not answer.
"""

import struct
import time
from collections import deque
from dataclasses import dataclass
from enum import IntEnum, IntFlag

import numpy as np

from semanticnn.bench.framing import MAX_PAYLOAD_BYTES, FrameReader, FrameTimeout, build_frame
from semanticnn.bench.timeouts import (
    COMMAND_ATTEMPTS,
    DEFAULT_BAUD,
    INFER_TIMEOUT_S,
    RESPONSE_TIMEOUT_S,
    WIRE_TIME_MARGIN,
    wire_time,
)
from semanticnn.errors import BoardError, ProtocolError

__all__ = [
    "Cmd",
    "Status",
    "LatencyUnit",
    "ClockSource",
    "Cache",
    "LOAD_CHUNK_BYTES",
    "OUTPUT_CHUNK_BYTES",
    "BoardInfo",
    "InferResult",
    "Board",
]

LOAD_CHUNK_BYTES = 1024
OUTPUT_CHUNK_BYTES = 1024


class Cmd(IntEnum):
    """Command codes."""

    INFO = 0x01
    LOAD = 0x02
    INFER = 0x03
    PACKET = 0x04
    OUTPUT = 0x05
    LAYERS = 0x06


class Status(IntEnum):
    """First byte of every response payload."""

    OK = 0
    BAD_FRAME = 1
    UNKNOWN_COMMAND = 2
    BAD_ARGUMENT = 3
    NOT_READY = 4


class LatencyUnit(IntEnum):
    """What INFER's ``latency`` counts."""

    INSTRUCTIONS = 0
    CYCLES = 1


class ClockSource(IntEnum):
    """Where INFO's ``core_clock_hz`` comes from (``enum snn_clock_source`` in protocol.h)."""

    FIXED = 0
    PLL = 1
    HSI_FALLBACK = 2


class Cache(IntFlag):
    """INFO's ``caches`` bits (``SNN_CACHE_*`` in protocol.h)."""

    I = 0x01  # noqa: E741 (the cache's name)
    D = 0x02


_STATUS_HINTS = {
    Status.UNKNOWN_COMMAND: "the firmware is older than snn-bench; rebuild and flash it",
    Status.BAD_ARGUMENT: "the request is out of range; does export.json match the flashed firmware?",
    Status.NOT_READY: "the board lost its state (reset?); run again",
}

_INFO = struct.Struct("<BBIIIIBIHIIIIBB")
_INFER = struct.Struct("<IIHI")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_OUTPUT_REQ = struct.Struct("<IH")
_LAYER = struct.Struct("<II")


@dataclass(frozen=True)
class BoardInfo:
    """The INFO result, field for field."""

    proto_version: int
    latency_unit: int
    core_clock_hz: int
    input_bytes: int
    output_bytes: int
    n_symbols: int
    bits_per_symbol: int
    payload_bytes: int
    mtu: int
    activation_bytes: int
    stack_bytes: int
    model_crc: int
    baud: int
    clock_source: int
    caches: int
    target: str

    @classmethod
    def from_payload(cls, data):
        """Parse an INFO result."""
        if len(data) < _INFO.size:
            raise ProtocolError(
                f"INFO result of {len(data)} bytes is shorter than {_INFO.size}: "
                "the board runs other firmware; flash the SemanticNN build (`make flash`)"
            )
        fields = _INFO.unpack_from(data)
        target = data[_INFO.size:].decode("ascii", errors="replace")
        return cls(*fields, target=target)

    @property
    def latency_unit_name(self):
        """``"instructions"`` or ``"cycles"``."""
        try:
            return LatencyUnit(self.latency_unit).name.lower()
        except ValueError:
            raise ProtocolError(f"INFO reports unknown latency unit {self.latency_unit}: update snn-bench") \
                from None

    @property
    def clock_source_name(self):
        """``"pll"``, ``"hsi_fallback"`` or ``"fixed"``."""
        try:
            return ClockSource(self.clock_source).name.lower()
        except ValueError:
            raise ProtocolError(f"INFO reports unknown clock source {self.clock_source}: update snn-bench") \
                from None

    @property
    def cache_names(self):
        """The caches that are on, e.g. ``["I", "D"]``."""
        return [c.name for c in Cache if self.caches & c]


@dataclass(frozen=True)
class InferResult:
    """The INFER result."""

    latency: int
    stack_peak: int
    n_packets: int
    payload_bytes: int


def _command_name(cmd):
    """``INFO``, ``LOAD``, ... or ``0x7f`` for a code outside the protocol."""
    try:
        return Cmd(cmd).name
    except ValueError:
        return f"0x{cmd:02x}"


class Board:
    """A board (or QEMU, or the fake) behind a :class:`~semanticnn.bench.transport.Transport`.

    ``timeout`` is the wait for a quick response and ``infer_timeout`` the wait for
    INFER, both before wire time at ``baud``; each command is tried ``attempts`` times.
    """

    def __init__(self, transport, *, timeout=RESPONSE_TIMEOUT_S, infer_timeout=INFER_TIMEOUT_S,
                 attempts=COMMAND_ATTEMPTS, baud=DEFAULT_BAUD):
        self.transport = transport
        self._reader = FrameReader(transport)
        self._timeout = timeout
        self._infer_timeout = infer_timeout
        self._attempts = attempts
        self._baud = baud
        self._seq = 0
        self._stale = deque(maxlen=64)
        self._good_frames = 0
        self._info = None

    def close(self):
        """Close the transport."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def command(self, cmd, payload=b"", *, reply_bytes=16):
        """Send ``cmd`` with ``payload``; the result bytes of the ok response.

        ``reply_bytes`` is the expected result size, for the wire-time part of the timeout.
        """
        name = _command_name(cmd)
        request_wire = len(payload) + 16
        base = self._infer_timeout if cmd == Cmd.INFER else self._timeout
        limit = base + WIRE_TIME_MARGIN * wire_time(request_wire + reply_bytes + 16, self._baud)
        last_error = None
        for _ in range(self._attempts):
            self._reader.discard()
            seq = self._next_seq()
            while (cmd, seq) in self._stale:
                self._stale.remove((cmd, seq))
            self.transport.write(build_frame(cmd, seq, payload))
            try:
                status, result = self._await_response(cmd, seq, limit)
            except (FrameTimeout, ProtocolError) as exc:
                last_error = exc
                continue
            finally:
                self._stale.append((cmd, seq))
            if status == Status.OK:
                return result
            if status == Status.BAD_FRAME:
                last_error = ProtocolError(f"board got {name} corrupted: check the baud rate and cable")
                continue
            raise self._status_error(cmd, status)
        raise self._give_up(cmd, last_error)

    def _await_response(self, cmd, seq, limit):
        """``(status, result)`` of the response to ``(cmd, seq)``; stale responses are skipped."""
        deadline = time.monotonic() + limit
        while True:
            frame = self._reader.read_frame(max(deadline - time.monotonic(), 0.0))
            self._good_frames += 1
            if (frame.cmd, frame.seq) in self._stale:
                continue
            if frame.cmd != cmd or frame.seq != seq:
                name = _command_name(cmd)
                raise ProtocolError(
                    f"response to {name} seq {seq} echoes cmd 0x{frame.cmd:02x} seq {frame.seq}: "
                    "another program may be talking to the board"
                )
            if not frame.payload:
                raise ProtocolError(f"{_command_name(cmd)} response has no status byte: update the firmware")
            return frame.payload[0], frame.payload[1:]

    def _next_seq(self):
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFF
        return seq

    @staticmethod
    def _status_error(cmd, status):
        name = _command_name(cmd)
        try:
            hint = _STATUS_HINTS[Status(status)]
        except (ValueError, KeyError):
            return ProtocolError(f"board answered {name} with unknown status {status}: update snn-bench")
        return BoardError(f"board rejected {name} with status {Status(status).name}: {hint}")

    def _give_up(self, cmd, last_error):
        port = self.transport.name
        name = _command_name(cmd)
        if not isinstance(last_error, FrameTimeout):
            return ProtocolError(f"{name} on {port} failed {self._attempts} times; last: {last_error}")
        if self._reader.bytes_received == 0:
            return BoardError(
                f"board on {port} does not answer: is the SemanticNN firmware flashed? try `make flash`"
            )
        if self._good_frames == 0:
            return ProtocolError(
                f"board on {port} sends bytes but no valid frame: check --baud "
                f"(this port runs at {self._baud}) and that it runs SemanticNN firmware"
            )
        return BoardError(
            f"board on {port} stopped answering {name} after {self._attempts} tries: "
            "reset the board (or restart QEMU) and run again"
        )

    def info(self):
        """Read INFO; checks the protocol version."""
        info = BoardInfo.from_payload(self.command(Cmd.INFO, reply_bytes=64))
        if info.proto_version != 1:
            raise ProtocolError(
                f"board firmware speaks protocol version {info.proto_version}, snn-bench speaks 1: "
                "rebuild and flash the firmware with this toolchain"
            )
        self._info = info
        return info

    def load_input(self, data):
        """Write the whole int8 input tensor in LOAD chunks of at most ``LOAD_CHUNK_BYTES``."""
        data = bytes(data)
        for offset in range(0, len(data), LOAD_CHUNK_BYTES):
            chunk = data[offset:offset + LOAD_CHUNK_BYTES]
            result = self.command(Cmd.LOAD, _U32.pack(offset) + chunk, reply_bytes=_U32.size)
            if len(result) != _U32.size:
                raise ProtocolError(f"LOAD result of {len(result)} bytes, expected 4: update the firmware")
            (loaded,) = _U32.unpack(result)
            if loaded < offset + len(chunk):
                raise ProtocolError(
                    f"board reports {loaded} input bytes loaded after writing {offset + len(chunk)}: "
                    "the input did not arrive whole; run again"
                )

    def infer(self, frame_id):
        """Run INFER on the loaded input."""
        result = self.command(Cmd.INFER, _U16.pack(frame_id & 0xFFFF), reply_bytes=_INFER.size)
        if len(result) != _INFER.size:
            raise ProtocolError(f"INFER result is {len(result)} bytes, not {_INFER.size}: update firmware")
        return InferResult(*_INFER.unpack(result))

    def packet(self, index):
        """Bytes of packet ``index`` (header + payload) of the last INFER."""
        mtu = self._info.mtu if self._info else MAX_PAYLOAD_BYTES
        data = self.command(Cmd.PACKET, _U16.pack(index), reply_bytes=mtu)
        if len(data) > mtu:
            raise ProtocolError(f"packet {index} of {len(data)} bytes exceeds MTU {mtu}: update the firmware")
        return data

    def read_output(self, n_bytes):
        """Read the first ``n_bytes`` of the int8 output tensor, in OUTPUT chunks."""
        out = bytearray()
        for offset in range(0, n_bytes, OUTPUT_CHUNK_BYTES):
            length = min(OUTPUT_CHUNK_BYTES, n_bytes - offset)
            data = self.command(Cmd.OUTPUT, _OUTPUT_REQ.pack(offset, length), reply_bytes=length)
            if len(data) != length:
                raise ProtocolError(
                    f"OUTPUT at {offset} returned {len(data)} bytes, asked for {length}: update the firmware"
                )
            out += data
        return np.frombuffer(bytes(out), dtype=np.int8)

    def layers(self):
        """Per layer of the last INFER, in execution order: ``[(latency, macs)]``."""
        data = self.command(Cmd.LAYERS, b"", reply_bytes=MAX_PAYLOAD_BYTES)
        if len(data) < _U16.size:
            raise ProtocolError(f"LAYERS result of {len(data)} bytes has no layer count: update the firmware")
        (n,) = _U16.unpack_from(data)
        if len(data) != _U16.size + n * _LAYER.size:
            raise ProtocolError(f"LAYERS result of {len(data)} bytes does not hold {n} layers: update the firmware")
        return [_LAYER.unpack_from(data, _U16.size + i * _LAYER.size) for i in range(n)]

    def run_sample(self, input_bytes, frame_id):
        """LOAD, INFER, every PACKET and the whole OUTPUT: ``(InferResult, [packet], int8 array)``."""
        info = self._info or self.info()
        self.load_input(input_bytes)
        result = self.infer(frame_id)
        packets = [self.packet(i) for i in range(result.n_packets)]
        return result, packets, self.read_output(info.output_bytes)
