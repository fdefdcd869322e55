"""Packets in, whole or timed-out frames out: grouping, checks and counters, no decoding.

A frame is keyed by ``(device, frame id)``. It is ready when all of its ``count``
fragments are in, or ``timeout_s`` after its first packet arrived. Every packet is
checked before it is kept; a bad one is counted and dropped, never raised:

* ``bad_header``: the header does not decode (a Golay word with more than 3 bit
  errors, a fragment index not below the count: ``channel.packets.decode_header``; a
  packet shorter than a header) and is not rescued; ``header_corrected`` counts the
  packets kept after their header had bit errors corrected;
* ``header_rescued``: packets kept although their header did not decode or did not
  fit (not a ``channel.packets.trusted_header``): ``channel.packets.rescue_header``
  found the header nearest to theirs among those the device's packets are expected to
  carry (``expected_ids``: its newest frame id, the next and the previous, each
  fragment of the packet's length);
* ``out_of_range``: the fragment count is not the model's, or the packet's length is
  not what that fragment carries at this mtu, and no expected header rescued it;
* ``duplicate``: the fragment is already in (also after its frame was released);
* ``late``: a fragment of a frame already released without it (it stays lost);
* ``unknown_device``: the device is not in ``devices`` (when a registry is given);
* ``suspect_header``: a packet whose header decoded to an implausible frame id (see
  below) that nothing confirmed before ``timeout_s`` (or ``flush``): at BER 5e-2 a Golay
  word with 5 or more bit errors can decode to another valid word.

Lost packets are counted when their frame is released (its missing fragments),
and whole frames that never showed up are counted from gaps in a device's frame
ids (each then costs ``count`` packets); a frame that turns up after its gap was
counted takes its packets back. Frame ids are modulo ``FRAME_ID_MODULO`` (4096), as the
header carries them.

A new frame id opens a frame at once when it is the device's first, a frame presumed
lost, or up to ``FRAME_ID_WINDOW`` ahead of the device's newest id (a gap) or behind it
(an older frame arriving late, which counts no gap). Any other id is
tentative: its packets are held aside (not a frame, no gap counted) until a packet of
the same id with another fragment, or one 1 to ``FRAME_ID_WINDOW`` ids after it,
confirms that the device really is there (a restart to id 0, an outage). A device holds
one tentative id, the latest: a new one drops the older as ``suspect_header`` (else, at
BER 1e-1 with ``timeout_s`` infinite, hundreds of held ids confirm each other). A confirmed
id up to ``MAX_GAP_FRAMES`` ahead counts its gap as lost frames; one further off (ahead
or behind) is a ``resyncs``: the device's ids start over from it and no gap is counted.
A packet of a released frame id is a ``duplicate`` only when it is the one released, up
to ``DUPLICATE_BIT_ERRORS``; another payload (a restarted device reuses ids) is tentative.
"""

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from semanticnn.channel.packets import (
    FRAME_ID_MODULO,
    HEADER_BYTES,
    decode_header,
    encode_header,
    expected_ids,
    packet_count,
    rescue_header,
    trusted_header,
)
from semanticnn.errors import ProtocolError

__all__ = ["Counters", "Frame", "FrameAssembler", "DONE_MEMORY", "FRAME_ID_WINDOW", "MAX_GAP_FRAMES"]

DONE_MEMORY = 64  # frame ids a device remembers as released, to tell a late duplicate from a new frame

FRAME_ID_WINDOW = 8
"""How far ahead of (or behind) a device's newest frame id a new id may open a frame unconfirmed.

A device sends one frame at a time (its packets are on air before the next frame's; the
serve tests and ``edge.loadtest`` publish the same way), so the next id is the newest
plus 1, unless whole frames were lost: at 5% packet loss all 5 packets of a frame are
lost with p = 3e-7, so even 2 in a row need an outage; behind, a frame overtaken by the
next one (packets reordered by the broker) is 1 back. A miscorrected header's id is
about uniform over 4096 values: 8 lets 7 whole lost frames through and admits a
miscorrected id with p = 16/4096 (a gap it opens is taken back as the real frames arrive).
"""

DUPLICATE_BIT_ERRORS = 0.25
"""Share of bits a packet of a released (frame id, fragment) may differ in and still be its duplicate.

The same transmission heard twice differs by its bit errors (about 2 BER: 18% at 1e-1);
another frame's payload differs in about half its bits. Above this share the packet is
a restarted device's new frame (or a miscorrected header): held as tentative.
"""

MAX_GAP_FRAMES = 64
"""The most lost frames one confirmed jump of a device's frame ids may count (plus one).

A confirmed id further ahead is a restart or an outage of unknown length (ids are mod
4096): it is a resync that counts no lost frames, so no single id adds thousands.
"""


