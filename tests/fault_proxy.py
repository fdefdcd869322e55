"""A TCP proxy that damages a link: between pyserial's ``socket://`` and QEMU's serial port it drops
bytes or stalls. tests/test_bench_faults.py and scripts/bench_faults.py bench QEMU through it."""

import contextlib
import random
import socket
import threading
import time
from urllib.parse import urlparse

from semanticnn.bench import qemu
from semanticnn.bench.framing import parse_frame
from semanticnn.errors import BoardError, ProtocolError

__all__ = ["FaultyProxy", "proxied_qemu"]


class FaultyProxy:
    """Forwards one TCP connection both ways, dropping each byte with ``drop_rate`` (seeded) and
    holding both directions for ``stall_s`` seconds once: when ``stall_after`` bytes went through, or
    when the host sends its ``n``-th distinct request (by payload) of command ``cmd``,
    ``stall_at = (cmd, n)``. Bytes count retries too, so a loaded host reaches them sooner; distinct
    requests do not (the host sends the INFER of sample 2 only once sample 1 is measured)."""

    def __init__(self, upstream, drop_rate=0.0, stall_after=None, stall_s=0.0, seed=0, stall_at=None):
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._drop_rate, self._stall_after, self._stall_s = drop_rate, stall_after, stall_s
        self._stall_at = stall_at
        self._seen_requests = set()
        self._request_bytes = bytearray()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._forwarded = 0
        self._stall_until = 0.0
        self.dropped = 0
        self.stalls = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        client, _ = self._listener.accept()
        self._listener.close()
        for src, dst in ((client, self._upstream), (self._upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst, src is client), daemon=True).start()

    def _count_requests(self, data):
        """Whether ``data`` from the host ends a new request of ``stall_at``'s command that is its n-th."""
        cmd, n = self._stall_at
        self._request_bytes += data
        *frames, self._request_bytes[:] = self._request_bytes.split(b"\x00")
        for wire in frames:
            try:
                frame = parse_frame(bytes(wire))
            except ProtocolError:
                continue
            if frame.cmd == cmd:
                self._seen_requests.add(frame.payload)  # a retry repeats its payload (INFER: the frame id)
        return len(self._seen_requests) >= n

    def _pump(self, src, dst, from_host):
        while True:
            try:
                data = src.recv(4096)
            except OSError:
                data = b""
            if not data:
                for sock in (src, dst):
                    sock.close()
                return
            with self._lock:
                kept = bytes(b for b in data if self._rng.random() >= self._drop_rate)
                self.dropped += len(data) - len(kept)
                self._forwarded += len(data)
                by_bytes = self._stall_after is not None and self._forwarded >= self._stall_after
                by_request = self._stall_at is not None and from_host and self._count_requests(kept)
                if (by_bytes or by_request) and not self.stalls:
                    self.stalls, self._stall_until = 1, time.monotonic() + self._stall_s
                wait = self._stall_until - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.sendall(kept)
            except OSError:
                return


@contextlib.contextmanager
def proxied_qemu(**faults):
    """While open, QEMU launched by ``semanticnn.bench.qemu`` is reached through a :class:`FaultyProxy`
    with ``faults``; yields the list of proxies made (one per launch)."""
    proxies = []
    real_open = qemu.open_transport

    def via_proxy(url, *args):
        parsed = urlparse(url)
        try:
            upstream = socket.create_connection((parsed.hostname, parsed.port))
        except OSError as exc:  # QEMU not listening yet: launch_qemu polls again
            raise BoardError(f"cannot connect to {url}: {exc}") from None
        proxies.append(FaultyProxy(upstream, **faults))
        return real_open(proxies[-1].url, *args)

    qemu.open_transport = via_proxy
    try:
        yield proxies
    finally:
        qemu.open_transport = real_open
