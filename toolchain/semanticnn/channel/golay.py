"""Extended binary Golay code (24, 12, 8): the code of the packet header words.

A code word is 24 bits, ``[12 info bits | 12 parity bits]`` (systematic). The parity
of ``m`` (12 bits) is built from the cyclic Golay code (23, 12, 7) and its overall
parity bit:

    r(x) = m(x) x^11 mod g(x),   g(x) = x^11 + x^10 + x^6 + x^5 + x^4 + x^2 + 1
    parity(m) = r << 1 | (weight(m) + weight(r)) mod 2

The code is linear, so ``parity(m)`` is the XOR of ``PARITY_ROWS[i]`` over the set
bits ``i`` of ``m`` (bit ``i`` has value ``2^i``): those 12 rows are the whole
encoder, here and in the firmware (the exporter prints them into ``snn_packet.h``).

Its minimum distance is 8, so every pattern of up to 3 flipped bits in a word has its
own syndrome ``s = parity(info) ^ parity bits`` (``2325`` of the 4096 syndromes), and
a pattern of 4 flips leaves a syndrome no 0..3-bit pattern has: it is detected, never
miscorrected. ``decode`` looks the syndrome up in that table. Five or more flips may
be miscorrected into another code word.
"""

from itertools import combinations

import numpy as np

__all__ = ["INFO_BITS", "WORD_BITS", "GENERATOR_POLY", "PARITY_ROWS", "CORRECTABLE", "parity", "encode",
           "decode", "error_table"]

INFO_BITS = 12
WORD_BITS = 24
GENERATOR_POLY = 0b1100_0111_0101  # g(x) = x^11 + x^10 + x^6 + x^5 + x^4 + x^2 + 1
CORRECTABLE = 3  # bit errors a word can lose and still decode: (d - 1) // 2 with d = 8
_INFO_MASK = (1 << INFO_BITS) - 1


def _cyclic_remainder(m):
    """``m(x) x^11 mod g(x)``, 11 bits."""
    r = m << 11
    for bit in range(INFO_BITS + 10, 10, -1):
        if r >> bit & 1:
            r ^= GENERATOR_POLY << (bit - 11)
    return r


def _parity_from_formula(m):
    r = _cyclic_remainder(m)
    return r << 1 | (bin(m).count("1") + bin(r).count("1")) & 1


PARITY_ROWS = tuple(_parity_from_formula(1 << i) for i in range(INFO_BITS))
"""``PARITY_ROWS[i]``: the 12 parity bits of the info word with only bit ``i`` (value ``2^i``) set."""


def parity(info: int) -> int:
    """The 12 parity bits of ``info``: XOR of ``PARITY_ROWS[i]`` for each set bit ``i``."""
    out = 0
    for i, row in enumerate(PARITY_ROWS):
        if info >> i & 1:
            out ^= row
    return out


def encode(info: int) -> int:
    """The 24-bit code word ``info << 12 | parity(info)`` of a 12-bit ``info``."""
    if not 0 <= info <= _INFO_MASK:
        raise ValueError(f"Golay info word {info} does not fit {INFO_BITS} bits")
    return info << INFO_BITS | parity(info)


def _syndrome(word):
    return parity(word >> INFO_BITS) ^ (word & _INFO_MASK)


def error_table():
    """int64 [4096]: the error pattern of each syndrome of a 0..3-bit error, -1 for the rest (uncorrectable)."""
    table = np.full(1 << INFO_BITS, -1, dtype=np.int64)
    for weight in range(CORRECTABLE + 1):
        for bits in combinations(range(WORD_BITS), weight):
            error = sum(1 << b for b in bits)
            table[_syndrome(error)] = error
    return table


_ERROR = error_table()


def decode(word: int) -> tuple[int, int] | None:
    """``(info, bits corrected)`` of a received 24-bit ``word``, or None if more than 3 bits flipped."""
    error = int(_ERROR[_syndrome(word)])
    if error < 0:
        return None
    return (word ^ error) >> INFO_BITS, bin(error).count("1")
