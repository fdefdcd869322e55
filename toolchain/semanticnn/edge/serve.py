"""``snn serve``: the edge service on an MQTT broker.

Topics (``P`` is the topic prefix, default ``snn``)::

    application/+/device/+/event/up    ChirpStack v4 uplinks (JSON), taken as $share/<group>/...
    P/up/<device>                      raw packets of direct links, taken as $share/<group>/...
    P/members/<id>                     retained "1" while service <id> runs (cleared by its will)
    P/own/<id>/<device>                packets forwarded to the service that owns <device>
    P/result/<device>                  one JSON prediction a decoded frame
    P/health/<id>                      retained JSON counters, every ``health_s`` and at exit

Scaling out: every service takes uplinks from the same shared subscription, so the
broker spreads them over however many run. A frame's packets must still meet in one
receiver, so each device has one owner, the live member with the highest
``crc32(member/device)`` (rendezvous hashing over ``P/members/+``); a service that
takes a packet of a device it does not own forwards it to the owner's ``own`` topic.
When a service joins or leaves, only its devices move.
"""

import json
import math
import queue
import signal
import struct
import time
import uuid
import zlib
from dataclasses import dataclass

from semanticnn.edge.receiver import Receiver
from semanticnn.edge.uplink import parse_chirpstack, raw_uplink
from semanticnn.errors import ConfigError, SnnError

__all__ = ["ServeConfig", "Service", "owner_of", "serve"]

CHIRPSTACK_UPLINKS = "application/+/device/+/event/up"
_FORWARD = struct.Struct(">f")  # the uplink's BER estimate (NaN: none), then the packet
_DRAIN = 256  # messages handled between two polls of the receiver


@dataclass
class ServeConfig:
    """Everything ``snn serve`` is told."""

    host: str = "127.0.0.1"
    port: int = 1883
    group: str = "snn"
    prefix: str = "snn"
    service_id: str = ""
    ber: float | None = None      # fixed BER estimate; None: from each uplink's SNR
    timeout_s: float = 2.0
    max_batch: int = 64
    health_s: float = 5.0
    devices: frozenset | None = None
    threads: int = 1


def owner_of(device, members):
    """The member that owns ``device``: highest ``crc32(member/device)``, ties to the smaller name."""
    return max(sorted(members), key=lambda m: zlib.crc32(f"{m}/{device}".encode()))


class Service:
    """One ``snn serve`` process: an MQTT client around a Receiver (see the module docstring)."""

    def __init__(self, model, config):
        import paho.mqtt.client as mqtt

        self.config = config
        self.id = config.service_id or uuid.uuid4().hex[:8]
        self.receiver = Receiver(model, config.devices, config.timeout_s, config.max_batch)
        self.inbox = queue.Queue()
        self.members = set()
        self.stats = {"uplinks": 0, "bad_uplinks": 0, "forwarded": 0, "results": 0}
        self.stopping = False
        p = config.prefix
        self.topics = {"members": f"{p}/members/", "own": f"{p}/own/{self.id}/", "raw": f"{p}/up/",
                       "result": f"{p}/result/", "health": f"{p}/health/{self.id}"}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"snn-serve-{self.id}",
                                  protocol=mqtt.MQTTv5)
        self.client.will_set(self.topics["members"] + self.id, b"", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda client, userdata, msg: self.inbox.put((msg.topic, msg.payload))

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        g, p = self.config.group, self.config.prefix
        client.subscribe([(f"$share/{g}/{CHIRPSTACK_UPLINKS}", 0), (f"$share/{g}/{p}/up/+", 0),
                          (f"{p}/members/+", 1), (f"{p}/own/{self.id}/+", 0)])
        client.publish(self.topics["members"] + self.id, b"1", qos=1, retain=True)

    def connect(self):
        """Connect to the broker and start the network thread; SnnError naming the broker if it is not there."""
        try:
            self.client.connect(self.config.host, self.config.port, keepalive=30)
        except OSError as exc:
            where = f"{self.config.host}:{self.config.port}"
            raise SnnError(f"cannot reach the MQTT broker at {where} ({exc.strerror or exc}): "
                           "start mosquitto or pass --broker HOST:PORT") from None
        self.client.loop_start()

    def _handle(self, topic, payload):
        if topic.startswith(self.topics["members"]):
            member = topic[len(self.topics["members"]):]
            (self.members.add if payload else self.members.discard)(member)
            return
        if topic.startswith(self.topics["own"]):
            (ber,) = _FORWARD.unpack_from(payload)
            device = topic[len(self.topics["own"]):]
            self.receiver.receive(device, payload[_FORWARD.size:], None if math.isnan(ber) else ber)
            return
        self.stats["uplinks"] += 1
        try:
            uplink = raw_uplink(topic, payload) if topic.startswith(self.topics["raw"]) else parse_chirpstack(payload)
        except ConfigError:
            self.stats["bad_uplinks"] += 1
            return
        ber = self.config.ber if self.config.ber is not None else uplink.ber
        owner = owner_of(uplink.device, self.members | {self.id})
        if owner == self.id:
            self.receiver.receive(uplink.device, uplink.packet, ber)
        else:
            self.stats["forwarded"] += 1
            head = _FORWARD.pack(math.nan if ber is None else ber)
            self.client.publish(f"{self.config.prefix}/own/{owner}/{uplink.device}", head + uplink.packet)

    def _publish(self, predictions):
        for p in predictions:
            self.client.publish(self.topics["result"] + p.device, json.dumps(p.as_dict()))
        self.stats["results"] += len(predictions)

    def health(self):
        """Counters: frames decoded, packets lost, late (duplicates), mean latency, and the rest."""
        rx = self.receiver
        return {"id": self.id, "members": sorted(self.members), "frames_decoded": rx.decoded,
                "mean_latency_s": rx.latency_sum / rx.decoded if rx.decoded else None,
                "pending_frames": len(rx.assembler.pending), **self.stats, **rx.counters.as_dict()}

    def _publish_health(self):
        self.client.publish(self.topics["health"], json.dumps(self.health()), qos=1, retain=True)

    def step(self, wait_s=0.02):
        """Handle what arrived (up to ``_DRAIN`` messages), then decode the ready frames."""
        try:
            self._handle(*self.inbox.get(timeout=wait_s))
            for _ in range(_DRAIN):
                self._handle(*self.inbox.get_nowait())
        except queue.Empty:
            pass
        self._publish(self.receiver.poll())

    def run(self):
        """Serve until ``stopping``; then decode what is pending, publish health, leave the group."""
        next_health = 0.0
        while not self.stopping:
            self.step()
            if time.monotonic() >= next_health:
                self._publish_health()
                next_health = time.monotonic() + self.config.health_s
        self._publish(self.receiver.poll(flush=True))
        self._publish_health()
        self.client.publish(self.topics["members"] + self.id, b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
        return self.health()


def serve(model, config, on_ready=None):
    """Run a Service until SIGTERM or SIGINT; returns its final health dict."""
    service = Service(model, config)

    def stop(signum, frame):
        service.stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.connect()
        if on_ready is not None:
            on_ready(service)
        return service.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
