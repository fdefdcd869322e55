"""`snn serve` on a real mosquitto: 20 simulated devices, 5% packet loss, duplicates, two services sharing the load."""

import json

import numpy as np
import pytest

from mqtt_helpers import Client, local_mosquitto, start_serve, stop_serve
from semanticnn.bench.reference import HostReference
from semanticnn.bench.run import read_model
from semanticnn.channel.models import IIDChannel
from semanticnn.channel.packets import decode_header
from semanticnn.data import read_calibration
from semanticnn.edge import Receiver, load_edge_model
from semanticnn.edge.uplink import chirpstack_event, parse_chirpstack
from semanticnn.errors import ProtocolError
from semanticnn.model.codec import UNKNOWN_BER

DEVICES = [f"70b3d57ed00{i:05x}" for i in range(20)]
RAW_DEVICE = "bench-link-1"
FRAMES = 3
LOSS, DUPLICATES, BER, SNR_DB = 0.05, 0.05, 1e-3, -20.0


def header_state(packet, frame):
    """"ok", "corrected" (header bit errors corrected), "rescued" or "bad" (a Golay word beyond 3 errors).

    Beyond 3 errors the receiver rescues the packet to its device's newest frame id, but
    frame 0 is the device's first: there is none, unless a later packet of it arrived first (`race`).
    """
    try:
        return "corrected" if decode_header(packet)[1] else "ok"
    except ProtocolError:
        return "rescued" if frame else "bad"


def device_traffic(reference, images):
    """Per (device, frame): the packets the exported int8 encoder sends, after the bit channel and losses.

    Returns ``({(device, frame): [packet or None]}, {(device, 0): (index, packet before the flips)})``,
    None where the packet is lost on air.
    """
    rng = np.random.default_rng(1)
    channel = IIDChannel(BER)
    traffic = {}
    for d, device in enumerate(DEVICES):
        for f in range(FRAMES):
            packets = reference.run(images[d * FRAMES + f], f).packets
            noisy = channel.corrupt_bytes(b"".join(packets), d * FRAMES + f)
            cut = np.cumsum([0] + [len(p) for p in packets])
            sent = [noisy[cut[i]:cut[i + 1]] for i in range(len(packets))]
            traffic[device, f] = [None if rng.random() < LOSS else p for p in sent]
    originals = {}
    for d, f in ((1, 0), (2, 0), (3, 1), (4, 2)):  # 4 errors in a header word, rare at this BER: detected;
        packets = traffic[DEVICES[d], f]         # rescued in frames 1 and 2; in frame 0 see `race`
        i = next(i for i, p in enumerate(packets) if p is not None)
        if f == 0:
            originals[DEVICES[d], f] = (i, packets[i])
        packets[i] = bytes([packets[i][0] ^ 0xF0]) + packets[i][1:]
    return traffic, originals


def expected_predictions(model, traffic):
    """What one in-process Receiver says about exactly the packets that arrive intact."""
    rx = Receiver(model, timeout_s=0.0, clock=lambda: 0.0)
    ber = parse_chirpstack(chirpstack_event("x", b"", SNR_DB)).ber
    for (device, _), packets in traffic.items():
        for p in packets:
            if p is not None:
                rx.receive(device, p, ber, now=0.0)
    return {(p.device, p.frame_id): p for p in rx.poll(now=1.0, flush=True)}


@pytest.fixture(scope="module")
def simulated(exported_qemu, exported_decoder):
    project, manifest = exported_qemu
    reference = HostReference(manifest, read_model(project, manifest))
    images = read_calibration(limit=len(DEVICES) * FRAMES)[0]
    traffic, originals = device_traffic(reference, images)
    model = load_edge_model(exported_decoder[0])
    restored = {key: list(packets) for key, packets in traffic.items()}
    for key, (i, packet) in originals.items():
        restored[key][i] = packet
    rescued = expected_predictions(model, restored)
    race = {key: rescued[key] for key in originals}
    raw_frame = reference.run(images[0], 0).packets
    rx = Receiver(model, clock=lambda: 0.0)
    for packet in raw_frame:
        rx.receive(RAW_DEVICE, packet)
    return traffic, expected_predictions(model, traffic), raw_frame, rx.poll()[0], race


