import numpy as np
import pytest

from semanticnn.channel.packets import (
    DEFAULT_MTU,
    HEADER_BYTES,
    Header,
    correct_header,
    crc8,
    packet_count,
    packetize,
    parse_header,
    reassemble,
)
from semanticnn.errors import ConfigError, ProtocolError


def test_crc8_check_value():
    # CRC-8/SMBUS (poly 0x07, init 0, no reflection, no xor-out) check value
    assert crc8(b"123456789") == 0xF4


def test_packetize_header_layout():
    pkts = packetize(bytes(range(100)), 0x1234, mtu=51)
    assert [len(p) for p in pkts] == [51, 51, 19]
    assert pkts[0][:6] == bytes([0x12, 0x34, 0, 3, 0, 44])
    assert pkts[2][:6] == bytes([0x12, 0x34, 2, 3, 0, 12])
    assert pkts[1][6] == crc8(pkts[1][:6])
    assert b"".join(p[7:] for p in pkts) == bytes(range(100))


def test_packet_count_is_ceil():
    assert packet_count(44, 51) == 1
    assert packet_count(45, 51) == 2
    assert DEFAULT_MTU == 51


def test_packetize_rejects_tiny_mtu():
    with pytest.raises(ConfigError) as e:
        packetize(b"abc", 1, mtu=7)
    assert str(e.value) == "mtu 7 leaves no room after the 7-byte header"


def test_parse_header_checks_crc():
    pkt = packetize(b"hello", 7, mtu=20)[0]
    assert parse_header(pkt) == Header(frame_id=7, fragment=0, count=1, length=5)
    bad = bytes([pkt[0] ^ 1]) + pkt[1:]
    with pytest.raises(ProtocolError) as e:
        parse_header(bad)
    assert str(e.value).startswith("packet header CRC-8 mismatch: got 0x")


def test_reassemble_marks_missing_fragments():
    data = bytes(np.random.default_rng(0).integers(0, 256, 130, dtype=np.uint8))
    pkts = packetize(data, 9, mtu=51)
    corrupt = bytearray(pkts[2])
    corrupt[3] ^= 0x60  # two header bit errors, beyond repair: packet dropped
    out = reassemble([pkts[0], None, bytes(corrupt)], len(data), mtu=51)
    assert out.missing == (1, 2)
    assert out.data[:44] == data[:44]
    assert out.data[44:] == bytes(86)
    assert out.received.tolist() == [True] * 44 + [False] * 86


def test_reassemble_all_received_in_any_order():
    data = bytes(range(200))
    pkts = packetize(data, 1, mtu=30)
    out = reassemble(list(reversed(pkts)), len(data), mtu=30)
    assert out.data == data and out.missing == () and bool(out.received.all())


def test_payload_bit_errors_pass_through():
    pkts = packetize(bytes(10), 1, mtu=51)
    flipped = pkts[0][:7] + bytes([0x80]) + pkts[0][8:]
    out = reassemble([flipped], 10, mtu=51)
    assert out.missing == () and out.data[0] == 0x80


def flip(packet, position):
    """``packet`` with bit ``position`` flipped (0 = MSB of byte 0)."""
    out = bytearray(packet)
    out[position // 8] ^= 0x80 >> (position % 8)
    return bytes(out)


def test_single_bit_header_errors_have_distinct_nonzero_syndromes():
    zero = bytes(HEADER_BYTES)
    syndromes = [crc8(e[:6]) ^ e[6] for e in (flip(zero, p) for p in range(8 * HEADER_BYTES))]
    assert 0 not in syndromes and len(set(syndromes)) == 56


def test_every_single_bit_header_error_is_corrected_to_the_original():
    packet = packetize(bytes(range(100)), 0xBEEF, mtu=51)[1]
    for position in range(8 * HEADER_BYTES):
        assert correct_header(flip(packet, position)) == (packet, True), position


def test_a_valid_header_is_unchanged_and_parse_header_stays_strict():
    packet = packetize(b"hello", 7, mtu=20)[0]
    assert correct_header(packet) == (packet, False)
    with pytest.raises(ProtocolError, match="CRC-8 mismatch"):
        parse_header(flip(packet, 3))


def test_double_header_errors_with_a_non_single_bit_syndrome_are_rejected():
    packet = packetize(bytes(100), 1, mtu=51)[0]
    with pytest.raises(ProtocolError) as e:
        correct_header(flip(flip(packet, 14), 15))
    assert str(e.value) == "packet header CRC-8 mismatch (syndrome 0xa6) is not a single-bit error"


def test_a_repair_that_leaves_an_inconsistent_header_is_rejected():
    packet = packetize(bytes(10), 1, mtu=51)[0]  # fragment 0 of 1, length 10
    truncated = flip(packet, 8 * 2 + 7)[:HEADER_BYTES + 5]  # repaired length 10, only 5 payload bytes present
    with pytest.raises(ProtocolError, match="inconsistent"):
        correct_header(truncated)
    wrong_count = bytearray(packet)
    wrong_count[3] = 0  # count 0 with a valid CRC, then one CRC bit flipped
    wrong_count[6] = crc8(bytes(wrong_count[:6])) ^ 0x01
    with pytest.raises(ProtocolError, match="inconsistent"):
        correct_header(bytes(wrong_count))
