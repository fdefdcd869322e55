"""The receiver's BER estimate of a LoRa uplink from its SNR (``channel.snr``'s BPSK/AWGN curve).

A LoRa symbol of spreading factor SF lasts ``2^SF / BW`` and carries ``SF * CR``
information bits (CR the code rate, 4/5 .. 4/8), so the bit rate is
``Rb = SF * CR * BW / 2^SF`` and the energy per bit over the noise density is

    Eb/N0 = SNR * BW / Rb = SNR * 2^SF / (SF * CR)     (linear; the SNR is over the bandwidth)

The BER is then ``ber_from_ebn0`` of that ``Eb/N0``: the BPSK curve the training and
the channel models use, an approximation of LoRa's chirp modulation, which is why a
receiver may also be given a fixed BER instead.
"""

import math

from semanticnn.channel.snr import ber_from_ebn0
from semanticnn.errors import ConfigError

__all__ = ["DEFAULT_SF", "DEFAULT_CODE_RATE", "ebn0_db_from_snr", "ber_from_snr", "code_rate"]

DEFAULT_SF = 12  # the packet size default (mtu 51) is LoRa EU868 SF12's
DEFAULT_CODE_RATE = 4 / 5


def code_rate(text):
    """ChirpStack's ``"CR_4_5"`` (or ``"4/5"``) -> 0.8."""
    parts = str(text).replace("CR_", "").replace("_", "/").split("/")
    try:
        num, den = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"code rate {text!r} is not like CR_4_5 or 4/5") from None
    if not 0 < num <= den:
        raise ConfigError(f"code rate {text!r} must be at most 1")
    return num / den


def ebn0_db_from_snr(snr_db, sf=DEFAULT_SF, cr=DEFAULT_CODE_RATE):
    """``Eb/N0 [dB] = SNR [dB] + 10 log10(2^SF / (SF * CR))``."""
    if not 5 <= sf <= 12:
        raise ConfigError(f"spreading factor {sf} is outside LoRa's 5..12")
    return float(snr_db) + 10.0 * math.log10(2.0**sf / (sf * cr))


def ber_from_snr(snr_db, sf=DEFAULT_SF, cr=DEFAULT_CODE_RATE):
    """BER estimate of a LoRa uplink received at ``snr_db``."""
    return ber_from_ebn0(10.0 ** (ebn0_db_from_snr(snr_db, sf, cr) / 10.0))
