import os
import time

import pytest

from semanticnn.bench.framing import (
    MAX_PAYLOAD_BYTES,
    Frame,
    FrameReader,
    FrameTimeout,
    build_frame,
    cobs_decode,
    cobs_encode,
    crc32,
    parse_frame,
)
from semanticnn.errors import BoardError, ProtocolError

LINK_HINT = "the link is corrupting bytes; check the baud rate and the cable"


class ChunkTransport:
    """In-memory transport: hands out the given chunks one read at a time."""

    name = "mem"

    def __init__(self, *chunks):
        self.chunks = list(chunks)

    def read_some(self, timeout):
        if self.chunks:
            return self.chunks.pop(0)
        time.sleep(min(timeout, 0.01))
        return b""

    def discard_input(self):
        self.chunks.clear()


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
        (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    ],
)
def test_cobs_known_vectors(raw, encoded):
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


def test_cobs_decode_accepts_full_block_without_trailing_code():
    assert cobs_decode(b"\xff" + bytes(range(1, 255))) == bytes(range(1, 255))


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 509, 1280])
def test_cobs_round_trip_random(n):
    data = os.urandom(n)
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


def test_cobs_round_trip_all_zeros_and_runs():
    for data in (bytes(300), b"\x01" * 600, (b"\x00" + b"\x07" * 254) * 3):
        assert cobs_decode(cobs_encode(data)) == data


def test_cobs_decode_truncated_block():
    with pytest.raises(ProtocolError) as info:
        cobs_decode(b"\x05\x11\x22")
    assert str(info.value) == f"malformed COBS frame at byte 0: {LINK_HINT}"


def test_crc32_check_value():
    assert crc32(b"123456789") == 0xCBF43926


def test_build_frame_layout():
    wire = build_frame(0x04, 7, b"\x02\x00")
    assert wire[-1] == 0 and 0 not in wire[:-1]
    body = cobs_decode(wire[:-1])
    assert body[:5] == b"\x01\x04\x07\x02\x00"
    assert int.from_bytes(body[5:], "little") == crc32(body[:5])


def test_frame_round_trip_max_payload():
    payload = os.urandom(MAX_PAYLOAD_BYTES)
    assert parse_frame(build_frame(0x05, 255, payload)[:-1]) == Frame(0x05, 255, payload)


def test_build_frame_rejects_oversized_payload():
    with pytest.raises(ValueError):
        build_frame(0x02, 0, bytes(MAX_PAYLOAD_BYTES + 1))


def test_parse_frame_bad_crc_message():
    body = bytearray(cobs_decode(build_frame(0x01, 3, b"\x00abc")[:-1]))
    good = int.from_bytes(body[-4:], "little")
    body[4] ^= 0x40
    with pytest.raises(ProtocolError) as info:
        parse_frame(cobs_encode(bytes(body)))
    assert str(info.value) == f"frame CRC 0x{good:08x} should be 0x{crc32(bytes(body[:-4])):08x}: {LINK_HINT}"


def test_parse_frame_wrong_version_message():
    head = b"\x02\x01\x00\x00"
    with pytest.raises(ProtocolError) as info:
        parse_frame(cobs_encode(head + crc32(head).to_bytes(4, "little")))
    assert str(info.value) == (
        "board speaks protocol version 2, snn-bench speaks 1: "
        "flash firmware built by this toolchain (`make flash`)"
    )


def test_parse_frame_too_short_message():
    with pytest.raises(ProtocolError) as info:
        parse_frame(cobs_encode(b"\x01\x01\x00"))
    assert str(info.value) == f"frame of 3 bytes is shorter than 7: {LINK_HINT}"


def test_reader_joins_chunks_and_skips_empty_frames():
    wire = build_frame(0x03, 9, b"\x00" + bytes(14))
    reader = FrameReader(ChunkTransport(b"\x00\x00", wire[:5], wire[5:11], wire[11:]))
    assert reader.read_frame(1.0) == Frame(0x03, 9, b"\x00" + bytes(14))
    assert reader.bytes_received == len(wire) + 2


def test_reader_two_frames_in_one_chunk():
    a, b = build_frame(0x01, 1, b"\x00"), build_frame(0x02, 2, b"\x00\x10\x00\x00\x00")
    reader = FrameReader(ChunkTransport(a + b))
    assert [reader.read_frame(1.0).seq, reader.read_frame(1.0).seq] == [1, 2]


def test_reader_resyncs_after_garbage():
    wire = build_frame(0x01, 5, b"\x00")
    reader = FrameReader(ChunkTransport(b"\x13\x37garbage\xff\x00" + wire))
    with pytest.raises(ProtocolError):
        reader.read_frame(1.0)
    assert reader.read_frame(1.0) == Frame(0x01, 5, b"\x00")


def test_reader_garbage_glued_to_frame_fails_crc_not_silently():
    wire = build_frame(0x01, 5, b"\x00")
    reader = FrameReader(ChunkTransport(b"\x02\x41" + wire))
    with pytest.raises(ProtocolError):
        reader.read_frame(1.0)


def test_reader_drops_oversized_frame_then_resyncs():
    wire = build_frame(0x04, 1, b"\x00ok")
    reader = FrameReader(ChunkTransport(b"\x01" * 2000, b"\x01" * 2000 + b"\x00", wire))
    with pytest.raises(ProtocolError) as info:
        reader.read_frame(1.0)
    assert str(info.value) == f"frame longer than 1280 bytes dropped: {LINK_HINT}"
    assert reader.read_frame(1.0).payload == b"\x00ok"


def test_reader_times_out_with_board_error():
    reader = FrameReader(ChunkTransport(b"\x05\x01"))
    start = time.monotonic()
    with pytest.raises(FrameTimeout) as info:
        reader.read_frame(0.2)
    assert 0.15 < time.monotonic() - start < 1.0
    assert isinstance(info.value, BoardError)
    assert str(info.value) == "no frame from mem within 0.2 s"
