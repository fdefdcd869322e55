"""Packets in, whole or timed-out frames out: grouping, checks and counters, no decoding.

A frame is keyed by ``(device, frame id)``. It is ready when all of its ``count``
fragments are in, or ``timeout_s`` after its first packet arrived. Every packet is
checked before it is kept; a bad one is counted and dropped, never raised:

* ``bad_header``: a Golay word of the header has more than 3 bit errors, or the
  fragment index is not below the count (``channel.packets.decode_header``), or the
  packet is shorter than a header; ``header_corrected`` counts the packets kept after
  their header had bit errors corrected;
* ``out_of_range``: the fragment count is not the model's, or the packet's length is
  not what that fragment carries at this mtu;
* ``duplicate``: the fragment is already in (also after its frame was released);
* ``late``: a fragment of a frame already released without it (it stays lost);
* ``unknown_device``: the device is not in ``devices`` (when a registry is given).

Lost packets are counted when their frame is released (its missing fragments),
and whole frames that never showed up are counted from gaps in a device's frame
ids (each then costs ``count`` packets); a frame that turns up after its gap was
counted takes its packets back. Frame ids are modulo ``FRAME_ID_MODULO`` (4096), as the
header carries them.
"""

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from semanticnn.channel.packets import (
    FRAME_ID_MODULO,
    HEADER_BYTES,
    decode_header,
    encode_header,
    fragment_span,
    packet_count,
)
from semanticnn.errors import ProtocolError

__all__ = ["Counters", "Frame", "FrameAssembler", "DONE_MEMORY"]

DONE_MEMORY = 64  # frame ids a device remembers as released, to tell a late duplicate from a new frame
_GAP_WINDOW = 1024  # a frame id further ahead than this is a device restart, not lost frames


@dataclass
class Counters:
    """What a receiver has seen; every field is a count of packets or frames."""

    packets: int = 0
    bad_header: int = 0
    header_corrected: int = 0
    out_of_range: int = 0
    duplicate: int = 0
    late: int = 0
    unknown_device: int = 0
    lost_packets: int = 0
    lost_frames: int = 0
    frames_complete: int = 0
    frames_partial: int = 0

    def as_dict(self):
        """The counters as a plain dict."""
        return dict(vars(self))


@dataclass
class Frame:
    """A frame being collected: its fragments by index and the BER estimates of its packets."""

    device: str
    frame_id: int
    first_seen: float
    count: int
    fragments: dict = field(default_factory=dict)
    bers: list = field(default_factory=list)

    @property
    def missing(self):
        """Number of fragments not (yet) in."""
        return self.count - len(self.fragments)


class _DeviceLog:
    """Per device: the newest frame id, frames presumed lost to a gap, recently released frames."""

    def __init__(self):
        self.newest = None
        self.presumed_lost = set()
        self.released = OrderedDict()  # frame id -> fragment indices it was released with

    def remember(self, frame):
        """Note ``frame`` as released; forget the oldest beyond ``DONE_MEMORY``."""
        self.released[frame.frame_id] = frozenset(frame.fragments)
        while len(self.released) > DONE_MEMORY:
            self.released.popitem(last=False)


class FrameAssembler:
    """Collect packets of frames of ``payload_bytes`` at ``mtu`` (see the module docstring)."""

    def __init__(self, payload_bytes, mtu, timeout_s=2.0, devices=None, clock=time.monotonic):
        self.payload_bytes, self.mtu, self.timeout_s = payload_bytes, mtu, timeout_s
        self.count = packet_count(payload_bytes, mtu)
        self.devices = None if devices is None else frozenset(devices)
        self.clock = clock
        self.counters = Counters()
        self.pending = OrderedDict()  # (device, frame id) -> Frame, oldest first
        self._logs = {}

    def add(self, device, packet, ber=None, now=None):
        """Take one packet of ``device``; returns the Frame if this packet completed it, else None."""
        c = self.counters
        c.packets += 1
        if self.devices is not None and device not in self.devices:
            c.unknown_device += 1
            return None
        try:
            head, corrected = decode_header(bytes(packet))
        except ProtocolError:
            c.bad_header += 1
            return None
        _, length = fragment_span(head.fragment, self.payload_bytes, self.mtu)
        if head.count != self.count or len(packet) != HEADER_BYTES + length:
            c.out_of_range += 1
            return None
        c.header_corrected += corrected > 0
        log = self._logs.setdefault(device, _DeviceLog())
        key = (device, head.frame_id)
        if head.frame_id in log.released:
            if head.fragment in log.released[head.frame_id]:
                c.duplicate += 1
            else:
                c.late += 1
            return None
        frame = self.pending.get(key)
        if frame is None:
            self._note_frame(log, head.frame_id)
            frame = self.pending[key] = Frame(device, head.frame_id, self.clock() if now is None else now,
                                              self.count)
        if head.fragment in frame.fragments:
            c.duplicate += 1
            return None
        frame.fragments[head.fragment] = bytes(packet) if not corrected else (
            encode_header(head.frame_id, head.fragment, head.count) + bytes(packet[HEADER_BYTES:]))
        if ber is not None:
            frame.bers.append(float(ber))
        if frame.missing == 0:
            return self._release(key)
        return None

    def _note_frame(self, log, frame_id):
        """Count the frames a jump in ``frame_id`` skipped; take back one that was presumed lost."""
        c = self.counters
        if frame_id in log.presumed_lost:
            log.presumed_lost.discard(frame_id)
            c.lost_frames -= 1
            c.lost_packets -= self.count
            return
        if log.newest is not None:
            ahead = (frame_id - log.newest) % FRAME_ID_MODULO
            if ahead == 0 or ahead > _GAP_WINDOW:
                return  # an older frame arriving late, or a device restart
            for skipped in range(1, ahead):
                log.presumed_lost.add((log.newest + skipped) % FRAME_ID_MODULO)
            c.lost_frames += ahead - 1
            c.lost_packets += (ahead - 1) * self.count
            if len(log.presumed_lost) > _GAP_WINDOW:
                log.presumed_lost = set(sorted(log.presumed_lost)[-_GAP_WINDOW:])
        log.newest = frame_id

    def _release(self, key):
        frame = self.pending.pop(key)
        self._logs[frame.device].remember(frame)
        if frame.missing:
            self.counters.frames_partial += 1
            self.counters.lost_packets += frame.missing
        else:
            self.counters.frames_complete += 1
        return frame

    def expired(self, now=None):
        """Frames whose ``timeout_s`` ran out, released with their fragments missing."""
        now = self.clock() if now is None else now
        out = []
        while self.pending:
            key, frame = next(iter(self.pending.items()))
            if now - frame.first_seen < self.timeout_s:
                break
            out.append(self._release(key))
        return out

    def flush(self):
        """Release every pending frame now (at shutdown)."""
        return [self._release(key) for key in list(self.pending)]
