"""Packet header format v2 (two Golay words), packetize and reassemble."""

from itertools import combinations

import numpy as np
import pytest

from semanticnn.channel import golay
from semanticnn.channel.packets import (
    DEFAULT_MTU,
    HEADER_BYTES,
    MAX_PACKETS,
    RESCUE_WORD_BITS,
    Header,
    decode_header,
    encode_header,
    expected_ids,
    packet_count,
    packetize,
    reassemble,
    rescue_header,
)
from semanticnn.errors import ConfigError, ProtocolError


def test_packetize_header_layout():
    pkts = packetize(bytes(range(100)), 0x1234, mtu=51)
    assert [len(p) for p in pkts] == [51, 51, 16]
    # word 0: frame_id mod 4096 = 0x234; word 1: fragment << 6 | count - 1
    assert [p[:6].hex() for p in pkts] == ["23405500293e", "2340550424a7", "234055082ae4"]
    for i, p in enumerate(pkts):
        assert p[:3] == golay.encode(0x234).to_bytes(3, "big")
        assert p[3:6] == golay.encode(i << 6 | 2).to_bytes(3, "big")
    assert b"".join(p[HEADER_BYTES:] for p in pkts) == bytes(range(100))


def test_packet_count_is_ceil():
    assert packet_count(45, 51) == 1
    assert packet_count(46, 51) == 2
    assert DEFAULT_MTU == 51 and HEADER_BYTES == 6 and MAX_PACKETS == 64


def test_packetize_rejects_tiny_mtu():
    with pytest.raises(ConfigError) as e:
        packetize(b"abc", 1, mtu=6)
    assert str(e.value) == "mtu 6 leaves no room after the 6-byte header: pass 7 or more"


def test_64_packets_fit_the_header_and_65_do_not():
    pkts = packetize(bytes(range(64)), 3, mtu=7)
    assert decode_header(pkts[63]) == (Header(frame_id=3, fragment=63, count=64), 0)
    with pytest.raises(ConfigError) as e:
        packetize(bytes(65), 1, mtu=7)
    assert str(e.value) == ("mtu 7 cuts the 65-byte bitstream into 65 packets, the header counts at most 64: "
                            "pass 8 or more")


def test_frame_id_is_sent_modulo_4096():
    assert decode_header(packetize(b"x", 4096 * 3 + 5, mtu=20)[0]) == (Header(5, 0, 1), 0)


def flip(packet, error, word):
    """``packet`` with the 24-bit ``error`` XORed into header word ``word``."""
    start = 3 * word
    bad = int.from_bytes(packet[start : start + 3], "big") ^ error
    return packet[:start] + bad.to_bytes(3, "big") + packet[start + 3 :]


def patterns(weight):
    return [sum(1 << b for b in bits) for bits in combinations(range(24), weight)]


@pytest.mark.parametrize("word", [0, 1])
def test_every_header_error_of_up_to_three_bits_per_word_is_corrected(word):
    packet = packetize(bytes(range(100)), 0xBEEF, mtu=51)[1]
    head = Header(0xEEF, 1, 3)
    for weight in range(1, 4):
        for error in patterns(weight):
            assert decode_header(flip(packet, error, word)) == (head, weight), hex(error)


def test_three_errors_in_each_word_are_all_corrected():
    packet = packetize(bytes(100), 77, mtu=51)[2]
    bad = flip(flip(packet, 0b1011 << 20, 0), 0b111, 1)
    assert decode_header(bad) == (Header(77, 2, 3), 6)


@pytest.mark.parametrize("word", [0, 1])
def test_every_header_error_of_four_bits_is_detected(word):
    packet = packetize(bytes(100), 1, mtu=51)[0]
    for error in patterns(4):
        with pytest.raises(ProtocolError) as e:
            decode_header(flip(packet, error, word))
        assert str(e.value) == f"packet header word {word} has more than 3 bit errors"


def test_a_fragment_past_its_count_is_rejected():
    packet = encode_header(9, 0, 3)
    bad = packet[:3] + golay.encode(5 << 6 | 2).to_bytes(3, "big")
    with pytest.raises(ProtocolError) as e:
        decode_header(bad)
    assert str(e.value) == "packet header names fragment 5 of a 3-packet frame"


def test_a_short_packet_is_rejected():
    with pytest.raises(ProtocolError) as e:
        decode_header(bytes(5))
    assert str(e.value) == "packet of 5 bytes is shorter than the 6-byte header"


def test_reassemble_marks_missing_fragments():
    data = bytes(np.random.default_rng(0).integers(0, 256, 130, dtype=np.uint8))
    pkts = packetize(data, 9, mtu=51)
    beyond = flip(pkts[2], 0xFF, 1)  # eight errors in word 1: neither decoded nor rescued, packet dropped
    out = reassemble([pkts[0], None, beyond], len(data), mtu=51)
    assert out.missing == (1, 2)
    assert out.data[:45] == data[:45]
    assert out.data[45:] == bytes(85)
    assert out.received.tolist() == [True] * 45 + [False] * 85


