"""A private mosquitto on a free loopback port, for tests and the serve benchmark."""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from semanticnn.errors import SnnError, ToolMissingError

__all__ = ["MOSQUITTO", "free_port", "local_mosquitto"]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
_START_S = 10.0


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_mosquitto():
    """Run mosquitto on 127.0.0.1:<free port> (anonymous, no persistence); yields the port, stops it after."""
    if not Path(MOSQUITTO).is_file():
        raise ToolMissingError("mosquitto not found: install the Debian package `mosquitto` (make setup does)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 0\n")
        proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(proc, port)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def _wait_listening(proc, port):
    deadline = time.monotonic() + _START_S
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SnnError(f"mosquitto did not start on port {port}: {proc.stderr.read().decode()[-300:]}")
        time.sleep(0.05)