def publish_interleaved(client, traffic, rng):
    """Frame by frame, packet i of every device before packet i + 1; some packets twice; returns counts."""
    counts = {"lost_on_air": 0, "bad_header": 0, "bad_publishes": 0, "ok_publishes": 0, "corrected_publishes": 0,
              "rescued_publishes": 0, "duplicates": 0}
    for f in range(FRAMES):
        for i in range(5):
            for device in DEVICES:
                packet = traffic[device, f][i]
                if packet is None:
                    counts["lost_on_air"] += 1
                    continue
                repeats = 2 if rng.random() < DUPLICATES else 1
                state = header_state(packet, f)
                if state == "bad":
                    counts["bad_header"] += 1
                else:
                    counts["duplicates"] += repeats - 1
                counts[f"{state}_publishes"] += repeats
                for _ in range(repeats):
                    client.publish(f"application/1/device/{device}/event/up", chirpstack_event(device, packet, SNR_DB))
    return counts


def test_twenty_devices_through_two_services_decode_every_frame_unmixed_and_count_every_loss(
        tmp_path, exported_decoder, simulated):
    traffic, expected, raw_frame, raw_expected, race = simulated
    devices_file = tmp_path / "devices.txt"
    devices_file.write_text("\n".join([*DEVICES, RAW_DEVICE]) + "\n")
    with local_mosquitto() as port:
        args = ("--devices", str(devices_file), "--timeout", "4", "--health-interval", "0.2")
        services = [start_serve(port, exported_decoder[0], name, *args) for name in ("s1", "s2")]
        client = Client(port, ["snn/result/#", "snn/health/#"])
        try:
            client.wait_for(lambda: all((client.latest_json(f"snn/health/{s}") or {}).get("members") == ["s1", "s2"]
                                        for s in ("s1", "s2")), 60, "both services to see each other")
            counts = publish_interleaved(client, traffic, np.random.default_rng(2))
            for _ in range(5):  # a device nobody registered
                client.publish("application/1/device/ffffffffffffffff/event/up",
                               chirpstack_event("ffffffffffffffff", traffic[DEVICES[0], 0][0] or b"", SNR_DB))
            client.publish("application/1/device/x/event/up", b"{not json")
            for packet in raw_frame:  # a direct link: raw packets, no SNR
                client.publish(f"snn/up/{RAW_DEVICE}", packet)
            client.wait_for(lambda: len(client.received("snn/result/")) >= len(expected) + 1, 30,
                            "every frame's result")
        finally:
            finals = [stop_serve(s) for s in services]
            client.close()
    for code, health, err in finals:
        assert code == 0 and health is not None, err[-2000:]
    results = [json.loads(p) for _, p, _ in client.received("snn/result/")]
    got = {(r["device"], r["frame_id"]): r for r in results}
    raw = got.pop((RAW_DEVICE, 0))
    assert (raw["label"], raw["packets_lost"], raw["ber"]) == (raw_expected.label, 0, pytest.approx(UNKNOWN_BER))
    assert len(results) - 1 == len(got) == len(expected)
    race_rescued = 0
    for key, want in expected.items():
        r = got[key]
        if key in race and r["packets_lost"] == race[key].packets_lost:
            # A device's first packet with a header beyond Golay has no newest frame id to be rescued to, unless a
            # later packet of that frame reached the device's service first (the other service forwards it):
            # then it is rescued, exactly as if it had arrived intact.
            want, race_rescued = race[key], race_rescued + 1
        assert (r["label"], r["packets_received"], r["packets_lost"]) == (want.label, want.packets_received,
                                                                          want.packets_lost)
        assert r["confidence"] == pytest.approx(want.confidence, abs=1e-5)
        assert r["ber"] == pytest.approx(want.ber, rel=1e-6)
    total = {k: sum(h[k] for _, h, _ in finals) for k in finals[0][1] if isinstance(finals[0][1][k], int)}
    assert total["lost_packets"] == counts["lost_on_air"] + counts["bad_header"] - race_rescued
    assert total["lost_packets"] == sum(r["packets_lost"] for r in got.values())
    assert total["bad_header"] + total["header_rescued"] == counts["bad_publishes"] + counts["rescued_publishes"]
    assert total["bad_header"] <= counts["bad_publishes"] >= 2
    assert total["header_rescued"] >= counts["rescued_publishes"] >= 2
    assert total["header_corrected"] == counts["corrected_publishes"] > 0
    assert total["duplicate"] + total["late"] == counts["duplicates"]
    assert total["unknown_device"] == 5 and total["out_of_range"] == 0
    assert total["frames_decoded"] == len(expected) + 1 and total["pending_frames"] == 0
    assert total["bad_uplinks"] == 1 and total["uplinks"] == total["packets"] + 1
    assert all(h["frames_decoded"] > 0 and h["forwarded"] > 0 for _, h, _ in finals)
