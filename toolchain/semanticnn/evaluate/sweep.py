"""Accuracy vs BER of the split model and its baselines, under one channel, over several channel seeds.

Methods (one registry, ``METHODS``), one row of the report each:

* ``unsplit``: ``tail(stem(x))`` with no channel, the reference line (same at every BER).
* ``split``: encoder symbols -> packets of ``mtu`` bytes -> channel at BER ``p`` (headers
  included) -> the receiver's reassembly -> ``decoder.classify_indices(idx, p, erased)``,
  the decoder told the true BER; the symbols of a packet whose header neither decodes nor
  is rescued (``channel.packets.reassemble``) are erased, as ``snn serve`` and
  ``snn-bench --accuracy`` erase them. The report's ``split_erased`` is the share of the
  split code's symbols so erased at each BER (mean over seeds).
* ``split-est-half`` / ``split-est-double`` / ``split-est-unknown``: the same received
  symbols, the decoder told ``p / 2``, ``2 p`` or ``UNKNOWN_BER`` (a receiver that knows
  nothing of its link).
* ``split-lost``: the same symbols with, besides, whole packets lost at ``packet_loss``,
  the erasure mask given to the decoder (only when ``packet_loss > 0``).
* ``raw-uint8`` / ``raw-int8``: the stem output as 8-bit values -> channel -> frozen tail
  (``semanticnn.evaluate.baselines``).

Every image is encoded once. The channel runs once per (stream, BER, seed), and rows that
read one stream see the same bit errors, so a row's ``loss`` against the row it is
``versus`` is paired: same images, same errors. Channel seeds are ``seed, seed + 1, ...``;
the test subset stays the one ``seed`` picked. ``accuracy`` is the mean over seeds,
``std`` the sample standard deviation (ddof 1, 0 for one seed). At BER 0 with no packet
lost the channel is the identity and runs once for all seeds, so ``std`` is exactly 0.

Sizes per inference: payload ``ceil(n_symbols * k / 8)`` bytes; on air
``payload + HEADER_BYTES * packet_count(payload, mtu)``. ``compression`` is the payload
ratio (float32 split feature, ``4 * 16 * 32 * 32`` bytes, over the payload);
``air_compression`` the same over the bytes on air.
"""

import copy
import statistics
import time
import zlib
from dataclasses import dataclass

import torch

from semanticnn.channel.packets import DEFAULT_MTU, HEADER_BYTES, check_packet_count, packet_count
from semanticnn.channel.payload import PayloadLayout
from semanticnn.errors import ConfigError
from semanticnn.evaluate.baselines import calibrate, from_frames, to_frames
from semanticnn.evaluate.code_usage import CodeUsage
from semanticnn.evaluate.link import check_channel, lost_symbols, send_packets, send_symbols, stream_key
from semanticnn.model.codec import UNKNOWN_BER
from semanticnn.progress import advancer
from semanticnn.train.tensors import batches, to_float

__all__ = ["Method", "METHODS", "parse_bers", "check_pair", "feature_bytes", "split_payload_bytes", "default_methods",
           "check_options", "run_eval"]

_PAIR_KEYS = ("code_channels", "levels", "mapping", "stem_channels")


def parse_bers(text):
    """``"0,1e-3,0.1"`` -> sorted unique floats in [0, 0.5]; ConfigError otherwise."""
    bers = set()
    for item in (s.strip() for s in str(text).split(",")):
        try:
            ber = float(item)
        except ValueError:
            raise ConfigError(f"--ber: {item!r} is not a number: pass comma-separated "
                              "bit error rates such as 0,1e-3,1e-2") from None
        if not 0.0 <= ber <= 0.5:
            raise ConfigError(f"--ber: {item} is outside [0, 0.5]: a bit error rate is a "
                              "probability, and above 0.5 inverting the bits does better")
        bers.add(ber)
    return tuple(sorted(bers))


def check_pair(encoder, decoder):
    """ConfigError unless encoder and decoder agree on the keys of ``_PAIR_KEYS``."""
    for key in _PAIR_KEYS:
        if encoder.config[key] != decoder.config[key]:
            raise ConfigError(f"encoder and decoder do not match: {key} is "
                              f"{encoder.config[key]!r} vs {decoder.config[key]!r} (pass a trained pair)")


def feature_bytes(encoder):
    """Bytes of the float32 split feature ``stem(x)`` of one image."""
    _, h, w = encoder.config["input_shape"]
    return 4 * encoder.config["stem_channels"] * h * w


@dataclass(frozen=True)
class Batch:
    """One batch of encoder outputs; ``start`` is the index of its first image."""

    labels: torch.Tensor
    feature: torch.Tensor
    indices: torch.Tensor
    start: int


