"""Shared helpers of the firmware tests: render a project around the stub model.

The real renderer (semanticnn.firmware) is written separately; this helper
renders the same layout from the templates so the firmware can be built and
run before the generated model exists.
"""

import shutil
import socket
import subprocess
import time
import zlib
from pathlib import Path

import jinja2
import numpy as np
import serial

from semanticnn.channel.packets import packet_count
from semanticnn.firmware.sq import sq_params
from semanticnn.firmware.targets import get_target

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "firmware_templates"
STUB_MODEL = Path(__file__).resolve().parent / "fixtures" / "stub_model"
TARGET_NAMES = ("qemu-m7", "stm32f7")  # semanticnn.firmware.targets registry keys
LATENCY_UNITS = {"instructions": 0, "cycles": 1}
QEMU_PORT = 5555

# The stub's output tensor: NHWC 1x4x4x16.
STUB_OUTPUT_SHAPE = (1, 4, 4, 16)
STUB_ZERO_POINT = -3
STUB_MODEL_CRC = zlib.crc32(b"stub model")


def stub_sq(levels=4, seed=0):
    """Centres, PReLU slopes and their integer form for the stub's 16 channels."""
    rng = np.random.default_rng(seed)
    centres = np.sort(rng.uniform(-2.0, 2.0, levels))
    slopes = rng.uniform(-0.5, 1.5, STUB_OUTPUT_SHAPE[-1])
    a_q7, b_q12 = sq_params(centres, slopes)
    return a_q7, b_q12


def config_context(target, levels=4, gray=True, mtu=51, seed=0):
    """Context of snn_config.h.j2 for the stub model on `target`."""
    a_q7, b_q12 = stub_sq(levels, seed)
    k = levels.bit_length() - 1
    n = int(np.prod(STUB_OUTPUT_SHAPE))
    payload = (n * k + 7) // 8
    t = get_target(target)
    return {
        "target": target,
        "latency_unit": LATENCY_UNITS[t.latency_unit],
        "core_clock_hz": t.core_clock_hz,
        "output_zero_point": STUB_ZERO_POINT,
        "output_channels": STUB_OUTPUT_SHAPE[-1],
        "n_symbols": n,
        "levels": levels,
        "bits_per_symbol": k,
        "gray": int(gray),
        "prelu_a_q7": [int(a) for a in a_q7],
        "bounds_q12": [int(b) for b in b_q12],
        "mtu": mtu,
        "payload_bytes": payload,
        "max_packets": packet_count(payload, mtu),
        "model_crc": STUB_MODEL_CRC,
    }


def make_context(target, stack_bytes=8192):
    """Context of Makefile.j2 for `target`."""
    t = get_target(target)
    flash = None
    if t.flash_address is not None:
        flash = {"address": t.flash_address, "openocd_cfg": t.openocd_config, "pyocd_target": t.pyocd_target}
    return {
        "target": target,
        "cpu_flags": t.cpu_flags,
        "stack_bytes": stack_bytes,
        "qemu": {"machine": t.qemu_machine, "port": QEMU_PORT} if t.emulated else None,
        "flash": flash,
    }


def environment():
    """The Jinja environment the templates are written for."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_project(dest, target, config=None, make=None):
    """Write a buildable project for `target` with the stub model into `dest`."""
    dest = Path(dest)
    env = environment()
    config = config or config_context(target)
    make = make or make_context(target)
    shutil.copytree(TEMPLATES / "src", dest / "src", ignore=shutil.ignore_patterns("kernels.*"))
    shutil.copytree(TEMPLATES / "boards" / get_target(target).board, dest / "board")
    (dest / "model").mkdir(parents=True)
    for name in ("model.c", "model.h"):
        shutil.copy(STUB_MODEL / name, dest / "model" / name)
    (dest / "model" / "snn_config.h").write_text(env.get_template("snn_config.h.j2").render(config))
    (dest / "Makefile").write_text(env.get_template("Makefile.j2").render(make))
    return dest


# Minimal host side of docs/protocol.md, until the tests switch to semanticnn.bench.


def cobs_encode(data: bytes) -> bytes:
    """COBS: each block is a code byte (1 + run length) then up to 254 non-zero bytes."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
            continue
        block.append(byte)
        if len(block) == 254:
            out += b"\xff" + block
            block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; raises ValueError on a block running past the end."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            raise ValueError(f"bad COBS block at {i}")
        out += data[i + 1 : i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def frame(cmd: int, seq: int, payload: bytes = b"", version: int = 1) -> bytes:
    """Wire bytes of one frame: COBS(version cmd seq payload crc32le) 0x00."""
    body = bytes([version, cmd, seq]) + payload
    return cobs_encode(body + zlib.crc32(body).to_bytes(4, "little")) + b"\x00"


def unframe(wire: bytes) -> tuple[int, int, bytes]:
    """``(cmd, seq, payload)`` of one frame's wire bytes (without the 0x00)."""
    body = cobs_decode(wire)
    assert len(body) >= 7, body
    assert zlib.crc32(body[:-4]) == int.from_bytes(body[-4:], "little"), body
    assert body[0] == 1
    return body[1], body[2], body[3:-4]


def build(project, *args):
    """Run make in a rendered project; returns the CompletedProcess (text, not checked)."""
    return subprocess.run(["make", "-C", str(project), *args], capture_output=True, text=True)


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Qemu:
    """qemu-system-arm running an ELF with its UART on a TCP port, and a pyserial link to it."""

    def __init__(self, elf, timeout=10.0):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "qemu-system-arm",
                "-M",
                "mps2-an500",
                "-nographic",
                "-monitor",
                "none",
                "-icount",
                "shift=0",
                "-kernel",
                str(elf),
                "-serial",
                f"tcp:127.0.0.1:{self.port},server=on,wait=on",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.link = serial.serial_for_url(f"socket://127.0.0.1:{self.port}", timeout=timeout)
                break
            except serial.SerialException:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise
                time.sleep(0.05)

    def read_frame(self) -> bytes:
        """Bytes up to (without) the next 0x00."""
        buf = bytearray()
        while True:
            c = self.link.read(1)
            if not c:
                raise TimeoutError(f"no frame end after {bytes(buf)!r}")
            if c == b"\x00":
                return bytes(buf)
            buf += c

    def request(self, cmd, seq, payload=b""):
        """Send one frame, return ``(cmd, seq, status, result)`` of the response."""
        self.link.write(frame(cmd, seq, payload))
        rcmd, rseq, rpayload = unframe(self.read_frame())
        return rcmd, rseq, rpayload[0], rpayload[1:]

    def close(self):
        if getattr(self, "link", None) is not None:
            self.link.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
