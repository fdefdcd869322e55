"""Uplink formats, the LoRa SNR -> BER estimate, device ownership and the serve CLI's argument checks."""

import base64
import json
import math

import pytest

from semanticnn.channel.snr import ber_from_ebn0_db
from semanticnn.edge.cli import parse_broker
from semanticnn.edge.link_quality import ber_from_snr, code_rate, ebn0_db_from_snr
from semanticnn.edge.serve import owner_of
from semanticnn.edge.uplink import chirpstack_event, parse_chirpstack, raw_uplink
from semanticnn.errors import ConfigError


def test_ebn0_adds_the_spreading_gain_over_the_bit_rate():
    assert ebn0_db_from_snr(-20.0, 12, 0.8) == pytest.approx(-20.0 + 10 * math.log10(4096 / 9.6))
    assert ebn0_db_from_snr(0.0, 7, 0.5) == pytest.approx(10 * math.log10(128 / 3.5))
    assert ber_from_snr(-20.0, 12, 0.8) == pytest.approx(ber_from_ebn0_db(ebn0_db_from_snr(-20.0, 12, 0.8)))
    assert ber_from_snr(-20.0, 12) > ber_from_snr(-15.0, 12)


def test_chirpstack_uplink_gives_device_packet_and_ber_from_the_best_gateway():
    event = json.loads(chirpstack_event("70b3d57ed0000001", b"\x01\x02\x03", -20.0, sf=10, code="CR_4_6"))
    event["rxInfo"].append({"snr": -25.0})
    up = parse_chirpstack(json.dumps(event))
    assert (up.device, up.packet) == ("70b3d57ed0000001", b"\x01\x02\x03")
    assert up.ber == pytest.approx(ber_from_snr(-20.0, 10, 4 / 6))


def test_an_uplink_without_snr_has_no_ber_and_a_raw_topic_names_its_device():
    assert parse_chirpstack(chirpstack_event("ab", b"\xff")).ber is None
    assert raw_uplink("snn/up/dev7", b"\x00\x01") == ("dev7", b"\x00\x01", None)


@pytest.mark.parametrize("payload", [b"not json", b"{}", json.dumps({"deviceInfo": {"devEui": "a"}, "data": "%%"}),
                                     json.dumps({"deviceInfo": {}, "data": base64.b64encode(b"x").decode()})])
def test_anything_else_is_a_config_error(payload):
    with pytest.raises(ConfigError) as err:
        parse_chirpstack(payload)
    assert str(err.value) == "not a ChirpStack v4 uplink: needs deviceInfo.devEui and base64 data"


def test_code_rate_and_spreading_factor_checks():
    assert code_rate("CR_4_5") == 0.8 and code_rate("4/8") == 0.5
    with pytest.raises(ConfigError, match=r"^code rate 'CR_5_4' must be at most 1$"):
        code_rate("CR_5_4")
    with pytest.raises(ConfigError, match=r"^spreading factor 13 is outside LoRa's 5\.\.12$"):
        ebn0_db_from_snr(0.0, 13)


def test_owners_are_stable_balanced_and_only_a_leavers_devices_move():
    devices = [f"{i:016x}" for i in range(400)]
    two = {d: owner_of(d, {"a", "b"}) for d in devices}
    three = {d: owner_of(d, {"a", "b", "c"}) for d in devices}
    assert 150 < sum(o == "a" for o in two.values()) < 250
    assert all(three[d] == two[d] for d in devices if three[d] != "c")
    assert owner_of(devices[0], ["b", "a"]) == owner_of(devices[0], {"a", "b"})


@pytest.mark.parametrize("text", ["localhost:", ":1883", "host:http", "host:70000"])
def test_bad_broker_address_is_one_line(text):
    with pytest.raises(ConfigError) as err:
        parse_broker(text)
    assert str(err.value) == f"--broker {text!r} is not HOST:PORT (for example 127.0.0.1:1883)"
    assert parse_broker("example.local") == ("example.local", 1883)
