import numpy as np
import pytest

from semanticnn.channel.packets import (
    DEFAULT_MTU,
    Header,
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
    corrupt[3] ^= 0x40  # header bit error: packet dropped
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
