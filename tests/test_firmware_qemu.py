"""The qemu_mps2 firmware with the stub model, booted in QEMU and driven over its UART."""

import re
import shutil
import struct
from fractions import Fraction

import numpy as np
import pytest

from firmware_helpers import (
    FIXTURES,
    QEMU_TARGET,
    STUB_MODEL_CRC,
    STUB_MTU,
    STUB_OUTPUT_SHAPE,
    STUB_ZERO_POINT,
    build,
    qemu_links,
    raw_frame,
    render_project,
    stub_manifest,
    stub_sq,
)
from semanticnn.bench.commands import BoardInfo, ClockSource, Cmd, Status
from semanticnn.bench.framing import MAX_PAYLOAD_BYTES, Frame, build_frame
from semanticnn.bench.qemu import launch_qemu
from semanticnn.channel.packets import packetize
from semanticnn.firmware.project import STACK_BYTES
from semanticnn.firmware.sq import bitstream_from_output
from semanticnn.firmware.targets import get_target

pytestmark = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)

INFO, LOAD, INFER, PACKET, OUTPUT = Cmd.INFO, Cmd.LOAD, Cmd.INFER, Cmd.PACKET, Cmd.OUTPUT


@pytest.fixture(scope="module")
def elf(stub_qemu_elf):
    return stub_qemu_elf


@pytest.fixture
def links(elf):
    with qemu_links(elf) as pair:
        yield pair


@pytest.fixture
def board(links):
    """The library's Board: ok responses only, echo and status checked inside."""
    return links[0]


@pytest.fixture
def raw(links):
    """Frames as they are, on the same UART: every status comes back."""
    return links[1]


def stub_output(image: bytes) -> np.ndarray:
    """What the stub model computes: output[i] = input[i * 12], as int8 NHWC."""
    x = np.frombuffer(image, dtype=np.int8)
    return x[::12][: int(np.prod(STUB_OUTPUT_SHAPE))].reshape(STUB_OUTPUT_SHAPE)


def load(board, image: bytes, chunk=1000):
    loaded = 0
    for off in range(0, len(image), chunk):
        res = board.command(LOAD, struct.pack("<I", off) + image[off : off + chunk])
        loaded = struct.unpack("<I", res)[0]
        assert loaded == min(off + chunk, len(image))  # bytes of this image written (offset 0 starts it)
    return loaded


def test_info_fields(board):
    assert board.info() == BoardInfo(
        proto_version=1,
        latency_unit=0,
        core_clock_hz=25_000_000,
        input_bytes=3072,
        output_bytes=256,
        n_symbols=256,
        bits_per_symbol=2,
        payload_bytes=stub_manifest()["payload_bytes"],
        mtu=STUB_MTU,
        activation_bytes=256,
        stack_bytes=STACK_BYTES,
        model_crc=STUB_MODEL_CRC,
        baud=115200,
        clock_source=ClockSource.FIXED,
        caches=0,
        target="qemu-m7",
    )


def test_infer_packets_equal_python_mirror(board):
    rng = np.random.default_rng(7)
    a_q7, b_q12 = stub_sq()
    for frame_id in (0x0102, 0xBEEF):
        image = bytes(rng.integers(0, 256, 3072, dtype=np.uint8))
        assert load(board, image) == 3072
        result = board.infer(frame_id)

        bits = bitstream_from_output(stub_output(image), STUB_ZERO_POINT, a_q7, b_q12, gray=True)
        expected = packetize(bits, frame_id, STUB_MTU)
        assert (result.n_packets, result.payload_bytes) == (len(expected), len(bits))
        assert [board.packet(i) for i in range(result.n_packets)] == expected
        assert 1000 < result.latency < 1_000_000
        assert 64 < result.stack_peak < STACK_BYTES


def test_output_returns_graph_output(board):
    image = bytes(np.random.default_rng(8).integers(0, 256, 3072, dtype=np.uint8))
    load(board, image, chunk=MAX_PAYLOAD_BYTES - 4)  # the largest LOAD frame
    board.infer(0)  # raises unless the status is OK
    res = board.read_output(256).tobytes()
    assert res == stub_output(image).tobytes()
    assert board.command(OUTPUT, struct.pack("<IH", 250, 6)) == res[250:]


def test_latency_is_deterministic_under_icount(board):
    load(board, bytes(3072))
    lat = [board.infer(5).latency for _ in range(3)]
    assert max(lat) - min(lat) <= 40  # one SysTick tick
    assert all(x % 40 == 0 for x in lat)


