"""Bit channels (i.i.d., Gilbert-Elliott) against their formulas, over 10^6 bits."""

import numpy as np
import pytest
import torch

from semanticnn.channel.bits import to_codewords
from semanticnn.channel.models import (
    CHANNELS,
    Channel,
    GilbertElliottChannel,
    IIDChannel,
    corrupt_symbols,
    make_channel,
)
from semanticnn.channel.noise import flip_symbol_bits
from semanticnn.errors import ConfigError

torch.set_num_threads(1)
N = 10**6


def runs_of_true(x):
    d = np.diff(np.concatenate([[0], x.astype(np.int8), [0]]))
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


@pytest.mark.parametrize("ber", [1e-2, 1e-1])
def test_iid_ber_within_3_sigma(ber):
    flips = IIDChannel(ber).corrupt_bits(np.zeros(N, dtype=np.uint8), 11)
    sigma = (N * ber * (1 - ber)) ** 0.5
    assert abs(int(flips.sum()) - N * ber) < 3 * sigma


def test_gilbert_elliott_matches_its_formulas():
    ch = GilbertElliottChannel(p_gb=0.01, p_bg=0.1, ber_good=0.001, ber_bad=0.3)
    assert ch.pi_bad == pytest.approx(1 / 11)  # 0.01 / (0.01 + 0.1)
    assert ch.mean_burst == pytest.approx(10.0)  # 1 / p_bg
    assert ch.ber == pytest.approx(10 / 11 * 0.001 + 1 / 11 * 0.3)
    gen = torch.Generator().manual_seed(3)
    bad = ch.states((N,), gen).numpy()
    # Markov-chain sd of the bad fraction: sqrt(pi (1 - pi) (1 + l) / (1 - l) / N), l = 1 - p_gb - p_bg
    lam = 1 - 0.01 - 0.1
    sd = (ch.pi_bad * (1 - ch.pi_bad) * (1 + lam) / (1 - lam) / N) ** 0.5
    assert abs(bad.mean() - ch.pi_bad) < 3 * sd
    bursts = runs_of_true(bad)
    se = (1 - 0.1) ** 0.5 / 0.1 / len(bursts) ** 0.5  # geometric sd / sqrt(count)
    assert abs(bursts.mean() - 10.0) < 3 * se
    good = runs_of_true(~bad)
    assert abs(good.mean() - 100.0) < 3 * (1 - 0.01) ** 0.5 / 0.01 / len(good) ** 0.5
    errors = ch.corrupt_bits(np.zeros(N, dtype=np.uint8), 4)
    sd_ber = (0.3 - 0.001) * sd + (ch.ber / N) ** 0.5
    assert abs(errors.mean() - ch.ber) < 3 * sd_ber


def test_from_burst_parameters_and_measured_ber():
    ch = GilbertElliottChannel.from_burst(1e-2, burst_length=8)
    assert ch.p_bg == 0.125 and ch.ber_good == 0.0 and ch.ber_bad == 0.5
    assert ch.p_gb == pytest.approx(0.02 * 0.125 / 0.98)  # pi_B = 1e-2 / 0.5
    assert ch.ber == pytest.approx(1e-2)
    assert ch.mean_burst == 8.0
    errors = ch.corrupt_bits(torch.zeros(N, dtype=torch.uint8), 5)
    assert abs(errors.double().mean().item() - 1e-2) < 1.5e-3
    # errors come in bursts: most errors have an error within 8 bits
    pos = np.flatnonzero(errors.numpy())
    assert np.mean(np.diff(pos) <= 8) > 0.6


def test_every_stream_starts_stationary_and_is_its_own_chain():
    ch = GilbertElliottChannel(0.2, 0.2)
    bad = ch.states((4000, 30), 8).numpy()
    assert abs(bad[:, 0].mean() - 0.5) < 3 * (0.25 / 4000) ** 0.5
    assert abs(bad[:, -1].mean() - 0.5) < 3 * (0.25 / 4000) ** 0.5
    assert len({row.tobytes() for row in bad}) > 3900


def test_degenerate_chains():
    assert not ch_states(GilbertElliottChannel(0.0, 0.5)).any()
    assert ch_states(GilbertElliottChannel(1.0, 1.0)).tolist() in ([0, 1] * 5, [1, 0] * 5)
    assert GilbertElliottChannel.from_burst(0.0, 4).corrupt_bytes(bytes(100), 1) == bytes(100)


def ch_states(ch):
    return ch.states((10,), 0).numpy().astype(int)


