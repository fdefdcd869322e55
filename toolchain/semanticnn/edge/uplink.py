"""Uplink payloads as they reach the edge: ChirpStack v4 JSON events, or raw packet bytes.

ChirpStack v4 publishes each uplink to ``application/<app>/device/<devEui>/event/up``
as JSON; the fields read here are ``deviceInfo.devEui``, ``data`` (base64 of the
packet), ``rxInfo[].snr`` (the best gateway's is used) and
``txInfo.modulation.lora`` (``spreadingFactor``, ``codeRate``). A raw uplink is the
packet itself on ``<prefix>/<device>``.
"""

import base64
import binascii
import json
from typing import NamedTuple

from semanticnn.edge.link_quality import DEFAULT_CODE_RATE, DEFAULT_SF, ber_from_snr, code_rate
from semanticnn.errors import ConfigError

__all__ = ["Uplink", "parse_chirpstack", "chirpstack_event", "raw_uplink"]


class Uplink(NamedTuple):
    """One received packet, the device that sent it, and the BER estimated from its SNR (or None)."""

    device: str
    packet: bytes
    ber: float | None


def parse_chirpstack(payload, sf=None):
    """Uplink of a ChirpStack v4 ``event/up`` JSON; ConfigError if it is not one."""
    try:
        event = json.loads(payload)
        device = str(event["deviceInfo"]["devEui"])
        packet = base64.b64decode(event["data"], validate=True)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, binascii.Error):
        raise ConfigError("not a ChirpStack v4 uplink: needs deviceInfo.devEui and base64 data") from None
    snrs = [rx["snr"] for rx in event.get("rxInfo") or [] if isinstance(rx, dict) and "snr" in rx]
    if not snrs:
        return Uplink(device, packet, None)
    lora = ((event.get("txInfo") or {}).get("modulation") or {}).get("lora") or {}
    spreading = int(lora.get("spreadingFactor", sf or DEFAULT_SF))
    cr = code_rate(lora["codeRate"]) if "codeRate" in lora else DEFAULT_CODE_RATE
    return Uplink(device, packet, ber_from_snr(max(float(s) for s in snrs), spreading, cr))


def chirpstack_event(device, packet, snr_db=None, sf=DEFAULT_SF, code="CR_4_5"):
    """The ChirpStack v4 uplink JSON of ``packet`` (what a network server would publish), as bytes."""
    event = {
        "deviceInfo": {"devEui": device},
        "data": base64.b64encode(bytes(packet)).decode(),
        "txInfo": {"modulation": {"lora": {"spreadingFactor": sf, "bandwidth": 125000, "codeRate": code}}},
        "rxInfo": [] if snr_db is None else [{"snr": snr_db}],
    }
    return json.dumps(event).encode()


def raw_uplink(topic, payload):
    """Uplink of a raw topic ``.../<device>``: the payload is the packet; no SNR."""
    return Uplink(topic.rsplit("/", 1)[-1], bytes(payload), None)