@dataclass(frozen=True)
class Setup:
    """What every method needs: models, fitted raw quantisers, channel, packets.

    ``reference_tail`` is the unsplit model's tail: the decoder's own tail unless the
    codec fine-tuned it, in which case the caller passes the base model's.
    """

    encoder: torch.nn.Module
    decoder: torch.nn.Module
    quantizers: dict
    channel: str
    reference_tail: torch.nn.Module
    mtu: int
    packet_loss: float


def _through(setup, t, levels, mapping, ber, seed, batch, stream):
    """NCHW integer tensor -> NHWC frames -> channel (payload bits only) -> NCHW tensor."""
    rx = send_symbols(to_frames(t).numpy(), levels, mapping, setup.channel, ber, seed, stream_key(stream, ber),
                      batch.start)
    return from_frames(torch.from_numpy(rx), t.shape)


def _send_split(setup, batch, ber, seed):
    """``(received symbol indices [B, C, 8, 8], erased [B, C, 8, 8])`` over real packets of ``setup.mtu``."""
    cfg, shape = setup.encoder.config, batch.indices.shape
    symbols, erased = send_packets(to_frames(batch.indices).numpy(), cfg["levels"], cfg["mapping"], setup.channel,
                                   ber, seed, setup.mtu, stream_key("split", ber), batch.start,
                                   split_layout(setup.encoder).code)
    return from_frames(torch.from_numpy(symbols), shape), from_frames(torch.from_numpy(erased), shape)


def _send_raw(name):
    """``(received float feature, None)`` of the 8-bit baseline ``name`` (a key of ``baselines.RAW_SCHEMES``)."""

    def send(setup, batch, ber, seed):
        quantizer = setup.quantizers[name]
        return quantizer.decode(_through(setup, quantizer.encode(batch.feature), 256, "natural", ber, seed,
                                         batch, name)), None
    return send


STREAMS = {"split": _send_split, "raw-uint8": _send_raw("raw-uint8"), "raw-int8": _send_raw("raw-int8")}


def _erased(setup, batch, seed):
    """Bool [B, C, 8, 8]: the symbols whose packet was lost (same at every BER of a seed)."""
    shape = batch.indices.shape
    lost = lost_symbols(shape[0], split_layout(setup.encoder), setup.mtu, setup.packet_loss, seed,
                        (zlib.crc32(b"packets"),), batch.start)
    return from_frames(torch.from_numpy(lost), shape)


def _unsplit(setup, batch, received, told, erased):
    """``tail(stem(x))``: nothing crosses the channel."""
    return setup.reference_tail(batch.feature)


def _decode(setup, batch, received, told, erased):
    """The decoder on the received symbols, told ``told`` as the BER."""
    return setup.decoder.classify_indices(received, told, erased)


def _tail(setup, batch, received, told, erased):
    """The unsplit model's tail on a received raw feature."""
    return setup.reference_tail(received)


