"""The qemu_mps2 firmware with the stub model, booted in QEMU and driven over its UART."""

import re
import shutil
import struct

import numpy as np
import pytest

from firmware_helpers import (
    ROOT,
    STUB_MODEL_CRC,
    STUB_OUTPUT_SHAPE,
    STUB_ZERO_POINT,
    Qemu,
    build,
    config_context,
    frame,
    render_project,
    stub_sq,
    unframe,
)
from semanticnn.channel.packets import packetize
from semanticnn.firmware.sq import bitstream_from_output

pytestmark = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)

INFO, LOAD, INFER, PACKET, OUTPUT = 1, 2, 3, 4, 5
STACK_BYTES = 8192


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    project = render_project(tmp_path_factory.mktemp("fw") / "qemu", "qemu-m7")
    result = build(project)
    assert result.returncode == 0, result.stderr
    return project / "build" / "firmware.elf"


@pytest.fixture
def board(elf):
    q = Qemu(elf)
    yield q
    q.close()


def stub_output(image: bytes) -> np.ndarray:
    """What the stub model computes: output[i] = input[i * 12], as int8 NHWC."""
    x = np.frombuffer(image, dtype=np.int8)
    return x[::12][: int(np.prod(STUB_OUTPUT_SHAPE))].reshape(STUB_OUTPUT_SHAPE)


def load(board, image: bytes, chunk=1000):
    loaded = 0
    for off in range(0, len(image), chunk):
        cmd, seq, status, res = board.request(
            LOAD, off % 256, struct.pack("<I", off) + image[off : off + chunk]
        )
        assert (cmd, seq, status) == (LOAD, off % 256, 0)
        loaded = struct.unpack("<I", res)[0]
        assert loaded >= min(off + chunk, len(image))  # max offset + length seen since boot
    return loaded


def test_info_fields(board):
    cmd, seq, status, res = board.request(INFO, 42)
    assert (cmd, seq, status) == (INFO, 42, 0)
    fields = struct.unpack("<BBIIIIBIHIII", res[:37])
    cfg = config_context("qemu-m7")
    assert fields == (
        1,
        0,
        25_000_000,
        3072,
        256,
        256,
        2,
        cfg["payload_bytes"],
        51,
        256,
        STACK_BYTES,
        STUB_MODEL_CRC,
    )
    assert res[37:] == b"qemu-m7"


def test_infer_packets_equal_python_mirror(board):
    rng = np.random.default_rng(7)
    a_q7, b_q12 = stub_sq()
    for frame_id in (0x0102, 0xBEEF):
        image = bytes(rng.integers(0, 256, 3072, dtype=np.uint8))
        assert load(board, image) == 3072
        cmd, seq, status, res = board.request(INFER, 9, struct.pack("<H", frame_id))
        assert (cmd, seq, status) == (INFER, 9, 0)
        latency, stack_peak, n_packets, payload_bytes = struct.unpack("<IIHI", res)

        bits = bitstream_from_output(stub_output(image), STUB_ZERO_POINT, a_q7, b_q12, gray=True)
        expected = packetize(bits, frame_id, 51)
        assert (n_packets, payload_bytes) == (len(expected), len(bits))
        got = [board.request(PACKET, i, struct.pack("<H", i))[2:] for i in range(n_packets)]
        assert got == [(0, p) for p in expected]
        assert 1000 < latency < 1_000_000
        assert 64 < stack_peak < STACK_BYTES


def test_output_returns_graph_output(board):
    image = bytes(np.random.default_rng(8).integers(0, 256, 3072, dtype=np.uint8))
    load(board, image, chunk=1273 - 4)
    assert board.request(INFER, 1, b"\x00\x00")[2] == 0
    cmd, seq, status, res = board.request(OUTPUT, 2, struct.pack("<IH", 0, 256))
    assert (cmd, seq, status) == (OUTPUT, 2, 0)
    assert res == stub_output(image).tobytes()
    assert board.request(OUTPUT, 3, struct.pack("<IH", 250, 6))[2:] == (0, res[250:])


