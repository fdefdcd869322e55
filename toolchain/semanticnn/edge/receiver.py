"""``Receiver``: packets in, predictions out (``semanticnn.edge``'s one entry point).

A frame's packets are put back together with ``channel.packets.reassemble`` (the
mirror of the firmware's packetiser), its payload decoded to symbols with
``channel.payload.PayloadLayout`` (``unpack``), and the symbols of missing
fragments marked erased (``received``). Ready frames are decoded together, up to
``max_batch`` in one onnxruntime call. The BER told to the decoder is the mean of
the frame's packets' estimates, else the receiver's ``default_ber``.
"""

import time
from dataclasses import dataclass

import numpy as np

from semanticnn.channel.bits import from_codewords, is_gray
from semanticnn.channel.packets import reassemble
from semanticnn.channel.payload import PayloadLayout
from semanticnn.edge.assembler import FrameAssembler
from semanticnn.model.codec import UNKNOWN_BER

__all__ = ["Prediction", "Receiver", "frame_symbols"]


@dataclass(frozen=True)
class Prediction:
    """One decoded frame."""

    device: str
    frame_id: int
    label: int
    confidence: float
    packets_received: int
    packets_lost: int
    ber: float
    latency_s: float

    def as_dict(self):
        """JSON-ready dict (what ``snn serve`` publishes)."""
        return dict(vars(self))


def frame_symbols(packets, manifest):
    """``(indices int64 [C, H, W], erased bool [C, H, W])`` of one frame's packets (None = lost)."""
    c, h, w = manifest["code_shape"]
    layout = PayloadLayout.from_manifest(manifest)
    rebuilt = reassemble(packets, layout.n_bytes, manifest["mtu"])
    symbols = from_codewords(layout.unpack(rebuilt.data), is_gray(manifest["mapping"]))
    erased = ~layout.received(rebuilt.received)
    return symbols.reshape(h, w, c).transpose(2, 0, 1), erased.reshape(h, w, c).transpose(2, 0, 1)


class Receiver:
    """Collects packets of many devices and decodes their frames with an ``EdgeModel``."""

    def __init__(self, model, devices=None, timeout_s=2.0, max_batch=64, default_ber=UNKNOWN_BER,
                 clock=time.monotonic):
        m = model.manifest
        self.model, self.max_batch, self.default_ber, self.clock = model, max_batch, default_ber, clock
        self.assembler = FrameAssembler(m["payload_bytes"], m["mtu"], timeout_s, devices, clock)
        self.ready = []
        self.decoded = 0
        self.latency_sum = 0.0

    @property
    def counters(self):
        """The assembler's Counters."""
        return self.assembler.counters

    def receive(self, device, packet, ber=None, now=None):
        """Take one packet; a frame it completes waits in ``ready`` for ``poll``."""
        frame = self.assembler.add(device, packet, ber, now)
        if frame is not None:
            self.ready.append(frame)

    def poll(self, now=None, flush=False):
        """Decode every ready frame (and those timed out, or all pending with ``flush``); returns Predictions."""
        frames = self.ready + (self.assembler.flush() if flush else self.assembler.expired(now))
        self.ready = []
        out = []
        for start in range(0, len(frames), self.max_batch):
            out += self._decode(frames[start:start + self.max_batch])
        return out

    def _decode(self, frames):
        if not frames:
            return []
        m = self.model.manifest
        parts = [frame_symbols([f.fragments.get(i) for i in range(f.count)], m) for f in frames]
        bers = np.array([np.mean(f.bers) if f.bers else self.default_ber for f in frames], dtype=np.float32)
        probs = self.model.classify(np.stack([p[0] for p in parts]), bers, np.stack([p[1] for p in parts]))
        done = self.clock()
        out = []
        for frame, p, ber in zip(frames, probs, bers, strict=True):
            label = int(p.argmax())
            out.append(Prediction(frame.device, frame.frame_id, label, float(p[label]), len(frame.fragments),
                                  frame.missing, float(ber), done - frame.first_seen))
        self.decoded += len(out)
        self.latency_sum += sum(p.latency_s for p in out)
        return out
