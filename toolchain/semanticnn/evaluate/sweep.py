"""Accuracy vs BER of the split model and its baselines, under one channel.

Methods (one registry, ``METHODS``):

* ``unsplit``: ``tail(stem(x))`` with no channel, the reference line (same at every BER).
* ``split``: encoder symbols -> channel at BER ``p`` -> ``decoder.classify_indices(idx, p)``.
* ``raw-uint8`` / ``raw-int8``: the stem output as 8-bit values -> channel -> frozen tail
  (``semanticnn.evaluate.baselines``).

Payload is the bitstream per inference, ``ceil(n_symbols * k / 8)`` bytes; compression
is the float32 split feature's size (``4 * 16 * 32 * 32`` bytes) over the payload.
"""

import time
import zlib
from dataclasses import dataclass

import torch

from semanticnn.channel.bits import bits_per_symbol, payload_bytes
from semanticnn.errors import ConfigError
from semanticnn.evaluate.baselines import calibrate, from_frames, to_frames
from semanticnn.evaluate.link import check_channel, send_symbols
from semanticnn.progress import advancer
from semanticnn.train.tensors import batches, to_float

__all__ = ["Method", "METHODS", "parse_bers", "check_pair", "feature_bytes", "run_eval"]

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
    """What every method needs: models, fitted raw quantisers, channel, seed.

    ``reference_tail`` is the unsplit model's tail: the decoder's own tail unless the
    codec fine-tuned it, in which case the caller passes the base model's.
    """

    encoder: torch.nn.Module
    decoder: torch.nn.Module
    quantizers: dict
    channel: str
    seed: int
    reference_tail: torch.nn.Module


def _through(setup, t, levels, mapping, ber, batch, key):
    """NCHW integer tensor -> NHWC frames -> channel -> NCHW tensor."""
    rx = send_symbols(to_frames(t).numpy(), levels, mapping, setup.channel, ber, setup.seed,
                      key, batch.start)
    return from_frames(torch.from_numpy(rx), t.shape)


def _unsplit(setup, batch, ber, key):
    """``tail(stem(x))``: nothing crosses the channel."""
    return setup.reference_tail(batch.feature)


def _split(setup, batch, ber, key):
    """Symbols over the channel, then the decoder told ``ber``."""
    cfg = setup.encoder.config
    idx = _through(setup, batch.indices, cfg["levels"], cfg["mapping"], ber, batch, key)
    return setup.decoder.classify_indices(idx, ber)


def _raw(name):
    """Logits function of the 8-bit baseline ``name`` (a key of ``baselines.RAW_SCHEMES``)."""

    def predict(setup, batch, ber, key):
        quantizer = setup.quantizers[name]
        data = _through(setup, quantizer.encode(batch.feature), 256, "natural", ber, batch, key)
        return setup.reference_tail(quantizer.decode(data))
    return predict


def _split_payload(encoder):
    """``ceil(C * H/4 * W/4 * log2(L) / 8)`` bytes of symbols."""
    cfg = encoder.config
    n = cfg["code_channels"] * (cfg["input_shape"][1] // 4) * (cfg["input_shape"][2] // 4)
    return payload_bytes(n, bits_per_symbol(cfg["levels"]))


def _raw_payload(encoder):
    """One byte per value of the split feature."""
    return feature_bytes(encoder) // 4


@dataclass(frozen=True)
class Method:
    """A row of the table: label, payload bytes of one inference (None: nothing sent), logits."""

    label: str
    payload: object  # encoder -> int or None
    logits: object   # (setup, batch, ber, key) -> logits
    ber_free: bool = False


METHODS = {
    "unsplit": Method("full model, no split (reference)", lambda enc: None, _unsplit, True),
    "split": Method("split SQ codec, BER-aware decoder", _split_payload, _split),
    "raw-uint8": Method("raw split feature, uint8", _raw_payload, _raw("raw-uint8")),
    "raw-int8": Method("raw split feature, int8 symmetric", _raw_payload, _raw("raw-int8")),
}


@torch.no_grad()
def _stem_features(encoder, images, batch_size):
    """Split features of uint8 images, batched."""
    return torch.cat([encoder.stem(to_float(images[i])) for i in batches(len(images), batch_size,
                                                                         shuffle=False)])


@torch.no_grad()
def _count(setup, batch, bers, correct, methods):
    """Add this batch's correct predictions to ``correct[name][j]`` for BER ``bers[j]``.

    Channel seeds are keyed by method name and BER value, so adding a method or a
    BER leaves the other results unchanged.
    """
    for name in methods:
        method, hits = METHODS[name], None
        for j, ber in enumerate(bers):
            if hits is None or not method.ber_free:
                key = (zlib.crc32(name.encode()), round(float(ber) * 1e9))
                logits = method.logits(setup, batch, float(ber), key)
                hits = int((logits.argmax(1) == batch.labels).sum())
            correct[name][j] += hits


def _method_rows(encoder, bers, correct, n, methods):
    rows = []
    for name in methods:
        method = METHODS[name]
        payload = method.payload(encoder)
        rows.append({
            "name": name, "label": method.label, "payload_bytes": payload,
            "compression": None if payload is None else feature_bytes(encoder) / payload,
            "accuracy": [c / n for c in correct[name]], "correct": list(correct[name]),
        })
    return rows


@torch.no_grad()
def run_eval(encoder, decoder, data, bers, channel="iid", seed=0, calib_images=None,
             batch_size=500, log=None, methods=None, base=None, progress=None):
    """Accuracy of every method of ``methods`` (default: all of ``METHODS``) at every BER.

    ``data`` is ``(images uint8 [N, 3, 32, 32], labels [N])``; ``calib_images`` (uint8,
    default: ``data``'s images) fix the raw baselines' quantisation range. ``base`` is the
    unsplit backbone (``load_base``): the unsplit and raw rows run its tail, which a codec
    trained with ``train_tail`` no longer shares (default: the decoder's tail). ``progress``
    (:func:`semanticnn.progress.progress_bar`) counts the images. Returns the report dict.
    """
    methods = tuple(METHODS) if methods is None else tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
    check_channel(channel, bers)
    check_pair(encoder, decoder)
    encoder.eval()
    decoder.eval()
    t0 = time.time()
    x, y = data
    calib = _stem_features(encoder, x if calib_images is None else calib_images, batch_size)
    reference_tail = decoder.tail if base is None else base.eval().tail
    setup = Setup(encoder, decoder, calibrate(calib), channel, seed, reference_tail)
    correct = {name: [0] * len(bers) for name in methods}
    advance = advancer(progress, "eval", len(x))
    for idx in batches(len(x), batch_size, shuffle=False):
        out = encoder(to_float(x[idx]))
        _count(setup, Batch(y[idx], out.feature, out.indices, int(idx[0])), bers, correct, methods)
        advance(len(idx))
        if log:
            log(f"eval: {int(idx[-1]) + 1}/{len(x)} images ({time.time() - t0:.1f}s)")
    return {
        "format": "semanticnn-eval", "version": 1, "channel": channel, "seed": seed,
        "samples": len(x), "bers": [float(b) for b in bers], "feature_bytes": feature_bytes(encoder),
        "quantizers": {k: {"signed": q.signed, "scale": q.scale, "zero_point": q.zero_point}
                       for k, q in setup.quantizers.items()},
        "methods": _method_rows(encoder, bers, correct, len(x), methods),
        "seconds": round(time.time() - t0, 2),
    }
