"""sq.c and protocol.c built with the host gcc, compared with the Python mirrors."""

import math
import shutil
import subprocess

import numpy as np
import pytest

from firmware_helpers import FIXTURES, raw_frame
from semanticnn.bench.framing import build_frame, cobs_encode, crc32
from semanticnn.channel.bits import to_codewords
from semanticnn.channel.packets import packetize
from semanticnn.channel.payload import PayloadLayout
from semanticnn.firmware.project import render_packet_header
from semanticnn.firmware.render import TEMPLATES_DIR
from semanticnn.firmware.sq import bitstream_from_output, positive_q7, rms_scale, sq_params, symbols_from_output

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    work = tmp_path_factory.mktemp("host")
    exe = work / "host_driver"
    (work / "snn_packet.h").write_text(render_packet_header())
    src = TEMPLATES_DIR / "src"
    subprocess.run(
        [
            "gcc",
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-D_POSIX_C_SOURCE=200809L",
            f"-I{src}",
            f"-I{work}",
            str(FIXTURES / "host_driver.c"),
            str(src / "sq.c"),
            str(src / "protocol.c"),
            "-o",
            str(exe),
        ],
        check=True,
    )

    def run(lines):
        out = subprocess.run(
            [str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True
        )
        return out.stdout.splitlines()

    return run


def test_isqrt64_matches_math_isqrt(driver):
    rng = np.random.default_rng(1)
    xs = [
        0,
        1,
        2,
        3,
        4,
        15,
        16,
        17,
        2**32 - 1,
        2**32,
        2**62,
        2**64 - 1,
        (2**32 - 1) ** 2,
        (2**32 - 1) ** 2 - 1,
    ]
    xs += [int(x) for x in rng.integers(0, 2**63, 200, dtype=np.uint64)]
    xs += [int(x) ** 2 + d for x in rng.integers(0, 2**32, 50, dtype=np.uint64) for d in (-1, 0, 1) if x]
    assert driver([f"isqrt {x}" for x in xs]) == [str(math.isqrt(x)) for x in xs]


CASES = [  # (levels, gray, shape NHWC, zero point, mtu)
    (2, False, (1, 2, 2, 3), 0, 8),
    (4, True, (1, 4, 4, 16), -3, 51),
    (4, False, (1, 4, 4, 16), 12, 51),
    (8, True, (1, 8, 8, 12), -128, 51),
    (16, True, (1, 8, 8, 8), 5, 20),
    (16, False, (1, 3, 5, 7), 127, 51),
    (256, True, (1, 2, 2, 5), -1, 9),
    (4, False, (1, 8, 8, 16), 0, 10),  # 256 bytes in 64 packets: fragment 63, count - 1 = 63
]
GOLAY_CASES = [  # payload code golay-msb: whole groups only, groups and a plain rest, no whole group
    (4, True, (1, 8, 8, 12), 3, 51),
    (4, True, (1, 8, 8, 8), -3, 51),
    (2, False, (1, 5, 5, 1), 0, 8),
    (8, True, (1, 2, 2, 2), 7, 20),
    (16, False, (1, 3, 4, 5), -100, 51),
]


@pytest.mark.parametrize("levels, gray, shape, zp, mtu, code",
                         [(*case, "plain") for case in CASES] + [(*case, "golay-msb") for case in GOLAY_CASES])
def test_sq_stage_bit_exact_with_mirror(driver, levels, gray, shape, zp, mtu, code):
    rng = np.random.default_rng(levels * 1000 + mtu)
    lines, expected = [], []
    for trial in range(5):
        centres = np.sort(rng.normal(0, 1, levels)) + np.arange(levels) * 1e-3
        slopes = rng.uniform(-1.0, 2.0, shape[-1])
        scales = rng.choice([1.0, 0.5, 0.14], shape[-1])  # the export's channel scales k_c
        a, b = sq_params(centres, slopes, scales)
        p = positive_q7(scales, shape[-1])
        q = rng.integers(-128, 128, shape, dtype=np.int8)
        if trial == 4:
            q[...] = zp if -128 <= zp <= 127 else 0  # all-zero w: R = 0
        k = levels.bit_length() - 1
        n, c = q.size, shape[-1]
        frame_id = int(rng.integers(0, 65536))
        golay = int(code == "golay-msb")
        lines.append(" ".join(map(str, ["sq", n, c, zp, int(gray), k, mtu, frame_id, golay, *p, *a, *b, *q.ravel()])))

        v = q.astype(np.int64) - zp
        w = np.where(v >= 0, v * p.astype(np.int64), v * a.astype(np.int64))
        sym = symbols_from_output(q, zp, a, b, p)
        bits = PayloadLayout(n, levels, code).pack(to_codewords(sym, gray))
        assert bits == bitstream_from_output(q, zp, a, b, gray, code, p)
        pkts = packetize(bits, frame_id, mtu)
        expected.append(
            f"R {rms_scale(w)} S {' '.join(map(str, sym))} B {bits.hex()} P "
            + " ".join(p.hex() for p in pkts)
        )
    assert driver(lines) == expected


def test_frame_encoder_matches_reference(driver):
    rng = np.random.default_rng(3)
    payloads = [
        b"",
        b"\x00",
        b"\x00" * 300,
        bytes(range(1, 255)),
        bytes(range(1, 256)) * 4 + b"\x01" * 253,
        bytes([7]) * 1273,
    ]
    payloads += [bytes(rng.integers(0, 256, int(rng.integers(0, 1274)), dtype=np.uint8)) for _ in range(30)]
    payloads += [
        bytes(rng.choice(np.array([0, 1, 255], dtype=np.uint8), int(rng.integers(0, 1274))))
        for _ in range(10)
    ]
    lines = [f"encode {i % 6} {i % 256} {p.hex() or '-'}" for i, p in enumerate(payloads)]
    out = driver(lines)
    for i, (p, wire) in enumerate(zip(payloads, out, strict=True)):
        w = bytes.fromhex(wire)
        assert w[-1] == 0 and 0 not in w[:-1] and len(w) <= 1287
        assert w == build_frame(i % 6, i % 256, p), (i, len(p))


def test_frame_parser_round_trips_random_frames(driver):
    rng = np.random.default_rng(4)
    frames = [
        (
            int(rng.integers(0, 256)),
            int(rng.integers(0, 256)),
            bytes(rng.choice(np.array([0, 1, 2, 255], dtype=np.uint8), int(rng.integers(0, 1274)))),
        )
        for _ in range(40)
    ]
    wire = b"".join(build_frame(c, s, p) for c, s, p in frames)
    out = driver([f"parse {wire.hex()}"])[0].split(" ")
    assert out == [f"F:{c}:{s}:{p.hex() or '-'}" for c, s, p in frames]


def _parse(driver, wire: bytes):
    return driver([f"parse {wire.hex()}"])[0].split(" ")


def test_parser_answers_bad_crc_with_cmd_and_seq(driver):
    good = build_frame(3, 77, b"\x01\x02")
    body = bytearray(bytes([1, 3, 77, 1, 2]) + crc32(bytes([1, 3, 77, 1, 2])).to_bytes(4, "little"))
    body[4] ^= 0x10
    assert _parse(driver, cobs_encode(bytes(body)) + b"\x00" + good) == ["B:3:77", "F:3:77:0102"]


def test_parser_answers_wrong_version_as_bad_frame(driver):
    assert _parse(driver, raw_frame(1, 5, b"", version=2)) == ["B:1:5"]


def test_parser_short_body_is_bad_frame(driver):
    # 3..6 body bytes: cmd and seq are known, the CRC is missing
    assert _parse(driver, cobs_encode(bytes([1, 4, 9, 0xAA])) + b"\x00") == ["B:4:9"]


def test_parser_drops_body_without_cmd_and_seq(driver):
    assert _parse(driver, cobs_encode(b"\x01\x02") + b"\x00") == ["D"]


def test_parser_answers_truncated_cobs_block_as_bad_frame(driver):
    # code byte 0x09 promises 8 bytes, only 3 arrive before the 0x00: a byte was lost, cmd and seq are known
    assert _parse(driver, bytes([9, 1, 1, 1, 0]) + build_frame(2, 2, b"x")) == ["B:1:1", "F:2:2:78"]


def test_parser_drops_truncated_frame_without_cmd_and_seq(driver):
    assert _parse(driver, bytes([9, 1, 1, 0]) + build_frame(2, 2, b"x")) == ["D", "F:2:2:78"]


def test_parser_drops_oversized_frame_and_resyncs(driver):
    too_long = raw_frame(2, 1, b"\x05" * 1274)  # body 1281 bytes
    assert _parse(driver, too_long + build_frame(2, 2, b"\x05" * 1273)) == ["D", f"F:2:2:{'05' * 1273}"]


def test_parser_resyncs_after_garbage_and_ignores_empty_frames(driver):
    garbage = bytes([0x33, 0x10, 0xFE, 0x02])  # no terminator: swallowed by the next 0x00
    wire = b"\x00\x00" + garbage + b"\x00" + build_frame(1, 8) + b"\x00\x00" + build_frame(5, 9, b"\x00\x01")
    out = _parse(driver, wire)
    assert out[-2:] == ["F:1:8:-", "F:5:9:0001"]
    assert all(e == "D" or e.startswith("B:") for e in out[:-2])
