"""One symbol <-> code word mapping for numpy and torch; MSB-first packing."""

import numpy as np
import pytest
import torch

from semanticnn.channel.bits import (
    bits_to_codewords,
    codewords_to_bits,
    from_codewords,
    is_gray,
    to_codewords,
)


@pytest.mark.parametrize("k", range(1, 9))
def test_gray_neighbours_differ_in_one_bit(k):
    i = np.arange(1 << k)
    g = to_codewords(i, gray=True)
    assert sorted(g.tolist()) == i.tolist()  # a permutation of the code words
    d = g[1:] ^ g[:-1]
    assert [bin(int(x)).count("1") for x in d] == [1] * ((1 << k) - 1)
    assert from_codewords(g, gray=True).tolist() == i.tolist()


def test_gray_first_code_words_by_hand():
    assert to_codewords(np.arange(8), True).tolist() == [0, 1, 3, 2, 6, 7, 5, 4]
    assert from_codewords(np.array([0, 1, 3, 2, 6, 7, 5, 4]), True).tolist() == list(range(8))


@pytest.mark.parametrize("gray", [False, True])
def test_torch_and_numpy_share_the_mapping(gray):
    i = np.arange(1 << 16, dtype=np.int64)
    t = torch.from_numpy(i)
    c = to_codewords(t, gray)
    assert type(c) is torch.Tensor and c.dtype == torch.int64
    assert c.tolist() == to_codewords(i, gray).tolist()
    back = from_codewords(c, gray)
    assert type(back) is torch.Tensor and torch.equal(back, t)
    assert type(from_codewords(i, gray)) is np.ndarray


def test_mapping_returns_a_copy():
    i = np.arange(4)
    c = to_codewords(i, gray=False)
    c[0] = 9
    assert i[0] == 0


def test_codeword_bits_msb_first():
    assert codewords_to_bits(np.array([5, 2]), 3).tolist() == [[1, 0, 1], [0, 1, 0]]
    t = codewords_to_bits(torch.tensor([5, 2]), 3)
    assert t.dtype == torch.uint8 and t.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert bits_to_codewords(t, 3).tolist() == [5, 2]
    assert bits_to_codewords(np.array([[1, 0, 1], [0, 1, 0]]), 3).tolist() == [5, 2]


def test_is_gray_rejects_unknown_mapping():
    assert is_gray("gray") is True and is_gray("natural") is False
    with pytest.raises(ValueError) as e:
        is_gray("binary")
    assert str(e.value) == "unknown mapping 'binary': use 'natural' or 'gray'"
