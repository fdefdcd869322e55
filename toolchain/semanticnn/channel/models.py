"""Bit-level channel models on the packed bitstream, for training and evaluation.

A channel turns a shape into an error pattern ``e`` (bool, True = flip) and
corrupts bits as ``b' = b XOR e``. The last axis is time (the order the bits go
on air); leading axes are independent streams (one per sample of a batch).

* ``IIDChannel(ber)``: binary symmetric channel, ``e_t ~ Bernoulli(ber)`` i.i.d.
* ``GilbertElliottChannel(p_gb, p_bg, ber_good, ber_bad)``: a two-state Markov
  chain ``s_t in {G, B}`` with ``P(G -> B) = p_gb``, ``P(B -> G) = p_bg``, and
  ``e_t ~ Bernoulli(ber_s_t)``. Stationary ``pi_B = p_gb / (p_gb + p_bg)``,
  average ``BER = (1 - pi_B) ber_good + pi_B ber_bad``, mean bad run (burst)
  ``1 / p_bg`` bits, mean good run ``1 / p_gb`` bits.

Randomness comes from a ``torch.Generator``; every ``generator`` argument also
takes an int seed, or None for torch's global generator. Training (tensors) and
evaluation (numpy, bytes) share one implementation, and one seed gives one
error pattern whatever the input type.
``CHANNELS`` maps the CLI name to a constructor taking the average BER first.
"""

import math
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from semanticnn.channel.bits import from_codewords, is_gray, to_codewords
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError

__all__ = [
    "Channel",
    "IIDChannel",
    "GilbertElliottChannel",
    "CHANNELS",
    "make_channel",
    "make_generator",
    "corrupt_symbols",
]


def make_generator(seed=None):
    """A ``torch.Generator`` from an int seed; a Generator or None is returned as is."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(int(seed))


def _check_probability(name, p):
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {p}")


@runtime_checkable
class Channel(Protocol):
    """What the trainer and the evaluator need from a bit channel."""

    @property
    def ber(self) -> float:
        """Average bit error rate (what the decoder is told)."""
        ...

    def error_pattern(self, shape, generator=None) -> torch.Tensor:
        """Bool CPU tensor of ``shape``, True where a bit flips; the last axis is time."""
        ...

    def corrupt_bits(self, bits, generator=None):
        """``bits XOR error_pattern(bits.shape)``; numpy in, numpy out; tensor in, tensor out."""
        ...

    def corrupt_bytes(self, data: bytes, generator=None) -> bytes:
        """Corrupt a packed MSB-first bitstream as one stream of ``8 * len(data)`` bits."""
        ...


class _BitChannel:
    """``corrupt_bits`` and ``corrupt_bytes`` from a subclass's ``error_pattern``."""

    def corrupt_bits(self, bits, generator=None):
        """``bits XOR error_pattern(bits.shape)``; numpy in, numpy out; tensor in, tensor out."""
        if isinstance(bits, torch.Tensor):
            flips = self.error_pattern(tuple(bits.shape), make_generator(generator))
            return bits ^ flips.to(device=bits.device, dtype=bits.dtype)
        arr = np.asarray(bits)
        flips = self.error_pattern(arr.shape, make_generator(generator)).numpy()
        return arr ^ flips.astype(arr.dtype)

    def corrupt_bytes(self, data: bytes, generator=None) -> bytes:
        """Corrupt a packed MSB-first bitstream as one stream of ``8 * len(data)`` bits."""
        bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
        return np.packbits(self.corrupt_bits(bits, generator)).tobytes()


class IIDChannel(_BitChannel):
    """Binary symmetric channel: every bit flips independently, ``e_t ~ Bernoulli(ber)``.

    ``ber`` is a float, or a 1-D tensor ``[B]`` giving one BER per stream along
    the first axis (training draws a BER per sample).
    """

    def __init__(self, ber):
        if isinstance(ber, torch.Tensor) and ber.dim() > 0:
            if ber.dim() != 1:
                raise ConfigError(f"a per-sample BER must be 1-D [B], got shape {list(ber.shape)}")
            _check_probability("ber", float(ber.min()))
            _check_probability("ber", float(ber.max()))
            self._ber = ber.detach().float().cpu()
        else:
            _check_probability("ber", float(ber))
            self._ber = float(ber)

    @property
    def ber(self):
        """The BER (a float, or the per-sample tensor given)."""
        return self._ber

    def error_pattern(self, shape, generator=None):
        """``U(0, 1) < ber`` per bit (one ``torch.rand`` draw of ``shape``)."""
        ber = self._ber
        if isinstance(ber, torch.Tensor):
            ber = ber.view(-1, *([1] * (len(shape) - 1)))
        return torch.rand(tuple(shape), generator=make_generator(generator)) < ber

    def __repr__(self):
        return f"IIDChannel(ber={self._ber})"


