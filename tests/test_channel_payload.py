"""channel.payload: the plain layout is the old packing, golay-msb protects each symbol's MSB."""

import numpy as np
import pytest
import torch

from semanticnn.channel import golay
from semanticnn.channel.bits import to_codewords
from semanticnn.channel.erasure import erasure_mask
from semanticnn.channel.link import symbols_through_channel
from semanticnn.channel.models import IIDChannel
from semanticnn.channel.noise import flip_symbol_bits
from semanticnn.channel.packets import packetize, reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError
from semanticnn.evaluate.link import frame_seed, lost_symbols, send_symbols


@pytest.mark.parametrize("n, levels", [(768, 4), (512, 4), (100, 8), (30, 2), (5, 256)])
def test_plain_layout_is_msb_first_packing(n, levels):
    rng = np.random.default_rng(n)
    codes = rng.integers(0, levels, n)
    layout = PayloadLayout(n, levels)
    bits = "".join(f"{c:0{layout.k}b}" for c in codes)
    bits += "0" * (-len(bits) % 8)
    assert layout.pack(codes) == int(bits, 2).to_bytes(len(bits) // 8, "big")
    assert layout.n_bytes == (n * layout.k + 7) // 8
    assert layout.unpack(layout.pack(codes)).tolist() == codes.tolist()


def test_golay_group_by_hand():
    """12 symbols of L = 4, all code word 0b10: info 0xFFF, its parity, then twelve 0 low bits."""
    layout = PayloadLayout(13, 4, "golay-msb")
    codes = [0b10] * 12 + [0b11]
    word = golay.encode(0xFFF)
    bits = f"{word:024b}" + "0" * 12 + "11"
    assert layout.bits == 38 and layout.n_bytes == 5
    assert layout.pack(codes) == int(bits + "00", 2).to_bytes(5, "big")
    assert layout.unpack(layout.pack(codes)).tolist() == codes


@pytest.mark.parametrize("n, levels, n_bytes", [(512, 4, 191), (768, 4, 288), (11, 4, 3), (24, 2, 6), (30, 8, 15)])
def test_golay_sizes_and_round_trip(n, levels, n_bytes):
    layout = PayloadLayout(n, levels, "golay-msb")
    codes = np.random.default_rng(1).integers(0, levels, n)
    assert layout.n_bytes == n_bytes
    assert layout.unpack(layout.pack(codes)).tolist() == codes.tolist()


def test_golay_corrects_three_flips_a_word_and_passes_low_bit_errors():
    layout = PayloadLayout(24, 4, "golay-msb")
    codes = np.random.default_rng(2).integers(0, 4, 24)
    bits = layout.to_bits(torch.from_numpy(codes)).clone()
    bits[[0, 5, 23]] ^= 1            # 3 flips in word 0: corrected
    bits[36 + 24 + 2] ^= 1           # the low bit of symbol 14 (word 1's group): passes through
    got = layout.from_bits(bits).numpy()
    want = codes.copy()
    want[14] ^= 1
    assert got.tolist() == want.tolist()
    bits[[1, 2, 3, 4]] ^= 1          # 7 flips in word 0 now: at best detected, never the sent MSBs
    assert (layout.from_bits(bits).numpy()[:12] >> 1).tolist() != (codes[:12] >> 1).tolist()


def test_golay_msb_errors_fall_on_a_noisy_channel():
    """BER 5e-2: the MSBs come out near 6e-3, the LSBs at the channel's BER."""
    idx = torch.randint(0, 4, (400, 8, 8, 8), generator=torch.Generator().manual_seed(0))
    ber = torch.full((400,), 0.05)
    for code, msb_max, msb_min in (("golay-msb", 0.009, 0.003), ("plain", 0.055, 0.045)):
        out = flip_symbol_bits(idx, ber, 4, "gray", 7, channel_dim=1, payload_code=code)
        err = to_codewords(idx, True) ^ to_codewords(out, True)
        assert msb_min < float((err >> 1).float().mean()) < msb_max, code
        assert 0.045 < float((err & 1).float().mean()) < 0.055, code


def test_received_spans_cover_the_group_word():
    """A lost byte inside group 0's Golay word erases all 12 symbols of the group, no others."""
    layout = PayloadLayout(30, 4, "golay-msb")  # 2 groups of 36 bits, 6 plain symbols
    mask = np.ones(layout.n_bytes, dtype=bool)
    mask[1] = False
    assert np.flatnonzero(~layout.received(mask)).tolist() == list(range(12))
    mask[:] = True
    mask[-1] = False  # the last byte: the last plain symbols
    assert np.flatnonzero(~layout.received(mask)).tolist() == [28, 29]


def test_symbols_through_packets_with_golay():
    symbols = np.random.default_rng(3).integers(0, 4, (8, 8, 8))
    got = symbols_through_channel(symbols, 4, "gray", IIDChannel(0.0), seed=0, mtu=51, payload_code="golay-msb")
    assert np.array_equal(got.symbols, symbols) and not got.erased.any()
    noisy = symbols_through_channel(symbols, 4, "gray", IIDChannel(0.01), seed=0, mtu=51, payload_code="golay-msb")
    flipped = to_codewords(noisy.symbols, True) ^ to_codewords(symbols, True)
    assert (flipped & 1).any() and not (flipped >> 1).any()  # 1e-2: a few LSBs, no MSB


def test_unknown_payload_code_is_one_line():
    with pytest.raises(ConfigError, match="unknown payload code 'golay': use 'plain' or 'golay-msb'"):
        PayloadLayout.of({"levels": 4, "payload_code": "golay"}, 512)


def test_evaluation_sends_golay_frames():
    """The evaluator's i.i.d. path keeps the MSBs at 1e-2 and erases whole spans of lost packets."""
    frames = np.random.default_rng(4).integers(0, 4, (6, 512))
    got = send_symbols(frames, 4, "gray", "iid", 0.01, seed=1, payload_code="golay-msb")
    flipped = to_codewords(got, True) ^ to_codewords(frames, True)
    assert (flipped & 1).any() and not (flipped >> 1).any()
    layout = PayloadLayout(512, 4, "golay-msb")
    stream = layout.pack(frames[0])
    lost = lost_symbols(40, layout, 50, 0.3, seed=2)
    for i in range(40):  # the same losses on real packets of 44 payload bytes, reassembled
        packets = packetize(stream, 0, mtu=50)
        gone = erasure_mask(len(packets), 0.3, frame_seed(2, i))
        arrived = reassemble([None if g else p for p, g in zip(packets, gone, strict=True)], len(stream), 50)
        assert np.array_equal(lost[i], ~layout.received(arrived.received))
    assert 0 < int(lost.sum()) < lost.size
