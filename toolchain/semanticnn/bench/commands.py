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
    CHUNK_ATTEMPTS,
    CHUNK_GROW_AFTER,
    COMMAND_ATTEMPTS,
    DAMAGED_ATTEMPTS,
    DEFAULT_BAUD,
    FIRST_CONTACT_ATTEMPTS,
    INFER_TIMEOUT_MARGIN,
    INFER_TIMEOUT_S,
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    RECENT_RESPONSES,
    RESPONSE_TIME_MARGIN,
    RESPONSE_TIMEOUT_MAX_S,
    RESPONSE_TIMEOUT_S,
    RETRY_TIMEOUT_GROWTH,
    SAMPLE_ATTEMPTS,
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
    "BoardInfo",
    "InferResult",
    "Board",
    "BoardNotReady",
]

_DELIMITER = b"\x00"  # a lone frame delimiter: the board drops (or answers) whatever frame it had half received


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


class BoardNotReady(BoardError):
    """The board lacks the input or the inference a command needs (NOT_READY, or a short LOAD count)."""


class Board:
    """A board (or QEMU, or the fake) behind a :class:`~semanticnn.bench.transport.Transport`.

    ``timeout`` is the least first wait for a quick response (more after slow responses),
    ``max_timeout`` the longest wait of one try and ``infer_timeout`` the longest wait for
    INFER, all before wire time at ``baud``. A command is tried until ``attempts`` tries went
    unanswered (each waiting longer, ``semanticnn.bench.timeouts``) or ``damaged_attempts`` were
    answered by a damaged frame (retried at once); until the board has sent one good frame,
    ``first_contact_attempts`` unanswered tries end it (a missing board, not a stall).
    ``retries`` counts the tries after the first (and the reruns of a sample),
    ``retried_commands`` the commands that needed them, ``timed_out_tries`` the tries that got
    no answer.
    """

    def __init__(self, transport, *, timeout=RESPONSE_TIMEOUT_S, infer_timeout=INFER_TIMEOUT_S,
                 attempts=COMMAND_ATTEMPTS, baud=DEFAULT_BAUD, max_timeout=RESPONSE_TIMEOUT_MAX_S,
                 first_contact_attempts=FIRST_CONTACT_ATTEMPTS, damaged_attempts=DAMAGED_ATTEMPTS):
        self.transport = transport
        self._reader = FrameReader(transport)
        self._timeout = timeout
        self._infer_timeout = infer_timeout
        self._attempts = attempts
        self._damaged_attempts = damaged_attempts
        self._baud = baud
        self._seq = 0
        self._stale = deque(maxlen=64)
        self._good_frames = 0
        self._info = None
        self._slowest_infer_s = None
        self._max_timeout = max_timeout
        self._first_contact_attempts = first_contact_attempts
        self._recent_s = deque(maxlen=RECENT_RESPONSES)
        self._chunk_bytes = MAX_CHUNK_BYTES
        self._clean_chunks = 0
        self.retries = 0
        self.retried_commands = 0
        self.timed_out_tries = 0

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
        result, last_error, tries = self._tries(cmd, payload, reply_bytes, self._attempts, self._damaged_attempts)
        if last_error is not None:
            raise self._give_up(cmd, last_error, tries)
        return result

    def _tries(self, cmd, payload, reply_bytes, attempts, damaged_attempts):
        """``(result, None, tries)`` of the first ok response, else ``(None, error, tries)``.

        A try that gets no answer counts against ``attempts``, and the next one waits longer
        (:meth:`_try_timeout`). A try answered by a damaged frame (status BAD_FRAME: the board got
        the request damaged; or a response bad on the wire) counts against ``damaged_attempts`` and
        is retried at once. Every retry resynchronises first. A failure status other than BAD_FRAME
        raises at once: asking again cannot change it.
        """
        wire = WIRE_TIME_MARGIN * wire_time(len(payload) + reply_bytes + 32, self._baud)
        last_error, silent, damaged = None, 0, 0
        while silent < attempts and damaged < damaged_attempts:
            if self._good_frames == 0 and silent >= self._first_contact_attempts:
                break
            self._resync(silent + damaged)
            seq = self._next_seq()
            while (cmd, seq) in self._stale:
                self._stale.remove((cmd, seq))
            self.transport.write(build_frame(cmd, seq, payload) + _DELIMITER)  # a 2nd delimiter, if the 1st is lost
            started = time.monotonic()
            try:
                status, result = self._await_response(cmd, seq, self._try_timeout(cmd, silent) + wire)
            except FrameTimeout as exc:
                last_error, silent = exc, silent + 1
                self.timed_out_tries += 1
                continue
            except ProtocolError as exc:
                last_error, damaged = exc, damaged + 1
                continue
            finally:
                self._stale.append((cmd, seq))
            if status == Status.BAD_FRAME:
                name = _command_name(cmd)
                last_error = ProtocolError(f"board got {name} damaged: check the baud rate and cable")
                damaged += 1
                continue
            if status != Status.OK:
                raise self._status_error(cmd, status)
            if cmd == Cmd.INFER:
                self._slowest_infer_s = max(self._slowest_infer_s or 0.0, time.monotonic() - started)
            else:
                self._recent_s.append(time.monotonic() - started)
            self.retried_commands += silent + damaged > 0
            return result, None, silent + damaged + 1
        self.retried_commands += silent + damaged > 1
        return None, last_error, silent + damaged

    def _resync(self, attempt):
        """Before try ``attempt``: drop what arrived; on a retry also end any frame the board half received."""
        self._reader.discard()
        if attempt:
            self.retries += 1
            self.transport.write(_DELIMITER)

    def _try_timeout(self, cmd, attempt):
        """Response wait of try ``attempt`` (0: the first) before wire time, growing by RETRY_TIMEOUT_GROWTH.

        A quick command first waits ``timeout``, or RESPONSE_TIME_MARGIN times the slowest recent response.
        INFER first waits ``infer_timeout``; once one was timed, INFER_TIMEOUT_MARGIN times the slowest.
        """
        growth = RETRY_TIMEOUT_GROWTH ** attempt
        if cmd != Cmd.INFER:
            first = max(self._timeout, RESPONSE_TIME_MARGIN * max(self._recent_s, default=0.0))
            return min(first * growth, max(first, self._max_timeout))
        first = self._infer_timeout
        if self._slowest_infer_s is not None:
            first = min(first, max(self._timeout, INFER_TIMEOUT_MARGIN * self._slowest_infer_s))
        return min(first * growth, self._infer_timeout)

    def _chunked(self, cmd, total, request, reply_bytes):
        """Run ``cmd`` over ``total`` bytes in chunks: yields ``(offset, n, result)`` in order.

        ``request(offset, n)`` is a chunk's payload and ``reply_bytes(n)`` its result size. A chunk
        that gets no answer, or a damaged one, CHUNK_ATTEMPTS times is halved; at MIN_CHUNK_BYTES it
        gets every try. After CHUNK_GROW_AFTER chunks in a row pass on their first try, the chunk
        size doubles back.
        """
        offset = 0
        while offset < total:
            n = min(self._chunk_bytes, total - offset)
            smallest = self._chunk_bytes <= MIN_CHUNK_BYTES
            if smallest:
                attempts, damaged_attempts = self._attempts, self._damaged_attempts
            else:
                attempts = damaged_attempts = min(CHUNK_ATTEMPTS, self._attempts)
            retries = self.retries
            result, error, tries = self._tries(cmd, request(offset, n), reply_bytes(n), attempts, damaged_attempts)
            if error is not None:
                if smallest:
                    raise self._give_up(cmd, error, tries)
                self.retries += 1  # the halved chunk's first try sends the same bytes again
                self._chunk_bytes = max(MIN_CHUNK_BYTES, self._chunk_bytes // 2)
                self._clean_chunks = 0
                continue
            self._clean_chunks = self._clean_chunks + 1 if self.retries == retries else 0
            if self._clean_chunks >= CHUNK_GROW_AFTER and self._chunk_bytes < MAX_CHUNK_BYTES:
                self._chunk_bytes, self._clean_chunks = self._chunk_bytes * 2, 0
            yield offset, n, result
            offset += n

    def _await_response(self, cmd, seq, limit):
        """``(status, result)`` of the response to ``(cmd, seq)``; stale responses are skipped.

        A BAD_FRAME answer is taken whatever it echoes: the board copies cmd and seq from a
        request it got damaged, so they may be wrong, even equal to a stale pair.
        """
        deadline = time.monotonic() + limit
        while True:
            frame = self._reader.read_frame(max(deadline - time.monotonic(), 0.0))
            self._good_frames += 1
            if frame.payload[:1] == bytes([Status.BAD_FRAME]):
                return Status.BAD_FRAME, b""
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
        error = BoardNotReady if status == Status.NOT_READY else BoardError
        return error(f"board rejected {name} with status {Status(status).name}: {hint}")

    def _give_up(self, cmd, last_error, tries):
        port = self.transport.name
        name = _command_name(cmd)
        if not isinstance(last_error, FrameTimeout):
            return ProtocolError(f"{name} on {port} failed {tries} times; last: {last_error}")
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
            f"board on {port} stopped answering {name} after {tries} tries: "
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
        """Write the whole int8 input tensor in LOAD chunks (:meth:`_chunked`), from offset 0 (a new image).

        Each chunk's result is the count of bytes of the image the board holds; fewer than were
        sent means it lost the start of the image (a reset): :class:`BoardNotReady`.
        """
        data = bytes(data)
        chunks = self._chunked(Cmd.LOAD, len(data), lambda o, n: _U32.pack(o) + data[o:o + n], lambda n: _U32.size)
        for offset, n, result in chunks:
            if len(result) != _U32.size:
                raise ProtocolError(f"LOAD result of {len(result)} bytes, expected 4: update the firmware")
            (loaded,) = _U32.unpack(result)
            if loaded < offset + n:
                raise BoardNotReady(
                    f"board reports {loaded} input bytes loaded after writing {offset + n}: "
                    "it lost the start of the image (a reset?); run again"
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
        for offset, length, data in self._chunked(Cmd.OUTPUT, n_bytes, _OUTPUT_REQ.pack, lambda n: n):
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
        """LOAD, INFER, every PACKET and the whole OUTPUT: ``(InferResult, [packet], int8 array)``.

        A board that lost its state midway (:class:`BoardNotReady`: a reset drops the image and
        the inference) runs the whole sample again from its upload, SAMPLE_ATTEMPTS times in all;
        each rerun counts as a retry.
        """
        info = self._info or self.info()
        for attempt in range(SAMPLE_ATTEMPTS):
            if attempt:
                self.retries += 1
            try:
                self.load_input(input_bytes)
                result = self.infer(frame_id)
                packets = [self.packet(i) for i in range(result.n_packets)]
                return result, packets, self.read_output(info.output_bytes)
            except BoardNotReady as exc:
                lost = exc
        raise lost