def test_not_ready_before_load_and_infer(raw):
    assert raw.request(INFER, 1, b"\x00\x00")[2] == Status.NOT_READY
    assert raw.request(PACKET, 2, b"\x00\x00")[2] == Status.NOT_READY
    assert raw.request(OUTPUT, 3, struct.pack("<IH", 0, 4))[2] == Status.NOT_READY
    # a partial load is still not ready
    assert raw.request(LOAD, 4, struct.pack("<I", 0) + bytes(100))[2:] == (Status.OK, struct.pack("<I", 100))
    assert raw.request(INFER, 5, b"\x00\x00")[2] == Status.NOT_READY


def test_bad_arguments(board, raw):
    assert raw.request(LOAD, 1, struct.pack("<I", 3000) + bytes(73))[2] == Status.BAD_ARGUMENT
    assert raw.request(LOAD, 2, struct.pack("<I", 3072) + bytes(0))[2:] == (Status.OK, struct.pack("<I", 0))
    assert raw.request(LOAD, 3, b"\x01")[2] == Status.BAD_ARGUMENT
    assert raw.request(INFO, 4, b"\x01")[2] == Status.BAD_ARGUMENT
    load(board, bytes(3072))
    assert raw.request(INFER, 5, b"\x00")[2] == Status.BAD_ARGUMENT
    assert raw.request(INFER, 6, b"\x00\x00")[2] == Status.OK
    assert raw.request(PACKET, 7, b"\x02\x00")[2] == Status.BAD_ARGUMENT  # 64 bytes -> packets 0 and 1
    assert raw.request(OUTPUT, 8, struct.pack("<IH", 200, 57))[2] == Status.BAD_ARGUMENT


def test_unknown_command(raw):
    assert raw.request(0x7E, 200) == (0x7E, 200, Status.UNKNOWN_COMMAND, b"")


def test_bad_crc_and_version_answered_with_status_1(raw):
    wire = bytearray(build_frame(INFO, 17))
    wire[-2] ^= 0x01  # last CRC byte (COBS leaves non-zero data bytes as they are)
    raw.write(bytes(wire))
    assert raw.read_frame() == Frame(INFO, 17, bytes([Status.BAD_FRAME]))
    raw.write(raw_frame(INFO, 18, version=7))
    assert raw.read_frame() == Frame(INFO, 18, bytes([Status.BAD_FRAME]))
    # garbage, an oversized frame (dropped, no answer), then a good frame
    raw.write(b"\x13\x37\x00" + raw_frame(LOAD, 1, bytes(1300)) + build_frame(INFO, 19))
    frame = raw.read_frame()
    assert (frame.cmd, frame.seq, frame.payload[0]) == (INFO, 19, Status.OK)


def calibration_ticks(tmp_path, target):
    """``{iterations: SysTick ticks}`` of the calibration firmware on ``target`` in QEMU."""
    project = render_project(tmp_path / target, target)
    shutil.copy(FIXTURES / "calib" / "main.c", project / "src" / "main.c")
    result = build(project, "EXTRA_CFLAGS=-DBOARD_SYSTICK_NUM=1 -DBOARD_SYSTICK_DEN=1")
    assert result.returncode == 0, result.stderr
    text = b""
    with launch_qemu(project / "build" / "firmware.elf", target) as transport:
        while not text.endswith(b"end\n"):
            data = transport.read_some(10.0)
            assert data, text
            text += data
    return {int(n): int(t) for n, t in re.findall(rb"(\d+) (\d+)\n", text)}


# mps2-an500 clocks SysTick at 25 MHz, netduinoplus2 at 168 MHz; under -icount shift=0 an
# instruction is 1 ns, so a tick is 40 and 125/21 instructions: targets.toml qemu_systick_hz.
@pytest.mark.parametrize("target, per_tick", [(QEMU_TARGET, 40.0), ("stm32f4", 1000 / 168)])
def test_systick_ticks_match_qemu_systick_hz(tmp_path, target, per_tick):
    ticks = calibration_ticks(tmp_path, target)
    # the loop is 2 instructions per iteration; the difference cancels the timer overhead
    measured = 2 * (10_000_000 - 100_000) / (ticks[10_000_000] - ticks[100_000])
    assert abs(measured - per_tick) < 0.001
    assert get_target(target).qemu_instructions_per_tick == Fraction(1_000_000_000, get_target(target).qemu_systick_hz)
    assert abs(float(get_target(target).qemu_instructions_per_tick) - per_tick) < 1e-9