@dataclass
class Counters:
    """What a receiver has seen; every field is a count of packets or frames."""

    packets: int = 0
    bad_header: int = 0
    header_corrected: int = 0
    header_rescued: int = 0
    out_of_range: int = 0
    duplicate: int = 0
    late: int = 0
    unknown_device: int = 0
    lost_packets: int = 0
    lost_frames: int = 0
    frames_complete: int = 0
    frames_partial: int = 0
    suspect_header: int = 0
    resyncs: int = 0

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


def _same_transmission(kept, packet):
    """True if ``packet`` differs from ``kept`` in at most ``DUPLICATE_BIT_ERRORS`` of its bits."""
    differ = (int.from_bytes(kept, "big") ^ int.from_bytes(packet, "big")).bit_count()
    return differ <= DUPLICATE_BIT_ERRORS * 8 * len(packet)


class _DeviceLog:
    """Per device: newest frame id, frames presumed lost to a gap, released frames, tentative frame ids."""

    def __init__(self):
        self.newest = None
        self.presumed_lost = OrderedDict()  # frame id -> None, oldest gap first
        self.released = OrderedDict()  # frame id -> {fragment: packet} it was released with
        self.tentative = set()  # frame ids held in FrameAssembler.tentative

    def remember(self, frame):
        """Note ``frame`` as released; forget the oldest beyond ``DONE_MEMORY``."""
        self.released.pop(frame.frame_id, None)
        self.released[frame.frame_id] = dict(frame.fragments)
        while len(self.released) > DONE_MEMORY:
            self.released.popitem(last=False)

    def plausible(self, frame_id):
        """True if ``frame_id`` may open a frame unconfirmed (see the module docstring)."""
        if self.newest is None or frame_id in self.presumed_lost:
            return True
        return self.ahead(frame_id) <= FRAME_ID_WINDOW or self.behind(frame_id) <= FRAME_ID_WINDOW

    def ahead(self, frame_id):
        """How many ids ``frame_id`` is past the newest (mod 4096); 0 for the newest itself."""
        return (frame_id - self.newest) % FRAME_ID_MODULO

    def behind(self, frame_id):
        """How many ids ``frame_id`` is before the newest (mod 4096); 0 for the newest itself."""
        return (self.newest - frame_id) % FRAME_ID_MODULO

    def moved_on_from(self, frame_id):
        """The tentative id that ``frame_id`` follows by 1 to ``FRAME_ID_WINDOW``, or None."""
        return next((t for t in self.tentative if 0 < (frame_id - t) % FRAME_ID_MODULO <= FRAME_ID_WINDOW), None)


