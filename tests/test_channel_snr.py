"""BPSK/AWGN: BER = 0.5 erfc(sqrt(Eb/N0)) and its inverse."""

import math

import pytest

from semanticnn.channel.snr import ber_from_ebn0, ber_from_ebn0_db, ebn0_db_from_ber, ebn0_from_ber
from semanticnn.errors import ConfigError


def test_known_values():
    assert ber_from_ebn0(0.0) == 0.5
    assert ber_from_ebn0_db(0.0) == pytest.approx(0.0786496035251426, rel=1e-12)  # 0.5 erfc(1)
    # the textbook point: 9.6 dB for BER 1e-5
    assert 0.95e-5 < ber_from_ebn0_db(9.6) < 1.0e-5
    assert ebn0_db_from_ber(1e-5) == pytest.approx(9.5879, abs=1e-4)


@pytest.mark.parametrize("ber", [0.4, 0.1, 1e-2, 1e-3, 1e-5, 1e-9, 1e-15, 1e-100])
def test_ber_round_trip(ber):
    assert ber_from_ebn0(ebn0_from_ber(ber)) == pytest.approx(ber, rel=1e-9)
    assert ber_from_ebn0_db(ebn0_db_from_ber(ber)) == pytest.approx(ber, rel=1e-9)


@pytest.mark.parametrize("db", [-10.0, -3.0, 0.0, 4.5, 9.6, 15.0])
def test_db_round_trip(db):
    assert ebn0_db_from_ber(ber_from_ebn0_db(db)) == pytest.approx(db, abs=1e-9)


def test_inverse_is_the_linear_value_squared():
    assert ebn0_from_ber(0.5 * math.erfc(2.0)) == pytest.approx(4.0, rel=1e-12)


@pytest.mark.parametrize("ber", [0.0, 0.5, -1e-3, 1.0])
def test_ber_out_of_range(ber):
    with pytest.raises(ConfigError) as e:
        ebn0_from_ber(ber)
    assert str(e.value) == f"BER must be in (0, 0.5) for BPSK over AWGN, got {ber}"


def test_negative_linear_snr():
    with pytest.raises(ConfigError) as e:
        ber_from_ebn0(-1.0)
    assert str(e.value) == "Eb/N0 must be >= 0 (linear), got -1.0"
