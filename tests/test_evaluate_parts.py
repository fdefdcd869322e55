"""Pieces of `snn eval`: BER parsing, the 8-bit baselines, frames over the channel, the plot axis."""

import numpy as np
import torch

from semanticnn.evaluate.baselines import ByteQuantizer, calibrate, from_frames, to_frames
from semanticnn.evaluate.link import send_symbols
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
