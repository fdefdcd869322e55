"""The payload bitstream of one frame of symbols: its layout, and the code that may protect it.

A frame is ``n`` symbols in NHWC order, each a ``k``-bit code word (``bits``: natural or
Gray, ``k = log2(L)``). ``PAYLOAD_CODES`` names the layouts:

* ``"plain"``: code word after code word, MSB first:
  ``n k`` bits.
* ``"golay-msb"``: unequal error protection of the most significant bit. With Gray
  code words of L = 4, a flipped MSB moves a symbol from one outer level to the other
  (0 <-> 3) where a flipped LSB moves it to a neighbour, so the MSB carries most of
  the damage a bit error does. Symbols go in groups of 12; group ``g`` (symbols
  ``12g .. 12g + 11``) is sent as

      [ Golay(24, 12) word of the 12 MSBs | the k - 1 low bits of symbol 12g, 12g + 1, ... ]

  with the MSB of symbol ``12g + j`` at info bit ``11 - j`` (first on air), so a
  group is ``24 + 12 (k - 1)`` bits. The ``n mod 12`` symbols after the last whole
  group are sent plain. The receiver corrects up to 3 flipped bits of a word
  (``golay``); a word with more keeps its received info bits. On a binary symmetric
  channel at BER 5e-2 the MSBs come out at about 6e-3, at 1e-2 at about 2e-5.

The payload is ``ceil(bits / 8)`` bytes, the last one padded with zeros. A symbol
arrives only if every bit of its span did: its own bits, and for a protected
symbol the whole group up to its low bits (``spans``).

Functions take torch tensors ``[..., n]`` and return tensors on the same device; the
byte helpers take and give numpy and ``bytes``. This module is the one payload
layout: the firmware's packer (``firmware/templates/src/sq.c``), the trainer's
channel, the evaluator and the edge receiver all go through it.
"""

from typing import NamedTuple

import numpy as np
import torch

from semanticnn.channel import golay
from semanticnn.channel.bits import bits_per_symbol, bits_to_codewords, codewords_to_bits
from semanticnn.channel.packets import HEADER_BYTES
from semanticnn.errors import ConfigError

__all__ = ["PAYLOAD_CODES", "GROUP", "PayloadLayout", "check_payload_code"]

PAYLOAD_CODES = ("plain", "golay-msb")
GROUP = golay.INFO_BITS  # symbols whose MSBs share one Golay word

_PARITY_ROWS = torch.tensor(golay.PARITY_ROWS, dtype=torch.int64)
_ERRORS = torch.from_numpy(golay.error_table())
_WORD_SHIFTS = torch.arange(golay.WORD_BITS - 1, -1, -1)


def check_payload_code(code):
    """``code`` itself, or a one-line ConfigError naming the known codes."""
    if code not in PAYLOAD_CODES:
        raise ConfigError(f"unknown payload code {code!r}: use {' or '.join(repr(c) for c in PAYLOAD_CODES)}")
    return code


def _parity(info):
    """Golay parity of int64 info words (any shape): XOR of ``PARITY_ROWS[i]`` over set bits ``i``."""
    out = torch.zeros_like(info)
    for i in range(golay.INFO_BITS):
        out ^= ((info >> i) & 1) * _PARITY_ROWS[i].to(info.device)
    return out


def _correct(words):
    """Info bits of received int64 words: up to 3 flips corrected, the received info otherwise."""
    info = words >> golay.INFO_BITS
    error = _ERRORS.to(words.device)[_parity(info) ^ (words & ((1 << golay.INFO_BITS) - 1))]
    return torch.where(error >= 0, words ^ error.clamp(min=0), words) >> golay.INFO_BITS