@pytest.mark.parametrize("channel", [IIDChannel(0.05), GilbertElliottChannel.from_burst(0.05, 4)])
def test_deterministic_under_seed_and_typed(channel):
    assert isinstance(channel, Channel)
    bits = np.zeros((3, 5000), dtype=np.uint8)
    a = channel.corrupt_bits(bits, 7)
    assert type(a) is np.ndarray and a.dtype == np.uint8 and a.shape == (3, 5000)
    assert np.array_equal(a, channel.corrupt_bits(bits, 7))
    assert not np.array_equal(a, channel.corrupt_bits(bits, 8))
    t = channel.corrupt_bits(torch.from_numpy(bits), torch.Generator().manual_seed(7))
    assert type(t) is torch.Tensor and t.dtype == torch.uint8
    assert np.array_equal(t.numpy(), a)  # one seed, one pattern, whatever the input type
    data = bytes(range(256)) * 4
    out = channel.corrupt_bytes(data, 7)
    assert type(out) is bytes and len(out) == len(data) and out == channel.corrupt_bytes(data, 7)


def test_iid_extremes_and_per_sample_ber():
    bits = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 1]], dtype=torch.uint8)
    assert torch.equal(IIDChannel(0.0).corrupt_bits(bits, 0), bits)
    assert torch.equal(IIDChannel(1.0).corrupt_bits(bits, 0), 1 - bits)
    assert torch.equal(IIDChannel(torch.tensor([0.0, 1.0])).corrupt_bits(bits, 0), torch.stack([bits[0], 1 - bits[1]]))


def test_registry_picks_by_name():
    assert sorted(CHANNELS) == ["burst", "iid"]
    assert type(make_channel("iid", 0.01)) is IIDChannel
    burst = make_channel("burst", 0.01, burst_length=4)
    assert type(burst) is GilbertElliottChannel and burst.p_bg == 0.25


def test_registry_unknown_name():
    with pytest.raises(ConfigError) as e:
        make_channel("awgn", 0.01)
    assert str(e.value) == "unknown channel 'awgn': known channels are burst, iid"


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError) as e:
        IIDChannel(1.5)
    assert str(e.value) == "ber must be in [0, 1], got 1.5"
    with pytest.raises(ConfigError) as e:
        GilbertElliottChannel.from_burst(0.5, 8)
    assert str(e.value) == "burst channel ber must be in [0.0, 0.5), got 0.5"
    with pytest.raises(ConfigError) as e:
        GilbertElliottChannel.from_burst(0.4, 1)
    assert str(e.value) == "ber 0.4 with bursts of 1 bits needs p_gb = 4 > 1"
    with pytest.raises(ConfigError) as e:
        GilbertElliottChannel(0.1, 0.0)
    assert str(e.value) == "p_bg must be in (0, 1], got 0.0"


@pytest.mark.parametrize("mapping", ["natural", "gray"])
def test_corrupt_symbols_identity_and_all_flipped(mapping):
    idx = torch.randint(0, 16, (2, 4, 3, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(corrupt_symbols(idx, 16, mapping, GilbertElliottChannel.from_burst(0.0, 8), 1), idx)
    flipped = corrupt_symbols(idx.numpy(), 16, mapping, IIDChannel(1.0), 1)
    assert type(flipped) is np.ndarray
    codes = to_codewords(idx.numpy(), mapping == "gray")
    assert np.array_equal(to_codewords(flipped, mapping == "gray"), codes ^ 15)


def test_corrupt_symbols_channel_dim_sends_nhwc_order():
    ch = GilbertElliottChannel.from_burst(0.1, 6)
    idx = torch.randint(0, 8, (3, 4, 5, 5), generator=torch.Generator().manual_seed(2))
    nchw = corrupt_symbols(idx, 8, "gray", ch, 9, channel_dim=1)
    nhwc = corrupt_symbols(idx.permute(0, 2, 3, 1), 8, "gray", ch, 9)
    assert torch.equal(nchw, nhwc.permute(0, 3, 1, 2))
    assert not torch.equal(nchw, corrupt_symbols(idx, 8, "gray", ch, 9))


def test_flip_symbol_bits_draws_as_before_the_channel_refactor():
    # pinned from the pre-refactor noise.flip_symbol_bits: training runs stay reproducible
    idx = torch.arange(8).repeat(2, 1)
    assert flip_symbol_bits(idx, 0.3, 8, "gray", 0).tolist() == [[1, 6, 2, 3, 1, 5, 2, 7], [0, 5, 3, 6, 3, 4, 4, 0]]
    out = flip_symbol_bits(idx, torch.tensor([0.0, 0.5]), 8, "natural", 1)
    assert out.tolist() == [[0, 1, 2, 3, 4, 5, 6, 7], [4, 3, 2, 4, 6, 0, 7, 5]]
    assert torch.equal(flip_symbol_bits(idx, 0.3, 8, "gray", 0), corrupt_symbols(idx, 8, "gray", IIDChannel(0.3), 0))


def test_burst_length_one_bit_samples():
    # regression: p_bg = 1 used to reach torch's geometric_, which rejects p = 1
    ch = GilbertElliottChannel.from_burst(0.1, burst_length=1)
    assert ch.p_bg == 1.0
    bad = ch.states((100_000,), 3).numpy()
    assert runs_of_true(bad).max() == 1
    assert abs(bad.mean() - 0.2) < 0.01
