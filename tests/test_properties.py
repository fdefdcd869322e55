"""Property tests (hypothesis) of the serial framing and the packet reassembly."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semanticnn.bench.framing import (
    MAX_PAYLOAD_BYTES,
    Frame,
    FrameReader,
    FrameTimeout,
    build_frame,
    cobs_decode,
    cobs_encode,
    parse_frame,
)
from semanticnn.channel.packets import HEADER_BYTES, MAX_PACKETS, packet_count, packetize, reassemble
from semanticnn.errors import ProtocolError
from semanticnn.export.preflight import MAX_MTU

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

payloads = st.binary(max_size=MAX_PAYLOAD_BYTES)
frames = st.builds(Frame, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300))


class ChunkedTransport:
    """A transport that hands out a byte string in the given chunk sizes."""

    name = "chunks"

    def __init__(self, data, sizes):
        self._data, self._sizes = bytes(data), list(sizes)

    def read_some(self, timeout):
        size = self._sizes.pop(0) if self._sizes else len(self._data)
        chunk, self._data = self._data[:max(size, 1)], self._data[max(size, 1):]
        return chunk

    def discard_input(self):
        self._data = b""


def read_all(reader):
    """Frames (or the ProtocolError class for a bad one) until the stream runs dry."""
    out = []
    while True:
        try:
            out.append(reader.read_frame(0.05))
        except FrameTimeout:
            return out
        except ProtocolError:
            out.append(ProtocolError)


@FAST
@given(st.binary(max_size=2000))
def test_cobs_round_trip_has_no_zero(data):
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@FAST
@given(st.binary(max_size=600))
def test_cobs_decode_of_any_bytes_is_data_or_protocol_error(data):
    try:
        decoded = cobs_decode(data)
    except ProtocolError:
        return
    assert type(decoded) is bytes


@FAST
@given(st.integers(0, 255), st.integers(0, 255), payloads)
def test_frame_round_trip(cmd, seq, payload):
    wire = build_frame(cmd, seq, payload)
    assert wire[-1] == 0 and 0 not in wire[:-1]
    assert parse_frame(wire[:-1]) == Frame(cmd, seq, payload)


@FAST
@given(st.lists(frames, min_size=1, max_size=6), st.lists(st.integers(1, 40), max_size=200))
def test_reader_finds_every_frame_however_the_stream_is_cut(sent, sizes):
    stream = b"".join(build_frame(f.cmd, f.seq, f.payload) for f in sent)
    assert read_all(FrameReader(ChunkedTransport(stream, sizes))) == sent


@FAST
@given(frames, st.data())
def test_a_damaged_frame_is_never_read_as_another_frame(frame, data):
    wire = bytearray(build_frame(frame.cmd, frame.seq, frame.payload))
    at = data.draw(st.integers(0, len(wire) - 2))
    wire[at] = data.draw(st.integers(1, 255).filter(lambda b: b != wire[at]))
    follow = build_frame(1, 2, b"next")
    got = read_all(FrameReader(ChunkedTransport(bytes(wire) + follow, [])))
    # CRC-32 catches every single-byte change: the damaged frame is an error, the next one arrives whole
    assert got == [ProtocolError, Frame(1, 2, b"next")]


@FAST
@given(st.binary(max_size=200), frames)
def test_reader_resynchronises_after_garbage(garbage, frame):
    stream = garbage + b"\x00" + build_frame(frame.cmd, frame.seq, frame.payload)
    got = read_all(FrameReader(ChunkedTransport(stream, [])))
    assert got[-1] == frame
    assert all(g is ProtocolError for g in got[:-1])


mtus = st.integers(HEADER_BYTES + 1, MAX_MTU)


def bitstreams(mtu):
    return st.binary(max_size=min(MAX_PACKETS * (mtu - HEADER_BYTES), 4000))


@FAST
@given(st.data(), mtus, st.integers(0, 0xFFFF))
def test_reassembly_of_all_packets_in_any_order_is_the_bitstream(data, mtu, frame_id):
    bits = data.draw(bitstreams(mtu))
    packets = packetize(bits, frame_id, mtu)
    assert len(packets) == packet_count(len(bits), mtu)
    assert all(len(p) <= mtu for p in packets)
    shuffled = data.draw(st.permutations(packets + data.draw(st.lists(st.sampled_from(packets or [None]),
                                                                          max_size=3))))
    got = reassemble(shuffled, len(bits), mtu)
    assert (got.data, got.missing, bool(got.received.all())) == (bits, (), True)


@FAST
@given(st.data(), mtus)
def test_lost_packets_leave_zeros_marked_missing(data, mtu):
    bits = data.draw(bitstreams(mtu).filter(len))
    packets = packetize(bits, 7, mtu)
    lost = data.draw(st.sets(st.integers(0, len(packets) - 1)))
    got = reassemble([None if i in lost else p for i, p in enumerate(packets)], len(bits), mtu)
    room = mtu - HEADER_BYTES
    assert got.missing == tuple(sorted(lost))
    for i in range(len(packets)):
        part = slice(i * room, (i + 1) * room)
        want = bytes(len(bits[part])) if i in lost else bits[part]
        assert got.data[part] == want
        assert bool(got.received[part].any()) is (i not in lost)


@FAST
@given(st.data(), mtus)
def test_a_packet_with_up_to_three_errors_in_each_header_word_is_corrected(data, mtu):
    bits = data.draw(bitstreams(mtu).filter(len))
    packets = packetize(bits, data.draw(st.integers(0, 0xFFFF)), mtu)
    victim = data.draw(st.integers(0, len(packets) - 1))
    flips = data.draw(st.sets(st.integers(0, 23), max_size=3)) | data.draw(st.sets(st.integers(24, 47), max_size=3))
    damaged = bytearray(packets[victim])
    for bit in flips:
        damaged[bit // 8] ^= 0x80 >> (bit % 8)
    got = reassemble(packets[:victim] + [bytes(damaged)] + packets[victim + 1:], len(bits), mtu)
    assert (got.data, got.missing) == (bits, ())


@pytest.mark.parametrize("mtu", [HEADER_BYTES + 1, MAX_MTU])
def test_packet_of_the_largest_mtu_fits_a_packet_response(mtu):
    packet = packetize((bytes(range(256)) * 5)[:2 * (mtu - HEADER_BYTES)], 1, mtu)[0]
    assert len(packet) == mtu
    assert len(bytes([0]) + packet) <= MAX_PAYLOAD_BYTES  # status byte + packet
