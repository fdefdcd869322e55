"""The device's symbols on the host: the exported int8 graph, then the firmware's SQ stage.

``snn eval --int8 encoder_int8.tflite`` sends these symbols instead of the float
encoder's, so its split rows measure what a board sends. Per image:

    q = clip(round(pixel / 255 / s_in) + z_in, -128, 127)     (the graph's int8 input)
    out = tflite_micro(q)                                      (reference kernels: bit-exact with the board)
    symbols = sq(out)                                          (``firmware.sq``: PReLU, power norm, thresholds)

with the SQ constants of the export's ``export.json`` beside the graph (its channel scales).
"""

import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import torch

from semanticnn.errors import ConfigError

__all__ = ["Int8Encoder"]


def _sq_constants(path, model_bytes):
    """``(A_q7, B_q12, P_q7)`` of the export, from the ``export.json`` beside ``path``.

    An export scales the GDN output's channels (``export.equalise``) and records there the
    integer SQ constants that undo it: the graph alone does not give them.
    """
    manifest_path = path.with_name("export.json")
    try:
        manifest = json.loads(manifest_path.read_text())
        sq = manifest["sq"]
        constants = sq["prelu_slopes_q7"], sq["boundaries_q12"], sq.get("prelu_positive_q7")
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"no readable export.json beside {path}: pass the encoder_int8.tflite inside its "
                          "`snn export` folder, where export.json holds the SQ constants") from None
    if manifest.get("model_crc32") != zlib.crc32(model_bytes):
        raise ConfigError(f"{manifest_path} belongs to another model than {path}: pass the encoder_int8.tflite "
                          "of one `snn export` folder, unchanged")
    return constants


class Int8Encoder:
    """Symbol indices ``[B, C, H, W]`` of uint8 images ``[B, 3, H, W]``, as the device computes them."""

    def __init__(self, tflite_path, encoder):
        from semanticnn.export.kernel_plan import plan_graph
        from semanticnn.export.tflite_graph import read_graph

        path = Path(tflite_path)
        try:
            self.model_bytes = path.read_bytes()
            plan = plan_graph(read_graph(self.model_bytes), dsp=False)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror} "
                              "(pass the encoder_int8.tflite of `snn export`)") from exc
        except Exception as exc:  # not a flatbuffer, or a graph the planner refuses
            raise ConfigError(f"{path} is not an int8 encoder graph ({exc}); pass the encoder_int8.tflite "
                              "of `snn export`") from exc
        with torch.no_grad():  # the code's shape, from the float encoder on one blank image
            c, h, w = encoder.eval()(torch.zeros(1, *encoder.config["input_shape"])).indices.shape[1:]
        out_shape = tuple(plan.output_tensor.shape[1:])
        if out_shape != (h, w, c):
            raise ConfigError(f"{path} outputs {list(out_shape)} (HWC) but the encoder's code is [{h}, {w}, {c}]: "
                              "pass the encoder_int8.tflite exported from this encoder")
        self.sha256 = hashlib.sha256(self.model_bytes).hexdigest()
        self.shape = (c, h, w)
        self.input_q = (float(plan.input_tensor.scale[0]), int(plan.input_tensor.zero_point[0]))
        self.output_zp = int(plan.output_tensor.zero_point[0])
        self.sq = _sq_constants(path, self.model_bytes)

    def indices(self, images_nchw):
        """``[B, C, H, W]`` int64 symbol indices of uint8 images ``[B, 3, H, W]``."""
        from semanticnn.export.checks import tflm_outputs
        from semanticnn.export.pipeline import quantize_input
        from semanticnn.firmware.sq import symbols_from_outputs

        images = np.asarray(images_nchw).transpose(0, 2, 3, 1)
        outputs = tflm_outputs(self.model_bytes, quantize_input(images, *self.input_q))
        c, h, w = self.shape
        symbols = symbols_from_outputs(outputs, self.output_zp, *self.sq)
        return torch.from_numpy(symbols.reshape(-1, h, w, c).transpose(0, 3, 1, 2).copy())