class PayloadLayout(NamedTuple):
    """Where each code-word bit of a frame of ``n`` symbols of ``levels`` goes, under ``code``."""

    n: int
    levels: int
    code: str = "plain"

    @classmethod
    def of(cls, config, n):
        """The layout of ``n`` symbols of a codec config (keys ``levels`` and ``payload_code``)."""
        return cls(n, config["levels"], check_payload_code(config.get("payload_code", "plain")))

    @classmethod
    def from_manifest(cls, manifest):
        """The layout an export manifest names: the encoder's (levels under ``sq``) or the decoder's."""
        sq = manifest.get("sq", manifest)
        return cls(int(manifest["n_symbols"]), int(sq["levels"]), check_payload_code(sq.get("payload_code", "plain")))

    @property
    def k(self):
        """Bits a code word: ``log2(levels)``."""
        return bits_per_symbol(self.levels)

    @property
    def groups(self):
        """Whole groups of ``GROUP`` symbols with a Golay-coded MSB word (0 when plain)."""
        return self.n // GROUP if self.code == "golay-msb" else 0

    @property
    def group_bits(self):
        """Bits of one group: the Golay word and 12 symbols' low bits."""
        return golay.WORD_BITS + GROUP * (self.k - 1)

    @property
    def bits(self):
        """Payload length in bits, before padding."""
        return self.groups * self.group_bits + (self.n - self.groups * GROUP) * self.k

    @property
    def n_bytes(self):
        """Payload length in bytes, the last one zero padded."""
        return (self.bits + 7) // 8

    # -- code words <-> payload bits (torch) --------------------------------------------------

    def to_bits(self, codes):
        """Payload bits (uint8 0/1) ``[..., bits]`` of code words ``[..., n]`` (int64 tensor)."""
        codes = codes.long()
        lead, head = codes.shape[:-1], self.groups * GROUP
        parts = []
        if self.groups:
            grouped = codes[..., :head].reshape(*lead, self.groups, GROUP)
            msb = (grouped >> (self.k - 1)) & 1
            info = (msb << torch.arange(GROUP - 1, -1, -1, device=codes.device)).sum(-1)
            words = info << golay.INFO_BITS | _parity(info)
            word_bits = ((words.unsqueeze(-1) >> _WORD_SHIFTS.to(codes.device)) & 1).to(torch.uint8)
            low = codewords_to_bits(grouped & ((1 << (self.k - 1)) - 1), self.k - 1).reshape(*lead, self.groups, -1)
            parts.append(torch.cat([word_bits, low], -1).reshape(*lead, -1))
        parts.append(codewords_to_bits(codes[..., head:], self.k).reshape(*lead, -1))
        return torch.cat(parts, -1)

    def from_bits(self, bits):
        """Code words ``[..., n]`` of received payload bits ``[..., bits]``; MSB words corrected."""
        bits = bits.long()
        lead, split = bits.shape[:-1], self.groups * self.group_bits
        parts = []
        if self.groups:
            grouped = bits[..., :split].reshape(*lead, self.groups, self.group_bits)
            words = bits_to_codewords(grouped[..., :golay.WORD_BITS], golay.WORD_BITS)
            info = _correct(words)
            msb = (info.unsqueeze(-1) >> torch.arange(GROUP - 1, -1, -1, device=bits.device)) & 1
            low = grouped[..., golay.WORD_BITS:].reshape(*lead, self.groups, GROUP, self.k - 1)
            parts.append((msb << (self.k - 1) | bits_to_codewords(low, self.k - 1)).reshape(*lead, -1))
        tail = bits[..., split:self.bits].reshape(*lead, -1, self.k)
        parts.append(bits_to_codewords(tail, self.k))
        return torch.cat(parts, -1)

    # -- bytes (numpy) ---------------------------------------------------------------------------

    def pack(self, codes) -> bytes:
        """The payload bytes of one frame's code words (array-like [n])."""
        bits = self.to_bits(torch.as_tensor(np.asarray(codes, dtype=np.int64)).reshape(-1))
        return np.packbits(bits.numpy()).tobytes()

    def unpack(self, data: bytes) -> np.ndarray:
        """Code words (int64 [n]) of one frame's received payload bytes."""
        bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))[: self.bits]
        if bits.size != self.bits:
            raise ValueError(f"payload holds {bits.size} bits, {self.n} symbols need {self.bits}")
        return self.from_bits(torch.from_numpy(bits.astype(np.int64))).numpy()

    # -- which bits a symbol needs ---------------------------------------------------------------

    def spans(self):
        """``(first, last)`` payload bit (int64 [n] each) of the span every symbol needs."""
        j = np.arange(self.n)
        head = self.groups * GROUP
        g, r = np.divmod(j, GROUP)
        grouped_first = g * self.group_bits
        grouped_last = grouped_first + golay.WORD_BITS + (r + 1) * (self.k - 1) - 1
        if self.k == 1:  # the word alone holds the group's bits
            grouped_last = grouped_first + golay.WORD_BITS - 1
        plain_first = self.groups * self.group_bits + (j - head) * self.k
        first = np.where(j < head, grouped_first, plain_first)
        last = np.where(j < head, grouped_last, plain_first + self.k - 1)
        return first.astype(np.int64), last.astype(np.int64)

    def received(self, byte_mask) -> np.ndarray:
        """Bool [n]: True where every payload byte of a symbol's span arrived."""
        mask = np.asarray(byte_mask, dtype=bool)
        if mask.size * 8 < self.bits:
            raise ValueError(f"mask covers {mask.size * 8} bits, {self.n} symbols need {self.bits}")
        missing = np.concatenate([[0], np.cumsum(~mask)])
        first, last = self.spans()
        return missing[last // 8 + 1] == missing[first // 8]

    def symbol_packets(self, mtu):
        """``(first, last)`` packet of each symbol's span, in packets of ``mtu`` bytes (header included)."""
        per_packet = mtu - HEADER_BYTES
        first, last = self.spans()
        return (first // 8) // per_packet, (last // 8) // per_packet