def _geometric(shape, p, generator):
    """Sojourn lengths ``m >= 1`` with ``P(m) = (1 - p)^(m - 1) p`` (float64; p = 1 gives ones)."""
    if p >= 1.0:
        return torch.ones(shape, dtype=torch.float64)
    return torch.empty(shape, dtype=torch.float64).geometric_(p, generator=generator)


class GilbertElliottChannel(_BitChannel):
    """Gilbert-Elliott burst channel: a two-state (good/bad) Markov chain per stream.

    ``P(G -> B) = p_gb``, ``P(B -> G) = p_bg`` per bit; in state ``s`` a bit flips
    with probability ``ber_s``. Stationary ``pi_B = p_gb / (p_gb + p_bg)``,
    average ``BER = (1 - pi_B) ber_good + pi_B ber_bad``, mean burst (bad run)
    ``1 / p_bg`` bits. Each stream starts in the stationary distribution.
    """

    def __init__(self, p_gb, p_bg, ber_good=0.0, ber_bad=0.5):
        _check_probability("p_gb", p_gb)
        _check_probability("ber_good", ber_good)
        _check_probability("ber_bad", ber_bad)
        if not 0.0 < p_bg <= 1.0:
            raise ConfigError(f"p_bg must be in (0, 1], got {p_bg}")
        self.p_gb, self.p_bg = float(p_gb), float(p_bg)
        self.ber_good, self.ber_bad = float(ber_good), float(ber_bad)

    @classmethod
    def from_burst(cls, ber, burst_length=8.0, ber_good=0.0, ber_bad=0.5):
        """The chain with average ``ber`` and mean burst ``burst_length`` bits.

        ``p_bg = 1 / burst_length``, ``pi_B = (ber - ber_good) / (ber_bad - ber_good)``,
        ``p_gb = pi_B p_bg / (1 - pi_B)``. With the defaults (a Gilbert channel:
        error-free good state, bad state of random bits) ``ber`` must be below 0.5.
        """
        if burst_length < 1:
            raise ConfigError(f"burst_length must be >= 1 bit, got {burst_length}")
        if not ber_good <= ber < ber_bad:
            raise ConfigError(f"burst channel ber must be in [{ber_good}, {ber_bad}), got {ber}")
        p_bg = 1.0 / burst_length
        pi_bad = (ber - ber_good) / (ber_bad - ber_good)
        p_gb = pi_bad * p_bg / (1.0 - pi_bad)
        if p_gb > 1.0:
            raise ConfigError(f"ber {ber} with bursts of {burst_length} bits needs p_gb = {p_gb:.3g} > 1")
        return cls(p_gb, p_bg, ber_good, ber_bad)

    @property
    def pi_bad(self):
        """Stationary probability of the bad state, ``p_gb / (p_gb + p_bg)``."""
        return self.p_gb / (self.p_gb + self.p_bg)

    @property
    def ber(self):
        """Average BER, ``(1 - pi_B) ber_good + pi_B ber_bad``."""
        return (1.0 - self.pi_bad) * self.ber_good + self.pi_bad * self.ber_bad

    @property
    def mean_burst(self):
        """Mean bad-state run in bits, ``1 / p_bg``."""
        return 1.0 / self.p_bg

    def states(self, shape, generator=None):
        """Bool tensor of ``shape``, True in the bad state; each stream (last axis) is one chain.

        Sampled as alternating sojourns, ``Geometric(p_gb)`` good and
        ``Geometric(p_bg)`` bad, from a stationary first state (by memorylessness
        the first sojourn is geometric too), then the toggle points are scattered
        and their parity accumulated: vectorised over streams, a loop only over
        batches of sojourns.
        """
        shape = tuple(shape)
        generator = make_generator(generator)
        n = shape[-1] if shape else 1
        rows = math.prod(shape[:-1])
        first_bad = torch.rand(rows, generator=generator) < self.pi_bad
        if self.p_gb == 0.0 or n == 0 or rows == 0:
            return first_bad[:, None].expand(rows, n).reshape(shape).clone()
        cycle = 1.0 / self.p_gb + 1.0 / self.p_bg
        chunk = 2 * math.ceil(n / cycle + 4.0 * math.sqrt(n / cycle) + 4)
        ends = torch.zeros(rows, 0, dtype=torch.long)
        offset = torch.zeros(rows, dtype=torch.long)
        while bool((offset < n).any()):
            good = _geometric((rows, chunk), self.p_gb, generator)
            bad = _geometric((rows, chunk), self.p_bg, generator)
            run_bad = first_bad[:, None] ^ (torch.arange(ends.shape[1], ends.shape[1] + chunk) % 2 == 1)
            lengths = torch.where(run_bad, bad, good).clamp(max=n + 1).long()
            new_ends = offset[:, None] + lengths.cumsum(1)
            ends = torch.cat([ends, new_ends], 1)
            offset = new_ends[:, -1]
        toggles = torch.zeros(rows, n + 1, dtype=torch.int32)
        toggles.scatter_add_(1, ends.clamp(max=n), torch.ones_like(ends, dtype=torch.int32))
        parity = (toggles[:, :n].cumsum(1) % 2).bool()
        return (first_bad[:, None] ^ parity).reshape(shape)

    def error_pattern(self, shape, generator=None):
        """``U(0, 1) < ber_s`` per bit, with ``s`` from ``states``."""
        generator = make_generator(generator)
        bad = self.states(shape, generator)
        u = torch.rand(tuple(shape), generator=generator)
        return torch.where(bad, u < self.ber_bad, u < self.ber_good)

    def __repr__(self):
        return (
            f"GilbertElliottChannel(p_gb={self.p_gb:.6g}, p_bg={self.p_bg:.6g}, "
            f"ber_good={self.ber_good}, ber_bad={self.ber_bad})"
        )


