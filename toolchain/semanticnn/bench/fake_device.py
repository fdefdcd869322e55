"""An in-process board that speaks the serial protocol, for tests without QEMU.

:class:`FakeFirmware` answers frames as the C firmware does (docs/protocol.md). Its
int8 "graph" is a stub (:func:`stub_graph`), but the SQ stage, bit packing and
packetiser are the firmware's Python mirrors, so its packets are real ones.
:class:`FakeDeviceServer` serves it on a TCP socket (``socket://`` URL) or a pty, with
an optional ``mangle`` hook that rewrites, drops or delays each response.
"""

import os
import select
import socket
import struct
import threading
import tty

import numpy as np

from semanticnn.bench.commands import ClockSource, Cmd, LatencyUnit, Status
from semanticnn.bench.framing import (
    MAX_BODY_BYTES,
    MAX_WIRE_BYTES,
    PROTOCOL_VERSION,
    build_frame,
    cobs_decode,
    crc32,
)
from semanticnn.bench.reference import HostReference, encode_output
from semanticnn.errors import ProtocolError

__all__ = ["fake_manifest", "stub_graph", "fake_reference", "FakeFirmware", "FakeDeviceServer"]

FAKE_MODEL_CRC = 0x5EC0DE42
FAKE_STACK_PEAK = 1536


def fake_manifest(levels=4, mapping="gray", mtu=51, output_shape=(1, 8, 8, 8)):
    """Describe the fake's stub model in an export.json-shaped dict."""
    bits = levels.bit_length() - 1
    channels = output_shape[-1]
    centres = np.linspace(-1.5, 1.5, levels)
    n_symbols = int(np.prod(output_shape))
    payload = (n_symbols * bits + 7) // 8
    return {
        "target": "fake",
        "model_file": "model.tflite",
        "model_crc32": FAKE_MODEL_CRC,
        "input": {"shape": [1, 32, 32, 3], "layout": "NHWC", "scale": 1 / 255, "zero_point": -128},
        "output": {"shape": list(output_shape), "scale": 0.05, "zero_point": -3},
        "sq": {
            "levels": levels,
            "bits_per_symbol": bits,
            "mapping": mapping,
            "centres": centres.tolist(),
            "prelu_slopes_q7": [96 + 4 * c for c in range(channels)],
            "boundaries_q12": [round((a + b) * 2048) for a, b in zip(centres[:-1], centres[1:], strict=True)],
        },
        "n_symbols": n_symbols,
        "payload_bytes": payload,
        "mtu": mtu,
        "float32_split_bytes": n_symbols * 4,
        "tflm_arena_bytes": 20000,
        "activation_bytes": 12288,
    }


def stub_graph(x, output_shape):
    """Run the fake's int8 "network": a fixed integer mix of the input, shaped ``output_shape``."""
    flat = np.asarray(x, dtype=np.int8).reshape(-1).astype(np.int32)
    n = int(np.prod(output_shape))
    y = np.resize(flat, n) * 2 + np.roll(np.resize(flat, n), 7) // 4 + np.arange(n) % 11 - 5
    return np.clip(y, -128, 127).astype(np.int8).reshape(output_shape)


def fake_reference(manifest):
    """The host reference that a :class:`FakeFirmware` serving ``manifest`` must match."""
    return HostReference(manifest, graph=lambda x: stub_graph(x, manifest["output"]["shape"]))


def _cobs_decode_prefix(encoded):
    """``(body, cut_short)``: what the firmware's byte-at-a-time decoder holds when ``encoded`` ends.

    ``cut_short`` is true when the last COBS block promised more bytes than came (a byte was lost).
    """
    try:
        return cobs_decode(encoded), False
    except ProtocolError:  # between delimiters the only malformation is a block that runs past the end
        pass
    body, i = bytearray(), 0
    while i + encoded[i] <= len(encoded):
        body += encoded[i + 1:i + encoded[i]] + (b"\x00" if encoded[i] != 255 else b"")
        i += encoded[i]
    return bytes(body + encoded[i + 1:]), True


def _crc_of(body):
    return struct.unpack_from("<I", body, len(body) - 4)[0]


