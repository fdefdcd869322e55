"""Serve benchmark: frames per second and latency of ``snn serve`` against devices and processes.

``python -m semanticnn.edge.loadtest --model DIR --out docs/results`` starts a private
mosquitto, then for every (devices, processes) pair starts that many ``snn serve``
processes, has the devices publish ChirpStack uplinks of real frames (the shipped
encoder's symbols of calibration images), frame after frame, packet ``i`` of every
device before packet ``i + 1``, as fast as one publisher can, and times the results:

* throughput: decoded frames / (last result - first publish);
* latency of a frame: its result's arrival - its last packet's publish (so it holds the
  queueing at that offered load, the broker's two hops, reassembly and decoding).

Everything (broker, services, publisher) shares this machine's cores, which the report
states; the numbers compare configurations, they are not a server's capacity.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from semanticnn.atomic_file import write_atomic
from semanticnn.edge.broker import local_mosquitto
from semanticnn.edge.uplink import chirpstack_event
from semanticnn.provenance import provenance

__all__ = ["DEVICES", "PROCESSES", "RATES", "decoder_rate", "device_frames", "run_one", "run_all", "render_markdown"]

DEVICES = (1, 20, 200)
PROCESSES = (1, 2)
FRAMES = 600
RATES = (None, 50.0)  # flat out (throughput), and a paced load well below it (latency without a queue)
_SNR_DB = -18.0


def device_frames(encoder_path, manifest, count):
    """``count`` symbol frames (NHWC code words packed as the firmware packs them) of calibration images."""
    import torch

    from semanticnn.channel.bits import to_codewords
    from semanticnn.channel.payload import PayloadLayout
    from semanticnn.data import read_calibration
    from semanticnn.model.checkpoint import load_encoder
    from semanticnn.train.tensors import to_float

    images = read_calibration(limit=count)[0]
    with torch.no_grad():
        idx = load_encoder(encoder_path)(to_float(torch.from_numpy(images).permute(0, 3, 1, 2))).indices.numpy()
    gray, layout = manifest["mapping"] == "gray", PayloadLayout.from_manifest(manifest)
    return [layout.pack(to_codewords(s.transpose(1, 2, 0).ravel(), gray)) for s in idx]


def _snn():
    here = Path(sys.executable).with_name("snn")
    return [str(here)] if here.is_file() else [sys.executable, "-c", "from semanticnn.cli import main; main()"]


def _start_services(port, model_dir, n):
    return [subprocess.Popen([*_snn(), "serve", "--model", str(model_dir), "--broker", f"127.0.0.1:{port}",
                              "--id", f"b{i}", "--health-interval", "0.2", "--timeout", "5"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for i in range(n)]


def _stop_services(procs):
    finals = []
    for proc in procs:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        finals.append(json.loads(lines[-1]) if lines else {})
    return finals


class _Listener:
    """Result and health messages with their arrival time (monotonic)."""

    def __init__(self, port):
        import paho.mqtt.client as mqtt

        self.results, self.health = [], {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("snn/result/#", 0), ("snn/health/#", 0)])
        self.client.loop_start()

    def _on_message(self, client, userdata, msg):
        if msg.topic.startswith("snn/result/"):
            self.results.append((time.monotonic(), msg.payload))
        elif msg.payload:
            self.health[msg.topic] = json.loads(msg.payload)

    def wait(self, condition, timeout_s):
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        return condition()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def _publish(port, streams, devices, frames_per_device, mtu, rate=None):
    """Publish every frame of every device, at ``rate`` frames/s in all (None: flat out).

    Returns ``{(device, frame): last packet's publish time}``.
    """
    import paho.mqtt.client as mqtt

    from semanticnn.channel.packets import packetize

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent, start = {}, time.monotonic()
    for f in range(frames_per_device):
        if rate is not None:
            time.sleep(max(0.0, start + f * len(devices) / rate - time.monotonic()))
        frames = {d: packetize(streams[(n * frames_per_device + f) % len(streams)], f, mtu)
                  for n, d in enumerate(devices)}
        for i in range(len(next(iter(frames.values())))):
            for d in devices:
                client.publish(f"application/1/device/{d}/event/up", chirpstack_event(d, frames[d][i], _SNR_DB))
        now = time.monotonic()
        sent.update({(d, f): now for d in devices})
    client.disconnect()
    client.loop_stop()
    return sent


def run_one(model_dir, streams, n_devices, n_processes, frames_total=FRAMES, rate=None):
    """One (devices, processes) run on a fresh broker at ``rate`` frames/s (None: flat out): a report row."""
    manifest = json.loads((Path(model_dir) / "decoder.json").read_text())
    devices = [f"{i:016x}" for i in range(n_devices)]
    per_device = max(1, frames_total // n_devices)
    with local_mosquitto() as port:
        procs = _start_services(port, model_dir, n_processes)
        listener = _Listener(port)
        try:
            members = [f"b{i}" for i in range(n_processes)]
            listener.wait(lambda: all(listener.health.get(f"snn/health/{m}", {}).get("members") == members
                                      for m in members), 120)
            start = time.monotonic()
            sent = _publish(port, streams, devices, per_device, manifest["mtu"], rate)
            listener.wait(lambda: len(listener.results) >= len(sent), 60 + len(sent) / 20)
        finally:
            finals = _stop_services(procs)
            listener.close()
    arrivals = {(r["device"], r["frame_id"]): at for at, r in ((at, json.loads(p)) for at, p in listener.results)}
    latency_ms = np.array([1000 * (arrivals[k] - sent[k]) for k in arrivals if k in sent])
    last = max(arrivals.values()) if arrivals else start
    return {
        "devices": n_devices, "processes": n_processes, "offered_frames_per_s": rate,
        "frames_sent": len(sent), "frames_decoded": len(arrivals),
        "frames_per_s": round(len(arrivals) / (last - start), 1) if arrivals else 0.0,
        "latency_ms_p50": round(float(np.percentile(latency_ms, 50)), 1) if len(latency_ms) else None,
        "latency_ms_p99": round(float(np.percentile(latency_ms, 99)), 1) if len(latency_ms) else None,
        "forwarded": sum(h.get("forwarded", 0) for h in finals),
        "decoded_by_process": [h.get("frames_decoded", 0) for h in finals],
    }


def run_all(model_dir, encoder_path, devices=DEVICES, processes=PROCESSES, frames_total=FRAMES, rates=RATES,
            log=print):
    """Every (rate, devices, processes) triple; returns the report dict."""
    manifest = json.loads((Path(model_dir) / "decoder.json").read_text())
    streams = device_frames(encoder_path, manifest, 64)
    rows = []
    for rate in rates:
        for n_processes in processes:
            for n_devices in devices:
                rows.append(run_one(model_dir, streams, n_devices, n_processes, frames_total, rate))
                log(json.dumps(rows[-1]))
    return {"format": "semanticnn-serve-bench", "version": 1, "cpus": os.cpu_count(), "frames": frames_total,
            "packets_per_frame": manifest["max_packets"], "decoder_alone_frames_per_s": decoder_rate(model_dir),
            "rows": rows}


def decoder_rate(model_dir, batch=64, repeats=10):
    """Frames/s of onnxruntime alone (one thread, batches of ``batch``), the ceiling of one process."""
    from semanticnn.edge.model import load_edge_model

    model = load_edge_model(model_dir)
    c, h, w = model.code_shape
    rng = np.random.default_rng(0)
    indices = rng.integers(0, model.manifest["levels"], size=(batch, c, h, w))
    ber, erased = np.full(batch, 1e-2, np.float32), np.zeros((batch, c, h, w), bool)
    model.classify(indices, ber, erased)
    start = time.perf_counter()
    for _ in range(repeats):
        model.classify(indices, ber, erased)
    return round(batch * repeats / (time.perf_counter() - start), 1)


def render_markdown(report):
    """The report as a Markdown table."""
    lines = ["| offered load | processes | devices | frames decoded | frames/s | latency p50 (ms) | latency p99 (ms) "
             "| forwarded packets |", "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        load = "flat out" if r["offered_frames_per_s"] is None else f"{r['offered_frames_per_s']:g} frames/s"
        lines.append(f"| {load} | {r['processes']} | {r['devices']} | {r['frames_decoded']} / {r['frames_sent']} | "
                     f"{r['frames_per_s']} | {r['latency_ms_p50']} | {r['latency_ms_p99']} | {r['forwarded']} |")
    lines += ["", f"{report['frames']} frames of {report['packets_per_frame']} packets a run (ChirpStack v4 JSON "
              "uplinks), flat out (as fast as one client publishes: throughput, latency mostly queueing) or paced "
              "(one frame of every device at once, rounds spaced to the offered rate, so 200 devices arrive in "
              f"bursts of 200 frames); broker, services and publisher share {report['cpus']} cores. Latency: last "
              "packet published to result received. onnxruntime alone (one thread, batches of 64) decodes "
              f"{report['decoder_alone_frames_per_s']} frames/s."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Command line: ``--model DIR --encoder encoder.pt --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="folder from `snn export-decoder`")
    parser.add_argument("--encoder", default="models/encoder.pt", help="encoder of the frames' symbols")
    parser.add_argument("--out", default="docs/results", help="folder for serve.json and serve.md")
    parser.add_argument("--frames", type=int, default=FRAMES)
    args = parser.parse_args(argv)
    report = run_all(args.model, args.encoder, frames_total=args.frames)
    report["provenance"] = provenance(encoder=args.encoder, decoder_onnx=Path(args.model) / "decoder.onnx")
    write_atomic(Path(args.out) / "serve.json", json.dumps(report, indent=2) + "\n")
    write_atomic(Path(args.out) / "serve.md", render_markdown(report))


if __name__ == "__main__":
    main()
