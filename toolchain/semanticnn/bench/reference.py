"""The host's expected answer for one sample: what the board must send, bit for bit.

image (uint8 HWC) -> int8 input -> int8 graph (tflite_micro's reference kernels)
-> int8 output -> SQ stage -> bits -> packets, the last three through the Python
mirrors of the firmware (``semanticnn.firmware.sq``, ``semanticnn.channel``).
"""

from dataclasses import dataclass

import numpy as np

from semanticnn.errors import ConfigError

__all__ = [
    "TFLM_ARENA_HOST_FACTOR",
    "Expected",
    "quantize_image",
    "encode_output",
    "tflm_graph",
    "HostReference",
]

TFLM_ARENA_HOST_FACTOR = 2
"""The host interpreter's arena is this many times the target's: 64-bit pointers need more."""

TFLM_ARENA_HOST_EXTRA = 16 * 1024


@dataclass(frozen=True)
class Expected:
    """One sample's host reference."""

    input: np.ndarray
    output: np.ndarray
    symbols: np.ndarray
    bitstream: bytes
    packets: list


def quantize_image(image, scale, zero_point, shape, layout="NHWC"):
    """``q = clip(round(pixel / 255 / scale) + zp, -128, 127)`` of a uint8 HWC image, in ``shape``.

    ``round`` is numpy's (half to even); ``layout`` ``"NCHW"`` moves channels first.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ConfigError(f"expected a uint8 HWC image, got {image.dtype} {image.shape}")
    if layout == "NCHW":
        image = image.transpose(2, 0, 1)
    elif layout != "NHWC":
        raise ConfigError(f"unknown input layout {layout!r} in export.json: expected NHWC or NCHW")
    if image.size != int(np.prod(shape)):
        raise ConfigError(f"image {image.shape} does not fill the model input {list(shape)}: wrong dataset?")
    q = np.round(image.astype(np.float64) / 255.0 / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8).reshape(shape)


def encode_output(output, manifest, frame_id):
    """Symbols, bitstream and packets of an int8 NHWC output tensor, through the firmware mirrors."""
    from semanticnn.channel.bits import to_codewords
    from semanticnn.channel.packets import packetize
    from semanticnn.channel.payload import PayloadLayout
    from semanticnn.firmware.sq import symbols_from_output

    sq = manifest["sq"]
    if sq["mapping"] == "raw":  # a .tflite export: the packets carry the int8 output tensor as it is
        raw = np.asarray(output, dtype=np.int8).reshape(-1)
        bitstream = raw.tobytes()
        return raw, bitstream, packetize(bitstream, frame_id, manifest["mtu"])
    symbols = symbols_from_output(
        np.asarray(output, dtype=np.int8),
        manifest["output"]["zero_point"],
        sq["prelu_slopes_q7"],
        sq["boundaries_q12"],
        sq.get("prelu_positive_q7"),  # absent from exports made before the channel scales: 128 each
    )
    bitstream = PayloadLayout.from_manifest(manifest).pack(to_codewords(symbols, gray=sq["mapping"] == "gray"))
    return symbols, bitstream, packetize(bitstream, frame_id, manifest["mtu"])


def tflm_graph(model_bytes, arena_bytes):
    """Wrap ``model_bytes`` in tflite_micro as a function int8 input -> int8 output."""
    from tflite_micro.python.tflite_micro import runtime

    arena = arena_bytes * TFLM_ARENA_HOST_FACTOR + TFLM_ARENA_HOST_EXTRA
    interpreter = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena)

    def run(x):
        interpreter.set_input(x, 0)
        interpreter.invoke()
        return np.array(interpreter.get_output(0), dtype=np.int8)

    return run


class HostReference:
    """Expected packets and output for samples of one exported project.

    ``graph`` (int8 input array -> int8 output array) replaces tflite_micro, for the fake
    device's stub model; otherwise ``model_bytes`` is run with tflite_micro.
    """

    def __init__(self, manifest, model_bytes=None, graph=None):
        if graph is None:
            if model_bytes is None:
                raise ValueError("HostReference needs model_bytes or graph")
            graph = tflm_graph(model_bytes, manifest["tflm_arena_bytes"])
        self.manifest = manifest
        self._graph = graph

    def quantize(self, image):
        """Quantise a uint8 HWC image to the model's int8 input tensor; an int8 sample is the tensor itself."""
        spec = self.manifest["input"]
        if np.asarray(image).dtype == np.int8:  # .tflite exports are benched on seeded int8 inputs
            return np.asarray(image).reshape(spec["shape"])
        layout = spec.get("layout", "NHWC")
        return quantize_image(image, spec["scale"], spec["zero_point"], spec["shape"], layout)

    def run(self, image, frame_id):
        """Compute the :class:`Expected` answer for a uint8 HWC image."""
        x = self.quantize(image)
        output = np.asarray(self._graph(x), dtype=np.int8).reshape(self.manifest["output"]["shape"])
        symbols, bitstream, packets = encode_output(output, self.manifest, frame_id)
        return Expected(x, output, np.asarray(symbols), bitstream, list(packets))
