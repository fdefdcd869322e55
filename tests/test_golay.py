"""The extended Golay(24, 12) code of the packet header: its definition, distance, and decoder."""

from collections import Counter
from itertools import combinations

import pytest

from semanticnn.channel import golay


def _mod_g(value):
    """``value(x) mod g(x)`` by long division, independent of the encoder."""
    for bit in range(value.bit_length() - 1, 10, -1):
        if value >> bit & 1:
            value ^= golay.GENERATOR_POLY << (bit - 11)
    return value


def _patterns(weight):
    return [sum(1 << b for b in bits) for bits in combinations(range(golay.WORD_BITS), weight)]


def test_every_word_is_a_cyclic_golay_word_plus_an_even_parity_bit():
    for info in range(1 << golay.INFO_BITS):
        word = golay.encode(info)
        assert word >> 12 == info
        assert _mod_g(word >> 1) == 0, info  # info x^11 + remainder is a multiple of g(x)
        assert bin(word).count("1") % 2 == 0, info


def test_weight_enumerator_is_the_extended_golay_codes():
    weights = Counter(bin(golay.encode(info)).count("1") for info in range(1 << golay.INFO_BITS))
    assert weights == {0: 1, 8: 759, 12: 2576, 16: 759, 24: 1}  # minimum distance 8


def test_parity_is_the_xor_of_the_rows_of_the_set_bits():
    assert golay.parity(0) == 0
    assert [golay.parity(1 << i) for i in range(12)] == list(golay.PARITY_ROWS)
    assert golay.parity(0b101) == golay.PARITY_ROWS[0] ^ golay.PARITY_ROWS[2]


@pytest.mark.parametrize("info", [0, 0x234, 0xFFF, 0b101010_000011])
def test_every_error_of_up_to_three_bits_is_corrected(info):
    word = golay.encode(info)
    for weight in range(4):
        for error in _patterns(weight):
            assert golay.decode(word ^ error) == (info, weight), hex(error)


@pytest.mark.parametrize("info", [0, 0x9C3])
def test_every_error_of_four_bits_is_detected(info):
    word = golay.encode(info)
    assert all(golay.decode(word ^ error) is None for error in _patterns(4))


def test_encode_rejects_an_info_word_over_12_bits():
    with pytest.raises(ValueError, match="Golay info word 4096 does not fit 12 bits"):
        golay.encode(4096)