CHANNELS = {
    "iid": IIDChannel,
    "burst": GilbertElliottChannel.from_burst,
}


def make_channel(name, ber, **options):
    """``CHANNELS[name](ber, **options)``, e.g. ``make_channel("burst", 1e-2, burst_length=8)``."""
    try:
        constructor = CHANNELS[name]
    except KeyError:
        raise ConfigError(f"unknown channel {name!r}: known channels are {', '.join(sorted(CHANNELS))}") from None
    return constructor(ber, **options)


def corrupt_symbols(indices, levels, mapping, channel, generator=None, channel_dim=None, payload_code="plain"):
    """Send symbol indices ``[B, ...]`` through ``channel`` via their code words.

    ``i -> code(i)`` (natural or Gray) ``->`` the payload bits of ``payload_code``
    (``channel.payload``), one stream per sample (axis 0) in C order over the
    remaining axes, ``-> channel ->`` decoded code words ``-> index``.
    The firmware sends NHWC order; for NCHW indices pass ``channel_dim=1`` so
    bursts run along ``c`` then ``w`` then ``h`` as on air. A 1-D input is one
    stream. Tensor in, tensor out (on the input's device); numpy in, numpy out.
    """
    gray = is_gray(mapping)
    as_numpy = not isinstance(indices, torch.Tensor)
    x = torch.as_tensor(np.asarray(indices, dtype=np.int64)) if as_numpy else indices.long()
    if channel_dim is not None:
        x = x.movedim(channel_dim, -1)
    codes = to_codewords(x, gray).reshape(x.shape[0] if x.dim() > 1 else 1, -1)
    layout = PayloadLayout(codes.shape[1], levels, payload_code)
    noisy = channel.corrupt_bits(layout.to_bits(codes), generator=make_generator(generator))
    out = from_codewords(layout.from_bits(noisy), gray).reshape(x.shape)
    if channel_dim is not None:
        out = out.movedim(-1, channel_dim)
    return out.numpy() if as_numpy else out
