"""Shared helpers of the firmware tests: the library's project around the stub model.

The project is rendered by :func:`semanticnn.firmware.project.render_project` from a
stub manifest, with the hand-written stub model (tests/fixtures/stub_model) in place
of a generated one, so the firmware builds and runs without an export. The board is
driven through the library too (:mod:`semanticnn.bench`); :class:`RawLink` is the
one path that writes frames as they are, for statuses and malformed frames.
"""

import contextlib
import dataclasses
import os
import random
import subprocess
from pathlib import Path

import numpy as np

from semanticnn.bench.commands import Board
from semanticnn.bench.framing import PROTOCOL_VERSION, FrameReader, build_frame, cobs_encode, crc32
from semanticnn.bench.qemu import launch_qemu
from semanticnn.bench.timeouts import INFER_TIMEOUT_S
from semanticnn.firmware import project
from semanticnn.firmware.render import write_tree
from semanticnn.firmware.sq import sq_params
from semanticnn.firmware.targets import get_target

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STUB_MODEL = FIXTURES / "stub_model"
TARGET_NAMES = ("qemu-m7", "stm32f4", "stm32f7", "stm32h7")  # semanticnn.firmware.targets registry keys
QEMU_TARGET = "qemu-m7"

# The stub's output tensor: NHWC 1x4x4x16, 4 levels (2 bits a symbol), Gray mapping.
STUB_OUTPUT_SHAPE = (1, 4, 4, 16)
STUB_ZERO_POINT = -3
STUB_LEVELS = 4
STUB_MTU = 51
STUB_MODEL_CRC = crc32(b"stub model")


def stub_sq():
    """PReLU slopes (Q7) and SQ boundaries (Q12) for the stub's 16 channels."""
    rng = np.random.default_rng(0)
    centres = np.sort(rng.uniform(-2.0, 2.0, STUB_LEVELS))
    slopes = rng.uniform(-0.5, 1.5, STUB_OUTPUT_SHAPE[-1])
    return sq_params(centres, slopes)


def stub_manifest():
    """The export.json keys that the project renderer reads, for the stub model."""
    a_q7, b_q12 = stub_sq()
    bits = STUB_LEVELS.bit_length() - 1
    n_symbols = int(np.prod(STUB_OUTPUT_SHAPE))
    return {
        "target": QEMU_TARGET,
        "model_crc32": STUB_MODEL_CRC,
        "output": {"shape": list(STUB_OUTPUT_SHAPE), "zero_point": STUB_ZERO_POINT},
        "sq": {
            "levels": STUB_LEVELS,
            "bits_per_symbol": bits,
            "mapping": "gray",
            "prelu_slopes_q7": [int(a) for a in a_q7],
            "boundaries_q12": [int(b) for b in b_q12],
        },
        "n_symbols": n_symbols,
        "payload_bytes": (n_symbols * bits + 7) // 8,
        "mtu": STUB_MTU,
    }


def render_project(dest, target, manifest=None, **target_fields):
    """Write the project for ``target`` with the stub model into ``dest``; returns ``dest``.

    ``target_fields`` override fields of the registry's target (to render a bad config).
    """
    t = dataclasses.replace(get_target(target), **target_fields)
    files = project.render_project(t, manifest or stub_manifest())
    for name in ("model.c", "model.h"):
        files[f"model/{name}"] = (STUB_MODEL / name).read_text()
    write_tree(files, dest)
    return Path(dest)


def build(project_dir, *args):
    """Run make in a rendered project; returns the CompletedProcess (text, not checked)."""
    return subprocess.run(["make", "-C", str(project_dir), *args], capture_output=True, text=True)


def raw_frame(cmd, seq, payload=b"", version=PROTOCOL_VERSION):
    """Wire bytes of a frame that ``build_frame`` would refuse: any version, any length."""
    head = bytes([version, cmd, seq]) + payload
    return cobs_encode(head + crc32(head).to_bytes(4, "little")) + b"\x00"


class RawLink:
    """Frames written and read as they are: no retries, every status returned."""

    def __init__(self, transport):
        self.transport = transport
        self._reader = FrameReader(transport)

    def write(self, wire):
        """Send ``wire`` unchanged."""
        self.transport.write(wire)

    def read_frame(self):
        """The next good frame from the board."""
        return self._reader.read_frame(INFER_TIMEOUT_S)

    def request(self, cmd, seq, payload=b""):
        """Send one frame; ``(cmd, seq, status, result)`` of the response."""
        self.write(build_frame(cmd, seq, payload))
        frame = self.read_frame()
        return frame.cmd, frame.seq, frame.payload[0], frame.payload[1:]


@contextlib.contextmanager
def qemu_links(elf):
    """Boot ``elf`` on the qemu-m7 target: ``(Board, RawLink)`` over its one UART."""
    with launch_qemu(elf, QEMU_TARGET) as transport:
        yield Board(transport), RawLink(transport)


class ProcessPort:
    """The UART of a host-built firmware process (tests/fixtures/stdio_board) as the port a
    :class:`~semanticnn.bench.transport.Transport` reads and writes: its stdout and stdin.

    The link loses each byte with probability ``drop_rate``, both ways, from one seeded generator
    per direction, so which bytes are lost depends only on the bytes sent. ``before_write(port,
    data)`` returns the bytes that go out instead of ``data`` (and may :meth:`reset` the board).
    ``dropped`` counts the bytes lost.
    """

    timeout = 0

    def __init__(self, exe, drop_rate=0.0, seed=0, before_write=None):
        self._exe = exe
        self._drop_rate = drop_rate
        self._rng = {"out": random.Random(seed), "in": random.Random(seed + 1)}
        self._before_write = before_write
        self.dropped = 0
        self._proc = self._start()

    def _start(self):
        return subprocess.Popen([str(self._exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def _pass(self, data, direction):
        kept = bytes(b for b in data if self._rng[direction].random() >= self._drop_rate)
        self.dropped += len(data) - len(kept)
        return kept

    def reset(self):
        """Restart the firmware: everything it held is gone, as after a board reset."""
        self.close()
        self._proc = self._start()

    def fileno(self):
        return self._proc.stdout.fileno()

    def read(self, n):
        return self._pass(os.read(self.fileno(), n), "in")

    def write(self, data):
        if self._before_write is not None:
            data = self._before_write(self, data)
        self._proc.stdin.write(self._pass(data, "out"))

    def flush(self):
        self._proc.stdin.flush()

    def close(self):
        self._proc.stdin.close()  # the firmware exits at the end of its input
        self._proc.wait(timeout=5)
        self._proc.stdout.close()
