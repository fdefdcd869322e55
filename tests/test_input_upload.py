"""INFER runs only on an input whose every byte the current image wrote (docs/protocol.md, LOAD).

The same exchange runs against the real firmware in QEMU and against the fake device.
"""

import shutil
import struct

import pytest

from semanticnn.bench.commands import Cmd, Status
from semanticnn.bench.fake_device import FakeFirmware, fake_manifest
from semanticnn.bench.framing import build_frame, parse_frame

INPUT_BYTES = 3072  # the stub model's and the fake's 32x32x3 int8 input

has_qemu = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None


def load(offset, length, fill=1):
    return Cmd.LOAD, struct.pack("<I", offset) + bytes([fill]) * length


INFER = (Cmd.INFER, b"\x07\x00")


def loaded(n):
    return Status.OK, struct.pack("<I", n)


# (request, expected (status, result)); INFER's ok result (latency ...) is checked by status only
EXCHANGE = [
    (load(INPUT_BYTES, 0), loaded(0)),            # fresh boot: an empty LOAD at the end writes nothing
    (INFER, Status.NOT_READY),
    (load(2048, 1024), loaded(1024)),             # only the last third
    (INFER, Status.NOT_READY),
    (load(1024, 1024), loaded(2048)),
    (load(1024, 1024), loaded(2048)),             # a retried LOAD counts its bytes once
    (INFER, Status.NOT_READY),
    (load(0, 1024), loaded(1024)),                # offset 0 starts a new image: bytes 1024.. no longer count
    (load(1024, 1024), loaded(2048)),
    (load(2048, 1024), loaded(3072)),
    (INFER, Status.OK),
    (INFER, Status.OK),                           # a retried INFER runs again
    (load(0, 1024, fill=2), loaded(1024)),        # a third of the next image does not mix with the last
    (INFER, Status.NOT_READY),
    (load(0, 0), loaded(0)),
    (load(1, 1023), loaded(1023)),                # byte 0 never written
    (load(1024, 1024), loaded(2047)),
    (load(2048, 1024), loaded(3071)),
    (INFER, Status.NOT_READY),
    (load(0, 1), loaded(1)),                      # ... and a LOAD at 0 restarts the count
    (INFER, Status.NOT_READY),
]


def run_exchange(request):
    for step, ((cmd, payload), want) in enumerate(EXCHANGE):
        status, result = request(cmd, step, payload)
        got = status if cmd == Cmd.INFER else (status, result)
        assert got == want, f"step {step}"


def test_fake_device_infers_only_a_wholly_uploaded_image():
    firmware = FakeFirmware(fake_manifest())

    def request(cmd, seq, payload):
        frame = parse_frame(firmware.handle(build_frame(cmd, seq, payload)[:-1])[:-1])
        assert (frame.cmd, frame.seq) == (cmd, seq)
        return frame.payload[0], frame.payload[1:]

    run_exchange(request)


@pytest.mark.skipif(not has_qemu, reason="arm-none-eabi-gcc or qemu-system-arm not installed")
def test_firmware_in_qemu_infers_only_a_wholly_uploaded_image(stub_qemu_elf):
    from firmware_helpers import qemu_links

    with qemu_links(stub_qemu_elf) as (_, raw):
        run_exchange(lambda cmd, seq, payload: raw.request(cmd, seq, payload)[2:])
