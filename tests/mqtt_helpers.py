"""A real mosquitto broker on a free loopback port, `snn serve` processes, and an MQTT test client."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from semanticnn.edge.broker import MOSQUITTO, local_mosquitto

__all__ = ["MOSQUITTO", "local_mosquitto", "start_serve", "stop_serve", "Client"]

SNN = str(Path(sys.executable).with_name("snn"))


def start_serve(port, model_dir, service_id, *extra):
    """`snn serve` as a child process (stdout: its final health JSON)."""
    return subprocess.Popen([SNN, "serve", "--model", str(model_dir), "--broker", f"127.0.0.1:{port}",
                             "--id", service_id, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_serve(proc, timeout=20):
    """SIGTERM, wait, return (exit code, final health dict or None, stderr)."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return proc.returncode, json.loads(lines[-1]) if lines else None, err


class Client:
    """A test MQTT client: publishes, and keeps every message of its subscriptions by topic."""

    def __init__(self, port, subscriptions=()):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for topic in subscriptions:
            self.client.subscribe(topic, qos=1)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, time.monotonic()))

    def received(self, prefix):
        with self.lock:
            return [(t, p, at) for t, p, at in self.messages if t.startswith(prefix)]

    def latest_json(self, topic):
        found = [p for t, p, _ in self.received(topic) if t == topic and p]
        return json.loads(found[-1]) if found else None

    def wait_for(self, condition, timeout=30.0, what="condition"):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=0)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
