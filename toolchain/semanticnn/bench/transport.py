"""The byte pipe to a board: a serial port, a pty, or QEMU's serial port over TCP.

:func:`open_transport` takes a port path (``/dev/ttyACM0``, a pty) or a pyserial URL
(``socket://127.0.0.1:4321`` for QEMU) and turns every way that opening can fail into
one :class:`~semanticnn.errors.BoardError` line with the fix.
"""

import errno
import os
import select

import serial

from semanticnn.bench.timeouts import DEFAULT_BAUD, READ_CHUNK_BYTES
from semanticnn.errors import BoardError

__all__ = ["Transport", "open_transport"]

_BUSY_ERRNOS = (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK)


class Transport:
    """A pyserial port read without blocking past a deadline.

    ``name`` is the port or URL as the user gave it; every error message uses it.
    The port is put in non-blocking mode: :meth:`read_some` waits with ``select``.
    """

    def __init__(self, port, name):
        self.name = name
        self._port = port
        self._port.timeout = 0

    def read_some(self, timeout):
        """Bytes that arrive within ``timeout`` seconds (``b""`` if none)."""
        try:
            ready, _, _ = select.select([self._port.fileno()], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            return self._port.read(READ_CHUNK_BYTES)
        except (serial.SerialException, OSError) as exc:
            raise BoardError(f"connection to {self.name} lost ({exc}): check the cable or QEMU") from None

    def write(self, data):
        """Send all of ``data``."""
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise BoardError(f"cannot write to {self.name} ({exc}): check the cable or QEMU") from None

    def discard_input(self):
        """Drop every byte already received and not yet read."""
        while self.read_some(0.0):
            pass

    def close(self):
        """Close the port; closing twice is harmless."""
        self._port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_transport(port, baud=DEFAULT_BAUD):
    """Open ``port`` (a device path or a ``scheme://`` URL) at ``baud``, 8N1."""
    if "://" in port:
        return Transport(_open_url(port, baud), port)
    if not os.path.exists(port):
        raise BoardError(f"serial port {port} not found: check the cable and `ls /dev/ttyACM*`")
    try:
        raw = serial.Serial(port, baudrate=baud, timeout=0, exclusive=True)
    except serial.SerialException as exc:
        raise _open_error(port, exc) from None
    return Transport(raw, port)


def _open_url(url, baud):
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=0)
    except serial.SerialException as exc:
        text = str(exc)
        if "refused" in text.lower():
            raise BoardError(f"cannot connect to {url}: connection refused (is QEMU running on that port?)") \
                from None
        raise BoardError(f"cannot open {url}: {text}") from None
    except ValueError as exc:
        raise BoardError(f"bad port URL {url!r} ({exc}): use a device path or socket://HOST:PORT") from None


def _open_error(port, exc):
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return BoardError(
            f"no permission to open {port}: add yourself to the dialout group "
            "(`sudo usermod -aG dialout $USER`, then log in again)"
        )
    if code in _BUSY_ERRNOS:
        return BoardError(f"serial port {port} is busy: close the program using it (screen, minicom, ...)")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return BoardError(f"serial port {port} not found: check the cable and `ls /dev/ttyACM*`")
    return BoardError(f"cannot open serial port {port}: {exc}")