def test_latency_is_deterministic_under_icount(board):
    load(board, bytes(3072))
    lat = [struct.unpack("<I", board.request(INFER, i, b"\x05\x00")[3][:4])[0] for i in range(3)]
    assert max(lat) - min(lat) <= 40  # one SysTick tick
    assert all(x % 40 == 0 for x in lat)


def test_not_ready_before_load_and_infer(board):
    assert board.request(INFER, 1, b"\x00\x00")[2] == 4
    assert board.request(PACKET, 2, b"\x00\x00")[2] == 4
    assert board.request(OUTPUT, 3, struct.pack("<IH", 0, 4))[2] == 4
    # a partial load is still not ready
    assert board.request(LOAD, 4, struct.pack("<I", 0) + bytes(100))[2:] == (0, struct.pack("<I", 100))
    assert board.request(INFER, 5, b"\x00\x00")[2] == 4


def test_bad_arguments(board):
    assert board.request(LOAD, 1, struct.pack("<I", 3000) + bytes(73))[2] == 3
    assert board.request(LOAD, 2, struct.pack("<I", 3072) + bytes(0))[2:] == (0, struct.pack("<I", 3072))
    assert board.request(LOAD, 3, b"\x01")[2] == 3
    assert board.request(INFO, 4, b"\x01")[2] == 3
    load(board, bytes(3072))
    assert board.request(INFER, 5, b"\x00")[2] == 3
    assert board.request(INFER, 6, b"\x00\x00")[2] == 0
    assert board.request(PACKET, 7, b"\x02\x00")[2] == 3  # 64 bytes -> packets 0 and 1
    assert board.request(OUTPUT, 8, struct.pack("<IH", 200, 57))[2] == 3


def test_unknown_command(board):
    assert board.request(0x7E, 200) == (0x7E, 200, 2, b"")


def test_bad_crc_and_version_answered_with_status_1(board):
    wire = bytearray(frame(INFO, 17))
    wire[-2] ^= 0x01  # last CRC byte (COBS leaves non-zero data bytes as they are)
    board.link.write(bytes(wire))
    assert unframe(board.read_frame()) == (INFO, 17, b"\x01")
    board.link.write(frame(INFO, 18, version=7))
    assert unframe(board.read_frame()) == (INFO, 18, b"\x01")
    # garbage, an oversized frame (dropped, no answer), then a good frame
    board.link.write(b"\x13\x37\x00" + frame(LOAD, 1, bytes(1300)) + frame(INFO, 19))
    cmd, seq, payload = unframe(board.read_frame())
    assert (cmd, seq, payload[0]) == (INFO, 19, 0)


@pytest.fixture(scope="module")
def calib_elf(tmp_path_factory):
    project = render_project(tmp_path_factory.mktemp("fw") / "calib", "qemu-m7")
    shutil.copy(ROOT / "tests" / "fixtures" / "calib" / "main.c", project / "src" / "main.c")
    result = build(project, "EXTRA_CFLAGS=-DBOARD_INSTR_PER_TICK=1")
    assert result.returncode == 0, result.stderr
    return project / "build" / "firmware.elf"


def test_systick_ticks_are_40_instructions(calib_elf):
    q = Qemu(calib_elf)
    try:
        text = b""
        while not text.endswith(b"end\n"):
            c = q.link.read(1)
            assert c, text
            text += c
    finally:
        q.close()
    ticks = {int(n): int(t) for n, t in re.findall(rb"(\d+) (\d+)\n", text)}
    # the loop is 2 instructions per iteration; the difference cancels the timer overhead
    per_tick = 2 * (10_000_000 - 100_000) / (ticks[10_000_000] - ticks[100_000])
    assert abs(per_tick - 40.0) < 0.001
    assert ticks[1000] == 50