class FrameAssembler:
    """Collect packets of frames of ``payload_bytes`` at ``mtu`` (see the module docstring)."""

    def __init__(self, payload_bytes, mtu, timeout_s=2.0, devices=None, clock=time.monotonic):
        self.payload_bytes, self.mtu, self.timeout_s = payload_bytes, mtu, timeout_s
        self.count = packet_count(payload_bytes, mtu)
        self.devices = None if devices is None else frozenset(devices)
        self.clock = clock
        self.counters = Counters()
        self.pending = OrderedDict()  # (device, frame id) -> Frame, oldest first
        self.tentative = OrderedDict()  # (device, implausible frame id) -> Frame held until confirmed
        self._logs = {}

    def add(self, device, packet, ber=None, now=None):
        """Take one packet of ``device``; returns the Frame if this packet completed it, else None."""
        checked = self._check(device, packet)
        if checked is None:
            return None
        head, packet = checked
        key = (device, head.frame_id)
        if key in self.pending:
            return self._put(key, head.fragment, packet, ber)
        log = self._logs.setdefault(device, _DeviceLog())
        if self._seen(log, head, packet):
            return None
        return self._admit(log, key, head.fragment, packet, ber, self.clock() if now is None else now)

    def _check(self, device, packet):
        """``(header, packet with a clean header)``, or None once the reason is counted."""
        c = self.counters
        c.packets += 1
        if self.devices is not None and device not in self.devices:
            c.unknown_device += 1
            return None
        packet = bytes(packet)
        log = self._logs.get(device)
        newest = None if log is None else log.newest
        trusted = trusted_header(packet, self.payload_bytes, self.mtu)
        rescued = False
        if trusted is None and newest is not None:
            trusted = rescue_header(packet, expected_ids(newest), self.payload_bytes, self.mtu)
            rescued = trusted is not None
        if trusted is None:  # neither trusted nor rescued: counted by why, and dropped
            try:
                decode_header(packet)
            except ProtocolError:
                c.bad_header += 1
                return None
            c.out_of_range += 1
            return None
        head, corrected = trusted
        c.header_rescued += rescued
        c.header_corrected += bool(corrected) and not rescued
        if corrected:
            packet = encode_header(head.frame_id, head.fragment, head.count) + packet[HEADER_BYTES:]
        return head, packet

    def _seen(self, log, head, packet):
        """True (and counted) if the packet belongs to a frame ``log`` released: a duplicate or late."""
        released = log.released.get(head.frame_id)
        if released is None:
            return False
        if head.fragment not in released:
            self.counters.late += 1
            return True
        if _same_transmission(released[head.fragment], packet):
            self.counters.duplicate += 1
            return True
        return False  # the id again with another payload: a restarted device, or a miscorrected header

    def _admit(self, log, key, fragment, packet, ber, now):
        """Open the frame of a plausible or confirming id; hold one that is neither as tentative."""
        if key in self.tentative:
            if fragment in self.tentative[key].fragments:
                self.counters.duplicate += 1
                return None
            self._confirm(log, key)
            return self._put(key, fragment, packet, ber)
        if log.plausible(key[1]) and key[1] not in log.released:
            self._note_frame(log, key[1])
            self.pending[key] = Frame(key[0], key[1], now, self.count)
            return self._put(key, fragment, packet, ber)
        base = log.moved_on_from(key[1])
        if base is not None:
            self._confirm(log, (key[0], base))
            return self._admit(log, key, fragment, packet, ber, now)
        for older in list(log.tentative):  # one held id a device: a lingering one must not confirm noise
            self._drop_tentative((key[0], older))
        held = self.tentative[key] = Frame(key[0], key[1], now, self.count)
        log.tentative.add(key[1])
        self._store(held, fragment, packet, ber)
        return None

    def _confirm(self, log, key):
        """Open a tentative frame: count its gap (``MAX_GAP_FRAMES`` at most) or resync the device's ids."""
        frame_id = key[1]
        self.pending[key] = self.tentative.pop(key)
        log.tentative.discard(frame_id)
        if log.behind(frame_id) <= FRAME_ID_WINDOW or log.ahead(frame_id) <= MAX_GAP_FRAMES:
            self._note_frame(log, frame_id)
            return
        self.counters.resyncs += 1
        log.presumed_lost.clear()
        log.newest = frame_id

    def _note_frame(self, log, frame_id):
        """Count the frames a jump in ``frame_id`` skipped; take back one that was presumed lost."""
        c = self.counters
        if frame_id in log.presumed_lost:
            del log.presumed_lost[frame_id]
            c.lost_frames -= 1
            c.lost_packets -= self.count
            return
        if log.newest is not None:
            ahead = log.ahead(frame_id)
            if ahead == 0 or log.behind(frame_id) <= FRAME_ID_WINDOW:
                return  # an older frame arriving late: the device's ids go on from the newest
            for skipped in range(1, ahead):
                log.presumed_lost[(log.newest + skipped) % FRAME_ID_MODULO] = None
            c.lost_frames += ahead - 1
            c.lost_packets += (ahead - 1) * self.count
            while len(log.presumed_lost) > MAX_GAP_FRAMES:
                log.presumed_lost.popitem(last=False)
        log.newest = frame_id

    def _store(self, frame, fragment, packet, ber):
        frame.fragments[fragment] = packet
        if ber is not None:
            frame.bers.append(float(ber))

    def _put(self, key, fragment, packet, ber):
        """Add a fragment to a pending frame; returns the frame if that completed it."""
        frame = self.pending[key]
        if fragment in frame.fragments:
            self.counters.duplicate += 1
            return None
        self._store(frame, fragment, packet, ber)
        return self._release(key) if frame.missing == 0 else None

    def _release(self, key):
        frame = self.pending.pop(key)
        self._logs[frame.device].remember(frame)
        if frame.missing:
            self.counters.frames_partial += 1
            self.counters.lost_packets += frame.missing
        else:
            self.counters.frames_complete += 1
        return frame

    def _drop_tentative(self, key):
        frame = self.tentative.pop(key)
        self._logs[key[0]].tentative.discard(key[1])
        self.counters.suspect_header += len(frame.fragments)

    def expired(self, now=None):
        """Frames whose ``timeout_s`` ran out, released with their fragments missing (unconfirmed ids dropped)."""
        now = self.clock() if now is None else now
        while self.tentative and now - next(iter(self.tentative.values())).first_seen >= self.timeout_s:
            self._drop_tentative(next(iter(self.tentative)))
        out = []
        while self.pending:
            key, frame = next(iter(self.pending.items()))
            if now - frame.first_seen < self.timeout_s:
                break
            out.append(self._release(key))
        return out

    def flush(self):
        """Release every pending frame now (at shutdown); unconfirmed ids count as ``suspect_header``."""
        for key in list(self.tentative):
            self._drop_tentative(key)
        return [self._release(key) for key in list(self.pending)]
