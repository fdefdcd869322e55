"""Bit-error channel and symbol <-> code word mapping."""

import numpy as np
import pytest
import torch

from semanticnn.channel.bits import from_codewords, to_codewords
from semanticnn.channel.noise import bits_per_symbol, flip_bits, flip_symbol_bits


def symbol_to_code(i, mapping):
    out = to_codewords(np.asarray(i), mapping == "gray")
    return torch.from_numpy(out) if isinstance(i, torch.Tensor) else out


def code_to_symbol(c, mapping, bits=8):
    out = from_codewords(np.asarray(c), mapping == "gray")
    return torch.from_numpy(out) if isinstance(c, torch.Tensor) else out

torch.set_num_threads(1)


def test_gray_mapping_round_trip_and_adjacency():
    i = np.arange(256)
    g = symbol_to_code(i, "gray")
    assert np.array_equal(code_to_symbol(g, "gray", bits=8), i)
    assert g[:8].tolist() == [0, 1, 3, 2, 6, 7, 5, 4]
    diff = g[1:] ^ g[:-1]
    assert all(bin(int(d)).count("1") == 1 for d in diff)
    assert np.array_equal(symbol_to_code(i, "natural"), i)
    assert bits_per_symbol(8) == 3
    with pytest.raises(ValueError):
        bits_per_symbol(6)


@pytest.mark.parametrize("ber", [0.01, 0.1])
def test_flip_rate_over_a_million_bits(ber):
    data = np.zeros(125_000, dtype=np.uint8)  # 1e6 bits
    flipped = flip_bits(data, ber, seed=1)
    n = int(np.unpackbits(flipped).sum())
    sd = (1e6 * ber * (1 - ber)) ** 0.5
    assert abs(n - 1e6 * ber) < 5 * sd


def test_flip_bits_deterministic_and_typed():
    data = bytes(range(256)) * 10
    a = flip_bits(data, 0.05, seed=7)
    assert isinstance(a, bytes) and len(a) == len(data)
    assert a == flip_bits(data, 0.05, seed=7)
    assert a != flip_bits(data, 0.05, seed=8)
    assert flip_bits(data, 0.0, seed=1) == data
    assert flip_bits(data, 1.0, seed=1) == bytes(b ^ 0xFF for b in data)


def test_symbol_flips_extremes():
    idx = torch.arange(8).repeat(4, 1)
    assert torch.equal(flip_symbol_bits(idx, 0.0, 8, "gray", 0), idx)
    assert torch.equal(flip_symbol_bits(idx, 1.0, 8, "natural", 0), idx ^ 7)
    gray_all = flip_symbol_bits(idx, 1.0, 8, "gray", 0)
    expected = code_to_symbol(symbol_to_code(idx, "gray") ^ 7, "gray", bits=3)
    assert torch.equal(gray_all, expected)


def test_symbol_flip_rate_and_determinism():
    idx = torch.randint(0, 8, (64, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    out = flip_symbol_bits(idx, 0.05, 8, "gray", 3)
    assert torch.equal(out, flip_symbol_bits(idx, 0.05, 8, "gray", 3))
    bit_errors = symbol_to_code(idx, "gray") ^ symbol_to_code(out, "gray")
    n = sum(int(((bit_errors >> k) & 1).sum()) for k in range(3))
    total = idx.numel() * 3
    assert abs(n / total - 0.05) < 0.01


def test_per_sample_ber():
    idx = torch.zeros(2, 4, 8, 8, dtype=torch.long)
    out = flip_symbol_bits(idx, torch.tensor([0.0, 0.5]), 8, "gray", 0)
    assert torch.equal(out[0], idx[0])
    assert (out[1] != 0).any()
