"""BPSK over AWGN: bit error rate <-> Eb/N0.

``BER = Q(sqrt(2 Eb/N0)) = 0.5 * erfc(sqrt(Eb/N0))`` with ``Eb/N0`` linear
(``Eb/N0 [dB] = 10 log10(Eb/N0)``). The inverse has no closed form in the
standard library, so it bisects on ``x = sqrt(Eb/N0)``, where ``0.5 erfc(x)``
falls monotonically from 0.5 at ``x = 0``.
"""

import math

from semanticnn.errors import ConfigError

__all__ = ["ber_from_ebn0", "ber_from_ebn0_db", "ebn0_from_ber", "ebn0_db_from_ber"]

_X_MAX = 26.0  # 0.5 * erfc(26) ~ 3e-296, near the smallest normal double
_ITERATIONS = 200


def ber_from_ebn0(ebn0: float) -> float:
    """``BER = 0.5 * erfc(sqrt(Eb/N0))`` for a linear ``Eb/N0 >= 0``."""
    if ebn0 < 0:
        raise ConfigError(f"Eb/N0 must be >= 0 (linear), got {ebn0}")
    return 0.5 * math.erfc(math.sqrt(ebn0))


def ber_from_ebn0_db(ebn0_db: float) -> float:
    """``BER = 0.5 * erfc(sqrt(10^(Eb/N0[dB] / 10)))``."""
    return ber_from_ebn0(10.0 ** (ebn0_db / 10.0))


def ebn0_from_ber(ber: float) -> float:
    """Linear ``Eb/N0`` with ``0.5 * erfc(sqrt(Eb/N0)) = ber``, for ``0 < ber < 0.5``."""
    if not 0.0 < ber < 0.5:
        raise ConfigError(f"BER must be in (0, 0.5) for BPSK over AWGN, got {ber}")
    lo, hi = 0.0, _X_MAX
    for _ in range(_ITERATIONS):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(mid) > ber:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    x = 0.5 * (lo + hi)
    return x * x


def ebn0_db_from_ber(ber: float) -> float:
    """``Eb/N0`` in dB for a BER in (0, 0.5): ``10 log10(ebn0_from_ber(ber))``."""
    return 10.0 * math.log10(ebn0_from_ber(ber))
