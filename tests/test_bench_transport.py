import errno
import os
import re
import shutil
import socket
import time

import pytest

from semanticnn.bench.commands import Board
from semanticnn.bench.qemu import free_tcp_port, launch_qemu, qemu_command, qemu_machine
from semanticnn.bench.transport import open_transport
from semanticnn.errors import BoardError, ConfigError, ToolMissingError


def test_missing_port_message():
    with pytest.raises(BoardError) as info:
        open_transport("/dev/ttyXYZ")
    assert type(info.value) is BoardError
    assert str(info.value) == "serial port /dev/ttyXYZ not found: check the cable and `ls /dev/ttyACM*`"


def test_busy_port_message():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        with open_transport(path):
            with pytest.raises(BoardError) as info:
                open_transport(path)
    finally:
        os.close(master)
        os.close(slave)
    assert str(info.value) == f"serial port {path} is busy: close the program using it (screen, minicom, ...)"


def test_permission_denied_message(tmp_path, monkeypatch):
    """The kernel's EACCES on open (faked: root may open any file) becomes the dialout hint."""
    import serial.serialposix

    path = tmp_path / "ttyLOCKED"
    path.touch()
    real_open = os.open

    def open_denied(name, *args, **kwargs):
        if name == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(serial.serialposix.os, "open", open_denied)
    with pytest.raises(BoardError) as info:
        open_transport(str(path))
    assert str(info.value) == (
        f"no permission to open {path}: add yourself to the dialout group "
        "(`sudo usermod -aG dialout $USER`, then log in again)"
    )


def test_socket_refused_message():
    port = free_tcp_port()
    with pytest.raises(BoardError) as info:
        open_transport(f"socket://127.0.0.1:{port}")
    assert str(info.value) == (
        f"cannot connect to socket://127.0.0.1:{port}: connection refused (is QEMU running on that port?)"
    )


def test_socket_round_trip_and_peer_close():
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, open_transport(f"socket://127.0.0.1:{listener.getsockname()[1]}") as transport:
        conn, _ = listener.accept()
        transport.write(b"ping\x00")
        assert conn.recv(16) == b"ping\x00"
        conn.sendall(b"pong")
        assert transport.read_some(1.0) == b"pong"
        assert transport.read_some(0.05) == b""
        conn.close()
        with pytest.raises(BoardError, match="^connection to socket://127.0.0.1:[0-9]+ lost"):
            transport.read_some(1.0)


def test_qemu_command_argv():
    assert qemu_command("build/firmware.elf", "mps2-an500", 4321, binary="qemu-system-arm") == [
        "qemu-system-arm", "-M", "mps2-an500", "-nographic", "-icount", "shift=0",
        "-kernel", "build/firmware.elf",
        "-serial", "tcp:127.0.0.1:4321,server=on,wait=on",
        "-monitor", "none",
    ]


def test_qemu_command_wires_the_boards_serial_port():
    # netduinoplus2 gives serial 0 to USART1; the NUCLEO-F446RE's VCP is USART2, serial 1
    argv = qemu_command("fw.elf", "netduinoplus2", 4321, binary="qemu-system-arm", serial=1)
    assert argv[argv.index("-kernel") + 2:argv.index("-monitor")] == [
        "-serial", "null", "-serial", "tcp:127.0.0.1:4321,server=on,wait=on",
    ]


def test_qemu_machine_from_target_registry():
    assert qemu_machine("qemu-m7") == "mps2-an500"
    assert qemu_machine("stm32f4") == "netduinoplus2"
    listed = r"^target 'stm32f7' does not run in QEMU: export for (\S+, )*stm32f4, or use --port$"
    with pytest.raises(ConfigError, match=listed):
        qemu_machine("stm32f7")
    with pytest.raises(ConfigError, match="^unknown target 'nope'"):
        qemu_machine("nope")


def test_missing_qemu_names_debian_package(tmp_path, monkeypatch):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as info, launch_qemu(elf, "qemu-m7"):
        pass
    assert str(info.value) == "qemu-system-arm not found: install the Debian package `qemu-system-arm`"


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")
def test_qemu_that_dies_is_blamed_with_its_message(tmp_path):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"not an elf")
    start = time.monotonic()
    with pytest.raises(BoardError) as info, launch_qemu(elf, "qemu-m7") as transport:
        Board(transport, timeout=0.5, attempts=1).info()
    assert type(info.value) is BoardError
    assert re.fullmatch(r"QEMU exited with code -?\d+ while snn-bench talked to it: qemu: fatal: Lockup: .*",
                        str(info.value))
    assert time.monotonic() - start < 5.0