def test_reassemble_places_a_corrected_packet():
    data = bytes(range(130))
    pkts = packetize(data, 9, mtu=51)
    out = reassemble([pkts[0], flip(pkts[1], 0b111 << 9, 1), pkts[2]], len(data), mtu=51)
    assert out.data == data and out.missing == ()


def test_reassemble_drops_a_wrong_count_or_a_wrong_length():
    data = bytes(range(130))
    pkts = packetize(data, 9, mtu=51)
    other_frame_size = packetize(bytes(200), 9, mtu=51)[1]  # count 5, not 3
    truncated = pkts[2][:-1]
    out = reassemble([pkts[0], other_frame_size, truncated], len(data), mtu=51)
    assert out.missing == (1, 2)


def test_reassemble_of_a_frame_drops_packets_that_name_another_frame():
    data = bytes(range(130))
    pkts = packetize(data, 4095, mtu=51)
    stray = packetize(bytes(130), 9, mtu=51)[1]
    assert reassemble([pkts[0], stray, pkts[2]], len(data), mtu=51).missing == ()  # no frame id: placed
    out = reassemble([pkts[0], stray, pkts[2]], len(data), mtu=51, frame_id=4095)
    assert out.missing == (1,) and out.data[45:90] == bytes(45)
    assert reassemble(pkts, len(data), mtu=51, frame_id=2 * 4096 - 1).missing == ()  # ids compare mod 4096


def test_reassemble_all_received_in_any_order():
    data = bytes(range(200))
    pkts = packetize(data, 1, mtu=30)
    out = reassemble(list(reversed(pkts)), len(data), mtu=30)
    assert out.data == data and out.missing == () and bool(out.received.all())


def test_payload_bit_errors_pass_through():
    pkts = packetize(bytes(10), 1, mtu=51)
    flipped = pkts[0][:HEADER_BYTES] + bytes([0x80]) + pkts[0][HEADER_BYTES + 1 :]
    out = reassemble([flipped], 10, mtu=51)
    assert out.missing == () and out.data[0] == 0x80


def bits_off(packet, word, n, start=0):
    """``packet`` with ``n`` bits flipped in header word ``word``, from bit ``start`` (LSB first) up."""
    return flip(packet, sum(1 << b for b in range(start, start + n)), word)


def test_rescue_takes_the_expected_header_nearest_to_a_header_golay_cannot_decode():
    pkts = packetize(bytes(130), 77, mtu=51)  # fragments of 45, 45 and 40 bytes
    bad = bits_off(bits_off(pkts[1], 0, 4), 1, 2)  # 4 errors in word 0: detected, not corrected
    with pytest.raises(ProtocolError):
        decode_header(bad)
    assert rescue_header(bad, expected_ids(77), 130, 51) == (Header(77, 1, 3), 6)
    assert rescue_header(bad, [4095, 0, 1], 130, 51) is None  # its frame is not expected
    last = bits_off(pkts[2], 0, 4)
    assert rescue_header(last, [77], 130, 51) == (Header(77, 2, 3), 4)  # only fragment 2 is 46 bytes long
    assert expected_ids(0) == (4095, 0, 1) and expected_ids(4096 + 5) == (4, 5, 6)


def test_rescue_needs_every_word_within_its_bound_and_one_nearest_header():
    pkts = packetize(bytes(130), 9, mtu=51)
    edge = bits_off(pkts[0], 0, RESCUE_WORD_BITS)
    assert rescue_header(edge, [9], 130, 51) == (Header(9, 0, 3), RESCUE_WORD_BITS)
    assert rescue_header(bits_off(pkts[0], 0, RESCUE_WORD_BITS + 1), [9], 130, 51) is None
    a, b = (int.from_bytes(encode_header(9, f, 3)[3:], "big") for f in (0, 1))
    differ = [bit for bit in range(24) if (a ^ b) >> bit & 1]
    halfway = flip(pkts[0], sum(1 << bit for bit in differ[: len(differ) // 2]), 1)
    assert len(differ) // 2 <= RESCUE_WORD_BITS and len(differ) % 2 == 0
    assert rescue_header(halfway, [9], 130, 51) is None  # as near fragment 1 as fragment 0
    assert rescue_header(pkts[0][:5], [9], 130, 51) is None


def test_reassemble_rescues_a_header_beyond_golay_to_its_frame_or_files_it_elsewhere():
    data = bytes(range(130))
    pkts = packetize(data, 4095, mtu=51)
    bad = bits_off(pkts[1], 1, 5)  # word 1: five errors, miscorrected or detected
    assert reassemble([pkts[0], bad, pkts[2]], len(data), mtu=51, frame_id=4095).data == data
    assert reassemble([pkts[0], bad, pkts[2]], len(data), mtu=51).missing == ()  # the ids of the other packets
    assert reassemble([bad], len(data), mtu=51).missing == (0, 1, 2)  # no id to expect
    nxt = bits_off(packetize(data, 0, mtu=51)[1], 0, 4)
    assert reassemble([pkts[0], nxt, pkts[2]], len(data), mtu=51, frame_id=4095).missing == (1,)  # frame 0's
