"""Every timeout and retry count of ``snn-bench``, in one place.

Times are seconds. Response timeouts grow with the bytes on the wire
(:func:`wire_time`), so a slow baud rate does not read as a dead board.

A command that gets no good answer is retried: the retry first resynchronises
(drops what arrived, sends a lone frame delimiter so the board ends a half-received
frame). A damaged frame (the board answers BAD_FRAME to a request it got damaged,
or the response is bad on the wire) is retried at once, up to ``DAMAGED_ATTEMPTS``
tries. Silence is retried with backoff: each try waits ``RETRY_TIMEOUT_GROWTH`` times
longer than the one before, up to ``RESPONSE_TIMEOUT_MAX_S``; over
``COMMAND_ATTEMPTS`` tries a quick command waits about 24 s in all, enough for a
USB-serial adapter that stalls for several seconds. LOAD and OUTPUT chunks that
keep failing are halved down to ``MIN_CHUNK_BYTES`` (a lossy link passes short
frames), and grow back after ``CHUNK_GROW_AFTER`` clean ones.
"""

__all__ = [
    "DEFAULT_BAUD",
    "READ_CHUNK_BYTES",
    "RESPONSE_TIMEOUT_S",
    "INFER_TIMEOUT_S",
    "QEMU_RESPONSE_TIMEOUT_S",
    "WIRE_TIME_MARGIN",
    "COMMAND_ATTEMPTS",
    "DAMAGED_ATTEMPTS",
    "FIRST_CONTACT_ATTEMPTS",
    "RETRY_TIMEOUT_GROWTH",
    "RESPONSE_TIMEOUT_MAX_S",
    "RESPONSE_TIME_MARGIN",
    "RECENT_RESPONSES",
    "INFER_TIMEOUT_MARGIN",
    "MAX_CHUNK_BYTES",
    "MIN_CHUNK_BYTES",
    "CHUNK_ATTEMPTS",
    "CHUNK_GROW_AFTER",
    "SAMPLE_ATTEMPTS",
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

RESPONSE_TIMEOUT_S = 0.25
"""First wait for a response to a quick command (INFO, LOAD, PACKET, OUTPUT), before wire time."""

RESPONSE_TIMEOUT_MAX_S = 8.0
"""Longest wait of one try of a quick command, however many tries came before."""

RETRY_TIMEOUT_GROWTH = 2.0
"""Each retry waits this many times longer for its response than the try before."""

INFER_TIMEOUT_S = 60.0
"""Wait for the first INFER response: the whole graph runs first, slowly under QEMU ``-icount``."""

INFER_TIMEOUT_MARGIN = 4.0
"""Once an INFER was timed, later INFER tries first wait this many times the slowest one seen."""

QEMU_RESPONSE_TIMEOUT_S = 10.0
"""RESPONSE_TIMEOUT_MAX_S under QEMU: the emulator shares the host's cores, and a loaded host stalls it for
seconds; QEMU also gets every try from the start (it is there: silence is a stall, not a missing board)."""

RESPONSE_TIME_MARGIN = 4.0
"""A first try waits at least this many times the slowest of the last ``RECENT_RESPONSES`` responses."""

RECENT_RESPONSES = 16
"""Quick responses whose times set the first wait (a slow host or link raises it, a fast one lowers it)."""

WIRE_TIME_MARGIN = 3.0
"""Response timeouts add this many times the request's and response's wire time."""

COMMAND_ATTEMPTS = 7
"""Tries per command (the first and six retries) before the board is declared silent or the link broken."""

DAMAGED_ATTEMPTS = 32
"""Tries per command that may be answered by a damaged frame before the link is declared broken.
Each costs one round trip; on a link that loses 1% of its bytes about half the frames of a
``MIN_CHUNK_BYTES`` chunk are damaged, and 32 such tries in a row happen once in 10^9 commands."""

FIRST_CONTACT_ATTEMPTS = 3
"""Tries per command while the board has not yet sent one good frame: silence from the start is
a missing board or a wrong port, not a stall, and is reported in about 2 s."""

MAX_CHUNK_BYTES = 1024
"""Largest LOAD data and OUTPUT result of one command."""

MIN_CHUNK_BYTES = 32
"""Smallest chunk that LOAD and OUTPUT shrink to on a lossy link; at this size a chunk gets every try."""

CHUNK_ATTEMPTS = 2
"""Tries of a chunk above ``MIN_CHUNK_BYTES`` before it is halved."""

CHUNK_GROW_AFTER = 8
"""Chunks that must pass on their first try in a row before the chunk size doubles back."""

SAMPLE_ATTEMPTS = 2
"""Runs of one sample (upload, INFER, PACKETs, OUTPUT) when the board lost its state midway (a reset)."""

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