def split_layout(encoder):
    """The ``PayloadLayout`` of the encoder's ``C * H/4 * W/4`` symbols."""
    cfg = encoder.config
    n = cfg["code_channels"] * (cfg["input_shape"][1] // 4) * (cfg["input_shape"][2] // 4)
    return PayloadLayout.of(cfg, n)


def split_payload_bytes(encoder):
    """Payload bytes of a frame: ``ceil(C * H/4 * W/4 * log2(L) / 8)`` when plain (``channel.payload``)."""
    return split_layout(encoder).n_bytes


def _raw_payload(encoder):
    """One byte per value of the split feature."""
    return feature_bytes(encoder) // 4


EVAL_VERSION = 3
"""Report version: 3 since the receiver rescues headers (``channel.packets.rescue_header``); 2 lost those packets."""


@dataclass(frozen=True)
class Method:
    """A row of the table.

    ``payload``: encoder -> bytes of one inference (None: nothing sent); ``stream``: the
    ``STREAMS`` key it receives (None: nothing crosses the channel); ``logits(setup,
    batch, received, told, erased)``; ``told``: true BER -> the estimate the decoder is
    given; ``lossy``: whole packets are lost at ``packet_loss``; ``versus``: the row its
    paired ``loss`` is measured against. ``label`` may hold ``{loss}`` (% of packets lost).
    """

    label: str
    payload: object
    stream: str | None
    logits: object
    told: object = None
    lossy: bool = False
    versus: str | None = None


METHODS = {
    "unsplit": Method("full model, no split (reference)", lambda enc: None, None, _unsplit),
    "split": Method("split SQ codec, decoder told the true BER", split_payload_bytes, "split", _decode,
                    lambda ber: ber),
    "split-est-half": Method("split SQ codec, decoder told 0.5x the BER", split_payload_bytes, "split", _decode,
                             lambda ber: ber / 2, versus="split"),
    "split-est-double": Method("split SQ codec, decoder told 2x the BER", split_payload_bytes, "split", _decode,
                               lambda ber: min(2 * ber, 0.5), versus="split"),
    "split-est-unknown": Method(f"split SQ codec, decoder told {UNKNOWN_BER:g} (BER unknown)", split_payload_bytes,
                                "split", _decode, lambda ber: UNKNOWN_BER, versus="split"),
    "split-lost": Method("split SQ codec, {loss:g}% of packets lost (erasure mask to the decoder)",
                         split_payload_bytes, "split", _decode, lambda ber: ber, lossy=True, versus="split"),
    "raw-uint8": Method("raw split feature, uint8", _raw_payload, "raw-uint8", _tail),
    "raw-int8": Method("raw split feature, int8 symmetric", _raw_payload, "raw-int8", _tail),
}


def default_methods(packet_loss=0.0):
    """Every method, less the packet-loss row when no packet is lost."""
    return tuple(name for name, m in METHODS.items() if packet_loss > 0 or not m.lossy)


def check_options(methods, seeds=3, mtu=DEFAULT_MTU, packet_loss=0.0, payload=1):
    """One-line ConfigError for a bad option.

    An unknown method, no seed, an MTU with no room or that needs more than 64 packets for a
    ``payload``-byte frame, a loss rate outside [0, 1).
    """
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: pass at least 1 channel seed")
    check_packet_count(payload, mtu, "--mtu")
    if not 0.0 <= packet_loss < 1.0:
        raise ConfigError(f"--packet-loss {packet_loss} is outside [0, 1): it is the fraction of packets lost")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
    lossy = [m for m in methods if METHODS[m].lossy]
    if lossy and packet_loss <= 0:
        raise ConfigError(f"method {lossy[0]!r} loses packets: pass a packet loss rate above 0 (--packet-loss)")


@torch.no_grad()
def _stem_features(encoder, images, batch_size):
    """Split features of uint8 images, batched."""
    return torch.cat([encoder.stem(to_float(images[i])) for i in batches(len(images), batch_size,
                                                                         shuffle=False)])


class _Counter:
    """Correct predictions ``correct[name][j][s]`` at BER ``bers[j]`` and channel seed ``seeds[s]``.

    ``hits`` remembers a result by what decides it (stream, BER, seed, told BER, losses),
    so a row that would repeat another's work (told the true BER, BER 0 for every seed,
    the unsplit row at every BER) reuses it.
    """

    def __init__(self, setup, methods, bers, seeds):
        self.setup, self.methods, self.bers, self.seeds = setup, methods, bers, seeds
        self.correct = {name: [[0] * len(seeds) for _ in bers] for name in methods}
        self.erased = [[0] * len(seeds) for _ in bers]  # split symbols erased with their packets
        self.symbols = 0  # split symbols sent a (BER, seed)

    @torch.no_grad()
    def add(self, batch):
        hits, erased = {}, {}
        self.symbols += batch.indices.numel()
        for j, ber in enumerate(self.bers):
            for s, seed in enumerate(self.seeds):
                received = {}
                for name in self.methods:
                    self.correct[name][j][s] += self._hits(batch, METHODS[name], ber, seed, hits, received, erased)
                if "split" in received:
                    self.erased[j][s] += int(received["split"][1].sum())

    def erased_share(self):
        """Per BER, the mean over seeds of the share of split symbols erased with their packets."""
        return [statistics.fmean(e / max(self.symbols, 1) for e in per_seed) for per_seed in self.erased]

    def _hits(self, batch, method, ber, seed, hits, received, erased):
        noise_free = method.stream is None or (ber == 0.0 and not method.lossy)
        told = None if method.told is None else method.told(ber)
        key = (method.logits, method.stream, method.lossy, None if method.stream is None else ber,
               None if noise_free else seed, told)
        if key not in hits:
            rx = mask = None
            if method.stream is not None:
                if method.stream not in received:
                    received[method.stream] = STREAMS[method.stream](self.setup, batch, ber, seed)
                rx, mask = received[method.stream]
            if method.lossy:
                if seed not in erased:
                    erased[seed] = _erased(self.setup, batch, seed)
                mask = erased[seed] if mask is None else mask | erased[seed]
            logits = method.logits(self.setup, batch, rx, told, mask)
            hits[key] = int((logits.argmax(1) == batch.labels).sum())
        return hits[key]


def _mean_std(values):
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _sizes(encoder, method, mtu):
    """Payload, packets and bytes on air of one inference, and both compression ratios."""
    payload = method.payload(encoder)
    if payload is None:
        return {"payload_bytes": None, "packets": None, "air_bytes": None, "compression": None,
                "air_compression": None}
    packets = packet_count(payload, mtu)
    air = payload + HEADER_BYTES * packets
    return {"payload_bytes": payload, "packets": packets, "air_bytes": air,
            "compression": feature_bytes(encoder) / payload, "air_compression": feature_bytes(encoder) / air}


def _method_rows(encoder, counter, n, mtu, packet_loss):
    rows = {}
    for name in counter.methods:
        method = METHODS[name]
        stats = [_mean_std([c / n for c in per_seed]) for per_seed in counter.correct[name]]
        rows[name] = {"name": name, "label": method.label.format(loss=100 * packet_loss),
                      **_sizes(encoder, method, mtu),
                      "accuracy": [m for m, _ in stats], "std": [s for _, s in stats],
                      "correct": counter.correct[name]}
    for name, row in rows.items():
        versus = METHODS[name].versus
        if versus in rows:
            loss = [_mean_std([(a - b) / n for a, b in zip(ref, own, strict=True)])
                    for ref, own in zip(counter.correct[versus], counter.correct[name], strict=True)]
            row.update(versus=versus, loss=[m for m, _ in loss], loss_std=[s for _, s in loss])
    return list(rows.values())


def _fast(module):
    """An eval copy of ``module`` in channels-last memory format (about 2x faster convs on CPU)."""
    return copy.deepcopy(module).eval().to(memory_format=torch.channels_last)


@torch.no_grad()
def run_eval(encoder, decoder, data, bers, channel="iid", seed=0, calib_images=None,
             batch_size=1000, log=None, methods=None, base=None, progress=None, seeds=3, mtu=DEFAULT_MTU,
             packet_loss=0.0, int8=None):
    """Accuracy of every method of ``methods`` (default: ``default_methods``) at every BER.

    ``data`` is ``(images uint8 [N, 3, 32, 32], labels [N])``; ``calib_images`` (uint8,
    default: ``data``'s images) fix the raw baselines' quantisation range. ``base`` is the
    unsplit backbone (``load_base``): the unsplit and raw rows run its tail, which a codec
    trained with ``train_tail`` no longer shares (default: the decoder's tail). The channel
    runs with ``seeds`` seeds from ``seed``; packets are ``mtu`` bytes, lost at
    ``packet_loss`` in the ``split-lost`` row. With ``int8`` (:class:`semanticnn.evaluate.int8.Int8Encoder`)
    the split rows send its symbols, the device's, instead of the float encoder's. ``progress``
    (:func:`semanticnn.progress.progress_bar`) counts the images. Returns the report dict.
    """
    methods = default_methods(packet_loss) if methods is None else tuple(methods)
    check_options(methods, seeds, mtu, packet_loss, split_payload_bytes(encoder))
    check_channel(channel, bers)
    check_pair(encoder, decoder)
    encoder.eval()
    t0, cpu0 = time.time(), time.process_time()
    x, y = data
    calib = _stem_features(encoder, x if calib_images is None else calib_images, batch_size)
    reference_tail = decoder.tail if base is None else base.tail
    setup = Setup(encoder, _fast(decoder), calibrate(calib), channel, _fast(reference_tail), mtu, packet_loss)
    counter = _Counter(setup, methods, [float(b) for b in bers], [seed + i for i in range(seeds)])
    usage = CodeUsage(encoder.config["code_channels"], encoder.config["levels"])
    advance = advancer(progress, "eval", len(x))
    for idx in batches(len(x), batch_size, shuffle=False):
        out = encoder(to_float(x[idx]))
        indices = out.indices if int8 is None else int8.indices(x[idx].numpy())
        counter.add(Batch(y[idx], out.feature, indices, int(idx[0])))
        usage.add(indices)
        advance(len(idx))
        if log:
            log(f"eval: {int(idx[-1]) + 1}/{len(x)} images ({time.time() - t0:.1f}s)")
    return {
        "format": "semanticnn-eval", "version": EVAL_VERSION, "channel": channel, "seed": seed, "seeds": counter.seeds,
        "samples": len(x), "bers": counter.bers, "feature_bytes": feature_bytes(encoder),
        "mtu": mtu, "header_bytes": HEADER_BYTES, "packet_loss": packet_loss,
        "split_erased": counter.erased_share() if "split" in methods else None,
        "quantizers": {k: {"signed": q.signed, "scale": q.scale, "zero_point": q.zero_point}
                       for k, q in setup.quantizers.items()},
        "methods": _method_rows(encoder, counter, len(x), mtu, packet_loss),
        "code_usage": usage.summary(),
        "seconds": round(time.time() - t0, 2), "cpu_seconds": round(time.process_time() - cpu0, 2),
    }
