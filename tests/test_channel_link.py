"""Packet erasures, transmit() on real packets, and symbols end to end."""

import numpy as np
import pytest
import torch

from semanticnn.channel.erasure import erase_packets, erasure_mask
from semanticnn.channel.link import Received, symbols_through_channel, transmit
from semanticnn.channel.models import GilbertElliottChannel, IIDChannel
from semanticnn.channel.packets import HEADER_BYTES, packetize, reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError


class FlipAt:
    """Test channel: flips the given bit positions of the stream, nothing else."""

    ber = 0.0

    def __init__(self, *positions):
        self.positions = positions

    def corrupt_bytes(self, data, generator=None):
        out = bytearray(data)
        for p in self.positions:
            out[p // 8] ^= 0x80 >> (p % 8)
        return bytes(out)


def test_erasure_rate_within_3_sigma():
    lost = erasure_mask(100_000, 0.2, 1)
    assert type(lost) is np.ndarray and lost.dtype == bool
    assert abs(lost.mean() - 0.2) < 3 * (0.2 * 0.8 / 100_000) ** 0.5
    assert not erasure_mask(50, 0.0, 1).any() and erasure_mask(50, 1.0, 1).all()
    assert np.array_equal(lost, erasure_mask(100_000, 0.2, 1))


def test_erase_packets_keeps_order():
    pkts = [bytes([i]) for i in range(200)]
    out = erase_packets(pkts, 0.5, 2)
    lost = erasure_mask(200, 0.5, 2)
    assert out == [None if gone else p for p, gone in zip(pkts, lost, strict=True)]


def test_erasure_rate_out_of_range():
    with pytest.raises(ConfigError) as e:
        erasure_mask(3, 1.2)
    assert str(e.value) == "erasure rate must be in [0, 1], got 1.2"


def test_received_symbols_by_hand():
    # k = 3, 8 symbols = 24 bits over bytes [ok, lost, ok]: symbol 2 spans bytes 0-1, symbol 5 bytes 1-2
    mask = PayloadLayout(8, 8).received(np.array([True, False, True]))
    assert mask.tolist() == [True, True, False, False, False, False, True, True]


def test_transmit_clean_channel_is_identity():
    pkts = packetize(bytes(range(150)), 3, mtu=51)
    assert transmit(pkts, IIDChannel(0.0), 0) == pkts
    assert transmit(pkts, IIDChannel(0.0), 0, erasure_rate=1.0) == [None, None, None, None]


def test_transmit_hands_on_a_header_golay_cannot_decode_and_the_receiver_rescues_it():
    pkts = packetize(bytes(100), 1, mtu=51)  # 51 + 51 + 16 bytes
    header_bits = [8 * 51 + 24 + b for b in range(4)]  # four bits of packet 1's word 1: detected, not corrected
    payload_bit = 8 * (2 * 51 + HEADER_BYTES)  # first payload bit of packet 2
    out = transmit(pkts, FlipAt(*header_bits, payload_bit), 0)
    assert out[0] == pkts[0]
    assert out[1] == pkts[1][:3] + bytes([pkts[1][3] ^ 0xF0]) + pkts[1][4:]
    assert out[2] == pkts[2][:HEADER_BYTES] + bytes([0x80]) + pkts[2][HEADER_BYTES + 1 :]
    assert reassemble(out, 100, mtu=51, frame_id=1).missing == ()
    assert reassemble(out, 100, mtu=51, frame_id=5).missing == (0, 1, 2)


def test_transmit_keeps_a_packet_with_three_errors_in_each_header_word_for_the_receiver_to_correct():
    pkts = packetize(bytes(100), 1, mtu=51)
    flips = [8 * 51 + b for b in (0, 5, 23, 24, 30, 47)]
    out = transmit(pkts, FlipAt(*flips), 0)
    assert out[1] == bytes([pkts[1][0] ^ 0x84, pkts[1][1], pkts[1][2] ^ 0x01, pkts[1][3] ^ 0x82, pkts[1][4],
                            pkts[1][5] ^ 0x01]) + pkts[1][6:]
    assert reassemble(out, 100, mtu=51).missing == ()


def test_transmit_deterministic_under_seed():
    pkts = packetize(bytes(range(256)) * 2, 5, mtu=51)
    ch = GilbertElliottChannel.from_burst(0.02, 8)
    a = transmit(pkts, ch, 4, erasure_rate=0.1)
    assert a == transmit(pkts, ch, 4, erasure_rate=0.1)
    assert a != transmit(pkts, ch, 5, erasure_rate=0.1)


@pytest.mark.parametrize("levels", [2, 4, 8, 16, 256])
@pytest.mark.parametrize("mapping", ["natural", "gray"])
@pytest.mark.parametrize("mtu", [None, 51])
def test_symbols_through_channel_at_ber_0_is_identity(levels, mapping, mtu):
    s = np.random.default_rng(levels).integers(0, levels, (4, 8, 8))
    out = symbols_through_channel(s, levels, mapping, IIDChannel(0.0), 0, mtu=mtu)
    assert type(out) is Received
    assert out.symbols.shape == (4, 8, 8) and out.symbols.tolist() == s.tolist()
    assert out.erased.shape == (4, 8, 8) and not out.erased.any()


def test_symbols_through_channel_marks_lost_packets():
    s = np.random.default_rng(0).integers(0, 8, 512)  # 192 bytes, 5 packets at mtu 51
    out = symbols_through_channel(s, 8, "gray", IIDChannel(0.0), 3, mtu=51, erasure_rate=0.5)
    lost = erasure_mask(5, 0.5, _after_clean_stream(s))
    byte_ok = np.repeat(~lost, 51 - HEADER_BYTES)[:192]
    assert out.erased.tolist() == (~PayloadLayout(512, 8).received(byte_ok)).tolist()
    assert 0 < out.erased.sum() < 512
    assert np.array_equal(out.symbols[~out.erased], s[~out.erased])
    assert not out.symbols[out.erased].any()  # erased symbols read as the zero code word


def _after_clean_stream(s):
    """The generator as transmit() leaves it after drawing the bit errors of seed 3."""
    gen = torch.Generator().manual_seed(3)
    stream_bytes = 192 + 5 * HEADER_BYTES
    IIDChannel(0.0).error_pattern((stream_bytes * 8,), gen)
    return gen


def test_symbols_through_channel_errors_and_seed():
    s = np.random.default_rng(1).integers(0, 8, 2000)
    ch = IIDChannel(0.05)
    a = symbols_through_channel(s, 8, "gray", ch, 7)
    b = symbols_through_channel(s, 8, "gray", ch, 7)
    assert np.array_equal(a.symbols, b.symbols)
    assert not np.array_equal(a.symbols, symbols_through_channel(s, 8, "gray", ch, 8).symbols)
    wrong = np.mean(a.symbols != s)
    assert abs(wrong - (1 - 0.95**3)) < 0.03  # a symbol is wrong if any of its 3 bits flips


def test_erasures_need_an_mtu():
    with pytest.raises(ConfigError) as e:
        symbols_through_channel(np.zeros(8, dtype=int), 8, "gray", IIDChannel(0.0), 0, erasure_rate=0.1)
    assert str(e.value) == "packet erasures need an mtu: pass mtu= with erasure_rate"
