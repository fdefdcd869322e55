"""Every timeout and retry count of ``snn-bench``, in one place.

Times are seconds. Response timeouts grow with the bytes on the wire
(:func:`wire_time`), so a slow baud rate does not read as a dead board.
"""

__all__ = [
    "DEFAULT_BAUD",
    "READ_CHUNK_BYTES",
    "RESPONSE_TIMEOUT_S",
    "INFER_TIMEOUT_S",
    "QEMU_RESPONSE_TIMEOUT_S",
    "WIRE_TIME_MARGIN",
    "COMMAND_ATTEMPTS",
    "QEMU_CONNECT_TIMEOUT_S",
    "QEMU_CONNECT_POLL_S",
    "QEMU_EXIT_GRACE_S",
    "QEMU_KILL_TIMEOUT_S",
    "QEMU_START_ATTEMPTS",
    "BUILD_TIMEOUT_S",
    "wire_time",
]

DEFAULT_BAUD = 115200
"""Baud rate of a port when neither --baud nor a target says otherwise (the STM32 targets run 921600:
``semanticnn.bench.run.port_bauds``)."""

READ_CHUNK_BYTES = 4096
"""Most bytes taken from the transport in one read."""

RESPONSE_TIMEOUT_S = 1.0
"""Wait for a response to a quick command (INFO, LOAD, PACKET, OUTPUT), before wire time."""

INFER_TIMEOUT_S = 60.0
"""Wait for the INFER response: the whole graph runs first, slowly under QEMU ``-icount``."""

QEMU_RESPONSE_TIMEOUT_S = 10.0
"""RESPONSE_TIMEOUT_S under QEMU: the emulator shares the host's cores, and a loaded host stalls it for seconds."""

WIRE_TIME_MARGIN = 3.0
"""Response timeouts add this many times the request's and response's wire time."""

COMMAND_ATTEMPTS = 3
"""Tries per command before the board is declared silent or the link broken."""

QEMU_CONNECT_TIMEOUT_S = 10.0
"""How long QEMU may take to open its serial TCP port."""

QEMU_CONNECT_POLL_S = 0.05
"""Pause between connection attempts to QEMU."""

QEMU_EXIT_GRACE_S = 0.5
"""After the link drops, how long to wait for QEMU's exit to blame it."""

QEMU_KILL_TIMEOUT_S = 5.0
"""Wait for QEMU to exit after SIGTERM before SIGKILL."""

QEMU_START_ATTEMPTS = 3
"""QEMU launches tried when the free port was taken by someone else in between."""

BUILD_TIMEOUT_S = 600.0
"""Most time ``make`` may take to build an exported project."""


def wire_time(n_bytes, baud=DEFAULT_BAUD):
    """Seconds that ``n_bytes`` take on an 8N1 UART (10 bits per byte) at ``baud``."""
    return n_bytes * 10.0 / baud
