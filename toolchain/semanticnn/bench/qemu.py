"""Boot a firmware ELF in QEMU with its UART on a local TCP port.

``-icount shift=0`` makes QEMU count one instruction per virtual nanosecond, so
SysTick latencies are instruction counts and the run is deterministic.
"""

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from semanticnn.bench.timeouts import (
    QEMU_CONNECT_POLL_S,
    QEMU_CONNECT_TIMEOUT_S,
    QEMU_EXIT_GRACE_S,
    QEMU_KILL_TIMEOUT_S,
    QEMU_START_ATTEMPTS,
)
from semanticnn.bench.transport import open_transport
from semanticnn.errors import BoardError, ConfigError, ToolMissingError
from semanticnn.firmware.targets import TARGETS, get_target

__all__ = ["QEMU_BINARY", "qemu_machine", "qemu_command", "free_tcp_port", "launch_qemu"]

QEMU_BINARY = "qemu-system-arm"



def qemu_command(elf, machine, port, binary=QEMU_BINARY, serial=0):
    """Build the argv that boots ``elf`` on ``machine``, its serial port ``serial`` served on 127.0.0.1:``port``.

    The ports before ``serial`` are left unconnected (netduinoplus2 wires serial 1 to USART2).
    """
    return [
        binary, "-M", machine, "-nographic", "-icount", "shift=0",
        "-kernel", str(elf),
        *["-serial", "null"] * serial,
        "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
        "-monitor", "none",
    ]


def free_tcp_port():
    """Find a TCP port on 127.0.0.1 that is free now (the OS picks it; QEMU may lose a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def qemu_machine(target):
    """Look up the QEMU machine of ``target`` in the firmware target registry."""
    machine = get_target(target).qemu_machine
    if machine is None:
        emulated = ", ".join(sorted(name for name, t in TARGETS.items() if t.emulated))
        raise ConfigError(f"target {target!r} does not run in QEMU: export for {emulated}, or use --port")
    return machine


@contextlib.contextmanager
def launch_qemu(elf, target):
    """Boot ``elf`` for ``target`` and yield a connected transport; QEMU is killed on exit."""
    machine = qemu_machine(target)
    serial = get_target(target).qemu_serial
    elf = Path(elf)
    if not elf.is_file():
        raise ConfigError(f"firmware {elf} not found: build it with `make -C {elf.parent.parent}`")
    binary = shutil.which(QEMU_BINARY)
    if binary is None:
        raise ToolMissingError(f"{QEMU_BINARY} not found: install the Debian package `qemu-system-arm`")
    last_error = None
    for _ in range(QEMU_START_ATTEMPTS):
        with tempfile.TemporaryFile() as log:
            port = free_tcp_port()
            proc = subprocess.Popen(
                qemu_command(elf, machine, port, binary, serial),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
            try:
                transport = _connect(proc, log, port)
            except _PortTaken as exc:
                _stop(proc)
                last_error = exc
                continue
            except BaseException:
                _stop(proc)
                raise
            try:
                yield transport
            except BoardError:
                if not _exited(proc):
                    raise
                raise BoardError(_exit_message(proc, log)) from None
            finally:
                transport.close()
                _stop(proc)
            return
    raise BoardError(f"QEMU could not listen on a free port after {QEMU_START_ATTEMPTS} tries: {last_error}")


class _PortTaken(Exception):
    pass


def _connect(proc, log, port):
    url = f"socket://127.0.0.1:{port}"
    deadline = time.monotonic() + QEMU_CONNECT_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            reason = _reason(log)
            if "in use" in reason.lower():
                raise _PortTaken(reason)
            raise BoardError(_exit_message(proc, log, "at start"))
        try:
            return open_transport(url)
        except BoardError:
            if time.monotonic() > deadline:
                raise BoardError(
                    f"QEMU did not open {url} within {QEMU_CONNECT_TIMEOUT_S:g} s: is the machine overloaded?"
                ) from None
            time.sleep(QEMU_CONNECT_POLL_S)


def _exited(proc):
    """Whether QEMU has exited or does within a moment (its socket closes first)."""
    try:
        proc.wait(timeout=QEMU_EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        return False
    return True


def _exit_message(proc, log, when="while snn-bench talked to it"):
    """Why QEMU stopped: its own fatal line if it printed one, else the signal that killed it or its exit code."""
    code = proc.returncode
    fatal = _fatal_line(log)
    if fatal is None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        return f"QEMU was killed by {name} {when} (out of memory, or stopped by another program): run again"
    return f"QEMU exited with code {code} {when}: {fatal or _reason(log)}"


def _fatal_line(log):
    """The line of QEMU's stderr that says why it stopped, or None."""
    for line in _lines(log):
        if "fatal" in line or "error" in line.lower() or "in use" in line:
            return line
    return None


def _lines(log):
    log.seek(0)
    return [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]


def _reason(log):
    """Pick the line of QEMU's stderr that says why it stopped."""
    lines = _lines(log)
    return _fatal_line(log) or (lines[-1] if lines else "no message")


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=QEMU_KILL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