class FakeFirmware:
    """The firmware's request handler, in Python; one instance is one board's state."""

    def __init__(self, manifest, *, target=None, model_crc=None, proto_version=PROTOCOL_VERSION):
        self.manifest = manifest
        self.target = manifest["target"] if target is None else target
        self.model_crc = manifest["model_crc32"] if model_crc is None else model_crc
        self.proto_version = proto_version
        self.input_bytes = int(np.prod(manifest["input"]["shape"]))
        self.output_shape = tuple(manifest["output"]["shape"])
        self._input = bytearray(self.input_bytes)
        self._written = np.zeros(self.input_bytes, dtype=bool)  # bytes of the current image written
        self._packets = None
        self._output = None
        self.requests = 0

    def handle(self, encoded):
        """Wire bytes answering the frame ``encoded`` (between delimiters); ``None`` to drop it.

        As in protocol.c: oversized or no cmd/seq -> dropped; cut short (a COBS block missing
        bytes), bad length, CRC or version -> status BAD_FRAME with the received cmd and seq.
        """
        self.requests += 1
        if len(encoded) > MAX_WIRE_BYTES:
            return None
        body, cut_short = _cobs_decode_prefix(encoded)
        if len(body) > MAX_BODY_BYTES or len(body) < 3:
            return None
        cmd, seq = body[1], body[2]
        if cut_short or len(body) < 7 or body[0] != PROTOCOL_VERSION or _crc_of(body) != crc32(body[:-4]):
            return self._reply(cmd, seq, Status.BAD_FRAME)
        handler = self._HANDLERS.get(cmd)
        if handler is None:
            return self._reply(cmd, seq, Status.UNKNOWN_COMMAND)
        status, result = getattr(self, handler)(body[3:-4])
        return self._reply(cmd, seq, status, result)

    @staticmethod
    def _reply(cmd, seq, status, result=b""):
        return build_frame(cmd, seq, bytes([status]) + result)

    def _info(self, args):
        m = self.manifest
        fields = struct.pack(
            "<BBIIIIBIHIIIIBB",
            self.proto_version, LatencyUnit.INSTRUCTIONS, 25_000_000, self.input_bytes,
            int(np.prod(self.output_shape)), m["n_symbols"], m["sq"]["bits_per_symbol"], m["payload_bytes"],
            m["mtu"], m["activation_bytes"], 8192, self.model_crc, 115200, ClockSource.FIXED, 0,
        )
        return Status.OK, fields + self.target.encode("ascii")

    def _load(self, args):
        if len(args) < 4:
            return Status.BAD_ARGUMENT, b""
        (offset,) = struct.unpack_from("<I", args)
        data = args[4:]
        if offset + len(data) > self.input_bytes:
            return Status.BAD_ARGUMENT, b""
        if offset == 0:  # a new image: earlier LOADs no longer count (docs/protocol.md)
            self._written[:] = False
        self._input[offset:offset + len(data)] = data
        self._written[offset:offset + len(data)] = True
        return Status.OK, struct.pack("<I", int(self._written.sum()))

    def _infer(self, args):
        if len(args) != 2:
            return Status.BAD_ARGUMENT, b""
        if not self._written.all():
            return Status.NOT_READY, b""
        (frame_id,) = struct.unpack("<H", args)
        x = np.frombuffer(bytes(self._input), dtype=np.int8)
        self._output = stub_graph(x, self.output_shape)
        _, bitstream, packets = encode_output(self._output, self.manifest, frame_id)
        self._packets = [bytes(p) for p in packets]
        latency = 100_000 + int(x.astype(np.int64).sum()) % 4096
        result = struct.pack("<IIHI", latency, FAKE_STACK_PEAK, len(self._packets), len(bitstream))
        return Status.OK, result

    def _packet(self, args):
        if len(args) != 2:
            return Status.BAD_ARGUMENT, b""
        if self._packets is None:
            return Status.NOT_READY, b""
        (index,) = struct.unpack("<H", args)
        if index >= len(self._packets):
            return Status.BAD_ARGUMENT, b""
        return Status.OK, self._packets[index]

    def _read_output(self, args):
        if len(args) != 6:
            return Status.BAD_ARGUMENT, b""
        if self._output is None:
            return Status.NOT_READY, b""
        offset, length = struct.unpack("<IH", args)
        data = self._output.tobytes()
        if offset + length > len(data):
            return Status.BAD_ARGUMENT, b""
        return Status.OK, data[offset:offset + length]

    _HANDLERS = {
        Cmd.INFO: "_info",
        Cmd.LOAD: "_load",
        Cmd.INFER: "_infer",
        Cmd.PACKET: "_packet",
        Cmd.OUTPUT: "_read_output",
    }


class FakeDeviceServer:
    """Serves a :class:`FakeFirmware` on a thread; ``url`` is what to pass to ``open_transport``.

    ``kind`` is ``"tcp"`` (``socket://127.0.0.1:PORT``) or ``"pty"`` (a pty's slave path).
    ``mangle(index, wire) -> bytes`` rewrites the ``index``-th response (``b""`` drops it).
    Use as a context manager; leaving it stops the thread and closes everything.
    """

    _POLL_S = 0.02

    def __init__(self, firmware, kind="tcp", mangle=None):
        self.firmware = firmware
        self._mangle = mangle
        self._stop = threading.Event()
        self._responses = 0
        if kind == "tcp":
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
            target = self._serve_tcp
        elif kind == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self.url = os.ttyname(self._slave)
            target = self._serve_pty
        else:
            raise ValueError(f"unknown kind {kind!r}: use 'tcp' or 'pty'")
        self.kind = kind
        self._thread = threading.Thread(target=target, name="fake-device", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=5)
        if self.kind == "tcp":
            self._listener.close()
        else:
            os.close(self._master)
            os.close(self._slave)

    def _serve_tcp(self):
        self._listener.settimeout(self._POLL_S)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                self._serve(conn.fileno(), conn.recv, conn.sendall)

    def _serve_pty(self):
        def send(data):
            view = memoryview(data)
            while view:
                view = view[os.write(self._master, view):]

        self._serve(self._master, lambda n: os.read(self._master, n), send)

    def _serve(self, fd, recv, send):
        buffer = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], self._POLL_S)
            if not ready:
                continue
            try:
                data = recv(4096)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while (end := buffer.find(0)) >= 0:
                encoded = bytes(buffer[:end])
                del buffer[:end + 1]
                reply = self.firmware.handle(encoded) if encoded else None
                if reply is None:
                    continue
                if self._mangle is not None:
                    reply = self._mangle(self._responses, reply)
                self._responses += 1
                if reply:
                    send(reply)
