"""Pieces of `snn eval`: BER parsing, the 8-bit baselines, frames over the channel, the plot axis."""


import numpy as np
import pytest
import torch

from semanticnn.channel.erasure import erasure_mask
from semanticnn.channel.packets import packetize, reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.evaluate.baselines import ByteQuantizer, calibrate, from_frames, to_frames
from semanticnn.evaluate.link import (
    flip_codewords,
    frame_seed,
    iid_flip_positions,
    lost_symbols,
    send_symbols,
)
from semanticnn.evaluate.report import x_positions
from semanticnn.evaluate.sweep import parse_bers


def test_parse_bers_sorts_and_drops_duplicates():
    assert parse_bers(" 0.1, 0,1e-2,0.1") == (0.0, 0.01, 0.1)


def test_calibrated_quantizers_round_trip_within_half_a_step():
    f = torch.rand(2, 16, 4, 4) * 3.0
    q = calibrate(f)
    assert q["raw-uint8"] == ByteQuantizer(False, float(f.max()) / 255, 0)
    for quantizer in q.values():
        data = quantizer.encode(f)
        assert data.dtype is torch.int64 and int(data.min()) >= 0 and int(data.max()) <= 255
        assert float((quantizer.decode(data) - f).abs().max()) <= quantizer.scale / 2 + 1e-6


def test_int8_sign_bit_flip_gives_a_negative_value():
    q = ByteQuantizer(True, 0.5, 0)
    data = q.encode(torch.tensor([10.0]))
    assert data.tolist() == [20]
    assert q.decode(data ^ 0x80).tolist() == [(20 - 128) * 0.5]


def test_frames_are_nhwc_and_invert():
    t = torch.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    rows = to_frames(t)
    assert rows[0, :3].tolist() == [0, 4, 8]  # c fastest: (h0, w0, c0..c2)
    assert torch.equal(from_frames(rows, t.shape), t)


def test_send_symbols_is_exact_at_ber_0_and_independent_of_batching():
    frames = np.random.default_rng(1).integers(0, 8, size=(6, 64))
    assert np.array_equal(send_symbols(frames, 8, "gray", "iid", 0.0, seed=3), frames)
    whole = send_symbols(frames, 8, "gray", "burst", 0.1, seed=3, key=(1, 2))
    part = send_symbols(frames[2:5], 8, "gray", "burst", 0.1, seed=3, key=(1, 2), start=2)
    assert np.array_equal(whole[2:5], part)
    assert 0 < int((whole != frames).sum()) < frames.size


def test_ber_0_is_plotted_one_decade_below_the_smallest_ber():
    assert x_positions([0.0, 1e-3, 0.1]) == ([1e-4, 1e-3, 0.1], 1e-4)


def test_iid_send_is_independent_of_batching_and_flips_only_above_ber_0():
    frames = np.random.default_rng(2).integers(0, 256, size=(6, 512))
    assert np.array_equal(send_symbols(frames, 256, "natural", "iid", 0.0, seed=3), frames)
    whole = send_symbols(frames, 256, "natural", "iid", 0.05, seed=3, key=(7,))
    part = send_symbols(frames[2:5], 256, "natural", "iid", 0.05, seed=3, key=(7,), start=2)
    assert np.array_equal(whole[2:5], part)
    assert not np.array_equal(whole, send_symbols(frames, 256, "natural", "iid", 0.05, seed=4, key=(7,)))


@pytest.mark.parametrize("k", [1, 3, 8])
def test_flipping_code_words_equals_flipping_their_packed_bitstream(k):
    rng = np.random.default_rng(k)
    codes = rng.integers(0, 2 ** k, size=37)
    positions = np.sort(rng.choice(37 * k, size=20, replace=False))
    layout = PayloadLayout(37, 2**k)
    bits = np.unpackbits(np.frombuffer(layout.pack(codes), dtype=np.uint8))
    bits[positions] ^= 1
    assert np.array_equal(flip_codewords(codes, k, positions), layout.unpack(np.packbits(bits).tobytes()))


def test_iid_flip_positions_are_sorted_in_range_at_the_ber():
    n = 1_000_000
    for ber in (1e-3, 0.1, 0.5):
        pos = iid_flip_positions(n, ber, torch.Generator().manual_seed(0))
        sigma = (n * ber * (1 - ber)) ** 0.5
        assert abs(len(pos) - n * ber) < 5 * sigma
        assert pos.dtype == np.int64 and pos[0] >= 0 and pos[-1] < n and bool(np.all(np.diff(pos) > 0))
    assert iid_flip_positions(n, 0.0, torch.Generator()).size == 0


def test_lost_symbols_match_reassembling_the_surviving_packets():
    """32 symbols of 3 bits in packets of 5 payload bytes: symbols 13 and 26 straddle two packets."""
    codes = np.arange(32) % 8
    stream = PayloadLayout(32, 8).pack(codes)
    got = lost_symbols(4, PayloadLayout(32, 8), 7 + 5, 0.4, seed=9, key=(1,), start=10)
    for i in range(4):
        packets = packetize(stream, 0, mtu=12)
        lost = erasure_mask(len(packets), 0.4, frame_seed(9, 1, 10 + i))
        arrived = reassemble([None if gone else p for p, gone in zip(packets, lost, strict=True)], len(stream), 12)
        assert np.array_equal(got[i], ~PayloadLayout(32, 8).received(arrived.received))
    assert 0 < int(got.sum()) < got.size


def test_mean_and_std_print_in_points_without_a_negative_zero():
    from semanticnn.evaluate.report import pm

    assert pm(-0.0003, 0.001) == "0.0 ± 0.1" and pm(0.7612, 0.0047) == "76.1 ± 0.5" and pm(-0.012, 0.0) == "-1.2 ± 0.0"
